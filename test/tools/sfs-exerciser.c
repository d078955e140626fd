// SPDX-License-Identifier: GPL-2.0-only
/*
 * sfs-exerciser: an fsx-style data integrity exerciser on one file.
 *
 *   sfs-exerciser FILE --seed N --ops N [--size MAX] [--save-shadow PATH] [--verbose]
 *
 * A random sequence of operations on FILE, each mirrored in an in-memory
 * shadow copy of what the file must hold:
 *
 *   write       pwrite at a random offset and length
 *   read        pread, the bytes checked against the shadow
 *   truncate    ftruncate up or down (what grows reads as zeros)
 *   punch       fallocate PUNCH_HOLE|KEEP_SIZE (zeros in the shadow)
 *   falloc      fallocate mode 0 or KEEP_SIZE (contents unchanged)
 *   mapread     a MAP_SHARED mapping's bytes checked against the shadow
 *   mapwrite    stores through a MAP_SHARED mapping, msync (MS_SYNC, MS_ASYNC
 *               or none: writeback then comes later), checked by pread
 *   copy        copy_file_range from one range of the file to another
 *   fsync       fsync or fdatasync
 *   reopen      close, reopen, drop the page cache: reads go to the filesystem
 *
 * After every op the size must equal the shadow's; every 1000 ops and at
 * the end the whole file is read back and compared.  The first mismatch
 * prints the seed, the last 20 ops, the offset and the expected and actual
 * bytes, and exits 1.  An op the filesystem does not support (EOPNOTSUPP,
 * ENOSYS, and EXDEV for copy_file_range) is dropped from the run with a
 * note, once.  --save-shadow writes the expected contents to PATH at the
 * end so that a test can compare the file after a remount.
 *
 * Invariants of the shadow: bytes at and past the size are zero, and the
 * size never exceeds MAX.
 *
 * Exit: 0 the file held what it should, 1 a mismatch or a failed call,
 * 2 usage or setup error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "sfs-rnd.h"

#define LOG_RING 20
#define VERIFY_EVERY 1000

enum op_type {
	OP_WRITE,
	OP_READ,
	OP_TRUNCATE,
	OP_PUNCH,
	OP_FALLOC,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_COPY,
	OP_FSYNC,
	OP_REOPEN,
	NR_OPS
};

static struct {
	const char *name;
	unsigned int weight;
	bool disabled;
} ops[NR_OPS] = {
	/* clang-format off */
	[OP_WRITE] = { "write", 25, false },
	[OP_READ] = { "read", 20, false },
	[OP_TRUNCATE] = { "truncate", 8, false },
	[OP_PUNCH] = { "punch", 7, false },
	[OP_FALLOC] = { "falloc", 4, false },
	[OP_MAPREAD] = { "mapread", 8, false },
	[OP_MAPWRITE] = { "mapwrite", 8, false },
	[OP_COPY] = { "copy", 6, false },
	[OP_FSYNC] = { "fsync", 2, false },
	[OP_REOPEN] = { "reopen", 4, false },
	/* clang-format on */
};

static const char *path;
static int fd = -1;
static uint64_t seed, nr_ops = 100000, opno;
static uint64_t max_size = 1 << 20;
static unsigned char *shadow, *buf, *data;
static uint64_t size; /* the shadow's size */
static bool verbose;
static long page_size;
static char ring[LOG_RING][160];
static uint64_t counts[NR_OPS];
static double op_time[NR_OPS], verify_time;


/* ------------------------------------------------------------------ */
/* logging and failing */

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logop(const char *fmt, ...)
{
	char *line = ring[opno % LOG_RING];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(ring[0]), "%" PRIu64 ": ", opno);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(ring[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("%s\n", line);
}

static void print_ring(void)
{
	fprintf(stderr, "  the last ops (the failing one last):\n");
	for (uint64_t i = opno + 1 > LOG_RING ? opno + 1 - LOG_RING : 0; i <= opno; i++)
		fprintf(stderr, "    %s\n", ring[i % LOG_RING]);
}

static __attribute__((format(printf, 1, 2), noreturn)) void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr,
		"sfs-exerciser: FAILED at op %" PRIu64 " (seed %" PRIu64 ", file %s): ", opno, seed,
		path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	print_ring();
	fprintf(stderr,
		"  reproduce: sfs-exerciser FILE --seed %" PRIu64 " --ops %" PRIu64
		" --size %" PRIu64 " --verbose\n",
		seed, opno + 1, max_size);
	exit(1);
}

