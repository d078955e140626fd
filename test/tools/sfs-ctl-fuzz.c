// SPDX-License-Identifier: GPL-2.0-only
/*
 * sfs-ctl-fuzz: robustness of a scoutfsd control socket against bad peers.
 *
 *   sfs-ctl-fuzz SOCKET [--seed N] [--random-secs S] [--conns N] [--max-conns N]
 *                [--only CASE[,CASE...]] [--timeout-ms MS] [--verbose]
 *   sfs-ctl-fuzz SOCKET --counters
 *   sfs-ctl-fuzz SOCKET --hold SECS
 *   sfs-ctl-fuzz --list
 *
 * SOCKET is a mount's RUN_DIR/<fsid>.<rid>/ctl.sock.  Every message is
 * built by hand from include/scoutfs/ctl.h (nothing but libc is linked),
 * so it can be as wrong as a case wants.  Each case sends its bad
 * messages, checks that each gets exactly one reply with the errno the
 * daemon defines for it (EPROTO malformed or before HELLO, EMSGSIZE too
 * long, EOPNOTSUPP unknown type, EPERM root-only for uid != 0, EBADF,
 * EXDEV or EINVAL for bad fds, EPROTONOSUPPORT impossible versions, EBUSY
 * past the connection limit), that the connection it used still serves a
 * good request where the protocol says it stays up, and then that a new
 * connection still gets HELLO and STATFS_MORE answered.  One line per
 * case, PASS or FAIL with what it got; exit 1 when any case failed.
 *
 * The random case sends --random-secs (default 5) of random and mutated
 * messages; its seed is printed and --seed replays it.  Mutated messages
 * only ever carry request types that read (or no type the daemon serves),
 * so a mutation cannot become a request that changes the filesystem.
 *
 * The unpriv case forks a child that drops to uid/gid 65534 (when run as
 * root) and connects from the run directory as its cwd, so the directories
 * above it need not be searchable by that uid.
 *
 * --counters connects, says HELLO and prints the COUNTERS reply as
 * "name value" lines (the integration test reads them before and after).
 *
 * --hold SECS keeps connections open across an unmount: one silent, one
 * that said HELLO and has requests queued whose replies it never reads.
 * It prints "holding" and waits for the daemon to close both; exit 0 when
 * it did within SECS, 1 when not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "scoutfs/ctl.h"

#define HDR_LEN ((size_t)sizeof(struct scoutfs_ctl_hdr))
#define FLD_LEN ((size_t)sizeof(struct scoutfs_ctl_field))
#define ALIGN8(x) (((x) + 7) & ~(size_t)7)
/* room for messages a little longer than the daemon takes */
#define BUF_BYTES (SCOUTFS_CTL_MAX_MSG + 4096)
#define NOBODY 65534

/* ------------------------------------------------------------------ */
/* Options and global state                                            */
/* ------------------------------------------------------------------ */

static const char *sock_path;
static char run_dir[PATH_MAX];
static char mount_point[PATH_MAX];
static uint64_t fsid;
static uint64_t next_id = 1;
static int timeout_ms = 5000;
static unsigned int random_secs = 5;
static unsigned int nr_conns = 300;
static unsigned int max_conns = 256;	/* SFS_CTL_MAX_CONNS of src/ctl.c */
static uint64_t seed;
static bool seed_set;
static bool verbose;

/* the case running: its first failure and what it saw */
static char fail_why[1024];
static char note[1024];
static unsigned int nr_failed;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;

	if (fail_why[0])
		return;	/* the first failure is the one that matters */
	va_start(ap, fmt);
	vsnprintf(fail_why, sizeof(fail_why), fmt, ap);
	va_end(ap);
}

static void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notef(const char *fmt, ...)
{
	size_t len = strlen(note);
	va_list ap;

	if (len + 3 >= sizeof(note))
		return;
	if (len)
		strcat(note, "; ");
	len = strlen(note);
	va_start(ap, fmt);
	vsnprintf(note + len, sizeof(note) - len, fmt, ap);
	va_end(ap);
}

static const char *ename(int e)
{
	const char *n;

	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	return n ? n : "E?";
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Messages by hand                                                     */
/* ------------------------------------------------------------------ */

struct msg {
	uint64_t w[BUF_BYTES / 8];
	size_t len;
};

static uint8_t *mbytes(struct msg *m)
{
	uint8_t *p = (uint8_t *)m->w;

	/*
	 * Hide where p points: at -O3 gcc takes writes at p + len for writes
	 * into the header's 4-byte len field (a false -Wstringop-overflow).
	 */
	__asm__("" : "+r"(p));
	return p;
}

static struct scoutfs_ctl_hdr *mhdr(struct msg *m)
{
	return (struct scoutfs_ctl_hdr *)m->w;
}

static struct msg *m_new(void)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (!m) {
		perror("calloc");
		exit(2);
	}
	return m;
}

/* start a request: a header, no fields; returns its id */
static uint64_t m_init(struct msg *m, uint16_t type, uint16_t flags)
{
	struct scoutfs_ctl_hdr *h = mhdr(m);

	memset(h, 0, HDR_LEN);
	h->magic = SCOUTFS_CTL_MAGIC;
	h->type = type;
	h->flags = flags;
	h->id = next_id++;
	m->len = HDR_LEN;
	h->len = (uint32_t)m->len;
	return h->id;
}

/* a field that claims len value bytes and has have of them (padded to 8) */
static void m_field_raw(struct msg *m, uint16_t tag, uint32_t len, const void *val, size_t have)
{
	struct scoutfs_ctl_field f = { .tag = tag, .len = len };

	if (m->len + FLD_LEN + ALIGN8(have) > BUF_BYTES) {
		fprintf(stderr, "sfs-ctl-fuzz: a message outgrew its buffer\n");
		exit(2);
	}
	memcpy(mbytes(m) + m->len, &f, FLD_LEN);
	m->len += FLD_LEN;
	memset(mbytes(m) + m->len, 0, ALIGN8(have));
	if (have && val)
		memcpy(mbytes(m) + m->len, val, have);
	m->len += ALIGN8(have);
	mhdr(m)->len = (uint32_t)m->len;
}

static void m_field(struct msg *m, uint16_t tag, const void *val, size_t len)
{
	m_field_raw(m, tag, (uint32_t)len, val, len);
}

static void m_u64(struct msg *m, uint16_t tag, uint64_t v)
{
	m_field(m, tag, &v, sizeof(v));
}

static uint64_t m_hello(struct msg *m, uint64_t vmin, uint64_t vmax)
{
	uint64_t id = m_init(m, SCOUTFS_CTL_HELLO, 0);

	m_u64(m, SCOUTFS_CTL_T_VERSION, vmax);
	m_u64(m, SCOUTFS_CTL_T_VERSION_MIN, vmin);
	return id;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                              */
/* ------------------------------------------------------------------ */

/* a new connection to path: fd or -errno */
static int conn_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int conn(void)
{
	return conn_to(sock_path);
}

/* send len bytes of buf and nfds fds as one message: 0 or -errno */
static int send_raw(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 253)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (nfds > 253)
		nfds = 253;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int send_msg(int sock, struct msg *m, const int *fds, int nfds)
{
	return send_raw(sock, m->w, m->len, fds, nfds);
}

/* a reply as received */
struct reply {
	uint64_t w[BUF_BYTES / 8];
	size_t len;
	bool trunc;
	int nr_fds;
};

static const struct scoutfs_ctl_hdr *rhdr(const struct reply *r)
{
	return (const struct scoutfs_ctl_hdr *)r->w;
}

/*
 * Wait up to ms for one message: 1 (r filled), 0 (the daemon closed),
 * -ETIMEDOUT, or -errno (-ECONNRESET: it closed with messages of ours
 * unread, which a client sees before any reply still queued for it).
 * Fds that came with it are closed and counted.
 */
static int recv_reply(int sock, int ms, struct reply *r)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = r->w, .iov_len = sizeof(r->w) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			      .msg_controllen = sizeof(cm.b) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;
	size_t i;
	int fd, p;

	do {
		p = poll(&pfd, 1, ms);
	} while (p < 0 && errno == EINTR);
	if (p < 0)
		return -errno;
	if (p == 0)
		return -ETIMEDOUT;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;	/* ECONNRESET: the daemon closed with our messages unread */
	r->nr_fds = 0;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
			r->nr_fds++;
		}
	}
	r->len = (size_t)n;
	r->trunc = (msg.msg_flags & MSG_TRUNC) != 0;
	if (n == 0) {
		/* a 0-byte message or the end: the end shows as a hangup */
		pfd.events = POLLIN | POLLRDHUP;
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP)))
			return 0;
	}
	return 1;
}

