// SPDX-License-Identifier: GPL-2.0
/*
 * The run directory and the control socket of a mount.
 *
 * The run directory is RUN_BASE/<fsid>.<rid>/ (both %016llx).  It holds
 * ctl.sock and plain files: fsid, rid, format_version, mount_point, dev
 * (major:minor of the mount, which is how clients find the directory of
 * the mount a path is in) and mount_options.  It is removed at a clean
 * stop; a directory left by a killed daemon has a socket nobody listens
 * on, and the next daemon to start under the same base removes it.
 *
 * The socket is SOCK_SEQPACKET, mode 0666: anyone may connect, and
 * operations the reference reserves to capabilities need uid 0 (from
 * SO_PEERCRED).  One thread accepts; each connection gets a thread that
 * serves its requests in order, so a slow request (a stage, a release)
 * delays only its own connection.  At most SFS_CTL_MAX_CONNS connections
 * are served at once; more are refused with an EBUSY reply.
 *
 * Each connection must start with HELLO; a request before it gets an
 * EPROTO reply.  A message that does not parse gets an EPROTO reply and
 * the connection stays up; a message too long for the buffer gets
 * EMSGSIZE.  Nothing a peer sends can stop the daemon: handlers see only
 * checked messages.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "config.h"
#include "counters.h"
#include "ctl.h"
#include "log.h"

#define SFS_CTL_MAX_CONNS 256

struct ctl_conn {
	struct ctl_conn *next;
	struct sfs_ctl_state *st;
	int sock;
	pthread_t thread;
	struct ucred cred;
	bool done;		/* st->lock: the thread has finished */
};

struct sfs_ctl_state {
	struct sfs_fs *fs;
	struct sfs_ctl_opts opts;
	char *mount_point;
	char *mount_options;
	char *run_base;		/* sfs_ctl_prepare's copy */
	bool prepared;		/* the directory exists, made by sfs_ctl_prepare */
	char dir[PATH_MAX];
	char sock_path[PATH_MAX + 16];
	int listen_fd;
	int stop_pipe[2];
	pthread_t accept_thread;
	bool accept_started;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a connection finished */
	struct ctl_conn *conns;
	unsigned int nr_conns;
	bool stopping;
};

/* ------------------------------------------------------------------ */
/* The run directory                                                    */
/* ------------------------------------------------------------------ */

int sfs_ctl_vwrite_file(const char *dir, const char *name, const char *fmt, va_list ap)
{
	char path[PATH_MAX + 64];
	char tmp[PATH_MAX + 72];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (vfprintf(f, fmt, ap) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static int write_file(struct sfs_ctl_state *st, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int write_file(struct sfs_ctl_state *st, const char *name, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = sfs_ctl_vwrite_file(st->dir, name, fmt, ap);
	va_end(ap);
	return ret;
}

static int counter_cmp(const void *a, const void *b)
{
	return strcmp(sfs_counter_name(*(const enum sfs_counter *)a),
		      sfs_counter_name(*(const enum sfs_counter *)b));
}

/*
 * The counters file: "name value" lines in name order, as the reference's
 * sysfs counters directory and `scoutfs counters` show them; rewritten
 * every second while the daemon runs.
 */
static void write_counters(struct sfs_ctl_state *st)
{
	enum sfs_counter order[SFS_CTR_NR];
	char *buf, *p;
	size_t cap = (size_t)SFS_CTR_NR * 96;
	int c;

	buf = malloc(cap);
	if (!buf)
		return;
	for (c = 0; c < SFS_CTR_NR; c++)
		order[c] = (enum sfs_counter)c;
	qsort(order, SFS_CTR_NR, sizeof(order[0]), counter_cmp);
	p = buf;
	*p = '\0';
	for (c = 0; c < SFS_CTR_NR; c++)
		p += snprintf(p, cap - (size_t)(p - buf), "%s %llu\n", sfs_counter_name(order[c]),
			      (unsigned long long)sfs_counter_get(st->fs, order[c]));
	if (write_file(st, "counters", "%s", buf))
		sfs_inc(st->fs, ctl_errors);
	free(buf);
}

/* a socket nobody listens on: its daemon is gone */
static bool socket_dead(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;
	bool dead;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	dead = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return dead;
}

/* a run directory and what is in it: files, and fence/<rid>/ request directories */
static void remove_tree(const char *dir, int depth)
{
	struct dirent *de;
	char path[PATH_MAX + 256];
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno == EISDIR && depth > 0)
			remove_tree(path, depth - 1);
	}
	closedir(d);
	rmdir(dir);
}

static void remove_dir(const char *dir)
{
	remove_tree(dir, 2);
}

/* remove the run directories of daemons that died without cleaning up */
static void sweep_dead(struct sfs_ctl_state *st, const char *base)
{
	char dir[PATH_MAX];
	char sock[PATH_MAX + 16];
	struct dirent *de;
	DIR *d = opendir(base);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) != 33 || de->d_name[16] != '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
		snprintf(sock, sizeof(sock), "%s/" SCOUTFS_CTL_SOCKET_NAME, dir);
		if (socket_dead(sock)) {
			sfs_info(st->fs, "ctl: removing %s, left by a daemon that is gone", dir);
			remove_dir(dir);
		}
	}
	closedir(d);
}

