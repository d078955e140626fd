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
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "fs.h"
#include "inode.h"
#include "log.h"
#include "mount.h"
#include "options.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: scoutfsd [-f] [-d] [-o OPTIONS] DATA-DEVICE MOUNTPOINT\n"
		"Mount the scoutfs volume on DATA-DEVICE (and -o metadev_path=META-DEVICE) at MOUNTPOINT.\n"
		"\n"
		"  -f            stay in the foreground (log to stderr)\n"
		"  -d            log debug messages\n"
		"  -o OPTIONS    comma-separated mount options: metadev_path=PATH (required),\n"
		"                quorum_slot_nr=N, data_prealloc_blocks=N, data_prealloc_contig_only=0|1,\n"
		"                orphan_scan_delay_ms=N, acl|noacl, and FUSE's (allow_other, ...)\n"
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

int main(int argc, char **argv)
{
	static const struct option lopts[] = { { "help", no_argument, NULL, 'h' },
					       { "version", no_argument, NULL, 'V' },
					       { NULL, 0, NULL, 0 } };
	struct fuse_loop_config loop = { .clone_fd = 0, .max_idle_threads = 10 };
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
	char err[256], *fopts = NULL;
	int pipefd[2] = { -1, -1 };
	int c, ret;

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
			if (sfs_options_parse(&opts, optarg, err, sizeof(err))) {
				fprintf(stderr, "scoutfsd: %s\n", err);
				return 1;
			}
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
	if (sfs_options_check(&opts, err, sizeof(err))) {
		fprintf(stderr, "scoutfsd: %s\n", err);
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
			return wait_for_child(pipefd[0]);
		}
		close(pipefd[0]);
		setsid();
	}

	sfs_fs_log_init(&fs, "scoutfsd");
	fs.log_level = debug ? LOG_DEBUG : LOG_INFO;

	mopts.meta_path = opts.metadev_path;
	mopts.data_path = data;
	mopts.quorum_slot_nr = opts.quorum_slot_nr;
	ret = sfs_mount_setup(&fs, &mopts);
	if (ret) {
		fprintf(stderr, "scoutfsd: mounting %s (metadata %s) failed: %s\n", data,
			opts.metadev_path, strerror(-ret));
		goto out;
	}
	stack = true;
	super = sfs_mount_super(&fs);
	ret = sfs_inodes_setup(&fs, le64toh(super->fmt_vers));
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
	if (asprintf(&fopts, "default_permissions,fsname=%s,subtype=scoutfs%s%s", data,
		     opts.fuse_opts ? "," : "", opts.fuse_opts ? opts.fuse_opts : "") < 0)
		fopts = NULL;
	if (!sf || !fopts || fuse_opt_add_arg(&fargs, argv[0]) ||
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
	if (fuse_set_signal_handlers(se) || fuse_session_mount(se, mnt)) {
		fprintf(stderr, "scoutfsd: cannot mount on %s\n", mnt);
		ret = -EIO;
		goto out;
	}
	mounted = true;
	sfs_info(&fs, "mounted %s (metadata %s) on %s", data, opts.metadev_path, mnt);

	/* live: let whoever started us go */
	if (!foreground) {
		openlog("scoutfsd", LOG_PID, LOG_DAEMON);
		fs.log_fn = syslog_sink;
		to_dev_null(true);
		tell_parent(&pipefd[1], 0);
	}
	sd_notify(0, "READY=1");

	ret = fuse_session_loop_mt(se, &loop);
	sd_notify(0, "STOPPING=1");
	if (ret)
		sfs_err(&fs, "the FUSE session ended with %d", ret);
	ret = 0;
out:
	if (se) {
		if (mounted)
			fuse_session_unmount(se);
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	fuse_opt_free_args(&fargs);
	free(fopts);
	sfs_fuse_free(sf);
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
	tell_parent(&pipefd[1], ret ? 1 : 0);
	return ret ? 1 : 0;
}
