// SPDX-License-Identifier: GPL-2.0
/*
 * The control requests of the tagged xattrs (docs/ctl-protocol.md,
 * reference-scoutfs.md 5.6 and 5.9): READ_XATTR_TOTALS, READ_XATTR_INDEX,
 * LISTXATTR_HIDDEN and INJECT_TOTL_DELTA.
 *
 * The totals and the index are read as the reference's weak cache reads
 * them: committed items only, resolved over fs_root and every log tree
 * with the roots of the super block on the meta device
 * (sfs_forest_walk_committed), so what every mount has committed shows
 * and nothing that is still dirty in a transaction, this mount's
 * included.  Totals are summed from their deltas (forest.c).  A reply
 * holds what fits; the client asks again from past the last record.
 *
 * LISTXATTR_HIDDEN reads the file's xattr items through the item cache
 * under the same locks as listxattr (the namespace shared, then the
 * inode), so it sees this mount's own changes, as listxattr does.
 * INJECT_TOTL_DELTA adds its delta in the open transaction.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_ops.h"
#include "forest.h"
#include "fs_int.h"
#include "lock.h"
#include "trans.h"
#include "xattr.h"

/* a struct field of exactly size bytes: 0, -ENOENT when absent, -EPROTO when not size */
static int get_struct(const struct sfs_ctl_in *in, uint16_t tag, void *dst, size_t size)
{
	const void *v;
	uint32_t len;

	v = sfs_ctl_get(in, tag, &len);
	if (!v)
		return -ENOENT;
	if (len != size)
		return -EPROTO;
	memcpy(dst, v, size);
	return 0;
}

/* the last key of an index zone (zone 12 or 14: type 0, every field) */
static struct scoutfs_key zone_last(uint8_t zone)
{
	return sfs_key_make(zone, UINT64_MAX, 0, UINT64_MAX, UINT64_MAX, UINT8_MAX);
}

/* ------------------------------------------------------------------ */
/* READ_XATTR_TOTALS                                                    */
/* ------------------------------------------------------------------ */

struct totals_ctx {
	struct scoutfs_ctl_xattr_total *recs;
	uint32_t nr;
	uint32_t max;
	bool more;		/* stopped with records left */
};

static int totals_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		     const void *val, unsigned int val_len)
{
	struct totals_ctx *tc = arg;
	struct scoutfs_ctl_xattr_total *rec;
	struct scoutfs_xattr_totl_val tv;

	(void)seq, (void)flags;
	if (key->sk_type != 0 || key->_sk_fourth != 0 || val_len != sizeof(tv))
		return 0;	/* not a total: the checks of the volume report those */
	if (tc->nr == tc->max) {
		tc->more = true;
		return 1;
	}
	memcpy(&tv, val, sizeof(tv));
	rec = &tc->recs[tc->nr++];
	rec->name[0] = le64toh(key->skxt_a);
	rec->name[1] = le64toh(key->skxt_b);
	rec->name[2] = le64toh(key->skxt_c);
	rec->total = (int64_t)le64toh(tv.total);
	rec->count = (int64_t)le64toh(tv.count);
	return 0;
}

static int op_read_xattr_totals(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_totl_name pos = { { 0, 0, 0 } };
	struct totals_ctx tc = { 0 };
	struct sfs_lock_set set;
	struct scoutfs_key start, last;
	int ret;

	ret = get_struct(req->in, SCOUTFS_CTL_T_TOTL_NAME, &pos, sizeof(pos));
	if (ret && ret != -ENOENT)
		return ret;
	tc.max = sfs_ctl_max_records(req, sizeof(*tc.recs), 256);
	tc.recs = malloc((size_t)(tc.max ? tc.max : 1) * sizeof(*tc.recs));
	if (!tc.recs)
		return -ENOMEM;
	start = sfs_xattr_totl_key(pos.name);
	last = zone_last(SCOUTFS_XATTR_TOTL_ZONE);
	/* every mount's deltas are committed once READ is granted */
	ret = sfs_fuse_lock_zone(sfs_ctl_req_sf(req), &set, SCOUTFS_XATTR_TOTL_ZONE, SFS_LOCK_READ,
				 true);
	if (!ret) {
		ret = sfs_forest_walk_committed(req->fs, &start, &last, totals_cb, &tc);
		sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, 0);
	}
	if (ret >= 0) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(*tc.recs));
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, !tc.more);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, tc.recs,
			    (size_t)tc.nr * sizeof(*tc.recs));
		ret = 0;
	}
	free(tc.recs);
	return ret;
}

