// SPDX-License-Identifier: GPL-2.0
/*
 * Block I/O: the devices, an io_uring, and a cache of 64 KiB meta blocks.
 *
 * Model
 * -----
 * A volume is a meta device and (optionally, for tools) a data device.
 * Both are opened once, with O_DIRECT: other hosts write the same LBAs,
 * so the host page cache would go stale.  An image file on a filesystem
 * without O_DIRECT falls back to buffered I/O with one warning.  Every
 * transfer is an io request (struct sfs_io) submitted to an io_uring
 * shared by all threads, and completed by one reaper thread, or to the
 * calling thread's own ring (below); requests carry no timeouts.
 *
 *   caller thread                         reaper thread
 *   -------------                         -------------
 *   io_run()                              reaper_thread()
 *     io_submit_batch() under ring_lock:    io_uring_wait_cqe*() (no lock),
 *       get SQEs, prep, io_flush_locked()   copy the CQEs out, advance the CQ
 *     sleep on batch.cond (ring_lock)  <--  io_reap_locked() under ring_lock:
 *                                             partial/EAGAIN: io_queue_locked()
 *                                             done: io_complete_locked()
 *
 * A batch is the set of requests one caller submitted together; the
 * caller sleeps on the batch's condition variable until its pending
 * count reaches zero, so many requests of one call (and of many calls)
 * are in flight at once.  A synchronous batch of up to SFS_TRING_DEPTH
 * requests instead goes on the calling thread's own small ring, where
 * the caller submits and reaps itself (io_run_local()): no sleep and no
 * wakeup by another thread, which is most of the cost of one small read.  A partial transfer is resubmitted for the
 * remainder; a transfer that then returns 0 (end of file) or fails is
 * "short" and reported as -EIO.  -EAGAIN/-EINTR completions are retried
 * a bounded number of times.
 *
 * Above the ring sits the cache of LG blocks (struct sfs_cblock), keyed
 * by blkno in a chained hash table.  A block's life:
 *
 *  cache_get_or_insert()            fetch_blocks(): publish_locked()
 *    miss --> READING ---------------------------------------> UPTODATE
 *                |  I/O error, short, past end, bad crc         ^    |
 *                v                                              |    | last put while clean:
 *              ERROR: unhashed, freed at the last put           |    v on the LRU
 *                                                               |  evict_locked(),
 *  sfs_block_new() --> UPTODATE|DIRTY --------------------------+  drop_copy():
 *                        sfs_block_write_blocks(): written_locked() unhashed, freed
 *                                                                   at the last put
 *
 * The cache holds contents that passed the crc check when read (or that
 * this process wrote).  What a caller expects of a block (magic, fsid,
 * seq and blkno of its reference) is checked on every read, hit or miss,
 * by check_hdr().  When any check fails the copy is dropped from the
 * cache (unhashed; holders keep theirs) and the block is read again from
 * the device, once, before the error is returned: -EIO for crc or I/O
 * failures (logged with the blkno), -ESTALE for an expectation mismatch
 * (logged at debug; the caller refetches its roots).
 *
 * Invariants
 * ----------
 *  1. st->inflight <= st->depth == SQ entries, and the CQ has twice as
 *     many entries, so an SQE is always free for an inflight request and
 *     the CQ cannot overflow.  Only inflight requests occupy SQEs.
 *  2. The pending queue (st->pend_head) holds, in SQ order, exactly the
 *     requests whose SQEs the kernel has not consumed yet.  When a submit
 *     fails for good the ring is marked broken, the pending requests fail
 *     with -EIO and nothing is ever submitted again.
 *  3. A block is freed only when it is unhashed and its refcount is 0: a
 *     block a caller holds is never freed under it.  A hashed block with
 *     no references is on the LRU iff it is clean (not DIRTY); dirty
 *     blocks are never evicted (they are dropped when replaced by
 *     sfs_block_new() or a validation failure).
 *  4. At most one hashed block per blkno.  A READING block is hashed so
 *     concurrent readers of the same blkno wait for one read rather than
 *     issue their own; a block leaves READING exactly once, under
 *     cache_lock, followed by a broadcast of cache_cond.
 *  5. st->cache_bytes counts every allocated block (hashed or not); the
 *     LRU is trimmed to st->cache_bound whenever a block is inserted or
 *     becomes unreferenced.  Only referenced or dirty blocks can keep the
 *     total above the bound.
 *
 * Locks and threads
 * -----------------
 * ring_lock: the SQ side of the ring, the pending queue, inflight, every
 *   sfs_io's completion fields, batch counts, the ring counters, broken
 *   and stopping.  The CQ side is touched only by the reaper thread.
 * cache_lock: the hash table, LRU, all-blocks list, every cblock's refs,
 *   flags, state and err, and the cache counters.
 * ring_lock and cache_lock are never held together, so there is no
 * order between them to get wrong; each condition variable waits under
 * the lock named above (cache_cond: cache_lock; space_cond and every
 * batch cond: ring_lock).  Block contents (bl->data) are not protected
 * here: a reader may look at them once it holds a reference to an
 * UPTODATE block, and writers of a block own it by higher-level rules
 * (copy on write).  The fsid and device sizes are read and written with
 * atomics.  Logging may happen under either lock, so a log sink must
 * not call back into this layer.
 *
 * Failure
 * -------
 * Setup failure destroys the half-built state.  destroy waits for any
 * request still in flight, stops the reaper with a NOP (or, if the ring
 * broke, notices stopping within a second), frees every block, and is a
 * no-op the second time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "block.h"
#include "counters.h"
#include "fence.h"
#include "log.h"
#include "trigger.h"

#define SFS_BLOCK_DEF_CACHE_BYTES (64ULL << 20)
#define SFS_BLOCK_DEF_QUEUE_DEPTH 128U
#define SFS_BLOCK_MAX_QUEUE_DEPTH 4096U
#define SFS_BLOCK_ALIGN SCOUTFS_BLOCK_SM_SIZE
/* largest transfer put in one SQE; bigger requests continue like short ones */
#define SFS_IO_MAX_CHUNK (1U << 30)
/* completions of -EAGAIN/-EINTR resubmitted this many times before failing */
#define SFS_IO_MAX_RETRIES 16
/* io_uring_submit() -EAGAIN/-EBUSY: sleep and retry, up to ~10 s */
#define SFS_SUBMIT_RETRY_USEC 1000
#define SFS_SUBMIT_MAX_RETRIES 10000
#define SFS_REAP_BATCH 64
/* entries of each thread's own ring: synchronous batches up to this size */
#define SFS_TRING_DEPTH 16

/* ------------------------------------------------------------------ */
/* A minimal intrusive doubly linked list                               */
/* ------------------------------------------------------------------ */

struct lst {
	struct lst *prev;
	struct lst *next;
};

#define lst_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void lst_init(struct lst *h)
{
	h->prev = h;
	h->next = h;
}

static bool lst_empty(const struct lst *h)
{
	return h->next == h;
}

/* add n right after head h (the most recent end) */
static void lst_add(struct lst *n, struct lst *h)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}

static void lst_del(struct lst *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	lst_init(n);
}

/* ------------------------------------------------------------------ */
/* Structures                                                           */
/* ------------------------------------------------------------------ */

struct sfs_bdev {
	const char *name; /* "meta" or "data" */
	char *path;
	int fd;	       /* -1 when not opened */
	bool direct;   /* opened with O_DIRECT */
	bool is_bdev;  /* block device (else a regular image file) */
	uint64_t size; /* bytes; atomic: image files grow on writes */
};

enum io_op {
	IO_READ,
	IO_WRITE,
	IO_WRITEV,	/* iov: several LG blocks that lie next to each other on disk */
	IO_FSYNC,
	IO_NOP,
};

struct io_batch {
	pthread_cond_t cond; /* signalled when pending reaches 0 */
	int pending;	     /* ring_lock */
};

/* one transfer; fields below "ring_lock" are protected by it */
struct sfs_io {
	struct io_batch *batch;
	int fd;
	enum io_op op;
	void *buf;
	size_t len;
	uint64_t off;
	struct iovec *iov;	/* IO_WRITEV: what is left to write */
	int iovcnt;
	/* instead of the batch: called (ring_lock held) once the io is complete */
	void (*complete)(struct sfs_block_state *st, struct sfs_io *io);
	void *priv;
	/* ring_lock */
	struct sfs_io *qnext; /* pending queue */
	size_t done;	      /* bytes transferred */
	unsigned int retries;
	bool eof; /* a transfer returned 0 */
	int res;  /* 0 or -errno once complete */
};

enum cb_state {
	CB_READING,
	CB_UPTODATE,
	CB_ERROR,
};

#define CB_HASHED 0x1U
#define CB_DIRTY 0x2U

struct sfs_cblock {
	struct sfs_block bl;	    /* public part; bl.priv points here */
	struct sfs_block_state *st; /* owner, for sfs_block_get() */
	struct sfs_cblock *hnext;   /* hash chain (cache_lock) */
	struct lst lru;		    /* st->lru while unreferenced and clean (cache_lock) */
	struct lst all;		    /* st->all while allocated (cache_lock) */
	unsigned long refs;	    /* cache_lock */
	unsigned int flags;	    /* CB_HASHED, CB_DIRTY (cache_lock) */
	enum cb_state state;	    /* cache_lock */
	int err;		    /* errno of CB_ERROR (cache_lock) */
	struct sfs_io wio;	    /* its write, while its writer writes it (writer's owner) */
	uint32_t started_crc;	    /* the crc it was sealed with */
	struct sfs_cblock *sub_next; /* submitter queue (sub_lock) */
};

struct sfs_block_state {
	struct sfs_fs *fs;
	struct sfs_bdev devs[SFS_DEV_NR]; /* set up once, then read only */
	bool read_only;
	uint64_t fsid; /* atomic; 0 = not checked */

	/* LG block buffers (buf_lock, a leaf lock) */
	pthread_mutex_t buf_lock;
	void *free_bufs;	/* free buffers, linked through their first bytes */
	uint64_t nr_free_bufs;
	struct buf_arena *arenas; /* head: the one being carved */
	struct buf_arena *fresh;  /* prefilled, untouched */
	uint64_t nr_fresh;
	uint64_t nr_arenas;	  /* mapped (or being mapped by the prefill) */
	bool prefill_stop;
	pthread_t prefill;	  /* set up once, joined by destroy */
	bool prefill_started;

	/* the submitter of writes started early (sub_lock, a leaf lock) */
	pthread_mutex_t sub_lock;
	pthread_cond_t sub_cond;
	struct sfs_cblock *sub_head;
	struct sfs_cblock **sub_tail;
	unsigned int sub_nr;	/* queued */
	bool sub_flush;		/* submit the queue, however short */
	bool sub_stop;
	pthread_t sub_thread;	/* set up once, joined by destroy */
	bool sub_started;

	/* the cache */
	pthread_mutex_t cache_lock;
	pthread_cond_t cache_cond; /* a block left CB_READING */
	struct sfs_cblock **hash;  /* cache_lock */
	unsigned int hash_bits;
	struct lst lru; /* head = most recently used */
	struct lst all;
	uint64_t cache_bound;
	uint64_t cache_bytes; /* cache_lock, as the counters below */
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_evictions;
	uint64_t crc_errors;
	uint64_t stale_errors;

	/* the ring */
	pthread_mutex_t ring_lock;
	pthread_cond_t space_cond; /* inflight dropped below depth */
	struct io_uring ring;	   /* SQ: ring_lock; CQ: reaper only */
	unsigned int depth;
	unsigned int inflight; /* ring_lock, as all below */
	struct sfs_io *pend_head;
	struct sfs_io **pend_tail;
	int broken; /* submit failed for good: -errno */
	bool stopping;
	struct sfs_io stop_io; /* the NOP that stops the reaper */
	uint64_t reads_submitted;
	uint64_t writes_submitted;
	uint64_t max_in_flight;
	uint64_t flushes;

