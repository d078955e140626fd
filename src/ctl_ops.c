// SPDX-License-Identifier: GPL-2.0
/*
 * What the control socket's requests do (the transport is ctl.c): the
 * reference's ioctls, answered from the item cache of this mount.
 *
 * Handlers take the namespace lock shared where they read several items
 * that a rename or unlink changes together (paths, entries), so a reply
 * never mixes states; single-item reads need no lock.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "counters.h"
#include "ctl.h"
#include "ctl_ops.h"
#include "data.h"
#include "dir.h"
#include "fs_int.h"
#include "inode.h"
#include "item.h"
#include "lock.h"
#include "log.h"
#include "server.h"
#include "trigger.h"
#include "wait.h"

struct sfs_fuse *sfs_ctl_req_sf(struct sfs_ctl_req *req)
{
	return req->arg;
}


/* the inode a request names; ino numbers need uid 0 (paths were not checked) */
int sfs_ctl_req_inode(struct sfs_ctl_req *req, bool want_read, bool want_write, uint64_t *ino,
		      struct scoutfs_inode *di)
{
	struct sfs_lock_set set;
	int ret;

	if (!sfs_ctl_has(req->in, SCOUTFS_CTL_T_FD) && req->uid != 0)
		return -EPERM;
	ret = sfs_ctl_req_file(req, want_read, want_write, ino);
	if (!ret)
		ret = sfs_fuse_lock_inodes(sfs_ctl_req_sf(req), &set, SFS_LOCK_READ, *ino, 0, 0, 0);
	if (!ret) {
		ret = sfs_inode_read(req->fs, *ino, di);
		sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, 0);
	}
	return ret;
}

uint32_t sfs_ctl_max_records(struct sfs_ctl_req *req, uint32_t rec_size, uint32_t def)
{
	uint64_t want;
	size_t room;

	if (sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_MAX_RECORDS, def, &want) || want == 0)
		want = def;
	/* the reply also carries a few u64 fields and the record size */
	room = (sfs_ctl_out_room(req->out) - 4 * sfs_ctl_field_bytes(8)) / rec_size;
	return (uint32_t)(want < room ? want : room);
}

/* ------------------------------------------------------------------ */

static int op_statfs_more(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_statfs_more sfm = { 0 };
	struct scoutfs_net_statfs nst;
	int ret;

	ret = sfs_client_statfs(req->fs, &nst);
	if (ret)
		return ret;
	sfm.fsid = req->fs->fsid;
	sfm.rid = req->fs->rid;
	sfm.committed_seq = le64toh(nst.committed_seq);
	sfm.total_meta_blocks = le64toh(nst.total_meta_blocks);
	sfm.total_data_blocks = le64toh(nst.total_data_blocks);
	sfm.reserved_meta_blocks = SFS_SERVER_META_RESERVE_DEF;
	sfm.free_meta_blocks = le64toh(nst.free_meta_blocks);
	sfm.free_data_blocks = le64toh(nst.free_data_blocks);
	sfm.inode_count = le64toh(nst.inode_count);
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_STATFS_MORE, &sfm, sizeof(sfm));
	return 0;
}

static int op_stat_more(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_stat_more stm = { 0 };
	struct scoutfs_inode di;
	uint64_t ino;
	int ret;

	ret = sfs_ctl_req_inode(req, false, false, &ino, &di);
	if (ret)
		return ret;
	stm.meta_seq = le64toh(di.meta_seq);
	stm.data_seq = le64toh(di.data_seq);
	stm.data_version = le64toh(di.data_version);
	stm.online_blocks = le64toh(di.online_blocks);
	stm.offline_blocks = le64toh(di.offline_blocks);
	stm.crtime.sec = le64toh(di.crtime.sec);
	stm.crtime.nsec = le32toh(di.crtime.nsec);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_INO, ino);
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_STAT_MORE, &stm, sizeof(stm));
	return 0;
}

