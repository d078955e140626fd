// SPDX-License-Identifier: GPL-2.0
/*
 * scoutfs-mkfs / scoutfs mkfs: write a new volume on two devices.
 *
 * The layout is exactly the reference mkfs's (format-spec.md section 14),
 * so that the reference tools and kernel module read what we write:
 *
 *   LG 2      fs_root leaf: root inode's META_SEQ index item, root inode
 *   LG 3      server_meta_avail[0] list block holding LG 4..1027
 *   LG 1028   data_alloc leaf: one free extent [64, last data block]
 *   LG 1029   meta_alloc[0] leaf: the first half of [1031, last meta block]
 *   LG 1030   meta_alloc[1] leaf: the second half
 *   SM 17..31 quorum blocks, empty
 *   SM 16     the super, on the data device then on the meta device
 *
 * Invariants:
 *  1. Every check happens before the first write: a refused mkfs leaves
 *     both devices exactly as they were.
 *  2. The supers are written last, data first, each followed by a flush,
 *     and the meta device is flushed before the supers, so a crash at any
 *     point leaves either the old contents' super or a complete volume.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <uuid/uuid.h>
#include <blkid/blkid.h>

#include "block.h"
#include "btree.h"
#include "cmd.h"
#include "log.h"
#include "quorum.h"
#include "text.h"
#include "super.h"

#define MIN_DEVICE_BYTES (64ULL << 30)
/* the fixed layout: LG blocks up to 1030 plus one extent in each meta_alloc */
#define MIN_META_BLOCKS 1033ULL
#define MIN_DATA_BLOCKS (SCOUTFS_DATA_DEV_START_BLKNO + 1)
#define SERVER_LIST_BLOCKS ((64ULL << 20) >> SCOUTFS_BLOCK_LG_SHIFT)
#define DATA_FILL_TARGET ((4ULL << 30) >> SCOUTFS_BLOCK_SM_SHIFT)

