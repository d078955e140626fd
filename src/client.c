// SPDX-License-Identifier: GPL-2.0
/*
 * The client side of the server protocol.
 *
 * Every mount, the leader's too, is a client of the server over one
 * net.c session keyed by its rid.  Setup greets the server (fsid and
 * format checks; the server records the mount in mounted_clients), and
 * every later call is one synchronous request: net.c queues it across
 * reconnects and resends it, and the server answers once the change is
 * durable, recognising resends.
 *
 * The server's requests run on the net thread and must not block: LOCK
 * (lock.c queues it), SYNC_LOG_TREES (the commit thread is kicked
 * through the hook trans.c registers; answered at once, the commit
 * follows), OPEN_INO_MAP (answered at once with the bits fs.c's
 * omap_local hook reports).
 *
 * Threads: any number of callers; each call waits on its own request.
 * hook_lock protects sync_fn; it is held while the hook runs, so once
 * sfs_client_set_sync_fn(fs, NULL) returns the hook is not running and
 * will not run again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "block.h"
#include "btree.h"
#include "client.h"
#include "counters.h"
#include "fence.h"
#include "lock.h"
#include "log.h"
#include "merge.h"
#include "net.h"
#include "quorum.h"

#define CLIENT_TIMEOUT_MS 60000

/* sfs_client_farewell's wait for the answer */
struct client_farewell {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	bool pending;			/* lock: a FAREWELL is out, its answer to come */
	bool done;			/* lock: the last one was answered */
	int err;			/* lock: and how */
};

struct sfs_client {
	struct sfs_net *net;
	struct sfs_net_conn *conn;
	struct sfs_client_opts opts;
	uint64_t server_term;
	uint64_t last_lt_nr;		/* the log tree nr of the last GET_LOG_TREES */
	pthread_mutex_t hook_lock;
	void (*sync_fn)(struct sfs_fs *fs);	/* hook_lock */
	bool refused;			/* atomic: a server refused our greeting with -ENOLINK */
	struct client_farewell *fw;	/* sfs_client_farewell's wait, freed after the net */
};

static int request(struct sfs_fs *fs, uint16_t cmd, const void *data, uint32_t len, void *resp,
		   uint32_t resp_size, uint32_t *resp_len)
{
	struct sfs_client *client = fs->client;
	uint32_t got = resp_size;
	int ret;

	if (!client)
		return -ENOTCONN;
	ret = sfs_net_request_sync(client->conn, cmd, data, len, resp, &got,
				   client->opts.timeout_ms);
	if (ret)
		return ret;
	if (resp_len)
		*resp_len = got;
	else if (got != resp_size)
		return -EIO;
	return 0;
}

/* net thread: the server wants our open transaction committed now */
static int client_sync_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			       const void *data, uint32_t len, void *arg)
{
	struct sfs_fs *fs = arg;
	struct sfs_client *client = fs->client;

	(void)data;
	if (len != 0)
		return -EINVAL;
	pthread_mutex_lock(&client->hook_lock);
	if (client->sync_fn)
		client->sync_fn(fs);
	pthread_mutex_unlock(&client->hook_lock);
	return sfs_net_respond(conn, req_id, cmd, 0, NULL, 0);
}

/* net thread: the server asks which inodes of a group are open here */
static int client_omap_request(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
			       const void *data, uint32_t len, void *arg)
{
	void (*local)(void *arg, uint64_t group_nr, uint64_t bits[16]);
	uint64_t bits[SCOUTFS_OPEN_INO_MAP_LE64S] = { 0 };
	struct scoutfs_open_ino_map map;
	struct sfs_fs *fs = arg;
	int i;

	if (len != sizeof(map.args))
		return -EINVAL;
	memset(&map, 0, sizeof(map));
	memcpy(&map.args, data, sizeof(map.args));
	local = __atomic_load_n(&fs->omap_local, __ATOMIC_ACQUIRE);
	if (local)
		local(fs->omap_arg, le64toh(map.args.group_nr), bits);
	for (i = 0; i < SCOUTFS_OPEN_INO_MAP_LE64S; i++)
		map.bits[i] = htole64(bits[i]);
	sfs_inc(fs, client_omap_answered);
	return sfs_net_respond(conn, req_id, cmd, 0, &map, sizeof(map));
}

