// SPDX-License-Identifier: GPL-2.0
/*
 * net: framing, authentication, sessions, sequencing and resend.
 *
 * Everything runs on loopback (127.0.0.1, ::1) with port 0.  Frames sent
 * on raw sockets are built here byte by byte and tagged with OpenSSL
 * directly, so the wire format is checked independently of net.c.  Every
 * wait is a bounded poll.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "net.h"
#include "log.h"

#define WAIT_MS 10000

enum {
	CMD_ECHO = 0,	/* answer at once: val ^ ECHO_XOR */
	CMD_DEFER = 1,	/* answered later by the responder thread */
	CMD_FAIL = 2,	/* handler returns -ENOSPC */
	CMD_SILENT = 3,	/* never answered */
	CMD_NR = 4,	/* cmds >= this have no handler; 3 < CMD_NR has one */
};
#define ECHO_XOR 0x5a5a5a5a5a5a5a5aULL
#define MAX_IDX 4096

struct req {
	uint32_t idx;
	uint32_t pad;
	uint64_t val;
};

struct deferred {
	struct deferred *next;
	struct sfs_net_conn *conn;
	uint64_t id;
	uint16_t cmd;
	struct req req;
};

struct side {
	struct sfs_fs fs;
	struct sfs_net *net;
	atomic_uint warns;
	atomic_uint ups_new, ups_resumed, downs, downs_over, expired;
	/* server: the conn of the newest session, referenced */
	_Atomic(struct sfs_net_conn *) conn;
	bool keep_conn;
};

struct tctx {
	struct side srv;
	struct side cli;
	struct sockaddr_storage addr;	/* the server's bound address */
	socklen_t addrlen;
	uint8_t key[SCOUTFS_NET_KEY_BYTES];

	atomic_uint handled[MAX_IDX];	/* handler runs per request idx (server) */
	atomic_uint answered[MAX_IDX];	/* response callbacks per request idx (client) */
	atomic_uint bad_answers;
	atomic_uint handled_total;
	atomic_uint handled_at[MAX_IDX];	/* handled_total when request idx was handled */
	atomic_uint silent_handled;
	atomic_bool resolvable;			/* hook_resolve answers t->addr */
	atomic_uint resolves;

	/* the responder thread answers CMD_DEFER */
	pthread_mutex_t dlock;
	pthread_cond_t dcond;
	struct deferred *dhead, **dtail;
	bool dstop;
	bool dstarted;
	pthread_t dthread;
};

struct reqarg {
	struct tctx *t;
	uint32_t idx;
	uint64_t val;
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define WAIT_UNTIL(cond)                                                          \
	do {                                                                      \
		uint64_t _end = mono_ms() + WAIT_MS;                              \
		while (!(cond) && mono_ms() < _end)                               \
			sleep_ms(1);                                              \
		if (!(cond))                                                      \
			fail_msg("timed out waiting for %s", #cond);              \
	} while (0)

static struct sfs_net_stats stats(struct side *s)
{
	struct sfs_net_stats st;

	sfs_net_get_stats(s->net, &st);
	return st;
}

/* ------------------------------------------------------------------ */
/* Handlers and callbacks                                               */
/* ------------------------------------------------------------------ */

static void log_sink(void *arg, int prio, const char *line)
{
	struct side *s = arg;

	if (prio <= LOG_WARNING)
		atomic_fetch_add(&s->warns, 1);
	if (getenv("SFS_TEST_VERBOSE"))
		fprintf(stderr, "%s\n", line);
}

static void up_cb(struct sfs_net_conn *conn, bool new_session, void *arg)
{
	struct side *s = arg;
	struct sfs_net_conn *old;

	if (new_session && s->keep_conn) {
		sfs_net_conn_get(conn);
		old = atomic_exchange(&s->conn, conn);
		if (old)
			sfs_net_conn_put(old);
	}
	atomic_fetch_add(new_session ? &s->ups_new : &s->ups_resumed, 1);
}

static void down_cb(struct sfs_net_conn *conn, bool over, void *arg)
{
	struct side *s = arg;

	(void)conn;
	atomic_fetch_add(over ? &s->downs_over : &s->downs, 1);
}

static void expired_cb(struct sfs_net_conn *conn, void *arg)
{
	struct side *s = arg;

	(void)conn;
	atomic_fetch_add(&s->expired, 1);
}

static void count_handled(struct tctx *t, const struct req *req)
{
	unsigned int n = atomic_fetch_add(&t->handled_total, 1) + 1;

	if (req->idx < MAX_IDX) {
		atomic_fetch_add(&t->handled[req->idx], 1);
		atomic_store(&t->handled_at[req->idx], n);
	}
}

static int h_echo(struct sfs_net_conn *conn, uint64_t id, uint16_t cmd, const void *data,
		  uint32_t len, void *arg)
{
	struct tctx *t = arg;
	struct req req;

	if (len != sizeof(req))
		return sfs_net_respond(conn, id, cmd, 0, data, len);
	memcpy(&req, data, sizeof(req));
	count_handled(t, &req);
	req.val ^= ECHO_XOR;
	return sfs_net_respond(conn, id, cmd, 0, &req, sizeof(req));
}

static int h_defer(struct sfs_net_conn *conn, uint64_t id, uint16_t cmd, const void *data,
		   uint32_t len, void *arg)
{
	struct tctx *t = arg;
	struct deferred *d;

	if (len != sizeof(struct req))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memcpy(&d->req, data, sizeof(d->req));
	count_handled(t, &d->req);
	sfs_net_conn_get(conn);
	d->conn = conn;
	d->id = id;
	d->cmd = cmd;
	pthread_mutex_lock(&t->dlock);
	*t->dtail = d;
	t->dtail = &d->next;
	pthread_cond_signal(&t->dcond);
	pthread_mutex_unlock(&t->dlock);
	return 0;
}

static int h_fail(struct sfs_net_conn *conn, uint64_t id, uint16_t cmd, const void *data,
		  uint32_t len, void *arg)
{
	(void)conn, (void)id, (void)cmd, (void)data, (void)len, (void)arg;
	return -ENOSPC;
}

static int h_silent(struct sfs_net_conn *conn, uint64_t id, uint16_t cmd, const void *data,
		    uint32_t len, void *arg)
{
	struct tctx *t = arg;

	(void)conn, (void)id, (void)cmd, (void)data, (void)len;
	atomic_fetch_add(&t->silent_handled, 1);
	return 0;
}

static const sfs_net_handler_fn handlers[CMD_NR] = {
	[CMD_ECHO] = h_echo,
	[CMD_DEFER] = h_defer,
	[CMD_FAIL] = h_fail,
	[CMD_SILENT] = h_silent,
};

static void *responder(void *arg)
{
	struct tctx *t = arg;
	struct deferred *d;

	pthread_mutex_lock(&t->dlock);
	for (;;) {
		while (!t->dhead && !t->dstop)
			pthread_cond_wait(&t->dcond, &t->dlock);
		if (!t->dhead)
			break;
		d = t->dhead;
		t->dhead = d->next;
		if (!t->dhead)
			t->dtail = &t->dhead;
		pthread_mutex_unlock(&t->dlock);

		d->req.val ^= ECHO_XOR;
		sfs_net_respond(d->conn, d->id, d->cmd, 0, &d->req, sizeof(d->req));
		sfs_net_conn_put(d->conn);
		free(d);
		pthread_mutex_lock(&t->dlock);
	}
	pthread_mutex_unlock(&t->dlock);
	return NULL;
}

static void resp_cb(void *arg, int err, const void *data, uint32_t len)
{
	struct reqarg *ra = arg;
	struct req req;

	atomic_fetch_add(&ra->t->answered[ra->idx], 1);
	if (err || len != sizeof(req)) {
		atomic_fetch_add(&ra->t->bad_answers, 1);
		return;
	}
	memcpy(&req, data, sizeof(req));
	if (req.idx != ra->idx || req.val != (ra->val ^ ECHO_XOR))
		atomic_fetch_add(&ra->t->bad_answers, 1);
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                             */
/* ------------------------------------------------------------------ */

static void side_init(struct side *s, const char *ident)
{
	memset(s, 0, sizeof(*s));
	sfs_fs_log_init(&s->fs, ident);
	s->fs.log_level = LOG_DEBUG;
	s->fs.log_fn = log_sink;
	s->fs.log_arg = s;
}

static void base_opts(struct tctx *t, struct side *s, struct sfs_net_opts *o,
		      enum sfs_net_role role)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->key, t->key, sizeof(o->key));
	o->role = role;
	o->handlers = handlers;
	o->nr_handlers = CMD_NR;
	o->handler_arg = t;
	o->up = up_cb;
	o->down = down_cb;
	o->expired = expired_cb;
	o->cb_arg = s;
	o->reconnect_min_ms = 5;
	o->reconnect_max_ms = 50;
	o->connect_timeout_ms = 2000;
	o->ack_delay_ms = 5;
}

static int start_server_opts(struct tctx *t, int family, const struct sfs_net_opts *o)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int ret;

