/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TRANS_H
#define SFS_TRANS_H

/*
 * The mount's one open transaction.  Operations that write items hold it
 * (shared); a commit takes it exclusively, writes every dirty item of the
 * item cache into the mount's log btree, makes everything durable, hands
 * the new roots to the server and opens the next transaction.
 */

#include <stdint.h>

#include "sfs.h"
#include "scoutfs/format.h"

struct sfs_trans_opts {
	/* 0 means the default in brackets */
	uint32_t commit_interval_ms;	/* commit dirty items at least this often [10000] */
	uint64_t dirty_bytes_budget;	/* commit once dirty items need this much [8 MiB] */
	uint64_t meta_growth_need;	/* blocks an op may need: below, growth -ENOSPC [32] */
	uint32_t commit_chunk_items;	/* dirty items per bulk insert of a commit [8192] */
};

/* needs fs->client and fs->item; opens the first transaction */
int sfs_trans_setup(struct sfs_fs *fs, const struct sfs_trans_opts *opts);
/* stop the commit thread once its commit in hand is done (no more commits) */
void sfs_trans_stop(struct sfs_fs *fs);
/* stops the commit thread; uncommitted items are not written */
void sfs_trans_destroy(struct sfs_fs *fs);

/*
 * Hold the open transaction around item writes; *seq is its seq, the one
 * the written items carry.  A hold that grows metadata (creates items)
 * passes growth = true and gets -ENOSPC once the server has marked the
 * mount's allocator LOW; deletions pass false and may use the reserve.
 */
int sfs_trans_hold(struct sfs_fs *fs, bool growth, uint64_t *seq);
void sfs_trans_release(struct sfs_fs *fs);

/* commit now and wait: everything released before the call is durable */
int sfs_trans_sync(struct sfs_fs *fs);
/*
 * The same, committing even an empty transaction: the mount gets a new
 * one, so that its old open one no longer holds back the stable seq
 * (fsync: walks of the seq indexes then show every mount's commits)
 */
int sfs_trans_sync_force(struct sfs_fs *fs);

/*
 * Data blocks (SM units on the data device), with the transaction held.
 * alloc: up to want contiguous blocks (at least one) at *start, *len;
 * -ENOSPC when this transaction has none left (sfs_trans_commit_for_space
 * then gets more from the server, if it has any).  free: blocks no longer
 * referenced once this transaction commits; they are not reused before.
 */
int sfs_trans_alloc_data(struct sfs_fs *fs, uint64_t want, uint64_t *start, uint64_t *len);
int sfs_trans_free_data(struct sfs_fs *fs, uint64_t start, uint64_t len);
/* commit (even with no dirty items) so the server refills the next transaction and sees what it needs (merges); not held */
int sfs_trans_commit_for_space(struct sfs_fs *fs);

/*
 * A file data write in the background: begun with the transaction held,
 * ended from its completion (err 0 or -errno).  A commit waits for every
 * one begun before it; a failure makes the syncs of that commit fail.
 */
void sfs_trans_data_io_begin(struct sfs_fs *fs);
void sfs_trans_data_io_end(struct sfs_fs *fs, int err);

/*
 * Every item written with a seq up to this is committed: the greatest of
 * the last committed transaction's seq and the write_seqs granted before
 * it (a seq sfs_trans_hold gave out is at most that)
 */
uint64_t sfs_trans_committed_seq(struct sfs_fs *fs);

/*
 * Log a srch entry in the held transaction: its commit appends it to the
 * mount's srch log file with the transaction's items.  0 or -ENOMEM.
 */
int sfs_trans_srch_add(struct sfs_fs *fs, const struct scoutfs_srch_entry *sre);

#endif
