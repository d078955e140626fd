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
 * Deltas (zone 12, xattr totals).  Their items are {total, count}
 * deltas, never deletion items, and a key's value is a sum over the
 * trees, not a winner.  This file holds the one rule for that sum
 * (sfs_forest_delta_resolve, format-spec.md 10.3), which reads and log
 * merging (merge.c) both apply:
 *
 *   S  = the running merge's STATUS seq (roots->merge_seq), 0 if none;
 *   a FINALIZED tree is an input when S == 0 or its finalize_seq < S;
 *   F  = fs_root's item (seq Fs), I = the inputs' sum (Is = the seq of
 *        the input version read last), L = every other tree's sum;
 *   value = F + I (only if F is there and Is > Fs, or F is not there
 *           and I.count > 0) + L, and 0/0 is no item.
 *
 * Why: a merge writes F + I into fs_root with the greatest seq it saw
 * and its inputs stay in logs_root until the merge finishes, so while it
 * runs a key may be merged (Fs >= Is: I is already in F) or not (Is >
 * Fs), and a key whose sum became 0/0 was deleted from fs_root (F
 * absent, and then I.count <= 0).  merge.c resolves with the same
 * function, so merging never changes what a read of a key returns.
 * Known limit, shared with the reference: while no merge runs, a
 * finalized tree whose count for a key is <= 0 over an fs_root without
 * the key is not counted until the merge that takes it starts.  That
 * needs a count moved from another mount's unfinalized tree (or an
 * injected delta) and lasts until that tree is finalized too.
 *
 * Writing deltas: the item cache adds up a transaction's deltas per key
 * (item.c), and a commit adds them to what its log tree already holds
 * for the key (sfs_forest_fold_log_deltas, for trans.c): one tree holds
 * one delta per key, the sum of everything its mount wrote there.
 *
 * Committed walks (sfs_forest_walk_committed) read the super block from
 * the meta device for their roots, as the reference's weak cache does,
 * so that fs_root, logs_root and the merge seq come from one commit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "counters.h"
#include "forest.h"
#include "log.h"
#include "text.h"

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

/* the last key under the same lock as key: reads stop there (the bloom filters are per lock) */
static struct scoutfs_key lock_end(const struct scoutfs_key *key)
{
	switch (key->sk_zone) {
	case SCOUTFS_FS_ZONE:
		return sfs_key_make(SCOUTFS_FS_ZONE,
				    le64toh(key->_sk_first) | SCOUTFS_LOCK_INODE_GROUP_MASK, UINT8_MAX,
				    UINT64_MAX, UINT64_MAX, UINT8_MAX);
	case SCOUTFS_INODE_INDEX_ZONE:
		return sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, key->sk_type,
				    le64toh(key->_sk_second) | SCOUTFS_LOCK_SEQ_GROUP_MASK, UINT64_MAX,
				    UINT8_MAX);
	default:
		return sfs_key_make(key->sk_zone, UINT64_MAX, UINT8_MAX, UINT64_MAX, UINT64_MAX,
				    UINT8_MAX);
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
	v->src = vs->src;
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
	vs->src = SFS_FOREST_SRC_FS;
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
	uint64_t merge_seq;
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

	if ((le64toh(lt->flags) & SCOUTFS_LOG_TREES_FLAG_FINALIZED) &&
	    (a->merge_seq == 0 || le64toh(lt->finalize_seq) < a->merge_seq))
		a->c->src = SFS_FOREST_SRC_INPUT;
	else
		a->c->src = SFS_FOREST_SRC_LOG;

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
	struct read_args a = { .fs = fs, .c = &c, .merge_seq = roots->merge_seq, .key = key,
			       .start = start, .end = end };
	struct scoutfs_key lock_last;
	struct scoutfs_xattr_totl_val sum;
	struct sfs_forest_version *v;
	uint64_t seq;
	size_t i, j;
	int ret;

	sfs_inc(fs, forest_read_items);
	a.lock_start = sfs_forest_lock_start(key);
	c.src = SFS_FOREST_SRC_FS;
	/*
	 * A log tree whose bloom filter says it has nothing under key's lock
	 * is skipped: what it has under other locks must not be answered
	 * for, so the read stays inside key's lock.
	 */
	lock_last = lock_end(key);
	if (sfs_key_cmp(start, &a.lock_start) < 0)
		*start = a.lock_start;
	if (sfs_key_cmp(end, &lock_last) > 0)
		*end = lock_last;

