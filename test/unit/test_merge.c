// SPDX-License-Identifier: GPL-2.0
/*
 * Log merging, server and client in one process over loopback, on a
 * volume made by scoutfs-mkfs: transactions from several mounts (rids)
 * with overlapping keys and deletions, finalized and merged into
 * fs_root.  Forest reads equal a model before and after every merge,
 * fs_root ends up holding exactly the model's items, logs_root only the
 * unmerged trees, and the whole-volume check accounts every block once.
 * Thresholds, farewell, a merge that takes several requests (REMAIN),
 * a resent COMMIT_LOG_MERGE, a server restart between GET_LOG_MERGE and
 * COMMIT_LOG_MERGE, requests handed back (farewell, ERROR) and FREEING
 * items left on disk are covered too, and so are orphan log trees (a
 * gone mount's unfinalized tree, made with reclaim_skip_finalize), and
 * xattr totals: deltas
 * summed across trees by reads before, during and after merges, and
 * merged into fs_root, where a total of nothing disappears.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "alloc.h"
#include "check.h"
#include "client.h"
#include "counters.h"
#include "forest.h"
#include "log.h"
#include "merge.h"
#include "net.h"
#include "server.h"
#include "super.h"
#include "trigger.h"
#include "volume.h"

#define NR_KEYS 1000
#define MAX_VAL 80

struct model_item {
	bool present;
	uint8_t fill;
	uint8_t len;
	uint64_t seq;
};

struct fixture {
	struct test_volume tv;
	struct sfs_fs fs;
	struct sfs_counters counters;
	struct scoutfs_super_block super;
	struct sockaddr_storage bound;
	struct sfs_server_opts sopts;
	uint64_t rid;			/* the connected client's, 0: none */
	uint64_t rng;
	struct model_item model[NR_KEYS];
};

/* ------------------------------------------------------------------ */
/* Fixture                                                              */
/* ------------------------------------------------------------------ */

static void start_server(struct fixture *f)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	f->sopts.addr = (struct sockaddr *)&sin;
	f->sopts.addr_len = sizeof(sin);
	f->sopts.term = 1;
	f->sopts.client_data_target = 8192;
	assert_int_equal(sfs_server_start(&f->fs, &f->sopts, &f->bound), 0);
}

static void stop_client(struct fixture *f)
{
	sfs_client_destroy(&f->fs);
	f->rid = 0;
}

/* connect as rid (reconnecting if another rid is connected) */
static void use_client(struct fixture *f, uint64_t rid)
{
	struct sfs_client_opts opts = { .addr = (struct sockaddr *)&f->bound,
					.addr_len = sizeof(struct sockaddr_in), .rid = rid,
					.uuid = f->super.uuid,
					.fmt_vers = le64toh(f->super.fmt_vers), .timeout_ms = 20000 };

	if (f->rid == rid)
		return;
	stop_client(f);
	assert_int_equal(sfs_client_setup(&f->fs, &opts), 0);
	f->rid = rid;
}

static void restart_server(struct fixture *f)
{
	uint64_t rid = f->rid;

	stop_client(f);
	sfs_server_stop(&f->fs);
	start_server(f);
	if (rid)
		use_client(f, rid);
}

static int setup(void **state)
{
	struct sfs_block_opts bopts = { 0 };
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (test_volume_make(&f->tv, "merge", "512M", "1G")) {
		free(f);
		return -1;
	}

	sfs_fs_log_init(&f->fs, "test");
	f->fs.log_level = LOG_WARNING;
	f->fs.counters = &f->counters;
	bopts.meta_path = f->tv.meta;
	bopts.data_path = f->tv.data;
	assert_int_equal(sfs_block_setup(&f->fs, &bopts), 0);
	assert_int_equal(sfs_super_read(&f->fs, &f->super), 0);
	/* no merge unless a test asks for one */
	f->sopts.finalize_items = 1ULL << 40;
	f->sopts.max_log_trees = 1000;
	f->rng = 0x9e3779b97f4a7c15ULL;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stop_client(f);
	sfs_server_stop(&f->fs);
	sfs_block_destroy(&f->fs);
	test_volume_remove(&f->tv);
	free(f);
	return 0;
}

static uint64_t rnd(struct fixture *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

/* ------------------------------------------------------------------ */
/* Keys, transactions, the model                                        */
/* ------------------------------------------------------------------ */

/* keys spread over five inode lock groups */
static struct scoutfs_key key_of(unsigned int i)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, 2000 + (i % 5) * 1100, SCOUTFS_XATTR_TYPE, i / 5, 0,
			    0);
}

static int cmp_op(const void *a, const void *b)
{
	const struct sfs_btree_list_item *x = a, *y = b;

	return sfs_key_cmp(&x->key, &y->key);
}

/*
 * One transaction of rid: nr distinct keys, each put (a value of fill
 * bytes) or deleted (a deletion item), written into the rid's log tree as
 * a commit does, then committed.  The model follows.
 */
