// SPDX-License-Identifier: GPL-2.0
/*
 * Quorum: slot parsing and configuration checks (the rules mkfs,
 * change-quorum-config and mount share), and the agent of a single slot
 * on volumes made by scoutfs-mkfs: the events it writes to its quorum
 * block, finding the server through the blocks, a crashed previous
 * leader, a slot taken over by another mount, non-members, corrupt
 * blocks and server failures.  Each "mount" is its own sfs_fs on the
 * same image files, as separate daemons would be.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "block.h"
#include "log.h"
#include "quorum.h"
#include "super.h"
#include "text.h"

static void parse_ok(const char *arg, int want_nr, const char *want_text)
{
	union scoutfs_inet_addr addr;
	char why[200], text[SFS_TEXT_ADDR_LEN];
	int nr = -1;

	if (sfs_quorum_slot_parse(arg, &nr, &addr, why, sizeof(why)))
		fail_msg("'%s' refused: %s", arg, why);
	assert_int_equal(nr, want_nr);
	sfs_text_inet_addr(text, sizeof(text), &addr);
	assert_string_equal(text, want_text);
}

static void parse_bad(const char *arg, const char *expect)
{
	union scoutfs_inet_addr addr;
	char why[200];
	int nr;

	assert_int_equal(sfs_quorum_slot_parse(arg, &nr, &addr, why, sizeof(why)), -EINVAL);
	if (!strstr(why, expect))
		fail_msg("'%s': reason '%s' does not mention '%s'", arg, why, expect);
}

static void test_parse(void **state)
{
	union scoutfs_inet_addr addr;
	char why[200];
	int nr;
	(void)state;

	parse_ok("0,127.0.0.1,42000", 0, "127.0.0.1:42000");
	parse_ok("14,10.1.2.3,1", 14, "10.1.2.3:1");
	parse_ok("3,::1,42000", 3, "[::1]:42000");
	parse_ok("4,[fd00::5],7000", 4, "[fd00::5]:7000");

	/* the v4 form is host-order u32 stored little-endian, rest zero */
	assert_int_equal(sfs_quorum_slot_parse("0,127.0.0.1,42000", &nr, &addr, why, sizeof(why)),
			 0);
	assert_memory_equal(&addr, "\x01\x00\x10\xa4\x01\x00\x00\x7f", 8);
	for (int i = 8; i < 32; i++)
		assert_int_equal(((unsigned char *)&addr)[i], 0);

	parse_bad("15,127.0.0.1,42000", "0 to 14");
	parse_bad("-1,127.0.0.1,42000", "0 to 14");
	parse_bad("x,127.0.0.1,42000", "0 to 14");
	parse_bad("0,127.0.0.1", "NR,ADDR,PORT");
	parse_bad("0", "NR,ADDR,PORT");
	parse_bad("0,127.0.0.1,70000", "port");
	parse_bad("0,127.0.0.1,", "port");
	parse_bad("0,host.example,42000", "numeric");
	parse_bad("0,,42000", "numeric");
	parse_bad("0,300.1.1.1,42000", "numeric");
}

static void set_slot(struct scoutfs_quorum_config *qc, const char *arg)
{
	union scoutfs_inet_addr addr;
	char why[200];
	int nr;

	assert_int_equal(sfs_quorum_slot_parse(arg, &nr, &addr, why, sizeof(why)), 0);
	qc->slots[nr].addr = addr;
}

static void config_bad(const char **args, const char *expect)
{
	struct scoutfs_quorum_config qc;
	char why[200];

	memset(&qc, 0, sizeof(qc));
	for (; *args; args++)
		set_slot(&qc, *args);
	assert_int_equal(sfs_quorum_config_check(&qc, why, sizeof(why)), -EINVAL);
	if (!strstr(why, expect))
		fail_msg("reason '%s' does not mention '%s'", why, expect);
}

static void config_ok(const char **args)
{
	struct scoutfs_quorum_config qc;
	char why[200];

	memset(&qc, 0, sizeof(qc));
	for (; *args; args++)
		set_slot(&qc, *args);
	if (sfs_quorum_config_check(&qc, why, sizeof(why)))
		fail_msg("refused: %s", why);
}

