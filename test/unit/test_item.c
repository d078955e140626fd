// SPDX-License-Identifier: GPL-2.0
/*
 * The item cache against a model.  An image holds fs_root and two log
 * trees with random versions of the same keys (deletion items included),
 * and this mount's own log tree, empty at first.  The cache reads them
 * through a get_roots callback; "commits" write its dirty items into the
 * mount's log tree as trans.c does (sfs_btree_force, deletion items
 * flagged, bloom bits per lock) and publish the new roots.
 *
 * Checked: hits, misses that fill ranges, negative answers from cached
 * ranges without forest reads, next/prev/iterate across range boundaries
 * and across persistent and dirty items, a randomized model of every
 * write with periodic commits compared against a fresh cache over the
 * committed roots, tombstone rules, invalidation, eviction under a
 * memory bound, racing reads (invalidation and writes while the forest is
 * read), -ESTALE retries, and threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "testkeys.h"

#include "counters.h"
#include "forest.h"
#include "item.h"
#include "log.h"
#include "model_alloc.h"

#define NR_TREES 3	/* fs_root + 2 log trees of other mounts */
#define NR_GROUPS 4
#define KEYS_PER_GROUP 600
#define NR_KEYS (NR_GROUPS * KEYS_PER_GROUP)
#define MAX_BLOCKS 4096ULL
#define MOUNT_RID 200

struct mval {
	bool present;
	uint16_t len;
	uint8_t fill;
};

struct commit_rec {
	int nr;
	int nr_del;
	struct scoutfs_key last;
	struct scoutfs_key keys[16];
	uint8_t flags[16];
};

struct fixture {
	char path[64];
	struct sfs_fs fs;
	struct sfs_counters counters;
	struct model_alloc ma;
	struct sfs_block_writer wri;
	pthread_mutex_t roots_lock;	/* roots, for readers racing a commit */
	struct sfs_forest_roots roots;
	struct scoutfs_log_trees lt[NR_TREES - 1];
	struct scoutfs_log_trees mlt;	/* this mount's log tree */
	struct mval model[NR_KEYS];
	uint64_t seq;			/* the open transaction's */
	struct commit_rec crec;

	/* get_roots behaviour */
	int stale_roots;		/* hand out this many stale roots first */
	int roots_err;			/* fail get_roots with this */
	void (*roots_hook)(struct fixture *f);
	int roots_calls;
	struct sfs_forest_roots old_roots; /* handed out once if old_roots_once */
	bool old_roots_once;
};

static uint64_t rng = 0x1234567;

static uint64_t rnd(void)
{
	return test_xorshift(&rng);
}

/* group g of inodes 1024 apart, 8 keys per inode; keys sort by id */
static struct scoutfs_key id_key(int id)
{
	return test_group_key(id, KEYS_PER_GROUP);
}

static int key_id(const struct scoutfs_key *key)
{
	return test_group_key_id(key, KEYS_PER_GROUP);
}

static struct sfs_item_range group_lock(int g)
{
	struct sfs_item_range r;

	r.start = sfs_key_make(SCOUTFS_FS_ZONE, (uint64_t)g * 1024, 0, 0, 0, 0);
	r.end = sfs_key_make(SCOUTFS_FS_ZONE, (uint64_t)g * 1024 + 1023, 255, UINT64_MAX,
			     UINT64_MAX, 255);
	return r;
}

static void fill_val(uint8_t *buf, uint8_t fill, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		buf[i] = (uint8_t)(fill + i * 7);
}

static int get_roots(void *arg, const struct scoutfs_key *key, bool fresh,
		     struct sfs_forest_roots *roots)
{
	struct fixture *f = arg;

	(void)key, (void)fresh;
	__atomic_add_fetch(&f->roots_calls, 1, __ATOMIC_RELAXED);
	if (f->roots_hook)
		f->roots_hook(f);
	if (f->roots_err)
		return f->roots_err;
	pthread_mutex_lock(&f->roots_lock);
	*roots = f->roots;
	pthread_mutex_unlock(&f->roots_lock);
	if (f->old_roots_once) {
		*roots = f->old_roots;
		f->old_roots_once = false;
	}
	if (f->stale_roots) {
		f->stale_roots--;
		roots->fs_root.ref.seq = htole64(le64toh(roots->fs_root.ref.seq) ^ 1);
	}
	return 0;
}

static void cache_setup(struct fixture *f, struct sfs_fs *fs, size_t max_bytes)
{
	struct sfs_item_opts opts = { .get_roots = get_roots, .arg = f, .max_bytes = max_bytes };

	assert_int_equal(sfs_item_setup(fs, &opts), 0);
}

static struct scoutfs_key mount_lt_key(void)
{
	return sfs_key_make(SCOUTFS_LOG_TREES_ZONE, MOUNT_RID, 0, 1, 0, 0);
}

