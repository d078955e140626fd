// SPDX-License-Identifier: GPL-2.0
/*
 * Forest reads against a model: fs_root and six log trees (three mounts,
 * two generations each) hold random versions of the same keys, with
 * colliding seqs and deletion items.  Every key must resolve to the
 * greatest seq version (the first read on a tie: fs_root, then log trees
 * in (rid, nr) order) and disappear when that version is a deletion.
 * Range reads must report exactly the live keys inside the range they
 * answer for.  Log trees whose bloom filter lacks a lock's bits are not
 * read, and stale roots are reported as -ESTALE.  The delta rule of
 * zone 12 (format-spec.md 10.3) is checked case by case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "testkeys.h"

#include "counters.h"
#include "forest.h"
#include "log.h"
#include "model_alloc.h"

#define NR_TREES 7	/* fs_root + 6 log trees */
#define NR_GROUPS 4
#define KEYS_PER_GROUP 700
#define NR_KEYS (NR_GROUPS * KEYS_PER_GROUP)
#define MAX_BLOCKS 8192ULL

struct version {
	bool present;
	uint64_t seq;
	uint8_t flags;
	uint16_t len;
	uint8_t fill;
};

struct fixture {
	char path[64];
	struct sfs_fs fs;
	struct sfs_counters counters;
	struct model_alloc ma;
	struct sfs_block_writer wri;
	struct sfs_forest_roots roots;
	struct scoutfs_log_trees lt[NR_TREES - 1];
	struct version v[NR_KEYS][NR_TREES];
	/* the expected winner per key: tree index, or -1 for none / deleted */
	int winner[NR_KEYS];
};

static uint64_t rng = 77;

static uint64_t rnd(void)
{
	return test_xorshift(&rng);
}

/* group g of inodes 1024 apart; keys sort by id */
static struct scoutfs_key id_key(int id)
{
	return test_group_key(id, KEYS_PER_GROUP);
}

static int key_id(const struct scoutfs_key *key)
{
	return test_group_key_id(key, KEYS_PER_GROUP);
}

static void fill_val(uint8_t *buf, const struct version *v)
{
	for (unsigned int i = 0; i < v->len; i++)
		buf[i] = (uint8_t)(v->fill + i);
}

/* which trees hold which groups: group 3 lives only in fs_root and log tree 0 */
static bool tree_has_group(int t, int g)
{
	if (g == 3)
		return t <= 1;
	return true;
}

static int setup(void **state)
{
	struct sfs_block_opts opts = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));
	struct scoutfs_btree_root *root;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key key, lock;
	int fd, id, t, best;

	strcpy(f->path, "/var/tmp/sfs-test-forest.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(MAX_BLOCKS * SCOUTFS_BLOCK_LG_SIZE)), 0);
	close(fd);
	sfs_fs_log_init(&f->fs, "test");
	f->fs.fsid = 0xf0f0;
	f->fs.counters = &f->counters;
	opts.meta_path = f->path;
	assert_int_equal(sfs_block_setup(&f->fs, &opts), 0);
	sfs_block_set_fsid(&f->fs, f->fs.fsid);
	model_alloc_init(&f->ma, MAX_BLOCKS);
	sfs_block_writer_init(&f->wri);

	for (t = 0; t < NR_TREES - 1; t++) {
		f->lt[t].rid = htole64(100 + (uint64_t)t / 2);
		f->lt[t].nr = htole64(1 + (uint64_t)t % 2);
	}

	/* random versions; seqs from a small range so ties happen */
	for (id = 0; id < NR_KEYS; id++) {
		best = -1;
		for (t = 0; t < NR_TREES; t++) {
			struct version *v = &f->v[id][t];

			if (!tree_has_group(t, id / KEYS_PER_GROUP) || rnd() % 100 >= 45)
				continue;
			v->present = true;
			v->seq = 1 + rnd() % 40;
			v->flags = (t > 0 && rnd() % 4 == 0) ? SCOUTFS_BTREE_ITEM_FLAG_DELETION : 0;
			v->len = v->flags ? 0 : (uint16_t)(rnd() % 200);
			v->fill = (uint8_t)rnd();
			if (best < 0 || v->seq > f->v[id][best].seq)
				best = t;
		}
		f->winner[id] = (best >= 0 && !f->v[id][best].flags) ? best : -1;
	}

	/* write them */
	for (t = 0; t < NR_TREES; t++) {
		root = t == 0 ? &f->roots.fs_root : &f->lt[t - 1].item_root;
		for (id = 0; id < NR_KEYS; id++) {
			struct version *v = &f->v[id][t];

			if (!v->present)
				continue;
			key = id_key(id);
			fill_val(val, v);
			assert_int_equal(sfs_btree_force(&f->fs, &f->ma.alloc, &f->wri, root, &key,
							 v->seq, v->flags, val, v->len),
					 0);
			if (t > 0) {
				lock = sfs_forest_lock_start(&key);
				assert_int_equal(sfs_forest_bloom_set(&f->fs, &f->ma.alloc, &f->wri,
								      &f->lt[t - 1].bloom_ref, &lock),
						 0);
			}
		}
	}
	for (t = 0; t < NR_TREES - 1; t++) {
		key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, le64toh(f->lt[t].rid), 0,
				   le64toh(f->lt[t].nr), 0, 0);
		assert_int_equal(sfs_btree_insert(&f->fs, &f->ma.alloc, &f->wri,
						  &f->roots.logs_root, &key, 0, 0, &f->lt[t],
						  sizeof(f->lt[t])),
				 0);
	}
	assert_int_equal(sfs_block_writer_write(&f->fs, &f->wri), 0);
	model_alloc_commit(&f->ma);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sfs_block_writer_forget(&f->fs, &f->wri);
	sfs_block_writer_destroy(&f->wri);
	sfs_block_destroy(&f->fs);
	model_alloc_destroy(&f->ma);
	unlink(f->path);
	free(f);
	return 0;
}

