// SPDX-License-Identifier: GPL-2.0
/*
 * The copy-on-write btree against an in-memory model: a million mixed
 * operations (force, insert, update, delete, lookup, next, prev) over a
 * key space that is filled and drained in turns, so blocks split and
 * join and the tree grows and shrinks in height.  Every result is checked
 * against the model as it happens.  Transactions commit every
 * COMMIT_OPS operations (dirty blocks written, freed blocks reusable).
 * After each commit the whole tree is structurally checked (every block:
 * order, AVL links, hash table, value space accounting, refs, key ranges)
 * and the allocator is audited: the blocks the tree references are
 * exactly the blocks allocated and not freed, with no double allocation
 * or free.  At the end the block cache is dropped and the tree is read
 * back from disk and compared item by item.
 *
 * SFS_BTREE_RANDOM_OPS overrides the operation count, SFS_SEED the seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "testkeys.h"

#include "btree.h"
#include "log.h"
#include "model_alloc.h"

#define NR_KEYS 200000
#define COMMIT_OPS 50000
#define MAX_BLOCKS 60000ULL
#define PHASE_HIGH (NR_KEYS * 9 / 10)
#define PHASE_LOW (NR_KEYS / 100)

/* ---- the model ---- */

struct model {
	uint32_t list[NR_KEYS];	/* the present ids, in no order */
	uint32_t pos[NR_KEYS];	/* each present id's index in list */
	uint8_t present[NR_KEYS];
	uint16_t len[NR_KEYS];
	uint32_t ver[NR_KEYS];
	uint8_t flags[NR_KEYS];
	uint64_t nr;
};

static uint64_t rng;

static void model_add(struct model *m, uint32_t id)
{
	m->present[id] = 1;
	m->pos[id] = (uint32_t)m->nr;
	m->list[m->nr++] = id;
}

static void model_del(struct model *m, uint32_t id)
{
	uint32_t last = m->list[--m->nr];

	m->present[id] = 0;
	m->list[m->pos[id]] = last;
	m->pos[last] = m->pos[id];
}

static uint64_t rnd(void)
{
	return test_xorshift(&rng);
}

static struct scoutfs_key id_key(uint32_t id)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, id >> 3, SCOUTFS_XATTR_TYPE, (id & 7) * 1000, 0, 0);
}

static uint32_t key_id(const struct scoutfs_key *key)
{
	return (uint32_t)(le64toh(key->_sk_first) << 3 | le64toh(key->_sk_second) / 1000);
}

static void fill_val(uint8_t *buf, uint32_t id, uint32_t ver, unsigned int len)
{
	uint32_t x = id * 2654435761U ^ ver * 40503U;

	for (unsigned int i = 0; i < len; i++) {
		x = x * 1103515245U + 12345U;
		buf[i] = (uint8_t)(x >> 16);
	}
}

static unsigned int rnd_len(void)
{
	unsigned int r = (unsigned int)(rnd() % 100);

	if (r < 25)
		return (unsigned int)(rnd() % 65);
	if (r < 60)
		return 64 + (unsigned int)(rnd() % 400);
	return 400 + (unsigned int)(rnd() % (SCOUTFS_BTREE_MAX_VAL_LEN - 399));
}

