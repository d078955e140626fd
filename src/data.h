/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_DATA_H
#define SFS_DATA_H
/*
 * File contents: DATA_EXTENT items mapping a regular file's 4 KiB blocks
 * to blocks of the data device, and the FUSE ops that read and write
 * them.  See the comment at the top of data.c.
 */
#include <stdint.h>

#include "fs.h"
#include "wait.h"
#include "scoutfs/format.h"

/* the largest file: 2^63 bytes (off_t), block numbers below 2^51 */
#define SFS_DATA_MAX_BLOCKS (1ULL << 51)
#define SFS_DATA_MAX_BYTES (SFS_DATA_MAX_BLOCKS << SCOUTFS_BLOCK_SM_SHIFT)

/*
 * With the transaction held (seq) and the inode's contents locked: the
 * file shrinks to size (blocks past it freed, the tail of its last block
 * zeroed) or loses every block (free_all, before the inode is deleted).
 * di's online/offline counts follow; the caller writes the inode.
 */
struct sfs_fuse;
int sfs_data_truncate(struct sfs_fuse *sf, uint64_t ino, struct scoutfs_inode *di,
		      uint64_t size, uint64_t seq);
/* wait for every file data write still in flight (before sf goes) */
void sfs_data_wait_all(struct sfs_fuse *sf);
int sfs_data_free_all(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq);

/* FUSE ops (data.c) */
/*
 * RELEASE: the mapped blocks of [off, off + len) (4 KiB aligned) become
 * unmapped OFFLINE extents and are freed, if the file's data_version is
 * still dv (-ESTALE otherwise).  Times, size and data_version stay.
 */
int sfs_data_release(struct sfs_fuse *sf, uint64_t ino, uint64_t off, uint64_t len,
		     uint64_t dv);
/*
 * STAGE: write buf back at off (4 KiB aligned; the end on a block or at
 * i_size, inside i_size), allocating over offline extents, if the file's
 * data_version is still dv.  Times, size and data_version stay.
 */
int sfs_data_stage(struct sfs_fuse *sf, uint64_t ino, uint64_t dv, uint64_t off,
		   const char *buf, size_t len);

/*
 * SETATTR_MORE / SET_ATTR_X with SIZE_OFFLINE: one OFFLINE extent over
 * [0, size) (blocks there before are freed), in the caller's transaction
 * with the contents locked; di's block counts follow.  The caller sets the
 * size and writes the inode.
 */
int sfs_data_init_offline(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			  uint64_t size, uint64_t seq);

/*
 * PUNCH_OFFLINE: the unmapped offline extents of [off, off + len) (4 KiB
 * aligned) become sparse holes, if data_version is still dv (which does
 * not change).  -EINVAL, and nothing changes, if a mapped extent is there.
 */
int sfs_data_punch_offline(struct sfs_fuse *sf, uint64_t ino, uint64_t off, uint64_t len,
			   uint64_t dv);
/*
 * MOVE_BLOCKS: the extents of [from_off, from_off + len) of from move
 * (no copy) to [to_off, ...) of to.  Offsets 4 KiB aligned; len too,
 * unless the range ends at from's i_size.  With stage the destination
 * range must be offline and to's data_version dv (-ESTALE), and only
 * from's size-independent fields change; without it neither file may have
 * offline extents (-ENODATA).  -EISDIR, -EINVAL, -EOVERFLOW.
 */
int sfs_data_move_blocks(struct sfs_fuse *sf, uint64_t from, uint64_t from_off, uint64_t len,
			 uint64_t to, uint64_t to_off, uint64_t dv, bool stage);

/*
 * A size change covers the whole file (data_version): it waits while any
 * of it is offline.  Park req (op CHANGE_SIZE, retried with a copy of
 * buf) if the file has an offline block and new_size is not its size
 * (a "change" to the same size changes no data and never waits).  1
 * when parked (answered later), 0 when it need not wait, or -errno.
 */
int sfs_data_wait_size(struct sfs_fuse *sf, fuse_req_t req, uint64_t ino, uint64_t new_size,
		       sfs_wait_retry_fn retry, const void *buf, size_t size);

void sfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void sfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi);
void sfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		      struct fuse_file_info *fi);
void sfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		  struct fuse_file_info *fi);

#endif