static void transaction(struct fixture *f, uint64_t rid, unsigned int nr, unsigned int del_pct)
{
	static uint8_t vals[NR_KEYS][MAX_VAL];
	struct sfs_btree_list_item *ops = calloc(nr, sizeof(*ops));
	bool *used = calloc(NR_KEYS, sizeof(bool));
	struct scoutfs_log_trees lt;
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	struct scoutfs_key lock;
	unsigned int i, k, len;
	uint64_t seq;

	assert_true(nr <= NR_KEYS);
	use_client(f, rid);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	seq = le64toh(lt.get_trans_seq);
	for (i = 0; i < nr; i++) {
		do
			k = (unsigned int)(rnd(f) % NR_KEYS);
		while (used[k]);
		used[k] = true;
		ops[i].key = key_of(k);
		ops[i].seq = seq;
		if (rnd(f) % 100 < del_pct) {
			ops[i].flags = SCOUTFS_BTREE_ITEM_FLAG_DELETION;
			f->model[k].present = false;
		} else {
			len = 20 + (unsigned int)(rnd(f) % (MAX_VAL - 20));
			memset(vals[k], (int)(seq * 31 + k), len);
			ops[i].val = vals[k];
			ops[i].val_len = (uint16_t)len;
			f->model[k] = (struct model_item){ .present = true,
							   .fill = (uint8_t)(seq * 31 + k),
							   .len = (uint8_t)len, .seq = seq };
		}
	}
	qsort(ops, nr, sizeof(*ops), cmp_op);

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt.meta_avail, &lt.meta_freed);
	assert_int_equal(sfs_btree_insert_list(&f->fs, &lists.alloc, &wri, &lt.item_root, ops, nr),
			 0);
	for (i = 0; i < nr; i++) {
		lock = sfs_forest_lock_start(&ops[i].key);
		assert_int_equal(sfs_forest_bloom_set(&f->fs, &lists.alloc, &wri, &lt.bloom_ref,
						      &lock),
				 0);
	}
	assert_int_equal(sfs_block_writer_write(&f->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&f->fs, SFS_DEV_META), 0);
	lt.meta_avail = lists.avail;
	lt.meta_freed = lists.freed;
	lt.max_item_seq = lt.get_trans_seq;
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);
	free(ops);
	free(used);
}

/* every key reads through the forest as the model says */
static void check_model(struct fixture *f)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct sfs_forest_roots roots;
	struct scoutfs_key key;
	uint8_t want[MAX_VAL];
	int ret;

	if (!f->rid)
		use_client(f, 0x7777);
	assert_int_equal(sfs_client_get_roots(&f->fs, &roots), 0);
	for (unsigned int k = 0; k < NR_KEYS; k++) {
		key = key_of(k);
		ret = sfs_forest_lookup(&f->fs, &roots, &key, r);
		if (!f->model[k].present) {
			if (ret != -ENOENT)
				fail_msg("key %u: expected absent, lookup returned %d", k, ret);
			continue;
		}
		if (ret)
			fail_msg("key %u: expected %u bytes, lookup returned %d", k, f->model[k].len,
				 ret);
		memset(want, f->model[k].fill, f->model[k].len);
		assert_int_equal(r->val_len, f->model[k].len);
		assert_memory_equal(r->val, want, f->model[k].len);
		assert_int_equal(r->seq, f->model[k].seq);
	}
	free(r);
}

static void read_super(struct fixture *f, struct scoutfs_super_block *super)
{
	assert_int_equal(sfs_super_read(&f->fs, super), 0);
}

/* fs_root, as on disk, holds exactly the model's items */
static void check_fs_root(struct fixture *f)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	struct scoutfs_key key, want;
	unsigned int seen = 0, live = 0;

	read_super(f, &super);
	for (unsigned int k = 0; k < NR_KEYS; k++) {
		if (!f->model[k].present)
			continue;
		live++;
		want = key_of(k);
		assert_int_equal(sfs_btree_lookup(&f->fs, &super.fs_root, &want, r), 0);
		assert_int_equal(r->seq, f->model[k].seq);
		assert_int_equal(r->val_len, f->model[k].len);
		assert_int_equal(r->flags, 0);
	}
	/* what mkfs put there (the root inode's items) aside */
	key = sfs_key_make(SCOUTFS_FS_ZONE, 2000, 0, 0, 0, 0);
	while (sfs_btree_next(&f->fs, &super.fs_root, &key, r) == 0) {
		seen++;
		key = r->key;
		sfs_key_inc(&key);
	}
	assert_int_equal(seen, live);
	free(r);
}

struct lt_summary {
	unsigned int trees, finalized, with_items;
};

