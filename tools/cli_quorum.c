// SPDX-License-Identifier: GPL-2.0
/*
 * The quorum and fence-requests commands (reference-scoutfs.md 3.1 and
 * 3.7): what the reference's sysfs quorum/status file and fence/RID/
 * directories show, from the mount's daemon (QUORUM_STATUS,
 * FENCE_REQUESTS, FENCE_ANSWER).
 *
 * quorum prints the mount's part in the election: its slot (or "not a
 * member"), rid, agent, role, term, the leader's slot, the server and
 * its term, the votes needed, the heartbeat timeout, any earlier leaders
 * its last election found, then one line per configured slot with how
 * long ago a message came from it.  The daemon sends its status text
 * ("NAME VALUE" lines, docs/ctl-protocol.md); this parses it, and --json
 * prints all of it as one object.
 *
 * fence-requests lists the fence requests of the mount's server (only
 * the leader has any), one line each; --fenced RID or --error RID (root)
 * answers one as a fencing agent would.  Both return 0, 1 after an
 * error they explained on stderr, or 2 for a usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "cmd.h"
#include "scoutfs/format.h"

#define OPT_JSON 1000
#define OPT_HELP 1001
#define OPT_FENCED 1002
#define OPT_ERROR 1003

/* the widest name of quorum's text output, and a space */
#define NAME_COLS 22
#define MAX_SLOTS ((int)SCOUTFS_QUORUM_MAX_SLOTS)

/* the commands (tools/cli.c declares them too, for its table) */

/*
 * Connect to the mount's daemon.  Both commands matter most while the
 * filesystem waits (a failover: the new server grants nothing until the
 * old leader is fenced), when a stat() of the mount blocks: a mount
 * point is found through the run directories without touching the
 * mount (scoutfs_ctl_open_mount), any other path in the mount as every
 * command finds it.  0, or the exit status after saying why.
 */
static int connect_mount(const char *cmd, const char *usage, int argc, char **argv,
			 const char **path, struct scoutfs_ctl **ctl)
{
	int ret;

	if (optind < argc)
		return sfs_cli_usage_error(cmd, usage, "unexpected argument '%s'", argv[optind]);
	*path = sfs_cli_mount_path(*path);
	ret = scoutfs_ctl_open_mount(*path, ctl);
	if (ret == -ENOENT)
		return sfs_cli_connect(cmd, *path, ctl);
	if (ret)
		return sfs_cli_fail(cmd, *path, ret);
	return 0;
}

/* ------------------------------------------------------------------ */
/* quorum                                                               */
/* ------------------------------------------------------------------ */

#define QUORUM_USAGE "[-p PATH] [--json]"
#define QUORUM_HELP \
	"Show the mount's quorum state, what the reference's sysfs\n" \
	"quorum/status shows, one \"NAME VALUE\" line each:\n" \
	"  quorum_slot_nr        this mount's slot, or \"not a member\"\n" \
	"  rid                   this mount's rid (hex)\n" \
	"  agent                 running, stopped (on an error), or not a member\n" \
	"  role                  leader, follower or candidate (none: no agent)\n" \
	"  term                  the election term\n" \
	"  leader_slot           the slot whose heartbeats of this term came, or none\n" \
	"  server                the server's address and term, or none\n" \
	"  votes_needed          the votes that elect\n" \
	"  heartbeat_timeout_ms  how long without heartbeats before standing\n" \
	"  old_leader            an earlier leader the last election won had\n" \
	"                        fenced: slot, rid, term (may repeat)\n" \
	"then one line per configured slot: \"slot N ADDR last message MS ms\n" \
	"ago\" (or \"never\": nothing since the agent started), \"this mount\"\n" \
	"for the mount's own slot.  Followers hear the leader's heartbeat every\n" \
	"100 ms; members send nothing else but when voting and standing.\n" \
	"A mount point is found without looking into the mount, so this\n" \
	"answers while the filesystem waits (a failover).\n\n" \
	"  -p, --path PATH  a path in the mount (default:\n" \
	"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n" \
	"      --json       print a JSON object instead: the fields above,\n" \
	"                   \"slots\" (slot, addr, this_mount, last_recv_ms_ago,\n" \
	"                   null for never) and \"counters\" (the agent's)\n" \
	"  -h, --help       this text\n"

