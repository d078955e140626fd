// SPDX-License-Identifier: GPL-2.0
/*
 * Cluster locks end to end (lock.c, lock_server.c, their glue in
 * server.c and client.c): a server on a volume made by scoutfs-mkfs and
 * three mounts' clients in one process, over TCP on loopback.  Checked:
 * a writer is downgraded to READ for a reader and the invalidate op runs
 * with the modes; an invalidation waits for the holder's users; grants
 * carry growing write_seqs; idle locks beyond the limit are given back;
 * a mount's farewell lets the others through; grants carry the roots
 * reads under them may use; and a stress run of
 * threads on every mount taking random modes of a few locks, checking
 * that no two mounts ever have users whose modes conflict.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "client.h"
#include "counters.h"
#include "lock.h"
#include "log.h"
#include "server.h"
#include "super.h"
#include "volume.h"

#define NR_MOUNTS 3

struct mount {
	struct sfs_fs fs;
	struct sfs_counters counters;
	int index;
	uint64_t invalidations;			/* ops.invalidate calls */
	uint8_t last_old, last_new;
	uint64_t roots_gen;			/* what ops.roots_gen answers */
};

struct fixture {
	struct test_volume tv;
	struct sfs_fs fs;			/* the server's */
	struct sfs_counters counters;
	struct scoutfs_super_block super;
	struct sockaddr_storage bound;
	struct mount m[NR_MOUNTS];
	pthread_mutex_t model_lock;
	uint64_t users[NR_MOUNTS][4][SFS_LOCK_NR_MODES];	/* the stress model */
	uint64_t conflicts;
};

static int mount_invalidate(void *arg, struct sfs_lock *lock, uint8_t old_mode, uint8_t new_mode)
{
	struct mount *m = arg;

	(void)lock;
	__atomic_add_fetch(&m->invalidations, 1, __ATOMIC_SEQ_CST);
	m->last_old = old_mode;
	m->last_new = new_mode;
	return 0;
}

static uint64_t mount_roots_gen(void *arg)
{
	struct mount *m = arg;

	return __atomic_load_n(&m->roots_gen, __ATOMIC_SEQ_CST);
}

static void start_mount(struct fixture *f, int i, uint32_t idle_count)
{
	struct mount *m = &f->m[i];
	struct sfs_client_opts copts = { .addr = (struct sockaddr *)&f->bound,
					 .addr_len = sizeof(struct sockaddr_in),
					 .rid = 0x100 + (uint64_t)i, .uuid = f->super.uuid,
					 .fmt_vers = le64toh(f->super.fmt_vers),
					 .timeout_ms = 10000 };
	struct sfs_lock_opts lopts = { .ops = { .invalidate = mount_invalidate,
						.roots_gen = mount_roots_gen, .arg = m },
				       .idle_count = idle_count, .timeout_ms = 20000 };

	memset(m, 0, sizeof(*m));
	m->index = i;
	sfs_fs_log_init(&m->fs, "mount");
	m->fs.counters = &m->counters;
	m->fs.fsid = f->fs.fsid;
	assert_int_equal(sfs_client_setup(&m->fs, &copts), 0);
	assert_int_equal(sfs_lock_setup(&m->fs, &lopts), 0);
}

static void stop_mount(struct fixture *f, int i, bool farewell)
{
	struct mount *m = &f->m[i];

	if (!m->fs.client)
		return;
	sfs_lock_destroy(&m->fs);
	if (farewell)
		assert_int_equal(sfs_client_farewell(&m->fs), 0);
	sfs_client_destroy(&m->fs);
}

