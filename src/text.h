/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TEXT_H
#define SFS_TEXT_H

/*
 * Text and validation of every on-disk structure and item type.
 *
 * Two families of functions, shared by the daemon (debug logging, read
 * checks) and `scoutfs print`:
 *
 *   sfs_text_<thing>()           write <thing> as the reference `scoutfs print`
 *                                writes it (see the design comment in text.c)
 *   sfs_text_validate_<thing>()  return 0, or -EIO with a one-line reason in
 *                                @why, for a <thing> that breaks the format
 *
 * Printers never trust their input: a short or corrupt value reads as if
 * zero-padded, unknown zones and types print a generic line, nothing is
 * read outside the bytes given.  Validators check one structure on its own
 * (no neighbours, no device), so they can run on every read.
 *
 * Fragment printers (alloc list head, alloc root, btree root, srch file)
 * write the structure's one-line form with no indentation and no newline,
 * for the caller to embed.  Block and item printers write whole lines at
 * the reference's indentation.  Title lines ("super blkno 16", "fs_root
 * btree blkno 2", ...) are the caller's.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "scoutfs/format.h"

/* buffer sizes that always hold the text of a key / timespec / address */
#define SFS_TEXT_KEY_LEN 80
#define SFS_TEXT_TS_LEN 32
#define SFS_TEXT_ADDR_LEN 64

/* the btrees an item can live in; they print their items differently */
enum sfs_text_tree {
	SFS_TEXT_TREE_FS = 0,		/* fs_root and log trees' item_root */
	SFS_TEXT_TREE_ALLOC,		/* meta_alloc, data_alloc, data_avail/freed */
	SFS_TEXT_TREE_LOGS,		/* logs_root */
	SFS_TEXT_TREE_SRCH,		/* srch_root */
	SFS_TEXT_TREE_MOUNTED_CLIENTS,	/* mounted_clients */
	SFS_TEXT_TREE_LOG_MERGE,	/* log_merge */
	SFS_TEXT_TREE_NR,
};

/* the tree an item of this zone belongs in, or SFS_TEXT_TREE_NR for none */
enum sfs_text_tree sfs_text_tree_of_zone(uint8_t zone);

/* ---- small values ------------------------------------------------ */

/* "zone.first.type.second.third.fourth", all decimal */
void sfs_text_key(char *buf, size_t len, const struct scoutfs_key *key);
/* "sec.nsec" with the reference's %08u nanoseconds */
void sfs_text_timespec(char *buf, size_t len, const struct scoutfs_timespec *ts);
int sfs_text_validate_timespec(const struct scoutfs_timespec *ts, char *why, size_t why_len);
/* "a.b.c.d:port", "[v6addr]:port", "(none)" or "(family N)" */
/* the address alone, no port ("" for none): what fence requests name */
void sfs_text_inet_ip(char *buf, size_t len, const union scoutfs_inet_addr *addr);
void sfs_text_inet_addr(char *buf, size_t len, const union scoutfs_inet_addr *addr);

/* ---- fragments: one line, no indentation, no newline ------------- */

/* "blkno B seq S total_nr N first_nr F flags 0xX" */
void sfs_text_alloc_list_head(FILE *out, const struct scoutfs_alloc_list_head *lh);
int sfs_text_validate_alloc_list_head(const struct scoutfs_alloc_list_head *lh, char *why,
				      size_t why_len);
/* "blkno B seq S height H total_len T flags 0xX" */
void sfs_text_alloc_root(FILE *out, const struct scoutfs_alloc_root *ar);
int sfs_text_validate_alloc_root(const struct scoutfs_alloc_root *ar, char *why, size_t why_len);
/* "blkno B seq S height H" (seq decimal; the super prints its roots in hex) */
void sfs_text_btree_root(FILE *out, const struct scoutfs_btree_root *root);
int sfs_text_validate_btree_root(const struct scoutfs_btree_root *root, char *why,
				 size_t why_len);
/* "f HASH.INO.ID l HASH.INO.ID blks B ents E hei H blkno B seq %016x" */
void sfs_text_srch_file(FILE *out, const struct scoutfs_srch_file *sfl);
int sfs_text_validate_srch_file(const struct scoutfs_srch_file *sfl, char *why, size_t why_len);

/* ---- multi-line structures ---------------------------------------- */

/* "  volume options:" and its lines */
void sfs_text_volume_options(FILE *out, const struct scoutfs_volume_options *vo);
int sfs_text_validate_volume_options(const struct scoutfs_volume_options *vo, char *why,
				     size_t why_len);
/* "  quorum config version N" and a line per present (IPv4 or IPv6) slot */
void sfs_text_quorum_config(FILE *out, const struct scoutfs_quorum_config *qc);
int sfs_text_validate_quorum_config(const struct scoutfs_quorum_config *qc, char *why,
				    size_t why_len);
/* the "meta_avail: ..." through "data_alloc_zones: ..." lines of a logs_root value */
void sfs_text_log_trees(FILE *out, const struct scoutfs_log_trees *lt);
int sfs_text_validate_log_trees(const struct scoutfs_log_trees *lt, char *why, size_t why_len);
/* "      compact pending|busy: nr N flags 0xF" and the input lines */
void sfs_text_srch_compact(FILE *out, const struct scoutfs_srch_compact *sc, bool busy);
int sfs_text_validate_srch_compact(const struct scoutfs_srch_compact *sc, char *why,
				   size_t why_len);