static int setup(void **state)
{
	struct sfs_block_opts opts = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));
	struct scoutfs_btree_root *root;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key key, lock;
	struct {
		bool present;
		uint64_t seq;
		uint8_t flags;
		uint16_t len;
		uint8_t fill;
	} v[NR_TREES];
	int fd, id, t, best;

	pthread_mutex_init(&f->roots_lock, NULL);
	strcpy(f->path, "/var/tmp/sfs-test-item.XXXXXX");
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
		f->lt[t].rid = htole64(100 + (uint64_t)t);
		f->lt[t].nr = htole64(1);
	}
	f->mlt.rid = htole64(MOUNT_RID);
	f->mlt.nr = htole64(1);

	for (id = 0; id < NR_KEYS; id++) {
		memset(v, 0, sizeof(v));
		best = -1;
		for (t = 0; t < NR_TREES; t++) {
			if (rnd() % 100 >= 50)
				continue;
			v[t].present = true;
			v[t].seq = 1 + rnd() % 40;
			v[t].flags = (t > 0 && rnd() % 4 == 0) ? SCOUTFS_BTREE_ITEM_FLAG_DELETION : 0;
			v[t].len = v[t].flags ? 0 : (uint16_t)(rnd() % 200);
			v[t].fill = (uint8_t)rnd();
			if (best < 0 || v[t].seq > v[best].seq)
				best = t;
		}
		if (best >= 0 && !v[best].flags) {
			f->model[id].present = true;
			f->model[id].len = v[best].len;
			f->model[id].fill = v[best].fill;
		}
		key = id_key(id);
		for (t = 0; t < NR_TREES; t++) {
			if (!v[t].present)
				continue;
			root = t == 0 ? &f->roots.fs_root : &f->lt[t - 1].item_root;
			fill_val(val, v[t].fill, v[t].len);
			assert_int_equal(sfs_btree_force(&f->fs, &f->ma.alloc, &f->wri, root, &key,
							 v[t].seq, v[t].flags, val, v[t].len),
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
	key = mount_lt_key();
	assert_int_equal(sfs_btree_insert(&f->fs, &f->ma.alloc, &f->wri, &f->roots.logs_root, &key,
					  0, 0, &f->mlt, sizeof(f->mlt)),
			 0);
	assert_int_equal(sfs_block_writer_write(&f->fs, &f->wri), 0);
	model_alloc_commit(&f->ma);
	f->seq = 1000;
	cache_setup(f, &f->fs, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sfs_item_destroy(&f->fs);
	sfs_item_destroy(&f->fs); /* safe twice */
	sfs_block_writer_forget(&f->fs, &f->wri);
	sfs_block_writer_destroy(&f->wri);
	sfs_block_destroy(&f->fs);
	model_alloc_destroy(&f->ma);
	unlink(f->path);
	pthread_mutex_destroy(&f->roots_lock);
	/* every item and range allocated was freed */
	assert_int_equal(sfs_counter(&f->fs, item_alloc), sfs_counter(&f->fs, item_free));
	assert_int_equal(sfs_counter(&f->fs, item_range_alloc),
			 sfs_counter(&f->fs, item_range_free));
	free(f);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Commits and checks                                                   */
/* ------------------------------------------------------------------ */

static void check_cache(struct sfs_fs *fs)
{
	char why[160];

	if (sfs_item_check(fs, why, sizeof(why)))
		fail_msg("item cache inconsistent: %s", why);
}

static int commit_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		     const void *val, unsigned int val_len)
{
	struct fixture *f = arg;
	struct commit_rec *cr = &f->crec;
	struct scoutfs_key lock;

	if (cr->nr)
		assert_true(sfs_key_cmp(&cr->last, key) < 0);
	cr->last = *key;
	if (cr->nr < 16) {
		cr->keys[cr->nr] = *key;
		cr->flags[cr->nr] = flags;
	}
	cr->nr++;
	if (flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION) {
		cr->nr_del++;
		assert_int_equal(val_len, 0);
	}
	assert_true(seq >= 1000 && seq <= f->seq);
	assert_int_equal(sfs_btree_force(&f->fs, &f->ma.alloc, &f->wri, &f->mlt.item_root, key,
					 seq, flags, val, val_len),
			 0);
	lock = sfs_forest_lock_start(key);
	assert_int_equal(sfs_forest_bloom_set(&f->fs, &f->ma.alloc, &f->wri, &f->mlt.bloom_ref,
					      &lock),
			 0);
	return 0;
}

/* walk the dirty items into f->crec without committing them */
static void peek_dirty(struct fixture *f)
{
	memset(&f->crec, 0, sizeof(f->crec));
	assert_int_equal(sfs_item_for_each_dirty(&f->fs, commit_cb, f), 0);
	assert_int_equal((uint64_t)f->crec.nr, sfs_item_dirty_count(&f->fs));
}

/* write the dirty items into the mount's log tree and publish the roots */
static void commit(struct fixture *f)
{
	struct scoutfs_key key = mount_lt_key();
	struct scoutfs_btree_root logs_root = f->roots.logs_root;

	peek_dirty(f);
	assert_int_equal(sfs_btree_force(&f->fs, &f->ma.alloc, &f->wri, &logs_root, &key, 0, 0,
					 &f->mlt, sizeof(f->mlt)),
			 0);
	assert_int_equal(sfs_block_writer_write(&f->fs, &f->wri), 0);
	/* publish the roots (a server commit), then the blocks they replaced may be reused */
	pthread_mutex_lock(&f->roots_lock);
	f->roots.logs_root = logs_root;
	pthread_mutex_unlock(&f->roots_lock);
	model_alloc_commit(&f->ma);
	sfs_item_commit_done(&f->fs);
	check_cache(&f->fs);
	assert_int_equal(sfs_item_dirty_count(&f->fs), 0);
	assert_int_equal(sfs_item_dirty_bytes(&f->fs), 0);
	f->seq++;
}

static void check_val(const struct mval *m, const void *val, unsigned int len)
{
	uint8_t want[SCOUTFS_BTREE_MAX_VAL_LEN];

	assert_int_equal(len, m->len);
	fill_val(want, m->fill, m->len);
	assert_memory_equal(val, want, len);
}

static void check_lookup(struct fixture *f, struct sfs_fs *fs, int id)
{
	struct sfs_item_range lock = group_lock(id / KEYS_PER_GROUP);
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key key = id_key(id);
	unsigned int len = 0;
	int ret;

	ret = sfs_item_lookup(fs, &key, val, sizeof(val), &len, &lock);
	if (!f->model[id].present) {
		if (ret != -ENOENT)
			fail_msg("key %d: lookup %d, expected -ENOENT", id, ret);
		return;
	}
	if (ret != 0)
		fail_msg("key %d: lookup %d, expected a value", id, ret);
	check_val(&f->model[id], val, len);
}

struct iter_check {
	struct fixture *f;
	int next_id;	/* the next id the model says should come */
	int end_id;
};

static int model_next(struct fixture *f, int id, int last)
{
	for (; id <= last; id++)
		if (f->model[id].present)
			return id;
	return -1;
}

static int model_prev(struct fixture *f, int id, int first)
{
	for (; id >= first; id--)
		if (f->model[id].present)
			return id;
	return -1;
}

static int iter_cb(void *arg, const struct scoutfs_key *key, const void *val,
		   unsigned int val_len)
{
	struct iter_check *ic = arg;
	int id = key_id(key);

	ic->next_id = model_next(ic->f, ic->next_id, ic->end_id);
	if (id != ic->next_id)
		fail_msg("iterate gave key %d, model expects %d", id, ic->next_id);
	check_val(&ic->f->model[id], val, val_len);
	ic->next_id++;
	return 0;
}

static void check_iterate(struct fixture *f, struct sfs_fs *fs, int g)
{
	struct sfs_item_range lock = group_lock(g);
	struct iter_check ic = { .f = f, .next_id = g * KEYS_PER_GROUP,
				 .end_id = (g + 1) * KEYS_PER_GROUP - 1 };

	assert_int_equal(sfs_item_iterate(fs, &lock.start, &lock.end, &lock, iter_cb, &ic), 0);
	assert_int_equal(model_next(f, ic.next_id, ic.end_id), -1);
}

static void check_all(struct fixture *f, struct sfs_fs *fs)
{
	check_cache(fs);
	for (int id = 0; id < NR_KEYS; id++)
		check_lookup(f, fs, id);
	for (int g = 0; g < NR_GROUPS; g++)
		check_iterate(f, fs, g);
	check_cache(fs);
}

/* a second fs sharing the block layer, for a fresh cache over the current roots */
static void check_fresh(struct fixture *f)
{
	struct sfs_fs fs2 = f->fs;

	fs2.item = NULL;
	cache_setup(f, &fs2, 0);
	check_all(f, &fs2);
	sfs_item_destroy(&fs2);
}

static void check_next(struct fixture *f, struct sfs_fs *fs, int id, int last)
{
	struct sfs_item_range lock = group_lock(id / KEYS_PER_GROUP);
	struct scoutfs_key key = id_key(id), lk = id_key(last);
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	int want = model_next(f, id, last);
	int ret;

	ret = sfs_item_next(fs, &key, &lk, &lock, r);
	if (want < 0) {
		if (ret != -ENOENT)
			fail_msg("next %d..%d: %d, model has none", id, last, ret);
	} else {
		if (ret != 0 || key_id(&r->key) != want)
			fail_msg("next %d..%d: %d key %d, model %d", id, last, ret,
				 ret ? -1 : key_id(&r->key), want);
		check_val(&f->model[want], r->val, r->val_len);
	}
	free(r);
}

static void check_prev(struct fixture *f, struct sfs_fs *fs, int id, int first)
{
	struct sfs_item_range lock = group_lock(id / KEYS_PER_GROUP);
	struct scoutfs_key key = id_key(id), fk = id_key(first);
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	int want = model_prev(f, id, first);
	int ret;

	ret = sfs_item_prev(fs, &key, &fk, &lock, r);
	if (want < 0) {
		if (ret != -ENOENT)
			fail_msg("prev %d..%d: %d, model has none", first, id, ret);
	} else {
		if (ret != 0 || key_id(&r->key) != want)
			fail_msg("prev %d..%d: %d key %d, model %d", first, id, ret,
				 ret ? -1 : key_id(&r->key), want);
		check_val(&f->model[want], r->val, r->val_len);
	}
	free(r);
}

/* model writes: return what the cache must return */
enum { OP_CREATE, OP_UPDATE, OP_FORCE, OP_DELETE, OP_DELETE_FORCE };

static void do_write(struct fixture *f, struct sfs_fs *fs, int op, int id, unsigned int len)
{
	struct sfs_item_range lock = group_lock(id / KEYS_PER_GROUP);
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key key = id_key(id);
	struct mval *m = &f->model[id];
	uint8_t fill = (uint8_t)rnd();
	int ret, want = 0;

	fill_val(val, fill, len);
	switch (op) {
	case OP_CREATE:
		want = m->present ? -EEXIST : 0;
		ret = sfs_item_create(fs, &key, val, len, f->seq, &lock);
		break;
	case OP_UPDATE:
		want = m->present ? 0 : -ENOENT;
		ret = sfs_item_update(fs, &key, val, len, f->seq, &lock);
		break;
	case OP_FORCE:
		ret = sfs_item_force(fs, &key, val, len, f->seq, &lock);
		break;
	case OP_DELETE:
		want = m->present ? 0 : -ENOENT;
		ret = sfs_item_delete(fs, &key, f->seq, &lock);
		break;
	default:
		ret = sfs_item_delete_force(fs, &key, f->seq, &lock);
		break;
	}
	if (ret != want)
		fail_msg("write op %d key %d: %d, expected %d", op, id, ret, want);
	if (ret)
		return;
	if (op == OP_DELETE || op == OP_DELETE_FORCE) {
		m->present = false;
	} else {
		m->present = true;
		m->len = (uint16_t)len;
		m->fill = fill;
	}
}

static unsigned int rnd_len(void)
{
	return rnd() % 16 == 0 ? (unsigned int)(rnd() % (SCOUTFS_BTREE_MAX_VAL_LEN + 1))
			       : (unsigned int)(rnd() % 120);
}

static uint64_t reads(struct fixture *f)
{
	return sfs_counter(&f->fs, item_read);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void test_lookup(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range lock = group_lock(0), cr;
	struct scoutfs_key key;
	unsigned int len;
	uint64_t r0, hits0;
	int id, in_range = 0, absent = 0, first = -1, last = -1;

	/* a miss reads once and caches a range around the key */
	r0 = reads(f);
	check_lookup(f, &f->fs, 300);
	assert_int_equal(reads(f) - r0, 1);
	assert_int_equal(sfs_counter(&f->fs, item_lookup_miss), 1);
	key = id_key(300);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr), 0);
	assert_true(sfs_key_cmp(&cr.start, &lock.start) >= 0);
	assert_true(sfs_key_cmp(&cr.end, &lock.end) <= 0);

	/* everything inside it answers without reading: values and absence */
	hits0 = sfs_counter(&f->fs, item_range_hit);
	for (id = 0; id < KEYS_PER_GROUP; id++) {
		key = id_key(id);
		if (sfs_key_cmp(&key, &cr.start) < 0 || sfs_key_cmp(&key, &cr.end) > 0)
			continue;
		if (first < 0)
			first = id;
		last = id;
		check_lookup(f, &f->fs, id);
		in_range++;
		if (!f->model[id].present)
			absent++;
	}
	assert_int_equal(reads(f) - r0, 1);
	assert_true(in_range > 1);
	assert_true(absent > 0);
	assert_int_equal(sfs_counter(&f->fs, item_range_hit) - hits0, (uint64_t)absent);
	print_message("  first read cached keys %d..%d (%d keys, %d absent)\n", first, last,
		      in_range, absent);

	/* the key past the range is a miss (the range was narrowed to a leaf) */
	if (last + 1 < KEYS_PER_GROUP) {
		struct sfs_item_range cr2;

		check_lookup(f, &f->fs, last + 1);
		assert_int_equal(reads(f) - r0, 2);
		/* the new range starts right after the first: touching, not merged */
		key = id_key(last + 1);
		assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr2), 0);
		key = cr.end;
		sfs_key_inc(&key);
		assert_int_equal(sfs_key_cmp(&cr2.start, &key), 0);
	}

	/* every key, then every key again without a single read */
	for (id = 0; id < NR_KEYS; id++)
		check_lookup(f, &f->fs, id);
	r0 = reads(f);
	for (id = 0; id < NR_KEYS; id++)
		check_lookup(f, &f->fs, id);
	assert_int_equal(reads(f), r0);

	/* bad arguments */
	key = id_key(KEYS_PER_GROUP); /* group 1 under group 0's lock */
	assert_int_equal(sfs_item_lookup(&f->fs, &key, NULL, 0, &len, &lock), -EINVAL);
	key = id_key(5);
	assert_int_equal(sfs_item_create(&f->fs, &key, NULL, 1, f->seq, &lock), -EINVAL);
	assert_int_equal(sfs_item_force(&f->fs, &key, &key, SCOUTFS_BTREE_MAX_VAL_LEN + 1, f->seq,
					&lock),
			 -EINVAL);
}

