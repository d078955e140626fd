// SPDX-License-Identifier: GPL-2.0
/*
 * net: authenticated, sequenced, resendable messages over TCP.
 *
 * Model.  A struct sfs_net is a server (one listening socket, any number of
 * client sessions) or a client (one session).  A session (struct
 * sfs_net_conn) is identified by the client's rid and outlives TCP
 * connections (struct net_sock).  Each side of a session numbers the
 * messages it sends (seq from 1) and keeps each one in its sendq until the
 * peer acknowledges it: every frame carries recv_seq, the greatest seq the
 * sender has received, and an idle receiver sends an ACK frame after
 * ack_delay_ms or at once after ACK_EVERY unacknowledged messages.  A
 * request also stays in the pend table until its response arrives.
 *
 * A connection starts with a HELLO each way (format.h has the frames).
 * The client's HELLO names the server session it last had and the last seq
 * it received; if the server still has that session (it keeps a
 * disconnected one for linger_ms) both sides forget what the other has
 * received and resend the rest of their sendq in order.  Otherwise the
 * server starts a new session, and the client renumbers its pending
 * requests from seq 1, drops the responses it had queued for the old
 * server and resends the requests (handlers must therefore be idempotent
 * across a change of server session, as in the reference).  The receiver
 * accepts only seq == recv_seq + 1: a lower seq is a duplicate and is
 * dropped unprocessed, a higher one is a protocol error.  So within a
 * session every message is processed exactly once: a request's handler
 * never runs twice, and the response to a request processed before a
 * disconnect waits in the sendq and is resent, never recomputed.
 *
 * Authentication: HELLOs are tagged with the volume key; every later frame
 * with a key derived from both HELLOs' random nonces, so a frame recorded
 * on one TCP connection is refused on every other.
 *
 * Threads: one event thread per sfs_net (net_thread) waits in epoll on
 * the listening socket, the TCP sockets and an eventfd that other threads
 * write after queueing something.  It does all socket I/O, the timers
 * (connect and HELLO timeouts, reconnect backoff, linger, delayed ACKs),
 * and runs handlers and callbacks.
 *
 * Client socket (one at a time, conn->sock):
 *
 *   idle --client_connect--> CONNECTING --client_connected--> HELLO_WAIT
 *     ^      (reconnect_at)                (sends HELLO)          |
 *     |                                                client_hello (reply)
 *     |                                                            v
 *     +---------- sock_kill: error, EOF, timeout, bad frame ------ UP
 *                 reconnect_at = now + backoff (doubling to max)
 *
 * Server socket and session:
 *
 *   server_accept --> HELLO_WAIT --server_hello--> UP --sock_kill--> DEAD
 *   session: server_hello (new) --> connected --sock_kill--> lingering
 *            lingering --server_hello (same session)--> connected
 *            lingering --run_timers (linger_ms passed)--> session_end
 *            any --server_hello (same rid, other session)--> session_end
 *
 * Invariants:
 *  1. conn->sendq holds, in seq order without gaps, exactly the messages
 *     the peer has not acknowledged; conn->send_next is the first of them
 *     not yet written on the current socket (NULL: all written).
 *  2. A request is in conn->pend from submission until its response is
 *     taken or the request is failed (session over, destroy); a message is
 *     freed when it is in neither sendq nor pend.
 *  3. conn->recv_seq advances by exactly one per accepted message, and
 *     only then is the message acted on (handler or response callback
 *     queued, EOPNOTSUPP answered, or an unmatched response ignored).
 *  4. Frames are authenticated (HMAC) before any field other than magic,
 *     version and data_len is looked at; before HELLO a peer can make us
 *     allocate only a HELLO-sized frame, after it at most
 *     SCOUTFS_NET_MAX_DATA_LEN.
 *  5. Only the event thread reads sockets and frees socket structs (reap,
 *     at the end of a loop iteration).  Sockets are written under
 *     net->lock: by the event thread, or by a thread that queued a message
 *     and writes it at once (send_now).  Any thread may kill a socket
 *     under net->lock, which moves it to the reap list.
 *  6. Handlers and callbacks run on the event thread without net->lock, in
 *     the order their frames were accepted (sfs_net_destroy runs the last
 *     response callbacks on its own thread).
 *
 * Lock order: net->lock protects everything in struct sfs_net and every
 * conn and sock; it is a leaf: nothing else is taken under it.  A sync
 * waiter's mutex is taken without net->lock.
 *
 * Failure: anything wrong with a frame (magic, version, size, tag, fields,
 * seq gap, truncation) counts a stat, logs one line and drops the TCP
 * connection; the session survives and the client reconnects.  Memory
 * failure on a socket drops that connection.
 *
 * Liveness: a side that has sent nothing for keepalive_ms sends an ACK,
 * and a connection on which nothing arrived for idle_timeout_ms is
 * dropped: a stopped or hung peer keeps its kernel's TCP connection up,
 * so only silence tells.  A server session whose client stays away for
 * linger_ms ends with the expired callback (the server fences the
 * mount).  A client's alive hook sees every frame heard and a periodic
 * look; when it says stop (self-fencing) the client halts for good.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "net.h"
#include "log.h"

#define HDR_BYTES ((uint32_t)sizeof(struct scoutfs_net_header))
#define TAG_BYTES SCOUTFS_NET_TAG_BYTES
#define HELLO_BYTES ((uint32_t)sizeof(struct scoutfs_net_hello))

#define STAGE_BYTES (64 * 1024)		/* one read(2), shared by all sockets */
#define READS_PER_EVENT 16		/* then let other sockets have a turn */
#define OBUF_HIGH (256 * 1024)		/* stop encoding past this much unsent */
#define ACK_EVERY 32			/* ACK at once after this many messages */
#define MAX_HELLO_WAIT 256		/* unauthenticated sockets at once */
#define PEND_BUCKETS 64
#define MAX_EVENTS 64

#define DEF_LINGER_MS 60000
#define DEF_RECONNECT_MIN_MS 100
#define DEF_RECONNECT_MAX_MS 5000
#define DEF_CONNECT_TIMEOUT_MS 10000
#define DEF_ACK_DELAY_MS 10
#define DEF_KEEPALIVE_MS 1000
#define DEF_IDLE_TIMEOUT_MS 10000

#define KEEPIDLE_S 10
#define KEEPINTVL_S 2
#define KEEPCNT 5
#define USER_TIMEOUT_MS 30000

struct list_node {
	struct list_node *next;
	struct list_node *prev;
};

static void list_init(struct list_node *head)
{
	head->next = head;
	head->prev = head;
}

static bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

static void list_add_tail(struct list_node *node, struct list_node *head)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static void list_del(struct list_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->next = node;
	node->prev = node;
}

#define list_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head) \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

/*
 * A handler or callback to run on the event thread without net->lock.
 * It holds a reference on its conn; mem is freed once it has run.
 */
enum dlv_type {
	DLV_REQUEST,
	DLV_RESPONSE,
	DLV_UP,
	DLV_DOWN,
	DLV_EXPIRED,
};

struct dlv {
	struct dlv *next;
	enum dlv_type type;
	bool flag;		/* UP: new_session, DOWN: session_over */
	int err;
	struct sfs_net_conn *conn;
	sfs_net_resp_fn resp;
	void *resp_arg;
	uint64_t id;
	uint16_t cmd;
	uint32_t len;
	const uint8_t *data;
	void *mem;
};

/* a received frame: header, data and tag, handed on whole as a delivery */
struct rx_frame {
	struct dlv dlv;
	uint8_t buf[];
};

/* under net->lock; data is immutable once queued */
struct net_msg {
	struct list_node send_entry;	/* conn->sendq while unacknowledged */
	struct list_node pend_entry;	/* conn->pend[] while a request awaits */
	struct dlv dlv;			/* fails the request without allocating */
	uint64_t seq;
	uint64_t id;
	uint16_t cmd;
	uint8_t flags;
	uint8_t error;
	bool in_sendq;
	bool in_pend;
	uint32_t sent;			/* times written to a socket */
	sfs_net_resp_fn resp;
	void *resp_arg;
	uint32_t len;
	uint8_t data[];
};

enum sock_state {
	SK_CONNECTING,
	SK_HELLO_WAIT,
	SK_UP,
	SK_DEAD,
};

/* under net->lock; only the event thread reads, writes and frees it (invariant 5) */
struct net_sock {
	struct list_node entry;		/* net->socks, then net->reap */
	struct sfs_net_conn *conn;	/* client: always; server: from HELLO */
	int fd;
	enum sock_state state;
	bool epoll_out;
	uint64_t deadline;		/* CONNECTING, HELLO_WAIT: give up at */
	uint64_t last_recv;		/* UP: when the peer's last frame arrived */
	uint64_t last_send;		/* UP: when our last frame was encoded */
	char peer[INET6_ADDRSTRLEN + 16];
	uint8_t nonce[SCOUTFS_NET_NONCE_BYTES];	/* ours */
	uint8_t key[SCOUTFS_NET_KEY_BYTES];	/* connection key once UP */

	/* receive: a header being assembled, then the frame it announced */
	uint8_t hdr[sizeof(struct scoutfs_net_header)];
	uint32_t hdr_have;
	struct rx_frame *rx;
	uint32_t rx_have;
	uint32_t rx_need;

	/* send: encoded frames, written from ooff */
	uint8_t *obuf;
	size_t olen;
	size_t ooff;
	size_t ocap;
};

/* all fields under net->lock unless said otherwise */
struct sfs_net_conn {
	struct sfs_net *net;		/* immutable */
	struct list_node entry;		/* net->conns while live, else net->dead_conns */
	unsigned int refs;
	uint64_t rid;			/* the client's session id, immutable */
	uint64_t sess;			/* server's session id (client: last one had) */
	bool over;
	struct net_sock *sock;

	uint64_t send_seq;		/* last seq assigned */
	uint64_t recv_seq;		/* greatest seq accepted */
	uint64_t next_id;		/* last request id assigned */
	uint64_t ack_sent;		/* recv_seq last sent on the current socket */
	uint64_t ack_deadline;		/* send an ACK by then, 0: none due */
	struct list_node sendq;
	struct net_msg *send_next;
	struct list_node pend[PEND_BUCKETS];

