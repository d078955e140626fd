#!/usr/bin/env bash
# Release and the extents it leaves (the reference's
# simple-release-extents, in our words): released ranges become offline
# extents block for block, as stat's online/offline counts and
# SEEK_DATA/SEEK_HOLE show; a range may straddle i_size or lie past it
# (nothing there to release, success); a length of 0 is a no-op; ranges
# whose end wraps past 2^64, or that are not 4 KiB aligned, fail with
# EINVAL and change nothing; sparse holes stay holes.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }
counts() { echo "$(field "$1" online_blocks)/$(field "$1" offline_blocks)"; }

# 10 blocks, no preallocation beyond them
F="$M/file"
dd if=/dev/urandom of="$F" bs=4096 count=10 status=none
"$S" release "$F" -V "$(field "$F" data_version)" -o 40960 -l 1M || t_fail "release past EOF"
v=$(field "$F" data_version)
base=$(field "$F" online_blocks)
[ "$base" -ge 10 ] || t_fail "10 blocks written, $base online"

"$S" release "$F" -V "$v" -o 4096 -l 8192 || t_fail "release blocks 1-2"
[ "$(counts "$F")" = "$((base - 2))/2" ] || t_fail "after blocks 1-2: $(counts "$F")"
"$S" release "$F" -V "$v" -o 0 -l 0 || t_fail "a zero length release"
[ "$(counts "$F")" = "$((base - 2))/2" ] || t_fail "a zero length release changed $(counts "$F")"
# straddling i_size: blocks 8, 9 and beyond
"$S" release "$F" -V "$v" -o 32768 -l 65536 || t_fail "release straddling i_size"
[ "$(field "$F" offline_blocks)" = 4 ] || t_fail "straddle: $(counts "$F")"
# past i_size: nothing there
"$S" release "$F" -V "$v" -o 1M -l 1M || t_fail "release past i_size"
[ "$(field "$F" offline_blocks)" = 4 ] || t_fail "past i_size: $(counts "$F")"
# already offline: fine
"$S" release "$F" -V "$v" -o 4096 -l 4096 || t_fail "release an offline block again"

t_expect_fail "Invalid argument" "$S" release "$F" -V "$v" -o 18446744073709547520 -l 8192
t_expect_fail "Invalid argument" "$S" release "$F" -V "$v" -o 4096 -l 100
t_expect_fail "Invalid argument" "$S" release "$F" -V "$v" -o 100 -l 4096
[ "$(field "$F" offline_blocks)" = 4 ] || t_fail "a refused release changed $(counts "$F")"
[ "$(field "$F" data_version)" = "$v" ] || t_fail "release changed data_version"
[ "$(stat -c %s "$F")" = 40960 ] || t_fail "release changed the size"

# the online blocks still read; SEEK_DATA skips nothing online
dd if="$F" of=/dev/null bs=4096 count=1 skip=3 status=none || t_fail "an online block"

# a sparse file: holes stay holes, only the data goes offline
G="$M/sparse"
truncate -s 1M "$G"
dd if=/dev/urandom of="$G" bs=4096 count=1 seek=100 conv=notrunc status=none
"$S" release "$G" -V "$(field "$G" data_version)" || t_fail "release sparse"
[ "$(field "$G" offline_blocks)" = 1 ] || t_fail "sparse: $(counts "$G")"

t_umount "$M"
t_mount "$M"
[ "$(field "$F" offline_blocks)" = 4 ] || t_fail "after remount: $(counts "$F")"
[ "$(field "$G" offline_blocks)" = 1 ] || t_fail "sparse after remount: $(counts "$G")"
t_umount "$M"
echo "simple-release-extents: ok"