	t->srv.net = sfs_net_create(&t->srv.fs, o);
	assert_non_null(t->srv.net);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	}
	ret = sfs_net_listen(t->srv.net, (struct sockaddr *)&ss, len, &t->addr);
	t->addrlen = len;
	return ret;
}

static void start_server(struct tctx *t, uint32_t linger_ms)
{
	struct sfs_net_opts o;

	base_opts(t, &t->srv, &o, SFS_NET_SERVER);
	o.linger_ms = linger_ms;
	assert_int_equal(start_server_opts(t, AF_INET, &o), 0);
}

static void start_client_opts(struct tctx *t, uint64_t rid, const struct sfs_net_opts *o)
{
	t->cli.net = sfs_net_create(&t->cli.fs, o);
	assert_non_null(t->cli.net);
	assert_int_equal(sfs_net_connect(t->cli.net, (struct sockaddr *)&t->addr, t->addrlen, rid),
			 0);
}

static void start_client(struct tctx *t, uint64_t rid)
{
	struct sfs_net_opts o;

	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	start_client_opts(t, rid, &o);
}

static int setup(void **state)
{
	static const uint8_t uuid[16] = { 0x5c, 0x07, 0xf5, 0xd0, 1, 2, 3, 4,
					  5, 6, 7, 8, 9, 10, 11, 12 };
	struct tctx *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	side_init(&t->srv, "server");
	side_init(&t->cli, "client");
	t->srv.keep_conn = true;
	if (sfs_net_derive_key(uuid, t->key))
		return -1;
	pthread_mutex_init(&t->dlock, NULL);
	pthread_cond_init(&t->dcond, NULL);
	t->dtail = &t->dhead;
	if (pthread_create(&t->dthread, NULL, responder, t))
		return -1;
	t->dstarted = true;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;
	struct sfs_net_conn *conn;

	if (t->dstarted) {
		pthread_mutex_lock(&t->dlock);
		t->dstop = true;
		pthread_cond_signal(&t->dcond);
		pthread_mutex_unlock(&t->dlock);
		pthread_join(t->dthread, NULL);
	}
	sfs_net_destroy(&t->cli.net);
	conn = atomic_exchange(&t->srv.conn, NULL);
	if (conn)
		sfs_net_conn_put(conn);
	sfs_net_destroy(&t->srv.net);
	pthread_cond_destroy(&t->dcond);
	pthread_mutex_destroy(&t->dlock);
	free(t);
	return 0;
}

