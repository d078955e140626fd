// SPDX-License-Identifier: GPL-2.0
/*
 * libscoutfs: the client side of the control protocol (include/scoutfs/ctl.h,
 * docs/ctl-protocol.md).  One connection is one SOCK_SEQPACKET socket to a
 * mount's daemon; calls on it are synchronous, one request in flight at a
 * time.  A connection may be used by one thread at a time.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "ctl_msg.h"
#include "scoutfs/ctl.h"

#define FUSE_SUPER_MAGIC 0x65735546

struct scoutfs_ctl {
	int sock;
	uint64_t next_id;
	struct scoutfs_ctl_info info;
	struct sfs_ctl_out out;
	void *rbuf;
	struct sfs_ctl_in in;
};

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

static struct sfs_ctl_out *begin(struct scoutfs_ctl *ctl, uint16_t type)
{
	sfs_ctl_out_reset(&ctl->out, type, 0, ++ctl->next_id, 0);
	return &ctl->out;
}

/* put the file a request is about */
static int put_file(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file)
{
	uint64_t idx;
	int ret;

	if (file.fd >= 0) {
		ret = sfs_ctl_put_fd(&ctl->out, file.fd, &idx);
		if (ret)
			return ret;
		sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FD, idx);
	} else {
		sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INO, file.ino);
	}
	return 0;
}

/* send the request being built, wait for its reply: 0 or -errno */
static int call(struct scoutfs_ctl *ctl)
{
	const struct scoutfs_ctl_hdr *req = (const void *)ctl->out.buf;
	const struct scoutfs_ctl_hdr *hdr;
	int fds[SFS_CTL_MAX_FDS];
	int nr_fds;
	char why[128];
	ssize_t len;
	int sent, ret;

	/*
	 * A daemon refusing the connection (EBUSY) shuts it down after its
	 * reply: the send fails with EPIPE, and the reply is still there to
	 * read (the peer is shut down: the recv does not block).
	 */
	sent = sfs_ctl_send(ctl->sock, &ctl->out);
	if (sent && sent != -EPIPE && sent != -ECONNRESET)
		return sent;
	for (;;) {
		len = sfs_ctl_recv(ctl->sock, ctl->rbuf, fds, &nr_fds);
		sfs_ctl_close_fds(fds, &nr_fds);
		if (len == 0)
			return sent ?: -ECONNRESET;
		if (len < 0)
			return sent ?: (int)len;
		ret = sfs_ctl_parse(ctl->rbuf, (size_t)len, &ctl->in, why, sizeof(why));
		if (ret)
			return sent ?: ret;
		hdr = ctl->in.hdr;
		if (!(hdr->flags & SCOUTFS_CTL_F_REPLY))
			return sent ?: -EPROTO;
		if (hdr->id == 0 && hdr->status)
			return -(int)hdr->status; /* refused before reading us (EBUSY) */
		if (sent || hdr->id != req->id)
			continue; /* a late reply to an earlier request */
		if (hdr->status)
			return hdr->status > 4095 ? -EPROTO : -(int)hdr->status;
		return 0;
	}
}

static int get_u64(struct scoutfs_ctl *ctl, uint16_t tag, uint64_t *val)
{
	int ret = sfs_ctl_get_u64(&ctl->in, tag, val);

	return ret == -ENOENT ? -EPROTO : ret;
}

/* copy a fixed struct field of the reply; a shorter one (older daemon) is zero filled */
static int get_struct(struct scoutfs_ctl *ctl, uint16_t tag, void *dst, size_t size)
{
	uint32_t len;
	const void *v = sfs_ctl_get(&ctl->in, tag, &len);

	if (!v)
		return -EPROTO;
	memset(dst, 0, size);
	memcpy(dst, v, len < size ? len : size);
	return 0;
}

/* the reply's records: their bytes and the size of each fixed record */
static const uint8_t *get_records(struct scoutfs_ctl *ctl, uint32_t *len)
{
	const uint8_t *v = sfs_ctl_get(&ctl->in, SCOUTFS_CTL_T_RECORDS, len);

	if (!v)
		*len = 0;
	return v;
}

/*
 * The reply's fixed-size records into dst (nr of size each): records of
 * another size (an older or newer daemon) are cut or zero filled.
 * Returns how many, or -EPROTO.
 */