struct qslot {
	int slot;
	char addr[64];
	bool heard;
	uint64_t ms_ago;
};

struct qold {
	int slot;
	uint64_t rid;
	uint64_t term;
};

struct qstatus {
	bool have_slot, have_rid, have_role, have_term;
	int slot_nr;			/* -1: not a member */
	uint64_t rid;
	char agent[32];
	char role[32];
	uint64_t term;
	uint64_t server_start_term;
	char server_event[16];
	int vote_for;
	uint64_t vote_bits;
	int leader_slot;
	uint64_t votes_needed;
	uint64_t hb_timeout_ms;
	bool have_server;
	char server_addr[64];
	uint64_t server_term;
	int64_t error;
	struct qslot slots[MAX_SLOTS];
	int nr_slots;
	struct qold old[64];
	int nr_old;
	struct json_object *counters;	/* every other "NAME NUMBER" line */
};

static int parse_int(const char *s, int *v)
{
	long long x;
	char *end;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s || *end || x < INT32_MIN || x > INT32_MAX)
		return -EINVAL;
	*v = (int)x;
	return 0;
}

static int parse_num(const char *s, int base, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!isxdigit((unsigned char)s[0]) || (base == 10 && !isdigit((unsigned char)s[0])))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

/* one "NAME VALUE" line of the status text; 0, or -EPROTO for a known NAME it cannot read */
static int parse_line(struct qstatus *st, const char *name, const char *val)
{
	struct qslot *qs;
	struct qold *qo;
	uint64_t v;
	int n;

	if (!strcmp(name, "quorum_slot_nr")) {
		if (parse_int(val, &st->slot_nr))
			return -EPROTO;
		st->have_slot = true;
	} else if (!strcmp(name, "rid")) {
		if (parse_num(val, 16, &st->rid))
			return -EPROTO;
		st->have_rid = true;
	} else if (!strcmp(name, "agent")) {
		snprintf(st->agent, sizeof(st->agent), "%s", val);
	} else if (!strcmp(name, "role")) {
		snprintf(st->role, sizeof(st->role), "%s", val);
		st->have_role = true;
	} else if (!strcmp(name, "term")) {
		if (parse_num(val, 10, &st->term))
			return -EPROTO;
		st->have_term = true;
	} else if (!strcmp(name, "server_start_term")) {
		if (parse_num(val, 10, &st->server_start_term))
			return -EPROTO;
	} else if (!strcmp(name, "server_event")) {
		snprintf(st->server_event, sizeof(st->server_event), "%s", val);
	} else if (!strcmp(name, "vote_for")) {
		if (parse_int(val, &st->vote_for))
			return -EPROTO;
	} else if (!strcmp(name, "vote_bits")) {
		/* "0x%x (count %d)" */
		if (sscanf(val, "0x%" SCNx64, &st->vote_bits) != 1)
			return -EPROTO;
	} else if (!strcmp(name, "leader_slot")) {
		if (parse_int(val, &st->leader_slot))
			return -EPROTO;
	} else if (!strcmp(name, "votes_needed")) {
		if (parse_num(val, 10, &st->votes_needed))
			return -EPROTO;
	} else if (!strcmp(name, "heartbeat_timeout_ms")) {
		if (parse_num(val, 10, &st->hb_timeout_ms))
			return -EPROTO;
	} else if (!strcmp(name, "timeout_in_secs")) {
		/* the election's own clock: not shown */
	} else if (!strcmp(name, "server")) {
		/* "ADDR term N" or "(none)" */
		if (!strcmp(val, "(none)"))
			return 0;
		if (sscanf(val, "%63s term %" SCNu64 "%n", st->server_addr, &st->server_term,
			   &n) != 2 || val[n])
			return -EPROTO;
		st->have_server = true;
	} else if (!strcmp(name, "slot")) {
		/* "N addr ADDR last_recv_ms_ago MS|never" */
		char ago[32];

		if (st->nr_slots == MAX_SLOTS)
			return -EPROTO;
		qs = &st->slots[st->nr_slots];
		if (sscanf(val, "%d addr %63s last_recv_ms_ago %31s%n", &qs->slot, qs->addr, ago,
			   &n) != 3 || val[n])
			return -EPROTO;
		qs->heard = strcmp(ago, "never") != 0;
		if (qs->heard && parse_num(ago, 10, &qs->ms_ago))
			return -EPROTO;
		st->nr_slots++;
	} else if (!strcmp(name, "old_leader")) {
		/* "slot S rid R term T" */
		if (st->nr_old == (int)(sizeof(st->old) / sizeof(st->old[0])))
			return 0;
		qo = &st->old[st->nr_old];
		if (sscanf(val, "slot %d rid %" SCNx64 " term %" SCNu64 "%n", &qo->slot, &qo->rid,
			   &qo->term, &n) != 3 || val[n])
			return -EPROTO;
		st->nr_old++;
	} else if (!strcmp(name, "error")) {
		if (sscanf(val, "%" SCNd64 "%n", &st->error, &n) != 1 || val[n])
			return -EPROTO;
	} else if (!parse_num(val, 10, &v)) {
		/* the agent's counters; a line this version does not know is left out */
		json_object_object_add(st->counters, name, sfs_json_u64(v));
	}
	return 0;
}

