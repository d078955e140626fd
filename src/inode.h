/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_INODE_H
#define SFS_INODE_H

#include <stdint.h>
#include <sys/stat.h>

#include "item.h"
#include "sfs.h"

#include <scoutfs/format.h>

#define SFS_ROOT_INO 1ULL

/* needs a mounted stack (fs->client, fs->item, fs->trans) */
int sfs_inodes_setup(struct sfs_fs *fs, uint64_t fmt_vers);
void sfs_inodes_destroy(struct sfs_fs *fs);

/* the item lock range covering an inode's items: its 1024-inode group */
struct sfs_item_range sfs_inode_lock(uint64_t ino);
/* a range covering every key (indices, orphans), single-node */
struct sfs_item_range sfs_all_lock(void);

/* bytes of an inode item on this volume: 160 (v1) or 168 (v2) */
unsigned int sfs_inode_bytes(struct sfs_fs *fs);
/* the volume's format version (2 and later: retention, project IDs) */
uint64_t sfs_inode_fmt_vers(struct sfs_fs *fs);

/* the inode item; -ENOENT if there is none, -EIO if it is malformed */
int sfs_inode_read(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di);

/*
 * Write an inode changed in the transaction of seq: its meta_seq becomes
 * seq (moving its META_SEQ index item), its version increments.  create
 * makes a new inode item; the caller holds the transaction.
 */
int sfs_inode_update(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq);
int sfs_inode_create(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq);
/*
 * A regular file's contents or size changed in the transaction of seq:
 * data_version goes up, data_seq becomes seq (moving its DATA_SEQ index
 * item).  The caller writes the inode afterwards.
 */
int sfs_inode_data_changed(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			   uint64_t seq);
/*
 * Restore (SET_ATTR_X): data_version becomes dv, data_seq seq (moving its
 * DATA_SEQ index item).  The caller writes the inode afterwards.
 */
int sfs_inode_set_data_version(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			       uint64_t dv, uint64_t seq);
/*
 * Retention (format v2, regular files): -EPERM when di has the RETENTION
 * flag, 0 otherwise.  Every change to the inode but clearing the flag is
 * refused: writes, truncation, setattr, unlink, rename of or over it,
 * user.* xattrs (other xattr namespaces stay writable).  The flag is
 * never set on a v1 volume, so no format check is needed here.
 */
int sfs_inode_retention_check(const struct scoutfs_inode *di);
/* delete an inode item and its index items (its other items are gone) */
int sfs_inode_delete(struct sfs_fs *fs, uint64_t ino, const struct scoutfs_inode *di,
		     uint64_t seq);

/* a new inode number, never used before (batches from the server) */
int sfs_inode_alloc_ino(struct sfs_fs *fs, uint64_t *ino);

/* a fresh inode in memory: mode, owner, times now, nlink, rdev */
void sfs_inode_init(struct scoutfs_inode *di, uint32_t mode, uint32_t uid, uint32_t gid,
		    uint32_t rdev);

void sfs_inode_to_stat(uint64_t ino, const struct scoutfs_inode *di, struct stat *st);

/* timespec helpers */
void sfs_ts_now(struct scoutfs_timespec *ts);
void sfs_ts_set(struct scoutfs_timespec *ts, const struct timespec *t);

#endif
