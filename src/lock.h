/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_LOCK_H
#define SFS_LOCK_H

/*
 * Cluster locks, the mount's side (reference-scoutfs.md 4.3): the modes
 * this mount holds, the users of each, the LOCK requests to the server
 * and the invalidations it asks for.  See the design comment in lock.c;
 * the modes are lock_server.h's.
 */

#include <stdbool.h>
#include <stdint.h>

#include "item.h"
#include "lock_server.h"
#include "net.h"
#include "sfs.h"

/*
 * Lock names (reference-scoutfs.md 4.2): the key range each kind of
 * item is locked by.  The first key names the lock.  Every key of a
 * range has the same forest lock group (forest.c sfs_forest_lock_start),
 * as the item cache needs.
 */
/* every FS-zone item of the 1024-inode group of ino */
struct sfs_item_range sfs_lock_name_ino(uint64_t ino);
/* the seq index type (META_SEQ, DATA_SEQ) items of the 1024 seqs around seq */
struct sfs_item_range sfs_lock_name_index(uint8_t type, uint64_t seq);
/* a whole zone: orphans, xattr totals, xattr index, quota rules */
struct sfs_item_range sfs_lock_name_zone(uint8_t zone);
/* the global rename lock: one key */
struct sfs_item_range sfs_lock_name_rename(void);

struct sfs_lock;

struct sfs_lock_ops {
	/*
	 * Before this mount gives lock down from old_mode to new_mode:
	 * make that safe for the other mounts (commit what was written
	 * under it, drop what is cached under it).  Runs on the lock's
	 * invalidation thread with no lock module lock held, once no user
	 * of a mode new_mode does not allow is left.  An error is logged;
	 * the lock is given down anyway (the other mount must not wait
	 * forever).
	 */
	int (*invalidate)(void *arg, struct sfs_lock *lock, uint8_t old_mode, uint8_t new_mode);
	/*
	 * The server granted a mode that may read where this mount could
	 * not read before: anything cached of the range without the lock
	 * (reads made before it was held) must go before its users look.
	 * Runs on the net thread: no I/O, no waiting.
	 */
	void (*granted)(void *arg, struct sfs_lock *lock, uint8_t old_mode, uint8_t new_mode);
	/*
	 * A number that moves whenever roots taken before may lack what
	 * this mount itself committed since (sfs_lock_roots).  Net thread:
	 * no I/O, no waiting.  NULL: grants' roots are never used.
	 */
	uint64_t (*roots_gen)(void *arg);
	void *arg;
};

struct sfs_lock_opts {
	struct sfs_lock_ops ops;
	/* locks kept with no users before the oldest is given back [10000] */
	uint32_t idle_count;
	/* how long a lock_get waits for a grant before -ETIMEDOUT [0: forever] */
	uint32_t timeout_ms;
	/* invalidation threads [4] */
	unsigned int workers;
};
#define SFS_LOCK_WORKERS_MAX 16

/* fs->client must be set up: requests go over its session */
int sfs_lock_setup(struct sfs_fs *fs, const struct sfs_lock_opts *opts);
/* gives nothing back (the server forgets a mount that leaves); safe twice */
void sfs_lock_destroy(struct sfs_fs *fs);

/*
 * Hold mode of the lock that covers range (named by range->start; every
 * user of one name must give the same range).  Waits for the server's
 * grant if this mount does not hold a mode that allows it (a granted
 * WRITE allows READ users).  Returns the lock with a user counted; 0,
 * -EINVAL, -ENOMEM, -ETIMEDOUT, -ESHUTDOWN, or the server's error.
 */
int sfs_lock_get(struct sfs_fs *fs, const struct sfs_item_range *range, uint8_t mode,
		 struct sfs_lock **lock_ret);
void sfs_lock_put(struct sfs_fs *fs, struct sfs_lock *lock, uint8_t mode);

/* what a holder knows of its lock */
const struct sfs_item_range *sfs_lock_range(const struct sfs_lock *lock);
/* items written under the lock need a seq above this */
uint64_t sfs_lock_write_seq(const struct sfs_lock *lock);
/*
 * The greatest write_seq this mount was granted: every item it writes
 * from then on gets at least this seq (sfs_trans_hold), whatever lock
 * covers it, so a mount's seqs never go backwards and a later writer's
 * versions sort after an earlier one's.
 */
uint64_t sfs_lock_max_write_seq(struct sfs_fs *fs);
/* a writer records the transaction it wrote under the lock in */
void sfs_lock_mark_written(struct sfs_lock *lock, uint64_t trans_seq);
uint64_t sfs_lock_written_seq(const struct sfs_lock *lock);
/* the mode this mount holds now (tests, diagnostics) */
uint8_t sfs_lock_mode(struct sfs_fs *fs, const struct scoutfs_key *name);

/*
 * The stable roots the server sent with the grant of the lock that
 * covers key, if this mount holds it in a mode that reads, it came with
 * roots, and gen (ops.roots_gen now) has not moved since: every write
 * under the lock is then in them or in this mount's item cache.  0 and
 * *roots set, or -ENOENT: ask the server.
 */
/* net handler (client.c): a new server asks for the locks held (LOCK_RECOVER) */
int sfs_lock_recover_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			     const void *data, uint32_t len, void *arg);

int sfs_lock_roots(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t gen,
		   struct scoutfs_net_roots *roots);

/*
 * The locks one operation needs.  They are taken in name order, so two
 * operations never wait for each other's locks in a cycle, and given
 * back together.  The same name added twice is taken once, in a mode
 * that allows both (READ and WRITE_ONLY together take WRITE).  Without
 * cluster locks (fs->locks not set up: a volume with one mount) get
 * takes nothing and succeeds.
 */
#define SFS_LOCK_SET_MAX 8
struct sfs_lock_set {
	unsigned int nr;
	struct sfs_lock_set_entry {
		struct sfs_item_range range;
		uint8_t mode;
		struct sfs_lock *lock;	/* held after get */
	} e[SFS_LOCK_SET_MAX];
};
void sfs_lock_set_init(struct sfs_lock_set *set);
/* -EINVAL for a bad mode, a name given with another range, or a full set */
int sfs_lock_set_add(struct sfs_lock_set *set, const struct sfs_item_range *range, uint8_t mode);
/* all of them or, on an error, none */
int sfs_lock_set_get(struct sfs_fs *fs, struct sfs_lock_set *set);
void sfs_lock_set_put(struct sfs_fs *fs, struct sfs_lock_set *set);
/* the held lock of the set whose range holds key, NULL if none */
struct sfs_lock *sfs_lock_set_find(const struct sfs_lock_set *set, const struct scoutfs_key *key);

/* the client's handler of the server's LOCK requests (invalidations) */
int sfs_lock_net_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			 const void *data, uint32_t len, void *arg);

#endif
