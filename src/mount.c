// SPDX-License-Identifier: GPL-2.0
/*
 * A mount's metadata engine, assembled in order and torn down in reverse:
 *
 *   block (meta + data) -> super -> quorum agent (members: elects itself,
 *   starts the server on its slot's address) -> client (finds the server
 *   through the quorum blocks, greets it) -> item cache (reads through the
 *   client's stable roots) -> transaction -> log merge worker (asks the
 *   server for merge requests, see merge.c)
 *
 * Every mount is a client of the server, the leader's too, over TCP.
 *
 * Failure: setup undoes whatever it built.  destroy tears down what is
 * there without committing (a crash, as far as the disk is concerned);
 * unmount commits, says farewell and stops the quorum agent first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "block.h"
#include "client.h"
#include "counters.h"
#include "ctl.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "merge.h"
#include "mount.h"
#include "options.h"
#include "quorum.h"
#include "quota.h"
#include "server.h"
#include "srch.h"
#include "super.h"
#include "text.h"
#include "trans.h"

struct sfs_mount {
	struct sfs_mount_opts opts;
	struct scoutfs_super_block *super;
	struct sfs_fs *fs;
};

static struct sfs_mount *mount_of(struct sfs_fs *fs)
{
	return fs->mount;
}

const struct scoutfs_super_block *sfs_mount_super(struct sfs_fs *fs)
{
	return mount_of(fs) ? mount_of(fs)->super : NULL;
}

/* the server stopped on its own: the quorum agent stops it and stands again */
static void server_failed(void *arg)
{
	struct sfs_mount *m = arg;

	sfs_quorum_server_stopped(m->fs);
}

/* the server had the earlier leaders fenced: the quorum agent records FENCE */
static void server_up(void *arg, uint64_t term)
{
	struct sfs_mount *m = arg;

	sfs_quorum_server_up(m->fs, term);
}

/* the quorum agent's callback: our slot won, start the server on its address */
static int start_server(void *arg, uint64_t term)
{
	struct sfs_mount *m = arg;
	struct sfs_server_opts sopts = { 0 };
	struct sfs_quorum_leader leaders[32];
	struct sfs_server_fence fence[32];
	struct sockaddr_storage ss;
	uint64_t dead[4];
	socklen_t len;
	size_t nr, i;
	int ret;

	ret = sfs_quorum_sockaddr(&m->super->qconf.slots[m->opts.quorum_slot_nr].addr, &ss, &len);
	if (ret)
		return ret;
	sopts.addr = (struct sockaddr *)&ss;
	sopts.addr_len = len;
	sopts.term = term;
	sopts.client_data_target = m->opts.client_data_target;
	sopts.client_meta_target = m->opts.client_meta_target;
	sopts.finalize_items = m->opts.finalize_items;
	sopts.max_log_trees = m->opts.max_log_trees;
	sopts.merge_meta_target = m->opts.merge_meta_target;
	sopts.reconnect_ms = m->opts.recovery_window_ms;
	sopts.linger_ms = m->opts.recovery_window_ms;
	sopts.dead_rids = dead;
	sopts.nr_dead = sfs_quorum_dead_leaders(m->fs, dead, sizeof(dead) / sizeof(dead[0]));
	nr = sfs_quorum_leaders_to_fence(m->fs, leaders, sizeof(leaders) / sizeof(leaders[0]));
	for (i = 0; i < nr; i++) {
		fence[i].rid = leaders[i].rid;
		snprintf(fence[i].addr, sizeof(fence[i].addr), "%s", leaders[i].addr);
	}
	sopts.fence_leaders = fence;
	sopts.nr_fence_leaders = nr;
	sopts.failed = server_failed;
	sopts.up = server_up;
	sopts.failed_arg = m;
	return sfs_server_start(m->fs, &sopts, NULL);
}

static void stop_server(void *arg)
{
	struct sfs_mount *m = arg;

	sfs_server_stop(m->fs);
}

/*
 * A read under a lock granted with roots uses them (no GET_ROOTS round
 * trip) while this mount has finished no commit since: no other mount
 * wrote under the lock after the grant, and what this one wrote since is
 * still dirty in the item cache.  Stale blocks (a merge freed the trees
 * they name) make item.c ask again with fresh set.
 */
