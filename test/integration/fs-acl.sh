#!/usr/bin/env bash
# POSIX ACLs through a live mount (the acl option, FUSE_CAP_POSIX_ACL):
# access ACLs enforced by the kernel against other uids, setfacl keeping
# the mode in step (and not storing an ACL the mode says all of), a
# default ACL inherited by new files, directories and nodes in place of
# the umask, the umask applied without one, chmod rewriting the ACL's
# mask, malformed ACL values refused.  The output must equal the golden
# file, and the ACLs, modes and their enforcement must be the same after
# a remount.  With noacl, ACLs are refused.
. "$(dirname "$0")/../funcs.sh"

command -v setfacl >/dev/null && command -v getfacl >/dev/null ||
	t_fail "setfacl/getfacl missing: tools/deps.sh installs the Debian package acl"
# the kernel offers FUSE_POSIX_ACL from Linux 4.9
kver=$(uname -r | sed 's/[^0-9.].*//')
[ "$(printf '%s\n' 4.9 "$kver" | sort -V | head -1)" = 4.9 ] ||
	t_skip "kernel $kver has no FUSE_CAP_POSIX_ACL (4.9 and later)"

t_images 2G 4G
t_mkfs
chmod 711 "$T_DIR"	# other uids run some of the commands below
M="$T_DIR/mnt"
t_mount "$M" allow_other
out="$T_DIR/out"

# as UID CMD...: run CMD as UID (group UID, no supplementary groups)
as() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}

# can UID PATH: "read" or "denied" (cat for files, ls for directories,
# access(2) for the rest)
can() {
	if [ -d "$2" ]; then
		as "$1" ls "$2" >/dev/null 2>&1 && echo read || echo denied
	elif [ ! -f "$2" ]; then
		as "$1" test -r "$2" && echo read || echo denied
	else
		as "$1" cat "$2" >/dev/null 2>&1 && echo read || echo denied
	fi
}

# acl PATH: mode and the ACL entries on one line
acl() {
	echo "$(stat -c '%A' "$1") $(getfacl -cpn "$1" 2>&1 | grep -v '^$' | tr '\n' ' ')"
}

# every path's ACL, and who of uids 1000 and 1001 can read it
listing() {
	(cd "$M" && find . -mindepth 1 | sort | while read -r p; do
		echo "$p: $(acl "$p")"
		echo "  1000 $(can 1000 "$p"), 1001 $(can 1001 "$p")"
	done)
}