static __attribute__((format(printf, 1, 2), noreturn)) void fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sfs-exerciser: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02x ", p[i]);
	out[n ? 3 * n - 1 : 0] = '\0';
}

/* got[0, len) must equal the shadow at off */
static void check_bytes(const unsigned char *got, uint64_t off, size_t len, const char *how)
{
	const unsigned char *want = shadow + off;
	char hw[3 * 16 + 1], hg[3 * 16 + 1];
	size_t i, bad = 0, k;

	if (!memcmp(got, want, len))
		return;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	for (size_t j = i; j < len; j++)
		bad += got[j] != want[j];
	k = len - i < 16 ? len - i : 16;
	hex(want + i, k, hw);
	hex(got + i, k, hg);
	fail("%s: %zu bad bytes in [%" PRIu64 ", %" PRIu64 "), the first at offset %" PRIu64
	     " (file size %" PRIu64 ")\n  expected: %s\n  actual:   %s",
	     how, bad, off, off + len, off + i, size, hw, hg);
}

/* ------------------------------------------------------------------ */
/* operations */

static bool unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS;
}

static void drop(enum op_type op, int err)
{
	ops[op].disabled = true;
	printf("sfs-exerciser: note: %s is not supported here (%s): left out from op %" PRIu64 "\n",
	       ops[op].name, strerror(err), opno);
}

static void check_size(const char *after)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		fail("fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != size)
		fail("after %s the size is %lld, expected %" PRIu64, after, (long long)st.st_size,
		     size);
}

static void pread_all(unsigned char *to, uint64_t off, size_t len, const char *why)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, to + done, len - done, (off_t)(off + done));

		if (n < 0)
			fail("%s: pread %zu at %" PRIu64 ": %s", why, len - done, off + done,
			     strerror(errno));
		if (n == 0)
			fail("%s: pread at %" PRIu64 " returned 0 before the size %" PRIu64, why,
			     off + done, size);
		done += (size_t)n;
	}
}

static void verify_all(const char *why)
{
	uint64_t off = 0;

	while (off < size) {
		size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (1 << 20);

		pread_all(buf, off, n, why);
		check_bytes(buf, off, n, why);
		off += n;
	}
	/* and nothing past the size */
	if (pread(fd, buf, 1, (off_t)size) != 0)
		fail("%s: a read at the size %" PRIu64 " returned data or failed", why, size);
}

static void fill(size_t len)
{
	uint64_t x = rnd() | 1;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(data + i, &x, len - i < 8 ? len - i : 8);
	}
	/* now and then zeros or one byte: what a filesystem might special-case */
	if (chance(5))
		memset(data, 0, len);
	else if (chance(5))
		memset(data, (int)(x & 0xff), len);
}

static uint64_t gen_len(uint64_t limit)
{
	unsigned int r = (unsigned int)rnd_below(100);
	uint64_t len;

	/* mostly small: every byte crosses FUSE twice or more */
	if (r < 65)
		len = 1 + rnd_below(4096);
	else if (r < 95)
		len = 1 + rnd_below(64 << 10);
	else if (r < 99)
		len = 1 + rnd_below(max_size / 4 + 1);
	else
		len = 1 + rnd_below(max_size);
	return len < limit ? len : limit;
}

static uint64_t gen_off(void)
{
	unsigned int r = (unsigned int)rnd_below(100);
	uint64_t off;

	if (r < 40)
		off = rnd_below(size + 1);
	else if (r < 50)
		off = size;
	else if (r < 65)
		off = rnd_below(max_size) & ~(uint64_t)4095;
	else
		off = rnd_below(max_size);
	return off < max_size ? off : max_size - 1;
}

