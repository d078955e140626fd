#!/usr/bin/env bash
# scoutfs.indx. xattrs index inodes by (major, minor) (the reference's
# basic-xattr-indx, in our words).  A scoutfs.indx.NAME.MAJOR.MINOR xattr
# (MAJOR 0..255, MINOR a u64, an empty value) puts its inode in the index
# at MAJOR.MINOR; read-xattr-index lists the committed entries of a range
# in order, an inode once per position however many names put it there.
# The names' limits are checked (EINVAL, ERANGE), a value is refused,
# totl. with indx. is refused, only root may set them.  Entries come
# with the xattr, stay through replacing it and renames, go when the last
# name of a position is removed or the file is deleted; they survive a
# remount and a log merge.  On a format version 1 volume indx. names are
# refused with EOPNOTSUPP (totl. still works).
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs some commands: it must reach the mount
t_mount "$M" allow_other
S="$SCOUTFS"
out="$T_DIR/out"

# px OP ARGS...: set PATH NAME VALUE | rm PATH NAME | fsync PATH; errno names
cat >"$T_DIR/px.py" <<'PY'
import errno, os, sys
op, a = sys.argv[1], sys.argv[2:]
try:
    if op == "set":
        os.setxattr(a[0], a[1], a[2].encode())
        print("ok")
    elif op == "rm":
        os.removexattr(a[0], a[1])
        print("ok")
    elif op == "fsync":
        fd = os.open(a[0], os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
px() { python3 "$T_DIR/px.py" "$@"; }
upy=python3
setpriv --reuid=65534 --regid=65534 --clear-groups "$upy" -c '' 2>/dev/null || upy=/usr/bin/python3
upx() { setpriv --reuid=65534 --regid=65534 --clear-groups "$upy" "$T_DIR/px.py" "$@"; }

# index FIRST LAST: the committed entries, inode numbers shown as file names
index() {
	px fsync "$M/.commit"
	"$S" read-xattr-index "$@" -p "$M" >"$T_DIR/index" || t_fail "read-xattr-index $*"
	awk 'NR == FNR { name[$1] = $2; next }
	     { print $1, $2, ($3 in name) ? name[$3] : "ino?" $3 }' "$T_DIR/inos" "$T_DIR/index"
}

touch "$M/.commit"
for f in a b c d e; do
	touch "$M/$f"
	echo "$(stat -c %i "$M/$f") $f" >>"$T_DIR/inos"
done

{
	echo "== names"
	echo "0.0: $(px set "$M/a" scoutfs.indx.z.0.0 '')"
	echo "255.max: $(px set "$M/a" scoutfs.indx.top.255.18446744073709551615 '')"
	echo "hex and octal: $(px set "$M/a" scoutfs.indx.h.0x10.010 '')"
	echo "major 256: $(px set "$M/a" scoutfs.indx.big.256.1 '')"
	echo "minor overflows: $(px set "$M/a" scoutfs.indx.big.1.18446744073709551616 '')"
	echo "one number: $(px set "$M/a" scoutfs.indx.one.1 '')"
	echo "no numbers: $(px set "$M/a" scoutfs.indx.none '')"
	echo "not a number: $(px set "$M/a" scoutfs.indx.w.1.x '')"
	echo "signed: $(px set "$M/a" scoutfs.indx.w.-1.2 '')"
	echo "a value: $(px set "$M/a" scoutfs.indx.v.1.2 v)"
	echo "totl and indx: $(px set "$M/a" scoutfs.indx.totl.t.1.2.3 1)"
	echo "hide and indx: $(px set "$M/a" scoutfs.hide.indx.h.3.3 '')"
	chown 65534:65534 "$M/e"
	echo "uid 65534 sets: $(upx set "$M/e" scoutfs.indx.u.1.1 '')"
	echo "uid 65534 reads the index: $(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$S" read-xattr-index 0 -1 -p "$M" 2>&1 | sed "s|$M|MNT|")"
	index 0 -1

	echo "== entries"
	px set "$M/b" scoutfs.indx.x.5.100 '' >/dev/null
	px set "$M/b" scoutfs.indx.y.5.100 '' >/dev/null	# the same position twice
	px set "$M/c" scoutfs.indx.x.5.100 '' >/dev/null
	px set "$M/c" scoutfs.indx.x.5.7 '' >/dev/null
	px set "$M/d" scoutfs.indx.x.6.0 '' >/dev/null
	px set "$M/d" scoutfs.srch.indx.s.4.1 '' >/dev/null
	index 0 -1
	echo "-- major 5"
	index 5 5
	echo "-- 5.100 to 6"
	index 5.100 6
	echo "-- from c's 5.100"
	index "5.100.$(stat -c %i "$M/c")" -1
	echo "-- first after last"
	index 6 5
	echo "-- bad positions"
	"$S" read-xattr-index 256 -1 -p "$M" 2>&1 | sed "s|$M|MNT|"
	"$S" read-xattr-index 1.2.3.4 -1 -p "$M" 2>&1 | sed "s|$M|MNT|"
	"$S" read-xattr-index 1 -p "$M" 2>&1 | sed "s|$M|MNT|"

	echo "== changes"
	echo "replace b's x.5.100: $(px set "$M/b" scoutfs.indx.x.5.100 '')"
	echo "remove b's y.5.100: $(px rm "$M/b" scoutfs.indx.y.5.100)"
	index 5 5
	echo "remove b's x.5.100: $(px rm "$M/b" scoutfs.indx.x.5.100)"
	index 5 5
	mv "$M/c" "$M/c2"
	sed -i 's/ c$/ c2/' "$T_DIR/inos"
	echo "-- c renamed"
	index 5 5
	rm "$M/d"
	echo "-- d deleted"
	index 0 -1
	echo "-- json"
	"$S" read-xattr-index 5 5 -p "$M" --json | python3 -c '
import json, sys
print([(e["major"], e["minor"]) for e in json.load(sys.stdin)])'
} >"$out" 2>&1

