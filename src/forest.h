/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_FOREST_H
#define SFS_FOREST_H

/*
 * The forest: filesystem items live in fs_root and in every mount's log
 * btrees (format-spec.md section 10).  A read merges them: for each key
 * the version with the greatest seq wins (the first read on a tie,
 * fs_root first, then log trees in (rid, nr) order), and a winning
 * deletion item hides the key.  Log trees whose bloom filter lacks the
 * bits of the lock covering the key are skipped.
 *
 * Zone 12 (xattr totals) is the exception: its items are deltas that are
 * summed across the trees, never resolved newest-wins (format-spec.md
 * 10.3; the rule is in forest.c, sfs_forest_delta_resolve).
 */

#include <stdint.h>
#include <stdbool.h>

#include "alloc.h"
#include "block.h"
#include "btree.h"
#include "sfs.h"

/* the roots a read merges: a consistent pair from one server commit */
struct sfs_forest_roots {
	struct scoutfs_btree_root fs_root;
	struct scoutfs_btree_root logs_root;
	/*
	 * The seq of the log merge STATUS item of the super the roots came
	 * from, 0 when no merge runs or it is not known (callers that do not
	 * set it must zero it).  Only delta sums (zone 12) use it: it says
	 * which finalized trees are a running merge's inputs.
	 */
	uint64_t merge_seq;
};

/*
 * The roots of a super block as a read wants them: fs_root, logs_root
 * and the running merge's seq (looked up in super->log_merge).  0,
 * -ESTALE (the super is out of date: read it again) or -EIO.
 */
int sfs_forest_super_roots(struct sfs_fs *fs, const struct scoutfs_super_block *super,
			   struct sfs_forest_roots *roots);

/*
 * Walk the committed items of [start, last] (all under one lock, e.g.
 * the whole of zone 12 or zone 14), resolved as reads resolve them, with
 * the roots of the super on the meta device, read afresh: what every
 * mount has committed, and nothing dirty.  cb is called in key order; a
 * non-zero return stops the walk and is returned.  The walk goes one
 * window (a leaf's worth of keys) at a time; stale blocks make it read
 * the super again and redo the window (-EIO after a few times running).
 */
int sfs_forest_walk_committed(struct sfs_fs *fs, const struct scoutfs_key *start,
			      const struct scoutfs_key *last, sfs_btree_item_cb cb, void *arg);

/*
 * The start key of the cluster lock range covering an item; the bloom
 * filters are keyed by it (format-spec.md 10.2).
 */
struct scoutfs_key sfs_forest_lock_start(const struct scoutfs_key *key);
/* do two keys fall under the same lock (the same sfs_forest_lock_start)? */
bool sfs_forest_same_lock(const struct scoutfs_key *a, const struct scoutfs_key *b);

/*
 * Read every item between start and end (inclusive) that the forest
 * holds around key, merged, calling cb for each live winner in key
 * order.  start and end are narrowed to the range every tree was read
 * over: within it, keys cb did not see do not exist (callers cache that).
 * All keys in [start, end] must be covered by the same lock as key (the
 * bloom filter check is for key's lock).  -ESTALE means the roots are
 * out of date: fetch new ones and retry.
 */
int sfs_forest_read_items(struct sfs_fs *fs, const struct sfs_forest_roots *roots,
			  const struct scoutfs_key *key, struct scoutfs_key *start,
			  struct scoutfs_key *end, sfs_btree_item_cb cb, void *arg);

/*
 * Versions of keys gathered from several trees, and their order: by key,
 * then the version a read returns first (greatest seq, then the tree read
 * first).  Reads and log merging both resolve keys with it.
 */
/* the kind of tree a version came from, for delta sums (format-spec.md 10.3) */
enum sfs_forest_src {
	SFS_FOREST_SRC_FS = 0,		/* fs_root */
	SFS_FOREST_SRC_INPUT,		/* a finalized tree a merge takes (or may take) */
	SFS_FOREST_SRC_LOG,		/* any other log tree */
};

