/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_QUORUM_H
#define SFS_QUORUM_H

/*
 * Quorum: the configured slots of a volume (this file, for now) and, in a
 * later issue, the election among them.
 *
 * A slot is "present" when its address family is IPv4 or IPv6.  One volume
 * never mixes the two families: mkfs, change-quorum-config and mount all
 * refuse it.
 */

#include <stddef.h>
#include <stdbool.h>

#include "scoutfs/format.h"

bool sfs_quorum_slot_present(const struct scoutfs_quorum_slot *slot);

/*
 * Parse "NR,ADDR,PORT" (ADDR: dotted IPv4, or IPv6 with or without
 * brackets, numeric only) into *nr and *addr.  Returns 0 or -EINVAL with a
 * reason in @why.  The address itself is checked by sfs_quorum_addr_check.
 */
int sfs_quorum_slot_parse(const char *arg, int *nr, union scoutfs_inet_addr *addr, char *why,
			  size_t why_len);

/* an address a quorum member can use: not any/multicast/broadcast, port 1..65534 */
int sfs_quorum_addr_check(const union scoutfs_inet_addr *addr, char *why, size_t why_len);

/*
 * Check a whole configuration: at least one present slot, every present
 * address valid, no unknown families, no two slots with the same address
 * and port, and all present slots of one family.
 */
int sfs_quorum_config_check(const struct scoutfs_quorum_config *qconf, char *why,
			    size_t why_len);

#endif