	/* client */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t reconnect_at;		/* 0: not waiting to connect */
	uint32_t backoff_ms;
	bool ever_up;
	bool tried;			/* a connection was attempted */

	/* server */
	uint64_t linger_until;		/* 0: connected */
};

/* under lock unless said otherwise */
struct sfs_net {
	struct sfs_fs *fs;		/* immutable */
	struct sfs_net_opts opts;	/* immutable copy, handlers below */
	sfs_net_handler_fn *handlers;	/* immutable */

	pthread_mutex_t lock;
	bool lock_init;			/* set up and torn down by one thread */
	pthread_t thread;
	bool thread_started;		/* likewise */
	int epfd;			/* immutable while the thread runs */
	int evfd;			/* likewise */
	int lfd;
	bool stopping;

	struct list_node socks;
	struct list_node reap;
	struct list_node conns;		/* server sessions */
	struct list_node dead_conns;	/* ended, still referenced */
	struct sfs_net_conn *client;
	unsigned int nr_hello_wait;
	bool halted;			/* client: opts.alive said stop, for good */

	struct dlv *dlv_head;
	struct dlv **dlv_tail;
	struct sfs_net_stats stats;
	uint8_t *stage;			/* event thread only */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool on_event_thread(struct sfs_net *net)
{
	return net->thread_started && pthread_equal(pthread_self(), net->thread);
}

static void net_kick(struct sfs_net *net)
{
	uint64_t one = 1;
	ssize_t ret;

	if (on_event_thread(net) || net->evfd < 0)
		return;
	/* EAGAIN means the counter is already non-zero: the loop will wake */
	ret = write(net->evfd, &one, sizeof(one));
	(void)ret;
}

/* ------------------------------------------------------------------ */
/* Keys, tags and wire errors                                           */
/* ------------------------------------------------------------------ */

int sfs_net_derive_key(const uint8_t uuid[SCOUTFS_UUID_BYTES], uint8_t key[SCOUTFS_NET_KEY_BYTES])
{
	static const char label[] = SCOUTFS_NET_KEY_LABEL;
	size_t len = SCOUTFS_NET_KEY_BYTES;
	EVP_PKEY_CTX *pctx;
	int ret = -EIO;

	pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (!pctx)
		goto out;
	if (EVP_PKEY_derive_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_key(pctx, uuid, SCOUTFS_UUID_BYTES) <= 0 ||
	    EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)label,
					sizeof(label) - 1) <= 0 ||
	    EVP_PKEY_derive(pctx, key, &len) <= 0 || len != SCOUTFS_NET_KEY_BYTES)
		goto out;
	ret = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	return ret;
}

/* the connection key: HMAC(volume key, label || client nonce || server nonce) */
static int derive_conn_key(const uint8_t *vkey, const uint8_t *cnonce, const uint8_t *snonce,
			   uint8_t *ckey)
{
	static const char label[] = SCOUTFS_NET_CONN_LABEL;
	uint8_t in[sizeof(label) - 1 + 2 * SCOUTFS_NET_NONCE_BYTES];
	unsigned int len = 0;

	memcpy(in, label, sizeof(label) - 1);
	memcpy(in + sizeof(label) - 1, cnonce, SCOUTFS_NET_NONCE_BYTES);
	memcpy(in + sizeof(label) - 1 + SCOUTFS_NET_NONCE_BYTES, snonce,
	       SCOUTFS_NET_NONCE_BYTES);
	if (!HMAC(EVP_sha256(), vkey, SCOUTFS_NET_KEY_BYTES, in, sizeof(in), ckey, &len) ||
	    len != SCOUTFS_NET_KEY_BYTES)
		return -EIO;
	return 0;
}

static int frame_tag(const uint8_t *key, const uint8_t *buf, size_t len, uint8_t *tag)
{
	unsigned int tlen = 0;

	if (!HMAC(EVP_sha256(), key, SCOUTFS_NET_KEY_BYTES, buf, len, tag, &tlen) ||
	    tlen != TAG_BYTES)
		return -EIO;
	return 0;
}

static const struct {
	uint8_t wire;
	int err;
} wire_errs[] = {
	{ SCOUTFS_NET_ERR_ENOENT, ENOENT },
	{ SCOUTFS_NET_ERR_ENOMEM, ENOMEM },
	{ SCOUTFS_NET_ERR_EIO, EIO },
	{ SCOUTFS_NET_ERR_ENOSPC, ENOSPC },
	{ SCOUTFS_NET_ERR_EINVAL, EINVAL },
	{ SCOUTFS_NET_ERR_ENOLINK, ENOLINK },
	{ SCOUTFS_NET_ERR_ESTALE, ESTALE },
	{ SCOUTFS_NET_ERR_EEXIST, EEXIST },
	{ SCOUTFS_NET_ERR_EAGAIN, EAGAIN },
	{ SCOUTFS_NET_ERR_ECONNRESET, ECONNRESET },
	{ SCOUTFS_NET_ERR_EOVERFLOW, EOVERFLOW },
	{ SCOUTFS_NET_ERR_EROFS, EROFS },
	{ SCOUTFS_NET_ERR_EOPNOTSUPP, EOPNOTSUPP },
	{ SCOUTFS_NET_ERR_ETIMEDOUT, ETIMEDOUT },
	{ SCOUTFS_NET_ERR_EPERM, EPERM },
	{ SCOUTFS_NET_ERR_EACCES, EACCES },
	{ SCOUTFS_NET_ERR_EBUSY, EBUSY },
	{ SCOUTFS_NET_ERR_ENOTEMPTY, ENOTEMPTY },
	{ SCOUTFS_NET_ERR_ENODATA, ENODATA },
	{ SCOUTFS_NET_ERR_EDQUOT, EDQUOT },
	{ SCOUTFS_NET_ERR_EFBIG, EFBIG },
	{ SCOUTFS_NET_ERR_ENAMETOOLONG, ENAMETOOLONG },
	{ SCOUTFS_NET_ERR_ESHUTDOWN, ESHUTDOWN },
	{ SCOUTFS_NET_ERR_ECANCELED, ECANCELED },
	{ SCOUTFS_NET_ERR_ERANGE, ERANGE },
};
_Static_assert(sizeof(wire_errs) / sizeof(wire_errs[0]) == SCOUTFS_NET_ERR__NR - 1,
	       "every wire error has an errno");

uint8_t sfs_net_err_to_wire(int err)
{
	size_t i;

	if (err == 0)
		return SCOUTFS_NET_ERR_NONE;
	if (err == INT_MIN)
		return SCOUTFS_NET_ERR_EIO;
	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(wire_errs) / sizeof(wire_errs[0]); i++) {
		if (wire_errs[i].err == err)
			return wire_errs[i].wire;
	}
	return SCOUTFS_NET_ERR_EIO;
}

int sfs_net_err_from_wire(uint8_t werr)
{
	size_t i;

	if (werr == SCOUTFS_NET_ERR_NONE)
		return 0;
	for (i = 0; i < sizeof(wire_errs) / sizeof(wire_errs[0]); i++) {
		if (wire_errs[i].wire == werr)
			return -wire_errs[i].err;
	}
	return -EIO;
}

/* ------------------------------------------------------------------ */
/* Messages, conns and deliveries (all under net->lock)                 */
/* ------------------------------------------------------------------ */

static struct net_msg *msg_alloc(const void *data, uint32_t len)
{
	struct net_msg *msg;

	msg = calloc(1, sizeof(*msg) + len);
	if (!msg)
		return NULL;
	list_init(&msg->send_entry);
	list_init(&msg->pend_entry);
	msg->len = len;
	if (len)
		memcpy(msg->data, data, len);
	return msg;
}

static struct list_node *pend_bucket(struct sfs_net_conn *conn, uint64_t id)
{
	return &conn->pend[id % PEND_BUCKETS];
}

static struct net_msg *pend_find(struct sfs_net_conn *conn, uint64_t id)
{
	struct list_node *head = pend_bucket(conn, id);
	struct list_node *pos, *tmp;
	struct net_msg *msg;

	list_for_each_safe(pos, tmp, head) {
		msg = list_entry(pos, struct net_msg, pend_entry);
		if (msg->id == id)
			return msg;
	}
	return NULL;
}

static struct net_msg *sendq_next(struct sfs_net_conn *conn, struct net_msg *msg)
{
	struct list_node *next = msg->send_entry.next;

	return next == &conn->sendq ? NULL : list_entry(next, struct net_msg, send_entry);
}

static struct net_msg *sendq_first(struct sfs_net_conn *conn)
{
	if (list_empty(&conn->sendq))
		return NULL;
	return list_entry(conn->sendq.next, struct net_msg, send_entry);
}

static void sendq_del(struct sfs_net_conn *conn, struct net_msg *msg)
{
	if (conn->send_next == msg)
		conn->send_next = sendq_next(conn, msg);
	list_del(&msg->send_entry);
	msg->in_sendq = false;
}

static void dlv_queue(struct sfs_net *net, struct dlv *d)
{
	d->next = NULL;
	*net->dlv_tail = d;
	net->dlv_tail = &d->next;
}

static void queue_event(struct sfs_net_conn *conn, enum dlv_type type, bool flag)
{
	struct sfs_net *net = conn->net;
	struct dlv *d;

	if (net->stopping)
		return;
	if ((type == DLV_UP && !net->opts.up) || (type == DLV_DOWN && !net->opts.down) ||
	    (type == DLV_EXPIRED && !net->opts.expired))
		return;
	d = calloc(1, sizeof(*d));
	if (!d) {
		sfs_err(net->fs, "net: no memory for a session %s callback",
			type == DLV_UP ? "up" : type == DLV_DOWN ? "down" : "expired");
		return;
	}
	d->type = type;
	d->flag = flag;
	d->conn = conn;
	d->mem = d;
	conn->refs++;
	dlv_queue(net, d);
}

/* queue a message for sending; the caller holds net->lock */
static void conn_queue(struct sfs_net_conn *conn, struct net_msg *msg)
{
	msg->seq = ++conn->send_seq;
	list_add_tail(&msg->send_entry, &conn->sendq);
	msg->in_sendq = true;
	if (!conn->send_next)
		conn->send_next = msg;
	if (!(msg->flags & SCOUTFS_NET_FLAG_RESPONSE)) {
		list_add_tail(&msg->pend_entry, pend_bucket(conn, msg->id));
		msg->in_pend = true;
	}
}

