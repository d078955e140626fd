// SPDX-License-Identifier: GPL-2.0
/*
 * File contents.
 *
 * Model
 * -----
 * A regular file's 4 KiB blocks map to blocks of the data device through
 * DATA_EXTENT items (reference-scoutfs.md 1.6): key (FS zone, ino,
 * DATA_EXTENT, last logical block, length), value {blkno, flags}.
 * Keying by the last block means the first item at or after (ino, b)
 * is the extent covering b, if any.  blkno 0 is "unmapped" (only with
 * OFFLINE); UNWRITTEN extents are allocated but read as zeros
 * (fallocate, preallocation); a missing extent is a sparse hole.
 * Extents never overlap; neighbours with contiguous blocks and equal
 * flags are merged as they are written.
 *
 * Data goes to the device before the extent items that reference it can
 * commit: a write maps its blocks and submits their I/O with the
 * transaction held and is answered at once; the I/O stays "in flight"
 * (see below) and a commit, which needs the transaction exclusively,
 * first waits for every data write begun in it (sfs_trans_data_io_*),
 * then flushes the data device before COMMIT_LOG_TREES.  Blocks
 * that already held the file's data are overwritten in place; new blocks
 * come from the transaction's data allocator (trans.c) and freed blocks
 * are reused only after the freeing transaction is durable.
 *
 * Preallocation follows the reference's options: with
 * data_prealloc_contig_only (default) a write appending at the end of
 * the file's online blocks allocates as many more as the file has
 * (up to data_prealloc_blocks), so streaming writes get contiguous
 * extents that double in size; otherwise every allocation covers the
 * aligned data_prealloc_blocks region around it.  The part not written
 * is an UNWRITTEN extent.
 *
 * The last block of a file holds zeros past i_size (truncate zeroes the
 * tail it keeps), so growing a file never shows old bytes.
 *
 * online_blocks counts mapped blocks that are not offline (preallocated
 * ones included: they are allocated), offline_blocks the OFFLINE ones.
 *
 * Offline extents (released to an archive): a read that reaches one parks
 * its request (wait.c) until it is staged; a write parks while any block
 * of the file is offline (data_version covers the whole file).
 *
 * Locking: ns shared, the inode's data lock (reads shared, changes
 * exclusive), then for changes the inode lock and the transaction.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "counters.h"
#include "data.h"
#include "fs_int.h"
#include "inode.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "quota.h"
#include "trans.h"
#include "wait.h"

#define BLK_SHIFT SCOUTFS_BLOCK_SM_SHIFT
#define BLK_SIZE SCOUTFS_BLOCK_SM_SIZE
#define BLK_MASK ((uint64_t)BLK_SIZE - 1)

/* blocks a fallocate maps per transaction */
#define FALLOC_BATCH (32768ULL)

struct ext {
	uint64_t start;
	uint64_t len;
	uint64_t map;	/* first data device block, 0: unmapped */
	uint8_t flags;	/* SCOUTFS_SEF_* */
};

static inline uint64_t ext_end(const struct ext *e)
{
	return e->start + e->len;
}

static struct scoutfs_key ext_key(uint64_t ino, uint64_t last, uint64_t len)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_DATA_EXTENT_TYPE, last, len, 0);
}

/* the extent at or after iblock; -ENOENT if none */
static int ext_next(struct sfs_fs *fs, uint64_t ino, uint64_t iblock, struct ext *e)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key = ext_key(ino, iblock, 0);
	struct scoutfs_key last = ext_key(ino, UINT64_MAX, UINT64_MAX);
	struct sfs_btree_item_ret ret_item, *r = &ret_item;
	struct scoutfs_data_extent_val ev;
	uint64_t elast;
	int ret;

	last._sk_fourth = 255;
	ret = sfs_item_next(fs, &key, &last, &lock, r);
	if (ret)
		return ret;
	elast = le64toh(r->key._sk_second);
	e->len = le64toh(r->key._sk_third);
	memcpy(&ev, r->val, r->val_len < sizeof(ev) ? r->val_len : sizeof(ev));
	if (r->key.sk_type != SCOUTFS_DATA_EXTENT_TYPE || r->val_len != sizeof(ev) ||
	    e->len == 0 || e->len > elast + 1 || elast >= SFS_DATA_MAX_BLOCKS ||
	    (ev.flags & ~SCOUTFS_SEF_EXISTING_BITS) ||
	    (le64toh(ev.blkno) == 0 && !(ev.flags & SCOUTFS_SEF_OFFLINE))) {
		sfs_err(fs, "inode %llu: malformed data extent item (last %llu len %llu, %u bytes)",
			(unsigned long long)ino, (unsigned long long)elast,
			(unsigned long long)e->len, r->val_len);
		return -EIO;
	}
	e->start = elast - e->len + 1;
	e->map = le64toh(ev.blkno);
	e->flags = ev.flags;
	return 0;
}

static int ext_insert(struct sfs_fs *fs, uint64_t ino, const struct ext *e, uint64_t seq)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key = ext_key(ino, ext_end(e) - 1, e->len);
	struct scoutfs_data_extent_val ev;

	memset(&ev, 0, sizeof(ev));
	ev.blkno = htole64(e->map);
	ev.flags = e->flags;
	return sfs_item_create(fs, &key, &ev, sizeof(ev), seq, &lock);
}

static int ext_delete(struct sfs_fs *fs, uint64_t ino, const struct ext *e, uint64_t seq)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key = ext_key(ino, ext_end(e) - 1, e->len);

	return sfs_item_delete(fs, &key, seq, &lock);
}

/* the inode's block counts gain (sign 1) or lose (-1) the blocks of e */
static void account(struct scoutfs_inode *di, const struct ext *e, int sign)
{
	uint64_t d = sign > 0 ? e->len : -e->len;

	if (e->flags & SCOUTFS_SEF_OFFLINE)
		di->offline_blocks = htole64(le64toh(di->offline_blocks) + d);
	else if (e->map)
		di->online_blocks = htole64(le64toh(di->online_blocks) + d);
}

static bool mergeable(const struct ext *a, const struct ext *b)
{
	if (a->flags != b->flags || ext_end(a) != b->start)
		return false;
	return (a->map && b->map && a->map + a->len == b->map) || (!a->map && !b->map);
}

/*
 * Make [nx.start, nx.start + nx.len) map as nx says (a hole if nx has
 * neither map nor flags).  The extents it overlaps are trimmed; with
 * free_old their blocks in the range are freed.  The new extent merges
 * with neighbours it continues.
 */
static int set_range(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
		     const struct ext *nx, bool free_old, uint64_t seq)
{
	uint64_t end = ext_end(nx), pos = nx->start, os, oe;
	struct ext e, part, n = *nx;
	int ret;

	while (pos < end) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret == -ENOENT)
			break;
		if (ret)
			return ret;
		if (e.start >= end)
			break;
		ret = ext_delete(fs, ino, &e, seq);
		if (ret)
			return ret;
		if (e.start < nx->start) {
			part = e;
			part.len = nx->start - e.start;
			ret = ext_insert(fs, ino, &part, seq);
			if (ret)
				return ret;
		}
		if (ext_end(&e) > end) {
			part = e;
			part.start = end;
			part.len = ext_end(&e) - end;
			part.map = e.map ? e.map + (end - e.start) : 0;
			ret = ext_insert(fs, ino, &part, seq);
			if (ret)
				return ret;
		}
		os = e.start > nx->start ? e.start : nx->start;
		oe = ext_end(&e) < end ? ext_end(&e) : end;
		part = e;
		part.start = os;
		part.len = oe - os;
		part.map = e.map ? e.map + (os - e.start) : 0;
		account(di, &part, -1);
		if (free_old && part.map) {
			ret = sfs_trans_free_data(fs, part.map, part.len);
			if (ret)
				return ret;
		}
		pos = ext_end(&e);
	}

	if (!n.map && !n.flags)
		return 0;
	account(di, &n, 1);
	if (n.start > 0) {
		ret = ext_next(fs, ino, n.start - 1, &e);
		if (ret && ret != -ENOENT)
			return ret;
		if (!ret && mergeable(&e, &n)) {
			ret = ext_delete(fs, ino, &e, seq);
			if (ret)
				return ret;
			n.start = e.start;
			n.map = e.map;
			n.len += e.len;
		}
	}
	ret = ext_next(fs, ino, end, &e);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && mergeable(&n, &e)) {
		ret = ext_delete(fs, ino, &e, seq);
		if (ret)
			return ret;
		n.len += e.len;
	}
	return ext_insert(fs, ino, &n, seq);
}

