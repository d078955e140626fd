// SPDX-License-Identifier: GPL-2.0
/*
 * Two whole mounts of one volume in one process (mount.c, without FUSE):
 * A is quorum slot 0 and runs the server, B is a plain client.  Items
 * written under a cluster lock on one mount are read on the other once
 * it holds the lock, because giving a written lock down commits it
 * (WRITE to READ) and giving it up (to NULL) drops the cached items of
 * its range; and a write under a later grant wins over an earlier one
 * even from a transaction that opened before it (the item's seq is the
 * greater of the transaction's and the lock's write_seq).  The kernel
 * invalidation hook is called with the group's inode range.
 *
 * The open-inode map: each mount's omap_local hook reports what it has
 * open, and either mount asking gets the union (OPEN_INO_MAP through the
 * server, which asks every mount); a request of the wrong size is
 * refused, and a mount that is gone (reclaimed while the server waits
 * for its answer) counts as having nothing open.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "client.h"
#include "counters.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "mount.h"
#include "net.h"
#include "server.h"
#include "trans.h"

struct node {
	struct sfs_fs fs;
	struct sfs_counters counters;
	uint64_t inval_first, inval_last, invals;
	uint64_t open_inos[4];		/* what omap_local reports open */
	int open_nr;
	uint64_t omap_calls;
};

struct fixture {
	char dir[64], meta[96], data[96];
	struct node a, b;
};

/* a TCP and UDP port on 127.0.0.1 nobody uses, below the ephemeral range */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int p, s1, s2, ok;

	for (p = 20000 + getpid() % 12000;; p = 20000 + (p - 20000 + 7) % 12000) {
		sin.sin_port = htons((uint16_t)p);
		s1 = socket(AF_INET, SOCK_STREAM, 0);
		s2 = socket(AF_INET, SOCK_DGRAM, 0);
		ok = !bind(s1, (struct sockaddr *)&sin, sizeof(sin)) &&
		     !bind(s2, (struct sockaddr *)&sin, sizeof(sin));
		close(s1);
		close(s2);
		if (ok)
			return p;
	}
}

static void kernel_inval(void *arg, uint64_t first, uint64_t last)
{
	struct node *n = arg;

	n->inval_first = first;
	n->inval_last = last;
	n->invals++;
}

static void omap_local(void *arg, uint64_t group_nr, uint64_t bits[16])
{
	struct node *n = arg;
	uint64_t ino;
	int i;

	__atomic_add_fetch(&n->omap_calls, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n->open_nr; i++) {
		ino = n->open_inos[i];
		if (ino >> 10 == group_nr)
			bits[(ino & 1023) / 64] |= 1ULL << (ino & 63);
	}
}

static void mount_node(struct fixture *f, struct node *n, int slot, uint64_t rid)
{
	struct sfs_mount_opts opts = {
		.meta_path = f->meta, .data_path = f->data, .quorum_slot_nr = slot, .rid = rid,
		.commit_interval_ms = 3600 * 1000, .client_data_target = 8192,
		.quorum_heartbeat_timeout_ms = 2000,
	};

	memset(n, 0, sizeof(*n));
	sfs_fs_log_init(&n->fs, slot >= 0 ? "a" : "b");
	n->fs.counters = &n->counters;
	assert_int_equal(sfs_mount_setup(&n->fs, &opts), 0);
	n->fs.kernel_inval_arg = n;
	n->fs.kernel_inval = kernel_inval;
	n->fs.omap_arg = n;
	__atomic_store_n(&n->fs.omap_local, omap_local, __ATOMIC_RELEASE);
}

static int setup(void **state)
{
	const char *mkfs = getenv("SCOUTFS_MKFS");
	struct fixture *f = calloc(1, sizeof(*f));
	char cmd[512];

	if (!mkfs) {
		fprintf(stderr, "SCOUTFS_MKFS is not set: run through meson test\n");
		free(f);
		return -1;
	}
	strcpy(f->dir, "/var/tmp/sfs-test-cluster.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->meta, sizeof(f->meta), "%s/meta.img", f->dir);
	snprintf(f->data, sizeof(f->data), "%s/data.img", f->dir);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 2G %s && truncate -s 2G %s && %s -A -Q 0,127.0.0.1,%d %s %s >/dev/null",
		 f->meta, f->data, mkfs, free_port(), f->meta, f->data);
	assert_int_equal(system(cmd), 0);
	mount_node(f, &f->a, 0, 0xa);
	mount_node(f, &f->b, -1, 0xb);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	/* the client first: its farewell needs the server */
	assert_int_equal(sfs_mount_unmount(&f->b.fs), 0);
	assert_int_equal(sfs_mount_unmount(&f->a.fs), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static struct scoutfs_key item_key(uint64_t ino)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_XATTR_TYPE, 1, 0, 0);
}

