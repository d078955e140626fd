// SPDX-License-Identifier: GPL-2.0
/*
 * Control messages: a header, then 8-byte aligned fields (tag, length,
 * value).  See ctl_msg.h and docs/ctl-protocol.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ctl_msg.h"

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

size_t sfs_ctl_field_bytes(size_t len)
{
	return sizeof(struct scoutfs_ctl_field) + ALIGN8(len);
}

int sfs_ctl_out_init(struct sfs_ctl_out *out, uint16_t type, uint16_t flags, uint64_t id)
{
	memset(out, 0, sizeof(*out));
	if (posix_memalign((void **)&out->buf, 8, SCOUTFS_CTL_MAX_MSG))
		return -ENOMEM;
	sfs_ctl_out_reset(out, type, flags, id, 0);
	return 0;
}

void sfs_ctl_out_free(struct sfs_ctl_out *out)
{
	free(out->buf);
	out->buf = NULL;
}

void sfs_ctl_out_reset(struct sfs_ctl_out *out, uint16_t type, uint16_t flags, uint64_t id,
		       uint32_t status)
{
	struct scoutfs_ctl_hdr *hdr = (struct scoutfs_ctl_hdr *)out->buf;

	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = SCOUTFS_CTL_MAGIC;
	hdr->type = type;
	hdr->flags = flags;
	hdr->status = status;
	hdr->id = id;
	out->len = sizeof(*hdr);
	hdr->len = (uint32_t)out->len;
	out->overflow = false;
	out->nr_fds = 0;
}

size_t sfs_ctl_out_room(const struct sfs_ctl_out *out)
{
	size_t used = out->len + sizeof(struct scoutfs_ctl_field);

	return used >= SCOUTFS_CTL_MAX_MSG ? 0 : (SCOUTFS_CTL_MAX_MSG - used) & ~(size_t)7;
}

void *sfs_ctl_put_space(struct sfs_ctl_out *out, uint16_t tag, size_t len)
{
	struct scoutfs_ctl_hdr *hdr = (struct scoutfs_ctl_hdr *)out->buf;
	struct scoutfs_ctl_field *f;
	void *val;

	if (out->overflow || len > UINT32_MAX ||
	    out->len + sfs_ctl_field_bytes(len) > SCOUTFS_CTL_MAX_MSG) {
		out->overflow = true;
		return NULL;
	}
	f = (struct scoutfs_ctl_field *)(out->buf + out->len);
	f->tag = tag;
	f->_pad = 0;
	f->len = (uint32_t)len;
	val = f + 1;
	memset((char *)val + len, 0, ALIGN8(len) - len);
	out->len += sfs_ctl_field_bytes(len);
	hdr->len = (uint32_t)out->len;
	return val;
}

void sfs_ctl_put(struct sfs_ctl_out *out, uint16_t tag, const void *val, size_t len)
{
	void *dst = sfs_ctl_put_space(out, tag, len);

	if (dst && len)
		memcpy(dst, val, len);
}

void sfs_ctl_put_u64(struct sfs_ctl_out *out, uint16_t tag, uint64_t val)
{
	sfs_ctl_put(out, tag, &val, sizeof(val));
}

void sfs_ctl_put_str(struct sfs_ctl_out *out, uint16_t tag, const char *str)
{
	sfs_ctl_put(out, tag, str, strlen(str));
}

int sfs_ctl_put_fd(struct sfs_ctl_out *out, int fd, uint64_t *index)
{
	if (out->nr_fds >= SFS_CTL_MAX_FDS)
		return -EMFILE;
	*index = (uint64_t)out->nr_fds;
	out->fds[out->nr_fds++] = fd;
	return 0;
}

/*
 * Is tag one of enum scoutfs_ctl_tag?  Others come from a newer peer.  No
 * default: -Wswitch (-Wall) fails the build when ctl.h gains a tag that
 * is not listed here, so the parser never drops a tag it should know.
 */
