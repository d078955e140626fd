/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_DIR_H
#define SFS_DIR_H

#include <stdint.h>

#include "sfs.h"

#include <scoutfs/format.h>

/* a directory entry as found: the dirent value's fields */
struct sfs_dirent {
	uint64_t ino;
	uint64_t hash;
	uint64_t pos;
	uint8_t type;	/* SCOUTFS_DT_* */
};

/* SCOUTFS_DT_* of a mode */
uint8_t sfs_dir_type(uint32_t mode);

/* the entry of name in dir: 0, -ENOENT, or an error */
int sfs_dir_lookup(struct sfs_fs *fs, uint64_t dir, const char *name, unsigned int len,
		   struct sfs_dirent *de);

/*
 * Add / remove the three items of an entry (DIRENT, READDIR, LINK_BACKREF)
 * in the transaction of seq.  add takes pos (the parent's next_readdir_pos,
 * which the caller advances and writes).
 */
int sfs_dir_add(struct sfs_fs *fs, uint64_t dir, const char *name, unsigned int len,
		uint64_t ino, uint8_t type, uint64_t pos, uint64_t seq);
int sfs_dir_del(struct sfs_fs *fs, uint64_t dir, const struct sfs_dirent *de, uint64_t seq);

/*
 * Entries at readdir positions >= pos in order: cb gets each one (name
 * not terminated); a non-zero return stops the walk and is returned.
 */
typedef int (*sfs_dir_cb)(void *arg, const struct sfs_dirent *de, const char *name,
			  unsigned int len);
int sfs_dir_readdir(struct sfs_fs *fs, uint64_t dir, uint64_t pos, sfs_dir_cb cb, void *arg);

/* 0 if dir has no entries, -ENOTEMPTY if it has, or an error */
int sfs_dir_empty(struct sfs_fs *fs, uint64_t dir);
/*
 * The names of ino (its LINK_BACKREF items) from (dir, pos) on, in
 * (dir, pos) order: cb gets the directory and the entry.  A non-zero cb
 * return stops the walk and is returned.
 */
typedef int (*sfs_backref_cb)(void *arg, uint64_t dir, const struct sfs_dirent *de,
			      const char *name, unsigned int len);
int sfs_dir_backrefs(struct sfs_fs *fs, uint64_t ino, uint64_t dir, uint64_t pos,
		     sfs_backref_cb cb, void *arg);

/* symlink targets: SYMLINK items of at most 896 bytes, the target with its NUL */
int sfs_symlink_write(struct sfs_fs *fs, uint64_t ino, const char *target, uint64_t seq);
/* the target into buf (size bytes at least strlen + 1); its length in *len */
int sfs_symlink_read(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size, size_t *len);
int sfs_symlink_delete(struct sfs_fs *fs, uint64_t ino, size_t size, uint64_t seq);

#endif