static int echo_sync(struct sfs_net_conn *conn, uint32_t idx, uint64_t val)
{
	struct req req = { .idx = idx, .val = val };
	struct req resp;
	uint32_t len = sizeof(resp);
	int ret;

	ret = sfs_net_request_sync(conn, CMD_ECHO, &req, sizeof(req), &resp, &len, WAIT_MS);
	if (ret)
		return ret;
	if (len != sizeof(resp) || resp.idx != idx || resp.val != (val ^ ECHO_XOR))
		return -EBADMSG;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Keys and errors                                                      */
/* ------------------------------------------------------------------ */

static void test_derive_key(void **state)
{
	/* HKDF-SHA256(ikm 00..0f, no salt, info "scoutfsd net v1"), computed independently */
	static const uint8_t want[32] = {
		0xe4, 0xe6, 0x9e, 0x20, 0xcc, 0x5c, 0xa1, 0x40, 0x13, 0xe9, 0x25, 0x61, 0x0f, 0x65,
		0x8a, 0x62, 0x39, 0x2f, 0x49, 0xea, 0x03, 0x8d, 0x54, 0x29, 0xf8, 0xb5, 0xdc, 0xe8,
		0x76, 0x46, 0x12, 0xec,
	};
	uint8_t uuid[16], key[32], key2[32];
	int i;
	(void)state;

	for (i = 0; i < 16; i++)
		uuid[i] = i;
	assert_int_equal(sfs_net_derive_key(uuid, key), 0);
	assert_memory_equal(key, want, sizeof(want));
	uuid[15] ^= 1;
	assert_int_equal(sfs_net_derive_key(uuid, key2), 0);
	assert_memory_not_equal(key, key2, sizeof(key));
}

static void test_wire_errors(void **state)
{
	static const int errs[] = { ENOENT, ENOMEM, EIO, ENOSPC, EINVAL, ENOLINK, ESTALE,
				    EEXIST, EAGAIN, ECONNRESET, EOVERFLOW, EROFS, EOPNOTSUPP,
				    ETIMEDOUT, EPERM, EACCES, EBUSY, ENOTEMPTY, ENODATA, EDQUOT,
				    EFBIG, ENAMETOOLONG, ESHUTDOWN, ECANCELED, ERANGE };
	bool seen[SCOUTFS_NET_ERR__NR] = { false };
	uint8_t w;
	size_t i;
	(void)state;

	assert_int_equal(sfs_net_err_to_wire(0), SCOUTFS_NET_ERR_NONE);
	assert_int_equal(sfs_net_err_from_wire(SCOUTFS_NET_ERR_NONE), 0);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		w = sfs_net_err_to_wire(-errs[i]);
		assert_true(w > 0 && w < SCOUTFS_NET_ERR__NR);
		assert_false(seen[w]);
		seen[w] = true;
		assert_int_equal(sfs_net_err_from_wire(w), -errs[i]);
		assert_int_equal(sfs_net_err_to_wire(errs[i]), w);
	}
	/* the reference's values */
	assert_int_equal(sfs_net_err_to_wire(-ENOENT), 1);
	assert_int_equal(sfs_net_err_to_wire(-ENOLINK), 6);
	assert_int_equal(sfs_net_err_to_wire(-ENOTSUP), SCOUTFS_NET_ERR_EOPNOTSUPP);
	/* unknown both ways: EIO */
	assert_int_equal(sfs_net_err_to_wire(-EXDEV), SCOUTFS_NET_ERR_EIO);
	assert_int_equal(sfs_net_err_from_wire(SCOUTFS_NET_ERR__NR), -EIO);
	assert_int_equal(sfs_net_err_from_wire(255), -EIO);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                          */
/* ------------------------------------------------------------------ */

static void test_roundtrip(void **state)
{
	struct tctx *t = *state;
	struct sfs_net_conn *conn;
	struct sfs_net_stats st;
	struct req req = { .idx = 7, .val = 1 };
	uint8_t *big;
	uint32_t len;
	int i;

	start_server(t, 0);
	start_client(t, 0x1111);
	conn = sfs_net_client_conn(t->cli.net);
	assert_non_null(conn);
	assert_int_equal(sfs_net_conn_session_id(conn), 0x1111);

	assert_int_equal(echo_sync(conn, 1, 0x1234), 0);
	assert_int_equal(t->handled[1], 1);

	/* a handler's error crosses the wire as an enum and comes back as -errno */
	len = 0;
	assert_int_equal(sfs_net_request_sync(conn, CMD_FAIL, NULL, 0, NULL, &len, WAIT_MS),
			 -ENOSPC);

	/* a cmd without a handler is answered, not dropped */
	assert_int_equal(sfs_net_request_sync(conn, CMD_NR + 5, NULL, 0, NULL, NULL, WAIT_MS),
			 -EOPNOTSUPP);
	assert_int_equal(stats(&t->srv).unknown_cmd, 1);

	/* a response larger than the caller's buffer */
	len = 4;
	assert_int_equal(sfs_net_request_sync(conn, CMD_ECHO, &req, sizeof(req), &req, &len,
					      WAIT_MS), -EOVERFLOW);
	assert_int_equal(len, sizeof(req));

	/* the largest payload there is, both ways; one more byte is refused */
	big = malloc(SCOUTFS_NET_MAX_DATA_LEN + 1);
	assert_non_null(big);
	for (i = 0; i < (int)SCOUTFS_NET_MAX_DATA_LEN; i++)
		big[i] = (uint8_t)(i * 7);
	len = SCOUTFS_NET_MAX_DATA_LEN;
	assert_int_equal(sfs_net_request_sync(conn, CMD_ECHO, big, SCOUTFS_NET_MAX_DATA_LEN, big,
					      &len, WAIT_MS), 0);
	assert_int_equal(len, SCOUTFS_NET_MAX_DATA_LEN);
	for (i = 0; i < (int)SCOUTFS_NET_MAX_DATA_LEN; i += 4093)
		assert_int_equal(big[i], (uint8_t)(i * 7));
	assert_int_equal(sfs_net_request(conn, CMD_ECHO, big, SCOUTFS_NET_MAX_DATA_LEN + 1, NULL,
					 NULL), -EINVAL);
	free(big);

	/* a request nobody answers times out; its late answer would be ignored */
	assert_int_equal(sfs_net_request_sync(conn, CMD_SILENT, NULL, 0, NULL, NULL, 20),
			 -ETIMEDOUT);

	/* one session each side, up once */
	assert_int_equal(t->srv.ups_new, 1);
	assert_int_equal(t->cli.ups_new, 1);
	st = stats(&t->cli);
	assert_int_equal(st.sessions_new, 1);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(st.bad_hmac + st.bad_frame + st.bad_magic + st.seq_gap, 0);
	assert_int_equal(t->srv.warns, 1);	/* the unknown cmd */
	assert_int_equal(t->cli.warns, 0);
}

static void test_server_requests(void **state)
{
	struct tctx *t = *state;
	struct req req = { .idx = 5, .val = 1000 }, resp;
	struct sfs_net_conn *sconn;
	uint32_t len = sizeof(resp);

	start_server(t, 0);
	start_client(t, 0x2222);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 0, 5), 0);
	sconn = atomic_load(&t->srv.conn);
	assert_non_null(sconn);
	assert_int_equal(sfs_net_conn_session_id(sconn), 0x2222);

	/* the server sends requests to its client just the same */
	assert_int_equal(sfs_net_request_sync(sconn, CMD_ECHO, &req, sizeof(req), &resp, &len,
					      WAIT_MS), 0);
	assert_int_equal(resp.val, 1000 ^ ECHO_XOR);
	assert_int_equal(t->handled[5], 1);
	len = 0;
	assert_int_equal(sfs_net_request_sync(sconn, CMD_FAIL, NULL, 0, NULL, &len, WAIT_MS),
			 -ENOSPC);
	assert_int_equal(sfs_net_request(NULL, CMD_ECHO, NULL, 0, NULL, NULL), -EINVAL);
	assert_int_equal(sfs_net_respond(sconn, 0, CMD_ECHO, 0, NULL, 0), -EINVAL);
}

struct submitter {
	struct tctx *t;
	struct sfs_net_conn *conn;
	struct reqarg *args;
	uint32_t first;
	uint32_t nr;
	unsigned int pause_every;
	int err;
};

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;
	struct req req;
	uint32_t i, idx;
	int ret;

	for (i = 0; i < s->nr; i++) {
		idx = s->first + i;
		s->args[idx].t = s->t;
		s->args[idx].idx = idx;
		s->args[idx].val = ((uint64_t)idx << 32) | (idx * 2654435761U);
		req.idx = idx;
		req.pad = 0;
		req.val = s->args[idx].val;
		ret = sfs_net_request(s->conn, (idx & 1) ? CMD_DEFER : CMD_ECHO, &req, sizeof(req),
				      resp_cb, &s->args[idx]);
		if (ret && !s->err)
			s->err = ret;
		if (s->pause_every && (i % s->pause_every) == 0)
			sleep_ms(1);
	}
	return NULL;
}

/* requests 0..nr-1 each ran and were answered once; @extra other requests ran */
static void check_exactly_once(struct tctx *t, uint32_t nr, uint32_t extra)
{
	uint32_t i;

	WAIT_UNTIL(atomic_load(&t->handled_total) >= nr + extra);
	for (i = 0; i < nr; i++) {
		WAIT_UNTIL(atomic_load(&t->answered[i]) >= 1);
	}
	/* let anything that would be a duplicate arrive */
	sleep_ms(20);
	for (i = 0; i < nr; i++) {
		if (t->handled[i] != 1 || t->answered[i] != 1)
			fail_msg("request %u: handled %u times, answered %u times", i,
				 t->handled[i], t->answered[i]);
	}
	assert_int_equal(t->handled_total, nr + extra);
	assert_int_equal(t->bad_answers, 0);
}

