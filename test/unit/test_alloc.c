// SPDX-License-Identifier: GPL-2.0
/*
 * Allocators on a volume made by scoutfs-mkfs.
 *
 * A "server" (its own avail/freed lists, the super's meta_alloc and
 * data_alloc trees) serves a "client" transaction (avail/freed lists, a
 * btree of items, data_avail/data_freed extent trees) the way the
 * reference does: the client allocates and frees within a transaction,
 * commits, and the server then returns the client's freed blocks and its
 * own previous commit's freed blocks to the trees and refills the
 * client's lists.  After every server commit the whole volume is audited:
 * every metadata block is exactly once free (extent or avail entry),
 * on a freed list, a list block, or a block of a reachable tree; every
 * data block is exactly once free or in use by the model.
 *
 * The reserve: once the server's free metadata falls to its reserve it
 * marks the client's avail list LOW and growth gets -ENOSPC, while
 * deletions go on (using the reserve) and, once committed, give the space
 * back so growth works again.
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
#include <sys/wait.h>
#include <cmocka.h>

#include "testkeys.h"

#include "alloc.h"
#include "btree.h"
#include "log.h"
#include "super.h"
#include "volume.h"

#define CLIENT_META_TARGET 600
#define CLIENT_DATA_TARGET 16384
#define SERVER_META_TARGET 300
#define MAX_EXTENTS 100000

struct extent {
	uint64_t start, len;
};

struct vol {
	struct test_volume tv;
	struct sfs_fs fs;
	struct scoutfs_super_block super;

	/* server */
	struct sfs_alloc_lists srv;
	struct scoutfs_alloc_list_head srv_prev_freed;
	struct scoutfs_alloc_list_head srv_spare;	/* filled while avail is used */
	uint64_t reserve;

	/* client */
	struct sfs_alloc_lists cli;
	struct scoutfs_btree_root tree;
	struct scoutfs_alloc_root data_avail;
	struct scoutfs_alloc_root data_freed;
	struct extent *used;	/* data extents the client "wrote" */
	size_t nr_used;
	uint8_t *present;	/* model of the client tree's item ids */
	uint32_t nr_ids;
	uint32_t cursor;	/* next id for in-order deletes */

	/* audit */
	uint8_t *meta_seen;
	uint8_t *data_seen;
	const char *what;
};

static uint64_t rng = 0x1234567;

static uint64_t rnd(void)
{
	return test_xorshift(&rng);
}

/* volumes a failed test could not destroy, for the group teardown */
static struct vol *live_vols[4];

static struct vol *vol_create(const char *meta_size, const char *data_size, uint32_t nr_ids)
{
	struct sfs_block_opts opts = { 0 };
	struct vol *v = calloc(1, sizeof(*v));

	if (test_volume_make(&v->tv, "alloc", meta_size, data_size))
		fail_msg("cannot make a test volume");

	sfs_fs_log_init(&v->fs, "test");
	opts.meta_path = v->tv.meta;
	opts.data_path = v->tv.data;
	assert_int_equal(sfs_block_setup(&v->fs, &opts), 0);
	assert_int_equal(sfs_super_read(&v->fs, &v->super), 0);

	sfs_alloc_lists_init(&v->srv, &v->super.server_meta_avail[0],
			     &v->super.server_meta_freed[0]);
	memset(&v->super.server_meta_avail[0], 0, sizeof(v->super.server_meta_avail[0]));
	memset(&v->super.server_meta_freed[0], 0, sizeof(v->super.server_meta_freed[0]));
	sfs_alloc_lists_init(&v->cli, &v->super.server_meta_avail[1],
			     &v->super.server_meta_freed[1]);
	v->used = calloc(MAX_EXTENTS, sizeof(*v->used));
	v->nr_ids = nr_ids;
	v->present = calloc(nr_ids, 1);
	v->meta_seen = calloc(le64toh(v->super.total_meta_blocks), 1);
	v->data_seen = calloc(le64toh(v->super.total_data_blocks), 1);
	for (unsigned int i = 0; i < 4; i++) {
		if (!live_vols[i]) {
			live_vols[i] = v;
			break;
		}
	}
	return v;
}

