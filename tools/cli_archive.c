// SPDX-License-Identifier: GPL-2.0
/*
 * The archive agent's commands: release, stage, data-waiting and
 * data-wait-err (reference-scoutfs.md 5.2, 5.3 and 8), punch-offline and
 * move-blocks, over libscoutfs.  With --json each prints one JSON value:
 * what it did (an object of the file, range and numbers it used or got),
 * or what it found.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli_json.h"
#include "cmd.h"

#define OPT_JSON 1000
#define OPT_HELP 1001

static int parse_num(const char *cmd, const char *usage, const char *what, const char *str,
		     bool size, uint64_t *val)
{
	if ((size ? sfs_parse_size(str, val) : sfs_parse_u64(str, val)) == 0)
		return 0;
	return sfs_cli_usage_error(cmd, usage, "bad %s '%s'", what, str);
}

/* ------------------------------------------------------------------ */
/* release, stage                                                       */
/* ------------------------------------------------------------------ */

#define RELEASE_USAGE "FILE -V VERSION [-o OFFSET] [-l LENGTH] [--json]"
#define STAGE_USAGE "ARCHIVE-FILE FILE -V VERSION [-o OFFSET] [-l LENGTH] [--json]"

/* release (stage = false) and stage share their options */
static int release_stage(int argc, char **argv, bool stage)
{
	static const struct option opts[] = {
		{ "data-version", required_argument, NULL, 'V' },
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = stage ? "stage" : "release";
	const char *usage = stage ? STAGE_USAGE : RELEASE_USAGE;
	uint64_t vers = 0, off = 0, len = 0;
	bool have_vers = false, have_len = false, json = false;
	const char *archive = NULL, *file;
	struct json_object *obj;
	struct scoutfs_ctl *ctl;
	struct stat sb;
	int64_t staged = 0;
	int fd = -1, src = -1;
	int ret;
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":V:o:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			ret = parse_num(cmd, usage, "data version", optarg, false, &vers);
			if (ret)
				return ret;
			have_vers = true;
			break;
		case 'o':
			ret = parse_num(cmd, usage, "offset", optarg, true, &off);
			if (ret)
				return ret;
			break;
		case 'l':
			ret = parse_num(cmd, usage, "length", optarg, true, &len);
			if (ret)
				return ret;
			have_len = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, usage, stage ?
				"Write the archived contents in ARCHIVE-FILE back into the offline\n"
				"region of FILE, if FILE's data_version is still VERSION.  OFFSET\n"
				"(default 0) is a multiple of 4096; LENGTH defaults to the rest of\n"
				"FILE.  FILE's times, size and data_version do not change.\n\n"
				"  -V, --data-version VERSION  the data_version the archive copy has\n"
				"  -o, --offset OFFSET         where in FILE (and ARCHIVE-FILE)\n"
				"  -l, --length LENGTH         how many bytes (K, M, G suffixes)\n"
				"      --json                  print what was staged as a JSON object\n" :
				"Release FILE's blocks in [OFFSET, OFFSET + LENGTH) to the archive:\n"
				"they become offline and their space is freed, if FILE's data_version\n"
				"is still VERSION.  OFFSET and LENGTH are multiples of 4096; the\n"
				"default is the whole file.  Readers of offline blocks wait for stage.\n\n"
				"  -V, --data-version VERSION  the data_version that was archived\n"
				"  -o, --offset OFFSET         start (K, M, G suffixes)\n"
				"  -l, --length LENGTH         length (K, M, G suffixes)\n"
				"      --json                  print what was released as a JSON\n"
				"                              object\n");
		default:
			return sfs_cli_getopt_error(cmd, usage, c, argv);
		}
	}
	if (argc - optind != (stage ? 2 : 1))
		return sfs_cli_usage_error(cmd, usage, "%s", stage ? "need ARCHIVE-FILE and FILE" :
					   "need exactly one FILE");
	if (stage)
		archive = argv[optind++];
	file = argv[optind];
	if (!have_vers)
		return sfs_cli_usage_error(cmd, usage, "-V VERSION is required");

	fd = open(file, O_RDWR);
	if (fd < 0)
		return sfs_cli_fail(cmd, file, -errno);
	if (!have_len) {
		if (fstat(fd, &sb)) {
			ret = sfs_cli_fail(cmd, file, -errno);
			goto out;
		}
		len = (uint64_t)sb.st_size > off ? (uint64_t)sb.st_size - off : 0;
		if (!stage)
			len = (len + 4095) & ~4095ULL;
	}
	if (stage) {
		src = open(archive, O_RDONLY);
		if (src < 0) {
			ret = sfs_cli_fail(cmd, archive, -errno);
			goto out;
		}
	}
	ret = sfs_cli_connect(cmd, file, &ctl);
	if (ret)
		goto out;
	if (stage) {
		/*
		 * The archive holds the file's bytes at the same offsets; a
		 * pipe (stage <(cat archive) ...) holds just the range, read
		 * from where it is.
		 */
		uint64_t src_off = off;

		if (lseek(src, 0, SEEK_CUR) < 0 && errno == ESPIPE)
			src_off = UINT64_MAX;
		staged = scoutfs_stage(ctl, SCOUTFS_FILE_FD(fd), vers, off, len, src, src_off);
		ret = staged < 0 ? (int)staged : 0;
	} else {
		ret = scoutfs_release(ctl, SCOUTFS_FILE_FD(fd), off, len, vers);
	}
	scoutfs_ctl_close(ctl);
	if (ret) {
		ret = sfs_cli_fail(cmd, file, ret);
	} else if (json) {
		obj = json_object_new_object();
		if (stage)
			json_object_object_add(obj, "archive", sfs_json_str(archive));
		json_object_object_add(obj, "file", sfs_json_str(file));
		json_object_object_add(obj, "offset", sfs_json_u64(off));
		json_object_object_add(obj, "length", sfs_json_u64(len));
		json_object_object_add(obj, "data_version", sfs_json_u64(vers));
		if (stage)
			json_object_object_add(obj, "staged", sfs_json_u64((uint64_t)staged));
		ret = sfs_json_print(cmd, obj);
	}
