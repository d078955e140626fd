// SPDX-License-Identifier: GPL-2.0
/*
 * Log merging: finalized log trees are folded into fs_root, so the number
 * of trees a read must visit stays bounded and fs_root accumulates the
 * filesystem's items (reference-scoutfs.md 2.6, format-spec.md 10, 13.2).
 *
 * Model
 * -----
 * Every mount writes its items into its own log tree (rid, nr).  The
 * server finalizes a committed log tree (FINALIZED, finalize_seq = the
 * server seq then) and the mount goes on in (rid, nr + 1), carrying its
 * allocators (server.c: finalize_tree).  That happens when the mount
 * asks for its next transaction (GET_LOG_TREES) and
 *   - the tree holds more than finalize_items items, or
 *   - a merge is wanted: finalized trees are waiting, more than
 *     max_log_trees trees hold items, or someone asked
 *     (sfs_server_request_merge), or
 *   - the mount's allocator is into the reserve;
 * on FAREWELL (a clean unmount finalizes the mount's tree with every
 * allocator returned, or drops it if empty); and, once a merge is
 * wanted, at once for trees that are not in an open transaction.
 *
 * A merge starts (maybe_start_merge: a STATUS item with seq = the server
 * seq, and one RANGE item [zero, ones]) when no merge runs, some tree is
 * finalized, and no unfinalized tree holds items.  Its inputs are the
 * trees with FINALIZED and finalize_seq < STATUS.seq.
 *
 * Work goes out as merge requests (GET_LOG_MERGE).  Every mount runs a
 * merge worker (this file, started by mount.c) that asks for one when it
 * is kicked (client.c saw its log tree finalized), every poll_ms when
 * idle, and again at once after finishing one.  A request carries its
 * own avail/freed allocator lists, filled by the server, the root to
 * merge into (fs_root), the key range, the input seq and a snapshot of
 * logs_root.  The client (sfs_merge_request) reads the inputs and
 * fs_root one window at a time, a window being the key range every
 * tree's leaf around the cursor covers, resolves each key as a read
 * would (greatest seq wins, fs_root first on a tie, then inputs in
 * (rid, nr) order), and writes the winners into its copy-on-write copy
 * of fs_root: a newer item is forced in with its seq, a winning deletion
 * item deletes the key (fs_root never holds deletion items).  It writes
 * and flushes its blocks and sends COMMIT_LOG_MERGE with the new root
 * and its allocator lists.  When the allocator gets near its reserve it
 * stops at a window boundary and reports REMAIN with the key it got to.
 *
 * The server records the completion and splices it in the same commit:
 * the root becomes fs_root, the blocks the copy replaced (the freed
 * list) and the unused avail list are released, a REMAIN puts the rest
 * of the range back.  When no range, request or completion is left, the
 * merge finishes in that same commit: each input's item tree becomes a
 * FREEING item, its bloom block and allocators are released, its
 * inode_count_delta is folded into the super, its logs_root item is
 * deleted, and STATUS goes.  Later maintenance commits free the FREEING
 * trees (sfs_btree_free_blocks onto the server's freed list).
 *
 * Request lifecycle (server.c functions on the transitions):
 *
 *   finalized trees
 *        |  maybe_start_merge()
 *        v
 *   STATUS(seq) + RANGE[zero, ones]
 *        |
 *        v
 *   RANGE[s, e] <------------------------------------------------+---+
 *        |  op_get_log_merge(): avail filled, root = fs_root      |   |
 *        v                                                        |   |
 *   REQUEST(rid, seq){avail, freed, root, s, e, input_seq}        |   |
 *        |  \__ reclaim_request(): the rid left or was reclaimed, -+   |
 *        |      an ERROR commit, fs_root no longer req.root;          |
 *        |      the request's lists released                          |
 *        |  op_commit_log_merge()                                     |
 *        v                                                            |
 *   COMPLETE(seq){root, avail, freed, remain}                         |
 *        |  splice_completions(): fs_root = root, lists released,     |
 *        |  REMAIN -> RANGE[remain, e] -------------------------------+
 *        |  no RANGE, REQUEST, COMPLETE left: finish_merge()
 *        v
 *   inputs -> FREEING(seq){root}; logs_root items, STATUS deleted
 *        |  maintain() -> free_freeing(), a later commit
 *        v
 *   blocks on the server's freed list; FREEING deleted
 *
 * Invariants
 * ----------
 *  1. Per key, a version written later carries a greater seq (the lock
 *     write_seq guarantees it across mounts; within a mount the
 *     transaction seq does).  Merged items keep their seq.
 *  2. Discontinuity: a merge starts only when no unfinalized tree holds
 *     items.  So a tree that is not an input holds only versions
 *     committed after the merge started, and by 1 they beat every input
 *     version of their key (a mount's dirty items are committed before
 *     its lock goes to another writer): dropping a key for a merged
 *     deletion never uncovers an older version (reference: server.c
 *     finalize_and_start_log_merge).
 *  3. The inputs are fixed when STATUS is made: a tree finalized later
 *     has a greater finalize_seq.  No tree is finalized by GET_LOG_TREES
 *     while a merge runs (FAREWELL still finalizes; that tree waits).
 *  4. fs_root changes only by a splice, and only with a result built on
 *     the fs_root it replaces (checked at COMMIT_LOG_MERGE).
 *  5. Reads stay correct throughout: they take fs_root and logs_root
 *     from one stable super (GET_ROOTS).  A partly merged fs_root read
 *     with the inputs gives the same answers (seqs are kept; inputs
 *     still hold their deletion items), and an input leaves logs_root
 *     only in the commit whose fs_root holds all of its items.
 *  6. Blocks released by merge bookkeeping go on the server's freed
 *     list, reused only after the commit that stopped referencing them
 *     is durable; a client only writes blocks from its request's avail
 *     list, which nothing durable references.
 *  7. Every metadata block belongs to exactly one of: an allocator, a
 *     tree reachable from the super (fs_root, a log tree, a FREEING
 *     root), or a REQUEST's lists (check.c).  COMPLETE items never
 *     outlive the commit that makes them.
 *  8. Each step (start, request, commit + splice + finish, freeing) is
 *     one server commit, so a crash leaves a state some step produced.
 *
 * What is bounded: the trees a read visits.  A tree is finalized once
 * over finalize_items items or when a merge is wanted; a merge is wanted
 * as soon as one tree is finalized or more than max_log_trees hold
 * items; a merge removes all its inputs.  So logs_root holds the running
 * merge's inputs, the trees finalized while it runs, and one tree per
 * mount.  Per request, the work (blocks dirtied, memory) is bounded by
 * the request's allocator (merge_meta_target blocks); larger merges go
 * in several requests via REMAIN.
 *
 * Failures
 * --------
 *  - The client dies holding a request: the REQUEST item stays.  The
 *    same rid asking again (a restart with the same rid, a resend) gets
 *    the same request back and redoes it; whatever it wrote before is in
 *    blocks of that request's avail list.  FAREWELL of the rid hands the
 *    request back, and so does sfs_server_reclaim_mount for a mount
 *    known dead.  A rid that never returns blocks the merge until then:
 *    the cluster work (fencing, recovery timeouts) will call the reclaim,
 *    as the reference does; nothing here guesses that a mount is dead.
 *  - The merge fails on the client (-ENOSPC, -EIO, -ESTALE): the
 *    client commits with ERROR, the server releases the request's
 *    allocator and puts the range back; the worker tries again later.
 *  - COMMIT_LOG_MERGE resent, or for a request that is gone: answered 0
 *    and ignored; nothing is freed twice because the REQUEST item is the
 *    only thing that names the allocator.
 *  - The server stops anywhere: everything is in its items; a new server
 *    frees leftover FREEING trees first (maintain at start).
 *  - A mount crashed inside an open transaction with items in its tree:
 *    merges wait (invariant 2), as in the reference, until its rid comes
 *    back or it is reclaimed (sfs_server_reclaim_mount finalizes the
 *    committed tree and abandons the open transaction).
 *
 * Seams and limits
 * ----------------
 *  - One request at a time, covering [zero, ones] with root = fs_root.
 *    Parallel merging splits ranges at fs_root parent blocks and gives
 *    each request a subtree root (flag SUBTREE); completions then wait
 *    as COMPLETE items until every request of the batch is done and are
 *    spliced into the parents (the reference's btree_set_parent), and
 *    check.c must then account COMPLETE roots that share blocks with
 *    fs_root.  The items, wire structs and splice step are already those.
 *  - Zone 12 (xattr totals) holds deltas, summed rather than resolved
 *    newest-wins: merge_delta() sums a key's fs_root item and its input
 *    deltas with forest.c's rule (sfs_forest_delta_resolve,
 *    format-spec.md 10.3), writes the sum with the greatest seq it
 *    counted, deletes the key when the sum is 0/0, and leaves the key
 *    alone when the rule says its inputs are in fs_root already (Fs >=
 *    Is).  Reads apply the same rule, so a read gives the same value
 *    before, during and after a merge, and a key merged twice (ranges
 *    are disjoint, so it is not) would still not be counted twice.
 *  - srch log files leave their trees for srch_root when the server
 *    finalizes them (server.c, rotate_srch_log), so merged trees have
 *    none left.
 *
 * Threads and locking: the worker thread is the only caller of
 * sfs_merge_run_one for a mount; merge->lock protects stopping and
 * kicked.  The request's trees are private to the worker until it
 * commits: its writer and allocator are its own.
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
#include "log.h"
#include "merge.h"

struct sfs_merge {
	struct sfs_fs *fs;
	struct sfs_merge_opts opts;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;		/* lock */
	bool kicked;		/* lock */
	pthread_t thread;
	bool thread_started;
};