static int item_get_roots(void *arg, const struct scoutfs_key *key, bool fresh,
			  struct sfs_forest_roots *roots)
{
	struct sfs_fs *fs = arg;
	struct scoutfs_net_roots nr;

	if (!fresh && sfs_lock_roots(fs, key, sfs_item_commits(fs), &nr) == 0) {
		roots->fs_root = nr.fs_root;
		roots->logs_root = nr.logs_root;
		sfs_inc(fs, item_roots_lock);
		return 0;
	}
	sfs_inc(fs, item_roots_server);
	return sfs_client_get_roots(fs, roots);
}

static uint64_t lock_roots_gen(void *arg)
{
	return sfs_item_commits(arg);
}

/*
 * A cluster lock goes down (lock.c runs this on an invalidation worker,
 * docs/cluster.md): what was written under it is committed, so the
 * other mount's reads after its grant see it; and when this mount may
 * no longer read (NULL), the cached items of the range go, and so does
 * what the kernel caches of the inodes in it.
 */
static int lock_invalidate(void *arg, struct sfs_lock *lock, uint8_t old_mode, uint8_t new_mode)
{
	struct sfs_fs *fs = arg;
	const struct sfs_item_range *r = sfs_lock_range(lock);
	bool wrote = old_mode == SFS_LOCK_WRITE || old_mode == SFS_LOCK_WRITE_ONLY;
	void (*inval)(void *arg, uint64_t first, uint64_t last);
	int ret = 0;

	if (wrote && sfs_lock_written_seq(lock) > sfs_trans_committed_seq(fs))
		ret = sfs_trans_sync(fs);
	else if (wrote)
		sfs_debug(fs, "lock: written seq %llu, committed %llu: nothing to commit",
			  (unsigned long long)sfs_lock_written_seq(lock),
			  (unsigned long long)sfs_trans_committed_seq(fs));
	if (ret || new_mode != SFS_LOCK_NULL)
		return ret;
	ret = sfs_item_invalidate(fs, &r->start, &r->end);
	if (ret == -EBUSY) {
		sfs_debug(fs, "lock: dirty items under a lock going to NULL: commit first");
		/* dirty items the lock's users did not record: commit them too */
		ret = sfs_trans_sync(fs) ?: sfs_item_invalidate(fs, &r->start, &r->end);
	}
	if (!ret && r->start.sk_zone == SCOUTFS_QUOTA_ZONE)
		sfs_quota_invalidate(fs);
	inval = __atomic_load_n(&fs->kernel_inval, __ATOMIC_ACQUIRE);
	if (!ret && r->start.sk_zone == SCOUTFS_FS_ZONE && inval)
		inval(fs->kernel_inval_arg, le64toh(r->start._sk_first), le64toh(r->end._sk_first));
	return ret;
}

/* a lock this mount may now read under: nothing cached without it stays */
static void lock_granted(void *arg, struct sfs_lock *lock, uint8_t old_mode, uint8_t new_mode)
{
	struct sfs_fs *fs = arg;
	const struct sfs_item_range *r = sfs_lock_range(lock);
	int ret;

	(void)old_mode, (void)new_mode;
	ret = sfs_item_invalidate_clean(fs, &r->start, &r->end);
	if (ret)
		sfs_warn(fs, "lock: cached items of a newly granted lock stay: %s", strerror(-ret));
	/* quota rules are read again under it */
	if (r->start.sk_zone == SCOUTFS_QUOTA_ZONE)
		sfs_quota_invalidate(fs);
}

/* client.c, before each reconnect: the server the quorum blocks name now */
static int resolve_server(void *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sfs_mount *m = arg;
	union scoutfs_inet_addr addr;
	uint64_t term;
	int ret;

	ret = sfs_quorum_find_server(m->fs, m->super, &addr, &term);
	if (ret)
		return ret;
	return sfs_quorum_sockaddr(&addr, ss, len);
}

/*
 * How long the client may hear from no server before it stops writing
 * (fence.h).  The leader fences a mount no sooner than the recovery
 * window after it lost touch: after net's 10 s idle timeout for a mount
 * that went quiet, after an election (at least a heartbeat timeout) for
 * a mount of an earlier server.  Heard-from times on both sides differ by
 * up to a keepalive (1 s).  So stopping at the window plus the shorter
 * of the two, less a second, stops before any fencing can have taken
 * anything back, yet after a normal failover has long greeted the new
 * server.
 */