/* the value of a reply field: NULL when absent or the reply's fields are bad */
static const void *r_get(const struct reply *r, uint16_t tag, uint32_t *len)
{
	const uint8_t *b = (const uint8_t *)r->w;
	const struct scoutfs_ctl_field *f;
	size_t off;

	for (off = HDR_LEN; off + FLD_LEN <= r->len; off += FLD_LEN + ALIGN8(f->len)) {
		f = (const struct scoutfs_ctl_field *)(b + off);
		if (f->len > r->len - off - FLD_LEN)
			return NULL;
		if ((f->tag & (uint16_t)~SCOUTFS_CTL_TAG_REQUIRED) == tag) {
			*len = f->len;
			return f + 1;
		}
	}
	return NULL;
}

static bool r_u64(const struct reply *r, uint16_t tag, uint64_t *v)
{
	uint32_t len;
	const void *p = r_get(r, tag, &len);

	if (!p || len != 8)
		return false;
	memcpy(v, p, 8);
	return true;
}

/*
 * Is r a well formed reply to a request of type and id (both 0 when the
 * daemon cannot know them) with status want?  NULL or what is wrong.
 */
static const char *reply_wrong(const struct reply *r, uint16_t type, uint64_t id, int want)
{
	static char why[256];
	const struct scoutfs_ctl_hdr *h = rhdr(r);
	const uint8_t *b = (const uint8_t *)r->w;
	const struct scoutfs_ctl_field *f;
	size_t off;

	if (r->trunc)
		return "a reply longer than SCOUTFS_CTL_MAX_MSG";
	if (r->len < HDR_LEN) {
		snprintf(why, sizeof(why), "a reply of %zu bytes", r->len);
		return why;
	}
	if (h->magic != SCOUTFS_CTL_MAGIC || h->len != r->len || !(h->flags & SCOUTFS_CTL_F_REPLY)) {
		snprintf(why, sizeof(why), "a bad reply header (magic 0x%x, len %u of %zu, flags 0x%x)",
			 h->magic, h->len, r->len, h->flags);
		return why;
	}
	if (r->nr_fds) {
		snprintf(why, sizeof(why), "a reply with %d fds", r->nr_fds);
		return why;
	}
	for (off = HDR_LEN; off < r->len; off += FLD_LEN + ALIGN8(f->len)) {
		f = (const struct scoutfs_ctl_field *)(b + off);
		if (r->len - off < FLD_LEN || f->len > r->len - off - FLD_LEN ||
		    FLD_LEN + ALIGN8(f->len) > r->len - off)
			return "a reply whose fields do not parse";
	}
	if (h->type != type || h->id != id) {
		snprintf(why, sizeof(why), "a reply to type %u id %" PRIu64 ", want type %u id %" PRIu64,
			 h->type, h->id, type, id);
		return why;
	}
	if ((int)h->status != want) {
		snprintf(why, sizeof(why), "status %s, want %s", ename((int)h->status), ename(want));
		return why;
	}
	if (h->status && r->len != HDR_LEN) {
		snprintf(why, sizeof(why), "an error reply of %zu bytes (fields with an error)",
			 r->len);
		return why;
	}
	return NULL;
}

static struct reply *rbuf;

/*
 * Send what, expect one reply of status want echoing type/id; record a
 * failure (prefixed by label) when it is anything else.  True when right.
 */
static bool expect_raw(int sock, const char *label, const void *buf, size_t len, const int *fds,
		       int nfds, uint16_t type, uint64_t id, int want)
{
	const char *wrong;
	int ret;

	if (fail_why[0])
		return false;	/* the case failed already: no more waiting */
	ret = send_raw(sock, buf, len, fds, nfds);
	if (ret) {
		failf("%s: send: %s", label, strerror(-ret));
		return false;
	}
	ret = recv_reply(sock, timeout_ms, rbuf);
	if (ret == 0) {
		failf("%s: the daemon closed the connection without a reply", label);
		return false;
	}
	if (ret < 0) {
		failf("%s: no reply: %s", label, strerror(-ret));
		return false;
	}
	wrong = reply_wrong(rbuf, type, id, want);
	if (wrong) {
		failf("%s: %s", label, wrong);
		return false;
	}
	if (verbose)
		fprintf(stderr, "  %s: %s\n", label, ename(want));
	return true;
}

static bool expect(int sock, const char *label, struct msg *m, const int *fds, int nfds, int want)
{
	return expect_raw(sock, label, m->w, m->len, fds, nfds, mhdr(m)->type, mhdr(m)->id, want);
}

/* HELLO on sock: true when agreed on version 1 */
static bool hello(int sock, const char *label)
{
	struct msg *m = m_new();
	uint64_t v;
	bool ok;

	m_hello(m, SCOUTFS_CTL_VERSION_MIN, SCOUTFS_CTL_VERSION_MAX);
	ok = expect(sock, label, m, NULL, 0, 0);
	if (ok && (!r_u64(rbuf, SCOUTFS_CTL_T_VERSION, &v) || v != SCOUTFS_CTL_VERSION_MAX)) {
		failf("%s: HELLO agreed on no version or another", label);
		ok = false;
	}
	free(m);
	return ok;
}

/* a new connection that said HELLO, or -1 with a failure recorded */
static int conn_hello(const char *label)
{
	int sock = conn();

	if (sock < 0) {
		failf("%s: connect: %s", label, strerror(-sock));
		return -1;
	}
	if (!hello(sock, label)) {
		close(sock);
		return -1;
	}
	return sock;
}

/* STATFS_MORE on sock must succeed with our fsid */
static bool statfs_ok(int sock, const char *label)
{
	struct scoutfs_ctl_statfs_more sfm;
	struct msg *m = m_new();
	const void *v;
	uint32_t len;
	bool ok;

	m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
	ok = expect(sock, label, m, NULL, 0, 0);
	free(m);
	if (!ok)
		return false;
	v = r_get(rbuf, SCOUTFS_CTL_T_STATFS_MORE, &len);
	if (!v || len < sizeof(sfm)) {
		failf("%s: STATFS_MORE reply without its struct", label);
		return false;
	}
	memcpy(&sfm, v, sizeof(sfm));
	if (sfm.fsid != fsid) {
		failf("%s: STATFS_MORE fsid %016" PRIx64 ", HELLO said %016" PRIx64, label,
		      sfm.fsid, fsid);
		return false;
	}
	return true;
}

/*
 * The daemon still serves: HELLO and STATFS_MORE on a new connection.  A
 * connection refused with EBUSY is tried again for a while (connections
 * just closed are reaped when the next one is accepted).
 */
static bool alive(const char *label)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct msg *m = m_new();
	bool ok = false;
	int sock, ret;

	for (;;) {
		sock = conn();
		if (sock < 0) {
			failf("%s: connect: %s", label, strerror(-sock));
			break;
		}
		m_hello(m, SCOUTFS_CTL_VERSION_MIN, SCOUTFS_CTL_VERSION_MAX);
		ret = send_msg(sock, m, NULL, 0);
		if (ret == 0 || ret == -EPIPE)
			ret = recv_reply(sock, timeout_ms, rbuf);
		if (ret == 1 && rbuf->len == HDR_LEN && rhdr(rbuf)->status == EBUSY &&
		    rhdr(rbuf)->id == 0 && now_ms() < end) {
			close(sock);
			usleep(20000);
			continue;
		}
		if (ret == 1) {
			const char *wrong = reply_wrong(rbuf, SCOUTFS_CTL_HELLO, mhdr(m)->id, 0);

			if (wrong)
				failf("%s: HELLO: %s", label, wrong);
			else
				ok = statfs_ok(sock, label);
		} else {
			failf("%s: HELLO: %s", label, ret == 0 ? "connection closed" : strerror(-ret));
		}
		close(sock);
		break;
	}
	free(m);
	return ok;
}

/* ------------------------------------------------------------------ */
/* The daemon's fds                                                     */
/* ------------------------------------------------------------------ */

