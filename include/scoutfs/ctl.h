/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SCOUTFS_CTL_H
#define SCOUTFS_CTL_H
/*
 * libscoutfs: the control protocol of a scoutfsd mount, and the C API
 * that speaks it.  docs/ctl-protocol.md specifies the protocol; this
 * header is its reference for numbers and layouts.
 *
 * Part 1 is the wire format (host byte order: the socket is local; fixed
 * sizes asserted), shared by the daemon and the library.  Part 2 is the library's API: programs
 * (archive agents, the scoutfs CLI) call it and never build messages
 * themselves.
 *
 * Every call returns 0 (or a count) on success and a negative errno on
 * failure, as the reference's ioctls do.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================== */
/* Part 1: the wire format                                              */
/* ================================================================== */

/* protocol versions this header speaks; HELLO agrees on one */
#define SCOUTFS_CTL_VERSION_MIN 1
#define SCOUTFS_CTL_VERSION_MAX 1

/* the socket in a mount's run directory */
#define SCOUTFS_CTL_SOCKET_NAME "ctl.sock"
/* where run directories live unless the mount option run_dir= says otherwise */
#define SCOUTFS_CTL_RUN_BASE "/run/scoutfsd"

/* no message (header included) is longer; bulk replies are cut to fit */
#define SCOUTFS_CTL_MAX_MSG (128U * 1024)

/*
 * Every message starts with this header.  A reply has the REPLY flag, the
 * type and id of its request, and status 0 or a positive errno.
 */
struct scoutfs_ctl_hdr {
	uint32_t magic;		/* SCOUTFS_CTL_MAGIC */
	uint32_t len;		/* bytes, this header included */
	uint16_t type;		/* enum scoutfs_ctl_type */
	uint16_t flags;		/* SCOUTFS_CTL_F_* */
	uint32_t status;	/* replies: 0 or errno */
	uint64_t id;		/* chosen by the client, echoed */
};

#define SCOUTFS_CTL_MAGIC 0x4c544353U /* "SCTL" */
#define SCOUTFS_CTL_F_REPLY 0x1

/*
 * After the header come fields, each 8-byte aligned: a field header and
 * len bytes of value, zero padded to a multiple of 8.  A receiver ignores
 * fields whose tag it does not know, unless the tag has the REQUIRED bit:
 * then it fails the request with EPROTO (it cannot honour it).
 */
struct scoutfs_ctl_field {
	uint16_t tag;		/* enum scoutfs_ctl_tag, maybe | REQUIRED */
	uint16_t _pad;
	uint32_t len;		/* value bytes, padding excluded */
};

#define SCOUTFS_CTL_TAG_REQUIRED 0x8000

/* requests; the numbers of the reference's ioctls where there is one */
enum scoutfs_ctl_type {
	SCOUTFS_CTL_WALK_INODES = 1,
	SCOUTFS_CTL_INO_PATH = 2,
	SCOUTFS_CTL_RELEASE = 3,
	SCOUTFS_CTL_STAGE = 4,
	SCOUTFS_CTL_STAT_MORE = 5,
	SCOUTFS_CTL_DATA_WAITING = 6,
	SCOUTFS_CTL_SETATTR_MORE = 7,
	SCOUTFS_CTL_LISTXATTR_HIDDEN = 8,
	SCOUTFS_CTL_SEARCH_XATTRS = 9,
	SCOUTFS_CTL_STATFS_MORE = 10,
	SCOUTFS_CTL_DATA_WAIT_ERR = 11,
	SCOUTFS_CTL_ALLOC_DETAIL = 12,
	SCOUTFS_CTL_MOVE_BLOCKS = 13,
	SCOUTFS_CTL_RESIZE_DEVICES = 14,
	SCOUTFS_CTL_READ_XATTR_TOTALS = 15,
	SCOUTFS_CTL_GET_ALLOCATED_INOS = 16,
	SCOUTFS_CTL_GET_REFERRING_ENTRIES = 17,
	SCOUTFS_CTL_GET_ATTR_X = 18,
	SCOUTFS_CTL_SET_ATTR_X = 19,
	SCOUTFS_CTL_GET_QUOTA_RULES = 20,
	SCOUTFS_CTL_ADD_QUOTA_RULE = 21,
	SCOUTFS_CTL_DEL_QUOTA_RULE = 22,
	SCOUTFS_CTL_READ_XATTR_INDEX = 23,
	SCOUTFS_CTL_PUNCH_OFFLINE = 24,
	SCOUTFS_CTL_INJECT_TOTL_DELTA = 25,
	SCOUTFS_CTL_TRIGGER = 26,
	/* ours */
	SCOUTFS_CTL_HELLO = 64,
	SCOUTFS_CTL_COUNTERS = 65,
	SCOUTFS_CTL_GET_VOLOPT = 66,	/* the reference's sysfs volume_options/ */
	SCOUTFS_CTL_SET_VOLOPT = 67,
	SCOUTFS_CTL_CLEAR_VOLOPT = 68,
	SCOUTFS_CTL_QUORUM_STATUS = 69,	/* the reference's sysfs quorum/status */
	SCOUTFS_CTL_FENCE_REQUESTS = 70, /* the reference's sysfs fence/ directories */
	SCOUTFS_CTL_FENCE_ANSWER = 71,	/* ... and writing their fenced or error file */
};