/*
 * A file's contents, locked in the order of fs_int.h: to read (ns and the
 * data lock shared) or to change (the data lock exclusive and the inode
 * lock too, as a change writes the inode item).
 */
static void contents_lock(struct sfs_fuse *sf, uint64_t ino, bool change)
{
	pthread_rwlock_rdlock(&sf->ns);
	if (change) {
		pthread_rwlock_wrlock(sfs_fuse_data_lock(sf, ino));
		pthread_mutex_lock(sfs_fuse_ino_lock(sf, ino));
	} else {
		pthread_rwlock_rdlock(sfs_fuse_data_lock(sf, ino));
	}
}

static void contents_unlock(struct sfs_fuse *sf, uint64_t ino, bool change)
{
	if (change)
		pthread_mutex_unlock(sfs_fuse_ino_lock(sf, ino));
	pthread_rwlock_unlock(sfs_fuse_data_lock(sf, ino));
	pthread_rwlock_unlock(&sf->ns);
}

/*
 * The cluster lock of the file's group first (READ to look, WRITE to
 * change), then its contents as above; the unlock records the seq the
 * op last wrote with (0: nothing)
 */
static int cl_lock(struct sfs_fuse *sf, struct sfs_lock_set *set, uint64_t ino, bool change)
{
	int ret = sfs_fuse_lock_inodes_x(sf, set, change ? SFS_LOCK_WRITE : SFS_LOCK_READ,
					 change ? SFS_FUSE_LOCK_QUOTA : 0, ino, 0, 0, 0);

	if (!ret)
		contents_lock(sf, ino, change);
	return ret;
}

static void cl_unlock(struct sfs_fuse *sf, struct sfs_lock_set *set, uint64_t ino, bool change,
		      uint64_t seq)
{
	contents_unlock(sf, ino, change);
	sfs_fuse_unlock(sf, set, seq);
}

/* ------------------------------------------------------------------ */
/* block I/O                                                            */
/* ------------------------------------------------------------------ */

static void *alloc_io_buf(size_t len)
{
	void *buf = NULL;

	if (posix_memalign(&buf, BLK_SIZE, len ? len : BLK_SIZE))
		return NULL;
	return buf;
}

/* ------------------------------------------------------------------ */
/* writes in flight                                                     */
/* ------------------------------------------------------------------ */

/*
 * A write is answered once its blocks are mapped and its I/O submitted;
 * until the I/O completes its range is in flight: reads and writes of
 * those blocks wait (the device may reorder), and commits wait for it
 * through the transaction (sfs_trans_data_io_*).
 */
struct sfs_inflight {
	struct sfs_inflight *next;
	uint64_t ino;
	uint64_t b0, b1;
	/* the write */
	struct sfs_fuse *sf;
	char *buf;
	int pending;	/* inflight_lock: submitted segments + the submitter */
};

static bool overlaps(struct sfs_fuse *sf, uint64_t ino, uint64_t b0, uint64_t b1)
{
	struct sfs_inflight *f;

	for (f = sf->inflight; f; f = f->next)
		if (f->ino == ino && f->b0 < b1 && b0 < f->b1)
			return true;
	return false;
}

/* wait until no write of blocks [b0, b1) of ino is in flight */
static void wait_inflight(struct sfs_fuse *sf, uint64_t ino, uint64_t b0, uint64_t b1)
{
	pthread_mutex_lock(&sf->inflight_lock);
	while (overlaps(sf, ino, b0, b1))
		pthread_cond_wait(&sf->inflight_cond, &sf->inflight_lock);
	pthread_mutex_unlock(&sf->inflight_lock);
}

void sfs_data_wait_all(struct sfs_fuse *sf)
{
	pthread_mutex_lock(&sf->inflight_lock);
	while (sf->inflight)
		pthread_cond_wait(&sf->inflight_cond, &sf->inflight_lock);
	pthread_mutex_unlock(&sf->inflight_lock);
}

/* drop a reference; the last one ends the write */
static void inflight_put(struct sfs_inflight *f)
{
	struct sfs_fuse *sf = f->sf;
	struct sfs_inflight **p;
	bool last;

	pthread_mutex_lock(&sf->inflight_lock);
	last = --f->pending == 0;
	if (last) {
		for (p = &sf->inflight; *p; p = &(*p)->next) {
			if (*p == f) {
				*p = f->next;
				break;
			}
		}
		pthread_cond_broadcast(&sf->inflight_cond);
	}
	pthread_mutex_unlock(&sf->inflight_lock);
	if (last) {
		free(f->buf);
		free(f);
	}
}

/* a segment's I/O completed (on the I/O thread) */
static void segment_done(void *arg, int err)
{
	struct sfs_inflight *f = arg;

	sfs_trans_data_io_end(f->sf->fs, err);
	inflight_put(f);
}

static int read_blocks(struct sfs_fs *fs, void *buf, uint64_t map, uint64_t nr)
{
	return sfs_block_pread(fs, SFS_DEV_DATA, buf, nr << BLK_SHIFT, map << BLK_SHIFT);
}

static int write_blocks(struct sfs_fs *fs, const void *buf, uint64_t map, uint64_t nr)
{
	return sfs_block_pwrite(fs, SFS_DEV_DATA, buf, nr << BLK_SHIFT, map << BLK_SHIFT);
}

/*
 * Zero bytes [from, to) of the file's block iblock if it holds data: the
 * tail truncate keeps, a punch's partial edges.
 */
static int zero_partial(struct sfs_fuse *sf, uint64_t ino, uint64_t iblock, unsigned int from,
			unsigned int to)
{
	struct sfs_fs *fs = sf->fs;
	struct ext e;
	uint64_t map;
	void *buf;
	int ret;

	wait_inflight(sf, ino, iblock, iblock + 1);
	ret = ext_next(fs, ino, iblock, &e);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if (e.start > iblock || !e.map || (e.flags & (SCOUTFS_SEF_UNWRITTEN | SCOUTFS_SEF_OFFLINE)))
		return 0;
	map = e.map + (iblock - e.start);
	buf = alloc_io_buf(BLK_SIZE);
	if (!buf)
		return -ENOMEM;
	ret = read_blocks(fs, buf, map, 1);
	if (!ret) {
		memset((char *)buf + from, 0, to - from);
		ret = write_blocks(fs, buf, map, 1);
	}
	free(buf);
	return ret;
}

/* ------------------------------------------------------------------ */
/* truncation                                                           */
/* ------------------------------------------------------------------ */