/* the peer has everything up to seq @ack; -EPROTO if it claims more than we sent */
static int conn_ack(struct sfs_net_conn *conn, uint64_t ack)
{
	struct net_msg *msg;

	if (ack > conn->send_seq)
		return -EPROTO;
	while ((msg = sendq_first(conn)) && msg->seq <= ack) {
		sendq_del(conn, msg);
		if (!msg->in_pend)
			free(msg);
	}
	return 0;
}

/* complete every pending request with @err */
static void conn_fail_pending(struct sfs_net_conn *conn, int err)
{
	struct list_node *pos, *tmp;
	struct net_msg *msg;
	int i;

	for (i = 0; i < PEND_BUCKETS; i++) {
		list_for_each_safe(pos, tmp, &conn->pend[i]) {
			msg = list_entry(pos, struct net_msg, pend_entry);
			list_del(&msg->pend_entry);
			msg->in_pend = false;
			if (msg->in_sendq)
				sendq_del(conn, msg);
			if (!msg->resp) {
				free(msg);
				continue;
			}
			memset(&msg->dlv, 0, sizeof(msg->dlv));
			msg->dlv.type = DLV_RESPONSE;
			msg->dlv.err = err;
			msg->dlv.conn = conn;
			msg->dlv.resp = msg->resp;
			msg->dlv.resp_arg = msg->resp_arg;
			msg->dlv.mem = msg;
			conn->refs++;
			dlv_queue(conn->net, &msg->dlv);
		}
	}
}

static void conn_free_msgs(struct sfs_net_conn *conn)
{
	struct list_node *pos, *tmp;
	struct net_msg *msg;
	int i;

	list_for_each_safe(pos, tmp, &conn->sendq) {
		msg = list_entry(pos, struct net_msg, send_entry);
		sendq_del(conn, msg);
		if (!msg->in_pend)
			free(msg);
	}
	for (i = 0; i < PEND_BUCKETS; i++) {
		list_for_each_safe(pos, tmp, &conn->pend[i]) {
			msg = list_entry(pos, struct net_msg, pend_entry);
			list_del(&msg->pend_entry);
			free(msg);
		}
	}
	conn->send_next = NULL;
}

static struct sfs_net_conn *conn_alloc(struct sfs_net *net, uint64_t rid)
{
	struct sfs_net_conn *conn;
	int i;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->net = net;
	conn->refs = 1;
	conn->rid = rid;
	list_init(&conn->entry);
	list_init(&conn->sendq);
	for (i = 0; i < PEND_BUCKETS; i++)
		list_init(&conn->pend[i]);
	return conn;
}

static void conn_put_locked(struct sfs_net_conn *conn)
{
	if (--conn->refs > 0)
		return;
	list_del(&conn->entry);
	conn_free_msgs(conn);
	free(conn);
}

/* a pending request that must not reach a new server: failed with -ECONNRESET */
static void conn_drain(struct sfs_net_conn *conn, struct net_msg *msg)
{
	list_del(&msg->pend_entry);
	msg->in_pend = false;
	if (msg->in_sendq)
		sendq_del(conn, msg);
	conn->net->stats.drained++;
	if (!msg->resp) {
		free(msg);
		return;
	}
	memset(&msg->dlv, 0, sizeof(msg->dlv));
	msg->dlv.type = DLV_RESPONSE;
	msg->dlv.err = -ECONNRESET;
	msg->dlv.conn = conn;
	msg->dlv.resp = msg->resp;
	msg->dlv.resp_arg = msg->resp_arg;
	msg->dlv.mem = msg;
	conn->refs++;
	dlv_queue(conn->net, &msg->dlv);
}

/* the session_first message of a new session: seq 1, ahead of the resent requests */
static void conn_first(struct sfs_net *net, struct sfs_net_conn *conn)
{
	uint8_t data[SFS_NET_FIRST_MAX];
	sfs_net_resp_fn resp = NULL;
	void *resp_arg = NULL;
	struct net_msg *msg;
	uint16_t cmd = 0;
	int len;

	len = net->opts.session_first(net->opts.cb_arg, &cmd, data, &resp, &resp_arg);
	if (len < 0 || len > SFS_NET_FIRST_MAX) {
		sfs_err(net->fs, "net: no first message for the new session (%d)", len);
		return;
	}
	msg = msg_alloc(data, (uint32_t)len);
	if (!msg) {
		sfs_err(net->fs, "net: no memory for the new session's first message");
		if (resp)
			resp(resp_arg, -ENOMEM, NULL, 0);
		return;
	}
	msg->cmd = cmd;
	msg->resp = resp;
	msg->resp_arg = resp_arg;
	msg->id = ++conn->next_id;
	conn_queue(conn, msg);
}

/*
 * Client: the server has a new session for us.  Responses queued for the
 * old server are dropped.  When an earlier session existed (another
 * server), the requests opts.drain names fail with -ECONNRESET and the
 * opts.session_first message goes first.  The other pending requests are
 * renumbered after it in the order they were first sent (request ids
 * increase, and each pend bucket is in id order) and will all be sent
 * again.
 */
static void conn_reset(struct sfs_net *net, struct sfs_net_conn *conn, bool again)
{
	struct list_node *pos, *tmp;
	struct net_msg *msg, *best;
	int i;

	list_for_each_safe(pos, tmp, &conn->sendq) {
		msg = list_entry(pos, struct net_msg, send_entry);
		sendq_del(conn, msg);
		if (!msg->in_pend)
			free(msg);
	}
	conn->send_seq = 0;
	conn->recv_seq = 0;
	if (again && net->opts.drain) {
		for (i = 0; i < PEND_BUCKETS; i++) {
			list_for_each_safe(pos, tmp, &conn->pend[i]) {
				msg = list_entry(pos, struct net_msg, pend_entry);
				if (net->opts.drain(net->opts.cb_arg, msg->cmd))
					conn_drain(conn, msg);
			}
		}
	}
	if (again && net->opts.session_first)
		conn_first(net, conn);
	for (;;) {
		best = NULL;
		for (i = 0; i < PEND_BUCKETS; i++) {
			list_for_each_safe(pos, tmp, &conn->pend[i]) {
				msg = list_entry(pos, struct net_msg, pend_entry);
				if (!msg->in_sendq) {
					if (!best || msg->id < best->id)
						best = msg;
					break;
				}
			}
		}
		if (!best)
			break;
		best->seq = ++conn->send_seq;
		list_add_tail(&best->send_entry, &conn->sendq);
		best->in_sendq = true;
	}
	conn->send_next = sendq_first(conn);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                              */
/* ------------------------------------------------------------------ */

static void addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN], serv[8];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, size, "(unknown)");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, serv);
	else
		snprintf(buf, size, "%s:%s", host, serv);
}

static int sock_opts(int fd)
{
	static const struct {
		int level, name, val;
	} opts[] = {
		{ IPPROTO_TCP, TCP_NODELAY, 1 },
		{ SOL_SOCKET, SO_KEEPALIVE, 1 },
		{ IPPROTO_TCP, TCP_KEEPIDLE, KEEPIDLE_S },
		{ IPPROTO_TCP, TCP_KEEPINTVL, KEEPINTVL_S },
		{ IPPROTO_TCP, TCP_KEEPCNT, KEEPCNT },
		{ IPPROTO_TCP, TCP_USER_TIMEOUT, USER_TIMEOUT_MS },
	};
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (setsockopt(fd, opts[i].level, opts[i].name, &opts[i].val,
			       sizeof(opts[i].val)) < 0)
			return -errno;
	}
	return 0;
}

static int sock_epoll(struct sfs_net *net, struct net_sock *sk, int op, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = sk };

	if (epoll_ctl(net->epfd, op, sk->fd, &ev) < 0)
		return -errno;
	sk->epoll_out = out;
	return 0;
}

static struct net_sock *sock_alloc(struct sfs_net *net, int fd, const struct sockaddr *sa,
				   socklen_t salen)
{
	struct net_sock *sk;

	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return NULL;
	sk->fd = fd;
	addr_text(sa, salen, sk->peer, sizeof(sk->peer));
	list_add_tail(&sk->entry, &net->socks);
	return sk;
}

/*
 * Close a socket (any thread, under net->lock) and let its session know:
 * a client schedules a reconnect, a server session starts lingering.
 */
static void sock_kill(struct sfs_net *net, struct net_sock *sk)
{
	struct sfs_net_conn *conn = sk->conn;
	bool was_up = sk->state == SK_UP;
	uint64_t now;

	if (sk->state == SK_DEAD)
		return;
	if (sk->fd >= 0) {
		epoll_ctl(net->epfd, EPOLL_CTL_DEL, sk->fd, NULL);
		close(sk->fd);
		sk->fd = -1;
	}
	if (sk->state == SK_HELLO_WAIT && net->opts.role == SFS_NET_SERVER)
		net->nr_hello_wait--;
	sk->state = SK_DEAD;
	list_del(&sk->entry);
	list_add_tail(&sk->entry, &net->reap);
	free(sk->rx);
	sk->rx = NULL;

	if (!conn || conn->sock != sk)
		return;
	conn->sock = NULL;
	conn->ack_deadline = 0;
	if (was_up && !conn->over)
		queue_event(conn, DLV_DOWN, false);
	if (net->stopping || conn->over)
		return;
	now = now_ms();
	if (net->opts.role == SFS_NET_CLIENT) {
		conn->reconnect_at = now + conn->backoff_ms;
		conn->backoff_ms *= 2;
		if (conn->backoff_ms > net->opts.reconnect_max_ms)
			conn->backoff_ms = net->opts.reconnect_max_ms;
	} else {
		conn->linger_until = now + net->opts.linger_ms;
	}
}

/* count, log one line, drop the connection; returns -EPROTO for the caller */
__attribute__((format(printf, 4, 5)))
static int sock_fail(struct sfs_net *net, struct net_sock *sk, uint64_t *counter,
		     const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (counter)
		(*counter)++;
	sfs_warn(net->fs, "net: %s: %s, dropping the connection", sk->peer, why);
	sock_kill(net, sk);
	return -EPROTO;
}