static void test_many_concurrent(void **state)
{
	struct tctx *t = *state;
	enum { THREADS = 4, PER = 500 };
	struct submitter subs[THREADS];
	pthread_t threads[THREADS];
	struct reqarg *args;
	int i;

	args = calloc(THREADS * PER, sizeof(*args));
	assert_non_null(args);
	start_server(t, 0);
	start_client(t, 0x3333);
	for (i = 0; i < THREADS; i++) {
		subs[i] = (struct submitter){ .t = t, .conn = sfs_net_client_conn(t->cli.net),
					      .args = args, .first = i * PER, .nr = PER };
		assert_int_equal(pthread_create(&threads[i], NULL, submit_thread, &subs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(subs[i].err, 0);
	}
	check_exactly_once(t, THREADS * PER, 0);
	assert_int_equal(stats(&t->cli).resent, 0);
	assert_int_equal(stats(&t->srv).dup_dropped, 0);
	free(args);
}

/*
 * Cut the connection again and again (from either side) while requests
 * stream: every request is handled exactly once and answered exactly
 * once, and the session survives.
 */
static void test_drop_resend(void **state)
{
	struct tctx *t = *state;
	enum { NR = 3000, DROPS = 12 };
	struct submitter sub;
	struct sfs_net_stats cst, sst;
	struct reqarg *args;
	pthread_t thread;
	unsigned int prev;
	int i;

	args = calloc(NR, sizeof(*args));
	assert_non_null(args);
	start_server(t, 0);
	start_client(t, 0x4444);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), NR, 0), 0);

	sub = (struct submitter){ .t = t, .conn = sfs_net_client_conn(t->cli.net), .args = args,
				  .first = 0, .nr = NR, .pause_every = 50 };
	assert_int_equal(pthread_create(&thread, NULL, submit_thread, &sub), 0);
	for (i = 0; i < DROPS; i++) {
		prev = t->handled_total;
		WAIT_UNTIL(t->handled_total > prev || t->handled_total >= NR + 1);
		sfs_net_test_drop_conn((i & 1) ? t->srv.net : t->cli.net);
		sleep_ms(3);
	}
	pthread_join(thread, NULL);
	assert_int_equal(sub.err, 0);
	check_exactly_once(t, NR, 1);

	cst = stats(&t->cli);
	sst = stats(&t->srv);
	print_message("%d drops: %llu reconnects, resent %llu by the client and %llu by the "
		      "server, %llu + %llu duplicates dropped\n", DROPS,
		      (unsigned long long)cst.reconnects, (unsigned long long)cst.resent,
		      (unsigned long long)sst.resent, (unsigned long long)cst.dup_dropped,
		      (unsigned long long)sst.dup_dropped);
	assert_true(cst.reconnects >= 1);
	/* one session all along, resumed on every reconnect */
	assert_int_equal(sst.sessions_new, 1);
	assert_int_equal(cst.sessions_new, 1);
	assert_true(sst.sessions_resumed >= cst.sessions_resumed);
	assert_int_equal(cst.sessions_resumed, cst.reconnects);
	assert_int_equal(t->srv.ups_new, 1);
	assert_int_equal(t->cli.ups_new, 1);
	WAIT_UNTIL(t->cli.ups_resumed == cst.reconnects);
	assert_int_equal(sst.bad_hmac + sst.bad_frame + sst.bad_magic + sst.seq_gap, 0);
	assert_int_equal(cst.bad_hmac + cst.bad_frame + cst.bad_magic + cst.seq_gap, 0);
	free(args);
}

/* ------------------------------------------------------------------ */
/* Frames by hand                                                       */
/* ------------------------------------------------------------------ */