static int op_get_attr_x(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_attr_x ax = { 0 };
	struct scoutfs_inode di;
	uint64_t mask;
	uint64_t ino;
	int ret;

	ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FLAGS, SCOUTFS_ATTR_X_ALL, &mask);
	if (ret)
		return ret;
	ret = sfs_ctl_req_inode(req, false, false, &ino, &di);
	if (ret)
		return ret;
	mask &= SCOUTFS_ATTR_X_ALL;
	/*
	 * Retention and project IDs are format v2 features: asked for by
	 * name on a v1 volume they are EOPNOTSUPP, as in the reference;
	 * "everything" (no mask given) means everything the volume has.
	 */
	if (sfs_inode_bytes(req->fs) < sizeof(struct scoutfs_inode) &&
	    (mask & (SCOUTFS_ATTR_X_RETENTION | SCOUTFS_ATTR_X_PROJECT_ID))) {
		if (sfs_ctl_has(req->in, SCOUTFS_CTL_T_FLAGS))
			return -EOPNOTSUPP;
		mask &= ~(SCOUTFS_ATTR_X_RETENTION | SCOUTFS_ATTR_X_PROJECT_ID);
	}
	ax.x_mask = mask;
	if (mask & SCOUTFS_ATTR_X_META_SEQ)
		ax.meta_seq = le64toh(di.meta_seq);
	if (mask & SCOUTFS_ATTR_X_DATA_SEQ)
		ax.data_seq = le64toh(di.data_seq);
	if (mask & SCOUTFS_ATTR_X_DATA_VERSION)
		ax.data_version = le64toh(di.data_version);
	if (mask & SCOUTFS_ATTR_X_ONLINE_BLOCKS)
		ax.online_blocks = le64toh(di.online_blocks);
	if (mask & SCOUTFS_ATTR_X_OFFLINE_BLOCKS)
		ax.offline_blocks = le64toh(di.offline_blocks);
	if (mask & SCOUTFS_ATTR_X_CTIME) {
		ax.ctime_sec = le64toh(di.ctime.sec);
		ax.ctime_nsec = le32toh(di.ctime.nsec);
	}
	if (mask & SCOUTFS_ATTR_X_CRTIME) {
		ax.crtime_sec = le64toh(di.crtime.sec);
		ax.crtime_nsec = le32toh(di.crtime.nsec);
	}
	if (mask & SCOUTFS_ATTR_X_SIZE)
		ax.size = le64toh(di.size);
	if ((mask & SCOUTFS_ATTR_X_RETENTION) && (le32toh(di.flags) & SCOUTFS_INO_FLAG_RETENTION))
		ax.bits |= SCOUTFS_ATTR_X_B_RETENTION;
	if (mask & SCOUTFS_ATTR_X_PROJECT_ID)
		ax.project_id = le64toh(di.proj);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_INO, ino);
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_ATTR_X, &ax, sizeof(ax));
	return 0;
}

/* ------------------------------------------------------------------ */
/* WALK_INODES                                                          */
/* ------------------------------------------------------------------ */

struct walk_ctx {
	struct scoutfs_ctl_walk_entry *ents;
	uint32_t nr;
	uint32_t max;
};

static int walk_cb(void *arg, const struct scoutfs_key *key, const void *val,
		   unsigned int val_len)
{
	struct walk_ctx *wc = arg;

	(void)val, (void)val_len;
	if (wc->nr >= wc->max)
		return 1;
	wc->ents[wc->nr].major = le64toh(key->_sk_second);
	wc->ents[wc->nr].ino = le64toh(key->_sk_third);
	wc->ents[wc->nr].minor = 0;
	wc->ents[wc->nr]._pad = 0;
	wc->nr++;
	return 0;
}

/*
 * Entries of the index from first to last, but never at or above a seq
 * that a transaction still open anywhere could use (the server's last
 * stable seq), so an agent sees entries appear in seq order only.
 */
static int walk_locked(struct sfs_ctl_req *req, uint8_t type, uint64_t fmaj, uint64_t fino,
		       uint64_t lmaj, uint64_t lino);

static int op_walk_inodes(struct sfs_ctl_req *req)
{
	uint64_t index, fmaj, fino, lmaj, lino;
	struct sfs_lock_set set;
	uint8_t type;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_INDEX, &index);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FIRST_MAJOR, 0, &fmaj);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FIRST_INO, 0, &fino);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LAST_MAJOR, UINT64_MAX, &lmaj);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LAST_INO, UINT64_MAX, &lino);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (index == SCOUTFS_CTL_WALK_META_SEQ)
		type = SCOUTFS_INODE_INDEX_META_SEQ_TYPE;
	else if (index == SCOUTFS_CTL_WALK_DATA_SEQ)
		type = SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE;
	else
		return -EINVAL;

	/*
	 * READ on the index zone takes back every mount's WRITE_ONLY, so the
	 * changes they completed are committed before the stable seq is asked
	 */
	ret = sfs_fuse_lock_zone(sfs_ctl_req_sf(req), &set, SCOUTFS_INODE_INDEX_ZONE, SFS_LOCK_READ,
				 false);
	if (ret)
		return ret;
	ret = walk_locked(req, type, fmaj, fino, lmaj, lino);
	sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, 0);
	return ret;
}