before=$(index 0 -1)
t_umount "$M"
t_mount "$M" allow_other
[ "$(index 0 -1)" = "$before" ] || t_fail "the index changed across a remount: $(index 0 -1)"
# the remount's merge folds the unmounted tree into fs_root
merged() {
	"$S" counters -p "$M" | awk '$1 == "log_merge_complete" && $2 > 0 { ok = 1 } END { exit !ok }'
}
for _ in $(seq 200); do
	merged && break
	sleep 0.1
done
merged || t_fail "no log merge completed within 20 s of the remount"
[ "$(index 0 -1)" = "$before" ] || t_fail "the index changed in a log merge: $(index 0 -1)"
{
	echo "== after a remount and a merge"
	echo "$before"
	rm "$M/a"
	echo "-- a deleted"
	index 0 -1
} >>"$out" 2>&1
t_umount "$M"

# format version 1: no indx.
t_images 2G 4G
t_mkfs -V 1
t_mount "$M"
touch "$M/.commit" "$M/v1"
echo "v1 $(stat -c %i "$M/v1")" >>"$T_DIR/inos"
{
	echo "== format version 1"
	echo "indx: $(px set "$M/v1" scoutfs.indx.x.1.1 '')"
	echo "malformed indx: $(px set "$M/v1" scoutfs.indx.x.256.1 '')"
	echo "totl: $(px set "$M/v1" scoutfs.totl.x.1.1.1 3)"
	index 0 -1
	"$S" read-xattr-totals -p "$M"
} >>"$out" 2>&1
t_umount "$M"

[ -n "${SFS_GOLDEN_WRITE:-}" ] && cp "$out" "$SFS_SOURCE_DIR/test/golden/basic-xattr-indx.out"
t_golden basic-xattr-indx "$out"
echo "basic-xattr-indx: names checked, entries follow the xattrs, v1 refuses"
