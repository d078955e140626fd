// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the lock server (lock_server.c) without a network: the
 * ops record what it sends, and the tests play the mounts, answering
 * invalidations as a client would.  Checked: the compatibility table and
 * invalidation modes of reference-scoutfs.md 4.1; grants in arrival
 * order; a READ holder upgrading without being invalidated; WRITE
 * holders downgraded to READ for readers; writers' write_seqs growing;
 * nothing granted while an invalidation is unanswered; stray answers
 * ignored; a mount's farewell dropping its requests and releasing what
 * it held; recovery after a server change holding every grant back; and
 * a random workload of several mounts against a model that
 * checks no two mounts ever hold conflicting modes and every request is
 * granted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "counters.h"
#include "forest.h"
#include "lock.h"
#include "lock_server.h"
#include "log.h"

#define NULL_ SFS_LOCK_NULL
#define RD SFS_LOCK_READ
#define WR SFS_LOCK_WRITE
#define WO SFS_LOCK_WRITE_ONLY

struct sent {
	char kind;		/* 'i' invalidate, 'g' grant, 'd' drop */
	uint64_t rid;
	uintptr_t ctx;
	struct scoutfs_net_lock nl;
};

struct fixture {
	struct sfs_fs fs;
	struct sfs_counters counters;
	struct sfs_lock_server *ls;
	struct sent sent[4096];
	unsigned int nr, taken;
	uint64_t seq;
};

static struct fixture *cur;

static void record(char kind, uint64_t rid, void *ctx, const struct scoutfs_net_lock *nl)
{
	struct sent *s;

	assert_true(cur->nr < sizeof(cur->sent) / sizeof(cur->sent[0]));
	s = &cur->sent[cur->nr++];
	s->kind = kind;
	s->rid = rid;
	s->ctx = (uintptr_t)ctx;
	if (nl)
		s->nl = *nl;
}

static void op_invalidate(void *arg, uint64_t rid, const struct scoutfs_net_lock *nl)
{
	(void)arg;
	record('i', rid, NULL, nl);
}

static void op_grant(void *arg, uint64_t rid, void *ctx, const struct scoutfs_net_lock *nl)
{
	(void)arg;
	record('g', rid, ctx, nl);
}

static void op_drop(void *arg, uint64_t rid, void *ctx)
{
	(void)arg;
	record('d', rid, ctx, NULL);
}

static uint64_t op_seq(void *arg)
{
	(void)arg;
	return ++cur->seq;
}

static const struct sfs_lock_server_ops ops = {
	.invalidate = op_invalidate, .grant = op_grant, .drop = op_drop,
	.next_write_seq = op_seq,
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sfs_fs_log_init(&f->fs, "test");
	f->fs.counters = &f->counters;
	cur = f;
	f->ls = sfs_lock_server_create(&f->fs, &ops);
	assert_non_null(f->ls);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sfs_lock_server_destroy(f->ls);
	free(f);
	return 0;
}

static struct scoutfs_key lkey(uint64_t n)
{
	return sfs_key_make(SCOUTFS_FS_ZONE, n * 1024, 0, 0, 0, 0);
}

static struct scoutfs_net_lock nlock(uint64_t n, uint8_t old_mode, uint8_t new_mode)
{
	struct scoutfs_net_lock nl = { .key = lkey(n), .old_mode = old_mode,
				       .new_mode = new_mode };

	return nl;
}

static void request(struct fixture *f, uint64_t rid, uint64_t n, uint8_t old_mode,
		    uint8_t new_mode, uintptr_t ctx)
{
	struct scoutfs_net_lock nl = nlock(n, old_mode, new_mode);

	assert_int_equal(sfs_lock_server_request(f->ls, rid, &nl, (void *)ctx), 0);
}

static void answer(struct fixture *f, uint64_t rid, uint64_t n, uint8_t old_mode,
		   uint8_t new_mode)
{
	struct scoutfs_net_lock nl = nlock(n, old_mode, new_mode);

	sfs_lock_server_response(f->ls, rid, &nl);
}

