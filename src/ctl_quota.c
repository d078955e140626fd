// SPDX-License-Identifier: GPL-2.0
/*
 * The control requests of quota rules (docs/ctl-protocol.md,
 * reference-scoutfs.md 5.5 and 5.9): GET_QUOTA_RULES, ADD_QUOTA_RULE and
 * DEL_QUOTA_RULE, root only (the table says so).  Rules exist from format
 * version 2 on: on a v1 volume every request is refused with EOPNOTSUPP
 * before anything is read, as project IDs are (ctl_attr.c).  The items
 * and their checks are quota.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_ops.h"
#include "fs_int.h"
#include "inode.h"
#include "lock.h"
#include "quota.h"

/* a struct field of exactly size bytes: 0, -EINVAL when absent or of another size */
static int get_struct(const struct sfs_ctl_in *in, uint16_t tag, void *dst, size_t size)
{
	const void *v;
	uint32_t len;

	v = sfs_ctl_get(in, tag, &len);
	if (!v || len != size)
		return -EINVAL;
	memcpy(dst, v, size);
	return 0;
}

static int check_vers(struct sfs_ctl_req *req)
{
	return sfs_inode_fmt_vers(req->fs) < 2 ? -EOPNOTSUPP : 0;
}

static int op_get_quota_rules(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_quota_iter iter = { 0, 0 };
	struct sfs_lock_set set;
	struct scoutfs_ctl_quota_rule *rules;
	uint32_t max;
	int ret;

	ret = check_vers(req);
	if (ret)
		return ret;
	if (sfs_ctl_has(req->in, SCOUTFS_CTL_T_QUOTA_ITER)) {
		ret = get_struct(req->in, SCOUTFS_CTL_T_QUOTA_ITER, &iter, sizeof(iter));
		if (ret)
			return ret;
	}
	/* room for the iterator, the end flag and the record size too */
	max = sfs_ctl_max_records(req, sizeof(*rules), 256);
	rules = malloc((size_t)(max ? max : 1) * sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	ret = sfs_fuse_lock_zone(sfs_ctl_req_sf(req), &set, SCOUTFS_QUOTA_ZONE, SFS_LOCK_READ,
				 false);
	if (!ret) {
		ret = sfs_quota_get_rules(req->fs, &iter, rules, max);
		sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, 0);
	}
	if (ret >= 0) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(*rules));
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, (uint32_t)ret < max);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_QUOTA_ITER, &iter, sizeof(iter));
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, rules, (size_t)ret * sizeof(*rules));
		ret = 0;
	}
	free(rules);
	return ret;
}

static int mod_rule(struct sfs_ctl_req *req, bool add)
{
	struct scoutfs_ctl_quota_rule rule;
	struct sfs_lock_set set;
	uint64_t seq = 0;
	int ret;

	ret = check_vers(req) ?:
	      get_struct(req->in, SCOUTFS_CTL_T_QUOTA_RULE, &rule, sizeof(rule));
	if (ret)
		return ret;
	/* the other mounts' READ grants go: they read the rules again */
	ret = sfs_fuse_lock_zone(sfs_ctl_req_sf(req), &set, SCOUTFS_QUOTA_ZONE, SFS_LOCK_WRITE,
				 false);
	if (ret)
		return ret;
	ret = add ? sfs_quota_add_rule(req->fs, &rule, &seq) :
		    sfs_quota_del_rule(req->fs, &rule, &seq);
	sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, ret ? 0 : seq);
	return ret;
}

static int op_add_quota_rule(struct sfs_ctl_req *req)
{
	return mod_rule(req, true);
}

static int op_del_quota_rule(struct sfs_ctl_req *req)
{
	return mod_rule(req, false);
}

/* listed in sfs_ctl_tables[] (ctl_ops.c); the count is checked against ctl_ops.h */
const struct sfs_ctl_op sfs_ctl_quota_ops[] = {
	{ SCOUTFS_CTL_GET_QUOTA_RULES, "get_quota_rules", true, op_get_quota_rules },
	{ SCOUTFS_CTL_ADD_QUOTA_RULE, "add_quota_rule", true, op_add_quota_rule },
	{ SCOUTFS_CTL_DEL_QUOTA_RULE, "del_quota_rule", true, op_del_quota_rule },
};
