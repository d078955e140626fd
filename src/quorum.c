// SPDX-License-Identifier: GPL-2.0
/*
 * Quorum: the slot configuration, the agent that elects the server, and
 * finding the server through the quorum blocks.
 *
 * Configuration
 * -------------
 * The super holds up to 15 slots, each an inet_addr union (format-spec.md
 * 5.2).  IPv4 slots store the address as a host-order u32 and only bytes
 * 0..7 are defined: the reference mkfs leaves stack garbage in bytes
 * 8..31, so nothing here ever looks at them.  IPv6 slots store the address
 * in network order.  We write the unused bytes as zero.  Every mount,
 * member or not, refuses a configuration sfs_quorum_config_check()
 * refuses (among others, slots mixing IPv4 and IPv6).
 *
 * Model
 * -----
 * A mount given quorum_slot_nr=N is a member and runs an agent; every
 * other mount is only a client.  Each slot owns a quorum block (SM blkno
 * 17 + N, format-spec.md 6) holding six fixed events, each the last
 * (write_nr, rid, term, monotonic ts) of its kind: BEGIN (agent started),
 * TERM (a newer term persisted), ELECT (won the election of a term),
 * FENCE (its server is up, older leaders fenced), STOP (its server
 * stopped), END (agent exited).  Clients never talk to the agents: they
 * read the blocks and connect to the slot with the greatest ELECT term
 * that is greater than its STOP term (sfs_quorum_find_server()).
 *
 * The election is the reference's simplified raft among the present
 * slots, over UDP.  sfs_quorum_start() binds a UDP socket to our slot's
 * address (a second mount of the slot on this host gets EADDRINUSE and is
 * refused before anything is written), reads all 15 blocks on the
 * caller's thread (so a bad block fails the mount), takes the greatest
 * term of any event with a rid as its term, notes a leader of this slot
 * that never wrote STOP (a dead previous instance: one slot, one mount),
 * writes BEGIN and starts the worker.  It waits a heartbeat timeout
 * before standing when another slot shows a live leader, an election
 * timeout otherwise (none when it is the only slot).  The worker loops:
 * recv_msg() until an authenticated message, its timeout or a wake-up,
 * then quorum_step() applies the rules:
 *
 *  - a message of an older term is dropped; one of a newer term makes us
 *    a follower of that term, persisted with TERM before anything else (a
 *    leader's server stops);
 *  - a HEARTBEAT of our term names the leader (leader_slot): it puts our
 *    election off by the heartbeat timeout (quorum_heartbeat_timeout_ms),
 *    and a candidate of that term lost: it follows.  Two leaders of one
 *    term happen only where one vote elects (one or two slots, both
 *    standing at once): the one with the greater slot steps down;
 *  - a RESIGNATION of our term makes a follower stand after an election
 *    timeout;
 *  - a follower votes once per term, for the first REQUEST_VOTE;
 *  - a follower or candidate whose timeout passed, its server down,
 *    stands: term + 1, TERM, REQUEST_VOTE to every other slot, a new
 *    election timeout (250 ms + 0..100 ms random, so split votes end);
 *  - a candidate with votes_needed votes (its own counts; a strict
 *    majority of the present slots, one vote with one or two slots)
 *    leads: HEARTBEAT at once, ELECT, fence_old_leaders(),
 *    start_server(term), FENCE; then a HEARTBEAT every 100 ms.
 *
 * Roles (worker-private struct qstate; published copies for status and
 * waiters):
 *
 *                timeout, server down: term++, TERM, REQUEST_VOTE
 *          +-----------------------------------------------+
 *          |                                               v
 *      FOLLOWER <--- newer term: TERM; HEARTBEAT of ---- CANDIDATE <-+
 *          ^         our term                              |  |       | timeout:
 *          |                                               |  +-------+ term++, TERM,
 *          |                                               |            REQUEST_VOTE
 *          |                                               | votes >= votes_needed:
 *          |                                               |   HEARTBEAT, ELECT,
 *          |                                               |   fence_old_leaders(),
 *          |                                               v   start_server(term), FENCE
 *          +---------------------------------------------- LEADER (HEARTBEAT / 100 ms)
 *             newer term: TERM, stop_server, STOP;
 *             HEARTBEAT of our term from a lower slot: stop_server, STOP;
 *             server down (start_server or fencing failed, or it
 *             stopped on its own): STOP, RESIGNATION
 *
 * Every transition is in quorum_step(); the writes go through
 * update_block().  sfs_quorum_stop(): the worker leaves the loop, calls
 * stop_server, sends RESIGNATION, writes STOP (the server's term) and
 * then END, and the socket is closed.
 *
 * Messages
 * --------
 * struct scoutfs_quorum_message (format.h): one 72-byte datagram tagged
 * with HMAC-SHA256 under the quorum key, derived from the volume uuid
 * (sfs_quorum_derive_key()): only hosts that can read the metadata device
 * can take part.  send_msg() sends to every other present slot, or to
 * one (a VOTE); a failed send is counted, never fatal: UDP may lose any
 * message and the timeouts cover it.  recv_msg() checks each datagram in
 * the order format.h gives (size, tag, version, fsid, type, slot,
 * replay) and drops what fails, counting the reason; quorum_step() drops
 * and counts older terms.  The counts are the agent's stats (status text,
 * sfs_quorum_get_stats()) and the daemon's quorum_* counters.
 *
 * Invariants
 * ----------
 *  1. Only the member of a slot writes its block.  On one host the slot's
 *     UDP address is bound by one agent at a time, from before BEGIN
 *     until after END.  Across hosts, every update after BEGIN re-reads
 *     the block first and refuses (-EBUSY, "another mount is using quorum
 *     slot N") when events[BEGIN].rid is not ours; the agent then stops.
 *     Every write is followed by a flush of the meta device, so the
 *     events are durable in the order they were written.
 *  2. Terms never go backwards: the starting term is the greatest term of
 *     any event with rid != 0 in any of the 15 blocks, a candidate writes
 *     TERM before it asks for votes, and every message of a newer term is
 *     persisted with TERM before the agent acts on it.
 *  3. A server runs only while role == LEADER and term ==
 *     server_start_term.  ELECT(term) is durable and older leaders have
 *     been looked for before start_server(term) is called; FENCE(term) is
 *     written only after it returned 0.
 *  4. A started server is followed by a durable STOP(server_start_term)
 *     once it is down, before the agent stands again and before END.
 *  5. LEADER is published (status, sfs_quorum_wait_role()) only once its
 *     server started and FENCE is durable: the worker publishes at the
 *     top of its loop, never in the middle of a step.
 *  6. One vote per member per term: vote_for is set when it votes or
 *     stands (for itself) and cleared only with a new term; a candidate
 *     counts each slot's vote once.
 *  7. Only messages whose tag verified and that passed every check are
 *     acted on, and none of an older term.
 *
 * Locks and threads
 * -----------------
 * q->lock protects shutdown, server_stopped, running, the published
 * status (pub), err, stats, the old leaders, the last server found and
 * when the last message was taken from each slot (recv_ns, for the
 * status); q->changed (status waiters) waits under it.  The worker sleeps in
 * ppoll() on the socket and q->evfd, an eventfd that sfs_quorum_stop()
 * and sfs_quorum_server_stopped() write after setting their flag.  The
 * worker's struct qstate, server_running, send_seq and last_recv are the
 * worker's alone.  Block I/O, sends and the start/stop_server callbacks
 * run without q->lock held.  The fields set by setup are read-only
 * afterwards; sock and evfd are set by start before the worker exists
 * and closed by stop after it has exited.
 *
 * Failure
 * -------
 * A quorum block that fails its checks (crc, magic, fsid, blkno, fields)
 * is -EIO with the slot and block logged.  In start, a socket that cannot
 * be bound, any read or the BEGIN write failing fails start and nothing
 * else is written.  In the worker a failed block update ends the agent
 * (as in the reference): it stops a running server without writing,
 * records the error and sfs_quorum_stop() returns it; so does a failed
 * ppoll().  A failed fencing pass or start_server is the server failing:
 * STOP, FOLLOWER, RESIGNATION, and stand again after an election timeout
 * in a new term.
 *
 * Left for the cluster's recovery and fencing (issue 7)
 * ------------------------------------------------------
 *  - fence_old_leaders() records and logs the leaders it finds; the
 *    cluster issue hands each one to the fence subsystem and waits up to
 *    SFS_QUORUM_FENCE_TO_MS.  Among them can be the other leader of a
 *    split term (one or two slots), which steps down by itself here.
 *  - start_server is synchronous and no heartbeats go out while it runs:
 *    a server start slower than the followers' heartbeat timeout makes
 *    them stand.  If the server becomes asynchronous, FENCE moves to its
 *    "up" notification, as in the reference.
 *  - Clients of a server that died keep trying its address; finding and
 *    greeting the new one is the client's recovery.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "block.h"
#include "counters.h"
#include "log.h"
#include "net.h"
#include "quorum.h"
#include "text.h"

#define FAIL(fmt, ...)                                      \
	do {                                                \
		snprintf(why, why_len, fmt, ##__VA_ARGS__); \
		ret = -EINVAL;                              \
		goto out;                                   \
	} while (0)

bool sfs_quorum_slot_present(const struct scoutfs_quorum_slot *slot)
{
	uint16_t fam = le16toh(slot->addr.v4.family);

	return fam == SCOUTFS_AF_IPV4 || fam == SCOUTFS_AF_IPV6;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*val = strtoul(s, &end, 10);
	if (errno || *end || *val > max)
		return -EINVAL;
	return 0;
}

int sfs_quorum_slot_parse(const char *arg, int *nr, union scoutfs_inet_addr *addr, char *why,
			  size_t why_len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_family = AF_UNSPEC };
	struct addrinfo *res = NULL;
	char *copy = NULL;
	char *nr_str, *addr_str, *port_str;
	unsigned long val;
	size_t len;
	int ret = 0;

	memset(addr, 0, sizeof(*addr));
	copy = strdup(arg);
	if (!copy) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}

	/* NR,ADDR,PORT: split at the first and the last comma */
	nr_str = copy;
	addr_str = strchr(copy, ',');
	port_str = strrchr(copy, ',');
	if (!addr_str || addr_str == port_str)
		FAIL("quorum slot '%s' is not NR,ADDR,PORT", arg);
	*addr_str++ = '\0';
	*port_str++ = '\0';

	if (parse_ulong(nr_str, ~0UL, &val) || val >= SCOUTFS_QUORUM_MAX_SLOTS)
		FAIL("quorum slot number '%s' in '%s' must be 0 to %llu", nr_str, arg,
		     SCOUTFS_QUORUM_MAX_SLOTS - 1);
	*nr = (int)val;

	if (parse_ulong(port_str, 65535, &val))
		FAIL("quorum slot port '%s' in '%s' must be a number from 1 to 65534", port_str,
		     arg);

	len = strlen(addr_str);
	if (len >= 2 && addr_str[0] == '[' && addr_str[len - 1] == ']') {
		addr_str[len - 1] = '\0';
		addr_str++;
		hints.ai_family = AF_INET6;
	}
	if (*addr_str == '\0' || getaddrinfo(addr_str, NULL, &hints, &res) != 0 || !res)
		FAIL("quorum slot address '%s' in '%s' is not a numeric IPv4 or IPv6 address",
		     addr_str, arg);

	if (res->ai_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;

		addr->v4.family = htole16(SCOUTFS_AF_IPV4);
		addr->v4.port = htole16((uint16_t)val);
		addr->v4.addr = htole32(ntohl(sin->sin_addr.s_addr));
	} else if (res->ai_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)res->ai_addr;

		addr->v6.family = htole16(SCOUTFS_AF_IPV6);
		addr->v6.port = htole16((uint16_t)val);
		memcpy(addr->v6.addr, &sin6->sin6_addr, 16);
		addr->v6.scope_id = htole32(sin6->sin6_scope_id);
	} else {
		FAIL("quorum slot address '%s' in '%s' is not IPv4 or IPv6", addr_str, arg);
	}
