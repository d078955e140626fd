// SPDX-License-Identifier: GPL-2.0
/*
 * The server and a client over a real TCP connection on loopback, on a
 * volume made by scoutfs-mkfs: greeting, inode numbers, a client
 * transaction written into its log tree and committed through
 * GET_LOG_TREES / COMMIT_LOG_TREES, reads through the server's stable
 * roots, resent requests recognised, a server restarted from disk, statfs
 * and farewell; srch compaction (SRCH_GET_COMPACT / SRCH_COMMIT_COMPACT)
 * of mounts' log files into sorted files and of sorted files into larger
 * ones, in steps, with a dead mount's job handed to another; a srch
 * log file's rotation into srch_root is one commit, even when it fails
 * half done (srch_log_rotate_fail); seqs handed out stay above the
 * item seqs mounts commit (from write_seqs of earlier servers).  Data
 * space: mounts get fair shares of a small volume, one that runs short
 * gets space back from another (SYNC_LOG_TREES, then the other's next
 * transaction gives back its excess), LOW only once nothing is left to
 * get back; data allocation zones keep mounts apart; volume options are
 * validated.  The open-inode map waits for mounts recorded before the
 * server started until they greet or are reclaimed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "alloc.h"
#include "btree.h"
#include "check.h"
#include "client.h"
#include "counters.h"
#include "fence.h"
#include "forest.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "srch.h"
#include "super.h"
#include "trigger.h"
#include "volume.h"

struct fixture {
	struct test_volume tv;
	struct sfs_fs fs;
	struct sfs_counters counters;
	struct scoutfs_super_block super;
	struct sockaddr_storage bound;
};

static void start_server(struct fixture *f)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sfs_server_opts opts = { .addr = (struct sockaddr *)&sin, .addr_len = sizeof(sin),
					.term = 1, .client_data_target = 8192 };

	assert_int_equal(sfs_server_start(&f->fs, &opts, &f->bound), 0);
}

static void start_client_fs(struct fixture *f, struct sfs_fs *fs, uint64_t rid)
{
	struct sfs_client_opts opts = { .addr = (struct sockaddr *)&f->bound,
					.addr_len = sizeof(struct sockaddr_in), .rid = rid,
					.uuid = f->super.uuid,
					.fmt_vers = le64toh(f->super.fmt_vers), .timeout_ms = 10000 };

	assert_int_equal(sfs_client_setup(fs, &opts), 0);
}

static void start_client(struct fixture *f, uint64_t rid)
{
	start_client_fs(f, &f->fs, rid);
}

/*
 * Another mount's client in the same process: an fs sharing the
 * fixture's block layer (its commits write through it), with a client
 * of its own.  Only its client is ever torn down (other_client_put).
 */
static struct sfs_fs *other_client(struct fixture *f, uint64_t rid)
{
	struct sfs_fs *fs = malloc(sizeof(*fs));

	assert_non_null(fs);
	*fs = f->fs;
	fs->client = NULL;
	fs->server = NULL;
	start_client_fs(f, fs, rid);
	return fs;
}

static void other_client_put(struct sfs_fs *fs)
{
	sfs_client_destroy(fs);
	free(fs);
}

static int setup(void **state)
{
	struct sfs_block_opts bopts = { 0 };
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (test_volume_make(&f->tv, "server", "512M", "1G")) {
		free(f);
		return -1;
	}

	sfs_fs_log_init(&f->fs, "test");
	f->fs.counters = &f->counters;
	bopts.meta_path = f->tv.meta;
	bopts.data_path = f->tv.data;
	assert_int_equal(sfs_block_setup(&f->fs, &bopts), 0);
	assert_int_equal(sfs_super_read(&f->fs, &f->super), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sfs_client_destroy(&f->fs);
	sfs_server_stop(&f->fs);
	sfs_block_destroy(&f->fs);
	test_volume_remove(&f->tv);
	free(f);
	return 0;
}

static struct scoutfs_key item_key(uint64_t ino, uint64_t n)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_XATTR_TYPE, n, 0, 0);
}

/* write n items into the client's log tree the way a transaction commit does, before its request */
static void client_write(struct fixture *f, struct scoutfs_log_trees *lt, uint64_t ino,
			 unsigned int n, uint8_t fill)
{
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	struct scoutfs_key key, lock;
	uint8_t val[100];

	memset(val, fill, sizeof(val));
	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt->meta_avail, &lt->meta_freed);
	for (unsigned int i = 0; i < n; i++) {
		key = item_key(ino, i);
		assert_int_equal(sfs_btree_force(&f->fs, &lists.alloc, &wri, &lt->item_root, &key,
						 le64toh(lt->get_trans_seq), 0, val, sizeof(val)),
				 0);
	}
	lock = sfs_forest_lock_start(&key);
	assert_int_equal(sfs_forest_bloom_set(&f->fs, &lists.alloc, &wri, &lt->bloom_ref, &lock), 0);
	assert_int_equal(sfs_block_writer_write(&f->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&f->fs, SFS_DEV_META), 0);
	lt->meta_avail = lists.avail;
	lt->meta_freed = lists.freed;
	lt->max_item_seq = lt->get_trans_seq;
}

static void client_commit(struct fixture *f, struct scoutfs_log_trees *lt, uint64_t ino,
			  unsigned int n, uint8_t fill)
{
	client_write(f, lt, ino, n, fill);
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, lt), 0);
}

