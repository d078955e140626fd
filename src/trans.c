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
 *   2. writes the dirty blocks and flushes both devices (file data is
 *      written before its extent items commit);
 *   3. sends COMMIT_LOG_TREES: the server stores the new roots, durably;
 *   4. marks the items clean and asks for the next transaction.
 *
 * Commits happen on a timer, when dirty items exceed a budget, and when
 * sfs_trans_sync asks (fsync, sync, unmount, lock revocation later).
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

#include "alloc.h"
#include "block.h"
#include "btree.h"
#include "client.h"
#include "counters.h"
#include "forest.h"
#include "item.h"
#include "log.h"
#include "trans.h"

struct sfs_trans {
	struct sfs_fs *fs;
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
};

/*
 * The dirty items in key order for one bulk insert.  Values are not
 * copied: the item cache keeps them in place until commit_done, and no
 * item write runs while the commit holds the transaction.
 */
struct commit_ctx {
	struct sfs_btree_list_item *items;
	size_t nr, cap;
	uint64_t max_seq;
};

static int gather_item(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		       const void *val, unsigned int val_len)
{
	struct commit_ctx *c = arg;
	void *p;

	if (c->nr == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		p = realloc(c->items, c->cap * sizeof(*c->items));
		if (!p)
			return -ENOMEM;
		c->items = p;
	}
	c->items[c->nr].key = *key;
	c->items[c->nr].seq = seq;
	c->items[c->nr].flags = flags;
	c->items[c->nr].val_len = (uint16_t)val_len;
	c->items[c->nr].val = val_len ? val : NULL;
	c->nr++;
	if (seq > c->max_seq)
		c->max_seq = seq;
	return 0;
}

/* write the gathered items into the log btree and set their locks' bloom bits */
static int write_items(struct sfs_fs *fs, struct commit_ctx *c, struct scoutfs_log_trees *lt,
		       struct sfs_alloc_lists *lists, struct sfs_block_writer *wri)
{
	struct scoutfs_key lock, last;
	size_t i;
	int ret;

	ret = sfs_btree_insert_list(fs, &lists->alloc, wri, &lt->item_root, c->items, c->nr);
	if (ret)
		return ret;
	for (i = 0; i < c->nr; i++) {
		lock = sfs_forest_lock_start(&c->items[i].key);
		if (i > 0 && sfs_key_cmp(&lock, &last) == 0)
			continue;
		ret = sfs_forest_bloom_set(fs, &lists->alloc, wri, &lt->bloom_ref, &lock);
		if (ret)
			return ret;
		last = lock;
	}
	if (c->max_seq > le64toh(lt->max_item_seq))
		lt->max_item_seq = htole64(c->max_seq);
	return 0;
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

/* called with hold_lock held exclusively */
static int commit_trans(struct sfs_trans *trans)
{
	struct sfs_fs *fs = trans->fs;
	struct scoutfs_log_trees lt = trans->lt;
	struct sfs_block_writer wri;
	struct sfs_alloc_lists lists;
	struct commit_ctx c = { 0 };
	double t[7];
	size_t blocks = 0;
	int ret;

	if (!trans->open)
		return open_next(trans);
	if (sfs_item_dirty_count(fs) == 0)
		return 0;

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &lt.meta_avail, &lt.meta_freed);
	t[0] = mono_ms();
	ret = sfs_item_for_each_dirty(fs, gather_item, &c);
	t[1] = mono_ms();
	if (!ret)
		ret = write_items(fs, &c, &lt, &lists, &wri);
	t[2] = mono_ms();
	blocks = wri.nr;
	if (!ret)
		ret = sfs_block_writer_write(fs, &wri);
	t[3] = mono_ms();
	if (!ret)
		ret = sfs_block_flush(fs, SFS_DEV_META) ?: sfs_block_flush(fs, SFS_DEV_DATA);
	t[4] = mono_ms();
	if (ret)
		goto out;

	lt.meta_avail = lists.avail;
	lt.meta_freed = lists.freed;
	ret = sfs_client_commit_log_trees(fs, &lt);
	t[5] = mono_ms();
	if (ret)
		goto out;

	sfs_item_commit_done(fs);
	t[6] = mono_ms();
	sfs_debug(fs, "trans: committed %zu items in %zu blocks: gather %.1f ms, btree %.1f ms, write %.1f ms, flush %.1f ms, server %.1f ms, clean %.1f ms",
		  c.nr, blocks, t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3], t[5] - t[4],
		  t[6] - t[5]);
	sfs_counter_add(fs, SFS_CTR_trans_commit_items, c.nr);
	sfs_inc(fs, trans_commit);
	pthread_mutex_lock(&trans->lock);
	trans->committed_seq = le64toh(lt.get_trans_seq);
	pthread_mutex_unlock(&trans->lock);

	/* the next transaction; until we have it, holds are refused */
	trans->lt = lt;
	trans->open = false;
	ret = open_next(trans);
out:
	if (ret) {
		sfs_err(fs, "trans: commit of transaction seq %llu failed: %s",
			(unsigned long long)le64toh(trans->lt.get_trans_seq), strerror(-ret));
		sfs_block_writer_forget(fs, &wri);
	}
	sfs_block_writer_destroy(&wri);
	free(c.items);
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
		ret = commit_trans(trans);
		pthread_rwlock_unlock(&trans->hold_lock);

		pthread_mutex_lock(&trans->lock);
		trans->sync_err = ret;
		trans->sync_done = ticket;
		pthread_cond_broadcast(&trans->done_cond);
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

int sfs_trans_setup(struct sfs_fs *fs, const struct sfs_trans_opts *opts)
{
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
	pthread_rwlock_init(&trans->hold_lock, NULL);
	pthread_mutex_init(&trans->lock, NULL);
	pthread_cond_init(&trans->cond, NULL);
	pthread_cond_init(&trans->done_cond, NULL);

	ret = open_next(trans);
	if (ret)
		goto out;
	ret = -pthread_create(&trans->thread, NULL, commit_thread, trans);
	if (ret)
		goto out;
	trans->thread_started = true;
out:
	if (ret)
		sfs_trans_destroy(fs);
	return ret;
}

void sfs_trans_destroy(struct sfs_fs *fs)
{
	struct sfs_trans *trans = fs->trans;

	if (!trans)
		return;
	if (trans->thread_started) {
		pthread_mutex_lock(&trans->lock);
		trans->stopping = true;
		pthread_cond_broadcast(&trans->cond);
		pthread_mutex_unlock(&trans->lock);
		pthread_join(trans->thread, NULL);
	}
	pthread_cond_destroy(&trans->done_cond);
	pthread_cond_destroy(&trans->cond);
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
	uint64_t leaves = sfs_item_dirty_bytes(fs) * 2 / SCOUTFS_BLOCK_LG_SIZE + 1;

	return leaves + leaves / 64 + 2 * SCOUTFS_BTREE_MAX_HEIGHT;
}

int sfs_trans_hold(struct sfs_fs *fs, bool growth, uint64_t *seq)
{
	struct sfs_trans *trans = fs->trans;
	struct sfs_alloc_lists lists;
	int ret;

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
			return -ENOSPC;
		}
	}
	*seq = le64toh(trans->lt.get_trans_seq);
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
