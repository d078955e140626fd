/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SCOUTFS_FORMAT_H
#define SCOUTFS_FORMAT_H

/*
 * The scoutfs on-disk format, version 2 (and 1), byte for byte.
 *
 * This header is shared by the daemon, the tools and archive agents.  It
 * holds every on-disk structure of the format specification
 * (shared/design/format-spec.md, summarised in docs/format.md), the
 * constants that go with them, and the small pure functions every reader
 * and writer needs: crc32c, fnv1a, key order and arithmetic, the dirent
 * name hash, the xattr name hash, bloom bit positions, the free extent
 * order and the srch entry encoding.
 *
 * Rules for everything here:
 *  1. Every multi-byte integer is little-endian (__le16/__le32/__le64);
 *     convert with le64toh()/htole64() and friends.  Never store host order.
 *  2. Structures use natural alignment with explicit pad fields; no packing
 *     pragmas, no bitfields, no pointers.  Every size is asserted below.
 *  3. pad fields are written as zero and never checked on read, except the
 *     key pad, which is hashed (leaf hash table, bloom) and so must be zero.
 *  4. Offsets in comments are byte offsets within the enclosing structure.
 */

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <endian.h>
#include <linux/types.h>
#include <isa-l/crc.h>

/* ------------------------------------------------------------------ */
/* Versions, block sizes and fixed locations                            */
/* ------------------------------------------------------------------ */

#define SCOUTFS_FORMAT_VERSION_MIN 1
#define SCOUTFS_FORMAT_VERSION_MAX 2
#define SCOUTFS_FORMAT_VERSION_MIN_STR "1"
#define SCOUTFS_FORMAT_VERSION_MAX_STR "2"

#define SCOUTFS_BLOCK_SM_SHIFT 12
#define SCOUTFS_BLOCK_SM_SIZE (1U << SCOUTFS_BLOCK_SM_SHIFT) /* 4 KiB */
#define SCOUTFS_BLOCK_LG_SHIFT 16
#define SCOUTFS_BLOCK_LG_SIZE (1U << SCOUTFS_BLOCK_LG_SHIFT) /* 64 KiB */
#define SCOUTFS_BLOCK_SM_PER_LG (SCOUTFS_BLOCK_LG_SIZE / SCOUTFS_BLOCK_SM_SIZE)

/* super and quorum blocks are addressed in SM units */
#define SCOUTFS_SUPER_BLKNO 16ULL
#define SCOUTFS_QUORUM_BLKNO 17ULL
#define SCOUTFS_QUORUM_BLOCKS 15ULL
#define SCOUTFS_QUORUM_MAX_SLOTS SCOUTFS_QUORUM_BLOCKS
/* first allocatable LG block on the meta device, SM block on data device */
#define SCOUTFS_META_DEV_START_BLKNO 2ULL
#define SCOUTFS_DATA_DEV_START_BLKNO 64ULL

#define SCOUTFS_BLOCK_MAGIC_SUPER 0x103c428bU
#define SCOUTFS_BLOCK_MAGIC_BTREE 0xe597f96dU
#define SCOUTFS_BLOCK_MAGIC_BLOOM 0x31995604U
#define SCOUTFS_BLOCK_MAGIC_SRCH_BLOCK 0x897e4a7dU
#define SCOUTFS_BLOCK_MAGIC_SRCH_PARENT 0xb23a2a05U
#define SCOUTFS_BLOCK_MAGIC_ALLOC_LIST 0x8a93ac83U
#define SCOUTFS_BLOCK_MAGIC_QUORUM 0xbc310868U

/* statfs f_type, "SCOU"; never stored */
#define SCOUTFS_SUPER_MAGIC 0x554f4353U

#define SCOUTFS_UUID_BYTES 16
#define SCOUTFS_ROOT_INO 1ULL
#define SCOUTFS_LOCK_INODE_GROUP_NR 1024ULL
#define SCOUTFS_LOCK_INODE_GROUP_MASK (SCOUTFS_LOCK_INODE_GROUP_NR - 1)
#define SCOUTFS_LOCK_SEQ_GROUP_MASK ((1ULL << 10) - 1)

/* ------------------------------------------------------------------ */
/* Common structures                                                    */
/* ------------------------------------------------------------------ */

/* 32 bytes, the first bytes of every block */
struct scoutfs_block_header {
	__le32 crc;	/* 0: crc32c of block bytes [4, size), raw (no final xor) */
	__le32 magic;	/* 4: block type */
	__le64 fsid;	/* 8: volume fsid (meta super's hdr.fsid) */
	__le64 seq;	/* 16: LG: random nonce per COW; super: write counter */
	__le64 blkno;	/* 24: own block number (SM for super/quorum, else LG) */
};

/* 16 bytes */
struct scoutfs_block_ref {
	__le64 blkno;	/* 0: LG blkno on the meta device, 0 = none */
	__le64 seq;	/* 8: must equal the referenced block's hdr.seq */
};

/* 16 bytes */
struct scoutfs_timespec {
	__le64 sec;	/* 0 */
	__le32 nsec;	/* 8 */
	__u8 __pad[4];	/* 12 */
};

/*
 * 32 bytes.  Keys compare by zone, first, type, second, third, fourth
 * (sfs_key_cmp), not in struct order.  Printed zone.first.type.second.third.fourth.
 */
struct scoutfs_key {
	__le64 _sk_first;	/* 0 */
	__le64 _sk_second;	/* 8 */
	__le64 _sk_third;	/* 16 */
	__u8 _sk_fourth;	/* 24 */
	__u8 sk_zone;		/* 25 */
	__u8 sk_type;		/* 26 */
	__u8 __pad[5];		/* 27: zero, hashed */
};

/* ------------------------------------------------------------------ */
/* Btrees                                                               */
/* ------------------------------------------------------------------ */

#define SCOUTFS_BTREE_MAX_HEIGHT 20
#define SCOUTFS_BTREE_MAX_VAL_LEN 896
#define SCOUTFS_BTREE_LEAF_ITEM_HASH_NR 1512
#define SCOUTFS_BTREE_LEAF_ITEM_HASH_BYTES (SCOUTFS_BTREE_LEAF_ITEM_HASH_NR * 2)
/* block offset where a leaf's hash table starts: 62512 */
#define SCOUTFS_BTREE_LEAF_ITEM_HASH_OFF \
	(SCOUTFS_BLOCK_LG_SIZE - SCOUTFS_BTREE_LEAF_ITEM_HASH_BYTES)
/* AVL links are offsets relative to the item_root field at block offset 32 */
#define SCOUTFS_BTREE_AVL_BASE 32
#define SCOUTFS_BTREE_ITEM_FLAG_DELETION 0x01

/* 24 bytes */
struct scoutfs_btree_root {
	struct scoutfs_block_ref ref;	/* 0: root block, blkno 0 = empty tree */
	__u8 height;			/* 16: levels, 0 = empty, root level = height-1 */
	__u8 __pad[7];			/* 17 */
};

/* 2 bytes: offset (relative to block offset 32) of the AVL root item */
struct scoutfs_avl_root {
	__le16 node;
};

/* 8 bytes: AVL links, relative to block offset 32, 0 = none */
struct scoutfs_avl_node {
	__le16 parent;	/* 0 */
	__le16 left;	/* 2 */
	__le16 right;	/* 4 */
	__u8 height;	/* 6: advisory, mkfs writes wrong heights */
	__u8 __pad[1];	/* 7 */
};

/* 56 bytes */
struct scoutfs_btree_item {
	struct scoutfs_avl_node node;	/* 0 */
	struct scoutfs_key key;		/* 8 */
	__le64 seq;			/* 40: item version */
	__le16 val_off;			/* 48: block offset of the value, 0 if val_len 0 */
	__le16 val_len;			/* 50: 0..896 */
	__u8 flags;			/* 52: DELETION */
	__u8 __pad[3];			/* 53 */
};

/* 48 byte header followed by the dense item array */
struct scoutfs_btree_block {
	struct scoutfs_block_header hdr;	/* 0: magic BTREE */
	struct scoutfs_avl_root item_root;	/* 32 */
	__le16 nr_items;			/* 34 */
	__le16 total_item_bytes;		/* 36: sum of 56 + round_up(val_len, 8) */
	__le16 mid_free_len;			/* 38: free gap after the item array */
	__u8 level;				/* 40: 0 = leaf */
	__u8 __pad[7];				/* 41 */
	struct scoutfs_btree_item items[];	/* 48 */
};

/* most items a leaf can hold: (65536 - 48 - 3024) / 56 */
#define SCOUTFS_BTREE_LEAF_MAX_ITEMS 1115

