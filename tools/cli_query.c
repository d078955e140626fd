// SPDX-License-Identifier: GPL-2.0
/*
 * The scoutfs commands that ask a mount's daemon about the volume and its
 * files, through libscoutfs (include/scoutfs/ctl.h): statfs, df, stat,
 * get-attr-x, walk-inodes, ino-path, get-referring-entries,
 * get-allocated-inos and counters.
 *
 * Text output uses the reference tools' formats.  With --json a command
 * prints one JSON document with the same information instead: objects for
 * records, arrays for lists, numbers as JSON numbers (all 64 bits).
 *
 * Commands about the whole mount pick it with -p PATH, else
 * $SCOUTFS_MOUNT_PATH, else the current directory; stat and get-attr-x
 * pick it by the file they are given.  Every command returns 0, 1 after
 * an error it explained in one line on stderr, or 2 for a usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "scoutfs/format.h"
#include "cli_json.h"
#include "cmd.h"

#define ULL(x) ((unsigned long long)(x))

/* long options every command has; values outside the range of short options */
enum {
	OPT_JSON = 0x100,
	OPT_HELP,
};

/* --help: "usage: scoutfs NAME USAGE", a blank line, then the description */
/* an inode number argument: 0, or a usage error (2) */
static int parse_ino(const char *cmd, const char *usage, const char *str, bool zero_ok,
		     uint64_t *ino)
{
	if (sfs_parse_u64(str, ino) || (!zero_ok && *ino == 0))
		return sfs_cli_usage_error(cmd, usage, "invalid inode number '%s'", str);
	return 0;
}

/* open a file to name it to the daemon; fifos must not block us */
static int open_file(const char *cmd, const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "scoutfs %s: %s: %s\n", cmd, path, strerror(errno));
		return SFS_CLI_ERR;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Named fields of statfs_more and stat_more                            */
/* ------------------------------------------------------------------ */

enum field_kind {
	FIELD_U64,	/* decimal */
	FIELD_HEX,	/* %016llx in text (fsid, rid), a number in JSON */
	FIELD_TIME,	/* struct scoutfs_ctl_time: sec.nsec in text, {sec, nsec} in JSON */
};

struct field {
	const char *name;
	size_t off;
	enum field_kind kind;
};

#define SFM_FIELD(f, k) { #f, offsetof(struct scoutfs_ctl_statfs_more, f), k }
#define STM_FIELD(f, k) { #f, offsetof(struct scoutfs_ctl_stat_more, f), k }

static const struct field statfs_fields[] = {
	SFM_FIELD(fsid, FIELD_HEX),
	SFM_FIELD(rid, FIELD_HEX),
	SFM_FIELD(committed_seq, FIELD_U64),
	SFM_FIELD(total_meta_blocks, FIELD_U64),
	SFM_FIELD(total_data_blocks, FIELD_U64),
};

static const struct field stat_fields[] = {
	STM_FIELD(meta_seq, FIELD_U64),
	STM_FIELD(data_seq, FIELD_U64),
	STM_FIELD(data_version, FIELD_U64),
	STM_FIELD(online_blocks, FIELD_U64),
	STM_FIELD(offline_blocks, FIELD_U64),
	STM_FIELD(crtime, FIELD_TIME),
};

#define NR_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const struct field *find_field(const struct field *fields, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	}
	return NULL;
}

/* the names of fields, comma separated, for messages */
static void field_names(const struct field *fields, size_t nr, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < nr && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
					fields[i].name);
}

static void field_text(const void *st, const struct field *f, char *buf, size_t size)
{
	const uint8_t *p = (const uint8_t *)st + f->off;
	const struct scoutfs_ctl_time *t;
	uint64_t v;

	switch (f->kind) {
	case FIELD_TIME:
		t = (const void *)p;
		snprintf(buf, size, "%llu.%u", ULL(t->sec), t->nsec);
		break;
	case FIELD_HEX:
		memcpy(&v, p, sizeof(v));
		snprintf(buf, size, "%016llx", ULL(v));
		break;
	default:
		memcpy(&v, p, sizeof(v));
		snprintf(buf, size, "%llu", ULL(v));
		break;
	}
}

static struct json_object *field_json(const void *st, const struct field *f)
{
	const uint8_t *p = (const uint8_t *)st + f->off;
	const struct scoutfs_ctl_time *t;
	uint64_t v;

	if (f->kind == FIELD_TIME) {
		t = (const void *)p;
		return sfs_json_time(t->sec, t->nsec);
	}
	memcpy(&v, p, sizeof(v));
	return sfs_json_u64(v);
}

/*
 * Every field as "name<pad to 17> value" lines, or only the value of
 * single; with json an object of the fields (just single's, if given).
 */
