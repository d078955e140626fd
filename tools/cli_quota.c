// SPDX-License-Identifier: GPL-2.0
/*
 * The quota rule commands (reference-scoutfs.md 5.5 and 8): quota-add
 * and quota-del of one rule given as text (-r "PRIO A,S,F B,S,F C,S,F OP
 * LIMIT FLAG"), quota-list (the reference's text, one rule a line,
 * highest first unless -U asks for storage order), quota-wipe (deletes
 * every rule) and quota-restore (adds every rule of quota-list output
 * read on stdin).  The rule text is parsed and printed by quota.c.  With
 * --json each prints one JSON value: quota-list an array of rule objects,
 * quota-add and quota-del the rule object, quota-wipe {"deleted": N} and
 * quota-restore {"added": N}.  Each returns 0, 1 after an error it
 * explained on stderr, or 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "cmd.h"
#include "quota.h"

#define OPT_JSON 1000
#define OPT_HELP 1001
#define RULES_BATCH 512

#define MOD_USAGE "-r RULE [-p PATH] [--json]"
#define BULK_USAGE "[-p PATH] [-U] [--json]"

#define RULE_TEXT_HELP \
	"A rule is 'PRIO A,S,F B,S,F C,S,F OP LIMIT FLAG': PRIO 0-255; for\n" \
	"each part of the xattr total name a value, its source S (L literal,\n" \
	"P project, U uid, G gid) and F (S: the rule applies only when the\n" \
	"attribute equals the value, -: always); OP I (inode creation) or D\n" \
	"(data block allocation); LIMIT; FLAG C to compare the total's count\n" \
	"instead of its sum, or -.  Needs root and a format v2 volume.\n\n" \
	"  -p, --path PATH  a path in the mount (default: $SCOUTFS_MOUNT_PATH,\n" \
	"                   else the current directory)\n"

struct bulk_opts {
	const char *path;
	const char *rule;
	bool unsorted;
	bool json;
};

/*
 * The options of every command: 0 when the command goes on, -1 after
 * --help (the command exits 0), or the exit status to return.
 */
static int parse_opts(const char *cmd, const char *usage, const char *help, bool mod, int argc,
		      char **argv, struct bulk_opts *o)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "rule", required_argument, NULL, 'r' },
		{ "unsorted", no_argument, NULL, 'U' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ret;
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, mod ? ":p:r:h" : ":p:Uh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->path = optarg;
			break;
		case 'r':
			if (!mod)
				return sfs_cli_usage_error(cmd, usage, "unknown option -r");
			o->rule = optarg;
			break;
		case 'U':
			if (mod)
				return sfs_cli_usage_error(cmd, usage, "unknown option -U");
			o->unsorted = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
		case OPT_HELP:
			ret = sfs_cli_help(cmd, usage, help);
			return ret ? ret : -1;
		default:
			return sfs_cli_getopt_error(cmd, usage, c, argv);
		}
	}
	if (optind < argc)
		return sfs_cli_usage_error(cmd, usage, "unexpected argument '%s'", argv[optind]);
	if (mod && !o->rule)
		return sfs_cli_usage_error(cmd, usage, "a rule (-r) is needed");
	o->path = sfs_cli_mount_path(o->path);
	return 0;
}

static void print_rule(FILE *f, const struct scoutfs_ctl_quota_rule *rule)
{
	char buf[160];

	sfs_quota_format_rule(rule, buf, sizeof(buf));
	fprintf(f, "%s\n", buf);
}

/* the letters of the rule text (quota.c prints '?' for a value without one) */
static const char source_chars[SCOUTFS_QUOTA_NR_SOURCES] = {
	[SCOUTFS_QUOTA_SOURCE_LITERAL] = 'L',
	[SCOUTFS_QUOTA_SOURCE_PROJ] = 'P',
	[SCOUTFS_QUOTA_SOURCE_UID] = 'U',
	[SCOUTFS_QUOTA_SOURCE_GID] = 'G',
};
static const char op_chars[SCOUTFS_QUOTA_NR_OPS] = {
	[SCOUTFS_QUOTA_OP_INODE] = 'I',
	[SCOUTFS_QUOTA_OP_DATA] = 'D',
};

static struct json_object *json_char(char c)
{
	return json_object_new_string_len(&c, 1);
}

/*
 * A rule as JSON, its parts named as in the text 'PRIO A,S,F B,S,F C,S,F
 * OP LIMIT FLAG': {"prio": N, "a": {"value": N, "source": "L", "flag":
 * "-"}, "b": ..., "c": ..., "op": "I", "limit": N, "flag": "-"}, the
 * letters those of the text.
 */