int sfs_data_truncate(struct sfs_fuse *sf, uint64_t ino, struct scoutfs_inode *di,
		      uint64_t size, uint64_t seq)
{
	struct sfs_fs *fs = sf->fs;
	uint64_t first = (size + BLK_MASK) >> BLK_SHIFT;
	struct ext hole = { .start = first };
	int ret;

	if (first >= SFS_DATA_MAX_BLOCKS)
		return 0;
	hole.len = SFS_DATA_MAX_BLOCKS - first;
	ret = set_range(fs, ino, di, &hole, true, seq);
	if (!ret && (size & BLK_MASK))
		ret = zero_partial(sf, ino, size >> BLK_SHIFT, (unsigned int)(size & BLK_MASK),
				   BLK_SIZE);
	return ret;
}

int sfs_data_free_all(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq)
{
	struct ext hole = { .start = 0, .len = SFS_DATA_MAX_BLOCKS };

	return set_range(fs, ino, di, &hole, true, seq);
}

/* ------------------------------------------------------------------ */
/* allocation                                                           */
/* ------------------------------------------------------------------ */

/*
 * A piece of a write: nr file blocks from iblock at device block map.
 * fresh: its old contents are zeros (new or unwritten), not to be read.
 */
struct seg {
	uint64_t iblock;
	uint64_t nr;
	uint64_t map;
	bool fresh;
};

struct segs {
	struct seg *s;
	size_t nr, cap;
};

static int segs_add(struct segs *sg, uint64_t iblock, uint64_t nr, uint64_t map, bool fresh)
{
	struct seg *s;

	if (sg->nr && sg->s[sg->nr - 1].iblock + sg->s[sg->nr - 1].nr == iblock &&
	    sg->s[sg->nr - 1].map + sg->s[sg->nr - 1].nr == map &&
	    sg->s[sg->nr - 1].fresh == fresh) {
		sg->s[sg->nr - 1].nr += nr;
		return 0;
	}
	if (sg->nr == sg->cap) {
		s = realloc(sg->s, (sg->cap ? sg->cap * 2 : 8) * sizeof(*s));
		if (!s)
			return -ENOMEM;
		sg->s = s;
		sg->cap = sg->cap ? sg->cap * 2 : 8;
	}
	sg->s[sg->nr++] = (struct seg){ .iblock = iblock, .nr = nr, .map = map, .fresh = fresh };
	return 0;
}

/*
 * Blocks to allocate for the hole [start, start + nr) that the caller
 * writes, followed by free space up to limit (the next extent): nr plus
 * the preallocation the options ask for.
 */
static uint64_t prealloc_want(struct sfs_fuse *sf, const struct scoutfs_inode *di,
			      uint64_t start, uint64_t nr, uint64_t limit)
{
	uint64_t pre = sf->opts.data_prealloc_blocks ? sf->opts.data_prealloc_blocks : 1;
	uint64_t online = le64toh(di->online_blocks), want = nr;

	if (sf->opts.data_prealloc_contig_only) {
		/* streaming appends: as many more as the file has, ramping up */
		if (start > 1 && start == online)
			want = online < pre ? online : pre;
	} else {
		/* the aligned prealloc region the write starts in, to its end */
		want = pre - (start % pre);
	}
	if (want < nr)
		want = nr;
	if (want > limit - start)
		want = limit - start;
	return want;
}

/*
 * Map the hole [start, start + nr) for writing (next extent at limit):
 * new blocks, the ones written are plain extents, the rest of a
 * preallocation unwritten.  Returns the blocks mapped for the write,
 * possibly fewer than nr when the transaction's space runs out (-ENOSPC
 * if none).
 */
static int alloc_hole(struct sfs_fuse *sf, uint64_t ino, struct scoutfs_inode *di,
		      uint64_t start, uint64_t nr, uint64_t limit, bool exact, struct segs *sg,
		      uint64_t seq, uint64_t *mapped)
{
	struct sfs_fs *fs = sf->fs;
	uint64_t want = exact ? nr : prealloc_want(sf, di, start, nr, limit);
	uint64_t pos = start, end = start + want, bstart, blen, w;
	struct ext e;
	int ret = 0;

	*mapped = 0;
	/* quota rules of op DATA on the file's uid, gid and project (quota.c) */
	ret = sfs_quota_check(fs, SCOUTFS_QUOTA_OP_DATA, di);
	if (ret)
		return ret;
	while (pos < end) {
		ret = sfs_trans_alloc_data(fs, end - pos, &bstart, &blen);
		if (ret)
			break;
		/* the part written */
		w = pos < start + nr ? start + nr - pos : 0;
		if (w > blen)
			w = blen;
		if (w) {
			e = (struct ext){ .start = pos, .len = w, .map = bstart };
			ret = set_range(fs, ino, di, &e, false, seq) ?:
			      segs_add(sg, pos, w, bstart, true);
			if (ret)
				break;
			*mapped += w;
		}
		if (blen > w) {
			e = (struct ext){ .start = pos + w, .len = blen - w, .map = bstart + w,
					  .flags = SCOUTFS_SEF_UNWRITTEN };
			ret = set_range(fs, ino, di, &e, false, seq);
			if (ret)
				break;
		}
		pos += blen;
	}
	if (ret == -ENOSPC && *mapped)
		ret = 0;
	return ret;
}

/*
 * Map [b0, b1) for a write: segments in sg in file order.  Holes are
 * allocated, unwritten extents become written.  *mapped_end: where the
 * mapping stopped (b1, or earlier when space ran out).
 */
static int map_for_write(struct sfs_fuse *sf, uint64_t ino, struct scoutfs_inode *di,
			 uint64_t b0, uint64_t b1, bool staging, struct segs *sg, uint64_t seq,
			 uint64_t *mapped_end)
{
	struct sfs_fs *fs = sf->fs;
	uint64_t pos = b0, nr, limit, got, map;
	struct ext e, w;
	int ret = 0;

	while (pos < b1) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret && ret != -ENOENT)
			break;
		if (ret == -ENOENT || e.start > pos) {
			limit = ret == -ENOENT ? SFS_DATA_MAX_BLOCKS : e.start;
			nr = (limit < b1 ? limit : b1) - pos;
			ret = alloc_hole(sf, ino, di, pos, nr, limit, false, sg, seq, &got);
			if (ret)
				break;
			pos += got;
			if (got < nr)
				break;
			continue;
		}
		nr = (ext_end(&e) < b1 ? ext_end(&e) : b1) - pos;
		map = e.map + (pos - e.start);
		if ((e.flags & SCOUTFS_SEF_OFFLINE) && !staging) {
			sfs_err(fs, "inode %llu: write to offline block %llu: not staged",
				(unsigned long long)ino, (unsigned long long)pos);
			ret = -EIO;
			break;
		}
		if ((e.flags & SCOUTFS_SEF_OFFLINE) && !e.map) {
			/* staging: exactly the blocks written come online */
			ret = alloc_hole(sf, ino, di, pos, nr, ext_end(&e), true, sg, seq, &got);
			if (ret)
				break;
			pos += got;
			if (got < nr)
				break;
			continue;
		}
		if (e.flags & (SCOUTFS_SEF_UNWRITTEN | SCOUTFS_SEF_OFFLINE)) {
			w = (struct ext){ .start = pos, .len = nr, .map = map };
			ret = set_range(fs, ino, di, &w, false, seq) ?:
			      segs_add(sg, pos, nr, map, true);
		} else {
			ret = segs_add(sg, pos, nr, map, false);
		}
		if (ret)
			break;
		pos += nr;
	}
	*mapped_end = pos;
	return ret;
}

/* ------------------------------------------------------------------ */
/* write                                                                */
/* ------------------------------------------------------------------ */