out:
	if (res)
		freeaddrinfo(res);
	free(copy);
	return ret;
}

int sfs_quorum_addr_check(const union scoutfs_inet_addr *addr, char *why, size_t why_len)
{
	char text[SFS_TEXT_ADDR_LEN];
	uint16_t fam = le16toh(addr->v4.family);
	uint16_t port = le16toh(addr->v4.port);
	int ret = 0;

	sfs_text_inet_addr(text, sizeof(text), addr);

	if (fam == SCOUTFS_AF_IPV4) {
		uint32_t a = le32toh(addr->v4.addr);

		if ((a >> 24) == 0)
			FAIL("quorum address %s is in 0.0.0.0/8, not a host address", text);
		if ((a >> 28) == 0xe)
			FAIL("quorum address %s is a multicast address", text);
		if (a == 0xffffffffU)
			FAIL("quorum address %s is the broadcast address", text);
	} else if (fam == SCOUTFS_AF_IPV6) {
		static const uint8_t any[16];

		if (memcmp(addr->v6.addr, any, 16) == 0)
			FAIL("quorum address %s is the unspecified address", text);
		if (addr->v6.addr[0] == 0xff)
			FAIL("quorum address %s is a multicast address", text);
	} else {
		FAIL("quorum address family %u is not IPv4 or IPv6", fam);
	}
	if (port == 0 || port == 65535)
		FAIL("quorum address %s: port must be from 1 to 65534", text);
out:
	return ret;
}

static bool addr_equal(const union scoutfs_inet_addr *a, const union scoutfs_inet_addr *b)
{
	if (a->v4.family != b->v4.family || a->v4.port != b->v4.port)
		return false;
	if (le16toh(a->v4.family) == SCOUTFS_AF_IPV4)
		return a->v4.addr == b->v4.addr;
	return memcmp(a->v6.addr, b->v6.addr, 16) == 0 && a->v6.scope_id == b->v6.scope_id;
}

int sfs_quorum_config_check(const struct scoutfs_quorum_config *qconf, char *why,
			    size_t why_len)
{
	const struct scoutfs_quorum_slot *slots = qconf->slots;
	char text[SFS_TEXT_ADDR_LEN];
	char sub[160];
	int first = -1;
	unsigned int i, j;
	uint16_t fam;
	int ret = 0;

	for (i = 0; i < SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		fam = le16toh(slots[i].addr.v4.family);
		if (fam == SCOUTFS_AF_NONE)
			continue;
		if (!sfs_quorum_slot_present(&slots[i]))
			FAIL("quorum slot %u has invalid address family %u", i, fam);
		if (sfs_quorum_addr_check(&slots[i].addr, sub, sizeof(sub)))
			FAIL("quorum slot %u: %s", i, sub);
		if (first < 0) {
			first = (int)i;
		} else if (slots[first].addr.v4.family != slots[i].addr.v4.family) {
			FAIL("quorum slots %d and %u mix IPv4 and IPv6 addresses; all slots must use the same family",
			     first, i);
		}
		for (j = 0; j < i; j++) {
			if (sfs_quorum_slot_present(&slots[j]) &&
			    addr_equal(&slots[i].addr, &slots[j].addr)) {
				sfs_text_inet_addr(text, sizeof(text), &slots[i].addr);
				FAIL("quorum slots %u and %u have the same address %s", j, i, text);
			}
		}
	}
	if (first < 0)
		FAIL("no quorum slots are configured");
out:
	return ret;
}

/* ------------------------------------------------------------------ */
/* The agent: state                                                     */
/* ------------------------------------------------------------------ */

/* the reference's timing (its format.h) */
#define SFS_QUORUM_ELECT_MIN_MS 250U
#define SFS_QUORUM_ELECT_VAR_MS 100U
#define SFS_QUORUM_HB_IVAL_MS 100U
#define SFS_QUORUM_FENCE_TO_MS 15000U	/* for the fence wait of the cluster issue */

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SECOND 1000000000ULL

/* at most two previous leaders per slot: a live ELECT and an older FENCE */
#define MAX_OLD_LEADERS (SCOUTFS_QUORUM_MAX_SLOTS * 2)

_Static_assert(SCOUTFS_QUORUM_MAX_SLOTS <= 32, "vote_bits is a u32");

/* the message types (format.h's wire values), and no message */
enum quorum_msg_type {
	MSG_REQUEST_VOTE = SCOUTFS_QUORUM_MSG_REQUEST_VOTE,
	MSG_VOTE = SCOUTFS_QUORUM_MSG_VOTE,
	MSG_HEARTBEAT = SCOUTFS_QUORUM_MSG_HEARTBEAT,
	MSG_RESIGNATION = SCOUTFS_QUORUM_MSG_RESIGNATION,
	MSG_NONE = SCOUTFS_QUORUM_MSG__NR, /* recv_msg() returned on a timeout or a wake-up */
};

/* the fields of a received message that passed its checks */
struct quorum_msg {
	uint64_t term;
	int type;
	int from;		/* slot */
};

/* the election state: the worker's own copy, and the published copy */
struct qstate {
	enum sfs_quorum_role role;
	uint64_t term;
	uint64_t server_start_term;	/* term of our started server, 0: none to STOP */
	int server_event;		/* last event written for it: ELECT, FENCE, STOP or -1 */
	int vote_for;			/* slot voted for in this term (ours: stood), or -1 */
	uint32_t vote_bits;		/* slots that voted for us in this term */
	int leader_slot;		/* whose HEARTBEAT of this term we heard, or -1 */
	uint64_t timeout_ns;		/* CLOCK_MONOTONIC deadline of the current wait */
};

struct old_leader {
	int slot;
	uint64_t rid;
	uint64_t term;
};

/* the last message taken from a slot, against replays */
struct last_recv {
	uint64_t rid;
	uint64_t seq;
};

struct sfs_quorum {
	struct sfs_fs *fs;

	/* set by setup, read-only afterwards */
	int slot_nr;
	uint64_t rid;
	uint64_t fsid;
	struct scoutfs_quorum_config qconf;
	int (*start_server)(void *arg, uint64_t term);
	void (*stop_server)(void *arg);
	void *arg;
	unsigned int hb_timeout_ms;
	int nr_present;
	int votes_needed;
	uint8_t key[SCOUTFS_NET_KEY_BYTES];	/* members: the quorum message key */

