/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_NET_H
#define SFS_NET_H

/*
 * net: framed, authenticated, sequenced and resendable messages over TCP
 * between a client and a server.  It knows nothing of what a message
 * means: a message is a u16 cmd and up to SCOUTFS_NET_MAX_DATA_LEN bytes.
 * The wire format is in include/scoutfs/format.h ("Wire: net frames"),
 * the model and the invariants at the top of net.c.
 *
 * One struct sfs_net is either a server (listens, serves many client
 * sessions) or a client (one session with one server address, which it
 * reconnects to on its own until destroyed).  A struct sfs_net_conn is a
 * session: it outlives TCP connections, and everything sent on it is
 * delivered to the peer's session exactly once and in order, as long as
 * the session lasts.
 *
 * Threads: each sfs_net runs one event thread.  Handlers and every
 * callback (response, up, down) run on it, one at a time: they must not
 * block (no sfs_net_request_sync, no waiting on the network or on disk).
 * A handler that cannot answer at once keeps a reference on the conn
 * (sfs_net_conn_get) and calls sfs_net_respond later from any thread.
 * Every other function may be called from any thread.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sfs.h"
#include "scoutfs/format.h"

struct sfs_net;
struct sfs_net_conn;

enum sfs_net_role {
	SFS_NET_SERVER = 1,
	SFS_NET_CLIENT = 2,
};

/*
 * A request handler, indexed by cmd in sfs_net_opts.handlers.  It answers
 * with sfs_net_respond, now or later, and returns 0; or it returns -errno
 * without having answered and net answers with that error.  data is valid
 * only during the call.
 */
typedef int (*sfs_net_handler_fn)(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd,
				  const void *data, uint32_t len, void *arg);

/*
 * A request's completion: err is 0 or the -errno the peer answered with
 * (data is then the response's payload, valid during the call), or
 * -ECONNRESET (server: the session ended) or -ESHUTDOWN (sfs_net_destroy).
 */
typedef void (*sfs_net_resp_fn)(void *arg, int err, const void *data, uint32_t len);

#define SFS_NET_FIRST_MAX 256	/* session_first's message */

struct sfs_net_opts {
	uint8_t key[SCOUTFS_NET_KEY_BYTES];	/* sfs_net_derive_key() */
	enum sfs_net_role role;

	/* handlers[cmd] for cmd < nr_handlers; NULL: answered with -EOPNOTSUPP */
	const sfs_net_handler_fn *handlers;
	unsigned int nr_handlers;
	void *handler_arg;

	/*
	 * up: a session has a working connection; new_session is false when
	 * it resumed the session it had (nothing lost).  down: the connection
	 * broke (session_over false: the session may resume) or, on a server,
	 * the session ended (session_over true: its linger time passed, or
	 * its client came back as a new incarnation).  Either may be NULL.
	 */
	void (*up)(struct sfs_net_conn *conn, bool new_session, void *arg);
	void (*down)(struct sfs_net_conn *conn, bool session_over, void *arg);
	void *cb_arg;

	/*
	 * Client, all optional, called on the event thread under the net
	 * lock with cb_arg (no waiting on the network; resolve may read the
	 * devices):
	 *  resolve: where the server is now, asked before every connect
	 *   but the first; an error waits for the next retry.
	 *  drain: a pending request of this command must not go to a new
	 *   server session (another server): it fails with -ECONNRESET.
	 *  session_first: the first message of a new server session after
	 *   an earlier one (a greeting): fills data (at most
	 *   SCOUTFS_NET_MAX_DATA_LEN bytes) and returns its length or
	 *   -errno, and sets *cmd, *resp, *resp_arg.  It goes out ahead of
	 *   the requests resent from the last session.
	 */
	int (*resolve)(void *arg, struct sockaddr_storage *ss, socklen_t *len);
	bool (*drain)(void *arg, uint16_t cmd);
	int (*session_first)(void *arg, uint16_t *cmd, void *data, sfs_net_resp_fn *resp,
			     void **resp_arg);
	/*
	 *  alive: called with heard true for every authenticated frame
	 *   from the server, and with heard false at least every
	 *   keepalive_ms; false stops the client for good (no more
	 *   connections, pending and new requests fail with -ENOLINK).
	 */
	bool (*alive)(void *arg, bool heard);

	/*
	 * Server, optional, on the event thread with cb_arg: a session's
	 * client stayed away for linger_ms and the session is over (after
	 * its down callback).  Not called for a session another of the
	 * same rid replaced.
	 */
	void (*expired)(struct sfs_net_conn *conn, void *arg);

	/* 0 means the default in brackets */
	uint32_t linger_ms;		/* server: keep a disconnected session [60000] */
	uint32_t reconnect_min_ms;	/* client: first retry delay, doubled to... [100] */
	uint32_t reconnect_max_ms;	/* ...this [5000] */
	uint32_t connect_timeout_ms;	/* connect plus HELLO exchange [10000] */
	uint32_t ack_delay_ms;		/* an idle receiver sends an ACK after [10] */
	uint32_t keepalive_ms;		/* a quiet side sends an ACK after [1000] */
	uint32_t idle_timeout_ms;	/* a connection with nothing received this long is dropped [10000] */
};

/*
 * Counters, not logs: each malformed frame also logs one line.  The
 * x-macro lets the control socket print them by name.
 */
