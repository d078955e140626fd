// SPDX-License-Identifier: GPL-2.0
/*
 * Quorum: slot parsing and configuration checks (the rules mkfs,
 * change-quorum-config and mount share), and the agent on volumes made
 * by scoutfs-mkfs: with a single slot, the events it writes to its
 * quorum block, finding the server through the blocks, a crashed
 * previous leader, a slot taken over by a mount elsewhere, non-members,
 * corrupt blocks and server failures; with several slots, elections over
 * loopback UDP (1, 2, 3 and 5 slots, IPv4 and IPv6), forged, replayed
 * and stale messages dropped and counted, two leaders of one term, a
 * leader that stops or is killed, and a second agent on a used slot.
 * Each "mount" is its own sfs_fs on the same image files, as separate
 * daemons would be; the killed leaders are child processes.
 *
 * The slots use loopback ports picked per run (port_base), so that runs
 * in parallel do not meet.
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
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "block.h"
#include "counters.h"
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
#define ELECT_WAIT_MS 30000U	/* bound of the polls for elections among several agents */
#define HB_MS 2000U		/* the heartbeat timeout of the multi-slot tests: the least */

#define RID_A 0x1111aaaa2222bbbbULL
#define RID_B 0x3333cccc4444ddddULL
#define RID_C 0x5555eeee6666ffffULL

enum { BEGIN = SCOUTFS_QUORUM_EVENT_BEGIN, TERM = SCOUTFS_QUORUM_EVENT_TERM,
       ELECT = SCOUTFS_QUORUM_EVENT_ELECT, FENCE = SCOUTFS_QUORUM_EVENT_FENCE,
       STOP = SCOUTFS_QUORUM_EVENT_STOP, END = SCOUTFS_QUORUM_EVENT_END };

struct vol {
	char dir[64], meta[96], data[96];
	char addr[16];		/* the slots' address: 127.0.0.1 or ::1 */
	int nr_slots;		/* slots 0..nr_slots-1, on port_base + slot */
};

/* slot i of every test volume is on port_base + i (TCP and UDP) */
static int port_base;
#define MAX_PORTS 8

static bool have_ipv6;

static struct vol *cur_vol;	/* the current test's volume */

/* a port free for UDP and TCP on loopback */
static bool port_free(int family, int port)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_storage ss;
	socklen_t len;
	bool ok = true;
	int i, fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	for (i = 0; i < 2 && ok; i++) {
		fd = socket(family, types[i], 0);
		if (fd < 0)
			return false;
		ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
		close(fd);
	}
	return ok;
}

static void pick_ports(void)
{
	int try, i;

	have_ipv6 = port_free(AF_INET6, 0);
	for (try = 0; try < 500; try++) {
		/* below t_mkfs's ports (20000..31999) and the ephemeral range */
		port_base = 12000 +
			    (int)(((unsigned int)getpid() + (unsigned int)try * 7919U) % 650U) * 12;
		for (i = 0; i < MAX_PORTS; i++) {
			if (!port_free(AF_INET, port_base + i) ||
			    (have_ipv6 && !port_free(AF_INET6, port_base + i)))
				break;
		}
		if (i == MAX_PORTS)
			return;
	}
	fprintf(stderr, "no free loopback ports for the quorum slots\n");
	exit(1);
}

/* "ADDR:PORT" (or "[ADDR]:PORT") of a test volume's slot, as sfs_text_inet_addr() says */
static void slot_text(const struct vol *v, int slot, char *buf, size_t len)
{
	if (strchr(v->addr, ':'))
		snprintf(buf, len, "[%s]:%d", v->addr, port_base + slot);
	else
		snprintf(buf, len, "%s:%d", v->addr, port_base + slot);
}

union qblk {
	struct scoutfs_quorum_block qb;
	uint8_t raw[SM];
};

/* one mount: its own fs on the volume's images, and its server callbacks */
struct mnt {
	struct sfs_fs fs;
	struct sfs_counters counters;	/* the daemon's counters */
	struct scoutfs_super_block super;
	uint64_t rid;
	pthread_mutex_t lock;
	int starts;
	int stops;
	uint64_t start_terms[16];
	int fail_starts;	/* fail this many start_server calls with -EIO */
	int fail_starts_done;	/* start_server calls failed so */
	char log[32768];
	size_t log_len;
};

/* a volume whose slots 0..nr_slots-1 are on @addr */
static struct vol *vol_create_slots(const char *addr, int nr_slots)
{
	const char *mkfs = getenv("SCOUTFS_MKFS");
	char cmd[1024], slots[512];
	size_t off = 0;
	struct vol *v;
	int i;

	if (!mkfs)
		skip();
	v = calloc(1, sizeof(*v));
	assert_non_null(v);
	assert_true(nr_slots <= MAX_PORTS);
	snprintf(v->addr, sizeof(v->addr), "%s", addr);
	v->nr_slots = nr_slots;
	strcpy(v->dir, "/var/tmp/sfs-test-quorum.XXXXXX");
	assert_non_null(mkdtemp(v->dir));
	snprintf(v->meta, sizeof(v->meta), "%s/meta.img", v->dir);
	snprintf(v->data, sizeof(v->data), "%s/data.img", v->dir);
	for (i = 0; i < nr_slots; i++)
		off += (size_t)snprintf(slots + off, sizeof(slots) - off, " -Q %d,%s,%d", i, addr,
					port_base + i);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 256M %s && truncate -s 256M %s && %s -A%s %s %s >/dev/null 2>&1",
		 v->meta, v->data, mkfs, slots, v->meta, v->data);
	assert_int_equal(system(cmd), 0);
	return v;
}

