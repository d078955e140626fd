/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TOOLS_CLI_JSON_H
#define SFS_TOOLS_CLI_JSON_H

/*
 * What the CLI commands that talk to a mount's daemon share: finding the
 * mount (-p, $SCOUTFS_MOUNT_PATH, the current directory), connecting
 * through libscoutfs, the one-line error and usage messages, and printing
 * --json documents with json-c.
 *
 * Messages: errors are "scoutfs CMD: WHAT: REASON" on stderr (exit 1);
 * usage errors are "scoutfs CMD: WHY (usage: scoutfs CMD ARGS)" (exit 2).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "scoutfs/ctl.h"

/* exit statuses of the commands (cmd.h) */
#define SFS_CLI_OK 0
#define SFS_CLI_ERR 1
#define SFS_CLI_USAGE 2

/* the path that picks the mount: opt (-p), else $SCOUTFS_MOUNT_PATH, else "." */
const char *sfs_cli_mount_path(const char *opt);

/*
 * Connect to the daemon serving path.  0, or SFS_CLI_ERR after saying why
 * ("scoutfs CMD: PATH: REASON").
 */
int sfs_cli_connect(const char *cmd, const char *path, struct scoutfs_ctl **ctl);

/* "scoutfs CMD: WHAT: <scoutfs_strerror(err)>"; returns SFS_CLI_ERR */
int sfs_cli_fail(const char *cmd, const char *what, int err);

/* "scoutfs CMD: WHY (usage: scoutfs CMD USAGE)"; returns SFS_CLI_USAGE */
__attribute__((format(printf, 3, 4)))
int sfs_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...);

/*
 * The getopt error of the last getopt_long() call ('?' or ':') as a usage
 * error; argv is the command's.
 */
int sfs_cli_getopt_error(const char *cmd, const char *usage, int c, char **argv);

/* a u64 as a JSON number (json-c keeps all 64 bits) */
static inline struct json_object *sfs_json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/*
 * A name or path from the filesystem: a JSON string when it is valid
 * UTF-8, else (names are bytes) an array of its byte values, as
 * journalctl's JSON output does for such fields.
 */
struct json_object *sfs_json_name(const char *s, size_t len);
static inline struct json_object *sfs_json_str(const char *s)
{
	return sfs_json_name(s, strlen(s));
}

/* {"sec": S, "nsec": N} */
struct json_object *sfs_json_time(uint64_t sec, uint32_t nsec);

/*
 * Print obj as one JSON document on stdout (pretty, '/' not escaped) and
 * drop the reference.  0, or SFS_CLI_ERR if it could not be written.
 */
int sfs_json_print(const char *cmd, struct json_object *obj);

/* obj in one line, without the trailing newline; no reference is dropped */
const char *sfs_json_line(struct json_object *obj);

/*
 * After a command's options (getopt's optind): no arguments may be left;
 * *path becomes the mount path (sfs_cli_mount_path) and *ctl its daemon.
 * 0, or the exit status to return.
 */
int sfs_cli_connect_args(const char *cmd, const char *usage, int argc, char **argv, int optind,
			 const char **path, struct scoutfs_ctl **ctl);

/*
 * The end of a listing command: with arr (--json), print it if ret is 0;
 * otherwise flush what was printed.  Returns the exit status (ret when it
 * is not 0).
 */
int sfs_cli_finish(const char *cmd, struct json_object *arr, int ret);

/* "usage: scoutfs CMD USAGE", a blank line, then text: the --help of a command */
int sfs_cli_help(const char *cmd, const char *usage, const char *text);

/*
 * The arguments of a command whose positions may be negative numbers
 * ("-1", which getopt would take for an option): -p/--path PATH, --json,
 * -h/--help (prints help_text), "--", and at most max positions into
 * pos[] (*nr of them).  Returns -1 when the command goes on, otherwise
 * the exit status to return (a usage error, or 0 after the help).
 */
int sfs_cli_parse_positions(const char *cmd, const char *usage, const char *help_text,
			    int argc, char **argv, const char **pos, int max, int *nr,
			    const char **path, bool *json);

/* flush stdout: 0, or SFS_CLI_ERR after saying why (a full disk, a closed pipe) */
int sfs_cli_flush(const char *cmd);

#endif