/* ------------------------------------------------------------------ */
/* Reading the inputs                                                   */
/* ------------------------------------------------------------------ */

struct inputs {
	struct scoutfs_btree_root *roots;
	size_t nr, cap;
};

/* the item roots of the finalized trees with finalize_seq < input_seq, in (rid, nr) order */
static int collect_inputs(struct sfs_fs *fs, const struct scoutfs_btree_root *logs_root,
			  uint64_t input_seq, struct inputs *in)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	void *p;
	int ret;

	if (!r)
		return -ENOMEM;
	in->nr = 0;
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(fs, logs_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		if (r->val_len != sizeof(lt)) {
			ret = -EIO;
			break;
		}
		memcpy(&lt, r->val, sizeof(lt));
		key = r->key;
		sfs_key_inc(&key);
		if (!(le64toh(lt.flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED) ||
		    le64toh(lt.finalize_seq) >= input_seq || !lt.item_root.height)
			continue;
		if (in->nr == in->cap) {
			p = realloc(in->roots, (in->cap ? in->cap * 2 : 16) * sizeof(*in->roots));
			if (!p) {
				ret = -ENOMEM;
				break;
			}
			in->roots = p;
			in->cap = in->cap ? in->cap * 2 : 16;
		}
		in->roots[in->nr++] = lt.item_root;
	}
	free(r);
	return ret == -ENOENT ? 0 : ret;
}