static void check_item(struct fixture *f, int id, uint64_t seq, uint8_t flags, const void *val,
		       unsigned int len)
{
	uint8_t want[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct version *v;

	if (f->winner[id] < 0)
		fail_msg("key %d reported but it has no live winner", id);
	v = &f->v[id][f->winner[id]];
	assert_int_equal(seq, v->seq);
	assert_int_equal(flags, 0);
	assert_int_equal(len, v->len);
	fill_val(want, v);
	assert_memory_equal(val, want, len);
}

static void test_lookup(void **state)
{
	struct fixture *f = *state;
	struct sfs_btree_item_ret r;
	struct scoutfs_key key;
	int id, ret, live = 0, ties = 0;

	for (id = 0; id < NR_KEYS; id++) {
		key = id_key(id);
		ret = sfs_forest_lookup(&f->fs, &f->roots, &key, &r);
		if (f->winner[id] < 0) {
			assert_int_equal(ret, -ENOENT);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(sfs_key_cmp(&r.key, &key), 0);
		check_item(f, id, r.seq, r.flags, r.val, r.val_len);
		live++;
		for (int t = f->winner[id] + 1; t < NR_TREES; t++)
			if (f->v[id][t].present && f->v[id][t].seq == f->v[id][f->winner[id]].seq)
				ties++;
	}
	print_message("  %d live keys of %d, %d ties resolved by read order\n", live, NR_KEYS,
		      ties);
	assert_true(live > NR_KEYS / 4);
	assert_true(ties > 0);
}

struct range_check {
	struct fixture *f;
	uint8_t *seen;
	int last;
};

static int range_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		    const void *val, unsigned int val_len)
{
	struct range_check *rc = arg;
	int id = key_id(key);

	assert_true(id > rc->last);
	rc->last = id;
	check_item(rc->f, id, seq, flags, val, val_len);
	rc->seen[id]++;
	return 0;
}

static void test_ranges(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_key key, start, end, k;
	struct range_check rc = { .f = f };
	int id, i, g, narrowed = 0;

	rc.seen = calloc(NR_KEYS, 1);
	for (i = 0; i < 300; i++) {
		id = (int)(rnd() % NR_KEYS);
		g = id / KEYS_PER_GROUP;
		key = id_key(id);
		/* the whole lock range of the key's inode group */
		start = sfs_key_make(SCOUTFS_FS_ZONE, (uint64_t)g * 1024, 0, 0, 0, 0);
		end = sfs_key_make(SCOUTFS_FS_ZONE, (uint64_t)g * 1024 + 1023, 255, UINT64_MAX,
				   UINT64_MAX, 255);
		memset(rc.seen, 0, NR_KEYS);
		rc.last = -1;
		assert_int_equal(sfs_forest_read_items(&f->fs, &f->roots, &key, &start, &end, range_cb,
						       &rc),
				 0);
		assert_true(sfs_key_cmp(&start, &key) <= 0 && sfs_key_cmp(&key, &end) <= 0);
		if (sfs_key_cmp(&end, &key) != 0 || sfs_key_cmp(&start, &key) != 0)
			narrowed++;
		/* complete within the answered range */
		for (int j = 0; j < NR_KEYS; j++) {
			k = id_key(j);
			if (sfs_key_cmp(&k, &start) < 0 || sfs_key_cmp(&k, &end) > 0) {
				assert_int_equal(rc.seen[j], 0);
				continue;
			}
			assert_int_equal(rc.seen[j], f->winner[j] >= 0 ? 1 : 0);
		}
	}
	assert_true(narrowed > 0);
	free(rc.seen);
}

static void test_bloom_skip(void **state)
{
	struct fixture *f = *state;
	struct sfs_btree_item_ret r;
	struct scoutfs_key key;
	uint64_t fail0, pass0;
	int id;

	/* group 3 is only in log tree 0: the other five trees are skipped */
	id = 3 * KEYS_PER_GROUP + 5;
	key = id_key(id);
	fail0 = sfs_counter(&f->fs, forest_bloom_fail);
	pass0 = sfs_counter(&f->fs, forest_bloom_pass);
	sfs_forest_lookup(&f->fs, &f->roots, &key, &r);
	assert_int_equal(sfs_counter(&f->fs, forest_bloom_fail) - fail0, NR_TREES - 2);
	assert_int_equal(sfs_counter(&f->fs, forest_bloom_pass) - pass0, 1);

	/* group 0 is everywhere: every log tree is read */
	key = id_key(7);
	fail0 = sfs_counter(&f->fs, forest_bloom_fail);
	pass0 = sfs_counter(&f->fs, forest_bloom_pass);
	sfs_forest_lookup(&f->fs, &f->roots, &key, &r);
	assert_int_equal(sfs_counter(&f->fs, forest_bloom_fail) - fail0, 0);
	assert_int_equal(sfs_counter(&f->fs, forest_bloom_pass) - pass0, NR_TREES - 1);
}

static void test_stale_roots(void **state)
{
	struct fixture *f = *state;
	struct sfs_forest_roots roots = f->roots;
	struct sfs_btree_item_ret r;
	struct scoutfs_key key = id_key(1);

	roots.fs_root.ref.seq = htole64(le64toh(roots.fs_root.ref.seq) ^ 1);
	assert_int_equal(sfs_forest_lookup(&f->fs, &roots, &key, &r), -ESTALE);
	roots = f->roots;
	roots.logs_root.ref.seq = htole64(le64toh(roots.logs_root.ref.seq) ^ 1);
	assert_int_equal(sfs_forest_lookup(&f->fs, &roots, &key, &r), -ESTALE);
}

static void test_lock_start(void **state)
{
	struct scoutfs_key key, ls;
	(void)state;

	key = sfs_key_make(SCOUTFS_FS_ZONE, 2049, SCOUTFS_DIRENT_TYPE, 77, 5, 0);
	ls = sfs_forest_lock_start(&key);
	assert_true(le64toh(ls._sk_first) == 2048 && ls.sk_type == 0 && ls._sk_second == 0);
	key = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE, 5000,
			   7, 0);
	ls = sfs_forest_lock_start(&key);
	assert_true(ls.sk_type == SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE &&
		    le64toh(ls._sk_second) == 4096 && ls._sk_third == 0);
	key = sfs_key_make(SCOUTFS_ORPHAN_ZONE, 0, SCOUTFS_ORPHAN_TYPE, 99, 0, 0);
	ls = sfs_forest_lock_start(&key);
	assert_true(ls.sk_type == SCOUTFS_ORPHAN_TYPE && ls._sk_second == 0);
}


