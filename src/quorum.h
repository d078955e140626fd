/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_QUORUM_H
#define SFS_QUORUM_H

/*
 * Quorum: the configured slots of a volume, the agent that elects the
 * server among the members (over UDP between the slots' addresses), and
 * finding the elected server through the quorum blocks.  See the design
 * comment at the top of quorum.c.
 *
 * A slot is "present" when its address family is IPv4 or IPv6.  One volume
 * never mixes the two families: mkfs, change-quorum-config and mount all
 * refuse it.
 */

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scoutfs/format.h"
#include "sfs.h"

bool sfs_quorum_slot_present(const struct scoutfs_quorum_slot *slot);

/*
 * Parse "NR,ADDR,PORT" (ADDR: dotted IPv4, or IPv6 with or without
 * brackets, numeric only) into *nr and *addr.  Returns 0 or -EINVAL with a
 * reason in @why.  The address itself is checked by sfs_quorum_addr_check.
 */
int sfs_quorum_slot_parse(const char *arg, int *nr, union scoutfs_inet_addr *addr, char *why,
			  size_t why_len);

/* an address a quorum member can use: not any/multicast/broadcast, port 1..65534 */
int sfs_quorum_addr_check(const union scoutfs_inet_addr *addr, char *why, size_t why_len);
/* an on-disk (slot) address as a socket address: 0 or -EINVAL for an unknown family */
struct sockaddr_storage;
int sfs_quorum_sockaddr(const union scoutfs_inet_addr *addr, struct sockaddr_storage *ss,
			socklen_t *len);

/*
 * Check a whole configuration: at least one present slot, every present
 * address valid, no unknown families, no two slots with the same address
 * and port, and all present slots of one family.
 */
int sfs_quorum_config_check(const struct scoutfs_quorum_config *qconf, char *why,
			    size_t why_len);

/*
 * The votes an election needs in a configuration: a strict majority of
 * the present slots, one with one or two slots.  The server also holds
 * the farewells of the last members that many make (server.c).
 */
int sfs_quorum_votes_needed(const struct scoutfs_quorum_config *qconf);


/* ---- the quorum agent ------------------------------------------------ */

/* quorum_heartbeat_timeout_ms, as the reference's mount option */
#define SFS_QUORUM_HB_TIMEOUT_DEF_MS 10000U
#define SFS_QUORUM_HB_TIMEOUT_MIN_MS 2000U
#define SFS_QUORUM_HB_TIMEOUT_MAX_MS 60000U

enum sfs_quorum_role {
	SFS_QUORUM_ROLE_NONE = 0,	/* not a member, or the agent is not running */
	SFS_QUORUM_ROLE_FOLLOWER,
	SFS_QUORUM_ROLE_CANDIDATE,
	SFS_QUORUM_ROLE_LEADER,		/* elected, its server started, FENCE written */
};

struct sfs_quorum_opts {
	int slot_nr;		/* quorum_slot_nr: 0..14, or -1 for a mount that is not a member */
	uint64_t rid;		/* this mount's rid: never 0 or ~0; equal to fs->rid when that is set */
	const struct scoutfs_super_block *super; /* the meta super; its qconf is copied */
	/*
	 * Called on the agent's thread.  start_server(arg, term) returns 0
	 * once the server of @term runs, or -errno (the agent records STOP
	 * and stands again).  stop_server(arg) returns once it has stopped.
	 * Neither may call sfs_quorum_stop() or sfs_quorum_destroy().
	 * Required for members, ignored otherwise.
	 */
	int (*start_server)(void *arg, uint64_t term);
	void (*stop_server)(void *arg);
	void *arg;
	/*
	 * The server reports when it has had the earlier leaders fenced
	 * (sfs_quorum_server_up), and FENCE is written then; false: FENCE
	 * is written as soon as start_server returns.
	 */
	bool server_reports_up;
	/* quorum_heartbeat_timeout_ms: how long without a leader's heartbeat
	 * before standing; 0: SFS_QUORUM_HB_TIMEOUT_DEF_MS */
	unsigned int heartbeat_timeout_ms;
};

/*
 * Lifecycle.  setup checks the options and the configuration (every
 * mount: sfs_quorum_config_check(); a member's slot must be present) and
 * does no I/O.  start, for a member, binds the UDP socket of its slot
 * (-EADDRINUSE, "quorum slot N (ADDR) is in use by another mount", when
 * another agent on this host has it), reads and validates all 15 quorum
 * blocks, writes BEGIN and starts the agent's thread, which takes part in
 * the elections and starts the server when it wins; for a non-member it
 * does nothing.  stop ends the agent: the server is stopped, STOP and END
 * are written, the socket closed; it returns 0 or the first error that
 * ended the agent (for example -EBUSY when a mount on another host took
 * over the slot).  destroy stops a running agent and frees everything; it
 * accepts a half-built state and is safe twice.
 */
int sfs_quorum_setup(struct sfs_fs *fs, const struct sfs_quorum_opts *opts);
int sfs_quorum_start(struct sfs_fs *fs);
int sfs_quorum_stop(struct sfs_fs *fs);
void sfs_quorum_destroy(struct sfs_fs *fs);

/*
 * The server started by start_server stopped on its own (an error inside
 * it; any thread but the agent's).  The agent calls stop_server to free
 * what is left of it, writes STOP, resigns and stands for election again.
 */
void sfs_quorum_server_stopped(struct sfs_fs *fs);
/*
 * The server of term has had the earlier leaders fenced and commits: the
 * agent writes FENCE (any thread).  Later leaders do not fence leaders
 * older than a FENCE again.
 */
void sfs_quorum_server_up(struct sfs_fs *fs, uint64_t term);

