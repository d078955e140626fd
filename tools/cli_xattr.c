// SPDX-License-Identifier: GPL-2.0
/*
 * The commands of the tagged xattrs (reference-scoutfs.md 5.6 and 8):
 * read-xattr-totals, read-xattr-index and list-hidden-xattrs, over
 * libscoutfs.  Text output is the reference tools' ("a.b.c = total,
 * count", "major.minor = ino", one hidden name a line); --json prints one
 * JSON array instead.  Each returns 0, 1 after an error it explained in
 * one line on stderr, or 2 for a usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_json.h"
#include "cmd.h"

#define OPT_JSON 1000
#define OPT_HELP 1001

#define ULL(x) ((unsigned long long)(x))


/* ------------------------------------------------------------------ */
/* read-xattr-totals                                                    */
/* ------------------------------------------------------------------ */

#define TOTALS_USAGE "[-p PATH] [--json]"
#define TOTALS_BATCH 256

int sfs_cmd_read_xattr_totals(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct scoutfs_ctl_xattr_total tots[TOTALS_BATCH];
	struct scoutfs_ctl_totl_name pos = { { 0, 0, 0 } };
	const char *cmd = "read-xattr-totals", *path = NULL;
	struct json_object *arr = NULL, *o;
	struct scoutfs_ctl *ctl;
	bool json = false;
	int ret = 0;
	int c, i, n;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, TOTALS_USAGE,
				"Print the totals of the scoutfs.totl. extended attributes,\n"
				"one 'A.B.C = TOTAL, COUNT' line each in name order: for\n"
				"every name A.B.C that ends scoutfs.totl. xattr names, the\n"
				"sum of those xattrs' values and how many there are.  Only\n"
				"committed changes are counted (a file's fsync commits its\n"
				"mount's changes).  Needs root.\n\n"
				"  -p, --path PATH  a path in the mount (default:\n"
				"                   $SCOUTFS_MOUNT_PATH, else the current\n"
				"                   directory)\n"
				"      --json       print a JSON array of\n"
				"                   {a, b, c, total, count} instead\n"
				"  -h, --help       this text\n");
		default:
			return sfs_cli_getopt_error(cmd, TOTALS_USAGE, c, argv);
		}
	}
	ret = sfs_cli_connect_args(cmd, TOTALS_USAGE, argc, argv, optind, &path, &ctl);
	if (ret)
		return ret;
	if (json)
		arr = json_object_new_array();
	for (;;) {
		n = scoutfs_read_xattr_totals(ctl, &pos, tots, TOTALS_BATCH);
		if (n < 0) {
			ret = sfs_cli_fail(cmd, path, n);
			break;
		}
		for (i = 0; i < n; i++) {
			if (!arr) {
				printf("%llu.%llu.%llu = %" PRId64 ", %" PRId64 "\n",
				       ULL(tots[i].name[0]), ULL(tots[i].name[1]),
				       ULL(tots[i].name[2]), tots[i].total, tots[i].count);
				continue;
			}
			o = json_object_new_object();
			json_object_object_add(o, "a", sfs_json_u64(tots[i].name[0]));
			json_object_object_add(o, "b", sfs_json_u64(tots[i].name[1]));
			json_object_object_add(o, "c", sfs_json_u64(tots[i].name[2]));
			json_object_object_add(o, "total", json_object_new_int64(tots[i].total));
			json_object_object_add(o, "count", json_object_new_int64(tots[i].count));
			json_object_array_add(arr, o);
		}
		/* the end, or the last possible name (the next would wrap) */
		if (n == 0 || (pos.name[0] == 0 && pos.name[1] == 0 && pos.name[2] == 0))
			break;
	}
	scoutfs_ctl_close(ctl);
	return sfs_cli_finish(cmd, arr, ret);
}

/* ------------------------------------------------------------------ */
/* read-xattr-index                                                     */
/* ------------------------------------------------------------------ */

#define INDEX_USAGE "FIRST LAST [-p PATH] [--json]"
#define INDEX_BATCH 256

/* one part of a position: a number up to max, or -1 for max */
static int parse_part(const char *s, uint64_t max, uint64_t *v)
{
	if (!strcmp(s, "-1")) {
		*v = max;
		return 0;
	}
	if (sfs_parse_u64(s, v) || *v > max)
		return -EINVAL;
	return 0;
}

/* "MAJOR[.MINOR[.INO]]": missing parts are fill (0 for FIRST, the greatest for LAST) */
static int parse_index_pos(const char *str, bool last, struct scoutfs_ctl_xattr_index_entry *pos)
{
	const uint64_t max[3] = { UINT8_MAX, UINT64_MAX, UINT64_MAX };
	uint64_t v[3];
	char buf[128];
	char *p, *dot;
	int i;

	if (strlen(str) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, str);
	for (i = 0; i < 3; i++)
		v[i] = last ? max[i] : 0;
	for (i = 0, p = buf; p; i++) {
		if (i == 3)
			return -EINVAL;	/* a fourth part */
		dot = strchr(p, '.');
		if (dot)
			*dot = '\0';
		if (parse_part(p, max[i], &v[i]))
			return -EINVAL;
		p = dot ? dot + 1 : NULL;
	}
	pos->major = v[0];
	pos->minor = v[1];
	pos->ino = v[2];
	return 0;
}