static void logs_summary(struct fixture *f, struct lt_summary *s)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;

	memset(s, 0, sizeof(*s));
	read_super(f, &super);
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while (sfs_btree_next(&f->fs, &super.logs_root, &key, r) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		memcpy(&lt, r->val, sizeof(lt));
		s->trees++;
		if (le64toh(lt.flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED)
			s->finalized++;
		if (lt.item_root.height)
			s->with_items++;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
}

/* the server frees FREEING trees in commits of its own: wait for the log_merge tree to empty */
static void wait_log_merge_empty(struct fixture *f)
{
	struct scoutfs_super_block super;

	for (int i = 0; i < 500; i++) {
		read_super(f, &super);
		if (super.log_merge.height == 0)
			return;
		usleep(10 * 1000);
	}
	fail_msg("the log_merge tree did not empty");
}

static void check_volume(struct fixture *f)
{
	struct scoutfs_super_block super;
	struct sfs_check_report r;
	int ret;

	read_super(f, &super);
	ret = sfs_check_volume(&f->fs, &super, &r);
	if (ret)
		fail_msg("volume check: %s", r.why[0] ? r.why : strerror(-ret));
}

/* merge requests until there is no work */
static unsigned int merge_all(struct fixture *f, uint64_t rid)
{
	unsigned int n = 0;
	int ret;

	use_client(f, rid);
	while ((ret = sfs_merge_run_one(&f->fs)) == 0)
		n++;
	assert_int_equal(ret, -ENOENT);
	return n;
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void test_merge_basic(void **state)
{
	struct fixture *f = *state;
	struct lt_summary s;
	uint64_t rids[3] = { 0x1111, 0x2222, 0x3333 };

	start_server(f);
	for (int round = 0; round < 4; round++)
		for (int c = 0; c < 3; c++)
			transaction(f, rids[c], 300, 25);
	check_model(f);
	logs_summary(f, &s);
	assert_int_equal(s.trees, 3);
	assert_int_equal(s.finalized, 0);
	check_volume(f);

	/* nothing to merge yet */
	use_client(f, 0x1111);
	assert_int_equal(sfs_merge_run_one(&f->fs), -ENOENT);

	/* the three idle trees are finalized and a merge starts; reads do not change */
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_finalize), 3);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	logs_summary(f, &s);
	assert_int_equal(s.trees, 6);
	assert_int_equal(s.finalized, 3);
	check_model(f);
	check_volume(f);

	assert_true(merge_all(f, 0x1111) >= 1);
	assert_int_equal(sfs_counter(&f->fs, log_merge_complete), 1);
	check_model(f);
	check_fs_root(f);
	/* only the mounts' new, empty trees are left */
	logs_summary(f, &s);
	assert_int_equal(s.trees, 3);
	assert_int_equal(s.finalized, 0);
	assert_int_equal(s.with_items, 0);
	wait_log_merge_empty(f);
	assert_true(sfs_counter(&f->fs, log_merge_freeing) >= 3);
	check_volume(f);

	/* more writes over the merged items, deletions of merged keys among them */
	for (int round = 0; round < 3; round++)
		for (int c = 0; c < 3; c++)
			transaction(f, rids[c], 250, 40);
	check_model(f);
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	check_model(f);
	merge_all(f, 0x2222);
	assert_int_equal(sfs_counter(&f->fs, log_merge_complete), 2);
	check_model(f);
	check_fs_root(f);
	logs_summary(f, &s);
	assert_int_equal(s.with_items, 0);
	wait_log_merge_empty(f);
	check_volume(f);

	/* a partly merged state reads right too: new trees over a merged fs_root */
	transaction(f, 0x3333, 200, 50);
	transaction(f, 0x1111, 200, 50);
	check_model(f);
	check_volume(f);
}

/* finalizing by item count and by tree count; GET/COMMIT_LOG_TREES resends */
static void test_finalize_thresholds(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees lt, lt2, old;
	struct lt_summary s;

	f->sopts.finalize_items = 100;
	f->sopts.max_log_trees = 2;
	start_server(f);

	transaction(f, 0x1111, 50, 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(le64toh(lt.nr), 1);	/* 50 items: kept */
	old = lt;

	/* over 100 items: the committed tree is finalized, the mount goes on in nr 2 */
	use_client(f, 0x2222);
	transaction(f, 0x2222, 150, 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(le64toh(lt.nr), 2);
	assert_int_equal(lt.item_root.height, 0);
	assert_true(le64toh(lt.meta_avail.total_nr) > 0);
	/* a resend gets the same open transaction, nothing finalized twice */
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt2), 0);
	assert_memory_equal(&lt, &lt2, sizeof(lt));
	assert_int_equal(sfs_counter(&f->fs, log_merge_finalize), 1);
	/* 0x1111's tree is open with items: the merge waits for it */
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 0);
	check_model(f);

	/* 0x1111 commits its open transaction; asking for the next finalizes it: merge */
	use_client(f, 0x1111);
	old.max_item_seq = old.get_trans_seq;
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &old), 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(le64toh(lt.nr), 2);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	/* a late resend of the commit of the finalized tree changes nothing */
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &old), 0);
	logs_summary(f, &s);
	assert_int_equal(s.finalized, 2);
	check_model(f);
	merge_all(f, 0x1111);
	check_model(f);
	check_fs_root(f);
	wait_log_merge_empty(f);
	check_volume(f);

	/* three small trees with items: more than max_log_trees wants a merge */
	transaction(f, 0x1111, 10, 0);
	transaction(f, 0x2222, 10, 0);
	transaction(f, 0x3333, 10, 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	use_client(f, 0x3333);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	/* the asking mount's tree and the two idle ones were finalized */
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 2);
	merge_all(f, 0x3333);
	check_model(f);
	check_fs_root(f);
	wait_log_merge_empty(f);
	check_volume(f);
}

/*
 * The discontinuity rule: a mount's open tree holds old versions of keys
 * that a later transaction deleted.  Merging the deleting tree alone
 * would drop the keys from fs_root and uncover the old versions, so the
 * merge waits until the open tree is finalized too.
 */
