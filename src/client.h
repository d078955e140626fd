/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_CLIENT_H
#define SFS_CLIENT_H

/*
 * The client: every mount's side of the server protocol.  Requests are
 * synchronous from the caller's view and survive reconnects (net.c resends
 * them); the server answers each once its effect is durable.
 */

#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "scoutfs/format.h"
#include "forest.h"
#include "sfs.h"

struct sfs_client_opts {
	const struct sockaddr *addr;	/* the server's address */
	socklen_t addr_len;
	uint64_t rid;			/* this mount's random id, never 0 or ~0 */
	const uint8_t *uuid;		/* the volume's, for the net key */
	uint64_t fmt_vers;
	bool quorum;			/* this mount is a quorum member */
	unsigned int timeout_ms;	/* per request [60000] */
	/*
	 * Where the server is now, asked before each reconnect (the quorum
	 * blocks name the current leader); NULL: always addr.  Runs on the
	 * client's net thread: may read the devices, must not wait long.
	 */
	int (*resolve)(void *arg, struct sockaddr_storage *ss, socklen_t *len);
	void *resolve_arg;
	/*
	 * Self-fencing (fence.h): after this long without hearing from
	 * any server, the mount stops writing and disconnects for good; 0:
	 * never
	 */
	uint32_t self_fence_ms;
};

/* connect and greet the server; fs->fsid must be set */
int sfs_client_setup(struct sfs_fs *fs, const struct sfs_client_opts *opts);
void sfs_client_destroy(struct sfs_fs *fs);

int sfs_client_alloc_inodes(struct sfs_fs *fs, uint64_t count, uint64_t *ino, uint64_t *nr);
int sfs_client_get_log_trees(struct sfs_fs *fs, struct scoutfs_log_trees *lt);
/*
 * Commit lt and get the next transaction in one server commit: *have_next
 * false (and 0) when the commit stands but the next must be asked for.
 */
int sfs_client_commit_log_trees_next(struct sfs_fs *fs, const struct scoutfs_log_trees *lt,
				     struct scoutfs_log_trees *next, bool *have_next);
int sfs_client_commit_log_trees(struct sfs_fs *fs, const struct scoutfs_log_trees *lt);
/* log merging: a request to work on (-ENOENT: none now), and its result */
int sfs_client_get_log_merge(struct sfs_fs *fs, struct scoutfs_log_merge_request *req);
int sfs_client_commit_log_merge(struct sfs_fs *fs, const struct scoutfs_log_merge_complete *comp);
/* srch compaction: a job (nr 0: no work) and its result */
int sfs_client_srch_get_compact(struct sfs_fs *fs, struct scoutfs_srch_compact *sc);
int sfs_client_srch_commit_compact(struct sfs_fs *fs, const struct scoutfs_srch_compact *sc);
int sfs_client_get_roots(struct sfs_fs *fs, struct sfs_forest_roots *roots);
int sfs_client_get_last_seq(struct sfs_fs *fs, uint64_t *seq);
int sfs_client_statfs(struct sfs_fs *fs, struct scoutfs_net_statfs *st);
/*
 * A clean unmount: the server forgets this mount.  Returns 0 once the
 * server answered, or once the meta device shows this mount's
 * mounted_clients item gone (the answer was lost, or the mount was
 * reclaimed); waits for the next server while there is none, logging
 * what it waits for every few seconds.  An error when no server can
 * answer any more (the mount fenced itself, net.c's -ENOLINK).  Called
 * again, it sends FAREWELL again (the server finds the mount gone), or
 * waits for the one still out.
 */
int sfs_client_farewell(struct sfs_fs *fs);

/*
 * The union of the inodes open on every mounted client (this one's
 * included) in inode group group_nr (ino >> 10): bit ino & 1023 of bits.
 * A mount that leaves while the server gathers the answers counts as
 * having none open.
 */
int sfs_client_open_ino_map(struct sfs_fs *fs, uint64_t group_nr,
			    uint64_t bits[SCOUTFS_OPEN_INO_MAP_LE64S]);

/*
 * Volume options (super.volopt): read; set the options whose set_bits
 * are given (validated by the server: -EINVAL); clear the options whose
 * set_bits are given.  Each returns once the change is durable.
 */
int sfs_client_get_volopt(struct sfs_fs *fs, struct scoutfs_volume_options *vo);
int sfs_client_set_volopt(struct sfs_fs *fs, const struct scoutfs_volume_options *vo);
int sfs_client_clear_volopt(struct sfs_fs *fs, const struct scoutfs_volume_options *vo);

/*
 * trans.c: fn(fs) is called (on the network thread, it must not block)
 * when the server asks for the open transaction to be committed now
 * (SYNC_LOG_TREES).  NULL unhooks; once that returns fn is not running.
 */
void sfs_client_set_sync_fn(struct sfs_fs *fs, void (*fn)(struct sfs_fs *fs));

/* tests: the client's net, e.g. to drop its connection */
struct sfs_net *sfs_client_net(struct sfs_fs *fs);
/* the session with the server (NULL before setup) */
struct sfs_net_conn *sfs_client_conn(struct sfs_fs *fs);

#endif
