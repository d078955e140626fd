// SPDX-License-Identifier: GPL-2.0
/*
 * The control request of the srch index (docs/ctl-protocol.md,
 * reference-scoutfs.md 5.7 and 5.9): SEARCH_XATTRS.
 *
 * Root only, as the reference needs CAP_SYS_ADMIN (its fmode READ check
 * is about the fd the ioctl is issued on; our requests reach the mount
 * through the socket and name no file).  The search reads the committed
 * srch files of the super block on the meta device (srch.c,
 * sfs_srch_search): every mount's committed log file and every file in
 * srch_root, so what is still dirty in a transaction, this mount's
 * included, does not show until it is committed, as in the reference.
 * Inode numbers come back ascending; a reply holds what fits and the
 * client asks again from past the last one until T_END is 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_ops.h"
#include "srch.h"
#include "xattr.h"

static int op_search_xattrs(struct sfs_ctl_req *req)
{
	char name[SCOUTFS_XATTR_MAX_NAME_LEN + 1];
	uint64_t first, last, *inos;
	const void *v;
	uint32_t len, max;
	size_t nr;
	bool end;
	int ret;

	v = sfs_ctl_get(req->in, SCOUTFS_CTL_T_NAME, &len);
	if (!v || len == 0 || len > SCOUTFS_XATTR_MAX_NAME_LEN || memchr(v, '\0', len))
		return -EINVAL;
	memcpy(name, v, len);
	name[len] = '\0';
	if (!sfs_xattr_name_is_srch(name))
		return -EINVAL;
	ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FIRST_INO, 0, &first) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LAST_INO, UINT64_MAX, &last);
	if (ret)
		return ret;

	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(uint64_t));
	max = sfs_ctl_max_records(req, sizeof(uint64_t), 1024);
	inos = malloc((size_t)(max ? max : 1) * sizeof(*inos));
	if (!inos)
		return -ENOMEM;
	ret = sfs_srch_search(req->fs, name, len, first, last, inos, max, &nr, &end);
	if (!ret) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, end);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, inos, nr * sizeof(*inos));
	}
	free(inos);
	return ret;
}

/* listed in sfs_ctl_tables[] (ctl_ops.c); the count is checked against ctl_ops.h */
const struct sfs_ctl_op sfs_ctl_srch_ops[] = {
	{ SCOUTFS_CTL_SEARCH_XATTRS, "search_xattrs", true, op_search_xattrs },
};