static int print_fields(const char *cmd, const void *st, const struct field *fields, size_t nr,
			const struct field *single, bool json)
{
	struct json_object *obj;
	char val[64];
	size_t i;

	if (json) {
		obj = json_object_new_object();
		for (i = 0; i < nr; i++) {
			if (!single || single == &fields[i])
				json_object_object_add(obj, fields[i].name,
						       field_json(st, &fields[i]));
		}
		return sfs_json_print(cmd, obj);
	}
	if (single) {
		field_text(st, single, val, sizeof(val));
		printf("%s\n", val);
	} else {
		for (i = 0; i < nr; i++) {
			field_text(st, &fields[i], val, sizeof(val));
			printf("%-17s %s\n", fields[i].name, val);
		}
	}
	return sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* statfs                                                               */
/* ------------------------------------------------------------------ */

#define STATFS_USAGE "[-s FIELD] [-p PATH] [--json]"

int sfs_cmd_statfs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "single-field", required_argument, NULL, 's' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct scoutfs_ctl_statfs_more sfm;
	const struct field *single = NULL;
	const char *cmd = "statfs", *path = NULL;
	struct scoutfs_ctl *ctl;
	char names[256];
	bool json = false;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			single = find_field(statfs_fields, NR_FIELDS(statfs_fields), optarg);
			if (!single) {
				field_names(statfs_fields, NR_FIELDS(statfs_fields), names,
					    sizeof(names));
				return sfs_cli_usage_error(cmd, STATFS_USAGE,
							   "unknown field '%s' (%s)", optarg, names);
			}
			break;
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, STATFS_USAGE,
				"Show the volume's scoutfs fields, one \"name value\" line each:\n"
				"fsid and rid (hex), committed_seq, total_meta_blocks (64KB) and\n"
				"total_data_blocks (4KB).\n\n"
				"  -s, --single-field FIELD  print only this field's value\n"
				"  -p, --path PATH           a path in the mount (default:\n"
				"                            $SCOUTFS_MOUNT_PATH, else the current directory)\n"
				"      --json                print a JSON object instead\n"
				"  -h, --help                this text\n");
		default:
			return sfs_cli_getopt_error(cmd, STATFS_USAGE, c, argv);
		}
	}
	ret = sfs_cli_connect_args(cmd, STATFS_USAGE, argc, argv, optind, &path, &ctl);
	if (ret)
		return ret;
	ret = scoutfs_statfs_more(ctl, &sfm);
	scoutfs_ctl_close(ctl);
	if (ret)
		return sfs_cli_fail(cmd, path, ret);
	return print_fields(cmd, &sfm, statfs_fields, NR_FIELDS(statfs_fields), single, json);
}

/* ------------------------------------------------------------------ */
/* df                                                                   */
/* ------------------------------------------------------------------ */

#define DF_USAGE "[-h] [-p PATH] [--json]"

struct df_row {
	const char *type;
	const char *size;
	uint64_t block_size;
	uint64_t total;
	uint64_t free;
};

static uint64_t df_used(const struct df_row *r)
{
	return r->total > r->free ? r->total - r->free : 0;
}

static uint64_t df_pct(const struct df_row *r)
{
	return r->total ? df_used(r) * 100 / r->total : 0;
}

/* bytes as "%.2f UNIT", the unit the largest power of 1024 not above them */
static void human_size(char *buf, size_t size, uint64_t blocks, uint64_t block_size)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
	double x = (double)blocks * (double)block_size;
	unsigned int u = 0;

	while (x >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		x /= 1024;
		u++;
	}
	snprintf(buf, size, "%.2f %s", x, units[u]);
}

static int df_json(const struct df_row *rows, uint64_t reserved)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *o;
	int i;

	for (i = 0; i < 2; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "block_size", sfs_json_u64(rows[i].block_size));
		json_object_object_add(o, "total", sfs_json_u64(rows[i].total));
		json_object_object_add(o, "used", sfs_json_u64(df_used(&rows[i])));
		json_object_object_add(o, "free", sfs_json_u64(rows[i].free));
		json_object_object_add(o, "use_percent", sfs_json_u64(df_pct(&rows[i])));
		if (i == 0)
			json_object_object_add(o, "reserved", sfs_json_u64(reserved));
		json_object_object_add(obj, i == 0 ? "metadata" : "data", o);
	}
	return sfs_json_print("df", obj);
}

int sfs_cmd_df(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "human-readable", no_argument, NULL, 'h' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const heads[] = { "Type", "Size", "Total", "Used", "Free", "Use%" };
	struct scoutfs_ctl_statfs_more sfm;
	const char *cmd = "df", *path = NULL;
	struct scoutfs_ctl *ctl;
	struct df_row rows[2];
	char cells[3][6][32];
	bool human = false, json = false;
	int wid[6] = { 0 };
	int ret;
	int c, r, i;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":hp:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			human = true;
			break;
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			return sfs_cli_help(cmd, DF_USAGE,
				"Show the size, use and free space of the metadata device (64KB\n"
				"blocks) and the data device (4KB blocks).  Free metadata leaves out\n"
				"the blocks the server keeps in reserve.\n\n"
				"  -h, --human-readable  sizes in bytes with units (e.g. 1.50 GB)\n"
				"  -p, --path PATH       a path in the mount (default:\n"
				"                        $SCOUTFS_MOUNT_PATH, else the current directory)\n"
				"      --json            print a JSON object instead (block counts)\n"
				"      --help            this text\n");
		default:
			return sfs_cli_getopt_error(cmd, DF_USAGE, c, argv);
		}
	}
	if (optind < argc)
		return sfs_cli_usage_error(cmd, DF_USAGE, "unexpected argument '%s'", argv[optind]);

	path = sfs_cli_mount_path(path);
	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	ret = scoutfs_statfs_more(ctl, &sfm);
	scoutfs_ctl_close(ctl);
	if (ret)
		return sfs_cli_fail(cmd, path, ret);

	rows[0] = (struct df_row){ "MetaData", "64KB", SCOUTFS_BLOCK_LG_SIZE, sfm.total_meta_blocks,
				   sfm.free_meta_blocks > sfm.reserved_meta_blocks ?
				   sfm.free_meta_blocks - sfm.reserved_meta_blocks : 0 };
	rows[1] = (struct df_row){ "Data", "4KB", SCOUTFS_BLOCK_SM_SIZE, sfm.total_data_blocks,
				   sfm.free_data_blocks };
	if (json)
		return df_json(rows, sfm.reserved_meta_blocks);

	for (i = 0; i < 6; i++)
		snprintf(cells[0][i], sizeof(cells[0][i]), "%s", heads[i]);
	for (r = 0; r < 2; r++) {
		const struct df_row *row = &rows[r];
		uint64_t vals[3] = { row->total, df_used(row), row->free };

		snprintf(cells[r + 1][0], sizeof(cells[0][0]), "%s", row->type);
		snprintf(cells[r + 1][1], sizeof(cells[0][0]), "%s", row->size);
		for (i = 0; i < 3; i++) {
			if (human)
				human_size(cells[r + 1][2 + i], sizeof(cells[0][0]), vals[i],
					   row->block_size);
			else
				snprintf(cells[r + 1][2 + i], sizeof(cells[0][0]), "%llu",
					 ULL(vals[i]));
		}
		snprintf(cells[r + 1][5], sizeof(cells[0][0]), "%llu", ULL(df_pct(row)));
	}
	/* right aligned columns, each followed by two spaces, as the reference prints */
	for (r = 0; r < 3; r++) {
		for (i = 0; i < 6; i++) {
			if ((int)strlen(cells[r][i]) > wid[i])
				wid[i] = (int)strlen(cells[r][i]);
		}
	}
	for (r = 0; r < 3; r++) {
		for (i = 0; i < 6; i++)
			printf("%*s  ", wid[i], cells[r][i]);
		printf("\n");
	}
	return sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* stat                                                                 */
