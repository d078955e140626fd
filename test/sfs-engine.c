// SPDX-License-Identifier: GPL-2.0
/*
 * sfs-engine: drives the metadata engine of a mount without FUSE.
 *
 *   sfs-engine run    META DATA STATE [--seed S] [--ops N] [--sync-every K] [--rid R]
 *                     [--finalize-items N] [--max-log-trees N] [--merge-poll-ms MS]
 *                     [--commit-chunk N]
 *   sfs-engine verify META DATA STATE [--seed S] [--rid R] [merge options]
 *   sfs-engine check  META DATA
 *   sfs-engine keys   META DATA STATE [--seed S]
 *
 * A mount here is the real stack: the quorum agent of slot 0 elects
 * itself and starts the server, the client connects to it over TCP, and
 * items go through the item cache and the transaction.
 *
 * The workload is a deterministic function of the seed: operation i is
 * derived from (seed, i) alone, so the expected state after any number of
 * operations can be recomputed without I/O.  "run" applies operations,
 * commits every K of them with sfs_trans_sync, and records in STATE
 * "syncing M" before a commit and "committed M" once it returned.  It may
 * be killed (SIGKILL) at any moment.  On start, "run" and "verify" mount,
 * and check that what the volume shows is exactly the state after the
 * last committed operation count (or after the one being synced, if that
 * commit completed before the kill), then "run" continues from there.
 * "verify" also unmounts and checks the whole volume (sfs_check_volume).
 * "check" only checks the volume, as it is on disk (after a crash too).
 * "keys" prints the keys the model says exist after the committed
 * operations, formatted as scoutfs print formats keys.
 *
 * Log merging runs as in any mount (merge.c): the merge options set the
 * server's thresholds and the merge worker's poll interval, "run" prints
 * the mount's merge counters after it unmounted, and "check" reports the
 * log trees, fs_root items and log_merge items it found.
 *
 * Exit status: 0, 1 on any mismatch or error (explained), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "btree.h"
#include "check.h"
#include "counters.h"
#include "item.h"
#include "log.h"
#include "mount.h"
#include "super.h"
#include "trans.h"

#define NR_GROUPS 8
#define KEYS_PER_GROUP 1000
#define NR_KEYS (NR_GROUPS * KEYS_PER_GROUP)
#define MAX_VAL 300

struct engine {
	const char *meta, *data, *state;
	uint64_t seed, ops, sync_every, rid;
	uint64_t finalize_items, max_log_trees;
	uint32_t commit_chunk;
	uint32_t merge_poll_ms;
	struct sfs_fs fs;
	struct sfs_counters counters;
	uint64_t model[NR_KEYS];	/* op index + 1 of the last write, 0 = absent */
};

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

enum { OP_FORCE, OP_CREATE, OP_UPDATE, OP_DELETE };

struct op {
	uint32_t id;
	int kind;
	unsigned int len;
};

static struct op op_of(const struct engine *e, uint64_t i)
{
	uint64_t h = mix(e->seed ^ mix(i));
	unsigned int k = (unsigned int)((h >> 32) % 100);
	struct op op = { .id = (uint32_t)(h % NR_KEYS),
			  .len = 15 + (unsigned int)((h >> 44) % (MAX_VAL - 15)) };

	op.kind = k < 50 ? OP_FORCE : k < 65 ? OP_CREATE : k < 78 ? OP_UPDATE : OP_DELETE;
	return op;
}

/*
 * Each key is a real xattr of a real inode, so that scoutfs print and any
 * other reader finds well-formed items: key id -> inode g * 1024 + k / 4,
 * xattr "user.x<j>" (j = k % 4) with xattr id j.
 */
static void id_name(uint32_t id, char name[8])
{
	memcpy(name, "user.x", 6);
	name[6] = (char)('0' + id % KEYS_PER_GROUP % 4);
	name[7] = '\0';
}

