// SPDX-License-Identifier: GPL-2.0
/*
 * The server: the only writer of the super block, the shared btrees
 * (logs_root, mounted_clients, fs_root when merging) and the allocators.
 *
 * Model
 * -----
 * Requests arrive on net.c's event thread, which must not block, so the
 * handlers only queue them.  One worker thread takes everything queued,
 * applies it to the working copy of the super (and dirty blocks in the
 * server's writer), commits once for the whole batch and only then
 * answers every request in it: a response means the change is durable.
 *
 *   net thread: server_request() --queue--> worker: apply_op() x N
 *                                                   server_commit()
 *                                                   sfs_net_respond() x N
 *
 * A commit (server_commit) returns the blocks the previous commit freed
 * to the extent trees (they are durable now), refills the spare server
 * list, writes the dirty blocks, flushes, writes the meta super with its
 * seq incremented, flushes again, publishes the super as the stable copy
 * (what GET_ROOTS and STATFS answer from) and swaps the double-buffered
 * server lists (format-spec.md 9.5: server_meta_avail/freed[2]).
 *
 * Log merging (merge.c has the model, the request lifecycle and the
 * failure cases): GET_LOG_TREES and FAREWELL finalize log trees,
 * maybe_start_merge records a merge (STATUS, RANGE), GET_LOG_MERGE hands
 * out REQUESTs, COMMIT_LOG_MERGE records a COMPLETE and splices it into
 * fs_root in the same commit, finishing the merge once nothing is left.
 * Orphan log trees (unfinalized, their rid not mounted) are retired
 * before a merge may start and at server start (reclaim_orphan_trees).
 * Between batches the worker runs maintenance commits of its own (every
 * other turn under load) that free merged trees (FREEING items).
 * Internal ops (sfs_server_request_merge, sfs_server_reclaim_mount) go
 * through the same queue without a connection; their caller waits for
 * the commit.
 *
 * Data space: each mount allocates file data from its log tree's
 * data_avail, which GET_LOG_TREES refills (refill_data).  Every mount
 * gets a fair share of what is not allocated, so that one mount cannot
 * take a small volume's whole free space while another gets ENOSPC:
 *
 *   pool   = free blocks (data_alloc) + every live tree's data_avail
 *   target = min(client_data_target, max(pool / mounts, client_data_min))
 *
 * (mounts: the mounted_clients items).  Under target / 4 a mount is
 * refilled to target, from what is free.  A mount still under target / 4
 * afterwards is short, and that starts (or extends) a pressure episode
 * of DATA_PRESSURE_MS: every mount asking for a transaction meanwhile
 * gives back what it holds beyond target (without pressure, only what
 * is beyond twice target), and the short mount's request asks every
 * other mount to commit now (SYNC_LOG_TREES, data_sync_holder): once per
 * episode, and again whenever it holds more than target once more.
 * Their commits return what their open transactions freed (invisible
 * to the server until then) and their next GET_LOG_TREES the excess.
 * The short mount's data_avail is flagged LOW only when none of those
 * commits is still to come (answered, or DATA_SYNC_WAIT_MS passed):
 * then the volume is full as far as it goes (at most client_data_min
 * stays with each other mount).  Without LOW, trans.c waits a little and
 * asks again.  A transaction's freed data goes back at the mount's next
 * GET_LOG_TREES (invariant 3), where other mounts' refills find it.
 *
 * Data allocation zones (volume option data_alloc_zone_blocks): the
 * refill takes blocks first from zones this mount used at its last
 * refill that no other live tree used, then from zones no live tree
 * used, then anywhere; the zones of the data_avail it gets are recorded
 * in its log_trees item (data_alloc_zones, with the zone size).
 *
 * Open-inode map (OPEN_INO_MAP): asked by one mount, the server asks
 * every mount whose session it knows (mount_conns, from their greeting)
 * and answers the OR of their bitmaps, on the net thread, without the
 * worker.  An answer that cannot come (the session ended, the mount
 * left or was reclaimed) counts as an empty bitmap.  While mounts
 * recorded before this server started have not greeted it (absent),
 * requests wait: those mounts may have inodes open.
 *
 * Farewells (reference-scoutfs.md 3.5): a plain client's FAREWELL is
 * answered in the batch it came in.  A quorum member's is held while
 * answering it would leave fewer members mounted than an election needs
 * (the mounts that could elect the next server), so the last majority
 * leaves together: held farewells are answered while more than
 * votes_needed members remain, or all at once when every mount left is
 * a member asking to leave.  The worker looks again after every batch
 * (answer_farewells), since greetings, farewells and reclaims change
 * the mounts; a held farewell whose mount was reclaimed meanwhile is
 * answered too.  A stopping server drops what it holds: the clients
 * send them again to the next one.
 *
 * Idempotence: clients resend requests across reconnects and server
 * changes, so every handler recognises work already done: GET_LOG_TREES
 * returns the open transaction if there is one, COMMIT_LOG_TREES ignores
 * a transaction already committed (or finalized since), GREETING finds
 * an existing mounted_clients item, FAREWELL a missing one,
 * GET_LOG_MERGE returns the mount's outstanding request, and
 * COMMIT_LOG_MERGE ignores a request that no longer exists.
 *
 * Invariants
 * ----------
 *  1. Only the worker touches the working super, the lists and the writer.
 *  2. The stable super is only replaced after its commit is durable.
 *  3. A client's meta_freed list and data_freed tree go back to the
 *     allocators only when it asks for its next transaction, i.e. after
 *     the transaction that freed them was committed.  Blocks the durable
 *     state may still reference (merge bookkeeping) go on the server's
 *     freed list (release_list) and are reused a commit later.
 *  4. A failed commit leaves memory and disk apart: the server stops
 *     serving (every later request gets -EIO) and a new server must be
 *     started from the disk, as the reference does.  So does a change
 *     that fails half done (server->broken): it is never committed.
 *
 * Locking: server->lock protects the queue, stopping, failed, the
 * stable super, the mount sessions and the open-inode map requests; it
 * is never held across I/O or net calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "block.h"
#include "btree.h"
#include "counters.h"
#include "ctl.h"
#include "fence.h"
#include "lock_server.h"
#include "log.h"
#include "merge.h"
#include "net.h"
#include "quorum.h"
#include "server.h"
#include "srch.h"
#include "super.h"
#include "text.h"
#include "trigger.h"

#define OP_DATA_MAX 1024

/* how long a short mount makes the others give back data beyond their share */
#define DATA_PRESSURE_MS 10000
/* how long a mount asked to commit for data space is waited for */
#define DATA_SYNC_WAIT_MS 5000
#define DATA_FILL_MIN_DEF 2048ULL	/* 8 MiB: client_data_min's default */

/* internal ops, never on the wire: above every net cmd */
#define SFS_SERVER_OP_REQUEST_MERGE 0x8001
#define SFS_SERVER_OP_RECLAIM_MOUNT 0x8002

struct server_wait;

/* a FAREWELL the worker holds until its mount may leave */
struct farewell {
	struct farewell *next;
	struct sfs_net_conn *conn;	/* referenced */
	uint64_t req_id;
	uint64_t rid;
	bool logged;			/* its hold was logged */
	bool answer;			/* answer_farewells: goes now */
};

struct server_op {
	struct server_op *next;
	struct sfs_net_conn *conn;	/* NULL: an internal op, completed through wait */
	struct server_wait *wait;
	uint64_t req_id;
	uint64_t rid;
	uint16_t cmd;
	uint32_t len;
	int err;
	uint32_t resp_len;
	uint8_t req[OP_DATA_MAX];
	uint8_t resp[OP_DATA_MAX];
};

struct sfs_server {
	struct sfs_fs *fs;
	struct sfs_net *net;
	struct sfs_server_opts opts;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct server_op *queue;	/* lock */
	struct server_op **queue_tail;	/* lock */
	bool stopping;			/* lock */
	bool failed;			/* lock */
	struct scoutfs_super_block *stable; /* lock */
	pthread_t thread;
	bool thread_started;

	/* worker only */
	struct scoutfs_super_block *super;
	struct sfs_alloc_lists lists;
	int cur;			/* the server_meta_avail/freed pair in use */
	struct sfs_block_writer wri;
	bool dirty;
	bool broken;			/* a change failed half done: never commit it */
	bool merge_wanted;		/* finalize trees with items at their next chance */
	bool maint;			/* a maintenance commit (FREEING items) is due */
	struct farewell *farewells;	/* held FAREWELLs, in arrival order (server.c: Farewells) */

	/*
	 * Mounts recorded in mounted_clients when the server started that
	 * have not greeted it since (lock).  Once reconnect_ms passed, the
	 * ones still absent are taken as dead and reclaimed, so what they
	 * held (their data_avail above all) is not lost to the volume.
	 * Fencing them first is the failover work (issue 7) still to come.
	 */
	uint64_t *absent;		/* lock */
	size_t absent_nr;		/* lock */
	uint64_t *dead;			/* lock: absent ones known dead, reclaimed at once */
	size_t dead_nr;			/* lock */
	size_t dead_cap;		/* lock */
	/*
	 * Fencing (fence.c): the mounts with a fence request out, reclaimed
	 * once fenced (moved to dead), and how many of them are earlier
	 * leaders, which must be fenced before the worker commits anything.
	 */
	uint64_t *fencing;		/* lock */
	size_t fencing_nr;		/* lock */
	size_t leaders_fencing;		/* lock */
	struct timespec reclaim_at;	/* CLOCK_MONOTONIC */
	/*
	 * Mounts whose net session expired (their connection broke and
	 * they did not come back within the linger, recovery_window_ms):
	 * the worker has the ones still mounted fenced (client_reconnect).
	 */
	uint64_t *lost;			/* lock */
	size_t lost_nr;			/* lock */
	bool lost_retry;		/* lock: a request failed, look again in a second */

	/*
	 * Cluster locks (lock_server.c), served on the net thread.  seq_ctr
	 * is the server's seq counter, shared by next_seq (the worker) and
	 * lock write_seqs (any thread): atomic; super.seq catches up with it
	 * at each commit.  mount_conns: each mount's session, from its
	 * greeting (and its lock requests) until it leaves, for sending it
	 * invalidations, SYNC_LOG_TREES and OPEN_INO_MAP (lock).
	 */
	struct sfs_lock_server *locks;
	uint64_t seq_ctr;
	struct mount_conn {
		uint64_t rid;
		struct sfs_net_conn *conn;	/* referenced */
		uint64_t synced_seq;	/* its transaction when last sent SYNC_LOG_TREES */
		uint64_t synced_at;	/* and when (now_ms), 0: never */
		uint64_t nudged_seq;	/* its transaction when asked to commit for the stable seq */
		uint64_t pin_seq;	/* its open transaction a walk first found, and when */
		uint64_t pin_at;
	} *mount_conns;			/* lock */
	size_t mount_conns_nr;		/* lock */

	/* open-inode map requests (lock): waiting for absent mounts, gathering */
	struct omap_fan *omap_waiting;
	struct omap_fan *omap_running;
	uint64_t omap_next_id;

	/*
	 * worker: until when (now_ms) mounts give back data beyond their
	 * share, and since when that pressure lasts (its episode)
	 */
	uint64_t data_pressure_until;
	uint64_t data_pressure_since;
};

/* how the caller of an internal op waits for its commit */
struct server_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

/* ------------------------------------------------------------------ */
/* Allocation helpers                                                   */
/* ------------------------------------------------------------------ */

static uint64_t meta_free(const struct scoutfs_super_block *super)
{
	return le64toh(super->meta_alloc[0].total_len) + le64toh(super->meta_alloc[1].total_len);
}

/* allocate from the larger meta tree, free into the smaller */
static struct scoutfs_alloc_root *meta_source(struct scoutfs_super_block *super)
{
	return le64toh(super->meta_alloc[0].total_len) >= le64toh(super->meta_alloc[1].total_len) ?
		       &super->meta_alloc[0] :
		       &super->meta_alloc[1];
}

static struct scoutfs_alloc_root *meta_sink(struct scoutfs_super_block *super)
{
	return meta_source(super) == &super->meta_alloc[0] ? &super->meta_alloc[1] :
							     &super->meta_alloc[0];
}

/* fill a list to target from the meta trees, as far as they go */
static int fill_meta_list(struct sfs_server *server, struct scoutfs_alloc_list_head *head,
			  uint64_t target)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_alloc_root *src;
	uint64_t want;
	int ret = 0;

	while (!ret && le64toh(head->total_nr) < target && meta_free(super)) {
		src = meta_source(super);
		want = target - le64toh(head->total_nr);
		if (want > le64toh(src->total_len))
			want = le64toh(src->total_len);
		ret = sfs_alloc_fill_list(server->fs, &server->lists.alloc, &server->wri, head, src,
					  le64toh(head->total_nr) + want);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Items of the server's trees                                          */
/* ------------------------------------------------------------------ */

/* the greatest-nr log_trees item of a rid: 0, -ENOENT or an error */
static int find_log_trees(struct sfs_server *server, uint64_t rid, struct scoutfs_log_trees *lt)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_key key;
	bool found = false;
	int ret;

	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, rid, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(server->fs, &server->super->logs_root, &key, r)) == 0) {
		if (r->key.sk_zone != SCOUTFS_LOG_TREES_ZONE || le64toh(r->key.sklt_rid) != rid)
			break;
		if (r->val_len != sizeof(*lt)) {
			ret = -EIO;
			break;
		}
		memcpy(lt, r->val, sizeof(*lt));
		found = true;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	if (ret == -ENOENT || ret == 0)
		ret = found ? 0 : -ENOENT;
	return ret;
}

static int store_log_trees(struct sfs_server *server, const struct scoutfs_log_trees *lt)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, le64toh(lt->rid), 0,
					      le64toh(lt->nr), 0, 0);

	server->dirty = true;
	return sfs_btree_force(server->fs, &server->lists.alloc, &server->wri,
			       &server->super->logs_root, &key, 0, 0, lt, sizeof(*lt));
}

/* ------------------------------------------------------------------ */
/* Releasing blocks                                                     */
/* ------------------------------------------------------------------ */

/* the next value of the server's seq counter (persisted as super.seq) */
static uint64_t next_seq(struct sfs_server *server)
{
	uint64_t seq = __atomic_add_fetch(&server->seq_ctr, 1, __ATOMIC_SEQ_CST);

	server->super->seq = htole64(seq);
	server->dirty = true;
	return seq;
}

/*
 * Any thread: seqs handed out from now on (next_seq, lock write_seqs)
 * are above seq, one some mount's items carry.  A mount's items take
 * the greatest write_seq it was ever granted (trans.c), which can come
 * from an earlier server and from a lock it no longer holds: the lock
 * recovery does not report it, its commit does (max_item_seq), as do
 * the log trees a new server finds.  A later writer must not get less.
 */
