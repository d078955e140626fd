// SPDX-License-Identifier: GPL-2.0
/*
 * Btree blocks: the in-block layer.
 *
 * A block is a 48 byte header, a dense array of 56 byte items growing up
 * from offset 48, a free gap (mid_free_len), values growing down from the
 * end (E = 62512 in leaves, 65536 in parents) and, in leaves, a 1512
 * bucket hash table of item offsets at the very end.  Key order lives
 * only in the AVL tree threaded through the items; the array is in
 * insertion order.
 *
 * Invariants every block written by us keeps (format-spec.md 8.8):
 *  1. AVL links are offsets relative to block offset 32 and name items
 *     inside the array; parent links are consistent with child links.
 *  2. An in-order walk yields strictly increasing keys.
 *  3. Values are 8-byte aligned, inside [gap end, E), non-overlapping;
 *     total_item_bytes = sum of 56 + round_up(val_len, 8).
 *  4. Leaves: every item is in exactly one bucket, reachable from its
 *     home bucket fnv1a32(key) % 1512 by linear probing with wrap, and
 *     no other bucket is used.
 *
 * Readers must not trust any of this: sfs_btree_block_verify() checks it
 * all before a block read from disk is used, and the walkers below stop
 * rather than loop on a corrupt block.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"

#define ITEM_SIZE ((unsigned int)sizeof(struct scoutfs_btree_item))
#define HDR_SIZE ((unsigned int)sizeof(struct scoutfs_btree_block))

static unsigned int round_up8(unsigned int len)
{
	return (len + 7) & ~7U;
}

static int link_index(const struct scoutfs_btree_block *bt, uint16_t link)
{
	unsigned int nr = le16toh(bt->nr_items);

	if (link < 16 || (link - 16) % ITEM_SIZE != 0 || (link - 16U) / ITEM_SIZE >= nr)
		return -1;
	return (link - 16) / ITEM_SIZE;
}

const struct scoutfs_btree_item *sfs_btree_link_item(const struct scoutfs_btree_block *bt,
						     uint16_t link)
{
	int i = link_index(bt, link);

	return i < 0 ? NULL : &bt->items[i];
}

static uint16_t item_link(const struct scoutfs_btree_block *bt,
			  const struct scoutfs_btree_item *item)
{
	return sfs_btree_item_link((unsigned int)(item - bt->items));
}

void sfs_btree_block_init(struct scoutfs_btree_block *bt, uint8_t level)
{
	memset(&bt->item_root, 0, HDR_SIZE - offsetof(struct scoutfs_btree_block, item_root));
	bt->level = level;
	bt->mid_free_len = htole16((uint16_t)(sfs_btree_block_end(level) - HDR_SIZE));
	if (level == 0)
		memset(sfs_btree_leaf_hash(bt), 0, SCOUTFS_BTREE_LEAF_ITEM_HASH_BYTES);
}

static int leaf_hash_insert(struct scoutfs_btree_block *bt, const struct scoutfs_key *key,
			    unsigned int item_off)
{
	__le16 *buckets = sfs_btree_leaf_hash(bt);
	unsigned int b = sfs_leaf_hash_bucket(key);
	unsigned int i;

	for (i = 0; i < SCOUTFS_BTREE_LEAF_ITEM_HASH_NR; i++) {
		if (buckets[b] == 0) {
			buckets[b] = htole16((uint16_t)item_off);
			return 0;
		}
		b = (b + 1) % SCOUTFS_BTREE_LEAF_ITEM_HASH_NR;
	}
	return -ENOSPC;
}

int sfs_btree_append_item(struct scoutfs_btree_block *bt, const struct scoutfs_key *key,
			  uint64_t seq, uint8_t flags, const void *val, unsigned int val_len)
{
	unsigned int nr = le16toh(bt->nr_items);
	unsigned int free_len = le16toh(bt->mid_free_len);
	unsigned int need = ITEM_SIZE + round_up8(val_len);
	struct scoutfs_btree_item *item;
	struct scoutfs_btree_item *root;
	unsigned int val_off;
	int ret;

	if (val_len > SCOUTFS_BTREE_MAX_VAL_LEN || (val_len && !val))
		return -EINVAL;
	if (need > free_len || (bt->level == 0 && nr >= SCOUTFS_BTREE_LEAF_MAX_ITEMS))
		return -ENOSPC;

	root = (struct scoutfs_btree_item *)sfs_btree_link_item(bt, le16toh(bt->item_root.node));
	if (root && sfs_key_cmp(key, &root->key) <= 0)
		return -EINVAL;

	item = &bt->items[nr];
	memset(item, 0, ITEM_SIZE);
	item->key = *key;
	item->seq = htole64(seq);
	item->flags = flags;
	item->val_len = htole16((uint16_t)val_len);

	/* the item takes the front of the gap, the value its back */
	nr++;
	free_len -= ITEM_SIZE;
	if (val_len) {
		val_off = sfs_btree_item_off(nr) + free_len - round_up8(val_len);
		memcpy((char *)bt + val_off, val, val_len);
		memset((char *)bt + val_off + val_len, 0, round_up8(val_len) - val_len);
		item->val_off = htole16((uint16_t)val_off);
		free_len -= round_up8(val_len);
	}

	if (bt->level == 0) {
		ret = leaf_hash_insert(bt, key, sfs_btree_item_off(nr - 1));
		if (ret)
			return ret; /* can't happen below the item limit */
	}

	/* left-leaning chain: the new item is the root, the old root its left */
	if (root) {
		item->node.left = bt->item_root.node;
		root->node.parent = item_link(bt, item);
		root->node.height = 1;
	}
	item->node.height = 0;
	bt->item_root.node = item_link(bt, item);

	bt->nr_items = htole16((uint16_t)nr);
	bt->mid_free_len = htole16((uint16_t)free_len);
	bt->total_item_bytes = htole16((uint16_t)(le16toh(bt->total_item_bytes) + need));
	return 0;
}

