/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_FS_INT_H
#define SFS_FS_INT_H
/*
 * Shared by the FUSE op files (fs.c: inodes and names, data.c: file
 * contents, xattr.c: extended attributes).  Not for use outside them.
 *
 * Locking order: ns, then data locks, then inode locks (each ascending
 * inode number), then the transaction (sfs_trans_hold).  Namespace changes take ns exclusively;
 * ops on one inode's contents or xattrs take ns shared and that inode's
 * lock, so they run in parallel for different inodes.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/tree.h>

#include "fs.h"
#include "scoutfs/format.h"

struct sfs_inflight;

struct open_ino {
	RB_ENTRY(open_ino) node;
	uint64_t ino;
	unsigned long count;
};

RB_HEAD(open_tree, open_ino);

#define SFS_INO_LOCKS 256

struct sfs_fuse {
	struct sfs_fs *fs;
	struct sfs_options opts;
	struct fuse_session *se;	/* for invalidations; NULL until set */
	struct sfs_waits *waits;	/* wait.c: requests parked on offline data */
	pthread_rwlock_t ns;
	pthread_mutex_t ino_locks[SFS_INO_LOCKS];	/* hashed by inode number */
	pthread_rwlock_t data_locks[SFS_INO_LOCKS];	/* file contents, hashed too */
	pthread_mutex_t opens_lock;
	struct open_tree opens;
	/*
	 * The inodes the kernel knows (entries we replied with, less what
	 * it FORGOT), with their lookup counts: what a lock revoke must make
	 * it drop (sfs_fuse_kernel_invalidate).  opens_lock.
	 */
	struct open_tree known;

	/*
	 * File data writes in flight (data.c): replied to, still being
	 * written.  Reads and writes of blocks they cover wait for them.
	 */
	pthread_mutex_t inflight_lock;
	pthread_cond_t inflight_cond;
	struct sfs_inflight *inflight;	/* inflight_lock: a list */

	/* the orphan scan (fs.c) */
	pthread_t orphan_thread;
	bool orphan_started;
	pthread_mutex_t orphan_lock;
	pthread_cond_t orphan_cond;
	bool stopping;			/* orphan_lock */
};

static inline struct sfs_fuse *sf_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* an inode's contents and xattrs: ns shared, then this */
static inline pthread_mutex_t *sfs_fuse_ino_lock(struct sfs_fuse *sf, uint64_t ino)
{
	return &sf->ino_locks[(ino * 0x9E3779B97F4A7C15ULL) >> 56];
}

/*
 * A file's contents: reads shared, writes, truncates and deletions
 * exclusive.  Taken before the inode lock (a write changes both).
 */
static inline pthread_rwlock_t *sfs_fuse_data_lock(struct sfs_fuse *sf, uint64_t ino)
{
	return &sf->data_locks[(ino * 0x9E3779B97F4A7C15ULL) >> 56];
}

/*
 * To change one file's contents and inode outside a FUSE write (control
 * requests: SET_ATTR_X): ns shared, its data lock exclusive, its inode
 * lock, in the order above.  The caller holds the transaction inside.
 */
void sfs_fuse_contents_lock(struct sfs_fuse *sf, uint64_t ino);
void sfs_fuse_contents_unlock(struct sfs_fuse *sf, uint64_t ino);

/*
 * Drop the kernel's cached pages of ino in [off, off + len) (len 0: to
 * the end) after a change that did not come through the kernel (release).
 * Call with no daemon locks held: the kernel may wait on our requests.
 */
void sfs_fuse_inval_data(struct sfs_fuse *sf, uint64_t ino, uint64_t off, uint64_t len);

/* reply with a negative or positive errno */
void sfs_fuse_reply_err(fuse_req_t req, int err);
/* an inode read under the shared namespace lock; on failure the error is the reply */
int sfs_fuse_get_inode(fuse_req_t req, uint64_t ino, struct scoutfs_inode *di);

/*
 * Cluster locks of an op (docs/cluster.md): the groups of up to four
 * inodes (0: none) in mode, taken before anything local; items written
 * under them get at least sfs_fuse_lock_seq(); unlock records the seq
 * the op wrote in (0: none) and gives them back.
 */
struct sfs_lock_set;
int sfs_fuse_lock_inodes(struct sfs_fuse *sf, struct sfs_lock_set *set, uint8_t mode,
			 uint64_t a, uint64_t b, uint64_t c, uint64_t d);
uint64_t sfs_fuse_lock_seq(const struct sfs_lock_set *set, uint64_t seq);
void sfs_fuse_unlock(struct sfs_fuse *sf, struct sfs_lock_set *set, uint64_t written_seq);
/* a namespace change: the namespace exclusively, then the transaction */
int sfs_fuse_change_begin(struct sfs_fuse *sf, bool growth, uint64_t *seq);
void sfs_fuse_change_end(struct sfs_fuse *sf);

/*
 * The inodes of one op: each read once (sfs_op_inode), marked changed
 * (sfs_op_dirty) and written together at the end (sfs_op_write_inodes).
 */
#define OP_INODES 4

struct op_inodes {
	struct {
		uint64_t ino;
		struct scoutfs_inode di;
		bool dirty;
	} e[OP_INODES];
	int nr;
};

int sfs_op_inode(struct sfs_fs *fs, struct op_inodes *oi, uint64_t ino,
		 struct scoutfs_inode **di);
void sfs_op_dirty(struct op_inodes *oi, const struct scoutfs_inode *di);
int sfs_op_write_inodes(struct sfs_fs *fs, struct op_inodes *oi, uint64_t seq);

#endif
