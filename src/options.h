/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_OPTIONS_H
#define SFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFS_RECOVERY_WINDOW_DEF_MS 30000U

/* scoutfsd's mount options (the reference's names and defaults) */
struct sfs_options {
	char *metadev_path;		/* required */
	int quorum_slot_nr;		/* -1: not a quorum member */
	uint32_t quorum_heartbeat_timeout_ms; /* [10000], 2000..60000 */
	uint64_t data_prealloc_blocks;	/* [2048] */
	bool data_prealloc_contig_only;	/* [1] */
	uint32_t orphan_scan_delay_ms;	/* [10000] */
	uint32_t srch_compact_delay_ms;	/* the reference's srch/compact_delay_ms [10000] */
	/*
	 * ours: how long a server waits for a mount to reconnect or recover
	 * before fencing it, and how long a mount cut off from every server
	 * keeps writing [30000], 2000..600000; at least three heartbeat
	 * timeouts are used (sfs_options_recovery_window)
	 */
	uint32_t recovery_window_ms;
	bool acl;			/* [acl] */
	char *run_dir;			/* base of run directories [/run/scoutfsd] */
	char *fuse_opts;		/* the rest, comma separated, for libfuse ("" if none) */
};

/*
 * Parse one -o list (may be given several times: later ones add to and
 * override earlier ones).  Generic mount(8)/fstab options are ignored.
 * 0, or -EINVAL with a one-line reason in err.
 */
int sfs_options_parse(struct sfs_options *o, const char *list, char *err, size_t err_len);
/* defaults, before the first parse */
void sfs_options_init(struct sfs_options *o);
/* after the last parse: what is required is there */
int sfs_options_check(const struct sfs_options *o, char *err, size_t err_len);
void sfs_options_free(struct sfs_options *o);
/* recovery_window_ms, raised to three times quorum_heartbeat_timeout_ms */
uint32_t sfs_options_recovery_window(const struct sfs_options *o);

#endif