/* the directory with what is known before the FUSE mount: fsid, rid, pid */
static int make_run_dir(struct sfs_ctl_state *st)
{
	const char *base = st->opts.run_base ? st->opts.run_base : SCOUTFS_CTL_RUN_BASE;
	struct sfs_fs *fs = st->fs;
	int ret;

	if (mkdir(base, 0755) && errno != EEXIST) {
		ret = -errno;
		sfs_err(fs, "ctl: cannot make the run directory base %s: %s", base,
			strerror(-ret));
		return ret;
	}
	sweep_dead(st, base);

	if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s/%016llx.%016llx", base,
			     (unsigned long long)fs->fsid, (unsigned long long)fs->rid) >=
		    sizeof(st->dir) - 32) {
		sfs_err(fs, "ctl: run directory base %s is too long", base);
		return -ENAMETOOLONG;
	}
	if (mkdir(st->dir, 0755)) {
		ret = -errno;
		sfs_err(fs, "ctl: cannot make the run directory %s: %s", st->dir, strerror(-ret));
		return ret;
	}
	ret = write_file(st, "fsid", "%016llx\n", (unsigned long long)fs->fsid);
	if (!ret)
		ret = write_file(st, "rid", "%016llx\n", (unsigned long long)fs->rid);
	if (!ret)
		ret = write_file(st, "pid", "%d\n", (int)getpid());
	if (ret)
		sfs_err(fs, "ctl: cannot write the files of %s: %s", st->dir, strerror(-ret));
	return ret;
}