/* the server's requests */
static const sfs_net_handler_fn client_handlers[SCOUTFS_NET_CMD__NR] = {
	[SCOUTFS_NET_CMD_SYNC_LOG_TREES] = client_sync_request,
	[SCOUTFS_NET_CMD_LOCK] = sfs_lock_net_request,
	[SCOUTFS_NET_CMD_LOCK_RECOVER] = sfs_lock_recover_request,
	[SCOUTFS_NET_CMD_OPEN_INO_MAP] = client_omap_request,
};

/*
 * Another server (a new session after an earlier one).  Lock requests
 * carry the modes the old server knew: they fail with -ECONNRESET and
 * lock.c asks the new server again, after it recovered what this mount
 * holds.  Every other pending request is resent as it was: the server's
 * handlers recognise work an earlier server did (reference-scoutfs.md
 * 3.4), so callers never see the change.
 */
static bool client_drain(void *arg, uint16_t cmd)
{
	(void)arg;
	return cmd == SCOUTFS_NET_CMD_LOCK;
}

static void greeting_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct sfs_fs *fs = arg;
	struct sfs_client *client = fs->client;
	const struct scoutfs_net_greeting *g = data;

	if (!err && len != sizeof(*g))
		err = -EIO;
	if (err) {
		/* -ENOLINK: this mount was reclaimed (fenced) while it was away */
		sfs_err(fs, "client: the new server refused our greeting: %s", strerror(-err));
		sfs_inc(fs, client_greeting_refused);
		if (err == -ENOLINK) {
			/* an unmount's farewell then has nobody to wait for */
			__atomic_store_n(&client->refused, true, __ATOMIC_RELEASE);
			sfs_self_fence_now(fs, "the server says this mount was fenced");
		}
		return;
	}
	__atomic_store_n(&client->server_term, le64toh(g->server_term), __ATOMIC_RELEASE);
	sfs_info(fs, "client: greeted the server of term %llu",
		 (unsigned long long)le64toh(g->server_term));
	sfs_inc(fs, client_regreeted);
}

/* the greeting that opens every session after the first (net thread, net lock held) */
static int client_session_first(void *arg, uint16_t *cmd, void *data, sfs_net_resp_fn *resp,
				void **resp_arg)
{
	struct sfs_fs *fs = arg;
	struct sfs_client *client = fs->client;
	struct scoutfs_net_greeting g;

	memset(&g, 0, sizeof(g));
	g.fsid = htole64(fs->fsid);
	g.fmt_vers = htole64(client->opts.fmt_vers);
	g.server_term = htole64(__atomic_load_n(&client->server_term, __ATOMIC_ACQUIRE));
	g.rid = htole64(client->opts.rid);
	g.flags = htole64(client->opts.quorum ? SCOUTFS_NET_GREETING_FLAG_QUORUM : 0);
	memcpy(data, &g, sizeof(g));
	*cmd = SCOUTFS_NET_CMD_GREETING;
	*resp = greeting_resp;
	*resp_arg = fs;
	return (int)sizeof(g);
}

/* net thread: a frame from the server (heard), or a periodic look */
static bool client_alive(void *arg, bool heard)
{
	return sfs_self_fence_check(arg, heard);
}

static int client_resolve(void *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sfs_fs *fs = arg;
	struct sfs_client *client = fs->client;

	return client->opts.resolve(client->opts.resolve_arg, ss, len);
}

