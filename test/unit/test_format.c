// SPDX-License-Identifier: GPL-2.0
/*
 * format.h against the reference vectors: the byte-level assertions of
 * format-spec.md section 16, made both on raw offsets and through our
 * structures (so a wrong struct layout fails here), plus known answers for
 * crc32c, fnv1a, the dirent and xattr name hashes, bloom bits, the free
 * extent order, srch entry encoding and key order/arithmetic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "scoutfs/format.h"
#include "vectors.h"

#define V2_FSID 0x115b3e9f75b9ee07ULL

/* every byte in [from, to) changed one at a time breaks the crc */
static void assert_crc_covers(void *blk, size_t size, size_t from, size_t to, size_t step)
{
	uint32_t good = sfs_block_crc(blk, size);
	unsigned char *p = blk;

	for (size_t i = from; i < to; i += step) {
		p[i] ^= 0x40;
		assert_int_not_equal(sfs_block_crc(blk, size), good);
		p[i] ^= 0x40;
	}
	assert_int_equal(sfs_block_crc(blk, size), good);
}

/* conformance 1-8 */
static void test_v2_meta_super(void **state)
{
	unsigned char *b = load_vector("v2/meta-super.bin", SCOUTFS_BLOCK_SM_SIZE);
	struct scoutfs_super_block *super = (void *)b;
	static const unsigned char uuid[16] = { 0xc9, 0x0e, 0x9e, 0xf5, 0x15, 0xe2, 0x41, 0xf6,
						0xa4, 0x61, 0xd5, 0xb0, 0x1f, 0xc8, 0x46, 0x79 };
	static const unsigned char slot0[8] = { 0x01, 0x00, 0x10, 0xa4, 0x01, 0x00, 0x00, 0x7f };
	(void)state;

	/* 1 */
	assert_memory_equal(b + 4, "\x8b\x42\x3c\x10", 4);
	assert_int_equal(get64(b, 24), 16);
	assert_int_equal(get64(b, 16), 1);
	assert_int_equal(le32toh(super->hdr.magic), SCOUTFS_BLOCK_MAGIC_SUPER);
	assert_int_equal(le64toh(super->hdr.blkno), SCOUTFS_SUPER_BLKNO);
	/* 2 */
	assert_int_equal(get32(b, 0), 0x758bd299);
	assert_int_equal(sfs_block_crc(b, SCOUTFS_BLOCK_SM_SIZE), 0x758bd299);
	assert_crc_covers(b, SCOUTFS_BLOCK_SM_SIZE, 4, SCOUTFS_BLOCK_SM_SIZE, 97);
	assert_crc_covers(b, SCOUTFS_BLOCK_SM_SIZE, 4000, 4001, 1);
	/* 3 */
	assert_int_equal(le64toh(super->hdr.fsid), V2_FSID);
	assert_memory_equal(super->uuid, uuid, 16);
	assert_memory_equal(b + 56, uuid, 16);
	/* 4 */
	assert_int_equal(le64toh(super->fmt_vers), 2);
	assert_int_equal(le64toh(super->flags), SCOUTFS_FLAG_IS_META_BDEV);
	assert_int_equal(le64toh(super->id), 0);
	assert_int_equal(le64toh(super->seq), 1);
	assert_int_equal(le64toh(super->next_ino), 1024);
	assert_int_equal(le64toh(super->inode_count), 1);
	assert_int_equal(le64toh(super->total_meta_blocks), 16384);
	assert_int_equal(le64toh(super->total_data_blocks), 524288);
	/* 5 */
	assert_int_equal(le64toh(super->qconf.version), 1);
	assert_memory_equal(b + 120, slot0, 8);
	assert_int_equal(le16toh(super->qconf.slots[0].addr.v4.family), SCOUTFS_AF_IPV4);
	assert_int_equal(le16toh(super->qconf.slots[0].addr.v4.port), 42000);
	assert_int_equal(le32toh(super->qconf.slots[0].addr.v4.addr), 0x7f000001);
	assert_int_equal(le16toh(super->qconf.slots[1].addr.v4.port), 42001);
	assert_int_equal(le16toh(super->qconf.slots[2].addr.v4.port), 42002);
	assert_int_equal(get16(b, 152 + 2), 42001);
	assert_int_equal(get16(b, 184 + 2), 42002);
	assert_false(all_zero(b, 128, 152)); /* garbage a parser must ignore */
	assert_true(all_zero(b, 216, 600));
	for (int i = 3; i < 15; i++)
		assert_int_equal(le16toh(super->qconf.slots[i].addr.v4.family), SCOUTFS_AF_NONE);
	/* 6 */
	assert_int_equal(le64toh(super->meta_alloc[0].total_len), 7677);
	assert_int_equal(le32toh(super->meta_alloc[0].flags), 0);
	assert_int_equal(le64toh(super->meta_alloc[0].root.ref.blkno), 1029);
	assert_int_equal(le64toh(super->meta_alloc[0].root.ref.seq), 1);
	assert_int_equal(super->meta_alloc[0].root.height, 1);
	assert_int_equal(get64(b, 600), 7677);
	assert_int_equal(get64(b, 616), 1029);
	assert_int_equal(b[632], 1);
	assert_int_equal(le64toh(super->meta_alloc[1].total_len), 7676);
	assert_int_equal(le64toh(super->meta_alloc[1].root.ref.blkno), 1030);
	assert_int_equal(get64(b, 640), 7676);
	assert_int_equal(get64(b, 656), 1030);
	assert_int_equal(get64(b, 664), 1);
	assert_int_equal(b[672], 1);
	assert_int_equal(le64toh(super->data_alloc.total_len), 524224);
	assert_int_equal(le64toh(super->data_alloc.root.ref.blkno), 1028);
	assert_int_equal(get64(b, 680), 524224);
	assert_int_equal(get64(b, 696), 1028);
	assert_int_equal(get64(b, 704), 1);
	assert_int_equal(b[712], 1);
	/* 7 */
	assert_int_equal(le64toh(super->server_meta_avail[0].ref.blkno), 3);
	assert_int_equal(le64toh(super->server_meta_avail[0].ref.seq), 1);
	assert_int_equal(le64toh(super->server_meta_avail[0].total_nr), 1024);
	assert_int_equal(le32toh(super->server_meta_avail[0].first_nr), 1024);
	assert_int_equal(le32toh(super->server_meta_avail[0].flags), 0);
	assert_int_equal(get64(b, 720), 3);
	assert_int_equal(get64(b, 736), 1024);
	assert_int_equal(get32(b, 744), 1024);
	assert_true(all_zero(b, 752, 848));
	/* 8 */
	assert_int_equal(le64toh(super->fs_root.ref.blkno), 2);
	assert_int_equal(le64toh(super->fs_root.ref.seq), 1);
	assert_int_equal(super->fs_root.height, 1);
	assert_int_equal(get64(b, 848), 2);
	assert_int_equal(get64(b, 856), 1);
	assert_int_equal(b[864], 1);
	assert_true(all_zero(b, 872, 968));
	assert_int_equal(super->logs_root.height, 0);
	assert_int_equal(super->srch_root.ref.blkno, 0);
	assert_true(all_zero(b, 968, 1488));
	assert_int_equal(super->volopt.set_bits, 0);
	assert_true(all_zero(b, 1488, 4096));
	free(b);
}