	/* the thread calling start/stop/destroy */
	pthread_t thread;
	bool thread_started;
	int sock;			/* UDP, bound to our slot's address; -1 */
	int evfd;			/* wakes the worker; -1 */

	/* the worker's, prepared by start before the thread exists */
	struct qstate qst;
	bool server_running;
	uint64_t rng;
	uint64_t send_seq;		/* datagrams sent since start */
	struct last_recv last_recv[SCOUTFS_QUORUM_MAX_SLOTS];
	struct old_leader start_old[2];	/* our slot's leaders that never stopped, at start */
	int nr_start_old;

	/* lock and what it protects */
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* waiters: pub, running */
	bool lock_init;
	bool changed_init;
	bool shutdown;
	bool server_stopped;
	uint64_t server_up_term;	/* sfs_quorum_server_up(): that server fenced the old leaders */
	bool server_reports_up;		/* immutable: opts.server_reports_up */
	bool running;			/* the worker has not exited */
	struct qstate pub;
	int err;			/* what ended the worker */
	struct sfs_quorum_stats stats;
	struct old_leader old[MAX_OLD_LEADERS];	/* found by the last election won */
	int nr_old;
	union scoutfs_inet_addr server_addr;	/* last sfs_quorum_find_server() result */
	uint64_t server_term;		/* 0: none found */
	/* CLOCK_MONOTONIC ns of the last message taken from each slot, 0: none since start */
	uint64_t recv_ns[SCOUTFS_QUORUM_MAX_SLOTS];
};

/* a quorum block read or written whole */
union qblock {
	struct scoutfs_quorum_block qb;
	uint8_t raw[SCOUTFS_BLOCK_SM_SIZE];
};

static const char *const event_names[SCOUTFS_QUORUM_EVENT_NR] = {
	"begin", "term", "elect", "fence", "stop", "end",
};

static const char *event_name(int event)
{
	return event >= 0 && event < SCOUTFS_QUORUM_EVENT_NR ? event_names[event] : "none";
}

static const char *role_name(enum sfs_quorum_role role)
{
	switch (role) {
	case SFS_QUORUM_ROLE_FOLLOWER:
		return "follower";
	case SFS_QUORUM_ROLE_CANDIDATE:
		return "candidate";
	case SFS_QUORUM_ROLE_LEADER:
		return "leader";
	default:
		return "none";
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SECOND + (uint64_t)ts.tv_nsec;
}

static struct timespec ns_to_ts(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / NSEC_PER_SECOND),
		.tv_nsec = (long)(ns % NSEC_PER_SECOND),
	};

	return ts;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t next_rand(struct sfs_quorum *q)
{
	q->rng ^= q->rng << 13;
	q->rng ^= q->rng >> 7;
	q->rng ^= q->rng << 17;
	return q->rng;
}

static uint64_t election_timeout(struct sfs_quorum *q)
{
	return now_ns() +
	       (SFS_QUORUM_ELECT_MIN_MS + next_rand(q) % SFS_QUORUM_ELECT_VAR_MS) * NSEC_PER_MSEC;
}

static uint64_t heartbeat_timeout(struct sfs_quorum *q)
{
	return now_ns() + q->hb_timeout_ms * NSEC_PER_MSEC;
}

static uint64_t heartbeat_interval(void)
{
	return now_ns() + SFS_QUORUM_HB_IVAL_MS * NSEC_PER_MSEC;
}

/* count in the agent's stats and in the daemon's quorum_<name> counter */
#define STAT_ADD(q, name, n)                                        \
	do {                                                        \
		pthread_mutex_lock(&(q)->lock);                     \
		(q)->stats.name += (n);                             \
		pthread_mutex_unlock(&(q)->lock);                   \
		sfs_counter_add((q)->fs, SFS_CTR_quorum_##name, n); \
	} while (0)
#define STAT_INC(q, name) STAT_ADD(q, name, 1)

/* ------------------------------------------------------------------ */
/* Quorum blocks                                                        */
/* ------------------------------------------------------------------ */

/*
 * Read and check a slot's block: crc, magic, fsid and blkno (the block
 * layer), then the fields.  A header mismatch is no stale reference to
 * refetch here: the block is not this volume's, -EIO.  With our_rid set
 * (every update after BEGIN), events[BEGIN].rid must be ours.
 */
static int read_block(struct sfs_fs *fs, int slot, union qblock *blk, uint64_t our_rid)
{
	unsigned long long blkno = SCOUTFS_QUORUM_BLKNO + (unsigned int)slot;
	uint64_t begin_rid;
	char why[160];
	int ret;

	ret = sfs_block_read_sm(fs, SFS_DEV_META, blkno, SCOUTFS_BLOCK_MAGIC_QUORUM, blk->raw);
	if (ret == -ESTALE) {
		sfs_err(fs, "quorum slot %d: block %llu has the wrong magic, fsid or blkno", slot,
			blkno);
		ret = -EIO;
		goto out;
	}
	if (ret) {
		sfs_err(fs, "quorum slot %d: reading block %llu failed: %s", slot, blkno,
			strerror(-ret));
		goto out;
	}
	if (sfs_text_validate_quorum_block(&blk->qb, why, sizeof(why))) {
		sfs_err(fs, "quorum slot %d: block %llu is invalid: %s", slot, blkno, why);
		ret = -EIO;
		goto out;
	}

	begin_rid = le64toh(blk->qb.events[SCOUTFS_QUORUM_EVENT_BEGIN].rid);
	if (our_rid && begin_rid != our_rid) {
		sfs_err(fs,
			"another mount is using quorum slot %d (rid %016llx); this mount (rid %016llx) stops taking part in quorum: a quorum_slot_nr must be used by one mount only",
			slot, (unsigned long long)begin_rid, (unsigned long long)our_rid);
		ret = -EBUSY;
	}
out:
	return ret;
}

/*
 * Record one event in our slot's block: re-read it (checking the BEGIN
 * rid unless this is BEGIN), bump write_nr, fill the event, write, flush.
 */
static int update_block(struct sfs_quorum *q, int event, uint64_t term, bool check_rid)
{
	struct sfs_fs *fs = q->fs;
	unsigned long long blkno = SCOUTFS_QUORUM_BLKNO + (unsigned int)q->slot_nr;
	struct scoutfs_quorum_block_event *ev;
	struct timespec ts;
	union qblock blk;
	uint64_t nr;
	int ret;

	ret = read_block(fs, q->slot_nr, &blk, check_rid ? q->rid : 0);
	if (ret)
		goto out;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	nr = le64toh(blk.qb.write_nr) + 1;
	blk.qb.write_nr = htole64(nr);
	ev = &blk.qb.events[event];
	memset(ev, 0, sizeof(*ev));
	ev->write_nr = htole64(nr);
	ev->rid = htole64(q->rid);
	ev->term = htole64(term);
	ev->ts.sec = htole64((uint64_t)ts.tv_sec);
	ev->ts.nsec = htole32((uint32_t)ts.tv_nsec);

	ret = sfs_block_write_sm(fs, SFS_DEV_META, blkno, blk.raw);
	if (!ret)
		ret = sfs_block_flush(fs, SFS_DEV_META);
	if (ret) {
		sfs_err(fs, "quorum slot %d: writing the %s event of term %llu to block %llu failed: %s",
			q->slot_nr, event_name(event), (unsigned long long)term, blkno,
			strerror(-ret));
		goto out;
	}
	STAT_INC(q, writes);
	sfs_debug(fs, "quorum slot %d: wrote %s term %llu write_nr %llu", q->slot_nr,
		  event_name(event), (unsigned long long)term, (unsigned long long)nr);
out:
	if (ret)
		STAT_INC(q, errors);
	return ret;
}

/*
 * The start-up pass over all 15 blocks: every one must pass its checks.
 * The greatest term is over every event with a rid in every block, present
 * slot or not (a slot removed from the configuration still ran terms).
 * Our slot's leaders that never wrote STOP are dead (one mount per slot)
 * and are kept for fence_old_leaders(), since our own ELECT is about to
 * overwrite the event that records them.  Another present slot showing a
 * leader makes a member wait a heartbeat timeout before standing.
 */
static int scan_blocks(struct sfs_quorum *q, uint64_t *greatest, bool *live_other)
{
	const struct scoutfs_quorum_block_event *evs;
	uint64_t elect, stop, fence;
	union qblock blk;
	int ret = 0;
	int i, e;

	*greatest = 0;
	*live_other = false;
	q->nr_start_old = 0;

	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		ret = read_block(q->fs, i, &blk, 0);
		if (ret) {
			STAT_INC(q, errors);
			goto out;
		}
		evs = blk.qb.events;
		for (e = 0; e < SCOUTFS_QUORUM_EVENT_NR; e++) {
			if (evs[e].rid && le64toh(evs[e].term) > *greatest)
				*greatest = le64toh(evs[e].term);
		}
		if (!sfs_quorum_slot_present(&q->qconf.slots[i]))
			continue;

		elect = le64toh(evs[SCOUTFS_QUORUM_EVENT_ELECT].term);
		stop = le64toh(evs[SCOUTFS_QUORUM_EVENT_STOP].term);
		fence = le64toh(evs[SCOUTFS_QUORUM_EVENT_FENCE].term);
		if (i != q->slot_nr) {
			if (elect > stop)
				*live_other = true;
			continue;
		}
		if (elect > stop)
			q->start_old[q->nr_start_old++] = (struct old_leader){
				i, le64toh(evs[SCOUTFS_QUORUM_EVENT_ELECT].rid), elect
			};
		if (fence > stop && fence < elect)
			q->start_old[q->nr_start_old++] = (struct old_leader){
				i, le64toh(evs[SCOUTFS_QUORUM_EVENT_FENCE].rid), fence
			};
	}
out:
	return ret;
}