static void seq_at_least(struct sfs_server *server, uint64_t seq)
{
	uint64_t cur = __atomic_load_n(&server->seq_ctr, __ATOMIC_SEQ_CST);

	while (seq > cur && !__atomic_compare_exchange_n(&server->seq_ctr, &cur, seq, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

struct blknos {
	uint64_t *v;
	size_t nr, cap;
	int err;
};

static void collect_blkno(void *arg, uint64_t blkno, bool list_block)
{
	struct blknos *b = arg;
	uint64_t *v;

	(void)list_block;
	if (b->err)
		return;
	if (b->nr == b->cap) {
		v = realloc(b->v, (b->cap ? b->cap * 2 : 1024) * sizeof(*v));
		if (!v) {
			b->err = -ENOMEM;
			return;
		}
		b->v = v;
		b->cap = b->cap ? b->cap * 2 : 1024;
	}
	b->v[b->nr++] = blkno;
}

/*
 * Put every entry of a list, and its list blocks, on the server's freed
 * list, leaving the head empty.  They are reused only after the commit
 * that made them unreferenced is durable (the next server commit empties
 * the previous one's freed list), so this is safe for lists whose blocks
 * the durable state still references (a REQUEST item's, a retired log
 * tree's, the old fs_root blocks on a COMPLETE's freed list).
 */
static int release_list(struct sfs_server *server, struct scoutfs_alloc_list_head *head)
{
	struct blknos b = { 0 };
	size_t i;
	int ret;

	ret = sfs_alloc_walk_list(server->fs, head, collect_blkno, &b);
	if (!ret)
		ret = b.err;
	for (i = 0; !ret && i < b.nr; i++)
		ret = sfs_free_meta(server->fs, &server->lists.alloc, &server->wri, b.v[i]);
	free(b.v);
	if (!ret)
		memset(head, 0, sizeof(*head));
	server->dirty = true;
	return ret;
}

/* a log tree's allocators back to the server: lists freed, data extents to data_alloc */
static int release_allocators(struct sfs_server *server, struct scoutfs_log_trees *lt)
{
	struct scoutfs_super_block *super = server->super;
	int ret;

	ret = release_list(server, &lt->meta_avail) ?: release_list(server, &lt->meta_freed);
	if (!ret)
		ret = sfs_alloc_move(server->fs, &server->lists.alloc, &server->wri,
				     &super->data_alloc, &lt->data_avail,
				     le64toh(lt->data_avail.total_len));
	if (!ret)
		ret = sfs_alloc_move(server->fs, &server->lists.alloc, &server->wri,
				     &super->data_alloc, &lt->data_freed,
				     le64toh(lt->data_freed.total_len));
	return ret;
}

/* ------------------------------------------------------------------ */
/* log_merge items                                                      */
/* ------------------------------------------------------------------ */

static struct scoutfs_key merge_key(uint8_t zone, uint64_t first, uint64_t second)
{
	return sfs_key_make(zone, first, 0, second, 0, 0);
}

/* a RANGE item's key: its start key with the zone replaced */
static struct scoutfs_key range_key(const struct scoutfs_key *start)
{
	struct scoutfs_key key = *start;

	key.sk_zone = SCOUTFS_LOG_MERGE_RANGE_ZONE;
	return key;
}

/* the first item of zone at or after *key: 0 (*key set), -ENOENT, or an error */
/*
 * The first item of root at or after *key in zone (and of type, unless
 * type is -1), its value exactly val_len bytes (else -EIO, logged as an
 * item of what): 0 with *key and val filled, -ENOENT, or an error.
 */
static int root_next(struct sfs_server *server, const struct scoutfs_btree_root *root,
		     const char *what, uint8_t zone, int type, struct scoutfs_key *key, void *val,
		     size_t val_len)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = sfs_btree_next(server->fs, root, key, r);
	if (!ret && (r->key.sk_zone != zone || (type >= 0 && r->key.sk_type != type)))
		ret = -ENOENT;
	if (!ret && r->val_len != val_len) {
		sfs_err(server->fs, "server: %s item %u.%u has %u bytes, expected %zu", what,
			r->key.sk_zone, r->key.sk_type, r->val_len, val_len);
		ret = -EIO;
	}
	if (!ret) {
		*key = r->key;
		memcpy(val, r->val, val_len);
	}
	free(r);
	return ret;
}

static int merge_next(struct sfs_server *server, uint8_t zone, struct scoutfs_key *key, void *val,
		      size_t val_len)
{
	return root_next(server, &server->super->log_merge, "log_merge", zone, -1, key, val,
			 val_len);
}

static int merge_store(struct sfs_server *server, const struct scoutfs_key *key, const void *val,
		       size_t val_len)
{
	server->dirty = true;
	return sfs_btree_force(server->fs, &server->lists.alloc, &server->wri,
			       &server->super->log_merge, key, 0, 0, val, (unsigned int)val_len);
}

static int merge_delete(struct sfs_server *server, const struct scoutfs_key *key)
{
	server->dirty = true;
	return sfs_btree_delete(server->fs, &server->lists.alloc, &server->wri,
				&server->super->log_merge, key);
}

static int get_status(struct sfs_server *server, struct scoutfs_log_merge_status *st)
{
	struct scoutfs_key key = merge_key(SCOUTFS_LOG_MERGE_STATUS_ZONE, 0, 0);

	return merge_next(server, SCOUTFS_LOG_MERGE_STATUS_ZONE, &key, st, sizeof(*st));
}

static int put_status(struct sfs_server *server, const struct scoutfs_log_merge_status *st)
{
	struct scoutfs_key key = merge_key(SCOUTFS_LOG_MERGE_STATUS_ZONE, 0, 0);

	return merge_store(server, &key, st, sizeof(*st));
}

static int add_range(struct sfs_server *server, const struct scoutfs_key *start,
		     const struct scoutfs_key *end)
{
	struct scoutfs_log_merge_range rng = { .start = *start, .end = *end };
	struct scoutfs_key key = range_key(start);

	return merge_store(server, &key, &rng, sizeof(rng));
}

/* is there any item of zone in log_merge? */
static int merge_zone_empty(struct sfs_server *server, uint8_t zone, bool *empty)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_key key = merge_key(zone, 0, 0);
	int ret;

	if (!r)
		return -ENOMEM;
	ret = sfs_btree_next(server->fs, &server->super->log_merge, &key, r);
	*empty = ret == -ENOENT || (!ret && r->key.sk_zone != zone);
	free(r);
	return ret == -ENOENT ? 0 : ret;
}

/* ------------------------------------------------------------------ */
/* Finalizing log trees                                                 */
/* ------------------------------------------------------------------ */

static bool lt_finalized(const struct scoutfs_log_trees *lt)
{
	return le64toh(lt->flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED;
}

static bool lt_open(const struct scoutfs_log_trees *lt)
{
	return le64toh(lt->get_trans_seq) > le64toh(lt->commit_trans_seq);
}

/* every log_trees item in key order; cb may change logs_root (we walk by key) */
typedef int (*lt_cb)(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg);

static int for_each_lt(struct sfs_server *server, lt_cb cb, void *arg)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	int ret;

	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(server->fs, &server->super->logs_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		if (r->val_len != sizeof(lt)) {
			ret = -EIO;
			break;
		}
		memcpy(&lt, r->val, sizeof(lt));
		key = r->key;
		sfs_key_inc(&key);
		ret = cb(server, &lt, arg);
		if (ret)
			break;
	}
	free(r);
	return ret == -ENOENT ? 0 : ret;
}

struct census {
	uint64_t trees;		/* log_trees items */
	uint64_t with_items;	/* ... whose item tree is not empty */
	uint64_t finalized;	/* ... FINALIZED */
	uint64_t active;	/* not finalized, with items */
};

static int census_cb(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg)
{
	struct census *c = arg;

	(void)server;
	c->trees++;
	if (lt->item_root.height)
		c->with_items++;
	if (lt_finalized(lt))
		c->finalized++;
	else if (lt->item_root.height)
		c->active++;
	return 0;
}

static int take_census(struct sfs_server *server, struct census *c)
{
	memset(c, 0, sizeof(*c));
	return for_each_lt(server, census_cb, c);
}

/* at start: the seq counter goes above every committed item's seq */
static int max_item_seq_cb(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg)
{
	(void)arg;
	seq_at_least(server, le64toh(lt->max_item_seq));
	return 0;
}

static int count_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		    const void *val, unsigned int val_len)
{
	(void)key, (void)seq, (void)flags, (void)val, (void)val_len;
	(*(uint64_t *)arg)++;
	return 0;
}

/* does the tree hold more than limit items?  Reads at most limit items' leaves. */
static int tree_over(struct sfs_server *server, const struct scoutfs_btree_root *root,
		     uint64_t limit, bool *over)
{
	struct scoutfs_key key, start, end;
	uint64_t nr = 0;
	int ret = 0;

	*over = false;
	sfs_key_set_zero(&key);
	while (root->height) {
		start = key;
		sfs_key_set_ones(&end);
		ret = sfs_btree_read_items(server->fs, root, &key, &start, &end, count_cb, &nr);
		if (ret || nr > limit || sfs_key_is_ones(&end))
			break;
		key = end;
		sfs_key_inc(&key);
	}
	*over = nr > limit;
	return ret;
}

/*
 * A mount's srch log file moves into srch_root as a LOG item (keyed by
 * its root blkno, format-spec.md 11.5) and its log_trees item starts a
 * new one: when the file reaches SFS_SRCH_LOG_ROTATE_BLOCKS at a commit
 * and when its tree is finalized or dropped (reference-scoutfs.md 5.7).
 * Searches read both places.  Forced: a resent change finds it there.
 */
static int rotate_srch_log(struct sfs_server *server, struct scoutfs_srch_file *sfl)
{
	struct scoutfs_key key;
	int ret;

	if (!sfl->ref.blkno)
		return 0;
	key = sfs_key_make(SCOUTFS_SRCH_ZONE, 0, SCOUTFS_SRCH_LOG_TYPE, le64toh(sfl->ref.blkno),
			   0, 0);
	server->dirty = true;
	ret = sfs_btree_force(server->fs, &server->lists.alloc, &server->wri,
			      &server->super->srch_root, &key, 0, 0, sfl, sizeof(*sfl));
	if (ret)
		return ret;
	sfs_debug(server->fs, "server: srch log file %llu of %llu blocks rotated",
		  (unsigned long long)le64toh(sfl->ref.blkno),
		  (unsigned long long)le64toh(sfl->blocks));
	memset(sfl, 0, sizeof(*sfl));
	sfs_inc(server->fs, srch_rotate_log);
	return 0;
}

/*
 * Finalize a committed log tree: the item stays with its items, bloom
 * block and inode count delta (its srch file goes to srch_root),
 * flagged FINALIZED with a new
 * finalize_seq, and the mount continues in item nr + 1 with the
 * allocators (lt becomes that item; both are stored).  Every transaction
 * the mount opens later gets a seq greater than finalize_seq.
 */
static int finalize_tree(struct sfs_server *server, struct scoutfs_log_trees *lt)
{
	struct scoutfs_log_trees fin = *lt;
	int ret;

	memset(&fin.meta_avail, 0, sizeof(fin.meta_avail));
	memset(&fin.meta_freed, 0, sizeof(fin.meta_freed));
	memset(&fin.data_avail, 0, sizeof(fin.data_avail));
	memset(&fin.data_freed, 0, sizeof(fin.data_freed));
	fin.flags = htole64(le64toh(fin.flags) | SCOUTFS_LOG_TREES_FLAG_FINALIZED);
	fin.finalize_seq = htole64(next_seq(server));
	ret = rotate_srch_log(server, &fin.srch_file) ?: store_log_trees(server, &fin);
	if (ret)
		return ret;

	memset(&lt->item_root, 0, sizeof(lt->item_root));
	memset(&lt->bloom_ref, 0, sizeof(lt->bloom_ref));
	memset(&lt->srch_file, 0, sizeof(lt->srch_file));
	lt->inode_count_delta = 0;
	lt->max_item_seq = 0;
	lt->finalize_seq = 0;
	lt->flags = 0;
	lt->nr = htole64(le64toh(lt->nr) + 1);
	sfs_inc(server->fs, log_merge_finalize);
	sfs_debug(server->fs, "server: finalized log tree %016llx.%llu at seq %llu",
		  (unsigned long long)le64toh(fin.rid), (unsigned long long)le64toh(fin.nr),
		  (unsigned long long)le64toh(fin.finalize_seq));
	return store_log_trees(server, lt);
}

/*
 * Should the committed tree of a mount asking for its next transaction
 * be finalized?  Not while a merge runs (like the reference: the running
 * merge's inputs are fixed); otherwise when a merge is wanted (asked
 * for, finalized trees wait, too many trees hold items), when the
 * mount's allocator is into the reserve, or when the tree is over the
 * item threshold.
 */
static int want_finalize(struct sfs_server *server, const struct scoutfs_log_trees *lt,
			 bool *want)
{
	struct scoutfs_log_merge_status st;
	struct census c;
	int ret;

	*want = false;
	if (!lt->item_root.height || lt_finalized(lt))
		return 0;
	ret = get_status(server, &st);
	if (ret != -ENOENT)
		return ret;
	ret = take_census(server, &c);
	if (ret)
		return ret;
	if (server->merge_wanted || c.finalized || c.with_items > server->opts.max_log_trees ||
	    (le32toh(lt->meta_avail.flags) & SCOUTFS_ALLOC_FLAG_LOW)) {
		*want = true;
		return 0;
	}
	return tree_over(server, &lt->item_root, server->opts.finalize_items, want);
}

static int finalize_idle_cb(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg)
{
	(void)arg;
	if (lt_finalized(lt) || lt_open(lt) || !lt->item_root.height)
		return 0;
	/* only the greatest nr of a rid is ever unfinalized */
	return finalize_tree(server, lt);
}

/*
 * The log tree of a mount that is gone (it left, was reclaimed, or is an
 * orphan): every allocator goes back and its srch file to srch_root; a
 * tree with items is finalized, to be merged, an empty one is dropped.
 * An open transaction is abandoned: the tree keeps what was committed,
 * and nothing durable references what the mount wrote since.
 */
static int retire_log_tree(struct sfs_server *server, struct scoutfs_log_trees *lt)
{
	struct scoutfs_key key;
	int ret;

	server->dirty = true;
	ret = release_allocators(server, lt) ?: rotate_srch_log(server, &lt->srch_file);
	if (ret)
		return ret;
	if (lt->item_root.height) {
		lt->flags = htole64(le64toh(lt->flags) | SCOUTFS_LOG_TREES_FLAG_FINALIZED);
		lt->finalize_seq = htole64(next_seq(server));
		sfs_inc(server->fs, log_merge_finalize);
		return store_log_trees(server, lt);
	}
	if (lt->bloom_ref.blkno) {
		ret = sfs_free_meta(server->fs, &server->lists.alloc, &server->wri,
				    le64toh(lt->bloom_ref.blkno));
		if (ret)
			return ret;
	}
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, le64toh(lt->rid), 0, le64toh(lt->nr), 0, 0);
	return sfs_btree_delete(server->fs, &server->lists.alloc, &server->wri,
				&server->super->logs_root, &key);
}

static int orphan_cb(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, le64toh(lt->rid), 0, 0,
					      0, 0);
	struct sfs_btree_item_ret *r;
	int ret;

	(void)arg;
	if (lt_finalized(lt))
		return 0;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = sfs_btree_lookup(server->fs, &server->super->mounted_clients, &key, r);
	free(r);
	if (ret != -ENOENT)
		return ret;
	sfs_warn(server->fs, "server: reclaiming the orphan log tree %016llx.%llu (%s, %s): its mount is gone",
		 (unsigned long long)le64toh(lt->rid), (unsigned long long)le64toh(lt->nr),
		 lt->item_root.height ? "with items" : "empty",
		 lt_open(lt) ? "a transaction open" : "committed");
	sfs_inc(server->fs, server_orphan_log_trees);
	return retire_log_tree(server, lt);
}

/*
 * Orphan log trees: unfinalized trees whose rid has no mounted_clients
 * item.  A mount's retirement finalizes (or drops) its tree in the
 * commit that deletes its mounted_clients item, so none should exist;
 * one that does (a server of another implementation or version that
 * failed half way through a reclaim; the reclaim_skip_finalize trigger)
 * would keep its allocators forever and, with items in an open
 * transaction, keep every merge from starting (merge.c invariant 2).
 * They are retired as their mount's retirement would have: finalized
 * (merged with the next merge) or dropped, allocators returned.  Run
 * before a merge may start and by maintenance (at server start).
 */
static int reclaim_orphan_trees(struct sfs_server *server)
{
	int ret = for_each_lt(server, orphan_cb, NULL);

	if (ret)
		server->broken = true;
	return ret;
}

/*
 * Start a merge if one is wanted and can start.  It can start when no
 * STATUS exists, some tree is finalized, and no unfinalized tree holds
 * items (the discontinuity rule of merge.c).  Trees with items that are
 * not in an open transaction are finalized here; open ones wait for
 * their mount's next GET_LOG_TREES, which finalizes them because a merge
 * is wanted.
 */
static int maybe_start_merge(struct sfs_server *server)
{
	struct scoutfs_log_merge_status st;
	struct scoutfs_key zero, ones;
	struct census c;
	int ret;

	ret = get_status(server, &st);
	if (ret != -ENOENT)
		return ret;
	ret = take_census(server, &c);
	if (ret)
		return ret;
	if (!server->merge_wanted && !c.finalized && c.with_items <= server->opts.max_log_trees)
		return 0;
	/* an orphan's open transaction would hold the merge off for good */
	ret = reclaim_orphan_trees(server) ?: take_census(server, &c);
	if (ret)
		goto broken;
	if (c.active) {
		ret = for_each_lt(server, finalize_idle_cb, NULL) ?: take_census(server, &c);
		if (ret)
			goto broken;
	}
	if (c.active || !c.finalized) {
		if (c.active)
			sfs_inc(server->fs, log_merge_wait_active);
		return 0;
	}

	sfs_key_set_zero(&zero);
	sfs_key_set_ones(&ones);
	memset(&st, 0, sizeof(st));
	st.seq = htole64(next_seq(server));
	ret = add_range(server, &zero, &ones) ?: put_status(server, &st);
	if (ret)
		goto broken;
	server->merge_wanted = false;
	sfs_inc(server->fs, log_merge_start);
	sfs_debug(server->fs, "server: log merge of %llu finalized trees started at seq %llu",
		  (unsigned long long)c.finalized, (unsigned long long)le64toh(st.seq));
	return 0;
broken:
	server->broken = true;
	return ret;
}

/* ------------------------------------------------------------------ */
/* Merge requests and completions                                       */
/* ------------------------------------------------------------------ */

/*
 * A request that will not complete (its mount left, it reported an
 * error, or fs_root moved under it): everything its allocator held goes
 * back (whatever the client wrote there is referenced by nothing
 * durable), its range is handed out again.
 */
static int reclaim_request(struct sfs_server *server, struct scoutfs_log_merge_request *req)
{
	struct scoutfs_log_merge_status st;
	struct scoutfs_key key = merge_key(SCOUTFS_LOG_MERGE_REQUEST_ZONE, le64toh(req->rid),
					   le64toh(req->seq));
	int ret;

	ret = get_status(server, &st);
	if (ret)
		return ret == -ENOENT ? -EIO : ret;
	ret = release_list(server, &req->meta_avail) ?: release_list(server, &req->meta_freed) ?:
	      add_range(server, &req->start, &req->end) ?: merge_delete(server, &key);
	if (ret)
		return ret;
	if (le64toh(st.nr_requests))
		st.nr_requests = htole64(le64toh(st.nr_requests) - 1);
	sfs_inc(server->fs, log_merge_reclaim);
	return put_status(server, &st);
}

static int reclaim_rid_requests(struct sfs_server *server, uint64_t rid)
{
	struct scoutfs_log_merge_request req;
	struct scoutfs_key key;
	int ret;

	for (;;) {
		key = merge_key(SCOUTFS_LOG_MERGE_REQUEST_ZONE, rid, 0);
		ret = merge_next(server, SCOUTFS_LOG_MERGE_REQUEST_ZONE, &key, &req, sizeof(req));
		if (ret == -ENOENT || (!ret && le64toh(key.sklmq_rid) != rid))
			return 0;
		if (ret)
			return ret;
		ret = reclaim_request(server, &req);
		if (ret)
			return ret;
	}
}

struct finish_args {
	uint64_t status_seq;
	uint64_t inputs;
};

/* a merged input: its items are in fs_root now; its blocks are freed later */
static int finish_input_cb(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg)
{
	struct finish_args *a = arg;
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_log_merge_freeing fr;
	struct scoutfs_key key;
	int64_t inodes;
	int ret;

	if (!lt_finalized(lt) || le64toh(lt->finalize_seq) >= a->status_seq)
		return 0;
	/* finalizing rotated it; a tree finalized without that keeps its entries */
	ret = rotate_srch_log(server, &lt->srch_file);
	if (ret)
		return ret;

	if (lt->item_root.height) {
		memset(&fr, 0, sizeof(fr));
		fr.root = lt->item_root;
		fr.key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, le64toh(lt->rid), 0, le64toh(lt->nr),
				      0, 0);
		fr.seq = htole64(next_seq(server));
		key = merge_key(SCOUTFS_LOG_MERGE_FREEING_ZONE, le64toh(fr.seq), 0);
		ret = merge_store(server, &key, &fr, sizeof(fr));
		if (ret)
			return ret;
	}
	if (lt->bloom_ref.blkno) {
		ret = sfs_free_meta(server->fs, &server->lists.alloc, &server->wri,
				    le64toh(lt->bloom_ref.blkno));
		if (ret)
			return ret;
	}
	ret = release_allocators(server, lt);
	if (ret)
		return ret;
	inodes = (int64_t)le64toh(super->inode_count) + (int64_t)le64toh(lt->inode_count_delta);
	super->inode_count = htole64(inodes < 0 ? 0 : (uint64_t)inodes);

	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, le64toh(lt->rid), 0, le64toh(lt->nr), 0, 0);
	ret = sfs_btree_delete(server->fs, &server->lists.alloc, &server->wri, &super->logs_root,
			       &key);
	if (ret)
		return ret;
	a->inputs++;
	return 0;
}

/*
 * Every range is merged and spliced: fs_root holds every input item.  In
 * the same commit the inputs leave logs_root (their item trees become
 * FREEING items, freed by a later commit) and STATUS goes.
 */
static int finish_merge(struct sfs_server *server, const struct scoutfs_log_merge_status *st)
{
	struct finish_args a = { .status_seq = le64toh(st->seq) };
	struct scoutfs_key key = merge_key(SCOUTFS_LOG_MERGE_STATUS_ZONE, 0, 0);
	int ret;

	ret = for_each_lt(server, finish_input_cb, &a) ?: merge_delete(server, &key);
	if (ret)
		return ret;
	server->maint = true;
	sfs_inc(server->fs, log_merge_complete);
	sfs_debug(server->fs, "server: log merge of seq %llu finished, %llu input trees merged",
		  (unsigned long long)le64toh(st->seq), (unsigned long long)a.inputs);
	return 0;
}