/* the first offline block of ino in [b0, b1): 1 with *blk, 0 if none, or -errno */
static int first_offline(struct sfs_fs *fs, uint64_t ino, uint64_t b0, uint64_t b1,
			 uint64_t *blk)
{
	uint64_t pos = b0;
	struct ext e;
	int ret;

	while (pos < b1) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret == -ENOENT || (!ret && e.start >= b1))
			return 0;
		if (ret)
			return ret;
		if (e.flags & SCOUTFS_SEF_OFFLINE) {
			*blk = e.start > pos ? e.start : pos;
			return 1;
		}
		pos = ext_end(&e);
	}
	return 0;
}

/* a parked write's offset: this bit says "at the end" (O_APPEND) */
#define APPEND_OFF (1ULL << 63)

static void write_common(fuse_req_t req, uint64_t ino, const char *src, size_t size, off_t off,
			 bool append);

static void retry_write(fuse_req_t req, uint64_t ino, size_t size, uint64_t off,
			const char *buf)
{
	write_common(req, ino, buf, size, (off_t)(off & ~APPEND_OFF), (off & APPEND_OFF) != 0);
}

/*
 * Changes that cover the whole file (writes, size changes) wait while any
 * of it is offline: data_version covers all of it (the reference checks
 * 0..i_size as well).  With the contents locked and di read: park req if
 * an offline block is there.  1 when parked (answered later), 0 when there
 * is none, or -errno for the caller to answer.
 */
static int park_if_offline(struct sfs_fuse *sf, fuse_req_t req, uint64_t ino,
			   const struct scoutfs_inode *di, unsigned int op, sfs_wait_retry_fn retry,
			   const void *buf, size_t size, uint64_t off)
{
	uint64_t offline = 0;
	int ret;

	if (!le64toh(di->offline_blocks) || !S_ISREG(le32toh(di->mode)))
		return 0;
	ret = first_offline(sf->fs, ino, 0, (le64toh(di->size) + BLK_MASK) >> BLK_SHIFT,
			    &offline);
	if (ret == 1) {
		ret = sfs_wait_park(sf, req, ino, offline, op, retry, size, off, buf);
		if (!ret)
			ret = 1;
	}
	return ret;
}

int sfs_data_wait_size(struct sfs_fuse *sf, fuse_req_t req, uint64_t ino, uint64_t new_size,
		       sfs_wait_retry_fn retry, const void *buf, size_t size)
{
	struct scoutfs_inode di;
	int ret;

	contents_lock(sf, ino, false);
	ret = sfs_inode_read(sf->fs, ino, &di);
	if (!ret && le64toh(di.size) != new_size)
		ret = park_if_offline(sf, req, ino, &di, SFS_WAIT_CHANGE_SIZE, retry, buf, size, 0);
	contents_unlock(sf, ino, false);
	return ret;
}

/* the segment holding iblock */
static const struct seg *seg_of(const struct segs *sg, uint64_t iblock)
{
	size_t i;

	for (i = 0; i < sg->nr; i++)
		if (iblock >= sg->s[i].iblock && iblock < sg->s[i].iblock + sg->s[i].nr)
			return &sg->s[i];
	return NULL;
}

/* the edge block iblock of a write, into buf: its data, or zeros */
static int fill_edge(struct sfs_fs *fs, const struct segs *sg, uint64_t iblock, void *buf)
{
	const struct seg *s = seg_of(sg, iblock);

	if (!s || s->fresh) {
		memset(buf, 0, BLK_SIZE);
		return 0;
	}
	return read_blocks(fs, buf, s->map + (iblock - s->iblock), 1);
}

/*
 * One write with everything locked and the transaction held: map, then
 * read the partial edge blocks, copy the caller's bytes in and write the
 * segments.  *written: bytes written (short when space ran out).
 */
static int write_locked(struct sfs_fuse *sf, uint64_t ino, struct scoutfs_inode *di,
			const char *src, size_t size, uint64_t off, bool staging, uint64_t seq,
			size_t *written)
{
	struct sfs_fs *fs = sf->fs;
	uint64_t b0 = off >> BLK_SHIFT, b1 = (off + size + BLK_MASK) >> BLK_SHIFT, end;
	uint64_t mapped_end, endoff;
	struct sfs_inflight *f;
	struct segs sg = { 0 };
	struct timespec now;
	char *buf = NULL;
	size_t i, n;
	int ret;

	*written = 0;
	/* earlier writes of these blocks land first (partial blocks are read back) */
	wait_inflight(sf, ino, b0, b1);
	ret = map_for_write(sf, ino, di, b0, b1, staging, &sg, seq, &mapped_end);
	if (ret && mapped_end == b0)
		goto out;
	if (mapped_end < b1) {
		/* short: write what was mapped, the next call gets the error */
		b1 = mapped_end;
		size = (size_t)((b1 << BLK_SHIFT) - off);
	}
	ret = 0;

	buf = alloc_io_buf((size_t)((b1 - b0) << BLK_SHIFT));
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (off & BLK_MASK)
		ret = fill_edge(fs, &sg, b0, buf);
	end = off + size;
	if (!ret && (end & BLK_MASK) && (b1 - 1 > b0 || !(off & BLK_MASK)))
		ret = fill_edge(fs, &sg, b1 - 1, buf + ((b1 - 1 - b0) << BLK_SHIFT));
	if (ret)
		goto out;
	memcpy(buf + (off & BLK_MASK), src, size);

	/* in flight from here: the buffer goes with it */
	f = calloc(1, sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	*f = (struct sfs_inflight){ .ino = ino, .b0 = b0, .b1 = b1, .sf = sf, .buf = buf,
				    .pending = 1 };
	buf = NULL;
	pthread_mutex_lock(&sf->inflight_lock);
	f->next = sf->inflight;
	sf->inflight = f;
	pthread_mutex_unlock(&sf->inflight_lock);
	for (i = 0; !ret && i < sg.nr; i++) {
		if (sg.s[i].iblock >= b1)
			break;
		n = (size_t)(sg.s[i].iblock + sg.s[i].nr <= b1 ? sg.s[i].nr : b1 - sg.s[i].iblock);
		pthread_mutex_lock(&sf->inflight_lock);
		f->pending++;
		pthread_mutex_unlock(&sf->inflight_lock);
		sfs_trans_data_io_begin(fs);
		ret = sfs_block_pwrite_async(fs, SFS_DEV_DATA,
					     f->buf + ((sg.s[i].iblock - b0) << BLK_SHIFT),
					     (size_t)n << BLK_SHIFT, sg.s[i].map << BLK_SHIFT,
					     segment_done, f);
		if (ret) {
			sfs_trans_data_io_end(fs, 0);
			inflight_put(f);
		}
	}
	inflight_put(f);
	if (ret) {
		/* what was submitted finishes before the error is the answer */
		wait_inflight(sf, ino, b0, b1);
		goto out;
	}

	if (staging) {
		/* archived contents coming back: no times, size or data_version change */
		ret = sfs_inode_update(fs, ino, di, seq);
		if (!ret)
			*written = size;
		goto out;
	}
	endoff = off + size;
	if (endoff > le64toh(di->size))
		di->size = htole64(endoff);
	clock_gettime(CLOCK_REALTIME, &now);
	sfs_ts_set(&di->mtime, &now);
	di->ctime = di->mtime;
	ret = sfs_inode_data_changed(fs, ino, di, seq) ?: sfs_inode_update(fs, ino, di, seq);
	if (!ret)
		*written = size;
out:
	free(buf);
	free(sg.s);
	return ret;
}

/*
 * A write through a handle opened with O_APPEND goes to the end of the
 * file as it is under the lock: the kernel picked the offset from the
 * size it cached, which another mount may have moved since (pwrite on
 * such a handle appends too, as on Linux).  Writeback of mmap pages
 * keeps its offset.
 */
void sfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *src, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	write_common(req, ino, src, size, off, fi && (fi->flags & O_APPEND) && !fi->writepage);
}

