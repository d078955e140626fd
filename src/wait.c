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
 * tree and with no lock held.  The kernel sends no INTERRUPT for
 * background requests (most reads), so a watcher thread also answers
 * EINTR to waiters whose process is gone or has a signal pending.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	pid_t pid;		/* the process that asked (0: unknown) */
	fuse_req_t req;
	sfs_wait_retry_fn retry;
	size_t size;
	uint64_t off;
	char *buf;		/* a parked write's bytes */
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

	/* the watcher: answers waiters whose process is gone or signalled */
	pthread_t watcher;
	bool watcher_started;
	bool stopping;			/* lock */
	bool closed;			/* lock: new waiters get EIO */
	pthread_cond_t cond;		/* stopping */
};

static void waiter_free(struct waiter *wt)
{
	free(wt->buf);
	free(wt);
}

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

static void *watcher_thread(void *arg);

int sfs_waits_setup(struct sfs_fuse *sf)
{
	struct sfs_waits *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	RB_INIT(&w->tree);
	sf->waits = w;
	w->watcher_started = pthread_create(&w->watcher, NULL, watcher_thread, sf) == 0;
	if (!w->watcher_started)
		sfs_err(sf->fs, "data waiting: no watcher thread: interrupted readers of "
				"offline data wait until it is staged");
	return 0;
}

void sfs_waits_close(struct sfs_fuse *sf)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->closed = true;
	while ((wt = RB_MIN(waiter_tree, &w->tree))) {
		RB_REMOVE(waiter_tree, &w->tree, wt);
		w->nr--;
		pthread_mutex_unlock(&w->lock);
		fuse_reply_err(wt->req, EIO);
		waiter_free(wt);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

void sfs_waits_destroy(struct sfs_fuse *sf)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt;

	if (!w)
		return;
	if (w->watcher_started) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->watcher, NULL);
	}
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
		waiter_free(wt);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	sf->waits = NULL;
}

/* take the waiter with this id out of the tree, NULL if it was answered */
static struct waiter *take_id(struct sfs_waits *w, uint64_t id)
{
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
	return wt;
}

static void answer_eintr(struct sfs_fuse *sf, struct waiter *wt)
{
	sfs_inc(sf->fs, data_wait_interrupted);
	fuse_reply_err(wt->req, EINTR);
	waiter_free(wt);
}

/*
 * The kernel interrupted a parked request (it does so only for requests
 * a task waits on synchronously).  Its waiter is found by id (arg), never
 * by pointer: it may have been answered and freed already.  Interrupts
 * are rare, so a scan is fine.
 */
static void interrupted(fuse_req_t req, void *arg)
{
	struct sfs_fuse *sf = fuse_req_userdata(req);
	struct waiter *wt = take_id(sf->waits, (uint64_t)(uintptr_t)arg);

	if (wt)
		answer_eintr(sf, wt);
}

/*
 * Does process pid no longer wait for us: gone, or with a signal pending?
 * Reads are mostly sent as background requests (readahead, asynchronous
 * direct I/O), for which the kernel sends no INTERRUPT and its task waits
 * uninterruptibly: a signalled reader would stay until the data is
 * staged.  A pending signal in /proc/PID/status (SigPnd, ShdPnd) tells us
 * the task wants to go.
 */
static bool process_left(pid_t pid)
{
	unsigned long long v, pnd = 0, blk = 0;
	char path[64], line[256];
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SigPnd: %llx", &v) == 1 || sscanf(line, "ShdPnd: %llx", &v) == 1)
			pnd |= v;
		else if (sscanf(line, "SigBlk: %llx", &v) == 1)
			blk = v;
	}
	fclose(f);
	/* a signal it does not block, or SIGKILL (which cannot be blocked) */
	return (pnd & ~blk) || (pnd & (1ULL << (SIGKILL - 1)));
}

#define WATCH_MS 250
#define WATCH_MAX 256