static bool tag_known(uint16_t tag)
{
	switch ((enum scoutfs_ctl_tag)tag) {
	case SCOUTFS_CTL_T_VERSION:
	case SCOUTFS_CTL_T_VERSION_MIN:
	case SCOUTFS_CTL_T_FSID:
	case SCOUTFS_CTL_T_RID:
	case SCOUTFS_CTL_T_FMT_VERS:
	case SCOUTFS_CTL_T_INO:
	case SCOUTFS_CTL_T_FD:
	case SCOUTFS_CTL_T_INDEX:
	case SCOUTFS_CTL_T_FIRST_MAJOR:
	case SCOUTFS_CTL_T_FIRST_MINOR:
	case SCOUTFS_CTL_T_FIRST_INO:
	case SCOUTFS_CTL_T_LAST_MAJOR:
	case SCOUTFS_CTL_T_LAST_MINOR:
	case SCOUTFS_CTL_T_LAST_INO:
	case SCOUTFS_CTL_T_MAX_RECORDS:
	case SCOUTFS_CTL_T_DIR_INO:
	case SCOUTFS_CTL_T_DIR_POS:
	case SCOUTFS_CTL_T_DEV:
	case SCOUTFS_CTL_T_DATA_VERSION:
	case SCOUTFS_CTL_T_OFFSET:
	case SCOUTFS_CTL_T_LENGTH:
	case SCOUTFS_CTL_T_FLAGS:
	case SCOUTFS_CTL_T_END:
	case SCOUTFS_CTL_T_UID:
	case SCOUTFS_CTL_T_SRC_FD:
	case SCOUTFS_CTL_T_SRC_OFFSET:
	case SCOUTFS_CTL_T_IBLOCK:
	case SCOUTFS_CTL_T_OP:
	case SCOUTFS_CTL_T_ERR:
	case SCOUTFS_CTL_T_COUNT:
	case SCOUTFS_CTL_T_XATTR_HASH:
	case SCOUTFS_CTL_T_XATTR_ID:
	case SCOUTFS_CTL_T_MOUNT_POINT:
	case SCOUTFS_CTL_T_DAEMON_VERSION:
	case SCOUTFS_CTL_T_NAME:
	case SCOUTFS_CTL_T_PATH:
	case SCOUTFS_CTL_T_STAT_MORE:
	case SCOUTFS_CTL_T_STATFS_MORE:
	case SCOUTFS_CTL_T_RECORDS:
	case SCOUTFS_CTL_T_RECORD_SIZE:
	case SCOUTFS_CTL_T_ATTR_X:
	case SCOUTFS_CTL_T_TOTL_NAME:
	case SCOUTFS_CTL_T_XATTR_TOTAL:
	case SCOUTFS_CTL_T_NAMES:
	case SCOUTFS_CTL_T_QUOTA_RULE:
	case SCOUTFS_CTL_T_QUOTA_ITER:
	case SCOUTFS_CTL_T_SETATTR_MORE:
	case SCOUTFS_CTL_T_VOLOPT:
		return true;
	}
	return false;
}

