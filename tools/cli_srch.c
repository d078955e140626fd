// SPDX-License-Identifier: GPL-2.0
/*
 * search-xattrs (reference-scoutfs.md 5.7 and 8): the inodes that may
 * have an xattr of a scoutfs.srch. name, over libscoutfs.  Text output is
 * the reference tool's (one inode number a line, ascending); --json
 * prints one JSON array of numbers instead.  Returns 0, 1 after an
 * error it explained in one line on stderr, or 2 for a usage error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_json.h"
#include "cmd.h"

#define SEARCH_USAGE "NAME [-p PATH] [--json]"
#define SEARCH_BATCH 1024

int sfs_cmd_search_xattrs(int argc, char **argv)
{
	const char *cmd = "search-xattrs", *path = NULL;
	struct json_object *arr = NULL;
	uint64_t inos[SEARCH_BATCH], next = 0;
	const char *pos_args[1];
	struct scoutfs_ctl *ctl;
	bool json = false, end = false;
	int nr_pos = 0;
	int ret, i, n;

	ret = sfs_cli_parse_positions(cmd, SEARCH_USAGE,
				"Print the numbers of the inodes that may have an extended\n"
				"attribute named NAME, one a line in ascending order.  NAME\n"
				"must carry the scoutfs.srch. tag (scoutfs.srch.REST).  A\n"
				"number may be a false positive (another name with the same\n"
				"hash); only committed changes are found.  Needs root.\n\n"
				"  -p, --path PATH  a path in the mount (default:\n"
				"                   $SCOUTFS_MOUNT_PATH, else the current\n"
				"                   directory)\n"
				"      --json       print a JSON array of numbers instead\n"
				"  -h, --help       this text\n",
				      argc, argv, pos_args, 1, &nr_pos, &path, &json);
	if (ret >= 0)
		return ret;
	ret = 0;
	if (nr_pos < 1)
		return sfs_cli_usage_error(cmd, SEARCH_USAGE, "no xattr name given");

	path = sfs_cli_mount_path(path);
	ret = sfs_cli_connect(cmd, path, &ctl);
	if (ret)
		return ret;
	if (json)
		arr = json_object_new_array();
	while (!end) {
		n = scoutfs_search_xattrs(ctl, pos_args[0], &next, UINT64_MAX, inos, SEARCH_BATCH,
					  &end);
		if (n < 0) {
			ret = sfs_cli_fail(cmd, path, n);
			break;
		}
		for (i = 0; i < n; i++) {
			if (arr)
				json_object_array_add(arr, sfs_json_u64(inos[i]));
			else
				printf("%llu\n", (unsigned long long)inos[i]);
		}
	}
	scoutfs_ctl_close(ctl);
	return sfs_cli_finish(cmd, arr, ret);
}
