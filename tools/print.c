// SPDX-License-Identifier: GPL-2.0
/*
 * scoutfs print: every metadata structure reachable from the meta super,
 * as text, in the reference tool's order and format (text.c has the
 * formats; this file has the walks).
 *
 * Order of output (the reference's):
 *   super; quorum blocks 0..14; btrees mounted_clients, log_merge; alloc
 *   lists server_meta_avail[0..1], server_meta_freed[0..1]; btrees
 *   meta_alloc[0..1], data_alloc (unless -i/-r/-S without -a); btrees
 *   srch_root, logs_root; the srch files of every srch_root item (-r srch);
 *   for every logs_root item its lists, data_avail/data_freed trees, srch
 *   file and item tree (-r logs); btree fs_root (-r fs).
 *
 * Btrees print level by level from the root down, each level's blocks in
 * key order, each block followed by its items in key order: we walk them
 * breadth first, keeping the next level's child refs in key order.
 *
 * Invariants:
 *  1. Every block is read through the block layer, so crc, magic, fsid,
 *     blkno and seq are checked against the reference; btree blocks also
 *     pass sfs_btree_block_verify() with the level the walk expects, and
 *     every leaf item passes sfs_text_validate_item().
 *  2. A block that fails is reported on stderr ("scoutfs print: <what>
 *     blkno N: <reason>"), is not printed, and its subtree is skipped; the
 *     rest is still printed and the exit status is 1.
 *  3. Walks terminate on any input: btree levels strictly decrease from a
 *     root height of at most 20, srch radix heights are at most 7, and a
 *     block met twice within one walk (a cycle or a shared subtree) is
 *     reported and not followed again.
 *  4. The nested walks (srch files, log trees) use the srch_root and
 *     logs_root leaf values collected while those trees were printed, so
 *     no block is read or reported twice.
 *
 * Exit status: 0, 1 when anything failed validation or could not be read,
 * 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scoutfs/format.h"
#include "block.h"
#include "btree.h"
#include "cmd.h"
#include "log.h"
#include "sfs.h"
#include "text.h"

#define ULL(x) ((unsigned long long)(x))
#define LE64(x) ULL(le64toh(x))

#define USAGE "usage: scoutfs print [-S] [-a] [-i ITEMS] [-r ROOTS] META-DEVICE"

/* FS item kinds -i can select */
enum {
	ITEM_INODE = 1 << 0,
	ITEM_XATTR = 1 << 1,
	ITEM_DIRENT = 1 << 2,	/* dirent and readdir */
	ITEM_SYMLINK = 1 << 3,
	ITEM_BACKREF = 1 << 4,
	ITEM_EXTENT = 1 << 5,
	ITEM_ALL = (1 << 6) - 1,
};

struct name_bit {
	const char *name;
	unsigned int bit;
};

static const struct name_bit item_names[] = {
	{ "inode", ITEM_INODE },     { "xattr", ITEM_XATTR },	  { "dirent", ITEM_DIRENT },
	{ "symlink", ITEM_SYMLINK }, { "backref", ITEM_BACKREF }, { "extent", ITEM_EXTENT },
};

enum {
	ROOT_LOGS = 1 << 0,
	ROOT_FS = 1 << 1,
	ROOT_SRCH = 1 << 2,
};

static const struct name_bit root_names[] = {
	{ "logs", ROOT_LOGS },
	{ "fs", ROOT_FS },
	{ "srch", ROOT_SRCH },
};

struct print_opts {
	const char *meta_path;
	bool walk_allocs;
	unsigned int roots;	/* ROOT_* nested walks */
	unsigned int items;	/* ITEM_* whose values are printed */
};

/* a leaf item kept for a nested walk */
struct kept_item {
	struct scoutfs_key key;
	uint8_t val[SCOUTFS_BTREE_MAX_VAL_LEN];
};

struct kept_items {
	struct kept_item *items;
	size_t nr;
	size_t alloced;
};

/* blknos met in the current walk: open addressing, 0 is the empty slot */
struct blk_set {
	uint64_t *slots;
	size_t size;	/* power of two */
	size_t nr;
};

