/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TRIGGER_H
#define SFS_TRIGGER_H

/*
 * One-shot test triggers, the reference's debugfs trigger/NAME files:
 * armed through the control socket (TRIGGER), consumed by the code that
 * tests it the next time it passes there.  They change only when
 * something happens, never what a result is.
 */

#include <stdbool.h>
#include <string.h>

#include "sfs.h"

enum sfs_trigger {
	/* the server rotates the next srch log file it commits, whatever its size */
	SFS_TRIGGER_SRCH_FORCE_LOG_ROTATE,
	/* the next log compaction fills its output's first block up to the safe-bytes limit */
	SFS_TRIGGER_SRCH_COMPACT_LOGS_PAD_SAFE,
	/* the next sorted merge to reach an input entry at the safe-bytes limit stops there */
	SFS_TRIGGER_SRCH_MERGE_STOP_SAFE,
	/*
	 * the next clean btree block an item reader reads by reference
	 * (sfs_block_reader_retries) finds its copy stale
	 * (block.c read_lg): the cached copy is dropped, the block is read
	 * again from the device and that copy is taken as stale too, so the
	 * read answers -ESTALE and the reader goes back for fresh roots (as
	 * when another mount rewrote the block); the item reader's retry
	 * counts item_read_stale.  Only readers of trees others write retry:
	 * arm it on a mount with nothing to commit.
	 */
	SFS_TRIGGER_BLOCK_REMOVE_STALE,
	/*
	 * the server's next retirement of a mount (a farewell or the
	 * reclaim of a dead mount, server.c retire_mount) leaves the
	 * mount's log tree as it is, not finalized, with its allocators:
	 * an orphan log tree, which reclaim_orphan_trees must find
	 */
	SFS_TRIGGER_RECLAIM_SKIP_FINALIZE,
	/*
	 * the server's next answer to a farewell (server.c
	 * answer_farewells) is not sent, as when the server stops right
	 * after the commit: the mount leaving must find on the meta device
	 * that its mounted_clients item is gone (client.c farewell)
	 */
	SFS_TRIGGER_FAREWELL_DROP_ANSWER,
	/*
	 * the next srch log file a COMMIT_LOG_TREES rotates fails once its
	 * LOG item is in srch_root, before the log tree is stored (as a
	 * btree error there would): the server must stop without
	 * committing the half change
	 */
	SFS_TRIGGER_SRCH_LOG_ROTATE_FAIL,
	SFS_TRIGGER_NR,
};

static inline const char *sfs_trigger_name(enum sfs_trigger t)
{
	static const char *const names[SFS_TRIGGER_NR] = {
		[SFS_TRIGGER_SRCH_FORCE_LOG_ROTATE] = "srch_force_log_rotate",
		[SFS_TRIGGER_SRCH_COMPACT_LOGS_PAD_SAFE] = "srch_compact_logs_pad_safe",
		[SFS_TRIGGER_SRCH_MERGE_STOP_SAFE] = "srch_merge_stop_safe",
		[SFS_TRIGGER_BLOCK_REMOVE_STALE] = "block_remove_stale",
		[SFS_TRIGGER_RECLAIM_SKIP_FINALIZE] = "reclaim_skip_finalize",
		[SFS_TRIGGER_FAREWELL_DROP_ANSWER] = "farewell_drop_answer",
		[SFS_TRIGGER_SRCH_LOG_ROTATE_FAIL] = "srch_log_rotate_fail",
	};

	return (unsigned int)t < SFS_TRIGGER_NR ? names[t] : "unknown";
}

/* the trigger of a name, or -1 */
static inline int sfs_trigger_lookup(const char *name)
{
	int t;

	for (t = 0; t < SFS_TRIGGER_NR; t++)
		if (strcmp(name, sfs_trigger_name((enum sfs_trigger)t)) == 0)
			return t;
	return -1;
}

static inline void sfs_trigger_arm(struct sfs_fs *fs, enum sfs_trigger t)
{
	__atomic_or_fetch(&fs->triggers, 1U << t, __ATOMIC_SEQ_CST);
}

/* was it armed?  Disarms it. */
static inline bool sfs_trigger_fired(struct sfs_fs *fs, enum sfs_trigger t)
{
	return __atomic_fetch_and(&fs->triggers, ~(1U << t), __ATOMIC_SEQ_CST) & (1U << t);
}

#endif