/* ------------------------------------------------------------------ */

#define STAT_USAGE "FILE [-s FIELD] [--json]"

int sfs_cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "single-field", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct scoutfs_ctl_stat_more stm;
	const struct field *single = NULL;
	const char *cmd = "stat", *file;
	struct scoutfs_ctl *ctl;
	char names[256];
	bool json = false;
	int fd;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			single = find_field(stat_fields, NR_FIELDS(stat_fields), optarg);
			if (!single) {
				field_names(stat_fields, NR_FIELDS(stat_fields), names,
					    sizeof(names));
				return sfs_cli_usage_error(cmd, STAT_USAGE,
							   "unknown field '%s' (%s)", optarg, names);
			}
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, STAT_USAGE,
				"Show a file's scoutfs fields, one \"name value\" line each:\n"
				"meta_seq, data_seq, data_version, online_blocks, offline_blocks\n"
				"and crtime (seconds.nanoseconds).  FILE must be readable.\n\n"
				"  -s, --single-field FIELD  print only this field's value\n"
				"      --json                print a JSON object instead\n"
				"  -h, --help                this text\n");
		default:
			return sfs_cli_getopt_error(cmd, STAT_USAGE, c, argv);
		}
	}
	if (optind >= argc)
		return sfs_cli_usage_error(cmd, STAT_USAGE, "no file given");
	if (optind + 1 < argc)
		return sfs_cli_usage_error(cmd, STAT_USAGE, "more than one file given");
	file = argv[optind];

	ret = open_file(cmd, file, &fd);
	if (ret)
		return ret;
	ret = sfs_cli_connect(cmd, file, &ctl);
	if (!ret) {
		ret = scoutfs_stat_more(ctl, SCOUTFS_FILE_FD(fd), &stm);
		scoutfs_ctl_close(ctl);
		if (ret)
			ret = sfs_cli_fail(cmd, file, ret);
		else
			ret = print_fields(cmd, &stm, stat_fields, NR_FIELDS(stat_fields), single,
					   json);
	}
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* get-attr-x                                                           */
/* ------------------------------------------------------------------ */

#define ATTR_X_USAGE "FILE [-m] [-d] [-v] [-n] [-f] [-c] [-r] [-s] [-t] [-p] [--json]"

/* the fields in the order they print; options as the reference names them */
static const struct attr_x_field {
	uint64_t bit;
	char opt;
	const char *name;
} attr_x_fields[] = {
	{ SCOUTFS_ATTR_X_META_SEQ, 'm', "meta_seq" },
	{ SCOUTFS_ATTR_X_DATA_SEQ, 'd', "data_seq" },
	{ SCOUTFS_ATTR_X_DATA_VERSION, 'v', "data_version" },
	{ SCOUTFS_ATTR_X_ONLINE_BLOCKS, 'n', "online_blocks" },
	{ SCOUTFS_ATTR_X_OFFLINE_BLOCKS, 'f', "offline_blocks" },
	{ SCOUTFS_ATTR_X_CTIME, 'c', "ctime" },
	{ SCOUTFS_ATTR_X_CRTIME, 'r', "crtime" },
	{ SCOUTFS_ATTR_X_SIZE, 's', "size" },
	{ SCOUTFS_ATTR_X_RETENTION, 't', "retention" },
	{ SCOUTFS_ATTR_X_PROJECT_ID, 'p', "project_id" },
};

#define NR_ATTR_X (sizeof(attr_x_fields) / sizeof(attr_x_fields[0]))