static void test_config(void **state)
{
	struct scoutfs_quorum_config qc;
	char why[200];
	(void)state;

	config_ok((const char *[]){ "0,127.0.0.1,42000", "1,127.0.0.1,42001",
				    "2,127.0.0.1,42002", NULL });
	config_ok((const char *[]){ "0,::1,42000", "5,::1,42001", NULL });
	config_ok((const char *[]){ "7,192.168.1.1,42000", NULL });

	config_bad((const char *[]){ "0,127.0.0.1,42000", "1,::1,42001", NULL },
		   "mix IPv4 and IPv6");
	config_bad((const char *[]){ "0,127.0.0.1,42000", "1,127.0.0.1,42000", NULL },
		   "same address");
	config_bad((const char *[]){ "0,::1,42000", "1,::1,42000", NULL }, "same address");
	config_bad((const char *[]){ "0,0.1.2.3,42000", NULL }, "0.0.0.0/8");
	config_bad((const char *[]){ "0,224.0.0.1,42000", NULL }, "multicast");
	config_bad((const char *[]){ "0,255.255.255.255,42000", NULL }, "broadcast");
	config_bad((const char *[]){ "0,ff02::1,42000", NULL }, "multicast");
	config_bad((const char *[]){ "0,::,42000", NULL }, "unspecified");
	config_bad((const char *[]){ "0,127.0.0.1,0", NULL }, "port");
	config_bad((const char *[]){ "0,127.0.0.1,65535", NULL }, "port");

	memset(&qc, 0, sizeof(qc));
	assert_int_equal(sfs_quorum_config_check(&qc, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no quorum slots"));

	qc.slots[3].addr.v4.family = htole16(9);
	assert_int_equal(sfs_quorum_config_check(&qc, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "family"));
}

/* ------------------------------------------------------------------ */
/* The agent on a volume made by scoutfs-mkfs                          */
/* ------------------------------------------------------------------ */

#define SM SCOUTFS_BLOCK_SM_SIZE
#define SLOT0_BLKNO SCOUTFS_QUORUM_BLKNO
#define WAIT_MS 5000U

#define RID_A 0x1111aaaa2222bbbbULL
#define RID_B 0x3333cccc4444ddddULL
#define RID_C 0x5555eeee6666ffffULL

enum { BEGIN = SCOUTFS_QUORUM_EVENT_BEGIN, TERM = SCOUTFS_QUORUM_EVENT_TERM,
       ELECT = SCOUTFS_QUORUM_EVENT_ELECT, FENCE = SCOUTFS_QUORUM_EVENT_FENCE,
       STOP = SCOUTFS_QUORUM_EVENT_STOP, END = SCOUTFS_QUORUM_EVENT_END };

struct vol {
	char dir[64], meta[96], data[96];
};

union qblk {
	struct scoutfs_quorum_block qb;
	uint8_t raw[SM];
};

/* one mount: its own fs on the volume's images, and its server callbacks */
struct mnt {
	struct sfs_fs fs;
	struct scoutfs_super_block super;
	uint64_t rid;
	pthread_mutex_t lock;
	int starts;
	int stops;
	uint64_t start_terms[16];
	int fail_starts;	/* fail this many start_server calls with -EIO */
	char log[32768];
	size_t log_len;
};

static struct vol *vol_create(void)
{
	const char *mkfs = getenv("SCOUTFS_MKFS");
	struct vol *v;
	char cmd[512];

	if (!mkfs)
		skip();
	v = calloc(1, sizeof(*v));
	assert_non_null(v);
	strcpy(v->dir, "/var/tmp/sfs-test-quorum.XXXXXX");
	assert_non_null(mkdtemp(v->dir));
	snprintf(v->meta, sizeof(v->meta), "%s/meta.img", v->dir);
	snprintf(v->data, sizeof(v->data), "%s/data.img", v->dir);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 256M %s && truncate -s 256M %s && %s -A -Q 0,127.0.0.1,42000 %s %s "
		 ">/dev/null 2>&1",
		 v->meta, v->data, mkfs, v->meta, v->data);
	assert_int_equal(system(cmd), 0);
	return v;
}

static void vol_destroy(struct vol *v)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", v->dir);
	if (system(cmd))
		print_message("could not remove %s\n", v->dir);
	free(v);
}

/*
 * Each test's volume and mounts belong to its fixture, so that a failed
 * assertion still stops every agent and removes the images.
 */
#define FX_MNTS 8

struct fx {
	struct vol *v;
	struct mnt *mnts[FX_MNTS];
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	*state = fx;
	return fx ? 0 : -1;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	int i;

	for (i = 0; i < FX_MNTS; i++) {
		if (!fx->mnts[i])
			continue;
		sfs_quorum_destroy(&fx->mnts[i]->fs);
		sfs_block_destroy(&fx->mnts[i]->fs);
		pthread_mutex_destroy(&fx->mnts[i]->lock);
		free(fx->mnts[i]);
	}
	if (fx->v)
		vol_destroy(fx->v);
	free(fx);
	return 0;
}

static struct vol *fx_vol(struct fx *fx)
{
	fx->v = vol_create();
	return fx->v;
}

static struct mnt *fx_mnt(struct fx *fx)
{
	struct mnt *m;
	int i;

