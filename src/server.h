/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_SERVER_H
#define SFS_SERVER_H

/*
 * The server: runs in the elected leader's daemon, the only writer of
 * the super block, the shared btrees and the allocators.  Clients (every
 * mount, the leader's too) reach it through net.c.
 */

#include <stdint.h>
#include <sys/socket.h>

#include "sfs.h"

struct sfs_server_opts {
	const struct sockaddr *addr;	/* where to listen (port 0: any) */
	socklen_t addr_len;
	uint64_t term;			/* the quorum term it was elected in */
	/* 0 means the default in brackets */
	uint64_t client_meta_target;	/* a client's avail list is refilled to [1024] */
	uint64_t client_data_target;	/* a client's data_avail is refilled to at most [1048576] */
	uint64_t client_data_min;	/* ... and at least, while free [2048] (server.c: Data space) */
	uint64_t server_meta_target;	/* the server's own lists are refilled to [1024] */
	uint64_t meta_reserve;		/* below this much free meta, clients get LOW [3072] */
#define SFS_SERVER_META_RESERVE_DEF 3072ULL
	uint32_t linger_ms;		/* net session linger [60000] */
	/* log merging (merge.c has the model) */
	uint64_t finalize_items;	/* a log tree holding more items is finalized [65536] */
	uint64_t max_log_trees;		/* more log trees with items than this want a merge [8] */
	uint64_t merge_meta_target;	/* blocks in a merge request's avail list [1024] */
	uint32_t freeing_per_commit;	/* FREEING items freed per maintenance commit [8] */
	bool merge_hold_freeing;	/* tests: leave FREEING items on disk */
	uint32_t reconnect_ms;		/* recorded mounts not back by then are reclaimed [30000] */
	/* mounts known dead (the earlier leaders of our slot): reclaimed at once */
	const uint64_t *dead_rids;
	size_t nr_dead;
	/*
	 * Earlier leaders of other slots that may still run: fenced
	 * (quorum_block_leader) before the server commits anything, then
	 * reclaimed.
	 */
	const struct sfs_server_fence {
		uint64_t rid;
		char addr[64];
	} *fence_leaders;
	size_t nr_fence_leaders;
	/*
	 * The server stopped serving on its own (a commit failed, a change
	 * failed half done, a fence request failed): called once, from one
	 * of its threads, which it must not stop itself.  NULL: it answers
	 * -EIO to everything instead (tests).
	 */
	void (*failed)(void *arg);
	/* the earlier leaders are fenced: the server commits from now (may be NULL) */
	void (*up)(void *arg, uint64_t term);
	void *failed_arg;		/* for failed and up */
};

/*
 * Read the super, set up the allocators, listen.  *bound (may be NULL)
 * gets the address listened on.  fs->block must be set up on both devices.
 */
int sfs_server_start(struct sfs_fs *fs, const struct sfs_server_opts *opts,
		     struct sockaddr_storage *bound);
/* stop answering, finish the batch in hand, free everything; safe twice */
void sfs_server_stop(struct sfs_fs *fs);

/*
 * Ask for a log merge now (tests, and an admin request later): every log
 * tree holding items that is not in an open transaction is finalized at
 * once, open ones when their owner next asks for a transaction, and the
 * merge starts as soon as none with items is left unfinalized.  Returns
 * once that is committed.
 */
int sfs_server_request_merge(struct sfs_fs *fs);

/*
 * A mount known to be dead (fenced, by the cluster work to come; tests):
 * everything its FAREWELL would have done.  Its open transaction is
 * abandoned, its committed log tree finalized for merging, its merge
 * request handed to others.  Never for a mount that may still write.
 */
int sfs_server_reclaim_mount(struct sfs_fs *fs, uint64_t rid);

#endif