/* the next message sent must be this one */
static const struct sent *expect(struct fixture *f, char kind, uint64_t rid, uint64_t n,
				 uint8_t old_mode, uint8_t new_mode)
{
	struct scoutfs_key k = lkey(n);
	const struct sent *s;

	if (f->taken >= f->nr)
		fail_msg("expected %c to rid %llu, nothing was sent", kind,
			 (unsigned long long)rid);
	s = &f->sent[f->taken++];
	if (s->kind != kind || s->rid != rid || (kind != 'd' && (sfs_key_cmp(&s->nl.key, &k) ||
							      s->nl.old_mode != old_mode ||
							      s->nl.new_mode != new_mode)))
		fail_msg("expected %c rid %llu lock %llu %u->%u, got %c rid %llu %u->%u", kind,
			 (unsigned long long)rid, (unsigned long long)n, old_mode, new_mode,
			 s->kind, (unsigned long long)s->rid, s->nl.old_mode, s->nl.new_mode);
	return s;
}

static void expect_nothing(struct fixture *f)
{
	if (f->taken != f->nr)
		fail_msg("unexpected %c to rid %llu", f->sent[f->taken].kind,
			 (unsigned long long)f->sent[f->taken].rid);
}

static void test_modes(void **state)
{
	/* the compatibility table of reference-scoutfs.md 4.1 */
	static const bool compat[4][4] = {
		/*            NULL  READ   WRITE  WO */
		/* NULL */  { true, true,  true,  true },
		/* READ */  { true, true,  false, false },
		/* WRITE */ { true, false, false, false },
		/* WO */    { true, false, false, true },
	};
	int a, b;

	(void)state;
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			assert_int_equal(sfs_lock_modes_compatible((uint8_t)a, (uint8_t)b),
					 compat[a][b]);
	assert_int_equal(sfs_lock_invalidation_mode(WR, RD), RD);
	assert_int_equal(sfs_lock_invalidation_mode(WR, WR), NULL_);
	assert_int_equal(sfs_lock_invalidation_mode(WR, WO), NULL_);
	assert_int_equal(sfs_lock_invalidation_mode(RD, WR), NULL_);
	assert_int_equal(sfs_lock_invalidation_mode(WO, RD), NULL_);
}

static void test_basic(void **state)
{
	struct fixture *f = *state;
	const struct sent *s;
	uint64_t seq1;

	/* readers share */
	request(f, 1, 7, NULL_, RD, 11);
	s = expect(f, 'g', 1, 7, NULL_, RD);
	assert_int_equal(s->ctx, 11);
	assert_int_equal(le64toh(s->nl.write_seq), 0);
	request(f, 2, 7, NULL_, RD, 12);
	expect(f, 'g', 2, 7, NULL_, RD);
	expect_nothing(f);

	/* mount 1 upgrades: mount 2 is invalidated, not mount 1 */
	request(f, 1, 7, RD, WR, 13);
	expect(f, 'i', 2, 7, RD, NULL_);
	expect_nothing(f);
	/* a stray answer (wrong mode, wrong mount) changes nothing */
	answer(f, 2, 7, RD, RD);
	answer(f, 3, 7, RD, NULL_);
	expect_nothing(f);
	assert_int_equal(sfs_counter(&f->fs, lock_server_stray_response), 2);
	/* a reader arriving meanwhile waits its turn */
	request(f, 3, 7, NULL_, RD, 14);
	expect_nothing(f);
	answer(f, 2, 7, RD, NULL_);
	s = expect(f, 'g', 1, 7, RD, WR);
	seq1 = le64toh(s->nl.write_seq);
	assert_true(seq1 > 0);
	/* the reader's turn: the writer goes down to READ, not NULL */
	expect(f, 'i', 1, 7, WR, RD);
	expect_nothing(f);
	assert_int_equal(sfs_lock_server_mode(f->ls, 1, &s->nl.key), WR);
	answer(f, 1, 7, WR, RD);
	expect(f, 'g', 3, 7, NULL_, RD);
	assert_int_equal(sfs_lock_server_mode(f->ls, 1, &s->nl.key), RD);
	assert_int_equal(sfs_lock_server_mode(f->ls, 2, &s->nl.key), NULL_);
	assert_int_equal(sfs_lock_server_mode(f->ls, 3, &s->nl.key), RD);

	/* write-only holders share with each other, and conflict with readers */
	request(f, 4, 7, NULL_, WO, 15);
	expect(f, 'i', 3, 7, RD, NULL_);
	expect(f, 'i', 1, 7, RD, NULL_);
	answer(f, 3, 7, RD, NULL_);
	expect_nothing(f);
	answer(f, 1, 7, RD, NULL_);
	s = expect(f, 'g', 4, 7, NULL_, WO);
	assert_true(le64toh(s->nl.write_seq) > seq1);
	request(f, 5, 7, NULL_, WO, 16);
	expect(f, 'g', 5, 7, NULL_, WO);
	expect_nothing(f);

	/* giving back: a NULL request is granted at once and forgets the mount */
	request(f, 4, 7, WO, NULL_, 17);
	expect(f, 'g', 4, 7, WO, NULL_);
	request(f, 5, 7, WO, NULL_, 18);
	expect(f, 'g', 5, 7, WO, NULL_);
	assert_int_equal(sfs_lock_server_nr_locks(f->ls), 0);

	/* other locks are independent */
	request(f, 1, 1, NULL_, WR, 19);
	request(f, 2, 2, NULL_, WR, 20);
	expect(f, 'g', 1, 1, NULL_, WR);
	expect(f, 'g', 2, 2, NULL_, WR);
	expect_nothing(f);
}

