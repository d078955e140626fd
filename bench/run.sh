#!/usr/bin/env bash
# Benchmarks of the metadata engine; not part of the test suite.
#
# Prints item insert and cached lookup rates through a real mount stack,
# and the commit's metadata write bandwidth as a ratio of the raw device
# write bandwidth: fio writing 64 KiB blocks sequentially with O_DIRECT
# through io_uring (queue depth 32, fsync at the end) to the same image
# file, in the same run, right after the engine is done with it.
#   targets: >= 500000 lookups/s, >= 200000 inserts/s, ratio >= 0.7
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=../tools/deps.sh
. tools/deps.sh
SFS_DEB_PACKAGES+=(fio)
sfs_install_deps

if [ -f build-bench/build.ninja ]; then
	meson setup --reconfigure build-bench --buildtype=release >/dev/null
else
	meson setup build-bench --buildtype=release >/dev/null
fi
if ! out=$(ninja -C build-bench 2>&1); then
	echo "$out"
	exit 1
fi

dir=$(mktemp -d "${SFS_BENCH_DIR:-/var/tmp}/scoutfs-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
truncate -s 4G "$dir/meta.img"
truncate -s 4G "$dir/data.img"
port=$((20000 + $$ % 20000))
build-bench/scoutfs-mkfs -A -Q "0,127.0.0.1,$port" "$dir/meta.img" "$dir/data.img" >/dev/null

items=${SFS_BENCH_ITEMS:-300000}
build-bench/bench/engine-bench "$dir/meta.img" "$dir/data.img" --items "$items" | tee "$dir/engine.out"

fio --name=raw --filename="$dir/meta.img" --rw=write --bs=64k --direct=1 --ioengine=io_uring \
	--iodepth=32 --size=1G --end_fsync=1 --output-format=json >"$dir/fio.json"
fio_bw=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f" % (j["jobs"][0]["write"]["bw_bytes"] / 1e6))' "$dir/fio.json")
commit_bw=$(sed -n 's/^commit_write_bw \([0-9.]*\) MB\/s/\1/p' "$dir/engine.out")
echo "fio_write_bw $fio_bw MB/s"
python3 -c 'import sys; c, f = float(sys.argv[1]), float(sys.argv[2]); print("commit_bw_ratio %.2f (commit %s MB/s / fio %s MB/s, target >= 0.7)" % (c / f, sys.argv[1], sys.argv[2]))' "$commit_bw" "$fio_bw"
