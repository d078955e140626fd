/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_CTL_MSG_H
#define SFS_CTL_MSG_H
/*
 * Building, parsing, sending and receiving control messages
 * (include/scoutfs/ctl.h, docs/ctl-protocol.md).  Shared by libscoutfs
 * and the daemon's control socket (src/ctl.c); nothing else uses it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scoutfs/ctl.h"

/* at most this many fds travel with one message */
#define SFS_CTL_MAX_FDS 2
/* tags are below this once the REQUIRED bit is masked off */
#define SFS_CTL_NR_TAGS 256
/* tags below this carry a u64 (ctl.h numbers strings from 128) */
#define SFS_CTL_FIRST_STR_TAG 128

/* a message being built: fields are appended after the header */
struct sfs_ctl_out {
	uint8_t *buf;		/* SCOUTFS_CTL_MAX_MSG bytes, 8-byte aligned */
	size_t len;
	bool overflow;		/* a put did not fit: the message is invalid */
	int fds[SFS_CTL_MAX_FDS];
	int nr_fds;
};

/* a received message: its fields by tag */
struct sfs_ctl_in {
	const struct scoutfs_ctl_hdr *hdr;
	struct {
		const void *val;
		uint32_t len;
		bool present;
	} f[SFS_CTL_NR_TAGS];
	int fds[SFS_CTL_MAX_FDS];	/* -1 where none came */
	int nr_fds;
};

int sfs_ctl_out_init(struct sfs_ctl_out *out, uint16_t type, uint16_t flags, uint64_t id);
void sfs_ctl_out_free(struct sfs_ctl_out *out);
/* start a reply to in with status (a positive errno or 0) */
void sfs_ctl_out_reset(struct sfs_ctl_out *out, uint16_t type, uint16_t flags, uint64_t id,
		       uint32_t status);
void sfs_ctl_put(struct sfs_ctl_out *out, uint16_t tag, const void *val, size_t len);
void sfs_ctl_put_u64(struct sfs_ctl_out *out, uint16_t tag, uint64_t val);
void sfs_ctl_put_str(struct sfs_ctl_out *out, uint16_t tag, const char *str);
/* reserve a field of len bytes and return its value to fill in (NULL: no room) */
void *sfs_ctl_put_space(struct sfs_ctl_out *out, uint16_t tag, size_t len);
/* bytes a field of len bytes takes, header and padding included */
size_t sfs_ctl_field_bytes(size_t len);
/* room left for one more field's value */
size_t sfs_ctl_out_room(const struct sfs_ctl_out *out);
/* pass fd with the message (not owned: the caller closes it) */
int sfs_ctl_put_fd(struct sfs_ctl_out *out, int fd, uint64_t *index);

/*
 * Check a received message: header (magic, length, type), fields
 * (alignment, bounds, duplicates, unknown REQUIRED tags).  0 or
 * -EPROTO/-EMSGSIZE with why filled in.
 */
int sfs_ctl_parse(const void *buf, size_t len, struct sfs_ctl_in *in, char *why, size_t why_len);

bool sfs_ctl_has(const struct sfs_ctl_in *in, uint16_t tag);
/* 0, -ENOENT when absent, -EPROTO when the value is not 8 bytes */
int sfs_ctl_get_u64(const struct sfs_ctl_in *in, uint16_t tag, uint64_t *val);
/* a u64 that is optional: def when absent */
int sfs_ctl_get_u64_def(const struct sfs_ctl_in *in, uint16_t tag, uint64_t def, uint64_t *val);
/* the value and its length, NULL when absent */
const void *sfs_ctl_get(const struct sfs_ctl_in *in, uint16_t tag, uint32_t *len);
/* a string copied into buf with a NUL: 0, -ENOENT, -ENAMETOOLONG */
int sfs_ctl_get_str(const struct sfs_ctl_in *in, uint16_t tag, char *buf, size_t size);

/*
 * One message over a SOCK_SEQPACKET socket with its fds.  send: 0 or
 * -errno.  recv: bytes received (0 when the peer closed), -EMSGSIZE when
 * the message was longer than SCOUTFS_CTL_MAX_MSG (it is dropped), or
 * -errno; received fds land in fds[] (others closed), *nr_fds counts them.
 */
int sfs_ctl_send(int sock, const struct sfs_ctl_out *out);
ssize_t sfs_ctl_recv(int sock, void *buf, int *fds, int *nr_fds);
void sfs_ctl_close_fds(int *fds, int *nr_fds);

#endif
