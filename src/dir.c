// SPDX-License-Identifier: GPL-2.0
/*
 * Directory entries and symlink targets as items.
 *
 * Every name makes three items with the same value (struct
 * scoutfs_dirent and the name):
 *   DIRENT        (dir, name hash, pos)   lookup by name
 *   READDIR       (dir, pos)              readdir in creation order
 *   LINK_BACKREF  (ino, dir, pos)         the names of an inode
 * pos comes from the parent's next_readdir_pos (2 up; 0 and 1 are "."
 * and ".."), so creating an entry never reads others to resolve hash
 * collisions: lookup scans every pos under the hash and compares names.
 *
 * A symlink's target, with its NUL, is split into SYMLINK items of at
 * most SCOUTFS_BTREE_MAX_VAL_LEN bytes (part numbers from 0).
 *
 * Callers hold the transaction for writes and serialize changes to a
 * directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "btree.h"
#include "dir.h"
#include "inode.h"
#include "item.h"
#include "log.h"

#define DIRENT_MAX (sizeof(struct scoutfs_dirent) + SCOUTFS_NAME_LEN)

uint8_t sfs_dir_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return SCOUTFS_DT_FIFO;
	case S_IFCHR:
		return SCOUTFS_DT_CHR;
	case S_IFDIR:
		return SCOUTFS_DT_DIR;
	case S_IFBLK:
		return SCOUTFS_DT_BLK;
	case S_IFLNK:
		return SCOUTFS_DT_LNK;
	case S_IFSOCK:
		return SCOUTFS_DT_SOCK;
	default:
		return SCOUTFS_DT_REG;
	}
}

static struct scoutfs_key dirent_key(uint64_t dir, uint64_t hash, uint64_t pos)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, dir, SCOUTFS_DIRENT_TYPE, hash, pos, 0);
}

static struct scoutfs_key readdir_key(uint64_t dir, uint64_t pos)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, dir, SCOUTFS_READDIR_TYPE, pos, 0, 0);
}

static struct scoutfs_key backref_key(uint64_t ino, uint64_t dir, uint64_t pos)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_LINK_BACKREF_TYPE, dir, pos, 0);
}

/* a dirent value read from an item: 0 with *de and the name, or -EIO */
static int parse_dirent(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
			unsigned int val_len, struct sfs_dirent *de, const char **name,
			unsigned int *len)
{
	struct scoutfs_dirent dh;	/* values in the cache need not be aligned */
	const struct scoutfs_dirent *d = &dh;

	if (val_len <= sizeof(*d) || val_len > DIRENT_MAX) {
		sfs_err(fs, "dirent item %llu.%u.%llu.%llu: value of %u bytes",
			(unsigned long long)le64toh(key->_sk_first), key->sk_type,
			(unsigned long long)le64toh(key->_sk_second),
			(unsigned long long)le64toh(key->_sk_third), val_len);
		return -EIO;
	}
	memcpy(&dh, val, sizeof(dh));
	de->ino = le64toh(d->ino);
	de->hash = le64toh(d->hash);
	de->pos = le64toh(d->pos);
	de->type = d->type;
	*name = (const char *)val + sizeof(dh);
	*len = val_len - (unsigned int)sizeof(*d);
	return 0;
}

struct lookup_ctx {
	struct sfs_fs *fs;
	const char *name;
	unsigned int len;
	struct sfs_dirent *de;
	bool found;
};

static int lookup_cb(void *arg, const struct scoutfs_key *key, const void *val,
		     unsigned int val_len)
{
	struct lookup_ctx *lc = arg;
	struct sfs_dirent de;
	const char *name;
	unsigned int len;
	int ret;

	ret = parse_dirent(lc->fs, key, val, val_len, &de, &name, &len);
	if (ret)
		return ret;
	if (len == lc->len && memcmp(name, lc->name, len) == 0) {
		*lc->de = de;
		lc->found = true;
		return 1;
	}
	return 0;
}

