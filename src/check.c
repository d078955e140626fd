// SPDX-License-Identifier: GPL-2.0
/*
 * Whole-volume checks.
 *
 * One byte per metadata block and per data block counts how often the
 * block was found; a walk visits, from the super:
 *
 *   fs_root, logs_root, log_merge, mounted_clients, srch_root (blocks)
 *   meta_alloc[0..1]: tree blocks (meta) and free extents (meta)
 *   data_alloc: tree blocks (meta) and free extents (data)
 *   server_meta_avail/freed[0..1]: list blocks and entries (meta)
 *   every log_trees item: meta_avail/meta_freed lists, its item tree,
 *     its bloom block, data_avail/data_freed trees (meta) and extents
 *     (data), its srch log file (radix blocks, entries decoded)
 *   every srch_root item: LOG and BLOCKS files; a PENDING or BUSY
 *     compaction's lists and output file (in its DELETE phase: the
 *     input blocks it has not freed yet)
 *   every log_merge item (merge.c): a REQUEST's avail list (free) and
 *     freed list (freed) -- its root and logs_root are snapshots of
 *     trees counted elsewhere; a FREEING item's tree (blocks waiting to
 *     be freed).  A COMPLETE item never outlives the server commit that
 *     makes it; one on disk is reported.
 *
 * and at the end every block past the static area must have been found
 * exactly once.  The walk reads through the block layer, so every block
 * is also validated (crc, magic, fsid, blkno, seq) and every btree block
 * structurally checked.  It does not yet account for file data extents
 * (zone 16 type 28); volumes that have them are reported.
 *
 * The xattr index items of fs_root and of every log tree are checked too
 * (index_items): totals (zone 12) are 16-byte deltas, never deletion
 * items, and fs_root holds no total of nothing (a merge deletes a total
 * that sums to 0/0; a log tree may hold a 0/0 delta, when a commit adds
 * a delta that cancels what the tree had); index entries (zone 14) have
 * no value, and fs_root no deletion item.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "srch.h"
#include "btree.h"
#include "check.h"
#include "log.h"

struct checker {
	struct sfs_fs *fs;
	struct sfs_check_report *r;
	uint64_t total_meta, total_data;
	uint8_t *meta, *data;
	const char *what;
	int err;
};

static void problem(struct checker *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err)
		return;
	va_start(ap, fmt);
	vsnprintf(c->r->why, sizeof(c->r->why), fmt, ap);
	va_end(ap);
	c->err = -EIO;
}

static void see_meta(struct checker *c, uint64_t blkno)
{
	if (blkno < SCOUTFS_META_DEV_START_BLKNO || blkno >= c->total_meta)
		problem(c, "%s: metadata block %llu is out of range", c->what,
			(unsigned long long)blkno);
	else if (c->meta[blkno]++)
		problem(c, "%s: metadata block %llu is also used elsewhere", c->what,
			(unsigned long long)blkno);
}

static void see_data(struct checker *c, uint64_t start, uint64_t len)
{
	for (uint64_t b = start; b < start + len; b++) {
		if (b < SCOUTFS_DATA_DEV_START_BLKNO || b >= c->total_data) {
			problem(c, "%s: data block %llu is out of range", c->what,
				(unsigned long long)b);
			return;
		}
		if (c->data[b]++) {
			problem(c, "%s: data block %llu is also used elsewhere", c->what,
				(unsigned long long)b);
			return;
		}
	}
}

static void tree_block_cb(void *arg, uint64_t blkno)
{
	see_meta(arg, blkno);
}

static void tree(struct checker *c, const struct scoutfs_btree_root *root, const char *what)
{
	uint64_t items = 0, blocks = 0;
	char why[200];
	int ret;

	c->what = what;
	ret = sfs_btree_check_tree(c->fs, root, tree_block_cb, c, &items, &blocks, why,
				   sizeof(why));
	if (ret)
		problem(c, "%s: %s", what, why);
	c->r->trees++;
	c->r->tree_blocks += blocks;
	c->r->items += items;
}

static void list_cb(void *arg, uint64_t blkno, bool list_block)
{
	struct checker *c = arg;

	see_meta(c, blkno);
	(void)list_block;
}

static void list(struct checker *c, const struct scoutfs_alloc_list_head *head, const char *what,
		 bool freed)
{
	c->what = what;
	if (sfs_alloc_walk_list(c->fs, head, list_cb, c))
		problem(c, "%s: the list does not walk (see the log)", what);
	if (freed)
		c->r->meta_freed += le64toh(head->total_nr);
	else
		c->r->meta_free += le64toh(head->total_nr);
}

static void meta_extent_cb(void *arg, uint64_t start, uint64_t len)
{
	struct checker *c = arg;

	for (uint64_t b = start; b < start + len; b++)
		see_meta(c, b);
	c->r->meta_free += len;
}

static void data_extent_cb(void *arg, uint64_t start, uint64_t len)
{
	struct checker *c = arg;

	see_data(c, start, len);
	c->r->data_free += len;
}

static void extents(struct checker *c, const struct scoutfs_alloc_root *root, bool meta,
		    const char *what)
{
	char tw[128];

	snprintf(tw, sizeof(tw), "%s tree", what);
	tree(c, &root->root, tw);
	c->what = what;
	if (sfs_alloc_walk_extents(c->fs, root, meta ? meta_extent_cb : data_extent_cb, c))
		problem(c, "%s: the free extents are inconsistent (see the log)", what);
}

/* the zone 12 and 14 items of one tree (see the top of the file) */
static void index_items(struct checker *c, const struct scoutfs_btree_root *root,
			const char *what, bool fs_root)
{
	struct sfs_btree_item_ret *ir = malloc(sizeof(*ir));
	struct scoutfs_xattr_totl_val tv;
	struct scoutfs_key key = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, 0, 0, 0, 0, 0);
	bool del;
	int ret;

	if (!ir) {
		problem(c, "%s: out of memory checking xattr index items", what);
		return;
	}
	while ((ret = sfs_btree_next(c->fs, root, &key, ir)) == 0 &&
	       ir->key.sk_zone <= SCOUTFS_XATTR_INDX_ZONE) {
		del = ir->flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION;
		if (ir->key.sk_zone == SCOUTFS_XATTR_TOTL_ZONE) {
			if (!del && ir->val_len == sizeof(tv))
				memcpy(&tv, ir->val, sizeof(tv));
			if (del || ir->val_len != sizeof(tv))
				problem(c, "%s: xattr total %llu.%llu.%llu is %s", what,
					(unsigned long long)le64toh(ir->key.skxt_a),
					(unsigned long long)le64toh(ir->key.skxt_b),
					(unsigned long long)le64toh(ir->key.skxt_c),
					del ? "a deletion item" : "not 16 bytes");
			else if (fs_root && tv.total == 0 && tv.count == 0)
				problem(c, "%s: xattr total %llu.%llu.%llu of 0, 0 was not deleted",
					what, (unsigned long long)le64toh(ir->key.skxt_a),
					(unsigned long long)le64toh(ir->key.skxt_b),
					(unsigned long long)le64toh(ir->key.skxt_c));
			c->r->xattr_totals += fs_root;
		} else if (ir->key.sk_zone == SCOUTFS_XATTR_INDX_ZONE) {
			if (ir->val_len || (fs_root && del))
				problem(c, "%s: an xattr index item with %s", what,
					ir->val_len ? "a value" : "the deletion flag");
			c->r->xattr_index += fs_root && !del;
		}
		key = ir->key;
		sfs_key_inc(&key);
	}
	if (ret && ret != -ENOENT)
		problem(c, "%s: xattr index items do not read: %s", what, strerror(-ret));
	free(ir);
}