/* the files that need the FUSE mount */
static int write_mount_files(struct sfs_ctl_state *st)
{
	int ret;

	ret = write_file(st, "format_version", "%llu\n", (unsigned long long)st->opts.fmt_vers);
	if (!ret)
		ret = write_file(st, "mount_point", "%s\n", st->mount_point);
	if (!ret)
		ret = write_file(st, "dev", "%u:%u\n", major(st->opts.dev), minor(st->opts.dev));
	if (!ret)
		ret = write_file(st, "mount_options", "%s\n", st->mount_options);
	if (!ret)
		write_counters(st);
	if (ret)
		sfs_err(st->fs, "ctl: cannot write the files of %s: %s", st->dir, strerror(-ret));
	return ret;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

int sfs_ctl_req_fd(struct sfs_ctl_req *req, uint16_t tag, bool want_read, bool want_write,
		   uint64_t *ino)
{
	const struct sfs_ctl_in *in = req->in;
	uint64_t idx;
	struct stat sb;
	int acc;
	int fl;
	int ret;

	ret = sfs_ctl_get_u64(in, tag, &idx);
	if (ret)
		return ret;
	if (idx >= (uint64_t)in->nr_fds || in->fds[idx] < 0)
		return -EBADF;
	if (fstat(in->fds[idx], &sb))
		return -errno;
	if (req->dev && sb.st_dev != req->dev)
		return -EXDEV;
	fl = fcntl(in->fds[idx], F_GETFL);
	if (fl < 0)
		return -errno;
	acc = fl & O_ACCMODE;
	if (want_write && acc != O_WRONLY && acc != O_RDWR)
		return -EBADF;
	if (want_read && acc != O_RDONLY && acc != O_RDWR)
		return -EBADF;
	*ino = (uint64_t)sb.st_ino;
	return 0;
}

int sfs_ctl_req_file(struct sfs_ctl_req *req, bool want_read, bool want_write, uint64_t *ino)
{
	int ret;

	ret = sfs_ctl_req_fd(req, SCOUTFS_CTL_T_FD, want_read, want_write, ino);
	if (ret != -ENOENT)
		return ret;
	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_INO, ino);
	if (ret == -ENOENT)
		return -EINVAL;
	if (!ret && (*ino == 0 || *ino == UINT64_MAX))
		ret = -EINVAL;
	return ret;
}

static int op_hello(struct sfs_ctl_state *st, struct sfs_ctl_req *req, uint64_t *version)
{
	uint64_t vmin, vmax;
	int ret;

	ret = sfs_ctl_get_u64(req->in, SCOUTFS_CTL_T_VERSION, &vmax);
	if (!ret)
		ret = sfs_ctl_get_u64_def(req->in, SCOUTFS_CTL_T_VERSION_MIN, vmax, &vmin);
	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (vmin > vmax || vmax < SCOUTFS_CTL_VERSION_MIN || vmin > SCOUTFS_CTL_VERSION_MAX)
		return -EPROTONOSUPPORT;
	*version = vmax < SCOUTFS_CTL_VERSION_MAX ? vmax : SCOUTFS_CTL_VERSION_MAX;

	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_VERSION, *version);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_FSID, st->fs->fsid);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_RID, st->fs->rid);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_FMT_VERS, st->opts.fmt_vers);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_DEV, (uint64_t)st->opts.dev);
	sfs_ctl_put_u64(req->out, SCOUTFS_CTL_T_UID, (uint64_t)req->uid);
	sfs_ctl_put_str(req->out, SCOUTFS_CTL_T_MOUNT_POINT, st->mount_point);
	sfs_ctl_put_str(req->out, SCOUTFS_CTL_T_DAEMON_VERSION, SFS_VERSION);
	return 0;
}

static const struct sfs_ctl_op *find_op(struct sfs_ctl_state *st, uint16_t type)
{
	const struct sfs_ctl_table *t;
	unsigned int i;

	for (t = st->opts.tables; t && t->ops; t++) {
		for (i = 0; i < t->nr; i++) {
			if (t->ops[i].type == type)
				return &t->ops[i];
		}
	}
	return NULL;
}

/* one message in buf (len bytes, or a -errno from recv): build the reply in out */
static void serve_one(struct ctl_conn *c, const void *buf, ssize_t len, struct sfs_ctl_in *in,
		      struct sfs_ctl_out *out, uint64_t *version)
{
	struct sfs_ctl_state *st = c->st;
	struct sfs_fs *fs = st->fs;
	const struct scoutfs_ctl_hdr *hdr = buf;
	const struct sfs_ctl_op *op = NULL;
	struct sfs_ctl_req req = {
		.fs = fs,
		.arg = st->opts.arg,
		.in = in,
		.out = out,
		.uid = c->cred.uid,
		.gid = c->cred.gid,
		.pid = c->cred.pid,
		.dev = st->opts.dev,
	};
	uint16_t type = 0;
	uint64_t id = 0;
	char why[128];
	int ret;