struct mkfs_args {
	const char *meta_path;
	const char *data_path;
	uint64_t max_meta_size;
	uint64_t max_data_size;
	uint64_t zone_blocks;
	uint64_t fmt_vers;
	bool force;
	bool allow_small;
	int nr_slots;
	struct scoutfs_quorum_config qconf;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: scoutfs mkfs [OPTIONS] META-DEVICE DATA-DEVICE\n"
		"Initialize a new scoutfs volume on a metadata and a data device.\n\n"
		"  -Q, --quorum-slot=NR,ADDR,PORT  a quorum slot (0-14); at least one is required\n"
		"  -m, --max-meta-size=SIZE        use at most SIZE bytes of the meta device (KMGTP)\n"
		"  -d, --max-data-size=SIZE        use at most SIZE bytes of the data device (KMGTP)\n"
		"  -z, --data-alloc-zone-blocks=N  divide the data device into zones of N 4KB blocks\n"
		"  -f, --force                     overwrite existing filesystem signatures\n"
		"  -A, --allow-small-size          allow devices smaller than 64 GiB (still warns)\n"
		"  -V, --format-version=VERS       format version %s-%s (default %s)\n"
		"  -h, --help                      show this help\n",
		SCOUTFS_FORMAT_VERSION_MIN_STR, SCOUTFS_FORMAT_VERSION_MAX_STR,
		SCOUTFS_FORMAT_VERSION_MAX_STR);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "scoutfs mkfs: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'scoutfs mkfs --help')\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct mkfs_args *args)
{
	static const struct option opts[] = {
		{ "quorum-slot", required_argument, NULL, 'Q' },
		{ "max-meta-size", required_argument, NULL, 'm' },
		{ "max-data-size", required_argument, NULL, 'd' },
		{ "data-alloc-zone-blocks", required_argument, NULL, 'z' },
		{ "force", no_argument, NULL, 'f' },
		{ "allow-small-size", no_argument, NULL, 'A' },
		{ "format-version", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	union scoutfs_inet_addr addr;
	uint64_t prev;
	char why[256];
	int nr;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":Q:m:d:z:fAV:h", opts, NULL)) != -1) {
		switch (c) {
		case 'Q':
			if (sfs_quorum_slot_parse(optarg, &nr, &addr, why, sizeof(why)))
				return usage_error("%s", why);
			if (sfs_quorum_slot_present(&args->qconf.slots[nr])) {
				snprintf(why, sizeof(why), "quorum slot %d is given more than once",
					 nr);
				return usage_error("%s", why);
			}
			args->qconf.slots[nr].addr = addr;
			args->nr_slots++;
			break;
		case 'm':
		case 'd':
			if (sfs_parse_size(optarg, c == 'm' ? &args->max_meta_size :
							      &args->max_data_size) ||
			    (c == 'm' ? args->max_meta_size : args->max_data_size) == 0)
				return usage_error("invalid size '%s' (bytes with an optional K, M, G, T or P suffix)",
						   optarg);
			if (c == 'm') {
				prev = args->max_meta_size;
				args->max_meta_size &= ~((uint64_t)SCOUTFS_BLOCK_LG_SIZE - 1);
				if (prev != args->max_meta_size)
					fprintf(stderr, "Meta dev size %llu rounded down to %llu bytes\n",
						(unsigned long long)prev,
						(unsigned long long)args->max_meta_size);
			} else {
				prev = args->max_data_size;
				args->max_data_size &= ~((uint64_t)SCOUTFS_BLOCK_SM_SIZE - 1);
				if (prev != args->max_data_size)
					fprintf(stderr, "Data dev size %llu rounded down to %llu bytes\n",
						(unsigned long long)prev,
						(unsigned long long)args->max_data_size);
			}
			break;
		case 'z':
			if (sfs_parse_u64(optarg, &args->zone_blocks) || args->zone_blocks == 0)
				return usage_error("invalid data-alloc-zone-blocks '%s': must be a non-zero number of 4KB blocks",
						   optarg);
			break;
		case 'f':
			args->force = true;
			break;
		case 'A':
			args->allow_small = true;
			break;
		case 'V':
			if (sfs_parse_u64(optarg, &args->fmt_vers) ||
			    args->fmt_vers < SCOUTFS_FORMAT_VERSION_MIN ||
			    args->fmt_vers > SCOUTFS_FORMAT_VERSION_MAX)
				return usage_error("format version '%s' is outside the supported range of "
						   SCOUTFS_FORMAT_VERSION_MIN_STR "-"
						   SCOUTFS_FORMAT_VERSION_MAX_STR, optarg);
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			snprintf(why, sizeof(why), "option '%s' needs an argument", argv[optind - 1]);
			return usage_error("%s", why);
		default:
			snprintf(why, sizeof(why), "unknown option '%s'", argv[optind - 1]);
			return usage_error("%s", why);
		}
	}

	if (optind < argc)
		args->meta_path = argv[optind++];
	if (optind < argc)
		args->data_path = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument '%s': give exactly a meta and a data device",
				   argv[optind]);
	if (!args->meta_path)
		return usage_error("%s", "no metadata device argument given");
	if (!args->data_path)
		return usage_error("%s", "no data device argument given");
	if (args->nr_slots == 0)
		return usage_error("%s", "must specify at least one quorum slot with --quorum-slot|-Q");
	if (sfs_quorum_config_check(&args->qconf, why, sizeof(why)))
		return usage_error("%s", why);
	return 0;
}

/* the device must be a regular file or a block device, and the two distinct */
static int check_paths(const struct mkfs_args *args)
{
	struct stat st[2];
	const char *paths[2] = { args->meta_path, args->data_path };
	const char *names[2] = { "meta", "data" };
	int i;

	for (i = 0; i < 2; i++) {
		if (stat(paths[i], &st[i])) {
			fprintf(stderr, "scoutfs mkfs: %s device '%s': %s\n", names[i], paths[i],
				strerror(errno));
			return -errno;
		}
		if (!S_ISREG(st[i].st_mode) && !S_ISBLK(st[i].st_mode)) {
			fprintf(stderr, "scoutfs mkfs: %s device '%s' is not a block device or a regular file\n",
				names[i], paths[i]);
			return -ENOTBLK;
		}
	}
	if ((S_ISBLK(st[0].st_mode) && S_ISBLK(st[1].st_mode) && st[0].st_rdev == st[1].st_rdev) ||
	    (st[0].st_dev == st[1].st_dev && st[0].st_ino == st[1].st_ino)) {
		fprintf(stderr, "scoutfs mkfs: the meta and data devices are the same ('%s' and '%s')\n",
			args->meta_path, args->data_path);
		return -EINVAL;
	}
	return 0;
}

