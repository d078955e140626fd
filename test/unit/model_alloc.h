/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TEST_MODEL_ALLOC_H
#define SFS_TEST_MODEL_ALLOC_H

/*
 * A checking metadata allocator for unit tests: blocks come from a bump
 * pointer or blocks freed in an earlier (committed) transaction; a double
 * allocation or a free of a block not in use fails the test.  Frees become
 * reusable at model_alloc_commit().
 */

#include <stdint.h>
#include <stdlib.h>
#include <errno.h>

#include "alloc.h"

enum { MA_FREE = 0, MA_USED, MA_FREED };

struct model_alloc {
	struct sfs_alloc alloc;
	uint64_t max;
	uint8_t *state;
	uint64_t next;
	uint64_t *avail, nr_avail;
	uint64_t *pending, nr_pending;
	uint64_t used;
};

static int model_alloc_meta(struct sfs_fs *fs, struct sfs_alloc *a, struct sfs_block_writer *wri,
			    uint64_t *blkno)
{
	struct model_alloc *ma = (struct model_alloc *)a;
	uint64_t b;

	(void)fs;
	(void)wri;
	if (ma->nr_avail)
		b = ma->avail[--ma->nr_avail];
	else if (ma->next < ma->max)
		b = ma->next++;
	else
		return -ENOSPC;
	if (ma->state[b] != MA_FREE)
		fail_msg("allocated block %llu in state %u", (unsigned long long)b, ma->state[b]);
	ma->state[b] = MA_USED;
	ma->used++;
	*blkno = b;
	return 0;
}

static int model_free_meta(struct sfs_fs *fs, struct sfs_alloc *a, struct sfs_block_writer *wri,
			   uint64_t blkno)
{
	struct model_alloc *ma = (struct model_alloc *)a;

	(void)fs;
	(void)wri;
	if (blkno >= ma->max || ma->state[blkno] != MA_USED)
		fail_msg("freed block %llu in state %u", (unsigned long long)blkno,
			 blkno < ma->max ? ma->state[blkno] : 9);
	ma->state[blkno] = MA_FREED;
	ma->pending[ma->nr_pending++] = blkno;
	ma->used--;
	return 0;
}

static const struct sfs_alloc_ops model_alloc_ops = {
	.alloc_meta = model_alloc_meta,
	.free_meta = model_free_meta,
};

static inline void model_alloc_init(struct model_alloc *ma, uint64_t max)
{
	ma->alloc.ops = &model_alloc_ops;
	ma->max = max;
	ma->state = calloc(max, 1);
	ma->avail = calloc(max, sizeof(uint64_t));
	ma->pending = calloc(max, sizeof(uint64_t));
	ma->next = SCOUTFS_META_DEV_START_BLKNO;
	ma->nr_avail = ma->nr_pending = ma->used = 0;
}

static inline void model_alloc_destroy(struct model_alloc *ma)
{
	free(ma->state);
	free(ma->avail);
	free(ma->pending);
}

/* the transaction is durable: its frees may be reused */
static inline void model_alloc_commit(struct model_alloc *ma)
{
	while (ma->nr_pending) {
		uint64_t b = ma->pending[--ma->nr_pending];

		ma->state[b] = MA_FREE;
		ma->avail[ma->nr_avail++] = b;
	}
}

#endif