/* ------------------------------------------------------------------ */
/* READ_XATTR_INDEX                                                     */
/* ------------------------------------------------------------------ */

struct index_ctx {
	struct scoutfs_ctl_xattr_index_entry *ents;
	uint32_t nr;
	uint32_t max;
	bool more;
};

static int index_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		    const void *val, unsigned int val_len)
{
	struct index_ctx *ic = arg;
	struct scoutfs_ctl_xattr_index_entry *prev;
	uint64_t minor, ino, id;
	uint8_t major;

	(void)seq, (void)flags, (void)val, (void)val_len;
	if (key->sk_type != 0)
		return 0;
	sfs_xattr_indx_key_fields(key, &major, &minor, &ino, &id);
	/* one entry per (major, minor, ino): the xattr ids of an inode fold */
	prev = ic->nr ? &ic->ents[ic->nr - 1] : NULL;
	if (prev && prev->major == major && prev->minor == minor && prev->ino == ino)
		return 0;
	if (ic->nr == ic->max) {
		ic->more = true;
		return 1;
	}
	ic->ents[ic->nr++] = (struct scoutfs_ctl_xattr_index_entry){
		.major = major, .minor = minor, .ino = ino,
	};
	return 0;
}

/* (a, b, c) > (x, y, z) */
static bool pos_after(uint64_t a, uint64_t b, uint64_t c, uint64_t x, uint64_t y, uint64_t z)
{
	return a != x ? a > x : b != y ? b > y : c > z;
}

static int op_read_xattr_index(struct sfs_ctl_req *req)
{
	struct index_ctx ic = { 0 };
	struct scoutfs_key start, last;
	struct sfs_lock_set set;
	uint64_t fmaj, fmin, fino, lmaj, lmin, lino;
	int ret;

	ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FIRST_MAJOR, 0, &fmaj) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FIRST_MINOR, 0, &fmin) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_FIRST_INO, 0, &fino) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LAST_MAJOR, UINT64_MAX, &lmaj) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LAST_MINOR, UINT64_MAX, &lmin) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LAST_INO, UINT64_MAX, &lino);
	if (ret)
		return ret;
	/* majors are 8 bits: a last past them is the end of the index */
	if (lmaj > UINT8_MAX) {
		lmaj = UINT8_MAX;
		lmin = UINT64_MAX;
		lino = UINT64_MAX;
	}
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RECORD_SIZE, sizeof(*ic.ents));
	if (fmaj > UINT8_MAX || pos_after(fmaj, fmin, fino, lmaj, lmin, lino)) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, 1);
		sfs_ctl_put_space(req->out, SCOUTFS_CTL_T_RECORDS, 0);
		return 0;
	}

	ic.max = sfs_ctl_max_records(req, sizeof(*ic.ents), 256);
	ic.ents = malloc((size_t)(ic.max ? ic.max : 1) * sizeof(*ic.ents));
	if (!ic.ents)
		return -ENOMEM;
	start = sfs_xattr_indx_key((uint8_t)fmaj, fmin, fino, 0);
	last = sfs_xattr_indx_key((uint8_t)lmaj, lmin, lino, UINT64_MAX);
	ret = sfs_fuse_lock_zone(sfs_ctl_req_sf(req), &set, SCOUTFS_XATTR_INDX_ZONE, SFS_LOCK_READ,
				 true);
	if (!ret) {
		ret = sfs_forest_walk_committed(req->fs, &start, &last, index_cb, &ic);
		sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, 0);
	}
	if (ret >= 0) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, !ic.more);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_RECORDS, ic.ents,
			    (size_t)ic.nr * sizeof(*ic.ents));
		ret = 0;
	}
	free(ic.ents);
	return ret;
}