static void set_size(uint64_t nsize)
{
	if (nsize < size)
		memset(shadow + nsize, 0, size - nsize);
	size = nsize;
}

static void do_write(void)
{
	uint64_t off = gen_off(), len = gen_len(max_size - off);
	ssize_t n;

	fill(len);
	logop("write off %" PRIu64 " len %" PRIu64, off, len);
	n = pwrite(fd, data, len, (off_t)off);
	if (n < 0)
		fail("pwrite: %s", strerror(errno));
	if ((uint64_t)n != len)
		fail("pwrite wrote %zd of %" PRIu64 " bytes", n, len);
	memcpy(shadow + off, data, len);
	if (off + len > size)
		size = off + len;
	check_size("write");
}

static void do_read(void)
{
	uint64_t off = chance(5) ? size + rnd_below(4096) : gen_off();
	uint64_t len = gen_len(max_size), want;
	ssize_t n;

	logop("read off %" PRIu64 " len %" PRIu64, off, len);
	want = off >= size ? 0 : (size - off < len ? size - off : len);
	n = pread(fd, buf, len, (off_t)off);
	if (n < 0)
		fail("pread: %s", strerror(errno));
	/* a regular file reads in full, short only at the end */
	if ((uint64_t)n != want)
		fail("pread at %" PRIu64 " of %" PRIu64 " returned %zd, expected %" PRIu64, off,
		     len, n, want);
	check_bytes(buf, off, (size_t)n, "pread");
}

static void do_truncate(void)
{
	unsigned int r = (unsigned int)rnd_below(100);
	uint64_t nsize = r < 40 ? rnd_below(size + 1) : r < 50 ? 0 : rnd_below(max_size + 1);

	logop("truncate %" PRIu64 " -> %" PRIu64, size, nsize);
	if (ftruncate(fd, (off_t)nsize) < 0)
		fail("ftruncate: %s", strerror(errno));
	set_size(nsize);
	check_size("truncate");
}

static void do_punch(void)
{
	uint64_t off = gen_off(), len = gen_len(max_size - off), end;

	logop("punch off %" PRIu64 " len %" PRIu64, off, len);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
		if (unsupported(errno)) {
			drop(OP_PUNCH, errno);
			return;
		}
		fail("fallocate punch: %s", strerror(errno));
	}
	end = off + len < size ? off + len : size;
	if (off < end)
		memset(shadow + off, 0, end - off);
	check_size("punch");
}

