// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes as items, POSIX ACLs kept in them, and the FUSE
 * xattr ops.
 *
 * Model.  An xattr of inode ino is one byte string
 *
 *     struct scoutfs_xattr {val_len, name_len, pad} | name | value
 *
 * cut into XATTR items of at most SCOUTFS_XATTR_MAX_PART_SIZE (896)
 * bytes, keyed (FS zone, ino, XATTR, crc32c(~0, name), id, part nr).
 * Part 0 always holds the header and the whole name (8 + 255 < 896); the
 * value runs on through parts 1..n-1.  The id is the inode's
 * next_xattr_id at the time of the set, so names sharing a hash, and a
 * name and its replacement, never share keys.
 *
 * Invariants:
 *  1. An xattr (hash, id) has parts 0..NR_PARTS(name_len, val_len)-1,
 *     every one full but the last: part 0 is min(8 + name_len + val_len,
 *     896) bytes.  Reads check this and answer -EIO (logged) otherwise.
 *  2. A name is stored once per inode: lookup scans every id under the
 *     name's hash comparing names (hash collisions), and a replacement
 *     writes its parts under a new id and deletes the old parts in the
 *     same transaction.
 *  3. What is stored passed the checks of parse_name (namespace, length,
 *     scoutfs tags), and system.posix_acl_* values are valid ACLs
 *     (acl_check, the kernel's posix_acl_valid).
 *  4. The indices follow the xattrs in the same transaction
 *     (update_indices): every scoutfs.totl.NAME.A.B.C xattr of value V
 *     contributes {V, 1} to the total of (A, B, C), as a delta item
 *     (zone 12) that adds it when the xattr appears and one that takes
 *     it away when it goes (replaced, removed, or its inode deleted);
 *     every scoutfs.indx.NAME.MAJOR.MINOR xattr of id X on inode I has
 *     the index item (zone 14) (MAJOR, MINOR, I, X), made with it and
 *     deleted with it.  A replacement takes a new id, so its index item
 *     is a new key.  totl values are checked when set; a stored one that
 *     does not parse (damage) is logged and contributes nothing.
 *
 * Tags (reference-scoutfs.md 5.6): hide. leaves a name out of listxattr
 * (sfs_xattr_list_hidden lists them); srch. logs a srch entry
 * (fnv1a64(name), ino, id) in the transaction when the xattr appears and
 * the identical entry when it goes (sfs_trans_srch_add; srch.c has the
 * files they are appended to); totl. and indx. as in invariant 4.
 * indx. needs format version 2: on a version 1 volume such a set is
 * -EOPNOTSUPP, the reference's answer for a feature the volume's format
 * lacks (the name itself is valid: -EINVAL is for malformed names).
 *
 * POSIX ACLs (mount option acl, FUSE_CAP_POSIX_ACL): the kernel checks
 * permissions against the ACLs it reads through getxattr, and leaves the
 * rest to us: an access ACL that says no more than the mode bits is not
 * kept, only its mode (posix_acl_update_mode, in sfs_xattr_op_set); a
 * chmod rewrites the access ACL (sfs_xattr_acl_chmod, posix_acl_chmod);
 * a new inode inherits its directory's default ACL or else loses the
 * umask (sfs_xattr_acl_create, posix_acl_create; the mount asks the
 * kernel not to apply the umask itself, FUSE_CAP_DONT_MASK).  Values are
 * the kernel's xattr form: le32 version 2, then {le16 tag, le16 perm,
 * le32 id} entries.
 *
 * Locking: the FUSE ops take the namespace lock shared, then the inode's
 * lock (sfs_fuse_ino_lock), then (changes) the transaction, as fs_int.h
 * orders them.  The items-level calls assume their caller serializes
 * changes to the inode; sfs_xattr_acl_create and sfs_xattr_delete_all run
 * under the exclusive namespace lock of fs.c's namespace changes.
 *
 * Failure: checks come before any item is written.  An item write that
 * fails after that (-ENOMEM, -EIO) leaves what was written dirty in the
 * transaction, as for every other multi-item change of fs.c; the caller
 * does not write the inode then.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "forest.h"
#include "fs_int.h"
#include "inode.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "srch.h"
#include "trans.h"
#include "xattr.h"

#define HDR_BYTES ((unsigned int)sizeof(struct scoutfs_xattr))
#define PART_MAX SCOUTFS_XATTR_MAX_PART_SIZE

/* ------------------------------------------------------------------ */
/* names                                                                */
/* ------------------------------------------------------------------ */

enum xname_kind {
	XN_USER,
	XN_TRUSTED,
	XN_SECURITY,
	XN_ACL_ACCESS,
	XN_ACL_DEFAULT,
	XN_SCOUTFS,
};

#define TAG_HIDE 0x1
#define TAG_SRCH 0x2
#define TAG_TOTL 0x4
#define TAG_INDX 0x8

#define SCOUTFS_PREFIX "scoutfs."
#define SCOUTFS_PREFIX_LEN (sizeof(SCOUTFS_PREFIX) - 1)
#define TAG_LEN 5
/* the longest u64 a totl name element or value may spell ("0" + 22 octal digits) */
#define TOTL_U64_MAX_LEN 23

struct xname {
	size_t len;
	enum xname_kind kind;
	unsigned int tags;	/* TAG_* of a scoutfs. name */
	uint64_t totl[3];	/* the .A.B.C of a totl. name */
	uint64_t indx_major;	/* the .MAJOR.MINOR of an indx. name */
	uint64_t indx_minor;
};

static bool has_prefix(const char *name, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && memcmp(name, prefix, plen) == 0;
}

/*
 * A u64 as the kernel's kstrtoull(base 0) reads it (0x hex, 0 octal,
 * else decimal), at most 23 characters, no sign: 0, -EINVAL or -ERANGE.
 */
static int parse_u64(const char *s, size_t len, uint64_t *res)
{
	unsigned int base = 10, d;
	uint64_t v = 0;
	size_t i = 0;

	if (len == 0 || len > TOTL_U64_MAX_LEN || s[0] == '+' || s[0] == '-')
		return -EINVAL;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (s[0] == '0') {
		base = 8;
	}
	for (; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned int)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned int)(s[i] - 'a') + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = (unsigned int)(s[i] - 'A') + 10;
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*res = v;
	return 0;
}