	/* a reply echoes what it can of the request */
	if (len >= (ssize_t)sizeof(*hdr)) {
		type = hdr->type;
		id = hdr->id;
	}
	sfs_ctl_out_reset(out, type, SCOUTFS_CTL_F_REPLY, id, 0);

	if (len < 0) {
		ret = (int)len;
		sfs_inc(fs, ctl_malformed);
		sfs_debug(fs, "ctl: pid %d: message dropped: %s", (int)c->cred.pid,
			  strerror(-ret));
		goto reply;
	}
	ret = sfs_ctl_parse(buf, (size_t)len, in, why, sizeof(why));
	if (!ret && (hdr->flags & SCOUTFS_CTL_F_REPLY)) {
		snprintf(why, sizeof(why), "a reply where a request was expected");
		ret = -EPROTO;
	}
	if (ret) {
		sfs_inc(fs, ctl_malformed);
		sfs_debug(fs, "ctl: pid %d: malformed message: %s", (int)c->cred.pid, why);
		goto reply;
	}

	sfs_inc(fs, ctl_requests);
	if (type == SCOUTFS_CTL_HELLO) {
		ret = op_hello(st, &req, version);
		goto reply;
	}
	if (*version == 0) {
		sfs_inc(fs, ctl_malformed);
		ret = -EPROTO;	/* HELLO first */
		goto reply;
	}
	op = find_op(st, type);
	if (!op) {
		ret = -EOPNOTSUPP;
		goto reply;
	}
	if (op->root && c->cred.uid != 0) {
		sfs_inc(fs, ctl_denied);
		ret = -EPERM;
		goto reply;
	}
	ret = op->fn(&req);
	if (ret == 0 && out->overflow) {
		sfs_err(fs, "ctl: %s: the reply did not fit in a message", op->name);
		ret = -EOVERFLOW;
	}
reply:
	if (ret) {
		if (op)
			sfs_inc(fs, ctl_errors);
		sfs_ctl_out_reset(out, type, SCOUTFS_CTL_F_REPLY, id, (uint32_t)-ret);
	}
}

/*
 * recv returned 0: the peer closed (or shut down its end), or it sent a
 * message of 0 bytes, which a SOCK_SEQPACKET socket also delivers as 0.
 */
static bool peer_closed(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN | POLLRDHUP };
	int n = poll(&pfd, 1, 0);

	return n < 0 || (n > 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)));
}