static int setup(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sfs_server_opts sopts = { .addr = (struct sockaddr *)&sin, .addr_len = sizeof(sin),
					 .term = 1, .client_data_target = 8192 };
	struct sfs_block_opts bopts = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));

	if (test_volume_make(&f->tv, "lock", "512M", "1G")) {
		free(f);
		return -1;
	}
	sfs_fs_log_init(&f->fs, "server");
	f->fs.counters = &f->counters;
	bopts.meta_path = f->tv.meta;
	bopts.data_path = f->tv.data;
	assert_int_equal(sfs_block_setup(&f->fs, &bopts), 0);
	assert_int_equal(sfs_super_read(&f->fs, &f->super), 0);
	assert_int_equal(sfs_server_start(&f->fs, &sopts, &f->bound), 0);
	pthread_mutex_init(&f->model_lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < NR_MOUNTS; i++)
		stop_mount(f, i, false);
	sfs_server_stop(&f->fs);
	sfs_block_destroy(&f->fs);
	test_volume_remove(&f->tv);
	pthread_mutex_destroy(&f->model_lock);
	free(f);
	return 0;
}

static struct sfs_item_range group(uint64_t g)
{
	struct sfs_item_range r = {
		.start = sfs_key_make(SCOUTFS_FS_ZONE, g * 1024, 0, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_FS_ZONE, g * 1024 + 1023, 255, UINT64_MAX, UINT64_MAX,
				    255),
	};

	return r;
}

/* a mount's lock_get on a thread of its own */
struct getter {
	struct fixture *f;
	int mount;
	uint64_t g;
	uint8_t mode;
	struct sfs_lock *lock;
	int ret;
	bool done;
	pthread_t thread;
};

static void *getter_thread(void *arg)
{
	struct getter *gt = arg;
	struct sfs_item_range r = group(gt->g);

	gt->ret = sfs_lock_get(&gt->f->m[gt->mount].fs, &r, gt->mode, &gt->lock);
	__atomic_store_n(&gt->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void start_getter(struct getter *gt, struct fixture *f, int mount, uint64_t g, uint8_t mode)
{
	memset(gt, 0, sizeof(*gt));
	gt->f = f;
	gt->mount = mount;
	gt->g = g;
	gt->mode = mode;
	assert_int_equal(pthread_create(&gt->thread, NULL, getter_thread, gt), 0);
}

static void join_getter(struct getter *gt)
{
	pthread_join(gt->thread, NULL);
	assert_int_equal(gt->ret, 0);
}

/* wait up to 10 s for *v to reach want */
static void wait_u64(uint64_t *v, uint64_t want)
{
	int i;

	for (i = 0; i < 1000 && __atomic_load_n(v, __ATOMIC_SEQ_CST) < want; i++)
		usleep(10000);
	assert_true(__atomic_load_n(v, __ATOMIC_SEQ_CST) >= want);
}

static void test_downgrade_and_wait(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range r = group(1);
	struct sfs_lock *a, *b;
	struct getter gt;
	uint64_t seq1;

	start_mount(f, 0, 0);
	start_mount(f, 1, 0);

	/* mount 0 writes, then mount 1 reads: 0 goes down to READ */
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE, &a), 0);
	seq1 = sfs_lock_write_seq(a);
	assert_true(seq1 > 0);
	sfs_lock_put(&f->m[0].fs, a, SFS_LOCK_WRITE);
	assert_int_equal(sfs_lock_get(&f->m[1].fs, &r, SFS_LOCK_READ, &b), 0);
	assert_int_equal(f->m[0].invalidations, 1);
	assert_int_equal(f->m[0].last_old, SFS_LOCK_WRITE);
	assert_int_equal(f->m[0].last_new, SFS_LOCK_READ);
	assert_int_equal(sfs_lock_mode(&f->m[0].fs, &r.start), SFS_LOCK_READ);
	assert_int_equal(sfs_lock_mode(&f->m[1].fs, &r.start), SFS_LOCK_READ);
	/* mount 0 reads again without asking the server */
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_READ, &a), 0);
	assert_int_equal(sfs_counter(&f->m[0].fs, lock_request), 1);

	/* mount 1 wants to write while mount 0 reads: it waits for 0's user */
	sfs_lock_put(&f->m[1].fs, b, SFS_LOCK_READ);
	start_getter(&gt, f, 1, 1, SFS_LOCK_WRITE);
	usleep(300000);
	assert_false(__atomic_load_n(&gt.done, __ATOMIC_SEQ_CST));
	assert_int_equal(f->m[0].invalidations, 1);
	sfs_lock_put(&f->m[0].fs, a, SFS_LOCK_READ);
	join_getter(&gt);
	assert_int_equal(f->m[0].invalidations, 2);
	assert_int_equal(f->m[0].last_old, SFS_LOCK_READ);
	assert_int_equal(f->m[0].last_new, SFS_LOCK_NULL);
	assert_true(sfs_lock_write_seq(gt.lock) > seq1);
	assert_int_equal(sfs_lock_mode(&f->m[0].fs, &r.start), SFS_LOCK_NULL);
	sfs_lock_put(&f->m[1].fs, gt.lock, SFS_LOCK_WRITE);

	/* write-only users of two mounts share */
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE_ONLY, &a), 0);
	assert_int_equal(sfs_lock_get(&f->m[1].fs, &r, SFS_LOCK_WRITE_ONLY, &b), 0);
	sfs_lock_put(&f->m[0].fs, a, SFS_LOCK_WRITE_ONLY);
	sfs_lock_put(&f->m[1].fs, b, SFS_LOCK_WRITE_ONLY);

	/* a bad mode or range is refused */
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_NULL, &a), -EINVAL);
	r.end = r.start;
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_READ, &a), -EINVAL);
}

