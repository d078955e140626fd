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
 * Idempotence: clients resend requests across reconnects and server
 * changes, so every handler recognises work already done: GET_LOG_TREES
 * returns the open transaction if there is one, COMMIT_LOG_TREES ignores
 * a transaction already committed, GREETING finds an existing
 * mounted_clients item, FAREWELL a missing one.
 *
 * Invariants
 * ----------
 *  1. Only the worker touches the working super, the lists and the writer.
 *  2. The stable super is only replaced after its commit is durable.
 *  3. A client's meta_freed list and data_freed tree go back to the
 *     allocators only when it asks for its next transaction, i.e. after
 *     the transaction that freed them was committed.
 *  4. A failed commit leaves memory and disk apart: the server stops
 *     serving (every later request gets -EIO) and a new server must be
 *     started from the disk, as the reference does.
 *
 * Locking: server->lock protects the queue, stopping, failed and the
 * stable super; it is never held across I/O or net calls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "block.h"
#include "btree.h"
#include "counters.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "super.h"

#define OP_DATA_MAX 1024

struct server_op {
	struct server_op *next;
	struct sfs_net_conn *conn;
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
/* Request handlers, run by the worker                                  */
/* ------------------------------------------------------------------ */

static int op_greeting(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_net_greeting *g = (void *)op->req;
	struct scoutfs_net_greeting *resp = (void *)op->resp;
	struct scoutfs_mounted_client_btree_val mcv;
	struct sfs_btree_item_ret *r;
	struct scoutfs_key key;
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

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, op->rid, 0, 0, 0, 0);
	ret = sfs_btree_lookup(server->fs, &super->mounted_clients, &key, r);
	free(r);
	if (ret == -ENOENT) {
		memset(&mcv, 0, sizeof(mcv));
		if (le64toh(g->flags) & SCOUTFS_NET_GREETING_FLAG_QUORUM)
			mcv.flags = SCOUTFS_MOUNTED_CLIENT_QUORUM;
		server->dirty = true;
		ret = sfs_btree_insert(server->fs, &server->lists.alloc, &server->wri,
				       &super->mounted_clients, &key, 0, 0, &mcv, sizeof(mcv));
		sfs_info(server->fs, "server: mount rid %016llx joined", (unsigned long long)op->rid);
	}
	if (ret)
		return ret;

	*resp = *g;
	resp->server_term = htole64(server->opts.term);
	op->resp_len = sizeof(*resp);
	return 0;
}

static int op_farewell(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, op->rid, 0, 0, 0, 0);
	int ret;

	server->dirty = true;
	ret = sfs_btree_delete(server->fs, &server->lists.alloc, &server->wri,
			       &server->super->mounted_clients, &key);
	if (ret == -ENOENT)
		ret = 0;	/* a resent farewell */
	if (!ret)
		sfs_info(server->fs, "server: mount rid %016llx left", (unsigned long long)op->rid);
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
static int op_get_log_trees(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_super_block *super = server->super;
	struct scoutfs_log_trees lt;
	uint64_t need, have;
	uint32_t low;
	int ret;

	ret = find_log_trees(server, op->rid, &lt);
	if (ret == -ENOENT) {
		memset(&lt, 0, sizeof(lt));
		lt.rid = htole64(op->rid);
		lt.nr = htole64(1);
		ret = 0;
	}
	if (ret)
		return ret;

	if (le64toh(lt.get_trans_seq) > le64toh(lt.commit_trans_seq))
		goto out;

	/* the committed transaction's frees are durable: give them back */
	ret = sfs_alloc_empty_list(server->fs, &server->lists.alloc, &server->wri, meta_sink(super),
				   &lt.meta_freed);
	if (!ret)
		ret = sfs_alloc_move(server->fs, &server->lists.alloc, &server->wri,
				     &super->data_alloc, &lt.data_freed,
				     le64toh(lt.data_freed.total_len));
	if (!ret && le64toh(lt.meta_avail.total_nr) < server->opts.client_meta_target / 2)
		ret = fill_meta_list(server, &lt.meta_avail, server->opts.client_meta_target);
	have = le64toh(lt.data_avail.total_len);
	if (!ret && have < server->opts.client_data_target / 4) {
		need = server->opts.client_data_target - have;
		if (need > le64toh(super->data_alloc.total_len))
			need = le64toh(super->data_alloc.total_len);
		ret = sfs_alloc_move(server->fs, &server->lists.alloc, &server->wri,
				     &lt.data_avail, &super->data_alloc, need);
	}
	if (ret)
		return ret;

	/* into the reserve: the client stops growing metadata */
	low = meta_free(super) <= server->opts.meta_reserve ? SCOUTFS_ALLOC_FLAG_LOW : 0;
	lt.meta_avail.flags = htole32(low);
	lt.data_avail.flags = htole32(le64toh(super->data_alloc.total_len) == 0 &&
						      le64toh(lt.data_avail.total_len) == 0 ?
					      SCOUTFS_ALLOC_FLAG_LOW :
					      0);

	super->seq = htole64(le64toh(super->seq) + 1);
	lt.get_trans_seq = super->seq;
	ret = store_log_trees(server, &lt);
	if (ret)
		return ret;
out:
	memcpy(op->resp, &lt, sizeof(lt));
	op->resp_len = sizeof(lt);
	return 0;
}

