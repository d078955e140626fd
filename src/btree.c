// SPDX-License-Identifier: GPL-2.0
/*
 * Btrees: copy-on-write trees of 64 KiB blocks, laid out exactly as
 * format-spec.md section 8 says.
 *
 * A block is a 48 byte header, a dense array of 56 byte items growing up
 * from offset 48, a free gap (mid_free_len), values growing down from the
 * end (E = 62512 in leaves, 65536 in parents) and, in leaves, a 1512
 * bucket hash table of item offsets at the very end.  Key order lives
 * only in the AVL tree threaded through the items; the array is in
 * insertion order.  Parent items are keyed by the greatest key their
 * child may hold and carry a block_ref; the right spine ends in the ones
 * key.
 *
 * Invariants every block written by us keeps (format-spec.md 8.8):
 *  1. AVL links are offsets relative to block offset 32 and name items
 *     inside the array; parent links are consistent with child links;
 *     heights are exact and the tree balanced (blocks we copy are rebuilt,
 *     which also repairs the reference mkfs's wrong heights).
 *  2. An in-order walk yields strictly increasing keys.
 *  3. Values are 8-byte aligned, inside [gap end, E), non-overlapping;
 *     total_item_bytes = sum of 56 + round_up(val_len, 8).
 *  4. Leaves: every item is in exactly one bucket, reachable from its
 *     home bucket fnv1a32(key) % 1512 by linear probing with wrap, and
 *     no other bucket is used.
 *
 * Readers trust nothing: a block read from disk passes
 * sfs_btree_block_verify() once per cached copy before it is used, and
 * the walkers stop rather than loop on a corrupt block.
 *
 * Writes (the tree layer at the end of this file) copy every block on
 * the path into the caller's writer: a block already dirty in that
 * writer is reused, anything else is copied to a newly allocated block
 * and the old one freed to the transaction's allocator (so it is not
 * reused before the transaction is durable).  On the way down a write
 * makes sure the leaf change cannot propagate back up: inserts give every
 * parent room for one more item and the leaf room for the new item,
 * compacting or splitting (a full root first grows a new root above
 * it); deletes refill every block under a quarter full from a sibling
 * (merging small siblings, freeing the emptied one) and replace a root
 * parent holding one item with its child.
 *
 * Locking: none here.  One writer per tree at a time; the caller also
 * serializes reads of a tree it is writing.  Readers of a tree another
 * node may be rewriting get -ESTALE from the block layer when a block
 * changed under them, and retry from fresh roots.
 *
 * Failure: an error other than -ENOENT/-EEXIST from a write may leave
 * the writer's blocks half modified: the transaction is abandoned
 * (sfs_block_writer_forget and the old root).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "btree.h"
#include "log.h"

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

static int leaf_hash_insert_at(struct scoutfs_btree_block *bt, unsigned int b,
			       unsigned int item_off)
{
	__le16 *buckets = sfs_btree_leaf_hash(bt);
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

static int leaf_hash_insert(struct scoutfs_btree_block *bt, const struct scoutfs_key *key,
			    unsigned int item_off)
{
	return leaf_hash_insert_at(bt, sfs_leaf_hash_bucket(key), item_off);
}

/* keys hashed side by side: FNV-1a is one long dependency chain per key */
#define HASH_LANES 8

/*
 * The leaf hash buckets (sfs_leaf_hash_bucket) of nr keys, the i-th at
 * base + i * stride, into buckets[i]; HASH_LANES keys at a time.
 */
static void hash_keys(const void *base, size_t stride, size_t nr, uint16_t *buckets,
		      size_t bucket_stride)
{
	const uint8_t *p[HASH_LANES];
	uint32_t h[HASH_LANES];
	size_t i, lanes;
	unsigned int j, l;

	for (i = 0; i < nr; i += lanes) {
		lanes = nr - i < HASH_LANES ? nr - i : HASH_LANES;
		for (l = 0; l < HASH_LANES; l++) {
			h[l] = 0x811c9dc5U;
			p[l] = (const uint8_t *)base + (i + (l < lanes ? l : 0)) * stride;
		}
		for (j = 0; j < sizeof(struct scoutfs_key); j++)
			for (l = 0; l < HASH_LANES; l++)
				h[l] = (h[l] ^ p[l][j]) * 0x01000193U;
		for (l = 0; l < lanes; l++)
			*(uint16_t *)((char *)buckets + (i + l) * bucket_stride) =
				(uint16_t)(h[l] % SCOUTFS_BTREE_LEAF_ITEM_HASH_NR);
	}
}

void sfs_btree_list_hash(struct sfs_btree_list_item *items, size_t nr)
{
	size_t i;

	hash_keys(&items[0].key, sizeof(items[0]), nr, &items[0].bucket1, sizeof(items[0]));
	for (i = 0; i < nr; i++)
		items[i].bucket1++;
}

/*
 * Fill the empty hash table of a leaf whose n items were just laid out
 * in key order: the same table as inserting them one by one in that
 * order.  known[i], when given and not 0, is item i's bucket + 1.
 */