static void test_short_buffer(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range lock = group_lock(1);
	int id = KEYS_PER_GROUP + 10;
	struct scoutfs_key key = id_key(id);
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN], small[4];
	unsigned int len = 0;

	fill_val(val, 9, 100);
	assert_int_equal(sfs_item_force(&f->fs, &key, val, 100, f->seq, &lock), 0);
	memset(small, 0, sizeof(small));
	assert_int_equal(sfs_item_lookup(&f->fs, &key, small, sizeof(small), &len, &lock), 0);
	assert_int_equal(len, 100);
	assert_memory_equal(small, val, sizeof(small));
	assert_int_equal(sfs_item_lookup(&f->fs, &key, NULL, 0, &len, &lock), 0);
	assert_int_equal(len, 100);
	commit(f);
}

static void test_next_prev(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_stats st;
	int g = 1, base = g * KEYS_PER_GROUP, id, i;
	uint64_t r0 = reads(f);

	/* a cached range in the middle first, so walks cross cached and uncached parts */
	check_lookup(f, &f->fs, base + 300);
	check_next(f, &f->fs, base, base + KEYS_PER_GROUP - 1);
	check_prev(f, &f->fs, base + KEYS_PER_GROUP - 1, base);
	check_iterate(f, &f->fs, g);
	sfs_item_get_stats(&f->fs, &st);
	print_message("  group read in %llu forest reads, %llu ranges cached, %llu items\n",
		      (unsigned long long)(reads(f) - r0), (unsigned long long)st.ranges,
		      (unsigned long long)st.items);
	assert_true(reads(f) - r0 > 2);

	/* dirty items: creates in gaps, updates, deletion of persistent items */
	for (i = 0; i < 150; i++) {
		id = base + (int)(rnd() % KEYS_PER_GROUP);
		if (f->model[id].present)
			do_write(f, &f->fs, rnd() % 2 ? OP_DELETE : OP_UPDATE, id, rnd_len());
		else
			do_write(f, &f->fs, OP_CREATE, id, rnd_len());
	}
	/* delete a whole run so walks step over tombstones */
	for (id = base + 100; id < base + 140; id++)
		if (f->model[id].present)
			do_write(f, &f->fs, OP_DELETE, id, 0);

	r0 = reads(f);
	for (i = 0; i < 400; i++) {
		int a = base + (int)(rnd() % KEYS_PER_GROUP);
		int b = base + (int)(rnd() % KEYS_PER_GROUP);

		if (a > b) {
			int t = a;

			a = b;
			b = t;
		}
		check_next(f, &f->fs, a, b);
		check_prev(f, &f->fs, b, a);
	}
	check_next(f, &f->fs, base + 100, base + 139);
	check_prev(f, &f->fs, base + 139, base + 100);
	check_iterate(f, &f->fs, g);
	assert_int_equal(reads(f), r0); /* all cached */

	/* the same through a fresh cache after a commit */
	commit(f);
	check_fresh(f);
	check_iterate(f, &f->fs, g);

	/* a fresh cache walking from nothing: next and prev read as they go */
	sfs_item_destroy(&f->fs);
	cache_setup(f, &f->fs, 0);
	for (i = 0; i < 100; i++) {
		int a = base + (int)(rnd() % KEYS_PER_GROUP);

		check_next(f, &f->fs, a, base + KEYS_PER_GROUP - 1);
		check_prev(f, &f->fs, a, base);
	}
}