int sfs_client_setup(struct sfs_fs *fs, const struct sfs_client_opts *opts)
{
	struct scoutfs_net_greeting g, resp;
	struct sfs_net_opts nopts = { 0 };
	struct sfs_client *client;
	int ret;

	if (fs->client)
		return -EBUSY;
	client = calloc(1, sizeof(*client));
	if (!client)
		return -ENOMEM;
	fs->client = client;
	pthread_mutex_init(&client->hook_lock, NULL);
	client->opts = *opts;
	if (!client->opts.timeout_ms)
		client->opts.timeout_ms = CLIENT_TIMEOUT_MS;

	ret = sfs_net_derive_key(opts->uuid, nopts.key);
	if (ret)
		goto out;
	nopts.role = SFS_NET_CLIENT;
	nopts.handlers = client_handlers;
	nopts.nr_handlers = SCOUTFS_NET_CMD__NR;
	nopts.handler_arg = fs;
	nopts.cb_arg = fs;
	nopts.drain = client_drain;
	nopts.session_first = client_session_first;
	nopts.alive = client_alive;
	/* a dead server's address is retried often: failover waits on it */
	nopts.reconnect_max_ms = 1000;
	if (opts->resolve)
		nopts.resolve = client_resolve;
	client->net = sfs_net_create(fs, &nopts);
	if (!client->net) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sfs_net_connect(client->net, opts->addr, opts->addr_len, opts->rid);
	if (ret)
		goto out;
	client->conn = sfs_net_client_conn(client->net);

	memset(&g, 0, sizeof(g));
	g.fsid = htole64(fs->fsid);
	g.fmt_vers = htole64(opts->fmt_vers);
	g.rid = htole64(opts->rid);
	g.flags = htole64(opts->quorum ? SCOUTFS_NET_GREETING_FLAG_QUORUM : 0);
	ret = request(fs, SCOUTFS_NET_CMD_GREETING, &g, sizeof(g), &resp, sizeof(resp), NULL);
	if (ret) {
		sfs_err(fs, "client: the server refused our greeting: %s", strerror(-ret));
		goto out;
	}
	__atomic_store_n(&client->server_term, le64toh(resp.server_term), __ATOMIC_RELEASE);
	fs->rid = opts->rid;
	if (opts->self_fence_ms)
		sfs_self_fence_arm(fs, opts->self_fence_ms);
out:
	if (ret)
		sfs_client_destroy(fs);
	return ret;
}

void sfs_client_destroy(struct sfs_fs *fs)
{
	struct sfs_client *client = fs->client;

	if (!client)
		return;
	/* nothing is heard any more, and that is no reason to stop writing */
	sfs_self_fence_disarm(fs);
	sfs_net_destroy(&client->net);
	/* the net answered a farewell still pending (-ESHUTDOWN): its wait can go */
	if (client->fw) {
		pthread_cond_destroy(&client->fw->cond);
		pthread_mutex_destroy(&client->fw->lock);
		free(client->fw);
	}
	pthread_mutex_destroy(&client->hook_lock);
	free(client);
	fs->client = NULL;
}

void sfs_client_set_sync_fn(struct sfs_fs *fs, void (*fn)(struct sfs_fs *fs))
{
	struct sfs_client *client = fs->client;

	if (!client)
		return;
	pthread_mutex_lock(&client->hook_lock);
	client->sync_fn = fn;
	pthread_mutex_unlock(&client->hook_lock);
}

struct sfs_net *sfs_client_net(struct sfs_fs *fs)
{
	return fs->client ? fs->client->net : NULL;
}

struct sfs_net_conn *sfs_client_conn(struct sfs_fs *fs)
{
	return fs->client ? fs->client->conn : NULL;
}

int sfs_client_alloc_inodes(struct sfs_fs *fs, uint64_t count, uint64_t *ino, uint64_t *nr)
{
	struct scoutfs_net_inode_alloc ia;
	__le64 lecount = htole64(count);
	int ret;

	ret = request(fs, SCOUTFS_NET_CMD_ALLOC_INODES, &lecount, sizeof(lecount), &ia,
		      sizeof(ia), NULL);
	if (!ret) {
		*ino = le64toh(ia.ino);
		*nr = le64toh(ia.nr);
	}
	return ret;
}

/*
 * A new nr means the server finalized our previous tree: there may be
 * merge work, so the merge worker looks now rather than at its next poll.
 */
/* a new log tree (the last was finalized): a merge may have work */
static void got_log_trees(struct sfs_fs *fs, const struct scoutfs_log_trees *lt)
{
	if (fs->client->last_lt_nr != le64toh(lt->nr)) {
		if (fs->client->last_lt_nr)
			sfs_merge_kick(fs);
		fs->client->last_lt_nr = le64toh(lt->nr);
	}
}

int sfs_client_get_log_trees(struct sfs_fs *fs, struct scoutfs_log_trees *lt)
{
	int ret;

	ret = request(fs, SCOUTFS_NET_CMD_GET_LOG_TREES, NULL, 0, lt, sizeof(*lt), NULL);
	if (!ret)
		got_log_trees(fs, lt);
	return ret;
}

