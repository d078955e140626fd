// SPDX-License-Identifier: GPL-2.0-only
/*
 * sfs-difftest: a differential test of a filesystem against a reference.
 *
 *   sfs-difftest A B --seed N --ops N [--classes LIST] [--check-every K] [--skip otrunc]
 *                [--mount A2]... [--verbose]
 *
 * One random sequence of operations is applied identically to directory A
 * (the filesystem under test, a scoutfsd mount) and directory B (a
 * directory on the host's filesystem, the reference).  After every
 * operation the two must agree on its return value and errno and on the
 * state of every path it touched; every K operations and at the end the
 * two trees must be equal as a whole.  The first difference is reported
 * with the seed and the operation number, and the run exits 1.
 *
 * The model:
 *
 *  1. Every decision comes from one PRNG seeded by --seed and from the
 *     state of B (names are listed sorted), so a seed replays the same
 *     sequence on the same starting state: two empty directories.
 *  2. Names come from a small pool (20) and operations pick existing paths
 *     most of the time, in a shallow tree (new entries at most 3 deep), so
 *     they collide and fail often: ENOENT, EEXIST, ENOTEMPTY, EISDIR,
 *     ENOTDIR, EINVAL, ELOOP, ERANGE, ENODATA are all exercised.
 *  3. Paths are relative to a directory fd of each root and never hold
 *     ".."; symlink targets never start with '/' nor hold "..": nothing
 *     resolves outside A or B, whatever the sequence does.
 *  4. What is compared is what POSIX and Linux pin down: type, mode,
 *     nlink, uid/gid, size (not of directories: scoutfs sizes a directory
 *     by its names), symlink targets, contents, user.* xattrs, sorted
 *     directory entries and, at a checkpoint, which paths share an inode.
 *     A symlink's size on A may also be its target's length + 1: scoutfs
 *     counts the NUL, as the reference kernel module does.  Not compared:
 *     atime, ctime, st_blocks, inode numbers, and mtime except on inodes
 *     whose mtime utimensat set and nothing changed since (mt_set below).
 *     SEEK_DATA/SEEK_HOLE results are checked per side against what they
 *     promise (a reported hole reads as zeros, offsets within bounds,
 *     ENXIO at or past EOF), never against each other: a hole may
 *     legally be reported as data.
 *  5. After an op: its results (bytes read included), then the paths it
 *     changed: their stat, the entries of directories that gained or lost
 *     one, xattrs after xattr ops, and contents after ops that write
 *     (files up to 64 KiB whole, larger ones around the change and at
 *     both ends).  Ops that only read, and ops that failed alike, change
 *     nothing and are checked by their results alone.  Checkpoints
 *     compare everything, whole contents and all xattrs included.
 *  6. Up to 4 file descriptors stay open across operations (slots), so
 *     files are written, read and stat'ed after their last name is gone.
 *
 * Operation classes (--classes, default all): ns (create, mkdir, unlink,
 * rmdir, rename with and without RENAME_NOREPLACE/RENAME_EXCHANGE,
 * symlink, readlink, stat, readdir, chmod, utimensat, open/close slots,
 * fsync), link (hard links), data (pwrite, pread), trunc (truncate,
 * ftruncate), falloc (fallocate: mode 0, KEEP_SIZE, PUNCH_HOLE), seek
 * (SEEK_DATA, SEEK_HOLE), xattr (set/get/list/remove user.*), mmap
 * (MAP_SHARED loads and stores; MS_SYNC, MS_ASYNC or no msync).
 *
 * --mount A2 (repeatable, up to 7): A2 is A itself seen through another
 * mount of the same volume (a cluster: several daemons sharing one
 * volume).  Op i then runs on mount i % n (A is mount 0, A2 mount 1,
 * ...), and everything it touched is compared with B through every
 * mount right after it, the op's own mount first: a change made on one
 * mount must show on the others by their next call.  Checkpoints walk
 * the whole tree through every mount.  An open slot is a file opened on
 * every mount (the op's own mount with the op's flags, the others with
 * the same flags but O_CREAT, O_EXCL and O_TRUNC), so data ops through a
 * slot work on the op's mount's descriptor of the same inode, also after
 * its last name is gone.  A difference names the mount that ran the op
 * and the mount it was seen on.
 *
 * --skip otrunc clears O_TRUNC from every open (the sequence is otherwise
 * the same): a way to keep running past a known O_TRUNC bug.  --skip OP
 * (an op's name as printed: rename, link, setxattr, ...; repeatable, or
 * a comma list) never picks that op: another sequence from the first
 * time it would have been picked, for narrowing a difference down to the
 * ops that cause it.
 *
 * --compare only compares the trees A and B as a checkpoint does (mtimes
 * aside): for a test to check them again after a remount.
 *
 * --probe DIR prints the classes DIR's filesystem supports (those whose
 * first call does not fail with EOPNOTSUPP or ENOSYS), for a test to run
 * what works while features land.
 *
 * Exit: 0 equal, 1 a difference, 2 usage or setup error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "sfs-rnd.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define NR_SLOTS 4
#define NR_NAMES 20
#define NEW_DEPTH 3		   /* new entries are at most this deep */
#define MAX_IO (4U << 20)	   /* the largest pwrite/pread */
#define FAR_MAX (16ULL << 20)	   /* sparse offsets reach this far */
#define FULL_CMP_MAX (1U << 20)	   /* larger files skip holes in whole compares */
#define WINDOW_CMP_MAX (64U << 10) /* larger files are compared in windows after an op */
#define CHUNK (1U << 20)
#define MAX_DENTS 64
#define LOG_RING 16
#define DESC_MAX (4 * PATH_MAX)

enum {
	CL_NS = 1 << 0,
	CL_LINK = 1 << 1,
	CL_DATA = 1 << 2,
	CL_TRUNC = 1 << 3,
	CL_FALLOC = 1 << 4,
	CL_SEEK = 1 << 5,
	CL_XATTR = 1 << 6,
	CL_MMAP = 1 << 7,
	CL_ALL = (1 << 8) - 1,
};

static const char *const class_names[] = {
	"ns", "link", "data", "trunc", "falloc", "seek", "xattr", "mmap",
};
#define NR_CLASSES (sizeof(class_names) / sizeof(class_names[0]))

enum op_type {
	OP_CREATE,
	OP_MKDIR,
	OP_UNLINK,
	OP_RMDIR,
	OP_RENAME,
	OP_SYMLINK,
	OP_READLINK,
	OP_STAT,
	OP_READDIR,
	OP_CHMOD,
	OP_UTIMENS,
	OP_OPEN,
	OP_CLOSE,
	OP_FSYNC,
	OP_LINK,
	OP_WRITE,
	OP_READ,
	OP_TRUNCATE,
	OP_FALLOCATE,
	OP_SEEK,
	OP_SETXATTR,
	OP_GETXATTR,
	OP_LISTXATTR,
	OP_REMOVEXATTR,
	OP_MMAP,
	NR_OPS
};

static const struct op_info {
	const char *name;
	unsigned int class;
	unsigned int weight;
	bool creates; /* adds an entry: damped when the tree is large */
	bool removes; /* removes an entry */
} ops[NR_OPS] = {
	[OP_CREATE] = {"create", CL_NS, 32, true, false},
	[OP_MKDIR] = {"mkdir", CL_NS, 12, true, false},
	[OP_UNLINK] = {"unlink", CL_NS, 24, false, true},
	[OP_RMDIR] = {"rmdir", CL_NS, 16, false, true},
	[OP_RENAME] = {"rename", CL_NS, 32, false, false},
	[OP_SYMLINK] = {"symlink", CL_NS, 12, true, false},
	[OP_READLINK] = {"readlink", CL_NS, 8, false, false},
	[OP_STAT] = {"stat", CL_NS, 12, false, false},
	[OP_READDIR] = {"readdir", CL_NS, 8, false, false},
	[OP_CHMOD] = {"chmod", CL_NS, 8, false, false},
	[OP_UTIMENS] = {"utimensat", CL_NS, 12, false, false},
	[OP_OPEN] = {"open", CL_NS, 8, false, false},
	[OP_CLOSE] = {"close", CL_NS, 8, false, false},
	[OP_FSYNC] = {"fsync", CL_NS, 1, false, false},
	[OP_LINK] = {"link", CL_LINK, 16, true, false},
	[OP_WRITE] = {"pwrite", CL_DATA, 56, false, false},
	[OP_READ] = {"pread", CL_DATA, 28, false, false},
	[OP_TRUNCATE] = {"truncate", CL_TRUNC, 20, false, false},
	[OP_FALLOCATE] = {"fallocate", CL_FALLOC, 16, false, false},
	[OP_SEEK] = {"lseek", CL_SEEK, 12, false, false},
	[OP_SETXATTR] = {"setxattr", CL_XATTR, 20, false, false},
	[OP_GETXATTR] = {"getxattr", CL_XATTR, 12, false, false},
	[OP_LISTXATTR] = {"listxattr", CL_XATTR, 8, false, false},
	[OP_REMOVEXATTR] = {"removexattr", CL_XATTR, 8, false, false},
	[OP_MMAP] = {"mmap", CL_MMAP, 16, false, false},
};


/* ------------------------------------------------------------------ */
/* global state */

struct side {
	const char *label; /* "A" or "B"; "A2"... for further mounts */
	const char *root;
	int rootfd;
	int *slot; /* [NR_SLOTS] open fds, -1 when closed */
};

static struct side sides[2];
static int b_slots[NR_SLOTS];

/*
 * The mounts of A (--mount): sides[0] is one of them at a time, the one
 * an op runs on or the one compared (use_mount()).
 */
#define MAX_MOUNTS 8
static struct mount {
	char label[16];
	const char *root;
	int rootfd;
	int slot[NR_SLOTS];
} mounts[MAX_MOUNTS];
static int nr_mounts = 1;
static int op_mount;  /* the mount the current op ran on */
static char mount_arg[MAX_MOUNTS * 12]; /* " --mount A2 --mount A3" for the reproduce line */
/* an open that worked on the op's mount failed on another: reported after the op */
static int extra_open_err, extra_open_mount = -1;

static void use_mount(int m)
{
	sides[0].label = mounts[m].label;
	sides[0].root = mounts[m].root;
	sides[0].rootfd = mounts[m].rootfd;
	sides[0].slot = mounts[m].slot;
}
static uint64_t seed;
static uint64_t nr_ops = 200000;
static uint64_t check_every = 1000;
static unsigned int classes = CL_ALL;
static char classes_arg[128] = "all";
static bool verbose;
static bool skip_otrunc; /* --skip otrunc: opens never truncate */
static bool op_skipped[NR_OPS]; /* --skip OP: never picked */
static char skip_arg[256];
static uint64_t opno;
static long page_size;

static char *names[NR_NAMES];
static char long_name[256];	/* 255 bytes: the longest legal name */
static char too_long_name[257]; /* 256 bytes: ENAMETOOLONG */

static unsigned char *wbuf;    /* data written, MAX_IO */
static unsigned char *cbuf[2]; /* compare buffers, CHUNK each */

/* the entry count of B, kept by each op's effect, recounted at checkpoints */
static long nr_entries;

static struct {
	uint64_t ops[NR_OPS], ok[NR_OPS];
	uint64_t errs[200];
	uint64_t bytes_written, bytes_compared, checkpoints;
	double t_gen, t_op[2], t_cmp, t_check;
} stats;

static char ring[LOG_RING][DESC_MAX];
static uint64_t ring_no[LOG_RING];

static const char *errname(int err)
{
	const char *n = err ? strerrorname_np(err) : "0";
	static char buf[16];

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno%d", err);
	return buf;
}

/* ------------------------------------------------------------------ */
/* operation arguments and results */