static void test_idle_and_farewell(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range r;
	struct sfs_lock *l;
	struct getter gt;
	uint64_t g;

	start_mount(f, 0, 4);
	start_mount(f, 1, 0);
	/* 12 locks used once: the oldest idle ones go back to the server */
	for (g = 10; g < 22; g++) {
		r = group(g);
		assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE, &l), 0);
		sfs_lock_put(&f->m[0].fs, l, SFS_LOCK_WRITE);
	}
	assert_true(sfs_counter(&f->m[0].fs, lock_shrink) >= 7);
	r = group(10);
	for (g = 0; g < 1000 && sfs_lock_mode(&f->m[0].fs, &r.start) != SFS_LOCK_NULL; g++)
		usleep(10000);
	assert_int_equal(sfs_lock_mode(&f->m[0].fs, &r.start), SFS_LOCK_NULL);
	/* given back: another mount gets it without invalidating mount 0 */
	assert_int_equal(sfs_lock_get(&f->m[1].fs, &r, SFS_LOCK_WRITE, &l), 0);
	sfs_lock_put(&f->m[1].fs, l, SFS_LOCK_WRITE);
	assert_int_equal(f->m[0].invalidations, 0);

	/* mount 0 holds a write user and leaves: mount 1's request goes through */
	r = group(21);
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE, &l), 0);
	start_getter(&gt, f, 1, 21, SFS_LOCK_WRITE);
	wait_u64(&f->m[0].counters.vals[SFS_CTR_lock_invalidate_request], 1);
	assert_false(__atomic_load_n(&gt.done, __ATOMIC_SEQ_CST));
	sfs_lock_put(&f->m[0].fs, l, SFS_LOCK_WRITE);
	join_getter(&gt);
	sfs_lock_put(&f->m[1].fs, gt.lock, SFS_LOCK_WRITE);

	/* mount 0 takes it back, dies holding it (no answer), and is reclaimed */
	start_getter(&gt, f, 0, 21, SFS_LOCK_WRITE);
	join_getter(&gt);
	stop_mount(f, 0, true);
	assert_int_equal(sfs_lock_get(&f->m[1].fs, &r, SFS_LOCK_WRITE, &l), 0);
	sfs_lock_put(&f->m[1].fs, l, SFS_LOCK_WRITE);
}

/*
 * Grants carry the server's stable roots: sfs_lock_roots gives them for
 * any key the lock covers while it may read and the mount's roots_gen
 * has not moved, and never otherwise.
 */
