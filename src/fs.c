// SPDX-License-Identifier: GPL-2.0
/*
 * The filesystem over FUSE: low-level ops on inode, directory entry and
 * symlink items.
 *
 * nodeid = scoutfs inode number (root 1), st_ino too, generation 1
 * (numbers are never reused).  Entry and attribute replies carry no cache
 * timeouts: the kernel asks again every time (ARCHITECTURE.md section 4,
 * until lock-covered caching is built).  Permission checks are the
 * kernel's (default_permissions).
 *
 * An op that changes items holds the transaction around them; an op that
 * changes several inodes loads each once into a struct op_inodes and
 * writes the changed ones at its end, so a parent that is also the other
 * parent (rename in one directory) is one inode.
 *
 * Unlinked inodes still open stay until their last release: an ORPHAN
 * item marks them (an orphan scan frees them after a crash) and the last
 * release deletes their items.
 *
 * Format v2: a new inode takes its parent directory's project ID (not
 * changed by rename or link), and a regular file with the RETENTION flag
 * refuses setattr, unlink, and rename of it or over it with EPERM
 * (sfs_inode_retention_check; data.c refuses its writes, xattr.c its
 * user.* xattrs).  Hard links to it are allowed (the reference's list of
 * refused changes leaves link out).
 *
 * Locking: ns (rwlock) serializes namespace changes (exclusive) against
 * lookups and reads (shared) in this single-node increment; opens (mutex)
 * protects the open counts.  Cluster locks replace ns later.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bsd/sys/tree.h>

#include "client.h"
#include "counters.h"
#include "data.h"
#include "dir.h"
#include "fs.h"
#include "forest.h"
#include "fs_int.h"
#include "wait.h"
#include "inode.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "trans.h"
#include "quota.h"
#include "xattr.h"

static int open_cmp(const struct open_ino *a, const struct open_ino *b)
{
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

/* libbsd's RB_GENERATE_STATIC leaves the unused functions unmarked: mark them */
#define RB_ATTR __attribute__((unused)) static
RB_GENERATE_INTERNAL(open_tree, open_ino, node, open_cmp, RB_ATTR)

static void *orphan_thread(void *arg);
static void *kinval_thread(void *arg);
static unsigned int append_direct(const struct fuse_file_info *fi);
static void kinval_defer(struct sfs_fuse *sf, uint64_t ino);
static bool ino_busy(struct sfs_fuse *sf, uint64_t ino);
static void omap_local(void *arg, uint64_t group_nr, uint64_t bits[SFS_OMAP_WORDS]);
static struct sfs_lock *set_lock_of(const struct sfs_lock_set *set, uint64_t ino);

void sfs_fuse_set_session(struct sfs_fuse *sf, struct fuse_session *se)
{
	sf->se = se;
}

void sfs_fuse_session_end(struct sfs_fuse *sf)
{
	if (sf) {
		sfs_waits_destroy(sf);
		sf->se = NULL;
	}
}

void sfs_fuse_inval_data(struct sfs_fuse *sf, uint64_t ino, uint64_t off, uint64_t len)
{
	int ret;

	if (!sf->se)
		return;
	ret = fuse_lowlevel_notify_inval_inode(sf->se, ino, (off_t)off,
					       len > INT64_MAX ? 0 : (off_t)len);
	/* -ENOENT: the kernel has nothing of it cached */
	if (ret && ret != -ENOENT)
		sfs_warn(sf->fs, "inode %llu: cannot drop the kernel's cached pages: %s",
			 (unsigned long long)ino, strerror(-ret));
}

void sfs_fuse_contents_lock(struct sfs_fuse *sf, uint64_t ino)
{
	pthread_rwlock_rdlock(&sf->ns);
	pthread_rwlock_wrlock(sfs_fuse_data_lock(sf, ino));
	pthread_mutex_lock(sfs_fuse_ino_lock(sf, ino));
}

void sfs_fuse_contents_unlock(struct sfs_fuse *sf, uint64_t ino)
{
	pthread_mutex_unlock(sfs_fuse_ino_lock(sf, ino));
	pthread_rwlock_unlock(sfs_fuse_data_lock(sf, ino));
	pthread_rwlock_unlock(&sf->ns);
}

static void kernel_inval_hook(void *arg, uint64_t first, uint64_t last)
{
	sfs_fuse_kernel_invalidate(arg, first, last);
}

struct sfs_fuse *sfs_fuse_create(struct sfs_fs *fs, const struct sfs_options *opts)
{
	struct sfs_fuse *sf = calloc(1, sizeof(*sf));
	int i;

	if (!sf)
		return NULL;
	sf->fs = fs;
	sf->opts = *opts;
	sf->opts.metadev_path = NULL;
	sf->opts.fuse_opts = NULL;
	sf->opts.run_dir = NULL;
	if (sfs_waits_setup(sf)) {
		free(sf);
		return NULL;
	}
	pthread_rwlock_init(&sf->ns, NULL);
	for (i = 0; i < SFS_INO_LOCKS; i++) {
		pthread_mutex_init(&sf->ino_locks[i], NULL);
		pthread_rwlock_init(&sf->data_locks[i], NULL);
	}
	pthread_mutex_init(&sf->opens_lock, NULL);
	pthread_mutex_init(&sf->rename_mutex, NULL);
	RB_INIT(&sf->opens);
	RB_INIT(&sf->known);
	RB_INIT(&sf->busy);
	RB_INIT(&sf->kinval_deferred);
	pthread_mutex_init(&sf->inflight_lock, NULL);
	pthread_cond_init(&sf->inflight_cond, NULL);
	pthread_mutex_init(&sf->kinval_lock, NULL);
	pthread_cond_init(&sf->kinval_cond, NULL);
	if (pthread_create(&sf->kinval_thread, NULL, kinval_thread, sf) == 0)
		sf->kinval_started = true;
	pthread_mutex_init(&sf->orphan_lock, NULL);
	pthread_cond_init(&sf->orphan_cond, NULL);
	if (pthread_create(&sf->orphan_thread, NULL, orphan_thread, sf) == 0)
		sf->orphan_started = true;
	else
		sfs_err(fs, "no orphan scan thread: unlinked files left by a crash stay");
	fs->kernel_inval_arg = sf;
	__atomic_store_n(&fs->kernel_inval, kernel_inval_hook, __ATOMIC_RELEASE);
	fs->omap_arg = sf;
	__atomic_store_n(&fs->omap_local, omap_local, __ATOMIC_RELEASE);
	return sf;
}

void sfs_fuse_free(struct sfs_fuse *sf)
{
	struct open_ino *o, *next;
	int i;

	if (!sf)
		return;
	__atomic_store_n(&sf->fs->kernel_inval, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&sf->fs->omap_local, NULL, __ATOMIC_RELEASE);
	sfs_waits_destroy(sf);
	if (sf->orphan_started) {
		pthread_mutex_lock(&sf->orphan_lock);
		sf->stopping = true;
		pthread_cond_broadcast(&sf->orphan_cond);
		pthread_mutex_unlock(&sf->orphan_lock);
		pthread_join(sf->orphan_thread, NULL);
	}
	pthread_cond_destroy(&sf->orphan_cond);
	pthread_mutex_destroy(&sf->orphan_lock);
	if (sf->kinval_started) {
		pthread_mutex_lock(&sf->kinval_lock);
		sf->kinval_stopping = true;
		pthread_cond_broadcast(&sf->kinval_cond);
		pthread_mutex_unlock(&sf->kinval_lock);
		pthread_join(sf->kinval_thread, NULL);
	}
	RB_FOREACH_SAFE(o, open_tree, &sf->kinval_deferred, next) {
		RB_REMOVE(open_tree, &sf->kinval_deferred, o);
		free(o);
	}
	RB_FOREACH_SAFE(o, open_tree, &sf->busy, next) {
		RB_REMOVE(open_tree, &sf->busy, o);
		free(o);
	}
	pthread_cond_destroy(&sf->kinval_cond);
	pthread_mutex_destroy(&sf->kinval_lock);
	sfs_data_wait_all(sf);
	pthread_cond_destroy(&sf->inflight_cond);
	pthread_mutex_destroy(&sf->inflight_lock);
	RB_FOREACH_SAFE(o, open_tree, &sf->known, next) {
		RB_REMOVE(open_tree, &sf->known, o);
		free(o);
	}
	RB_FOREACH_SAFE(o, open_tree, &sf->opens, next) {
		RB_REMOVE(open_tree, &sf->opens, o);
		free(o);
	}
	pthread_mutex_destroy(&sf->opens_lock);
	pthread_mutex_destroy(&sf->rename_mutex);
	for (i = 0; i < SFS_INO_LOCKS; i++) {
		pthread_mutex_destroy(&sf->ino_locks[i]);
		pthread_rwlock_destroy(&sf->data_locks[i]);
	}
	pthread_rwlock_destroy(&sf->ns);
	free(sf);
}

/* ------------------------------------------------------------------ */
/* open counts                                                          */
/* ------------------------------------------------------------------ */

static bool fi_writable(const struct fuse_file_info *fi)
{
	return fi && (fi->flags & O_ACCMODE) != O_RDONLY;
}

static int open_get(struct sfs_fuse *sf, uint64_t ino, bool writable)
{
	struct open_ino key = { .ino = ino }, *o;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->opens, &key);
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o) {
			pthread_mutex_unlock(&sf->opens_lock);
			return -ENOMEM;
		}
		o->ino = ino;
		RB_INSERT(open_tree, &sf->opens, o);
	}
	o->count++;
	o->writers += writable;
	pthread_mutex_unlock(&sf->opens_lock);
	return 0;
}