static int get_fixed_records(struct scoutfs_ctl *ctl, void *dst, size_t size, unsigned int nr,
			     uint64_t min_size)
{
	const uint8_t *recs;
	uint64_t rsize;
	uint32_t len;
	unsigned int i, n;
	int ret;

	ret = get_u64(ctl, SCOUTFS_CTL_T_RECORD_SIZE, &rsize);
	if (ret)
		return ret;
	if (rsize < min_size || rsize > 4096)
		return -EPROTO;
	recs = get_records(ctl, &len);
	n = (unsigned int)(len / rsize);
	if (n > nr)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		memset((uint8_t *)dst + i * size, 0, size);
		memcpy((uint8_t *)dst + i * size, recs + i * rsize, rsize < size ? rsize : size);
	}
	return (int)n;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static int hello(struct scoutfs_ctl *ctl)
{
	struct scoutfs_ctl_info *info = &ctl->info;
	uint64_t uid;
	int ret;

	begin(ctl, SCOUTFS_CTL_HELLO);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_VERSION, SCOUTFS_CTL_VERSION_MAX);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_VERSION_MIN, SCOUTFS_CTL_VERSION_MIN);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_VERSION, &info->version);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_FSID, &info->fsid);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_RID, &info->rid);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_FMT_VERS, &info->fmt_vers);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_DEV, &info->dev);
	if (!ret)
		ret = sfs_ctl_get_u64_def(&ctl->in, SCOUTFS_CTL_T_UID, UINT32_MAX, &uid);
	if (!ret)
		info->peer_uid = (uint32_t)uid;
	if (!ret && sfs_ctl_get_str(&ctl->in, SCOUTFS_CTL_T_MOUNT_POINT, info->mount_point,
				    sizeof(info->mount_point)))
		info->mount_point[0] = '\0';
	if (!ret && sfs_ctl_get_str(&ctl->in, SCOUTFS_CTL_T_DAEMON_VERSION, info->daemon_version,
				    sizeof(info->daemon_version)))
		info->daemon_version[0] = '\0';
	return ret;
}

int scoutfs_ctl_open_socket(const char *sock_path, struct scoutfs_ctl **ret_ctl)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct scoutfs_ctl *ctl;
	int ret;

	*ret_ctl = NULL;
	if (strlen(sock_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, sock_path);

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->sock = -1;
	if (sfs_ctl_out_init(&ctl->out, 0, 0, 0) ||
	    posix_memalign(&ctl->rbuf, 8, SCOUTFS_CTL_MAX_MSG)) {
		ret = -ENOMEM;
		goto out;
	}
	ctl->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl->sock < 0 || connect(ctl->sock, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		goto out;
	}
	ret = hello(ctl);
out:
	if (ret)
		scoutfs_ctl_close(ctl);
	else
		*ret_ctl = ctl;
	return ret;
}

void scoutfs_ctl_close(struct scoutfs_ctl *ctl)
{
	if (!ctl)
		return;
	if (ctl->sock >= 0)
		close(ctl->sock);
	sfs_ctl_out_free(&ctl->out);
	free(ctl->rbuf);
	free(ctl);
}

const struct scoutfs_ctl_info *scoutfs_ctl_info(const struct scoutfs_ctl *ctl)
{
	return &ctl->info;
}

/* does the run directory dir say it serves the mount with st_dev dev? */
static bool dir_has_dev(const char *dir, dev_t dev)
{
	char path[PATH_MAX];
	unsigned int maj, min;
	FILE *f;
	int n;

	if ((size_t)snprintf(path, sizeof(path), "%s/dev", dir) >= sizeof(path))
		return false;
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fscanf(f, "%u:%u", &maj, &min);
	fclose(f);
	return n == 2 && makedev(maj, min) == dev;
}

