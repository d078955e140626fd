// SPDX-License-Identifier: GPL-2.0
/*
 * Cluster locks, the mount's side (reference-scoutfs.md 4.3).
 *
 * Model
 * -----
 * A struct sfs_lock per lock name this mount knows: the mode the server
 * granted, a count of users per mode, at most one LOCK request in
 * flight, and the server's invalidations in arrival order.
 *
 *   sfs_lock_get(mode):  granted mode allows it?  count a user, return.
 *                        else send one request (old = granted, new =
 *                        mode) and wait for its grant (net thread:
 *                        grant_resp sets mode and write_seq, wakes).
 *   sfs_lock_put(mode):  uncount; a lock with no users goes on the idle
 *                        list (oldest given back past idle_count).
 *   invalidation:        the server's LOCK request (net thread) is
 *                        queued on the lock and on the worker's list.
 *                        The worker waits until no user holds a mode the
 *                        new mode does not allow, sets the mode (so no
 *                        such user can start), runs ops.invalidate with
 *                        no lock held, then answers.
 *
 * A granted mode allows a user's mode when they are equal, or when WRITE
 * is granted and READ wanted.  Going up from a granted mode to one that
 * does not allow the current users (READ users, WRITE_ONLY wanted) first
 * waits for those users to finish; while a request is in flight a new
 * user starts only if the requested mode allows it too (the grant will
 * replace the mode the server knows us by).
 *
 * Invariants
 * ----------
 *  1. users[m] > 0 only while the granted mode allows m.
 *  2. At most one request per lock is in flight (request_pending), so
 *     the server sees one request per lock from us at a time.
 *  3. Invalidations of a lock are answered in the order they came.
 *  4. A lock with users, a caller of sfs_lock_get, a request in flight
 *     or invalidations queued is never freed; an idle lock is freed only
 *     once the server has granted it back to NULL.
 *
 * Locking: locks->mutex protects everything here; one condition
 * variable wakes waiting users and the workers.  Nothing sends or
 * calls ops with it held, except sfs_net_request (which only queues).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/sys/tree.h>

#include "client.h"
#include "counters.h"
#include "fence.h"
#include "lock.h"
#include "log.h"

/* a lock's name in messages: zone.first.type.second.third */
#define SK_FMT "%u.%llu.%u.%llu.%llu"
#define SK_ARG(k)                                                                    \
	(k)->sk_zone, (unsigned long long)le64toh((k)->_sk_first), (k)->sk_type,    \
		(unsigned long long)le64toh((k)->_sk_second),                        \
		(unsigned long long)le64toh((k)->_sk_third)

struct inval {
	struct inval *next;		/* on the lock's list */
	struct inval *work_next;	/* on the worker's list */
	struct sfs_net_conn *conn;	/* referenced */
	uint64_t req_id;
	struct scoutfs_net_lock nl;
	struct sfs_lock *lock;		/* NULL: a lock we do not have */
};

struct sfs_lock {
	RB_ENTRY(sfs_lock) node;
	struct sfs_item_range range;
	uint8_t mode;			/* granted */
	uint64_t users[SFS_LOCK_NR_MODES];
	uint64_t write_seq;
	uint64_t written_seq;		/* the last transaction that wrote under it */
	bool request_pending;
	uint8_t req_mode;		/* what the request in flight asks for */
	uint64_t getters;		/* sfs_lock_get calls working on it */
	int request_err;		/* the last request's error, for its waiter */
	uint64_t grants;		/* bumped by every grant */
	struct inval *invals;		/* FIFO */
	bool idle;			/* on the idle list */
	struct sfs_lock *idle_prev, *idle_next;
	uint64_t sent_us;		/* when the request in flight was sent */
	uint8_t inval_from;		/* the mode an invalidation under way lowered it from */
	bool inval_running;		/* an invalidation lowered the mode and is not answered */
	bool have_roots;		/* roots came with the grant that made it readable */
	uint64_t roots_gen;		/* ops.roots_gen as that grant arrived */
	struct scoutfs_net_roots roots;
};

static int lock_cmp(const struct sfs_lock *a, const struct sfs_lock *b)
{
	return sfs_key_cmp(&a->range.start, &b->range.start);
}