/* the last nr dot-separated elements of name as u64s, in name order */
static int parse_tail_u64s(const char *name, size_t len, uint64_t *vals, int nr)
{
	size_t end = len, i;
	int got = 0, ret;

	for (i = len; i-- > 0 && got < nr;) {
		if (name[i] != '.')
			continue;
		ret = parse_u64(name + i + 1, end - (i + 1), &vals[nr - 1 - got]);
		if (ret)
			return ret;
		end = i;
		got++;
	}
	return got == nr ? 0 : -EINVAL;
}

/*
 * The tags of a scoutfs. name: one or more of hide. srch. totl. indx.,
 * none repeated, then a non-empty rest; totl and indx exclude each
 * other and need their numeric name elements.
 */
static int parse_tags(const char *name, struct xname *xn)
{
	static const struct {
		const char *tag;
		unsigned int bit;
	} tags[] = {
		{ "hide.", TAG_HIDE },
		{ "srch.", TAG_SRCH },
		{ "totl.", TAG_TOTL },
		{ "indx.", TAG_INDX },
	};
	size_t off = SCOUTFS_PREFIX_LEN;
	uint64_t mm[2];
	unsigned int i;
	int ret;

	xn->tags = 0;
	for (;;) {
		for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			if (xn->len - off >= TAG_LEN &&
			    memcmp(name + off, tags[i].tag, TAG_LEN) == 0)
				break;
		if (i == sizeof(tags) / sizeof(tags[0]))
			break;
		if (xn->tags & tags[i].bit)
			return -EINVAL;
		xn->tags |= tags[i].bit;
		off += TAG_LEN;
	}
	if (xn->tags == 0 || off == xn->len)
		return -EINVAL;
	if ((xn->tags & TAG_TOTL) && (xn->tags & TAG_INDX))
		return -EINVAL;
	if (xn->tags & TAG_TOTL) {
		ret = parse_tail_u64s(name, xn->len, xn->totl, 3);
		if (ret)
			return ret;
	}
	if (xn->tags & TAG_INDX) {
		ret = parse_tail_u64s(name, xn->len, mm, 2);
		if (ret)
			return ret;
		if (mm[0] > UINT8_MAX)
			return -EINVAL;
		xn->indx_major = mm[0];
		xn->indx_minor = mm[1];
	}
	return 0;
}

/*
 * Classify name: its namespace and, when tags is set, its scoutfs tags.
 * -ERANGE over 255 bytes, -EINVAL empty (or a bare namespace prefix),
 * -EOPNOTSUPP outside the namespaces we keep.
 */
static int parse_name(const char *name, struct xname *xn, bool tags)
{
	static const struct {
		const char *prefix;
		enum xname_kind kind;
	} spaces[] = {
		{ "user.", XN_USER },
		{ "trusted.", XN_TRUSTED },
		{ "security.", XN_SECURITY },
		{ SCOUTFS_PREFIX, XN_SCOUTFS },
	};
	unsigned int i;

	memset(xn, 0, sizeof(*xn));
	xn->len = strnlen(name, SCOUTFS_XATTR_MAX_NAME_LEN + 1);
	if (xn->len > SCOUTFS_XATTR_MAX_NAME_LEN)
		return -ERANGE;
	if (xn->len == 0)
		return -EINVAL;
	if (strcmp(name, SFS_XATTR_ACL_ACCESS) == 0) {
		xn->kind = XN_ACL_ACCESS;
		return 0;
	}
	if (strcmp(name, SFS_XATTR_ACL_DEFAULT) == 0) {
		xn->kind = XN_ACL_DEFAULT;
		return 0;
	}
	for (i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
		if (!has_prefix(name, xn->len, spaces[i].prefix))
			continue;
		if (xn->len == strlen(spaces[i].prefix))
			return -EINVAL;
		xn->kind = spaces[i].kind;
		return xn->kind == XN_SCOUTFS && tags ? parse_tags(name, xn) : 0;
	}
	return -EOPNOTSUPP;
}

bool sfs_xattr_name_is_srch(const char *name)
{
	struct xname xn;

	return parse_name(name, &xn, true) == 0 && (xn.tags & TAG_SRCH);
}

/* a scoutfs.*hide.* name, which listxattr leaves out */
static bool name_hidden(const char *name, size_t len)
{
	struct xname xn = { .len = len };

	return has_prefix(name, len, SCOUTFS_PREFIX) && parse_tags(name, &xn) == 0 &&
	       (xn.tags & TAG_HIDE);
}

/* ------------------------------------------------------------------ */
/* POSIX ACLs in their xattr form                                       */
/* ------------------------------------------------------------------ */

#define ACLX_VERSION 2
#define ACLX_HDR 4
#define ACLX_ENTRY 8
#define ACLX_USER_OBJ 0x01
#define ACLX_USER 0x02
#define ACLX_GROUP_OBJ 0x04
#define ACLX_GROUP 0x08
#define ACLX_MASK 0x10
#define ACLX_OTHER 0x20
#define ACLX_PERMS 07

static uint16_t acl_tag(const uint8_t *v, int i)
{
	uint16_t t;

	memcpy(&t, v + ACLX_HDR + (size_t)i * ACLX_ENTRY, sizeof(t));
	return le16toh(t);
}

static uint16_t acl_perm(const uint8_t *v, int i)
{
	uint16_t p;

	memcpy(&p, v + ACLX_HDR + (size_t)i * ACLX_ENTRY + 2, sizeof(p));
	return le16toh(p);
}

static void acl_set_perm(uint8_t *v, int i, uint16_t perm)
{
	uint16_t p = htole16(perm);

	memcpy(v + ACLX_HDR + (size_t)i * ACLX_ENTRY + 2, &p, sizeof(p));
}

/*
 * The number of entries of a valid ACL value, or -EINVAL: version 2,
 * whole entries, perms rwx only, entries in the order user_obj, users,
 * group_obj, groups, mask, other, with exactly one of each *_obj and
 * other, and a mask when there are named entries (posix_acl_valid).
 */