int sfs_ctl_parse(const void *buf, size_t len, struct sfs_ctl_in *in, char *why, size_t why_len)
{
	const struct scoutfs_ctl_hdr *hdr = buf;
	const struct scoutfs_ctl_field *f;
	size_t off;
	uint16_t tag;

	memset(in->f, 0, sizeof(in->f));
	in->hdr = NULL;
	if (len < sizeof(*hdr)) {
		snprintf(why, why_len, "message of %zu bytes is shorter than the header", len);
		return -EPROTO;
	}
	if (hdr->magic != SCOUTFS_CTL_MAGIC) {
		snprintf(why, why_len, "bad magic 0x%08x", hdr->magic);
		return -EPROTO;
	}
	if (hdr->len != len) {
		snprintf(why, why_len, "header says %u bytes, %zu arrived", hdr->len, len);
		return -EPROTO;
	}
	in->hdr = hdr;

	for (off = sizeof(*hdr); off < len; off += sfs_ctl_field_bytes(f->len)) {
		if (len - off < sizeof(*f)) {
			snprintf(why, why_len, "truncated field header at byte %zu", off);
			return -EPROTO;
		}
		f = (const struct scoutfs_ctl_field *)((const uint8_t *)buf + off);
		if (f->len > len - off - sizeof(*f) ||
		    sfs_ctl_field_bytes(f->len) > len - off) {
			snprintf(why, why_len, "field %u at byte %zu: %u bytes overrun the message",
				 f->tag, off, f->len);
			return -EPROTO;
		}
		tag = f->tag & (uint16_t)~SCOUTFS_CTL_TAG_REQUIRED;
		if (tag >= SFS_CTL_NR_TAGS || !tag_known(tag)) {
			if (f->tag & SCOUTFS_CTL_TAG_REQUIRED) {
				snprintf(why, why_len, "unknown required field %u", tag);
				return -EPROTO;
			}
			continue;	/* from a newer peer: ignored */
		}
		if (in->f[tag].present) {
			snprintf(why, why_len, "field %u appears twice", tag);
			return -EPROTO;
		}
		/* tags below SFS_CTL_FIRST_STR_TAG carry a u64 */
		if (tag < SFS_CTL_FIRST_STR_TAG && f->len != sizeof(uint64_t)) {
			snprintf(why, why_len, "field %u has %u bytes, a u64 has 8", tag, f->len);
			return -EPROTO;
		}
		in->f[tag].present = true;
		in->f[tag].val = f + 1;
		in->f[tag].len = f->len;
	}
	return 0;
}

bool sfs_ctl_has(const struct sfs_ctl_in *in, uint16_t tag)
{
	return tag < SFS_CTL_NR_TAGS && in->f[tag].present;
}

const void *sfs_ctl_get(const struct sfs_ctl_in *in, uint16_t tag, uint32_t *len)
{
	if (!sfs_ctl_has(in, tag))
		return NULL;
	*len = in->f[tag].len;
	return in->f[tag].val;
}

int sfs_ctl_get_u64(const struct sfs_ctl_in *in, uint16_t tag, uint64_t *val)
{
	uint32_t len;
	const void *v = sfs_ctl_get(in, tag, &len);

	if (!v)
		return -ENOENT;
	if (len != sizeof(*val))
		return -EPROTO;
	memcpy(val, v, sizeof(*val));
	return 0;
}

int sfs_ctl_get_u64_def(const struct sfs_ctl_in *in, uint16_t tag, uint64_t def, uint64_t *val)
{
	int ret = sfs_ctl_get_u64(in, tag, val);

	if (ret == -ENOENT) {
		*val = def;
		ret = 0;
	}
	return ret;
}

int sfs_ctl_get_str(const struct sfs_ctl_in *in, uint16_t tag, char *buf, size_t size)
{
	uint32_t len;
	const char *v = sfs_ctl_get(in, tag, &len);

	if (!v)
		return -ENOENT;
	if ((size_t)len >= size)
		return -ENAMETOOLONG;
	if (memchr(v, '\0', len))
		return -EPROTO;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return 0;
}

int sfs_ctl_send(int sock, const struct sfs_ctl_out *out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SFS_CTL_MAX_FDS)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = out->buf, .iov_len = out->len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (out->overflow)
		return -EMSGSIZE;
	if (out->nr_fds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)out->nr_fds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)out->nr_fds);
		memcpy(CMSG_DATA(c), out->fds, sizeof(int) * (size_t)out->nr_fds);
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == out->len ? 0 : -EIO;
}

void sfs_ctl_close_fds(int *fds, int *nr_fds)
{
	int i;

	for (i = 0; i < *nr_fds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	*nr_fds = 0;
}

ssize_t sfs_ctl_recv(int sock, void *buf, int *fds, int *nr_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = SCOUTFS_CTL_MAX_MSG };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	struct cmsghdr *c;
	size_t i, n;
	int fd;
	ssize_t ret;

	*nr_fds = 0;
	for (i = 0; i < SFS_CTL_MAX_FDS; i++)
		fds[i] = -1;
	do {
		ret = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;

	/* take the fds that fit, close any others */
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nr_fds < SFS_CTL_MAX_FDS)
				fds[(*nr_fds)++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		sfs_ctl_close_fds(fds, nr_fds);
		return -EMSGSIZE;
	}
	return ret;
}
