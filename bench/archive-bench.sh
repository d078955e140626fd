#!/usr/bin/env bash
# shellcheck disable=SC2086
#
# archive-bench.sh: what the archive interfaces cost, each figure against a
# baseline measured the same way in the same run (issue 5's benchmark).
#
#   walk-inodes vs find   In a volume of FILES files (default 1,000,000,
#                         in 1,000 directories), touch 100 of them, then
#                         time `scoutfs walk-inodes meta_seq` from the
#                         position saved before the touches against
#                         `find MOUNT -newer STAMP` on the same mount.
#                         Ratio = find time / walk time.  Targets:
#                         >= 100 x, and the walk under 100 ms.
#   stage vs write        Sequential write of SEQ_MB MiB (1 MiB writes +
#                         fsync) against staging the same bytes back into
#                         the released file.  Ratio = stage / write
#                         bandwidth.  Target >= 0.8.
#   release               Time to release a SEQ_MB MiB file.  Target
#                         under 50 ms for 1 GiB.
#   parked readers        The daemon's RSS before and with PARKED (default
#                         10,000) readers waiting on offline data.
#
# Usage (as root):  bench/archive-bench.sh
#   FILES=100000 SEQ_MB=256 PARKED=1000 bench/archive-bench.sh   # quick
# Overrides: FILES, DIRS, SEQ_MB, PARKED, BENCH_DIR (default /var/tmp),
# BUILD (a build directory with scoutfsd, scoutfs, scoutfs-mkfs and
# bench/archive-helper; default: build-bench, configured as release).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=build.sh
. "$top/bench/build.sh"
FILES=${FILES:-1000000}
DIRS=${DIRS:-1000}
SEQ_MB=${SEQ_MB:-1024}
PARKED=${PARKED:-10000}
BENCH_DIR=${BENCH_DIR:-/var/tmp}

case "${1:-}" in -h | --help)
	sed -n '3,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d'
	exit 0
esac
[ "$(id -u)" = 0 ] || { echo "archive-bench: run as root" >&2; exit 2; }

if [ -z "${BUILD:-}" ]; then
	cd "$top" || exit 1
	bench_build "$top" scoutfsd scoutfs scoutfs-mkfs bench/archive-helper
	BUILD=$top/build-bench
fi
SFSD=$BUILD/scoutfsd
SFS=$BUILD/scoutfs
MKFS=$BUILD/scoutfs-mkfs
HELPER=$BUILD/bench/archive-helper

W=$(mktemp -d "$BENCH_DIR/archive-bench.XXXXXX")
M=$W/mnt
RUN=$W/run
mkdir -p "$M" "$RUN"
export SCOUTFS_RUN_DIR=$RUN
PID=

