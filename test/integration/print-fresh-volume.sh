#!/usr/bin/env bash
# `scoutfs print` of a fresh volume is the reference tool's output, line for
# line, for format versions 2 and 1: the vectors' print.txt files, with only
# the random and time-dependent fields (crcs, fsid, uuid, root inode times)
# masked in both.  Print refuses the data device with a message.
. "$(dirname "$0")/../funcs.sh"

# the fields that differ between any two mkfs runs
mask() {
	sed -E \
		-e 's/crc [0-9a-f]{8}( \(!= [0-9a-f]{8}\))?/crc CRC/g' \
		-e 's/fsid [0-9a-f]+/fsid FSID/g' \
		-e 's/uuid [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/uuid UUID/' \
		-e 's/(atime|ctime|mtime) [0-9]+\.[0-9]+/\1 TIME/g' \
		"$1"
}

check_version() {	# VERS [mkfs args]
	local vers=$1 want="$SFS_VECTORS_DIR/v$1/print.txt" out="$T_DIR/print-v$1.txt"
	local err="$T_DIR/print-v$1.err"
	shift

	[ -r "$want" ] || t_fail "no reference output $want"
	t_images 1G 2G
	"$SCOUTFS_MKFS" -A "$@" -Q 0,127.0.0.1,42000 -Q 1,127.0.0.1,42001 \
		-Q 2,127.0.0.1,42002 "$META" "$DATA" >"$T_DIR/mkfs.out" 2>&1 ||
		t_fail "mkfs (v$vers) failed: $(cat "$T_DIR/mkfs.out")"

	"$SCOUTFS" print "$META" >"$out" 2>"$err" ||
		t_fail "print of a fresh v$vers volume failed: $(cat "$err")"
	[ -s "$err" ] && t_fail "print of a fresh v$vers volume wrote to stderr: $(cat "$err")"

	if ! diff -u <(mask "$want") <(mask "$out") >"$T_DIR/diff"; then
		cat "$T_DIR/diff" >&2
		t_fail "print of a fresh v$vers volume differs from v$vers/print.txt (diff above)"
	fi
}

check_version 2
check_version 1 -V 1

# the data device is refused, with a message and nothing on stdout
"$SCOUTFS" print "$DATA" >"$T_DIR/data.out" 2>"$T_DIR/data.err" &&
	t_fail "print of the data device succeeded"
grep -q 'data device' "$T_DIR/data.err" ||
	t_fail "print of the data device said '$(cat "$T_DIR/data.err")', expected 'data device'"
[ -s "$T_DIR/data.out" ] && t_fail "print of the data device printed: $(head -3 "$T_DIR/data.out")"

# usage errors: one line on stderr, exit status 2
for args in "" "-i nosuch $META" "$META $DATA" "-x $META" "-i"; do
	# shellcheck disable=SC2086 # word splitting of the arguments is the point
	"$SCOUTFS" print $args >"$T_DIR/u.out" 2>"$T_DIR/u.err"
	rc=$?
	[ "$rc" -eq 2 ] || t_fail "'print $args' exited $rc, expected 2"
	[ "$(wc -l <"$T_DIR/u.err")" -eq 1 ] ||
		t_fail "'print $args' wrote $(wc -l <"$T_DIR/u.err") stderr lines: $(cat "$T_DIR/u.err")"
done

# -S skips the alloc trees and fs_root; -a brings the alloc trees back
"$SCOUTFS" print -S "$META" >"$T_DIR/s.out" 2>&1 || t_fail "print -S failed"
grep -q 'btree blkno' "$T_DIR/s.out" && t_fail "print -S printed a btree"
grep -q '^server_meta_avail\[0\] alloc_list_block blkno 3$' "$T_DIR/s.out" ||
	t_fail "print -S lost the server alloc list"
"$SCOUTFS" print -S -a "$META" >"$T_DIR/sa.out" 2>&1 || t_fail "print -S -a failed"
grep -q '^data_alloc btree blkno 1028$' "$T_DIR/sa.out" || t_fail "print -S -a lost data_alloc"
grep -q '^fs_root btree' "$T_DIR/sa.out" && t_fail "print -S -a printed fs_root"

# -i keeps the key line of a suppressed item but not its value
"$SCOUTFS" print -i dirent "$META" >"$T_DIR/i.out" 2>&1 || t_fail "print -i dirent failed"
grep -q '^    16\.1\.4\.0\.0\.0 1 -$' "$T_DIR/i.out" || t_fail "print -i lost the inode key line"
grep -q 'inode: ino 1' "$T_DIR/i.out" && t_fail "print -i dirent printed the inode value"
grep -q 'index: major 0 ino 1' "$T_DIR/i.out" || t_fail "print -i lost the index item"
grep -q 'btree blkno 102[89]' "$T_DIR/i.out" && t_fail "print -i walked the alloc trees"

exit 0
