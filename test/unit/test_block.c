// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the block layer (src/block.c).
 *
 * Every test works on its own sparse image files made with mkstemp under
 * $TMPDIR (or /tmp) and removed by the teardown.  Log lines are captured
 * through fs->log_fn at debug level so tests can check that errors name
 * the block number.  Blocks written behind the layer's back (corruption,
 * wrong headers) go through a separate plain fd with pwrite.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "block.h"
#include "log.h"

#define LG SCOUTFS_BLOCK_LG_SIZE
#define SM SCOUTFS_BLOCK_SM_SIZE
#define TEST_FSID 0x1234abcd5678ef01ULL
#define IMG_BLOCKS 256ULL /* default image size in LG blocks */

/* ------------------------------------------------------------------ */
/* Fixture: images, an fs, captured log lines                           */
/* ------------------------------------------------------------------ */

#define CAP_LINES 256
#define CAP_LEN 512

struct capture {
	pthread_mutex_t lock;
	int nr;
	int prios[CAP_LINES];
	char lines[CAP_LINES][CAP_LEN];
};

struct tfx {
	char meta_path[PATH_MAX];
	char data_path[PATH_MAX];
	struct sfs_fs fs;
	struct capture cap;
};

static void capture_fn(void *arg, int prio, const char *line)
{
	struct capture *cap = arg;

	pthread_mutex_lock(&cap->lock);
	if (cap->nr < CAP_LINES) {
		cap->prios[cap->nr] = prio;
		snprintf(cap->lines[cap->nr++], CAP_LEN, "%s", line);
	}
	pthread_mutex_unlock(&cap->lock);
}

static void cap_clear(struct capture *cap)
{
	pthread_mutex_lock(&cap->lock);
	cap->nr = 0;
	pthread_mutex_unlock(&cap->lock);
}

/* a captured line of priority prio or more urgent containing both a and b */
static bool cap_has_prio(struct capture *cap, int prio, const char *a, const char *b)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&cap->lock);
	for (i = 0; i < cap->nr && !found; i++)
		found = cap->prios[i] <= prio && strstr(cap->lines[i], a) &&
			(!b || strstr(cap->lines[i], b));
	pthread_mutex_unlock(&cap->lock);
	return found;
}

static bool cap_has(struct capture *cap, const char *a, const char *b)
{
	return cap_has_prio(cap, LOG_DEBUG, a, b);
}

/* what an operator sees: an error line */
static bool cap_has_err(struct capture *cap, const char *a, const char *b)
{
	return cap_has_prio(cap, LOG_ERR, a, b);
}

static void cap_dump(struct capture *cap)
{
	int i;

	for (i = 0; i < cap->nr; i++)
		print_message("  log: %s\n", cap->lines[i]);
}

static const char *tmpdir(void)
{
	const char *d = getenv("TMPDIR");

	return d && d[0] ? d : "/tmp";
}