static struct json_object *rule_json(const struct scoutfs_ctl_quota_rule *r)
{
	static const char *const parts[3] = { "a", "b", "c" };
	struct json_object *obj = json_object_new_object();
	struct json_object *part;
	int i;

	json_object_object_add(obj, "prio", sfs_json_u64(r->prio));
	for (i = 0; i < 3; i++) {
		part = json_object_new_object();
		json_object_object_add(part, "value", sfs_json_u64(r->name_val[i]));
		json_object_object_add(part, "source",
				       json_char(r->name_source[i] < SCOUTFS_QUOTA_NR_SOURCES ?
						 source_chars[r->name_source[i]] : '?'));
		json_object_object_add(part, "flag",
				       json_char((r->name_flags[i] & SCOUTFS_QUOTA_FLAG_SELECT) ?
						 'S' : '-'));
		json_object_object_add(obj, parts[i], part);
	}
	json_object_object_add(obj, "op", json_char(r->op < SCOUTFS_QUOTA_NR_OPS ?
						    op_chars[r->op] : '?'));
	json_object_object_add(obj, "limit", sfs_json_u64(r->limit));
	json_object_object_add(obj, "flag",
			       json_char((r->rule_flags & SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT) ?
					 'C' : '-'));
	return obj;
}

/* {"NAME": N}: what quota-wipe and quota-restore did */
static int print_count(const char *cmd, const char *name, size_t n)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, name, sfs_json_u64(n));
	return sfs_json_print(cmd, obj);
}