static void check_items(struct fixture *f, uint64_t ino, unsigned int n, uint8_t fill)
{
	struct sfs_forest_roots roots;
	struct sfs_btree_item_ret r;
	struct scoutfs_key key;
	uint8_t val[100];

	memset(val, fill, sizeof(val));
	assert_int_equal(sfs_client_get_roots(&f->fs, &roots), 0);
	for (unsigned int i = 0; i < n; i++) {
		key = item_key(ino, i);
		assert_int_equal(sfs_forest_lookup(&f->fs, &roots, &key, &r), 0);
		assert_int_equal(r.val_len, sizeof(val));
		assert_memory_equal(r.val, val, sizeof(val));
	}
	key = item_key(ino, n);
	assert_int_equal(sfs_forest_lookup(&f->fs, &roots, &key, &r), -ENOENT);
}

static void test_protocol(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees lt, lt2;
	struct scoutfs_net_statfs st;
	uint64_t ino, nr, seq, commits;

	start_server(f);
	start_client(f, 0x1111);

	/* inode numbers come from next_ino, which starts at 1024 */
	assert_int_equal(sfs_client_alloc_inodes(&f->fs, 100, &ino, &nr), 0);
	assert_int_equal(ino, 1024);
	assert_int_equal(nr, 100);
	assert_int_equal(sfs_client_alloc_inodes(&f->fs, 10, &ino, &nr), 0);
	assert_int_equal(ino, 1124);

	/* a transaction: seq handed out, lists filled */
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(le64toh(lt.rid), 0x1111);
	assert_int_equal(le64toh(lt.nr), 1);
	assert_true(le64toh(lt.get_trans_seq) > le64toh(lt.commit_trans_seq));
	assert_true(le64toh(lt.meta_avail.total_nr) >= 1024);
	assert_int_equal(le64toh(lt.data_avail.total_len), 8192);
	/* asking again while it is open returns the same transaction */
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt2), 0);
	assert_memory_equal(&lt, &lt2, sizeof(lt));

	/* nothing is open below the open transaction's seq */
	assert_int_equal(sfs_client_get_last_seq(&f->fs, &seq), 0);
	assert_int_equal(seq, le64toh(lt.get_trans_seq) - 1);

	client_commit(f, &lt, 2000, 300, 0x42);
	check_items(f, 2000, 300, 0x42);

	/* a resent commit is recognised and changes nothing */
	commits = sfs_counter(&f->fs, server_commit);
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);
	assert_int_equal(sfs_counter(&f->fs, server_commit), commits);

	/* the next transaction has a greater seq; its updates win */
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt2), 0);
	assert_true(le64toh(lt2.get_trans_seq) > le64toh(lt.get_trans_seq));
	assert_int_equal(le64toh(lt2.meta_freed.total_nr), 0);
	client_commit(f, &lt2, 2000, 300, 0x43);
	check_items(f, 2000, 300, 0x43);

	/* a commit of a transaction that is not the open one is refused */
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), -EINVAL);

	/* commit and the next transaction in one: one server commit */
	{
		struct scoutfs_log_trees next, again;
		bool have_next;

		assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
		client_write(f, &lt, 2000, 300, 0x44);
		commits = sfs_counter(&f->fs, server_commit);
		assert_int_equal(sfs_client_commit_log_trees_next(&f->fs, &lt, &next, &have_next),
				 0);
		assert_true(have_next);
		assert_int_equal(sfs_counter(&f->fs, server_commit), commits + 1);
		check_items(f, 2000, 300, 0x44);
		assert_true(le64toh(next.get_trans_seq) > le64toh(lt.get_trans_seq));
		assert_true(le64toh(next.commit_trans_seq) < le64toh(next.get_trans_seq));
		/* the next is the open one: GET_LOG_TREES hands out the same */
		assert_int_equal(sfs_client_get_log_trees(&f->fs, &again), 0);
		assert_memory_equal(&next, &again, sizeof(next));
		/* a resend (a new server) is recognised: the same next, nothing more */
		commits = sfs_counter(&f->fs, server_commit);
		assert_int_equal(sfs_client_commit_log_trees_next(&f->fs, &lt, &again, &have_next),
				 0);
		assert_true(have_next);
		assert_memory_equal(&next, &again, sizeof(next));
		check_items(f, 2000, 300, 0x44);
		/* the open one commits as usual */
		client_commit(f, &next, 2000, 300, 0x45);
		check_items(f, 2000, 300, 0x45);
		assert_int_equal(sfs_counter(&f->fs, server_commit), commits + 1);
	}

	assert_int_equal(sfs_client_statfs(&f->fs, &st), 0);
	assert_memory_equal(st.uuid, f->super.uuid, 16);
	assert_int_equal(le64toh(st.total_meta_blocks), le64toh(f->super.total_meta_blocks));
	assert_true(le64toh(st.free_meta_blocks) > 0 &&
		    le64toh(st.free_meta_blocks) < le64toh(st.total_meta_blocks));
	assert_true(le64toh(st.free_data_blocks) <= le64toh(st.total_data_blocks));
	assert_int_equal(le64toh(st.inode_count), 1);

	/* a new server from disk knows everything the old one committed */
	sfs_client_destroy(&f->fs);
	sfs_server_stop(&f->fs);
	start_server(f);
	start_client(f, 0x1111);
	check_items(f, 2000, 300, 0x45);
	assert_int_equal(sfs_client_alloc_inodes(&f->fs, 1, &ino, &nr), 0);
	assert_int_equal(ino, 1134);

	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	assert_int_equal(sfs_client_farewell(&f->fs), 0); /* a resend */
}

static void test_resend_across_drop(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees lt;
	uint64_t ino, nr, last = 0;

	start_server(f);
	start_client(f, 0x2222);
	for (int i = 0; i < 200; i++) {
		if (i % 20 == 10)
			sfs_net_test_drop_conn(sfs_client_net(&f->fs));
		assert_int_equal(sfs_client_alloc_inodes(&f->fs, 3, &ino, &nr), 0);
		if (last)
			assert_int_equal(ino, last + 3); /* each request ran exactly once */
		last = ino;
	}
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	sfs_net_test_drop_conn(sfs_client_net(&f->fs));
	client_commit(f, &lt, 3000, 50, 0x11);
	check_items(f, 3000, 50, 0x11);
}