out:
	if (src >= 0)
		close(src);
	close(fd);
	return ret;
}

int sfs_cmd_release(int argc, char **argv)
{
	return release_stage(argc, argv, false);
}

int sfs_cmd_stage(int argc, char **argv)
{
	return release_stage(argc, argv, true);
}

/* ------------------------------------------------------------------ */
/* data-waiting, data-wait-err                                          */
/* ------------------------------------------------------------------ */

#define WAITING_USAGE "-I INO -B BLOCK [-p PATH] [--json]"
#define WAIT_ERR_USAGE "-I INO -V VERSION -F OFFSET -C COUNT -O OP -E ERR [-p PATH] [--json]"

static void ops_text(unsigned int op, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", op & SCOUTFS_CTL_WAIT_READ ? "read," : "",
		 op & SCOUTFS_CTL_WAIT_WRITE ? "write," : "",
		 op & SCOUTFS_CTL_WAIT_CHANGE_SIZE ? "change_size," : "", "");
	if (buf[0])
		buf[strlen(buf) - 1] = '\0';
}

int sfs_cmd_data_waiting(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "inode", required_argument, NULL, 'I' },
		{ "block", required_argument, NULL, 'B' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "data-waiting", *path = NULL;
	struct scoutfs_ctl_waiting ents[16];
	struct json_object *arr = NULL, *o;
	struct scoutfs_ctl *ctl;
	uint64_t ino = 0, blk = 0;
	bool json = false;
	char ops[64];
	int ret, n, i, c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":I:B:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'I':
			ret = parse_num(cmd, WAITING_USAGE, "inode", optarg, false, &ino);
			if (ret)
				return ret;
			break;
		case 'B':
			ret = parse_num(cmd, WAITING_USAGE, "block", optarg, false, &blk);
			if (ret)
				return ret;
			break;
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, WAITING_USAGE,
				"List the requests of this mount waiting for offline data after\n"
				"inode INO, block BLOCK (0 0 for all), one line each:\n"
				"\"ino N iblock N ops read,write,change_size\".\n");
		default:
			return sfs_cli_getopt_error(cmd, WAITING_USAGE, c, argv);
		}
	}
	if (optind < argc)
		return sfs_cli_usage_error(cmd, WAITING_USAGE, "unexpected '%s'", argv[optind]);
	ret = sfs_cli_connect(cmd, sfs_cli_mount_path(path), &ctl);
	if (ret)
		return ret;
	if (json)
		arr = json_object_new_array();
	while ((n = scoutfs_data_waiting(ctl, &ino, &blk, ents, 16)) > 0) {
		for (i = 0; i < n; i++) {
			ops_text(ents[i].op, ops, sizeof(ops));
			if (!json) {
				printf("ino %llu iblock %llu ops %s\n",
				       (unsigned long long)ents[i].ino,
				       (unsigned long long)ents[i].iblock, ops);
				continue;
			}
			o = json_object_new_object();
			json_object_object_add(o, "ino", sfs_json_u64(ents[i].ino));
			json_object_object_add(o, "iblock", sfs_json_u64(ents[i].iblock));
			json_object_object_add(o, "ops", json_object_new_string(ops));
			json_object_array_add(arr, o);
		}
	}
	scoutfs_ctl_close(ctl);
	if (n < 0) {
		json_object_put(arr);
		return sfs_cli_fail(cmd, "data_waiting", n);
	}
	if (json)
		return sfs_json_print(cmd, arr);
	return sfs_cli_flush(cmd);
}