static void see_srch_block(void *arg, uint64_t blkno)
{
	see_meta(arg, blkno);
}

static int count_srch_entry(void *arg, const struct scoutfs_srch_entry *sre)
{
	(void)sre;
	(*(uint64_t *)arg)++;
	return 0;
}

/* a srch file's blocks, and its entries decode to the count it claims */
static void srch_file(struct checker *c, const struct scoutfs_srch_file *sfl, const char *what)
{
	uint64_t nr = 0;
	int ret;

	if (!sfl->ref.blkno)
		return;
	c->what = what;
	ret = sfs_srch_file_blocks(c->fs, sfl, see_srch_block, c);
	if (!ret)
		ret = sfs_srch_read_file(c->fs, sfl, count_srch_entry, &nr);
	if (ret)
		problem(c, "%s: srch file %llu does not read: %s", what,
			(unsigned long long)le64toh(sfl->ref.blkno), strerror(-ret));
	else if (nr != le64toh(sfl->entries))
		problem(c, "%s: srch file %llu holds %llu entries, says %llu", what,
			(unsigned long long)le64toh(sfl->ref.blkno), (unsigned long long)nr,
			(unsigned long long)le64toh(sfl->entries));
}

static void srch_item(struct checker *c, const struct sfs_btree_item_ret *ir)
{
	struct scoutfs_srch_compact sc;
	struct scoutfs_srch_file sfl;
	char what[96];

	snprintf(what, sizeof(what), "srch_root item type %u %llu.%llu", ir->key.sk_type,
		 (unsigned long long)le64toh(ir->key._sk_second),
		 (unsigned long long)le64toh(ir->key._sk_third));
	switch (ir->key.sk_type) {
	case SCOUTFS_SRCH_LOG_TYPE:
	case SCOUTFS_SRCH_BLOCKS_TYPE:
		if (ir->val_len != sizeof(sfl))
			break;
		memcpy(&sfl, ir->val, sizeof(sfl));
		srch_file(c, &sfl, what);
		return;
	case SCOUTFS_SRCH_PENDING_TYPE:
	case SCOUTFS_SRCH_BUSY_TYPE:
		if (ir->val_len != sizeof(sc))
			break;
		/*
		 * Compacting, its inputs are LOG or BLOCKS items of their own
		 * and the output is the job's; in the DELETE phase the output
		 * is a BLOCKS item and the inputs' blocks not yet freed are
		 * the job's (the freed ones are on its freed list).
		 */
		memcpy(&sc, ir->val, sizeof(sc));
		list(c, &sc.meta_avail, what, false);
		list(c, &sc.meta_freed, what, true);
		if (sc.flags & SCOUTFS_SRCH_COMPACT_FLAG_DELETE) {
			int i, ret = 0;

			c->what = what;
			for (i = 0; i < sc.nr && i < SCOUTFS_SRCH_COMPACT_NR && !ret; i++)
				ret = sfs_srch_input_blocks(c->fs, &sc.in[i], see_srch_block, c);
			if (ret)
				problem(c, "%s: input blocks do not read: %s", what, strerror(-ret));
		} else {
			srch_file(c, &sc.out, what);
		}
		return;
	}
	problem(c, "%s: %u bytes", what, ir->val_len);
}