/* a whole xattr in one part: header, name, len - 15 value bytes from (seed, writer) */
static void fill_val(const struct engine *e, uint32_t id, uint64_t writer, uint8_t *val,
		     unsigned int len)
{
	struct scoutfs_xattr *xat = (void *)val;
	uint64_t x = mix(e->seed * 31 + writer);
	unsigned int i;

	memset(xat, 0, sizeof(*xat));
	xat->val_len = htole16((uint16_t)(len - 15));
	xat->name_len = 7;
	id_name(id, (char *)xat->name);
	for (i = 15; i < len; i++) {
		if (i % 8 == 0)
			x = mix(x);
		val[i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

static struct scoutfs_key id_key(uint32_t id)
{
	uint32_t g = id / KEYS_PER_GROUP, k = id % KEYS_PER_GROUP;
	char name[8];

	id_name(id, name);
	return sfs_key_make(SCOUTFS_FS_ZONE, (uint64_t)g * 1024 + k / 4, SCOUTFS_XATTR_TYPE,
			    sfs_xattr_name_hash(name, 7), k % 4, 0);
}

static struct sfs_item_range id_lock(uint32_t id)
{
	uint64_t g = id / KEYS_PER_GROUP;
	struct sfs_item_range r = {
		.start = sfs_key_make(SCOUTFS_FS_ZONE, g * 1024, 0, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_FS_ZONE, g * 1024 + 1023, 255, UINT64_MAX, UINT64_MAX,
				    255),
	};
	return r;
}

/* the model's effect of op i and the result the engine must give */
static int model_apply(struct engine *e, uint64_t i)
{
	struct op op = op_of(e, i);
	bool present = e->model[op.id] != 0;

	switch (op.kind) {
	case OP_FORCE:
		e->model[op.id] = i + 1;
		return 0;
	case OP_CREATE:
		if (present)
			return -EEXIST;
		e->model[op.id] = i + 1;
		return 0;
	case OP_UPDATE:
		if (!present)
			return -ENOENT;
		e->model[op.id] = i + 1;
		return 0;
	default:
		if (!present)
			return -ENOENT;
		e->model[op.id] = 0;
		return 0;
	}
}

static int engine_apply(struct engine *e, uint64_t i)
{
	struct op op = op_of(e, i);
	struct scoutfs_key key = id_key(op.id);
	struct sfs_item_range lock = id_lock(op.id);
	uint8_t val[MAX_VAL];
	uint64_t seq;
	int ret;

	ret = sfs_trans_hold(&e->fs, op.kind != OP_DELETE, &seq);
	if (ret)
		return ret;
	fill_val(e, op.id, i + 1, val, op.len);
	switch (op.kind) {
	case OP_FORCE:
		ret = sfs_item_force(&e->fs, &key, val, op.len, seq, &lock);
		break;
	case OP_CREATE:
		ret = sfs_item_create(&e->fs, &key, val, op.len, seq, &lock);
		break;
	case OP_UPDATE:
		ret = sfs_item_update(&e->fs, &key, val, op.len, seq, &lock);
		break;
	default:
		ret = sfs_item_delete(&e->fs, &key, seq, &lock);
		break;
	}
	sfs_trans_release(&e->fs);
	return ret;
}

/* ---- the state file ---- */

static int state_read(struct engine *e, uint64_t *committed, uint64_t *syncing)
{
	char buf[128] = "";
	FILE *f = fopen(e->state, "r");

	*committed = 0;
	*syncing = 0;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fread(buf, 1, sizeof(buf) - 1, f) == 0 && ferror(f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if (sscanf(buf, "committed %" SCNu64 "\nsyncing %" SCNu64, committed, syncing) < 1)
		return 0;
	return 0;
}

static int state_write(struct engine *e, uint64_t committed, uint64_t syncing)
{
	char buf[128];
	char tmp[4096];
	int fd, len;

	len = snprintf(buf, sizeof(buf), "committed %llu\nsyncing %llu\n",
		       (unsigned long long)committed, (unsigned long long)syncing);
	snprintf(tmp, sizeof(tmp), "%s.tmp", e->state);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)len) != len || fsync(fd)) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return rename(tmp, e->state) ? -errno : 0;
}

/* ---- verification ---- */

static void model_reset(struct engine *e, uint64_t upto)
{
	memset(e->model, 0, sizeof(e->model));
	for (uint64_t i = 0; i < upto; i++)
		model_apply(e, i);
}

/* does every key read as the model says? prints the first difference */
static bool matches(struct engine *e, bool quiet)
{
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN], want[MAX_VAL];
	struct scoutfs_key key;
	struct sfs_item_range lock;
	unsigned int len;
	struct op op;
	int ret;

	for (uint32_t id = 0; id < NR_KEYS; id++) {
		key = id_key(id);
		lock = id_lock(id);
		ret = sfs_item_lookup(&e->fs, &key, val, sizeof(val), &len, &lock);
		if (!e->model[id]) {
			if (ret == -ENOENT)
				continue;
			if (!quiet)
				fprintf(stderr, "key %u: expected absent, lookup returned %d\n", id,
					ret);
			return false;
		}
		op = op_of(e, e->model[id] - 1);
		fill_val(e, id, e->model[id], want, op.len);
		if (ret || len != op.len || memcmp(val, want, len)) {
			if (!quiet)
				fprintf(stderr, "key %u: expected %u bytes written by op %llu, lookup returned %d with %u bytes\n",
					id, op.len, (unsigned long long)e->model[id] - 1, ret,
					ret ? 0 : len);
			return false;
		}
	}
	return true;
}