int sfs_client_commit_log_trees_next(struct sfs_fs *fs, const struct scoutfs_log_trees *lt,
				     struct scoutfs_log_trees *next, bool *have_next)
{
	uint32_t len = 0;
	int ret;

	*have_next = false;
	ret = request(fs, SCOUTFS_NET_CMD_COMMIT_LOG_TREES_NEXT, lt, sizeof(*lt), next,
		      sizeof(*next), &len);
	if (ret)
		return ret;
	if (len == sizeof(*next)) {
		*have_next = true;
		got_log_trees(fs, next);
	} else if (len != 0) {
		return -EIO;
	}
	return 0;
}

int sfs_client_commit_log_trees(struct sfs_fs *fs, const struct scoutfs_log_trees *lt)
{
	uint32_t len = 0;

	return request(fs, SCOUTFS_NET_CMD_COMMIT_LOG_TREES, lt, sizeof(*lt), NULL, 0, &len);
}

int sfs_client_get_log_merge(struct sfs_fs *fs, struct scoutfs_log_merge_request *req)
{
	return request(fs, SCOUTFS_NET_CMD_GET_LOG_MERGE, NULL, 0, req, sizeof(*req), NULL);
}

int sfs_client_commit_log_merge(struct sfs_fs *fs, const struct scoutfs_log_merge_complete *comp)
{
	uint32_t len = 0;

	return request(fs, SCOUTFS_NET_CMD_COMMIT_LOG_MERGE, comp, sizeof(*comp), NULL, 0, &len);
}

int sfs_client_srch_get_compact(struct sfs_fs *fs, struct scoutfs_srch_compact *sc)
{
	return request(fs, SCOUTFS_NET_CMD_SRCH_GET_COMPACT, NULL, 0, sc, sizeof(*sc), NULL);
}

int sfs_client_srch_commit_compact(struct sfs_fs *fs, const struct scoutfs_srch_compact *sc)
{
	uint32_t len = 0;

	return request(fs, SCOUTFS_NET_CMD_SRCH_COMMIT_COMPACT, sc, sizeof(*sc), NULL, 0, &len);
}

int sfs_client_get_roots(struct sfs_fs *fs, struct sfs_forest_roots *roots)
{
	struct scoutfs_net_roots nr;
	int ret;

	ret = request(fs, SCOUTFS_NET_CMD_GET_ROOTS, NULL, 0, &nr, sizeof(nr), NULL);
	if (!ret) {
		roots->fs_root = nr.fs_root;
		roots->logs_root = nr.logs_root;
	}
	return ret;
}

int sfs_client_get_last_seq(struct sfs_fs *fs, uint64_t *seq)
{
	__le64 le;
	int ret;

	ret = request(fs, SCOUTFS_NET_CMD_GET_LAST_SEQ, NULL, 0, &le, sizeof(le), NULL);
	if (!ret)
		*seq = le64toh(le);
	return ret;
}

int sfs_client_statfs(struct sfs_fs *fs, struct scoutfs_net_statfs *st)
{
	return request(fs, SCOUTFS_NET_CMD_STATFS, NULL, 0, st, sizeof(*st), NULL);
}

/*
 * Farewell (reference-scoutfs.md 3.5).  The server answers once it has
 * retired the mount, deleting its mounted_clients item last; it holds
 * the farewells of the last quorum majority until all of them ask
 * (server.c: Farewells).  The answer may never arrive: the server can
 * die or stop (a leader leaving with the others) right after the
 * commit.  So while waiting, the mount looks on the meta device every
 * FAREWELL_POLL_MS: once its item is gone from the super's
 * mounted_clients the farewell was processed (or the mount reclaimed)
 * and there is nothing left to wait for.  Otherwise the request goes on
 * to whichever server comes next (net.c resends it), and every
 * FAREWELL_LOG_MS a line says what it waits for.  It ends without an
 * answer only when no server can ever answer: a server refused this
 * mount's greeting (it was fenced, and is reclaimed: done), or the mount
 * fenced itself after hearing from no server for its window (an error:
 * the next server fences and reclaims it).
 */
#define FAREWELL_POLL_MS 250
#define FAREWELL_LOG_MS 5000