/* ------------------------------------------------------------------ */
/* Allocators                                                           */
/* ------------------------------------------------------------------ */

#define SCOUTFS_ALLOC_FLAG_LOW 0x1
#define SCOUTFS_ALLOC_LIST_MAX_BLKNOS 8185

/* 40 bytes: a btree of free extents (zones 36 and 40) */
struct scoutfs_alloc_root {
	__le64 total_len;		/* 0: blocks in all extents */
	__le32 flags;			/* 8: LOW */
	__u8 __pad[4];			/* 12 */
	struct scoutfs_btree_root root;	/* 16 */
};

/* 32 bytes */
struct scoutfs_alloc_list_head {
	struct scoutfs_block_ref ref;	/* 0: first list block, 0 = empty */
	__le64 total_nr;		/* 16: blknos in the whole chain */
	__le32 first_nr;		/* 24: blknos in the first block */
	__le32 flags;			/* 28: LOW */
};

/* one LG block, magic ALLOC_LIST */
struct scoutfs_alloc_list_block {
	struct scoutfs_block_header hdr;	/* 0 */
	struct scoutfs_block_ref next;		/* 32 */
	__le32 start;				/* 48: index of first valid entry */
	__le32 nr;				/* 52: number of valid entries */
	__le64 blknos[SCOUTFS_ALLOC_LIST_MAX_BLKNOS]; /* 56 */
};

/* ------------------------------------------------------------------ */
/* Bloom filter blocks                                                  */
/* ------------------------------------------------------------------ */

#define SCOUTFS_BLOOM_BITS 523968ULL
#define SCOUTFS_BLOOM_NRS 3
#define SCOUTFS_BLOOM_BIT_SHIFT 19

struct scoutfs_bloom_block {
	struct scoutfs_block_header hdr;	/* 0 */
	__le64 total_set;			/* 32 */
	__le64 bits[8187];			/* 40: bit n = byte 40 + n/8, 1 << n%8 */
};

/* ------------------------------------------------------------------ */
/* srch files                                                           */
/* ------------------------------------------------------------------ */

#define SCOUTFS_SRCH_PARENT_REFS 4094
#define SCOUTFS_SRCH_ENTRY_MAX_BYTES 26
/* an entry may start at most at this entries offset (65536 - 112 - 26) */
#define SCOUTFS_SRCH_BLOCK_SAFE_BYTES 65398
#define SCOUTFS_SRCH_COMPACT_NR 4

#define SCOUTFS_SRCH_COMPACT_FLAG_LOG 0x01
#define SCOUTFS_SRCH_COMPACT_FLAG_SORTED 0x02
#define SCOUTFS_SRCH_COMPACT_FLAG_DELETE 0x04
#define SCOUTFS_SRCH_COMPACT_FLAG_DONE 0x10
#define SCOUTFS_SRCH_COMPACT_FLAG_ERROR 0x20

/* 24 bytes, ordered by hash, ino, id */
struct scoutfs_srch_entry {
	__le64 hash;	/* 0: fnv1a64 of the xattr name */
	__le64 ino;	/* 8 */
	__le64 id;	/* 16: xattr id */
};

/* 88 bytes */
struct scoutfs_srch_file {
	struct scoutfs_srch_entry first;	/* 0 */
	struct scoutfs_srch_entry last;		/* 24 */
	struct scoutfs_block_ref ref;		/* 48: radix root */
	__le64 blocks;				/* 64: leaf blocks */
	__le64 entries;				/* 72: encoded entries */
	__u8 height;				/* 80: 0 empty, 1 ref is leaf 0 */
	__u8 __pad[7];				/* 81 */
};

struct scoutfs_srch_parent {
	struct scoutfs_block_header hdr;			/* 0 */
	struct scoutfs_block_ref refs[SCOUTFS_SRCH_PARENT_REFS]; /* 32 */
};

struct scoutfs_srch_block {
	struct scoutfs_block_header hdr;	/* 0 */
	struct scoutfs_srch_entry first;	/* 32 */
	struct scoutfs_srch_entry last;		/* 56 */
	struct scoutfs_srch_entry tail;		/* 80: last entry encoded */
	__le32 entry_nr;			/* 104 */
	__le32 entry_bytes;			/* 108 */
	__u8 entries[];				/* 112 */
};

#define SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES \
	(SCOUTFS_BLOCK_LG_SIZE - sizeof(struct scoutfs_srch_block))

/* 104 bytes */
struct scoutfs_srch_compact_input {
	struct scoutfs_srch_file sfl;	/* 0 */
	__le64 blk;			/* 88: resume cursor */
	__le64 pos;			/* 96 */
};

/* 584 bytes, srch_root PENDING and BUSY values */
struct scoutfs_srch_compact {
	struct scoutfs_alloc_list_head meta_avail;	/* 0 */
	struct scoutfs_alloc_list_head meta_freed;	/* 32 */
	__le64 id;					/* 64 */
	__u8 nr;					/* 72 */
	__u8 flags;					/* 73 */
	__u8 __pad[6];					/* 74 */
	struct scoutfs_srch_file out;			/* 80 */
	struct scoutfs_srch_compact_input in[SCOUTFS_SRCH_COMPACT_NR]; /* 168 */
};

/* ------------------------------------------------------------------ */
/* Log trees                                                            */
/* ------------------------------------------------------------------ */

#define SCOUTFS_DATA_ALLOC_MAX_ZONES 1024
#define SCOUTFS_DATA_ALLOC_ZONE_LE64S (SCOUTFS_DATA_ALLOC_MAX_ZONES / 64)
#define SCOUTFS_LOG_TREES_FLAG_FINALIZED 0x1ULL

/* 472 bytes, logs_root value keyed by (rid, nr) */
struct scoutfs_log_trees {
	struct scoutfs_alloc_list_head meta_avail;	/* 0 */
	struct scoutfs_alloc_list_head meta_freed;	/* 32 */
	struct scoutfs_btree_root item_root;		/* 64 */
	struct scoutfs_block_ref bloom_ref;		/* 88 */
	struct scoutfs_alloc_root data_avail;		/* 104 */
	struct scoutfs_alloc_root data_freed;		/* 144 */
	struct scoutfs_srch_file srch_file;		/* 184 */
	__le64 data_alloc_zone_blocks;			/* 272 */
	__le64 data_alloc_zones[SCOUTFS_DATA_ALLOC_ZONE_LE64S]; /* 280 */
	__le64 inode_count_delta;			/* 408: signed */
	__le64 get_trans_seq;				/* 416 */
	__le64 commit_trans_seq;			/* 424 */
	__le64 max_item_seq;				/* 432 */
	__le64 finalize_seq;				/* 440 */
	__le64 rid;					/* 448 */
	__le64 nr;					/* 456 */
	__le64 flags;					/* 464: FINALIZED */
};

/* ------------------------------------------------------------------ */
/* Super block and quorum                                               */
/* ------------------------------------------------------------------ */

#define SCOUTFS_FLAG_IS_META_BDEV 0x1ULL

#define SCOUTFS_AF_NONE 0
#define SCOUTFS_AF_IPV4 1
#define SCOUTFS_AF_IPV6 2

/* 32 bytes, IPv4 form.  Bytes 8..31 are undefined: readers ignore them. */
struct scoutfs_inet_addr4 {
	__le16 family;	/* 0: SCOUTFS_AF_IPV4 */
	__le16 port;	/* 2: host value stored little-endian */
	__le32 addr;	/* 4: host-order u32 stored little-endian */
	__u8 __pad[24];	/* 8 */
};

/* 32 bytes, IPv6 form */
struct scoutfs_inet_addr6 {
	__le16 family;		/* 0: SCOUTFS_AF_IPV6 */
	__le16 port;		/* 2 */
	__u8 addr[16];		/* 4: network order */
	__le32 flow_info;	/* 20 */
	__le32 scope_id;	/* 24 */
	__u8 __pad[4];		/* 28 */
};

union scoutfs_inet_addr {
	struct scoutfs_inet_addr4 v4;
	struct scoutfs_inet_addr6 v6;
};

struct scoutfs_quorum_slot {
	union scoutfs_inet_addr addr;
};

/* 488 bytes */
struct scoutfs_quorum_config {
	__le64 version;					/* 0: mkfs writes 1 */
	struct scoutfs_quorum_slot slots[SCOUTFS_QUORUM_MAX_SLOTS]; /* 8 */
};

#define SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_NR 0
#define SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT (1ULL << 0)
#define SCOUTFS_VOLOPT_EXPANSION_BITS (~SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT)

