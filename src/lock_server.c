// SPDX-License-Identifier: GPL-2.0
/*
 * The lock server (reference-scoutfs.md 4.1, 4.4).
 *
 * Model
 * -----
 * A lock is named by the first key of the key range it covers; the
 * server only ever compares names.  For each lock it keeps three lists
 * of per-mount entries:
 *
 *   granted      mounts holding a mode other than NULL
 *   invalidated  holders asked to give up to a lower mode, not yet answered
 *   requested    requests in arrival order
 *
 * process() works on the head request only.  Every holder of another
 * mount whose mode conflicts with the wanted one is asked to go down
 * (to READ when a WRITE holder meets a READ request, else to NULL) and
 * moves to invalidated.  While anything is invalidated nothing else
 * happens on that lock.  When the last answer is in, the head request is
 * granted: it replaces the mount's own entry (a READ holder upgrading to
 * WRITE is not invalidated by its own request), gets a write_seq if the
 * new mode writes, and the next request becomes the head.
 *
 *   request --> requested --(no conflict)--> granted --(conflict)--> invalidated
 *                                              ^                        |
 *                                              +------- answer ---------+
 *                                                       (NULL: gone)
 *
 * Invariants
 * ----------
 *  1. Two mounts' entries in granted are always compatible with each
 *     other (sfs_lock_modes_compatible).
 *  2. A mount has at most one entry in granted + invalidated and at
 *     most one in requested per lock (clients send one request per lock
 *     at a time).
 *  3. A request is granted only when invalidated is empty and no other
 *     mount's grant conflicts with it; requests are granted in arrival
 *     order per lock.
 *  4. write_seqs only grow: a later writer's items sort after an earlier
 *     writer's (merge.c invariant 1).
 *
 * Sending: process() runs under ls->lock and only queues what it wants
 * sent on an outbox; the outbox is emptied through the ops after the
 * lock is dropped, so an op may call back into the lock server.
 *
 * Failure: the state is in memory only.  A new server rebuilds it from
 * the clients (recovery, issue 7).  A mount that leaves loses every
 * entry (farewell): its queued requests are dropped, its invalidations
 * count as answered with NULL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/tree.h>

#include "counters.h"
#include "lock_server.h"
#include "log.h"

bool sfs_lock_modes_compatible(uint8_t a, uint8_t b)
{
	return a == SFS_LOCK_NULL || b == SFS_LOCK_NULL ||
	       (a == SFS_LOCK_READ && b == SFS_LOCK_READ) ||
	       (a == SFS_LOCK_WRITE_ONLY && b == SFS_LOCK_WRITE_ONLY);
}

uint8_t sfs_lock_invalidation_mode(uint8_t held, uint8_t wanted)
{
	return held == SFS_LOCK_WRITE && wanted == SFS_LOCK_READ ? SFS_LOCK_READ : SFS_LOCK_NULL;
}

struct entry {
	struct entry *next;
	uint64_t rid;
	uint8_t mode;		/* granted or invalidated: held; requested: wanted */
	uint8_t old_mode;	/* requested: what the mount said it holds */
	uint8_t inval_mode;	/* invalidated: what it was asked to go down to */
	void *ctx;		/* requested: the caller's */
};

struct ls_lock {
	RB_ENTRY(ls_lock) node;
	struct scoutfs_key key;
	struct entry *granted;
	struct entry *invalidated;
	struct entry *requested;	/* FIFO */
};

static int ls_lock_cmp(const struct ls_lock *a, const struct ls_lock *b)
{
	return sfs_key_cmp(&a->key, &b->key);
}

RB_HEAD(ls_tree, ls_lock);
#define RB_ATTR __attribute__((unused)) static
RB_GENERATE_INTERNAL(ls_tree, ls_lock, node, ls_lock_cmp, RB_ATTR)

enum out_kind { OUT_INVALIDATE, OUT_GRANT, OUT_DROP };

struct out {
	struct out *next;
	enum out_kind kind;
	uint64_t rid;
	void *ctx;
	struct scoutfs_net_lock nl;
};

struct sfs_lock_server {
	struct sfs_fs *fs;
	struct sfs_lock_server_ops ops;
	pthread_mutex_t lock;
	struct ls_tree tree;		/* lock */
	uint64_t nr_locks;		/* lock */
	struct out *outbox;		/* lock: FIFO, sent after unlocking */
	struct out **outbox_tail;	/* lock */
	bool oom;			/* lock: an outbox entry could not be made */
	uint64_t *recovering;		/* lock: mounts whose locks are not recovered yet */
	size_t nr_recovering;		/* lock: while non-zero, nothing is granted */
};