static void test_grant_roots(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range r = group(3);
	struct scoutfs_key inside = sfs_key_make(SCOUTFS_FS_ZONE, 3 * 1024 + 5, 1, 0, 0, 0);
	struct scoutfs_key outside = sfs_key_make(SCOUTFS_FS_ZONE, 4 * 1024, 1, 0, 0, 0);
	struct scoutfs_net_roots roots;
	struct sfs_forest_roots server_roots;
	struct sfs_lock *a, *b;

	start_mount(f, 0, 0);
	start_mount(f, 1, 0);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 0, &roots), -ENOENT);

	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE, &a), 0);
	memset(&server_roots, 0, sizeof(server_roots));
	assert_int_equal(sfs_client_get_roots(&f->m[0].fs, &server_roots), 0);
	memset(&roots, 0xa5, sizeof(roots));
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 0, &roots), 0);
	assert_memory_equal(&roots.fs_root, &server_roots.fs_root, sizeof(roots.fs_root));
	assert_memory_equal(&roots.logs_root, &server_roots.logs_root, sizeof(roots.logs_root));
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &r.start, 0, &roots), 0);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &r.end, 0, &roots), 0);
	/* not under the lock, or the mount committed since: ask the server */
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &outside, 0, &roots), -ENOENT);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 1, &roots), -ENOENT);
	__atomic_store_n(&f->m[0].roots_gen, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 1, &roots), -ENOENT);
	sfs_lock_put(&f->m[0].fs, a, SFS_LOCK_WRITE);

	/* mount 1 writes: mount 0 may no longer read, and has no roots */
	assert_int_equal(sfs_lock_get(&f->m[1].fs, &r, SFS_LOCK_WRITE, &b), 0);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 1, &roots), -ENOENT);
	assert_int_equal(sfs_lock_roots(&f->m[1].fs, &inside, 0, &roots), 0);
	sfs_lock_put(&f->m[1].fs, b, SFS_LOCK_WRITE);
	/* readable again: the new grant's roots, for the gen as it came */
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_READ, &a), 0);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 1, &roots), 0);
	sfs_lock_put(&f->m[0].fs, a, SFS_LOCK_READ);

	/* write-only never reads */
	r = group(5);
	inside = sfs_key_make(SCOUTFS_FS_ZONE, 5 * 1024 + 1, 1, 0, 0, 0);
	assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE_ONLY, &a), 0);
	assert_int_equal(sfs_lock_roots(&f->m[0].fs, &inside, 1, &roots), -ENOENT);
	sfs_lock_put(&f->m[0].fs, a, SFS_LOCK_WRITE_ONLY);
}