/* the volume must show the committed state, or the one being synced */
static int recover(struct engine *e, uint64_t *base)
{
	uint64_t committed, syncing;
	int ret;

	ret = state_read(e, &committed, &syncing);
	if (ret) {
		fprintf(stderr, "cannot read %s: %s\n", e->state, strerror(-ret));
		return 1;
	}
	model_reset(e, committed);
	if (matches(e, syncing > committed)) {
		*base = committed;
		return 0;
	}
	if (syncing > committed) {
		model_reset(e, syncing);
		if (matches(e, false)) {
			*base = syncing;
			return state_write(e, syncing, syncing) ? 1 : 0;
		}
	}
	fprintf(stderr, "the volume shows neither the state after %llu committed operations nor after %llu\n",
		(unsigned long long)committed, (unsigned long long)syncing);
	return 1;
}

static int mount_engine(struct engine *e)
{
	struct sfs_mount_opts opts = {
		.meta_path = e->meta, .data_path = e->data, .quorum_slot_nr = 0, .rid = e->rid,
		/* commits only when asked, so a commit's contents are known */
		.commit_interval_ms = 3600 * 1000, .dirty_bytes_budget = 1ULL << 40,
		.client_data_target = 16384,
		.finalize_items = e->finalize_items, .max_log_trees = e->max_log_trees,
		.merge_poll_ms = e->merge_poll_ms, .commit_chunk_items = e->commit_chunk,
	};
	int ret;

	sfs_fs_log_init(&e->fs, "sfs-engine");
	/* SFS_ENGINE_DEBUG=1 logs everything the mount does */
	e->fs.log_level = getenv("SFS_ENGINE_DEBUG") ? LOG_DEBUG : LOG_WARNING;
	e->fs.counters = &e->counters;
	ret = sfs_mount_setup(&e->fs, &opts);
	if (ret)
		fprintf(stderr, "mount failed: %s\n", strerror(-ret));
	return ret;
}

static int check_volume(struct engine *e)
{
	struct sfs_block_opts bopts = { .meta_path = e->meta, .data_path = e->data,
					.read_only = true };
	struct scoutfs_super_block *super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	struct sfs_check_report r;
	struct sfs_fs fs = { 0 };
	uint64_t fs_items = 0, fs_blocks = 0;
	char why[200];
	int ret;

	sfs_fs_log_init(&fs, "sfs-engine check");
	ret = sfs_block_setup(&fs, &bopts) ?: sfs_super_read(&fs, super) ?:
	      sfs_check_volume(&fs, super, &r);
	if (!ret)
		ret = sfs_btree_check_tree(&fs, &super->fs_root, NULL, NULL, &fs_items, &fs_blocks,
					   why, sizeof(why));
	if (ret)
		fprintf(stderr, "volume check failed: %s\n",
			ret == -EIO && r.why[0] ? r.why : strerror(-ret));
	else
		printf("volume check: %llu trees, %llu blocks, %llu items, %llu log trees, %llu free meta, %llu freed meta, %llu free data\n",
		       (unsigned long long)r.trees, (unsigned long long)r.tree_blocks,
		       (unsigned long long)r.items, (unsigned long long)r.log_trees,
		       (unsigned long long)r.meta_free, (unsigned long long)r.meta_freed,
		       (unsigned long long)r.data_free);
	if (!ret)
		printf("log trees %llu, fs_root items %llu, merge requests %llu, merge freeing %llu\n",
		       (unsigned long long)r.log_trees, (unsigned long long)fs_items,
		       (unsigned long long)r.merge_requests, (unsigned long long)r.merge_freeing);
	sfs_block_destroy(&fs);
	free(super);
	return ret ? 1 : 0;
}

static void print_merge_counters(struct engine *e)
{
	printf("merge counters: finalize %llu start %llu request %llu work %llu remain %llu complete %llu freeing %llu items %llu deletions %llu\n",
	       (unsigned long long)sfs_counter(&e->fs, log_merge_finalize),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_start),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_request),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_work),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_remain),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_complete),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_freeing),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_items),
	       (unsigned long long)sfs_counter(&e->fs, log_merge_deletions));
}