static void attr_x_text(const struct scoutfs_ctl_attr_x *ax, uint64_t bit, char *buf, size_t size)
{
	switch (bit) {
	case SCOUTFS_ATTR_X_META_SEQ:
		snprintf(buf, size, "%llu", ULL(ax->meta_seq));
		break;
	case SCOUTFS_ATTR_X_DATA_SEQ:
		snprintf(buf, size, "%llu", ULL(ax->data_seq));
		break;
	case SCOUTFS_ATTR_X_DATA_VERSION:
		snprintf(buf, size, "%llu", ULL(ax->data_version));
		break;
	case SCOUTFS_ATTR_X_ONLINE_BLOCKS:
		snprintf(buf, size, "%llu", ULL(ax->online_blocks));
		break;
	case SCOUTFS_ATTR_X_OFFLINE_BLOCKS:
		snprintf(buf, size, "%llu", ULL(ax->offline_blocks));
		break;
	case SCOUTFS_ATTR_X_CTIME:
		snprintf(buf, size, "%llu.%u", ULL(ax->ctime_sec), ax->ctime_nsec);
		break;
	case SCOUTFS_ATTR_X_CRTIME:
		snprintf(buf, size, "%llu.%u", ULL(ax->crtime_sec), ax->crtime_nsec);
		break;
	case SCOUTFS_ATTR_X_SIZE:
		snprintf(buf, size, "%llu", ULL(ax->size));
		break;
	case SCOUTFS_ATTR_X_RETENTION:
		snprintf(buf, size, "%u", (ax->bits & SCOUTFS_ATTR_X_B_RETENTION) ? 1U : 0U);
		break;
	default:
		snprintf(buf, size, "%llu", ULL(ax->project_id));
		break;
	}
}

static struct json_object *attr_x_json(const struct scoutfs_ctl_attr_x *ax, uint64_t bit)
{
	switch (bit) {
	case SCOUTFS_ATTR_X_META_SEQ:
		return sfs_json_u64(ax->meta_seq);
	case SCOUTFS_ATTR_X_DATA_SEQ:
		return sfs_json_u64(ax->data_seq);
	case SCOUTFS_ATTR_X_DATA_VERSION:
		return sfs_json_u64(ax->data_version);
	case SCOUTFS_ATTR_X_ONLINE_BLOCKS:
		return sfs_json_u64(ax->online_blocks);
	case SCOUTFS_ATTR_X_OFFLINE_BLOCKS:
		return sfs_json_u64(ax->offline_blocks);
	case SCOUTFS_ATTR_X_CTIME:
		return sfs_json_time(ax->ctime_sec, ax->ctime_nsec);
	case SCOUTFS_ATTR_X_CRTIME:
		return sfs_json_time(ax->crtime_sec, ax->crtime_nsec);
	case SCOUTFS_ATTR_X_SIZE:
		return sfs_json_u64(ax->size);
	case SCOUTFS_ATTR_X_RETENTION:
		return sfs_json_u64((ax->bits & SCOUTFS_ATTR_X_B_RETENTION) ? 1 : 0);
	default:
		return sfs_json_u64(ax->project_id);
	}
}

int sfs_cmd_get_attr_x(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "meta_seq", no_argument, NULL, 'm' },
		{ "data_seq", no_argument, NULL, 'd' },
		{ "data_version", no_argument, NULL, 'v' },
		{ "online_blocks", no_argument, NULL, 'n' },
		{ "offline_blocks", no_argument, NULL, 'f' },
		{ "ctime", no_argument, NULL, 'c' },
		{ "crtime", no_argument, NULL, 'r' },
		{ "size", no_argument, NULL, 's' },
		{ "retention", no_argument, NULL, 't' },
		{ "project_id", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "get-attr-x", *file;
	struct scoutfs_ctl_attr_x ax;
	struct json_object *obj = NULL;
	uint64_t want = 0, missing;
	struct scoutfs_ctl *ctl;
	char what[PATH_MAX + 64];
	char val[64];
	bool json = false;
	size_t i;
	int fd;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":mdvnfcrstph", opts, NULL)) != -1) {
		for (i = 0; i < NR_ATTR_X && attr_x_fields[i].opt != c; i++)
			;
		if (i < NR_ATTR_X) {
			want |= attr_x_fields[i].bit;
			continue;
		}
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, ATTR_X_USAGE,
				"Show a file's extensible attributes: the fields the options name,\n"
				"or all of them.  Several fields print as \"name: value\" lines, a\n"
				"single field as its bare value.  Times are seconds.nanoseconds;\n"
				"retention is 0 or 1.  FILE must be readable.\n\n"
				"  -m, --meta_seq        metadata change sequence number\n"
				"  -d, --data_seq        data change sequence number\n"
				"  -v, --data_version    data contents version\n"
				"  -n, --online_blocks   online data block count\n"
				"  -f, --offline_blocks  offline data block count\n"
				"  -c, --ctime           inode change time\n"
				"  -r, --crtime          creation time\n"
				"  -s, --size            i_size\n"
				"  -t, --retention       retention flag\n"
				"  -p, --project_id      project ID\n"
				"      --json            print a JSON object instead\n"
				"  -h, --help            this text\n");
		default:
			return sfs_cli_getopt_error(cmd, ATTR_X_USAGE, c, argv);
		}
	}
	if (optind >= argc)
		return sfs_cli_usage_error(cmd, ATTR_X_USAGE, "no file given");
	if (optind + 1 < argc)
		return sfs_cli_usage_error(cmd, ATTR_X_USAGE, "more than one file given");
	file = argv[optind];

	ret = open_file(cmd, file, &fd);
	if (ret)
		return ret;
	ret = sfs_cli_connect(cmd, file, &ctl);
	if (ret)
		goto out;
	memset(&ax, 0, sizeof(ax));
	ax.x_mask = want ? want : SCOUTFS_ATTR_X_ALL;
	ret = scoutfs_get_attr_x(ctl, SCOUTFS_FILE_FD(fd), &ax);
	if (ret == -EOPNOTSUPP && !want) {
		/* all of them: a format version 1 volume has no v2 fields */
		memset(&ax, 0, sizeof(ax));
		ax.x_mask = SCOUTFS_ATTR_X_ALL &
			    ~(uint64_t)(SCOUTFS_ATTR_X_RETENTION | SCOUTFS_ATTR_X_PROJECT_ID);
		ret = scoutfs_get_attr_x(ctl, SCOUTFS_FILE_FD(fd), &ax);
	}
	scoutfs_ctl_close(ctl);
	/* fields asked for by name that the volume does not have (format version 1) */
	missing = want & ~ax.x_mask;
	if (ret == -EOPNOTSUPP &&
	    (want & (SCOUTFS_ATTR_X_RETENTION | SCOUTFS_ATTR_X_PROJECT_ID))) {
		missing = want & (SCOUTFS_ATTR_X_RETENTION | SCOUTFS_ATTR_X_PROJECT_ID);
		ret = 0;
	}
	if (ret) {
		ret = sfs_cli_fail(cmd, file, ret);
		goto out;
	}
	for (i = 0; i < NR_ATTR_X; i++) {
		if (missing & attr_x_fields[i].bit) {
			snprintf(what, sizeof(what), "%s: %s", file, attr_x_fields[i].name);
			ret = sfs_cli_fail(cmd, what, -EOPNOTSUPP);
			goto out;
		}
	}

	if (json)
		obj = json_object_new_object();
	for (i = 0; i < NR_ATTR_X; i++) {
		if (!(ax.x_mask & attr_x_fields[i].bit))
			continue;
		if (json) {
			json_object_object_add(obj, attr_x_fields[i].name,
					       attr_x_json(&ax, attr_x_fields[i].bit));
			continue;
		}
		attr_x_text(&ax, attr_x_fields[i].bit, val, sizeof(val));
		if (__builtin_popcountll(ax.x_mask) > 1)
			printf("%s: %s\n", attr_x_fields[i].name, val);
		else
			printf("%s\n", val);
	}
	ret = json ? sfs_json_print(cmd, obj) : sfs_cli_flush(cmd);