/* sets: merged modes, name order, all or nothing, no lock without cluster locks */
static void test_sets(void **state)
{
	struct fixture *f = *state;
	struct sfs_lock_set set, other;
	struct sfs_item_range r1 = group(41), r2 = group(40), r3 = group(42), r4 = group(43);
	struct sfs_item_range bad = group(40);
	struct sfs_fs none = { 0 };
	struct getter gt;
	unsigned int i;

	start_mount(f, 0, 0);
	start_mount(f, 1, 0);
	sfs_lock_set_init(&set);
	assert_int_equal(sfs_lock_set_add(&set, &r1, SFS_LOCK_READ), 0);
	assert_int_equal(sfs_lock_set_add(&set, &r2, SFS_LOCK_WRITE_ONLY), 0);
	assert_int_equal(sfs_lock_set_add(&set, &r1, SFS_LOCK_WRITE_ONLY), 0);	/* -> WRITE */
	assert_int_equal(sfs_lock_set_add(&set, &r3, SFS_LOCK_READ), 0);
	assert_int_equal(sfs_lock_set_add(&set, &r3, SFS_LOCK_READ), 0);
	assert_int_equal(sfs_lock_set_add(&set, &r2, SFS_LOCK_NULL), -EINVAL);
	bad.end = bad.start;
	assert_int_equal(sfs_lock_set_add(&set, &bad, SFS_LOCK_READ), -EINVAL);
	assert_int_equal(set.nr, 3);
	assert_int_equal(sfs_lock_set_get(&f->m[0].fs, &set), 0);
	for (i = 1; i < set.nr; i++)
		assert_true(sfs_key_cmp(&set.e[i - 1].range.start, &set.e[i].range.start) < 0);
	assert_int_equal(sfs_lock_mode(&f->m[0].fs, &r1.start), SFS_LOCK_WRITE);
	assert_int_equal(sfs_lock_mode(&f->m[0].fs, &r2.start), SFS_LOCK_WRITE_ONLY);
	assert_int_equal(sfs_lock_mode(&f->m[0].fs, &r3.start), SFS_LOCK_READ);
	assert_ptr_equal(sfs_lock_set_find(&set, &r1.end), set.e[1].lock);
	assert_null(sfs_lock_set_find(&set, &r4.start));

	/* another mount's set with a conflicting member waits for this one */
	sfs_lock_set_init(&other);
	assert_int_equal(sfs_lock_set_add(&other, &r3, SFS_LOCK_READ), 0);
	assert_int_equal(sfs_lock_set_get(&f->m[1].fs, &other), 0);	/* READ + READ */
	sfs_lock_set_put(&f->m[1].fs, &other);
	start_getter(&gt, f, 1, 41, SFS_LOCK_READ);
	usleep(300000);
	assert_false(__atomic_load_n(&gt.done, __ATOMIC_SEQ_CST));
	sfs_lock_set_put(&f->m[0].fs, &set);
	join_getter(&gt);
	sfs_lock_put(&f->m[1].fs, gt.lock, SFS_LOCK_READ);

	/* a volume without cluster locks: nothing to take */
	none.counters = &f->counters;
	assert_int_equal(sfs_lock_set_get(&none, &set), 0);
	sfs_lock_set_put(&none, &set);
}

/*
 * write_seqs come from the server's seq counter: a commit persists it
 * in super.seq, so a new server's grants follow the old one's.
 */
static void test_write_seq_persists(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sfs_server_opts sopts = { .addr = (struct sockaddr *)&sin, .addr_len = sizeof(sin),
					 .term = 2, .client_data_target = 8192 };
	struct scoutfs_super_block super;
	struct sfs_item_range r;
	struct sfs_lock *l;
	uint64_t s1 = 0, ino, nr;
	int i;

	start_mount(f, 0, 0);
	for (i = 0; i < 5; i++) {
		r = group(200 + (uint64_t)i);
		assert_int_equal(sfs_lock_get(&f->m[0].fs, &r, SFS_LOCK_WRITE, &l), 0);
		assert_true(sfs_lock_write_seq(l) > s1);
		s1 = sfs_lock_write_seq(l);
		sfs_lock_put(&f->m[0].fs, l, SFS_LOCK_WRITE);
	}
	/* any server commit (here: inode numbers) carries the counter into super.seq */
	assert_int_equal(sfs_client_alloc_inodes(&f->m[0].fs, 10, &ino, &nr), 0);
	assert_int_equal(sfs_super_read(&f->fs, &super), 0);
	assert_true(le64toh(super.seq) >= s1);
	stop_mount(f, 0, true);

	sfs_server_stop(&f->fs);
	assert_int_equal(sfs_server_start(&f->fs, &sopts, &f->bound), 0);
	start_mount(f, 1, 0);
	r = group(300);
	assert_int_equal(sfs_lock_get(&f->m[1].fs, &r, SFS_LOCK_WRITE, &l), 0);
	assert_true(sfs_lock_write_seq(l) > s1);
	sfs_lock_put(&f->m[1].fs, l, SFS_LOCK_WRITE);
}

/* stress: every mount's threads take random modes of 4 locks */
struct stresser {
	struct fixture *f;
	int mount;
	unsigned int seed;
	pthread_t thread;
};

