/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_LOG_H
#define SFS_LOG_H

/*
 * The one logging path.  Every line is tagged with the fsid and rid of the
 * fs it concerns ("f.XXXXXX r.YYYYYY", the top 24 bits of each, as the
 * reference names its mounts) and, for the daemon under systemd, carries
 * a journald "<N>" priority prefix.  No bare printf in src/.
 */

#include <syslog.h>
#include "sfs.h"

void sfs_fs_log_init(struct sfs_fs *fs, const char *ident);
void sfs_log(struct sfs_fs *fs, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define sfs_err(fs, fmt, ...) sfs_log(fs, LOG_ERR, fmt, ##__VA_ARGS__)
#define sfs_warn(fs, fmt, ...) sfs_log(fs, LOG_WARNING, fmt, ##__VA_ARGS__)
#define sfs_info(fs, fmt, ...) sfs_log(fs, LOG_INFO, fmt, ##__VA_ARGS__)
#define sfs_debug(fs, fmt, ...) sfs_log(fs, LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