static pid_t daemon_pid(void)
{
	char path[PATH_MAX + 8];
	FILE *f;
	int pid = -1;

	snprintf(path, sizeof(path), "%s/pid", run_dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/*
 * The daemon's fds of the kinds a peer could leave behind: sockets, pipes,
 * /dev/null and files of the mount (FUSE's own /dev/fuse clones and the
 * like come and go with its threads and are not counted).  -1: unknown.
 */
static int daemon_fds(void)
{
	char dir[64], path[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	pid_t pid = daemon_pid();
	size_t mlen = strlen(mount_point);
	ssize_t n;
	DIR *d;
	int count = 0;

	if (pid <= 0)
		return -1;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strncmp(target, "socket:", 7) || !strncmp(target, "pipe:", 5) ||
		    !strcmp(target, "/dev/null") ||
		    (mlen && !strncmp(target, mount_point, mlen) &&
		     (target[mlen] == '\0' || target[mlen] == '/')))
			count++;
	}
	closedir(d);
	return count;
}

/* ------------------------------------------------------------------ */
/* Cases                                                                */
/* ------------------------------------------------------------------ */

/* a case ends with its connection checked by the caller: 0 or a note */
typedef void (*case_fn)(void);

static int root_fd = -1;	/* the mount's root directory */
static uint64_t root_ino;

static void c_empty(void)
{
	int s = conn_hello("hello");

	if (s < 0)
		return;
	if (expect_raw(s, "0-byte message", "", 0, NULL, 0, 0, 0, EPROTO))
		notef("0 bytes: EPROTO");
	/* with an fd riding on it */
	if (expect_raw(s, "0-byte message with an fd", "", 0, &root_fd, 1, 0, 0, EPROTO))
		notef("0 bytes + fd: EPROTO");
	if (statfs_ok(s, "same connection after"))
		notef("connection stays up");
	close(s);
}

static void c_short_header(void)
{
	struct msg *m = m_new();
	int s = conn_hello("hello");
	size_t l;
	char label[64];

	if (s >= 0) {
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		for (l = 1; l < HDR_LEN; l += 5) {
			snprintf(label, sizeof(label), "%zu-byte message", l);
			expect_raw(s, label, m->w, l, NULL, 0, 0, 0, EPROTO);
		}
		expect_raw(s, "23-byte message", m->w, HDR_LEN - 1, NULL, 0, 0, 0, EPROTO);
		notef("1..23 bytes: EPROTO, type and id 0");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_bad_magic(void)
{
	static const uint32_t magics[] = { 0, 0x4c544354, 0x5343544c, 0xffffffff };
	struct msg *m = m_new();
	int s = conn_hello("hello");
	size_t i;

	if (s >= 0) {
		for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
			mhdr(m)->magic = magics[i];
			expect(s, "bad magic", m, NULL, 0, EPROTO);
		}
		notef("EPROTO echoing type and id");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_len_lies(void)
{
	static const int64_t deltas[] = { 8, 1, -8, -1 };
	struct msg *m = m_new();
	int s = conn_hello("hello");
	char label[64];
	size_t i;

	if (s >= 0) {
		for (i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
			m_u64(m, SCOUTFS_CTL_T_INO, 1);
			mhdr(m)->len = (uint32_t)((int64_t)m->len + deltas[i]);
			snprintf(label, sizeof(label), "header len %+" PRId64, deltas[i]);
			expect(s, label, m, NULL, 0, EPROTO);
		}
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		mhdr(m)->len = 0;
		expect(s, "header len 0", m, NULL, 0, EPROTO);
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		mhdr(m)->len = UINT32_MAX;
		expect(s, "header len 4G-1", m, NULL, 0, EPROTO);
		notef("longer, shorter, 0, 4G-1: EPROTO");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_trunc_field(void)
{
	struct msg *m = m_new();
	int s = conn_hello("hello");
	size_t extra;
	char label[64];

	if (s >= 0) {
		for (extra = 1; extra < FLD_LEN; extra += 3) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
			m_u64(m, SCOUTFS_CTL_T_INO, 1);
			m->len += extra;
			mhdr(m)->len = (uint32_t)m->len;
			snprintf(label, sizeof(label), "%zu bytes of a field header", extra);
			expect(s, label, m, NULL, 0, EPROTO);
		}
		notef("EPROTO");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_field_overrun(void)
{
	static const uint32_t lens[] = { 9, 16, 4096, UINT32_MAX - 7, UINT32_MAX };
	uint8_t v[8] = { 0 };
	struct msg *m = m_new();
	int s = conn_hello("hello");
	char label[64];
	size_t i;

	if (s >= 0) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
			m_field_raw(m, SCOUTFS_CTL_T_NAME, lens[i], v, 8);
			snprintf(label, sizeof(label), "field of %u bytes with 8", lens[i]);
			expect(s, label, m, NULL, 0, EPROTO);
		}
		/* the value is there but not its padding */
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		m_field(m, SCOUTFS_CTL_T_NAME, "abc", 3);
		m->len -= 5;
		mhdr(m)->len = (uint32_t)m->len;
		expect(s, "field without its padding", m, NULL, 0, EPROTO);
		notef("EPROTO");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_dup_field(void)
{
	struct msg *m = m_new();
	int s = conn_hello("hello");

	if (s >= 0) {
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_INO, 1);
		m_u64(m, SCOUTFS_CTL_T_INO, 1);
		expect(s, "T_INO twice", m, NULL, 0, EPROTO);
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 0);
		m_u64(m, SCOUTFS_CTL_T_FD | SCOUTFS_CTL_TAG_REQUIRED, 0);
		expect(s, "T_FD and T_FD|REQUIRED", m, &root_fd, 1, EPROTO);
		notef("EPROTO");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_required_tag(void)
{
	/*
	 * Tags no enum value names (the far ends of the u64, string and struct
	 * ranges, unassigned so far), and tags past the daemon's table.
	 */
	static const uint16_t tags[] = { 0, 120, 127, 190, 250, 255, 256, 0x7f00, 0x7fff };
	struct msg *m = m_new();
	int s = conn_hello("hello");
	char label[64];
	size_t i;

	if (s >= 0) {
		for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
			m_u64(m, tags[i] | SCOUTFS_CTL_TAG_REQUIRED, 1);
			snprintf(label, sizeof(label), "unknown tag %u|REQUIRED", tags[i]);
			expect(s, label, m, NULL, 0, EPROTO);
		}
		notef("unknown REQUIRED tags: EPROTO");
		/* the same tags without the bit are ignored (twice: no duplicate) */
		for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
			m_u64(m, tags[i], 1);
			m_field(m, tags[i], "xyz", 3);
			snprintf(label, sizeof(label), "unknown tag %u, optional", tags[i]);
			if (expect(s, label, m, NULL, 0, 0) &&
			    !r_get(rbuf, SCOUTFS_CTL_T_STATFS_MORE, &(uint32_t){ 0 }))
				failf("%s: the reply has no STATFS_MORE", label);
		}
		notef("without REQUIRED: ignored, request served");
		close(s);
	}
	free(m);
}

static void c_oversized(void)
{
	struct msg *m = m_new();
	int s = conn_hello("hello");
	int fds[2] = { root_fd, -1 };

	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s >= 0 && fds[1] >= 0) {
		/* exactly the limit is served */
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		m_field_raw(m, 0x7f00, (uint32_t)(SCOUTFS_CTL_MAX_MSG - HDR_LEN - FLD_LEN), NULL,
			    SCOUTFS_CTL_MAX_MSG - HDR_LEN - FLD_LEN);
		if (m->len != SCOUTFS_CTL_MAX_MSG)
			failf("built %zu bytes, not the limit", m->len);
		if (expect(s, "SCOUTFS_CTL_MAX_MSG bytes", m, NULL, 0, 0))
			notef("%u bytes: served", SCOUTFS_CTL_MAX_MSG);
		/* 8 and 4096 bytes more are not, with or without fds */
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		m_field_raw(m, 0x7f00, (uint32_t)(SCOUTFS_CTL_MAX_MSG - HDR_LEN), NULL,
			    SCOUTFS_CTL_MAX_MSG - HDR_LEN);
		if (expect_raw(s, "MAX_MSG + 8 bytes", m->w, m->len, NULL, 0, 0, 0, EMSGSIZE))
			notef("+8: EMSGSIZE, type and id 0");
		expect_raw(s, "MAX_MSG + 8 bytes with 2 fds", m->w, m->len, fds, 2, 0, 0, EMSGSIZE);
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		m_field_raw(m, 0x7f00, (uint32_t)(BUF_BYTES - HDR_LEN - FLD_LEN), NULL,
			    BUF_BYTES - HDR_LEN - FLD_LEN);
		if (expect_raw(s, "MAX_MSG + 4096 bytes", m->w, m->len, NULL, 0, 0, 0, EMSGSIZE))
			notef("+4096: EMSGSIZE");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
	}
	if (fds[1] >= 0)
		close(fds[1]);
	if (s >= 0)
		close(s);
	free(m);
}

static void c_unknown_type(void)
{
	static const uint16_t unknown[] = { 0, 27, 63, 127, 999, 0x7fff, 0xffff };
	/* in ctl.h: some served, some not yet (EOPNOTSUPP) */
	static const uint16_t defined[] = {
		SCOUTFS_CTL_RELEASE, SCOUTFS_CTL_STAGE, SCOUTFS_CTL_DATA_WAITING,
		SCOUTFS_CTL_SETATTR_MORE, SCOUTFS_CTL_LISTXATTR_HIDDEN, SCOUTFS_CTL_SEARCH_XATTRS,
		SCOUTFS_CTL_DATA_WAIT_ERR, SCOUTFS_CTL_ALLOC_DETAIL, SCOUTFS_CTL_MOVE_BLOCKS,
		SCOUTFS_CTL_RESIZE_DEVICES, SCOUTFS_CTL_READ_XATTR_TOTALS, SCOUTFS_CTL_SET_ATTR_X,
		SCOUTFS_CTL_GET_QUOTA_RULES, SCOUTFS_CTL_ADD_QUOTA_RULE,
		SCOUTFS_CTL_DEL_QUOTA_RULE, SCOUTFS_CTL_READ_XATTR_INDEX,
		SCOUTFS_CTL_PUNCH_OFFLINE, SCOUTFS_CTL_INJECT_TOTL_DELTA, SCOUTFS_CTL_TRIGGER,
		SCOUTFS_CTL_GET_VOLOPT, SCOUTFS_CTL_SET_VOLOPT, SCOUTFS_CTL_CLEAR_VOLOPT,
		SCOUTFS_CTL_QUORUM_STATUS, SCOUTFS_CTL_FENCE_REQUESTS, SCOUTFS_CTL_FENCE_ANSWER,
	};
	struct msg *m = m_new();
	int s = conn_hello("hello");
	char label[64], served[256] = "";
	unsigned int nr_unsupp = 0;
	size_t i;

	if (s >= 0) {
		for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
			m_init(m, unknown[i], 0);
			snprintf(label, sizeof(label), "type %u", unknown[i]);
			expect(s, label, m, NULL, 0, EOPNOTSUPP);
		}
		notef("unknown types: EOPNOTSUPP");
		/*
		 * The other types ctl.h defines, with no fields (nothing named
		 * to act on): EOPNOTSUPP until served, then whatever their
		 * handler says; either way one well formed reply.
		 */
		for (i = 0; i < sizeof(defined) / sizeof(defined[0]); i++) {
			m_init(m, defined[i], 0);
			snprintf(label, sizeof(label), "type %u, no fields", defined[i]);
			if (send_msg(s, m, NULL, 0) || recv_reply(s, timeout_ms, rbuf) != 1) {
				failf("%s: no reply", label);
				break;
			}
			if (reply_wrong(rbuf, defined[i], mhdr(m)->id, (int)rhdr(rbuf)->status)) {
				failf("%s: %s", label, reply_wrong(rbuf, defined[i], mhdr(m)->id,
								   (int)rhdr(rbuf)->status));
				break;
			}
			if (rhdr(rbuf)->status == EOPNOTSUPP) {
				nr_unsupp++;
				continue;
			}
			snprintf(served + strlen(served), sizeof(served) - strlen(served), " %u(%s)",
				 defined[i], ename((int)rhdr(rbuf)->status));
		}
		notef("%u of %zu other ctl.h types unserved: EOPNOTSUPP%s%s", nr_unsupp,
		      sizeof(defined) / sizeof(defined[0]), served[0] ? "; served, no fields:" : "",
		      served);
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_before_hello(void)
{
	struct msg *m = m_new();
	int s = conn();

	if (s < 0) {
		failf("connect: %s", strerror(-s));
	} else {
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		expect(s, "STATFS_MORE before HELLO", m, NULL, 0, EPROTO);
		m_init(m, SCOUTFS_CTL_COUNTERS, 0);
		expect(s, "COUNTERS before HELLO", m, NULL, 0, EPROTO);
		m_init(m, 999, 0);
		expect(s, "type 999 before HELLO", m, NULL, 0, EPROTO);
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 0);
		expect(s, "STAT_MORE with an fd before HELLO", m, &root_fd, 1, EPROTO);
		notef("requests before HELLO: EPROTO");
		if (hello(s, "HELLO after them") && statfs_ok(s, "STATFS_MORE after HELLO"))
			notef("then HELLO and requests served");
		close(s);
	}
	free(m);
}

static void c_reply_flag(void)
{
	struct msg *m = m_new();
	int s = conn();

	if (s < 0) {
		failf("connect: %s", strerror(-s));
	} else {
		m_hello(m, 1, 1);
		mhdr(m)->flags = SCOUTFS_CTL_F_REPLY;
		expect(s, "HELLO flagged as a reply", m, NULL, 0, EPROTO);
		if (hello(s, "HELLO")) {
			m_init(m, SCOUTFS_CTL_STATFS_MORE, SCOUTFS_CTL_F_REPLY);
			expect(s, "STATFS_MORE flagged as a reply", m, NULL, 0, EPROTO);
			m_init(m, SCOUTFS_CTL_STATFS_MORE, SCOUTFS_CTL_F_REPLY | 0x8000);
			mhdr(m)->status = EIO;
			expect(s, "a reply with a status", m, NULL, 0, EPROTO);
			notef("EPROTO");
			/* unknown flags without the reply bit are not refused */
			m_init(m, SCOUTFS_CTL_STATFS_MORE, 0x8000);
			if (expect(s, "STATFS_MORE with unknown flag 0x8000", m, NULL, 0, 0))
				notef("other flags ignored");
			if (statfs_ok(s, "same connection after"))
				notef("connection stays up");
		}
		close(s);
	}
	free(m);
}

static void c_hello_versions(void)
{
	static const struct {
		uint64_t vmin, vmax;
		const char *what;
	} bad[] = {
		{ 0, 0, "0..0" },
		{ 2, 2, "2..2" },
		{ 2, 1, "min 2 > max 1" },
		{ 2, UINT64_MAX, "2..2^64-1" },
		{ UINT64_MAX, UINT64_MAX, "2^64-1" },
	};
	struct msg *m = m_new();
	int s = conn();
	uint64_t v;
	size_t i;

	if (s < 0) {
		failf("connect: %s", strerror(-s));
		free(m);
		return;
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m_hello(m, bad[i].vmin, bad[i].vmax);
		expect(s, bad[i].what, m, NULL, 0, EPROTONOSUPPORT);
	}
	m_init(m, SCOUTFS_CTL_HELLO, 0);
	m_u64(m, SCOUTFS_CTL_T_VERSION, 0);
	expect(s, "VERSION 0 alone", m, NULL, 0, EPROTONOSUPPORT);
	notef("impossible versions: EPROTONOSUPPORT");
	m_init(m, SCOUTFS_CTL_HELLO, 0);
	m_u64(m, SCOUTFS_CTL_T_VERSION_MIN, 1);
	if (expect(s, "HELLO without VERSION", m, NULL, 0, EINVAL))
		notef("no VERSION: EINVAL");
	m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
	if (expect(s, "STATFS_MORE after failed HELLOs", m, NULL, 0, EPROTO))
		notef("no version agreed: EPROTO");
	/* a newer client's range that includes 1 agrees on 1 */
	m_hello(m, 1, 7);
	if (expect(s, "HELLO 1..7", m, NULL, 0, 0)) {
		if (!r_u64(rbuf, SCOUTFS_CTL_T_VERSION, &v) || v != 1)
			failf("HELLO 1..7 did not agree on 1");
		else
			notef("1..7 agrees on 1");
	}
	if (statfs_ok(s, "same connection after"))
		notef("connection serves");
	close(s);
	free(m);
}

static void c_fd_index(void)
{
	static const uint64_t idx[] = { 0, 1, 2, 7, UINT64_MAX };
	struct msg *m = m_new();
	int s = conn_hello("hello");
	char label[64];
	uint64_t ino = 0;
	size_t i;
	int n;

	if (s >= 0) {
		for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
			for (n = 0; n <= 1; n++) {
				if (idx[i] < (uint64_t)n)
					continue;
				m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
				m_u64(m, SCOUTFS_CTL_T_FD, idx[i]);
				snprintf(label, sizeof(label), "T_FD %" PRIu64 " with %d fds", idx[i], n);
				expect(s, label, m, &root_fd, n, EBADF);
			}
		}
		m_init(m, SCOUTFS_CTL_GET_ATTR_X, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 1);
		expect(s, "GET_ATTR_X T_FD 1 with 1 fd", m, &root_fd, 1, EBADF);
		notef("indexes past the fds: EBADF");
		/* the right index is served, and it is the right file */
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 0);
		if (expect(s, "T_FD 0 with the mount root", m, &root_fd, 1, 0)) {
			if (!r_u64(rbuf, SCOUTFS_CTL_T_INO, &ino) || ino != root_ino)
				failf("STAT_MORE of the root fd: ino %" PRIu64 ", want %" PRIu64, ino,
				      root_ino);
			else
				notef("T_FD 0 of the root: ino %" PRIu64, ino);
		}
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
		close(s);
	}
	free(m);
}

static void c_fd_foreign(void)
{
	struct msg *m = m_new();
	int s = conn_hello("hello");
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int slash = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int p[2] = { -1, -1 }, sp[2] = { -1, -1 };

	if (pipe2(p, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) ||
	    nul < 0 || self < 0 || slash < 0) {
		failf("cannot open the foreign fds: %s", strerror(errno));
	} else if (s >= 0) {
		const struct {
			int fd;
			const char *what;
		} f[] = { { nul, "/dev/null" }, { self, "this program" }, { slash, "/" },
			  { p[0], "a pipe" }, { sp[0], "a socket" }, { s, "the ctl socket itself" } };
		char label[64];
		size_t i;

		for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
			m_u64(m, SCOUTFS_CTL_T_FD, 0);
			snprintf(label, sizeof(label), "STAT_MORE of %s", f[i].what);
			expect(s, label, m, &f[i].fd, 1, EXDEV);
		}
		m_init(m, SCOUTFS_CTL_GET_ATTR_X, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 0);
		expect(s, "GET_ATTR_X of /dev/null", m, &nul, 1, EXDEV);
		notef("fds off the mount: EXDEV");
		/* neither T_FD nor T_INO (as root: EINVAL; else EPERM first) */
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		if (expect(s, "STAT_MORE naming no file", m, &nul, 1, geteuid() ? EPERM : EINVAL))
			notef("no file named: %s", geteuid() ? "EPERM" : "EINVAL");
		if (geteuid() == 0) {
			m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
			m_u64(m, SCOUTFS_CTL_T_INO, 0);
			expect(s, "STAT_MORE of ino 0", m, NULL, 0, EINVAL);
			m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
			m_u64(m, SCOUTFS_CTL_T_INO, UINT64_MAX);
			if (expect(s, "STAT_MORE of ino 2^64-1", m, NULL, 0, EINVAL))
				notef("ino 0 and 2^64-1: EINVAL");
		}
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
	}
	if (s >= 0)
		close(s);
	if (nul >= 0)
		close(nul);
	if (self >= 0)
		close(self);
	if (slash >= 0)
		close(slash);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	if (sp[0] >= 0) {
		close(sp[0]);
		close(sp[1]);
	}
	free(m);
}

static void c_fd_many(void)
{
	struct msg *m = m_new();
	int s = conn_hello("hello");
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fds[253];
	int i;

	if (s >= 0 && nul >= 0) {
		fds[0] = root_fd;
		fds[1] = root_fd;
		for (i = 2; i < 253; i++)
			fds[i] = nul;
		/* a third fd is dropped: its index names nothing */
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 2);
		expect(s, "T_FD 2 of 3 fds", m, fds, 3, EBADF);
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 1);
		if (expect(s, "T_FD 1 of 3 fds", m, fds, 3, 0))
			notef("3 fds: first 2 kept, index 2 EBADF");
		m_init(m, SCOUTFS_CTL_STATFS_MORE, 0);
		expect(s, "STATFS_MORE with 8 fds", m, fds, 8, 0);
		/* more than the daemon's control buffer takes: the message is dropped */
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_FD, 0);
		if (expect_raw(s, "9 fds", m->w, m->len, fds, 9, 0, 0, EMSGSIZE) &&
		    expect_raw(s, "253 fds", m->w, m->len, fds, 253, 0, 0, EMSGSIZE))
			notef("9 and 253 fds: EMSGSIZE");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
	}
	if (nul >= 0)
		close(nul);
	if (s >= 0)
		close(s);
	free(m);
}