/*
 * Install every COMPLETE (there is at most one while requests cover all
 * of fs_root): its root becomes fs_root, the blocks it replaced and its
 * unused allocator are released, a REMAIN puts the rest of its range
 * back.  With no range, request or completion left, the merge finishes.
 */
static int splice_completions(struct sfs_server *server)
{
	struct scoutfs_log_merge_complete comp;
	struct scoutfs_log_merge_status st;
	struct scoutfs_key key;
	bool no_range, no_req;
	int ret;

	for (;;) {
		key = merge_key(SCOUTFS_LOG_MERGE_COMPLETE_ZONE, 0, 0);
		ret = merge_next(server, SCOUTFS_LOG_MERGE_COMPLETE_ZONE, &key, &comp,
				 sizeof(comp));
		if (ret == -ENOENT)
			break;
		if (ret)
			return ret;
		server->super->fs_root = comp.root;
		ret = release_list(server, &comp.meta_avail) ?:
		      release_list(server, &comp.meta_freed);
		if (!ret && (le64toh(comp.flags) & SCOUTFS_LOG_MERGE_COMP_REMAIN))
			ret = add_range(server, &comp.remain, &comp.end);
		if (!ret)
			ret = merge_delete(server, &key);
		if (ret)
			return ret;
		sfs_inc(server->fs, log_merge_splice);
	}

	ret = get_status(server, &st);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = merge_zone_empty(server, SCOUTFS_LOG_MERGE_RANGE_ZONE, &no_range) ?:
	      merge_zone_empty(server, SCOUTFS_LOG_MERGE_REQUEST_ZONE, &no_req);
	if (ret || !no_range || !no_req)
		return ret;
	return finish_merge(server, &st);
}

/* free the item trees of up to n FREEING items */
static int free_freeing(struct sfs_server *server, uint32_t n, bool *more)
{
	struct scoutfs_log_merge_freeing fr;
	struct scoutfs_key key;
	int ret = 0;

	*more = false;
	while (n--) {
		key = merge_key(SCOUTFS_LOG_MERGE_FREEING_ZONE, 0, 0);
		ret = merge_next(server, SCOUTFS_LOG_MERGE_FREEING_ZONE, &key, &fr, sizeof(fr));
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
		ret = sfs_btree_free_blocks(server->fs, &server->lists.alloc, &server->wri,
					    &fr.root) ?:
		      merge_delete(server, &key);
		if (ret)
			return ret;
		sfs_inc(server->fs, log_merge_freeing);
	}
	key = merge_key(SCOUTFS_LOG_MERGE_FREEING_ZONE, 0, 0);
	ret = merge_next(server, SCOUTFS_LOG_MERGE_FREEING_ZONE, &key, &fr, sizeof(fr));
	*more = ret == 0;
	return ret == -ENOENT ? 0 : ret;
}

/* ------------------------------------------------------------------ */
/* Data space: fair shares and zones (the header has the model)         */
/* ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t volume_zone_blocks(const struct scoutfs_super_block *super)
{
	if (!(le64toh(super->volopt.set_bits) & SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT))
		return 0;
	return le64toh(super->volopt.data_alloc_zone_blocks);
}

/* the zones of an item's bitmap (recorded with src_blocks zones) in zones of dst_blocks */
static void zones_from_item(uint64_t *dst, uint64_t dst_blocks, const __le64 *src,
			    uint64_t src_blocks)
{
	uint64_t z, w;

	if (!dst_blocks || !src_blocks)
		return;
	for (z = 0; z < SCOUTFS_DATA_ALLOC_MAX_ZONES; z++) {
		w = le64toh(src[z / 64]);
		if (!((w >> (z % 64)) & 1))
			continue;
		if (z && z * src_blocks / z != src_blocks)
			break;	/* past any device */
		sfs_alloc_zones_mark(dst, dst_blocks, z * src_blocks, src_blocks, true);
	}
}

/* what another mount's live tree holds */
struct data_holder {
	uint64_t rid;
	uint64_t avail;
	uint64_t trans_seq;
};

struct data_census {
	uint64_t self;			/* the rid being refilled: not counted */
	uint64_t zone_blocks;		/* 0: no zones wanted */
	struct data_holder *h;
	size_t nr, cap;
	uint64_t held;			/* the others' data_avail */
	uint64_t others[SCOUTFS_DATA_ALLOC_ZONE_LE64S]; /* zones the others use */
};

static int data_census_cb(struct sfs_server *server, struct scoutfs_log_trees *lt, void *arg)
{
	struct data_census *dc = arg;
	struct data_holder *h;

	(void)server;
	if (lt_finalized(lt) || le64toh(lt->rid) == dc->self)
		return 0;
	if (dc->nr == dc->cap) {
		h = realloc(dc->h, (dc->cap ? dc->cap * 2 : 8) * sizeof(*h));
		if (!h)
			return -ENOMEM;
		dc->h = h;
		dc->cap = dc->cap ? dc->cap * 2 : 8;
	}
	dc->h[dc->nr].rid = le64toh(lt->rid);
	dc->h[dc->nr].avail = le64toh(lt->data_avail.total_len);
	dc->h[dc->nr].trans_seq = le64toh(lt->get_trans_seq);
	dc->held += dc->h[dc->nr].avail;
	dc->nr++;
	zones_from_item(dc->others, dc->zone_blocks, lt->data_alloc_zones,
			le64toh(lt->data_alloc_zone_blocks));
	return 0;
}

static int count_mounts(struct sfs_server *server, uint64_t *nr)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_key key;
	int ret;

	if (!r)
		return -ENOMEM;
	*nr = 0;
	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(server->fs, &server->super->mounted_clients, &key, r)) ==
	       0) {
		(*nr)++;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	return ret == -ENOENT ? 0 : ret;
}

/* a mount's fill target for a pool of unallocated blocks among mounts */
static uint64_t data_target(const struct sfs_server *server, uint64_t pool, uint64_t mounts)
{
	uint64_t most = server->opts.client_data_target;
	uint64_t least = server->opts.client_data_min < most ? server->opts.client_data_min : most;
	uint64_t share = pool / (mounts ? mounts : 1) + (pool % (mounts ? mounts : 1) != 0);

	if (share < least)
		share = least;
	return share < most ? share : most;
}

/*
 * A mount is short of data: ask another (h) to commit now, which returns
 * what its open transaction freed and, under pressure, what it holds
 * beyond its share (target).  Each mount is asked once per pressure
 * episode, and again when it holds more than its share once more after
 * committing.  True while such a commit is still to come (for at most
 * DATA_SYNC_WAIT_MS): the short mount should wait rather than fail.
 */
static bool data_sync_holder(struct sfs_server *server, const struct data_holder *h,
			     uint64_t target, uint64_t now)
{
	struct sfs_net_conn *conn = NULL;
	struct mount_conn *mc = NULL;
	bool pending = false, this_episode;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->mount_conns_nr; i++) {
		if (server->mount_conns[i].rid == h->rid) {
			mc = &server->mount_conns[i];
			break;
		}
	}
	if (mc) {
		this_episode = mc->synced_at && mc->synced_at >= server->data_pressure_since;
		if (!this_episode || (h->avail > target && h->trans_seq != mc->synced_seq)) {
			mc->synced_seq = h->trans_seq;
			mc->synced_at = now;
			conn = mc->conn;
			sfs_net_conn_get(conn);
			pending = true;
		} else {
			pending = h->trans_seq == mc->synced_seq &&
				  now - mc->synced_at < DATA_SYNC_WAIT_MS;
		}
	}
	pthread_mutex_unlock(&server->lock);
	if (conn) {
		if (sfs_net_request(conn, SCOUTFS_NET_CMD_SYNC_LOG_TREES, NULL, 0, NULL, NULL) == 0)
			sfs_inc(server->fs, server_data_sync_sent);
		else
			pending = false;
		sfs_net_conn_put(conn);
	}
	return pending;
}

struct zone_rec {
	uint64_t zones[SCOUTFS_DATA_ALLOC_ZONE_LE64S];
	uint64_t zone_blocks;
};

static void zone_rec_cb(void *arg, uint64_t start, uint64_t len)
{
	struct zone_rec *zr = arg;

	sfs_alloc_zones_mark(zr->zones, zr->zone_blocks, start, len, true);
}

/* the zones of lt's data_avail into its item (none without the option) */
static int record_zones(struct sfs_server *server, struct scoutfs_log_trees *lt,
			uint64_t zone_blocks)
{
	struct zone_rec zr = { .zone_blocks = zone_blocks };
	int ret, i;

	memset(lt->data_alloc_zones, 0, sizeof(lt->data_alloc_zones));
	lt->data_alloc_zone_blocks = 0;
	if (!zone_blocks)
		return 0;
	ret = sfs_alloc_walk_extents(server->fs, &lt->data_avail, zone_rec_cb, &zr);
	if (ret)
		return ret;
	for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++)
		lt->data_alloc_zones[i] = htole64(zr.zones[i]);
	lt->data_alloc_zone_blocks = htole64(zone_blocks);
	return 0;
}

/*
 * The data_avail of a mount's next transaction (lt, its data_freed
 * already returned): given back down to its share, or refilled up to
 * it, preferring its zones; flagged LOW when it is short with nothing
 * to get back from other mounts.
 */
static int refill_data(struct sfs_server *server, struct scoutfs_log_trees *lt)
{
	struct scoutfs_super_block *super = server->super;
	struct data_census dc = { .self = le64toh(lt->rid),
				  .zone_blocks = volume_zone_blocks(super) };
	uint64_t own[SCOUTFS_DATA_ALLOC_ZONE_LE64S] = { 0 };
	uint64_t excl[SCOUTFS_DATA_ALLOC_ZONE_LE64S] = { 0 };
	uint64_t vacant[SCOUTFS_DATA_ALLOC_ZONE_LE64S] = { 0 };
	uint64_t have = le64toh(lt->data_avail.total_len);
	uint64_t free_blocks = le64toh(super->data_alloc.total_len);
	uint64_t mounts, pool, target, want, now = now_ms();
	bool pressure, is_short, pending = false;
	size_t i;
	int ret;

	ret = count_mounts(server, &mounts) ?: for_each_lt(server, data_census_cb, &dc);
	if (ret)
		goto out;
	pool = free_blocks + have + dc.held;
	target = data_target(server, pool, mounts);
	pressure = now < server->data_pressure_until;

	if (have > target && (pressure || have / 2 > target)) {
		ret = sfs_alloc_move(server->fs, &server->lists.alloc, &server->wri,
				     &super->data_alloc, &lt->data_avail, have - target);
		if (ret)
			goto out;
		sfs_inc(server->fs, server_data_reclaim);
		sfs_debug(server->fs, "server: mount %016llx gave back %llu data blocks beyond its share of %llu",
			  (unsigned long long)dc.self, (unsigned long long)(have - target),
			  (unsigned long long)target);
		have = target;
	} else if (have < target / 4 && free_blocks) {
		want = target - have < free_blocks ? target - have : free_blocks;
		if (dc.zone_blocks) {
			zones_from_item(own, dc.zone_blocks, lt->data_alloc_zones,
					le64toh(lt->data_alloc_zone_blocks));
			sfs_alloc_zones_mark(vacant, dc.zone_blocks, 0,
					     le64toh(super->total_data_blocks), true);
			for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++) {
				excl[i] = own[i] & ~dc.others[i];
				vacant[i] &= ~(own[i] | dc.others[i]);
			}
		}
		ret = sfs_alloc_move_zoned(server->fs, &server->lists.alloc, &server->wri,
					   &lt->data_avail, &super->data_alloc, want, dc.zone_blocks,
					   excl, vacant);
		if (ret)
			goto out;
		have += want;
	}

	is_short = have < target / 4;
	if (is_short) {
		sfs_inc(server->fs, server_data_short);
		if (!pressure)
			server->data_pressure_since = now;
		server->data_pressure_until = now + DATA_PRESSURE_MS;
		for (i = 0; i < dc.nr; i++)
			if (data_sync_holder(server, &dc.h[i], target, now))
				pending = true;
	}
	lt->data_avail.flags = htole32(is_short && !pending ? SCOUTFS_ALLOC_FLAG_LOW : 0);
	ret = record_zones(server, lt, dc.zone_blocks);
out:
	free(dc.h);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Request handlers, run by the worker                                  */
/* ------------------------------------------------------------------ */

/* the mounted_clients address of the client that sent op (zero if unknown) */
static void peer_addr(struct server_op *op, union scoutfs_inet_addr *addr)
{
	struct sockaddr_storage ss;

	memset(addr, 0, sizeof(*addr));
	if (!op->conn || sfs_net_conn_peer(op->conn, &ss))
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		addr->v4.family = htole16(SCOUTFS_AF_IPV4);
		addr->v4.port = htole16(ntohs(sin->sin_port));
		addr->v4.addr = htole32(ntohl(sin->sin_addr.s_addr));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

		addr->v6.family = htole16(SCOUTFS_AF_IPV6);
		addr->v6.port = htole16(ntohs(sin6->sin6_port));
		memcpy(addr->v6.addr, &sin6->sin6_addr, sizeof(addr->v6.addr));
	}
}

/* rid greeted this server: it is alive */
/* rid greeted: true if it was absent (mounted under an earlier server) */
static bool not_absent(struct sfs_server *server, uint64_t rid)
{
	bool was = false;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->absent_nr; i++) {
		if (server->absent[i] == rid) {
			server->absent[i] = server->absent[--server->absent_nr];
			was = true;
			break;
		}
	}
	pthread_mutex_unlock(&server->lock);
	return was;
}

/*
 * Lock recovery (reference-scoutfs.md 3.6): a mount that was mounted
 * under an earlier server tells this one, in batches in name order, the
 * locks it holds; the lock server grants nothing until every such mount
 * has, or has been reclaimed.  Runs on the net thread (the answers) and
 * the worker (the first request, from the greeting).
 */
struct lock_recover_ctx {
	struct sfs_server *server;
	struct sfs_net_conn *conn;	/* referenced */
	uint64_t rid;
	uint64_t nr;			/* locks recovered so far */
};

static void lock_recover_resp(void *arg, int err, const void *data, uint32_t len);

static int lock_recover_ask(struct lock_recover_ctx *rc, const struct scoutfs_key *from)
{
	return sfs_net_request(rc->conn, SCOUTFS_NET_CMD_LOCK_RECOVER, from, sizeof(*from),
			       lock_recover_resp, rc);
}

static void lock_recover_end(struct lock_recover_ctx *rc)
{
	sfs_net_conn_put(rc->conn);
	free(rc);
}

static void lock_recover_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct lock_recover_ctx *rc = arg;
	struct sfs_server *server = rc->server;
	const struct scoutfs_net_lock_recover *rec = data;
	struct scoutfs_key next;
	uint16_t nr, i;

	if (!err && (len < sizeof(*rec) ||
		     le16toh(rec->nr) > SCOUTFS_NET_LOCK_RECOVER_MAX_NR ||
		     len != sizeof(*rec) + le16toh(rec->nr) * sizeof(rec->locks[0])))
		err = -EIO;
	if (err || !server->locks) {
		/* the session ended: the mount's reclaim ends its recovery */
		sfs_warn(server->fs, "server: lock recovery of rid %016llx stopped: %s",
			 (unsigned long long)rc->rid, strerror(-err));
		lock_recover_end(rc);
		return;
	}
	nr = le16toh(rec->nr);
	for (i = 0; i < nr; i++) {
		/* write_seqs handed out later are above every recovered one */
		seq_at_least(server, le64toh(rec->locks[i].write_seq));
		if (sfs_lock_server_recover(server->locks, rc->rid, &rec->locks[i]))
			sfs_inc(server->fs, server_lock_recover_conflict);
	}
	rc->nr += nr;
	if (nr) {
		next = rec->locks[nr - 1].key;
		sfs_key_inc(&next);
		if (!lock_recover_ask(rc, &next))
			return;
		sfs_warn(server->fs, "server: lock recovery of rid %016llx: cannot ask for more",
			 (unsigned long long)rc->rid);
	}
	sfs_lock_server_recover_done(server->locks, rc->rid);
	sfs_info(server->fs, "server: rid %016llx recovered %llu locks, %zu mounts left to recover",
		 (unsigned long long)rc->rid, (unsigned long long)rc->nr,
		 sfs_lock_server_nr_recovering(server->locks));
	sfs_inc(server->fs, server_lock_recovery_done);
	lock_recover_end(rc);
}

static void lock_recover_start(struct sfs_server *server, uint64_t rid, struct sfs_net_conn *conn)
{
	struct lock_recover_ctx *rc = calloc(1, sizeof(*rc));
	struct scoutfs_key zero;

	if (!rc) {
		sfs_err(server->fs, "server: no memory to recover the locks of rid %016llx",
			(unsigned long long)rid);
		return;
	}
	rc->server = server;
	rc->rid = rid;
	sfs_net_conn_get(conn);
	rc->conn = conn;
	sfs_key_set_zero(&zero);
	sfs_info(server->fs, "server: greeting from rid %016llx, which was mounted under an earlier server: recovering its locks",
		 (unsigned long long)rid);
	sfs_inc(server->fs, server_lock_recovery_start);
	if (lock_recover_ask(rc, &zero)) {
		sfs_warn(server->fs, "server: cannot ask rid %016llx for its locks",
			 (unsigned long long)rid);
		lock_recover_end(rc);
	}
}

/* the absent mounts have reconnect_ms from now to recover */
static void reclaim_window_start(struct sfs_server *server)
{
	clock_gettime(CLOCK_MONOTONIC, &server->reclaim_at);
	server->reclaim_at.tv_sec += server->opts.reconnect_ms / 1000;
	server->reclaim_at.tv_nsec += (long)(server->opts.reconnect_ms % 1000) * 1000000;
	if (server->reclaim_at.tv_nsec >= 1000000000) {
		server->reclaim_at.tv_sec++;
		server->reclaim_at.tv_nsec -= 1000000000;
	}
}

/* at start: every mount the volume records is absent until it greets */
static int find_absent(struct sfs_server *server)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_key key;
	uint64_t *a;
	int ret;

	if (!r)
		return -ENOMEM;
	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(server->fs, &server->super->mounted_clients, &key, r)) == 0) {
		a = realloc(server->absent, (server->absent_nr + 1) * sizeof(*a));
		if (!a) {
			ret = -ENOMEM;
			break;
		}
		server->absent = a;
		server->absent[server->absent_nr++] = le64toh(r->key._sk_first);
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	reclaim_window_start(server);
	return ret == -ENOENT ? 0 : ret;
}

static bool reclaim_due(struct sfs_server *server)
{
	struct timespec now;

	if (!server->absent_nr)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > server->reclaim_at.tv_sec ||
	       (now.tv_sec == server->reclaim_at.tv_sec &&
		now.tv_nsec >= server->reclaim_at.tv_nsec);
}

