// SPDX-License-Identifier: GPL-2.0
/*
 * srch: the searchable xattr index (format-spec.md section 11,
 * reference-scoutfs.md 5.7).
 *
 * Model
 * -----
 * Setting or removing an xattr whose name carries the scoutfs.srch. tag
 * logs one entry (fnv1a64(name), ino, xattr id); a removal logs the
 * same entry again, and two identical entries cancel wherever they are.
 * Each mount appends its entries, in arrival order, to the log file in
 * its log_trees item (trans.c does it at commit, with the commit's
 * allocator and writer).  The server moves a log file into srch_root (a
 * LOG item) when it reaches SFS_SRCH_LOG_ROTATE_BLOCKS blocks or its
 * tree is finalized (server.c).
 *
 * Compaction: the server hands out jobs (server.c has their lifecycle):
 * 4 LOG files sorted into one BLOCKS file, or 4 BLOCKS files of one size
 * class merged into one.  Each mount's worker (this file) asks for one
 * every compact_delay_ms and does it with the job's own allocator: LOG
 * inputs are read whole, sorted and written out at once; SORTED inputs
 * are merged from per-input cursors and a step stops once it has written
 * its share, to be resumed by a later request; in both, an entry equal
 * to the one before it cancels with it.  Once the output replaces the
 * inputs in srch_root, a DELETE step frees the inputs' blocks onto the
 * job's freed list.  Search reads log files whole and sorted files by a
 * binary search over their blocks' first and last entries.
 *
 * A file is a dense radix: leaves hold encoded entries (format.h,
 * sfs_srch_encode_entry), parents 4094 refs.  Logical block b lives
 * under the root at level height - 1; a parent at level L picks child
 * (b / 4094^(L-1)) % 4094.  Growing past what the height covers puts a
 * new parent above the root with the old root as its refs[0].
 *
 * Invariants
 * ----------
 *  1. Every block has entries from offset 0, the first encoded from
 *     {0,0,0}; a new entry starts only at an entries offset up to
 *     SCOUTFS_SRCH_BLOCK_SAFE_BYTES (so it ends inside the block).
 *  2. Blocks 0..blocks-1 exist; entries is their entry_nr sum; first and
 *     last bound every entry of the file (and of each block).
 *  3. Appends copy every block they change on write (one copy per
 *     block per writer): the committed file is never changed in place.
 *
 * Failure: a failed append leaves sfl half changed and blocks dirty in
 * the writer; the caller forgets them (trans.c drops the attempt).  A
 * failed compaction step reports ERROR: the server keeps the job as it
 * handed it out, whose allocator still holds every block the step wrote.
 * Reads report -ESTALE for a rewritten block (the caller re-reads the
 * roots) and -EIO for a block that does not decode.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "btree.h"
#include "client.h"
#include "counters.h"
#include "log.h"
#include "srch.h"
#include "trigger.h"

struct scoutfs_srch_entry sfs_srch_entry(const char *name, size_t len, uint64_t ino,
					 uint64_t id)
{
	struct scoutfs_srch_entry sre = {
		.hash = htole64(sfs_fnv1a64(name, len)),
		.ino = htole64(ino),
		.id = htole64(id),
	};

	return sre;
}

static uint64_t block_seq(void)
{
	uint64_t seq;

	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint64_t)(uintptr_t)&seq ^ 0x5eed;
	return seq;
}

/* the height a file needs to hold logical block b (0 .. 7) */
static uint8_t height_for(uint64_t b)
{
	unsigned __int128 span = SCOUTFS_SRCH_PARENT_REFS;
	uint8_t h = 2;

	if (b == 0)
		return 1;
	while (b >= span) {
		span *= SCOUTFS_SRCH_PARENT_REFS;
		h++;
	}
	return h;
}

/* the parent index at level (>= 1) on the way to logical block b */
static unsigned int level_index(uint64_t b, unsigned int level)
{
	unsigned int l;

	for (l = 1; l < level; l++)
		b /= SCOUTFS_SRCH_PARENT_REFS;
	return (unsigned int)(b % SCOUTFS_SRCH_PARENT_REFS);
}

/*
 * The block ref points to, dirty in wri: itself if it already is, else a
 * copy (or, for a zero ref, a new zeroed block) with ref updated and the
 * old block freed.  Returns a referenced block.
 */