static void test_discontinuity(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees lt;
	struct lt_summary s;

	start_server(f);
	transaction(f, 0x1111, 400, 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);	/* stays open */
	transaction(f, 0x2222, NR_KEYS, 100);				/* deletes every key */
	check_model(f);

	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 0);
	assert_true(sfs_counter(&f->fs, log_merge_wait_active) >= 1);
	logs_summary(f, &s);
	assert_int_equal(s.finalized, 1);
	assert_int_equal(merge_all(f, 0x2222), 0);
	check_model(f);

	/* the open transaction commits; asking for the next finalizes it and the merge runs */
	use_client(f, 0x1111);
	lt.max_item_seq = lt.get_trans_seq;
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	assert_true(merge_all(f, 0x1111) >= 1);
	check_model(f);
	check_fs_root(f);
	wait_log_merge_empty(f);
	check_volume(f);
}

/* farewell finalizes a tree with items, drops an empty one, hands back a request */
static void test_farewell(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_merge_request req, req2;
	struct scoutfs_log_trees lt;
	struct lt_summary s;
	uint64_t reclaims;

	start_server(f);
	transaction(f, 0x1111, 200, 10);
	transaction(f, 0x2222, 200, 10);
	use_client(f, 0x4444);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);	/* a resend */
	logs_summary(f, &s);
	assert_int_equal(s.trees, 2);	/* the empty tree is gone */

	/* a tree with items is finalized; 0x2222's idle one too, for the merge that wants */
	use_client(f, 0x1111);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	logs_summary(f, &s);
	assert_int_equal(s.finalized, 2);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	use_client(f, 0x5555);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), 0);
	check_model(f);
	check_volume(f);

	/* the request's mount leaves: its request goes to the next one asking */
	reclaims = sfs_counter(&f->fs, log_merge_reclaim);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_reclaim), reclaims + 1);
	check_volume(f);
	use_client(f, 0x6666);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req2), 0);
	assert_true(le64toh(req2.seq) > le64toh(req.seq));
	assert_memory_equal(&req2.start, &req.start, sizeof(req.start));
	stop_client(f);
	/* another mount gets nothing while 0x6666 holds the request */
	use_client(f, 0x7777);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), -ENOENT);
	merge_all(f, 0x6666);
	check_model(f);
	check_fs_root(f);
	wait_log_merge_empty(f);
	check_volume(f);
}

/*
 * A mount dies with items in its open tree's committed part and another
 * dies holding a merge request: merging waits until they are reclaimed
 * (what fencing will do), then goes on with their trees and work.
 */
static void test_reclaim_dead_mount(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_merge_request req;
	struct scoutfs_log_trees lt;
	struct lt_summary s;

	start_server(f);
	transaction(f, 0x1111, 300, 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);	/* open, then dies */
	stop_client(f);
	transaction(f, 0x2222, 300, 40);
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 0);

	assert_int_equal(sfs_server_reclaim_mount(&f->fs, 0x1111), 0);
	assert_int_equal(sfs_server_reclaim_mount(&f->fs, 0x1111), 0);	/* again: nothing */
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	logs_summary(f, &s);
	assert_int_equal(s.finalized, 2);
	check_model(f);
	check_volume(f);

	use_client(f, 0x3333);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), 0);
	stop_client(f);	/* dies holding the request */
	use_client(f, 0x4444);
	assert_int_equal(sfs_merge_run_one(&f->fs), -ENOENT);
	assert_int_equal(sfs_server_reclaim_mount(&f->fs, 0x3333), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_reclaim), 1);
	assert_true(merge_all(f, 0x4444) >= 1);
	check_model(f);
	check_fs_root(f);
	logs_summary(f, &s);
	assert_int_equal(s.with_items, 0);
	wait_log_merge_empty(f);
	check_volume(f);
}

/* rid's greatest-nr log tree as on disk: 0 or -ENOENT */
static int find_lt(struct fixture *f, uint64_t rid, struct scoutfs_log_trees *lt)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	struct scoutfs_key key;
	int ret = -ENOENT;

	read_super(f, &super);
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, rid, 0, 0, 0, 0);
	while (sfs_btree_next(&f->fs, &super.logs_root, &key, r) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE && le64toh(r->key.sklt_rid) == rid) {
		memcpy(lt, r->val, sizeof(*lt));
		ret = 0;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	return ret;
}

/*
 * rid dies inside a transaction, its tree holding committed items, and
 * is reclaimed with reclaim_skip_finalize armed: its mounted_clients
 * item goes, its tree stays unfinalized with its allocators (an orphan).
 */
static void make_orphan(struct fixture *f, uint64_t rid)
{
	struct scoutfs_log_trees lt;

	transaction(f, rid, 300, 10);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);	/* open, then dies */
	stop_client(f);
	sfs_trigger_arm(&f->fs, SFS_TRIGGER_RECLAIM_SKIP_FINALIZE);
	assert_int_equal(sfs_server_reclaim_mount(&f->fs, rid), 0);
	assert_false(sfs_trigger_fired(&f->fs, SFS_TRIGGER_RECLAIM_SKIP_FINALIZE));
	assert_int_equal(find_lt(f, rid, &lt), 0);
	assert_false(le64toh(lt.flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED);
	assert_true(lt.item_root.height > 0);
	assert_true(le64toh(lt.meta_avail.total_nr) > 0);
	assert_true(le64toh(lt.get_trans_seq) > le64toh(lt.commit_trans_seq));
	assert_int_equal(sfs_counter(&f->fs, server_orphan_log_trees), 0);
}