/*
 * Field tags.  The type of each value is fixed by its tag: u64 values are
 * 8 bytes, strings are bytes without a terminating NUL, records are
 * packed arrays of the record struct the request names.
 */
enum scoutfs_ctl_tag {
	/* u64 */
	SCOUTFS_CTL_T_VERSION = 1,	/* HELLO: highest the client speaks / agreed */
	SCOUTFS_CTL_T_VERSION_MIN = 2,	/* HELLO: lowest the client speaks */
	SCOUTFS_CTL_T_FSID = 3,
	SCOUTFS_CTL_T_RID = 4,
	SCOUTFS_CTL_T_FMT_VERS = 5,
	SCOUTFS_CTL_T_INO = 6,		/* the file a request is about, by number */
	SCOUTFS_CTL_T_FD = 7,		/* ... or by the passed fd of this index */
	SCOUTFS_CTL_T_INDEX = 8,	/* WALK_INODES: 0 meta_seq, 1 data_seq */
	SCOUTFS_CTL_T_FIRST_MAJOR = 9,
	SCOUTFS_CTL_T_FIRST_MINOR = 10,
	SCOUTFS_CTL_T_FIRST_INO = 11,
	SCOUTFS_CTL_T_LAST_MAJOR = 12,
	SCOUTFS_CTL_T_LAST_MINOR = 13,
	SCOUTFS_CTL_T_LAST_INO = 14,
	SCOUTFS_CTL_T_MAX_RECORDS = 15,	/* at most this many records in the reply */
	SCOUTFS_CTL_T_DIR_INO = 16,	/* a cursor: (dir ino, dir pos) */
	SCOUTFS_CTL_T_DIR_POS = 17,
	SCOUTFS_CTL_T_DEV = 18,		/* HELLO: the mount's st_dev (makedev) */
	SCOUTFS_CTL_T_DATA_VERSION = 19,
	SCOUTFS_CTL_T_OFFSET = 20,
	SCOUTFS_CTL_T_LENGTH = 21,
	SCOUTFS_CTL_T_FLAGS = 22,
	SCOUTFS_CTL_T_END = 23,		/* bulk replies: 1 when nothing follows */
	SCOUTFS_CTL_T_UID = 24,		/* HELLO: the peer as the daemon saw it */
	SCOUTFS_CTL_T_SRC_FD = 25,	/* STAGE: the passed fd the data comes from */
	SCOUTFS_CTL_T_SRC_OFFSET = 26,	/* STAGE: where in it (absent: its position) */
	SCOUTFS_CTL_T_IBLOCK = 27,	/* DATA_WAITING: cursor block (with T_INO) */
	SCOUTFS_CTL_T_OP = 28,		/* DATA_WAIT_ERR: SCOUTFS_CTL_WAIT_* mask */
	SCOUTFS_CTL_T_ERR = 29,		/* DATA_WAIT_ERR: the errno (> 0) to give */
	SCOUTFS_CTL_T_COUNT = 30,	/* how many (waiters woken) */
	SCOUTFS_CTL_T_XATTR_HASH = 31,	/* LISTXATTR_HIDDEN cursor: name hash ... */
	SCOUTFS_CTL_T_XATTR_ID = 32,	/* ... and xattr id */
	/* strings */
	SCOUTFS_CTL_T_MOUNT_POINT = 128,
	SCOUTFS_CTL_T_DAEMON_VERSION = 129,
	SCOUTFS_CTL_T_NAME = 130,
	SCOUTFS_CTL_T_PATH = 131,
	/* structs and records */
	SCOUTFS_CTL_T_STAT_MORE = 192,	/* struct scoutfs_ctl_stat_more */
	SCOUTFS_CTL_T_STATFS_MORE = 193, /* struct scoutfs_ctl_statfs_more */
	SCOUTFS_CTL_T_RECORDS = 194,	/* packed records of RECORD_SIZE bytes */
	SCOUTFS_CTL_T_RECORD_SIZE = 195, /* u64 */
	SCOUTFS_CTL_T_ATTR_X = 196,	/* struct scoutfs_ctl_attr_x */
	SCOUTFS_CTL_T_SETATTR_MORE = 197, /* struct scoutfs_ctl_setattr_more */
	SCOUTFS_CTL_T_TOTL_NAME = 198,	/* struct scoutfs_ctl_totl_name */
	SCOUTFS_CTL_T_XATTR_TOTAL = 199, /* struct scoutfs_ctl_xattr_total */
	SCOUTFS_CTL_T_NAMES = 200,	/* names, each NUL terminated, back to back */
	SCOUTFS_CTL_T_QUOTA_RULE = 201,	/* struct scoutfs_ctl_quota_rule */
	SCOUTFS_CTL_T_QUOTA_ITER = 202,	/* struct scoutfs_ctl_quota_iter */
	SCOUTFS_CTL_T_VOLOPT = 203,	/* struct scoutfs_ctl_volopt */
};