static int retire_mount(struct sfs_server *server, uint64_t rid, const char *how);
static int cancel_rid_jobs(struct sfs_server *server, uint64_t rid);
static void mount_conn_set(struct sfs_server *server, uint64_t rid, struct sfs_net_conn *conn);
static void mount_conn_forget(struct sfs_server *server, uint64_t rid);
static void omap_start_waiting(struct sfs_server *server);

/* lock held: rid goes to reclaim (no longer absent or fencing) */
static int add_dead(struct sfs_server *server, uint64_t rid)
{
	uint64_t *d;
	size_t i;

	for (i = 0; i < server->absent_nr; i++) {
		if (server->absent[i] == rid) {
			server->absent[i] = server->absent[--server->absent_nr];
			break;
		}
	}
	for (i = 0; i < server->fencing_nr; i++) {
		if (server->fencing[i] == rid) {
			server->fencing[i] = server->fencing[--server->fencing_nr];
			break;
		}
	}
	for (i = 0; i < server->dead_nr; i++)
		if (server->dead[i] == rid)
			return 0;
	if (server->dead_nr == server->dead_cap) {
		d = realloc(server->dead, (server->dead_cap * 2 + 4) * sizeof(*d));
		if (!d)
			return -ENOMEM;
		server->dead = d;
		server->dead_cap = server->dead_cap * 2 + 4;
	}
	server->dead[server->dead_nr++] = rid;
	return 0;
}

/* rid has a fence request out, or waits for its reclaim */
static bool rid_fencing(struct sfs_server *server, uint64_t rid)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->fencing_nr && !found; i++)
		found = server->fencing[i] == rid;
	for (i = 0; i < server->dead_nr && !found; i++)
		found = server->dead[i] == rid;
	pthread_mutex_unlock(&server->lock);
	return found;
}

/* at start: the absent mounts known dead go to reclaim at once */
static int find_dead(struct sfs_server *server, const uint64_t *rids, size_t nr)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; i < nr && !ret; i++) {
		for (j = 0; j < server->absent_nr; j++) {
			if (server->absent[j] == rids[i]) {
				ret = add_dead(server, rids[i]);
				break;
			}
		}
	}
	return ret;
}

static void server_fail(struct sfs_server *server);

/*
 * fence.c, on its thread: a fence request was answered.  Fenced: the
 * mount can no longer write, and the worker reclaims it.  Not fenced (an
 * agent failed, or nobody answered): what the mount held is never taken
 * back before it is fenced.  In a cluster this server stops, as the
 * reference's does, and the next leader (perhaps on another host, with
 * a fence agent that works) asks again; alone, it asks again itself.
 */
static bool server_fence_done(void *arg, uint64_t rid, enum sfs_fence_reason reason, bool fenced)
{
	struct sfs_server *server = arg;
	int ret;
	bool stopping;

	pthread_mutex_lock(&server->lock);
	stopping = server->stopping;
	if (!fenced || stopping) {
		pthread_mutex_unlock(&server->lock);
		if (fenced || stopping)
			return false;
		sfs_err(server->fs, "server: rid %016llx was not fenced (%s): %s; what it held stays until it is",
			(unsigned long long)rid, sfs_fence_reason_name(reason),
			server->opts.failed ? "this server stops for the next leader to try" :
					      "asking again");
		if (!server->opts.failed)
			return true;
		server_fail(server);
		return false;
	}
	if (reason == SFS_FENCE_QUORUM_BLOCK_LEADER && server->leaders_fencing)
		server->leaders_fencing--;
	ret = add_dead(server, rid);
	pthread_cond_broadcast(&server->cond);
	pthread_mutex_unlock(&server->lock);
	if (ret)
		sfs_err(server->fs, "server: no memory to reclaim the fenced rid %016llx",
			(unsigned long long)rid);
	return false;
}

/* lock held: ask for rid to be fenced (a request already out counts): 0 or -errno */
static int fence_rid(struct sfs_server *server, uint64_t rid, const char *addr,
		     enum sfs_fence_reason reason)
{
	uint64_t *f;
	int ret;

	f = realloc(server->fencing, (server->fencing_nr + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	server->fencing = f;
	ret = sfs_fence_request(server->fs, rid, addr, reason);
	if (ret == -EEXIST)
		return 0;
	if (ret) {
		sfs_err(server->fs, "server: cannot ask for rid %016llx to be fenced: %s",
			(unsigned long long)rid, strerror(-ret));
		return ret;
	}
	server->fencing[server->fencing_nr++] = rid;
	return 0;
}

/* lock held: wait up to ms on the worker's cond (CLOCK_MONOTONIC) */
static void cond_wait_ms(struct sfs_server *server, unsigned int ms)
{
	struct timespec at;

	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_sec += ms / 1000;
	at.tv_nsec += (long)(ms % 1000) * 1000000;
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&server->cond, &server->lock, &at);
}

/*
 * worker, first: fence the earlier leaders that may still run, and wait
 * until they are (a request that cannot be made is tried again every
 * second): nothing is committed while one of them might still write.
 */
static void fence_leaders(struct sfs_server *server)
{
	size_t i, asked = 0;

	if (!server->opts.nr_fence_leaders)
		return;
	pthread_mutex_lock(&server->lock);
	server->leaders_fencing = server->opts.nr_fence_leaders;
	sfs_info(server->fs, "server: waiting for %zu earlier leaders to be fenced before anything is committed",
		 server->leaders_fencing);
	while (server->leaders_fencing && !server->stopping) {
		for (i = asked; i < server->opts.nr_fence_leaders; i++) {
			if (fence_rid(server, server->opts.fence_leaders[i].rid,
				      server->opts.fence_leaders[i].addr,
				      SFS_FENCE_QUORUM_BLOCK_LEADER))
				break;
			asked = i + 1;
		}
		cond_wait_ms(server, 1000);
	}
	pthread_mutex_unlock(&server->lock);
}

/* worker: reclaim the mounts known dead */
static int reclaim_dead(struct sfs_server *server)
{
	uint64_t rid;
	int ret = 0;

	for (;;) {
		pthread_mutex_lock(&server->lock);
		if (!server->dead_nr) {
			pthread_mutex_unlock(&server->lock);
			break;
		}
		rid = server->dead[--server->dead_nr];
		pthread_mutex_unlock(&server->lock);
		ret = retire_mount(server, rid, "is dead (fenced, or this slot's earlier leader): reclaimed");
		if (ret)
			break;
	}
	omap_start_waiting(server);
	return ret;
}

/*
 * net thread: a mount's session expired.  It may have left (its
 * farewell processed), which the worker finds out: fencing is a
 * worker's job, with the tree at hand.
 */
static void server_session_expired(struct sfs_net_conn *conn, void *arg)
{
	struct sfs_server *server = arg;
	uint64_t rid = sfs_net_conn_session_id(conn);
	uint64_t *l;

	pthread_mutex_lock(&server->lock);
	l = realloc(server->lost, (server->lost_nr + 1) * sizeof(*l));
	if (l) {
		server->lost = l;
		server->lost[server->lost_nr++] = rid;
		pthread_cond_broadcast(&server->cond);
	}
	pthread_mutex_unlock(&server->lock);
	if (!l)
		sfs_err(server->fs, "server: no memory to note that rid %016llx is gone",
			(unsigned long long)rid);
}

static void mount_addr(struct sfs_server *server, uint64_t rid, char *buf, size_t len);

/*
 * worker: the mounts whose session expired and that are still mounted
 * are fenced (client_reconnect); server_fence_done has them reclaimed.
 * One that left, is being fenced already, or greeted again on a new
 * session meanwhile is not.  A request that cannot be made is tried
 * again at the next pass.
 */
static void fence_lost(struct sfs_server *server)
{
	struct scoutfs_key key;
	struct sfs_btree_item_ret *r;
	char addr[64];
	uint64_t rid;
	int ret;

	for (;;) {
		pthread_mutex_lock(&server->lock);
		if (!server->lost_nr) {
			pthread_mutex_unlock(&server->lock);
			return;
		}
		rid = server->lost[--server->lost_nr];
		pthread_mutex_unlock(&server->lock);

		key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, rid, 0, 0, 0, 0);
		r = malloc(sizeof(*r));
		ret = r ? sfs_btree_lookup(server->fs, &server->super->mounted_clients, &key, r) :
			  -ENOMEM;
		free(r);
		if (ret == -ENOENT || rid_fencing(server, rid) ||
		    sfs_net_session_live(server->net, rid))
			continue;
		mount_addr(server, rid, addr, sizeof(addr));
		pthread_mutex_lock(&server->lock);
		if (!ret) {
			sfs_warn(server->fs, "server: mount rid %016llx did not reconnect within %u ms",
				 (unsigned long long)rid, server->opts.linger_ms);
			sfs_inc(server->fs, server_reconnect_fence);
			ret = fence_rid(server, rid, addr, SFS_FENCE_CLIENT_RECONNECT);
		}
		if (ret) {
			/* put back for the next pass, a second from now */
			server->lost[server->lost_nr++] = rid;
			server->lost_retry = true;
			pthread_mutex_unlock(&server->lock);
			sfs_err(server->fs, "server: cannot have rid %016llx fenced yet: %s",
				(unsigned long long)rid, strerror(-ret));
			return;
		}
		pthread_mutex_unlock(&server->lock);
	}
}

/* worker: a mount's last address, from its mounted_clients item ("" if none) */
static void mount_addr(struct sfs_server *server, uint64_t rid, char *buf, size_t len)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_mounted_client_btree_val mcv;
	struct scoutfs_key key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, rid, 0, 0, 0, 0);

	buf[0] = 0;
	if (r && sfs_btree_lookup(server->fs, &server->super->mounted_clients, &key, r) == 0 &&
	    r->val_len == sizeof(mcv)) {
		memcpy(&mcv, r->val, sizeof(mcv));
		sfs_text_inet_ip(buf, len, &mcv.addr);
	}
	free(r);
}

/*
 * worker: the mounts that did not come back in time are fenced
 * (client_recovery); server_fence_done has them reclaimed once they are.
 * A request that cannot be made is tried again a second later: nothing
 * a mount held is taken back before it is fenced.
 */
static int reclaim_absent(struct sfs_server *server)
{
	char addr[64];
	uint64_t rid;
	size_t i, j, nr;
	int ret = 0;

	pthread_mutex_lock(&server->lock);
	nr = server->absent_nr;
	pthread_mutex_unlock(&server->lock);
	if (nr) {
		sfs_warn(server->fs, "server: the recovery window of %u ms expired: %zu mounts did not recover",
			 server->opts.reconnect_ms, nr);
		sfs_inc(server->fs, server_recovery_expired);
	}
	for (i = 0; i < nr; i++) {
		pthread_mutex_lock(&server->lock);
		if (!server->absent_nr) {
			pthread_mutex_unlock(&server->lock);
			break;
		}
		rid = server->absent[server->absent_nr - 1];
		pthread_mutex_unlock(&server->lock);
		mount_addr(server, rid, addr, sizeof(addr));
		sfs_warn(server->fs, "server: mount rid %016llx did not recover its locks within %u ms",
			 (unsigned long long)rid, server->opts.reconnect_ms);
		pthread_mutex_lock(&server->lock);
		for (j = 0; j < server->absent_nr && server->absent[j] != rid; j++)
			;
		if (j == server->absent_nr) {
			/* it greeted meanwhile */
			pthread_mutex_unlock(&server->lock);
			continue;
		}
		ret = fence_rid(server, rid, addr, SFS_FENCE_CLIENT_RECOVERY);
		if (!ret) {
			server->absent[j] = server->absent[--server->absent_nr];
		} else {
			clock_gettime(CLOCK_MONOTONIC, &server->reclaim_at);
			server->reclaim_at.tv_sec += 1;
		}
		pthread_mutex_unlock(&server->lock);
		if (ret)
			break;
	}
	omap_start_waiting(server);
	return 0;
}

static int op_greeting(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_net_greeting *g = (void *)op->req;
	struct scoutfs_net_greeting *resp = (void *)op->resp;
	struct scoutfs_mounted_client_btree_val mcv;
	struct sfs_btree_item_ret *r;
	struct scoutfs_key key;
	bool was_absent;
	int ret;

	if (op->len != sizeof(*g))
		return -EINVAL;
	if (g->fsid != super->hdr.fsid || g->fmt_vers != super->fmt_vers) {
		sfs_err(server->fs, "server: greeting from rid %016llx for fsid %016llx format %llu refused",
			(unsigned long long)le64toh(g->rid), (unsigned long long)le64toh(g->fsid),
			(unsigned long long)le64toh(g->fmt_vers));
		return -EINVAL;
	}
	if (le64toh(g->rid) != op->rid)
		return -EINVAL;
	/* too late: it is being fenced, or was, and is about to be reclaimed */
	if (rid_fencing(server, op->rid)) {
		sfs_warn(server->fs, "server: rid %016llx greeted while it is being fenced: refused",
			 (unsigned long long)op->rid);
		sfs_inc(server->fs, server_greeting_reclaimed);
		return -ENOLINK;
	}
	/* its session first: an open-inode map request asks it once no mount is absent */
	if (op->conn)
		mount_conn_set(server, op->rid, op->conn);
	was_absent = not_absent(server, op->rid);
	omap_start_waiting(server);

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, op->rid, 0, 0, 0, 0);
	ret = sfs_btree_lookup(server->fs, &super->mounted_clients, &key, r);
	free(r);
	if (ret == -ENOENT && g->server_term) {
		/* it was mounted under an earlier server and was reclaimed since */
		sfs_warn(server->fs, "server: rid %016llx greeted again after it was reclaimed: refused",
			 (unsigned long long)op->rid);
		sfs_inc(server->fs, server_greeting_reclaimed);
		return -ENOLINK;
	}
	if (ret == -ENOENT) {
		memset(&mcv, 0, sizeof(mcv));
		peer_addr(op, &mcv.addr);
		if (le64toh(g->flags) & SCOUTFS_NET_GREETING_FLAG_QUORUM)
			mcv.flags = SCOUTFS_MOUNTED_CLIENT_QUORUM;
		server->dirty = true;
		ret = sfs_btree_insert(server->fs, &server->lists.alloc, &server->wri,
				       &super->mounted_clients, &key, 0, 0, &mcv, sizeof(mcv));
		if (ret) {
			/* a btree write error may leave blocks half changed */
			server->broken = true;
			return ret;
		}
		sfs_info(server->fs, "server: mount rid %016llx joined", (unsigned long long)op->rid);
	}
	if (ret)
		return ret;

	*resp = *g;
	resp->server_term = htole64(server->opts.term);
	op->resp_len = sizeof(*resp);
	if (was_absent && server->locks && op->conn)
		lock_recover_start(server, op->rid, op->conn);
	else if (g->server_term && server->locks)
		/* back on a new session of this same server */
		sfs_lock_server_reconnected(server->locks, op->rid);
	return 0;
}

/*
 * A mount is gone: a clean unmount (FAREWELL), or one known dead
 * (sfs_server_reclaim_mount).  Its current log tree is finalized (or
 * dropped if it holds no items) with every allocator returned -- an open
 * transaction is abandoned, its tree keeps what was committed -- its
 * outstanding merge request is handed back, and the mounted_clients item
 * goes last, so a resend finds it gone and does nothing.
 */
static int retire_mount(struct sfs_server *server, uint64_t rid, const char *how)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, rid, 0, 0, 0, 0);
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	int ret;

	if (!r)
		return -ENOMEM;
	ret = sfs_btree_lookup(server->fs, &server->super->mounted_clients, &key, r);
	free(r);
	if (ret == -ENOENT)
		return 0;	/* a resent farewell */
	if (ret)
		return ret;

	ret = find_log_trees(server, rid, &lt);
	if (ret == 0 && !lt_finalized(&lt)) {
		if (sfs_trigger_fired(server->fs, SFS_TRIGGER_RECLAIM_SKIP_FINALIZE))
			/* tests: an orphan log tree (reclaim_orphan_trees) */
			sfs_info(server->fs, "server: the log tree of rid %016llx is left as it is (trigger reclaim_skip_finalize)",
				 (unsigned long long)rid);
		else
			ret = retire_log_tree(server, &lt);
	} else if (ret == -ENOENT) {
		ret = 0;
	}
	if (!ret)
		ret = reclaim_rid_requests(server, rid) ?: cancel_rid_jobs(server, rid) ?:
		      maybe_start_merge(server);

	server->dirty = true;
	if (!ret)
		ret = sfs_btree_delete(server->fs, &server->lists.alloc, &server->wri,
				       &server->super->mounted_clients, &key);
	if (ret) {
		server->broken = true;
		return ret;
	}
	if (server->locks)
		sfs_lock_server_farewell(server->locks, rid);
	mount_conn_forget(server, rid);
	sfs_info(server->fs, "server: mount rid %016llx %s", (unsigned long long)rid, how);
	return 0;
}

/*
 * The mount leaves: answer_farewells decides when (server.c: Farewells).
 * The request moves to the held list with its conn reference, and the
 * op completes without an answer.  A farewell sent again on a new
 * session replaces the one held for the old session.
 */
static int op_farewell(struct sfs_server *server, struct server_op *op)
{
	struct farewell *fw, *old, **pos;

	if (op->len != 0)
		return -EINVAL;
	if (!op->conn)
		return retire_mount(server, op->rid, "left");
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	for (pos = &server->farewells; *pos; pos = &(*pos)->next) {
		if ((*pos)->rid == op->rid) {
			old = *pos;
			*pos = old->next;
			fw->logged = old->logged;
			sfs_net_conn_put(old->conn);
			free(old);
			break;
		}
	}
	for (pos = &server->farewells; *pos; pos = &(*pos)->next)
		;
	fw->conn = op->conn;
	fw->req_id = op->req_id;
	fw->rid = op->rid;
	*pos = fw;
	op->conn = NULL;
	return 0;
}

/*
 * worker, after each batch: answer the held farewells that may go now
 * (server.c: Farewells, the reference's farewell_worker).  Each one
 * answered retires its mount and joins the batch, so that it is
 * answered once that is committed.  A mount without a mounted_clients
 * item left already (a resend) or was reclaimed: answered as it is.
 */