static struct vol *vol_create(void)
{
	return vol_create_slots("127.0.0.1", 1);
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
	pid_t pids[FX_MNTS];	/* child agents still running, killed at teardown */
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
		if (fx->pids[i] > 0) {
			kill(fx->pids[i], SIGKILL);
			waitpid(fx->pids[i], NULL, 0);
		}
	}
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
	cur_vol = fx->v;
	return fx->v;
}

static struct vol *fx_vol_slots(struct fx *fx, const char *addr, int nr_slots)
{
	fx->v = vol_create_slots(addr, nr_slots);
	cur_vol = fx->v;
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
		m->fail_starts_done++;
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
	m->fs.counters = &m->counters;
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

static int mnt_setup_hb(struct mnt *m, int slot, unsigned int hb_ms)
{
	struct sfs_quorum_opts opts = {
		.slot_nr = slot,
		.rid = m->rid,
		.super = &m->super,
		.start_server = cb_start,
		.stop_server = cb_stop,
		.arg = m,
		.heartbeat_timeout_ms = hb_ms,
	};

	return sfs_quorum_setup(&m->fs, &opts);
}

static int mnt_setup(struct mnt *m, int slot)
{
	return mnt_setup_hb(m, slot, 0);
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

/* the server found through the blocks: @want_ret, else term and slot */
static void assert_find_server_slot(struct mnt *m, struct vol *v, int want_ret,
				    uint64_t want_term, int want_slot)
{
	union scoutfs_inet_addr addr;
	char text[SFS_TEXT_ADDR_LEN], want[SFS_TEXT_ADDR_LEN];
	uint64_t term = 0;

	assert_int_equal(sfs_quorum_find_server(&m->fs, &m->super, &addr, &term), want_ret);
	if (want_ret)
		return;
	assert_int_equal(term, want_term);
	sfs_text_inet_addr(text, sizeof(text), &addr);
	slot_text(v, want_slot, want, sizeof(want));
	assert_string_equal(text, want);
}

static void assert_find_server(struct mnt *m, int want_ret, uint64_t want_term)
{
	assert_find_server_slot(m, cur_vol, want_ret, want_term, 0);
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
	char text0[SFS_TEXT_ADDR_LEN];
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
	slot_text(v, 0, text0, sizeof(text0));
	snprintf(want, sizeof(want), "server %s term 1\n", text0);
	assert_status(a, want);
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
 * A second mount given the same slot: on the same host its bind of the
 * slot's UDP address fails and it is refused before it writes anything;
 * from another host (its BEGIN written over ours, as that host's agent
 * would) the first one's next update sees the rid and refuses.
 */
static void test_slot_taken(void **state)
{
	struct sfs_quorum_stats st;
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *a = fx_mnt(fx);
	struct mnt *b = fx_mnt(fx);
	uint8_t *before = malloc(SCOUTFS_QUORUM_BLOCKS * SM);
	uint8_t *after = malloc(SCOUTFS_QUORUM_BLOCKS * SM);
	char want[160], text0[SFS_TEXT_ADDR_LEN];
	union qblk blk;

	mnt_open(a, v, RID_A);
	mnt_open(b, v, RID_B);
	assert_int_equal(mnt_setup(a, 0), 0);
	assert_int_equal(sfs_quorum_start(&a->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&a->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);

	/* this host: refused at the bind, nothing written, a untouched */
	vol_pread(v, before, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);
	assert_int_equal(mnt_setup(b, 0), 0);
	assert_int_equal(sfs_quorum_start(&b->fs), -EADDRINUSE);
	slot_text(v, 0, text0, sizeof(text0));
	snprintf(want, sizeof(want), "quorum slot 0 (%s) is in use by another mount", text0);
	if (!logged(b, want))
		fail_msg("log lacks '%s':\n%s", want, b->log);
	assert_int_equal(sfs_quorum_wait_role(&b->fs, SFS_QUORUM_ROLE_LEADER, 10), -ESRCH);
	assert_status(b, "agent stopped\n");
	sfs_quorum_get_stats(&b->fs, &st);
	assert_int_equal(st.writes, 0);
	assert_int_equal(starts(b), 0);
	assert_int_equal(sfs_quorum_stop(&b->fs), 0);
	sfs_quorum_destroy(&b->fs);
	vol_pread(v, after, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);
	assert_memory_equal(before, after, SCOUTFS_QUORUM_BLOCKS * SM);
	assert_status(a, "role leader\nterm 1\n");
	assert_find_server(a, 0, 1);
	/* ... and may try again once the slot is free: it is a's until then */
	assert_int_equal(mnt_setup(b, 0), 0);
	assert_int_equal(sfs_quorum_start(&b->fs), -EADDRINUSE);
	sfs_quorum_destroy(&b->fs);

	/* another host: its agent wrote BEGIN with its rid over ours */
	read_slot(v, 0, &blk);
	blk.qb.events[BEGIN].rid = htole64(RID_B);
	blk.qb.write_nr = htole64(le64toh(blk.qb.write_nr) + 1);
	blk.qb.events[BEGIN].write_nr = blk.qb.write_nr;
	assert_int_equal(sfs_block_write_sm(&b->fs, SFS_DEV_META, SLOT0_BLKNO, blk.raw), 0);
	assert_int_equal(sfs_block_flush(&b->fs, SFS_DEV_META), 0);

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
	assert_int_equal(le64toh(blk.qb.write_nr), 5);
	assert_event(&blk, BEGIN, RID_B, 0, 5);
	assert_event(&blk, STOP, 0, 0, 0);
	assert_event(&blk, END, 0, 0, 0);
	mnt_close(a);
	mnt_close(b);
	free(before);
	free(after);
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
			char want[128], text0[SFS_TEXT_ADDR_LEN];

			slot_text(v, 0, text0, sizeof(text0));
			snprintf(want, sizeof(want), "server %s term 1\n", text0);
			assert_status(c, want);
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
 * a server that stops on its own likewise, after stop_server frees it.
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
	assert_int_equal(m->stops, 1);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_A, 2, 8);
	assert_event(&blk, ELECT, RID_A, 3, 10);
	assert_event(&blk, FENCE, RID_A, 3, 11);
	assert_find_server(m, 0, 3);
	sfs_quorum_get_stats(&m->fs, &st);
	assert_int_equal(st.server_stops, 1);

	assert_int_equal(sfs_quorum_stop(&m->fs), 0);
	assert_int_equal(m->stops, 2);
	read_slot(v, 0, &blk);
	assert_event(&blk, STOP, RID_A, 3, 12);
	assert_event(&blk, END, RID_A, 3, 13);
	mnt_close(m);
}

/*
 * A server that reports up: FENCE is written only once it says it had
 * the earlier leaders fenced, and only for its own term.
 */
static void test_server_reports_up(void **state)
{
	struct fx *fx = *state;
	struct vol *v = fx_vol(fx);
	struct mnt *m = fx_mnt(fx);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct sfs_quorum_opts opts = {
		.slot_nr = 0,
		.rid = RID_A,
		.start_server = cb_start,
		.stop_server = cb_stop,
		.arg = m,
		.server_reports_up = true,
	};
	union qblk blk;
	int i;

	mnt_open(m, v, RID_A);
	opts.super = &m->super;
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
	assert_int_equal(sfs_quorum_start(&m->fs), 0);
	assert_int_equal(sfs_quorum_wait_role(&m->fs, SFS_QUORUM_ROLE_LEADER, WAIT_MS), 0);
	/* a few heartbeats: still no FENCE */
	nanosleep(&(struct timespec){ 0, 300 * 1000 * 1000 }, NULL);
	read_slot(v, 0, &blk);
	assert_event(&blk, ELECT, RID_A, 1, 3);
	assert_int_equal(le64toh(blk.qb.events[SCOUTFS_QUORUM_EVENT_FENCE].term), 0);
	/* an up of another term changes nothing */
	sfs_quorum_server_up(&m->fs, 7);
	nanosleep(&(struct timespec){ 0, 300 * 1000 * 1000 }, NULL);
	read_slot(v, 0, &blk);
	assert_int_equal(le64toh(blk.qb.events[SCOUTFS_QUORUM_EVENT_FENCE].term), 0);
	sfs_quorum_server_up(&m->fs, 1);
	for (i = 0; i < (int)(WAIT_MS / 10); i++) {
		read_slot(v, 0, &blk);
		if (le64toh(blk.qb.events[SCOUTFS_QUORUM_EVENT_FENCE].term) == 1)
			break;
		nanosleep(&ts, NULL);
	}
	assert_event(&blk, FENCE, RID_A, 1, 4);
	assert_int_equal(sfs_quorum_stop(&m->fs), 0);
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

	/* slots mixing IPv4 and IPv6 (mkfs refuses them): members and clients refuse */
	two = m->super;
	assert_int_equal(sfs_quorum_slot_parse("1,::1,42001", &nr, &two.qconf.slots[1].addr,
					       why, sizeof(why)), 0);
	REFUSE(super, &two, -EINVAL,
	       "quorum slots 0 and 1 mix IPv4 and IPv6 addresses; all slots must use the same family");
	m->log_len = 0;
	m->log[0] = '\0';
	opts.super = &two;
	opts.slot_nr = -1;
	assert_int_equal(sfs_quorum_setup(&m->fs, &opts), -EINVAL);
	assert_null(m->fs.quorum);
	assert_true(logged(m, "mix IPv4 and IPv6"));
	opts.slot_nr = 0;
	opts.super = &m->super;

	/* the votes that elect: one with one or two slots, else a strict majority */
	for (int n = 2; n <= 15; n++) {
		char arg[64], want[64];

		two = m->super;
		for (int i = 1; i < n; i++) {
			snprintf(arg, sizeof(arg), "%d,127.0.0.1,%d", i, 42000 + i);
			assert_int_equal(sfs_quorum_slot_parse(arg, &nr, &two.qconf.slots[i].addr,
							       why, sizeof(why)), 0);
		}
		opts.super = &two;
		opts.slot_nr = n - 1;
		assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
		snprintf(want, sizeof(want), "votes_needed %d\n", n < 3 ? 1 : n / 2 + 1);
		assert_status(m, want);
		sfs_quorum_destroy(&m->fs);
		/* and a client of such a volume is fine */
		opts.slot_nr = -1;
		assert_int_equal(sfs_quorum_setup(&m->fs, &opts), 0);
		sfs_quorum_destroy(&m->fs);
	}
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

/* ------------------------------------------------------------------ */
/* Elections among several slots                                        */
/* ------------------------------------------------------------------ */

static const uint64_t slot_rids[MAX_PORTS] = {
	0x1000aaaa0000a001ULL, 0x2000bbbb0000b002ULL, 0x3000cccc0000c003ULL,
	0x4000dddd0000d004ULL, 0x5000eeee0000e005ULL, 0x6000ffff0000f006ULL,
	0x7000abab0000a007ULL, 0x8000cdcd0000c008ULL,
};

#define RID_CLIENT 0x0c11e47000000001ULL
#define RID_FORGER 0x0f0f0f0f0f0f0f0fULL

struct view {
	char agent[16];
	char role[16];
	unsigned long long term;
	int leader_slot;
};

static void get_view(struct mnt *m, struct view *vw)
{
	char buf[4096], *line, *save = NULL;

	status(m, buf, sizeof(buf));
	memset(vw, 0, sizeof(*vw));
	vw->leader_slot = -2;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "agent %15s", vw->agent) == 1 ||
		    sscanf(line, "role %15s", vw->role) == 1 ||
		    sscanf(line, "term %llu", &vw->term) == 1 ||
		    sscanf(line, "leader_slot %d", &vw->leader_slot) == 1)
			continue;
	}
}

static void fail_views(struct mnt **ms, int n, const char *why)
{
	char buf[4096];
	int i;

	for (i = 0; i < n; i++) {
		if (!ms[i])
			continue;
		status(ms[i], buf, sizeof(buf));
		print_message("--- agent of slot %d:\n%s", i, buf);
	}
	fail_msg("%s", why);
}

/*
 * Poll until exactly one of the agents (ms[i] runs slot i; NULL: none) is
 * leader, of a term >= min_term, and every other one follows it in that
 * term; return the leader's slot and its term.
 */
static int wait_one_leader(struct mnt **ms, int n, uint64_t min_term, uint64_t *term)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct view vw[MAX_PORTS];
	int leader, leaders, i, iter;
	bool agree;

