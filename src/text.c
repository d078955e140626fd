// SPDX-License-Identifier: GPL-2.0
/*
 * Text and validation of on-disk structures and items.
 *
 * Model: one printer and one validator per structure (format-spec.md
 * sections 4-13) and per item kind (zone.type, section 7.5).  The text is
 * the reference `scoutfs print` output, line for line, so that our print
 * of a volume can be diffed against the reference's; the daemon reuses the
 * same text for debug logs (sfs_text_item_buf).
 *
 * Invariants:
 *  1. Printers read only the bytes they are given.  A value is first
 *     copied into a zeroed local of its full structure size, so a short
 *     value prints as if zero-padded (a 160-byte v1 inode prints proj 0)
 *     and a long one is cut.  Counts taken from disk (srch compact nr,
 *     alloc list start/nr, srch entry_nr) are bounded before use.
 *  2. Printers never fail and never judge: a corrupt structure still
 *     prints what it holds.  Unknown zones/types print a generic line.
 *  3. Validators check one structure on its own, with no device and no
 *     neighbours, and return 0 or -EIO with a one-line reason.  Nested
 *     structures prefix their reason with the field name.
 *  4. No globals, no allocation except in sfs_text_item_buf.
 *
 * Where we deliberately differ from the reference's text (its bugs):
 *  - "xattr indx:" lines end in a newline;
 *  - a leaf item hash summary whose last entry wrapped the line still gets
 *    its newline before "(N / 1512 populated ...)";
 *  - mounted_clients and log_merge parent items print a key-derived line
 *    ("    rid %016llx" / "    KEY") where the reference dereferences NULL;
 *  - the srch compact input list is bounded by SCOUTFS_SRCH_COMPACT_NR;
 *  - quorum slots and mounted client addresses in IPv6 form print as
 *    "[addr]:port" / "ipv6_addr addr" instead of being skipped/garbled.
 * Output-visible quirks are kept: trailing spaces after the btree header,
 * item hash, exts and data_alloc_zones lines, %08u nanoseconds, the second
 * REQUEST root labelled "logs_root", backrefs printed as "dirent: dir".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text.h"

#define ULL(x) ((unsigned long long)(x))
#define LE64(x) ULL(le64toh(x))
#define SLE64(x) ((long long)le64toh(x))

#define NSEC_PER_SEC 1000000000U

/* tallest srch radix: 4094^6 > 2^64 blocks */
#define SRCH_MAX_HEIGHT 7

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

/* set why and return -EIO; used as "return fail(why, why_len, ...)" */
__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

/* run a nested validator fn(args..., why, len) and prefix its reason with @field */
#define NESTED(field, fn, ...)                                                  \
	do {                                                                    \
		char sub_why[192];                                              \
		if (fn(__VA_ARGS__, sub_why, sizeof(sub_why)) != 0)             \
			return fail(why, why_len, "%s: %s", (field), sub_why);  \
	} while (0)

static void copy_val(void *dst, size_t dst_len, const void *val, unsigned int val_len)
{
	memset(dst, 0, dst_len);
	if (val && val_len)
		memcpy(dst, val, val_len < dst_len ? val_len : dst_len);
}

/* at most 255 bytes, non-printing bytes as '.' */
static void printable(char *buf, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	if (len > SCOUTFS_NAME_LEN)
		len = SCOUTFS_NAME_LEN;
	for (i = 0; i < len; i++)
		buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
	buf[i] = '\0';
}

static const char *key_str(char *buf, const struct scoutfs_key *key)
{
	sfs_text_key(buf, SFS_TEXT_KEY_LEN, key);
	return buf;
}

static void text_srch_entry(FILE *out, const struct scoutfs_srch_entry *sre)
{
	fprintf(out, "%016llx.%llu.%llu", LE64(sre->hash), LE64(sre->ino), LE64(sre->id));
}

static void text_ts(FILE *out, const struct scoutfs_timespec *ts)
{
	char buf[SFS_TEXT_TS_LEN];

	sfs_text_timespec(buf, sizeof(buf), ts);
	fputs(buf, out);
}

static bool zero_bytes(const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--) {
		if (*b++)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* small values                                                         */
/* ------------------------------------------------------------------ */

enum sfs_text_tree sfs_text_tree_of_zone(uint8_t zone)
{
	switch (zone) {
	case SCOUTFS_INODE_INDEX_ZONE:
	case SCOUTFS_ORPHAN_ZONE:
	case SCOUTFS_QUOTA_ZONE:
	case SCOUTFS_XATTR_TOTL_ZONE:
	case SCOUTFS_XATTR_INDX_ZONE:
	case SCOUTFS_FS_ZONE:
		return SFS_TEXT_TREE_FS;
	case SCOUTFS_LOG_TREES_ZONE:
		return SFS_TEXT_TREE_LOGS;
	case SCOUTFS_MOUNTED_CLIENT_ZONE:
		return SFS_TEXT_TREE_MOUNTED_CLIENTS;
	case SCOUTFS_SRCH_ZONE:
		return SFS_TEXT_TREE_SRCH;
	case SCOUTFS_FREE_EXTENT_BLKNO_ZONE:
	case SCOUTFS_FREE_EXTENT_ORDER_ZONE:
		return SFS_TEXT_TREE_ALLOC;
	case SCOUTFS_LOG_MERGE_STATUS_ZONE:
	case SCOUTFS_LOG_MERGE_RANGE_ZONE:
	case SCOUTFS_LOG_MERGE_REQUEST_ZONE:
	case SCOUTFS_LOG_MERGE_COMPLETE_ZONE:
	case SCOUTFS_LOG_MERGE_FREEING_ZONE:
		return SFS_TEXT_TREE_LOG_MERGE;
	default:
		return SFS_TEXT_TREE_NR;
	}
}

void sfs_text_key(char *buf, size_t len, const struct scoutfs_key *key)
{
	snprintf(buf, len, "%u.%llu.%u.%llu.%llu.%u", key->sk_zone, LE64(key->_sk_first),
		 key->sk_type, LE64(key->_sk_second), LE64(key->_sk_third), key->_sk_fourth);
}

void sfs_text_timespec(char *buf, size_t len, const struct scoutfs_timespec *ts)
{
	snprintf(buf, len, "%llu.%08u", LE64(ts->sec), le32toh(ts->nsec));
}

int sfs_text_validate_timespec(const struct scoutfs_timespec *ts, char *why, size_t why_len)
{
	if (le32toh(ts->nsec) >= NSEC_PER_SEC)
		return fail(why, why_len, "nsec %u >= 10^9", le32toh(ts->nsec));
	return 0;
}

void sfs_text_inet_ip(char *buf, size_t len, const union scoutfs_inet_addr *addr)
{
	uint16_t family = le16toh(addr->v4.family);
	uint32_t a;

	if (family == SCOUTFS_AF_IPV4) {
		a = le32toh(addr->v4.addr);
		snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
			 a & 0xff);
	} else if (family != SCOUTFS_AF_IPV6 || !inet_ntop(AF_INET6, addr->v6.addr, buf, len)) {
		snprintf(buf, len, "%s", "");
	}
}