static void random_model(struct fixture *f, size_t max_bytes, int nr_ops, int commit_every)
{
	struct sfs_item_stats st;
	int i, id, g, a, b, op, commits = 0, busy = 0, invals = 0;

	sfs_item_destroy(&f->fs);
	cache_setup(f, &f->fs, max_bytes);

	for (i = 1; i <= nr_ops; i++) {
		id = (int)(rnd() % NR_KEYS);
		g = id / KEYS_PER_GROUP;
		op = (int)(rnd() % 100);
		if (op < 20) {
			check_lookup(f, &f->fs, id);
		} else if (op < 28) {
			a = id;
			b = g * KEYS_PER_GROUP + (int)(rnd() % KEYS_PER_GROUP);
			check_next(f, &f->fs, a < b ? a : b, a < b ? b : a);
		} else if (op < 33) {
			a = id;
			b = g * KEYS_PER_GROUP + (int)(rnd() % KEYS_PER_GROUP);
			check_prev(f, &f->fs, a > b ? a : b, a > b ? b : a);
		} else if (op < 48) {
			do_write(f, &f->fs, OP_CREATE, id, rnd_len());
		} else if (op < 60) {
			do_write(f, &f->fs, OP_UPDATE, id, rnd_len());
		} else if (op < 72) {
			do_write(f, &f->fs, OP_FORCE, id, rnd_len());
		} else if (op < 90) {
			do_write(f, &f->fs, OP_DELETE, id, 0);
		} else if (op < 97) {
			do_write(f, &f->fs, OP_DELETE_FORCE, id, 0);
		} else {
			/* dropping a lock: refused while it covers dirty items */
			struct sfs_item_range lock = group_lock(g);
			int ret = sfs_item_invalidate(&f->fs, &lock.start, &lock.end);

			assert_true(ret == 0 || ret == -EBUSY);
			if (ret)
				busy++;
			else
				invals++;
		}

		if (i % 8 == 0)
			check_cache(&f->fs);
		if (max_bytes) {
			sfs_item_get_stats(&f->fs, &st);
			/* over the bound only by what is dirty (and one read) */
			if (st.dirty_items == 0 && st.bytes > max_bytes)
				fail_msg("%llu bytes cached with nothing dirty, bound %zu",
					 (unsigned long long)st.bytes, max_bytes);
		}

		if (i % commit_every == 0) {
			commit(f);
			commits++;
			check_all(f, &f->fs);
			check_fresh(f);
			/* nothing dirty: every lock can be dropped */
			g = (int)(rnd() % NR_GROUPS);
			{
				struct sfs_item_range lock = group_lock(g);

				assert_int_equal(sfs_item_invalidate(&f->fs, &lock.start,
								     &lock.end),
						 0);
			}
		}
	}
	commit(f);
	check_all(f, &f->fs);
	check_fresh(f);
	sfs_item_get_stats(&f->fs, &st);
	print_message("  %d ops, %d commits, %d invalidations (%d refused), %llu reads, "
		      "%llu evicted, %llu items %llu ranges %llu bytes cached\n",
		      nr_ops, commits + 1, invals, busy, (unsigned long long)reads(f),
		      (unsigned long long)sfs_counter(&f->fs, item_shrink),
		      (unsigned long long)st.items, (unsigned long long)st.ranges,
		      (unsigned long long)st.bytes);
	assert_true(commits > 3);
}

