#!/usr/bin/env bash
# Quota rules (format v2): the reference's quota test, in our words.
# Rules are added, listed (the reference's text, highest first) and
# deleted (every field must match; a duplicate add is EEXIST, deleting a
# missing rule ENOENT); a limit changes by adding the new rule and
# deleting the old; quota-wipe and quota-restore round-trip quota-list
# output.  Enforcement is a policy over .totl. xattrs that users set
# themselves: once a committed total reaches a rule's limit, creating an
# inode (op I) or allocating data blocks by write and fallocate (op D)
# fails with EDQUOT, for the rule that decides (default rules, rules that
# select on uid, the highest priority); C compares the total's count.
# Lowering the total lets creation go on again once the 5 s cache of
# totals has expired.  Only root may use the requests; a v1 volume
# refuses them and still creates files.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 creates files: it must reach the mount
t_mount "$M" allow_other
S="$SCOUTFS"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
qlist() { "$S" quota-list -p "$M" "$@" || t_fail "quota-list $*"; }
qadd() { "$S" quota-add -p "$M" -r "$1" || t_fail "quota-add $1"; }
qdel() { "$S" quota-del -p "$M" -r "$1" || t_fail "quota-del $1"; }
# totals count once committed: an fsync of a file on the mount commits
commit() { python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' \
	"$M/.commit" || t_fail "commit"; }
touch "$M/.commit"
# the totals a check read stay cached for 5 s
expire() { sleep 5.5; }

# === rules: add, list, delete ================================================
[ -z "$(qlist)" ] || t_fail "a new volume has rules"
qadd "7 13,L,- 15,L,- 17,L,- I 33 -"
[ "$(qlist)" = "  7 13,L,- 15,L,- 17,L,- I 33 -" ] || t_fail "list after add: $(qlist)"
t_expect_fail "File exists" "$S" quota-add -p "$M" -r "7 13,L,- 15,L,- 17,L,- I 33 -"
t_expect_fail "no such entry" "$S" quota-del -p "$M" -r "7 13,L,- 15,L,- 17,L,- I 34 -"
qdel "7 13,L,- 15,L,- 17,L,- I 33 -"
[ -z "$(qlist)" ] || t_fail "rules left after delete: $(qlist)"
t_expect_fail "no such entry" "$S" quota-del -p "$M" -r "7 13,L,- 15,L,- 17,L,- I 33 -"
t_expect_fail "invalid rule" "$S" quota-add -p "$M" -r "7 13,X,- 15,L,- 17,L,- I 33 -"

# a limit changes without a moment with no rule
qadd "1 1,L,- 1,L,- 1,L,- I 100 -"
qadd "1 1,L,- 1,L,- 1,L,- I 101 -"
qdel "1 1,L,- 1,L,- 1,L,- I 100 -"
[ "$(qlist)" = "  1 1,L,- 1,L,- 1,L,- I 101 -" ] || t_fail "changed limit: $(qlist)"
qdel "1 1,L,- 1,L,- 1,L,- I 101 -"

# === wipe and restore in bulk ================================================
for a in $(seq 10 15); do
	qadd "7 $a,L,- 0,L,- 0,L,- I 33 -"
done
qadd "9 3,U,S 4,G,S 0,P,- D 1000 C"
qlist >"$T_DIR/list"
[ "$(wc -l <"$T_DIR/list")" -eq 7 ] || t_fail "listed $(wc -l <"$T_DIR/list") rules, want 7"
[ "$(head -1 "$T_DIR/list")" = "  9 3,U,S 4,G,S 0,P,- D 1000 C" ] || t_fail "not sorted: $(cat "$T_DIR/list")"
[ "$(tail -1 "$T_DIR/list")" = "  7 10,L,- 0,L,- 0,L,- I 33 -" ] || t_fail "not sorted: $(cat "$T_DIR/list")"
[ "$(qlist -U | sort)" = "$(sort "$T_DIR/list")" ] || t_fail "-U lists other rules"
"$S" quota-wipe -p "$M" || t_fail "quota-wipe"
[ -z "$(qlist)" ] || t_fail "rules left after wipe: $(qlist)"
"$S" quota-restore -p "$M" <"$T_DIR/list" || t_fail "quota-restore"
[ "$(qlist)" = "$(cat "$T_DIR/list")" ] || t_fail "restored rules differ: $(qlist)"
"$S" quota-wipe -p "$M" || t_fail "quota-wipe"

# === only root ===============================================================
t_expect_fail "Operation not permitted" nobody "$S" quota-list -p "$M"
t_expect_fail "Operation not permitted" nobody "$S" quota-add -p "$M" -r "1 1,L,- 1,L,- 1,L,- I 1 -"
t_expect_fail "Operation not permitted" nobody "$S" quota-del -p "$M" -r "1 1,L,- 1,L,- 1,L,- I 1 -"

# === EDQUOT on creation ======================================================
mkdir "$M/dir" && chmod 777 "$M/dir"
F="$M/dir/file"
qadd "1 1,L,- 1,L,- 1,L,- I 1 -"
nobody touch "$F" || t_fail "creation with the total below the limit"
rm -f "$F"
setfattr -n scoutfs.totl.test.1.1.1 -v 2 "$M"
commit
expire	# the check above read the total and keeps it for 5 s
t_expect_fail "Disk quota exceeded" nobody touch "$F"
t_expect_fail "Disk quota exceeded" mkdir "$M/dir/sub"
setfattr -x scoutfs.totl.test.1.1.1 "$M"
commit
expire
nobody touch "$F" || t_fail "creation after the total went down"
rm -f "$F"
"$S" quota-wipe -p "$M"

# rules that select on the uid apply to that uid only, the higher priority decides
qadd "1 65534,U,S 1,L,- 1,L,- I 1000 -"
setfattr -n scoutfs.totl.test.65534.1.1 -v 2 "$M"
commit
nobody touch "$F" || t_fail "creation under the higher limit"
rm -f "$F"
qadd "2 65534,U,S 1,L,- 1,L,- I 1 -"
t_expect_fail "Disk quota exceeded" nobody touch "$F"
touch "$F" || t_fail "root is not selected by a uid rule"
rm -f "$F"
# both uid and gid must match
"$S" quota-wipe -p "$M"
qadd "1 65534,U,S 0,G,S 1,L,- I 1 -"
setfattr -n scoutfs.totl.test.65534.0.1 -v 2 "$M"
commit
nobody touch "$F" || t_fail "a rule selecting uid and gid applied with another gid"
rm -f "$F"
t_expect_fail "Disk quota exceeded" setpriv --reuid=65534 --regid=0 --clear-groups touch "$F"
"$S" quota-wipe -p "$M"

# === EDQUOT on data allocation ===============================================
touch "$F"
qadd "1 2,L,- 2,L,- 2,L,- D 1 -"
setfattr -n scoutfs.totl.test.2.2.2 -v 2 "$M"
commit
t_expect_fail "Disk quota exceeded" dd if=/dev/zero of="$F" bs=4096 count=1 conv=notrunc,fsync status=none
t_expect_fail "Disk quota exceeded" fallocate -l 4096 "$F"
qdel "1 2,L,- 2,L,- 2,L,- D 1 -"
qadd "1 2,L,- 2,L,- 2,L,- D 3 -"
dd if=/dev/zero of="$F" bs=4096 count=1 conv=notrunc,fsync status=none ||
	t_fail "write under the limit"
# C: the count (1 xattr) against a limit of 0
qdel "1 2,L,- 2,L,- 2,L,- D 3 -"
qadd "1 2,L,- 2,L,- 2,L,- D 0 C"
t_expect_fail "Disk quota exceeded" dd if=/dev/zero of="$F" bs=4096 count=1 seek=1 conv=notrunc,fsync status=none
"$S" quota-wipe -p "$M"
dd if=/dev/zero of="$F" bs=4096 count=1 seek=1 conv=notrunc,fsync status=none ||
	t_fail "write with no rules"
# inode rules do not limit data, nor data rules creation
qadd "1 2,L,- 2,L,- 2,L,- I 0 C"
dd if=/dev/zero of="$F" bs=4096 count=1 seek=2 conv=notrunc,fsync status=none ||
	t_fail "an inode rule limited a write"
"$S" quota-wipe -p "$M"

# rules survive a remount
qadd "5 5,P,S 0,L,- 0,L,- I 10 -"
t_umount "$M"
t_mount "$M" allow_other
[ "$(qlist)" = "  5 5,P,S 0,L,- 0,L,- I 10 -" ] || t_fail "rules after remount: $(qlist)"
t_umount "$M"

# === format version 1: no quota rules ========================================
t_images 2G 4G
t_mkfs -V 1
t_mount "$M"
t_expect_fail "Operation not supported" "$S" quota-list -p "$M"
t_expect_fail "Operation not supported" "$S" quota-add -p "$M" -r "1 1,L,- 1,L,- 1,L,- I 1 -"
t_expect_fail "Operation not supported" "$S" quota-del -p "$M" -r "1 1,L,- 1,L,- 1,L,- I 1 -"
touch "$M/file" || t_fail "create on v1"
t_umount "$M"
echo "quota: ok"
