// SPDX-License-Identifier: GPL-2.0
/*
 * Quota rules (quota.c): the CLI rule text both ways, the rule order and
 * which rule decides for an operation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "quota.h"

static void text_round_trip(void **state)
{
	static const char *const texts[] = {
		"  7 13,L,- 15,L,- 17,L,- I 33 -",
		"255 22222,U,S 44444,G,S 1,L,- D 0 C",
		"  0 18446744073709551615,P,S 0,L,- 0,L,- I 18446744073709551615 -",
	};
	struct scoutfs_ctl_quota_rule r;
	char buf[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(sfs_quota_parse_rule(texts[i], &r), 0);
		assert_int_equal(sfs_quota_rule_valid(&r), 0);
		sfs_quota_format_rule(&r, buf, sizeof(buf));
		assert_string_equal(buf, texts[i]);
	}
	assert_int_equal(sfs_quota_parse_rule("1 2,U,S 3,G,- 4,P,S D 5 C\n", &r), 0);
	assert_int_equal(r.prio, 1);
	assert_int_equal(r.name_val[0], 2);
	assert_int_equal(r.name_source[0], SCOUTFS_QUOTA_SOURCE_UID);
	assert_int_equal(r.name_flags[0], SCOUTFS_QUOTA_FLAG_SELECT);
	assert_int_equal(r.name_source[1], SCOUTFS_QUOTA_SOURCE_GID);
	assert_int_equal(r.name_flags[1], 0);
	assert_int_equal(r.name_source[2], SCOUTFS_QUOTA_SOURCE_PROJ);
	assert_int_equal(r.op, SCOUTFS_QUOTA_OP_DATA);
	assert_int_equal(r.limit, 5);
	assert_int_equal(r.rule_flags, SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT);
}

static void text_invalid(void **state)
{
	static const char *const bad[] = {
		"", "7", "256 1,L,- 1,L,- 1,L,- I 1 -", "7 1,L,- 1,L,- 1,L,- I 1",
		"7 1,X,- 1,L,- 1,L,- I 1 -", "7 1,L,Q 1,L,- 1,L,- I 1 -",
		"7 1,L,- 1,L,- 1,L,- Z 1 -", "7 1,L,- 1,L,- 1,L,- I 1 X",
		"7 1,L,- 1,L,- 1,L,- I 1 - extra", "-7 1,L,- 1,L,- 1,L,- I 1 -",
		"7 18446744073709551616,L,- 1,L,- 1,L,- I 1 -", "7 1,L 1,L,- 1,L,- I 1 -",
		"7 1,L,-1,L,- 1,L,- I 1 -",
	};
	struct scoutfs_ctl_quota_rule r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sfs_quota_parse_rule(bad[i], &r), -EINVAL);
	memset(&r, 0, sizeof(r));
	r.op = 2;
	assert_int_equal(sfs_quota_rule_valid(&r), -EINVAL);
	r.op = 0;
	r.rule_flags = 2;
	assert_int_equal(sfs_quota_rule_valid(&r), -EINVAL);
	r.rule_flags = 0;
	r.name_source[2] = 4;
	assert_int_equal(sfs_quota_rule_valid(&r), -EINVAL);
	r.name_source[2] = 0;
	r.name_flags[1] = 2;
	assert_int_equal(sfs_quota_rule_valid(&r), -EINVAL);
}

static struct scoutfs_ctl_quota_rule rule(const char *text)
{
	struct scoutfs_ctl_quota_rule r;

	assert_int_equal(sfs_quota_parse_rule(text, &r), 0);
	return r;
}

static void matching(void **state)
{
	struct scoutfs_ctl_quota_rule rules[] = {
		rule("1 1,L,- 1,L,- 1,L,- I 100 -"),		/* 0: default inode rule */
		rule("1 500,U,S 1,L,- 1,L,- I 5 -"),		/* 1: uid 500 */
		rule("2 500,U,S 1,L,- 1,L,- I 7 -"),		/* 2: uid 500, higher prio */
		rule("1 500,U,S 600,G,S 0,P,- I 9 -"),		/* 3: uid 500 and gid 600 */
		rule("3 0,L,- 0,U,- 0,G,- D 1 C"),		/* 4: data, names by uid/gid */
	};
	struct sfs_quota_input in = { .op = SCOUTFS_QUOTA_OP_INODE, .uid = 1, .gid = 1 };
	const struct scoutfs_ctl_quota_rule *r;
	uint64_t name[3];

	(void)state;
	/* nothing selects: the default */
	r = sfs_quota_match(rules, 5, &in, name);
	assert_ptr_equal(r, &rules[0]);
	assert_int_equal(name[0], 1);
	/* the uid selects 1 and 2; 2 has the higher prio */
	in.uid = 500;
	r = sfs_quota_match(rules, 5, &in, name);
	assert_ptr_equal(r, &rules[2]);
	assert_int_equal(name[0], 500);
	/* 3 needs both uid and gid; it sorts above 1 and 0 but below 2 */
	in.gid = 600;
	in.proj = 77;
	r = sfs_quota_match(rules, 5, &in, name);
	assert_ptr_equal(r, &rules[2]);
	r = sfs_quota_match(rules, 4, &in, name);
	assert_ptr_equal(r, &rules[2]);
	r = sfs_quota_match(&rules[3], 1, &in, name);
	assert_ptr_equal(r, &rules[3]);
	assert_int_equal(name[0], 500);
	assert_int_equal(name[1], 600);
	assert_int_equal(name[2], 77);
	in.gid = 601;
	assert_null(sfs_quota_match(&rules[3], 1, &in, name));
	/* data rules only for data, naming the input's attributes */
	in.op = SCOUTFS_QUOTA_OP_DATA;
	r = sfs_quota_match(rules, 5, &in, name);
	assert_ptr_equal(r, &rules[4]);
	assert_int_equal(name[0], 0);
	assert_int_equal(name[1], 500);
	assert_int_equal(name[2], 601);
	assert_null(sfs_quota_match(rules, 4, &in, name));
	/* order: prio first */
	assert_true(sfs_quota_rule_cmp(&rules[2], &rules[1]) > 0);
	assert_true(sfs_quota_rule_cmp(&rules[1], &rules[0]) > 0);
	assert_int_equal(sfs_quota_rule_cmp(&rules[1], &rules[1]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_round_trip),
		cmocka_unit_test(text_invalid),
		cmocka_unit_test(matching),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