static void leaf_hash_fill(struct scoutfs_btree_block *bt, unsigned int n, const uint16_t *known)
{
	uint16_t buckets[SCOUTFS_BTREE_LEAF_MAX_ITEMS];
	unsigned int i, j;

	for (i = 0; i < n; i = j) {
		if (known && known[i]) {
			buckets[i] = known[i] - 1;
			j = i + 1;
			continue;
		}
		/* a run of unknown ones */
		for (j = i + 1; j < n && !(known && known[j]); j++)
			;
		hash_keys(&bt->items[i].key, ITEM_SIZE, j - i, &buckets[i], sizeof(buckets[0]));
	}
	for (i = 0; i < n; i++)
		leaf_hash_insert_at(bt, buckets[i], sfs_btree_item_off(i));
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

/* ------------------------------------------------------------------ */
/* In-block AVL tree, on blocks that passed verification or we built    */
/* ------------------------------------------------------------------ */

#define NODE_GET(it, f) le16toh((it)->node.f)
#define NODE_SET(it, f, v) ((it)->node.f = htole16((uint16_t)(v)))

static struct scoutfs_btree_item *lnk(struct scoutfs_btree_block *bt, uint16_t link)
{
	return link ? &bt->items[(link - 16) / ITEM_SIZE] : NULL;
}

static uint16_t ilink(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it)
{
	return sfs_btree_item_link((unsigned int)(it - bt->items));
}

static int lheight(struct scoutfs_btree_block *bt, uint16_t link)
{
	return link ? lnk(bt, link)->node.height : 0;
}

static void fix_height(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it)
{
	int l = lheight(bt, NODE_GET(it, left));
	int r = lheight(bt, NODE_GET(it, right));

	it->node.height = (uint8_t)(1 + (l > r ? l : r));
}

static void replace_child(struct scoutfs_btree_block *bt, uint16_t parent, uint16_t old,
			  uint16_t new)
{
	struct scoutfs_btree_item *p = lnk(bt, parent);

	if (!p)
		bt->item_root.node = htole16(new);
	else if (NODE_GET(p, left) == old)
		NODE_SET(p, left, new);
	else
		NODE_SET(p, right, new);
}

static void rotate_left(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *x)
{
	struct scoutfs_btree_item *y = lnk(bt, NODE_GET(x, right));
	uint16_t xl = ilink(bt, x), yl = ilink(bt, y);
	uint16_t b = NODE_GET(y, left);

	NODE_SET(x, right, b);
	if (b)
		NODE_SET(lnk(bt, b), parent, xl);
	NODE_SET(y, parent, NODE_GET(x, parent));
	replace_child(bt, NODE_GET(x, parent), xl, yl);
	NODE_SET(y, left, xl);
	NODE_SET(x, parent, yl);
	fix_height(bt, x);
	fix_height(bt, y);
}

static void rotate_right(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *x)
{
	struct scoutfs_btree_item *y = lnk(bt, NODE_GET(x, left));
	uint16_t xl = ilink(bt, x), yl = ilink(bt, y);
	uint16_t b = NODE_GET(y, right);

	NODE_SET(x, left, b);
	if (b)
		NODE_SET(lnk(bt, b), parent, xl);
	NODE_SET(y, parent, NODE_GET(x, parent));
	replace_child(bt, NODE_GET(x, parent), xl, yl);
	NODE_SET(y, right, xl);
	NODE_SET(x, parent, yl);
	fix_height(bt, x);
	fix_height(bt, y);
}

/* restore heights and balance from it up to the root */
static void rebalance(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it)
{
	struct scoutfs_btree_item *kid;
	int bf;

	while (it) {
		fix_height(bt, it);
		bf = lheight(bt, NODE_GET(it, left)) - lheight(bt, NODE_GET(it, right));
		if (bf > 1) {
			kid = lnk(bt, NODE_GET(it, left));
			if (lheight(bt, NODE_GET(kid, left)) < lheight(bt, NODE_GET(kid, right)))
				rotate_left(bt, kid);
			rotate_right(bt, it);
			it = lnk(bt, NODE_GET(it, parent)); /* the subtree's new root */
		} else if (bf < -1) {
			kid = lnk(bt, NODE_GET(it, right));
			if (lheight(bt, NODE_GET(kid, right)) < lheight(bt, NODE_GET(kid, left)))
				rotate_right(bt, kid);
			rotate_left(bt, it);
			it = lnk(bt, NODE_GET(it, parent));
		}
		it = lnk(bt, NODE_GET(it, parent));
	}
}

/*
 * Search: the item with key (returned), or NULL with *parent the last
 * node visited and *cmp the side (< 0 left, > 0 right) key would go.
 */
static struct scoutfs_btree_item *avl_search(struct scoutfs_btree_block *bt,
					     const struct scoutfs_key *key,
					     struct scoutfs_btree_item **parent, int *cmp)
{
	struct scoutfs_btree_item *it = lnk(bt, le16toh(bt->item_root.node));
	int c;

	*parent = NULL;
	*cmp = 0;
	while (it) {
		c = sfs_key_cmp(key, &it->key);
		if (c == 0)
			return it;
		*parent = it;
		*cmp = c;
		it = lnk(bt, c < 0 ? NODE_GET(it, left) : NODE_GET(it, right));
	}
	return NULL;
}

/* the first item >= key (next) or the last item <= key (!next), or NULL */
static struct scoutfs_btree_item *avl_neighbour(struct scoutfs_btree_block *bt,
						const struct scoutfs_key *key, bool next)
{
	struct scoutfs_btree_item *it = lnk(bt, le16toh(bt->item_root.node));
	struct scoutfs_btree_item *best = NULL;
	int c;

	while (it) {
		c = sfs_key_cmp(key, &it->key);
		if (c == 0)
			return it;
		if ((c < 0) == next)
			best = it;
		it = lnk(bt, c < 0 ? NODE_GET(it, left) : NODE_GET(it, right));
	}
	return best;
}

static struct scoutfs_btree_item *avl_prev(struct scoutfs_btree_block *bt,
					   struct scoutfs_btree_item *it)
{
	struct scoutfs_btree_item *p;

	if (NODE_GET(it, left)) {
		it = lnk(bt, NODE_GET(it, left));
		while (NODE_GET(it, right))
			it = lnk(bt, NODE_GET(it, right));
		return it;
	}
	while ((p = lnk(bt, NODE_GET(it, parent))) && NODE_GET(p, left) == ilink(bt, it))
		it = p;
	return p;
}

static void avl_insert(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it)
{
	struct scoutfs_btree_item *parent;
	int cmp;

	avl_search(bt, &it->key, &parent, &cmp);
	it->node.parent = parent ? htole16(ilink(bt, parent)) : 0;
	it->node.left = 0;
	it->node.right = 0;
	it->node.height = 1;
	if (!parent)
		bt->item_root.node = htole16(ilink(bt, it));
	else if (cmp < 0)
		NODE_SET(parent, left, ilink(bt, it));
	else
		NODE_SET(parent, right, ilink(bt, it));
	rebalance(bt, parent);
}

static void avl_unlink(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *z)
{
	uint16_t zl = ilink(bt, z);
	struct scoutfs_btree_item *y, *from, *kid;
	uint16_t child;

	if (!NODE_GET(z, left) || !NODE_GET(z, right)) {
		child = NODE_GET(z, left) ? NODE_GET(z, left) : NODE_GET(z, right);
		replace_child(bt, NODE_GET(z, parent), zl, child);
		if (child)
			NODE_SET(lnk(bt, child), parent, NODE_GET(z, parent));
		rebalance(bt, lnk(bt, NODE_GET(z, parent)));
		return;
	}

	/* two children: the successor takes z's place */
	y = lnk(bt, NODE_GET(z, right));
	while (NODE_GET(y, left))
		y = lnk(bt, NODE_GET(y, left));

	if (NODE_GET(y, parent) == zl) {
		from = y;
	} else {
		from = lnk(bt, NODE_GET(y, parent));
		NODE_SET(from, left, NODE_GET(y, right));
		if (NODE_GET(y, right))
			NODE_SET(lnk(bt, NODE_GET(y, right)), parent, ilink(bt, from));
		NODE_SET(y, right, NODE_GET(z, right));
		NODE_SET(lnk(bt, NODE_GET(z, right)), parent, ilink(bt, y));
	}
	NODE_SET(y, left, NODE_GET(z, left));
	kid = lnk(bt, NODE_GET(z, left));
	NODE_SET(kid, parent, ilink(bt, y));
	NODE_SET(y, parent, NODE_GET(z, parent));
	replace_child(bt, NODE_GET(z, parent), zl, ilink(bt, y));
	y->node.height = z->node.height;
	rebalance(bt, from);
}

/* ------------------------------------------------------------------ */
/* Items within a block                                                 */
/* ------------------------------------------------------------------ */

static __le16 *hash_find(struct scoutfs_btree_block *bt, const struct scoutfs_key *key,
			 unsigned int off)
{
	__le16 *buckets = sfs_btree_leaf_hash(bt);
	unsigned int b = sfs_leaf_hash_bucket(key);
	unsigned int i;

	for (i = 0; i < SCOUTFS_BTREE_LEAF_ITEM_HASH_NR; i++) {
		if (le16toh(buckets[b]) == off)
			return &buckets[b];
		if (!buckets[b])
			return NULL;
		b = (b + 1) % SCOUTFS_BTREE_LEAF_ITEM_HASH_NR;
	}
	return NULL;
}

/* empty an item's bucket and re-place the run of entries that follows it */
static void hash_delete(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it)
{
	__le16 *buckets = sfs_btree_leaf_hash(bt);
	__le16 *slot = hash_find(bt, &it->key, sfs_btree_item_off((unsigned int)(it - bt->items)));
	unsigned int b, off;

	if (!slot)
		return;
	*slot = 0;
	b = (unsigned int)(slot - buckets);
	for (;;) {
		b = (b + 1) % SCOUTFS_BTREE_LEAF_ITEM_HASH_NR;
		off = le16toh(buckets[b]);
		if (!off)
			break;
		buckets[b] = 0;
		leaf_hash_insert(bt, &bt->items[(off - HDR_SIZE) / ITEM_SIZE].key, off);
	}
}

/* bytes of a block's item and value space: the room a compaction can find */
static unsigned int block_space(const struct scoutfs_btree_block *bt)
{
	return sfs_btree_block_end(bt->level) - HDR_SIZE;
}

static bool has_room(const struct scoutfs_btree_block *bt, unsigned int need)
{
	return le16toh(bt->mid_free_len) >= need &&
	       (bt->level > 0 || le16toh(bt->nr_items) < SCOUTFS_BTREE_LEAF_MAX_ITEMS);
}

static void set_val(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it,
		    unsigned int off, const void *val, unsigned int len)
{
	memcpy((char *)bt + off, val, len);
	memset((char *)bt + off + len, 0, round_up8(len) - len);
	it->val_off = htole16((uint16_t)off);
}

/* set_val for the bulk paths: word copies, no library calls for small values */
static inline void copy_val(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it,
			    unsigned int off, const void *val, unsigned int len)
{
	const char *src = val;
	char *dst = (char *)bt + off;
	unsigned int i, words = len / 8, rem = len % 8;
	uint64_t w;

	for (i = 0; i < words; i++) {
		memcpy(&w, src + i * 8, 8);
		memcpy(dst + i * 8, &w, 8);
	}
	if (rem) {
		w = 0;
		for (i = 0; i < rem; i++)
			((char *)&w)[i] = src[words * 8 + i];
		memcpy(dst + words * 8, &w, 8);	/* the tail and its zero padding */
	}
	it->val_off = htole16((uint16_t)off);
}

/* a new item; the caller made sure has_room(56 + round_up8(len)) */
static struct scoutfs_btree_item *create_item(struct scoutfs_btree_block *bt,
					      const struct scoutfs_key *key, uint64_t seq,
					      uint8_t flags, const void *val, unsigned int len)
{
	unsigned int nr = le16toh(bt->nr_items);
	unsigned int free_len = le16toh(bt->mid_free_len) - ITEM_SIZE;
	struct scoutfs_btree_item *it = &bt->items[nr];

	memset(it, 0, ITEM_SIZE);
	it->key = *key;
	it->seq = htole64(seq);
	it->flags = flags;
	it->val_len = htole16((uint16_t)len);
	nr++;
	if (len) {
		set_val(bt, it, sfs_btree_item_off(nr) + free_len - round_up8(len), val, len);
		free_len -= round_up8(len);
	}
	bt->nr_items = htole16((uint16_t)nr);
	bt->mid_free_len = htole16((uint16_t)free_len);
	bt->total_item_bytes =
		htole16((uint16_t)(le16toh(bt->total_item_bytes) + ITEM_SIZE + round_up8(len)));
	avl_insert(bt, it);
	if (bt->level == 0)
		leaf_hash_insert(bt, key, sfs_btree_item_off(nr - 1));
	return it;
}

/*
 * Remove an item: its value becomes a hole until the next rebuild, and
 * the last item of the array moves into its slot.
 */
static void delete_item(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it)
{
	unsigned int nr = le16toh(bt->nr_items);
	struct scoutfs_btree_item *last = &bt->items[nr - 1];
	uint16_t from, to;
	__le16 *slot;

	if (bt->level == 0)
		hash_delete(bt, it);
	avl_unlink(bt, it);
	bt->total_item_bytes = htole16((uint16_t)(le16toh(bt->total_item_bytes) - ITEM_SIZE -
						  round_up8(le16toh(it->val_len))));

	if (it != last) {
		from = ilink(bt, last);
		to = ilink(bt, it);
		if (bt->level == 0) {
			slot = hash_find(bt, &last->key, sfs_btree_item_off(nr - 1));
			if (slot)
				*slot = htole16((uint16_t)sfs_btree_item_off((unsigned int)(it - bt->items)));
		}
		memcpy(it, last, ITEM_SIZE);
		replace_child(bt, NODE_GET(it, parent), from, to);
		if (NODE_GET(it, left))
			NODE_SET(lnk(bt, NODE_GET(it, left)), parent, to);
		if (NODE_GET(it, right))
			NODE_SET(lnk(bt, NODE_GET(it, right)), parent, to);
	}
	memset(last, 0, ITEM_SIZE);
	bt->nr_items = htole16((uint16_t)(nr - 1));
	bt->mid_free_len = htole16((uint16_t)(le16toh(bt->mid_free_len) + ITEM_SIZE));
}

/* a new value for an item; the caller made sure has_room(round_up8(len)) */
static void update_item(struct scoutfs_btree_block *bt, struct scoutfs_btree_item *it,
			uint64_t seq, uint8_t flags, const void *val, unsigned int len)
{
	unsigned int old = round_up8(le16toh(it->val_len));
	unsigned int nr = le16toh(bt->nr_items);
	unsigned int free_len = le16toh(bt->mid_free_len);

	if (len && old == round_up8(len)) {
		set_val(bt, it, le16toh(it->val_off), val, len);
	} else if (len) {
		set_val(bt, it, sfs_btree_item_off(nr) + free_len - round_up8(len), val, len);
		bt->mid_free_len = htole16((uint16_t)(free_len - round_up8(len)));
	} else {
		it->val_off = 0;
	}
	it->val_len = htole16((uint16_t)len);
	it->seq = htole64(seq);
	it->flags = flags;
	bt->total_item_bytes =
		htole16((uint16_t)(le16toh(bt->total_item_bytes) - old + round_up8(len)));
}

/* ------------------------------------------------------------------ */
/* Building blocks from sorted items                                    */
/* ------------------------------------------------------------------ */

struct gathered {
	const struct scoutfs_btree_block *bt;
	const struct scoutfs_btree_item *it;
};

/* append a block's items in key order to g, returns how many */
static unsigned int gather(const struct scoutfs_btree_block *bt, struct gathered *g)
{
	const struct scoutfs_btree_item *it;
	unsigned int n = 0;

	for (it = sfs_btree_first_item(bt); it; it = sfs_btree_next_item(bt, it)) {
		g[n].bt = bt;
		g[n].it = it;
		n++;
	}
	return n;
}

static uint16_t build_avl(struct scoutfs_btree_block *bt, int lo, int hi, uint16_t parent)
{
	struct scoutfs_btree_item *it;
	int mid;

	if (lo > hi)
		return 0;
	mid = lo + (hi - lo) / 2;
	it = &bt->items[mid];
	NODE_SET(it, parent, parent);
	NODE_SET(it, left, build_avl(bt, lo, mid - 1, sfs_btree_item_link((unsigned int)mid)));
	NODE_SET(it, right, build_avl(bt, mid + 1, hi, sfs_btree_item_link((unsigned int)mid)));
	fix_height(bt, it);
	return sfs_btree_item_link((unsigned int)mid);
}

/*
 * Lay out n sorted items as a fresh block of the given level: the array
 * in key order, values packed against the end, a balanced AVL tree and,
 * in leaves, the hash table.  The header (first 32 bytes) of dst is kept.
 * The sources must not be dst: build into scratch and copy when they are.
 */
static void build_block(struct scoutfs_btree_block *dst, uint8_t level, const struct gathered *g,
			unsigned int n)
{
	unsigned int off = sfs_btree_block_end(level);
	struct scoutfs_btree_item *it;
	unsigned int i, len, total = 0;

	sfs_btree_block_init(dst, level);
	for (i = 0; i < n; i++) {
		it = &dst->items[i];
		*it = *g[i].it;
		len = le16toh(it->val_len);
		if (len) {
			off -= round_up8(len);
			set_val(dst, it, off, sfs_btree_item_val(g[i].bt, g[i].it), len);
		}
		total += ITEM_SIZE + round_up8(len);
	}
	if (level == 0)
		leaf_hash_fill(dst, n, NULL);
	dst->nr_items = htole16((uint16_t)n);
	dst->total_item_bytes = htole16((uint16_t)total);
	dst->mid_free_len = htole16((uint16_t)(off - (HDR_SIZE + n * ITEM_SIZE)));
	dst->item_root.node = htole16(build_avl(dst, 0, (int)n - 1, 0));
	/* whatever the old layout left past the array is stale: clear it */
	memset((char *)dst + HDR_SIZE + n * ITEM_SIZE, 0, le16toh(dst->mid_free_len));
}

/* rebuild a block in place: compacts its values and rebalances its tree */
static int rebuild_block(struct scoutfs_btree_block *bt)
{
	struct scoutfs_btree_block *tmp = malloc(SCOUTFS_BLOCK_LG_SIZE);
	struct gathered *g = malloc(sizeof(*g) * (le16toh(bt->nr_items) + 1));
	unsigned int n;

	if (!tmp || !g) {
		free(tmp);
		free(g);
		return -ENOMEM;
	}
	n = gather(bt, g);
	build_block(tmp, bt->level, g, n);
	memcpy((char *)bt + 32, (char *)tmp + 32, SCOUTFS_BLOCK_LG_SIZE - 32);
	free(tmp);
	free(g);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading and copying blocks                                           */
/* ------------------------------------------------------------------ */

static uint64_t next_seq(void)
{
	static __thread uint64_t state;
	uint64_t z;

	if (!state && getrandom(&state, sizeof(state), 0) != sizeof(state))
		state = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&state;
	/* splitmix64 */
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Read the block a ref points to and check it is a btree block of the
 * expected level whose structure holds.  The structural check runs once
 * per cached copy; corruption is -EIO, logged with the block number.
 */
static int read_block(struct sfs_fs *fs, const struct scoutfs_block_ref *ref, int level,
		      struct sfs_block **bl_ret)
{
	struct scoutfs_btree_block *bt;
	struct sfs_block *bl;
	char why[160];
	int ret;

	ret = sfs_block_read_ref(fs, ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl);
	if (ret)
		return ret;
	bt = bl->data;
	if (!__atomic_load_n(&bl->checked, __ATOMIC_ACQUIRE)) {
		if (sfs_btree_block_verify(bt, level, why, sizeof(why))) {
			sfs_err(fs, "btree block %llu: %s", (unsigned long long)bl->blkno, why);
			sfs_block_put(fs, bl);
			return -EIO;
		}
		__atomic_store_n(&bl->checked, true, __ATOMIC_RELEASE);
	} else if (bt->level != level) {
		sfs_err(fs, "btree block %llu: level %u, expected %d", (unsigned long long)bl->blkno,
			bt->level, level);
		sfs_block_put(fs, bl);
		return -EIO;
	}
	*bl_ret = bl;
	return 0;
}

/* a new block, dirty in wri, with a fresh header and nothing in it */
static int new_block(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     uint8_t level, struct scoutfs_block_ref *ref, struct sfs_block **bl_ret)
{
	struct scoutfs_btree_block *bt;
	struct sfs_block *bl;
	uint64_t blkno;
	int ret;

	ret = sfs_alloc_meta(fs, alloc, wri, &blkno);
	if (ret)
		return ret;
	bl = sfs_block_writer_new(fs, wri, blkno);
	if (!bl)
		return -ENOMEM;
	bt = bl->data;
	bt->hdr.magic = htole32(SCOUTFS_BLOCK_MAGIC_BTREE);
	bt->hdr.fsid = htole64(fs->fsid);
	bt->hdr.seq = htole64(next_seq());
	bt->hdr.blkno = htole64(blkno);
	sfs_btree_block_init(bt, level);
	bl->checked = true;
	ref->blkno = bt->hdr.blkno;
	ref->seq = bt->hdr.seq;
	*bl_ret = bl;
	return 0;
}

/*
 * Make the block a ref points to dirty in wri: a block already dirty
 * there is used as is; anything else is copied to a newly allocated
 * block (rebuilt: compacted and balanced on the way), the old block is
 * freed and the ref updated to the copy.
 */
static int dirty_ref(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_block_ref *ref, int level, struct sfs_block **bl_ret)
{
	struct gathered *g = NULL;
	struct sfs_block *old = NULL;
	struct sfs_block *bl = NULL;
	uint64_t old_blkno = le64toh(ref->blkno);
	unsigned int n;
	int ret;

	ret = read_block(fs, ref, level, &old);
	if (ret)
		goto out;
	if (sfs_block_writer_dirty(wri, old)) {
		*bl_ret = old;
		old = NULL;
		goto out;
	}

	g = malloc(sizeof(*g) * (le16toh(((struct scoutfs_btree_block *)old->data)->nr_items) + 1));
	if (!g) {
		ret = -ENOMEM;
		goto out;
	}
	ret = new_block(fs, alloc, wri, (uint8_t)level, ref, &bl);
	if (ret)
		goto out;
	n = gather(old->data, g);
	build_block(bl->data, (uint8_t)level, g, n);
	ret = sfs_free_meta(fs, alloc, wri, old_blkno);
	if (ret) {
		sfs_block_put(fs, bl);
		goto out;
	}
	*bl_ret = bl;
out:
	free(g);
	sfs_block_put(fs, old);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Splitting and refilling                                              */
/* ------------------------------------------------------------------ */

/* refill a block under this many item bytes from a sibling before deleting */
#define JOIN_LOW_WATERMARK (65488 / 4)
/* take all of a sibling holding at most this many bytes */
#define JOIN_ALL_MAX (65488 / 2)

static struct scoutfs_block_ref *item_ref(struct scoutfs_btree_block *bt,
					  struct scoutfs_btree_item *it)
{
	return (struct scoutfs_block_ref *)((char *)bt + le16toh(it->val_off));
}

/*
 * Split bl: a new left sibling takes its smallest items until at least
 * half of its bytes moved, and gets a parent item keyed by its last key.
 * The caller made sure the parent has room.  *bl_ret and *pitem_ret become
 * the half that holds key.
 */
static int split_block(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		       struct scoutfs_btree_block *parent, struct sfs_block **bl_ret,
		       struct scoutfs_btree_item **pitem_ret, const struct scoutfs_key *key,
		       bool ascending)
{
	struct sfs_block *bl = *bl_ret;
	struct scoutfs_btree_block *bt = bl->data;
	struct scoutfs_btree_block *tmp = NULL;
	struct scoutfs_block_ref ref;
	struct scoutfs_btree_item *pit, *last;
	struct sfs_block *left = NULL;
	struct gathered *g = NULL;
	unsigned int n, k, bytes = 0, half = le16toh(bt->total_item_bytes) / 2;
	int ret;

	/*
	 * Appending past the last item (sequential inserts): move nothing.
	 * A new empty block takes over the upper range (bl's parent item),
	 * and bl, full as it is, gets a parent item keyed by its last key.
	 */
	last = lnk(bt, le16toh(bt->item_root.node));
	while (last && NODE_GET(last, right))
		last = lnk(bt, NODE_GET(last, right));
	if (last && sfs_key_cmp(key, &last->key) > 0) {
		struct scoutfs_block_ref bl_ref = *item_ref(parent, *pitem_ret);

		ret = new_block(fs, alloc, wri, bt->level, &ref, &left);
		if (ret)
			goto out;
		*item_ref(parent, *pitem_ret) = ref;
		create_item(parent, &last->key, 0, 0, &bl_ref, sizeof(bl_ref));
		*bl_ret = left;	/* the new block is the one that holds key */
		left = bl;	/* and the caller's reference to bl is dropped below */
		/* keys only ascend from here: nothing comes back to the full leaf */
		if (ascending && bt->level == 0)
			sfs_block_writer_start(fs, wri, bl);
		goto out;
	}

	g = malloc(sizeof(*g) * (le16toh(bt->nr_items) + 1));
	tmp = malloc(SCOUTFS_BLOCK_LG_SIZE);
	if (!g || !tmp) {
		ret = -ENOMEM;
		goto out;
	}
	n = gather(bt, g);
	for (k = 0; k < n - 1 && bytes < half; k++)
		bytes += ITEM_SIZE + round_up8(le16toh(g[k].it->val_len));
	if (k == 0)
		k = 1;

	ret = new_block(fs, alloc, wri, bt->level, &ref, &left);
	if (ret)
		goto out;
	build_block(left->data, bt->level, g, k);
	build_block(tmp, bt->level, g + k, n - k);
	memcpy((char *)bt + 32, (char *)tmp + 32, SCOUTFS_BLOCK_LG_SIZE - 32);

	pit = create_item(parent, &((struct scoutfs_btree_block *)left->data)->items[k - 1].key, 0,
			  0, &ref, sizeof(ref));
	if (sfs_key_cmp(key, &pit->key) <= 0) {
		*pitem_ret = pit;
		*bl_ret = left;
		left = bl;
	} else if (ascending && bt->level == 0) {
		sfs_block_writer_start(fs, wri, left);
	}
out:
	sfs_block_put(fs, left);
	free(g);
	free(tmp);
	return ret;
}

/* replace a block's contents (after the header) with a build from sorted items */
static int rebuild_from(struct scoutfs_btree_block *dst, uint8_t level, const struct gathered *g,
			unsigned int n, struct scoutfs_btree_block *tmp)
{
	build_block(tmp, level, g, n);
	memcpy((char *)dst + 32, (char *)tmp + 32, SCOUTFS_BLOCK_LG_SIZE - 32);
	return 0;
}

/*
 * bl is under the low watermark: take items from a sibling, the left one
 * if there is one.  A sibling holding at most JOIN_ALL_MAX bytes is
 * merged: everything goes into the right one of the pair, which keeps its
 * parent key (the right spine must keep the ones key), and the left block
 * is freed with its parent item.  Otherwise about a low watermark's worth
 * of items moves to bl and the left block's parent key becomes its new
 * last key.  *bl_ret and *pitem_ret become the block that covers key; the
 * caller's reference moves with it.
 */
static int refill_block(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			struct scoutfs_btree_block *parent, struct sfs_block **bl_ret,
			struct scoutfs_btree_item **pitem_ret, const struct scoutfs_key *key)
{
	struct sfs_block *bl = *bl_ret, *sib = NULL, *lbl, *rbl, *keep;
	struct scoutfs_btree_item *pit = *pitem_ret, *sit, *lit, *rit;
	struct scoutfs_btree_block *lbt, *rbt, *tmp = NULL, *tmp2 = NULL;
	uint8_t level = ((struct scoutfs_btree_block *)bl->data)->level;
	struct gathered *g = NULL;
	unsigned int ln, n, k, bytes, r_idx, last;
	bool sib_left;
	int ret;

	sit = avl_prev(parent, pit);
	sib_left = sit != NULL;
	if (!sit)
		sit = (struct scoutfs_btree_item *)sfs_btree_next_item(parent, pit);
	if (!sit)
		return 0; /* an only child: the root collapses instead */

	ret = dirty_ref(fs, alloc, wri, item_ref(parent, sit), level, &sib);
	if (ret)
		return ret;
	if (sib_left) {
		lbl = sib, rbl = bl, lit = sit, rit = pit;
	} else {
		lbl = bl, rbl = sib, lit = pit, rit = sit;
	}
	lbt = lbl->data;
	rbt = rbl->data;
	ln = le16toh(lbt->nr_items);

	g = malloc(sizeof(*g) * (ln + le16toh(rbt->nr_items) + 1));
	tmp = malloc(SCOUTFS_BLOCK_LG_SIZE);
	tmp2 = malloc(SCOUTFS_BLOCK_LG_SIZE);
	if (!g || !tmp || !tmp2) {
		ret = -ENOMEM;
		goto out;
	}
	n = gather(lbt, g);
	n += gather(rbt, g + n);

	if (le16toh(((struct scoutfs_btree_block *)sib->data)->total_item_bytes) <= JOIN_ALL_MAX) {
		rebuild_from(rbt, level, g, n, tmp);
		ret = sfs_free_meta(fs, alloc, wri, lbl->blkno);
		if (ret)
			goto out;
		sfs_block_invalidate(fs, lbl);
		/* deleting lit may move the last parent item (maybe rit) into its slot */
		r_idx = (unsigned int)(rit - parent->items);
		last = le16toh(parent->nr_items) - 1;
		delete_item(parent, lit);
		if (r_idx == last)
			rit = lit;
		*pitem_ret = rit;
		keep = rbl;
	} else {
		bytes = 0;
		if (sib_left) {
			/* the left sibling keeps its first k items, the rest move right */
			for (k = ln; k > 1 && bytes < JOIN_LOW_WATERMARK; k--)
				bytes += ITEM_SIZE + round_up8(le16toh(g[k - 1].it->val_len));
		} else {
			/* bl, on the left, takes the right sibling's first items */
			for (k = ln; k < n - 1 && bytes < JOIN_LOW_WATERMARK; k++)
				bytes += ITEM_SIZE + round_up8(le16toh(g[k].it->val_len));
		}
		/* g points into both blocks: build both before copying either */
		build_block(tmp, level, g, k);
		build_block(tmp2, level, g + k, n - k);
		memcpy((char *)lbt + 32, (char *)tmp + 32, SCOUTFS_BLOCK_LG_SIZE - 32);
		memcpy((char *)rbt + 32, (char *)tmp2 + 32, SCOUTFS_BLOCK_LG_SIZE - 32);
		/* the new last key stays between the neighbouring parent keys */
		lit->key = lbt->items[k - 1].key;
		if (sfs_key_cmp(key, &lit->key) <= 0) {
			*pitem_ret = lit;
			keep = lbl;
		} else {
			*pitem_ret = rit;
			keep = rbl;
		}
	}

	/* hand the caller a reference to keep, drop the other */
	*bl_ret = keep;
	sfs_block_put(fs, keep == bl ? sib : bl);
	sib = NULL;
out:
	sfs_block_put(fs, sib);
	free(g);
	free(tmp);
	free(tmp2);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Walking from the root to a leaf                                      */
/* ------------------------------------------------------------------ */

enum {
	WALK_DIRTY = 1 << 0,	/* copy every block on the path into the writer */
	WALK_INSERT = 1 << 1,	/* make room: leaf for `need` bytes, parents for an item */
	WALK_DELETE = 1 << 2,	/* refill low blocks on the way down */
	WALK_ASCENDING = 1 << 3, /* later walks of this writer only go to greater keys */
};

struct walk {
	struct sfs_fs *fs;
	struct sfs_alloc *alloc;
	struct sfs_block_writer *wri;
	struct scoutfs_btree_root *root;
	const struct scoutfs_key *key;
	int flags;
	unsigned int need;		/* leaf bytes an insert or update needs */
	struct scoutfs_key start;	/* the key range the leaf covers */
	struct scoutfs_key end;
};

#define PARENT_ITEM_BYTES (ITEM_SIZE + (unsigned int)sizeof(struct scoutfs_block_ref))

/* replace a root parent holding a single item with its child, repeatedly */
static int collapse_root(struct walk *w)
{
	struct scoutfs_btree_root *root = w->root;
	struct scoutfs_btree_block *bt;
	struct sfs_block *bl;
	uint64_t blkno;
	int ret;

	while (root->height > 1) {
		ret = dirty_ref(w->fs, w->alloc, w->wri, &root->ref, root->height - 1, &bl);
		if (ret)
			return ret;
		bt = bl->data;
		if (le16toh(bt->nr_items) != 1) {
			sfs_block_put(w->fs, bl);
			break;
		}
		blkno = bl->blkno;
		root->ref = *item_ref(bt, lnk(bt, le16toh(bt->item_root.node)));
		root->height--;
		sfs_block_invalidate(w->fs, bl);
		sfs_block_put(w->fs, bl);
		ret = sfs_free_meta(w->fs, w->alloc, w->wri, blkno);
		if (ret)
			return ret;
	}
	return 0;
}

/* a new root parent above the current root, holding one ones-key item */
static int grow_root(struct walk *w, struct sfs_block *child, struct sfs_block **parent_ret,
		     struct scoutfs_btree_item **pitem_ret)
{
	struct scoutfs_btree_root *root = w->root;
	struct scoutfs_block_ref ref = root->ref;
	struct scoutfs_key ones;
	struct sfs_block *bl;
	int ret;

	if (root->height >= SCOUTFS_BTREE_MAX_HEIGHT) {
		sfs_err(w->fs, "btree: cannot grow past height %u", SCOUTFS_BTREE_MAX_HEIGHT);
		return -EIO;
	}
	(void)child;
	ret = new_block(w->fs, w->alloc, w->wri, root->height, &root->ref, &bl);
	if (ret)
		return ret;
	root->height++;
	sfs_key_set_ones(&ones);
	*pitem_ret = create_item(bl->data, &ones, 0, 0, &ref, sizeof(ref));
	*parent_ret = bl;
	return 0;
}

/*
 * Walk to the leaf for w->key and return it, referenced, in *leaf_ret.
 *
 * Read walks (no WALK_DIRTY) only read.  Write walks copy every block on
 * the path into the writer and, on the way down, make sure the leaf
 * change cannot propagate back up: for inserts every parent gets room
 * for one more item and the leaf room for w->need bytes (compacting, or
 * splitting, which adds an item to the parent that was already given
 * room; a full root grows a new root first); for deletes every block
 * below the root under the low watermark is refilled from a sibling,
 * and a root parent left with one item is replaced by its child.
 */
static int walk(struct walk *w, struct sfs_block **leaf_ret)
{
	struct scoutfs_btree_root *root = w->root;
	struct scoutfs_btree_item *pitem = NULL, *it, *prev;
	struct sfs_block *parent = NULL, *bl = NULL, *child;
	struct scoutfs_btree_block *bt;
	bool dirty = w->flags & WALK_DIRTY;
	unsigned int need;
	int level;
	int ret;

	sfs_key_set_zero(&w->start);
	sfs_key_set_ones(&w->end);

	if (root->height == 0) {
		if (!(w->flags & WALK_INSERT))
			return -ENOENT;
		ret = new_block(w->fs, w->alloc, w->wri, 0, &root->ref, &bl);
		if (ret)
			return ret;
		root->height = 1;
		*leaf_ret = bl;
		return 0;
	}
	if (root->height > SCOUTFS_BTREE_MAX_HEIGHT) {
		sfs_err(w->fs, "btree: root height %u is over the maximum %u", root->height,
			SCOUTFS_BTREE_MAX_HEIGHT);
		return -EIO;
	}

	if (w->flags & WALK_DELETE) {
		ret = collapse_root(w);
		if (ret)
			return ret;
	}

	level = root->height - 1;
	if (dirty)
		ret = dirty_ref(w->fs, w->alloc, w->wri, &root->ref, level, &bl);
	else
		ret = read_block(w->fs, &root->ref, level, &bl);
	if (ret)
		return ret;

	for (;;) {
		bt = bl->data;

		if (dirty && (w->flags & WALK_INSERT)) {
			need = level ? PARENT_ITEM_BYTES : w->need;
			if (!has_room(bt, need) &&
			    le16toh(bt->total_item_bytes) + need <= block_space(bt) * 8 / 10 &&
			    (level > 0 || le16toh(bt->nr_items) < SCOUTFS_BTREE_LEAF_MAX_ITEMS)) {
				ret = rebuild_block(bt);
				if (ret)
					goto out;
			}
			if (!has_room(bt, need)) {
				if (!parent) {
					ret = grow_root(w, bl, &parent, &pitem);
					if (ret)
						goto out;
				}
				ret = split_block(w->fs, w->alloc, w->wri, parent->data, &bl, &pitem,
						  w->key, w->flags & WALK_ASCENDING);
				if (ret)
					goto out;
				bt = bl->data;
			}
		}

		if (dirty && (w->flags & WALK_DELETE) && parent &&
		    le16toh(bt->total_item_bytes) < JOIN_LOW_WATERMARK) {
			ret = refill_block(w->fs, w->alloc, w->wri, parent->data, &bl, &pitem, w->key);
			if (ret)
				goto out;
			bt = bl->data;
		}

		/* the range this block covers, from its parent item and the one before */
		if (pitem) {
			struct scoutfs_btree_block *pbt = parent->data;

			if (sfs_key_cmp(&pitem->key, &w->end) < 0)
				w->end = pitem->key;
			prev = avl_prev(pbt, pitem);
			if (prev && sfs_key_cmp(&prev->key, &w->start) >= 0) {
				w->start = prev->key;
				sfs_key_inc(&w->start);
			}
		}

		if (level == 0)
			break;

		it = avl_neighbour(bt, w->key, true);
		if (!it) {
			sfs_err(w->fs, "btree block %llu: no parent item covers the key",
				(unsigned long long)bl->blkno);
			ret = -EIO;
			goto out;
		}
		if (dirty)
			ret = dirty_ref(w->fs, w->alloc, w->wri, item_ref(bt, it), level - 1, &child);
		else
			ret = read_block(w->fs, item_ref(bt, it), level - 1, &child);
		if (ret)
			goto out;

		sfs_block_put(w->fs, parent);
		parent = bl;
		pitem = it;
		bl = child;
		level--;
	}

	*leaf_ret = bl;
	bl = NULL;
	ret = 0;
out:
	sfs_block_put(w->fs, parent);
	sfs_block_put(w->fs, bl);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Public operations                                                    */
/* ------------------------------------------------------------------ */

static void copy_item(struct scoutfs_btree_block *bt, const struct scoutfs_btree_item *it,
		      struct sfs_btree_item_ret *ret)
{
	ret->key = it->key;
	ret->seq = le64toh(it->seq);
	ret->flags = it->flags;
	ret->val_len = le16toh(it->val_len);
	if (ret->val_len)
		memcpy(ret->val, sfs_btree_item_val(bt, it), ret->val_len);
}

int sfs_btree_lookup(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		     const struct scoutfs_key *key, struct sfs_btree_item_ret *ret)
{
	struct walk w = { .fs = fs, .root = (struct scoutfs_btree_root *)root, .key = key };
	const struct scoutfs_btree_item *it;
	struct sfs_block *bl;
	int err;

	err = walk(&w, &bl);
	if (err)
		return err;
	it = sfs_btree_leaf_lookup(bl->data, key);
	if (it)
		copy_item(bl->data, it, ret);
	sfs_block_put(fs, bl);
	return it ? 0 : -ENOENT;
}

/* next/prev: search the leaf for key, then the leaves beyond its range */
static int neighbour(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		     const struct scoutfs_key *key, struct sfs_btree_item_ret *ret, bool next)
{
	struct walk w = { .fs = fs, .root = (struct scoutfs_btree_root *)root };
	struct scoutfs_btree_item *it;
	struct scoutfs_key pos = *key;
	struct sfs_block *bl;
	int err;

	for (;;) {
		w.key = &pos;
		err = walk(&w, &bl);
		if (err)
			return err;
		it = avl_neighbour(bl->data, &pos, next);
		if (it)
			copy_item(bl->data, it, ret);
		sfs_block_put(fs, bl);
		if (it)
			return 0;
		/* nothing here: continue in the next leaf over, if there is one */
		if (next) {
			if (sfs_key_is_ones(&w.end))
				return -ENOENT;
			pos = w.end;
			sfs_key_inc(&pos);
		} else {
			if (sfs_key_is_zero(&w.start))
				return -ENOENT;
			pos = w.start;
			sfs_key_dec(&pos);
		}
	}
}

int sfs_btree_next(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		   const struct scoutfs_key *key, struct sfs_btree_item_ret *ret)
{
	return neighbour(fs, root, key, ret, true);
}

int sfs_btree_prev(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
		   const struct scoutfs_key *key, struct sfs_btree_item_ret *ret)
{
	return neighbour(fs, root, key, ret, false);
}

int sfs_btree_read_items(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
			 const struct scoutfs_key *key, struct scoutfs_key *start,
			 struct scoutfs_key *end, sfs_btree_item_cb cb, void *arg)
{
	struct walk w = { .fs = fs, .root = (struct scoutfs_btree_root *)root, .key = key };
	struct scoutfs_btree_block *bt;
	struct scoutfs_btree_item *it;
	struct sfs_block *bl;
	int ret;

	ret = walk(&w, &bl);
	if (ret == -ENOENT) {
		/* an empty tree holds nothing anywhere */
		return 0;
	}
	if (ret)
		return ret;
	if (sfs_key_cmp(&w.start, start) > 0)
		*start = w.start;
	if (sfs_key_cmp(&w.end, end) < 0)
		*end = w.end;

	bt = bl->data;
	for (it = avl_neighbour(bt, start, true); it && sfs_key_cmp(&it->key, end) <= 0;
	     it = (struct scoutfs_btree_item *)sfs_btree_next_item(bt, it)) {
		ret = cb(arg, &it->key, le64toh(it->seq), it->flags, sfs_btree_item_val(bt, it),
			 le16toh(it->val_len));
		if (ret)
			break;
	}
	sfs_block_put(fs, bl);
	return ret;
}

enum { MOD_INSERT, MOD_UPDATE, MOD_FORCE };

static int modify(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		  struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		  uint8_t flags, const void *val, unsigned int val_len, int mode)
{
	struct walk w = { .fs = fs, .alloc = alloc, .wri = wri, .root = root, .key = key,
			  .flags = WALK_DIRTY | WALK_INSERT,
			  .need = ITEM_SIZE + round_up8(val_len) };
	struct scoutfs_btree_block *bt;
	struct scoutfs_btree_item *it;
	struct sfs_block *bl;
	int ret;

	if (val_len > SCOUTFS_BTREE_MAX_VAL_LEN || (val_len && !val))
		return -EINVAL;
	if (mode == MOD_UPDATE && root->height == 0)
		return -ENOENT;

	ret = walk(&w, &bl);
	if (ret)
		return ret;
	bt = bl->data;
	it = (struct scoutfs_btree_item *)sfs_btree_leaf_lookup(bt, key);
	if (it && mode == MOD_INSERT) {
		ret = -EEXIST;
	} else if (!it && mode == MOD_UPDATE) {
		ret = -ENOENT;
	} else if (it) {
		/* the walk left room for a whole new item, more than a new value needs */
		update_item(bt, it, seq, flags, val, val_len);
	} else {
		create_item(bt, key, seq, flags, val, val_len);
	}
	sfs_block_put(fs, bl);
	return ret;
}

int sfs_btree_insert(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		     uint8_t flags, const void *val, unsigned int val_len)
{
	return modify(fs, alloc, wri, root, key, seq, flags, val, val_len, MOD_INSERT);
}

int sfs_btree_update(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		     uint8_t flags, const void *val, unsigned int val_len)
{
	return modify(fs, alloc, wri, root, key, seq, flags, val, val_len, MOD_UPDATE);
}

int sfs_btree_force(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		    struct scoutfs_btree_root *root, const struct scoutfs_key *key, uint64_t seq,
		    uint8_t flags, const void *val, unsigned int val_len)
{
	return modify(fs, alloc, wri, root, key, seq, flags, val, val_len, MOD_FORCE);
}

int sfs_btree_delete(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
		     struct scoutfs_btree_root *root, const struct scoutfs_key *key)
{
	struct walk w = { .fs = fs, .alloc = alloc, .wri = wri, .root = root, .key = key,
			  .flags = WALK_DIRTY | WALK_DELETE };
	struct scoutfs_btree_block *bt;
	struct scoutfs_btree_item *it;
	struct sfs_block *bl;
	uint64_t blkno;
	int ret;

	ret = walk(&w, &bl);
	if (ret)
		return ret;
	bt = bl->data;
	it = (struct scoutfs_btree_item *)sfs_btree_leaf_lookup(bt, key);
	if (!it) {
		sfs_block_put(fs, bl);
		return -ENOENT;
	}
	delete_item(bt, it);

	/* an emptied root leaf leaves an empty tree */
	if (root->height == 1 && bt->nr_items == 0) {
		blkno = bl->blkno;
		sfs_block_invalidate(fs, bl);
		sfs_block_put(fs, bl);
		memset(root, 0, sizeof(*root));
		return sfs_free_meta(fs, alloc, wri, blkno);
	}
	sfs_block_put(fs, bl);
	return collapse_root(&w);
}

/* runs shorter than this go in item by item; longer ones rebuild the leaf */
#define BULK_REBUILD_MIN 8

/*
 * Rebuild a leaf as the merge of its items and a sorted run of new ones
 * (a run item replaces an existing item with its key).  The caller made
 * sure the result fits.  Like build_block: array in key order, values
 * packed at the end, balanced AVL tree, hash table.
 */
static int merge_run_into_leaf(struct scoutfs_btree_block *bt, const struct sfs_btree_list_item *run,
			       size_t nr)
{
	bool empty = bt->nr_items == 0;
	/* an empty leaf (appends) is built in place, otherwise in scratch */
	struct scoutfs_btree_block *tmp = empty ? bt : malloc(SCOUTFS_BLOCK_LG_SIZE);
	struct gathered *g = empty ? NULL : malloc(sizeof(*g) * (le16toh(bt->nr_items) + 1));
	unsigned int off = sfs_btree_block_end(0);
	unsigned int gn = 0, gi = 0, n = 0, total = 0, len;
	uint16_t known[SCOUTFS_BTREE_LEAF_MAX_ITEMS] = { 0 };	/* bucket + 1 of run items */
	struct scoutfs_btree_item *it;
	size_t ri = 0;
	const void *val;
	int c;

	if (!tmp || (!empty && !g)) {
		if (!empty)
			free(tmp);
		free(g);
		return -ENOMEM;
	}
	if (!empty)
		gn = gather(bt, g);
	sfs_btree_block_init(tmp, 0);
	while (gi < gn || ri < nr) {
		it = &tmp->items[n];
		if (ri == nr)
			c = -1;
		else if (gi == gn)
			c = 1;
		else
			c = sfs_key_cmp(&g[gi].it->key, &run[ri].key);
		if (c < 0) {
			*it = *g[gi].it;
			len = le16toh(it->val_len);
			val = sfs_btree_item_val(g[gi].bt, g[gi].it);
			known[n] = 0;
			gi++;
		} else {
			known[n] = run[ri].bucket1;
			memset(it, 0, ITEM_SIZE);
			it->key = run[ri].key;
			it->seq = htole64(run[ri].seq);
			it->flags = run[ri].flags;
			it->val_len = htole16(run[ri].val_len);
			len = run[ri].val_len;
			val = run[ri].val;
			ri++;
			if (c == 0)
				gi++; /* replaced */
		}
		it->val_off = 0;
		if (len) {
			off -= round_up8(len);
			copy_val(tmp, it, off, val, len);
		}
		total += ITEM_SIZE + round_up8(len);
		n++;
	}
	leaf_hash_fill(tmp, n, known);
	tmp->nr_items = htole16((uint16_t)n);
	tmp->total_item_bytes = htole16((uint16_t)total);
	tmp->mid_free_len = htole16((uint16_t)(off - (HDR_SIZE + n * ITEM_SIZE)));
	tmp->item_root.node = htole16(build_avl(tmp, 0, (int)n - 1, 0));
	memset((char *)tmp + HDR_SIZE + n * ITEM_SIZE, 0, le16toh(tmp->mid_free_len));
	if (!empty) {
		memcpy((char *)bt + 32, (char *)tmp + 32, SCOUTFS_BLOCK_LG_SIZE - 32);
		free(tmp);
	}
	free(g);
	return 0;
}

/*
 * The bulk insert is done with a leaf (ending at end) up to items[i]:
 * if the rest of the items lie beyond it, no walk of this insert comes
 * back to it and its write can start while the next leaves are built.
 */
static void leaf_done(struct sfs_fs *fs, struct sfs_block_writer *wri, struct sfs_block *bl,
		      const struct scoutfs_key *end, const struct sfs_btree_list_item *items,
		      size_t i, size_t nr)
{
	if (i < nr && sfs_key_cmp(&items[i].key, end) > 0)
		sfs_block_writer_start(fs, wri, bl);
	sfs_block_put(fs, bl);
}

/*
 * Bulk insert: one walk per leaf rather than per item.  The walk makes
 * room for the first item of a run; the run is every following item
 * whose key stays inside the range the leaf covers, as long as the merge
 * of the leaf and the run still fits in it.  A long run is merged into
 * the leaf with one rebuild, a short one item by item; the next walk
 * (splitting as needed) picks up where the run stopped.
 */
int sfs_btree_insert_list(struct sfs_fs *fs, struct sfs_alloc *alloc,
			  struct sfs_block_writer *wri, struct scoutfs_btree_root *root,
			  const struct sfs_btree_list_item *items, size_t nr)
{
	const struct sfs_btree_list_item *li;
	struct scoutfs_btree_block *bt;
	struct scoutfs_btree_item *it;
	struct sfs_block *bl;
	unsigned int need, old, bytes, count;
	size_t i = 0, j;
	int ret;

	for (j = 0; j < nr; j++) {
		if ((j && sfs_key_cmp(&items[j - 1].key, &items[j].key) >= 0) ||
		    items[j].val_len > SCOUTFS_BTREE_MAX_VAL_LEN || (items[j].val_len && !items[j].val))
			return -EINVAL;
#ifdef SFS_DEBUG_CHECKS
		if (items[j].bucket1 && items[j].bucket1 != sfs_leaf_hash_bucket(&items[j].key) + 1)
			return -EINVAL;
#endif
	}

	while (i < nr) {
		struct walk w = { .fs = fs, .alloc = alloc, .wri = wri, .root = root,
				  .key = &items[i].key,
				  .flags = WALK_DIRTY | WALK_INSERT | WALK_ASCENDING,
				  .need = ITEM_SIZE + round_up8(items[i].val_len) };

		ret = walk(&w, &bl);
		if (ret)
			return ret;
		bt = bl->data;

		/* how far a merge may go: counted as if every item were new */
		bytes = le16toh(bt->total_item_bytes);
		count = le16toh(bt->nr_items);
		for (j = i; j < nr && sfs_key_cmp(&items[j].key, &w.end) <= 0; j++) {
			need = ITEM_SIZE + round_up8(items[j].val_len);
			if (bytes + need > block_space(bt) ||
			    count + 1 > SCOUTFS_BTREE_LEAF_MAX_ITEMS)
				break;
			bytes += need;
			count++;
		}

		if (j - i >= BULK_REBUILD_MIN) {
			ret = merge_run_into_leaf(bt, items + i, j - i);
			if (ret) {
				sfs_block_put(fs, bl);
				return ret;
			}
			i = j;
			leaf_done(fs, wri, bl, &w.end, items, i, nr);
			continue;
		}

		do {
			li = &items[i];
			it = (struct scoutfs_btree_item *)sfs_btree_leaf_lookup(bt, &li->key);
			if (it) {
				old = round_up8(le16toh(it->val_len));
				need = (li->val_len && old == round_up8(li->val_len)) ?
					       0 :
					       round_up8(li->val_len);
				if (le16toh(bt->mid_free_len) < need)
					break;
				update_item(bt, it, li->seq, li->flags, li->val, li->val_len);
			} else {
				if (!has_room(bt, ITEM_SIZE + round_up8(li->val_len)))
					break;
				create_item(bt, &li->key, li->seq, li->flags, li->val, li->val_len);
			}
			i++;
		} while (i < nr && sfs_key_cmp(&items[i].key, &w.end) <= 0);
		leaf_done(fs, wri, bl, &w.end, items, i, nr);
	}
	return 0;
}

/* free a parent's children (recursing through parents only), then itself */
static int free_subtree(struct sfs_fs *fs, struct sfs_alloc *alloc, struct sfs_block_writer *wri,
			const struct scoutfs_block_ref *ref, int level)
{
	struct scoutfs_btree_block *bt;
	struct scoutfs_btree_item *it;
	struct sfs_block *bl;
	int ret = 0;

	if (level > 0) {
		ret = read_block(fs, ref, level, &bl);
		if (ret)
			return ret;
		bt = bl->data;
		for (it = (struct scoutfs_btree_item *)sfs_btree_first_item(bt); it && !ret;
		     it = (struct scoutfs_btree_item *)sfs_btree_next_item(bt, it))
			ret = free_subtree(fs, alloc, wri, item_ref(bt, it), level - 1);
		sfs_block_put(fs, bl);
		if (ret)
			return ret;
	}
	return sfs_free_meta(fs, alloc, wri, le64toh(ref->blkno));
}

int sfs_btree_free_blocks(struct sfs_fs *fs, struct sfs_alloc *alloc,
			  struct sfs_block_writer *wri, struct scoutfs_btree_root *root)
{
	int ret = 0;

	if (root->height)
		ret = free_subtree(fs, alloc, wri, &root->ref, root->height - 1);
	if (!ret)
		memset(root, 0, sizeof(*root));
	return ret;
}

/* ------------------------------------------------------------------ */
/* Whole tree checks                                                    */
/* ------------------------------------------------------------------ */

struct check {
	struct sfs_fs *fs;
	void (*block_cb)(void *arg, uint64_t blkno);
	void *arg;
	uint64_t items;
	uint64_t blocks;
	char *why;
	size_t why_len;
};

/* every key of the subtree at ref lies in [start, end]; end is the parent item's key */
static int check_subtree(struct check *c, const struct scoutfs_block_ref *ref, int level,
			 const struct scoutfs_key *start, const struct scoutfs_key *end,
			 bool right_spine)
{
	struct scoutfs_btree_block *bt;
	struct scoutfs_btree_item *it;
	struct scoutfs_key kstart;
	struct sfs_block *bl;
	char sub[160];
	int ret;

	ret = sfs_block_read_ref(c->fs, ref, SCOUTFS_BLOCK_MAGIC_BTREE, &bl);
	if (ret) {
		snprintf(c->why, c->why_len, "block %llu: read failed: %s",
			 (unsigned long long)le64toh(ref->blkno), strerror(-ret));
		return ret;
	}
	bt = bl->data;
	if (sfs_btree_block_verify(bt, level, sub, sizeof(sub))) {
		snprintf(c->why, c->why_len, "block %llu: %s", (unsigned long long)bl->blkno, sub);
		ret = -EIO;
		goto out;
	}
	c->blocks++;
	if (c->block_cb)
		c->block_cb(c->arg, bl->blkno);
	if (bt->nr_items == 0 && level > 0) {
		snprintf(c->why, c->why_len, "parent block %llu has no items",
			 (unsigned long long)bl->blkno);
		ret = -EIO;
		goto out;
	}

	kstart = *start;
	for (it = (struct scoutfs_btree_item *)sfs_btree_first_item(bt); it;
	     it = (struct scoutfs_btree_item *)sfs_btree_next_item(bt, it)) {
		if (sfs_key_cmp(&it->key, start) < 0 || sfs_key_cmp(&it->key, end) > 0) {
			snprintf(c->why, c->why_len, "block %llu: a key lies outside its parent's range",
				 (unsigned long long)bl->blkno);
			ret = -EIO;
			goto out;
		}
		if (level == 0) {
			c->items++;
			continue;
		}
		if (right_spine && !sfs_btree_next_item(bt, it) && !sfs_key_is_ones(&it->key)) {
			snprintf(c->why, c->why_len, "block %llu: the right spine does not end in the ones key",
				 (unsigned long long)bl->blkno);
			ret = -EIO;
			goto out;
		}
		ret = check_subtree(c, item_ref(bt, it), level - 1, &kstart, &it->key,
				    right_spine && !sfs_btree_next_item(bt, it));
		if (ret)
			goto out;
		kstart = it->key;
		sfs_key_inc(&kstart);
	}
	ret = 0;
out:
	sfs_block_put(c->fs, bl);
	return ret;
}

int sfs_btree_check_tree(struct sfs_fs *fs, const struct scoutfs_btree_root *root,
			 void (*block_cb)(void *arg, uint64_t blkno), void *arg,
			 uint64_t *nr_items, uint64_t *nr_blocks, char *why, size_t why_len)
{
	struct check c = { .fs = fs, .block_cb = block_cb, .arg = arg, .why = why,
			   .why_len = why_len };
	struct scoutfs_key start, end;
	int ret = 0;

	if (why_len)
		why[0] = '\0';
	if (root->height > SCOUTFS_BTREE_MAX_HEIGHT) {
		snprintf(why, why_len, "root height %u over %u", root->height,
			 SCOUTFS_BTREE_MAX_HEIGHT);
		return -EIO;
	}
	if (root->height == 0 && root->ref.blkno) {
		snprintf(why, why_len, "empty root references block %llu",
			 (unsigned long long)le64toh(root->ref.blkno));
		return -EIO;
	}
	sfs_key_set_zero(&start);
	sfs_key_set_ones(&end);
	if (root->height)
		ret = check_subtree(&c, &root->ref, root->height - 1, &start, &end, true);
	if (nr_items)
		*nr_items = c.items;
	if (nr_blocks)
		*nr_blocks = c.blocks;
	return ret;
}