static int cow_block(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_block_ref *ref, uint32_t magic, struct sfs_block **bl_ret)
{
	struct scoutfs_block_header *hdr;
	struct sfs_block *old = NULL, *bl = NULL;
	uint64_t blkno;
	int ret;

	if (ref->blkno) {
		ret = sfs_block_read_ref(fs, ref, magic, &old);
		if (ret)
			goto out;
		if (sfs_block_writer_dirty(wri, old)) {
			bl = old;
			old = NULL;
			ret = 0;
			goto out;
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
	if (old)
		memcpy(bl->data, old->data, SCOUTFS_BLOCK_LG_SIZE);
	hdr = bl->data;
	hdr->magic = htole32(magic);
	hdr->fsid = htole64(fs->fsid);
	hdr->seq = htole64(block_seq());
	hdr->blkno = htole64(blkno);
	if (old) {
		ret = sfs_free_meta(fs, alloc, wri, old->blkno);
		if (ret) {
			sfs_block_put(fs, bl);
			bl = NULL;
			goto out;
		}
	}
	ref->blkno = hdr->blkno;
	ref->seq = hdr->seq;
out:
	if (old)
		sfs_block_put(fs, old);
	*bl_ret = bl;
	return ret;
}

/*
 * Logical block b of the file, dirty in wri (new and zeroed if b ==
 * blocks), growing the height first if b needs it.
 */
static int dirty_leaf(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		      struct scoutfs_srch_file *sfl, uint64_t b, struct sfs_block **bl_ret)
{
	struct scoutfs_srch_parent *sp;
	struct scoutfs_block_ref *ref;
	struct sfs_block *parent = NULL, *bl = NULL;
	uint8_t need = height_for(b);
	int level, ret;

	*bl_ret = NULL;
	if (sfl->height == 0)
		sfl->height = 1;
	while (sfl->height < need) {
		struct scoutfs_block_ref zero = { 0, 0 };

		ret = cow_block(fs, alloc, wri, &zero, SCOUTFS_BLOCK_MAGIC_SRCH_PARENT, &bl);
		if (ret)
			return ret;
		sp = bl->data;
		sp->refs[0] = sfl->ref;
		sfl->ref = zero;
		sfl->height++;
		sfs_block_put(fs, bl);
		bl = NULL;
	}

	ref = &sfl->ref;
	for (level = sfl->height - 1; level >= 0; level--) {
		ret = cow_block(fs, alloc, wri, ref,
				level ? SCOUTFS_BLOCK_MAGIC_SRCH_PARENT :
					SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK, &bl);
		if (parent)
			sfs_block_put(fs, parent);
		parent = NULL;
		if (ret)
			return ret;
		if (level == 0)
			break;
		parent = bl;
		bl = NULL;
		sp = parent->data;
		ref = &sp->refs[level_index(b, (unsigned int)level)];
	}
	*bl_ret = bl;
	return 0;
}

static void entry_min_max(struct scoutfs_srch_entry *first, struct scoutfs_srch_entry *last,
			  const struct scoutfs_srch_entry *e, bool empty)
{
	if (empty || sfs_srch_entry_cmp(e, first) < 0)
		*first = *e;
	if (empty || sfs_srch_entry_cmp(e, last) > 0)
		*last = *e;
}

int sfs_srch_append(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		    struct scoutfs_srch_file *sfl, const struct scoutfs_srch_entry *ents,
		    size_t nr)
{
	static const struct scoutfs_srch_entry zero;
	struct scoutfs_srch_block *sb = NULL;
	struct sfs_block *bl = NULL;
	uint64_t blocks = le64toh(sfl->blocks);
	uint32_t bytes, enr;
	size_t i;
	int ret = 0;

	for (i = 0; i < nr; i++) {
		if (!bl && blocks) {
			ret = dirty_leaf(fs, alloc, wri, sfl, blocks - 1, &bl);
			if (ret)
				goto out;
			sb = bl->data;
		}
		if (!bl || le32toh(sb->entry_bytes) > SCOUTFS_SRCH_BLOCK_SAFE_BYTES) {
			if (bl)
				sfs_block_put(fs, bl);
			bl = NULL;
			ret = dirty_leaf(fs, alloc, wri, sfl, blocks, &bl);
			if (ret)
				goto out;
			blocks++;
			sfl->blocks = htole64(blocks);
			sb = bl->data;
		}
		bytes = le32toh(sb->entry_bytes);
		enr = le32toh(sb->entry_nr);
		bytes += sfs_srch_encode_entry(sb->entries + bytes, &ents[i],
					       enr ? &sb->tail : &zero);
		entry_min_max(&sb->first, &sb->last, &ents[i], enr == 0);
		sb->tail = ents[i];
		sb->entry_nr = htole32(enr + 1);
		sb->entry_bytes = htole32(bytes);
		entry_min_max(&sfl->first, &sfl->last, &ents[i], sfl->entries == 0);
		sfl->entries = htole64(le64toh(sfl->entries) + 1);
	}
out:
	if (bl)
		sfs_block_put(fs, bl);
	return ret;
}

/*
 * The block at level at (0: the leaf) on the path to logical block b,
 * read.  A missing ref on the way is corruption: files are dense.
 */
static int read_path(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl, uint64_t b, int at,
		     struct sfs_block **bl_ret)
{
	struct scoutfs_block_ref ref = sfl->ref;
	const struct scoutfs_srch_parent *sp;
	struct sfs_block *bl;
	int level, ret;

	for (level = sfl->height - 1; level >= at; level--) {
		ret = sfs_block_read_ref(fs, &ref,
					 level ? SCOUTFS_BLOCK_MAGIC_SRCH_PARENT :
						 SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK, &bl);
		if (ret)
			return ret;
		if (level == at)
			break;
		sp = bl->data;
		ref = sp->refs[level_index(b, (unsigned int)level)];
		sfs_block_put(fs, bl);
		if (!ref.blkno) {
			sfs_err(fs, "srch: file at blkno %llu has no block %llu of %llu",
				(unsigned long long)le64toh(sfl->ref.blkno), (unsigned long long)b,
				(unsigned long long)le64toh(sfl->blocks));
			return -EIO;
		}
	}
	*bl_ret = bl;
	return 0;
}

static int read_leaf(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl, uint64_t b,
		     struct sfs_block **bl_ret)
{
	return read_path(fs, sfl, b, 0, bl_ret);
}

/* a file's height is sane for its blocks (reads trust it afterwards) */
static int check_height(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl)
{
	uint64_t blocks = le64toh(sfl->blocks);

	if (sfl->height == 0 || sfl->height > 7 || height_for(blocks - 1) > sfl->height) {
		sfs_err(fs, "srch: file at blkno %llu: height %u for %llu blocks",
			(unsigned long long)le64toh(sfl->ref.blkno), sfl->height,
			(unsigned long long)blocks);
		return -EIO;
	}
	return 0;
}

static int read_block_entries(struct sfs_fs *fs, const struct sfs_block *bl,
			      sfs_srch_entry_cb cb, void *arg)
{
	const struct scoutfs_srch_block *sb = bl->data;
	struct scoutfs_srch_entry prev = { 0 }, sre;
	uint32_t nr = le32toh(sb->entry_nr);
	uint32_t bytes = le32toh(sb->entry_bytes);
	uint32_t pos = 0, i, n;
	int ret;

	if (bytes > SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES)
		goto bad;
	for (i = 0; i < nr; i++) {
		if (pos > SCOUTFS_SRCH_BLOCK_SAFE_BYTES)
			goto bad;
		n = sfs_srch_decode_entry(sb->entries + pos, bytes - pos, &sre, &prev);
		if (!n)
			goto bad;
		pos += n;
		prev = sre;
		ret = cb(arg, &sre);
		if (ret)
			return ret;
	}
	return 0;
bad:
	sfs_err(fs, "srch: block %llu: entry_nr %u, entry_bytes %u do not decode",
		(unsigned long long)bl->blkno, nr, bytes);
	return -EIO;
}

int sfs_srch_read_file(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl,
		       sfs_srch_entry_cb cb, void *arg)
{
	uint64_t blocks = le64toh(sfl->blocks), b;
	struct sfs_block *bl;
	int ret = 0;

	if (!blocks || !sfl->ref.blkno)
		return 0;
	ret = check_height(fs, sfl);
	for (b = 0; b < blocks && !ret; b++) {
		ret = read_leaf(fs, sfl, b, &bl);
		if (ret)
			break;
		ret = read_block_entries(fs, bl, cb, arg);
		sfs_block_put(fs, bl);
	}
	return ret;
}

/*
 * What a delete cursor (format-spec.md 11.5: an input's blk and pos in a
 * DELETE phase) has freed already.  pos is the parent level being
 * emptied: every block below level pos - 1 is freed, and so are the
 * blocks at level pos - 1 whose logical range starts before blk; pos
 * past the height means the root went too.  pos 0 is a fresh cursor.
 */
struct walk_ctx {
	void (*cb)(void *arg, uint64_t blkno);
	void *arg;
	uint64_t del_blk;
	uint64_t del_level;
};

static bool walk_freed(const struct walk_ctx *w, int level, uint64_t start)
{
	if (w->del_level <= 1)
		return false;
	return (uint64_t)level + 1 < w->del_level ||
	       ((uint64_t)level + 1 == w->del_level && start < w->del_blk);
}

/* the logical blocks one block at level covers */
static uint64_t level_span(int level)
{
	uint64_t span = 1;

	while (level-- > 0)
		span *= SCOUTFS_SRCH_PARENT_REFS;
	return span;
}

static int walk_blocks(struct sfs_fs *fs, struct walk_ctx *w, const struct scoutfs_block_ref *ref,
		       int level, uint64_t start, uint64_t blocks)
{
	const struct scoutfs_srch_parent *sp;
	uint64_t span;
	struct sfs_block *bl;
	int i, ret = 0;

	/* a freed block's subtree is freed too, and may be reused: not read */
	if (!ref->blkno || walk_freed(w, level, start))
		return 0;
	w->cb(w->arg, le64toh(ref->blkno));
	if (level == 0)
		return 0;
	ret = sfs_block_read_ref(fs, ref, SCOUTFS_BLOCK_MAGIC_SRCH_PARENT, &bl);
	if (ret)
		return ret;
	sp = bl->data;
	span = level_span(level - 1);
	for (i = 0; i < SCOUTFS_SRCH_PARENT_REFS && !ret && start < blocks; i++, start += span)
		ret = walk_blocks(fs, w, &sp->refs[i], level - 1, start, blocks);
	sfs_block_put(fs, bl);
	return ret;
}

int sfs_srch_file_blocks(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl,
			 void (*cb)(void *arg, uint64_t blkno), void *arg)
{
	struct walk_ctx w = { .cb = cb, .arg = arg };

	if (!sfl->height || !sfl->ref.blkno)
		return 0;
	return walk_blocks(fs, &w, &sfl->ref, sfl->height - 1, 0, le64toh(sfl->blocks));
}

int sfs_srch_input_blocks(struct sfs_fs *fs, const struct scoutfs_srch_compact_input *in,
			  void (*cb)(void *arg, uint64_t blkno), void *arg)
{
	struct walk_ctx w = { .cb = cb, .arg = arg, .del_blk = le64toh(in->blk),
			      .del_level = le64toh(in->pos) };

	if (!in->sfl.height || !in->sfl.ref.blkno || w.del_level > in->sfl.height)
		return 0;
	return walk_blocks(fs, &w, &in->sfl.ref, in->sfl.height - 1, 0,
			   le64toh(in->sfl.blocks));
}

/* ------------------------------------------------------------------ */
/* search                                                               */
/* ------------------------------------------------------------------ */

struct search_ctx {
	uint64_t hash;
	uint64_t first_ino;
	uint64_t last_ino;
	struct scoutfs_srch_entry *ents;	/* matches */
	size_t nr, cap;
};

static int search_cb(void *arg, const struct scoutfs_srch_entry *sre)
{
	struct search_ctx *sc = arg;
	struct scoutfs_srch_entry *e;
	uint64_t ino = le64toh(sre->ino);

	if (le64toh(sre->hash) != sc->hash || ino < sc->first_ino || ino > sc->last_ino)
		return 0;
	if (sc->nr == sc->cap) {
		e = realloc(sc->ents, (sc->cap ? sc->cap * 2 : 256) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		sc->ents = e;
		sc->cap = sc->cap ? sc->cap * 2 : 256;
	}
	sc->ents[sc->nr++] = *sre;
	return 0;
}

/*
 * A sorted file: a binary search over its blocks' first and last entries
 * finds the first block that can hold a match, and entries are read from
 * there until past the last possible match.  An empty block (a
 * compaction of the reference can leave its last block so) reads as
 * lying before everything searched for.
 */
static int search_sorted(struct sfs_fs *fs, struct search_ctx *sc,
			 const struct scoutfs_srch_file *sfl)
{
	const struct scoutfs_srch_entry start = { .hash = htole64(sc->hash),
						  .ino = htole64(sc->first_ino), .id = 0 };
	const struct scoutfs_srch_entry end = { .hash = htole64(sc->hash),
						.ino = htole64(sc->last_ino), .id = UINT64_MAX };
	const struct scoutfs_srch_block *sb;
	int64_t left = 0, right = (int64_t)le64toh(sfl->blocks) - 1, mid;
	uint64_t first = UINT64_MAX, b;
	struct sfs_block *bl;
	int ret;

	ret = check_height(fs, sfl);
	while (!ret && left <= right) {
		mid = left + (right - left) / 2;
		ret = read_leaf(fs, sfl, (uint64_t)mid, &bl);
		if (ret)
			break;
		sb = bl->data;
		if (sb->entry_nr && sfs_srch_entry_cmp(&end, &sb->first) < 0) {
			right = mid - 1;
		} else if (!sb->entry_nr || sfs_srch_entry_cmp(&start, &sb->last) > 0) {
			left = mid + 1;
		} else {
			first = (uint64_t)mid;
			right = mid - 1;
		}
		sfs_block_put(fs, bl);
	}
	sfs_inc(fs, srch_search_sorted);
	for (b = first; !ret && b < le64toh(sfl->blocks); b++) {
		ret = read_leaf(fs, sfl, b, &bl);
		if (ret)
			break;
		sb = bl->data;
		sfs_inc(fs, srch_search_sorted_block);
		if (sb->entry_nr && sfs_srch_entry_cmp(&sb->first, &end) > 0) {
			sfs_block_put(fs, bl);
			break;
		}
		ret = read_block_entries(fs, bl, search_cb, sc);
		sfs_block_put(fs, bl);
	}
	return ret;
}

static int search_file(struct sfs_fs *fs, struct search_ctx *sc,
		       const struct scoutfs_srch_file *sfl, bool sorted)
{
	if (!le64toh(sfl->entries))
		return 0;
	/* the file's bounds rule it out without reading it */
	if (le64toh(sfl->first.hash) > sc->hash || le64toh(sfl->last.hash) < sc->hash)
		return 0;
	if (sorted)
		return search_sorted(fs, sc, sfl);
	sfs_inc(fs, srch_search_log);
	return sfs_srch_read_file(fs, sfl, search_cb, sc);
}

static int entry_sort_cmp(const void *a, const void *b)
{
	return sfs_srch_entry_cmp(a, b);
}

/* every file of one super: log trees' log files, then srch_root's files */
static int search_super(struct sfs_fs *fs, const struct scoutfs_super_block *super,
			struct search_ctx *sc)
{
	struct sfs_btree_item_ret *r = malloc(sizeof(*r));
	struct scoutfs_log_trees lt;
	struct scoutfs_srch_file sfl;
	struct scoutfs_key key;
	int ret;

	if (!r)
		return -ENOMEM;
	key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(fs, &super->logs_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_LOG_TREES_ZONE) {
		key = r->key;
		sfs_key_inc(&key);
		if (r->val_len != sizeof(lt))
			continue;
		memcpy(&lt, r->val, sizeof(lt));
		ret = search_file(fs, sc, &lt.srch_file, false);
		if (ret)
			goto out;
	}
	if (ret != -ENOENT)
		goto out;

	key = sfs_key_make(SCOUTFS_SRCH_ZONE, 0, 0, 0, 0, 0);
	while ((ret = sfs_btree_next(fs, &super->srch_root, &key, r)) == 0 &&
	       r->key.sk_zone == SCOUTFS_SRCH_ZONE) {
		key = r->key;
		sfs_key_inc(&key);
		if ((r->key.sk_type != SCOUTFS_SRCH_LOG_TYPE &&
		     r->key.sk_type != SCOUTFS_SRCH_BLOCKS_TYPE) || r->val_len != sizeof(sfl))
			continue;
		memcpy(&sfl, r->val, sizeof(sfl));
		ret = search_file(fs, sc, &sfl, r->key.sk_type == SCOUTFS_SRCH_BLOCKS_TYPE);
		if (ret)
			goto out;
	}
	if (ret == -ENOENT)
		ret = 0;
out:
	free(r);
	return ret;
}

/* fresh supers this many times in a row before stale blocks are -EIO */
#define SEARCH_ATTEMPTS 5

int sfs_srch_search(struct sfs_fs *fs, const char *name, size_t len, uint64_t first_ino,
		    uint64_t last_ino, uint64_t *inos, size_t max, size_t *nr, bool *end)
{
	struct search_ctx sc = { .hash = sfs_fnv1a64(name, len), .first_ino = first_ino,
				 .last_ino = last_ino };
	struct scoutfs_super_block *super;
	size_t i, j, out = 0;
	int attempt, ret;

	*nr = 0;
	*end = true;
	if (first_ino > last_ino)
		return 0;
	super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!super)
		return -ENOMEM;
	for (attempt = 0; attempt < SEARCH_ATTEMPTS; attempt++) {
		sc.nr = 0;
		ret = sfs_block_read_sm(fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO,
					SCOUTFS_BLOCK_MAGIC_SUPER, super) ?:
		      search_super(fs, super, &sc);
		if (ret != -ESTALE)
			break;
	}
	if (ret == -ESTALE) {
		sfs_err(fs, "srch: search: stale blocks after %d fresh super blocks",
			SEARCH_ATTEMPTS);
		ret = -EIO;
	}
	if (ret)
		goto out;

	/* identical entries cancel in pairs: an odd run is a live xattr */
	if (sc.nr)
		qsort(sc.ents, sc.nr, sizeof(sc.ents[0]), entry_sort_cmp);
	for (i = 0; i < sc.nr; i = j) {
		for (j = i + 1; j < sc.nr && sfs_srch_entry_cmp(&sc.ents[i], &sc.ents[j]) == 0; j++)
			;
		if ((j - i) % 2 == 0)
			continue;
		if (out && inos[out - 1] == le64toh(sc.ents[i].ino))
			continue;	/* another xattr id of the same inode */
		if (out == max) {
			*end = false;
			break;
		}
		inos[out++] = le64toh(sc.ents[i].ino);
	}
	*nr = out;
out:
	free(sc.ents);
	free(super);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Compaction work (a mount's worker, given a job by the server)        */
/* ------------------------------------------------------------------ */

/*
 * The srch_compact_logs_pad_safe trigger: the last block of sfl, which
 * holds one entry, is filled with entries equal to it (all-zero
 * differences, in non-minimal lengths) so that the last one starts
 * exactly at SCOUTFS_SRCH_BLOCK_SAFE_BYTES, the latest a reader may
 * find one; the block is then full.  Their number is even, so they
 * cancel in pairs and the block still holds its one entry.
 */
static int pad_last_block(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			  struct scoutfs_srch_file *sfl)
{
	struct scoutfs_srch_block *sb;
	struct sfs_block *bl;
	uint32_t pos, fill, m, i, len, n;
	int ret;

	ret = dirty_leaf(fs, alloc, wri, sfl, le64toh(sfl->blocks) - 1, &bl);
	if (ret)
		return ret;
	sb = bl->data;
	pos = le32toh(sb->entry_bytes);
	if (le32toh(sb->entry_nr) != 1 || pos + 2 * 26 > SCOUTFS_SRCH_BLOCK_SAFE_BYTES) {
		sfs_block_put(fs, bl);
		return 0;
	}
	/* an odd number m of entries of 2..26 bytes up to SAFE, then a 2-byte one */
	fill = SCOUTFS_SRCH_BLOCK_SAFE_BYTES - pos;
	m = (fill + 25) / 26;
	if (m % 2 == 0)
		m++;
	for (i = 0; i < m; i++) {
		len = fill / m + (i < fill % m ? 1 : 0);
		n = len - 2;
		memset(sb->entries + pos, 0, len);
		sb->entries[pos] = (uint8_t)((n > 8 ? 8 : n) | ((n > 8 ? (n > 16 ? 8 : n - 8) : 0) << 4));
		sb->entries[pos + 1] = (uint8_t)(n > 16 ? n - 16 : 0);
		pos += len;
	}
	memset(sb->entries + pos, 0, 2);
	pos += 2;
	sb->entry_nr = htole32(le32toh(sb->entry_nr) + m + 1);
	sb->entry_bytes = htole32(pos);
	sfl->entries = htole64(le64toh(sfl->entries) + m + 1);
	sfs_block_put(fs, bl);
	sfs_inc(fs, srch_compact_pad);
	return 0;
}

#define OUT_BATCH 1024

/*
 * The output file of a job, written in entry order.  An entry equal to
 * the one before it cancels with it (a creation and its removal), so
 * the last entry is held back until the next one is known.
 */
struct out_file {
	struct sfs_fs *fs;
	struct sfs_alloc *alloc;
	struct sfs_block_writer *wri;
	struct scoutfs_srch_file *sfl;
	uint64_t max_blocks;		/* -ENOSPC past this many blocks */
	bool pad;			/* pad_last_block after the first entry */
	struct scoutfs_srch_entry pend;
	bool have_pend;
	size_t nr;
	struct scoutfs_srch_entry ents[OUT_BATCH];
};

static int out_flush(struct out_file *o)
{
	int ret = 0;

	if (o->nr)
		ret = sfs_srch_append(o->fs, o->alloc, o->wri, o->sfl, o->ents, o->nr);
	sfs_counter_add(o->fs, SFS_CTR_srch_compact_entry, o->nr);
	o->nr = 0;
	if (!ret && le64toh(o->sfl->blocks) > o->max_blocks)
		ret = -ENOSPC;
	return ret;
}

static int out_add(struct out_file *o, const struct scoutfs_srch_entry *e)
{
	if (o->have_pend && sfs_srch_entry_cmp(&o->pend, e) == 0) {
		o->have_pend = false;
		sfs_inc(o->fs, srch_compact_removed_entry);
		return 0;
	}
	if (o->have_pend) {
		o->ents[o->nr++] = o->pend;
		if (o->pad) {
			int ret = out_flush(o) ?: pad_last_block(o->fs, o->alloc, o->wri, o->sfl);

			o->pad = false;
			if (ret)
				return ret;
		}
		if (o->nr == OUT_BATCH) {
			int ret = out_flush(o);

			if (ret)
				return ret;
		}
	}
	o->pend = *e;
	o->have_pend = true;
	return 0;
}

static int out_finish(struct out_file *o)
{
	int ret;

	if (o->have_pend)
		o->ents[o->nr++] = o->pend;
	o->have_pend = false;
	ret = out_flush(o);
	if (!ret && o->pad && o->nr == 0 && o->sfl->blocks)
		ret = pad_last_block(o->fs, o->alloc, o->wri, o->sfl);
	o->pad = false;
	return ret;
}

struct ent_vec {
	struct scoutfs_srch_entry *v;
	size_t nr, cap;
};

static int collect_cb(void *arg, const struct scoutfs_srch_entry *sre)
{
	struct ent_vec *ev = arg;
	struct scoutfs_srch_entry *v;

	if (ev->nr == ev->cap) {
		v = realloc(ev->v, (ev->cap ? ev->cap * 2 : 4096) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ev->v = v;
		ev->cap = ev->cap ? ev->cap * 2 : 4096;
	}
	ev->v[ev->nr++] = *sre;
	return 0;
}

/*
 * Log files: every entry of the inputs is read, sorted and written to a
 * new sorted file in one go (log files are small: they are rotated at
 * SFS_SRCH_LOG_ROTATE_BLOCKS), so the allocator must hold enough for the
 * whole output.
 */
static int compact_logs(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			struct scoutfs_srch_compact *sc, uint64_t max_blocks)
{
	struct out_file *o = NULL;
	struct ent_vec ev = { 0 };
	size_t i;
	int ret = 0;

	if (sc->out.blocks)
		return -EINVAL;		/* log jobs never commit progress */
	for (i = 0; i < sc->nr && !ret; i++)
		ret = sfs_srch_read_file(fs, &sc->in[i].sfl, collect_cb, &ev);
	if (ret)
		goto out;
	o = calloc(1, sizeof(*o));
	if (!o) {
		ret = -ENOMEM;
		goto out;
	}
	*o = (struct out_file){ .fs = fs, .alloc = alloc, .wri = wri, .sfl = &sc->out,
				.max_blocks = max_blocks };
	if (ev.nr)
		qsort(ev.v, ev.nr, sizeof(ev.v[0]), entry_sort_cmp);
	o->pad = sfs_trigger_fired(fs, SFS_TRIGGER_SRCH_COMPACT_LOGS_PAD_SAFE);
	for (i = 0; i < ev.nr && !ret; i++)
		ret = out_add(o, &ev.v[i]);
	if (!ret)
		ret = out_finish(o);
	if (!ret)
		sc->flags |= SCOUTFS_SRCH_COMPACT_FLAG_DONE;
out:
	free(o);
	free(ev.v);
	return ret;
}

/*
 * A sorted input read entry by entry from a cursor (format-spec.md 11.5:
 * blk is the block, pos the byte offset in its entries of the next entry
 * to read; resuming decodes the block from its start up to pos).
 */
struct reader {
	const struct scoutfs_srch_file *sfl;
	struct sfs_block *bl;
	uint64_t blk;
	uint32_t pos;
	uint32_t skip;
	uint32_t bytes;		/* of cur */
	bool have;		/* cur is decoded */
	struct scoutfs_srch_entry prev, cur;
};

/* cur: 0, 1 at the end of the file, or an error */
static int reader_peek(struct sfs_fs *fs, struct reader *rd)
{
	const struct scoutfs_srch_block *sb;
	struct scoutfs_srch_entry e;
	uint32_t eb, n;
	int ret;

	while (!rd->have) {
		if (rd->blk >= le64toh(rd->sfl->blocks))
			return 1;
		if (!rd->bl) {
			ret = read_leaf(fs, rd->sfl, rd->blk, &rd->bl);
			if (ret)
				return ret;
			memset(&rd->prev, 0, sizeof(rd->prev));
			rd->pos = 0;
		}
		sb = rd->bl->data;
		eb = le32toh(sb->entry_bytes);
		if (eb > SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES || (rd->skip && rd->skip >= eb))
			goto bad;
		if (eb == 0) {
			sfs_block_put(fs, rd->bl);
			rd->bl = NULL;
			rd->blk++;
			continue;
		}
		if (rd->pos > SCOUTFS_SRCH_BLOCK_SAFE_BYTES || rd->pos >= eb)
			goto bad;
		n = sfs_srch_decode_entry(sb->entries + rd->pos, eb - rd->pos, &e, &rd->prev);
		if (!n)
			goto bad;
		if (rd->pos < rd->skip) {
			rd->prev = e;
			rd->pos += n;
			if (rd->pos >= rd->skip)
				rd->skip = 0;
			continue;
		}
		rd->cur = e;
		rd->bytes = n;
		rd->have = true;
	}
	return 0;
bad:
	sfs_err(fs, "srch: block %llu of file %llu: entries do not decode at %u",
		(unsigned long long)rd->bl->blkno, (unsigned long long)le64toh(rd->sfl->ref.blkno),
		rd->pos);
	return -EIO;
}

static void reader_advance(struct sfs_fs *fs, struct reader *rd)
{
	const struct scoutfs_srch_block *sb = rd->bl->data;

	rd->prev = rd->cur;
	rd->pos += rd->bytes;
	rd->have = false;
	if (rd->pos >= le32toh(sb->entry_bytes)) {
		sfs_block_put(fs, rd->bl);
		rd->bl = NULL;
		rd->blk++;
		rd->pos = 0;
	}
}

/*
 * Sorted files: a merge of the inputs' entries into the output, resumed
 * from the cursors.  It stops (the job not DONE, cursors saved) before
 * the output grows by max_blocks more blocks; the server keeps it as
 * PENDING and a later request goes on from there, appending to the
 * output.
 */
static int compact_sorted(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			  struct scoutfs_srch_compact *sc, uint64_t max_blocks)
{
	struct reader rd[SCOUTFS_SRCH_COMPACT_NR];
	uint64_t start = le64toh(sc->out.blocks), added = 0;
	struct out_file *o;
	int i, min, r, ret = 0;
	bool done = false;

	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct out_file){ .fs = fs, .alloc = alloc, .wri = wri, .sfl = &sc->out,
				.max_blocks = start + max_blocks + 1 };
	memset(rd, 0, sizeof(rd));
	for (i = 0; i < sc->nr; i++) {
		rd[i].sfl = &sc->in[i].sfl;
		rd[i].blk = le64toh(sc->in[i].blk);
		rd[i].skip = (uint32_t)le64toh(sc->in[i].pos);
		if (rd[i].blk > le64toh(rd[i].sfl->blocks) ||
		    le64toh(sc->in[i].pos) > SCOUTFS_SRCH_BLOCK_SAFE_BYTES) {
			ret = -EINVAL;
			goto out;
		}
	}

	for (;;) {
		min = -1;
		for (i = 0; i < sc->nr; i++) {
			r = reader_peek(fs, &rd[i]);
			if (r < 0) {
				ret = r;
				goto out;
			}
			if (r == 0 && (min < 0 || sfs_srch_entry_cmp(&rd[i].cur, &rd[min].cur) < 0))
				min = i;
		}
		if (min < 0) {
			done = true;
			break;
		}
		/*
		 * Right after a flush, stop if the output reached max_blocks:
		 * what is held back (a batch adds at most one block) still
		 * fits.  At least one batch goes out per call.
		 */
		if (added && o->nr == 0 && le64toh(sc->out.blocks) + 2 > o->max_blocks) {
			sfs_inc(fs, srch_compact_progress);
			break;
		}
		/* the srch_merge_stop_safe trigger: a step ends on a safe-bytes cursor */
		if (rd[min].pos == SCOUTFS_SRCH_BLOCK_SAFE_BYTES &&
		    sfs_trigger_fired(fs, SFS_TRIGGER_SRCH_MERGE_STOP_SAFE)) {
			sfs_inc(fs, srch_compact_progress);
			break;
		}
		ret = out_add(o, &rd[min].cur);
		if (ret)
			goto out;
		reader_advance(fs, &rd[min]);
		added++;
	}
	ret = out_finish(o);
	if (ret)
		goto out;
	for (i = 0; i < sc->nr; i++) {
		sc->in[i].blk = htole64(rd[i].blk);
		sc->in[i].pos = htole64(rd[i].skip > rd[i].pos ? rd[i].skip : rd[i].pos);
	}
	if (done)
		sc->flags |= SCOUTFS_SRCH_COMPACT_FLAG_DONE;
out:
	for (i = 0; i < SCOUTFS_SRCH_COMPACT_NR; i++)
		if (rd[i].bl)
			sfs_block_put(fs, rd[i].bl);
	free(o);
	return ret;
}

/*
 * The DELETE phase: the blocks of an input file that srch_root no longer
 * names go to the job's freed list, the children of each parent level
 * from the bottom up and left to right, then the root.  The blocks are
 * not changed (searches that still read the file from an older super
 * see them intact until they are reused).  in->blk and in->pos are the
 * cursor (walk_freed): it stops when *budget frees are used and resumes
 * there.
 */
static int delete_file(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		       struct scoutfs_srch_compact_input *in, uint64_t *budget)
{
	uint64_t blocks = le64toh(in->sfl.blocks);
	uint64_t blk = le64toh(in->blk);
	uint64_t level = le64toh(in->pos);
	const struct scoutfs_srch_parent *sp;
	struct sfs_block *bl = NULL;
	uint64_t span, blkno;
	unsigned int i;
	int ret = 0;

	if (level == 0)
		level = 1;
	if (level > in->sfl.height || !in->sfl.ref.blkno)
		goto out;
	ret = check_height(fs, &in->sfl);
	for (; !ret && level < in->sfl.height; level++) {
		span = level_span((int)level - 1);
		while (blk < blocks) {
			ret = read_path(fs, &in->sfl, blk, (int)level, &bl);
			if (ret)
				goto out;
			sp = bl->data;
			for (i = level_index(blk, (unsigned int)level);
			     i < SCOUTFS_SRCH_PARENT_REFS && blk < blocks; i++, blk += span) {
				blkno = le64toh(sp->refs[i].blkno);
				if (!blkno)
					continue;
				if (*budget == 0)
					goto out;
				ret = sfs_free_meta(fs, alloc, wri, blkno);
				if (ret)
					goto out;
				(*budget)--;
			}
			sfs_block_put(fs, bl);
			bl = NULL;
		}
		blk = 0;
	}
	if (!ret && level == in->sfl.height && *budget) {
		ret = sfs_free_meta(fs, alloc, wri, le64toh(in->sfl.ref.blkno));
		if (!ret) {
			(*budget)--;
			level++;
		}
	}
out:
	if (bl)
		sfs_block_put(fs, bl);
	in->blk = htole64(blk);
	in->pos = htole64(level);
	return ret;
}

static int delete_files(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			struct scoutfs_srch_compact *sc, uint64_t budget)
{
	int i, ret = 0;

	for (i = 0; i < sc->nr && !ret; i++) {
		ret = delete_file(fs, alloc, wri, &sc->in[i], &budget);
		if (!ret && le64toh(sc->in[i].pos) <= sc->in[i].sfl.height && sc->in[i].sfl.ref.blkno)
			break;	/* out of budget */
	}
	if (!ret && i == sc->nr)
		sc->flags |= SCOUTFS_SRCH_COMPACT_FLAG_DONE;
	else if (!ret)
		sfs_inc(fs, srch_compact_progress);
	return ret;
}

int sfs_srch_compact_work(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			  struct scoutfs_srch_compact *sc, uint64_t max_blocks)
{
	uint8_t kind = sc->flags & (SCOUTFS_SRCH_COMPACT_FLAG_LOG | SCOUTFS_SRCH_COMPACT_FLAG_SORTED |
				    SCOUTFS_SRCH_COMPACT_FLAG_DELETE);
	int i;

	if (sc->nr < 1 || sc->nr > SCOUTFS_SRCH_COMPACT_NR ||
	    (sc->flags & (SCOUTFS_SRCH_COMPACT_FLAG_DONE | SCOUTFS_SRCH_COMPACT_FLAG_ERROR)) ||
	    (kind != SCOUTFS_SRCH_COMPACT_FLAG_LOG && kind != SCOUTFS_SRCH_COMPACT_FLAG_SORTED &&
	     kind != SCOUTFS_SRCH_COMPACT_FLAG_DELETE))
		return -EINVAL;
	for (i = 0; i < sc->nr; i++)
		if (sc->in[i].sfl.blocks && check_height(fs, &sc->in[i].sfl))
			return -EIO;

	switch (kind) {
	case SCOUTFS_SRCH_COMPACT_FLAG_LOG:
		sfs_inc(fs, srch_compact_log);
		return compact_logs(fs, alloc, wri, sc, max_blocks);
	case SCOUTFS_SRCH_COMPACT_FLAG_SORTED:
		sfs_inc(fs, srch_compact_sorted);
		return compact_sorted(fs, alloc, wri, sc, max_blocks);
	default:
		sfs_inc(fs, srch_compact_delete);
		/* each free takes a freed-list slot: a list block holds thousands */
		return delete_files(fs, alloc, wri, sc, max_blocks * 16);
	}
}

/* ------------------------------------------------------------------ */
/* The worker                                                           */
/* ------------------------------------------------------------------ */

/* blocks kept back from a job's allocator for its lists' own changes */
#define JOB_ALLOC_SLACK 32ULL
/* dirty output kept in memory before a SORTED job reports progress: 32 MiB */
#define JOB_DIRTY_BLOCKS 512ULL

int sfs_srch_compact_run_one(struct sfs_fs *fs, uint64_t max_blocks)
{
	struct scoutfs_srch_compact *sc;
	struct sfs_alloc_lists lists;
	struct sfs_block_writer wri;
	uint64_t avail, max;
	int ret, err;

	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	ret = sfs_client_srch_get_compact(fs, sc);
	if (!ret && sc->nr == 0)
		ret = -ENOENT;
	if (ret) {
		free(sc);
		return ret;
	}

	sfs_block_writer_init(&wri);
	sfs_alloc_lists_init(&lists, &sc->meta_avail, &sc->meta_freed);
	avail = le64toh(lists.avail.total_nr);
	max = avail > JOB_ALLOC_SLACK ? (avail - JOB_ALLOC_SLACK) / 2 : 0;
	if (!(sc->flags & SCOUTFS_SRCH_COMPACT_FLAG_LOG) && max > JOB_DIRTY_BLOCKS)
		max = JOB_DIRTY_BLOCKS;
	if (max_blocks && !(sc->flags & SCOUTFS_SRCH_COMPACT_FLAG_LOG) && max > max_blocks)
		max = max_blocks;
	ret = sfs_srch_compact_work(fs, &lists.alloc, &wri, sc, max);
	if (!ret)
		ret = sfs_block_writer_write(fs, &wri) ?: sfs_block_flush(fs, SFS_DEV_META);
	if (ret) {
		sfs_block_writer_forget(fs, &wri);
		sfs_inc(fs, srch_compact_error);
		sc->flags |= SCOUTFS_SRCH_COMPACT_FLAG_ERROR;
	}
	sc->meta_avail = lists.avail;
	sc->meta_freed = lists.freed;
	err = sfs_client_srch_commit_compact(fs, sc);
	sfs_block_writer_destroy(&wri);
	free(sc);
	return ret ?: err;
}

struct sfs_srch {
	struct sfs_fs *fs;
	struct sfs_srch_opts opts;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;		/* lock */
	pthread_t thread;
	bool thread_started;
};

static void *compact_worker(void *arg)
{
	struct sfs_srch *srch = arg;
	struct timespec deadline;
	int ret, last = 0;

	pthread_mutex_lock(&srch->lock);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += srch->opts.compact_delay_ms / 1000;
		deadline.tv_nsec += (long)(srch->opts.compact_delay_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!srch->stopping)
			if (pthread_cond_timedwait(&srch->cond, &srch->lock, &deadline) == ETIMEDOUT)
				break;
		do {
			if (srch->stopping)
				goto out;
			pthread_mutex_unlock(&srch->lock);
			ret = sfs_srch_compact_run_one(srch->fs, 0);
			if (ret && ret != -ENOENT && ret != last)
				sfs_warn(srch->fs, "srch: a compaction failed: %s", strerror(-ret));
			last = ret == -ENOENT ? 0 : ret;
			pthread_mutex_lock(&srch->lock);
		} while (ret == 0);	/* there may be more */
	}
out:
	pthread_mutex_unlock(&srch->lock);
	return NULL;
}

int sfs_srch_setup(struct sfs_fs *fs, const struct sfs_srch_opts *opts)
{
	struct sfs_srch *srch;
	int ret;

	if (fs->srch)
		return -EBUSY;
	srch = calloc(1, sizeof(*srch));
	if (!srch)
		return -ENOMEM;
	fs->srch = srch;
	srch->fs = fs;
	srch->opts = *opts;
	if (!srch->opts.compact_delay_ms)
		srch->opts.compact_delay_ms = SFS_SRCH_COMPACT_DELAY_DEF_MS;
	pthread_mutex_init(&srch->lock, NULL);
	pthread_cond_init(&srch->cond, NULL);
	ret = -pthread_create(&srch->thread, NULL, compact_worker, srch);
	if (!ret)
		srch->thread_started = true;
	else
		sfs_srch_destroy(fs);
	return ret;
}

void sfs_srch_destroy(struct sfs_fs *fs)
{
	struct sfs_srch *srch = fs->srch;

	if (!srch)
		return;
	if (srch->thread_started) {
		pthread_mutex_lock(&srch->lock);
		srch->stopping = true;
		pthread_cond_broadcast(&srch->cond);
		pthread_mutex_unlock(&srch->lock);
		pthread_join(srch->thread, NULL);
	}
	pthread_cond_destroy(&srch->cond);
	pthread_mutex_destroy(&srch->lock);
	free(srch);
	fs->srch = NULL;
}