static int walk_locked(struct sfs_ctl_req *req, uint8_t type, uint64_t fmaj, uint64_t fino,
		       uint64_t lmaj, uint64_t lino)
{
	struct sfs_item_range lock = sfs_all_lock();
	struct scoutfs_key start, last;
	struct walk_ctx wc = { 0 };
	uint64_t stable;
	int ret;

	ret = sfs_client_get_last_seq(req->fs, &stable);
	if (ret)
		return ret;
	if (lmaj > stable) {
		lmaj = stable;
		lino = UINT64_MAX;
	}

	wc.max = sfs_ctl_max_records(req, sizeof(*wc.ents), 128);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(*wc.ents));
	if (fmaj > lmaj || (fmaj == lmaj && fino > lino)) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, 1);
		sfs_ctl_put_space(req->out, SCOUTFS_CTL_T_RECORDS, 0);
		return 0;
	}
	wc.ents = malloc((size_t)wc.max * sizeof(*wc.ents));
	if (!wc.ents)
		return -ENOMEM;

	start = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, type, fmaj, fino, 0);
	last = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, type, lmaj, lino, 0);
	ret = sfs_item_iterate(req->fs, &start, &last, &lock, walk_cb, &wc);
	if (ret >= 0) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, ret == 0);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, wc.ents,
			    (size_t)wc.nr * sizeof(*wc.ents));
		ret = 0;
	}
	free(wc.ents);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Names: INO_PATH, GET_REFERRING_ENTRIES                               */
/* ------------------------------------------------------------------ */

struct first_ref {
	bool found;
	uint64_t dir;
	uint64_t pos;
	char name[SCOUTFS_NAME_LEN + 1];
	unsigned int len;
};

static int first_ref_cb(void *arg, uint64_t dir, const struct sfs_dirent *de, const char *name,
			unsigned int len)
{
	struct first_ref *fr = arg;

	if (len > SCOUTFS_NAME_LEN)
		return -EIO;
	fr->found = true;
	fr->dir = dir;
	fr->pos = de->pos;
	memcpy(fr->name, name, len);
	fr->name[len] = '\0';
	fr->len = len;
	return 1;
}

/* the first name of ino at or after (dir, pos): 0, -ENOENT */
static int first_ref(struct sfs_fs *fs, uint64_t ino, uint64_t dir, uint64_t pos,
		     struct first_ref *fr)
{
	int ret;

	fr->found = false;
	ret = sfs_dir_backrefs(fs, ino, dir, pos, first_ref_cb, fr);
	if (ret < 0)
		return ret;
	return fr->found ? 0 : -ENOENT;
}

/* put name in front of the path that ends at buf + size; *off is its start */
static int prepend(char *buf, size_t *off, const char *name, unsigned int len, bool slash)
{
	size_t need = len + (slash ? 1 : 0);

	if (need > *off)
		return -ENAMETOOLONG;
	if (slash)
		buf[--(*off)] = '/';
	*off -= len;
	memcpy(buf + *off, name, len);
	return 0;
}

/* first_ref under the READ lock of ino's group (its backrefs are there) */
static int locked_first_ref(struct sfs_fuse *sf, uint64_t ino, uint64_t dir, uint64_t pos,
			    struct first_ref *fr)
{
	struct sfs_lock_set set;
	int ret;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (ret)
		return ret;
	pthread_rwlock_rdlock(&sf->ns);
	ret = first_ref(sf->fs, ino, dir, pos, fr);
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, &set, 0);
	return ret;
}