static void vol_destroy(struct vol *v)
{
	for (unsigned int i = 0; i < 4; i++)
		if (live_vols[i] == v)
			live_vols[i] = NULL;
	sfs_block_destroy(&v->fs);
	test_volume_remove(&v->tv);
	free(v->used);
	free(v->present);
	free(v->meta_seen);
	free(v->data_seen);
	free(v);
}

/* ---- the audit ---- */

static void see_meta(struct vol *v, uint64_t blkno)
{
	if (blkno < SCOUTFS_META_DEV_START_BLKNO || blkno >= le64toh(v->super.total_meta_blocks))
		fail_msg("%s: metadata blkno %llu out of range", v->what, (unsigned long long)blkno);
	if (v->meta_seen[blkno]++)
		fail_msg("%s: metadata block %llu accounted twice", v->what,
			 (unsigned long long)blkno);
}

static void see_data(struct vol *v, uint64_t start, uint64_t len)
{
	for (uint64_t b = start; b < start + len; b++) {
		if (b < SCOUTFS_DATA_DEV_START_BLKNO || b >= le64toh(v->super.total_data_blocks))
			fail_msg("%s: data blkno %llu out of range", v->what, (unsigned long long)b);
		if (v->data_seen[b]++)
			fail_msg("%s: data block %llu accounted twice", v->what,
				 (unsigned long long)b);
	}
}

static void list_cb(void *arg, uint64_t blkno, bool list_block)
{
	(void)list_block;
	see_meta(arg, blkno);
}

static void meta_extent_cb(void *arg, uint64_t start, uint64_t len)
{
	for (uint64_t b = start; b < start + len; b++)
		see_meta(arg, b);
}

static void data_extent_cb(void *arg, uint64_t start, uint64_t len)
{
	see_data(arg, start, len);
}

static void tree_cb(void *arg, uint64_t blkno)
{
	see_meta(arg, blkno);
}

static void audit_tree(struct vol *v, const struct scoutfs_btree_root *root, const char *what)
{
	char why[256];

	v->what = what;
	if (sfs_btree_check_tree(&v->fs, root, tree_cb, v, NULL, NULL, why, sizeof(why)))
		fail_msg("%s: %s", what, why);
}

static void audit_list(struct vol *v, const struct scoutfs_alloc_list_head *head,
		       const char *what)
{
	v->what = what;
	if (sfs_alloc_walk_list(&v->fs, head, list_cb, v))
		fail_msg("%s: list walk failed", what);
}