/* the daemon's status text into st: 0, or -EPROTO (with *bad the line it could not read) */
static int parse_status(char *text, struct qstatus *st, const char **bad)
{
	char *line, *next, *val;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	st->slot_nr = -1;
	st->vote_for = -1;
	st->leader_slot = -1;
	st->counters = json_object_new_object();
	*bad = NULL;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		val = strchr(line, ' ');
		if (!val) {
			ret = -EPROTO;
		} else {
			*val++ = '\0';
			ret = parse_line(st, line, val);
			if (ret)
				val[-1] = ' ';
		}
		if (ret) {
			*bad = line;
			return ret;
		}
	}
	if (!st->have_slot)
		*bad = "quorum_slot_nr";
	else if (!st->have_rid)
		*bad = "rid";
	else if (!st->have_role)
		*bad = "role";
	else if (!st->have_term)
		*bad = "term";
	return *bad ? -EPROTO : 0;
}

static struct json_object *status_json(struct qstatus *st)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *arr, *o;
	bool member = st->slot_nr >= 0;
	int i;

	json_object_object_add(obj, "quorum_slot_nr",
			       member ? json_object_new_int(st->slot_nr) : NULL);
	json_object_object_add(obj, "member", json_object_new_boolean(member));
	json_object_object_add(obj, "rid", sfs_json_u64(st->rid));
	json_object_object_add(obj, "agent", sfs_json_str(st->agent));
	json_object_object_add(obj, "role", sfs_json_str(st->role));
	json_object_object_add(obj, "term", sfs_json_u64(st->term));
	json_object_object_add(obj, "leader_slot",
			       st->leader_slot >= 0 ? json_object_new_int(st->leader_slot) : NULL);
	if (st->have_server) {
		o = json_object_new_object();
		json_object_object_add(o, "addr", sfs_json_str(st->server_addr));
		json_object_object_add(o, "term", sfs_json_u64(st->server_term));
	} else {
		o = NULL;
	}
	json_object_object_add(obj, "server", o);
	json_object_object_add(obj, "votes_needed", sfs_json_u64(st->votes_needed));
	json_object_object_add(obj, "heartbeat_timeout_ms", sfs_json_u64(st->hb_timeout_ms));
	json_object_object_add(obj, "vote_for",
			       st->vote_for >= 0 ? json_object_new_int(st->vote_for) : NULL);
	json_object_object_add(obj, "vote_bits", sfs_json_u64(st->vote_bits));
	json_object_object_add(obj, "server_start_term", sfs_json_u64(st->server_start_term));
	json_object_object_add(obj, "server_event", sfs_json_str(st->server_event));
	json_object_object_add(obj, "error", json_object_new_int64(st->error));
	arr = json_object_new_array();
	for (i = 0; i < st->nr_old; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "slot", json_object_new_int(st->old[i].slot));
		json_object_object_add(o, "rid", sfs_json_u64(st->old[i].rid));
		json_object_object_add(o, "term", sfs_json_u64(st->old[i].term));
		json_object_array_add(arr, o);
	}
	json_object_object_add(obj, "old_leaders", arr);
	arr = json_object_new_array();
	for (i = 0; i < st->nr_slots; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "slot", json_object_new_int(st->slots[i].slot));
		json_object_object_add(o, "addr", sfs_json_str(st->slots[i].addr));
		json_object_object_add(o, "this_mount",
				       json_object_new_boolean(st->slots[i].slot == st->slot_nr));
		json_object_object_add(o, "last_recv_ms_ago",
				       st->slots[i].heard ? sfs_json_u64(st->slots[i].ms_ago) :
							    NULL);
		json_object_array_add(arr, o);
	}
	json_object_object_add(obj, "slots", arr);
	json_object_object_add(obj, "counters", st->counters);
	st->counters = NULL;
	return obj;
}