static uint32_t self_fence_window(struct sfs_mount *m)
{
	uint32_t w = m->opts.recovery_window_ms ?: SFS_RECOVERY_WINDOW_DEF_MS;
	uint32_t hb = m->opts.quorum_heartbeat_timeout_ms ?: SFS_QUORUM_HB_TIMEOUT_DEF_MS;

	return w + (hb < 10000 ? hb : 10000) - 1000;
}

/* look for a running server in the quorum blocks until it shows up */
static int find_server(struct sfs_mount *m, struct sockaddr_storage *ss, socklen_t *len)
{
	union scoutfs_inet_addr addr;
	char text[SFS_TEXT_ADDR_LEN];
	unsigned int waited = 0;
	uint64_t term;
	int ret;

	for (;;) {
		ret = sfs_quorum_find_server(m->fs, m->super, &addr, &term);
		if (ret != -ENOENT)
			break;
		if (waited >= m->opts.server_wait_ms) {
			sfs_err(m->fs, "mount: no server appeared in the quorum blocks in %u ms",
				m->opts.server_wait_ms);
			return -ETIMEDOUT;
		}
		usleep(100 * 1000);
		waited += 100;
	}
	if (ret)
		return ret;
	sfs_text_inet_addr(text, sizeof(text), &addr);
	sfs_info(m->fs, "mount: server of term %llu at %s", (unsigned long long)term, text);
	return sfs_quorum_sockaddr(&addr, ss, len);
}

int sfs_mount_setup(struct sfs_fs *fs, const struct sfs_mount_opts *opts)
{
	struct sfs_block_opts bopts = { 0 };
	struct sfs_quorum_opts qopts = { 0 };
	struct sfs_client_opts copts = { 0 };
	struct sfs_item_opts iopts = { 0 };
	struct sfs_trans_opts topts = { 0 };
	struct sfs_merge_opts mopts = { 0 };
	struct sfs_srch_opts sopts = { 0 };
	struct sfs_lock_opts lopts = { 0 };
	struct sockaddr_storage ss;
	struct sfs_mount *m;
	socklen_t len;
	int ret;

	if (fs->mount)
		return -EBUSY;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	fs->mount = m;
	m->fs = fs;
	m->opts = *opts;
	if (!m->opts.server_wait_ms)
		m->opts.server_wait_ms = 60000;
	fs->rid = opts->rid;
	while (fs->rid == 0 || fs->rid == UINT64_MAX) {
		if (getrandom(&fs->rid, sizeof(fs->rid), 0) != sizeof(fs->rid)) {
			ret = -errno;
			goto out;
		}
	}

	bopts.meta_path = opts->meta_path;
	bopts.data_path = opts->data_path;
	bopts.cache_bytes = opts->block_cache_bytes;
	bopts.prefill = true;
	ret = sfs_block_setup(fs, &bopts);
	if (ret)
		goto out;
	m->super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!m->super) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sfs_super_read(fs, m->super);
	if (ret)
		goto out;
	/* a leader elected below puts its fence requests there */
	if (opts->run_dir) {
		ret = sfs_ctl_prepare(fs, opts->run_base);
		if (ret)
			goto out;
	}

	qopts.slot_nr = opts->quorum_slot_nr;
	qopts.rid = fs->rid;
	qopts.super = m->super;
	qopts.start_server = start_server;
	qopts.stop_server = stop_server;
	qopts.arg = m;
	qopts.heartbeat_timeout_ms = opts->quorum_heartbeat_timeout_ms;
	qopts.server_reports_up = true;
	ret = sfs_quorum_setup(fs, &qopts) ?: sfs_quorum_start(fs);
	if (ret)
		goto out;
	/*
	 * A member waits for the election: it leads, or it heard the leader
	 * of its term and the quorum blocks show it; either way find_server
	 * then finds a live server.  Standing may first take a heartbeat
	 * timeout, when the blocks show a leader that may be dead.
	 */
	if (opts->quorum_slot_nr >= 0) {
		ret = sfs_quorum_wait_server(fs, m->opts.server_wait_ms +
						 (opts->quorum_heartbeat_timeout_ms ?:
						  SFS_QUORUM_HB_TIMEOUT_DEF_MS));
		if (ret) {
			sfs_err(fs, "mount: quorum slot %d: no server was elected: %s",
				opts->quorum_slot_nr, strerror(-ret));
			goto out;
		}
	}

	ret = find_server(m, &ss, &len);
	if (ret)
		goto out;
	copts.addr = (struct sockaddr *)&ss;
	copts.addr_len = len;
	copts.rid = fs->rid;
	copts.uuid = m->super->uuid;
	copts.fmt_vers = le64toh(m->super->fmt_vers);
	copts.quorum = opts->quorum_slot_nr >= 0;
	copts.resolve = resolve_server;
	copts.resolve_arg = m;
	copts.self_fence_ms = self_fence_window(m);
	ret = sfs_client_setup(fs, &copts);
	if (ret)
		goto out;

	lopts.ops.invalidate = lock_invalidate;
	lopts.ops.granted = lock_granted;
	lopts.ops.roots_gen = lock_roots_gen;
	lopts.ops.arg = fs;
	lopts.idle_count = opts->lock_idle_count;
	ret = sfs_lock_setup(fs, &lopts);
	if (ret)
		goto out;

	iopts.get_roots = item_get_roots;
	iopts.arg = fs;
	iopts.max_bytes = opts->item_cache_bytes;
	ret = sfs_item_setup(fs, &iopts);
	if (ret)
		goto out;

	topts.commit_interval_ms = opts->commit_interval_ms;
	topts.dirty_bytes_budget = opts->dirty_bytes_budget;
	topts.commit_chunk_items = opts->commit_chunk_items;
	ret = sfs_trans_setup(fs, &topts);
	if (ret)
		goto out;

	mopts.poll_ms = opts->merge_poll_ms;
	ret = sfs_merge_setup(fs, &mopts);
	if (ret)
		goto out;

	sopts.compact_delay_ms = opts->srch_compact_delay_ms;
	ret = sfs_srch_setup(fs, &sopts);
