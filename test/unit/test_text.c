// SPDX-License-Identifier: GPL-2.0
/*
 * Text and validation of on-disk structures: the vector blocks print
 * exactly as the reference print.txt shows them, short and unknown values
 * print without reading past their end, the reference bugs we fix stay
 * fixed, and the validators reject each kind of bad item.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "btree.h"
#include "text.h"
#include "vectors.h"

/* ---- helpers ---------------------------------------------------------- */

struct memout {
	char *buf;
	size_t len;
	FILE *f;
};

static FILE *mem_open(struct memout *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	return m->f;
}

/* close and return the text; the caller frees it */
static char *mem_close(struct memout *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

/* the whole of print.txt of a vector set */
static char *load_print_txt(const char *vers)
{
	const char *dir = getenv("SFS_VECTORS_DIR");
	char path[4096];
	char *buf;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/print.txt", dir ? dir : SFS_VECTORS_DIR, vers);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	buf = malloc(size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	return buf;
}

/*
 * The body of the section whose title line is @title: the lines after it
 * up to the next line that starts in column 0 (the next title).
 */
static char *section(const char *txt, const char *title)
{
	const char *start, *end;
	char want[128];
	char *out;

	snprintf(want, sizeof(want), "%s\n", title);
	start = strstr(txt, want);
	if (!start)
		fail_msg("print.txt has no section '%s'", title);
	start += strlen(want);
	for (end = start; *end; end = strchr(end, '\n') + 1) {
		if (*end != ' ')
			break;
	}
	out = strndup(start, end - start);
	assert_non_null(out);
	return out;
}

static void assert_text(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("text differs:\n--- got ---\n%s--- want ---\n%s", got, want);
}

/* a leaf printed the way print does: block body, then each item */
static char *text_leaf(const struct scoutfs_btree_block *bt, enum sfs_text_tree tree, int vers)
{
	const struct scoutfs_btree_item *item;
	struct memout m;
	FILE *f = mem_open(&m);
	unsigned int pos = 0;

	sfs_text_btree_block(f, bt);
	for (item = sfs_btree_first_item(bt); item; item = sfs_btree_next_item(bt, item), pos++) {
		sfs_text_btree_item_hdr(f, bt, item, pos);
		sfs_text_item(f, tree, &item->key, le64toh(item->seq), item->flags,
			      sfs_btree_item_val(bt, item), le16toh(item->val_len), vers);
	}
	return mem_close(&m);
}

static void assert_valid_item(const struct scoutfs_key *key, const void *val,
			      unsigned int val_len, int vers)
{
	char why[256];

	if (sfs_text_validate_item(key, val, val_len, vers, why, sizeof(why)))
		fail_msg("item rejected: %s", why);
}

static void assert_invalid_item(const struct scoutfs_key *key, const void *val,
				unsigned int val_len, int vers, const char *expect)
{
	char why[256];

	assert_int_equal(sfs_text_validate_item(key, val, val_len, vers, why, sizeof(why)), -EIO);
	if (!strstr(why, expect))
		fail_msg("reason '%s' does not mention '%s'", why, expect);
}

/* ---- the vectors print as print.txt shows them ------------------------ */

static void test_fs_root_leaf_v2(void **state)
{
	struct scoutfs_btree_block *bt = load_vector("v2/meta-fs_root-leaf.bin", 65536);
	char *txt = load_print_txt("v2");
	char *want = section(txt, "fs_root btree blkno 2");
	char *got = text_leaf(bt, SFS_TEXT_TREE_FS, 2);

	(void)state;
	assert_text(got, want);
	free(got);
	free(want);
	free(txt);
	free(bt);
}

/* a 160-byte v1 inode reads proj as 0 */
static void test_fs_root_leaf_v1(void **state)
{
	struct scoutfs_btree_block *bt = load_vector("v1/meta-fs_root-leaf.bin", 65536);
	char *txt = load_print_txt("v1");
	char *want = section(txt, "fs_root btree blkno 2");
	char *got = text_leaf(bt, SFS_TEXT_TREE_FS, 1);

	(void)state;
	assert_text(got, want);
	assert_non_null(strstr(got, "proj 0 nlink 2"));
	free(got);
	free(want);
	free(txt);
	free(bt);
}

static void test_alloc_leaves(void **state)
{
	struct scoutfs_btree_block *bt;
	char *txt = load_print_txt("v2");
	char *want, *got;

	(void)state;
	bt = load_vector("v2/meta-data_alloc-btree.bin", 65536);
	want = section(txt, "data_alloc btree blkno 1028");
	got = text_leaf(bt, SFS_TEXT_TREE_ALLOC, 2);
	assert_text(got, want);
	free(got);
	free(want);
	free(bt);

	bt = load_vector("v2/meta-meta_alloc0-btree.bin", 65536);
	want = section(txt, "meta_alloc[0] btree blkno 1029");
	got = text_leaf(bt, SFS_TEXT_TREE_ALLOC, 2);
	assert_text(got, want);
	free(got);
	free(want);
	free(bt);
	free(txt);
}

static void test_super_quorum_list(void **state)
{
	void *super = load_vector("v2/meta-super.bin", 4096);
	void *qb = load_vector("v2/meta-quorum-slot0.bin", 4096);
	void *lb = load_vector("v2/meta-server_meta_avail0-list.bin", 65536);
	char *txt = load_print_txt("v2");
	struct memout m;
	char *want, *got;
	char why[256];

	(void)state;
	sfs_text_super(mem_open(&m), super);
	got = mem_close(&m);
	want = section(txt, "super blkno 16");
	assert_text(got, want);
	free(got);
	free(want);
	if (sfs_text_validate_super(super, why, sizeof(why)))
		fail_msg("vector super rejected: %s", why);

	sfs_text_quorum_block(mem_open(&m), qb);
	got = mem_close(&m);
	want = section(txt, "quorum blkno 17 (slot 0)");
	assert_text(got, want);
	free(got);
	free(want);
	assert_int_equal(sfs_text_validate_quorum_block(qb, why, sizeof(why)), 0);

	sfs_text_alloc_list_block(mem_open(&m), lb);
	got = mem_close(&m);
	want = section(txt, "server_meta_avail[0] alloc_list_block blkno 3");
	assert_text(got, want);
	free(got);
	free(want);
	assert_int_equal(sfs_text_validate_alloc_list_block(lb, 16384, why, sizeof(why)), 0);
	/* blknos past the device are caught */
	assert_int_equal(sfs_text_validate_alloc_list_block(lb, 1000, why, sizeof(why)), -EIO);

	free(txt);
	free(lb);
	free(qb);
	free(super);
}

static void test_block_hdr(void **state)
{
	unsigned char *super = load_vector("v2/meta-super.bin", 4096);
	uint64_t fsid = 0x115b3e9f75b9ee07ULL;
	struct memout m;
	char why[256];
	char *got;

	(void)state;
	assert_int_equal(sfs_text_validate_block_hdr(super, 4096, SCOUTFS_BLOCK_MAGIC_SUPER, fsid,
						     16, 1, why, sizeof(why)), 0);
	assert_int_equal(sfs_text_validate_block_hdr(super, 4096, SCOUTFS_BLOCK_MAGIC_QUORUM, 0, 0,
						     0, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "magic 103c428b"));
	assert_int_equal(sfs_text_validate_block_hdr(super, 4096, SCOUTFS_BLOCK_MAGIC_SUPER, fsid,
						     16, 2, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "seq"));

	super[4000] ^= 1;
	assert_int_equal(sfs_text_validate_block_hdr(super, 4096, SCOUTFS_BLOCK_MAGIC_SUPER, 0, 0,
						     0, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "crc 758bd299"));
	sfs_text_block_hdr(mem_open(&m), super, 4096);
	got = mem_close(&m);
	assert_non_null(strstr(got, "  hdr: crc 758bd299 (!= "));
	free(got);
	free(super);
}

/* ---- printers never read past a value and handle the odd cases -------- */

static void test_short_and_unknown_values(void **state)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_INODE_TYPE, 0, 0, 0);
	unsigned char *val = malloc(10);
	struct memout m;
	char *got;

	(void)state;
	memset(val, 0xff, 10);
	/* a 10-byte inode: the rest reads as zero (ASan catches overreads) */
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &key, 7, 0, val, 10, 2);
	got = mem_close(&m);
	assert_non_null(strstr(got, "    16.5.4.0.0.0 7 -\n"
				    "    inode: ino 5 size 18446744073709551615"));
	assert_non_null(strstr(got, "nlink 0\n"));
	free(got);

	/* unknown type in the FS zone, and a zone no tree has */
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, 99, 0, 0, 0);
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &key, 1, 0, val, 10, 2);
	got = mem_close(&m);
	assert_text(got, "    16.5.99.0.0.0 1 -\n      (unknown zone 16 type 99)\n");
	free(got);

	/* deletion items print only their key line */
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_INODE_TYPE, 0, 0, 0);
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &key, 3, SCOUTFS_BTREE_ITEM_FLAG_DELETION,
		      NULL, 0, 2);
	got = mem_close(&m);
	assert_text(got, "    16.5.4.0.0.0 3 d\n");
	free(got);

	/* xattr part 0 whose name_len runs past the value */
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_XATTR_TYPE, 0x1234, 1, 0);
	memset(val, 0, 10);
	val[2] = 200;
	val[8] = 'a';
	val[9] = 0x01;
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &key, 1, 0, val, 10, 2);
	got = mem_close(&m);
	assert_text(got, "    16.5.8.4660.1.0 1 -\n"
			 "    xattr: ino 5 name_hash 00001234 id 1 part 0\n"
			 "      name_len 200 val_len 0 name a.\n");
	free(got);
	free(val);
}