static void audit(struct vol *v)
{
	uint64_t total_meta = le64toh(v->super.total_meta_blocks);
	uint64_t total_data = le64toh(v->super.total_data_blocks);
	uint64_t b;
	size_t i;

	memset(v->meta_seen, 0, total_meta);
	memset(v->data_seen, 0, total_data);

	audit_tree(v, &v->super.fs_root, "fs_root");
	audit_tree(v, &v->tree, "client tree");
	audit_tree(v, &v->super.meta_alloc[0].root, "meta_alloc[0] tree");
	audit_tree(v, &v->super.meta_alloc[1].root, "meta_alloc[1] tree");
	audit_tree(v, &v->super.data_alloc.root, "data_alloc tree");
	audit_tree(v, &v->data_avail.root, "data_avail tree");
	audit_tree(v, &v->data_freed.root, "data_freed tree");
	audit_list(v, &v->srv.avail, "server avail");
	audit_list(v, &v->srv.freed, "server freed");
	audit_list(v, &v->srv_prev_freed, "server previous freed");
	audit_list(v, &v->srv_spare, "server spare");
	audit_list(v, &v->cli.avail, "client avail");
	audit_list(v, &v->cli.freed, "client freed");

	v->what = "meta_alloc extents";
	assert_int_equal(sfs_alloc_walk_extents(&v->fs, &v->super.meta_alloc[0], meta_extent_cb, v), 0);
	assert_int_equal(sfs_alloc_walk_extents(&v->fs, &v->super.meta_alloc[1], meta_extent_cb, v), 0);

	v->what = "data extents";
	assert_int_equal(sfs_alloc_walk_extents(&v->fs, &v->super.data_alloc, data_extent_cb, v), 0);
	assert_int_equal(sfs_alloc_walk_extents(&v->fs, &v->data_avail, data_extent_cb, v), 0);
	assert_int_equal(sfs_alloc_walk_extents(&v->fs, &v->data_freed, data_extent_cb, v), 0);
	for (i = 0; i < v->nr_used; i++)
		see_data(v, v->used[i].start, v->used[i].len);

	for (b = SCOUTFS_META_DEV_START_BLKNO; b < total_meta; b++)
		if (v->meta_seen[b] != 1)
			fail_msg("metadata block %llu accounted %u times",
				 (unsigned long long)b, v->meta_seen[b]);
	for (b = SCOUTFS_DATA_DEV_START_BLKNO; b < total_data; b++)
		if (v->data_seen[b] != 1)
			fail_msg("data block %llu accounted %u times", (unsigned long long)b,
				 v->data_seen[b]);
}

/* ---- server and client ---- */

static uint64_t server_free_meta(struct vol *v)
{
	return le64toh(v->super.meta_alloc[0].total_len) + le64toh(v->super.meta_alloc[1].total_len);
}

/* the meta tree to allocate from: the larger one */
static struct scoutfs_alloc_root *meta_source(struct vol *v)
{
	return le64toh(v->super.meta_alloc[0].total_len) >=
			       le64toh(v->super.meta_alloc[1].total_len) ?
		       &v->super.meta_alloc[0] :
		       &v->super.meta_alloc[1];
}

static int fill(struct vol *v, struct sfs_block_writer *wri, struct scoutfs_alloc_list_head *head,
		uint64_t target)
{
	int ret = 0;

	while (!ret && le64toh(head->total_nr) < target && server_free_meta(v))
		ret = sfs_alloc_fill_list(&v->fs, &v->srv.alloc, wri, head, meta_source(v),
					  le64toh(head->total_nr) +
						  (target - le64toh(head->total_nr) <
								   le64toh(meta_source(v)->total_len) ?
							   target - le64toh(head->total_nr) :
							   le64toh(meta_source(v)->total_len)));
	return ret;
}

/*
 * A server commit after the client's transaction is durable: freed
 * blocks go back, lists and data pools are refilled, and its own blocks
 * are written.  Blocks the server frees now go back at its next commit.
 */