/* a sparse image file of size bytes; its path in path */
static void make_image(char *path, size_t size_path, off_t size)
{
	int fd;

	snprintf(path, size_path, "%s/test_block.XXXXXX", tmpdir());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void fs_init(struct tfx *t)
{
	memset(&t->fs, 0, sizeof(t->fs));
	sfs_fs_log_init(&t->fs, "test_block");
	t->fs.log_level = LOG_DEBUG;
	t->fs.log_fn = capture_fn;
	t->fs.log_arg = &t->cap;
}

static int fx_setup(void **state)
{
	struct tfx *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	pthread_mutex_init(&t->cap.lock, NULL);
	make_image(t->meta_path, sizeof(t->meta_path), (off_t)(IMG_BLOCKS * LG));
	make_image(t->data_path, sizeof(t->data_path), (off_t)(IMG_BLOCKS * LG));
	fs_init(t);
	*state = t;
	return 0;
}

static int fx_teardown(void **state)
{
	struct tfx *t = *state;

	sfs_block_destroy(&t->fs);
	unlink(t->meta_path);
	unlink(t->data_path);
	pthread_mutex_destroy(&t->cap.lock);
	free(t);
	return 0;
}

/* (re)open the images with a fresh, empty cache */
static int open_block(struct tfx *t, size_t cache_bytes, bool with_data)
{
	struct sfs_block_opts opts = {
		.meta_path = t->meta_path,
		.data_path = with_data ? t->data_path : NULL,
		.cache_bytes = cache_bytes,
	};
	int ret;

	sfs_block_destroy(&t->fs);
	ret = sfs_block_setup(&t->fs, &opts);
	if (ret)
		cap_dump(&t->cap);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Block contents                                                       */
/* ------------------------------------------------------------------ */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* header plus a payload that depends on blkno and seq */
static void fill_block(void *data, uint64_t blkno, uint64_t seq, uint32_t magic)
{
	struct scoutfs_block_header *hdr = data;
	uint64_t s = blkno * 0x9E3779B97F4A7C15ULL ^ seq ^ 1;
	uint64_t *p = data;
	size_t i;

	for (i = sizeof(*hdr) / 8; i < LG / 8; i++)
		p[i] = xorshift(&s);
	hdr->crc = 0;
	hdr->magic = htole32(magic);
	hdr->fsid = htole64(TEST_FSID);
	hdr->seq = htole64(seq);
	hdr->blkno = htole64(blkno);
}

static bool block_ok(const void *data, uint64_t blkno, uint64_t seq)
{
	const struct scoutfs_block_header *hdr = data;
	uint64_t s = blkno * 0x9E3779B97F4A7C15ULL ^ seq ^ 1;
	const uint64_t *p = data;
	size_t i;

	if (le64toh(hdr->blkno) != blkno || le64toh(hdr->seq) != seq)
		return false;
	for (i = sizeof(*hdr) / 8; i < LG / 8; i++) {
		if (p[i] != xorshift(&s))
			return false;
	}
	return true;
}

static uint64_t seq_for(uint64_t blkno, uint64_t salt)
{
	uint64_t s = blkno * 31 + salt + 7;

	return xorshift(&s) | 1;
}

/* write LG blocks [first, first + nr) through the layer */
static void write_range(struct tfx *t, uint64_t first, int nr, uint64_t salt)
{
	struct sfs_block **bls = calloc(nr, sizeof(bls[0]));
	int i;

	assert_non_null(bls);
	for (i = 0; i < nr; i++) {
		bls[i] = sfs_block_new(&t->fs, first + i);
		assert_non_null(bls[i]);
		fill_block(bls[i]->data, first + i, seq_for(first + i, salt),
			   SCOUTFS_BLOCK_MAGIC_BTREE);
	}
	assert_int_equal(sfs_block_write_blocks(&t->fs, bls, nr), 0);
	for (i = 0; i < nr; i++)
		sfs_block_put(&t->fs, bls[i]);
	free(bls);
}

/* a raw block image at byte offset off, behind the layer's back */
static void raw_write(const char *path, const void *buf, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static void raw_write_block(const char *path, uint64_t pos, uint64_t hdr_blkno, uint64_t seq,
			    uint32_t magic)
{
	void *buf = sfs_block_alloc_buf(LG);
	struct scoutfs_block_header *hdr = buf;

	assert_non_null(buf);
	fill_block(buf, hdr_blkno, seq, magic);
	hdr->crc = htole32(sfs_block_crc(buf, LG));
	raw_write(path, buf, LG, (off_t)(pos * LG));
	free(buf);
}

static void flip_bit(const char *path, off_t off, int bit)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= (unsigned char)(1U << bit);
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static struct scoutfs_block_ref mkref(uint64_t blkno, uint64_t seq)
{
	struct scoutfs_block_ref ref = {
		.blkno = htole64(blkno),
		.seq = htole64(seq),
	};

	return ref;
}

/* ------------------------------------------------------------------ */
/* 1. batches are in flight together and round-trip                     */
/* ------------------------------------------------------------------ */

#define BATCH 64

static void test_batch_roundtrip(void **state)
{
	struct tfx *t = *state;
	struct scoutfs_block_ref refs[BATCH];
	struct sfs_block *bls[BATCH];
	struct sfs_block_stats st;
	int errs[BATCH];
	int i;

	assert_int_equal(open_block(t, 0, false), 0);
	print_message("  meta image %s: O_DIRECT %s\n", t->meta_path,
		      sfs_block_dev_direct(&t->fs, SFS_DEV_META) ? "yes" : "no (fallback)");
	assert_int_equal(sfs_block_dev_size(&t->fs, SFS_DEV_META), IMG_BLOCKS * LG);
	assert_int_equal(sfs_block_dev_size(&t->fs, SFS_DEV_DATA), 0);

	write_range(t, 10, BATCH, 1);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.writes_submitted, BATCH);
	assert_true(st.max_in_flight > 1);
	print_message("  write batch: max_in_flight %llu\n", (unsigned long long)st.max_in_flight);

	/* a fresh cache: every block comes from the device in one batch */
	assert_int_equal(open_block(t, 0, false), 0);
	for (i = 0; i < BATCH; i++)
		refs[i] = mkref(10 + i, seq_for(10 + i, 1));
	assert_int_equal(
		sfs_block_read_refs(&t->fs, refs, BATCH, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs), 0);
	for (i = 0; i < BATCH; i++) {
		assert_int_equal(errs[i], 0);
		assert_non_null(bls[i]);
		assert_int_equal(bls[i]->blkno, 10 + i);
		assert_true(((uintptr_t)bls[i]->data & (SM - 1)) == 0);
		assert_true(block_ok(bls[i]->data, 10 + i, seq_for(10 + i, 1)));
	}
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.cache_misses, BATCH);
	assert_int_equal(st.reads_submitted, BATCH);
	assert_true(st.max_in_flight > 1);
	assert_int_equal(st.cache_bytes, (uint64_t)BATCH * LG);
	print_message("  read batch: max_in_flight %llu\n", (unsigned long long)st.max_in_flight);

	for (i = 0; i < BATCH; i++)
		sfs_block_put(&t->fs, bls[i]);

	/* again: all cached */
	assert_int_equal(
		sfs_block_read_refs(&t->fs, refs, BATCH, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs), 0);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.cache_hits, BATCH);
	assert_int_equal(st.reads_submitted, BATCH);
	for (i = 0; i < BATCH; i++) {
		assert_true(block_ok(bls[i]->data, 10 + i, seq_for(10 + i, 1)));
		sfs_block_put(&t->fs, bls[i]);
	}
}

/* a batch bigger than the ring still completes, in order */
static void test_batch_larger_than_ring(void **state)
{
	struct tfx *t = *state;
	struct sfs_block_opts opts = {
		.meta_path = t->meta_path,
		.queue_depth = 4,
	};
	struct scoutfs_block_ref refs[40];
	struct sfs_block *bls[40];
	struct sfs_block_stats st;
	int errs[40];
	int i;

	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	write_range(t, 100, 40, 2);
	sfs_block_get_stats(&t->fs, &st);
	assert_true(st.max_in_flight <= 4);
	assert_true(st.max_in_flight > 1);
	sfs_block_destroy(&t->fs);

	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	for (i = 0; i < 40; i++)
		refs[i] = mkref(100 + i, seq_for(100 + i, 2));
	assert_int_equal(
		sfs_block_read_refs(&t->fs, refs, 40, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs), 0);
	for (i = 0; i < 40; i++) {
		assert_true(block_ok(bls[i]->data, 100 + i, seq_for(100 + i, 2)));
		sfs_block_put(&t->fs, bls[i]);
	}
}

/* ------------------------------------------------------------------ */
/* 2. several threads reading and writing at once                       */
/* ------------------------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 24
#define ROUNDS 4

struct thr {
	struct tfx *t;
	struct thr *all; /* every thread's struct, for the readers */
	int id;
	int failures;
	uint64_t seqs[PER_THREAD]; /* what each of our blocks holds now */
};

static uint64_t thr_blkno(int id, int i)
{
	return 2 + (uint64_t)id * PER_THREAD + i;
}

