#!/usr/bin/env bash
#
# cluster-bench.sh: what the cluster locks cost between mounts of one volume
# (issue 6's benchmark).  Prints figures and ratios; it is not a test and
# passes or fails nothing on speed (the "target" notes are information).
#
# Three scoutfsd daemons on this host share one fresh volume on two sparse
# image files: A is quorum slot 0 and runs the server, B and C are plain
# clients, all over 127.0.0.1.  Every baseline below is measured in the
# same invocation, on the same volume and machine, right before or after
# the figure it is compared with.
#
#   lock transfer        One file open on A and on B; one-byte pwrite()s
#                        alternate between them (bench/cluster-helper.c),
#                        each timed: every write needs the WRITE lock the
#                        other mount holds, so each waits for the other
#                        mount's lock to come down.  ROUNDS writes; also
#                        shown per direction (through A: the client B's
#                        lock comes down; through B: the server's own),
#                        and with the daemons' counters per write (lock
#                        requests, invalidations, commits: a write may
#                        take more than one lock transfer, e.g. for the
#                        kernel's security.capability GETXATTR first).
#                        Each variant also prints the lock's own round
#                        trip as the daemons time it (request sent to
#                        grant received, counter lock_grant_wait_us): the
#                        transfer without the re-read and the write.
#     (1) not written    each write followed by an fsync on its own
#                        mount, untimed: the lock the other side takes
#                        was not written in the open transaction, so its
#                        revoke commits nothing.  Target: median < 1 ms.
#     (2) written        no fsync: the revoke must commit the holder's
#                        transaction first.  Target: median < commit + 1 ms.
#   local write          baseline: the same one-byte pwrite()s on A alone
#                        (the lock stays): what a write costs without a
#                        transfer.  Each transfer is also shown as this
#                        plus the difference.
#   commit               baseline for (2): on A alone, a one-byte pwrite()
#                        and then a timed fsync(): the median commit.
#   creates              FILES empty files (open O_CREAT|O_EXCL + close) per
#                        mount, each mount in a directory of its own that it
#                        made itself, on 1, 2 and 3 mounts at once.  The rate
#                        is all files over the wall time from the first
#                        start to the last end; the ratio is to the rate of
#                        one mount (A) alone, measured first and again last
#                        (their mean is the baseline).  Target: >= 1.0.
#
# Usage (as root):  bench/cluster-bench.sh
#   ROUNDS=100 FILES=5000 bench/cluster-bench.sh     # quick
# Overrides: ROUNDS (400), FILES (20000), BENCH_DIR (default /var/tmp),
# BUILD (a build directory with scoutfsd, scoutfs, scoutfs-mkfs and
# bench/cluster-helper; default: build-bench, configured as release, as
# bench/run.sh does), KEEP=1 keeps the work directory.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=build.sh
. "$top/bench/build.sh"
ROUNDS=${ROUNDS:-400}
FILES=${FILES:-20000}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
KEEP=${KEEP:-0}

case "${1:-}" in -h | --help)
	sed -n '3,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d'
	exit 0
esac
[ "$(id -u)" = 0 ] || { echo "cluster-bench: run as root (mounts)" >&2; exit 2; }
[ -e /dev/fuse ] || { echo "cluster-bench: no /dev/fuse" >&2; exit 2; }

if [ -z "${BUILD:-}" ]; then
	cd "$top" || exit 1
	bench_build "$top" scoutfsd scoutfs scoutfs-mkfs bench/cluster-helper
	BUILD=$top/build-bench
fi
SFSD=$BUILD/scoutfsd
SFS=$BUILD/scoutfs
MKFS=$BUILD/scoutfs-mkfs
HELPER=$BUILD/bench/cluster-helper
for f in "$SFSD" "$SFS" "$MKFS" "$HELPER"; do
	[ -x "$f" ] || { echo "cluster-bench: no $f" >&2; exit 2; }
done

W=$(mktemp -d "$BENCH_DIR/cluster-bench.XXXXXX")
META=$W/meta.img
DATA=$W/data.img
NAMES=(a b c)
declare -A PID=()	# mount name -> its scoutfsd's pid (only those we started)

# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local n p
	set +e
	for n in c b a; do
		# a forced unmount aborts a stuck FUSE connection, releasing its waiters
		if findmnt -n "$W/$n" >/dev/null 2>&1; then
			umount "$W/$n" || umount -f "$W/$n" || umount -l "$W/$n"
		fi
	done
	for n in c b a; do
		p=${PID[$n]:-}
		[ -n "$p" ] || continue
		# a daemon whose mount went gets a moment to finish, then is stopped
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$KEEP" = 1 ]; then echo "cluster-bench: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a port free for UDP and TCP on 127.0.0.1, below the ephemeral range
free_port() {
	python3 - "$((20000 + $$ % 12000))" <<'PY'
import socket, sys
p = int(sys.argv[1])
while True:
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", p))
            s.close()
        print(p)
        break
    except OSError:
        p = 20000 + (p - 20000 + 1) % 12000
PY
}

# mount NAME [OPTIONS]: scoutfsd -f at $W/NAME with its own run directory
mount_one() {
	local n=$1 opts=${2:-} mnt=$W/$1
	mkdir -p "$mnt" "$W/run.$n"
	"$SFSD" -f -o "metadev_path=$META,run_dir=$W/run.$n${opts:+,$opts}" "$DATA" "$mnt" \
		>>"$W/scoutfsd.$n.log" 2>&1 &
	PID[$n]=$!
}
mount_wait() {
	local n=$1
	for _ in $(seq 600); do
		findmnt -n "$W/$n" >/dev/null 2>&1 && return 0
		if ! kill -0 "${PID[$n]}" 2>/dev/null; then
			echo "cluster-bench: scoutfsd $n exited: $(tail -5 "$W/scoutfsd.$n.log")" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "cluster-bench: $n did not mount in 30 s: $(tail -5 "$W/scoutfsd.$n.log")" >&2
	exit 1
}
# fsync of a directory: commits that mount's transaction
commit() { python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$1"; }
# field NAME LINE: the value after NAME in a helper's summary line
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
# the counters that say what a transfer did, of mounts a and b, as "name value" lines
WATCH='^(lock_request|lock_invalidate|lock_grant|lock_grant_wait_us|trans_commit|server_commit|fuse_kernel_invalidate|item_invalidate|item_read|item_roots_lock|item_roots_server) '
counters() {
	local n
	for n in a b; do
		SCOUTFS_RUN_DIR=$W/run.$n "$SFS" counters -p "$W/$n" | grep -E "$WATCH" | sed "s/^/$n./"
	done
}
# per_op BEFORE AFTER OPS: the counters that moved, per op
per_op() {
	awk -v ops="$3" 'NR == FNR { b[$1] = $2; next }
		$2 != b[$1] { printf " %s %.2f", $1, ($2 - b[$1]) / ops }' "$1" "$2"
}

truncate -s 16G "$META"
# each mount takes up to 4 GiB of free data space at a time: room for three
truncate -s 16G "$DATA"
"$MKFS" -A -Q "0,127.0.0.1,$(free_port)" "$META" "$DATA" >"$W/mkfs.out" 2>&1 ||
	{ cat "$W/mkfs.out"; exit 1; }
mount_one a quorum_slot_nr=0
mount_wait a
mount_one b
mount_one c
mount_wait b
mount_wait c

rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
echo "cluster-bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), tree $rev"
echo "  3 mounts of one volume on 127.0.0.1 (a: slot 0, the server; b, c: clients); ROUNDS=$ROUNDS FILES=$FILES"

# --- lock transfers --------------------------------------------------------------------
echo x >"$W/a/pp"
commit "$W/a"
[ "$(cat "$W/b/pp")" = x ] || { echo "cluster-bench: b does not see a's file" >&2; exit 1; }

out=$("$HELPER" local "$W/a/pp" "$ROUNDS") || exit 1
local_med=$(field median_us "$out")
printf '%-34s median %7s ms  p90 %7s ms   (%s)\n' "local write (A only, no transfer)" \
	"$(ms "$local_med")" "$(ms "$(field p90_us "$out")")" "$out"
commit "$W/a"
counters >"$W/ctr.before"
out=$("$HELPER" commit "$W/a/pp" "$ROUNDS") || exit 1
counters >"$W/ctr.after"
commit_med=$(field median_us "$out")
printf '%-34s median %7s ms  p90 %7s ms   (%s)\n' "commit (pwrite + timed fsync, A)" \
	"$(ms "$commit_med")" "$(ms "$(field p90_us "$out")")" "$out"
echo "  per commit:$(per_op "$W/ctr.before" "$W/ctr.after" "$ROUNDS")"

# pingpong TITLE fsync|nofsync: prints the figures, sets med to the median (us)
pingpong() {
	local out all d line
	counters >"$W/ctr.before"
	out=$("$HELPER" pingpong "$W/a/pp" "$W/b/pp" "$ROUNDS" "$2") || exit 1
	counters >"$W/ctr.after"
	all=$(head -1 <<<"$out")
	med=$(field median_us "$all")
	printf '%-34s median %7s ms  p90 %7s ms   (%s)\n' "$1" \
		"$(ms "$med")" "$(ms "$(field p90_us "$all")")" "$all"
	for d in A B; do
		line=$(sed -n "s/^$d: //p" <<<"$out")
		printf '  %-32s median %7s ms  p90 %7s ms\n' "writes through $d" \
			"$(ms "$(field median_us "$line")")" "$(ms "$(field p90_us "$line")")"
	done
	echo "  per transfer:$(per_op "$W/ctr.before" "$W/ctr.after" "$ROUNDS" | sed 's/ [ab]\.lock_grant_wait_us [0-9.]*//g')"
	# the lock's own round trip, timed in the daemons: request sent to grant received
	awk 'NR == FNR { b[$1] = $2; next }
		$1 ~ /\.lock_grant_wait_us$/ { us += $2 - b[$1] }
		$1 ~ /\.lock_grant$/ { n += $2 - b[$1] }
		END { if (n) printf "  lock round trip (request sent to grant received, in the daemons): mean %.2f ms over %d grants\n", us / n / 1000, n }' \
		"$W/ctr.before" "$W/ctr.after"
}
pingpong "(1) transfer, lock not written" fsync
t1_med=$med
commit "$W/a"
commit "$W/b"
pingpong "(2) transfer, lock written" nofsync
t2_med=$med
awk -v t1="$t1_med" -v t2="$t2_med" -v c="$commit_med" -v l="$local_med" 'BEGIN {
	printf "  (1) median %.2f ms = local write %.2f ms + %.2f ms; target < 1 ms: %s\n",
		t1 / 1000, l / 1000, (t1 - l) / 1000, (t1 < 1000 ? "met" : "not met")
	printf "  (2) median %.2f ms = commit %.2f ms + %.2f ms (%.2f x commit); target < commit + 1 ms = %.2f ms: %s\n",
		t2 / 1000, c / 1000, (t2 - c) / 1000, t2 / c, (c + 1000) / 1000,
		(t2 < c + 1000 ? "met" : "not met") }'

