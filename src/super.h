/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_SUPER_H
#define SFS_SUPER_H

/*
 * The two super blocks: what a reader must check before trusting a pair
 * of devices (format-spec.md 5.5), and reading them.
 */

#include <stdint.h>
#include <stddef.h>

#include "scoutfs/format.h"
#include "sfs.h"

/*
 * Check one super block (the 4096 bytes at SM blkno 16) found on a device
 * of dev_bytes: magic, crc, blkno, format version, and that both block
 * totals fit the devices it names (meta_bytes, data_bytes).  Returns 0 or
 * -EINVAL with a reason in @why.
 */
int sfs_super_check(const void *blk, uint64_t meta_bytes, uint64_t data_bytes, char *why,
		    size_t why_len);

/*
 * Check a pair: each is a valid super, the meta flag is on the meta super
 * only, uuids, format versions and fsids are equal, then both supers'
 * block totals fit both devices.
 */
int sfs_super_check_pair(const void *meta_blk, const void *data_blk, uint64_t meta_bytes,
			 uint64_t data_bytes, char *why, size_t why_len);

/*
 * Read and check both supers through the block layer (both devices must
 * be open).  On success the meta super is copied to *super, fs->fsid is
 * set and the block layer starts checking fsids.
 */
int sfs_super_read(struct sfs_fs *fs, struct scoutfs_super_block *super);

#endif
