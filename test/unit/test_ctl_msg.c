// SPDX-License-Identifier: GPL-2.0
/*
 * The control message codec (lib/ctl_msg.c): every put helper's field
 * reads back through sfs_ctl_parse and the get helpers; the parser
 * rejects each kind of malformed message (short header, bad magic, a
 * length that lies, a truncated field header, a field overrunning the
 * message, a duplicate tag, an unknown tag with the REQUIRED bit) and
 * ignores an unknown tag without it; sfs_ctl_get_str refuses embedded
 * NULs and values too long for the buffer; a put that does not fit marks
 * the message invalid; messages and fds survive a socketpair.
 *
 * Malformed messages are parsed from heap copies of exactly their length,
 * so a sanitizer build catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "ctl_msg.h"

#define HDR_LEN sizeof(struct scoutfs_ctl_hdr)
#define FLD_LEN sizeof(struct scoutfs_ctl_field)

/* ---- helpers ---------------------------------------------------------- */

static struct sfs_ctl_in *in_alloc(void)
{
	struct sfs_ctl_in *in = calloc(1, sizeof(*in));

	assert_non_null(in);
	return in;
}

/* a raw message being written by hand: header then fields */
struct raw {
	uint64_t words[512];	/* 8-byte aligned */
	size_t len;
};

static void raw_init(struct raw *r, uint16_t type, uint16_t flags, uint64_t id)
{
	struct scoutfs_ctl_hdr *h = (struct scoutfs_ctl_hdr *)r->words;

	memset(r, 0, sizeof(*r));
	h->magic = SCOUTFS_CTL_MAGIC;
	h->type = type;
	h->flags = flags;
	h->id = id;
	r->len = HDR_LEN;
	h->len = (uint32_t)r->len;
}

static struct scoutfs_ctl_hdr *raw_hdr(struct raw *r)
{
	return (struct scoutfs_ctl_hdr *)r->words;
}

/* a field header claiming len bytes, then have bytes of value (padded to 8) */
static void raw_field(struct raw *r, uint16_t tag, uint32_t len, const void *val, size_t have)
{
	uint8_t *b = (uint8_t *)r->words;
	struct scoutfs_ctl_field f = { .tag = tag, .len = len };

	assert_true(r->len + FLD_LEN + ((have + 7) & ~(size_t)7) <= sizeof(r->words));
	memcpy(b + r->len, &f, sizeof(f));
	r->len += FLD_LEN;
	if (have)
		memcpy(b + r->len, val, have);
	r->len += (have + 7) & ~(size_t)7;
	raw_hdr(r)->len = (uint32_t)r->len;
}

static void raw_u64(struct raw *r, uint16_t tag, uint64_t v)
{
	raw_field(r, tag, 8, &v, 8);
}

/* parse len bytes of r from a heap copy of exactly that size */
static int parse_exact(const void *buf, size_t len, struct sfs_ctl_in *in, char *why,
		       size_t why_len)
{
	void *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	why[0] = '\0';
	ret = sfs_ctl_parse(copy, len, in, why, why_len);
	free(copy);
	return ret;
}

/* r must be refused with EPROTO and a reason */
static void assert_rejected(const void *buf, size_t len, const char *why_has)
{
	struct sfs_ctl_in *in = in_alloc();
	char why[128];

	assert_int_equal(parse_exact(buf, len, in, why, sizeof(why)), -EPROTO);
	assert_true(why[0] != '\0');
	if (why_has && !strstr(why, why_has))
		fail_msg("reason '%s' does not mention '%s'", why, why_has);
	free(in);
}

/* ---- round trips -------------------------------------------------------- */