/* ---- blocks: the body under the caller's title line --------------- */

/*
 * "  hdr: crc ... magic ... fsid ... blkno ... seq ..." for a block of
 * @size bytes, with "(!= computed) " after a crc that doesn't match.
 */
void sfs_text_block_hdr(FILE *out, const void *blk, size_t size);
/*
 * The header checks every read makes, with the reason spelled out: crc,
 * magic, then fsid, blkno and seq when the expectation is non-zero.
 */
int sfs_text_validate_block_hdr(const void *blk, size_t size, uint32_t magic, uint64_t fsid,
				uint64_t blkno, uint64_t seq, char *why, size_t why_len);

/*
 * Block printers take the whole block: @super and @qb below point at all
 * 4096 bytes of their SM block, the others at 65536 bytes, since the hdr
 * line recomputes the crc over it.
 */

/* super body: hdr line through the quorum slots */
void sfs_text_super(FILE *out, const struct scoutfs_super_block *super);
/* field checks beyond the header (format version, roots, heads, options, slots) */
int sfs_text_validate_super(const struct scoutfs_super_block *super, char *why, size_t why_len);

/* quorum block body: hdr, write_nr and the six events */
void sfs_text_quorum_block(FILE *out, const struct scoutfs_quorum_block *qb);
int sfs_text_validate_quorum_block(const struct scoutfs_quorum_block *qb, char *why,
				   size_t why_len);

/* alloc list block body: hdr, next/start/nr and the run-length "exts:" lines */
void sfs_text_alloc_list_block(FILE *out, const struct scoutfs_alloc_list_block *lb);
/* start/nr within the array; entries in [2, total_meta_blocks) when that is non-zero */
int sfs_text_validate_alloc_list_block(const struct scoutfs_alloc_list_block *lb,
				       uint64_t total_meta_blocks, char *why, size_t why_len);

/* srch parent body: hdr and the non-zero refs */
void sfs_text_srch_parent(FILE *out, const struct scoutfs_srch_parent *sp);
/* srch leaf body: hdr, first/last/tail, counts, and every decoded entry */
void sfs_text_srch_block(FILE *out, const struct scoutfs_srch_block *sb);
/* entry_bytes in bounds, entry_nr entries decode to exactly entry_bytes */
int sfs_text_validate_srch_block(const struct scoutfs_srch_block *sb, char *why, size_t why_len);

/* bloom body: hdr and total_set (the bits are not printed) */
void sfs_text_bloom_block(FILE *out, const struct scoutfs_bloom_block *bb);
int sfs_text_validate_bloom_block(const struct scoutfs_bloom_block *bb, char *why,
				  size_t why_len);

/*
 * btree block body: the crc/fsid/seq/blkno, byte and level lines, then in
 * leaves the item hash table summary.  Items are the caller's, each as
 * sfs_text_btree_item_hdr() followed by sfs_text_item/parent_item().
 */
void sfs_text_btree_block(FILE *out, const struct scoutfs_btree_block *bt);
/* "  [pos] off O par P l L r R h H vo V vl N" for the pos'th item in key order */
void sfs_text_btree_item_hdr(FILE *out, const struct scoutfs_btree_block *bt,
			     const struct scoutfs_btree_item *item, unsigned int pos);

/* ---- items ---------------------------------------------------------- */

/*
 * The lines of a leaf item: what the tree prints from the key (FS items:
 * "    KEY seq d|-"), then, unless the item is a deletion, the value.
 * fmt_vers is the volume's format version (it decides nothing printed
 * today; kept for the validators' symmetry and future v3 fields).
 */
void sfs_text_item(FILE *out, enum sfs_text_tree tree, const struct scoutfs_key *key,
		   uint64_t seq, uint8_t flags, const void *val, unsigned int val_len,
		   int fmt_vers);
/* only the key-derived lines of a leaf item (print -i suppresses values) */
void sfs_text_item_key(FILE *out, enum sfs_text_tree tree, const struct scoutfs_key *key,
		       uint64_t seq, uint8_t flags);
/* a parent item: the key-derived line, then "    ref blkno B seq S" */
void sfs_text_parent_item(FILE *out, enum sfs_text_tree tree, const struct scoutfs_key *key,
			  const struct scoutfs_block_ref *ref);

/*
 * Check a leaf item's value against its key (value length per type and
 * format version, flags, names, embedded structures).  Deletion items
 * carry no value and are not passed here.  An unknown zone or type, or a
 * zone that is never stored, is invalid.
 */
int sfs_text_validate_item(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			   int fmt_vers, char *why, size_t why_len);

/*
 * sfs_text_item() into @buf (NUL-terminated, truncated to fit) for log
 * lines; returns the length the full text would have had.
 */
size_t sfs_text_item_buf(char *buf, size_t len, enum sfs_text_tree tree,
			 const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
			 const void *val, unsigned int val_len, int fmt_vers);

#endif