static int cmd_run(struct engine *e)
{
	uint64_t base, i;
	int want, got;
	int ret;

	if (mount_engine(e))
		return 1;
	ret = recover(e, &base);
	if (ret)
		goto out;
	for (i = base; i < e->ops; i++) {
		want = model_apply(e, i);
		got = engine_apply(e, i);
		if (got != want) {
			fprintf(stderr, "op %llu: expected %d, the engine returned %d\n",
				(unsigned long long)i, want, got);
			ret = 1;
			goto out;
		}
		if ((i + 1) % e->sync_every == 0 || i + 1 == e->ops) {
			if (state_write(e, base, i + 1) || sfs_trans_sync(&e->fs) ||
			    state_write(e, i + 1, i + 1)) {
				fprintf(stderr, "op %llu: commit failed\n", (unsigned long long)i);
				ret = 1;
				goto out;
			}
			base = i + 1;
		}
	}
	printf("ran to %llu operations\n", (unsigned long long)e->ops);
	ret = sfs_mount_unmount(&e->fs) ? 1 : 0;
	print_merge_counters(e);
	return ret;
out:
	sfs_mount_destroy(&e->fs);
	return ret;
}

static int cmd_verify(struct engine *e)
{
	uint64_t base;
	int ret;

	if (mount_engine(e))
		return 1;
	ret = recover(e, &base);
	if (!ret) {
		printf("the volume shows the state after %llu operations\n",
		       (unsigned long long)base);
		if (sfs_mount_unmount(&e->fs)) {
			fprintf(stderr, "unmount failed\n");
			return 1;
		}
		print_merge_counters(e);
		return check_volume(e);
	}
	sfs_mount_destroy(&e->fs);
	return ret;
}

/* the model's live keys after the committed operations, as print writes keys */
static int cmd_keys(struct engine *e)
{
	uint64_t committed, syncing;
	struct scoutfs_key key;

	if (state_read(e, &committed, &syncing))
		return 1;
	model_reset(e, committed);
	for (uint32_t id = 0; id < NR_KEYS; id++) {
		if (!e->model[id])
			continue;
		key = id_key(id);
		printf("%u.%llu.%u.%llu.%llu.%u\n", key.sk_zone,
		       (unsigned long long)le64toh(key._sk_first), key.sk_type,
		       (unsigned long long)le64toh(key._sk_second),
		       (unsigned long long)le64toh(key._sk_third), key._sk_fourth);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: sfs-engine run|verify|keys META DATA STATE [--seed S] [--ops N] [--sync-every K] [--rid R]\n"
			"                  [--finalize-items N] [--max-log-trees N] [--merge-poll-ms MS]\n"
			"                  [--commit-chunk N]\n"
			"       sfs-engine check META DATA\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'o' },
		{ "sync-every", required_argument, NULL, 'k' },
		{ "rid", required_argument, NULL, 'r' },
		{ "finalize-items", required_argument, NULL, 'f' },
		{ "max-log-trees", required_argument, NULL, 'm' },
		{ "merge-poll-ms", required_argument, NULL, 'p' },
		{ "commit-chunk", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct engine *e = calloc(1, sizeof(*e));
	const char *cmd;
	int c, ret;

	if (!e)
		return 1;
	e->seed = 1;
	e->ops = 100000;
	e->sync_every = 500;
	e->rid = 0x5eed;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			e->seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			e->ops = strtoull(optarg, NULL, 0);
			break;
		case 'k':
			e->sync_every = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			e->rid = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			e->finalize_items = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			e->max_log_trees = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			e->merge_poll_ms = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			e->commit_chunk = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 3 || e->sync_every == 0)
		return usage();
	cmd = argv[optind];
	e->meta = argv[optind + 1];
	e->data = argv[optind + 2];
	if (!strcmp(cmd, "check"))
		ret = check_volume(e);
	else if (argc - optind < 4)
		ret = usage();
	else if ((e->state = argv[optind + 3]), !strcmp(cmd, "run"))
		ret = cmd_run(e);
	else if (!strcmp(cmd, "verify"))
		ret = cmd_verify(e);
	else if (!strcmp(cmd, "keys"))
		ret = cmd_keys(e);
	else
		ret = usage();
	free(e);
	return ret;
}