/*
 * "2.00 GiB" for messages; the summary uses the reference's "2.00 GB"
 * (powers of 1024 either way).
 */
static const char *size_text(uint64_t bytes, bool iec, char *buf, size_t len)
{
	static const char *const units[] = { "B", "K", "M", "G", "T", "P", "E" };
	double x = (double)bytes;
	int i = 0;

	while (x >= 1024 && i < 6) {
		x /= 1024;
		i++;
	}
	snprintf(buf, len, "%.2f %s%s", x, units[i], i == 0 ? "" : iec ? "iB" : "B");
	return buf;
}

static const char *human(uint64_t bytes, char *buf, size_t len)
{
	return size_text(bytes, true, buf, len);
}

/*
 * The usable size of a device: its size, capped by -m/-d, at least the
 * 64 GiB minimum unless -A (then a warning), and always big enough for
 * the fixed layout.
 */
static int device_size(struct sfs_fs *fs, enum sfs_dev dev, const char *path, const char *name,
		       uint64_t max, bool allow_small, uint64_t min_layout, uint64_t *size_ret)
{
	uint64_t size = sfs_block_dev_size(fs, dev);
	char h1[32], h2[32];

	if (max) {
		if (max > size) {
			fprintf(stderr, "scoutfs mkfs: %s device '%s' is %llu bytes (%s), smaller than the requested maximum size %llu bytes (%s)\n",
				name, path, (unsigned long long)size, human(size, h1, sizeof(h1)),
				(unsigned long long)max, human(max, h2, sizeof(h2)));
			return -EINVAL;
		}
		size = max;
	}
	if (size < min_layout) {
		fprintf(stderr, "scoutfs mkfs: %s device '%s' is %llu bytes (%s), too small for a volume: at least %llu bytes (%s) are needed\n",
			name, path, (unsigned long long)size, human(size, h1, sizeof(h1)),
			(unsigned long long)min_layout, human(min_layout, h2, sizeof(h2)));
		return -EINVAL;
	}
	if (size < MIN_DEVICE_BYTES && !allow_small) {
		fprintf(stderr, "scoutfs mkfs: %s device '%s' is %llu bytes (%s), under the %s minimum; use -A to allow it\n",
			name, path, (unsigned long long)size, human(size, h1, sizeof(h1)),
			human(MIN_DEVICE_BYTES, h2, sizeof(h2)));
		return -EINVAL;
	}
	*size_ret = size;
	return 0;
}

/* -A let a small device through: say so once nothing can refuse any more */
static void warn_small(const char *path, const char *name, uint64_t size)
{
	char h1[32], h2[32];

	if (size < MIN_DEVICE_BYTES)
		fprintf(stderr, "Warning: %s device '%s' is %llu bytes (%s), under the %s minimum\n",
			name, path, (unsigned long long)size, human(size, h1, sizeof(h1)),
			human(MIN_DEVICE_BYTES, h2, sizeof(h2)));
}

/*
 * Refuse a device that already holds a filesystem: a scoutfs super (of any
 * volume, either device kind) or anything libblkid recognises.
 */