out:
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* walk-inodes                                                          */
/* ------------------------------------------------------------------ */

#define WALK_USAGE "{meta_seq|data_seq} FIRST LAST [-p PATH] [--json]"
#define WALK_BATCH 128

/* one component of a position: a number, or -1 for the greatest value */
static int parse_pos_part(const char *s, uint64_t max, uint64_t *v)
{
	if (!strcmp(s, "-1")) {
		*v = max;
		return 0;
	}
	if (sfs_parse_u64(s, v) || *v > max)
		return -EINVAL;
	return 0;
}

/* "major[.minor[.ino]]", missing parts 0 */
static int parse_pos(const char *str, struct scoutfs_ctl_walk_pos *pos)
{
	char buf[128];
	char *parts[3];
	uint64_t v[3] = { 0, 0, 0 };
	char *p, *dot;
	int nr = 0;
	int i;

	if (strlen(str) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, str);
	for (p = buf; nr < 3; p = dot + 1) {
		parts[nr++] = p;
		dot = strchr(p, '.');
		if (!dot)
			break;
		*dot = '\0';
		if (nr == 3)
			return -EINVAL;	/* a fourth part */
	}
	for (i = 0; i < nr; i++) {
		if (parse_pos_part(parts[i], i == 1 ? UINT32_MAX : UINT64_MAX, &v[i]))
			return -EINVAL;
	}
	pos->major = v[0];
	pos->minor = (uint32_t)v[1];
	pos->ino = v[2];
	return 0;
}