/* 520 bytes */
struct scoutfs_volume_options {
	__le64 set_bits;		/* 0 */
	__le64 data_alloc_zone_blocks;	/* 8: option 0 */
	__le64 __expansion[63];		/* 16: options 1..63, undefined */
};

/* 1488 bytes at SM blkno 16 of both devices, zero padded to 4096 */
struct scoutfs_super_block {
	struct scoutfs_block_header hdr;		/* 0 */
	__le64 id;					/* 32: unused */
	__le64 fmt_vers;				/* 40 */
	__le64 flags;					/* 48: IS_META_BDEV */
	__u8 uuid[SCOUTFS_UUID_BYTES];			/* 56 */
	__le64 seq;					/* 72 */
	__le64 next_ino;				/* 80 */
	__le64 inode_count;				/* 88 */
	__le64 total_meta_blocks;			/* 96: LG, whole device */
	__le64 total_data_blocks;			/* 104: SM, whole device */
	struct scoutfs_quorum_config qconf;		/* 112 */
	struct scoutfs_alloc_root meta_alloc[2];	/* 600 */
	struct scoutfs_alloc_root data_alloc;		/* 680 */
	struct scoutfs_alloc_list_head server_meta_avail[2]; /* 720 */
	struct scoutfs_alloc_list_head server_meta_freed[2]; /* 784 */
	struct scoutfs_btree_root fs_root;		/* 848 */
	struct scoutfs_btree_root logs_root;		/* 872 */
	struct scoutfs_btree_root log_merge;		/* 896 */
	struct scoutfs_btree_root mounted_clients;	/* 920 */
	struct scoutfs_btree_root srch_root;		/* 944 */
	struct scoutfs_volume_options volopt;		/* 968 */
};

/* quorum block events, indices into scoutfs_quorum_block.events */
enum scoutfs_quorum_event {
	SCOUTFS_QUORUM_EVENT_BEGIN = 0,
	SCOUTFS_QUORUM_EVENT_TERM,
	SCOUTFS_QUORUM_EVENT_ELECT,
	SCOUTFS_QUORUM_EVENT_FENCE,
	SCOUTFS_QUORUM_EVENT_STOP,
	SCOUTFS_QUORUM_EVENT_END,
	SCOUTFS_QUORUM_EVENT_NR,
};

/* 40 bytes */
struct scoutfs_quorum_block_event {
	__le64 write_nr;		/* 0 */
	__le64 rid;			/* 8 */
	__le64 term;			/* 16 */
	struct scoutfs_timespec ts;	/* 24: writer's monotonic clock */
};

/* 280 bytes at SM blkno 17 + slot, zero padded to 4096 */
struct scoutfs_quorum_block {
	struct scoutfs_block_header hdr;	/* 0 */
	__le64 write_nr;			/* 32 */
	struct scoutfs_quorum_block_event events[SCOUTFS_QUORUM_EVENT_NR]; /* 40 */
};

/* ------------------------------------------------------------------ */
/* Keys: zones and types                                                */
/* ------------------------------------------------------------------ */

#define SCOUTFS_INODE_INDEX_ZONE 4
#define SCOUTFS_INODE_INDEX_META_SEQ_TYPE 4
#define SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE 8
#define SCOUTFS_ORPHAN_ZONE 8
#define SCOUTFS_ORPHAN_TYPE 4
#define SCOUTFS_QUOTA_ZONE 10
#define SCOUTFS_QUOTA_RULE_TYPE 4
#define SCOUTFS_XATTR_TOTL_ZONE 12
#define SCOUTFS_XATTR_INDX_ZONE 14
#define SCOUTFS_FS_ZONE 16
#define SCOUTFS_INODE_TYPE 4
#define SCOUTFS_XATTR_TYPE 8
#define SCOUTFS_DIRENT_TYPE 12
#define SCOUTFS_READDIR_TYPE 16
#define SCOUTFS_LINK_BACKREF_TYPE 20
#define SCOUTFS_SYMLINK_TYPE 24
#define SCOUTFS_DATA_EXTENT_TYPE 28
#define SCOUTFS_LOCK_ZONE 20
#define SCOUTFS_RENAME_TYPE 4
#define SCOUTFS_LOG_TREES_ZONE 24
#define SCOUTFS_MOUNTED_CLIENT_ZONE 28
#define SCOUTFS_SRCH_ZONE 32
#define SCOUTFS_SRCH_LOG_TYPE 4
#define SCOUTFS_SRCH_BLOCKS_TYPE 8
#define SCOUTFS_SRCH_PENDING_TYPE 12
#define SCOUTFS_SRCH_BUSY_TYPE 16
#define SCOUTFS_FREE_EXTENT_BLKNO_ZONE 36
#define SCOUTFS_FREE_EXTENT_ORDER_ZONE 40
#define SCOUTFS_LOG_MERGE_STATUS_ZONE 44
#define SCOUTFS_LOG_MERGE_RANGE_ZONE 48
#define SCOUTFS_LOG_MERGE_REQUEST_ZONE 52
#define SCOUTFS_LOG_MERGE_COMPLETE_ZONE 56
#define SCOUTFS_LOG_MERGE_FREEING_ZONE 60

/* named key fields per item kind */
#define skii_major _sk_second	/* inode index */
#define skii_ino _sk_third
#define sko_ino _sk_second	/* orphan */
#define skqr_hash _sk_second	/* quota rule */
#define skqr_coll_nr _sk_third
#define skxt_a _sk_first	/* xattr totl */
#define skxt_b _sk_second
#define skxt_c _sk_third
#define ski_ino _sk_first	/* inode */
#define skx_ino _sk_first	/* xattr */
#define skx_name_hash _sk_second
#define skx_id _sk_third
#define skx_part _sk_fourth
#define skd_ino _sk_first	/* dirent, readdir */
#define skd_major _sk_second
#define skd_minor _sk_third
#define skf_ino _sk_first	/* link backref */
#define skf_dir_ino _sk_second
#define skf_pos _sk_third
#define sks_ino _sk_first	/* symlink */
#define sks_nr _sk_second
#define skdx_ino _sk_first	/* data extent */
#define skdx_end _sk_second
#define skdx_len _sk_third
#define sklt_rid _sk_first	/* log trees */
#define sklt_nr _sk_second
#define skmc_rid _sk_first	/* mounted client */
#define sksf_nr _sk_second	/* srch file */
#define sksc_id _sk_second	/* srch compact pending */
#define skfb_end _sk_first	/* free extent by blkno */
#define skfb_len _sk_second
#define skfo_revord _sk_first	/* free extent by order */
#define skfo_end _sk_second
#define skfo_len _sk_third
#define sklmq_rid _sk_first	/* log merge request */
#define sklmq_seq _sk_second
#define sklmc_seq _sk_first	/* log merge complete */
#define sklmf_seq _sk_first	/* log merge freeing */

/* ------------------------------------------------------------------ */
/* Filesystem items                                                     */
/* ------------------------------------------------------------------ */

#define SCOUTFS_INODE_FMT_V1_BYTES 160
#define SCOUTFS_INODE_FMT_V2_BYTES 168
#define SCOUTFS_INO_FLAG_TRUNCATE 0x1U
#define SCOUTFS_INO_FLAG_RETENTION 0x2U
#define SCOUTFS_INO_FLAGS_V1 (SCOUTFS_INO_FLAG_TRUNCATE)
#define SCOUTFS_INO_FLAGS_V2 (SCOUTFS_INO_FLAG_TRUNCATE | SCOUTFS_INO_FLAG_RETENTION)

/* 168 bytes in v2, 160 (without proj) in v1 */
struct scoutfs_inode {
	__le64 size;			/* 0 */
	__le64 meta_seq;		/* 8 */
	__le64 data_seq;		/* 16 */
	__le64 data_version;		/* 24 */
	__le64 online_blocks;		/* 32 */
	__le64 offline_blocks;		/* 40 */
	__le64 next_readdir_pos;	/* 48 */
	__le64 next_xattr_id;		/* 56 */
	__le64 version;			/* 64 */
	__le32 nlink;			/* 72 */
	__le32 uid;			/* 76 */
	__le32 gid;			/* 80 */
	__le32 mode;			/* 84 */
	__le32 rdev;			/* 88: kernel internal (major << 20) | minor */
	__le32 flags;			/* 92 */
	struct scoutfs_timespec atime;	/* 96 */
	struct scoutfs_timespec ctime;	/* 112 */
	struct scoutfs_timespec mtime;	/* 128 */
	struct scoutfs_timespec crtime;	/* 144 */
	__le64 proj;			/* 160: v2 only */
};

#define SCOUTFS_DIRENT_FIRST_POS 2ULL
#define SCOUTFS_DIRENT_LAST_POS (UINT64_MAX - 1)
#define SCOUTFS_NAME_LEN 255