/* conformance 10 */
static void test_v2_data_super(void **state)
{
	unsigned char *m = load_vector("v2/meta-super.bin", SCOUTFS_BLOCK_SM_SIZE);
	unsigned char *d = load_vector("v2/data-super.bin", SCOUTFS_BLOCK_SM_SIZE);
	struct scoutfs_super_block *super = (void *)d;
	(void)state;

	assert_int_equal(get32(d, 0), 0xf34e103b);
	assert_int_equal(sfs_block_crc(d, SCOUTFS_BLOCK_SM_SIZE), 0xf34e103b);
	assert_int_equal(le64toh(super->flags), 0);
	for (size_t i = 0; i < SCOUTFS_BLOCK_SM_SIZE; i++) {
		if (i < 4 || i == 48)
			continue;
		assert_int_equal(m[i], d[i]);
	}
	assert_int_not_equal(m[48], d[48]);
	free(m);
	free(d);
}

/* conformance 11 */
static void test_v2_quorum_block(void **state)
{
	unsigned char *b = load_vector("v2/meta-quorum-slot0.bin", SCOUTFS_BLOCK_SM_SIZE);
	struct scoutfs_quorum_block *qb = (void *)b;
	(void)state;

	assert_int_equal(le32toh(qb->hdr.magic), SCOUTFS_BLOCK_MAGIC_QUORUM);
	assert_int_equal(get32(b, 4), 0xbc310868);
	assert_int_equal(le64toh(qb->hdr.fsid), V2_FSID);
	assert_int_equal(le64toh(qb->hdr.seq), 1);
	assert_int_equal(le64toh(qb->hdr.blkno), 17);
	assert_int_equal(get32(b, 0), 0xd900bb67);
	assert_int_equal(sfs_block_crc(b, SCOUTFS_BLOCK_SM_SIZE), 0xd900bb67);
	assert_int_equal(le64toh(qb->write_nr), 0);
	for (int e = 0; e < SCOUTFS_QUORUM_EVENT_NR; e++) {
		assert_int_equal(qb->events[e].rid, 0);
		assert_int_equal(qb->events[e].term, 0);
	}
	assert_true(all_zero(b, 32, 4096));
	free(b);
}