static int check_signature(struct sfs_fs *fs, enum sfs_dev dev, const char *path,
			   const char *name)
{
	const struct scoutfs_super_block *super;
	const char *type = NULL;
	blkid_probe pr = NULL;
	void *buf = NULL;
	int ret = 0;
	int rc;

	if (sfs_block_dev_size(fs, dev) >= (SCOUTFS_SUPER_BLKNO + 1) * SCOUTFS_BLOCK_SM_SIZE) {
		buf = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
		if (!buf)
			return -ENOMEM;
		ret = sfs_block_pread(fs, dev, buf, SCOUTFS_BLOCK_SM_SIZE,
				      SCOUTFS_SUPER_BLKNO << SCOUTFS_BLOCK_SM_SHIFT);
		if (ret) {
			fprintf(stderr, "scoutfs mkfs: reading %s device '%s': %s\n", name, path,
				strerror(-ret));
			goto out;
		}
		super = buf;
		if (le32toh(super->hdr.magic) == SCOUTFS_BLOCK_MAGIC_SUPER) {
			fprintf(stderr, "scoutfs mkfs: %s device '%s' already contains a scoutfs filesystem (fsid %016llx); use -f to overwrite it\n",
				name, path, (unsigned long long)le64toh(super->hdr.fsid));
			ret = -EEXIST;
			goto out;
		}
	}

	pr = blkid_new_probe_from_filename(path);
	if (!pr) {
		fprintf(stderr, "scoutfs mkfs: cannot probe %s device '%s' for existing signatures: %s\n",
			name, path, strerror(errno ? errno : EINVAL));
		ret = -EIO;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	rc = blkid_do_safeprobe(pr);
	if (rc == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) &&
		    blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL))
			type = "unknown";
		fprintf(stderr, "scoutfs mkfs: %s device '%s' already contains a %s signature; use -f to overwrite it\n",
			name, path, type);
		ret = -EEXIST;
	} else if (rc == -2) {
		fprintf(stderr, "scoutfs mkfs: %s device '%s' contains ambiguous filesystem signatures; use -f to overwrite it\n",
			name, path);
		ret = -EEXIST;
	}
out:
	if (pr)
		blkid_free_probe(pr);
	free(buf);
	return ret;
}

static int check_zone_blocks(uint64_t total_data_blocks, uint64_t zone_blocks)
{
	if (zone_blocks == 0)
		return 0;
	if (zone_blocks < DATA_FILL_TARGET) {
		fprintf(stderr, "scoutfs mkfs: data-alloc-zone-blocks %llu must be at least %llu, the mount data allocation target\n",
			(unsigned long long)zone_blocks, (unsigned long long)DATA_FILL_TARGET);
		return -EINVAL;
	}
	if (zone_blocks < total_data_blocks / SCOUTFS_DATA_ALLOC_MAX_ZONES) {
		fprintf(stderr, "scoutfs mkfs: data-alloc-zone-blocks %llu must be at least %llu so there are at most %u zones\n",
			(unsigned long long)zone_blocks,
			(unsigned long long)(total_data_blocks / SCOUTFS_DATA_ALLOC_MAX_ZONES),
			SCOUTFS_DATA_ALLOC_MAX_ZONES);
		return -EINVAL;
	}
	if (zone_blocks > total_data_blocks) {
		fprintf(stderr, "scoutfs mkfs: data-alloc-zone-blocks %llu must be at most %llu, the data device's blocks\n",
			(unsigned long long)zone_blocks, (unsigned long long)total_data_blocks);
		return -EINVAL;
	}
	return 0;
}

static void init_hdr(struct scoutfs_block_header *hdr, uint32_t magic, uint64_t fsid,
		     uint64_t blkno)
{
	hdr->crc = 0;
	hdr->magic = htole32(magic);
	hdr->fsid = htole64(fsid);
	hdr->seq = htole64(1);
	hdr->blkno = htole64(blkno);
}

/* an alloc btree leaf holding one free extent, both of its items */
static int init_alloc_root(struct sfs_block *bl, uint64_t fsid, struct scoutfs_alloc_root *root,
			   uint64_t start, uint64_t len)
{
	struct scoutfs_btree_block *bt = bl->data;
	struct scoutfs_key key;
	int ret;

	init_hdr(&bt->hdr, SCOUTFS_BLOCK_MAGIC_BTREE, fsid, bl->blkno);
	sfs_btree_block_init(bt, 0);

	key = sfs_key_make(SCOUTFS_FREE_EXTENT_BLKNO_ZONE, start + len - 1, 0, len, 0, 0);
	ret = sfs_btree_append_item(bt, &key, 1, 0, NULL, 0);
	if (ret)
		return ret;
	key = sfs_key_make(SCOUTFS_FREE_EXTENT_ORDER_ZONE, UINT64_MAX - sfs_free_extent_order(len),
			   0, start + len - 1, len, 0);
	ret = sfs_btree_append_item(bt, &key, 1, 0, NULL, 0);
	if (ret)
		return ret;

	root->total_len = htole64(len);
	root->root.ref.blkno = htole64(bl->blkno);
	root->root.ref.seq = htole64(1);
	root->root.height = 1;
	return 0;
}