/* drop one open; true if it was the last */
static bool open_put(struct sfs_fuse *sf, uint64_t ino, bool writable)
{
	struct open_ino key = { .ino = ino }, *o;
	bool last = false;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->opens, &key);
	if (o && writable && o->writers)
		o->writers--;
	if (o && --o->count == 0) {
		RB_REMOVE(open_tree, &sf->opens, o);
		free(o);
		last = true;
	}
	pthread_mutex_unlock(&sf->opens_lock);
	return last;
}

bool sfs_fuse_open_writable(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino }, *o;
	bool writable;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->opens, &key);
	writable = o && o->writers;
	pthread_mutex_unlock(&sf->opens_lock);
	return writable;
}

static bool is_open(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino };
	bool open;

	pthread_mutex_lock(&sf->opens_lock);
	open = RB_FIND(open_tree, &sf->opens, &key) != NULL;
	pthread_mutex_unlock(&sf->opens_lock);
	return open;
}

/* ------------------------------------------------------------------ */
/* the open-inode map (reference-scoutfs.md 3.8)                        */
/* ------------------------------------------------------------------ */

/*
 * An unlinked inode goes only once no mount has it open.  Each mount
 * answers the server's OPEN_INO_MAP fan-out with the inodes of a group
 * it has open (file handles: the kernel reaches an inode by nodeid
 * without a handle only right after a lookup, and entry timeouts are 0,
 * so a name another mount removed is looked up again and fails).
 */
static void omap_local(void *arg, uint64_t group_nr, uint64_t bits[SFS_OMAP_WORDS])
{
	struct sfs_fuse *sf = arg;
	struct open_ino key = { .ino = group_nr << SFS_OMAP_SHIFT }, *o;

	memset(bits, 0, SFS_OMAP_WORDS * sizeof(bits[0]));
	pthread_mutex_lock(&sf->opens_lock);
	for (o = RB_NFIND(open_tree, &sf->opens, &key); o && (o->ino >> SFS_OMAP_SHIFT) == group_nr;
	     o = RB_NEXT(open_tree, &sf->opens, o))
		bits[(o->ino & SFS_OMAP_MASK) / 64] |= 1ULL << (o->ino & 63);
	pthread_mutex_unlock(&sf->opens_lock);
}

static bool omap_bit(const uint64_t *bits, uint64_t ino)
{
	return bits[(ino & SFS_OMAP_MASK) / 64] & (1ULL << (ino & 63));
}

/*
 * Is ino open on any mount?  Asked with its group's WRITE lock held in
 * set and no local lock: no mount can open an inode of the group until
 * that lock is taken back, so a clear bit stays clear while the lock
 * keeps its write_seq, and the map is kept per group for it (the
 * reference keeps it on the lock the same way).  The map holds this
 * mount's own opens of the time too; a set bit is asked again.  Without
 * an answer (no server) the inode counts as open: it stays an orphan
 * for a later try.
 */
static bool open_anywhere(struct sfs_fuse *sf, const struct sfs_lock_set *set, uint64_t ino)
{
	struct sfs_lock *lock = set_lock_of(set, ino);
	uint64_t group = ino >> SFS_OMAP_SHIFT, ws, bits[SFS_OMAP_WORDS];
	struct sfs_omap_cached *c = &sf->omap_cache[group % SFS_OMAP_CACHED];
	bool hit;
	int ret;

	if (is_open(sf, ino))
		return true;
	if (!lock)
		return false;	/* no cluster locks: the only mount */
	ws = sfs_lock_write_seq(lock);
	pthread_mutex_lock(&sf->opens_lock);
	hit = c->write_seq && c->group == group && c->write_seq == ws && !omap_bit(c->bits, ino);
	pthread_mutex_unlock(&sf->opens_lock);
	if (hit) {
		sfs_inc(sf->fs, omap_cached);
		return false;
	}
	sfs_inc(sf->fs, omap_requests);
	ret = sfs_client_open_ino_map(sf->fs, group, bits);
	if (ret) {
		sfs_warn(sf->fs, "inode %llu: cannot ask which mounts have it open (%s): kept as an orphan",
			 (unsigned long long)ino, strerror(-ret));
		return true;
	}
	pthread_mutex_lock(&sf->opens_lock);
	c->group = group;
	c->write_seq = ws;
	memcpy(c->bits, bits, sizeof(bits));
	pthread_mutex_unlock(&sf->opens_lock);
	return omap_bit(bits, ino);
}

/* ------------------------------------------------------------------ */
/* what the kernel knows                                                */
/* ------------------------------------------------------------------ */

/* the kernel got an entry for ino: one more lookup it will FORGET */
static void known_add(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino }, *o;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->known, &key);
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (o) {
			o->ino = ino;
			RB_INSERT(open_tree, &sf->known, o);
		}
	}
	if (o)
		o->count++;
	pthread_mutex_unlock(&sf->opens_lock);
	sfs_inc(sf->fs, fuse_entries);
}

static void known_forget(struct sfs_fuse *sf, uint64_t ino, uint64_t nlookup)
{
	struct open_ino key = { .ino = ino }, *o;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->known, &key);
	if (o && o->count <= nlookup) {
		RB_REMOVE(open_tree, &sf->known, o);
		free(o);
	} else if (o) {
		o->count -= nlookup;
	}
	pthread_mutex_unlock(&sf->opens_lock);
	sfs_counter_add(sf->fs, SFS_CTR_fuse_forgets, nlookup);
}

void sfs_fuse_busy_get(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino }, *o;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->busy, &key);
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (o) {
			o->ino = ino;
			RB_INSERT(open_tree, &sf->busy, o);
		}
	}
	if (o)
		o->count++;
	pthread_mutex_unlock(&sf->opens_lock);
}

void sfs_fuse_busy_put(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino }, *o;

	pthread_mutex_lock(&sf->opens_lock);
	o = RB_FIND(open_tree, &sf->busy, &key);
	if (o && --o->count == 0) {
		RB_REMOVE(open_tree, &sf->busy, o);
		free(o);
	}
	pthread_mutex_unlock(&sf->opens_lock);
}

/* does the kernel hold pages of ino locked for a request that waits? */
static bool ino_busy(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino };
	bool busy;

	pthread_mutex_lock(&sf->opens_lock);
	busy = RB_FIND(open_tree, &sf->busy, &key) != NULL;
	pthread_mutex_unlock(&sf->opens_lock);
	return busy || sfs_wait_has(sf, ino);
}

