// SPDX-License-Identifier: GPL-2.0
/*
 * The volume-options command (reference-scoutfs.md 6.2): what the
 * reference's sysfs volume_options/ files show and change.  Without
 * --set or --clear it prints every option, one "NAME VALUE" line each,
 * VALUE "unset" for an option that is not set.  --set NAME=VALUE (root)
 * sets an option, --clear NAME (root) unsets it; both may be repeated,
 * the sets go in one request, then the clears in another, and an option
 * may not be both set and cleared.  With --json it prints one object of
 * NAME: VALUE (null when unset): the options as they are after the
 * change, if any.  Returns 0, 1 after an error it explained on stderr,
 * or 2 for a usage error.
 *
 * The server checks values: a refused one (EINVAL) is explained with the
 * rule and this volume's numbers, read with STATFS_MORE.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "cmd.h"

#define OPT_JSON 1000
#define OPT_HELP 1001

#define USAGE "[-p PATH] [-s|--set NAME=VALUE]... [-c|--clear NAME]... [--json]"
#define HELP \
	"Print the volume options, one \"NAME VALUE\" line each (VALUE\n" \
	"\"unset\" when the option is not set), or change them.  They are\n" \
	"the volume's, shared by every mount; a change is committed before\n" \
	"the command returns and every mount uses it from then on.\n\n" \
	"The volume options:\n" \
	"  data_alloc_zone_blocks  divide the data device into zones of this\n" \
	"                   many 4 KiB blocks: each mount gets its free data\n" \
	"                   blocks from zones it already uses, then from zones\n" \
	"                   no other mount uses, then anywhere.  At least the\n" \
	"                   per-mount data target (4 GiB = 1048576 blocks by\n" \
	"                   default), at least total_data_blocks/1024, at most\n" \
	"                   total_data_blocks.  Unset: no zones.\n\n" \
	"Command options:\n" \
	"  -s, --set NAME=VALUE  set an option (root only); may be repeated\n" \
	"  -c, --clear NAME      unset an option (root only); may be repeated\n" \
	"  -p, --path PATH  a path in the mount (default:\n" \
	"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n" \
	"      --json       print a JSON object of NAME: VALUE (null when\n" \
	"                   unset) instead, after the change if any\n" \
	"  -h, --help       this text\n"

/* the reference's default per-mount data fill target: 4 GiB of 4 KiB blocks */
#define DEF_DATA_TARGET_BLOCKS ((4ULL << 30) >> 12)

/* the options, named as the reference's sysfs files */
static const struct volopt_desc {
	const char *name;
	uint64_t bit;
	size_t off;		/* of the value in struct scoutfs_ctl_volopt */
} volopts[] = {
	{ "data_alloc_zone_blocks", SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS,
	  offsetof(struct scoutfs_ctl_volopt, data_alloc_zone_blocks) },
};

#define NR_VOLOPTS (sizeof(volopts) / sizeof(volopts[0]))

static uint64_t *volopt_val(struct scoutfs_ctl_volopt *vo, const struct volopt_desc *d)
{
	return (uint64_t *)((char *)vo + d->off);
}

static const struct volopt_desc *find_volopt(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NR_VOLOPTS; i++) {
		if (strlen(volopts[i].name) == len && !strncmp(volopts[i].name, name, len))
			return &volopts[i];
	}
	return NULL;
}

static int unknown_name(const char *cmd, const char *name, size_t len)
{
	char known[256] = "";
	size_t i;

	for (i = 0; i < NR_VOLOPTS; i++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i ? ", " : "", volopts[i].name);
	return sfs_cli_usage_error(cmd, USAGE, "unknown volume option '%.*s' (known: %s)",
				   (int)len, name, known);
}

/* NAME=VALUE into set; 0 or the usage error's exit status */
static int parse_set(const char *cmd, const char *arg, struct scoutfs_ctl_volopt *set)
{
	const struct volopt_desc *d;
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq)
		return sfs_cli_usage_error(cmd, USAGE, "--set needs NAME=VALUE, not '%s'", arg);
	d = find_volopt(arg, (size_t)(eq - arg));
	if (!d)
		return unknown_name(cmd, arg, (size_t)(eq - arg));
	if (sfs_parse_u64(eq + 1, &v))
		return sfs_cli_usage_error(cmd, USAGE,
					   "%s: '%s' is not a number of 4 KiB blocks", d->name,
					   eq + 1);
	set->set_bits |= d->bit;
	*volopt_val(set, d) = v;
	return 0;
}