/* an orphan's allocators are back and its tree finalized (or merged: gone) */
static void assert_orphan_retired(struct fixture *f, uint64_t rid)
{
	struct scoutfs_log_trees lt;

	if (find_lt(f, rid, &lt) == -ENOENT)
		return;
	assert_true(le64toh(lt.flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED);
	assert_int_equal(le64toh(lt.meta_avail.total_nr), 0);
	assert_int_equal(le64toh(lt.meta_freed.total_nr), 0);
	assert_int_equal(le64toh(lt.data_avail.total_len), 0);
	assert_int_equal(le64toh(lt.data_freed.total_len), 0);
}

/*
 * An orphan log tree (its mount gone, never finalized) holding items in
 * an open transaction would keep every merge from starting: the server
 * retires it before a merge starts, and the merge takes its items.
 */
static void test_orphan_tree_merge(void **state)
{
	struct fixture *f = *state;
	struct lt_summary s;

	start_server(f);
	make_orphan(f, 0x1111);
	transaction(f, 0x2222, 300, 30);
	check_model(f);
	check_volume(f);

	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	assert_int_equal(sfs_counter(&f->fs, server_orphan_log_trees), 1);
	assert_int_equal(sfs_counter(&f->fs, log_merge_start), 1);
	assert_orphan_retired(f, 0x1111);
	logs_summary(f, &s);
	assert_int_equal(s.finalized, 2);
	check_volume(f);
	assert_true(merge_all(f, 0x3333) >= 1);
	check_model(f);
	check_fs_root(f);
	logs_summary(f, &s);
	assert_int_equal(s.with_items, 0);
	assert_int_equal(find_lt(f, 0x1111, &(struct scoutfs_log_trees){ 0 }), -ENOENT);
	/* no orphan again */
	assert_int_equal(sfs_counter(&f->fs, server_orphan_log_trees), 1);
	wait_log_merge_empty(f);
	check_volume(f);
}

/* a server starting on a volume with an orphan retires it at once (maintenance) */
static void test_orphan_tree_restart(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees lt;
	int i;

	start_server(f);
	make_orphan(f, 0x1111);
	use_client(f, 0x2222);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);	/* a live mount */
	restart_server(f);
	for (i = 0; i < 500 && sfs_counter(&f->fs, server_orphan_log_trees) == 0; i++)
		usleep(10 * 1000);
	assert_int_equal(sfs_counter(&f->fs, server_orphan_log_trees), 1);
	/* its retirement is committed with its counting's batch; let it land */
	for (i = 0; i < 500; i++) {
		assert_int_equal(find_lt(f, 0x1111, &lt), 0);
		if (le64toh(lt.flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED)
			break;
		usleep(10 * 1000);
	}
	assert_orphan_retired(f, 0x1111);
	/* the live mount's tree is no orphan */
	assert_int_equal(find_lt(f, 0x2222, &lt), 0);
	assert_false(le64toh(lt.flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED);
	assert_true(le64toh(lt.meta_avail.total_nr) > 0);
	check_model(f);
	check_volume(f);
}

/* a merge bigger than one request's allocator goes in several (REMAIN) */
static void test_merge_remain(void **state)
{
	struct fixture *f = *state;
	struct sfs_btree_list_item *items;
	struct scoutfs_log_trees lt;
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	struct scoutfs_key key, lock;
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	static uint8_t val[200];
	const unsigned int nr = 120000;
	unsigned int i, seen = 0;
	uint64_t seq;

	f->sopts.merge_meta_target = SFS_MERGE_META_MIN;
	start_server(f);
	use_client(f, 0x1111);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	seq = le64toh(lt.get_trans_seq);
	items = calloc(nr, sizeof(*items));
	memset(val, 0xab, sizeof(val));
	for (i = 0; i < nr; i++) {
		items[i].key = sfs_key_make(SCOUTFS_FS_ZONE, 100000, SCOUTFS_XATTR_TYPE, i, 0, 0);
		items[i].seq = seq;
		items[i].val = val;
		items[i].val_len = sizeof(val);
	}
	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt.meta_avail, &lt.meta_freed);
	assert_int_equal(sfs_btree_insert_list(&f->fs, &lists.alloc, &wri, &lt.item_root, items,
					       nr),
			 0);
	lock = sfs_forest_lock_start(&items[0].key);
	assert_int_equal(sfs_forest_bloom_set(&f->fs, &lists.alloc, &wri, &lt.bloom_ref, &lock),
			 0);
	assert_int_equal(sfs_block_writer_write(&f->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	lt.meta_avail = lists.avail;
	lt.meta_freed = lists.freed;
	lt.max_item_seq = lt.get_trans_seq;
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);
	free(items);

	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	assert_true(merge_all(f, 0x1111) >= 2);
	assert_true(sfs_counter(&f->fs, log_merge_remain) >= 1);
	assert_int_equal(sfs_counter(&f->fs, log_merge_complete), 1);

	read_super(f, &super);
	key = sfs_key_make(SCOUTFS_FS_ZONE, 100000, 0, 0, 0, 0);
	while (sfs_btree_next(&f->fs, &super.fs_root, &key, r) == 0) {
		assert_int_equal(le64toh(r->key._sk_second), seen);
		assert_int_equal(r->seq, seq);
		seen++;
		key = r->key;
		sfs_key_inc(&key);
	}
	assert_int_equal(seen, nr);
	free(r);
	wait_log_merge_empty(f);
	check_volume(f);
}

/*
 * A server restart between GET_LOG_MERGE and COMMIT_LOG_MERGE, the
 * request asked for again, the commit of work done before the restart,
 * a resent commit, and an ERROR commit handing a request back.
 */
static void test_merge_restart_resend(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_merge_request req, req2;
	struct scoutfs_log_merge_complete comp, err;
	uint64_t n;

	start_server(f);
	for (int round = 0; round < 3; round++) {
		transaction(f, 0x1111, 300, 30);
		transaction(f, 0x2222, 300, 30);
	}
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);

	/* an ERROR hands the request back; its range goes out again */
	use_client(f, 0x3333);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), 0);
	memset(&err, 0, sizeof(err));
	err.rid = req.rid;
	err.seq = req.seq;
	err.flags = htole64(SCOUTFS_LOG_MERGE_COMP_ERROR);
	assert_int_equal(sfs_client_commit_log_merge(&f->fs, &err), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_reclaim), 1);
	check_volume(f);

	/* the work is done, then the server restarts before the commit */
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), 0);
	assert_int_equal(sfs_merge_request(&f->fs, &req, &comp), 0);
	check_volume(f);
	restart_server(f);
	check_volume(f);
	check_model(f);

	/* asking again returns the same request */
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req2), 0);
	assert_memory_equal(&req, &req2, sizeof(req));
	/* the work from before the restart commits */
	n = sfs_counter(&f->fs, log_merge_splice);
	assert_int_equal(sfs_client_commit_log_merge(&f->fs, &comp), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_splice), n + 1);
	check_model(f);
	/* a resend is recognised and frees nothing again */
	n = sfs_counter(&f->fs, log_merge_commit_unknown);
	assert_int_equal(sfs_client_commit_log_merge(&f->fs, &comp), 0);
	assert_int_equal(sfs_counter(&f->fs, log_merge_commit_unknown), n + 1);
	merge_all(f, 0x3333);
	assert_int_equal(sfs_counter(&f->fs, log_merge_complete), 1);
	check_model(f);
	check_fs_root(f);
	wait_log_merge_empty(f);
	check_volume(f);

	/* a restart after the request, the work redone with the same request */
	transaction(f, 0x1111, 300, 30);
	transaction(f, 0x2222, 300, 30);
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	use_client(f, 0x3333);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), 0);
	assert_int_equal(sfs_merge_request(&f->fs, &req, &comp), 0);
	restart_server(f);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req2), 0);
	assert_int_equal(le64toh(req2.seq), le64toh(req.seq));
	assert_int_equal(sfs_merge_request(&f->fs, &req2, &comp), 0);
	assert_int_equal(sfs_client_commit_log_merge(&f->fs, &comp), 0);
	merge_all(f, 0x3333);
	check_model(f);
	check_fs_root(f);
	wait_log_merge_empty(f);
	check_volume(f);
}

