// SPDX-License-Identifier: GPL-2.0
/*
 * Super blocks.
 *
 * Both devices carry a super at SM blkno 16.  mkfs writes them identical
 * but for the IS_META_BDEV flag; afterwards only the meta super is ever
 * rewritten, so the data super is read only to identify its device.
 * Everything a mount uses (roots, allocators, quorum config, options)
 * comes from the meta super.
 *
 * The checks are the reader's side of format-spec.md 5.5, plus the two
 * the reference skips: mismatched format versions are refused (the
 * reference falls through by accident) and so are mismatched fsids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "log.h"
#include "super.h"

#define FAIL(fmt, ...)                                      \
	do {                                                \
		snprintf(why, why_len, fmt, ##__VA_ARGS__); \
		return -EINVAL;                             \
	} while (0)

/* what makes a block a super block of a format we read */
static int check_block(const struct scoutfs_super_block *super, char *why, size_t why_len)
{
	uint32_t crc;
	uint64_t vers;

	if (le32toh(super->hdr.magic) != SCOUTFS_BLOCK_MAGIC_SUPER)
		FAIL("no scoutfs super block (magic 0x%08x, expected 0x%08x)",
		     le32toh(super->hdr.magic), SCOUTFS_BLOCK_MAGIC_SUPER);
	crc = sfs_block_crc(super, SCOUTFS_BLOCK_SM_SIZE);
	if (le32toh(super->hdr.crc) != crc)
		FAIL("super block crc 0x%08x does not match its contents (0x%08x)",
		     le32toh(super->hdr.crc), crc);
	if (le64toh(super->hdr.blkno) != SCOUTFS_SUPER_BLKNO)
		FAIL("super block claims blkno %llu, expected %llu",
		     (unsigned long long)le64toh(super->hdr.blkno), SCOUTFS_SUPER_BLKNO);
	vers = le64toh(super->fmt_vers);
	if (vers < SCOUTFS_FORMAT_VERSION_MIN || vers > SCOUTFS_FORMAT_VERSION_MAX)
		FAIL("format version %llu is outside the supported range %u-%u",
		     (unsigned long long)vers, SCOUTFS_FORMAT_VERSION_MIN,
		     SCOUTFS_FORMAT_VERSION_MAX);
	return 0;
}

/* both block totals must fit the devices, checked for each super */
static int check_sizes(const struct scoutfs_super_block *super, uint64_t meta_bytes,
		       uint64_t data_bytes, char *why, size_t why_len)
{
	if (le64toh(super->total_meta_blocks) > (meta_bytes >> SCOUTFS_BLOCK_LG_SHIFT))
		FAIL("super counts %llu metadata blocks but the meta device holds %llu",
		     (unsigned long long)le64toh(super->total_meta_blocks),
		     (unsigned long long)(meta_bytes >> SCOUTFS_BLOCK_LG_SHIFT));
	if (le64toh(super->total_data_blocks) > (data_bytes >> SCOUTFS_BLOCK_SM_SHIFT))
		FAIL("super counts %llu data blocks but the data device holds %llu",
		     (unsigned long long)le64toh(super->total_data_blocks),
		     (unsigned long long)(data_bytes >> SCOUTFS_BLOCK_SM_SHIFT));
	return 0;
}

int sfs_super_check(const void *blk, uint64_t meta_bytes, uint64_t data_bytes, char *why,
		    size_t why_len)
{
	return check_block(blk, why, why_len) ?:
	       check_sizes(blk, meta_bytes, data_bytes, why, why_len);
}

/*
 * Identity before sizes: swapped or mismatched devices usually also fail
 * the size checks, and naming the swap is the more useful answer.
 */
int sfs_super_check_pair(const void *meta_blk, const void *data_blk, uint64_t meta_bytes,
			 uint64_t data_bytes, char *why, size_t why_len)
{
	const struct scoutfs_super_block *meta = meta_blk;
	const struct scoutfs_super_block *data = data_blk;
	char sub[200];

	if (check_block(meta, sub, sizeof(sub)))
		FAIL("meta device: %s", sub);
	if (check_block(data, sub, sizeof(sub)))
		FAIL("data device: %s", sub);

	if (!(le64toh(meta->flags) & SCOUTFS_FLAG_IS_META_BDEV)) {
		if (le64toh(data->flags) & SCOUTFS_FLAG_IS_META_BDEV)
			FAIL("the meta and data devices are swapped");
		FAIL("the meta device holds a data device super (two data devices?)");
	}
	if (le64toh(data->flags) & SCOUTFS_FLAG_IS_META_BDEV)
		FAIL("the data device holds a meta device super (two meta devices?)");
	if (memcmp(meta->uuid, data->uuid, SCOUTFS_UUID_BYTES) != 0)
		FAIL("the meta and data devices belong to different volumes (uuids differ)");
	if (meta->fmt_vers != data->fmt_vers)
		FAIL("the meta device has format version %llu but the data device %llu",
		     (unsigned long long)le64toh(meta->fmt_vers),
		     (unsigned long long)le64toh(data->fmt_vers));
	if (meta->hdr.fsid != data->hdr.fsid)
		FAIL("the meta and data devices belong to different volumes (fsids differ)");

	if (check_sizes(meta, meta_bytes, data_bytes, sub, sizeof(sub)))
		FAIL("meta device: %s", sub);
	if (check_sizes(data, meta_bytes, data_bytes, sub, sizeof(sub)))
		FAIL("data device: %s", sub);
	return 0;
}

int sfs_super_read(struct sfs_fs *fs, struct scoutfs_super_block *super)
{
	void *meta = NULL;
	void *data = NULL;
	char why[256];
	int ret;

	meta = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	data = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!meta || !data) {
		ret = -ENOMEM;
		goto out;
	}

	ret = sfs_block_read_sm(fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO, SCOUTFS_BLOCK_MAGIC_SUPER,
				meta);
	if (ret) {
		sfs_err(fs, "meta device: cannot read a scoutfs super block: %s", strerror(-ret));
		goto out;
	}
	ret = sfs_block_read_sm(fs, SFS_DEV_DATA, SCOUTFS_SUPER_BLKNO, SCOUTFS_BLOCK_MAGIC_SUPER,
				data);
	if (ret) {
		sfs_err(fs, "data device: cannot read a scoutfs super block: %s", strerror(-ret));
		goto out;
	}

	ret = sfs_super_check_pair(meta, data, sfs_block_dev_size(fs, SFS_DEV_META),
				   sfs_block_dev_size(fs, SFS_DEV_DATA), why, sizeof(why));
	if (ret) {
		sfs_err(fs, "%s", why);
		goto out;
	}

	memcpy(super, meta, sizeof(*super));
	fs->fsid = le64toh(super->hdr.fsid);
	sfs_block_set_fsid(fs, fs->fsid);
out:
	free(meta);
	free(data);
	return ret;
}