/* conformance 12-14, 16-17 on raw offsets and through the structs */
static void test_v2_fs_root_leaf(void **state)
{
	unsigned char *b = load_vector("v2/meta-fs_root-leaf.bin", SCOUTFS_BLOCK_LG_SIZE);
	struct scoutfs_btree_block *bt = (void *)b;
	struct scoutfs_btree_item *it;
	struct scoutfs_inode *inode;
	static const unsigned char key0[32] = { [16] = 0x01, [25] = 0x04, [26] = 0x04 };
	static const unsigned char key1[32] = { [0] = 0x01, [25] = 0x10, [26] = 0x04 };
	(void)state;

	/* 12 */
	assert_int_equal(le32toh(bt->hdr.magic), SCOUTFS_BLOCK_MAGIC_BTREE);
	assert_int_equal(le64toh(bt->hdr.blkno), 2);
	assert_int_equal(le64toh(bt->hdr.seq), 1);
	assert_int_equal(get32(b, 0), 0x64cbabfa);
	assert_int_equal(sfs_block_crc(b, SCOUTFS_BLOCK_LG_SIZE), 0x64cbabfa);
	assert_int_equal(le16toh(bt->item_root.node), 72);
	assert_int_equal(le16toh(bt->nr_items), 2);
	assert_int_equal(le16toh(bt->total_item_bytes), 280);
	assert_int_equal(le16toh(bt->mid_free_len), 62184);
	assert_int_equal(bt->level, 0);
	assert_int_equal(get16(b, 32), 72);
	assert_int_equal(get16(b, 38), 62184);

	/* 13 */
	it = &bt->items[0];
	assert_ptr_equal((unsigned char *)it, b + 48);
	assert_int_equal(le16toh(it->node.parent), 72);
	assert_int_equal(it->node.left, 0);
	assert_int_equal(it->node.right, 0);
	assert_int_equal(it->node.height, 1);
	assert_memory_equal(b + 56, key0, 32);
	assert_int_equal(it->key.sk_zone, SCOUTFS_INODE_INDEX_ZONE);
	assert_int_equal(it->key.sk_type, SCOUTFS_INODE_INDEX_META_SEQ_TYPE);
	assert_int_equal(le64toh(it->key.skii_ino), 1);
	assert_int_equal(le64toh(it->key.skii_major), 0);
	assert_int_equal(le64toh(it->seq), 1);
	assert_int_equal(get64(b, 88), 1);
	assert_int_equal(it->val_off, 0);
	assert_int_equal(it->val_len, 0);
	assert_int_equal(it->flags, 0);

	/* 14 */
	it = &bt->items[1];
	assert_ptr_equal((unsigned char *)it, b + 104);
	assert_int_equal(it->node.parent, 0);
	assert_int_equal(le16toh(it->node.left), 16);
	assert_int_equal(it->node.right, 0);
	assert_int_equal(it->node.height, 0);
	assert_memory_equal(b + 112, key1, 32);
	assert_int_equal(it->key.sk_zone, SCOUTFS_FS_ZONE);
	assert_int_equal(le64toh(it->key.ski_ino), 1);
	assert_int_equal(it->key.sk_type, SCOUTFS_INODE_TYPE);
	assert_int_equal(le64toh(it->seq), 1);
	assert_int_equal(le16toh(it->val_off), 62344);
	assert_int_equal(le16toh(it->val_len), SCOUTFS_INODE_FMT_V2_BYTES);
	assert_int_equal(get16(b, 152), 62344);
	assert_int_equal(get16(b, 154), 168);

	/* 16 */
	assert_int_equal(sfs_fnv1a32(&bt->items[1].key, 32), 0x1aacbf90);
	assert_int_equal(sfs_leaf_hash_bucket(&bt->items[1].key), 1040);
	assert_int_equal(sfs_fnv1a32(&bt->items[0].key, 32), 0xf6d1cdfc);
	assert_int_equal(sfs_leaf_hash_bucket(&bt->items[0].key), 252);
	assert_int_equal(get16(b, 62512 + 2 * 1040), 104);
	assert_int_equal(get16(b, 62512 + 2 * 252), 48);
	for (int i = 0; i < SCOUTFS_BTREE_LEAF_ITEM_HASH_NR; i++)
		if (i != 1040 && i != 252)
			assert_int_equal(get16(b, 62512 + 2 * i), 0);

	/* 17 */
	inode = (void *)(b + 62344);
	assert_int_equal(inode->size, 0);
	assert_int_equal(inode->meta_seq, 0);
	assert_int_equal(inode->data_seq, 0);
	assert_int_equal(inode->data_version, 0);
	assert_int_equal(inode->online_blocks, 0);
	assert_int_equal(inode->offline_blocks, 0);
	assert_int_equal(le64toh(inode->next_readdir_pos), 2);
	assert_int_equal(get64(b, 62392), 2);
	assert_int_equal(inode->next_xattr_id, 0);
	assert_int_equal(inode->version, 0);
	assert_int_equal(le32toh(inode->nlink), 2);
	assert_int_equal(get32(b, 62416), 2);
	assert_int_equal(inode->uid, 0);
	assert_int_equal(inode->gid, 0);
	assert_int_equal(le32toh(inode->mode), 040755);
	assert_memory_equal(b + 62428, "\xed\x41\x00\x00", 4);
	assert_int_equal(inode->rdev, 0);
	assert_int_equal(inode->flags, 0);
	assert_int_equal(le64toh(inode->atime.sec), 1795245905);
	assert_int_equal(le32toh(inode->atime.nsec), 465229000);
	assert_memory_equal(&inode->ctime, &inode->atime, sizeof(inode->atime));
	assert_memory_equal(&inode->mtime, &inode->atime, sizeof(inode->atime));
	assert_memory_equal(&inode->crtime, &inode->atime, sizeof(inode->atime));
	assert_true(all_zero(inode->atime.__pad, 0, 4));
	assert_int_equal(inode->proj, 0);
	assert_int_equal(get64(b, 62504), 0);
	assert_true(all_zero(b, 160, 62344));
	free(b);
}