RB_HEAD(lock_tree, sfs_lock);
#define RB_ATTR __attribute__((unused)) static
RB_GENERATE_INTERNAL(lock_tree, sfs_lock, node, lock_cmp, RB_ATTR)

struct sfs_locks {
	struct sfs_fs *fs;
	struct sfs_lock_opts opts;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	struct lock_tree tree;
	uint64_t nr_locks;
	struct sfs_lock *idle_head, *idle_tail;	/* oldest first */
	uint64_t nr_idle;
	struct inval *work, **work_tail;	/* invalidations to run, in order */
	bool stopping;
	uint64_t outstanding;		/* requests whose grant_resp has not run */
	uint64_t max_write_seq;		/* the greatest write_seq granted: atomic */
	bool zombie;			/* destroyed: the last grant_resp frees it */
	pthread_t workers[SFS_LOCK_WORKERS_MAX];
	unsigned int nr_workers;
};

static void free_locks(struct sfs_locks *ls)
{
	pthread_cond_destroy(&ls->cond);
	pthread_mutex_destroy(&ls->mutex);
	free(ls);
}

struct sfs_item_range sfs_lock_name_ino(uint64_t ino)
{
	uint64_t first = ino & ~SCOUTFS_LOCK_INODE_GROUP_MASK;
	struct sfs_item_range n = {
		.start = sfs_key_make(SCOUTFS_FS_ZONE, first, 0, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_FS_ZONE, first | SCOUTFS_LOCK_INODE_GROUP_MASK, UINT8_MAX,
				    UINT64_MAX, UINT64_MAX, UINT8_MAX),
	};

	return n;
}

struct sfs_item_range sfs_lock_name_index(uint8_t type, uint64_t seq)
{
	uint64_t first = seq & ~SCOUTFS_LOCK_SEQ_GROUP_MASK;
	struct sfs_item_range n = {
		.start = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, type, first, 0, 0),
		.end = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, type,
				    first | SCOUTFS_LOCK_SEQ_GROUP_MASK, UINT64_MAX, UINT8_MAX),
	};

	return n;
}

struct sfs_item_range sfs_lock_name_zone(uint8_t zone)
{
	struct sfs_item_range n = {
		.start = sfs_key_make(zone, 0, 0, 0, 0, 0),
		.end = sfs_key_make(zone, UINT64_MAX, UINT8_MAX, UINT64_MAX, UINT64_MAX, UINT8_MAX),
	};

	return n;
}

struct sfs_item_range sfs_lock_name_rename(void)
{
	struct sfs_item_range n = {
		.start = sfs_key_make(SCOUTFS_LOCK_ZONE, 0, SCOUTFS_RENAME_TYPE, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_LOCK_ZONE, 0, SCOUTFS_RENAME_TYPE, 0, 0, 0),
	};

	return n;
}

static struct sfs_locks *locks_of(struct sfs_fs *fs)
{
	return fs->locks;
}

static bool mode_allows(uint8_t granted, uint8_t want)
{
	return granted == want || (granted == SFS_LOCK_WRITE && want == SFS_LOCK_READ);
}

static bool users_allowed(const struct sfs_lock *lock, uint8_t mode)
{
	int m;

	for (m = SFS_LOCK_READ; m < SFS_LOCK_NR_MODES; m++)
		if (lock->users[m] && !mode_allows(mode, (uint8_t)m))
			return false;
	return true;
}

static bool has_users(const struct sfs_lock *lock)
{
	int m;

	for (m = 0; m < SFS_LOCK_NR_MODES; m++)
		if (lock->users[m])
			return true;
	return false;
}

static void idle_remove(struct sfs_locks *ls, struct sfs_lock *lock)
{
	if (!lock->idle)
		return;
	if (lock->idle_prev)
		lock->idle_prev->idle_next = lock->idle_next;
	else
		ls->idle_head = lock->idle_next;
	if (lock->idle_next)
		lock->idle_next->idle_prev = lock->idle_prev;
	else
		ls->idle_tail = lock->idle_prev;
	lock->idle_prev = lock->idle_next = NULL;
	lock->idle = false;
	ls->nr_idle--;
}

