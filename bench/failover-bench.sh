#!/usr/bin/env bash
#
# failover-bench.sh: how long a cluster is without a server when its
# leader dies (issue 7's benchmark).  Prints figures and a ratio; it is
# not a test and passes or fails nothing on speed.
#
# Runs test/integration/failover-kill-loop.sh with ROUNDS (10) kills: three
# quorum mounts of one volume on this host, quorum_heartbeat_timeout_ms at
# its minimum (2000), scoutfs-fenced with scoutfs-fence-local, and a
# workload on every mount (write + fsync, rename, xattr, fsync of the
# directory, over and over).  Each round SIGKILLs the leader's scoutfsd
# and times from the kill to the first operation a survivor completes
# after it (counted from 0.5 s after the kill, so that an operation the
# old server had already committed does not count).  That includes the
# heartbeat timeout, the election, fencing the old leader, the new
# server's start, the survivors' reconnect and lock recovery, and the
# operation's own commit.
#
#   failover time     median and p90 over the rounds.
#   baseline          the heartbeat timeout (2 s), the part no server can
#                     shorten: the ratio failover / heartbeat timeout says
#                     how much the rest adds.
#   target            median < 4 s.
#
# Usage (as root):  bench/failover-bench.sh
# Overrides: ROUNDS (10), BUILD (a build directory with scoutfsd, scoutfs
# and scoutfs-mkfs; default: build-bench, configured as release, as
# bench/run.sh does).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=build.sh
. "$top/bench/build.sh"
ROUNDS=${ROUNDS:-10}
HB_MS=2000

case "${1:-}" in -h | --help)
	sed -n '3,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d'
	exit 0
esac
[ "$(id -u)" = 0 ] || { echo "failover-bench: run as root (mounts)" >&2; exit 2; }
[ -e /dev/fuse ] || { echo "failover-bench: no /dev/fuse" >&2; exit 2; }

if [ -z "${BUILD:-}" ]; then
	cd "$top" || exit 1
	bench_build "$top" scoutfsd scoutfs scoutfs-mkfs
	BUILD=$top/build-bench
fi

rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
echo "failover-bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), tree $rev"
echo "  3 quorum mounts on 127.0.0.1, quorum_heartbeat_timeout_ms=$HB_MS, ROUNDS=$ROUNDS"

out=$(SCOUTFS=$BUILD/scoutfs SCOUTFS_MKFS=$BUILD/scoutfs-mkfs SCOUTFSD=$BUILD/scoutfsd \
	SFS_SOURCE_DIR=$top SFS_BUILD_DIR=$BUILD ROUNDS=$ROUNDS \
	bash "$top/test/integration/failover-kill-loop.sh" 2>&1)
rc=$?
line=$(grep "seconds from kill to a survivor's next operation:" <<<"$out" | tail -1)
if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
	echo "failover-bench: the kill loop failed (exit $rc):"
	tail -20 <<<"$out"
	exit 1
fi
echo "  ${line%%;*}"
secs=${line##*operation: }
tr ' ' '\n' <<<"$secs" | grep . | sort -n | awk -v hb="$HB_MS" '
	{ v[NR] = $1; if ($1 <= hb / 1000 + 5) within++ }
	END {
		med = v[int((NR + 1) / 2)]
		p90 = v[int(NR * 0.9 + 0.5) < 1 ? 1 : int(NR * 0.9 + 0.5)]
		printf "failover time (kill to a survivor'\''s next operation)  median %.2f s  p90 %.2f s  min %.2f s  max %.2f s  (n %d)\n",
			med, p90, v[1], v[NR], NR
		printf "  ratio to the heartbeat timeout (%.1f s): %.2f x\n", hb / 1000, med / (hb / 1000)
		printf "  target median < 4 s: %s\n", med < 4 ? "met" : "not met"
		printf "  within the heartbeat timeout + 5 s (issue 7): %d of %d kills\n", within, NR
	}'
exit 0