static void test_random(void **state)
{
	random_model(*state, 0, 20000, 1500);
}

static void test_random_small(void **state)
{
	struct fixture *f = *state;

	random_model(f, 160 * 1024, 12000, 1000);
	assert_true(sfs_counter(&f->fs, item_shrink) > 0);
	assert_true(sfs_counter(&f->fs, item_shrink_range) > 0);
}

static void test_tombstones(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range lock = group_lock(2);
	int base = 2 * KEYS_PER_GROUP, p = -1, p2 = -1, a = -1, id;
	struct scoutfs_key key;
	uint64_t r0;

	/* read the group; pick two persistent keys and an absent one */
	check_iterate(f, &f->fs, 2);
	for (id = base; id < base + KEYS_PER_GROUP; id++) {
		if (f->model[id].present && p < 0)
			p = id;
		else if (f->model[id].present && p2 < 0)
			p2 = id;
		else if (!f->model[id].present && a < 0)
			a = id;
	}
	assert_true(p >= 0 && p2 >= 0 && a >= 0);

	/* delete of a persistent item: one deletion item */
	do_write(f, &f->fs, OP_DELETE, p, 0);
	assert_int_equal(sfs_item_dirty_count(&f->fs), 1);
	assert_int_equal(sfs_item_dirty_bytes(&f->fs), sizeof(struct scoutfs_btree_item));
	peek_dirty(f);
	assert_int_equal(f->crec.nr, 1);
	assert_int_equal(f->crec.nr_del, 1);
	assert_int_equal(key_id(&f->crec.keys[0]), p);

	/* create + delete in one transaction: nothing */
	do_write(f, &f->fs, OP_CREATE, a, 33);
	assert_int_equal(sfs_item_dirty_bytes(&f->fs),
			 2 * sizeof(struct scoutfs_btree_item) + 33);
	do_write(f, &f->fs, OP_DELETE, a, 0);
	assert_int_equal(sfs_item_dirty_count(&f->fs), 1);

	/* update + delete of a persistent item: a deletion item */
	do_write(f, &f->fs, OP_UPDATE, p2, 10);
	do_write(f, &f->fs, OP_DELETE, p2, 0);
	peek_dirty(f);
	assert_int_equal(f->crec.nr, 2);
	assert_int_equal(f->crec.nr_del, 2);

	commit(f);
	/* the deletion items are gone, the keys still read as absent without reading */
	r0 = reads(f);
	check_lookup(f, &f->fs, p);
	check_lookup(f, &f->fs, p2);
	check_lookup(f, &f->fs, a);
	assert_int_equal(reads(f), r0);
	check_fresh(f);

	/* created, committed, then deleted: now persistent, so a deletion item */
	do_write(f, &f->fs, OP_CREATE, a, 5);
	commit(f);
	do_write(f, &f->fs, OP_DELETE, a, 0);
	peek_dirty(f);
	assert_int_equal(f->crec.nr, 1);
	assert_int_equal(f->crec.nr_del, 1);
	commit(f);
	check_fresh(f);

	/* force and delete_force on uncached keys: no read, deletion items to be safe */
	sfs_item_destroy(&f->fs);
	cache_setup(f, &f->fs, 0);
	r0 = reads(f);
	do_write(f, &f->fs, OP_FORCE, p, 7);
	do_write(f, &f->fs, OP_DELETE, p, 0); /* the forced item answers existence */
	do_write(f, &f->fs, OP_DELETE_FORCE, p2, 0);
	check_lookup(f, &f->fs, p);
	check_lookup(f, &f->fs, p2);
	assert_int_equal(reads(f), r0);
	peek_dirty(f);
	assert_int_equal(f->crec.nr, 2);
	assert_int_equal(f->crec.nr_del, 2);
	/* delete_force of a key known absent writes nothing */
	key = id_key(a);
	check_lookup(f, &f->fs, a);
	assert_int_equal(sfs_item_delete_force(&f->fs, &key, f->seq, &lock), 0);
	assert_int_equal(sfs_item_dirty_count(&f->fs), 2);
	commit(f);
	check_all(f, &f->fs);
	check_fresh(f);
}