static void test_field_bytes_and_header(void **state)
{
	struct sfs_ctl_out out;
	const struct scoutfs_ctl_hdr *h;

	(void)state;
	assert_int_equal(sfs_ctl_field_bytes(0), 8);
	assert_int_equal(sfs_ctl_field_bytes(1), 16);
	assert_int_equal(sfs_ctl_field_bytes(8), 16);
	assert_int_equal(sfs_ctl_field_bytes(9), 24);
	assert_int_equal(sfs_ctl_field_bytes(72), 80);

	assert_int_equal(sfs_ctl_out_init(&out, SCOUTFS_CTL_STAT_MORE, 0, 77), 0);
	assert_true(((uintptr_t)out.buf & 7) == 0);
	h = (const struct scoutfs_ctl_hdr *)out.buf;
	assert_int_equal(h->magic, SCOUTFS_CTL_MAGIC);
	assert_int_equal(h->len, HDR_LEN);
	assert_int_equal(out.len, HDR_LEN);
	assert_int_equal(h->type, SCOUTFS_CTL_STAT_MORE);
	assert_int_equal(h->flags, 0);
	assert_int_equal(h->status, 0);
	assert_int_equal(h->id, 77);
	assert_false(out.overflow);
	assert_int_equal(out.nr_fds, 0);
	assert_int_equal(sfs_ctl_out_room(&out), SCOUTFS_CTL_MAX_MSG - HDR_LEN - FLD_LEN);

	/* a reset after fields and an overflow starts a clean reply */
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_INO, 5);
	out.overflow = true;
	out.nr_fds = 1;
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_HELLO, SCOUTFS_CTL_F_REPLY, 9, EPERM);
	assert_int_equal(h->len, HDR_LEN);
	assert_int_equal(out.len, HDR_LEN);
	assert_int_equal(h->type, SCOUTFS_CTL_HELLO);
	assert_int_equal(h->flags, SCOUTFS_CTL_F_REPLY);
	assert_int_equal(h->status, EPERM);
	assert_int_equal(h->id, 9);
	assert_false(out.overflow);
	assert_int_equal(out.nr_fds, 0);
	sfs_ctl_out_free(&out);
	assert_null(out.buf);
}