static void test_bad_greeting(void **state)
{
	struct fixture *f = *state;
	struct sfs_client_opts opts = { .addr_len = sizeof(struct sockaddr_in), .rid = 0x3333,
					.uuid = f->super.uuid, .timeout_ms = 5000 };
	uint64_t fsid = f->fs.fsid;

	start_server(f);
	opts.addr = (struct sockaddr *)&f->bound;
	/* a wrong format version is refused */
	opts.fmt_vers = le64toh(f->super.fmt_vers) + 1;
	assert_int_not_equal(sfs_client_setup(&f->fs, &opts), 0);
	/* and a wrong fsid */
	opts.fmt_vers = le64toh(f->super.fmt_vers);
	f->fs.fsid = fsid + 1;
	assert_int_not_equal(sfs_client_setup(&f->fs, &opts), 0);
	f->fs.fsid = fsid;
	assert_int_equal(sfs_client_setup(&f->fs, &opts), 0);
}

/* ------------------------------------------------------------------ */
/* srch compaction                                                      */
/* ------------------------------------------------------------------ */

#define SRCH_NAMES 4
#define SRCH_PER_MOUNT 3000

struct srch_model {
	struct scoutfs_srch_entry *v;
	size_t nr, cap;
};

static const char *srch_name(int n)
{
	static const char *const names[SRCH_NAMES] = { "scoutfs.srch.a", "scoutfs.srch.b",
						       "scoutfs.hide.srch.c", "scoutfs.srch.dd" };
	return names[n];
}

static void model_add(struct srch_model *m, struct scoutfs_srch_entry e)
{
	if (m->nr == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 4096;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		assert_non_null(m->v);
	}
	m->v[m->nr++] = e;
}

static struct scoutfs_srch_entry mount_entry(int k, uint64_t j)
{
	const char *name = srch_name((int)(j % SRCH_NAMES));

	return sfs_srch_entry(name, strlen(name), 100000 + (uint64_t)k * 5000 + j, j);
}

/* a transaction of the client's that logs n srch entries, committed */
static void srch_commit(struct fixture *f, struct scoutfs_log_trees *lt,
			const struct scoutfs_srch_entry *ents, size_t n)
{
	struct sfs_alloc_lists lists;
	struct sfs_block_writer wri;

	assert_int_equal(sfs_client_get_log_trees(&f->fs, lt), 0);
	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt->meta_avail, &lt->meta_freed);
	assert_int_equal(sfs_srch_append(&f->fs, &lists.alloc, &wri, &lt->srch_file, ents, n), 0);
	assert_int_equal(sfs_block_writer_write(&f->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&f->fs, SFS_DEV_META), 0);
	lt->meta_avail = lists.avail;
	lt->meta_freed = lists.freed;
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, lt), 0);
}

/*
 * Mount k (its own rid) logs its entries in one committed transaction
 * and leaves: the farewell rotates its log file into srch_root.  It
 * also logs again (removes) 200 of mount k - 1's entries, and one
 * entry twice in its own file.
 */
static void srch_mount(struct fixture *f, int k, struct srch_model *m)
{
	struct scoutfs_srch_entry *ents = calloc(SRCH_PER_MOUNT + 202, sizeof(*ents));
	struct scoutfs_log_trees lt;
	size_t n = 0;
	uint64_t j;

	assert_non_null(ents);
	for (j = 0; j < SRCH_PER_MOUNT; j++)
		ents[n++] = mount_entry(k, j);
	for (j = 0; k > 0 && j < 200; j++)
		ents[n++] = mount_entry(k - 1, j);
	ents[n++] = mount_entry(k, 500);
	for (j = 0; j < n; j++)
		model_add(m, ents[j]);

	start_client(f, 0x100 + (uint64_t)k);
	srch_commit(f, &lt, ents, n);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	sfs_client_destroy(&f->fs);
	free(ents);
}

static int entry_cmp(const void *a, const void *b)
{
	return sfs_srch_entry_cmp(a, b);
}

/* every name: search returns the inodes with an odd number of its entries */
static void check_srch(struct fixture *f, struct srch_model *m)
{
	size_t max = 200000, nr, want, i, j;
	uint64_t *inos = calloc(max, sizeof(*inos)), *exp = calloc(max, sizeof(*exp));
	uint64_t hash;
	bool end;
	int n;

	assert_non_null(inos);
	assert_non_null(exp);
	qsort(m->v, m->nr, sizeof(m->v[0]), entry_cmp);
	for (n = 0; n < SRCH_NAMES; n++) {
		hash = sfs_fnv1a64(srch_name(n), strlen(srch_name(n)));
		want = 0;
		for (i = 0; i < m->nr; i = j) {
			for (j = i + 1; j < m->nr && !entry_cmp(&m->v[i], &m->v[j]); j++)
				;
			if (le64toh(m->v[i].hash) == hash && (j - i) % 2 &&
			    (!want || exp[want - 1] != le64toh(m->v[i].ino)))
				exp[want++] = le64toh(m->v[i].ino);
		}
		assert_int_equal(sfs_srch_search(&f->fs, srch_name(n), strlen(srch_name(n)), 0,
						 UINT64_MAX, inos, max, &nr, &end), 0);
		assert_true(end);
		assert_int_equal(nr, want);
		assert_memory_equal(inos, exp, nr * sizeof(*inos));
	}
	free(inos);
	free(exp);
}