static void test_invalidate(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range lock = group_lock(1), cr, cr2;
	struct sfs_item_stats st, st2;
	struct scoutfs_key s, e, key;
	int base = KEYS_PER_GROUP, id;
	uint64_t r0;

	check_iterate(f, &f->fs, 0);
	check_iterate(f, &f->fs, 1);
	sfs_item_get_stats(&f->fs, &st);

	/* drop group 1: group 0 stays, group 1 reads again */
	assert_int_equal(sfs_item_invalidate(&f->fs, &lock.start, &lock.end), 0);
	sfs_item_get_stats(&f->fs, &st2);
	assert_true(st2.items < st.items);
	key = id_key(base + 5);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr), -ENOENT);
	r0 = reads(f);
	check_iterate(f, &f->fs, 0);
	assert_int_equal(reads(f), r0);
	check_iterate(f, &f->fs, 1);
	assert_true(reads(f) > r0);

	/* drop one key strictly inside a cached range: it splits in two */
	for (id = base + 250;; id++) {
		key = id_key(id);
		assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr), 0);
		if (sfs_key_cmp(&cr.start, &key) < 0 && sfs_key_cmp(&key, &cr.end) < 0)
			break;
	}
	s = key;
	assert_int_equal(sfs_item_invalidate(&f->fs, &s, &s), 0);
	assert_int_equal(sfs_item_cached_range(&f->fs, &s, &cr2), -ENOENT);
	key = s;
	sfs_key_dec(&key);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr2), 0);
	assert_int_equal(sfs_key_cmp(&cr2.start, &cr.start), 0);
	assert_int_equal(sfs_key_cmp(&cr2.end, &key), 0);
	key = s;
	sfs_key_inc(&key);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr2), 0);
	assert_int_equal(sfs_key_cmp(&cr2.start, &key), 0);
	assert_int_equal(sfs_key_cmp(&cr2.end, &cr.end), 0);
	check_lookup(f, &f->fs, id);

	/* drop a span across ranges: the ends are trimmed, the inside is gone */
	s = id_key(base + 200);
	e = id_key(base + 299);
	assert_int_equal(sfs_item_invalidate(&f->fs, &s, &e), 0);
	for (id = base + 200; id <= base + 299; id++) {
		key = id_key(id);
		assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr), -ENOENT);
	}
	key = id_key(base + 199);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr), 0);
	assert_true(sfs_key_cmp(&cr.end, &s) < 0);
	key = id_key(base + 300);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &cr), 0);
	assert_true(sfs_key_cmp(&cr.start, &e) > 0);
	r0 = reads(f);
	for (id = base + 150; id < base + 350; id++)
		check_lookup(f, &f->fs, id);
	assert_true(reads(f) > r0);
	check_iterate(f, &f->fs, 1);

	/* refused while dirty items are inside; nothing changes */
	do_write(f, &f->fs, OP_FORCE, base + 250, 12);
	sfs_item_get_stats(&f->fs, &st);
	assert_int_equal(sfs_item_invalidate(&f->fs, &lock.start, &lock.end), -EBUSY);
	sfs_item_get_stats(&f->fs, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	/* but a range beside them may go */
	s = id_key(base + 251);
	assert_int_equal(sfs_item_invalidate(&f->fs, &s, &lock.end), 0);
	commit(f);
	assert_int_equal(sfs_item_invalidate(&f->fs, &lock.start, &lock.end), 0);
	check_all(f, &f->fs);
	assert_int_equal(sfs_item_invalidate(&f->fs, &e, &s), -EINVAL);
}

/* races: things that happen while a miss reads the forest with no lock */
static int race_id;

static void hook_invalidate(struct fixture *f)
{
	struct sfs_item_range lock = group_lock(race_id / KEYS_PER_GROUP);

	f->roots_hook = NULL;
	assert_int_equal(sfs_item_invalidate(&f->fs, &lock.start, &lock.end), 0);
}

static void hook_write(struct fixture *f)
{
	f->roots_hook = NULL;
	/* uncached: force writes without reading, under the racing read */
	do_write(f, &f->fs, OP_FORCE, race_id, 21);
}

/*
 * While a miss reads: another reader caches the range around race_id, a
 * writer deletes it and commits, and the miss reads the roots from before
 * that commit.  What it read over the range cached since must not be used.
 */
static void hook_commit(struct fixture *f)
{
	struct sfs_forest_roots old = f->roots;

	f->roots_hook = NULL;
	check_lookup(f, &f->fs, race_id);
	do_write(f, &f->fs, OP_DELETE, race_id, 0);
	commit(f);
	f->old_roots = old;
	f->old_roots_once = true;
}

/*
 * While a miss reads: a force write (no read, so outside any range) of
 * race_id commits, which drops the committed item, and the miss reads the
 * roots from before that commit.  It must read again.
 */
static void hook_force_commit(struct fixture *f)
{
	struct sfs_forest_roots old = f->roots;

	f->roots_hook = NULL;
	do_write(f, &f->fs, OP_FORCE, race_id, 77);
	commit(f);
	f->old_roots = old;
	f->old_roots_once = true;
}

static void test_races(void **state)
{
	struct fixture *f = *state;
	uint64_t r0 = reads(f);
	int id;

	/* an invalidation during the read: thrown away, read again */
	race_id = 3 * KEYS_PER_GROUP + 17;
	f->roots_hook = hook_invalidate;
	check_lookup(f, &f->fs, race_id);
	assert_int_equal(sfs_counter(&f->fs, item_read_race), 1);
	assert_int_equal(reads(f) - r0, 2);

	/* a write during the read: the dirty item wins over what was read */
	race_id = 2 * KEYS_PER_GROUP + 40;
	f->roots_hook = hook_write;
	check_next(f, &f->fs, race_id - 5, race_id + 5);
	check_lookup(f, &f->fs, race_id);
	check_iterate(f, &f->fs, 2);
	commit(f);
	check_fresh(f);

	/* a commit of a deletion during the read, which used older roots */
	for (id = KEYS_PER_GROUP + 200; !f->model[id].present; id++)
		;
	race_id = id;
	f->roots_hook = hook_commit;
	check_lookup(f, &f->fs, race_id + 1);
	assert_false(f->old_roots_once);
	check_lookup(f, &f->fs, race_id);
	check_iterate(f, &f->fs, 1);
	check_fresh(f);

	/* a commit dropping an item outside every range during the read */
	sfs_item_destroy(&f->fs);
	cache_setup(f, &f->fs, 0);
	race_id = 3 * KEYS_PER_GROUP + 300;
	f->roots_hook = hook_force_commit;
	r0 = sfs_counter(&f->fs, item_read_race);
	check_lookup(f, &f->fs, race_id + 1);
	assert_int_equal(sfs_counter(&f->fs, item_read_race) - r0, 1);
	check_lookup(f, &f->fs, race_id);
	check_iterate(f, &f->fs, 3);
	check_fresh(f);
}

