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
 * Only hide. has behaviour yet (left out of listxattr): the srch, totl
 * and indx index items are a later increment, so those xattrs are
 * validated (totl's .A.B.C name and u64 value, indx's .MAJOR.MINOR name
 * and empty value) and stored, nothing more.
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

/* every xattr item of an inode that is being deleted */
int sfs_xattr_delete_all(struct sfs_fs *fs, uint64_t ino, uint64_t seq);

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