/* ------------------------------------------------------------------ */
/* The delta rule (zone 12)                                             */
/* ------------------------------------------------------------------ */

struct dv {
	uint8_t src;	/* SFS_FOREST_SRC_* */
	uint64_t seq;
	int64_t total, count;
};

/* resolve one key's versions, given in read order: 1 with the sum, 0 for none */
static int resolve(const struct dv *d, int nr, int64_t *total, int64_t *count, uint64_t *seq)
{
	struct sfs_forest_versions vs = { 0 };
	struct scoutfs_key key = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 1, 0, 2, 3, 0);
	struct scoutfs_xattr_totl_val tv, sum;
	struct sfs_fs fs = { 0 };
	int i, ret;

	sfs_fs_log_init(&fs, "test");
	for (i = 0; i < nr; i++) {
		vs.src = d[i].src;
		vs.order = (uint32_t)i;
		tv.total = htole64((uint64_t)d[i].total);
		tv.count = htole64((uint64_t)d[i].count);
		assert_int_equal(sfs_forest_versions_add(&vs, &key, d[i].seq, 0, &tv, sizeof(tv)),
				 0);
	}
	sfs_forest_versions_sort(&vs);
	ret = sfs_forest_delta_resolve(&fs, &vs, vs.v, vs.nr, &sum, seq);
	*total = (int64_t)le64toh(sum.total);
	*count = (int64_t)le64toh(sum.count);
	sfs_forest_versions_free(&vs);
	return ret;
}