/* leftmost descendant; gives up (NULL) after more steps than items */
static const struct scoutfs_btree_item *leftmost(const struct scoutfs_btree_block *bt,
						 const struct scoutfs_btree_item *item)
{
	const struct scoutfs_btree_item *left;
	unsigned int steps = 0;

	while (item && (left = sfs_btree_link_item(bt, le16toh(item->node.left)))) {
		if (++steps > le16toh(bt->nr_items))
			return NULL;
		item = left;
	}
	return item;
}

const struct scoutfs_btree_item *sfs_btree_first_item(const struct scoutfs_btree_block *bt)
{
	return leftmost(bt, sfs_btree_link_item(bt, le16toh(bt->item_root.node)));
}

const struct scoutfs_btree_item *sfs_btree_next_item(const struct scoutfs_btree_block *bt,
						     const struct scoutfs_btree_item *item)
{
	const struct scoutfs_btree_item *right;
	const struct scoutfs_btree_item *parent;
	unsigned int steps = 0;

	right = sfs_btree_link_item(bt, le16toh(item->node.right));
	if (right)
		return leftmost(bt, right);

	/* climb until we come up from a left child */
	for (;;) {
		parent = sfs_btree_link_item(bt, le16toh(item->node.parent));
		if (!parent || ++steps > le16toh(bt->nr_items))
			return NULL;
		if (le16toh(parent->node.left) == item_link(bt, item))
			return parent;
		item = parent;
	}
}

const struct scoutfs_btree_item *sfs_btree_leaf_lookup(const struct scoutfs_btree_block *bt,
						       const struct scoutfs_key *key)
{
	const __le16 *buckets = sfs_btree_leaf_hash((struct scoutfs_btree_block *)bt);
	unsigned int nr = le16toh(bt->nr_items);
	unsigned int b = sfs_leaf_hash_bucket(key);
	const struct scoutfs_btree_item *item;
	unsigned int off;
	unsigned int i;

	for (i = 0; i < SCOUTFS_BTREE_LEAF_ITEM_HASH_NR; i++) {
		off = le16toh(buckets[b]);
		if (off == 0)
			return NULL;
		if (off >= HDR_SIZE && (off - HDR_SIZE) % ITEM_SIZE == 0 &&
		    (off - HDR_SIZE) / ITEM_SIZE < nr) {
			item = &bt->items[(off - HDR_SIZE) / ITEM_SIZE];
			if (sfs_key_cmp(&item->key, key) == 0)
				return item;
		}
		b = (b + 1) % SCOUTFS_BTREE_LEAF_ITEM_HASH_NR;
	}
	return NULL;
}