static struct json_object *volopt_json(struct scoutfs_ctl_volopt *vo)
{
	struct json_object *obj = json_object_new_object();
	size_t i;

	for (i = 0; i < NR_VOLOPTS; i++)
		json_object_object_add(obj, volopts[i].name,
				       (vo->set_bits & volopts[i].bit) ?
				       sfs_json_u64(*volopt_val(vo, &volopts[i])) : NULL);
	return obj;
}

static void print_volopt(struct scoutfs_ctl_volopt *vo)
{
	size_t i;

	for (i = 0; i < NR_VOLOPTS; i++) {
		if (vo->set_bits & volopts[i].bit)
			printf("%s %llu\n", volopts[i].name,
			       (unsigned long long)*volopt_val(vo, &volopts[i]));
		else
			printf("%s unset\n", volopts[i].name);
	}
}

/* the server refused set (EINVAL): say what the values must be, in one line */
static int refused(const char *cmd, struct scoutfs_ctl *ctl, const struct scoutfs_ctl_volopt *set)
{
	struct scoutfs_ctl_statfs_more sfm;
	char limits[128] = "";

	if (!(set->set_bits & SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS)) {
		fprintf(stderr, "scoutfs %s: the server refused the values: %s\n", cmd,
			scoutfs_strerror(-EINVAL));
		return SFS_CLI_ERR;
	}
	if (!scoutfs_statfs_more(ctl, &sfm))
		snprintf(limits, sizeof(limits), " (%llu here)",
			 (unsigned long long)(sfm.total_data_blocks / 1024));
	fprintf(stderr,
		"scoutfs %s: data_alloc_zone_blocks=%llu refused: it must be at least the per-mount data target (4 GiB = %llu blocks by default), at least total_data_blocks/1024%s and at most total_data_blocks",
		cmd, (unsigned long long)set->data_alloc_zone_blocks,
		(unsigned long long)DEF_DATA_TARGET_BLOCKS, limits);
	if (limits[0])
		fprintf(stderr, " (%llu)", (unsigned long long)sfm.total_data_blocks);
	fprintf(stderr, "\n");
	return SFS_CLI_ERR;
}

int sfs_cmd_volume_options(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "set", required_argument, NULL, 's' },
		{ "clear", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "volume-options", *path = NULL;
	struct scoutfs_ctl_volopt set = { 0, 0 }, vo;
	const struct volopt_desc *d;
	struct scoutfs_ctl *ctl;
	uint64_t clear = 0;
	bool json = false;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":p:s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			path = optarg;
			break;
		case 's':
			ret = parse_set(cmd, optarg, &set);
			if (ret)
				return ret;
			break;
		case 'c':
			d = find_volopt(optarg, strlen(optarg));
			if (!d)
				return unknown_name(cmd, optarg, strlen(optarg));
			clear |= d->bit;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, USAGE, HELP);
		default:
			return sfs_cli_getopt_error(cmd, USAGE, c, argv);
		}
	}
	if (set.set_bits & clear)
		return sfs_cli_usage_error(cmd, USAGE, "an option cannot be both set and cleared");
	ret = sfs_cli_connect_args(cmd, USAGE, argc, argv, optind, &path, &ctl);
	if (ret)
		return ret;
	if (set.set_bits) {
		ret = scoutfs_set_volopt(ctl, &set);
		if (ret == -EINVAL)
			ret = refused(cmd, ctl, &set);
		else if (ret)
			ret = sfs_cli_fail(cmd, path, ret);
	}
	if (!ret && clear) {
		ret = scoutfs_clear_volopt(ctl, clear);
		if (ret)
			ret = sfs_cli_fail(cmd, path, ret);
	}
	if (!ret && (json || !(set.set_bits || clear))) {
		ret = scoutfs_get_volopt(ctl, &vo);
		if (ret)
			ret = sfs_cli_fail(cmd, path, ret);
	}
	scoutfs_ctl_close(ctl);
	if (ret || (!json && (set.set_bits || clear)))
		return ret;
	if (json)
		return sfs_json_print(cmd, volopt_json(&vo));
	print_volopt(&vo);
	return sfs_cli_flush(cmd);
}