static void c_u64_len(void)
{
	static const size_t lens[] = { 0, 1, 4, 7, 9, 16 };
	uint8_t v[16] = { 1 };
	struct msg *m = m_new();
	char label[64];
	size_t i;
	int s = conn();

	if (s < 0) {
		failf("connect: %s", strerror(-s));
		free(m);
		return;
	}
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		m_init(m, SCOUTFS_CTL_HELLO, 0);
		m_field(m, SCOUTFS_CTL_T_VERSION, v, lens[i]);
		snprintf(label, sizeof(label), "HELLO VERSION of %zu bytes", lens[i]);
		expect(s, label, m, NULL, 0, EPROTO);
	}
	m_init(m, SCOUTFS_CTL_HELLO, 0);
	m_u64(m, SCOUTFS_CTL_T_VERSION, 1);
	m_field(m, SCOUTFS_CTL_T_VERSION_MIN, v, 4);
	expect(s, "HELLO VERSION_MIN of 4 bytes", m, NULL, 0, EPROTO);
	if (hello(s, "hello")) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
			m_field(m, SCOUTFS_CTL_T_FD, v, lens[i]);
			snprintf(label, sizeof(label), "STAT_MORE T_FD of %zu bytes", lens[i]);
			expect(s, label, m, &root_fd, 1, EPROTO);
		}
		m_init(m, SCOUTFS_CTL_WALK_INODES, 0);
		m_field(m, SCOUTFS_CTL_T_INDEX, v, 4);
		expect(s, "WALK_INODES T_INDEX of 4 bytes", m, NULL, 0, EPROTO);
		m_init(m, SCOUTFS_CTL_WALK_INODES, 0);
		m_u64(m, SCOUTFS_CTL_T_INDEX, 0);
		m_field(m, SCOUTFS_CTL_T_LAST_INO, v, 16);
		expect(s, "WALK_INODES T_LAST_INO of 16 bytes", m, NULL, 0, EPROTO);
		m_init(m, SCOUTFS_CTL_GET_ATTR_X, 0);
		m_field(m, SCOUTFS_CTL_T_FLAGS, v, 12);
		m_u64(m, SCOUTFS_CTL_T_FD, 0);
		expect(s, "GET_ATTR_X T_FLAGS of 12 bytes", m, &root_fd, 1, EPROTO);
		if (geteuid() == 0) {
			m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
			m_field(m, SCOUTFS_CTL_T_INO, v, 16);
			expect(s, "STAT_MORE T_INO of 16 bytes", m, NULL, 0, EPROTO);
			m_init(m, SCOUTFS_CTL_INO_PATH, 0);
			m_field(m, SCOUTFS_CTL_T_INO, v, 4);
			expect(s, "INO_PATH T_INO of 4 bytes", m, NULL, 0, EPROTO);
			/*
			 * ctl_ops.c's max_records() takes a bad T_MAX_RECORDS
			 * as absent (the default) rather than EPROTO: allowed
			 * here, and said in the line.
			 */
			m_init(m, SCOUTFS_CTL_GET_ALLOCATED_INOS, 0);
			m_u64(m, SCOUTFS_CTL_T_INO, 1);
			m_field(m, SCOUTFS_CTL_T_MAX_RECORDS, v, 1);
			if (send_msg(s, m, NULL, 0) || recv_reply(s, timeout_ms, rbuf) != 1) {
				failf("GET_ALLOCATED_INOS T_MAX_RECORDS of 1 byte: no reply");
			} else if (!reply_wrong(rbuf, mhdr(m)->type, mhdr(m)->id, 0)) {
				notef("NOTE: a T_MAX_RECORDS of 1 byte is taken as absent, not EPROTO");
			} else if (reply_wrong(rbuf, mhdr(m)->type, mhdr(m)->id, EPROTO)) {
				failf("GET_ALLOCATED_INOS T_MAX_RECORDS of 1 byte: %s",
				      reply_wrong(rbuf, mhdr(m)->type, mhdr(m)->id, EPROTO));
			}
			m_init(m, SCOUTFS_CTL_GET_REFERRING_ENTRIES, 0);
			m_u64(m, SCOUTFS_CTL_T_INO, 1);
			m_field(m, SCOUTFS_CTL_T_DIR_POS, v, 9);
			expect(s, "GET_REFERRING_ENTRIES T_DIR_POS of 9 bytes", m, NULL, 0, EPROTO);
		}
		notef("u64 fields of 0..16 bytes but 8: EPROTO");
		if (statfs_ok(s, "same connection after"))
			notef("connection stays up");
	}
	close(s);
	free(m);
}