static void server_commit(struct vol *v)
{
	struct sfs_block_writer wri;
	uint64_t need;

	sfs_block_writer_init(&wri);

	/* double-buffered: swap in the spare when avail runs low, refill the other */
	if (le64toh(v->srv.avail.total_nr) < SERVER_META_TARGET / 2 &&
	    le64toh(v->srv_spare.total_nr) > le64toh(v->srv.avail.total_nr)) {
		struct scoutfs_alloc_list_head tmp = v->srv.avail;

		v->srv.avail = v->srv_spare;
		v->srv_spare = tmp;
	}
	assert_int_equal(fill(v, &wri, &v->srv_spare, SERVER_META_TARGET), 0);
	assert_int_equal(sfs_alloc_fill_list(&v->fs, &v->srv.alloc, &wri, &v->srv.avail,
					     meta_source(v), 1), -EINVAL);

	assert_int_equal(sfs_alloc_empty_list(&v->fs, &v->srv.alloc, &wri, &v->super.meta_alloc[0],
					      &v->cli.freed), 0);
	assert_int_equal(sfs_alloc_empty_list(&v->fs, &v->srv.alloc, &wri, &v->super.meta_alloc[1],
					      &v->srv_prev_freed), 0);
	assert_int_equal(fill(v, &wri, &v->cli.avail, CLIENT_META_TARGET), 0);
	v->cli.avail.flags = server_free_meta(v) <= v->reserve ?
				     htole32(SCOUTFS_ALLOC_FLAG_LOW) : 0;

	assert_int_equal(sfs_alloc_move(&v->fs, &v->srv.alloc, &wri, &v->super.data_alloc,
					 &v->data_freed, le64toh(v->data_freed.total_len)), 0);
	need = le64toh(v->data_avail.total_len) < CLIENT_DATA_TARGET ?
		       CLIENT_DATA_TARGET - le64toh(v->data_avail.total_len) : 0;
	if (need > le64toh(v->super.data_alloc.total_len))
		need = le64toh(v->super.data_alloc.total_len);
	assert_int_equal(sfs_alloc_move(&v->fs, &v->srv.alloc, &wri, &v->data_avail,
					&v->super.data_alloc, need), 0);

	assert_int_equal(sfs_block_writer_write(&v->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&v->fs, SFS_DEV_META), 0);

	/* durable: this commit's frees may go back at the next one */
	assert_int_equal(v->srv_prev_freed.ref.blkno, 0);
	v->srv_prev_freed = v->srv.freed;
	memset(&v->srv.freed, 0, sizeof(v->srv.freed));
}

static struct scoutfs_key id_key(uint32_t id)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, id / 16, SCOUTFS_XATTR_TYPE, id % 16, 0, 0);
}

static uint64_t count_items(struct vol *v)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < v->nr_ids; i++)
		n += v->present[i];
	return n;
}

/*
 * A client transaction of random item and data work; returns growth
 * refusals.  insert_pct < 0: delete present ids in key order.
 */
static unsigned int client_trans(struct vol *v, unsigned int ops, int insert_pct,
				 bool check_growth)
{
	struct sfs_block_writer wri;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	unsigned int i, refused = 0;
	struct scoutfs_key key;
	uint64_t start, len;
	uint32_t id;
	size_t e;
	int ret;

	sfs_block_writer_init(&wri);
	memset(val, 0xa5, sizeof(val));
	for (i = 0; i < ops; i++) {
		id = (uint32_t)(rnd() % v->nr_ids);
		if (insert_pct < 0) {
			while (v->cursor < v->nr_ids && !v->present[v->cursor])
				v->cursor++;
			if (v->cursor == v->nr_ids)
				break;
			id = v->cursor;
		}
		key = id_key(id);
		if ((int)(rnd() % 100) < insert_pct) {
			if (check_growth && sfs_alloc_lists_check_growth(&v->cli, 20)) {
				refused++;
				continue;
			}
			ret = sfs_btree_force(&v->fs, &v->cli.alloc, &wri, &v->tree, &key, 1, 0, val,
					      (unsigned int)(rnd() % sizeof(val)));
			assert_int_equal(ret, 0);
			v->present[id] = 1;
		} else {
			ret = sfs_btree_delete(&v->fs, &v->cli.alloc, &wri, &v->tree, &key);
			assert_int_equal(ret, v->present[id] ? 0 : -ENOENT);
			v->present[id] = 0;
		}

		/* data: allocate an extent into use, or free one */
		if (rnd() % 4 == 0 && v->nr_used < MAX_EXTENTS &&
		    le64toh(v->data_avail.total_len) > 0) {
			ret = sfs_alloc_alloc_extent(&v->fs, &v->cli.alloc, &wri, &v->data_avail,
						     1 + rnd() % 64, &start, &len);
			assert_int_equal(ret, 0);
			v->used[v->nr_used].start = start;
			v->used[v->nr_used++].len = len;
		} else if (rnd() % 10 == 0 && v->nr_used) {
			e = (size_t)(rnd() % v->nr_used);
			ret = sfs_alloc_insert_extent(&v->fs, &v->cli.alloc, &wri, &v->data_freed,
						      v->used[e].start, v->used[e].len);
			assert_int_equal(ret, 0);
			v->used[e] = v->used[--v->nr_used];
		}
	}
	assert_int_equal(sfs_block_writer_write(&v->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&v->fs, SFS_DEV_META), 0);
	return refused;
}

