// SPDX-License-Identifier: GPL-2.0
/*
 * Quorum configuration.
 *
 * The super holds up to 15 slots, each an inet_addr union (format-spec.md
 * 5.2).  IPv4 slots store the address as a host-order u32 and only bytes
 * 0..7 are defined: the reference mkfs leaves stack garbage in bytes
 * 8..31, so nothing here ever looks at them.  IPv6 slots store the address
 * in network order.  We write the unused bytes as zero.
 *
 * The election itself arrives with the cluster issue; this file will grow
 * it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "quorum.h"
#include "text.h"

#define FAIL(fmt, ...)                                      \
	do {                                                \
		snprintf(why, why_len, fmt, ##__VA_ARGS__); \
		ret = -EINVAL;                              \
		goto out;                                   \
	} while (0)

bool sfs_quorum_slot_present(const struct scoutfs_quorum_slot *slot)
{
	uint16_t fam = le16toh(slot->addr.v4.family);

	return fam == SCOUTFS_AF_IPV4 || fam == SCOUTFS_AF_IPV6;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*val = strtoul(s, &end, 10);
	if (errno || *end || *val > max)
		return -EINVAL;
	return 0;
}

int sfs_quorum_slot_parse(const char *arg, int *nr, union scoutfs_inet_addr *addr, char *why,
			  size_t why_len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_family = AF_UNSPEC };
	struct addrinfo *res = NULL;
	char *copy = NULL;
	char *nr_str, *addr_str, *port_str;
	unsigned long val;
	size_t len;
	int ret = 0;

	memset(addr, 0, sizeof(*addr));
	copy = strdup(arg);
	if (!copy) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}

	/* NR,ADDR,PORT: split at the first and the last comma */
	nr_str = copy;
	addr_str = strchr(copy, ',');
	port_str = strrchr(copy, ',');
	if (!addr_str || addr_str == port_str)
		FAIL("quorum slot '%s' is not NR,ADDR,PORT", arg);
	*addr_str++ = '\0';
	*port_str++ = '\0';

	if (parse_ulong(nr_str, ~0UL, &val) || val >= SCOUTFS_QUORUM_MAX_SLOTS)
		FAIL("quorum slot number '%s' in '%s' must be 0 to %llu", nr_str, arg,
		     SCOUTFS_QUORUM_MAX_SLOTS - 1);
	*nr = (int)val;

	if (parse_ulong(port_str, 65535, &val))
		FAIL("quorum slot port '%s' in '%s' must be a number from 1 to 65534", port_str,
		     arg);

	len = strlen(addr_str);
	if (len >= 2 && addr_str[0] == '[' && addr_str[len - 1] == ']') {
		addr_str[len - 1] = '\0';
		addr_str++;
		hints.ai_family = AF_INET6;
	}
	if (*addr_str == '\0' || getaddrinfo(addr_str, NULL, &hints, &res) != 0 || !res)
		FAIL("quorum slot address '%s' in '%s' is not a numeric IPv4 or IPv6 address",
		     addr_str, arg);

	if (res->ai_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;

		addr->v4.family = htole16(SCOUTFS_AF_IPV4);
		addr->v4.port = htole16((uint16_t)val);
		addr->v4.addr = htole32(ntohl(sin->sin_addr.s_addr));
	} else if (res->ai_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)res->ai_addr;

		addr->v6.family = htole16(SCOUTFS_AF_IPV6);
		addr->v6.port = htole16((uint16_t)val);
		memcpy(addr->v6.addr, &sin6->sin6_addr, 16);
		addr->v6.scope_id = htole32(sin6->sin6_scope_id);
	} else {
		FAIL("quorum slot address '%s' in '%s' is not IPv4 or IPv6", addr_str, arg);
	}
out:
	if (res)
		freeaddrinfo(res);
	free(copy);
	return ret;
}

int sfs_quorum_addr_check(const union scoutfs_inet_addr *addr, char *why, size_t why_len)
{
	char text[SFS_TEXT_ADDR_LEN];
	uint16_t fam = le16toh(addr->v4.family);
	uint16_t port = le16toh(addr->v4.port);
	int ret = 0;

	sfs_text_inet_addr(text, sizeof(text), addr);

	if (fam == SCOUTFS_AF_IPV4) {
		uint32_t a = le32toh(addr->v4.addr);

		if ((a >> 24) == 0)
			FAIL("quorum address %s is in 0.0.0.0/8, not a host address", text);
		if ((a >> 28) == 0xe)
			FAIL("quorum address %s is a multicast address", text);
		if (a == 0xffffffffU)
			FAIL("quorum address %s is the broadcast address", text);
	} else if (fam == SCOUTFS_AF_IPV6) {
		static const uint8_t any[16];

		if (memcmp(addr->v6.addr, any, 16) == 0)
			FAIL("quorum address %s is the unspecified address", text);
		if (addr->v6.addr[0] == 0xff)
			FAIL("quorum address %s is a multicast address", text);
	} else {
		FAIL("quorum address family %u is not IPv4 or IPv6", fam);
	}
	if (port == 0 || port == 65535)
		FAIL("quorum address %s: port must be from 1 to 65534", text);
out:
	return ret;
}

static bool addr_equal(const union scoutfs_inet_addr *a, const union scoutfs_inet_addr *b)
{
	if (a->v4.family != b->v4.family || a->v4.port != b->v4.port)
		return false;
	if (le16toh(a->v4.family) == SCOUTFS_AF_IPV4)
		return a->v4.addr == b->v4.addr;
	return memcmp(a->v6.addr, b->v6.addr, 16) == 0 && a->v6.scope_id == b->v6.scope_id;
}

int sfs_quorum_config_check(const struct scoutfs_quorum_config *qconf, char *why,
			    size_t why_len)
{
	const struct scoutfs_quorum_slot *slots = qconf->slots;
	char text[SFS_TEXT_ADDR_LEN];
	char sub[160];
	int first = -1;
	unsigned int i, j;
	uint16_t fam;
	int ret = 0;

	for (i = 0; i < SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		fam = le16toh(slots[i].addr.v4.family);
		if (fam == SCOUTFS_AF_NONE)
			continue;
		if (!sfs_quorum_slot_present(&slots[i]))
			FAIL("quorum slot %u has invalid address family %u", i, fam);
		if (sfs_quorum_addr_check(&slots[i].addr, sub, sizeof(sub)))
			FAIL("quorum slot %u: %s", i, sub);
		if (first < 0) {
			first = (int)i;
		} else if (slots[first].addr.v4.family != slots[i].addr.v4.family) {
			FAIL("quorum slots %d and %u mix IPv4 and IPv6 addresses; all slots must use the same family",
			     first, i);
		}
		for (j = 0; j < i; j++) {
			if (sfs_quorum_slot_present(&slots[j]) &&
			    addr_equal(&slots[i].addr, &slots[j].addr)) {
				sfs_text_inet_addr(text, sizeof(text), &slots[i].addr);
				FAIL("quorum slots %u and %u have the same address %s", j, i, text);
			}
		}
	}
	if (first < 0)
		FAIL("no quorum slots are configured");
out:
	return ret;
}
