#!/usr/bin/env bash
# The differential tester on two mounts of one volume at once: sfs-difftest
# (test/tools/sfs-difftest.c, --mount) runs op i of one random sequence on
# mount i % 2 (mount a: quorum slot 0, the server; mount b: a plain client)
# and on a host directory, and right after each op compares what it touched
# with the host through both mounts, the op's own first; every 500 ops and
# at the end it walks the whole tree through both.  (In its report "A" is
# mount a, "A2" mount b and "B" the host directory.)  A change made on one
# mount must show on the other by its next call (docs/cluster.md), for
# every class of op: names, data, truncates, fallocate, seeks, xattrs,
# mmap, and files open on both mounts (also after their last name goes).
# No difference is allowed.  Then both unmount, a mounts alone again and
# the trees are still equal.
#
# SFS_DIFFTEST_CLUSTER_SEED (default 5) and _OPS (default 3000) pick the
# sequence, SFS_DIFFTEST_CLASSES the classes (default all).  A failure
# prints the seed, the op, which mount ran it and which mount showed the
# difference, and the command that reproduces it (docs/testing.md).  A run
# still going after SFS_DIFFTEST_CLUSTER_LIMIT seconds (300) is a hang: the
# test prints the op it is in and the kernel stacks of the blocked tasks.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_DIFFTEST:?run through meson test or test/run.sh}"

seed=${SFS_DIFFTEST_CLUSTER_SEED:-5}
ops=${SFS_DIFFTEST_CLUSTER_OPS:-3000}
classes=${SFS_DIFFTEST_CLASSES:-all}
# seconds before a run that has not finished counts as a hang (3000 ops take ~10 s)
limit=${SFS_DIFFTEST_CLUSTER_LIMIT:-300}

# each mount takes up to 4 GiB of free data space at a time: room for two
t_images 4G 16G
t_mkfs
A="$T_DIR/a"
B="$T_DIR/b"
R="$T_DIR/ref"
mkdir -p "$R"
t_mount "$A"
mkdir -p "$B" "$T_DIR/run.b"
"$SCOUTFSD" -f -o "metadev_path=$META,run_dir=$T_DIR/run.b" "$DATA" "$B" \
	>>"$T_DIR/scoutfsd.b.log" 2>&1 &
T_PIDS+=("$!")
T_MOUNTS+=("$B")
T_MOUNT_PID[$B]=$!
t_mount_wait "$B"

mkdir "$A/s$seed" || t_fail "mkdir on a"
[ -d "$B/s$seed" ] || t_fail "b does not see the directory a made"
echo "classes the mounts support: a $("$SFS_DIFFTEST" --probe "$A/s$seed"), b $("$SFS_DIFFTEST" --probe "$B/s$seed")"
# --verbose: each op is written out before it runs, so a hang names its op
"$SFS_DIFFTEST" "$A/s$seed" "$R" --mount "$B/s$seed" --seed "$seed" --ops "$ops" \
	--classes "$classes" --check-every 500 --verbose >"$T_DIR/dt.ops" 2>"$T_DIR/dt.err" &
dt=$!
for ((i = 0; i < limit * 10; i++)); do
	kill -0 "$dt" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$dt" 2>/dev/null; then
	# a hang: the op it is in, and every blocked task of the tester and the daemons
	echo "sfs-difftest still runs after $limit s; its last ops:"
	grep -E '^[0-9]+: ' "$T_DIR/dt.ops" | tail -3
	echo
	for p in "$dt" "${T_MOUNT_PID[$A]}" "${T_MOUNT_PID[$B]}"; do
		for t in /proc/"$p"/task/*; do
			[ "$(awk '{ print $3 }' "$t/stat" 2>/dev/null)" = D ] || continue
			echo "blocked: pid $p task $(basename "$t") ($(cat "$t/comm")):"
			sed 's/^/    /' "$t/stack" 2>/dev/null
		done
	done
	# FUSE's forced unmount aborts the connections: every task blocked on them
	# goes, which killing the daemons alone may not do
	umount -f "$B" 2>/dev/null
	umount -f "$A" 2>/dev/null
	t_fail "seed $seed: sfs-difftest hung (above: the op it is in and the blocked tasks)"
fi
wait "$dt"
rc=$?
grep -vE '^[0-9]+: ' "$T_DIR/dt.ops"
cat "$T_DIR/dt.err"
[ "$rc" -eq 0 ] ||
	t_fail "seed $seed: the mounts and the host differ (above: the op, the mounts, how to reproduce)"

t_umount "$B"
t_umount "$A"
t_mount "$A"
"$SFS_DIFFTEST" "$A/s$seed" "$R" --compare ||
	t_fail "seed $seed: the trees differ after both unmounted and a mounted again"
t_umount "$A"
echo "fs difftest on two mounts: seed $seed, $ops ops alternating between a and b, equal to the host through both, and after a remount"
