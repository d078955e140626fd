// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions: the mount's one open transaction and its commits.
 *
 * Model
 * -----
 * The server hands a mount its log_trees (GET_LOG_TREES): the seq of the
 * open transaction, its log btree, its allocators.  Item writes happen
 * while holding the transaction (shared) and carry its seq.  A commit
 * (commit_trans, on the commit thread) takes the transaction
 * exclusively, so no write is half done, and:
 *
 *   1. writes every dirty item of the item cache into the log btree, in
 *      one bulk insert (one descent per leaf)
 *      (deletion items too), copying blocks with the transaction's own
 *      allocator lists, and sets the bloom bits of each item's lock;
 *      then appends the transaction's srch entries (xattr.c logs them
 *      with sfs_trans_srch_add) to the mount's srch log file
 *      (lt.srch_file, srch.c) with the same allocator and writer;
 *   2. writes the dirty blocks and flushes both devices (file data is
 *      written before its extent items commit);
 *   3. sends COMMIT_LOG_TREES: the server stores the new roots, durably;
 *   4. marks the items clean and asks for the next transaction.
 *
 * Commits happen on a timer, when dirty items exceed a budget, when
 * sfs_trans_sync asks (fsync, sync, unmount, lock revocation) and when
 * the server asks (SYNC_LOG_TREES: it wants data space this mount holds
 * beyond its share back, see server.c "Data space").
 *
 * Data space: a transaction allocates file data from the extents the
 * server put in its data_avail.  When they run out, the caller commits
 * (sfs_trans_commit_for_space) and the next transaction is refilled.  If
 * the server has no free data blocks left but other mounts hold more
 * than their share, it asks them to commit (which returns the excess)
 * and hands this mount an empty data_avail without the LOW flag: then
 * commit_for_space waits a little and commits again, until data comes,
 * the server says LOW (the volume is full) or DATA_WAIT_MS passed.
 *
 * Invariants
 * ----------
 *  1. Items are clean only after the server acknowledged the commit that
 *     holds them: a crash before that loses the transaction whole, never
 *     part of it (the old log btree root is what the server has).
 *  2. A failed commit changes nothing the server knows: the attempt's
 *     blocks are forgotten, the items stay dirty, and the next commit
 *     tries again from the same log_trees.
 *
 * Locking: hold_lock (rwlock) is the transaction: holders shared, commits
 * exclusive.  lock (mutex) protects the counters and the condition
 * variables below; it is never held while waiting for hold_lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "block.h"
#include "btree.h"
#include "client.h"
#include "counters.h"
#include "forest.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "srch.h"
#include "trans.h"

/* chunk buffers: the gatherer runs up to COMMIT_BUFS - 1 chunks ahead of the builder */
#define COMMIT_BUFS 4

/* how long commit_for_space waits for other mounts to give data space back */
#define DATA_WAIT_MS 15000
#define DATA_WAIT_MIN_MS 5
#define DATA_WAIT_MAX_MS 200

/* an array of block extents */
struct sfs_extent {
	uint64_t start;
	uint64_t len;
};

struct sfs_extents {
	struct sfs_extent *e;
	size_t nr, cap;
};

struct sfs_trans {
	struct sfs_fs *fs;
	/* the commit thread's chunk buffers, made on first use and kept */
	struct sfs_btree_list_item *chunk_bufs[COMMIT_BUFS];
	struct sfs_trans_opts opts;
	pthread_rwlock_t hold_lock;
	struct scoutfs_log_trees lt;	/* hold_lock: the open transaction */
	bool open;			/* hold_lock: lt is open (not yet committed) */

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* the commit thread waits */
	pthread_cond_t done_cond;	/* sync waiters wait */
	uint64_t sync_requested;	/* lock: sync tickets handed out */
	uint64_t sync_done;		/* lock: tickets whose commit finished */
	int sync_err;			/* lock: result of the last commit */
	uint64_t committed_seq;		/* lock */
	bool stopping;			/* lock */
	pthread_t thread;
	bool thread_started;

