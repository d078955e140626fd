// SPDX-License-Identifier: GPL-2.0
/*
 * Quota rules and their enforcement (reference-scoutfs.md 5.5,
 * format-spec.md 12.8).
 *
 * Model
 * -----
 * A quota is a policy over the scoutfs.totl. xattr totals, which users
 * keep themselves by setting totl xattrs on their files.  A rule says:
 * for an operation (creating an inode, allocating data blocks) look at
 * the total named (A, B, C), each part a literal or the operation's
 * project, uid or gid; fail with EDQUOT when the total (or its count) is
 * at or above the limit.  Parts flagged SELECT restrict the rule to
 * operations whose attribute equals the part's value.  Of the rules of
 * an op that apply, the highest (prio first, sfs_quota_rule_cmp) alone
 * decides.
 *
 * Rules are items of zone 10 keyed by fnv1a64 of their 48-byte value and
 * a collision number (the greatest one under the hash plus one).  They
 * are read and written through the item cache under the zone's lock
 * range.
 *
 * Enforcement reads totals as READ_XATTR_TOTALS does: committed, from the
 * forest.  Like the reference it is deliberately a little stale: a check
 * result is kept for SFS_QUOTA_CACHE_MS per (op, proj, uid, gid), and so
 * is each total read.  A rule change on this mount bumps a generation:
 * the rule set is read again at the next check and cached results are
 * dropped (the cached totals stay: they age out).
 *
 * Invariants
 * ----------
 * 1. The rule set in memory (rules, nr_rules) is what the items held
 *    when it was read at generation rules_gen; it is used only while
 *    rules_gen == gen.
 * 2. A cached check result is used only when its generation is gen and
 *    it has not expired.
 * 3. Rule changes are serialized (q->lock held across the lookup and the
 *    write), so two adds of one rule cannot both succeed.
 *
 * Lock order: the transaction (held by the fs op calling
 * sfs_quota_check, taken by add/del), then q->lock, then the item
 * cache's.  q->lock is dropped while a total is read from the device.
 *
 * Failure: add/del change nothing unless the item write succeeds.  A
 * check that cannot read the rules or a total fails the operation with
 * that error (the reference does too).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forest.h"
#include "item.h"
#include "log.h"
#include "quota.h"
#include "trans.h"

#define CHECK_SLOTS 256
#define TOTAL_SLOTS 256

struct check_ent {
	bool used;
	struct sfs_quota_input in;
	uint64_t gen;
	uint64_t expires_ms;
	int ret;
};

struct total_ent {
	bool used;
	uint64_t name[3];
	uint64_t expires_ms;
	int64_t total;
	int64_t count;
};

struct sfs_quota {
	pthread_mutex_t lock;
	uint64_t gen;				/* lock: bumped by rule changes */
	uint64_t rules_gen;			/* lock: gen of rules, ~0 none */
	struct scoutfs_ctl_quota_rule *rules;	/* lock */
	size_t nr_rules;			/* lock */
	struct check_ent checks[CHECK_SLOTS];	/* lock */
	struct total_ent totals[TOTAL_SLOTS];	/* lock */
	/*
	 * Bumped (atomically, from any thread) when the quota zone's lock
	 * is newly granted or given up: the rules may have changed on
	 * another mount.  A check that sees it moved bumps gen.
	 */
	uint64_t inval;
	uint64_t inval_seen;			/* lock */
};

void sfs_quota_invalidate(struct sfs_fs *fs)
{
	struct sfs_quota *q = fs->quota;

	if (q)
		__atomic_add_fetch(&q->inval, 1, __ATOMIC_RELEASE);
}

int sfs_quota_setup(struct sfs_fs *fs)
{
	struct sfs_quota *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->rules_gen = UINT64_MAX;
	fs->quota = q;
	return 0;
}

void sfs_quota_destroy(struct sfs_fs *fs)
{
	struct sfs_quota *q = fs->quota;

	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q->rules);
	free(q);
	fs->quota = NULL;
}

/* ------------------------------------------------------------------ */
/* Rules: values, text, order, matching                                 */
/* ------------------------------------------------------------------ */