/* reply with an entry the kernel will hold a lookup of */
static void reply_entry(struct sfs_fuse *sf, fuse_req_t req, const struct fuse_entry_param *e)
{
	known_add(sf, e->ino);
	if (fuse_reply_entry(req, e))
		known_forget(sf, e->ino, 1);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	known_forget(sf_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		known_forget(sf_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

size_t sfs_fuse_nr_known(struct sfs_fuse *sf)
{
	struct open_ino *o;
	size_t nr = 0;

	pthread_mutex_lock(&sf->opens_lock);
	RB_FOREACH(o, open_tree, &sf->known)
		nr++;
	pthread_mutex_unlock(&sf->opens_lock);
	return nr;
}

/*
 * A revoke makes the kernel forget what it has of the group's inodes:
 * attributes at once (that takes no page lock), and cached pages in
 * kinval_thread, waited for KINVAL_WAIT_MS at most.  The kernel holds
 * pages locked while a read or write request is in the daemon, and such
 * a request may be waiting for the very lock being revoked: waiting for
 * its pages would never end.  Reads stay right meanwhile: the kernel
 * asks for attributes before every read of a file whose attributes were
 * dropped, and drops the pages itself when the size or mtime moved
 * (FUSE_CAP_AUTO_INVAL_DATA, op_init).  Only pages mapped by mmap may be
 * seen stale, until the deferred invalidation gets through.
 */
#define KINVAL_WAIT_MS 100

struct sfs_kinval_job {
	struct sfs_kinval_job *next;
	uint64_t *inos;
	size_t nr;
	unsigned int refs;	/* kinval_lock: the waiter's and the thread's */
	bool done;		/* kinval_lock */
	pthread_cond_t cond;
};

static void kinval_put(struct sfs_fuse *sf, struct sfs_kinval_job *job)
{
	bool last;

	pthread_mutex_lock(&sf->kinval_lock);
	last = --job->refs == 0;
	pthread_mutex_unlock(&sf->kinval_lock);
	if (last) {
		pthread_cond_destroy(&job->cond);
		free(job->inos);
		free(job);
	}
}

/* kinval_lock held, dropped while invalidating: the deferred inodes no longer busy */
static void kinval_deferred(struct sfs_fuse *sf)
{
	struct open_ino *o, *next;
	uint64_t inos[64];
	size_t nr = 0, i;

	RB_FOREACH_SAFE(o, open_tree, &sf->kinval_deferred, next) {
		if (nr == sizeof(inos) / sizeof(inos[0]))
			break;
		inos[nr++] = o->ino;
		RB_REMOVE(open_tree, &sf->kinval_deferred, o);
		free(o);
	}
	pthread_mutex_unlock(&sf->kinval_lock);
	for (i = 0; i < nr; i++) {
		if (ino_busy(sf, inos[i])) {
			kinval_defer(sf, inos[i]);	/* still: next time */
			continue;
		}
		sfs_fuse_inval_data(sf, inos[i], 0, 0);
	}
	pthread_mutex_lock(&sf->kinval_lock);
}

static void *kinval_thread(void *arg)
{
	struct sfs_fuse *sf = arg;
	struct sfs_kinval_job *job;
	struct timespec at;
	size_t i;

	pthread_mutex_lock(&sf->kinval_lock);
	for (;;) {
		while (!sf->kinval_head && !sf->kinval_stopping) {
			if (RB_EMPTY(&sf->kinval_deferred)) {
				pthread_cond_wait(&sf->kinval_cond, &sf->kinval_lock);
				continue;
			}
			/* look at the deferred ones every 20 ms */
			clock_gettime(CLOCK_REALTIME, &at);
			at.tv_nsec += 20 * 1000000L;
			if (at.tv_nsec >= 1000000000L) {
				at.tv_sec++;
				at.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&sf->kinval_cond, &sf->kinval_lock, &at) ==
			    ETIMEDOUT)
				kinval_deferred(sf);
		}
		job = sf->kinval_head;
		if (!job)
			break;
		sf->kinval_head = job->next;
		if (!sf->kinval_head)
			sf->kinval_tail = NULL;
		pthread_mutex_unlock(&sf->kinval_lock);
		for (i = 0; i < job->nr; i++)
			sfs_fuse_inval_data(sf, job->inos[i], 0, 0);
		pthread_mutex_lock(&sf->kinval_lock);
		job->done = true;
		pthread_cond_broadcast(&job->cond);
		pthread_mutex_unlock(&sf->kinval_lock);
		kinval_put(sf, job);
		pthread_mutex_lock(&sf->kinval_lock);
	}
	pthread_mutex_unlock(&sf->kinval_lock);
	return NULL;
}

static void kinval_defer(struct sfs_fuse *sf, uint64_t ino)
{
	struct open_ino key = { .ino = ino }, *o;

	pthread_mutex_lock(&sf->kinval_lock);
	if (!RB_FIND(open_tree, &sf->kinval_deferred, &key)) {
		o = calloc(1, sizeof(*o));
		if (o) {
			o->ino = ino;
			RB_INSERT(open_tree, &sf->kinval_deferred, o);
			pthread_cond_signal(&sf->kinval_cond);
		}
	}
	pthread_mutex_unlock(&sf->kinval_lock);
}

static void kinval_pages(struct sfs_fuse *sf, uint64_t *inos, size_t nr)
{
	struct sfs_kinval_job *job;
	struct timespec at;
	size_t i;
	int ret = 0;

	job = calloc(1, sizeof(*job));
	if (!job || !sf->kinval_started) {
		/* no thread: at once, as before there were several mounts */
		free(job);
		for (i = 0; i < nr; i++)
			sfs_fuse_inval_data(sf, inos[i], 0, 0);
		free(inos);
		return;
	}
	job->inos = inos;
	job->nr = nr;
	job->refs = 2;
	pthread_cond_init(&job->cond, NULL);
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += KINVAL_WAIT_MS * 1000000L;
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sf->kinval_lock);
	if (sf->kinval_tail)
		sf->kinval_tail->next = job;
	else
		sf->kinval_head = job;
	sf->kinval_tail = job;
	pthread_cond_signal(&sf->kinval_cond);
	while (!job->done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&job->cond, &sf->kinval_lock, &at);
	if (!job->done)
		sfs_inc(sf->fs, fuse_inval_deferred);
	pthread_mutex_unlock(&sf->kinval_lock);
	kinval_put(sf, job);
}

void sfs_fuse_kernel_invalidate(struct sfs_fuse *sf, uint64_t first, uint64_t last)
{
	struct open_ino key = { .ino = first }, *o;
	uint64_t *inos = NULL, *n;
	size_t nr = 0, cap = 0, i, j;
	int ret;

	pthread_mutex_lock(&sf->opens_lock);
	for (o = RB_NFIND(open_tree, &sf->known, &key); o && o->ino <= last;
	     o = RB_NEXT(open_tree, &sf->known, o)) {
		if (nr == cap) {
			n = realloc(inos, (cap ? cap * 2 : 64) * sizeof(*inos));
			if (!n)
				break;
			inos = n;
			cap = cap ? cap * 2 : 64;
		}
		inos[nr++] = o->ino;
	}
	pthread_mutex_unlock(&sf->opens_lock);
	/* no daemon lock held: the kernel may wait on our own requests */
	for (i = 0, j = 0; i < nr; i++) {
		if (sf->se) {
			ret = fuse_lowlevel_notify_inval_inode(sf->se, inos[i], -1, 0);
			if (ret && ret != -ENOENT)
				sfs_warn(sf->fs, "inode %llu: cannot drop the kernel's attributes: %s",
					 (unsigned long long)inos[i], strerror(-ret));
		}
		sfs_wait_wake(sf, inos[i]);
		sfs_inc(sf->fs, fuse_kernel_invalidate);
		/* pages a waiting request holds locked: later, by kinval_thread */
		if (sf->kinval_started && ino_busy(sf, inos[i])) {
			kinval_defer(sf, inos[i]);
			sfs_inc(sf->fs, fuse_inval_deferred);
			continue;
		}
		inos[j++] = inos[i];
	}
	if (j && sf->se)
		kinval_pages(sf, inos, j);
	else
		free(inos);
}

/* ------------------------------------------------------------------ */
/* the inodes of one op                                                 */
/* ------------------------------------------------------------------ */

/* the op's copy of an inode, read on first use */
int sfs_op_inode(struct sfs_fs *fs, struct op_inodes *oi, uint64_t ino,
		    struct scoutfs_inode **di)
{
	int i, ret;

	for (i = 0; i < oi->nr; i++) {
		if (oi->e[i].ino == ino) {
			*di = &oi->e[i].di;
			return 0;
		}
	}
	if (oi->nr == OP_INODES)
		return -EINVAL;
	ret = sfs_inode_read(fs, ino, &oi->e[oi->nr].di);
	if (ret)
		return ret;
	oi->e[oi->nr].ino = ino;
	oi->e[oi->nr].dirty = false;
	*di = &oi->e[oi->nr++].di;
	return 0;
}

void sfs_op_dirty(struct op_inodes *oi, const struct scoutfs_inode *di)
{
	int i;

	for (i = 0; i < oi->nr; i++)
		if (&oi->e[i].di == di)
			oi->e[i].dirty = true;
}

int sfs_op_write_inodes(struct sfs_fs *fs, struct op_inodes *oi, uint64_t seq)
{
	int i, ret = 0;

	for (i = 0; !ret && i < oi->nr; i++)
		if (oi->e[i].dirty)
			ret = sfs_inode_update(fs, oi->e[i].ino, &oi->e[i].di, seq);
	return ret;
}

static void add_nlink(struct scoutfs_inode *di, int delta)
{
	di->nlink = htole32(le32toh(di->nlink) + (uint32_t)delta);
}

static void add_size(struct scoutfs_inode *di, int64_t delta)
{
	di->size = htole64(le64toh(di->size) + (uint64_t)delta);
}

/* a directory gained or lost an entry: its times */
static void dir_changed(struct scoutfs_inode *dir)
{
	sfs_ts_now(&dir->mtime);
	dir->ctime = dir->mtime;
}

/* name for ino (of type) in dir, at the dir's next readdir position */
static int add_entry(struct sfs_fs *fs, uint64_t dir_ino, struct scoutfs_inode *dir,
		     const char *name, unsigned int len, uint64_t ino, uint8_t type, uint64_t seq)
{
	uint64_t pos = le64toh(dir->next_readdir_pos);
	int ret;

	ret = sfs_dir_add(fs, dir_ino, name, len, ino, type, pos, seq);
	if (ret)
		return ret;
	dir->next_readdir_pos = htole64(pos + 1);
	add_size(dir, len);
	return 0;
}

/* the entry de, named name, leaves dir */
static int del_entry(struct sfs_fs *fs, uint64_t dir_ino, struct scoutfs_inode *dir,
		     unsigned int len, const struct sfs_dirent *de, uint64_t seq)
{
	int ret;

	ret = sfs_dir_del(fs, dir_ino, de, seq);
	if (!ret)
		add_size(dir, -(int64_t)len);
	return ret;
}

/* ------------------------------------------------------------------ */
/* cluster locks of FUSE ops (docs/cluster.md)                          */
/* ------------------------------------------------------------------ */

int sfs_fuse_lock_inodes(struct sfs_fuse *sf, struct sfs_lock_set *set, uint8_t mode,
			 uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return sfs_fuse_lock_inodes_x(sf, set, mode, 0, a, b, c, d);
}

int sfs_fuse_lock_inodes_x(struct sfs_fuse *sf, struct sfs_lock_set *set, uint8_t mode,
			   unsigned int xflags, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	const uint64_t inos[] = { a, b, c, d };
	struct sfs_item_range r;
	unsigned int i;
	int ret = 0;

	sfs_lock_set_init(set);
	for (i = 0; i < 4 && !ret; i++) {
		if (!inos[i])
			continue;
		r = sfs_lock_name_ino(inos[i]);
		ret = sfs_lock_set_add(set, &r, mode);
	}
	/*
	 * A change updates the inodes' seq index items too: WRITE_ONLY on
	 * the index zone, which every writer holds at once and which a
	 * walk-inodes READ takes back (so it sees every completed change)
	 */
	if (!ret && mode == SFS_LOCK_WRITE) {
		r = sfs_lock_name_zone(SCOUTFS_INODE_INDEX_ZONE);
		ret = sfs_lock_set_add(set, &r, SFS_LOCK_WRITE_ONLY);
	}
	/* xattr totals and indexes changed without reading: readers take READ */
	if (!ret && (xflags & SFS_FUSE_LOCK_TOTL)) {
		r = sfs_lock_name_zone(SCOUTFS_XATTR_TOTL_ZONE);
		ret = sfs_lock_set_add(set, &r, SFS_LOCK_WRITE_ONLY);
	}
	if (!ret && (xflags & SFS_FUSE_LOCK_INDX)) {
		r = sfs_lock_name_zone(SCOUTFS_XATTR_INDX_ZONE);
		ret = sfs_lock_set_add(set, &r, SFS_LOCK_WRITE_ONLY);
	}
	if (!ret && (xflags & SFS_FUSE_LOCK_QUOTA)) {
		r = sfs_lock_name_zone(SCOUTFS_QUOTA_ZONE);
		ret = sfs_lock_set_add(set, &r, SFS_LOCK_READ);
	}
	return ret ?: sfs_lock_set_get(sf->fs, set);
}

int sfs_fuse_lock_zone(struct sfs_fuse *sf, struct sfs_lock_set *set, uint8_t zone, uint8_t mode,
		       bool own)
{
	struct sfs_item_range r = sfs_lock_name_zone(zone);
	struct sfs_lock *lock;
	int ret;

	sfs_lock_set_init(set);
	ret = sfs_lock_set_add(set, &r, mode) ?: sfs_lock_set_get(sf->fs, set);
	if (ret || !own || mode != SFS_LOCK_READ)
		return ret;
	/* what this mount wrote under it is committed too */
	lock = sfs_lock_set_find(set, &r.start);
	if (lock && sfs_lock_written_seq(lock) > sfs_trans_committed_seq(sf->fs)) {
		ret = sfs_trans_sync(sf->fs);
		if (ret)
			sfs_lock_set_put(sf->fs, set);
	}
	return ret;
}

/* the lock of ino's group in a held set (NULL without cluster locks) */
static struct sfs_lock *set_lock_of(const struct sfs_lock_set *set, uint64_t ino)
{
	struct sfs_item_range r = sfs_lock_name_ino(ino);

	return sfs_lock_set_find(set, &r.start);
}

uint64_t sfs_fuse_lock_seq(const struct sfs_lock_set *set, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < set->nr; i++)
		if (set->e[i].lock && sfs_lock_write_seq(set->e[i].lock) > seq)
			seq = sfs_lock_write_seq(set->e[i].lock);
	return seq;
}