static void do_falloc(void)
{
	uint64_t off = gen_off(), len = gen_len(max_size - off);
	int mode = chance(50) ? 0 : FALLOC_FL_KEEP_SIZE;

	logop("falloc %s off %" PRIu64 " len %" PRIu64, mode ? "KEEP_SIZE" : "0", off, len);
	if (fallocate(fd, mode, (off_t)off, (off_t)len) < 0) {
		if (unsupported(errno)) {
			drop(OP_FALLOC, errno);
			return;
		}
		fail("fallocate: %s", strerror(errno));
	}
	if (!mode && off + len > size)
		size = off + len;
	check_size("falloc");
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

static void do_map(bool store)
{
	uint64_t off, len, moff;
	unsigned char *p;
	unsigned int r = (unsigned int)rnd_below(100);
	/* MS_SYNC is an fsync (a commit): mostly leave writeback to the kernel */
	int sync = r < 10 ? MS_SYNC : r < 45 ? MS_ASYNC : 0;
	size_t mlen;

	if (store) {
		off = gen_off();
		len = gen_len(max_size - off);
		if (len > (1 << 20))
			len = 1 << 20;
	} else {
		if (!size) {
			logop("mapread: the file is empty");
			return;
		}
		off = rnd_below(size);
		len = gen_len(size - off);
	}
	logop("%s off %" PRIu64 " len %" PRIu64 "%s%s", store ? "mapwrite" : "mapread", off, len,
	      !store		? ""
	      : sync == MS_SYNC ? " MS_SYNC"
	      : sync		? " MS_ASYNC"
				: " no msync",
	      store && off + len > size ? " (extends first)" : "");
	if (store && off + len > size) {
		/* stores past the end fault: grow the file first, as fsx does */
		if (ftruncate(fd, (off_t)(off + len)) < 0)
			fail("ftruncate before mapwrite: %s", strerror(errno));
		set_size(off + len);
	}
	moff = off & ~(uint64_t)(page_size - 1);
	mlen = (size_t)(off + len - moff);
	p = mmap(NULL, mlen, store ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
		 (off_t)moff);
	if (p == MAP_FAILED) {
		if (errno == ENODEV || unsupported(errno)) {
			drop(store ? OP_MAPWRITE : OP_MAPREAD, errno);
			return;
		}
		fail("mmap: %s", strerror(errno));
	}
	if (store)
		fill(len);
	if (!(store ? map_copy(p + (off - moff), data, len) : map_copy(buf, p + (off - moff), len)))
		fail("SIGBUS touching the mapping of [%" PRIu64 ", %" PRIu64 ") (size %" PRIu64 ")",
		     off, off + len, size);
	if (store) {
		if (sync && msync(p, mlen, sync) < 0)
			fail("msync: %s", strerror(errno));
		memcpy(shadow + off, data, len);
	}
	if (munmap(p, mlen) < 0)
		fail("munmap: %s", strerror(errno));
	if (store)
		pread_all(buf, off, len, "pread after mapwrite");
	check_bytes(buf, off, len, store ? "pread after mapwrite" : "mapread");
	check_size(store ? "mapwrite" : "mapread");
}

static void do_copy(void)
{
	uint64_t src, dst, len, done = 0;
	loff_t so, dof;

	if (!size) {
		logop("copy: the file is empty");
		return;
	}
	src = rnd_below(size);
	len = gen_len(max_size / 2);
	/* a destination that does not overlap the source (that is EINVAL) */
	for (int tries = 0;; tries++) {
		dst = rnd_below(max_size - len + 1);
		if (dst + len <= src || dst >= src + len)
			break;
		if (tries == 20) {
			logop("copy: no room for a destination of %" PRIu64 " bytes", len);
			return;
		}
	}
	logop("copy src %" PRIu64 " dst %" PRIu64 " len %" PRIu64, src, dst, len);
	so = (loff_t)src;
	dof = (loff_t)dst;
	while (done < len) {
		ssize_t n = copy_file_range(fd, &so, fd, &dof, len - done, 0);

		if (n < 0) {
			if (unsupported(errno) || errno == EXDEV) {
				if (done)
					fail("copy_file_range: %s after %" PRIu64 " bytes",
					     strerror(errno), done);
				drop(OP_COPY, errno);
				return;
			}
			fail("copy_file_range: %s", strerror(errno));
		}
		if (n == 0) {
			/* 0 means the source is at its end */
			if ((uint64_t)so < size)
				fail("copy_file_range returned 0 at source offset %lld before the"
				     " size %" PRIu64,
				     (long long)so, size);
			break;
		}
		/* the copy reads what the file held: the shadow before this chunk */
		memmove(shadow + dst + done, shadow + src + done, (size_t)n);
		done += (uint64_t)n;
		if (dst + done > size)
			size = dst + done;
	}
	pread_all(buf, dst, (size_t)done, "pread after copy");
	check_bytes(buf, dst, (size_t)done, "pread after copy");
	check_size("copy");
}

static void do_fsync(void)
{
	bool data_only = chance(50);

	logop("%s", data_only ? "fdatasync" : "fsync");
	if ((data_only ? fdatasync(fd) : fsync(fd)) < 0)
		fail("%s: %s", data_only ? "fdatasync" : "fsync", strerror(errno));
}

static void reopen(void)
{
	if (fd >= 0 && close(fd) < 0)
		fail("close: %s", strerror(errno));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail("reopening: %s", strerror(errno));
	/* what is read next comes from the filesystem, not the page cache */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static void do_reopen(void)
{
	logop("reopen");
	reopen();
	check_size("reopen");
}

static enum op_type pick_op(void)
{
	unsigned int total = 0;
	uint64_t r;

	for (int i = 0; i < NR_OPS; i++)
		total += ops[i].disabled ? 0 : ops[i].weight;
	r = rnd_below(total);
	for (int i = 0; i < NR_OPS; i++) {
		if (ops[i].disabled)
			continue;
		if (r < ops[i].weight)
			return (enum op_type)i;
		r -= ops[i].weight;
	}
	return OP_READ;
}

/* ------------------------------------------------------------------ */

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || !v)
		fatal("bad size '%s'", s);
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sfs-exerciser FILE [--seed N] [--ops N] [--size MAX] [--save-shadow PATH]"
		" [--verbose]\n");
	exit(2);
}