	for (iter = 0; iter < (int)(ELECT_WAIT_MS / 10); iter++) {
		leader = -1;
		leaders = 0;
		for (i = 0; i < n; i++) {
			if (!ms[i])
				continue;
			get_view(ms[i], &vw[i]);
			if (!strcmp(vw[i].role, "leader")) {
				leaders++;
				leader = i;
			}
		}
		if (leaders == 1 && vw[leader].term >= min_term) {
			agree = vw[leader].leader_slot == leader;
			for (i = 0; i < n && agree; i++) {
				if (ms[i] && i != leader)
					agree = !strcmp(vw[i].role, "follower") &&
						vw[i].term == vw[leader].term &&
						vw[i].leader_slot == leader;
			}
			if (agree) {
				*term = vw[leader].term;
				return leader;
			}
		}
		nanosleep(&ts, NULL);
	}
	fail_views(ms, n, "the agents did not agree on one leader");
	return -1;
}

/* event terms of a slot's block */
static void slot_terms(struct vol *v, int slot, uint64_t *elect, uint64_t *fence, uint64_t *stop)
{
	union qblk blk;

	read_slot(v, slot, &blk);
	*elect = le64toh(blk.qb.events[ELECT].term);
	*fence = le64toh(blk.qb.events[FENCE].term);
	*stop = le64toh(blk.qb.events[STOP].term);
}