static void check_item(struct model *m, uint32_t id, const struct sfs_btree_item_ret *r)
{
	uint8_t want[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key key = id_key(id);

	assert_int_equal(sfs_key_cmp(&r->key, &key), 0);
	assert_true(m->present[id]);
	assert_int_equal(r->val_len, m->len[id]);
	assert_int_equal(r->seq, m->ver[id]);
	assert_int_equal(r->flags, m->flags[id]);
	fill_val(want, id, m->ver[id], m->len[id]);
	assert_memory_equal(r->val, want, m->len[id]);
}

/* ---- the fixture ---- */

struct fixture {
	char path[64];
	struct sfs_fs fs;
	struct model_alloc ma;
	struct sfs_block_writer wri;
	struct scoutfs_btree_root root;
	struct model *m;
	uint8_t *reach;
};

static void open_blocks(struct fixture *f)
{
	struct sfs_block_opts opts = { .meta_path = f->path, .cache_bytes = 32ULL << 20 };

	sfs_fs_log_init(&f->fs, "test");
	f->fs.fsid = 0x1234;
	assert_int_equal(sfs_block_setup(&f->fs, &opts), 0);
	sfs_block_set_fsid(&f->fs, f->fs.fsid);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	strcpy(f->path, "/var/tmp/sfs-btree-random.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(MAX_BLOCKS * SCOUTFS_BLOCK_LG_SIZE)), 0);
	close(fd);
	open_blocks(f);
	model_alloc_init(&f->ma, MAX_BLOCKS);
	f->m = calloc(1, sizeof(*f->m));
	f->reach = calloc(MAX_BLOCKS, 1);
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
	unlink(f->path);
	model_alloc_destroy(&f->ma);
	free(f->m);
	free(f->reach);
	free(f);
	return 0;
}

static void reach_cb(void *arg, uint64_t blkno)
{
	uint8_t *reach = arg;

	if (blkno >= MAX_BLOCKS || reach[blkno])
		fail_msg("block %llu reached twice or out of range", (unsigned long long)blkno);
	reach[blkno] = 1;
}

/* structure of every block, item count, and allocator accounting */
static void check_all(struct fixture *f, int *height)
{
	uint64_t items, blocks, b;
	char why[256];

	memset(f->reach, 0, MAX_BLOCKS);
	if (sfs_btree_check_tree(&f->fs, &f->root, reach_cb, f->reach, &items, &blocks, why,
				 sizeof(why)))
		fail_msg("tree check: %s", why);
	assert_int_equal(items, f->m->nr);
	assert_int_equal(blocks, f->ma.used);
	for (b = 0; b < MAX_BLOCKS; b++) {
		if (f->reach[b] != (f->ma.state[b] == MA_USED))
			fail_msg("block %llu: reachable %u but allocator state %u",
				 (unsigned long long)b, f->reach[b], f->ma.state[b]);
	}
	*height = f->root.height;
}

/* every model item through an in-order walk with next */
static void compare_all(struct fixture *f)
{
	struct sfs_btree_item_ret r;
	struct scoutfs_key key;
	uint64_t seen = 0;
	uint32_t id, last = 0;
	int ret;

	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(&f->fs, &f->root, &key, &r)) == 0) {
		id = key_id(&r.key);
		assert_true(id < NR_KEYS);
		if (seen)
			assert_true(id > last);
		check_item(f->m, id, &r);
		last = id;
		seen++;
		key = r.key;
		sfs_key_inc(&key);
	}
	assert_int_equal(ret, -ENOENT);
	assert_int_equal(seen, f->m->nr);
}

static void commit(struct fixture *f)
{
	assert_int_equal(sfs_block_writer_write(&f->fs, &f->wri), 0);
	model_alloc_commit(&f->ma);
}

