/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_CHECK_H
#define SFS_CHECK_H

/*
 * Whole-volume checks of a quiescent volume (or a crashed one): every
 * btree reachable from the super is structurally sound, and every
 * metadata and data block is accounted for exactly once, as free (in a
 * free extent or an avail list), freed (on a freed list), a list block,
 * or a block of a reachable tree.
 */

#include <stdint.h>
#include <stddef.h>

#include "scoutfs/format.h"
#include "sfs.h"

struct sfs_check_report {
	uint64_t trees;		/* btrees walked */
	uint64_t tree_blocks;	/* their blocks */
	uint64_t items;		/* their leaf items */
	uint64_t log_trees;	/* logs_root items */
	uint64_t meta_free;	/* in free extents and avail lists */
	uint64_t meta_freed;	/* on freed lists */
	uint64_t data_free;	/* in free extents */
	uint64_t merge_requests; /* log_merge REQUEST items */
	uint64_t merge_freeing;	/* log_merge FREEING items */
	uint64_t xattr_totals;	/* fs_root's xattr totals (zone 12) */
	uint64_t xattr_index;	/* fs_root's xattr index items (zone 14) */
	char why[256];		/* the first problem found */
};

/* 0, or -EIO with r->why saying what is wrong (errors reading are returned) */
int sfs_check_volume(struct sfs_fs *fs, const struct scoutfs_super_block *super,
		     struct sfs_check_report *r);

#endif