static void save_shadow(const char *to)
{
	FILE *f = fopen(to, "w");

	if (!f || (size && fwrite(shadow, 1, size, f) != size) || fclose(f))
		fatal("writing the shadow to %s: %s", to, strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"ops", required_argument, NULL, 'n'},
		{"size", required_argument, NULL, 'S'},
		{"save-shadow", required_argument, NULL, 'o'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_sigbus};
	const char *shadow_out = NULL;
	bool have_seed = false;
	double t0, t;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:S:o:v", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 'n':
			nr_ops = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			max_size = parse_size(optarg);
			break;
		case 'o':
			shadow_out = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	path = argv[optind];
	if (!have_seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	rnd_seed(seed);
	page_size = sysconf(_SC_PAGESIZE);
	sigaction(SIGBUS, &sa, NULL);
	shadow = calloc(1, max_size + 1);
	buf = malloc(max_size + 4096);
	data = malloc(max_size + 8);
	if (!shadow || !buf || !data)
		fatal("out of memory for --size %" PRIu64, max_size);

	/* start empty: created, or cut to nothing (ftruncate, not O_TRUNC) */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		fatal("%s: %s", path, strerror(errno));
	if (ftruncate(fd, 0) < 0)
		fatal("%s: ftruncate: %s", path, strerror(errno));

	printf("sfs-exerciser: seed %" PRIu64 " ops %" PRIu64 " size %" PRIu64 " file %s\n", seed,
	       nr_ops, max_size, path);
	fflush(stdout);
	t0 = now();
	for (opno = 0; opno < nr_ops; opno++) {
		enum op_type op = pick_op();

		counts[op]++;
		t = now();
		switch (op) {
		case OP_WRITE:
			do_write();
			break;
		case OP_READ:
			do_read();
			break;
		case OP_TRUNCATE:
			do_truncate();
			break;
		case OP_PUNCH:
			do_punch();
			break;
		case OP_FALLOC:
			do_falloc();
			break;
		case OP_MAPREAD:
			do_map(false);
			break;
		case OP_MAPWRITE:
			do_map(true);
			break;
		case OP_COPY:
			do_copy();
			break;
		case OP_FSYNC:
			do_fsync();
			break;
		case OP_REOPEN:
			do_reopen();
			break;
		case NR_OPS:
			break;
		}
		op_time[op] += now() - t;
		if ((opno + 1) % VERIFY_EVERY == 0) {
			t = now();
			verify_all("the periodic whole-file compare");
			verify_time += now() - t;
		}
	}
	opno = nr_ops ? nr_ops - 1 : 0;
	logop("the final whole-file compare, after a reopen");
	reopen();
	check_size("the final reopen");
	verify_all("the final whole-file compare");
	if (fsync(fd) < 0)
		fail("the final fsync: %s", strerror(errno));
	close(fd);
	if (shadow_out)
		save_shadow(shadow_out);

	printf("sfs-exerciser: seed %" PRIu64 ": %" PRIu64 " ops verified in %.1f s (whole-file"
	       " compares %.1f s), final size %" PRIu64 "\n  ops (count, seconds):",
	       seed, nr_ops, now() - t0, verify_time, size);
	for (int i = 0; i < NR_OPS; i++)
		printf(" %s %" PRIu64 " %.1f%s", ops[i].name, counts[i], op_time[i],
		       ops[i].disabled ? " (unsupported)" : "");
	printf("\n");
	return 0;
}