static void test_fixed_reference_bugs(void **state)
{
	struct scoutfs_key key = sfs_xattr_indx_key(3, 0x1122, 77, 5);
	struct scoutfs_block_ref ref = { htole64(9), htole64(4) };
	struct scoutfs_key ones;
	struct memout m;
	char *got;

	(void)state;
	/* xattr indx lines end in a newline */
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &key, 1, 0, NULL, 0, 2);
	got = mem_close(&m);
	assert_non_null(strstr(got, "    xattr indx: major 3 minor 4386 ino 77 xid 5\n"));
	free(got);

	/* parent items of mounted_clients and log_merge print from the key */
	sfs_key_set_ones(&ones);
	sfs_text_parent_item(mem_open(&m), SFS_TEXT_TREE_MOUNTED_CLIENTS, &ones, &ref);
	got = mem_close(&m);
	assert_text(got, "    rid ffffffffffffffff\n    ref blkno 9 seq 4\n");
	free(got);
	sfs_text_parent_item(mem_open(&m), SFS_TEXT_TREE_LOG_MERGE, &ones, &ref);
	got = mem_close(&m);
	assert_text(got, "    255.18446744073709551615.255.18446744073709551615."
			 "18446744073709551615.255\n    ref blkno 9 seq 4\n");
	free(got);
	sfs_text_parent_item(mem_open(&m), SFS_TEXT_TREE_ALLOC, &ones, &ref);
	got = mem_close(&m);
	assert_text(got, "    free extent: blkno 1 len 18446744073709551615 order 0\n"
			 "    ref blkno 9 seq 4\n");
	free(got);
	sfs_text_parent_item(mem_open(&m), SFS_TEXT_TREE_LOGS, &ones, &ref);
	got = mem_close(&m);
	assert_text(got, "    rid 18446744073709551615 nr 18446744073709551615\n"
			 "    ref blkno 9 seq 4\n");
	free(got);
}