static int running_servers(struct mnt *m)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = m->starts - m->fail_starts_done - m->stops;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/*
 * The one leader, seen from everywhere: only its server runs, only its
 * slot shows a live ELECT (with FENCE) in the blocks, every agent and a
 * client find it, and it is still so a moment later.
 */
static void check_one_leader(struct vol *v, struct mnt **ms, int n, int leader, uint64_t term)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	uint64_t elect, fence, stop, again;
	int i;

	for (i = 0; i < n; i++) {
		if (!ms[i])
			continue;
		if (running_servers(ms[i]) != (i == leader))
			fail_views(ms, n, "a server runs elsewhere than on the leader");
		assert_find_server_slot(ms[i], v, 0, term, leader);
	}
	for (i = 0; i < v->nr_slots; i++) {
		slot_terms(v, i, &elect, &fence, &stop);
		if (i == leader) {
			assert_int_equal(elect, term);
			assert_int_equal(fence, term);
			assert_true(stop < term);
		} else if (ms[i]) {
			/* a live agent that is not leader shows no server */
			assert_true(elect <= stop);
		}
	}
	nanosleep(&ts, NULL);
	assert_int_equal(wait_one_leader(ms, n, term, &again), leader);
	assert_int_equal(again, term);
}

/* what no clean election may see */
static void assert_no_drops(struct mnt *m)
{
	struct sfs_quorum_stats st;

	sfs_quorum_get_stats(&m->fs, &st);
	assert_int_equal(st.recv_invalid, 0);
	assert_int_equal(st.recv_bad_hmac, 0);
	assert_int_equal(st.recv_bad_fsid, 0);
	assert_int_equal(st.recv_bad_type, 0);
	assert_int_equal(st.recv_bad_slot, 0);
	assert_int_equal(st.recv_replay, 0);
	assert_int_equal(st.errors, 0);
}

/* wait for a stat of m to reach @want, and fail if it goes past it */
static void wait_stat(struct mnt *m, const char *name, size_t off, uint64_t want)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct sfs_quorum_stats st;
	uint64_t val = 0;
	int i;

	for (i = 0; i < (int)(WAIT_MS / 5); i++) {
		sfs_quorum_get_stats(&m->fs, &st);
		memcpy(&val, (const char *)&st + off, sizeof(val));
		if (val >= want)
			break;
		nanosleep(&ts, NULL);
	}
	if (val != want)
		fail_msg("slot stat %s is %llu, want %llu", name, (unsigned long long)val,
			 (unsigned long long)want);
}