/* net thread (or sfs_net_destroy): the farewell's answer */
static void farewell_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct client_farewell *fw = arg;

	(void)data;
	pthread_mutex_lock(&fw->lock);
	fw->err = err ?: (len ? -EIO : 0);
	fw->pending = false;
	fw->done = true;
	pthread_cond_broadcast(&fw->cond);
	pthread_mutex_unlock(&fw->lock);
}

/* the mounts the meta device's super records now */
struct farewell_census {
	bool present;			/* this mount's item is there */
	uint64_t members;		/* other quorum members' items */
	uint64_t others;		/* other mounts' items */
	int votes;			/* an election's votes */
};

/*
 * Read the current super and look for our mounted_clients item (and, for
 * the log, count the others).  The server may be rewriting the tree: a
 * stale block is an error like any other, and the next poll reads again.
 */
static int farewell_census(struct sfs_fs *fs, bool count, struct farewell_census *c)
{
	struct scoutfs_mounted_client_btree_val mcv;
	struct scoutfs_super_block *super;
	struct sfs_btree_item_ret *r;
	struct scoutfs_key key;
	uint64_t rid = fs->client->opts.rid;
	int ret;

	memset(c, 0, sizeof(*c));
	if (!fs->block)
		return -ENODEV;	/* unit tests: a client without devices */
	super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	r = malloc(sizeof(*r));
	if (!super || !r) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sfs_block_read_sm(fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO, SCOUTFS_BLOCK_MAGIC_SUPER,
				super);
	if (ret)
		goto out;
	c->votes = sfs_quorum_votes_needed(&super->qconf);
	key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, rid, 0, 0, 0, 0);
	if (!count) {
		ret = sfs_btree_lookup(fs, &super->mounted_clients, &key, r);
		c->present = ret == 0;
		ret = ret == -ENOENT ? 0 : ret;
		goto out;
	}
	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(fs, &super->mounted_clients, &key, r)) == 0) {
		memset(&mcv, 0, sizeof(mcv));
		memcpy(&mcv, r->val, r->val_len < sizeof(mcv) ? r->val_len : sizeof(mcv));
		if (le64toh(r->key._sk_first) == rid)
			c->present = true;
		else if (mcv.flags & SCOUTFS_MOUNTED_CLIENT_QUORUM)
			c->members++;
		else
			c->others++;
		key = r->key;
		sfs_key_inc(&key);
	}
	ret = ret == -ENOENT ? 0 : ret;
out:
	free(r);
	free(super);
	return ret;
}

/*
 * The log line of a farewell still waiting after secs: the server it is
 * connected to, and what the volume records (c, read with error cret).
 */
