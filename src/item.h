/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_ITEM_H
#define SFS_ITEM_H

/*
 * The item cache: the one way filesystem operations read and write
 * metadata items.  One per mount (fs->item).  See the design comment at
 * the top of item.c for the model, invariants and locking.
 *
 * Every operation names the key range of the cluster lock its caller
 * holds (struct sfs_item_range).  Keys must lie inside it (-EINVAL
 * otherwise); a cache miss reads the forest over the uncached part of
 * that range, so the lock must cover one bloom lock group
 * (sfs_forest_lock_start() of every key in it is the same).
 *
 * Errors: 0 or -errno.  -ENOENT / -EEXIST as named below; -EINVAL for bad
 * arguments; -ENOMEM; -EIO when the forest keeps answering -ESTALE with
 * fresh roots (logged) or is corrupt; -EBUSY for a write while a commit
 * is walking the dirty items (a caller bug, logged).
 */

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#include "scoutfs/format.h"
#include "btree.h"
#include "forest.h"
#include "sfs.h"

/* 0: the default bound on cached item memory */
#define SFS_ITEM_MAX_BYTES_DEF (256ULL * 1024 * 1024)

struct sfs_item_opts {
	/*
	 * The roots reads merge.  Called without cache locks held, once per
	 * forest read attempt (again after -ESTALE).  Must return roots that
	 * include every commit this mount has finished (sfs_item_commit_done)
	 * and everything other mounts committed under locks the caller got
	 * since (merge_seq may stay 0: the cache never reads delta keys).
	 * key is the key the read is for; fresh: the roots must come from
	 * the server (a read with earlier ones found stale blocks).  0 or
	 * -errno (passed to the caller).
	 */
	int (*get_roots)(void *arg, const struct scoutfs_key *key, bool fresh,
			 struct sfs_forest_roots *roots);
	void *arg;
	size_t max_bytes;	/* bound on cached memory; 0: SFS_ITEM_MAX_BYTES_DEF */
};

/* an inclusive key range: the caller's lock, or a cached range */
struct sfs_item_range {
	struct scoutfs_key start;
	struct scoutfs_key end;
};

/*
 * Lifecycle.  setup allocates fs->item and does no I/O.  destroy frees
 * everything (dirty items are lost, with a warning); it accepts a
 * half-built state and is safe twice.
 */
int sfs_item_setup(struct sfs_fs *fs, const struct sfs_item_opts *opts);
void sfs_item_destroy(struct sfs_fs *fs);

/*
 * Reads.
 *
 * lookup: copy min(buf_len, value length) bytes to val and set *val_len
 * to the full value length; -ENOENT if the item does not exist.
 *
 * next: the first item with key <= item <= last (last is clamped to the
 * lock's end); prev: the last item with first <= item <= key (first is
 * clamped to the lock's start).  0 with *ret filled (seq, flags 0) or
 * -ENOENT.
 *
 * iterate: cb for every item in [start, last] (clamped to the lock) in key
 * order, with no cache lock held, so cb may use the cache.  A non-zero
 * return from cb stops the walk and is returned.
 */
int sfs_item_lookup(struct sfs_fs *fs, const struct scoutfs_key *key, void *val,
		    unsigned int buf_len, unsigned int *val_len, const struct sfs_item_range *lock);
int sfs_item_next(struct sfs_fs *fs, const struct scoutfs_key *key,
		  const struct scoutfs_key *last, const struct sfs_item_range *lock,
		  struct sfs_btree_item_ret *ret);
int sfs_item_prev(struct sfs_fs *fs, const struct scoutfs_key *key,
		  const struct scoutfs_key *first, const struct sfs_item_range *lock,
		  struct sfs_btree_item_ret *ret);

typedef int (*sfs_item_iter_cb)(void *arg, const struct scoutfs_key *key, const void *val,
				unsigned int val_len);
int sfs_item_iterate(struct sfs_fs *fs, const struct scoutfs_key *start,
		     const struct scoutfs_key *last, const struct sfs_item_range *lock,
		     sfs_item_iter_cb cb, void *arg);

/*
 * Writes.  Each leaves a dirty item carrying seq (the caller's
 * transaction seq) until sfs_item_commit_done().  val_len is 0..896.
 *
 * create: -EEXIST if the item exists.  update: -ENOENT if it does not.
 * delete: -ENOENT if it does not.  These read the forest first when the
 * key is not cached, so that existence is known.
 *
 * force: create or update.  delete_force: delete if present, no error if
 * not.  Neither reads: on an uncached key they leave a dirty item (or
 * deletion item) that may shadow a persistent one, as WRITE_ONLY locks
 * need.
 */