/* phase 1: each thread rewrites its own blocks with new seqs and reads them */
static void *writer_thread(void *arg)
{
	struct thr *th = arg;
	struct sfs_fs *fs = &th->t->fs;
	struct sfs_block *bls[PER_THREAD];
	struct sfs_block *bl;
	struct scoutfs_block_ref ref;
	uint64_t blkno;
	int round;
	int i;

	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < PER_THREAD; i++) {
			blkno = thr_blkno(th->id, i);
			th->seqs[i] = seq_for(blkno, 1000 + round * 100 + th->id);
			bls[i] = sfs_block_new(fs, blkno);
			if (!bls[i]) {
				th->failures++;
				return NULL;
			}
			fill_block(bls[i]->data, blkno, th->seqs[i], SCOUTFS_BLOCK_MAGIC_BTREE);
		}
		/* two batches of half each */
		if (sfs_block_write_blocks(fs, bls, PER_THREAD / 2) ||
		    sfs_block_write_blocks(fs, bls + PER_THREAD / 2, PER_THREAD / 2))
			th->failures++;
		for (i = 0; i < PER_THREAD; i++)
			sfs_block_put(fs, bls[i]);
		if (sfs_block_flush(fs, SFS_DEV_META))
			th->failures++;

		for (i = 0; i < PER_THREAD; i++) {
			blkno = thr_blkno(th->id, i);
			ref = mkref(blkno, th->seqs[i]);
			if (sfs_block_read_ref(fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl)) {
				th->failures++;
				continue;
			}
			if (!block_ok(bl->data, blkno, th->seqs[i]))
				th->failures++;
			sfs_block_put(fs, bl);
		}
	}
	return NULL;
}

/* phase 2: every thread reads everyone's blocks, overlapping, via a small cache */
static void *reader_thread(void *arg)
{
	struct thr *th = arg;
	struct sfs_fs *fs = &th->t->fs;
	struct scoutfs_block_ref refs[8];
	struct sfs_block *bls[8];
	uint64_t want[8];
	uint64_t s = (uint64_t)th->id + 99;
	int errs[8];
	int other;
	int round;
	int idx;
	int i;

	for (round = 0; round < 40; round++) {
		for (i = 0; i < 8; i++) {
			other = (int)(xorshift(&s) % THREADS);
			idx = (int)(xorshift(&s) % PER_THREAD);
			want[i] = th->all[other].seqs[idx];
			refs[i] = mkref(thr_blkno(other, idx), want[i]);
		}
		if (sfs_block_read_refs(fs, refs, 8, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs))
			th->failures++;
		for (i = 0; i < 8; i++) {
			if (!bls[i]) {
				th->failures++;
				continue;
			}
			if (!block_ok(bls[i]->data, le64toh(refs[i].blkno), want[i]))
				th->failures++;
			sfs_block_put(fs, bls[i]);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct tfx *t = *state;
	struct sfs_block_stats st;
	pthread_t tids[THREADS];
	struct thr thrs[THREADS];
	int i;

	assert_true(2 + THREADS * PER_THREAD <= IMG_BLOCKS);
	assert_int_equal(open_block(t, 0, false), 0);

	memset(thrs, 0, sizeof(thrs));
	for (i = 0; i < THREADS; i++) {
		thrs[i].t = t;
		thrs[i].all = thrs;
		thrs[i].id = i;
		assert_int_equal(pthread_create(&tids[i], NULL, writer_thread, &thrs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(tids[i], NULL);
		assert_int_equal(thrs[i].failures, 0);
	}
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.writes_submitted, THREADS * PER_THREAD * ROUNDS);
	assert_int_equal(st.flushes, THREADS * ROUNDS);
	print_message("  writers: max_in_flight %llu\n", (unsigned long long)st.max_in_flight);

	/* a cache of 16 blocks so reads race with evictions and each other */
	assert_int_equal(open_block(t, 16 * LG, false), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&tids[i], NULL, reader_thread, &thrs[i]), 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(tids[i], NULL);
		assert_int_equal(thrs[i].failures, 0);
	}
	sfs_block_get_stats(&t->fs, &st);
	assert_true(st.cache_bytes <= 16 * LG);
	assert_int_equal(st.crc_errors, 0);
	assert_int_equal(st.stale_errors, 0);
	print_message("  readers: hits %llu misses %llu evictions %llu max_in_flight %llu\n",
		      (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
		      (unsigned long long)st.cache_evictions, (unsigned long long)st.max_in_flight);
}

/* ------------------------------------------------------------------ */
/* 3. a flipped bit is -EIO, logged with the block number               */
/* ------------------------------------------------------------------ */

static void test_crc_flip(void **state)
{
	struct tfx *t = *state;
	struct scoutfs_block_ref ref = mkref(1234, seq_for(1234, 3));
	struct sfs_block_stats st;
	struct sfs_block *bl = (void *)1;

	/* the image must hold block 1234 */
	assert_int_equal(truncate(t->meta_path, 1300LL * LG), 0);
	assert_int_equal(open_block(t, 0, false), 0);
	write_range(t, 1234, 1, 3);

	/* the block is cached; once it is read fresh the flip is found */
	flip_bit(t->meta_path, 1234LL * LG + 40000, 3);
	assert_int_equal(open_block(t, 0, false), 0);
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -EIO);
	assert_null(bl);
	cap_dump(&t->cap);
	assert_true(cap_has_err(&t->cap, "meta block 1234:", "crc mismatch"));

	/* the failing copy was dropped and read again once */
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.crc_errors, 1);
	assert_int_equal(st.cache_misses, 2);
	assert_int_equal(st.reads_submitted, 2);
	assert_int_equal(st.cache_bytes, 0);

	/* a flip in the crc field itself, and in the header, are found too */
	flip_bit(t->meta_path, 1234LL * LG + 40000, 3);
	flip_bit(t->meta_path, 1234LL * LG + 1, 0);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -EIO);
	flip_bit(t->meta_path, 1234LL * LG + 1, 0);
	flip_bit(t->meta_path, 1234LL * LG + 17, 6);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -EIO);
	flip_bit(t->meta_path, 1234LL * LG + 17, 6);

	/* and once repaired it reads */
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_true(block_ok(bl->data, 1234, seq_for(1234, 3)));
	sfs_block_put(&t->fs, bl);
}

/* ------------------------------------------------------------------ */
/* 4. stale references                                                  */
/* ------------------------------------------------------------------ */