static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_net_lock nl = nlock(3, NULL_, 4);

	assert_int_equal(sfs_lock_server_request(f->ls, 1, &nl, NULL), -EINVAL);
	nl = nlock(3, 9, RD);
	assert_int_equal(sfs_lock_server_request(f->ls, 1, &nl, NULL), -EINVAL);
	/*
	 * A second request of one mount for one lock while one waits (a
	 * mount that lost its session asks again): it takes the first one's
	 * place, which is dropped, and is granted in its turn.
	 */
	request(f, 1, 3, NULL_, WR, 1);
	expect(f, 'g', 1, 3, NULL_, WR);
	request(f, 2, 3, NULL_, WR, 2);
	expect(f, 'i', 1, 3, WR, NULL_);
	request(f, 2, 3, NULL_, RD, 22);
	{
		const struct sent *s = expect(f, 'd', 2, 3, 0, 0);

		assert_int_equal(s->ctx, 2);
	}
	expect_nothing(f);
	assert_int_equal(sfs_counter(&f->fs, lock_server_request_replaced), 1);
	answer(f, 1, 3, WR, NULL_);
	{
		const struct sent *s = expect(f, 'g', 2, 3, NULL_, RD);

		assert_int_equal(s->ctx, 22);
	}
	expect_nothing(f);

	/*
	 * That mount comes back on a new session: the invalidation it has
	 * not answered is sent again
	 */
	request(f, 1, 3, NULL_, WR, 11);
	expect(f, 'i', 2, 3, RD, NULL_);
	expect_nothing(f);
	sfs_lock_server_reconnected(f->ls, 2);
	expect(f, 'i', 2, 3, RD, NULL_);
	expect_nothing(f);
	sfs_lock_server_reconnected(f->ls, 1);
	expect_nothing(f);
	answer(f, 2, 3, RD, NULL_);
	expect(f, 'g', 1, 3, NULL_, WR);
	expect_nothing(f);
}

