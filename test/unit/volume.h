/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TEST_VOLUME_H
#define SFS_TEST_VOLUME_H

/*
 * A volume made by scoutfs-mkfs ($SCOUTFS_MKFS) on sparse image files in
 * a new directory under /var/tmp, for unit tests that need a real one.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_volume {
	char dir[64];
	char meta[96];
	char data[96];
};

/* 0, or -1 (with a message) when SCOUTFS_MKFS is not set or mkfs fails */
static inline int test_volume_make(struct test_volume *tv, const char *tag, const char *meta_size,
				   const char *data_size)
{
	const char *mkfs = getenv("SCOUTFS_MKFS");
	char cmd[512];

	if (!mkfs) {
		fprintf(stderr, "SCOUTFS_MKFS is not set: run through meson test or test/run.sh\n");
		return -1;
	}
	snprintf(tv->dir, sizeof(tv->dir), "/var/tmp/sfs-test-%s.XXXXXX", tag);
	if (!mkdtemp(tv->dir))
		return -1;
	snprintf(tv->meta, sizeof(tv->meta), "%s/meta.img", tv->dir);
	snprintf(tv->data, sizeof(tv->data), "%s/data.img", tv->dir);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s %s %s && truncate -s %s %s && %s -A -Q 0,127.0.0.1,42000 %s %s >/dev/null 2>&1",
		 meta_size, tv->meta, data_size, tv->data, mkfs, tv->meta, tv->data);
	if (system(cmd) != 0) {
		fprintf(stderr, "mkfs of the test volume failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static inline void test_volume_remove(struct test_volume *tv)
{
	char cmd[128];

	if (!tv->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tv->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tv->dir);
	tv->dir[0] = '\0';
}

#endif