static void print_status(const struct qstatus *st)
{
	int i;

	if (st->slot_nr >= 0)
		printf("%-*s%d\n", NAME_COLS, "quorum_slot_nr", st->slot_nr);
	else
		printf("%-*s%s\n", NAME_COLS, "quorum_slot_nr", "not a member");
	printf("%-*s%016" PRIx64 "\n", NAME_COLS, "rid", st->rid);
	printf("%-*s%s\n", NAME_COLS, "agent", st->agent[0] ? st->agent : "unknown");
	printf("%-*s%s\n", NAME_COLS, "role", st->role);
	printf("%-*s%" PRIu64 "\n", NAME_COLS, "term", st->term);
	if (st->leader_slot >= 0)
		printf("%-*s%d\n", NAME_COLS, "leader_slot", st->leader_slot);
	else
		printf("%-*s%s\n", NAME_COLS, "leader_slot", "none");
	if (st->have_server)
		printf("%-*s%s term %" PRIu64 "\n", NAME_COLS, "server", st->server_addr,
		       st->server_term);
	else
		printf("%-*s%s\n", NAME_COLS, "server", "none");
	printf("%-*s%" PRIu64 "\n", NAME_COLS, "votes_needed", st->votes_needed);
	printf("%-*s%" PRIu64 "\n", NAME_COLS, "heartbeat_timeout_ms", st->hb_timeout_ms);
	for (i = 0; i < st->nr_old; i++)
		printf("%-*sslot %d rid %016" PRIx64 " term %" PRIu64 "\n", NAME_COLS,
		       "old_leader", st->old[i].slot, st->old[i].rid, st->old[i].term);
	for (i = 0; i < st->nr_slots; i++) {
		printf("slot %-2d %-24s ", st->slots[i].slot, st->slots[i].addr);
		if (st->slots[i].slot == st->slot_nr)
			printf("this mount\n");
		else if (st->slots[i].heard)
			printf("last message %" PRIu64 " ms ago\n", st->slots[i].ms_ago);
		else
			printf("last message never\n");
	}
}

