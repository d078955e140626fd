#!/usr/bin/env bash
# move-blocks (the reference's move-blocks test, in our words): blocks move
# from one file to another without a copy: the destination gets the bytes,
# the source keeps a hole, sizes and data_versions follow, and the blocks
# are the same ones (online_blocks moves over, free space does not
# change).  A tail that ends at the source's size moves too.  Errors:
# misaligned offsets or lengths (EINVAL), the same file (EINVAL), a
# directory (EISDIR), offline data in either file (ENODATA), ranges past
# the largest size (EOVERFLOW).
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"
A="$T_DIR/copy"
mkdir -p "$A"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }
commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}

SRC="$M/src"
DST="$M/dst"
size=$((1024 * 1024 + 100))
head -c $size /dev/urandom >"$A/src"
cp "$A/src" "$SRC"
: >"$DST"
sv=$(field "$SRC" data_version)
dv=$(field "$DST" data_version)
online=$(field "$SRC" online_blocks)
commit
before=$(df --output=avail -B4096 "$M" | tail -1)

"$S" move-blocks "$SRC" -f 0 -l $size "$DST" -t 0 || t_fail "move-blocks"
cmp "$DST" "$A/src" || t_fail "the destination does not hold the moved bytes"
[ "$(stat -c %s "$DST")" = $size ] || t_fail "destination size $(stat -c %s "$DST")"
[ "$(stat -c %s "$SRC")" = $size ] || t_fail "the source size changed"
cmp "$SRC" /dev/zero 2>&1 | grep -q EOF || t_fail "the source range is not a hole"
# (the source may keep preallocated blocks past its size)
[ "$(field "$DST" online_blocks)" = 257 ] || t_fail "destination online blocks"
[ $(($(field "$SRC" online_blocks) + 257)) = "$online" ] || t_fail "source online blocks"
[ "$(field "$SRC" data_version)" -gt "$sv" ] || t_fail "source data_version did not move"
[ "$(field "$DST" data_version)" -gt "$dv" ] || t_fail "destination data_version did not move"
commit
after=$(df --output=avail -B4096 "$M" | tail -1)
[ $((before - after)) -le 16 ] && [ $((after - before)) -le 16 ] ||
	t_fail "free space changed by $((before - after)) blocks: the blocks were copied or freed"

# into the middle of a file: its blocks there are replaced
X="$M/x"
head -c $((256 * 1024)) /dev/urandom >"$A/x"
cp "$A/x" "$X"
head -c $((64 * 1024)) /dev/urandom >"$A/y"
cp "$A/y" "$M/y"
"$S" move-blocks "$M/y" -f 0 -l 64K "$X" -t 128K || t_fail "move into the middle"
dd if="$A/y" of="$A/x" bs=64K seek=2 conv=notrunc status=none
cmp "$X" "$A/x" || t_fail "the middle of x after the move"
[ "$(stat -c %s "$X")" = $((256 * 1024)) ] || t_fail "x size changed"

# errors
t_expect_fail "Invalid argument" "$S" move-blocks "$X" -f 100 -l 4096 "$DST" -t 0
t_expect_fail "Invalid argument" "$S" move-blocks "$X" -f 0 -l 4096 "$DST" -t 100
t_expect_fail "Invalid argument" "$S" move-blocks "$X" -f 0 -l 100 "$DST" -t 0
t_expect_fail "Invalid argument" "$S" move-blocks "$X" -f 0 -l 4096 "$X" -t 64K
t_expect_fail "Value too large" "$S" move-blocks "$X" -f 0 -l 4096 "$DST" -t 18446744073709547520
mkdir "$M/dir"
t_expect_fail "Is a directory|Bad file" "$S" move-blocks "$X" -f 0 -l 4096 "$M/dir" -t 0
O="$M/offline"
head -c 65536 /dev/urandom >"$O"
"$S" release "$O" -V "$(field "$O" data_version)" || t_fail "release"
t_expect_fail "No data available" "$S" move-blocks "$X" -f 0 -l 4096 "$O" -t 0
t_expect_fail "No data available" "$S" move-blocks "$O" -f 0 -l 4096 "$X" -t 0
cmp "$X" "$A/x" || t_fail "a refused move changed x"

t_umount "$M"
t_mount "$M"
cmp "$DST" "$A/src" || t_fail "destination after remount"
cmp "$X" "$A/x" || t_fail "x after remount"
t_umount "$M"
echo "move-blocks: ok"