static void farewell_waiting(struct sfs_fs *fs, unsigned int secs, int cret,
			     const struct farewell_census *c)
{
	struct sfs_client *client = fs->client;
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN] = "?";
	char peer[INET6_ADDRSTRLEN + 32];
	unsigned int port = 0;

	if (sfs_net_conn_peer(client->conn, &ss) == 0) {
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			snprintf(peer, sizeof(peer), "connected to the server at %s:%u", ip, port);
		} else {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			snprintf(peer, sizeof(peer), "connected to the server at [%s]:%u", ip, port);
		}
	} else {
		snprintf(peer, sizeof(peer),
			 "no server connected: it goes to the next one the quorum elects");
	}
	if (cret) {
		sfs_warn(fs, "unmount: waiting %u s for the server to answer our farewell (%s); the meta device cannot be read: %s",
			 secs, peer, strerror(-cret));
		return;
	}
	sfs_warn(fs, "unmount: waiting %u s for the server to answer our farewell (%s); the volume records this mount, %llu other quorum members and %llu other mounts%s",
		 secs, peer, (unsigned long long)c->members, (unsigned long long)c->others,
		 client->opts.quorum && c->members + 1 <= (uint64_t)c->votes ?
			 "; the last quorum members leave together: the server answers once every mount left is a member unmounting, so unmount the other members (and clients) too" :
			 "");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int sfs_client_farewell(struct sfs_fs *fs)
{
	struct sfs_client *client = fs->client;
	struct client_farewell *fw;
	struct farewell_census c;
	pthread_condattr_t cattr;
	uint64_t start, logged, now;
	struct timespec at;
	bool done = false, count, send;
	int ret, cret;

	if (!client)
		return -ENOTCONN;
	fw = client->fw;
	if (!fw) {
		fw = calloc(1, sizeof(*fw));
		if (!fw)
			return -ENOMEM;
		pthread_mutex_init(&fw->lock, NULL);
		pthread_condattr_init(&cattr);
		pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
		pthread_cond_init(&fw->cond, &cattr);
		pthread_condattr_destroy(&cattr);
		client->fw = fw;
	}

	/* again (a resend): a farewell still out is waited for, not sent twice */
	pthread_mutex_lock(&fw->lock);
	send = !fw->pending;
	if (send) {
		fw->pending = true;
		fw->done = false;
	}
	pthread_mutex_unlock(&fw->lock);
	if (send) {
		ret = sfs_net_request(client->conn, SCOUTFS_NET_CMD_FAREWELL, NULL, 0,
				      farewell_resp, fw);
		if (ret)
			farewell_resp(fw, ret, NULL, 0);
	}
	start = logged = mono_ms();
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += FAREWELL_POLL_MS * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&fw->lock);
		if (!fw->done)
			pthread_cond_timedwait(&fw->cond, &fw->lock, &at);
		done = fw->done;
		ret = fw->err;
		pthread_mutex_unlock(&fw->lock);
		if (done)
			break;
		now = mono_ms();
		count = now - logged >= FAREWELL_LOG_MS;
		cret = farewell_census(fs, count, &c);
		if (cret == 0 && !c.present) {
			sfs_info(fs, "unmount: our mounted_clients item is gone: the server processed our farewell");
			sfs_inc(fs, client_farewell_on_disk);
			return 0;
		}
		if (count) {
			farewell_waiting(fs, (unsigned int)((now - start) / 1000), cret, &c);
			logged = now;
		}
	}
	if (!ret)
		return 0;
	if (ret == -ENOLINK) {
		/* no server will answer: refused (fenced) or self-fenced */
		if (farewell_census(fs, false, &c) == 0 && !c.present) {
			sfs_info(fs, "unmount: our mounted_clients item is gone: this mount was reclaimed, nothing to say farewell to");
			sfs_inc(fs, client_farewell_on_disk);
			return 0;
		}
		if (__atomic_load_n(&client->refused, __ATOMIC_ACQUIRE)) {
			sfs_warn(fs, "unmount: the server refused this mount (it is being fenced): leaving without a farewell, the server reclaims what it held");
			return 0;
		}
		sfs_err(fs, "unmount: no server answered our farewell before this mount fenced itself: leaving without one; the next server fences this mount (rid %016llx) and reclaims what it held",
			(unsigned long long)client->opts.rid);
	} else {
		sfs_err(fs, "unmount: the farewell failed: %s", strerror(-ret));
	}
	sfs_inc(fs, client_farewell_error);
	return ret;
}

int sfs_client_open_ino_map(struct sfs_fs *fs, uint64_t group_nr,
			    uint64_t bits[SCOUTFS_OPEN_INO_MAP_LE64S])
{
	struct scoutfs_open_ino_map_args args = { .group_nr = htole64(group_nr) };
	struct scoutfs_open_ino_map map;
	int ret, i;

	ret = request(fs, SCOUTFS_NET_CMD_OPEN_INO_MAP, &args, sizeof(args), &map, sizeof(map),
		      NULL);
	if (!ret && le64toh(map.args.group_nr) != group_nr)
		ret = -EIO;
	if (!ret)
		for (i = 0; i < SCOUTFS_OPEN_INO_MAP_LE64S; i++)
			bits[i] = le64toh(map.bits[i]);
	return ret;
}

int sfs_client_get_volopt(struct sfs_fs *fs, struct scoutfs_volume_options *vo)
{
	return request(fs, SCOUTFS_NET_CMD_GET_VOLOPT, NULL, 0, vo, sizeof(*vo), NULL);
}

int sfs_client_set_volopt(struct sfs_fs *fs, const struct scoutfs_volume_options *vo)
{
	uint32_t len = 0;

	return request(fs, SCOUTFS_NET_CMD_SET_VOLOPT, vo, sizeof(*vo), NULL, 0, &len);
}

int sfs_client_clear_volopt(struct sfs_fs *fs, const struct scoutfs_volume_options *vo)
{
	uint32_t len = 0;

	return request(fs, SCOUTFS_NET_CMD_CLEAR_VOLOPT, vo, sizeof(*vo), NULL, 0, &len);
}