static int mod_cmd(int argc, char **argv, bool add)
{
	const char *cmd = add ? "quota-add" : "quota-del";
	struct scoutfs_ctl_quota_rule rule;
	struct scoutfs_ctl *ctl;
	struct bulk_opts o;
	int ret;

	ret = parse_opts(cmd, MOD_USAGE,
			 add ? "Add a quota rule.\n\n" RULE_TEXT_HELP
			       "  -r, --rule RULE  the rule\n"
			       "      --json       print the rule added as a JSON object\n"
			     : "Delete the quota rule whose every field equals RULE.\n\n"
			       RULE_TEXT_HELP "  -r, --rule RULE  the rule\n"
			       "      --json       print the rule deleted as a JSON object\n",
			 true, argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (sfs_quota_parse_rule(o.rule, &rule))
		return sfs_cli_usage_error(cmd, MOD_USAGE, "invalid rule '%s'", o.rule);
	ret = sfs_cli_connect(cmd, o.path, &ctl);
	if (ret)
		return ret;
	ret = add ? scoutfs_add_quota_rule(ctl, &rule) : scoutfs_del_quota_rule(ctl, &rule);
	scoutfs_ctl_close(ctl);
	if (ret)
		return sfs_cli_fail(cmd, o.rule, ret);
	return o.json ? sfs_json_print(cmd, rule_json(&rule)) : 0;
}

int sfs_cmd_quota_add(int argc, char **argv)
{
	return mod_cmd(argc, argv, true);
}

int sfs_cmd_quota_del(int argc, char **argv)
{
	return mod_cmd(argc, argv, false);
}

/* highest first, as the reference lists them */
static int cmp_desc(const void *a, const void *b)
{
	return -sfs_quota_rule_cmp(a, b);
}

/* every rule of the mount into *rules (*nr); 0 or an exit status */
static int read_all(const char *cmd, struct scoutfs_ctl *ctl, const char *path,
		    struct scoutfs_ctl_quota_rule **rules, size_t *nr)
{
	struct scoutfs_ctl_quota_iter iter = { 0, 0 };
	struct scoutfs_ctl_quota_rule *r = NULL, *bigger;
	size_t n = 0, alloced = 0;
	int got;

	for (;;) {
		if (alloced - n < RULES_BATCH) {
			alloced += RULES_BATCH * 4;
			bigger = realloc(r, alloced * sizeof(*r));
			if (!bigger) {
				free(r);
				return sfs_cli_fail(cmd, "rules", -ENOMEM);
			}
			r = bigger;
		}
		got = scoutfs_get_quota_rules(ctl, &iter, r + n, RULES_BATCH);
		if (got < 0) {
			free(r);
			return sfs_cli_fail(cmd, path, got);
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*rules = r;
	*nr = n;
	return 0;
}

int sfs_cmd_quota_list(int argc, char **argv)
{
	const char *cmd = "quota-list";
	struct scoutfs_ctl_quota_rule *rules = NULL;
	struct json_object *arr = NULL;
	struct scoutfs_ctl *ctl;
	struct bulk_opts o;
	size_t nr = 0, i;
	int ret;

	ret = parse_opts(cmd, BULK_USAGE,
			 "Print the quota rules, one a line, highest priority first.\n\n"
			 RULE_TEXT_HELP
			 "  -U, --unsorted   in storage (hash) order instead\n"
			 "      --json       print a JSON array of {prio, a, b, c, op, limit,\n"
			 "                   flag} instead; a, b and c are {value, source, flag}\n",
			 false, argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = sfs_cli_connect(cmd, o.path, &ctl);
	if (ret)
		return ret;
	ret = read_all(cmd, ctl, o.path, &rules, &nr);
	scoutfs_ctl_close(ctl);
	if (ret)
		return ret;
	if (!o.unsorted)
		qsort(rules, nr, sizeof(*rules), cmp_desc);
	if (o.json)
		arr = json_object_new_array();
	for (i = 0; i < nr; i++) {
		if (arr)
			json_object_array_add(arr, rule_json(&rules[i]));
		else
			print_rule(stdout, &rules[i]);
	}
	free(rules);
	return arr ? sfs_json_print(cmd, arr) : sfs_cli_flush(cmd);
}

int sfs_cmd_quota_wipe(int argc, char **argv)
{
	const char *cmd = "quota-wipe";
	struct scoutfs_ctl_quota_rule *rules = NULL;
	struct scoutfs_ctl *ctl;
	struct bulk_opts o;
	size_t nr = 0, i;
	int ret, err;

	ret = parse_opts(cmd, BULK_USAGE,
			 "Delete every quota rule.\n\n" RULE_TEXT_HELP
			 "  -U, --unsorted   accepted (rules go in storage order)\n"
			 "      --json       print {\"deleted\": N}, N the rules deleted\n",
			 false, argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = sfs_cli_connect(cmd, o.path, &ctl);
	if (ret)
		return ret;
	ret = read_all(cmd, ctl, o.path, &rules, &nr);
	for (i = 0; !ret && i < nr; i++) {
		err = scoutfs_del_quota_rule(ctl, &rules[i]);
		if (err) {
			fprintf(stderr, "scoutfs %s: failed to delete rule:\n    ", cmd);
			print_rule(stderr, &rules[i]);
			ret = sfs_cli_fail(cmd, o.path, err);
		}
	}
	scoutfs_ctl_close(ctl);
	free(rules);
	if (!ret && o.json)
		ret = print_count(cmd, "deleted", nr);
	return ret;
}

int sfs_cmd_quota_restore(int argc, char **argv)
{
	const char *cmd = "quota-restore";
	struct scoutfs_ctl_quota_rule rule;
	struct scoutfs_ctl *ctl;
	struct bulk_opts o;
	char *line = NULL;
	size_t size = 0, added = 0;
	unsigned long lnr = 0;
	ssize_t len;
	int ret, err;

	ret = parse_opts(cmd, BULK_USAGE,
			 "Add the quota rules of quota-list output read on stdin.\n\n"
			 RULE_TEXT_HELP
			 "  -U, --unsorted   accepted (rules go in input order)\n"
			 "      --json       print {\"added\": N}, N the rules added\n",
			 false, argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	ret = sfs_cli_connect(cmd, o.path, &ctl);
	if (ret)
		return ret;
	while (!ret && (len = getline(&line, &size, stdin)) >= 0) {
		lnr++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;	/* blank */
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (sfs_quota_parse_rule(line, &rule)) {
			fprintf(stderr, "scoutfs %s: line %lu: invalid rule '%s'\n", cmd, lnr,
				line);
			ret = SFS_CLI_ERR;
			break;
		}
		err = scoutfs_add_quota_rule(ctl, &rule);
		if (err) {
			fprintf(stderr, "scoutfs %s: line %lu: failed to add rule:\n    ", cmd,
				lnr);
			print_rule(stderr, &rule);
			ret = sfs_cli_fail(cmd, o.path, err);
		} else {
			added++;
		}
	}
	if (!ret && ferror(stdin))
		ret = sfs_cli_fail(cmd, "stdin", -EIO);
	free(line);
	scoutfs_ctl_close(ctl);
	if (!ret && o.json)
		ret = print_count(cmd, "added", added);
	return ret;
}