void sfs_fuse_unlock(struct sfs_fuse *sf, struct sfs_lock_set *set, uint64_t written_seq)
{
	unsigned int i;

	for (i = 0; written_seq && i < set->nr; i++)
		if (set->e[i].lock && set->e[i].mode != SFS_LOCK_READ)
			sfs_lock_mark_written(set->e[i].lock, written_seq);
	sfs_lock_set_put(sf->fs, set);
}

/* a namespace change: the namespace exclusively, then the transaction */
int sfs_fuse_change_begin(struct sfs_fuse *sf, bool growth, uint64_t *seq)
{
	int ret;

	pthread_rwlock_wrlock(&sf->ns);
	ret = sfs_trans_hold(sf->fs, growth, seq);
	if (ret)
		pthread_rwlock_unlock(&sf->ns);
	return ret;
}

void sfs_fuse_change_end(struct sfs_fuse *sf)
{
	sfs_trans_release(sf->fs);
	pthread_rwlock_unlock(&sf->ns);
}

static struct scoutfs_key orphan_key(uint64_t ino)
{
	return sfs_key_make(SCOUTFS_ORPHAN_ZONE, 0, SCOUTFS_ORPHAN_TYPE, ino, 0, 0);
}

/* every item of an inode whose last link and last open are gone */
static int delete_inode_items(struct sfs_fs *fs, uint64_t ino, const struct scoutfs_inode *di,
			      uint64_t seq)
{
	struct sfs_item_range all = sfs_all_lock();
	struct scoutfs_key key = orphan_key(ino);
	uint32_t mode = le32toh(di->mode);
	int ret = 0;

	if (S_ISLNK(mode))
		ret = sfs_symlink_delete(fs, ino, le64toh(di->size), seq);
	else if (S_ISREG(mode)) {
		struct scoutfs_inode copy = *di;	/* its block counts go with it */

		ret = sfs_data_free_all(fs, ino, &copy, seq);
	}
	if (!ret)
		ret = sfs_xattr_delete_all(fs, ino, seq);
	return ret ?: sfs_item_delete_force(fs, &key, seq, &all) ?:
		      sfs_inode_delete(fs, ino, di, seq);
}

/*
 * An inode lost a link in the op: with none left it goes now, or, open
 * here or on another mount (open, from open_anywhere before the op took
 * the namespace), at its last release with an orphan item meanwhile.
 */
static int unlinked(struct sfs_fuse *sf, struct op_inodes *oi, uint64_t ino,
		    struct scoutfs_inode *di, bool open, uint64_t seq)
{
	struct sfs_item_range all = sfs_all_lock();
	struct scoutfs_key key;
	int i;

	if (le32toh(di->nlink) > 0)
		return 0;
	if (open || is_open(sf, ino)) {
		key = orphan_key(ino);
		return sfs_item_force(sf->fs, &key, NULL, 0, seq, &all);
	}
	for (i = 0; i < oi->nr; i++)
		if (&oi->e[i].di == di)
			oi->e[i].dirty = false;	/* nothing to write: it is gone */
	return delete_inode_items(sf->fs, ino, di, seq);
}

/*
 * Delete an inode that has no links and is open nowhere: at its last
 * release here, and from the orphan scan (orphan: its orphan item goes
 * too when the inode is gone already).  0 also when it stays (linked,
 * open somewhere: that mount's last release or a later scan deletes it).
 */
static int try_delete(struct sfs_fuse *sf, uint64_t ino, bool orphan)
{
	struct sfs_item_range all = sfs_all_lock();
	struct sfs_fs *fs = sf->fs;
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	struct scoutfs_key key;
	uint64_t seq = 0;
	bool gone, open;
	int ret;

	if (!orphan) {
		/* most last closes are of linked files: look under READ first */
		ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
		if (ret)
			return ret;
		pthread_rwlock_rdlock(&sf->ns);
		ret = sfs_inode_read(fs, ino, &di);
		pthread_rwlock_unlock(&sf->ns);
		sfs_fuse_unlock(sf, &set, 0);
		if (ret)
			return ret == -ENOENT ? 0 : ret;
		if (le32toh(di.nlink) > 0)
			return 0;
	}
	ret = sfs_fuse_lock_inodes_x(sf, &set, SFS_LOCK_WRITE, SFS_FUSE_LOCK_DELETE, ino, 0, 0, 0);
	if (ret)
		return ret;
	open = open_anywhere(sf, &set, ino);
	pthread_rwlock_wrlock(&sf->ns);
	if (open || is_open(sf, ino)) {
		sfs_inc(fs, orphan_kept_open);
		goto unlock;
	}
	/* the WRITE lock and ns: the inode read stays true */
	ret = sfs_inode_read(fs, ino, &di);
	gone = ret == -ENOENT;
	if (ret && !gone)
		goto unlock;
	ret = 0;
	if (!gone && le32toh(di.nlink) > 0) {
		/* linked again?  not possible for an orphan; leave it, loudly */
		if (orphan)
			sfs_warn(fs, "orphan item for inode %llu, which has %u links: kept",
				 (unsigned long long)ino, le32toh(di.nlink));
		goto unlock;
	}
	if (gone && !orphan)
		goto unlock;
	ret = sfs_trans_hold(fs, false, &seq);
	if (ret)
		goto unlock;
	if (gone) {
		/* a stale orphan item: the inode went already */
		key = orphan_key(ino);
		ret = sfs_item_delete_force(fs, &key, seq, &all);
	} else {
		ret = delete_inode_items(fs, ino, &di, seq);
	}
	sfs_trans_release(fs);
	if (!ret && !gone) {
		sfs_inc(fs, orphan_deleted);
		if (orphan)
			sfs_info(fs, "orphan scan: deleted unlinked inode %llu",
				 (unsigned long long)ino);
	}
unlock:
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, &set, seq);
	return ret;
}

/* ------------------------------------------------------------------ */
/* the orphan scan                                                      */
/* ------------------------------------------------------------------ */

/*
 * ORPHAN items mark inodes with no links that were open when their last
 * name went.  Their last release deletes them; after a crash nobody
 * releases them, so a scan every orphan_scan_delay_ms (with jitter, as
 * the reference) deletes the ones no mount has open (try_delete).  It
 * reads the committed orphans of every mount, not the item cache: the
 * zone is written by all mounts without a lock readers could hold (the
 * inode group locks order each inode's orphan item), and an orphan not
 * committed yet belongs to a live mount, whose last release deletes it.
 */
#define ORPHAN_BATCH 256

struct orphan_batch {
	uint64_t inos[ORPHAN_BATCH];
	unsigned int nr;
};

static int orphan_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		     const void *val, unsigned int val_len)
{
	struct orphan_batch *ob = arg;

	(void)seq, (void)flags, (void)val, (void)val_len;
	if (key->sk_type != SCOUTFS_ORPHAN_TYPE)
		return 0;
	ob->inos[ob->nr++] = le64toh(key->_sk_second);
	return ob->nr == ORPHAN_BATCH;
}