	/*
	 * Data blocks of the open transaction (data_lock).  The free extents
	 * of lt.data_avail are read into memory on first use; allocations
	 * take from that copy and are recorded in taken, frees in freed.  The
	 * commit applies both to the trees (taken out of data_avail, freed
	 * into data_freed) with its own writer, so the trees' blocks are only
	 * copied at commit.  A freed block is reused only after the server
	 * got it back from a durable data_freed.
	 */
	pthread_mutex_t data_lock;
	struct sfs_extents data_avail;	/* what is left to allocate from */
	bool data_loaded;
	size_t data_cursor;		/* data_avail index allocations come from */
	struct sfs_extents data_taken;
	struct sfs_extents data_freed;
	/* data_lock: srch entries of the open transaction, in arrival order */
	struct scoutfs_srch_entry *srch_ents;
	size_t srch_nr, srch_cap;
	bool force_commit;		/* lock: commit even with no dirty items */
	bool data_short;		/* data_lock: an allocation found data_avail empty */

	/*
	 * File data writes still in flight (lock): a commit waits for them
	 * before it writes the items that point to their blocks.  A failed
	 * one is reported to the syncs of the next commit.
	 */
	uint64_t data_ios;
	int data_err;
	pthread_cond_t io_cond;
};

/* ------------------------------------------------------------------ */
/* extent arrays                                                        */
/* ------------------------------------------------------------------ */

static int exts_add(struct sfs_extents *x, uint64_t start, uint64_t len)
{
	struct sfs_extent *e;

	if (x->nr && x->e[x->nr - 1].start + x->e[x->nr - 1].len == start) {
		x->e[x->nr - 1].len += len;
		return 0;
	}
	if (x->nr == x->cap) {
		e = realloc(x->e, (x->cap ? x->cap * 2 : 16) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		x->e = e;
		x->cap = x->cap ? x->cap * 2 : 16;
	}
	x->e[x->nr].start = start;
	x->e[x->nr].len = len;
	x->nr++;
	return 0;
}

static int ext_cmp(const void *a, const void *b)
{
	const struct sfs_extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* sorted, with touching extents merged */
static void exts_normalize(struct sfs_extents *x)
{
	size_t i, o = 0;

	if (!x->nr)
		return;
	qsort(x->e, x->nr, sizeof(x->e[0]), ext_cmp);
	for (i = 1; i < x->nr; i++) {
		if (x->e[o].start + x->e[o].len == x->e[i].start)
			x->e[o].len += x->e[i].len;
		else
			x->e[++o] = x->e[i];
	}
	x->nr = o + 1;
}

static void exts_free(struct sfs_extents *x)
{
	free(x->e);
	memset(x, 0, sizeof(*x));
}

/* dirty items per bulk insert: a reused array that stays in the CPU caches */

/*
 * The dirty items, in key order, go into the log btree a chunk at a time
 * (each chunk one bulk insert, continuing where the last one stopped;
 * the leaves it finishes start writing while the next are built).  Two
 * threads share the work: the commit thread gathers chunks from the item
 * cache, a few ahead, while a builder thread inserts the ones before into
 * the btree in order (the builder alone touches the btree, allocators
 * and writer until it is joined).  Values are not copied: the item cache keeps them in place
 * until commit_done, and no item write runs while the commit holds the
 * transaction.
 */

struct commit_ctx {
	struct sfs_fs *fs;
	struct scoutfs_log_trees *lt;
	struct sfs_alloc_lists *lists;
	struct sfs_block_writer *wri;
	struct sfs_btree_list_item **bufs;	/* COMMIT_BUFS of chunk items each */
	size_t bufs_nr[COMMIT_BUFS];	/* items in each filled buffer */
	size_t chunk;			/* items per bulk insert */
	int fill;			/* gatherer: the buffer it fills */
	size_t nr;			/* gatherer: items in it */
	uint64_t max_seq;		/* gatherer */
	/* builder only */
	size_t total;			/* items written */
	struct scoutfs_key last_lock;	/* bloom bits set for it */
	bool have_lock;
	/* hand-off, under lock: bufs [head, head + queued) are filled, in order */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int head;
	int queued;
	bool done;			/* no more chunks */
	int err;			/* the builder failed */
	bool threaded;
	pthread_t builder;
};

/*
 * Write nr items into the log btree and set their locks' bloom bits.
 * Delta items (xattr totals) add what the tree already holds for their
 * key (forest.c): one log tree has one delta per key.
 */
static int write_chunk(struct commit_ctx *c, struct sfs_btree_list_item *items, size_t nr)
{
	struct sfs_fs *fs = c->fs;
	struct scoutfs_log_trees *lt = c->lt;
	struct scoutfs_key lock;
	void *deltas;
	size_t i;
	int ret;

	ret = sfs_forest_fold_log_deltas(fs, &lt->item_root, items, nr, &deltas);
	if (!ret)
		ret = sfs_btree_insert_list(fs, &c->lists->alloc, c->wri, &lt->item_root, items,
					    nr);
	free(deltas);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		if (c->have_lock && sfs_forest_same_lock(&items[i].key, &c->last_lock))
			continue;
		lock = sfs_forest_lock_start(&items[i].key);
		ret = sfs_forest_bloom_set(fs, &c->lists->alloc, c->wri, &lt->bloom_ref, &lock);
		if (ret)
			return ret;
		c->last_lock = lock;
		c->have_lock = true;
	}
	c->total += nr;
	return 0;
}

static void *builder_thread(void *arg)
{
	struct commit_ctx *c = arg;
	int ret, b;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->queued && !c->done)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->queued)
			break;
		b = c->head;
		pthread_mutex_unlock(&c->lock);
		ret = write_chunk(c, c->bufs[b], c->bufs_nr[b]);
		pthread_mutex_lock(&c->lock);
		c->head = (c->head + 1) % COMMIT_BUFS;
		c->queued--;
		pthread_cond_broadcast(&c->cond);
		if (ret) {
			c->err = ret;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* queue the filled buffer for the builder and take a free one to fill */
static int hand_off(struct commit_ctx *c)
{
	int ret;

	if (!c->nr)
		return 0;
	if (!c->threaded) {
		ret = write_chunk(c, c->bufs[c->fill], c->nr);
		c->nr = 0;
		return ret;
	}
	/* the gatherer has time to spare: it hashes the keys for the leaves */
	sfs_btree_list_hash(c->bufs[c->fill], c->nr);
	pthread_mutex_lock(&c->lock);
	c->bufs_nr[c->fill] = c->nr;
	c->queued++;
	pthread_cond_broadcast(&c->cond);
	while (c->queued == COMMIT_BUFS && !c->err)
		pthread_cond_wait(&c->cond, &c->lock);
	ret = c->err;
	c->fill = (c->head + c->queued) % COMMIT_BUFS;
	pthread_mutex_unlock(&c->lock);
	c->nr = 0;
	return ret;
}

/* the builder wrote everything handed to it (or failed): its result */
static int builder_finish(struct commit_ctx *c)
{
	if (!c->threaded)
		return 0;
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->builder, NULL);
	c->threaded = false;
	return c->err;
}

