// SPDX-License-Identifier: GPL-2.0
/*
 * In-block btree layer: walking and looking up the vector leaves,
 * rebuilding them byte for byte the way mkfs does, hash probing that
 * wraps, and verification rejecting each kind of corruption.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "btree.h"
#include "vectors.h"

static struct scoutfs_btree_block *load_leaf(const char *name)
{
	return load_vector(name, SCOUTFS_BLOCK_LG_SIZE);
}

static void assert_verifies(const struct scoutfs_btree_block *bt)
{
	char why[200];
	int ret = sfs_btree_block_verify(bt, 0, why, sizeof(why));

	if (ret)
		fail_msg("verify failed: %s", why);
}

static void assert_corrupt(const struct scoutfs_btree_block *bt, const char *expect)
{
	char why[200];

	assert_int_equal(sfs_btree_block_verify(bt, -1, why, sizeof(why)), -EIO);
	if (!strstr(why, expect))
		fail_msg("reason '%s' does not mention '%s'", why, expect);
}

/* conformance 15 and 16 through the walkers */
static void test_vector_leaves(void **state)
{
	const char *names[] = { "v2/meta-fs_root-leaf.bin", "v1/meta-fs_root-leaf.bin",
				"v2/meta-data_alloc-btree.bin", "v2/meta-meta_alloc0-btree.bin" };
	const struct scoutfs_btree_item *item;
	struct scoutfs_btree_block *bt;
	struct scoutfs_key key;
	(void)state;

	for (unsigned int i = 0; i < 4; i++) {
		bt = load_leaf(names[i]);
		assert_verifies(bt);
		item = sfs_btree_first_item(bt);
		assert_ptr_equal(item, &bt->items[0]);
		item = sfs_btree_next_item(bt, item);
		assert_ptr_equal(item, &bt->items[1]);
		assert_null(sfs_btree_next_item(bt, item));
		assert_ptr_equal(sfs_btree_leaf_lookup(bt, &bt->items[0].key), &bt->items[0]);
		assert_ptr_equal(sfs_btree_leaf_lookup(bt, &bt->items[1].key), &bt->items[1]);
		key = bt->items[1].key;
		sfs_key_inc(&key);
		assert_null(sfs_btree_leaf_lookup(bt, &key));
		free(bt);
	}

	/* the level is checked against the walk's expectation */
	bt = load_leaf("v2/meta-fs_root-leaf.bin");
	{
		char why[100];

		assert_int_equal(sfs_btree_block_verify(bt, 1, why, sizeof(why)), -EIO);
	}
	/* the value is the root inode */
	item = sfs_btree_leaf_lookup(bt, &bt->items[1].key);
	assert_int_equal(le32toh(((const struct scoutfs_inode *)sfs_btree_item_val(bt, item))->mode),
			 040755);
	assert_null(sfs_btree_item_val(bt, &bt->items[0]));
	free(bt);
}

/* the mkfs way of building a leaf reproduces the vectors exactly */
static void test_append_matches_vector(void **state)
{
	const char *names[] = { "v2/meta-fs_root-leaf.bin", "v1/meta-fs_root-leaf.bin",
				"v2/meta-data_alloc-btree.bin", "v2/meta-meta_alloc0-btree.bin" };
	struct scoutfs_btree_block *vec, *bt;
	(void)state;

	for (unsigned int n = 0; n < 4; n++) {
		vec = load_leaf(names[n]);
		bt = calloc(1, SCOUTFS_BLOCK_LG_SIZE);
		bt->hdr = vec->hdr;
		sfs_btree_block_init(bt, 0);
		for (unsigned int i = 0; i < le16toh(vec->nr_items); i++) {
			const struct scoutfs_btree_item *it = &vec->items[i];

			assert_int_equal(sfs_btree_append_item(bt, &it->key, le64toh(it->seq),
							       it->flags,
							       sfs_btree_item_val(vec, it),
							       le16toh(it->val_len)),
					 0);
		}
		assert_memory_equal(bt, vec, SCOUTFS_BLOCK_LG_SIZE);
		assert_int_equal(sfs_block_crc(bt, SCOUTFS_BLOCK_LG_SIZE), le32toh(vec->hdr.crc));
		free(bt);
		free(vec);
	}
}

static struct scoutfs_key key_with_bucket(unsigned int bucket, uint64_t *ino)
{
	struct scoutfs_key key;

	for (;; (*ino)++) {
		key = sfs_key_make(SCOUTFS_FS_ZONE, *ino, SCOUTFS_INODE_TYPE, 0, 0, 0);
		if (sfs_leaf_hash_bucket(&key) == bucket) {
			(*ino)++;
			return key;
		}
	}
}