static void write_common(fuse_req_t req, uint64_t ino, const char *src, size_t size, off_t off,
			 bool append)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	struct scoutfs_inode di;
	struct sfs_lock_set set;
	size_t written = 0;
	bool retried = false;
	uint64_t seq = 0;
	int ret;

	if (off < 0 || (uint64_t)off + size > SFS_DATA_MAX_BYTES) {
		sfs_fuse_reply_err(req, -EFBIG);
		return;
	}
	if (size == 0) {
		fuse_reply_write(req, 0);
		return;
	}
	sfs_fuse_busy_get(sf, ino);
	ret = sfs_fuse_lock_inodes_x(sf, &set, SFS_LOCK_WRITE, SFS_FUSE_LOCK_QUOTA, ino, 0, 0, 0);
	sfs_fuse_busy_put(sf, ino);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
again:
	contents_lock(sf, ino, true);
	/* the contents lock keeps the inode as read here until the write is done */
	ret = sfs_inode_read(fs, ino, &di);
	if (!ret && append) {
		off = (off_t)le64toh(di.size);
		if ((uint64_t)off + size > SFS_DATA_MAX_BYTES)
			ret = -EFBIG;
	}
	if (!ret)
		ret = park_if_offline(sf, req, ino, &di, SFS_WAIT_WRITE, retry_write, src, size,
				      append ? APPEND_OFF : (uint64_t)off);
	if (ret == 1) {
		contents_unlock(sf, ino, true);
		sfs_fuse_unlock(sf, &set, seq);
		return;
	}
	if (!ret)
		ret = sfs_trans_hold(fs, true, &seq);
	if (!ret) {
		seq = sfs_fuse_lock_seq(&set, seq);
		if (!S_ISREG(le32toh(di.mode)))
			ret = -EINVAL;
		if (!ret)
			ret = sfs_inode_retention_check(&di);
		if (!ret)
			ret = write_locked(sf, ino, &di, src, size, (uint64_t)off, false, seq,
					   &written);
		sfs_trans_release(fs);
	}
	contents_unlock(sf, ino, true);

	if (ret == -ENOSPC && !retried) {
		/* this transaction's data space is used up: the next one gets more */
		retried = true;
		ret = sfs_trans_commit_for_space(fs);
		if (!ret)
			goto again;
	}
	sfs_fuse_unlock(sf, &set, seq);
	if (ret && !written)
		sfs_fuse_reply_err(req, ret);
	else
		fuse_reply_write(req, written);
}

/* ------------------------------------------------------------------ */
/* read                                                                 */
/* ------------------------------------------------------------------ */

/*
 * File blocks [b0, b1) into buf: data, zeros for holes and unwritten
 * blocks.  1 with *offline set when an offline block is in the way.
 */
static int read_range(struct sfs_fs *fs, uint64_t ino, uint64_t b0, uint64_t b1, char *buf,
		      uint64_t *offline)
{
	uint64_t pos = b0, nr;
	struct ext e;
	int ret;

	while (pos < b1) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret && ret != -ENOENT)
			return ret;
		if (ret == -ENOENT || e.start >= b1) {
			memset(buf + ((pos - b0) << BLK_SHIFT), 0, (b1 - pos) << BLK_SHIFT);
			break;
		}
		if (e.start > pos) {
			memset(buf + ((pos - b0) << BLK_SHIFT), 0, (e.start - pos) << BLK_SHIFT);
			pos = e.start;
		}
		nr = (ext_end(&e) < b1 ? ext_end(&e) : b1) - pos;
		if (e.flags & SCOUTFS_SEF_OFFLINE) {
			*offline = pos;
			return 1;
		}
		if (e.flags & SCOUTFS_SEF_UNWRITTEN) {
			memset(buf + ((pos - b0) << BLK_SHIFT), 0, nr << BLK_SHIFT);
		} else {
			ret = read_blocks(fs, buf + ((pos - b0) << BLK_SHIFT),
					  e.map + (pos - e.start), nr);
			if (ret)
				return ret;
		}
		pos += nr;
	}
	return 0;
}

static void retry_read(fuse_req_t req, uint64_t ino, size_t size, uint64_t off, const char *buf)
{
	(void)buf;
	sfs_op_read(req, ino, size, (off_t)off, NULL);
}

void sfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	struct scoutfs_inode di;
	uint64_t isize, b0, b1, offline = 0;
	struct sfs_lock_set set;
	char *buf = NULL;
	int ret;

	(void)fi;
	sfs_fuse_busy_get(sf, ino);
	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	sfs_fuse_busy_put(sf, ino);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	contents_lock(sf, ino, false);
	ret = sfs_inode_read(fs, ino, &di);
	if (ret)
		goto unlock;
	isize = le64toh(di.size);
	if (off < 0 || (uint64_t)off >= isize || size == 0) {
		size = 0;
		goto unlock;
	}
	if (size > isize - (uint64_t)off)
		size = (size_t)(isize - (uint64_t)off);
	b0 = (uint64_t)off >> BLK_SHIFT;
	b1 = ((uint64_t)off + size + BLK_MASK) >> BLK_SHIFT;
	buf = alloc_io_buf((size_t)((b1 - b0) << BLK_SHIFT));
	if (!buf) {
		ret = -ENOMEM;
		goto unlock;
	}
	wait_inflight(sf, ino, b0, b1);
	ret = read_range(fs, ino, b0, b1, buf, &offline);
	if (ret == 1 && fi && !(fi->flags & O_DIRECT) && b1 - b0 > 1) {
		/*
		 * A page cache read of several blocks, some offline: the
		 * kernel holds all its pages locked while it waits, so a
		 * reader of the online ones would wait for the stage too (a
		 * readahead reaching past the online part of a file, with
		 * nothing cached).  Failed, the kernel reads the pages it
		 * needs one by one (filemap_read_folio): the online ones at
		 * once, the offline ones park alone.
		 */
		sfs_inc(fs, data_read_split);
		ret = -EIO;
	} else if (ret == 1) {
		/* parked until staged; the contents lock keeps a stage from slipping by */
		ret = sfs_wait_park(sf, req, ino, offline, SFS_WAIT_READ, retry_read, size,
				    (uint64_t)off, NULL);
		if (!ret)
			ret = 1;
	}
unlock:
	contents_unlock(sf, ino, false);
	sfs_fuse_unlock(sf, &set, 0);
	if (ret == 1) {
		free(buf);
		return;
	}
	if (ret)
		sfs_fuse_reply_err(req, ret);
	else
		fuse_reply_buf(req, buf ? buf + ((uint64_t)off & BLK_MASK) : NULL, size);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* fallocate                                                            */
/* ------------------------------------------------------------------ */

static int punch_locked(struct sfs_fuse *sf, uint64_t ino, struct scoutfs_inode *di,
			uint64_t off, uint64_t len, uint64_t seq)
{
	struct sfs_fs *fs = sf->fs;
	uint64_t end = off + len, b0 = (off + BLK_MASK) >> BLK_SHIFT, b1 = end >> BLK_SHIFT;
	struct ext hole;
	int ret = 0;

	if ((off >> BLK_SHIFT) == ((end - 1) >> BLK_SHIFT) && ((off & BLK_MASK) || (end & BLK_MASK)))
		/* within one block */
		return zero_partial(sf, ino, off >> BLK_SHIFT, (unsigned int)(off & BLK_MASK),
				    (unsigned int)(((end - 1) & BLK_MASK) + 1));
	if (off & BLK_MASK)
		ret = zero_partial(sf, ino, off >> BLK_SHIFT, (unsigned int)(off & BLK_MASK),
				   BLK_SIZE);
	if (!ret && (end & BLK_MASK))
		ret = zero_partial(sf, ino, end >> BLK_SHIFT, 0, (unsigned int)(end & BLK_MASK));
	if (!ret && b1 > b0) {
		hole = (struct ext){ .start = b0, .len = b1 - b0 };
		ret = set_range(fs, ino, di, &hole, true, seq);
	}
	return ret;
}

