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
};

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
struct sfs_forest_version {
	struct scoutfs_key key;
	uint64_t seq;
	uint32_t order;		/* the tree it came from, in read order (fs_root first: 0) */
	uint32_t val_off;	/* in sfs_forest_versions.vals */
	uint16_t val_len;
	uint8_t flags;
};

struct sfs_forest_versions {
	struct sfs_forest_version *v;
	size_t nr, cap;
	uint8_t *vals;
	size_t vals_len, vals_cap;
	uint32_t order;		/* set before reading each tree */
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
