// SPDX-License-Identifier: GPL-2.0
/*
 * engine-bench: rates of the metadata engine through a real mount stack
 * (quorum slot 0, server, client over TCP, item cache, transactions).
 *
 *   engine-bench META DATA [--items N] [--rounds R]
 *
 * Prints, one per line, "name value unit":
 *   item_insert_rate    items created per second (dirty, in one thread)
 *   item_lookup_rate    cached item lookups per second (one thread)
 *   commit round r      each commit of N new items: bytes of metadata
 *                       blocks written, wall time, bandwidth
 *   commit_write_bw     the median of the R commits' bandwidths (MB/s):
 *                       bytes over wall time, from the sync request until
 *                       it returned, flushes and the server included
 * bench/run.sh compares commit_write_bw with fio's sequential O_DIRECT
 * write bandwidth on the same image file in the same run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "block.h"
#include "counters.h"
#include "item.h"
#include "log.h"
#include "mount.h"
#include "trans.h"

#define MAX_ROUNDS 64

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

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

/* items first..last-1, one transaction hold each, as filesystem operations do */
static int insert_items(struct sfs_fs *fs, uint64_t first, uint64_t last, const void *val,
			unsigned int len)
{
	struct sfs_item_range lock;
	struct scoutfs_key key;
	uint64_t i, seq;
	int ret;

	for (i = first; i < last; i++) {
		key = bench_key(i);
		lock = bench_lock(i);
		ret = sfs_trans_hold(fs, true, &seq) ?:
		      sfs_item_create(fs, &key, val, len, seq, &lock);
		sfs_trans_release(fs);
		if (ret) {
			fprintf(stderr, "create %llu: %s\n", (unsigned long long)i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "items", required_argument, NULL, 'n' },
					      { "rounds", required_argument, NULL, 'r' },
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
	uint64_t n = 300000, i, lookups, rounds = 5, r, bytes;
	double bw[MAX_ROUNDS];
	struct rusage ru0, ru1;
	unsigned int len;
	double t0, t1;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			n = strtoull(optarg, NULL, 0);
		else if (c == 'r')
			rounds = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	if (argc - optind != 2 || !n || !rounds || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: engine-bench META DATA [--items N] [--rounds R (1..%d)]\n",
			MAX_ROUNDS);
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
	if (insert_items(&fs, 0, n, val, sizeof(val)))
		goto out;
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

	/*
	 * Commits: the first of everything inserted above, then rounds that
	 * each insert n new items and commit them.  Each commit's bandwidth
	 * is the bytes of the blocks it wrote over its wall time, from the
	 * sync request until the sync returned (durable, server included);
	 * the median of the rounds is the result.
	 */
	fs.log_level = LOG_DEBUG;	/* the commits' phases (logged once they finished) */
	for (r = 0; r < rounds; r++) {
		if (r && insert_items(&fs, r * n, (r + 1) * n, val, sizeof(val)))
			goto out;
		sfs_block_get_stats(&fs, &before);
		getrusage(RUSAGE_SELF, &ru0);
		t0 = now();
		ret = sfs_trans_sync(&fs);
		t1 = now();
		getrusage(RUSAGE_SELF, &ru1);
		sfs_block_get_stats(&fs, &after);
		if (ret) {
			fprintf(stderr, "commit: %s\n", strerror(-ret));
			goto out;
		}
		bytes = (after.writes_submitted - before.writes_submitted) * SCOUTFS_BLOCK_LG_SIZE;
		bw[r] = (double)bytes / (t1 - t0) / 1e6;
		printf("commit round %llu: %llu items, %llu bytes, %.3f s, %.1f MB/s, cpu %.3f s\n",
		       (unsigned long long)r, (unsigned long long)n, (unsigned long long)bytes,
		       t1 - t0, bw[r], tv_s(&ru1.ru_utime) + tv_s(&ru1.ru_stime) -
		       tv_s(&ru0.ru_utime) - tv_s(&ru0.ru_stime));
	}
	qsort(bw, rounds, sizeof(bw[0]), cmp_double);
	printf("commit_write_bw %.1f MB/s (median of %llu commits of %llu items)\n",
	       bw[rounds / 2], (unsigned long long)rounds, (unsigned long long)n);
	/* the commit thread logs the last phases once its waiters were woken */
	ret = sfs_trans_sync(&fs);
	fs.log_level = LOG_WARNING;
	ret = sfs_mount_unmount(&fs) ?: ret;
	return ret ? 1 : 0;
out:
	sfs_mount_destroy(&fs);
	return 1;
}