enum scoutfs_dentry_type {
	SCOUTFS_DT_FIFO = 0,
	SCOUTFS_DT_CHR,
	SCOUTFS_DT_DIR,
	SCOUTFS_DT_BLK,
	SCOUTFS_DT_REG,
	SCOUTFS_DT_LNK,
	SCOUTFS_DT_SOCK,
	SCOUTFS_DT_WHT,
};

/* 32 bytes + name, the value of dirent, readdir and link backref items */
struct scoutfs_dirent {
	__le64 ino;	/* 0 */
	__le64 hash;	/* 8 */
	__le64 pos;	/* 16 */
	__u8 type;	/* 24 */
	__u8 __pad[7];	/* 25 */
	__u8 name[];	/* 32 */
};

#define SCOUTFS_XATTR_MAX_NAME_LEN 255
#define SCOUTFS_XATTR_MAX_VAL_LEN 65535
#define SCOUTFS_XATTR_MAX_PART_SIZE SCOUTFS_BTREE_MAX_VAL_LEN
#define SCOUTFS_XATTR_NR_PARTS(name_len, val_len) \
	((8U + (name_len) + (val_len) + SCOUTFS_XATTR_MAX_PART_SIZE - 1) / \
	 SCOUTFS_XATTR_MAX_PART_SIZE)
#define SCOUTFS_XATTR_MAX_PARTS \
	SCOUTFS_XATTR_NR_PARTS(SCOUTFS_XATTR_MAX_NAME_LEN, SCOUTFS_XATTR_MAX_VAL_LEN)

/* 8 byte header starting part 0 of an xattr, followed by name then value */
struct scoutfs_xattr {
	__le16 val_len;		/* 0 */
	__u8 name_len;		/* 2 */
	__u8 __pad[5];		/* 3 */
	__u8 name[];		/* 8 */
};

#define SCOUTFS_SYMLINK_MAX_SIZE 4096

#define SCOUTFS_SEF_OFFLINE 0x1
#define SCOUTFS_SEF_UNWRITTEN 0x2
#define SCOUTFS_SEF_EXISTING_BITS (SCOUTFS_SEF_OFFLINE | SCOUTFS_SEF_UNWRITTEN)

/* 16 bytes, data extent value */
struct scoutfs_data_extent_val {
	__le64 blkno;	/* 0: first data SM block, 0 = unmapped */
	__u8 flags;	/* 8: OFFLINE, UNWRITTEN */
	__u8 __pad[7];	/* 9 */
};

/* 16 bytes, xattr totl value: deltas in log trees */
struct scoutfs_xattr_totl_val {
	__le64 total;	/* 0: signed */
	__le64 count;	/* 8: signed */
};

#define SCOUTFS_QUOTA_OP_INODE 0
#define SCOUTFS_QUOTA_OP_DATA 1
#define SCOUTFS_QUOTA_NR_OPS 2
#define SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT 0x1
#define SCOUTFS_QUOTA_SOURCE_LITERAL 0
#define SCOUTFS_QUOTA_SOURCE_PROJ 1
#define SCOUTFS_QUOTA_SOURCE_UID 2
#define SCOUTFS_QUOTA_SOURCE_GID 3
#define SCOUTFS_QUOTA_NR_SOURCES 4
#define SCOUTFS_QUOTA_FLAG_SELECT 0x1

/* 48 bytes, quota rule value */
struct scoutfs_quota_rule_val {
	__le64 name_val[3];	/* 0 */
	__le64 limit;		/* 24 */
	__u8 prio;		/* 32 */
	__u8 op;		/* 33 */
	__u8 rule_flags;	/* 34 */
	__u8 name_source[3];	/* 35 */
	__u8 name_flags[3];	/* 38 */
	__u8 __pad[7];		/* 41: zero, hashed */
};

/* ------------------------------------------------------------------ */
/* Server-private items                                                 */
/* ------------------------------------------------------------------ */

#define SCOUTFS_MOUNTED_CLIENT_QUORUM 0x1

/* 40 bytes */
struct scoutfs_mounted_client_btree_val {
	union scoutfs_inet_addr addr;	/* 0 */
	__u8 flags;			/* 32: QUORUM */
	__u8 __pad[7];			/* 33 */
};

/* 56 bytes */
struct scoutfs_log_merge_status {
	struct scoutfs_key next_range_key;	/* 0 */
	__le64 nr_requests;			/* 32 */
	__le64 nr_complete;			/* 40 */
	__le64 seq;				/* 48 */
};

/* 64 bytes */
struct scoutfs_log_merge_range {
	struct scoutfs_key start;	/* 0 */
	struct scoutfs_key end;		/* 32 */
};

#define SCOUTFS_LOG_MERGE_REQUEST_SUBTREE 0x1ULL

/* 208 bytes */
struct scoutfs_log_merge_request {
	struct scoutfs_alloc_list_head meta_avail;	/* 0 */
	struct scoutfs_alloc_list_head meta_freed;	/* 32 */
	struct scoutfs_btree_root logs_root;		/* 64 */
	struct scoutfs_btree_root root;			/* 88 */
	struct scoutfs_key start;			/* 112 */
	struct scoutfs_key end;				/* 144 */
	__le64 input_seq;				/* 176 */
	__le64 rid;					/* 184 */
	__le64 seq;					/* 192 */
	__le64 flags;					/* 200 */
};

#define SCOUTFS_LOG_MERGE_COMP_ERROR 0x1ULL
#define SCOUTFS_LOG_MERGE_COMP_REMAIN 0x2ULL

/* 208 bytes */
struct scoutfs_log_merge_complete {
	struct scoutfs_alloc_list_head meta_avail;	/* 0 */
	struct scoutfs_alloc_list_head meta_freed;	/* 32 */
	struct scoutfs_btree_root root;			/* 64 */
	struct scoutfs_key start;			/* 88 */
	struct scoutfs_key end;				/* 120 */
	struct scoutfs_key remain;			/* 152 */
	__le64 rid;					/* 184 */
	__le64 seq;					/* 192 */
	__le64 flags;					/* 200 */
};

/* 64 bytes */
struct scoutfs_log_merge_freeing {
	struct scoutfs_btree_root root;	/* 0 */
	struct scoutfs_key key;		/* 24 */
	__le64 seq;			/* 56 */
};

/* ------------------------------------------------------------------ */
/* Size and offset assertions                                           */
/* ------------------------------------------------------------------ */

#define SFS_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define SFS_ASSERT_OFF(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " must be at " #off)

