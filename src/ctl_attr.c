// SPDX-License-Identifier: GPL-2.0
/*
 * Restoring a file's attributes through the control socket: SET_ATTR_X
 * and SETATTR_MORE (reference-scoutfs.md sections 5.4 and 5.5).
 *
 * Model
 * -----
 * An archive agent restoring a file creates it empty and then sets, in
 * one request, what a write would have set: its size and data_version
 * (with its whole contents offline, to be staged later, or sparse), its
 * ctime and crtime.  The same request sets the format v2 attributes: the
 * retention flag, which freezes a regular file (fs.c, data.c, xattr.c
 * refuse changes to it with EPERM), and the project ID.  SETATTR_MORE is
 * the older, fixed form: ctime, crtime and size always, data_version when
 * it is not 0, OFFLINE as SIZE_OFFLINE; it also wants an fd open for
 * writing.
 *
 * Invariants
 * ----------
 * 1. Nothing changes unless every check passed: the request alone (mask
 *    and flag bits, format version), then the inode under its locks
 *    (check_inode: the reference's rules, then retention).  Of the
 *    changes only the offline extent can fail (space), so it is made
 *    first; the inode fields are set after it and the inode written once.
 * 2. size and data_version change only on a regular file whose
 *    data_version is still 0: one that never had contents, so it has no
 *    extents and no writes in flight, and the offline extent replaces
 *    nothing.
 * 3. A data_version set is never 0, and a size above 0 comes with one:
 *    a file never has contents at data_version 0.
 * 4. A file under retention changes only in a call that clears it.
 *
 * Locking: sfs_fuse_contents_lock (ns shared, the file's data lock
 * exclusive, its inode lock: the order of fs_int.h), then the
 * transaction.  The kernel's cached pages and attributes of the file are
 * dropped after everything is released (the kernel may call us back).
 *
 * Failure: an error before the transaction changes nothing.  One inside
 * it (item cache or allocator errors) may leave the offline extent
 * without the inode's new fields, as in the reference: there is no undo
 * inside a transaction.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "ctl_ops.h"
#include "data.h"
#include "fs_int.h"
#include "inode.h"
#include "lock.h"
#include "trans.h"

/* the attributes that exist from format version 2 on */
#define V2_BITS (SCOUTFS_ATTR_X_RETENTION | SCOUTFS_ATTR_X_PROJECT_ID)

/* a struct field of the request; shorter ones (older clients) are zero filled */
static int get_struct(struct sfs_ctl_req *req, uint16_t tag, void *dst, size_t size)
{
	uint32_t len;
	const void *v = sfs_ctl_get(req->in, tag, &len);

	if (!v)
		return -EINVAL;
	memset(dst, 0, size);
	memcpy(dst, v, len < size ? len : size);
	return 0;
}

/* what can be said of a request without the file: unknown bits, format version */
static int check_request(struct sfs_fs *fs, const struct scoutfs_ctl_attr_x *ax)
{
	if ((ax->x_mask & ~SCOUTFS_ATTR_X_ALL) || (ax->x_flags & ~SCOUTFS_ATTR_X_F_SIZE_OFFLINE))
		return -EINVAL;
	if ((ax->x_mask & V2_BITS) && sfs_inode_fmt_vers(fs) < 2)
		return -EOPNOTSUPP;
	return 0;
}

/* the reference's rules for the inode (invariants 2-4) */
static int check_inode(const struct scoutfs_inode *di, const struct scoutfs_ctl_attr_x *ax)
{
	uint64_t m = ax->x_mask;
	bool reg = S_ISREG(le32toh(di->mode));
	int ret;

	if ((m & SCOUTFS_ATTR_X_DATA_VERSION) && ax->data_version == 0)
		return -EINVAL;
	if ((m & (SCOUTFS_ATTR_X_SIZE | SCOUTFS_ATTR_X_DATA_VERSION)) &&
	    (!reg || le64toh(di->data_version) != 0))
		return -EINVAL;
	if ((m & SCOUTFS_ATTR_X_SIZE) && ax->size > 0 &&
	    (!(m & SCOUTFS_ATTR_X_DATA_VERSION) || ax->data_version == 0))
		return -EINVAL;
	if ((ax->x_flags & SCOUTFS_ATTR_X_F_SIZE_OFFLINE) &&
	    (!(m & SCOUTFS_ATTR_X_SIZE) || ax->size == 0))
		return -EINVAL;
	if ((m & SCOUTFS_ATTR_X_RETENTION) && !reg)
		return -EINVAL;
	/* our limit (off_t): the reference's i_size would take it and fail later */
	if ((m & SCOUTFS_ATTR_X_SIZE) && ax->size > SFS_DATA_MAX_BYTES)
		return -EFBIG;

	ret = sfs_inode_retention_check(di);
	if (ret && (m & SCOUTFS_ATTR_X_RETENTION) && !(ax->bits & SCOUTFS_ATTR_X_B_RETENTION))
		ret = 0;	/* this call clears it */
	return ret;
}

static void set_time(struct scoutfs_timespec *ts, uint64_t sec, uint32_t nsec)
{
	memset(ts, 0, sizeof(*ts));
	ts->sec = htole64(sec);
	ts->nsec = htole32(nsec);
}