static void scan_orphans(struct sfs_fuse *sf)
{
	struct scoutfs_key key = orphan_key(0), last = orphan_key(UINT64_MAX);
	struct orphan_batch *ob = malloc(sizeof(*ob));
	unsigned int i;
	uint64_t ino = 0;
	int ret;

	if (!ob)
		return;
	last._sk_third = htole64(UINT64_MAX);
	last._sk_fourth = 255;
	for (;;) {
		ob->nr = 0;
		ret = sfs_forest_walk_committed(sf->fs, &key, &last, orphan_cb, ob);
		if (ret < 0)
			break;
		for (i = 0; i < ob->nr && !__atomic_load_n(&sf->stopping, __ATOMIC_RELAXED); i++) {
			ino = ob->inos[i];
			if (is_open(sf, ino))
				continue;
			ret = try_delete(sf, ino, true);
			if (ret)
				sfs_err(sf->fs, "orphan scan: inode %llu: %s (the next scan tries again)",
					(unsigned long long)ino, strerror(-ret));
		}
		if (ob->nr < ORPHAN_BATCH || ino == UINT64_MAX ||
		    __atomic_load_n(&sf->stopping, __ATOMIC_RELAXED)) {
			ret = 0;
			break;
		}
		key = orphan_key(ino + 1);
	}
	if (ret < 0)
		sfs_err(sf->fs, "orphan scan: reading orphan items: %s", strerror(-ret));
	free(ob);
}

static void *orphan_thread(void *arg)
{
	struct sfs_fuse *sf = arg;
	uint32_t delay = sf->opts.orphan_scan_delay_ms ? sf->opts.orphan_scan_delay_ms : 10000;
	unsigned int seed = (unsigned int)(uintptr_t)sf ^ (unsigned int)time(NULL);
	struct timespec at;
	uint64_t ms;

	pthread_mutex_lock(&sf->orphan_lock);
	while (!sf->stopping) {
		/* delay +/- 20% */
		ms = delay - delay / 5 + (uint64_t)rand_r(&seed) % (2 * (delay / 5) + 1);
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += (time_t)(ms / 1000);
		at.tv_nsec += (long)(ms % 1000) * 1000000;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		while (!sf->stopping &&
		       pthread_cond_timedwait(&sf->orphan_cond, &sf->orphan_lock, &at) != ETIMEDOUT)
			;
		if (sf->stopping)
			break;
		pthread_mutex_unlock(&sf->orphan_lock);
		scan_orphans(sf);
		pthread_mutex_lock(&sf->orphan_lock);
	}
	pthread_mutex_unlock(&sf->orphan_lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* replies                                                              */
/* ------------------------------------------------------------------ */

static void fill_entry(struct fuse_entry_param *e, uint64_t ino, const struct scoutfs_inode *di)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->generation = 1;
	sfs_inode_to_stat(ino, di, &e->attr);
}

void sfs_fuse_reply_err(fuse_req_t req, int err)
{
	fuse_reply_err(req, err < 0 ? -err : err);
}

/* an inode read under the shared namespace lock; on failure the error is the reply */
int sfs_fuse_get_inode(fuse_req_t req, uint64_t ino, struct scoutfs_inode *di)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	int ret;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (!ret) {
		pthread_rwlock_rdlock(&sf->ns);
		ret = sfs_inode_read(sf->fs, ino, di);
		pthread_rwlock_unlock(&sf->ns);
		sfs_fuse_unlock(sf, &set, 0);
	}
	if (ret)
		sfs_fuse_reply_err(req, ret);
	return ret;
}

static int check_name(const char *name)
{
	size_t len = strlen(name);

	if (len > SCOUTFS_NAME_LEN)
		return -ENAMETOOLONG;
	return len ? 0 : -ENOENT;
}