int sfs_dir_lookup(struct sfs_fs *fs, uint64_t dir, const char *name, unsigned int len,
		   struct sfs_dirent *de)
{
	uint64_t hash = sfs_dirent_name_hash(name, len);
	struct sfs_item_range lock = sfs_inode_lock(dir);
	struct scoutfs_key start = dirent_key(dir, hash, 0);
	struct scoutfs_key last = dirent_key(dir, hash, UINT64_MAX);
	struct lookup_ctx lc = { .fs = fs, .name = name, .len = len, .de = de };
	int ret;

	if (len == 0 || len > SCOUTFS_NAME_LEN)
		return len ? -ENAMETOOLONG : -ENOENT;
	ret = sfs_item_iterate(fs, &start, &last, &lock, lookup_cb, &lc);
	if (ret < 0)
		return ret;
	return lc.found ? 0 : -ENOENT;
}

int sfs_dir_add(struct sfs_fs *fs, uint64_t dir, const char *name, unsigned int len,
		uint64_t ino, uint8_t type, uint64_t pos, uint64_t seq)
{
	struct sfs_item_range dlock = sfs_inode_lock(dir);
	struct sfs_item_range ilock = sfs_inode_lock(ino);
	uint8_t buf[DIRENT_MAX];
	struct scoutfs_dirent *d = (struct scoutfs_dirent *)buf;
	uint64_t hash = sfs_dirent_name_hash(name, len);
	unsigned int vlen = (unsigned int)sizeof(*d) + len;
	struct scoutfs_key key;
	int ret;

	if (len == 0 || len > SCOUTFS_NAME_LEN)
		return -ENAMETOOLONG;
	memset(d, 0, sizeof(*d));
	d->ino = htole64(ino);
	d->hash = htole64(hash);
	d->pos = htole64(pos);
	d->type = type;
	memcpy(d->name, name, len);

	key = dirent_key(dir, hash, pos);
	ret = sfs_item_create(fs, &key, buf, vlen, seq, &dlock);
	if (ret)
		return ret;
	key = readdir_key(dir, pos);
	ret = sfs_item_create(fs, &key, buf, vlen, seq, &dlock);
	if (ret)
		return ret;
	key = backref_key(ino, dir, pos);
	return sfs_item_create(fs, &key, buf, vlen, seq, &ilock);
}

int sfs_dir_del(struct sfs_fs *fs, uint64_t dir, const struct sfs_dirent *de, uint64_t seq)
{
	struct sfs_item_range dlock = sfs_inode_lock(dir);
	struct sfs_item_range ilock = sfs_inode_lock(de->ino);
	struct scoutfs_key key;

	key = dirent_key(dir, de->hash, de->pos);
	return sfs_item_delete(fs, &key, seq, &dlock) ?:
	       (key = readdir_key(dir, de->pos), sfs_item_delete(fs, &key, seq, &dlock)) ?:
	       (key = backref_key(de->ino, dir, de->pos), sfs_item_delete(fs, &key, seq, &ilock));
}

struct readdir_ctx {
	struct sfs_fs *fs;
	sfs_dir_cb cb;
	void *arg;
};

static int readdir_cb(void *arg, const struct scoutfs_key *key, const void *val,
		      unsigned int val_len)
{
	struct readdir_ctx *rc = arg;
	struct sfs_dirent de;
	const char *name;
	unsigned int len;
	int ret;

	ret = parse_dirent(rc->fs, key, val, val_len, &de, &name, &len);
	if (ret)
		return ret;
	return rc->cb(rc->arg, &de, name, len);
}

int sfs_dir_readdir(struct sfs_fs *fs, uint64_t dir, uint64_t pos, sfs_dir_cb cb, void *arg)
{
	struct sfs_item_range lock = sfs_inode_lock(dir);
	struct scoutfs_key start = readdir_key(dir, pos);
	struct scoutfs_key last = readdir_key(dir, UINT64_MAX);
	struct readdir_ctx rc = { .fs = fs, .cb = cb, .arg = arg };

	return sfs_item_iterate(fs, &start, &last, &lock, readdir_cb, &rc);
}

