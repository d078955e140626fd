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

/*
 * A cluster lock over inodes [first, last] is being given up: the kernel
 * drops what it caches of every one of them it knows (pages, attributes),
 * and requests parked on their offline data look again.  Holds no daemon
 * lock while the kernel works (it may wait on our own requests).
 */
void sfs_fuse_kernel_invalidate(struct sfs_fuse *sf, uint64_t first, uint64_t last);
/* how many inodes the kernel holds lookups of (tests, diagnostics) */
size_t sfs_fuse_nr_known(struct sfs_fuse *sf);

extern const struct fuse_lowlevel_ops sfs_fuse_ops;

#endif