/* ------------------------------------------------------------------ */
/* ops                                                                  */
/* ------------------------------------------------------------------ */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct sfs_fuse *sf = userdata;

	/* the kernel leaves the umask to make_node then: a default ACL replaces it */
	if (sf->opts.acl && (conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	conn->want &= ~(unsigned int)FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * The kernel checks the attributes before a read when they were
	 * dropped (a revoke does, sfs_fuse_kernel_invalidate) or are older
	 * than a tick, and drops the file's pages itself when its size or
	 * mtime moved: reads stay right while a revoke's page invalidation
	 * waits for pages a blocked request holds.
	 */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* open(O_TRUNC): the kernel truncates through setattr first (our truncate path) */
	conn->want &= ~(unsigned int)FUSE_CAP_ATOMIC_O_TRUNC;
	conn->max_write = 1U << 20;
	/* sequential reads come in 1 MiB requests, several in flight (async reads) */
	conn->max_readahead = 1U << 20;
	/*
	 * The kernel's default of 12 background requests would cap reads in
	 * flight.  Reads come as background requests (readahead, async direct I/O),
	 * and a read of offline data stays in the daemon until staged: with
	 * few background slots, readers of offline files would hold up every
	 * other read of the mount.  1024 slots bound what parked readahead
	 * can pin (1 MiB each) while leaving room for other reads.
	 */
	conn->max_background = 1024;
	conn->congestion_threshold = 768;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	struct fuse_entry_param e;
	struct scoutfs_inode di;
	struct sfs_dirent de = { .ino = 0 };
	int ret, tries;

	ret = check_name(name);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	/*
	 * The directory's lock, then the inode's: never two out of order.
	 * Between them another mount may remove the name and delete the
	 * inode: look again; an entry that still names no inode is corrupt.
	 */
	for (tries = 0;; tries++) {
		ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, parent, 0, 0, 0);
		if (!ret) {
			pthread_rwlock_rdlock(&sf->ns);
			ret = sfs_dir_lookup(sf->fs, parent, name, (unsigned int)strlen(name), &de);
			pthread_rwlock_unlock(&sf->ns);
			sfs_fuse_unlock(sf, &set, 0);
		}
		if (!ret)
			ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, de.ino, 0, 0, 0);
		if (!ret) {
			pthread_rwlock_rdlock(&sf->ns);
			ret = sfs_inode_read(sf->fs, de.ino, &di);
			pthread_rwlock_unlock(&sf->ns);
			sfs_fuse_unlock(sf, &set, 0);
		}
		if (ret != -ENOENT || !de.ino)
			break;
		if (tries == 3) {
			sfs_err(sf->fs, "dir %llu: entry '%s' names inode %llu, which has no item",
				(unsigned long long)parent, name, (unsigned long long)de.ino);
			ret = -EIO;
			break;
		}
		de.ino = 0;
	}
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	fill_entry(&e, de.ino, &di);
	reply_entry(sf, req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct scoutfs_inode di;
	struct stat st;

	(void)fi;
	if (sfs_fuse_get_inode(req, ino, &di))
		return;
	sfs_inode_to_stat(ino, &di, &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi);

/* a size change parked on offline data, run again once it was staged */
struct setattr_args {
	struct stat attr;
	int to_set;
};

static void retry_setattr(fuse_req_t req, uint64_t ino, size_t size, uint64_t off,
			  const char *buf)
{
	struct setattr_args a;

	(void)size, (void)off;
	memcpy(&a, buf, sizeof(a));
	op_setattr(req, ino, &a.attr, a.to_set, NULL);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	struct op_inodes oi = { .nr = 0 };
	struct setattr_args args;
	struct sfs_lock_set set;
	struct scoutfs_inode *di;
	struct timespec now;
	struct stat st;
	uint64_t seq = 0;
	uint32_t mode;
	int ret;

	(void)fi;
	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_WRITE, ino, 0, 0, 0);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		/* data_version covers the whole file: a size change waits for offline data */
		args.attr = *attr;
		args.to_set = to_set;
		ret = sfs_data_wait_size(sf, req, ino, (uint64_t)attr->st_size, retry_setattr,
					 &args, sizeof(args));
		if (ret == 1) {
			sfs_fuse_unlock(sf, &set, 0);
			return;
		}
		if (ret)
			goto out;
	}
	ret = sfs_fuse_change_begin(sf, false, &seq);
	if (ret)
		goto out;
	seq = sfs_fuse_lock_seq(&set, seq);
	ret = sfs_op_inode(fs, &oi, ino, &di) ?: sfs_inode_retention_check(di);
	if (ret)
		goto release;
	mode = le32toh(di->mode);
	if ((to_set & FUSE_SET_ATTR_SIZE) && !S_ISREG(mode)) {
		ret = S_ISDIR(mode) ? -EISDIR : -EINVAL;
		goto release;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (to_set & FUSE_SET_ATTR_MODE) {
		di->mode = htole32((mode & S_IFMT) | (attr->st_mode & 07777));
		/* the access ACL follows the mode (posix_acl_chmod) */
		ret = sf->opts.acl ? sfs_xattr_acl_chmod(fs, ino, di, seq) : 0;
		if (ret)
			goto release;
	}
	if (to_set & FUSE_SET_ATTR_UID)
		di->uid = htole32(attr->st_uid);
	if (to_set & FUSE_SET_ATTR_GID)
		di->gid = htole32(attr->st_gid);
	if ((to_set & FUSE_SET_ATTR_SIZE) && (uint64_t)attr->st_size > SFS_DATA_MAX_BYTES) {
		ret = -EFBIG;
		goto release;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && (uint64_t)attr->st_size != le64toh(di->size)) {
		if ((uint64_t)attr->st_size < le64toh(di->size))
			ret = sfs_data_truncate(sf, ino, di, (uint64_t)attr->st_size, seq);
		if (!ret)
			ret = sfs_inode_data_changed(fs, ino, di, seq);
		if (ret)
			goto release;
		sfs_ts_set(&di->mtime, &now);
		di->size = htole64((uint64_t)attr->st_size);
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		sfs_ts_set(&di->atime, &now);
	else if (to_set & FUSE_SET_ATTR_ATIME)
		sfs_ts_set(&di->atime, &attr->st_atim);
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		sfs_ts_set(&di->mtime, &now);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		sfs_ts_set(&di->mtime, &attr->st_mtim);
	if (to_set & FUSE_SET_ATTR_CTIME)
		sfs_ts_set(&di->ctime, &attr->st_ctim);
	else
		sfs_ts_set(&di->ctime, &now);
	sfs_op_dirty(&oi, di);
	ret = sfs_op_write_inodes(fs, &oi, seq);
release:
	sfs_fuse_change_end(sf);
out:
	sfs_fuse_unlock(sf, &set, seq);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	sfs_inode_to_stat(ino, di, &st);
	fuse_reply_attr(req, &st, 0);
}

/*
 * A new inode named name in parent: a node of mode (with rdev), a
 * directory, or a symlink to target.  *e is its entry on success.
 */
static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name, uint32_t mode,
		     dev_t rdev, const char *target, struct fuse_entry_param *e)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct op_inodes oi = { .nr = 0 };
	struct scoutfs_inode *dir, ndi;
	unsigned int len = (unsigned int)strlen(name);
	struct sfs_dirent de;
	struct sfs_lock_set set;
	uint64_t seq = 0, ino;
	uint32_t gid = ctx->gid;
	int ret;

	ret = check_name(name);
	if (ret)
		return ret;
	if (target && strlen(target) + 1 > 4096)
		return -ENAMETOOLONG;
	/* its number first: the new inode's lock is taken with the parent's */
	ret = sfs_inode_alloc_ino(fs, &ino);
	if (ret)
		return ret;
	ret = sfs_fuse_lock_inodes_x(sf, &set, SFS_LOCK_WRITE, SFS_FUSE_LOCK_QUOTA, parent, ino,
				     0, 0);
	if (ret)
		return ret;
	ret = sfs_fuse_change_begin(sf, true, &seq);
	if (ret)
		goto out;
	seq = sfs_fuse_lock_seq(&set, seq);
	ret = sfs_op_inode(fs, &oi, parent, &dir);
	if (ret)
		goto release;
	if (!S_ISDIR(le32toh(dir->mode)) || le32toh(dir->nlink) == 0) {
		ret = S_ISDIR(le32toh(dir->mode)) ? -ENOENT : -ENOTDIR;
		goto release;
	}
	ret = sfs_dir_lookup(fs, parent, name, len, &de);
	if (ret != -ENOENT) {
		ret = ret ?: -EEXIST;
		goto release;
	}
	if (le64toh(dir->next_readdir_pos) > SCOUTFS_DIRENT_LAST_POS) {
		ret = -EMLINK;
		goto release;
	}
	if (S_ISDIR(mode) && le32toh(dir->nlink) >= UINT32_MAX - 1) {
		ret = -EMLINK;
		goto release;
	}

	/* setgid directories pass their group on, and the bit to subdirectories */
	if (le32toh(dir->mode) & S_ISGID) {
		gid = le32toh(dir->gid);
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	sfs_inode_init(&ndi, mode, ctx->uid, gid,
		       (uint32_t)((major(rdev) << 20) | (minor(rdev) & ((1U << 20) - 1))));
	/* the project ID comes from the parent (0 and not stored on v1 volumes) */
	ndi.proj = dir->proj;
	/* quota rules of op INODE on the new inode's uid, gid and project (quota.c) */
	ret = sfs_quota_check(fs, SCOUTFS_QUOTA_OP_INODE, &ndi);
	if (ret)
		goto release;
	if (target)
		ndi.size = htole64(strlen(target) + 1);
	/* with ACLs the umask or the parent's default ACL is ours to apply */
	ret = (sf->opts.acl ? sfs_xattr_acl_create(fs, parent, ino, &ndi, ctx->umask, seq) : 0) ?:
	      sfs_inode_create(fs, ino, &ndi, seq) ?:
	      (target ? sfs_symlink_write(fs, ino, target, seq) : 0) ?:
	      add_entry(fs, parent, dir, name, len, ino, sfs_dir_type(mode), seq);
	if (ret)
		goto release;
	if (S_ISDIR(mode))
		add_nlink(dir, 1);
	dir_changed(dir);
	sfs_op_dirty(&oi, dir);
	ret = sfs_op_write_inodes(fs, &oi, seq);
release:
	sfs_fuse_change_end(sf);
out:
	sfs_fuse_unlock(sf, &set, seq);
	if (!ret)
		fill_entry(e, ino, &ndi);
	return ret;
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct fuse_entry_param e;
	int ret;

	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		sfs_fuse_reply_err(req, -EINVAL);
		return;
	}
	ret = make_node(req, parent, name, mode, rdev, NULL, &e);
	if (ret)
		sfs_fuse_reply_err(req, ret);
	else
		reply_entry(sf_of(req), req, &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int ret;

	ret = make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL, &e);
	if (ret)
		sfs_fuse_reply_err(req, ret);
	else
		reply_entry(sf_of(req), req, &e);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int ret;

	ret = make_node(req, parent, name, S_IFLNK | 0777, 0, link, &e);
	if (ret)
		sfs_fuse_reply_err(req, ret);
	else
		reply_entry(sf_of(req), req, &e);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct sfs_fuse *sf = sf_of(req);
	struct fuse_entry_param e;
	int ret;

	ret = make_node(req, parent, name, S_IFREG | (mode & 07777), 0, NULL, &e);
	if (!ret)
		ret = open_get(sf, e.ino, fi_writable(fi));
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	fi->direct_io = append_direct(fi);
	fi->noflush = 1;	/* flush does nothing here: spare close a round trip */
	/*
	 * Cached pages stay valid across opens: every change to a file's
	 * contents comes through this kernel, and the ones that do not
	 * (release) invalidate them.  Dropping them at open would also wait
	 * on pages locked by reads parked on offline data: an agent opening
	 * the file to stage it would hang behind them.
	 */
	fi->keep_cache = 1;
	known_add(sf, e.ino);
	if (fuse_reply_create(req, &e, fi)) {
		open_put(sf, e.ino, fi_writable(fi));
		known_forget(sf, e.ino, 1);
	}
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	char buf[4096];
	size_t len;
	int ret;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (!ret) {
		pthread_rwlock_rdlock(&sf->ns);
		ret = sfs_symlink_read(sf->fs, ino, buf, sizeof(buf), &len);
		pthread_rwlock_unlock(&sf->ns);
		sfs_fuse_unlock(sf, &set, 0);
	}
	if (ret)
		sfs_fuse_reply_err(req, ret);
	else
		fuse_reply_readlink(req, buf);
}

/* unlink and rmdir */
static int remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	struct op_inodes oi = { .nr = 0 };
	struct scoutfs_inode *pdi, *cdi;
	unsigned int len = (unsigned int)strlen(name);
	struct sfs_dirent de;
	struct sfs_lock_set set;
	uint64_t seq = 0, ino;
	bool open;
	int ret, tries;

	ret = check_name(name);
	if (ret)
		return ret;
	/*
	 * Which inode the name is, under the directory's lock; then both
	 * locks, in order, and the name must still be that inode (another
	 * mount may have changed it between): else again.
	 */
	for (tries = 0;; tries++) {
		ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, parent, 0, 0, 0);
		if (ret)
			return ret;
		pthread_rwlock_rdlock(&sf->ns);
		ret = sfs_dir_lookup(fs, parent, name, len, &de);
		pthread_rwlock_unlock(&sf->ns);
		sfs_fuse_unlock(sf, &set, 0);
		if (ret)
			return ret;
		ino = de.ino;
		ret = sfs_fuse_lock_inodes_x(sf, &set, SFS_LOCK_WRITE, SFS_FUSE_LOCK_DELETE, parent,
					     ino, 0, 0);
		if (ret)
			return ret;
		/* if it loses its last link: is it open anywhere? (no local lock held) */
		open = open_anywhere(sf, &set, ino);
		ret = sfs_fuse_change_begin(sf, false, &seq);
		if (ret)
			goto out;
		seq = sfs_fuse_lock_seq(&set, seq);
		ret = sfs_dir_lookup(fs, parent, name, len, &de);
		if (ret || de.ino == ino || tries == 10)
			break;
		sfs_fuse_change_end(sf);
		sfs_fuse_unlock(sf, &set, 0);
	}
	ret = ret ?: (de.ino != ino ? -EAGAIN : 0) ?: sfs_op_inode(fs, &oi, parent, &pdi) ?:
	      sfs_op_inode(fs, &oi, de.ino, &cdi);
	if (ret)
		goto release;
	if (dir && !S_ISDIR(le32toh(cdi->mode))) {
		ret = -ENOTDIR;
		goto release;
	}
	if (!dir && S_ISDIR(le32toh(cdi->mode))) {
		ret = -EISDIR;
		goto release;
	}
	ret = sfs_inode_retention_check(cdi);
	if (ret)
		goto release;
	if (dir) {
		ret = sfs_dir_empty(fs, de.ino);
		if (ret)
			goto release;
	}
	ret = del_entry(fs, parent, pdi, len, &de, seq);
	if (ret)
		goto release;
	dir_changed(pdi);
	sfs_op_dirty(&oi, pdi);
	if (dir) {
		add_nlink(pdi, -1);
		cdi->nlink = 0;
	} else {
		add_nlink(cdi, -1);
	}
	sfs_ts_now(&cdi->ctime);
	sfs_op_dirty(&oi, cdi);
	ret = unlinked(sf, &oi, de.ino, cdi, open, seq) ?: sfs_op_write_inodes(fs, &oi, seq);
