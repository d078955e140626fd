/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_LOCK_SERVER_H
#define SFS_LOCK_SERVER_H

/*
 * The lock server: which mount holds which cluster lock in which mode
 * (reference-scoutfs.md 4.4).  It lives in the leader's server, in
 * memory only, and knows nothing of the network: requests and answers
 * come in through these calls, and what it wants sent goes out through
 * the ops, which are called with no lock server lock held (they may
 * call back in).  See the design comment in lock_server.c.
 */

#include <stdbool.h>
#include <stdint.h>

#include "scoutfs/format.h"
#include "sfs.h"

/* modes (the reference's enum scoutfs_lock_mode) */
#define SFS_LOCK_NULL 0
#define SFS_LOCK_READ 1
#define SFS_LOCK_WRITE 2
#define SFS_LOCK_WRITE_ONLY 3
#define SFS_LOCK_NR_MODES 4

/* may two mounts hold these modes of one lock at once? */
bool sfs_lock_modes_compatible(uint8_t a, uint8_t b);
/* what a holder of held gives up to when another mount wants wanted */
uint8_t sfs_lock_invalidation_mode(uint8_t held, uint8_t wanted);

struct sfs_lock_server;

struct sfs_lock_server_ops {
	/* ask rid to go from nl->old_mode down to nl->new_mode (answered by _response) */
	void (*invalidate)(void *arg, uint64_t rid, const struct scoutfs_net_lock *nl);
	/* answer rid's request ctx: granted nl->new_mode, with nl->write_seq */
	void (*grant)(void *arg, uint64_t rid, void *ctx, const struct scoutfs_net_lock *nl);
	/* a request that is dropped unanswered (its rid left): ctx is the caller's to free */
	void (*drop)(void *arg, uint64_t rid, void *ctx);
	/* a seq greater than every seq handed out before (WRITE and WRITE_ONLY grants) */
	uint64_t (*next_write_seq)(void *arg);
	void *arg;
};

struct sfs_lock_server *sfs_lock_server_create(struct sfs_fs *fs,
					       const struct sfs_lock_server_ops *ops);
/* every request still queued is dropped (ops->drop) */
void sfs_lock_server_destroy(struct sfs_lock_server *ls);

/*
 * rid asks for nl->new_mode of the lock nl->key, saying it holds
 * nl->old_mode.  ctx comes back in grant (or drop).  -EINVAL for a bad
 * mode or a second request of rid for the same lock while one is queued;
 * -ENOMEM.
 */
int sfs_lock_server_request(struct sfs_lock_server *ls, uint64_t rid,
			    const struct scoutfs_net_lock *nl, void *ctx);
/*
 * rid answered an invalidation: it now holds nl->new_mode of nl->key.
 * An answer nobody asked for is ignored (counted).
 */
void sfs_lock_server_response(struct sfs_lock_server *ls, uint64_t rid,
			      const struct scoutfs_net_lock *nl);
/* rid left or was reclaimed: everything of it goes and the locks it held move on */
void sfs_lock_server_farewell(struct sfs_lock_server *ls, uint64_t rid);

/*
 * Recovery after a server change (reference-scoutfs.md 3.6): nothing is
 * granted while any of rids has not recovered.  recover records a lock a
 * mount says it holds (nl->new_mode; -EINVAL when it conflicts with
 * another mount's, recorded anyway), recover_done ends a mount's
 * recovery, and a farewell (a mount reclaimed) ends it too.
 */
int sfs_lock_server_recover_begin(struct sfs_lock_server *ls, const uint64_t *rids, size_t nr);
int sfs_lock_server_recover(struct sfs_lock_server *ls, uint64_t rid,
			    const struct scoutfs_net_lock *nl);
void sfs_lock_server_recover_done(struct sfs_lock_server *ls, uint64_t rid);
size_t sfs_lock_server_nr_recovering(struct sfs_lock_server *ls);

/*
 * A mount greeted this server again on a new session (its old one ended
 * while the server ran): its queued requests are dropped (it failed them
 * on its side and asks again) and the invalidations it has not answered
 * are sent again (the old session took them, or their answers, along).
 */
void sfs_lock_server_reconnected(struct sfs_lock_server *ls, uint64_t rid);

/* tests and diagnostics: the mode rid holds (granted, or being invalidated) */
uint8_t sfs_lock_server_mode(struct sfs_lock_server *ls, uint64_t rid,
			     const struct scoutfs_key *key);
/* tests: locks with any state */
uint64_t sfs_lock_server_nr_locks(struct sfs_lock_server *ls);

#endif