static void test_stale(void **state)
{
	struct tfx *t = *state;
	uint64_t seq = seq_for(7, 4);
	struct scoutfs_block_ref ref = mkref(7, seq);
	struct scoutfs_block_ref bad;
	struct sfs_block_stats before;
	struct sfs_block_stats st;
	struct sfs_block *bl;

	assert_int_equal(open_block(t, 0, false), 0);
	write_range(t, 7, 1, 4);
	sfs_block_set_fsid(&t->fs, TEST_FSID);

	/* fresh, so the good read comes from disk */
	assert_int_equal(open_block(t, 0, false), 0);
	sfs_block_set_fsid(&t->fs, TEST_FSID);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	sfs_block_put(&t->fs, bl);

	/* wrong seq: the cached copy is dropped and the block read once more */
	sfs_block_get_stats(&t->fs, &before);
	bad = mkref(7, seq + 1);
	cap_clear(&t->cap);
	bl = (void *)1;
	assert_int_equal(sfs_block_read_ref(&t->fs, &bad, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -ESTALE);
	assert_null(bl);
	assert_true(cap_has(&t->cap, "meta block 7:", "seq"));
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.cache_hits, before.cache_hits + 1);
	assert_int_equal(st.cache_misses, before.cache_misses + 1);
	assert_int_equal(st.stale_errors, 1);
	assert_int_equal(st.crc_errors, 0);

	/* wrong magic */
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_ALLOC_LIST, &bl),
			 -ESTALE);
	assert_true(cap_has(&t->cap, "meta block 7:", "magic"));

	/* wrong fsid */
	sfs_block_set_fsid(&t->fs, TEST_FSID + 1);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -ESTALE);
	assert_true(cap_has(&t->cap, "meta block 7:", "fsid"));
	sfs_block_set_fsid(&t->fs, TEST_FSID);

	/* a valid block whose header says 8, stored at 9 */
	raw_write_block(t->meta_path, 9, 8, seq, SCOUTFS_BLOCK_MAGIC_BTREE);
	bad = mkref(9, seq);
	assert_int_equal(sfs_block_read_ref(&t->fs, &bad, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -ESTALE);
	assert_true(cap_has(&t->cap, "meta block 9:", "blkno 8"));
	assert_int_equal(sfs_block_read_blkno(&t->fs, 9, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -ESTALE);

	/* read_blkno does not check the seq */
	assert_int_equal(sfs_block_read_blkno(&t->fs, 7, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	sfs_block_put(&t->fs, bl);

	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.stale_errors, 5);
	assert_int_equal(st.crc_errors, 0);

	/* the good reference still reads after all that */
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_true(block_ok(bl->data, 7, seq));
	sfs_block_put(&t->fs, bl);

	/* a reference into the reserved area is refused */
	bad = mkref(1, seq);
	assert_int_equal(sfs_block_read_ref(&t->fs, &bad, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -EIO);
}

/* a stale cached copy is replaced by the block now on disk */
static void test_stale_cache_refetch(void **state)
{
	struct tfx *t = *state;
	uint64_t seq1 = seq_for(20, 5);
	uint64_t seq2 = seq_for(20, 6);
	struct scoutfs_block_ref ref1 = mkref(20, seq1);
	struct scoutfs_block_ref ref2 = mkref(20, seq2);
	struct sfs_block *bl;

	assert_int_equal(open_block(t, 0, false), 0);
	write_range(t, 20, 1, 5);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref1, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	sfs_block_put(&t->fs, bl);

	/* another host rewrites the block */
	raw_write_block(t->meta_path, 20, 20, seq2, SCOUTFS_BLOCK_MAGIC_BTREE);

	assert_int_equal(sfs_block_read_ref(&t->fs, &ref2, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_true(block_ok(bl->data, 20, seq2));
	sfs_block_put(&t->fs, bl);
	/* and now the old reference is the stale one */
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref1, SCOUTFS_BLOCK_MAGIC_BTREE, &bl),
			 -ESTALE);
}

/* ------------------------------------------------------------------ */
/* 5. the device ends in the middle of a block                          */
/* ------------------------------------------------------------------ */

static void test_short_device(void **state)
{
	struct tfx *t = *state;
	uint64_t size = 3ULL * LG + 10000;
	struct scoutfs_block_ref ref;
	struct sfs_block_stats before;
	struct sfs_block_stats st;
	struct sfs_block *bl;
	void *buf;

	assert_int_equal(truncate(t->meta_path, (off_t)size), 0);
	raw_write_block(t->meta_path, 2, 2, 1, SCOUTFS_BLOCK_MAGIC_BTREE);
	/* block 3 is half there: 10000 bytes of a valid-looking start */
	raw_write_block(t->meta_path, 3, 3, 1, SCOUTFS_BLOCK_MAGIC_BTREE);
	assert_int_equal(truncate(t->meta_path, (off_t)size), 0);

	assert_int_equal(open_block(t, 0, false), 0);
	assert_int_equal(sfs_block_dev_size(&t->fs, SFS_DEV_META), size);

	assert_int_equal(sfs_block_read_blkno(&t->fs, 2, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	sfs_block_put(&t->fs, bl);

	cap_clear(&t->cap);
	ref = mkref(3, 1);
	bl = (void *)1;
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -EIO);
	assert_null(bl);
	cap_dump(&t->cap);
	assert_true(cap_has_err(&t->cap, "meta block 3:", "short read"));

	/* entirely past the end: refused before anything is submitted */
	sfs_block_get_stats(&t->fs, &before);
	cap_clear(&t->cap);
	ref = mkref(10, 1);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), -EIO);
	assert_true(cap_has_err(&t->cap, "meta block 10:", "past the device end"));
	assert_int_equal(sfs_block_read_blkno(&t->fs, 1000000, SCOUTFS_BLOCK_MAGIC_BTREE, &bl),
			 -EIO);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.reads_submitted, before.reads_submitted);

	/* raw reads: past the end refused, across the end short */
	buf = sfs_block_alloc_buf(LG);
	assert_non_null(buf);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_META, buf, SM, 4ULL * LG), -EIO);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_META, buf, LG, 3ULL * LG), -EIO);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_META, buf, 2 * SM, 3ULL * LG), 0);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* 6. the cache stays within its bound; held blocks survive              */
/* ------------------------------------------------------------------ */

#define BOUND_BLOCKS 4
#define BOUND_READS 32