/* conformance 18 */
static void test_v1_fs_root_leaf(void **state)
{
	unsigned char *b = load_vector("v1/meta-fs_root-leaf.bin", SCOUTFS_BLOCK_LG_SIZE);
	struct scoutfs_btree_block *bt = (void *)b;
	(void)state;

	assert_int_equal(sfs_block_crc(b, SCOUTFS_BLOCK_LG_SIZE), 0xf0ad5634);
	assert_int_equal(le16toh(bt->total_item_bytes), 272);
	assert_int_equal(le16toh(bt->mid_free_len), 62192);
	assert_int_equal(le16toh(bt->items[1].val_off), 62352);
	assert_int_equal(le16toh(bt->items[1].val_len), SCOUTFS_INODE_FMT_V1_BYTES);
	free(b);
}

/* conformance 19 */
static void test_v2_alloc_list(void **state)
{
	unsigned char *b = load_vector("v2/meta-server_meta_avail0-list.bin", SCOUTFS_BLOCK_LG_SIZE);
	struct scoutfs_alloc_list_block *lb = (void *)b;
	(void)state;

	assert_int_equal(le32toh(lb->hdr.magic), SCOUTFS_BLOCK_MAGIC_ALLOC_LIST);
	assert_int_equal(le64toh(lb->hdr.blkno), 3);
	assert_int_equal(sfs_block_crc(b, SCOUTFS_BLOCK_LG_SIZE), 0x9621379c);
	assert_int_equal(get32(b, 0), 0x9621379c);
	assert_true(all_zero(b, 32, 48));
	assert_int_equal(lb->next.blkno, 0);
	assert_int_equal(le32toh(lb->start), 0);
	assert_int_equal(get32(b, 48), 0);
	assert_int_equal(le32toh(lb->nr), 1024);
	assert_int_equal(get32(b, 52), 1024);
	assert_int_equal(get64(b, 56), 4);
	assert_int_equal(get64(b, 56 + 8 * 1023), 1027);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(le64toh(lb->blknos[i]), 4 + i);
	assert_true(all_zero(b, 8248, 65536));
	free(b);
}