	ret = sfs_btree_read_items(fs, &roots->fs_root, key, start, end, sfs_forest_versions_add,
				   &c);
	if (ret)
		goto out;
	ret = for_each_log_tree(fs, &roots->logs_root, read_log_tree, &a);
	if (ret)
		goto out;

	sfs_forest_versions_sort(&c);
	for (i = 0; i < c.nr; i = j) {
		v = &c.v[i];
		/* v is the winner; [i, j) are the key's versions */
		for (j = i + 1; j < c.nr && sfs_key_cmp(&c.v[j].key, &v->key) == 0; j++)
			;
		if (sfs_key_cmp(&v->key, start) < 0 || sfs_key_cmp(&v->key, end) > 0)
			continue; /* outside the range every tree answered for */
		if (sfs_forest_delta_key(&v->key)) {
			ret = sfs_forest_delta_resolve(fs, &c, v, j - i, &sum, &seq);
			if (ret < 0)
				break;
			ret = ret ? cb(arg, &v->key, seq, 0, &sum, sizeof(sum)) : 0;
			if (ret)
				break;
			continue;
		}
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

/* ------------------------------------------------------------------ */
/* Deltas (zone 12)                                                     */
/* ------------------------------------------------------------------ */

void sfs_forest_delta_add(struct scoutfs_xattr_totl_val *acc,
			  const struct scoutfs_xattr_totl_val *d)
{
	acc->total = htole64(le64toh(acc->total) + le64toh(d->total));
	acc->count = htole64(le64toh(acc->count) + le64toh(d->count));
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* a delta version's value: 0, or -EIO (logged) when it cannot be one */
static int delta_val(struct sfs_fs *fs, const struct scoutfs_key *key, uint8_t flags,
		     const void *val, unsigned int val_len, struct scoutfs_xattr_totl_val *d)
{
	char kbuf[SFS_TEXT_KEY_LEN];

	if (!(flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION) && val_len == sizeof(*d)) {
		memcpy(d, val, sizeof(*d));
		return 0;
	}
	sfs_text_key(kbuf, sizeof(kbuf), key);
	sfs_err(fs, "xattr total item %s: %s", kbuf,
		(flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION) ? "a deletion item" :
							     "a value that is not 16 bytes");
	return -EIO;
}

int sfs_forest_delta_resolve(struct sfs_fs *fs, const struct sfs_forest_versions *vs,
			     const struct sfs_forest_version *v, size_t nr,
			     struct scoutfs_xattr_totl_val *sum, uint64_t *seq)
{
	struct scoutfs_xattr_totl_val f = { 0 }, in = { 0 }, lg = { 0 }, d;
	bool have_f = false, have_in = false, have_l = false;
	uint64_t f_seq = 0, in_seq = 0, in_max = 0, l_max = 0;
	uint32_t in_order = 0;
	size_t i;
	int ret;

	for (i = 0; i < nr; i++) {
		ret = delta_val(fs, &v[i].key, v[i].flags, sfs_forest_version_val(vs, &v[i]),
				v[i].val_len, &d);
		if (ret)
			return ret;
		switch (v[i].src) {
		case SFS_FOREST_SRC_FS:
			f = d;
			f_seq = v[i].seq;
			have_f = true;
			break;
		case SFS_FOREST_SRC_INPUT:
			sfs_forest_delta_add(&in, &d);
			/* Is: the seq of the input read last */
			if (!have_in || v[i].order > in_order) {
				in_order = v[i].order;
				in_seq = v[i].seq;
			}
			in_max = max_u64(in_max, v[i].seq);
			have_in = true;
			break;
		default:
			sfs_forest_delta_add(&lg, &d);
			l_max = max_u64(l_max, v[i].seq);
			have_l = true;
			break;
		}
	}

	memset(sum, 0, sizeof(*sum));
	*seq = 0;
	if (have_f) {
		*sum = f;
		*seq = f_seq;
	}
	if (have_in && ((have_f && in_seq > f_seq) ||
			(!have_f && (int64_t)le64toh(in.count) > 0))) {
		sfs_forest_delta_add(sum, &in);
		*seq = max_u64(*seq, in_max);
	}
	if (have_l) {
		sfs_forest_delta_add(sum, &lg);
		*seq = max_u64(*seq, l_max);
	}
	return sfs_forest_delta_null(sum) ? 0 : 1;
}

int sfs_forest_fold_log_deltas(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
			       struct sfs_btree_list_item *items, size_t nr, void **bufp)
{
	struct scoutfs_xattr_totl_val *vals = NULL, had;
	struct sfs_btree_item_ret *r = NULL;
	size_t i, n = 0, k = 0;
	int ret = 0;

	*bufp = NULL;
	for (i = 0; i < nr; i++)
		n += sfs_forest_delta_key(&items[i].key);
	if (n == 0 || root->height == 0)
		return 0;
	vals = malloc(n * sizeof(*vals));
	r = malloc(sizeof(*r));
	if (!vals || !r) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (!sfs_forest_delta_key(&items[i].key))
			continue;
		ret = delta_val(fs, &items[i].key, items[i].flags, items[i].val, items[i].val_len,
				&vals[k]);
		if (ret)
			goto out;
		ret = sfs_btree_lookup(fs, root, &items[i].key, r);
		if (ret == -ENOENT) {
			ret = 0;
			continue;
		}
		if (ret)
			goto out;
		ret = delta_val(fs, &r->key, r->flags, r->val, r->val_len, &had);
		if (ret)
			goto out;
		sfs_forest_delta_add(&vals[k], &had);
		items[i].val = &vals[k++];
	}
out:
	free(r);
	if (ret || k == 0)
		free(vals);
	else
		*bufp = vals;
	return ret;
}

/* ------------------------------------------------------------------ */
/* Committed walks                                                      */
/* ------------------------------------------------------------------ */

int sfs_forest_super_roots(struct sfs_fs *fs, const struct scoutfs_super_block *super,
			   struct sfs_forest_roots *roots)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_LOG_MERGE_STATUS_ZONE, 0, 0, 0, 0, 0);
	struct scoutfs_log_merge_status st;
	struct sfs_btree_item_ret *r;
	int ret;