/* write val as the item of ino under a WRITE lock of its group */
static void write_item(struct node *n, uint64_t ino, const char *val)
{
	struct sfs_item_range r = sfs_lock_name_ino(ino);
	struct scoutfs_key key = item_key(ino);
	struct sfs_lock *lock;
	uint64_t seq;

	assert_int_equal(sfs_lock_get(&n->fs, &r, SFS_LOCK_WRITE, &lock), 0);
	assert_int_equal(sfs_trans_hold(&n->fs, true, &seq), 0);
	if (sfs_lock_write_seq(lock) > seq)
		seq = sfs_lock_write_seq(lock);
	assert_int_equal(sfs_item_force(&n->fs, &key, val, (unsigned int)strlen(val), seq, &r), 0);
	sfs_trans_release(&n->fs);
	sfs_lock_mark_written(lock, seq);
	sfs_lock_put(&n->fs, lock, SFS_LOCK_WRITE);
}

/* the item of ino as read under a READ lock of its group */
static void expect_item(struct node *n, uint64_t ino, const char *want)
{
	struct sfs_item_range r = sfs_lock_name_ino(ino);
	struct scoutfs_key key = item_key(ino);
	struct sfs_lock *lock;
	unsigned int len = 0;
	char val[64];
	int ret;

	assert_int_equal(sfs_lock_get(&n->fs, &r, SFS_LOCK_READ, &lock), 0);
	memset(val, 0, sizeof(val));
	ret = sfs_item_lookup(&n->fs, &key, val, sizeof(val) - 1, &len, &r);
	sfs_lock_put(&n->fs, lock, SFS_LOCK_READ);
	if (!want) {
		assert_int_equal(ret, -ENOENT);
		return;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(val, want);
}

static void test_consistency(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = 5000, seq;
	uint64_t commits;

	/* B looks first: nothing there */
	expect_item(&f->b, ino, NULL);
	/* A writes; B's read takes the lock from A, which commits first */
	commits = sfs_counter(&f->a.fs, trans_commit);
	write_item(&f->a, ino, "a1");
	expect_item(&f->b, ino, "a1");
	assert_true(sfs_counter(&f->a.fs, trans_commit) > commits);
	/* A kept READ (a downgrade): its cache is still good, and it reads too */
	{
		struct sfs_item_range r = sfs_lock_name_ino(ino);

		assert_int_equal(sfs_lock_mode(&f->a.fs, &r.start), SFS_LOCK_READ);
	}
	expect_item(&f->a, ino, "a1");

	/*
	 * B opens a transaction now, before A's next grant: its seq is
	 * older than A's coming write.  Its own later write must still win.
	 */
	assert_int_equal(sfs_trans_hold(&f->b.fs, true, &seq), 0);
	sfs_trans_release(&f->b.fs);
	write_item(&f->a, ino, "a2");
	expect_item(&f->b, ino, "a2");
	write_item(&f->b, ino, "b1");
	/* A gave the lock up to NULL: its cached "a2" went, the kernel was told */
	assert_true(f->a.invals > 0);
	assert_int_equal(f->a.inval_first, ino & ~1023ULL);
	assert_int_equal(f->a.inval_last, ino | 1023ULL);
	expect_item(&f->a, ino, "b1");
	expect_item(&f->b, ino, "b1");

	/* back and forth: every read sees the last write of either mount */
	for (int i = 0; i < 20; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%c%d", i % 2 ? 'a' : 'b', i);
		write_item(i % 2 ? &f->a : &f->b, ino + (uint64_t)(i % 3), v);
		expect_item(i % 2 ? &f->b : &f->a, ino + (uint64_t)(i % 3), v);
	}
}

/* the union of every mount's open inodes in ino's group, asked by n */
static void expect_omap(struct node *n, uint64_t group, const uint64_t *inos, int nr)
{
	uint64_t bits[16], want[16] = { 0 };
	int i;

	for (i = 0; i < nr; i++) {
		assert_int_equal(inos[i] >> 10, group);
		want[(inos[i] & 1023) / 64] |= 1ULL << (inos[i] & 63);
	}
	memset(bits, 0xa5, sizeof(bits));
	assert_int_equal(sfs_client_open_ino_map(&n->fs, group, bits), 0);
	assert_memory_equal(bits, want, sizeof(want));
}

struct omap_ask {
	struct node *n;
	uint64_t group;
	uint64_t bits[16];
	int ret;
};

static void *omap_ask_thread(void *arg)
{
	struct omap_ask *a = arg;

	a->ret = sfs_client_open_ino_map(&a->n->fs, a->group, a->bits);
	return NULL;
}

static void test_open_ino_map(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_open_ino_map_args args = { .group_nr = htole64(4) };
	uint64_t both[] = { 4096, 4097, 5000, 5119 }, a_only[] = { 4096, 5119 };
	uint64_t g7[] = { 7 * 1024 + 3 };
	struct omap_ask ask = { .n = &f->a, .group = 4 };
	uint8_t resp[256];
	uint32_t len;
	pthread_t t;

	/* A has two open in group 4, B two others there and one in group 7 */
	f->a.open_inos[0] = 4096;
	f->a.open_inos[1] = 5119;
	f->a.open_nr = 2;
	f->b.open_inos[0] = 4097;
	f->b.open_inos[1] = 5000;
	f->b.open_inos[2] = 7 * 1024 + 3;
	f->b.open_nr = 3;

	/* either mount asking gets the union; every mount was asked */
	expect_omap(&f->a, 4, both, 4);
	expect_omap(&f->b, 4, both, 4);
	assert_true(f->a.omap_calls >= 2 && f->b.omap_calls >= 2);
	expect_omap(&f->a, 7, g7, 1);
	/* a group nobody has open: zeros */
	expect_omap(&f->b, 5, NULL, 0);
	expect_omap(&f->a, 1ULL << 40, NULL, 0);

	/* a mount without the hook has nothing open */
	__atomic_store_n(&f->b.fs.omap_local, NULL, __ATOMIC_RELEASE);
	expect_omap(&f->b, 4, a_only, 2);
	__atomic_store_n(&f->b.fs.omap_local, omap_local, __ATOMIC_RELEASE);

	/* a request of the wrong size is refused, and the server still serves */
	len = sizeof(resp);
	assert_int_equal(sfs_net_request_sync(sfs_client_conn(&f->b.fs),
					      SCOUTFS_NET_CMD_OPEN_INO_MAP, &args, 8, resp, &len,
					      5000),
			 -EINVAL);
	len = sizeof(resp);
	assert_int_equal(sfs_net_request_sync(sfs_client_conn(&f->b.fs),
					      SCOUTFS_NET_CMD_OPEN_INO_MAP, resp, 144, resp, &len,
					      5000),
			 -EINVAL);
	expect_omap(&f->b, 4, both, 4);

	/*
	 * B dies (no farewell): its session lingers and the server waits for
	 * its answer, until B is reclaimed (what fencing will do): then B
	 * counts as having nothing open and A gets its answer.
	 */
	sfs_mount_destroy(&f->b.fs);
	assert_int_equal(pthread_create(&t, NULL, omap_ask_thread, &ask), 0);
	usleep(500 * 1000);
	assert_int_equal(sfs_server_reclaim_mount(&f->a.fs, 0xb), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ask.ret, 0);
	assert_int_equal(ask.bits[0], 1ULL << 0);
	assert_int_equal(ask.bits[15], 1ULL << 63);
	assert_true(sfs_counter(&f->a.fs, server_omap_departed) >= 1);

	/* a new B for the teardown; it is asked again */
	mount_node(f, &f->b, -1, 0xc);
	f->b.open_inos[0] = 4097;
	f->b.open_nr = 1;
	{
		uint64_t now[] = { 4096, 4097, 5119 };

		expect_omap(&f->a, 4, now, 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_consistency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_ino_map, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