static void idle_add(struct sfs_locks *ls, struct sfs_lock *lock)
{
	if (lock->idle)
		return;
	lock->idle_prev = ls->idle_tail;
	lock->idle_next = NULL;
	if (ls->idle_tail)
		ls->idle_tail->idle_next = lock;
	else
		ls->idle_head = lock;
	ls->idle_tail = lock;
	lock->idle = true;
	ls->nr_idle++;
}

/* nothing refers to it and the server thinks we hold nothing: it goes */
static void maybe_free(struct sfs_locks *ls, struct sfs_lock *lock)
{
	if (lock->mode != SFS_LOCK_NULL || has_users(lock) || lock->request_pending ||
	    lock->invals || lock->getters)
		return;
	idle_remove(ls, lock);
	RB_REMOVE(lock_tree, &ls->tree, lock);
	ls->nr_locks--;
	free(lock);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct req_ctx {
	struct sfs_locks *ls;
	struct sfs_lock *lock;
};

/* net thread: the server granted (or failed) our request */
static void grant_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct req_ctx *rc = arg;
	struct sfs_locks *ls = rc->ls;
	struct sfs_lock *lock = rc->lock;
	const struct scoutfs_net_lock_grant *g = data;
	const struct scoutfs_net_lock *nl = data;

	free(rc);
	pthread_mutex_lock(&ls->mutex);
	ls->outstanding--;
	if (ls->zombie) {
		/* destroyed while this was in flight: only this lock and ls are left */
		free(lock);
		if (ls->outstanding == 0) {
			pthread_mutex_unlock(&ls->mutex);
			free_locks(ls);
			return;
		}
		pthread_mutex_unlock(&ls->mutex);
		return;
	}
	lock->request_pending = false;
	if (!err && len != sizeof(*nl) && len != sizeof(*g))
		err = -EIO;
	if (err == -ECONNRESET) {
		/* the server changed before answering: its waiters ask the new one */
		lock->request_err = 0;
		sfs_inc(ls->fs, lock_request_reset);
	} else if (err) {
		lock->request_err = err;
		sfs_inc(ls->fs, lock_request_error);
	} else {
		bool could_read = lock->mode == SFS_LOCK_READ || lock->mode == SFS_LOCK_WRITE;
		bool can_read = nl->new_mode == SFS_LOCK_READ || nl->new_mode == SFS_LOCK_WRITE;

		sfs_debug(ls->fs, "lock: " SK_FMT " granted %u -> %u, write_seq %llu",
			  SK_ARG(&lock->range.start), lock->mode, nl->new_mode,
			  (unsigned long long)le64toh(nl->write_seq));
		if (can_read && !could_read && ls->opts.ops.granted)
			ls->opts.ops.granted(ls->opts.ops.arg, lock, lock->mode, nl->new_mode);
		if (!can_read) {
			lock->have_roots = false;
		} else if (!could_read && len == sizeof(*g) && ls->opts.ops.roots_gen) {
			lock->roots = g->roots;
			lock->roots_gen = ls->opts.ops.roots_gen(ls->opts.ops.arg);
			lock->have_roots = true;
		}
		lock->mode = nl->new_mode;
		if (le64toh(nl->write_seq))
			lock->write_seq = le64toh(nl->write_seq);
		if (lock->write_seq > __atomic_load_n(&ls->max_write_seq, __ATOMIC_RELAXED))
			__atomic_store_n(&ls->max_write_seq, lock->write_seq, __ATOMIC_RELEASE);
		lock->request_err = 0;
		sfs_inc(ls->fs, lock_grant);
		sfs_counter_add(ls->fs, SFS_CTR_lock_grant_wait_us, now_us() - lock->sent_us);
	}
	lock->grants++;
	if (!has_users(lock) && !lock->invals && lock->mode != SFS_LOCK_NULL)
		idle_add(ls, lock);
	maybe_free(ls, lock);
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->mutex);
}