cleanup() {
	set +e
	if findmnt -n "$M" >/dev/null 2>&1; then umount "$M" || umount -l "$M"; fi
	[ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	rm -rf "$W"
}
trap cleanup EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
commit() { python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$M"; }

truncate -s 64G "$W/meta.img"
truncate -s $(((SEQ_MB * 3 + 4096) / 1024 + 2))G "$W/data.img"
"$MKFS" -A -Q "0,127.0.0.1,$((20000 + RANDOM % 20000))" "$W/meta.img" "$W/data.img" \
	>"$W/mkfs.out" 2>&1 || { cat "$W/mkfs.out"; exit 1; }
"$SFSD" -f -o "metadev_path=$W/meta.img,quorum_slot_nr=0,run_dir=$RUN" "$W/data.img" "$M" \
	>"$W/scoutfsd.log" 2>&1 &
PID=$!
for _ in $(seq 200); do findmnt -n "$M" >/dev/null && break; sleep 0.05; done
findmnt -n "$M" >/dev/null || { echo "archive-bench: no mount"; cat "$W/scoutfsd.log"; exit 1; }

echo "archive-bench: $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs, tree $(git -C "$top" rev-parse --short HEAD 2>/dev/null)"
echo "  FILES=$FILES DIRS=$DIRS SEQ_MB=$SEQ_MB PARKED=$PARKED"

# --- walk-inodes against find -------------------------------------------------
echo "  creating $FILES files (untimed for the ratio)"
rate=$("$HELPER" create "$M" "$FILES" "$DIRS") || exit 1
echo "  created at $rate files/s"
commit
sleep 1
commit
pos=$("$SFS" statfs -s committed_seq -p "$M")
touch "$W/stamp"
sleep 1.1	# find -newer compares whole mtimes: the touches come after the stamp
for i in $(seq 0 $((FILES / 100)) $((FILES - 1)) | head -100); do
	touch "$M/d$(printf %04d $((i % DIRS)))/f$(printf %07d "$i")"
done
commit
sleep 1
commit
sync
echo 3 >/proc/sys/vm/drop_caches
t0=$(ms)
walked=$("$SFS" walk-inodes meta_seq $((pos + 1)) -1 -p "$M" | grep -vc '^#')
t1=$(ms)
found=$(find "$M" -newer "$W/stamp" -type f | wc -l)
t2=$(ms)
walk_ms=$((t1 - t0))
find_ms=$((t2 - t1))
[ "$walk_ms" -gt 0 ] || walk_ms=1
echo "  walk-inodes meta_seq: $walked entries in $walk_ms ms; find -newer: $found files in $find_ms ms"
awk -v w="$walk_ms" -v f="$find_ms" 'BEGIN {
	r = f / w
	printf "walk-inodes vs find    %8.1f x   (target >= 100 x: %s; walk %d ms, target < 100 ms: %s)\n",
		r, (r >= 100 ? "PASS" : "MISS"), w, (w < 100 ? "PASS" : "MISS") }'

# --- stage against write ---------------------------------------------------------------
F=$M/big
t0=$(ms)
dd if=/dev/zero of="$F" bs=1M count="$SEQ_MB" conv=fsync status=none || exit 1
t1=$(ms)
head -c $((SEQ_MB * 1024 * 1024)) /dev/zero >"$W/archive.copy"
v=$("$SFS" stat -s data_version "$F")
commit
t2=$(ms)
"$SFS" release "$F" -V "$v" || exit 1
t3=$(ms)
commit
sync
echo 3 >/proc/sys/vm/drop_caches
cat "$W/archive.copy" >/dev/null	# the archive side warm, as fio's raw baseline would be
t4=$(ms)
"$SFS" stage "$W/archive.copy" "$F" -V "$v" || exit 1
commit
t5=$(ms)
write_ms=$((t1 - t0))
stage_ms=$((t5 - t4))
release_ms=$((t3 - t2))
awk -v mb="$SEQ_MB" -v w="$write_ms" -v s="$stage_ms" 'BEGIN {
	wb = mb * 1000 / w; sb = mb * 1000 / s
	printf "stage vs write         %8.2f x   (stage %.0f MiB/s, write %.0f MiB/s; target >= 0.8: %s)\n",
		sb / wb, sb, wb, (sb / wb >= 0.8 ? "PASS" : "MISS") }'
awk -v mb="$SEQ_MB" -v r="$release_ms" 'BEGIN {
	printf "release %d MiB        %8d ms  (target < 50 ms for 1 GiB: %s)\n", mb, r,
		(mb >= 1024 ? (r < 50 ? "PASS" : "MISS") : "n/a, file under 1 GiB") }'

# --- memory with parked readers --------------------------------------------------------
P=$M/parked
truncate -s $((PARKED * 4096)) "$P"
dd if=/dev/urandom of="$P" bs=1M count=$(((PARKED * 4096 + 1048575) / 1048576)) conv=notrunc \
	status=none
truncate -s $((PARKED * 4096)) "$P"
commit
"$SFS" release "$P" -V "$("$SFS" stat -s data_version "$P")" || exit 1
before=$(rss_kb)
"$HELPER" park "$P" "$PARKED" 600 >"$W/park.out" &
hp=$!
# wait until the number parked stops growing (or all are there)
last=-1
stable=0
for _ in $(seq 240); do
	n=$("$SFS" data-waiting -I 0 -B 0 -p "$M" | wc -l)
	[ "$n" -ge "$PARKED" ] && break
	if [ "$n" = "$last" ] && [ "$n" -gt 0 ]; then
		stable=$((stable + 1))
		[ $stable -ge 8 ] && break
	else
		stable=0
	fi
	last=$n
	sleep 0.25
done
with=$(rss_kb)
blocked=$(ps -L -o stat= -p "$hp" | grep -c D)
echo "parked readers         $blocked readers waiting, $n of them parked in the daemon"
echo "                       (the kernel sends at most max_background reads at once);"
echo "                       daemon RSS $((before / 1024)) MiB before, $((with / 1024)) MiB with them"
kill -KILL "$hp"
t0=$(ms)
wait "$hp" 2>/dev/null
t1=$(ms)
echo "                       killed, the readers were gone in $((t1 - t0)) ms"