static void test_farewell(void **state)
{
	struct fixture *f = *state;
	struct scoutfs_key k = lkey(5);

	request(f, 1, 5, NULL_, WR, 1);
	expect(f, 'g', 1, 5, NULL_, WR);
	request(f, 2, 5, NULL_, RD, 2);
	expect(f, 'i', 1, 5, WR, RD);
	request(f, 3, 5, NULL_, WR, 3);
	request(f, 2, 6, NULL_, RD, 4);
	expect(f, 'g', 2, 6, NULL_, RD);
	expect_nothing(f);
	/* mount 1 dies holding the lock unanswered: mount 2, then 3, go on */
	sfs_lock_server_farewell(f->ls, 1);
	expect(f, 'g', 2, 5, NULL_, RD);
	expect(f, 'i', 2, 5, RD, NULL_);
	expect_nothing(f);
	/* mount 2 leaves too: its queued nothing, its holds go, 3 is granted */
	sfs_lock_server_farewell(f->ls, 2);
	expect(f, 'g', 3, 5, NULL_, WR);
	expect_nothing(f);
	assert_int_equal(sfs_lock_server_mode(f->ls, 3, &k), WR);
	/* a mount that leaves with a request queued: dropped, not granted */
	request(f, 4, 5, NULL_, RD, 44);
	expect(f, 'i', 3, 5, WR, RD);
	sfs_lock_server_farewell(f->ls, 4);
	{
		const struct sent *s = expect(f, 'd', 4, 5, 0, 0);

		assert_int_equal(s->ctx, 44);
	}
	answer(f, 3, 5, WR, RD);
	expect_nothing(f);
	assert_int_equal(sfs_lock_server_mode(f->ls, 3, &k), RD);
	sfs_lock_server_farewell(f->ls, 3);
	assert_int_equal(sfs_lock_server_nr_locks(f->ls), 0);
}

/*
 * Recovery after a server change: nothing is granted until every mount
 * of the earlier server told what it holds (or left); the recovered
 * holds are then invalidated like any other, and a claim that conflicts
 * with another mount's is refused but kept.
 */
static void test_recovery(void **state)
{
	struct fixture *f = *state;
	const uint64_t rids[] = { 1, 2, 3 };
	struct scoutfs_net_lock nl;
	struct scoutfs_key k = lkey(7);

	assert_int_equal(sfs_lock_server_recover_begin(f->ls, rids, 3), 0);
	assert_int_equal(sfs_lock_server_nr_recovering(f->ls), 3);
	/* a request of a new mount and one of a recovering mount wait */
	request(f, 4, 7, NULL_, RD, 40);
	request(f, 1, 8, NULL_, WR, 10);
	expect_nothing(f);

	/* mount 1 held lock 7 for WRITE, mount 2 lock 9 for READ */
	nl = nlock(7, WR, WR);
	assert_int_equal(sfs_lock_server_recover(f->ls, 1, &nl), 0);
	sfs_lock_server_recover_done(f->ls, 1);
	nl = nlock(9, RD, RD);
	assert_int_equal(sfs_lock_server_recover(f->ls, 2, &nl), 0);
	/* a claim that conflicts with mount 1's WRITE: refused, recorded */
	nl = nlock(7, RD, RD);
	assert_int_equal(sfs_lock_server_recover(f->ls, 2, &nl), -EINVAL);
	/* bad modes are refused */
	nl = nlock(9, NULL_, NULL_);
	assert_int_equal(sfs_lock_server_recover(f->ls, 2, &nl), -EINVAL);
	sfs_lock_server_recover_done(f->ls, 2);
	expect_nothing(f);
	assert_int_equal(sfs_lock_server_nr_recovering(f->ls), 1);
	assert_int_equal(sfs_lock_server_mode(f->ls, 1, &k), WR);

	/* mount 3 never comes back: its reclaim ends recovery, requests go on */
	sfs_lock_server_farewell(f->ls, 3);
	assert_int_equal(sfs_lock_server_nr_recovering(f->ls), 0);
	expect(f, 'i', 1, 7, WR, RD);
	expect(f, 'g', 1, 8, NULL_, WR);
	expect_nothing(f);
	answer(f, 1, 7, WR, RD);
	/* mount 2's recorded READ is compatible with the new READ */
	expect(f, 'g', 4, 7, NULL_, RD);
	expect_nothing(f);
	assert_int_equal(sfs_lock_server_mode(f->ls, 1, &k), RD);
	assert_int_equal(sfs_lock_server_mode(f->ls, 2, &k), RD);

	/* no recovery at all: requests are granted at once */
	assert_int_equal(sfs_lock_server_recover_begin(f->ls, NULL, 0), 0);
	request(f, 5, 20, NULL_, WR, 50);
	expect(f, 'g', 5, 20, NULL_, WR);
}

