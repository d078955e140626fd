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
	/*
	 * Or, with dir NULL: RUN_DIR/fence of the mount's run directory
	 * (ctl.c), once there is one.  A leader elected while its mount
	 * starts has none yet; the requests it makes meanwhile get their
	 * directories when it appears.
	 */
	bool in_run_dir;
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

/*
 * Self-fencing (ARCHITECTURE.md, Cluster): a mount that has heard from no
 * server for window_ms may have been fenced and had what it held taken
 * back, so it writes nothing more to the devices (block.c refuses with
 * -EIO) and the client disconnects for good.  It stays so until the
 * daemon exits.  The client arms it once it has greeted a server, tells
 * every frame it hears, and disarms it as it goes away.  Any thread.
 */
void sfs_self_fence_arm(struct sfs_fs *fs, uint32_t window_ms);
void sfs_self_fence_disarm(struct sfs_fs *fs);
/*
 * heard: a frame from a server arrived now.  A gap past the window is
 * noticed before it is closed, so a mount resumed after a long stop
 * (SIGSTOP) fences itself whichever of its threads looks first.
 * Returns false once self-fenced.
 */
bool sfs_self_fence_check(struct sfs_fs *fs, bool heard);
/* a server said this mount was fenced (why): self-fenced at once, armed or not */
void sfs_self_fence_now(struct sfs_fs *fs, const char *why);
/* self-fenced (checks the window too, as sfs_self_fence_check without hearing) */
static inline bool sfs_self_fenced(struct sfs_fs *fs)
{
	if (__atomic_load_n(&fs->self_fenced, __ATOMIC_ACQUIRE))
		return true;
	if (!__atomic_load_n(&fs->self_fence_ms, __ATOMIC_ACQUIRE))
		return false;
	return !sfs_self_fence_check(fs, false);
}

#endif