static const char op_chars[SCOUTFS_QUOTA_NR_OPS] = { 'I', 'D' };
static const char source_chars[SCOUTFS_QUOTA_NR_SOURCES] = { 'L', 'P', 'U', 'G' };

int sfs_quota_rule_valid(const struct scoutfs_ctl_quota_rule *rule)
{
	int i;

	if (rule->op >= SCOUTFS_QUOTA_NR_OPS ||
	    (rule->rule_flags & ~SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT))
		return -EINVAL;
	for (i = 0; i < 3; i++) {
		if (rule->name_source[i] >= SCOUTFS_QUOTA_NR_SOURCES ||
		    (rule->name_flags[i] & ~SCOUTFS_QUOTA_FLAG_SELECT))
			return -EINVAL;
	}
	return 0;
}

static int char_index(const char *chars, int nr, char c)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (chars[i] == c)
			return i;
	}
	return -1;
}

/* a decimal u64 at *s (no sign), *s moved past it */
static int parse_u64(const char **s, uint64_t max, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (max - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*v = n;
	return 0;
}

static void skip_space(const char **s)
{
	while (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')
		(*s)++;
}

/* blanks then one of chars: its index, or -1 */
static int parse_char(const char **s, const char *chars, int nr)
{
	int i = char_index(chars, nr, **s);

	if (i >= 0)
		(*s)++;
	return i;
}

int sfs_quota_parse_rule(const char *str, struct scoutfs_ctl_quota_rule *rule)
{
	const char *s = str;
	uint64_t v;
	int i, c;

	memset(rule, 0, sizeof(*rule));
	skip_space(&s);
	if (parse_u64(&s, UINT8_MAX, &v))
		return -EINVAL;
	rule->prio = (uint8_t)v;
	for (i = 0; i < 3; i++) {
		if (*s != ' ' && *s != '\t')
			return -EINVAL;
		skip_space(&s);
		if (parse_u64(&s, UINT64_MAX, &rule->name_val[i]) || *s++ != ',')
			return -EINVAL;
		c = parse_char(&s, source_chars, SCOUTFS_QUOTA_NR_SOURCES);
		if (c < 0 || *s++ != ',')
			return -EINVAL;
		rule->name_source[i] = (uint8_t)c;
		c = parse_char(&s, "-S", 2);
		if (c < 0)
			return -EINVAL;
		rule->name_flags[i] = c ? SCOUTFS_QUOTA_FLAG_SELECT : 0;
	}
	if (*s != ' ' && *s != '\t')
		return -EINVAL;
	skip_space(&s);
	c = parse_char(&s, op_chars, SCOUTFS_QUOTA_NR_OPS);
	if (c < 0 || (*s != ' ' && *s != '\t'))
		return -EINVAL;
	rule->op = (uint8_t)c;
	skip_space(&s);
	if (parse_u64(&s, UINT64_MAX, &rule->limit) || (*s != ' ' && *s != '\t'))
		return -EINVAL;
	skip_space(&s);
	c = parse_char(&s, "-C", 2);
	if (c < 0)
		return -EINVAL;
	rule->rule_flags = c ? SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT : 0;
	skip_space(&s);
	return *s ? -EINVAL : 0;
}

int sfs_quota_format_rule(const struct scoutfs_ctl_quota_rule *r, char *buf, size_t size)
{
	char src[3], flg[3];
	int i;

	for (i = 0; i < 3; i++) {
		src[i] = r->name_source[i] < SCOUTFS_QUOTA_NR_SOURCES ?
				 source_chars[r->name_source[i]] : '?';
		flg[i] = (r->name_flags[i] & SCOUTFS_QUOTA_FLAG_SELECT) ? 'S' : '-';
	}
	return snprintf(buf, size, "%3u %" PRIu64 ",%c,%c %" PRIu64 ",%c,%c %" PRIu64
			",%c,%c %c %" PRIu64 " %c",
			r->prio, r->name_val[0], src[0], flg[0], r->name_val[1], src[1], flg[1],
			r->name_val[2], src[2], flg[2],
			r->op < SCOUTFS_QUOTA_NR_OPS ? op_chars[r->op] : '?', r->limit,
			(r->rule_flags & SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT) ? 'C' : '-');
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

int sfs_quota_rule_cmp(const struct scoutfs_ctl_quota_rule *a,
		       const struct scoutfs_ctl_quota_rule *b)
{
	int i, c;

	c = CMP(a->prio, b->prio);
	for (i = 0; i < 3 && !c; i++) {
		c = CMP(a->name_val[i], b->name_val[i]) ?:
		    CMP(a->name_source[i], b->name_source[i]) ?:
		    CMP(a->name_flags[i], b->name_flags[i]);
	}
	return c ?: CMP(a->op, b->op) ?: CMP(a->limit, b->limit) ?:
		    CMP(a->rule_flags, b->rule_flags);
}

/* the input's attribute that source names (LITERAL: none, 0) */
static uint64_t input_attr(const struct sfs_quota_input *in, uint8_t source)
{
	switch (source) {
	case SCOUTFS_QUOTA_SOURCE_PROJ:
		return in->proj;
	case SCOUTFS_QUOTA_SOURCE_UID:
		return in->uid;
	case SCOUTFS_QUOTA_SOURCE_GID:
		return in->gid;
	default:
		return 0;
	}
}

/* does rule apply to in: its op, and each SELECT part equal to in's attribute */
static bool rule_applies(const struct scoutfs_ctl_quota_rule *r, const struct sfs_quota_input *in)
{
	int i;

	if (r->op != in->op)
		return false;
	for (i = 0; i < 3; i++) {
		if ((r->name_flags[i] & SCOUTFS_QUOTA_FLAG_SELECT) &&
		    r->name_source[i] != SCOUTFS_QUOTA_SOURCE_LITERAL &&
		    input_attr(in, r->name_source[i]) != r->name_val[i])
			return false;
	}
	return true;
}

const struct scoutfs_ctl_quota_rule *sfs_quota_match(const struct scoutfs_ctl_quota_rule *rules,
						     size_t nr, const struct sfs_quota_input *in,
						     uint64_t name[3])
{
	const struct scoutfs_ctl_quota_rule *best = NULL;
	size_t i;
	int p;

	for (i = 0; i < nr; i++) {
		if (rule_applies(&rules[i], in) &&
		    (!best || sfs_quota_rule_cmp(&rules[i], best) > 0))
			best = &rules[i];
	}
	if (best) {
		for (p = 0; p < 3; p++)
			name[p] = best->name_source[p] == SCOUTFS_QUOTA_SOURCE_LITERAL ?
					  best->name_val[p] :
					  input_attr(in, best->name_source[p]);
	}
	return best;
}

/* ------------------------------------------------------------------ */
/* Items                                                                */
/* ------------------------------------------------------------------ */

static void rule_to_val(const struct scoutfs_ctl_quota_rule *r, struct scoutfs_quota_rule_val *v)
{
	int i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < 3; i++) {
		v->name_val[i] = htole64(r->name_val[i]);
		v->name_source[i] = r->name_source[i];
		v->name_flags[i] = r->name_flags[i];
	}
	v->limit = htole64(r->limit);
	v->prio = r->prio;
	v->op = r->op;
	v->rule_flags = r->rule_flags;
}

/* a stored value as a rule: 0, or -EIO (logged) when it cannot be one */
static int val_to_rule(struct sfs_fs *fs, const struct scoutfs_key *key, const void *val,
		       unsigned int len, struct scoutfs_ctl_quota_rule *r)
{
	struct scoutfs_quota_rule_val v;
	int i;

	if (len != sizeof(v))
		goto corrupt;
	memcpy(&v, val, sizeof(v));
	memset(r, 0, sizeof(*r));
	for (i = 0; i < 3; i++) {
		r->name_val[i] = le64toh(v.name_val[i]);
		r->name_source[i] = v.name_source[i];
		r->name_flags[i] = v.name_flags[i];
	}
	r->limit = le64toh(v.limit);
	r->prio = v.prio;
	r->op = v.op;
	r->rule_flags = v.rule_flags;
	if (sfs_quota_rule_valid(r) == 0)
		return 0;
corrupt:
	sfs_err(fs, "quota rule item %llu.%llu: invalid value of %u bytes",
		(unsigned long long)le64toh(key->_sk_second),
		(unsigned long long)le64toh(key->_sk_third), len);
	return -EIO;
}

static struct scoutfs_key rule_key(uint64_t hash, uint64_t nr)
{
	return sfs_key_make(SCOUTFS_QUOTA_ZONE, 0, SCOUTFS_QUOTA_RULE_TYPE, hash, nr, 0);
}

/* the lock range of the rules: all of zone 10 */
static struct sfs_item_range rules_lock(void)
{
	struct sfs_item_range r = {
		.start = sfs_key_make(SCOUTFS_QUOTA_ZONE, 0, 0, 0, 0, 0),
		.end = sfs_key_make(SCOUTFS_QUOTA_ZONE, UINT64_MAX, UINT8_MAX, UINT64_MAX,
				    UINT64_MAX, UINT8_MAX),
	};

	return r;
}

struct find_ctx {
	struct sfs_fs *fs;
	const struct scoutfs_ctl_quota_rule *want;
	bool found;
	uint64_t found_nr;
	bool any;
	uint64_t max_nr;
};

/* the items under one hash: is want there, and the greatest collision number */
static int find_cb(void *arg, const struct scoutfs_key *key, const void *val, unsigned int len)
{
	struct find_ctx *fc = arg;
	struct scoutfs_ctl_quota_rule r;
	uint64_t nr = le64toh(key->_sk_third);
	int ret;

	if (key->sk_type != SCOUTFS_QUOTA_RULE_TYPE)
		return 0;
	ret = val_to_rule(fc->fs, key, val, len, &r);
	if (ret)
		return ret;
	fc->any = true;
	if (nr > fc->max_nr)
		fc->max_nr = nr;
	if (!fc->found && sfs_quota_rule_cmp(&r, fc->want) == 0) {
		fc->found = true;
		fc->found_nr = nr;
	}
	return 0;
}

static int find_rule(struct sfs_fs *fs, const struct scoutfs_ctl_quota_rule *rule,
		     uint64_t hash, struct find_ctx *fc)
{
	struct sfs_item_range lock = rules_lock();
	struct scoutfs_key start = rule_key(hash, 0), last = rule_key(hash, UINT64_MAX);

	*fc = (struct find_ctx){ .fs = fs, .want = rule };
	return sfs_item_iterate(fs, &start, &last, &lock, find_cb, fc);
}

/* add (true) or delete (false) a rule, holding the transaction (invariant 3) */
static int change_rule(struct sfs_fs *fs, const struct scoutfs_ctl_quota_rule *rule, bool add,
		       uint64_t *seq_ret)
{
	struct sfs_quota *q = fs->quota;
	struct sfs_item_range lock = rules_lock();
	struct scoutfs_quota_rule_val v;
	struct scoutfs_key key;
	struct find_ctx fc;
	uint64_t hash, seq;
	int ret;

	ret = sfs_quota_rule_valid(rule);
	if (ret)
		return ret;
	rule_to_val(rule, &v);
	hash = sfs_fnv1a64(&v, sizeof(v));

	ret = sfs_trans_hold(fs, true, &seq);
	if (ret)
		return ret;
	pthread_mutex_lock(&q->lock);
	ret = find_rule(fs, rule, hash, &fc);
	if (ret)
		goto out;
	if (add) {
		if (fc.found) {
			ret = -EEXIST;
			goto out;
		}
		if (fc.any && fc.max_nr == UINT64_MAX) {
			ret = -ENOSPC;
			goto out;
		}
		key = rule_key(hash, fc.any ? fc.max_nr + 1 : 0);
		ret = sfs_item_create(fs, &key, &v, sizeof(v), seq, &lock);
	} else {
		if (!fc.found) {
			ret = -ENOENT;
			goto out;
		}
		key = rule_key(hash, fc.found_nr);
		ret = sfs_item_delete(fs, &key, seq, &lock);
	}
	if (!ret) {
		q->gen++;
		*seq_ret = seq;
	}
out:
	pthread_mutex_unlock(&q->lock);
	sfs_trans_release(fs);
	return ret;
}

int sfs_quota_add_rule(struct sfs_fs *fs, const struct scoutfs_ctl_quota_rule *rule,
		       uint64_t *seq)
{
	return change_rule(fs, rule, true, seq);
}

int sfs_quota_del_rule(struct sfs_fs *fs, const struct scoutfs_ctl_quota_rule *rule,
		       uint64_t *seq)
{
	return change_rule(fs, rule, false, seq);
}

struct get_ctx {
	struct sfs_fs *fs;
	struct scoutfs_ctl_quota_rule *rules;	/* NULL: grow all (load) */
	unsigned int nr;
	unsigned int max;
	struct scoutfs_key last;
	bool stopped;
};

static int get_cb(void *arg, const struct scoutfs_key *key, const void *val, unsigned int len)
{
	struct get_ctx *gc = arg;
	int ret;

	if (key->sk_type != SCOUTFS_QUOTA_RULE_TYPE)
		return 0;
	if (gc->nr == gc->max) {
		gc->stopped = true;
		return 1;
	}
	ret = val_to_rule(gc->fs, key, val, len, &gc->rules[gc->nr]);
	if (ret)
		return ret;
	gc->nr++;
	gc->last = *key;
	return 0;
}

int sfs_quota_get_rules(struct sfs_fs *fs, struct scoutfs_ctl_quota_iter *iter,
			struct scoutfs_ctl_quota_rule *rules, unsigned int nr)
{
	struct sfs_item_range lock = rules_lock();
	struct scoutfs_key start = rule_key(iter->hash, iter->nr);
	struct scoutfs_key last = rule_key(UINT64_MAX, UINT64_MAX);
	struct get_ctx gc = { .fs = fs, .rules = rules, .max = nr };
	int ret;

	if (nr == 0)
		return 0;
	ret = sfs_item_iterate(fs, &start, &last, &lock, get_cb, &gc);
	if (ret < 0)
		return ret;
	if (gc.nr) {
		iter->hash = le64toh(gc.last._sk_second);
		iter->nr = le64toh(gc.last._sk_third) + 1;
		if (iter->nr == 0) {
			iter->hash++;
			if (iter->hash == 0) {	/* past the very last key */
				iter->hash = UINT64_MAX;
				iter->nr = UINT64_MAX;
			}
		}
	}
	return (int)gc.nr;
}

/* ------------------------------------------------------------------ */
/* Enforcement                                                          */
/* ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* read every rule into q->rules, under q->lock (invariant 1) */
static int load_rules(struct sfs_fs *fs, struct sfs_quota *q)
{
	struct scoutfs_ctl_quota_iter iter = { 0, 0 };
	struct scoutfs_ctl_quota_rule *rules = NULL, *bigger;
	size_t nr = 0, alloced = 0;
	int ret;

	for (;;) {
		if (nr == alloced) {
			alloced = alloced ? alloced * 2 : 64;
			bigger = realloc(rules, alloced * sizeof(*rules));
			if (!bigger) {
				ret = -ENOMEM;
				goto out;
			}
			rules = bigger;
		}
		ret = sfs_quota_get_rules(fs, &iter, rules + nr, (unsigned int)(alloced - nr));
		if (ret < 0)
			goto out;
		if (ret == 0)
			break;
		nr += (size_t)ret;
		if (iter.hash == UINT64_MAX && iter.nr == UINT64_MAX)
			break;
	}
	free(q->rules);
	q->rules = rules;
	q->nr_rules = nr;
	q->rules_gen = q->gen;
	rules = NULL;
	ret = 0;
out:
	free(rules);
	return ret;
}

static size_t check_slot(const struct sfs_quota_input *in)
{
	uint64_t h = in->proj * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)in->uid << 32 | in->gid) ^ in->op;

	return (size_t)((h * 0xff51afd7ed558ccdULL) >> 56) % CHECK_SLOTS;
}

