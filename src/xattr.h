/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_XATTR_H
#define SFS_XATTR_H

/*
 * Extended attributes as XATTR items, POSIX ACLs kept in them, and the
 * FUSE xattr ops.  See the design comment at the top of xattr.c.
 *
 * Names: user.*, trusted.*, security.*, system.posix_acl_access,
 * system.posix_acl_default (other system.* and unknown namespaces:
 * -EOPNOTSUPP), and scoutfs.* carrying one or more of the tags hide.,
 * srch., totl., indx. before a non-empty rest (reference section 5.6).
 * hide. names are left out of listxattr (sfs_xattr_list_hidden lists
 * them); totl. names (.A.B.C, a u64 value) keep the xattr totals of
 * zone 12 and indx. names (.MAJOR.MINOR, an empty value, format v2
 * only: -EOPNOTSUPP on v1) the index items of zone 14, in the
 * transaction that changes the xattr (xattr.c, invariant 4); srch.
 * names log srch entries in the same transaction (srch.c).
 *
 * The items-level calls take the inode's item lock range
 * (sfs_inode_lock(ino)); writers hold the transaction of seq and pass
 * the inode they change (next_xattr_id, ctime), which the caller writes.
 * Errors are Linux's: -ENODATA (no such name), -EEXIST / -ENODATA
 * (XATTR_CREATE / XATTR_REPLACE), -ERANGE (name over 255 bytes, or a
 * buffer too small), -E2BIG (value over 65535), -EINVAL (empty name, bad
 * tags or flags, malformed ACL), -EPERM (user.* on other than regular
 * files and directories), -EACCES (a default ACL on a non-directory).
 */

#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "sfs.h"

#include <scoutfs/format.h>

#define SFS_XATTR_ACL_ACCESS "system.posix_acl_access"
#define SFS_XATTR_ACL_DEFAULT "system.posix_acl_default"

/* the value's length (buf may be NULL when size is 0), or -errno */
int sfs_xattr_get(struct sfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size);

/*
 * Create or replace name (flags: 0, XATTR_CREATE, XATTR_REPLACE).  The
 * xattr takes the id di->next_xattr_id (which goes up); a replaced one's
 * items go.  di's ctime changes.
 */
int sfs_xattr_set(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, const char *name,
		  const void *value, size_t size, int flags, uint64_t seq);

/*
 * The NUL-terminated names (size 0: just their total length), hide.
 * tagged names left out: the byte count or -errno.
 */
int sfs_xattr_list(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size);

/* remove name (-ENODATA if absent); di's ctime changes */
int sfs_xattr_remove(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, const char *name,
		     uint64_t seq);

/* every xattr item of an inode that is being deleted, and its totl/indx items */
int sfs_xattr_delete_all(struct sfs_fs *fs, uint64_t ino, uint64_t seq);

/* is name (NUL terminated) a valid scoutfs. name with the srch. tag? */
bool sfs_xattr_name_is_srch(const char *name);

/*
 * The names of ino's scoutfs.*hide.* xattrs, each NUL terminated, from
 * the cursor (*hash, *id: a name hash and xattr id, inclusive; 0, 0 for
 * the first) in (hash, id) order, as many as fit in size bytes.  Returns
 * the bytes filled; *end says whether that was all of them.  The cursor
 * moves to the first name that did not fit, or past the last one listed
 * (so a call from there finds nothing).  -ERANGE when not even the first
 * fits.  The caller holds the inode as for listxattr.
 */
int sfs_xattr_list_hidden(struct sfs_fs *fs, uint64_t ino, uint64_t *hash, uint64_t *id,
			  char *buf, size_t size, bool *end);

/* the item key of the total of name[3] (A, B, C of scoutfs.totl.NAME.A.B.C) */
struct scoutfs_key sfs_xattr_totl_key(const uint64_t name[3]);

/*
 * Add {total, count} to the total of name[3] in the transaction of seq
 * (the caller holds it): a delta item, summed with the others by reads
 * and log merging.  For xattr changes and INJECT_TOTL_DELTA.
 */
int sfs_xattr_totl_delta(struct sfs_fs *fs, const uint64_t name[3], int64_t total, int64_t count,
			 uint64_t seq);

/*
 * A new inode di (not yet written: called between sfs_inode_init and
 * sfs_inode_create) in directory dir, on a mount with ACLs: without a
 * default ACL on dir its mode loses the umask; with one it inherits it
 * as posix_acl_create does (the mode masked by it, the access ACL and,
 * for a directory, the default ACL written).  Symlinks are left alone.
 */
int sfs_xattr_acl_create(struct sfs_fs *fs, uint64_t dir, uint64_t ino,
			 struct scoutfs_inode *di, uint32_t umask, uint64_t seq);

/*
 * The mode of di changed (chmod): its access ACL, if it has one, takes
 * the new owner, group class (the mask entry) and other bits, as
 * posix_acl_chmod does.  For op_setattr with ACLs on.
 */
int sfs_xattr_acl_chmod(struct sfs_fs *fs, uint64_t ino, struct scoutfs_inode *di, uint64_t seq);

/* the FUSE ops (sfs_fuse_ops) */
void sfs_xattr_op_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		      size_t size, int flags);
void sfs_xattr_op_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void sfs_xattr_op_list(fuse_req_t req, fuse_ino_t ino, size_t size);
void sfs_xattr_op_remove(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
