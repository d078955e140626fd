// SPDX-License-Identifier: GPL-2.0
/*
 * The item cache: every metadata item a mount reads or writes goes
 * through it (reference-scoutfs.md 2.3-2.5).
 *
 * Model.  The cache holds
 *   - items, in one red-black tree by key: clean copies of persistent
 *     items, and dirty items written in the open transaction (live items
 *     or deletion items, "tombstones");
 *   - cached ranges, in a second tree by start key: disjoint inclusive key
 *     ranges that a forest read answered for completely.  Inside a cached
 *     range, a key with no item does not exist (negative caching).  Each
 *     is about what one read answered for (a leaf's worth), which makes it
 *     the unit of eviction;
 *   - the dirty items again, in a third tree by key, for commits.
 *
 * A read that finds its key outside every cached range is a miss.  The
 * miss reads the forest over the gap around the key (bounded by the
 * caller's lock range and the neighbouring cached ranges); the forest
 * narrows that to the range its leaves covered, and the cache inserts the
 * items returned and records the narrowed range, merged with any range it
 * overlaps (only racing reads overlap).  The operation is then retried
 * under the same lock.
 *
 * Invariants:
 *  1. Cached ranges never overlap.  They may touch (end + 1 == start) and
 *     are not merged then: walks step from one to the next, and keeping
 *     them apart keeps eviction from dropping a hot range with a cold
 *     neighbour (merged ranges would grow over every lock the mount
 *     reads, and eviction would drop all or nothing).
 *  2. Every clean item lies inside a cached range, and is the persistent
 *     version of its key as of the cache's knowledge.
 *  3. A dirty item is authoritative for its own key whether or not it
 *     lies inside a cached range: reads never replace it, and it may be
 *     left outside any range by eviction or by force writes that do not
 *     read.  A key is answered from the cache if it has an item, or lies
 *     inside a cached range; otherwise it is a miss.
 *  4. ITEM_PERSISTENT is set on every clean item, and on a dirty item
 *     unless the key was known not to exist persistently when the item
 *     was created in this transaction.  Deleting a persistent item leaves
 *     a dirty tombstone that must reach the log btree; deleting a
 *     non-persistent one frees it.  Tombstones are always dirty.
 *  5. The dirty tree holds exactly the items with ITEM_DIRTY;
 *     dirty_count/dirty_bytes sum over it.
 *  6. bytes is the memory of every item (struct + value capacity) and
 *     range; after each operation that took the write lock it is at most
 *     max_bytes unless the excess is dirty items (never evicted).
 *  7. Delta keys (zone 12, sfs_forest_delta_key) hold only dirty delta
 *     items (ITEM_DELTA): the sum of this transaction's deltas of the
 *     key, never 0/0, never persistent.  Nothing read from the forest is
 *     cached there (the forest's value of a delta key is a sum over the
 *     trees, which a delta cannot be applied to without reading it, and
 *     deltas are written without reading: the reference's WRITE_ONLY
 *     totl lock).  Reads skip delta items; commit_done drops them.
 *
 * Reads and races.  The forest is read with no cache lock held.  Before
 * unlocking, the miss records gen; the insert (under the write lock)
 * throws the read away if gen changed, and the operation misses again
 * and rereads with fresh roots.  gen changes when
 *   - a range is invalidated (the persistent state there may have moved
 *     on under another mount's lock), and
 *   - commit_done drops a committed item that lay outside every cached
 *     range (a read that began before the commit, with older roots, would
 *     otherwise cache the version from before it: the read/dirty barrier
 *     of the reference).
 * Inserting skips read items whose key already lies inside a cached range
 * (that part was cached by a racing read and may have been written since)
 * or already has an item (a dirty item: invariant 3).  -ESTALE from the
 * forest means the roots were recycled: get new ones and reread, up to
 * READ_ATTEMPTS times, then -EIO, logged.
 *
 * Eviction.  When an operation that holds the write lock leaves bytes
 * above max_bytes, whole cached ranges are dropped, least recently used
 * first, with their clean items (a partial drop would break negative
 * caching), until bytes is below 7/8 of max_bytes.  Dirty items stay
 * (invariant 3).  Recency is a per-range stamp set from tick, which every
 * operation holding the write lock advances; lookups under the read lock
 * store the current tick into the range they used (a relaxed atomic), so
 * recency is exact to within the reads between two cache changes.  An
 * operation's own range may go too, once the operation is done: a bound
 * smaller than a few reads (a leaf of every tree read, up to 64 KiB each)
 * makes the cache reread constantly but stays correct.
 *
 * Commits.  trans.c holds the transaction exclusively from
 * sfs_item_for_each_dirty() to sfs_item_commit_done(), so no item writes
 * run.  With no writers nothing changes the dirty tree or dirty items
 * (inserts skip them, eviction and invalidation never free them), so
 * for_each_dirty walks it without the cache lock and readers and misses
 * proceed during the commit.  committing is set during the walk and
 * writes refuse with -EBUSY (logged) while it is, to catch a caller that
 * breaks the rule.  A failed commit just leaves the items dirty: writes
 * may resume and the next commit walks them again.
 *
 * Locking.  One rwlock per cache (writer-preferring), a leaf lock: no
 * other lock is taken under it and nothing that can block on I/O or on
 * get_roots runs under it.  Lookups, next and prev take it for reading
 * and touch only range stamps (atomics); misses, writes, invalidation,
 * commit_done and eviction take it for writing.  Counters are atomics.
 *
 * Failure.  Errors leave the cache as it was: a failed read caches
 * nothing, a write that cannot allocate changes nothing, invalidation that
 * finds dirty items changes nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/tree.h>

#include "counters.h"
#include "forest.h"
#include "item.h"
#include "log.h"
#include "text.h"

/* forest read attempts with fresh roots before -ESTALE becomes -EIO */
#define READ_ATTEMPTS 3

/* an operation found a key it cannot answer: read around op->miss */
#define OP_MISS 1

/* struct item flags */
#define ITEM_DIRTY 0x01		/* in the dirty tree, written in the open transaction */
#define ITEM_PERSISTENT 0x02	/* (may) exist in the persistent trees */
#define ITEM_DELETION 0x04	/* a tombstone: no value, always dirty */
#define ITEM_DELTA 0x08		/* a delta key's summed deltas: always dirty (invariant 7) */

struct item {
	RB_ENTRY(item) node;	/* cache->items; cache lock */
	RB_ENTRY(item) dnode;	/* cache->dirty while ITEM_DIRTY; cache lock */
	struct scoutfs_key key;	/* never changes while linked */
	uint64_t seq;		/* cache lock */
	uint16_t val_len;	/* cache lock */
	uint16_t val_cap;	/* bytes allocated for val */
	uint8_t flags;		/* ITEM_*; cache lock */
	uint8_t val[];
};