static size_t total_slot(const uint64_t name[3])
{
	uint64_t h = sfs_fnv1a64(name, 3 * sizeof(uint64_t));

	return (size_t)(h % TOTAL_SLOTS);
}

struct total_ctx {
	bool found;
	int64_t total;
	int64_t count;
};

static int total_cb(void *arg, const struct scoutfs_key *key, uint64_t seq, uint8_t flags,
		    const void *val, unsigned int val_len)
{
	struct total_ctx *tc = arg;
	struct scoutfs_xattr_totl_val tv;

	(void)key, (void)seq, (void)flags;
	if (val_len != sizeof(tv))
		return 0;
	memcpy(&tv, val, sizeof(tv));
	tc->found = true;
	tc->total = (int64_t)le64toh(tv.total);
	tc->count = (int64_t)le64toh(tv.count);
	return 1;
}

/* the committed total of name, from the cache or the forest; q->lock held, dropped to read */
static int get_total(struct sfs_fs *fs, struct sfs_quota *q, const uint64_t name[3],
		     uint64_t now, int64_t *total, int64_t *count)
{
	struct total_ent *te = &q->totals[total_slot(name)];
	struct scoutfs_key key;
	struct total_ctx tc = { 0 };
	int ret;

	if (te->used && te->expires_ms > now && !memcmp(te->name, name, sizeof(te->name))) {
		*total = te->total;
		*count = te->count;
		return 0;
	}
	key = sfs_key_make(SCOUTFS_XATTR_TOTL_ZONE, name[0], 0, name[1], name[2], 0);
	pthread_mutex_unlock(&q->lock);
	ret = sfs_forest_walk_committed(fs, &key, &key, total_cb, &tc);
	pthread_mutex_lock(&q->lock);
	if (ret < 0)
		return ret;
	te = &q->totals[total_slot(name)];
	te->used = true;
	memcpy(te->name, name, sizeof(te->name));
	te->expires_ms = now + SFS_QUOTA_CACHE_MS;
	te->total = tc.found ? tc.total : 0;
	te->count = tc.found ? tc.count : 0;
	*total = te->total;
	*count = te->count;
	return 0;
}