static void test_item_hash_wrap(void **state)
{
	struct scoutfs_btree_block *bt = calloc(1, 65536);
	__le16 *buckets;
	struct memout m;
	char *got, *last;
	unsigned int i;

	(void)state;
	assert_non_null(bt);
	buckets = sfs_btree_leaf_hash(bt);
	/* entries "1000,10000 " are 11 chars: the 6th pushes col past 78 */
	for (i = 0; i < 6; i++)
		buckets[1000 + i] = htole16(10000);
	sfs_text_btree_block(mem_open(&m), bt);
	got = mem_close(&m);
	/* the wrapping entry starts the continuation line, which still ends */
	last = strstr(got, "\n   1005,10000 \n    (6 / 1512 populated, 0% load)\n");
	if (!last)
		fail_msg("unexpected item hash text:\n%s", got);
	free(got);
	free(bt);
}

static void test_alloc_list_runs_wrap(void **state)
{
	struct scoutfs_alloc_list_block *lb = calloc(1, 65536);
	struct memout m;
	char *got;
	unsigned int i;

	(void)state;
	assert_non_null(lb);
	lb->start = htole32(3);
	lb->nr = htole32(20);
	/* every other blkno: 20 runs of one, "100000,1 " each */
	for (i = 0; i < 20; i++)
		lb->blknos[3 + i] = htole64(100000 + 2 * i);
	sfs_text_alloc_list_block(mem_open(&m), lb);
	got = mem_close(&m);
	assert_non_null(strstr(got, "  exts: 100000,1 100002,1 "));
	assert_non_null(strstr(got, " \n        1000"));
	assert_non_null(strstr(got, "100038,1 \n"));
	free(got);

	lb->start = htole32(8180);
	sfs_text_alloc_list_block(mem_open(&m), lb);
	got = mem_close(&m);
	assert_non_null(strstr(got, "  (invalid start and nr fields)\n"));
	free(got);
	free(lb);
}

