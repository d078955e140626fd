#!/usr/bin/env bash
# The namespace through a live mount (scoutfsd over FUSE): mkdir, create,
# mknod (fifo, device), symlink and readlink, hard links, chmod, chown,
# utimens with nanoseconds, truncate (sparse, reads as zeros), rename
# (across directories, replacing, RENAME_NOREPLACE, RENAME_EXCHANGE, a
# directory into itself), unlink and rmdir with their errors, readdir in
# creation order.  The listing must equal the golden output, and again
# after an unmount and a remount; scoutfs print reads the volume without
# a complaint.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
out="$T_DIR/out"

# renameat2 with flags, printing the errno name or "ok"
rename2() {
	python3 - "$@" <<'PY'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
flags = {"noreplace": 1, "exchange": 2, "none": 0}[sys.argv[3]]
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), flags)
print("ok" if r == 0 else errno.errorcode[ctypes.get_errno()])
PY
}

# try CMD...: "ok" or the error it printed, minus the path
try() {
	if "$@" 2>"$T_DIR/err"; then
		echo "ok: $*"
	else
		echo "fail: $* -> $(sed 's/.*: //' "$T_DIR/err" | head -1)"
	fi
}

listing() {
	(cd "$M" && find . -mindepth 1 | sort | while read -r p; do
		stat -c '%F %a %h %s %u:%g %n' "$p"
		[ -L "$p" ] && echo "  -> $(readlink "$p")"
	done)
	echo "readdir order of a: $(cd "$M/a" && ls -f | tr '\n' ' ')"
	stat -c 'f1 atime: %x' "$M/a/b/moved"
}

{
	cd "$M" || exit 1
	try mkdir -p a/b/c
	try touch a/f1
	try mknod a/fifo p
	try mknod a/null c 1 3
	try ln -s ../a/f1 a/sym
	try ln a/f1 a/hard
	try mkdir -m 0700 a/priv
	try chmod 640 a/f1
	try chown 1000:1001 a/f1
	try touch -d '2020-01-02 03:04:05.123456789' a/f1
	try truncate -s 12345 a/f1
	try mkdir a/b
	try mkdir "a/$(printf 'x%.0s' $(seq 256))"
	try touch "a/$(printf 'y%.0s' $(seq 255))"
	try rmdir a/f1
	try rmdir a
	try mv a/f1 a/b/moved
	try mv a/b/c a/c2
	try mv a a/c2/inside
	echo "rename a below itself: $(rename2 a a/c2/inside none)"
	echo "noreplace onto a file: $(rename2 a/fifo a/hard noreplace)"
	echo "exchange fifo and sym: $(rename2 a/fifo a/sym exchange)"
	echo "exchange with nothing: $(rename2 a/sym a/nothing exchange)"
	try mv a/hard a/sym
	try rm a/sym
	try rmdir a/priv
	try rm "a/$(printf 'y%.0s' $(seq 255))"
	cmp <(head -c 12345 /dev/zero) a/b/moved && echo "a/b/moved reads as 12345 zeros"
	cd /
	listing
} >"$out" 2>&1

[ -n "${SFS_GOLDEN_WRITE:-}" ] && cp "$out" "$SFS_SOURCE_DIR/test/golden/fs-namespace.out"

t_golden fs-namespace "$out"

# the same after a remount
listing >"$T_DIR/before"
t_umount "$M"
t_mount "$M"
listing >"$T_DIR/after"
diff -u "$T_DIR/before" "$T_DIR/after" >&2 || t_fail "the listing changed across a remount"
t_umount "$M"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
echo "fs namespace: golden output, same after a remount, print reads it"