struct range {
	RB_ENTRY(range) node;	/* cache->ranges; cache lock */
	struct scoutfs_key start; /* cache lock (write) */
	struct scoutfs_key end;	/* cache lock (write) */
	uint64_t stamp;		/* recency: atomic, stored under the read lock */
};

static inline int item_cmp(const struct item *a, const struct item *b)
{
	return sfs_key_cmp(&a->key, &b->key);
}

static inline int range_cmp(const struct range *a, const struct range *b)
{
	return sfs_key_cmp(&a->start, &b->start);
}

/* libbsd's RB_GENERATE_STATIC leaves the unused functions unmarked: mark them */
#define RB_ATTR __attribute__((__unused__)) static
RB_HEAD(item_tree, item);
RB_HEAD(dirty_tree, item);
RB_HEAD(range_tree, range);
RB_GENERATE_INTERNAL(item_tree, item, node, item_cmp, RB_ATTR)
RB_GENERATE_INTERNAL(dirty_tree, item, dnode, item_cmp, RB_ATTR)
RB_GENERATE_INTERNAL(range_tree, range, node, range_cmp, RB_ATTR)

struct sfs_item_cache {
	pthread_rwlock_t rwlock;
	bool rwlock_init;

	/* set at setup, read only after */
	int (*get_roots)(void *arg, const struct scoutfs_key *key, bool fresh,
			 struct sfs_forest_roots *roots);
	void *get_roots_arg;
	uint64_t max_bytes;

	/* the rest: rwlock (write) unless noted */
	struct item_tree items;
	struct dirty_tree dirty;
	struct range_tree ranges;
	uint64_t nr_items;
	uint64_t nr_ranges;
	uint64_t bytes;
	uint64_t dirty_count;
	uint64_t dirty_bytes;
	uint64_t gen;		/* invalidation / commit barrier for racing reads */
	uint64_t commits;	/* atomic: sfs_item_commit_done calls */
	uint64_t tick;		/* recency clock; read under the read lock */
	bool committing;	/* for_each_dirty is walking: writes refused */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void cache_lock(struct sfs_item_cache *c, bool write)
{
	if (write)
		pthread_rwlock_wrlock(&c->rwlock);
	else
		pthread_rwlock_rdlock(&c->rwlock);
}

static void cache_unlock(struct sfs_item_cache *c)
{
	pthread_rwlock_unlock(&c->rwlock);
}

static bool key_in(const struct scoutfs_key *key, const struct scoutfs_key *start,
		   const struct scoutfs_key *end)
{
	return sfs_key_cmp(key, start) >= 0 && sfs_key_cmp(key, end) <= 0;
}

/* leaf bytes a dirty item needs in the log btree */
static uint64_t dirty_size(const struct item *it)
{
	return sizeof(struct scoutfs_btree_item) + it->val_len;
}

static uint64_t item_mem(const struct item *it)
{
	return sizeof(*it) + it->val_cap;
}

/* ------------------------------------------------------------------ */
/* Items                                                                */
/* ------------------------------------------------------------------ */

static struct item *item_find(struct sfs_item_cache *c, const struct scoutfs_key *key)
{
	struct item *it = RB_ROOT(&c->items);
	int cmp;

	while (it) {
		cmp = sfs_key_cmp(key, &it->key);
		if (cmp < 0)
			it = RB_LEFT(it, node);
		else if (cmp > 0)
			it = RB_RIGHT(it, node);
		else
			return it;
	}
	return NULL;
}

/* the first item with a key >= key */
static struct item *item_ceil(struct sfs_item_cache *c, const struct scoutfs_key *key)
{
	struct item *it = RB_ROOT(&c->items), *best = NULL;
	int cmp;

	while (it) {
		cmp = sfs_key_cmp(key, &it->key);
		if (cmp == 0)
			return it;
		if (cmp < 0) {
			best = it;
			it = RB_LEFT(it, node);
		} else {
			it = RB_RIGHT(it, node);
		}
	}
	return best;
}

/* the last item with a key <= key */
static struct item *item_floor(struct sfs_item_cache *c, const struct scoutfs_key *key)
{
	struct item *it = RB_ROOT(&c->items), *best = NULL;
	int cmp;

	while (it) {
		cmp = sfs_key_cmp(key, &it->key);
		if (cmp == 0)
			return it;
		if (cmp > 0) {
			best = it;
			it = RB_RIGHT(it, node);
		} else {
			it = RB_LEFT(it, node);
		}
	}
	return best;
}

static struct item *item_alloc(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t seq,
			       uint8_t flags, unsigned int cap)
{
	struct item *it;

	it = malloc(sizeof(*it) + cap);
	if (!it)
		return NULL;
	it->key = *key;
	it->seq = seq;
	it->val_len = 0;
	it->val_cap = (uint16_t)cap;
	it->flags = flags;
	sfs_inc(fs, item_alloc);
	return it;
}

static void item_free(struct sfs_fs *fs, struct item *it)
{
	if (it) {
		free(it);
		sfs_inc(fs, item_free);
	}
}

static void item_link(struct sfs_item_cache *c, struct item *it)
{
	RB_INSERT(item_tree, &c->items, it);
	c->nr_items++;
	c->bytes += item_mem(it);
}

static void dirty_unlink(struct sfs_item_cache *c, struct item *it)
{
	RB_REMOVE(dirty_tree, &c->dirty, it);
	it->flags &= (uint8_t)~ITEM_DIRTY;
	c->dirty_count--;
	c->dirty_bytes -= dirty_size(it);
}

static void item_unlink(struct sfs_item_cache *c, struct item *it)
{
	if (it->flags & ITEM_DIRTY)
		dirty_unlink(c, it);
	RB_REMOVE(item_tree, &c->items, it);
	c->nr_items--;
	c->bytes -= item_mem(it);
}

/* give a linked item a new dirty version: a value (deletion 0) or a tombstone */
static void item_set_dirty(struct sfs_item_cache *c, struct item *it, uint64_t seq,
			   const void *val, unsigned int val_len, uint8_t deletion)
{
	if (it->flags & ITEM_DIRTY)
		c->dirty_bytes -= dirty_size(it);
	it->seq = seq;
	it->val_len = (uint16_t)val_len;
	if (val_len)
		memcpy(it->val, val, val_len);
	it->flags = (uint8_t)((it->flags & ~ITEM_DELETION) | deletion);
	if (!(it->flags & ITEM_DIRTY)) {
		it->flags |= ITEM_DIRTY;
		RB_INSERT(dirty_tree, &c->dirty, it);
		c->dirty_count++;
	}
	c->dirty_bytes += dirty_size(it);
}

/* a delta item's value is 0/0 (its value may be unaligned: copied) */
static bool delta_item_null(const struct item *it)
{
	struct scoutfs_xattr_totl_val v;

	memcpy(&v, it->val, sizeof(v));
	return sfs_forest_delta_null(&v);
}

static void copy_ret(struct sfs_btree_item_ret *ret, const struct item *it)
{
	ret->key = it->key;
	ret->seq = it->seq;
	ret->flags = 0;
	ret->val_len = it->val_len;
	memcpy(ret->val, it->val, it->val_len);
}

/* ------------------------------------------------------------------ */
/* Ranges                                                               */
/* ------------------------------------------------------------------ */

/* the last range starting at or before key */
static struct range *range_floor(struct sfs_item_cache *c, const struct scoutfs_key *key)
{
	struct range *r = RB_ROOT(&c->ranges), *best = NULL;