release:
	sfs_fuse_change_end(sf);
out:
	sfs_fuse_unlock(sf, &set, seq);
	return ret;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	sfs_fuse_reply_err(req, remove_entry(req, parent, name, false));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	sfs_fuse_reply_err(req, remove_entry(req, parent, name, true));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	struct op_inodes oi = { .nr = 0 };
	struct scoutfs_inode *pdi, *cdi;
	unsigned int len = (unsigned int)strlen(newname);
	struct fuse_entry_param e;
	struct sfs_lock_set set;
	struct sfs_dirent de;
	uint64_t seq = 0;
	int ret;

	ret = check_name(newname);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_WRITE, newparent, ino, 0, 0);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	ret = sfs_fuse_change_begin(sf, true, &seq);
	if (ret)
		goto out;
	seq = sfs_fuse_lock_seq(&set, seq);
	ret = sfs_op_inode(fs, &oi, newparent, &pdi) ?: sfs_op_inode(fs, &oi, ino, &cdi);
	if (ret)
		goto release;
	if (S_ISDIR(le32toh(cdi->mode))) {
		ret = -EPERM;
		goto release;
	}
	if (le32toh(cdi->nlink) == 0) {
		ret = -ENOENT;
		goto release;
	}
	if (le32toh(cdi->nlink) >= UINT32_MAX - 1) {
		ret = -EMLINK;
		goto release;
	}
	ret = sfs_dir_lookup(fs, newparent, newname, len, &de);
	if (ret != -ENOENT) {
		ret = ret ?: -EEXIST;
		goto release;
	}
	ret = add_entry(fs, newparent, pdi, newname, len, ino, sfs_dir_type(le32toh(cdi->mode)),
			seq);
	if (ret)
		goto release;
	dir_changed(pdi);
	sfs_op_dirty(&oi, pdi);
	add_nlink(cdi, 1);
	sfs_ts_now(&cdi->ctime);
	sfs_op_dirty(&oi, cdi);
	ret = sfs_op_write_inodes(fs, &oi, seq);
release:
	sfs_fuse_change_end(sf);
out:
	sfs_fuse_unlock(sf, &set, seq);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	fill_entry(&e, ino, cdi);
	reply_entry(sf, req, &e);
}

/* the parent of a directory: the dir of its one LINK_BACKREF item */
static int dir_parent(struct sfs_fs *fs, uint64_t ino, uint64_t *parent)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key start = sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_LINK_BACKREF_TYPE,
						0, 0, 0);
	struct scoutfs_key last = sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_LINK_BACKREF_TYPE,
					       UINT64_MAX, UINT64_MAX, 255);
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = sfs_item_next(fs, &start, &last, &lock, r);
	if (!ret)
		*parent = le64toh(r->key._sk_second);
	free(r);
	return ret;
}

/*
 * Is dir (a directory) below (or) anc?  Walks up from dir to the root,
 * each step under the READ lock of its group, taken alone: the caller
 * holds no other cluster lock but the rename lock, and rename_mutex, so
 * no rename anywhere moves a directory until it is done.
 */
static int is_below(struct sfs_fuse *sf, uint64_t dir, uint64_t anc)
{
	struct sfs_lock_set set;
	uint64_t ino = dir;
	int depth, ret;

	for (depth = 0; depth < 4096; depth++) {
		if (ino == anc)
			return 1;
		if (ino == SFS_ROOT_INO)
			return 0;
		ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
		if (ret)
			return ret;
		pthread_rwlock_rdlock(&sf->ns);
		ret = dir_parent(sf->fs, ino, &ino);
		pthread_rwlock_unlock(&sf->ns);
		sfs_fuse_unlock(sf, &set, 0);
		if (ret)
			return ret == -ENOENT ? 0 : ret;
	}
	return -ELOOP;
}

/* the inodes both names are now, under their directories' READ locks */
static int rename_look(struct sfs_fuse *sf, uint64_t parent, const char *name, uint64_t newparent,
		       const char *newname, struct sfs_dirent *sde, struct sfs_dirent *dde,
		       bool *have_dst)
{
	struct sfs_lock_set set;
	int ret;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, parent, newparent, 0, 0);
	if (ret)
		return ret;
	pthread_rwlock_rdlock(&sf->ns);
	ret = sfs_dir_lookup(sf->fs, parent, name, (unsigned int)strlen(name), sde);
	if (!ret) {
		ret = sfs_dir_lookup(sf->fs, newparent, newname, (unsigned int)strlen(newname), dde);
		*have_dst = ret == 0;
		if (ret == -ENOENT)
			ret = 0;
	}
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, &set, 0);
	return ret;
}