int scoutfs_ctl_open(const char *path, struct scoutfs_ctl **ret_ctl)
{
	const char *base = getenv("SCOUTFS_RUN_DIR");
	char dir[PATH_MAX];
	char sock[PATH_MAX + 32];
	struct dirent *de;
	struct statfs sfs;
	struct stat sb;
	int ret = -ENOENT;
	DIR *d;

	*ret_ctl = NULL;
	if (!base || !base[0])
		base = SCOUTFS_CTL_RUN_BASE;
	if (stat(path, &sb))
		return -errno;
	if (statfs(path, &sfs))
		return -errno;
	if ((unsigned long)sfs.f_type != FUSE_SUPER_MAGIC)
		return -ENOTTY;

	d = opendir(base);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name) >= sizeof(dir))
			continue;
		if (!dir_has_dev(dir, sb.st_dev))
			continue;
		snprintf(sock, sizeof(sock), "%s/" SCOUTFS_CTL_SOCKET_NAME, dir);
		ret = scoutfs_ctl_open_socket(sock, ret_ctl);
		if (ret == 0 && (*ret_ctl)->info.dev != (uint64_t)sb.st_dev) {
			/* a reused device number in a stale directory: not ours */
			scoutfs_ctl_close(*ret_ctl);
			*ret_ctl = NULL;
			ret = -ENOENT;
		}
		if (ret == 0 || ret == -EACCES || ret == -EPROTONOSUPPORT || ret == -EBUSY)
			break;
		ret = -ENOENT;	/* a dead daemon's directory: keep looking */
	}
	closedir(d);
	return ret;
}

const char *scoutfs_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == ENOTTY)
		return "not in a scoutfs mount";
	if (err == ENOENT)
		return "no such entry, or no daemon serves the mount";
	return strerror(err);
}

/* ------------------------------------------------------------------ */
/* Calls                                                                */
/* ------------------------------------------------------------------ */

int scoutfs_statfs_more(struct scoutfs_ctl *ctl, struct scoutfs_ctl_statfs_more *sfm)
{
	int ret;

	begin(ctl, SCOUTFS_CTL_STATFS_MORE);
	ret = call(ctl);
	if (!ret)
		ret = get_struct(ctl, SCOUTFS_CTL_T_STATFS_MORE, sfm, sizeof(*sfm));
	return ret;
}

int scoutfs_stat_more(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		      struct scoutfs_ctl_stat_more *stm)
{
	int ret;

	begin(ctl, SCOUTFS_CTL_STAT_MORE);
	ret = put_file(ctl, file);
	if (!ret)
		ret = call(ctl);
	if (!ret)
		ret = get_struct(ctl, SCOUTFS_CTL_T_STAT_MORE, stm, sizeof(*stm));
	return ret;
}

int scoutfs_get_attr_x(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		       struct scoutfs_ctl_attr_x *ax)
{
	int ret;

	begin(ctl, SCOUTFS_CTL_GET_ATTR_X);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FLAGS, ax->x_mask);
	ret = put_file(ctl, file);
	if (!ret)
		ret = call(ctl);
	if (!ret)
		ret = get_struct(ctl, SCOUTFS_CTL_T_ATTR_X, ax, sizeof(*ax));
	return ret;
}

int scoutfs_walk_inodes(struct scoutfs_ctl *ctl, int index, struct scoutfs_ctl_walk_pos *first,
			const struct scoutfs_ctl_walk_pos *last,
			struct scoutfs_ctl_walk_entry *ents, unsigned int nr)
{
	int ret;
	int n;

	if (nr == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_WALK_INODES);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INDEX, (uint64_t)index);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_MAJOR, first->major);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_MINOR, first->minor);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_INO, first->ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_MAJOR, last->major);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_MINOR, last->minor);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_INO, last->ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (ret)
		return ret;
	n = get_fixed_records(ctl, ents, sizeof(*ents), nr, sizeof(*ents) - sizeof(uint32_t));
	if (n > 0) {
		/* the position after the last entry */
		first->major = ents[n - 1].major;
		first->minor = ents[n - 1].minor;
		first->ino = ents[n - 1].ino + 1;
		if (first->ino == 0) {
			if (++first->minor == 0)
				first->major++;
		}
	}
	return n;
}

int scoutfs_ino_path(struct scoutfs_ctl *ctl, uint64_t ino, uint64_t *dir_ino,
		     uint64_t *dir_pos, char *path, size_t path_size)
{
	uint64_t dino, dpos;
	int ret;

	begin(ctl, SCOUTFS_CTL_INO_PATH);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INO, ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DIR_INO, *dir_ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DIR_POS, *dir_pos);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_DIR_INO, &dino);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_DIR_POS, &dpos);
	if (!ret)
		ret = sfs_ctl_get_str(&ctl->in, SCOUTFS_CTL_T_PATH, path, path_size);
	if (ret)
		return ret;
	/* the cursor moves past the entry we got */
	*dir_ino = dino;
	*dir_pos = dpos + 1;
	if (*dir_pos == 0)
		(*dir_ino)++;
	return 0;
}