#define WAIT_STAT(m, field, want) \
	wait_stat(m, #field, offsetof(struct sfs_quorum_stats, field), want)

static uint64_t stat_of(struct mnt *m, size_t off)
{
	struct sfs_quorum_stats st;
	uint64_t val;

	sfs_quorum_get_stats(&m->fs, &st);
	memcpy(&val, (const char *)&st + off, sizeof(val));
	return val;
}

#define STAT(m, field) stat_of(m, offsetof(struct sfs_quorum_stats, field))

/* start agents on slots 0..n-1 (ms[i] on slot i), all at once */
static void start_agents(struct fx *fx, struct vol *v, struct mnt **ms, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		ms[i] = fx_mnt(fx);
		mnt_open(ms[i], v, slot_rids[i]);
		assert_int_equal(mnt_setup_hb(ms[i], i, HB_MS), 0);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(sfs_quorum_start(&ms[i]->fs), 0);
}

/*
 * n members elect exactly one leader: followers hear its heartbeats, a
 * client finds it, a second agent on a used slot is refused and changes
 * nothing; then every agent stops cleanly and no server is left.
 */
static void elect_n(void **state, const char *addr, int n)
{
	struct fx *fx = *state;
	struct mnt *ms[MAX_PORTS] = { NULL };
	struct sfs_quorum_stats st;
	uint64_t term, again, elect, fence, stop;
	struct mnt *c, *dup;
	struct vol *v;
	char want[128];
	int leader, i;

	if (strchr(addr, ':') && !have_ipv6)
		skip();
	v = fx_vol_slots(fx, addr, n);
	start_agents(fx, v, ms, n);
	leader = wait_one_leader(ms, n, 1, &term);
	check_one_leader(v, ms, n, leader, term);

	sfs_quorum_get_stats(&ms[leader]->fs, &st);
	assert_true(st.elected >= 1);
	assert_int_equal(st.server_starts, starts(ms[leader]));
	snprintf(want, sizeof(want), "quorum: slot %d elected leader of term %llu", leader,
		 (unsigned long long)term);
	assert_true(logged(ms[leader], want));
	/* the daemon's counters say the same */
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_elected), st.elected);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_writes), st.writes);
	for (i = 0; i < n; i++) {
		assert_no_drops(ms[i]);
		if (i != leader)
			assert_true(STAT(ms[i], recv_heartbeat) >= 1);
	}
	if (n > 1)
		assert_true(STAT(ms[leader], send_heartbeat) >= 1);

	/* a mount that is not a member finds it */
	c = fx_mnt(fx);
	mnt_open(c, v, RID_CLIENT);
	assert_int_equal(mnt_setup(c, -1), 0);
	assert_find_server_slot(c, v, 0, term, leader);
	mnt_close(c);

	/* a second agent on a used slot (a follower's if there is one) is refused */
	i = n > 1 ? (leader + 1) % n : 0;
	dup = fx_mnt(fx);
	mnt_open(dup, v, RID_CLIENT);
	assert_int_equal(mnt_setup_hb(dup, i, HB_MS), 0);
	assert_int_equal(sfs_quorum_start(&dup->fs), -EADDRINUSE);
	{
		char text[SFS_TEXT_ADDR_LEN];

		slot_text(v, i, text, sizeof(text));
		snprintf(want, sizeof(want), "quorum slot %d (%s) is in use by another mount", i,
			 text);
		if (!logged(dup, want))
			fail_msg("log lacks '%s':\n%s", want, dup->log);
	}
	assert_int_equal(STAT(dup, writes), 0);
	mnt_close(dup);
	assert_int_equal(wait_one_leader(ms, n, term, &again), leader);
	assert_int_equal(again, term);

	/* the followers stop, then the leader: each cleanly, no server left */
	for (i = 0; i < n; i++) {
		if (i != leader)
			assert_int_equal(sfs_quorum_stop(&ms[i]->fs), 0);
	}
	assert_int_equal(sfs_quorum_stop(&ms[leader]->fs), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(running_servers(ms[i]), 0);
		slot_terms(v, i, &elect, &fence, &stop);
		assert_true(elect <= stop);
	}
	assert_find_server_slot(ms[0], v, -ENOENT, 0, 0);
}

static void test_elect_1(void **state)
{
	elect_n(state, "127.0.0.1", 1);
}

static void test_elect_2(void **state)
{
	elect_n(state, "127.0.0.1", 2);
}

static void test_elect_3(void **state)
{
	elect_n(state, "127.0.0.1", 3);
}

static void test_elect_5(void **state)
{
	elect_n(state, "127.0.0.1", 5);
}

static void test_elect_ipv6(void **state)
{
	elect_n(state, "::1", 2);
}

/* a message made by hand, sealed with @key */
static void make_msg(struct scoutfs_quorum_message *qm, const uint8_t *key, uint64_t fsid,
		     uint64_t rid, uint64_t seq, uint64_t term, int type, int from)
{
	memset(qm, 0, sizeof(*qm));
	qm->fsid = htole64(fsid);
	qm->rid = htole64(rid);
	qm->seq = htole64(seq);
	qm->term = htole64(term);
	qm->version = SCOUTFS_QUORUM_MSG_VERSION;
	qm->type = (uint8_t)type;
	qm->from = (uint8_t)from;
	assert_int_equal(sfs_quorum_msg_seal(key, qm), 0);
}

/* send @len bytes of @qm to a test volume's slot */
static void send_to(int sock, struct vol *v, int slot, const void *qm, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_port = htons((uint16_t)(port_base + slot));
	assert_int_equal(inet_pton(AF_INET, v->addr, &sin.sin_addr), 1);
	assert_int_equal(sendto(sock, qm, len, 0, (struct sockaddr *)&sin, sizeof(sin)),
			 (ssize_t)len);
}

/*
 * Forged, malformed, replayed and stale messages, sent to the leader and
 * a follower as if from the other follower (which sends nothing itself
 * while all is well): each is dropped and counted under its reason, and
 * nothing changes: roles, term, leader, servers, not a byte of the
 * quorum blocks.  Well-formed messages of the same kind, before and
 * after, are taken: the drops are the checks' doing.
 */
