/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_FS_INT_H
#define SFS_FS_INT_H
/*
 * Shared by the FUSE op files (fs.c: inodes and names, data.c: file
 * contents, xattr.c: extended attributes).  Not for use outside them.
 *
 * Locking order: rename_mutex (cross-directory renames), the cluster
 * locks of the op (the rename lock first, then one sfs_lock_set, taken
 * in name order), ns, then data locks, then inode locks (each ascending
 * inode number), then the transaction (sfs_trans_hold).  Nothing local
 * is held while a cluster lock is awaited.  Namespace changes take ns exclusively;
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
struct sfs_kinval_job;

struct open_ino {
	RB_ENTRY(open_ino) node;
	uint64_t ino;
	unsigned long count;
	unsigned long writers;	/* opens: of them, for writing */
};

RB_HEAD(open_tree, open_ino);

#define SFS_INO_LOCKS 256

/* the open-inode map: 1024-inode groups, as the inode group locks */
#define SFS_OMAP_SHIFT 10
#define SFS_OMAP_MASK ((1ULL << SFS_OMAP_SHIFT) - 1)
#define SFS_OMAP_WORDS 16
#define SFS_OMAP_CACHED 64

/* a group's map as the server last answered it, valid for one write_seq */
struct sfs_omap_cached {
	uint64_t group;
	uint64_t write_seq;	/* of the group's WRITE lock; 0: empty */
	uint64_t bits[SFS_OMAP_WORDS];
};

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
	struct sfs_omap_cached omap_cache[SFS_OMAP_CACHED];	/* opens_lock */
	/* cross-directory renames of this mount, one at a time (fs.c op_rename) */
	pthread_mutex_t rename_mutex;

	/*
	 * File data writes in flight (data.c): replied to, still being
	 * written.  Reads and writes of blocks they cover wait for them.
	 */
	pthread_mutex_t inflight_lock;
	pthread_cond_t inflight_cond;
	struct sfs_inflight *inflight;	/* inflight_lock: a list */

	/*
	 * Page invalidations of revoked locks (fs.c sfs_fuse_kernel_invalidate):
	 * run by kinval_thread, waited for a bounded time only, as the kernel
	 * may hold the pages locked for a request that waits for the lock.
	 */
	pthread_t kinval_thread;
	bool kinval_started;
	pthread_mutex_t kinval_lock;
	pthread_cond_t kinval_cond;
	struct sfs_kinval_job *kinval_head;	/* kinval_lock: a FIFO */
	struct sfs_kinval_job *kinval_tail;
	bool kinval_stopping;			/* kinval_lock */
	/* inodes whose pages wait until no request of theirs is busy */
	struct open_tree kinval_deferred;	/* kinval_lock */
	/*
	 * Read and write requests waiting for their cluster lock, by inode
	 * (the kernel holds their pages locked meanwhile).  opens_lock.
	 */
	struct open_tree busy;

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

/*
 * A read or write request of ino waits for its cluster lock between
 * these: a revoke then leaves the inode's pages to later
 * (sfs_fuse_kernel_invalidate)
 */
void sfs_fuse_busy_get(struct sfs_fuse *sf, uint64_t ino);
void sfs_fuse_busy_put(struct sfs_fuse *sf, uint64_t ino);

/* is ino open for writing through this mount? */
bool sfs_fuse_open_writable(struct sfs_fuse *sf, uint64_t ino);

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
/*
 * The same with zone locks for what the op may change blind: xattr
 * totals (TOTL), the xattr index (INDX); DELETE: both, as an inode's
 * deletion drops its xattrs; and the quota rules it checks (QUOTA).  WRITE always adds the seq index zone
 * (WRITE_ONLY): every change of an inode moves its index items.
 */
#define SFS_FUSE_LOCK_TOTL 0x1
#define SFS_FUSE_LOCK_INDX 0x2
#define SFS_FUSE_LOCK_DELETE (SFS_FUSE_LOCK_TOTL | SFS_FUSE_LOCK_INDX)
/* the quota rules zone, READ: the op checks quotas (sfs_quota_check) */
#define SFS_FUSE_LOCK_QUOTA 0x4
int sfs_fuse_lock_inodes_x(struct sfs_fuse *sf, struct sfs_lock_set *set, uint8_t mode,
			   unsigned int xflags, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
uint64_t sfs_fuse_lock_seq(const struct sfs_lock_set *set, uint64_t seq);
/*
 * A whole zone's lock in mode (READ to read what every mount wrote
 * blind under WRITE_ONLY: their grants are taken back, which commits
 * them; own: this mount's own writes under it are committed too, for
 * readers of committed items).  Given back with sfs_fuse_unlock.
 */
int sfs_fuse_lock_zone(struct sfs_fuse *sf, struct sfs_lock_set *set, uint8_t zone, uint8_t mode,
		       bool own);
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
