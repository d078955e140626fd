/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TEST_TESTKEYS_H
#define SFS_TEST_TESTKEYS_H

/*
 * Shared by the model tests: a small deterministic generator, and the
 * mapping of model key ids to xattr-type keys grouped by inode lock group
 * (per_group ids a group, 8 keys per inode, keys sort by id).
 */

#include <stdint.h>

#include "scoutfs/format.h"

/* xorshift64; *state must not be 0 */
static inline uint64_t test_xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static inline struct scoutfs_key test_group_key(int id, int per_group)
{
	int g = id / per_group, k = id % per_group;

	return sfs_key_make(SCOUTFS_FS_ZONE, (uint64_t)g * 1024 + (uint64_t)k / 8,
			    SCOUTFS_XATTR_TYPE, (uint64_t)k % 8, 0, 0);
}

static inline int test_group_key_id(const struct scoutfs_key *key, int per_group)
{
	uint64_t ino = le64toh(key->_sk_first);

	return (int)(ino / 1024 * (uint64_t)per_group + (ino % 1024) * 8 +
		     le64toh(key->_sk_second));
}

#endif
