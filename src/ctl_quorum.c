// SPDX-License-Identifier: GPL-2.0
/*
 * The control requests of quorum and fencing (docs/ctl-protocol.md,
 * reference-scoutfs.md 3.1 and 3.7): QUORUM_STATUS, what the
 * reference's sysfs quorum/status shows, and FENCE_REQUESTS and
 * FENCE_ANSWER, what its fence/RID/ directories show and take.
 *
 * QUORUM_STATUS is the quorum agent's status text (sfs_quorum_status())
 * as it is, in T_NAME: every mount has an agent, a non-member's says so.
 * The fence requests are the fence module's (fence.c), which only the
 * leader's server sets up: elsewhere the list is empty and an answer is
 * ENOENT, as the reference's fence/ directory is empty there.  Both are
 * read under their own module's lock; nothing is kept here.
 *
 * QUORUM_STATUS and FENCE_REQUESTS are for any uid (the sysfs files are
 * readable by all); FENCE_ANSWER is root only (the table says so), as
 * writing the files needs root.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_ops.h"
#include "fence.h"
#include "log.h"
#include "quorum.h"

_Static_assert(SCOUTFS_CTL_FENCE_REASON_CLIENT_RECOVERY == SFS_FENCE_CLIENT_RECOVERY &&
	       SCOUTFS_CTL_FENCE_REASON_CLIENT_RECONNECT == SFS_FENCE_CLIENT_RECONNECT &&
	       SCOUTFS_CTL_FENCE_REASON_QUORUM_BLOCK_LEADER == SFS_FENCE_QUORUM_BLOCK_LEADER,
	       "the ctl and fence.c reasons agree");
_Static_assert(SCOUTFS_CTL_FENCE_STATE_PENDING == SFS_FENCE_PENDING &&
	       SCOUTFS_CTL_FENCE_STATE_FENCED == SFS_FENCE_FENCED &&
	       SCOUTFS_CTL_FENCE_STATE_ERROR == SFS_FENCE_ERROR,
	       "the ctl and fence.c states agree");
_Static_assert(sizeof(((struct scoutfs_ctl_fence_request *)0)->addr) ==
	       sizeof(((struct sfs_fence_info *)0)->addr), "fence addresses are as long");

/* the status text is about 2 KiB; it grows with the slots and old leaders */
#define STATUS_LEN 4096
/* a sanity bound on the requests listed at once (one per mount at most) */
#define MAX_FENCE_LIST 65536

static int op_quorum_status(struct sfs_ctl_req *req)
{
	size_t len = STATUS_LEN;
	char *buf = NULL, *n;
	int ret;

	for (;;) {
		n = realloc(buf, len);
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		buf = n;
		ret = sfs_quorum_status(req->fs, buf, len);
		if (ret < 0)
			goto out;
		if ((size_t)ret < len)
			break;
		len = (size_t)ret + 1;
	}
	sfs_ctl_put(req->out, SCOUTFS_CTL_T_NAME, buf, (size_t)ret);
	ret = 0;
out:
	free(buf);
	return ret;
}

static int cmp_rid(const void *a, const void *b)
{
	const struct sfs_fence_info *x = a, *y = b;

	return x->rid < y->rid ? -1 : x->rid > y->rid;
}

/*
 * Every request, in rid order, as many as fit (and T_MAX_RECORDS, which
 * defaults to all); T_COUNT says how many there are.
 */
static int op_fence_requests(struct sfs_ctl_req *req)
{
	const size_t size = sizeof(struct scoutfs_ctl_fence_request);
	struct scoutfs_ctl_fence_request *recs;
	struct sfs_fence_info *info = NULL, *n;
	size_t want = 64, nr, i;
	uint32_t max;
	int ret = 0;

	/* the list changes under us: ask until it fits, so nr is the whole */
	for (;;) {
		n = realloc(info, want * sizeof(*info));
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		info = n;
		nr = sfs_fence_list(req->fs, info, want);
		if (nr < want || want >= MAX_FENCE_LIST)
			break;
		want *= 2;
	}
	qsort(info, nr, sizeof(*info), cmp_rid);

	max = sfs_ctl_max_records(req, (uint32_t)size, MAX_FENCE_LIST);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, size);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_COUNT, nr);
	if (nr > max)
		nr = max;
	recs = sfs_ctl_put_space(req->out, SCOUTFS_CTL_T_RECORDS, nr * size);
	if (!recs) {
		ret = -EOVERFLOW;
		goto out;
	}
	memset(recs, 0, nr * size);
	for (i = 0; i < nr; i++) {
		recs[i].rid = info[i].rid;
		recs[i].elapsed_ms = info[i].elapsed_ms;
		recs[i].reason = (uint32_t)info[i].reason;
		recs[i].state = (uint32_t)info[i].state;
		memcpy(recs[i].addr, info[i].addr, sizeof(recs[i].addr));
		recs[i].addr[sizeof(recs[i].addr) - 1] = '\0';
	}
out:
	free(info);
	return ret;
}

static int op_fence_answer(struct sfs_ctl_req *req)
{
	uint64_t rid, flags;
	bool fenced;
	int ret;

	if (sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_RID, &rid) ||
	    sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_FLAGS, &flags))
		return -EINVAL;
	if (flags != SCOUTFS_CTL_FENCE_ANSWER_FENCED && flags != SCOUTFS_CTL_FENCE_ANSWER_ERROR)
		return -EINVAL;
	fenced = flags == SCOUTFS_CTL_FENCE_ANSWER_FENCED;
	ret = sfs_fence_answer(req->fs, rid, fenced);
	if (ret)
		return ret;
	sfs_info(req->fs, "ctl: pid %d (uid %u) answered the fence request of rid %016llx: %s",
		 (int)req->pid, (unsigned int)req->uid, (unsigned long long)rid,
		 fenced ? "fenced" : "error");
	return 0;
}

/* listed in sfs_ctl_tables[] (ctl_ops.c); the count is checked against ctl_ops.h */
const struct sfs_ctl_op sfs_ctl_quorum_ops[] = {
	{ SCOUTFS_CTL_QUORUM_STATUS, "quorum_status", false, op_quorum_status },
	{ SCOUTFS_CTL_FENCE_REQUESTS, "fence_requests", false, op_fence_requests },
	{ SCOUTFS_CTL_FENCE_ANSWER, "fence_answer", true, op_fence_answer },
};