static int op_ino_path(struct sfs_ctl_req *req)
{
	struct sfs_fuse *sf = sfs_ctl_req_sf(req);
	struct first_ref *fr;
	uint64_t ino, dir, pos, up;
	unsigned int depth;
	char *buf;
	size_t off = PATH_MAX - 1;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_INO, &ino);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_DIR_INO, 0, &dir);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_DIR_POS, 0, &pos);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	fr = malloc(sizeof(*fr));
	buf = malloc(PATH_MAX);
	if (!fr || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	buf[off] = '\0';

	ret = locked_first_ref(sf, ino, dir, pos, fr);
	if (ret)
		goto unlock;
	dir = fr->dir;
	pos = fr->pos;
	ret = prepend(buf, &off, fr->name, fr->len, false);
	/* up through the first name of each directory to the root */
	for (up = dir, depth = 0; !ret && up != SFS_ROOT_INO; depth++) {
		if (depth > PATH_MAX / 2) {
			ret = -ELOOP;
			break;
		}
		ret = locked_first_ref(sf, up, 0, 0, fr);
		if (ret == -ENOENT)
			ret = -ESTALE;	/* an unlinked directory: no path */
		if (!ret)
			ret = prepend(buf, &off, fr->name, fr->len, true);
		up = fr->dir;
	}
unlock:
	if (!ret) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_DIR_INO, dir);
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_DIR_POS, pos);
		sfs_ctl_put_str(req->out, SCOUTFS_CTL_T_PATH, buf + off);
	}
out:
	free(buf);
	free(fr);
	return ret;
}

struct refs_ctx {
	uint8_t *buf;
	size_t len;
	size_t room;
	unsigned int nr;
	bool full;
};

static uint8_t dt_of(uint8_t scoutfs_type)
{
	static const uint8_t dt[] = {
		[SCOUTFS_DT_FIFO] = DT_FIFO, [SCOUTFS_DT_CHR] = DT_CHR,
		[SCOUTFS_DT_DIR] = DT_DIR,   [SCOUTFS_DT_BLK] = DT_BLK,
		[SCOUTFS_DT_REG] = DT_REG,   [SCOUTFS_DT_LNK] = DT_LNK,
		[SCOUTFS_DT_SOCK] = DT_SOCK, [SCOUTFS_DT_WHT] = DT_WHT,
	};

	return scoutfs_type < sizeof(dt) ? dt[scoutfs_type] : DT_UNKNOWN;
}

static int refs_cb(void *arg, uint64_t dir, const struct sfs_dirent *de, const char *name,
		   unsigned int len)
{
	struct refs_ctx *rc = arg;
	struct scoutfs_ctl_dirent *ent;
	size_t rec = (sizeof(*ent) + len + 7) & ~(size_t)7;

	if (len > SCOUTFS_NAME_LEN)
		return -EIO;
	if (rc->len + rec > rc->room) {
		rc->full = true;
		return 1;
	}
	ent = (struct scoutfs_ctl_dirent *)(rc->buf + rc->len);
	memset(ent, 0, rec);
	ent->dir_ino = dir;
	ent->dir_pos = de->pos;
	ent->ino = de->ino;
	ent->rec_len = (uint16_t)rec;
	ent->d_type = dt_of(de->type);
	ent->name_len = (uint8_t)len;
	memcpy(ent + 1, name, len);
	rc->len += rec;
	rc->nr++;
	return 0;
}

static int op_get_referring_entries(struct sfs_ctl_req *req)
{
	struct sfs_fuse *sf = sfs_ctl_req_sf(req);
	struct sfs_lock_set set;
	struct refs_ctx rc = { 0 };
	uint64_t ino, dir, pos;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_INO, &ino);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_DIR_INO, 0, &dir);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_DIR_POS, 0, &pos);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;

	rc.room = sfs_ctl_out_room(req->out) - 2 * sfs_ctl_field_bytes(8);
	if (rc.room > 64 * 1024)
		rc.room = 64 * 1024;
	rc.buf = malloc(rc.room);
	if (!rc.buf)
		return -ENOMEM;
	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (!ret) {
		pthread_rwlock_rdlock(&sf->ns);
		ret = sfs_dir_backrefs(req->fs, ino, dir, pos, refs_cb, &rc);
		pthread_rwlock_unlock(&sf->ns);
		sfs_fuse_unlock(sf, &set, 0);
	}
	if (ret >= 0) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, !rc.full);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, rc.buf, rc.len);
		ret = 0;
	}
	free(rc.buf);
	return ret;
}

/* ------------------------------------------------------------------ */
/* GET_ALLOCATED_INOS                                                   */
/* ------------------------------------------------------------------ */