static void queue_out(struct sfs_lock_server *ls, enum out_kind kind, uint64_t rid, void *ctx,
		      const struct scoutfs_key *key, uint64_t write_seq, uint8_t old_mode,
		      uint8_t new_mode)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o) {
		ls->oom = true;
		return;
	}
	o->kind = kind;
	o->rid = rid;
	o->ctx = ctx;
	o->nl.key = *key;
	o->nl.write_seq = htole64(write_seq);
	o->nl.old_mode = old_mode;
	o->nl.new_mode = new_mode;
	*ls->outbox_tail = o;
	ls->outbox_tail = &o->next;
}

/* unlock, then send what was queued, in order */
static void unlock_and_send(struct sfs_lock_server *ls)
{
	struct out *o = ls->outbox, *next;
	bool oom = ls->oom;

	ls->outbox = NULL;
	ls->outbox_tail = &ls->outbox;
	ls->oom = false;
	pthread_mutex_unlock(&ls->lock);
	if (oom)
		sfs_err(ls->fs, "lock server: out of memory queueing a message; a lock may stall");
	for (; o; o = next) {
		next = o->next;
		switch (o->kind) {
		case OUT_INVALIDATE:
			sfs_inc(ls->fs, lock_server_invalidate);
			ls->ops.invalidate(ls->ops.arg, o->rid, &o->nl);
			break;
		case OUT_GRANT:
			sfs_inc(ls->fs, lock_server_grant);
			ls->ops.grant(ls->ops.arg, o->rid, o->ctx, &o->nl);
			break;
		case OUT_DROP:
			if (ls->ops.drop)
				ls->ops.drop(ls->ops.arg, o->rid, o->ctx);
			break;
		}
		free(o);
	}
}

static struct ls_lock *find_lock(struct sfs_lock_server *ls, const struct scoutfs_key *key,
				 bool create)
{
	struct ls_lock k, *l;

	k.key = *key;
	l = RB_FIND(ls_tree, &ls->tree, &k);
	if (l || !create)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->key = *key;
	RB_INSERT(ls_tree, &ls->tree, l);
	ls->nr_locks++;
	return l;
}

static void put_lock(struct sfs_lock_server *ls, struct ls_lock *l)
{
	if (l->granted || l->invalidated || l->requested)
		return;
	RB_REMOVE(ls_tree, &ls->tree, l);
	ls->nr_locks--;
	free(l);
}

/* the entry of rid on list *head, unlinked; NULL if none */
static struct entry *take_entry(struct entry **head, uint64_t rid)
{
	struct entry **p, *e;

	for (p = head; (e = *p); p = &e->next) {
		if (e->rid == rid) {
			*p = e->next;
			e->next = NULL;
			return e;
		}
	}
	return NULL;
}

static struct entry *find_entry(struct entry *head, uint64_t rid)
{
	for (; head; head = head->next)
		if (head->rid == rid)
			return head;
	return NULL;
}

static void push_entry(struct entry **head, struct entry *e)
{
	e->next = *head;
	*head = e;
}

static void append_entry(struct entry **head, struct entry *e)
{
	while (*head)
		head = &(*head)->next;
	e->next = NULL;
	*head = e;
}

static void process(struct sfs_lock_server *ls, struct ls_lock *l)
{
	struct entry *req, *g, **p, *mine;
	uint64_t seq;

	/* after a server change, requests wait until every holder told what it holds */
	if (ls->nr_recovering)
		return;
	while ((req = l->requested)) {
		/* the conflicting holders of other mounts are asked to go down */
		for (p = &l->granted; (g = *p);) {
			if (g->rid == req->rid || sfs_lock_modes_compatible(g->mode, req->mode)) {
				p = &g->next;
				continue;
			}
			*p = g->next;
			g->inval_mode = sfs_lock_invalidation_mode(g->mode, req->mode);
			push_entry(&l->invalidated, g);
			queue_out(ls, OUT_INVALIDATE, g->rid, NULL, &l->key, 0, g->mode,
				  g->inval_mode);
		}
		if (l->invalidated)
			return;	/* until every answer is in */

		l->requested = req->next;
		seq = (req->mode == SFS_LOCK_WRITE || req->mode == SFS_LOCK_WRITE_ONLY) ?
		      ls->ops.next_write_seq(ls->ops.arg) : 0;
		queue_out(ls, OUT_GRANT, req->rid, req->ctx, &l->key, seq, req->old_mode,
			  req->mode);
		mine = take_entry(&l->granted, req->rid);
		free(mine);
		if (req->mode != SFS_LOCK_NULL) {
			req->ctx = NULL;
			push_entry(&l->granted, req);
		} else {
			free(req);
		}
	}
}

