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

#endif
