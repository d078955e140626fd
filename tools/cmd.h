/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TOOLS_CMD_H
#define SFS_TOOLS_CMD_H

/*
 * The commands of the scoutfs CLI.  Each takes the arguments after its
 * name (argv[0] is the command name) and returns the process exit status:
 * 0 on success, 1 on an error it has already explained on stderr, 2 for a
 * usage error.
 */

#include <stdint.h>

int sfs_cmd_mkfs(int argc, char **argv);
int sfs_cmd_print(int argc, char **argv);
/* cli_query.c: asking a mount's daemon through libscoutfs */
int sfs_cmd_statfs(int argc, char **argv);
int sfs_cmd_df(int argc, char **argv);
int sfs_cmd_stat(int argc, char **argv);
int sfs_cmd_get_attr_x(int argc, char **argv);
int sfs_cmd_walk_inodes(int argc, char **argv);
int sfs_cmd_ino_path(int argc, char **argv);
int sfs_cmd_get_referring_entries(int argc, char **argv);
int sfs_cmd_get_allocated_inos(int argc, char **argv);
int sfs_cmd_counters(int argc, char **argv);
int sfs_cmd_release(int argc, char **argv);
int sfs_cmd_stage(int argc, char **argv);
int sfs_cmd_data_waiting(int argc, char **argv);
int sfs_cmd_data_wait_err(int argc, char **argv);
int sfs_cmd_punch_offline(int argc, char **argv);
int sfs_cmd_move_blocks(int argc, char **argv);
/* cli_attr.c: restoring a file's attributes */
int sfs_cmd_setattr(int argc, char **argv);
int sfs_cmd_set_attr_x(int argc, char **argv);

/* cli_xattr.c: the tagged xattrs' totals, index and hidden names */
int sfs_cmd_read_xattr_totals(int argc, char **argv);
int sfs_cmd_read_xattr_index(int argc, char **argv);
int sfs_cmd_list_hidden_xattrs(int argc, char **argv);
int sfs_cmd_search_xattrs(int argc, char **argv);

/* cli_quota.c: quota rules */
int sfs_cmd_quota_add(int argc, char **argv);
int sfs_cmd_quota_del(int argc, char **argv);
int sfs_cmd_quota_list(int argc, char **argv);
int sfs_cmd_quota_wipe(int argc, char **argv);
int sfs_cmd_quota_restore(int argc, char **argv);

/* cli_volopt.c: the volume options */
int sfs_cmd_volume_options(int argc, char **argv);
int sfs_cmd_quorum(int argc, char **argv);
int sfs_cmd_fence_requests(int argc, char **argv);

/* shared argument parsing: 0 or -EINVAL */
int sfs_parse_u64(const char *str, uint64_t *val);
/* bytes with an optional K, M, G, T or P (powers of 1024) suffix */
int sfs_parse_size(const char *str, uint64_t *val);

#endif