static void test_put_get_round_trip(void **state)
{
	static const uint8_t blob[19] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					  11, 12, 13, 14, 15, 16, 17, 18, 19 };
	struct scoutfs_ctl_stat_more stm = { .meta_seq = 1, .data_seq = 2, .data_version = 3,
					     .online_blocks = 4, .offline_blocks = 5,
					     .crtime = { .sec = 6, .nsec = 7 } };
	struct sfs_ctl_in *in = in_alloc();
	struct sfs_ctl_out out;
	const struct scoutfs_ctl_field *f;
	const uint8_t *v;
	uint8_t *space;
	uint64_t u, idx;
	uint32_t len;
	char str[64], why[128];
	size_t off, expect;
	int i;

	(void)state;
	assert_int_equal(sfs_ctl_out_init(&out, SCOUTFS_CTL_WALK_INODES, 0, 1234), 0);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_INO, 0x0123456789abcdefULL);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_FIRST_MAJOR, 0);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_LAST_MAJOR, UINT64_MAX);
	sfs_ctl_put_str(&out, SCOUTFS_CTL_T_NAME, "hello");
	sfs_ctl_put_str(&out, SCOUTFS_CTL_T_PATH, "");
	sfs_ctl_put(&out, SCOUTFS_CTL_T_RECORDS, blob, sizeof(blob));
	sfs_ctl_put(&out, SCOUTFS_CTL_T_STAT_MORE, &stm, sizeof(stm));
	sfs_ctl_put(&out, SCOUTFS_CTL_T_ATTR_X, NULL, 0);
	space = sfs_ctl_put_space(&out, SCOUTFS_CTL_T_MOUNT_POINT, 3);
	assert_non_null(space);
	memcpy(space, "/mn", 3);
	assert_int_equal(sfs_ctl_put_fd(&out, 10, &idx), 0);
	assert_int_equal(idx, 0);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_FD, idx);
	assert_int_equal(sfs_ctl_put_fd(&out, 11, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(sfs_ctl_put_fd(&out, 12, &idx), -EMFILE);
	assert_int_equal(out.nr_fds, 2);
	assert_int_equal(out.fds[0], 10);
	assert_int_equal(out.fds[1], 11);
	assert_false(out.overflow);

	/* the layout: each field 8-aligned, padding zeroed, header len right */
	expect = HDR_LEN + 3 * sfs_ctl_field_bytes(8) + sfs_ctl_field_bytes(5) +
		 sfs_ctl_field_bytes(0) + sfs_ctl_field_bytes(sizeof(blob)) +
		 sfs_ctl_field_bytes(sizeof(stm)) + sfs_ctl_field_bytes(0) +
		 sfs_ctl_field_bytes(3) + sfs_ctl_field_bytes(8);
	assert_int_equal(out.len, expect);
	assert_int_equal(((struct scoutfs_ctl_hdr *)out.buf)->len, expect);
	for (off = HDR_LEN; off < out.len; off += sfs_ctl_field_bytes(f->len)) {
		assert_true((off & 7) == 0);
		f = (const struct scoutfs_ctl_field *)(out.buf + off);
		assert_int_equal(f->_pad, 0);
		for (i = (int)f->len; i < (int)((f->len + 7) & ~7U); i++)
			assert_int_equal(out.buf[off + FLD_LEN + (size_t)i], 0);
	}
	assert_int_equal(off, out.len);

	assert_int_equal(parse_exact(out.buf, out.len, in, why, sizeof(why)), 0);
	/* parse_exact freed its copy: parse the original to keep pointers valid */
	assert_int_equal(sfs_ctl_parse(out.buf, out.len, in, why, sizeof(why)), 0);
	assert_ptr_equal(in->hdr, out.buf);
	assert_int_equal(in->hdr->id, 1234);

	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_INO, &u), 0);
	assert_true(u == 0x0123456789abcdefULL);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_FIRST_MAJOR, &u), 0);
	assert_true(u == 0);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_LAST_MAJOR, &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_FD, &u), 0);
	assert_true(u == 0);
	/* absent, and defaults */
	assert_false(sfs_ctl_has(in, SCOUTFS_CTL_T_DIR_POS));
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_DIR_POS, &u), -ENOENT);
	assert_int_equal(sfs_ctl_get_u64_def(in, SCOUTFS_CTL_T_DIR_POS, 42, &u), 0);
	assert_true(u == 42);
	assert_int_equal(sfs_ctl_get_u64_def(in, SCOUTFS_CTL_T_INO, 42, &u), 0);
	assert_true(u == 0x0123456789abcdefULL);
	assert_null(sfs_ctl_get(in, SCOUTFS_CTL_T_DIR_POS, &len));
	assert_false(sfs_ctl_has(in, SFS_CTL_NR_TAGS));
	assert_false(sfs_ctl_has(in, 0xffff));
	/* a value that is not 8 bytes is not a u64 */
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_NAME, &u), -EPROTO);
	assert_int_equal(sfs_ctl_get_u64_def(in, SCOUTFS_CTL_T_NAME, 1, &u), -EPROTO);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_STAT_MORE, &u), -EPROTO);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_ATTR_X, &u), -EPROTO);

	/* strings */
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_NAME, str, sizeof(str)), 0);
	assert_string_equal(str, "hello");
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_PATH, str, sizeof(str)), 0);
	assert_string_equal(str, "");
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_MOUNT_POINT, str, sizeof(str)), 0);
	assert_string_equal(str, "/mn");
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_DAEMON_VERSION, str, sizeof(str)),
			 -ENOENT);

	/* blobs and structs */
	v = sfs_ctl_get(in, SCOUTFS_CTL_T_RECORDS, &len);
	assert_non_null(v);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(v, blob, sizeof(blob));
	assert_true(((uintptr_t)v & 7) == 0);
	v = sfs_ctl_get(in, SCOUTFS_CTL_T_STAT_MORE, &len);
	assert_non_null(v);
	assert_int_equal(len, sizeof(stm));
	assert_memory_equal(v, &stm, sizeof(stm));
	v = sfs_ctl_get(in, SCOUTFS_CTL_T_ATTR_X, &len);
	assert_non_null(v);
	assert_int_equal(len, 0);
	assert_true(sfs_ctl_has(in, SCOUTFS_CTL_T_ATTR_X));

	sfs_ctl_out_free(&out);
	free(in);
}

