// SPDX-License-Identifier: GPL-2.0
/*
 * scoutfsd: one mount of a scoutfs volume, served over FUSE.
 *
 *   scoutfsd [-f] [-d] [-o OPTIONS] DATA-DEVICE MOUNTPOINT
 *
 * Without -f it forks first (before any thread exists) and the parent
 * exits only once the child's mount is live (0) or failed (1, with the
 * child's one-line reason on stderr); the child carries on as the daemon,
 * logging to syslog.  Under systemd (Type=notify) READY=1 is sent once
 * the mount is live.  SIGTERM, SIGINT and umount end it cleanly: the FUSE
 * mount goes, the transaction commits, the server hears farewell.
 *
 * Refusals come before anything is written (preflight()): the options,
 * the mount point, the options FUSE takes, and both devices opened
 * read-only (each super block, the pair, the quorum slot).  Each is one
 * line on stderr, "scoutfsd: cannot mount DATA: WHY", WHY naming the
 * device or option at fault, and exit status 1.  What can only fail once
 * the mount is under way (no server elected, FUSE's mount(2)) is
 * reported after the log lines that led to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "block.h"
#include "fs.h"
#include "inode.h"
#include "log.h"
#include "mount.h"
#include "options.h"
#include "ctl.h"
#include "ctl_ops.h"
#include "counters.h"
#include "quorum.h"
#include "quota.h"
#include "super.h"
#include "wait.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: scoutfsd [-f] [-d] [-o OPTIONS] DATA-DEVICE MOUNTPOINT\n"
		"Mount the scoutfs volume on DATA-DEVICE (and -o metadev_path=META-DEVICE) at MOUNTPOINT.\n"
		"\n"
		"  -f            stay in the foreground (log to stderr)\n"
		"  -d            log debug messages\n"
		"  -o OPTIONS    comma-separated mount options: metadev_path=PATH (required),\n"
		"                quorum_slot_nr=N, quorum_heartbeat_timeout_ms=N,\n"
		"                data_prealloc_blocks=N, data_prealloc_contig_only=0|1,\n"
		"                orphan_scan_delay_ms=N, srch_compact_delay_ms=N,\n"
		"                recovery_window_ms=N, acl|noacl,\n"
		"                and FUSE's (allow_other, ...)\n"
		"  -h, --help    this help\n"
		"  -V, --version the version\n"
		"See scoutfsd(8).\n");
}

static void syslog_sink(void *arg, int prio, const char *line)
{
	(void)arg;
	syslog(prio, "%s", line);
}

/* the daemonizing parent: wait for the child's verdict */
static int wait_for_child(int rfd)
{
	char status = 1;

	if (read(rfd, &status, 1) != 1)
		status = 1;	/* the child died before it could say */
	return status;
}

static void tell_parent(int *wfd, char status)
{
	if (*wfd < 0)
		return;
	if (write(*wfd, &status, 1) != 1) {
		/* the parent is gone: nobody to tell */
	}
	close(*wfd);
	*wfd = -1;
}

/*
 * FUSE gives a mount at most the VM's default readahead (128 KiB), which
 * caps a sequential read at one 128 KiB request at a time.  Raise the
 * mount's bdi to 1 MiB (max_write and max_readahead match).  Best effort:
 * read from /proc/self/mountinfo, which sends no request to ourselves.
 */