static void *watcher_thread(void *arg)
{
	struct sfs_fuse *sf = arg;
	struct sfs_waits *w = sf->waits;
	struct { uint64_t id; pid_t pid; } seen[WATCH_MAX];
	struct waiter *wt;
	struct timespec ts;
	uint64_t start = 0, k;
	unsigned int n, i;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		if (w->stopping || w->nr == 0)
			continue;
		/* WATCH_MAX waiters a round, moving on through the tree */
		if (start >= w->nr)
			start = 0;
		n = 0;
		k = 0;
		RB_FOREACH(wt, waiter_tree, &w->tree) {
			if (k++ < start)
				continue;
			seen[n].id = wt->id;
			seen[n].pid = wt->pid;
			if (++n == WATCH_MAX)
				break;
		}
		start += n;
		pthread_mutex_unlock(&w->lock);
		for (i = 0; i < n; i++) {
			if (process_left(seen[i].pid) && (wt = take_id(w, seen[i].id)))
				answer_eintr(sf, wt);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}


int sfs_wait_park(struct sfs_fuse *sf, fuse_req_t req, uint64_t ino, uint64_t iblock,
		  unsigned int op, sfs_wait_retry_fn retry, size_t size, uint64_t off,
		  const char *buf)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt = calloc(1, sizeof(*wt));
	char task[64];
	uint64_t id;
	int err;

	if (!wt)
		return -ENOMEM;
	*wt = (struct waiter){ .ino = ino, .iblock = iblock, .op = op, .req = req,
			       .retry = retry, .size = size, .off = off,
			       .pid = fuse_req_ctx(req)->pid };
	if (buf) {
		wt->buf = malloc(size ? size : 1);
		if (!wt->buf) {
			waiter_free(wt);
			return -ENOMEM;
		}
		memcpy(wt->buf, buf, size);
	}
	/*
	 * A thread of this daemon reading its own mount's offline data (a
	 * stage or move from a file of the same mount) would wait for
	 * itself: it fails instead.
	 */
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)wt->pid);
	if (wt->pid > 0 && access(task, F_OK) == 0) {
		sfs_warn(sf->fs, "inode %llu block %llu: the daemon itself reads offline data "
			 "(staging from an offline file of this mount?): it fails",
			 (unsigned long long)ino, (unsigned long long)iblock);
		waiter_free(wt);
		return -EDEADLK;
	}
	pthread_mutex_lock(&w->lock);
	err = w->closed ? -EIO : sticky_err_locked(w, ino, iblock, op);
	if (err) {
		pthread_mutex_unlock(&w->lock);
		waiter_free(wt);
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
		wt->retry(wt->req, wt->ino, wt->size, wt->off, wt->buf);
		waiter_free(wt);
	}
}

unsigned int sfs_wait_err(struct sfs_fuse *sf, uint64_t ino, uint64_t first, uint64_t last,
			  unsigned int ops, int err)
{
	struct sfs_waits *w = sf->waits;
	struct waiter *wt, *nx, *list;
	struct sticky *st;
	unsigned int n = 0;

	/*
	 * When it fails waiters, the kernel may ask again for what a failed
	 * readahead covered: that gets the error too for a while (armed
	 * before anyone is answered).  Matching no waiter, it changes
	 * nothing, as the reference's.
	 */
	list = take(w, ino, first, last, ops);
	st = list ? calloc(1, sizeof(*st)) : NULL;
	if (st) {
		*st = (struct sticky){ .ino = ino, .first = first, .last = last, .ops = ops,
				       .err = err, .until = now_ns() + STICKY_NS };
		pthread_mutex_lock(&w->lock);
		sticky_err_locked(w, 0, 0, 0);	/* prune */
		st->next = w->sticky;
		w->sticky = st;
		pthread_mutex_unlock(&w->lock);
	}
	for (wt = list; wt; wt = nx) {
		nx = wt->next;
		fuse_reply_err(wt->req, -err);
		waiter_free(wt);
		n++;
	}
	return n;
}

bool sfs_wait_has(struct sfs_fuse *sf, uint64_t ino)
{
	struct sfs_waits *w = sf->waits;
	struct waiter key = { .ino = ino, .iblock = 0, .id = 0 }, *wt;
	bool has;

	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	wt = RB_NFIND(waiter_tree, &w->tree, &key);
	has = wt && wt->ino == ino;
	pthread_mutex_unlock(&w->lock);
	return has;
}

unsigned int sfs_wait_list(struct sfs_fuse *sf, uint64_t ino, uint64_t iblock,
			   struct sfs_wait_ent *ents, unsigned int nr)
{
	struct sfs_waits *w = sf->waits;
	struct waiter key = { .ino = ino, .iblock = iblock, .id = UINT64_MAX };
	struct waiter *wt;
	unsigned int n = 0;

	pthread_mutex_lock(&w->lock);
	/*
	 * Strictly after (ino, iblock); one entry per block, with the ops of
	 * all its waiters, as the reference lists them.
	 */
	for (wt = RB_NFIND(waiter_tree, &w->tree, &key); wt;
	     wt = RB_NEXT(waiter_tree, &w->tree, wt)) {
		if (wt->ino == ino && wt->iblock == iblock)
			continue;
		if (n && ents[n - 1].ino == wt->ino && ents[n - 1].iblock == wt->iblock) {
			ents[n - 1].op |= (uint8_t)wt->op;
			continue;
		}
		if (n == nr)
			break;
		ents[n].ino = wt->ino;
		ents[n].iblock = wt->iblock;
		ents[n].op = (uint8_t)wt->op;
		n++;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}