/* a header alone, a request of no fields, parses */
static void test_parse_header_only(void **state)
{
	struct sfs_ctl_in *in = in_alloc();
	struct raw r;
	char why[128];
	int t;

	(void)state;
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 3);
	assert_int_equal(parse_exact(r.words, r.len, in, why, sizeof(why)), 0);
	for (t = 0; t < SFS_CTL_NR_TAGS; t++)
		assert_false(sfs_ctl_has(in, (uint16_t)t));
	free(in);
}

/* ---- rejections --------------------------------------------------------- */

static void test_parse_short_header(void **state)
{
	struct sfs_ctl_in *in = in_alloc();
	struct raw r;
	char why[128];
	size_t l;

	(void)state;
	raw_init(&r, SCOUTFS_CTL_HELLO, 0, 1);
	for (l = 0; l < HDR_LEN; l++) {
		raw_hdr(&r)->len = (uint32_t)l;
		assert_int_equal(parse_exact(r.words, l, in, why, sizeof(why)), -EPROTO);
		assert_null(in->hdr);
	}
	assert_rejected(r.words, 0, "shorter than the header");
	free(in);
}

static void test_parse_bad_magic(void **state)
{
	struct sfs_ctl_in *in = in_alloc();
	struct raw r;
	char why[128];

	(void)state;
	raw_init(&r, SCOUTFS_CTL_HELLO, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_VERSION, 1);
	raw_hdr(&r)->magic = 0x4c544354;
	assert_rejected(r.words, r.len, "magic");
	raw_hdr(&r)->magic = __builtin_bswap32(SCOUTFS_CTL_MAGIC);	/* the other byte order */
	assert_rejected(r.words, r.len, "magic");
	raw_hdr(&r)->magic = 0;
	assert_int_equal(parse_exact(r.words, r.len, in, why, sizeof(why)), -EPROTO);
	assert_null(in->hdr);
	free(in);
}

static void test_parse_length_mismatch(void **state)
{
	struct raw r;

	(void)state;
	raw_init(&r, SCOUTFS_CTL_HELLO, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_VERSION, 1);
	/* header says more than arrived */
	raw_hdr(&r)->len = (uint32_t)r.len + 8;
	assert_rejected(r.words, r.len, "arrived");
	raw_hdr(&r)->len = UINT32_MAX;
	assert_rejected(r.words, r.len, "arrived");
	/* header says less than arrived */
	raw_hdr(&r)->len = (uint32_t)r.len - 8;
	assert_rejected(r.words, r.len, "arrived");
	raw_hdr(&r)->len = 0;
	assert_rejected(r.words, r.len, "arrived");
	/* a bare header that says it has a field */
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
	raw_hdr(&r)->len = HDR_LEN + 16;
	assert_rejected(r.words, HDR_LEN, "arrived");
}

static void test_parse_truncated_field_header(void **state)
{
	struct raw r;
	size_t extra;

	(void)state;
	/* 1 to 7 bytes after the header, or after a whole field */
	for (extra = 1; extra < FLD_LEN; extra++) {
		raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
		r.len += extra;
		raw_hdr(&r)->len = (uint32_t)r.len;
		assert_rejected(r.words, r.len, "truncated field header");

		raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
		raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
		r.len += extra;
		raw_hdr(&r)->len = (uint32_t)r.len;
		assert_rejected(r.words, r.len, "truncated field header");
	}
}

static void test_parse_field_overrun(void **state)
{
	uint8_t v[16] = { 0 };
	struct raw r;

	(void)state;
	/* a value longer than what follows */
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_INO, 16, v, 8);
	assert_rejected(r.words, r.len, "overrun");
	/* the largest length (an overflow of off + len must not pass) */
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_INO, UINT32_MAX, v, 8);
	assert_rejected(r.words, r.len, "overrun");
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_INO, UINT32_MAX - 7, v, 8);
	assert_rejected(r.words, r.len, "overrun");
	/* the value fits but its padding does not: the message ends unaligned */
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_NAME, 3, "abc", 3);
	r.len -= 5;
	raw_hdr(&r)->len = (uint32_t)r.len;
	assert_rejected(r.words, r.len, "overrun");
	/* an overrunning field after a good one */
	raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
	raw_field(&r, SCOUTFS_CTL_T_PATH, 9, v, 8);
	assert_rejected(r.words, r.len, "overrun");
}