static int op_get_allocated_inos(struct sfs_ctl_req *req)
{
	struct sfs_btree_item_ret *r;
	struct sfs_item_range lock;
	struct scoutfs_key key, last;
	struct sfs_lock_set set;
	bool locked = false;
	uint64_t start, end, *inos;
	uint32_t max, nr = 0;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_INO, &start);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	end = start | SCOUTFS_LOCK_INODE_GROUP_MASK;
	lock = sfs_inode_lock(start);
	max = sfs_ctl_max_records(req, sizeof(uint64_t), SCOUTFS_LOCK_INODE_GROUP_MASK + 1);
	r = malloc(sizeof(*r));
	inos = malloc((size_t)max * sizeof(*inos));
	if (!r || !inos) {
		ret = -ENOMEM;
		goto out;
	}
	last = sfs_key_make(SCOUTFS_FS_ZONE, end, 255, UINT64_MAX, UINT64_MAX, 255);
	key = sfs_key_make(SCOUTFS_FS_ZONE, start, 0, 0, 0, 0);
	ret = sfs_fuse_lock_inodes(sfs_ctl_req_sf(req), &set, SFS_LOCK_READ, start, 0, 0, 0);
	if (ret)
		goto out;
	locked = true;
	while (nr < max) {
		ret = sfs_item_next(req->fs, &key, &last, &lock, r);
		if (ret == -ENOENT) {
			ret = 0;
			break;
		}
		if (ret)
			goto out;
		inos[nr++] = le64toh(r->key._sk_first);
		if (le64toh(r->key._sk_first) >= end)
			break;
		key = sfs_key_make(SCOUTFS_FS_ZONE, le64toh(r->key._sk_first) + 1, 0, 0, 0, 0);
	}
	/* the group was searched to its end unless the records ran out first */
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, nr < max);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(uint64_t));
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, inos, (size_t)nr * sizeof(*inos));
out:
	if (locked)
		sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, 0);
	free(inos);
	free(r);
	return ret;
}

/* ------------------------------------------------------------------ */
/* RELEASE, STAGE                                                       */
/* ------------------------------------------------------------------ */

static int op_release(struct sfs_ctl_req *req)
{
	uint64_t ino, off, len, dv;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_OFFSET, &off);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_LENGTH, &len);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_DATA_VERSION, &dv);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (!sfs_ctl_has(req->in, SCOUTFS_CTL_T_FD) && req->uid != 0)
		return -EPERM;
	ret = sfs_ctl_req_file(req, false, true, &ino);
	if (ret)
		return ret;
	return sfs_data_release(sfs_ctl_req_sf(req), ino, off, len, dv);
}

#define STAGE_CHUNK (1024 * 1024)

/* fill buf with n bytes of src (at *pos, or its position when *pos is -1) */
static int read_src(int fd, char *buf, size_t n, uint64_t *pos)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (*pos == UINT64_MAX)
			r = read(fd, buf + got, n - got);
		else
			r = pread(fd, buf + got, n - got, (off_t)(*pos + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENODATA;	/* the source is shorter than the length */
		got += (size_t)r;
	}
	if (*pos != UINT64_MAX)
		*pos += n;
	return 0;
}

static int op_stage(struct sfs_ctl_req *req)
{
	uint64_t ino, off, len, dv, sidx, spos, done = 0;
	size_t n;
	char *buf;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_OFFSET, &off);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_LENGTH, &len);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_DATA_VERSION, &dv);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_SRC_FD, &sidx);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_SRC_OFFSET, UINT64_MAX, &spos);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (sidx >= (uint64_t)req->in->nr_fds || req->in->fds[sidx] < 0)
		return -EBADF;
	if (!sfs_ctl_has(req->in, SCOUTFS_CTL_T_FD) && req->uid != 0)
		return -EPERM;
	ret = sfs_ctl_req_file(req, false, true, &ino);
	if (ret)
		return ret;
	if (off + len < off)
		return -EINVAL;

	buf = malloc(STAGE_CHUNK);
	if (!buf)
		return -ENOMEM;
	while (done < len) {
		n = len - done < STAGE_CHUNK ? (size_t)(len - done) : STAGE_CHUNK;
		ret = read_src(req->in->fds[sidx], buf, n, &spos);
		if (ret)
			break;
		ret = sfs_data_stage(sfs_ctl_req_sf(req), ino, dv, off + done, buf, n);
		if (ret)
			break;
		done += n;
	}
	free(buf);
	/* what was staged stays staged; the error says why the rest was not */
	if (ret)
		return ret;
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_LENGTH, done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* PUNCH_OFFLINE, MOVE_BLOCKS                                           */
/* ------------------------------------------------------------------ */