int scoutfs_get_referring_entries(struct scoutfs_ctl *ctl, uint64_t ino, uint64_t *dir_ino,
				  uint64_t *dir_pos, scoutfs_dirent_cb cb, void *arg)
{
	const struct scoutfs_ctl_dirent *ent;
	char name[256];
	const uint8_t *recs;
	uint64_t end;
	uint32_t len, off;
	int count = 0;
	int ret;

	do {
		begin(ctl, SCOUTFS_CTL_GET_REFERRING_ENTRIES);
		sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INO, ino);
		sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DIR_INO, *dir_ino);
		sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DIR_POS, *dir_pos);
		ret = call(ctl);
		if (!ret)
			ret = get_u64(ctl, SCOUTFS_CTL_T_END, &end);
		if (ret)
			return ret;
		recs = get_records(ctl, &len);
		if (!end && len == 0)
			return -EPROTO;	/* no progress */
		for (off = 0; off < len; off += ent->rec_len) {
			ent = (const void *)(recs + off);
			if (len - off < sizeof(*ent) || ent->rec_len < sizeof(*ent) + ent->name_len ||
			    ent->rec_len > len - off)
				return -EPROTO;
			memcpy(name, ent + 1, ent->name_len);
			name[ent->name_len] = '\0';
			*dir_ino = ent->dir_ino;
			*dir_pos = ent->dir_pos + 1;
			if (*dir_pos == 0)
				(*dir_ino)++;
			count++;
			if (cb) {
				ret = cb(arg, ent, name);
				if (ret)
					return ret;
			}
		}
	} while (!end);
	return count;
}

int scoutfs_get_allocated_inos(struct scoutfs_ctl *ctl, uint64_t start_ino, uint64_t *inos,
			       unsigned int nr)
{
	const uint8_t *recs;
	uint64_t rsize;
	uint32_t len;
	unsigned int n;
	int ret;

	begin(ctl, SCOUTFS_CTL_GET_ALLOCATED_INOS);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INO, start_ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_RECORD_SIZE, &rsize);
	if (ret)
		return ret;
	if (rsize != sizeof(uint64_t))
		return -EPROTO;
	recs = get_records(ctl, &len);
	n = len / sizeof(uint64_t);
	if (n > nr)
		return -EPROTO;
	memcpy(inos, recs, (size_t)n * sizeof(uint64_t));
	return (int)n;
}

int scoutfs_counters(struct scoutfs_ctl *ctl, scoutfs_counter_cb cb, void *arg)
{
	const struct scoutfs_ctl_counter *cr;
	const uint8_t *recs;
	char name[256];
	uint32_t len, off;
	int ret;

	begin(ctl, SCOUTFS_CTL_COUNTERS);
	ret = call(ctl);
	if (ret)
		return ret;
	recs = get_records(ctl, &len);
	for (off = 0; off < len; off += cr->rec_len) {
		cr = (const void *)(recs + off);
		if (len - off < sizeof(*cr) || cr->rec_len < sizeof(*cr) + cr->name_len ||
		    cr->rec_len > len - off)
			return -EPROTO;
		memcpy(name, cr + 1, cr->name_len);
		name[cr->name_len] = '\0';
		ret = cb(arg, name, cr->value);
		if (ret)
			return ret;
	}
	return 0;
}

/* a request about [offset, offset + length) of file at data_version */
static int range_call(struct scoutfs_ctl *ctl, uint16_t type, struct scoutfs_file_ref file,
		      uint64_t offset, uint64_t length, uint64_t data_version)
{
	int ret;

	begin(ctl, type);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_OFFSET, offset);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LENGTH, length);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DATA_VERSION, data_version);
	ret = put_file(ctl, file);
	if (!ret)
		ret = call(ctl);
	return ret;
}

int scoutfs_release(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file, uint64_t offset,
		    uint64_t length, uint64_t data_version)
{
	return range_call(ctl, SCOUTFS_CTL_RELEASE, file, offset, length, data_version);
}