	for (i = 0; i < FX_MNTS && fx->mnts[i]; i++)
		;
	assert_true(i < FX_MNTS);
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	pthread_mutex_init(&m->lock, NULL);
	fx->mnts[i] = m;
	return m;
}

/* raw bytes of the meta image, past the code under test */
static void vol_pread(struct vol *v, void *buf, size_t len, off_t off)
{
	int fd = open(v->meta, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void vol_pwrite(struct vol *v, const void *buf, size_t len, off_t off)
{
	int fd = open(v->meta, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static void read_slot(struct vol *v, int slot, union qblk *blk)
{
	vol_pread(v, blk->raw, SM, (off_t)(SLOT0_BLKNO + (unsigned int)slot) * SM);
}

static void log_sink(void *arg, int prio, const char *line)
{
	struct mnt *m = arg;
	size_t n = strlen(line);

	(void)prio;
	if (getenv("SFS_TEST_LOG"))
		fprintf(stderr, "%s\n", line);
	pthread_mutex_lock(&m->lock);
	if (m->log_len + n + 2 < sizeof(m->log)) {
		memcpy(m->log + m->log_len, line, n);
		m->log_len += n;
		m->log[m->log_len++] = '\n';
		m->log[m->log_len] = '\0';
	}
	pthread_mutex_unlock(&m->lock);
}

static bool logged(struct mnt *m, const char *str)
{
	bool ret;

	pthread_mutex_lock(&m->lock);
	ret = strstr(m->log, str) != NULL;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int cb_start(void *arg, uint64_t term)
{
	struct mnt *m = arg;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->starts < 16)
		m->start_terms[m->starts] = term;
	m->starts++;
	if (m->fail_starts > 0) {
		m->fail_starts--;
		ret = -EIO;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static void cb_stop(void *arg)
{
	struct mnt *m = arg;

	pthread_mutex_lock(&m->lock);
	m->stops++;
	pthread_mutex_unlock(&m->lock);
}

static int starts(struct mnt *m)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = m->starts;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/* open the devices and read the super, as a mount does before quorum; 0 or -errno */
static int mnt_open_ret(struct mnt *m, struct vol *v, uint64_t rid)
{
	struct sfs_block_opts opts = { 0 };
	int ret;

	sfs_fs_log_init(&m->fs, "test");
	m->fs.log_level = LOG_DEBUG;
	m->fs.log_fn = log_sink;
	m->fs.log_arg = m;
	m->fs.rid = rid;
	m->rid = rid;
	opts.meta_path = v->meta;
	opts.data_path = v->data;
	ret = sfs_block_setup(&m->fs, &opts);
	if (!ret)
		ret = sfs_super_read(&m->fs, &m->super);
	return ret;
}

static void mnt_open(struct mnt *m, struct vol *v, uint64_t rid)
{
	assert_int_equal(mnt_open_ret(m, v, rid), 0);
}

static int mnt_setup(struct mnt *m, int slot)
{
	struct sfs_quorum_opts opts = {
		.slot_nr = slot,
		.rid = m->rid,
		.super = &m->super,
		.start_server = cb_start,
		.stop_server = cb_stop,
		.arg = m,
	};

	return sfs_quorum_setup(&m->fs, &opts);
}

static void mnt_close(struct mnt *m)
{
	sfs_quorum_destroy(&m->fs);
	sfs_quorum_destroy(&m->fs);
	assert_null(m->fs.quorum);
	sfs_block_destroy(&m->fs);
	assert_null(m->fs.block);
}

static void status(struct mnt *m, char *buf, size_t len)
{
	int ret = sfs_quorum_status(&m->fs, buf, len);

	assert_true(ret > 0 && (size_t)ret < len);
}

static void assert_status(struct mnt *m, const char *want)
{
	char buf[4096];

	status(m, buf, sizeof(buf));
	if (!strstr(buf, want))
		fail_msg("status lacks '%s':\n%s", want, buf);
}

/* poll until the agent is leader of @term */
static void wait_leader_term(struct mnt *m, uint64_t term)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char want[64], buf[4096];
	int i;

	snprintf(want, sizeof(want), "role leader\nterm %llu\n", (unsigned long long)term);
	for (i = 0; i < (int)(WAIT_MS / 10); i++) {
		status(m, buf, sizeof(buf));
		if (strstr(buf, want))
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("not leader of term %llu:\n%s", (unsigned long long)term, buf);
}

static void assert_event(const union qblk *blk, int e, uint64_t rid, uint64_t term,
			 uint64_t write_nr)
{
	const struct scoutfs_quorum_block_event *ev = &blk->qb.events[e];

	if (le64toh(ev->rid) != rid || le64toh(ev->term) != term ||
	    le64toh(ev->write_nr) != write_nr)
		fail_msg("event %d: rid %016llx term %llu write_nr %llu, want %016llx %llu %llu", e,
			 (unsigned long long)le64toh(ev->rid), (unsigned long long)le64toh(ev->term),
			 (unsigned long long)le64toh(ev->write_nr), (unsigned long long)rid,
			 (unsigned long long)term, (unsigned long long)write_nr);
	if (write_nr && ev->ts.sec == 0 && ev->ts.nsec == 0)
		fail_msg("event %d has no timestamp", e);
}

static uint64_t ts_ns(const union qblk *blk, int e)
{
	const struct scoutfs_timespec *ts = &blk->qb.events[e].ts;

	return le64toh(ts->sec) * 1000000000ULL + le32toh(ts->nsec);
}

static void assert_find_server(struct mnt *m, int want_ret, uint64_t want_term)
{
	union scoutfs_inet_addr addr;
	char text[SFS_TEXT_ADDR_LEN];
	uint64_t term = 0;

	assert_int_equal(sfs_quorum_find_server(&m->fs, &m->super, &addr, &term), want_ret);
	if (want_ret)
		return;
	assert_int_equal(term, want_term);
	sfs_text_inet_addr(text, sizeof(text), &addr);
	assert_string_equal(text, "127.0.0.1:42000");
}

/*
 * One member: BEGIN, TERM, ELECT and FENCE of term 1, the server started
 * once, found through the blocks; stop: STOP and END, no server.  A new
 * mount of the slot after a clean stop: term 2, no old leader.
 */
static void test_member_one_slot(void **state)
{
	struct sfs_quorum_stats st;
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	char want[128];
	union qblk blk, chk;
	struct mnt *a = fx_mnt(fx);
	struct mnt *b = fx_mnt(fx);
	char *text = NULL;
	size_t text_len = 0;
	FILE *f;

	mnt_open(a, v, RID_A);
	assert_int_equal(mnt_setup(a, 0), 0);
	assert_status(a, "role none\n");
	assert_find_server(a, -ENOENT, 0);
	assert_int_equal(sfs_quorum_start(&a->fs), 0);
	assert_int_equal(sfs_quorum_start(&a->fs), -EBUSY);
	assert_int_equal(sfs_quorum_wait_role(&a->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);

	assert_int_equal(starts(a), 1);
	assert_int_equal(a->start_terms[0], 1);
	assert_int_equal(a->stops, 0);

	/* BEGIN carries the greatest term seen at start (0 on a new volume) */
	read_slot(v, 0, &blk);
	assert_int_equal(le64toh(blk.qb.write_nr), 4);
	assert_event(&blk, BEGIN, RID_A, 0, 1);
	assert_event(&blk, TERM, RID_A, 1, 2);
	assert_event(&blk, ELECT, RID_A, 1, 3);
	assert_event(&blk, FENCE, RID_A, 1, 4);
	assert_event(&blk, STOP, 0, 0, 0);
	assert_event(&blk, END, 0, 0, 0);
	assert_true(ts_ns(&blk, BEGIN) <= ts_ns(&blk, TERM));
	assert_true(ts_ns(&blk, TERM) <= ts_ns(&blk, ELECT));
	assert_true(ts_ns(&blk, ELECT) <= ts_ns(&blk, FENCE));
	/* what was written passes the reader's checks */
	assert_int_equal(sfs_block_read_sm(&a->fs, SFS_DEV_META, SLOT0_BLKNO,
					   SCOUTFS_BLOCK_MAGIC_QUORUM, chk.raw), 0);
	assert_memory_equal(chk.raw, blk.raw, SM);

	/* as `scoutfs print` shows it */
	f = open_memstream(&text, &text_len);
	assert_non_null(f);
	sfs_text_quorum_block(f, &blk.qb);
	fclose(f);
	snprintf(want, sizeof(want), "elect: rid %016llx term 1 write_nr 3 ts ",
		 (unsigned long long)RID_A);
	if (!strstr(text, want))
		fail_msg("print lacks '%s':\n%s", want, text);
	free(text);

	assert_find_server(a, 0, 1);
	assert_status(a, "quorum_slot_nr 0\n");
	assert_status(a, "agent running\n");
	assert_status(a, "role leader\nterm 1\n");
	assert_status(a, "server_event fence\n");
	assert_status(a, "server 127.0.0.1:42000 term 1\n");
	sfs_quorum_get_stats(&a->fs, &st);
	assert_int_equal(st.elections, 1);
	assert_int_equal(st.elected, 1);
	assert_int_equal(st.writes, 4);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.old_leaders, 0);
	assert_int_equal(st.server_starts, 1);

	assert_int_equal(sfs_quorum_stop(&a->fs), 0);
	assert_int_equal(a->stops, 1);
	read_slot(v, 0, &blk);
	assert_int_equal(le64toh(blk.qb.write_nr), 6);
	assert_event(&blk, ELECT, RID_A, 1, 3);
	assert_event(&blk, STOP, RID_A, 1, 5);
	assert_event(&blk, END, RID_A, 1, 6);
	assert_find_server(a, -ENOENT, 0);
	assert_status(a, "agent stopped\n");
	assert_status(a, "role none\n");
	assert_status(a, "server (none)\n");
	assert_int_equal(sfs_quorum_wait_role(&a->fs, SFS_QUORUM_ROLE_LEADER, 10), -ESRCH);
	assert_int_equal(sfs_quorum_stop(&a->fs), 0);
	assert_int_equal(a->stops, 1);
	sfs_quorum_get_stats(&a->fs, &st);
	assert_int_equal(st.writes, 6);
	assert_int_equal(st.server_stops, 1);
	mnt_close(a);
	sfs_quorum_get_stats(&a->fs, &st);
	assert_int_equal(st.writes, 0);

	/* the next mount of the slot continues from the greatest term */
	mnt_open(b, v, RID_B);
	assert_int_equal(mnt_setup(b, 0), 0);
	assert_int_equal(sfs_quorum_start(&b->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&b->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);
	assert_int_equal(starts(b), 1);
	assert_int_equal(b->start_terms[0], 2);
	read_slot(v, 0, &blk);
	assert_int_equal(le64toh(blk.qb.write_nr), 10);
	assert_event(&blk, BEGIN, RID_B, 1, 7);
	assert_event(&blk, TERM, RID_B, 2, 8);
	assert_event(&blk, ELECT, RID_B, 2, 9);
	assert_event(&blk, FENCE, RID_B, 2, 10);
	assert_event(&blk, STOP, RID_A, 1, 5);
	assert_find_server(b, 0, 2);
	sfs_quorum_get_stats(&b->fs, &st);
	assert_int_equal(st.old_leaders, 0);
	status(b, text = malloc(4096), 4096);
	assert_null(strstr(text, "old_leader slot"));
	free(text);
	mnt_close(b);	/* destroy stops the running agent */
	assert_int_equal(b->stops, 1);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_B, 2, 11);
	assert_event(&blk, END, RID_B, 2, 12);

}

/* a child process elects itself and dies without STOP or END */
static int crash_child(struct vol *v)
{
	struct mnt *c = calloc(1, sizeof(*c));

	if (c)
		pthread_mutex_init(&c->lock, NULL);
	if (!c || mnt_open_ret(c, v, RID_C) || mnt_setup(c, 0) || sfs_quorum_start(&c->fs) ||
	    sfs_quorum_wait_role(&c->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS))
		return 1;
	return 0;
}

/*
 * A leader that died: clients still find it until the next leader of the
 * slot is elected; that one takes the next term and records the dead one
 * as an old leader to fence.
 */
static void test_crashed_leader(void **state)
{
	struct sfs_quorum_stats st;
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *n = fx_mnt(fx);
	union qblk blk;
	char want[128];
	int status_code;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(crash_child(v));
	assert_int_equal(waitpid(pid, &status_code, 0), pid);
	assert_true(WIFEXITED(status_code));
	assert_int_equal(WEXITSTATUS(status_code), 0);

	read_slot(v, 0, &blk);
	assert_event(&blk, ELECT, RID_C, 1, 3);
	assert_event(&blk, FENCE, RID_C, 1, 4);
	assert_event(&blk, STOP, 0, 0, 0);
	assert_event(&blk, END, 0, 0, 0);

	mnt_open(n, v, RID_A);
	assert_find_server(n, 0, 1);	/* a client cannot tell it died */
	assert_int_equal(mnt_setup(n, 0), 0);
	assert_int_equal(sfs_quorum_start(&n->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&n->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);
	assert_int_equal(starts(n), 1);
	assert_int_equal(n->start_terms[0], 2);

	sfs_quorum_get_stats(&n->fs, &st);
	assert_int_equal(st.old_leaders, 1);
	snprintf(want, sizeof(want), "old_leader slot 0 rid %016llx term 1\n",
		 (unsigned long long)RID_C);
	assert_status(n, want);
	snprintf(want, sizeof(want), "previous leader rid %016llx of term 1 in slot 0",
		 (unsigned long long)RID_C);
	assert_true(logged(n, want));

	read_slot(v, 0, &blk);
	assert_event(&blk, BEGIN, RID_A, 1, 5);
	assert_event(&blk, ELECT, RID_A, 2, 7);
	assert_event(&blk, FENCE, RID_A, 2, 8);
	assert_find_server(n, 0, 2);

	assert_int_equal(sfs_quorum_stop(&n->fs), 0);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_A, 2, 9);
	assert_event(&blk, END, RID_A, 2, 10);
	mnt_close(n);
}

/*
 * A second mount given the same slot takes it over (it writes BEGIN with
 * its rid); the first one's next update sees that and refuses.
 */
static void test_slot_taken(void **state)
{
	struct sfs_quorum_stats st;
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *a = fx_mnt(fx);
	struct mnt *b = fx_mnt(fx);
	union qblk blk;
	char want[128];

	mnt_open(a, v, RID_A);
	mnt_open(b, v, RID_B);
	assert_int_equal(mnt_setup(a, 0), 0);
	assert_int_equal(sfs_quorum_start(&a->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&a->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);

	assert_int_equal(mnt_setup(b, 0), 0);
	assert_int_equal(sfs_quorum_start(&b->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&b->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);
	assert_int_equal(b->start_terms[0], 2);
	sfs_quorum_get_stats(&b->fs, &st);
	assert_int_equal(st.old_leaders, 1);
	assert_find_server(b, 0, 2);

	read_slot(v, 0, &blk);
	assert_event(&blk, BEGIN, RID_B, 1, 5);
	assert_int_equal(le64toh(blk.qb.write_nr), 8);

	/* a's next update is its STOP: refused, its server still stopped */
	assert_int_equal(sfs_quorum_stop(&a->fs), -EBUSY);
	assert_int_equal(a->stops, 1);
	snprintf(want, sizeof(want), "another mount is using quorum slot 0 (rid %016llx)",
		 (unsigned long long)RID_B);
	if (!logged(a, want))
		fail_msg("log lacks '%s':\n%s", want, a->log);
	assert_int_equal(sfs_quorum_wait_role(&a->fs, SFS_QUORUM_ROLE_LEADER, 10), -EBUSY);
	assert_status(a, "error -16\n");
	sfs_quorum_get_stats(&a->fs, &st);
	assert_true(st.errors >= 1);
	assert_int_equal(st.writes, 4);

	/* a wrote nothing more */
	read_slot(v, 0, &blk);
	assert_int_equal(le64toh(blk.qb.write_nr), 8);
	assert_event(&blk, STOP, 0, 0, 0);
	assert_event(&blk, END, 0, 0, 0);

	assert_int_equal(sfs_quorum_stop(&b->fs), 0);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_B, 2, 9);
	assert_event(&blk, END, RID_B, 2, 10);
	mnt_close(a);
	mnt_close(b);
}

/* a mount that is not a member writes nothing, and finds the member's server */
static void test_non_member(void **state)
{
	struct sfs_quorum_stats st;
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *a = fx_mnt(fx);
	struct mnt *c = fx_mnt(fx);
	uint8_t *before = malloc(SCOUTFS_QUORUM_BLOCKS * SM);
	uint8_t *after = malloc(SCOUTFS_QUORUM_BLOCKS * SM);

	/* alone, and beside a running member */
	for (int with_member = 0; with_member < 2; with_member++) {
		if (with_member) {
			mnt_open(a, v, RID_A);
			assert_int_equal(mnt_setup(a, 0), 0);
			assert_int_equal(sfs_quorum_start(&a->fs), 0);
			assert_int_equal(sfs_quorum_wait_role(&a->fs, SFS_QUORUM_ROLE_LEADER,
							      WAIT_MS), 0);
		}
		vol_pread(v, before, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);

		mnt_open(c, v, RID_C);
		assert_int_equal(mnt_setup(c, -1), 0);
		assert_int_equal(sfs_quorum_start(&c->fs), 0);
		assert_int_equal(sfs_quorum_wait_role(&c->fs, SFS_QUORUM_ROLE_NONE, 10), 0);
		assert_int_equal(sfs_quorum_wait_role(&c->fs, SFS_QUORUM_ROLE_LEADER, 10),
				 -ESRCH);
		assert_status(c, "quorum_slot_nr -1\n");
		assert_status(c, "agent not a member\n");
		assert_status(c, "role none\n");
		if (with_member) {
			assert_find_server(c, 0, 1);
			assert_status(c, "server 127.0.0.1:42000 term 1\n");
		} else {
			assert_find_server(c, -ENOENT, 0);
			assert_status(c, "server (none)\n");
		}
		assert_int_equal(sfs_quorum_stop(&c->fs), 0);
		sfs_quorum_get_stats(&c->fs, &st);
		assert_int_equal(st.writes, 0);
		assert_int_equal(starts(c), 0);
		mnt_close(c);

		vol_pread(v, after, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);
		assert_memory_equal(before, after, SCOUTFS_QUORUM_BLOCKS * SM);
	}
	assert_int_equal(sfs_quorum_stop(&a->fs), 0);
	mnt_close(a);
	free(before);
	free(after);
}

/* start on a bad quorum block: -EIO, nothing written, nothing started */
static void expect_start_eio(struct fx *fx, const char *what)
{
	struct vol *v = fx->v;
	struct mnt *m = fx_mnt(fx);
	struct sfs_quorum_stats st;
	uint8_t *before = malloc(SCOUTFS_QUORUM_BLOCKS * SM);
	uint8_t *after = malloc(SCOUTFS_QUORUM_BLOCKS * SM);

	vol_pread(v, before, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);
	mnt_open(m, v, RID_A);
	assert_int_equal(mnt_setup(m, 0), 0);
	if (sfs_quorum_start(&m->fs) != -EIO)
		fail_msg("%s: start did not fail with -EIO", what);
	if (!logged(m, "quorum slot "))
		fail_msg("%s: no quorum slot named in the log:\n%s", what, m->log);
	assert_int_equal(sfs_quorum_wait_role(&m->fs, SFS_QUORUM_ROLE_LEADER, 10), -ESRCH);
	sfs_quorum_get_stats(&m->fs, &st);
	assert_true(st.errors >= 1);
	assert_int_equal(st.writes, 0);
	assert_int_equal(starts(m), 0);
	assert_int_equal(sfs_quorum_stop(&m->fs), 0);
	mnt_close(m);
	vol_pread(v, after, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);
	assert_memory_equal(before, after, SCOUTFS_QUORUM_BLOCKS * SM);
	free(before);
	free(after);
}

static void test_corrupt_block(void **state)
{
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *m = fx_mnt(fx);
	union qblk orig17, orig22, bad, other;
	union scoutfs_inet_addr addr;
	uint64_t term;

	read_slot(v, 0, &orig17);
	read_slot(v, 5, &orig22);

	/* a flipped byte in our own slot's block: crc */
	bad = orig17;
	bad.raw[100] ^= 0x40;
	vol_pwrite(v, bad.raw, SM, SLOT0_BLKNO * SM);
	expect_start_eio(fx, "slot 0 crc");
	mnt_open(m, v, RID_B);
	assert_int_equal(sfs_quorum_find_server(&m->fs, &m->super, &addr, &term), -EIO);
	mnt_close(m);

	/* another slot's block (unused slot 5): every block is checked at start */
	vol_pwrite(v, orig17.raw, SM, SLOT0_BLKNO * SM);
	bad = orig22;
	bad.raw[40] ^= 0x01;
	vol_pwrite(v, bad.raw, SM, (SLOT0_BLKNO + 5) * SM);
	expect_start_eio(fx, "slot 5 crc");
	vol_pwrite(v, orig22.raw, SM, (SLOT0_BLKNO + 5) * SM);

	/* a valid block in the wrong place: blkno */
	read_slot(v, 1, &other);
	vol_pwrite(v, other.raw, SM, SLOT0_BLKNO * SM);
	expect_start_eio(fx, "slot 0 blkno");
	vol_pwrite(v, orig17.raw, SM, SLOT0_BLKNO * SM);

	/* repaired: the slot works */
	mnt_open(m, v, RID_A);
	assert_int_equal(mnt_setup(m, 0), 0);
	assert_int_equal(sfs_quorum_start(&m->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&m->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);
	assert_int_equal(m->start_terms[0], 1);
	mnt_close(m);
}

/*
 * Server failures: a failed start is followed by STOP and a new election;
 * a server that stops on its own likewise, without stop_server.
 */
static void test_server_failures(void **state)
{
	struct sfs_quorum_stats st;
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *m = fx_mnt(fx);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	union qblk blk;
	int i;

	mnt_open(m, v, RID_A);
	m->fail_starts = 1;
	assert_int_equal(mnt_setup(m, 0), 0);
	assert_int_equal(sfs_quorum_start(&m->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&m->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);
	assert_int_equal(starts(m), 2);
	assert_int_equal(m->start_terms[0], 1);
	assert_int_equal(m->start_terms[1], 2);
	assert_int_equal(m->stops, 0);
	read_slot(v, 0, &blk);
	/* BEGIN 1, TERM 2, ELECT 3, STOP 4 (term 1), TERM 5, ELECT 6, FENCE 7 */
	assert_event(&blk, STOP, RID_A, 1, 4);
	assert_event(&blk, TERM, RID_A, 2, 5);
	assert_event(&blk, ELECT, RID_A, 2, 6);
	assert_event(&blk, FENCE, RID_A, 2, 7);
	sfs_quorum_get_stats(&m->fs, &st);
	assert_int_equal(st.elections, 2);
	assert_int_equal(st.elected, 2);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.server_starts, 1);
	assert_true(logged(m, "starting the server of term 1 failed"));

	sfs_quorum_server_stopped(&m->fs);
	for (i = 0; i < (int)(WAIT_MS / 10) && starts(m) < 3; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(starts(m), 3);
	wait_leader_term(m, 3);
	assert_int_equal(m->start_terms[2], 3);
	assert_int_equal(m->stops, 0);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_A, 2, 8);
	assert_event(&blk, ELECT, RID_A, 3, 10);
	assert_event(&blk, FENCE, RID_A, 3, 11);
	assert_find_server(m, 0, 3);
	sfs_quorum_get_stats(&m->fs, &st);
	assert_int_equal(st.server_stops, 1);

	assert_int_equal(sfs_quorum_stop(&m->fs), 0);
	assert_int_equal(m->stops, 1);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_A, 3, 12);
	assert_event(&blk, END, RID_A, 3, 13);
	mnt_close(m);
}

/* options and configurations setup refuses, with the mount's reason */
static void test_setup_checks(void **state)
{
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *m = fx_mnt(fx);
	struct scoutfs_super_block two;
	struct sfs_quorum_opts opts;
	char why[200];
	int nr;

	mnt_open(m, v, RID_A);
	opts = (struct sfs_quorum_opts){
		.slot_nr = 0, .rid = RID_A, .super = &m->super,
		.start_server = cb_start, .stop_server = cb_stop, .arg = m,
	};

	/* nothing set up: start refuses, the rest is harmless */
	assert_int_equal(sfs_quorum_start(&m->fs), -EINVAL);
	assert_int_equal(sfs_quorum_stop(&m->fs), 0);
	assert_int_equal(sfs_quorum_status(&m->fs, why, sizeof(why)), -ENOENT);
	sfs_quorum_destroy(&m->fs);

#define REFUSE(field, val, err, text)                                          \
	do {                                                                   \
		struct sfs_quorum_opts o = opts;                               \
		o.field = val;                                                 \
		assert_int_equal(sfs_quorum_setup(&m->fs, &o), err);           \
		assert_null(m->fs.quorum);                                     \
		if (!logged(m, text))                                          \
			fail_msg("log lacks '%s':\n%s", text, m->log);         \
	} while (0)

	REFUSE(rid, 0, -EINVAL, "rid 0000000000000000 is reserved");
	REFUSE(rid, ~0ULL, -EINVAL, "rid ffffffffffffffff is reserved");
	REFUSE(rid, RID_B, -EINVAL, "is not the mount's rid");
	REFUSE(slot_nr, 15, -EINVAL, "quorum_slot_nr=15 must be 0 to 14");
	REFUSE(slot_nr, -2, -EINVAL, "quorum_slot_nr=-2 must be 0 to 14");
	REFUSE(slot_nr, 3, -EINVAL,
	       "quorum_slot_nr=3 references an unused slot; the configured slots are 0");
	REFUSE(heartbeat_timeout_ms, 1999, -EINVAL,
	       "quorum_heartbeat_timeout_ms=1999 must be from 2000 to 60000");
	REFUSE(heartbeat_timeout_ms, 60001, -EINVAL, "quorum_heartbeat_timeout_ms=60001");
	REFUSE(start_server, NULL, -EINVAL, "needs start_server and stop_server");

	/* elections among several slots arrive with the cluster */
	two = m->super;
	assert_int_equal(sfs_quorum_slot_parse("1,127.0.0.1,42001", &nr, &two.qconf.slots[1].addr,
					       why, sizeof(why)), 0);
	REFUSE(super, &two, -EOPNOTSUPP, "2 slots are configured (0,1)");
	/* ... but a client of such a volume is fine */
	opts.slot_nr = -1;
	opts.super = &two;
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
	sfs_quorum_destroy(&m->fs);
	opts.slot_nr = 0;
	opts.super = &m->super;
#undef REFUSE

	/* limits of the heartbeat timeout, and its default */
	opts.heartbeat_timeout_ms = 2000;
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
	assert_status(m, "heartbeat_timeout_ms 2000\n");
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), -EBUSY);
	assert_non_null(m->fs.quorum);
	sfs_quorum_destroy(&m->fs);
	opts.heartbeat_timeout_ms = 60000;
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
	sfs_quorum_destroy(&m->fs);
	opts.heartbeat_timeout_ms = 0;
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
	assert_status(m, "heartbeat_timeout_ms 10000\n");
	assert_status(m, "votes_needed 1\n");

	/* a status buffer too small: truncated, the whole length returned */
	assert_true(sfs_quorum_status(&m->fs, why, 8) > 8);
	assert_int_equal(strlen(why), 7);
	mnt_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_member_one_slot, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_crashed_leader, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_slot_taken, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_non_member, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_block, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_failures, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_setup_checks, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