/*
 * Called by a new leader of @term, after ELECT and before its server
 * starts: find the previous leaders that may still run, as the reference
 * does.  Per present slot, an ELECT newer than its STOP (a leader that
 * may be running) and a FENCE newer than STOP but older than ELECT (a
 * server that never stopped cleanly); plus our slot's leaders noted at
 * start.  Skipped: terms older than the greatest FENCE anywhere (already
 * fenced by that leader), newer than ours, and our own rid.
 *
 * Today each is recorded (status, old_leaders counter) and logged; the
 * cluster issue hands them to the fence subsystem and waits.
 */
static int fence_old_leaders(struct sfs_quorum *q, uint64_t term)
{
	struct old_leader cand[MAX_OLD_LEADERS + 2];
	struct old_leader found[MAX_OLD_LEADERS];
	const struct scoutfs_quorum_block_event *evs;
	char addr[SFS_TEXT_ADDR_LEN];
	uint64_t elect, stop, fence;
	uint64_t fenced = 0;
	union qblock blk;
	int nr_cand = 0;
	int nr = 0;
	int ret = 0;
	int i, j;

	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (!sfs_quorum_slot_present(&q->qconf.slots[i]))
			continue;
		ret = read_block(q->fs, i, &blk, 0);
		if (ret)
			goto out;
		evs = blk.qb.events;
		elect = le64toh(evs[SCOUTFS_QUORUM_EVENT_ELECT].term);
		stop = le64toh(evs[SCOUTFS_QUORUM_EVENT_STOP].term);
		fence = le64toh(evs[SCOUTFS_QUORUM_EVENT_FENCE].term);
		if (elect > stop)
			cand[nr_cand++] = (struct old_leader){
				i, le64toh(evs[SCOUTFS_QUORUM_EVENT_ELECT].rid), elect
			};
		if (fence > stop && fence < elect)
			cand[nr_cand++] = (struct old_leader){
				i, le64toh(evs[SCOUTFS_QUORUM_EVENT_FENCE].rid), fence
			};
		if (fence > fenced)
			fenced = fence;
	}
	for (i = 0; i < q->nr_start_old; i++)
		cand[nr_cand++] = q->start_old[i];

	for (i = 0; i < nr_cand; i++) {
		if (cand[i].term == 0 || cand[i].term < fenced || cand[i].term > term ||
		    cand[i].rid == q->rid)
			continue;
		for (j = 0; j < nr; j++) {
			if (found[j].slot == cand[i].slot && found[j].rid == cand[i].rid &&
			    found[j].term == cand[i].term)
				break;
		}
		if (j < nr || nr == MAX_OLD_LEADERS)
			continue;
		found[nr++] = cand[i];
		sfs_text_inet_addr(addr, sizeof(addr), &q->qconf.slots[cand[i].slot].addr);
		sfs_warn(q->fs,
			 "quorum: previous leader rid %016llx of term %llu in slot %d (%s) never stopped; fencing it",
			 (unsigned long long)cand[i].rid, (unsigned long long)cand[i].term,
			 cand[i].slot, addr);
	}

	pthread_mutex_lock(&q->lock);
	memcpy(q->old, found, sizeof(found[0]) * (size_t)nr);
	q->nr_old = nr;
	q->stats.old_leaders += (uint64_t)nr;
	pthread_mutex_unlock(&q->lock);
out:
	if (ret)
		STAT_INC(q, errors);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Messages: keys, the slot's UDP socket, send and receive              */
/* ------------------------------------------------------------------ */

int sfs_quorum_derive_key(const uint8_t uuid[SCOUTFS_UUID_BYTES],
			  uint8_t key[SCOUTFS_NET_KEY_BYTES])
{
	static const char label[] = SCOUTFS_QUORUM_KEY_LABEL;
	uint8_t vkey[SCOUTFS_NET_KEY_BYTES];
	unsigned int len = 0;
	int ret;

	ret = sfs_net_derive_key(uuid, vkey);
	if (ret)
		goto out;
	if (!HMAC(EVP_sha256(), vkey, sizeof(vkey), (const unsigned char *)label,
		  sizeof(label) - 1, key, &len) ||
	    len != SCOUTFS_NET_KEY_BYTES)
		ret = -EIO;
out:
	OPENSSL_cleanse(vkey, sizeof(vkey));
	return ret;
}

static int msg_tag(const uint8_t *key, const struct scoutfs_quorum_message *qm,
		   uint8_t tag[SCOUTFS_QUORUM_TAG_BYTES])
{
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), key, SCOUTFS_NET_KEY_BYTES, (const unsigned char *)qm,
		  offsetof(struct scoutfs_quorum_message, tag), tag, &len) ||
	    len != SCOUTFS_QUORUM_TAG_BYTES)
		return -EIO;
	return 0;
}

int sfs_quorum_msg_seal(const uint8_t key[SCOUTFS_NET_KEY_BYTES],
			struct scoutfs_quorum_message *qm)
{
	return msg_tag(key, qm, qm->tag);
}

int sfs_quorum_sockaddr(const union scoutfs_inet_addr *addr, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (le16toh(addr->v4.family) == SCOUTFS_AF_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(le16toh(addr->v4.port));
		sin->sin_addr.s_addr = htonl(le32toh(addr->v4.addr));
		*len = sizeof(*sin);
		return 0;
	}
	if (le16toh(addr->v6.family) == SCOUTFS_AF_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(le16toh(addr->v6.port));
		memcpy(&sin6->sin6_addr, addr->v6.addr, 16);
		sin6->sin6_scope_id = le32toh(addr->v6.scope_id);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

/* by start (failed) and stop, never while the worker runs */
static void close_socket(struct sfs_quorum *q)
{
	int sock, evfd;

	if (q->sock < 0 && q->evfd < 0)
		return;
	/* under the lock: sfs_quorum_server_stopped() may be writing evfd */
	pthread_mutex_lock(&q->lock);
	sock = q->sock;
	evfd = q->evfd;
	q->sock = -1;
	q->evfd = -1;
	pthread_mutex_unlock(&q->lock);
	if (sock >= 0)
		close(sock);
	if (evfd >= 0)
		close(evfd);
}

/*
 * Bind the UDP socket of our slot, and make the worker's eventfd.  The
 * bind is what finds another mount of the slot on this host.
 */
static int open_socket(struct sfs_quorum *q)
{
	const union scoutfs_inet_addr *addr = &q->qconf.slots[q->slot_nr].addr;
	char text[SFS_TEXT_ADDR_LEN];
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int ret;

	sfs_text_inet_addr(text, sizeof(text), addr);
	ret = sfs_quorum_sockaddr(addr, &ss, &len);
	if (ret)
		goto out;

	q->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->evfd < 0) {
		ret = -errno;
		sfs_err(q->fs, "quorum: eventfd: %s", strerror(-ret));
		goto out;
	}
	q->sock = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (q->sock < 0) {
		ret = -errno;
		sfs_err(q->fs, "quorum slot %d (%s): cannot make a UDP socket: %s", q->slot_nr,
			text, strerror(-ret));
		goto out;
	}
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(q->sock, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		ret = -errno;
		sfs_err(q->fs, "quorum slot %d (%s): IPV6_V6ONLY: %s", q->slot_nr, text,
			strerror(-ret));
		goto out;
	}
	if (bind(q->sock, (struct sockaddr *)&ss, len) < 0) {
		ret = -errno;
		if (ret == -EADDRINUSE)
			sfs_err(q->fs,
				"quorum slot %d (%s) is in use by another mount; a quorum_slot_nr must be used by one mount only",
				q->slot_nr, text);
		else if (ret == -EADDRNOTAVAIL)
			sfs_err(q->fs,
				"quorum slot %d (%s): the address is not one of this host's: %s",
				q->slot_nr, text, strerror(-ret));
		else
			sfs_err(q->fs, "quorum slot %d (%s): binding the UDP socket failed: %s",
				q->slot_nr, text, strerror(-ret));
		goto out;
	}
out:
	if (ret)
		close_socket(q);
	return ret;
}

/* wake the worker from its ppoll(); the caller set the flag first */
static void wake_worker(struct sfs_quorum *q)
{
	uint64_t one = 1;
	ssize_t n = 0;

	pthread_mutex_lock(&q->lock);
	/* EAGAIN: the counter is already non-zero, the worker will wake */
	if (q->evfd >= 0)
		n = write(q->evfd, &one, sizeof(one));
	pthread_mutex_unlock(&q->lock);
	(void)n;
}

/*
 * Send a message of @type for @term to slot @only, or to every other
 * present slot when @only < 0.  Each datagram sent counts as
 * send_<type>, each failure as send_error; a failure is never fatal (a
 * lost message is the timeouts' business).  Returns the number that
 * failed.  Only the worker sends.
 */
static int send_msg(struct sfs_quorum *q, int type, uint64_t term, int only)
{
	struct scoutfs_quorum_message qm;
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t sent = 0;
	int failed = 0;
	ssize_t n;
	int i;

	if (q->sock < 0)
		return 0;
	memset(&qm, 0, sizeof(qm));
	qm.fsid = htole64(q->fsid);
	qm.rid = htole64(q->rid);
	qm.seq = htole64(++q->send_seq);
	qm.term = htole64(term);
	qm.version = SCOUTFS_QUORUM_MSG_VERSION;
	qm.type = (uint8_t)type;
	qm.from = (uint8_t)q->slot_nr;
	if (msg_tag(q->key, &qm, qm.tag)) {
		STAT_INC(q, send_error);
		return 1;
	}

	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (i == q->slot_nr || (only >= 0 && i != only) ||
		    !sfs_quorum_slot_present(&q->qconf.slots[i]) ||
		    sfs_quorum_sockaddr(&q->qconf.slots[i].addr, &ss, &len))
			continue;
		n = sendto(q->sock, &qm, sizeof(qm), MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&ss, len);
		if (n == (ssize_t)sizeof(qm)) {
			sent++;
		} else {
			failed++;
			sfs_debug(q->fs, "quorum: sending type %d term %llu to slot %d failed: %s",
				  type, (unsigned long long)term, i,
				  n < 0 ? strerror(errno) : "short send");
		}
	}

	switch (type) {
	case MSG_REQUEST_VOTE:
		STAT_ADD(q, send_request, sent);
		break;
	case MSG_VOTE:
		STAT_ADD(q, send_vote, sent);
		break;
	case MSG_HEARTBEAT:
		STAT_ADD(q, send_heartbeat, sent);
		break;
	default:
		STAT_ADD(q, send_resignation, sent);
		break;
	}
	if (failed)
		STAT_ADD(q, send_error, (uint64_t)failed);
	return failed;
}

