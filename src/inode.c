// SPDX-License-Identifier: GPL-2.0
/*
 * Inodes: the INODE item of each inode (struct scoutfs_inode, 160 bytes
 * in format v1 and 168 in v2) and its META_SEQ / DATA_SEQ index items,
 * and inode numbers.
 *
 * Every change to an inode in a transaction sets its meta_seq to the
 * transaction's seq and moves its META_SEQ index item (zone INODE_INDEX,
 * type META_SEQ, second = meta_seq, third = ino) with it, as the
 * reference does, so walks of the index find what changed.  data_seq
 * and its index item move when file contents change (regular files
 * only; directories are never in the data_seq index).
 *
 * Inode numbers come from the server (ALLOC_INODES) in batches and are
 * never reused; the root is 1 and mkfs starts the rest at 1024.
 *
 * Format v2 adds two things to the item: proj, a project ID new inodes
 * take from their parent directory (fs.c make_node), and the RETENTION
 * flag, set and cleared by root (ctl_attr.c), which freezes a regular
 * file: sfs_inode_retention_check is what every changing path asks.
 *
 * Locking: numbers under inodes->lock; items through the item cache,
 * which serializes itself; callers serialize changes to one inode.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/sysmacros.h>

#include "client.h"
#include "inode.h"
#include "lock.h"
#include "log.h"

/* inode numbers asked of the server at a time (the reference asks for 10240) */
#define INO_BATCH 10240

struct sfs_inodes {
	uint64_t fmt_vers;
	pthread_mutex_t lock;
	uint64_t next_ino;	/* lock: next number of the batch */
	uint64_t nr;		/* lock: numbers left in it */
};

int sfs_inodes_setup(struct sfs_fs *fs, uint64_t fmt_vers)
{
	struct sfs_inodes *in;

	if (fs->inodes)
		return -EBUSY;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->fmt_vers = fmt_vers;
	pthread_mutex_init(&in->lock, NULL);
	fs->inodes = in;
	return 0;
}

void sfs_inodes_destroy(struct sfs_fs *fs)
{
	struct sfs_inodes *in = fs->inodes;

	if (!in)
		return;
	pthread_mutex_destroy(&in->lock);
	free(in);
	fs->inodes = NULL;
}

struct sfs_item_range sfs_inode_lock(uint64_t ino)
{
	return sfs_lock_name_ino(ino);
}

struct sfs_item_range sfs_all_lock(void)
{
	struct sfs_item_range r;

	sfs_key_set_zero(&r.start);
	sfs_key_set_ones(&r.end);
	return r;
}

unsigned int sfs_inode_bytes(struct sfs_fs *fs)
{
	return fs->inodes->fmt_vers >= 2 ? sizeof(struct scoutfs_inode) :
					   offsetof(struct scoutfs_inode, proj);
}

uint64_t sfs_inode_fmt_vers(struct sfs_fs *fs)
{
	return fs->inodes->fmt_vers;
}

static struct scoutfs_key inode_key(uint64_t ino)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_INODE_TYPE, 0, 0, 0);
}

static struct scoutfs_key index_key(uint8_t type, uint64_t seq, uint64_t ino)
{
	return sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, type, seq, ino, 0);
}

int sfs_inode_read(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di)
{
	struct scoutfs_key key = inode_key(ino);
	struct sfs_item_range lock = sfs_inode_lock(ino);
	unsigned int len;
	int ret;

	memset(di, 0, sizeof(*di));
	ret = sfs_item_lookup(fs, &key, di, sizeof(*di), &len, &lock);
	if (ret)
		return ret;
	if (len != sfs_inode_bytes(fs) &&
	    !(len == offsetof(struct scoutfs_inode, proj) && fs->inodes->fmt_vers >= 2)) {
		sfs_err(fs, "inode %llu: item of %u bytes, want %u",
			(unsigned long long)ino, len, sfs_inode_bytes(fs));
		return -EIO;
	}
	return 0;
}

/*
 * Move an index item from old_seq to new_seq (0: none) in the
 * transaction of seq: the deletion item carries seq too, so it hides the
 * old item wherever that was written.
 */
/*
 * The index item of ino moves from old_seq (if has_old) to new_seq (if
 * not 0).  has_old is separate from old_seq: mkfs writes the root's
 * META_SEQ item at seq 0, which must go when the root first changes.
 */
static int move_index_from(struct sfs_fs *fs, uint8_t type, uint64_t ino, uint64_t old_seq,
			   bool has_old, uint64_t new_seq, uint64_t seq)
{
	struct sfs_item_range all = sfs_all_lock();
	struct scoutfs_key key;
	int ret = 0;

	if (has_old && old_seq == new_seq)
		return 0;
	if (has_old) {
		key = index_key(type, old_seq, ino);
		ret = sfs_item_delete_force(fs, &key, seq, &all);
	}
	if (!ret && new_seq) {
		key = index_key(type, new_seq, ino);
		ret = sfs_item_force(fs, &key, NULL, 0, seq, &all);
	}
	return ret;
}

/* old_seq 0: the inode had no item of this index */
static int move_index(struct sfs_fs *fs, uint8_t type, uint64_t ino, uint64_t old_seq,
		      uint64_t new_seq, uint64_t seq)
{
	return move_index_from(fs, type, ino, old_seq, old_seq != 0, new_seq, seq);
}