static int answer_farewells(struct sfs_server *server, struct server_op **batch)
{
	struct scoutfs_mounted_client_btree_val mcv;
	uint64_t quo_mnts = 0, others = 0, quo_reqs = 0;
	struct sfs_btree_item_ret *r;
	struct farewell *fw, **pos;
	struct scoutfs_key key;
	struct server_op *op;
	uint64_t votes;
	int ret;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(server->fs, &server->super->mounted_clients, &key, r)) == 0) {
		memset(&mcv, 0, sizeof(mcv));
		memcpy(&mcv, r->val, r->val_len < sizeof(mcv) ? r->val_len : sizeof(mcv));
		if (mcv.flags & SCOUTFS_MOUNTED_CLIENT_QUORUM)
			quo_mnts++;
		else
			others++;
		key = r->key;
		sfs_key_inc(&key);
	}
	if (ret != -ENOENT)
		goto out;

	/* plain clients and mounts already gone go at once; count the members asking */
	for (fw = server->farewells; fw; fw = fw->next) {
		fw->answer = false;
		key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, fw->rid, 0, 0, 0, 0);
		ret = sfs_btree_lookup(server->fs, &server->super->mounted_clients, &key, r);
		if (ret == -ENOENT) {
			fw->answer = true;
			continue;
		}
		if (ret)
			goto out;
		memset(&mcv, 0, sizeof(mcv));
		memcpy(&mcv, r->val, r->val_len < sizeof(mcv) ? r->val_len : sizeof(mcv));
		if (mcv.flags & SCOUTFS_MOUNTED_CLIENT_QUORUM) {
			quo_reqs++;
		} else {
			fw->answer = true;
			others--;
		}
	}

	/* members go while enough stay for an election, or the last ones all together */
	votes = (uint64_t)sfs_quorum_votes_needed(&server->super->qconf);
	for (fw = server->farewells; fw; fw = fw->next) {
		if (fw->answer)
			continue;
		if (quo_mnts > votes || (quo_reqs == quo_mnts && others == 0)) {
			fw->answer = true;
			quo_mnts--;
			quo_reqs--;
		} else if (!fw->logged) {
			sfs_info(server->fs, "server: holding the farewell of quorum member rid %016llx: %llu members and %llu other mounts are mounted, an election needs %llu; it is answered once more stay or when all the mounts left are members leaving",
				 (unsigned long long)fw->rid, (unsigned long long)quo_mnts,
				 (unsigned long long)others, (unsigned long long)votes);
			sfs_inc(server->fs, server_farewell_held);
			fw->logged = true;
		}
	}

	ret = 0;
	pos = &server->farewells;
	while ((fw = *pos)) {
		if (!fw->answer) {
			pos = &fw->next;
			continue;
		}
		/* no memory: it stays held, and is looked at again after the next batch */
		op = calloc(1, sizeof(*op));
		if (!op) {
			fw->answer = false;
			pos = &fw->next;
			continue;
		}
		ret = retire_mount(server, fw->rid, "left");
		if (ret) {
			free(op);
			break;
		}
		if (fw->logged)
			sfs_info(server->fs, "server: the held farewell of rid %016llx is answered",
				 (unsigned long long)fw->rid);
		if (sfs_trigger_fired(server->fs, SFS_TRIGGER_FAREWELL_DROP_ANSWER)) {
			sfs_info(server->fs, "server: the answer to the farewell of rid %016llx is not sent (trigger farewell_drop_answer)",
				 (unsigned long long)fw->rid);
			sfs_net_conn_put(fw->conn);
			fw->conn = NULL;
		}
		op->conn = fw->conn;
		op->req_id = fw->req_id;
		op->rid = fw->rid;
		op->cmd = SCOUTFS_NET_CMD_FAREWELL;
		op->next = *batch;
		*batch = op;
		*pos = fw->next;
		free(fw);
	}
out:
	free(r);
	return ret;
}

static int op_alloc_inodes(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_net_inode_alloc *ia = (void *)op->resp;
	uint64_t count, next = le64toh(super->next_ino);

	if (op->len != sizeof(__le64))
		return -EINVAL;
	memcpy(&count, op->req, sizeof(count));
	count = le64toh(count);
	if (count > UINT64_MAX - next)
		count = UINT64_MAX - next;
	ia->ino = htole64(next);
	ia->nr = htole64(count);
	super->next_ino = htole64(next + count);
	server->dirty = true;
	op->resp_len = sizeof(*ia);
	return 0;
}

/*
 * Open a client's next transaction: return what its last one freed,
 * refill what it allocates from, and hand out a new seq.  A transaction
 * already open (a resend) is returned as it is.
 */
/* 0 if rid is in mounted_clients; -ENOTCONN (logged) if it left or was reclaimed */
static int is_mounted(struct sfs_server *server, uint64_t rid)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, rid, 0, 0, 0, 0);
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = sfs_btree_lookup(server->fs, &server->super->mounted_clients, &key, r);
	free(r);
	if (ret == -ENOENT) {
		sfs_warn(server->fs, "server: rid %016llx is not mounted (it left or was reclaimed): request refused",
			 (unsigned long long)rid);
		ret = -ENOTCONN;
	}
	return ret;
}

static int op_get_log_trees(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_log_trees lt;
	uint32_t low;
	bool fin;
	int ret;

	/* only a mount that greeted and has not left gets a transaction */
	ret = is_mounted(server, op->rid);
	if (ret)
		return ret;
	ret = find_log_trees(server, op->rid, &lt);
	if (ret == -ENOENT) {
		memset(&lt, 0, sizeof(lt));
		lt.rid = htole64(op->rid);
		lt.nr = htole64(1);
		ret = 0;
	} else if (ret == 0 && lt_finalized(&lt)) {
		/*
		 * The rid's last tree was finalized when it left (an open
		 * transaction abandoned with it) and the rid mounts again:
		 * its transactions go to a new tree.
		 */
		uint64_t nr = le64toh(lt.nr) + 1;

		memset(&lt, 0, sizeof(lt));
		lt.rid = htole64(op->rid);
		lt.nr = htole64(nr);
	}
	if (ret)
		return ret;

	if (lt_open(&lt))
		goto out;

	/* a merge wants this tree, or it is big: later items go to a new one */
	ret = want_finalize(server, &lt, &fin);
	if (ret)
		return ret;
	if (fin) {
		ret = finalize_tree(server, &lt);
		if (ret)
			goto broken;
	}

	/* the committed transaction's frees are durable: give them back */
	ret = sfs_alloc_empty_list(server->fs, &server->lists.alloc, &server->wri, meta_sink(super),
				   &lt.meta_freed);
	if (!ret)
		ret = sfs_alloc_move(server->fs, &server->lists.alloc, &server->wri,
				     &super->data_alloc, &lt.data_freed,
				     le64toh(lt.data_freed.total_len));
	if (!ret && le64toh(lt.meta_avail.total_nr) < server->opts.client_meta_target / 2)
		ret = fill_meta_list(server, &lt.meta_avail, server->opts.client_meta_target);
	if (!ret)
		ret = refill_data(server, &lt);
	if (ret)
		goto broken;

	/* into the reserve: the client stops growing metadata */
	low = meta_free(super) <= server->opts.meta_reserve ? SCOUTFS_ALLOC_FLAG_LOW : 0;
	lt.meta_avail.flags = htole32(low);
	/*
	 * Deletions are items too until a merge applies them to fs_root and
	 * frees what they replace: with metadata low, merge now.
	 */
	if (low)
		server->merge_wanted = true;

	lt.get_trans_seq = htole64(next_seq(server));
	ret = store_log_trees(server, &lt) ?: maybe_start_merge(server);
	if (ret)
		goto broken;
out:
	memcpy(op->resp, &lt, sizeof(lt));
	op->resp_len = sizeof(lt);
	return 0;
broken:
	server->broken = true;
	return ret;
}

static int op_commit_log_trees(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_log_trees *in = (void *)op->req;
	struct scoutfs_log_trees lt;
	int ret;

	if (op->len != sizeof(*in) || le64toh(in->rid) != op->rid)
		return -EINVAL;
	/* its items' seqs, from write_seqs of any server: later ones go above */
	seq_at_least(server, le64toh(in->max_item_seq));
	ret = find_log_trees(server, op->rid, &lt);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (le64toh(in->nr) < le64toh(lt.nr)) {
		/*
		 * Only committed trees are finalized (or the mount left): this
		 * is a resend of a commit we have, of a tree finalized since.
		 */
		sfs_debug(server->fs, "server: rid %016llx resent a commit of finalized tree %llu",
			  (unsigned long long)op->rid, (unsigned long long)le64toh(in->nr));
		return 0;
	}
	if (lt.nr == in->nr && le64toh(lt.get_trans_seq) > le64toh(in->get_trans_seq) &&
	    !memcmp(&lt.item_root, &in->item_root, sizeof(lt.item_root))) {
		/* a resend of a COMMIT_LOG_TREES_NEXT we did: the next is out */
		sfs_debug(server->fs, "server: rid %016llx resent a commit of transaction seq %llu",
			  (unsigned long long)op->rid,
			  (unsigned long long)le64toh(in->get_trans_seq));
		return 0;
	}
	if (lt.nr != in->nr || lt.get_trans_seq != in->get_trans_seq) {
		sfs_warn(server->fs, "server: rid %016llx committed transaction seq %llu, open is %llu",
			 (unsigned long long)op->rid, (unsigned long long)le64toh(in->get_trans_seq),
			 (unsigned long long)le64toh(lt.get_trans_seq));
		return -EINVAL;
	}
	if (lt.commit_trans_seq == lt.get_trans_seq)
		return 0;	/* a resend of a commit we have */

	/* the client's new roots; the server's bookkeeping stays ours */
	lt.meta_avail = in->meta_avail;
	lt.meta_freed = in->meta_freed;
	lt.item_root = in->item_root;
	lt.bloom_ref = in->bloom_ref;
	lt.data_avail = in->data_avail;
	lt.data_freed = in->data_freed;
	lt.srch_file = in->srch_file;
	lt.inode_count_delta = in->inode_count_delta;
	if (le64toh(in->max_item_seq) > le64toh(lt.max_item_seq))
		lt.max_item_seq = in->max_item_seq;
	lt.commit_trans_seq = lt.get_trans_seq;
	/*
	 * A full log file: the mount's next transaction starts a new one.
	 * The file's LOG item and the log tree without it go in one
	 * commit: a failure after the rotation (or in the store: a btree
	 * write error leaves blocks half changed) must not be committed.
	 */
	ret = 0;
	if (le64toh(lt.srch_file.blocks) >= SFS_SRCH_LOG_ROTATE_BLOCKS ||
	    (lt.srch_file.ref.blkno &&
	     sfs_trigger_fired(server->fs, SFS_TRIGGER_SRCH_FORCE_LOG_ROTATE))) {
		ret = rotate_srch_log(server, &lt.srch_file);
		if (!ret && sfs_trigger_fired(server->fs, SFS_TRIGGER_SRCH_LOG_ROTATE_FAIL))
			ret = -EIO;
	}
	ret = ret ?: store_log_trees(server, &lt);
	if (ret)
		server->broken = true;
	return ret;
}

/*
 * A mount's commit and its next transaction in one server commit (a
 * commit and then GET_LOG_TREES would take two).  The commit stands even
 * when the next cannot be had: the answer is then empty and the mount
 * asks with GET_LOG_TREES, which says why.
 */
static int op_commit_log_trees_next(struct sfs_server *server, struct server_op *op)
{
	int ret;

	ret = op_commit_log_trees(server, op);
	if (ret)
		return ret;
	if (server->broken)
		return -EIO;
	if (op_get_log_trees(server, op))
		op->resp_len = 0;
	return server->broken ? -EIO : 0;
}

/*
 * A mount whose open transaction holds the stable seq back is asked to
 * commit (SYNC_LOG_TREES: it commits even with nothing written, which
 * gets it a new transaction), once per transaction, when a walk finds
 * that transaction still open a second after one first did: an idle
 * mount would otherwise keep walks of the seq indexes from ever showing
 * what the others committed since it last wrote, while a busy one
 * commits soon enough on its own.
 */
#define NUDGE_AFTER_MS 1000

static void nudge_commit(struct sfs_server *server, uint64_t rid, uint64_t trans_seq)
{
	struct sfs_net_conn *conn = NULL;
	struct mount_conn *mc;
	uint64_t now = now_ms();
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->mount_conns_nr; i++) {
		mc = &server->mount_conns[i];
		if (mc->rid != rid)
			continue;
		if (mc->pin_seq != trans_seq) {
			mc->pin_seq = trans_seq;
			mc->pin_at = now;
		} else if (mc->nudged_seq != trans_seq && now - mc->pin_at >= NUDGE_AFTER_MS) {
			mc->nudged_seq = trans_seq;
			conn = mc->conn;
			sfs_net_conn_get(conn);
		}
		break;
	}
	pthread_mutex_unlock(&server->lock);
	if (conn) {
		if (sfs_net_request(conn, SCOUTFS_NET_CMD_SYNC_LOG_TREES, NULL, 0, NULL, NULL) == 0)
			sfs_inc(server->fs, server_stable_sync_sent);
		sfs_net_conn_put(conn);
	}
}

/*
 * The greatest seq below every open transaction: what walks of the seq
 * indexes may show, and what statfs calls committed.  nudge: ask the
 * mounts whose open transactions hold it back to commit.
 */
static int stable_seq(struct sfs_server *server, uint64_t *seq, bool nudge)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	uint64_t last = le64toh(server->super->seq);
	int ret;

	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(server->fs, &server->super->logs_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		memcpy(&lt, r->val, sizeof(lt));
		if (!lt_finalized(&lt) && lt_open(&lt)) {
			if (le64toh(lt.get_trans_seq) - 1 < last)
				last = le64toh(lt.get_trans_seq) - 1;
			if (nudge)
				nudge_commit(server, le64toh(lt.rid), le64toh(lt.get_trans_seq));
		}
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	if (ret && ret != -ENOENT)
		return ret;
	*seq = last;
	return 0;
}

static int op_get_last_seq(struct sfs_server *server, struct server_op *op)
{
	uint64_t last;
	__le64 le;
	int ret;

	ret = stable_seq(server, &last, true);
	if (ret)
		return ret;
	le = htole64(last);
	memcpy(op->resp, &le, sizeof(le));
	op->resp_len = sizeof(le);
	return 0;
}

static int op_statfs(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_net_statfs *st = (void *)op->resp;
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	uint64_t free_meta, free_data, committed;
	int64_t inodes;
	int ret;
	int i;

	if (!r)
		return -ENOMEM;
	free_meta = meta_free(super);
	for (i = 0; i < 2; i++)
		free_meta += le64toh(super->server_meta_avail[i].total_nr);
	free_data = le64toh(super->data_alloc.total_len);
	inodes = (int64_t)le64toh(super->inode_count);

	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(server->fs, &super->logs_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		memcpy(&lt, r->val, sizeof(lt));
		free_meta += le64toh(lt.meta_avail.total_nr);
		free_data += le64toh(lt.data_avail.total_len);
		inodes += (int64_t)le64toh(lt.inode_count_delta);
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	if (ret && ret != -ENOENT)
		return ret;

	ret = stable_seq(server, &committed, false);
	if (ret)
		return ret;

	memset(st, 0, sizeof(*st));
	memcpy(st->uuid, super->uuid, sizeof(st->uuid));
	st->free_meta_blocks = htole64(free_meta);
	st->total_meta_blocks = super->total_meta_blocks;
	st->free_data_blocks = htole64(free_data);
	st->total_data_blocks = super->total_data_blocks;
	st->inode_count = htole64(inodes < 0 ? 0 : (uint64_t)inodes);
	st->committed_seq = htole64(committed);
	op->resp_len = sizeof(*st);
	return 0;
}

/*
 * Hand out merge work.  A mount asking again gets the request it already
 * has (a resend, or it restarted and lost its work); otherwise, with
 * nothing outstanding, the first range goes out with an allocator of its
 * own, recorded as a REQUEST item.  -ENOENT: no work now.
 */
static int op_get_log_merge(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_log_merge_request req;
	struct scoutfs_log_merge_status st;
	struct scoutfs_log_merge_range rng;
	struct scoutfs_key key;
	struct census c;
	uint64_t target;
	int ret;

	if (op->len != 0)
		return -EINVAL;
	ret = maybe_start_merge(server) ?: get_status(server, &st);
	if (ret)
		return ret;

	key = merge_key(SCOUTFS_LOG_MERGE_REQUEST_ZONE, op->rid, 0);
	ret = merge_next(server, SCOUTFS_LOG_MERGE_REQUEST_ZONE, &key, &req, sizeof(req));
	if (!ret && le64toh(key.sklmq_rid) == op->rid) {
		sfs_inc(server->fs, log_merge_request_again);
		goto out;
	}
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret || le64toh(st.nr_requests))
		return -ENOENT;	/* one request at a time: each covers all of fs_root */

	sfs_key_set_zero(&key);
	key.sk_zone = SCOUTFS_LOG_MERGE_RANGE_ZONE;
	ret = merge_next(server, SCOUTFS_LOG_MERGE_RANGE_ZONE, &key, &rng, sizeof(rng));
	if (ret)
		return ret;

	/* enough for the client to merge a good number of windows over every input */
	ret = take_census(server, &c);
	if (ret)
		return ret;
	target = server->opts.merge_meta_target;
	if (target < 4 * sfs_merge_reserve(c.finalized))
		target = 4 * sfs_merge_reserve(c.finalized);

	memset(&req, 0, sizeof(req));
	ret = fill_meta_list(server, &req.meta_avail, target);
	if (!ret && le64toh(req.meta_avail.total_nr) < target)
		ret = -ENOSPC;
	if (ret) {
		/* the blocks go back; the range stays for a later try */
		if (release_list(server, &req.meta_avail))
			server->broken = true;
		return ret;
	}
	req.logs_root = server->super->logs_root;
	req.root = server->super->fs_root;
	req.start = rng.start;
	req.end = rng.end;
	req.input_seq = st.seq;
	req.rid = htole64(op->rid);
	req.seq = htole64(next_seq(server));
	req.flags = 0;

	st.nr_requests = htole64(le64toh(st.nr_requests) + 1);
	st.next_range_key = rng.end;	/* where the next range search starts */
	sfs_key_inc(&st.next_range_key);
	ret = merge_delete(server, &key);
	key = merge_key(SCOUTFS_LOG_MERGE_REQUEST_ZONE, op->rid, le64toh(req.seq));
	if (!ret)
		ret = merge_store(server, &key, &req, sizeof(req)) ?: put_status(server, &st);
	if (ret) {
		server->broken = true;
		return ret;
	}
	sfs_inc(server->fs, log_merge_request);
out:
	memcpy(op->resp, &req, sizeof(req));
	op->resp_len = sizeof(req);
	return 0;
}

/*
 * A mount finished a request.  Resends and requests that no longer
 * exist (completed already, or reclaimed) are answered 0 and ignored:
 * the client has nothing to undo either way.  A result built on an
 * fs_root that is no longer current, or an ERROR, is thrown away with
 * the request's allocator and its range is handed out again.  Otherwise
 * the completion is recorded and spliced in this same commit.
 */