/*
 * Check a datagram of @len bytes in format.h's order; 0 with @msg filled,
 * or -EINVAL once the reason is counted.  The tag comes first: nothing
 * else in a datagram is looked at before it verified.
 */
static int check_msg(struct sfs_quorum *q, const struct scoutfs_quorum_message *qm, ssize_t len,
		     struct quorum_msg *msg)
{
	static const uint8_t zero[sizeof(qm->__pad)];
	uint8_t tag[SCOUTFS_QUORUM_TAG_BYTES];
	struct last_recv *last;
	uint64_t rid, seq;
	int from;

	if (len != (ssize_t)sizeof(*qm)) {
		STAT_INC(q, recv_invalid);
		return -EINVAL;
	}
	if (msg_tag(q->key, qm, tag) || CRYPTO_memcmp(tag, qm->tag, sizeof(tag)) != 0) {
		STAT_INC(q, recv_bad_hmac);
		return -EINVAL;
	}
	rid = le64toh(qm->rid);
	seq = le64toh(qm->seq);
	if (qm->version != SCOUTFS_QUORUM_MSG_VERSION || memcmp(qm->__pad, zero, sizeof(zero)) ||
	    rid == 0 || rid == ~0ULL || seq == 0) {
		STAT_INC(q, recv_invalid);
		return -EINVAL;
	}
	if (le64toh(qm->fsid) != q->fsid) {
		STAT_INC(q, recv_bad_fsid);
		return -EINVAL;
	}
	if (qm->type >= SCOUTFS_QUORUM_MSG__NR) {
		STAT_INC(q, recv_bad_type);
		return -EINVAL;
	}
	from = qm->from;
	if (from >= (int)SCOUTFS_QUORUM_MAX_SLOTS || from == q->slot_nr ||
	    !sfs_quorum_slot_present(&q->qconf.slots[from])) {
		STAT_INC(q, recv_bad_slot);
		return -EINVAL;
	}
	last = &q->last_recv[from];
	if (rid == last->rid && seq <= last->seq) {
		STAT_INC(q, recv_replay);
		return -EINVAL;
	}
	last->rid = rid;
	last->seq = seq;
	pthread_mutex_lock(&q->lock);
	q->recv_ns[from] = now_ns();
	pthread_mutex_unlock(&q->lock);

	msg->type = qm->type;
	msg->term = le64toh(qm->term);
	msg->from = from;
	return 0;
}

/*
 * Wait until @deadline_ns, a shutdown or a stopped server, and return
 * the first message that passed its checks in @msg (type MSG_NONE when
 * there was none).  Datagrams that fail are counted and dropped, and the
 * wait goes on.  0, or -errno of a failed ppoll().
 */
