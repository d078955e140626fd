/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_MERGE_H
#define SFS_MERGE_H

/*
 * Log merging: folding finalized log trees into fs_root so that the
 * number of trees a read visits stays bounded.  The server (server.c)
 * finalizes trees and hands out merge requests; every mount runs a merge
 * worker (here) that asks for requests, merges, and commits the result.
 * The design comment at the top of merge.c has the model.
 */

#include <stdint.h>

#include "scoutfs/format.h"
#include "sfs.h"

struct sfs_merge_opts {
	/* 0 means the default in brackets */
	uint32_t poll_ms;	/* ask the server for work this often when idle [2000] */
};

/* the smallest avail list a merge request is given, whatever the option says */
#define SFS_MERGE_META_MIN 256

/*
 * Blocks a request's allocator must still hold before the client merges
 * one more window of keys, with nr_inputs input trees: below it the
 * client stops and reports the rest of its range as REMAIN.  The server
 * gives requests at least four times this.
 */
static inline uint64_t sfs_merge_reserve(uint64_t nr_inputs)
{
	return 4 * (nr_inputs + 1) + 2 * SCOUTFS_BTREE_MAX_HEIGHT + 8;
}

/* start the worker (needs fs->client); safe to destroy half built and twice */
int sfs_merge_setup(struct sfs_fs *fs, const struct sfs_merge_opts *opts);
/* let the worker finish the request in hand (if any) and stop */
void sfs_merge_destroy(struct sfs_fs *fs);
/* ask the worker to look for work now (a log tree was finalized) */
void sfs_merge_kick(struct sfs_fs *fs);

/*
 * One round trip of merge work through fs->client: GET_LOG_MERGE, the
 * merge, COMMIT_LOG_MERGE.  0 when a request was done (or failed and was
 * handed back), -ENOENT when the server has no work, else an error.
 */
int sfs_merge_run_one(struct sfs_fs *fs);

/*
 * The work of one request, without messages: merge the input trees'
 * items in [req->start, req->end] into a copy-on-write copy of req->root
 * with the request's allocator, write and flush it, and describe the
 * result in *comp.  On failure comp says ERROR and the error is
 * returned; nothing was changed that anything durable references.
 */
int sfs_merge_request(struct sfs_fs *fs, const struct scoutfs_log_merge_request *req,
		      struct scoutfs_log_merge_complete *comp);

#endif