/* ---- random ---------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_n(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* request types a mutated message may carry: ones that only read, or none */
static const uint16_t safe_types[] = {
	SCOUTFS_CTL_HELLO, SCOUTFS_CTL_STATFS_MORE, SCOUTFS_CTL_STAT_MORE,
	SCOUTFS_CTL_GET_ATTR_X, SCOUTFS_CTL_WALK_INODES, SCOUTFS_CTL_INO_PATH,
	SCOUTFS_CTL_GET_REFERRING_ENTRIES, SCOUTFS_CTL_GET_ALLOCATED_INOS, SCOUTFS_CTL_COUNTERS,
	0, 200, 999,
};
#define NR_SAFE (sizeof(safe_types) / sizeof(safe_types[0]))

static bool type_safe(uint16_t t)
{
	size_t i;

	for (i = 0; i < NR_SAFE; i++) {
		if (safe_types[i] == t)
			return true;
	}
	return false;
}

static uint64_t rnd_u64_val(void)
{
	static const uint64_t vals[] = { 0, 1, 2, 3, 7, 8, 1023, 1024, 1025, 4096, 65535,
					 UINT32_MAX, (uint64_t)INT64_MAX, UINT64_MAX,
					 UINT64_MAX - 1 };

	if (rnd_n(4) == 0)
		return rnd();
	return vals[rnd_n(sizeof(vals) / sizeof(vals[0]))];
}

static uint16_t rnd_tag(void)
{
	switch (rnd_n(6)) {
	case 0:
		return (uint16_t)rnd();
	case 1:
		return (uint16_t)(128 + rnd_n(6));
	case 2:
		return (uint16_t)(192 + rnd_n(6));
	default:
		return (uint16_t)(1 + rnd_n(40));
	}
}