/*
 * Rename, as the reference: look the names up under their directories'
 * READ locks; check that a directory does not move below itself; take
 * the WRITE locks of every inode involved in one set; then the names must
 * still be what they were (another mount may have changed them between):
 * else again.  A rename across directories first takes the cluster's
 * rename lock (and this mount's rename_mutex), so no directory moves
 * anywhere while the ancestry it checked is relied on.
 */
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_fs *fs = sf->fs;
	struct op_inodes oi = { .nr = 0 };
	struct scoutfs_inode *opdi, *npdi, *sdi, *ddi = NULL;
	unsigned int len = (unsigned int)strlen(name), nlen = (unsigned int)strlen(newname);
	struct sfs_item_range rr = sfs_lock_name_rename();
	struct sfs_dirent sde, dde, sde2, dde2;
	struct sfs_lock *rlock = NULL;
	struct sfs_lock_set set;
	bool have_dst, have_dst2, sdir, ddir = false, cross = parent != newparent;
	bool locked = false, open = false;
	uint64_t seq = 0;
	int ret, tries;

	ret = check_name(name) ?: check_name(newname);
	if (!ret && (flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE)))
		ret = -EINVAL;
	if (!ret && (flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		ret = -EINVAL;
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	if (cross) {
		pthread_mutex_lock(&sf->rename_mutex);
		if (fs->locks) {
			ret = sfs_lock_get(fs, &rr, SFS_LOCK_WRITE, &rlock);
			if (ret)
				goto out;
		}
	}
	for (tries = 0;; tries++) {
		ret = rename_look(sf, parent, name, newparent, newname, &sde, &dde, &have_dst);
		if (ret)
			goto out;
		if (have_dst && (flags & RENAME_NOREPLACE)) {
			ret = -EEXIST;
			goto out;
		}
		if (!have_dst && (flags & RENAME_EXCHANGE)) {
			ret = -ENOENT;
			goto out;
		}
		/* the same inode under both names: nothing happens */
		if (have_dst && dde.ino == sde.ino)
			goto out;
		/* a directory may not go below itself */
		if (cross && sde.type == SCOUTFS_DT_DIR) {
			ret = is_below(sf, newparent, sde.ino);
			if (ret) {
				ret = ret > 0 ? -EINVAL : ret;
				goto out;
			}
		}
		if (cross && (flags & RENAME_EXCHANGE) && dde.type == SCOUTFS_DT_DIR) {
			ret = is_below(sf, parent, dde.ino);
			if (ret) {
				ret = ret > 0 ? -EINVAL : ret;
				goto out;
			}
		}
		ret = sfs_fuse_lock_inodes_x(sf, &set, SFS_LOCK_WRITE,
					     have_dst ? SFS_FUSE_LOCK_DELETE : 0, parent, newparent,
					     sde.ino, have_dst ? dde.ino : 0);
		if (ret)
			goto out;
		locked = true;
		/* a replaced inode that loses its last link: open anywhere? */
		open = have_dst && !(flags & RENAME_EXCHANGE) && open_anywhere(sf, &set, dde.ino);
		ret = sfs_fuse_change_begin(sf, true, &seq);
		if (ret)
			goto out;
		seq = sfs_fuse_lock_seq(&set, seq);
		if (rlock && sfs_lock_write_seq(rlock) > seq)
			seq = sfs_lock_write_seq(rlock);
		ret = sfs_dir_lookup(fs, parent, name, len, &sde2);
		if (!ret) {
			ret = sfs_dir_lookup(fs, newparent, newname, nlen, &dde2);
			have_dst2 = ret == 0;
			if (ret == -ENOENT)
				ret = 0;
		}
		if (ret)
			goto release;
		if (sde2.ino == sde.ino && have_dst2 == have_dst && (!have_dst || dde2.ino == dde.ino))
			break;
		/* changed under us: again, from the start */
		sfs_fuse_change_end(sf);
		sfs_fuse_unlock(sf, &set, 0);
		locked = false;
		sfs_inc(fs, rename_retries);
		if (tries == 100) {
			ret = -EAGAIN;
			goto out;
		}
	}
	sde = sde2;
	if (have_dst)
		dde = dde2;
	ret = sfs_op_inode(fs, &oi, parent, &opdi) ?: sfs_op_inode(fs, &oi, newparent, &npdi) ?:
	      sfs_op_inode(fs, &oi, sde.ino, &sdi) ?:
	      (have_dst ? sfs_op_inode(fs, &oi, dde.ino, &ddi) : 0);
	if (ret)
		goto release;
	if (!S_ISDIR(le32toh(npdi->mode))) {
		ret = -ENOTDIR;
		goto release;
	}
	/* a file under retention keeps its name, and is not replaced */
	ret = sfs_inode_retention_check(sdi) ?: (ddi ? sfs_inode_retention_check(ddi) : 0);
	if (ret)
		goto release;
	sdir = S_ISDIR(le32toh(sdi->mode));
	ddir = ddi && S_ISDIR(le32toh(ddi->mode));
	if (have_dst && !(flags & RENAME_EXCHANGE)) {
		if (sdir && !ddir) {
			ret = -ENOTDIR;
			goto release;
		}
		if (!sdir && ddir) {
			ret = -EISDIR;
			goto release;
		}
		if (ddir) {
			ret = sfs_dir_empty(fs, dde.ino);
			if (ret)
				goto release;
		}
	}

	/* the old names go */
	ret = del_entry(fs, parent, opdi, len, &sde, seq) ?:
	      (have_dst ? del_entry(fs, newparent, npdi, nlen, &dde, seq) : 0);
	if (ret)
		goto release;

	/* the source under the new name */
	ret = add_entry(fs, newparent, npdi, newname, nlen, sde.ino, sde.type, seq);
	if (ret)
		goto release;
	if (sdir && cross) {
		add_nlink(opdi, -1);
		add_nlink(npdi, 1);
	}

	if (flags & RENAME_EXCHANGE) {
		/* and the destination under the old one */
		ret = add_entry(fs, parent, opdi, name, len, dde.ino, dde.type, seq);
		if (ret)
			goto release;
		if (ddir && cross) {
			add_nlink(npdi, -1);
			add_nlink(opdi, 1);
		}
		sfs_ts_now(&ddi->ctime);
		sfs_op_dirty(&oi, ddi);
	} else if (have_dst) {
		/* the replaced inode loses its name */
		if (ddir) {
			ddi->nlink = 0;
			add_nlink(npdi, -1);
		} else {
			add_nlink(ddi, -1);
		}
		sfs_ts_now(&ddi->ctime);
		sfs_op_dirty(&oi, ddi);
		ret = unlinked(sf, &oi, dde.ino, ddi, open, seq);
		if (ret)
			goto release;
	}
	sfs_ts_now(&sdi->ctime);
	sfs_op_dirty(&oi, sdi);
	dir_changed(opdi);
	sfs_op_dirty(&oi, opdi);
	dir_changed(npdi);
	sfs_op_dirty(&oi, npdi);
	ret = sfs_op_write_inodes(fs, &oi, seq);
release:
	sfs_fuse_change_end(sf);
out:
	if (locked)
		sfs_fuse_unlock(sf, &set, seq);
	if (rlock) {
		/* what moved is committed before another mount's rename looks */
		if (seq)
			sfs_lock_mark_written(rlock, seq);
		sfs_lock_put(fs, rlock, SFS_LOCK_WRITE);
	}
	if (cross)
		pthread_mutex_unlock(&sf->rename_mutex);
	sfs_fuse_reply_err(req, ret);
}

/*
 * O_APPEND handles write around the page cache (direct_io): the kernel
 * then sends each write of up to max_write as one request, which the
 * daemon puts at the end of the file as it is under the lock (data.c
 * sfs_op_write), so records appended from several mounts never tear.
 * Through the page cache the kernel splits a write at a page that is
 * not up to date, and another mount's append could land between the
 * halves.  Only write-only handles: they cannot be mmap-ed, and a
 * direct_io handle could not be mmap-ed shared (before Linux 6.6).  An
 * O_RDWR|O_APPEND handle keeps the page cache, and a write of it that
 * starts in a page not up to date and spans into the next may tear
 * against another mount's append.
 */
static unsigned int append_direct(const struct fuse_file_info *fi)
{
	return (fi->flags & O_APPEND) && (fi->flags & O_ACCMODE) == O_WRONLY ? 1 : 0;
}

/* open and opendir: the inode must be (dir) or must not be a directory */
static void open_common(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool dir)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	int ret;

	/*
	 * Counted open under the group lock: a mount deleting the inode
	 * holds it for WRITE while it asks who has it open (open_anywhere)
	 */
	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	pthread_rwlock_rdlock(&sf->ns);
	ret = sfs_inode_read(sf->fs, ino, &di);
	if (!ret && S_ISDIR(le32toh(di.mode)) != dir)
		ret = dir ? -ENOTDIR : -EISDIR;
	if (!ret)
		ret = open_get(sf, ino, !dir && fi_writable(fi));
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, &set, 0);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	fi->noflush = 1;
	fi->keep_cache = 1;	/* as in op_create */
	if (!dir)
		fi->direct_io = append_direct(fi);
	if (fuse_reply_open(req, fi))
		open_put(sf, ino, !dir && fi_writable(fi));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_common(req, ino, fi, false);
}

/* the last release of an unlinked inode deletes it, unless another mount has it open */
static void release_ino(struct sfs_fuse *sf, uint64_t ino, bool writable)
{
	int ret;

	if (!open_put(sf, ino, writable))
		return;
	ret = try_delete(sf, ino, false);
	if (ret)
		sfs_err(sf->fs, "inode %llu: deleting after its last close: %s (an orphan scan will)",
			(unsigned long long)ino, strerror(-ret));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	release_ino(sf_of(req), ino, fi_writable(fi));
	fuse_reply_err(req, 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	/* a new transaction even when nothing is written: the stable seq moves on */
	sfs_fuse_reply_err(req, sfs_trans_sync_force(sf_of(req)->fs));
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_common(req, ino, fi, true);
}

static mode_t dt_mode(uint8_t type)
{
	static const mode_t modes[] = { S_IFIFO, S_IFCHR, S_IFDIR, S_IFBLK, S_IFREG, S_IFLNK,
					S_IFSOCK };

	return type < sizeof(modes) / sizeof(modes[0]) ? modes[type] : 0;
}

struct fill_ctx {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

static int fill_one(struct fill_ctx *fc, const char *name, uint64_t ino, mode_t mode,
		    off_t next)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t need;

	need = fuse_add_direntry(fc->req, NULL, 0, name, &st, next);
	if (fc->used + need > fc->size)
		return 1;
	fuse_add_direntry(fc->req, fc->buf + fc->used, fc->size - fc->used, name, &st, next);
	fc->used += need;
	return 0;
}

static int fill_cb(void *arg, const struct sfs_dirent *de, const char *name, unsigned int len)
{
	char cname[SCOUTFS_NAME_LEN + 1];

	memcpy(cname, name, len);
	cname[len] = '\0';
	return fill_one(arg, cname, de->ino, dt_mode(de->type), (off_t)(de->pos + 1));
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct sfs_fuse *sf = sf_of(req);
	struct fill_ctx fc = { .req = req, .size = size };
	struct sfs_lock_set set;
	int ret = 0;

	(void)fi;
	fc.buf = malloc(size ? size : 1);
	if (!fc.buf) {
		sfs_fuse_reply_err(req, -ENOMEM);
		return;
	}
	if (off == 0 && fill_one(&fc, ".", ino, S_IFDIR, 1))
		goto reply;
	if (off <= 1 && fill_one(&fc, "..", ino, S_IFDIR, 2))
		goto reply;
	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (ret)
		goto reply;
	pthread_rwlock_rdlock(&sf->ns);
	ret = sfs_dir_readdir(sf->fs, ino, off > 2 ? (uint64_t)off : SCOUTFS_DIRENT_FIRST_POS,
			      fill_cb, &fc);
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, &set, 0);
reply:
	if (ret < 0)
		sfs_fuse_reply_err(req, ret);
	else
		fuse_reply_buf(req, fc.buf, fc.used);
	free(fc.buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	release_ino(sf_of(req), ino, false);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	op_fsync(req, ino, datasync, fi);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct sfs_fuse *sf = sf_of(req);
	struct scoutfs_net_statfs nst;
	struct statvfs st;
	uint64_t fsid;
	int ret;

	(void)ino;
	ret = sfs_client_statfs(sf->fs, &nst);
	if (ret) {
		sfs_fuse_reply_err(req, ret);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.f_bsize = SCOUTFS_BLOCK_SM_SIZE;
	st.f_frsize = SCOUTFS_BLOCK_SM_SIZE;
	st.f_blocks = le64toh(nst.total_data_blocks);
	st.f_bfree = le64toh(nst.free_data_blocks);
	st.f_bavail = st.f_bfree;
	/* an inode takes about a metadata item's worth: estimate by free meta space */
	st.f_ffree = le64toh(nst.free_meta_blocks) * (SCOUTFS_BLOCK_LG_SIZE / 512);
	st.f_favail = st.f_ffree;
	st.f_files = le64toh(nst.inode_count) + st.f_ffree;
	memcpy(&fsid, nst.uuid, sizeof(fsid));
	st.f_fsid = (unsigned long)fsid;
	st.f_namemax = SCOUTFS_NAME_LEN;
	fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops sfs_fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = sfs_op_read,
	.write = sfs_op_write,
	.fallocate = sfs_op_fallocate,
	.lseek = sfs_op_lseek,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
	.setxattr = sfs_xattr_op_set,
	.getxattr = sfs_xattr_op_get,
	.listxattr = sfs_xattr_op_list,
	.removexattr = sfs_xattr_op_remove,
};