static void sock_free(struct net_sock *sk)
{
	free(sk->rx);
	free(sk->obuf);
	free(sk);
}

static void reap_socks(struct sfs_net *net)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &net->reap) {
		list_del(pos);
		sock_free(list_entry(pos, struct net_sock, entry));
	}
}

/* append one tagged frame to the socket's output */
static int sock_encode(struct sfs_net *net, struct net_sock *sk, const uint8_t *key, uint8_t type,
		       uint8_t flags, uint8_t error, uint16_t cmd, uint64_t seq, uint64_t recv_seq,
		       uint64_t id, const void *data, uint32_t len)
{
	struct scoutfs_net_header hdr;
	size_t need = (size_t)HDR_BYTES + len + TAG_BYTES;
	size_t cap;
	uint8_t *buf;

	if (sk->olen + need > sk->ocap) {
		cap = sk->ocap ? sk->ocap : 4096;
		while (cap < sk->olen + need)
			cap *= 2;
		buf = realloc(sk->obuf, cap);
		if (!buf)
			return -ENOMEM;
		sk->obuf = buf;
		sk->ocap = cap;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = htole32(SCOUTFS_NET_MAGIC);
	hdr.version = SCOUTFS_NET_VERSION;
	hdr.type = type;
	hdr.flags = flags;
	hdr.error = error;
	hdr.seq = htole64(seq);
	hdr.recv_seq = htole64(recv_seq);
	hdr.id = htole64(id);
	hdr.cmd = htole16(cmd);
	hdr.data_len = htole32(len);

	buf = sk->obuf + sk->olen;
	memcpy(buf, &hdr, HDR_BYTES);
	if (len)
		memcpy(buf + HDR_BYTES, data, len);
	if (frame_tag(key, buf, HDR_BYTES + len, buf + HDR_BYTES + len))
		return -EIO;
	sk->olen += need;
	sk->last_send = now_ms();
	net->stats.frames_sent++;
	return 0;
}

/* encode what the session has to send on this socket, up to OBUF_HIGH */
static int sock_fill(struct sfs_net *net, struct net_sock *sk, uint64_t now)
{
	struct sfs_net_conn *conn = sk->conn;
	struct net_msg *msg;
	int ret;

	if (sk->state != SK_UP)
		return 0;

	while ((msg = conn->send_next) && sk->olen - sk->ooff < OBUF_HIGH) {
		ret = sock_encode(net, sk, sk->key, SCOUTFS_NET_TYPE_MSG, msg->flags, msg->error,
				  msg->cmd, msg->seq, conn->recv_seq, msg->id, msg->data, msg->len);
		if (ret)
			return ret;
		if (msg->sent++)
			net->stats.resent++;
		conn->ack_sent = conn->recv_seq;
		conn->ack_deadline = 0;
		conn->send_next = sendq_next(conn, msg);
	}

	if (conn->recv_seq == conn->ack_sent) {
		/* nothing said for a while: an ACK tells the peer we live */
		if (sk->olen == sk->ooff && now >= sk->last_send + net->opts.keepalive_ms) {
			ret = sock_encode(net, sk, sk->key, SCOUTFS_NET_TYPE_ACK, 0, 0, 0, 0,
					  conn->recv_seq, 0, NULL, 0);
			if (ret)
				return ret;
			net->stats.keepalives_sent++;
		}
		return 0;
	}
	if (conn->recv_seq - conn->ack_sent >= ACK_EVERY ||
	    (conn->ack_deadline && now >= conn->ack_deadline)) {
		ret = sock_encode(net, sk, sk->key, SCOUTFS_NET_TYPE_ACK, 0, 0, 0, 0,
				  conn->recv_seq, 0, NULL, 0);
		if (ret)
			return ret;
		net->stats.acks_sent++;
		conn->ack_sent = conn->recv_seq;
		conn->ack_deadline = 0;
	} else if (!conn->ack_deadline) {
		conn->ack_deadline = now + net->opts.ack_delay_ms;
	}
	return 0;
}

/* write out what is encoded, encoding more as the socket takes it */
static void sock_flush(struct sfs_net *net, struct net_sock *sk, uint64_t now)
{
	bool more;
	ssize_t n;
	int ret;

	if (sk->state == SK_DEAD || sk->state == SK_CONNECTING)
		return;
	for (;;) {
		ret = sock_fill(net, sk, now);
		if (ret) {
			sfs_err(net->fs, "net: %s: cannot encode a frame (%d), dropping it",
				sk->peer, ret);
			sock_kill(net, sk);
			return;
		}
		while (sk->ooff < sk->olen) {
			n = send(sk->fd, sk->obuf + sk->ooff, sk->olen - sk->ooff, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n < 0) {
				sfs_info(net->fs, "net: %s: send failed (%d), connection lost",
					 sk->peer, -errno);
				sock_kill(net, sk);
				return;
			}
			sk->ooff += n;
		}
		if (sk->ooff < sk->olen)
			break;
		sk->ooff = 0;
		sk->olen = 0;
		more = sk->state == SK_UP && sk->conn->send_next;
		if (!more)
			break;
	}
	if (sk->ocap > 2 * OBUF_HIGH + SCOUTFS_NET_MAX_DATA_LEN && sk->olen == 0) {
		free(sk->obuf);
		sk->obuf = NULL;
		sk->ocap = 0;
	}
	more = sk->ooff < sk->olen;
	if (more != sk->epoll_out && sock_epoll(net, sk, EPOLL_CTL_MOD, more) < 0) {
		sfs_err(net->fs, "net: %s: epoll_ctl failed (%d), dropping the connection",
			sk->peer, -errno);
		sock_kill(net, sk);
	}
}

/* ------------------------------------------------------------------ */
/* Receiving frames                                                     */
/* ------------------------------------------------------------------ */

static void hello_encode(struct scoutfs_net_hello *h, uint64_t session_id, uint64_t peer_session,
			 uint64_t last_recv, const uint8_t *nonce, const uint8_t *peer_nonce)
{
	memset(h, 0, sizeof(*h));
	h->session_id = htole64(session_id);
	h->peer_session = htole64(peer_session);
	h->last_recv = htole64(last_recv);
	memcpy(h->nonce, nonce, SCOUTFS_NET_NONCE_BYTES);
	if (peer_nonce)
		memcpy(h->peer_nonce, peer_nonce, SCOUTFS_NET_NONCE_BYTES);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--) {
		if (*p++)
			return false;
	}
	return true;
}

/* a fresh socket takes over @conn; both sides resend from what the other has */
static void sock_attach(struct sfs_net *net, struct net_sock *sk, struct sfs_net_conn *conn,
			bool resumed)
{
	sk->conn = conn;
	sk->state = SK_UP;
	sk->deadline = 0;
	sk->last_recv = now_ms();
	sk->last_send = sk->last_recv;
	conn->sock = sk;
	conn->linger_until = 0;
	conn->send_next = sendq_first(conn);
	conn->ack_sent = conn->recv_seq;
	conn->ack_deadline = 0;
	net->stats.connects++;
	if (resumed)
		net->stats.sessions_resumed++;
	else
		net->stats.sessions_new++;
	queue_event(conn, DLV_UP, !resumed);
}

static struct sfs_net_conn *find_session(struct sfs_net *net, uint64_t rid)
{
	struct list_node *pos, *tmp;
	struct sfs_net_conn *conn;

	list_for_each_safe(pos, tmp, &net->conns) {
		conn = list_entry(pos, struct sfs_net_conn, entry);
		if (conn->rid == rid)
			return conn;
	}
	return NULL;
}

/*
 * server: a session is over; its requests fail, its queue is dropped.
 * expired: its client stayed away for linger_ms (not a new incarnation
 * taking its place).
 */
static void session_end(struct sfs_net *net, struct sfs_net_conn *conn, bool expired)
{
	conn->over = true;
	if (conn->sock)
		sock_kill(net, conn->sock);
	conn_fail_pending(conn, -ECONNRESET);
	conn_free_msgs(conn);
	list_del(&conn->entry);
	list_add_tail(&conn->entry, &net->dead_conns);
	queue_event(conn, DLV_DOWN, true);
	if (expired)
		queue_event(conn, DLV_EXPIRED, true);
	conn_put_locked(conn);
}

/*
 * client: opts.alive said this mount must stop talking (it fenced
 * itself): the socket closes, pending requests fail with -ENOLINK, and
 * nothing is sent or connected again.  The server then sees the session
 * expire and has the mount fenced.
 */
static void client_halt(struct sfs_net *net)
{
	struct sfs_net_conn *conn = net->client;

	sfs_warn(net->fs, "net: disconnecting from the server for good");
	net->halted = true;
	conn->over = true;
	if (conn->sock)
		sock_kill(net, conn->sock);
	conn->reconnect_at = 0;
	conn_fail_pending(conn, -ENOLINK);
	conn_free_msgs(conn);
}

static int random_u64(uint64_t *val)
{
	do {
		if (RAND_bytes((unsigned char *)val, sizeof(*val)) != 1)
			return -EIO;
	} while (*val == 0);
	return 0;
}