out:
	if (ret)
		sfs_mount_destroy(fs);
	return ret;
}

int sfs_mount_unmount(struct sfs_fs *fs)
{
	int ret = 0, err;

	/* the request in hand is finished; the server keeps the rest for others */
	sfs_srch_destroy(fs);
	sfs_merge_destroy(fs);
	if (fs->trans) {
		ret = sfs_trans_sync(fs);
		/*
		 * A sync returns once its commit is durable, while the commit
		 * thread goes on to ask for the next transaction: let it finish
		 * and stop, so nothing asks for one after the farewell.
		 */
		sfs_trans_stop(fs);
	}
	/* everything written is committed: what we hold can go as we leave */
	sfs_lock_destroy(fs);
	/*
	 * The farewell returns once a server retired this mount, or the
	 * volume shows one did (client.c).  A member's may be held until
	 * the last quorum majority leaves together (server.c: Farewells):
	 * the quorum agent runs until it returns, so a leader's server
	 * serves the others meanwhile, and a member still votes for the
	 * next server when the leader leaves first.
	 */
	if (fs->client) {
		err = sfs_client_farewell(fs);
		if (!ret)
			ret = err;
	}
	sfs_trans_destroy(fs);
	sfs_item_destroy(fs);
	sfs_client_destroy(fs);
	if (fs->quorum) {
		err = sfs_quorum_stop(fs);
		if (!ret)
			ret = err;
	}
	sfs_mount_destroy(fs);
	return ret;
}

void sfs_mount_destroy(struct sfs_fs *fs)
{
	struct sfs_mount *m = fs->mount;

	sfs_srch_destroy(fs);
	sfs_merge_destroy(fs);
	sfs_lock_destroy(fs);
	sfs_trans_destroy(fs);
	sfs_item_destroy(fs);
	sfs_client_destroy(fs);
	sfs_quorum_destroy(fs);
	sfs_server_stop(fs);
	sfs_block_destroy(fs);
	if (m) {
		free(m->super);
		free(m);
		fs->mount = NULL;
	}
}
