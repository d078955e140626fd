// SPDX-License-Identifier: GPL-2.0
/*
 * scoutfs-example-agent: a small archive agent built on libscoutfs, to
 * show the cycle an agent runs and to test it.  Not a product: a real
 * agent copies to tape or object storage, keeps a catalogue, and runs on
 * every node.
 *
 *   scoutfs-example-agent archive MOUNT ARCHIVE-DIR
 *     Walk the data_seq index from the position saved in
 *     ARCHIVE-DIR/position (0 the first time) up to what is committed.
 *     Every regular file found with data online is copied to
 *     ARCHIVE-DIR/<ino>.<data_version> and released at that data_version
 *     (a file changed meanwhile fails with ESTALE: it is left online and
 *     comes back in a later walk at its new seq).  The position after the
 *     last entry is saved, so the next run starts there.
 *
 *   scoutfs-example-agent serve MOUNT ARCHIVE-DIR [SECONDS]
 *     For SECONDS (default: until killed), list the requests waiting for
 *     offline data and stage each file from its archive copy at its
 *     current data_version, or fail its waiters with EIO when there is no
 *     copy.
 *
 * Needs root: it names files by inode number.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "scoutfs/ctl.h"

static const char *prog = "scoutfs-example-agent";

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, scoutfs_strerror(err));
	return 1;
}

/* ------------------------------------------------------------------ */
/* archive                                                              */
/* ------------------------------------------------------------------ */

static int load_position(const char *dir, struct scoutfs_ctl_walk_pos *pos)
{
	char path[PATH_MAX];
	unsigned long long major = 0, ino = 0;
	FILE *f;

	memset(pos, 0, sizeof(*pos));
	snprintf(path, sizeof(path), "%s/position", dir);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fscanf(f, "%llu.%llu", &major, &ino) != 2) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	pos->major = major;
	pos->ino = ino;
	return 0;
}

/* written to a temporary file and renamed: a crash leaves the old one */
static int save_position(const char *dir, const struct scoutfs_ctl_walk_pos *pos)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/position", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%" PRIu64 ".%" PRIu64 "\n", pos->major, pos->ino);
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		return -errno;
	}
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

/* copy every byte of fd to path (made anew), then fsync it */
static int copy_out(int fd, const char *path)
{
	static char buf[1 << 20];
	ssize_t n, w, off;
	int out;
	int ret = 0;

	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += w) {
			w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				ret = -errno;
				goto out;
			}
		}
	}
	if (n < 0)
		ret = -errno;
	else if (fsync(out))
		ret = -errno;
out:
	close(out);
	if (ret)
		unlink(path);
	return ret;
}

/* archive and release one inode; 1 if it was, 0 if there was nothing to do */
static int archive_one(struct scoutfs_ctl *ctl, const char *mnt, const char *dir, uint64_t ino)
{
	struct scoutfs_ctl_stat_more stm;
	char rel[PATH_MAX], path[PATH_MAX * 2], copy[PATH_MAX];
	uint64_t dino = 0, dpos = 0;
	struct stat sb;
	int fd;
	int ret;

	ret = scoutfs_ino_path(ctl, ino, &dino, &dpos, rel, sizeof(rel));
	if (ret == -ENOENT)
		return 0;	/* unlinked since */
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", mnt, rel);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_ino != ino) {
		close(fd);
		return 0;	/* not a file, or renamed over meanwhile */
	}
	ret = scoutfs_stat_more(ctl, SCOUTFS_FILE_INO(ino), &stm);
	if (ret || stm.online_blocks == 0 || sb.st_size == 0) {
		close(fd);
		return ret;
	}
	snprintf(copy, sizeof(copy), "%s/%" PRIu64 ".%" PRIu64, dir, ino, stm.data_version);
	ret = copy_out(fd, copy);
	close(fd);
	if (ret)
		return ret;
	ret = scoutfs_release(ctl, SCOUTFS_FILE_INO(ino), 0,
			      ((uint64_t)sb.st_size + 4095) & ~4095ULL, stm.data_version);
	if (ret == -ESTALE) {
		/* written while we copied: it shows up again at its new seq */
		unlink(copy);
		return 0;
	}
	return ret ? ret : 1;
}