/* the number of srch_root items of each type (index type / 4) */
static void count_srch_items(struct fixture *f, unsigned int counts[5])
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	struct scoutfs_key key = sfs_key_make(SCOUTFS_SRCH_ZONE, 0, 0, 0, 0, 0);

	assert_non_null(r);
	memset(counts, 0, 5 * sizeof(counts[0]));
	assert_int_equal(sfs_super_read(&f->fs, &super), 0);
	while (sfs_btree_next(&f->fs, &super.srch_root, &key, r) == 0) {
		assert_true(r->key.sk_type % 4 == 0 && r->key.sk_type <= 16);
		counts[r->key.sk_type / 4]++;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
}

static void check_volume(struct fixture *f)
{
	struct scoutfs_super_block super;
	struct sfs_check_report r;
	int ret;

	assert_int_equal(sfs_super_read(&f->fs, &super), 0);
	ret = sfs_check_volume(&f->fs, &super, &r);
	if (ret)
		fail_msg("volume check: %s", r.why[0] ? r.why : strerror(-ret));
}

/* a mount doing compaction steps until there is no work; the steps taken */
static unsigned int compact_all(struct fixture *f, uint64_t rid, uint64_t max_blocks)
{
	unsigned int steps = 0;
	int ret;

	start_client(f, rid);
	while ((ret = sfs_srch_compact_run_one(&f->fs, max_blocks)) == 0)
		steps++;
	assert_int_equal(ret, -ENOENT);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	sfs_client_destroy(&f->fs);
	return steps;
}

static void test_srch_compaction(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_srch_compact sc, again;
	struct srch_model m = { 0 };
	unsigned int counts[5];
	uint64_t commits;
	int k;

	start_server(f);
	for (k = 0; k < 4; k++)
		srch_mount(f, k, &m);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 4);
	check_srch(f, &m);

	/* a job of the 4 log files; asking again gets the same one */
	start_client(f, 0xa);
	assert_int_equal(sfs_client_srch_get_compact(&f->fs, &sc), 0);
	assert_int_equal(sc.nr, 4);
	assert_int_equal(sc.flags, SCOUTFS_SRCH_COMPACT_FLAG_LOG);
	assert_true(le64toh(sc.meta_avail.total_nr) > 0);
	assert_int_equal(sfs_client_srch_get_compact(&f->fs, &again), 0);
	assert_int_equal(le64toh(again.id), le64toh(sc.id));
	assert_int_equal(sfs_counter(&f->fs, srch_compact_get_again), 1);
	/* no second job while its inputs are busy: another mount gets none */
	sfs_client_destroy(&f->fs);
	start_client(f, 0xc);
	assert_int_equal(sfs_client_srch_get_compact(&f->fs, &again), 0);
	assert_int_equal(again.nr, 0);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	sfs_client_destroy(&f->fs);

	/* the mount holding it dies: the job waits for another */
	assert_int_equal(sfs_server_reclaim_mount(&f->fs, 0xa), 0);
	assert_int_equal(sfs_counter(&f->fs, srch_compact_cancel), 1);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_PENDING_TYPE / 4], 1);
	assert_int_equal(counts[SCOUTFS_SRCH_BUSY_TYPE / 4], 0);
	check_volume(f);

	/* another does it: sorted, then the inputs deleted */
	assert_int_equal(compact_all(f, 0xb, 0), 2);
	assert_int_equal(sfs_counter(&f->fs, srch_compact_done), 1);
	assert_int_equal(sfs_counter(&f->fs, srch_compact_freed), 1);
	assert_true(sfs_counter(&f->fs, srch_compact_removed_entry) >= 201);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 0);
	assert_int_equal(counts[SCOUTFS_SRCH_BLOCKS_TYPE / 4], 1);
	assert_int_equal(counts[SCOUTFS_SRCH_PENDING_TYPE / 4], 0);
	check_srch(f, &m);
	check_volume(f);

	/* a resent commit of the finished job changes nothing */
	start_client(f, 0xb);
	commits = sfs_counter(&f->fs, srch_compact_commit);
	sc.flags |= SCOUTFS_SRCH_COMPACT_FLAG_DONE;
	assert_int_equal(sfs_client_srch_commit_compact(&f->fs, &sc), 0);
	assert_int_equal(sfs_counter(&f->fs, srch_compact_commit), commits);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	sfs_client_destroy(&f->fs);

	/* 12 more mounts: 3 more sorted files, then the 4 merge into one, in steps */
	for (k = 4; k < 16; k++) {
		srch_mount(f, k, &m);
		if (k == 7 || k == 11)
			compact_all(f, 0xb, 0);
	}
	/* the last 4 logs: sorted and their inputs deleted, two steps */
	start_client(f, 0xb);
	assert_int_equal(sfs_srch_compact_run_one(&f->fs, 0), 0);
	assert_int_equal(sfs_srch_compact_run_one(&f->fs, 0), 0);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	sfs_client_destroy(&f->fs);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_BLOCKS_TYPE / 4], 4);
	check_srch(f, &m);
	/* a few steps, then the mount leaves: the job waits with its progress */
	start_client(f, 0xe);
	for (k = 0; k < 3; k++)
		assert_int_equal(sfs_srch_compact_run_one(&f->fs, 1), 0);
	check_volume(f);
	check_srch(f, &m);
	assert_int_equal(sfs_client_farewell(&f->fs), 0);
	sfs_client_destroy(&f->fs);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_PENDING_TYPE / 4], 1);
	assert_int_equal(counts[SCOUTFS_SRCH_BUSY_TYPE / 4], 0);
	check_volume(f);
	/* another mount finishes it */
	assert_true(compact_all(f, 0xd, 1) > 1);
	assert_true(sfs_counter(&f->fs, srch_compact_progress) > 0);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 0);
	assert_int_equal(counts[SCOUTFS_SRCH_BLOCKS_TYPE / 4], 1);
	assert_int_equal(counts[SCOUTFS_SRCH_PENDING_TYPE / 4], 0);
	assert_int_equal(counts[SCOUTFS_SRCH_BUSY_TYPE / 4], 0);
	check_srch(f, &m);
	assert_true(sfs_counter(&f->fs, srch_search_sorted) > 0);
	check_volume(f);

	/* a new server from disk: the same answers */
	sfs_server_stop(&f->fs);
	start_server(f);
	check_srch(f, &m);
	free(m.v);
}

