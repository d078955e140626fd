// SPDX-License-Identifier: GPL-2.0
/*
 * archive-helper: the parts of bench/archive-bench.sh that a shell does
 * too slowly.
 *
 *   archive-helper create DIR NFILES NDIRS
 *     NFILES empty files spread over NDIRS subdirectories (d0000...), one
 *     thread; prints the rate.
 *   archive-helper park FILE NTHREADS SECONDS
 *     NTHREADS threads each read one different 4 KiB page of FILE (no
 *     readahead), so each asks the daemon once and waits there; after
 *     SECONDS it prints how many are still waiting and exits (the waiting
 *     threads go with the process).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_create(const char *dir, long nfiles, long ndirs)
{
	char path[4096];
	double t0;
	long i;
	int fd;

	for (i = 0; i < ndirs; i++) {
		snprintf(path, sizeof(path), "%s/d%04ld", dir, i);
		if (mkdir(path, 0755) && errno != EEXIST) {
			perror(path);
			return 1;
		}
	}
	t0 = now();
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/d%04ld/f%07ld", dir, i % ndirs, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
		if ((i + 1) % 100000 == 0)
			fprintf(stderr, "  created %ld files\n", i + 1);
	}
	printf("%.0f\n", (double)nfiles / (now() - t0));
	return 0;
}

static const char *park_file;
static atomic_long done_reads;

static void *reader(void *arg)
{
	long page = (long)(intptr_t)arg;
	char buf[4096];
	int fd = open(park_file, O_RDONLY);

	if (fd < 0)
		return NULL;
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (pread(fd, buf, sizeof(buf), page * 4096L) >= 0)
		atomic_fetch_add(&done_reads, 1);
	close(fd);
	return NULL;
}

static int do_park(const char *file, long nthreads, long secs)
{
	pthread_attr_t attr;
	pthread_t t;
	long i;

	park_file = file;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&t, &attr, reader, (void *)(intptr_t)i)) {
			fprintf(stderr, "park: thread %ld: %s\n", i, strerror(errno));
			return 1;
		}
	}
	sleep((unsigned int)secs);
	printf("%ld\n", nthreads - atomic_load(&done_reads));
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "create"))
		return do_create(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "park"))
		return do_park(argv[2], atol(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: archive-helper create DIR NFILES NDIRS\n"
			"       archive-helper park FILE NTHREADS SECONDS\n");
	return 2;
}