int sfs_cmd_data_wait_err(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "inode", required_argument, NULL, 'I' },
		{ "version", required_argument, NULL, 'V' },
		{ "offset", required_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'C' },
		{ "op", required_argument, NULL, 'O' },
		{ "err", required_argument, NULL, 'E' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "data-wait-err", *path = NULL;
	uint64_t ino = 0, vers = 0, off = 0, count = 0, err = 0;
	unsigned int op = 0;
	bool have_ino = false, have_count = false, have_err = false, json = false;
	struct json_object *obj;
	struct scoutfs_ctl *ctl;
	char *s, *tok;
	long e;
	int ret, c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":I:V:F:C:O:E:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'I':
			ret = parse_num(cmd, WAIT_ERR_USAGE, "inode", optarg, false, &ino);
			if (ret)
				return ret;
			have_ino = true;
			break;
		case 'V':
			/* carried for the reference's syntax; ignored as it is there */
			ret = parse_num(cmd, WAIT_ERR_USAGE, "version", optarg, false, &vers);
			if (ret)
				return ret;
			break;
		case 'F':
			ret = parse_num(cmd, WAIT_ERR_USAGE, "offset", optarg, true, &off);
			if (ret)
				return ret;
			break;
		case 'C':
			ret = parse_num(cmd, WAIT_ERR_USAGE, "count", optarg, true, &count);
			if (ret)
				return ret;
			have_count = true;
			break;
		case 'O':
			s = strdup(optarg);
			for (tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
				if (!strcmp(tok, "read"))
					op |= SCOUTFS_CTL_WAIT_READ;
				else if (!strcmp(tok, "write"))
					op |= SCOUTFS_CTL_WAIT_WRITE;
				else if (!strcmp(tok, "change_size"))
					op |= SCOUTFS_CTL_WAIT_CHANGE_SIZE;
				else {
					free(s);
					return sfs_cli_usage_error(cmd, WAIT_ERR_USAGE,
						"unknown op '%s' (read, write, change_size)", tok);
				}
			}
			free(s);
			break;
		case 'E':
			e = strtol(optarg, &s, 0);
			if (*s || e == 0 || e < -4095 || e > 4095)
				return sfs_cli_usage_error(cmd, WAIT_ERR_USAGE, "bad errno '%s'",
							   optarg);
			err = (uint64_t)(e < 0 ? -e : e);
			have_err = true;
			break;
		case 'p':
			path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, WAIT_ERR_USAGE,
				"Give the error ERR (an errno number, e.g. 5 for EIO) to the requests\n"
				"of inode INO waiting for offline data in [OFFSET, OFFSET + COUNT)\n"
				"for operation OP (read, write, change_size; comma separated).\n"
				"Prints \"data_wait_err found N waiters.\"\n\n"
				"      --json  print {\"waiters\": N} instead\n");
		default:
			return sfs_cli_getopt_error(cmd, WAIT_ERR_USAGE, c, argv);
		}
	}
	(void)vers;
	if (optind < argc)
		return sfs_cli_usage_error(cmd, WAIT_ERR_USAGE, "unexpected '%s'", argv[optind]);
	if (!have_ino || !have_count || !have_err || !op)
		return sfs_cli_usage_error(cmd, WAIT_ERR_USAGE, "-I, -C, -O and -E are required");
	ret = sfs_cli_connect(cmd, sfs_cli_mount_path(path), &ctl);
	if (ret)
		return ret;
	ret = scoutfs_data_wait_err(ctl, ino, off, count, op, (int)err);
	scoutfs_ctl_close(ctl);
	if (ret < 0)
		return sfs_cli_fail(cmd, "data_wait_err", ret);
	if (json) {
		obj = json_object_new_object();
		json_object_object_add(obj, "waiters", json_object_new_int(ret));
		return sfs_json_print(cmd, obj);
	}
	printf("data_wait_err found %d waiters.\n", ret);
	return sfs_cli_flush(cmd);
}

