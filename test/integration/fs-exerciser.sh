#!/usr/bin/env bash
# File contents under an fsx-style exerciser: sfs-exerciser
# (test/tools/sfs-exerciser.c) runs random pwrite, pread, truncate, punch,
# fallocate, mmap loads and stores, copy_file_range, fsync and reopens on a
# file of the mount, checking every read against an in-memory shadow.
# Several fixed seeds and one from $RANDOM (printed), each on its own file
# up to 4 MiB, all at once; each run saves its shadow to the host, and
# after an unmount and a remount every file still equals its shadow;
# scoutfs print reads the volume without a complaint.
#
# SFS_EXERCISER_OPS sets the ops per seed (default 20000),
# SFS_EXERCISER_SEEDS replaces the seeds.  A failure prints the seed and
# the command that reproduces it (docs/testing.md).
. "$(dirname "$0")/../funcs.sh"
: "${SFS_EXERCISER:?run through meson test or test/run.sh}"

t_images 4G 16G
t_mkfs
M="$T_DIR/mnt"
S="$T_DIR/shadow"
mkdir -p "$S"
t_mount "$M"

ops=${SFS_EXERCISER_OPS:-20000}
seeds=${SFS_EXERCISER_SEEDS:-"1 2 3 $((RANDOM + 100))"}

declare -A pid=()
for seed in $seeds; do
	"$SFS_EXERCISER" "$M/f$seed" --seed "$seed" --ops "$ops" --size 4M \
		--save-shadow "$S/f$seed" >"$T_DIR/ex.$seed.log" 2>&1 &
	pid[$seed]=$!
done
failed=
for seed in $seeds; do
	wait "${pid[$seed]}" || failed="$failed $seed"
	cat "$T_DIR/ex.$seed.log"
done
[ -z "$failed" ] ||
	t_fail "seeds$failed: a file did not hold what was written (above: the ops and how to reproduce)"

# the same contents after a remount, read from the volume
t_umount "$M"
t_mount "$M"
for seed in $seeds; do
	cmp "$M/f$seed" "$S/f$seed" >&2 || t_fail "seed $seed: the file differs after a remount"
done
t_umount "$M"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
echo "fs exerciser: seeds $seeds held their contents, also after a remount; print reads the volume"