static int gather_item(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		       const void *val, unsigned int val_len)
{
	struct commit_ctx *c = arg;
	struct sfs_btree_list_item *li = &c->bufs[c->fill][c->nr];

	li->key = *key;
	li->seq = seq;
	li->flags = flags;
	li->val_len = (uint16_t)val_len;
	li->val = val_len ? val : NULL;
	li->bucket1 = 0;	/* hand_off may hash the chunk */
	if (seq > c->max_seq)
		c->max_seq = seq;
	return ++c->nr == c->chunk ? hand_off(c) : 0;
}

/* all dirty items into the log btree; wri holds its blocks */
static int write_items(struct commit_ctx *c)
{
	bool threads = sfs_item_dirty_count(c->fs) > c->chunk;
	int ret, err, i;

	/* one chunk or less: no second thread, one buffer */
	for (i = 0; i < (threads ? COMMIT_BUFS : 1); i++) {
		if (!c->bufs[i])
			c->bufs[i] = malloc(c->chunk * sizeof(*c->bufs[i]));
		if (!c->bufs[i])
			return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (threads)
		c->threaded = pthread_create(&c->builder, NULL, builder_thread, c) == 0;

	ret = sfs_item_for_each_dirty(c->fs, gather_item, c);
	if (!ret)
		ret = hand_off(c);
	err = builder_finish(c);
	ret = ret ?: err;
	if (!ret && c->max_seq > le64toh(c->lt->max_item_seq))
		c->lt->max_item_seq = htole64(c->max_seq);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	return ret;
}

/* the data allocations of a committed transaction are in its trees: start over */
static void data_reset(struct sfs_trans *trans)
{
	pthread_mutex_lock(&trans->data_lock);
	trans->data_avail.nr = 0;
	trans->data_taken.nr = 0;
	trans->data_freed.nr = 0;
	trans->data_loaded = false;
	trans->data_cursor = 0;
	trans->srch_nr = 0;
	pthread_mutex_unlock(&trans->data_lock);
}

/*
 * With hold_lock held exclusively: the transaction's data allocations
 * and frees into the copy of its log_trees being committed.  Taken
 * extents are normalized first: touching ones came out of one free
 * extent (free extents never touch), so each lies inside one.  The
 * records stay until the commit is durable, for a retry.
 */
static int commit_data_alloc(struct sfs_trans *trans, struct scoutfs_log_trees *lt,
			     struct sfs_alloc_lists *lists, struct sfs_block_writer *wri)
{
	struct sfs_fs *fs = trans->fs;
	size_t i;
	int ret = 0;

	exts_normalize(&trans->data_taken);
	exts_normalize(&trans->data_freed);
	for (i = 0; !ret && i < trans->data_taken.nr; i++)
		ret = sfs_alloc_remove_extent(fs, &lists->alloc, wri, &lt->data_avail,
					      trans->data_taken.e[i].start,
					      trans->data_taken.e[i].len);
	for (i = 0; !ret && i < trans->data_freed.nr; i++)
		ret = sfs_alloc_insert_extent(fs, &lists->alloc, wri, &lt->data_freed,
					      trans->data_freed.e[i].start,
					      trans->data_freed.e[i].len);
	if (ret)
		sfs_err(fs, "trans: recording %zu allocated and %zu freed data extents: %s",
			trans->data_taken.nr, trans->data_freed.nr, strerror(-ret));
	return ret;
}

/* with hold_lock held exclusively: ask the server for the next transaction */
static int open_next(struct sfs_trans *trans)
{
	int ret;

	ret = sfs_client_get_log_trees(trans->fs, &trans->lt);
	if (ret)
		sfs_err(trans->fs, "trans: no transaction from the server: %s", strerror(-ret));
	else
		trans->open = true;
	return ret;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* the commit for sync tickets up to ticket finished with err: wake their waiters */
static void sync_finished(struct sfs_trans *trans, uint64_t ticket, int err)
{
	pthread_mutex_lock(&trans->lock);
	trans->sync_err = err;
	trans->sync_done = ticket;
	pthread_cond_broadcast(&trans->done_cond);
	pthread_mutex_unlock(&trans->lock);
}

/*
 * Called with hold_lock held exclusively, for sync tickets up to ticket.
 * Their waiters are woken as soon as the commit is durable and its items
 * are marked clean, before the next transaction opens (new holds wait
 * for that).
 */
static int commit_trans(struct sfs_trans *trans, uint64_t ticket)
{
	struct sfs_fs *fs = trans->fs;
	struct scoutfs_log_trees lt = trans->lt, next;
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	struct commit_ctx c = { .fs = fs, .lt = &lt, .lists = &lists, .wri = &wri,
				.chunk = trans->opts.commit_chunk_items,
				.bufs = trans->chunk_bufs };
	bool committed = false, have_next = false, force;
	uint64_t max_seq;
	int data_err;
	double t[6];
	size_t blocks = 0;
	int ret;

	if (!trans->open)
		return open_next(trans);
	/*
	 * Items of this transaction have seqs up to the greatest write_seq
	 * granted before now (sfs_trans_hold): once it is committed, a lock
	 * written with a seq up to that has nothing left to commit.  A holder
	 * granted one of those write_seqs that writes after the commit does
	 * so in the next transaction, whose seq is above every write_seq
	 * granted before it opened.
	 */
	max_seq = le64toh(trans->lt.get_trans_seq);
	if (sfs_lock_max_write_seq(fs) > max_seq)
		max_seq = sfs_lock_max_write_seq(fs);
	pthread_mutex_lock(&trans->lock);
	force = trans->force_commit;
	trans->force_commit = false;
	/* the data the items point to is written first (no new writes: we hold it all) */
	while (trans->data_ios)
		pthread_cond_wait(&trans->io_cond, &trans->lock);
	data_err = trans->data_err;
	trans->data_err = 0;
	pthread_mutex_unlock(&trans->lock);
	if (sfs_item_dirty_count(fs) == 0 && !force && !trans->data_taken.nr &&
	    !trans->data_freed.nr && !trans->srch_nr) {
		/*
		 * Nothing written, and committed_seq stays: this transaction
		 * stays open, and a holder waiting for it may write with a
		 * write_seq granted before now
		 */
		return 0;
	}

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt.meta_avail, &lt.meta_freed);
	t[0] = mono_ms();
	ret = commit_data_alloc(trans, &lt, &lists, &wri);
	if (!ret)
		ret = write_items(&c);
	/* no holders: the entries are all this transaction's (kept for a retry) */
	if (!ret && trans->srch_nr)
		ret = sfs_srch_append(fs, &lists.alloc, &wri, &lt.srch_file, trans->srch_ents,
				      trans->srch_nr);
	t[1] = mono_ms();
	blocks = wri.nr;
	if (!ret)
		ret = sfs_block_writer_write(fs, &wri);
	t[2] = mono_ms();
	if (!ret)
		ret = sfs_block_flush(fs, SFS_DEV_META) ?: sfs_block_flush(fs, SFS_DEV_DATA);
	t[3] = mono_ms();
	if (ret)
		goto out;

	lt.meta_avail = lists.avail;
	lt.meta_freed = lists.freed;
	ret = sfs_client_commit_log_trees_next(fs, &lt, &next, &have_next);
	t[4] = mono_ms();
	if (ret)
		goto out;

	pthread_mutex_lock(&trans->lock);
	if (max_seq > trans->committed_seq)
		trans->committed_seq = max_seq;
	pthread_mutex_unlock(&trans->lock);
	committed = true;

	sfs_item_commit_done(fs);
	/*
	 * Waiters wake with the items clean: a revoke's item invalidation
	 * after its sync must not find them still dirty (it would commit
	 * again, behind the next open)
	 */
	sync_finished(trans, ticket, data_err);
	data_reset(trans);
	t[5] = mono_ms();
	sfs_counter_add(fs, SFS_CTR_trans_commit_items, c.total);
	sfs_inc(fs, trans_commit);

	/* the next transaction (usually with the commit); until we have it, holds are refused */
	if (have_next) {
		trans->lt = next;
		trans->open = true;
	} else {
		trans->lt = lt;
		trans->open = false;
		ret = open_next(trans);
	}
	sfs_debug(fs, "trans: committed %zu items in %zu blocks: items to btree %.1f ms, rest of the writes %.1f ms, flush %.1f ms, server %.1f ms; then clean %.1f ms, next open %.1f ms",
		  c.total, blocks, t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3],
		  t[5] - t[4], mono_ms() - t[5]);
out:
	if (ret && !committed) {
		sfs_err(fs, "trans: commit of transaction seq %llu failed: %s",
			(unsigned long long)le64toh(trans->lt.get_trans_seq), strerror(-ret));
		sfs_block_writer_forget(fs, &wri);
	}
	sfs_block_writer_destroy(&wri);
	return ret;
}