/*
 * The versions read in one window (fs_root is order 0, inputs follow),
 * the merge's inserts, and the sums of delta keys they point to.
 */
struct window {
	struct sfs_forest_versions vs;
	struct sfs_btree_list_item *ins;
	struct scoutfs_xattr_totl_val *sums;
	size_t ins_cap;
};

/* ------------------------------------------------------------------ */
/* Merging one request                                                  */
/* ------------------------------------------------------------------ */

struct merge_ctx {
	struct sfs_fs *fs;
	struct sfs_alloc_lists lists;
	struct sfs_block_writer wri;
	struct scoutfs_btree_root root;
	struct inputs in;
	struct window w;
};

/*
 * A delta key's versions v[0..nr) (fs_root's among them if it has one):
 * fs_root gets their sum, loses the key when it is 0/0, or stays as it
 * is when the rule counts nothing new.  The insert goes on the window's
 * list; a deletion is done at once.
 */
static int merge_delta(struct merge_ctx *m, const struct sfs_forest_version *v, size_t nr,
		       size_t *nr_ins, uint64_t *dels)
{
	struct window *w = &m->w;
	const struct sfs_forest_version *f = NULL;
	struct scoutfs_xattr_totl_val *sum = &w->sums[*nr_ins];
	uint64_t seq;
	size_t i;
	int ret;

	for (i = 0; i < nr; i++)
		if (v[i].src == SFS_FOREST_SRC_FS)
			f = &v[i];
	ret = sfs_forest_delta_resolve(m->fs, &w->vs, v, nr, sum, &seq);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		if (!f)
			return 0;
		(*dels)++;
		return sfs_btree_delete(m->fs, &m->lists.alloc, &m->wri, &m->root, &v->key);
	}
	if (f && f->seq == seq && f->val_len == sizeof(*sum) &&
	    memcmp(sfs_forest_version_val(&w->vs, f), sum, sizeof(*sum)) == 0)
		return 0;
	w->ins[(*nr_ins)++] = (struct sfs_btree_list_item){
		.key = v->key,
		.seq = seq,
		.val_len = sizeof(*sum),
		.val = sum,
	};
	return 0;
}

/*
 * Merge the window of keys around key: read fs_root's and every input's
 * leaf there, narrowing [*start, *end] to what all of them cover, and
 * write each key's winner into the root.
 */
static int merge_window(struct merge_ctx *m, const struct scoutfs_key *key,
			struct scoutfs_key *start, struct scoutfs_key *end)
{
	struct window *w = &m->w;
	struct sfs_forest_versions *vs = &w->vs;
	struct sfs_forest_version *v, *win;
	size_t i, j, nr_ins = 0;
	uint64_t dels = 0;
	bool in_fs;
	void *p;
	int ret;