/* the timestamps of stat_more and attr_x */
struct scoutfs_ctl_time {
	uint64_t sec;
	uint32_t nsec;
	uint32_t _pad;
};

/* STAT_MORE: the reference's scoutfs_ioctl_stat_more */
struct scoutfs_ctl_stat_more {
	uint64_t meta_seq;
	uint64_t data_seq;
	uint64_t data_version;
	uint64_t online_blocks;
	uint64_t offline_blocks;
	struct scoutfs_ctl_time crtime;
};

/* STATFS_MORE */
struct scoutfs_ctl_statfs_more {
	uint64_t fsid;
	uint64_t rid;
	uint64_t committed_seq;
	uint64_t total_meta_blocks;
	uint64_t total_data_blocks;
	uint64_t reserved_meta_blocks;
	uint64_t free_meta_blocks;
	uint64_t free_data_blocks;
	uint64_t inode_count;
};

/* WALK_INODES records */
struct scoutfs_ctl_walk_entry {
	uint64_t major;
	uint64_t ino;
	uint32_t minor;
	uint32_t _pad;
};

#define SCOUTFS_CTL_WALK_META_SEQ 0
#define SCOUTFS_CTL_WALK_DATA_SEQ 1

/* GET_REFERRING_ENTRIES records: the entry is followed by name_len bytes */
struct scoutfs_ctl_dirent {
	uint64_t dir_ino;
	uint64_t dir_pos;
	uint64_t ino;
	uint16_t rec_len;	/* this record, name and padding to 8 included */
	uint8_t d_type;		/* DT_* */
	uint8_t name_len;
	uint32_t _pad;
	/* char name[name_len] */
};

/* DATA_WAITING records */
struct scoutfs_ctl_waiting {
	uint64_t ino;
	uint64_t iblock;
	uint8_t op;		/* SCOUTFS_CTL_WAIT_* */
	uint8_t _pad[7];
};

/* MOVE_BLOCKS T_FLAGS */
#define SCOUTFS_CTL_MOVE_BLOCKS_STAGE 0x1ULL

#define SCOUTFS_CTL_WAIT_READ 0x1
#define SCOUTFS_CTL_WAIT_WRITE 0x2
#define SCOUTFS_CTL_WAIT_CHANGE_SIZE 0x4

/* COUNTERS records: the counter is followed by name_len bytes */
struct scoutfs_ctl_counter {
	uint64_t value;
	uint16_t rec_len;	/* this record, name and padding to 8 included */
	uint8_t name_len;
	uint8_t _pad[5];
	/* char name[name_len] */
};

/* GET_ATTR_X / SET_ATTR_X: which fields x_mask names */
#define SCOUTFS_ATTR_X_META_SEQ 0x1ULL
#define SCOUTFS_ATTR_X_DATA_SEQ 0x2ULL
#define SCOUTFS_ATTR_X_DATA_VERSION 0x4ULL
#define SCOUTFS_ATTR_X_ONLINE_BLOCKS 0x8ULL
#define SCOUTFS_ATTR_X_OFFLINE_BLOCKS 0x10ULL
#define SCOUTFS_ATTR_X_CTIME 0x20ULL
#define SCOUTFS_ATTR_X_CRTIME 0x40ULL
#define SCOUTFS_ATTR_X_SIZE 0x80ULL
#define SCOUTFS_ATTR_X_RETENTION 0x100ULL
#define SCOUTFS_ATTR_X_PROJECT_ID 0x200ULL
#define SCOUTFS_ATTR_X_ALL 0x3ffULL
/* x_flags */
#define SCOUTFS_ATTR_X_F_SIZE_OFFLINE 0x1ULL
/* bits */
#define SCOUTFS_ATTR_X_B_RETENTION 0x1ULL