static int recv_msg(struct sfs_quorum *q, struct quorum_msg *msg, uint64_t deadline_ns)
{
	struct scoutfs_quorum_message qm;
	struct pollfd pfd[2];
	struct timespec rel;
	uint64_t now, val;
	bool stop;
	ssize_t n;
	int ret = 0;

	msg->type = MSG_NONE;
	msg->term = 0;
	msg->from = -1;

	for (;;) {
		pthread_mutex_lock(&q->lock);
		stop = q->shutdown || q->server_stopped;
		pthread_mutex_unlock(&q->lock);
		now = now_ns();
		if (stop || now >= deadline_ns)
			break;

		rel = ns_to_ts(deadline_ns - now);
		pfd[0] = (struct pollfd){ .fd = q->sock, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = q->evfd, .events = POLLIN };
		if (ppoll(pfd, 2, &rel, NULL) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			sfs_err(q->fs, "quorum: waiting for messages failed: %s", strerror(-ret));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			n = read(q->evfd, &val, sizeof(val));
			(void)n;
		}
		if (!(pfd[0].revents & (POLLIN | POLLERR)))
			continue;

		/* MSG_TRUNC: the datagram's real length, to refuse longer ones */
		n = recv(q->sock, &qm, sizeof(qm), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				STAT_INC(q, recv_error);
				sfs_debug(q->fs, "quorum: receiving failed: %s", strerror(errno));
			}
			continue;
		}
		if (check_msg(q, &qm, n, msg) == 0)
			break;
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* The state machine                                                    */
/* ------------------------------------------------------------------ */

static void publish(struct sfs_quorum *q, const struct qstate *qst)
{
	pthread_mutex_lock(&q->lock);
	q->pub = *qst;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}

static bool shutting_down(struct sfs_quorum *q)
{
	bool ret;

	pthread_mutex_lock(&q->lock);
	ret = q->shutdown;
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static void stop_our_server(struct sfs_quorum *q, uint64_t term)
{
	sfs_info(q->fs, "quorum: stopping the server of term %llu", (unsigned long long)term);
	q->stop_server(q->arg);
	q->server_running = false;
	STAT_INC(q, server_stops);
}

/* become leader of qst->term: ELECT, look for old leaders, start the server, FENCE */
static int lead(struct sfs_quorum *q, struct qstate *qst)
{
	struct sfs_fs *fs = q->fs;
	int ret;
	int err;

	qst->role = SFS_QUORUM_ROLE_LEADER;
	qst->leader_slot = q->slot_nr;
	STAT_INC(q, elected);
	send_msg(q, MSG_HEARTBEAT, qst->term, -1);
	qst->timeout_ns = heartbeat_interval();

	ret = update_block(q, SCOUTFS_QUORUM_EVENT_ELECT, qst->term, true);
	if (ret)
		goto out;
	qst->server_start_term = qst->term;
	qst->server_event = SCOUTFS_QUORUM_EVENT_ELECT;
	sfs_info(fs, "quorum: slot %d elected leader of term %llu", q->slot_nr,
		 (unsigned long long)qst->term);

	err = fence_old_leaders(q, qst->term);
	if (!err)
		err = q->start_server(q->arg, qst->term);
	if (err) {
		/* the server is down: the caller writes STOP and we stand again */
		sfs_err(fs, "quorum: starting the server of term %llu failed: %s",
			(unsigned long long)qst->term, strerror(err < 0 ? -err : err));
		STAT_INC(q, errors);
		goto out;
	}
	q->server_running = true;
	STAT_INC(q, server_starts);
	/*
	 * A server that reports up writes FENCE once it has had the old
	 * leaders fenced (sfs_quorum_server_up).  A later leader skips the
	 * leaders older than a FENCE, so writing it before would leave a
	 * leader that was never fenced to run on.
	 */
	if (!q->server_reports_up) {
		ret = update_block(q, SCOUTFS_QUORUM_EVENT_FENCE, qst->term, true);
		if (ret)
			goto out;
		qst->server_event = SCOUTFS_QUORUM_EVENT_FENCE;
	}
out:
	return ret;
}

/*
 * One turn of the election after recv_msg() returned: apply the message
 * (or none) and the timeouts to qst, writing the events each transition
 * needs.  Returns 0, or the error of a quorum block update, which ends
 * the agent.
 */
static int quorum_step(struct sfs_quorum *q, struct qstate *qst, struct quorum_msg *msg)
{
	struct sfs_fs *fs = q->fs;
	uint64_t up;
	bool stopped;
	int ret = 0;

	/* a server that stopped on its own is down; stop_server frees it */
	pthread_mutex_lock(&q->lock);
	stopped = q->server_stopped;
	q->server_stopped = false;
	pthread_mutex_unlock(&q->lock);
	/* our server has had the old leaders fenced: FENCE */
	pthread_mutex_lock(&q->lock);
	up = q->server_up_term;
	pthread_mutex_unlock(&q->lock);
	if (q->server_running && up && up == qst->server_start_term &&
	    qst->server_event == SCOUTFS_QUORUM_EVENT_ELECT && qst->role == SFS_QUORUM_ROLE_LEADER) {
		ret = update_block(q, SCOUTFS_QUORUM_EVENT_FENCE, up, true);
		if (ret)
			goto out;
		qst->server_event = SCOUTFS_QUORUM_EVENT_FENCE;
	}

	if (stopped && q->server_running) {
		sfs_warn(fs, "quorum: the server of term %llu stopped on its own",
			 (unsigned long long)qst->server_start_term);
		/* what is left of it goes: its mounts move to the next leader */
		q->stop_server(q->arg);
		q->server_running = false;
		STAT_INC(q, server_stops);
	}

	/* messages of older terms are dropped */
	if (msg->type != MSG_NONE && msg->term < qst->term) {
		STAT_INC(q, recv_old_term);
		msg->type = MSG_NONE;
	}
	switch (msg->type) {
	case MSG_REQUEST_VOTE:
		STAT_INC(q, recv_request);
		break;
	case MSG_VOTE:
		STAT_INC(q, recv_vote);
		break;
	case MSG_HEARTBEAT:
		STAT_INC(q, recv_heartbeat);
		break;
	case MSG_RESIGNATION:
		STAT_INC(q, recv_resignation);
		break;
	default:
		break;
	}

	/* a newer term: follow it, persisted first */
	if (msg->type != MSG_NONE && msg->term > qst->term) {
		if (qst->role == SFS_QUORUM_ROLE_LEADER)
			sfs_warn(fs,
				 "quorum: message type %d from slot %d of term %llu while leader of term %llu; stopping the server",
				 msg->type, msg->from, (unsigned long long)msg->term,
				 (unsigned long long)qst->term);
		qst->role = SFS_QUORUM_ROLE_FOLLOWER;
		qst->term = msg->term;
		qst->vote_for = -1;
		qst->vote_bits = 0;
		qst->leader_slot = -1;
		qst->timeout_ns = msg->type == MSG_HEARTBEAT ? heartbeat_timeout(q) :
							       election_timeout(q);
		STAT_INC(q, term_follower);
		ret = update_block(q, SCOUTFS_QUORUM_EVENT_TERM, qst->term, true);
		if (ret)
			goto out;
	}

	/*
	 * A heartbeat of our term names its leader and puts off elections;
	 * a candidate of the term lost.  Another leader of our own term
	 * (one vote elects with one or two slots, and both stood at once):
	 * the greater slot steps down, its server stops below.
	 */
	if (msg->type == MSG_HEARTBEAT) {
		if (qst->role == SFS_QUORUM_ROLE_LEADER && msg->from < q->slot_nr) {
			sfs_warn(fs,
				 "quorum: slot %d is also leader of term %llu; slot %d steps down",
				 msg->from, (unsigned long long)qst->term, q->slot_nr);
			STAT_INC(q, step_down);
			qst->role = SFS_QUORUM_ROLE_FOLLOWER;
			qst->vote_bits = 0;
		}
		if (qst->role != SFS_QUORUM_ROLE_LEADER) {
			qst->role = SFS_QUORUM_ROLE_FOLLOWER;
			qst->leader_slot = msg->from;
			qst->timeout_ns = heartbeat_timeout(q);
		}
	}

	/* a resigning leader: its followers stand after an election timeout */
	if (msg->type == MSG_RESIGNATION && qst->role == SFS_QUORUM_ROLE_FOLLOWER &&
	    msg->term == qst->term) {
		qst->leader_slot = -1;
		qst->timeout_ns = election_timeout(q);
	}

	/* followers and candidates stand on timeout, once their server is down */
	if (qst->role != SFS_QUORUM_ROLE_LEADER && now_ns() >= qst->timeout_ns) {
		if (q->server_running) {
			qst->timeout_ns = election_timeout(q);
		} else {
			qst->role = SFS_QUORUM_ROLE_CANDIDATE;
			qst->term++;
			qst->vote_for = q->slot_nr;
			qst->vote_bits = 1U << q->slot_nr;
			qst->leader_slot = -1;
			send_msg(q, MSG_REQUEST_VOTE, qst->term, -1);
			qst->timeout_ns = election_timeout(q);
			STAT_INC(q, elections);
			ret = update_block(q, SCOUTFS_QUORUM_EVENT_TERM, qst->term, true);
			if (ret)
				goto out;
		}
	}

	/* candidates count the votes of their term, each slot's once */
	if (qst->role == SFS_QUORUM_ROLE_CANDIDATE && msg->type == MSG_VOTE) {
		if (qst->vote_bits & (1U << msg->from))
			sfs_warn(fs,
				 "quorum: a second vote from slot %d in term %llu: do several mounts use quorum_slot_nr=%d?",
				 msg->from, (unsigned long long)qst->term, msg->from);
		qst->vote_bits |= 1U << msg->from;
	}

	/* enough votes (with one slot, our own) */
	if (qst->role == SFS_QUORUM_ROLE_CANDIDATE &&
	    __builtin_popcount(qst->vote_bits) >= q->votes_needed) {
		ret = lead(q, qst);
		if (ret)
			goto out;
	}

	/* a server runs only for the leader of its term */
	if (q->server_running &&
	    !(qst->role == SFS_QUORUM_ROLE_LEADER && qst->term == qst->server_start_term))
		stop_our_server(q, qst->server_start_term);

	/* our server is down: record STOP; a leader steps down and resigns */
	if (qst->server_start_term > 0 && !q->server_running) {
		if (qst->role == SFS_QUORUM_ROLE_LEADER) {
			qst->role = SFS_QUORUM_ROLE_FOLLOWER;
			qst->vote_bits = 0;
			qst->leader_slot = -1;
			qst->timeout_ns = election_timeout(q);
			send_msg(q, MSG_RESIGNATION, qst->server_start_term, -1);
		}
		ret = update_block(q, SCOUTFS_QUORUM_EVENT_STOP, qst->server_start_term, true);
		if (ret)
			goto out;
		qst->server_start_term = 0;
		qst->server_event = SCOUTFS_QUORUM_EVENT_STOP;
	}

	/* leaders send heartbeats */
	if (qst->role == SFS_QUORUM_ROLE_LEADER && now_ns() >= qst->timeout_ns) {
		send_msg(q, MSG_HEARTBEAT, qst->term, -1);
		qst->timeout_ns = heartbeat_interval();
	}

	/* followers vote once per term, for the first to ask */
	if (qst->role == SFS_QUORUM_ROLE_FOLLOWER && msg->type == MSG_REQUEST_VOTE &&
	    qst->vote_for == -1) {
		qst->vote_for = msg->from;
		send_msg(q, MSG_VOTE, qst->term, msg->from);
	}
out:
	return ret;
}

static void *quorum_worker(void *arg)
{
	struct sfs_quorum *q = arg;
	struct qstate *qst = &q->qst;
	struct quorum_msg msg;
	int ret = 0;

	for (;;) {
		publish(q, qst);
		if (shutting_down(q))
			break;
		ret = recv_msg(q, &msg, qst->timeout_ns);
		if (!ret && !shutting_down(q))
			ret = quorum_step(q, qst, &msg);
		if (ret)
			break;
	}

	/* a server never outlives its agent; after an error nothing more is written */
	if (q->server_running) {
		stop_our_server(q, qst->server_start_term);
		send_msg(q, MSG_RESIGNATION, qst->term, -1);
	}
	if (!ret && qst->server_start_term > 0) {
		ret = update_block(q, SCOUTFS_QUORUM_EVENT_STOP, qst->server_start_term, true);
		if (!ret) {
			qst->server_start_term = 0;
			qst->server_event = SCOUTFS_QUORUM_EVENT_STOP;
		}
	}
	if (!ret)
		ret = update_block(q, SCOUTFS_QUORUM_EVENT_END, qst->term, true);
	if (ret)
		sfs_err(q->fs,
			"quorum: the agent of slot %d stopped on error %d (%s); this mount no longer takes part in quorum and should be remounted",
			q->slot_nr, ret, strerror(-ret));

	pthread_mutex_lock(&q->lock);
	q->err = ret;
	q->running = false;
	q->pub = *qst;
	q->pub.role = SFS_QUORUM_ROLE_NONE;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

static int check_member(struct sfs_quorum *q, const struct sfs_quorum_opts *opts)
{
	struct sfs_fs *fs = q->fs;
	char slots[SCOUTFS_QUORUM_MAX_SLOTS * 3 + 1];
	size_t off = 0;
	int ret = 0;
	int i;

	if (!opts->start_server || !opts->stop_server) {
		sfs_err(fs, "quorum: a member needs start_server and stop_server callbacks");
		ret = -EINVAL;
		goto out;
	}
	slots[0] = '\0';
	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (!sfs_quorum_slot_present(&q->qconf.slots[i]))
			continue;
		q->nr_present++;
		off += (size_t)snprintf(slots + off, sizeof(slots) - off, "%s%d", off ? "," : "",
					i);
	}
	if (!sfs_quorum_slot_present(&q->qconf.slots[q->slot_nr])) {
		sfs_err(fs,
			"quorum: quorum_slot_nr=%d references an unused slot; the configured slots are %s",
			q->slot_nr, slots);
		ret = -EINVAL;
		goto out;
	}
	q->votes_needed = sfs_quorum_votes_needed(&q->qconf);

	ret = sfs_quorum_derive_key(opts->super->uuid, q->key);
	if (ret)
		sfs_err(fs, "quorum: deriving the message key failed");
out:
	return ret;
}

/* a strict majority of the present slots, except that one or two slots need one vote */
int sfs_quorum_votes_needed(const struct scoutfs_quorum_config *qconf)
{
	int i, nr = 0;

	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++)
		nr += sfs_quorum_slot_present(&qconf->slots[i]);
	return nr < 3 ? 1 : nr / 2 + 1;
}

int sfs_quorum_setup(struct sfs_fs *fs, const struct sfs_quorum_opts *opts)
{
	pthread_condattr_t attr;
	struct sfs_quorum *q;
	char why[200];
	int ret;

	if (fs->quorum) {
		sfs_err(fs, "quorum: already set up");
		return -EBUSY;
	}
	if (!opts || !opts->super) {
		sfs_err(fs, "quorum: setup needs options and the super");
		return -EINVAL;
	}

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fs = fs;
	q->sock = -1;
	q->evfd = -1;
	fs->quorum = q;

	ret = -pthread_mutex_init(&q->lock, NULL);
	if (ret)
		goto out;
	q->lock_init = true;
	ret = -pthread_condattr_init(&attr);
	if (ret)
		goto out;
	ret = -pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!ret) {
		ret = -pthread_cond_init(&q->changed, &attr);
		q->changed_init = !ret;
	}
	pthread_condattr_destroy(&attr);
	if (ret)
		goto out;

	q->slot_nr = opts->slot_nr;
	q->rid = opts->rid;
	q->fsid = le64toh(opts->super->hdr.fsid);
	q->qconf = opts->super->qconf;
	q->start_server = opts->start_server;
	q->stop_server = opts->stop_server;
	q->server_reports_up = opts->server_reports_up;
	q->arg = opts->arg;
	q->hb_timeout_ms = opts->heartbeat_timeout_ms ?: SFS_QUORUM_HB_TIMEOUT_DEF_MS;
	q->qst.server_event = -1;
	q->qst.vote_for = -1;
	q->qst.leader_slot = -1;
	q->pub = q->qst;

	if (q->rid == 0 || q->rid == ~0ULL) {
		sfs_err(fs, "quorum: rid %016llx is reserved", (unsigned long long)q->rid);
		ret = -EINVAL;
		goto out;
	}
	if (fs->rid && fs->rid != q->rid) {
		sfs_err(fs, "quorum: rid %016llx is not the mount's rid %016llx",
			(unsigned long long)q->rid, (unsigned long long)fs->rid);
		ret = -EINVAL;
		goto out;
	}
	if (!fs->fsid || fs->fsid != le64toh(opts->super->hdr.fsid)) {
		sfs_err(fs, "quorum: the super (fsid %016llx) must be read before quorum setup",
			(unsigned long long)le64toh(opts->super->hdr.fsid));
		ret = -EINVAL;
		goto out;
	}
	if (q->hb_timeout_ms < SFS_QUORUM_HB_TIMEOUT_MIN_MS ||
	    q->hb_timeout_ms > SFS_QUORUM_HB_TIMEOUT_MAX_MS) {
		sfs_err(fs, "quorum: quorum_heartbeat_timeout_ms=%u must be from %u to %u",
			q->hb_timeout_ms, SFS_QUORUM_HB_TIMEOUT_MIN_MS,
			SFS_QUORUM_HB_TIMEOUT_MAX_MS);
		ret = -EINVAL;
		goto out;
	}
	if (q->slot_nr < -1 || q->slot_nr >= (int)SCOUTFS_QUORUM_MAX_SLOTS) {
		sfs_err(fs, "quorum: quorum_slot_nr=%d must be 0 to %llu", q->slot_nr,
			SCOUTFS_QUORUM_MAX_SLOTS - 1);
		ret = -EINVAL;
		goto out;
	}
	/* every mount: members elect among the slots, the others connect to them */
	if (sfs_quorum_config_check(&q->qconf, why, sizeof(why))) {
		sfs_err(fs, "quorum: %s", why);
		ret = -EINVAL;
		goto out;
	}
	if (q->slot_nr >= 0)
		ret = check_member(q, opts);
out:
	if (ret)
		sfs_quorum_destroy(fs);
	return ret;
}

