// SPDX-License-Identifier: GPL-2.0
/*
 * Allocators: alloc list blocks for transactions and free-extent btrees
 * for the server (format-spec.md section 9).
 *
 * Model
 * -----
 * Free space lives in free-extent btrees: each extent [start, start+len)
 * is two value-less items in one tree, by location (zone 36: last, len)
 * and by size (zone 40: ~order, last, len).  The server owns the trees
 * (super meta_alloc[0..1] and data_alloc, per-mount data_avail and
 * data_freed).
 *
 * A transaction never modifies the extent trees to allocate metadata: it
 * pops single blocks from its avail list and pushes the blocks it frees
 * on its freed list (struct sfs_alloc_lists).  Lists are chains of list
 * blocks, each holding up to 8185 blknos in [start, start+nr).  List
 * blocks are metadata blocks themselves and are copied on write like any
 * other: the avail block's copy takes one of its own entries, the freed
 * block's copy takes one from avail, and the blocks they replace go on the
 * freed list.  The server refills avail lists from the extent trees
 * (sfs_alloc_fill_list) and returns freed lists to them
 * (sfs_alloc_empty_list) only once the transaction that freed them is
 * durable; that is the rule that keeps a committed tree's blocks intact
 * until nothing can reference them.
 *
 * Invariants
 * ----------
 *  1. Every metadata block is exactly one of: in a free extent, an entry
 *     of an avail or freed list, a list block, or a block of a reachable
 *     tree.  Every data block is in a free extent or in use.
 *  2. Extents in one tree never overlap and adjacent extents are merged;
 *     both items of an extent are present; total_len is their sum.
 *  3. head.total_nr counts every entry of the chain and head.first_nr the
 *     entries of the first block.
 *
 * Locking: none here; one transaction's lists are used by one caller at
 * a time (the transaction or server commit lock), as are the trees.
 *
 * Failure: an error part way through leaves the writer's blocks half
 * modified and the transaction is abandoned (see btree.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alloc.h"
#include "btree.h"
#include "log.h"

#define LIST_MAX SCOUTFS_ALLOC_LIST_MAX_BLKNOS

/* ------------------------------------------------------------------ */
/* List blocks                                                          */
/* ------------------------------------------------------------------ */

static uint64_t list_seq(void)
{
	uint64_t seq;

	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint64_t)(uintptr_t)&seq ^ 0x5a5a5a5a5a5a5a5aULL;
	return seq;
}

static int read_list_block(struct sfs_fs *fs, const struct scoutfs_block_ref *ref,
			   struct sfs_block **bl_ret)
{
	struct scoutfs_alloc_list_block *lb;
	struct sfs_block *bl;
	int ret;

	ret = sfs_block_read_ref(fs, ref, SCOUTFS_BLOCK_MAGIC_ALLOC_LIST, &bl);
	if (ret)
		return ret;
	lb = bl->data;
	if ((uint64_t)le32toh(lb->start) + le32toh(lb->nr) > LIST_MAX) {
		sfs_err(fs, "alloc list block %llu: entries [%u, +%u) overflow the block",
			(unsigned long long)bl->blkno, le32toh(lb->start), le32toh(lb->nr));
		sfs_block_put(fs, bl);
		return -EIO;
	}
	*bl_ret = bl;
	return 0;
}

/* a copy of (or, with old NULL, a new empty) list block at blkno, dirty in wri */
static struct sfs_block *new_list_block(struct sfs_fs *fs, struct sfs_block_writer *wri,
					uint64_t blkno, const struct sfs_block *old)
{
	struct scoutfs_alloc_list_block *lb;
	struct sfs_block *bl;

	bl = sfs_block_writer_new(fs, wri, blkno);
	if (!bl)
		return NULL;
	lb = bl->data;
	if (old)
		memcpy(lb, old->data, SCOUTFS_BLOCK_LG_SIZE);
	lb->hdr.magic = htole32(SCOUTFS_BLOCK_MAGIC_ALLOC_LIST);
	lb->hdr.fsid = htole64(fs->fsid);
	lb->hdr.seq = htole64(list_seq());
	lb->hdr.blkno = htole64(blkno);
	bl->checked = true;
	return bl;
}

