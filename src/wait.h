/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_WAIT_H
#define SFS_WAIT_H
/*
 * Data waiting (reference-scoutfs.md 5.3): a read that reaches an offline
 * extent parks its FUSE request here, holding no thread and no lock, until
 * the archive agent stages the data (the read runs again), fails it with
 * data-wait-err (the reader gets that error), or the reader is interrupted
 * (EINTR).  Waiters are listed by (ino, iblock) for DATA_WAITING.
 */
#include <stdint.h>

#include "fs.h"

/* ops a waiter waits for, as the reference numbers them */
#define SFS_WAIT_READ 0x1
#define SFS_WAIT_WRITE 0x2
#define SFS_WAIT_CHANGE_SIZE 0x4

struct sfs_fuse;
struct sfs_waits;

/*
 * How a parked request is run again once its data may be there.  buf is
 * the copy of a write's bytes that sfs_wait_park took (NULL for reads); it
 * is freed after the retry returns.
 */
typedef void (*sfs_wait_retry_fn)(fuse_req_t req, uint64_t ino, size_t size, uint64_t off,
				  const char *buf);

int sfs_waits_setup(struct sfs_fuse *sf);
/*
 * Unmount: every parked request is answered with EIO, and so is every
 * later one that would park (a control request reading the mount may
 * be waiting on one: it must end before the control socket can stop).
 */
void sfs_waits_close(struct sfs_fuse *sf);
/* what close does, then everything is freed */
void sfs_waits_destroy(struct sfs_fuse *sf);

/*
 * Park req, which found block iblock of ino offline.  Called with the
 * file's contents locked shared, so that a stage (which locks them
 * exclusively) cannot finish between the check and the parking: it wakes
 * us after.  A write passes its bytes in buf (size of them): they are
 * copied, the request's buffer goes when the op returns.  The request is
 * answered later: 0.  Or -errno, for the
 * caller to answer now: -ENOMEM, or the error data-wait-err gave these
 * blocks in the last seconds (the kernel reads a failed page again).
 */
int sfs_wait_park(struct sfs_fuse *sf, fuse_req_t req, uint64_t ino, uint64_t iblock,
		  unsigned int op, sfs_wait_retry_fn retry, size_t size, uint64_t off,
		  const char *buf);

/* the offline extents of ino changed: run its parked requests again */
void sfs_wait_wake(struct sfs_fuse *sf, uint64_t ino);

/*
 * DATA_WAITING: up to nr blocks with waiters after (ino, iblock), in
 * order, each once with the ops of all its waiters.  Returns how many
 * were put in the arrays.
 */
struct sfs_wait_ent {
	uint64_t ino;
	uint64_t iblock;
	uint8_t op;
};
/* are requests of ino parked? (the kernel holds their pages locked) */
bool sfs_wait_has(struct sfs_fuse *sf, uint64_t ino);

unsigned int sfs_wait_list(struct sfs_fuse *sf, uint64_t ino, uint64_t iblock,
			   struct sfs_wait_ent *ents, unsigned int nr);

/*
 * DATA_WAIT_ERR: answer err (< 0) to the waiters of ino whose block is in
 * [first, last] and whose op is in ops.  Returns how many.
 */
unsigned int sfs_wait_err(struct sfs_fuse *sf, uint64_t ino, uint64_t first, uint64_t last,
			  unsigned int ops, int err);

#endif