struct args {
	enum op_type op;
	char p1[PATH_MAX], p2[PATH_MAX];
	char tgt[PATH_MAX]; /* symlink target */
	char xname[300];    /* xattr name */
	int slot;	    /* >= 0: the op works on this open slot */
	int flags;	    /* open, rename, xattr, utimensat, fallocate flags */
	unsigned int mode;
	int whence;
	uint64_t off, len;
	uint64_t size0; /* B's size of the target before the op */
	int pattern;	/* 0 random, 1 zeros, 2 one byte repeated */
	struct timespec ts[2];
	bool store;  /* mmap: store rather than load */
	int sync;    /* mmap: MS_SYNC, MS_ASYNC or 0 after stores */
	bool follow; /* xattr/stat: follow a final symlink */
};

struct res {
	long ret;
	int err;
	const char *stage;  /* the call that failed */
	size_t len;	    /* bytes of out */
	unsigned char *out; /* what the op returned: data, names, a target */
	size_t cap;
};

static struct res res[2];
static struct args cur;
static char cur_desc[DESC_MAX];

static void describe(const struct args *a, char *buf, size_t size)
{
	char tgt[80], where[PATH_MAX + 32];
	const char *n = ops[a->op].name;

	if (a->slot >= 0)
		snprintf(where, sizeof(where), "slot%d", a->slot);
	else
		snprintf(where, sizeof(where), "'%s'", a->p1);

	switch (a->op) {
	case OP_CREATE:
		snprintf(buf, size, "%s %s flags %#o mode %#o", n, where, a->flags, a->mode);
		break;
	case OP_MKDIR:
	case OP_CHMOD:
		snprintf(buf, size, "%s %s mode %#o", n, where, a->mode);
		break;
	case OP_RENAME:
		snprintf(buf, size, "%s '%s' '%s' %s", n, a->p1, a->p2,
			 a->flags == RENAME_NOREPLACE  ? "NOREPLACE"
			 : a->flags == RENAME_EXCHANGE ? "EXCHANGE"
						       : "plain");
		break;
	case OP_LINK:
		snprintf(buf, size, "%s '%s' '%s'", n, a->p1, a->p2);
		break;
	case OP_SYMLINK:
		snprintf(tgt, sizeof(tgt), "%.60s%s", a->tgt, strlen(a->tgt) > 60 ? "..." : "");
		snprintf(buf, size, "%s %s -> '%s' (%zu bytes)", n, where, tgt, strlen(a->tgt));
		break;
	case OP_READLINK:
		snprintf(buf, size, "%s %s bufsize %" PRIu64, n, where, a->len);
		break;
	case OP_READDIR:
		snprintf(buf, size, "%s %s getdents64 bufsize %" PRIu64, n, where, a->len);
		break;
	case OP_STAT:
		snprintf(buf, size, "%s %s%s", n, where, a->follow ? " follow" : " nofollow");
		break;
	case OP_UTIMENS:
		snprintf(buf, size, "%s %s atime %lld.%09ld mtime %lld.%09ld%s", n, where,
			 (long long)a->ts[0].tv_sec, a->ts[0].tv_nsec, (long long)a->ts[1].tv_sec,
			 a->ts[1].tv_nsec, a->flags ? " nofollow" : "");
		break;
	case OP_OPEN:
		snprintf(buf, size, "%s slot%d '%s' flags %#o", n, a->slot, a->p1, a->flags);
		break;
	case OP_WRITE:
		snprintf(buf, size, "%s %s%s off %" PRIu64 " len %" PRIu64 " pattern %d", n, where,
			 a->slot < 0 ? (a->flags & O_APPEND ? " O_APPEND" : "") : "", a->off,
			 a->len, a->pattern);
		break;
	case OP_READ:
		snprintf(buf, size, "%s %s off %" PRIu64 " len %" PRIu64, n, where, a->off, a->len);
		break;
	case OP_TRUNCATE:
		snprintf(buf, size, "%s %s size %" PRIu64, n, where, a->len);
		break;
	case OP_FALLOCATE:
		snprintf(buf, size, "%s %s mode %s off %" PRIu64 " len %" PRIu64, n, where,
			 a->flags == 0			   ? "0"
			 : a->flags == FALLOC_FL_KEEP_SIZE ? "KEEP_SIZE"
							   : "PUNCH_HOLE|KEEP_SIZE",
			 a->off, a->len);
		break;
	case OP_SEEK:
		snprintf(buf, size, "%s %s off %" PRIu64 " %s", n, where, a->off,
			 a->whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE");
		break;
	case OP_SETXATTR:
		snprintf(buf, size, "%s %s '%s' len %" PRIu64 " flags %s%s", n, where, a->xname,
			 a->len,
			 a->flags == XATTR_CREATE    ? "CREATE"
			 : a->flags == XATTR_REPLACE ? "REPLACE"
						     : "0",
			 a->follow ? " follow" : "");
		break;
	case OP_GETXATTR:
	case OP_REMOVEXATTR:
		snprintf(buf, size, "%s %s '%s' bufsize %" PRIu64 "%s", n, where, a->xname, a->len,
			 a->follow ? " follow" : "");
		break;
	case OP_LISTXATTR:
		snprintf(buf, size, "%s %s bufsize %" PRIu64 "%s", n, where, a->len,
			 a->follow ? " follow" : "");
		break;
	case OP_MMAP:
		snprintf(buf, size, "%s %s %s off %" PRIu64 " len %" PRIu64 "%s", n, where,
			 a->store ? "store" : "load", a->off, a->len,
			 !a->store	      ? ""
			 : a->sync == MS_SYNC ? " MS_SYNC"
			 : a->sync	      ? " MS_ASYNC"
					      : " no msync");
		break;
	default:
		snprintf(buf, size, "%s %s", n, where);
		break;
	}
}

static void fmt_res(const struct res *r, char *buf, size_t size)
{
	if (r->ret < 0)
		snprintf(buf, size, "-1 %s (%s)", errname(r->err), r->stage ? r->stage : "?");
	else
		snprintf(buf, size, "%ld", r->ret);
}

static void print_ring(void)
{
	fprintf(stderr, "  the ops before it:\n");
	for (uint64_t i = opno >= LOG_RING ? opno - LOG_RING + 1 : 0; i < opno; i++) {
		unsigned int k = i % LOG_RING;

		if (ring_no[k] == i)
			fprintf(stderr, "    %" PRIu64 ": %s\n", i, ring[k]);
	}
}

/* report the first difference and exit 1 */
static __attribute__((format(printf, 1, 2), noreturn)) void differ(const char *fmt, ...)
{
	char ra[128], rb[128];
	va_list ap;

	fmt_res(&res[0], ra, sizeof(ra));
	fmt_res(&res[1], rb, sizeof(rb));
	fflush(stdout);
	fprintf(stderr, "sfs-difftest: DIFFERENCE at op %" PRIu64 " (seed %" PRIu64 ")\n", opno,
		seed);
	fprintf(stderr, "  op: %s\n", cur_desc);
	if (nr_mounts > 1)
		fprintf(stderr, "  the op ran on %s (%s); this was seen on %s\n",
			mounts[op_mount].label, mounts[op_mount].root, sides[0].label);
	fprintf(stderr, "  %s (%s): %s\n", sides[0].label, sides[0].root, ra);
	fprintf(stderr, "  B (%s): %s\n", sides[1].root, rb);
	fprintf(stderr, "  ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	print_ring();
	fprintf(stderr,
		"  reproduce (two empty directories%s): sfs-difftest A B --seed %" PRIu64
		" --ops %" PRIu64 " --classes %s --check-every %" PRIu64 "%s%s%s --verbose\n",
		nr_mounts > 1 ? ", A seen through each mount" : "", seed, opno + 1, classes_arg,
		check_every, skip_arg[0] ? " --skip " : "", skip_arg, mount_arg);
	exit(1);
}

static __attribute__((format(printf, 1, 2), noreturn)) void fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sfs-difftest: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* ------------------------------------------------------------------ */
/*
 * Inodes of B whose mtime was set explicitly and not changed since: A
 * must keep the same mtime.  An entry holds the time set and counts only
 * while B's inode still has it, so an inode number that B reuses, or a
 * change that B makes on its own (a file created through a symlink, a
 * directory's entries), drops it.  Ops that write data drop it too: when
 * they update mtime is the filesystem's business.
 */

static struct {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
} mt_set[256];
static unsigned int nr_mt_set;

static int mt_find(const struct stat *st)
{
	for (unsigned int i = 0; i < nr_mt_set; i++)
		if (mt_set[i].ino == st->st_ino && mt_set[i].dev == st->st_dev)
			return (int)i;
	return -1;
}

static void mt_clear(const struct stat *st)
{
	int i = mt_find(st);

	if (i >= 0)
		mt_set[i] = mt_set[--nr_mt_set];
}

static void mt_mark(const struct stat *st)
{
	mt_clear(st);
	if (nr_mt_set == sizeof(mt_set) / sizeof(mt_set[0]))
		nr_mt_set--; /* forget the newest: that only checks less */
	mt_set[nr_mt_set].dev = st->st_dev;
	mt_set[nr_mt_set].ino = st->st_ino;
	mt_set[nr_mt_set].mtime = st->st_mtim;
	nr_mt_set++;
}

static void mt_clear_path(const char *p)
{
	struct stat st;

	if (p[0] && fstatat(sides[1].rootfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0)
		mt_clear(&st);
}

/* ------------------------------------------------------------------ */
/* listing directories */

enum how { C_NONE, C_WINDOW, C_WHOLE };

struct dent {
	char name[256];
	unsigned char type; /* DT_* */
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

/* the sorted entries of the directory open at dfd: count or -errno */
static int list_dirfd(int dfd, struct dent *ents, int max)
{
	struct dirent *de;
	int fd, n = 0;
	DIR *d;

	/* a descriptor of its own: its own position */
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		n = -errno;
		close(fd);
		return n;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == max) {
			closedir(d);
			return -E2BIG;
		}
		snprintf(ents[n].name, sizeof(ents[n].name), "%s", de->d_name);
		ents[n].type = de->d_type;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				ents[n].type = IFTODT(st.st_mode);
		}
		n++;
	}
	if (errno)
		n = -errno;
	closedir(d);
	if (n > 0)
		qsort(ents, (size_t)n, sizeof(ents[0]), dent_cmp);
	return n;
}

/* the sorted entries of rel ("" or "." is the root) on side s: count or -errno */
static int list_dir(int s, const char *rel, struct dent *ents, int max)
{
	int fd = openat(sides[s].rootfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int n;

	if (fd < 0)
		return -errno;
	n = list_dirfd(fd, ents, max);
	close(fd);
	return n;
}

/*
 * The sorted entries of rel on side s by getdents64 with a buffer of
 * bufsize bytes: a small one resumes the listing after every few entries.
 * An entry listed twice stays twice, to be found in the compare.
 */
static int getdents_list(int s, const char *rel, size_t bufsize, struct dent *ents, int max)
{
	static char buf[8192];
	int fd, n = 0;
	long got;

	fd = openat(sides[s].rootfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((got = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
		for (long pos = 0; pos < got;) {
			struct {
				uint64_t d_ino;
				int64_t d_off;
				unsigned short d_reclen;
				unsigned char d_type;
				char d_name[];
			} *de = (void *)(buf + pos);

			pos += de->d_reclen;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (n == max) {
				close(fd);
				return -E2BIG;
			}
			snprintf(ents[n].name, sizeof(ents[n].name), "%s", de->d_name);
			ents[n].type = de->d_type;
			n++;
		}
	}
	if (got < 0)
		n = -errno;
	close(fd);
	if (n > 0)
		qsort(ents, (size_t)n, sizeof(ents[0]), dent_cmp);
	return n;
}

/* ------------------------------------------------------------------ */
/* picking paths: mostly existing ones, by a random descent of B */

enum want { W_ANY, W_FILE, W_DIR };

static const char *rnd_name(void)
{
	if (rnd_below(1000) == 0)
		return too_long_name;
	return names[rnd_below(NR_NAMES)];
}

/* out = dir/name; paths here are a few names deep, far below PATH_MAX */
static void join(char *out, const char *dir, const char *name)
{
	int n = dir[0] ? snprintf(out, PATH_MAX, "%s/%s", dir, name)
		       : snprintf(out, PATH_MAX, "%s", name);

	if (n >= PATH_MAX)
		fatal("path '%s/%s' is too long", dir, name);
}

/* an existing entry of B of the wanted type, false if none was found */
static bool pick_existing(char *out, enum want want)
{
	struct dent ents[MAX_DENTS];
	char rel[PATH_MAX];

	for (int attempt = 0; attempt < 4; attempt++) {
		rel[0] = '\0';
		for (int depth = 0; depth < NEW_DEPTH + 1; depth++) {
			int n = list_dir(1, rel, ents, MAX_DENTS);
			struct dent *e;
			char next[PATH_MAX];

			if (n <= 0)
				break;
			e = &ents[rnd_below((uint64_t)n)];
			join(next, rel, e->name);
			if (e->type == DT_DIR && chance(45)) {
				snprintf(rel, sizeof(rel), "%s", next);
				continue;
			}
			if (want == W_ANY || (want == W_FILE && e->type == DT_REG) ||
			    (want == W_DIR && e->type == DT_DIR)) {
				snprintf(out, PATH_MAX, "%s", next);
				return true;
			}
			if (want == W_DIR && rel[0]) {
				snprintf(out, PATH_MAX, "%s", rel);
				return true;
			}
			break;
		}
	}
	return false;
}

/* a directory of B to make an entry in ("" is the root) */
static void pick_parent(char *out)
{
	struct dent ents[MAX_DENTS], dirs[MAX_DENTS];
	char rel[PATH_MAX] = "";

	for (int depth = 0; depth < NEW_DEPTH - 1 && chance(55); depth++) {
		int n = list_dir(1, rel, ents, MAX_DENTS), nd = 0;

		for (int i = 0; i < n; i++)
			if (ents[i].type == DT_DIR)
				dirs[nd++] = ents[i];
		if (nd == 0)
			break;
		join(out, rel, dirs[rnd_below((uint64_t)nd)].name);
		snprintf(rel, sizeof(rel), "%s", out);
	}
	snprintf(out, PATH_MAX, "%s", rel);
}

/* a new name in an existing directory: may exist already */
static void pick_new(char *out)
{
	char parent[PATH_MAX];

	pick_parent(parent);
	join(out, parent, rnd_name());
}

/* any path of pool names: mostly missing */
static void pick_random(char *out)
{
	unsigned int r = (unsigned int)rnd_below(100);
	int depth = r < 50 ? 1 : r < 85 ? 2 : 3;

	out[0] = '\0';
	for (int i = 0; i < depth; i++) {
		char tmp[PATH_MAX];

		join(tmp, out, rnd_name());
		snprintf(out, PATH_MAX, "%s", tmp);
	}
}

static void pick_path(char *out, enum want want)
{
	unsigned int r = (unsigned int)rnd_below(100);

	if (r < 75 && pick_existing(out, want))
		return;
	if (r < 92)
		pick_new(out);
	else
		pick_random(out);
}

static const char *parent_of(const char *p, char *buf)
{
	char *slash;

	snprintf(buf, PATH_MAX, "%s", p);
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	else
		buf[0] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */
/* generating an operation's arguments */

static int open_slots(int *which)
{
	int n = 0;

	for (int i = 0; i < NR_SLOTS; i++)
		if (sides[1].slot[i] >= 0)
			which[n++] = i;
	return n;
}

/* a data op's target: an open slot sometimes, else a path (a file mostly) */
static void pick_target(struct args *a, bool any_type)
{
	int which[NR_SLOTS], n = open_slots(which);

	if (n && chance(30)) {
		a->slot = which[rnd_below((uint64_t)n)];
		return;
	}
	pick_path(a->p1, any_type && chance(10) ? W_ANY : W_FILE);
}

/* B's size of the target, 0 if it has none */
static uint64_t target_size(const struct args *a)
{
	struct stat st;
	int ret;

	if (a->slot >= 0)
		ret = fstat(sides[1].slot[a->slot], &st);
	else
		ret = fstatat(sides[1].rootfd, a->p1, &st, 0);
	return ret == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/*
 * Sizes: mostly small so that data ops and their compares stay cheap,
 * now and then up to MAX_IO; offsets mostly within the first 64 KiB or
 * around EOF, a few far out (sparse).
 */
static uint64_t gen_len(void)
{
	unsigned int r = (unsigned int)rnd_below(1000);

	if (r < 20)
		return 0;
	if (r < 500)
		return 1 + rnd_below(512);
	if (r < 850)
		return 1 + rnd_below(8192);
	if (r < 970)
		return 1 + rnd_below(64 << 10);
	if (r < 995)
		return 1 + rnd_below(512 << 10);
	return (1 << 20) + rnd_below(MAX_IO - (1 << 20) + 1);
}

static uint64_t gen_off(uint64_t size)
{
	unsigned int r = (unsigned int)rnd_below(1000);

	if (r < 300)
		return rnd_below(size + 1);
	if (r < 500)
		return size;
	if (r < 800)
		return rnd_below(64 << 10);
	if (r < 900)
		return rnd_below(64) * 4096;
	if (r < 975)
		return rnd_below(1 << 20);
	if (r < 993)
		return rnd_below(4 << 20);
	return rnd_below(FAR_MAX);
}

static uint64_t gen_trunc_size(uint64_t size)
{
	unsigned int r = (unsigned int)rnd_below(1000);

	if (r < 150)
		return 0;
	if (r < 500)
		return rnd_below(size + 1);
	if (r < 800)
		return size + rnd_below(16 << 10);
	if (r < 950)
		return rnd_below(512) * 512;
	if (r < 995)
		return rnd_below(1 << 20);
	return rnd_below(FAR_MAX);
}

static unsigned int gen_mode(bool dir)
{
	/* the owner keeps rwx on directories and rw on files: runs as any user */
	unsigned int m = (unsigned int)rnd_below(01000);

	return dir ? (m | 0700) : (m | 0600);
}

static const char *const xnames[] = {
	"user.a",   "user.b",	  "user.c", "user.dd",
	"user.e.f", "user.empty", "user.x", "user.a_rather_longer_attribute_name_of_fifty_chars",
};
#define NR_XNAMES (sizeof(xnames) / sizeof(xnames[0]))

/* values fit in one ext4 xattr block all together: 8 names x 400 bytes */
static uint64_t gen_xlen(void)
{
	unsigned int r = (unsigned int)rnd_below(100);

	if (r < 10)
		return 0;
	if (r < 80)
		return 1 + rnd_below(64);
	return 1 + rnd_below(400);
}

static void gen_symlink_target(struct args *a)
{
	unsigned int r = (unsigned int)rnd_below(100);
	char *t = a->tgt;

	if (r < 45) {
		snprintf(t, PATH_MAX, "%s", rnd_name());
	} else if (r < 65) {
		snprintf(t, PATH_MAX, "%s/%s", rnd_name(), rnd_name());
	} else if (r < 80) {
		if (!pick_existing(t, W_ANY))
			snprintf(t, PATH_MAX, "%s", rnd_name());
	} else if (r < 85) {
		/* itself: ELOOP when followed */
		const char *slash = strrchr(a->p1, '/');

		snprintf(t, PATH_MAX, "%s", slash ? slash + 1 : a->p1);
	} else if (r < 99) {
		size_t len = 1 + rnd_below(r < 97 ? 300 : 4095);

		for (size_t i = 0; i < len; i++)
			t[i] = (i % 13 == 12 && i + 1 < len) ? '/' : (char)('a' + rnd_below(26));
		t[len] = '\0';
	} else {
		t[0] = '\0'; /* ENOENT */
	}
}

static void fill_wbuf(struct args *a)
{
	uint64_t x = rnd();
	size_t len = a->len;

	if (a->pattern == 1) {
		memset(wbuf, 0, len);
	} else if (a->pattern == 2) {
		memset(wbuf, (int)(x & 0xff) | 1, len);
	} else {
		for (size_t i = 0; i < len; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(wbuf + i, &x, len - i < 8 ? len - i : 8);
		}
	}
	stats.bytes_written += len;
}

static enum op_type pick_op(void)
{
	unsigned int w[NR_OPS], total = 0;
	uint64_t r;

	for (int i = 0; i < NR_OPS; i++) {
		w[i] = (ops[i].class & classes) && !op_skipped[i] ? ops[i].weight : 0;
		/* keep the tree around 100-160 entries: checkpoints walk it all */
		if (ops[i].creates && nr_entries > 160)
			w[i] /= 8;
		else if (ops[i].creates && nr_entries > 100)
			w[i] /= 2;
		if (ops[i].removes && nr_entries < 40)
			w[i] /= 4;
		total += w[i];
	}
	r = rnd_below(total);
	for (int i = 0; i < NR_OPS; i++) {
		if (r < w[i])
			return (enum op_type)i;
		r -= w[i];
	}
	return OP_STAT;
}

static void gen_args(struct args *a)
{
	int which[NR_SLOTS], n;
	unsigned int r;

	memset(a, 0, offsetof(struct args, p1));
	a->p1[0] = a->p2[0] = a->tgt[0] = a->xname[0] = '\0';
	a->slot = -1;
	a->op = pick_op();

	switch (a->op) {
	case OP_CREATE:
		pick_path(a->p1, W_ANY);
		if (chance(50))
			pick_new(a->p1);
		a->flags = O_CREAT | (chance(50) ? O_WRONLY : O_RDWR);
		if (chance(25))
			a->flags |= O_EXCL;
		if (chance(20))
			a->flags |= O_TRUNC;
		a->mode = gen_mode(false);
		break;
	case OP_MKDIR:
		if (chance(85))
			pick_new(a->p1);
		else
			pick_path(a->p1, W_ANY);
		a->mode = gen_mode(true);
		break;
	case OP_UNLINK:
		pick_path(a->p1, chance(85) ? W_FILE : W_ANY);
		if (chance(40))
			pick_existing(a->p1, W_ANY);
		break;
	case OP_RMDIR:
		pick_path(a->p1, chance(85) ? W_DIR : W_ANY);
		break;
	case OP_RENAME:
		pick_path(a->p1, W_ANY);
		r = (unsigned int)rnd_below(100);
		if (r < 3) {
			snprintf(a->p2, sizeof(a->p2), "%s", a->p1);
		} else if (r < 6) {
			char tmp[PATH_MAX];

			join(tmp, a->p1, rnd_name()); /* below itself: EINVAL */
			snprintf(a->p2, sizeof(a->p2), "%s", tmp);
		} else if (r < 50) {
			pick_path(a->p2, W_ANY);
		} else {
			pick_new(a->p2);
		}
		r = (unsigned int)rnd_below(100);
		a->flags = r < 60 ? 0 : r < 80 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
		break;
	case OP_LINK:
		pick_path(a->p1, chance(90) ? W_FILE : W_ANY);
		if (chance(70))
			pick_new(a->p2);
		else
			pick_path(a->p2, W_ANY);
		break;
	case OP_SYMLINK:
		pick_new(a->p1);
		if (chance(10))
			pick_path(a->p1, W_ANY);
		gen_symlink_target(a);
		break;
	case OP_READLINK:
		pick_path(a->p1, W_ANY);
		a->len = chance(80) ? PATH_MAX : rnd_below(64);
		break;
	case OP_STAT:
		pick_path(a->p1, W_ANY);
		a->follow = chance(40);
		break;
	case OP_READDIR:
		if (chance(15))
			snprintf(a->p1, sizeof(a->p1), ".");
		else
			pick_path(a->p1, chance(85) ? W_DIR : W_ANY);
		/* getdents64 buffers that hold a few entries: listings resume often */
		a->len = chance(50) ? 280 + rnd_below(400) : 4096;
		break;
	case OP_CHMOD:
		pick_path(a->p1, W_ANY);
		a->mode = gen_mode(true);
		break;
	case OP_UTIMENS:
		pick_target(a, true);
		if (a->slot < 0 && chance(20))
			pick_path(a->p1, W_ANY);
		for (int i = 0; i < 2; i++) {
			a->ts[i].tv_sec = (time_t)rnd_below(1ULL << 33);
			r = (unsigned int)rnd_below(100);
			a->ts[i].tv_nsec = r < 80   ? (long)rnd_below(1000000000)
					   : r < 90 ? 0
					   : r < 95 ? UTIME_OMIT
						    : UTIME_NOW;
		}
		if (a->slot < 0 && chance(30))
			a->flags = AT_SYMLINK_NOFOLLOW;
		break;
	case OP_OPEN:
		a->slot = (int)rnd_below(NR_SLOTS);
		pick_path(a->p1, chance(90) ? W_FILE : W_ANY);
		r = (unsigned int)rnd_below(100);
		a->flags = r < 50   ? O_RDWR
			   : r < 65 ? O_RDONLY
			   : r < 80 ? (O_RDWR | O_APPEND)
			   : r < 92 ? (O_RDWR | O_CREAT)
				    : (O_WRONLY | O_TRUNC);
		break;
	case OP_CLOSE:
		n = open_slots(which);
		if (n == 0) {
			/* nothing to close: open one instead */
			a->op = OP_OPEN;
			a->slot = (int)rnd_below(NR_SLOTS);
			pick_path(a->p1, W_FILE);
			a->flags = O_RDWR;
		} else {
			a->slot = which[rnd_below((uint64_t)n)];
		}
		break;
	case OP_FSYNC:
		pick_target(a, true);
		break;
	case OP_WRITE:
		pick_target(a, true);
		if (a->slot < 0) {
			a->flags = O_WRONLY;
			if (chance(20))
				a->flags |= O_CREAT;
			if (chance(8))
				a->flags |= O_APPEND;
		}
		a->off = gen_off(target_size(a));
		a->len = gen_len();
		r = (unsigned int)rnd_below(100);
		a->pattern = r < 80 ? 0 : r < 90 ? 1 : 2;
		break;
	case OP_READ:
		pick_target(a, true);
		a->off = gen_off(target_size(a));
		a->len = gen_len();
		break;
	case OP_TRUNCATE:
		pick_target(a, true);
		a->size0 = target_size(a);
		a->len = gen_trunc_size(a->size0);
		break;
	case OP_FALLOCATE:
		pick_target(a, true);
		r = (unsigned int)rnd_below(100);
		a->flags = r < 35   ? 0
			   : r < 60 ? FALLOC_FL_KEEP_SIZE
				    : (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		a->off = gen_off(target_size(a));
		a->len = chance(3) ? 0 : gen_len() + 1;
		if (a->len > (256 << 10))
			a->len = 256 << 10;
		break;
	case OP_SEEK:
		pick_target(a, false);
		a->off = gen_off(target_size(a));
		a->whence = chance(50) ? SEEK_DATA : SEEK_HOLE;
		break;
	case OP_SETXATTR:
	case OP_GETXATTR:
	case OP_REMOVEXATTR:
	case OP_LISTXATTR:
		pick_target(a, true);
		if (a->slot < 0 && chance(30))
			pick_path(a->p1, W_ANY);
		if (a->slot < 0)
			a->follow = chance(25);
		snprintf(a->xname, sizeof(a->xname), "%s", xnames[rnd_below(NR_XNAMES)]);
		if (a->op == OP_SETXATTR) {
			a->len = gen_xlen();
			r = (unsigned int)rnd_below(100);
			a->flags = r < 60 ? 0 : r < 80 ? XATTR_CREATE : XATTR_REPLACE;
			a->pattern = 0;
		} else if (a->op == OP_GETXATTR || a->op == OP_LISTXATTR) {
			r = (unsigned int)rnd_below(100);
			a->len = r < 15 ? 0 : r < 25 ? rnd_below(16) : 65536;
		}
		break;
	case OP_MMAP:
		pick_target(a, false);
		{
			uint64_t size = target_size(a);

			a->store = chance(50);
			r = (unsigned int)rnd_below(100);
			/* MS_SYNC is an fsync, a commit: mostly leave writeback to the kernel */
			a->sync = r < 5 ? MS_SYNC : r < 40 ? MS_ASYNC : 0;
			a->off = rnd_below(size);
			a->len = size ? 1 + rnd_below(size - a->off < (256 << 10) ? size - a->off
										  : (256 << 10))
				      : 0;
		}
		break;
	case NR_OPS:
		break;
	}
	if ((a->op == OP_CREATE || a->op == OP_OPEN) && skip_otrunc)
		a->flags &= ~O_TRUNC;
	if (a->op == OP_WRITE || a->op == OP_SETXATTR || (a->op == OP_MMAP && a->store))
		fill_wbuf(a);
}

/* ------------------------------------------------------------------ */
/* running an operation on one side */

static int sys_renameat2(int ofd, const char *o, int nfd, const char *n, unsigned int flags)
{
	return (int)syscall(SYS_renameat2, ofd, o, nfd, n, flags);
}

static void full_path(int s, const char *rel, char *out)
{
	snprintf(out, PATH_MAX + 64, "%s/%s", sides[s].root, rel);
}

#define FAIL(r, what)                \
	do {                         \
		(r)->ret = -1;       \
		(r)->err = errno;    \
		(r)->stage = (what); \
	} while (0)

/* the fd for a target: the slot's, or the path opened with oflags */
static int target_fd(int s, const struct args *a, int oflags, struct res *r)
{
	int fd;

	if (a->slot >= 0)
		return sides[s].slot[a->slot];
	fd = openat(sides[s].rootfd, a->p1, oflags | O_CLOEXEC, 0644);
	if (fd < 0)
		FAIL(r, "open");
	return fd;
}

static void put_fd(const struct args *a, int fd)
{
	if (a->slot < 0 && fd >= 0)
		close(fd);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the user.* names of a listxattr buffer, sorted, one per line into out */
static size_t sorted_user_names(const char *list, size_t len, char *out, size_t cap, bool *others)
{
	const char *v[512];
	size_t n = 0, used = 0;

	*others = false;
	out[0] = '\0';
	for (size_t i = 0; i < len && n < 512; i += strlen(list + i) + 1) {
		if (!strncmp(list + i, "user.", 5))
			v[n++] = list + i;
		else
			*others = true;
	}
	qsort(v, n, sizeof(v[0]), cmp_names);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s\n", v[i]);
	return used;
}

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t in_map;

static void on_sigbus(int sig)
{
	if (in_map)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* memcpy to or from a mapping: false if it faulted (SIGBUS) */
static bool map_copy(void *to, const void *from, size_t len)
{
	if (sigsetjmp(bus_jmp, 1)) {
		in_map = 0;
		return false;
	}
	in_map = 1;
	memcpy(to, from, len);
	in_map = 0;
	return true;
}

static void do_mmap(int fd, const struct args *a, struct res *r)
{
	uint64_t moff = a->off & ~(uint64_t)(page_size - 1);
	size_t mlen = (size_t)(a->off + a->len - moff);
	unsigned char *p;

	p = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)moff);
	if (p == MAP_FAILED) {
		FAIL(r, "mmap");
		return;
	}
	if (!(a->store ? map_copy(p + (a->off - moff), wbuf, a->len)
		       : map_copy(r->out, p + (a->off - moff), a->len))) {
		r->ret = -1;
		r->err = EFAULT;
		r->stage = "SIGBUS on access";
		munmap(p, mlen);
		return;
	}
	if (a->store) {
		if (a->sync && msync(p, mlen, a->sync) < 0)
			FAIL(r, "msync");
	} else {
		r->len = a->len;
	}
	munmap(p, mlen);
}

/* the slot the op's mount just opened (or failed to), on the other mounts too */
static void open_others(const struct args *a)
{
	int flags = (a->flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC;

	for (int m = 0; m < nr_mounts; m++) {
		int *slot = &mounts[m].slot[a->slot];

		if (m == op_mount)
			continue;
		if (*slot >= 0)
			close(*slot);
		*slot = -1;
		if (sides[0].slot[a->slot] < 0)
			continue;
		*slot = openat(mounts[m].rootfd, a->p1, flags, 0644);
		if (*slot < 0 && extra_open_mount < 0) {
			extra_open_err = errno;
			extra_open_mount = m;
		}
	}
}

static void close_others(int k)
{
	for (int m = 0; m < nr_mounts; m++) {
		if (m != op_mount && mounts[m].slot[k] >= 0)
			close(mounts[m].slot[k]);
		if (m != op_mount)
			mounts[m].slot[k] = -1;
	}
}

static void exec_op(int s, const struct args *a, struct res *r)
{
	struct side *sd = &sides[s];
	int rootfd = sd->rootfd, fd;
	char fp[PATH_MAX + 64];
	ssize_t n;

	r->ret = 0;
	r->err = 0;
	r->stage = NULL;
	r->len = 0;

	switch (a->op) {
	case OP_CREATE:
		fd = openat(rootfd, a->p1, a->flags | O_CLOEXEC, a->mode);
		if (fd < 0)
			FAIL(r, "open");
		else
			close(fd);
		break;
	case OP_MKDIR:
		if (mkdirat(rootfd, a->p1, a->mode) < 0)
			FAIL(r, "mkdir");
		break;
	case OP_UNLINK:
		if (unlinkat(rootfd, a->p1, 0) < 0)
			FAIL(r, "unlink");
		break;
	case OP_RMDIR:
		if (unlinkat(rootfd, a->p1, AT_REMOVEDIR) < 0)
			FAIL(r, "rmdir");
		break;
	case OP_RENAME:
		if (sys_renameat2(rootfd, a->p1, rootfd, a->p2, (unsigned int)a->flags) < 0)
			FAIL(r, "renameat2");
		break;
	case OP_LINK:
		if (linkat(rootfd, a->p1, rootfd, a->p2, 0) < 0)
			FAIL(r, "link");
		break;
	case OP_SYMLINK:
		if (symlinkat(a->tgt, rootfd, a->p1) < 0)
			FAIL(r, "symlink");
		break;
	case OP_READLINK:
		n = readlinkat(rootfd, a->p1, (char *)r->out, a->len);
		if (n < 0) {
			FAIL(r, "readlink");
		} else {
			r->ret = n;
			r->len = (size_t)n;
		}
		break;
	case OP_STAT: {
		struct stat st;

		if (fstatat(rootfd, a->p1, &st, a->follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
			FAIL(r, "stat");
		break;
	}
	case OP_READDIR: {
		struct dent ents[MAX_DENTS];
		int cnt = getdents_list(s, a->p1, a->len, ents, MAX_DENTS);

		if (cnt < 0) {
			errno = -cnt;
			FAIL(r, "readdir");
			break;
		}
		r->ret = cnt;
		for (int i = 0; i < cnt; i++)
			r->len += (size_t)snprintf((char *)r->out + r->len, r->cap - r->len,
						   "%s %d\n", ents[i].name, ents[i].type);
		break;
	}
	case OP_CHMOD:
		if (fchmodat(rootfd, a->p1, a->mode, 0) < 0)
			FAIL(r, "chmod");
		break;
	case OP_UTIMENS:
		if (a->slot >= 0) {
			if (futimens(sd->slot[a->slot], a->ts) < 0)
				FAIL(r, "futimens");
		} else if (utimensat(rootfd, a->p1, a->ts, a->flags) < 0) {
			FAIL(r, "utimensat");
		}
		break;
	case OP_OPEN:
		if (sd->slot[a->slot] >= 0)
			close(sd->slot[a->slot]);
		sd->slot[a->slot] = openat(rootfd, a->p1, a->flags | O_CLOEXEC, 0644);
		if (sd->slot[a->slot] < 0)
			FAIL(r, "open");
		if (s == 0)
			open_others(a);
		break;
	case OP_CLOSE:
		if (close(sd->slot[a->slot]) < 0)
			FAIL(r, "close");
		sd->slot[a->slot] = -1;
		if (s == 0)
			close_others(a->slot);
		break;
	case OP_FSYNC:
		fd = target_fd(s, a, O_RDONLY, r);
		if (fd >= 0 && fsync(fd) < 0)
			FAIL(r, "fsync");
		put_fd(a, fd);
		break;
	case OP_WRITE:
		fd = target_fd(s, a, a->flags, r);
		if (fd < 0)
			break;
		n = pwrite(fd, wbuf, a->len, (off_t)a->off);
		if (n < 0)
			FAIL(r, "pwrite");
		else
			r->ret = n;
		put_fd(a, fd);
		break;
	case OP_READ:
		fd = target_fd(s, a, O_RDONLY, r);
		if (fd < 0)
			break;
		n = pread(fd, r->out, a->len, (off_t)a->off);
		if (n < 0) {
			FAIL(r, "pread");
		} else {
			r->ret = n;
			r->len = (size_t)n;
		}
		put_fd(a, fd);
		break;
	case OP_TRUNCATE:
		if (a->slot >= 0) {
			if (ftruncate(sd->slot[a->slot], (off_t)a->len) < 0)
				FAIL(r, "ftruncate");
			break;
		}
		full_path(s, a->p1, fp);
		if (truncate(fp, (off_t)a->len) < 0)
			FAIL(r, "truncate");
		break;
	case OP_FALLOCATE:
		fd = target_fd(s, a, O_WRONLY, r);
		if (fd < 0)
			break;
		if (fallocate(fd, a->flags, (off_t)a->off, (off_t)a->len) < 0)
			FAIL(r, "fallocate");
		put_fd(a, fd);
		break;
	case OP_SEEK: {
		off_t o;

		fd = target_fd(s, a, O_RDONLY, r);
		if (fd < 0)
			break;
		o = lseek(fd, (off_t)a->off, a->whence);
		if (o < 0)
			FAIL(r, "lseek");
		else
			r->ret = (long)o;
		/* what the other side's result may be compared with: our contents */
		put_fd(a, fd);
		break;
	}
	case OP_SETXATTR:
		if (a->slot >= 0) {
			n = fsetxattr(sd->slot[a->slot], a->xname, wbuf, a->len, a->flags);
		} else {
			full_path(s, a->p1, fp);
			n = a->follow ? setxattr(fp, a->xname, wbuf, a->len, a->flags)
				      : lsetxattr(fp, a->xname, wbuf, a->len, a->flags);
		}
		if (n < 0)
			FAIL(r, "setxattr");
		break;
	case OP_GETXATTR:
		if (a->slot >= 0) {
			n = fgetxattr(sd->slot[a->slot], a->xname, r->out, a->len);
		} else {
			full_path(s, a->p1, fp);
			n = a->follow ? getxattr(fp, a->xname, r->out, a->len)
				      : lgetxattr(fp, a->xname, r->out, a->len);
		}
		if (n < 0) {
			FAIL(r, "getxattr");
		} else {
			r->ret = n;
			r->len = a->len ? (size_t)n : 0;
		}
		break;
	case OP_LISTXATTR: {
		char *list = (char *)cbuf[s];
		bool others;

		if (a->slot >= 0) {
			n = flistxattr(sd->slot[a->slot], list, a->len);
		} else {
			full_path(s, a->p1, fp);
			n = a->follow ? listxattr(fp, list, a->len) : llistxattr(fp, list, a->len);
		}
		if (n < 0) {
			FAIL(r, "listxattr");
			break;
		}
		r->ret = n;
		if (a->len)
			r->len =
				sorted_user_names(list, (size_t)n, (char *)r->out, r->cap, &others);
		break;
	}
	case OP_REMOVEXATTR:
		if (a->slot >= 0) {
			n = fremovexattr(sd->slot[a->slot], a->xname);
		} else {
			full_path(s, a->p1, fp);
			n = a->follow ? removexattr(fp, a->xname) : lremovexattr(fp, a->xname);
		}
		if (n < 0)
			FAIL(r, "removexattr");
		break;
	case OP_MMAP:
		fd = target_fd(s, a, O_RDWR, r);
		if (fd < 0)
			break;
		if (a->len)
			do_mmap(fd, a, r);
		put_fd(a, fd);
		break;
	case NR_OPS:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* comparing state */

static void read_exact(int s, int fd, unsigned char *buf, size_t len, uint64_t off,
		       const char *what)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n < 0)
		differ("%s: %s: pread at %" PRIu64 ": %s", sides[s].label, what, off,
		       strerror(errno));
	if ((size_t)n != len)
		differ("%s: %s: pread at %" PRIu64 " returned %zd of %zu bytes within its size",
		       sides[s].label, what, off, n, len);
}

static void hexdump(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* [off, off + len) of the two fds must hold the same bytes */
static void cmp_range(int fa, int fb, uint64_t off, uint64_t len, const char *what)
{
	while (len) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;

		read_exact(0, fa, cbuf[0], n, off, what);
		read_exact(1, fb, cbuf[1], n, off, what);
		stats.bytes_compared += n;
		if (memcmp(cbuf[0], cbuf[1], n)) {
			size_t i = 0, k;
			char ha[65], hb[65];

			while (cbuf[0][i] == cbuf[1][i])
				i++;
			k = n - i < 32 ? n - i : 32;
			hexdump(cbuf[0] + i, k, ha);
			hexdump(cbuf[1] + i, k, hb);
			differ("%s: contents differ at offset %" PRIu64 ":\n    A: %s\n    B: %s",
			       what, off + i, ha, hb);
		}
		off += n;
		len -= n;
	}
}

static off_t seek_or(int fd, uint64_t off, int whence, uint64_t dflt)
{
	off_t o = lseek(fd, (off_t)off, whence);

	return o < 0 ? (off_t)dflt : o;
}

/*
 * Compare the contents of two files of equal size.  C_WINDOW: small files
 * whole, larger ones around the focus range (what the op changed), at the
 * start and at the end.  C_WHOLE: all of it, skipping only the ranges
 * that both sides report as holes (a reported hole reads as zeros, so
 * that is still complete).
 */
static void cmp_contents(int fa, int fb, uint64_t size, enum how how, uint64_t foff, uint64_t flen,
			 const char *what)
{
	uint64_t pos = 0;

	if (how == C_NONE)
		return;
	/* read what the filesystem has, not what the page cache kept */
	posix_fadvise(fa, 0, 0, POSIX_FADV_DONTNEED);
	if (size <= (how == C_WHOLE ? FULL_CMP_MAX : WINDOW_CMP_MAX)) {
		cmp_range(fa, fb, 0, size, what);
		return;
	}
	if (how == C_WINDOW) {
		uint64_t lo = foff > 4096 ? foff - 4096 : 0;
		uint64_t hi = foff + flen + 4096;

		if (lo < size)
			cmp_range(fa, fb, lo, (hi < size ? hi : size) - lo, what);
		cmp_range(fa, fb, 0, 4096, what);
		cmp_range(fa, fb, size - 4096, 4096, what);
		return;
	}
	while (pos < size) {
		uint64_t da = (uint64_t)seek_or(fa, pos, SEEK_DATA, size);
		uint64_t db = (uint64_t)seek_or(fb, pos, SEEK_DATA, size);
		uint64_t start = da < db ? da : db, end, ha, hb;

		if (start >= size)
			break;
		ha = (uint64_t)seek_or(fa, start, SEEK_HOLE, size);
		hb = (uint64_t)seek_or(fb, start, SEEK_HOLE, size);
		end = ha > hb ? ha : hb;
		if (end <= start || end > size)
			end = size;
		cmp_range(fa, fb, start, end - start, what);
		pos = end;
	}
}

static bool mtime_flagged(const struct stat *sb)
{
	int i = mt_find(sb);

	if (i < 0)
		return false;
	if (mt_set[i].mtime.tv_sec == sb->st_mtim.tv_sec &&
	    mt_set[i].mtime.tv_nsec == sb->st_mtim.tv_nsec)
		return true;
	mt_set[i] = mt_set[--nr_mt_set];
	return false;
}

static void cmp_stat(const struct stat *sa, const struct stat *sb, const char *what)
{
	if (sa->st_mode != sb->st_mode)
		differ("%s: mode %#o vs %#o", what, sa->st_mode, sb->st_mode);
	if (sa->st_nlink != sb->st_nlink)
		differ("%s: nlink %lu vs %lu", what, (unsigned long)sa->st_nlink,
		       (unsigned long)sb->st_nlink);
	if (sa->st_uid != sb->st_uid || sa->st_gid != sb->st_gid)
		differ("%s: owner %u:%u vs %u:%u", what, sa->st_uid, sa->st_gid, sb->st_uid,
		       sb->st_gid);
	/*
	 * scoutfs sizes a symlink by its target and the NUL after it, as the
	 * reference kernel module does (POSIX says the target's length)
	 */
	if (S_ISLNK(sa->st_mode) && sa->st_size == sb->st_size + 1)
		;
	else if (!S_ISDIR(sa->st_mode) && sa->st_size != sb->st_size)
		differ("%s: size %lld vs %lld", what, (long long)sa->st_size,
		       (long long)sb->st_size);
	if ((S_ISCHR(sa->st_mode) || S_ISBLK(sa->st_mode)) && sa->st_rdev != sb->st_rdev)
		differ("%s: rdev differs", what);
	if (mtime_flagged(sb) && (sa->st_mtim.tv_sec != sb->st_mtim.tv_sec ||
				  sa->st_mtim.tv_nsec != sb->st_mtim.tv_nsec))
		differ("%s: mtime (set by utimensat) %lld.%09ld vs %lld.%09ld", what,
		       (long long)sa->st_mtim.tv_sec, sa->st_mtim.tv_nsec,
		       (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
}

/*
 * The user.* xattrs, names and values, of fa/fb when they are open, else
 * of name in the directories dfa/dfb (through /proc/self/fd: one lookup).
 */
static bool xattrs_now = true; /* cmp_entry and cmp_slot compare xattrs */

static void cmp_xattrs(int fa, int fb, int dfa, int dfb, const char *name, const char *what)
{
	static char la[2][65536], names_s[2][65536];
	static unsigned char va[2][65536];
	char fp[2][PATH_MAX + 64];
	size_t nl[2];
	ssize_t n[2];
	bool others;

	for (int s = 0; s < 2; s++) {
		int fd = s ? fb : fa;

		if (fd >= 0) {
			n[s] = flistxattr(fd, la[s], sizeof(la[s]));
		} else {
			snprintf(fp[s], sizeof(fp[s]), "/proc/self/fd/%d/%s", s ? dfb : dfa, name);
			n[s] = llistxattr(fp[s], la[s], sizeof(la[s]));
		}
		if (n[s] < 0)
			differ("%s: %s: listxattr: %s", what, sides[s].label, strerror(errno));
		nl[s] = sorted_user_names(la[s], (size_t)n[s], names_s[s], sizeof(names_s[s]),
					  &others);
	}
	if (nl[0] != nl[1] || memcmp(names_s[0], names_s[1], nl[0]))
		differ("%s: xattr names differ:\n  A: %.*s\n  B: %.*s", what, (int)nl[0],
		       names_s[0], (int)nl[1], names_s[1]);
	for (char *x = names_s[0], *nl_p; (nl_p = strchr(x, '\n')); x = nl_p + 1) {
		*nl_p = '\0';
		for (int s = 0; s < 2; s++) {
			int fd = s ? fb : fa;

			if (fd >= 0)
				n[s] = fgetxattr(fd, x, va[s], sizeof(va[s]));
			else
				n[s] = lgetxattr(fp[s], x, va[s], sizeof(va[s]));
			if (n[s] < 0)
				differ("%s: %s: getxattr '%s': %s", what, sides[s].label, x,
				       strerror(errno));
		}
		if (n[0] != n[1] || memcmp(va[0], va[1], (size_t)n[0]))
			differ("%s: xattr '%s' values differ (%zd vs %zd bytes)", what, x, n[0],
			       n[1]);
		*nl_p = '\n';
	}
}

static void cmp_listing_fd(int dfa, int dfb, const char *what)
{
	struct dent ea[MAX_DENTS], eb[MAX_DENTS];
	int na = list_dirfd(dfa, ea, MAX_DENTS), nb = list_dirfd(dfb, eb, MAX_DENTS);

	if (na != nb)
		differ("%s: readdir count %d vs %d", what, na, nb);
	for (int i = 0; i < na; i++) {
		if (strcmp(ea[i].name, eb[i].name))
			differ("%s: readdir entry %d: '%s' vs '%s'", what, i, ea[i].name,
			       eb[i].name);
		if (ea[i].type != eb[i].type && ea[i].type != DT_UNKNOWN &&
		    eb[i].type != DT_UNKNOWN)
			differ("%s: readdir type of '%s': %d vs %d", what, ea[i].name, ea[i].type,
			       eb[i].type);
	}
}

static int open_dir_at(int s, int dfd, const char *name, const char *what)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		differ("%s: %s: opening the directory: %s", what, sides[s].label, strerror(errno));
	return fd;
}

/*
 * The state of name (a path) below the directories dfa/dfb: both exist
 * alike or both fail alike.  Their stats go to sa/sb; returns whether
 * they exist.
 */
static bool cmp_entry(int dfa, int dfb, const char *name, const char *what, bool listing,
		      enum how how, uint64_t foff, uint64_t flen, struct stat *sa, struct stat *sb)
{
	bool xattrs = (classes & CL_XATTR) && xattrs_now;
	int ra, rb, ea = 0, eb = 0;

	ra = fstatat(dfa, name, sa, AT_SYMLINK_NOFOLLOW);
	if (ra < 0)
		ea = errno;
	rb = fstatat(dfb, name, sb, AT_SYMLINK_NOFOLLOW);
	if (rb < 0)
		eb = errno;
	if (ra != rb || ea != eb)
		differ("%s: lstat: %s vs %s", what, ra ? errname(ea) : "ok",
		       rb ? errname(eb) : "ok");
	if (ra < 0)
		return false;
	cmp_stat(sa, sb, what);

	if (S_ISLNK(sa->st_mode)) {
		static char ta[PATH_MAX], tb[PATH_MAX];
		ssize_t la = readlinkat(dfa, name, ta, sizeof(ta));
		ssize_t lb = readlinkat(dfb, name, tb, sizeof(tb));

		if (la != lb || (la > 0 && memcmp(ta, tb, (size_t)la)))
			differ("%s: symlink targets differ: '%.*s' vs '%.*s'", what,
			       (int)(la > 0 ? la : 0), ta, (int)(lb > 0 ? lb : 0), tb);
	} else if (S_ISREG(sa->st_mode) && how != C_NONE) {
		int fa = openat(dfa, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int fb = openat(dfb, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		if (fa < 0 || fb < 0)
			differ("%s: open to compare: %s vs %s", what,
			       fa < 0 ? strerror(errno) : "ok", fb < 0 ? "failed" : "ok");
		cmp_contents(fa, fb, (uint64_t)sb->st_size, how, foff, flen, what);
		if (xattrs)
			cmp_xattrs(fa, fb, -1, -1, NULL, what);
		xattrs = false;
		close(fa);
		close(fb);
	} else if (S_ISDIR(sa->st_mode) && listing) {
		int fa = open_dir_at(0, dfa, name, what), fb = open_dir_at(1, dfb, name, what);

		cmp_listing_fd(fa, fb, what);
		if (xattrs)
			cmp_xattrs(fa, fb, -1, -1, NULL, what);
		xattrs = false;
		close(fa);
		close(fb);
	}
	if (xattrs && (S_ISREG(sa->st_mode) || S_ISDIR(sa->st_mode)))
		cmp_xattrs(-1, -1, dfa, dfb, name, what);
	return true;
}

static void cmp_path(const char *rel, bool listing, enum how how, uint64_t foff, uint64_t flen)
{
	char what[PATH_MAX + 16];
	struct stat sa, sb;

	snprintf(what, sizeof(what), "'%s'", rel[0] ? rel : ".");
	cmp_entry(sides[0].rootfd, sides[1].rootfd, rel[0] ? rel : ".", what, listing, how, foff,
		  flen, &sa, &sb);
}

static void cmp_slot(int k, enum how how, uint64_t foff, uint64_t flen)
{
	int fa = sides[0].slot[k], fb = sides[1].slot[k];
	struct stat sa, sb;
	char what[32];

	snprintf(what, sizeof(what), "slot%d", k);
	if ((fa < 0) != (fb < 0))
		differ("%s: open on one side only", what);
	if (fa < 0)
		return;
	if (fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0)
		differ("%s: fstat: %s", what, strerror(errno));
	cmp_stat(&sa, &sb, what);
	if (S_ISREG(sa.st_mode) && how != C_NONE) {
		/* the slot may be write-only: compare through fresh read fds */
		char pa[64], pb[64];
		int ra, rb;

		snprintf(pa, sizeof(pa), "/proc/self/fd/%d", fa);
		snprintf(pb, sizeof(pb), "/proc/self/fd/%d", fb);
		ra = open(pa, O_RDONLY | O_CLOEXEC);
		rb = open(pb, O_RDONLY | O_CLOEXEC);
		if (ra >= 0 && rb >= 0)
			cmp_contents(ra, rb, (uint64_t)sb.st_size, how, foff, flen, what);
		else if ((ra < 0) != (rb < 0))
			differ("%s: reopening to compare: %s vs %s", what, ra < 0 ? "failed" : "ok",
			       rb < 0 ? "failed" : "ok");
		if (ra >= 0)
			close(ra);
		if (rb >= 0)
			close(rb);
	}
	if ((classes & CL_XATTR) && xattrs_now && (S_ISREG(sa.st_mode) || S_ISDIR(sa.st_mode)))
		cmp_xattrs(fa, fb, -1, -1, NULL, what);
}

/* ------------------------------------------------------------------ */
/* the whole tree */

struct linkrec {
	ino_t ia, ib;
	char path[PATH_MAX];
};

static struct linkrec *links;
static size_t nr_links, cap_links;
static long tree_entries;

/* the directories dfa/dfb (at rel) and all below them, by directory fds */
static void tree_walk(int dfa, int dfb, const char *rel, int depth)
{
	struct dent *ea = malloc(sizeof(*ea) * MAX_DENTS);
	char what[PATH_MAX + 16];
	int n;

	if (!ea)
		fatal("out of memory");
	if (depth > 64)
		differ("'%s': the tree is deeper than 64: a directory loop?", rel);
	snprintf(what, sizeof(what), "'%s'", rel[0] ? rel : ".");
	cmp_listing_fd(dfa, dfb, what);
	if ((classes & CL_XATTR) && depth == 0)
		cmp_xattrs(dfa, dfb, -1, -1, NULL, what);
	n = list_dirfd(dfb, ea, MAX_DENTS);
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		struct stat sa, sb;

		join(p, rel, ea[i].name);
		snprintf(what, sizeof(what), "'%s'", p);
		tree_entries++;
		if (!cmp_entry(dfa, dfb, ea[i].name, what, false, C_WHOLE, 0, 0, &sa, &sb))
			differ("%s: vanished during the compare", what);
		if (S_ISDIR(sb.st_mode)) {
			int fa = open_dir_at(0, dfa, ea[i].name, what);
			int fb = open_dir_at(1, dfb, ea[i].name, what);

			tree_walk(fa, fb, p, depth + 1);
			close(fa);
			close(fb);
		} else if (sb.st_nlink > 1) {
			if (nr_links == cap_links) {
				cap_links = cap_links ? cap_links * 2 : 64;
				links = realloc(links, cap_links * sizeof(*links));
				if (!links)
					fatal("out of memory");
			}
			links[nr_links].ia = sa.st_ino;
			links[nr_links].ib = sb.st_ino;
			snprintf(links[nr_links].path, PATH_MAX, "%s", p);
			nr_links++;
		}
	}
	free(ea);
}

static int link_cmp_a(const void *x, const void *y)
{
	const struct linkrec *a = x, *b = y;

	return a->ia < b->ia ? -1 : a->ia > b->ia ? 1 : (a->ib < b->ib ? -1 : a->ib > b->ib);
}

static int link_cmp_b(const void *x, const void *y)
{
	const struct linkrec *a = x, *b = y;

	return a->ib < b->ib ? -1 : a->ib > b->ib ? 1 : (a->ia < b->ia ? -1 : a->ia > b->ia);
}

/* paths share an inode on A exactly when they share one on B */
static void check_link_structure(void)
{
	if (nr_links < 2)
		return;
	qsort(links, nr_links, sizeof(*links), link_cmp_a);
	for (size_t i = 1; i < nr_links; i++)
		if (links[i].ia == links[i - 1].ia && links[i].ib != links[i - 1].ib)
			differ("'%s' and '%s' are one inode on A, two on B", links[i - 1].path,
			       links[i].path);
	qsort(links, nr_links, sizeof(*links), link_cmp_b);
	for (size_t i = 1; i < nr_links; i++)
		if (links[i].ib == links[i - 1].ib && links[i].ia != links[i - 1].ia)
			differ("'%s' and '%s' are one inode on B, two on A", links[i - 1].path,
			       links[i].path);
}

static void check_tree(void)
{
	double t = now();

	nr_links = 0;
	tree_entries = 0;
	xattrs_now = true;
	tree_walk(sides[0].rootfd, sides[1].rootfd, "", 0);
	check_link_structure();
	for (int k = 0; k < NR_SLOTS; k++)
		cmp_slot(k, C_WHOLE, 0, 0);
	nr_entries = tree_entries;
	stats.checkpoints++;
	stats.t_check += now() - t;
}

/* ------------------------------------------------------------------ */
/* comparing one op's results and what it touched */

static bool errs_equal(int op, int ea, int eb)
{
	/* POSIX lets a non-empty directory be refused with either */
	if ((op == OP_RMDIR || op == OP_RENAME) && (ea == ENOTEMPTY || ea == EEXIST) &&
	    (eb == ENOTEMPTY || eb == EEXIST))
		return true;
	return ea == eb;
}

/* a SEEK_DATA/SEEK_HOLE result must keep the promises it makes, on each side */
static void check_seek(int s, const struct args *a, const struct res *r)
{
	uint64_t size = target_size(a), off = a->off, end;
	struct stat st;
	int fd;

	if (r->ret < 0 && r->err != ENXIO)
		return; /* errors are compared as errors */
	if ((a->slot >= 0 ? fstat(sides[1].slot[a->slot], &st)
			  : fstatat(sides[1].rootfd, a->p1, &st, 0)) ||
	    !S_ISREG(st.st_mode))
		return; /* only regular files promise anything */
	if (off >= size) {
		if (r->ret >= 0)
			differ("%s: %s at %" PRIu64 " >= size %" PRIu64 " returned %ld, not ENXIO",
			       sides[s].label, a->whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE",
			       off, size, r->ret);
		return;
	}
	if (a->whence == SEEK_HOLE) {
		if (r->ret < 0 || (uint64_t)r->ret < off || (uint64_t)r->ret > size)
			differ("%s: SEEK_HOLE at %" PRIu64 " returned %ld, outside [%" PRIu64
			       ", size %" PRIu64 "]",
			       sides[s].label, off, r->ret, off, size);
		end = (uint64_t)r->ret < size ? (uint64_t)r->ret + 1 : (uint64_t)r->ret;
		off = (uint64_t)r->ret; /* a hole there: its first byte is zero */
	} else {
		end = r->ret < 0 ? size : (uint64_t)r->ret;
		if (r->ret >= 0 && (end < off || end >= size))
			differ("%s: SEEK_DATA at %" PRIu64 " returned %ld, outside [%" PRIu64
			       ", size %" PRIu64 ")",
			       sides[s].label, off, r->ret, off, size);
	}
	/* [off, end) was reported as a hole: it reads as zeros */
	if (a->slot >= 0) {
		char pp[64];

		/* the slot may be write-only */
		snprintf(pp, sizeof(pp), "/proc/self/fd/%d", sides[s].slot[a->slot]);
		fd = open(pp, O_RDONLY | O_CLOEXEC);
	} else {
		fd = openat(sides[s].rootfd, a->p1, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		differ("%s: opening to read a reported hole: %s", sides[s].label, strerror(errno));
	while (off < end) {
		size_t n = end - off < CHUNK ? (size_t)(end - off) : CHUNK;

		read_exact(s, fd, cbuf[s], n, off, "reported hole");
		for (size_t i = 0; i < n; i++)
			if (cbuf[s][i])
				differ("%s: offset %" PRIu64
				       " was reported as a hole but reads %#x",
				       sides[s].label, off + i, cbuf[s][i]);
		off += n;
	}
	close(fd);
}

static void cmp_results(const struct args *a)
{
	struct res *ra = &res[0], *rb = &res[1];

	if (a->op == OP_SEEK) {
		struct stat st;

		/* opening the target is compared as any op */
		if ((ra->stage && !strcmp(ra->stage, "open")) ||
		    (rb->stage && !strcmp(rb->stage, "open"))) {
			if (ra->ret != rb->ret || ra->err != rb->err)
				differ("results differ");
			return;
		}
		/* SEEK_DATA/SEEK_HOLE promise nothing on directories and the like */
		if ((a->slot >= 0 ? fstat(sides[1].slot[a->slot], &st)
				  : fstatat(sides[1].rootfd, a->p1, &st, 0)) ||
		    !S_ISREG(st.st_mode))
			return;
		/* per side: a hole may be reported as data, so not against each other */
		if ((ra->ret < 0 && ra->err != ENXIO) || (rb->ret < 0 && rb->err != ENXIO)) {
			if (ra->ret != rb->ret || ra->err != rb->err)
				differ("lseek errors differ");
		}
		check_seek(0, a, ra);
		check_seek(1, a, rb);
		return;
	}
	if ((ra->ret < 0) != (rb->ret < 0) || (ra->ret < 0 && !errs_equal(a->op, ra->err, rb->err)))
		differ("results differ");
	if (a->op == OP_LISTXATTR) {
		/* the size counts names of other namespaces a side may carry */
		if (ra->len != rb->len || memcmp(ra->out, rb->out, ra->len))
			differ("user.* names differ:\n  A: %.*s\n  B: %.*s", (int)ra->len,
			       (char *)ra->out, (int)rb->len, (char *)rb->out);
		return;
	}
	if (ra->ret != rb->ret)
		differ("return values differ");
	if (ra->len != rb->len || memcmp(ra->out, rb->out, ra->len)) {
		size_t i = 0;

		while (i < ra->len && i < rb->len && ra->out[i] == rb->out[i])
			i++;
		differ("returned bytes differ from byte %zu (%zu vs %zu bytes)", i, ra->len,
		       rb->len);
	}
}

/* keep the explicit-mtime set and the entry count in step with the op */
static void pre_op(const struct args *a, struct stat *pre1, bool *ex1, struct stat *pre2, bool *ex2)
{
	*ex1 = a->p1[0] && fstatat(sides[1].rootfd, a->p1, pre1, AT_SYMLINK_NOFOLLOW) == 0;
	*ex2 = a->p2[0] && fstatat(sides[1].rootfd, a->p2, pre2, AT_SYMLINK_NOFOLLOW) == 0;
}

static void post_op(const struct args *a, const struct stat *pre1, bool ex1,
		    const struct stat *pre2, bool ex2)
{
	char par[PATH_MAX];
	struct stat st;
	int fd;

	if (res[1].ret < 0)
		return;
	switch (a->op) {
	case OP_CREATE:
	case OP_MKDIR:
	case OP_SYMLINK:
		if (!ex1) {
			nr_entries++;
			mt_clear_path(a->p1);
			mt_clear_path(parent_of(a->p1, par));
		} else if (a->flags & O_TRUNC) {
			mt_clear(pre1);
		}
		break;
	case OP_LINK:
		nr_entries++;
		mt_clear_path(parent_of(a->p2, par));
		break;
	case OP_UNLINK:
	case OP_RMDIR:
		nr_entries--;
		mt_clear(pre1);
		mt_clear_path(parent_of(a->p1, par));
		break;
	case OP_RENAME:
		if (ex2 && a->flags != RENAME_EXCHANGE &&
		    (pre1->st_ino != pre2->st_ino || pre1->st_dev != pre2->st_dev)) {
			nr_entries--;
			mt_clear(pre2);
		}
		if (ex1 && S_ISDIR(pre1->st_mode))
			mt_clear(pre1);
		if (ex2 && S_ISDIR(pre2->st_mode))
			mt_clear(pre2);
		mt_clear_path(parent_of(a->p1, par));
		mt_clear_path(parent_of(a->p2, par));
		break;
	case OP_UTIMENS:
		if (a->slot >= 0)
			fd = fstat(sides[1].slot[a->slot], &st);
		else
			fd = fstatat(sides[1].rootfd, a->p1, &st, a->flags);
		if (fd == 0) {
			if (a->ts[1].tv_nsec == UTIME_NOW)
				mt_clear(&st);
			else if (a->ts[1].tv_nsec != UTIME_OMIT)
				mt_mark(&st);
		}
		break;
	case OP_OPEN:
		if (a->flags & O_TRUNC) {
			if (fstat(sides[1].slot[a->slot], &st) == 0)
				mt_clear(&st);
		}
		if ((a->flags & O_CREAT) && !ex1) {
			nr_entries++;
			mt_clear_path(a->p1);
			mt_clear_path(parent_of(a->p1, par));
		}
		break;
	case OP_WRITE:
		if (a->slot < 0 && (a->flags & O_CREAT) && !ex1) {
			nr_entries++;
			mt_clear_path(parent_of(a->p1, par));
		}
		break;
	default:
		break;
	}
}

/* an op's writes to a file mark it: mtime is tracked per B inode */
static void mark_written(const struct args *a)
{
	struct stat st;

	/* a write that failed on B may still have changed mtime: forget it */
	if (a->op != OP_WRITE && a->op != OP_TRUNCATE && a->op != OP_FALLOCATE && a->op != OP_MMAP)
		return;
	if (a->slot >= 0 ? fstat(sides[1].slot[a->slot], &st) == 0
			 : fstatat(sides[1].rootfd, a->p1, &st, 0) == 0)
		mt_clear(&st);
}

static void check_touched(const struct args *a)
{
	bool ns = a->op == OP_CREATE || a->op == OP_MKDIR || a->op == OP_UNLINK ||
		  a->op == OP_RMDIR || a->op == OP_RENAME || a->op == OP_LINK ||
		  a->op == OP_SYMLINK || (a->op == OP_OPEN && (a->flags & O_CREAT)) ||
		  (a->op == OP_WRITE && (a->flags & O_CREAT));
	bool data = a->op == OP_WRITE || a->op == OP_TRUNCATE || a->op == OP_FALLOCATE ||
		    (a->op == OP_MMAP && a->store) || a->op == OP_RENAME || a->op == OP_LINK ||
		    ((a->op == OP_CREATE || a->op == OP_OPEN) && (a->flags & O_TRUNC));
	enum how how = data ? C_WINDOW : C_NONE;
	uint64_t foff = a->off, flen = a->len;
	char par[PATH_MAX];

	/* what only reads was compared by its results */
	if (a->op == OP_READLINK || a->op == OP_STAT || a->op == OP_READDIR || a->op == OP_READ ||
	    a->op == OP_SEEK || a->op == OP_GETXATTR || a->op == OP_LISTXATTR ||
	    a->op == OP_FSYNC || (a->op == OP_MMAP && !a->store))
		return;
	/*
	 * An op that failed alike on both sides changed nothing (the
	 * checkpoints look at everything): each compare costs the mount a
	 * few requests per path component.
	 */
	if (res[1].ret < 0)
		return;
	/* xattrs where they may have changed */
	xattrs_now = a->op == OP_SETXATTR || a->op == OP_REMOVEXATTR;

	if (a->op == OP_TRUNCATE) {
		/* around both the old and the new end */
		foff = a->len < a->size0 ? a->len : a->size0;
		flen = (a->len < a->size0 ? a->size0 - a->len : a->len - a->size0);
		if (flen > (256 << 10))
			flen = 256 << 10;
	}
	if (a->slot >= 0)
		cmp_slot(a->slot, how, foff, flen);
	if (a->p1[0])
		cmp_path(a->p1, false, how, foff, flen);
	if (a->p2[0])
		cmp_path(a->p2, false, how, 0, 0);
	/* the entries of the directories that gained or lost one */
	if (ns) {
		char par2[PATH_MAX];

		cmp_path(parent_of(a->p1, par), true, C_NONE, 0, 0);
		if (a->p2[0] && strcmp(parent_of(a->p2, par2), par))
			cmp_path(par2, true, C_NONE, 0, 0);
	}
	/* a new hard link must name the same inode on both sides */
	if (a->op == OP_LINK && res[1].ret == 0) {
		struct stat s1[2], s2[2];

		for (int s = 0; s < 2; s++)
			if (fstatat(sides[s].rootfd, a->p1, &s1[s], AT_SYMLINK_NOFOLLOW) ||
			    fstatat(sides[s].rootfd, a->p2, &s2[s], AT_SYMLINK_NOFOLLOW))
				differ("%s: a linked path is missing", sides[s].label);
		if ((s1[0].st_ino == s2[0].st_ino) != (s1[1].st_ino == s2[1].st_ino))
			differ("the new link and its source share an inode on one side only");
	}
}

static void run_one(void)
{
	struct stat pre1 = {0}, pre2 = {0};
	bool ex1, ex2;
	double t;

	t = now();
	gen_args(&cur);
	stats.t_gen += now() - t;
	describe(&cur, cur_desc, sizeof(cur_desc));
	snprintf(ring[opno % LOG_RING], sizeof(ring[0]), "%s", cur_desc);
	ring_no[opno % LOG_RING] = opno;
	pre_op(&cur, &pre1, &ex1, &pre2, &ex2);

	op_mount = (int)(opno % (uint64_t)nr_mounts);
	use_mount(op_mount);
	extra_open_mount = -1;
	if (verbose) {
		/* out before the op runs: an op that never returns is the last line */
		printf("%" PRIu64 ": %s%s%s", opno, cur_desc, nr_mounts > 1 ? " on " : "",
		       nr_mounts > 1 ? sides[0].label : "");
		fflush(stdout);
	}
	t = now();
	exec_op(0, &cur, &res[0]);
	stats.t_op[0] += now() - t;
	t = now();
	exec_op(1, &cur, &res[1]);
	stats.t_op[1] += now() - t;

	stats.ops[cur.op]++;
	if (res[1].ret >= 0)
		stats.ok[cur.op]++;
	else if (res[1].err < 200)
		stats.errs[res[1].err]++;
	if (verbose) {
		char ra[128];

		fmt_res(&res[0], ra, sizeof(ra));
		printf(" = %s\n", ra);
	}
	t = now();
	cmp_results(&cur);
	if (extra_open_mount >= 0) {
		use_mount(extra_open_mount);
		errno = extra_open_err;
		differ("slot%d: '%s' opened on %s but not on %s: %s", cur.slot, cur.p1,
		       mounts[op_mount].label, mounts[extra_open_mount].label,
		       strerror(extra_open_err));
	}
	post_op(&cur, &pre1, ex1, &pre2, ex2);
	mark_written(&cur);
	check_touched(&cur);
	/* what the op changed, seen through every other mount */
	for (int m = 1; m < nr_mounts; m++) {
		use_mount((op_mount + m) % nr_mounts);
		check_touched(&cur);
	}
	use_mount(op_mount);
	stats.t_cmp += now() - t;
}

/* the whole trees, through every mount */
static void check_trees(void)
{
	for (int m = 0; m < nr_mounts; m++) {
		use_mount(m);
		check_tree();
	}
	use_mount(op_mount);
}

/* ------------------------------------------------------------------ */
/* setup, probing, main */

static unsigned int parse_classes(const char *arg)
{
	unsigned int mask = 0;
	char *copy = strdup(arg), *tok, *save = NULL;

	if (!copy)
		fatal("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		if (!strcmp(tok, "all")) {
			mask |= CL_ALL;
			continue;
		}
		for (i = 0; i < NR_CLASSES; i++)
			if (!strcmp(tok, class_names[i]))
				break;
		if (i == NR_CLASSES)
			fatal("unknown class '%s' (ns,link,data,trunc,falloc,seek,xattr,mmap,all)",
			      tok);
		mask |= 1U << i;
	}
	free(copy);
	return mask;
}

static bool unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == ENOTTY;
}

/*
 * Print the classes DIR supports: a class is left out when its first
 * call fails with EOPNOTSUPP or ENOSYS.  Other failures leave it in, to
 * be found by the run.
 */
static int probe(const char *dir)
{
	char f[PATH_MAX], out[128] = "ns,link,trunc,seek";
	unsigned char b = 'x';
	void *p;
	int fd;

	snprintf(f, sizeof(f), "%s/.sfs-difftest-probe", dir);
	fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fatal("probe: creating %s: %s", f, strerror(errno));
	if (pwrite(fd, &b, 1, 0) == 1 || !unsupported(errno))
		strcat(out, ",data");
	if (ftruncate(fd, 4096) < 0)
		fatal("probe: ftruncate %s: %s", f, strerror(errno));
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0 ||
	    !unsupported(errno)) {
		if (fallocate(fd, 0, 0, 8192) == 0 || !unsupported(errno))
			strcat(out, ",falloc");
	}
	if (fsetxattr(fd, "user.probe", "v", 1, 0) == 0 || !unsupported(errno))
		strcat(out, ",xattr");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		/* stores only work where writes do */
		if (strstr(out, "data"))
			strcat(out, ",mmap");
		munmap(p, 4096);
	}
	close(fd);
	unlink(f);
	printf("%s\n", out);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sfs-difftest A B [--seed N] [--ops N] [--classes LIST] [--check-every K]\n"
		"                    [--skip otrunc|OP[,...]] [--mount A2]... [--verbose]\n"
		"       sfs-difftest A B --compare\n"
		"       sfs-difftest --probe DIR\n"
		"  A: the directory under test, B: the reference; both empty.\n"
		"  --mount A2: A through another mount of the same volume; op i runs on\n"
		"  mount i %% n and every mount is compared with B.\n"
		"  classes: ns,link,data,trunc,falloc,seek,xattr,mmap or all (default)\n");
	exit(2);
}

static void open_side(int s, const char *label, const char *root, bool need_empty)
{
	struct dent ents[4];
	int n;

	sides[s].label = label;
	sides[s].root = root;
	sides[s].rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sides[s].rootfd < 0)
		fatal("%s: %s", root, strerror(errno));
	sides[s].slot = s ? b_slots : mounts[0].slot;
	for (int k = 0; k < NR_SLOTS; k++)
		sides[s].slot[k] = -1;
	n = list_dir(s, "", ents, 4);
	if (need_empty && n != 0)
		fatal("%s must be an empty directory (%s)", root,
		      n < 0 ? strerror(-n) : "it has entries");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"ops", required_argument, NULL, 'n'},
		{"classes", required_argument, NULL, 'c'},
		{"check-every", required_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},
		{"probe", required_argument, NULL, 'p'},
		{"skip", required_argument, NULL, 'x'},
		{"compare", no_argument, NULL, 'C'},
		{"mount", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_sigbus};
	bool have_seed = false, compare_only = false;
	double t0, t;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:c:k:vp:x:Cm:", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 'n':
			nr_ops = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			classes = parse_classes(optarg);
			snprintf(classes_arg, sizeof(classes_arg), "%s", optarg);
			break;
		case 'k':
			check_every = strtoull(optarg, NULL, 0);
			if (!check_every)
				usage();
			break;
		case 'v':
			verbose = true;
			break;
		case 'C':
			compare_only = true;
			break;
		case 'm':
			if (nr_mounts == MAX_MOUNTS)
				fatal("at most %d mounts", MAX_MOUNTS);
			mounts[nr_mounts++].root = optarg;
			break;
		case 'p':
			return probe(optarg);
		case 'x': {
			/* leave out what a known bug breaks */
			char *copy = strdup(optarg), *tok, *save = NULL;

			if (!copy)
				fatal("out of memory");
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int i;

				for (i = 0; i < NR_OPS; i++)
					if (!strcmp(tok, ops[i].name))
						break;
				if (!strcmp(tok, "otrunc"))
					skip_otrunc = true;
				else if (i < NR_OPS)
					op_skipped[i] = true;
				else
					fatal("--skip knows 'otrunc' (opens with O_TRUNC) and op names "
					      "(rename, link, setxattr, ...), not '%s'", tok);
				snprintf(skip_arg + strlen(skip_arg), sizeof(skip_arg) - strlen(skip_arg),
					 "%s%s", skip_arg[0] ? "," : "", tok);
			}
			free(copy);
			break;
		}
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	if (!have_seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	if (!(classes & CL_NS))
		fatal("the ns class is needed: it makes the files the others work on");

	page_size = sysconf(_SC_PAGESIZE);
	umask(0);
	sigaction(SIGBUS, &sa, NULL);
	wbuf = malloc(MAX_IO);
	for (int s = 0; s < 2; s++) {
		cbuf[s] = malloc(CHUNK);
		res[s].cap = MAX_IO + 65536;
		res[s].out = malloc(res[s].cap);
		if (!cbuf[s] || !res[s].out)
			fatal("out of memory");
	}
	if (!wbuf)
		fatal("out of memory");
	for (int i = 0; i < 255; i++)
		long_name[i] = (char)('A' + i % 26);
	memset(too_long_name, 'T', 256);
	{
		static const char *const base[NR_NAMES - 1] = {
			"a",
			"b",
			"c",
			"d",
			"e",
			"f",
			"g",
			"h",
			"dir",
			"file.txt",
			"x y",
			".dot",
			"-dash",
			"\xc3\xbcn\xc3\xaf",
			"UPPER",
			"n5",
			"n6",
			"z",
			"a_somewhat_longer_name_for_an_entry_here",
		};
		for (int i = 0; i < NR_NAMES - 1; i++)
			names[i] = (char *)base[i];
		names[NR_NAMES - 1] = long_name;
	}
	open_side(0, "A", argv[optind], !compare_only);
	open_side(1, "B", argv[optind + 1], !compare_only);
	mounts[0].root = sides[0].root;
	mounts[0].rootfd = sides[0].rootfd;
	snprintf(mounts[0].label, sizeof(mounts[0].label), "A");
	for (int m = 1; m < nr_mounts; m++) {
		struct dent ents[4];

		snprintf(mounts[m].label, sizeof(mounts[m].label), "A%d", m + 1);
		snprintf(mount_arg + strlen(mount_arg), sizeof(mount_arg) - strlen(mount_arg),
			 " --mount A%d", m + 1);
		mounts[m].rootfd = open(mounts[m].root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mounts[m].rootfd < 0)
			fatal("%s: %s", mounts[m].root, strerror(errno));
		for (int k = 0; k < NR_SLOTS; k++)
			mounts[m].slot[k] = -1;
		use_mount(m);
		if (!compare_only && list_dir(0, "", ents, 4) != 0)
			fatal("%s must be an empty directory", mounts[m].root);
	}
	use_mount(0);
	rnd_seed(seed);

	if (compare_only) {
		snprintf(cur_desc, sizeof(cur_desc), "--compare: the whole-tree compare");
		check_trees();
		printf("sfs-difftest: %s and %s are equal: %ld entries\n", argv[optind],
		       argv[optind + 1], nr_entries);
		return 0;
	}

	printf("sfs-difftest: seed %" PRIu64 " ops %" PRIu64 " classes %s check-every %" PRIu64
	       ", %d mount%s\n",
	       seed, nr_ops, classes_arg, check_every, nr_mounts, nr_mounts > 1 ? "s" : "");
	for (int m = 0; nr_mounts > 1 && m < nr_mounts; m++)
		printf("  mount %s: %s\n", mounts[m].label, mounts[m].root);
	fflush(stdout);
	t0 = now();
	for (opno = 0; opno < nr_ops; opno++) {
		run_one();
		if ((opno + 1) % check_every == 0) {
			snprintf(cur_desc, sizeof(cur_desc),
				 "the whole-tree compare after op %" PRIu64, opno);
			res[0].ret = res[1].ret = 0;
			check_trees();
		}
		if ((opno + 1) % 50000 == 0 && opno + 1 < nr_ops) {
			printf("  %" PRIu64 " ops, %.1f s\n", opno + 1, now() - t0);
			fflush(stdout);
		}
	}
	opno = nr_ops ? nr_ops - 1 : 0;
	snprintf(cur_desc, sizeof(cur_desc), "the final whole-tree compare");
	res[0].ret = res[1].ret = 0;
	check_trees();
	t = now() - t0;

	printf("sfs-difftest: seed %" PRIu64 ": %" PRIu64 " ops equal in %.1f s (picking %.1f s,"
	       " A ops %.1f s, B ops %.1f s, compares after ops %.1f s, checkpoints %.1f s), "
	       "%" PRIu64 " checkpoints, %ld entries at the end, %.1f MiB written, %.1f MiB"
	       " compared\n",
	       seed, nr_ops, t, stats.t_gen, stats.t_op[0], stats.t_op[1], stats.t_cmp,
	       stats.t_check, stats.checkpoints, nr_entries,
	       (double)stats.bytes_written / (1 << 20), (double)stats.bytes_compared / (1 << 20));
	printf("  ops (ok/all):");
	for (int i = 0; i < NR_OPS; i++)
		if (stats.ops[i])
			printf(" %s %" PRIu64 "/%" PRIu64, ops[i].name, stats.ok[i], stats.ops[i]);
	printf("\n  errors:");
	for (int i = 0; i < 200; i++)
		if (stats.errs[i])
			printf(" %s %" PRIu64, errname(i), stats.errs[i]);
	printf("\n");
	return 0;
}