	pthread_t reaper;
	bool ring_inited;
	bool reaper_started;

	/* small synchronous batches: each thread's own ring (struct thread_ring) */
	pthread_key_t tring_key;
	bool tring_key_made;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

void *sfs_block_alloc_buf(size_t len)
{
	void *buf = NULL;

	len = (len + SFS_BLOCK_ALIGN - 1) & ~((size_t)SFS_BLOCK_ALIGN - 1);
	if (len == 0)
		len = SFS_BLOCK_ALIGN;
	if (posix_memalign(&buf, SFS_BLOCK_ALIGN, len))
		return NULL;
	memset(buf, 0, len);
	return buf;
}

static uint64_t dev_size_load(struct sfs_bdev *d)
{
	return __atomic_load_n(&d->size, __ATOMIC_ACQUIRE);
}

/* an image file grew by a write past its end */
static void dev_size_grow(struct sfs_bdev *d, uint64_t end)
{
	uint64_t cur = dev_size_load(d);

	while (end > cur && !__atomic_compare_exchange_n(&d->size, &cur, end, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

static struct sfs_bdev *dev_get(struct sfs_block_state *st, enum sfs_dev dev)
{
	if (!st || (unsigned int)dev >= SFS_DEV_NR || st->devs[dev].fd < 0)
		return NULL;
	return &st->devs[dev];
}

/*
 * Errors of reads and writes handed to callers: ESTALE has a meaning of
 * its own above us and EAGAIN/EINTR were already retried, so they become
 * EIO.  (The log line keeps the original.)
 */
static int io_errno(const struct sfs_io *io)
{
	if (io->res == 0)
		return 0;
	if (io->eof || io->done > 0 || io->res == -ESTALE || io->res == -EAGAIN ||
	    io->res == -EINTR)
		return -EIO;
	return io->res;
}

/* describe a failed transfer for a log line */
static const char *io_why(const struct sfs_io *io, char *buf, size_t size)
{
	if (io->eof || io->done > 0)
		snprintf(buf, size, "short %s at the device end (%zu of %zu bytes)",
			 io->op == IO_READ ? "read" : "write", io->done, io->len);
	else
		snprintf(buf, size, "%s error: %s", io->op == IO_READ ? "read" : "write",
			 strerror(-io->res));
	return buf;
}

/* ------------------------------------------------------------------ */
/* The ring                                                             */
/* ------------------------------------------------------------------ */

static void io_init(struct sfs_io *io, struct sfs_bdev *d, enum io_op op, void *buf, size_t len,
		    uint64_t off)
{
	memset(io, 0, sizeof(*io));
	io->fd = d ? d->fd : -1;
	io->op = op;
	io->buf = buf;
	io->len = len;
	io->off = off;
}

static void io_complete_locked(struct sfs_block_state *st, struct sfs_io *io, int res)
{
	io->res = res;
	st->inflight--;
	pthread_cond_broadcast(&st->space_cond);
	if (io->complete)
		io->complete(st, io);
	else if (io->batch && --io->batch->pending == 0)
		pthread_cond_signal(&io->batch->cond);
}

static void pend_push_locked(struct sfs_block_state *st, struct sfs_io *io)
{
	io->qnext = NULL;
	*st->pend_tail = io;
	st->pend_tail = &io->qnext;
}

static struct sfs_io *pend_pop_locked(struct sfs_block_state *st)
{
	struct sfs_io *io = st->pend_head;

	if (io) {
		st->pend_head = io->qnext;
		if (!st->pend_head)
			st->pend_tail = &st->pend_head;
		io->qnext = NULL;
	}
	return io;
}

/* the ring is unusable: fail what the kernel never saw, never submit again */
static void ring_break_locked(struct sfs_block_state *st, int err)
{
	struct sfs_io *io;

	if (!st->broken)
		sfs_err(st->fs, "block: io_uring submit failed, all block I/O now fails: %s",
			strerror(-err));
	st->broken = err;
	while ((io = pend_pop_locked(st))) {
		if (io != &st->stop_io)
			io_complete_locked(st, io, -EIO);
	}
}

/* prep the (rest of the) transfer of io in sqe; at most SFS_IO_MAX_CHUNK */
static void io_prep(struct io_uring_sqe *sqe, struct sfs_io *io)
{
	size_t chunk = io->len - io->done;

	if (chunk > SFS_IO_MAX_CHUNK)
		chunk = SFS_IO_MAX_CHUNK;

	switch (io->op) {
	case IO_READ:
		io_uring_prep_read(sqe, io->fd, (char *)io->buf + io->done, (unsigned int)chunk,
				   io->off + io->done);
		break;
	case IO_WRITE:
		io_uring_prep_write(sqe, io->fd, (char *)io->buf + io->done, (unsigned int)chunk,
				    io->off + io->done);
		break;
	case IO_WRITEV:
		io_uring_prep_writev(sqe, io->fd, io->iov, (unsigned int)io->iovcnt,
				     io->off + io->done);
		break;
	case IO_FSYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case IO_NOP:
		io_uring_prep_nop(sqe);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

/* put the (rest of the) transfer of io in an SQE and on the pending queue */
static void io_queue_locked(struct sfs_block_state *st, struct sfs_io *io)
{
	struct io_uring_sqe *sqe;

	if (st->broken) {
		io_complete_locked(st, io, -EIO);
		return;
	}
	/* a self-fenced mount may have had what it held taken back: no writes */
	if ((io->op == IO_WRITE || io->op == IO_WRITEV) && sfs_self_fenced(st->fs)) {
		sfs_inc(st->fs, block_write_fenced);
		io_complete_locked(st, io, -EIO);
		return;
	}

	/* invariant 1: inflight <= depth and only inflight requests hold SQEs */
	sqe = io_uring_get_sqe(&st->ring);
	if (!sqe) {
		ring_break_locked(st, -EOVERFLOW);
		io_complete_locked(st, io, -EIO);
		return;
	}

	io_prep(sqe, io);
	pend_push_locked(st, io);
}

/*
 * Hand every queued SQE to the kernel.  Transient failures are retried,
 * dropping ring_lock while sleeping so completions can still be reaped;
 * the pending queue stays consistent because whoever submits pops exactly
 * what the kernel consumed (invariant 2).
 */
static void io_flush_locked(struct sfs_block_state *st)
{
	unsigned int tries = 0;
	int ret;

	while (st->pend_head && !st->broken) {
		ret = io_uring_submit(&st->ring);
		if (ret > 0) {
			while (ret-- > 0 && pend_pop_locked(st))
				;
			tries = 0;
			continue;
		}
		if (ret == -EINTR)
			continue;
		if ((ret == 0 || ret == -EAGAIN || ret == -EBUSY) &&
		    ++tries < SFS_SUBMIT_MAX_RETRIES) {
			pthread_mutex_unlock(&st->ring_lock);
			usleep(SFS_SUBMIT_RETRY_USEC);
			pthread_mutex_lock(&st->ring_lock);
			continue;
		}
		ring_break_locked(st, ret ? ret : -EAGAIN);
	}
}

/*
 * Submit n requests of one batch.  Everything is submitted before this
 * returns; we only wait here when the ring is full, after handing what we
 * queued so far to the kernel.
 */
static void io_submit_batch(struct sfs_block_state *st, struct sfs_io **ios, int n)
{
	struct sfs_io *io;
	int i;

	pthread_mutex_lock(&st->ring_lock);
	for (i = 0; i < n; i++) {
		io = ios[i];

		while (!st->broken && st->inflight >= st->depth) {
			io_flush_locked(st);
			if (!st->broken && st->inflight >= st->depth)
				pthread_cond_wait(&st->space_cond, &st->ring_lock);
		}

		if (io->op == IO_READ)
			st->reads_submitted++;
		else if (io->op == IO_WRITE)
			st->writes_submitted++;
		else if (io->op == IO_WRITEV)
			st->writes_submitted += (uint64_t)io->iovcnt;	/* blocks */
		else if (io->op == IO_FSYNC)
			st->flushes++;
		st->inflight++;
		if (st->inflight > st->max_in_flight)
			st->max_in_flight = st->inflight;

		io_queue_locked(st, io);
	}
	io_flush_locked(st);
	pthread_mutex_unlock(&st->ring_lock);
}

/* submit n requests together and wait for all of them; results in ios[i]->res */
/*
 * A thread's own ring, for the synchronous batches it runs that fit.
 * Handing a request to the shared ring costs the caller a sleep and the
 * reaper a wakeup; for one 4 KiB read that is most of its cost.  With its
 * own ring the caller submits and waits for the completions itself: one
 * io_uring_enter per round, no handoff.  Made on a thread's first small
 * batch, freed when the thread exits; requests on it are not counted in
 * st->inflight (nobody else waits for them).
 */
struct thread_ring {
	struct io_uring ring;
	bool ok;
};

static void thread_ring_free(void *arg)
{
	struct thread_ring *tr = arg;

	if (tr && tr->ok)
		io_uring_queue_exit(&tr->ring);
	free(tr);
}

static struct thread_ring *thread_ring(struct sfs_block_state *st)
{
	struct thread_ring *tr;

	if (!st->tring_key_made)
		return NULL;
	tr = pthread_getspecific(st->tring_key);
	if (!tr) {
		tr = calloc(1, sizeof(*tr));
		if (!tr)
			return NULL;
		/* if a thread cannot have one it keeps using the shared ring */
		tr->ok = io_uring_queue_init(SFS_TRING_DEPTH, &tr->ring, 0) == 0;
		if (pthread_setspecific(st->tring_key, tr)) {
			thread_ring_free(tr);
			return NULL;
		}
	}
	return tr->ok ? tr : NULL;
}

/* drop n written bytes from the front of a writev's iovecs */
static void iov_advance(struct sfs_io *io, size_t n)
{
	while (n && io->iovcnt) {
		if (n < io->iov[0].iov_len) {
			io->iov[0].iov_base = (char *)io->iov[0].iov_base + n;
			io->iov[0].iov_len -= n;
			return;
		}
		n -= io->iov[0].iov_len;
		io->iov++;
		io->iovcnt--;
	}
}

/*
 * A completion (res) of io arrived: true when io is finished (io->res
 * set), false when it must be submitted again, for the rest of a partial
 * transfer or after -EAGAIN/-EINTR.
 */
static bool io_progress(struct sfs_io *io, int res)
{
	size_t left = io->len - io->done;

	if ((res == -EAGAIN || res == -EINTR) && io->retries < SFS_IO_MAX_RETRIES) {
		io->retries++;
		return false;
	}
	if (res < 0) {
		io->res = res;
		return true;
	}
	if (io->op == IO_FSYNC || io->op == IO_NOP) {
		io->res = 0;
		return true;
	}
	if (res == 0) {
		io->eof = true;
		io->res = -EIO;
		return true;
	}
	io->done += (size_t)res < left ? (size_t)res : left;
	if (io->op == IO_WRITEV && io->done < io->len)
		iov_advance(io, (size_t)res);
	if (io->done < io->len)
		return false;
	io->res = 0;
	return true;
}

/*
 * Run a batch of at most tring_depth requests on this thread's ring and
 * wait for it.  False (nothing done) when the batch is too big or the
 * thread has no ring: the caller uses the shared one.
 */
static bool io_run_local(struct sfs_block_state *st, struct sfs_io **ios, int n)
{
	struct sfs_io *queued[SFS_TRING_DEPTH];
	struct thread_ring *tr;
	struct io_uring_cqe *cqe;
	struct sfs_io *io;
	unsigned int tries = 0;
	int nq = 0;
	int left = n;
	int ret;
	int i;

	if (n > SFS_TRING_DEPTH || (unsigned int)n > st->depth)
		return false;
	tr = thread_ring(st);
	if (!tr)
		return false;

	pthread_mutex_lock(&st->ring_lock);
	for (i = 0; i < n; i++) {
		io = ios[i];
		if (io->op == IO_READ)
			st->reads_submitted++;
		else if (io->op == IO_WRITE)
			st->writes_submitted++;
		else if (io->op == IO_WRITEV)
			st->writes_submitted += (uint64_t)io->iovcnt;	/* blocks */
		else if (io->op == IO_FSYNC)
			st->flushes++;
	}
	if ((uint64_t)n > st->max_in_flight)
		st->max_in_flight = (uint64_t)n;
	pthread_mutex_unlock(&st->ring_lock);

	/* the ring has an SQE for each request, and twice as many CQEs */
	for (i = 0; i < n; i++) {
		io_prep(io_uring_get_sqe(&tr->ring), ios[i]);
		queued[nq++] = ios[i];
	}

	while (left > 0) {
		if (nq)
			ret = io_uring_submit_and_wait(&tr->ring, 1);
		else
			ret = io_uring_wait_cqe(&tr->ring, &cqe);
		if (ret < 0) {
			if ((ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) &&
			    ++tries < SFS_SUBMIT_MAX_RETRIES) {
				if (ret != -EINTR)
					usleep(SFS_SUBMIT_RETRY_USEC);
				continue;
			}
			if (!nq) {
				/* requests the kernel holds must complete before we go */
				sfs_err(st->fs, "block: waiting on a thread's io_uring: %s",
					strerror(-ret));
				usleep(SFS_SUBMIT_RETRY_USEC);
				continue;
			}
			/*
			 * What was not submitted fails; the ring is not used
			 * again (its SQ still holds those entries), and what
			 * the kernel took is waited for above.
			 */
			sfs_err(st->fs, "block: thread io_uring submit failed: %s",
				strerror(-ret));
			tr->ok = false;
			for (i = 0; i < nq; i++) {
				queued[i]->res = -EIO;
				left--;
			}
			nq = 0;
			continue;
		}
		tries = 0;
		nq = 0; /* submit_and_wait took every queued SQE */
		while (io_uring_peek_cqe(&tr->ring, &cqe) == 0) {
			io = io_uring_cqe_get_data(cqe);
			ret = cqe->res;
			io_uring_cqe_seen(&tr->ring, cqe);
			if (io_progress(io, ret)) {
				left--;
			} else {
				io_prep(io_uring_get_sqe(&tr->ring), io);
				queued[nq++] = io;
			}
		}
	}
	return true;
}

static void io_run(struct sfs_block_state *st, struct sfs_io **ios, int n)
{
	struct io_batch batch;
	int i;

	if (n <= 0)
		return;
	if (io_run_local(st, ios, n))
		return;

	pthread_cond_init(&batch.cond, NULL);
	batch.pending = n;
	for (i = 0; i < n; i++)
		ios[i]->batch = &batch;

	io_submit_batch(st, ios, n);

	pthread_mutex_lock(&st->ring_lock);
	while (batch.pending > 0)
		pthread_cond_wait(&batch.cond, &st->ring_lock);
	pthread_mutex_unlock(&st->ring_lock);

	for (i = 0; i < n; i++)
		ios[i]->batch = NULL;
	pthread_cond_destroy(&batch.cond);
}

/* one request, synchronously; returns io_errno() */
static int io_run_one(struct sfs_block_state *st, struct sfs_io *io)
{
	io_run(st, &io, 1);
	return io_errno(io);
}

/* a completion arrived for io: finish it or send the rest again */
static void io_reap_locked(struct sfs_block_state *st, struct sfs_io *io, int res)
{
	if (io_progress(io, res)) {
		io_complete_locked(st, io, io->res);
		return;
	}
	io_queue_locked(st, io);
	io_flush_locked(st);
}

static void *reaper_thread(void *arg)
{
	struct sfs_block_state *st = arg;
	struct io_uring_cqe *cqes[SFS_REAP_BATCH];
	struct sfs_io *ios[SFS_REAP_BATCH];
	int res[SFS_REAP_BATCH];
	bool ext_arg = st->ring.features & IORING_FEAT_EXT_ARG;
	bool logged = false;
	bool stop = false;
	struct io_uring_cqe *cqe;
	unsigned int n;
	unsigned int i;
	int ret;

	while (!stop) {
		/* with EXT_ARG a timed wait does not touch the SQ (submitters own it) */
		if (ext_arg) {
			struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};

			ret = io_uring_wait_cqe_timeout(&st->ring, &cqe, &ts);
		} else {
			ret = io_uring_wait_cqe(&st->ring, &cqe);
		}
		if (ret < 0) {
			if (ret != -ETIME && ret != -EINTR && ret != -EAGAIN) {
				if (!logged)
					sfs_err(st->fs,
						"block: waiting for io_uring completions: %s",
						strerror(-ret));
				logged = true;
				usleep(10000);
			}
			pthread_mutex_lock(&st->ring_lock);
			stop = st->stopping && st->inflight == 0;
			pthread_mutex_unlock(&st->ring_lock);
			continue;
		}

		/* copy the completions out and free their CQ slots first */
		n = io_uring_peek_batch_cqe(&st->ring, cqes, SFS_REAP_BATCH);
		for (i = 0; i < n; i++) {
			ios[i] = io_uring_cqe_get_data(cqes[i]);
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&st->ring, n);

		pthread_mutex_lock(&st->ring_lock);
		for (i = 0; i < n; i++) {
			if (ios[i] == &st->stop_io)
				stop = true;
			else if (ios[i])
				io_reap_locked(st, ios[i], res[i]);
		}
		pthread_mutex_unlock(&st->ring_lock);
	}

	return NULL;
}

static int ring_setup(struct sfs_block_state *st, unsigned int depth)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(depth, &st->ring, &p);
	if (ret < 0) {
		sfs_err(st->fs, "block: io_uring setup with %u entries failed: %s", depth,
			strerror(-ret));
		goto out;
	}
	st->ring_inited = true;
	st->depth = st->ring.sq.ring_entries;
	if (st->ring.cq.ring_entries < 2 * st->depth) {
		/* invariant 1 needs a CQ of twice the SQ, which is the kernel default */
		sfs_err(st->fs, "block: io_uring CQ has %u entries for an SQ of %u",
			st->ring.cq.ring_entries, st->depth);
		ret = -EINVAL;
		goto out;
	}

	ret = -pthread_create(&st->reaper, NULL, reaper_thread, st);
	if (ret) {
		sfs_err(st->fs, "block: cannot start the completion thread: %s", strerror(-ret));
		goto out;
	}
	st->reaper_started = true;
	ret = 0;
out:
	return ret;
}

static void ring_stop(struct sfs_block_state *st)
{
	struct io_uring_sqe *sqe;

	if (!st->reaper_started)
		return;

	pthread_mutex_lock(&st->ring_lock);
	if (st->inflight > 0)
		sfs_warn(st->fs, "block: destroy with %u requests in flight, waiting",
			 st->inflight);
	while (st->inflight > 0)
		pthread_cond_wait(&st->space_cond, &st->ring_lock);
	st->stopping = true;

	/* wake the reaper now; if the ring broke it notices stopping by itself */
	io_init(&st->stop_io, NULL, IO_NOP, NULL, 0, 0);
	if (!st->broken) {
		sqe = io_uring_get_sqe(&st->ring);
		if (sqe) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data(sqe, &st->stop_io);
			pend_push_locked(st, &st->stop_io);
			io_flush_locked(st);
		}
	}
	pthread_mutex_unlock(&st->ring_lock);

	pthread_join(st->reaper, NULL);
	st->reaper_started = false;
}

/* ------------------------------------------------------------------ */
/* Devices                                                              */
/* ------------------------------------------------------------------ */

static int dev_check_type(struct sfs_fs *fs, const char *name, const char *path,
			  const struct stat *sb)
{
	if (S_ISDIR(sb->st_mode)) {
		sfs_err(fs, "%s device %s: is a directory, not a block device or image file", name,
			path);
		return -EISDIR;
	}
	if (!S_ISREG(sb->st_mode) && !S_ISBLK(sb->st_mode)) {
		sfs_err(fs, "%s device %s: not a block device or regular image file", name, path);
		return -ENOTBLK;
	}
	return 0;
}

static int dev_open(struct sfs_fs *fs, struct sfs_bdev *d, const char *name, const char *path,
		    const struct sfs_block_opts *opts)
{
	struct stat sb;
	uint64_t size = 0;
	int lbs = 0;
	int flags;
	int fd = -1;
	int ret;

	d->name = name;

	if (!path || !path[0]) {
		sfs_err(fs, "%s device: no path given", name);
		ret = -EINVAL;
		goto out;
	}

	/* look before opening: opening a fifo could block */
	if (stat(path, &sb) < 0) {
		ret = -errno;
		sfs_err(fs, "%s device %s: %s", name, path, strerror(-ret));
		goto out;
	}
	ret = dev_check_type(fs, name, path, &sb);
	if (ret)
		goto out;

	flags = (opts->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (opts->exclusive && S_ISBLK(sb.st_mode))
		flags |= O_EXCL;

	d->direct = true;
	fd = open(path, flags | O_DIRECT);
	if (fd < 0 && errno == EINVAL && S_ISREG(sb.st_mode)) {
		d->direct = false;
		fd = open(path, flags);
		if (fd >= 0)
			sfs_warn(fs,
				 "%s device %s: no O_DIRECT, using buffered I/O (unsafe if shared)",
				 name, path);
	}
	if (fd < 0) {
		ret = -errno;
		sfs_err(fs, "%s device %s: open failed: %s", name, path, strerror(-ret));
		goto out;
	}

	/* it may have changed between stat and open */
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		sfs_err(fs, "%s device %s: fstat failed: %s", name, path, strerror(-ret));
		goto out;
	}
	ret = dev_check_type(fs, name, path, &sb);
	if (ret)
		goto out;

	if (S_ISBLK(sb.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			ret = -errno;
			sfs_err(fs, "%s device %s: cannot get its size: %s", name, path,
				strerror(-ret));
			goto out;
		}
		if (ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > (int)SFS_BLOCK_ALIGN) {
			sfs_err(fs, "%s device %s: logical block size %d is larger than %u", name,
				path, lbs, SFS_BLOCK_ALIGN);
			ret = -EINVAL;
			goto out;
		}
		d->is_bdev = true;
	} else {
		size = (uint64_t)sb.st_size;
		d->is_bdev = false;
	}

	d->path = strdup(path);
	if (!d->path) {
		ret = -ENOMEM;
		goto out;
	}
	d->size = size;
	d->fd = fd;
	fd = -1;
	sfs_debug(fs, "%s device %s: %llu bytes, %s, %s", name, path, (unsigned long long)size,
		  d->is_bdev ? "block device" : "image file", d->direct ? "O_DIRECT" : "buffered");
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static void dev_close(struct sfs_bdev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->path);
	d->path = NULL;
}

/*
 * Refuse a read of a block (of 1 << shift bytes) that starts at or past
 * the end of the device; one that starts inside and runs past it is
 * submitted and comes back short.  In block units, so a garbage blkno
 * cannot wrap around to a valid byte offset.
 */
static bool dev_read_past_end(struct sfs_bdev *d, uint64_t blkno, unsigned int shift)
{
	uint64_t size = dev_size_load(d);

	return size == 0 || blkno > ((size - 1) >> shift);
}

/*
 * Writes may grow image files, never block devices, and never reach
 * offsets a file cannot have.
 */
static bool dev_write_past_end(struct sfs_bdev *d, uint64_t blkno, unsigned int shift, uint64_t len)
{
	uint64_t off;

	if (blkno > ((uint64_t)INT64_MAX >> shift))
		return true;
	off = blkno << shift;
	if (len > (uint64_t)INT64_MAX - off)
		return true;
	return d->is_bdev && off + len > dev_size_load(d);
}

uint64_t sfs_block_dev_size(struct sfs_fs *fs, enum sfs_dev dev)
{
	struct sfs_bdev *d = dev_get(fs->block, dev);

	return d ? dev_size_load(d) : 0;
}

bool sfs_block_dev_direct(struct sfs_fs *fs, enum sfs_dev dev)
{
	struct sfs_bdev *d = dev_get(fs->block, dev);

	return d ? d->direct : false;
}

void sfs_block_set_fsid(struct sfs_fs *fs, uint64_t fsid)
{
	if (fs->block)
		__atomic_store_n(&fs->block->fsid, fsid, __ATOMIC_RELEASE);
}

static uint64_t st_fsid(struct sfs_block_state *st)
{
	return __atomic_load_n(&st->fsid, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------ */
/* Validation                                                           */
/* ------------------------------------------------------------------ */

/*
 * The crc of a block's contents.  A mismatch is logged at error level
 * when this is the final answer, at debug level when a re-read follows.
 */
static int check_crc(struct sfs_fs *fs, const char *what, uint64_t blkno, const void *blk,
		     size_t size, bool final)
{
	const struct scoutfs_block_header *hdr = blk;
	uint32_t stored = le32toh(hdr->crc);
	uint32_t calc = sfs_block_crc(blk, size);

	if (stored == calc)
		return 0;
	sfs_log(fs, final ? LOG_ERR : LOG_DEBUG,
		"%s block %llu: crc mismatch (stored 0x%08x, computed 0x%08x)%s", what,
		(unsigned long long)blkno, stored, calc, final ? "" : ", reading it again");
	return -EIO;
}

struct hdr_want {
	uint32_t magic;
	uint64_t fsid; /* 0: not checked */
	uint64_t blkno;
	bool check_blkno;
	uint64_t seq;
	bool check_seq;
};

/* what the header must say, in the order of format-spec 4.2 */
static int check_hdr(struct sfs_fs *fs, const char *what, uint64_t blkno, const void *blk,
		     const struct hdr_want *w)
{
	const struct scoutfs_block_header *hdr = blk;
	unsigned long long b = blkno;

	if (le32toh(hdr->magic) != w->magic) {
		sfs_debug(fs, "%s block %llu: magic 0x%08x, expected 0x%08x", what, b,
			  le32toh(hdr->magic), w->magic);
		return -ESTALE;
	}
	if (w->fsid && le64toh(hdr->fsid) != w->fsid) {
		sfs_debug(fs, "%s block %llu: fsid 0x%016llx, expected 0x%016llx", what, b,
			  (unsigned long long)le64toh(hdr->fsid), (unsigned long long)w->fsid);
		return -ESTALE;
	}
	if (w->check_seq && le64toh(hdr->seq) != w->seq) {
		sfs_debug(fs, "%s block %llu: seq 0x%016llx, expected 0x%016llx", what, b,
			  (unsigned long long)le64toh(hdr->seq), (unsigned long long)w->seq);
		return -ESTALE;
	}
	if (w->check_blkno && le64toh(hdr->blkno) != w->blkno) {
		sfs_debug(fs, "%s block %llu: header says blkno %llu", what, b,
			  (unsigned long long)le64toh(hdr->blkno));
		return -ESTALE;
	}
	return 0;
}

int sfs_block_check(struct sfs_fs *fs, const void *blk, size_t size, uint32_t magic, uint64_t fsid,
		    uint64_t blkno, uint64_t seq)
{
	const struct scoutfs_block_header *hdr = blk;
	const char *what = size == SCOUTFS_BLOCK_LG_SIZE ? "meta" : "sm";
	struct hdr_want w = {
		.magic = magic,
		.fsid = fsid,
		.blkno = blkno,
		.check_blkno = blkno != 0,
		.seq = seq,
		.check_seq = seq != 0,
	};
	uint64_t logno;
	int ret;

	if (!blk || size < sizeof(*hdr)) {
		ret = -EINVAL;
		goto out;
	}
	logno = blkno ? blkno : le64toh(hdr->blkno);
	ret = check_crc(fs, what, logno, blk, size, true);
	if (ret)
		goto out;
	ret = check_hdr(fs, what, logno, blk, &w);
out:
	return ret;
}

/* ------------------------------------------------------------------ */
/* The cache                                                            */
/* ------------------------------------------------------------------ */

static struct sfs_cblock *cb_of(struct sfs_block *bl)
{
	return (struct sfs_cblock *)bl->priv;
}

static unsigned int hash_idx(struct sfs_block_state *st, uint64_t blkno)
{
	return (unsigned int)((blkno * 0x9E3779B97F4A7C15ULL) >> (64 - st->hash_bits));
}

/*
 * LG block buffers are carved from 2 MiB arenas, mapped populated (one
 * system call for 32 blocks rather than 16 page faults per block), and
 * recycled through a free list, so that a commit building hundreds of
 * new blocks does not spend its time in page faults.  Free buffers beyond the cache bound give
 * their pages back to the kernel (and keep their addresses).
 */
#define BUF_ARENA_SIZE (2U << 20)

/* ASan still sees use after free of a recycled buffer */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define BUF_POISON(p) ASAN_POISON_MEMORY_REGION((p), SCOUTFS_BLOCK_LG_SIZE)
#define BUF_UNPOISON(p) ASAN_UNPOISON_MEMORY_REGION((p), SCOUTFS_BLOCK_LG_SIZE)
#else
#define BUF_POISON(p) ((void)(p))
#define BUF_UNPOISON(p) ((void)(p))
#endif
#ifdef __SANITIZE_ADDRESS__
#define BUF_POISON_ARENA(p) ASAN_POISON_MEMORY_REGION((p), BUF_ARENA_SIZE)
#else
#define BUF_POISON_ARENA(p) ((void)(p))
#endif

struct buf_arena {
	struct buf_arena *next;
	char *mem;
	unsigned int used;	/* bytes handed out */
};

/* a populated arena; NULL without memory */
static struct buf_arena *arena_map(void)
{
	struct buf_arena *ar = calloc(1, sizeof(*ar));

	if (!ar)
		return NULL;
	ar->mem = mmap(NULL, BUF_ARENA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (ar->mem == MAP_FAILED) {
		free(ar);
		return NULL;
	}
	BUF_POISON_ARENA(ar->mem);
	return ar;
}

static void *lg_buf_get(struct sfs_block_state *st, bool zero)
{
	struct buf_arena *ar;
	bool recycled = false;
	void *buf = NULL;

	pthread_mutex_lock(&st->buf_lock);
	if (st->free_bufs) {
		recycled = true;
		buf = st->free_bufs;
		BUF_UNPOISON(buf);
		st->free_bufs = *(void **)buf;
		st->nr_free_bufs--;
		goto out;
	}
	ar = st->arenas;
	if (!ar || ar->used == BUF_ARENA_SIZE) {
		/* the next prefilled arena, or a new one */
		ar = st->fresh;
		if (ar) {
			st->fresh = ar->next;
			st->nr_fresh--;
		} else {
			pthread_mutex_unlock(&st->buf_lock);
			ar = arena_map();
			pthread_mutex_lock(&st->buf_lock);
			if (!ar)
				goto out;
			st->nr_arenas++;
		}
		ar->next = st->arenas;
		st->arenas = ar;
	}
	buf = ar->mem + ar->used;
	BUF_UNPOISON(buf);
	ar->used += SCOUTFS_BLOCK_LG_SIZE;
out:
	pthread_mutex_unlock(&st->buf_lock);
	/* new mappings are zero */
	if (buf && zero && recycled)
		memset(buf, 0, SCOUTFS_BLOCK_LG_SIZE);
	return buf;
}

/*
 * Map and populate arenas up to the cache bound in the background after
 * setup, so that the first commits find buffers without faulting them
 * in: the memory a warm cache holds anyway.
 */
static void *prefill_thread(void *arg)
{
	struct sfs_block_state *st = arg;
	struct buf_arena *ar;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&st->buf_lock);
		stop = st->prefill_stop ||
		       (st->nr_arenas + 1) * (uint64_t)BUF_ARENA_SIZE > st->cache_bound;
		if (!stop)
			st->nr_arenas++;	/* reserved for the one mapped below */
		pthread_mutex_unlock(&st->buf_lock);
		if (stop)
			break;
		ar = arena_map();
		pthread_mutex_lock(&st->buf_lock);
		if (ar) {
			ar->next = st->fresh;
			st->fresh = ar;
			st->nr_fresh++;
		} else {
			st->nr_arenas--;
			st->prefill_stop = true;
		}
		pthread_mutex_unlock(&st->buf_lock);
	}
	return NULL;
}

static void lg_buf_put(struct sfs_block_state *st, void *buf)
{
	pthread_mutex_lock(&st->buf_lock);
	if ((st->nr_free_bufs + 1) * SCOUTFS_BLOCK_LG_SIZE > st->cache_bound)
		madvise(buf, SCOUTFS_BLOCK_LG_SIZE, MADV_DONTNEED);
	*(void **)buf = st->free_bufs;
	BUF_POISON(buf);
	st->free_bufs = buf;
	st->nr_free_bufs++;
	pthread_mutex_unlock(&st->buf_lock);
}

static void lg_bufs_destroy(struct sfs_block_state *st)
{
	struct buf_arena *ar;

	if (st->prefill_started) {
		pthread_mutex_lock(&st->buf_lock);
		st->prefill_stop = true;
		pthread_mutex_unlock(&st->buf_lock);
		pthread_join(st->prefill, NULL);
		st->prefill_started = false;
	}
	while ((ar = st->fresh)) {
		st->fresh = ar->next;
		ar->next = st->arenas;
		st->arenas = ar;
	}
	while ((ar = st->arenas)) {
		st->arenas = ar->next;
#ifdef __SANITIZE_ADDRESS__
		ASAN_UNPOISON_MEMORY_REGION(ar->mem, BUF_ARENA_SIZE);
#endif
		munmap(ar->mem, BUF_ARENA_SIZE);
		free(ar);
	}
	st->free_bufs = NULL;
	st->nr_free_bufs = 0;
}

static struct sfs_cblock *cb_alloc(struct sfs_block_state *st, uint64_t blkno, bool zero)
{
	struct sfs_cblock *cb;
	void *data = NULL;

	cb = calloc(1, sizeof(*cb));
	if (!cb)
		goto out;
	data = lg_buf_get(st, zero);
	if (!data) {
		free(cb);
		cb = NULL;
		goto out;
	}
	cb->bl.blkno = blkno;
	cb->bl.data = data;
	cb->bl.priv = cb;
	cb->st = st;
	lst_init(&cb->lru);
	lst_init(&cb->all);
out:
	return cb;
}

/* free a block that was never inserted */
static void cb_free_unlisted(struct sfs_cblock *cb)
{
	lg_buf_put(cb->st, cb->bl.data);
	free(cb);
}

static void cb_free_locked(struct sfs_block_state *st, struct sfs_cblock *cb)
{
	lst_del(&cb->all);
	st->cache_bytes -= SCOUTFS_BLOCK_LG_SIZE;
	cb_free_unlisted(cb);
}

static struct sfs_cblock *lookup_locked(struct sfs_block_state *st, uint64_t blkno)
{
	struct sfs_cblock *cb;

	for (cb = st->hash[hash_idx(st, blkno)]; cb; cb = cb->hnext) {
		if (cb->bl.blkno == blkno)
			return cb;
	}
	return NULL;
}

/* take a block out of the hash (and LRU); frees it if nobody holds it */
static void unhash_locked(struct sfs_block_state *st, struct sfs_cblock *cb)
{
	struct sfs_cblock **pp;

	if (!(cb->flags & CB_HASHED))
		return;

	for (pp = &st->hash[hash_idx(st, cb->bl.blkno)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == cb) {
			*pp = cb->hnext;
			break;
		}
	}
	cb->hnext = NULL;
	cb->flags &= ~CB_HASHED;
	if (!lst_empty(&cb->lru))
		lst_del(&cb->lru);
	if (cb->refs == 0)
		cb_free_locked(st, cb);
}

/* trim unreferenced clean blocks, oldest first, down to the bound */
static void evict_locked(struct sfs_block_state *st)
{
	struct sfs_cblock *cb;

	while (st->cache_bytes > st->cache_bound && !lst_empty(&st->lru)) {
		cb = lst_entry(st->lru.prev, struct sfs_cblock, lru);
		unhash_locked(st, cb);
		st->cache_evictions++;
	}
}

/* insert a new referenced block, replacing any hashed copy of its blkno */
static void insert_locked(struct sfs_block_state *st, struct sfs_cblock *cb)
{
	struct sfs_cblock *old = lookup_locked(st, cb->bl.blkno);
	unsigned int idx = hash_idx(st, cb->bl.blkno);

	if (old)
		unhash_locked(st, old);
	cb->hnext = st->hash[idx];
	st->hash[idx] = cb;
	cb->flags |= CB_HASHED;
	cb->refs = 1;
	lst_add(&cb->all, &st->all);
	st->cache_bytes += SCOUTFS_BLOCK_LG_SIZE;
	evict_locked(st);
}

static void get_locked(struct sfs_cblock *cb)
{
	if (cb->refs++ == 0 && !lst_empty(&cb->lru))
		lst_del(&cb->lru);
}

static void put_locked(struct sfs_block_state *st, struct sfs_cblock *cb)
{
	if (--cb->refs > 0)
		return;
	if (!(cb->flags & CB_HASHED)) {
		cb_free_locked(st, cb);
	} else if (!(cb->flags & CB_DIRTY) && cb->state == CB_UPTODATE) {
		lst_add(&cb->lru, &st->lru);
		evict_locked(st);
	}
}

void sfs_block_get(struct sfs_block *bl)
{
	struct sfs_cblock *cb;

	if (!bl)
		return;
	cb = cb_of(bl);
	pthread_mutex_lock(&cb->st->cache_lock);
	get_locked(cb);
	pthread_mutex_unlock(&cb->st->cache_lock);
}

void sfs_block_put(struct sfs_fs *fs, struct sfs_block *bl)
{
	struct sfs_block_state *st;
	struct sfs_cblock *cb;

	(void)fs;
	if (!bl)
		return;
	cb = cb_of(bl);
	st = cb->st;
	pthread_mutex_lock(&st->cache_lock);
	put_locked(st, cb);
	pthread_mutex_unlock(&st->cache_lock);
}

/* a copy failed a check: make sure no one else finds it, and drop our ref */
static void drop_copy(struct sfs_block_state *st, struct sfs_cblock *cb)
{
	pthread_mutex_lock(&st->cache_lock);
	unhash_locked(st, cb);
	put_locked(st, cb);
	pthread_mutex_unlock(&st->cache_lock);
}

/*
 * A referenced block for blkno.  A cached one is returned unless force;
 * otherwise a new READING block replaces it and *inserted tells the
 * caller that it must read it.  NULL on allocation failure.
 */
static struct sfs_cblock *cache_get_or_insert(struct sfs_block_state *st, uint64_t blkno,
					      bool force, bool *inserted)
{
	struct sfs_cblock *cb;
	struct sfs_cblock *new;

	*inserted = false;

	pthread_mutex_lock(&st->cache_lock);
	cb = force ? NULL : lookup_locked(st, blkno);
	if (cb) {
		get_locked(cb);
		st->cache_hits++;
	}
	pthread_mutex_unlock(&st->cache_lock);
	if (cb)
		return cb;

	new = cb_alloc(st, blkno, false);
	if (!new)
		return NULL;

	pthread_mutex_lock(&st->cache_lock);
	cb = force ? NULL : lookup_locked(st, blkno);
	if (cb) {
		/* another reader got there while we allocated */
		get_locked(cb);
		st->cache_hits++;
	} else {
		new->state = CB_READING;
		insert_locked(st, new);
		st->cache_misses++;
		*inserted = true;
		cb = new;
		new = NULL;
	}
	pthread_mutex_unlock(&st->cache_lock);

	if (new)
		cb_free_unlisted(new);
	return cb;
}

/* the end of a block's read: UPTODATE, or ERROR and unhashed */
static void publish_locked(struct sfs_block_state *st, struct sfs_cblock *cb, int err)
{
	if (err) {
		cb->state = CB_ERROR;
		cb->err = err;
		unhash_locked(st, cb);
	} else {
		cb->state = CB_UPTODATE;
	}
}

/* ------------------------------------------------------------------ */
/* LG block reads                                                       */
/* ------------------------------------------------------------------ */

struct read_slot {
	struct sfs_cblock *cb; /* referenced while set */
	struct sfs_io io;
	bool todo;    /* still to be read in this attempt */
	bool reading; /* we read cb from the device */
	bool waiting; /* another reader is reading cb */
	bool crc_err;
	int err;
};

/*
 * Get a referenced, crc-checked copy of every todo slot's block: cached
 * copies are taken as they are (unless force), the rest are read from
 * the device all in one batch.  Blocks someone else is reading are
 * waited for after our own reads were published, so two callers reading
 * overlapping sets cannot wait on each other.
 */
static void fetch_blocks(struct sfs_block_state *st, const struct scoutfs_block_ref *refs,
			 struct read_slot *slots, int nr, bool force, bool final)
{
	struct sfs_fs *fs = st->fs;
	struct sfs_bdev *d = &st->devs[SFS_DEV_META];
	int prio = final ? LOG_ERR : LOG_DEBUG;
	struct sfs_io **ios = NULL;
	struct read_slot *s;
	uint64_t blkno;
	char why[128];
	bool inserted;
	int nios = 0;
	int i;

	ios = calloc(nr, sizeof(ios[0]));

	for (i = 0; i < nr; i++) {
		s = &slots[i];
		if (!s->todo)
			continue;
		s->cb = NULL;
		s->reading = false;
		s->waiting = false;
		s->crc_err = false;
		s->err = 0;

		blkno = le64toh(refs[i].blkno);
		if (blkno < SCOUTFS_META_DEV_START_BLKNO) {
			sfs_log(fs, prio, "meta block %llu: reference into the reserved area",
				(unsigned long long)blkno);
			s->err = -EIO;
			continue;
		}
		if (!ios) {
			s->err = -ENOMEM;
			continue;
		}

		s->cb = cache_get_or_insert(st, blkno, force, &inserted);
		if (!s->cb) {
			s->err = -ENOMEM;
			continue;
		}
		if (!inserted) {
			s->waiting = true; /* cheap check below if it is already uptodate */
			continue;
		}

		s->reading = true;
		if (dev_read_past_end(d, blkno, SCOUTFS_BLOCK_LG_SHIFT)) {
			sfs_log(fs, prio, "meta block %llu: read past the device end (%llu bytes)",
				(unsigned long long)blkno, (unsigned long long)dev_size_load(d));
			s->err = -EIO;
			continue;
		}
		io_init(&s->io, d, IO_READ, s->cb->bl.data, SCOUTFS_BLOCK_LG_SIZE,
			blkno << SCOUTFS_BLOCK_LG_SHIFT);
		ios[nios++] = &s->io;
	}

	io_run(st, ios, nios);

	/* check what we read (crc is the expensive part: no locks held) */
	for (i = 0; i < nr; i++) {
		s = &slots[i];
		if (!s->todo || !s->reading || s->err)
			continue;
		blkno = s->cb->bl.blkno;
		if (s->io.res) {
			sfs_log(fs, prio, "meta block %llu: %s", (unsigned long long)blkno,
				io_why(&s->io, why, sizeof(why)));
			s->err = -EIO;
		} else if (check_crc(fs, "meta", blkno, s->cb->bl.data, SCOUTFS_BLOCK_LG_SIZE,
				     final)) {
			s->err = -EIO;
			s->crc_err = true;
		}
	}

	pthread_mutex_lock(&st->cache_lock);
	for (i = 0; i < nr; i++) {
		s = &slots[i];
		if (s->todo && s->reading) {
			publish_locked(st, s->cb, s->err);
			if (s->crc_err && final)
				st->crc_errors++;
		}
	}
	pthread_cond_broadcast(&st->cache_cond);

	for (i = 0; i < nr; i++) {
		s = &slots[i];
		if (!s->todo || !s->waiting)
			continue;
		while (s->cb->state == CB_READING)
			pthread_cond_wait(&st->cache_cond, &st->cache_lock);
		if (s->cb->state == CB_ERROR)
			s->err = s->cb->err;
	}
	pthread_mutex_unlock(&st->cache_lock);

	free(ios);
}

/* the calling thread retries a read that meets stale blocks (item.c) */
static __thread bool reader_retries;

void sfs_block_reader_retries(bool on)
{
	reader_retries = on;
}

/*
 * The block_remove_stale trigger (trigger.h): the first slot that holds a
 * clean copy of a btree block read by reference, if the trigger is armed
 * (which disarms it), else -1.  Only for a reader that retries with fresh
 * roots (sfs_block_reader_retries): the server's and the background
 * workers' reads of the same process must not take the trigger first.
 * Dirty blocks are their writer's own and never stale; callers that write
 * read only clean copies of their own trees, so the test arms it where
 * nothing is being committed.
 */
static int stale_trigger_slot(struct sfs_block_state *st, struct read_slot *slots, int nr)
{
	struct sfs_fs *fs = st->fs;
	int found = -1;
	int i;

	if (!reader_retries || !(__atomic_load_n(&fs->triggers, __ATOMIC_RELAXED) &
				 (1U << SFS_TRIGGER_BLOCK_REMOVE_STALE)))
		return -1;
	pthread_mutex_lock(&st->cache_lock);
	for (i = 0; i < nr && found < 0; i++)
		if (slots[i].todo && slots[i].cb && !slots[i].err &&
		    !(slots[i].cb->flags & CB_DIRTY))
			found = i;
	pthread_mutex_unlock(&st->cache_lock);
	if (found >= 0 && !sfs_trigger_fired(fs, SFS_TRIGGER_BLOCK_REMOVE_STALE))
		found = -1;
	return found;
}

static int read_lg(struct sfs_fs *fs, const struct scoutfs_block_ref *refs, int nr, uint32_t magic,
		   bool check_seq, struct sfs_block **bls, int *errs)
{
	struct sfs_block_state *st = fs->block;
	struct read_slot *slots = NULL;
	struct hdr_want w;
	struct read_slot *s;
	bool failed;
	int attempt;
	int forced = -1; /* block_remove_stale: this slot's copies are taken as stale */
	int ret = 0;
	int i;

	if (nr <= 0)
		goto out;

	if (!st)
		ret = -ENODEV;
	else if (!(slots = calloc(nr, sizeof(slots[0]))))
		ret = -ENOMEM;
	for (i = 0; i < nr; i++) {
		bls[i] = NULL;
		if (errs)
			errs[i] = ret;
	}
	if (ret)
		goto out;
	for (i = 0; i < nr; i++)
		slots[i].todo = true;

	/* the first attempt may use cached copies; the second rereads failures */
	for (attempt = 0; attempt < 2; attempt++) {
		fetch_blocks(st, refs, slots, nr, attempt > 0, attempt == 1);
		if (attempt == 0 && check_seq && magic == SCOUTFS_BLOCK_MAGIC_BTREE)
			forced = stale_trigger_slot(st, slots, nr);

		failed = false;
		for (i = 0; i < nr; i++) {
			s = &slots[i];
			if (!s->todo)
				continue;
			if (!s->err) {
				w = (struct hdr_want){
					.magic = magic,
					.fsid = st_fsid(st),
					.blkno = le64toh(refs[i].blkno),
					.check_blkno = true,
					.seq = le64toh(refs[i].seq),
					.check_seq = check_seq,
				};
				s->err = check_hdr(fs, "meta", w.blkno, s->cb->bl.data, &w);
				if (!s->err && i == forced) {
					sfs_debug(fs, "meta block %llu: taken as stale (trigger block_remove_stale)%s",
						  (unsigned long long)w.blkno,
						  attempt ? "" : ", reading it again");
					s->err = -ESTALE;
				}
			}
			if (s->err) {
				if (s->cb)
					drop_copy(st, s->cb);
				s->cb = NULL;
				failed = true;
			} else {
				s->todo = false;
			}
		}
		if (!failed)
			break;
	}

	for (i = 0; i < nr; i++) {
		s = &slots[i];
		bls[i] = s->cb ? &s->cb->bl : NULL;
		if (errs)
			errs[i] = s->err;
		if (s->err == -ESTALE) {
			pthread_mutex_lock(&st->cache_lock);
			st->stale_errors++;
			pthread_mutex_unlock(&st->cache_lock);
		}
		if (s->err && !ret)
			ret = s->err;
	}
out:
	free(slots);
	return ret;
}

int sfs_block_read_refs(struct sfs_fs *fs, const struct scoutfs_block_ref *refs, int nr,
			uint32_t magic, struct sfs_block **bls, int *errs)
{
	return read_lg(fs, refs, nr, magic, true, bls, errs);
}

int sfs_block_read_ref(struct sfs_fs *fs, const struct scoutfs_block_ref *ref, uint32_t magic,
		       struct sfs_block **bl_ret)
{
	return read_lg(fs, ref, 1, magic, true, bl_ret, NULL);
}

int sfs_block_read_blkno(struct sfs_fs *fs, uint64_t blkno, uint32_t magic,
			 struct sfs_block **bl_ret)
{
	struct scoutfs_block_ref ref = {
		.blkno = htole64(blkno),
		.seq = 0,
	};

	return read_lg(fs, &ref, 1, magic, false, bl_ret, NULL);
}

/* ------------------------------------------------------------------ */
/* LG block writes                                                      */
/* ------------------------------------------------------------------ */

struct sfs_block *sfs_block_new(struct sfs_fs *fs, uint64_t blkno)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_cblock *cb;

	if (!st)
		return NULL;
	if (blkno < SCOUTFS_META_DEV_START_BLKNO) {
		sfs_err(fs, "meta block %llu: cannot create a block in the reserved area",
			(unsigned long long)blkno);
		return NULL;
	}

	cb = cb_alloc(st, blkno, true);
	if (!cb)
		return NULL;

	pthread_mutex_lock(&st->cache_lock);
	cb->state = CB_UPTODATE;
	cb->flags |= CB_DIRTY;
	insert_locked(st, cb);
	pthread_mutex_unlock(&st->cache_lock);

	return &cb->bl;
}

/* a block is on disk as it is in memory: it is the copy to cache */
static void written_locked(struct sfs_block_state *st, struct sfs_cblock *cb)
{
	struct sfs_cblock *old;
	unsigned int idx;

	cb->flags &= ~CB_DIRTY;
	cb->state = CB_UPTODATE;
	if (cb->flags & CB_HASHED)
		return;

	old = lookup_locked(st, cb->bl.blkno);
	if (old)
		unhash_locked(st, old);
	idx = hash_idx(st, cb->bl.blkno);
	cb->hnext = st->hash[idx];
	st->hash[idx] = cb;
	cb->flags |= CB_HASHED;
	if (cb->refs == 0) {
		/* only through a caller's extra put; keep invariant 3 */
		lst_add(&cb->lru, &st->lru);
		evict_locked(st);
	}
}

/* may bl be written?  Logged and -errno if not; no I/O */
static int write_refuse(struct sfs_fs *fs, struct sfs_bdev *d, struct sfs_block *bl)
{
	struct scoutfs_block_header *hdr = bl->data;

	if (bl->blkno < SCOUTFS_META_DEV_START_BLKNO || le64toh(hdr->blkno) != bl->blkno) {
		sfs_err(fs, "meta block %llu: refusing to write, header blkno %llu",
			(unsigned long long)bl->blkno, (unsigned long long)le64toh(hdr->blkno));
		return -EINVAL;
	}
	if (dev_write_past_end(d, bl->blkno, SCOUTFS_BLOCK_LG_SHIFT, SCOUTFS_BLOCK_LG_SIZE)) {
		sfs_err(fs, "meta block %llu: write past the device end (%llu bytes)",
			(unsigned long long)bl->blkno, (unsigned long long)dev_size_load(d));
		return -EIO;
	}
	return 0;
}

/* seal bl's contents with its crc and describe its write in io */
static void write_prep(struct sfs_bdev *d, struct sfs_block *bl, struct sfs_io *io)
{
	struct scoutfs_block_header *hdr = bl->data;

	hdr->crc = htole32(sfs_block_crc(bl->data, SCOUTFS_BLOCK_LG_SIZE));
	io_init(io, d, IO_WRITE, bl->data, SCOUTFS_BLOCK_LG_SIZE, bl->blkno << SCOUTFS_BLOCK_LG_SHIFT);
}

/*
 * After the writes of bls (ios[i] is bls[i]'s) completed: log failures,
 * grow an image file's known size, and make the written blocks the
 * clean cached copies.  Returns the first error.
 */
static int write_finish(struct sfs_fs *fs, struct sfs_bdev *d, struct sfs_block **bls,
			struct sfs_io *const *ios, int nr)
{
	struct sfs_block_state *st = fs->block;
	uint64_t end = 0;
	char why[128];
	int ret = 0;
	int err;
	int i;

	for (i = 0; i < nr; i++) {
		err = io_errno(ios[i]);
		if (err) {
			sfs_err(fs, "meta block %llu: %s", (unsigned long long)bls[i]->blkno,
				io_why(ios[i], why, sizeof(why)));
			if (!ret)
				ret = err;
		} else if (ios[i]->off + ios[i]->len > end) {
			end = ios[i]->off + ios[i]->len;
		}
	}
	if (!d->is_bdev)
		dev_size_grow(d, end);

	pthread_mutex_lock(&st->cache_lock);
	for (i = 0; i < nr; i++) {
		if (ios[i]->res == 0)
			written_locked(st, cb_of(bls[i]));
	}
	pthread_mutex_unlock(&st->cache_lock);
	return ret;
}

int sfs_block_write_blocks(struct sfs_fs *fs, struct sfs_block **bls, int nr)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, SFS_DEV_META);
	struct sfs_io **ios = NULL;
	struct sfs_io *io_mem = NULL;
	int ret = 0;
	int i;

	if (!d) {
		ret = -ENODEV;
		goto out;
	}
	if (st->read_only) {
		ret = -EROFS;
		goto out;
	}
	if (nr <= 0)
		goto out;

	/* refuse the whole batch before writing any of it */
	for (i = 0; i < nr; i++) {
		if (!bls[i]) {
			sfs_err(fs, "block: write batch entry %d is NULL", i);
			ret = -EINVAL;
			goto out;
		}
		ret = write_refuse(fs, d, bls[i]);
		if (ret)
			goto out;
	}

	ios = calloc(nr, sizeof(ios[0]));
	io_mem = calloc(nr, sizeof(io_mem[0]));
	if (!ios || !io_mem) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		write_prep(d, bls[i], &io_mem[i]);
		ios[i] = &io_mem[i];
	}
	io_run(st, ios, nr);
	ret = write_finish(fs, d, bls, ios, nr);
out:
	free(ios);
	free(io_mem);
	return ret;
}