/*
 * A mount's log file moves into srch_root when a commit finds it at 16
 * blocks or more, or when the srch_force_log_rotate trigger is armed;
 * not before.
 */
static void test_srch_rotate(void **state)
{
	struct fixture *f = *state;
	size_t n = 20000, i, total = 0;
	struct scoutfs_srch_entry *ents = calloc(n, sizeof(*ents));
	struct srch_model m = { 0 };
	struct scoutfs_log_trees lt;
	unsigned int counts[5];

	assert_non_null(ents);
	start_server(f);
	start_client(f, 0x7);
	while (1) {
		for (i = 0; i < n; i++) {
			ents[i] = mount_entry(1, total + i);
			model_add(&m, ents[i]);
		}
		total += n;
		srch_commit(f, &lt, ents, n);
		count_srch_items(f, counts);
		if (le64toh(lt.srch_file.blocks) >= SFS_SRCH_LOG_ROTATE_BLOCKS)
			break;
		assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 0);
		assert_true(total < 40 * n);
	}
	/* the commit that found 16 blocks rotated it; the next transaction starts afresh */
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 1);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(lt.srch_file.ref.blkno, 0);
	check_srch(f, &m);

	/* a small file rotates only when the trigger is armed, once */
	srch_commit(f, &lt, ents, 10);
	for (i = 0; i < 10; i++)
		model_add(&m, ents[i]);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 1);
	sfs_trigger_arm(&f->fs, SFS_TRIGGER_SRCH_FORCE_LOG_ROTATE);
	srch_commit(f, &lt, ents + 10, 10);
	for (i = 10; i < 20; i++)
		model_add(&m, ents[i]);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 2);
	srch_commit(f, &lt, ents + 20, 10);
	for (i = 20; i < 30; i++)
		model_add(&m, ents[i]);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 2);
	check_srch(f, &m);
	check_volume(f);
	free(ents);
	free(m.v);
}

/* rid's greatest-nr log tree as committed on disk */
static void disk_lt(struct fixture *f, uint64_t rid, struct scoutfs_log_trees *lt)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_super_block super;
	struct scoutfs_key key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, rid, 0, 0, 0, 0);
	bool found = false;

	assert_non_null(r);
	assert_int_equal(sfs_super_read(&f->fs, &super), 0);
	while (sfs_btree_next(&f->fs, &super.logs_root, &key, r) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE && le64toh(r->key.sklt_rid) == rid) {
		memcpy(lt, r->val, sizeof(*lt));
		found = true;
		key = r->key;
		sfs_key_inc(&key);
	}
	assert_true(found);
	free(r);
}

/* the client's open transaction logs n srch entries and commits: the commit's result */
static int srch_append_commit(struct fixture *f, struct scoutfs_log_trees *lt,
			      const struct scoutfs_srch_entry *ents, size_t n)
{
	struct sfs_alloc_lists lists;
	struct sfs_block_writer wri;

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt->meta_avail, &lt->meta_freed);
	assert_int_equal(sfs_srch_append(&f->fs, &lists.alloc, &wri, &lt->srch_file, ents, n), 0);
	assert_int_equal(sfs_block_writer_write(&f->fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(&f->fs, SFS_DEV_META), 0);
	lt->meta_avail = lists.avail;
	lt->meta_freed = lists.freed;
	return sfs_client_commit_log_trees(&f->fs, lt);
}

/*
 * A srch log file moves from its log tree into srch_root in one server
 * commit, error paths included: a rotation that fails after the file's
 * LOG item went into srch_root (srch_log_rotate_fail) stops the server
 * with nothing of it committed -- no LOG item, the log tree as it was,
 * no block referenced twice.  A new server from disk gets the commit
 * again (the transaction is still open) and rotates the file once; a
 * resend of that commit changes nothing (a rotation is keyed by the
 * file's root block: replayed, it would replace its own item).
 */
static void test_srch_rotate_atomic(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_srch_entry ents[20];
	struct scoutfs_log_trees lt, open, before, after;
	struct scoutfs_net_statfs st;
	struct srch_model m = { 0 };
	unsigned int counts[5];
	size_t i;

	for (i = 0; i < 20; i++)
		ents[i] = mount_entry(2, i);
	start_server(f);
	start_client(f, 0x7);
	srch_commit(f, &lt, ents, 10);
	for (i = 0; i < 10; i++)
		model_add(&m, ents[i]);
	assert_true(lt.srch_file.ref.blkno != 0);

	/* the next commit's rotation fails half done */
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &open), 0);
	disk_lt(f, 0x7, &before);
	assert_memory_equal(&before.srch_file, &lt.srch_file, sizeof(lt.srch_file));
	sfs_trigger_arm(&f->fs, SFS_TRIGGER_SRCH_FORCE_LOG_ROTATE);
	sfs_trigger_arm(&f->fs, SFS_TRIGGER_SRCH_LOG_ROTATE_FAIL);
	lt = open;
	assert_int_equal(srch_append_commit(f, &lt, ents + 10, 10), -EIO);
	assert_false(sfs_trigger_fired(&f->fs, SFS_TRIGGER_SRCH_LOG_ROTATE_FAIL));
	/* the disk holds nothing of the change (the answer came after the commit) */
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 0);
	disk_lt(f, 0x7, &after);
	assert_memory_equal(&after, &before, sizeof(after));
	assert_true(le64toh(after.get_trans_seq) > le64toh(after.commit_trans_seq));
	check_volume(f);
	/* and the server stopped serving */
	assert_int_equal(sfs_client_statfs(&f->fs, &st), -EIO);

	/* a new server: the open transaction again, its commit rotates the file once */
	sfs_client_destroy(&f->fs);
	sfs_server_stop(&f->fs);
	start_server(f);
	start_client(f, 0x7);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_int_equal(le64toh(lt.get_trans_seq), le64toh(open.get_trans_seq));
	assert_memory_equal(&lt.srch_file, &before.srch_file, sizeof(lt.srch_file));
	sfs_trigger_arm(&f->fs, SFS_TRIGGER_SRCH_FORCE_LOG_ROTATE);
	open = lt;
	assert_int_equal(srch_append_commit(f, &lt, ents + 10, 10), 0);
	for (i = 10; i < 20; i++)
		model_add(&m, ents[i]);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 1);
	disk_lt(f, 0x7, &after);
	assert_int_equal(after.srch_file.ref.blkno, 0);
	assert_int_equal(after.commit_trans_seq, after.get_trans_seq);
	check_srch(f, &m);
	check_volume(f);

	/* the commit resent: recognised, nothing rotated again */
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);
	count_srch_items(f, counts);
	assert_int_equal(counts[SCOUTFS_SRCH_LOG_TYPE / 4], 1);
	disk_lt(f, 0x7, &before);
	assert_memory_equal(&before, &after, sizeof(before));
	check_srch(f, &m);
	check_volume(f);
	free(m.v);
}

