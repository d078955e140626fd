#!/usr/bin/env bash
# Benchmarks of the metadata engine; not part of the test suite.
#
# Prints item insert and cached lookup rates through a real mount stack,
# and the commit's metadata write bandwidth as a ratio of the raw device
# write bandwidth: the median of SFS_BENCH_ROUNDS [3] commits of
# SFS_BENCH_ITEMS [1000000] new items each (~127 MB of blocks: big enough
# that a commit's fixed costs, like the device's own ramp-up, do not hide
# its bandwidth), over the median of three fio
# runs writing 1 GiB in 64 KiB blocks sequentially with O_DIRECT through
# io_uring (queue depth 32, fsync at the end) to the same image file, in
# the same run, right after the engine is done with it, each to a part of
# the file never written before (as the commits write new blocks).
#   targets: >= 500000 lookups/s, >= 200000 inserts/s, ratio >= 0.7
# Then, as root, bench/cluster-bench.sh on the same build: lock transfer
# latencies between two mounts against the commit time, and creates on 1,
# 2 and 3 mounts as ratios to one (its header says how; ROUNDS, FILES);
# and bench/failover-bench.sh: the time from a leader's SIGKILL to a
# survivor's next operation, against the heartbeat timeout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=../tools/deps.sh
. tools/deps.sh
SFS_DEB_PACKAGES+=(fio)
sfs_install_deps

# shellcheck source=build.sh
. "$top/bench/build.sh"
bench_build "$top"

dir=$(mktemp -d "${SFS_BENCH_DIR:-/var/tmp}/scoutfs-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# the volume uses the first 4 GiB of the meta image; fio writes the rest
truncate -s 7G "$dir/meta.img"
truncate -s 4G "$dir/data.img"
port=$((20000 + $$ % 20000))
build-bench/scoutfs-mkfs -A -m 4G -Q "0,127.0.0.1,$port" "$dir/meta.img" "$dir/data.img" >/dev/null

items=${SFS_BENCH_ITEMS:-1000000}
rounds=${SFS_BENCH_ROUNDS:-3}
build-bench/bench/engine-bench "$dir/meta.img" "$dir/data.img" --items "$items" --rounds "$rounds" \
	>"$dir/engine.out" 2>&1
# the rates and rounds, and each commit's phases (debug lines of the commit thread)
grep -v '^engine-bench ' "$dir/engine.out" || true
grep 'trans: committed' "$dir/engine.out" | sed 's/^.*trans: /  phases: /' || true

# the raw device: the median of three fio runs, each on a part of the image
# never written before (as the commits' blocks were: no overwrites)
for r in 4 5 6; do
	fio --name=raw --filename="$dir/meta.img" --rw=write --bs=64k --direct=1 --ioengine=io_uring \
		--iodepth=32 --offset="${r}G" --size=1G --end_fsync=1 --output-format=json >"$dir/fio.json"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f" % (j["jobs"][0]["write"]["bw_bytes"] / 1e6))' "$dir/fio.json"
done | sort -n >"$dir/fio.bw"
fio_bw=$(sed -n 2p "$dir/fio.bw")
echo "fio_write_bw $fio_bw MB/s (median of $(paste -sd' ' "$dir/fio.bw"))"
commit_bw=$(sed -n 's/^commit_write_bw \([0-9.]*\) MB\/s.*/\1/p' "$dir/engine.out")
python3 -c 'import sys; c, f = float(sys.argv[1]), float(sys.argv[2]); print("commit_bw_ratio %.2f (commit %s MB/s / fio %s MB/s, target >= 0.7)" % (c / f, sys.argv[1], sys.argv[2]))' "$commit_bw" "$fio_bw"

# the cluster benchmark: several mounts of one volume, same build
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ]; then
	BUILD="$top/build-bench" BENCH_DIR="${SFS_BENCH_DIR:-/var/tmp}" bench/cluster-bench.sh
	BUILD="$top/build-bench" bench/failover-bench.sh
else
	echo "cluster-bench, failover-bench: skipped (need root and /dev/fuse)"
fi