static void *commit_thread(void *arg)
{
	struct sfs_trans *trans = arg;
	struct timespec deadline;
	uint64_t ticket;
	int ret;

	pthread_mutex_lock(&trans->lock);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += trans->opts.commit_interval_ms / 1000;
		deadline.tv_nsec += (long)(trans->opts.commit_interval_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!trans->stopping && trans->sync_requested == trans->sync_done &&
		       sfs_item_dirty_bytes(trans->fs) < trans->opts.dirty_bytes_budget) {
			if (pthread_cond_timedwait(&trans->cond, &trans->lock, &deadline) ==
			    ETIMEDOUT)
				break;
		}
		if (trans->stopping)
			break;
		ticket = trans->sync_requested;
		pthread_mutex_unlock(&trans->lock);

		pthread_rwlock_wrlock(&trans->hold_lock);
		ret = commit_trans(trans, ticket);
		pthread_rwlock_unlock(&trans->hold_lock);

		pthread_mutex_lock(&trans->lock);
		if (trans->sync_done != ticket) {
			/* not woken early (a durable commit's waiters were: its result stands) */
			trans->sync_err = ret;
			trans->sync_done = ticket;
			pthread_cond_broadcast(&trans->done_cond);
		}
		if (ret) {
			/* don't spin on a failing commit: wait for the next tick */
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_sec += 1;
			pthread_cond_timedwait(&trans->cond, &trans->lock, &deadline);
		}
	}
	pthread_mutex_unlock(&trans->lock);
	return NULL;
}