static void test_quorum_slots_and_addrs(void **state)
{
	struct scoutfs_quorum_config qc;
	struct scoutfs_mounted_client_btree_val mc;
	struct scoutfs_key key = sfs_key_make(SCOUTFS_MOUNTED_CLIENT_ZONE, 0xabc, 0, 0, 0, 0);
	struct memout m;
	char why[256];
	char *got;

	(void)state;
	memset(&qc, 0, sizeof(qc));
	qc.version = htole64(3);
	qc.slots[1].addr.v6.family = htole16(SCOUTFS_AF_IPV6);
	qc.slots[1].addr.v6.port = htole16(42000);
	qc.slots[1].addr.v6.addr[15] = 1;
	qc.slots[12].addr.v6.family = htole16(SCOUTFS_AF_IPV6);
	qc.slots[12].addr.v6.port = htole16(42001);
	qc.slots[12].addr.v6.addr[0] = 0xfe;
	qc.slots[12].addr.v6.addr[1] = 0x80;
	qc.slots[12].addr.v6.addr[15] = 2;
	sfs_text_quorum_config(mem_open(&m), &qc);
	got = mem_close(&m);
	assert_text(got, "  quorum config version 3\n"
			 "    quorum slot  1: [::1]:42000\n"
			 "    quorum slot 12: [fe80::2]:42001\n");
	free(got);
	assert_int_equal(sfs_text_validate_quorum_config(&qc, why, sizeof(why)), 0);

	/* duplicates and mixed families are refused */
	qc.slots[12].addr = qc.slots[1].addr;
	assert_int_equal(sfs_text_validate_quorum_config(&qc, why, sizeof(why)), -EIO);
	qc.slots[12].addr.v4.family = htole16(SCOUTFS_AF_IPV4);
	assert_int_equal(sfs_text_validate_quorum_config(&qc, why, sizeof(why)), -EIO);
	memset(&qc, 0, sizeof(qc));
	assert_int_equal(sfs_text_validate_quorum_config(&qc, why, sizeof(why)), -EIO);

	memset(&mc, 0, sizeof(mc));
	mc.addr.v4.family = htole16(SCOUTFS_AF_IPV4);
	mc.addr.v4.addr = htole32(0x0a000002);
	mc.addr.v4.port = htole16(5000);
	mc.flags = SCOUTFS_MOUNTED_CLIENT_QUORUM;
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_MOUNTED_CLIENTS, &key, 0, 0, &mc, sizeof(mc), 2);
	got = mem_close(&m);
	assert_text(got, "    rid 0000000000000abc ipv4_addr 10.0.0.2 flags 0x1\n");
	free(got);
	assert_valid_item(&key, &mc, sizeof(mc), 2);
	mc.flags = 0x80;
	assert_invalid_item(&key, &mc, sizeof(mc), 2, "flags");
}