struct scoutfs_ctl_attr_x {
	uint64_t x_mask;
	uint64_t x_flags;
	uint64_t meta_seq;
	uint64_t data_seq;
	uint64_t data_version;
	uint64_t online_blocks;
	uint64_t offline_blocks;
	uint64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t crtime_nsec;
	uint64_t crtime_sec;
	uint64_t size;
	uint64_t bits;
	uint64_t project_id;
};

/*
 * SETATTR_MORE: the reference's scoutfs_ioctl_setattr_more, restoring a
 * fresh file: ctime, crtime and i_size are always set, data_version when
 * it is not 0; OFFLINE makes [0, i_size) one offline extent.
 */
struct scoutfs_ctl_setattr_more {
	uint64_t data_version;
	uint64_t i_size;
	uint64_t flags;		/* SCOUTFS_CTL_SETATTR_MORE_* */
	struct scoutfs_ctl_time ctime;
	struct scoutfs_ctl_time crtime;
};

#define SCOUTFS_CTL_SETATTR_MORE_OFFLINE 0x1ULL

#ifndef __cplusplus
_Static_assert(sizeof(struct scoutfs_ctl_hdr) == 24, "scoutfs_ctl_hdr is 24 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_field) == 8, "scoutfs_ctl_field is 8 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_time) == 16, "scoutfs_ctl_time is 16 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_stat_more) == 56, "scoutfs_ctl_stat_more is 56 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_statfs_more) == 72,
	       "scoutfs_ctl_statfs_more is 72 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_walk_entry) == 24, "scoutfs_ctl_walk_entry is 24 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_dirent) == 32, "scoutfs_ctl_dirent is 32 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_waiting) == 24, "scoutfs_ctl_waiting is 24 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_counter) == 16, "scoutfs_ctl_counter is 16 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_attr_x) == 104, "scoutfs_ctl_attr_x is 104 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_setattr_more) == 56,
	       "scoutfs_ctl_setattr_more is 56 bytes");
#endif

/*
 * xattr totals and index (READ_XATTR_TOTALS, READ_XATTR_INDEX,
 * INJECT_TOTL_DELTA): a total's name is the A.B.C that ends a
 * scoutfs.totl. xattr name; the index has (major, minor, ino) for every
 * scoutfs.indx.NAME.MAJOR.MINOR xattr of inode ino.
 */
struct scoutfs_ctl_totl_name {
	uint64_t name[3];	/* A, B, C */
};

struct scoutfs_ctl_xattr_total {
	uint64_t name[3];
	int64_t total;		/* the sum of the values */
	int64_t count;		/* the number of xattrs */
};

struct scoutfs_ctl_xattr_index_entry {
	uint64_t major;		/* 0..255 */
	uint64_t minor;
	uint64_t ino;
};

#ifndef __cplusplus
_Static_assert(sizeof(struct scoutfs_ctl_totl_name) == 24, "scoutfs_ctl_totl_name is 24 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_xattr_total) == 40,
	       "scoutfs_ctl_xattr_total is 40 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_xattr_index_entry) == 24,
	       "scoutfs_ctl_xattr_index_entry is 24 bytes");
#endif

/*
 * Quota rules (GET_QUOTA_RULES, ADD_QUOTA_RULE, DEL_QUOTA_RULE; format
 * v2): the fields of the on-disk rule (format-spec.md 12.8) in host
 * order.  For operation op (SCOUTFS_QUOTA_OP_INODE 0: creating an inode,
 * SCOUTFS_QUOTA_OP_DATA 1: allocating data blocks) the rule names the
 * xattr total (A, B, C): each part is name_val (source LITERAL 0) or the
 * operation's project (1), uid (2) or gid (3).  A part with the SELECT
 * flag (0x1) makes the rule apply only when that attribute equals
 * name_val.  The operation fails with EDQUOT when the total (its count
 * with rule flag TOTL_COUNT 0x1) is at or above limit.  Of the rules that
 * apply the one with the highest prio (then the other fields) decides.
 */
struct scoutfs_ctl_quota_rule {
	uint64_t name_val[3];
	uint64_t limit;
	uint8_t prio;
	uint8_t op;
	uint8_t rule_flags;
	uint8_t name_source[3];
	uint8_t name_flags[3];
	uint8_t _pad[7];
};

/* GET_QUOTA_RULES: the position in the rules' storage (hash) order */
struct scoutfs_ctl_quota_iter {
	uint64_t hash;
	uint64_t nr;		/* collision number */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct scoutfs_ctl_quota_rule) == 48, "scoutfs_ctl_quota_rule is 48 bytes");
_Static_assert(sizeof(struct scoutfs_ctl_quota_iter) == 16, "scoutfs_ctl_quota_iter is 16 bytes");
#endif