/* send one request for lock: old = granted, new = mode (mutex held) */
static int send_request(struct sfs_locks *ls, struct sfs_lock *lock, uint8_t mode)
{
	struct scoutfs_net_lock nl = { .key = lock->range.start, .old_mode = lock->mode,
				       .new_mode = mode };
	struct sfs_net_conn *conn = sfs_client_conn(ls->fs);
	struct req_ctx *rc;
	int ret;

	if (!conn)
		return -ENOTCONN;
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	rc->ls = ls;
	rc->lock = lock;
	lock->request_pending = true;
	lock->req_mode = mode;
	lock->sent_us = now_us();
	ls->outstanding++;
	ret = sfs_net_request(conn, SCOUTFS_NET_CMD_LOCK, &nl, sizeof(nl), grant_resp, rc);
	if (ret) {
		ls->outstanding--;
		lock->request_pending = false;
		free(rc);
		return ret;
	}
	sfs_inc(ls->fs, lock_request);
	return 0;
}

/* past idle_count: the oldest idle lock goes back to the server (mutex held) */
static void shrink_idle(struct sfs_locks *ls)
{
	struct sfs_lock *lock;

	while (ls->nr_locks > ls->opts.idle_count && (lock = ls->idle_head)) {
		idle_remove(ls, lock);
		if (lock->request_pending || lock->invals || has_users(lock) || lock->getters)
			continue;
		if (lock->mode == SFS_LOCK_NULL) {
			maybe_free(ls, lock);
			continue;
		}
		if (send_request(ls, lock, SFS_LOCK_NULL))
			break;
		sfs_inc(ls->fs, lock_shrink);
	}
}

static int deadline_wait(struct sfs_locks *ls, const struct timespec *deadline)
{
	if (!deadline)
		return pthread_cond_wait(&ls->cond, &ls->mutex);
	return pthread_cond_timedwait(&ls->cond, &ls->mutex, deadline);
}

int sfs_lock_get(struct sfs_fs *fs, const struct sfs_item_range *range, uint8_t mode,
		 struct sfs_lock **lock_ret)
{
	struct sfs_locks *ls = locks_of(fs);
	struct timespec ts, *deadline = NULL;
	struct sfs_lock key, *lock;
	uint64_t grants;
	int ret = 0;

	*lock_ret = NULL;
	if (!ls)
		return -ENOTCONN;
	/*
	 * A self-fenced mount may have had its locks taken back: what it
	 * caches under them may be stale, and it may write nothing.
	 */
	if (sfs_self_fenced(fs))
		return -EIO;
	if (mode == SFS_LOCK_NULL || mode >= SFS_LOCK_NR_MODES ||
	    sfs_key_cmp(&range->start, &range->end) > 0)
		return -EINVAL;
	if (ls->opts.timeout_ms) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ls->opts.timeout_ms / 1000;
		ts.tv_nsec += (long)(ls->opts.timeout_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		deadline = &ts;
	}

	pthread_mutex_lock(&ls->mutex);
	key.range.start = range->start;
	lock = RB_FIND(lock_tree, &ls->tree, &key);
	if (!lock) {
		lock = calloc(1, sizeof(*lock));
		if (!lock) {
			pthread_mutex_unlock(&ls->mutex);
			return -ENOMEM;
		}
		lock->range = *range;
		RB_INSERT(lock_tree, &ls->tree, lock);
		ls->nr_locks++;
	} else if (sfs_key_cmp(&lock->range.end, &range->end)) {
		pthread_mutex_unlock(&ls->mutex);
		sfs_err(fs, "lock: two ranges for the lock at " SK_FMT, SK_ARG(&range->start));
		return -EINVAL;
	}
	idle_remove(ls, lock);
	lock->getters++;