static void test_shrink(void **state)
{
	struct fixture *f = *state;
	const size_t max = 32 * 1024;
	struct sfs_item_stats st;
	int id, i;

	sfs_item_destroy(&f->fs);
	cache_setup(f, &f->fs, max);
	for (i = 0; i < 2; i++) {
		for (id = 0; id < NR_KEYS; id++) {
			check_lookup(f, &f->fs, id);
			sfs_item_get_stats(&f->fs, &st);
			assert_true(st.bytes <= max);
		}
	}
	assert_true(sfs_counter(&f->fs, item_shrink) > 0);
	assert_true(sfs_counter(&f->fs, item_shrink_range) > 0);

	/* dirty items past the bound stay, and answers stay right */
	for (id = 0; id < 400; id++)
		do_write(f, &f->fs, OP_FORCE, id * 3 % NR_KEYS, 200);
	sfs_item_get_stats(&f->fs, &st);
	assert_true(st.bytes > max);
	assert_int_equal(st.dirty_items, 400);
	check_all(f, &f->fs);
	commit(f);
	check_cache(&f->fs);
	/* the committed items left outside ranges by eviction went with the commit */
	sfs_item_get_stats(&f->fs, &st);
	assert_true(st.bytes <= max);
	check_all(f, &f->fs);
	sfs_item_get_stats(&f->fs, &st);
	assert_true(st.bytes <= max);
	check_fresh(f);
}

static void test_stale(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range lock = group_lock(0);
	struct scoutfs_key key = id_key(3);
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	unsigned int len;

	/* stale roots once, then good ones */
	f->stale_roots = 1;
	f->roots_calls = 0;
	check_lookup(f, &f->fs, 3);
	assert_int_equal(f->roots_calls, 2);
	assert_int_equal(sfs_counter(&f->fs, item_read_stale), 1);

	/* stale every time: -EIO, nothing cached */
	key = id_key(KEYS_PER_GROUP + 3);
	lock = group_lock(1);
	f->stale_roots = 1000;
	f->roots_calls = 0;
	assert_int_equal(sfs_item_lookup(&f->fs, &key, val, sizeof(val), &len, &lock), -EIO);
	assert_int_equal(f->roots_calls, 3);
	assert_int_equal(sfs_item_cached_range(&f->fs, &key, &lock), -ENOENT);
	f->stale_roots = 0;

	/* get_roots failing: its error */
	lock = group_lock(1);
	f->roots_err = -ENOTCONN;
	assert_int_equal(sfs_item_lookup(&f->fs, &key, val, sizeof(val), &len, &lock), -ENOTCONN);
	assert_int_equal(sfs_item_create(&f->fs, &key, val, 1, f->seq, &lock), -ENOTCONN);
	f->roots_err = 0;
	check_lookup(f, &f->fs, KEYS_PER_GROUP + 3);
}

/* threads: writers in their own groups, a reader and invalidator of the last */
struct thr {
	struct fixture *f;
	int g;
	bool writes;
	int iters;
	int errors;
	uint64_t seed;
	struct mval model[KEYS_PER_GROUP];
};

static uint64_t trnd(struct thr *t)
{
	t->seed ^= t->seed << 13;
	t->seed ^= t->seed >> 7;
	t->seed ^= t->seed << 17;
	return t->seed;
}

static bool val_ok(const struct mval *m, const uint8_t *val, unsigned int len)
{
	uint8_t want[SCOUTFS_BTREE_MAX_VAL_LEN];

	fill_val(want, m->fill, m->len);
	return len == m->len && memcmp(val, want, len) == 0;
}