/*
 * Volume options (GET_VOLOPT, SET_VOLOPT, CLEAR_VOLOPT): the super
 * block's volopt in host order.  set_bits says which options are set (a
 * GET reply), are to be set to the values given (SET) or are to be
 * cleared (CLEAR, values ignored); an option that is not set has the
 * value 0.  One option exists, bit 0:
 *
 *   data_alloc_zone_blocks (offset 8): the data device is divided into
 *   zones of this many 4 KiB blocks and the server refills each mount's
 *   data blocks from the zones it uses, then from zones no other mount
 *   uses.  It must be at least the per-mount data fill target (4
 *   GiB, 1048576 blocks, by default), at least total_data_blocks / 1024
 *   (1024 zones at most) and at most total_data_blocks: EINVAL otherwise.
 */
struct scoutfs_ctl_volopt {
	uint64_t set_bits;		/* SCOUTFS_CTL_VOLOPT_* */
	uint64_t data_alloc_zone_blocks;
};

#define SCOUTFS_CTL_VOLOPT_DATA_ALLOC_ZONE_BLOCKS 0x1ULL
#define SCOUTFS_CTL_VOLOPT_ALL 0x1ULL

#ifndef __cplusplus
_Static_assert(sizeof(struct scoutfs_ctl_volopt) == 16, "scoutfs_ctl_volopt is 16 bytes");
#endif

/*
 * Quorum and fencing (QUORUM_STATUS, FENCE_REQUESTS, FENCE_ANSWER;
 * reference-scoutfs.md 3.1 and 3.7).  QUORUM_STATUS answers with the
 * quorum agent's status text in T_NAME: "NAME VALUE" lines, each ending
 * in a newline (docs/ctl-protocol.md lists them).  FENCE_REQUESTS lists
 * the fence requests of the mount's server (only the leader's server
 * makes any) as T_RECORDS of these records, in rid order, with
 * T_RECORD_SIZE and T_COUNT (how many there are, which may be more than
 * the records that fit).  FENCE_ANSWER answers one (root only): T_RID
 * and T_FLAGS, exactly one of the SCOUTFS_CTL_FENCE_ANSWER_* bits.
 *
 *   0  u64  rid          the mount to fence
 *   8  u64  elapsed_ms   since the request was made
 *  16  u32  reason       SCOUTFS_CTL_FENCE_REASON_*
 *  20  u32  state        SCOUTFS_CTL_FENCE_STATE_*
 *  24  char addr[64]     its last address as text (no port), NUL
 *                        terminated; "" when not known
 */
struct scoutfs_ctl_fence_request {
	uint64_t rid;
	uint64_t elapsed_ms;
	uint32_t reason;
	uint32_t state;
	char addr[64];
};

/* why a mount is fenced: the names of the reference's fence/RID/reason files */
#define SCOUTFS_CTL_FENCE_REASON_CLIENT_RECOVERY 0	/* "client_recovery" */
#define SCOUTFS_CTL_FENCE_REASON_CLIENT_RECONNECT 1	/* "client_reconnect" */
#define SCOUTFS_CTL_FENCE_REASON_QUORUM_BLOCK_LEADER 2	/* "quorum_block_leader" */

/* a listed request is pending; fenced and error are answered, about to go */
#define SCOUTFS_CTL_FENCE_STATE_PENDING 0
#define SCOUTFS_CTL_FENCE_STATE_FENCED 1
#define SCOUTFS_CTL_FENCE_STATE_ERROR 2

/* FENCE_ANSWER T_FLAGS: the mount was fenced, or it could not be */
#define SCOUTFS_CTL_FENCE_ANSWER_FENCED 0x1ULL
#define SCOUTFS_CTL_FENCE_ANSWER_ERROR 0x2ULL

#ifndef __cplusplus
_Static_assert(sizeof(struct scoutfs_ctl_fence_request) == 88,
	       "scoutfs_ctl_fence_request is 88 bytes");
#endif

/* ================================================================== */
/* Part 2: the library                                                  */
/* ================================================================== */

/* a connection to the daemon serving one mount */
struct scoutfs_ctl;

/*
 * Connect to the daemon that serves path (any file or directory in the
 * mount).  The run directory is found by the mount's device number under
 * $SCOUTFS_RUN_DIR, or /run/scoutfsd.  -ENOTTY: path is not in a scoutfsd
 * mount; -ENOENT: no live daemon serves it.
 */
int scoutfs_ctl_open(const char *path, struct scoutfs_ctl **ret);
/* connect to a socket path directly */
int scoutfs_ctl_open_socket(const char *sock_path, struct scoutfs_ctl **ret);
void scoutfs_ctl_close(struct scoutfs_ctl *ctl);

