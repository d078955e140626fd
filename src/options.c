// SPDX-License-Identifier: GPL-2.0
/*
 * scoutfsd -o options: the reference's mount options, FUSE's own passed
 * through, generic mount(8)/fstab ones ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "quorum.h"

#include <scoutfs/format.h>

void sfs_options_init(struct sfs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->quorum_slot_nr = -1;
	o->quorum_heartbeat_timeout_ms = SFS_QUORUM_HB_TIMEOUT_DEF_MS;
	o->data_prealloc_blocks = 2048;
	o->data_prealloc_contig_only = true;
	o->orphan_scan_delay_ms = 10000;
	o->srch_compact_delay_ms = 10000;
	o->recovery_window_ms = SFS_RECOVERY_WINDOW_DEF_MS;
	o->acl = true;
}

void sfs_options_free(struct sfs_options *o)
{
	free(o->metadev_path);
	free(o->fuse_opts);
	free(o->run_dir);
	o->metadev_path = NULL;
	o->fuse_opts = NULL;
	o->run_dir = NULL;
}

/* a decimal number in [min, max] */
static int parse_num(const char *name, const char *val, uint64_t min, uint64_t max,
		     uint64_t *out, char *err, size_t err_len)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (!*val || *end || errno || v < min || v > max || *val == '-') {
		snprintf(err, err_len, "option %s=%s: want a number from %llu to %llu", name, val,
			 (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static bool ignored(const char *opt)
{
	static const char *const names[] = { "rw", "defaults", "auto", "noauto", "user",
					     "nouser", "users", "nofail", "_netdev", "owner",
					     "group", "loop", "dev", "suid", "exec",
					     /* reads never update atime here: the atime family is moot */
					     "atime", "noatime", "relatime", "norelatime", "strictatime",
					     "nostrictatime", "lazytime", "nolazytime", "diratime",
					     "nodiratime" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(opt, names[i]) == 0)
			return true;
	return strncmp(opt, "x-systemd.", 10) == 0 || strncmp(opt, "x-", 2) == 0 ||
	       strncmp(opt, "comment=", 8) == 0;
}

static int add_fuse_opt(struct sfs_options *o, const char *opt)
{
	size_t have = o->fuse_opts ? strlen(o->fuse_opts) : 0;
	char *p = realloc(o->fuse_opts, have + strlen(opt) + 2);

	if (!p)
		return -ENOMEM;
	if (have)
		p[have++] = ',';
	strcpy(p + have, opt);
	o->fuse_opts = p;
	return 0;
}

static int parse_one(struct sfs_options *o, char *opt, char *err, size_t err_len)
{
	char *val = strchr(opt, '=');
	uint64_t v = 0;
	int ret;

	if (val)
		*val++ = '\0';
	if (strcmp(opt, "metadev_path") == 0) {
		if (!val || !*val) {
			snprintf(err, err_len, "option metadev_path= needs a path");
			return -EINVAL;
		}
		free(o->metadev_path);
		o->metadev_path = strdup(val);
		return o->metadev_path ? 0 : -ENOMEM;
	}
	if (strcmp(opt, "quorum_slot_nr") == 0 && val) {
		ret = parse_num(opt, val, 0, SCOUTFS_QUORUM_MAX_SLOTS - 1, &v, err, err_len);
		o->quorum_slot_nr = (int)v;
		return ret;
	}
	if (strcmp(opt, "quorum_heartbeat_timeout_ms") == 0 && val) {
		ret = parse_num(opt, val, SFS_QUORUM_HB_TIMEOUT_MIN_MS,
				SFS_QUORUM_HB_TIMEOUT_MAX_MS, &v, err, err_len);
		o->quorum_heartbeat_timeout_ms = (uint32_t)v;
		return ret;
	}
	if (strcmp(opt, "data_prealloc_blocks") == 0 && val) {
		ret = parse_num(opt, val, 1, UINT32_MAX, &v, err, err_len);
		o->data_prealloc_blocks = v;
		return ret;
	}
	if (strcmp(opt, "data_prealloc_contig_only") == 0 && val) {
		ret = parse_num(opt, val, 0, 1, &v, err, err_len);
		o->data_prealloc_contig_only = v;
		return ret;
	}
	if (strcmp(opt, "orphan_scan_delay_ms") == 0 && val) {
		ret = parse_num(opt, val, 100, 60ULL * 60 * 1000, &v, err, err_len);
		o->orphan_scan_delay_ms = (uint32_t)v;
		return ret;
	}
	if (strcmp(opt, "srch_compact_delay_ms") == 0 && val) {
		/* the reference's sysfs srch/compact_delay_ms, with its bounds */
		ret = parse_num(opt, val, 1000, 60000, &v, err, err_len);
		o->srch_compact_delay_ms = (uint32_t)v;
		return ret;
	}
	if (strcmp(opt, "recovery_window_ms") == 0 && val) {
		ret = parse_num(opt, val, 2000, 600000, &v, err, err_len);
		o->recovery_window_ms = (uint32_t)v;
		return ret;
	}
	if (strcmp(opt, "run_dir") == 0 && val) {
		if (val[0] != '/') {
			snprintf(err, err_len, "option run_dir: %s is not an absolute path", val);
			return -EINVAL;
		}
		free(o->run_dir);
		o->run_dir = strdup(val);
		return o->run_dir ? 0 : -ENOMEM;
	}
	if (!val && (strcmp(opt, "acl") == 0 || strcmp(opt, "noacl") == 0)) {
		o->acl = opt[0] == 'a';
		return 0;
	}
	if (!val && strcmp(opt, "ro") == 0) {
		snprintf(err, err_len, "option ro: read-only mounts are not supported yet");
		return -EINVAL;
	}
	if (strcmp(opt, "quorum_slot_nr") == 0 || strcmp(opt, "data_prealloc_blocks") == 0 ||
	    strcmp(opt, "quorum_heartbeat_timeout_ms") == 0 ||
	    strcmp(opt, "data_prealloc_contig_only") == 0 ||
	    strcmp(opt, "orphan_scan_delay_ms") == 0 || strcmp(opt, "run_dir") == 0 ||
	    strcmp(opt, "srch_compact_delay_ms") == 0 ||
	    strcmp(opt, "recovery_window_ms") == 0) {
		snprintf(err, err_len, "option %s needs a value (%s=%s)", opt, opt,
			 strcmp(opt, "run_dir") ? "N" : "DIR");
		return -EINVAL;
	}
	if (ignored(opt))
		return 0;
	if (val)
		val[-1] = '=';
	return add_fuse_opt(o, opt);
}

int sfs_options_parse(struct sfs_options *o, const char *list, char *err, size_t err_len)
{
	char *copy = strdup(list), *opt, *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt && !ret; opt = strtok_r(NULL, ",", &save))
		ret = parse_one(o, opt, err, err_len);
	free(copy);
	return ret;
}

uint32_t sfs_options_recovery_window(const struct sfs_options *o)
{
	uint32_t hb3 = 3 * o->quorum_heartbeat_timeout_ms;

	return o->recovery_window_ms > hb3 ? o->recovery_window_ms : hb3;
}

int sfs_options_check(const struct sfs_options *o, char *err, size_t err_len)
{
	if (!o->metadev_path) {
		snprintf(err, err_len, "the metadata device is missing: give -o metadev_path=PATH");
		return -EINVAL;
	}
	return 0;
}
