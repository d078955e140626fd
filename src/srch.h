/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_SRCH_H
#define SFS_SRCH_H

/*
 * srch files: the searchable xattr index (format-spec.md section 11,
 * reference-scoutfs.md 5.7).  See the design comment in srch.c.
 */

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "block.h"
#include "sfs.h"

/* a log file is rotated into srch_root once it has this many blocks */
#define SFS_SRCH_LOG_ROTATE_BLOCKS 16

/* the entry a scoutfs.srch. xattr name logs for xattr id of inode ino */
struct scoutfs_srch_entry sfs_srch_entry(const char *name, size_t len, uint64_t ino,
					 uint64_t id);

/*
 * Append nr entries, in the order given, to the end of a file (a log
 * file: entries in arrival order), copying its radix path on write in
 * wri with alloc.  sfl is updated (first, last, ref, blocks, entries,
 * height).  On failure sfl may be half updated: the caller drops it and
 * forgets wri, as a failed commit does.
 */
int sfs_srch_append(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		    struct scoutfs_srch_file *sfl, const struct scoutfs_srch_entry *ents,
		    size_t nr);

/*
 * Call cb for every entry of a file, block by block, in stored order.
 * A non-zero cb return stops the walk and is returned.  -ESTALE: a
 * block was rewritten (the file was freed): re-read the roots; -EIO:
 * a block does not decode.
 */
typedef int (*sfs_srch_entry_cb)(void *arg, const struct scoutfs_srch_entry *sre);
int sfs_srch_read_file(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl,
		       sfs_srch_entry_cb cb, void *arg);

/*
 * Every block of a file (parents and leaves), for the allocator audits
 * of check and for freeing a file.
 */
int sfs_srch_file_blocks(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl,
			 void (*cb)(void *arg, uint64_t blkno), void *arg);

/*
 * Search the committed srch files of the volume for name's entries with
 * an inode in [first_ino, last_ino]: the log file of every log tree in
 * logs_root and every LOG and BLOCKS file in srch_root, of the super
 * block on the meta device (read afresh; stale blocks read it again).
 * Identical entries cancel in pairs.  Up to max distinct inode numbers
 * go to inos in ascending order; *nr is how many; *end is true when
 * every candidate up to last_ino was returned.  Candidates can be false
 * positives (another name with the same hash).
 */
int sfs_srch_search(struct sfs_fs *fs, const char *name, size_t len, uint64_t first_ino,
		    uint64_t last_ino, uint64_t *inos, size_t max, size_t *nr, bool *end);

/*
 * Every block of a compaction input that its DELETE cursor (blk, pos)
 * has not freed yet: all of them for a fresh cursor.
 */
int sfs_srch_input_blocks(struct sfs_fs *fs, const struct scoutfs_srch_compact_input *in,
			  void (*cb)(void *arg, uint64_t blkno), void *arg);

/*
 * Do (some of) a compaction job the server handed out: LOG inputs
 * sorted into a new file in one go, SORTED inputs merged from their
 * cursors, or the inputs' blocks freed (DELETE), allocating and freeing
 * with alloc in wri.  Sets DONE when finished; otherwise the cursors and
 * the output say how far it got (the output grows by at most about
 * max_blocks blocks per call; a LOG job that needs more is -ENOSPC).
 * On an error the job and wri are to be thrown away.
 */
int sfs_srch_compact_work(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			  struct scoutfs_srch_compact *sc, uint64_t max_blocks);

/*
 * The mount's compaction worker: asks the server for a job every
 * compact_delay_ms, and at once again after doing one.
 */
struct sfs_srch_opts {
	uint32_t compact_delay_ms;	/* [10000] */
};
#define SFS_SRCH_COMPACT_DELAY_MIN_MS 1000
#define SFS_SRCH_COMPACT_DELAY_DEF_MS 10000
#define SFS_SRCH_COMPACT_DELAY_MAX_MS 60000
int sfs_srch_setup(struct sfs_fs *fs, const struct sfs_srch_opts *opts);
void sfs_srch_destroy(struct sfs_fs *fs);
/*
 * Get one job, do (a step of) it, report it: 0, -ENOENT for no work, or
 * an error.  max_blocks (0: the default, 512) bounds a SORTED step's
 * output and a DELETE step's frees (16 per block), for tests.
 */
int sfs_srch_compact_run_one(struct sfs_fs *fs, uint64_t max_blocks);

#endif