SFS_ASSERT_SIZE(struct scoutfs_block_header, 32);
SFS_ASSERT_SIZE(struct scoutfs_block_ref, 16);
SFS_ASSERT_SIZE(struct scoutfs_timespec, 16);
SFS_ASSERT_SIZE(struct scoutfs_key, 32);
SFS_ASSERT_OFF(struct scoutfs_key, sk_zone, 25);
SFS_ASSERT_OFF(struct scoutfs_key, sk_type, 26);
SFS_ASSERT_SIZE(struct scoutfs_btree_root, 24);
SFS_ASSERT_SIZE(struct scoutfs_avl_node, 8);
SFS_ASSERT_SIZE(struct scoutfs_btree_item, 56);
SFS_ASSERT_OFF(struct scoutfs_btree_item, seq, 40);
SFS_ASSERT_OFF(struct scoutfs_btree_item, val_off, 48);
SFS_ASSERT_OFF(struct scoutfs_btree_item, flags, 52);
SFS_ASSERT_SIZE(struct scoutfs_btree_block, 48);
SFS_ASSERT_OFF(struct scoutfs_btree_block, level, 40);
SFS_ASSERT_SIZE(struct scoutfs_alloc_root, 40);
SFS_ASSERT_SIZE(struct scoutfs_alloc_list_head, 32);
SFS_ASSERT_SIZE(struct scoutfs_alloc_list_block, SCOUTFS_BLOCK_LG_SIZE);
SFS_ASSERT_OFF(struct scoutfs_alloc_list_block, blknos, 56);
SFS_ASSERT_SIZE(struct scoutfs_bloom_block, SCOUTFS_BLOCK_LG_SIZE);
SFS_ASSERT_SIZE(struct scoutfs_srch_entry, 24);
SFS_ASSERT_SIZE(struct scoutfs_srch_file, 88);
SFS_ASSERT_SIZE(struct scoutfs_srch_parent, SCOUTFS_BLOCK_LG_SIZE);
SFS_ASSERT_SIZE(struct scoutfs_srch_block, 112);
SFS_ASSERT_SIZE(struct scoutfs_srch_compact_input, 104);
SFS_ASSERT_SIZE(struct scoutfs_srch_compact, 584);
SFS_ASSERT_OFF(struct scoutfs_srch_compact, out, 80);
SFS_ASSERT_OFF(struct scoutfs_srch_compact, in, 168);
SFS_ASSERT_SIZE(struct scoutfs_log_trees, 472);
SFS_ASSERT_OFF(struct scoutfs_log_trees, srch_file, 184);
SFS_ASSERT_OFF(struct scoutfs_log_trees, data_alloc_zones, 280);
SFS_ASSERT_OFF(struct scoutfs_log_trees, inode_count_delta, 408);
SFS_ASSERT_OFF(struct scoutfs_log_trees, flags, 464);
SFS_ASSERT_SIZE(struct scoutfs_inet_addr4, 32);
SFS_ASSERT_SIZE(struct scoutfs_inet_addr6, 32);
SFS_ASSERT_SIZE(union scoutfs_inet_addr, 32);
SFS_ASSERT_SIZE(struct scoutfs_quorum_config, 488);
SFS_ASSERT_SIZE(struct scoutfs_volume_options, 520);
SFS_ASSERT_SIZE(struct scoutfs_super_block, 1488);
SFS_ASSERT_OFF(struct scoutfs_super_block, fmt_vers, 40);
SFS_ASSERT_OFF(struct scoutfs_super_block, uuid, 56);
SFS_ASSERT_OFF(struct scoutfs_super_block, qconf, 112);
SFS_ASSERT_OFF(struct scoutfs_super_block, meta_alloc, 600);
SFS_ASSERT_OFF(struct scoutfs_super_block, data_alloc, 680);
SFS_ASSERT_OFF(struct scoutfs_super_block, server_meta_avail, 720);
SFS_ASSERT_OFF(struct scoutfs_super_block, server_meta_freed, 784);
SFS_ASSERT_OFF(struct scoutfs_super_block, fs_root, 848);
SFS_ASSERT_OFF(struct scoutfs_super_block, logs_root, 872);
SFS_ASSERT_OFF(struct scoutfs_super_block, log_merge, 896);
SFS_ASSERT_OFF(struct scoutfs_super_block, mounted_clients, 920);
SFS_ASSERT_OFF(struct scoutfs_super_block, srch_root, 944);
SFS_ASSERT_OFF(struct scoutfs_super_block, volopt, 968);
SFS_ASSERT_SIZE(struct scoutfs_quorum_block_event, 40);
SFS_ASSERT_SIZE(struct scoutfs_quorum_block, 280);
SFS_ASSERT_SIZE(struct scoutfs_inode, SCOUTFS_INODE_FMT_V2_BYTES);
SFS_ASSERT_OFF(struct scoutfs_inode, proj, SCOUTFS_INODE_FMT_V1_BYTES);
SFS_ASSERT_OFF(struct scoutfs_inode, nlink, 72);
SFS_ASSERT_OFF(struct scoutfs_inode, atime, 96);
SFS_ASSERT_SIZE(struct scoutfs_dirent, 32);
SFS_ASSERT_SIZE(struct scoutfs_xattr, 8);
SFS_ASSERT_SIZE(struct scoutfs_data_extent_val, 16);
SFS_ASSERT_SIZE(struct scoutfs_xattr_totl_val, 16);
SFS_ASSERT_SIZE(struct scoutfs_quota_rule_val, 48);
SFS_ASSERT_OFF(struct scoutfs_quota_rule_val, name_flags, 38);
SFS_ASSERT_SIZE(struct scoutfs_mounted_client_btree_val, 40);
SFS_ASSERT_SIZE(struct scoutfs_log_merge_status, 56);
SFS_ASSERT_SIZE(struct scoutfs_log_merge_range, 64);
SFS_ASSERT_SIZE(struct scoutfs_log_merge_request, 208);
SFS_ASSERT_OFF(struct scoutfs_log_merge_request, input_seq, 176);
SFS_ASSERT_SIZE(struct scoutfs_log_merge_complete, 208);
SFS_ASSERT_OFF(struct scoutfs_log_merge_complete, remain, 152);
SFS_ASSERT_SIZE(struct scoutfs_log_merge_freeing, 64);
_Static_assert(SCOUTFS_BTREE_LEAF_ITEM_HASH_OFF == 62512, "leaf hash table offset");
_Static_assert(SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES - SCOUTFS_SRCH_ENTRY_MAX_BYTES ==
		       SCOUTFS_SRCH_BLOCK_SAFE_BYTES, "srch safe bytes");

/* ------------------------------------------------------------------ */
/* Checksums and hashes                                                 */
/* ------------------------------------------------------------------ */

/*
 * Raw crc32c (Castagnoli, reflected), no final xor: the caller passes the
 * starting register (~0 for every use in the format) and gets the register
 * back.  ISA-L's crc32_iscsi has exactly this convention and picks the
 * fastest implementation for the CPU at run time.
 */
static inline uint32_t sfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0x40000000) {
		crc = crc32_iscsi((unsigned char *)p, 0x40000000, crc);
		p += 0x40000000;
		len -= 0x40000000;
	}
	return crc32_iscsi((unsigned char *)p, (int)len, crc);
}

/* crc of a whole block of @size bytes: everything after the crc field */
static inline uint32_t sfs_block_crc(const void *blk, size_t size)
{
	return sfs_crc32c(~0U, (const char *)blk + 4, size - 4);
}

static inline uint32_t sfs_fnv1a32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t h = 0x811c9dc5U;

	while (len--) {
		h ^= *p++;
		h *= 0x01000193U;
	}
	return h;
}

