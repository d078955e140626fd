/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_CTL_OPS_H
#define SFS_CTL_OPS_H
/*
 * The control requests the fs layer answers (ctl_ops.c).  The handlers'
 * arg is the mount's struct sfs_fuse.
 */
#include "ctl.h"

extern const struct sfs_ctl_op sfs_ctl_ops[];
extern const unsigned int sfs_ctl_nr_ops;

#endif
