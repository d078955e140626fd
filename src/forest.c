// SPDX-License-Identifier: GPL-2.0
/*
 * The forest: reads that merge fs_root with every mount's log btrees.
 *
 * Model (format-spec.md 10.3): every item in a log tree carries the seq
 * of the transaction (or lock write_seq) it was written under; items
 * merged into fs_root keep theirs.  A read of a key range gathers the
 * versions from fs_root and from each log tree in (rid, nr) order and
 * keeps, per key, the one with the greatest seq (the first read wins a
 * tie), then drops keys whose winner is a deletion item.  A log tree
 * whose bloom block lacks any of the three bits of the covering lock's
 * start key cannot hold items under that lock and is not read; neither
 * is a tree without a bloom block (it has no items).
 *
 * Ranges: each tree is read one leaf at a time, and a leaf covers a key
 * range; the range a forest read answers for is the intersection of the
 * ranges every tree's leaf covered.  Within it the read is complete, so
 * the item cache may remember that no other keys exist there.
 *
 * Invariants:
 *  1. Only keys inside the final [start, end] are reported.
 *  2. A reported item is the greatest-seq version over every tree read.
 *  3. The roots are used as given: a stale block anywhere is -ESTALE
 *     from the block layer and the caller retries with new roots.
 *
 * Not yet: summing xattr totl deltas (zone 12) across trees, which comes
 * with the xattr indices.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "counters.h"
#include "forest.h"
#include "log.h"

struct scoutfs_key sfs_forest_lock_start(const struct scoutfs_key *key)
{
	switch (key->sk_zone) {
	case SCOUTFS_FS_ZONE:
		return sfs_key_make(SCOUTFS_FS_ZONE,
				    le64toh(key->_sk_first) & ~SCOUTFS_LOCK_INODE_GROUP_MASK, 0, 0, 0,
				    0);
	case SCOUTFS_INODE_INDEX_ZONE:
		return sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, key->sk_type,
				    le64toh(key->_sk_second) & ~SCOUTFS_LOCK_SEQ_GROUP_MASK, 0, 0);
	case SCOUTFS_ORPHAN_ZONE:
		return sfs_key_make(SCOUTFS_ORPHAN_ZONE, 0, SCOUTFS_ORPHAN_TYPE, 0, 0, 0);
	default:
		return sfs_key_make(key->sk_zone, 0, 0, 0, 0, 0);
	}
}

bool sfs_forest_same_lock(const struct scoutfs_key *a, const struct scoutfs_key *b)
{
	if (a->sk_zone != b->sk_zone)
		return false;
	switch (a->sk_zone) {
	case SCOUTFS_FS_ZONE:
		return ((le64toh(a->_sk_first) ^ le64toh(b->_sk_first)) &
			~SCOUTFS_LOCK_INODE_GROUP_MASK) == 0;
	case SCOUTFS_INODE_INDEX_ZONE:
		return a->sk_type == b->sk_type &&
		       ((le64toh(a->_sk_second) ^ le64toh(b->_sk_second)) &
			~SCOUTFS_LOCK_SEQ_GROUP_MASK) == 0;
	default:
		return true;
	}
}

/* ------------------------------------------------------------------ */
/* Bloom blocks                                                         */
/* ------------------------------------------------------------------ */

static bool bit_test(const struct scoutfs_bloom_block *bb, uint32_t nr)
{
	const uint8_t *bytes = (const uint8_t *)bb->bits;

	return bytes[nr / 8] & (1U << (nr % 8));
}

int sfs_forest_bloom_test(struct sfs_fs *fs, const struct scoutfs_block_ref *ref,
			  const struct scoutfs_key *lock_start, bool *maybe)
{
	uint32_t nrs[SCOUTFS_BLOOM_NRS];
	struct sfs_block *bl;
	int ret;
	int i;

	*maybe = false;
	if (!ref->blkno)
		return 0;
	ret = sfs_block_read_ref(fs, ref, SCOUTFS_BLOCK_MAGIC_BLOOM, &bl);
	if (ret)
		return ret;
	sfs_bloom_nrs(lock_start, nrs);
	*maybe = true;
	for (i = 0; i < SCOUTFS_BLOOM_NRS; i++)
		if (!bit_test(bl->data, nrs[i]))
			*maybe = false;
	sfs_block_put(fs, bl);
	return 0;
}

static uint64_t bloom_seq(void)
{
	uint64_t seq;

	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint64_t)(uintptr_t)&seq;
	return seq;
}