	sfs_forest_versions_reset(vs);
	ret = sfs_btree_read_items(m->fs, &m->root, key, start, end, sfs_forest_versions_add, vs);
	vs->src = SFS_FOREST_SRC_INPUT;
	for (i = 0; !ret && i < m->in.nr; i++) {
		vs->order = (uint32_t)i + 1;
		ret = sfs_btree_read_items(m->fs, &m->in.roots[i], key, start, end,
					   sfs_forest_versions_add, vs);
	}
	if (ret)
		return ret;
	sfs_forest_versions_sort(vs);
	if (w->ins_cap < vs->nr) {
		p = realloc(w->ins, vs->nr * sizeof(*w->ins));
		if (!p)
			return -ENOMEM;
		w->ins = p;
		p = realloc(w->sums, vs->nr * sizeof(*w->sums));
		if (!p)
			return -ENOMEM;
		w->sums = p;
		w->ins_cap = vs->nr;
	}

	for (i = 0; i < vs->nr; i = j) {
		win = &vs->v[i];
		in_fs = win->order == 0;
		for (j = i + 1; j < vs->nr && sfs_key_cmp(&vs->v[j].key, &win->key) == 0; j++)
			in_fs |= vs->v[j].order == 0;
		/* only keys every tree was read over */
		if (sfs_key_cmp(&win->key, start) < 0 || sfs_key_cmp(&win->key, end) > 0)
			continue;
		if (sfs_forest_delta_key(&win->key)) {
			ret = merge_delta(m, win, j - i, &nr_ins, &dels);
			if (ret)
				return ret;
			continue;
		}
		/* fs_root's winner stays as it is */
		if (win->order == 0)
			continue;
		if (win->flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION) {
			if (!in_fs)
				continue;
			ret = sfs_btree_delete(m->fs, &m->lists.alloc, &m->wri, &m->root,
					       &win->key);
			if (ret)
				return ret;
			dels++;
			continue;
		}
		v = win;
		w->ins[nr_ins++] = (struct sfs_btree_list_item){
			.key = v->key,
			.seq = v->seq,
			.flags = (uint8_t)(v->flags & ~SCOUTFS_BTREE_ITEM_FLAG_DELETION),
			.val_len = v->val_len,
			.val = sfs_forest_version_val(vs, v),
		};
	}
	if (nr_ins) {
		ret = sfs_btree_insert_list(m->fs, &m->lists.alloc, &m->wri, &m->root, w->ins,
					    nr_ins);
		if (ret)
			return ret;
	}
	sfs_counter_add(m->fs, SFS_CTR_log_merge_items, nr_ins);
	sfs_counter_add(m->fs, SFS_CTR_log_merge_deletions, dels);
	return 0;
}

int sfs_merge_request(struct sfs_fs *fs, const struct scoutfs_log_merge_request *req,
		      struct scoutfs_log_merge_complete *comp)
{
	struct merge_ctx *m = calloc(1, sizeof(*m));
	struct sfs_forest_roots roots;
	struct scoutfs_key key, start, end;
	uint64_t reserve;
	int ret;

	memset(comp, 0, sizeof(*comp));
	comp->start = req->start;
	comp->end = req->end;
	comp->rid = req->rid;
	comp->seq = req->seq;
	if (!m) {
		ret = -ENOMEM;
		goto fail;
	}
	m->fs = fs;
	sfs_block_writer_init(&m->wri);
	sfs_alloc_lists_init(&m->lists, &req->meta_avail, &req->meta_freed);
	m->root = req->root;

	/* the snapshot of logs_root may be recycled by now: the inputs are in the stable one */
	ret = collect_inputs(fs, &req->logs_root, le64toh(req->input_seq), &m->in);
	if (ret == -ESTALE) {
		sfs_inc(fs, log_merge_stale_logs);
		ret = sfs_client_get_roots(fs, &roots) ?:
		      collect_inputs(fs, &roots.logs_root, le64toh(req->input_seq), &m->in);
	}
	if (ret)
		goto fail;
	reserve = sfs_merge_reserve(m->in.nr);

	key = req->start;
	for (;;) {
		if (le64toh(m->lists.avail.total_nr) < reserve) {
			if (sfs_key_cmp(&key, &req->start) == 0) {
				ret = -ENOSPC;
				goto fail;
			}
			comp->remain = key;
			comp->flags = htole64(SCOUTFS_LOG_MERGE_COMP_REMAIN);
			sfs_inc(fs, log_merge_remain);
			break;
		}
		start = key;
		end = req->end;
		ret = merge_window(m, &key, &start, &end);
		if (ret)
			goto fail;
		if (sfs_key_cmp(&end, &req->end) >= 0)
			break;
		key = end;
		sfs_key_inc(&key);
	}