/*
 * Random: 5 mounts, 3 locks.  Each mount, when it has no request in
 * flight, may ask for a random mode; answers to invalidations come back
 * in random order and delay.  The model checks invariant 1 after every
 * step and that every request is granted once everyone answers.
 */
#define RM 5
#define RL 3

struct rmodel {
	uint8_t held[RM][RL];
	bool waiting[RM][RL];
	uint8_t wanted[RM][RL];
	struct sent pend[4096];		/* invalidations not yet answered */
	unsigned int npend;
};

static void check_compat(struct rmodel *m)
{
	int a, b, l;

	for (l = 0; l < RL; l++)
		for (a = 0; a < RM; a++)
			for (b = a + 1; b < RM; b++)
				if (!sfs_lock_modes_compatible(m->held[a][l], m->held[b][l]))
					fail_msg("lock %d: mounts %d (%u) and %d (%u) conflict", l, a,
						 m->held[a][l], b, m->held[b][l]);
}

static void absorb(struct fixture *f, struct rmodel *m, uint64_t *last_seq)
{
	const struct sent *s;
	int r, l;

	while (f->taken < f->nr) {
		s = &f->sent[f->taken++];
		r = (int)s->rid;
		l = (int)(le64toh(s->nl.key._sk_first) / 1024);
		if (s->kind == 'g') {
			assert_true(m->waiting[r][l]);
			assert_int_equal(s->nl.new_mode, m->wanted[r][l]);
			m->waiting[r][l] = false;
			m->held[r][l] = s->nl.new_mode;
			if (le64toh(s->nl.write_seq)) {
				assert_true(le64toh(s->nl.write_seq) > *last_seq);
				*last_seq = le64toh(s->nl.write_seq);
			}
			check_compat(m);
		} else if (s->kind == 'i') {
			assert_int_equal(s->nl.old_mode, m->held[r][l]);
			m->pend[m->npend++] = *s;
		}
	}
	f->nr = f->taken = 0;
}

static void test_random(void **state)
{
	struct fixture *f = *state;
	struct rmodel *m = calloc(1, sizeof(*m));
	uint64_t last_seq = 0;
	unsigned int i, step, grants = 0;
	struct sent s;
	int r, l;

	assert_non_null(m);
	srandom(42);
	for (step = 0; step < 20000; step++) {
		if (m->npend && random() % 2) {
			/* a mount answers one invalidation (any order) */
			i = (unsigned int)random() % m->npend;
			s = m->pend[i];
			m->pend[i] = m->pend[--m->npend];
			r = (int)s.rid;
			l = (int)(le64toh(s.nl.key._sk_first) / 1024);
			m->held[r][l] = s.nl.new_mode;
			answer(f, s.rid, (uint64_t)l, s.nl.old_mode, s.nl.new_mode);
		} else {
			r = (int)(random() % RM);
			l = (int)(random() % RL);
			if (m->waiting[r][l])
				continue;
			m->waiting[r][l] = true;
			m->wanted[r][l] = (uint8_t)(random() % SFS_LOCK_NR_MODES);
			request(f, (uint64_t)r, (uint64_t)l, m->held[r][l], m->wanted[r][l], 0);
		}
		absorb(f, m, &last_seq);
	}
	/* answer everything: every request is granted */
	while (m->npend) {
		s = m->pend[--m->npend];
		r = (int)s.rid;
		l = (int)(le64toh(s.nl.key._sk_first) / 1024);
		m->held[r][l] = s.nl.new_mode;
		answer(f, s.rid, (uint64_t)l, s.nl.old_mode, s.nl.new_mode);
		absorb(f, m, &last_seq);
	}
	for (r = 0; r < RM; r++)
		for (l = 0; l < RL; l++)
			assert_false(m->waiting[r][l]);
	grants = (unsigned int)sfs_counter(&f->fs, lock_server_grant);
	assert_true(grants > 1000);
	free(m);
}