static void test_bad_messages(void **state)
{
	struct fx *fx = *state;
	struct mnt *ms[MAX_PORTS] = { NULL };
	struct scoutfs_quorum_message qm, good;
	uint8_t key[SCOUTFS_NET_KEY_BYTES];
	uint8_t *before = malloc(SCOUTFS_QUORUM_BLOCKS * SM);
	uint8_t *after = malloc(SCOUTFS_QUORUM_BLOCKS * SM);
	struct mnt *to[2];
	uint64_t term, again, fsid, elections[3], requests[3], votes[2];
	int leader, forged, other, sock, i, t;
	struct vol *v = fx_vol_slots(fx, "127.0.0.1", 3);

	start_agents(fx, v, ms, 3);
	leader = wait_one_leader(ms, 3, 1, &term);
	check_one_leader(v, ms, 3, leader, term);
	forged = (leader + 1) % 3;	/* the follower the messages claim to be from */
	other = (leader + 2) % 3;
	to[0] = ms[leader];
	to[1] = ms[other];
	for (i = 0; i < 3; i++) {
		elections[i] = STAT(ms[i], elections);
		requests[i] = STAT(ms[i], recv_request);
	}

	assert_int_equal(sfs_quorum_derive_key(ms[0]->super.uuid, key), 0);
	fsid = le64toh(ms[0]->super.hdr.fsid);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);
	vol_pread(v, before, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);

	/* well formed: a vote of our term, which leader and follower ignore */
	make_msg(&good, key, fsid, RID_FORGER, 1, term, SCOUTFS_QUORUM_MSG_VOTE, forged);
	for (t = 0; t < 2; t++) {
		/* late votes of the election may have come in already */
		votes[t] = STAT(to[t], recv_vote);
		send_to(sock, v, t == 0 ? leader : other, &good, sizeof(good));
		WAIT_STAT(to[t], recv_vote, votes[t] + 1);
	}

#define SEND_EACH(field)                                                                   \
	do {                                                                               \
		for (t = 0; t < 2; t++) {                                                  \
			uint64_t was = STAT(to[t], field);                                  \
			send_to(sock, v, t == 0 ? leader : other, &qm, sizeof(qm));         \
			WAIT_STAT(to[t], field, was + 1);                                   \
		}                                                                          \
	} while (0)

	/* a newer term, so that taking any of these would show */
	make_msg(&qm, key, fsid, RID_FORGER, 2, term + 5, SCOUTFS_QUORUM_MSG_REQUEST_VOTE, forged);
	qm.tag[7] ^= 0x10;
	SEND_EACH(recv_bad_hmac);
	/* sealed with another volume's key */
	{
		uint8_t uuid[SCOUTFS_UUID_BYTES], other_key[SCOUTFS_NET_KEY_BYTES];

		memcpy(uuid, ms[0]->super.uuid, sizeof(uuid));
		uuid[0] ^= 1;
		assert_int_equal(sfs_quorum_derive_key(uuid, other_key), 0);
		make_msg(&qm, other_key, fsid, RID_FORGER, 3, term + 5,
			 SCOUTFS_QUORUM_MSG_REQUEST_VOTE, forged);
		SEND_EACH(recv_bad_hmac);
	}
	make_msg(&qm, key, fsid ^ 1, RID_FORGER, 4, term + 5, SCOUTFS_QUORUM_MSG_REQUEST_VOTE,
		 forged);
	SEND_EACH(recv_bad_fsid);
	make_msg(&qm, key, fsid, RID_FORGER, 5, term + 5, 7, forged);
	SEND_EACH(recv_bad_type);
	make_msg(&qm, key, fsid, RID_FORGER, 6, term + 5, SCOUTFS_QUORUM_MSG_REQUEST_VOTE, 14);
	SEND_EACH(recv_bad_slot);
	make_msg(&qm, key, fsid, RID_FORGER, 7, term + 5, SCOUTFS_QUORUM_MSG_REQUEST_VOTE, 200);
	SEND_EACH(recv_bad_slot);
	make_msg(&qm, key, fsid, RID_FORGER, 8, term + 5, SCOUTFS_QUORUM_MSG_REQUEST_VOTE, forged);
	qm.version = 2;
	assert_int_equal(sfs_quorum_msg_seal(key, &qm), 0);
	SEND_EACH(recv_invalid);
	/* the well-formed vote again: a replay */
	qm = good;
	SEND_EACH(recv_replay);
	/* an older term, well formed and new */
	make_msg(&qm, key, fsid, RID_FORGER, 9, term - 1, SCOUTFS_QUORUM_MSG_REQUEST_VOTE, forged);
	SEND_EACH(recv_old_term);
	/* too short */
	for (t = 0; t < 2; t++) {
		uint64_t was = STAT(to[t], recv_invalid);

		make_msg(&qm, key, fsid, RID_FORGER, 10, term, SCOUTFS_QUORUM_MSG_VOTE, forged);
		send_to(sock, v, t == 0 ? leader : other, &qm, sizeof(qm) - 1);
		WAIT_STAT(to[t], recv_invalid, was + 1);
	}
#undef SEND_EACH

	/* and a new well-formed vote is taken again */
	make_msg(&qm, key, fsid, RID_FORGER, 11, term, SCOUTFS_QUORUM_MSG_VOTE, forged);
	send_to(sock, v, leader, &qm, sizeof(qm));
	send_to(sock, v, other, &qm, sizeof(qm));
	WAIT_STAT(ms[leader], recv_vote, votes[0] + 2);
	WAIT_STAT(ms[other], recv_vote, votes[1] + 2);
	close(sock);

	/* nothing changed */
	assert_int_equal(wait_one_leader(ms, 3, term, &again), leader);
	assert_int_equal(again, term);
	for (i = 0; i < 3; i++) {
		assert_int_equal(STAT(ms[i], elections), elections[i]);
		assert_int_equal(STAT(ms[i], recv_request), requests[i]);
		assert_int_equal(running_servers(ms[i]), i == leader);
	}
	assert_int_equal(starts(ms[leader]), 1);
	vol_pread(v, after, SCOUTFS_QUORUM_BLOCKS * SM, SLOT0_BLKNO * SM);
	assert_memory_equal(before, after, SCOUTFS_QUORUM_BLOCKS * SM);
	/* the forged follower saw none of it */
	assert_int_equal(STAT(ms[forged], recv_bad_slot) + STAT(ms[forged], recv_bad_hmac), 0);
	/* the daemon's counters count the drops too */
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_bad_hmac), 2);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_bad_fsid), 1);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_bad_type), 1);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_bad_slot), 2);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_replay), 1);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_old_term), 1);
	assert_int_equal(sfs_counter(&ms[leader]->fs, quorum_recv_invalid), 2);
	free(before);
	free(after);
}