static int acl_check(const void *val, size_t size)
{
	const uint8_t *v = val;
	int n, i, state = ACLX_USER_OBJ;
	bool needs_mask = false;
	uint32_t version;

	if (size < ACLX_HDR || (size - ACLX_HDR) % ACLX_ENTRY)
		return -EINVAL;
	memcpy(&version, v, sizeof(version));
	if (le32toh(version) != ACLX_VERSION)
		return -EINVAL;
	n = (int)((size - ACLX_HDR) / ACLX_ENTRY);
	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (acl_perm(v, i) & ~ACLX_PERMS)
			return -EINVAL;
		switch (acl_tag(v, i)) {
		case ACLX_USER_OBJ:
			if (state != ACLX_USER_OBJ)
				return -EINVAL;
			state = ACLX_USER;
			break;
		case ACLX_USER:
			if (state != ACLX_USER)
				return -EINVAL;
			needs_mask = true;
			break;
		case ACLX_GROUP_OBJ:
			if (state != ACLX_USER)
				return -EINVAL;
			state = ACLX_GROUP;
			break;
		case ACLX_GROUP:
			if (state != ACLX_GROUP)
				return -EINVAL;
			needs_mask = true;
			break;
		case ACLX_MASK:
			if (state != ACLX_GROUP)
				return -EINVAL;
			state = ACLX_OTHER;
			break;
		case ACLX_OTHER:
			if (state != ACLX_OTHER && !(state == ACLX_GROUP && !needs_mask))
				return -EINVAL;
			state = 0;
			break;
		default:
			return -EINVAL;
		}
	}
	return state == 0 ? n : -EINVAL;
}

/*
 * The rwx bits of *mode from a valid ACL (the mask standing for the
 * group class); 1 if the ACL says more than mode bits can
 * (posix_acl_equiv_mode), else 0.
 */
static int acl_equiv_mode(const uint8_t *v, int n, uint32_t *mode)
{
	uint32_t m = 0;
	int i, not_equiv = 0;

	for (i = 0; i < n; i++) {
		uint32_t p = acl_perm(v, i) & ACLX_PERMS;

		switch (acl_tag(v, i)) {
		case ACLX_USER_OBJ:
			m |= p << 6;
			break;
		case ACLX_GROUP_OBJ:
			m |= p << 3;
			break;
		case ACLX_OTHER:
			m |= p;
			break;
		case ACLX_MASK:
			m = (m & ~(uint32_t)S_IRWXG) | (p << 3);
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
			break;
		}
	}
	*mode = (*mode & ~(uint32_t)(S_IRWXU | S_IRWXG | S_IRWXO)) | m;
	return not_equiv;
}

/*
 * A new inode of *mode inherits the ACL v: the ACL's owner, group class
 * and other entries lose what the mode does not grant and the mode loses
 * what they do not (posix_acl_create_masq).  1 if the result says more
 * than the mode bits, else 0.
 */
static int acl_create_masq(uint8_t *v, int n, uint32_t *mode_p)
{
	uint32_t mode = *mode_p;
	int i, group_obj = -1, mask = -1, not_equiv = 0;
	uint16_t p;

	for (i = 0; i < n; i++) {
		p = acl_perm(v, i);
		switch (acl_tag(v, i)) {
		case ACLX_USER_OBJ:
			p &= (mode >> 6) & ACLX_PERMS;
			acl_set_perm(v, i, p);
			mode &= ((uint32_t)p << 6) | ~(uint32_t)S_IRWXU;
			break;
		case ACLX_USER:
		case ACLX_GROUP:
			not_equiv = 1;
			break;
		case ACLX_GROUP_OBJ:
			group_obj = i;
			break;
		case ACLX_MASK:
			mask = i;
			not_equiv = 1;
			break;
		case ACLX_OTHER:
			p &= mode & ACLX_PERMS;
			acl_set_perm(v, i, p);
			mode &= (uint32_t)p | ~(uint32_t)S_IRWXO;
			break;
		}
	}
	i = mask >= 0 ? mask : group_obj;
	p = acl_perm(v, i) & ((mode >> 3) & ACLX_PERMS);
	acl_set_perm(v, i, p);
	mode &= ((uint32_t)p << 3) | ~(uint32_t)S_IRWXG;
	*mode_p = (*mode_p & ~(uint32_t)(S_IRWXU | S_IRWXG | S_IRWXO)) | mode;
	return not_equiv;
}

/* the ACL v takes the rwx bits of mode (posix_acl_chmod_masq) */
static void acl_chmod_masq(uint8_t *v, int n, uint32_t mode)
{
	int i, group_obj = -1, mask = -1;

	for (i = 0; i < n; i++) {
		switch (acl_tag(v, i)) {
		case ACLX_USER_OBJ:
			acl_set_perm(v, i, (mode >> 6) & ACLX_PERMS);
			break;
		case ACLX_GROUP_OBJ:
			group_obj = i;
			break;
		case ACLX_MASK:
			mask = i;
			break;
		case ACLX_OTHER:
			acl_set_perm(v, i, mode & ACLX_PERMS);
			break;
		}
	}
	acl_set_perm(v, mask >= 0 ? mask : group_obj, (mode >> 3) & ACLX_PERMS);
}

/* ------------------------------------------------------------------ */
/* items                                                                */
/* ------------------------------------------------------------------ */

static struct scoutfs_key xattr_key(uint64_t ino, uint64_t hash, uint64_t id, uint8_t part)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_XATTR_TYPE, hash, id, part);
}