static void test_parse_duplicate(void **state)
{
	struct raw r;

	(void)state;
	raw_init(&r, SCOUTFS_CTL_STAT_MORE, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO, 2);
	assert_rejected(r.words, r.len, "twice");
	/* the REQUIRED bit does not make another tag */
	raw_init(&r, SCOUTFS_CTL_STAT_MORE, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO | SCOUTFS_CTL_TAG_REQUIRED, 2);
	assert_rejected(r.words, r.len, "twice");
	/* apart, with another field between them */
	raw_init(&r, SCOUTFS_CTL_STAT_MORE, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_NAME, 1, "a", 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
	raw_field(&r, SCOUTFS_CTL_T_NAME, 0, NULL, 0);
	assert_rejected(r.words, r.len, "twice");
}

static void test_parse_unknown_tags(void **state)
{
	/*
	 * Tags no enum value names (0 never will; the others are the far ends
	 * of the u64, string and struct ranges, and past the parser's table).
	 * Should ctl.h ever assign one, pick another here.
	 */
	static const uint16_t unknown[] = { 0, 120, 127, 190, 191, 250, 255, 256, 0x1234, 0x7fff };
	struct sfs_ctl_in *in = in_alloc();
	struct raw r;
	char why[128];
	uint64_t u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		/* with REQUIRED: refused */
		raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
		raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
		raw_u64(&r, unknown[i] | SCOUTFS_CTL_TAG_REQUIRED, 2);
		if (parse_exact(r.words, r.len, in, why, sizeof(why)) != -EPROTO)
			fail_msg("unknown required tag %u was accepted", unknown[i]);
		assert_non_null(strstr(why, "unknown required"));

		/* without: ignored, the rest of the message read */
		raw_init(&r, SCOUTFS_CTL_STATFS_MORE, 0, 1);
		raw_u64(&r, unknown[i], 2);
		raw_u64(&r, unknown[i], 3);	/* ignored twice is not a duplicate */
		raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
		raw_field(&r, unknown[i], 5, "abcde", 5);
		if (sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)) != 0)
			fail_msg("unknown optional tag %u was refused: %s", unknown[i], why);
		if (unknown[i] < SFS_CTL_NR_TAGS)
			assert_false(sfs_ctl_has(in, unknown[i]));
		assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_INO, &u), 0);
		assert_true(u == 1);
	}

	/* a known tag with the REQUIRED bit is the known tag */
	raw_init(&r, SCOUTFS_CTL_STAT_MORE, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO | SCOUTFS_CTL_TAG_REQUIRED, 7);
	raw_u64(&r, SCOUTFS_CTL_T_UID | SCOUTFS_CTL_TAG_REQUIRED, 8);
	raw_u64(&r, SCOUTFS_CTL_T_ATTR_X | SCOUTFS_CTL_TAG_REQUIRED, 9);
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), 0);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_INO, &u), 0);
	assert_true(u == 7);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_UID, &u), 0);
	assert_true(u == 8);
	assert_true(sfs_ctl_has(in, SCOUTFS_CTL_T_ATTR_X));
	free(in);
}

/* a failed parse leaves nothing of an earlier one behind */
static void test_parse_resets(void **state)
{
	struct sfs_ctl_in *in = in_alloc();
	struct raw r;
	char why[128];

	(void)state;
	raw_init(&r, SCOUTFS_CTL_STAT_MORE, 0, 1);
	raw_u64(&r, SCOUTFS_CTL_T_INO, 1);
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), 0);
	assert_true(sfs_ctl_has(in, SCOUTFS_CTL_T_INO));
	raw_hdr(&r)->magic = 0;
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), -EPROTO);
	assert_false(sfs_ctl_has(in, SCOUTFS_CTL_T_INO));
	assert_null(in->hdr);
	free(in);
}