/*
 * Two leaders of one term (possible where one vote elects): a leader
 * hearing a heartbeat of its own term from a greater slot keeps leading;
 * from a lower slot it steps down, stops its server and writes STOP, and
 * stands again once that other leader's heartbeats stop coming.
 */
static void test_split_term(void **state)
{
	struct fx *fx = *state;
	struct mnt *ms[MAX_PORTS] = { NULL };
	struct scoutfs_quorum_message qm;
	uint8_t key[SCOUTFS_NET_KEY_BYTES];
	uint64_t term, term2, fsid, elect, fence, stop;
	struct vol *v = fx_vol_slots(fx, "127.0.0.1", 2);
	int sock;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);

	/* slot 0 alone leads; a heartbeat of its term "from slot 1" changes nothing */
	ms[0] = fx_mnt(fx);
	mnt_open(ms[0], v, slot_rids[0]);
	assert_int_equal(sfs_quorum_derive_key(ms[0]->super.uuid, key), 0);
	fsid = le64toh(ms[0]->super.hdr.fsid);
	assert_int_equal(mnt_setup_hb(ms[0], 0, HB_MS), 0);
	assert_int_equal(sfs_quorum_start(&ms[0]->fs), 0);
	assert_int_equal(wait_one_leader(ms, 2, 1, &term), 0);
	make_msg(&qm, key, fsid, RID_FORGER, 1, term, SCOUTFS_QUORUM_MSG_HEARTBEAT, 1);
	send_to(sock, v, 0, &qm, sizeof(qm));
	WAIT_STAT(ms[0], recv_heartbeat, 1);
	assert_int_equal(wait_one_leader(ms, 2, term, &term2), 0);
	assert_int_equal(term2, term);
	assert_int_equal(STAT(ms[0], step_down), 0);
	assert_int_equal(running_servers(ms[0]), 1);
	assert_int_equal(sfs_quorum_stop(&ms[0]->fs), 0);
	ms[0] = NULL;

	/* slot 1 alone leads; a heartbeat of its term "from slot 0": it steps down */
	ms[1] = fx_mnt(fx);
	mnt_open(ms[1], v, slot_rids[1]);
	assert_int_equal(mnt_setup_hb(ms[1], 1, HB_MS), 0);
	assert_int_equal(sfs_quorum_start(&ms[1]->fs), 0);
	assert_int_equal(wait_one_leader(ms, 2, term + 1, &term), 1);
	assert_int_equal(running_servers(ms[1]), 1);
	make_msg(&qm, key, fsid, RID_FORGER, 2, term, SCOUTFS_QUORUM_MSG_HEARTBEAT, 0);
	send_to(sock, v, 1, &qm, sizeof(qm));
	WAIT_STAT(ms[1], step_down, 1);
	/* its server stopped and STOP(term) is durable before it stands again */
	for (int i = 0; i < (int)(WAIT_MS / 10) && running_servers(ms[1]); i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	assert_int_equal(running_servers(ms[1]), 0);
	assert_true(logged(ms[1], "quorum: slot 0 is also leader of term"));
	/* no more heartbeats from "slot 0": after the timeout it leads a newer term */
	assert_int_equal(wait_one_leader(ms, 2, term + 1, &term2), 1);
	assert_true(term2 > term);
	slot_terms(v, 1, &elect, &fence, &stop);
	assert_int_equal(elect, term2);
	assert_int_equal(fence, term2);
	assert_true(stop >= term);
	assert_int_equal(starts(ms[1]), 2);
	assert_int_equal(sfs_quorum_stop(&ms[1]->fs), 0);
	close(sock);
}

/*
 * The leader stops (unmounts): it resigns, and the others elect a new
 * leader of a greater term among themselves, which finds nothing to fence.
 */
static void test_leader_stops(void **state)
{
	struct fx *fx = *state;
	struct mnt *ms[MAX_PORTS] = { NULL };
	uint64_t term, term2, elect, fence, stop;
	struct vol *v = fx_vol_slots(fx, "127.0.0.1", 3);
	int leader, leader2, i;

	start_agents(fx, v, ms, 3);
	leader = wait_one_leader(ms, 3, 1, &term);
	check_one_leader(v, ms, 3, leader, term);

	assert_int_equal(sfs_quorum_stop(&ms[leader]->fs), 0);
	slot_terms(v, leader, &elect, &fence, &stop);
	assert_int_equal(stop, term);
	ms[leader] = NULL;

	leader2 = wait_one_leader(ms, 3, term + 1, &term2);
	assert_true(leader2 != leader);
	assert_true(term2 > term);
	check_one_leader(v, ms, 3, leader2, term2);
	assert_int_equal(STAT(ms[leader2], old_leaders), 0);
	for (i = 0; i < 3; i++) {
		if (ms[i])
			assert_int_equal(STAT(ms[i], recv_resignation), 1);
	}
	for (i = 0; i < 3; i++) {
		if (ms[i])
			assert_int_equal(sfs_quorum_stop(&ms[i]->fs), 0);
	}
}