/* unwritten extents over the holes of [*pos, b1), a batch at a time */
static int prealloc_locked(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			   uint64_t *pos, uint64_t b1, uint64_t seq)
{
	uint64_t limit, stop = *pos + FALLOC_BATCH < b1 ? *pos + FALLOC_BATCH : b1;
	uint64_t bstart, blen;
	struct ext e;
	int ret = 0;

	while (*pos < stop) {
		ret = ext_next(fs, ino, *pos, &e);
		if (ret && ret != -ENOENT)
			break;
		if (!ret && e.start <= *pos) {
			*pos = ext_end(&e);
			continue;
		}
		limit = ret == -ENOENT || e.start > stop ? stop : e.start;
		/* quota rules of op DATA, as for writes (quota.c) */
		ret = sfs_quota_check(fs, SCOUTFS_QUOTA_OP_DATA, di);
		if (ret)
			break;
		ret = sfs_trans_alloc_data(fs, limit - *pos, &bstart, &blen);
		if (ret)
			break;
		e = (struct ext){ .start = *pos, .len = blen, .map = bstart,
				  .flags = SCOUTFS_SEF_UNWRITTEN };
		ret = set_range(fs, ino, di, &e, false, seq);
		if (ret)
			break;
		*pos += blen;
	}
	return ret;
}

void sfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		      struct fuse_file_info *fi)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	bool punch = mode & FALLOC_FL_PUNCH_HOLE, retried = false, done = false;
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	uint64_t end, pos, b1, seq = 0;
	struct timespec now;
	int ret = 0;

	(void)fi;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
		sfs_fuse_reply_err(req, -EOPNOTSUPP);
		return;
	}
	if (punch && !(mode & FALLOC_FL_KEEP_SIZE)) {
		sfs_fuse_reply_err(req, -EINVAL);
		return;
	}
	if (off < 0 || len <= 0) {
		sfs_fuse_reply_err(req, -EINVAL);
		return;
	}
	end = (uint64_t)off + (uint64_t)len;
	if (end > SFS_DATA_MAX_BYTES || end < (uint64_t)off) {
		sfs_fuse_reply_err(req, -EFBIG);
		return;
	}
	pos = (uint64_t)off >> BLK_SHIFT;
	b1 = (end + BLK_MASK) >> BLK_SHIFT;

	while (!done) {
		ret = cl_lock(sf, &set, ino, true);
		if (ret)
			break;
		ret = sfs_trans_hold(fs, !punch, &seq);
		if (!ret) {
			seq = sfs_fuse_lock_seq(&set, seq);
			ret = sfs_inode_read(fs, ino, &di);
			if (!ret && !S_ISREG(le32toh(di.mode)))
				ret = S_ISDIR(le32toh(di.mode)) ? -EISDIR : -ENODEV;
			if (!ret)
				ret = sfs_inode_retention_check(&di);
			if (!ret && punch) {
				if ((uint64_t)off < le64toh(di.size))
					ret = punch_locked(sf, ino, &di, (uint64_t)off,
							   (end < le64toh(di.size) ? end :
							    le64toh(di.size)) - (uint64_t)off, seq);
				done = true;
			} else if (!ret) {
				ret = prealloc_locked(fs, ino, &di, &pos, b1, seq);
				done = pos >= b1;
				if (!ret && done && !(mode & FALLOC_FL_KEEP_SIZE) &&
				    end > le64toh(di.size))
					di.size = htole64(end);
			}
			if (!ret) {
				clock_gettime(CLOCK_REALTIME, &now);
				sfs_ts_set(&di.ctime, &now);
				if (punch)
					di.mtime = di.ctime;
				ret = sfs_inode_data_changed(fs, ino, &di, seq) ?:
				      sfs_inode_update(fs, ino, &di, seq);
			}
			sfs_trans_release(fs);
		}
		cl_unlock(sf, &set, ino, true, seq);
		if (ret == -ENOSPC && !retried) {
			retried = true;
			ret = sfs_trans_commit_for_space(fs);
		} else if (!ret) {
			retried = false;
		}
		if (ret)
			break;
	}
	sfs_fuse_reply_err(req, ret);
}

/* ------------------------------------------------------------------ */
/* lseek                                                                */
/* ------------------------------------------------------------------ */

/* blocks holding data for SEEK_DATA/SEEK_HOLE: written or offline, not unwritten */
static bool ext_is_data(const struct ext *e)
{
	return (e->flags & SCOUTFS_SEF_OFFLINE) || (e->map && !(e->flags & SCOUTFS_SEF_UNWRITTEN));
}

static int seek_locked(struct sfs_fs *fs, uint64_t ino, uint64_t isize, uint64_t off,
		       int whence, uint64_t *res)
{
	uint64_t pos = off >> BLK_SHIFT, at;
	struct ext e;
	int ret;

	if (off >= isize)
		return -ENXIO;
	for (;;) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret == -ENOENT) {
			/* nothing after pos: a hole to the end */
			if (whence == SEEK_DATA)
				return -ENXIO;
			at = pos << BLK_SHIFT;
			break;
		}
		if (ret)
			return ret;
		if (e.start > pos) {
			/* a hole at pos */
			if (whence == SEEK_HOLE) {
				at = pos << BLK_SHIFT;
				break;
			}
			pos = e.start;
		}
		if (ext_is_data(&e) == (whence == SEEK_DATA)) {
			at = pos << BLK_SHIFT;
			break;
		}
		pos = ext_end(&e);
		if ((pos << BLK_SHIFT) >= isize) {
			if (whence == SEEK_DATA)
				return -ENXIO;
			at = isize;
			break;
		}
	}
	if (at < off)
		at = off;
	if (at >= isize) {
		if (whence == SEEK_DATA)
			return -ENXIO;
		at = isize;
	}
	*res = at;
	return 0;
}

void sfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		  struct fuse_file_info *fi)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	uint64_t res = 0;
	int ret;

	(void)fi;
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		sfs_fuse_reply_err(req, -EINVAL);
		return;
	}
	if (off < 0) {
		sfs_fuse_reply_err(req, -ENXIO);
		return;
	}
	ret = cl_lock(sf, &set, ino, false);
	if (!ret) {
		ret = sfs_inode_read(sf->fs, ino, &di) ?:
		      seek_locked(sf->fs, ino, le64toh(di.size), (uint64_t)off, whence, &res);
		cl_unlock(sf, &set, ino, false, 0);
	}
	if (ret)
		sfs_fuse_reply_err(req, ret);
	else
		fuse_reply_lseek(req, (off_t)res);
}

/* ------------------------------------------------------------------ */
/* archive: release and stage                                           */
/* ------------------------------------------------------------------ */

/* extents a release changes per transaction */
#define RELEASE_BATCH 64

/* the inode for an archive operation: a regular file at data_version dv */
static int archive_inode(struct sfs_fs *fs, uint64_t ino, uint64_t dv, struct scoutfs_inode *di)
{
	int ret = sfs_inode_read(fs, ino, di);

	if (ret)
		return ret;
	if (!S_ISREG(le32toh(di->mode)))
		return -EINVAL;
	if (le64toh(di->data_version) != dv)
		return -ESTALE;
	return 0;
}