	for (;;) {
		if (ls->stopping) {
			ret = -ESHUTDOWN;
			break;
		}
		/*
		 * Invalidations queued first go first (the server ordered
		 * them), and a request in flight must allow the user too: its
		 * grant replaces the mode (a READ user must not start under a
		 * WRITE_ONLY grant that a pending READ request is replacing, nor
		 * under a grant going back to NULL).
		 */
		if (mode_allows(lock->mode, mode) && !lock->invals &&
		    (!lock->request_pending || mode_allows(lock->req_mode, mode))) {
			lock->users[mode]++;
			break;
		}
		if (!lock->request_pending && !lock->invals &&
		    (mode == SFS_LOCK_WRITE || users_allowed(lock, mode))) {
			grants = lock->grants;
			ret = send_request(ls, lock, mode);
			if (ret)
				break;
			while (lock->grants == grants && !ls->stopping && !ret)
				ret = deadline_wait(ls, deadline);
			if (ret == ETIMEDOUT) {
				ret = -ETIMEDOUT;
				break;
			}
			if (lock->grants != grants && lock->request_err) {
				ret = lock->request_err;
				break;
			}
			continue;
		}
		if (deadline_wait(ls, deadline) == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	lock->getters--;
	if (ret) {
		sfs_inc(fs, lock_get_error);
		if (!has_users(lock) && lock->mode != SFS_LOCK_NULL)
			idle_add(ls, lock);
		maybe_free(ls, lock);
		lock = NULL;
	} else {
		shrink_idle(ls);
	}
	pthread_mutex_unlock(&ls->mutex);
	*lock_ret = lock;
	return ret;
}

void sfs_lock_put(struct sfs_fs *fs, struct sfs_lock *lock, uint8_t mode)
{
	struct sfs_locks *ls = locks_of(fs);

	if (!lock)
		return;
	pthread_mutex_lock(&ls->mutex);
	if (lock->users[mode] == 0) {
		sfs_err(fs, "lock: put of mode %u without a user at " SK_FMT, mode,
			SK_ARG(&lock->range.start));
	} else {
		lock->users[mode]--;
	}
	if (!has_users(lock)) {
		if (lock->mode != SFS_LOCK_NULL && !lock->invals)
			idle_add(ls, lock);
		shrink_idle(ls);
	}
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->mutex);
}

uint64_t sfs_lock_max_write_seq(struct sfs_fs *fs)
{
	struct sfs_locks *ls = locks_of(fs);

	return ls ? __atomic_load_n(&ls->max_write_seq, __ATOMIC_ACQUIRE) : 0;
}

const struct sfs_item_range *sfs_lock_range(const struct sfs_lock *lock)
{
	return &lock->range;
}

uint64_t sfs_lock_write_seq(const struct sfs_lock *lock)
{
	return __atomic_load_n(&lock->write_seq, __ATOMIC_RELAXED);
}

void sfs_lock_mark_written(struct sfs_lock *lock, uint64_t trans_seq)
{
	uint64_t cur = __atomic_load_n(&lock->written_seq, __ATOMIC_RELAXED);

	while (cur < trans_seq &&
	       !__atomic_compare_exchange_n(&lock->written_seq, &cur, trans_seq, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

uint64_t sfs_lock_written_seq(const struct sfs_lock *lock)
{
	return __atomic_load_n(&lock->written_seq, __ATOMIC_RELAXED);
}

uint8_t sfs_lock_mode(struct sfs_fs *fs, const struct scoutfs_key *name)
{
	struct sfs_locks *ls = locks_of(fs);
	struct sfs_lock key, *lock;
	uint8_t mode;

	if (!ls)
		return SFS_LOCK_NULL;
	key.range.start = *name;
	pthread_mutex_lock(&ls->mutex);
	lock = RB_FIND(lock_tree, &ls->tree, &key);
	mode = lock ? lock->mode : SFS_LOCK_NULL;
	pthread_mutex_unlock(&ls->mutex);
	return mode;
}

int sfs_lock_roots(struct sfs_fs *fs, const struct scoutfs_key *key, uint64_t gen,
		   struct scoutfs_net_roots *roots)
{
	struct sfs_locks *ls = locks_of(fs);
	struct sfs_lock k, *lock;
	int ret = -ENOENT;

	if (!ls)
		return -ENOENT;
	k.range.start = *key;
	pthread_mutex_lock(&ls->mutex);
	/* the lock with the greatest name <= key, if its range reaches key */
	lock = RB_NFIND(lock_tree, &ls->tree, &k);
	if (!lock || sfs_key_cmp(&lock->range.start, key) > 0)
		lock = lock ? RB_PREV(lock_tree, &ls->tree, lock) : RB_MAX(lock_tree, &ls->tree);
	if (lock && sfs_key_cmp(&lock->range.end, key) >= 0 && lock->have_roots &&
	    lock->roots_gen == gen &&
	    (lock->mode == SFS_LOCK_READ || lock->mode == SFS_LOCK_WRITE) && !lock->invals) {
		*roots = lock->roots;
		ret = 0;
	}
	pthread_mutex_unlock(&ls->mutex);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Lock sets                                                            */
/* ------------------------------------------------------------------ */

void sfs_lock_set_init(struct sfs_lock_set *set)
{
	set->nr = 0;
}

/* the mode that allows users of both */
static uint8_t combine_modes(uint8_t a, uint8_t b)
{
	if (a == b)
		return a;
	if (mode_allows(a, b))
		return a;
	if (mode_allows(b, a))
		return b;
	return SFS_LOCK_WRITE;
}

int sfs_lock_set_add(struct sfs_lock_set *set, const struct sfs_item_range *range, uint8_t mode)
{
	struct sfs_lock_set_entry *e;
	unsigned int i;

	if (mode == SFS_LOCK_NULL || mode >= SFS_LOCK_NR_MODES)
		return -EINVAL;
	for (i = 0; i < set->nr; i++) {
		e = &set->e[i];
		if (sfs_key_cmp(&e->range.start, &range->start))
			continue;
		if (sfs_key_cmp(&e->range.end, &range->end))
			return -EINVAL;
		e->mode = combine_modes(e->mode, mode);
		return 0;
	}
	if (set->nr == SFS_LOCK_SET_MAX)
		return -EINVAL;
	e = &set->e[set->nr++];
	e->range = *range;
	e->mode = mode;
	e->lock = NULL;
	return 0;
}

static int set_entry_cmp(const void *a, const void *b)
{
	const struct sfs_lock_set_entry *ea = a, *eb = b;

	return sfs_key_cmp(&ea->range.start, &eb->range.start);
}

int sfs_lock_set_get(struct sfs_fs *fs, struct sfs_lock_set *set)
{
	unsigned int i;
	int ret = 0;

	if (!locks_of(fs))
		return 0;
	qsort(set->e, set->nr, sizeof(set->e[0]), set_entry_cmp);
	for (i = 0; i < set->nr; i++) {
		ret = sfs_lock_get(fs, &set->e[i].range, set->e[i].mode, &set->e[i].lock);
		if (ret)
			break;
	}
	if (ret) {
		while (i-- > 0) {
			sfs_lock_put(fs, set->e[i].lock, set->e[i].mode);
			set->e[i].lock = NULL;
		}
	}
	return ret;
}

void sfs_lock_set_put(struct sfs_fs *fs, struct sfs_lock_set *set)
{
	unsigned int i;

	for (i = set->nr; i-- > 0;) {
		if (set->e[i].lock)
			sfs_lock_put(fs, set->e[i].lock, set->e[i].mode);
		set->e[i].lock = NULL;
	}
}

struct sfs_lock *sfs_lock_set_find(const struct sfs_lock_set *set, const struct scoutfs_key *key)
{
	unsigned int i;

	for (i = 0; i < set->nr; i++)
		if (sfs_key_cmp(&set->e[i].range.start, key) <= 0 &&
		    sfs_key_cmp(key, &set->e[i].range.end) <= 0)
			return set->e[i].lock;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Invalidations                                                        */
/* ------------------------------------------------------------------ */

int sfs_lock_net_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			 const void *data, uint32_t len, void *arg)
{
	struct sfs_fs *fs = arg;
	struct sfs_locks *ls = locks_of(fs);
	const struct scoutfs_net_lock *nl = data;
	struct sfs_lock key, *lock;
	struct inval *iv, **p;

	if (len != sizeof(*nl) || nl->new_mode >= SFS_LOCK_NR_MODES ||
	    nl->old_mode >= SFS_LOCK_NR_MODES)
		return -EINVAL;
	if (!ls)	/* no locks: nothing to give up */
		return sfs_net_respond(conn, req_id, cmd, 0, nl, sizeof(*nl));
	iv = calloc(1, sizeof(*iv));
	if (!iv)
		return -ENOMEM;
	sfs_net_conn_get(conn);
	iv->conn = conn;
	iv->req_id = req_id;
	iv->nl = *nl;

	pthread_mutex_lock(&ls->mutex);
	key.range.start = nl->key;
	lock = RB_FIND(lock_tree, &ls->tree, &key);
	iv->lock = lock;
	if (lock) {
		idle_remove(ls, lock);
		for (p = &lock->invals; *p; p = &(*p)->next)
			;
		*p = iv;
	}
	*ls->work_tail = iv;
	ls->work_tail = &iv->work_next;
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->mutex);
	sfs_inc(fs, lock_invalidate_request);
	return 0;
}

/*
 * net thread: a new server asks for the locks this mount holds, in name
 * order from the key it sends, to rebuild its lock state (LOCK_RECOVER,
 * reference-scoutfs.md 3.6).  A lock whose invalidation is under way is
 * reported in the mode it had before: the old server never got the
 * answer, and the new one must not grant a conflicting mode before it
 * asks again.
 */
int sfs_lock_recover_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			     const void *data, uint32_t len, void *arg)
{
	struct sfs_fs *fs = arg;
	struct sfs_locks *ls = locks_of(fs);
	struct scoutfs_net_lock_recover *rec;
	struct sfs_lock key, *lock;
	size_t size;
	uint16_t nr = 0;
	uint8_t mode;
	int ret;

	if (len != sizeof(struct scoutfs_key))
		return -EINVAL;
	size = sizeof(*rec) + SCOUTFS_NET_LOCK_RECOVER_MAX_NR * sizeof(rec->locks[0]);
	rec = calloc(1, size);
	if (!rec)
		return -ENOMEM;
	if (ls) {
		memcpy(&key.range.start, data, sizeof(key.range.start));
		pthread_mutex_lock(&ls->mutex);
		for (lock = RB_NFIND(lock_tree, &ls->tree, &key);
		     lock && nr < SCOUTFS_NET_LOCK_RECOVER_MAX_NR;
		     lock = RB_NEXT(lock_tree, &ls->tree, lock)) {
			mode = lock->inval_running ? lock->inval_from : lock->mode;
			if (mode == SFS_LOCK_NULL)
				continue;
			rec->locks[nr].key = lock->range.start;
			rec->locks[nr].write_seq = htole64(lock->write_seq);
			rec->locks[nr].old_mode = mode;
			rec->locks[nr].new_mode = mode;
			nr++;
		}
		pthread_mutex_unlock(&ls->mutex);
	}
	rec->nr = htole16(nr);
	sfs_counter_add(fs, SFS_CTR_lock_recovered, nr);
	ret = sfs_net_respond(conn, req_id, cmd, 0, rec,
			      (uint32_t)(sizeof(*rec) + nr * sizeof(rec->locks[0])));
	free(rec);
	return ret;
}

/* the first invalidation that may run now, unlinked from the work list */
static struct inval *next_runnable(struct sfs_locks *ls)
{
	struct inval **p, *iv;

	for (p = &ls->work; (iv = *p); p = &iv->work_next) {
		if (iv->lock && (iv->lock->invals != iv ||
				 !users_allowed(iv->lock, iv->nl.new_mode)))
			continue;
		*p = iv->work_next;
		if (ls->work_tail == &iv->work_next)
			ls->work_tail = p;
		iv->work_next = NULL;
		return iv;
	}
	return NULL;
}

/*
 * The invalidation workers.  None waits on one lock's users while
 * another lock's invalidation could run: each runs as soon as its own
 * lock's users allow, so a user holding one lock while it waits for
 * another cannot stall the invalidations of the others.  There are
 * several, so that one whose ops.invalidate blocks (a kernel
 * notification can wait on a request that a FUSE thread must first
 * finish) does not hold up the other locks either; a lock's
 * invalidations still run one at a time, in order (only the head of its
 * list is runnable, and it leaves the list when done).
 */
static void *inval_worker(void *arg)
{
	struct sfs_locks *ls = arg;
	struct sfs_lock *lock;
	struct inval *iv;
	uint8_t old_mode;
	int ret;

	pthread_mutex_lock(&ls->mutex);
	while (!ls->stopping) {
		iv = next_runnable(ls);
		if (!iv) {
			pthread_cond_wait(&ls->cond, &ls->mutex);
			continue;
		}
		lock = iv->lock;
		old_mode = lock ? lock->mode : SFS_LOCK_NULL;
		/* lower at once: no user the new mode does not allow can start */
		if (lock && !mode_allows(iv->nl.new_mode, old_mode))
			lock->mode = iv->nl.new_mode;
		/* until answered, a new server recovers it as held before (sfs_lock_recover_request) */
		if (lock) {
			lock->inval_from = old_mode;
			lock->inval_running = true;
		}
		pthread_mutex_unlock(&ls->mutex);

		if (lock)
			sfs_debug(ls->fs, "lock: " SK_FMT " invalidated %u -> %u",
				  SK_ARG(&lock->range.start), old_mode, iv->nl.new_mode);
		if (lock && old_mode != SFS_LOCK_NULL && old_mode != iv->nl.new_mode &&
		    ls->opts.ops.invalidate) {
			ret = ls->opts.ops.invalidate(ls->opts.ops.arg, lock, old_mode,
						      iv->nl.new_mode);
			if (ret)
				sfs_err(ls->fs, "lock: invalidating " SK_FMT " from %u to %u: %s",
					SK_ARG(&lock->range.start), old_mode, iv->nl.new_mode,
					strerror(-ret));
		}
		sfs_net_respond(iv->conn, iv->req_id, SCOUTFS_NET_CMD_LOCK, 0, &iv->nl,
				sizeof(iv->nl));
		sfs_net_conn_put(iv->conn);
		sfs_inc(ls->fs, lock_invalidate);

		pthread_mutex_lock(&ls->mutex);
		if (lock) {
			lock->inval_running = false;
			lock->invals = iv->next;
			if (!has_users(lock) && !lock->invals && lock->mode != SFS_LOCK_NULL)
				idle_add(ls, lock);
			maybe_free(ls, lock);
		}
		free(iv);
		pthread_cond_broadcast(&ls->cond);
	}
	pthread_mutex_unlock(&ls->mutex);
	return NULL;
}

int sfs_lock_setup(struct sfs_fs *fs, const struct sfs_lock_opts *opts)
{
	struct sfs_locks *ls;
	int ret;

	if (fs->locks)
		return -EBUSY;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->fs = fs;
	ls->opts = *opts;
	if (!ls->opts.idle_count)
		ls->opts.idle_count = 10000;
	pthread_mutex_init(&ls->mutex, NULL);
	pthread_cond_init(&ls->cond, NULL);
	RB_INIT(&ls->tree);
	ls->work_tail = &ls->work;
	fs->locks = ls;
	if (!ls->opts.workers)
		ls->opts.workers = 4;
	if (ls->opts.workers > SFS_LOCK_WORKERS_MAX)
		ls->opts.workers = SFS_LOCK_WORKERS_MAX;
	while (ls->nr_workers < ls->opts.workers) {
		ret = -pthread_create(&ls->workers[ls->nr_workers], NULL, inval_worker, ls);
		if (ret) {
			sfs_lock_destroy(fs);
			return ret;
		}
		ls->nr_workers++;
	}
	return 0;
}

void sfs_lock_destroy(struct sfs_fs *fs)
{
	struct sfs_locks *ls = fs->locks;
	struct sfs_lock *lock;
	struct inval *iv;

	if (!ls)
		return;
	pthread_mutex_lock(&ls->mutex);
	ls->stopping = true;
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->mutex);
	while (ls->nr_workers)
		pthread_join(ls->workers[--ls->nr_workers], NULL);
	while ((iv = ls->work)) {
		ls->work = iv->work_next;
		sfs_net_conn_put(iv->conn);
		free(iv);
	}
	fs->locks = NULL;
	pthread_mutex_lock(&ls->mutex);
	while ((lock = RB_MIN(lock_tree, &ls->tree))) {
		RB_REMOVE(lock_tree, &ls->tree, lock);
		if (has_users(lock))
			sfs_warn(fs, "lock: " SK_FMT " still has users at unmount",
				 SK_ARG(&lock->range.start));
		/* a request in flight: its grant_resp frees the lock */
		if (!lock->request_pending)
			free(lock);
	}
	if (ls->outstanding) {
		ls->zombie = true;
		pthread_mutex_unlock(&ls->mutex);
		return;
	}
	pthread_mutex_unlock(&ls->mutex);
	free_locks(ls);
}