static int log_trees_item(struct checker *c, const struct scoutfs_log_trees *lt)
{
	char what[96];

	snprintf(what, sizeof(what), "log tree %016llx.%llu", (unsigned long long)le64toh(lt->rid),
		 (unsigned long long)le64toh(lt->nr));
	list(c, &lt->meta_avail, what, false);
	list(c, &lt->meta_freed, what, true);
	tree(c, &lt->item_root, what);
	if (!c->err)
		index_items(c, &lt->item_root, what, false);
	if (lt->bloom_ref.blkno) {
		struct sfs_block *bl;

		c->what = what;
		if (sfs_block_read_ref(c->fs, &lt->bloom_ref, SCOUTFS_BLOCK_MAGIC_BLOOM, &bl))
			problem(c, "%s: bloom block %llu does not read", what,
				(unsigned long long)le64toh(lt->bloom_ref.blkno));
		else
			sfs_block_put(c->fs, bl);
		see_meta(c, le64toh(lt->bloom_ref.blkno));
	}
	extents(c, &lt->data_avail, false, what);
	extents(c, &lt->data_freed, false, what);
	srch_file(c, &lt->srch_file, what);
	c->r->log_trees++;
	return 0;
}

static void log_merge_item(struct checker *c, const struct sfs_btree_item_ret *ir)
{
	union {
		struct scoutfs_log_merge_request req;
		struct scoutfs_log_merge_freeing fr;
	} u;
	char what[96];

	switch (ir->key.sk_zone) {
	case SCOUTFS_LOG_MERGE_REQUEST_ZONE:
		if (ir->val_len != sizeof(u.req))
			break;
		memcpy(&u.req, ir->val, sizeof(u.req));
		snprintf(what, sizeof(what), "merge request %016llx.%llu",
			 (unsigned long long)le64toh(u.req.rid),
			 (unsigned long long)le64toh(u.req.seq));
		list(c, &u.req.meta_avail, what, false);
		list(c, &u.req.meta_freed, what, true);
		c->r->merge_requests++;
		return;
	case SCOUTFS_LOG_MERGE_FREEING_ZONE:
		if (ir->val_len != sizeof(u.fr))
			break;
		memcpy(&u.fr, ir->val, sizeof(u.fr));
		snprintf(what, sizeof(what), "merge freeing %llu",
			 (unsigned long long)le64toh(u.fr.seq));
		tree(c, &u.fr.root, what);
		c->r->merge_freeing++;
		return;
	case SCOUTFS_LOG_MERGE_COMPLETE_ZONE:
		problem(c, "log_merge: a complete item (seq %llu) outlived its commit",
			(unsigned long long)le64toh(ir->key.sklmc_seq));
		return;
	case SCOUTFS_LOG_MERGE_STATUS_ZONE:
	case SCOUTFS_LOG_MERGE_RANGE_ZONE:
		return;
	default:
		problem(c, "log_merge: an item of zone %u", ir->key.sk_zone);
		return;
	}
	problem(c, "log_merge: a zone %u item of %u bytes", ir->key.sk_zone, ir->val_len);
}