/* ---- strings -------------------------------------------------------------- */

static void test_get_str(void **state)
{
	struct sfs_ctl_in *in = in_alloc();
	char buf[8], why[128];
	struct raw r;

	(void)state;
	raw_init(&r, SCOUTFS_CTL_INO_PATH, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_PATH, 7, "abcdefg", 7);
	raw_field(&r, SCOUTFS_CTL_T_NAME, 8, "abcdefgh", 8);
	raw_field(&r, SCOUTFS_CTL_T_MOUNT_POINT, 3, "a\0b", 3);
	raw_field(&r, SCOUTFS_CTL_T_DAEMON_VERSION, 1, "", 1);
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), 0);

	/* exactly fits with its NUL */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_PATH, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abcdefg");
	/* one too long, and much too long */
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_NAME, buf, sizeof(buf)),
			 -ENAMETOOLONG);
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_PATH, buf, 7), -ENAMETOOLONG);
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_PATH, buf, 1), -ENAMETOOLONG);
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_PATH, buf, 0), -ENAMETOOLONG);
	/* embedded NULs, a lone NUL */
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_MOUNT_POINT, buf, sizeof(buf)),
			 -EPROTO);
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_DAEMON_VERSION, buf, sizeof(buf)),
			 -EPROTO);
	/* empty */
	raw_init(&r, SCOUTFS_CTL_INO_PATH, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_PATH, 0, NULL, 0);
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_PATH, buf, 1), 0);
	assert_string_equal(buf, "");
	/* a u64 tag must carry 8 bytes: the parser refuses anything else */
	raw_init(&r, SCOUTFS_CTL_INO_PATH, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_MAX_RECORDS, 4, "abcd", 4);
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), -EPROTO);
	raw_init(&r, SCOUTFS_CTL_INO_PATH, 0, 1);
	raw_field(&r, SCOUTFS_CTL_T_DEV, 0, NULL, 0);
	assert_int_equal(sfs_ctl_parse(r.words, r.len, in, why, sizeof(why)), -EPROTO);
	/* absent */
	assert_int_equal(sfs_ctl_get_str(in, SCOUTFS_CTL_T_RID, buf, sizeof(buf)), -ENOENT);
	free(in);
}

/* ---- overflow ------------------------------------------------------------- */

