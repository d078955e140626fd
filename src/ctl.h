/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_CTL_H
#define SFS_CTL_H
/*
 * The mount's run directory and control socket (docs/ctl-protocol.md).
 * This module owns the transport: the directory and its files, the
 * listening socket, one thread per connection, message checks, HELLO,
 * permissions and dispatch.  What each request does is in the handlers
 * the fs layer registers (src/ctl_ops.c).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs.h"
#include "ctl_msg.h"

struct sfs_ctl_req {
	struct sfs_fs *fs;
	void *arg;			/* the handlers' (sfs_ctl_opts.arg) */
	const struct sfs_ctl_in *in;
	struct sfs_ctl_out *out;	/* the reply: handlers put fields */
	uid_t uid;			/* the peer, from SO_PEERCRED */
	gid_t gid;
	pid_t pid;
	dev_t dev;			/* the mount's st_dev */
};

/* 0 (the reply holds the result) or -errno (the reply is just the error) */
typedef int (*sfs_ctl_handler)(struct sfs_ctl_req *req);

struct sfs_ctl_op {
	uint16_t type;		/* SCOUTFS_CTL_* */
	const char *name;	/* for logs */
	bool root;		/* uid 0 only (the reference needs a capability) */
	sfs_ctl_handler fn;
};

/* the requests one module answers */
struct sfs_ctl_table {
	const struct sfs_ctl_op *ops;
	unsigned int nr;
};

struct sfs_ctl_opts {
	const char *run_base;	/* NULL: SCOUTFS_CTL_RUN_BASE */
	const char *mount_point;
	dev_t dev;		/* the mount's st_dev, 0 when not known */
	uint64_t fmt_vers;
	const struct sfs_ctl_table *tables;	/* ends with a NULL ops */
	void *arg;
	/* lines for the run directory's mount_options file */
	const char *mount_options;
};

/*
 * Make the run directory early, with fsid, rid and pid only (fs->fsid
 * and fs->rid set): a leader elected while its mount starts puts its
 * fence requests there (fence.c), and the mount's greeting may wait for
 * them.  sfs_ctl_start then adds the rest.  0 or -errno (logged).
 */
int sfs_ctl_prepare(struct sfs_fs *fs, const char *run_base);
/* make the run directory (or complete the prepared one) and start serving; 0 or -errno */
int sfs_ctl_start(struct sfs_fs *fs, const struct sfs_ctl_opts *opts);
/* close every connection, wait for their threads, remove the run directory */
void sfs_ctl_stop(struct sfs_fs *fs);
/* the run directory, NULL when not started */
const char *sfs_ctl_run_dir(struct sfs_fs *fs);

/*
 * Write dir/name whole, as readers of run directories expect: into
 * name.tmp, then renamed over name.  0 or -errno.
 */
int sfs_ctl_vwrite_file(const char *dir, const char *name, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * The file a request names (a T_FD of a passed fd, or T_INO): its inode
 * number.  A passed fd must be on this mount (-EXDEV otherwise); with
 * want_write it must be open for writing (-EBADF), with want_read open for
 * reading (-EBADF).  -EINVAL when neither field is there.
 */
int sfs_ctl_req_file(struct sfs_ctl_req *req, bool want_read, bool want_write, uint64_t *ino);

/*
 * The file of the passed fd that field tag indexes, with the checks of
 * sfs_ctl_req_file; -ENOENT when the field is absent.
 */
int sfs_ctl_req_fd(struct sfs_ctl_req *req, uint16_t tag, bool want_read, bool want_write,
		   uint64_t *ino);

/* the st_dev of the FUSE mount on mnt, from /proc/self/mountinfo */
int sfs_ctl_mount_dev(const char *mnt, dev_t *dev);

#endif