int sfs_check_volume(struct sfs_fs *fs, const struct scoutfs_super_block *super,
		     struct sfs_check_report *r)
{
	struct checker c = { .fs = fs, .r = r };
	struct sfs_btree_item_ret *ir = NULL;
	struct scoutfs_log_trees lt;
	struct scoutfs_key key;
	uint64_t b;
	int ret;
	int i;

	memset(r, 0, sizeof(*r));
	c.total_meta = le64toh(super->total_meta_blocks);
	c.total_data = le64toh(super->total_data_blocks);
	c.meta = calloc(c.total_meta ? c.total_meta : 1, 1);
	c.data = calloc(c.total_data ? c.total_data : 1, 1);
	ir = malloc(sizeof(*ir));
	if (!c.meta || !c.data || !ir) {
		ret = -ENOMEM;
		goto out;
	}

	tree(&c, &super->fs_root, "fs_root");
	if (!c.err)
		index_items(&c, &super->fs_root, "fs_root", true);
	tree(&c, &super->logs_root, "logs_root");
	tree(&c, &super->log_merge, "log_merge");
	tree(&c, &super->mounted_clients, "mounted_clients");
	tree(&c, &super->srch_root, "srch_root");
	for (i = 0; i < 2; i++) {
		extents(&c, &super->meta_alloc[i], true, i ? "meta_alloc[1]" : "meta_alloc[0]");
		list(&c, &super->server_meta_avail[i], "server_meta_avail", false);
		list(&c, &super->server_meta_freed[i], "server_meta_freed", true);
	}
	extents(&c, &super->data_alloc, false, "data_alloc");

	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(fs, &super->logs_root, &key, ir)) == 0 &&
	       ir->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		if (ir->val_len != sizeof(lt)) {
			problem(&c, "logs_root: an item of %u bytes", ir->val_len);
			break;
		}
		memcpy(&lt, ir->val, sizeof(lt));
		log_trees_item(&c, &lt);
		key = ir->key;
		sfs_key_inc(&key);
	}
	if (ret && ret != -ENOENT)
		goto out;

	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(fs, &super->log_merge, &key, ir)) == 0) {
		log_merge_item(&c, ir);
		key = ir->key;
		sfs_key_inc(&key);
	}
	if (ret && ret != -ENOENT)
		goto out;

	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(fs, &super->srch_root, &key, ir)) == 0) {
		srch_item(&c, ir);
		key = ir->key;
		sfs_key_inc(&key);
	}
	if (ret && ret != -ENOENT)
		goto out;

	for (b = SCOUTFS_META_DEV_START_BLKNO; b < c.total_meta && !c.err; b++) {
		if (c.meta[b] == 0)
			problem(&c, "metadata block %llu is neither free nor used (leaked)",
				(unsigned long long)b);
	}
	for (b = SCOUTFS_DATA_DEV_START_BLKNO; b < c.total_data && !c.err; b++) {
		if (c.data[b] == 0)
			problem(&c, "data block %llu is neither free nor used (leaked)",
				(unsigned long long)b);
	}
	ret = c.err;
out:
	free(c.meta);
	free(c.data);
	free(ir);
	return ret;
}