/* ------------------------------------------------------------------ */
/* punch-offline, move-blocks                                           */
/* ------------------------------------------------------------------ */

#define PUNCH_USAGE "FILE -V VERSION -o OFFSET -l LENGTH [--json]"

int sfs_cmd_punch_offline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-version", required_argument, NULL, 'V' },
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "punch-offline", *file;
	uint64_t vers = 0, off = 0, len = 0;
	bool have_vers = false, have_off = false, have_len = false, json = false;
	struct json_object *obj;
	struct scoutfs_ctl *ctl;
	int fd, ret, c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":V:o:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			ret = parse_num(cmd, PUNCH_USAGE, "data version", optarg, false, &vers);
			if (ret)
				return ret;
			have_vers = true;
			break;
		case 'o':
			ret = parse_num(cmd, PUNCH_USAGE, "offset", optarg, true, &off);
			if (ret)
				return ret;
			have_off = true;
			break;
		case 'l':
			ret = parse_num(cmd, PUNCH_USAGE, "length", optarg, true, &len);
			if (ret)
				return ret;
			have_len = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, PUNCH_USAGE,
				"Turn the released (offline, unmapped) extents of FILE in\n"
				"[OFFSET, OFFSET + LENGTH) into sparse holes, if FILE's data_version\n"
				"is still VERSION (it does not change).  Used when restoring sparse\n"
				"files.  Fails if data is mapped in the range.  4096 aligned.\n\n"
				"      --json  print what was punched as a JSON object\n");
		default:
			return sfs_cli_getopt_error(cmd, PUNCH_USAGE, c, argv);
		}
	}
	if (argc - optind != 1)
		return sfs_cli_usage_error(cmd, PUNCH_USAGE, "need exactly one FILE");
	if (!have_vers || !have_off || !have_len)
		return sfs_cli_usage_error(cmd, PUNCH_USAGE, "-V, -o and -l are required");
	file = argv[optind];
	fd = open(file, O_RDWR);
	if (fd < 0)
		return sfs_cli_fail(cmd, file, -errno);
	ret = sfs_cli_connect(cmd, file, &ctl);
	if (!ret) {
		ret = scoutfs_punch_offline(ctl, SCOUTFS_FILE_FD(fd), off, len, vers);
		scoutfs_ctl_close(ctl);
		if (ret) {
			ret = sfs_cli_fail(cmd, file, ret);
		} else if (json) {
			obj = json_object_new_object();
			json_object_object_add(obj, "file", sfs_json_str(file));
			json_object_object_add(obj, "offset", sfs_json_u64(off));
			json_object_object_add(obj, "length", sfs_json_u64(len));
			json_object_object_add(obj, "data_version", sfs_json_u64(vers));
			ret = sfs_json_print(cmd, obj);
		}
	}
	close(fd);
	return ret;
}

