/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_BLOCK_H
#define SFS_BLOCK_H

/*
 * Block I/O for the two devices of a volume, over io_uring.
 *
 * Nothing above this layer touches a device file descriptor.  See the
 * design comment at the top of block.c for the model and invariants.
 *
 * Errors: 0 or a negative errno.  Reads are validated:
 *   - crc mismatch (corrupt contents), short read, read past the device
 *     end, I/O error:                        -EIO, logged with the blkno;
 *   - magic, fsid, blkno or seq different from what the caller expected
 *     (a stale reference: the block was rewritten elsewhere): -ESTALE.
 * A failing cached or disk copy is dropped and re-read from disk once
 * before the error is returned.
 */

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#include "scoutfs/format.h"
#include "sfs.h"

enum sfs_dev {
	SFS_DEV_META = 0,
	SFS_DEV_DATA = 1,
	SFS_DEV_NR,
};

struct sfs_block_opts {
	const char *meta_path;	/* required */
	const char *data_path;	/* may be NULL: only the meta device is opened */
	bool read_only;		/* O_RDONLY instead of O_RDWR */
	bool exclusive;		/* O_EXCL (only meaningful on block devices) */
	size_t cache_bytes;	/* bound on cached LG block memory; 0 = 64 MiB */
	unsigned int queue_depth; /* io_uring entries; 0 = 128 */
	bool prefill;		/* map the cache's buffers in the background (mounts) */
};

/*
 * A cached 64 KiB metadata block.  data is 64 KiB aligned to 4 KiB
 * (O_DIRECT).  Callers hold a reference from read/new until put.
 */
struct sfs_block_writer;

struct sfs_block {
	uint64_t blkno;		/* LG block number on the meta device */
	void *data;		/* SCOUTFS_BLOCK_LG_SIZE bytes */
	struct sfs_block_writer *writer; /* dirty in this writer, or NULL (owner's lock) */
	bool checked;		/* contents passed the owner's structural check */
	bool write_started;	/* sfs_block_writer_start sealed it (owner's lock) */
	/* the rest is private to block.c */
	void *priv;
};

/* open the devices and start the ring; fs->block is set on success */
int sfs_block_setup(struct sfs_fs *fs, const struct sfs_block_opts *opts);
/* safe on a half-built state and safe twice */
void sfs_block_destroy(struct sfs_fs *fs);

/* size in bytes of an opened device (0 if not opened) */
uint64_t sfs_block_dev_size(struct sfs_fs *fs, enum sfs_dev dev);
/* true if the device is opened with O_DIRECT */
bool sfs_block_dev_direct(struct sfs_fs *fs, enum sfs_dev dev);

/*
 * The fsid every LG and quorum block must carry.  Set once the meta super
 * has been read (or made, in mkfs); until then fsids are not checked.
 */
void sfs_block_set_fsid(struct sfs_fs *fs, uint64_t fsid);

/*
 * Read the LG block a reference points to, validating crc, magic, fsid,
 * hdr.seq == ref.seq and hdr.blkno == ref.blkno.  Returns a referenced
 * block in *bl_ret.
 */
int sfs_block_read_ref(struct sfs_fs *fs, const struct scoutfs_block_ref *ref, uint32_t magic,
		       struct sfs_block **bl_ret);

/*
 * Read nr references at once: every block not already cached is submitted
 * before any completion is waited for, so they are in flight together.
 * bls[i] is set (referenced) or NULL, errs[i] is 0 or the error for that
 * block.  Returns 0 if all succeeded, else the first error.
 */
int sfs_block_read_refs(struct sfs_fs *fs, const struct scoutfs_block_ref *refs, int nr,
			uint32_t magic, struct sfs_block **bls, int *errs);

/*
 * Read an LG block by number with no expectations beyond crc, magic and
 * fsid, for tools that walk what they find (print).  hdr.blkno must still
 * equal blkno.
 */
int sfs_block_read_blkno(struct sfs_fs *fs, uint64_t blkno, uint32_t magic,
			 struct sfs_block **bl_ret);

/* a zeroed, referenced block for blkno, replacing any cached copy */
struct sfs_block *sfs_block_new(struct sfs_fs *fs, uint64_t blkno);

void sfs_block_get(struct sfs_block *bl);
void sfs_block_put(struct sfs_fs *fs, struct sfs_block *bl);

/*
 * Write nr LG blocks as one batch: the caller has filled in the header
 * (magic, fsid, seq, blkno == bl->blkno); the crc is computed here.  All
 * writes are in flight at once; returns after every one completed, 0 or
 * the first error.  No flush is implied: see sfs_block_flush().
 */
int sfs_block_write_blocks(struct sfs_fs *fs, struct sfs_block **bls, int nr);

/*
 * Small (4 KiB) header blocks: the super (SM blkno 16 of either device)
 * and quorum blocks (SM 17..31 of the meta device).  buf is
 * SCOUTFS_BLOCK_SM_SIZE bytes; any alignment.
 *
 * sfs_block_read_sm validates crc, magic and hdr.blkno == blkno, and fsid
 * when one is set and the magic is not the super's.
 * sfs_block_write_sm computes the crc into buf and writes it.
 */
