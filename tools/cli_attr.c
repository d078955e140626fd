// SPDX-License-Identifier: GPL-2.0
/*
 * The commands that restore a file's attributes (reference-scoutfs.md
 * 5.4, 5.5 and 8), over libscoutfs: setattr (SETATTR_MORE) and
 * set-attr-x (SET_ATTR_X).  Both need root; the daemon checks the values.
 *
 * Neither prints anything on success; with --json each prints one JSON
 * object of what it set.  Each returns 0, 1 after an error it explained in
 * one line on stderr ("scoutfs CMD: FILE: REASON"), or 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_json.h"
#include "cmd.h"

/* long options without a short one; values outside the range of short options */
enum {
	OPT_JSON = 0x100,
	OPT_HELP,
};

/*
 * A time as the reference writes it: SECONDS[.NANOSECONDS], the part after
 * the dot a count of nanoseconds (below 10^9), not a fraction.
 */
static int parse_time(const char *str, uint64_t *sec, uint32_t *nsec)
{
	char buf[64];
	char *dot;
	uint64_t ns = 0;

	if (strlen(str) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, str);
	dot = strchr(buf, '.');
	if (dot) {
		*dot = '\0';
		if (sfs_parse_u64(dot + 1, &ns) || ns >= 1000000000ULL)
			return -EINVAL;
	}
	if (sfs_parse_u64(buf, sec))
		return -EINVAL;
	*nsec = (uint32_t)ns;
	return 0;
}

/* the file, open with flags, and a connection to its daemon: 0 or SFS_CLI_ERR */
static int open_and_connect(const char *cmd, const char *file, int flags, int *fd,
			    struct scoutfs_ctl **ctl)
{
	int ret;

	*fd = open(file, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0)
		return sfs_cli_fail(cmd, file, -errno);
	ret = sfs_cli_connect(cmd, file, ctl);
	if (ret) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* setattr                                                              */
/* ------------------------------------------------------------------ */

#define SETATTR_USAGE "FILE [-V VERSION] [-s SIZE [-o]] [-t SECS.NSECS] [--json]"

int sfs_cmd_setattr(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-version", required_argument, NULL, 'V' },
		{ "size", required_argument, NULL, 's' },
		{ "offline", no_argument, NULL, 'o' },
		{ "ctime", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "setattr", *file;
	struct scoutfs_ctl_setattr_more sm = { 0 };
	struct json_object *obj;
	struct scoutfs_ctl *ctl;
	struct timespec now;
	bool have_time = false, json = false;
	int fd;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":V:s:ot:h", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			if (sfs_parse_u64(optarg, &sm.data_version))
				return sfs_cli_usage_error(cmd, SETATTR_USAGE,
							   "bad data version '%s'", optarg);
			if (sm.data_version == 0)
				return sfs_cli_usage_error(cmd, SETATTR_USAGE,
							   "data version must not be 0");
			break;
		case 's':
			if (sfs_parse_size(optarg, &sm.i_size))
				return sfs_cli_usage_error(cmd, SETATTR_USAGE, "bad size '%s'",
							   optarg);
			break;
		case 'o':
			sm.flags |= SCOUTFS_CTL_SETATTR_MORE_OFFLINE;
			break;
		case 't':
			if (parse_time(optarg, &sm.ctime.sec, &sm.ctime.nsec))
				return sfs_cli_usage_error(cmd, SETATTR_USAGE,
							   "bad time '%s' (SECS.NSECS)", optarg);
			have_time = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, SETATTR_USAGE,
				"Restore a newly created, empty regular file: set its size, data\n"
				"version, change time and creation time in one step, as if its\n"
				"contents had been written (and, with -o, then released to the\n"
				"archive: stage brings them back).  Without -o the contents are\n"
				"sparse.  The file's data version must still be 0.  Needs root.\n\n"
				"  -V, --data-version VERSION  the data version (not 0; needed with\n"
				"                              a size above 0)\n"
				"  -s, --size SIZE             i_size (K, M, G, T, P suffixes)\n"
				"  -o, --offline               make [0, SIZE) offline (needs -s)\n"
				"  -t, --ctime SECS.NSECS      ctime and crtime (default: now)\n"
				"      --json                  print what was set as a JSON object\n"
				"  -h, --help                  this text\n");
		default:
			return sfs_cli_getopt_error(cmd, SETATTR_USAGE, c, argv);
		}
	}
	if (optind >= argc)
		return sfs_cli_usage_error(cmd, SETATTR_USAGE, "no file given");
	if (optind + 1 < argc)
		return sfs_cli_usage_error(cmd, SETATTR_USAGE, "more than one file given");
	file = argv[optind];
	if (sm.i_size && !sm.data_version)
		return sfs_cli_usage_error(cmd, SETATTR_USAGE,
					   "must provide data version if using --size");
	if (!sm.i_size && (sm.flags & SCOUTFS_CTL_SETATTR_MORE_OFFLINE))
		return sfs_cli_usage_error(cmd, SETATTR_USAGE,
					   "must provide size if using --offline");
	if (!have_time) {
		clock_gettime(CLOCK_REALTIME, &now);
		sm.ctime.sec = (uint64_t)now.tv_sec;
		sm.ctime.nsec = (uint32_t)now.tv_nsec;
	}
	/* the reference's tool leaves crtime 0; the file was created when it was changed */
	sm.crtime = sm.ctime;

	ret = open_and_connect(cmd, file, O_WRONLY, &fd, &ctl);
	if (ret)
		return ret;
	ret = scoutfs_setattr_more(ctl, SCOUTFS_FILE_FD(fd), &sm);
	scoutfs_ctl_close(ctl);
	close(fd);
	if (ret)
		return sfs_cli_fail(cmd, file, ret);
	if (!json)
		return SFS_CLI_OK;
	obj = json_object_new_object();
	json_object_object_add(obj, "file", sfs_json_str(file));
	json_object_object_add(obj, "data_version", sfs_json_u64(sm.data_version));
	json_object_object_add(obj, "size", sfs_json_u64(sm.i_size));
	json_object_object_add(obj, "offline",
			       json_object_new_boolean(!!(sm.flags & SCOUTFS_CTL_SETATTR_MORE_OFFLINE)));
	json_object_object_add(obj, "ctime", sfs_json_time(sm.ctime.sec, sm.ctime.nsec));
	json_object_object_add(obj, "crtime", sfs_json_time(sm.crtime.sec, sm.crtime.nsec));
	return sfs_json_print(cmd, obj);
}