static void check_alloc_leaf(const char *name, uint32_t crc, uint64_t last, uint64_t len,
			     uint64_t revord, unsigned int bucket_blkno, unsigned int bucket_order)
{
	unsigned char *b = load_vector(name, SCOUTFS_BLOCK_LG_SIZE);
	struct scoutfs_btree_block *bt = (void *)b;
	struct scoutfs_btree_item *it;

	assert_int_equal(sfs_block_crc(b, SCOUTFS_BLOCK_LG_SIZE), crc);
	assert_int_equal(le16toh(bt->nr_items), 2);
	assert_int_equal(le16toh(bt->total_item_bytes), 112);
	assert_int_equal(le16toh(bt->mid_free_len), 62352);
	assert_int_equal(le16toh(bt->item_root.node), 72);

	it = &bt->items[0];
	assert_int_equal(b[81], SCOUTFS_FREE_EXTENT_BLKNO_ZONE);
	assert_int_equal(it->key.sk_zone, SCOUTFS_FREE_EXTENT_BLKNO_ZONE);
	assert_int_equal(le64toh(it->key.skfb_end), last);
	assert_int_equal(le64toh(it->key.skfb_len), len);
	assert_int_equal(it->val_len, 0);
	it = &bt->items[1];
	assert_int_equal(it->key.sk_zone, SCOUTFS_FREE_EXTENT_ORDER_ZONE);
	assert_int_equal(le64toh(it->key.skfo_revord), revord);
	assert_int_equal(le64toh(it->key.skfo_end), last);
	assert_int_equal(le64toh(it->key.skfo_len), len);
	assert_int_equal(it->val_len, 0);
	assert_int_equal(UINT64_MAX - sfs_free_extent_order(len), revord);

	assert_int_equal(sfs_leaf_hash_bucket(&bt->items[0].key), bucket_blkno);
	assert_int_equal(sfs_leaf_hash_bucket(&bt->items[1].key), bucket_order);
	assert_int_equal(get16(b, 62512 + 2 * bucket_blkno), 48);
	assert_int_equal(get16(b, 62512 + 2 * bucket_order), 104);
	free(b);
}

/* conformance 20-21 */
static void test_v2_alloc_btrees(void **state)
{
	(void)state;

	check_alloc_leaf("v2/meta-data_alloc-btree.bin", 0x695f8474, 524287, 524224,
			 0xfffffffffffffff9ULL, 1322, 640);
	check_alloc_leaf("v2/meta-meta_alloc0-btree.bin", 0x75aeb755, 8707, 7677,
			 0xfffffffffffffffbULL, 58, 626);
	assert_int_equal(sfs_free_extent_order(7677), 4);
	assert_int_equal(sfs_free_extent_order(524224), 6);
	for (uint64_t l = 1; l <= 7; l++)
		assert_int_equal(sfs_free_extent_order(l), 0);
	assert_int_equal(sfs_free_extent_order(8), 1);
	assert_int_equal(sfs_free_extent_order(63), 1);
	assert_int_equal(sfs_free_extent_order(64), 2);
	assert_int_equal(sfs_free_extent_order(0), 0);
}