#define F SFS_FOREST_SRC_FS
#define I SFS_FOREST_SRC_INPUT
#define L SFS_FOREST_SRC_LOG

#define EXPECT(d, want_ret, want_total, want_count, want_seq)                                 \
	do {                                                                                    \
		int64_t t_, c_;                                                                 \
		uint64_t s_;                                                                    \
		assert_int_equal(resolve(d, (int)(sizeof(d) / sizeof(d[0])), &t_, &c_, &s_),  \
				 want_ret);                                                     \
		if (want_ret == 1) {                                                            \
			assert_int_equal(t_, want_total);                                       \
			assert_int_equal(c_, want_count);                                       \
			assert_int_equal(s_, want_seq);                                         \
		}                                                                               \
	} while (0)

static void test_delta_rule(void **state)
{
	(void)state;
	/* active trees only: their sum */
	const struct dv logs[] = { { L, 3, 3, 1 }, { L, 9, 4, 1 } };
	/* fs_root and inputs not merged yet (Is > Fs), plus an active tree */
	const struct dv unmerged[] = { { F, 5, 10, 2 }, { I, 7, 3, 1 }, { L, 12, -10, -1 } };
	/* inputs already merged into fs_root (Fs >= Is): not counted again */
	const struct dv merged[] = { { F, 7, 13, 3 }, { I, 6, 3, 1 }, { I, 7, 0, 0 } };
	/* Is is the input read last, not the greatest */
	const struct dv last_read[] = { { F, 6, 13, 3 }, { I, 9, 3, 1 }, { I, 4, 1, 1 } };
	/* no fs_root item: inputs count when their count is positive */
	const struct dv new_inputs[] = { { I, 4, 20, 2 }, { I, 8, -5, -1 } };
	/* ... and not when it is not (a merge deleted the key, 0/0) */
	const struct dv deleted[] = { { I, 4, -13, -3 }, { L, 11, 6, 1 } };
	const struct dv gone[] = { { I, 4, -13, -3 } };
	/* everything adds up to nothing: no item */
	const struct dv nothing[] = { { F, 5, 10, 2 }, { I, 7, -4, -1 }, { L, 9, -6, -1 } };

	EXPECT(logs, 1, 7, 2, 9);
	EXPECT(unmerged, 1, 3, 2, 12);
	EXPECT(merged, 1, 13, 3, 7);
	EXPECT(last_read, 1, 13, 3, 6);
	EXPECT(new_inputs, 1, 15, 1, 8);
	EXPECT(deleted, 1, 6, 1, 11);
	EXPECT(gone, 0, 0, 0, 0);
	EXPECT(nothing, 0, 0, 0, 0);
}

static void test_delta_malformed(void **state)
{
	struct sfs_forest_versions vs = { 0 };
	struct scoutfs_key key = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 1, 0, 2, 3, 0);
	struct scoutfs_xattr_totl_val tv = { 0 }, sum;
	struct sfs_fs fs = { 0 };
	uint64_t seq;

	(void)state;
	sfs_fs_log_init(&fs, "test");
	fs.log_level = LOG_CRIT;	/* the errors below are expected */
	assert_int_equal(sfs_forest_versions_add(&vs, &key, 1, 0, &tv, 8), 0);
	assert_int_equal(sfs_forest_delta_resolve(&fs, &vs, vs.v, vs.nr, &sum, &seq), -EIO);
	sfs_forest_versions_reset(&vs);
	assert_int_equal(sfs_forest_versions_add(&vs, &key, 1, SCOUTFS_BTREE_ITEM_FLAG_DELETION,
						 NULL, 0), 0);
	assert_int_equal(sfs_forest_delta_resolve(&fs, &vs, vs.v, vs.nr, &sum, &seq), -EIO);
	sfs_forest_versions_free(&vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_start),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_bloom_skip),
		cmocka_unit_test(test_stale_roots),
		cmocka_unit_test(test_delta_rule),
		cmocka_unit_test(test_delta_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