	while (r) {
		if (sfs_key_cmp(&r->start, key) <= 0) {
			best = r;
			r = RB_RIGHT(r, node);
		} else {
			r = RB_LEFT(r, node);
		}
	}
	return best;
}

/* the cached range holding key, or NULL */
static struct range *range_find(struct sfs_item_cache *c, const struct scoutfs_key *key)
{
	struct range *r = range_floor(c, key);

	return r && sfs_key_cmp(key, &r->end) <= 0 ? r : NULL;
}

/* called under either lock: a relaxed store, skipped when already current */
static void range_touch(struct sfs_item_cache *c, struct range *r)
{
	uint64_t tick = c->tick;

	if (__atomic_load_n(&r->stamp, __ATOMIC_RELAXED) != tick)
		__atomic_store_n(&r->stamp, tick, __ATOMIC_RELAXED);
}

static struct range *range_alloc(struct sfs_fs *fs)
{
	struct range *r = calloc(1, sizeof(*r));

	if (r)
		sfs_inc(fs, item_range_alloc);
	return r;
}

static void range_free(struct sfs_fs *fs, struct range *r)
{
	if (r) {
		free(r);
		sfs_inc(fs, item_range_free);
	}
}

static void range_link(struct sfs_item_cache *c, struct range *r)
{
	RB_INSERT(range_tree, &c->ranges, r);
	c->nr_ranges++;
	c->bytes += sizeof(*r);
}

static void range_unlink(struct sfs_item_cache *c, struct range *r)
{
	RB_REMOVE(range_tree, &c->ranges, r);
	c->nr_ranges--;
	c->bytes -= sizeof(*r);
}

/* record [start, end] as cached in nr, merging every range it overlaps */
static void range_add(struct sfs_fs *fs, struct sfs_item_cache *c, struct range *nr,
		      const struct scoutfs_key *start, const struct scoutfs_key *end)
{
	struct scoutfs_key s = *start, e = *end;
	struct range *r, *next;

	r = range_floor(c, start);
	if (!r)
		r = RB_MIN(range_tree, &c->ranges);
	else if (sfs_key_cmp(&r->end, start) < 0)
		r = RB_NEXT(range_tree, &c->ranges, r);
	while (r && sfs_key_cmp(&r->start, &e) <= 0) {
		next = RB_NEXT(range_tree, &c->ranges, r);
		if (sfs_key_cmp(&r->start, &s) < 0)
			s = r->start;
		if (sfs_key_cmp(&r->end, &e) > 0)
			e = r->end;
		range_unlink(c, r);
		range_free(fs, r);
		r = next;
	}
	nr->start = s;
	nr->end = e;
	nr->stamp = c->tick;
	range_link(c, nr);
}

/*
 * The uncached gap around key (which no range holds), within the lock:
 * what a miss asks the forest for.
 */
static void read_gap(struct sfs_item_cache *c, const struct scoutfs_key *key,
		     const struct sfs_item_range *lock, struct scoutfs_key *start,
		     struct scoutfs_key *end)
{
	struct range *r = range_floor(c, key);
	struct scoutfs_key k;

	*start = lock->start;
	*end = lock->end;
	if (r) {
		/* r->end < key */
		if (sfs_key_cmp(&r->end, start) >= 0) {
			k = r->end;
			sfs_key_inc(&k);
			*start = k;
		}
		r = RB_NEXT(range_tree, &c->ranges, r);
	} else {
		r = RB_MIN(range_tree, &c->ranges);
	}
	if (r && sfs_key_cmp(&r->start, end) <= 0) {
		/* r->start > key */
		k = r->start;
		sfs_key_dec(&k);
		*end = k;
	}
}

/* ------------------------------------------------------------------ */
/* Eviction                                                             */
/* ------------------------------------------------------------------ */

static int cmp_stamp(const void *a, const void *b)
{
	const struct range *x = *(const struct range *const *)a;
	const struct range *y = *(const struct range *const *)b;

	return (x->stamp > y->stamp) - (x->stamp < y->stamp);
}

/* write lock held: drop least recently used ranges and their clean items */
static void shrink(struct sfs_fs *fs, struct sfs_item_cache *c)
{
	uint64_t target = c->max_bytes - c->max_bytes / 8;
	struct range **arr, *r;
	struct item *it, *next;
	size_t i, n;

	if (c->bytes <= c->max_bytes || c->nr_ranges == 0)
		return;

	n = c->nr_ranges;
	arr = malloc(n * sizeof(*arr));
	if (!arr)
		return; /* try again after the next operation */
	i = 0;
	RB_FOREACH(r, range_tree, &c->ranges)
		arr[i++] = r;
	qsort(arr, n, sizeof(*arr), cmp_stamp);

	for (i = 0; i < n && c->bytes > target; i++) {
		r = arr[i];
		for (it = item_ceil(c, &r->start); it && sfs_key_cmp(&it->key, &r->end) <= 0;
		     it = next) {
			next = RB_NEXT(item_tree, &c->items, it);
			if (it->flags & ITEM_DIRTY)
				continue;
			item_unlink(c, it);
			item_free(fs, it);
			sfs_inc(fs, item_shrink);
		}
		range_unlink(c, r);
		range_free(fs, r);
		sfs_inc(fs, item_shrink_range);
	}
	free(arr);
}

/* ------------------------------------------------------------------ */
/* Reading the forest                                                   */
/* ------------------------------------------------------------------ */

/* items read with no cache lock held, waiting to be inserted */
struct read_ctx {
	struct sfs_fs *fs;
	struct item **items;
	size_t nr;
	size_t cap;
};

static void read_ctx_reset(struct read_ctx *rc)
{
	while (rc->nr)
		item_free(rc->fs, rc->items[--rc->nr]);
}

static void read_ctx_destroy(struct read_ctx *rc)
{
	read_ctx_reset(rc);
	free(rc->items);
	rc->items = NULL;
	rc->cap = 0;
}

static int read_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		   const void *val, unsigned int val_len)
{
	struct read_ctx *rc = arg;
	struct item *it;
	void *p;

	if (flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION)
		return 0; /* the forest hides these; never cache one as clean */
	if (sfs_forest_delta_key(key))
		return 0; /* invariant 7 */
	if (val_len > SCOUTFS_BTREE_MAX_VAL_LEN)
		return -EIO;
	if (rc->nr == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 64;

		p = realloc(rc->items, cap * sizeof(*rc->items));
		if (!p)
			return -ENOMEM;
		rc->items = p;
		rc->cap = cap;
	}
	it = item_alloc(rc->fs, key, seq, ITEM_PERSISTENT, val_len);
	if (!it)
		return -ENOMEM;
	it->val_len = (uint16_t)val_len;
	if (val_len)
		memcpy(it->val, val, val_len);
	rc->items[rc->nr++] = it;
	return 0;
}