struct print_ctx {
	struct sfs_fs fs;
	FILE *out;
	struct print_opts opts;
	int fmt_vers;
	uint64_t fsid;
	uint64_t total_meta_blocks;
	void *raw;		/* LG buffer for diagnosing failed reads */
	struct blk_set seen;
	struct kept_items srch_items;
	struct kept_items logs_items;
	bool failed;		/* exit 1 */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3)))
static void report(struct print_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	/* keep stderr lines next to the output they concern on a terminal */
	fflush(ctx->out);
	fputs("scoutfs print: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ctx->failed = true;
}

static void blk_set_free(struct blk_set *set)
{
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

/* empty for the next walk; a table grown big by one walk is not kept */
static void blk_set_reset(struct blk_set *set)
{
	if (set->size > 65536)
		blk_set_free(set);
	else if (set->slots)
		memset(set->slots, 0, set->size * sizeof(*set->slots));
	set->nr = 0;
}

static size_t blk_hash(uint64_t blkno, size_t size)
{
	return (size_t)((blkno * 0x9e3779b97f4a7c15ULL) >> 17) & (size - 1);
}

/* 1 if newly added, 0 if already present, -ENOMEM */
static int blk_set_add(struct blk_set *set, uint64_t blkno)
{
	uint64_t *old = set->slots;
	size_t old_size = set->size;
	size_t i, h;

	if (set->nr * 2 >= set->size) {
		set->size = old_size ? old_size * 2 : 1024;
		set->slots = calloc(set->size, sizeof(*set->slots));
		if (!set->slots) {
			set->slots = old;
			set->size = old_size;
			return -ENOMEM;
		}
		set->nr = 0;
		for (i = 0; i < old_size; i++) {
			if (!old[i])
				continue;
			for (h = blk_hash(old[i], set->size); set->slots[h];
			     h = (h + 1) & (set->size - 1))
				;
			set->slots[h] = old[i];
			set->nr++;
		}
		free(old);
	}
	for (h = blk_hash(blkno, set->size); set->slots[h]; h = (h + 1) & (set->size - 1)) {
		if (set->slots[h] == blkno)
			return 0;
	}
	set->slots[h] = blkno;
	set->nr++;
	return 1;
}

/*
 * False (reported) if this walk already met blkno, or if we can no longer
 * tell: without the set a cycle could not be seen, so the walk stops.
 */
static bool first_visit(struct print_ctx *ctx, const char *what, uint64_t blkno)
{
	int ret = blk_set_add(&ctx->seen, blkno);

	if (ret < 0) {
		report(ctx, "%s blkno %llu: out of memory tracking visited blocks, not followed",
		       what, ULL(blkno));
		return false;
	}
	if (ret == 0) {
		report(ctx, "%s blkno %llu: referenced more than once in one walk, not followed",
		       what, ULL(blkno));
		return false;
	}
	return true;
}

static void keep_item(struct print_ctx *ctx, struct kept_items *kept,
		      const struct scoutfs_key *key, const void *val, unsigned int val_len)
{
	struct kept_item *items;
	size_t alloced;

	if (kept->nr == kept->alloced) {
		alloced = kept->alloced ? kept->alloced * 2 : 64;
		items = realloc(kept->items, alloced * sizeof(*items));
		if (!items) {
			report(ctx, "out of memory keeping items for the nested walks");
			return;
		}
		kept->items = items;
		kept->alloced = alloced;
	}
	memset(&kept->items[kept->nr], 0, sizeof(kept->items[0]));
	kept->items[kept->nr].key = *key;
	if (val_len > sizeof(kept->items[0].val))
		val_len = sizeof(kept->items[0].val);
	if (val && val_len)
		memcpy(kept->items[kept->nr].val, val, val_len);
	kept->nr++;
}

/* ------------------------------------------------------------------ */
/* reading                                                              */
/* ------------------------------------------------------------------ */

/*
 * The block layer said no: read the raw bytes ourselves to say why
 * (crc, magic, fsid, blkno, seq), falling back to its error.
 */
static void explain_failure(struct print_ctx *ctx, enum sfs_dev dev, size_t size,
			    uint64_t blkno, uint32_t magic, uint64_t fsid, uint64_t seq, int err,
			    char *why, size_t why_len)
{
	unsigned int shift = size == SCOUTFS_BLOCK_SM_SIZE ? SCOUTFS_BLOCK_SM_SHIFT :
							      SCOUTFS_BLOCK_LG_SHIFT;
	const unsigned char *p = ctx->raw;
	size_t i;
	int ret;

	ret = sfs_block_pread(&ctx->fs, dev, ctx->raw, size, blkno << shift);
	if (ret) {
		snprintf(why, why_len, "read failed: %s", strerror(-ret));
		return;
	}
	for (i = 0; i < size && p[i] == 0; i++)
		;
	if (i == size) {
		snprintf(why, why_len, "all zeros (never written)");
		return;
	}
	ret = sfs_text_validate_block_hdr(ctx->raw, size, magic, fsid, blkno, seq, why, why_len);
	if (ret == 0)
		snprintf(why, why_len, "%s", strerror(-err));
}

/* an LG block by reference, 0 or -errno (reported) */
static int read_lg(struct print_ctx *ctx, const char *what, const struct scoutfs_block_ref *ref,
		   uint32_t magic, struct sfs_block **bl_ret)
{
	uint64_t blkno = le64toh(ref->blkno);
	char why[256];
	int ret;

	*bl_ret = NULL;
	if (blkno < SCOUTFS_META_DEV_START_BLKNO || blkno >= ctx->total_meta_blocks) {
		report(ctx, "%s blkno %llu: outside the metadata device [%llu, %llu)", what,
		       ULL(blkno), SCOUTFS_META_DEV_START_BLKNO, ULL(ctx->total_meta_blocks));
		return -EIO;
	}
	ret = sfs_block_read_ref(&ctx->fs, ref, magic, bl_ret);
	if (ret) {
		*bl_ret = NULL;
		explain_failure(ctx, SFS_DEV_META, SCOUTFS_BLOCK_LG_SIZE, blkno, magic, ctx->fsid,
				le64toh(ref->seq), ret, why, sizeof(why));
		report(ctx, "%s blkno %llu: %s", what, ULL(blkno), why);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* btrees                                                               */
/* ------------------------------------------------------------------ */

struct ref_vec {
	struct scoutfs_block_ref *refs;
	size_t nr;
	size_t alloced;
};

static int ref_vec_add(struct ref_vec *vec, const struct scoutfs_block_ref *ref)
{
	struct scoutfs_block_ref *refs;
	size_t alloced;

	if (vec->nr == vec->alloced) {
		alloced = vec->alloced ? vec->alloced * 2 : 64;
		refs = realloc(vec->refs, alloced * sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		vec->refs = refs;
		vec->alloced = alloced;
	}
	vec->refs[vec->nr++] = *ref;
	return 0;
}

/* is this FS item's value printed, given -i */
static bool item_selected(struct print_ctx *ctx, const struct scoutfs_key *key)
{
	unsigned int bit = 0;

	if (key->sk_zone != SCOUTFS_FS_ZONE)
		return true;
	switch (key->sk_type) {
	case SCOUTFS_INODE_TYPE:
		bit = ITEM_INODE;
		break;
	case SCOUTFS_XATTR_TYPE:
		bit = ITEM_XATTR;
		break;
	case SCOUTFS_DIRENT_TYPE:
	case SCOUTFS_READDIR_TYPE:
		bit = ITEM_DIRENT;
		break;
	case SCOUTFS_SYMLINK_TYPE:
		bit = ITEM_SYMLINK;
		break;
	case SCOUTFS_LINK_BACKREF_TYPE:
		bit = ITEM_BACKREF;
		break;
	case SCOUTFS_DATA_EXTENT_TYPE:
		bit = ITEM_EXTENT;
		break;
	default:
		return true;
	}
	return (ctx->opts.items & bit) != 0;
}

/* one btree being printed */
struct walk {
	const char *label;		/* title label, "" for log item trees */
	const char *what;		/* the tree as messages name it */
	enum sfs_text_tree tree;
	bool deletions;			/* log item trees hold deletion items */
	struct kept_items *keep;	/* leaf items for a nested walk, or NULL */
};

static void print_leaf_item(struct print_ctx *ctx, const struct walk *w, uint64_t blkno,
			    const struct scoutfs_btree_block *bt,
			    const struct scoutfs_btree_item *item, unsigned int pos)
{
	const void *val = sfs_btree_item_val(bt, item);
	unsigned int val_len = le16toh(item->val_len);
	uint64_t seq = le64toh(item->seq);
	bool deletion = item->flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION;
	char key[SFS_TEXT_KEY_LEN];
	char why[256];

	if (w->tree == SFS_TEXT_TREE_FS && !item_selected(ctx, &item->key))
		sfs_text_item_key(ctx->out, w->tree, &item->key, seq, item->flags);
	else
		sfs_text_item(ctx->out, w->tree, &item->key, seq, item->flags, val, val_len,
			      ctx->fmt_vers);

	why[0] = '\0';
	if (sfs_text_tree_of_zone(item->key.sk_zone) != w->tree)
		snprintf(why, sizeof(why), "zone %u does not belong in this tree",
			 item->key.sk_zone);
	else if (deletion && !w->deletions)
		snprintf(why, sizeof(why), "deletion item outside a log tree");
	else if (!deletion)
		sfs_text_validate_item(&item->key, val, val_len, ctx->fmt_vers, why, sizeof(why));
	if (why[0]) {
		sfs_text_key(key, sizeof(key), &item->key);
		report(ctx, "%s btree block blkno %llu item [%u] %s: %s", w->what, ULL(blkno), pos,
		       key, why);
		return;
	}
	if (w->keep && !deletion)
		keep_item(ctx, w->keep, &item->key, val, val_len);
}

/* print one block of the level being printed; queue its children */
static void print_btree_block(struct print_ctx *ctx, const struct walk *w,
			      const struct scoutfs_block_ref *ref, int level, struct ref_vec *next)
{
	const struct scoutfs_btree_item *item;
	const struct scoutfs_btree_block *bt;
	struct scoutfs_block_ref cref;
	struct sfs_block *bl = NULL;
	uint64_t blkno = le64toh(ref->blkno);
	char what[128];
	char why[256];
	unsigned int pos = 0;

	snprintf(what, sizeof(what), "%s btree block", w->what);
	if (!first_visit(ctx, what, blkno))
		return;
	if (read_lg(ctx, what, ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl))
		return;
	bt = bl->data;
	if (sfs_btree_block_verify(bt, level, why, sizeof(why))) {
		report(ctx, "%s blkno %llu: %s", what, ULL(blkno), why);
		goto out;
	}

	fprintf(ctx->out, "%s btree blkno %llu\n", w->label, ULL(blkno));
	sfs_text_btree_block(ctx->out, bt);
	for (item = sfs_btree_first_item(bt); item; item = sfs_btree_next_item(bt, item), pos++) {
		sfs_text_btree_item_hdr(ctx->out, bt, item, pos);
		if (level == 0) {
			print_leaf_item(ctx, w, blkno, bt, item, pos);
			continue;
		}
		/* verify checked that every parent value is a 16 byte ref */
		memcpy(&cref, sfs_btree_item_val(bt, item), sizeof(cref));
		sfs_text_parent_item(ctx->out, w->tree, &item->key, &cref);
		if (cref.blkno == 0) {
			report(ctx, "%s blkno %llu item [%u]: parent item without a child", what,
			       ULL(blkno), pos);
			continue;
		}
		if (ref_vec_add(next, &cref)) {
			report(ctx, "out of memory walking %s", what);
			break;
		}
	}
out:
	sfs_block_put(&ctx->fs, bl);
}

/*
 * Breadth first from the root: each level's blocks in key order, which is
 * the order the reference prints them in.
 */
static void print_btree(struct print_ctx *ctx, const struct walk *w,
			const struct scoutfs_btree_root *root)
{
	struct ref_vec cur = { 0 }, next = { 0 }, tmp;
	char why[128];
	int level;
	size_t i;

	if (root->height == 0 && root->ref.blkno == 0)
		return;
	if (sfs_text_validate_btree_root(root, why, sizeof(why))) {
		report(ctx, "%s btree root: %s", w->what, why);
		return;
	}

	blk_set_reset(&ctx->seen);
	if (ref_vec_add(&cur, &root->ref)) {
		report(ctx, "out of memory walking %s", w->what);
		return;
	}
	for (level = root->height - 1; level >= 0 && cur.nr; level--) {
		next.nr = 0;
		for (i = 0; i < cur.nr; i++)
			print_btree_block(ctx, w, &cur.refs[i], level, &next);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	free(cur.refs);
	free(next.refs);
}

/* a server or allocator tree: its label names it */
static void print_tree(struct print_ctx *ctx, const char *label, enum sfs_text_tree tree,
		       const struct scoutfs_btree_root *root, struct kept_items *keep)
{
	struct walk w = { .label = label, .what = label, .tree = tree, .keep = keep };

	print_btree(ctx, &w, root);
}

/* ------------------------------------------------------------------ */
/* alloc lists and srch files                                           */
/* ------------------------------------------------------------------ */

static void print_alloc_list(struct print_ctx *ctx, const char *label,
			     const struct scoutfs_alloc_list_head *head)
{
	const struct scoutfs_alloc_list_block *lb;
	struct scoutfs_block_ref ref = head->ref;
	struct sfs_block *bl;
	char what[96];
	char why[256];

	if (ref.blkno == 0)
		return;
	snprintf(what, sizeof(what), "%s alloc list block", label);
	blk_set_reset(&ctx->seen);
	while (ref.blkno) {
		if (!first_visit(ctx, what, le64toh(ref.blkno)))
			break;
		if (read_lg(ctx, what, &ref, SCOUTFS_BLOCK_MAGIC_ALLOC_LIST, &bl))
			break;
		lb = bl->data;
		fprintf(ctx->out, "%s alloc_list_block blkno %llu\n", label, LE64(ref.blkno));
		sfs_text_alloc_list_block(ctx->out, lb);
		if (sfs_text_validate_alloc_list_block(lb, ctx->total_meta_blocks, why,
						       sizeof(why)))
			report(ctx, "%s blkno %llu: %s", what, LE64(ref.blkno), why);
		ref = lb->next;
		sfs_block_put(&ctx->fs, bl);
	}
}

/* a radix block at level (0 = leaf) and, after its ref list, its children */
static void print_srch_block(struct print_ctx *ctx, const struct scoutfs_block_ref *ref,
			     int level)
{
	const struct scoutfs_srch_parent *sp;
	struct sfs_block *bl;
	const char *what = level ? "srch parent block" : "srch block";
	uint64_t blkno = le64toh(ref->blkno);
	char why[256];
	unsigned int i;

	if (!first_visit(ctx, what, blkno))
		return;
	if (read_lg(ctx, what, ref,
		    level ? SCOUTFS_BLOCK_MAGIC_SRCH_PARENT : SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK, &bl))
		return;

	fprintf(ctx->out, "srch %sblock blkno %llu\n", level ? "parent " : "", ULL(blkno));
	if (level == 0) {
		sfs_text_srch_block(ctx->out, bl->data);
		if (sfs_text_validate_srch_block(bl->data, why, sizeof(why)))
			report(ctx, "%s blkno %llu: %s", what, ULL(blkno), why);
	} else {
		sp = bl->data;
		sfs_text_srch_parent(ctx->out, sp);
		for (i = 0; i < SCOUTFS_SRCH_PARENT_REFS; i++) {
			if (sp->refs[i].blkno)
				print_srch_block(ctx, &sp->refs[i], level - 1);
		}
	}
	sfs_block_put(&ctx->fs, bl);
}

static void print_srch_file(struct print_ctx *ctx, const struct scoutfs_srch_file *sfl)
{
	char why[192];

	if (sfl->ref.blkno == 0 && sfl->height == 0)
		return;
	if (sfs_text_validate_srch_file(sfl, why, sizeof(why))) {
		report(ctx, "srch file at blkno %llu: %s", LE64(sfl->ref.blkno), why);
		return;
	}
	blk_set_reset(&ctx->seen);
	print_srch_block(ctx, &sfl->ref, sfl->height - 1);
}

/* ------------------------------------------------------------------ */
/* the volume                                                           */
/* ------------------------------------------------------------------ */

static int read_super(struct print_ctx *ctx, struct scoutfs_super_block *super)
{
	char why[256];
	int ret;

	ret = sfs_block_read_sm(&ctx->fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO,
				SCOUTFS_BLOCK_MAGIC_SUPER, super);
	if (ret) {
		explain_failure(ctx, SFS_DEV_META, SCOUTFS_BLOCK_SM_SIZE, SCOUTFS_SUPER_BLKNO,
				SCOUTFS_BLOCK_MAGIC_SUPER, 0, 0, ret, why, sizeof(why));
		report(ctx, "super block blkno %llu of '%s': %s", SCOUTFS_SUPER_BLKNO,
		       ctx->opts.meta_path, why);
		return ret;
	}
	if (!(le64toh(super->flags) & SCOUTFS_FLAG_IS_META_BDEV)) {
		report(ctx, "'%s' is a scoutfs data device (its super block lacks the metadata "
		       "device flag); give the metadata device", ctx->opts.meta_path);
		return -EINVAL;
	}
	return 0;
}

static void print_quorum_blocks(struct print_ctx *ctx)
{
	struct scoutfs_quorum_block *qb = ctx->raw;
	uint64_t blkno;
	char what[64];
	char why[256];
	int ret;
	unsigned int i;

	for (i = 0; i < SCOUTFS_QUORUM_BLOCKS; i++) {
		blkno = SCOUTFS_QUORUM_BLKNO + i;
		snprintf(what, sizeof(what), "quorum block (slot %u)", i);
		ret = sfs_block_read_sm(&ctx->fs, SFS_DEV_META, blkno, SCOUTFS_BLOCK_MAGIC_QUORUM,
					qb);
		if (ret) {
			explain_failure(ctx, SFS_DEV_META, SCOUTFS_BLOCK_SM_SIZE, blkno,
					SCOUTFS_BLOCK_MAGIC_QUORUM, ctx->fsid, 0, ret, why,
					sizeof(why));
			report(ctx, "%s blkno %llu: %s", what, ULL(blkno), why);
			continue;
		}
		fprintf(ctx->out, "quorum blkno %llu (slot %u)\n", ULL(blkno), i);
		sfs_text_quorum_block(ctx->out, qb);
		if (sfs_text_validate_quorum_block(qb, why, sizeof(why)))
			report(ctx, "%s blkno %llu: %s", what, ULL(blkno), why);
	}
}

static void print_log_trees_walks(struct print_ctx *ctx)
{
	char what[96];
	struct walk w = { .label = "", .what = what, .tree = SFS_TEXT_TREE_FS,
			  .deletions = true };
	struct scoutfs_log_trees lt;
	size_t i;

	for (i = 0; i < ctx->logs_items.nr; i++) {
		memcpy(&lt, ctx->logs_items.items[i].val, sizeof(lt));
		print_alloc_list(ctx, "lt_meta_avail", &lt.meta_avail);
		print_alloc_list(ctx, "lt_meta_freed", &lt.meta_freed);
		print_tree(ctx, "data_avail", SFS_TEXT_TREE_ALLOC, &lt.data_avail.root, NULL);
		print_tree(ctx, "data_freed", SFS_TEXT_TREE_ALLOC, &lt.data_freed.root, NULL);
		print_srch_file(ctx, &lt.srch_file);
		/* the reference titles log item trees with an empty label */
		snprintf(what, sizeof(what), "log tree (rid %016llx nr %llu) item", LE64(lt.rid),
			 LE64(lt.nr));
		print_btree(ctx, &w, &lt.item_root);
	}
}

static void print_srch_walks(struct print_ctx *ctx)
{
	const struct kept_item *ki;
	struct scoutfs_srch_compact sc;
	struct scoutfs_srch_file sfl;
	unsigned int j, nr;
	size_t i;

	for (i = 0; i < ctx->srch_items.nr; i++) {
		ki = &ctx->srch_items.items[i];
		if (ki->key.sk_type == SCOUTFS_SRCH_PENDING_TYPE ||
		    ki->key.sk_type == SCOUTFS_SRCH_BUSY_TYPE) {
			/*
			 * An input a DELETE phase has started freeing may have
			 * blocks in use elsewhere by now: not walked.  Before
			 * that phase the output so far is the job's alone.
			 */
			memcpy(&sc, ki->val, sizeof(sc));
			nr = sc.nr < SCOUTFS_SRCH_COMPACT_NR ? sc.nr : SCOUTFS_SRCH_COMPACT_NR;
			for (j = 0; j < nr; j++)
				if (!(sc.flags & SCOUTFS_SRCH_COMPACT_FLAG_DELETE) ||
				    (!sc.in[j].blk && !sc.in[j].pos))
					print_srch_file(ctx, &sc.in[j].sfl);
			if (!(sc.flags & SCOUTFS_SRCH_COMPACT_FLAG_DELETE) && sc.out.ref.blkno)
				print_srch_file(ctx, &sc.out);
		} else {
			memcpy(&sfl, ki->val, sizeof(sfl));
			print_srch_file(ctx, &sfl);
		}
	}
}

static void print_volume(struct print_ctx *ctx, const struct scoutfs_super_block *super)
{
	char label[32];
	char why[256];
	unsigned int i;

	fprintf(ctx->out, "super blkno %llu\n", SCOUTFS_SUPER_BLKNO);
	sfs_text_super(ctx->out, super);
	if (sfs_text_validate_super(super, why, sizeof(why)))
		report(ctx, "super block blkno %llu: %s", SCOUTFS_SUPER_BLKNO, why);

	print_quorum_blocks(ctx);

	print_tree(ctx, "mounted_clients", SFS_TEXT_TREE_MOUNTED_CLIENTS, &super->mounted_clients,
		   NULL);
	print_tree(ctx, "log_merge", SFS_TEXT_TREE_LOG_MERGE, &super->log_merge, NULL);

	for (i = 0; i < 2; i++) {
		snprintf(label, sizeof(label), "server_meta_avail[%u]", i);
		print_alloc_list(ctx, label, &super->server_meta_avail[i]);
	}
	for (i = 0; i < 2; i++) {
		snprintf(label, sizeof(label), "server_meta_freed[%u]", i);
		print_alloc_list(ctx, label, &super->server_meta_freed[i]);
	}

	if (ctx->opts.walk_allocs) {
		for (i = 0; i < 2; i++) {
			snprintf(label, sizeof(label), "meta_alloc[%u]", i);
			print_tree(ctx, label, SFS_TEXT_TREE_ALLOC, &super->meta_alloc[i].root,
				   NULL);
		}
		print_tree(ctx, "data_alloc", SFS_TEXT_TREE_ALLOC, &super->data_alloc.root, NULL);
	}

	print_tree(ctx, "srch_root", SFS_TEXT_TREE_SRCH, &super->srch_root, &ctx->srch_items);
	print_tree(ctx, "logs_root", SFS_TEXT_TREE_LOGS, &super->logs_root, &ctx->logs_items);

	if (ctx->opts.roots & ROOT_SRCH)
		print_srch_walks(ctx);
	if (ctx->opts.roots & ROOT_LOGS)
		print_log_trees_walks(ctx);
	if (ctx->opts.roots & ROOT_FS)
		print_tree(ctx, "fs_root", SFS_TEXT_TREE_FS, &super->fs_root, NULL);
}

/* ------------------------------------------------------------------ */
/* arguments                                                            */
/* ------------------------------------------------------------------ */

static void print_help(void)
{
	printf("%s\n\n"
	       "Print metadata structures of a scoutfs volume.\n\n"
	       "  -a, --allocs            print metadata and data alloc btrees\n"
	       "  -i, --items ITEMS       item values to print (inode, xattr, dirent,\n"
	       "                          symlink, backref, extent), comma separated\n"
	       "  -r, --roots ROOTS       tree roots to walk (logs, srch, fs), comma separated\n"
	       "  -S, --skip-likely-huge  skip allocs, srch root and fs root\n"
	       "  -h, --help              this text\n",
	       USAGE);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("scoutfs print: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (" USAGE ")\n", stderr);
	return 2;
}

/* OR the bits of a comma separated list of names into *bits; the bad name or NULL */
static const char *parse_list(char *list, const struct name_bit *names, size_t nr,
			      unsigned int *bits)
{
	char *save = NULL, *tok;
	size_t i;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < nr && strcmp(tok, names[i].name); i++)
			;
		if (i == nr)
			return tok;
		*bits |= names[i].bit;
	}
	return NULL;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 0, 2 after a usage error, -1 after printing --help */
static int parse_args(int argc, char **argv, struct print_opts *opts)
{
	static const struct option long_opts[] = {
		{ "allocs", no_argument, NULL, 'a' },
		{ "items", required_argument, NULL, 'i' },
		{ "roots", required_argument, NULL, 'r' },
		{ "skip-likely-huge", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool allocs = false, items_seen = false, roots_seen = false, skip = false;
	const char *bad;
	int c;

	opts->walk_allocs = true;
	opts->roots = ROOT_LOGS | ROOT_FS | ROOT_SRCH;
	opts->items = ITEM_ALL;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":ai:r:Sh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			allocs = true;
			opts->walk_allocs = true;
			break;
		case 'i':
			if (!items_seen) {
				opts->items = 0;
				if (!allocs)
					opts->walk_allocs = false;
				items_seen = true;
			}
			bad = parse_list(optarg, item_names, ARRAY_SIZE(item_names), &opts->items);
			if (bad)
				return usage_error("unknown item kind '%s' (inode, xattr, dirent, "
						   "symlink, backref, extent)", bad);
			break;
		case 'r':
			if (!roots_seen) {
				opts->roots = 0;
				if (!allocs)
					opts->walk_allocs = false;
				roots_seen = true;
			}
			bad = parse_list(optarg, root_names, ARRAY_SIZE(root_names), &opts->roots);
			if (bad)
				return usage_error("unknown root '%s' (logs, srch, fs)", bad);
			break;
		case 'S':
			skip = true;
			break;
		case 'h':
			print_help();
			return -1;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (skip) {
		if (!allocs)
			opts->walk_allocs = false;
		opts->roots &= ~(ROOT_FS | ROOT_SRCH);
	}
	if (optind >= argc)
		return usage_error("no metadata device given");
	if (optind + 1 < argc)
		return usage_error("more than one device given");
	opts->meta_path = argv[optind];
	return 0;
}

int sfs_cmd_print(int argc, char **argv)
{
	struct sfs_block_opts bopts = { 0 };
	struct scoutfs_super_block *super = NULL;
	struct print_ctx ctx;
	int ret;

	memset(&ctx, 0, sizeof(ctx));
	ctx.out = stdout;
	ret = parse_args(argc, argv, &ctx.opts);
	if (ret)
		return ret < 0 ? 0 : ret;	/* -1: --help */

	/* print explains every failure itself, in one line each */
	sfs_fs_log_init(&ctx.fs, "scoutfs print");
	ctx.fs.log_level = LOG_CRIT;

	ctx.raw = sfs_block_alloc_buf(SCOUTFS_BLOCK_LG_SIZE);
	super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!ctx.raw || !super) {
		report(&ctx, "out of memory");
		goto out;
	}

	bopts.meta_path = ctx.opts.meta_path;
	bopts.read_only = true;
	ret = sfs_block_setup(&ctx.fs, &bopts);
	if (ret) {
		report(&ctx, "cannot open '%s': %s", ctx.opts.meta_path, strerror(-ret));
		goto out;
	}

	if (read_super(&ctx, super))
		goto out;
	ctx.fmt_vers = (int)le64toh(super->fmt_vers);
	ctx.fsid = le64toh(super->hdr.fsid);
	ctx.total_meta_blocks = le64toh(super->total_meta_blocks);
	ctx.fs.fsid = ctx.fsid;
	sfs_block_set_fsid(&ctx.fs, ctx.fsid);

	print_volume(&ctx, super);

out:
	if (fflush(ctx.out) != 0 || ferror(ctx.out))
		report(&ctx, "writing output: %s", strerror(errno));
	sfs_block_destroy(&ctx.fs);
	blk_set_free(&ctx.seen);
	free(ctx.srch_items.items);
	free(ctx.logs_items.items);
	free(ctx.raw);
	free(super);
	return ctx.failed ? 1 : 0;
}