#define SFS_NET_STATS(X)                                                                \
	X(frames_sent)		/* every frame queued on a socket, ACK and HELLO too */ \
	X(frames_recv)		/* every authenticated frame read */                    \
	X(resent)		/* messages sent again on a new connection */           \
	X(drained)		/* requests failed with -ECONNRESET for a new server */ \
	X(dup_dropped)		/* messages with an already received seq */             \
	X(acks_sent)		/* explicit ACK frames */                               \
	X(bad_magic)		/* dropped: wrong magic */                              \
	X(bad_hmac)		/* dropped: tag does not verify */                      \
	X(bad_frame)		/* dropped: malformed or out of protocol */             \
	X(oversized)		/* dropped: data_len over the maximum */                \
	X(truncated)		/* dropped: the stream ended inside a frame */          \
	X(seq_gap)		/* dropped: a seq skipped ahead */                      \
	X(unknown_cmd)		/* requests answered with -EOPNOTSUPP */                \
	X(unknown_resp)		/* responses to no pending request, ignored */          \
	X(timeouts)		/* connect or HELLO not done in time */                 \
	X(connects)		/* connections that completed a HELLO */                \
	X(reconnects)		/* client: connections after the first */               \
	X(sessions_new)		/* sessions begun */                                    \
	X(sessions_resumed)	/* sessions continued on a new connection */            \
	X(sessions_expired)	/* server: sessions that outlived their linger */       \
	X(test_drops)		/* connections cut by sfs_net_test_drop_conn */         \
	X(keepalives_sent)	/* ACKs sent only to show we are alive */               \
	X(idle_drops)		/* connections dropped: the peer fell silent */

struct sfs_net_stats {
#define SFS_NET_STAT_FIELD(name) uint64_t name;
	SFS_NET_STATS(SFS_NET_STAT_FIELD)
#undef SFS_NET_STAT_FIELD
};

/* HKDF-SHA256 of the volume uuid under SCOUTFS_NET_KEY_LABEL. 0 or -EIO. */
int sfs_net_derive_key(const uint8_t uuid[SCOUTFS_UUID_BYTES],
		       uint8_t key[SCOUTFS_NET_KEY_BYTES]);

/* errno (either sign) -> wire, unknown -> EIO; wire -> -errno, unknown -> -EIO */
uint8_t sfs_net_err_to_wire(int err);
int sfs_net_err_from_wire(uint8_t werr);

/* starts the event thread; NULL on failure (logged) */
struct sfs_net *sfs_net_create(struct sfs_fs *fs, const struct sfs_net_opts *opts);
/*
 * Stops the thread, closes every socket, completes pending requests with
 * -ESHUTDOWN, frees everything and sets *netp to NULL.  Accepts NULL and a
 * half-built net.  No up/down callbacks are made.  Must not be called from
 * a callback.  Conn references still held are dropped (and warned about).
 */
void sfs_net_destroy(struct sfs_net **netp);

/* server: listen on addr (port 0 picks one); *bound (may be NULL) gets the address */
int sfs_net_listen(struct sfs_net *net, const struct sockaddr *addr, socklen_t len,
		   struct sockaddr_storage *bound);

/*
 * client: start the one session (session_id: the mount's rid, non-zero)
 * with the server at addr.  Returns at once; connection, HELLO and
 * reconnects with backoff happen on the event thread.
 */
int sfs_net_connect(struct sfs_net *net, const struct sockaddr *addr, socklen_t len,
		    uint64_t session_id);
/* client: its session, valid until sfs_net_destroy; NULL before sfs_net_connect */
struct sfs_net_conn *sfs_net_client_conn(struct sfs_net *net);

/* a conn stays allocated while referenced; handlers' conn is valid during the call */
void sfs_net_conn_get(struct sfs_net_conn *conn);
void sfs_net_conn_put(struct sfs_net_conn *conn);
/* the client's session id (its rid), on either side */
uint64_t sfs_net_conn_session_id(const struct sfs_net_conn *conn);
/* server: rid has a session that is not over (connected or lingering) */
bool sfs_net_session_live(struct sfs_net *net, uint64_t rid);
/* the address of the peer on the conn's current socket: 0, or -ENOTCONN */
int sfs_net_conn_peer(struct sfs_net_conn *conn, struct sockaddr_storage *ss);

/*
 * Queue a request; resp (may be NULL) is called exactly once, on the
 * event thread (or in sfs_net_destroy).  Requests queued while
 * disconnected are sent on reconnect.  -EINVAL (len), -ENOMEM,
 * -ECONNRESET (session over), -ESHUTDOWN.
 */
int sfs_net_request(struct sfs_net_conn *conn, uint16_t cmd, const void *data, uint32_t len,
		    sfs_net_resp_fn resp, void *arg);

/*
 * Send and wait up to timeout_ms.  *resp_len: in, the size of resp_buf;
 * out, the response's size.  Returns the response's error, -EOVERFLOW if
 * it does not fit (resp_buf holds its start), -ETIMEDOUT (the request
 * stays queued, its response is ignored), or an error of sfs_net_request.
 * Never from the event thread (-EDEADLK).
 */
int sfs_net_request_sync(struct sfs_net_conn *conn, uint16_t cmd, const void *data,
			 uint32_t len, void *resp_buf, uint32_t *resp_len, unsigned int timeout_ms);

/*
 * Answer request req_id (once) with err (0 or -errno) and data.
 * -ENOTCONN if the session is over, -EINVAL, -ENOMEM, -ESHUTDOWN.
 */
int sfs_net_respond(struct sfs_net_conn *conn, uint64_t req_id, uint16_t cmd, int err,
		    const void *data, uint32_t len);

void sfs_net_get_stats(struct sfs_net *net, struct sfs_net_stats *stats);

/*
 * Tests: close every connected socket at once, as if the network failed;
 * sessions survive and resend.  The listener stays open.
 */
void sfs_net_test_drop_conn(struct sfs_net *net);

#endif