/* ------------------------------------------------------------------ */
/* set-attr-x                                                           */
/* ------------------------------------------------------------------ */

#define SET_ATTR_X_USAGE \
	"FILE [-v VERSION] [-s SIZE [-o]] [-c SECS.NSECS] [-r SECS.NSECS] [-t 0|1] [-p PROJECT] " \
	"[--json]"

/*
 * --json: {"file": FILE} and the fields set, named as get-attr-x names
 * them (times {sec, nsec}, retention 0 or 1), "offline": true with -o
 */
static int set_attr_x_json(const char *cmd, const char *file, const struct scoutfs_ctl_attr_x *ax)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "file", sfs_json_str(file));
	if (ax->x_mask & SCOUTFS_ATTR_X_DATA_VERSION)
		json_object_object_add(obj, "data_version", sfs_json_u64(ax->data_version));
	if (ax->x_mask & SCOUTFS_ATTR_X_CTIME)
		json_object_object_add(obj, "ctime", sfs_json_time(ax->ctime_sec, ax->ctime_nsec));
	if (ax->x_mask & SCOUTFS_ATTR_X_CRTIME)
		json_object_object_add(obj, "crtime",
				       sfs_json_time(ax->crtime_sec, ax->crtime_nsec));
	if (ax->x_mask & SCOUTFS_ATTR_X_SIZE)
		json_object_object_add(obj, "size", sfs_json_u64(ax->size));
	if (ax->x_flags & SCOUTFS_ATTR_X_F_SIZE_OFFLINE)
		json_object_object_add(obj, "offline", json_object_new_boolean(1));
	if (ax->x_mask & SCOUTFS_ATTR_X_RETENTION)
		json_object_object_add(obj, "retention",
				       sfs_json_u64((ax->bits & SCOUTFS_ATTR_X_B_RETENTION) ? 1 : 0));
	if (ax->x_mask & SCOUTFS_ATTR_X_PROJECT_ID)
		json_object_object_add(obj, "project_id", sfs_json_u64(ax->project_id));
	return sfs_json_print(cmd, obj);
}

