// SPDX-License-Identifier: GPL-2.0
/*
 * Fence requests (fence.h has the interface, scoutfs-fenced(8) the agent
 * side, reference-scoutfs.md 3.7 the reference's sysfs version).
 *
 * Each pending request is an entry in a list and, when the module has a
 * directory, a directory of files an agent reads and answers in.  One
 * thread looks at every pending request every POLL_MS: it reads fenced
 * and error, rewrites elapsed_secs once a second, fails a request past
 * its timeout, and then, with no lock held, tells the owner (done) and
 * removes the request.  A request for a rid already pending is not made
 * again (the reference fixed a double request that stopped its server
 * over and over).
 *
 * Locking: fs->fence_lock keeps fs->fence alive for its users (it is
 * taken first, destroy takes it to unpublish); fence->lock protects the
 * list; files are written with it held (small writes to a local
 * directory); done runs without either.  sfs_fence_request nests them
 * inside the server's lock, which done takes alone.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "counters.h"
#include "ctl.h"
#include "fence.h"
#include "log.h"

#define POLL_MS 100
#define DEF_TIMEOUT_MS 30000

struct freq {
	struct freq *next;
	uint64_t rid;
	char addr[64];
	enum sfs_fence_reason reason;
	enum sfs_fence_state state;
	uint64_t start_ms;
	uint64_t elapsed_written;	/* the seconds last written to elapsed_secs */
};

struct sfs_fence {
	struct sfs_fs *fs;
	struct sfs_fence_opts opts;
	char *dir;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct freq *reqs;		/* lock */
	bool stopping;			/* lock */
	bool thread_started;
	pthread_t thread;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *sfs_fence_reason_name(enum sfs_fence_reason reason)
{
	switch (reason) {
	case SFS_FENCE_CLIENT_RECOVERY:
		return "client_recovery";
	case SFS_FENCE_CLIENT_RECONNECT:
		return "client_reconnect";
	case SFS_FENCE_QUORUM_BLOCK_LEADER:
		return "quorum_block_leader";
	}
	return "unknown";
}

static void req_path(struct sfs_fence *fe, const struct freq *r, const char *file, char *buf,
		     size_t size)
{
	if (file)
		snprintf(buf, size, "%s/%016llx/%s", fe->dir, (unsigned long long)r->rid, file);
	else
		snprintf(buf, size, "%s/%016llx", fe->dir, (unsigned long long)r->rid);
}

/* write a request's file whole */
static int put_file(struct sfs_fence *fe, const struct freq *r, const char *file, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static int put_file(struct sfs_fence *fe, const struct freq *r, const char *file, const char *fmt,
		    ...)
{
	char dir[PATH_MAX];
	va_list ap;
	int ret;

	req_path(fe, r, NULL, dir, sizeof(dir));
	va_start(ap, fmt);
	ret = sfs_ctl_vwrite_file(dir, file, fmt, ap);
	va_end(ap);
	return ret;
}

/* 1 if the file says 1 (an agent's answer), else 0 */
static int get_flag(struct sfs_fence *fe, const struct freq *r, const char *file)
{
	char path[PATH_MAX], buf[16] = "";
	FILE *f;

	req_path(fe, r, file, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] == '1';
}

static void remove_req_dir(struct sfs_fence *fe, const struct freq *r)
{
	static const char *const files[] = { "rid", "addr", "ipv4_addr", "reason",
					     "elapsed_secs", "fenced", "error" };
	char path[PATH_MAX];
	size_t i;

	if (!fe->dir)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		req_path(fe, r, files[i], path, sizeof(path));
		unlink(path);
	}
	req_path(fe, r, NULL, path, sizeof(path));
	if (rmdir(path) && errno != ENOENT)
		sfs_warn(fe->fs, "fence: cannot remove %s: %s", path, strerror(errno));
}

static int make_req_dir(struct sfs_fence *fe, const struct freq *r)
{
	char path[PATH_MAX];
	int ret;

	if (!fe->dir)
		return 0;
	req_path(fe, r, NULL, path, sizeof(path));
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	/* the answer files last: an agent takes a request once they exist */
	ret = put_file(fe, r, "rid", "%016llx\n", (unsigned long long)r->rid) ?:
	      put_file(fe, r, "addr", "%s\n", r->addr) ?:
	      put_file(fe, r, "reason", "%s\n", sfs_fence_reason_name(r->reason)) ?:
	      put_file(fe, r, "elapsed_secs", "0\n");
	if (!ret && strchr(r->addr, '.') && !strchr(r->addr, ':'))
		ret = put_file(fe, r, "ipv4_addr", "%s\n", r->addr);
	if (!ret)
		ret = put_file(fe, r, "fenced", "0\n") ?: put_file(fe, r, "error", "0\n");
	if (ret)
		remove_req_dir(fe, r);
	return ret;
}

/* lock held: with in_run_dir, take RUN_DIR/fence once the run directory exists */
static void adopt_run_dir(struct sfs_fence *fe)
{
	const char *run = sfs_ctl_run_dir(fe->fs);
	struct freq *r;
	char *dir;

	if (fe->dir || !fe->opts.in_run_dir || !run)
		return;
	if (asprintf(&dir, "%s/fence", run) < 0)
		return;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		sfs_err(fe->fs, "fence: cannot make %s: %s", dir, strerror(errno));
		free(dir);
		fe->opts.in_run_dir = false;
		return;
	}
	fe->dir = dir;
	for (r = fe->reqs; r; r = r->next) {
		if (r->state == SFS_FENCE_PENDING && make_req_dir(fe, r))
			sfs_err(fe->fs, "fence: cannot make the request for rid %016llx in %s",
				(unsigned long long)r->rid, fe->dir);
	}
}

