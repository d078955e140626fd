// SPDX-License-Identifier: GPL-2.0
/*
 * The scoutfs command line: dispatch to the command named by argv[1], and
 * the argument parsing helpers commands share.
 *
 * Commands are grouped as the reference CLI groups them; each entry names
 * the function that implements it (see cmd.h for the calling convention).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cmd.h"
#include "scoutfs/format.h"

/* cli_quorum.c: quorum status and fence requests (cmd.h is not this change's to edit) */

struct command {
	const char *name;
	const char *args;
	const char *help;
	const char *group;
	int (*func)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "mkfs", "META-DEVICE DATA-DEVICE -Q NR,ADDR,PORT...", "Initialize a new scoutfs volume",
	  "Core admin", sfs_cmd_mkfs },
	{ "df", "[-h] [-p PATH]", "Show metadata and data block usage", "Core admin", sfs_cmd_df },
	{ "statfs", "[-s FIELD] [-p PATH]", "Show scoutfs file system information",
	  "Additional Information", sfs_cmd_statfs },
	{ "stat", "FILE [-s FIELD]", "Show scoutfs inode information", "Additional Information",
	  sfs_cmd_stat },
	{ "counters", "[-t] [-p PATH]", "Show the daemon's counters", "Additional Information",
	  sfs_cmd_counters },
	{ "quorum", "[-p PATH]", "Show the mount's quorum state", "Additional Information",
	  sfs_cmd_quorum },
	{ "walk-inodes", "{meta_seq|data_seq} FIRST LAST [-p PATH]",
	  "Print a range of the inode seq indexes", "Search Acceleration", sfs_cmd_walk_inodes },
	{ "ino-path", "INO [-p PATH]", "Print the paths of an inode number", "Search Acceleration",
	  sfs_cmd_ino_path },
	{ "get-referring-entries", "INO [-p PATH]",
	  "Print the directory entries that refer to an inode number", "Search Acceleration",
	  sfs_cmd_get_referring_entries },
	{ "read-xattr-totals", "[-p PATH]", "Print the totals of scoutfs.totl. xattrs",
	  "Search Acceleration", sfs_cmd_read_xattr_totals },
	{ "read-xattr-index", "FIRST LAST [-p PATH]",
	  "Print a range of the scoutfs.indx. xattr index", "Search Acceleration",
	  sfs_cmd_read_xattr_index },
	{ "list-hidden-xattrs", "FILE", "Print the names of a file's hidden xattrs",
	  "Search Acceleration", sfs_cmd_list_hidden_xattrs },
	{ "search-xattrs", "NAME [-p PATH]", "Print the inodes that may have a scoutfs.srch. xattr",
	  "Search Acceleration", sfs_cmd_search_xattrs },
	{ "quota-add", "-r RULE [-p PATH]", "Add a quota rule", "Core admin",
	  sfs_cmd_quota_add },
	{ "quota-del", "-r RULE [-p PATH]", "Delete a quota rule", "Core admin",
	  sfs_cmd_quota_del },
	{ "quota-list", "[-p PATH] [-U]", "List the quota rules", "Core admin",
	  sfs_cmd_quota_list },
	{ "quota-wipe", "[-p PATH]", "Delete every quota rule", "Core admin",
	  sfs_cmd_quota_wipe },
	{ "quota-restore", "[-p PATH]", "Add quota rules from quota-list output on stdin",
	  "Core admin", sfs_cmd_quota_restore },
	{ "volume-options", "[-p PATH] [-s NAME=VALUE] [-c NAME]",
	  "Show or change the volume options", "Core admin", sfs_cmd_volume_options },
	{ "fence-requests", "[-p PATH] [--fenced RID | --error RID]",
	  "List or answer the leader's fence requests", "Core admin", sfs_cmd_fence_requests },
	{ "get-attr-x", "FILE [-m] [-d] [-v] [-n] [-f] [-c] [-r] [-s] [-t] [-p]",
	  "Get extensible file attributes", "Agent", sfs_cmd_get_attr_x },
	{ "set-attr-x", "FILE [-v VERS] [-s SIZE [-o]] [-c TIME] [-r TIME] [-t 0|1] [-p PROJ]",
	  "Set extensible file attributes", "Agent", sfs_cmd_set_attr_x },
	{ "setattr", "FILE [-V VERSION] [-s SIZE [-o]] [-t SECS.NSECS]",
	  "Restore a new file's size, data version and times", "Agent", sfs_cmd_setattr },
	{ "release", "FILE -V VERSION [-o OFFSET] [-l LENGTH]",
	  "Release file contents to the archive (offline)", "Agent", sfs_cmd_release },
	{ "stage", "ARCHIVE-FILE FILE -V VERSION [-o OFFSET] [-l LENGTH]",
	  "Write archived contents back into an offline file", "Agent", sfs_cmd_stage },
	{ "punch-offline", "FILE -V VERSION -o OFFSET -l LENGTH",
	  "Make released extents sparse holes", "Agent", sfs_cmd_punch_offline },
	{ "move-blocks", "FROM -f OFF -l LEN TO -t OFF", "Move blocks between files (no copy)",
	  "Agent", sfs_cmd_move_blocks },
	{ "data-waiting", "-I INO -B BLOCK [-p PATH]", "List requests waiting for offline data",
	  "Agent", sfs_cmd_data_waiting },
	{ "data-wait-err", "-I INO -V VERS -F OFF -C COUNT -O OP -E ERR [-p PATH]",
	  "Fail requests waiting for offline data", "Agent", sfs_cmd_data_wait_err },
	{ "print", "META-DEVICE", "Print metadata structures", "Debug", sfs_cmd_print },
	{ "get-allocated-inos", "-i INO [-s] [-p PATH]",
	  "Print allocated inode numbers from an inode number", "Debug",
	  sfs_cmd_get_allocated_inos },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	const char *groups[] = { "Core admin", "Additional Information", "Search Acceleration",
				 "Agent", "Debug" };
	unsigned int g, i;

	fprintf(f, "Usage: scoutfs COMMAND [OPTIONS] [ARGS]\n");
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		fprintf(f, "\n%s:\n", groups[g]);
		for (i = 0; i < NR_COMMANDS; i++) {
			if (strcmp(commands[i].group, groups[g]) == 0)
				fprintf(f, "  %-22s %s\n", commands[i].name, commands[i].help);
		}
	}
	fprintf(f, "\n'scoutfs COMMAND --help' describes a command.\n"
		   "Supported format versions: " SCOUTFS_FORMAT_VERSION_MIN_STR "-"
		   SCOUTFS_FORMAT_VERSION_MAX_STR "\n");
}

