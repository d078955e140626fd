/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_CTL_OPS_H
#define SFS_CTL_OPS_H
/*
 * The control requests the fs layer answers (ctl_ops.c).  The handlers'
 * arg is the mount's struct sfs_fuse.
 */
#include "ctl.h"

/* all the tables the control socket serves (ctl_ops.c lists them) */
extern const struct sfs_ctl_table sfs_ctl_tables[];
/*
 * A module's ops, for its line in sfs_ctl_tables[]: an array and its
 * length as a constant (a struct of another file cannot initialize it).
 */
/* SET_ATTR_X, SETATTR_MORE (ctl_attr.c) */
#define SFS_CTL_ATTR_NR_OPS 2
extern const struct sfs_ctl_op sfs_ctl_attr_ops[SFS_CTL_ATTR_NR_OPS];
/* LISTXATTR_HIDDEN, READ_XATTR_TOTALS, READ_XATTR_INDEX, INJECT_TOTL_DELTA (ctl_xattr.c) */
#define SFS_CTL_XATTR_NR_OPS 4
extern const struct sfs_ctl_op sfs_ctl_xattr_ops[SFS_CTL_XATTR_NR_OPS];
/* GET_QUOTA_RULES, ADD_QUOTA_RULE, DEL_QUOTA_RULE (ctl_quota.c) */
#define SFS_CTL_QUOTA_NR_OPS 3
extern const struct sfs_ctl_op sfs_ctl_quota_ops[SFS_CTL_QUOTA_NR_OPS];
/* SEARCH_XATTRS (ctl_srch.c) */
#define SFS_CTL_SRCH_NR_OPS 1
extern const struct sfs_ctl_op sfs_ctl_srch_ops[SFS_CTL_SRCH_NR_OPS];
/* GET_VOLOPT, SET_VOLOPT, CLEAR_VOLOPT (ctl_volopt.c) */
#define SFS_CTL_VOLOPT_NR_OPS 3
extern const struct sfs_ctl_op sfs_ctl_volopt_ops[SFS_CTL_VOLOPT_NR_OPS];
/* QUORUM_STATUS, FENCE_REQUESTS, FENCE_ANSWER (ctl_quorum.c) */
#define SFS_CTL_QUORUM_NR_OPS 3
extern const struct sfs_ctl_op sfs_ctl_quorum_ops[SFS_CTL_QUORUM_NR_OPS];

/*
 * Helpers the request handlers of every module share (ctl_ops.c).
 * req_sf: the mount.  ctl_req_inode: the file the request names (T_FD, or
 * T_INO for uid 0 only) read into di.  ctl_max_records: how many records
 * of rec_size fit the reply, at most the request's T_MAX_RECORDS or def.
 */
struct sfs_fuse;
struct scoutfs_inode;
struct sfs_fuse *sfs_ctl_req_sf(struct sfs_ctl_req *req);
int sfs_ctl_req_inode(struct sfs_ctl_req *req, bool want_read, bool want_write, uint64_t *ino,
		      struct scoutfs_inode *di);
uint32_t sfs_ctl_max_records(struct sfs_ctl_req *req, uint32_t rec_size, uint32_t def);

#endif
