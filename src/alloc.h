/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_ALLOC_H
#define SFS_ALLOC_H

/*
 * Allocators.  A transaction (a mount's log tree commit, or a server
 * commit) allocates metadata blocks for copy-on-write from its avail list
 * and puts the blocks it frees on its freed list; freed blocks are reused
 * only after the transaction that freed them is durable.
 *
 * struct sfs_alloc is what the btree and every other copy-on-write user
 * is handed.  The list allocator of the format (alloc.c) implements it;
 * unit tests plug in models of their own.
 */

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "sfs.h"

struct sfs_alloc;

struct sfs_alloc_ops {
	/* a free metadata block for this transaction, or -ENOSPC */
	int (*alloc_meta)(struct sfs_fs *fs, struct sfs_alloc *alloc,
			  struct sfs_block_writer *wri, uint64_t *blkno);
	/* a metadata block this transaction no longer references */
	int (*free_meta)(struct sfs_fs *fs, struct sfs_alloc *alloc,
			 struct sfs_block_writer *wri, uint64_t blkno);
};

struct sfs_alloc {
	const struct sfs_alloc_ops *ops;
};

static inline int sfs_alloc_meta(struct sfs_fs *fs, struct sfs_alloc *alloc,
				 struct sfs_block_writer *wri, uint64_t *blkno)
{
	return alloc->ops->alloc_meta(fs, alloc, wri, blkno);
}

static inline int sfs_free_meta(struct sfs_fs *fs, struct sfs_alloc *alloc,
				struct sfs_block_writer *wri, uint64_t blkno)
{
	return alloc->ops->free_meta(fs, alloc, wri, blkno);
}

/* ------------------------------------------------------------------ */
/* The format's allocators (alloc.c)                                    */
/* ------------------------------------------------------------------ */

/*
 * A transaction's metadata allocator: blocks come off the avail list and
 * freed blocks go on the freed list; list blocks are copied on write into
 * the transaction's writer like any other metadata block.
 */
struct sfs_alloc_lists {
	struct sfs_alloc alloc;
	struct scoutfs_alloc_list_head avail;
	struct scoutfs_alloc_list_head freed;
};

void sfs_alloc_lists_init(struct sfs_alloc_lists *lists,
			  const struct scoutfs_alloc_list_head *avail,
			  const struct scoutfs_alloc_list_head *freed);

/*
 * May a transaction grow metadata, needing up to `need` more blocks?
 * -ENOSPC once the server has marked the avail list LOW (it is into its
 * reserve) or the list holds fewer than need.  Deletions skip this check:
 * they may use the reserve, which is what lets a full volume recover.
 */
int sfs_alloc_lists_check_growth(const struct sfs_alloc_lists *lists, uint64_t need);

/*
 * Free-extent trees.  alloc and wri are the allocator and writer the
 * trees' own blocks are copied with.  insert merges with neighbours and
 * refuses (-EIO) an extent that overlaps a free one; remove takes a range
 * that must lie inside one free extent; alloc_extent takes up to want
 * blocks from the front of an extent in the largest size class (-ENOSPC
 * when the tree is empty).
 */
int sfs_alloc_insert_extent(struct sfs_fs *fs, struct sfs_alloc *alloc,
			    struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			    uint64_t start, uint64_t len);
int sfs_alloc_remove_extent(struct sfs_fs *fs, struct sfs_alloc *alloc,
			    struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			    uint64_t start, uint64_t len);
int sfs_alloc_alloc_extent(struct sfs_fs *fs, struct sfs_alloc *alloc,
			   struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			   uint64_t want, uint64_t *start, uint64_t *len);

/*
 * The server's moves: a tree into a list; a list's entries into a tree
 * (its list blocks onto alloc's freed list, as the durable state may
 * still reference them); extents from tree to tree.
 */
int sfs_alloc_fill_list(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			struct scoutfs_alloc_list_head *head, struct scoutfs_alloc_root *root,
			uint64_t target);
int sfs_alloc_empty_list(struct sfs_fs *fs, struct sfs_alloc *alloc,
			 struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			 struct scoutfs_alloc_list_head *head);
int sfs_alloc_move(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		   struct scoutfs_alloc_root *dst, struct scoutfs_alloc_root *src, uint64_t total);

/*
 * Data allocation zones (the volume option data_alloc_zone_blocks): the
 * data device in zones of zone_blocks blocks, at most
 * SCOUTFS_DATA_ALLOC_MAX_ZONES, as bitmaps of SCOUTFS_DATA_ALLOC_ZONE_LE64S
 * host-order words (zone n: bit n % 64 of word n / 64).
 *
 * move_zoned moves total blocks as sfs_alloc_move does, but takes them
 * first from the zones set in exclusive, then from those in vacant
 * (either may be NULL), lowest blocks first within a zone and each piece
 * inside one zone, and only the rest from anywhere.  zone_blocks 0: no
 * preference.  zones_mark sets (or clears) the bits of the zones that
 * [start, start + len) touches.
 */
int sfs_alloc_move_zoned(struct sfs_fs *fs, struct sfs_alloc *alloc,
			 struct sfs_block_writer *wri, struct scoutfs_alloc_root *dst,
			 struct scoutfs_alloc_root *src, uint64_t total, uint64_t zone_blocks,
			 const uint64_t *exclusive, const uint64_t *vacant);
void sfs_alloc_zones_mark(uint64_t *zones, uint64_t zone_blocks, uint64_t start, uint64_t len,
			  bool set);

/*
 * Audits: every entry of a list (list_block false) and every list block
 * (true); every extent of a tree in order, checking that extents neither
 * overlap nor touch, that both indexes agree and that total_len is right.
 */
int sfs_alloc_walk_list(struct sfs_fs *fs, const struct scoutfs_alloc_list_head *head,
			void (*cb)(void *arg, uint64_t blkno, bool list_block), void *arg);
int sfs_alloc_walk_extents(struct sfs_fs *fs, const struct scoutfs_alloc_root *root,
			   void (*cb)(void *arg, uint64_t start, uint64_t len), void *arg);

#endif