/*
 * The calling thread's reads until it says otherwise retry with fresh
 * roots when they meet stale blocks (the item reader): the
 * block_remove_stale test trigger applies to them only.
 */
void sfs_block_reader_retries(bool on);

int sfs_block_read_sm(struct sfs_fs *fs, enum sfs_dev dev, uint64_t blkno, uint32_t magic,
		      void *buf);
int sfs_block_write_sm(struct sfs_fs *fs, enum sfs_dev dev, uint64_t blkno, void *buf);

/*
 * Raw I/O of whole 4 KiB units at 4 KiB aligned offsets, for data blocks
 * and tools.  buf must come from sfs_block_alloc_buf().
 */
int sfs_block_pread(struct sfs_fs *fs, enum sfs_dev dev, void *buf, size_t len, uint64_t off);
int sfs_block_pwrite(struct sfs_fs *fs, enum sfs_dev dev, const void *buf, size_t len,
		     uint64_t off);

/*
 * The same write in the background: 0 once submitted, then cb(arg, err)
 * when it completed (err 0 or -errno, logged).  cb runs on the I/O
 * completion thread: it must not block or call into block.c.  buf must
 * stay until then.  An error return means nothing was submitted and cb
 * never runs.
 */
int sfs_block_pwrite_async(struct sfs_fs *fs, enum sfs_dev dev, const void *buf, size_t len,
			   uint64_t off, void (*cb)(void *arg, int err), void *arg);

/* barrier: every completed write to dev is durable when this returns 0 */
int sfs_block_flush(struct sfs_fs *fs, enum sfs_dev dev);

/* 4 KiB aligned, zeroed; free with free() */
void *sfs_block_alloc_buf(size_t len);

/*
 * Validate a block already in memory: crc over [4, size), then magic,
 * then blkno, fsid and seq when the expectation is non-zero.  Logs and
 * returns -EIO for a bad crc, returns -ESTALE (logged at debug) for a
 * mismatch.  Used by the read paths and by tools on vectors.
 */
int sfs_block_check(struct sfs_fs *fs, const void *blk, size_t size, uint32_t magic,
		    uint64_t fsid, uint64_t blkno, uint64_t seq);

/*
 * A writer collects the dirty blocks of one transaction: a mount's log
 * tree commit or a server commit.  A block is dirty in at most one writer
 * (bl->writer); copy-on-write reuses a block already dirty in the same
 * writer and copies anything else to a new block.  The writer holds a
 * reference on each of its blocks until they are written or forgotten.
 * Callers serialize all use of one writer.
 */
struct sfs_writer_io;

struct sfs_block_writer {
	struct sfs_block **blocks;
	size_t nr;
	size_t cap;
	struct sfs_writer_io *io;	/* private to block.c: writes started early */
};

void sfs_block_writer_init(struct sfs_block_writer *wri);
/* a zeroed block for blkno, dirty in wri; the caller gets its own reference */
struct sfs_block *sfs_block_writer_new(struct sfs_fs *fs, struct sfs_block_writer *wri,
				       uint64_t blkno);
/* may bl be changed in place in wri's transaction?  (not once its write started) */
static inline bool sfs_block_writer_dirty(const struct sfs_block_writer *wri,
					  const struct sfs_block *bl)
{
	return bl->writer == wri && !bl->write_started;
}
/*
 * bl, dirty in wri, is final: its write may start now, while the caller
 * goes on building others.  Nothing changes bl afterwards: it no longer
 * counts as dirty, so copy-on-write copies it if it is wanted again (and
 * debug builds check that it did not change).  Best effort: a block whose write cannot start here
 * is written, and any error reported, by sfs_block_writer_write.
 */
void sfs_block_writer_start(struct sfs_fs *fs, struct sfs_block_writer *wri,
			    struct sfs_block *bl);
/*
 * Write every dirty block (no flush), all in flight together, and wait
 * for the ones started early; the blocks become clean cached copies.
 * On failure they all stay dirty, to be written again or forgotten.
 */
int sfs_block_writer_write(struct sfs_fs *fs, struct sfs_block_writer *wri);
/* drop every dirty block unwritten (their blknos are about to be freed or
 * reused), after waiting for writes started early */
void sfs_block_writer_forget(struct sfs_fs *fs, struct sfs_block_writer *wri);
/* release the writer's memory; it must be empty */
void sfs_block_writer_destroy(struct sfs_block_writer *wri);

/* remove a block from the cache (holders keep their copy) */
void sfs_block_invalidate(struct sfs_fs *fs, struct sfs_block *bl);

/* counters for tests and the run directory */
struct sfs_block_stats {
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_bytes;		/* currently cached */
	uint64_t cache_evictions;
	uint64_t reads_submitted;
	uint64_t writes_submitted;
	uint64_t max_in_flight;		/* most requests in flight at once so far */
	uint64_t flushes;
	uint64_t crc_errors;
	uint64_t stale_errors;
	uint64_t buf_arenas;		/* 2 MiB buffer arenas in use (or being prefilled) */
	uint64_t buf_arenas_fresh;	/* prefilled, untouched */
	uint64_t buf_free;		/* recycled buffers waiting for a block */
};
void sfs_block_get_stats(struct sfs_fs *fs, struct sfs_block_stats *st);

#endif