static void test_put_overflow(void **state)
{
	struct sfs_ctl_out out;
	struct sfs_ctl_in *in = in_alloc();
	const struct scoutfs_ctl_hdr *h;
	size_t room, before;
	char why[128];
	void *p;
	int sv[2];

	(void)state;
	assert_int_equal(sfs_ctl_out_init(&out, SCOUTFS_CTL_COUNTERS, SCOUTFS_CTL_F_REPLY, 1), 0);
	h = (const struct scoutfs_ctl_hdr *)out.buf;

	/* a field of exactly the room left fills the message to the byte */
	room = sfs_ctl_out_room(&out);
	p = sfs_ctl_put_space(&out, SCOUTFS_CTL_T_RECORDS, room);
	assert_non_null(p);
	memset(p, 0xaa, room);
	assert_int_equal(out.len, SCOUTFS_CTL_MAX_MSG);
	assert_int_equal(h->len, SCOUTFS_CTL_MAX_MSG);
	assert_false(out.overflow);
	assert_int_equal(sfs_ctl_out_room(&out), 0);
	assert_int_equal(sfs_ctl_parse(out.buf, out.len, in, why, sizeof(why)), 0);

	/* then even an empty field does not fit */
	sfs_ctl_put(&out, SCOUTFS_CTL_T_END, NULL, 0);
	assert_true(out.overflow);
	assert_int_equal(out.len, SCOUTFS_CTL_MAX_MSG);
	assert_int_equal(h->len, SCOUTFS_CTL_MAX_MSG);

	/* one byte more than the room overflows; later puts that fit fail too */
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_COUNTERS, SCOUTFS_CTL_F_REPLY, 2, 0);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_INO, 1);
	room = sfs_ctl_out_room(&out);
	before = out.len;
	assert_null(sfs_ctl_put_space(&out, SCOUTFS_CTL_T_RECORDS, room + 1));
	assert_true(out.overflow);
	assert_int_equal(out.len, before);
	assert_int_equal(h->len, before);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_END, 1);
	sfs_ctl_put_str(&out, SCOUTFS_CTL_T_NAME, "x");
	assert_null(sfs_ctl_put_space(&out, SCOUTFS_CTL_T_RECORDS, 0));
	assert_int_equal(out.len, before);
	assert_true(out.overflow);

	/* an invalid message is never sent */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sfs_ctl_send(sv[0], &out), -EMSGSIZE);

	/* values too long for a field's u32 length */
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_COUNTERS, SCOUTFS_CTL_F_REPLY, 3, 0);
	assert_null(sfs_ctl_put_space(&out, SCOUTFS_CTL_T_RECORDS, (size_t)UINT32_MAX + 1));
	assert_true(out.overflow);
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_COUNTERS, SCOUTFS_CTL_F_REPLY, 3, 0);
	assert_null(sfs_ctl_put_space(&out, SCOUTFS_CTL_T_RECORDS, SCOUTFS_CTL_MAX_MSG));
	assert_true(out.overflow);

	/* many small puts reach the end without writing past it */
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_COUNTERS, SCOUTFS_CTL_F_REPLY, 4, 0);
	while (!out.overflow)
		sfs_ctl_put_str(&out, SCOUTFS_CTL_T_NAME, "0123456789");
	assert_true(out.len <= SCOUTFS_CTL_MAX_MSG);
	assert_int_equal(h->len, out.len);

	/* a reset makes it valid again */
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_COUNTERS, SCOUTFS_CTL_F_REPLY, 5, 0);
	assert_false(out.overflow);
	assert_int_equal(sfs_ctl_send(sv[0], &out), 0);

	close(sv[0]);
	close(sv[1]);
	sfs_ctl_out_free(&out);
	free(in);
}

/* ---- send and recv ---------------------------------------------------------- */

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* how many fds this process has open */
static int nr_open_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* opendir's own */
}