struct sfs_lock_server *sfs_lock_server_create(struct sfs_fs *fs,
					       const struct sfs_lock_server_ops *ops)
{
	struct sfs_lock_server *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->fs = fs;
	ls->ops = *ops;
	pthread_mutex_init(&ls->lock, NULL);
	RB_INIT(&ls->tree);
	ls->outbox_tail = &ls->outbox;
	return ls;
}

static void free_list(struct entry *e)
{
	struct entry *next;

	for (; e; e = next) {
		next = e->next;
		free(e);
	}
}

void sfs_lock_server_destroy(struct sfs_lock_server *ls)
{
	struct ls_lock *l;
	struct entry *e;

	if (!ls)
		return;
	pthread_mutex_lock(&ls->lock);
	while ((l = RB_MIN(ls_tree, &ls->tree))) {
		RB_REMOVE(ls_tree, &ls->tree, l);
		for (e = l->requested; e; e = e->next)
			queue_out(ls, OUT_DROP, e->rid, e->ctx, &l->key, 0, 0, 0);
		free_list(l->requested);
		free_list(l->granted);
		free_list(l->invalidated);
		free(l);
	}
	ls->nr_locks = 0;
	unlock_and_send(ls);
	pthread_mutex_destroy(&ls->lock);
	free(ls->recovering);
	free(ls);
}

static bool mode_valid(uint8_t mode)
{
	return mode < SFS_LOCK_NR_MODES;
}

int sfs_lock_server_request(struct sfs_lock_server *ls, uint64_t rid,
			    const struct scoutfs_net_lock *nl, void *ctx)
{
	struct entry *e, *old;
	struct ls_lock *l;

	if (!mode_valid(nl->old_mode) || !mode_valid(nl->new_mode))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->rid = rid;
	e->mode = nl->new_mode;
	e->old_mode = nl->old_mode;
	e->ctx = ctx;

	pthread_mutex_lock(&ls->lock);
	l = find_lock(ls, &nl->key, true);
	if (!l) {
		pthread_mutex_unlock(&ls->lock);
		free(e);
		return -ENOMEM;
	}
	/*
	 * A mount asks once per lock at a time: a request already queued is
	 * from a session the mount lost (it failed the request on its side
	 * and asks again); the new one takes its place in the queue.
	 */
	old = find_entry(l->requested, rid);
	if (old) {
		queue_out(ls, OUT_DROP, rid, old->ctx, &l->key, 0, 0, 0);
		old->ctx = ctx;
		old->mode = e->mode;
		old->old_mode = e->old_mode;
		free(e);
		sfs_inc(ls->fs, lock_server_request_replaced);
		process(ls, l);
		put_lock(ls, l);
		unlock_and_send(ls);
		return 0;
	}
	sfs_inc(ls->fs, lock_server_request);
	append_entry(&l->requested, e);
	process(ls, l);
	put_lock(ls, l);
	unlock_and_send(ls);
	return 0;
}

void sfs_lock_server_response(struct sfs_lock_server *ls, uint64_t rid,
			      const struct scoutfs_net_lock *nl)
{
	struct ls_lock *l;
	struct entry *e;

	pthread_mutex_lock(&ls->lock);
	l = find_lock(ls, &nl->key, false);
	e = l ? find_entry(l->invalidated, rid) : NULL;
	if (!e || e->inval_mode != nl->new_mode) {
		sfs_inc(ls->fs, lock_server_stray_response);
		pthread_mutex_unlock(&ls->lock);
		return;
	}
	e = take_entry(&l->invalidated, rid);
	sfs_inc(ls->fs, lock_server_response);
	if (e->inval_mode != SFS_LOCK_NULL) {
		e->mode = e->inval_mode;
		push_entry(&l->granted, e);
	} else {
		free(e);
	}
	process(ls, l);
	put_lock(ls, l);
	unlock_and_send(ls);
}

/* every lock with requests: after recovery ends */
static void process_all(struct sfs_lock_server *ls)
{
	struct ls_lock *l, *next;

	for (l = RB_MIN(ls_tree, &ls->tree); l; l = next) {
		next = RB_NEXT(ls_tree, &ls->tree, l);
		process(ls, l);
		put_lock(ls, l);
	}
}

/* lock held: rid is recovered or gone; true if it was the last */
static bool recovered(struct sfs_lock_server *ls, uint64_t rid)
{
	size_t i;

	for (i = 0; i < ls->nr_recovering; i++) {
		if (ls->recovering[i] == rid) {
			ls->recovering[i] = ls->recovering[--ls->nr_recovering];
			return ls->nr_recovering == 0;
		}
	}
	return false;
}