static void test_cache_bound(void **state)
{
	struct tfx *t = *state;
	struct scoutfs_block_ref ref;
	struct sfs_block_stats st;
	struct sfs_block *held;
	struct sfs_block *bl;
	int i;

	assert_int_equal(open_block(t, 0, false), 0);
	write_range(t, 2, BOUND_READS, 7);

	assert_int_equal(open_block(t, BOUND_BLOCKS * LG, false), 0);
	ref = mkref(2, seq_for(2, 7));
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &held), 0);

	for (i = 1; i < BOUND_READS; i++) {
		ref = mkref(2 + i, seq_for(2 + i, 7));
		assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl),
				 0);
		assert_true(block_ok(bl->data, 2 + i, seq_for(2 + i, 7)));
		sfs_block_put(&t->fs, bl);
		sfs_block_get_stats(&t->fs, &st);
		assert_true(st.cache_bytes <= BOUND_BLOCKS * LG);
	}
	sfs_block_get_stats(&t->fs, &st);
	assert_true(st.cache_evictions >= BOUND_READS - BOUND_BLOCKS);
	assert_int_equal(st.cache_misses, BOUND_READS);

	/* the held block was never evicted: still valid, still a hit */
	assert_true(block_ok(held->data, 2, seq_for(2, 7)));
	ref = mkref(2, seq_for(2, 7));
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_ptr_equal(bl, held);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.cache_misses, BOUND_READS);
	sfs_block_put(&t->fs, bl);

	/* an extra get keeps it across a put */
	sfs_block_get(held);
	sfs_block_put(&t->fs, held);
	assert_true(block_ok(held->data, 2, seq_for(2, 7)));
	sfs_block_put(&t->fs, held);

	/* nothing referenced: everything can go below the bound */
	for (i = 0; i < BOUND_READS; i++) {
		ref = mkref(2 + i, seq_for(2 + i, 7));
		assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl),
				 0);
		sfs_block_put(&t->fs, bl);
	}
	sfs_block_get_stats(&t->fs, &st);
	assert_true(st.cache_bytes <= BOUND_BLOCKS * LG);
}

/* sfs_block_new replaces a cached copy; dirty blocks are not evicted */
static void test_new_replaces(void **state)
{
	struct tfx *t = *state;
	struct scoutfs_block_ref ref = mkref(30, seq_for(30, 8));
	struct sfs_block *old;
	struct sfs_block *new;
	struct sfs_block *bl;
	int i;

	assert_int_equal(open_block(t, 2 * LG, false), 0);
	write_range(t, 30, 1, 8);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &old), 0);

	new = sfs_block_new(&t->fs, 30);
	assert_non_null(new);
	assert_ptr_not_equal(new, old);
	fill_block(new->data, 30, seq_for(30, 9), SCOUTFS_BLOCK_MAGIC_BTREE);
	/* the old holder's copy is untouched */
	assert_true(block_ok(old->data, 30, seq_for(30, 8)));
	sfs_block_put(&t->fs, old);

	/* the unwritten new block is what the cache has now */
	ref = mkref(30, seq_for(30, 9));
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_ptr_equal(bl, new);
	sfs_block_put(&t->fs, bl);

	/* even unreferenced and over the bound, a dirty block stays */
	sfs_block_put(&t->fs, new);
	write_range(t, 40, 4, 8);
	for (i = 0; i < 4; i++) {
		struct scoutfs_block_ref r = mkref(40 + i, seq_for(40 + i, 8));

		assert_int_equal(sfs_block_read_ref(&t->fs, &r, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
		sfs_block_put(&t->fs, bl);
	}
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_true(block_ok(bl->data, 30, seq_for(30, 9)));
	assert_int_equal(sfs_block_write_blocks(&t->fs, &bl, 1), 0);
	sfs_block_put(&t->fs, bl);

	/* and once written it is on disk */
	assert_int_equal(open_block(t, 0, false), 0);
	assert_int_equal(sfs_block_read_ref(&t->fs, &ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_true(block_ok(bl->data, 30, seq_for(30, 9)));
	sfs_block_put(&t->fs, bl);

	/* a header that does not match the block number is refused */
	bl = sfs_block_new(&t->fs, 31);
	assert_non_null(bl);
	fill_block(bl->data, 32, 1, SCOUTFS_BLOCK_MAGIC_BTREE);
	assert_int_equal(sfs_block_write_blocks(&t->fs, &bl, 1), -EINVAL);
	sfs_block_put(&t->fs, bl);
	assert_null(sfs_block_new(&t->fs, 1));
}

/* ------------------------------------------------------------------ */
/* 7. SM blocks                                                         */
/* ------------------------------------------------------------------ */

static void make_super(void *buf, uint64_t blkno, uint32_t magic)
{
	struct scoutfs_super_block super;

	memset(buf, 0, SM);
	memset(&super, 0, sizeof(super));
	super.hdr.magic = htole32(magic);
	super.hdr.fsid = htole64(TEST_FSID);
	super.hdr.seq = htole64(1);
	super.hdr.blkno = htole64(blkno);
	super.fmt_vers = htole64(2);
	memcpy(buf, &super, sizeof(super));
}

static void test_sm_roundtrip(void **state)
{
	struct tfx *t = *state;
	unsigned char *mem = malloc(2 * SM + 1);
	unsigned char *buf = mem + 1; /* deliberately unaligned */
	unsigned char *out = mem + 1 + SM;
	struct sfs_block_stats st;
	uint32_t crc;

	assert_non_null(mem);
	assert_int_equal(open_block(t, 0, true), 0);

	make_super(buf, SCOUTFS_SUPER_BLKNO, SCOUTFS_BLOCK_MAGIC_SUPER);
	assert_int_equal(sfs_block_write_sm(&t->fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO, buf), 0);
	memcpy(&crc, buf, sizeof(crc));
	assert_int_equal(le32toh(crc), sfs_block_crc(buf, SM));
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_SUPER, out),
			 0);
	assert_memory_equal(buf, out, SM);

	/* the data device's super, independently */
	make_super(buf, SCOUTFS_SUPER_BLKNO, SCOUTFS_BLOCK_MAGIC_SUPER);
	buf[100] = 0x5a;
	assert_int_equal(sfs_block_write_sm(&t->fs, SFS_DEV_DATA, SCOUTFS_SUPER_BLKNO, buf), 0);
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_DATA, SCOUTFS_SUPER_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_SUPER, out),
			 0);
	assert_memory_equal(buf, out, SM);

	/* the super is not fsid-checked, quorum blocks are */
	sfs_block_set_fsid(&t->fs, TEST_FSID + 1);
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_SUPER, out),
			 0);
	make_super(buf, SCOUTFS_QUORUM_BLKNO, SCOUTFS_BLOCK_MAGIC_QUORUM);
	assert_int_equal(sfs_block_write_sm(&t->fs, SFS_DEV_META, SCOUTFS_QUORUM_BLKNO, buf), 0);
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_META, SCOUTFS_QUORUM_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_QUORUM, out),
			 -ESTALE);
	sfs_block_set_fsid(&t->fs, TEST_FSID);
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_META, SCOUTFS_QUORUM_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_QUORUM, out),
			 0);

	/* wrong magic, wrong blkno */
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_QUORUM, out),
			 -ESTALE);
	assert_int_equal(sfs_block_write_sm(&t->fs, SFS_DEV_META, 18, buf), 0);
	assert_int_equal(
		sfs_block_read_sm(&t->fs, SFS_DEV_META, 18, SCOUTFS_BLOCK_MAGIC_QUORUM, out),
		-ESTALE);

	/* a flipped bit in the padding after the structure is corruption too */
	flip_bit(t->meta_path, SCOUTFS_SUPER_BLKNO * SM + 3000, 1);
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_SUPER, out),
			 -EIO);
	cap_dump(&t->cap);
	assert_true(cap_has_err(&t->cap, "meta sm block 16:", "crc mismatch"));
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.crc_errors, 1);

	/* no data device opened: -ENODEV */
	assert_int_equal(open_block(t, 0, false), 0);
	assert_int_equal(sfs_block_read_sm(&t->fs, SFS_DEV_DATA, SCOUTFS_SUPER_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_SUPER, out),
			 -ENODEV);

	free(mem);
}