/* FREEING items left on disk are accounted, and a new server frees them */
static void test_freeing_restart(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_super_block super;
	struct sfs_check_report r;

	f->sopts.merge_hold_freeing = true;
	start_server(f);
	transaction(f, 0x1111, 400, 20);
	transaction(f, 0x2222, 400, 20);
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	merge_all(f, 0x1111);
	read_super(f, &super);
	assert_int_not_equal(super.log_merge.height, 0);
	assert_int_equal(sfs_check_volume(&f->fs, &super, &r), 0);
	assert_int_equal(r.merge_freeing, 2);
	check_model(f);

	f->sopts.merge_hold_freeing = false;
	restart_server(f);
	wait_log_merge_empty(f);
	check_volume(f);
	check_model(f);
	check_fs_root(f);
}

/* ------------------------------------------------------------------ */
/* Deltas (zone 12, xattr totals)                                       */
/* ------------------------------------------------------------------ */

#define NR_TOTALS 48
#define MAX_XATTRS 8

/* the xattrs whose values a total adds up, per key */
struct totl_model {
	uint64_t vals[NR_TOTALS][MAX_XATTRS];
	unsigned int nr[NR_TOTALS];
};

static struct scoutfs_key totl_key_of(unsigned int k)
{
	return sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 1 + k / 8, 0, k % 8, 3, 0);
}

static void totl_sum(const struct totl_model *tm, unsigned int k, int64_t *total, int64_t *count)
{
	*total = 0;
	for (unsigned int i = 0; i < tm->nr[k]; i++)
		*total += (int64_t)tm->vals[k][i];
	*count = tm->nr[k];
}