/*
 * A mount's items carry the greatest write_seq it was ever granted,
 * which may come from an earlier server, for a lock it no longer holds:
 * its commit says so (max_item_seq), and every seq the server hands out
 * after it is above (a later writer of those keys must win).  A server
 * starting from disk goes above every committed tree's max_item_seq.
 */
static void test_seq_above_items(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees lt, b;
	struct scoutfs_super_block super;
	struct sfs_fs *fsb;
	uint64_t high;

	start_server(f);
	start_client(f, 0xa1);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	client_write(f, &lt, 3000, 10, 0x11);
	high = le64toh(lt.get_trans_seq) + 1000;
	lt.max_item_seq = htole64(high);
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &lt), 0);

	/* another mount's next transaction (the same counter as write_seqs) */
	fsb = other_client(f, 0xb1);
	assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
	assert_true(le64toh(b.get_trans_seq) > high);
	other_client_put(fsb);
	assert_int_equal(sfs_super_read(&f->fs, &super), 0);
	assert_true(le64toh(super.seq) > high);

	/* a new server from disk */
	sfs_client_destroy(&f->fs);
	sfs_server_stop(&f->fs);
	start_server(f);
	start_client(f, 0xa1);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &lt), 0);
	assert_true(le64toh(lt.get_trans_seq) > high);
	check_items(f, 3000, 10, 0x11);
}

/* ------------------------------------------------------------------ */
/* Data space                                                           */
/* ------------------------------------------------------------------ */

static void start_server_data(struct fixture *f, uint64_t target, uint64_t min)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sfs_server_opts opts = { .addr = (struct sockaddr *)&sin, .addr_len = sizeof(sin),
					.term = 1, .client_data_target = target,
					.client_data_min = min };

	assert_int_equal(sfs_server_start(&f->fs, &opts, &f->bound), 0);
}

/* data extents a test keeps track of */
struct exts {
	uint64_t (*e)[2];
	size_t nr;
	uint64_t total;
};

static void exts_add(struct exts *x, uint64_t start, uint64_t len)
{
	x->e = realloc(x->e, (x->nr + 1) * sizeof(*x->e));
	assert_non_null(x->e);
	x->e[x->nr][0] = start;
	x->e[x->nr][1] = len;
	x->nr++;
	x->total += len;
}

/*
 * A transaction that uses up every data block it was given (if consume;
 * recorded in used, if not NULL), frees the extents in freed (used by
 * another mount and now unreferenced, if not NULL), and writes nothing
 * else.
 */
static void data_commit(struct sfs_fs *fs, struct scoutfs_log_trees *lt, bool consume,
			struct exts *used, const struct exts *freed)
{
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	uint64_t start, len;
	size_t i;

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt->meta_avail, &lt->meta_freed);
	while (consume && le64toh(lt->data_avail.total_len)) {
		assert_int_equal(sfs_alloc_alloc_extent(fs, &lists.alloc, &wri, &lt->data_avail,
							UINT64_MAX, &start, &len),
				 0);
		if (used)
			exts_add(used, start, len);
	}
	for (i = 0; freed && i < freed->nr; i++)
		assert_int_equal(sfs_alloc_insert_extent(fs, &lists.alloc, &wri, &lt->data_freed,
							 freed->e[i][0], freed->e[i][1]),
				 0);
	assert_int_equal(sfs_block_writer_write(fs, &wri), 0);
	sfs_block_writer_destroy(&wri);
	assert_int_equal(sfs_block_flush(fs, SFS_DEV_META), 0);
	lt->meta_avail = lists.avail;
	lt->meta_freed = lists.freed;
	assert_int_equal(sfs_client_commit_log_trees(fs, lt), 0);
}

static void consume_commit(struct sfs_fs *fs, struct scoutfs_log_trees *lt)
{
	data_commit(fs, lt, true, NULL, NULL);
}

static uint64_t avail(const struct scoutfs_log_trees *lt)
{
	return le64toh(lt->data_avail.total_len);
}

static bool low(const struct scoutfs_log_trees *lt)
{
	return le32toh(lt->data_avail.flags) & SCOUTFS_ALLOC_FLAG_LOW;
}

