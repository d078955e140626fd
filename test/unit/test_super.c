// SPDX-License-Identifier: GPL-2.0
/*
 * Super block checks (format-spec.md 5.5) on the vector supers:
 * conformance 9 and 28, plus the refusals we add (format version and fsid
 * mismatches) and corrupt supers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "block.h"
#include "log.h"
#include "super.h"
#include "vectors.h"

#define GIB (1ULL << 30)

static void *vec(const char *name)
{
	return load_vector(name, SCOUTFS_BLOCK_SM_SIZE);
}

static void fix_crc(void *blk)
{
	struct scoutfs_block_header *hdr = blk;

	hdr->crc = htole32(sfs_block_crc(blk, SCOUTFS_BLOCK_SM_SIZE));
}

static void assert_refused(const void *m, const void *d, uint64_t mb, uint64_t db,
			   const char *expect)
{
	char why[256];

	assert_int_equal(sfs_super_check_pair(m, d, mb, db, why, sizeof(why)), -EINVAL);
	if (!strstr(why, expect))
		fail_msg("reason '%s' does not mention '%s'", why, expect);
}

static void assert_accepted(const void *m, const void *d, uint64_t mb, uint64_t db)
{
	char why[256];

	if (sfs_super_check_pair(m, d, mb, db, why, sizeof(why)))
		fail_msg("refused: %s", why);
}

/* conformance 9 */
static void test_v2_pair(void **state)
{
	unsigned char *m = vec("v2/meta-super.bin");
	unsigned char *d = vec("v2/data-super.bin");
	(void)state;

	assert_accepted(m, d, 1 * GIB, 2 * GIB);
	assert_accepted(m, d, 3 * GIB, 5 * GIB); /* larger devices are fine */
	assert_refused(m, d, 1 * GIB - 65536, 2 * GIB, "metadata blocks");
	assert_refused(m, d, 1 * GIB, 2 * GIB - 4096, "data blocks");
	assert_refused(d, m, 1 * GIB, 2 * GIB, "swapped");
	assert_refused(m, m, 1 * GIB, 2 * GIB, "two meta");
	assert_refused(d, d, 1 * GIB, 2 * GIB, "two data");

	d[56] ^= 0xff;
	fix_crc(d);
	assert_refused(m, d, 1 * GIB, 2 * GIB, "uuid");
	free(m);
	free(d);
}

/* conformance 28 */
static void test_v1_pair(void **state)
{
	unsigned char *m1 = vec("v1/meta-super.bin");
	unsigned char *d1 = vec("v1/data-super.bin");
	unsigned char *d2 = vec("v2/data-super.bin");
	(void)state;

	assert_accepted(m1, d1, 1 * GIB, 2 * GIB);
	assert_refused(m1, d2, 1 * GIB, 2 * GIB, "uuid");
	free(m1);
	free(d1);
	free(d2);
}

/* refusals the reference lets through */
static void test_version_and_fsid_mismatch(void **state)
{
	unsigned char *m = vec("v2/meta-super.bin");
	unsigned char *d = vec("v2/data-super.bin");
	struct scoutfs_super_block *ds = (void *)d;
	(void)state;

	ds->fmt_vers = htole64(1);
	fix_crc(d);
	assert_refused(m, d, 1 * GIB, 2 * GIB, "format version");

	ds->fmt_vers = htole64(2);
	ds->hdr.fsid = htole64(le64toh(ds->hdr.fsid) + 1);
	fix_crc(d);
	assert_refused(m, d, 1 * GIB, 2 * GIB, "fsid");
	free(m);
	free(d);
}