/* ---- tests ---- */

static void test_invariants(void **state)
{
	struct vol *v = vol_create("256M", "1G", 40000);
	unsigned int t;
	(void)state;

	server_commit(v);	/* hand the client its first lists and data */
	audit(v);
	for (t = 0; t < 60; t++) {
		client_trans(v, 1500, t % 20 < 12 ? 75 : 25, false);
		server_commit(v);
		audit(v);
	}
	print_message("  client tree items %llu, data extents in use %zu, free meta %llu\n",
		      (unsigned long long)count_items(v), v->nr_used,
		      (unsigned long long)server_free_meta(v));
	assert_true(v->nr_used > 0);
	assert_true(count_items(v) > 0);
	vol_destroy(v);
}

/* small lists: list blocks empty and advance often */
static void test_small_list_blocks(void **state)
{
	struct vol *v = vol_create("128M", "256M", 4000);
	struct sfs_block_writer wri;
	unsigned int t;
	(void)state;

	for (t = 0; t < 40; t++) {
		sfs_block_writer_init(&wri);
		/* many tiny list blocks: each fill adds a new first block */
		for (int i = 0; i < 8; i++)
			assert_int_equal(fill(v, &wri, &v->cli.avail,
					      le64toh(v->cli.avail.total_nr) + 3), 0);
		assert_int_equal(sfs_block_writer_write(&v->fs, &wri), 0);
		sfs_block_writer_destroy(&wri);
		client_trans(v, 40, 70, false);
		server_commit(v);
		audit(v);
	}
	vol_destroy(v);
}

static void test_reserve(void **state)
{
	struct vol *v = vol_create("160M", "128M", 400000);
	unsigned int refused = 0, t;
	uint64_t before, after;
	(void)state;

	v->reserve = 400;
	server_commit(v);

	/* grow until the server's free metadata reaches the reserve */
	for (t = 0; t < 2000 && !refused; t++) {
		refused = client_trans(v, 200, 100, true);
		server_commit(v);
		if (refused || t % 25 == 0)
			audit(v);
	}
	assert_true(refused > 0);
	assert_true(le32toh(v->cli.avail.flags) & SCOUTFS_ALLOC_FLAG_LOW);
	assert_int_equal(sfs_alloc_lists_check_growth(&v->cli, 1), -ENOSPC);
	before = count_items(v);
	print_message("  growth refused after %u transactions with %llu items, free meta %llu\n",
		      t, (unsigned long long)before, (unsigned long long)server_free_meta(v));

	/* deletions still work inside the reserve, and give space back */
	for (t = 0; t < 200 && (le32toh(v->cli.avail.flags) & SCOUTFS_ALLOC_FLAG_LOW); t++) {
		client_trans(v, 200, -1, true);
		server_commit(v);
		audit(v);
	}
	after = count_items(v);
	assert_true(after < before);
	assert_false(le32toh(v->cli.avail.flags) & SCOUTFS_ALLOC_FLAG_LOW);
	assert_int_equal(sfs_alloc_lists_check_growth(&v->cli, 20), 0);
	assert_int_equal(client_trans(v, 200, 100, true), 0);
	server_commit(v);
	audit(v);
	vol_destroy(v);
}