/* ------------------------------------------------------------------ */
/* LISTXATTR_HIDDEN                                                     */
/* ------------------------------------------------------------------ */

/* at most this many bytes of names per reply, as the reference's callers ask */
#define HIDDEN_MAX_BYTES (64U * 1024)

static int op_listxattr_hidden(struct sfs_ctl_req *req)
{
	struct sfs_lock_set set;
	struct sfs_fuse *sf = sfs_ctl_req_sf(req);
	struct scoutfs_inode di;
	uint64_t hash, id, size, ino;
	size_t room;
	bool end = false;
	char *buf;
	int ret;

	ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_XATTR_HASH, 0, &hash) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_XATTR_ID, 0, &id) ?:
	      sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_LENGTH, HIDDEN_MAX_BYTES, &size);
	if (ret)
		return ret;
	if (size == 0)
		return -EINVAL;
	/* the names and three u64 fields must fit the reply */
	room = sfs_ctl_out_room(req->out) - 4 * sfs_ctl_field_bytes(8);
	if (size > room)
		size = room;
	if (size > HIDDEN_MAX_BYTES)
		size = HIDDEN_MAX_BYTES;
	ret = sfs_ctl_req_inode(req, true, false, &ino, &di);
	if (ret)
		return ret;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;

	ret = sfs_fuse_lock_inodes(sf, &set, SFS_LOCK_READ, ino, 0, 0, 0);
	if (ret) {
		free(buf);
		return ret;
	}
	pthread_rwlock_rdlock(&sf->ns);
	pthread_mutex_lock(sfs_fuse_ino_lock(sf, ino));
	ret = sfs_xattr_list_hidden(req->fs, ino, &hash, &id, buf, size, &end);
	pthread_mutex_unlock(sfs_fuse_ino_lock(sf, ino));
	pthread_rwlock_unlock(&sf->ns);
	sfs_fuse_unlock(sf, &set, 0);
	if (ret >= 0) {
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_XATTR_HASH, hash);
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_XATTR_ID, id);
		sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_END, end);
		sfs_ctl_put(req->out, SCOUTFS_CTL_T_NAMES, buf, (size_t)ret);
		ret = 0;
	}
	free(buf);
	return ret;
}

/* ------------------------------------------------------------------ */
/* INJECT_TOTL_DELTA                                                    */
/* ------------------------------------------------------------------ */

static int op_inject_totl_delta(struct sfs_ctl_req *req)
{
	struct scoutfs_ctl_xattr_total delta;
	struct sfs_lock_set set;
	uint64_t seq;
	int ret;

	ret = get_struct(req->in, SCOUTFS_CTL_T_XATTR_TOTAL, &delta, sizeof(delta));
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	ret = sfs_fuse_lock_zone(sfs_ctl_req_sf(req), &set, SCOUTFS_XATTR_TOTL_ZONE,
				 SFS_LOCK_WRITE_ONLY, false);
	if (ret)
		return ret;
	ret = sfs_trans_hold(req->fs, true, &seq);
	if (!ret) {
		seq = sfs_fuse_lock_seq(&set, seq);
		ret = sfs_xattr_totl_delta(req->fs, delta.name, delta.total, delta.count, seq);
		sfs_trans_release(req->fs);
	} else {
		seq = 0;
	}
	sfs_fuse_unlock(sfs_ctl_req_sf(req), &set, seq);
	return ret;
}

/* listed in sfs_ctl_tables[] (ctl_ops.c); the count is checked against ctl_ops.h */
const struct sfs_ctl_op sfs_ctl_xattr_ops[] = {
	{ SCOUTFS_CTL_LISTXATTR_HIDDEN, "listxattr_hidden", false, op_listxattr_hidden },
	{ SCOUTFS_CTL_READ_XATTR_TOTALS, "read_xattr_totals", true, op_read_xattr_totals },
	{ SCOUTFS_CTL_READ_XATTR_INDEX, "read_xattr_index", true, op_read_xattr_index },
	{ SCOUTFS_CTL_INJECT_TOTL_DELTA, "inject_totl_delta", true, op_inject_totl_delta },
};