static int op_commit_log_merge(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_log_merge_complete *in = (void *)op->req, comp;
	struct scoutfs_log_merge_request req;
	struct scoutfs_log_merge_status st;
	struct scoutfs_key key;
	int ret;

	if (op->len != sizeof(*in) || le64toh(in->rid) != op->rid)
		return -EINVAL;
	key = merge_key(SCOUTFS_LOG_MERGE_REQUEST_ZONE, op->rid, le64toh(in->seq));
	ret = merge_next(server, SCOUTFS_LOG_MERGE_REQUEST_ZONE, &key, &req, sizeof(req));
	if (ret == -ENOENT || (!ret && (le64toh(key.sklmq_rid) != op->rid ||
					le64toh(key.sklmq_seq) != le64toh(in->seq)))) {
		sfs_inc(server->fs, log_merge_commit_unknown);
		return 0;
	}
	if (ret)
		return ret;

	comp = *in;
	if (le64toh(comp.flags) & SCOUTFS_LOG_MERGE_COMP_ERROR) {
		sfs_inc(server->fs, log_merge_commit_error);
		goto reclaim;
	}
	if (memcmp(&req.root, &server->super->fs_root, sizeof(req.root)) != 0) {
		sfs_inc(server->fs, log_merge_stale_root);
		goto reclaim;
	}
	if ((le64toh(comp.flags) & ~SCOUTFS_LOG_MERGE_COMP_REMAIN) ||
	    ((le64toh(comp.flags) & SCOUTFS_LOG_MERGE_COMP_REMAIN) &&
	     (sfs_key_cmp(&comp.remain, &req.start) <= 0 ||
	      sfs_key_cmp(&comp.remain, &req.end) > 0))) {
		sfs_warn(server->fs, "server: rid %016llx: bad merge completion %llu, flags 0x%llx",
			 (unsigned long long)op->rid, (unsigned long long)le64toh(comp.seq),
			 (unsigned long long)le64toh(comp.flags));
		sfs_inc(server->fs, log_merge_commit_error);
		goto reclaim;
	}

	ret = get_status(server, &st);
	if (ret) {
		server->broken = true;
		return ret == -ENOENT ? -EIO : ret;
	}
	comp.start = req.start;
	comp.end = req.end;
	comp.rid = req.rid;
	comp.seq = req.seq;
	st.nr_requests = htole64(le64toh(st.nr_requests) - 1);
	st.nr_complete = htole64(le64toh(st.nr_complete) + 1);
	ret = merge_delete(server, &key);
	key = merge_key(SCOUTFS_LOG_MERGE_COMPLETE_ZONE, le64toh(comp.seq), 0);
	if (!ret)
		ret = merge_store(server, &key, &comp, sizeof(comp)) ?: put_status(server, &st) ?:
		      splice_completions(server);
	if (ret)
		server->broken = true;
	return ret;

reclaim:
	ret = reclaim_request(server, &req);
	if (ret)
		server->broken = true;
	return ret;
}

/* ------------------------------------------------------------------ */
/* srch compaction (srch.c has the client side)                         */
/* ------------------------------------------------------------------ */

/*
 * Jobs live in srch_root (format-spec.md 11.5) as the reference keeps
 * them: PENDING (id) waiting for a mount, BUSY (rid, id) handed to one.
 * A job's id is the root blkno of its first input.
 *
 *   4 LOG files, or 4 BLOCKS files of one size class (fls(blocks) / 2),
 *   none an input of a BUSY job
 *        |  op_srch_get_compact(): BUSY(rid, id), avail list filled
 *        v
 *   BUSY --ERROR--> PENDING (the BUSY copy, as it was handed out)
 *    |   --progress (not DONE)--> PENDING (the result: cursors, output)
 *    |   --the mount left or was reclaimed--> PENDING (cancel_rid_jobs)
 *    |  DONE: the output becomes a BLOCKS item and the inputs' items go,
 *    v  in one commit
 *   PENDING, DELETE phase: a mount frees the inputs' blocks
 *        |  DONE: its lists are released (the server's freed list), BUSY deleted
 *        v
 *   gone
 *
 * A mount asks again for its own BUSY job first (a resend, or a restart
 * with the same rid), then for the oldest PENDING one, then a new one.
 * A commit for a job that is not BUSY for the rid is a resend: ignored.
 */
static struct scoutfs_key srch_key(uint8_t type, uint64_t second, uint64_t third)
{
	return sfs_key_make(SCOUTFS_SRCH_ZONE, 0, type, second, third, 0);
}

/* the key of a file's item: LOG (blkno), BLOCKS (blocks, blkno) */
static struct scoutfs_key srch_file_key(uint8_t type, const struct scoutfs_srch_file *sfl)
{
	if (type == SCOUTFS_SRCH_LOG_TYPE)
		return srch_key(type, le64toh(sfl->ref.blkno), 0);
	return srch_key(type, le64toh(sfl->blocks), le64toh(sfl->ref.blkno));
}

/* the first item of type at or after *key: 0, -ENOENT or an error */
static int srch_next(struct sfs_server *server, uint8_t type, struct scoutfs_key *key, void *val,
		     size_t val_len)
{
	return root_next(server, &server->super->srch_root, "srch_root", SCOUTFS_SRCH_ZONE, type,
			 key, val, val_len);
}

static int srch_store(struct sfs_server *server, const struct scoutfs_key *key, const void *val,
		      size_t val_len)
{
	server->dirty = true;
	return sfs_btree_force(server->fs, &server->lists.alloc, &server->wri,
			       &server->super->srch_root, key, 0, 0, val, (unsigned int)val_len);
}

static int srch_delete(struct sfs_server *server, const struct scoutfs_key *key)
{
	server->dirty = true;
	return sfs_btree_delete(server->fs, &server->lists.alloc, &server->wri,
				&server->super->srch_root, key);
}

static uint8_t srch_job_kind(const struct scoutfs_srch_compact *sc)
{
	return sc->flags & (SCOUTFS_SRCH_COMPACT_FLAG_LOG | SCOUTFS_SRCH_COMPACT_FLAG_SORTED |
			    SCOUTFS_SRCH_COMPACT_FLAG_DELETE);
}