struct raw {
	int fd;
	uint8_t ckey[32];
	uint8_t cnonce[16];
	uint8_t snonce[16];
	uint64_t sess;
	uint64_t recv_seq;	/* last we received */
	uint64_t peer_last;	/* last_recv in the server's HELLO */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

struct frame {
	uint32_t magic;
	uint8_t version, type, flags, error;
	uint64_t seq, recv_seq, id;
	uint16_t cmd;
	uint32_t len;		/* data_len field */
	const void *data;
	uint32_t data_bytes;	/* bytes of data actually appended */
};

/* header at the offsets format.h documents, then data, then HMAC-SHA256 */
static size_t build(uint8_t *buf, const uint8_t *key, const struct frame *f)
{
	unsigned int tl = 0;

	memset(buf, 0, 40);
	put32(buf, f->magic ? f->magic : 0x7366734e);
	buf[4] = f->version ? f->version : 1;
	buf[5] = f->type;
	buf[6] = f->flags;
	buf[7] = f->error;
	put64(buf + 8, f->seq);
	put64(buf + 16, f->recv_seq);
	put64(buf + 24, f->id);
	put16(buf + 32, f->cmd);
	put32(buf + 36, f->len);
	if (f->data_bytes)
		memcpy(buf + 40, f->data, f->data_bytes);
	assert_non_null(HMAC(EVP_sha256(), key, 32, buf, 40 + f->data_bytes,
			     buf + 40 + f->data_bytes, &tl));
	return 40 + f->data_bytes + 32;
}

static void raw_send(struct raw *r, const void *buf, size_t len)
{
	assert_int_equal(send(r->fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t n;

	while (have < len) {
		if (poll(&pfd, 1, WAIT_MS) != 1)
			return -ETIMEDOUT;
		n = read(fd, buf + have, len - have);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return -errno;
		have += n;
	}
	return 0;
}

/* read one frame the server sent and check its tag; returns data_len or -errno */
static int raw_recv(struct raw *r, const uint8_t *key, uint8_t *hdr, uint8_t *data, uint32_t cap)
{
	uint8_t tag[32], want[32];
	unsigned int tl = 0;
	uint8_t *all;
	uint32_t len;
	int ret;

	ret = read_full(r->fd, hdr, 40);
	if (ret)
		return ret;
	assert_int_equal(get32(hdr), 0x7366734e);
	len = get32(hdr + 36);
	assert_true(len <= cap);
	ret = read_full(r->fd, data, len);
	if (ret == 0)
		ret = read_full(r->fd, tag, 32);
	if (ret)
		return ret;
	all = malloc(40 + len);
	assert_non_null(all);
	memcpy(all, hdr, 40);
	memcpy(all + 40, data, len);
	HMAC(EVP_sha256(), key, 32, all, 40 + len, want, &tl);
	free(all);
	assert_memory_equal(tag, want, 32);
	return len;
}

static void raw_open(struct tctx *t, struct raw *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&t->addr, t->addrlen), 0);
}

static void hello_payload(uint8_t *p, uint64_t rid, uint64_t peer_session, uint64_t last_recv,
			  const uint8_t *nonce)
{
	memset(p, 0, 56);
	put64(p, rid);
	put64(p + 8, peer_session);
	put64(p + 16, last_recv);
	memcpy(p + 24, nonce, 16);
}

/*
 * Connect and say HELLO as rid, naming server session @sess (0: none) and
 * the last seq received from it; the server's reply is checked and the
 * connection key derived.  r->sess and r->recv_seq carry over.
 */
static void raw_hello_as(struct tctx *t, struct raw *r, uint64_t rid, uint64_t sess,
			 uint64_t last_recv)
{
	static const char label[] = "scoutfsd conn v1";
	uint8_t buf[256], hdr[40], data[64], in[16 + 32];
	struct frame f = { .type = 1, .len = 56, .data = data, .data_bytes = 56 };
	unsigned int tl = 0;

	raw_open(t, r);
	r->sess = sess;
	r->recv_seq = last_recv;
	assert_int_equal(RAND_bytes(r->cnonce, 16), 1);
	hello_payload(data, rid, sess, last_recv, r->cnonce);
	raw_send(r, buf, build(buf, t->key, &f));

	assert_int_equal(raw_recv(r, t->key, hdr, data, sizeof(data)), 56);
	assert_int_equal(hdr[5], 1);	/* HELLO */
	assert_int_equal(hdr[6], 1);	/* RESPONSE */
	assert_int_equal(get64(hdr + 8), 0);
	if (sess)
		assert_int_equal(get64(data), sess);
	r->sess = get64(data);
	assert_true(r->sess != 0);
	assert_int_equal(get64(data + 8), rid);
	r->peer_last = get64(data + 16);
	if (!sess)
		assert_int_equal(r->peer_last, 0);
	assert_memory_equal(data + 40, r->cnonce, 16);
	memcpy(r->snonce, data + 24, 16);

	memcpy(in, label, 16);
	memcpy(in + 16, r->cnonce, 16);
	memcpy(in + 32, r->snonce, 16);
	assert_non_null(HMAC(EVP_sha256(), t->key, 32, in, sizeof(in), r->ckey, &tl));
}

static void raw_hello(struct tctx *t, struct raw *r, uint64_t rid)
{
	raw_hello_as(t, r, rid, 0, 0);
}

static void raw_request(struct raw *r, uint64_t seq, uint64_t id, uint16_t cmd, uint32_t idx)
{
	struct req req = { .idx = idx, .val = 77 };
	struct frame f = { .type = 3, .seq = seq, .recv_seq = r->recv_seq, .id = id, .cmd = cmd,
			   .len = sizeof(req), .data = &req, .data_bytes = sizeof(req) };
	uint8_t buf[256];

	raw_send(r, buf, build(buf, r->ckey, &f));
}

/* read frames until a MSG response arrives; returns its error, fills *id */
static int raw_response(struct raw *r, uint64_t *id, struct req *req)
{
	uint8_t hdr[40], data[64];
	int len;

	for (;;) {
		len = raw_recv(r, r->ckey, hdr, data, sizeof(data));
		assert_true(len >= 0);
		if (hdr[5] == 2)	/* ACK */
			continue;
		assert_int_equal(hdr[5], 3);
		assert_int_equal(hdr[6], 1);
		assert_int_equal(get64(hdr + 8), r->recv_seq + 1);
		r->recv_seq = get64(hdr + 8);
		*id = get64(hdr + 24);
		if (req && len == (int)sizeof(*req))
			memcpy(req, data, sizeof(*req));
		return hdr[7];
	}
}

/* the server closed the socket (after whatever frames it had sent) */
static bool raw_closed(struct raw *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	uint8_t buf[4096];
	uint64_t end = mono_ms() + WAIT_MS;
	ssize_t n;

	while (mono_ms() < end) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		n = read(r->fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

static void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* after each attack the server still serves a good client */
static void good_client_works(struct tctx *t, uint32_t idx)
{
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), idx, idx * 3), 0);
}

#define EXPECT_DROP(t, r, field, before_stats, before_warns)                       \
	do {                                                                       \
		assert_true(raw_closed(r));                                        \
		WAIT_UNTIL(stats(&(t)->srv).field == (before_stats).field + 1);    \
		assert_int_equal((t)->srv.warns, (before_warns) + 1);              \
		raw_close(r);                                                      \
	} while (0)