/* a plausible request: a safe type and fields it or others use */
static void rnd_valid(struct msg *m)
{
	uint16_t type = safe_types[rnd_n(NR_SAFE)];
	unsigned int i, n = (unsigned int)rnd_n(6);
	uint16_t tag;
	uint8_t buf[300];
	size_t len;

	m_init(m, type, 0);
	if (type == SCOUTFS_CTL_HELLO) {
		m_u64(m, SCOUTFS_CTL_T_VERSION, rnd_n(3) ? 1 : rnd_u64_val());
		if (rnd_n(2))
			m_u64(m, SCOUTFS_CTL_T_VERSION_MIN, rnd_n(3) ? 1 : rnd_u64_val());
		return;
	}
	for (i = 0; i < n; i++) {
		tag = rnd_tag();
		if (tag < 128 && rnd_n(8)) {
			m_u64(m, tag, tag == SCOUTFS_CTL_T_FD ? rnd_n(4) : rnd_u64_val());
		} else {
			len = rnd_n(8) ? rnd_n(64) : rnd_n(sizeof(buf));
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)(rnd_n(4) ? 'a' + rnd_n(26) : rnd());
			m_field(m, tag, buf, len);
		}
	}
}

static void rnd_mutate(struct msg *m)
{
	unsigned int i, n = 1 + (unsigned int)rnd_n(4);
	size_t off, grow;
	uint32_t v;

	for (i = 0; i < n; i++) {
		switch (rnd_n(9)) {
		case 0:	/* flip a byte */
			if (m->len)
				mbytes(m)[rnd_n(m->len)] ^= (uint8_t)(1 + rnd_n(255));
			break;
		case 1:	/* a u32 somewhere */
			if (m->len >= 4) {
				off = rnd_n(m->len / 4) * 4;
				v = (uint32_t)rnd_u64_val();
				memcpy(mbytes(m) + off, &v, 4);
			}
			break;
		case 2:	/* cut */
			m->len = rnd_n(m->len + 1);
			break;
		case 3:	/* grow with junk, keeping the header's length or not */
			grow = rnd_n(64);
			for (off = 0; off < grow && m->len < BUF_BYTES; off++)
				mbytes(m)[m->len++] = (uint8_t)rnd();
			if (rnd_n(2) && m->len >= HDR_LEN)
				mhdr(m)->len = (uint32_t)m->len;
			break;
		case 4:	/* the header's length */
			if (m->len >= HDR_LEN)
				mhdr(m)->len = (uint32_t)(m->len + rnd_n(17) - 8);
			break;
		case 5:	/* a field's length */
			if (m->len >= HDR_LEN + FLD_LEN) {
				v = (uint32_t)(rnd_n(2) ? rnd_u64_val() : rnd_n(40));
				memcpy(mbytes(m) + HDR_LEN + 4, &v, 4);
			}
			break;
		case 6:	/* the REQUIRED bit on the first field */
			if (m->len >= HDR_LEN + FLD_LEN)
				mbytes(m)[HDR_LEN + 1] ^= 0x80;
			break;
		case 7:	/* repeat the first field */
			if (m->len >= HDR_LEN + 16 && m->len + 16 <= BUF_BYTES) {
				memcpy(mbytes(m) + m->len, mbytes(m) + HDR_LEN, 16);
				m->len += 16;
				if (rnd_n(4))
					mhdr(m)->len = (uint32_t)m->len;
			}
			break;
		default: /* flags */
			if (m->len >= HDR_LEN)
				mhdr(m)->flags = (uint16_t)(rnd_n(3) ? rnd_n(4) : rnd());
			break;
		}
	}
}

static void c_random(void)
{
	uint64_t end = now_ms() + (uint64_t)random_secs * 1000;
	struct msg *m = m_new();
	unsigned int nr_msgs = 0, nr_conns_made = 0, on_conn = 0;
	unsigned int by_status[256] = { 0 };
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const struct scoutfs_ctl_hdr *h = mhdr(m);
	char label[96], hist[512] = "";
	int fds[3], nfds, s = -1, ret;
	uint16_t want_type;
	uint64_t want_id;
	size_t i;

	rng = seed;
	fds[0] = root_fd;
	fds[1] = nul;
	fds[2] = root_fd;
	while (now_ms() < end && !fail_why[0]) {
		if (s < 0 || on_conn >= 1 + rnd_n(100)) {
			if (s >= 0)
				close(s);
			s = conn();
			if (s < 0) {
				failf("random: connect: %s", strerror(-s));
				break;
			}
			nr_conns_made++;
			on_conn = 0;
			if (rnd_n(5) && !hello(s, "random: hello"))
				break;
		}
		switch (rnd_n(10)) {
		case 0: /* noise */
			m->len = rnd_n(8) ? rnd_n(80) : rnd_n(4096);
			for (i = 0; i < m->len; i++)
				mbytes(m)[i] = (uint8_t)rnd();
			if (m->len >= 4 && rnd_n(2))
				mhdr(m)->magic = SCOUTFS_CTL_MAGIC;
			break;
		case 1: /* as built */
			rnd_valid(m);
			break;
		case 2: /* too long */
			m_init(m, safe_types[rnd_n(NR_SAFE)], 0);
			m_field_raw(m, 0x7f00, 0, NULL, SCOUTFS_CTL_MAX_MSG - HDR_LEN + 8 * rnd_n(500));
			break;
		default:
			rnd_valid(m);
			rnd_mutate(m);
			break;
		}
		/* nothing that could change the filesystem, whatever the mutations */
		if (m->len >= HDR_LEN && h->magic == SCOUTFS_CTL_MAGIC && !type_safe(h->type))
			mhdr(m)->type = safe_types[rnd_n(NR_SAFE)];
		nfds = rnd_n(6) ? 0 : (int)rnd_n(4);

		/* what the reply must echo */
		if (m->len >= HDR_LEN && m->len <= SCOUTFS_CTL_MAX_MSG) {
			want_type = h->type;
			want_id = h->id;
		} else {
			want_type = 0;
			want_id = 0;
		}
		snprintf(label, sizeof(label), "random: seed %" PRIu64 " message %u (%zu bytes)", seed,
			 nr_msgs, m->len);
		ret = send_raw(s, m->w, m->len, fds, nfds);
		if (ret) {
			failf("%s: send: %s", label, strerror(-ret));
			break;
		}
		nr_msgs++;
		on_conn++;
		ret = recv_reply(s, timeout_ms, rbuf);
		if (ret != 1) {
			failf("%s: %s", label,
			      ret == 0 ? "the daemon closed the connection" : strerror(-ret));
			break;
		}
		if (reply_wrong(rbuf, want_type, want_id, (int)rhdr(rbuf)->status)) {
			failf("%s: %s", label,
			      reply_wrong(rbuf, want_type, want_id, (int)rhdr(rbuf)->status));
			break;
		}
		by_status[rhdr(rbuf)->status < 255 ? rhdr(rbuf)->status : 255]++;
	}
	if (fail_why[0]) {
		fprintf(stderr, "sfs-ctl-fuzz: the message (%zu bytes):", m->len);
		for (i = 0; i < m->len && i < 256; i++)
			fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", mbytes(m)[i]);
		fprintf(stderr, "\n");
	}
	for (i = 0; i < 256; i++) {
		if (by_status[i])
			snprintf(hist + strlen(hist), sizeof(hist) - strlen(hist), " %s:%u",
				 ename((int)i), by_status[i]);
	}
	notef("seed %" PRIu64 ": %u messages on %u connections in %u s, replies%s", seed, nr_msgs,
	      nr_conns_made, random_secs, hist);
	if (s >= 0)
		close(s);
	if (nul >= 0)
		close(nul);
	free(m);
}

/* ---- connections ---------------------------------------------------------- */

static void c_many_conns(void)
{
	struct msg *m = m_new();
	int *socks = calloc(nr_conns, sizeof(int));
	uint64_t *ids = calloc(nr_conns, sizeof(uint64_t));
	unsigned int i, served = 0, refused = 0, bad = 0, eofs = 0;
	uint64_t end;
	int ret, busy;

	if (!socks || !ids) {
		failf("calloc");
		goto out;
	}
	for (i = 0; i < nr_conns; i++)
		socks[i] = -1;
	/* open them all first, then say HELLO on each */
	for (i = 0; i < nr_conns; i++) {
		socks[i] = conn();
		if (socks[i] < 0) {
			failf("connection %u: connect: %s", i, strerror(-socks[i]));
			goto out;
		}
	}
	for (i = 0; i < nr_conns; i++) {
		ids[i] = m_hello(m, 1, 1);
		ret = send_msg(socks[i], m, NULL, 0);
		if (ret && ret != -EPIPE && ret != -ECONNRESET) {
			failf("connection %u: send: %s", i, strerror(-ret));
			goto out;
		}
	}
	end = now_ms() + 3 * (uint64_t)timeout_ms;
	for (i = 0; i < nr_conns; i++) {
		ret = recv_reply(socks[i], (int)(end > now_ms() ? end - now_ms() : 0) + 1, rbuf);
		if (ret != 1) {
			bad++;
			failf("connection %u: %s", i, ret == 0 ? "closed without a reply"
						     : strerror(-ret));
			continue;
		}
		if (!reply_wrong(rbuf, SCOUTFS_CTL_HELLO, ids[i], 0)) {
			served++;
			continue;
		}
		if (!reply_wrong(rbuf, 0, 0, EBUSY)) {
			refused++;
			/* and then the end */
			if (recv_reply(socks[i], timeout_ms, rbuf) == 0)
				eofs++;
			continue;
		}
		bad++;
		failf("connection %u: %s", i, reply_wrong(rbuf, SCOUTFS_CTL_HELLO, ids[i], 0));
	}
	if (served > max_conns)
		failf("%u connections served, the limit is %u", served, max_conns);
	if (nr_conns > max_conns && refused < nr_conns - max_conns)
		failf("%u connections refused, want at least %u", refused, nr_conns - max_conns);
	if (eofs != refused)
		failf("%u of %u refused connections were not closed", refused - eofs, refused);
	notef("%u connections: %u served, %u refused with EBUSY (id 0) and closed", nr_conns,
	      served, refused);

	/* while they are all open (and fill every slot), a new one is refused too */
	if (served == max_conns) {
		busy = conn();
		if (busy < 0) {
			failf("connection %u: connect: %s", nr_conns, strerror(-busy));
		} else {
			ret = recv_reply(busy, timeout_ms, rbuf);
			if (ret != 1 || reply_wrong(rbuf, 0, 0, EBUSY))
				failf("connection %u while full: no EBUSY", nr_conns);
			else
				notef("one more while full: EBUSY");
			close(busy);
		}
	}
out:
	for (i = 0; socks && i < nr_conns; i++) {
		if (socks[i] >= 0)
			close(socks[i]);
	}
	free(socks);
	free(ids);
	free(m);
}