/* lock held: look at one pending request; true if it is settled */
static bool check_req(struct sfs_fence *fe, struct freq *r, uint64_t now)
{
	uint64_t secs = (now - r->start_ms) / 1000;

	if (r->state != SFS_FENCE_PENDING)
		return true;
	if (fe->dir) {
		if (get_flag(fe, r, "error"))
			r->state = SFS_FENCE_ERROR;
		else if (get_flag(fe, r, "fenced"))
			r->state = SFS_FENCE_FENCED;
	}
	if (r->state == SFS_FENCE_PENDING && now - r->start_ms >= fe->opts.timeout_ms) {
		sfs_err(fe->fs, "fence: rid %016llx (%s, %s) not fenced within %u ms: the request fails; is scoutfs-fenced running (scoutfs-fenced(8))?",
			(unsigned long long)r->rid, r->addr[0] ? r->addr : "address unknown",
			sfs_fence_reason_name(r->reason), fe->opts.timeout_ms);
		sfs_inc(fe->fs, fence_timeout);
		r->state = SFS_FENCE_ERROR;
		if (fe->dir)
			put_file(fe, r, "error", "1\n");
	}
	if (r->state == SFS_FENCE_PENDING && fe->dir && secs != r->elapsed_written) {
		put_file(fe, r, "elapsed_secs", "%llu\n", (unsigned long long)secs);
		r->elapsed_written = secs;
	}
	return r->state != SFS_FENCE_PENDING;
}