int sfs_quorum_start(struct sfs_fs *fs)
{
	struct sfs_quorum *q = fs->quorum;
	struct qstate *qst;
	bool live_other;
	uint64_t greatest;
	int ret;

	if (!q) {
		ret = -EINVAL;
		goto out;
	}
	if (q->slot_nr < 0) {
		ret = 0;
		goto out;
	}
	if (q->thread_started) {
		ret = -EBUSY;
		goto out;
	}

	/* before anything is written: a second mount of the slot here fails the bind */
	ret = open_socket(q);
	if (ret)
		goto out;
	ret = scan_blocks(q, &greatest, &live_other);
	if (ret)
		goto out;

	q->rng = q->rid ^ now_ns();
	if (!q->rng)
		q->rng = 1;
	q->server_running = false;
	q->send_seq = 0;
	memset(q->last_recv, 0, sizeof(q->last_recv));
	qst = &q->qst;
	memset(qst, 0, sizeof(*qst));
	qst->role = SFS_QUORUM_ROLE_FOLLOWER;
	qst->term = greatest;
	qst->vote_for = -1;
	qst->leader_slot = -1;
	qst->server_event = -1;
	/* alone: nobody to hear from; a live leader elsewhere: its heartbeats */
	if (q->nr_present == 1)
		qst->timeout_ns = now_ns();
	else if (live_other)
		qst->timeout_ns = heartbeat_timeout(q);
	else
		qst->timeout_ns = election_timeout(q);

	ret = update_block(q, SCOUTFS_QUORUM_EVENT_BEGIN, qst->term, false);
	if (ret)
		goto out;

	pthread_mutex_lock(&q->lock);
	q->shutdown = false;
	q->server_stopped = false;
	q->running = true;
	q->err = 0;
	q->nr_old = 0;
	q->pub = *qst;
	memset(q->recv_ns, 0, sizeof(q->recv_ns));
	pthread_mutex_unlock(&q->lock);

	ret = -pthread_create(&q->thread, NULL, quorum_worker, q);
	if (ret) {
		sfs_err(fs, "quorum: starting the agent thread failed: %s", strerror(-ret));
		pthread_mutex_lock(&q->lock);
		q->running = false;
		q->pub.role = SFS_QUORUM_ROLE_NONE;
		pthread_mutex_unlock(&q->lock);
		update_block(q, SCOUTFS_QUORUM_EVENT_END, qst->term, true);
		goto out;
	}
	q->thread_started = true;
	sfs_info(fs, "quorum: slot %d agent started in term %llu (%d slots, %d votes elect)",
		 q->slot_nr, (unsigned long long)greatest, q->nr_present, q->votes_needed);
out:
	if (ret && q && !q->thread_started)
		close_socket(q);
	return ret;
}

int sfs_quorum_stop(struct sfs_fs *fs)
{
	struct sfs_quorum *q = fs->quorum;
	int ret = 0;

	if (!q)
		goto out;
	if (q->thread_started) {
		pthread_mutex_lock(&q->lock);
		q->shutdown = true;
		pthread_mutex_unlock(&q->lock);
		wake_worker(q);
		pthread_join(q->thread, NULL);
		q->thread_started = false;
	}
	close_socket(q);
	pthread_mutex_lock(&q->lock);
	ret = q->err;
	pthread_mutex_unlock(&q->lock);
out:
	return ret;
}

void sfs_quorum_destroy(struct sfs_fs *fs)
{
	struct sfs_quorum *q = fs->quorum;

	if (!q)
		return;
	if (q->thread_started)
		sfs_quorum_stop(fs);
	close_socket(q);
	OPENSSL_cleanse(q->key, sizeof(q->key));
	if (q->changed_init)
		pthread_cond_destroy(&q->changed);
	if (q->lock_init)
		pthread_mutex_destroy(&q->lock);
	free(q);
	fs->quorum = NULL;
}

void sfs_quorum_server_up(struct sfs_fs *fs, uint64_t term)
{
	struct sfs_quorum *q = fs->quorum;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->server_up_term = term;
	pthread_mutex_unlock(&q->lock);
	wake_worker(q);
}

void sfs_quorum_server_stopped(struct sfs_fs *fs)
{
	struct sfs_quorum *q = fs->quorum;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->server_stopped = true;
	pthread_mutex_unlock(&q->lock);
	wake_worker(q);
}