static void tune_readahead(struct sfs_fs *fs, const char *mnt)
{
	char real[PATH_MAX], line[4096], path[PATH_MAX], dev[32], sys[96];
	unsigned int maj, min;
	bool found = false;
	FILE *f;
	int fd;

	if (!realpath(mnt, real))
		return;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint ... */
		if (sscanf(line, "%*u %*u %31s %*s %4095s", dev, path) == 2 &&
		    strcmp(path, real) == 0 && sscanf(dev, "%u:%u", &maj, &min) == 2)
			found = true;	/* the last one is the newest */
	}
	fclose(f);
	if (!found)
		return;
	snprintf(sys, sizeof(sys), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	fd = open(sys, O_WRONLY);
	if (fd < 0 || write(fd, "1024", 4) != 4)
		sfs_debug(fs, "readahead of %s not raised (%s): %s", mnt, sys, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void to_dev_null(bool and_stderr)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	if (and_stderr)
		dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* ------------------------------------------------------------------ */
/* Preflight: every refusal, before a byte is written                  */
/* ------------------------------------------------------------------ */

/* a log sink that keeps the first error line, without its "ident: " */
struct first_err {
	char line[512];
};

static void first_err_sink(void *arg, int prio, const char *line)
{
	struct first_err *fe = arg;
	const char *msg = strstr(line, ": ");

	if (prio > LOG_ERR || fe->line[0])
		return;
	snprintf(fe->line, sizeof(fe->line), "%s", msg ? msg + 2 : line);
}

/*
 * libfuse says why it refuses options through fuse_log(), in pieces that
 * make one line; its log function takes no argument, hence the static
 * buffer (main's thread only, before any other thread exists).
 */
static char fuse_refusal[512];

static void fuse_refusal_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t have = strlen(fuse_refusal);

	(void)level;
	if (have < sizeof(fuse_refusal) - 1)
		vsnprintf(fuse_refusal + have, sizeof(fuse_refusal) - have, fmt, ap);
}

/* the FUSE options as the session will get them: parse them without mounting */
static int check_fuse_opts(const char *argv0, const char *fopts, char *why, size_t why_len)
{
	static const struct fuse_lowlevel_ops no_ops;
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	const char *bad;
	size_t len;
	int ret = 0;

	if (fuse_opt_add_arg(&fargs, argv0) || fuse_opt_add_arg(&fargs, "-o") ||
	    fuse_opt_add_arg(&fargs, fopts)) {
		snprintf(why, why_len, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	fuse_refusal[0] = '\0';
	fuse_set_log_func(fuse_refusal_log);
	se = fuse_session_new(&fargs, &no_ops, sizeof(no_ops), NULL);
	fuse_set_log_func(NULL);
	if (se)
		goto out;

	ret = -EINVAL;
	len = strcspn(fuse_refusal, "\n");
	fuse_refusal[len] = '\0';
	/* "fuse: unknown option(s): `-o bogus,other'" */
	bad = strstr(fuse_refusal, "unknown option(s): `-o ");
	if (bad) {
		bad += strlen("unknown option(s): `-o ");
		len = strcspn(bad, "'");
		snprintf(why, why_len, "unknown option%s %.*s (see scoutfsd -h)",
			 memchr(bad, ',', len) ? "s" : "", (int)len, bad);
	} else if (fuse_refusal[0]) {
		/* "fuse: invalid parameter in option `max_read=x'" */
		bad = strncmp(fuse_refusal, "fuse: ", 6) ? fuse_refusal : fuse_refusal + 6;
		snprintf(why, why_len, "FUSE refused the options: %s", bad);
	} else {
		snprintf(why, why_len, "FUSE refused the options %s", fopts);
	}
out:
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&fargs);
	return ret;
}

static int no_server(void *arg, uint64_t term)
{
	(void)arg;
	(void)term;
	return -EINVAL;
}

static void no_stop(void *arg)
{
	(void)arg;
}

/*
 * Both devices opened read-only: each must hold a scoutfs super block,
 * the pair must be one volume's meta and data devices, and a quorum slot
 * must be one the volume has (the quorum agent's own checks, nothing
 * started).
 */
static int check_devices(const char *meta, const char *data, int slot_nr, char *why,
			 size_t why_len)
{
	static const char *const names[SFS_DEV_NR] = { "meta", "data" };
	struct sfs_block_opts bopts = { 0 };
	struct sfs_quorum_opts qopts = { 0 };
	const char *paths[SFS_DEV_NR] = { meta, data };
	void *blk[SFS_DEV_NR] = { NULL, NULL };
	struct first_err fe = { .line = "" };
	struct sfs_fs pfs = { 0 };
	const char *detail;
	char sub[256];
	size_t len;
	int ret;
	int d;

	sfs_fs_log_init(&pfs, "scoutfsd");
	pfs.log_tag_ids = false;
	pfs.log_fn = first_err_sink;
	pfs.log_arg = &fe;

	bopts.meta_path = meta;
	bopts.data_path = data;
	bopts.read_only = true;
	ret = sfs_block_setup(&pfs, &bopts);
	if (ret) {
		snprintf(why, why_len, "%s", fe.line[0] ? fe.line : strerror(-ret));
		goto out;
	}

	for (d = 0; d < SFS_DEV_NR; d++) {
		blk[d] = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
		if (!blk[d]) {
			snprintf(why, why_len, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		ret = sfs_block_pread(&pfs, d, blk[d], SCOUTFS_BLOCK_SM_SIZE,
				      SCOUTFS_SUPER_BLKNO << SCOUTFS_BLOCK_SM_SHIFT);
		if (ret) {
			/* "meta device: read of ..." names the device already */
			len = strlen(names[d]);
			detail = fe.line[0] ? fe.line : strerror(-ret);
			if (!strncmp(detail, names[d], len) && !strncmp(detail + len, " device: ", 9))
				detail += len + 9;
			snprintf(why, why_len, "%s device %s: cannot read its super block: %s",
				 names[d], paths[d], detail);
			goto out;
		}
		/* the block alone: sizes are the pair's business */
		ret = sfs_super_check(blk[d], UINT64_MAX, UINT64_MAX, sub, sizeof(sub));
		if (ret) {
			snprintf(why, why_len, "%s device %s is not a scoutfs volume: %s", names[d],
				 paths[d], sub);
			goto out;
		}
	}

	ret = sfs_super_check_pair(blk[SFS_DEV_META], blk[SFS_DEV_DATA],
				   sfs_block_dev_size(&pfs, SFS_DEV_META),
				   sfs_block_dev_size(&pfs, SFS_DEV_DATA), sub, sizeof(sub));
	if (ret) {
		snprintf(why, why_len, "%s: meta device %s, data device %s", sub, meta, data);
		goto out;
	}

	pfs.fsid = le64toh(((struct scoutfs_super_block *)blk[SFS_DEV_META])->hdr.fsid);
	pfs.rid = 1;
	qopts.slot_nr = slot_nr;
	qopts.rid = pfs.rid;
	qopts.super = blk[SFS_DEV_META];
	qopts.start_server = no_server;
	qopts.stop_server = no_stop;
	ret = sfs_quorum_setup(&pfs, &qopts);
	if (ret)
		snprintf(why, why_len, "%s", fe.line[0] ? fe.line : strerror(-ret));
	sfs_quorum_destroy(&pfs);
out:
	sfs_block_destroy(&pfs);
	for (d = 0; d < SFS_DEV_NR; d++)
		free(blk[d]);
	return ret;
}

/* everything that can be refused without touching the volume; 0 or -errno with why */
static int preflight(const char *argv0, const struct sfs_options *opts, const char *data,
		     const char *mnt, const char *fopts, char *why, size_t why_len)
{
	struct stat st;
	int ret;

	if (stat(mnt, &st) < 0) {
		ret = -errno;
		snprintf(why, why_len, "mount point %s: %s", mnt, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, why_len, "mount point %s is not a directory", mnt);
		return -ENOTDIR;
	}
	return check_fuse_opts(argv0, fopts, why, why_len) ?:
	       check_devices(opts->metadev_path, data, opts->quorum_slot_nr, why, why_len);
}

/* the run directory and control socket of the mount on mnt */
static int start_ctl(struct sfs_fs *fs, struct sfs_fuse *sf, const struct sfs_options *opts,
		     const char *mnt, uint64_t fmt_vers)
{
	struct sfs_ctl_opts copts = {
		.run_base = opts->run_dir,
		.fmt_vers = fmt_vers,
		.tables = sfs_ctl_tables,
		.arg = sf,
	};
	char real[PATH_MAX];
	char *mo = NULL;
	int ret;

	if (!realpath(mnt, real))
		snprintf(real, sizeof(real), "%s", mnt);
	copts.mount_point = real;
	ret = sfs_ctl_mount_dev(real, &copts.dev);
	if (ret) {
		sfs_err(fs, "cannot find the device number of the mount on %s: %s", real,
			strerror(-ret));
		return ret;
	}
	if (asprintf(&mo, "metadev_path=%s,quorum_slot_nr=%d,quorum_heartbeat_timeout_ms=%u,"
		     "data_prealloc_blocks=%llu,data_prealloc_contig_only=%d,orphan_scan_delay_ms=%u,"
		     "recovery_window_ms=%u,%s",
		     opts->metadev_path, opts->quorum_slot_nr, opts->quorum_heartbeat_timeout_ms,
		     (unsigned long long)opts->data_prealloc_blocks,
		     opts->data_prealloc_contig_only ? 1 : 0, opts->orphan_scan_delay_ms,
		     sfs_options_recovery_window(opts),
		     opts->acl ? "acl" : "noacl") < 0)
		return -ENOMEM;
	copts.mount_options = mo;
	ret = sfs_ctl_start(fs, &copts);
	free(mo);
	if (ret)
		fprintf(stderr, "scoutfsd: cannot start the control socket: %s\n", strerror(-ret));
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = { { "help", no_argument, NULL, 'h' },
					       { "version", no_argument, NULL, 'V' },
					       { NULL, 0, NULL, 0 } };
	struct fuse_loop_config *loop = NULL;
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	const struct scoutfs_super_block *super;
	struct sfs_mount_opts mopts = { 0 };
	struct fuse_session *se = NULL;
	struct sfs_fuse *sf = NULL;
	struct sfs_options opts;
	struct scoutfs_inode root;
	struct sfs_fs fs = { 0 };
	bool foreground = false, debug = false, mounted = false, stack = false;
	const char *data, *mnt;
	char err[256] = "", why[768], *fopts = NULL;
	int pipefd[2] = { -1, -1 };
	int c, ret;

	/*
	 * Data requests take 1 MiB buffers: keep them on the heap rather than
	 * mapping and faulting in fresh pages for each (glibc maps anything
	 * over its threshold and returns it at free).
	 */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);

	sfs_options_init(&opts);
	while ((c = getopt_long(argc, argv, "fdo:hV", lopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'o':
			/* the first bad option is reported with the device, below */
			if (!err[0] && sfs_options_parse(&opts, optarg, err, sizeof(err)) &&
			    !err[0])
				snprintf(err, sizeof(err), "out of memory");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("scoutfsd %s\n", SFS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "scoutfsd: want DATA-DEVICE and MOUNTPOINT (see scoutfsd -h)\n");
		return 1;
	}
	data = argv[optind];
	mnt = argv[optind + 1];
	if (err[0] || sfs_options_check(&opts, err, sizeof(err))) {
		fprintf(stderr, "scoutfsd: cannot mount %s: %s\n", data, err);
		sfs_options_free(&opts);
		return 1;
	}
	if (asprintf(&fopts, "default_permissions,fsname=%s,subtype=scoutfsd%s%s", data,
		     opts.fuse_opts ? "," : "", opts.fuse_opts ? opts.fuse_opts : "") < 0) {
		fprintf(stderr, "scoutfsd: out of memory\n");
		sfs_options_free(&opts);
		return 1;
	}

	if (!foreground) {
		pid_t pid;

		if (pipe(pipefd)) {
			fprintf(stderr, "scoutfsd: pipe: %s\n", strerror(errno));
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "scoutfsd: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid > 0) {
			close(pipefd[1]);
			free(fopts);
			sfs_options_free(&opts);
			return wait_for_child(pipefd[0]);
		}
		close(pipefd[0]);
		setsid();
	}

	ret = preflight(argv[0], &opts, data, mnt, fopts, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "scoutfsd: cannot mount %s: %s\n", data, why);
		goto out;
	}

	sfs_fs_log_init(&fs, "scoutfsd");
	fs.log_level = debug ? LOG_DEBUG : LOG_INFO;
	fs.counters = calloc(1, sizeof(*fs.counters));
	if (!fs.counters) {
		fprintf(stderr, "scoutfsd: out of memory\n");
		ret = -ENOMEM;
		goto out;
	}

	mopts.meta_path = opts.metadev_path;
	mopts.data_path = data;
	mopts.quorum_slot_nr = opts.quorum_slot_nr;
	mopts.quorum_heartbeat_timeout_ms = opts.quorum_heartbeat_timeout_ms;
	mopts.srch_compact_delay_ms = opts.srch_compact_delay_ms;
	mopts.recovery_window_ms = sfs_options_recovery_window(&opts);
	mopts.run_dir = true;
	mopts.run_base = opts.run_dir;
	ret = sfs_mount_setup(&fs, &mopts);
	if (ret) {
		fprintf(stderr, "scoutfsd: cannot mount %s (metadata %s): %s\n", data,
			opts.metadev_path, strerror(-ret));
		goto out;
	}
	stack = true;
	super = sfs_mount_super(&fs);
	ret = sfs_inodes_setup(&fs, le64toh(super->fmt_vers)) ?: sfs_quota_setup(&fs);
	if (!ret) {
		ret = sfs_inode_read(&fs, SFS_ROOT_INO, &root);
		if (ret)
			fprintf(stderr, "scoutfsd: the root inode cannot be read: %s\n",
				strerror(-ret));
		else if (!S_ISDIR(le32toh(root.mode))) {
			fprintf(stderr, "scoutfsd: the root inode is not a directory\n");
			ret = -EIO;
		}
	}
	if (ret)
		goto out;

	sf = sfs_fuse_create(&fs, &opts);
	if (!sf || fuse_opt_add_arg(&fargs, argv[0]) ||
	    fuse_opt_add_arg(&fargs, "-o") || fuse_opt_add_arg(&fargs, fopts)) {
		fprintf(stderr, "scoutfsd: out of memory\n");
		ret = -ENOMEM;
		goto out;
	}
	se = fuse_session_new(&fargs, &sfs_fuse_ops, sizeof(sfs_fuse_ops), sf);
	if (!se) {
		fprintf(stderr, "scoutfsd: FUSE refused the options: %s\n", fopts);
		ret = -EINVAL;
		goto out;
	}
	sfs_fuse_set_session(sf, se);
	if (fuse_set_signal_handlers(se) || fuse_session_mount(se, mnt)) {
		fprintf(stderr, "scoutfsd: cannot mount %s on %s\n", data, mnt);
		ret = -EIO;
		goto out;
	}
	mounted = true;

	/* the control socket is there before anyone is told the mount is live */
	ret = start_ctl(&fs, sf, &opts, mnt, le64toh(super->fmt_vers));
	if (ret)
		goto out;
	sfs_info(&fs, "mounted %s (metadata %s) on %s", data, opts.metadev_path, mnt);

	/* live: let whoever started us go */
	if (!foreground) {
		openlog("scoutfsd", LOG_PID, LOG_DAEMON);
		fs.log_fn = syslog_sink;
		to_dev_null(true);
		tell_parent(&pipefd[1], 0);
	}
	tune_readahead(&fs, mnt);
	sd_notify(0, "READY=1");

	/*
	 * Enough workers for deep queues (an op waiting on the device holds
	 * its thread): 64 at most, 16 kept idle, each with its own /dev/fuse
	 * fd so they do not contend on one.
	 */
	loop = fuse_loop_cfg_create();
	if (!loop) {
		ret = -ENOMEM;
		goto out;
	}
	fuse_loop_cfg_set_max_threads(loop, 64);
	fuse_loop_cfg_set_idle_threads(loop, 16);
	fuse_loop_cfg_set_clone_fd(loop, 1);
	ret = fuse_session_loop_mt(se, loop);
	sd_notify(0, "STOPPING=1");
	if (ret)
		sfs_err(&fs, "the FUSE session ended with %d", ret);
	ret = 0;
out:
	/*
	 * No control request may run once the session is gone.  One that
	 * reads the mount may wait on parked data: those fail first.
	 */
	if (sf)
		sfs_waits_close(sf);
	sfs_ctl_stop(&fs);
	sfs_fuse_session_end(sf);
	if (se) {
		if (mounted)
			fuse_session_unmount(se);
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	if (loop)
		fuse_loop_cfg_destroy(loop);
	fuse_opt_free_args(&fargs);
	free(fopts);
	sfs_fuse_free(sf);
	sfs_quota_destroy(&fs);
	sfs_inodes_destroy(&fs);
	if (stack) {
		if (mounted && sfs_mount_unmount(&fs) == 0) {
			sfs_info(&fs, "unmounted %s cleanly", mnt);
		} else {
			if (mounted)
				ret = -EIO;
			sfs_mount_destroy(&fs);
		}
	}
	sfs_options_free(&opts);
	free(fs.counters);
	tell_parent(&pipefd[1], ret ? 1 : 0);
	return ret ? 1 : 0;
}
