// SPDX-License-Identifier: GPL-2.0
/*
 * engine-bench: rates of the metadata engine through a real mount stack
 * (quorum slot 0, server, client over TCP, item cache, transactions).
 *
 *   engine-bench META DATA [--items N]
 *
 * Prints, one per line, "name value unit":
 *   item_insert_rate    items created per second (dirty, in one thread)
 *   item_lookup_rate    cached item lookups per second (one thread)
 *   commit_bytes        bytes of metadata blocks the commit wrote
 *   commit_write_bw     those bytes over the commit's wall time (MB/s),
 *                       flushes and the server round trip included
 * bench/run.sh compares commit_write_bw with fio's sequential O_DIRECT
 * write bandwidth on the same image file in the same run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block.h"
#include "counters.h"
#include "item.h"
#include "log.h"
#include "mount.h"
#include "trans.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1024 inodes per lock group; 16 items per inode */
static struct scoutfs_key bench_key(uint64_t i)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, 1024 + i / 16, SCOUTFS_INODE_TYPE + 100, i % 16, 0, 0);
}

static struct sfs_item_range bench_lock(uint64_t i)
{
	uint64_t g = (1024 + i / 16) & ~1023ULL;
	struct sfs_item_range r = {
		.start = sfs_key_make(SCOUTFS_FS_ZONE, g, 0, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_FS_ZONE, g + 1023, 255, UINT64_MAX, UINT64_MAX, 255),
	};
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "items", required_argument, NULL, 'n' },
					      { NULL, 0, NULL, 0 } };
	struct sfs_mount_opts mopts = { .quorum_slot_nr = 0, .rid = 0xbe4c,
					.commit_interval_ms = 3600 * 1000,
					.dirty_bytes_budget = 1ULL << 40,
					.item_cache_bytes = 2ULL << 30,
					.client_data_target = 16384,
					.client_meta_target = 32768,
					/* measure the commit, not a background merge */
					.finalize_items = 1ULL << 40 };
	struct sfs_counters counters = { 0 };
	struct sfs_block_stats before, after;
	struct sfs_fs fs = { 0 };
	struct sfs_item_range lock;
	struct scoutfs_key key;
	uint8_t val[64], got[64];
	uint64_t n = 300000, i, seq, lookups;
	unsigned int len;
	double t0, t1;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n')
			return 2;
		n = strtoull(optarg, NULL, 0);
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: engine-bench META DATA [--items N]\n");
		return 2;
	}
	mopts.meta_path = argv[optind];
	mopts.data_path = argv[optind + 1];
	sfs_fs_log_init(&fs, "engine-bench");
	fs.log_level = LOG_WARNING;
	fs.counters = &counters;
	ret = sfs_mount_setup(&fs, &mopts);
	if (ret) {
		fprintf(stderr, "mount failed: %s\n", strerror(-ret));
		return 1;
	}
	memset(val, 0x5a, sizeof(val));

	/* inserts: one hold per item, as a filesystem operation does */
	t0 = now();
	for (i = 0; i < n; i++) {
		key = bench_key(i);
		lock = bench_lock(i);
		ret = sfs_trans_hold(&fs, true, &seq) ?:
		      sfs_item_create(&fs, &key, val, sizeof(val), seq, &lock);
		sfs_trans_release(&fs);
		if (ret) {
			fprintf(stderr, "create %llu: %s\n", (unsigned long long)i, strerror(-ret));
			goto out;
		}
	}
	t1 = now();
	printf("item_insert_rate %.0f items/s\n", (double)n / (t1 - t0));

	/* cached lookups, scattered over everything inserted */
	lookups = n * 3;
	t0 = now();
	for (i = 0; i < lookups; i++) {
		uint64_t k = (i * 2654435761ULL) % n;

		key = bench_key(k);
		lock = bench_lock(k);
		ret = sfs_item_lookup(&fs, &key, got, sizeof(got), &len, &lock);
		if (ret || len != sizeof(val)) {
			fprintf(stderr, "lookup %llu: %d\n", (unsigned long long)k, ret);
			goto out;
		}
	}
	t1 = now();
	printf("item_lookup_rate %.0f lookups/s\n", (double)lookups / (t1 - t0));

	/* commit everything: the write bandwidth of a commit */
	sfs_block_get_stats(&fs, &before);
	fs.log_level = LOG_DEBUG;	/* the commit's phases (logged once it finished) */
	t0 = now();
	ret = sfs_trans_sync(&fs);
	t1 = now();
	sfs_block_get_stats(&fs, &after);
	if (ret) {
		fprintf(stderr, "commit: %s\n", strerror(-ret));
		goto out;
	}
	printf("commit_items %llu\n", (unsigned long long)n);
	printf("commit_bytes %llu\n",
	       (unsigned long long)(after.writes_submitted - before.writes_submitted) *
		       SCOUTFS_BLOCK_LG_SIZE);
	printf("commit_seconds %.3f\n", t1 - t0);
	printf("commit_write_bw %.1f MB/s\n",
	       (double)(after.writes_submitted - before.writes_submitted) *
		       SCOUTFS_BLOCK_LG_SIZE / (t1 - t0) / 1e6);
	/* the commit thread logs the phases once its waiters were woken */
	ret = sfs_trans_sync(&fs);
	fs.log_level = LOG_WARNING;
	ret = sfs_mount_unmount(&fs) ?: ret;
	return ret ? 1 : 0;
out:
	sfs_mount_destroy(&fs);
	return 1;
}