#define FAIL(fmt, ...)                                               \
	do {                                                         \
		snprintf(why, why_len, fmt, ##__VA_ARGS__);          \
		ret = -EIO;                                          \
		goto out;                                            \
	} while (0)

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int sfs_btree_block_verify(const struct scoutfs_btree_block *bt, int level, char *why,
			   size_t why_len)
{
	unsigned int nr = le16toh(bt->nr_items);
	unsigned int end = sfs_btree_block_end(bt->level);
	unsigned int array_end = HDR_SIZE + nr * ITEM_SIZE;
	const struct scoutfs_btree_item *item, *prev, *kid;
	uint16_t *val_offs = NULL;
	uint8_t *seen = NULL;
	unsigned int nr_vals = 0;
	unsigned int total = 0;
	unsigned int lowest_val = end;
	unsigned int i, off, len, visited;
	int ret = 0;

	if (why_len)
		why[0] = '\0';
	if (level >= 0 && bt->level != level)
		FAIL("level %u, expected %d", bt->level, level);
	if (bt->level >= SCOUTFS_BTREE_MAX_HEIGHT)
		FAIL("level %u too high", bt->level);
	if (array_end > end)
		FAIL("%u items overflow the block", nr);
	if (nr == 0 && bt->item_root.node != 0)
		FAIL("item_root %u with no items", le16toh(bt->item_root.node));
	if (nr > 0 && !sfs_btree_link_item(bt, le16toh(bt->item_root.node)))
		FAIL("invalid item_root %u", le16toh(bt->item_root.node));

	seen = calloc(nr ? nr : 1, 1);
	val_offs = calloc(nr ? nr : 1, sizeof(*val_offs));
	if (!seen || !val_offs) {
		ret = -ENOMEM;
		snprintf(why, why_len, "out of memory");
		goto out;
	}

	/* every item: links, value placement and size */
	for (i = 0; i < nr; i++) {
		item = &bt->items[i];
		len = le16toh(item->val_len);
		off = le16toh(item->val_off);

		if (item->node.parent && !sfs_btree_link_item(bt, le16toh(item->node.parent)))
			FAIL("item %u: invalid parent link %u", i, le16toh(item->node.parent));
		if (item->node.left && !sfs_btree_link_item(bt, le16toh(item->node.left)))
			FAIL("item %u: invalid left link %u", i, le16toh(item->node.left));
		if (item->node.right && !sfs_btree_link_item(bt, le16toh(item->node.right)))
			FAIL("item %u: invalid right link %u", i, le16toh(item->node.right));
		kid = sfs_btree_link_item(bt, le16toh(item->node.left));
		if (kid && le16toh(kid->node.parent) != sfs_btree_item_link(i))
			FAIL("item %u: left child's parent link is %u", i,
			     le16toh(kid->node.parent));
		kid = sfs_btree_link_item(bt, le16toh(item->node.right));
		if (kid && le16toh(kid->node.parent) != sfs_btree_item_link(i))
			FAIL("item %u: right child's parent link is %u", i,
			     le16toh(kid->node.parent));
		if (!item->node.parent && le16toh(bt->item_root.node) != sfs_btree_item_link(i))
			FAIL("item %u has no parent and is not the root", i);

		if (len > SCOUTFS_BTREE_MAX_VAL_LEN)
			FAIL("item %u: value length %u > %u", i, len, SCOUTFS_BTREE_MAX_VAL_LEN);
		if (len == 0 && off != 0)
			FAIL("item %u: value offset %u with no value", i, off);
		if (len) {
			if (off % 8 || off < array_end || off + round_up8(len) > end)
				FAIL("item %u: value at %u len %u outside [%u, %u)", i, off, len,
				     array_end, end);
			val_offs[nr_vals++] = (uint16_t)i;
			if (off < lowest_val)
				lowest_val = off;
		}
		if (bt->level > 0 && len != sizeof(struct scoutfs_block_ref))
			FAIL("parent item %u: value length %u, expected 16", i, len);
		if ((item->flags & ~SCOUTFS_BTREE_ITEM_FLAG_DELETION) ||
		    ((item->flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION) && len))
			FAIL("item %u: invalid flags 0x%x", i, item->flags);
		total += ITEM_SIZE + round_up8(len);
	}

	if (total != le16toh(bt->total_item_bytes))
		FAIL("total_item_bytes %u, items use %u", le16toh(bt->total_item_bytes), total);
	if (array_end + le16toh(bt->mid_free_len) > lowest_val)
		FAIL("mid_free_len %u overlaps values at %u", le16toh(bt->mid_free_len),
		     lowest_val);

	/* values must not overlap: sort by offset and compare neighbours */
	for (i = 0; i < nr_vals; i++)
		val_offs[i] = le16toh(bt->items[val_offs[i]].val_off);
	qsort(val_offs, nr_vals, sizeof(*val_offs), cmp_u16);
	for (i = 1; i < nr_vals; i++) {
		/* a value's extent is at least 8 bytes; exact lengths checked above */
		if (val_offs[i] == val_offs[i - 1])
			FAIL("two values at offset %u", val_offs[i]);
	}
	for (i = 0; i < nr; i++) {
		item = &bt->items[i];
		len = le16toh(item->val_len);
		if (!len)
			continue;
		off = le16toh(item->val_off);
		/* binary search the next greater offset */
		{
			unsigned int lo = 0, hi = nr_vals;

			while (lo < hi) {
				unsigned int mid = (lo + hi) / 2;

				if (val_offs[mid] <= off)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < nr_vals && off + round_up8(len) > val_offs[lo])
				FAIL("item %u: value at %u len %u overlaps value at %u", i, off,
				     len, val_offs[lo]);
		}
	}

	/* in-order walk: visits every item once, keys strictly increasing */
	visited = 0;
	prev = NULL;
	for (item = sfs_btree_first_item(bt); item; item = sfs_btree_next_item(bt, item)) {
		i = (unsigned int)(item - bt->items);
		if (seen[i] || ++visited > nr)
			FAIL("AVL links form a cycle at item %u", i);
		seen[i] = 1;
		if (prev && sfs_key_cmp(&prev->key, &item->key) >= 0)
			FAIL("item %u: key not greater than its predecessor", i);
		prev = item;
	}
	if (visited != nr)
		FAIL("AVL walk reached %u of %u items", visited, nr);

	/* leaves: the hash table holds exactly the items, each findable */
	if (bt->level == 0) {
		const __le16 *buckets = sfs_btree_leaf_hash((struct scoutfs_btree_block *)bt);
		unsigned int used = 0;

		for (i = 0; i < SCOUTFS_BTREE_LEAF_ITEM_HASH_NR; i++) {
			off = le16toh(buckets[i]);
			if (!off)
				continue;
			if (off < HDR_SIZE || (off - HDR_SIZE) % ITEM_SIZE ||
			    (off - HDR_SIZE) / ITEM_SIZE >= nr)
				FAIL("hash bucket %u holds invalid offset %u", i, off);
			used++;
		}
		if (used != nr)
			FAIL("hash table holds %u entries for %u items", used, nr);
		for (i = 0; i < nr; i++) {
			if (sfs_btree_leaf_lookup(bt, &bt->items[i].key) != &bt->items[i])
				FAIL("item %u is not reachable through the hash table", i);
		}
	}

out:
	free(seen);
	free(val_offs);
	return ret;
}
