// SPDX-License-Identifier: GPL-2.0
/*
 * cluster-helper: the timed parts of bench/cluster-bench.sh, one thread each.
 *
 *   cluster-helper pingpong FILE_A FILE_B ROUNDS fsync|nofsync
 *	FILE_A and FILE_B are one file seen through two mounts.  Round i
 *	pwrite()s one byte at offset 0 through A when i is even, through B
 *	when odd, and times that pwrite: each needs the WRITE lock the other
 *	mount holds, so each is a lock transfer.  fsync: every write is
 *	followed by an fsync on its own mount, untimed, so the lock the
 *	other side takes next was not written in its open transaction
 *	(its revoke has nothing to commit); nofsync: it was (the revoke
 *	commits).
 *   cluster-helper local FILE ROUNDS
 *	pwrite() of one byte, again and again on one mount: no transfer.
 *   cluster-helper commit FILE ROUNDS
 *	pwrite() of one byte, then a timed fsync(): a commit of one change.
 *   cluster-helper create DIR N
 *	open(O_CREAT|O_EXCL)+close of N empty files DIR/fNNNNNNN.
 *
 * The latency modes print "n N median_us M p90_us P mean_us A min_us L
 * max_us H" over the rounds after the first WARMUP (pingpong then the
 * same for the writes through A alone, "A: n ...", and through B alone,
 * "B: n ..."); create prints "N
 * START END" (CLOCK_MONOTONIC seconds, comparable between processes).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 4

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "cluster-helper: %s %s: %s\n", what, name, strerror(errno));
	exit(1);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the summary of v[WARMUP..n) in microseconds */
static void report(double *v, long n)
{
	double sum = 0;
	long i, m;

	if (n <= WARMUP) {
		fprintf(stderr, "cluster-helper: too few rounds\n");
		exit(2);
	}
	v += WARMUP;
	m = n - WARMUP;
	qsort(v, (size_t)m, sizeof(*v), cmp_dbl);
	for (i = 0; i < m; i++)
		sum += v[i];
	printf("n %ld median_us %.0f p90_us %.0f mean_us %.0f min_us %.0f max_us %.0f\n", m,
	       v[m / 2] * 1e6, v[(m * 9) / 10] * 1e6, sum / (double)m * 1e6, v[0] * 1e6,
	       v[m - 1] * 1e6);
}

static void write_byte(int fd, long i, const char *name)
{
	char b = (char)('a' + i % 26);

	if (pwrite(fd, &b, 1, 0) != 1)
		die("pwrite", name);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	double *lat, t;
	long rounds, i;

	if (!strcmp(mode, "pingpong") && argc == 6) {
		int fd[2], sync_after = !strcmp(argv[5], "fsync");
		double *half[2];

		rounds = atol(argv[4]);
		lat = calloc((size_t)rounds + 1, sizeof(*lat));
		for (i = 0; i < 2; i++) {
			fd[i] = open(argv[2 + i], O_RDWR);
			if (fd[i] < 0)
				die("open", argv[2 + i]);
		}
		for (i = 0; i < rounds; i++) {
			int s = (int)(i % 2);

			t = now();
			write_byte(fd[s], i, argv[2 + s]);
			lat[i] = now() - t;
			if (sync_after && fsync(fd[s]))
				die("fsync", argv[2 + s]);
		}
		/* all, then each direction alone: writes through A (B's lock comes down), through B */
		half[0] = calloc((size_t)rounds / 2 + 1, sizeof(*lat));
		half[1] = calloc((size_t)rounds / 2 + 1, sizeof(*lat));
		for (i = 0; i < rounds; i++)
			half[i % 2][i / 2] = lat[i];
		report(lat, rounds);
		printf("A: ");
		report(half[0], (rounds + 1) / 2);
		printf("B: ");
		report(half[1], rounds / 2);
		return 0;
	}
	if ((!strcmp(mode, "local") || !strcmp(mode, "commit")) && argc == 4) {
		int fd = open(argv[2], O_RDWR), commit = !strcmp(mode, "commit");

		if (fd < 0)
			die("open", argv[2]);
		rounds = atol(argv[3]);
		lat = calloc((size_t)rounds + 1, sizeof(*lat));
		for (i = 0; i < rounds; i++) {
			t = now();
			write_byte(fd, i, argv[2]);
			if (commit) {
				t = now();
				if (fsync(fd))
					die("fsync", argv[2]);
			}
			lat[i] = now() - t;
		}
		report(lat, rounds);
		return 0;
	}
	if (!strcmp(mode, "create") && argc == 4) {
		long n = atol(argv[3]);
		char name[64];
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
		double t0;

		if (dfd < 0)
			die("open", argv[2]);
		t0 = now();
		for (i = 0; i < n; i++) {
			int fd;

			snprintf(name, sizeof(name), "f%07ld", i);
			fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0 || close(fd))
				die("create", name);
		}
		printf("%ld %.6f %.6f\n", n, t0, now());
		return 0;
	}
	fprintf(stderr, "usage: cluster-helper pingpong FILE_A FILE_B ROUNDS fsync|nofsync\n"
			"       cluster-helper local|commit FILE ROUNDS\n"
			"       cluster-helper create DIR N\n");
	return 2;
}