/* ------------------------------------------------------------------ */
/* SM blocks, raw I/O and flush                                         */
/* ------------------------------------------------------------------ */

static int sm_read_once(struct sfs_block_state *st, struct sfs_bdev *d, uint64_t blkno,
			uint32_t magic, void *bounce, bool final)
{
	struct sfs_fs *fs = st->fs;
	int prio = final ? LOG_ERR : LOG_DEBUG;
	uint64_t off = blkno << SCOUTFS_BLOCK_SM_SHIFT;
	struct hdr_want w = {
		.magic = magic,
		.fsid = magic == SCOUTFS_BLOCK_MAGIC_SUPER ? 0 : st_fsid(st),
		.blkno = blkno,
		.check_blkno = true,
	};
	struct sfs_io io;
	char what[16];
	char why[128];
	int ret;

	snprintf(what, sizeof(what), "%s sm", d->name);

	if (dev_read_past_end(d, blkno, SCOUTFS_BLOCK_SM_SHIFT)) {
		sfs_log(fs, prio, "%s block %llu: read past the device end (%llu bytes)", what,
			(unsigned long long)blkno, (unsigned long long)dev_size_load(d));
		ret = -EIO;
		goto out;
	}

	io_init(&io, d, IO_READ, bounce, SCOUTFS_BLOCK_SM_SIZE, off);
	if (io_run_one(st, &io)) {
		sfs_log(fs, prio, "%s block %llu: %s", what, (unsigned long long)blkno,
			io_why(&io, why, sizeof(why)));
		ret = -EIO;
		goto out;
	}

	ret = check_crc(fs, what, blkno, bounce, SCOUTFS_BLOCK_SM_SIZE, final);
	if (ret) {
		if (final) {
			pthread_mutex_lock(&st->cache_lock);
			st->crc_errors++;
			pthread_mutex_unlock(&st->cache_lock);
		}
		goto out;
	}
	ret = check_hdr(fs, what, blkno, bounce, &w);
out:
	return ret;
}