static void test_extent_errors(void **state)
{
	struct vol *v = vol_create("128M", "256M", 10);
	struct sfs_block_writer wri;
	uint64_t start, len;
	(void)state;

	server_commit(v);
	sfs_block_writer_init(&wri);
	/* freeing what is already free is refused, nothing changes */
	assert_int_equal(sfs_alloc_insert_extent(&v->fs, &v->cli.alloc, &wri, &v->super.data_alloc,
						 le64toh(v->super.total_data_blocks) - 20, 10),
			 -EIO);
	/* removing what is not free is refused */
	assert_int_equal(sfs_alloc_alloc_extent(&v->fs, &v->cli.alloc, &wri, &v->data_avail, 8,
						&start, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(sfs_alloc_remove_extent(&v->fs, &v->cli.alloc, &wri, &v->data_avail, start,
						 1), -EIO);
	/* giving it back merges with its neighbour again */
	assert_int_equal(sfs_alloc_insert_extent(&v->fs, &v->cli.alloc, &wri, &v->data_avail, start,
						 len), 0);
	assert_int_equal(sfs_block_writer_write(&v->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	server_commit(v);
	audit(v);
	vol_destroy(v);
}

static void collect_list_blocks(void *arg, uint64_t blkno, bool list_block)
{
	uint64_t *v = arg;

	if (list_block)
		v[++v[0]] = blkno;
}

static void find_in_list(void *arg, uint64_t blkno, bool list_block)
{
	uint64_t *want = arg;

	if (!list_block && blkno == want[0])
		want[1] = 1;
}

/*
 * Emptying a list returns its entries to the tree, but its own list
 * blocks stay referenced by the durable state until the transaction
 * commits: they go on the transaction's freed list and are never handed
 * out again in the same transaction.
 */
static void test_empty_list_blocks_not_reused(void **state)
{
	struct vol *v = vol_create("128M", "256M", 10);
	struct scoutfs_alloc_list_head victim = { 0 };
	struct sfs_block_writer wri;
	uint64_t blocks[64] = { 0 };
	uint64_t blkno, want[2];
	(void)state;

	server_commit(v);
	/* a chain of small list blocks, made durable */
	sfs_block_writer_init(&wri);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fill(v, &wri, &victim, le64toh(victim.total_nr) + 5), 0);
	assert_int_equal(sfs_block_writer_write(&v->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_alloc_walk_list(&v->fs, &victim, collect_list_blocks, blocks), 0);
	assert_int_equal(blocks[0], 6);

	/* the next transaction empties it, then allocates a lot */
	sfs_block_writer_init(&wri);
	assert_int_equal(sfs_alloc_empty_list(&v->fs, &v->srv.alloc, &wri, &v->super.meta_alloc[0],
					      &victim),
			 0);
	for (uint64_t i = 1; i <= blocks[0]; i++) {
		want[0] = blocks[i];
		want[1] = 0;
		assert_int_equal(sfs_alloc_walk_list(&v->fs, &v->srv.freed, find_in_list, want), 0);
		if (!want[1])
			fail_msg("list block %llu is not on the freed list", (unsigned long long)blocks[i]);
	}
	for (int n = 0; n < 200; n++) {
		assert_int_equal(sfs_alloc_meta(&v->fs, &v->srv.alloc, &wri, &blkno), 0);
		for (uint64_t i = 1; i <= blocks[0]; i++)
			if (blkno == blocks[i])
				fail_msg("former list block %llu handed out in the same transaction",
					 (unsigned long long)blkno);
		assert_int_equal(sfs_free_meta(&v->fs, &v->srv.alloc, &wri, blkno), 0);
	}
	sfs_block_writer_forget(&v->fs, &wri);
	sfs_block_writer_destroy(&wri);
	vol_destroy(v);
}

/* runs after every test, failed ones too */
static int destroy_leftovers(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < 4; i++)
		if (live_vols[i])
			vol_destroy(live_vols[i]);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extent_errors),
		cmocka_unit_test(test_empty_list_blocks_not_reused),
		cmocka_unit_test(test_small_list_blocks),
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, destroy_leftovers);
}