/* conformance 22-23 and 12.4's examples */
static void test_hashes(void **state)
{
	char long255[255];
	(void)state;

	assert_int_equal(sfs_crc32c(~0U, "123456789", 9), 0x1cf96d7c);
	assert_int_equal(~sfs_crc32c(~0U, "123456789", 9), 0xe3069283);
	assert_int_equal(sfs_xattr_name_hash("user.test", 9), 0xf21778d1);
	assert_int_equal(sfs_fnv1a32("", 0), 0x811c9dc5);
	assert_int_equal(sfs_fnv1a32("hello", 5), 0x4f9f2cab);
	assert_true(sfs_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(sfs_fnv1a64("hello", 5) == 0xa430d84680aabd0bULL);

	assert_true(sfs_dirent_name_hash("hello", 5) == 0x68656c6c4f9f2cabULL);
	assert_true(sfs_dirent_name_hash("a", 1) == 0x61000000e40c292cULL);
	assert_true(sfs_dirent_name_hash("ab", 2) == 0x616200004d2505caULL);
	assert_true(sfs_dirent_name_hash("abcd", 4) == 0x61626364ce3479bdULL);
	assert_true(sfs_dirent_name_hash("lost+found", 10) == 0x67547574a3603574ULL);
	assert_true(sfs_dirent_name_hash("xattr_name_that_is_quite_long_0123456789", 40) ==
		    0x44654754ce5ca0ddULL);
	for (int i = 0; i < 255; i++)
		long255[i] = (char)('a' + i % 26);
	assert_int_equal(sfs_fnv1a32(long255, 255), 0x45a1b2c9);
	assert_int_equal(sfs_dirent_name_fingerprint(long255, 255), 0x0347137f);
}

/* conformance 24 */
static void test_bloom_bits(void **state)
{
	struct scoutfs_key key;
	uint32_t nrs[3];
	(void)state;

	key = sfs_key_make(SCOUTFS_FS_ZONE, 0, 0, 0, 0, 0);
	assert_true(sfs_fnv1a64(&key, sizeof(key)) == 0xb75a57d3304dc7f5ULL);
	sfs_bloom_nrs(&key, nrs);
	assert_int_equal(nrs[0], 349301);
	assert_int_equal(nrs[1], 400905);
	assert_int_equal(nrs[2], 383775);

	key = sfs_key_make(SCOUTFS_FS_ZONE, 1024, 0, 0, 0, 0);
	assert_true(sfs_fnv1a64(&key, sizeof(key)) == 0xe68ce6e805057c09ULL);
	sfs_bloom_nrs(&key, nrs);
	assert_int_equal(nrs[0], 410633);
	assert_int_equal(nrs[1], 362016);
	assert_int_equal(nrs[2], 181083);
}

/* conformance 25 */
static void test_srch_encoding(void **state)
{
	static const uint8_t e1_bytes[] = { 0x28, 0x00, 0xe9, 0x85, 0xaa, 0xfe, 0x72, 0x4f,
					    0x9e, 0xb7, 0x02, 0x08 };
	static const uint8_t e2_bytes[] = { 0x10, 0x01, 0x0a, 0x06 };
	static const uint8_t e3_bytes[] = { 0x18, 0x01, 0xea, 0xa5, 0xaa, 0xfe, 0x72, 0x4f,
					    0x9e, 0xb7, 0x0b, 0x03 };
	struct scoutfs_srch_entry zero = { 0 };
	struct scoutfs_srch_entry ents[3] = {
		{ htole64(0xa430d84680aabd0bULL), htole64(1025), htole64(0) },
		{ htole64(0xa430d84680aabd0bULL), htole64(1030), htole64(3) },
		{ htole64(0x1000), htole64(1024), htole64(1) },
	};
	struct scoutfs_srch_entry got, prev;
	uint8_t buf[3 * SCOUTFS_SRCH_ENTRY_MAX_BYTES];
	unsigned int off = 0, n;
	(void)state;

	n = sfs_srch_encode_entry(buf + off, &ents[0], &zero);
	assert_int_equal(n, sizeof(e1_bytes));
	assert_memory_equal(buf + off, e1_bytes, n);
	off += n;
	n = sfs_srch_encode_entry(buf + off, &ents[1], &ents[0]);
	assert_int_equal(n, sizeof(e2_bytes));
	assert_memory_equal(buf + off, e2_bytes, n);
	off += n;
	n = sfs_srch_encode_entry(buf + off, &ents[2], &ents[1]);
	assert_int_equal(n, sizeof(e3_bytes));
	assert_memory_equal(buf + off, e3_bytes, n);
	off += n;

	/* decode back */
	prev = zero;
	for (unsigned int i = 0, pos = 0; i < 3; i++) {
		n = sfs_srch_decode_entry(buf + pos, off - pos, &got, &prev);
		assert_int_not_equal(n, 0);
		assert_memory_equal(&got, &ents[i], sizeof(got));
		prev = got;
		pos += n;
	}

	/* a non-minimal length (zero-filled high bytes) decodes the same */
	{
		uint8_t padded[] = { 0x30, 0x01, 0x0a, 0x00, 0x00, 0x06 };

		n = sfs_srch_decode_entry(padded, sizeof(padded), &got, &ents[0]);
		assert_int_equal(n, sizeof(padded));
		assert_memory_equal(&got, &ents[1], sizeof(got));
	}
	/* truncated input is refused, not read past */
	assert_int_equal(sfs_srch_decode_entry(e1_bytes, sizeof(e1_bytes) - 1, &got, &zero), 0);
	assert_int_equal(sfs_srch_decode_entry(e1_bytes, 1, &got, &zero), 0);
	/* identical entries encode as all-zero deltas: 2 bytes */
	assert_int_equal(sfs_srch_encode_entry(buf, &ents[0], &ents[0]), 2);
	assert_int_equal(sfs_srch_entry_cmp(&ents[2], &ents[0]), -1);
	assert_int_equal(sfs_srch_entry_cmp(&ents[1], &ents[0]), 1);
}

/* conformance 26 */
static void test_key_order(void **state)
{
	struct scoutfs_key a, b, ones, zero;
	(void)state;

	a = sfs_key_make(16, 1, 4, 0, 0, 0);
	b = sfs_key_make(4, 0, 4, 0, 1, 0);
	assert_true(sfs_key_cmp(&a, &b) > 0);
	assert_true(sfs_key_cmp(&b, &a) < 0);
	assert_int_equal(sfs_key_cmp(&a, &a), 0);

	a = sfs_key_make(16, 1, 8, 0, 0, 0);
	b = sfs_key_make(16, 1, 4, UINT64_MAX, 0, 0);
	assert_true(sfs_key_cmp(&a, &b) > 0);

	/* first outranks type, which outranks second, third, fourth */
	a = sfs_key_make(16, 2, 0, 0, 0, 0);
	b = sfs_key_make(16, 1, 255, UINT64_MAX, UINT64_MAX, 255);
	assert_true(sfs_key_cmp(&a, &b) > 0);
	a = sfs_key_make(16, 1, 4, 0, 2, 0);
	b = sfs_key_make(16, 1, 4, 0, 1, 255);
	assert_true(sfs_key_cmp(&a, &b) > 0);

	/* pad is ignored */
	a = sfs_key_make(16, 1, 4, 0, 0, 0);
	b = a;
	b.__pad[2] = 7;
	assert_int_equal(sfs_key_cmp(&a, &b), 0);

	/* carries: fourth into third into ... into type */
	a = sfs_key_make(1, 0, 0, UINT64_MAX, UINT64_MAX, 255);
	sfs_key_inc(&a);
	b = sfs_key_make(1, 0, 1, 0, 0, 0);
	assert_memory_equal(&a, &b, sizeof(a));
	sfs_key_dec(&a);
	b = sfs_key_make(1, 0, 0, UINT64_MAX, UINT64_MAX, 255);
	assert_memory_equal(&a, &b, sizeof(a));

	/* type carries into first, first into zone */
	a = sfs_key_make(3, 5, 255, UINT64_MAX, UINT64_MAX, 255);
	sfs_key_inc(&a);
	b = sfs_key_make(3, 6, 0, 0, 0, 0);
	assert_memory_equal(&a, &b, sizeof(a));
	a = sfs_key_make(3, UINT64_MAX, 255, UINT64_MAX, UINT64_MAX, 255);
	sfs_key_inc(&a);
	b = sfs_key_make(4, 0, 0, 0, 0, 0);
	assert_memory_equal(&a, &b, sizeof(a));
	sfs_key_dec(&a);
	b = sfs_key_make(3, UINT64_MAX, 255, UINT64_MAX, UINT64_MAX, 255);
	assert_memory_equal(&a, &b, sizeof(a));

	/* ones + 1 = zero, zero - 1 = ones */
	sfs_key_set_ones(&ones);
	sfs_key_set_zero(&zero);
	assert_true(sfs_key_is_ones(&ones));
	a = ones;
	sfs_key_inc(&a);
	assert_memory_equal(&a, &zero, sizeof(a));
	assert_true(sfs_key_is_zero(&a));
	sfs_key_dec(&a);
	assert_memory_equal(&a, &ones, sizeof(a));
	assert_true(sfs_key_cmp(&zero, &ones) < 0);

	/* simple inc */
	a = sfs_key_make(16, 1, 4, 0, 0, 3);
	sfs_key_inc(&a);
	assert_int_equal(a._sk_fourth, 4);
}

static void test_xattr_indx_key(void **state)
{
	struct scoutfs_key key;
	uint64_t minor, ino, id;
	uint8_t major;
	(void)state;

	key = sfs_xattr_indx_key(0xab, 0x0102030405060708ULL, 0x1112131415161718ULL,
				 0x2122232425262728ULL);
	assert_int_equal(key.sk_zone, SCOUTFS_XATTR_INDX_ZONE);
	assert_true(le64toh(key._sk_first) == 0xab01020304050607ULL);
	assert_true(le64toh(key._sk_second) == 0x0811121314151617ULL);
	assert_true(le64toh(key._sk_third) == 0x1821222324252627ULL);
	assert_int_equal(key._sk_fourth, 0x28);
	sfs_xattr_indx_key_fields(&key, &major, &minor, &ino, &id);
	assert_int_equal(major, 0xab);
	assert_true(minor == 0x0102030405060708ULL);
	assert_true(ino == 0x1112131415161718ULL);
	assert_true(id == 0x2122232425262728ULL);
}

/* conformance 28 (the byte part; pair validation is in test_super) */
static void test_v1_supers(void **state)
{
	unsigned char *m = load_vector("v1/meta-super.bin", SCOUTFS_BLOCK_SM_SIZE);
	unsigned char *d = load_vector("v1/data-super.bin", SCOUTFS_BLOCK_SM_SIZE);
	(void)state;

	assert_int_equal(get64(m, 40), 1);
	assert_int_equal(get64(d, 40), 1);
	assert_int_equal(sfs_block_crc(m, SCOUTFS_BLOCK_SM_SIZE), 0x1c9d4cfc);
	assert_int_equal(get32(m, 0), 0x1c9d4cfc);
	assert_int_equal(sfs_block_crc(d, SCOUTFS_BLOCK_SM_SIZE), 0x9a588e5e);
	assert_int_equal(get32(d, 0), 0x9a588e5e);
	assert_true(get64(m, 8) == 0x8874b975b91187fbULL);
	for (size_t i = 0; i < SCOUTFS_BLOCK_SM_SIZE; i++)
		if (i >= 4 && i != 48)
			assert_int_equal(m[i], d[i]);
	free(m);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_meta_super),
		cmocka_unit_test(test_v2_data_super),
		cmocka_unit_test(test_v2_quorum_block),
		cmocka_unit_test(test_v2_fs_root_leaf),
		cmocka_unit_test(test_v1_fs_root_leaf),
		cmocka_unit_test(test_v2_alloc_list),
		cmocka_unit_test(test_v2_alloc_btrees),
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_bloom_bits),
		cmocka_unit_test(test_srch_encoding),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_xattr_indx_key),
		cmocka_unit_test(test_v1_supers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