struct backref_ctx {
	struct sfs_fs *fs;
	sfs_backref_cb cb;
	void *arg;
};

static int backref_cb(void *arg, const struct scoutfs_key *key, const void *val,
		      unsigned int val_len)
{
	struct backref_ctx *bc = arg;
	struct sfs_dirent de;
	const char *name;
	unsigned int len;
	int ret;

	ret = parse_dirent(bc->fs, key, val, val_len, &de, &name, &len);
	if (ret)
		return ret;
	return bc->cb(bc->arg, le64toh(key->_sk_second), &de, name, len);
}

int sfs_dir_backrefs(struct sfs_fs *fs, uint64_t ino, uint64_t dir, uint64_t pos,
		     sfs_backref_cb cb, void *arg)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key start = backref_key(ino, dir, pos);
	struct scoutfs_key last = backref_key(ino, UINT64_MAX, UINT64_MAX);
	struct backref_ctx bc = { .fs = fs, .cb = cb, .arg = arg };

	return sfs_item_iterate(fs, &start, &last, &lock, backref_cb, &bc);
}

static int any_cb(void *arg, const struct sfs_dirent *de, const char *name, unsigned int len)
{
	(void)arg, (void)de, (void)name, (void)len;
	return -ENOTEMPTY;
}

int sfs_dir_empty(struct sfs_fs *fs, uint64_t dir)
{
	return sfs_dir_readdir(fs, dir, 0, any_cb, NULL);
}

static struct scoutfs_key symlink_key(uint64_t ino, uint64_t part)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_SYMLINK_TYPE, part, 0, 0);
}

int sfs_symlink_write(struct sfs_fs *fs, uint64_t ino, const char *target, uint64_t seq)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	size_t size = strlen(target) + 1, off, n;
	struct scoutfs_key key;
	uint64_t part;
	int ret = 0;

	for (off = 0, part = 0; !ret && off < size; off += n, part++) {
		n = size - off < SCOUTFS_BTREE_MAX_VAL_LEN ? size - off : SCOUTFS_BTREE_MAX_VAL_LEN;
		key = symlink_key(ino, part);
		ret = sfs_item_create(fs, &key, target + off, (unsigned int)n, seq, &lock);
	}
	return ret;
}

int sfs_symlink_read(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size, size_t *len)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key;
	unsigned int vlen;
	size_t off = 0;
	uint64_t part;
	int ret;

	for (part = 0; off < size; part++) {
		key = symlink_key(ino, part);
		ret = sfs_item_lookup(fs, &key, buf + off,
				      (unsigned int)(size - off < SCOUTFS_BTREE_MAX_VAL_LEN ?
							     size - off :
							     SCOUTFS_BTREE_MAX_VAL_LEN),
				      &vlen, &lock);
		if (ret)
			return ret == -ENOENT ? -EIO : ret;
		if (vlen > SCOUTFS_BTREE_MAX_VAL_LEN || off + vlen > size)
			return -EIO;
		off += vlen;
		if (buf[off - 1] == '\0') {
			*len = off - 1;
			return 0;
		}
	}
	return -EIO;
}

int sfs_symlink_delete(struct sfs_fs *fs, uint64_t ino, size_t size, uint64_t seq)
{
	struct sfs_item_range lock = sfs_inode_lock(ino);
	struct scoutfs_key key;
	uint64_t part, parts = (size + SCOUTFS_BTREE_MAX_VAL_LEN - 1) / SCOUTFS_BTREE_MAX_VAL_LEN;
	int ret = 0;

	for (part = 0; !ret && part < parts; part++) {
		key = symlink_key(ino, part);
		ret = sfs_item_delete_force(fs, &key, seq, &lock);
	}
	return ret;
}