/* the root directory's leaf: its META_SEQ index item and its inode */
static int init_fs_root(struct sfs_block *bl, uint64_t fsid, struct scoutfs_super_block *super,
			const struct timeval *tv)
{
	struct scoutfs_btree_block *bt = bl->data;
	struct scoutfs_inode inode;
	struct scoutfs_key key;
	unsigned int inode_bytes;
	int ret;

	init_hdr(&bt->hdr, SCOUTFS_BLOCK_MAGIC_BTREE, fsid, bl->blkno);
	sfs_btree_block_init(bt, 0);

	key = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, SCOUTFS_INODE_INDEX_META_SEQ_TYPE, 0,
			   SCOUTFS_ROOT_INO, 0);
	ret = sfs_btree_append_item(bt, &key, 1, 0, NULL, 0);
	if (ret)
		return ret;

	memset(&inode, 0, sizeof(inode));
	inode.next_readdir_pos = htole64(SCOUTFS_DIRENT_FIRST_POS);
	inode.nlink = htole32(2);
	inode.mode = htole32(040755);
	inode.atime.sec = htole64((uint64_t)tv->tv_sec);
	inode.atime.nsec = htole32((uint32_t)tv->tv_usec * 1000);
	inode.ctime = inode.atime;
	inode.mtime = inode.atime;
	inode.crtime = inode.atime;
	inode_bytes = le64toh(super->fmt_vers) == 1 ? SCOUTFS_INODE_FMT_V1_BYTES :
						      SCOUTFS_INODE_FMT_V2_BYTES;

	key = sfs_key_make(SCOUTFS_FS_ZONE, SCOUTFS_ROOT_INO, SCOUTFS_INODE_TYPE, 0, 0, 0);
	ret = sfs_btree_append_item(bt, &key, 1, 0, &inode, inode_bytes);
	if (ret)
		return ret;

	super->fs_root.ref.blkno = htole64(bl->blkno);
	super->fs_root.ref.seq = htole64(1);
	super->fs_root.height = 1;
	return 0;
}

/* the server's first avail list: the 1024 blocks after itself */
static void init_server_list(struct sfs_block *bl, uint64_t fsid,
			     struct scoutfs_alloc_list_head *head, uint64_t first)
{
	struct scoutfs_alloc_list_block *lblk = bl->data;
	uint64_t i;

	init_hdr(&lblk->hdr, SCOUTFS_BLOCK_MAGIC_ALLOC_LIST, fsid, bl->blkno);
	for (i = 0; i < SERVER_LIST_BLOCKS; i++)
		lblk->blknos[i] = htole64(first + i);
	lblk->nr = htole32((uint32_t)SERVER_LIST_BLOCKS);

	head->ref.blkno = htole64(bl->blkno);
	head->ref.seq = htole64(1);
	head->total_nr = htole64(SERVER_LIST_BLOCKS);
	head->first_nr = htole32((uint32_t)SERVER_LIST_BLOCKS);
}

static void print_summary(const struct mkfs_args *args, const struct scoutfs_super_block *super)
{
	uint64_t counts[2] = { le64toh(super->total_meta_blocks),
			       le64toh(super->total_data_blocks) };
	unsigned int sizes[2] = { SCOUTFS_BLOCK_LG_SIZE, SCOUTFS_BLOCK_SM_SIZE };
	char text[SFS_TEXT_ADDR_LEN];
	char sz[2][48], h[32];
	char uuid_str[37];
	bool first = true;
	unsigned int i;

	for (i = 0; i < 2; i++)
		snprintf(sz[i], sizeof(sz[i]), "%llu (%s)", (unsigned long long)counts[i],
			 size_text(counts[i] * sizes[i], false, h, sizeof(h)));
	uuid_unparse(super->uuid, uuid_str);

	printf("Created scoutfs filesystem:\n"
	       "  meta device path:     %s\n"
	       "  data device path:     %s\n"
	       "  fsid:                 %llx\n"
	       "  uuid:                 %s\n"
	       "  format version:       %llu\n"
	       "  64KB metadata blocks: %s\n"
	       "  4KB data blocks:      %s\n"
	       "  quorum slots:         ",
	       args->meta_path, args->data_path, (unsigned long long)le64toh(super->hdr.fsid),
	       uuid_str, (unsigned long long)le64toh(super->fmt_vers), sz[0], sz[1]);
	for (i = 0; i < SCOUTFS_QUORUM_MAX_SLOTS; i++) {
		if (!sfs_quorum_slot_present(&super->qconf.slots[i]))
			continue;
		sfs_text_inet_addr(text, sizeof(text), &super->qconf.slots[i].addr);
		printf("%s%u: %s\n", first ? "" : "                        ", i, text);
		first = false;
	}
}