/* every check passed: the changes, in the transaction of seq (invariant 1) */
static int change(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di,
		  const struct scoutfs_ctl_attr_x *ax, uint64_t seq)
{
	uint64_t m = ax->x_mask;
	uint32_t flags;
	int ret = 0;

	if (ax->x_flags & SCOUTFS_ATTR_X_F_SIZE_OFFLINE)
		ret = sfs_data_init_offline(fs, ino, di, ax->size, seq);
	if (!ret && (m & SCOUTFS_ATTR_X_DATA_VERSION))
		ret = sfs_inode_set_data_version(fs, ino, di, ax->data_version, seq);
	if (ret)
		return ret;
	if (m & SCOUTFS_ATTR_X_SIZE)
		di->size = htole64(ax->size);
	if (m & SCOUTFS_ATTR_X_CTIME)
		set_time(&di->ctime, ax->ctime_sec, ax->ctime_nsec);
	if (m & SCOUTFS_ATTR_X_CRTIME)
		set_time(&di->crtime, ax->crtime_sec, ax->crtime_nsec);
	if (m & SCOUTFS_ATTR_X_RETENTION) {
		flags = le32toh(di->flags) & ~SCOUTFS_INO_FLAG_RETENTION;
		if (ax->bits & SCOUTFS_ATTR_X_B_RETENTION)
			flags |= SCOUTFS_INO_FLAG_RETENTION;
		di->flags = htole32(flags);
	}
	if (m & SCOUTFS_ATTR_X_PROJECT_ID)
		di->proj = htole64(ax->project_id);
	/* meta_seq moves even when only ignored bits were named, as the reference */
	return sfs_inode_update(fs, ino, di, seq);
}

/* SET_ATTR_X of ino, the caller being allowed to */
static int set_attr_x(struct sfs_ctl_req *req, uint64_t ino, const struct scoutfs_ctl_attr_x *ax)
{
	struct sfs_fuse *sf = sfs_ctl_req_sf(req);
	struct sfs_fs *fs = req->fs;
	struct sfs_lock_set set;
	struct scoutfs_inode di;
	uint64_t seq = 0;
	int ret;

	if (ax->x_mask == 0)
		return 0;
	ret = check_request(fs, ax);
	if (ret)
		return ret;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_WRITE, ino, 0, 0, 0);
	if (ret)
		return ret;
	sfs_fuse_contents_lock(sf, ino);
	ret = sfs_inode_read(fs, ino, &di);
	if (!ret)
		ret = check_inode(&di, ax);
	if (!ret) {
		ret = sfs_trans_hold(fs, true, &seq);
		if (!ret) {
			seq = sfs_fuse_lock_seq(&set, seq);
			ret = change(fs, ino, &di, ax, seq);
			sfs_trans_release(fs);
		}
	}
	sfs_fuse_contents_unlock(sf, ino);
	sfs_fuse_unlock(sf, &set, seq);
	/* the kernel's pages and attributes of the file are stale */
	if (!ret)
		sfs_fuse_inval_data(sf, ino, 0, 0);
	return ret;
}

/* root only (the table says so); the file by fd (any open mode) or number */
static int op_set_attr_x(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_attr_x ax;
	uint64_t ino;
	int ret;

	ret = get_struct(req, SCOUTFS_CTL_T_ATTR_X, &ax, sizeof(ax));
	if (!ret)
		ret = sfs_ctl_req_file(req, false, false, &ino);
	if (!ret)
		ret = set_attr_x(req, ino, &ax);
	return ret;
}

/*
 * The reference's order: an fd open for writing (EBADF: also when the
 * file is named by number), the flags, then root (EPERM).
 */
static int op_setattr_more(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_setattr_more sm;
	struct scoutfs_ctl_attr_x ax = { 0 };
	uint64_t ino;
	int ret;

	if (!sfs_ctl_has(req->in, SCOUTFS_CTL_T_FD))
		return -EBADF;
	ret = sfs_ctl_req_file(req, false, true, &ino);
	if (!ret)
		ret = get_struct(req, SCOUTFS_CTL_T_SETATTR_MORE, &sm, sizeof(sm));
	if (ret)
		return ret;
	if (sm.flags & ~SCOUTFS_CTL_SETATTR_MORE_OFFLINE)
		return -EINVAL;
	if (req->uid != 0)
		return -EPERM;

	ax.x_mask = SCOUTFS_ATTR_X_CTIME | SCOUTFS_ATTR_X_CRTIME | SCOUTFS_ATTR_X_SIZE;
	if (sm.data_version) {
		ax.x_mask |= SCOUTFS_ATTR_X_DATA_VERSION;
		ax.data_version = sm.data_version;
	}
	if (sm.flags & SCOUTFS_CTL_SETATTR_MORE_OFFLINE)
		ax.x_flags = SCOUTFS_ATTR_X_F_SIZE_OFFLINE;
	ax.size = sm.i_size;
	ax.ctime_sec = sm.ctime.sec;
	ax.ctime_nsec = sm.ctime.nsec;
	ax.crtime_sec = sm.crtime.sec;
	ax.crtime_nsec = sm.crtime.nsec;
	return set_attr_x(req, ino, &ax);
}

/* listed in sfs_ctl_tables[] (ctl_ops.c); the count is checked against ctl_ops.h */
const struct sfs_ctl_op sfs_ctl_attr_ops[] = {
	{ SCOUTFS_CTL_SETATTR_MORE, "setattr_more", false, op_setattr_more },
	{ SCOUTFS_CTL_SET_ATTR_X, "set_attr_x", true, op_set_attr_x },
};
