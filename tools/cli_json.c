// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the CLI commands that query a mount through libscoutfs
 * (cli_query.c): finding and connecting to the mount, error and usage
 * messages in one line each, and JSON output.
 */
#include <errno.h>
#include <stdbool.h>
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_json.h"

const char *sfs_cli_mount_path(const char *opt)
{
	const char *env;

	if (opt)
		return opt;
	env = getenv("SCOUTFS_MOUNT_PATH");
	if (env && env[0])
		return env;
	return ".";
}

int sfs_cli_fail(const char *cmd, const char *what, int err)
{
	if (what)
		fprintf(stderr, "scoutfs %s: %s: %s\n", cmd, what, scoutfs_strerror(err));
	else
		fprintf(stderr, "scoutfs %s: %s\n", cmd, scoutfs_strerror(err));
	return SFS_CLI_ERR;
}

int sfs_cli_connect(const char *cmd, const char *path, struct scoutfs_ctl **ctl)
{
	struct stat sb;
	int ret;

	/* the library's -ENOENT also means "no daemon": say which it is */
	if (stat(path, &sb)) {
		fprintf(stderr, "scoutfs %s: %s: %s\n", cmd, path, strerror(errno));
		return SFS_CLI_ERR;
	}
	ret = scoutfs_ctl_open(path, ctl);
	if (ret)
		return sfs_cli_fail(cmd, path, ret);
	return 0;
}

int sfs_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "scoutfs %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (usage: scoutfs %s %s)\n", cmd, usage);
	return SFS_CLI_USAGE;
}

int sfs_cli_getopt_error(const char *cmd, const char *usage, int c, char **argv)
{
	if (c == ':') {
		if (optopt)
			return sfs_cli_usage_error(cmd, usage, "option '-%c' needs an argument",
						   optopt);
		return sfs_cli_usage_error(cmd, usage, "option '%s' needs an argument",
					   argv[optind - 1]);
	}
	if (optopt)
		return sfs_cli_usage_error(cmd, usage, "unknown option '-%c'", optopt);
	return sfs_cli_usage_error(cmd, usage, "unknown option '%s'", argv[optind - 1]);
}

/* strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3, cp = s[i] & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

struct json_object *sfs_json_name(const char *s, size_t len)
{
	struct json_object *arr;
	size_t i;

	if (valid_utf8((const unsigned char *)s, len) && !memchr(s, '\0', len))
		return json_object_new_string_len(s, (int)len);
	arr = json_object_new_array();
	for (i = 0; i < len; i++)
		json_object_array_add(arr, json_object_new_int((unsigned char)s[i]));
	return arr;
}

struct json_object *sfs_json_time(uint64_t sec, uint32_t nsec)
{
	struct json_object *t = json_object_new_object();

	json_object_object_add(t, "sec", sfs_json_u64(sec));
	json_object_object_add(t, "nsec", sfs_json_u64(nsec));
	return t;
}

#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
		    JSON_C_TO_STRING_NOSLASHESCAPE)

int sfs_json_print(const char *cmd, struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_FLAGS);
	int ret = 0;

	/* json-c spreads an empty array or object over two lines */
	if (json_object_is_type(obj, json_type_array) && json_object_array_length(obj) == 0)
		s = "[]";
	else if (json_object_is_type(obj, json_type_object) && json_object_object_length(obj) == 0)
		s = "{}";

	if (!s || printf("%s\n", s) < 0)
		ret = SFS_CLI_ERR;
	json_object_put(obj);
	if (ret) {
		fprintf(stderr, "scoutfs %s: writing the JSON output failed\n", cmd);
		return ret;
	}
	return sfs_cli_flush(cmd);
}

const char *sfs_json_line(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}

int sfs_cli_flush(const char *cmd)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	fprintf(stderr, "scoutfs %s: writing the output failed: %s\n", cmd, strerror(errno));
	return SFS_CLI_ERR;
}

int sfs_cli_help(const char *cmd, const char *usage, const char *text)
{
	printf("usage: scoutfs %s %s\n\n%s", cmd, usage, text);
	return sfs_cli_flush(cmd);
}

/* "-1", "-1.2": a position, not an option */
static bool negative_number(const char *s)
{
	return s[0] == '-' && isdigit((unsigned char)s[1]);
}

int sfs_cli_parse_positions(const char *cmd, const char *usage, const char *help_text,
			    int argc, char **argv, const char **pos, int max, int *nr,
			    const char **path, bool *json)
{
	bool options_done = false;
	const char *a;
	int i;

	*nr = 0;
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (options_done || a[0] != '-' || !a[1] || negative_number(a)) {
			if (*nr == max)
				return sfs_cli_usage_error(cmd, usage, "unexpected argument '%s'",
							   a);
			pos[(*nr)++] = a;
		} else if (!strcmp(a, "--")) {
			options_done = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--path")) {
			if (i + 1 >= argc)
				return sfs_cli_usage_error(cmd, usage,
							   "option '%s' needs an argument", a);
			*path = argv[++i];
		} else if (!strncmp(a, "--path=", 7)) {
			*path = a + 7;
		} else if (!strncmp(a, "-p", 2)) {
			*path = a + 2;
		} else if (!strcmp(a, "--json")) {
			*json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			return sfs_cli_help(cmd, usage, help_text);
		} else {
			return sfs_cli_usage_error(cmd, usage, "unknown option '%s'", a);
		}
	}
	return -1;
}

int sfs_cli_connect_args(const char *cmd, const char *usage, int argc, char **argv, int optind,
			 const char **path, struct scoutfs_ctl **ctl)
{
	if (optind < argc)
		return sfs_cli_usage_error(cmd, usage, "unexpected argument '%s'", argv[optind]);
	*path = sfs_cli_mount_path(*path);
	return sfs_cli_connect(cmd, *path, ctl);
}

int sfs_cli_finish(const char *cmd, struct json_object *arr, int ret)
{
	if (arr) {
		if (!ret)
			return sfs_json_print(cmd, arr);
		json_object_put(arr);
		return ret;
	}
	if (ret) {
		fflush(stdout);
		return ret;
	}
	return sfs_cli_flush(cmd);
}