static void *fence_thread(void *arg)
{
	struct sfs_fence *fe = arg;
	struct freq *r, **p, *done;
	struct timespec at;
	uint64_t now;

	pthread_mutex_lock(&fe->lock);
	while (!fe->stopping) {
		adopt_run_dir(fe);
		now = mono_ms();
		done = NULL;
		for (p = &fe->reqs; (r = *p);) {
			if (check_req(fe, r, now)) {
				*p = r->next;
				r->next = done;
				done = r;
			} else {
				p = &r->next;
			}
		}
		if (done) {
			pthread_mutex_unlock(&fe->lock);
			while ((r = done)) {
				done = r->next;
				sfs_info(fe->fs, "fence: rid %016llx (%s) %s after %llu ms",
					 (unsigned long long)r->rid, sfs_fence_reason_name(r->reason),
					 r->state == SFS_FENCE_FENCED ? "fenced" : "NOT fenced",
					 (unsigned long long)(mono_ms() - r->start_ms));
				if (r->state == SFS_FENCE_FENCED)
					sfs_inc(fe->fs, fence_fenced);
				else
					sfs_inc(fe->fs, fence_error);
				remove_req_dir(fe, r);
				if (fe->opts.done &&
				    fe->opts.done(fe->opts.arg, r->rid, r->reason,
						  r->state == SFS_FENCE_FENCED) &&
				    sfs_fence_request(fe->fs, r->rid, r->addr, r->reason))
					sfs_err(fe->fs, "fence: cannot ask again for rid %016llx",
						(unsigned long long)r->rid);
				free(r);
			}
			pthread_mutex_lock(&fe->lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += POLL_MS * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fe->cond, &fe->lock, &at);
	}
	pthread_mutex_unlock(&fe->lock);
	return NULL;
}

int sfs_fence_setup(struct sfs_fs *fs, const struct sfs_fence_opts *opts)
{
	struct sfs_fence *fe;
	int ret;

	if (fs->fence)
		return -EBUSY;
	fe = calloc(1, sizeof(*fe));
	if (!fe)
		return -ENOMEM;
	fe->fs = fs;
	fe->opts = *opts;
	if (!fe->opts.timeout_ms)
		fe->opts.timeout_ms = DEF_TIMEOUT_MS;
	pthread_mutex_init(&fe->lock, NULL);
	pthread_cond_init(&fe->cond, NULL);
	pthread_mutex_lock(&fs->fence_lock);
	fs->fence = fe;
	pthread_mutex_unlock(&fs->fence_lock);
	if (opts->dir) {
		fe->dir = strdup(opts->dir);
		if (!fe->dir) {
			ret = -ENOMEM;
			goto out;
		}
		if (mkdir(fe->dir, 0755) && errno != EEXIST) {
			ret = -errno;
			sfs_err(fs, "fence: cannot make %s: %s", fe->dir, strerror(-ret));
			goto out;
		}
	} else {
		pthread_mutex_lock(&fe->lock);
		adopt_run_dir(fe);
		pthread_mutex_unlock(&fe->lock);
	}
	ret = -pthread_create(&fe->thread, NULL, fence_thread, fe);
	if (!ret)
		fe->thread_started = true;
out:
	if (ret)
		sfs_fence_destroy(fs);
	return ret;
}

void sfs_fence_destroy(struct sfs_fs *fs)
{
	struct sfs_fence *fe;
	struct freq *r;

	/* no new user finds it; the ones under fence_lock are done */
	pthread_mutex_lock(&fs->fence_lock);
	fe = fs->fence;
	fs->fence = NULL;
	pthread_mutex_unlock(&fs->fence_lock);
	if (!fe)
		return;
	pthread_mutex_lock(&fe->lock);
	fe->stopping = true;
	pthread_cond_broadcast(&fe->cond);
	pthread_mutex_unlock(&fe->lock);
	if (fe->thread_started)
		pthread_join(fe->thread, NULL);
	while ((r = fe->reqs)) {
		fe->reqs = r->next;
		remove_req_dir(fe, r);
		free(r);
	}
	if (fe->dir)
		rmdir(fe->dir);
	pthread_cond_destroy(&fe->cond);
	pthread_mutex_destroy(&fe->lock);
	free(fe->dir);
	free(fe);
}

int sfs_fence_request(struct sfs_fs *fs, uint64_t rid, const char *addr,
		      enum sfs_fence_reason reason)
{
	struct sfs_fence *fe;
	struct freq *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_lock(&fs->fence_lock);
	fe = fs->fence;
	if (!fe) {
		pthread_mutex_unlock(&fs->fence_lock);
		free(r);
		return -ENODEV;
	}
	r->rid = rid;
	snprintf(r->addr, sizeof(r->addr), "%s", addr ? addr : "");
	r->reason = reason;
	r->state = SFS_FENCE_PENDING;
	r->start_ms = mono_ms();

	pthread_mutex_lock(&fe->lock);
	if (fe->stopping) {
		ret = -ESHUTDOWN;
		goto out;
	}
	{
		struct freq *o;

		for (o = fe->reqs; o; o = o->next) {
			if (o->rid == rid) {
				ret = -EEXIST;
				goto out;
			}
		}
	}
	ret = make_req_dir(fe, r);
	if (ret) {
		sfs_err(fs, "fence: cannot make the request for rid %016llx in %s: %s",
			(unsigned long long)rid, fe->dir, strerror(-ret));
		goto out;
	}
	r->next = fe->reqs;
	fe->reqs = r;
	r = NULL;
	sfs_inc(fs, fence_request);
	sfs_warn(fs, "fence: fencing rid %016llx at %s: %s", (unsigned long long)rid,
		 addr && addr[0] ? addr : "an unknown address", sfs_fence_reason_name(reason));
	pthread_cond_broadcast(&fe->cond);
out:
	pthread_mutex_unlock(&fe->lock);
	pthread_mutex_unlock(&fs->fence_lock);
	free(r);
	return ret;
}

int sfs_fence_answer(struct sfs_fs *fs, uint64_t rid, bool fenced)
{
	struct sfs_fence *fe;
	struct freq *r;
	int ret = -ENOENT;

	pthread_mutex_lock(&fs->fence_lock);
	fe = fs->fence;
	if (!fe) {
		pthread_mutex_unlock(&fs->fence_lock);
		return -ENOENT;
	}
	pthread_mutex_lock(&fe->lock);
	for (r = fe->reqs; r; r = r->next) {
		if (r->rid == rid && r->state == SFS_FENCE_PENDING) {
			r->state = fenced ? SFS_FENCE_FENCED : SFS_FENCE_ERROR;
			if (fe->dir)
				put_file(fe, r, fenced ? "fenced" : "error", "1\n");
			pthread_cond_broadcast(&fe->cond);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&fe->lock);
	pthread_mutex_unlock(&fs->fence_lock);
	return ret;
}

size_t sfs_fence_list(struct sfs_fs *fs, struct sfs_fence_info *info, size_t max)
{
	struct sfs_fence *fe;
	uint64_t now = mono_ms();
	struct freq *r;
	size_t nr = 0;

	pthread_mutex_lock(&fs->fence_lock);
	fe = fs->fence;
	if (!fe) {
		pthread_mutex_unlock(&fs->fence_lock);
		return 0;
	}
	pthread_mutex_lock(&fe->lock);
	for (r = fe->reqs; r && nr < max; r = r->next) {
		info[nr].rid = r->rid;
		snprintf(info[nr].addr, sizeof(info[nr].addr), "%s", r->addr);
		info[nr].reason = r->reason;
		info[nr].state = r->state;
		info[nr].elapsed_ms = now - r->start_ms;
		nr++;
	}
	pthread_mutex_unlock(&fe->lock);
	pthread_mutex_unlock(&fs->fence_lock);
	return nr;
}

/* ------------------------------------------------------------------ */
/* Self-fencing                                                         */
/* ------------------------------------------------------------------ */

void sfs_self_fence_arm(struct sfs_fs *fs, uint32_t window_ms)
{
	__atomic_store_n(&fs->self_fence_heard, mono_ms(), __ATOMIC_RELEASE);
	__atomic_store_n(&fs->self_fence_ms, window_ms, __ATOMIC_RELEASE);
}

void sfs_self_fence_disarm(struct sfs_fs *fs)
{
	__atomic_store_n(&fs->self_fence_ms, 0, __ATOMIC_RELEASE);
}

void sfs_self_fence_now(struct sfs_fs *fs, const char *why)
{
	if (!__atomic_exchange_n(&fs->self_fenced, true, __ATOMIC_ACQ_REL)) {
		sfs_err(fs, "self-fenced: %s; this mount writes nothing more to the devices: unmount it",
			why);
		sfs_inc(fs, self_fenced);
	}
}

bool sfs_self_fence_check(struct sfs_fs *fs, bool heard)
{
	uint32_t window = __atomic_load_n(&fs->self_fence_ms, __ATOMIC_ACQUIRE);
	uint64_t now = mono_ms(), last;

	if (__atomic_load_n(&fs->self_fenced, __ATOMIC_ACQUIRE))
		return false;
	if (!window)
		return true;
	last = __atomic_load_n(&fs->self_fence_heard, __ATOMIC_ACQUIRE);
	if (now > last + window) {
		if (!__atomic_exchange_n(&fs->self_fenced, true, __ATOMIC_ACQ_REL)) {
			sfs_err(fs, "self-fenced: heard from no server for %llu ms (window %u ms); it may have been fenced and what it held taken back, so this mount writes nothing more to the devices: unmount it",
				(unsigned long long)(now - last), window);
			sfs_inc(fs, self_fenced);
		}
		return false;
	}
	/* only forwards: a slow thread must not move it back */
	while (heard && now > last &&
	       !__atomic_compare_exchange_n(&fs->self_fence_heard, &last, now, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return true;
}
