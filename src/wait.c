// SPDX-License-Identifier: GPL-2.0
/*
 * Parked FUSE requests waiting for offline data (see wait.h).
 *
 * Waiters live in a tree ordered by (ino, iblock, id) under one lock.
 * Exactly one of wake, error, interrupt or destroy takes a waiter out of
 * the tree, and whoever does answers (or re-runs) its request: the lock
 * decides.  The interrupt callback may run on a libfuse thread at any
 * time after registration, even inside fuse_req_interrupt_func() when the
 * interrupt came first, so it is registered after the waiter is in the
 * tree and with no lock held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <bsd/sys/tree.h>

#include "counters.h"
#include "fs_int.h"
#include "log.h"
#include "wait.h"

struct waiter {
	RB_ENTRY(waiter) node;
	uint64_t ino;
	uint64_t iblock;
	uint64_t id;
	unsigned int op;
	fuse_req_t req;
	sfs_wait_retry_fn retry;
	size_t size;
	uint64_t off;
	struct waiter *next;	/* on a list taken out of the tree */
};

static int waiter_cmp(const struct waiter *a, const struct waiter *b)
{
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (a->iblock != b->iblock)
		return a->iblock < b->iblock ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

RB_HEAD(waiter_tree, waiter);
/* libbsd's RB_GENERATE_STATIC leaves the unused functions unmarked: mark them */
#define RB_ATTR __attribute__((unused)) static
RB_GENERATE_INTERNAL(waiter_tree, waiter, node, waiter_cmp, RB_ATTR)

/*
 * An error data-wait-err gave: requests that park on its blocks soon
 * after get it at once.  The kernel answers a failed readahead by reading
 * the page again, which would park anew; the reader must see the error.
 */
#define STICKY_NS (2ULL * 1000 * 1000 * 1000)

struct sticky {
	struct sticky *next;
	uint64_t ino;
	uint64_t first;
	uint64_t last;
	unsigned int ops;
	int err;
	uint64_t until;		/* CLOCK_MONOTONIC ns */
};

struct sfs_waits {
	pthread_mutex_t lock;
	struct waiter_tree tree;
	uint64_t next_id;
	uint64_t nr;
	struct sticky *sticky;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* the error a request parking now gets instead, or 0; prunes expired ones */
static int sticky_err_locked(struct sfs_waits *w, uint64_t ino, uint64_t iblock, unsigned int op)
{
	struct sticky **pos = &w->sticky, *st;
	uint64_t now = now_ns();
	int err = 0;

	while ((st = *pos)) {
		if (st->until <= now) {
			*pos = st->next;
			free(st);
			continue;
		}
		if (!err && st->ino == ino && iblock >= st->first && iblock <= st->last &&
		    (st->ops & op))
			err = st->err;
		pos = &st->next;
	}
	return err;
}

int sfs_waits_setup(struct sfs_fuse *sf)
{
	struct sfs_waits *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	RB_INIT(&w->tree);
	sf->waits = w;
	return 0;
}

void sfs_waits_destroy(struct sfs_fuse *sf)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	while (w->sticky) {
		struct sticky *st = w->sticky;

		w->sticky = st->next;
		free(st);
	}
	while ((wt = RB_MIN(waiter_tree, &w->tree))) {
		RB_REMOVE(waiter_tree, &w->tree, wt);
		pthread_mutex_unlock(&w->lock);
		fuse_reply_err(wt->req, EIO);
		free(wt);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	free(w);
	sf->waits = NULL;
}

/*
 * The kernel interrupted a parked request.  Its waiter is found by id
 * (arg), never by pointer: it may have been answered and freed already.
 * Interrupts are rare, so a scan is fine.
 */
static void interrupted(fuse_req_t req, void *arg)
{
	struct sfs_fuse *sf = fuse_req_userdata(req);
	struct sfs_waits *w = sf->waits;
	uint64_t id = (uint64_t)(uintptr_t)arg;
	struct waiter *wt;

	pthread_mutex_lock(&w->lock);
	RB_FOREACH(wt, waiter_tree, &w->tree) {
		if (wt->id == id)
			break;
	}
	if (wt) {
		RB_REMOVE(waiter_tree, &w->tree, wt);
		w->nr--;
	}
	pthread_mutex_unlock(&w->lock);
	if (wt) {
		sfs_inc(sf->fs, data_wait_interrupted);
		fuse_reply_err(wt->req, EINTR);
		free(wt);
	}
}

int sfs_wait_park(struct sfs_fuse *sf, fuse_req_t req, uint64_t ino, uint64_t iblock,
		  unsigned int op, sfs_wait_retry_fn retry, size_t size, uint64_t off)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt = calloc(1, sizeof(*wt));
	uint64_t id;
	int err;

	if (!wt)
		return -ENOMEM;
	*wt = (struct waiter){ .ino = ino, .iblock = iblock, .op = op, .req = req,
			       .retry = retry, .size = size, .off = off };
	pthread_mutex_lock(&w->lock);
	err = sticky_err_locked(w, ino, iblock, op);
	if (err) {
		pthread_mutex_unlock(&w->lock);
		free(wt);
		return err;
	}
	id = wt->id = ++w->next_id;
	RB_INSERT(waiter_tree, &w->tree, wt);
	w->nr++;
	pthread_mutex_unlock(&w->lock);
	sfs_inc(sf->fs, data_wait);
	/* wt may be gone from here on (woken on another thread) */
	fuse_req_interrupt_func(req, interrupted, (void *)(uintptr_t)id);
	return 0;
}

/* take the waiters of ino with blocks in [first, last] and an op in ops: a list */
static struct waiter *take(struct sfs_waits *w, uint64_t ino, uint64_t first, uint64_t last,
			   unsigned int ops)
{
	struct waiter key = { .ino = ino, .iblock = first, .id = 0 };
	struct waiter *wt, *nx, *list = NULL, **tail = &list;

	pthread_mutex_lock(&w->lock);
	for (wt = RB_NFIND(waiter_tree, &w->tree, &key); wt && wt->ino == ino &&
	     wt->iblock <= last; wt = nx) {
		nx = RB_NEXT(waiter_tree, &w->tree, wt);
		if (!(wt->op & ops))
			continue;
		RB_REMOVE(waiter_tree, &w->tree, wt);
		w->nr--;
		*tail = wt;
		tail = &wt->next;
	}
	*tail = NULL;
	pthread_mutex_unlock(&w->lock);
	return list;
}

void sfs_wait_wake(struct sfs_fuse *sf, uint64_t ino)
{
	struct waiter *wt, *nx;

	for (wt = take(sf->waits, ino, 0, UINT64_MAX, ~0U); wt; wt = nx) {
		nx = wt->next;
		sfs_inc(sf->fs, data_wait_retry);
		/* runs the op again: it answers, or parks again */
		wt->retry(wt->req, wt->ino, wt->size, wt->off);
		free(wt);
	}
}

unsigned int sfs_wait_err(struct sfs_fuse *sf, uint64_t ino, uint64_t first, uint64_t last,
			  unsigned int ops, int err)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt, *nx;
	struct sticky *st;
	unsigned int n = 0;

	st = calloc(1, sizeof(*st));
	if (st) {
		*st = (struct sticky){ .ino = ino, .first = first, .last = last, .ops = ops,
				       .err = err, .until = now_ns() + STICKY_NS };
		pthread_mutex_lock(&w->lock);
		sticky_err_locked(w, 0, 0, 0);	/* prune */
		st->next = w->sticky;
		w->sticky = st;
		pthread_mutex_unlock(&w->lock);
	}
	for (wt = take(w, ino, first, last, ops); wt; wt = nx) {
		nx = wt->next;
		fuse_reply_err(wt->req, -err);
		free(wt);
		n++;
	}
	return n;
}

unsigned int sfs_wait_list(struct sfs_fuse *sf, uint64_t ino, uint64_t iblock,
			   struct sfs_wait_ent *ents, unsigned int nr)
{
	struct sfs_waits *w = sf->waits;
	struct waiter key = { .ino = ino, .iblock = iblock, .id = UINT64_MAX };
	struct waiter *wt;
	unsigned int n = 0;

	pthread_mutex_lock(&w->lock);
	/* strictly after (ino, iblock): several waiters of one block show once each */
	for (wt = RB_NFIND(waiter_tree, &w->tree, &key); wt && n < nr;
	     wt = RB_NEXT(waiter_tree, &w->tree, wt)) {
		if (wt->ino == ino && wt->iblock == iblock)
			continue;
		ents[n].ino = wt->ino;
		ents[n].iblock = wt->iblock;
		ents[n].op = (uint8_t)wt->op;
		n++;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}