int sfs_cmd_walk_inodes(int argc, char **argv)
{
	struct scoutfs_ctl_walk_entry ents[WALK_BATCH];
	struct scoutfs_ctl_walk_pos first, last;
	const char *cmd = "walk-inodes", *path = NULL;
	const char *pos_args[3];
	struct scoutfs_ctl *ctl;
	struct json_object *o;
	bool json = false;
	uint64_t total = 0;
	int nr_pos = 0;
	int index;
	int ret = 0;
	int i, n;

	ret = sfs_cli_parse_positions(cmd, WALK_USAGE,
				"List the inodes of an index from position FIRST to LAST, both\n"
				"included: meta_seq (every inode, by the sequence number of its last\n"
				"metadata change) or data_seq (regular files, by that of their last\n"
				"data change).  Positions are MAJOR[.MINOR[.INO]], missing parts 0;\n"
				"-1 is the greatest value of a part.  Only committed changes are\n"
				"listed, in order.  Rows are '# major minor ino', the header repeated\n"
				"every 25 rows.  Put -- before a position that starts with '-' if it\n"
				"could be taken for an option.\n\n"
				"  -p, --path PATH  a path in the mount (default:\n"
				"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n"
				"      --json       print a JSON array of {major, minor, ino} instead\n"
				"  -h, --help       this text\n",
				      argc, argv, pos_args, 3, &nr_pos, &path, &json);
	if (ret >= 0)
		return ret;
	ret = 0;
	if (nr_pos == 0)
		return sfs_cli_usage_error(cmd, WALK_USAGE, "no index given");
	if (!strcasecmp(pos_args[0], "meta_seq"))
		index = SCOUTFS_CTL_WALK_META_SEQ;
	else if (!strcasecmp(pos_args[0], "data_seq"))
		index = SCOUTFS_CTL_WALK_DATA_SEQ;
	else
		return sfs_cli_usage_error(cmd, WALK_USAGE,
					   "unknown index '%s' (meta_seq or data_seq)", pos_args[0]);
	if (nr_pos < 3)
		return sfs_cli_usage_error(cmd, WALK_USAGE, "no %s position given",
					   nr_pos == 1 ? "first" : "last");
	if (parse_pos(pos_args[1], &first))
		return sfs_cli_usage_error(cmd, WALK_USAGE,
					   "invalid first position '%s' (try 1.2.3 or -1)",
					   pos_args[1]);
	if (parse_pos(pos_args[2], &last))
		return sfs_cli_usage_error(cmd, WALK_USAGE,
					   "invalid last position '%s' (try 1.2.3 or -1)",
					   pos_args[2]);

	path = sfs_cli_mount_path(path);
	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	if (json)
		printf("[");
	for (;;) {
		n = scoutfs_walk_inodes(ctl, index, &first, &last, ents, WALK_BATCH);
		if (n < 0) {
			ret = sfs_cli_fail(cmd, path, n);
			break;
		}
		for (i = 0; i < n; i++, total++) {
			if (json) {
				o = json_object_new_object();
				json_object_object_add(o, "major", sfs_json_u64(ents[i].major));
				json_object_object_add(o, "minor", sfs_json_u64(ents[i].minor));
				json_object_object_add(o, "ino", sfs_json_u64(ents[i].ino));
				printf("%s\n  %s", total ? "," : "", sfs_json_line(o));
				json_object_put(o);
				continue;
			}
			if (total % 25 == 0)
				printf("%-20s %-20s %-10s %-20s\n", "#", "major", "minor", "ino");
			printf("%-20llu %-20llu %-10u %-20llu\n", ULL(total), ULL(ents[i].major),
			       ents[i].minor, ULL(ents[i].ino));
		}
		/* the end, or the last possible position (the next would wrap) */
		if (n == 0 || (ents[n - 1].major == UINT64_MAX && ents[n - 1].minor == UINT32_MAX &&
			       ents[n - 1].ino == UINT64_MAX))
			break;
	}
	scoutfs_ctl_close(ctl);
	if (ret) {
		fflush(stdout);
		return ret;
	}
	if (json)
		printf("%s]\n", total ? "\n" : "");
	return sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* ino-path                                                             */
/* ------------------------------------------------------------------ */

#define INO_PATH_USAGE "INO [-p PATH] [--json]"

/* for commands that take an inode number and -p: 0, -1 after --help, or 2 */
static int parse_ino_args(const char *cmd, const char *usage, const char *help, int argc,
			  char **argv, uint64_t *ino, const char **path, bool *json)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			*path = optarg;
			break;
		case OPT_JSON:
			*json = true;
			break;
		case 'h':
		case OPT_HELP:
			ret = sfs_cli_help(cmd, usage, help);
			return ret ? ret : -1;
		default:
			return sfs_cli_getopt_error(cmd, usage, c, argv);
		}
	}
	if (optind >= argc)
		return sfs_cli_usage_error(cmd, usage, "no inode number given");
	if (optind + 1 < argc)
		return sfs_cli_usage_error(cmd, usage, "unexpected argument '%s'", argv[optind + 1]);
	*path = sfs_cli_mount_path(*path);
	return parse_ino(cmd, usage, argv[optind], false, ino);
}

int sfs_cmd_ino_path(int argc, char **argv)
{
	const char *cmd = "ino-path", *path = NULL;
	uint64_t ino, dir_ino = 0, dir_pos = 0;
	struct json_object *arr = NULL;
	struct scoutfs_ctl *ctl;
	char what[64];
	char mnt[4096];
	char *rel = NULL, *full = NULL;
	bool json = false;
	size_t len;
	int ret;

	ret = parse_ino_args(cmd, INO_PATH_USAGE,
		"Print every path of the inode, one a line, each the mount point and\n"
		"the path of one of its directory entries.  Paths are found entry by\n"
		"entry, so a rename at the same time can make them inconsistent.\n"
		"Needs root.\n\n"
		"  -p, --path PATH  a path in the mount (default:\n"
		"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n"
		"      --json       print a JSON array of the paths instead\n"
		"  -h, --help       this text\n",
		argc, argv, &ino, &path, &json);
	if (ret)
		return ret < 0 ? 0 : ret;

	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	/* the mount point without a trailing '/', so "/" + relative path joins it */
	snprintf(mnt, sizeof(mnt), "%s", scoutfs_ctl_info(ctl)->mount_point);
	len = strlen(mnt);
	while (len > 0 && mnt[len - 1] == '/')
		mnt[--len] = '\0';
	rel = malloc(PATH_MAX);
	full = malloc(len + 1 + PATH_MAX);
	if (!rel || !full) {
		ret = sfs_cli_fail(cmd, NULL, -ENOMEM);
		goto out;
	}
	if (json)
		arr = json_object_new_array();
	snprintf(what, sizeof(what), "inode %llu", ULL(ino));
	for (;;) {
		ret = scoutfs_ino_path(ctl, ino, &dir_ino, &dir_pos, rel, PATH_MAX);
		if (ret == -ENOENT) {
			ret = 0;
			break;
		}
		if (ret) {
			ret = sfs_cli_fail(cmd, what, ret);
			break;
		}
		snprintf(full, len + 1 + PATH_MAX, "%s/%s", mnt, rel);
		if (arr)
			json_object_array_add(arr, sfs_json_str(full));
		else
			printf("%s\n", full);
		if (dir_ino == 0 && dir_pos == 0)
			break;	/* the cursor wrapped past the last position */
	}
	if (arr) {
		if (!ret)
			ret = sfs_json_print(cmd, arr);
		else
			json_object_put(arr);
	} else if (!ret) {
		ret = sfs_cli_flush(cmd);
	}
out:
	free(rel);
	free(full);
	scoutfs_ctl_close(ctl);
	return ret;
}

