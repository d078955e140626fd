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
 * tree is finalized (server.c).  Compacting LOG files into sorted BLOCKS
 * files is not done yet; search reads every file whole.
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
 * the writer; the caller forgets them (trans.c drops the attempt).
 * Reads report -ESTALE for a rewritten block (the caller re-reads the
 * roots) and -EIO for a block that does not decode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "btree.h"
#include "log.h"
#include "srch.h"

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

/* the leaf of logical block b, read */
static int read_leaf(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl, uint64_t b,
		     struct sfs_block **bl_ret)
{
	struct scoutfs_block_ref ref = sfl->ref;
	const struct scoutfs_srch_parent *sp;
	struct sfs_block *bl;
	int level, ret;

	for (level = sfl->height - 1; level >= 0; level--) {
		ret = sfs_block_read_ref(fs, &ref,
					 level ? SCOUTFS_BLOCK_MAGIC_SRCH_PARENT :
						 SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK, &bl);
		if (ret)
			return ret;
		if (level == 0)
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
	if (sfl->height == 0 || sfl->height > 7 || height_for(blocks - 1) > sfl->height) {
		sfs_err(fs, "srch: file at blkno %llu: height %u for %llu blocks",
			(unsigned long long)le64toh(sfl->ref.blkno), sfl->height,
			(unsigned long long)blocks);
		return -EIO;
	}
	for (b = 0; b < blocks && !ret; b++) {
		ret = read_leaf(fs, sfl, b, &bl);
		if (ret)
			break;
		ret = read_block_entries(fs, bl, cb, arg);
		sfs_block_put(fs, bl);
	}
	return ret;
}

static int walk_blocks(struct sfs_fs *fs, const struct scoutfs_block_ref *ref, int level,
		       void (*cb)(void *arg, uint64_t blkno), void *arg)
{
	const struct scoutfs_srch_parent *sp;
	struct sfs_block *bl;
	int i, ret = 0;

	if (!ref->blkno)
		return 0;
	cb(arg, le64toh(ref->blkno));
	if (level == 0)
		return 0;
	ret = sfs_block_read_ref(fs, ref, SCOUTFS_BLOCK_MAGIC_SRCH_PARENT, &bl);
	if (ret)
		return ret;
	sp = bl->data;
	for (i = 0; i < SCOUTFS_SRCH_PARENT_REFS && !ret; i++)
		ret = walk_blocks(fs, &sp->refs[i], level - 1, cb, arg);
	sfs_block_put(fs, bl);
	return ret;
}

int sfs_srch_file_blocks(struct sfs_fs *fs, const struct scoutfs_srch_file *sfl,
			 void (*cb)(void *arg, uint64_t blkno), void *arg)
{
	if (!sfl->height || !sfl->ref.blkno)
		return 0;
	return walk_blocks(fs, &sfl->ref, sfl->height - 1, cb, arg);
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

static int search_file(struct sfs_fs *fs, struct search_ctx *sc,
		       const struct scoutfs_srch_file *sfl)
{
	if (!le64toh(sfl->entries))
		return 0;
	/* the file's bounds rule it out without reading it */
	if (le64toh(sfl->first.hash) > sc->hash || le64toh(sfl->last.hash) < sc->hash)
		return 0;
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
		ret = search_file(fs, sc, &lt.srch_file);
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
		ret = search_file(fs, sc, &sfl);
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