static void test_random(void **state)
{
	struct fixture *f = *state;
	struct model *m = f->m;
	struct sfs_btree_item_ret r;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
	struct scoutfs_key key;
	const char *env;
	uint64_t ops = 1000000, i, seed;
	uint64_t counts[8] = { 0 };
	struct sfs_btree_list_item *batch = calloc(400, sizeof(*batch));
	uint8_t *batch_vals = calloc(400, SCOUTFS_BTREE_MAX_VAL_LEN);
	bool growing = true;
	int height, max_height = 0, shrinks = 0, last_height = 0;
	unsigned int len, op, pct;
	uint32_t id, want;
	int ret;

	env = getenv("SFS_BTREE_RANDOM_OPS");
	if (env)
		ops = strtoull(env, NULL, 0);
	env = getenv("SFS_SEED");
	seed = env ? strtoull(env, NULL, 0) : 0x5eed5eed1234ULL;
	rng = seed * 2 + 1;
	print_message("  seed 0x%llx, %llu operations\n", (unsigned long long)seed,
		      (unsigned long long)ops);

	for (i = 0; i < ops; i++) {
		if (growing && m->nr >= PHASE_HIGH)
			growing = false;
		else if (!growing && m->nr <= PHASE_LOW)
			growing = true;

		pct = (unsigned int)(rnd() % 100);
		id = (uint32_t)(rnd() % NR_KEYS);
		/* mostly aim writes at absent ids while filling, deletes at present ids
		 * while draining, so both phases make progress */
		if (growing && pct < 70 && rnd() % 10)
			while (m->present[id])
				id = (uint32_t)(rnd() % NR_KEYS);
		if (!growing && pct >= 13 && pct < 80 && m->nr && rnd() % 10)
			id = m->list[rnd() % m->nr];
		key = id_key(id);
		/* filling: mostly writes; draining: mostly deletes */
		if (pct < (growing ? 60u : 5u))
			op = 0;	/* force */
		else if (pct < (growing ? 70u : 8u))
			op = 1;	/* insert */
		else if (pct < (growing ? 75u : 13u))
			op = 2;	/* update */
		else if (pct < 80u)
			op = 3;	/* delete */
		else if (pct < 90)
			op = 4;	/* lookup */
		else if (pct < 95)
			op = 5;	/* next */
		else if (pct < 99)
			op = 6;	/* prev */
		else
			op = growing ? 7 : 3; /* a sorted batch through insert_list */
		counts[op]++;

		switch (op) {
		case 0:
		case 1:
		case 2:
			len = rnd_len();
			fill_val(val, id, (uint32_t)i + 1, len);
			if (op == 0)
				ret = sfs_btree_force(&f->fs, &f->ma.alloc, &f->wri, &f->root, &key,
						      i + 1, 0, val, len);
			else if (op == 1)
				ret = sfs_btree_insert(&f->fs, &f->ma.alloc, &f->wri, &f->root, &key,
						       i + 1, 0, val, len);
			else
				ret = sfs_btree_update(&f->fs, &f->ma.alloc, &f->wri, &f->root, &key,
						       i + 1, 0, val, len);
			if (op == 1 && m->present[id]) {
				assert_int_equal(ret, -EEXIST);
				break;
			}
			if (op == 2 && !m->present[id]) {
				assert_int_equal(ret, -ENOENT);
				break;
			}
			assert_int_equal(ret, 0);
			if (!m->present[id])
				model_add(m, id);
			m->len[id] = (uint16_t)len;
			m->ver[id] = (uint32_t)i + 1;
			break;
		case 3:
			ret = sfs_btree_delete(&f->fs, &f->ma.alloc, &f->wri, &f->root, &key);
			if (!m->present[id]) {
				assert_int_equal(ret, -ENOENT);
				break;
			}
			assert_int_equal(ret, 0);
			model_del(m, id);
			break;
		case 4:
			ret = sfs_btree_lookup(&f->fs, &f->root, &key, &r);
			if (!m->present[id]) {
				assert_int_equal(ret, -ENOENT);
				break;
			}
			assert_int_equal(ret, 0);
			check_item(m, id, &r);
			break;
		case 5:
			ret = sfs_btree_next(&f->fs, &f->root, &key, &r);
			for (want = id; want < NR_KEYS && !m->present[want]; want++)
				;
			if (want == NR_KEYS) {
				assert_int_equal(ret, -ENOENT);
				break;
			}
			assert_int_equal(ret, 0);
			check_item(m, want, &r);
			break;
		case 7: {
			unsigned int n = 1 + (unsigned int)(rnd() % 400), b = 0;
			uint32_t bid = id;

			for (; b < n && bid < NR_KEYS; b++, bid += 1 + (uint32_t)(rnd() % 8)) {
				len = rnd_len();
				fill_val(batch_vals + (size_t)b * SCOUTFS_BTREE_MAX_VAL_LEN, bid,
					 (uint32_t)i + 1, len);
				batch[b].key = id_key(bid);
				batch[b].seq = i + 1;
				batch[b].flags = 0;
				batch[b].val_len = (uint16_t)len;
				batch[b].val = batch_vals + (size_t)b * SCOUTFS_BTREE_MAX_VAL_LEN;
				batch[b].bucket1 = 0;
			}
			/* half the batches come with their leaf hash buckets, as commits do */
			if (rnd() & 1)
				sfs_btree_list_hash(batch, b);
			ret = sfs_btree_insert_list(&f->fs, &f->ma.alloc, &f->wri, &f->root, batch, b);
			assert_int_equal(ret, 0);
			for (unsigned int j = 0; j < b; j++) {
				bid = key_id(&batch[j].key);
				if (!m->present[bid])
					model_add(m, bid);
				m->len[bid] = batch[j].val_len;
				m->ver[bid] = (uint32_t)i + 1;
			}
			break;
		}
		case 6:
			ret = sfs_btree_prev(&f->fs, &f->root, &key, &r);
			for (want = id + 1; want > 0 && !m->present[want - 1]; want--)
				;
			if (want == 0) {
				assert_int_equal(ret, -ENOENT);
				break;
			}
			assert_int_equal(ret, 0);
			check_item(m, want - 1, &r);
			break;
		}

		if ((i + 1) % COMMIT_OPS == 0) {
			commit(f);
			check_all(f, &height);
			if (height > max_height)
				max_height = height;
			if (height < last_height)
				shrinks++;
			last_height = height;
			if ((i + 1) % (COMMIT_OPS * 8) == 0)
				compare_all(f);
		}
	}

	commit(f);
	check_all(f, &height);
	compare_all(f);

	/* everything again from disk, through a cold cache */
	sfs_block_destroy(&f->fs);
	open_blocks(f);
	check_all(f, &height);
	compare_all(f);

	print_message("  ops: force %llu insert %llu update %llu delete %llu lookup %llu next %llu prev %llu batch %llu\n",
		      (unsigned long long)counts[0], (unsigned long long)counts[1],
		      (unsigned long long)counts[2], (unsigned long long)counts[3],
		      (unsigned long long)counts[4], (unsigned long long)counts[5],
		      (unsigned long long)counts[6], (unsigned long long)counts[7]);
	free(batch);
	free(batch_vals);
	print_message("  items %llu, blocks in use %llu, max height %d, height decreases %d\n",
		      (unsigned long long)m->nr, (unsigned long long)f->ma.used, max_height,
		      shrinks);
	if (ops >= 1000000) {
		assert_true(max_height >= 3);
		assert_true(shrinks >= 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