/*
 * Up to RELEASE_BATCH mapped extents of [*pos, b1) become unmapped and
 * OFFLINE, their blocks freed.  *pos moves past what was done; *done when
 * nothing mapped is left in the range.
 */
static int release_batch(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			 uint64_t *pos, uint64_t b1, uint64_t seq, bool *done)
{
	struct ext e, off;
	unsigned int n = 0;
	int ret = 0;

	*done = false;
	while (*pos < b1 && n < RELEASE_BATCH) {
		ret = ext_next(fs, ino, *pos, &e);
		if (ret == -ENOENT || (!ret && e.start >= b1)) {
			*pos = b1;
			ret = 0;
			break;
		}
		if (ret)
			return ret;
		if (!e.map) {
			/* already offline */
			*pos = ext_end(&e);
			continue;
		}
		off.start = e.start > *pos ? e.start : *pos;
		off.len = (ext_end(&e) < b1 ? ext_end(&e) : b1) - off.start;
		off.map = 0;
		off.flags = SCOUTFS_SEF_OFFLINE;
		ret = set_range(fs, ino, di, &off, true, seq);
		if (ret)
			return ret;
		*pos = ext_end(&off);
		n++;
	}
	*done = *pos >= b1;
	return ret;
}

int sfs_data_release(struct sfs_fuse *sf, uint64_t ino, uint64_t off, uint64_t len,
		     uint64_t dv)
{
	struct sfs_fs *fs = sf->fs;
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	uint64_t b0, b1, pos, seq = 0, keep;
	bool done = false;
	int ret;

	if ((off & BLK_MASK) || (len & BLK_MASK) || off + len < off ||
	    off + len > SFS_DATA_MAX_BYTES)
		return -EINVAL;
	if (len == 0)
		return 0;
	b0 = off >> BLK_SHIFT;
	b1 = (off + len) >> BLK_SHIFT;

	ret = cl_lock(sf, &set, ino, true);
	if (ret)
		return ret;
	wait_inflight(sf, ino, b0, b1);
	pos = b0;
	while (!done) {
		ret = sfs_trans_hold(fs, false, &seq);
		if (ret)
			break;
		seq = sfs_fuse_lock_seq(&set, seq);
		ret = archive_inode(fs, ino, dv, &di);
		if (!ret)
			ret = release_batch(fs, ino, &di, &pos, b1, seq, &done);
		keep = (le64toh(di.size) + BLK_MASK) >> BLK_SHIFT;
		if (!ret && done && (le64toh(di.online_blocks) == 0 || b1 >= keep)) {
			/* released to i_size: preallocation past it goes too */
			if (keep < SFS_DATA_MAX_BLOCKS) {
				struct ext hole = { .start = keep, .len = SFS_DATA_MAX_BLOCKS - keep };

				ret = set_range(fs, ino, &di, &hole, true, seq);
			}
		}
		/* the block counts changed: meta_seq moves, times do not */
		if (!ret)
			ret = sfs_inode_update(fs, ino, &di, seq);
		sfs_trans_release(fs);
		if (ret)
			break;
	}
	cl_unlock(sf, &set, ino, true, seq);
	if (!ret)
		sfs_fuse_inval_data(sf, ino, off, len);
	return ret;
}

int sfs_data_stage(struct sfs_fuse *sf, uint64_t ino, uint64_t dv, uint64_t off,
		   const char *buf, size_t len)
{
	struct sfs_fs *fs = sf->fs;
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	size_t written = 0, w;
	bool retried = false;
	uint64_t seq = 0, size;
	int ret;

	if (off & BLK_MASK)
		return -EINVAL;
	while (written < len) {
		w = 0;
		ret = cl_lock(sf, &set, ino, true);
		if (ret)
			return ret;
		ret = sfs_trans_hold(fs, true, &seq);
		if (!ret) {
			seq = sfs_fuse_lock_seq(&set, seq);
			ret = archive_inode(fs, ino, dv, &di);
			size = le64toh(di.size);
			/* inside i_size, ending on a block or at i_size */
			if (!ret && (off + len > size ||
				     (((off + len) & BLK_MASK) && off + len != size)))
				ret = -EINVAL;
			if (!ret)
				ret = write_locked(sf, ino, &di, buf + written, len - written,
						   off + written, true, seq, &w);
			written += w;
			sfs_trans_release(fs);
		}
		cl_unlock(sf, &set, ino, true, seq);
		/* readers parked on what came online look again */
		if (w)
			sfs_wait_wake(sf, ino);
		if (ret == -ENOSPC && !retried) {
			retried = true;
			ret = sfs_trans_commit_for_space(fs);
			if (!ret)
				continue;
		}
		if (ret)
			return ret;
		retried = false;
	}
	return 0;
}

int sfs_data_init_offline(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
			  uint64_t size, uint64_t seq)
{
	struct ext e = { .start = 0, .map = 0, .flags = SCOUTFS_SEF_OFFLINE };

	if (size > SFS_DATA_MAX_BYTES)
		return -EFBIG;
	e.len = (size + BLK_MASK) >> BLK_SHIFT;
	if (e.len == 0)
		return 0;
	return set_range(fs, ino, di, &e, true, seq);
}

/* ------------------------------------------------------------------ */
/* archive: punch-offline, move-blocks                                  */
/* ------------------------------------------------------------------ */

int sfs_data_punch_offline(struct sfs_fuse *sf, uint64_t ino, uint64_t off, uint64_t len,
			   uint64_t dv)
{
	struct sfs_fs *fs = sf->fs;
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	uint64_t b0, b1, pos, seq = 0;
	struct ext e, hole;
	unsigned int n;
	bool done = false;
	int ret;

	if ((off & BLK_MASK) || (len & BLK_MASK) || len == 0 || off + len < off ||
	    off + len > SFS_DATA_MAX_BYTES)
		return -EINVAL;
	b0 = off >> BLK_SHIFT;
	b1 = (off + len) >> BLK_SHIFT;

	ret = cl_lock(sf, &set, ino, true);
	if (ret)
		return ret;
	/* nothing changes unless every extent in the range is unmapped offline */
	ret = archive_inode(fs, ino, dv, &di);
	for (pos = b0; !ret && pos < b1; pos = ext_end(&e)) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret == -ENOENT || (!ret && e.start >= b1)) {
			ret = 0;
			break;
		}
		if (!ret && e.map)
			ret = -EINVAL;
	}
	for (pos = b0; !ret && !done;) {
		ret = sfs_trans_hold(fs, false, &seq);
		if (ret)
			break;
		seq = sfs_fuse_lock_seq(&set, seq);
		ret = archive_inode(fs, ino, dv, &di);
		for (n = 0; !ret && n < RELEASE_BATCH; n++) {
			ret = ext_next(fs, ino, pos, &e);
			if (ret == -ENOENT || (!ret && e.start >= b1)) {
				ret = 0;
				done = true;
				break;
			}
			if (ret)
				break;
			hole.start = e.start > pos ? e.start : pos;
			hole.len = (ext_end(&e) < b1 ? ext_end(&e) : b1) - hole.start;
			hole.map = 0;
			hole.flags = 0;
			ret = set_range(fs, ino, &di, &hole, false, seq);
			pos = ext_end(&hole);
			if (pos >= b1)
				done = true;
		}
		if (!ret)
			ret = sfs_inode_update(fs, ino, &di, seq);
		sfs_trans_release(fs);
	}
	cl_unlock(sf, &set, ino, true, seq);
	if (!ret)
		sfs_wait_wake(sf, ino);	/* holes read as zeros: waiters may go on */
	return ret;
}