/* sfs_block_check on buffers in memory, as tools use it on vectors */
static void test_check_in_memory(void **state)
{
	struct tfx *t = *state;
	void *blk = sfs_block_alloc_buf(LG);
	struct scoutfs_block_header *hdr = blk;

	assert_non_null(blk);
	fill_block(blk, 55, 66, SCOUTFS_BLOCK_MAGIC_BLOOM);
	hdr->crc = htole32(sfs_block_crc(blk, LG));
	assert_int_equal(
		sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BLOOM, TEST_FSID, 55, 66), 0);
	assert_int_equal(sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BLOOM, 0, 0, 0), 0);
	assert_int_equal(sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BTREE, 0, 0, 0),
			 -ESTALE);
	assert_int_equal(sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BLOOM, 1, 0, 0),
			 -ESTALE);
	assert_int_equal(sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BLOOM, 0, 56, 0),
			 -ESTALE);
	assert_int_equal(sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BLOOM, 0, 0, 67),
			 -ESTALE);
	((unsigned char *)blk)[LG - 1] ^= 0x80;
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_check(&t->fs, blk, LG, SCOUTFS_BLOCK_MAGIC_BLOOM, 0, 0, 0),
			 -EIO);
	assert_true(cap_has_err(&t->cap, "block 55:", "crc mismatch"));
	free(blk);
}

/* ------------------------------------------------------------------ */
/* 8. flush, raw I/O, setup errors, destroy                             */
/* ------------------------------------------------------------------ */

static void test_flush(void **state)
{
	struct tfx *t = *state;
	struct sfs_block_stats st;

	assert_int_equal(open_block(t, 0, true), 0);
	write_range(t, 2, 4, 10);
	assert_int_equal(sfs_block_flush(&t->fs, SFS_DEV_META), 0);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(sfs_block_flush(&t->fs, SFS_DEV_DATA), 0);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.flushes, 2);

	assert_int_equal(open_block(t, 0, false), 0);
	assert_int_equal(sfs_block_flush(&t->fs, SFS_DEV_DATA), -ENODEV);
}

static void test_raw_io(void **state)
{
	struct tfx *t = *state;
	size_t len = 3 * LG + 5 * SM;
	unsigned char *buf = sfs_block_alloc_buf(len);
	unsigned char *out = sfs_block_alloc_buf(len);
	size_t i;

	assert_non_null(buf);
	assert_non_null(out);
	assert_int_equal(open_block(t, 0, true), 0);
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + 3);

	assert_int_equal(sfs_block_pwrite(&t->fs, SFS_DEV_DATA, buf, len, 64 * SM), 0);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_DATA, out, len, 64 * SM), 0);
	assert_memory_equal(buf, out, len);

	/* unaligned offset, length or buffer */
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_DATA, out, len, 64 * SM + 512), -EINVAL);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_DATA, out, 100, 64 * SM), -EINVAL);
	assert_int_equal(sfs_block_pwrite(&t->fs, SFS_DEV_DATA, buf + 1, SM, 64 * SM), -EINVAL);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_DATA, out, 0, 64 * SM), 0);

	/* an image file grows when written past its end */
	assert_int_equal(sfs_block_pwrite(&t->fs, SFS_DEV_DATA, buf, SM, IMG_BLOCKS * LG), 0);
	assert_int_equal(sfs_block_dev_size(&t->fs, SFS_DEV_DATA), IMG_BLOCKS * LG + SM);
	assert_int_equal(sfs_block_pread(&t->fs, SFS_DEV_DATA, out, SM, IMG_BLOCKS * LG), 0);
	assert_memory_equal(buf, out, SM);

	free(buf);
	free(out);
}