static void test_srch_block_text(void **state)
{
	struct scoutfs_srch_block *sb = calloc(1, 65536);
	struct scoutfs_srch_entry prev = { 0 }, e[3];
	struct memout m;
	unsigned int pos = 0, i;
	char why[256];
	char *got;

	(void)state;
	assert_non_null(sb);
	e[0] = (struct scoutfs_srch_entry){ htole64(0xa430d84680aabd0bULL), htole64(1025), 0 };
	e[1] = (struct scoutfs_srch_entry){ htole64(0xa430d84680aabd0bULL), htole64(1030),
					    htole64(3) };
	e[2] = (struct scoutfs_srch_entry){ htole64(0x1000), htole64(1024), htole64(1) };
	for (i = 0; i < 3; i++) {
		pos += sfs_srch_encode_entry(sb->entries + pos, &e[i], &prev);
		prev = e[i];
	}
	sb->entry_nr = htole32(3);
	sb->entry_bytes = htole32(pos);
	sb->tail = e[2];
	assert_int_equal(sfs_text_validate_srch_block(sb, why, sizeof(why)), 0);
	sfs_text_srch_block(mem_open(&m), sb);
	got = mem_close(&m);
	assert_non_null(strstr(got, "  entry_nr 3 entry_bytes 28\n"
				    "  [0]: (12) a430d84680aabd0b.1025.0\n"
				    "  [1]: (4) a430d84680aabd0b.1030.3\n"
				    "  [2]: (12) 0000000000001000.1024.1\n"));
	free(got);

	sb->entry_bytes = htole32(pos + 1);
	assert_int_equal(sfs_text_validate_srch_block(sb, why, sizeof(why)), -EIO);
	sb->entry_nr = htole32(100000);
	sfs_text_srch_block(mem_open(&m), sb);	/* stops where decoding stops */
	free(mem_close(&m));
	free(sb);
}

static void test_log_trees_text(void **state)
{
	struct scoutfs_log_trees lt;
	struct scoutfs_key key = sfs_key_make(SCOUTFS_LOG_TREES_ZONE, 1234, 0, 7, 0, 0);
	struct memout m;
	char *got;

	(void)state;
	memset(&lt, 0, sizeof(lt));
	lt.rid = htole64(1234);
	lt.nr = htole64(7);
	lt.get_trans_seq = htole64(UINT64_MAX);
	lt.data_alloc_zones[0] = htole64(0x9);
	lt.data_alloc_zones[1] = htole64(0x40);
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_LOGS, &key, 0, 0, &lt, sizeof(lt), 2);
	got = mem_close(&m);
	assert_non_null(strstr(got, "    rid 1234 nr 7\n      meta_avail: blkno 0 seq 0 total_nr 0 "
				    "first_nr 0 flags 0x0\n"));
	assert_non_null(strstr(got, "      get_trans_seq: -1\n"));
	assert_non_null(strstr(got, "      rid: 00000000000004d2\n"));
	assert_non_null(strstr(got, "      data_alloc_zones: 0 3 70 \n"));
	free(got);
	assert_valid_item(&key, &lt, sizeof(lt), 2);
	lt.nr = htole64(8);
	assert_invalid_item(&key, &lt, sizeof(lt), 2, "rid/nr");
}