/*
 * No cache lock held.  Read [*start, *end] around key with fresh roots,
 * narrowing them to what the forest answered for.
 */
static int read_items(struct sfs_fs *fs, struct sfs_item_cache *c, const struct scoutfs_key *key,
		      struct scoutfs_key *start, struct scoutfs_key *end, struct read_ctx *rc)
{
	struct sfs_forest_roots roots;
	struct scoutfs_key s = *start, e = *end;
	char kbuf[SFS_TEXT_KEY_LEN];
	int attempt;
	int ret = 0;

	for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		memset(&roots, 0, sizeof(roots));	/* merge_seq: the callback may not know it */
		ret = c->get_roots(c->get_roots_arg, key, attempt > 0, &roots);
		if (ret)
			goto out;
		s = *start;
		e = *end;
		sfs_inc(fs, item_read);
		sfs_block_reader_retries(true);
		ret = sfs_forest_read_items(fs, &roots, key, &s, &e, read_cb, rc);
		sfs_block_reader_retries(false);
		if (ret != -ESTALE)
			break;
		sfs_inc(fs, item_read_stale);
		read_ctx_reset(rc);
	}
	if (ret == -ESTALE) {
		sfs_text_key(kbuf, sizeof(kbuf), key);
		sfs_err(fs, "item read of key %s: stale blocks after %d attempts with fresh roots",
			kbuf, READ_ATTEMPTS);
		ret = -EIO;
		goto out;
	}
	if (ret)
		goto out;
	if (!key_in(key, &s, &e)) {
		sfs_text_key(kbuf, sizeof(kbuf), key);
		sfs_err(fs, "item read of key %s: the forest answered for a range without it",
			kbuf);
		ret = -EIO;
		goto out;
	}
	*start = s;
	*end = e;
	if (fs->log_level >= LOG_DEBUG) {
		char sb[SFS_TEXT_KEY_LEN], eb[SFS_TEXT_KEY_LEN];

		sfs_text_key(kbuf, sizeof(kbuf), key);
		sfs_text_key(sb, sizeof(sb), &s);
		sfs_text_key(eb, sizeof(eb), &e);
		sfs_debug(fs, "item: read %s: %zu items in %s..%s, logs_root %llu",
			  kbuf, rc->nr, sb, eb, (unsigned long long)le64toh(roots.logs_root.ref.blkno));
	}
out:
	if (ret)
		read_ctx_reset(rc);
	return ret;
}

/*
 * Write lock held: insert what a miss read, unless an invalidation or a
 * commit happened since it looked at gen.  Consumes r and rc's items.
 */