static inline uint64_t sfs_fnv1a64(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* xattr key second field: raw crc32c of the full name */
static inline uint64_t sfs_xattr_name_hash(const void *name, size_t len)
{
	return sfs_crc32c(~0U, name, len);
}

/*
 * 32 evenly spaced bits of the name, most significant name bit first, in
 * the high end of the result.  Name bit k is bit (7 - k % 8) of byte k / 8.
 */
static inline uint32_t sfs_dirent_name_fingerprint(const void *name, unsigned int len)
{
	const uint8_t *p = name;
	uint64_t bits = (uint64_t)len * 8;
	uint64_t skip = bits / 32 ? bits / 32 : 1;
	uint32_t fp = 0;
	uint64_t b;
	int i;

	for (i = 0; i < 32; i++) {
		b = (uint64_t)i * skip;
		if (b >= bits)
			break;
		if (p[b / 8] & (0x80 >> (b % 8)))
			fp |= 1U << (31 - i);
	}
	return fp;
}

/* dirent key hash: fnv1a32 in the low half, fingerprint in the high half */
static inline uint64_t sfs_dirent_name_hash(const void *name, unsigned int len)
{
	return ((uint64_t)sfs_dirent_name_fingerprint(name, len) << 32) |
	       sfs_fnv1a32(name, len);
}

/* home bucket of a key in a leaf's item hash table */
static inline unsigned int sfs_leaf_hash_bucket(const struct scoutfs_key *key)
{
	return sfs_fnv1a32(key, sizeof(*key)) % SCOUTFS_BTREE_LEAF_ITEM_HASH_NR;
}

/* the three bloom bit numbers for a lock start key */
static inline void sfs_bloom_nrs(const struct scoutfs_key *key, uint32_t nrs[SCOUTFS_BLOOM_NRS])
{
	uint64_t h = sfs_fnv1a64(key, sizeof(*key));
	int i;

	for (i = 0; i < SCOUTFS_BLOOM_NRS; i++) {
		nrs[i] = (uint32_t)((h & 0xffffffffULL) % SCOUTFS_BLOOM_BITS);
		h >>= SCOUTFS_BLOOM_BIT_SHIFT;
	}
}

/* floor(log8(len)): 1..7 -> 0, 8..63 -> 1, ... */
static inline uint64_t sfs_free_extent_order(uint64_t len)
{
	return (uint64_t)(63 - __builtin_clzll(len | 1)) / 3;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                 */
/* ------------------------------------------------------------------ */

static inline void sfs_key_set_zero(struct scoutfs_key *key)
{
	memset(key, 0, sizeof(*key));
}

static inline void sfs_key_set_ones(struct scoutfs_key *key)
{
	memset(key, 0, sizeof(*key));
	key->sk_zone = UINT8_MAX;
	key->_sk_first = htole64(UINT64_MAX);
	key->sk_type = UINT8_MAX;
	key->_sk_second = htole64(UINT64_MAX);
	key->_sk_third = htole64(UINT64_MAX);
	key->_sk_fourth = UINT8_MAX;
}

static inline struct scoutfs_key sfs_key_make(uint8_t zone, uint64_t first, uint8_t type,
					      uint64_t second, uint64_t third, uint8_t fourth)
{
	struct scoutfs_key key;

	memset(&key, 0, sizeof(key));
	key.sk_zone = zone;
	key._sk_first = htole64(first);
	key.sk_type = type;
	key._sk_second = htole64(second);
	key._sk_third = htole64(third);
	key._sk_fourth = fourth;
	return key;
}

#define SFS_CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* order: zone, first, type, second, third, fourth; pad ignored */
static inline int sfs_key_cmp(const struct scoutfs_key *a, const struct scoutfs_key *b)
{
	int c;

	if ((c = SFS_CMP(a->sk_zone, b->sk_zone)) ||
	    (c = SFS_CMP(le64toh(a->_sk_first), le64toh(b->_sk_first))) ||
	    (c = SFS_CMP(a->sk_type, b->sk_type)) ||
	    (c = SFS_CMP(le64toh(a->_sk_second), le64toh(b->_sk_second))) ||
	    (c = SFS_CMP(le64toh(a->_sk_third), le64toh(b->_sk_third))))
		return c;
	return SFS_CMP(a->_sk_fourth, b->_sk_fourth);
}

static inline bool sfs_key_is_ones(const struct scoutfs_key *key)
{
	struct scoutfs_key ones;

	sfs_key_set_ones(&ones);
	return sfs_key_cmp(key, &ones) == 0;
}

static inline bool sfs_key_is_zero(const struct scoutfs_key *key)
{
	struct scoutfs_key zero;

	sfs_key_set_zero(&zero);
	return sfs_key_cmp(key, &zero) == 0;
}

/* add one to the 216-bit number zone.first.type.second.third.fourth */
static inline void sfs_key_inc(struct scoutfs_key *key)
{
	uint64_t v;

	if (++key->_sk_fourth != 0)
		return;
	v = le64toh(key->_sk_third) + 1;
	key->_sk_third = htole64(v);
	if (v != 0)
		return;
	v = le64toh(key->_sk_second) + 1;
	key->_sk_second = htole64(v);
	if (v != 0)
		return;
	if (++key->sk_type != 0)
		return;
	v = le64toh(key->_sk_first) + 1;
	key->_sk_first = htole64(v);
	if (v != 0)
		return;
	key->sk_zone++;
}

/* subtract one, the mirror of sfs_key_inc */
static inline void sfs_key_dec(struct scoutfs_key *key)
{
	uint64_t v;

	if (key->_sk_fourth-- != 0)
		return;
	v = le64toh(key->_sk_third);
	key->_sk_third = htole64(v - 1);
	if (v != 0)
		return;
	v = le64toh(key->_sk_second);
	key->_sk_second = htole64(v - 1);
	if (v != 0)
		return;
	if (key->sk_type-- != 0)
		return;
	v = le64toh(key->_sk_first);
	key->_sk_first = htole64(v - 1);
	if (v != 0)
		return;
	key->sk_zone--;
}

/* xattr index key: (major 8 bits, minor 64, ino 64, id 64) big end first */
static inline struct scoutfs_key sfs_xattr_indx_key(uint8_t major, uint64_t minor, uint64_t ino,
						    uint64_t id)
{
	return sfs_key_make(SCOUTFS_XATTR_INDX_ZONE, ((uint64_t)major << 56) | (minor >> 8), 0,
			    (minor << 56) | (ino >> 8), (ino << 56) | (id >> 8),
			    (uint8_t)(id & 0xff));
}

static inline void sfs_xattr_indx_key_fields(const struct scoutfs_key *key, uint8_t *major,
					     uint64_t *minor, uint64_t *ino, uint64_t *id)
{
	uint64_t a = le64toh(key->_sk_first), b = le64toh(key->_sk_second);
	uint64_t c = le64toh(key->_sk_third);

	*major = (uint8_t)(a >> 56);
	*minor = (a << 8) | (b >> 56);
	*ino = (b << 8) | (c >> 56);
	*id = (c << 8) | key->_sk_fourth;
}

/* ------------------------------------------------------------------ */
/* srch entry encoding                                                  */
/* ------------------------------------------------------------------ */

static inline int sfs_srch_entry_cmp(const struct scoutfs_srch_entry *a,
				     const struct scoutfs_srch_entry *b)
{
	int c;

	if ((c = SFS_CMP(le64toh(a->hash), le64toh(b->hash))) ||
	    (c = SFS_CMP(le64toh(a->ino), le64toh(b->ino))))
		return c;
	return SFS_CMP(le64toh(a->id), le64toh(b->id));
}

/*
 * Encode @e as a delta from @prev into @buf (room for 26 bytes).  Returns
 * the number of bytes written.
 */
static inline unsigned int sfs_srch_encode_entry(uint8_t *buf, const struct scoutfs_srch_entry *e,
						 const struct scoutfs_srch_entry *prev)
{
	uint64_t vals[3] = {
		le64toh(e->hash) - le64toh(prev->hash),
		le64toh(e->ino) - le64toh(prev->ino),
		le64toh(e->id) - le64toh(prev->id),
	};
	unsigned int off = 2;
	uint16_t lens = 0;
	unsigned int n;
	uint64_t z;
	int i;

	for (i = 0; i < 3; i++) {
		z = (vals[i] << 1) ^ (uint64_t)((int64_t)vals[i] >> 63);
		n = z ? (unsigned int)(64 - __builtin_clzll(z) + 7) / 8 : 0;
		lens |= (uint16_t)(n << (4 * i));
		for (unsigned int b = 0; b < n; b++)
			buf[off++] = (uint8_t)(z >> (8 * b));
	}
	buf[0] = (uint8_t)lens;
	buf[1] = (uint8_t)(lens >> 8);
	return off;
}

/*
 * Decode one entry at @buf with @avail bytes following @prev into @e.
 * Returns the bytes consumed, or 0 if the entry runs past @avail.
 */
static inline unsigned int sfs_srch_decode_entry(const uint8_t *buf, size_t avail,
						 struct scoutfs_srch_entry *e,
						 const struct scoutfs_srch_entry *prev)
{
	uint64_t prevs[3] = { le64toh(prev->hash), le64toh(prev->ino), le64toh(prev->id) };
	uint64_t out[3];
	unsigned int off = 2;
	uint16_t lens;
	unsigned int n, len;
	uint64_t z;
	int i;

	if (avail < 2)
		return 0;
	lens = (uint16_t)(buf[0] | (buf[1] << 8));
	for (i = 0; i < 3; i++) {
		len = (lens >> (4 * i)) & 0xf;
		n = len > 8 ? 8 : len;
		if (off + n > avail)
			return 0;
		z = 0;
		for (unsigned int b = 0; b < n; b++)
			z |= (uint64_t)buf[off + b] << (8 * b);
		off += n;
		out[i] = prevs[i] + ((z >> 1) ^ (0 - (z & 1)));
	}
	e->hash = htole64(out[0]);
	e->ino = htole64(out[1]);
	e->id = htole64(out[2]);
	return off;
}

/* ------------------------------------------------------------------ */
/* Wire: net frames                                                     */
/* ------------------------------------------------------------------ */

/*
 * The framing net.c puts on every TCP stream between scoutfsd daemons
 * (client and server).  It is not the reference's wire format: ours is
 * authenticated.  A frame is
 *
 *	struct scoutfs_net_header	40 bytes
 *	data				header.data_len bytes (<= SCOUTFS_NET_MAX_DATA_LEN)
 *	tag				32 bytes, HMAC-SHA256 over header and data
 *
 * Keys:
 *  - The volume key is HKDF-SHA256(salt none, ikm = super.uuid (16 bytes),
 *    info = SCOUTFS_NET_KEY_LABEL), 32 bytes.  Only hosts that can read the
 *    metadata device know it.
 *  - HELLO frames (both directions) are tagged with the volume key.  Each
 *    carries a fresh random nonce; the reply echoes the client's.
 *  - Every later frame on that TCP connection is tagged with the connection
 *    key HMAC-SHA256(volume key, SCOUTFS_NET_CONN_LABEL || client nonce ||
 *    server nonce), so frames recorded on one connection are refused on
 *    any other.
 *
 * Frame types:
 *  - HELLO: the first frame each way.  The client sends it (flags 0), the
 *    server answers it (flags RESPONSE), payload struct scoutfs_net_hello.
 *    seq, id, cmd, error are 0.  Never resent.
 *  - ACK: no payload; seq, id, cmd, error 0.  Carries only recv_seq.
 *  - MSG: a request (flags 0, error 0) or a response (flags RESPONSE, id
 *    echoing the request's, error a SCOUTFS_NET_ERR_* value).  seq counts
 *    the sender's messages in its session from 1 without gaps; id counts its
 *    requests from 1.  cmd is opaque to net.c.
 *
 * recv_seq in every frame is the greatest seq the sender has received
 * from the peer's session: everything up to it may be forgotten by the
 * peer.  pad fields are written as zero and must be zero.
 */
#define SCOUTFS_NET_MAGIC 0x7366734eU	/* "Nsfs" on the wire */
#define SCOUTFS_NET_VERSION 1
#define SCOUTFS_NET_MAX_DATA_LEN (1U << 20)	/* 1 MiB */
#define SCOUTFS_NET_TAG_BYTES 32
#define SCOUTFS_NET_KEY_BYTES 32
#define SCOUTFS_NET_NONCE_BYTES 16
#define SCOUTFS_NET_KEY_LABEL "scoutfsd net v1"
#define SCOUTFS_NET_CONN_LABEL "scoutfsd conn v1"

#define SCOUTFS_NET_TYPE_HELLO 1
#define SCOUTFS_NET_TYPE_ACK 2
#define SCOUTFS_NET_TYPE_MSG 3

#define SCOUTFS_NET_FLAG_RESPONSE 0x01
#define SCOUTFS_NET_FLAGS_KNOWN SCOUTFS_NET_FLAG_RESPONSE

/*
 * Errors cross the wire as this enum, never as a host errno.  0..6 are
 * the reference's values.  net.c maps them (sfs_net_err_to_wire and
 * sfs_net_err_from_wire); an errno without a value here is sent as EIO, a
 * value past the end is a malformed frame.
 */
enum scoutfs_net_error {
	SCOUTFS_NET_ERR_NONE = 0,
	SCOUTFS_NET_ERR_ENOENT = 1,
	SCOUTFS_NET_ERR_ENOMEM = 2,
	SCOUTFS_NET_ERR_EIO = 3,
	SCOUTFS_NET_ERR_ENOSPC = 4,
	SCOUTFS_NET_ERR_EINVAL = 5,
	SCOUTFS_NET_ERR_ENOLINK = 6,
	SCOUTFS_NET_ERR_ESTALE = 7,
	SCOUTFS_NET_ERR_EEXIST = 8,
	SCOUTFS_NET_ERR_EAGAIN = 9,
	SCOUTFS_NET_ERR_ECONNRESET = 10,
	SCOUTFS_NET_ERR_EOVERFLOW = 11,
	SCOUTFS_NET_ERR_EROFS = 12,
	SCOUTFS_NET_ERR_EOPNOTSUPP = 13,
	SCOUTFS_NET_ERR_ETIMEDOUT = 14,
	SCOUTFS_NET_ERR_EPERM = 15,
	SCOUTFS_NET_ERR_EACCES = 16,
	SCOUTFS_NET_ERR_EBUSY = 17,
	SCOUTFS_NET_ERR_ENOTEMPTY = 18,
	SCOUTFS_NET_ERR_ENODATA = 19,
	SCOUTFS_NET_ERR_EDQUOT = 20,
	SCOUTFS_NET_ERR_EFBIG = 21,
	SCOUTFS_NET_ERR_ENAMETOOLONG = 22,
	SCOUTFS_NET_ERR_ESHUTDOWN = 23,
	SCOUTFS_NET_ERR_ECANCELED = 24,
	SCOUTFS_NET_ERR_ERANGE = 25,
	SCOUTFS_NET_ERR__NR = 26,
};

/* 40 bytes, the start of every frame */
struct scoutfs_net_header {
	__le32 magic;		/*  0: SCOUTFS_NET_MAGIC */
	__u8 version;		/*  4: SCOUTFS_NET_VERSION */
	__u8 type;		/*  5: SCOUTFS_NET_TYPE_* */
	__u8 flags;		/*  6: SCOUTFS_NET_FLAG_* */
	__u8 error;		/*  7: enum scoutfs_net_error, responses only */
	__le64 seq;		/*  8: sender's message seq, 0 for HELLO and ACK */
	__le64 recv_seq;	/* 16: greatest seq received from the peer */
	__le64 id;		/* 24: request id, echoed by the response */
	__le16 cmd;		/* 32: request command, echoed by the response */
	__u8 __pad[2];		/* 34 */
	__le32 data_len;	/* 36: bytes of data after the header */
};

/* 56 bytes, the payload of both HELLO frames */
struct scoutfs_net_hello {
	__le64 session_id;	/*  0: client: its rid; server: its session id */
	__le64 peer_session;	/*  8: client: server session it last had, 0 if none;
				 *     server: the client's rid */
	__le64 last_recv;	/* 16: greatest seq received from the peer's session */
	__u8 nonce[SCOUTFS_NET_NONCE_BYTES];	  /* 24: sender's random nonce */
	__u8 peer_nonce[SCOUTFS_NET_NONCE_BYTES]; /* 40: server: the client's nonce; client: 0 */
};

SFS_ASSERT_SIZE(struct scoutfs_net_header, 40);
SFS_ASSERT_OFF(struct scoutfs_net_header, seq, 8);
SFS_ASSERT_OFF(struct scoutfs_net_header, cmd, 32);
SFS_ASSERT_OFF(struct scoutfs_net_header, data_len, 36);
SFS_ASSERT_SIZE(struct scoutfs_net_hello, 56);
SFS_ASSERT_OFF(struct scoutfs_net_hello, nonce, 24);

/* ------------------------------------------------------------------ */
/* Wire: server and client messages                                     */
/* ------------------------------------------------------------------ */

/*
 * The commands clients and the server exchange over net.c, numbered as
 * the reference numbers them.  Payloads are the structs below, or on-disk
 * structs sent as they are (log_trees, log merge request/complete,
 * srch_compact, volume_options).
 */
enum scoutfs_net_cmd {
	SCOUTFS_NET_CMD_GREETING = 0,		/* net_greeting -> net_greeting */
	SCOUTFS_NET_CMD_ALLOC_INODES = 1,	/* le64 count -> net_inode_alloc */
	SCOUTFS_NET_CMD_GET_LOG_TREES = 2,	/* - -> log_trees */
	SCOUTFS_NET_CMD_COMMIT_LOG_TREES = 3,	/* log_trees -> - */
	SCOUTFS_NET_CMD_SYNC_LOG_TREES = 4,	/* server -> client: commit now */
	SCOUTFS_NET_CMD_GET_ROOTS = 5,		/* - -> net_roots */
	SCOUTFS_NET_CMD_GET_LAST_SEQ = 6,	/* - -> le64 */
	SCOUTFS_NET_CMD_LOCK = 7,
	SCOUTFS_NET_CMD_LOCK_RECOVER = 8,
	SCOUTFS_NET_CMD_SRCH_GET_COMPACT = 9,
	SCOUTFS_NET_CMD_SRCH_COMMIT_COMPACT = 10,
	SCOUTFS_NET_CMD_GET_LOG_MERGE = 11,	/* - -> log_merge_request */
	SCOUTFS_NET_CMD_COMMIT_LOG_MERGE = 12,	/* log_merge_complete -> - */
	SCOUTFS_NET_CMD_OPEN_INO_MAP = 13,
	SCOUTFS_NET_CMD_GET_VOLOPT = 14,
	SCOUTFS_NET_CMD_SET_VOLOPT = 15,
	SCOUTFS_NET_CMD_CLEAR_VOLOPT = 16,
	SCOUTFS_NET_CMD_RESIZE_DEVICES = 17,
	SCOUTFS_NET_CMD_STATFS = 18,		/* - -> net_statfs */
	SCOUTFS_NET_CMD_FAREWELL = 19,		/* - -> - */
	/*
	 * Ours: COMMIT_LOG_TREES then GET_LOG_TREES in one server commit
	 * (log_trees -> the next log_trees, or nothing when the commit
	 * stands but the next must be asked for with GET_LOG_TREES)
	 */
	SCOUTFS_NET_CMD_COMMIT_LOG_TREES_NEXT = 20,
	SCOUTFS_NET_CMD__NR = 21,
};

#define SCOUTFS_NET_GREETING_FLAG_FAREWELL 0x1ULL
#define SCOUTFS_NET_GREETING_FLAG_QUORUM 0x2ULL

/* 40 bytes */
struct scoutfs_net_greeting {
	__le64 fsid;		/*  0 */
	__le64 fmt_vers;	/*  8 */
	__le64 server_term;	/* 16: client: the last server's term it saw, 0 = new mount */
	__le64 rid;		/* 24 */
	__le64 flags;		/* 32 */
};

/* 16 bytes: inode numbers [ino, ino + nr); nr 0 = none left */
struct scoutfs_net_inode_alloc {
	__le64 ino;	/* 0 */
	__le64 nr;	/* 8 */
};

/* 72 bytes: the stable roots of the last server commit */
struct scoutfs_net_roots {
	struct scoutfs_btree_root fs_root;	/*  0 */
	struct scoutfs_btree_root logs_root;	/* 24 */
	struct scoutfs_btree_root srch_root;	/* 48 */
};

/* 64 bytes */
struct scoutfs_net_statfs {
	__u8 uuid[SCOUTFS_UUID_BYTES];	/*  0 */
	__le64 free_meta_blocks;	/* 16 */
	__le64 total_meta_blocks;	/* 24 */
	__le64 free_data_blocks;	/* 32 */
	__le64 total_data_blocks;	/* 40 */
	__le64 inode_count;		/* 48 */
	__le64 committed_seq;		/* 56 */
};

/*
 * 48 bytes: LOCK requests and answers in both directions.  A client asks
 * for new_mode saying it holds old_mode; the grant echoes them with the
 * write_seq its writes under the lock must exceed.  The server asks a
 * holder to go from old_mode down to new_mode; the answer echoes them.
 */
struct scoutfs_net_lock {
	struct scoutfs_key key;	/*  0: the lock's name, the first key of its range */
	__le64 write_seq;	/* 32 */
	__u8 old_mode;		/* 40 */
	__u8 new_mode;		/* 41 */
	__u8 __pad[6];		/* 42 */
};

/*
 * LOCK_RECOVER: a new server asks each mount that was mounted under an
 * earlier one for the locks it holds, in name order from key (the
 * request, a scoutfs_key); the answer lists up to
 * SCOUTFS_NET_LOCK_RECOVER_MAX_NR of them with the mode each is held
 * in, and an answer with nr 0 ends it.  (The reference caps a batch at
 * what fits its 1100-byte messages: 22.)
 */
#define SCOUTFS_NET_LOCK_RECOVER_MAX_NR 1024
struct scoutfs_net_lock_recover {
	__le16 nr;			/* 0 */
	__u8 __pad[6];			/* 2 */
	struct scoutfs_net_lock locks[];	/* 8 */
};

/*
 * 120 bytes: the grant, the server's answer to a client's LOCK request
 * (our own; the reference answers with the 48-byte scoutfs_net_lock
 * alone).  roots are the server's stable roots as it granted the lock:
 * every write another mount made under it before is in them, so the
 * client's first reads under the lock need no GET_ROOTS.
 */
struct scoutfs_net_lock_grant {
	struct scoutfs_net_lock nl;	/*  0 */
	struct scoutfs_net_roots roots;	/* 48 */
};

/*
 * OPEN_INO_MAP: the union of every mount's bitmap of the inodes it has
 * open in one group of SCOUTFS_OPEN_INO_MAP_BITS inodes (group_nr = ino
 * >> SCOUTFS_OPEN_INO_MAP_SHIFT, bit ino & SCOUTFS_OPEN_INO_MAP_MASK, bit
 * n of bits[n / 64] at 1 << (n % 64)).  The exchange, as the reference
 * has it:
 *   asking client -> server:   args {G, 0}
 *   server -> every mount:     args {G, R}        (R: the server's id)
 *   each mount -> server:      map {{G, R}, its bits}
 *   server -> asking client:   map {{G, R}, the OR of the bits}
 */
#define SCOUTFS_OPEN_INO_MAP_SHIFT 10
#define SCOUTFS_OPEN_INO_MAP_BITS (1 << SCOUTFS_OPEN_INO_MAP_SHIFT)
#define SCOUTFS_OPEN_INO_MAP_MASK (SCOUTFS_OPEN_INO_MAP_BITS - 1)
#define SCOUTFS_OPEN_INO_MAP_LE64S (SCOUTFS_OPEN_INO_MAP_BITS / 64)

/* 16 bytes: the request in both directions */
struct scoutfs_open_ino_map_args {
	__le64 group_nr;	/* 0 */
	__le64 req_id;		/* 8: 0 from the asking client, the server's id after */
};

/* 144 bytes: the answer in both directions */
struct scoutfs_open_ino_map {
	struct scoutfs_open_ino_map_args args;		/*  0 */
	__le64 bits[SCOUTFS_OPEN_INO_MAP_LE64S];	/* 16 */
};

SFS_ASSERT_SIZE(struct scoutfs_net_greeting, 40);
SFS_ASSERT_SIZE(struct scoutfs_net_lock, 48);
SFS_ASSERT_SIZE(struct scoutfs_open_ino_map_args, 16);
SFS_ASSERT_SIZE(struct scoutfs_open_ino_map, 144);
SFS_ASSERT_OFF(struct scoutfs_open_ino_map, bits, 16);
SFS_ASSERT_SIZE(struct scoutfs_net_inode_alloc, 16);
SFS_ASSERT_SIZE(struct scoutfs_net_roots, 72);
SFS_ASSERT_SIZE(struct scoutfs_net_lock_grant, 120);
SFS_ASSERT_SIZE(struct scoutfs_net_lock_recover, 8);
SFS_ASSERT_OFF(struct scoutfs_net_lock_recover, locks, 8);
SFS_ASSERT_OFF(struct scoutfs_net_lock_grant, roots, 48);
SFS_ASSERT_SIZE(struct scoutfs_net_statfs, 64);

/* ------------------------------------------------------------------ */
/* Wire: quorum messages                                                */
/* ------------------------------------------------------------------ */

/*
 * The UDP datagram quorum members exchange (quorum.c), one message per
 * datagram, from and to the slots' addresses.  The reference sends 32
 * bytes checked by a crc32c; ours carries an authenticator instead, and
 * the sender's rid and a sequence number against replays.
 *
 * Key: the quorum key is HMAC-SHA256(volume key, SCOUTFS_QUORUM_KEY_LABEL),
 * the volume key being net.c's (HKDF-SHA256 of super.uuid under
 * SCOUTFS_NET_KEY_LABEL, see the net frames above).  Its own label keeps
 * a quorum tag from ever passing for a net frame's and back.  The tag is
 * HMAC-SHA256(quorum key, bytes 0..39 of the message).
 *
 * A receiver drops (and counts) a datagram of the wrong size, a tag that
 * does not verify, another version or non-zero pad, another fsid, an
 * unknown type, a from that is not a present slot other than its own, a
 * (rid, seq) not newer than the last one it took from that slot (same
 * rid, seq not greater: a replay), and then a term older than its own.
 * seq counts the sender's datagrams from 1 each time its agent starts
 * (with a new rid per mount, a restarted sender is a new rid).
 */
#define SCOUTFS_QUORUM_MSG_VERSION 1
#define SCOUTFS_QUORUM_KEY_LABEL "scoutfsd quorum v1"
#define SCOUTFS_QUORUM_TAG_BYTES 32

/* the reference's message types, with its wire values */
enum scoutfs_quorum_msg_type {
	SCOUTFS_QUORUM_MSG_REQUEST_VOTE = 0,
	SCOUTFS_QUORUM_MSG_VOTE = 1,
	SCOUTFS_QUORUM_MSG_HEARTBEAT = 2,
	SCOUTFS_QUORUM_MSG_RESIGNATION = 3,
	SCOUTFS_QUORUM_MSG__NR = 4,
};

/* 72 bytes, one UDP datagram */
struct scoutfs_quorum_message {
	__le64 fsid;		/*  0: the volume's fsid */
	__le64 rid;		/*  8: the sender's mount rid (never 0) */
	__le64 seq;		/* 16: the sender's datagram number, from 1 */
	__le64 term;		/* 24: the sender's raft term */
	__u8 version;		/* 32: SCOUTFS_QUORUM_MSG_VERSION */
	__u8 type;		/* 33: enum scoutfs_quorum_msg_type */
	__u8 from;		/* 34: the sender's slot */
	__u8 __pad[5];		/* 35: zero */
	__u8 tag[SCOUTFS_QUORUM_TAG_BYTES]; /* 40: HMAC-SHA256 over bytes 0..39 */
};

SFS_ASSERT_SIZE(struct scoutfs_quorum_message, 72);
SFS_ASSERT_OFF(struct scoutfs_quorum_message, term, 24);
SFS_ASSERT_OFF(struct scoutfs_quorum_message, version, 32);
SFS_ASSERT_OFF(struct scoutfs_quorum_message, from, 34);
SFS_ASSERT_OFF(struct scoutfs_quorum_message, tag, 40);

#endif /* SCOUTFS_FORMAT_H */