static int fls64(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

/*
 * The input root blknos of every BUSY job (sorted): files being read by
 * a mount are not handed out again.
 */
static int srch_busy_inputs(struct sfs_server *server, struct blknos *b)
{
	struct scoutfs_srch_compact *sc = malloc(sizeof(*sc));
	struct scoutfs_key key = srch_key(SCOUTFS_SRCH_BUSY_TYPE, 0, 0);
	int i, ret;

	if (!sc)
		return -ENOMEM;
	while ((ret = srch_next(server, SCOUTFS_SRCH_BUSY_TYPE, &key, sc, sizeof(*sc))) == 0) {
		sfs_key_inc(&key);
		for (i = 0; i < sc->nr && i < SCOUTFS_SRCH_COMPACT_NR; i++)
			collect_blkno(b, le64toh(sc->in[i].sfl.ref.blkno), false);
	}
	free(sc);
	return ret == -ENOENT ? b->err : ret;
}

static bool blknos_has(const struct blknos *b, uint64_t blkno)
{
	size_t i;

	for (i = 0; i < b->nr; i++)
		if (b->v[i] == blkno)
			return true;
	return false;
}

/*
 * A new job: the first 4 LOG files, else the first 4 BLOCKS files of one
 * size class (they sort by size), skipping busy ones.  sc->nr 0: none.
 */
static int srch_new_job(struct sfs_server *server, struct scoutfs_srch_compact *sc)
{
	static const uint8_t types[] = { SCOUTFS_SRCH_LOG_TYPE, SCOUTFS_SRCH_BLOCKS_TYPE };
	struct scoutfs_srch_file sfl;
	struct blknos busy = { 0 };
	struct scoutfs_key key;
	int order, cur_order;
	unsigned int t;
	int ret;

	memset(sc, 0, sizeof(*sc));
	ret = srch_busy_inputs(server, &busy);
	for (t = 0; !ret && t < sizeof(types); t++) {
		sc->nr = 0;
		cur_order = -1;
		key = srch_key(types[t], 0, 0);
		while ((ret = srch_next(server, types[t], &key, &sfl, sizeof(sfl))) == 0) {
			sfs_key_inc(&key);
			if (blknos_has(&busy, le64toh(sfl.ref.blkno)))
				continue;
			if (types[t] == SCOUTFS_SRCH_BLOCKS_TYPE) {
				order = fls64(le64toh(sfl.blocks)) / 2;
				if (order != cur_order) {
					cur_order = order;
					sc->nr = 0;
				}
			}
			sc->in[sc->nr++].sfl = sfl;
			if (sc->nr == SCOUTFS_SRCH_COMPACT_NR)
				break;
		}
		if (ret == -ENOENT)
			ret = 0;
		if (!ret && sc->nr == SCOUTFS_SRCH_COMPACT_NR) {
			sc->flags = types[t] == SCOUTFS_SRCH_LOG_TYPE ? SCOUTFS_SRCH_COMPACT_FLAG_LOG :
									SCOUTFS_SRCH_COMPACT_FLAG_SORTED;
			sc->id = sc->in[0].sfl.ref.blkno;
			break;
		}
	}
	if (ret || sc->nr < SCOUTFS_SRCH_COMPACT_NR)
		memset(sc, 0, sizeof(*sc));
	free(busy.v);
	return ret;
}

/*
 * Top up a job's avail list and record it as BUSY for rid.  A LOG job is
 * done in one go: its list must hold the whole output (no larger than
 * its inputs) and the radix parents; others go in steps.
 */
static int srch_hand_out(struct sfs_server *server, uint64_t rid, struct scoutfs_srch_compact *sc)
{
	uint64_t target = server->opts.client_meta_target, need = 64;
	struct scoutfs_key key;
	int i, ret;

	if (sc->flags & SCOUTFS_SRCH_COMPACT_FLAG_LOG) {
		for (i = 0; i < sc->nr; i++)
			need += 2 * le64toh(sc->in[i].sfl.blocks);
		if (target < need)
			target = need;
	}
	ret = fill_meta_list(server, &sc->meta_avail, target);
	if (ret)
		return ret;
	key = srch_key(SCOUTFS_SRCH_BUSY_TYPE, rid, le64toh(sc->id));
	return srch_store(server, &key, sc, sizeof(*sc));
}

static int op_srch_get_compact(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_srch_compact *sc = (void *)op->resp;
	struct scoutfs_key key;
	bool low;
	int ret;

	if (op->len != 0)
		return -EINVAL;
	op->resp_len = sizeof(*sc);

	/* this mount's own job: it asked again */
	key = srch_key(SCOUTFS_SRCH_BUSY_TYPE, op->rid, 0);
	ret = srch_next(server, SCOUTFS_SRCH_BUSY_TYPE, &key, sc, sizeof(*sc));
	if (!ret && le64toh(key._sk_second) == op->rid) {
		sfs_inc(server->fs, srch_compact_get_again);
		goto hand_out;
	}
	if (ret && ret != -ENOENT)
		return ret;

	/*
	 * Compacting needs room for its output until the inputs are freed:
	 * within a job's allocator of the reserve that mounts' transactions
	 * need, only DELETE phases (which give space back) are handed out.
	 */
	low = meta_free(server->super) < server->opts.meta_reserve + server->opts.client_meta_target;
	key = srch_key(SCOUTFS_SRCH_PENDING_TYPE, 0, 0);
	while ((ret = srch_next(server, SCOUTFS_SRCH_PENDING_TYPE, &key, sc, sizeof(*sc))) == 0) {
		if (low && !(sc->flags & SCOUTFS_SRCH_COMPACT_FLAG_DELETE)) {
			sfs_key_inc(&key);
			continue;
		}
		ret = srch_delete(server, &key);
		if (ret)
			goto broken;
		goto hand_out;
	}
	if (ret != -ENOENT)
		return ret;

	memset(sc, 0, sizeof(*sc));
	if (low)
		return 0;
	ret = srch_new_job(server, sc);
	if (ret || sc->nr == 0)
		return ret;
hand_out:
	ret = srch_hand_out(server, op->rid, sc);
	if (ret)
		goto broken;
	sfs_inc(server->fs, srch_compact_get);
	return 0;
broken:
	server->broken = true;
	return ret;
}

/* DONE: the output file replaces the inputs' items; -EIO leaves them be */
static int srch_commit_files(struct sfs_server *server, const struct scoutfs_srch_compact *sc)
{
	uint8_t type = (sc->flags & SCOUTFS_SRCH_COMPACT_FLAG_LOG) ? SCOUTFS_SRCH_LOG_TYPE :
								     SCOUTFS_SRCH_BLOCKS_TYPE;
	struct scoutfs_key key;
	int i, ret = 0;

	if (sc->out.blocks) {
		key = srch_file_key(SCOUTFS_SRCH_BLOCKS_TYPE, &sc->out);
		ret = srch_store(server, &key, &sc->out, sizeof(sc->out));
	}
	for (i = 0; !ret && i < sc->nr; i++) {
		key = srch_file_key(type, &sc->in[i].sfl);
		ret = srch_delete(server, &key);
		if (ret == -ENOENT) {
			sfs_warn(server->fs, "server: srch job %llu: input file %llu had no item",
				 (unsigned long long)le64toh(sc->id),
				 (unsigned long long)le64toh(sc->in[i].sfl.ref.blkno));
			ret = 0;
		}
	}
	return ret;
}

/* a result that does not belong to the BUSY job it names */
static bool srch_result_bad(const struct scoutfs_srch_compact *res,
			    const struct scoutfs_srch_compact *busy)
{
	int i;

	if (res->nr != busy->nr || srch_job_kind(res) != srch_job_kind(busy) ||
	    (res->flags & ~(SCOUTFS_SRCH_COMPACT_FLAG_LOG | SCOUTFS_SRCH_COMPACT_FLAG_SORTED |
			    SCOUTFS_SRCH_COMPACT_FLAG_DELETE | SCOUTFS_SRCH_COMPACT_FLAG_DONE |
			    SCOUTFS_SRCH_COMPACT_FLAG_ERROR)))
		return true;
	for (i = 0; i < res->nr && i < SCOUTFS_SRCH_COMPACT_NR; i++)
		if (memcmp(&res->in[i].sfl, &busy->in[i].sfl, sizeof(res->in[i].sfl)))
			return true;
	/* a DELETE phase keeps the output it made (it is in srch_root now) */
	if ((busy->flags & SCOUTFS_SRCH_COMPACT_FLAG_DELETE) &&
	    memcmp(&res->out, &busy->out, sizeof(res->out)))
		return true;
	return false;
}

static int op_srch_commit_compact(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_srch_compact *in = (void *)op->req, res, busy;
	struct scoutfs_key key, pkey;
	const struct scoutfs_srch_compact *pending;
	int i, ret;

	if (op->len != sizeof(*in))
		return -EINVAL;
	res = *in;
	key = srch_key(SCOUTFS_SRCH_BUSY_TYPE, op->rid, le64toh(res.id));
	ret = srch_next(server, SCOUTFS_SRCH_BUSY_TYPE, &key, &busy, sizeof(busy));
	if (ret == -ENOENT || (!ret && (le64toh(key._sk_second) != op->rid ||
					le64toh(key._sk_third) != le64toh(res.id))))
		return 0;	/* a resend, or cancelled since */
	if (ret)
		return ret;
	sfs_inc(server->fs, srch_compact_commit);

	if (!(res.flags & SCOUTFS_SRCH_COMPACT_FLAG_ERROR) && srch_result_bad(&res, &busy)) {
		sfs_warn(server->fs, "server: rid %016llx: bad srch compaction result %llu, flags 0x%x",
			 (unsigned long long)op->rid, (unsigned long long)le64toh(res.id), res.flags);
		res.flags |= SCOUTFS_SRCH_COMPACT_FLAG_ERROR;
	}

	if (res.flags & SCOUTFS_SRCH_COMPACT_FLAG_ERROR) {
		pending = &busy;	/* as it was handed out */
	} else if (!(res.flags & SCOUTFS_SRCH_COMPACT_FLAG_DONE)) {
		pending = &res;		/* progress */
	} else if (!(res.flags & SCOUTFS_SRCH_COMPACT_FLAG_DELETE)) {
		ret = srch_commit_files(server, &res);
		if (ret)
			goto broken;
		for (i = 0; i < SCOUTFS_SRCH_COMPACT_NR; i++) {
			res.in[i].blk = 0;
			res.in[i].pos = 0;
		}
		res.flags = SCOUTFS_SRCH_COMPACT_FLAG_DELETE;
		pending = &res;
		sfs_inc(server->fs, srch_compact_done);
	} else {
		/* the inputs are freed: the job's lists go back, later reusable */
		ret = release_list(server, &res.meta_avail) ?: release_list(server, &res.meta_freed);
		if (ret)
			goto broken;
		pending = NULL;
		sfs_inc(server->fs, srch_compact_freed);
	}

	ret = srch_delete(server, &key);
	if (!ret && pending) {
		pkey = srch_key(SCOUTFS_SRCH_PENDING_TYPE, le64toh(pending->id), 0);
		ret = srch_store(server, &pkey, pending, sizeof(*pending));
	}
	if (ret)
		goto broken;
	return 0;
broken:
	server->broken = true;
	return ret;
}

/*
 * A mount left or was reclaimed: its BUSY jobs wait as PENDING for
 * another, as they were last committed (nothing it did since counts).
 */
static int cancel_rid_jobs(struct sfs_server *server, uint64_t rid)
{
	struct scoutfs_srch_compact *sc = malloc(sizeof(*sc));
	struct scoutfs_key key, pkey;
	int ret;

	if (!sc)
		return -ENOMEM;
	for (;;) {
		key = srch_key(SCOUTFS_SRCH_BUSY_TYPE, rid, 0);
		ret = srch_next(server, SCOUTFS_SRCH_BUSY_TYPE, &key, sc, sizeof(*sc));
		if (ret == -ENOENT || (!ret && le64toh(key._sk_second) != rid)) {
			ret = 0;
			break;
		}
		pkey = srch_key(SCOUTFS_SRCH_PENDING_TYPE, le64toh(sc->id), 0);
		ret = ret ?: srch_delete(server, &key) ?: srch_store(server, &pkey, sc, sizeof(*sc));
		if (ret)
			break;
		sfs_inc(server->fs, srch_compact_cancel);
	}
	free(sc);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Volume options (super.volopt)                                        */
/* ------------------------------------------------------------------ */

static int op_get_volopt(struct sfs_server *server, struct server_op *op)
{
	if (op->len != 0)
		return -EINVAL;
	memcpy(op->resp, &server->super->volopt, sizeof(server->super->volopt));
	op->resp_len = sizeof(server->super->volopt);
	return 0;
}

/*
 * data_alloc_zone_blocks must leave a whole fill of a mount in one zone
 * (>= client_data_target, the reference's 4 GiB by default; the fair
 * share only ever fills less), make at most SCOUTFS_DATA_ALLOC_MAX_ZONES
 * zones, and not exceed the device.  Setting again what is set is fine
 * (a resend).
 */
static int op_set_volopt(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_volume_options vo;
	uint64_t bits, zb, total = le64toh(super->total_data_blocks);

	if (op->len != sizeof(vo))
		return -EINVAL;
	memcpy(&vo, op->req, sizeof(vo));
	bits = le64toh(vo.set_bits);
	if (bits & SCOUTFS_VOLOPT_EXPANSION_BITS)
		return -EINVAL;
	if (bits & SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT) {
		zb = le64toh(vo.data_alloc_zone_blocks);
		if (zb == 0 || zb < server->opts.client_data_target ||
		    zb < total / SCOUTFS_DATA_ALLOC_MAX_ZONES || zb > total) {
			sfs_warn(server->fs, "server: data_alloc_zone_blocks %llu refused: it must be at least %llu (a mount's fill) and %llu (%u zones at most) and at most %llu (the device)",
				 (unsigned long long)zb,
				 (unsigned long long)server->opts.client_data_target,
				 (unsigned long long)(total / SCOUTFS_DATA_ALLOC_MAX_ZONES),
				 SCOUTFS_DATA_ALLOC_MAX_ZONES, (unsigned long long)total);
			return -EINVAL;
		}
		super->volopt.data_alloc_zone_blocks = vo.data_alloc_zone_blocks;
	}
	super->volopt.set_bits = htole64(le64toh(super->volopt.set_bits) | bits);
	server->dirty = true;
	return 0;
}

static int op_clear_volopt(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_volume_options vo;
	uint64_t bits;

	if (op->len != sizeof(vo))
		return -EINVAL;
	memcpy(&vo, op->req, sizeof(vo));
	bits = le64toh(vo.set_bits);
	if (bits & SCOUTFS_VOLOPT_EXPANSION_BITS)
		return -EINVAL;
	if (bits & SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT)
		super->volopt.data_alloc_zone_blocks = 0;
	super->volopt.set_bits = htole64(le64toh(super->volopt.set_bits) & ~bits);
	server->dirty = true;
	return 0;
}

/* tests: see sfs_server_request_merge */
static int op_request_merge(struct sfs_server *server)
{
	server->merge_wanted = true;
	return maybe_start_merge(server);
}

static int apply_op(struct sfs_server *server, struct server_op *op)
{
	switch (op->cmd) {
	case SCOUTFS_NET_CMD_GREETING:
		return op_greeting(server, op);
	case SCOUTFS_NET_CMD_ALLOC_INODES:
		return op_alloc_inodes(server, op);
	case SCOUTFS_NET_CMD_GET_LOG_TREES:
		return op_get_log_trees(server, op);
	case SCOUTFS_NET_CMD_COMMIT_LOG_TREES:
		return op_commit_log_trees(server, op);
	case SCOUTFS_NET_CMD_COMMIT_LOG_TREES_NEXT:
		return op_commit_log_trees_next(server, op);
	case SCOUTFS_NET_CMD_GET_LAST_SEQ:
		return op_get_last_seq(server, op);
	case SCOUTFS_NET_CMD_STATFS:
		return op_statfs(server, op);
	case SCOUTFS_NET_CMD_FAREWELL:
		return op_farewell(server, op);
	case SCOUTFS_NET_CMD_GET_LOG_MERGE:
		return op_get_log_merge(server, op);
	case SCOUTFS_NET_CMD_COMMIT_LOG_MERGE:
		return op_commit_log_merge(server, op);
	case SCOUTFS_NET_CMD_SRCH_GET_COMPACT:
		return op_srch_get_compact(server, op);
	case SCOUTFS_NET_CMD_SRCH_COMMIT_COMPACT:
		return op_srch_commit_compact(server, op);
	case SCOUTFS_NET_CMD_GET_VOLOPT:
		return op_get_volopt(server, op);
	case SCOUTFS_NET_CMD_SET_VOLOPT:
		return op_set_volopt(server, op);
	case SCOUTFS_NET_CMD_CLEAR_VOLOPT:
		return op_clear_volopt(server, op);
	case SFS_SERVER_OP_REQUEST_MERGE:
		return op_request_merge(server);
	case SFS_SERVER_OP_RECLAIM_MOUNT:
		return retire_mount(server, op->rid, "was reclaimed");
	default:
		return -EOPNOTSUPP;
	}
}

/* ------------------------------------------------------------------ */
/* Commits                                                              */
/* ------------------------------------------------------------------ */

static void use_lists(struct sfs_server *server, int idx)
{
	server->cur = idx;
	sfs_alloc_lists_init(&server->lists, &server->super->server_meta_avail[idx],
			     &server->super->server_meta_freed[idx]);
}

static int server_commit(struct sfs_server *server)
{
	struct scoutfs_super_block *super = server->super;
	struct sfs_fs *fs = server->fs;
	int other = !server->cur;
	int ret;

	/* the previous commit's frees are durable now; the spare gets refilled */
	ret = sfs_alloc_empty_list(fs, &server->lists.alloc, &server->wri, meta_sink(super),
				   &super->server_meta_freed[other]);
	if (!ret && le64toh(super->server_meta_avail[other].total_nr) <
			    server->opts.server_meta_target / 2)
		ret = fill_meta_list(server, &super->server_meta_avail[other],
				     server->opts.server_meta_target);
	if (ret)
		goto out;

	super->server_meta_avail[server->cur] = server->lists.avail;
	super->server_meta_freed[server->cur] = server->lists.freed;
	/* seqs handed out with lock grants since are above every committed one */
	if (__atomic_load_n(&server->seq_ctr, __ATOMIC_SEQ_CST) > le64toh(super->seq))
		super->seq = htole64(__atomic_load_n(&server->seq_ctr, __ATOMIC_SEQ_CST));

	ret = sfs_block_writer_write(fs, &server->wri) ?: sfs_block_flush(fs, SFS_DEV_META);
	if (ret)
		goto out;
	super->hdr.seq = htole64(le64toh(super->hdr.seq) + 1);
	ret = sfs_block_write_sm(fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO, super) ?:
	      sfs_block_flush(fs, SFS_DEV_META);
	if (ret)
		goto out;

	pthread_mutex_lock(&server->lock);
	memcpy(server->stable, super, SCOUTFS_BLOCK_SM_SIZE);
	pthread_mutex_unlock(&server->lock);

	use_lists(server, other);
	server->dirty = false;
	sfs_inc(fs, server_commit);
out:
	if (ret)
		sfs_err(fs, "server: commit failed, the server stops: %s", strerror(-ret));
	return ret;
}

/* ------------------------------------------------------------------ */
/* Threads                                                              */
/* ------------------------------------------------------------------ */

/*
 * The server stops serving.  With a failed callback (a cluster), it
 * answers nothing more: its mounts resend to the next server, which the
 * quorum elects once it has stopped this one, and which starts over from
 * what is on disk.  Alone (tests), it answers -EIO.
 */
static void server_fail(struct sfs_server *server)
{
	bool first;

	pthread_mutex_lock(&server->lock);
	first = !server->failed;
	server->failed = true;
	pthread_cond_broadcast(&server->cond);
	pthread_mutex_unlock(&server->lock);
	if (first && server->opts.failed) {
		sfs_err(server->fs, "server: stopping; the next leader's server starts over from what is on disk");
		sfs_inc(server->fs, server_failed);
		server->opts.failed(server->opts.failed_arg);
	}
}

/* answer a request, or wake the caller of an internal op */
static void complete_op(struct server_op *op)
{
	struct server_wait *w = op->wait;

	if (op->conn) {
		sfs_net_respond(op->conn, op->req_id, op->cmd, op->err, op->resp,
				op->err ? 0 : op->resp_len);
		sfs_net_conn_put(op->conn);
	} else if (w) {
		pthread_mutex_lock(&w->lock);
		w->err = op->err;
		w->done = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	}
	free(op);
}

/*
 * Background work between batches, each step its own commit: free the
 * item trees of merged log trees (FREEING items) a few at a time, and
 * retire orphan log trees (at server start, after each merge).
 */
static int maintain(struct sfs_server *server)
{
	bool more = false;
	int ret = 0;

	if (!server->opts.merge_hold_freeing)
		ret = free_freeing(server, server->opts.freeing_per_commit, &more);
	if (!ret)
		ret = reclaim_orphan_trees(server);
	server->maint = more;
	return ret;
}

static void *server_worker(void *arg)
{
	struct sfs_server *server = arg;
	struct server_op *batch, *op;
	bool failed, maint, maint_turn_taken = false, reclaim, up;
	int ret;

	/* nothing is committed while an earlier leader may still write */
	fence_leaders(server);
	pthread_mutex_lock(&server->lock);
	/* the recovery window starts now: mounts could not recover before */
	if (!server->stopping && !server->failed && server->opts.nr_fence_leaders)
		reclaim_window_start(server);
	up = !server->stopping && !server->failed;
	pthread_mutex_unlock(&server->lock);
	if (up && server->opts.up)
		server->opts.up(server->opts.failed_arg, server->opts.term);
	for (;;) {
		pthread_mutex_lock(&server->lock);
		while (!server->queue && !server->stopping && !(server->maint && !server->failed) &&
		       !(reclaim_due(server) && !server->failed) &&
		       !(server->dead_nr && !server->failed) &&
		       !(server->lost_nr && !server->lost_retry && !server->failed)) {
			/* cond runs on CLOCK_MONOTONIC, as reclaim_at */
			if (server->lost_retry) {
				cond_wait_ms(server, 1000);
				server->lost_retry = false;
			} else if (server->absent_nr)
				pthread_cond_timedwait(&server->cond, &server->lock,
						       &server->reclaim_at);
			else
				pthread_cond_wait(&server->cond, &server->lock);
		}
		reclaim = (reclaim_due(server) || server->dead_nr ||
			   (server->lost_nr && !server->lost_retry)) &&
			  !server->failed && !server->stopping;
		failed = server->failed;
		/* maintenance takes every other turn when requests keep coming */
		maint = server->maint && !failed && !server->stopping &&
			(!server->queue || !maint_turn_taken);
		batch = NULL;
		if (!maint) {
			batch = server->queue;
			server->queue = NULL;
			server->queue_tail = &server->queue;
		}
		maint_turn_taken = maint;
		pthread_mutex_unlock(&server->lock);
		/* only when stopping: a due reclaim alone is work too */
		if (!batch && !maint && !reclaim)
			break;

		ret = 0;
		for (op = batch; op; op = op->next)
			op->err = failed ? -EIO : apply_op(server, op);
		if (maint)
			ret = maintain(server);
		if (!ret && reclaim) {
			fence_lost(server);
			ret = reclaim_dead(server) ?: (reclaim_due(server) ? reclaim_absent(server) : 0);
		}
		/* the mounts may have changed: held farewells that may go now */
		if (!ret && !failed && server->farewells)
			ret = answer_farewells(server, &batch);
		if (!failed && (ret || server->broken)) {
			/* memory is ahead of anything we could commit consistently */
			sfs_err(server->fs, "server: a change failed half done, the server stops");
			server_fail(server);
			failed = true;
			ret = ret ?: -EIO;
		} else if (!failed && server->dirty) {
			ret = server_commit(server);
			if (ret) {
				server_fail(server);
				failed = true;
			}
		}
		for (op = batch; op; op = op->next)
			if (failed && !op->err)
				op->err = ret ?: -EIO;
		while ((op = batch)) {
			batch = op->next;
			if (failed && op->conn && server->opts.failed) {
				/* unanswered: its mount resends it to the next server */
				sfs_net_conn_put(op->conn);
				free(op);
				continue;
			}
			complete_op(op);
		}
	}
	return NULL;
}

/* queue an internal op and wait for its commit */
static int internal_op(struct sfs_server *server, uint16_t cmd, uint64_t rid)
{
	struct server_wait w = { .done = false };
	struct server_op *op;
	int ret;

	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	op->cmd = cmd;
	op->rid = rid;
	op->wait = &w;

	pthread_mutex_lock(&server->lock);
	if (server->stopping) {
		pthread_mutex_unlock(&server->lock);
		free(op);
		ret = -ESHUTDOWN;
		goto out;
	}
	*server->queue_tail = op;
	server->queue_tail = &op->next;
	pthread_cond_signal(&server->cond);
	pthread_mutex_unlock(&server->lock);

	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	ret = w.err;
	pthread_mutex_unlock(&w.lock);
out:
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return ret;
}

int sfs_server_request_merge(struct sfs_fs *fs)
{
	if (!fs->server)
		return -ENOTCONN;
	return internal_op(fs->server, SFS_SERVER_OP_REQUEST_MERGE, 0);
}

int sfs_server_reclaim_mount(struct sfs_fs *fs, uint64_t rid)
{
	if (!fs->server)
		return -ENOTCONN;
	return internal_op(fs->server, SFS_SERVER_OP_RECLAIM_MOUNT, rid);
}

static int server_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			  const void *data, uint32_t len, void *arg)
{
	struct sfs_server *server = arg;
	struct scoutfs_net_roots roots;
	struct server_op *op;

	/* the stable roots need no commit: answer at once */
	if (cmd == SCOUTFS_NET_CMD_GET_ROOTS) {
		pthread_mutex_lock(&server->lock);
		roots.fs_root = server->stable->fs_root;
		roots.logs_root = server->stable->logs_root;
		roots.srch_root = server->stable->srch_root;
		pthread_mutex_unlock(&server->lock);
		return sfs_net_respond(conn, req_id, cmd, 0, &roots, sizeof(roots));
	}

	if (len > OP_DATA_MAX)
		return -EINVAL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	sfs_net_conn_get(conn);
	op->conn = conn;
	op->req_id = req_id;
	op->cmd = cmd;
	op->rid = sfs_net_conn_session_id(conn);
	op->len = len;
	memcpy(op->req, data, len);

	/*
	 * A stopping server leaves it unanswered, as the queued ones: the
	 * client sends it again to the next server (a leader that unmounts
	 * stops its server while the others go on).
	 */
	pthread_mutex_lock(&server->lock);
	if (server->stopping) {
		pthread_mutex_unlock(&server->lock);
		sfs_net_conn_put(conn);
		free(op);
		return 0;
	}
	*server->queue_tail = op;
	server->queue_tail = &op->next;
	pthread_cond_signal(&server->cond);
	pthread_mutex_unlock(&server->lock);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Mount sessions and the open-inode map                                */
/* ------------------------------------------------------------------ */

/*
 * One OPEN_INO_MAP request of a mount: the server's request to every
 * mount session it knew when it started (targets), the OR of their
 * answers so far, and the asker's request to answer once every target
 * answered or cannot (server.c header: Open-inode map).  Referenced by
 * the list it is on and by each request in flight.
 */
struct omap_target {
	uint64_t rid;
	bool answered;
};

struct omap_fan {
	struct omap_fan *next;		/* server lock: omap_waiting or omap_running */
	struct sfs_server *server;
	struct sfs_net_conn *conn;	/* the asker's session, referenced */
	uint64_t req_id;		/* the asker's request */
	struct scoutfs_open_ino_map map; /* server lock: args fixed, bits the OR so far */
	unsigned int refs;		/* server lock */
	size_t nr, left;		/* server lock: targets, and those not answered */
	struct omap_target *t;
};

struct omap_sent {
	struct omap_fan *fan;
	size_t idx;
};

static void omap_put(struct sfs_server *server, struct omap_fan *fan)
{
	bool last;

	pthread_mutex_lock(&server->lock);
	last = --fan->refs == 0;
	pthread_mutex_unlock(&server->lock);
	if (last) {
		sfs_net_conn_put(fan->conn);
		free(fan->t);
		free(fan);
	}
}

/*
 * With server->lock: target idx answered, bits NULL meaning none open.
 * True when that was the last: fan left omap_running, and the caller
 * finishes it (omap_finish) once it dropped the lock.
 */
static bool omap_answer_locked(struct sfs_server *server, struct omap_fan *fan, size_t idx,
			       const __le64 *bits)
{
	struct omap_fan **p;
	int i;

	if (idx >= fan->nr || fan->t[idx].answered)
		return false;
	fan->t[idx].answered = true;
	if (bits)
		for (i = 0; i < SCOUTFS_OPEN_INO_MAP_LE64S; i++)
			fan->map.bits[i] |= bits[i];
	if (--fan->left)
		return false;
	for (p = &server->omap_running; *p; p = &(*p)->next) {
		if (*p == fan) {
			*p = fan->next;
			break;
		}
	}
	return true;
}

/* every answer is in: answer the asker, drop the list's reference */
static void omap_finish(struct sfs_server *server, struct omap_fan *fan)
{
	int ret;

	ret = sfs_net_respond(fan->conn, fan->req_id, SCOUTFS_NET_CMD_OPEN_INO_MAP, 0, &fan->map,
			      sizeof(fan->map));
	if (ret)
		sfs_debug(server->fs, "server: open-inode map answer to %016llx not sent: %s",
			  (unsigned long long)sfs_net_conn_session_id(fan->conn), strerror(-ret));
	omap_put(server, fan);
}

/* net thread (or sfs_net_destroy): a mount's answer, or why none came */
static void omap_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct omap_sent *sent = arg;
	struct omap_fan *fan = sent->fan;
	struct sfs_server *server = fan->server;
	const struct scoutfs_open_ino_map *map = data;
	const __le64 *bits = NULL;
	bool last;

	if (!err && len == sizeof(*map) && map->args.req_id == fan->map.args.req_id &&
	    map->args.group_nr == fan->map.args.group_nr)
		bits = map->bits;
	else if (err != -ECONNRESET && err != -ESHUTDOWN)
		sfs_warn(server->fs, "server: mount %016llx answered open-inode map request %llu badly (%u bytes, %d): taken as none open",
			 (unsigned long long)fan->t[sent->idx].rid,
			 (unsigned long long)le64toh(fan->map.args.req_id), len, err);
	pthread_mutex_lock(&server->lock);
	last = omap_answer_locked(server, fan, sent->idx, bits);
	pthread_mutex_unlock(&server->lock);
	free(sent);
	if (last)
		omap_finish(server, fan);
	omap_put(server, fan);
}

/*
 * Ask every mount session known now.  One target more than sessions
 * stands for the sending itself, answered last here, so the request
 * cannot finish while requests still go out, and does finish with no
 * session at all.  Called without server->lock.
 */
static void omap_start(struct sfs_server *server, struct omap_fan *fan)
{
	struct scoutfs_open_ino_map_args args = fan->map.args;
	struct sfs_net_conn **conns;
	struct omap_sent *sent;
	bool last, sent_ok;
	size_t i, n;

	pthread_mutex_lock(&server->lock);
	n = server->mount_conns_nr;
	fan->t = calloc(n + 1, sizeof(*fan->t));
	conns = calloc(n + 1, sizeof(*conns));
	if (!fan->t || !conns) {
		pthread_mutex_unlock(&server->lock);
		free(conns);
		sfs_net_respond(fan->conn, fan->req_id, SCOUTFS_NET_CMD_OPEN_INO_MAP, -ENOMEM, NULL,
				0);
		omap_put(server, fan);
		return;
	}
	for (i = 0; i < n; i++) {
		fan->t[i].rid = server->mount_conns[i].rid;
		conns[i] = server->mount_conns[i].conn;
		sfs_net_conn_get(conns[i]);
	}
	fan->nr = fan->left = n + 1;
	fan->next = server->omap_running;
	server->omap_running = fan;
	pthread_mutex_unlock(&server->lock);

	for (i = 0; i < n; i++) {
		sent_ok = false;
		sent = malloc(sizeof(*sent));
		if (sent) {
			sent->fan = fan;
			sent->idx = i;
			pthread_mutex_lock(&server->lock);
			fan->refs++;
			pthread_mutex_unlock(&server->lock);
			sent_ok = sfs_net_request(conns[i], SCOUTFS_NET_CMD_OPEN_INO_MAP, &args,
						  sizeof(args), omap_resp, sent) == 0;
			if (!sent_ok) {
				free(sent);
				omap_put(server, fan);
			}
		}
		if (!sent_ok) {
			/* the session is over (or no memory): nothing open there */
			pthread_mutex_lock(&server->lock);
			omap_answer_locked(server, fan, i, NULL);
			pthread_mutex_unlock(&server->lock);
		}
		sfs_net_conn_put(conns[i]);
	}
	free(conns);

	pthread_mutex_lock(&server->lock);
	last = omap_answer_locked(server, fan, n, NULL);
	pthread_mutex_unlock(&server->lock);
	if (last)
		omap_finish(server, fan);
}

/* the absent mounts all greeted or were reclaimed: the requests that waited go */
static void omap_start_waiting(struct sfs_server *server)
{
	struct omap_fan *fan, *list = NULL, *next;

	pthread_mutex_lock(&server->lock);
	/* a mount being fenced may still have inodes open: wait for its reclaim */
	if (!server->absent_nr && !server->fencing_nr && !server->dead_nr) {
		/* oldest first */
		for (fan = server->omap_waiting; fan; fan = next) {
			next = fan->next;
			fan->next = list;
			list = fan;
		}
		server->omap_waiting = NULL;
	}
	pthread_mutex_unlock(&server->lock);
	while ((fan = list)) {
		list = fan->next;
		omap_start(server, fan);
	}
}

/* rid left (or was reclaimed): nothing is open there, nobody waits for its answer */
static void omap_forget(struct sfs_server *server, uint64_t rid)
{
	struct omap_fan *fan, *next, *done = NULL;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (fan = server->omap_running; fan; fan = next) {
		next = fan->next;
		/* the last target is the sending, never a mount's */
		for (i = 0; i + 1 < fan->nr; i++) {
			if (fan->t[i].rid != rid || fan->t[i].answered)
				continue;
			sfs_inc(server->fs, server_omap_departed);
			if (omap_answer_locked(server, fan, i, NULL)) {
				fan->next = done;
				done = fan;
				break;
			}
		}
	}
	pthread_mutex_unlock(&server->lock);
	while ((fan = done)) {
		done = fan->next;
		omap_finish(server, fan);
	}
}

/* net thread: a mount asks which inodes of a group are open anywhere */
static int server_omap_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			       const void *data, uint32_t len, void *arg)
{
	struct sfs_server *server = arg;
	struct omap_fan *fan;
	bool wait;

	(void)cmd;
	if (len != sizeof(struct scoutfs_open_ino_map_args))
		return -EINVAL;
	fan = calloc(1, sizeof(*fan));
	if (!fan)
		return -ENOMEM;
	fan->server = server;
	sfs_net_conn_get(conn);
	fan->conn = conn;
	fan->req_id = req_id;
	fan->refs = 1;
	memcpy(&fan->map.args, data, sizeof(fan->map.args));

	/* a stopping server leaves it to the next one (server_request) */
	pthread_mutex_lock(&server->lock);
	if (server->stopping) {
		pthread_mutex_unlock(&server->lock);
		sfs_net_conn_put(conn);
		free(fan);
		return 0;
	}
	fan->map.args.req_id = htole64(++server->omap_next_id);
	wait = server->absent_nr > 0 || server->fencing_nr > 0 || server->dead_nr > 0;
	if (wait) {
		fan->next = server->omap_waiting;
		server->omap_waiting = fan;
	}
	pthread_mutex_unlock(&server->lock);
	sfs_inc(server->fs, server_omap_request);
	if (wait)
		sfs_inc(server->fs, server_omap_waited);
	else
		omap_start(server, fan);
	return 0;
}