static int write_inode(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq,
		       bool create)
{
	struct scoutfs_key key = inode_key(ino);
	struct sfs_item_range lock = sfs_inode_lock(ino);
	uint64_t old_meta = create ? 0 : le64toh(di->meta_seq);
	int ret;

	di->meta_seq = htole64(seq);
	di->version = htole64(le64toh(di->version) + 1);
	ret = move_index_from(fs, SCOUTFS_INODE_INDEX_META_SEQ_TYPE, ino, old_meta, !create, seq,
			      seq);
	if (ret)
		return ret;
	if (create && S_ISREG(le32toh(di->mode))) {
		/* a new file is in the data_seq index from the start, as the reference */
		di->data_seq = htole64(seq);
		ret = move_index(fs, SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE, ino, 0, seq, seq);
		if (ret)
			return ret;
	}
	if (create)
		return sfs_item_create(fs, &key, di, sfs_inode_bytes(fs), seq, &lock);
	return sfs_item_update(fs, &key, di, sfs_inode_bytes(fs), seq, &lock);
}

int sfs_inode_update(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq)
{
	return write_inode(fs, ino, di, seq, false);
}

int sfs_inode_create(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq)
{
	return write_inode(fs, ino, di, seq, true);
}

int sfs_inode_data_changed(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			   uint64_t seq)
{
	uint64_t old = le64toh(di->data_seq);

	di->data_version = htole64(le64toh(di->data_version) + 1);
	di->data_seq = htole64(seq);
	return move_index(fs, SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE, ino, old, seq, seq);
}

int sfs_inode_set_data_version(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			       uint64_t dv, uint64_t seq)
{
	uint64_t old = le64toh(di->data_seq);

	di->data_version = htole64(dv);
	di->data_seq = htole64(seq);
	return move_index(fs, SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE, ino, old, seq, seq);
}

int sfs_inode_retention_check(const struct scoutfs_inode *di)
{
	return (le32toh(di->flags) & SCOUTFS_INO_FLAG_RETENTION) ? -EPERM : 0;
}

int sfs_inode_delete(struct sfs_fs *fs, uint64_t ino, const struct scoutfs_inode *di,
		     uint64_t seq)
{
	struct scoutfs_key key = inode_key(ino);
	struct sfs_item_range lock = sfs_inode_lock(ino);

	return move_index(fs, SCOUTFS_INODE_INDEX_META_SEQ_TYPE, ino, le64toh(di->meta_seq), 0,
			  seq) ?:
	       move_index(fs, SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE, ino, le64toh(di->data_seq), 0,
			  seq) ?:
	       sfs_item_delete(fs, &key, seq, &lock);
}

int sfs_inode_alloc_ino(struct sfs_fs *fs, uint64_t *ino)
{
	struct sfs_inodes *in = fs->inodes;
	uint64_t first, nr;
	int ret = 0;

	pthread_mutex_lock(&in->lock);
	if (!in->nr) {
		ret = sfs_client_alloc_inodes(fs, INO_BATCH, &first, &nr);
		if (!ret && !nr)
			ret = -ENOSPC;	/* the inode number space is used up */
		if (!ret) {
			in->next_ino = first;
			in->nr = nr;
		}
	}
	if (!ret) {
		*ino = in->next_ino++;
		in->nr--;
	}
	pthread_mutex_unlock(&in->lock);
	return ret;
}

void sfs_ts_now(struct scoutfs_timespec *ts)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	sfs_ts_set(ts, &t);
}

void sfs_ts_set(struct scoutfs_timespec *ts, const struct timespec *t)
{
	memset(ts, 0, sizeof(*ts));
	ts->sec = htole64((uint64_t)t->tv_sec);
	ts->nsec = htole32((uint32_t)t->tv_nsec);
}

void sfs_inode_init(struct scoutfs_inode *di, uint32_t mode, uint32_t uid, uint32_t gid,
		    uint32_t rdev)
{
	memset(di, 0, sizeof(*di));
	di->mode = htole32(mode);
	di->uid = htole32(uid);
	di->gid = htole32(gid);
	di->rdev = htole32(rdev);
	di->nlink = htole32(S_ISDIR(mode) ? 2 : 1);
	di->next_readdir_pos = htole64(SCOUTFS_DIRENT_FIRST_POS);
	sfs_ts_now(&di->ctime);
	di->atime = di->ctime;
	di->mtime = di->ctime;
	di->crtime = di->ctime;
}

static void ts_get(struct timespec *t, const struct scoutfs_timespec *ts)
{
	t->tv_sec = (time_t)le64toh(ts->sec);
	t->tv_nsec = (long)le32toh(ts->nsec);
}

/* the kernel's rdev encoding in the item: (major << 20) | minor */
void sfs_inode_to_stat(uint64_t ino, const struct scoutfs_inode *di, struct stat *st)
{
	uint32_t rdev = le32toh(di->rdev);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = le32toh(di->mode);
	st->st_nlink = le32toh(di->nlink);
	st->st_uid = le32toh(di->uid);
	st->st_gid = le32toh(di->gid);
	st->st_rdev = makedev(rdev >> 20, rdev & ((1U << 20) - 1));
	st->st_size = (off_t)le64toh(di->size);
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)(le64toh(di->online_blocks) * 8);
	ts_get(&st->st_atim, &di->atime);
	ts_get(&st->st_mtim, &di->mtime);
	ts_get(&st->st_ctim, &di->ctime);
}