static void head_set_block(struct scoutfs_alloc_list_head *head, const struct sfs_block *bl)
{
	const struct scoutfs_alloc_list_block *lb = bl->data;

	head->ref.blkno = lb->hdr.blkno;
	head->ref.seq = lb->hdr.seq;
	head->first_nr = lb->nr;
}

/* the first entry of a list block, removed */
static uint64_t pop_entry(struct scoutfs_alloc_list_block *lb)
{
	uint32_t start = le32toh(lb->start);
	uint32_t nr = le32toh(lb->nr);
	uint64_t blkno = le64toh(lb->blknos[start]);

	lb->blknos[start] = 0;
	nr--;
	lb->nr = htole32(nr);
	lb->start = htole32(nr ? start + 1 : 0);
	return blkno;
}

/* append (or prepend when the end is reached); false when the block is full */
static bool push_entry(struct scoutfs_alloc_list_block *lb, uint64_t blkno)
{
	uint32_t start = le32toh(lb->start);
	uint32_t nr = le32toh(lb->nr);

	if (start + nr < LIST_MAX) {
		lb->blknos[start + nr] = htole64(blkno);
	} else if (start > 0) {
		start--;
		lb->blknos[start] = htole64(blkno);
		lb->start = htole32(start);
	} else {
		return false;
	}
	lb->nr = htole32(nr + 1);
	return true;
}

/* ------------------------------------------------------------------ */
/* Transaction allocators: avail and freed lists                       */
/* ------------------------------------------------------------------ */

static int lists_alloc_meta(struct sfs_fs *fs, struct sfs_alloc *alloc,
			    struct sfs_block_writer *wri, uint64_t *blkno);
static int lists_free_meta(struct sfs_fs *fs, struct sfs_alloc *alloc,
			   struct sfs_block_writer *wri, uint64_t blkno);

static const struct sfs_alloc_ops lists_ops = {
	.alloc_meta = lists_alloc_meta,
	.free_meta = lists_free_meta,
};

void sfs_alloc_lists_init(struct sfs_alloc_lists *lists,
			  const struct scoutfs_alloc_list_head *avail,
			  const struct scoutfs_alloc_list_head *freed)
{
	memset(lists, 0, sizeof(*lists));
	lists->alloc.ops = &lists_ops;
	lists->avail = *avail;
	lists->freed = *freed;
}

/*
 * Make the avail list's first block dirty in wri.  Its copy lives in a
 * block taken from its own entries; the block it replaces is freed.
 */
static int dirty_avail(struct sfs_fs *fs, struct sfs_alloc_lists *lists,
		       struct sfs_block_writer *wri, struct sfs_block **bl_ret)
{
	struct scoutfs_alloc_list_head *head = &lists->avail;
	struct scoutfs_alloc_list_block *lb;
	struct sfs_block *old, *bl;
	uint64_t old_blkno, blkno;
	int ret;

	if (!head->ref.blkno)
		return -ENOSPC;
	ret = read_list_block(fs, &head->ref, &old);
	if (ret)
		return ret;
	if (sfs_block_writer_dirty(wri, old)) {
		*bl_ret = old;
		return 0;
	}
	lb = old->data;
	if (le32toh(lb->nr) == 0) {
		sfs_err(fs, "alloc list block %llu: the first avail block is empty",
			(unsigned long long)old->blkno);
		sfs_block_put(fs, old);
		return -EIO;
	}

	/* the copy takes the first entry of the old block */
	blkno = le64toh(lb->blknos[le32toh(lb->start)]);
	bl = new_list_block(fs, wri, blkno, old);
	old_blkno = old->blkno;
	sfs_block_put(fs, old);
	if (!bl)
		return -ENOMEM;
	pop_entry(bl->data);
	head_set_block(head, bl);
	head->total_nr = htole64(le64toh(head->total_nr) - 1);