static void c_idle_client(void)
{
	struct msg *m = m_new();
	int idle = conn();
	int idle_hello = conn_hello("idle hello");
	int flood = conn_hello("flood hello");
	int s = -1, i, sent = 0, ret = 0;
	struct pollfd pfd;

	if (idle < 0 || idle_hello < 0 || flood < 0) {
		failf("connect: %s", strerror(-idle));
		goto out;
	}
	/* one client floods requests and reads no replies */
	for (i = 0; i < 10000; i++) {
		m_init(m, SCOUTFS_CTL_COUNTERS, 0);
		ret = (int)send(flood, m->w, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (ret < 0)
			break;
		sent++;
	}
	if (ret >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		failf("the flooding client was never pushed back (%d sent)", sent);
	/* another works meanwhile */
	s = conn_hello("worker hello");
	if (s < 0)
		goto out;
	for (i = 0; i < 20 && !fail_why[0]; i++)
		statfs_ok(s, "worker STATFS_MORE");
	m_init(m, SCOUTFS_CTL_COUNTERS, 0);
	expect(s, "worker COUNTERS", m, NULL, 0, 0);
	if (!fail_why[0])
		notef("a silent client, a silent client after HELLO and a client flooding %d "
		      "unread requests do not hold up another: 21 requests served", sent);
	/* the silent ones got nothing */
	pfd.fd = idle;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 0)
		failf("the silent client was sent something");
	pfd.fd = idle_hello;
	if (poll(&pfd, 1, 0) != 0)
		failf("the silent client after HELLO was sent something");
out:
	if (idle >= 0)
		close(idle);
	if (idle_hello >= 0)
		close(idle_hello);
	if (flood >= 0)
		close(flood);
	if (s >= 0)
		close(s);
	free(m);
}

/* ---- unprivileged ---------------------------------------------------------- */

/* the unprivileged calls, on a connection made as the uid we run as now */
static void unpriv_calls(int s)
{
	struct msg *m = m_new();
	uint64_t uid = 0;

	if (!hello(s, "unprivileged HELLO"))
		goto out;
	if (!r_u64(rbuf, SCOUTFS_CTL_T_UID, &uid) || uid != geteuid())
		failf("HELLO says the peer is uid %" PRIu64 ", we are %u", uid, geteuid());

	m_init(m, SCOUTFS_CTL_INO_PATH, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	expect(s, "INO_PATH", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_GET_ALLOCATED_INOS, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, 0);
	expect(s, "GET_ALLOCATED_INOS", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_GET_REFERRING_ENTRIES, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	expect(s, "GET_REFERRING_ENTRIES", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	expect(s, "STAT_MORE by ino", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_GET_ATTR_X, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	expect(s, "GET_ATTR_X by ino", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_DATA_WAIT_ERR, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	m_u64(m, SCOUTFS_CTL_T_OFFSET, 0);
	m_u64(m, SCOUTFS_CTL_T_LENGTH, 4096);
	m_u64(m, SCOUTFS_CTL_T_OP, 1);
	m_u64(m, SCOUTFS_CTL_T_ERR, EIO);
	expect(s, "DATA_WAIT_ERR", m, NULL, 0, EPERM);
	/* volume options: anyone reads them, only root changes them */
	m_init(m, SCOUTFS_CTL_SET_VOLOPT, 0);
	expect(s, "SET_VOLOPT", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_CLEAR_VOLOPT, 0);
	expect(s, "CLEAR_VOLOPT", m, NULL, 0, EPERM);
	m_init(m, SCOUTFS_CTL_FENCE_ANSWER, 0);
	expect(s, "FENCE_ANSWER", m, NULL, 0, EPERM);
	/* by inode number (a stale data version: nothing to release anyway) */
	m_init(m, SCOUTFS_CTL_RELEASE, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	m_u64(m, SCOUTFS_CTL_T_OFFSET, 0);
	m_u64(m, SCOUTFS_CTL_T_LENGTH, 4096);
	m_u64(m, SCOUTFS_CTL_T_DATA_VERSION, UINT64_MAX);
	expect(s, "RELEASE by ino", m, NULL, 0, EPERM);
	/* even with an fd passed, a root-only request stays root-only */
	m_init(m, SCOUTFS_CTL_INO_PATH, 0);
	m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
	m_u64(m, SCOUTFS_CTL_T_FD, 0);
	expect(s, "INO_PATH with an fd", m, &root_fd, 1, EPERM);
	/* what anyone may do */
	statfs_ok(s, "unprivileged STATFS_MORE");
	m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
	m_u64(m, SCOUTFS_CTL_T_FD, 0);
	expect(s, "STAT_MORE by fd", m, &root_fd, 1, 0);
	m_init(m, SCOUTFS_CTL_COUNTERS, 0);
	expect(s, "COUNTERS", m, NULL, 0, 0);
out:
	free(m);
}

static void c_unpriv(void)
{
	struct msg *m = m_new();
	int pfd[2], dirfd, s, status;
	char why[sizeof(fail_why)];
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0) {
		s = conn();
		if (s < 0) {
			failf("connect: %s", strerror(-s));
		} else {
			unpriv_calls(s);
			close(s);
		}
		notef("as uid %u: root-only requests and ino-addressed STAT_MORE, GET_ATTR_X, "
		      "RELEASE EPERM; STATFS_MORE, STAT_MORE by fd, COUNTERS served", geteuid());
		free(m);
		return;
	}

	dirfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || pipe(pfd)) {
		failf("%s: %s", run_dir, strerror(errno));
		free(m);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* the child: uid 65534, connecting from the run directory */
		close(pfd[0]);
		fail_why[0] = '\0';
		if (fchdir(dirfd) || setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)) {
			failf("cannot become uid %d: %s", NOBODY, strerror(errno));
		} else if (geteuid() != NOBODY || getegid() != NOBODY) {
			failf("still uid %u gid %u", geteuid(), getegid());
		} else {
			s = conn_to(SCOUTFS_CTL_SOCKET_NAME);
			if (s < 0) {
				failf("connect as uid %d: %s", NOBODY, strerror(-s));
			} else {
				unpriv_calls(s);
				close(s);
			}
		}
		n = write(pfd[1], fail_why, strlen(fail_why));
		_exit(n < 0 ? 3 : fail_why[0] ? 1 : 0);
	}
	close(pfd[1]);
	close(dirfd);
	if (pid < 0) {
		failf("fork: %s", strerror(errno));
		close(pfd[0]);
		free(m);
		return;
	}
	n = read(pfd[0], why, sizeof(why) - 1);
	close(pfd[0]);
	why[n > 0 ? n : 0] = '\0';
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && !why[0]))
		failf("the uid %d child ended with status 0x%x", NOBODY, status);
	if (why[0])
		failf("uid %d: %s", NOBODY, why);
	notef("uid %d: INO_PATH, GET_ALLOCATED_INOS, GET_REFERRING_ENTRIES, DATA_WAIT_ERR, and "
	      "STAT_MORE, GET_ATTR_X, RELEASE by ino EPERM; STATFS_MORE, STAT_MORE by fd, "
	      "COUNTERS served", NOBODY);

	/* root may do them all: the refusals were about the uid */
	s = conn_hello("root hello");
	if (s >= 0) {
		m_init(m, SCOUTFS_CTL_GET_ALLOCATED_INOS, 0);
		m_u64(m, SCOUTFS_CTL_T_INO, 0);
		expect(s, "root GET_ALLOCATED_INOS", m, NULL, 0, 0);
		m_init(m, SCOUTFS_CTL_GET_REFERRING_ENTRIES, 0);
		m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
		expect(s, "root GET_REFERRING_ENTRIES", m, NULL, 0, 0);
		m_init(m, SCOUTFS_CTL_STAT_MORE, 0);
		m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
		expect(s, "root STAT_MORE by ino", m, NULL, 0, 0);
		m_init(m, SCOUTFS_CTL_INO_PATH, 0);
		m_u64(m, SCOUTFS_CTL_T_INO, root_ino);
		/* the root has no name to be reached by */
		expect(s, "root INO_PATH of the root", m, NULL, 0, ENOENT);
		if (!fail_why[0])
			notef("uid 0: served");
		close(s);
	}
	free(m);
}

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	case_fn fn;
} cases[] = {
	{ "empty-message", c_empty },
	{ "short-header", c_short_header },
	{ "bad-magic", c_bad_magic },
	{ "length-lies", c_len_lies },
	{ "truncated-field", c_trunc_field },
	{ "field-overrun", c_field_overrun },
	{ "duplicate-field", c_dup_field },
	{ "required-tag", c_required_tag },
	{ "oversized", c_oversized },
	{ "unknown-type", c_unknown_type },
	{ "before-hello", c_before_hello },
	{ "reply-flag", c_reply_flag },
	{ "hello-versions", c_hello_versions },
	{ "fd-index", c_fd_index },
	{ "fd-foreign", c_fd_foreign },
	{ "fd-many", c_fd_many },
	{ "u64-length", c_u64_len },
	{ "random", c_random },
	{ "many-connections", c_many_conns },
	{ "idle-client", c_idle_client },
	{ "unprivileged", c_unpriv },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static bool selected(const char *only, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (!only)
		return true;
	for (p = only; (p = strstr(p, name)); p += n) {
		if ((p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	}
	return false;
}

static void report(const char *name)
{
	if (fail_why[0]) {
		nr_failed++;
		printf("FAIL %s: %s%s%s%s\n", name, fail_why, note[0] ? " (before it: " : "",
		       note, note[0] ? ")" : "");
	} else {
		printf("PASS %s: %s\n", name, note[0] ? note : "ok");
	}
	fflush(stdout);
	fail_why[0] = '\0';
	note[0] = '\0';
}

/* HELLO once to learn the mount, open its root */
static int setup(void)
{
	char *slash;
	const void *v;
	uint32_t len;
	struct stat st;
	int s;

	snprintf(run_dir, sizeof(run_dir), "%s", sock_path);
	slash = strrchr(run_dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(run_dir, ".");
	s = conn_hello("setup");
	if (s < 0)
		return -1;
	if (!r_u64(rbuf, SCOUTFS_CTL_T_FSID, &fsid))
		failf("setup: HELLO without FSID");
	v = r_get(rbuf, SCOUTFS_CTL_T_MOUNT_POINT, &len);
	if (!v || len == 0 || len >= sizeof(mount_point))
		failf("setup: HELLO without a mount point");
	else
		memcpy(mount_point, v, len);
	close(s);
	if (fail_why[0])
		return -1;
	root_fd = open(mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &st)) {
		failf("setup: open %s: %s", mount_point, strerror(errno));
		return -1;
	}
	root_ino = st.st_ino;
	return 0;
}

static int print_counters(void)
{
	const struct scoutfs_ctl_counter *cr;
	struct msg *m = m_new();
	const uint8_t *recs;
	uint32_t len, off;
	int s, ret = 1;

	s = conn_hello("counters");
	if (s < 0)
		goto out;
	m_init(m, SCOUTFS_CTL_COUNTERS, 0);
	if (!expect(s, "COUNTERS", m, NULL, 0, 0))
		goto out;
	recs = r_get(rbuf, SCOUTFS_CTL_T_RECORDS, &len);
	if (!recs) {
		failf("COUNTERS reply without records");
		goto out;
	}
	for (off = 0; off < len; off += cr->rec_len) {
		cr = (const void *)(recs + off);
		if (len - off < sizeof(*cr) || cr->rec_len < sizeof(*cr) + cr->name_len ||
		    cr->rec_len > len - off || cr->rec_len % 8) {
			failf("COUNTERS record at byte %u is malformed", off);
			goto out;
		}
		printf("%.*s %" PRIu64 "\n", (int)cr->name_len, (const char *)(cr + 1), cr->value);
	}
	ret = 0;
out:
	if (s >= 0)
		close(s);
	if (fail_why[0])
		fprintf(stderr, "sfs-ctl-fuzz: %s\n", fail_why);
	free(m);
	return ret;
}

static int hold(unsigned int secs)
{
	struct msg *m = m_new();
	uint64_t end = now_ms() + (uint64_t)secs * 1000;
	int silent = conn(), flood = conn_hello("hold"), i, closed = 0;
	struct pollfd pfd[2];

	if (silent < 0 || flood < 0) {
		fprintf(stderr, "sfs-ctl-fuzz: hold: %s\n", fail_why[0] ? fail_why : "connect");
		return 1;
	}
	for (i = 0; i < 10000; i++) {
		m_init(m, SCOUTFS_CTL_COUNTERS, 0);
		if (send(flood, m->w, m->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
	}
	printf("holding: %d requests queued\n", i);
	fflush(stdout);
	/* replies stay unread (the daemon is stuck sending): wait for the hangups */
	pfd[0].fd = silent;
	pfd[1].fd = flood;
	while (closed < 2 && now_ms() < end) {
		pfd[0].events = pfd[1].events = POLLRDHUP;
		if (poll(pfd, 2, 100) <= 0)
			continue;
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				closed++;
			}
		}
	}
	free(m);
	if (closed < 2) {
		fprintf(stderr, "sfs-ctl-fuzz: hold: the daemon kept %d connections open for %u s\n",
			2 - closed, secs);
		return 1;
	}
	printf("closed by the daemon\n");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sfs-ctl-fuzz SOCKET [--seed N] [--random-secs S] [--conns N] "
		"[--max-conns N]\n"
		"                    [--only CASE,...] [--timeout-ms MS] [--verbose]\n"
		"       sfs-ctl-fuzz SOCKET --counters\n"
		"       sfs-ctl-fuzz SOCKET --hold SECS\n"
		"       sfs-ctl-fuzz --list\n");
	exit(2);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	bool counters = false;
	int hold_secs = -1;
	int before, after, i;
	uint64_t end;
	size_t c;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list")) {
			for (c = 0; c < NR_CASES; c++)
				printf("%s\n", cases[c].name);
			return 0;
		} else if (!strcmp(argv[i], "--counters")) {
			counters = true;
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else if (i + 1 < argc && !strcmp(argv[i], "--seed")) {
			seed = num(argv[++i]);
			seed_set = true;
		} else if (i + 1 < argc && !strcmp(argv[i], "--random-secs")) {
			random_secs = (unsigned int)num(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--conns")) {
			nr_conns = (unsigned int)num(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--max-conns")) {
			max_conns = (unsigned int)num(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--timeout-ms")) {
			timeout_ms = (int)num(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--hold")) {
			hold_secs = (int)num(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--only")) {
			only = argv[++i];
		} else if (argv[i][0] != '-' && !sock_path) {
			sock_path = argv[i];
		} else {
			usage();
		}
	}
	if (!sock_path)
		usage();
	signal(SIGPIPE, SIG_IGN);
	rbuf = calloc(1, sizeof(*rbuf));
	if (!rbuf)
		return 2;
	if (counters)
		return print_counters();
	if (hold_secs >= 0)
		return hold((unsigned int)hold_secs);

	if (!seed_set)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("sfs-ctl-fuzz: %s, seed %" PRIu64 "\n", sock_path, seed);
	if (setup()) {
		printf("FAIL setup: %s\n", fail_why);
		return 1;
	}
	before = daemon_fds();

	for (c = 0; c < NR_CASES; c++) {
		if (!selected(only, cases[c].name))
			continue;
		cases[c].fn();
		/* whatever happened, the daemon must still serve */
		if (alive("then a new connection") && !fail_why[0])
			notef("a new connection served");
		report(cases[c].name);
	}

	/* nothing a peer sent stayed open in the daemon */
	if (before < 0) {
		printf("SKIP fd-leak: cannot read the daemon's fds\n");
	} else {
		end = now_ms() + (uint64_t)timeout_ms;
		do {
			usleep(50000);
			alive("fd count");	/* an accept reaps finished connections */
			after = daemon_fds();
		} while (after != before && now_ms() < end && !fail_why[0]);
		if (after != before)
			failf("the daemon had %d sockets, pipes and files of the mount or /dev/null "
			      "open before, %d after", before, after);
		else
			notef("the daemon holds %d sockets, pipes and mount files, as before", after);
		report("fd-leak");
	}
	close(root_fd);
	free(rbuf);
	printf("sfs-ctl-fuzz: %u failed\n", nr_failed);
	return nr_failed ? 1 : 0;
}