static void test_raw_frames(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[256], data[64];
	struct sfs_net_stats st;
	unsigned int warns;
	struct raw r;
	struct frame f;
	struct req req;
	uint64_t id;
	uint8_t badkey[32];

	start_server(t, 0);
	start_client(t, 0x5555);
	good_client_works(t, 100);

	/* truncated: half a header, then the stream ends */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_open(t, &r);
	f = (struct frame){ .type = 1, .len = 56, .data = data, .data_bytes = 56 };
	hello_payload(data, 0x9001, 0, 0, (uint8_t *)"0123456789abcdef");
	build(buf, t->key, &f);
	raw_send(&r, buf, 20);
	shutdown(r.fd, SHUT_WR);
	EXPECT_DROP(t, &r, truncated, st, warns);
	good_client_works(t, 101);

	/* truncated inside the data and tag */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_open(t, &r);
	raw_send(&r, buf, 40 + 30);
	shutdown(r.fd, SHUT_WR);
	EXPECT_DROP(t, &r, truncated, st, warns);

	/* oversized after a good HELLO: dropped on the header, the data never sent */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9002);
	f = (struct frame){ .type = 3, .seq = 1, .id = 1, .len = SCOUTFS_NET_MAX_DATA_LEN + 1 };
	build(buf, r.ckey, &f);
	raw_send(&r, buf, 40);
	EXPECT_DROP(t, &r, oversized, st, warns);
	/* and a huge data_len in the very first frame */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_open(t, &r);
	f = (struct frame){ .type = 1, .len = 0xffffffffU };
	build(buf, t->key, &f);
	raw_send(&r, buf, 40);
	EXPECT_DROP(t, &r, oversized, st, warns);
	good_client_works(t, 102);

	/* bad HMAC: a HELLO under another volume's key */
	st = stats(&t->srv);
	warns = t->srv.warns;
	memset(badkey, 0x42, sizeof(badkey));
	raw_open(t, &r);
	f = (struct frame){ .type = 1, .len = 56, .data = data, .data_bytes = 56 };
	hello_payload(data, 0x9003, 0, 0, (uint8_t *)"0123456789abcdef");
	raw_send(&r, buf, build(buf, badkey, &f));
	EXPECT_DROP(t, &r, bad_hmac, st, warns);

	/* bad HMAC after HELLO: a message tagged with the volume key, not the connection's */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9004);
	req = (struct req){ .idx = 200, .val = 1 };
	f = (struct frame){ .type = 3, .seq = 1, .id = 1, .cmd = CMD_ECHO, .len = sizeof(req),
			    .data = &req, .data_bytes = sizeof(req) };
	raw_send(&r, buf, build(buf, t->key, &f));
	EXPECT_DROP(t, &r, bad_hmac, st, warns);
	assert_int_equal(t->handled[200], 0);

	/* a flipped data byte */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9005);
	f.recv_seq = 0;
	build(buf, r.ckey, &f);
	buf[41] ^= 1;
	raw_send(&r, buf, 40 + sizeof(req) + 32);
	EXPECT_DROP(t, &r, bad_hmac, st, warns);
	assert_int_equal(t->handled[200], 0);
	good_client_works(t, 103);

	/* bad magic */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_open(t, &r);
	f = (struct frame){ .magic = 0xdeadbeef, .type = 1, .len = 56, .data = data,
			    .data_bytes = 56 };
	raw_send(&r, buf, build(buf, t->key, &f));
	EXPECT_DROP(t, &r, bad_magic, st, warns);

	/* other malformed frames: a message before HELLO, bad version, bad type, bad pad */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_open(t, &r);
	f = (struct frame){ .type = 3, .seq = 1, .id = 1, .len = 56, .data = data,
			    .data_bytes = 56 };
	raw_send(&r, buf, build(buf, t->key, &f));
	EXPECT_DROP(t, &r, bad_frame, st, warns);

	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_open(t, &r);
	f = (struct frame){ .version = 9, .type = 1, .len = 56, .data = data, .data_bytes = 56 };
	raw_send(&r, buf, build(buf, t->key, &f));
	EXPECT_DROP(t, &r, bad_frame, st, warns);

	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9006);
	f = (struct frame){ .type = 7, .seq = 1, .id = 1 };
	raw_send(&r, buf, build(buf, r.ckey, &f));
	EXPECT_DROP(t, &r, bad_frame, st, warns);

	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9007);
	f = (struct frame){ .type = 3, .seq = 1, .id = 1, .error = 3, .cmd = CMD_ECHO,
			    .len = sizeof(req), .data = &req, .data_bytes = sizeof(req) };
	raw_send(&r, buf, build(buf, r.ckey, &f));	/* a request carrying an error */
	EXPECT_DROP(t, &r, bad_frame, st, warns);
	good_client_works(t, 104);

	/* unknown command: answered EOPNOTSUPP, counted, the connection stays */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9008);
	raw_request(&r, 1, 1, 999, 300);
	assert_int_equal(raw_response(&r, &id, NULL), SCOUTFS_NET_ERR_EOPNOTSUPP);
	assert_int_equal(id, 1);
	assert_int_equal(stats(&t->srv).unknown_cmd, st.unknown_cmd + 1);
	assert_int_equal(t->srv.warns, warns + 1);
	raw_request(&r, 2, 2, CMD_ECHO, 301);
	assert_int_equal(raw_response(&r, &id, &req), 0);
	assert_int_equal(id, 2);
	assert_int_equal(req.idx, 301);
	assert_int_equal(req.val, 77 ^ ECHO_XOR);

	/* replayed seq on the same connection: dropped unprocessed, connection stays */
	st = stats(&t->srv);
	raw_request(&r, 3, 3, CMD_ECHO, 302);
	assert_int_equal(raw_response(&r, &id, &req), 0);
	raw_request(&r, 3, 3, CMD_ECHO, 302);
	WAIT_UNTIL(stats(&t->srv).dup_dropped == st.dup_dropped + 1);
	raw_request(&r, 4, 4, CMD_ECHO, 303);
	assert_int_equal(raw_response(&r, &id, &req), 0);
	assert_int_equal(id, 4);
	assert_int_equal(t->handled[302], 1);
	assert_int_equal(t->handled[303], 1);
	assert_int_equal(t->srv.warns, warns + 1);

	/* a seq gap: dropped */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_request(&r, 6, 6, CMD_ECHO, 304);
	EXPECT_DROP(t, &r, seq_gap, st, warns);
	assert_int_equal(t->handled[304], 0);

	/* an ACK of a seq never sent */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x9009);
	f = (struct frame){ .type = 2, .recv_seq = 5 };
	raw_send(&r, buf, build(buf, r.ckey, &f));
	EXPECT_DROP(t, &r, bad_frame, st, warns);

	/* a frame recorded on one connection is refused on another */
	st = stats(&t->srv);
	warns = t->srv.warns;
	raw_hello(t, &r, 0x900a);
	req = (struct req){ .idx = 305, .val = 1 };
	f = (struct frame){ .type = 3, .seq = 1, .id = 1, .cmd = CMD_ECHO, .len = sizeof(req),
			    .data = &req, .data_bytes = sizeof(req) };
	build(buf, r.ckey, &f);
	raw_close(&r);
	raw_hello(t, &r, 0x900b);
	raw_send(&r, buf, 40 + sizeof(req) + 32);
	EXPECT_DROP(t, &r, bad_hmac, st, warns);
	assert_int_equal(t->handled[305], 0);

	good_client_works(t, 105);
	st = stats(&t->cli);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(t->cli.warns, 0);
}

/*
 * Resume by hand: the server resends what was not acknowledged (the
 * response, not a second run of the handler), takes nothing twice, and
 * forgets what the HELLO acknowledges.
 */
static void test_raw_resume(void **state)
{
	struct tctx *t = *state;
	struct sfs_net_stats st;
	struct raw r;
	struct req req;
	uint64_t sess, id;

	start_server(t, 0);
	raw_hello(t, &r, 0xa001);
	sess = r.sess;
	raw_request(&r, 1, 1, CMD_ECHO, 400);
	assert_int_equal(raw_response(&r, &id, &req), 0);
	assert_int_equal(id, 1);
	raw_close(&r);	/* the response is never acknowledged */
	WAIT_UNTIL(t->srv.downs == 1);

	/* HELLO says nothing was received: the response comes again, same seq */
	st = stats(&t->srv);
	raw_hello_as(t, &r, 0xa001, sess, 0);
	assert_int_equal(r.sess, sess);
	assert_int_equal(r.peer_last, 1);	/* it has our request */
	assert_int_equal(raw_response(&r, &id, &req), 0);
	assert_int_equal(id, 1);
	assert_int_equal(req.idx, 400);
	assert_int_equal(stats(&t->srv).resent, st.resent + 1);

	/* sending the request again anyway is a duplicate */
	raw_request(&r, 1, 1, CMD_ECHO, 400);
	WAIT_UNTIL(stats(&t->srv).dup_dropped == st.dup_dropped + 1);
	assert_int_equal(t->handled[400], 1);
	raw_close(&r);

	/* this time the HELLO acknowledges the response: the next frame is new */
	raw_hello_as(t, &r, 0xa001, sess, 1);
	assert_int_equal(r.peer_last, 1);
	raw_request(&r, 2, 2, CMD_ECHO, 401);
	assert_int_equal(raw_response(&r, &id, &req), 0);
	assert_int_equal(id, 2);
	assert_int_equal(req.idx, 401);
	assert_int_equal(r.recv_seq, 2);
	assert_int_equal(t->handled[400], 1);
	assert_int_equal(t->handled[401], 1);

	/* one session all along */
	st = stats(&t->srv);
	assert_int_equal(st.sessions_new, 1);
	assert_int_equal(st.sessions_resumed, 2);
	assert_int_equal(t->srv.warns, 0);
	raw_close(&r);
}