static int op_punch_offline(struct sfs_ctl_req *req)
{
	uint64_t ino, off, len, dv, flags;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_OFFSET, &off);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_LENGTH, &len);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_DATA_VERSION, &dv);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FLAGS, 0, &flags);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (flags)
		return -EINVAL;
	if (!sfs_ctl_has(req->in, SCOUTFS_CTL_T_FD) && req->uid != 0)
		return -EPERM;
	ret = sfs_ctl_req_file(req, false, true, &ino);
	if (ret)
		return ret;
	return sfs_data_punch_offline(sfs_ctl_req_sf(req), ino, off, len, dv);
}

static int op_move_blocks(struct sfs_ctl_req *req)
{
	uint64_t from, to, from_off, to_off, len, dv, flags;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_SRC_OFFSET, &from_off);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_LENGTH, &len);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_OFFSET, &to_off);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_DATA_VERSION, 0, &dv);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FLAGS, 0, &flags);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (flags & ~(uint64_t)SCOUTFS_CTL_MOVE_BLOCKS_STAGE)
		return -EINVAL;
	/* both files by fd, both open for writing (the reference's fmode and MAY_WRITE) */
	ret = sfs_ctl_req_fd(req, SCOUTFS_CTL_T_FD, false, true, &to);
	if (!ret)
		ret = sfs_ctl_req_fd(req, SCOUTFS_CTL_T_SRC_FD, false, true, &from);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	return sfs_data_move_blocks(sfs_ctl_req_sf(req), from, from_off, len, to, to_off, dv,
				    flags & SCOUTFS_CTL_MOVE_BLOCKS_STAGE);
}

/* ------------------------------------------------------------------ */
/* DATA_WAITING, DATA_WAIT_ERR                                          */
/* ------------------------------------------------------------------ */

static int op_data_waiting(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_waiting *recs = NULL;
	struct sfs_wait_ent *ents = NULL;
	uint64_t ino, iblock;
	uint32_t max;
	unsigned int i, n;
	int ret;

	ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_INO, 0, &ino);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_IBLOCK, 0, &iblock);
	if (ret)
		return ret;
	max = sfs_ctl_max_records(req, sizeof(*recs), 128);
	ents = calloc(max ? max : 1, sizeof(*ents));
	recs = calloc(max ? max : 1, sizeof(*recs));
	if (!ents || !recs) {
		ret = -ENOMEM;
		goto out;
	}
	n = sfs_wait_list(sfs_ctl_req_sf(req), ino, iblock, ents, max);
	for (i = 0; i < n; i++) {
		recs[i].ino = ents[i].ino;
		recs[i].iblock = ents[i].iblock;
		recs[i].op = ents[i].op;
	}
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, n < max);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(*recs));
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, recs, (size_t)n * sizeof(*recs));
out:
	free(ents);
	free(recs);
	return ret;
}

static int op_data_wait_err(struct sfs_ctl_req *req)
{
	uint64_t ino, off, count, ops, err;
	unsigned int n;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_INO, &ino);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_OFFSET, &off);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_LENGTH, &count);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_OP, &ops);
	if (!ret)
		ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_ERR, &err);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (count == 0 || off + count < off || err == 0 || err > 4095 || ops == 0 ||
	    (ops & ~(uint64_t)(SCOUTFS_CTL_WAIT_READ | SCOUTFS_CTL_WAIT_WRITE |
			       SCOUTFS_CTL_WAIT_CHANGE_SIZE)))
		return -EINVAL;
	n = sfs_wait_err(sfs_ctl_req_sf(req), ino, off >> SCOUTFS_BLOCK_SM_SHIFT,
			 (off + count - 1) >> SCOUTFS_BLOCK_SM_SHIFT, (unsigned int)ops, -(int)err);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_COUNT, n);
	return 0;
}

/* ------------------------------------------------------------------ */
/* COUNTERS                                                             */
/* ------------------------------------------------------------------ */

static int counter_name_cmp(const void *a, const void *b)
{
	return strcmp(sfs_counter_name(*(const enum sfs_counter *)a),
		      sfs_counter_name(*(const enum sfs_counter *)b));
}

