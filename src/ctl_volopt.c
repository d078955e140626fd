// SPDX-License-Identifier: GPL-2.0
/*
 * The control requests of volume options (docs/ctl-protocol.md,
 * reference-scoutfs.md 6.2): GET_VOLOPT, SET_VOLOPT and CLEAR_VOLOPT,
 * what the reference's sysfs volume_options/ files do.
 *
 * The options live in the super block (super.volopt), which only the
 * server writes: each request is passed on to the server (client.c,
 * the GET/SET/CLEAR_VOLOPT net requests), which validates a new value
 * (EINVAL, nothing changes) and answers once the change is committed,
 * so every mount sees it from then on.  Nothing is cached here.
 *
 * GET is for any uid, as the sysfs files are readable by all; SET and
 * CLEAR are root only (the table says so), as writing the files needs
 * root.  The wire struct (struct scoutfs_ctl_volopt) is the on-disk one
 * in host order, cut to the options that exist; an unknown bit is
 * EINVAL before the server is asked.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "ctl_ops.h"
#include "log.h"

_Static_assert(SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS ==
	       SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT,
	       "the ctl and on-disk volume option bits agree");
_Static_assert((SCOUTFS_CTL_VOLOPT_ALL & SCOUTFS_VOLOPT_EXPANSION_BITS) == 0,
	       "every ctl volume option exists on disk");

/* the request's T_VOLOPT: 0, -EINVAL when absent, of another size or naming unknown options */
static int get_volopt(struct sfs_ctl_req *req, struct scoutfs_ctl_volopt *cvo)
{
	const void *v;
	uint32_t len;

	v = sfs_ctl_get(req->in, SCOUTFS_CTL_T_VOLOPT, &len);
	if (!v || len != sizeof(*cvo))
		return -EINVAL;
	memcpy(cvo, v, sizeof(*cvo));
	if (cvo->set_bits & ~SCOUTFS_CTL_VOLOPT_ALL)
		return -EINVAL;
	return 0;
}

static int op_get_volopt(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_volopt cvo = { 0 };
	struct scoutfs_volume_options vo;
	int ret;

	ret = sfs_client_get_volopt(req->fs, &vo);
	if (ret)
		return ret;
	cvo.set_bits = le64toh(vo.set_bits) & SCOUTFS_CTL_VOLOPT_ALL;
	if (cvo.set_bits & SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS)
		cvo.data_alloc_zone_blocks = le64toh(vo.data_alloc_zone_blocks);
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_VOLOPT, &cvo, sizeof(cvo));
	return 0;
}

/* SET_VOLOPT (set) and CLEAR_VOLOPT: the options the request names */
static int change_volopt(struct sfs_ctl_req *req, bool set)
{
	struct scoutfs_ctl_volopt cvo;
	struct scoutfs_volume_options vo;
	int ret;

	ret = get_volopt(req, &cvo);
	if (ret)
		return ret;
	memset(&vo, 0, sizeof(vo));
	vo.set_bits = htole64(cvo.set_bits);
	if (set && (cvo.set_bits & SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS))
		vo.data_alloc_zone_blocks = htole64(cvo.data_alloc_zone_blocks);
	ret = set ? sfs_client_set_volopt(req->fs, &vo) : sfs_client_clear_volopt(req->fs, &vo);
	if (ret)
		return ret;
	if (!(cvo.set_bits & SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS))
		return 0;
	if (set)
		sfs_info(req->fs, "ctl: volume option data_alloc_zone_blocks set to %llu",
			 (unsigned long long)cvo.data_alloc_zone_blocks);
	else
		sfs_info(req->fs, "ctl: volume option data_alloc_zone_blocks cleared");
	return 0;
}

static int op_set_volopt(struct sfs_ctl_req *req)
{
	return change_volopt(req, true);
}

static int op_clear_volopt(struct sfs_ctl_req *req)
{
	return change_volopt(req, false);
}

/* listed in sfs_ctl_tables[] (ctl_ops.c); the count is checked against ctl_ops.h */
const struct sfs_ctl_op sfs_ctl_volopt_ops[] = {
	{ SCOUTFS_CTL_GET_VOLOPT, "get_volopt", false, op_get_volopt },
	{ SCOUTFS_CTL_SET_VOLOPT, "set_volopt", true, op_set_volopt },
	{ SCOUTFS_CTL_CLEAR_VOLOPT, "clear_volopt", true, op_clear_volopt },
};
