#!/usr/bin/env bash
# The mount against the host's filesystem, operation by operation:
# sfs-difftest (test/tools/sfs-difftest.c) applies one random sequence of
# namespace, data, truncate, fallocate, seek, xattr and mmap operations to
# a directory of the mount and to a directory under $T_DIR, and compares
# every result and the touched state after each op and the whole trees
# every 1000 ops.  Fixed seeds (one of 200,000 ops) and one from $RANDOM,
# printed, each in its own directory, all at once.  After an unmount and
# a remount the trees are still equal, and scoutfs print reads the volume
# without a complaint.
#
# SFS_DIFFTEST_OPS sets the long seed's ops (default 200000; the others
# run a tenth), SFS_DIFFTEST_CLASSES selects the classes (default all),
# SFS_DIFFTEST_SEEDS ("SEED:OPS ...") replaces the seeds.  A failure
# prints the seed and the command that reproduces it (docs/testing.md).
. "$(dirname "$0")/../funcs.sh"
: "${SFS_DIFFTEST:?run through meson test or test/run.sh}"

t_images 4G 16G
t_mkfs
M="$T_DIR/mnt"
R="$T_DIR/ref"
mkdir -p "$R"
t_mount "$M"

long=${SFS_DIFFTEST_OPS:-200000}
short=$((long / 10))
classes=${SFS_DIFFTEST_CLASSES:-all}
seeds=${SFS_DIFFTEST_SEEDS:-"1:$long 2:$short $((RANDOM + 100)):$short"}
# (sfs-difftest --skip CLASS leaves a kind of op out and keeps the rest of a
# sequence: for narrowing down a difference by hand)
skip=()

echo "classes the mount supports: $("$SFS_DIFFTEST" --probe "$M")"
declare -A pid=()
for spec in $seeds; do
	seed=${spec%%:*}
	mkdir "$M/s$seed" "$R/s$seed" || t_fail "mkdir for seed $seed"
	"$SFS_DIFFTEST" "$M/s$seed" "$R/s$seed" --seed "$seed" --ops "${spec##*:}" \
		--classes "$classes" "${skip[@]}" >"$T_DIR/dt.$seed.log" 2>&1 &
	pid[$seed]=$!
done
failed=
for spec in $seeds; do
	seed=${spec%%:*}
	wait "${pid[$seed]}" || failed="$failed $seed"
	cat "$T_DIR/dt.$seed.log"
done
[ -z "$failed" ] ||
	t_fail "seeds$failed: the mount and the host differ (above: the op and how to reproduce)"

# the same trees after a remount
t_umount "$M"
t_mount "$M"
for spec in $seeds; do
	seed=${spec%%:*}
	"$SFS_DIFFTEST" "$M/s$seed" "$R/s$seed" --compare ||
		t_fail "seed $seed: the trees differ after a remount"
done
t_umount "$M"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
echo "fs difftest: seeds $seeds equal to the host, also after a remount; print reads the volume"