int64_t scoutfs_stage(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		      uint64_t data_version, uint64_t offset, uint64_t length, int src_fd,
		      uint64_t src_offset)
{
	uint64_t idx, staged;
	int ret;

	if (src_fd < 0)
		return -EBADF;
	begin(ctl, SCOUTFS_CTL_STAGE);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_OFFSET, offset);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LENGTH, length);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DATA_VERSION, data_version);
	if (src_offset != UINT64_MAX)
		sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_SRC_OFFSET, src_offset);
	ret = put_file(ctl, file);
	if (!ret)
		ret = sfs_ctl_put_fd(&ctl->out, src_fd, &idx);
	if (ret)
		return ret;
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_SRC_FD, idx);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_LENGTH, &staged);
	return ret ? ret : (int64_t)staged;
}

int scoutfs_data_waiting(struct scoutfs_ctl *ctl, uint64_t *ino, uint64_t *iblock,
			 struct scoutfs_ctl_waiting *ents, unsigned int nr)
{
	int ret;
	int n;

	if (nr == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_DATA_WAITING);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INO, *ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_IBLOCK, *iblock);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (ret)
		return ret;
	n = get_fixed_records(ctl, ents, sizeof(*ents), nr, 17);
	if (n > 0) {
		*ino = ents[n - 1].ino;
		*iblock = ents[n - 1].iblock;
	}
	return n;
}

int scoutfs_data_wait_err(struct scoutfs_ctl *ctl, uint64_t ino, uint64_t offset,
			  uint64_t count, unsigned int ops, int err)
{
	uint64_t n;
	int ret;

	if (err < 0)
		err = -err;
	begin(ctl, SCOUTFS_CTL_DATA_WAIT_ERR);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_INO, ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_OFFSET, offset);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LENGTH, count);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_OP, ops);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_ERR, (uint64_t)err);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_COUNT, &n);
	return ret ? ret : (int)n;
}

int scoutfs_set_attr_x(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		       const struct scoutfs_ctl_attr_x *ax)
{
	int ret;

	begin(ctl, SCOUTFS_CTL_SET_ATTR_X);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_ATTR_X, ax, sizeof(*ax));
	ret = put_file(ctl, file);
	if (!ret)
		ret = call(ctl);
	return ret;
}

int scoutfs_setattr_more(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
			 const struct scoutfs_ctl_setattr_more *sm)
{
	int ret;

	begin(ctl, SCOUTFS_CTL_SETATTR_MORE);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_SETATTR_MORE, sm, sizeof(*sm));
	ret = put_file(ctl, file);
	if (!ret)
		ret = call(ctl);
	return ret;
}

int scoutfs_punch_offline(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file, uint64_t offset,
			  uint64_t length, uint64_t data_version)
{
	return range_call(ctl, SCOUTFS_CTL_PUNCH_OFFLINE, file, offset, length, data_version);
}

int scoutfs_move_blocks(struct scoutfs_ctl *ctl, int from_fd, uint64_t from_off,
			uint64_t length, int to_fd, uint64_t to_off, uint64_t data_version,
			uint64_t flags)
{
	uint64_t idx;
	int ret;

	if (from_fd < 0 || to_fd < 0)
		return -EBADF;
	begin(ctl, SCOUTFS_CTL_MOVE_BLOCKS);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_SRC_OFFSET, from_off);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LENGTH, length);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_OFFSET, to_off);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_DATA_VERSION, data_version);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FLAGS, flags);
	ret = sfs_ctl_put_fd(&ctl->out, to_fd, &idx);
	if (ret)
		return ret;
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FD, idx);
	ret = sfs_ctl_put_fd(&ctl->out, from_fd, &idx);
	if (ret)
		return ret;
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_SRC_FD, idx);
	return call(ctl);
}

/* ------------------------------------------------------------------ */
/* xattr totals, index and hidden names                                 */
/* ------------------------------------------------------------------ */

int scoutfs_read_xattr_totals(struct scoutfs_ctl *ctl, struct scoutfs_ctl_totl_name *pos,
			      struct scoutfs_ctl_xattr_total *tots, unsigned int nr)
{
	int ret;
	int n;
	int i;

	if (nr == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_READ_XATTR_TOTALS);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_TOTL_NAME, pos, sizeof(*pos));
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (ret)
		return ret;
	n = get_fixed_records(ctl, tots, sizeof(*tots), nr, sizeof(*tots));
	if (n > 0) {
		/* the name after the last total: a 192-bit increment */
		memcpy(pos->name, tots[n - 1].name, sizeof(pos->name));
		for (i = 2; i >= 0; i--) {
			if (++pos->name[i] != 0)
				break;
		}
	}
	return n;
}