int sfs_quorum_wait_role(struct sfs_fs *fs, enum sfs_quorum_role role, unsigned int timeout_ms)
{
	struct sfs_quorum *q = fs->quorum;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	struct timespec ts = ns_to_ts(deadline);
	int ret;

	if (!q)
		return -ENOENT;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->pub.role == role) {
			ret = 0;
			break;
		}
		if (!q->running) {
			ret = q->err ? q->err : -ESRCH;
			break;
		}
		if (now_ns() >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		pthread_cond_timedwait(&q->changed, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Finding the server, status, counters                                 */
/* ------------------------------------------------------------------ */

static int find_server(struct sfs_fs *fs, const struct scoutfs_quorum_config *qconf,
		       union scoutfs_inet_addr *addr, uint64_t *term)
{
	struct sfs_quorum *q = fs->quorum;
	union scoutfs_inet_addr found;
	uint64_t elect, stop;
	uint64_t best = 0;
	union qblock blk;
	int ret = 0;
	int i;

	memset(&found, 0, sizeof(found));
	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (!sfs_quorum_slot_present(&qconf->slots[i]))
			continue;
		ret = read_block(fs, i, &blk, 0);
		if (ret) {
			if (q)
				STAT_INC(q, errors);
			goto out;
		}
		elect = le64toh(blk.qb.events[SCOUTFS_QUORUM_EVENT_ELECT].term);
		stop = le64toh(blk.qb.events[SCOUTFS_QUORUM_EVENT_STOP].term);
		if (elect > best && elect > stop) {
			best = elect;
			found = qconf->slots[i].addr;
		}
	}
	if (best == 0) {
		ret = -ENOENT;
		goto out;
	}
	*addr = found;
	*term = best;
out:
	if (q && (ret == 0 || ret == -ENOENT)) {
		pthread_mutex_lock(&q->lock);
		q->server_addr = found;
		q->server_term = best;
		pthread_mutex_unlock(&q->lock);
	}
	return ret;
}

size_t sfs_quorum_leaders_to_fence(struct sfs_fs *fs, struct sfs_quorum_leader *out, size_t max)
{
	struct sfs_quorum *q = fs->quorum;
	size_t nr = 0;
	int i;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->nr_old && nr < max; i++) {
		if (q->old[i].slot == q->slot_nr)
			continue;
		out[nr].rid = q->old[i].rid;
		out[nr].slot = q->old[i].slot;
		sfs_text_inet_ip(out[nr].addr, sizeof(out[nr].addr),
				 &q->qconf.slots[q->old[i].slot].addr);
		nr++;
	}
	pthread_mutex_unlock(&q->lock);
	return nr;
}

size_t sfs_quorum_dead_leaders(struct sfs_fs *fs, uint64_t *rids, size_t max)
{
	struct sfs_quorum *q = fs->quorum;
	size_t nr = 0;
	int i;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->nr_old && nr < max; i++)
		if (q->old[i].slot == q->slot_nr)
			rids[nr++] = q->old[i].rid;
	pthread_mutex_unlock(&q->lock);
	return nr;
}

int sfs_quorum_find_server(struct sfs_fs *fs, const struct scoutfs_super_block *super,
			   union scoutfs_inet_addr *addr, uint64_t *term)
{
	return find_server(fs, &super->qconf, addr, term);
}

int sfs_quorum_wait_server(struct sfs_fs *fs, unsigned int timeout_ms)
{
	struct sfs_quorum *q = fs->quorum;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	union scoutfs_inet_addr addr;
	struct timespec ts;
	uint64_t heard, term;
	int ret;

	if (!q || q->slot_nr < 0)
		return -EINVAL;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->pub.role == SFS_QUORUM_ROLE_LEADER) {
			ret = 0;
			break;
		}
		if (!q->running) {
			ret = q->err ? q->err : -ESRCH;
			break;
		}
		/* a leader we heard from: is its ELECT (or a newer one) in the blocks? */
		heard = q->pub.leader_slot >= 0 ? q->pub.term : 0;
		if (heard) {
			pthread_mutex_unlock(&q->lock);
			ret = find_server(fs, &q->qconf, &addr, &term);
			pthread_mutex_lock(&q->lock);
			if (ret == 0 && term >= heard)
				break;
			if (ret && ret != -ENOENT)
				break;
		}
		if (now_ns() >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		/* the blocks change without telling us: look again every 100 ms */
		ts = ns_to_ts(min_u64(deadline, now_ns() + 100 * NSEC_PER_MSEC));
		pthread_cond_timedwait(&q->changed, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* append to buf as snprintf would, tracking the whole length in *off */
static void __attribute__((format(printf, 4, 5)))
status_add(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

int sfs_quorum_status(struct sfs_fs *fs, char *buf, size_t len)
{
	struct sfs_quorum *q = fs->quorum;
	struct old_leader old[MAX_OLD_LEADERS];
	uint64_t recv_ns[SCOUTFS_QUORUM_MAX_SLOTS];
	char addr[SFS_TEXT_ADDR_LEN];
	struct sfs_quorum_stats st;
	union scoutfs_inet_addr saddr;
	struct qstate pub;
	uint64_t sterm, now;
	const char *agent;
	int64_t rel;
	size_t off = 0;
	bool running;
	int nr_old;
	int err;
	int i;

	if (!q)
		return -ENOENT;
	if (len)
		buf[0] = '\0';

	pthread_mutex_lock(&q->lock);
	pub = q->pub;
	running = q->running;
	err = q->err;
	st = q->stats;
	nr_old = q->nr_old;
	memcpy(old, q->old, sizeof(old[0]) * (size_t)nr_old);
	saddr = q->server_addr;
	sterm = q->server_term;
	memcpy(recv_ns, q->recv_ns, sizeof(recv_ns));
	pthread_mutex_unlock(&q->lock);
	now = now_ns();

	if (q->slot_nr < 0)
		agent = "not a member";
	else
		agent = running ? "running" : "stopped";
	if (pub.role == SFS_QUORUM_ROLE_LEADER) {
		saddr = q->qconf.slots[q->slot_nr].addr;
		sterm = pub.term;
	}

	status_add(buf, len, &off, "quorum_slot_nr %d\n", q->slot_nr);
	status_add(buf, len, &off, "rid %016llx\n", (unsigned long long)q->rid);
	status_add(buf, len, &off, "agent %s\n", agent);
	status_add(buf, len, &off, "role %s\n", role_name(pub.role));
	status_add(buf, len, &off, "term %llu\n", (unsigned long long)pub.term);
	status_add(buf, len, &off, "server_start_term %llu\n",
		   (unsigned long long)pub.server_start_term);
	status_add(buf, len, &off, "server_event %s\n", event_name(pub.server_event));
	status_add(buf, len, &off, "vote_for %d\n", pub.vote_for);
	status_add(buf, len, &off, "leader_slot %d\n", pub.leader_slot);
	status_add(buf, len, &off, "vote_bits 0x%x (count %d)\n", pub.vote_bits,
		   __builtin_popcount(pub.vote_bits));
	status_add(buf, len, &off, "votes_needed %d\n", q->votes_needed);
	status_add(buf, len, &off, "heartbeat_timeout_ms %u\n", q->hb_timeout_ms);
	if (running) {
		rel = (int64_t)(pub.timeout_ns - now);
		status_add(buf, len, &off, "timeout_in_secs %s%llu.%09llu\n", rel < 0 ? "-" : "",
			   (unsigned long long)((rel < 0 ? -rel : rel) / (int64_t)NSEC_PER_SECOND),
			   (unsigned long long)((rel < 0 ? -rel : rel) % (int64_t)NSEC_PER_SECOND));
	}
	if (sterm) {
		sfs_text_inet_addr(addr, sizeof(addr), &saddr);
		status_add(buf, len, &off, "server %s term %llu\n", addr, (unsigned long long)sterm);
	} else {
		status_add(buf, len, &off, "server (none)\n");
	}
	/* every configured slot, and how long ago a message from it was taken */
	for (i = 0; i < (int)SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (!sfs_quorum_slot_present(&q->qconf.slots[i]))
			continue;
		sfs_text_inet_addr(addr, sizeof(addr), &q->qconf.slots[i].addr);
		if (recv_ns[i] && recv_ns[i] <= now)
			status_add(buf, len, &off, "slot %d addr %s last_recv_ms_ago %llu\n", i, addr,
				   (unsigned long long)((now - recv_ns[i]) / NSEC_PER_MSEC));
		else
			status_add(buf, len, &off, "slot %d addr %s last_recv_ms_ago never\n", i,
				   addr);
	}
	for (i = 0; i < nr_old; i++)
		status_add(buf, len, &off, "old_leader slot %d rid %016llx term %llu\n", old[i].slot,
			   (unsigned long long)old[i].rid, (unsigned long long)old[i].term);
	status_add(buf, len, &off, "error %d\n", err);
#define SFS_QUORUM_STAT_LINE(name) \
	status_add(buf, len, &off, "%s %llu\n", #name, (unsigned long long)st.name);
	SFS_QUORUM_STATS(SFS_QUORUM_STAT_LINE)
#undef SFS_QUORUM_STAT_LINE

	return off > (size_t)INT32_MAX ? -EOVERFLOW : (int)off;
}

void sfs_quorum_get_stats(struct sfs_fs *fs, struct sfs_quorum_stats *st)
{
	struct sfs_quorum *q = fs->quorum;

	memset(st, 0, sizeof(*st));
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	*st = q->stats;
	pthread_mutex_unlock(&q->lock);
}