/* ------------------------------------------------------------------ */
/* get-referring-entries                                                */
/* ------------------------------------------------------------------ */

#define GRE_USAGE "INO [-p PATH] [--json]"

static int print_referring_entry(void *arg, const struct scoutfs_ctl_dirent *ent, const char *name)
{
	struct json_object *arr = arg;
	struct json_object *o;

	if (!arr) {
		printf("dir %llu pos %llu type %u name %s\n", ULL(ent->dir_ino), ULL(ent->dir_pos),
		       ent->d_type, name);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "dir", sfs_json_u64(ent->dir_ino));
	json_object_object_add(o, "pos", sfs_json_u64(ent->dir_pos));
	json_object_object_add(o, "type", sfs_json_u64(ent->d_type));
	json_object_object_add(o, "name", sfs_json_str(name));
	json_object_array_add(arr, o);
	return 0;
}

int sfs_cmd_get_referring_entries(int argc, char **argv)
{
	const char *cmd = "get-referring-entries", *path = NULL;
	uint64_t ino, dir_ino = 0, dir_pos = 0;
	struct json_object *arr = NULL;
	struct scoutfs_ctl *ctl;
	char what[64];
	bool json = false;
	int ret;

	ret = parse_ino_args(cmd, GRE_USAGE,
		"Print the directory entries that refer to the inode, one a line:\n"
		"'dir DIR-INO pos DIR-POS type DT name NAME', DT the readdir type\n"
		"number (4 directory, 8 regular file, 10 symlink, ...).  Needs root.\n\n"
		"  -p, --path PATH  a path in the mount (default:\n"
		"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n"
		"      --json       print a JSON array of {dir, pos, type, name} instead\n"
		"  -h, --help       this text\n",
		argc, argv, &ino, &path, &json);
	if (ret)
		return ret < 0 ? 0 : ret;

	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	if (json)
		arr = json_object_new_array();
	ret = scoutfs_get_referring_entries(ctl, ino, &dir_ino, &dir_pos, print_referring_entry,
					    arr);
	scoutfs_ctl_close(ctl);
	if (ret < 0) {
		json_object_put(arr);
		snprintf(what, sizeof(what), "inode %llu", ULL(ino));
		return sfs_cli_fail(cmd, what, ret);
	}
	return arr ? sfs_json_print(cmd, arr) : sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* get-allocated-inos                                                   */
/* ------------------------------------------------------------------ */

#define GAI_USAGE "-i INO [-s] [-p PATH] [--json]"

int sfs_cmd_get_allocated_inos(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ino", required_argument, NULL, 'i' },
		{ "single", no_argument, NULL, 's' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "get-allocated-inos", *path = NULL;
	struct json_object *arr = NULL;
	bool json = false, single = false, have_ino = false;
	struct scoutfs_ctl *ctl;
	uint64_t *inos;
	uint64_t ino = 0;
	char what[64];
	int ret;
	int c, i, n;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":i:sp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ret = parse_ino(cmd, GAI_USAGE, optarg, true, &ino);
			if (ret)
				return ret;
			have_ino = true;
			break;
		case 's':
			single = true;
			break;
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, GAI_USAGE,
				"Print the inode numbers in use from INO to the end of its group of\n"
				"1024 inode numbers, one a line (inodes being deleted may still be\n"
				"listed).  Needs root.\n\n"
				"  -i, --ino INO    the first inode number (required)\n"
				"  -s, --single     print INO only, and only if it is in use\n"
				"  -p, --path PATH  a path in the mount (default:\n"
				"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n"
				"      --json       print a JSON array of the numbers instead\n"
				"  -h, --help       this text\n");
		default:
			return sfs_cli_getopt_error(cmd, GAI_USAGE, c, argv);
		}
	}
	if (optind < argc)
		return sfs_cli_usage_error(cmd, GAI_USAGE, "unexpected argument '%s'",
					   argv[optind]);
	if (!have_ino)
		return sfs_cli_usage_error(cmd, GAI_USAGE, "no starting inode number given (-i)");

	path = sfs_cli_mount_path(path);
	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	inos = calloc(SCOUTFS_LOCK_INODE_GROUP_NR, sizeof(*inos));
	if (!inos) {
		scoutfs_ctl_close(ctl);
		return sfs_cli_fail(cmd, NULL, -ENOMEM);
	}
	/* one call covers the rest of the group; -s asks for one number */
	n = scoutfs_get_allocated_inos(ctl, ino, inos,
				       single ? 1 : (unsigned int)SCOUTFS_LOCK_INODE_GROUP_NR);
	scoutfs_ctl_close(ctl);
	if (n < 0) {
		free(inos);
		snprintf(what, sizeof(what), "inode %llu", ULL(ino));
		return sfs_cli_fail(cmd, what, n);
	}
	if (single && n > 0 && inos[0] != ino)
		n = 0;
	if (json)
		arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		if (arr)
			json_object_array_add(arr, sfs_json_u64(inos[i]));
		else
			printf("%llu\n", ULL(inos[i]));
	}
	free(inos);
	return arr ? sfs_json_print(cmd, arr) : sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* counters                                                             */