/* a member in a child process: runs until SIGTERM, then writes its status and stops */
static int agent_child(struct vol *v, int slot, const char *status_path)
{
	struct mnt *m = calloc(1, sizeof(*m));
	char buf[4096];
	sigset_t set;
	FILE *f;
	int sig;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (!m)
		return 1;
	pthread_mutex_init(&m->lock, NULL);
	if (mnt_open_ret(m, v, slot_rids[slot]) || mnt_setup_hb(m, slot, HB_MS) ||
	    sfs_quorum_start(&m->fs))
		return 1;
	if (sigwait(&set, &sig))
		return 1;
	ret = sfs_quorum_status(&m->fs, buf, sizeof(buf));
	f = fopen(status_path, "w");
	if (ret <= 0 || !f || fputs(buf, f) < 0 || fclose(f))
		return 1;
	ret = sfs_quorum_stop(&m->fs);
	sfs_quorum_destroy(&m->fs);
	sfs_block_destroy(&m->fs);
	return ret ? 2 : 0;
}

/* the slot the blocks name as server (live ELECT with FENCE, term >= min), or -1 */
static int blocks_server(struct vol *v, uint64_t min_term, uint64_t *term, int *live)
{
	uint64_t elect, fence, stop, best = 0;
	int slot = -1, i;

	*live = 0;
	for (i = 0; i < v->nr_slots; i++) {
		slot_terms(v, i, &elect, &fence, &stop);
		if (elect > stop)
			(*live)++;
		if (elect > stop && fence == elect && elect >= min_term && elect > best) {
			best = elect;
			slot = i;
		}
	}
	*term = best;
	return slot;
}

static int wait_blocks_server(struct fx *fx, struct vol *v, uint64_t min_term, uint64_t *term,
			      int *live)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int slot, i, iter, status_code;

	for (iter = 0; iter < (int)(ELECT_WAIT_MS / 20); iter++) {
		slot = blocks_server(v, min_term, term, live);
		if (slot >= 0)
			return slot;
		for (i = 0; i < FX_MNTS; i++) {
			if (fx->pids[i] > 0 && waitpid(fx->pids[i], &status_code, WNOHANG) > 0) {
				fx->pids[i] = 0;
				fail_msg("the agent of slot %d exited early (status %d)", i,
					 status_code);
			}
		}
		nanosleep(&ts, NULL);
	}
	fail_msg("no server of term >= %llu appeared in the quorum blocks",
		 (unsigned long long)min_term);
	return -1;
}

/*
 * The leader is killed (SIGKILL: no resignation, no STOP): after the
 * heartbeat timeout the survivors elect a new leader of a greater term,
 * which finds the dead one to fence; the survivors then stop cleanly.
 */
static void test_leader_killed(void **state)
{
	struct fx *fx = *state;
	struct vol *v = fx_vol_slots(fx, "127.0.0.1", 3);
	char path[160], want[160], *text;
	uint64_t term, term2, elect, fence, stop;
	int leader, leader2, live, i, status_code;
	size_t len;
	FILE *f;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/status.%d", v->dir, i);
		fx->pids[i] = fork();
		assert_true(fx->pids[i] >= 0);
		if (fx->pids[i] == 0)
			_exit(agent_child(v, i, path));
	}
	leader = wait_blocks_server(fx, v, 1, &term, &live);
	assert_int_equal(live, 1);

	assert_int_equal(kill(fx->pids[leader], SIGKILL), 0);
	assert_int_equal(waitpid(fx->pids[leader], &status_code, 0), fx->pids[leader]);
	assert_true(WIFSIGNALED(status_code));
	fx->pids[leader] = 0;

	leader2 = wait_blocks_server(fx, v, term + 1, &term2, &live);
	assert_true(leader2 != leader);
	assert_true(term2 > term);
	/* the dead leader never stopped: its ELECT is still live */
	assert_int_equal(live, 2);
	slot_terms(v, leader, &elect, &fence, &stop);
	assert_int_equal(elect, term);
	assert_true(stop < term);

	for (i = 0; i < 3; i++) {
		if (fx->pids[i] <= 0)
			continue;
		assert_int_equal(kill(fx->pids[i], SIGTERM), 0);
		assert_int_equal(waitpid(fx->pids[i], &status_code, 0), fx->pids[i]);
		fx->pids[i] = 0;
		if (!WIFEXITED(status_code) || WEXITSTATUS(status_code) != 0)
			fail_msg("the agent of slot %d ended with status %d", i, status_code);
	}

	/* the new leader's last status: leader of term2, the dead one found */
	snprintf(path, sizeof(path), "%s/status.%d", v->dir, leader2);
	f = fopen(path, "r");
	assert_non_null(f);
	text = NULL;
	len = 0;
	assert_true(getdelim(&text, &len, '\0', f) > 0);
	fclose(f);
	snprintf(want, sizeof(want), "role leader\nterm %llu\n", (unsigned long long)term2);
	if (!strstr(text, want))
		fail_msg("status lacks '%s':\n%s", want, text);
	snprintf(want, sizeof(want), "old_leader slot %d rid %016llx term %llu\n", leader,
		 (unsigned long long)slot_rids[leader], (unsigned long long)term);
	if (!strstr(text, want))
		fail_msg("status lacks '%s':\n%s", want, text);
	free(text);

	/* stopped cleanly: only the dead leader's ELECT is left live */
	slot_terms(v, leader2, &elect, &fence, &stop);
	assert_int_equal(stop, term2);
	assert_int_equal(blocks_server(v, 1, &term, &live), leader);
	assert_int_equal(live, 1);
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
		cmocka_unit_test_setup_teardown(test_server_reports_up, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_failures, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_setup_checks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_elect_1, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_elect_2, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_elect_3, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_elect_5, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_elect_ipv6, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_split_term, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_leader_stops, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_leader_killed, fx_setup, fx_teardown),
	};

	pick_ports();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