/* one variable-length record per counter, in name order */
static int op_counters(struct sfs_ctl_req *req)
{
	enum sfs_counter order[SFS_CTR_NR];
	struct scoutfs_ctl_counter *cr;
	const char *name;
	uint8_t *buf;
	size_t len = 0, rec, nlen;
	int c, i;

	buf = calloc(SFS_CTR_NR, sizeof(*cr) + 64);
	if (!buf)
		return -ENOMEM;
	for (c = 0; c < SFS_CTR_NR; c++)
		order[c] = (enum sfs_counter)c;
	qsort(order, SFS_CTR_NR, sizeof(order[0]), counter_name_cmp);
	for (i = 0; i < SFS_CTR_NR; i++) {
		c = order[i];
		name = sfs_counter_name((enum sfs_counter)c);
		nlen = strlen(name);
		if (nlen > 56)
			nlen = 56;
		rec = (sizeof(*cr) + nlen + 7) & ~(size_t)7;
		cr = (struct scoutfs_ctl_counter *)(buf + len);
		cr->value = sfs_counter_get(req->fs, (enum sfs_counter)c);
		cr->rec_len = (uint16_t)rec;
		cr->name_len = (uint8_t)nlen;
		memcpy(cr + 1, name, nlen);
		len += rec;
	}
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, buf, len);
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------ */
/* TRIGGER                                                              */
/* ------------------------------------------------------------------ */

static int op_trigger(struct sfs_ctl_req *req)
{
	char name[65];
	const void *v;
	uint32_t len;
	int t;

	v = sfs_ctl_get(req->in, SCOUTFS_CTL_T_NAME, &len);
	if (!v || len == 0 || len >= sizeof(name) || memchr(v, '\0', len))
		return -EINVAL;
	memcpy(name, v, len);
	name[len] = '\0';
	t = sfs_trigger_lookup(name);
	if (t < 0)
		return -ENOENT;
	sfs_trigger_arm(req->fs, (enum sfs_trigger)t);
	sfs_info(req->fs, "ctl: trigger %s armed", name);
	return 0;
}

static const struct sfs_ctl_op ops[] = {
	{ SCOUTFS_CTL_WALK_INODES, "walk_inodes", false, op_walk_inodes },
	{ SCOUTFS_CTL_INO_PATH, "ino_path", true, op_ino_path },
	{ SCOUTFS_CTL_STAT_MORE, "stat_more", false, op_stat_more },
	{ SCOUTFS_CTL_STATFS_MORE, "statfs_more", false, op_statfs_more },
	{ SCOUTFS_CTL_GET_ALLOCATED_INOS, "get_allocated_inos", true, op_get_allocated_inos },
	{ SCOUTFS_CTL_GET_REFERRING_ENTRIES, "get_referring_entries", true,
	  op_get_referring_entries },
	{ SCOUTFS_CTL_GET_ATTR_X, "get_attr_x", false, op_get_attr_x },
	{ SCOUTFS_CTL_COUNTERS, "counters", false, op_counters },
	{ SCOUTFS_CTL_RELEASE, "release", false, op_release },
	{ SCOUTFS_CTL_STAGE, "stage", false, op_stage },
	{ SCOUTFS_CTL_DATA_WAITING, "data_waiting", false, op_data_waiting },
	{ SCOUTFS_CTL_PUNCH_OFFLINE, "punch_offline", false, op_punch_offline },
	{ SCOUTFS_CTL_MOVE_BLOCKS, "move_blocks", false, op_move_blocks },
	{ SCOUTFS_CTL_DATA_WAIT_ERR, "data_wait_err", true, op_data_wait_err },
	{ SCOUTFS_CTL_TRIGGER, "trigger", true, op_trigger },
};

/* every module's requests; one line per module, before the end marker */
const struct sfs_ctl_table sfs_ctl_tables[] = {
	{ ops, sizeof(ops) / sizeof(ops[0]) },
	{ sfs_ctl_attr_ops, SFS_CTL_ATTR_NR_OPS },
	{ sfs_ctl_xattr_ops, SFS_CTL_XATTR_NR_OPS },
	{ sfs_ctl_quota_ops, SFS_CTL_QUOTA_NR_OPS },
	{ sfs_ctl_srch_ops, SFS_CTL_SRCH_NR_OPS },
	{ sfs_ctl_volopt_ops, SFS_CTL_VOLOPT_NR_OPS },
	{ sfs_ctl_quorum_ops, SFS_CTL_QUORUM_NR_OPS },
	{ NULL, 0 },
};