/* client.c, on its net thread: the server wants a commit now (no waiting here) */
static void server_wants_commit(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;

	pthread_mutex_lock(&trans->lock);
	trans->force_commit = true;
	trans->sync_requested++;
	pthread_cond_signal(&trans->cond);
	pthread_mutex_unlock(&trans->lock);
}

int sfs_trans_setup(struct sfs_fs *fs, const struct sfs_trans_opts *opts)
{
	pthread_rwlockattr_t attr;
	struct sfs_trans *trans;
	int ret;

	if (fs->trans)
		return -EBUSY;
	trans = calloc(1, sizeof(*trans));
	if (!trans)
		return -ENOMEM;
	fs->trans = trans;
	trans->fs = fs;
	trans->opts = *opts;
	if (!trans->opts.commit_interval_ms)
		trans->opts.commit_interval_ms = 10000;
	if (!trans->opts.dirty_bytes_budget)
		trans->opts.dirty_bytes_budget = 8ULL << 20;
	if (!trans->opts.meta_growth_need)
		trans->opts.meta_growth_need = 32;
	/* a reused array that stays in the CPU caches */
	if (!trans->opts.commit_chunk_items)
		trans->opts.commit_chunk_items = 8192;
	/*
	 * Writers first: a commit waiting for the transaction must not starve
	 * behind a stream of new holds (holds never nest, so this is safe).
	 */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&trans->hold_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&trans->lock, NULL);
	pthread_mutex_init(&trans->data_lock, NULL);
	pthread_cond_init(&trans->io_cond, NULL);
	pthread_cond_init(&trans->cond, NULL);
	pthread_cond_init(&trans->done_cond, NULL);

	ret = open_next(trans);
	if (ret)
		goto out;
	ret = -pthread_create(&trans->thread, NULL, commit_thread, trans);
	if (ret)
		goto out;
	trans->thread_started = true;
	sfs_client_set_sync_fn(fs, server_wants_commit);