int sfs_cmd_set_attr_x(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "meta_seq", required_argument, NULL, 'm' },
		{ "data_seq", required_argument, NULL, 'd' },
		{ "data_version", required_argument, NULL, 'v' },
		{ "online_blocks", required_argument, NULL, 'n' },
		{ "offline_blocks", required_argument, NULL, 'f' },
		{ "ctime", required_argument, NULL, 'c' },
		{ "crtime", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "retention", required_argument, NULL, 't' },
		{ "project_id", required_argument, NULL, 'p' },
		{ "offline", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "set-attr-x", *file;
	struct scoutfs_ctl_attr_x ax = { 0 };
	struct scoutfs_ctl *ctl;
	uint64_t ignored, bit;
	bool json = false;
	int fd;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":m:d:v:n:f:c:r:s:t:p:oh", opts, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case 'm':
		case 'd':
		case 'n':
		case 'f':
			/* named, as the reference allows; the daemon leaves them be */
			bit = c == 'm' ? SCOUTFS_ATTR_X_META_SEQ : c == 'd' ? SCOUTFS_ATTR_X_DATA_SEQ :
			      c == 'n' ? SCOUTFS_ATTR_X_ONLINE_BLOCKS :
			      SCOUTFS_ATTR_X_OFFLINE_BLOCKS;
			ax.x_mask |= bit;
			ret = sfs_parse_u64(optarg, &ignored);
			break;
		case 'v':
			/* 0 goes to the daemon, which refuses it (EINVAL) */
			ax.x_mask |= SCOUTFS_ATTR_X_DATA_VERSION;
			ret = sfs_parse_u64(optarg, &ax.data_version);
			break;
		case 'c':
			ax.x_mask |= SCOUTFS_ATTR_X_CTIME;
			ret = parse_time(optarg, &ax.ctime_sec, &ax.ctime_nsec);
			break;
		case 'r':
			ax.x_mask |= SCOUTFS_ATTR_X_CRTIME;
			ret = parse_time(optarg, &ax.crtime_sec, &ax.crtime_nsec);
			break;
		case 's':
			ax.x_mask |= SCOUTFS_ATTR_X_SIZE;
			ret = sfs_parse_size(optarg, &ax.size);
			break;
		case 't':
			ax.x_mask |= SCOUTFS_ATTR_X_RETENTION;
			if (!strcmp(optarg, "1"))
				ax.bits |= SCOUTFS_ATTR_X_B_RETENTION;
			else if (strcmp(optarg, "0"))
				ret = -EINVAL;
			break;
		case 'p':
			ax.x_mask |= SCOUTFS_ATTR_X_PROJECT_ID;
			ret = sfs_parse_u64(optarg, &ax.project_id);
			break;
		case 'o':
			ax.x_flags |= SCOUTFS_ATTR_X_F_SIZE_OFFLINE;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, SET_ATTR_X_USAGE,
				"Set a file's extensible attributes: those the options name.  Size\n"
				"and data version only on a regular file whose data version is\n"
				"still 0 (a size above 0 needs a data version, which is not 0).\n"
				"A file under retention refuses every change (EPERM) but one that\n"
				"clears retention.  Retention and project IDs need format version\n"
				"2.  The daemon checks everything before changing anything.  Needs\n"
				"root.  -m, -d, -n and -f name fields that cannot be set: they are\n"
				"accepted and ignored, as by the reference.\n\n"
				"  -v, --data_version VERSION  data contents version\n"
				"  -s, --size SIZE             i_size (K, M, G, T, P suffixes)\n"
				"  -o, --offline               make [0, SIZE) offline (with -s)\n"
				"  -c, --ctime SECS.NSECS      inode change time\n"
				"  -r, --crtime SECS.NSECS     creation time\n"
				"  -t, --retention 0|1         clear or set the retention flag\n"
				"  -p, --project_id PROJECT    project ID (0: none)\n"
				"      --json                  print what was set as a JSON object\n"
				"  -h, --help                  this text\n");
		default:
			return sfs_cli_getopt_error(cmd, SET_ATTR_X_USAGE, c, argv);
		}
		if (ret)
			return sfs_cli_usage_error(cmd, SET_ATTR_X_USAGE, "bad value '%s' for -%c",
						   optarg, c);
	}
	if (optind >= argc)
		return sfs_cli_usage_error(cmd, SET_ATTR_X_USAGE, "no file given");
	if (optind + 1 < argc)
		return sfs_cli_usage_error(cmd, SET_ATTR_X_USAGE, "more than one file given");
	file = argv[optind];
	/* nothing named: nothing to do, as the reference */
	if (ax.x_mask == 0 && ax.x_flags == 0)
		return json ? set_attr_x_json(cmd, file, &ax) : SFS_CLI_OK;

	ret = open_and_connect(cmd, file, O_RDONLY, &fd, &ctl);
	if (ret)
		return ret;
	ret = scoutfs_set_attr_x(ctl, SCOUTFS_FILE_FD(fd), &ax);
	scoutfs_ctl_close(ctl);
	close(fd);
	if (ret)
		return sfs_cli_fail(cmd, file, ret);
	return json ? set_attr_x_json(cmd, file, &ax) : SFS_CLI_OK;
}