static unsigned int min_u(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

/* an xattr found by name: its id, sizes and part 0 */
struct xfound {
	uint64_t id;
	unsigned int name_len;
	unsigned int val_len;
	unsigned int part0_len;
	uint8_t part0[PART_MAX];
};

static unsigned int xattr_total(unsigned int name_len, unsigned int val_len)
{
	return HDR_BYTES + name_len + val_len;
}

/* part 0's header: 0 with its sizes, or -EIO (logged) */
static int parse_part0(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		       unsigned int val_len, unsigned int *name_len, unsigned int *vlen)
{
	struct scoutfs_xattr xat;

	if (val_len >= HDR_BYTES) {
		memcpy(&xat, val, sizeof(xat));
		*name_len = xat.name_len;
		*vlen = le16toh(xat.val_len);
		if (*name_len > 0 && val_len == min_u(xattr_total(*name_len, *vlen), PART_MAX))
			return 0;
	}
	sfs_err(fs, "inode %llu: xattr item hash %08llx id %llu part 0 of %u bytes is malformed",
		(unsigned long long)le64toh(key->skx_ino),
		(unsigned long long)le64toh(key->skx_name_hash),
		(unsigned long long)le64toh(key->skx_id), val_len);
	return -EIO;
}

struct find_ctx {
	struct sfs_fs *fs;
	const char *name;
	unsigned int len;
	struct xfound *f;
};

static int find_cb(void *arg, const struct scoutfs_key *key, const void *val, unsigned int val_len)
{
	struct find_ctx *fc = arg;
	unsigned int name_len, vlen;
	int ret;

	if (key->skx_part != 0)
		return 0;
	ret = parse_part0(fc->fs, key, val, val_len, &name_len, &vlen);
	if (ret)
		return ret;
	if (name_len != fc->len || memcmp((const char *)val + HDR_BYTES, fc->name, name_len) != 0)
		return 0;
	fc->f->id = le64toh(key->skx_id);
	fc->f->name_len = name_len;
	fc->f->val_len = vlen;
	fc->f->part0_len = val_len;
	memcpy(fc->f->part0, val, val_len);
	return 1;
}

/* the xattr named name (len bytes): 0 with *f, -ENODATA, or an error */
static int find_xattr(struct sfs_fs *fs, uint64_t ino, const char *name, unsigned int len,
		      struct xfound *f)
{
	uint64_t hash = sfs_xattr_name_hash(name, len);
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key start = xattr_key(ino, hash, 0, 0);
	struct scoutfs_key last = xattr_key(ino, hash, UINT64_MAX, UINT8_MAX);
	struct find_ctx fc = { .fs = fs, .name = name, .len = len, .f = f };
	int ret;

	ret = sfs_item_iterate(fs, &start, &last, &lock, find_cb, &fc);
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -ENODATA;
}

/* the whole byte string of a found xattr, into blob (xattr_total bytes) */
static int read_parts(struct sfs_fs *fs, uint64_t ino, const struct xfound *f, uint8_t *blob)
{
	unsigned int total = xattr_total(f->name_len, f->val_len);
	unsigned int nr = SCOUTFS_XATTR_NR_PARTS(f->name_len, f->val_len);
	uint64_t hash = sfs_xattr_name_hash(f->part0 + HDR_BYTES, f->name_len);
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key;
	unsigned int part, off, want, vlen;
	int ret;

	memcpy(blob, f->part0, f->part0_len);
	for (part = 1; part < nr; part++) {
		off = part * PART_MAX;
		want = min_u(total - off, PART_MAX);
		key = xattr_key(ino, hash, f->id, (uint8_t)part);
		ret = sfs_item_lookup(fs, &key, blob + off, want, &vlen, &lock);
		if (ret == -ENOENT || (!ret && vlen != want)) {
			sfs_err(fs, "inode %llu: xattr hash %08llx id %llu part %u %s (%u bytes)",
				(unsigned long long)ino, (unsigned long long)hash,
				(unsigned long long)f->id, part,
				ret ? "is missing" : "has a bad size", want);
			return -EIO;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The value of name into a new buffer (*val, freed by the caller, NULL
 * for an empty value): its length, -ENODATA, or an error.
 */
static int get_alloc(struct sfs_fs *fs, uint64_t ino, const char *name, uint8_t **val)
{
	struct xfound *f = malloc(sizeof(*f));
	uint8_t *blob = NULL;
	int ret;

	*val = NULL;
	if (!f)
		return -ENOMEM;
	ret = find_xattr(fs, ino, name, (unsigned int)strlen(name), f);
	if (ret)
		goto out;
	blob = malloc(xattr_total(f->name_len, f->val_len));
	if (!blob) {
		ret = -ENOMEM;
		goto out;
	}
	ret = read_parts(fs, ino, f, blob);
	if (ret)
		goto out;
	if (f->val_len) {
		*val = malloc(f->val_len);
		if (!*val) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(*val, blob + HDR_BYTES + f->name_len, f->val_len);
	}
	ret = (int)f->val_len;
out:
	free(blob);
	free(f);
	return ret;
}

static int write_parts(struct sfs_fs *fs, uint64_t ino, uint64_t hash, uint64_t id,
		       const uint8_t *blob, unsigned int total, uint64_t seq)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key;
	unsigned int part, off;
	int ret = 0;

	for (part = 0, off = 0; !ret && off < total; part++, off += PART_MAX) {
		key = xattr_key(ino, hash, id, (uint8_t)part);
		ret = sfs_item_create(fs, &key, blob + off, min_u(total - off, PART_MAX), seq,
				      &lock);
	}
	return ret;
}

static int delete_parts(struct sfs_fs *fs, uint64_t ino, const struct xfound *f, uint64_t seq)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	uint64_t hash = sfs_xattr_name_hash(f->part0 + HDR_BYTES, f->name_len);
	unsigned int part, nr = SCOUTFS_XATTR_NR_PARTS(f->name_len, f->val_len);
	struct scoutfs_key key;
	int ret = 0;

	for (part = 0; !ret && part < nr; part++) {
		key = xattr_key(ino, hash, f->id, (uint8_t)part);
		ret = sfs_item_delete_force(fs, &key, seq, &lock);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* the totl and indx indices                                            */
/* ------------------------------------------------------------------ */

/* the lock ranges of the index zones: each zone is one lock */
static struct sfs_item_range zone_lock(uint8_t zone)
{
	struct sfs_item_range r = {
		.start = sfs_key_make(zone, 0, 0, 0, 0, 0),
		.end = sfs_key_make(zone, UINT64_MAX, 255, UINT64_MAX, UINT64_MAX, 255),
	};

	return r;
}

struct scoutfs_key sfs_xattr_totl_key(const uint64_t name[3])
{
	return sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, name[0], 0, name[1], name[2], 0);
}

int sfs_xattr_totl_delta(struct sfs_fs *fs, const uint64_t name[3], int64_t total, int64_t count,
			 uint64_t seq)
{
	struct sfs_item_range lock = zone_lock(SCOUTFS_XATTR_TOTL_ZONE);
	struct scoutfs_key key = sfs_xattr_totl_key(name);
	struct scoutfs_xattr_totl_val tv = {
		.total = htole64((uint64_t)total),
		.count = htole64((uint64_t)count),
	};

	return sfs_item_delta(fs, &key, &tv, sizeof(tv), seq, &lock);
}

/* does the volume's format have the indx. tag (format version 2)? */
static bool fmt_has_indx(struct sfs_fs *fs)
{
	/* the inode item grew with version 2: inode.c knows the version by it */
	return sfs_inode_bytes(fs) >= sizeof(struct scoutfs_inode);
}

/* one version of a tagged xattr, for update_indices: there or not */
struct xversion {
	bool there;
	uint64_t id;
	const char *val;	/* the value, NULL if it is not all in part 0 */
	size_t len;
};

/* a found xattr as an xversion (a totl value fits in part 0 when it parses) */
static struct xversion found_version(const struct xfound *f)
{
	struct xversion v = { .there = true, .id = f->id, .len = f->val_len };

	if (xattr_total(f->name_len, f->val_len) <= f->part0_len)
		v.val = (const char *)f->part0 + HDR_BYTES + f->name_len;
	return v;
}

/* the value a stored totl xattr contributes; damage is logged and counts as nothing */
static bool stored_totl(struct sfs_fs *fs, uint64_t ino, const struct xversion *v,
			uint64_t *total)
{
	if (v->val && parse_u64(v->val, v->len, total) == 0)
		return true;
	sfs_warn(fs, "inode %llu: xattr id %llu: stored totl value not a number, total unchanged",
		 (unsigned long long)ino, (unsigned long long)v->id);
	return false;
}

/*
 * The index items of name (xn, tags parsed) as its xattr goes from old
 * to new (invariant 4): for totl one delta for the change, for indx the
 * old id's item deleted and the new id's made.  new's value was checked.
 */
static int update_indices(struct sfs_fs *fs, uint64_t ino, const char *name,
			  const struct xname *xn, const struct xversion *old,
			  const struct xversion *new, uint64_t seq)
{
	struct sfs_item_range lock;
	struct scoutfs_key key;
	uint64_t total = 0, v;
	struct scoutfs_srch_entry sre;
	int64_t count = 0;
	int ret = 0;

	if (xn->tags & TAG_SRCH) {
		/* a replacement has a new id: the old entry cancels, a new one is logged */
		if (old->there) {
			sre = sfs_srch_entry(name, xn->len, ino, old->id);
			ret = sfs_trans_srch_add(fs, &sre);
		}
		if (!ret && new->there) {
			sre = sfs_srch_entry(name, xn->len, ino, new->id);
			ret = sfs_trans_srch_add(fs, &sre);
		}
		if (ret)
			return ret;
	}
	if (xn->tags & TAG_TOTL) {
		if (old->there && stored_totl(fs, ino, old, &v)) {
			total -= v;
			count--;
		}
		if (new->there && parse_u64(new->val, new->len, &v) == 0) {
			total += v;
			count++;
		}
		if (total || count)
			ret = sfs_xattr_totl_delta(fs, xn->totl, (int64_t)total, count, seq);
	}
	if (!ret && (xn->tags & TAG_INDX)) {
		lock = zone_lock(SCOUTFS_XATTR_INDX_ZONE);
		if (old->there) {
			key = sfs_xattr_indx_key((uint8_t)xn->indx_major, xn->indx_minor, ino,
						 old->id);
			ret = sfs_item_delete_force(fs, &key, seq, &lock);
		}
		if (!ret && new->there) {
			key = sfs_xattr_indx_key((uint8_t)xn->indx_major, xn->indx_minor, ino,
						 new->id);
			ret = sfs_item_force(fs, &key, NULL, 0, seq, &lock);
		}
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* the items-level API                                                  */
/* ------------------------------------------------------------------ */

int sfs_xattr_get(struct sfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size)
{
	struct xfound *f;
	uint8_t *blob = NULL;
	struct xname xn;
	int ret;

	ret = parse_name(name, &xn, false);
	if (ret)
		return ret;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = find_xattr(fs, ino, name, (unsigned int)xn.len, f);
	if (ret)
		goto out;
	if (size == 0) {
		ret = (int)f->val_len;
		goto out;
	}
	if (size < f->val_len) {
		ret = -ERANGE;
		goto out;
	}
	blob = malloc(xattr_total(f->name_len, f->val_len));
	if (!blob) {
		ret = -ENOMEM;
		goto out;
	}
	ret = read_parts(fs, ino, f, blob);
	if (ret)
		goto out;
	memcpy(buf, blob + HDR_BYTES + f->name_len, f->val_len);
	ret = (int)f->val_len;
out:
	free(blob);
	free(f);
	return ret;
}

/* the checks of a change to name on inode mode: 0 or -errno */
static int check_change(const struct xname *xn, uint32_t mode)
{
	if (xn->kind == XN_USER && !S_ISREG(mode) && !S_ISDIR(mode))
		return -EPERM;
	return 0;
}

/* the value fits the name: ACLs parse, totl values are u64s, indx values empty */
static int check_value(const struct xname *xn, uint32_t mode, const void *value, size_t size)
{
	uint64_t total;
	int ret;

	if (size > SCOUTFS_XATTR_MAX_VAL_LEN)
		return -E2BIG;
	if (xn->kind == XN_ACL_ACCESS || xn->kind == XN_ACL_DEFAULT) {
		ret = acl_check(value, size);
		if (ret < 0)
			return ret;
		if (xn->kind == XN_ACL_DEFAULT && !S_ISDIR(mode))
			return -EACCES;
	}
	if (xn->tags & TAG_TOTL) {
		ret = parse_u64(value, size, &total);
		if (ret)
			return ret;
	}
	if ((xn->tags & TAG_INDX) && size != 0)
		return -EINVAL;
	return 0;
}

int sfs_xattr_set(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, const char *name,
		  const void *value, size_t size, int flags, uint64_t seq)
{
	uint32_t mode = le32toh(di->mode);
	uint64_t id = le64toh(di->next_xattr_id);
	struct xversion old = { 0 }, new = { .there = true, .id = id, .val = value, .len = size };
	struct xfound *f = NULL;
	uint8_t *blob = NULL;
	unsigned int total;
	struct xname xn;
	bool found;
	int ret;

	ret = parse_name(name, &xn, true);
	if (ret)
		return ret;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((xn.tags & TAG_INDX) && !fmt_has_indx(fs))
		return -EOPNOTSUPP;
	ret = check_change(&xn, mode) ?: check_value(&xn, mode, value, size);
	if (ret)
		return ret;
	f = malloc(sizeof(*f));
	total = xattr_total((unsigned int)xn.len, (unsigned int)size);
	blob = malloc(total);
	if (!f || !blob) {
		ret = -ENOMEM;
		goto out;
	}
	ret = find_xattr(fs, ino, name, (unsigned int)xn.len, f);
	if (ret && ret != -ENODATA)
		goto out;
	found = ret == 0;
	if (found && (flags & XATTR_CREATE)) {
		ret = -EEXIST;
		goto out;
	}
	if (!found && (flags & XATTR_REPLACE)) {
		ret = -ENODATA;
		goto out;
	}

	memset(blob, 0, HDR_BYTES);
	((struct scoutfs_xattr *)blob)->val_len = htole16((uint16_t)size);
	((struct scoutfs_xattr *)blob)->name_len = (uint8_t)xn.len;
	memcpy(blob + HDR_BYTES, name, xn.len);
	if (size)
		memcpy(blob + HDR_BYTES + xn.len, value, size);
	if (found)
		old = found_version(f);
	ret = write_parts(fs, ino, sfs_xattr_name_hash(name, xn.len), id, blob, total, seq);
	if (!ret && found)
		ret = delete_parts(fs, ino, f, seq);
	if (!ret)
		ret = update_indices(fs, ino, name, &xn, &old, &new, seq);
	if (ret)
		goto out;
	di->next_xattr_id = htole64(id + 1);
	sfs_ts_now(&di->ctime);
out:
	free(blob);
	free(f);
	return ret;
}

struct list_ctx {
	struct sfs_fs *fs;
	char *buf;
	size_t size;
	size_t total;
};

static int list_cb(void *arg, const struct scoutfs_key *key, const void *val, unsigned int val_len)
{
	struct list_ctx *lc = arg;
	unsigned int name_len, vlen;
	const char *name = (const char *)val + HDR_BYTES;
	int ret;

	if (key->skx_part != 0)
		return 0;
	ret = parse_part0(lc->fs, key, val, val_len, &name_len, &vlen);
	if (ret)
		return ret;
	if (name_hidden(name, name_len))
		return 0;
	if (lc->size) {
		if (lc->total + name_len + 1 > lc->size)
			return -ERANGE;
		memcpy(lc->buf + lc->total, name, name_len);
		lc->buf[lc->total + name_len] = '\0';
	}
	lc->total += name_len + 1;
	return 0;
}

int sfs_xattr_list(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key start = xattr_key(ino, 0, 0, 0);
	struct scoutfs_key last = xattr_key(ino, UINT64_MAX, UINT64_MAX, UINT8_MAX);
	struct list_ctx lc = { .fs = fs, .buf = buf, .size = size };
	int ret;

	ret = sfs_item_iterate(fs, &start, &last, &lock, list_cb, &lc);
	if (ret)
		return ret;
	return lc.total > INT_MAX ? -E2BIG : (int)lc.total;
}

int sfs_xattr_remove(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, const char *name,
		     uint64_t seq)
{
	struct xversion old, none = { 0 };
	struct xfound *f;
	struct xname xn;
	int ret;

	ret = parse_name(name, &xn, true) ?: check_change(&xn, le32toh(di->mode));
	if (ret)
		return ret;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = find_xattr(fs, ino, name, (unsigned int)xn.len, f);
	if (!ret) {
		old = found_version(f);
		ret = delete_parts(fs, ino, f, seq) ?:
		      update_indices(fs, ino, name, &xn, &old, &none, seq);
	}
	if (!ret)
		sfs_ts_now(&di->ctime);
	free(f);
	return ret;
}

struct delete_ctx {
	struct sfs_fs *fs;
	struct sfs_item_range lock;
	uint64_t ino;
	uint64_t seq;
};

/* a deleted xattr's part 0: the index items its name has go too */
static int delete_indices(struct delete_ctx *dc, const struct scoutfs_key *key, const void *val,
			  unsigned int val_len)
{
	struct xversion old = { .there = true, .id = le64toh(key->skx_id) }, none = { 0 };
	char name[SCOUTFS_XATTR_MAX_NAME_LEN + 1];
	unsigned int name_len, vlen;
	struct xname xn;
	int ret;

	ret = parse_part0(dc->fs, key, val, val_len, &name_len, &vlen);
	if (ret)
		return ret;
	memcpy(name, (const char *)val + HDR_BYTES, name_len);
	name[name_len] = '\0';
	if (!has_prefix(name, name_len, SCOUTFS_PREFIX) || parse_name(name, &xn, true) ||
	    !(xn.tags & (TAG_SRCH | TAG_TOTL | TAG_INDX)))
		return 0;
	if (xattr_total(name_len, vlen) <= val_len) {
		old.val = (const char *)val + HDR_BYTES + name_len;
		old.len = vlen;
	}
	return update_indices(dc->fs, dc->ino, name, &xn, &old, &none, dc->seq);
}

static int delete_cb(void *arg, const struct scoutfs_key *key, const void *val,
		     unsigned int val_len)
{
	struct delete_ctx *dc = arg;
	int ret = 0;

	if (key->skx_part == 0)
		ret = delete_indices(dc, key, val, val_len);
	return ret ?: sfs_item_delete(dc->fs, key, dc->seq, &dc->lock);
}

int sfs_xattr_delete_all(struct sfs_fs *fs, uint64_t ino, uint64_t seq)
{
	struct delete_ctx dc = { .fs = fs, .lock = sfs_inode_lock(ino), .ino = ino, .seq = seq };
	struct scoutfs_key start = xattr_key(ino, 0, 0, 0);
	struct scoutfs_key last = xattr_key(ino, UINT64_MAX, UINT64_MAX, UINT8_MAX);

	return sfs_item_iterate(fs, &start, &last, &dc.lock, delete_cb, &dc);
}

struct hidden_ctx {
	struct sfs_fs *fs;
	char *buf;
	size_t size;
	size_t len;
	uint64_t hash;		/* where a name did not fit, or the last that did */
	uint64_t id;
	bool full;
	bool listed;		/* some name fit */
};

static int hidden_cb(void *arg, const struct scoutfs_key *key, const void *val,
		     unsigned int val_len)
{
	struct hidden_ctx *hc = arg;
	const char *name = (const char *)val + HDR_BYTES;
	unsigned int name_len, vlen;
	int ret;

	if (key->skx_part != 0)
		return 0;
	ret = parse_part0(hc->fs, key, val, val_len, &name_len, &vlen);
	if (ret)
		return ret;
	if (!name_hidden(name, name_len))
		return 0;
	hc->hash = le64toh(key->skx_name_hash);
	hc->id = le64toh(key->skx_id);
	if (hc->len + name_len + 1 > hc->size) {
		hc->full = true;
		return 1;
	}
	hc->listed = true;
	memcpy(hc->buf + hc->len, name, name_len);
	hc->buf[hc->len + name_len] = '\0';
	hc->len += name_len + 1;
	return 0;
}

int sfs_xattr_list_hidden(struct sfs_fs *fs, uint64_t ino, uint64_t *hash, uint64_t *id,
			  char *buf, size_t size, bool *end)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key start = xattr_key(ino, *hash, *id, 0);
	struct scoutfs_key last = xattr_key(ino, UINT64_MAX, UINT64_MAX, UINT8_MAX);
	struct hidden_ctx hc = { .fs = fs, .buf = buf, .size = size };
	int ret;

	ret = sfs_item_iterate(fs, &start, &last, &lock, hidden_cb, &hc);
	if (ret < 0)
		return ret;
	if (hc.full && hc.len == 0)
		return -ERANGE;
	*end = !hc.full;
	if (hc.full) {
		*hash = hc.hash;
		*id = hc.id;
	} else if (hc.listed) {
		/* just past the last one listed */
		*hash = hc.hash;
		*id = hc.id + 1;
		if (*id == 0)
			(*hash)++;
	}
	return hc.len > INT_MAX ? -E2BIG : (int)hc.len;
}

/* a stored ACL that does not parse: the volume is damaged */
static int bad_stored_acl(struct sfs_fs *fs, uint64_t ino, const char *name)
{
	sfs_err(fs, "inode %llu: stored %s is not a valid ACL", (unsigned long long)ino, name);
	return -EIO;
}

/*
 * A stored ACL (name of ino) and a copy of it to change: its length, with
 * *n its entries; -ENODATA if there is none, -EIO (logged) if malformed.
 */
static int load_acl(struct sfs_fs *fs, uint64_t ino, const char *name, uint8_t **acl,
		    uint8_t **copy, int *n)
{
	int len;

	*acl = NULL;
	*copy = NULL;
	len = get_alloc(fs, ino, name, acl);
	if (len < 0)
		return len;
	*n = acl_check(*acl, (size_t)len);
	if (*n < 0) {
		len = bad_stored_acl(fs, ino, name);
		goto fail;
	}
	*copy = malloc((size_t)len);
	if (!*copy) {
		len = -ENOMEM;
		goto fail;
	}
	memcpy(*copy, *acl, (size_t)len);
	return len;
fail:
	free(*acl);
	*acl = NULL;
	return len;
}

int sfs_xattr_acl_create(struct sfs_fs *fs, uint64_t dir, uint64_t ino,
			 struct scoutfs_inode *di, uint32_t umask, uint64_t seq)
{
	uint32_t mode = le32toh(di->mode);
	uint8_t *def, *acc;
	int len, n, not_equiv, ret;

	if (S_ISLNK(mode))
		return 0;
	len = load_acl(fs, dir, SFS_XATTR_ACL_DEFAULT, &def, &acc, &n);
	if (len == -ENODATA) {
		di->mode = htole32(mode & ~(umask & 0777));
		return 0;
	}
	if (len < 0)
		return len;
	not_equiv = acl_create_masq(acc, n, &mode);
	di->mode = htole32(mode);
	ret = (S_ISDIR(mode) ? sfs_xattr_set(fs, ino, di, SFS_XATTR_ACL_DEFAULT, def, (size_t)len,
					     XATTR_CREATE, seq) : 0) ?:
	      (not_equiv ? sfs_xattr_set(fs, ino, di, SFS_XATTR_ACL_ACCESS, acc, (size_t)len,
					 XATTR_CREATE, seq) : 0);
	free(acc);
	free(def);
	return ret;
}

int sfs_xattr_acl_chmod(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq)
{
	uint32_t mode = le32toh(di->mode);
	uint8_t *was, *acl;
	int len, n, ret;

	if (S_ISLNK(mode))
		return 0;
	len = load_acl(fs, ino, SFS_XATTR_ACL_ACCESS, &was, &acl, &n);
	if (len == -ENODATA)
		return 0;
	if (len < 0)
		return len;
	acl_chmod_masq(acl, n, mode);
	ret = memcmp(was, acl, (size_t)len) == 0 ? 0 :
	      sfs_xattr_set(fs, ino, di, SFS_XATTR_ACL_ACCESS, acl, (size_t)len,
			    XATTR_REPLACE, seq);
	free(was);
	free(acl);
	return ret;
}

/* ------------------------------------------------------------------ */
/* FUSE ops                                                             */
/* ------------------------------------------------------------------ */

/*
 * The name as the op sees it: its class, the ACL names only on a mount
 * with ACLs, tagged names changed only by root.
 */
static int op_check_name(fuse_req_t req, const char *name, bool change, struct xname *xn)
{
	struct sfs_fuse *sf = sf_of(req);
	int ret;

	ret = parse_name(name, xn, change);
	if (ret)
		return ret;
	if ((xn->kind == XN_ACL_ACCESS || xn->kind == XN_ACL_DEFAULT) && !sf->opts.acl)
		return -EOPNOTSUPP;
	if (change && xn->tags && fuse_req_ctx(req)->uid != 0)
		return -EPERM;
	return 0;
}

/*
 * The cluster locks (the inode's group: READ to look, WRITE to change,
 * with the totl or indx zone WRITE_ONLY for a name that changes them),
 * ns shared, then the inode's lock, then (a change) the transaction
 */
static int op_lock(struct sfs_fuse *sf, struct sfs_lock_set *set, uint64_t ino,
		   const struct xname *xn, bool change, bool growth, uint64_t *seq)
{
	unsigned int xflags = 0;
	int ret;

	if (xn && (xn->tags & TAG_TOTL))
		xflags |= SFS_FUSE_LOCK_TOTL;
	if (xn && (xn->tags & TAG_INDX))
		xflags |= SFS_FUSE_LOCK_INDX;
	ret = sfs_fuse_lock_inodes_x(sf, set, change ? SFS_LOCK_WRITE : SFS_LOCK_READ, xflags, ino,
				     0, 0, 0);
	if (ret)
		return ret;
	pthread_rwlock_rdlock(&sf->ns);
	pthread_mutex_lock(sfs_fuse_ino_lock(sf, ino));
	if (change) {
		ret = sfs_trans_hold(sf->fs, growth, seq);
		if (ret) {
			pthread_mutex_unlock(sfs_fuse_ino_lock(sf, ino));
			pthread_rwlock_unlock(&sf->ns);
			sfs_fuse_unlock(sf, set, 0);
		} else {
			*seq = sfs_fuse_lock_seq(set, *seq);
		}
	}
	return ret;
}

static void op_unlock(struct sfs_fuse *sf, struct sfs_lock_set *set, uint64_t ino, bool change,
		      uint64_t seq)
{
	if (change)
		sfs_trans_release(sf->fs);
	pthread_mutex_unlock(sfs_fuse_ino_lock(sf, ino));
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, set, change ? seq : 0);
}

/* is the caller root, or in group gid (primary or supplementary)? */
static bool in_group_or_root(fuse_req_t req, uint32_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[64];
	int i, n;

	if (ctx->uid == 0 || ctx->gid == gid)
		return true;
	n = fuse_req_getgroups(req, (int)(sizeof(groups) / sizeof(groups[0])), groups);
	for (i = 0; i < n && i < (int)(sizeof(groups) / sizeof(groups[0])); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * Setting an access ACL sets the mode from it, and an ACL that says no
 * more than the mode is not kept (posix_acl_update_mode); a caller
 * outside the file's group loses its setgid bit.
 */
static int set_access_acl(fuse_req_t req, uint64_t ino, struct scoutfs_inode *di,
			  const char *value, size_t size, int flags, uint64_t seq)
{
	struct sfs_fs *fs = sf_of(req)->fs;
	uint32_t mode = le32toh(di->mode);
	int n, ret;

	n = acl_check(value, size);
	if (n < 0)
		return n;
	if (acl_equiv_mode((const uint8_t *)value, n, &mode)) {
		ret = sfs_xattr_set(fs, ino, di, SFS_XATTR_ACL_ACCESS, value, size, flags, seq);
	} else {
		ret = sfs_xattr_remove(fs, ino, di, SFS_XATTR_ACL_ACCESS, seq);
		if (ret == -ENODATA)
			ret = 0;
	}
	if (ret)
		return ret;
	if (!in_group_or_root(req, le32toh(di->gid)))
		mode &= ~(uint32_t)S_ISGID;
	di->mode = htole32(mode);
	sfs_ts_now(&di->ctime);
	return 0;
}

void sfs_xattr_op_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		      size_t size, int flags)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	struct xname xn;
	uint64_t seq;
	int ret;

	ret = op_check_name(req, name, true, &xn);
	if (!ret && size > SCOUTFS_XATTR_MAX_VAL_LEN)
		ret = -E2BIG;
	if (ret)
		goto reply;
	ret = op_lock(sf, &set, ino, &xn, true, true, &seq);
	if (ret)
		goto reply;
	ret = sfs_inode_read(sf->fs, ino, &di);
	/* retention keeps user. xattrs as they are; others stay writable */
	if (!ret && xn.kind == XN_USER)
		ret = sfs_inode_retention_check(&di);
	if (!ret) {
		if (xn.kind == XN_ACL_ACCESS)
			ret = set_access_acl(req, ino, &di, value, size, flags, seq);
		else
			ret = sfs_xattr_set(sf->fs, ino, &di, name, value, size, flags, seq);
	}
	if (!ret)
		ret = sfs_inode_update(sf->fs, ino, &di, seq);
	op_unlock(sf, &set, ino, true, seq);
reply:
	sfs_fuse_reply_err(req, ret);
}

void sfs_xattr_op_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	char *buf = NULL;
	struct xname xn;
	int ret;

	ret = op_check_name(req, name, false, &xn);
	if (ret)
		goto reply;
	if (size) {
		if (size > SCOUTFS_XATTR_MAX_VAL_LEN)
			size = SCOUTFS_XATTR_MAX_VAL_LEN;
		buf = malloc(size);
		if (!buf) {
			ret = -ENOMEM;
			goto reply;
		}
	}
	/*
	 * The kernel asks for security.capability before every write to a
	 * file (to drop it if set).  Through a handle open for writing here,
	 * a write almost always follows: taking the WRITE lock it will want
	 * now spares a second lock transfer from another mount (READ for
	 * this, then WRITE for the write).
	 */
	if (!strcmp(name, "security.capability") && sfs_fuse_open_writable(sf, ino)) {
		ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_WRITE, ino, 0, 0, 0);
		if (ret)
			goto reply;
		pthread_rwlock_rdlock(&sf->ns);
		pthread_mutex_lock(sfs_fuse_ino_lock(sf, ino));
	} else {
		ret = op_lock(sf, &set, ino, NULL, false, false, NULL);
		if (ret)
			goto reply;
	}
	ret = sfs_xattr_get(sf->fs, ino, name, buf, size);
	op_unlock(sf, &set, ino, false, 0);
reply:
	if (ret < 0)
		sfs_fuse_reply_err(req, ret);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)ret);
	else
		fuse_reply_buf(req, buf, (size_t)ret);
	free(buf);
}