int sfs_block_read_sm(struct sfs_fs *fs, enum sfs_dev dev, uint64_t blkno, uint32_t magic,
		      void *buf)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, dev);
	void *bounce = NULL;
	int ret;

	if (!d) {
		ret = -ENODEV;
		goto out;
	}
	bounce = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!bounce) {
		ret = -ENOMEM;
		goto out;
	}

	/* nothing is cached, but a failing read is still tried again once */
	ret = sm_read_once(st, d, blkno, magic, bounce, false);
	if (ret)
		ret = sm_read_once(st, d, blkno, magic, bounce, true);
	if (ret == -ESTALE) {
		pthread_mutex_lock(&st->cache_lock);
		st->stale_errors++;
		pthread_mutex_unlock(&st->cache_lock);
	}
	if (!ret)
		memcpy(buf, bounce, SCOUTFS_BLOCK_SM_SIZE);
out:
	free(bounce);
	return ret;
}

int sfs_block_write_sm(struct sfs_fs *fs, enum sfs_dev dev, uint64_t blkno, void *buf)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, dev);
	uint64_t off = blkno << SCOUTFS_BLOCK_SM_SHIFT;
	void *bounce = NULL;
	struct sfs_io io;
	char why[128];
	__le32 crc;
	int ret;

	if (!d) {
		ret = -ENODEV;
		goto out;
	}
	if (st->read_only) {
		ret = -EROFS;
		goto out;
	}
	if (dev_write_past_end(d, blkno, SCOUTFS_BLOCK_SM_SHIFT, SCOUTFS_BLOCK_SM_SIZE)) {
		sfs_err(fs, "%s sm block %llu: write past the device end (%llu bytes)", d->name,
			(unsigned long long)blkno, (unsigned long long)dev_size_load(d));
		ret = -EIO;
		goto out;
	}
	bounce = sfs_block_alloc_buf(SCOUTFS_BLOCK_SM_SIZE);
	if (!bounce) {
		ret = -ENOMEM;
		goto out;
	}

	/* buf may be unaligned: no struct access, memcpy the crc field */
	crc = htole32(sfs_block_crc(buf, SCOUTFS_BLOCK_SM_SIZE));
	memcpy(buf, &crc, sizeof(crc));
	memcpy(bounce, buf, SCOUTFS_BLOCK_SM_SIZE);

	io_init(&io, d, IO_WRITE, bounce, SCOUTFS_BLOCK_SM_SIZE, off);
	ret = io_run_one(st, &io);
	if (ret) {
		sfs_err(fs, "%s sm block %llu: %s", d->name, (unsigned long long)blkno,
			io_why(&io, why, sizeof(why)));
		goto out;
	}
	if (!d->is_bdev)
		dev_size_grow(d, off + SCOUTFS_BLOCK_SM_SIZE);