static void test_corrupt_supers(void **state)
{
	unsigned char *m = vec("v2/meta-super.bin");
	unsigned char *d = vec("v2/data-super.bin");
	struct scoutfs_super_block *ms = (void *)m;
	char why[256];
	(void)state;

	m[4000] ^= 1; /* padding is covered by the crc */
	assert_refused(m, d, 1 * GIB, 2 * GIB, "crc");
	m[4000] ^= 1;

	ms->hdr.magic = htole32(SCOUTFS_BLOCK_MAGIC_BTREE);
	fix_crc(m);
	assert_refused(m, d, 1 * GIB, 2 * GIB, "magic");
	ms->hdr.magic = htole32(SCOUTFS_BLOCK_MAGIC_SUPER);

	ms->hdr.blkno = htole64(17);
	fix_crc(m);
	assert_refused(m, d, 1 * GIB, 2 * GIB, "blkno");
	ms->hdr.blkno = htole64(16);

	ms->fmt_vers = htole64(3);
	fix_crc(m);
	assert_refused(m, d, 1 * GIB, 2 * GIB, "format version 3");
	ms->fmt_vers = htole64(0);
	fix_crc(m);
	assert_int_equal(sfs_super_check(m, 1 * GIB, 2 * GIB, why, sizeof(why)), -EINVAL);

	/* an all-zero block is simply not a scoutfs super */
	memset(m, 0, SCOUTFS_BLOCK_SM_SIZE);
	assert_int_equal(sfs_super_check(m, 1 * GIB, 2 * GIB, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no scoutfs super"));
	free(m);
	free(d);
}

/* a sparse image of @size bytes holding @super at SM blkno 16 */
static void make_image(char *path, const char *super_vec, uint64_t size)
{
	void *blk = vec(super_vec);
	int fd;

	strcpy(path, "/var/tmp/sfs-test-super.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(pwrite(fd, blk, SCOUTFS_BLOCK_SM_SIZE, 65536), SCOUTFS_BLOCK_SM_SIZE);
	close(fd);
	free(blk);
}

static char last_log[1024];

static void capture(void *arg, int prio, const char *line)
{
	(void)arg;
	(void)prio;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static int read_pair(const char *meta, const char *data, struct scoutfs_super_block *super)
{
	struct sfs_block_opts opts = { .meta_path = meta, .data_path = data, .read_only = true };
	struct sfs_fs fs = { 0 };
	int ret;

	sfs_fs_log_init(&fs, "test");
	fs.log_fn = capture;
	last_log[0] = '\0';
	ret = sfs_block_setup(&fs, &opts);
	assert_int_equal(ret, 0);
	ret = sfs_super_read(&fs, super);
	if (ret == 0)
		assert_true(fs.fsid == le64toh(super->hdr.fsid));
	sfs_block_destroy(&fs);
	return ret;
}

static char img_meta[64], img_data[64], img_small[64];

static int make_images(void **state)
{
	(void)state;
	make_image(img_meta, "v2/meta-super.bin", 1 * GIB);
	make_image(img_data, "v2/data-super.bin", 2 * GIB);
	make_image(img_small, "v2/data-super.bin", 2 * GIB - 4096);
	return 0;
}

/* runs even when the test's assertions fail */
static int remove_images(void **state)
{
	(void)state;
	unlink(img_meta);
	unlink(img_data);
	unlink(img_small);
	return 0;
}

/* the same checks on real devices, through the block layer */
static void test_super_read(void **state)
{
	struct scoutfs_super_block super;
	(void)state;

	assert_int_equal(read_pair(img_meta, img_data, &super), 0);
	assert_int_equal(le64toh(super.total_meta_blocks), 16384);
	assert_true(le64toh(super.flags) & SCOUTFS_FLAG_IS_META_BDEV);

	assert_int_equal(read_pair(img_data, img_meta, &super), -EINVAL);
	assert_non_null(strstr(last_log, "swapped"));
	assert_int_equal(read_pair(img_meta, img_small, &super), -EINVAL);
	assert_non_null(strstr(last_log, "data blocks"));
	/* a device without a super at all */
	assert_int_equal(truncate(img_data, 0), 0);
	assert_int_equal(truncate(img_data, (off_t)(2 * GIB)), 0);
	assert_int_not_equal(read_pair(img_meta, img_data, &super), 0);
	assert_non_null(strstr(last_log, "data device"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_pair),
		cmocka_unit_test(test_v1_pair),
		cmocka_unit_test(test_version_and_fsid_mismatch),
		cmocka_unit_test(test_corrupt_supers),
		cmocka_unit_test_setup_teardown(test_super_read, make_images, remove_images),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
