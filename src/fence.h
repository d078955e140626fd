/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_FENCE_H
#define SFS_FENCE_H

/*
 * Fence requests (reference-scoutfs.md 3.7): the leader's server asks
 * for a mount to be cut off from the devices before it takes back what
 * the mount held.  Each request is a directory of the leader's run
 * directory, RUN_DIR/fence/<rid %016llx>/, with the files rid, addr
 * (and ipv4_addr for IPv4), reason, elapsed_secs (rewritten every
 * second), fenced and error ("0" until an agent writes 1 to one of
 * them: scoutfs-fenced(8)); control clients answer through
 * sfs_fence_answer.  A request not answered within timeout_ms fails.
 */

#include <stdbool.h>
#include <stdint.h>

#include "sfs.h"

enum sfs_fence_reason {
	SFS_FENCE_CLIENT_RECOVERY,	/* a mount did not recover its locks in time */
	SFS_FENCE_CLIENT_RECONNECT,	/* a mount did not reconnect in time */
	SFS_FENCE_QUORUM_BLOCK_LEADER,	/* a previous leader that may still run */
};

enum sfs_fence_state {
	SFS_FENCE_PENDING,
	SFS_FENCE_FENCED,
	SFS_FENCE_ERROR,
};

struct sfs_fence_opts {
	const char *dir;		/* where request directories go; NULL: none (memory only) */
	uint32_t timeout_ms;		/* a request fails after this [30000] */
	/*
	 * A request was answered (or timed out): runs on the fence thread,
	 * no fence lock held.  Returning true asks again at once (a new
	 * request, the same rid, address and reason).
	 */
	bool (*done)(void *arg, uint64_t rid, enum sfs_fence_reason reason, bool fenced);
	void *arg;
};

struct sfs_fence_info {
	uint64_t rid;
	char addr[64];
	enum sfs_fence_reason reason;
	enum sfs_fence_state state;
	uint64_t elapsed_ms;
};

int sfs_fence_setup(struct sfs_fs *fs, const struct sfs_fence_opts *opts);
/* stops the thread and removes every request directory; done is not called */
void sfs_fence_destroy(struct sfs_fs *fs);

/*
 * Ask for rid to be fenced; addr is its last address as text ("" if not
 * known).  0, -EEXIST if a request for rid is pending (nothing new), or
 * -errno.
 */
int sfs_fence_request(struct sfs_fs *fs, uint64_t rid, const char *addr,
		      enum sfs_fence_reason reason);
/* a control client answers a pending request: 0 or -ENOENT */
int sfs_fence_answer(struct sfs_fs *fs, uint64_t rid, bool fenced);
/* up to max pending requests into info; their number (0 without a fence module) */
size_t sfs_fence_list(struct sfs_fs *fs, struct sfs_fence_info *info, size_t max);

const char *sfs_fence_reason_name(enum sfs_fence_reason reason);

#endif