int sfs_forest_bloom_set(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			 struct scoutfs_block_ref *ref, const struct scoutfs_key *lock_start)
{
	struct scoutfs_bloom_block *bb;
	struct sfs_block *old = NULL, *bl;
	uint32_t nrs[SCOUTFS_BLOOM_NRS];
	uint64_t blkno, set;
	uint8_t *bytes;
	int ret;
	int i;

	if (ref->blkno) {
		ret = sfs_block_read_ref(fs, ref, SCOUTFS_BLOCK_MAGIC_BLOOM, &old);
		if (ret)
			return ret;
		if (sfs_block_writer_dirty(wri, old)) {
			bl = old;
			old = NULL;
			goto set;
		}
	}

	ret = sfs_alloc_meta(fs, alloc, wri, &blkno);
	if (ret)
		goto out;
	bl = sfs_block_writer_new(fs, wri, blkno);
	if (!bl) {
		ret = -ENOMEM;
		goto out;
	}
	bb = bl->data;
	if (old)
		memcpy(bb, old->data, SCOUTFS_BLOCK_LG_SIZE);
	bb->hdr.magic = htole32(SCOUTFS_BLOCK_MAGIC_BLOOM);
	bb->hdr.fsid = htole64(fs->fsid);
	bb->hdr.seq = htole64(bloom_seq());
	bb->hdr.blkno = htole64(blkno);
	if (old) {
		ret = sfs_free_meta(fs, alloc, wri, old->blkno);
		if (ret) {
			sfs_block_put(fs, bl);
			goto out;
		}
	}
	ref->blkno = bb->hdr.blkno;
	ref->seq = bb->hdr.seq;
set:
	bb = bl->data;
	bytes = (uint8_t *)bb->bits;
	sfs_bloom_nrs(lock_start, nrs);
	set = 0;
	for (i = 0; i < SCOUTFS_BLOOM_NRS; i++) {
		if (!bit_test(bb, nrs[i])) {
			bytes[nrs[i] / 8] |= (uint8_t)(1U << (nrs[i] % 8));
			set++;
		}
	}
	bb->total_set = htole64(le64toh(bb->total_set) + set);
	sfs_inc(fs, forest_set_bloom_bits);
	sfs_block_put(fs, bl);
	ret = 0;
out:
	sfs_block_put(fs, old);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Merged reads                                                         */
/* ------------------------------------------------------------------ */

int sfs_forest_versions_add(void *arg, const struct scoutfs_key *key, uint64_t seq,
			    uint8_t flags, const void *val, unsigned int val_len)
{
	struct sfs_forest_versions *vs = arg;
	struct sfs_forest_version *v;
	void *p;

	if (vs->nr == vs->cap) {
		p = realloc(vs->v, (vs->cap ? vs->cap * 2 : 256) * sizeof(*vs->v));
		if (!p)
			return -ENOMEM;
		vs->v = p;
		vs->cap = vs->cap ? vs->cap * 2 : 256;
	}
	if (vs->vals_len + val_len > vs->vals_cap) {
		size_t cap = vs->vals_cap ? vs->vals_cap * 2 : 65536;

		while (cap < vs->vals_len + val_len)
			cap *= 2;
		p = realloc(vs->vals, cap);
		if (!p)
			return -ENOMEM;
		vs->vals = p;
		vs->vals_cap = cap;
	}
	v = &vs->v[vs->nr++];
	v->key = *key;
	v->seq = seq;
	v->order = vs->order;
	v->flags = flags;
	v->val_len = (uint16_t)val_len;
	v->val_off = (uint32_t)vs->vals_len;
	if (val_len)
		memcpy(vs->vals + vs->vals_len, val, val_len);
	vs->vals_len += val_len;
	return 0;
}

/* key ascending; within a key the winner first: greatest seq, then first read */
static int cmp_version(const void *a, const void *b)
{
	const struct sfs_forest_version *x = a, *y = b;
	int c = sfs_key_cmp(&x->key, &y->key);

	if (c)
		return c;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

void sfs_forest_versions_sort(struct sfs_forest_versions *vs)
{
	if (vs->nr)
		qsort(vs->v, vs->nr, sizeof(*vs->v), cmp_version);
}

void sfs_forest_versions_reset(struct sfs_forest_versions *vs)
{
	vs->nr = 0;
	vs->vals_len = 0;
	vs->order = 0;
}

void sfs_forest_versions_free(struct sfs_forest_versions *vs)
{
	free(vs->v);
	free(vs->vals);
	memset(vs, 0, sizeof(*vs));
}

/* every log_trees item of logs_root, in key order, through cb */
static int for_each_log_tree(struct sfs_fs *fs, const struct scoutfs_btree_root *logs_root,
			     int (*cb)(void *arg, const struct scoutfs_log_trees *lt), void *arg)
{
	struct sfs_btree_item_ret *r;
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	int ret;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(fs, logs_root, &key, r)) == 0) {
		if (r->key.sk_zone != SCOUTFS_LOG_TREES_ZONE) {
			ret = -ENOENT;
			break;
		}
		if (r->val_len != sizeof(lt)) {
			sfs_err(fs, "logs_root item %llu.%llu: value of %u bytes, expected %zu",
				(unsigned long long)le64toh(r->key.sklt_rid),
				(unsigned long long)le64toh(r->key.sklt_nr), r->val_len,
				sizeof(lt));
			ret = -EIO;
			break;
		}
		memcpy(&lt, r->val, sizeof(lt));
		ret = cb(arg, &lt);
		if (ret)
			break;
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	return ret == -ENOENT ? 0 : ret;
}

struct read_args {
	struct sfs_fs *fs;
	struct sfs_forest_versions *c;
	struct scoutfs_key lock_start;
	const struct scoutfs_key *key;
	struct scoutfs_key *start;
	struct scoutfs_key *end;
};

static int read_log_tree(void *arg, const struct scoutfs_log_trees *lt)
{
	struct read_args *a = arg;
	bool maybe;
	int ret;

	if (lt->item_root.height == 0 || lt->bloom_ref.blkno == 0)
		return 0;
	ret = sfs_forest_bloom_test(a->fs, &lt->bloom_ref, &a->lock_start, &maybe);
	if (ret)
		return ret;
	if (!maybe) {
		sfs_inc(a->fs, forest_bloom_fail);
		return 0;
	}
	sfs_inc(a->fs, forest_bloom_pass);
	sfs_inc(a->fs, forest_trees_read);
	a->c->order++;
	return sfs_btree_read_items(a->fs, &lt->item_root, a->key, a->start, a->end,
				    sfs_forest_versions_add, a->c);
}

int sfs_forest_read_items(struct sfs_fs *fs, const struct sfs_forest_roots *roots,
			  const struct scoutfs_key *key, struct scoutfs_key *start,
			  struct scoutfs_key *end, sfs_btree_item_cb cb, void *arg)
{
	struct sfs_forest_versions c = { 0 };
	struct read_args a = { .fs = fs, .c = &c, .key = key, .start = start, .end = end };
	struct sfs_forest_version *v;
	size_t i;
	int ret;

	sfs_inc(fs, forest_read_items);
	a.lock_start = sfs_forest_lock_start(key);

	ret = sfs_btree_read_items(fs, &roots->fs_root, key, start, end, sfs_forest_versions_add,
				   &c);
	if (ret)
		goto out;
	ret = for_each_log_tree(fs, &roots->logs_root, read_log_tree, &a);
	if (ret)
		goto out;

	sfs_forest_versions_sort(&c);
	for (i = 0; i < c.nr; i++) {
		v = &c.v[i];
		if (i > 0 && sfs_key_cmp(&v->key, &c.v[i - 1].key) == 0)
			continue; /* an older version */
		if (sfs_key_cmp(&v->key, start) < 0 || sfs_key_cmp(&v->key, end) > 0)
			continue; /* outside the range every tree answered for */
		if (v->flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION)
			continue;
		ret = cb(arg, &v->key, v->seq, v->flags, sfs_forest_version_val(&c, v), v->val_len);
		if (ret)
			break;
	}
out:
	sfs_forest_versions_free(&c);
	return ret;
}

static int lookup_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		     const void *val, unsigned int val_len)
{
	struct sfs_btree_item_ret *ret = arg;

	ret->key = *key;
	ret->seq = seq;
	ret->flags = flags;
	ret->val_len = (uint16_t)val_len;
	if (val_len)
		memcpy(ret->val, val, val_len);
	return 1;
}

int sfs_forest_lookup(struct sfs_fs *fs, const struct sfs_forest_roots *roots,
		      const struct scoutfs_key *key, struct sfs_btree_item_ret *ret)
{
	struct scoutfs_key start = *key, end = *key;
	int err;

	err = sfs_forest_read_items(fs, roots, key, &start, &end, lookup_cb, ret);
	if (err == 1)
		return 0;
	return err ? err : -ENOENT;
}