int scoutfs_read_xattr_index(struct scoutfs_ctl *ctl,
			     struct scoutfs_ctl_xattr_index_entry *first,
			     const struct scoutfs_ctl_xattr_index_entry *last,
			     struct scoutfs_ctl_xattr_index_entry *ents, unsigned int nr)
{
	int ret;
	int n;

	if (nr == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_READ_XATTR_INDEX);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_MAJOR, first->major);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_MINOR, first->minor);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_INO, first->ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_MAJOR, last->major);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_MINOR, last->minor);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_INO, last->ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (ret)
		return ret;
	n = get_fixed_records(ctl, ents, sizeof(*ents), nr, sizeof(*ents));
	if (n > 0) {
		/* the position after the last entry */
		*first = ents[n - 1];
		if (++first->ino == 0 && ++first->minor == 0)
			first->major++;
	}
	return n;
}

int scoutfs_listxattr_hidden(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
			     uint64_t *hash_pos, uint64_t *id_pos, char *buf, size_t size)
{
	uint64_t hash, id, end;
	const char *names;
	uint32_t len;
	int ret;

	if (size == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_LISTXATTR_HIDDEN);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_XATTR_HASH, *hash_pos);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_XATTR_ID, *id_pos);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LENGTH, size);
	ret = put_file(ctl, file);
	if (!ret)
		ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_XATTR_HASH, &hash);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_XATTR_ID, &id);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_END, &end);
	if (ret)
		return ret;
	names = sfs_ctl_get(&ctl->in, SCOUTFS_CTL_T_NAMES, &len);
	if (!names)
		len = 0;
	if (len > size || len > INT_MAX || (len && names[len - 1] != '\0') || (!end && !len))
		return -EPROTO;
	memcpy(buf, names, len);
	*hash_pos = hash;
	*id_pos = id;
	return (int)len;
}

int scoutfs_inject_totl_delta(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_totl_name *name,
			      int64_t total, int64_t count)
{
	struct scoutfs_ctl_xattr_total delta;

	memcpy(delta.name, name->name, sizeof(delta.name));
	delta.total = total;
	delta.count = count;
	begin(ctl, SCOUTFS_CTL_INJECT_TOTL_DELTA);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_XATTR_TOTAL, &delta, sizeof(delta));
	return call(ctl);
}

int scoutfs_trigger(struct scoutfs_ctl *ctl, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_TRIGGER);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_NAME, name, (uint32_t)len);
	return call(ctl);
}

int scoutfs_get_quota_rules(struct scoutfs_ctl *ctl, struct scoutfs_ctl_quota_iter *iter,
			    struct scoutfs_ctl_quota_rule *rules, unsigned int nr)
{
	int ret;
	int n;

	if (nr == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_GET_QUOTA_RULES);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_QUOTA_ITER, iter, sizeof(*iter));
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (ret)
		return ret;
	n = get_fixed_records(ctl, rules, sizeof(*rules), nr, sizeof(*rules));
	if (n > 0) {
		ret = get_struct(ctl, SCOUTFS_CTL_T_QUOTA_ITER, iter, sizeof(*iter));
		if (ret)
			return ret;
	}
	return n;
}

int scoutfs_add_quota_rule(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_quota_rule *rule)
{
	begin(ctl, SCOUTFS_CTL_ADD_QUOTA_RULE);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_QUOTA_RULE, rule, sizeof(*rule));
	return call(ctl);
}

int scoutfs_del_quota_rule(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_quota_rule *rule)
{
	begin(ctl, SCOUTFS_CTL_DEL_QUOTA_RULE);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_QUOTA_RULE, rule, sizeof(*rule));
	return call(ctl);
}

int scoutfs_search_xattrs(struct scoutfs_ctl *ctl, const char *name, uint64_t *next_ino,
			  uint64_t last_ino, uint64_t *inos, unsigned int nr, bool *end)
{
	uint64_t e;
	size_t len;
	int ret;
	int n;

	len = name ? strlen(name) : 0;
	if (nr == 0 || len == 0)
		return -EINVAL;
	begin(ctl, SCOUTFS_CTL_SEARCH_XATTRS);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_NAME, name, len);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FIRST_INO, *next_ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_LAST_INO, last_ino);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_END, &e);
	if (ret)
		return ret;
	n = get_fixed_records(ctl, inos, sizeof(*inos), nr, sizeof(*inos));
	if (n < 0)
		return n;
	if (n == 0 && !e)
		return -EPROTO;
	if (n > 0)
		*next_ino = inos[n - 1] + 1;
	/* the last possible inode returned: nothing can follow */
	*end = e || (n > 0 && inos[n - 1] == UINT64_MAX);
	return n;
}