out:
	if (ret)
		sfs_trans_destroy(fs);
	return ret;
}

void sfs_trans_stop(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;

	if (!trans)
		return;
	sfs_client_set_sync_fn(fs, NULL);
	if (!trans->thread_started)
		return;
	pthread_mutex_lock(&trans->lock);
	trans->stopping = true;
	pthread_cond_broadcast(&trans->cond);
	pthread_cond_broadcast(&trans->done_cond);
	pthread_mutex_unlock(&trans->lock);
	pthread_join(trans->thread, NULL);
	trans->thread_started = false;
}

void sfs_trans_destroy(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;
	int i;

	if (!trans)
		return;
	sfs_trans_stop(fs);
	for (i = 0; i < COMMIT_BUFS; i++)
		free(trans->chunk_bufs[i]);
	exts_free(&trans->data_avail);
	exts_free(&trans->data_taken);
	exts_free(&trans->data_freed);
	free(trans->srch_ents);
	pthread_cond_destroy(&trans->done_cond);
	pthread_cond_destroy(&trans->cond);
	pthread_mutex_destroy(&trans->data_lock);
	pthread_cond_destroy(&trans->io_cond);
	pthread_mutex_destroy(&trans->lock);
	pthread_rwlock_destroy(&trans->hold_lock);
	free(trans);
	fs->trans = NULL;
}

/*
 * Blocks a commit of the dirty items may need, pessimistically: leaves
 * half full after splits, one parent per 64 leaves, the bloom block and
 * copies of a path per lock group run.
 */
static uint64_t commit_blocks_needed(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;
	uint64_t leaves = sfs_item_dirty_bytes(fs) * 2 / SCOUTFS_BLOCK_LG_SIZE + 1;
	uint64_t exts, srch;

	/* each data extent recorded may split a leaf of both indexes of its tree */
	pthread_mutex_lock(&trans->data_lock);
	exts = trans->data_taken.nr + trans->data_freed.nr;
	srch = trans->srch_nr;
	pthread_mutex_unlock(&trans->data_lock);
	/* srch entries: full leaves, a copied last leaf and a parent path */
	return leaves + leaves / 64 + 2 * SCOUTFS_BTREE_MAX_HEIGHT +
	       (exts ? 4 * SCOUTFS_BTREE_MAX_HEIGHT + 2 * exts : 0) +
	       (srch ? srch * SCOUTFS_SRCH_ENTRY_MAX_BYTES / SCOUTFS_SRCH_BLOCK_SAFE_BYTES + 16 : 0);
}