/* what HELLO told us */
struct scoutfs_ctl_info {
	uint64_t version;	/* agreed protocol version */
	uint64_t fsid;
	uint64_t rid;
	uint64_t fmt_vers;
	uint64_t dev;		/* the mount's st_dev */
	uint32_t peer_uid;	/* how the daemon sees us */
	char mount_point[4096];
	char daemon_version[64];
};

const struct scoutfs_ctl_info *scoutfs_ctl_info(const struct scoutfs_ctl *ctl);

/*
 * A file a request is about: an fd open on it (passed to the daemon, which
 * also checks the fd's open mode where the reference checks it), or its
 * inode number when fd < 0.
 */
struct scoutfs_file_ref {
	int fd;
	uint64_t ino;
};

#define SCOUTFS_FILE_FD(f) ((struct scoutfs_file_ref){ .fd = (f), .ino = 0 })
#define SCOUTFS_FILE_INO(i) ((struct scoutfs_file_ref){ .fd = -1, .ino = (i) })

int scoutfs_statfs_more(struct scoutfs_ctl *ctl, struct scoutfs_ctl_statfs_more *sfm);
int scoutfs_stat_more(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		      struct scoutfs_ctl_stat_more *stm);
int scoutfs_get_attr_x(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		       struct scoutfs_ctl_attr_x *ax);

/*
 * WALK_INODES: entries of index (meta_seq or data_seq) from first to last
 * inclusive, in order, at most nr per call; the position after the last
 * entry returned is put in *first.  Returns the number of entries (0 at
 * the end).
 */
struct scoutfs_ctl_walk_pos {
	uint64_t major;
	uint32_t minor;
	uint64_t ino;
};

int scoutfs_walk_inodes(struct scoutfs_ctl *ctl, int index, struct scoutfs_ctl_walk_pos *first,
			const struct scoutfs_ctl_walk_pos *last,
			struct scoutfs_ctl_walk_entry *ents, unsigned int nr);

/*
 * INO_PATH: one path of ino, after the cursor (*dir_ino, *dir_pos), which
 * is advanced past the entry returned.  The path is relative to the mount
 * root, NUL terminated.  -ENOENT when no more paths.
 */
int scoutfs_ino_path(struct scoutfs_ctl *ctl, uint64_t ino, uint64_t *dir_ino,
		     uint64_t *dir_pos, char *path, size_t path_size);

/*
 * GET_REFERRING_ENTRIES: the directory entries that name ino, after the
 * cursor (*dir_ino, *dir_pos).  Calls cb for each; returns the count, 0
 * at the end.  cb returning non-zero stops the walk and is returned.
 */
typedef int (*scoutfs_dirent_cb)(void *arg, const struct scoutfs_ctl_dirent *ent,
				 const char *name);
int scoutfs_get_referring_entries(struct scoutfs_ctl *ctl, uint64_t ino, uint64_t *dir_ino,
				  uint64_t *dir_pos, scoutfs_dirent_cb cb, void *arg);

/*
 * GET_ALLOCATED_INOS: inode numbers in use from start_ino to the end of
 * its group of 1024, at most nr.  Returns the count.
 */
int scoutfs_get_allocated_inos(struct scoutfs_ctl *ctl, uint64_t start_ino, uint64_t *inos,
			       unsigned int nr);

/*
 * RELEASE: make the blocks of [offset, offset + length) offline (their
 * contents live in the archive now) and free them, if the file's
 * data_version is still data_version (-ESTALE otherwise).  offset and
 * length are multiples of 4096.  The file must be open for writing when
 * given by fd; by inode number the caller must be root.
 */
int scoutfs_release(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file, uint64_t offset,
		    uint64_t length, uint64_t data_version);

/*
 * STAGE: write length bytes read from src_fd at src_offset back into the
 * file at offset, if its data_version is still data_version.  offset is a
 * multiple of 4096; the range is inside i_size and ends on a 4096
 * boundary or at i_size.  The daemon reads src_fd itself (any readable
 * fd: a file, a pipe when src_offset is UINT64_MAX, a memfd).  Returns
 * the bytes staged.
 */
int64_t scoutfs_stage(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		      uint64_t data_version, uint64_t offset, uint64_t length, int src_fd,
		      uint64_t src_offset);

/*
 * DATA_WAITING: this mount's requests parked on offline data after the
 * cursor (*ino, *iblock), in order, at most nr; the cursor moves to the
 * last one returned.  Returns the count (0: no more).
 */
int scoutfs_data_waiting(struct scoutfs_ctl *ctl, uint64_t *ino, uint64_t *iblock,
			 struct scoutfs_ctl_waiting *ents, unsigned int nr);