static int server_hello(struct sfs_net *net, struct net_sock *sk,
			const struct scoutfs_net_hello *hello)
{
	uint64_t rid = le64toh(hello->session_id);
	uint64_t peer_session = le64toh(hello->peer_session);
	uint64_t last_recv = le64toh(hello->last_recv);
	struct scoutfs_net_hello reply;
	struct sfs_net_conn *conn;
	bool resumed;
	uint64_t sess;
	int ret;

	if (rid == 0 || !all_zero(hello->peer_nonce, sizeof(hello->peer_nonce)))
		return sock_fail(net, sk, &net->stats.bad_frame, "malformed HELLO");

	conn = find_session(net, rid);
	resumed = conn && peer_session == conn->sess;
	if (resumed && last_recv > conn->send_seq)
		return sock_fail(net, sk, &net->stats.bad_frame,
				 "HELLO from rid %016llx acknowledges seq %llu, only %llu sent",
				 (unsigned long long)rid, (unsigned long long)last_recv,
				 (unsigned long long)conn->send_seq);

	if (RAND_bytes(sk->nonce, sizeof(sk->nonce)) != 1 ||
	    derive_conn_key(net->opts.key, hello->nonce, sk->nonce, sk->key) || random_u64(&sess))
		return sock_fail(net, sk, NULL, "no randomness or keys");

	if (conn && !resumed) {
		sfs_info(net->fs, "net: %s: rid %016llx is a new incarnation, old session over",
			 sk->peer, (unsigned long long)rid);
		session_end(net, conn, false);
		conn = NULL;
	}
	if (conn && conn->sock) {
		sfs_info(net->fs, "net: %s: rid %016llx takes its session over from %s",
			 sk->peer, (unsigned long long)rid, conn->sock->peer);
		sock_kill(net, conn->sock);
	}
	if (!conn) {
		conn = conn_alloc(net, rid);
		if (!conn)
			return sock_fail(net, sk, NULL, "no memory for a session");
		conn->sess = sess;
		list_add_tail(&conn->entry, &net->conns);
	}

	hello_encode(&reply, conn->sess, rid, conn->recv_seq, sk->nonce, hello->nonce);
	ret = sock_encode(net, sk, net->opts.key, SCOUTFS_NET_TYPE_HELLO, SCOUTFS_NET_FLAG_RESPONSE,
			  0, 0, 0, 0, 0, &reply, sizeof(reply));
	if (ret)
		return sock_fail(net, sk, NULL, "cannot encode HELLO (%d)", ret);
	if (resumed)
		conn_ack(conn, last_recv);
	net->nr_hello_wait--;
	sock_attach(net, sk, conn, resumed);
	sfs_debug(net->fs, "net: %s: rid %016llx %s session %016llx", sk->peer,
		  (unsigned long long)rid, resumed ? "resumed" : "began",
		  (unsigned long long)conn->sess);
	return 0;
}

static int client_hello(struct sfs_net *net, struct net_sock *sk,
			const struct scoutfs_net_hello *hello)
{
	struct sfs_net_conn *conn = sk->conn;
	uint64_t sess = le64toh(hello->session_id);
	uint64_t last_recv = le64toh(hello->last_recv);
	bool resumed;

	if (sess == 0 || le64toh(hello->peer_session) != conn->rid ||
	    CRYPTO_memcmp(hello->peer_nonce, sk->nonce, sizeof(sk->nonce)))
		return sock_fail(net, sk, &net->stats.bad_frame, "HELLO reply is not for us");

	resumed = conn->sess == sess;
	if ((resumed && last_recv > conn->send_seq) || (!resumed && last_recv != 0))
		return sock_fail(net, sk, &net->stats.bad_frame,
				 "HELLO reply acknowledges seq %llu, only %llu sent",
				 (unsigned long long)last_recv, (unsigned long long)conn->send_seq);
	if (derive_conn_key(net->opts.key, sk->nonce, hello->nonce, sk->key))
		return sock_fail(net, sk, NULL, "cannot derive the connection key");

	if (resumed) {
		conn_ack(conn, last_recv);
	} else {
		if (conn->sess)
			sfs_info(net->fs, "net: %s: new server session %016llx, resending requests",
				 sk->peer, (unsigned long long)sess);
		conn_reset(net, conn, conn->sess != 0);
		conn->sess = sess;
	}
	conn->backoff_ms = net->opts.reconnect_min_ms;
	conn->reconnect_at = 0;
	if (conn->ever_up)
		net->stats.reconnects++;
	conn->ever_up = true;
	sock_attach(net, sk, conn, resumed);
	return 0;
}

static int recv_msg(struct sfs_net *net, struct net_sock *sk, const struct scoutfs_net_header *h,
		    struct rx_frame *rx, bool *taken)
{
	struct sfs_net_conn *conn = sk->conn;
	uint64_t seq = le64toh(h->seq);
	uint64_t id = le64toh(h->id);
	uint16_t cmd = le16toh(h->cmd);
	uint32_t len = le32toh(h->data_len);
	bool is_resp = h->flags & SCOUTFS_NET_FLAG_RESPONSE;
	struct net_msg *msg = NULL;
	struct dlv *d = &rx->dlv;

	if (seq == 0 || id == 0 || (!is_resp && h->error) || h->error >= SCOUTFS_NET_ERR__NR)
		return sock_fail(net, sk, &net->stats.bad_frame,
				 "malformed message (seq %llu id %llu error %u)",
				 (unsigned long long)seq, (unsigned long long)id, h->error);
	if (conn_ack(conn, le64toh(h->recv_seq)))
		return sock_fail(net, sk, &net->stats.bad_frame, "ack of seq %llu, only %llu sent",
				 (unsigned long long)le64toh(h->recv_seq),
				 (unsigned long long)conn->send_seq);
	if (seq <= conn->recv_seq) {
		net->stats.dup_dropped++;
		sfs_debug(net->fs, "net: %s: dropped duplicate seq %llu", sk->peer,
			  (unsigned long long)seq);
		return 0;
	}
	if (seq != conn->recv_seq + 1)
		return sock_fail(net, sk, &net->stats.seq_gap, "seq %llu after %llu",
				 (unsigned long long)seq, (unsigned long long)conn->recv_seq);
	if (is_resp) {
		msg = pend_find(conn, id);
		if (msg && msg->cmd != cmd)
			return sock_fail(net, sk, &net->stats.bad_frame,
					 "response to request %llu has cmd %u, not %u",
					 (unsigned long long)id, cmd, msg->cmd);
	}
	conn->recv_seq = seq;

	memset(d, 0, sizeof(*d));
	d->conn = conn;
	d->id = id;
	d->cmd = cmd;
	d->len = len;
	d->data = rx->buf + HDR_BYTES;
	d->mem = rx;

	if (is_resp) {
		if (!msg) {
			net->stats.unknown_resp++;
			sfs_debug(net->fs, "net: %s: response to unknown request %llu", sk->peer,
				  (unsigned long long)id);
			return 0;
		}
		list_del(&msg->pend_entry);
		msg->in_pend = false;
		d->type = DLV_RESPONSE;
		d->resp = msg->resp;
		d->resp_arg = msg->resp_arg;
		d->err = sfs_net_err_from_wire(h->error);
		if (!msg->in_sendq)
			free(msg);
		if (!d->resp)
			return 0;
	} else {
		if (cmd >= net->opts.nr_handlers || !net->handlers[cmd]) {
			net->stats.unknown_cmd++;
			sfs_warn(net->fs, "net: %s: request %llu: unknown cmd %u, EOPNOTSUPP",
				 sk->peer, (unsigned long long)id, cmd);
			msg = msg_alloc(NULL, 0);
			if (!msg)
				return sock_fail(net, sk, NULL, "no memory for a response");
			msg->id = id;
			msg->cmd = cmd;
			msg->flags = SCOUTFS_NET_FLAG_RESPONSE;
			msg->error = SCOUTFS_NET_ERR_EOPNOTSUPP;
			conn_queue(conn, msg);
			return 0;
		}
		d->type = DLV_REQUEST;
	}
	conn->refs++;
	dlv_queue(net, d);
	*taken = true;
	return 0;
}

/* a whole frame has arrived: authenticate, check and dispatch it */
static void sock_frame(struct sfs_net *net, struct net_sock *sk, struct rx_frame *rx)
{
	struct scoutfs_net_header h;
	uint8_t tag[TAG_BYTES];
	const uint8_t *key;
	struct scoutfs_net_hello hello;
	bool taken = false;
	uint32_t len;
	bool fields_zero;

	memcpy(&h, rx->buf, HDR_BYTES);
	len = le32toh(h.data_len);
	key = sk->state == SK_UP ? sk->key : net->opts.key;
	if (frame_tag(key, rx->buf, HDR_BYTES + len, tag)) {
		sock_fail(net, sk, NULL, "cannot compute a tag");
		goto out;
	}
	if (CRYPTO_memcmp(tag, rx->buf + HDR_BYTES + len, TAG_BYTES)) {
		sock_fail(net, sk, &net->stats.bad_hmac, "frame tag does not verify");
		goto out;
	}
	net->stats.frames_recv++;
	sk->last_recv = now_ms();
	if (net->client && net->opts.alive && !net->halted &&
	    !net->opts.alive(net->opts.cb_arg, true)) {
		client_halt(net);
		goto out;
	}

	if (h.__pad[0] || h.__pad[1] || (h.flags & ~SCOUTFS_NET_FLAGS_KNOWN)) {
		sock_fail(net, sk, &net->stats.bad_frame, "unknown flags 0x%x or non-zero pad",
			  h.flags);
		goto out;
	}
	fields_zero = !h.seq && !h.id && !h.cmd && !h.error;

	switch (h.type) {
	case SCOUTFS_NET_TYPE_HELLO:
		if (sk->state != SK_HELLO_WAIT || !fields_zero || h.recv_seq ||
		    len != HELLO_BYTES ||
		    h.flags != (net->opts.role == SFS_NET_SERVER ? 0 : SCOUTFS_NET_FLAG_RESPONSE)) {
			sock_fail(net, sk, &net->stats.bad_frame, "unexpected HELLO");
			goto out;
		}
		memcpy(&hello, rx->buf + HDR_BYTES, HELLO_BYTES);
		if (net->opts.role == SFS_NET_SERVER)
			server_hello(net, sk, &hello);
		else
			client_hello(net, sk, &hello);
		break;
	case SCOUTFS_NET_TYPE_ACK:
		if (sk->state != SK_UP || !fields_zero || h.flags || len) {
			sock_fail(net, sk, &net->stats.bad_frame, "unexpected ACK");
			goto out;
		}
		if (conn_ack(sk->conn, le64toh(h.recv_seq)))
			sock_fail(net, sk, &net->stats.bad_frame, "ACK of seq %llu, only %llu sent",
				  (unsigned long long)le64toh(h.recv_seq),
				  (unsigned long long)sk->conn->send_seq);
		break;
	case SCOUTFS_NET_TYPE_MSG:
		if (sk->state != SK_UP) {
			sock_fail(net, sk, &net->stats.bad_frame, "message before HELLO");
			goto out;
		}
		recv_msg(net, sk, &h, rx, &taken);
		break;
	default:
		sock_fail(net, sk, &net->stats.bad_frame, "unknown frame type %u", h.type);
		break;
	}
out:
	if (!taken)
		free(rx);
}