void sfs_xattr_op_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	char *buf = NULL;
	int ret = 0;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			ret = -ENOMEM;
			goto reply;
		}
	}
	ret = op_lock(sf, &set, ino, NULL, false, false, NULL);
	if (ret)
		goto reply;
	ret = sfs_xattr_list(sf->fs, ino, buf, size);
	op_unlock(sf, &set, ino, false, 0);
reply:
	if (ret < 0)
		sfs_fuse_reply_err(req, ret);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)ret);
	else
		fuse_reply_buf(req, buf, (size_t)ret);
	free(buf);
}

void sfs_xattr_op_remove(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct sfs_fuse *sf = sf_of(req);
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	struct xname xn;
	uint64_t seq;
	int ret;

	ret = op_check_name(req, name, true, &xn);
	if (ret)
		goto reply;
	ret = op_lock(sf, &set, ino, &xn, true, false, &seq);
	if (ret)
		goto reply;
	ret = sfs_inode_read(sf->fs, ino, &di);
	if (!ret && xn.kind == XN_USER)
		ret = sfs_inode_retention_check(&di);
	if (!ret)
		ret = sfs_xattr_remove(sf->fs, ino, &di, name, seq);
	/* removing an ACL that is not there succeeds, as on local filesystems */
	if (ret == -ENODATA && (xn.kind == XN_ACL_ACCESS || xn.kind == XN_ACL_DEFAULT))
		ret = 0;
	else if (!ret)
		ret = sfs_inode_update(sf->fs, ino, &di, seq);
	op_unlock(sf, &set, ino, true, seq);
reply:
	sfs_fuse_reply_err(req, ret);
}