/*
 * DATA_WAIT_ERR: give err (a positive errno, e.g. EIO) to the requests of
 * ino parked on the bytes [offset, offset + count) for an op in ops
 * (SCOUTFS_CTL_WAIT_*).  Root only.  Returns how many were answered.
 */
int scoutfs_data_wait_err(struct scoutfs_ctl *ctl, uint64_t ino, uint64_t offset,
			  uint64_t count, unsigned int ops, int err);

/*
 * PUNCH_OFFLINE: the released (unmapped offline) extents of [offset,
 * offset + length) become sparse holes, if the file's data_version is
 * still data_version (it does not change).  -EINVAL if data is mapped
 * there.  4096 aligned.
 */
int scoutfs_punch_offline(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file, uint64_t offset,
			  uint64_t length, uint64_t data_version);

/*
 * MOVE_BLOCKS: move the blocks of [from_off, from_off + length) of the
 * file open on from_fd to to_off of the file open on to_fd, without
 * copying; both open for writing.  flags SCOUTFS_CTL_MOVE_BLOCKS_STAGE:
 * the destination range must be offline and its data_version
 * data_version.
 */
int scoutfs_move_blocks(struct scoutfs_ctl *ctl, int from_fd, uint64_t from_off,
			uint64_t length, int to_fd, uint64_t to_off, uint64_t data_version,
			uint64_t flags);

/* COUNTERS: cb for each counter of the daemon, in name order */
typedef int (*scoutfs_counter_cb)(void *arg, const char *name, uint64_t value);
int scoutfs_counters(struct scoutfs_ctl *ctl, scoutfs_counter_cb cb, void *arg);

/*
 * SET_ATTR_X (root only): set the fields ax->x_mask names, from ax:
 * ctime, crtime, and on a regular file whose data_version is still 0,
 * size and data_version (not 0; a size above 0 needs one), with
 * SCOUTFS_ATTR_X_F_SIZE_OFFLINE in x_flags making [0, size) offline;
 * the retention bit (regular files) and the project ID need format
 * version 2 (-EOPNOTSUPP).  Other known bits are accepted and ignored.
 * Everything is checked before anything changes (-EINVAL); a file under
 * retention changes only in a call that also clears retention (-EPERM).
 */
int scoutfs_set_attr_x(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
		       const struct scoutfs_ctl_attr_x *ax);

/*
 * SETATTR_MORE (root only): SET_ATTR_X of ctime, crtime, size and (when
 * not 0) data_version, offline with SCOUTFS_CTL_SETATTR_MORE_OFFLINE.
 * The file must be an fd open for writing (-EBADF otherwise).
 */
int scoutfs_setattr_more(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
			 const struct scoutfs_ctl_setattr_more *sm);

/*
 * READ_XATTR_TOTALS (root only): the committed xattr totals from the
 * name *pos (inclusive) in name order, at most nr; *pos moves past the
 * last one returned.  Returns the count (0: no more).  A total shows
 * changes once their transaction is committed (fsync, sync, the commit
 * timer), from every mount.
 */
int scoutfs_read_xattr_totals(struct scoutfs_ctl *ctl, struct scoutfs_ctl_totl_name *pos,
			      struct scoutfs_ctl_xattr_total *tots, unsigned int nr);

/*
 * READ_XATTR_INDEX (root only): the committed (major, minor, ino) of the
 * xattr index from *first to *last (both included) in order, each once,
 * at most nr; *first moves past the last one returned.  Returns the
 * count (0: no more).
 */
int scoutfs_read_xattr_index(struct scoutfs_ctl *ctl,
			     struct scoutfs_ctl_xattr_index_entry *first,
			     const struct scoutfs_ctl_xattr_index_entry *last,
			     struct scoutfs_ctl_xattr_index_entry *ents, unsigned int nr);

/*
 * LISTXATTR_HIDDEN: the names of the file's scoutfs.*hide.* xattrs
 * (which listxattr leaves out), each NUL terminated, into buf, from the
 * cursor (*hash_pos, *id_pos; start with 0, 0), which moves on past what
 * was returned.  The file by fd must be open for reading; by inode
 * number the caller must be root.  Returns the bytes filled (0: no
 * more), -ERANGE when size cannot hold the next name.
 */
int scoutfs_listxattr_hidden(struct scoutfs_ctl *ctl, struct scoutfs_file_ref file,
			     uint64_t *hash_pos, uint64_t *id_pos, char *buf, size_t size);

/*
 * INJECT_TOTL_DELTA (root only): add {total, count} to the total of name
 * in the open transaction, as an xattr change would (for repairs and
 * tests).
 */