static int cmd_archive(const char *mnt, const char *dir)
{
	struct scoutfs_ctl_walk_entry ents[128];
	struct scoutfs_ctl_walk_pos pos, last = { UINT64_MAX, UINT32_MAX, UINT64_MAX };
	struct scoutfs_ctl *ctl;
	unsigned long archived = 0, seen = 0;
	int n, i;
	int ret;

	ret = load_position(dir, &pos);
	if (ret)
		return fail("the saved position", ret);
	ret = scoutfs_ctl_open(mnt, &ctl);
	if (ret)
		return fail(mnt, ret);
	while ((n = scoutfs_walk_inodes(ctl, SCOUTFS_CTL_WALK_DATA_SEQ, &pos, &last, ents, 128)) >
	       0) {
		for (i = 0; i < n; i++) {
			seen++;
			ret = archive_one(ctl, mnt, dir, ents[i].ino);
			if (ret < 0) {
				fprintf(stderr, "%s: inode %" PRIu64 ": %s\n", prog, ents[i].ino,
					scoutfs_strerror(ret));
				scoutfs_ctl_close(ctl);
				return 1;
			}
			archived += (unsigned long)ret;
		}
		/* pos is past what we did: a crash from here on redoes nothing */
		ret = save_position(dir, &pos);
		if (ret) {
			scoutfs_ctl_close(ctl);
			return fail("saving the position", ret);
		}
	}
	scoutfs_ctl_close(ctl);
	if (n < 0)
		return fail("walk-inodes", n);
	printf("archived %lu of %lu files, position %" PRIu64 ".%" PRIu64 "\n", archived, seen,
	       pos.major, pos.ino);
	return 0;
}

/* ------------------------------------------------------------------ */
/* serve                                                                */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* stage ino from its archive copy, or fail its waiters */
static int stage_one(struct scoutfs_ctl *ctl, const char *dir, uint64_t ino)
{
	struct scoutfs_ctl_stat_more stm;
	struct scoutfs_ctl_attr_x ax = { .x_mask = SCOUTFS_ATTR_X_SIZE };
	char copy[PATH_MAX];
	int64_t staged;
	int src;
	int ret;

	ret = scoutfs_stat_more(ctl, SCOUTFS_FILE_INO(ino), &stm);
	if (!ret)
		ret = scoutfs_get_attr_x(ctl, SCOUTFS_FILE_INO(ino), &ax);
	if (ret)
		return ret;
	snprintf(copy, sizeof(copy), "%s/%" PRIu64 ".%" PRIu64, dir, ino, stm.data_version);
	src = open(copy, O_RDONLY);
	if (src < 0) {
		fprintf(stderr, "%s: inode %" PRIu64 ": no archive copy at data_version %" PRIu64
			": failing its readers\n", prog, ino, stm.data_version);
		ret = scoutfs_data_wait_err(ctl, ino, 0, UINT64_MAX >> 1,
					    SCOUTFS_CTL_WAIT_READ | SCOUTFS_CTL_WAIT_WRITE |
					    SCOUTFS_CTL_WAIT_CHANGE_SIZE, EIO);
		return ret < 0 ? ret : 0;
	}
	staged = scoutfs_stage(ctl, SCOUTFS_FILE_INO(ino), stm.data_version, 0, ax.size, src, 0);
	close(src);
	if (staged == -ESTALE)
		return 0;	/* changed meanwhile: its new waiters come next round */
	return staged < 0 ? (int)staged : 0;
}

static int cmd_serve(const char *mnt, const char *dir, long secs)
{
	struct scoutfs_ctl_waiting ents[64];
	struct scoutfs_ctl *ctl;
	time_t end = secs > 0 ? time(NULL) + secs : 0;
	uint64_t ino, blk, last_ino;
	unsigned long staged = 0;
	int n, i;
	int ret;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ret = scoutfs_ctl_open(mnt, &ctl);
	if (ret)
		return fail(mnt, ret);
	while (!stopping && (!end || time(NULL) < end)) {
		ino = 0;
		blk = 0;
		last_ino = 0;
		while ((n = scoutfs_data_waiting(ctl, &ino, &blk, ents, 64)) > 0) {
			for (i = 0; i < n; i++) {
				/* one stage per file, however many waiters it has */
				if (ents[i].ino == last_ino)
					continue;
				last_ino = ents[i].ino;
				ret = stage_one(ctl, dir, ents[i].ino);
				if (ret) {
					fprintf(stderr, "%s: staging inode %" PRIu64 ": %s\n", prog,
						ents[i].ino, scoutfs_strerror(ret));
					continue;
				}
				staged++;
			}
		}
		if (n < 0) {
			scoutfs_ctl_close(ctl);
			return fail("data-waiting", n);
		}
		usleep(20000);
	}
	scoutfs_ctl_close(ctl);
	printf("staged %lu files\n", staged);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "archive") && argc == 4)
		return cmd_archive(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "serve") && argc <= 5)
		return cmd_serve(argv[2], argv[3], argc == 5 ? strtol(argv[4], NULL, 0) : 0);
	fprintf(stderr, "usage: %s archive MOUNT ARCHIVE-DIR\n"
			"       %s serve MOUNT ARCHIVE-DIR [SECONDS]\n", prog, prog);
	return 2;
}