out:
	free(bounce);
	return ret;
}

static int raw_check(struct sfs_fs *fs, struct sfs_bdev *d, const void *buf, size_t len,
		     uint64_t off)
{
	if (((uintptr_t)buf | (uintptr_t)len | (uintptr_t)off) & (SFS_BLOCK_ALIGN - 1)) {
		sfs_err(fs, "%s device: unaligned raw I/O (buf %p, %zu bytes at %llu)", d->name,
			buf, len, (unsigned long long)off);
		return -EINVAL;
	}
	return 0;
}

int sfs_block_pread(struct sfs_fs *fs, enum sfs_dev dev, void *buf, size_t len, uint64_t off)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, dev);
	struct sfs_io io;
	char why[128];
	int ret;

	if (!d) {
		ret = -ENODEV;
		goto out;
	}
	ret = raw_check(fs, d, buf, len, off);
	if (ret || len == 0)
		goto out;
	if (dev_read_past_end(d, off, 0)) {
		sfs_err(fs,
			"%s device: read of %zu bytes at %llu: past the device end (%llu bytes)",
			d->name, len, (unsigned long long)off,
			(unsigned long long)dev_size_load(d));
		ret = -EIO;
		goto out;
	}

	io_init(&io, d, IO_READ, buf, len, off);
	if (io_run_one(st, &io)) {
		sfs_err(fs, "%s device: read of %zu bytes at %llu: %s", d->name, len,
			(unsigned long long)off, io_why(&io, why, sizeof(why)));
		ret = -EIO;
	}