# --- creates on 1, 2 and 3 mounts -----------------------------------------------------
# creates K TAG: the first K mounts each create FILES files at once in a
# directory of their own; prints the aggregate rate (files/s)
creates() {
	local k=$1 tag=$2 i n pids=()
	for ((i = 0; i < k; i++)); do
		n=${NAMES[$i]}
		mkdir "$W/$n/$tag.$n" || exit 1
		commit "$W/$n"
	done
	for ((i = 0; i < k; i++)); do
		n=${NAMES[$i]}
		"$HELPER" create "$W/$n/$tag.$n" "$FILES" >"$W/create.$tag.$n" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || { echo "cluster-bench: a create run failed" >&2; exit 1; }
	done
	for ((i = 0; i < k; i++)); do
		n=${NAMES[$i]}
		commit "$W/$n"
		cat "$W/create.$tag.$n"
	done | awk '{ n += $1; if (s == "" || $2 < s) s = $2; if ($3 > e) e = $3 }
		END { printf "%.0f\n", n / (e - s) }'
}
r1a=$(creates 1 one1)
r2=$(creates 2 two)
r3=$(creates 3 three)
r1b=$(creates 1 one2)
for r in "$r1a" "$r2" "$r3" "$r1b"; do
	[ -n "$r" ] || { echo "cluster-bench: the create runs failed" >&2; exit 1; }
done
awk -v a="$r1a" -v b="$r1b" -v r2="$r2" -v r3="$r3" -v f="$FILES" 'BEGIN {
	base = (a + b) / 2
	printf "creates, 1 mount                   %7.0f files/s (first %.0f, last %.0f; the baseline)\n", base, a, b
	printf "creates, 2 mounts at once          %7.0f files/s  ratio %.2f x 1 mount (target >= 1.0: %s)\n",
		r2, r2 / base, (r2 / base >= 1.0 ? "met" : "not met")
	printf "creates, 3 mounts at once          %7.0f files/s  ratio %.2f x 1 mount (target >= 1.0: %s)\n",
		r3, r3 / base, (r3 / base >= 1.0 ? "met" : "not met")
	printf "  (%d files per mount, each in a directory it made)\n", f }'
for n in a b c; do
	grep -iE 'error|warn' "$W/scoutfsd.$n.log" | head -3 | sed "s/^/  scoutfsd $n: /"
done
exit 0