# setraw PATH NAME HEX: a raw ACL xattr value, printing "ok" or the errno
setraw() {
	python3 - "$@" <<'PY'
import errno, os, sys
try:
    os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

{
	cd "$M" || exit 1
	umask 022

	echo "== access ACLs"
	touch open shut
	chmod 644 open
	chmod 600 shut
	setfacl -m u:1000:--- open
	setfacl -m u:1001:r shut
	echo "open: $(acl open)"
	echo "shut: $(acl shut)"
	echo "open: 1000 $(can 1000 open), 1001 $(can 1001 open)"
	echo "shut: 1000 $(can 1000 shut), 1001 $(can 1001 shut)"
	mkdir private
	chmod 755 private
	setfacl -m u:1001:--- private
	echo "private: 1000 $(can 1000 private), 1001 $(can 1001 private)"
	setfacl -m g:1000:r shut
	echo "group entry: $(acl shut)"
	echo "shut: 1000 $(can 1000 shut), 1001 $(can 1001 shut)"

	echo "== the mode follows the ACL"
	touch plain
	setfacl -m u::rwx,g::r-x,o::r-- plain
	echo "an ACL the mode says all of is only the mode: $(acl plain)"
	getfattr -m - -d plain 2>&1 | grep -c posix_acl | sed 's/^/  stored ACL xattrs: /'
	setfacl -m m::r-- shut
	echo "mask r--: $(acl shut)"
	echo "shut: 1000 $(can 1000 shut), 1001 $(can 1001 shut)"
	setfacl -b open
	echo "removed: $(acl open)"
	echo "open: 1000 $(can 1000 open), 1001 $(can 1001 open)"

	echo "== chmod rewrites the ACL"
	touch chm
	setfacl -m u:1000:rwx,g::rw- chm
	echo "before: $(acl chm)"
	chmod 640 chm
	echo "chmod 640: $(acl chm)"
	echo "chm: 1000 $(can 1000 chm), 1001 $(can 1001 chm)"
	chmod 604 chm
	echo "chmod 604: $(acl chm)"
	echo "chm: 1000 $(can 1000 chm), 1001 $(can 1001 chm)"
	chmod 674 chm
	echo "chmod 674: $(acl chm)"

	echo "== default ACLs, inherited in place of the umask (022)"
	mkdir inherit
	setfacl -m d:u::rwx,d:u:1000:rwx,d:g::rwx,d:m::rwx,d:o::r-x inherit
	echo "inherit: $(acl inherit)"
	echo "default: $(getfacl -cpnd inherit | tr '\n' ' ')"
	mkdir inherit/dir
	touch inherit/file
	mknod inherit/fifo p
	mkdir -m 700 inherit/dir700
	python3 -c 'import os; os.close(os.open("inherit/file600", os.O_CREAT | os.O_WRONLY, 0o600))'
	ln -s file inherit/sym
	for p in dir file fifo dir700 file600; do
		echo "inherit/$p: $(acl "inherit/$p")"
	done
	echo "inherit/dir default: $(getfacl -cpnd inherit/dir | tr '\n' ' ')"
	echo "inherit/sym: $(stat -c %A inherit/sym)"
	mkdir inherit/dir/deeper
	echo "inherit/dir/deeper: $(acl inherit/dir/deeper)"
	setfacl -d -m g::r-x,m::r-x inherit/dir
	touch inherit/dir/after
	echo "changed default, then inherit/dir/after: $(acl inherit/dir/after)"
	mkdir equiv
	setfacl -m d:u::rwx,d:g::r-x,d:o::--- equiv
	touch equiv/file
	mkdir equiv/dir
	echo "default the mode says all of, a file: $(acl equiv/file)"
	echo "and a directory: $(acl equiv/dir)"
	echo "  its default: $(getfacl -cpnd equiv/dir | tr '\n' ' ')"

	echo "== the umask without a default ACL"
	for u in 022 027 077 000; do
		(umask $u && mkdir "umask$u" && touch "umask$u/file" && mknod "umask$u/fifo" p)
		echo "umask $u: dir $(stat -c %a "umask$u"), file $(stat -c %a "umask$u/file"), fifo $(stat -c %a "umask$u/fifo")"
	done

	echo "== refused"
	echo "default ACL on a file: $(setfacl -d -m u::rwx plain 2>&1 | sed 's/.*: //')"
	echo "bad version: $(setraw plain system.posix_acl_access 0300000001000700ffffffff04000500ffffffff20000400ffffffff)"
	echo "no entries: $(setraw plain system.posix_acl_access 02000000)"
	echo "partial entry: $(setraw plain system.posix_acl_access 0200000001000700)"
	echo "no other entry: $(setraw plain system.posix_acl_access 0200000001000700ffffffff04000500ffffffff)"
	echo "named user, no mask: $(setraw plain system.posix_acl_access 0200000001000700ffffffff02000700e803000004000500ffffffff20000400ffffffff)"
	echo "bad perm: $(setraw plain system.posix_acl_access 0200000001000f00ffffffff04000500ffffffff20000400ffffffff)"
	echo "raw valid: $(setraw plain system.posix_acl_access 0200000001000600ffffffff02000700e803000004000400ffffffff10000500ffffffff20000000ffffffff)"
	echo "plain: $(acl plain)"
	cd /
	echo "== everything"
	listing
} >"$out" 2>&1

[ -n "${SFS_GOLDEN_WRITE:-}" ] && cp "$out" "$SFS_SOURCE_DIR/test/golden/fs-acl.out"
t_golden fs-acl "$out"

# the same after a remount, enforcement included
listing >"$T_DIR/before"
t_umount "$M"
t_mount "$M" allow_other
listing >"$T_DIR/after"
diff -u "$T_DIR/before" "$T_DIR/after" >&2 || t_fail "ACLs changed across a remount"

# a new file under the remounted default ACL
touch "$M/inherit/remounted"
[ "$(acl "$M/inherit/remounted")" = "$(acl "$M/inherit/file")" ] ||
	t_fail "after the remount a new file got $(acl "$M/inherit/remounted"), not $(acl "$M/inherit/file")"
t_umount "$M"

# noacl: no ACLs, the kernel applies the umask
t_mount "$M" noacl
setfacl -m u:1000:r "$M/plain" 2>"$T_DIR/noacl.err" && t_fail "setfacl worked with noacl"
grep -q "Operation not supported" "$T_DIR/noacl.err" ||
	t_fail "setfacl with noacl said: $(cat "$T_DIR/noacl.err")"
(umask 027 && mkdir "$M/noacl" && touch "$M/noacl/file")
[ "$(stat -c %a "$M/noacl") $(stat -c %a "$M/noacl/file")" = "750 640" ] ||
	t_fail "umask 027 with noacl made $(stat -c %a "$M/noacl") $(stat -c %a "$M/noacl/file")"
t_umount "$M"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
grep -q "name system.posix_acl_default$" "$T_DIR/print.out" ||
	t_fail "print shows no system.posix_acl_default xattr"
echo "fs acl: golden output, same after a remount, noacl refuses ACLs"