out:
	return ret;
}

/* may len bytes at off be written to dev?  *d_ret is the device */
static int raw_write_check(struct sfs_fs *fs, enum sfs_dev dev, const void *buf, size_t len,
			   uint64_t off, struct sfs_bdev **d_ret)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, dev);
	int ret;

	if (!d)
		return -ENODEV;
	if (st->read_only)
		return -EROFS;
	ret = raw_check(fs, d, buf, len, off);
	if (ret)
		return ret;
	if (dev_write_past_end(d, off, 0, len)) {
		sfs_err(fs, "%s device: write of %zu bytes at %llu: past the device end (%llu bytes)",
			d->name, len, (unsigned long long)off, (unsigned long long)dev_size_load(d));
		return -EIO;
	}
	*d_ret = d;
	return 0;
}

/* a raw write of len bytes at off completed: its error logged, or the image grown */
static int raw_write_done(struct sfs_fs *fs, struct sfs_bdev *d, const struct sfs_io *io,
			  size_t len, uint64_t off)
{
	int err = io_errno(io);
	char why[128];

	if (err)
		sfs_err(fs, "%s device: write of %zu bytes at %llu: %s", d->name, len,
			(unsigned long long)off, io_why(io, why, sizeof(why)));
	else if (!d->is_bdev)
		dev_size_grow(d, off + len);
	return err;
}