int sfs_trans_hold(struct sfs_fs *fs, bool growth, uint64_t *seq)
{
	struct sfs_trans *trans = fs->trans;
	struct sfs_alloc_lists lists;
	bool retried = false;
	int ret;

again:
	/*
	 * Commit first when the dirty items may not fit what the transaction
	 * can allocate (commit_before_hold in the reference).
	 */
	for (;;) {
		pthread_rwlock_rdlock(&trans->hold_lock);
		if (!trans->open ||
		    commit_blocks_needed(fs) + trans->opts.meta_growth_need <
			    le64toh(trans->lt.meta_avail.total_nr) ||
		    sfs_item_dirty_count(fs) == 0)
			break;
		pthread_rwlock_unlock(&trans->hold_lock);
		ret = sfs_trans_sync(fs);
		if (ret)
			return ret;
	}

	if (!trans->open) {
		/* the commit thread keeps asking the server for one */
		pthread_rwlock_unlock(&trans->hold_lock);
		return -EIO;
	}
	if (growth) {
		sfs_alloc_lists_init(&lists, &trans->lt.meta_avail, &trans->lt.meta_freed);
		if (sfs_alloc_lists_check_growth(&lists, trans->opts.meta_growth_need)) {
			pthread_rwlock_unlock(&trans->hold_lock);
			/*
			 * Once more with a fresh transaction: the server may have
			 * space again (frees committed, a merge done), and asking
			 * for a transaction is what lets it finalize ours and merge.
			 */
			if (retried)
				return -ENOSPC;
			retried = true;
			ret = sfs_trans_commit_for_space(fs);
			if (ret)
				return ret;
			goto again;
		}
	}
	*seq = le64toh(trans->lt.get_trans_seq);
	/* a write_seq granted since the transaction opened is the floor (lock.h) */
	if (sfs_lock_max_write_seq(fs) > *seq)
		*seq = sfs_lock_max_write_seq(fs);
	return 0;
}

void sfs_trans_release(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;

	pthread_rwlock_unlock(&trans->hold_lock);
	/* over budget: wake the commit thread */
	if (sfs_item_dirty_bytes(fs) >= trans->opts.dirty_bytes_budget) {
		pthread_mutex_lock(&trans->lock);
		pthread_cond_signal(&trans->cond);
		pthread_mutex_unlock(&trans->lock);
	}
}

int sfs_trans_sync(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;
	uint64_t ticket;
	int ret;

	pthread_mutex_lock(&trans->lock);
	ticket = ++trans->sync_requested;
	pthread_cond_signal(&trans->cond);
	while (trans->sync_done < ticket && !trans->stopping)
		pthread_cond_wait(&trans->done_cond, &trans->lock);
	ret = trans->sync_done >= ticket ? trans->sync_err : -ESHUTDOWN;
	pthread_mutex_unlock(&trans->lock);
	return ret;
}

uint64_t sfs_trans_committed_seq(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;
	uint64_t seq;

	pthread_mutex_lock(&trans->lock);
	seq = trans->committed_seq;
	pthread_mutex_unlock(&trans->lock);
	return seq;
}

/* ------------------------------------------------------------------ */
/* data blocks                                                          */
/* ------------------------------------------------------------------ */

static void load_avail_cb(void *arg, uint64_t start, uint64_t len)
{
	struct sfs_trans *trans = arg;

	/* a failed add shows as a short copy: allocation fails early, nothing worse */
	exts_add(&trans->data_avail, start, len);
}

/* with data_lock: the open transaction's free data extents, read once */
static int load_avail(struct sfs_trans *trans)
{
	int ret;

	if (trans->data_loaded)
		return 0;
	trans->data_avail.nr = 0;
	ret = sfs_alloc_walk_extents(trans->fs, &trans->lt.data_avail, load_avail_cb, trans);
	if (ret) {
		sfs_err(trans->fs, "trans: reading the data_avail extents: %s", strerror(-ret));
		return ret;
	}
	trans->data_loaded = true;
	trans->data_cursor = 0;
	return 0;
}

int sfs_trans_alloc_data(struct sfs_fs *fs, uint64_t want, uint64_t *start, uint64_t *len)
{
	struct sfs_trans *trans = fs->trans;
	struct sfs_extents *av = &trans->data_avail;
	struct sfs_extent *e;
	size_t i, best;
	int ret;

	if (!want)
		return -EINVAL;
	pthread_mutex_lock(&trans->data_lock);
	ret = load_avail(trans);
	if (ret)
		goto out;
	/*
	 * Keep taking from the extent the last allocation came from, so a
	 * file written in several calls lands contiguously; when it runs
	 * out (or is too small for a large request) move to the largest.
	 */
	if (trans->data_cursor >= av->nr || av->e[trans->data_cursor].len == 0 ||
	    (av->e[trans->data_cursor].len < want && av->e[trans->data_cursor].len < 256)) {
		best = av->nr;
		for (i = 0; i < av->nr; i++)
			if (av->e[i].len && (best == av->nr || av->e[i].len > av->e[best].len))
				best = i;
		if (best == av->nr) {
			trans->data_short = true;
			ret = -ENOSPC;
			goto out;
		}
		trans->data_cursor = best;
	}
	e = &av->e[trans->data_cursor];
	*start = e->start;
	*len = want < e->len ? want : e->len;
	ret = exts_add(&trans->data_taken, *start, *len);
	if (ret)
		goto out;
	e->start += *len;
	e->len -= *len;
out:
	pthread_mutex_unlock(&trans->data_lock);
	return ret;
}