/* both files' contents locked for a change, in the order of fs_int.h */
static void contents_lock_two(struct sfs_fuse *sf, uint64_t a, uint64_t b)
{
	pthread_rwlock_t *da = sfs_fuse_data_lock(sf, a), *db = sfs_fuse_data_lock(sf, b);
	pthread_mutex_t *ia = sfs_fuse_ino_lock(sf, a), *ib = sfs_fuse_ino_lock(sf, b);

	pthread_rwlock_rdlock(&sf->ns);
	/* data locks, then inode locks, each in ascending inode number */
	if (a > b) {
		pthread_rwlock_t *td = da;
		pthread_mutex_t *ti = ia;

		da = db, db = td;
		ia = ib, ib = ti;
	}
	pthread_rwlock_wrlock(da);
	if (db != da)
		pthread_rwlock_wrlock(db);
	pthread_mutex_lock(ia);
	if (ib != ia)
		pthread_mutex_lock(ib);
}

static void contents_unlock_two(struct sfs_fuse *sf, uint64_t a, uint64_t b)
{
	pthread_rwlock_t *da = sfs_fuse_data_lock(sf, a), *db = sfs_fuse_data_lock(sf, b);
	pthread_mutex_t *ia = sfs_fuse_ino_lock(sf, a), *ib = sfs_fuse_ino_lock(sf, b);

	if (ib != ia)
		pthread_mutex_unlock(ib);
	pthread_mutex_unlock(ia);
	if (db != da)
		pthread_rwlock_unlock(db);
	pthread_rwlock_unlock(da);
	pthread_rwlock_unlock(&sf->ns);
}

/* all of [b0, b1) of ino is offline: 1, 0 otherwise, or -errno */
static int all_offline(struct sfs_fs *fs, uint64_t ino, uint64_t b0, uint64_t b1)
{
	uint64_t pos = b0;
	struct ext e;
	int ret;

	while (pos < b1) {
		ret = ext_next(fs, ino, pos, &e);
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
		if (e.start > pos || !(e.flags & SCOUTFS_SEF_OFFLINE))
			return 0;
		pos = ext_end(&e);
	}
	return 1;
}

int sfs_data_move_blocks(struct sfs_fuse *sf, uint64_t from, uint64_t from_off, uint64_t len,
			 uint64_t to, uint64_t to_off, uint64_t dv, bool stage)
{
	struct sfs_fs *fs = sf->fs;
	struct scoutfs_inode fdi, tdi;
	uint64_t fb0, fb1, tb0, pos, seq = 0, off_in, end, fsize;
	struct sfs_lock_set set;
	struct ext e, part, hole;
	struct timespec now;
	unsigned int n;
	bool done = false;
	int ret;

	if (from == to)
		return -EINVAL;
	if ((from_off & BLK_MASK) || (to_off & BLK_MASK))
		return -EINVAL;
	if (from_off + len < from_off || to_off + len < to_off ||
	    to_off + len > SFS_DATA_MAX_BYTES || from_off + len > SFS_DATA_MAX_BYTES)
		return -EOVERFLOW;
	if (len == 0)
		return 0;
	fb0 = from_off >> BLK_SHIFT;
	fb1 = (from_off + len + BLK_MASK) >> BLK_SHIFT;
	tb0 = to_off >> BLK_SHIFT;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_WRITE, from, to, 0, 0);
	if (ret)
		return ret;
	contents_lock_two(sf, from, to);
	wait_inflight(sf, from, fb0, fb1);
	wait_inflight(sf, to, tb0, tb0 + (fb1 - fb0));

	/* everything is checked before anything moves */
	ret = sfs_inode_read(fs, from, &fdi) ?: sfs_inode_read(fs, to, &tdi);
	if (ret)
		goto unlock;
	if (S_ISDIR(le32toh(fdi.mode)) || S_ISDIR(le32toh(tdi.mode))) {
		ret = -EISDIR;
		goto unlock;
	}
	if (!S_ISREG(le32toh(fdi.mode)) || !S_ISREG(le32toh(tdi.mode))) {
		ret = -EINVAL;
		goto unlock;
	}
	fsize = le64toh(fdi.size);
	/* a partial last block only where the source ends */
	if ((len & BLK_MASK) && from_off + len != fsize) {
		ret = -EINVAL;
		goto unlock;
	}
	if (from_off + len > fsize) {
		ret = -EINVAL;
		goto unlock;
	}
	if (stage) {
		if (le64toh(tdi.data_version) != dv) {
			ret = -ESTALE;
			goto unlock;
		}
		ret = all_offline(fs, to, tb0, tb0 + (fb1 - fb0));
		if (ret == 0)
			ret = -EINVAL;
		if (ret < 0)
			goto unlock;
		ret = 0;
	} else if (le64toh(fdi.offline_blocks) || le64toh(tdi.offline_blocks)) {
		ret = -ENODATA;
		goto unlock;
	}

	for (pos = fb0; !ret && !done;) {
		ret = sfs_trans_hold(fs, false, &seq);
		if (!ret)
			seq = sfs_fuse_lock_seq(&set, seq);
		if (ret)
			break;
		ret = sfs_inode_read(fs, from, &fdi) ?: sfs_inode_read(fs, to, &tdi);
		for (n = 0; !ret && n < RELEASE_BATCH && pos < fb1; n++) {
			ret = ext_next(fs, from, pos, &e);
			if (ret == -ENOENT || (!ret && e.start >= fb1)) {
				/* a hole to the end of the range */
				e = (struct ext){ .start = fb1, .len = 1 };
				ret = 0;
			}
			if (ret)
				break;
			if (e.start > pos) {
				/* a source hole: the destination's part becomes one too */
				end = e.start < fb1 ? e.start : fb1;
				if (!stage) {
					hole = (struct ext){ .start = tb0 + (pos - fb0),
							     .len = end - pos };
					ret = set_range(fs, to, &tdi, &hole, true, seq);
				}
				pos = end;
				continue;
			}
			end = ext_end(&e) < fb1 ? ext_end(&e) : fb1;
			off_in = pos - e.start;
			if (e.flags & SCOUTFS_SEF_OFFLINE) {
				ret = -ENODATA;
				break;
			}
			/* the blocks change owners: no copy, nothing freed */
			part = (struct ext){ .start = tb0 + (pos - fb0), .len = end - pos,
					     .map = e.map + off_in, .flags = e.flags };
			hole = (struct ext){ .start = pos, .len = end - pos };
			ret = set_range(fs, to, &tdi, &part, true, seq) ?:
			      set_range(fs, from, &fdi, &hole, false, seq);
			pos = end;
		}
		done = pos >= fb1;
		if (!ret && done) {
			clock_gettime(CLOCK_REALTIME, &now);
			sfs_ts_set(&fdi.mtime, &now);
			fdi.ctime = fdi.mtime;
			ret = sfs_inode_data_changed(fs, from, &fdi, seq);
			if (!ret && !stage) {
				if (to_off + len > le64toh(tdi.size))
					tdi.size = htole64(to_off + len);
				tdi.mtime = fdi.mtime;
				tdi.ctime = fdi.mtime;
				ret = sfs_inode_data_changed(fs, to, &tdi, seq);
			}
		}
		if (!ret)
			ret = sfs_inode_update(fs, from, &fdi, seq) ?:
			      sfs_inode_update(fs, to, &tdi, seq);
		sfs_trans_release(fs);
	}
unlock:
	contents_unlock_two(sf, from, to);
	sfs_fuse_unlock(sf, &set, seq);
	if (!ret) {
		sfs_fuse_inval_data(sf, from, from_off, (fb1 - fb0) << BLK_SHIFT);
		sfs_fuse_inval_data(sf, to, to_off, (fb1 - fb0) << BLK_SHIFT);
		if (stage)
			sfs_wait_wake(sf, to);
	}
	return ret;
}