static void insert_read(struct sfs_fs *fs, struct sfs_item_cache *c, struct read_ctx *rc,
			struct range *r, const struct scoutfs_key *start,
			const struct scoutfs_key *end, uint64_t gen)
{
	struct item *it;
	size_t i;

	if (gen != c->gen) {
		sfs_inc(fs, item_read_race);
		read_ctx_reset(rc);
		range_free(fs, r);
		return;
	}

	c->tick++;
	for (i = 0; i < rc->nr; i++) {
		it = rc->items[i];
		if (range_find(c, &it->key) || item_find(c, &it->key)) {
			/* cached by a racing read, or dirty: the cache wins */
			item_free(fs, it);
			continue;
		}
		item_link(c, it);
	}
	rc->nr = 0;
	range_add(fs, c, r, start, end);
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

enum { W_CREATE, W_UPDATE, W_FORCE, W_DELETE, W_DELETE_FORCE };

/*
 * One operation under the cache lock: returns 0, -errno, or OP_MISS with
 * op->miss set to a key that must be read first.  Running it again after
 * the read must be safe (misses change nothing).
 */
struct op {
	int (*fn)(struct sfs_fs *fs, struct sfs_item_cache *c, struct op *op);
	bool write;
	const struct sfs_item_range *lock;
	const struct scoutfs_key *key;
	struct scoutfs_key bound;	/* next: last; prev: first */
	int mode;			/* W_* */
	const void *val;
	unsigned int val_len;
	uint64_t seq;
	void *buf;			/* lookup */
	unsigned int buf_len;
	unsigned int *val_len_ret;
	struct sfs_btree_item_ret *ret;	/* next, prev */
	struct scoutfs_key miss;
	bool missed;			/* read the forest at least once */
};

static int run_op(struct sfs_fs *fs, struct op *op)
{
	struct sfs_item_cache *c = fs->item;
	struct read_ctx rc = { .fs = fs };
	struct scoutfs_key start, end;
	bool write = op->write;
	struct range *r;
	uint64_t gen;
	int ret;

	cache_lock(c, write);
	for (;;) {
		ret = op->fn(fs, c, op);
		if (ret != OP_MISS)
			break;

		op->missed = true;
		read_gap(c, &op->miss, op->lock, &start, &end);
		gen = c->gen;
		cache_unlock(c);

		r = range_alloc(fs);
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		ret = read_items(fs, c, &op->miss, &start, &end, &rc);
		if (ret) {
			range_free(fs, r);
			goto out;
		}

		cache_lock(c, true);
		write = true;
		insert_read(fs, c, &rc, r, &start, &end, gen);
	}
	if (write) {
		c->tick++;
		shrink(fs, c);
	}
	cache_unlock(c);
out:
	read_ctx_destroy(&rc);
	return ret;
}

static int op_lookup(struct sfs_fs *fs, struct sfs_item_cache *c, struct op *op)
{
	struct item *it = item_find(c, op->key);
	struct range *r = range_find(c, op->key);
	unsigned int len;

	if (!it && !r) {
		op->miss = *op->key;
		return OP_MISS;
	}
	if (r)
		range_touch(c, r);
	if (!it || (it->flags & ITEM_DELETION)) {
		if (!it)
			sfs_inc(fs, item_range_hit);
		return -ENOENT;
	}
	len = it->val_len < op->buf_len ? it->val_len : op->buf_len;
	if (len)
		memcpy(op->buf, it->val, len);
	*op->val_len_ret = it->val_len;
	return 0;
}

static int op_next(struct sfs_fs *fs, struct sfs_item_cache *c, struct op *op)
{
	struct scoutfs_key pos = *op->key;
	struct range *r;
	struct item *it;

	(void)fs;
	while (sfs_key_cmp(&pos, &op->bound) <= 0) {
		r = range_find(c, &pos);
		if (!r) {
			op->miss = pos;
			return OP_MISS;
		}
		range_touch(c, r);
		for (it = item_ceil(c, &pos);
		     it && sfs_key_cmp(&it->key, &r->end) <= 0 &&
		     sfs_key_cmp(&it->key, &op->bound) <= 0;
		     it = RB_NEXT(item_tree, &c->items, it)) {
			if (!(it->flags & (ITEM_DELETION | ITEM_DELTA))) {
				copy_ret(op->ret, it);
				return 0;
			}
		}
		if (sfs_key_cmp(&r->end, &op->bound) >= 0)
			break;
		pos = r->end; /* < bound, so not all ones */
		sfs_key_inc(&pos);
	}
	return -ENOENT;
}

static int op_prev(struct sfs_fs *fs, struct sfs_item_cache *c, struct op *op)
{
	struct scoutfs_key pos = *op->key;
	struct range *r;
	struct item *it;

	(void)fs;
	while (sfs_key_cmp(&pos, &op->bound) >= 0) {
		r = range_find(c, &pos);
		if (!r) {
			op->miss = pos;
			return OP_MISS;
		}
		range_touch(c, r);
		for (it = item_floor(c, &pos);
		     it && sfs_key_cmp(&it->key, &r->start) >= 0 &&
		     sfs_key_cmp(&it->key, &op->bound) >= 0;
		     it = RB_PREV(item_tree, &c->items, it)) {
			if (!(it->flags & (ITEM_DELETION | ITEM_DELTA))) {
				copy_ret(op->ret, it);
				return 0;
			}
		}
		if (sfs_key_cmp(&r->start, &op->bound) <= 0)
			break;
		pos = r->start; /* > bound, so not zero */
		sfs_key_dec(&pos);
	}
	return -ENOENT;
}

static int op_write(struct sfs_fs *fs, struct sfs_item_cache *c, struct op *op)
{
	struct item *it = item_find(c, op->key), *nit;
	struct range *r = range_find(c, op->key);
	char kbuf[SFS_TEXT_KEY_LEN];
	bool exists, known = true;
	uint8_t pers;

	if (c->committing) {
		sfs_text_key(kbuf, sizeof(kbuf), op->key);
		sfs_err(fs, "item write of key %s while the transaction is committing", kbuf);
		return -EBUSY;
	}

	if (it) {
		exists = !(it->flags & ITEM_DELETION);
	} else if (r) {
		exists = false;
	} else if (op->mode == W_FORCE || op->mode == W_DELETE_FORCE) {
		exists = false;
		known = false;
	} else {
		op->miss = *op->key;
		return OP_MISS;
	}
	if (r)
		range_touch(c, r);

	switch (op->mode) {
	case W_CREATE:
		if (exists)
			return -EEXIST;
		sfs_inc(fs, item_create);
		break;
	case W_UPDATE:
		if (!exists)
			return -ENOENT;
		sfs_inc(fs, item_update);
		break;
	case W_DELETE:
		if (!exists)
			return -ENOENT;
		sfs_inc(fs, item_delete);
		break;
	case W_FORCE:
		sfs_inc(fs, item_update);
		break;
	case W_DELETE_FORCE:
		sfs_inc(fs, item_delete);
		if (!it && known)
			return 0; /* known absent: nothing to hide */
		break;
	}

	if (op->mode == W_DELETE || op->mode == W_DELETE_FORCE) {
		if (it && !(it->flags & ITEM_PERSISTENT)) {
			/* created in this transaction over nothing: just forget it */
			item_unlink(c, it);
			item_free(fs, it);
			return 0;
		}
		if (!it) {
			it = item_alloc(fs, op->key, op->seq, ITEM_PERSISTENT, 0);
			if (!it)
				return -ENOMEM;
			item_link(c, it);
		}
		item_set_dirty(c, it, op->seq, NULL, 0, ITEM_DELETION);
		sfs_inc(fs, item_tombstone);
		return 0;
	}

	if (!it || it->val_cap < op->val_len) {
		if (it)
			pers = it->flags & ITEM_PERSISTENT;
		else
			pers = known ? 0 : ITEM_PERSISTENT;
		nit = item_alloc(fs, op->key, op->seq, pers, op->val_len);
		if (!nit)
			return -ENOMEM;
		if (it) {
			item_unlink(c, it);
			item_free(fs, it);
		}
		item_link(c, nit);
		it = nit;
	}
	item_set_dirty(c, it, op->seq, op->val, op->val_len, 0);
	return 0;
}

/* add op->val to the key's dirty delta (invariant 7); never reads */
static int op_delta(struct sfs_fs *fs, struct sfs_item_cache *c, struct op *op)
{
	struct scoutfs_xattr_totl_val sum, had;
	struct item *it = item_find(c, op->key);
	char kbuf[SFS_TEXT_KEY_LEN];

	if (c->committing) {
		sfs_text_key(kbuf, sizeof(kbuf), op->key);
		sfs_err(fs, "item delta of key %s while the transaction is committing", kbuf);
		return -EBUSY;
	}
	memcpy(&sum, op->val, sizeof(sum));
	if (it) {
		if (!(it->flags & ITEM_DELTA)) {
			/* nothing else is ever cached at a delta key */
			sfs_text_key(kbuf, sizeof(kbuf), op->key);
			sfs_err(fs, "item delta of key %s over an item that is not a delta", kbuf);
			return -EIO;
		}
		memcpy(&had, it->val, sizeof(had));
		sfs_forest_delta_add(&sum, &had);
		if (sfs_forest_delta_null(&sum)) {
			/* the changes cancel: nothing is left to write */
			item_unlink(c, it);
			item_free(fs, it);
			return 0;
		}
	} else {
		if (sfs_forest_delta_null(&sum))
			return 0;
		it = item_alloc(fs, op->key, op->seq, ITEM_DELTA, sizeof(sum));
		if (!it)
			return -ENOMEM;
		item_link(c, it);
	}
	item_set_dirty(c, it, op->seq, &sum, sizeof(sum), 0);
	sfs_inc(fs, item_update);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                         */
/* ------------------------------------------------------------------ */

static int check_key(struct sfs_fs *fs, const struct scoutfs_key *key,
		     const struct sfs_item_range *lock)
{
	char kbuf[SFS_TEXT_KEY_LEN];

	if (!fs->item || !lock)
		return -EINVAL;
	if (!key_in(key, &lock->start, &lock->end)) {
		sfs_text_key(kbuf, sizeof(kbuf), key);
		sfs_err(fs, "item key %s outside the caller's lock range", kbuf);
		return -EINVAL;
	}
	return 0;
}

int sfs_item_lookup(struct sfs_fs *fs, const struct scoutfs_key *key, void *val,
		    unsigned int buf_len, unsigned int *val_len, const struct sfs_item_range *lock)
{
	struct op op = { .fn = op_lookup, .lock = lock, .key = key, .buf = val,
			 .buf_len = buf_len, .val_len_ret = val_len };
	int ret;

	ret = check_key(fs, key, lock);
	if (ret)
		return ret;
	if ((buf_len && !val) || !val_len || sfs_forest_delta_key(key))
		return -EINVAL;
	sfs_inc(fs, item_lookup);
	ret = run_op(fs, &op);
	if (op.missed)
		sfs_inc(fs, item_lookup_miss);
	return ret;
}

int sfs_item_next(struct sfs_fs *fs, const struct scoutfs_key *key,
		  const struct scoutfs_key *last, const struct sfs_item_range *lock,
		  struct sfs_btree_item_ret *ret)
{
	struct op op = { .fn = op_next, .lock = lock, .key = key, .ret = ret };
	int err;

	err = check_key(fs, key, lock);
	if (err)
		return err;
	op.bound = sfs_key_cmp(last, &lock->end) < 0 ? *last : lock->end;
	if (sfs_key_cmp(key, &op.bound) > 0)
		return -ENOENT;
	sfs_inc(fs, item_next);
	return run_op(fs, &op);
}

int sfs_item_prev(struct sfs_fs *fs, const struct scoutfs_key *key,
		  const struct scoutfs_key *first, const struct sfs_item_range *lock,
		  struct sfs_btree_item_ret *ret)
{
	struct op op = { .fn = op_prev, .lock = lock, .key = key, .ret = ret };
	int err;

	err = check_key(fs, key, lock);
	if (err)
		return err;
	op.bound = sfs_key_cmp(first, &lock->start) > 0 ? *first : lock->start;
	if (sfs_key_cmp(key, &op.bound) < 0)
		return -ENOENT;
	sfs_inc(fs, item_prev);
	return run_op(fs, &op);
}

int sfs_item_iterate(struct sfs_fs *fs, const struct scoutfs_key *start,
		     const struct scoutfs_key *last, const struct sfs_item_range *lock,
		     sfs_item_iter_cb cb, void *arg)
{
	struct sfs_btree_item_ret *r = NULL;
	struct scoutfs_key pos, end;
	int ret;

	if (!fs->item || !lock) {
		ret = -EINVAL;
		goto out;
	}
	pos = sfs_key_cmp(start, &lock->start) > 0 ? *start : lock->start;
	end = sfs_key_cmp(last, &lock->end) < 0 ? *last : lock->end;
	r = malloc(sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	ret = 0;
	while (sfs_key_cmp(&pos, &end) <= 0) {
		ret = sfs_item_next(fs, &pos, &end, lock, r);
		if (ret == -ENOENT) {
			ret = 0;
			break;
		}
		if (ret)
			break;
		ret = cb(arg, &r->key, r->val, r->val_len);
		if (ret || sfs_key_cmp(&r->key, &end) >= 0)
			break;
		pos = r->key; /* < end, so not all ones */
		sfs_key_inc(&pos);
	}
out:
	free(r);
	return ret;
}

static int write_op(struct sfs_fs *fs, int mode, const struct scoutfs_key *key, const void *val,
		    unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock)
{
	struct op op = { .fn = op_write, .write = true, .lock = lock, .key = key, .mode = mode,
			 .val = val, .val_len = val_len, .seq = seq };
	int ret;

	ret = check_key(fs, key, lock);
	if (ret)
		return ret;
	if (val_len > SCOUTFS_BTREE_MAX_VAL_LEN || (val_len && !val) || sfs_forest_delta_key(key))
		return -EINVAL;
	return run_op(fs, &op);
}

int sfs_item_delta(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		   unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock)
{
	struct op op = { .fn = op_delta, .write = true, .lock = lock, .key = key, .val = val,
			 .val_len = val_len, .seq = seq };
	int ret;

	ret = check_key(fs, key, lock);
	if (ret)
		return ret;
	if (!sfs_forest_delta_key(key) || !val ||
	    val_len != sizeof(struct scoutfs_xattr_totl_val))
		return -EINVAL;
	return run_op(fs, &op);
}

int sfs_item_create(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		    unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock)
{
	return write_op(fs, W_CREATE, key, val, val_len, seq, lock);
}

int sfs_item_update(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		    unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock)
{
	return write_op(fs, W_UPDATE, key, val, val_len, seq, lock);
}

int sfs_item_force(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		   unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock)
{
	return write_op(fs, W_FORCE, key, val, val_len, seq, lock);
}

int sfs_item_delete(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t seq,
		    const struct sfs_item_range *lock)
{
	return write_op(fs, W_DELETE, key, NULL, 0, seq, lock);
}

int sfs_item_delete_force(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t seq,
			  const struct sfs_item_range *lock)
{
	return write_op(fs, W_DELETE_FORCE, key, NULL, 0, seq, lock);
}

/* ------------------------------------------------------------------ */
/* Commits                                                              */
/* ------------------------------------------------------------------ */

uint64_t sfs_item_dirty_count(struct sfs_fs *fs)
{
	struct sfs_item_cache *c = fs->item;
	uint64_t n;

	cache_lock(c, false);
	n = c->dirty_count;
	cache_unlock(c);
	return n;
}

uint64_t sfs_item_dirty_bytes(struct sfs_fs *fs)
{
	struct sfs_item_cache *c = fs->item;
	uint64_t n;

	cache_lock(c, false);
	n = c->dirty_bytes;
	cache_unlock(c);
	return n;
}

int sfs_item_for_each_dirty(struct sfs_fs *fs, sfs_btree_item_cb cb, void *arg)
{
	struct sfs_item_cache *c = fs->item;
	struct item *it;
	int ret = 0;

	cache_lock(c, true);
	c->committing = true;
	cache_unlock(c);

	/* no cache lock: the caller excludes writers, nothing else changes dirty items */
	RB_FOREACH(it, dirty_tree, &c->dirty) {
		ret = cb(arg, &it->key, it->seq,
			 (it->flags & ITEM_DELETION) ? SCOUTFS_BTREE_ITEM_FLAG_DELETION : 0,
			 it->val_len ? it->val : NULL, it->val_len);
		if (ret)
			break;
	}

	cache_lock(c, true);
	c->committing = false;
	cache_unlock(c);
	return ret;
}

/* a dirty item is persistent now: keep it clean, or drop a tombstone / uncached item */
static bool commit_one(struct sfs_fs *fs, struct sfs_item_cache *c, struct item *it, bool cached)
{
	if (it->flags & ITEM_DELTA) {
		/* invariant 7: never cached clean (no read can race to cache it) */
		item_unlink(c, it);
		item_free(fs, it);
		return false;
	}
	if ((it->flags & ITEM_DELETION) || !cached) {
		/* invariants 2 and 4: no clean tombstones, no clean items outside ranges */
		item_unlink(c, it);
		item_free(fs, it);
		return !cached;
	}
	it->flags |= ITEM_PERSISTENT;
	return false;
}

uint64_t sfs_item_commits(struct sfs_fs *fs)
{
	return fs->item ? __atomic_load_n(&fs->item->commits, __ATOMIC_ACQUIRE) : 0;
}

void sfs_item_commit_done(struct sfs_fs *fs)
{
	struct sfs_item_cache *c = fs->item;
	struct item *it, *next, **all;
	struct range *r;
	bool dropped = false;
	uint64_t i, n;

	cache_lock(c, true);
	/*
	 * Every dirty item leaves the dirty tree.  Take them all out at once
	 * (a snapshot, then an empty tree) rather than removing and
	 * rebalancing one by one; without memory for the snapshot, do that.
	 */
	n = c->dirty_count;
	all = n ? malloc(n * sizeof(*all)) : NULL;
	if (all) {
		i = 0;
		RB_FOREACH(it, dirty_tree, &c->dirty)
			all[i++] = it;
		RB_INIT(&c->dirty);
		c->dirty_count = 0;
		c->dirty_bytes = 0;
		/* the items are in key order: walk the ranges alongside them */
		r = range_floor(c, &all[0]->key);
		if (!r)
			r = RB_MIN(range_tree, &c->ranges);
		for (i = 0; i < n; i++) {
			while (r && sfs_key_cmp(&r->end, &all[i]->key) < 0)
				r = RB_NEXT(range_tree, &c->ranges, r);
			all[i]->flags &= (uint8_t)~ITEM_DIRTY;
			dropped |= commit_one(fs, c, all[i],
					      r && sfs_key_cmp(&r->start, &all[i]->key) <= 0);
		}
		free(all);
	} else {
		for (it = RB_MIN(dirty_tree, &c->dirty); it; it = next) {
			next = RB_NEXT(dirty_tree, &c->dirty, it);
			dirty_unlink(c, it);
			dropped |= commit_one(fs, c, it, range_find(c, &it->key) != NULL);
		}
	}
	if (dropped)
		c->gen++;
	__atomic_add_fetch(&c->commits, 1, __ATOMIC_RELEASE);
	c->tick++;
	shrink(fs, c); /* what was dirty may go now */
	sfs_inc(fs, item_commit_done);
	cache_unlock(c);
}

/* ------------------------------------------------------------------ */
/* Invalidation, introspection, lifecycle                               */
/* ------------------------------------------------------------------ */

static int invalidate(struct sfs_fs *fs, const struct scoutfs_key *start,
		      const struct scoutfs_key *end, bool keep_dirty);

int sfs_item_invalidate(struct sfs_fs *fs, const struct scoutfs_key *start,
			const struct scoutfs_key *end)
{
	return invalidate(fs, start, end, false);
}

int sfs_item_invalidate_clean(struct sfs_fs *fs, const struct scoutfs_key *start,
			      const struct scoutfs_key *end)
{
	return invalidate(fs, start, end, true);
}

static int invalidate(struct sfs_fs *fs, const struct scoutfs_key *start,
		      const struct scoutfs_key *end, bool keep_dirty)
{
	struct sfs_item_cache *c = fs->item;
	struct range *split, *r, *next_r;
	struct item *it, *next;
	bool before, after;
	int ret;

	if (!c || sfs_key_cmp(start, end) > 0)
		return -EINVAL;
	split = range_alloc(fs);
	if (!split)
		return -ENOMEM;

	cache_lock(c, true);
	for (it = item_ceil(c, start); !keep_dirty && it && sfs_key_cmp(&it->key, end) <= 0;
	     it = RB_NEXT(item_tree, &c->items, it)) {
		if (it->flags & ITEM_DIRTY) {
			ret = -EBUSY;
			goto unlock;
		}
	}

	for (it = item_ceil(c, start); it && sfs_key_cmp(&it->key, end) <= 0; it = next) {
		next = RB_NEXT(item_tree, &c->items, it);
		/* a dirty item is right without a range (invariant 3) */
		if (it->flags & ITEM_DIRTY)
			continue;
		item_unlink(c, it);
		item_free(fs, it);
		sfs_inc(fs, item_invalidate_item);
	}

	r = range_floor(c, start);
	if (!r)
		r = RB_MIN(range_tree, &c->ranges);
	else if (sfs_key_cmp(&r->end, start) < 0)
		r = RB_NEXT(range_tree, &c->ranges, r);
	for (; r && sfs_key_cmp(&r->start, end) <= 0; r = next_r) {
		next_r = RB_NEXT(range_tree, &c->ranges, r);
		before = sfs_key_cmp(&r->start, start) < 0;
		after = sfs_key_cmp(&r->end, end) > 0;
		if (before && after) {
			/* keep both ends: [r->start, start - 1] and [end + 1, r->end] */
			split->start = *end;
			sfs_key_inc(&split->start);
			split->end = r->end;
			split->stamp = r->stamp;
			r->end = *start;
			sfs_key_dec(&r->end);
			range_link(c, split);
			split = NULL;
		} else if (before) {
			r->end = *start;
			sfs_key_dec(&r->end);
		} else if (after) {
			/* moving start up to end + 1 keeps the tree's order */
			r->start = *end;
			sfs_key_inc(&r->start);
		} else {
			range_unlink(c, r);
			range_free(fs, r);
		}
	}
	c->gen++;
	c->tick++;
	sfs_inc(fs, item_invalidate);
	ret = 0;
unlock:
	cache_unlock(c);
	range_free(fs, split);
	return ret;
}

int sfs_item_cached_range(struct sfs_fs *fs, const struct scoutfs_key *key,
			  struct sfs_item_range *range)
{
	struct sfs_item_cache *c = fs->item;
	struct range *r;
	int ret = -ENOENT;

	cache_lock(c, false);
	r = range_find(c, key);
	if (r) {
		range->start = r->start;
		range->end = r->end;
		ret = 0;
	}
	cache_unlock(c);
	return ret;
}

int sfs_item_check(struct sfs_fs *fs, char *why, size_t why_len)
{
	struct sfs_item_cache *c = fs->item;
	uint64_t nr = 0, dnr = 0, dbytes = 0, bytes = 0;
	char kbuf[SFS_TEXT_KEY_LEN];
	struct range *r, *prev_r = NULL;
	struct item *it, *prev = NULL;
	const char *bad = NULL;

	cache_lock(c, false);
	RB_FOREACH(r, range_tree, &c->ranges) {
		if (sfs_key_cmp(&r->start, &r->end) > 0)
			bad = "range starts after its end";
		else if (prev_r && sfs_key_cmp(&prev_r->end, &r->start) >= 0)
			bad = "ranges overlap";
		if (bad) {
			sfs_text_key(kbuf, sizeof(kbuf), &r->start);
			goto out;
		}
		prev_r = r;
		nr++;
		bytes += sizeof(*r);
	}
	if (nr != c->nr_ranges) {
		bad = "range count";
		goto out_nokey;
	}

	nr = 0;
	RB_FOREACH(it, item_tree, &c->items) {
		if (prev && sfs_key_cmp(&prev->key, &it->key) >= 0)
			bad = "items out of order";
		else if (it->val_len > it->val_cap || it->val_len > SCOUTFS_BTREE_MAX_VAL_LEN)
			bad = "value longer than its buffer";
		else if ((it->flags & ITEM_DELETION) && (!(it->flags & ITEM_DIRTY) || it->val_len))
			bad = "clean or non-empty deletion item";
		else if (!!(it->flags & ITEM_DELTA) != sfs_forest_delta_key(&it->key))
			bad = "delta item outside the delta zone, or another item in it";
		else if ((it->flags & ITEM_DELTA) &&
			 (!(it->flags & ITEM_DIRTY) ||
			  (it->flags & (ITEM_PERSISTENT | ITEM_DELETION)) ||
			  it->val_len != sizeof(struct scoutfs_xattr_totl_val) ||
			  delta_item_null(it)))
			bad = "delta item not dirty, persistent, or not a non-zero delta";
		else if (!(it->flags & ITEM_DIRTY) && !(it->flags & ITEM_PERSISTENT))
			bad = "clean item not persistent";
		else if (!(it->flags & ITEM_DIRTY) && !range_find(c, &it->key))
			bad = "clean item outside every cached range";
		if (bad) {
			sfs_text_key(kbuf, sizeof(kbuf), &it->key);
			goto out;
		}
		prev = it;
		nr++;
		bytes += item_mem(it);
	}
	if (nr != c->nr_items) {
		bad = "item count";
		goto out_nokey;
	}

	RB_FOREACH(it, dirty_tree, &c->dirty) {
		if (!(it->flags & ITEM_DIRTY) || item_find(c, &it->key) != it) {
			bad = "dirty tree item not dirty or not cached";
			sfs_text_key(kbuf, sizeof(kbuf), &it->key);
			goto out;
		}
		dnr++;
		dbytes += dirty_size(it);
	}
	if (dnr != c->dirty_count || dbytes != c->dirty_bytes)
		bad = "dirty count or bytes";
	else if (bytes != c->bytes)
		bad = "cached bytes";
out_nokey:
	kbuf[0] = '\0';
out:
	cache_unlock(c);
	if (bad)
		snprintf(why, why_len, "%s%s%s", bad, kbuf[0] ? " at key " : "", kbuf);
	return bad ? -EIO : 0;
}

void sfs_item_get_stats(struct sfs_fs *fs, struct sfs_item_stats *st)
{
	struct sfs_item_cache *c = fs->item;

	cache_lock(c, false);
	st->items = c->nr_items;
	st->ranges = c->nr_ranges;
	st->bytes = c->bytes;
	st->dirty_items = c->dirty_count;
	st->dirty_bytes = c->dirty_bytes;
	cache_unlock(c);
}

int sfs_item_setup(struct sfs_fs *fs, const struct sfs_item_opts *opts)
{
	pthread_rwlockattr_t attr;
	struct sfs_item_cache *c;
	int ret;

	if (!opts || !opts->get_roots)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	RB_INIT(&c->items);
	RB_INIT(&c->dirty);
	RB_INIT(&c->ranges);
	c->get_roots = opts->get_roots;
	c->get_roots_arg = opts->arg;
	c->max_bytes = opts->max_bytes ? opts->max_bytes : SFS_ITEM_MAX_BYTES_DEF;

	ret = -pthread_rwlockattr_init(&attr);
	if (ret)
		goto out;
	/* a steady stream of lookups must not starve misses and writes */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = -pthread_rwlock_init(&c->rwlock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (ret)
		goto out;
	c->rwlock_init = true;
	fs->item = c;
out:
	if (ret)
		free(c);
	return ret;
}

void sfs_item_destroy(struct sfs_fs *fs)
{
	struct sfs_item_cache *c = fs->item;
	struct range *r;
	struct item *it;

	if (!c)
		return;
	if (c->dirty_count)
		sfs_warn(fs, "item cache destroyed with %llu dirty items",
			 (unsigned long long)c->dirty_count);
	while ((it = RB_MIN(item_tree, &c->items))) {
		item_unlink(c, it);
		item_free(fs, it);
	}
	while ((r = RB_MIN(range_tree, &c->ranges))) {
		range_unlink(c, r);
		range_free(fs, r);
	}
	if (c->rwlock_init)
		pthread_rwlock_destroy(&c->rwlock);
	free(c);
	fs->item = NULL;
}