	ret = lists_free_meta(fs, &lists->alloc, wri, old_blkno);
	if (ret) {
		sfs_block_put(fs, bl);
		return ret;
	}
	*bl_ret = bl;
	return 0;
}

/*
 * The avail list's first block is dirty and empty: the chain moves on to
 * the next block and the empty one (a block of this transaction) is freed.
 */
static int advance_avail(struct sfs_fs *fs, struct sfs_alloc_lists *lists,
			 struct sfs_block_writer *wri, struct sfs_block *bl)
{
	struct scoutfs_alloc_list_head *head = &lists->avail;
	struct scoutfs_alloc_list_block *lb = bl->data;
	struct sfs_block *next;
	uint64_t empty = bl->blkno;
	int ret;

	if (lb->next.blkno) {
		ret = read_list_block(fs, &lb->next, &next);
		if (ret) {
			sfs_block_put(fs, bl);
			return ret;
		}
		head->ref = lb->next;
		head->first_nr = ((struct scoutfs_alloc_list_block *)next->data)->nr;
		sfs_block_put(fs, next);
	} else {
		memset(&head->ref, 0, sizeof(head->ref));
		head->first_nr = 0;
	}
	sfs_block_put(fs, bl);
	return lists_free_meta(fs, &lists->alloc, wri, empty);
}

/*
 * Pop a block from the avail list.  Copying the first block (dirty_avail)
 * and freeing what it replaces can recurse into this allocator, so the
 * head is checked again after it: we only ever pop from the current head.
 */
static int lists_alloc_meta(struct sfs_fs *fs, struct sfs_alloc *alloc,
			    struct sfs_block_writer *wri, uint64_t *blkno)
{
	struct sfs_alloc_lists *lists = (struct sfs_alloc_lists *)alloc;
	struct scoutfs_alloc_list_head *head = &lists->avail;
	struct scoutfs_alloc_list_block *lb;
	struct sfs_block *bl;
	int ret;

	for (;;) {
		ret = dirty_avail(fs, lists, wri, &bl);
		if (ret)
			return ret;
		if (le64toh(head->ref.blkno) != bl->blkno) {
			sfs_block_put(fs, bl);
			continue;
		}
		lb = bl->data;
		if (lb->nr == 0) {
			ret = advance_avail(fs, lists, wri, bl);
			if (ret)
				return ret;
			continue;
		}
		*blkno = pop_entry(lb);
		head->first_nr = lb->nr;
		head->total_nr = htole64(le64toh(head->total_nr) - 1);
		if (lb->nr == 0)
			return advance_avail(fs, lists, wri, bl);
		sfs_block_put(fs, bl);
		return 0;
	}
}

/*
 * Push a block on the freed list.  A dirty first block with room takes
 * it.  Otherwise a new first block is needed (a copy of a clean first
 * block with room, or an empty block in front of a full or absent one),
 * and allocating it can recurse into this function and change the head:
 * when it did, the block we got is not needed and is freed like any other.
 */
static int lists_free_meta(struct sfs_fs *fs, struct sfs_alloc *alloc,
			   struct sfs_block_writer *wri, uint64_t blkno)
{
	struct sfs_alloc_lists *lists = (struct sfs_alloc_lists *)alloc;
	struct scoutfs_alloc_list_head *head = &lists->freed;
	struct scoutfs_block_ref was;
	struct sfs_block *old = NULL, *bl;
	uint64_t new_blkno, old_blkno = 0;
	int ret;

	for (;;) {
		if (head->ref.blkno) {
			ret = read_list_block(fs, &head->ref, &old);
			if (ret)
				return ret;
			if (sfs_block_writer_dirty(wri, old) && push_entry(old->data, blkno)) {
				head->first_nr = ((struct scoutfs_alloc_list_block *)old->data)->nr;
				head->total_nr = htole64(le64toh(head->total_nr) + 1);
				sfs_block_put(fs, old);
				return 0;
			}
			sfs_block_put(fs, old);
			old = NULL;
		}

		was = head->ref;
		ret = lists_alloc_meta(fs, alloc, wri, &new_blkno);
		if (ret)
			return ret;
		if (memcmp(&was, &head->ref, sizeof(was)) != 0) {
			ret = lists_free_meta(fs, alloc, wri, new_blkno);
			if (ret)
				return ret;
			continue;
		}
		break;
	}