/* a header is complete: check what can be checked before reading on */
static int sock_header(struct sfs_net *net, struct net_sock *sk)
{
	struct scoutfs_net_header h;
	uint32_t len;

	memcpy(&h, sk->hdr, HDR_BYTES);
	len = le32toh(h.data_len);
	if (le32toh(h.magic) != SCOUTFS_NET_MAGIC)
		return sock_fail(net, sk, &net->stats.bad_magic, "bad magic 0x%08x",
				 le32toh(h.magic));
	if (h.version != SCOUTFS_NET_VERSION)
		return sock_fail(net, sk, &net->stats.bad_frame, "unknown version %u", h.version);
	if (len > SCOUTFS_NET_MAX_DATA_LEN)
		return sock_fail(net, sk, &net->stats.oversized, "data_len %u over the %u maximum",
				 len, SCOUTFS_NET_MAX_DATA_LEN);
	if (sk->state != SK_UP && len != HELLO_BYTES)
		return sock_fail(net, sk, &net->stats.bad_frame,
				 "frame of %u bytes before HELLO", len);

	sk->rx = malloc(sizeof(struct rx_frame) + HDR_BYTES + len + TAG_BYTES);
	if (!sk->rx)
		return sock_fail(net, sk, NULL, "no memory for a %u byte frame", len);
	memcpy(sk->rx->buf, sk->hdr, HDR_BYTES);
	sk->rx_have = HDR_BYTES;
	sk->rx_need = HDR_BYTES + len + TAG_BYTES;
	sk->hdr_have = 0;
	return 0;
}

static void sock_consume(struct sfs_net *net, struct net_sock *sk, const uint8_t *p, size_t n)
{
	struct rx_frame *rx;
	size_t c;

	while (n && sk->state != SK_DEAD) {
		if (!sk->rx) {
			c = HDR_BYTES - sk->hdr_have;
			if (c > n)
				c = n;
			memcpy(sk->hdr + sk->hdr_have, p, c);
			sk->hdr_have += c;
			p += c;
			n -= c;
			if (sk->hdr_have == HDR_BYTES && sock_header(net, sk))
				return;
			continue;
		}
		c = sk->rx_need - sk->rx_have;
		if (c > n)
			c = n;
		memcpy(sk->rx->buf + sk->rx_have, p, c);
		sk->rx_have += c;
		p += c;
		n -= c;
		if (sk->rx_have == sk->rx_need) {
			rx = sk->rx;
			sk->rx = NULL;
			sock_frame(net, sk, rx);
		}
	}
}

static void sock_read(struct sfs_net *net, struct net_sock *sk)
{
	ssize_t n;
	int i;

	for (i = 0; i < READS_PER_EVENT && sk->state != SK_DEAD; i++) {
		n = read(sk->fd, net->stage, STAGE_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && (sk->hdr_have || sk->rx)) {
			sock_fail(net, sk, &net->stats.truncated,
				  "receive failed inside a frame (%d)", -errno);
			return;
		}
		if (n < 0) {
			sfs_info(net->fs, "net: %s: receive failed (%d), connection lost", sk->peer,
				 -errno);
			sock_kill(net, sk);
			return;
		}
		if (n == 0) {
			if (sk->hdr_have || sk->rx)
				sock_fail(net, sk, &net->stats.truncated,
					  "connection closed inside a frame");
			else if (sk->state == SK_UP)
				sfs_info(net->fs, "net: %s: closed by the peer", sk->peer);
			sock_kill(net, sk);
			return;
		}
		sock_consume(net, sk, net->stage, n);
	}
}

/* ------------------------------------------------------------------ */
/* Connecting and accepting                                             */
/* ------------------------------------------------------------------ */

static void client_send_hello(struct sfs_net *net, struct net_sock *sk)
{
	struct sfs_net_conn *conn = sk->conn;
	struct scoutfs_net_hello hello;

	if (RAND_bytes(sk->nonce, sizeof(sk->nonce)) != 1) {
		sock_fail(net, sk, NULL, "no randomness for a nonce");
		return;
	}
	hello_encode(&hello, conn->rid, conn->sess, conn->recv_seq, sk->nonce, NULL);
	if (sock_encode(net, sk, net->opts.key, SCOUTFS_NET_TYPE_HELLO, 0, 0, 0, 0, 0, 0, &hello,
			sizeof(hello))) {
		sock_fail(net, sk, NULL, "cannot encode HELLO");
		return;
	}
	sk->state = SK_HELLO_WAIT;
}

static void client_connect(struct sfs_net *net, struct sfs_net_conn *conn, uint64_t now)
{
	struct sockaddr_storage ss;
	struct net_sock *sk;
	socklen_t len = sizeof(ss);
	int fd, ret;

	conn->reconnect_at = 0;
	/*
	 * The first address comes from the caller; after that, ask where
	 * the server is now: the one the caller found may have died before
	 * we ever reached it.
	 */
	if (net->opts.resolve && conn->tried) {
		memset(&ss, 0, sizeof(ss));
		ret = net->opts.resolve(net->opts.cb_arg, &ss, &len);
		if (ret) {
			conn->reconnect_at = now + conn->backoff_ms;
			if (conn->backoff_ms < net->opts.reconnect_max_ms)
				conn->backoff_ms *= 2;
			if (conn->backoff_ms > net->opts.reconnect_max_ms)
				conn->backoff_ms = net->opts.reconnect_max_ms;
			return;
		}
		if (len != conn->addrlen || memcmp(&ss, &conn->addr, len)) {
			char was[128], now_at[128];

			addr_text((struct sockaddr *)&conn->addr, conn->addrlen, was, sizeof(was));
			addr_text((struct sockaddr *)&ss, len, now_at, sizeof(now_at));
			sfs_info(net->fs, "net: the server moved from %s to %s", was, now_at);
			memcpy(&conn->addr, &ss, len);
			conn->addrlen = len;
		}
	}
	conn->tried = true;
	fd = socket(conn->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	sk = sock_alloc(net, fd, (struct sockaddr *)&conn->addr, conn->addrlen);
	if (!sk) {
		close(fd);
		ret = -ENOMEM;
		goto fail;
	}
	sk->state = SK_CONNECTING;
	sk->conn = conn;
	sk->deadline = now + net->opts.connect_timeout_ms;
	conn->sock = sk;
	ret = sock_opts(fd);
	if (ret == 0)
		ret = sock_epoll(net, sk, EPOLL_CTL_ADD, true);
	if (ret == 0 && connect(fd, (struct sockaddr *)&conn->addr, conn->addrlen) < 0 &&
	    errno != EINPROGRESS)
		ret = -errno;
	if (ret) {
		sfs_debug(net->fs, "net: %s: connect failed (%d)", sk->peer, ret);
		sock_kill(net, sk);
	}
	return;
fail:
	sfs_err(net->fs, "net: cannot create a socket (%d)", ret);
	conn->reconnect_at = now + net->opts.reconnect_max_ms;
}

static void client_connected(struct sfs_net *net, struct net_sock *sk)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(sk->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err) {
		sfs_debug(net->fs, "net: %s: connect failed (%d)", sk->peer, -err);
		sock_kill(net, sk);
		return;
	}
	client_send_hello(net, sk);
}

static void server_accept(struct sfs_net *net, uint64_t now)
{
	struct sockaddr_storage ss;
	struct net_sock *sk;
	socklen_t len;
	int fd;

	for (;;) {
		len = sizeof(ss);
		fd = accept4(net->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				sfs_warn(net->fs, "net: accept failed (%d)", -errno);
			return;
		}
		if (net->nr_hello_wait >= MAX_HELLO_WAIT) {
			sfs_warn(net->fs, "net: %u connections without HELLO, refusing more",
				 net->nr_hello_wait);
			close(fd);
			continue;
		}
		sk = sock_alloc(net, fd, (struct sockaddr *)&ss, len);
		if (!sk) {
			close(fd);
			continue;
		}
		sk->state = SK_HELLO_WAIT;
		sk->deadline = now + net->opts.connect_timeout_ms;
		net->nr_hello_wait++;
		if (sock_opts(fd) || sock_epoll(net, sk, EPOLL_CTL_ADD, false)) {
			sfs_warn(net->fs, "net: %s: cannot set up the socket (%d)", sk->peer,
				 -errno);
			sock_kill(net, sk);
		}
	}
}

/* ------------------------------------------------------------------ */
/* The event thread                                                     */
/* ------------------------------------------------------------------ */

static void deadline_min(uint64_t *next, uint64_t when)
{
	if (when && (!*next || when < *next))
		*next = when;
}