/* conformance 27: probing wraps from bucket 1511 to 0 */
static void test_hash_wraps(void **state)
{
	struct scoutfs_btree_block *bt = calloc(1, SCOUTFS_BLOCK_LG_SIZE);
	struct scoutfs_key a, b;
	__le16 *buckets;
	uint64_t ino = 1;
	(void)state;

	sfs_btree_block_init(bt, 0);
	a = key_with_bucket(SCOUTFS_BTREE_LEAF_ITEM_HASH_NR - 1, &ino);
	b = key_with_bucket(SCOUTFS_BTREE_LEAF_ITEM_HASH_NR - 1, &ino);
	assert_int_equal(sfs_btree_append_item(bt, &a, 1, 0, "a", 1), 0);
	assert_int_equal(sfs_btree_append_item(bt, &b, 1, 0, "b", 1), 0);

	buckets = sfs_btree_leaf_hash(bt);
	assert_int_equal(le16toh(buckets[SCOUTFS_BTREE_LEAF_ITEM_HASH_NR - 1]), 48);
	assert_int_equal(le16toh(buckets[0]), 104);
	assert_ptr_equal(sfs_btree_leaf_lookup(bt, &b), &bt->items[1]);
	assert_verifies(bt);

	/* appending out of order is refused */
	assert_int_equal(sfs_btree_append_item(bt, &a, 1, 0, NULL, 0), -EINVAL);
	free(bt);
}

/* a leaf fills up and refuses more, leaving what it has intact */
static void test_append_full(void **state)
{
	struct scoutfs_btree_block *bt = calloc(1, SCOUTFS_BLOCK_LG_SIZE);
	char val[SCOUTFS_BTREE_MAX_VAL_LEN] = { 0 };
	struct scoutfs_key key;
	unsigned int nr = 0;
	int ret;
	(void)state;

	sfs_btree_block_init(bt, 0);
	for (;;) {
		key = sfs_key_make(SCOUTFS_FS_ZONE, nr + 1, SCOUTFS_XATTR_TYPE, 0, 0, 0);
		ret = sfs_btree_append_item(bt, &key, 1, 0, val, sizeof(val));
		if (ret)
			break;
		nr++;
	}
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(le16toh(bt->nr_items), nr);
	assert_int_equal(nr, 62464 / (56 + 896));
	assert_int_equal(sfs_btree_append_item(bt, &key, 1, 0, val, 897), -EINVAL);
	assert_verifies(bt);
	free(bt);
}

static void test_corruption(void **state)
{
	struct scoutfs_btree_block *orig = load_leaf("v2/meta-fs_root-leaf.bin");
	struct scoutfs_btree_block *bt = malloc(SCOUTFS_BLOCK_LG_SIZE);
	__le16 *buckets;
	(void)state;

#define RESET() memcpy(bt, orig, SCOUTFS_BLOCK_LG_SIZE)

	RESET();
	bt->items[0].node.left = htole16(72); /* item 1 under item 0 under item 1 */
	assert_corrupt(bt, "parent");

	RESET();
	bt->items[1].node.left = htole16(17); /* not an item boundary */
	assert_corrupt(bt, "invalid left link");

	RESET();
	bt->item_root.node = htole16(16 + 56 * 5); /* beyond nr_items */
	assert_corrupt(bt, "item_root");

	RESET();
	bt->items[1].val_off = htole16(120); /* inside the item array */
	assert_corrupt(bt, "value");

	RESET();
	bt->items[1].val_off = htole16(62344 + 4); /* not 8 aligned */
	assert_corrupt(bt, "value");

	RESET();
	bt->items[1].val_len = htole16(900);
	assert_corrupt(bt, "value length");

	RESET();
	bt->total_item_bytes = htole16(281);
	assert_corrupt(bt, "total_item_bytes");

	RESET();
	bt->mid_free_len = htole16(62300);
	assert_corrupt(bt, "mid_free_len");

	RESET();
	buckets = sfs_btree_leaf_hash(bt);
	buckets[1040] = 0;
	assert_corrupt(bt, "hash");

	RESET();
	buckets = sfs_btree_leaf_hash(bt);
	buckets[7] = htole16(48);
	assert_corrupt(bt, "hash");

	RESET();
	buckets = sfs_btree_leaf_hash(bt);
	buckets[1040] = htole16(50);
	assert_corrupt(bt, "hash bucket");

	RESET();
	bt->items[0].key = bt->items[1].key; /* order broken */
	assert_corrupt(bt, "key");

	RESET();
	bt->nr_items = htole16(2000);
	assert_corrupt(bt, "overflow");

	RESET();
	bt->items[0].flags = 0x80;
	assert_corrupt(bt, "flags");

	/* a self loop must not hang the walkers */
	RESET();
	bt->items[1].node.left = htole16(72);
	bt->items[1].node.parent = htole16(72);
	assert_int_equal(sfs_btree_block_verify(bt, 0, (char[100]){ 0 }, 100), -EIO);
	assert_null(sfs_btree_first_item(bt));

	RESET();
	assert_verifies(bt);
	free(bt);
	free(orig);
}

/* list hashing gives every item the bucket sfs_leaf_hash_bucket gives its key */
static void test_list_hash(void **state)
{
	struct sfs_btree_list_item items[37];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned int nr, i;
	(void)state;

	for (nr = 1; nr <= 37; nr++) {
		for (i = 0; i < nr; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memset(&items[i], 0, sizeof(items[i]));
			items[i].key = sfs_key_make((uint8_t)x, x >> 8, (uint8_t)(x >> 16), x * 3,
						    x * 5, (uint8_t)(x >> 24));
		}
		sfs_btree_list_hash(items, nr);
		for (i = 0; i < nr; i++)
			assert_int_equal(items[i].bucket1, sfs_leaf_hash_bucket(&items[i].key) + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_leaves),
		cmocka_unit_test(test_append_matches_vector),
		cmocka_unit_test(test_hash_wraps),
		cmocka_unit_test(test_append_full),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_list_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