void sfs_text_inet_addr(char *buf, size_t len, const union scoutfs_inet_addr *addr)
{
	uint16_t family = le16toh(addr->v4.family);
	char a6[INET6_ADDRSTRLEN];
	uint32_t a;

	switch (family) {
	case SCOUTFS_AF_NONE:
		snprintf(buf, len, "(none)");
		break;
	case SCOUTFS_AF_IPV4:
		a = le32toh(addr->v4.addr);
		snprintf(buf, len, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
			 a & 0xff, le16toh(addr->v4.port));
		break;
	case SCOUTFS_AF_IPV6:
		if (!inet_ntop(AF_INET6, addr->v6.addr, a6, sizeof(a6)))
			snprintf(a6, sizeof(a6), "?");
		if (le32toh(addr->v6.scope_id))
			snprintf(buf, len, "[%s%%%u]:%u", a6, le32toh(addr->v6.scope_id),
				 le16toh(addr->v6.port));
		else
			snprintf(buf, len, "[%s]:%u", a6, le16toh(addr->v6.port));
		break;
	default:
		snprintf(buf, len, "(family %u)", family);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* fragments                                                            */
/* ------------------------------------------------------------------ */

void sfs_text_alloc_list_head(FILE *out, const struct scoutfs_alloc_list_head *lh)
{
	fprintf(out, "blkno %llu seq %llu total_nr %llu first_nr %u flags 0x%x",
		LE64(lh->ref.blkno), LE64(lh->ref.seq), LE64(lh->total_nr),
		le32toh(lh->first_nr), le32toh(lh->flags));
}

int sfs_text_validate_alloc_list_head(const struct scoutfs_alloc_list_head *lh, char *why,
				      size_t why_len)
{
	uint32_t first_nr = le32toh(lh->first_nr);

	if (le32toh(lh->flags) & ~SCOUTFS_ALLOC_FLAG_LOW)
		return fail(why, why_len, "unknown flags 0x%x", le32toh(lh->flags));
	if (first_nr > SCOUTFS_ALLOC_LIST_MAX_BLKNOS)
		return fail(why, why_len, "first_nr %u > %u", first_nr,
			    SCOUTFS_ALLOC_LIST_MAX_BLKNOS);
	if (first_nr > le64toh(lh->total_nr))
		return fail(why, why_len, "first_nr %u > total_nr %llu", first_nr,
			    LE64(lh->total_nr));
	if (lh->ref.blkno == 0 && (lh->total_nr != 0 || first_nr != 0))
		return fail(why, why_len, "no list block but total_nr %llu first_nr %u",
			    LE64(lh->total_nr), first_nr);
	return 0;
}

void sfs_text_btree_root(FILE *out, const struct scoutfs_btree_root *root)
{
	fprintf(out, "blkno %llu seq %llu height %u", LE64(root->ref.blkno), LE64(root->ref.seq),
		root->height);
}

int sfs_text_validate_btree_root(const struct scoutfs_btree_root *root, char *why,
				 size_t why_len)
{
	if (root->height > SCOUTFS_BTREE_MAX_HEIGHT)
		return fail(why, why_len, "height %u > %u", root->height,
			    SCOUTFS_BTREE_MAX_HEIGHT);
	if ((root->ref.blkno == 0) != (root->height == 0))
		return fail(why, why_len, "blkno %llu with height %u", LE64(root->ref.blkno),
			    root->height);
	return 0;
}

void sfs_text_alloc_root(FILE *out, const struct scoutfs_alloc_root *ar)
{
	sfs_text_btree_root(out, &ar->root);
	fprintf(out, " total_len %llu flags 0x%x", LE64(ar->total_len), le32toh(ar->flags));
}

int sfs_text_validate_alloc_root(const struct scoutfs_alloc_root *ar, char *why, size_t why_len)
{
	if (le32toh(ar->flags) & ~SCOUTFS_ALLOC_FLAG_LOW)
		return fail(why, why_len, "unknown flags 0x%x", le32toh(ar->flags));
	NESTED("root", sfs_text_validate_btree_root, &ar->root);
	if (ar->root.height == 0 && ar->total_len != 0)
		return fail(why, why_len, "empty tree with total_len %llu", LE64(ar->total_len));
	return 0;
}

void sfs_text_srch_file(FILE *out, const struct scoutfs_srch_file *sfl)
{
	fputs("f ", out);
	text_srch_entry(out, &sfl->first);
	fputs(" l ", out);
	text_srch_entry(out, &sfl->last);
	fprintf(out, " blks %llu ents %llu hei %u blkno %llu seq %016llx", LE64(sfl->blocks),
		LE64(sfl->entries), sfl->height, LE64(sfl->ref.blkno), LE64(sfl->ref.seq));
}

int sfs_text_validate_srch_file(const struct scoutfs_srch_file *sfl, char *why, size_t why_len)
{
	uint64_t blocks = le64toh(sfl->blocks);
	uint64_t cap = 1;
	int h;

	if (sfl->height > SRCH_MAX_HEIGHT)
		return fail(why, why_len, "height %u > %u", sfl->height, SRCH_MAX_HEIGHT);
	if ((sfl->ref.blkno == 0) != (sfl->height == 0))
		return fail(why, why_len, "blkno %llu with height %u", LE64(sfl->ref.blkno),
			    sfl->height);
	if (sfl->height == 0 && (blocks || sfl->entries))
		return fail(why, why_len, "empty file with %llu blocks %llu entries",
			    ULL(blocks), LE64(sfl->entries));
	/* height 1 addresses block 0 only, each level above 4094 times more */
	for (h = 2; h <= sfl->height && cap <= blocks; h++)
		cap = cap > UINT64_MAX / SCOUTFS_SRCH_PARENT_REFS ? UINT64_MAX :
								    cap * SCOUTFS_SRCH_PARENT_REFS;
	if (sfl->height && blocks > cap)
		return fail(why, why_len, "%llu blocks do not fit height %u", ULL(blocks),
			    sfl->height);
	return 0;
}

/* ------------------------------------------------------------------ */
/* multi-line structures                                                */
/* ------------------------------------------------------------------ */

void sfs_text_volume_options(FILE *out, const struct scoutfs_volume_options *vo)
{
	uint64_t set_bits = le64toh(vo->set_bits);

	fprintf(out, "  volume options:\n");
	fprintf(out, "    set_bits: %016llx\n", ULL(set_bits));
	if (set_bits & SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT)
		fprintf(out, "    data_alloc_zone_blocks: %llu\n",
			LE64(vo->data_alloc_zone_blocks));
}

int sfs_text_validate_volume_options(const struct scoutfs_volume_options *vo, char *why,
				     size_t why_len)
{
	uint64_t set_bits = le64toh(vo->set_bits);

	if (set_bits & SCOUTFS_VOLOPT_EXPANSION_BITS)
		return fail(why, why_len, "unknown option bits 0x%llx",
			    ULL(set_bits & SCOUTFS_VOLOPT_EXPANSION_BITS));
	if ((set_bits & SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT) && !vo->data_alloc_zone_blocks)
		return fail(why, why_len, "data_alloc_zone_blocks set to 0");
	return 0;
}

void sfs_text_quorum_config(FILE *out, const struct scoutfs_quorum_config *qc)
{
	char buf[SFS_TEXT_ADDR_LEN];
	unsigned int i;

	fprintf(out, "  quorum config version %llu\n", LE64(qc->version));
	for (i = 0; i < SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (le16toh(qc->slots[i].addr.v4.family) == SCOUTFS_AF_NONE)
			continue;
		sfs_text_inet_addr(buf, sizeof(buf), &qc->slots[i].addr);
		fprintf(out, "    quorum slot %2u: %s\n", i, buf);
	}
}

/* two present slots name the same endpoint (bytes 8..31 of IPv4 ignored) */
static bool same_endpoint(const union scoutfs_inet_addr *a, const union scoutfs_inet_addr *b)
{
	if (a->v4.family != b->v4.family || a->v4.port != b->v4.port)
		return false;
	if (le16toh(a->v4.family) == SCOUTFS_AF_IPV4)
		return a->v4.addr == b->v4.addr;
	return memcmp(a->v6.addr, b->v6.addr, sizeof(a->v6.addr)) == 0;
}

int sfs_text_validate_quorum_config(const struct scoutfs_quorum_config *qc, char *why,
				    size_t why_len)
{
	const union scoutfs_inet_addr *a, *b;
	unsigned int i, j, present = 0;
	uint16_t family, first_family = 0;

	for (i = 0; i < SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		a = &qc->slots[i].addr;
		family = le16toh(a->v4.family);
		if (family == SCOUTFS_AF_NONE)
			continue;
		if (family != SCOUTFS_AF_IPV4 && family != SCOUTFS_AF_IPV6)
			return fail(why, why_len, "slot %u: unknown address family %u", i, family);
		if (a->v4.port == 0)
			return fail(why, why_len, "slot %u: port 0", i);
		if (present++ == 0)
			first_family = family;
		else if (family != first_family)
			return fail(why, why_len, "slot %u: IPv4 and IPv6 slots mixed", i);
		for (j = 0; j < i; j++) {
			b = &qc->slots[j].addr;
			if (le16toh(b->v4.family) != SCOUTFS_AF_NONE && same_endpoint(a, b))
				return fail(why, why_len, "slots %u and %u have the same address",
					    j, i);
		}
	}
	if (!present)
		return fail(why, why_len, "no quorum slot configured");
	return 0;
}

void sfs_text_log_trees(FILE *out, const struct scoutfs_log_trees *lt)
{
	unsigned int i, b;
	uint64_t w;

	fputs("      meta_avail: ", out);
	sfs_text_alloc_list_head(out, &lt->meta_avail);
	fputs("\n      meta_freed: ", out);
	sfs_text_alloc_list_head(out, &lt->meta_freed);
	fprintf(out, "\n      item_root: height %u blkno %llu seq %llu\n", lt->item_root.height,
		LE64(lt->item_root.ref.blkno), LE64(lt->item_root.ref.seq));
	fprintf(out, "      bloom_ref: blkno %llu seq %llu\n", LE64(lt->bloom_ref.blkno),
		LE64(lt->bloom_ref.seq));
	fputs("      data_avail: ", out);
	sfs_text_alloc_root(out, &lt->data_avail);
	fputs("\n      data_freed: ", out);
	sfs_text_alloc_root(out, &lt->data_freed);
	fputs("\n      srch_file: ", out);
	sfs_text_srch_file(out, &lt->srch_file);
	fprintf(out, "\n      inode_count_delta: %lld\n", SLE64(lt->inode_count_delta));
	fprintf(out, "      get_trans_seq: %lld\n", SLE64(lt->get_trans_seq));
	fprintf(out, "      commit_trans_seq: %lld\n", SLE64(lt->commit_trans_seq));
	fprintf(out, "      max_item_seq: %llu\n", LE64(lt->max_item_seq));
	fprintf(out, "      finalize_seq: %llu\n", LE64(lt->finalize_seq));
	fprintf(out, "      rid: %016llx\n", LE64(lt->rid));
	fprintf(out, "      nr: %llu\n", LE64(lt->nr));
	fprintf(out, "      flags: %llx\n", LE64(lt->flags));
	fprintf(out, "      data_alloc_zone_blocks: %llu\n", LE64(lt->data_alloc_zone_blocks));
	fputs("      data_alloc_zones: ", out);
	for (i = 0; i < SCOUTFS_DATA_ALLOC_ZONE_LE64S; i++) {
		w = le64toh(lt->data_alloc_zones[i]);
		for (b = 0; w && b < 64; b++) {
			if (w & (1ULL << b))
				fprintf(out, "%u ", i * 64 + b);
		}
	}
	fputs("\n", out);
}

int sfs_text_validate_log_trees(const struct scoutfs_log_trees *lt, char *why, size_t why_len)
{
	NESTED("meta_avail", sfs_text_validate_alloc_list_head, &lt->meta_avail);
	NESTED("meta_freed", sfs_text_validate_alloc_list_head, &lt->meta_freed);
	NESTED("item_root", sfs_text_validate_btree_root, &lt->item_root);
	NESTED("data_avail", sfs_text_validate_alloc_root, &lt->data_avail);
	NESTED("data_freed", sfs_text_validate_alloc_root, &lt->data_freed);
	NESTED("srch_file", sfs_text_validate_srch_file, &lt->srch_file);
	if (le64toh(lt->flags) & ~SCOUTFS_LOG_TREES_FLAG_FINALIZED)
		return fail(why, why_len, "unknown flags 0x%llx", LE64(lt->flags));
	return 0;
}

#define SRCH_COMPACT_FLAGS                                                     \
	(SCOUTFS_SRCH_COMPACT_FLAG_LOG | SCOUTFS_SRCH_COMPACT_FLAG_SORTED |      \
	 SCOUTFS_SRCH_COMPACT_FLAG_DELETE | SCOUTFS_SRCH_COMPACT_FLAG_DONE |     \
	 SCOUTFS_SRCH_COMPACT_FLAG_ERROR)

void sfs_text_srch_compact(FILE *out, const struct scoutfs_srch_compact *sc, bool busy)
{
	unsigned int i, nr = sc->nr;

	fprintf(out, "      compact %s: nr %u flags 0x%x\n", busy ? "busy" : "pending", sc->nr,
		sc->flags);
	if (nr > SCOUTFS_SRCH_COMPACT_NR)
		nr = SCOUTFS_SRCH_COMPACT_NR;
	for (i = 0; i < nr; i++) {
		fprintf(out, "        [%u] blk %llu pos %llu sfl ", i, LE64(sc->in[i].blk),
			LE64(sc->in[i].pos));
		sfs_text_srch_file(out, &sc->in[i].sfl);
		fputs("\n", out);
	}
}

int sfs_text_validate_srch_compact(const struct scoutfs_srch_compact *sc, char *why,
				   size_t why_len)
{
	char field[16];
	unsigned int i;

	if (sc->nr > SCOUTFS_SRCH_COMPACT_NR)
		return fail(why, why_len, "nr %u > %u", sc->nr, SCOUTFS_SRCH_COMPACT_NR);
	if (sc->flags & ~SRCH_COMPACT_FLAGS)
		return fail(why, why_len, "unknown flags 0x%x", sc->flags);
	NESTED("meta_avail", sfs_text_validate_alloc_list_head, &sc->meta_avail);
	NESTED("meta_freed", sfs_text_validate_alloc_list_head, &sc->meta_freed);
	NESTED("out", sfs_text_validate_srch_file, &sc->out);
	for (i = 0; i < sc->nr; i++) {
		snprintf(field, sizeof(field), "in[%u]", i);
		NESTED(field, sfs_text_validate_srch_file, &sc->in[i].sfl);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* blocks                                                               */
/* ------------------------------------------------------------------ */

void sfs_text_block_hdr(FILE *out, const void *blk, size_t size)
{
	const struct scoutfs_block_header *hdr = blk;
	uint32_t crc = sfs_block_crc(blk, size);
	char valid[32] = "";

	if (crc != le32toh(hdr->crc))
		snprintf(valid, sizeof(valid), "(!= %08x) ", crc);
	fprintf(out, "  hdr: crc %08x %smagic %08x fsid %llx blkno %llu seq %llu\n",
		le32toh(hdr->crc), valid, le32toh(hdr->magic), LE64(hdr->fsid), LE64(hdr->blkno),
		LE64(hdr->seq));
}

int sfs_text_validate_block_hdr(const void *blk, size_t size, uint32_t magic, uint64_t fsid,
				uint64_t blkno, uint64_t seq, char *why, size_t why_len)
{
	const struct scoutfs_block_header *hdr = blk;
	uint32_t crc = sfs_block_crc(blk, size);

	if (crc != le32toh(hdr->crc))
		return fail(why, why_len, "crc %08x does not match contents (%08x)",
			    le32toh(hdr->crc), crc);
	if (le32toh(hdr->magic) != magic)
		return fail(why, why_len, "magic %08x, expected %08x", le32toh(hdr->magic), magic);
	if (fsid && le64toh(hdr->fsid) != fsid)
		return fail(why, why_len, "fsid %llx, expected %llx", LE64(hdr->fsid), ULL(fsid));
	if (blkno && le64toh(hdr->blkno) != blkno)
		return fail(why, why_len, "header blkno %llu, expected %llu", LE64(hdr->blkno),
			    ULL(blkno));
	if (seq && le64toh(hdr->seq) != seq)
		return fail(why, why_len, "seq %llu, expected %llu", LE64(hdr->seq), ULL(seq));
	return 0;
}

static void text_super_root(FILE *out, const char *name, const struct scoutfs_btree_root *root)
{
	fprintf(out, "  %s: blkno %llu seq %016llx height %u\n", name, LE64(root->ref.blkno),
		LE64(root->ref.seq), root->height);
}

static void text_uuid(char *buf, size_t len, const uint8_t *u)
{
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

void sfs_text_super(FILE *out, const struct scoutfs_super_block *super)
{
	char uuid[40];
	unsigned int i;

	sfs_text_block_hdr(out, super, SCOUTFS_BLOCK_SM_SIZE);
	text_uuid(uuid, sizeof(uuid), super->uuid);
	fprintf(out, "  fmt_vers %llu uuid %s\n", LE64(super->fmt_vers), uuid);
	fprintf(out, "  flags: 0x%016llx\n", LE64(super->flags));
	fprintf(out, "  next_ino %llu inode_count %llu seq %llu\n", LE64(super->next_ino),
		LE64(super->inode_count), LE64(super->seq));
	fprintf(out, "  total_meta_blocks %llu total_data_blocks %llu\n",
		LE64(super->total_meta_blocks), LE64(super->total_data_blocks));
	for (i = 0; i < 2; i++) {
		fprintf(out, "  meta_alloc[%u]: ", i);
		sfs_text_alloc_root(out, &super->meta_alloc[i]);
		fputs("\n", out);
	}
	fputs("  data_alloc: ", out);
	sfs_text_alloc_root(out, &super->data_alloc);
	fputs("\n", out);
	for (i = 0; i < 2; i++) {
		fprintf(out, "  server_meta_avail[%u]: ", i);
		sfs_text_alloc_list_head(out, &super->server_meta_avail[i]);
		fputs("\n", out);
	}
	for (i = 0; i < 2; i++) {
		fprintf(out, "  server_meta_freed[%u]: ", i);
		sfs_text_alloc_list_head(out, &super->server_meta_freed[i]);
		fputs("\n", out);
	}
	text_super_root(out, "fs_root", &super->fs_root);
	text_super_root(out, "logs_root", &super->logs_root);
	text_super_root(out, "log_merge", &super->log_merge);
	text_super_root(out, "mounted_clients", &super->mounted_clients);
	text_super_root(out, "srch_root", &super->srch_root);
	sfs_text_volume_options(out, &super->volopt);
	sfs_text_quorum_config(out, &super->qconf);
}

/* a non-zero ref must name an LG block past the static area and inside the device */
static int check_meta_ref(const struct scoutfs_block_ref *ref, uint64_t total_meta_blocks,
			  char *why, size_t why_len)
{
	uint64_t blkno = le64toh(ref->blkno);

	if (blkno && (blkno < SCOUTFS_META_DEV_START_BLKNO || blkno >= total_meta_blocks))
		return fail(why, why_len, "blkno %llu outside [%llu, %llu)", ULL(blkno),
			    SCOUTFS_META_DEV_START_BLKNO, ULL(total_meta_blocks));
	return 0;
}

int sfs_text_validate_super(const struct scoutfs_super_block *super, char *why, size_t why_len)
{
	static const char *const root_names[] = { "fs_root", "logs_root", "log_merge",
						  "mounted_clients", "srch_root" };
	const struct scoutfs_btree_root *roots[] = { &super->fs_root, &super->logs_root,
						     &super->log_merge, &super->mounted_clients,
						     &super->srch_root };
	uint64_t total = le64toh(super->total_meta_blocks);
	uint64_t vers = le64toh(super->fmt_vers);
	char field[32];
	unsigned int i;

	if (vers < SCOUTFS_FORMAT_VERSION_MIN || vers > SCOUTFS_FORMAT_VERSION_MAX)
		return fail(why, why_len, "format version %llu outside %u-%u", ULL(vers),
			    SCOUTFS_FORMAT_VERSION_MIN, SCOUTFS_FORMAT_VERSION_MAX);
	if (total <= SCOUTFS_META_DEV_START_BLKNO)
		return fail(why, why_len, "total_meta_blocks %llu too small", ULL(total));
	if (le64toh(super->total_data_blocks) <= SCOUTFS_DATA_DEV_START_BLKNO)
		return fail(why, why_len, "total_data_blocks %llu too small",
			    LE64(super->total_data_blocks));

	for (i = 0; i < 3; i++) {
		const struct scoutfs_alloc_root *ar = i < 2 ? &super->meta_alloc[i] :
							      &super->data_alloc;

		if (i < 2)
			snprintf(field, sizeof(field), "meta_alloc[%u]", i);
		else
			snprintf(field, sizeof(field), "data_alloc");
		NESTED(field, sfs_text_validate_alloc_root, ar);
		NESTED(field, check_meta_ref, &ar->root.ref, total);
	}
	for (i = 0; i < 4; i++) {
		const struct scoutfs_alloc_list_head *lh = i < 2 ? &super->server_meta_avail[i] :
								   &super->server_meta_freed[i - 2];

		snprintf(field, sizeof(field), "server_meta_%s[%u]", i < 2 ? "avail" : "freed",
			 i % 2);
		NESTED(field, sfs_text_validate_alloc_list_head, lh);
		NESTED(field, check_meta_ref, &lh->ref, total);
	}
	for (i = 0; i < 5; i++) {
		NESTED(root_names[i], sfs_text_validate_btree_root, roots[i]);
		NESTED(root_names[i], check_meta_ref, &roots[i]->ref, total);
	}
	NESTED("volume options", sfs_text_validate_volume_options, &super->volopt);
	NESTED("quorum config", sfs_text_validate_quorum_config, &super->qconf);
	return 0;
}

static const char *const quorum_event_names[SCOUTFS_QUORUM_EVENT_NR] = {
	"begin", "term", "elect", "fence", "stop", "end",
};

void sfs_text_quorum_block(FILE *out, const struct scoutfs_quorum_block *qb)
{
	const struct scoutfs_quorum_block_event *ev;
	unsigned int e;

	sfs_text_block_hdr(out, qb, SCOUTFS_BLOCK_SM_SIZE);
	fprintf(out, "  write_nr %llu\n", LE64(qb->write_nr));
	for (e = 0; e < SCOUTFS_QUORUM_EVENT_NR; e++) {
		ev = &qb->events[e];
		fprintf(out, "  %12s: rid %016llx term %llu write_nr %llu ts ",
			quorum_event_names[e], LE64(ev->rid), LE64(ev->term), LE64(ev->write_nr));
		text_ts(out, &ev->ts);
		fputs("\n", out);
	}
}

int sfs_text_validate_quorum_block(const struct scoutfs_quorum_block *qb, char *why,
				   size_t why_len)
{
	const struct scoutfs_quorum_block_event *ev;
	unsigned int e;

	for (e = 0; e < SCOUTFS_QUORUM_EVENT_NR; e++) {
		ev = &qb->events[e];
		if (le64toh(ev->write_nr) > le64toh(qb->write_nr))
			return fail(why, why_len, "%s event write_nr %llu > block write_nr %llu",
				    quorum_event_names[e], LE64(ev->write_nr),
				    LE64(qb->write_nr));
		NESTED(quorum_event_names[e], sfs_text_validate_timespec, &ev->ts);
	}
	return 0;
}

static bool alloc_list_range_ok(const struct scoutfs_alloc_list_block *lb)
{
	uint32_t start = le32toh(lb->start);
	uint32_t nr = le32toh(lb->nr);

	return start < SCOUTFS_ALLOC_LIST_MAX_BLKNOS && nr <= SCOUTFS_ALLOC_LIST_MAX_BLKNOS &&
	       start + nr <= SCOUTFS_ALLOC_LIST_MAX_BLKNOS;
}

void sfs_text_alloc_list_block(FILE *out, const struct scoutfs_alloc_list_block *lb)
{
	uint32_t start = le32toh(lb->start);
	uint32_t nr = le32toh(lb->nr);
	uint64_t run_start = 0, run_len = 0, b;
	int wid;
	uint32_t i;

	sfs_text_block_hdr(out, lb, SCOUTFS_BLOCK_LG_SIZE);
	fprintf(out, "  next blkno %llu seq %llu start %u nr %u\n", LE64(lb->next.blkno),
		LE64(lb->next.seq), start, nr);
	if (!alloc_list_range_ok(lb)) {
		fprintf(out, "  (invalid start and nr fields)\n");
		return;
	}
	if (nr == 0)
		return;

	/* runs of consecutive blknos in array order, "first,len " each */
	wid = fprintf(out, "  exts: ");
	for (i = 0; i < nr; i++) {
		b = le64toh(lb->blknos[start + i]);
		if (run_len == 0)
			run_start = b;
		run_len++;
		if (i == nr - 1 || run_start + run_len != le64toh(lb->blknos[start + i + 1])) {
			if (wid >= 72)
				wid = fprintf(out, "\n        ");
			wid += fprintf(out, "%llu,%llu ", ULL(run_start), ULL(run_len));
			run_len = 0;
		}
	}
	fputs("\n", out);
}

int sfs_text_validate_alloc_list_block(const struct scoutfs_alloc_list_block *lb,
				       uint64_t total_meta_blocks, char *why, size_t why_len)
{
	uint32_t start = le32toh(lb->start);
	uint32_t nr = le32toh(lb->nr);
	uint64_t b;
	uint32_t i;

	if (!alloc_list_range_ok(lb))
		return fail(why, why_len, "invalid start %u nr %u (capacity %u)", start, nr,
			    SCOUTFS_ALLOC_LIST_MAX_BLKNOS);
	for (i = 0; i < nr; i++) {
		b = le64toh(lb->blknos[start + i]);
		if (b < SCOUTFS_META_DEV_START_BLKNO ||
		    (total_meta_blocks && b >= total_meta_blocks))
			return fail(why, why_len, "entry %u: blkno %llu outside the meta device",
				    start + i, ULL(b));
	}
	return 0;
}

void sfs_text_srch_parent(FILE *out, const struct scoutfs_srch_parent *sp)
{
	unsigned int i;

	sfs_text_block_hdr(out, sp, SCOUTFS_BLOCK_LG_SIZE);
	for (i = 0; i < SCOUTFS_SRCH_PARENT_REFS; i++) {
		if (sp->refs[i].blkno)
			fprintf(out, "  [%u]: blkno %llu seq %llu\n", i, LE64(sp->refs[i].blkno),
				LE64(sp->refs[i].seq));
	}
}

void sfs_text_srch_block(FILE *out, const struct scoutfs_srch_block *sb)
{
	struct scoutfs_srch_entry prev, sre;
	uint32_t nr = le32toh(sb->entry_nr);
	unsigned int pos = 0, n;
	uint32_t i;

	sfs_text_block_hdr(out, sb, SCOUTFS_BLOCK_LG_SIZE);
	fputs("  first ", out);
	text_srch_entry(out, &sb->first);
	fputs(" last ", out);
	text_srch_entry(out, &sb->last);
	fputs(" tail ", out);
	text_srch_entry(out, &sb->tail);
	fprintf(out, "\n  entry_nr %u entry_bytes %u\n", nr, le32toh(sb->entry_bytes));

	/* entries are deltas from the previous one, from zero in each block */
	memset(&prev, 0, sizeof(prev));
	for (i = 0; i < nr; i++) {
		if (pos > SCOUTFS_SRCH_BLOCK_SAFE_BYTES)
			break;
		n = sfs_srch_decode_entry(sb->entries + pos, SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES - pos,
					  &sre, &prev);
		if (n == 0)
			break;
		fprintf(out, "  [%u]: (%u) ", i, n);
		text_srch_entry(out, &sre);
		fputs("\n", out);
		prev = sre;
		pos += n;
	}
}

int sfs_text_validate_srch_block(const struct scoutfs_srch_block *sb, char *why, size_t why_len)
{
	struct scoutfs_srch_entry prev, sre;
	uint32_t nr = le32toh(sb->entry_nr);
	uint32_t bytes = le32toh(sb->entry_bytes);
	unsigned int pos = 0, n;
	uint32_t i;

	if (bytes > SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES)
		return fail(why, why_len, "entry_bytes %u > %zu", bytes,
			    (size_t)SCOUTFS_SRCH_BLOCK_ENTRIES_BYTES);
	memset(&prev, 0, sizeof(prev));
	for (i = 0; i < nr; i++) {
		if (pos > SCOUTFS_SRCH_BLOCK_SAFE_BYTES || pos >= bytes)
			return fail(why, why_len, "entry %u starts at %u, past entry_bytes %u", i,
				    pos, bytes);
		n = sfs_srch_decode_entry(sb->entries + pos, bytes - pos, &sre, &prev);
		if (n == 0)
			return fail(why, why_len, "entry %u at %u does not decode", i, pos);
		prev = sre;
		pos += n;
	}
	if (pos != bytes)
		return fail(why, why_len, "%u entries use %u bytes, entry_bytes %u", nr, pos,
			    bytes);
	return 0;
}

void sfs_text_bloom_block(FILE *out, const struct scoutfs_bloom_block *bb)
{
	sfs_text_block_hdr(out, bb, SCOUTFS_BLOCK_LG_SIZE);
	fprintf(out, "  total_set %llu\n", LE64(bb->total_set));
}

int sfs_text_validate_bloom_block(const struct scoutfs_bloom_block *bb, char *why,
				  size_t why_len)
{
	if (le64toh(bb->total_set) > SCOUTFS_BLOOM_BITS)
		return fail(why, why_len, "total_set %llu > %llu bits", LE64(bb->total_set),
			    SCOUTFS_BLOOM_BITS);
	return 0;
}

void sfs_text_btree_block(FILE *out, const struct scoutfs_btree_block *bt)
{
	const __le16 *buckets;
	unsigned int i, nr = 0, col, off;
	char ent[24];
	int n;

	fprintf(out, "  crc %08x fsid %llx seq %llu blkno %llu \n", le32toh(bt->hdr.crc),
		LE64(bt->hdr.fsid), LE64(bt->hdr.seq), LE64(bt->hdr.blkno));
	fprintf(out, "  total_item_bytes %u mid_free_len %u\n", le16toh(bt->total_item_bytes),
		le16toh(bt->mid_free_len));
	fprintf(out, "  level %u nr_items %u item_root.node %u\n", bt->level,
		le16toh(bt->nr_items), le16toh(bt->item_root.node));
	if (bt->level != 0)
		return;

	/*
	 * The reference's wrapping: the column restarts at 3 after a wrap
	 * without counting the entry that caused it.  Unlike the reference we
	 * always end the list with a newline.
	 */
	buckets = (const __le16 *)((const char *)bt + SCOUTFS_BTREE_LEAF_ITEM_HASH_OFF);
	fputs("  item hash: ", out);
	col = 13;
	for (i = 0; i < SCOUTFS_BTREE_LEAF_ITEM_HASH_NR; i++) {
		off = le16toh(buckets[i]);
		if (!off)
			continue;
		nr++;
		n = snprintf(ent, sizeof(ent), "%u,%u ", i, off);
		col += (unsigned int)n;
		if (col >= 78) {
			fputs("\n   ", out);
			col = 3;
		}
		fputs(ent, out);
	}
	fputs("\n", out);
	fprintf(out, "    (%u / %u populated, %u%% load)\n", nr, SCOUTFS_BTREE_LEAF_ITEM_HASH_NR,
		nr * 100 / SCOUTFS_BTREE_LEAF_ITEM_HASH_NR);
}

void sfs_text_btree_item_hdr(FILE *out, const struct scoutfs_btree_block *bt,
			     const struct scoutfs_btree_item *item, unsigned int pos)
{
	fprintf(out, "  [%u] off %u par %u l %u r %u h %u vo %u vl %u\n", pos,
		(unsigned int)((const char *)item - (const char *)bt), le16toh(item->node.parent),
		le16toh(item->node.left), le16toh(item->node.right), item->node.height,
		le16toh(item->val_off), le16toh(item->val_len));
}

/* ------------------------------------------------------------------ */
/* items: text                                                          */
/* ------------------------------------------------------------------ */

static void text_inode(FILE *out, const struct scoutfs_key *key, const void *val,
		       unsigned int val_len)
{
	struct scoutfs_inode ino;

	copy_val(&ino, sizeof(ino), val, val_len);
	fprintf(out, "    inode: ino %llu size %llu version %llu proj %llu nlink %u\n",
		LE64(key->ski_ino), LE64(ino.size), LE64(ino.version), LE64(ino.proj),
		le32toh(ino.nlink));
	fprintf(out, "      uid %u gid %u mode 0%o rdev 0x%x flags 0x%x\n", le32toh(ino.uid),
		le32toh(ino.gid), le32toh(ino.mode), le32toh(ino.rdev), le32toh(ino.flags));
	fprintf(out, "      next_readdir_pos %llu meta_seq %llu data_seq %llu data_version %llu\n",
		LE64(ino.next_readdir_pos), LE64(ino.meta_seq), LE64(ino.data_seq),
		LE64(ino.data_version));
	fputs("      atime ", out);
	text_ts(out, &ino.atime);
	fputs(" ctime ", out);
	text_ts(out, &ino.ctime);
	fputs("\n      mtime ", out);
	text_ts(out, &ino.mtime);
	fputs("\n", out);
}

static void text_xattr(FILE *out, const struct scoutfs_key *key, const void *val,
		       unsigned int val_len)
{
	struct scoutfs_xattr xat;
	char name[SCOUTFS_NAME_LEN + 1];
	unsigned int name_len;

	fprintf(out, "    xattr: ino %llu name_hash %08x id %llu part %u\n", LE64(key->skx_ino),
		(uint32_t)le64toh(key->skx_name_hash), LE64(key->skx_id), key->skx_part);
	if (key->skx_part != 0)
		return;
	copy_val(&xat, sizeof(xat), val, val_len);
	name_len = xat.name_len;
	if (val_len < sizeof(xat))
		name[0] = '\0';
	else
		printable(name, (const char *)val + sizeof(xat),
			  name_len < val_len - sizeof(xat) ? name_len : val_len - sizeof(xat));
	fprintf(out, "      name_len %u val_len %u name %s\n", name_len, le16toh(xat.val_len),
		name);
}

static void text_dirent(FILE *out, const struct scoutfs_key *key, const void *val,
			unsigned int val_len)
{
	struct scoutfs_dirent dent;
	char name[SCOUTFS_NAME_LEN + 1] = "";

	copy_val(&dent, sizeof(dent), val, val_len);
	if (val_len > sizeof(dent))
		printable(name, (const char *)val + sizeof(dent), val_len - sizeof(dent));
	fprintf(out, "    dirent: dir %llu hash %016llx pos %llu type %u ino %llu\n",
		LE64(key->_sk_first), LE64(dent.hash), LE64(dent.pos), dent.type, LE64(dent.ino));
	fprintf(out, "      name %s\n", name);
}

static void text_symlink(FILE *out, const struct scoutfs_key *key, const void *val,
			 unsigned int val_len)
{
	char target[SCOUTFS_NAME_LEN + 1] = "";
	unsigned int len = val ? val_len : 0;

	if (len && ((const char *)val)[len - 1] == '\0')
		len--;
	if (len)
		printable(target, val, len);
	fprintf(out, "    symlink: ino %llu nr %llu\n", LE64(key->sks_ino), LE64(key->sks_nr));
	fprintf(out, "      target %s\n", target);
}

static void text_extent(FILE *out, const struct scoutfs_key *key, const void *val,
			unsigned int val_len)
{
	struct scoutfs_data_extent_val dv;
	uint64_t end = le64toh(key->skdx_end), len = le64toh(key->skdx_len);

	copy_val(&dv, sizeof(dv), val, val_len);
	fprintf(out, "    extent: ino %llu iblock %llu len %llu blkno %llu flags %x\n",
		LE64(key->skdx_ino), ULL(end - len + 1), ULL(len), LE64(dv.blkno), dv.flags);
}

static void text_quota(FILE *out, const struct scoutfs_key *key, const void *val,
		       unsigned int val_len)
{
	struct scoutfs_quota_rule_val rv;

	copy_val(&rv, sizeof(rv), val, val_len);
	fprintf(out, "    quota rule: hash 0x%016llx coll_nr %llu\n", LE64(key->skqr_hash),
		LE64(key->skqr_coll_nr));
	fprintf(out, "      [%u %llu,%u,%x %llu,%u,%x %llu,%u,%x %u %llu %x]\n", rv.prio,
		LE64(rv.name_val[0]), rv.name_source[0], rv.name_flags[0], LE64(rv.name_val[1]),
		rv.name_source[1], rv.name_flags[1], LE64(rv.name_val[2]), rv.name_source[2],
		rv.name_flags[2], rv.op, LE64(rv.limit), rv.rule_flags);
}

static void text_fs_val(FILE *out, const struct scoutfs_key *key, const void *val,
			unsigned int val_len)
{
	struct scoutfs_xattr_totl_val tv;
	uint64_t minor, ino, id;
	uint8_t major;

	switch (key->sk_zone) {
	case SCOUTFS_INODE_INDEX_ZONE:
		if (key->sk_type < SCOUTFS_INODE_INDEX_META_SEQ_TYPE ||
		    key->sk_type > SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE)
			break;
		fprintf(out, "      index: major %llu ino %llu\n", LE64(key->skii_major),
			LE64(key->skii_ino));
		return;
	case SCOUTFS_ORPHAN_ZONE:
		if (key->sk_type != SCOUTFS_ORPHAN_TYPE)
			break;
		fprintf(out, "    orphan: ino %llu\n", LE64(key->sko_ino));
		return;
	case SCOUTFS_QUOTA_ZONE:
		text_quota(out, key, val, val_len);
		return;
	case SCOUTFS_XATTR_TOTL_ZONE:
		copy_val(&tv, sizeof(tv), val, val_len);
		fprintf(out, "    xattr totl: %llu.%llu.%llu = %lld, %lld\n", LE64(key->skxt_a),
			LE64(key->skxt_b), LE64(key->skxt_c), SLE64(tv.total), SLE64(tv.count));
		return;
	case SCOUTFS_XATTR_INDX_ZONE:
		sfs_xattr_indx_key_fields(key, &major, &minor, &ino, &id);
		fprintf(out, "    xattr indx: major %u minor %llu ino %llu xid %llu\n", major,
			ULL(minor), ULL(ino), ULL(id));
		return;
	case SCOUTFS_FS_ZONE:
		switch (key->sk_type) {
		case SCOUTFS_INODE_TYPE:
			text_inode(out, key, val, val_len);
			return;
		case SCOUTFS_XATTR_TYPE:
			text_xattr(out, key, val, val_len);
			return;
		case SCOUTFS_DIRENT_TYPE:
		case SCOUTFS_READDIR_TYPE:
		case SCOUTFS_LINK_BACKREF_TYPE:
			text_dirent(out, key, val, val_len);
			return;
		case SCOUTFS_SYMLINK_TYPE:
			text_symlink(out, key, val, val_len);
			return;
		case SCOUTFS_DATA_EXTENT_TYPE:
			text_extent(out, key, val, val_len);
			return;
		}
		break;
	}
	fprintf(out, "      (unknown zone %u type %u)\n", key->sk_zone, key->sk_type);
}

static void text_alloc_key(FILE *out, const struct scoutfs_key *key)
{
	uint64_t first = le64toh(key->_sk_first);
	uint64_t second = le64toh(key->_sk_second);
	uint64_t third = le64toh(key->_sk_third);

	if (key->sk_zone == SCOUTFS_FREE_EXTENT_BLKNO_ZONE)
		fprintf(out, "    free extent: blkno %llu len %llu end %llu\n",
			ULL(first - second + 1), ULL(second), ULL(first));
	else
		fprintf(out, "    free extent: blkno %llu len %llu order %llu\n",
			ULL(second - third + 1), ULL(third), ULL(UINT64_MAX - first));
}

static void text_mounted_client(FILE *out, const struct scoutfs_key *key, const void *val,
				unsigned int val_len)
{
	struct scoutfs_mounted_client_btree_val mc;
	char addr[SFS_TEXT_ADDR_LEN];
	const char *label = "ipv4_addr";
	uint32_t a;

	copy_val(&mc, sizeof(mc), val, val_len);
	if (le16toh(mc.addr.v4.family) == SCOUTFS_AF_IPV6) {
		label = "ipv6_addr";
		if (!inet_ntop(AF_INET6, mc.addr.v6.addr, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
	} else {
		a = le32toh(mc.addr.v4.addr);
		snprintf(addr, sizeof(addr), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
			 (a >> 8) & 0xff, a & 0xff);
	}
	fprintf(out, "    rid %016llx %s %s flags 0x%x\n", LE64(key->skmc_rid), label, addr,
		mc.flags);
}

static void text_log_merge(FILE *out, const struct scoutfs_key *key, const void *val,
			   unsigned int val_len)
{
	union {
		struct scoutfs_log_merge_status st;
		struct scoutfs_log_merge_range rng;
		struct scoutfs_log_merge_request req;
		struct scoutfs_log_merge_complete comp;
		struct scoutfs_log_merge_freeing fr;
	} u;
	char k1[SFS_TEXT_KEY_LEN], k2[SFS_TEXT_KEY_LEN], k3[SFS_TEXT_KEY_LEN];

	copy_val(&u, sizeof(u), val, val_len);
	switch (key->sk_zone) {
	case SCOUTFS_LOG_MERGE_STATUS_ZONE:
		fprintf(out, "    status: next_range_key %s nr_req %llu nr_comp %llu seq %llu\n",
			key_str(k1, &u.st.next_range_key), LE64(u.st.nr_requests),
			LE64(u.st.nr_complete), LE64(u.st.seq));
		break;
	case SCOUTFS_LOG_MERGE_RANGE_ZONE:
		fprintf(out, "    range: start %s end %s\n", key_str(k1, &u.rng.start),
			key_str(k2, &u.rng.end));
		break;
	case SCOUTFS_LOG_MERGE_REQUEST_ZONE:
		/* the reference labels the output subtree root "logs_root" too */
		fputs("    request: logs_root ", out);
		sfs_text_btree_root(out, &u.req.logs_root);
		fputs(" logs_root ", out);
		sfs_text_btree_root(out, &u.req.root);
		fprintf(out, " start %s end %s input_seq %llu rid %016llx seq %llu flags 0x%llx\n",
			key_str(k1, &u.req.start), key_str(k2, &u.req.end), LE64(u.req.input_seq),
			LE64(u.req.rid), LE64(u.req.seq), LE64(u.req.flags));
		break;
	case SCOUTFS_LOG_MERGE_COMPLETE_ZONE:
		fputs("    complete: root ", out);
		sfs_text_btree_root(out, &u.comp.root);
		fprintf(out, " start %s end %s remain %s rid %016llx seq %llu flags %llx\n",
			key_str(k1, &u.comp.start), key_str(k2, &u.comp.end),
			key_str(k3, &u.comp.remain), LE64(u.comp.rid), LE64(u.comp.seq),
			LE64(u.comp.flags));
		break;
	case SCOUTFS_LOG_MERGE_FREEING_ZONE:
		fputs("    freeing: root ", out);
		sfs_text_btree_root(out, &u.fr.root);
		fprintf(out, " key %s seq %llu\n", key_str(k1, &u.fr.key), LE64(u.fr.seq));
		break;
	default:
		fprintf(out, "    (unknown log merge key zone %u)\n", key->sk_zone);
		break;
	}
}

void sfs_text_item_key(FILE *out, enum sfs_text_tree tree, const struct scoutfs_key *key,
		       uint64_t seq, uint8_t flags)
{
	char k[SFS_TEXT_KEY_LEN];

	switch (tree) {
	case SFS_TEXT_TREE_FS:
		fprintf(out, "    %s %llu %c\n", key_str(k, key), ULL(seq),
			(flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION) ? 'd' : '-');
		break;
	case SFS_TEXT_TREE_ALLOC:
		text_alloc_key(out, key);
		break;
	case SFS_TEXT_TREE_LOGS:
		fprintf(out, "    rid %llu nr %llu\n", LE64(key->sklt_rid), LE64(key->sklt_nr));
		break;
	case SFS_TEXT_TREE_SRCH:
		fprintf(out, "    %s\n", key_str(k, key));
		break;
	case SFS_TEXT_TREE_MOUNTED_CLIENTS:
	case SFS_TEXT_TREE_LOG_MERGE:
	default:
		/* their one line comes from the value */
		break;
	}
}

void sfs_text_item(FILE *out, enum sfs_text_tree tree, const struct scoutfs_key *key,
		   uint64_t seq, uint8_t flags, const void *val, unsigned int val_len,
		   int fmt_vers)
{
	struct scoutfs_log_trees lt;
	struct scoutfs_srch_compact sc;
	struct scoutfs_srch_file sfl;
	char k[SFS_TEXT_KEY_LEN];

	(void)fmt_vers;

	sfs_text_item_key(out, tree, key, seq, flags);
	if (flags & SCOUTFS_BTREE_ITEM_FLAG_DELETION)
		return;

	switch (tree) {
	case SFS_TEXT_TREE_FS:
		text_fs_val(out, key, val, val_len);
		break;
	case SFS_TEXT_TREE_ALLOC:
		break;
	case SFS_TEXT_TREE_LOGS:
		copy_val(&lt, sizeof(lt), val, val_len);
		sfs_text_log_trees(out, &lt);
		break;
	case SFS_TEXT_TREE_SRCH:
		if (key->sk_type == SCOUTFS_SRCH_PENDING_TYPE ||
		    key->sk_type == SCOUTFS_SRCH_BUSY_TYPE) {
			copy_val(&sc, sizeof(sc), val, val_len);
			sfs_text_srch_compact(out, &sc, key->sk_type == SCOUTFS_SRCH_BUSY_TYPE);
		} else {
			copy_val(&sfl, sizeof(sfl), val, val_len);
			fputs("      ", out);
			sfs_text_srch_file(out, &sfl);
			fputs("\n", out);
		}
		break;
	case SFS_TEXT_TREE_MOUNTED_CLIENTS:
		text_mounted_client(out, key, val, val_len);
		break;
	case SFS_TEXT_TREE_LOG_MERGE:
		text_log_merge(out, key, val, val_len);
		break;
	default:
		fprintf(out, "    %s (unknown tree %d) val_len %u\n", key_str(k, key), (int)tree,
			val_len);
		break;
	}
}

void sfs_text_parent_item(FILE *out, enum sfs_text_tree tree, const struct scoutfs_key *key,
			  const struct scoutfs_block_ref *ref)
{
	char k[SFS_TEXT_KEY_LEN];

	switch (tree) {
	case SFS_TEXT_TREE_MOUNTED_CLIENTS:
		fprintf(out, "    rid %016llx\n", LE64(key->skmc_rid));
		break;
	case SFS_TEXT_TREE_LOG_MERGE:
		fprintf(out, "    %s\n", key_str(k, key));
		break;
	default:
		/* parent items have no seq or flags of their own */
		sfs_text_item_key(out, tree, key, 0, 0);
		break;
	}
	fprintf(out, "    ref blkno %llu seq %llu\n", LE64(ref->blkno), LE64(ref->seq));
}

size_t sfs_text_item_buf(char *buf, size_t len, enum sfs_text_tree tree,
			 const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
			 const void *val, unsigned int val_len, int fmt_vers)
{
	char *text = NULL;
	size_t text_len = 0;
	FILE *f;

	if (len)
		buf[0] = '\0';
	f = open_memstream(&text, &text_len);
	if (!f)
		return 0;
	sfs_text_item(f, tree, key, seq, flags, val, val_len, fmt_vers);
	if (fclose(f) != 0 || !text) {
		free(text);
		return 0;
	}
	if (len)
		snprintf(buf, len, "%s", text);
	free(text);
	return text_len;
}

/* ------------------------------------------------------------------ */
/* items: validation                                                    */
/* ------------------------------------------------------------------ */

/* key fields a kind leaves unused must be zero */
#define KEY_FIRST 0x1
#define KEY_SECOND 0x2
#define KEY_THIRD 0x4
#define KEY_FOURTH 0x8

static int check_key_zero(const struct scoutfs_key *key, unsigned int fields, char *why,
			  size_t why_len)
{
	if ((fields & KEY_FIRST) && key->_sk_first)
		return fail(why, why_len, "key first %llu, expected 0", LE64(key->_sk_first));
	if ((fields & KEY_SECOND) && key->_sk_second)
		return fail(why, why_len, "key second %llu, expected 0", LE64(key->_sk_second));
	if ((fields & KEY_THIRD) && key->_sk_third)
		return fail(why, why_len, "key third %llu, expected 0", LE64(key->_sk_third));
	if ((fields & KEY_FOURTH) && key->_sk_fourth)
		return fail(why, why_len, "key fourth %u, expected 0", key->_sk_fourth);
	return 0;
}

static int check_len(unsigned int val_len, unsigned int want, char *why, size_t why_len)
{
	if (val_len != want)
		return fail(why, why_len, "value length %u, expected %u", val_len, want);
	return 0;
}

#define CHECK(call)                  \
	do {                         \
		ret = (call);        \
		if (ret)             \
			return ret;  \
	} while (0)

static bool valid_mode_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

static int validate_inode(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			  int fmt_vers, char *why, size_t why_len)
{
	static const char *const ts_names[] = { "atime", "ctime", "mtime", "crtime" };
	struct scoutfs_inode ino;
	const struct scoutfs_timespec *times[] = { &ino.atime, &ino.ctime, &ino.mtime,
						   &ino.crtime };
	uint32_t allowed;
	unsigned int i;
	int ret;

	CHECK(check_key_zero(key, KEY_SECOND | KEY_THIRD | KEY_FOURTH, why, why_len));
	if (val_len != SCOUTFS_INODE_FMT_V1_BYTES &&
	    !(val_len == SCOUTFS_INODE_FMT_V2_BYTES && fmt_vers >= 2))
		return fail(why, why_len, "inode value length %u invalid for format version %d",
			    val_len, fmt_vers);
	copy_val(&ino, sizeof(ino), val, val_len);
	allowed = fmt_vers >= 2 ? SCOUTFS_INO_FLAGS_V2 : SCOUTFS_INO_FLAGS_V1;
	if (le32toh(ino.flags) & ~allowed)
		return fail(why, why_len, "inode flags 0x%x invalid for format version %d",
			    le32toh(ino.flags), fmt_vers);
	if (!valid_mode_type(le32toh(ino.mode)))
		return fail(why, why_len, "inode mode 0%o has no valid file type",
			    le32toh(ino.mode));
	for (i = 0; i < 4; i++)
		NESTED(ts_names[i], sfs_text_validate_timespec, times[i]);
	return 0;
}

static int validate_xattr(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			  char *why, size_t why_len)
{
	struct scoutfs_xattr xat;
	unsigned int total, part = key->skx_part;
	uint64_t hash;

	if (le64toh(key->skx_name_hash) > UINT32_MAX)
		return fail(why, why_len, "xattr name hash %llx wider than 32 bits",
			    LE64(key->skx_name_hash));
	if (part >= SCOUTFS_XATTR_MAX_PARTS)
		return fail(why, why_len, "xattr part %u >= %u", part, SCOUTFS_XATTR_MAX_PARTS);
	if (part != 0) {
		if (val_len == 0 || val_len > SCOUTFS_XATTR_MAX_PART_SIZE)
			return fail(why, why_len, "xattr part %u length %u", part, val_len);
		return 0;
	}
	if (val_len < sizeof(xat))
		return fail(why, why_len, "xattr part 0 length %u < %zu", val_len, sizeof(xat));
	copy_val(&xat, sizeof(xat), val, val_len);
	if (xat.name_len == 0)
		return fail(why, why_len, "xattr name_len 0");
	total = sizeof(xat) + xat.name_len + le16toh(xat.val_len);
	if (val_len != (total < SCOUTFS_XATTR_MAX_PART_SIZE ? total : SCOUTFS_XATTR_MAX_PART_SIZE))
		return fail(why, why_len, "xattr part 0 length %u for name_len %u val_len %u",
			    val_len, xat.name_len, le16toh(xat.val_len));
	hash = sfs_xattr_name_hash((const char *)val + sizeof(xat), xat.name_len);
	if (hash != le64toh(key->skx_name_hash))
		return fail(why, why_len, "xattr name hash %08llx, key has %08llx", ULL(hash),
			    LE64(key->skx_name_hash));
	return 0;
}

static int validate_dirent(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			   char *why, size_t why_len)
{
	struct scoutfs_dirent dent;
	unsigned int name_len;
	uint64_t hash, pos;
	int ret;

	if (val_len <= sizeof(dent) || val_len > sizeof(dent) + SCOUTFS_NAME_LEN)
		return fail(why, why_len, "dirent value length %u, name must be 1..%u bytes",
			    val_len, SCOUTFS_NAME_LEN);
	name_len = val_len - sizeof(dent);
	copy_val(&dent, sizeof(dent), val, val_len);
	pos = le64toh(dent.pos);
	if (dent.ino == 0)
		return fail(why, why_len, "dirent ino 0");
	if (dent.type > SCOUTFS_DT_WHT)
		return fail(why, why_len, "dirent type %u", dent.type);
	if (pos < SCOUTFS_DIRENT_FIRST_POS || pos > SCOUTFS_DIRENT_LAST_POS)
		return fail(why, why_len, "dirent pos %llu", ULL(pos));
	hash = sfs_dirent_name_hash((const char *)val + sizeof(dent), name_len);
	if (hash != le64toh(dent.hash))
		return fail(why, why_len, "dirent hash %016llx, name hashes to %016llx",
			    LE64(dent.hash), ULL(hash));

	CHECK(check_key_zero(key, KEY_FOURTH, why, why_len));
	switch (key->sk_type) {
	case SCOUTFS_DIRENT_TYPE:
		if (key->skd_major != dent.hash || key->skd_minor != dent.pos)
			return fail(why, why_len, "dirent key hash/pos differ from the value");
		break;
	case SCOUTFS_READDIR_TYPE:
		CHECK(check_key_zero(key, KEY_THIRD, why, why_len));
		if (key->skd_major != dent.pos)
			return fail(why, why_len, "readdir key pos differs from the value");
		break;
	case SCOUTFS_LINK_BACKREF_TYPE:
		if (key->skf_ino != dent.ino || key->skf_pos != dent.pos)
			return fail(why, why_len, "backref key ino/pos differ from the value");
		break;
	}
	return 0;
}

static int validate_symlink(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			    char *why, size_t why_len)
{
	uint64_t nr = le64toh(key->sks_nr);
	int ret;

	CHECK(check_key_zero(key, KEY_THIRD | KEY_FOURTH, why, why_len));
	if (nr >= (SCOUTFS_SYMLINK_MAX_SIZE + SCOUTFS_BTREE_MAX_VAL_LEN - 1) /
			  SCOUTFS_BTREE_MAX_VAL_LEN)
		return fail(why, why_len, "symlink part %llu too high", ULL(nr));
	if (val_len == 0 || val_len > SCOUTFS_BTREE_MAX_VAL_LEN ||
	    nr * SCOUTFS_BTREE_MAX_VAL_LEN + val_len > SCOUTFS_SYMLINK_MAX_SIZE)
		return fail(why, why_len, "symlink part %llu length %u", ULL(nr), val_len);
	/* a short part is the last one and holds the terminating NUL */
	if (val_len < SCOUTFS_BTREE_MAX_VAL_LEN && ((const char *)val)[val_len - 1] != '\0')
		return fail(why, why_len, "symlink target not NUL terminated");
	return 0;
}

static int validate_extent(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			   char *why, size_t why_len)
{
	struct scoutfs_data_extent_val dv;
	uint64_t end = le64toh(key->skdx_end), len = le64toh(key->skdx_len), blkno;
	int ret;

	CHECK(check_key_zero(key, KEY_FOURTH, why, why_len));
	CHECK(check_len(val_len, sizeof(dv), why, why_len));
	copy_val(&dv, sizeof(dv), val, val_len);
	blkno = le64toh(dv.blkno);
	if (len == 0 || end < len - 1)
		return fail(why, why_len, "extent end %llu len %llu", ULL(end), ULL(len));
	if (dv.flags & ~SCOUTFS_SEF_EXISTING_BITS)
		return fail(why, why_len, "extent flags 0x%x", dv.flags);
	if (blkno == 0 && !(dv.flags & SCOUTFS_SEF_OFFLINE))
		return fail(why, why_len, "unmapped extent without the offline flag");
	if (blkno == 0 && (dv.flags & SCOUTFS_SEF_UNWRITTEN))
		return fail(why, why_len, "unwritten extent without blocks");
	if (blkno && (blkno < SCOUTFS_DATA_DEV_START_BLKNO || blkno + len < blkno))
		return fail(why, why_len, "extent blkno %llu len %llu", ULL(blkno), ULL(len));
	return 0;
}

static int validate_quota(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			  int fmt_vers, char *why, size_t why_len)
{
	struct scoutfs_quota_rule_val rv;
	unsigned int i;
	int ret;

	if (fmt_vers < 2)
		return fail(why, why_len, "quota rule on a format version %d volume", fmt_vers);
	if (key->sk_type != SCOUTFS_QUOTA_RULE_TYPE)
		return fail(why, why_len, "quota zone type %u", key->sk_type);
	CHECK(check_key_zero(key, KEY_FIRST | KEY_FOURTH, why, why_len));
	CHECK(check_len(val_len, sizeof(rv), why, why_len));
	copy_val(&rv, sizeof(rv), val, val_len);
	if (rv.op >= SCOUTFS_QUOTA_NR_OPS)
		return fail(why, why_len, "quota op %u", rv.op);
	if (rv.rule_flags & ~SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT)
		return fail(why, why_len, "quota rule flags 0x%x", rv.rule_flags);
	for (i = 0; i < 3; i++) {
		if (rv.name_source[i] >= SCOUTFS_QUOTA_NR_SOURCES)
			return fail(why, why_len, "quota name_source[%u] %u", i, rv.name_source[i]);
		if (rv.name_flags[i] & ~SCOUTFS_QUOTA_FLAG_SELECT)
			return fail(why, why_len, "quota name_flags[%u] 0x%x", i, rv.name_flags[i]);
	}
	if (!zero_bytes(rv.__pad, sizeof(rv.__pad)))
		return fail(why, why_len, "quota rule padding not zero");
	if (sfs_fnv1a64(&rv, sizeof(rv)) != le64toh(key->skqr_hash))
		return fail(why, why_len, "quota key hash %016llx, rule hashes to %016llx",
			    LE64(key->skqr_hash), ULL(sfs_fnv1a64(&rv, sizeof(rv))));
	return 0;
}

static int validate_fs_item(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			    int fmt_vers, char *why, size_t why_len)
{
	int ret;

	switch (key->sk_zone) {
	case SCOUTFS_INODE_INDEX_ZONE:
		if (key->sk_type != SCOUTFS_INODE_INDEX_META_SEQ_TYPE &&
		    key->sk_type != SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE)
			break;
		CHECK(check_key_zero(key, KEY_FIRST | KEY_FOURTH, why, why_len));
		return check_len(val_len, 0, why, why_len);
	case SCOUTFS_ORPHAN_ZONE:
		if (key->sk_type != SCOUTFS_ORPHAN_TYPE)
			break;
		CHECK(check_key_zero(key, KEY_FIRST | KEY_THIRD | KEY_FOURTH, why, why_len));
		return check_len(val_len, 0, why, why_len);
	case SCOUTFS_QUOTA_ZONE:
		return validate_quota(key, val, val_len, fmt_vers, why, why_len);
	case SCOUTFS_XATTR_TOTL_ZONE:
		if (key->sk_type != 0)
			break;
		CHECK(check_key_zero(key, KEY_FOURTH, why, why_len));
		return check_len(val_len, sizeof(struct scoutfs_xattr_totl_val), why, why_len);
	case SCOUTFS_XATTR_INDX_ZONE:
		if (key->sk_type != 0)
			break;
		if (fmt_vers < 2)
			return fail(why, why_len, "xattr index item on a format version %d volume",
				    fmt_vers);
		return check_len(val_len, 0, why, why_len);
	case SCOUTFS_FS_ZONE:
		switch (key->sk_type) {
		case SCOUTFS_INODE_TYPE:
			return validate_inode(key, val, val_len, fmt_vers, why, why_len);
		case SCOUTFS_XATTR_TYPE:
			return validate_xattr(key, val, val_len, why, why_len);
		case SCOUTFS_DIRENT_TYPE:
		case SCOUTFS_READDIR_TYPE:
		case SCOUTFS_LINK_BACKREF_TYPE:
			return validate_dirent(key, val, val_len, why, why_len);
		case SCOUTFS_SYMLINK_TYPE:
			return validate_symlink(key, val, val_len, why, why_len);
		case SCOUTFS_DATA_EXTENT_TYPE:
			return validate_extent(key, val, val_len, why, why_len);
		}
		break;
	}
	return fail(why, why_len, "unknown item type %u in zone %u", key->sk_type, key->sk_zone);
}

static int validate_srch_item(const struct scoutfs_key *key, const void *val,
			      unsigned int val_len, char *why, size_t why_len)
{
	struct scoutfs_srch_compact sc;
	struct scoutfs_srch_file sfl;
	int ret;

	CHECK(check_key_zero(key, KEY_FIRST | KEY_FOURTH, why, why_len));
	switch (key->sk_type) {
	case SCOUTFS_SRCH_LOG_TYPE:
	case SCOUTFS_SRCH_BLOCKS_TYPE:
		CHECK(check_len(val_len, sizeof(sfl), why, why_len));
		copy_val(&sfl, sizeof(sfl), val, val_len);
		NESTED("srch file", sfs_text_validate_srch_file, &sfl);
		if (key->sk_type == SCOUTFS_SRCH_LOG_TYPE) {
			CHECK(check_key_zero(key, KEY_THIRD, why, why_len));
			if (key->sksf_nr != sfl.ref.blkno)
				return fail(why, why_len, "srch log key %llu, file blkno %llu",
					    LE64(key->sksf_nr), LE64(sfl.ref.blkno));
		} else if (key->_sk_second != sfl.blocks || key->_sk_third != sfl.ref.blkno) {
			return fail(why, why_len, "srch blocks key %llu.%llu, file %llu.%llu",
				    LE64(key->_sk_second), LE64(key->_sk_third), LE64(sfl.blocks),
				    LE64(sfl.ref.blkno));
		}
		return 0;
	case SCOUTFS_SRCH_PENDING_TYPE:
	case SCOUTFS_SRCH_BUSY_TYPE:
		CHECK(check_len(val_len, sizeof(sc), why, why_len));
		copy_val(&sc, sizeof(sc), val, val_len);
		NESTED("srch compact", sfs_text_validate_srch_compact, &sc);
		if (key->sk_type == SCOUTFS_SRCH_PENDING_TYPE) {
			CHECK(check_key_zero(key, KEY_THIRD, why, why_len));
			if (key->sksc_id != sc.id)
				return fail(why, why_len, "pending key id %llu, value id %llu",
					    LE64(key->sksc_id), LE64(sc.id));
		} else if (key->_sk_third != sc.id) {
			return fail(why, why_len, "busy key id %llu, value id %llu",
				    LE64(key->_sk_third), LE64(sc.id));
		}
		return 0;
	}
	return fail(why, why_len, "unknown srch type %u", key->sk_type);
}

static int validate_alloc_item(const struct scoutfs_key *key, unsigned int val_len, char *why,
			       size_t why_len)
{
	uint64_t first = le64toh(key->_sk_first);
	uint64_t second = le64toh(key->_sk_second);
	uint64_t third = le64toh(key->_sk_third);
	int ret;

	if (key->sk_type != 0)
		return fail(why, why_len, "free extent type %u", key->sk_type);
	CHECK(check_len(val_len, 0, why, why_len));
	if (key->sk_zone == SCOUTFS_FREE_EXTENT_BLKNO_ZONE) {
		CHECK(check_key_zero(key, KEY_THIRD | KEY_FOURTH, why, why_len));
		if (second == 0 || first < second - 1)
			return fail(why, why_len, "free extent end %llu len %llu", ULL(first),
				    ULL(second));
		return 0;
	}
	CHECK(check_key_zero(key, KEY_FOURTH, why, why_len));
	if (third == 0 || second < third - 1)
		return fail(why, why_len, "free extent end %llu len %llu", ULL(second), ULL(third));
	if (first != UINT64_MAX - sfs_free_extent_order(third))
		return fail(why, why_len, "free extent order key %llx for len %llu", ULL(first),
			    ULL(third));
	return 0;
}

static int validate_mounted_client(const struct scoutfs_key *key, const void *val,
				   unsigned int val_len, char *why, size_t why_len)
{
	struct scoutfs_mounted_client_btree_val mc;
	uint16_t family;
	int ret;

	if (key->sk_type != 0)
		return fail(why, why_len, "mounted client type %u", key->sk_type);
	CHECK(check_key_zero(key, KEY_SECOND | KEY_THIRD | KEY_FOURTH, why, why_len));
	CHECK(check_len(val_len, sizeof(mc), why, why_len));
	copy_val(&mc, sizeof(mc), val, val_len);
	family = le16toh(mc.addr.v4.family);
	if (family != SCOUTFS_AF_IPV4 && family != SCOUTFS_AF_IPV6)
		return fail(why, why_len, "mounted client address family %u", family);
	if (mc.flags & ~SCOUTFS_MOUNTED_CLIENT_QUORUM)
		return fail(why, why_len, "mounted client flags 0x%x", mc.flags);
	return 0;
}

static int validate_log_merge(const struct scoutfs_key *key, const void *val,
			      unsigned int val_len, char *why, size_t why_len)
{
	union {
		struct scoutfs_log_merge_range rng;
		struct scoutfs_log_merge_request req;
		struct scoutfs_log_merge_complete comp;
		struct scoutfs_log_merge_freeing fr;
	} u;
	int ret;

	copy_val(&u, sizeof(u), val, val_len);
	if (key->sk_zone != SCOUTFS_LOG_MERGE_RANGE_ZONE && key->sk_type != 0)
		return fail(why, why_len, "log merge zone %u type %u", key->sk_zone, key->sk_type);

	switch (key->sk_zone) {
	case SCOUTFS_LOG_MERGE_STATUS_ZONE:
		CHECK(check_key_zero(key, KEY_FIRST | KEY_SECOND | KEY_THIRD | KEY_FOURTH, why,
				     why_len));
		return check_len(val_len, sizeof(struct scoutfs_log_merge_status), why, why_len);
	case SCOUTFS_LOG_MERGE_RANGE_ZONE:
		CHECK(check_len(val_len, sizeof(u.rng), why, why_len));
		if (key->_sk_first != u.rng.start._sk_first ||
		    key->_sk_second != u.rng.start._sk_second ||
		    key->_sk_third != u.rng.start._sk_third ||
		    key->_sk_fourth != u.rng.start._sk_fourth ||
		    key->sk_type != u.rng.start.sk_type)
			return fail(why, why_len, "range key differs from its start key");
		if (sfs_key_cmp(&u.rng.start, &u.rng.end) > 0)
			return fail(why, why_len, "range start after end");
		return 0;
	case SCOUTFS_LOG_MERGE_REQUEST_ZONE:
		CHECK(check_key_zero(key, KEY_THIRD | KEY_FOURTH, why, why_len));
		CHECK(check_len(val_len, sizeof(u.req), why, why_len));
		NESTED("meta_avail", sfs_text_validate_alloc_list_head, &u.req.meta_avail);
		NESTED("meta_freed", sfs_text_validate_alloc_list_head, &u.req.meta_freed);
		NESTED("logs_root", sfs_text_validate_btree_root, &u.req.logs_root);
		NESTED("root", sfs_text_validate_btree_root, &u.req.root);
		if (key->sklmq_rid != u.req.rid || key->sklmq_seq != u.req.seq)
			return fail(why, why_len, "request key rid/seq differ from the value");
		if (le64toh(u.req.flags) & ~SCOUTFS_LOG_MERGE_REQUEST_SUBTREE)
			return fail(why, why_len, "request flags 0x%llx", LE64(u.req.flags));
		return 0;
	case SCOUTFS_LOG_MERGE_COMPLETE_ZONE:
		CHECK(check_key_zero(key, KEY_SECOND | KEY_THIRD | KEY_FOURTH, why, why_len));
		CHECK(check_len(val_len, sizeof(u.comp), why, why_len));
		NESTED("meta_avail", sfs_text_validate_alloc_list_head, &u.comp.meta_avail);
		NESTED("meta_freed", sfs_text_validate_alloc_list_head, &u.comp.meta_freed);
		NESTED("root", sfs_text_validate_btree_root, &u.comp.root);
		if (key->sklmc_seq != u.comp.seq)
			return fail(why, why_len, "complete key seq differs from the value");
		if (le64toh(u.comp.flags) &
		    ~(SCOUTFS_LOG_MERGE_COMP_ERROR | SCOUTFS_LOG_MERGE_COMP_REMAIN))
			return fail(why, why_len, "complete flags 0x%llx", LE64(u.comp.flags));
		return 0;
	case SCOUTFS_LOG_MERGE_FREEING_ZONE:
		CHECK(check_key_zero(key, KEY_SECOND | KEY_THIRD | KEY_FOURTH, why, why_len));
		CHECK(check_len(val_len, sizeof(u.fr), why, why_len));
		NESTED("root", sfs_text_validate_btree_root, &u.fr.root);
		if (key->sklmf_seq != u.fr.seq)
			return fail(why, why_len, "freeing key seq differs from the value");
		return 0;
	}
	return fail(why, why_len, "unknown log merge zone %u", key->sk_zone);
}

int sfs_text_validate_item(const struct scoutfs_key *key, const void *val, unsigned int val_len,
			   int fmt_vers, char *why, size_t why_len)
{
	struct scoutfs_log_trees lt;
	int ret;

	if (why && why_len)
		why[0] = '\0';
	if (val_len && !val)
		return fail(why, why_len, "value length %u without a value", val_len);
	if (val_len > SCOUTFS_BTREE_MAX_VAL_LEN)
		return fail(why, why_len, "value length %u > %u", val_len,
			    SCOUTFS_BTREE_MAX_VAL_LEN);
	if (!zero_bytes(key->__pad, sizeof(key->__pad)))
		return fail(why, why_len, "key padding not zero");

	switch (sfs_text_tree_of_zone(key->sk_zone)) {
	case SFS_TEXT_TREE_FS:
		return validate_fs_item(key, val, val_len, fmt_vers, why, why_len);
	case SFS_TEXT_TREE_ALLOC:
		return validate_alloc_item(key, val_len, why, why_len);
	case SFS_TEXT_TREE_LOGS:
		if (key->sk_type != 0)
			return fail(why, why_len, "log trees type %u", key->sk_type);
		CHECK(check_key_zero(key, KEY_THIRD | KEY_FOURTH, why, why_len));
		CHECK(check_len(val_len, sizeof(lt), why, why_len));
		copy_val(&lt, sizeof(lt), val, val_len);
		NESTED("log trees", sfs_text_validate_log_trees, &lt);
		if (key->sklt_rid != lt.rid || key->sklt_nr != lt.nr)
			return fail(why, why_len, "log trees key rid/nr differ from the value");
		return 0;
	case SFS_TEXT_TREE_SRCH:
		return validate_srch_item(key, val, val_len, why, why_len);
	case SFS_TEXT_TREE_MOUNTED_CLIENTS:
		return validate_mounted_client(key, val, val_len, why, why_len);
	case SFS_TEXT_TREE_LOG_MERGE:
		return validate_log_merge(key, val, val_len, why, why_len);
	default:
		break;
	}
	return fail(why, why_len, "zone %u is never stored", key->sk_zone);
}