static void test_send_recv(void **state)
{
	struct sfs_ctl_in *in = in_alloc();
	struct sfs_ctl_out out;
	struct stat a, b;
	uint64_t idx, u;
	void *buf = NULL;
	char why[128];
	int fds[SFS_CTL_MAX_FDS], nr_fds;
	int sv[2], nul, extra[4], i, nr;
	ssize_t n;

	(void)state;
	assert_int_equal(posix_memalign(&buf, 8, SCOUTFS_CTL_MAX_MSG), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sfs_ctl_out_init(&out, SCOUTFS_CTL_STAT_MORE, 0, 99), 0);

	/* a message with an fd */
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(nul >= 0);
	assert_int_equal(sfs_ctl_put_fd(&out, nul, &idx), 0);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_FD, idx);
	assert_int_equal(sfs_ctl_send(sv[0], &out), 0);
	n = sfs_ctl_recv(sv[1], buf, fds, &nr_fds);
	assert_int_equal(n, out.len);
	assert_int_equal(nr_fds, 1);
	assert_true(fds[0] >= 0 && fds[0] != nul);
	assert_int_equal(fds[1], -1);
	assert_int_equal(fstat(fds[0], &a), 0);
	assert_int_equal(fstat(nul, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(sfs_ctl_parse(buf, (size_t)n, in, why, sizeof(why)), 0);
	assert_int_equal(sfs_ctl_get_u64(in, SCOUTFS_CTL_T_FD, &u), 0);
	assert_true(u == 0);
	sfs_ctl_close_fds(fds, &nr_fds);
	assert_int_equal(nr_fds, 0);
	assert_int_equal(fds[0], -1);

	/* more fds than SFS_CTL_MAX_FDS: the first ones kept, the rest closed */
	nr = nr_open_fds();
	{
		union {
			char b[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} cm;
		struct iovec iov = { .iov_base = out.buf, .iov_len = out.len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
				      .msg_controllen = sizeof(cm.b) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		for (i = 0; i < 4; i++)
			extra[i] = nul;
		memset(&cm, 0, sizeof(cm));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(extra));
		memcpy(CMSG_DATA(c), extra, sizeof(extra));
		assert_int_equal(sendmsg(sv[0], &msg, 0), (ssize_t)out.len);
	}
	n = sfs_ctl_recv(sv[1], buf, fds, &nr_fds);
	assert_int_equal(n, out.len);
	assert_int_equal(nr_fds, SFS_CTL_MAX_FDS);
	assert_true(fd_open(fds[0]) && fd_open(fds[1]));
	assert_int_equal(nr_open_fds(), nr + SFS_CTL_MAX_FDS);
	sfs_ctl_close_fds(fds, &nr_fds);
	assert_int_equal(nr_open_fds(), nr);

	/* no fds */
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_STATFS_MORE, 0, 100, 0);
	assert_int_equal(sfs_ctl_send(sv[0], &out), 0);
	n = sfs_ctl_recv(sv[1], buf, fds, &nr_fds);
	assert_int_equal(n, HDR_LEN);
	assert_int_equal(nr_fds, 0);

	/* a message longer than SCOUTFS_CTL_MAX_MSG is dropped whole, with its fds */
	{
		size_t big = SCOUTFS_CTL_MAX_MSG + 8;
		char *b = calloc(1, big);
		union {
			char c[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cm;
		struct iovec iov = { .iov_base = b, .iov_len = big };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.c,
				      .msg_controllen = sizeof(cm.c) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		assert_non_null(b);
		memset(&cm, 0, sizeof(cm));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &nul, sizeof(int));
		assert_int_equal(sendmsg(sv[0], &msg, 0), (ssize_t)big);
		free(b);
	}
	nr = nr_open_fds();
	n = sfs_ctl_recv(sv[1], buf, fds, &nr_fds);
	assert_int_equal(n, -EMSGSIZE);
	assert_int_equal(nr_fds, 0);
	assert_int_equal(nr_open_fds(), nr);
	/* the next message is whole */
	sfs_ctl_out_reset(&out, SCOUTFS_CTL_STATFS_MORE, 0, 101, 0);
	sfs_ctl_put_u64(&out, SCOUTFS_CTL_T_INO, 5);
	assert_int_equal(sfs_ctl_send(sv[0], &out), 0);
	n = sfs_ctl_recv(sv[1], buf, fds, &nr_fds);
	assert_int_equal(n, out.len);
	assert_int_equal(sfs_ctl_parse(buf, (size_t)n, in, why, sizeof(why)), 0);
	assert_int_equal(in->hdr->id, 101);

	/* the peer gone: 0, and sends fail */
	close(sv[0]);
	n = sfs_ctl_recv(sv[1], buf, fds, &nr_fds);
	assert_int_equal(n, 0);
	assert_true(sfs_ctl_send(sv[1], &out) < 0);

	close(nul);
	close(sv[1]);
	sfs_ctl_out_free(&out);
	free(buf);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_bytes_and_header),
		cmocka_unit_test(test_put_get_round_trip),
		cmocka_unit_test(test_parse_header_only),
		cmocka_unit_test(test_parse_short_header),
		cmocka_unit_test(test_parse_bad_magic),
		cmocka_unit_test(test_parse_length_mismatch),
		cmocka_unit_test(test_parse_truncated_field_header),
		cmocka_unit_test(test_parse_field_overrun),
		cmocka_unit_test(test_parse_duplicate),
		cmocka_unit_test(test_parse_unknown_tags),
		cmocka_unit_test(test_parse_resets),
		cmocka_unit_test(test_get_str),
		cmocka_unit_test(test_put_overflow),
		cmocka_unit_test(test_send_recv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