int sfs_cmd_quorum(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "quorum", *path = NULL, *bad;
	struct scoutfs_ctl *ctl;
	struct qstatus st;
	size_t size = 4096;
	char *text = NULL, *n;
	bool json = false;
	int ret;
	int c;

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
			return sfs_cli_help(cmd, QUORUM_USAGE, QUORUM_HELP);
		default:
			return sfs_cli_getopt_error(cmd, QUORUM_USAGE, c, argv);
		}
	}
	ret = connect_mount(cmd, QUORUM_USAGE, argc, argv, &path, &ctl);
	if (ret)
		return ret;
	for (;;) {
		n = realloc(text, size);
		if (!n) {
			ret = -ENOMEM;
			break;
		}
		text = n;
		ret = scoutfs_quorum_status(ctl, text, size);
		if (ret < 0 || (size_t)ret < size)
			break;
		size = (size_t)ret + 1;
	}
	scoutfs_ctl_close(ctl);
	if (ret < 0) {
		free(text);
		return sfs_cli_fail(cmd, path, ret);
	}
	ret = parse_status(text, &st, &bad);
	if (ret) {
		fprintf(stderr, "scoutfs %s: %s: cannot read the daemon's quorum status at '%s'\n",
			cmd, path, bad);
		json_object_put(st.counters);
		free(text);
		return SFS_CLI_ERR;
	}
	free(text);
	if (json)
		return sfs_json_print(cmd, status_json(&st));
	json_object_put(st.counters);
	print_status(&st);
	return sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* fence-requests                                                       */
/* ------------------------------------------------------------------ */

#define FENCE_USAGE "[-p PATH] [--fenced RID | --error RID] [--json]"
#define FENCE_HELP \
	"List the fence requests of the mount's server, one line each:\n" \
	"  rid RID addr ADDR reason REASON elapsed_secs SECS state STATE\n" \
	"RID in hex, ADDR the mount's last address (- when not known),\n" \
	"REASON client_recovery, client_reconnect or quorum_block_leader,\n" \
	"STATE pending (fenced and error requests are about to go).  Only the\n" \
	"leader's server makes requests: on other mounts the list is empty.\n" \
	"A request that nobody answers fails after 30 seconds, and is made\n" \
	"again (scoutfs-fenced(8) answers them).  A mount point is found\n" \
	"without looking into the mount, so this answers while the filesystem\n" \
	"waits for the requests to be answered.\n\n" \
	"  -p, --path PATH  a path in the mount (default:\n" \
	"                   $SCOUTFS_MOUNT_PATH, else the current directory)\n" \
	"      --fenced RID answer the pending request of RID: the mount is\n" \
	"                   fenced, it can no longer write (root only)\n" \
	"      --error RID  answer it: the mount could not be fenced (root only)\n" \
	"      --json       print a JSON array of objects (rid, addr, reason,\n" \
	"                   elapsed_secs, elapsed_ms, state) instead; with\n" \
	"                   --fenced or --error, {\"rid\": RID, \"answer\": ...}\n" \
	"  -h, --help       this text\n"

/* a rid as scoutfs prints them: 1 to 16 hex digits, maybe after 0x */
static int parse_rid(const char *s, uint64_t *rid)
{
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	if (strlen(s) == 0 || strlen(s) > 16 || strspn(s, "0123456789abcdefABCDEF") != strlen(s))
		return -EINVAL;
	return parse_num(s, 16, rid);
}

static struct json_object *fence_json(const struct scoutfs_ctl_fence_request *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "rid", sfs_json_u64(r->rid));
	json_object_object_add(o, "addr", r->addr[0] ? sfs_json_str(r->addr) : NULL);
	json_object_object_add(o, "reason", sfs_json_str(scoutfs_fence_reason_name(r->reason)));
	json_object_object_add(o, "elapsed_secs", sfs_json_u64(r->elapsed_ms / 1000));
	json_object_object_add(o, "elapsed_ms", sfs_json_u64(r->elapsed_ms));
	json_object_object_add(o, "state", sfs_json_str(scoutfs_fence_state_name(r->state)));
	return o;
}

