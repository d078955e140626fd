/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_BTREE_H
#define SFS_BTREE_H

/*
 * Btree blocks as format-spec.md section 8 lays them out.  This is the
 * in-block layer: item array, AVL links, value space and the leaf hash
 * table of a single 64 KiB block.  Tree operations (COW, split, join,
 * descent) build on it.
 */

#include <stdint.h>
#include <stddef.h>

#include "scoutfs/format.h"
#include "alloc.h"
#include "block.h"
#include "sfs.h"

/* bytes of a block that items and values may use: leaves end in the hash table */
static inline unsigned int sfs_btree_block_end(uint8_t level)
{
	return level == 0 ? SCOUTFS_BTREE_LEAF_ITEM_HASH_OFF : SCOUTFS_BLOCK_LG_SIZE;
}

/* the AVL link (relative to block offset 32) of item index i */
static inline uint16_t sfs_btree_item_link(unsigned int i)
{
	return (uint16_t)(16 + 56 * i);
}

/* the block offset of item index i */
static inline unsigned int sfs_btree_item_off(unsigned int i)
{
	return 48 + 56 * i;
}

/* the item an AVL link names, NULL for 0 or an invalid link */
const struct scoutfs_btree_item *sfs_btree_link_item(const struct scoutfs_btree_block *bt,
						     uint16_t link);

/* an item's value, NULL if it has none */
static inline const void *sfs_btree_item_val(const struct scoutfs_btree_block *bt,
					     const struct scoutfs_btree_item *item)
{
	if (item->val_len == 0)
		return NULL;
	return (const char *)bt + le16toh(item->val_off);
}

/* the 1512 le16 buckets of a leaf's hash table */
static inline __le16 *sfs_btree_leaf_hash(struct scoutfs_btree_block *bt)
{
	return (__le16 *)((char *)bt + SCOUTFS_BTREE_LEAF_ITEM_HASH_OFF);
}

/* an empty block of the given level; the caller fills in the header */
void sfs_btree_block_init(struct scoutfs_btree_block *bt, uint8_t level);

/*
 * Append an item whose key is greater than every key in the block, the
 * way the reference mkfs builds its blocks: the new item becomes the AVL
 * root with the previous root as its left child, heights as the
 * reference writes them (root 0, others 1), the value at the end of the
 * free gap, and a hash entry in leaves.  Returns -ENOSPC without change
 * if it does not fit, -EINVAL for an out of order key or a bad length.
 */
int sfs_btree_append_item(struct scoutfs_btree_block *bt, const struct scoutfs_key *key,
			  uint64_t seq, uint8_t flags, const void *val, unsigned int val_len);

/* in-order walk: smallest item, and the item after @item (NULL at the end) */
const struct scoutfs_btree_item *sfs_btree_first_item(const struct scoutfs_btree_block *bt);
const struct scoutfs_btree_item *sfs_btree_next_item(const struct scoutfs_btree_block *bt,
						     const struct scoutfs_btree_item *item);

/* exact lookup through a leaf's hash table */
const struct scoutfs_btree_item *sfs_btree_leaf_lookup(const struct scoutfs_btree_block *bt,
						       const struct scoutfs_key *key);

/*
 * Check everything section 8.8 requires of a block that can be checked
 * without its neighbours: header fields, item array bounds, AVL links and
 * key order, values, byte accounting and, in leaves, the hash table.
 * Returns 0 or -EIO with a one-line reason in @why.  AVL heights and
 * balance are not checked (the reference mkfs writes wrong heights).
 */
int sfs_btree_block_verify(const struct scoutfs_btree_block *bt, int level, char *why,
			   size_t why_len);

/* ------------------------------------------------------------------ */
/* Trees                                                                */
/* ------------------------------------------------------------------ */

/*
 * An item copied out of a tree.  Readers get copies, never pointers into
 * cached blocks, so nothing they hold can go stale under them.
 */
struct sfs_btree_item_ret {
	struct scoutfs_key key;
	uint64_t seq;
	uint8_t flags;
	uint16_t val_len;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
};

/*
 * Reads: 0 or -ENOENT, -ESTALE (a block changed under the walk: re-read
 * the root and retry), -EIO (corruption, logged with the block number).
 */
int sfs_btree_lookup(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		     const struct scoutfs_key *key, struct sfs_btree_item_ret *ret);
/* the first item with a key >= key */
int sfs_btree_next(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		   const struct scoutfs_key *key, struct sfs_btree_item_ret *ret);
/* the last item with a key <= key */
int sfs_btree_prev(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		   const struct scoutfs_key *key, struct sfs_btree_item_ret *ret);

/*
 * Call cb for every item between start and end (inclusive) in the leaf
 * that holds key, in key order; a non-zero return stops the walk and is
 * returned.  *start and *end are narrowed to the key range that leaf
 * covers, so a caller can cache "no other items exist here" and continue
 * after *end.
 */
typedef int (*sfs_btree_item_cb)(void *arg, const struct scoutfs_key *key, uint64_t seq,
				 uint8_t flags, const void *val, unsigned int val_len);
int sfs_btree_read_items(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
			 const struct scoutfs_key *key, struct scoutfs_key *start,
			 struct scoutfs_key *end, sfs_btree_item_cb cb, void *arg);

/*
 * Writes copy every block on the path into wri (allocating from alloc,
 * freeing what they replace) and update root.  One writer per tree at a
 * time: callers serialize writes, and reads of a tree the same caller is
 * writing.  insert: -EEXIST if present; update and delete: -ENOENT if
 * absent; force inserts or updates.  -ENOSPC when the allocator is out.
 */
int sfs_btree_insert(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		     uint8_t flags, const void *val, unsigned int val_len);
int sfs_btree_update(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		     uint8_t flags, const void *val, unsigned int val_len);
int sfs_btree_force(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		    struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		    uint8_t flags, const void *val, unsigned int val_len);
int sfs_btree_delete(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_btree_root *root, const struct scoutfs_key *key);

/* one item of a sorted list for sfs_btree_insert_list */
struct sfs_btree_list_item {
	struct scoutfs_key key;
	uint64_t seq;
	uint8_t flags;
	uint16_t val_len;
	uint16_t bucket1;	/* leaf hash bucket + 1 (sfs_btree_list_hash), 0: not known */
	const void *val;
};

/*
 * Fill in the leaf hash buckets of a list's items ahead of its insert
 * (another thread can take that work off the one that builds leaves).
 */
void sfs_btree_list_hash(struct sfs_btree_list_item *items, size_t nr);

/* force a list of items sorted by key (keys unique) */
int sfs_btree_insert_list(struct sfs_fs *fs, struct sfs_alloc *alloc,
			  struct sfs_block_writer *wri, struct scoutfs_btree_root *root,
			  const struct sfs_btree_list_item *items, size_t nr);

/* free every block of the tree, reading only its parents; root becomes empty */
int sfs_btree_free_blocks(struct sfs_fs *fs, struct sfs_alloc *alloc,
			  struct sfs_block_writer *wri, struct scoutfs_btree_root *root);

/*
 * Check a whole tree: every block passes sfs_btree_block_verify at its
 * level, every key lies in the range its parent item gives its child,
 * the right spine ends in the ones key, and leaves are all at level 0.
 * block_cb (optional) is called with every blkno, for allocator
 * accounting.  Counts in *nr_items / *nr_blocks.  0 or -EIO with why.
 */
int sfs_btree_check_tree(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
			 void (*block_cb)(void *arg, uint64_t blkno), void *arg,
			 uint64_t *nr_items, uint64_t *nr_blocks, char *why, size_t why_len);

#endif
