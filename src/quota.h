/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_QUOTA_H
#define SFS_QUOTA_H
/*
 * Quota rules and their enforcement (reference-scoutfs.md 5.5,
 * format-spec.md 12.8; the design comment is at the top of quota.c).
 *
 * Rules are struct scoutfs_ctl_quota_rule (include/scoutfs/ctl.h): the
 * on-disk rule value's fields in host order.  The text functions are
 * shared with the CLI (tools/cli_quota.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "scoutfs/ctl.h"
#include "scoutfs/format.h"
#include "sfs.h"

/* state of fs->quota: setup allocates it (no I/O), destroy is safe twice */
int sfs_quota_setup(struct sfs_fs *fs);
void sfs_quota_destroy(struct sfs_fs *fs);
/*
 * Rules another mount may have changed: read them again at the next
 * check.  Any thread, no waiting (the lock module's grant callback).
 * The rules are read, and checks made, under the quota zone's READ lock
 * (fs.c and data.c take it with the ops that check); changes take WRITE.
 */
void sfs_quota_invalidate(struct sfs_fs *fs);

/* 0 if every field holds a known value, -EINVAL otherwise */
int sfs_quota_rule_valid(const struct scoutfs_ctl_quota_rule *rule);
/* the rule text "PRIO A,S,F B,S,F C,S,F OP LIMIT FLAG": 0 or -EINVAL */
int sfs_quota_parse_rule(const char *str, struct scoutfs_ctl_quota_rule *rule);
/* the same text as the reference lists it (no newline); snprintf's return */
int sfs_quota_format_rule(const struct scoutfs_ctl_quota_rule *rule, char *buf, size_t size);
/* order of rules: prio, then each name part (val, source, flags), op, limit, flags */
int sfs_quota_rule_cmp(const struct scoutfs_ctl_quota_rule *a,
		       const struct scoutfs_ctl_quota_rule *b);

/* the attributes of an operation a rule may name or select on */
struct sfs_quota_input {
	uint8_t op;		/* SCOUTFS_QUOTA_OP_* */
	uint64_t proj;
	uint32_t uid;
	uint32_t gid;
};

/*
 * The rule deciding for in among rules[0..nr) (any order): the highest
 * (sfs_quota_rule_cmp) of op in->op whose SELECT parts all equal in's
 * attributes; NULL if none.  name: the total it names for in.
 */
const struct scoutfs_ctl_quota_rule *sfs_quota_match(const struct scoutfs_ctl_quota_rule *rules,
						     size_t nr, const struct sfs_quota_input *in,
						     uint64_t name[3]);

/*
 * The items (zone 10), through the item cache.  add and del hold the
 * transaction themselves (the caller must not).  add: -EEXIST if the same
 * rule is stored.  del: -ENOENT if no stored rule has every field equal.
 * get: the rules from *iter in key order, at most nr; *iter moves past
 * the last returned; returns the count.  -EINVAL for an invalid rule,
 * -EIO for a stored value that is not one.
 */
/* *seq: the seq the change was written with (for its cluster lock) */
int sfs_quota_add_rule(struct sfs_fs *fs, const struct scoutfs_ctl_quota_rule *rule,
		       uint64_t *seq);
int sfs_quota_del_rule(struct sfs_fs *fs, const struct scoutfs_ctl_quota_rule *rule,
		       uint64_t *seq);
int sfs_quota_get_rules(struct sfs_fs *fs, struct scoutfs_ctl_quota_iter *iter,
			struct scoutfs_ctl_quota_rule *rules, unsigned int nr);

/*
 * Enforcement: may op (SCOUTFS_QUOTA_OP_INODE: di is the new inode,
 * SCOUTFS_QUOTA_OP_DATA: di is the file getting blocks) go ahead?  0, or
 * -EDQUOT when the deciding rule's total is at or above its limit, or
 * another -errno reading the rules or totals.  Results and totals are
 * cached for SFS_QUOTA_CACHE_MS, as the reference's are.  May be called
 * inside a transaction hold; takes no fs lock.
 */
#define SFS_QUOTA_CACHE_MS 5000
int sfs_quota_check(struct sfs_fs *fs, uint8_t op, const struct scoutfs_inode *di);

#endif