static void test_read_only(void **state)
{
	struct tfx *t = *state;
	struct sfs_block_opts opts = {
		.meta_path = t->meta_path,
		.read_only = true,
	};
	struct sfs_block *bl;
	void *buf = sfs_block_alloc_buf(SM);

	assert_non_null(buf);
	assert_int_equal(open_block(t, 0, false), 0);
	write_range(t, 5, 1, 11);
	sfs_block_destroy(&t->fs);

	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	assert_int_equal(sfs_block_read_blkno(&t->fs, 5, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_int_equal(sfs_block_write_blocks(&t->fs, &bl, 1), -EROFS);
	sfs_block_put(&t->fs, bl);
	assert_int_equal(sfs_block_write_sm(&t->fs, SFS_DEV_META, 16, buf), -EROFS);
	assert_int_equal(sfs_block_pwrite(&t->fs, SFS_DEV_META, buf, SM, 0), -EROFS);
	free(buf);
}

static void test_setup_errors(void **state)
{
	struct tfx *t = *state;
	char missing[PATH_MAX + 32];
	char dir[PATH_MAX];
	struct sfs_block_opts opts = {0};

	snprintf(missing, sizeof(missing), "%s.does-not-exist", t->meta_path);
	snprintf(dir, sizeof(dir), "%s/test_block_dir.XXXXXX", tmpdir());
	assert_non_null(mkdtemp(dir));

	/* a missing meta path */
	opts.meta_path = missing;
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), -ENOENT);
	assert_null(t->fs.block);
	assert_true(cap_has_err(&t->cap, missing, "No such file"));

	/* a good meta path and a missing data path: nothing left behind */
	opts.meta_path = t->meta_path;
	opts.data_path = missing;
	assert_int_equal(sfs_block_setup(&t->fs, &opts), -ENOENT);
	assert_null(t->fs.block);

	/* a directory */
	opts.meta_path = dir;
	opts.data_path = NULL;
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), -EISDIR);
	assert_true(cap_has_err(&t->cap, dir, "directory"));

	/* a character device */
	opts.meta_path = "/dev/null";
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), -ENOTBLK);
	assert_true(cap_has_err(&t->cap, "/dev/null", "not a block device"));

	/* no path at all */
	opts.meta_path = NULL;
	assert_int_equal(sfs_block_setup(&t->fs, &opts), -EINVAL);
	assert_null(t->fs.block);

	/* calls without a set up state fail cleanly */
	assert_int_equal(sfs_block_flush(&t->fs, SFS_DEV_META), -ENODEV);
	assert_int_equal(sfs_block_dev_size(&t->fs, SFS_DEV_META), 0);
	assert_null(sfs_block_new(&t->fs, 5));

	/* destroy twice, and setup twice */
	sfs_block_destroy(&t->fs);
	sfs_block_destroy(&t->fs);
	opts.meta_path = t->meta_path;
	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), -EBUSY);
	sfs_block_destroy(&t->fs);
	sfs_block_destroy(&t->fs);
	assert_null(t->fs.block);

	rmdir(dir);
}