/*
 * One change to key k's xattrs as xattr.c makes them: add one, remove
 * one or replace one (empty: remove every one).  Returns its delta.
 */
static void totl_change(struct fixture *f, struct totl_model *tm, unsigned int k, bool empty,
			int64_t *dt, int64_t *dc)
{
	unsigned int n = tm->nr[k], r = (unsigned int)(rnd(f) % 3);
	uint64_t v = 1 + rnd(f) % 1000;

	*dt = 0;
	*dc = 0;
	if (empty) {
		while (tm->nr[k]) {
			*dt -= (int64_t)tm->vals[k][--tm->nr[k]];
			(*dc)--;
		}
	} else if (n == 0 || (r == 0 && n < MAX_XATTRS)) {
		tm->vals[k][tm->nr[k]++] = v;
		*dt = (int64_t)v;
		*dc = 1;
	} else if (r == 1) {
		*dt = -(int64_t)tm->vals[k][--tm->nr[k]];
		*dc = -1;
	} else {
		*dt = (int64_t)v - (int64_t)tm->vals[k][n - 1];
		tm->vals[k][n - 1] = v;
	}
}

/*
 * One transaction of rid with deltas for nr keys (some changed several
 * times, their deltas added as the item cache adds them; empty_mask keys
 * lose every xattr), written into the rid's log tree as trans.c's
 * commit writes them: added to what the tree holds for the key.
 */
static void delta_transaction(struct fixture *f, struct totl_model *tm, uint64_t rid,
			      unsigned int nr, uint64_t empty_mask)
{
	struct scoutfs_xattr_totl_val vals[NR_TOTALS];
	struct sfs_btree_list_item items[NR_TOTALS];
	struct scoutfs_log_trees lt;
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	struct scoutfs_key lock;
	bool used[NR_TOTALS] = { false };
	int64_t t, c, dt, dc;
	unsigned int i, k, n = 0, changes;
	void *folded;
	uint64_t seq;

	use_client(f, rid);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	seq = le64toh(lt.get_trans_seq);
	for (i = 0; i < nr; i++) {
		k = (unsigned int)(rnd(f) % NR_TOTALS);
		used[k] = true;
	}
	for (k = 0; k < NR_TOTALS; k++) {
		if (!used[k] && !(empty_mask & (1ULL << k)))
			continue;
		t = c = 0;
		for (changes = 1 + (unsigned int)(rnd(f) % 3); changes; changes--) {
			totl_change(f, tm, k, (empty_mask & (1ULL << k)) != 0, &dt, &dc);
			t += dt;
			c += dc;
		}
		if (t == 0 && c == 0)
			continue;	/* the cache drops a delta that nets to nothing */
		vals[n].total = htole64((uint64_t)t);
		vals[n].count = htole64((uint64_t)c);
		items[n] = (struct sfs_btree_list_item){
			.key = totl_key_of(k),
			.seq = seq,
			.val_len = sizeof(vals[n]),
			.val = &vals[n],
		};
		n++;
	}

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt.meta_avail, &lt.meta_freed);
	if (n) {
		assert_int_equal(sfs_forest_fold_log_deltas(&f->fs, &lt.item_root, items, n,
							    &folded), 0);
		assert_int_equal(sfs_btree_insert_list(&f->fs, &lists.alloc, &wri, &lt.item_root,
						       items, n), 0);
		free(folded);
		lock = sfs_forest_lock_start(&items[0].key);
		assert_int_equal(sfs_forest_bloom_set(&f->fs, &lists.alloc, &wri, &lt.bloom_ref,
						      &lock), 0);
	}
	assert_int_equal(sfs_block_writer_write(&f->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&f->fs, SFS_DEV_META), 0);
	lt.meta_avail = lists.avail;
	lt.meta_freed = lists.freed;
	lt.max_item_seq = lt.get_trans_seq;
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);
}

/* the roots of the super on disk, merge seq included */
static void super_roots(struct fixture *f, struct sfs_forest_roots *roots)
{
	struct scoutfs_super_block super;

	read_super(f, &super);
	assert_int_equal(sfs_forest_super_roots(&f->fs, &super, roots), 0);
}

/* every total reads as the model sums it, through roots; 0/0 is absent */
static void check_totals(struct fixture *f, const struct totl_model *tm,
			 const struct sfs_forest_roots *roots)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_xattr_totl_val tv;
	struct scoutfs_key key;
	int64_t total, count;
	int ret;

	for (unsigned int k = 0; k < NR_TOTALS; k++) {
		key = totl_key_of(k);
		totl_sum(tm, k, &total, &count);
		ret = sfs_forest_lookup(&f->fs, roots, &key, r);
		if (count == 0) {
			if (ret != -ENOENT)
				fail_msg("total %u: expected none, lookup returned %d", k, ret);
			continue;
		}
		if (ret)
			fail_msg("total %u: expected %lld, %lld, lookup returned %d", k,
				 (long long)total, (long long)count, ret);
		assert_int_equal(r->val_len, sizeof(tv));
		memcpy(&tv, r->val, sizeof(tv));
		if ((int64_t)le64toh(tv.total) != total || (int64_t)le64toh(tv.count) != count)
			fail_msg("total %u: read %lld, %lld, expected %lld, %lld", k,
				 (long long)(int64_t)le64toh(tv.total),
				 (long long)(int64_t)le64toh(tv.count), (long long)total,
				 (long long)count);
	}
	free(r);
}