/* remember rid's session (takes a reference) */
static void mount_conn_set(struct sfs_server *server, uint64_t rid, struct sfs_net_conn *conn)
{
	struct mount_conn *lc;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->mount_conns_nr; i++) {
		if (server->mount_conns[i].rid == rid) {
			if (server->mount_conns[i].conn != conn) {
				sfs_net_conn_get(conn);
				sfs_net_conn_put(server->mount_conns[i].conn);
				server->mount_conns[i].conn = conn;
			}
			pthread_mutex_unlock(&server->lock);
			return;
		}
	}
	lc = realloc(server->mount_conns, (server->mount_conns_nr + 1) * sizeof(*lc));
	if (lc) {
		server->mount_conns = lc;
		sfs_net_conn_get(conn);
		memset(&lc[server->mount_conns_nr], 0, sizeof(*lc));
		lc[server->mount_conns_nr].rid = rid;
		lc[server->mount_conns_nr].conn = conn;
		server->mount_conns_nr++;
	}
	pthread_mutex_unlock(&server->lock);
}

/* rid's session, referenced, or NULL */
static struct sfs_net_conn *mount_conn_get(struct sfs_server *server, uint64_t rid)
{
	struct sfs_net_conn *conn = NULL;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->mount_conns_nr; i++) {
		if (server->mount_conns[i].rid == rid) {
			conn = server->mount_conns[i].conn;
			sfs_net_conn_get(conn);
			break;
		}
	}
	pthread_mutex_unlock(&server->lock);
	return conn;
}

static void mount_conn_forget(struct sfs_server *server, uint64_t rid)
{
	struct sfs_net_conn *conn = NULL;
	size_t i;

	pthread_mutex_lock(&server->lock);
	for (i = 0; i < server->mount_conns_nr; i++) {
		if (server->mount_conns[i].rid == rid) {
			conn = server->mount_conns[i].conn;
			server->mount_conns[i] = server->mount_conns[--server->mount_conns_nr];
			break;
		}
	}
	pthread_mutex_unlock(&server->lock);
	if (conn)
		sfs_net_conn_put(conn);
	omap_forget(server, rid);
}

/* ------------------------------------------------------------------ */
/* Cluster locks: lock_server.c over the net                            */
/* ------------------------------------------------------------------ */

struct lock_req_ctx {
	struct sfs_net_conn *conn;	/* referenced */
	uint64_t req_id;
};

struct lock_inval_ctx {
	struct sfs_server *server;
	uint64_t rid;
};

/* the grant carries the stable roots: the client's first reads under it need no GET_ROOTS */
static void lock_grant(void *arg, uint64_t rid, void *ctx, const struct scoutfs_net_lock *nl)
{
	struct sfs_server *server = arg;
	struct lock_req_ctx *rc = ctx;
	struct scoutfs_net_lock_grant g = { .nl = *nl };

	(void)rid;
	pthread_mutex_lock(&server->lock);
	g.roots.fs_root = server->stable->fs_root;
	g.roots.logs_root = server->stable->logs_root;
	g.roots.srch_root = server->stable->srch_root;
	pthread_mutex_unlock(&server->lock);
	sfs_net_respond(rc->conn, rc->req_id, SCOUTFS_NET_CMD_LOCK, 0, &g, sizeof(g));
	sfs_net_conn_put(rc->conn);
	free(rc);
}

static void lock_drop(void *arg, uint64_t rid, void *ctx)
{
	struct lock_req_ctx *rc = ctx;

	(void)arg, (void)rid;
	sfs_net_conn_put(rc->conn);
	free(rc);
}

static void lock_inval_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct lock_inval_ctx *ic = arg;

	/* no answer (the session ended): the mount's farewell or reclaim settles it */
	if (!err && len == sizeof(struct scoutfs_net_lock) && ic->server->locks)
		sfs_lock_server_response(ic->server->locks, ic->rid, data);
	free(ic);
}

static void lock_invalidate(void *arg, uint64_t rid, const struct scoutfs_net_lock *nl)
{
	struct sfs_server *server = arg;
	struct sfs_net_conn *conn = mount_conn_get(server, rid);
	struct lock_inval_ctx *ic;

	ic = conn ? calloc(1, sizeof(*ic)) : NULL;
	if (!ic) {
		sfs_warn(server->fs, "server: cannot ask mount %016llx to give a lock back",
			 (unsigned long long)rid);
		if (conn)
			sfs_net_conn_put(conn);
		return;
	}
	ic->server = server;
	ic->rid = rid;
	if (sfs_net_request(conn, SCOUTFS_NET_CMD_LOCK, nl, sizeof(*nl), lock_inval_resp, ic))
		free(ic);
	sfs_net_conn_put(conn);
}

static uint64_t lock_next_write_seq(void *arg)
{
	struct sfs_server *server = arg;

	return __atomic_add_fetch(&server->seq_ctr, 1, __ATOMIC_SEQ_CST);
}

/* net thread: a mount asks for a lock mode (answered by lock_grant) */
static int server_lock_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			       const void *data, uint32_t len, void *arg)
{
	struct sfs_server *server = arg;
	uint64_t rid = sfs_net_conn_session_id(conn);
	struct lock_req_ctx *rc;
	int ret;

	(void)cmd;
	if (len != sizeof(struct scoutfs_net_lock) || !server->locks)
		return -EINVAL;
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	mount_conn_set(server, rid, conn);
	sfs_net_conn_get(conn);
	rc->conn = conn;
	rc->req_id = req_id;
	ret = sfs_lock_server_request(server->locks, rid, data, rc);
	if (ret) {
		sfs_net_conn_put(conn);
		free(rc);
	}
	return ret;
}

static const struct sfs_lock_server_ops lock_server_ops = {
	.invalidate = lock_invalidate,
	.grant = lock_grant,
	.drop = lock_drop,
	.next_write_seq = lock_next_write_seq,
};

static const sfs_net_handler_fn handlers[SCOUTFS_NET_CMD__NR] = {
	[SCOUTFS_NET_CMD_GREETING] = server_request,
	[SCOUTFS_NET_CMD_ALLOC_INODES] = server_request,
	[SCOUTFS_NET_CMD_GET_LOG_TREES] = server_request,
	[SCOUTFS_NET_CMD_COMMIT_LOG_TREES] = server_request,
	[SCOUTFS_NET_CMD_COMMIT_LOG_TREES_NEXT] = server_request,
	[SCOUTFS_NET_CMD_GET_ROOTS] = server_request,
	[SCOUTFS_NET_CMD_GET_LAST_SEQ] = server_request,
	[SCOUTFS_NET_CMD_STATFS] = server_request,
	[SCOUTFS_NET_CMD_FAREWELL] = server_request,
	[SCOUTFS_NET_CMD_GET_LOG_MERGE] = server_request,
	[SCOUTFS_NET_CMD_COMMIT_LOG_MERGE] = server_request,
	[SCOUTFS_NET_CMD_SRCH_GET_COMPACT] = server_request,
	[SCOUTFS_NET_CMD_SRCH_COMMIT_COMPACT] = server_request,
	[SCOUTFS_NET_CMD_LOCK] = server_lock_request,
	[SCOUTFS_NET_CMD_OPEN_INO_MAP] = server_omap_request,
	[SCOUTFS_NET_CMD_GET_VOLOPT] = server_request,
	[SCOUTFS_NET_CMD_SET_VOLOPT] = server_request,
	[SCOUTFS_NET_CMD_CLEAR_VOLOPT] = server_request,
};

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

int sfs_server_start(struct sfs_fs *fs, const struct sfs_server_opts *opts,
		     struct sockaddr_storage *bound)
{
	struct sfs_net_opts nopts = { 0 };
	struct sfs_server *server;
	pthread_condattr_t cattr;
	int ret;

	if (fs->server)
		return -EBUSY;
	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	fs->server = server;
	server->fs = fs;
	server->opts = *opts;
	server->opts.fence_leaders = NULL;
	server->opts.nr_fence_leaders = 0;
	if (opts->nr_fence_leaders) {
		struct sfs_server_fence *fl = calloc(opts->nr_fence_leaders, sizeof(*fl));

		if (!fl) {
			fs->server = NULL;
			free(server);
			return -ENOMEM;
		}
		memcpy(fl, opts->fence_leaders, opts->nr_fence_leaders * sizeof(*fl));
		server->opts.fence_leaders = fl;
		server->opts.nr_fence_leaders = opts->nr_fence_leaders;
	}
	if (!server->opts.client_meta_target)
		server->opts.client_meta_target = 1024;
	if (!server->opts.client_data_target)
		server->opts.client_data_target = (4ULL << 30) >> SCOUTFS_BLOCK_SM_SHIFT;
	if (!server->opts.client_data_min)
		server->opts.client_data_min = DATA_FILL_MIN_DEF;
	if (!server->opts.server_meta_target)
		server->opts.server_meta_target = 1024;
	if (!server->opts.meta_reserve)
		server->opts.meta_reserve = SFS_SERVER_META_RESERVE_DEF;
	if (!server->opts.finalize_items)
		server->opts.finalize_items = 65536;
	if (!server->opts.max_log_trees)
		server->opts.max_log_trees = 8;
	if (!server->opts.merge_meta_target)
		server->opts.merge_meta_target = 1024;
	if (server->opts.merge_meta_target < SFS_MERGE_META_MIN)
		server->opts.merge_meta_target = SFS_MERGE_META_MIN;
	if (!server->opts.freeing_per_commit)
		server->opts.freeing_per_commit = 8;
	if (!server->opts.reconnect_ms)
		server->opts.reconnect_ms = 30000;
	/* a mount whose connection broke has as long to come back as after a failover */
	if (!server->opts.linger_ms)
		server->opts.linger_ms = server->opts.reconnect_ms;
	pthread_mutex_init(&server->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&server->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	server->queue_tail = &server->queue;
	sfs_block_writer_init(&server->wri);

	server->super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	server->stable = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!server->super || !server->stable) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sfs_super_read(fs, server->super);
	if (ret)
		goto out;
	memcpy(server->stable, server->super, SCOUTFS_BLOCK_SM_SIZE);
	/* above the super's seq and every committed item's (seq_at_least) */
	server->seq_ctr = le64toh(server->super->seq);
	ret = for_each_lt(server, max_item_seq_cb, NULL) ?:
	      find_absent(server) ?: find_dead(server, opts->dead_rids, opts->nr_dead);
	if (ret)
		goto out;
	/* FREEING items a previous server left are freed first */
	server->maint = true;
	/* allocate from the pair with more in it; the other's frees are durable */
	use_lists(server, le64toh(server->super->server_meta_avail[1].total_nr) >
					  le64toh(server->super->server_meta_avail[0].total_nr) ?
				  1 :
				  0);

	/* fence requests go under the leader's run directory (none in unit tests) */
	{
		struct sfs_fence_opts fo = { .done = server_fence_done, .arg = server,
					     .in_run_dir = true };

		ret = sfs_fence_setup(fs, &fo);
		if (ret)
			goto out;
	}

	ret = pthread_create(&server->thread, NULL, server_worker, server);
	if (ret) {
		ret = -ret;
		goto out;
	}
	server->thread_started = true;

	{
		struct sfs_lock_server_ops lops = lock_server_ops;

		lops.arg = server;
		server->locks = sfs_lock_server_create(fs, &lops);
		if (!server->locks) {
			ret = -ENOMEM;
			goto out;
		}
		/* the mounts of earlier servers tell what they hold before anything is granted */
		pthread_mutex_lock(&server->lock);
		ret = sfs_lock_server_recover_begin(server->locks, server->absent,
						    server->absent_nr);
		for (size_t i = 0; i < server->absent_nr; i++) {
			sfs_info(fs, "server: recovery prepared for rid %016llx",
				 (unsigned long long)server->absent[i]);
			sfs_inc(fs, server_recovery_prepared);
		}
		if (server->absent_nr)
			sfs_info(fs, "server: waiting up to %u ms for %zu mounts to recover their locks",
				 server->opts.reconnect_ms, server->absent_nr);
		pthread_mutex_unlock(&server->lock);
		if (ret)
			goto out;
	}

	ret = sfs_net_derive_key(server->super->uuid, nopts.key);
	if (ret)
		goto out;
	nopts.role = SFS_NET_SERVER;
	nopts.handlers = handlers;
	nopts.nr_handlers = SCOUTFS_NET_CMD__NR;
	nopts.handler_arg = server;
	nopts.linger_ms = server->opts.linger_ms;
	nopts.expired = server_session_expired;
	nopts.cb_arg = server;
	server->net = sfs_net_create(fs, &nopts);
	if (!server->net) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sfs_net_listen(server->net, opts->addr, opts->addr_len, bound);
	if (ret)
		goto out;
	sfs_info(fs, "server: started for term %llu", (unsigned long long)opts->term);
out:
	if (ret)
		sfs_server_stop(fs);
	return ret;
}

void sfs_server_stop(struct sfs_fs *fs)
{
	struct sfs_server *server = fs->server;
	struct omap_fan *fan;
	struct farewell *fw;
	struct server_op *op;

	if (!server)
		return;
	/* refuse new requests, answer the queued ones, then close the network */
	pthread_mutex_lock(&server->lock);
	server->stopping = true;
	pthread_cond_broadcast(&server->cond);
	pthread_mutex_unlock(&server->lock);
	if (server->thread_started)
		pthread_join(server->thread, NULL);
	/* no fence answer reaches the server after this (fenced mounts wait for the next) */
	sfs_fence_destroy(fs);
	while ((op = server->queue)) {
		server->queue = op->next;
		op->err = -ESHUTDOWN;
		if (op->conn) {
			sfs_net_conn_put(op->conn);
			free(op);
		} else {
			complete_op(op);
		}
	}
	/* open-inode map requests not started: the askers resend to the next server */
	while ((fan = server->omap_waiting)) {
		server->omap_waiting = fan->next;
		sfs_net_conn_put(fan->conn);
		free(fan);
	}
	/* queued lock requests go (their conns are put) while the net still runs */
	/* held farewells: the clients send them again to the next server */
	while ((fw = server->farewells)) {
		server->farewells = fw->next;
		sfs_net_conn_put(fw->conn);
		free(fw);
	}
	sfs_lock_server_destroy(server->locks);
	server->locks = NULL;
	while (server->mount_conns_nr)
		sfs_net_conn_put(server->mount_conns[--server->mount_conns_nr].conn);
	free(server->mount_conns);
	sfs_net_destroy(&server->net);
	/* anything dirty was never committed: it is not on disk */
	sfs_block_writer_forget(fs, &server->wri);
	sfs_block_writer_destroy(&server->wri);
	free(server->absent);
	free(server->dead);
	free(server->fencing);
	free(server->lost);
	free((void *)server->opts.fence_leaders);
	free(server->super);
	free(server->stable);
	pthread_cond_destroy(&server->cond);
	pthread_mutex_destroy(&server->lock);
	free(server);
	fs->server = NULL;
}
