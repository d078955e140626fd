// SPDX-License-Identifier: GPL-2.0
/*
 * Quorum slot parsing and configuration checks: the rules mkfs,
 * change-quorum-config and mount share.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "quorum.h"
#include "text.h"

static void parse_ok(const char *arg, int want_nr, const char *want_text)
{
	union scoutfs_inet_addr addr;
	char why[200], text[SFS_TEXT_ADDR_LEN];
	int nr = -1;

	if (sfs_quorum_slot_parse(arg, &nr, &addr, why, sizeof(why)))
		fail_msg("'%s' refused: %s", arg, why);
	assert_int_equal(nr, want_nr);
	sfs_text_inet_addr(text, sizeof(text), &addr);
	assert_string_equal(text, want_text);
}

static void parse_bad(const char *arg, const char *expect)
{
	union scoutfs_inet_addr addr;
	char why[200];
	int nr;

	assert_int_equal(sfs_quorum_slot_parse(arg, &nr, &addr, why, sizeof(why)), -EINVAL);
	if (!strstr(why, expect))
		fail_msg("'%s': reason '%s' does not mention '%s'", arg, why, expect);
}

static void test_parse(void **state)
{
	union scoutfs_inet_addr addr;
	char why[200];
	int nr;
	(void)state;

	parse_ok("0,127.0.0.1,42000", 0, "127.0.0.1:42000");
	parse_ok("14,10.1.2.3,1", 14, "10.1.2.3:1");
	parse_ok("3,::1,42000", 3, "[::1]:42000");
	parse_ok("4,[fd00::5],7000", 4, "[fd00::5]:7000");

	/* the v4 form is host-order u32 stored little-endian, rest zero */
	assert_int_equal(sfs_quorum_slot_parse("0,127.0.0.1,42000", &nr, &addr, why, sizeof(why)),
			 0);
	assert_memory_equal(&addr, "\x01\x00\x10\xa4\x01\x00\x00\x7f", 8);
	for (int i = 8; i < 32; i++)
		assert_int_equal(((unsigned char *)&addr)[i], 0);

	parse_bad("15,127.0.0.1,42000", "0 to 14");
	parse_bad("-1,127.0.0.1,42000", "0 to 14");
	parse_bad("x,127.0.0.1,42000", "0 to 14");
	parse_bad("0,127.0.0.1", "NR,ADDR,PORT");
	parse_bad("0", "NR,ADDR,PORT");
	parse_bad("0,127.0.0.1,70000", "port");
	parse_bad("0,127.0.0.1,", "port");
	parse_bad("0,host.example,42000", "numeric");
	parse_bad("0,,42000", "numeric");
	parse_bad("0,300.1.1.1,42000", "numeric");
}

static void set_slot(struct scoutfs_quorum_config *qc, const char *arg)
{
	union scoutfs_inet_addr addr;
	char why[200];
	int nr;

	assert_int_equal(sfs_quorum_slot_parse(arg, &nr, &addr, why, sizeof(why)), 0);
	qc->slots[nr].addr = addr;
}

static void config_bad(const char **args, const char *expect)
{
	struct scoutfs_quorum_config qc;
	char why[200];

	memset(&qc, 0, sizeof(qc));
	for (; *args; args++)
		set_slot(&qc, *args);
	assert_int_equal(sfs_quorum_config_check(&qc, why, sizeof(why)), -EINVAL);
	if (!strstr(why, expect))
		fail_msg("reason '%s' does not mention '%s'", why, expect);
}

static void config_ok(const char **args)
{
	struct scoutfs_quorum_config qc;
	char why[200];

	memset(&qc, 0, sizeof(qc));
	for (; *args; args++)
		set_slot(&qc, *args);
	if (sfs_quorum_config_check(&qc, why, sizeof(why)))
		fail_msg("refused: %s", why);
}

static void test_config(void **state)
{
	struct scoutfs_quorum_config qc;
	char why[200];
	(void)state;

	config_ok((const char *[]){ "0,127.0.0.1,42000", "1,127.0.0.1,42001",
				    "2,127.0.0.1,42002", NULL });
	config_ok((const char *[]){ "0,::1,42000", "5,::1,42001", NULL });
	config_ok((const char *[]){ "7,192.168.1.1,42000", NULL });

	config_bad((const char *[]){ "0,127.0.0.1,42000", "1,::1,42001", NULL },
		   "mix IPv4 and IPv6");
	config_bad((const char *[]){ "0,127.0.0.1,42000", "1,127.0.0.1,42000", NULL },
		   "same address");
	config_bad((const char *[]){ "0,::1,42000", "1,::1,42000", NULL }, "same address");
	config_bad((const char *[]){ "0,0.1.2.3,42000", NULL }, "0.0.0.0/8");
	config_bad((const char *[]){ "0,224.0.0.1,42000", NULL }, "multicast");
	config_bad((const char *[]){ "0,255.255.255.255,42000", NULL }, "broadcast");
	config_bad((const char *[]){ "0,ff02::1,42000", NULL }, "multicast");
	config_bad((const char *[]){ "0,::,42000", NULL }, "unspecified");
	config_bad((const char *[]){ "0,127.0.0.1,0", NULL }, "port");
	config_bad((const char *[]){ "0,127.0.0.1,65535", NULL }, "port");

	memset(&qc, 0, sizeof(qc));
	assert_int_equal(sfs_quorum_config_check(&qc, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no quorum slots"));

	qc.slots[3].addr.v4.family = htole16(9);
	assert_int_equal(sfs_quorum_config_check(&qc, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "family"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