int sfs_cli_main(int argc, char **argv)
{
	unsigned int i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version") ||
	    !strcmp(argv[1], "version")) {
		printf("scoutfs %s (format versions " SCOUTFS_FORMAT_VERSION_MIN_STR "-"
		       SCOUTFS_FORMAT_VERSION_MAX_STR ")\n", SFS_VERSION);
		return 0;
	}

	for (i = 0; i < NR_COMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].func(argc - 1, argv + 1);
	}
	fprintf(stderr, "scoutfs: unknown command '%s'\nTry 'scoutfs --help' for the list of commands.\n",
		argv[1]);
	return 2;
}

int sfs_parse_u64(const char *str, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (!str || *str < '0' || *str > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*val = v;
	return 0;
}

int sfs_parse_size(const char *str, uint64_t *val)
{
	static const char suffixes[] = "KMGTP";
	unsigned long long v;
	const char *s;
	char *end;
	int shift;

	if (!str || *str < '0' || *str > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		s = strchr(suffixes, end[0] & ~0x20);
		if (!s || !*s)
			return -EINVAL;
		/* accept K, KB, KiB */
		if (end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB") &&
		    strcmp(end + 1, "b"))
			return -EINVAL;
		shift = 10 * (int)(s - suffixes + 1);
		if (v > (UINT64_MAX >> shift))
			return -EINVAL;
		v <<= shift;
	}
	*val = v;
	return 0;
}