int sfs_item_create(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		    unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock);
int sfs_item_update(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		    unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock);
int sfs_item_force(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		   unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock);
int sfs_item_delete(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t seq,
		    const struct sfs_item_range *lock);
int sfs_item_delete_force(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t seq,
			  const struct sfs_item_range *lock);

/*
 * Deltas (zone 12, xattr totals: sfs_forest_delta_key()).  That zone is
 * write-only through the cache: its keys take only sfs_item_delta, which
 * adds val (a struct scoutfs_xattr_totl_val) to the key's dirty delta
 * without reading anything (several changes of a key in a transaction
 * become one item; one that nets to 0/0 disappears, leaving nothing to
 * write).  The other writes and lookups of a delta key are -EINVAL; next,
 * prev and iterate pass over the zone as if it were empty.  A commit
 * writes each delta as an item of its own (trans.c adds it to what the
 * log tree holds, sfs_forest_fold_log_deltas), and commit_done drops it.
 * Totals are read committed, from the forest (sfs_forest_walk_committed).
 */
int sfs_item_delta(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		   unsigned int val_len, uint64_t seq, const struct sfs_item_range *lock);

/*
 * Commit support, used by trans.c while it holds the transaction
 * exclusively: no item writes may run from for_each_dirty until
 * commit_done (writes during the walk itself get -EBUSY).  A commit that
 * fails after the walk simply does not call commit_done: the items stay
 * dirty and the next commit walks them again.
 *
 * dirty_count / dirty_bytes: the dirty items, deletion items included,
 * and the leaf space they need (item header + value each).
 *
 * for_each_dirty: cb for every dirty item in key order, deletion items
 * with SCOUTFS_BTREE_ITEM_FLAG_DELETION and no value.  No cache lock is
 * held during cb.  A non-zero return stops the walk and is returned; the
 * walk may be repeated (a retried commit).  The values cb is given stay
 * where they are until commit_done or the next item write (dirty items are
 * never evicted), so a commit may keep the pointers instead of copying.
 *
 * commit_done: the dirty items are persistent: they become clean and
 * deletion items are dropped (their keys stay cached as absent), as are
 * delta items.
 */
uint64_t sfs_item_dirty_count(struct sfs_fs *fs);
uint64_t sfs_item_dirty_bytes(struct sfs_fs *fs);
int sfs_item_for_each_dirty(struct sfs_fs *fs, sfs_btree_item_cb cb, void *arg);
void sfs_item_commit_done(struct sfs_fs *fs);
/* how many times sfs_item_commit_done has run: roots taken before it moved may lack a commit */
uint64_t sfs_item_commits(struct sfs_fs *fs);

/*
 * Drop every cached item and cached range inside [start, end], for a lock
 * that is being given up or downgraded so that others may write.  Dirty
 * items must have been committed first: -EBUSY (and nothing changes) if
 * any dirty item lies inside.  Reads racing with it do not cache what
 * they read.
 */
int sfs_item_invalidate(struct sfs_fs *fs, const struct scoutfs_key *start,
			const struct scoutfs_key *end);
/*
 * The same keeping this mount's dirty items (they are right without a
 * range): for a lock newly granted for reading that this mount wrote
 * under before (WRITE_ONLY), whose clean items may be stale
 */
int sfs_item_invalidate_clean(struct sfs_fs *fs, const struct scoutfs_key *start,
			      const struct scoutfs_key *end);

/*
 * Introspection for lock consistency checks, tests and the run directory.
 * cached_range: 0 with the cached range holding key, or -ENOENT.
 */
int sfs_item_cached_range(struct sfs_fs *fs, const struct scoutfs_key *key,
			  struct sfs_item_range *range);

/*
 * Check the invariants of the design comment in item.c over the whole
 * cache (O(items)): ranges ordered and disjoint, clean items persistent
 * and inside ranges, tombstones dirty and empty, the dirty tree and the
 * counts and byte totals matching.  0 or -EIO with a reason in why.
 */
int sfs_item_check(struct sfs_fs *fs, char *why, size_t why_len);

struct sfs_item_stats {
	uint64_t items;		/* cached items, deletion items included */
	uint64_t ranges;	/* cached ranges */
	uint64_t bytes;		/* memory counted against max_bytes */
	uint64_t dirty_items;
	uint64_t dirty_bytes;
};
void sfs_item_get_stats(struct sfs_fs *fs, struct sfs_item_stats *st);

#endif