int sfs_trans_free_data(struct sfs_fs *fs, uint64_t start, uint64_t len)
{
	struct sfs_trans *trans = fs->trans;
	int ret;

	pthread_mutex_lock(&trans->data_lock);
	ret = exts_add(&trans->data_freed, start, len);
	pthread_mutex_unlock(&trans->data_lock);
	return ret;
}

static int force_sync(struct sfs_trans *trans)
{
	pthread_mutex_lock(&trans->lock);
	trans->force_commit = true;
	pthread_mutex_unlock(&trans->lock);
	return sfs_trans_sync(trans->fs);
}

int sfs_trans_sync_force(struct sfs_fs *fs)
{
	return force_sync(fs->trans);
}

/*
 * After data_avail ran out: the server handed the new transaction no
 * data but did not say the volume is full (LOW), so other mounts are
 * giving space back.  True while that is so.
 */
static bool data_coming(struct sfs_trans *trans)
{
	bool coming;

	pthread_rwlock_rdlock(&trans->hold_lock);
	coming = trans->open && trans->lt.data_avail.total_len == 0 &&
		 !(le32toh(trans->lt.data_avail.flags) & SCOUTFS_ALLOC_FLAG_LOW);
	pthread_rwlock_unlock(&trans->hold_lock);
	return coming;
}

int sfs_trans_commit_for_space(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;
	unsigned int waited = 0, delay = DATA_WAIT_MIN_MS;
	bool short_data;
	int ret;

	pthread_mutex_lock(&trans->data_lock);
	short_data = trans->data_short;
	trans->data_short = false;
	pthread_mutex_unlock(&trans->data_lock);

	ret = force_sync(trans);
	while (!ret && short_data && waited < DATA_WAIT_MS && data_coming(trans)) {
		if (!waited)
			sfs_inc(fs, trans_data_wait);
		usleep(delay * 1000);
		waited += delay;
		delay = delay * 2 < DATA_WAIT_MAX_MS ? delay * 2 : DATA_WAIT_MAX_MS;
		ret = force_sync(trans);
	}
	if (!ret && short_data && waited >= DATA_WAIT_MS && data_coming(trans))
		sfs_warn(fs, "trans: no data space came back from other mounts in %u ms",
			 DATA_WAIT_MS);
	return ret;
}

void sfs_trans_data_io_begin(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;

	pthread_mutex_lock(&trans->lock);
	trans->data_ios++;
	pthread_mutex_unlock(&trans->lock);
}

void sfs_trans_data_io_end(struct sfs_fs *fs, int err)
{
	struct sfs_trans *trans = fs->trans;

	pthread_mutex_lock(&trans->lock);
	if (err && !trans->data_err)
		trans->data_err = err;
	if (--trans->data_ios == 0)
		pthread_cond_broadcast(&trans->io_cond);
	pthread_mutex_unlock(&trans->lock);
}

int sfs_trans_srch_add(struct sfs_fs *fs, const struct scoutfs_srch_entry *sre)
{
	struct sfs_trans *trans = fs->trans;
	struct scoutfs_srch_entry *e;
	int ret = 0;

	/* items without a transaction (unit tests of the item layers) */
	if (!trans)
		return 0;
	pthread_mutex_lock(&trans->data_lock);
	if (trans->srch_nr == trans->srch_cap) {
		e = realloc(trans->srch_ents,
			    (trans->srch_cap ? trans->srch_cap * 2 : 64) * sizeof(*e));
		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		trans->srch_ents = e;
		trans->srch_cap = trans->srch_cap ? trans->srch_cap * 2 : 64;
	}
	trans->srch_ents[trans->srch_nr++] = *sre;
out:
	pthread_mutex_unlock(&trans->data_lock);
	return ret;
}