int scoutfs_inject_totl_delta(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_totl_name *name,
			      int64_t total, int64_t count);

/*
 * TRIGGER (root only): arm the daemon's one-shot test trigger named name,
 * as the reference's debugfs trigger/NAME files do (docs/ctl-protocol.md
 * lists them).  -ENOENT for a name the daemon does not have.
 */
int scoutfs_trigger(struct scoutfs_ctl *ctl, const char *name);

/*
 * Quota rules (root only, format v2: -EOPNOTSUPP on v1 volumes).
 * get: the rules from *iter (start zeroed) in storage order, at most nr;
 * *iter moves past the last one returned.  Returns the count (0: no
 * more).  add: -EEXIST if the same rule is there.  del: the rule whose
 * every field matches, -ENOENT if none.  -EINVAL for unknown values.
 */
int scoutfs_get_quota_rules(struct scoutfs_ctl *ctl, struct scoutfs_ctl_quota_iter *iter,
			    struct scoutfs_ctl_quota_rule *rules, unsigned int nr);
int scoutfs_add_quota_rule(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_quota_rule *rule);
int scoutfs_del_quota_rule(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_quota_rule *rule);

/*
 * Volume options, shared by every mount of the volume (struct
 * scoutfs_ctl_volopt).  get: any uid.  set (root only): the options
 * vo->set_bits names take vo's values; -EINVAL for an unknown bit or a
 * value the server refuses, and then nothing changes.  clear (root
 * only): the options bits names become unset.  Both return once the
 * change is committed; every mount sees it from then on.
 */
int scoutfs_get_volopt(struct scoutfs_ctl *ctl, struct scoutfs_ctl_volopt *vo);
int scoutfs_set_volopt(struct scoutfs_ctl *ctl, const struct scoutfs_ctl_volopt *vo);
int scoutfs_clear_volopt(struct scoutfs_ctl *ctl, uint64_t bits);

/*
 * QUORUM_STATUS: the mount's quorum status, what the reference's sysfs
 * quorum/status shows: "NAME VALUE" lines (docs/ctl-protocol.md), NUL
 * terminated, cut to fit size.  Returns the length of the whole text, as
 * snprintf: a return of size or more means it was cut.
 */
int scoutfs_quorum_status(struct scoutfs_ctl *ctl, char *buf, size_t size);

/*
 * FENCE_REQUESTS: the fence requests of the mount's server, in rid order,
 * at most nr into reqs.  Returns how many there are (0 but on the
 * leader): more than nr means some were left out.
 */
int scoutfs_fence_requests(struct scoutfs_ctl *ctl, struct scoutfs_ctl_fence_request *reqs,
			   unsigned int nr);

/*
 * FENCE_ANSWER (root only): answer the pending fence request of rid, as
 * a fencing agent writes the request's fenced (fenced true) or error
 * file.  -ENOENT when this mount has no pending request for rid.
 */
int scoutfs_fence_answer(struct scoutfs_ctl *ctl, uint64_t rid, bool fenced);

/*
 * Connect to the daemon whose mount point is mount_point, as its run
 * directory's mount_point file (and HELLO) say, without looking anything
 * up in the mount: for calls that must answer while the filesystem waits
 * (fencing agents during a failover, the quorum status).  mount_point is
 * made absolute and its "." and ".." resolved as text; when that names
 * no daemon, its parent directory is resolved with realpath (symbolic
 * links) and the run directories are looked at again.  -ENOENT when no
 * live daemon serves that mount point (a path below it, say: use
 * scoutfs_ctl_open).
 */
int scoutfs_ctl_open_mount(const char *mount_point, struct scoutfs_ctl **ret);

/* the names of SCOUTFS_CTL_FENCE_REASON_* and _STATE_* values ("unknown" for others) */
const char *scoutfs_fence_reason_name(uint32_t reason);
const char *scoutfs_fence_state_name(uint32_t state);

/* a short description of a library error code (strerror for errnos) */
const char *scoutfs_strerror(int err);

/*
 * SEARCH_XATTRS (root only): inode numbers that may have an xattr named
 * name (which must carry the scoutfs.srch. tag, -EINVAL otherwise), from
 * *next_ino to last_ino, ascending, at most nr.  Returns the count and
 * moves *next_ino past the last one; *end is true once the range is
 * covered.  Only committed changes show, from every mount; a number may
 * be a false positive (another name with the same hash).
 */
int scoutfs_search_xattrs(struct scoutfs_ctl *ctl, const char *name, uint64_t *next_ino,
			  uint64_t last_ino, uint64_t *inos, unsigned int nr, bool *end);

#ifdef __cplusplus
}
#endif

#endif