/* an image that cannot be opened O_DIRECT falls back to buffered I/O */
static void test_direct_fallback(void **state)
{
	struct tfx *t = *state;
	struct sfs_block_opts opts = {0};
	char path[PATH_MAX];
	struct sfs_block *bl;
	int fd;

	/* tmpfs refused O_DIRECT before Linux 6.6; elsewhere this test only smoke-tests */
	snprintf(path, sizeof(path), "/dev/shm/test_block.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		skip();
	assert_int_equal(ftruncate(fd, 16 * LG), 0);
	close(fd);

	opts.meta_path = path;
	cap_clear(&t->cap);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	if (!sfs_block_dev_direct(&t->fs, SFS_DEV_META))
		assert_true(cap_has(&t->cap, path, "O_DIRECT"));
	else
		print_message("  %s supports O_DIRECT; no fallback to see\n", path);
	write_range(t, 3, 2, 12);
	sfs_block_destroy(&t->fs);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	assert_int_equal(sfs_block_read_blkno(&t->fs, 4, SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	assert_true(block_ok(bl->data, 4, seq_for(4, 12)));
	sfs_block_put(&t->fs, bl);
	sfs_block_destroy(&t->fs);
	unlink(path);
}

/* a device full of random bytes: errors, never a crash */
static void test_garbage(void **state)
{
	struct tfx *t = *state;
	struct scoutfs_block_ref refs[32];
	struct sfs_block *bls[32];
	unsigned char *buf = malloc(LG);
	uint64_t s = 12345;
	int errs[32];
	size_t j;
	int i;

	assert_non_null(buf);
	for (i = 2; i < 34; i++) {
		for (j = 0; j < LG; j += 8) {
			uint64_t v = xorshift(&s);

			memcpy(buf + j, &v, 8);
		}
		raw_write(t->meta_path, buf, LG, (off_t)i * LG);
	}
	free(buf);

	assert_int_equal(open_block(t, 0, false), 0);
	sfs_block_set_fsid(&t->fs, TEST_FSID);
	for (i = 0; i < 32; i++)
		refs[i] = mkref(2 + i, (uint64_t)i);
	assert_int_equal(
		sfs_block_read_refs(&t->fs, refs, 32, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs), -EIO);
	for (i = 0; i < 32; i++) {
		assert_null(bls[i]);
		assert_int_equal(errs[i], -EIO);
	}
	/* garbage references: reserved area, far past the end, duplicates */
	refs[0] = mkref(0, 0);
	refs[1] = mkref(~0ULL, 1);
	refs[2] = mkref((1ULL << 48) + 2, 1); /* wraps to block 2's offset */
	refs[3] = mkref(5, 1);
	refs[4] = mkref(5, 1);
	assert_int_equal(sfs_block_read_refs(&t->fs, refs, 5, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs),
			 -EIO);
	for (i = 0; i < 5; i++)
		assert_null(bls[i]);
	assert_int_equal(sfs_block_read_refs(&t->fs, refs, 0, SCOUTFS_BLOCK_MAGIC_BTREE, bls, errs),
			 0);
}


/* ------------------------------------------------------------------ */
/* Writers: writes started early                                        */
/* ------------------------------------------------------------------ */

#define WBLOCKS 64

/* new blocks [first, first + WBLOCKS) dirty in wri, filled for salt */
static void writer_fill(struct tfx *t, struct sfs_block_writer *wri, uint64_t first,
			uint64_t salt, struct sfs_block **bls)
{
	int i;

	for (i = 0; i < WBLOCKS; i++) {
		bls[i] = sfs_block_writer_new(&t->fs, wri, first + i);
		assert_non_null(bls[i]);
		fill_block(bls[i]->data, first + i, seq_for(first + i, salt),
			   SCOUTFS_BLOCK_MAGIC_BTREE);
		assert_true(sfs_block_writer_dirty(wri, bls[i]));
	}
}

static void check_on_disk(struct tfx *t, uint64_t first, uint64_t salt)
{
	struct scoutfs_block_ref refs[WBLOCKS];
	struct sfs_block *bls[WBLOCKS];
	int errs[WBLOCKS];
	int i;

	assert_int_equal(open_block(t, 0, false), 0);
	for (i = 0; i < WBLOCKS; i++)
		refs[i] = mkref(first + i, seq_for(first + i, salt));
	assert_int_equal(sfs_block_read_refs(&t->fs, refs, WBLOCKS, SCOUTFS_BLOCK_MAGIC_BTREE,
					     bls, errs), 0);
	for (i = 0; i < WBLOCKS; i++) {
		assert_int_equal(errs[i], 0);
		assert_true(block_ok(bls[i]->data, first + i, seq_for(first + i, salt)));
		sfs_block_put(&t->fs, bls[i]);
	}
}

/*
 * Blocks started early are written once, sealed (no longer dirty for
 * copy-on-write), and end up on disk with the rest of their writer's.
 */
static void test_writer_start(void **state)
{
	struct tfx *t = *state;
	struct sfs_block *bls[WBLOCKS];
	struct sfs_block_writer wri;
	struct sfs_block_stats st;
	int i;

	assert_int_equal(open_block(t, 0, false), 0);
	sfs_block_writer_init(&wri);
	writer_fill(t, &wri, 20, 3, bls);
	for (i = 0; i < WBLOCKS / 2; i++) {
		sfs_block_writer_start(&t->fs, &wri, bls[i]);
		assert_true(bls[i]->write_started);
		assert_false(sfs_block_writer_dirty(&wri, bls[i]));
		/* twice is once */
		sfs_block_writer_start(&t->fs, &wri, bls[i]);
	}
	assert_true(sfs_block_writer_dirty(&wri, bls[WBLOCKS / 2]));
	assert_int_equal(sfs_block_writer_write(&t->fs, &wri), 0);
	assert_int_equal(wri.nr, 0);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.writes_submitted, WBLOCKS);
	for (i = 0; i < WBLOCKS; i++) {
		assert_null(bls[i]->writer);
		assert_false(bls[i]->write_started);
		sfs_block_put(&t->fs, bls[i]);
	}
	sfs_block_writer_destroy(&wri);
	check_on_disk(t, 20, 3);
}

/* forgetting a writer waits for its started writes before dropping the blocks */
static void test_writer_start_forget(void **state)
{
	struct tfx *t = *state;
	struct sfs_block *bls[WBLOCKS];
	struct sfs_block_writer wri;
	struct sfs_block *bl;
	int i;

	assert_int_equal(open_block(t, 0, false), 0);
	sfs_block_writer_init(&wri);
	writer_fill(t, &wri, 100, 5, bls);
	for (i = 0; i < WBLOCKS; i++) {
		sfs_block_writer_start(&t->fs, &wri, bls[i]);
		sfs_block_put(&t->fs, bls[i]);
	}
	sfs_block_writer_forget(&t->fs, &wri);
	assert_int_equal(wri.nr, 0);
	sfs_block_writer_destroy(&wri);
	/* forgotten blocks are not cached: a read goes to the device */
	assert_int_equal(sfs_block_read_ref(&t->fs, &(struct scoutfs_block_ref){
							 .blkno = htole64(100),
							 .seq = htole64(seq_for(100, 5)) },
					    SCOUTFS_BLOCK_MAGIC_BTREE, &bl), 0);
	sfs_block_put(&t->fs, bl);
}

#ifdef SFS_DEBUG_CHECKS
/* debug builds catch a block that changed after its write started */
static void test_writer_start_changed(void **state)
{
	struct tfx *t = *state;
	struct sfs_block *bls[WBLOCKS];
	struct sfs_block_writer wri;
	int i;

	assert_int_equal(open_block(t, 0, false), 0);
	cap_clear(&t->cap);
	sfs_block_writer_init(&wri);
	writer_fill(t, &wri, 40, 9, bls);
	sfs_block_writer_start(&t->fs, &wri, bls[7]);
	((char *)bls[7]->data)[LG - 1] ^= 1;
	assert_int_equal(sfs_block_writer_write(&t->fs, &wri), -EIO);
	assert_true(cap_has_err(&t->cap, "meta block 47:", "changed after its write started"));
	/* still dirty, nothing sealed: a rewrite of the fixed block works */
	assert_int_equal(wri.nr, WBLOCKS);
	assert_false(bls[7]->write_started);
	fill_block(bls[7]->data, 47, seq_for(47, 9), SCOUTFS_BLOCK_MAGIC_BTREE);
	assert_int_equal(sfs_block_writer_write(&t->fs, &wri), 0);
	for (i = 0; i < WBLOCKS; i++)
		sfs_block_put(&t->fs, bls[i]);
	sfs_block_writer_destroy(&wri);
	check_on_disk(t, 40, 9);
}
#endif

/* buffers come from arenas: prefilled up to the cache bound, then recycled */
static void test_buffer_arenas(void **state)
{
	struct tfx *t = *state;
	struct sfs_block_opts opts = {
		.meta_path = t->meta_path,
		.cache_bytes = 8 << 20,
		.prefill = true,
	};
	struct sfs_block_stats st;
	struct sfs_block *bl;
	int tries;

	sfs_block_destroy(&t->fs);
	assert_int_equal(sfs_block_setup(&t->fs, &opts), 0);
	/* the prefill runs in the background: wait for it to reach the bound */
	for (tries = 0; tries < 500; tries++) {
		sfs_block_get_stats(&t->fs, &st);
		if (st.buf_arenas_fresh == 4)
			break;
		usleep(10000);
	}
	assert_int_equal(st.buf_arenas_fresh, 4);
	assert_int_equal(st.buf_arenas, 0);

	bl = sfs_block_new(&t->fs, 30);
	assert_non_null(bl);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.buf_arenas_fresh, 3);
	assert_int_equal(st.buf_arenas, 1);
	sfs_block_invalidate(&t->fs, bl);
	sfs_block_put(&t->fs, bl);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.buf_free, 1);

	/* a recycled buffer is zeroed for a new block */
	bl = sfs_block_new(&t->fs, 31);
	assert_non_null(bl);
	sfs_block_get_stats(&t->fs, &st);
	assert_int_equal(st.buf_free, 0);
	assert_true(((uint64_t *)bl->data)[LG / 8 - 1] == 0 && ((uint64_t *)bl->data)[0] == 0);
	sfs_block_put(&t->fs, bl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_roundtrip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_larger_than_ring, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_threads, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_crc_flip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_cache_refetch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_short_device, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cache_bound, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_new_replaces, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sm_roundtrip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_check_in_memory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_flush, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_raw_io, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_read_only, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_setup_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_direct_fallback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_garbage, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_start, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_start_forget, fx_setup, fx_teardown),
#ifdef SFS_DEBUG_CHECKS
		cmocka_unit_test_setup_teardown(test_writer_start_changed, fx_setup, fx_teardown),
#endif
		cmocka_unit_test_setup_teardown(test_buffer_arenas, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
