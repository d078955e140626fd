// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of srch files (srch.c): entries appended to a file come
 * back, in order, through its radix; the first entries of a block encode
 * exactly as format-spec.md 11.4's worked example; a file grows block by
 * block at the safe-bytes boundary and every append copies what it
 * changes on write (the model allocator fails a double allocation or a
 * free of a block not in use).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "counters.h"
#include "log.h"
#include "model_alloc.h"
#include "srch.h"

#define MAX_BLOCKS 1024ULL

struct fixture {
	char path[64];
	struct sfs_fs fs;
	struct sfs_counters counters;
	struct model_alloc ma;
	struct sfs_block_writer wri;
};

static int setup(void **state)
{
	struct sfs_block_opts opts = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	strcpy(f->path, "/var/tmp/sfs-test-srch.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(MAX_BLOCKS * SCOUTFS_BLOCK_LG_SIZE)), 0);
	close(fd);
	sfs_fs_log_init(&f->fs, "test");
	f->fs.fsid = 0x5a5a;
	f->fs.counters = &f->counters;
	opts.meta_path = f->path;
	assert_int_equal(sfs_block_setup(&f->fs, &opts), 0);
	sfs_block_set_fsid(&f->fs, f->fs.fsid);
	model_alloc_init(&f->ma, MAX_BLOCKS);
	sfs_block_writer_init(&f->wri);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sfs_block_writer_forget(&f->fs, &f->wri);
	sfs_block_writer_destroy(&f->wri);
	sfs_block_destroy(&f->fs);
	model_alloc_destroy(&f->ma);
	unlink(f->path);
	free(f);
	return 0;
}

/* write the transaction's blocks; its frees become reusable */
static void commit(struct fixture *f)
{
	assert_int_equal(sfs_block_writer_write(&f->fs, &f->wri), 0);
	sfs_block_writer_destroy(&f->wri);
	sfs_block_writer_init(&f->wri);
	model_alloc_commit(&f->ma);
}

static struct scoutfs_srch_entry ent(uint64_t hash, uint64_t ino, uint64_t id)
{
	struct scoutfs_srch_entry e = { htole64(hash), htole64(ino), htole64(id) };

	return e;
}

struct collect {
	struct scoutfs_srch_entry *ents;
	size_t nr, max;
};

static int collect_cb(void *arg, const struct scoutfs_srch_entry *sre)
{
	struct collect *c = arg;

	assert_true(c->nr < c->max);
	c->ents[c->nr++] = *sre;
	return 0;
}

/* format-spec.md 11.4: the first three entries of a block */
static void test_worked_example(void **state)
{
	static const uint8_t want[] = {
		0x28, 0x00, 0xe9, 0x85, 0xaa, 0xfe, 0x72, 0x4f, 0x9e, 0xb7, 0x02, 0x08,
		0x10, 0x01, 0x0a, 0x06,
		0x18, 0x01, 0xea, 0xa5, 0xaa, 0xfe, 0x72, 0x4f, 0x9e, 0xb7, 0x0b, 0x03,
	};
	struct fixture *f = *state;
	struct scoutfs_srch_entry ents[3] = {
		ent(0xa430d84680aabd0bULL, 1025, 0),
		ent(0xa430d84680aabd0bULL, 1030, 3),
		ent(0x1000, 1024, 1),
	};
	struct scoutfs_srch_entry got[3];
	struct collect c = { got, 0, 3 };
	struct scoutfs_srch_file sfl = { 0 };
	const struct scoutfs_srch_block *sb;
	struct sfs_block *bl;

	assert_int_equal(sfs_srch_append(&f->fs, &f->ma.alloc, &f->wri, &sfl, ents, 3), 0);
	commit(f);
	assert_int_equal(le64toh(sfl.blocks), 1);
	assert_int_equal(le64toh(sfl.entries), 3);
	assert_int_equal(sfl.height, 1);
	assert_memory_equal(&sfl.first, &ents[2], sizeof(ents[2]));
	assert_memory_equal(&sfl.last, &ents[1], sizeof(ents[1]));

	assert_int_equal(sfs_block_read_ref(&f->fs, &sfl.ref, SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK, &bl),
			 0);
	sb = bl->data;
	assert_int_equal(le32toh(sb->entry_nr), 3);
	assert_int_equal(le32toh(sb->entry_bytes), sizeof(want));
	assert_memory_equal(sb->entries, want, sizeof(want));
	assert_memory_equal(&sb->tail, &ents[2], sizeof(ents[2]));
	assert_memory_equal(&sb->first, &ents[2], sizeof(ents[2]));
	assert_memory_equal(&sb->last, &ents[1], sizeof(ents[1]));
	sfs_block_put(&f->fs, bl);

	assert_int_equal(sfs_srch_read_file(&f->fs, &sfl, collect_cb, &c), 0);
	assert_int_equal(c.nr, 3);
	assert_memory_equal(got, ents, sizeof(ents));
}

static uint64_t rng = 1234;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int count_cb(void *arg, const struct scoutfs_srch_entry *sre)
{
	(void)sre;
	(*(size_t *)arg)++;
	return 0;
}

/*
 * Entries with random hashes (about 12 bytes each) appended over many
 * transactions fill several blocks; every one comes back in order, the
 * bounds hold, and each transaction copied the last block rather than
 * changing the committed one (the model allocator checks the frees).
 */
static void test_append_read(void **state)
{
	struct fixture *f = *state;
	const size_t nr = 30000, per = 997;
	struct scoutfs_srch_entry *ents = calloc(nr, sizeof(*ents));
	struct scoutfs_srch_entry *got = calloc(nr, sizeof(*got));
	struct collect c = { got, 0, nr };
	struct scoutfs_srch_file sfl = { 0 };
	struct scoutfs_srch_entry lo, hi;
	size_t i, n, blocks_seen = 0;
	uint64_t used_before;

	assert_non_null(ents);
	assert_non_null(got);
	for (i = 0; i < nr; i++) {
		ents[i] = ent(rnd(), 1000 + rnd() % 100000, rnd() % 50);
		if (i == 0 || sfs_srch_entry_cmp(&ents[i], &lo) < 0)
			lo = ents[i];
		if (i == 0 || sfs_srch_entry_cmp(&ents[i], &hi) > 0)
			hi = ents[i];
	}
	for (i = 0; i < nr; i += n) {
		n = nr - i < per ? nr - i : per;
		used_before = f->ma.used;
		assert_int_equal(sfs_srch_append(&f->fs, &f->ma.alloc, &f->wri, &sfl, ents + i, n),
				 0);
		/* one block more at most per new leaf; old ones replaced, not kept */
		assert_true(f->ma.used <= used_before + 2 + (le64toh(sfl.blocks) - blocks_seen));
		blocks_seen = le64toh(sfl.blocks);
		commit(f);
	}
	assert_int_equal(le64toh(sfl.entries), nr);
	assert_true(le64toh(sfl.blocks) >= 5);
	assert_int_equal(sfl.height, 2);
	assert_memory_equal(&sfl.first, &lo, sizeof(lo));
	assert_memory_equal(&sfl.last, &hi, sizeof(hi));
	/* leaves plus the one parent */
	assert_int_equal(f->ma.used, le64toh(sfl.blocks) + 1);

	assert_int_equal(sfs_srch_read_file(&f->fs, &sfl, collect_cb, &c), 0);
	assert_int_equal(c.nr, nr);
	assert_memory_equal(got, ents, nr * sizeof(*ents));

	/* a block stops at the safe boundary: none of them overflows */
	n = 0;
	assert_int_equal(sfs_srch_read_file(&f->fs, &sfl, count_cb, &n), 0);
	assert_int_equal(n, nr);
	free(ents);
	free(got);
}

static void count_block(void *arg, uint64_t blkno)
{
	(void)blkno;
	(*(uint64_t *)arg)++;
}

/* every block of a file is listed once: leaves and the parent */
static void test_file_blocks(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_srch_file sfl = { 0 };
	struct scoutfs_srch_entry e;
	uint64_t nr = 0;
	size_t i;

	for (i = 0; i < 12000; i++) {
		e = ent(rnd(), rnd(), rnd());
		assert_int_equal(sfs_srch_append(&f->fs, &f->ma.alloc, &f->wri, &sfl, &e, 1), 0);
	}
	commit(f);
	assert_true(le64toh(sfl.blocks) >= 2);
	assert_int_equal(sfs_srch_file_blocks(&f->fs, &sfl, count_block, &nr), 0);
	assert_int_equal(nr, le64toh(sfl.blocks) + 1);
}

/* a block that claims more entries than it holds does not decode */
static void test_corrupt_block(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_srch_entry e = ent(1, 2, 3), got[4];
	struct collect c = { got, 0, 4 };
	struct scoutfs_srch_file sfl = { 0 };
	struct scoutfs_srch_block *sb;
	struct sfs_block *bl;

	assert_int_equal(sfs_srch_append(&f->fs, &f->ma.alloc, &f->wri, &sfl, &e, 1), 0);
	assert_int_equal(sfs_block_read_ref(&f->fs, &sfl.ref, SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK, &bl),
			 0);
	sb = bl->data;
	sb->entry_nr = htole32(4);
	sfs_block_put(&f->fs, bl);
	commit(f);
	assert_int_equal(sfs_srch_read_file(&f->fs, &sfl, collect_cb, &c), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worked_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_block, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