int sfs_block_pwrite(struct sfs_fs *fs, enum sfs_dev dev, const void *buf, size_t len, uint64_t off)
{
	struct sfs_bdev *d;
	struct sfs_io io;
	int ret;

	ret = raw_write_check(fs, dev, buf, len, off, &d);
	if (ret || len == 0)
		return ret;
	io_init(&io, d, IO_WRITE, (void *)buf, len, off);
	io_run_one(fs->block, &io);
	return raw_write_done(fs, d, &io, len, off);
}

/* a background write: the io first, so the completion finds the rest */
struct async_write {
	struct sfs_io io;
	struct sfs_fs *fs;
	struct sfs_bdev *d;
	uint64_t off;
	size_t len;
	void (*cb)(void *arg, int err);
	void *arg;
};

/* on the reaper, ring_lock held */
static void async_write_done(struct sfs_block_state *st, struct sfs_io *io)
{
	struct async_write *aw = (struct async_write *)io;

	(void)st;
	aw->cb(aw->arg, raw_write_done(aw->fs, aw->d, io, aw->len, aw->off));
	free(aw);
}

int sfs_block_pwrite_async(struct sfs_fs *fs, enum sfs_dev dev, const void *buf, size_t len,
			   uint64_t off, void (*cb)(void *arg, int err), void *arg)
{
	struct async_write *aw;
	struct sfs_bdev *d;
	struct sfs_io *io;
	int ret;

	if (len == 0)
		return -EINVAL;
	ret = raw_write_check(fs, dev, buf, len, off, &d);
	if (ret)
		return ret;
	aw = calloc(1, sizeof(*aw));
	if (!aw)
		return -ENOMEM;
	io_init(&aw->io, d, IO_WRITE, (void *)buf, len, off);
	aw->io.complete = async_write_done;
	aw->fs = fs;
	aw->d = d;
	aw->off = off;
	aw->len = len;
	aw->cb = cb;
	aw->arg = arg;
	io = &aw->io;
	io_submit_batch(fs->block, &io, 1);
	return 0;
}

int sfs_block_flush(struct sfs_fs *fs, enum sfs_dev dev)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, dev);
	struct sfs_io io;
	int ret;

	if (!d) {
		ret = -ENODEV;
		goto out;
	}

	io_init(&io, d, IO_FSYNC, NULL, 0, 0);
	ret = io_run_one(st, &io);
	if (ret)
		sfs_err(fs, "%s device %s: flush failed: %s", d->name, d->path, strerror(-io.res));
out:
	return ret;
}

/* ------------------------------------------------------------------ */
/* Stats and lifecycle                                                  */
/* ------------------------------------------------------------------ */

void sfs_block_get_stats(struct sfs_fs *fs, struct sfs_block_stats *stats)
{
	struct sfs_block_state *st = fs->block;

	memset(stats, 0, sizeof(*stats));
	if (!st)
		return;

	pthread_mutex_lock(&st->cache_lock);
	stats->cache_hits = st->cache_hits;
	stats->cache_misses = st->cache_misses;
	stats->cache_bytes = st->cache_bytes;
	stats->cache_evictions = st->cache_evictions;
	stats->crc_errors = st->crc_errors;
	stats->stale_errors = st->stale_errors;
	pthread_mutex_unlock(&st->cache_lock);

	pthread_mutex_lock(&st->ring_lock);
	stats->reads_submitted = st->reads_submitted;
	stats->writes_submitted = st->writes_submitted;
	stats->max_in_flight = st->max_in_flight;
	stats->flushes = st->flushes;
	pthread_mutex_unlock(&st->ring_lock);

	pthread_mutex_lock(&st->buf_lock);
	stats->buf_arenas = st->nr_arenas - st->nr_fresh;
	stats->buf_arenas_fresh = st->nr_fresh;
	stats->buf_free = st->nr_free_bufs;
	pthread_mutex_unlock(&st->buf_lock);
}

static void *submit_thread(void *arg);

int sfs_block_setup(struct sfs_fs *fs, const struct sfs_block_opts *opts)
{
	struct sfs_block_state *st;
	unsigned int depth;
	uint64_t buckets;
	int ret;

	if (fs->block) {
		sfs_err(fs, "block: already set up");
		return -EBUSY;
	}
	if (!opts) {
		sfs_err(fs, "block: no options given");
		return -EINVAL;
	}

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;

	/* from here on sfs_block_destroy() can take whatever is built */
	st->fs = fs;
	st->devs[SFS_DEV_META].fd = -1;
	st->devs[SFS_DEV_DATA].fd = -1;
	st->devs[SFS_DEV_META].name = "meta";
	st->devs[SFS_DEV_DATA].name = "data";
	pthread_mutex_init(&st->cache_lock, NULL);
	pthread_mutex_init(&st->buf_lock, NULL);
	pthread_mutex_init(&st->sub_lock, NULL);
	pthread_cond_init(&st->sub_cond, NULL);
	st->sub_tail = &st->sub_head;
	pthread_cond_init(&st->cache_cond, NULL);
	pthread_mutex_init(&st->ring_lock, NULL);
	pthread_cond_init(&st->space_cond, NULL);
	st->tring_key_made = pthread_key_create(&st->tring_key, thread_ring_free) == 0;
	lst_init(&st->lru);
	lst_init(&st->all);
	st->pend_tail = &st->pend_head;
	st->read_only = opts->read_only;
	st->cache_bound = opts->cache_bytes ? opts->cache_bytes : SFS_BLOCK_DEF_CACHE_BYTES;
	fs->block = st;

	buckets = st->cache_bound / SCOUTFS_BLOCK_LG_SIZE * 2;
	for (st->hash_bits = 8; st->hash_bits < 20 && (1ULL << st->hash_bits) < buckets;
	     st->hash_bits++)
		;
	st->hash = calloc(1ULL << st->hash_bits, sizeof(st->hash[0]));
	if (!st->hash) {
		ret = -ENOMEM;
		goto out;
	}

	ret = dev_open(fs, &st->devs[SFS_DEV_META], "meta", opts->meta_path, opts);
	if (ret)
		goto out;
	if (opts->data_path) {
		ret = dev_open(fs, &st->devs[SFS_DEV_DATA], "data", opts->data_path, opts);
		if (ret)
			goto out;
	}

	depth = opts->queue_depth ? opts->queue_depth : SFS_BLOCK_DEF_QUEUE_DEPTH;
	if (depth > SFS_BLOCK_MAX_QUEUE_DEPTH)
		depth = SFS_BLOCK_MAX_QUEUE_DEPTH;
	ret = ring_setup(st, depth);
	if (!ret && !st->read_only) {
		/* without it, writes just start when their writer writes */
		st->sub_started = pthread_create(&st->sub_thread, NULL, submit_thread, st) == 0;
	}
	if (!ret && opts->prefill) {
		/* without it buffers are just mapped when wanted */
		st->prefill_started = pthread_create(&st->prefill, NULL, prefill_thread, st) == 0;
	}
out:
	if (ret)
		sfs_block_destroy(fs);
	return ret;
}

void sfs_block_destroy(struct sfs_fs *fs)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_cblock *cb;
	unsigned long held = 0;
	int i;

	if (!st)
		return;

	if (st->sub_started) {
		/* writers waited for their blocks: the queue is empty */
		pthread_mutex_lock(&st->sub_lock);
		st->sub_stop = true;
		pthread_cond_signal(&st->sub_cond);
		pthread_mutex_unlock(&st->sub_lock);
		pthread_join(st->sub_thread, NULL);
		st->sub_started = false;
	}
	ring_stop(st);
	if (st->ring_inited)
		io_uring_queue_exit(&st->ring);
	st->ring_inited = false;
	if (st->tring_key_made) {
		/* other threads' rings went with them; ours goes now */
		thread_ring_free(pthread_getspecific(st->tring_key));
		pthread_setspecific(st->tring_key, NULL);
		pthread_key_delete(st->tring_key);
		st->tring_key_made = false;
	}

	for (i = 0; i < SFS_DEV_NR; i++)
		dev_close(&st->devs[i]);

	/* nothing else runs now: free every block, held or not */
	while (!lst_empty(&st->all)) {
		cb = lst_entry(st->all.next, struct sfs_cblock, all);
		if (cb->refs)
			held++;
		cb_free_locked(st, cb);
	}
	if (held)
		sfs_warn(fs, "block: destroy freed %lu blocks still referenced by callers", held);

	free(st->hash);
	lg_bufs_destroy(st);
	pthread_mutex_destroy(&st->buf_lock);
	pthread_cond_destroy(&st->sub_cond);
	pthread_mutex_destroy(&st->sub_lock);
	pthread_cond_destroy(&st->space_cond);
	pthread_mutex_destroy(&st->ring_lock);
	pthread_cond_destroy(&st->cache_cond);
	pthread_mutex_destroy(&st->cache_lock);
	free(st);
	fs->block = NULL;
}