	/* the head did not change while we allocated: it is clean, full or absent */
	if (head->ref.blkno) {
		ret = read_list_block(fs, &head->ref, &old);
		if (ret)
			return ret;
		if (sfs_block_writer_dirty(wri, old) ||
		    le32toh(((struct scoutfs_alloc_list_block *)old->data)->nr) >= LIST_MAX) {
			sfs_block_put(fs, old);
			old = NULL;
		}
	}
	if (old) {
		bl = new_list_block(fs, wri, new_blkno, old);
		old_blkno = old->blkno;
		sfs_block_put(fs, old);
	} else {
		bl = new_list_block(fs, wri, new_blkno, NULL);
		if (bl)
			((struct scoutfs_alloc_list_block *)bl->data)->next = head->ref;
	}
	if (!bl)
		return -ENOMEM;
	push_entry(bl->data, blkno);
	head_set_block(head, bl);
	head->total_nr = htole64(le64toh(head->total_nr) + 1);
	sfs_block_put(fs, bl);

	/* the clean block the copy replaced goes on the (now dirty) list too */
	if (old_blkno)
		return lists_free_meta(fs, alloc, wri, old_blkno);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Free-extent btrees                                                   */
/* ------------------------------------------------------------------ */

static struct scoutfs_key blkno_key(uint64_t last, uint64_t len)
{
	return sfs_key_make(SCOUTFS_FREE_EXTENT_BLKNO_ZONE, last, 0, len, 0, 0);
}

static struct scoutfs_key order_key(uint64_t last, uint64_t len)
{
	return sfs_key_make(SCOUTFS_FREE_EXTENT_ORDER_ZONE, UINT64_MAX - sfs_free_extent_order(len),
			    0, last, len, 0);
}

static int add_items(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_alloc_root *root, uint64_t start, uint64_t len)
{
	struct scoutfs_key k1 = blkno_key(start + len - 1, len);
	struct scoutfs_key k2 = order_key(start + len - 1, len);
	int ret;

	ret = sfs_btree_insert(fs, alloc, wri, &root->root, &k1, 0, 0, NULL, 0);
	if (!ret)
		ret = sfs_btree_insert(fs, alloc, wri, &root->root, &k2, 0, 0, NULL, 0);
	if (!ret)
		root->total_len = htole64(le64toh(root->total_len) + len);
	return ret;
}

static int del_items(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_alloc_root *root, uint64_t start, uint64_t len)
{
	struct scoutfs_key k1 = blkno_key(start + len - 1, len);
	struct scoutfs_key k2 = order_key(start + len - 1, len);
	int ret;

	ret = sfs_btree_delete(fs, alloc, wri, &root->root, &k1);
	if (!ret)
		ret = sfs_btree_delete(fs, alloc, wri, &root->root, &k2);
	if (ret == -ENOENT)
		ret = -EIO; /* one item of an extent without the other */
	if (!ret)
		root->total_len = htole64(le64toh(root->total_len) - len);
	return ret;
}

/* the free extent whose last block is >= blkno: 0, -ENOENT, or an error */
static int next_extent(struct sfs_fs *fs, const struct scoutfs_alloc_root *root, uint64_t blkno,
		       uint64_t *start, uint64_t *len)
{
	struct sfs_btree_item_ret *r;
	struct scoutfs_key key = blkno_key(blkno, 0);
	int ret;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = sfs_btree_next(fs, &root->root, &key, r);
	if (ret == 0 && r->key.sk_zone != SCOUTFS_FREE_EXTENT_BLKNO_ZONE)
		ret = -ENOENT;
	if (ret == 0) {
		*len = le64toh(r->key.skfb_len);
		*start = le64toh(r->key.skfb_end) - *len + 1;
	}
	free(r);
	return ret;
}

int sfs_alloc_insert_extent(struct sfs_fs *fs, struct sfs_alloc *alloc,
			    struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			    uint64_t start, uint64_t len)
{
	uint64_t s, l;
	int ret;

	if (len == 0 || start + len < start)
		return -EINVAL;

	/* the extent ending right before start, or overlapping it */
	ret = next_extent(fs, root, start ? start - 1 : 0, &s, &l);
	if (ret && ret != -ENOENT)
		return ret;
	if (ret == 0 && s < start + len) {
		if (s + l - 1 >= start) {
			sfs_err(fs, "alloc: freeing [%llu, +%llu) overlaps free extent [%llu, +%llu)",
				(unsigned long long)start, (unsigned long long)len,
				(unsigned long long)s, (unsigned long long)l);
			return -EIO;
		}
		/* s + l == start: merge with the left neighbour */
		ret = del_items(fs, alloc, wri, root, s, l);
		if (ret)
			return ret;
		start = s;
		len += l;
	}

	/* the extent starting right after */
	ret = next_extent(fs, root, start + len, &s, &l);
	if (ret && ret != -ENOENT)
		return ret;
	if (ret == 0 && s <= start + len) {
		if (s < start + len) {
			sfs_err(fs, "alloc: freeing [%llu, +%llu) overlaps free extent [%llu, +%llu)",
				(unsigned long long)start, (unsigned long long)len,
				(unsigned long long)s, (unsigned long long)l);
			return -EIO;
		}
		ret = del_items(fs, alloc, wri, root, s, l);
		if (ret)
			return ret;
		len += l;
	}

	return add_items(fs, alloc, wri, root, start, len);
}

int sfs_alloc_remove_extent(struct sfs_fs *fs, struct sfs_alloc *alloc,
			    struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			    uint64_t start, uint64_t len)
{
	uint64_t s, l;
	int ret;

	ret = next_extent(fs, root, start, &s, &l);
	if (ret == -ENOENT || (ret == 0 && (s > start || s + l < start + len))) {
		sfs_err(fs, "alloc: removing [%llu, +%llu) that is not free",
			(unsigned long long)start, (unsigned long long)len);
		return -EIO;
	}
	if (ret)
		return ret;
	ret = del_items(fs, alloc, wri, root, s, l);
	if (!ret && s < start)
		ret = add_items(fs, alloc, wri, root, s, start - s);
	if (!ret && s + l > start + len)
		ret = add_items(fs, alloc, wri, root, start + len, s + l - (start + len));
	return ret;
}

int sfs_alloc_alloc_extent(struct sfs_fs *fs, struct sfs_alloc *alloc,
			   struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			   uint64_t want, uint64_t *start_ret, uint64_t *len_ret)
{
	struct sfs_btree_item_ret *r;
	struct scoutfs_key key;
	uint64_t len, last;
	int ret;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	/* the first order item is in the largest size class */
	key = sfs_key_make(SCOUTFS_FREE_EXTENT_ORDER_ZONE, 0, 0, 0, 0, 0);
	ret = sfs_btree_next(fs, &root->root, &key, r);
	if (ret == 0 && r->key.sk_zone != SCOUTFS_FREE_EXTENT_ORDER_ZONE)
		ret = -ENOENT;
	if (ret == -ENOENT)
		ret = -ENOSPC;
	if (ret)
		goto out;
	last = le64toh(r->key.skfo_end);
	len = le64toh(r->key.skfo_len);
	*start_ret = last - len + 1;
	*len_ret = want < len ? want : len;
	ret = sfs_alloc_remove_extent(fs, alloc, wri, root, *start_ret, *len_ret);
out:
	free(r);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Moving between lists and trees (the server)                         */
/* ------------------------------------------------------------------ */

/*
 * An allocator cannot fill or empty its own lists: the blocks it needs
 * for the move would come from, or go to, the list being moved.  The
 * server double-buffers its lists for this.
 */
static bool is_own_list(const struct sfs_alloc *alloc, const struct scoutfs_alloc_list_head *head)
{
	const struct sfs_alloc_lists *lists = (const struct sfs_alloc_lists *)alloc;

	return alloc->ops == &lists_ops && (head == &lists->avail || head == &lists->freed);
}

/*
 * Fill a list up to target entries with blocks from a free-extent tree.
 * The list's blocks come from alloc (the server's own allocator), as do
 * the tree's copies.
 */
int sfs_alloc_fill_list(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			struct scoutfs_alloc_list_head *head, struct scoutfs_alloc_root *root,
			uint64_t target)
{
	struct scoutfs_alloc_list_block *lb;
	struct sfs_block *bl = NULL;
	uint64_t start, len, blkno, i;
	int ret = 0;

	if (is_own_list(alloc, head))
		return -EINVAL;
	while (le64toh(head->total_nr) < target) {
		if (!bl) {
			/* a new first block for the chain: never modify the old one */
			ret = sfs_alloc_meta(fs, alloc, wri, &blkno);
			if (ret)
				break;
			bl = new_list_block(fs, wri, blkno, NULL);
			if (!bl) {
				ret = -ENOMEM;
				break;
			}
			lb = bl->data;
			lb->next = head->ref;
			head_set_block(head, bl);
		}
		lb = bl->data;
		ret = sfs_alloc_alloc_extent(fs, alloc, wri, root,
					     target - le64toh(head->total_nr) <
							     LIST_MAX - le32toh(lb->nr) ?
						     target - le64toh(head->total_nr) :
						     LIST_MAX - le32toh(lb->nr),
					     &start, &len);
		if (ret)
			break;
		for (i = 0; i < len; i++)
			push_entry(lb, start + i);
		head->first_nr = lb->nr;
		head->total_nr = htole64(le64toh(head->total_nr) + len);
		if (le32toh(lb->nr) == LIST_MAX) {
			sfs_block_put(fs, bl);
			bl = NULL;
		}
	}
	sfs_block_put(fs, bl);
	return ret;
}

/*
 * Return every blkno on a list to a free-extent tree, leaving the list
 * empty.  The list's own blocks are different: the durable state still
 * references them (the head being emptied is part of it until this
 * transaction commits), so they go on alloc's freed list, to be reused
 * only once this transaction is durable.  Reusing them at once would
 * leave a crash before the commit with a head pointing at overwritten
 * list blocks.
 */
int sfs_alloc_empty_list(struct sfs_fs *fs, struct sfs_alloc *alloc,
			 struct sfs_block_writer *wri, struct scoutfs_alloc_root *root,
			 struct scoutfs_alloc_list_head *head)
{
	struct scoutfs_alloc_list_block *lb;
	struct scoutfs_block_ref ref = head->ref;
	struct sfs_block *bl;
	uint64_t *blknos = NULL;
	uint64_t list_blkno;
	uint32_t nr, i;
	int ret = 0;

	if (is_own_list(alloc, head))
		return -EINVAL;
	blknos = malloc(sizeof(*blknos) * (LIST_MAX + 1));
	if (!blknos)
		return -ENOMEM;
	while (ref.blkno) {
		ret = read_list_block(fs, &ref, &bl);
		if (ret)
			break;
		lb = bl->data;
		nr = le32toh(lb->nr);
		for (i = 0; i < nr; i++)
			blknos[i] = le64toh(lb->blknos[le32toh(lb->start) + i]);
		list_blkno = bl->blkno;
		ref = lb->next;
		/* a dirty copy of this block will never be written now */
		if (bl->writer)
			sfs_block_invalidate(fs, bl);
		sfs_block_put(fs, bl);

		for (i = 0; i < nr && !ret; i++)
			ret = sfs_alloc_insert_extent(fs, alloc, wri, root, blknos[i], 1);
		if (!ret)
			ret = sfs_free_meta(fs, alloc, wri, list_blkno);
		if (ret)
			break;
	}
	free(blknos);
	if (!ret)
		memset(head, 0, sizeof(*head));
	return ret;
}

int sfs_alloc_lists_check_growth(const struct sfs_alloc_lists *lists, uint64_t need)
{
	if (le32toh(lists->avail.flags) & SCOUTFS_ALLOC_FLAG_LOW)
		return -ENOSPC;
	return le64toh(lists->avail.total_nr) >= need ? 0 : -ENOSPC;
}

/* move total blocks worth of extents from one tree to another */
int sfs_alloc_move(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		   struct scoutfs_alloc_root *dst, struct scoutfs_alloc_root *src, uint64_t total)
{
	uint64_t start, len;
	int ret = 0;

	while (total > 0) {
		ret = sfs_alloc_alloc_extent(fs, alloc, wri, src, total, &start, &len);
		if (ret)
			break;
		ret = sfs_alloc_insert_extent(fs, alloc, wri, dst, start, len);
		if (ret)
			break;
		total -= len;
	}
	return ret;
}

static bool zone_bit(const uint64_t *zones, uint64_t nr)
{
	return (zones[nr / 64] >> (nr % 64)) & 1;
}

/*
 * Move up to *total blocks of the zones set in zones from src to dst:
 * zone by zone, lowest blocks first, each piece clipped to its zone.
 * *total is what is still to move.
 */
static int move_zones(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		      struct scoutfs_alloc_root *dst, struct scoutfs_alloc_root *src,
		      uint64_t *total, uint64_t zone_blocks, const uint64_t *zones)
{
	uint64_t z, zs, ze, pos, s, l, start, end, len;
	int ret;

	for (z = 0; z < SCOUTFS_DATA_ALLOC_MAX_ZONES && *total; z++) {
		if (!zone_bit(zones, z))
			continue;
		zs = z * zone_blocks;
		if (zs / zone_blocks != z)
			break;	/* past any device */
		ze = zs + zone_blocks < zs ? UINT64_MAX : zs + zone_blocks;
		for (pos = zs; *total && pos < ze; pos = start + len) {
			ret = next_extent(fs, src, pos, &s, &l);
			if (ret == -ENOENT)
				return 0;	/* nothing free from here on */
			if (ret)
				return ret;
			if (s >= ze)
				break;
			start = s > pos ? s : pos;
			end = s + l < ze ? s + l : ze;
			len = end - start < *total ? end - start : *total;
			ret = sfs_alloc_remove_extent(fs, alloc, wri, src, start, len) ?:
			      sfs_alloc_insert_extent(fs, alloc, wri, dst, start, len);
			if (ret)
				return ret;
			*total -= len;
		}
	}
	return 0;
}

int sfs_alloc_move_zoned(struct sfs_fs *fs, struct sfs_alloc *alloc,
			 struct sfs_block_writer *wri, struct scoutfs_alloc_root *dst,
			 struct scoutfs_alloc_root *src, uint64_t total, uint64_t zone_blocks,
			 const uint64_t *exclusive, const uint64_t *vacant)
{
	int ret = 0;

	if (zone_blocks) {
		if (exclusive)
			ret = move_zones(fs, alloc, wri, dst, src, &total, zone_blocks, exclusive);
		if (!ret && vacant)
			ret = move_zones(fs, alloc, wri, dst, src, &total, zone_blocks, vacant);
	}
	if (!ret && total)
		ret = sfs_alloc_move(fs, alloc, wri, dst, src, total);
	return ret;
}

void sfs_alloc_zones_mark(uint64_t *zones, uint64_t zone_blocks, uint64_t start, uint64_t len,
			  bool set)
{
	uint64_t z, last;

	if (!zone_blocks || !len)
		return;
	last = (start + len - 1) / zone_blocks;
	if (last >= SCOUTFS_DATA_ALLOC_MAX_ZONES)
		last = SCOUTFS_DATA_ALLOC_MAX_ZONES - 1;
	for (z = start / zone_blocks; z <= last; z++) {
		if (set)
			zones[z / 64] |= 1ULL << (z % 64);
		else
			zones[z / 64] &= ~(1ULL << (z % 64));
	}
}

/* ------------------------------------------------------------------ */
/* Walking what an allocator holds, for audits                         */
/* ------------------------------------------------------------------ */

int sfs_alloc_walk_list(struct sfs_fs *fs, const struct scoutfs_alloc_list_head *head,
			void (*cb)(void *arg, uint64_t blkno, bool list_block), void *arg)
{
	struct scoutfs_alloc_list_block *lb;
	struct scoutfs_block_ref ref = head->ref;
	struct sfs_block *bl;
	uint64_t total = 0;
	unsigned int blocks = 0;
	uint32_t i;
	int ret;

	while (ref.blkno) {
		if (++blocks > 1 + le64toh(head->total_nr) / 1 + 1) {
			sfs_err(fs, "alloc list: chain longer than its %llu entries allow",
				(unsigned long long)le64toh(head->total_nr));
			return -EIO;
		}
		ret = read_list_block(fs, &ref, &bl);
		if (ret)
			return ret;
		lb = bl->data;
		if (ref.blkno == head->ref.blkno && lb->nr != head->first_nr) {
			sfs_err(fs, "alloc list block %llu: holds %u entries, its head says %u",
				(unsigned long long)bl->blkno, le32toh(lb->nr),
				le32toh(head->first_nr));
			sfs_block_put(fs, bl);
			return -EIO;
		}
		cb(arg, bl->blkno, true);
		for (i = 0; i < le32toh(lb->nr); i++)
			cb(arg, le64toh(lb->blknos[le32toh(lb->start) + i]), false);
		total += le32toh(lb->nr);
		ref = lb->next;
		sfs_block_put(fs, bl);
	}
	if (total != le64toh(head->total_nr)) {
		sfs_err(fs, "alloc list: holds %llu entries, its head says %llu",
			(unsigned long long)total, (unsigned long long)le64toh(head->total_nr));
		return -EIO;
	}
	return 0;
}

int sfs_alloc_walk_extents(struct sfs_fs *fs, const struct scoutfs_alloc_root *root,
			   void (*cb)(void *arg, uint64_t start, uint64_t len), void *arg)
{
	struct sfs_btree_item_ret *r;
	struct scoutfs_key key;
	uint64_t total = 0, prev_end = 0, start, len, n_blkno = 0, n_order = 0;
	int ret;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	sfs_key_set_zero(&key);
	while ((ret = sfs_btree_next(fs, &root->root, &key, r)) == 0) {
		if (r->key.sk_zone == SCOUTFS_FREE_EXTENT_BLKNO_ZONE) {
			len = le64toh(r->key.skfb_len);
			start = le64toh(r->key.skfb_end) - len + 1;
			if (len == 0 || (n_blkno && start <= prev_end)) {
				sfs_err(fs, "alloc: free extent [%llu, +%llu) is empty, overlaps or touches the one before",
					(unsigned long long)start, (unsigned long long)len);
				ret = -EIO;
				break;
			}
			prev_end = start + len;
			total += len;
			n_blkno++;
			if (cb)
				cb(arg, start, len);
		} else if (r->key.sk_zone == SCOUTFS_FREE_EXTENT_ORDER_ZONE) {
			n_order++;
		} else {
			sfs_err(fs, "alloc: item of zone %u in a free extent tree", r->key.sk_zone);
			ret = -EIO;
			break;
		}
		key = r->key;
		sfs_key_inc(&key);
	}
	free(r);
	if (ret == -ENOENT)
		ret = 0;
	if (!ret && (n_blkno != n_order || total != le64toh(root->total_len))) {
		sfs_err(fs, "alloc: %llu extents by blkno, %llu by order, %llu blocks, total_len %llu",
			(unsigned long long)n_blkno, (unsigned long long)n_order,
			(unsigned long long)total, (unsigned long long)le64toh(root->total_len));
		ret = -EIO;
	}
	return ret;
}