static void test_hello_timeout(void **state)
{
	struct tctx *t = *state;
	struct sfs_net_opts o;
	struct raw r;

	base_opts(t, &t->srv, &o, SFS_NET_SERVER);
	o.connect_timeout_ms = 50;
	assert_int_equal(start_server_opts(t, AF_INET, &o), 0);
	raw_open(t, &r);
	assert_true(raw_closed(&r));
	raw_close(&r);
	assert_int_equal(stats(&t->srv).timeouts, 1);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

static void srv_resp_cb(void *arg, int err, const void *data, uint32_t len)
{
	atomic_int *res = arg;

	(void)data, (void)len;
	atomic_store(res, err ? err : 1);
}

static void test_linger_expiry(void **state)
{
	struct tctx *t = *state;
	struct sfs_net_conn *sconn;
	struct sfs_net_opts o;
	struct req req = { .idx = 10, .val = 1 };
	atomic_int res = 0;

	start_server(t, 250);
	start_client(t, 0x6666);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 1, 1), 0);
	sconn = atomic_load(&t->srv.conn);
	assert_non_null(sconn);
	sfs_net_conn_get(sconn);

	/* the client goes away for good: down, then the session ends after linger */
	sfs_net_destroy(&t->cli.net);
	sfs_net_destroy(&t->cli.net);	/* safe twice */
	WAIT_UNTIL(t->srv.downs == 1);
	/* a request to a lingering session waits; it fails when the session ends */
	assert_int_equal(sfs_net_request(sconn, CMD_ECHO, &req, sizeof(req), srv_resp_cb, &res),
			 0);
	WAIT_UNTIL(t->srv.downs_over == 1);
	assert_int_equal(stats(&t->srv).sessions_expired, 1);
	WAIT_UNTIL(t->srv.expired == 1);
	WAIT_UNTIL(atomic_load(&res) != 0);
	assert_int_equal(atomic_load(&res), -ECONNRESET);
	assert_int_equal(sfs_net_request(sconn, CMD_ECHO, NULL, 0, NULL, NULL), -ECONNRESET);
	assert_int_equal(sfs_net_respond(sconn, 1, CMD_ECHO, 0, NULL, 0), -ENOTCONN);
	sfs_net_conn_put(sconn);

	/*
	 * The same rid again, reconnecting slower than the server lingers: the
	 * second connection finds a new server session, and the client resends
	 * what it had queued while disconnected.
	 */
	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	o.reconnect_min_ms = 600;
	o.reconnect_max_ms = 600;
	atomic_store(&t->cli.ups_new, 0);
	start_client_opts(t, 0x6666, &o);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 2, 2), 0);
	assert_int_equal(t->srv.ups_new, 2);
	WAIT_UNTIL(t->cli.ups_new == 1);

	sfs_net_test_drop_conn(t->srv.net);
	WAIT_UNTIL(t->srv.downs_over == 2);
	/* queued while disconnected, sent to the new session after the reconnect */
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 3, 3), 0);
	assert_int_equal(t->handled[3], 1);
	assert_int_equal(t->srv.ups_new, 3);
	assert_int_equal(t->cli.ups_new, 2);
	assert_int_equal(t->cli.ups_resumed, 0);
	assert_int_equal(stats(&t->srv).sessions_expired, 2);
	assert_int_equal(stats(&t->cli).reconnects, 1);
}

static void test_resume_within_linger(void **state)
{
	struct tctx *t = *state;
	int i;

	start_server(t, 60000);
	start_client(t, 0x7777);
	for (i = 0; i < 5; i++) {
		assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), i, i), 0);
		sfs_net_test_drop_conn(t->cli.net);
	}
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 5, 5), 0);
	assert_int_equal(t->srv.ups_new, 1);
	assert_int_equal(t->cli.ups_new, 1);
	assert_int_equal(t->cli.ups_resumed, 5);
	WAIT_UNTIL(t->srv.ups_resumed == 5);
	assert_int_equal(stats(&t->srv).sessions_expired, 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(t->handled[i], 1);
}

/* a client with the same rid but a fresh incarnation ends the old session */
static void test_new_incarnation(void **state)
{
	struct tctx *t = *state;

	start_server(t, 60000);
	start_client(t, 0x8888);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 1, 1), 0);
	sfs_net_destroy(&t->cli.net);
	start_client(t, 0x8888);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 2, 2), 0);
	WAIT_UNTIL(t->srv.downs_over == 1);
	assert_int_equal(t->srv.ups_new, 2);
	assert_int_equal(stats(&t->srv).sessions_new, 2);
	assert_int_equal(stats(&t->srv).sessions_expired, 0);
	/* replaced, not expired: the server must not take it for gone */
	assert_int_equal(t->srv.expired, 0);
}

/*
 * Keepalives: a quiet but live session stays up for many idle timeouts;
 * a peer that says nothing (a stopped process, whose kernel keeps TCP
 * up) is dropped once the idle timeout passes.
 */
static void test_keepalive_idle(void **state)
{
	struct tctx *t = *state;
	struct sfs_net_opts o;
	struct raw r;

	base_opts(t, &t->srv, &o, SFS_NET_SERVER);
	o.keepalive_ms = 50;
	o.idle_timeout_ms = 300;
	assert_int_equal(start_server_opts(t, AF_INET, &o), 0);
	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	o.keepalive_ms = 50;
	o.idle_timeout_ms = 300;
	start_client_opts(t, 0xaaaa, &o);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 1, 1), 0);
	sleep_ms(1200);
	assert_int_equal(stats(&t->srv).idle_drops, 0);
	assert_int_equal(stats(&t->cli).idle_drops, 0);
	assert_int_equal(t->cli.downs, 0);
	assert_true(stats(&t->srv).keepalives_sent >= 5);
	assert_true(stats(&t->cli).keepalives_sent >= 5);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 2, 2), 0);

	/* a raw peer that greets and then says nothing */
	raw_open(t, &r);
	raw_hello(t, &r, 0xbbbb);
	assert_true(raw_closed(&r));
	raw_close(&r);
	WAIT_UNTIL(stats(&t->srv).idle_drops == 1);
	/* the good client was never dropped */
	assert_int_equal(t->cli.downs, 0);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 3, 3), 0);
}

/* the client's alive hook says stop: it disconnects for good */
static void silent_cb(void *arg, int err, const void *data, uint32_t len);
static atomic_bool alive_ok;
static atomic_uint alive_heard, alive_looks;

static bool hook_alive(void *arg, bool heard)
{
	(void)arg;
	atomic_fetch_add(heard ? &alive_heard : &alive_looks, 1);
	return atomic_load(&alive_ok);
}

static void test_client_halt(void **state)
{
	struct tctx *t = *state;
	struct req req = { .idx = 5, .val = 5 };
	struct sfs_net_opts o;
	atomic_int silent = 0;
	uint64_t connects;

	atomic_store(&alive_ok, true);
	atomic_store(&alive_heard, 0);
	atomic_store(&alive_looks, 0);
	start_server(t, 300);
	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	o.keepalive_ms = 50;
	o.alive = hook_alive;
	start_client_opts(t, 0xcccc, &o);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 1, 1), 0);
	assert_true(atomic_load(&alive_heard) >= 2);	/* HELLO and the response */
	WAIT_UNTIL(atomic_load(&alive_looks) >= 2);
	assert_int_equal(sfs_net_request(sfs_net_client_conn(t->cli.net), CMD_SILENT, &req,
					 sizeof(req), silent_cb, &silent),
			 0);
	WAIT_UNTIL(atomic_load(&t->silent_handled) == 1);

	atomic_store(&alive_ok, false);
	/* the pending request fails, new ones are refused, the session expires */
	WAIT_UNTIL(atomic_load(&silent) != 0);
	assert_int_equal(atomic_load(&silent), -ENOLINK);
	assert_int_equal(sfs_net_request(sfs_net_client_conn(t->cli.net), CMD_ECHO, &req,
					 sizeof(req), NULL, NULL),
			 -ENOLINK);
	WAIT_UNTIL(t->srv.expired == 1);
	connects = stats(&t->cli).connects;
	sleep_ms(300);
	assert_int_equal(stats(&t->cli).connects, connects);
	assert_int_equal(stats(&t->srv).sessions_new, 1);
}