/* ------------------------------------------------------------------ */
/* Writers: the dirty blocks of one transaction                         */
/* ------------------------------------------------------------------ */

/* writes started early go to the ring this many at a time */
struct sfs_writer_io {
	struct io_batch batch;	/* pending: started writes not yet complete (ring_lock) */
};

void sfs_block_writer_init(struct sfs_block_writer *wri)
{
	wri->blocks = NULL;
	wri->nr = 0;
	wri->cap = 0;
	wri->io = NULL;
}

struct sfs_block *sfs_block_writer_new(struct sfs_fs *fs, struct sfs_block_writer *wri,
				       uint64_t blkno)
{
	struct sfs_block **blocks;
	struct sfs_block *bl;
	size_t cap;

	if (wri->nr == wri->cap) {
		cap = wri->cap ? wri->cap * 2 : 64;
		blocks = realloc(wri->blocks, cap * sizeof(*blocks));
		if (!blocks)
			return NULL;
		wri->blocks = blocks;
		wri->cap = cap;
	}

	bl = sfs_block_new(fs, blkno);
	if (!bl)
		return NULL;
	bl->writer = wri;
	wri->blocks[wri->nr++] = bl;	/* the writer keeps the new block's ref */
	sfs_block_get(bl);		/* and the caller gets one of its own */
	return bl;
}

/* hand n prepared writes of wri to the ring, counted in its batch */
static void writer_submit(struct sfs_block_state *st, struct sfs_writer_io *wio,
			  struct sfs_io **ios, int n)
{
	int i;

	if (n <= 0)
		return;
	pthread_mutex_lock(&st->ring_lock);
	wio->batch.pending += n;
	for (i = 0; i < n; i++)
		ios[i]->batch = &wio->batch;
	pthread_mutex_unlock(&st->ring_lock);
	io_submit_batch(st, ios, n);
}

/* wri's started-write state, made on first use; NULL without memory */
static struct sfs_writer_io *writer_io(struct sfs_block_writer *wri)
{
	if (!wri->io) {
		wri->io = calloc(1, sizeof(*wri->io));
		if (wri->io)
			pthread_cond_init(&wri->io->batch.cond, NULL);
	}
	return wri->io;
}

/* seal bl for its write in cb->wio: from now on it must not change */
static void writer_seal(struct sfs_bdev *d, struct sfs_block *bl)
{
	struct sfs_cblock *cb = cb_of(bl);

	write_prep(d, bl, &cb->wio);
	cb->started_crc = ((struct scoutfs_block_header *)bl->data)->crc;
	bl->write_started = true;
}

/* wait for every started write of wio (queued for the submitter or in flight) */
static void writer_wait(struct sfs_block_state *st, struct sfs_writer_io *wio)
{
	if (!wio)
		return;
	if (st->sub_started) {
		/* the submitter holds back short queues: not now */
		pthread_mutex_lock(&st->sub_lock);
		if (st->sub_head) {
			st->sub_flush = true;
			pthread_cond_signal(&st->sub_cond);
		}
		pthread_mutex_unlock(&st->sub_lock);
	}
	pthread_mutex_lock(&st->ring_lock);
	while (wio->batch.pending > 0)
		pthread_cond_wait(&wio->batch.cond, &st->ring_lock);
	pthread_mutex_unlock(&st->ring_lock);
}

/* blocks the submitter takes from its queue at a time (and most in one write) */
#define SUBMIT_BATCH 16
/* and how many it waits for, unless a writer waits for its blocks */
#define SUBMIT_MIN 8

/*
 * One write for a run of started blocks next to each other on disk:
 * fewer, bigger requests cost the kernel (and so the CPUs building
 * blocks) much less.  Each block's own io gets the result.
 */
struct run_write {
	struct sfs_io io;
	struct iovec iov[SUBMIT_BATCH];
	struct sfs_cblock *cbs[SUBMIT_BATCH];
	int nr;
};

static void run_write_done(struct sfs_block_state *st, struct sfs_io *io)
{
	struct run_write *rw = io->priv;
	struct io_batch *batch;
	int i;

	(void)st;
	for (i = 0; i < rw->nr; i++) {
		struct sfs_io *bio = &rw->cbs[i]->wio;

		/* all or nothing: a short or failed run fails each of its blocks */
		bio->res = io->res;
		bio->eof = io->eof;
		bio->done = io->res ? 0 : bio->len;
		batch = bio->batch;
		if (batch && --batch->pending == 0)
			pthread_cond_signal(&batch->cond);
	}
	free(rw);
}

/*
 * Prepared block writes cbs[0..n) become ios in *ios: runs of adjacent
 * blocks one run_write each (when memory allows), the rest their own.
 */
static int plan_writes(struct sfs_block_state *st, struct sfs_cblock **cbs, int n,
		       struct sfs_io **ios)
{
	struct sfs_bdev *d = dev_get(st, SFS_DEV_META);
	struct run_write *rw;
	int i, j, k, nr = 0;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && cbs[j]->bl.blkno == cbs[j - 1]->bl.blkno + 1; j++)
			;
		rw = j - i > 1 ? calloc(1, sizeof(*rw)) : NULL;
		if (!rw) {
			j = i + 1;
			ios[nr++] = &cbs[i]->wio;
			continue;
		}
		rw->nr = j - i;
		for (k = 0; k < rw->nr; k++) {
			rw->cbs[k] = cbs[i + k];
			rw->iov[k].iov_base = cbs[i + k]->bl.data;
			rw->iov[k].iov_len = SCOUTFS_BLOCK_LG_SIZE;
		}
		io_init(&rw->io, d, IO_WRITEV, NULL, (size_t)rw->nr * SCOUTFS_BLOCK_LG_SIZE,
			cbs[i]->bl.blkno << SCOUTFS_BLOCK_LG_SHIFT);
		rw->io.iov = rw->iov;
		rw->io.iovcnt = rw->nr;
		rw->io.complete = run_write_done;
		rw->io.priv = rw;
		ios[nr++] = &rw->io;
	}
	return nr;
}

/*
 * The submitter hands the writes of started (sealed) blocks to the ring,
 * on its own thread: the thread that builds blocks goes on building.  A
 * queued block already counts in its writer's batch.
 */
static void *submit_thread(void *arg)
{
	struct sfs_block_state *st = arg;
	struct sfs_cblock *cbs[SUBMIT_BATCH];
	struct sfs_io *ios[SUBMIT_BATCH];
	int n;

	for (;;) {
		pthread_mutex_lock(&st->sub_lock);
		/* gather runs worth merging unless someone waits for them */
		while ((!st->sub_head || (st->sub_nr < SUBMIT_MIN && !st->sub_flush)) &&
		       !st->sub_stop)
			pthread_cond_wait(&st->sub_cond, &st->sub_lock);
		for (n = 0; n < SUBMIT_BATCH && st->sub_head; n++) {
			cbs[n] = st->sub_head;
			st->sub_head = cbs[n]->sub_next;
		}
		st->sub_nr -= n;
		if (!st->sub_head) {
			st->sub_tail = &st->sub_head;
			st->sub_flush = false;
		}
		pthread_mutex_unlock(&st->sub_lock);
		if (n == 0)
			break;	/* stopping with nothing queued */

		io_submit_batch(st, ios, plan_writes(st, cbs, n, ios));
	}
	return NULL;
}

void sfs_block_writer_start(struct sfs_fs *fs, struct sfs_block_writer *wri,
			    struct sfs_block *bl)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, SFS_DEV_META);
	struct sfs_cblock *cb = cb_of(bl);
	struct sfs_writer_io *wio;

	if (!st->sub_started || !d || st->read_only || bl->writer != wri ||
	    bl->write_started || write_refuse(fs, d, bl))
		return;
	wio = writer_io(wri);
	if (!wio)
		return;
	/* sealed here, while the block is still in this CPU's caches */
	writer_seal(d, bl);
	cb->wio.batch = &wio->batch;
	pthread_mutex_lock(&st->ring_lock);
	wio->batch.pending++;
	pthread_mutex_unlock(&st->ring_lock);

	cb->sub_next = NULL;
	pthread_mutex_lock(&st->sub_lock);
	*st->sub_tail = cb;
	st->sub_tail = &cb->sub_next;
	if (++st->sub_nr >= SUBMIT_MIN)
		pthread_cond_signal(&st->sub_cond);
	pthread_mutex_unlock(&st->sub_lock);
}

static void writer_release(struct sfs_fs *fs, struct sfs_block_writer *wri, bool invalidate)
{
	size_t i;

	for (i = 0; i < wri->nr; i++) {
		wri->blocks[i]->write_started = false;
		wri->blocks[i]->writer = NULL;
		if (invalidate)
			sfs_block_invalidate(fs, wri->blocks[i]);
		sfs_block_put(fs, wri->blocks[i]);
	}
	wri->nr = 0;
}

int sfs_block_writer_write(struct sfs_fs *fs, struct sfs_block_writer *wri)
{
	struct sfs_block_state *st = fs->block;
	struct sfs_bdev *d = dev_get(st, SFS_DEV_META);
	struct sfs_io **ios = NULL;
	struct sfs_block *bl;
	size_t i, n = 0;
	int ret = 0;

	if (wri->nr == 0)
		return 0;
	if (!writer_io(wri))
		return -ENOMEM;
	ios = malloc(wri->nr * sizeof(*ios));
	if (!d)
		ret = -ENODEV;
	else if (st->read_only)
		ret = -EROFS;
	else if (!ios)
		ret = -ENOMEM;
	for (i = 0; !ret && i < wri->nr; i++) {
		bl = wri->blocks[i];
		if (!bl->write_started)
			ret = write_refuse(fs, d, bl);
	}
	/* all or nothing: what was not started early starts now, all together */
	for (i = 0; !ret && i < wri->nr; i++) {
		bl = wri->blocks[i];
		if (!bl->write_started) {
			writer_seal(d, bl);
			ios[n++] = &cb_of(bl)->wio;
		}
	}
	if (!ret)
		writer_submit(st, wri->io, ios, (int)n);
	writer_wait(st, wri->io);

#ifdef SFS_DEBUG_CHECKS
	for (i = 0; !ret && i < wri->nr; i++) {
		bl = wri->blocks[i];
		if (htole32(sfs_block_crc(bl->data, SCOUTFS_BLOCK_LG_SIZE)) !=
		    cb_of(bl)->started_crc) {
			sfs_err(fs, "meta block %llu: changed after its write started",
				(unsigned long long)bl->blkno);
			ret = -EIO;
		}
	}
#endif
	if (!ret) {
		for (i = 0; i < wri->nr; i++)
			ios[i] = &cb_of(wri->blocks[i])->wio;
		ret = write_finish(fs, d, wri->blocks, ios, (int)wri->nr);
	}
	free(ios);
	if (ret) {
		/* still dirty: the caller may write them all again or forget them */
		for (i = 0; i < wri->nr; i++)
			wri->blocks[i]->write_started = false;
		return ret;
	}
	writer_release(fs, wri, false);
	return 0;
}

void sfs_block_writer_forget(struct sfs_fs *fs, struct sfs_block_writer *wri)
{
	/* the ring may still be reading the buffers of writes started early */
	writer_wait(fs->block, wri->io);
	writer_release(fs, wri, true);
}

void sfs_block_writer_destroy(struct sfs_block_writer *wri)
{
	free(wri->blocks);
	if (wri->io) {
		pthread_cond_destroy(&wri->io->batch.cond);
		free(wri->io);
	}
	sfs_block_writer_init(wri);
}

void sfs_block_invalidate(struct sfs_fs *fs, struct sfs_block *bl)
{
	struct sfs_cblock *cb = cb_of(bl);
	struct sfs_block_state *st = cb->st;

	(void)fs;
	pthread_mutex_lock(&st->cache_lock);
	cb->flags &= ~CB_DIRTY;
	unhash_locked(st, cb);
	pthread_mutex_unlock(&st->cache_lock);
}