static void *conn_thread(void *arg)
{
	struct ctl_conn *c = arg;
	struct sfs_ctl_state *st = c->st;
	struct sfs_ctl_in *in = NULL;
	struct sfs_ctl_out out = { 0 };
	uint64_t version = 0;
	void *buf = NULL;
	ssize_t len;
	int ret;

	in = calloc(1, sizeof(*in));
	if (!in || posix_memalign(&buf, 8, SCOUTFS_CTL_MAX_MSG) ||
	    sfs_ctl_out_init(&out, 0, 0, 0))
		goto out;

	for (;;) {
		len = sfs_ctl_recv(c->sock, buf, in->fds, &in->nr_fds);
		if (len == 0 && peer_closed(c->sock))
			break;	/* the peer closed; else an empty message: malformed */
		if (len < 0 && len != -EMSGSIZE)
			break;
		serve_one(c, buf, len, in, &out, &version);
		sfs_ctl_close_fds(in->fds, &in->nr_fds);
		ret = sfs_ctl_send(c->sock, &out);
		if (ret)
			break;
	}
out:
	/* the peer sees the end now; the socket is closed when reaped */
	shutdown(c->sock, SHUT_RDWR);
	if (in)
		sfs_ctl_close_fds(in->fds, &in->nr_fds);	/* a last message's */
	sfs_ctl_out_free(&out);
	free(buf);
	free(in);
	pthread_mutex_lock(&st->lock);
	c->done = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* join and free finished connections; st->lock held */
static void reap_conns_locked(struct sfs_ctl_state *st)
{
	struct ctl_conn **pos = &st->conns;
	struct ctl_conn *c;

	while ((c = *pos)) {
		if (!c->done) {
			pos = &c->next;
			continue;
		}
		*pos = c->next;
		pthread_join(c->thread, NULL);
		close(c->sock);
		free(c);
		st->nr_conns--;
	}
}

static void refuse_busy(int sock)
{
	struct sfs_ctl_out out;
	char byte;
	int i;

	if (sfs_ctl_out_init(&out, 0, SCOUTFS_CTL_F_REPLY, 0))
		return;
	out.len = sizeof(struct scoutfs_ctl_hdr);
	((struct scoutfs_ctl_hdr *)out.buf)->status = EBUSY;
	sfs_ctl_send(sock, &out);
	sfs_ctl_out_free(&out);
	/*
	 * Closing a socket with messages unread (the client's HELLO, sent
	 * right after connecting) resets the client's end: it would see
	 * ECONNRESET before the reply.  Shut it down (later sends get EPIPE)
	 * and drop what came before the close.
	 */
	shutdown(sock, SHUT_RDWR);
	for (i = 0; i < 1024 && recv(sock, &byte, 1, MSG_DONTWAIT) > 0; i++)
		;
}

static void *accept_thread(void *arg)
{
	struct sfs_ctl_state *st = arg;
	struct sfs_fs *fs = st->fs;
	struct pollfd pfd[2];
	struct ctl_conn *c;
	socklen_t clen;
	bool logged = false;
	int sock, n;

	pfd[0].fd = st->listen_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = st->stop_pipe[0];
	pfd[1].events = POLLIN;

	for (;;) {
		n = poll(pfd, 2, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sfs_err(fs, "ctl: poll: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			write_counters(st);
			continue;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		sock = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (sock < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED && !logged) {
				sfs_err(fs, "ctl: accept: %s", strerror(errno));
				logged = true;
				usleep(10000);
			}
			continue;
		}

		c = calloc(1, sizeof(*c));
		clen = sizeof(c ? c->cred : (struct ucred){ 0 });
		if (!c || getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &c->cred, &clen)) {
			free(c);
			close(sock);
			continue;
		}
		c->st = st;
		c->sock = sock;

		pthread_mutex_lock(&st->lock);
		reap_conns_locked(st);
		if (st->nr_conns >= SFS_CTL_MAX_CONNS) {
			pthread_mutex_unlock(&st->lock);
			sfs_inc(fs, ctl_refused);
			refuse_busy(sock);
			close(sock);
			free(c);
			continue;
		}
		if (pthread_create(&c->thread, NULL, conn_thread, c)) {
			pthread_mutex_unlock(&st->lock);
			close(sock);
			free(c);
			continue;
		}
		c->next = st->conns;
		st->conns = c;
		st->nr_conns++;
		pthread_mutex_unlock(&st->lock);
		sfs_inc(fs, ctl_connections);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

static struct sfs_ctl_state *ctl_alloc(struct sfs_fs *fs)
{
	struct sfs_ctl_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->fs = fs;
	st->listen_fd = -1;
	st->stop_pipe[0] = st->stop_pipe[1] = -1;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	fs->ctl = st;
	return st;
}

int sfs_ctl_prepare(struct sfs_fs *fs, const char *run_base)
{
	struct sfs_ctl_state *st;
	int ret;

	if (fs->ctl)
		return -EBUSY;
	st = ctl_alloc(fs);
	if (!st)
		return -ENOMEM;
	st->run_base = strdup(run_base ? run_base : SCOUTFS_CTL_RUN_BASE);
	st->opts.run_base = st->run_base;
	ret = st->run_base ? make_run_dir(st) : -ENOMEM;
	if (ret)
		sfs_ctl_stop(fs);
	else
		st->prepared = true;
	return ret;
}

int sfs_ctl_start(struct sfs_fs *fs, const struct sfs_ctl_opts *opts)
{
	struct sfs_ctl_state *st = fs->ctl;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int ret;

	if (st && (!st->prepared || st->mount_point))
		return -EBUSY;
	if (!st)
		st = ctl_alloc(fs);
	if (!st)
		return -ENOMEM;
	st->opts = *opts;
	if (st->prepared)
		st->opts.run_base = st->run_base;
	st->mount_point = strdup(opts->mount_point ? opts->mount_point : "");
	st->mount_options = strdup(opts->mount_options ? opts->mount_options : "");
	if (!st->mount_point || !st->mount_options) {
		ret = -ENOMEM;
		goto out;
	}

	ret = (st->prepared ? 0 : make_run_dir(st)) ?: write_mount_files(st);
	if (ret)
		goto out;

	snprintf(st->sock_path, sizeof(st->sock_path), "%s/" SCOUTFS_CTL_SOCKET_NAME, st->dir);
	if (strlen(st->sock_path) >= sizeof(sun.sun_path)) {
		sfs_err(fs, "ctl: socket path %s is longer than a socket address allows",
			st->sock_path);
		ret = -ENAMETOOLONG;
		goto out;
	}
	strcpy(sun.sun_path, st->sock_path);
	st->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (st->listen_fd < 0 || bind(st->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(st->sock_path, 0666) || listen(st->listen_fd, 64) ||
	    pipe2(st->stop_pipe, O_CLOEXEC)) {
		ret = -errno;
		sfs_err(fs, "ctl: cannot listen on %s: %s", st->sock_path, strerror(-ret));
		goto out;
	}
	ret = -pthread_create(&st->accept_thread, NULL, accept_thread, st);
	if (ret) {
		sfs_err(fs, "ctl: cannot start the accept thread: %s", strerror(-ret));
		goto out;
	}
	st->accept_started = true;
	sfs_debug(fs, "ctl: serving %s", st->sock_path);
out:
	if (ret)
		sfs_ctl_stop(fs);
	return ret;
}

void sfs_ctl_stop(struct sfs_fs *fs)
{
	struct sfs_ctl_state *st = fs->ctl;
	struct ctl_conn *c;

	if (!st)
		return;
	if (st->accept_started) {
		if (write(st->stop_pipe[1], "x", 1) < 0)
			sfs_err(fs, "ctl: cannot stop the accept thread: %s", strerror(errno));
		pthread_join(st->accept_thread, NULL);
	}

	/* connections end when their sockets shut down under them */
	pthread_mutex_lock(&st->lock);
	st->stopping = true;
	for (c = st->conns; c; c = c->next)
		shutdown(c->sock, SHUT_RDWR);
	while (st->conns) {
		reap_conns_locked(st);
		if (st->conns)
			pthread_cond_wait(&st->cond, &st->lock);
	}
	pthread_mutex_unlock(&st->lock);

	if (st->listen_fd >= 0)
		close(st->listen_fd);
	if (st->stop_pipe[0] >= 0)
		close(st->stop_pipe[0]);
	if (st->stop_pipe[1] >= 0)
		close(st->stop_pipe[1]);
	if (st->dir[0])
		remove_dir(st->dir);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	free(st->mount_point);
	free(st->mount_options);
	free(st->run_base);
	free(st);
	fs->ctl = NULL;
}

const char *sfs_ctl_run_dir(struct sfs_fs *fs)
{
	return fs->ctl ? fs->ctl->dir : NULL;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

int sfs_ctl_mount_dev(const char *mnt, dev_t *dev)
{
	char want[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	unsigned int maj, min;
	char point[PATH_MAX];
	char *sep;
	FILE *f;
	int ret = -ENOENT;

	if (!realpath(mnt, want))
		return -errno;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -errno;
	/* the last matching line is the mount on top */
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, point) != 3)
			continue;
		unescape(point);
		sep = strstr(line, " - ");
		if (strcmp(point, want) || !sep || strncmp(sep + 3, "fuse", 4))
			continue;
		*dev = makedev(maj, min);
		ret = 0;
	}
	free(line);
	fclose(f);
	return ret;
}
