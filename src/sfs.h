/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_SFS_H
#define SFS_SFS_H

/*
 * struct sfs_fs: the one context every subsystem entry point takes.
 *
 * There are no process globals.  A daemon serving one mount, a tool
 * reading a device, or a unit test each build an sfs_fs holding only the
 * subsystems they need; subsystem state hangs off the pointers below and
 * is private to its module.  Lifecycle per subsystem is
 * sfs_<subsys>_setup(fs) ... sfs_<subsys>_destroy(fs); destroy accepts a
 * half-built state and is safe to call twice.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>

struct sfs_block_state;
struct sfs_counters;

/* a log sink: receives one formatted line (no trailing newline) */
typedef void (*sfs_log_fn)(void *arg, int prio, const char *line);

struct sfs_fs {
	/* identity used to tag log lines; 0 until known */
	uint64_t fsid;
	uint64_t rid;

	/* logging, see log.h */
	const char *log_ident;	/* "scoutfsd", "scoutfs print", ... */
	int log_level;		/* highest LOG_* priority emitted */
	bool log_prio_prefix;	/* "<N>" journald prefix on stderr lines */
	bool log_tag_ids;	/* "f.XXXXXX r.YYYYYY" after the ident; tools omit it */
	sfs_log_fn log_fn;	/* NULL: stderr */
	void *log_arg;

	/* subsystems */
	struct sfs_block_state *block;	/* block.c */
	struct sfs_quorum *quorum;	/* quorum.c */
	struct sfs_item_cache *item;	/* item.c */
	struct sfs_counters *counters;	/* counters.h, NULL: not counted */
	struct sfs_server *server;	/* server.c, on the leader */
	struct sfs_client *client;	/* client.c */
	struct sfs_trans *trans;	/* trans.c */
	struct sfs_mount *mount;	/* mount.c */
	struct sfs_merge *merge;	/* merge.c, the mount's merge worker */
	struct sfs_srch *srch;		/* srch.c, the mount's srch compaction worker */
	struct sfs_locks *locks;	/* lock.c: this mount's cluster locks */
	struct sfs_inodes *inodes;	/* inode.c: inode numbers, format version */
	struct sfs_ctl_state *ctl;	/* ctl.c: the run directory and control socket */
	struct sfs_quota *quota;	/* quota.c: rule set and check caches */
	struct sfs_fence *fence;	/* fence.c: the leader's fence requests, under fence_lock */
	/*
	 * fence.c: serialises the users of fence against its destroy (a
	 * control request can arrive as the server stops).  All zero is
	 * its initial state (glibc's PTHREAD_MUTEX_INITIALIZER), so an
	 * sfs_fs needs no setup for it.
	 */
	pthread_mutex_t fence_lock;
	/*
	 * fence.c, self-fencing (atomics): when this mount last heard from
	 * a server (CLOCK_MONOTONIC ms), how long it may go without (ms, 0:
	 * not armed), and whether it stopped writing for good.
	 */
	uint64_t self_fence_heard;
	uint32_t self_fence_ms;
	bool self_fenced;
	unsigned int triggers;		/* trigger.h: armed one-shot test triggers, atomic */
	/* fs.c: make the kernel drop what it caches of inodes [first, last] */
	void (*kernel_inval)(void *arg, uint64_t first, uint64_t last);
	void *kernel_inval_arg;
	/*
	 * fs.c: set the bits of the inodes open on this mount in inode group
	 * group_nr (bit ino & 1023 of bits[16], client.c answers the
	 * server's OPEN_INO_MAP with them; unset: none open).  Called on the
	 * client's network thread: it must not block.
	 */
	void (*omap_local)(void *arg, uint64_t group_nr, uint64_t bits[16]);
	void *omap_arg;
};

#endif