/* fs_root on disk holds exactly the model's non-zero totals */
static void check_fs_totals(struct fixture *f, const struct totl_model *tm)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	struct scoutfs_xattr_totl_val tv;
	struct scoutfs_key key;
	unsigned int live = 0, seen = 0;
	int64_t total, count;

	read_super(f, &super);
	for (unsigned int k = 0; k < NR_TOTALS; k++) {
		totl_sum(tm, k, &total, &count);
		key = totl_key_of(k);
		if (count == 0) {
			assert_int_equal(sfs_btree_lookup(&f->fs, &super.fs_root, &key, r),
					 -ENOENT);
			continue;
		}
		live++;
		assert_int_equal(sfs_btree_lookup(&f->fs, &super.fs_root, &key, r), 0);
		memcpy(&tv, r->val, sizeof(tv));
		assert_int_equal((int64_t)le64toh(tv.total), total);
		assert_int_equal((int64_t)le64toh(tv.count), count);
	}
	key = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 0, 0, 0, 0, 0);
	while (sfs_btree_next(&f->fs, &super.fs_root, &key, r) == 0 &&
	       r->key.sk_zone == SCOUTFS_XATTR_TOTL_ZONE) {
		seen++;
		key = r->key;
		sfs_key_inc(&key);
	}
	assert_int_equal(seen, live);
	free(r);
}

/*
 * Totals from deltas in several mounts' log trees, each tree holding the
 * sum of several transactions per key, sum right through fs_root and the
 * trees: while every tree is active, once they are finalized and a merge
 * has started, with fs_root merged but the inputs still in logs_root,
 * and after the merge; then again with new deltas over merged totals,
 * some taking totals back to nothing, which the merge deletes.
 */
static void test_merge_deltas(void **state)
{
	struct fixture *f = *state;
	struct totl_model *tm = calloc(1, sizeof(*tm));
	struct scoutfs_log_merge_request req;
	struct scoutfs_log_merge_complete comp;
	struct sfs_forest_roots roots;
	uint64_t rids[3] = { 0x1111, 0x2222, 0x3333 };
	uint64_t empty = 0;
	unsigned int k;

	start_server(f);
	for (int round = 0; round < 4; round++)
		for (int c = 0; c < 3; c++)
			delta_transaction(f, tm, rids[c], 20, 0);
	super_roots(f, &roots);
	assert_int_equal(roots.merge_seq, 0);
	check_totals(f, tm, &roots);

	/* finalized, a merge started: every tree is an input */
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	super_roots(f, &roots);
	assert_int_not_equal(roots.merge_seq, 0);
	check_totals(f, tm, &roots);

	/* the merge's result read as fs_root while the inputs are still there */
	use_client(f, 0x1111);
	assert_int_equal(sfs_client_get_log_merge(&f->fs, &req), 0);
	assert_int_equal(sfs_merge_request(&f->fs, &req, &comp), 0);
	roots.fs_root = comp.root;
	check_totals(f, tm, &roots);
	assert_int_equal(sfs_client_commit_log_merge(&f->fs, &comp), 0);
	merge_all(f, 0x1111);
	super_roots(f, &roots);
	assert_int_equal(roots.merge_seq, 0);
	check_totals(f, tm, &roots);
	check_fs_totals(f, tm);
	wait_log_merge_empty(f);
	check_volume(f);

	/* new deltas over merged totals; some merged totals go to nothing */
	for (k = 0; k < NR_TOTALS && __builtin_popcountll(empty) < 6; k++)
		if (tm->nr[k])
			empty |= 1ULL << k;
	assert_int_equal(__builtin_popcountll(empty), 6);
	for (int round = 0; round < 3; round++)
		for (int c = 0; c < 3; c++)
			delta_transaction(f, tm, rids[c], 15, round == 1 && c == 2 ? empty : 0);
	super_roots(f, &roots);
	check_totals(f, tm, &roots);
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	super_roots(f, &roots);
	check_totals(f, tm, &roots);
	merge_all(f, 0x2222);
	super_roots(f, &roots);
	check_totals(f, tm, &roots);
	check_fs_totals(f, tm);
	wait_log_merge_empty(f);
	check_volume(f);

	/* the last xattrs of every total go: fs_root keeps no total */
	for (int c = 0; c < 3; c++)
		delta_transaction(f, tm, rids[c], 0, c == 0 ? ~0ULL >> (64 - NR_TOTALS) : 0);
	super_roots(f, &roots);
	check_totals(f, tm, &roots);
	assert_int_equal(sfs_server_request_merge(&f->fs), 0);
	merge_all(f, 0x3333);
	check_fs_totals(f, tm);
	assert_true(sfs_counter(&f->fs, log_merge_deletions) > 0);
	wait_log_merge_empty(f);
	check_volume(f);
	free(tm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_merge_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_thresholds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discontinuity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_farewell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_dead_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_tree_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_tree_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_remain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_restart_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeing_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_deltas, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
