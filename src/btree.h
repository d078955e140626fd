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

#endif