/* ---- validators ------------------------------------------------------- */

static void test_validate_inode(void **state)
{
	struct scoutfs_btree_block *v2 = load_vector("v2/meta-fs_root-leaf.bin", 65536);
	struct scoutfs_btree_block *v1 = load_vector("v1/meta-fs_root-leaf.bin", 65536);
	const struct scoutfs_btree_item *i2 = &v2->items[1], *i1 = &v1->items[1];
	const void *val2 = sfs_btree_item_val(v2, i2), *val1 = sfs_btree_item_val(v1, i1);
	struct scoutfs_inode ino;

	(void)state;
	assert_valid_item(&v2->items[0].key, NULL, 0, 2);
	assert_valid_item(&i2->key, val2, 168, 2);
	assert_valid_item(&i1->key, val1, 160, 2);
	assert_valid_item(&i1->key, val1, 160, 1);
	/* a 168-byte inode on a v1 volume, and other lengths anywhere */
	assert_invalid_item(&i2->key, val2, 168, 1, "length 168");
	assert_invalid_item(&i2->key, val2, 164, 2, "length 164");

	memcpy(&ino, val2, sizeof(ino));
	ino.flags = htole32(SCOUTFS_INO_FLAG_RETENTION);
	assert_valid_item(&i2->key, &ino, 168, 2);
	assert_invalid_item(&i2->key, &ino, 160, 1, "flags");
	ino.flags = 0;
	ino.mode = htole32(0755);
	assert_invalid_item(&i2->key, &ino, 168, 2, "mode");
	ino.mode = htole32(040755);
	ino.mtime.nsec = htole32(1000000000);
	assert_invalid_item(&i2->key, &ino, 168, 2, "mtime");
	free(v1);
	free(v2);
}

static void test_validate_dirent(void **state)
{
	/* a dirent value: the 32 byte header, then the name */
	union {
		struct scoutfs_dirent d;
		unsigned char bytes[40];
	} v;
	char *vname = (char *)v.bytes + sizeof(struct scoutfs_dirent);
	uint64_t hash = sfs_dirent_name_hash("hello", 5);
	struct scoutfs_key key = sfs_key_make(SCOUTFS_FS_ZONE, 1, SCOUTFS_DIRENT_TYPE, hash, 2, 0);
	struct scoutfs_key rkey = sfs_key_make(SCOUTFS_FS_ZONE, 1, SCOUTFS_READDIR_TYPE, 2, 0, 0);
	struct scoutfs_key bkey = sfs_key_make(SCOUTFS_FS_ZONE, 1025, SCOUTFS_LINK_BACKREF_TYPE, 1,
					       2, 0);
	struct memout m;
	char *got;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.d.ino = htole64(1025);
	v.d.hash = htole64(hash);
	v.d.pos = htole64(2);
	v.d.type = SCOUTFS_DT_REG;
	memcpy(vname, "hello", 5);
	assert_valid_item(&key, &v, 37, 2);
	assert_valid_item(&rkey, &v, 37, 2);
	assert_valid_item(&bkey, &v, 37, 2);

	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &bkey, 9, 0, &v, 37, 2);
	got = mem_close(&m);
	assert_text(got, "    16.1025.20.1.2.0 9 -\n"
			 "    dirent: dir 1025 hash 68656c6c4f9f2cab pos 2 type 4 ino 1025\n"
			 "      name hello\n");
	free(got);

	/* name_len 0 */
	assert_invalid_item(&key, &v, 32, 2, "name must be");
	/* the name does not hash to the stored hash */
	vname[0] = 'j';
	assert_invalid_item(&key, &v, 37, 2, "hash");
	vname[0] = 'h';
	v.d.pos = htole64(1);
	assert_invalid_item(&rkey, &v, 37, 2, "pos");
	v.d.pos = htole64(2);
	v.d.type = 9;
	assert_invalid_item(&key, &v, 37, 2, "type");
}