int scoutfs_get_volopt(struct scoutfs_ctl *ctl, struct scoutfs_ctl_volopt *vo)
{
	int ret;

	begin(ctl, SCOUTFS_CTL_GET_VOLOPT);
	ret = call(ctl);
	if (!ret)
		ret = get_struct(ctl, SCOUTFS_CTL_T_VOLOPT, vo, sizeof(*vo));
	return ret;
}

int scoutfs_set_volopt(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_volopt *vo)
{
	begin(ctl, SCOUTFS_CTL_SET_VOLOPT);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_VOLOPT, vo, sizeof(*vo));
	return call(ctl);
}

int scoutfs_clear_volopt(struct scoutfs_ctl *ctl, uint64_t bits)
{
	struct scoutfs_ctl_volopt vo = { .set_bits = bits, .data_alloc_zone_blocks = 0 };

	begin(ctl, SCOUTFS_CTL_CLEAR_VOLOPT);
	sfs_ctl_put(&ctl->out, SCOUTFS_CTL_T_VOLOPT, &vo, sizeof(vo));
	return call(ctl);
}

int scoutfs_quorum_status(struct scoutfs_ctl *ctl, char *buf, size_t size)
{
	const char *text;
	uint32_t len;
	int ret;

	begin(ctl, SCOUTFS_CTL_QUORUM_STATUS);
	ret = call(ctl);
	if (ret)
		return ret;
	text = sfs_ctl_get(&ctl->in, SCOUTFS_CTL_T_NAME, &len);
	if (!text || len > INT_MAX || memchr(text, '\0', len))
		return -EPROTO;
	if (size) {
		size_t n = len < size ? len : size - 1;

		memcpy(buf, text, n);
		buf[n] = '\0';
	}
	return (int)len;
}

int scoutfs_fence_requests(struct scoutfs_ctl *ctl, struct scoutfs_ctl_fence_request *reqs,
			   unsigned int nr)
{
	uint64_t count;
	unsigned int i;
	int ret;
	int n;

	begin(ctl, SCOUTFS_CTL_FENCE_REQUESTS);
	/* ask for at least one: 0 would be the daemon's default, all of them */
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_MAX_RECORDS, nr ? nr : 1);
	ret = call(ctl);
	if (!ret)
		ret = get_u64(ctl, SCOUTFS_CTL_T_COUNT, &count);
	if (ret)
		return ret;
	if (count > INT_MAX)
		return -EPROTO;
	if (nr) {
		n = get_fixed_records(ctl, reqs, sizeof(*reqs), nr,
				      offsetof(struct scoutfs_ctl_fence_request, addr) + 1);
		if (n < 0)
			return n;
		if ((uint64_t)n > count)
			return -EPROTO;
		/* a shorter record's address was cut: keep it a string */
		for (i = 0; i < (unsigned int)n; i++)
			reqs[i].addr[sizeof(reqs[i].addr) - 1] = '\0';
	}
	return (int)count;
}

int scoutfs_fence_answer(struct scoutfs_ctl *ctl, uint64_t rid, bool fenced)
{
	begin(ctl, SCOUTFS_CTL_FENCE_ANSWER);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_RID, rid);
	sfs_ctl_put_u64(&ctl->out, SCOUTFS_CTL_T_FLAGS,
			fenced ? SCOUTFS_CTL_FENCE_ANSWER_FENCED : SCOUTFS_CTL_FENCE_ANSWER_ERROR);
	return call(ctl);
}

const char *scoutfs_fence_reason_name(uint32_t reason)
{
	switch (reason) {
	case SCOUTFS_CTL_FENCE_REASON_CLIENT_RECOVERY:
		return "client_recovery";
	case SCOUTFS_CTL_FENCE_REASON_CLIENT_RECONNECT:
		return "client_reconnect";
	case SCOUTFS_CTL_FENCE_REASON_QUORUM_BLOCK_LEADER:
		return "quorum_block_leader";
	}
	return "unknown";
}