int sfs_quota_check(struct sfs_fs *fs, uint8_t op, const struct scoutfs_inode *di)
{
	struct sfs_quota *q = fs->quota;
	struct sfs_quota_input in = {
		.op = op,
		.proj = le64toh(di->proj),
		.uid = le32toh(di->uid),
		.gid = le32toh(di->gid),
	};
	const struct scoutfs_ctl_quota_rule *r;
	struct scoutfs_ctl_quota_rule rule;
	struct check_ent *ce;
	uint64_t name[3], now = now_ms(), gen;
	int64_t total, count, have;
	int ret;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	if (__atomic_load_n(&q->inval, __ATOMIC_ACQUIRE) != q->inval_seen) {
		q->inval_seen = __atomic_load_n(&q->inval, __ATOMIC_ACQUIRE);
		q->gen++;
	}
	if (q->rules_gen != q->gen) {
		ret = load_rules(fs, q);
		if (ret)
			goto out;
	}
	if (q->nr_rules == 0) {
		ret = 0;
		goto out;
	}
	ce = &q->checks[check_slot(&in)];
	if (ce->used && ce->gen == q->gen && ce->expires_ms > now &&
	    ce->in.op == in.op && ce->in.proj == in.proj && ce->in.uid == in.uid &&
	    ce->in.gid == in.gid) {
		ret = ce->ret;
		goto out;
	}
	r = sfs_quota_match(q->rules, q->nr_rules, &in, name);
	if (!r) {
		ret = 0;
		goto store;
	}
	rule = *r;	/* the set may be replaced while the lock is dropped */
	gen = q->gen;
	ret = get_total(fs, q, name, now, &total, &count);
	if (ret)
		goto out;
	have = (rule.rule_flags & SCOUTFS_QUOTA_RULE_FLAG_TOTL_COUNT) ? count : total;
	ret = have >= 0 && (uint64_t)have >= rule.limit ? -EDQUOT : 0;
	if (gen != q->gen)
		goto out;	/* the rules changed meanwhile: do not keep it */
store:
	ce = &q->checks[check_slot(&in)];
	ce->used = true;
	ce->in = in;
	ce->gen = q->gen;
	ce->expires_ms = now + SFS_QUOTA_CACHE_MS;
	ce->ret = ret;
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}