static void test_validate_extent(void **state)
{
	struct scoutfs_data_extent_val dv = { htole64(1000), 0, { 0 } };
	struct scoutfs_key key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_DATA_EXTENT_TYPE, 19, 10,
					      0);
	struct memout m;
	char *got;

	(void)state;
	assert_valid_item(&key, &dv, sizeof(dv), 2);
	sfs_text_item(mem_open(&m), SFS_TEXT_TREE_FS, &key, 2, 0, &dv, sizeof(dv), 2);
	got = mem_close(&m);
	assert_text(got, "    16.5.28.19.10.0 2 -\n"
			 "    extent: ino 5 iblock 10 len 10 blkno 1000 flags 0\n");
	free(got);

	dv.flags = 0x4;
	assert_invalid_item(&key, &dv, sizeof(dv), 2, "flags");
	dv.flags = SCOUTFS_SEF_UNWRITTEN;
	assert_valid_item(&key, &dv, sizeof(dv), 2);
	dv.blkno = 0;
	dv.flags = SCOUTFS_SEF_OFFLINE;
	assert_valid_item(&key, &dv, sizeof(dv), 2);
	dv.flags = 0;
	assert_invalid_item(&key, &dv, sizeof(dv), 2, "offline");
	dv.blkno = htole64(1000);
	assert_invalid_item(&key, &dv, 15, 2, "length 15");
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_DATA_EXTENT_TYPE, 5, 10, 0);
	assert_invalid_item(&key, &dv, sizeof(dv), 2, "end 5 len 10");
}

static void test_validate_xattr_symlink_quota(void **state)
{
	unsigned char val[896];
	struct scoutfs_xattr *xat = (struct scoutfs_xattr *)val;
	struct scoutfs_quota_rule_val rv;
	struct scoutfs_key key;

	(void)state;
	memset(val, 0, sizeof(val));
	xat->name_len = 9;
	xat->val_len = htole16(3);
	memcpy(val + 8, "user.testabc", 12);
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_XATTR_TYPE, 0xf21778d1, 0, 0);
	assert_valid_item(&key, val, 20, 2);
	assert_invalid_item(&key, val, 19, 2, "length 19");
	key._sk_second = htole64(0x1234);
	assert_invalid_item(&key, val, 20, 2, "hash");
	xat->name_len = 0;
	assert_invalid_item(&key, val, 20, 2, "name_len 0");
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_XATTR_TYPE, 0xf21778d1, 0, 3);
	assert_valid_item(&key, val, 100, 2);
	assert_invalid_item(&key, val, 0, 2, "part 3");

	memcpy(val, "/target", 8);
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_SYMLINK_TYPE, 0, 0, 0);
	assert_valid_item(&key, val, 8, 2);
	assert_invalid_item(&key, val, 7, 2, "NUL");
	key = sfs_key_make(SCOUTFS_FS_ZONE, 5, SCOUTFS_SYMLINK_TYPE, 4, 0, 0);
	assert_invalid_item(&key, val, 600, 2, "length 600");

	memset(&rv, 0, sizeof(rv));
	rv.op = SCOUTFS_QUOTA_OP_DATA;
	rv.limit = htole64(100);
	rv.name_source[0] = SCOUTFS_QUOTA_SOURCE_UID;
	rv.name_flags[0] = SCOUTFS_QUOTA_FLAG_SELECT;
	key = sfs_key_make(SCOUTFS_QUOTA_ZONE, 0, SCOUTFS_QUOTA_RULE_TYPE,
			   sfs_fnv1a64(&rv, sizeof(rv)), 0, 0);
	assert_valid_item(&key, &rv, sizeof(rv), 2);
	assert_invalid_item(&key, &rv, sizeof(rv), 1, "format version 1");
	rv.rule_flags = 0x2;
	assert_invalid_item(&key, &rv, sizeof(rv), 2, "flags");
}