int sfs_lock_server_recover_begin(struct sfs_lock_server *ls, const uint64_t *rids, size_t nr)
{
	uint64_t *r = NULL;

	if (nr && !(r = malloc(nr * sizeof(*r))))
		return -ENOMEM;
	if (nr)
		memcpy(r, rids, nr * sizeof(*r));
	pthread_mutex_lock(&ls->lock);
	free(ls->recovering);
	ls->recovering = r;
	ls->nr_recovering = nr;
	pthread_mutex_unlock(&ls->lock);
	return 0;
}

int sfs_lock_server_recover(struct sfs_lock_server *ls, uint64_t rid,
			    const struct scoutfs_net_lock *nl)
{
	struct entry *e, *g;
	struct ls_lock *l;
	int ret = 0;

	if (!mode_valid(nl->new_mode) || nl->new_mode == SFS_LOCK_NULL)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->rid = rid;
	e->mode = nl->new_mode;

	pthread_mutex_lock(&ls->lock);
	l = find_lock(ls, &nl->key, true);
	if (!l) {
		pthread_mutex_unlock(&ls->lock);
		free(e);
		return -ENOMEM;
	}
	for (g = l->granted; g; g = g->next) {
		if (g->rid != rid && !sfs_lock_modes_compatible(g->mode, e->mode)) {
			/* two mounts claim what they cannot both hold: say so, keep both */
			sfs_err(ls->fs, "lock server: rid %016llx recovers mode %u of a lock rid %016llx holds in %u",
				(unsigned long long)rid, e->mode, (unsigned long long)g->rid, g->mode);
			ret = -EINVAL;
		}
	}
	free(take_entry(&l->granted, rid));
	push_entry(&l->granted, e);
	sfs_inc(ls->fs, lock_server_recovered);
	pthread_mutex_unlock(&ls->lock);
	return ret;
}

void sfs_lock_server_recover_done(struct sfs_lock_server *ls, uint64_t rid)
{
	pthread_mutex_lock(&ls->lock);
	if (recovered(ls, rid))
		process_all(ls);
	unlock_and_send(ls);
}

void sfs_lock_server_reconnected(struct sfs_lock_server *ls, uint64_t rid)
{
	struct ls_lock *l;
	struct entry *e;

	pthread_mutex_lock(&ls->lock);
	for (l = RB_MIN(ls_tree, &ls->tree); l; l = RB_NEXT(ls_tree, &ls->tree, l)) {
		/* an invalidation (or its answer) went with the old session */
		e = find_entry(l->invalidated, rid);
		if (e)
			queue_out(ls, OUT_INVALIDATE, rid, NULL, &l->key, 0, e->mode, e->inval_mode);
	}
	unlock_and_send(ls);
}

size_t sfs_lock_server_nr_recovering(struct sfs_lock_server *ls)
{
	size_t nr;

	pthread_mutex_lock(&ls->lock);
	nr = ls->nr_recovering;
	pthread_mutex_unlock(&ls->lock);
	return nr;
}

void sfs_lock_server_farewell(struct sfs_lock_server *ls, uint64_t rid)
{
	struct ls_lock *l, *next;
	struct entry *e;

	pthread_mutex_lock(&ls->lock);
	recovered(ls, rid);
	for (l = RB_MIN(ls_tree, &ls->tree); l; l = next) {
		next = RB_NEXT(ls_tree, &ls->tree, l);
		free(take_entry(&l->granted, rid));
		free(take_entry(&l->invalidated, rid));
		while ((e = take_entry(&l->requested, rid))) {
			queue_out(ls, OUT_DROP, rid, e->ctx, &l->key, 0, 0, 0);
			free(e);
		}
		process(ls, l);
		put_lock(ls, l);
	}
	unlock_and_send(ls);
}

uint8_t sfs_lock_server_mode(struct sfs_lock_server *ls, uint64_t rid,
			     const struct scoutfs_key *key)
{
	struct ls_lock *l;
	struct entry *e = NULL;
	uint8_t mode;

	pthread_mutex_lock(&ls->lock);
	l = find_lock(ls, key, false);
	if (l && !(e = find_entry(l->granted, rid)))
		e = find_entry(l->invalidated, rid);
	mode = e ? e->mode : SFS_LOCK_NULL;
	pthread_mutex_unlock(&ls->lock);
	return mode;
}

uint64_t sfs_lock_server_nr_locks(struct sfs_lock_server *ls)
{
	uint64_t nr;

	pthread_mutex_lock(&ls->lock);
	nr = ls->nr_locks;
	pthread_mutex_unlock(&ls->lock);
	return nr;
}