static void test_data_share(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_log_trees a, b;
	struct scoutfs_super_block super;
	struct exts used = { 0 };
	uint64_t pool, syncs, b_kept;
	struct sfs_fs *fsb;
	int i;

	/* the default 4 GiB target, far over this 1 GiB volume */
	start_server_data(f, 0, 2048);
	assert_int_equal(sfs_super_read(&f->fs, &super), 0);
	pool = le64toh(super.data_alloc.total_len);
	assert_true(pool > 200000);

	/* alone, A may take everything */
	start_client(f, 0xa1);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
	assert_int_equal(avail(&a), pool);

	/* B: nothing free, but A holds more than its half: no LOW, A is asked to commit */
	fsb = other_client(f, 0xb1);
	syncs = sfs_counter(&f->fs, server_data_sync_sent);
	assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
	assert_int_equal(avail(&b), 0);
	assert_false(low(&b));
	assert_int_equal(sfs_counter(&f->fs, server_data_sync_sent), syncs + 1);
	/* asking again before A opened a new transaction sends no second sync */
	assert_int_equal(sfs_client_commit_log_trees(fsb, &b), 0);
	assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
	assert_int_equal(sfs_counter(&f->fs, server_data_sync_sent), syncs + 1);

	/* A's next transaction gives back all but its share, B's takes it */
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &a), 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
	assert_int_equal(avail(&a), (pool + 1) / 2);
	assert_int_equal(sfs_client_commit_log_trees(fsb, &b), 0);
	assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
	assert_int_equal(avail(&b), pool / 2);
	assert_false(low(&a) || low(&b));

	/*
	 * A uses everything it gets; B idles.  Each time A runs out, B is
	 * asked for its excess and gives back half, until B keeps no more
	 * than the least fill: then A is LOW.
	 */
	for (i = 0; i < 64 && !low(&a); i++) {
		data_commit(&f->fs, &a, true, &used, NULL);
		assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
		if (avail(&a) || low(&a))
			continue;
		/* B was asked; its commit gives the excess back */
		assert_int_equal(sfs_client_commit_log_trees(fsb, &b), 0);
		assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
		assert_int_equal(sfs_client_commit_log_trees(&f->fs, &a), 0);
		assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
		assert_true(avail(&a) > 0);
	}
	assert_true(low(&a));
	assert_int_equal(avail(&a), 0);
	assert_true(avail(&b) <= 2048);
	assert_int_equal(used.total + avail(&b), pool);
	assert_true(sfs_counter(&f->fs, server_data_reclaim) >= 3);
	/* within the episode, a full volume answers LOW at once: no more syncs */
	syncs = sfs_counter(&f->fs, server_data_sync_sent);
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &a), 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
	assert_true(low(&a));
	assert_int_equal(sfs_counter(&f->fs, server_data_sync_sent), syncs);

	/*
	 * B removes what A wrote: its transaction frees A's blocks, they go
	 * back when B commits and opens its next one, and both get shares.
	 */
	b_kept = avail(&b);
	data_commit(fsb, &b, false, NULL, &used);
	assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
	assert_int_equal(sfs_client_commit_log_trees(&f->fs, &a), 0);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
	assert_false(low(&a) || low(&b));
	assert_true(avail(&a) > pool / 4 && avail(&b) > pool / 4);
	assert_int_equal(avail(&a) + avail(&b), used.total + b_kept);
	assert_int_equal(sfs_client_commit_log_trees(fsb, &b), 0);
	assert_int_equal(sfs_client_farewell(fsb), 0);
	other_client_put(fsb);
	free(used.e);
}

/* the zones (of zb blocks) that lt's data_avail extents touch, and that its item records */
struct zone_walk {
	uint64_t zb;
	uint64_t bits[SCOUTFS_DATA_ALLOC_ZONE_LE64S];
};

static void zone_walk_cb(void *arg, uint64_t start, uint64_t len)
{
	struct zone_walk *zw = arg;

	sfs_alloc_zones_mark(zw->bits, zw->zb, start, len, true);
}

static void lt_zones(struct fixture *f, const struct scoutfs_log_trees *lt, uint64_t zb,
		     uint64_t *bits)
{
	struct zone_walk zw = { .zb = zb };
	int i;

	assert_int_equal(sfs_alloc_walk_extents(&f->fs, &lt->data_avail, zone_walk_cb, &zw), 0);
	assert_int_equal(le64toh(lt->data_alloc_zone_blocks), zb);
	for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++) {
		assert_int_equal(le64toh(lt->data_alloc_zones[i]), zw.bits[i]);
		bits[i] = zw.bits[i];
	}
}

static int zone_count(const uint64_t *bits)
{
	int i, n = 0;

	for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++)
		n += __builtin_popcountll(bits[i]);
	return n;
}