static int list_fence_requests(const char *cmd, const char *path, struct scoutfs_ctl *ctl,
			       bool json)
{
	struct scoutfs_ctl_fence_request *reqs = NULL, *n;
	struct json_object *arr = NULL;
	unsigned int nr = 16;
	int count = 0;
	int i, tries;

	/* requests come and go: ask again while there are more than we made room for */
	for (tries = 0; tries < 8; tries++) {
		n = realloc(reqs, nr * sizeof(*reqs));
		if (!n) {
			count = -ENOMEM;
			break;
		}
		reqs = n;
		count = scoutfs_fence_requests(ctl, reqs, nr);
		if (count < 0 || (unsigned int)count <= nr)
			break;
		nr = (unsigned int)count + 16;
	}
	if (count < 0) {
		free(reqs);
		return sfs_cli_fail(cmd, path, count);
	}
	if ((unsigned int)count > nr)
		count = (int)nr;
	if (json)
		arr = json_object_new_array();
	for (i = 0; i < count; i++) {
		if (arr)
			json_object_array_add(arr, fence_json(&reqs[i]));
		else
			printf("rid %016" PRIx64 " addr %s reason %s elapsed_secs %" PRIu64
			       " state %s\n", reqs[i].rid, reqs[i].addr[0] ? reqs[i].addr : "-",
			       scoutfs_fence_reason_name(reqs[i].reason), reqs[i].elapsed_ms / 1000,
			       scoutfs_fence_state_name(reqs[i].state));
	}
	free(reqs);
	return sfs_cli_finish(cmd, arr, 0);
}

static int answer_fence_request(const char *cmd, const char *path, struct scoutfs_ctl *ctl,
				uint64_t rid, bool fenced, bool json)
{
	const char *opt = fenced ? "--fenced" : "--error";
	struct json_object *obj;
	int ret;

	ret = scoutfs_fence_answer(ctl, rid, fenced);
	if (ret == -ENOENT) {
		fprintf(stderr,
			"scoutfs %s: %s: no pending fence request for rid %016" PRIx64 " on this mount (only the leader's server has fence requests)\n",
			cmd, path, rid);
		return SFS_CLI_ERR;
	}
	if (ret == -EPERM) {
		fprintf(stderr, "scoutfs %s: %s %016" PRIx64 ": %s (answering a fence request needs root)\n",
			cmd, opt, rid, scoutfs_strerror(ret));
		return SFS_CLI_ERR;
	}
	if (ret)
		return sfs_cli_fail(cmd, path, ret);
	if (!json)
		return sfs_cli_flush(cmd);
	obj = json_object_new_object();
	json_object_object_add(obj, "rid", sfs_json_u64(rid));
	json_object_object_add(obj, "answer", sfs_json_str(fenced ? "fenced" : "error"));
	return sfs_json_print(cmd, obj);
}

int sfs_cmd_fence_requests(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "fenced", required_argument, NULL, OPT_FENCED },
		{ "error", required_argument, NULL, OPT_ERROR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "fence-requests", *path = NULL;
	struct scoutfs_ctl *ctl;
	bool answer = false, fenced = false, json = false;
	uint64_t rid = 0;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			path = optarg;
			break;
		case OPT_FENCED:
		case OPT_ERROR:
			if (answer)
				return sfs_cli_usage_error(cmd, FENCE_USAGE,
							   "answer one request at a time: one --fenced or --error");
			if (parse_rid(optarg, &rid))
				return sfs_cli_usage_error(cmd, FENCE_USAGE,
							   "'%s' is not a rid (up to 16 hex digits)",
							   optarg);
			answer = true;
			fenced = c == OPT_FENCED;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, FENCE_USAGE, FENCE_HELP);
		default:
			return sfs_cli_getopt_error(cmd, FENCE_USAGE, c, argv);
		}
	}
	ret = connect_mount(cmd, FENCE_USAGE, argc, argv, &path, &ctl);
	if (ret)
		return ret;
	if (answer)
		ret = answer_fence_request(cmd, path, ctl, rid, fenced, json);
	else
		ret = list_fence_requests(cmd, path, ctl, json);
	scoutfs_ctl_close(ctl);
	return ret;
}