static int op_commit_log_trees(struct sfs_server *server, struct server_op *op)
{
	struct scoutfs_log_trees *in = (void *)op->req;
	struct scoutfs_log_trees lt;
	int ret;

	if (op->len != sizeof(*in) || le64toh(in->rid) != op->rid)
		return -EINVAL;
	ret = find_log_trees(server, op->rid, &lt);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
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
	return store_log_trees(server, &lt);
}

static int op_get_last_seq(struct sfs_server *server, struct server_op *op)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	uint64_t last = le64toh(server->super->seq);
	__le64 le;
	int ret;

	if (!r)
		return -ENOMEM;
	/* the greatest seq below every open transaction */
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(server->fs, &server->super->logs_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		memcpy(&lt, r->val, sizeof(lt));
		if (le64toh(lt.get_trans_seq) > le64toh(lt.commit_trans_seq) &&
		    le64toh(lt.get_trans_seq) - 1 < last)
			last = le64toh(lt.get_trans_seq) - 1;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	if (ret && ret != -ENOENT)
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
	uint64_t free_meta, free_data;
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

	memset(st, 0, sizeof(*st));
	memcpy(st->uuid, super->uuid, sizeof(st->uuid));
	st->free_meta_blocks = htole64(free_meta);
	st->total_meta_blocks = super->total_meta_blocks;
	st->free_data_blocks = htole64(free_data);
	st->total_data_blocks = super->total_data_blocks;
	st->inode_count = htole64(inodes < 0 ? 0 : (uint64_t)inodes);
	st->committed_seq = super->seq;
	op->resp_len = sizeof(*st);
	return 0;
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
	case SCOUTFS_NET_CMD_GET_LAST_SEQ:
		return op_get_last_seq(server, op);
	case SCOUTFS_NET_CMD_STATFS:
		return op_statfs(server, op);
	case SCOUTFS_NET_CMD_FAREWELL:
		return op_farewell(server, op);
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

static void *server_worker(void *arg)
{
	struct sfs_server *server = arg;
	struct server_op *batch, *op;
	bool failed;
	int ret;

	for (;;) {
		pthread_mutex_lock(&server->lock);
		while (!server->queue && !server->stopping)
			pthread_cond_wait(&server->cond, &server->lock);
		batch = server->queue;
		server->queue = NULL;
		server->queue_tail = &server->queue;
		failed = server->failed;
		pthread_mutex_unlock(&server->lock);
		if (!batch)
			break;

		for (op = batch; op; op = op->next)
			op->err = failed ? -EIO : apply_op(server, op);
		if (!failed && server->dirty) {
			ret = server_commit(server);
			if (ret) {
				pthread_mutex_lock(&server->lock);
				server->failed = true;
				pthread_mutex_unlock(&server->lock);
				for (op = batch; op; op = op->next)
					if (!op->err)
						op->err = ret;
			}
		}
		while ((op = batch)) {
			batch = op->next;
			sfs_net_respond(op->conn, op->req_id, op->cmd, op->err, op->resp,
					op->err ? 0 : op->resp_len);
			sfs_net_conn_put(op->conn);
			free(op);
		}
	}
	return NULL;
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

	pthread_mutex_lock(&server->lock);
	if (server->stopping) {
		pthread_mutex_unlock(&server->lock);
		sfs_net_conn_put(conn);
		free(op);
		return -ESHUTDOWN;
	}
	*server->queue_tail = op;
	server->queue_tail = &op->next;
	pthread_cond_signal(&server->cond);
	pthread_mutex_unlock(&server->lock);
	return 0;
}

static const sfs_net_handler_fn handlers[SCOUTFS_NET_CMD__NR] = {
	[SCOUTFS_NET_CMD_GREETING] = server_request,
	[SCOUTFS_NET_CMD_ALLOC_INODES] = server_request,
	[SCOUTFS_NET_CMD_GET_LOG_TREES] = server_request,
	[SCOUTFS_NET_CMD_COMMIT_LOG_TREES] = server_request,
	[SCOUTFS_NET_CMD_GET_ROOTS] = server_request,
	[SCOUTFS_NET_CMD_GET_LAST_SEQ] = server_request,
	[SCOUTFS_NET_CMD_STATFS] = server_request,
	[SCOUTFS_NET_CMD_FAREWELL] = server_request,
};

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

int sfs_server_start(struct sfs_fs *fs, const struct sfs_server_opts *opts,
		     struct sockaddr_storage *bound)
{
	struct sfs_net_opts nopts = { 0 };
	struct sfs_server *server;
	int ret;

	if (fs->server)
		return -EBUSY;
	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	fs->server = server;
	server->fs = fs;
	server->opts = *opts;
	if (!server->opts.client_meta_target)
		server->opts.client_meta_target = 1024;
	if (!server->opts.client_data_target)
		server->opts.client_data_target = (4ULL << 30) >> SCOUTFS_BLOCK_SM_SHIFT;
	if (!server->opts.server_meta_target)
		server->opts.server_meta_target = 1024;
	if (!server->opts.meta_reserve)
		server->opts.meta_reserve = 3 * 1024;
	pthread_mutex_init(&server->lock, NULL);
	pthread_cond_init(&server->cond, NULL);
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
	/* allocate from the pair with more in it; the other's frees are durable */
	use_lists(server, le64toh(server->super->server_meta_avail[1].total_nr) >
					  le64toh(server->super->server_meta_avail[0].total_nr) ?
				  1 :
				  0);

	ret = pthread_create(&server->thread, NULL, server_worker, server);
	if (ret) {
		ret = -ret;
		goto out;
	}
	server->thread_started = true;

	ret = sfs_net_derive_key(server->super->uuid, nopts.key);
	if (ret)
		goto out;
	nopts.role = SFS_NET_SERVER;
	nopts.handlers = handlers;
	nopts.nr_handlers = SCOUTFS_NET_CMD__NR;
	nopts.handler_arg = server;
	nopts.linger_ms = opts->linger_ms;
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
	struct server_op *op;

	if (!server)
		return;
	/* refuse new requests, answer the queued ones, then close the network */
	pthread_mutex_lock(&server->lock);
	server->stopping = true;
	pthread_cond_signal(&server->cond);
	pthread_mutex_unlock(&server->lock);
	if (server->thread_started)
		pthread_join(server->thread, NULL);
	while ((op = server->queue)) {
		server->queue = op->next;
		sfs_net_conn_put(op->conn);
		free(op);
	}
	sfs_net_destroy(&server->net);
	/* anything dirty was never committed: it is not on disk */
	sfs_block_writer_forget(fs, &server->wri);
	sfs_block_writer_destroy(&server->wri);
	free(server->super);
	free(server->stable);
	pthread_cond_destroy(&server->cond);
	pthread_mutex_destroy(&server->lock);
	free(server);
	fs->server = NULL;
}