const char *scoutfs_fence_state_name(uint32_t state)
{
	switch (state) {
	case SCOUTFS_CTL_FENCE_STATE_PENDING:
		return "pending";
	case SCOUTFS_CTL_FENCE_STATE_FENCED:
		return "fenced";
	case SCOUTFS_CTL_FENCE_STATE_ERROR:
		return "error";
	}
	return "unknown";
}

/*
 * path made absolute (from the working directory, which getcwd() gives
 * without asking any filesystem) with ".", ".." and repeated slashes
 * resolved as text: nothing under path is looked up.  0 or -errno.
 */
static int text_abspath(const char *path, char *out, size_t size)
{
	char buf[PATH_MAX * 2];
	size_t len = 0, n;
	const char *p, *e;

	if (!path[0])
		return -ENOENT;
	if (path[0] == '/') {
		buf[0] = '\0';
	} else if (!getcwd(buf, PATH_MAX)) {
		return -errno;
	}
	if (strlen(buf) + strlen(path) + 2 > sizeof(buf))
		return -ENAMETOOLONG;
	strcat(buf, "/");
	strcat(buf, path);

	/* out is built one component at a time: "/a/b" */
	for (p = buf; *p; p = e) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			continue;
		}
		if (len + 1 + n + 1 > size)
			return -ENAMETOOLONG;
		out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
	}
	if (len == 0) {
		if (size < 2)
			return -ENAMETOOLONG;
		out[len++] = '/';
	}
	out[len] = '\0';
	return 0;
}

/* the mount point run directory dir names, without its newline: 0 or -errno */
static int dir_mount_point(const char *dir, char *mnt, size_t size)
{
	char path[PATH_MAX];
	size_t len;
	FILE *f;
	int ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/mount_point", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(mnt, (int)size, f))
		ret = -ENOENT;
	fclose(f);
	if (ret)
		return ret;
	len = strlen(mnt);
	if (len && mnt[len - 1] == '\n')
		mnt[--len] = '\0';
	return 0;
}

/* connect to the live daemon of BASE whose mount point is mnt: 0, -ENOENT, or its refusal */
static int open_mount_text(const char *base, const char *mnt, struct scoutfs_ctl **ret_ctl)
{
	char dir[PATH_MAX], sock[PATH_MAX + 32], cur[PATH_MAX];
	struct dirent *de;
	int ret = -ENOENT;
	DIR *d;

	d = opendir(base);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name) >= sizeof(dir) ||
		    dir_mount_point(dir, cur, sizeof(cur)) || strcmp(cur, mnt))
			continue;
		snprintf(sock, sizeof(sock), "%s/" SCOUTFS_CTL_SOCKET_NAME, dir);
		ret = scoutfs_ctl_open_socket(sock, ret_ctl);
		if (ret == 0 && strcmp((*ret_ctl)->info.mount_point, mnt)) {
			/* a stale directory's mount point, reused: not ours */
			scoutfs_ctl_close(*ret_ctl);
			*ret_ctl = NULL;
			ret = -ENOENT;
		}
		if (ret == 0 || ret == -EACCES || ret == -EPROTONOSUPPORT || ret == -EBUSY)
			break;
		ret = -ENOENT;	/* a dead daemon's directory: keep looking */
	}
	closedir(d);
	return ret;
}

int scoutfs_ctl_open_mount(const char *mount_point, struct scoutfs_ctl **ret_ctl)
{
	const char *base = getenv("SCOUTFS_RUN_DIR");
	char mnt[PATH_MAX], parent[PATH_MAX], real[PATH_MAX], *slash;
	int ret;

	*ret_ctl = NULL;
	if (!base || !base[0])
		base = SCOUTFS_CTL_RUN_BASE;
	ret = text_abspath(mount_point, mnt, sizeof(mnt));
	if (ret)
		return ret;
	ret = open_mount_text(base, mnt, ret_ctl);
	if (ret != -ENOENT || !strcmp(mnt, "/"))
		return ret;

	/* symbolic links above it: resolve the parent, which is not in the mount */
	slash = strrchr(mnt, '/');
	if (slash == mnt)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - mnt), mnt);
	if (!realpath(parent, real))
		return -ENOENT;
	if (strlen(real) + strlen(slash) + 1 > sizeof(real))
		return -ENAMETOOLONG;
	if (strcmp(real, "/"))
		strcat(real, slash);
	else
		snprintf(real, sizeof(real), "%s", slash);
	if (!strcmp(real, mnt))
		return -ENOENT;
	return open_mount_text(base, real, ret_ctl);
}