struct sfs_forest_version {
	struct scoutfs_key key;
	uint64_t seq;
	uint32_t order;		/* the tree it came from, in read order (fs_root first: 0) */
	uint32_t val_off;	/* in sfs_forest_versions.vals */
	uint16_t val_len;
	uint8_t flags;
	uint8_t src;		/* enum sfs_forest_src */
};

struct sfs_forest_versions {
	struct sfs_forest_version *v;
	size_t nr, cap;
	uint8_t *vals;
	size_t vals_len, vals_cap;
	uint32_t order;		/* set before reading each tree */
	uint8_t src;		/* likewise */
};

/* an sfs_btree_item_cb: arg is the struct sfs_forest_versions */
int sfs_forest_versions_add(void *arg, const struct scoutfs_key *key, uint64_t seq,
			    uint8_t flags, const void *val, unsigned int val_len);
void sfs_forest_versions_sort(struct sfs_forest_versions *vs);
/* empty, keeping the memory */
void sfs_forest_versions_reset(struct sfs_forest_versions *vs);
void sfs_forest_versions_free(struct sfs_forest_versions *vs);

static inline const void *sfs_forest_version_val(const struct sfs_forest_versions *vs,
						 const struct sfs_forest_version *v)
{
	return v->val_len ? vs->vals + v->val_off : NULL;
}

/*
 * Delta items (zone 12, xattr totals): values are struct
 * scoutfs_xattr_totl_val {total, count}, added, never replaced; a sum of
 * 0 and 0 is no item.
 */
static inline bool sfs_forest_delta_key(const struct scoutfs_key *key)
{
	return key->sk_zone == SCOUTFS_XATTR_TOTL_ZONE;
}

/* acc += d (two's complement, as the reference adds them) */
void sfs_forest_delta_add(struct scoutfs_xattr_totl_val *acc,
			  const struct scoutfs_xattr_totl_val *d);

static inline bool sfs_forest_delta_null(const struct scoutfs_xattr_totl_val *v)
{
	return v->total == 0 && v->count == 0;
}

/*
 * The value of one delta key from its versions v[0..nr) (one key's run
 * of a sorted sfs_forest_versions): the fs_root item plus the merge
 * inputs' sum when they are not in fs_root yet plus every other tree's
 * sum (format-spec.md 10.3).  1 with *sum and *seq (the greatest seq of
 * the versions counted), 0 when the sum is 0/0 (no item), -EIO (logged)
 * for a value that is not 16 bytes or a deletion item.
 */
int sfs_forest_delta_resolve(struct sfs_fs *fs, const struct sfs_forest_versions *vs,
			     const struct sfs_forest_version *v, size_t nr,
			     struct scoutfs_xattr_totl_val *sum, uint64_t *seq);

/*
 * A commit writes its dirty items into the mount's log tree root, where
 * an earlier transaction of the same tree may have left a delta for the
 * same key: the delta items among items[0..nr) (sorted) get values that
 * add what the tree holds.  The new values live in *bufp (NULL when
 * there were no deltas), which the caller frees after the insert.  0,
 * -ENOMEM, -EIO, or the tree's read errors.
 */
int sfs_forest_fold_log_deltas(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
			       struct sfs_btree_list_item *items, size_t nr, void **bufp);

/* one item, merged: 0 with *ret filled, or -ENOENT */
int sfs_forest_lookup(struct sfs_fs *fs, const struct sfs_forest_roots *roots,
		      const struct scoutfs_key *key, struct sfs_btree_item_ret *ret);

/*
 * Set the bloom bits for a lock start key in a log tree's bloom block,
 * making the block (and the ref) dirty in wri first.  A zero ref gets a
 * new bloom block.
 */
int sfs_forest_bloom_set(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			 struct scoutfs_block_ref *ref, const struct scoutfs_key *lock_start);

/* may the log tree with this bloom hold items under lock_start? */
int sfs_forest_bloom_test(struct sfs_fs *fs, const struct scoutfs_block_ref *ref,
			  const struct scoutfs_key *lock_start, bool *maybe);

#endif