/*
 * Wait up to timeout_ms for the agent to reach @role.  Returns 0, or
 * -ETIMEDOUT, or, once the agent is not running, its error (-ESRCH if
 * it had none).
 */
int sfs_quorum_wait_role(struct sfs_fs *fs, enum sfs_quorum_role role, unsigned int timeout_ms);

/*
 * A member's mount waits here for a server to connect to: until its agent
 * is LEADER, or it heard the HEARTBEAT of a leader of its term and the
 * quorum blocks show that leader's ELECT (or a newer one), so that
 * sfs_quorum_find_server() finds a live server and not an older, dead
 * one.  Returns 0, -ETIMEDOUT after timeout_ms, -EINVAL for a
 * non-member, -EIO for a bad block, or the agent's error once it is not
 * running (-ESRCH if it had none).
 */
int sfs_quorum_wait_server(struct sfs_fs *fs, unsigned int timeout_ms);

/*
 * The previous leaders of this mount's own slot that never stopped (as
 * the latest election found them): dead for sure, since only one mount
 * uses a slot and this one holds it now.  Up to max rids; their number.
 */
size_t sfs_quorum_dead_leaders(struct sfs_fs *fs, uint64_t *rids, size_t max);

/*
 * The previous leaders of other slots that may still run (as the latest
 * election found them): the new server fences them (reason
 * quorum_block_leader) before it commits anything.  Up to max; their
 * number.
 */
struct sfs_quorum_leader {
	uint64_t rid;
	int slot;
	char addr[64];		/* the slot's address, no port */
};
size_t sfs_quorum_leaders_to_fence(struct sfs_fs *fs, struct sfs_quorum_leader *out, size_t max);

/*
 * Find the current server from the quorum blocks of the present slots in
 * @super's qconf: the slot with the greatest events[ELECT].term among
 * those whose ELECT.term > STOP.term.  Sets *addr (that slot's qconf
 * address) and *term.  Returns 0, -ENOENT if no slot shows a running
 * server, or -EIO for a block that fails validation.  Needs only the
 * block layer; with an agent set up, the result is remembered for the
 * status text.
 */
int sfs_quorum_find_server(struct sfs_fs *fs, const struct scoutfs_super_block *super,
			   union scoutfs_inet_addr *addr, uint64_t *term);

/*
 * The agent's status as "name value" lines for the run directory and the
 * control socket: slot, rid, role, term, server term and event, votes,
 * the leader heard from, timeout, last known server address, one line
 * per configured slot ("slot N addr ADDR last_recv_ms_ago MS|never": how
 * long ago the last message that passed every check came from it, since
 * the agent started; never for our own slot and on a non-member), old
 * leaders found and the counters.
 * Returns the length of the whole text (as snprintf; truncated to fit
 * @len) or -ENOENT without an agent.
 */
int sfs_quorum_status(struct sfs_fs *fs, char *buf, size_t len);

/*
 * Counters, in the order the status text lists them; each is also the
 * daemon's counter quorum_<name> (counters.h):
 *   elections        candidacies: new terms stood for
 *   elected          elections won
 *   writes           quorum block writes (each followed by a flush)
 *   errors           failed quorum block reads, checks and writes, and
 *                    failed server starts
 *   old_leaders      previous leaders found that had to be fenced
 *   server_starts    start_server calls that succeeded
 *   server_stops     servers stopped, by the agent or on their own
 *   term_follower    newer terms taken from a message
 *   step_down        leaderships given up to a lower slot's of the same term
 *   send_request, send_vote, send_heartbeat, send_resignation
 *                    datagrams sent, by type
 *   send_error       datagrams that could not be sent
 *   recv_request, recv_vote, recv_heartbeat, recv_resignation
 *                    messages taken (passed every check, not an older term)
 *   recv_invalid     dropped: wrong size, version, pad, rid or seq 0
 *   recv_bad_hmac    dropped: the tag did not verify
 *   recv_bad_fsid    dropped: another volume's fsid
 *   recv_bad_type    dropped: an unknown type
 *   recv_bad_slot    dropped: from no present slot, or from our own
 *   recv_replay      dropped: (rid, seq) not newer than the last from that slot
 *   recv_old_term    dropped: a term older than ours
 *   recv_error       failed receives
 */
#define SFS_QUORUM_STATS(X) \
	X(elections) X(elected) X(writes) X(errors) X(old_leaders) X(server_starts) \
	X(server_stops) X(term_follower) X(step_down) X(send_request) X(send_vote) \
	X(send_heartbeat) X(send_resignation) X(send_error) X(recv_request) X(recv_vote) \
	X(recv_heartbeat) X(recv_resignation) X(recv_invalid) X(recv_bad_hmac) \
	X(recv_bad_fsid) X(recv_bad_type) X(recv_bad_slot) X(recv_replay) X(recv_old_term) \
	X(recv_error)

struct sfs_quorum_stats {
#define SFS_QUORUM_STAT_FIELD(name) uint64_t name;
	SFS_QUORUM_STATS(SFS_QUORUM_STAT_FIELD)
#undef SFS_QUORUM_STAT_FIELD
};

/* all zero without an agent */
void sfs_quorum_get_stats(struct sfs_fs *fs, struct sfs_quorum_stats *st);

/*
 * The quorum message key of a volume: HMAC-SHA256(net volume key,
 * SCOUTFS_QUORUM_KEY_LABEL) (format.h).  0 or -EIO.
 */
int sfs_quorum_derive_key(const uint8_t uuid[SCOUTFS_UUID_BYTES],
			  uint8_t key[SCOUTFS_NET_KEY_BYTES]);

/* write the tag of a message whose other fields are set (tests build messages with it) */
int sfs_quorum_msg_seal(const uint8_t key[SCOUTFS_NET_KEY_BYTES],
			struct scoutfs_quorum_message *qm);

#endif