/*
 * Build every block in memory, then write: LG blocks as one batch, the
 * quorum blocks, a meta flush, the data super and a flush, the meta
 * super and a flush.
 */
static int write_volume(struct sfs_fs *fs, const struct mkfs_args *args, uint64_t meta_size,
			uint64_t data_size)
{
	struct scoutfs_super_block *super = NULL;
	struct sfs_block *bls[5] = { NULL };
	void *qblk = NULL;
	struct timeval tv;
	uint64_t last_meta = (meta_size >> SCOUTFS_BLOCK_LG_SHIFT) - 1;
	uint64_t last_data = (data_size >> SCOUTFS_BLOCK_SM_SHIFT) - 1;
	uint64_t meta_start, meta_len, fsid;
	unsigned int i;
	int ret;

	super = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	qblk = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!super || !qblk) {
		ret = -ENOMEM;
		goto out;
	}

	if (getrandom(&fsid, sizeof(fsid), 0) != sizeof(fsid)) {
		ret = -errno;
		fprintf(stderr, "scoutfs mkfs: cannot get random bytes for the fsid: %s\n",
			strerror(errno));
		goto out;
	}
	gettimeofday(&tv, NULL);
	fs->fsid = fsid;
	sfs_block_set_fsid(fs, fsid);

	init_hdr(&super->hdr, SCOUTFS_BLOCK_MAGIC_SUPER, fsid, SCOUTFS_SUPER_BLKNO);
	super->fmt_vers = htole64(args->fmt_vers);
	uuid_generate(super->uuid);
	super->seq = htole64(1);
	super->next_ino = htole64(SCOUTFS_LOCK_INODE_GROUP_NR);
	super->inode_count = htole64(1);
	super->total_meta_blocks = htole64(last_meta + 1);
	super->total_data_blocks = htole64(last_data + 1);
	super->qconf = args->qconf;
	super->qconf.version = htole64(1);
	if (args->zone_blocks) {
		super->volopt.set_bits = htole64(SCOUTFS_VOLOPT_DATA_ALLOC_ZONE_BLOCKS_BIT);
		super->volopt.data_alloc_zone_blocks = htole64(args->zone_blocks);
	}

	for (i = 0; i < 5; i++) {
		bls[i] = sfs_block_new(fs, i < 2 ? SCOUTFS_META_DEV_START_BLKNO + i :
						   SCOUTFS_META_DEV_START_BLKNO + 2 +
							   SERVER_LIST_BLOCKS + (i - 2));
		if (!bls[i]) {
			ret = -ENOMEM;
			goto out;
		}
	}

	/* LG 2, 3, then 1028 (data), 1029 and 1030 (the two meta halves) */
	ret = init_fs_root(bls[0], fsid, super, &tv);
	if (ret)
		goto out;
	init_server_list(bls[1], fsid, &super->server_meta_avail[0], bls[1]->blkno + 1);
	ret = init_alloc_root(bls[2], fsid, &super->data_alloc, SCOUTFS_DATA_DEV_START_BLKNO,
			      last_data - SCOUTFS_DATA_DEV_START_BLKNO + 1);
	if (ret)
		goto out;
	meta_start = bls[4]->blkno + 1;
	meta_len = (last_meta - meta_start + 1 + 1) / 2;
	for (i = 0; i < 2; i++) {
		uint64_t len = last_meta - meta_start + 1;

		ret = init_alloc_root(bls[3 + i], fsid, &super->meta_alloc[i], meta_start,
				      len < meta_len ? len : meta_len);
		if (ret)
			goto out;
		meta_start += meta_len;
	}

	ret = sfs_block_write_blocks(fs, bls, 5);
	if (ret) {
		fprintf(stderr, "scoutfs mkfs: writing metadata blocks to '%s': %s\n",
			args->meta_path, strerror(-ret));
		goto out;
	}

	for (i = 0; i < SCOUTFS_QUORUM_BLOCKS; i++) {
		memset(qblk, 0, SCOUTFS_BLOCK_SM_SIZE);
		init_hdr(qblk, SCOUTFS_BLOCK_MAGIC_QUORUM, fsid, SCOUTFS_QUORUM_BLKNO + i);
		ret = sfs_block_write_sm(fs, SFS_DEV_META, SCOUTFS_QUORUM_BLKNO + i, qblk);
		if (ret) {
			fprintf(stderr, "scoutfs mkfs: writing quorum block %llu to '%s': %s\n",
				SCOUTFS_QUORUM_BLKNO + i, args->meta_path, strerror(-ret));
			goto out;
		}
	}

	ret = sfs_block_flush(fs, SFS_DEV_META);
	if (ret) {
		fprintf(stderr, "scoutfs mkfs: flushing '%s': %s\n", args->meta_path,
			strerror(-ret));
		goto out;
	}

	ret = sfs_block_write_sm(fs, SFS_DEV_DATA, SCOUTFS_SUPER_BLKNO, super);
	if (!ret)
		ret = sfs_block_flush(fs, SFS_DEV_DATA);
	if (ret) {
		fprintf(stderr, "scoutfs mkfs: writing the super block to '%s': %s\n",
			args->data_path, strerror(-ret));
		goto out;
	}

	super->flags = htole64(SCOUTFS_FLAG_IS_META_BDEV);
	ret = sfs_block_write_sm(fs, SFS_DEV_META, SCOUTFS_SUPER_BLKNO, super);
	if (!ret)
		ret = sfs_block_flush(fs, SFS_DEV_META);
	if (ret) {
		fprintf(stderr, "scoutfs mkfs: writing the super block to '%s': %s\n",
			args->meta_path, strerror(-ret));
		goto out;
	}

	print_summary(args, super);