/* key in [n.start, n.end] */
static bool in_name(const struct sfs_item_range *n, const struct scoutfs_key *key)
{
	return sfs_key_cmp(&n->start, key) <= 0 && sfs_key_cmp(key, &n->end) <= 0;
}

/* reference-scoutfs.md 4.2, and one forest lock group per name (forest.c) */
static void test_names(void **state)
{
	struct sfs_item_range n, m;
	struct scoutfs_key k;
	uint64_t ino;

	(void)state;
	for (ino = 1; ino < 5000; ino += 511) {
		n = sfs_lock_name_ino(ino);
		/* an inode's items and those of the other inodes of its group */
		k = sfs_key_make(SCOUTFS_FS_ZONE, ino, SCOUTFS_INODE_TYPE, 0, 0, 0);
		assert_true(in_name(&n, &k));
		k = sfs_key_make(SCOUTFS_FS_ZONE, (ino & ~1023ULL) + 1023, 255, ~0ULL, ~0ULL, 255);
		assert_true(in_name(&n, &k));
		k = sfs_key_make(SCOUTFS_FS_ZONE, (ino | 1023) + 1, 0, 0, 0, 0);
		assert_false(in_name(&n, &k));
		/* the next group starts right after it */
		m = sfs_lock_name_ino((ino | 1023) + 1);
		assert_true(sfs_key_cmp(&n.end, &m.start) < 0);
		assert_int_equal(le64toh(m.start._sk_first), (ino | 1023) + 1);
		k = n.start;
		assert_int_equal(sfs_key_cmp(&k, &n.start), 0);
		assert_true(sfs_forest_same_lock(&n.start, &n.end));
		k = sfs_forest_lock_start(&n.end);
		assert_int_equal(sfs_key_cmp(&k, &n.start), 0);
	}
	n = sfs_lock_name_index(SCOUTFS_INODE_INDEX_META_SEQ_TYPE, 5000);
	k = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, SCOUTFS_INODE_INDEX_META_SEQ_TYPE, 4096, 77, 0);
	assert_true(in_name(&n, &k));
	k = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, SCOUTFS_INODE_INDEX_META_SEQ_TYPE, 5119, ~0ULL, 0);
	assert_true(in_name(&n, &k));
	k = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, SCOUTFS_INODE_INDEX_META_SEQ_TYPE, 5120, 0, 0);
	assert_false(in_name(&n, &k));
	k = sfs_key_make(SCOUTFS_INODE_INDEX_ZONE, 0, SCOUTFS_INODE_INDEX_DATA_SEQ_TYPE, 5000, 1, 0);
	assert_false(in_name(&n, &k));
	k = sfs_forest_lock_start(&n.end);
	assert_int_equal(sfs_key_cmp(&k, &n.start), 0);
	n = sfs_lock_name_zone(SCOUTFS_ORPHAN_ZONE);
	k = sfs_key_make(SCOUTFS_ORPHAN_ZONE, 0, SCOUTFS_ORPHAN_TYPE, 12345, 0, 0);
	assert_true(in_name(&n, &k));
	assert_true(sfs_forest_same_lock(&n.start, &n.end));
	n = sfs_lock_name_zone(SCOUTFS_XATTR_TOTL_ZONE);
	k = sfs_key_make(SCOUTFS_XATTR_INDX_ZONE, 0, 0, 0, 0, 0);
	assert_false(in_name(&n, &k));
	n = sfs_lock_name_rename();
	assert_int_equal(sfs_key_cmp(&n.start, &n.end), 0);
	assert_int_equal(n.start.sk_zone, SCOUTFS_LOCK_ZONE);
	assert_int_equal(n.start.sk_type, SCOUTFS_RENAME_TYPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_farewell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