/* the client hooks of a server change (test_new_server) */
static struct tctx *hook_t;
static struct reqarg hook_first_ra;

static int hook_resolve(void *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	(void)arg;
	if (!atomic_load(&hook_t->resolvable))
		return -ENOENT;
	memcpy(ss, &hook_t->addr, hook_t->addrlen);
	*len = hook_t->addrlen;
	atomic_fetch_add(&hook_t->resolves, 1);
	return 0;
}

static bool hook_drain(void *arg, uint16_t cmd)
{
	(void)arg;
	return cmd == CMD_SILENT;
}

static int hook_first(void *arg, uint16_t *cmd, void *data, sfs_net_resp_fn *resp,
		      void **resp_arg)
{
	struct req req = { .idx = 100, .val = 7 };

	(void)arg;
	memcpy(data, &req, sizeof(req));
	*cmd = CMD_ECHO;
	hook_first_ra = (struct reqarg){ .t = hook_t, .idx = 100, .val = 7 };
	*resp = resp_cb;
	*resp_arg = &hook_first_ra;
	return (int)sizeof(req);
}

static void silent_cb(void *arg, int err, const void *data, uint32_t len)
{
	atomic_int *res = arg;

	(void)data, (void)len;
	atomic_store(res, err ? err : 1);
}

/*
 * The server goes away and another comes up elsewhere: the client asks
 * resolve for the new address, the new session opens with the
 * session_first message ahead of the resent requests, and the drained
 * request fails with -ECONNRESET instead of reaching the new server.
 * The first session gets no session_first message.
 */
static void test_new_server(void **state)
{
	struct tctx *t = *state;
	struct req req = { .idx = 2, .val = 2 };
	struct sfs_net_conn *conn;
	struct sfs_net_opts o;
	atomic_int silent = 0;

	hook_t = t;
	start_server(t, 60000);
	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	o.resolve = hook_resolve;
	o.drain = hook_drain;
	o.session_first = hook_first;
	start_client_opts(t, 0x9999, &o);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 1, 1), 0);
	assert_int_equal(t->handled[100], 0);
	assert_int_equal(sfs_net_request(sfs_net_client_conn(t->cli.net), CMD_SILENT, &req,
					 sizeof(req), silent_cb, &silent),
			 0);
	WAIT_UNTIL(atomic_load(&t->silent_handled) == 1);

	/* the server dies; nothing to connect to for a while */
	conn = atomic_exchange(&t->srv.conn, NULL);
	if (conn)
		sfs_net_conn_put(conn);
	sfs_net_destroy(&t->srv.net);
	sleep_ms(100);
	assert_int_equal(atomic_load(&silent), 0);

	/* another server on another port: found through resolve */
	start_server(t, 60000);
	atomic_store(&t->resolvable, true);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 3, 3), 0);
	WAIT_UNTIL(atomic_load(&silent) != 0);
	assert_int_equal(atomic_load(&silent), -ECONNRESET);
	assert_int_equal(atomic_load(&t->silent_handled), 1);
	assert_int_equal(stats(&t->cli).drained, 1);
	WAIT_UNTIL(atomic_load(&t->answered[100]) == 1);
	assert_int_equal(t->handled[100], 1);
	assert_true(atomic_load(&t->handled_at[100]) < atomic_load(&t->handled_at[3]));
	assert_true(atomic_load(&t->resolves) >= 1);
	assert_int_equal(atomic_load(&t->bad_answers), 0);
}

static void test_ipv6(void **state)
{
	struct tctx *t = *state;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sfs_net_opts o;
	int fd;

	/* skip where ::1 is not configured */
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);

	base_opts(t, &t->srv, &o, SFS_NET_SERVER);
	assert_int_equal(start_server_opts(t, AF_INET6, &o), 0);
	assert_int_equal(t->addr.ss_family, AF_INET6);
	start_client(t, 0x9999);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 1, 1), 0);
	sfs_net_test_drop_conn(t->cli.net);
	assert_int_equal(echo_sync(sfs_net_client_conn(t->cli.net), 2, 2), 0);
	assert_int_equal(t->cli.ups_resumed, 1);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

static void test_lifecycle(void **state)
{
	struct tctx *t = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sfs_net_opts o;
	struct sfs_net *net = NULL;
	struct reqarg ra = { .t = t, .idx = 0 };
	struct sfs_net_stats st;
	socklen_t len = sizeof(sin);
	int fd;

	/* nothing to destroy, and a failed create */
	sfs_net_destroy(&net);
	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	o.role = 0;
	assert_null(sfs_net_create(&t->cli.fs, &o));

	/* a port nobody listens on: bind one, note it, close it */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	memcpy(&t->addr, &sin, sizeof(sin));
	t->addrlen = sizeof(sin);

	base_opts(t, &t->cli, &o, SFS_NET_CLIENT);
	start_client_opts(t, 0xaaaa, &o);
	assert_int_equal(sfs_net_connect(t->cli.net, (struct sockaddr *)&t->addr, t->addrlen,
					 0xaaaa), -EBUSY);
	assert_int_equal(sfs_net_listen(t->cli.net, (struct sockaddr *)&t->addr, t->addrlen,
					NULL), -EINVAL);

	/* queued while the server is absent; destroy completes it with -ESHUTDOWN */
	assert_int_equal(sfs_net_request(sfs_net_client_conn(t->cli.net), CMD_ECHO, NULL, 0,
					 resp_cb, &ra), 0);
	assert_int_equal(sfs_net_request_sync(sfs_net_client_conn(t->cli.net), CMD_ECHO, NULL, 0,
					      NULL, NULL, 30), -ETIMEDOUT);
	sleep_ms(20);
	st = stats(&t->cli);
	assert_int_equal(st.connects, 0);
	sfs_net_destroy(&t->cli.net);
	assert_null(t->cli.net);
	assert_int_equal(t->answered[0], 1);
	assert_int_equal(t->bad_answers, 1);	/* -ESHUTDOWN */

	/* a server that never listened */
	base_opts(t, &t->srv, &o, SFS_NET_SERVER);
	t->srv.net = sfs_net_create(&t->srv.fs, &o);
	assert_non_null(t->srv.net);
	assert_int_equal(sfs_net_connect(t->srv.net, (struct sockaddr *)&t->addr, t->addrlen, 1),
			 -EINVAL);
	sfs_net_destroy(&t->srv.net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derive_key),
		cmocka_unit_test(test_wire_errors),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linger_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_within_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_incarnation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_halt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