out:
	for (i = 0; i < 5; i++) {
		if (bls[i])
			sfs_block_put(fs, bls[i]);
	}
	free(super);
	free(qblk);
	return ret;
}

int sfs_cmd_mkfs(int argc, char **argv)
{
	struct mkfs_args args = { .fmt_vers = SCOUTFS_FORMAT_VERSION_MAX };
	struct sfs_block_opts bopts = { 0 };
	struct sfs_fs fs = { 0 };
	uint64_t meta_size, data_size;
	int ret;

	ret = parse_args(argc, argv, &args);
	if (ret)
		return ret < 0 ? 0 : ret;

	ret = check_paths(&args);
	if (ret)
		return 1;

	sfs_fs_log_init(&fs, "scoutfs mkfs");
	fs.log_tag_ids = false;
	bopts.meta_path = args.meta_path;
	bopts.data_path = args.data_path;
	bopts.exclusive = true;
	/* the block layer says which device failed and why */
	ret = sfs_block_setup(&fs, &bopts);
	if (ret)
		return 1;

	ret = device_size(&fs, SFS_DEV_META, args.meta_path, "meta", args.max_meta_size,
			  args.allow_small, MIN_META_BLOCKS << SCOUTFS_BLOCK_LG_SHIFT, &meta_size) ?:
	      device_size(&fs, SFS_DEV_DATA, args.data_path, "data", args.max_data_size,
			  args.allow_small, MIN_DATA_BLOCKS << SCOUTFS_BLOCK_SM_SHIFT, &data_size) ?:
	      check_zone_blocks(data_size >> SCOUTFS_BLOCK_SM_SHIFT, args.zone_blocks);
	if (ret)
		goto out;

	if (!args.force) {
		ret = check_signature(&fs, SFS_DEV_META, args.meta_path, "meta") ?:
		      check_signature(&fs, SFS_DEV_DATA, args.data_path, "data");
		if (ret)
			goto out;
	}

	warn_small(args.meta_path, "meta", meta_size);
	warn_small(args.data_path, "data", data_size);
	ret = write_volume(&fs, &args, meta_size, data_size);
out:
	sfs_block_destroy(&fs);
	return ret ? 1 : 0;
}