static bool user_modes_compatible(uint8_t a, uint8_t b)
{
	return (a == SFS_LOCK_READ && b == SFS_LOCK_READ) ||
	       (a == SFS_LOCK_WRITE_ONLY && b == SFS_LOCK_WRITE_ONLY);
}

static void *stress_thread(void *arg)
{
	static const uint8_t modes[] = { SFS_LOCK_READ, SFS_LOCK_WRITE, SFS_LOCK_WRITE_ONLY };
	struct stresser *st = arg;
	struct fixture *f = st->f;
	struct sfs_item_range r;
	struct sfs_lock *l;
	uint8_t mode;
	int i, o, m, g;

	for (i = 0; i < 400; i++) {
		/* every other time a set of two locks: name order keeps it deadlock-free */
		if (i % 2) {
			struct sfs_lock_set set;
			struct sfs_item_range r2;
			int g2;

			g = rand_r(&st->seed) % 4;
			g2 = (g + 1 + rand_r(&st->seed) % 3) % 4;
			r = group((uint64_t)g + 100);
			r2 = group((uint64_t)g2 + 100);
			sfs_lock_set_init(&set);
			if (sfs_lock_set_add(&set, &r2, modes[rand_r(&st->seed) % 3]) ||
			    sfs_lock_set_add(&set, &r, modes[rand_r(&st->seed) % 3]) ||
			    sfs_lock_set_get(&f->m[st->mount].fs, &set)) {
				__atomic_add_fetch(&f->conflicts, 1000000, __ATOMIC_SEQ_CST);
				break;
			}
			usleep(50);
			sfs_lock_set_put(&f->m[st->mount].fs, &set);
			continue;
		}
		g = rand_r(&st->seed) % 4;
		mode = modes[rand_r(&st->seed) % 3];
		r = group((uint64_t)g + 100);
		if (sfs_lock_get(&f->m[st->mount].fs, &r, mode, &l)) {
			__atomic_add_fetch(&f->conflicts, 1000000, __ATOMIC_SEQ_CST);
			break;
		}
		pthread_mutex_lock(&f->model_lock);
		for (o = 0; o < NR_MOUNTS; o++) {
			if (o == st->mount)
				continue;
			for (m = 1; m < SFS_LOCK_NR_MODES; m++)
				if (f->users[o][g][m] && !user_modes_compatible(mode, (uint8_t)m))
					f->conflicts++;
		}
		f->users[st->mount][g][mode]++;
		pthread_mutex_unlock(&f->model_lock);
		if (rand_r(&st->seed) % 4 == 0)
			usleep(100);
		else
			sched_yield();
		pthread_mutex_lock(&f->model_lock);
		f->users[st->mount][g][mode]--;
		pthread_mutex_unlock(&f->model_lock);
		sfs_lock_put(&f->m[st->mount].fs, l, mode);
	}
	return NULL;
}

static void test_stress(void **state)
{
	struct fixture *f = *state;
	struct stresser st[NR_MOUNTS * 2];
	uint64_t invals = 0;
	int i;

	for (i = 0; i < NR_MOUNTS; i++)
		start_mount(f, i, 0);
	for (i = 0; i < NR_MOUNTS * 2; i++) {
		st[i].f = f;
		st[i].mount = i % NR_MOUNTS;
		st[i].seed = 7 + (unsigned int)i;
		assert_int_equal(pthread_create(&st[i].thread, NULL, stress_thread, &st[i]), 0);
	}
	for (i = 0; i < NR_MOUNTS * 2; i++)
		pthread_join(st[i].thread, NULL);
	assert_int_equal(f->conflicts, 0);
	for (i = 0; i < NR_MOUNTS; i++)
		invals += f->m[i].invalidations;
	assert_true(invals > 100);
	assert_int_equal(sfs_counter(&f->fs, lock_server_stray_response), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_downgrade_and_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_and_farewell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_roots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_seq_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stress, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