static void test_validate_other_zones(void **state)
{
	struct scoutfs_btree_block *bt = load_vector("v2/meta-data_alloc-btree.bin", 65536);
	struct scoutfs_key key;

	(void)state;
	assert_valid_item(&bt->items[0].key, NULL, 0, 2);
	assert_valid_item(&bt->items[1].key, NULL, 0, 2);
	key = bt->items[1].key;
	key._sk_first = htole64(UINT64_MAX - 5);
	assert_invalid_item(&key, NULL, 0, 2, "order");
	assert_invalid_item(&bt->items[0].key, "x", 1, 2, "length 1");

	key = sfs_key_make(SCOUTFS_LOCK_ZONE, 0, SCOUTFS_RENAME_TYPE, 0, 0, 0);
	assert_invalid_item(&key, NULL, 0, 2, "never stored");
	key = sfs_key_make(200, 0, 0, 0, 0, 0);
	assert_invalid_item(&key, NULL, 0, 2, "never stored");
	key = sfs_key_make(SCOUTFS_ORPHAN_ZONE, 0, SCOUTFS_ORPHAN_TYPE, 1025, 0, 0);
	assert_valid_item(&key, NULL, 0, 2);
	key.__pad[0] = 1;
	assert_invalid_item(&key, NULL, 0, 2, "padding");
	key = sfs_xattr_indx_key(1, 2, 3, 4);
	assert_valid_item(&key, NULL, 0, 2);
	assert_invalid_item(&key, NULL, 0, 1, "format version 1");
	free(bt);
}

/* the daemon's log form: the same text in a buffer, truncated to fit */
static void test_item_buf(void **state)
{
	struct scoutfs_key key = sfs_key_make(SCOUTFS_ORPHAN_ZONE, 0, SCOUTFS_ORPHAN_TYPE, 1025,
					      0, 0);
	const char *want = "    8.0.4.1025.0.0 3 -\n    orphan: ino 1025\n";
	char buf[64], small[10];
	size_t len;

	(void)state;
	assert_int_equal(sfs_text_tree_of_zone(key.sk_zone), SFS_TEXT_TREE_FS);
	len = sfs_text_item_buf(buf, sizeof(buf), SFS_TEXT_TREE_FS, &key, 3, 0, NULL, 0, 2);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
	len = sfs_text_item_buf(small, sizeof(small), SFS_TEXT_TREE_FS, &key, 3, 0, NULL, 0, 2);
	assert_int_equal(len, strlen(want));
	assert_string_equal(small, "    8.0.4");
	assert_int_equal(sfs_text_tree_of_zone(SCOUTFS_LOCK_ZONE), SFS_TEXT_TREE_NR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fs_root_leaf_v2),
		cmocka_unit_test(test_fs_root_leaf_v1),
		cmocka_unit_test(test_alloc_leaves),
		cmocka_unit_test(test_super_quorum_list),
		cmocka_unit_test(test_block_hdr),
		cmocka_unit_test(test_short_and_unknown_values),
		cmocka_unit_test(test_fixed_reference_bugs),
		cmocka_unit_test(test_item_hash_wrap),
		cmocka_unit_test(test_alloc_list_runs_wrap),
		cmocka_unit_test(test_quorum_slots_and_addrs),
		cmocka_unit_test(test_srch_block_text),
		cmocka_unit_test(test_log_trees_text),
		cmocka_unit_test(test_validate_inode),
		cmocka_unit_test(test_validate_dirent),
		cmocka_unit_test(test_validate_extent),
		cmocka_unit_test(test_validate_xattr_symlink_quota),
		cmocka_unit_test(test_validate_other_zones),
		cmocka_unit_test(test_item_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