	memset(roots, 0, sizeof(*roots));
	roots->fs_root = super->fs_root;
	roots->logs_root = super->logs_root;
	if (super->log_merge.height == 0)
		return 0;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = sfs_btree_lookup(fs, &super->log_merge, &key, r);
	if (ret == -ENOENT) {
		ret = 0;
	} else if (!ret && r->val_len != sizeof(st)) {
		sfs_err(fs, "log_merge status item of %u bytes, expected %zu", r->val_len,
			sizeof(st));
		ret = -EIO;
	} else if (!ret) {
		memcpy(&st, r->val, sizeof(st));
		roots->merge_seq = le64toh(st.seq);
	}
	free(r);
	return ret;
}

/* the roots of the super on the meta device now */
static int committed_roots(struct sfs_fs *fs, struct sfs_forest_roots *roots)
{
	struct scoutfs_super_block *super;
	int ret;

	super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!super)
		return -ENOMEM;
	ret = sfs_block_read_sm(fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO, SCOUTFS_BLOCK_MAGIC_SUPER,
				super);
	if (!ret)
		ret = sfs_forest_super_roots(fs, super, roots);
	free(super);
	return ret;
}

/* fresh roots this many times in a row before stale blocks are -EIO */
#define WALK_ATTEMPTS 5

/*
 * A window's items reach cb only once every tree was read for it, so a
 * stale block never interrupts a window half reported: the window is
 * read again with the roots of a fresh super.
 */
int sfs_forest_walk_committed(struct sfs_fs *fs, const struct scoutfs_key *start,
			      const struct scoutfs_key *last, sfs_btree_item_cb cb, void *arg)
{
	struct sfs_forest_roots roots;
	struct scoutfs_key key = *start, s, e;
	bool have_roots = false;
	int stale = 0;
	int ret;

	if (!sfs_forest_same_lock(start, last) || sfs_key_cmp(start, last) > 0)
		return -EINVAL;
	for (;;) {
		ret = have_roots ? 0 : committed_roots(fs, &roots);
		if (!ret) {
			have_roots = true;
			s = key;
			e = *last;
			ret = sfs_forest_read_items(fs, &roots, &key, &s, &e, cb, arg);
		}
		if (ret == -ESTALE && ++stale < WALK_ATTEMPTS) {
			have_roots = false;
			continue;
		}
		if (ret || sfs_key_cmp(&e, last) >= 0)
			break;
		stale = 0;
		key = e;
		sfs_key_inc(&key);
	}
	if (ret == -ESTALE) {
		sfs_err(fs, "committed walk: stale blocks after %d fresh super blocks",
			WALK_ATTEMPTS);
		ret = -EIO;
	}
	return ret;
}
