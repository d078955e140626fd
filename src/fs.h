/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_FS_H
#define SFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "options.h"
#include "sfs.h"

/* the FUSE side of a mounted filesystem: ops over items */
struct sfs_fuse;

/* userdata for the session: needs a mounted stack and sfs_inodes_setup */
struct sfs_fuse *sfs_fuse_create(struct sfs_fs *fs, const struct sfs_options *opts);
void sfs_fuse_free(struct sfs_fuse *sf);
/* the session the mount is served by (for kernel cache invalidations) */
void sfs_fuse_set_session(struct sfs_fuse *sf, struct fuse_session *se);
/* before the session is destroyed: parked requests are answered (EIO) */
void sfs_fuse_session_end(struct sfs_fuse *sf);

extern const struct fuse_lowlevel_ops sfs_fuse_ops;

#endif