#define MOVE_USAGE "FROM -f FROM-OFFSET -l LENGTH TO -t TO-OFFSET [--json]"

int sfs_cmd_move_blocks(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from-offset", required_argument, NULL, 'f' },
		{ "length", required_argument, NULL, 'l' },
		{ "to-offset", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "move-blocks", *from, *to;
	uint64_t foff = 0, toff = 0, len = 0;
	bool have_f = false, have_t = false, have_l = false, json = false;
	struct json_object *obj;
	struct scoutfs_ctl *ctl;
	int ffd, tfd, ret, c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":f:l:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			ret = parse_num(cmd, MOVE_USAGE, "from offset", optarg, true, &foff);
			if (ret)
				return ret;
			have_f = true;
			break;
		case 'l':
			ret = parse_num(cmd, MOVE_USAGE, "length", optarg, true, &len);
			if (ret)
				return ret;
			have_l = true;
			break;
		case 't':
			ret = parse_num(cmd, MOVE_USAGE, "to offset", optarg, true, &toff);
			if (ret)
				return ret;
			have_t = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
		case OPT_HELP:
			return sfs_cli_help(cmd, MOVE_USAGE,
				"Move the blocks of FROM in [FROM-OFFSET, FROM-OFFSET + LENGTH) to\n"
				"TO at TO-OFFSET without copying them; FROM is left with a hole\n"
				"there.  Offsets are 4096 aligned, LENGTH too unless the range ends\n"
				"at FROM's size.  Neither file may have offline data.\n\n"
				"      --json  print what was moved as a JSON object\n");
		default:
			return sfs_cli_getopt_error(cmd, MOVE_USAGE, c, argv);
		}
	}
	if (argc - optind != 2)
		return sfs_cli_usage_error(cmd, MOVE_USAGE, "need FROM and TO");
	if (!have_f || !have_l || !have_t)
		return sfs_cli_usage_error(cmd, MOVE_USAGE, "-f, -l and -t are required");
	from = argv[optind];
	to = argv[optind + 1];
	ffd = open(from, O_RDWR);
	if (ffd < 0)
		return sfs_cli_fail(cmd, from, -errno);
	tfd = open(to, O_RDWR);
	if (tfd < 0) {
		ret = sfs_cli_fail(cmd, to, -errno);
		close(ffd);
		return ret;
	}
	ret = sfs_cli_connect(cmd, to, &ctl);
	if (!ret) {
		ret = scoutfs_move_blocks(ctl, ffd, foff, len, tfd, toff, 0, 0);
		scoutfs_ctl_close(ctl);
		if (ret) {
			ret = sfs_cli_fail(cmd, "move_blocks", ret);
		} else if (json) {
			obj = json_object_new_object();
			json_object_object_add(obj, "from", sfs_json_str(from));
			json_object_object_add(obj, "from_offset", sfs_json_u64(foff));
			json_object_object_add(obj, "length", sfs_json_u64(len));
			json_object_object_add(obj, "to", sfs_json_str(to));
			json_object_object_add(obj, "to_offset", sfs_json_u64(toff));
			ret = sfs_json_print(cmd, obj);
		}
	}
	close(tfd);
	close(ffd);
	return ret;
}
