/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_MOUNT_H
#define SFS_MOUNT_H

/*
 * One mount's metadata engine, assembled: the block layer on both
 * devices, the super, the quorum agent (and through it the server) for a
 * quorum member, the client connected to whichever server the quorum
 * blocks name, the item cache and the transaction.  The daemon and the
 * test driver both start mounts through here.
 */

#include <stdint.h>
#include <stddef.h>

#include "scoutfs/format.h"
#include "sfs.h"

struct sfs_mount_opts {
	const char *meta_path;
	const char *data_path;
	int quorum_slot_nr;		/* -1: not a quorum member */
	unsigned int quorum_heartbeat_timeout_ms; /* 0: the quorum default [10000] */
	uint64_t rid;			/* 0: a random one */
	/* 0 means the default of the layer it goes to */
	uint32_t commit_interval_ms;
	uint64_t dirty_bytes_budget;
	uint32_t commit_chunk_items;	/* trans: items per bulk insert (tests) */
	size_t item_cache_bytes;
	size_t block_cache_bytes;
	unsigned int server_wait_ms;	/* how long to look for a server [60000] */
	uint64_t client_data_target;	/* server: data blocks per client refill */
	uint64_t client_meta_target;	/* server: meta blocks per client refill */
	uint64_t finalize_items;	/* server: finalize a log tree over this many items */
	uint64_t max_log_trees;		/* server: more trees with items want a merge */
	uint64_t merge_meta_target;	/* server: blocks per merge request */
	uint32_t merge_poll_ms;		/* merge worker: idle poll interval */
	uint32_t srch_compact_delay_ms;	/* srch compaction worker: idle poll interval */
	uint32_t lock_idle_count;	/* cluster locks kept idle [10000] */
	/*
	 * server: how long a mount may stay away (a broken connection, a
	 * recovery after failover) before it is fenced; client: how long
	 * without hearing from any server before it stops writing [30000]
	 */
	uint32_t recovery_window_ms;
	/*
	 * the daemon: make the run directory (sfs_ctl_prepare, under this
	 * base, NULL: the default) before the quorum agent starts
	 */
	bool run_dir;
	const char *run_base;
};

struct sfs_mount;

int sfs_mount_setup(struct sfs_fs *fs, const struct sfs_mount_opts *opts);
/* a clean unmount: commit, farewell, stop the quorum agent (and server) */
int sfs_mount_unmount(struct sfs_fs *fs);
/* tear everything down as it is, committing nothing; safe on half-built state */
void sfs_mount_destroy(struct sfs_fs *fs);

/* the meta super as read at mount time */
const struct scoutfs_super_block *sfs_mount_super(struct sfs_fs *fs);

#endif