/* ------------------------------------------------------------------ */

#define COUNTERS_USAGE "[-t] [-p PATH] [--json]"

struct counter {
	char *name;
	uint64_t value;
	int name_wid;
	int val_wid;
};

struct counters {
	struct counter *ctrs;
	size_t nr;
	size_t alloced;
};

static int add_counter(void *arg, const char *name, uint64_t value)
{
	struct counters *cs = arg;
	struct counter *c;
	char buf[32];

	if (cs->nr == cs->alloced) {
		size_t n = cs->alloced ? cs->alloced * 2 : 128;
		struct counter *p = realloc(cs->ctrs, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		cs->ctrs = p;
		cs->alloced = n;
	}
	c = &cs->ctrs[cs->nr];
	c->name = strdup(name);
	if (!c->name)
		return -ENOMEM;
	c->value = value;
	c->name_wid = (int)strlen(name);
	c->val_wid = snprintf(buf, sizeof(buf), "%llu", ULL(value));
	cs->nr++;
	return 0;
}

static int cmp_counters(const void *a, const void *b)
{
	return strcmp(((const struct counter *)a)->name, ((const struct counter *)b)->name);
}

/* the width to fill with -t: $COLUMNS, else the terminal's, else 80 */
static int table_width(void)
{
	const char *cols = getenv("COLUMNS");
	struct winsize ws;
	long v;

	if (cols && cols[0]) {
		v = strtol(cols, NULL, 10);
		if (v > 0 && v < 100000)
			return (int)v;
	}
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/*
 * Counters in columns, filled top to bottom, left to right: the fewest
 * rows whose columns fit in width, one column when width is 0 or nothing
 * narrower fits.  Each column is "name value", names left and values right
 * aligned; columns are two spaces apart.
 */
static int print_counters(const struct counters *cs, int width)
{
	size_t rows, cols, r, c, i;
	int *nw, *vw;
	int used;

	nw = calloc(cs->nr, sizeof(*nw));
	vw = calloc(cs->nr, sizeof(*vw));
	if (!nw || !vw) {
		free(nw);
		free(vw);
		return -ENOMEM;
	}
	for (rows = width > 0 ? 1 : cs->nr;; rows++) {
		cols = (cs->nr + rows - 1) / rows;
		used = 0;
		for (c = 0; c < cols; c++) {
			nw[c] = vw[c] = 0;
			for (r = 0; r < rows && c * rows + r < cs->nr; r++) {
				i = c * rows + r;
				if (cs->ctrs[i].name_wid > nw[c])
					nw[c] = cs->ctrs[i].name_wid;
				if (cs->ctrs[i].val_wid > vw[c])
					vw[c] = cs->ctrs[i].val_wid;
			}
			used += (c ? 2 : 0) + nw[c] + 1 + vw[c];
		}
		if (used <= width || rows >= cs->nr)
			break;
	}
	for (r = 0; r < rows; r++) {
		for (c = 0; c < cols && c * rows + r < cs->nr; c++) {
			i = c * rows + r;
			printf("%s%-*s %*llu", c ? "  " : "", nw[c], cs->ctrs[i].name, vw[c],
			       ULL(cs->ctrs[i].value));
		}
		printf("\n");
	}
	free(nw);
	free(vw);
	return 0;
}

int sfs_cmd_counters(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "table", no_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "counters", *path = NULL;
	struct counters cs = { NULL, 0, 0 };
	struct json_object *obj;
	struct scoutfs_ctl *ctl;
	bool json = false, table = false;
	size_t i;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":tp:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			table = true;
			break;
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, COUNTERS_USAGE,
				"Print the daemon's counters in name order, one \"name value\" line\n"
				"each.\n\n"
				"  -t, --table      pack them into columns that fill the width of\n"
				"                   $COLUMNS, else the terminal, else 80 columns\n"
				"  -p, --path PATH  a path in the mount (default:\n"
				"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n"
				"      --json       print a JSON object of name: value instead\n"
				"  -h, --help       this text\n");
		default:
			return sfs_cli_getopt_error(cmd, COUNTERS_USAGE, c, argv);
		}
	}
	ret = sfs_cli_connect_args(cmd, COUNTERS_USAGE, argc, argv, optind, &path, &ctl);
	if (ret)
		return ret;
	ret = scoutfs_counters(ctl, add_counter, &cs);
	scoutfs_ctl_close(ctl);
	if (ret) {
		ret = sfs_cli_fail(cmd, path, ret);
		goto out;
	}
	qsort(cs.ctrs, cs.nr, sizeof(cs.ctrs[0]), cmp_counters);
	if (json) {
		obj = json_object_new_object();
		for (i = 0; i < cs.nr; i++)
			json_object_object_add(obj, cs.ctrs[i].name, sfs_json_u64(cs.ctrs[i].value));
		ret = sfs_json_print(cmd, obj);
		goto out;
	}
	ret = cs.nr ? print_counters(&cs, table ? table_width() : 0) : 0;
	ret = ret ? sfs_cli_fail(cmd, NULL, ret) : sfs_cli_flush(cmd);
out:
	for (i = 0; i < cs.nr; i++)
		free(cs.ctrs[i].name);
	free(cs.ctrs);
	return ret;
}