static void test_data_zones(void **state)
{
	struct fixture *f = *state;
	uint64_t za[SCOUTFS_DATA_ALLOC_ZONE_LE64S], zb_[SCOUTFS_DATA_ALLOC_ZONE_LE64S];
	uint64_t za2[SCOUTFS_DATA_ALLOC_ZONE_LE64S], total = le64toh(f->super.total_data_blocks);
	struct scoutfs_volume_options vo;
	struct scoutfs_log_trees a, b;
	const uint64_t zb = 16384;	/* 16 zones of 64 MiB on the 1 GiB device */
	struct sfs_fs *fsb;
	int i;

	start_server_data(f, 8192, 2048);
	start_client(f, 0xa1);
	assert_int_equal(sfs_client_get_volopt(&f->fs, &vo), 0);
	assert_int_equal(vo.set_bits, 0);

	/* refused: under a mount's fill, over the device, unknown options, 0 */
	memset(&vo, 0, sizeof(vo));
	vo.set_bits = htole64(SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT);
	vo.data_alloc_zone_blocks = htole64(4096);
	assert_int_equal(sfs_client_set_volopt(&f->fs, &vo), -EINVAL);
	vo.data_alloc_zone_blocks = htole64(total + 1);
	assert_int_equal(sfs_client_set_volopt(&f->fs, &vo), -EINVAL);
	vo.data_alloc_zone_blocks = 0;
	assert_int_equal(sfs_client_set_volopt(&f->fs, &vo), -EINVAL);
	vo.set_bits = htole64(1ULL << 5);
	assert_int_equal(sfs_client_set_volopt(&f->fs, &vo), -EINVAL);
	assert_int_equal(sfs_client_get_volopt(&f->fs, &vo), 0);
	assert_int_equal(vo.set_bits, 0);

	vo.set_bits = htole64(SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT);
	vo.data_alloc_zone_blocks = htole64(zb);
	assert_int_equal(sfs_client_set_volopt(&f->fs, &vo), 0);
	memset(&vo, 0, sizeof(vo));
	assert_int_equal(sfs_client_get_volopt(&f->fs, &vo), 0);
	assert_int_equal(le64toh(vo.set_bits), SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT);
	assert_int_equal(le64toh(vo.data_alloc_zone_blocks), zb);

	/* A fills from one zone, B from another nobody uses */
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
	assert_int_equal(avail(&a), 8192);
	lt_zones(f, &a, zb, za);
	assert_int_equal(zone_count(za), 1);
	fsb = other_client(f, 0xb1);
	assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
	assert_int_equal(avail(&b), 8192);
	lt_zones(f, &b, zb, zb_);
	assert_int_equal(zone_count(zb_), 1);
	for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++)
		assert_int_equal(za[i] & zb_[i], 0);

	/*
	 * Used up, each refills from its own zones again, then from zones
	 * nobody uses: four fills of 8192 blocks stay within three zones,
	 * never one of the other's.  (Without zones both would take from
	 * the front of the same largest free extent, in turns.)
	 */
	for (int round = 0; round < 3; round++) {
		consume_commit(&f->fs, &a);
		consume_commit(fsb, &b);
		assert_int_equal(sfs_client_get_log_trees(fsb, &b), 0);
		assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
		assert_int_equal(avail(&a), 8192);
		assert_int_equal(avail(&b), 8192);
		lt_zones(f, &a, zb, za2);
		for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++)
			za[i] |= za2[i];
		lt_zones(f, &b, zb, za2);
		for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++)
			zb_[i] |= za2[i];
		for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++)
			assert_int_equal(za[i] & zb_[i], 0);
	}
	assert_true(zone_count(za) <= 3);
	assert_true(zone_count(zb_) <= 3);

	/* cleared: no zones recorded from the next refill on */
	memset(&vo, 0, sizeof(vo));
	vo.set_bits = htole64(SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT);
	assert_int_equal(sfs_client_clear_volopt(&f->fs, &vo), 0);
	assert_int_equal(sfs_client_get_volopt(&f->fs, &vo), 0);
	assert_int_equal(vo.set_bits, 0);
	consume_commit(&f->fs, &a);
	assert_int_equal(sfs_client_get_log_trees(&f->fs, &a), 0);
	lt_zones(f, &a, 0, za2);
	assert_int_equal(zone_count(za2), 0);
	other_client_put(fsb);
}

/* plays the fence agent: answers the first fence request as fenced */
struct fence_agent {
	struct sfs_fs *fs;
	struct sfs_fence_info seen;
	bool answered;
	pthread_t thread;
};

static void *fence_agent_thread(void *arg)
{
	struct fence_agent *fa = arg;
	struct sfs_fence_info info[4];
	int i;

	for (i = 0; i < 1000; i++) {
		if (sfs_fence_list(fa->fs, info, 4) > 0) {
			fa->seen = info[0];
			fa->answered = sfs_fence_answer(fa->fs, info[0].rid, true) == 0;
			break;
		}
		usleep(10000);
	}
	return NULL;
}

/*
 * OPEN_INO_MAP waits for a mount recorded before the server started;
 * that mount is fenced (client_recovery) once the recovery window passes,
 * and reclaimed once fenced.
 */
static void test_omap_waits_for_absent(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sfs_server_opts opts = { .addr = (struct sockaddr *)&sin, .addr_len = sizeof(sin),
					.term = 2, .client_data_target = 8192,
					.reconnect_ms = 1500 };
	struct fence_agent fa = { 0 };
	uint64_t bits[16];
	struct timespec t0, t1;
	double ms;

	start_server(f);
	start_client(f, 0x51);
	sfs_client_destroy(&f->fs);	/* no farewell: still recorded */
	sfs_server_stop(&f->fs);

	assert_int_equal(sfs_server_start(&f->fs, &opts, &f->bound), 0);
	fa.fs = &f->fs;
	assert_int_equal(pthread_create(&fa.thread, NULL, fence_agent_thread, &fa), 0);
	start_client(f, 0x52);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sfs_client_open_ino_map(&f->fs, 3, bits), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(fa.thread, NULL);
	assert_true(fa.answered);
	assert_int_equal(fa.seen.rid, 0x51);
	assert_int_equal(fa.seen.reason, SFS_FENCE_CLIENT_RECOVERY);
	assert_int_equal(fa.seen.state, SFS_FENCE_PENDING);
	assert_int_equal(sfs_counter(&f->fs, fence_request), 1);
	assert_int_equal(sfs_counter(&f->fs, fence_fenced), 1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* answered once 0x51 was reclaimed, as nothing open */
	assert_true(ms > 500);
	assert_int_equal(sfs_counter(&f->fs, server_omap_waited), 1);
	for (int i = 0; i < 16; i++)
		assert_int_equal(bits[i], 0);
	/* with nobody absent it is answered at once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sfs_client_open_ino_map(&f->fs, 3, bits), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms < 500);
	assert_int_equal(sfs_counter(&f->fs, server_omap_waited), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resend_across_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_greeting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srch_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srch_rotate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srch_rotate_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_above_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_omap_waits_for_absent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