static void *thr_fn(void *arg)
{
	struct thr *t = arg;
	struct sfs_fs *fs = &t->f->fs;
	struct sfs_item_range lock = group_lock(t->g);
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	bool writer = t->writes && t->g < NR_GROUPS - 1;
	unsigned int len;
	int i, k, ret;

	for (i = 0; i < t->iters; i++) {
		k = (int)(trnd(t) % KEYS_PER_GROUP);
		struct scoutfs_key key = id_key(t->g * KEYS_PER_GROUP + k);
		struct mval *m = &t->model[k];
		int op = (int)(trnd(t) % 10);

		if (op < 4 || (!writer && op < 8)) {
			ret = sfs_item_lookup(fs, &key, val, sizeof(val), &len, &lock);
			if (m->present ? (ret || !val_ok(m, val, len)) : ret != -ENOENT)
				t->errors++;
		} else if (op < 6 || !writer) {
			if (t->g == NR_GROUPS - 1 && op == 9) {
				ret = sfs_item_invalidate(fs, &lock.start, &lock.end);
				if (ret)
					t->errors++;
				continue;
			}
			ret = sfs_item_next(fs, &key, &lock.end, &lock, r);
			while (k < KEYS_PER_GROUP && !t->model[k].present)
				k++;
			if (k == KEYS_PER_GROUP ? ret != -ENOENT
						: (ret || key_id(&r->key) != t->g * KEYS_PER_GROUP + k ||
						   !val_ok(&t->model[k], r->val, r->val_len)))
				t->errors++;
		} else if (op < 8) {
			len = (unsigned int)(trnd(t) % 100);
			m->fill = (uint8_t)trnd(t);
			fill_val(val, m->fill, len);
			ret = sfs_item_force(fs, &key, val, len, t->f->seq, &lock);
			if (ret)
				t->errors++;
			m->present = true;
			m->len = (uint16_t)len;
		} else {
			ret = sfs_item_delete(fs, &key, t->f->seq, &lock);
			if (ret != (m->present ? 0 : -ENOENT))
				t->errors++;
			m->present = false;
		}
	}
	free(r);
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct thr *t = calloc(NR_GROUPS, sizeof(*t));
	pthread_t tid[NR_GROUPS];
	int g, k;

	sfs_item_destroy(&f->fs);
	cache_setup(f, &f->fs, 48 * 1024);

	/* writers in groups 0-2, group 3 read and invalidated */
	for (g = 0; g < NR_GROUPS; g++) {
		t[g].f = f;
		t[g].g = g;
		t[g].writes = true;
		t[g].iters = 6000;
		t[g].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(g + 1);
		memcpy(t[g].model, &f->model[g * KEYS_PER_GROUP], sizeof(t[g].model));
		assert_int_equal(pthread_create(&tid[g], NULL, thr_fn, &t[g]), 0);
	}
	for (g = 0; g < NR_GROUPS; g++) {
		pthread_join(tid[g], NULL);
		assert_int_equal(t[g].errors, 0);
		for (k = 0; k < KEYS_PER_GROUP; k++)
			f->model[g * KEYS_PER_GROUP + k] = t[g].model[k];
	}
	check_all(f, &f->fs);

	/* readers (and group 3's invalidations) while the dirty items commit */
	for (g = 0; g < NR_GROUPS; g++) {
		t[g].writes = false;
		t[g].iters = 3000;
		assert_int_equal(pthread_create(&tid[g], NULL, thr_fn, &t[g]), 0);
	}
	assert_true(sfs_item_dirty_count(&f->fs) > 0);
	commit(f);
	for (g = 0; g < NR_GROUPS; g++) {
		pthread_join(tid[g], NULL);
		assert_int_equal(t[g].errors, 0);
	}
	print_message("  %llu reads, %llu read races, %llu stale retries, %llu evicted items\n",
		      (unsigned long long)reads(f),
		      (unsigned long long)sfs_counter(&f->fs, item_read_race),
		      (unsigned long long)sfs_counter(&f->fs, item_read_stale),
		      (unsigned long long)sfs_counter(&f->fs, item_shrink));
	check_all(f, &f->fs);
	check_fresh(f);
	free(t);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_throughput(void **state)
{
	struct fixture *f = *state;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key keys[1024];
	struct sfs_item_range locks[NR_GROUPS];
	unsigned int len;
	uint64_t n = 0, r0;
	double t0, t;
	int i, id;

	for (id = 0; id < NR_KEYS; id++)
		check_lookup(f, &f->fs, id);
	for (i = 0; i < NR_GROUPS; i++)
		locks[i] = group_lock(i);
	for (i = 0; i < 1024; i++)
		keys[i] = id_key((int)(rnd() % NR_KEYS));
	r0 = reads(f);
	t0 = now();
	do {
		for (i = 0; i < 1024; i++)
			sfs_item_lookup(&f->fs, &keys[i], val, sizeof(val), &len,
					&locks[key_id(&keys[i]) / KEYS_PER_GROUP]);
		n += 1024;
		t = now() - t0;
	} while (t < 0.3);
	assert_int_equal(reads(f), r0);
	print_message("  %.0f cached lookups/s over %d keys (information, not a test)\n",
		      (double)n / t, NR_KEYS);
}


/* ------------------------------------------------------------------ */
/* Deltas (zone 12)                                                     */
/* ------------------------------------------------------------------ */

static int count_cb(void *arg, const struct scoutfs_key *key, const void *val,
		    unsigned int val_len)
{
	(void)key, (void)val, (void)val_len;
	(*(int *)arg)++;
	return 0;
}

static void put_delta(struct fixture *f, const struct scoutfs_key *key,
		      const struct sfs_item_range *lock, int64_t total, int64_t count)
{
	struct scoutfs_xattr_totl_val tv = { .total = htole64((uint64_t)total),
					     .count = htole64((uint64_t)count) };

	assert_int_equal(sfs_item_delta(&f->fs, key, &tv, sizeof(tv), f->seq, lock), 0);
	check_cache(&f->fs);
}

/*
 * Deltas accumulate per key without reading, a combination that nets to
 * 0/0 leaves nothing, reads and other writes of the zone are refused or
 * pass it over, a commit writes one item per key and drops it.
 */
static void test_deltas(void **state)
{
	struct fixture *f = *state;
	struct sfs_item_range lock = {
		.start = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 0, 0, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, UINT64_MAX, 255, UINT64_MAX,
				    UINT64_MAX, 255),
	}, all = { .start = lock.start, .end = lock.end };
	struct scoutfs_key a = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 1, 0, 2, 3, 0);
	struct scoutfs_key b = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 1, 0, 2, 4, 0);
	struct scoutfs_key fsk = id_key(5);
	struct sfs_item_range fs_lock = { .start = fsk, .end = fsk };
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_xattr_totl_val tv;
	unsigned int len;
	uint64_t r0 = reads(f);
	int n = 0;

	put_delta(f, &a, &lock, 5, 1);
	put_delta(f, &a, &lock, 7, 1);
	put_delta(f, &a, &lock, -5, -1);
	put_delta(f, &b, &lock, 9, 1);
	put_delta(f, &b, &lock, -9, -1);	/* b nets to nothing */
	put_delta(f, &b, &lock, 0, 0);		/* nothing at all */
	assert_int_equal(sfs_item_dirty_count(&f->fs), 1);
	assert_int_equal(reads(f), r0);

	/* the zone is write-only through the cache */
	assert_int_equal(sfs_item_lookup(&f->fs, &a, &tv, sizeof(tv), &len, &lock), -EINVAL);
	assert_int_equal(sfs_item_force(&f->fs, &a, &tv, sizeof(tv), f->seq, &lock), -EINVAL);
	assert_int_equal(sfs_item_delete_force(&f->fs, &a, f->seq, &lock), -EINVAL);
	assert_int_equal(sfs_item_delta(&f->fs, &fsk, &tv, sizeof(tv), f->seq, &fs_lock),
			 -EINVAL);
	assert_int_equal(sfs_item_delta(&f->fs, &a, &tv, 8, f->seq, &lock), -EINVAL);
	assert_int_equal(sfs_item_iterate(&f->fs, &all.start, &all.end, &all, count_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sfs_item_next(&f->fs, &lock.start, &lock.end, &lock, r), -ENOENT);
	check_cache(&f->fs);

	peek_dirty(f);
	assert_int_equal(f->crec.nr, 1);
	assert_int_equal(f->crec.flags[0], 0);
	assert_int_equal(sfs_key_cmp(&f->crec.keys[0], &a), 0);
	commit(f);
	assert_int_equal(sfs_item_dirty_count(&f->fs), 0);
	check_cache(&f->fs);

	/* the committed tree holds the sum, and a forest read sums it */
	assert_int_equal(sfs_forest_lookup(&f->fs, &f->roots, &a, r), 0);
	assert_int_equal(r->val_len, sizeof(tv));
	memcpy(&tv, r->val, sizeof(tv));
	assert_int_equal((int64_t)le64toh(tv.total), 7);
	assert_int_equal((int64_t)le64toh(tv.count), 1);
	assert_int_equal(sfs_forest_lookup(&f->fs, &f->roots, &b, r), -ENOENT);

	/* the next transaction's delta is its own again */
	put_delta(f, &a, &lock, 3, 1);
	peek_dirty(f);
	assert_int_equal(f->crec.nr, 1);
	free(r);
	commit(f);
	check_cache(&f->fs);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lookup),
		T(test_short_buffer),
		T(test_next_prev),
		T(test_tombstones),
		T(test_invalidate),
		T(test_races),
		T(test_stale),
		T(test_shrink),
		T(test_random),
		T(test_random_small),
		T(test_threads),
		T(test_throughput),
		T(test_deltas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