static int next_timeout(struct sfs_net *net, uint64_t now)
{
	struct list_node *pos, *tmp;
	struct sfs_net_conn *conn;
	struct net_sock *sk;
	uint64_t next = 0;

	if (net->dlv_head || !list_empty(&net->reap))
		return 0;
	list_for_each_safe(pos, tmp, &net->socks) {
		sk = list_entry(pos, struct net_sock, entry);
		deadline_min(&next, sk->deadline);
		if (sk->state == SK_UP) {
			deadline_min(&next, sk->conn->ack_deadline);
			deadline_min(&next, sk->last_send + net->opts.keepalive_ms);
			deadline_min(&next, sk->last_recv + net->opts.idle_timeout_ms);
		}
	}
	list_for_each_safe(pos, tmp, &net->conns) {
		conn = list_entry(pos, struct sfs_net_conn, entry);
		deadline_min(&next, conn->linger_until);
	}
	if (net->client && !net->client->sock)
		deadline_min(&next, net->client->reconnect_at);
	/* the client's alive hook looks at least as often as keepalives go */
	if (net->client && net->opts.alive && !net->halted)
		deadline_min(&next, now + net->opts.keepalive_ms);
	if (!next)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

static void run_timers(struct sfs_net *net, uint64_t now)
{
	struct list_node *pos, *tmp;
	struct sfs_net_conn *conn;
	struct net_sock *sk;

	list_for_each_safe(pos, tmp, &net->socks) {
		sk = list_entry(pos, struct net_sock, entry);
		if (sk->deadline && now >= sk->deadline && sk->state != SK_UP) {
			net->stats.timeouts++;
			sfs_info(net->fs, "net: %s: %s timed out", sk->peer,
				 sk->state == SK_CONNECTING ? "connect" : "HELLO");
			sock_kill(net, sk);
		} else if (sk->state == SK_UP && now >= sk->last_recv + net->opts.idle_timeout_ms) {
			/*
			 * A live peer sends at least a keepalive a second.  A
			 * stopped or hung one does not, while its kernel keeps
			 * the TCP connection up.
			 */
			sock_fail(net, sk, &net->stats.idle_drops,
				  "nothing heard for %llu ms",
				  (unsigned long long)(now - sk->last_recv));
		}
	}
	if (net->client && net->opts.alive && !net->halted &&
	    !net->opts.alive(net->opts.cb_arg, false))
		client_halt(net);
	list_for_each_safe(pos, tmp, &net->conns) {
		conn = list_entry(pos, struct sfs_net_conn, entry);
		if (!conn->sock && conn->linger_until && now >= conn->linger_until) {
			net->stats.sessions_expired++;
			sfs_info(net->fs, "net: rid %016llx gone for %u ms, session over",
				 (unsigned long long)conn->rid, net->opts.linger_ms);
			session_end(net, conn, true);
		}
	}
	conn = net->client;
	if (conn && !conn->sock && conn->reconnect_at && now >= conn->reconnect_at)
		client_connect(net, conn, now);
}

static void run_dlvs(struct sfs_net *net, struct dlv *d)
{
	struct dlv *next;
	int ret;

	for (; d; d = next) {
		next = d->next;
		switch (d->type) {
		case DLV_REQUEST:
			ret = net->handlers[d->cmd](d->conn, d->id, d->cmd, d->data, d->len,
						    net->opts.handler_arg);
			if (ret < 0)
				sfs_net_respond(d->conn, d->id, d->cmd, ret, NULL, 0);
			break;
		case DLV_RESPONSE:
			if (d->resp)
				d->resp(d->resp_arg, d->err, d->data, d->len);
			break;
		case DLV_UP:
			net->opts.up(d->conn, d->flag, net->opts.cb_arg);
			break;
		case DLV_DOWN:
			net->opts.down(d->conn, d->flag, net->opts.cb_arg);
			break;
		case DLV_EXPIRED:
			net->opts.expired(d->conn, net->opts.cb_arg);
			break;
		}
		pthread_mutex_lock(&net->lock);
		conn_put_locked(d->conn);
		pthread_mutex_unlock(&net->lock);
		free(d->mem);
	}
}

static struct dlv *take_dlvs(struct sfs_net *net)
{
	struct dlv *d = net->dlv_head;

	net->dlv_head = NULL;
	net->dlv_tail = &net->dlv_head;
	return d;
}

static void handle_event(struct sfs_net *net, struct epoll_event *ev, uint64_t now)
{
	struct net_sock *sk = ev->data.ptr;
	uint64_t val;
	ssize_t n;

	if (ev->data.ptr == &net->evfd) {
		/* EAGAIN: an earlier wakeup already consumed it */
		n = read(net->evfd, &val, sizeof(val));
		(void)n;
		return;
	}
	if (ev->data.ptr == &net->lfd) {
		server_accept(net, now);
		return;
	}
	if (sk->state == SK_DEAD)
		return;
	if (sk->state == SK_CONNECTING) {
		if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			client_connected(net, sk);
		return;
	}
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		sock_read(net, sk);
	if ((ev->events & EPOLLOUT) && sk->state != SK_DEAD)
		sock_flush(net, sk, now);
}

static void *net_thread(void *arg)
{
	struct sfs_net *net = arg;
	struct epoll_event evs[MAX_EVENTS];
	struct list_node *pos, *tmp;
	struct dlv *d;
	uint64_t now;
	int timeout;
	int n, i, err;

	pthread_mutex_lock(&net->lock);
	while (!net->stopping) {
		timeout = next_timeout(net, now_ms());
		pthread_mutex_unlock(&net->lock);
		n = epoll_wait(net->epfd, evs, MAX_EVENTS, timeout);
		err = n < 0 ? errno : 0;
		pthread_mutex_lock(&net->lock);
		if (err && err != EINTR) {
			sfs_err(net->fs, "net: epoll_wait failed (%d), stopping", -err);
			break;
		}
		now = now_ms();
		for (i = 0; i < n; i++)
			handle_event(net, &evs[i], now);
		run_timers(net, now);

		if (net->dlv_head) {
			d = take_dlvs(net);
			pthread_mutex_unlock(&net->lock);
			run_dlvs(net, d);
			pthread_mutex_lock(&net->lock);
			now = now_ms();
		}

		list_for_each_safe(pos, tmp, &net->socks)
			sock_flush(net, list_entry(pos, struct net_sock, entry), now);
		reap_socks(net);
	}
	pthread_mutex_unlock(&net->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Interface                                                            */
/* ------------------------------------------------------------------ */

struct sfs_net *sfs_net_create(struct sfs_fs *fs, const struct sfs_net_opts *opts)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sfs_net *net;
	int ret;

	if (opts->role != SFS_NET_SERVER && opts->role != SFS_NET_CLIENT) {
		sfs_err(fs, "net: unknown role %d", opts->role);
		return NULL;
	}
	net = calloc(1, sizeof(*net));
	if (!net) {
		sfs_err(fs, "net: no memory");
		return NULL;
	}
	net->fs = fs;
	net->epfd = -1;
	net->evfd = -1;
	net->lfd = -1;
	list_init(&net->socks);
	list_init(&net->reap);
	list_init(&net->conns);
	list_init(&net->dead_conns);
	net->dlv_tail = &net->dlv_head;

	net->opts = *opts;
	if (!net->opts.linger_ms)
		net->opts.linger_ms = DEF_LINGER_MS;
	if (!net->opts.reconnect_min_ms)
		net->opts.reconnect_min_ms = DEF_RECONNECT_MIN_MS;
	if (!net->opts.reconnect_max_ms)
		net->opts.reconnect_max_ms = DEF_RECONNECT_MAX_MS;
	if (net->opts.reconnect_max_ms < net->opts.reconnect_min_ms)
		net->opts.reconnect_max_ms = net->opts.reconnect_min_ms;
	if (!net->opts.connect_timeout_ms)
		net->opts.connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (!net->opts.ack_delay_ms)
		net->opts.ack_delay_ms = DEF_ACK_DELAY_MS;
	if (!net->opts.keepalive_ms)
		net->opts.keepalive_ms = DEF_KEEPALIVE_MS;
	if (!net->opts.idle_timeout_ms)
		net->opts.idle_timeout_ms = DEF_IDLE_TIMEOUT_MS;
	if (net->opts.idle_timeout_ms < 2 * net->opts.keepalive_ms)
		net->opts.idle_timeout_ms = 2 * net->opts.keepalive_ms;
	if (!opts->handlers)
		net->opts.nr_handlers = 0;
	if (net->opts.nr_handlers) {
		net->handlers = calloc(net->opts.nr_handlers, sizeof(*net->handlers));
		if (!net->handlers) {
			ret = -ENOMEM;
			goto fail;
		}
		memcpy(net->handlers, opts->handlers,
		       net->opts.nr_handlers * sizeof(*net->handlers));
	}
	net->opts.handlers = NULL;

	if (pthread_mutex_init(&net->lock, NULL)) {
		ret = -ENOMEM;
		goto fail;
	}
	net->lock_init = true;
	net->stage = malloc(STAGE_BYTES);
	if (!net->stage) {
		ret = -ENOMEM;
		goto fail;
	}
	net->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (net->epfd < 0) {
		ret = -errno;
		goto fail;
	}
	net->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (net->evfd < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.ptr = &net->evfd;
	if (epoll_ctl(net->epfd, EPOLL_CTL_ADD, net->evfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = -pthread_create(&net->thread, NULL, net_thread, net);
	if (ret)
		goto fail;
	net->thread_started = true;
	return net;
fail:
	sfs_err(fs, "net: cannot create (%d)", ret);
	sfs_net_destroy(&net);
	return NULL;
}

static void free_conns(struct sfs_net *net, struct list_node *head)
{
	struct list_node *pos, *tmp;
	struct sfs_net_conn *conn;

	list_for_each_safe(pos, tmp, head) {
		conn = list_entry(pos, struct sfs_net_conn, entry);
		if (conn->refs > 1)
			sfs_warn(net->fs, "net: rid %016llx still has %u references at destroy",
				 (unsigned long long)conn->rid, conn->refs - 1);
		conn->refs = 1;
		conn_put_locked(conn);
	}
}

void sfs_net_destroy(struct sfs_net **netp)
{
	struct sfs_net *net = *netp;
	struct list_node *pos, *tmp;
	struct dlv *d, *next;

	if (!net)
		return;
	*netp = NULL;

	if (net->thread_started) {
		pthread_mutex_lock(&net->lock);
		net->stopping = true;
		pthread_mutex_unlock(&net->lock);
		net_kick(net);
		pthread_join(net->thread, NULL);
		net->thread_started = false;
	}

	/* only this thread is left; callbacks it runs see -ESHUTDOWN */
	if (net->lock_init) {
		pthread_mutex_lock(&net->lock);
		net->stopping = true;
		list_for_each_safe(pos, tmp, &net->socks)
			sock_kill(net, list_entry(pos, struct net_sock, entry));
		reap_socks(net);
		if (net->lfd >= 0) {
			close(net->lfd);
			net->lfd = -1;
		}

		/* deliveries never run: only responses are still owed to someone */
		for (d = take_dlvs(net); d; d = next) {
			next = d->next;
			if (d->type != DLV_RESPONSE) {
				conn_put_locked(d->conn);
				free(d->mem);
			} else {
				dlv_queue(net, d);
			}
		}
		list_for_each_safe(pos, tmp, &net->conns)
			conn_fail_pending(list_entry(pos, struct sfs_net_conn, entry),
					  -ESHUTDOWN);
		if (net->client)
			conn_fail_pending(net->client, -ESHUTDOWN);
		d = take_dlvs(net);
		pthread_mutex_unlock(&net->lock);
		run_dlvs(net, d);

		pthread_mutex_lock(&net->lock);
		if (net->client) {
			list_add_tail(&net->client->entry, &net->dead_conns);
			net->client = NULL;
		}
		free_conns(net, &net->conns);
		free_conns(net, &net->dead_conns);
		pthread_mutex_unlock(&net->lock);
		pthread_mutex_destroy(&net->lock);
	}

	if (net->evfd >= 0)
		close(net->evfd);
	if (net->epfd >= 0)
		close(net->epfd);
	free(net->stage);
	free(net->handlers);
	free(net);
}

int sfs_net_listen(struct sfs_net *net, const struct sockaddr *addr, socklen_t len,
		   struct sockaddr_storage *bound)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &net->lfd };
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char text[INET6_ADDRSTRLEN + 16];
	int one = 1;
	int fd = -1;
	int ret;

	if (net->opts.role != SFS_NET_SERVER || !addr || len > sizeof(ss) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;

	pthread_mutex_lock(&net->lock);
	if (net->lfd >= 0 || net->stopping) {
		ret = net->stopping ? -ESHUTDOWN : -EBUSY;
		goto out;
	}
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, addr, len) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0 ||
	    epoll_ctl(net->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		goto out;
	}
	net->lfd = fd;
	fd = -1;
	if (bound)
		memcpy(bound, &ss, sizeof(ss));
	addr_text((struct sockaddr *)&ss, sslen, text, sizeof(text));
	sfs_info(net->fs, "net: listening on %s", text);
	ret = 0;
out:
	pthread_mutex_unlock(&net->lock);
	if (fd >= 0)
		close(fd);
	if (ret)
		sfs_err(net->fs, "net: cannot listen (%d)", ret);
	return ret;
}

int sfs_net_connect(struct sfs_net *net, const struct sockaddr *addr, socklen_t len,
		    uint64_t session_id)
{
	struct sfs_net_conn *conn;
	int ret;

	if (net->opts.role != SFS_NET_CLIENT || !addr || session_id == 0 ||
	    len > sizeof(struct sockaddr_storage) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;

	conn = conn_alloc(net, session_id);
	if (!conn)
		return -ENOMEM;
	memcpy(&conn->addr, addr, len);
	conn->addrlen = len;
	conn->backoff_ms = net->opts.reconnect_min_ms;
	conn->reconnect_at = now_ms();

	pthread_mutex_lock(&net->lock);
	if (net->client || net->stopping) {
		ret = net->stopping ? -ESHUTDOWN : -EBUSY;
		free(conn);
	} else {
		net->client = conn;
		ret = 0;
	}
	pthread_mutex_unlock(&net->lock);
	net_kick(net);
	return ret;
}

struct sfs_net_conn *sfs_net_client_conn(struct sfs_net *net)
{
	struct sfs_net_conn *conn;

	pthread_mutex_lock(&net->lock);
	conn = net->client;
	pthread_mutex_unlock(&net->lock);
	return conn;
}

void sfs_net_conn_get(struct sfs_net_conn *conn)
{
	pthread_mutex_lock(&conn->net->lock);
	conn->refs++;
	pthread_mutex_unlock(&conn->net->lock);
}

void sfs_net_conn_put(struct sfs_net_conn *conn)
{
	struct sfs_net *net;

	if (!conn)
		return;
	net = conn->net;
	pthread_mutex_lock(&net->lock);
	conn_put_locked(conn);
	pthread_mutex_unlock(&net->lock);
}

bool sfs_net_session_live(struct sfs_net *net, uint64_t rid)
{
	bool live;

	if (!net)
		return false;
	pthread_mutex_lock(&net->lock);
	live = find_session(net, rid) != NULL;
	pthread_mutex_unlock(&net->lock);
	return live;
}

int sfs_net_conn_peer(struct sfs_net_conn *conn, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);
	int ret = -ENOTCONN;

	pthread_mutex_lock(&conn->net->lock);
	if (conn->sock && conn->sock->fd >= 0 &&
	    getpeername(conn->sock->fd, (struct sockaddr *)ss, &len) == 0)
		ret = 0;
	pthread_mutex_unlock(&conn->net->lock);
	return ret;
}

uint64_t sfs_net_conn_session_id(const struct sfs_net_conn *conn)
{
	return conn->rid;
}

/*
 * Under net->lock, right after conn_queue: write the message from the
 * caller's thread when the session's socket is up and has nothing else
 * waiting to go out, sparing the event thread's wakeup on the way of
 * every request and response (lock transfers are four of them in a
 * row).  Everything here is what the event thread does with sockets,
 * under the same lock.  False: the event thread must look (not done
 * here, a partial write waiting for EPOLLOUT, a socket killed, or a new
 * delayed-ACK deadline for its timers).
 */
static bool send_now(struct sfs_net *net, struct sfs_net_conn *conn)
{
	struct net_sock *sk = conn->sock;
	uint64_t deadline = conn->ack_deadline;

	if (on_event_thread(net) || !sk || sk->state != SK_UP || sk->olen != 0)
		return false;
	sock_flush(net, sk, now_ms());
	return sk->state == SK_UP && sk->olen == 0 && conn->ack_deadline == deadline;
}

static int net_request(struct sfs_net_conn *conn, uint16_t cmd, const void *data, uint32_t len,
		       sfs_net_resp_fn resp, void *arg, uint64_t *id_ret)
{
	struct sfs_net *net;
	struct net_msg *msg;
	bool sent = false;
	int ret;

	if (!conn || len > SCOUTFS_NET_MAX_DATA_LEN || (len && !data))
		return -EINVAL;
	net = conn->net;
	msg = msg_alloc(data, len);
	if (!msg)
		return -ENOMEM;
	msg->cmd = cmd;
	msg->resp = resp;
	msg->resp_arg = arg;

	pthread_mutex_lock(&net->lock);
	if (net->stopping) {
		ret = -ESHUTDOWN;
	} else if (net->halted) {
		ret = -ENOLINK;
	} else if (conn->over) {
		ret = -ECONNRESET;
	} else {
		msg->id = ++conn->next_id;
		if (id_ret)
			*id_ret = msg->id;
		conn_queue(conn, msg);
		msg = NULL;
		ret = 0;
		sent = send_now(net, conn);
	}
	pthread_mutex_unlock(&net->lock);
	free(msg);
	if (ret == 0 && !sent)
		net_kick(net);
	return ret;
}

int sfs_net_request(struct sfs_net_conn *conn, uint16_t cmd, const void *data, uint32_t len,
		    sfs_net_resp_fn resp, void *arg)
{
	return net_request(conn, cmd, data, len, resp, arg, NULL);
}

int sfs_net_respond(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd, int err,
		    const void *data, uint32_t len)
{
	struct sfs_net *net;
	struct net_msg *msg;
	bool sent = false;
	int ret;

	if (!conn || req_id == 0 || len > SCOUTFS_NET_MAX_DATA_LEN || (len && !data))
		return -EINVAL;
	net = conn->net;
	msg = msg_alloc(data, len);
	if (!msg)
		return -ENOMEM;
	msg->id = req_id;
	msg->cmd = cmd;
	msg->flags = SCOUTFS_NET_FLAG_RESPONSE;
	msg->error = sfs_net_err_to_wire(err);

	pthread_mutex_lock(&net->lock);
	if (net->stopping) {
		ret = -ESHUTDOWN;
	} else if (conn->over) {
		ret = -ENOTCONN;
	} else {
		conn_queue(conn, msg);
		msg = NULL;
		ret = 0;
		sent = send_now(net, conn);
	}
	pthread_mutex_unlock(&net->lock);
	free(msg);
	if (ret == 0 && !sent)
		net_kick(net);
	return ret;
}

struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
	void *buf;
	uint32_t cap;
	uint32_t len;
};

static void sync_resp(void *arg, int err, const void *data, uint32_t len)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	if (len && w->cap)
		memcpy(w->buf, data, len < w->cap ? len : w->cap);
	if (err == 0 && len > w->cap)
		err = -EOVERFLOW;
	w->len = len;
	w->err = err;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int sfs_net_request_sync(struct sfs_net_conn *conn, uint16_t cmd, const void *data,
			 uint32_t len, void *resp_buf, uint32_t *resp_len, unsigned int timeout_ms)
{
	struct sync_wait w = { .buf = resp_buf, .cap = resp_len ? *resp_len : 0 };
	pthread_condattr_t attr;
	struct timespec ts;
	struct net_msg *msg;
	struct sfs_net *net;
	bool detached = false;
	bool done;
	uint64_t id = 0;
	int ret;

	if (!conn || (w.cap && !resp_buf))
		return -EINVAL;
	net = conn->net;
	if (on_event_thread(net))
		return -EDEADLK;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &attr);
	pthread_condattr_destroy(&attr);

	ret = net_request(conn, cmd, data, len, sync_resp, &w, &id);
	if (ret)
		goto out;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w.lock);
	while (!w.done && pthread_cond_timedwait(&w.cond, &w.lock, &ts) != ETIMEDOUT)
		;
	done = w.done;
	pthread_mutex_unlock(&w.lock);

	if (!done) {
		/* detach our callback unless it has already been taken to run */
		pthread_mutex_lock(&net->lock);
		msg = pend_find(conn, id);
		if (msg && msg->resp == sync_resp && msg->resp_arg == &w) {
			msg->resp = NULL;
			detached = true;
		}
		pthread_mutex_unlock(&net->lock);
		if (detached) {
			ret = -ETIMEDOUT;
			if (resp_len)
				*resp_len = 0;
			goto out;
		}
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
	}
	pthread_mutex_lock(&w.lock);
	ret = w.err;
	if (resp_len)
		*resp_len = w.len;
	pthread_mutex_unlock(&w.lock);
out:
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return ret;
}

void sfs_net_get_stats(struct sfs_net *net, struct sfs_net_stats *stats)
{
	pthread_mutex_lock(&net->lock);
	*stats = net->stats;
	pthread_mutex_unlock(&net->lock);
}

void sfs_net_test_drop_conn(struct sfs_net *net)
{
	struct list_node *pos, *tmp;

	pthread_mutex_lock(&net->lock);
	list_for_each_safe(pos, tmp, &net->socks) {
		net->stats.test_drops++;
		sock_kill(net, list_entry(pos, struct net_sock, entry));
	}
	pthread_mutex_unlock(&net->lock);
	net_kick(net);
}