int sfs_cmd_read_xattr_index(int argc, char **argv)
{
	struct scoutfs_ctl_xattr_index_entry ents[INDEX_BATCH], first, last;
	const char *cmd = "read-xattr-index", *path = NULL;
	struct json_object *arr = NULL, *o;
	const char *pos_args[2];
	struct scoutfs_ctl *ctl;
	bool json = false;
	int nr_pos = 0;
	int ret = 0;
	int i, n;

	ret = sfs_cli_parse_positions(cmd, INDEX_USAGE,
				"Print the entries of the xattr index from position FIRST\n"
				"to LAST, both included, one 'MAJOR.MINOR = INO' line each\n"
				"in order: inode INO has a scoutfs.indx.NAME.MAJOR.MINOR\n"
				"extended attribute (listed once however many such names\n"
				"it has).  Positions are MAJOR[.MINOR[.INO]], MAJOR at\n"
				"most 255; missing parts are 0 in FIRST and the greatest\n"
				"value in LAST, and -1 is the greatest value of a part.\n"
				"Only committed changes are listed.  Needs root.\n\n"
				"  -p, --path PATH  a path in the mount (default:\n"
				"                   $SCOUTFS_MOUNT_PATH, else the current\n"
				"                   directory)\n"
				"      --json       print a JSON array of\n"
				"                   {major, minor, ino} instead\n"
				"  -h, --help       this text\n",
				      argc, argv, pos_args, 2, &nr_pos, &path, &json);
	if (ret >= 0)
		return ret;
	ret = 0;
	if (nr_pos < 2)
		return sfs_cli_usage_error(cmd, INDEX_USAGE, "no %s position given",
					   nr_pos ? "last" : "first");
	if (parse_index_pos(pos_args[0], false, &first))
		return sfs_cli_usage_error(cmd, INDEX_USAGE,
					   "invalid first position '%s' (try 1.2.3 or -1)",
					   pos_args[0]);
	if (parse_index_pos(pos_args[1], true, &last))
		return sfs_cli_usage_error(cmd, INDEX_USAGE,
					   "invalid last position '%s' (try 1.2.3 or -1)",
					   pos_args[1]);

	path = sfs_cli_mount_path(path);
	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	if (json)
		arr = json_object_new_array();
	for (;;) {
		n = scoutfs_read_xattr_index(ctl, &first, &last, ents, INDEX_BATCH);
		if (n < 0) {
			ret = sfs_cli_fail(cmd, path, n);
			break;
		}
		for (i = 0; i < n; i++) {
			if (!arr) {
				printf("%llu.%llu = %llu\n", ULL(ents[i].major), ULL(ents[i].minor),
				       ULL(ents[i].ino));
				continue;
			}
			o = json_object_new_object();
			json_object_object_add(o, "major", sfs_json_u64(ents[i].major));
			json_object_object_add(o, "minor", sfs_json_u64(ents[i].minor));
			json_object_object_add(o, "ino", sfs_json_u64(ents[i].ino));
			json_object_array_add(arr, o);
		}
		/* the end, or past the last possible position */
		if (n == 0 || first.major > UINT8_MAX)
			break;
	}
	scoutfs_ctl_close(ctl);
	return sfs_cli_finish(cmd, arr, ret);
}

/* ------------------------------------------------------------------ */
/* list-hidden-xattrs                                                   */
/* ------------------------------------------------------------------ */

#define HIDDEN_USAGE "FILE [--json]"
#define HIDDEN_BUF (64 * 1024)

int sfs_cmd_list_hidden_xattrs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "list-hidden-xattrs", *file;
	struct json_object *arr = NULL;
	uint64_t hash = 0, id = 0;
	struct scoutfs_ctl *ctl;
	bool json = false;
	char *buf = NULL;
	int fd = -1;
	int ret = 0;
	int c, n, off;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, HIDDEN_USAGE,
				"Print the names of the file's hidden extended attributes\n"
				"(scoutfs. names with the hide. tag, which listxattr leaves\n"
				"out), one a line.  The file is opened for reading.\n\n"
				"      --json  print a JSON array of the names instead\n"
				"  -h, --help  this text\n");
		default:
			return sfs_cli_getopt_error(cmd, HIDDEN_USAGE, c, argv);
		}
	}
	if (optind >= argc)
		return sfs_cli_usage_error(cmd, HIDDEN_USAGE, "no file given");
	if (optind + 1 < argc)
		return sfs_cli_usage_error(cmd, HIDDEN_USAGE, "unexpected argument '%s'",
					   argv[optind + 1]);
	file = argv[optind];

	fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "scoutfs %s: %s: %s\n", cmd, file, strerror(errno));
		return SFS_CLI_ERR;
	}
	ret = sfs_cli_connect(cmd, file, &ctl);
	if (ret) {
		close(fd);
		return ret;
	}
	buf = malloc(HIDDEN_BUF);
	if (!buf) {
		ret = sfs_cli_fail(cmd, file, -ENOMEM);
		goto out;
	}
	if (json)
		arr = json_object_new_array();
	for (;;) {
		n = scoutfs_listxattr_hidden(ctl, SCOUTFS_FILE_FD(fd), &hash, &id, buf, HIDDEN_BUF);
		if (n < 0) {
			ret = sfs_cli_fail(cmd, file, n);
			break;
		}
		if (n == 0)
			break;
		for (off = 0; off < n; off += (int)strlen(buf + off) + 1) {
			if (arr)
				json_object_array_add(arr, sfs_json_str(buf + off));
			else
				printf("%s\n", buf + off);
		}
	}
out:
	free(buf);
	scoutfs_ctl_close(ctl);
	close(fd);
	return sfs_cli_finish(cmd, arr, ret);
}