	ret = sfs_block_writer_write(fs, &m->wri) ?: sfs_block_flush(fs, SFS_DEV_META);
	if (ret)
		goto fail;
	comp->meta_avail = m->lists.avail;
	comp->meta_freed = m->lists.freed;
	comp->root = m->root;
	sfs_inc(fs, log_merge_work);
	goto out;
fail:
	sfs_warn(fs, "merge: request %llu failed: %s", (unsigned long long)le64toh(req->seq),
		 strerror(-ret));
	sfs_inc(fs, log_merge_error);
	if (m)
		sfs_block_writer_forget(fs, &m->wri);
	memset(&comp->remain, 0, sizeof(comp->remain));
	comp->flags = htole64(SCOUTFS_LOG_MERGE_COMP_ERROR);
out:
	if (m) {
		sfs_block_writer_destroy(&m->wri);
		free(m->in.roots);
		sfs_forest_versions_free(&m->w.vs);
		free(m->w.ins);
		free(m->w.sums);
		free(m);
	}
	return ret;
}

int sfs_merge_run_one(struct sfs_fs *fs)
{
	struct scoutfs_log_merge_request req;
	struct scoutfs_log_merge_complete comp;
	int ret, err;

	ret = sfs_client_get_log_merge(fs, &req);
	if (ret)
		return ret;
	ret = sfs_merge_request(fs, &req, &comp);
	err = sfs_client_commit_log_merge(fs, &comp);
	return ret ?: err;
}

/* ------------------------------------------------------------------ */
/* The worker                                                           */
/* ------------------------------------------------------------------ */

static void *merge_worker(void *arg)
{
	struct sfs_merge *merge = arg;
	struct timespec deadline;
	int ret, last = 0;

	pthread_mutex_lock(&merge->lock);
	while (!merge->stopping) {
		merge->kicked = false;
		pthread_mutex_unlock(&merge->lock);
		ret = sfs_merge_run_one(merge->fs);
		if (ret && ret != -ENOENT && ret != last)
			sfs_warn(merge->fs, "merge: asking for or doing merge work failed: %s",
				 strerror(-ret));
		last = ret == -ENOENT ? 0 : ret;
		pthread_mutex_lock(&merge->lock);
		if (!ret)
			continue;	/* there may be more */
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += merge->opts.poll_ms / 1000;
		deadline.tv_nsec += (long)(merge->opts.poll_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!merge->stopping && !merge->kicked)
			if (pthread_cond_timedwait(&merge->cond, &merge->lock, &deadline) ==
			    ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&merge->lock);
	return NULL;
}

int sfs_merge_setup(struct sfs_fs *fs, const struct sfs_merge_opts *opts)
{
	struct sfs_merge *merge;
	int ret;

	if (fs->merge)
		return -EBUSY;
	merge = calloc(1, sizeof(*merge));
	if (!merge)
		return -ENOMEM;
	fs->merge = merge;
	merge->fs = fs;
	merge->opts = *opts;
	if (!merge->opts.poll_ms)
		merge->opts.poll_ms = 2000;
	pthread_mutex_init(&merge->lock, NULL);
	pthread_cond_init(&merge->cond, NULL);
	ret = -pthread_create(&merge->thread, NULL, merge_worker, merge);
	if (!ret)
		merge->thread_started = true;
	else
		sfs_merge_destroy(fs);
	return ret;
}

void sfs_merge_destroy(struct sfs_fs *fs)
{
	struct sfs_merge *merge = fs->merge;

	if (!merge)
		return;
	if (merge->thread_started) {
		pthread_mutex_lock(&merge->lock);
		merge->stopping = true;
		pthread_cond_broadcast(&merge->cond);
		pthread_mutex_unlock(&merge->lock);
		pthread_join(merge->thread, NULL);
	}
	pthread_cond_destroy(&merge->cond);
	pthread_mutex_destroy(&merge->lock);
	free(merge);
	fs->merge = NULL;
}

void sfs_merge_kick(struct sfs_fs *fs)
{
	struct sfs_merge *merge = fs->merge;

	if (!merge)
		return;
	pthread_mutex_lock(&merge->lock);
	merge->kicked = true;
	pthread_cond_broadcast(&merge->cond);
	pthread_mutex_unlock(&merge->lock);
}
