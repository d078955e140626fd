#!/usr/bin/env bash
# Crash safety of the metadata engine: a mount (quorum slot 0, its server,
# its client over TCP, item cache, transactions) runs a deterministic item
# workload that commits every 200 operations (in chunks of 64 items, so
# through the two-thread commit path), and is killed with SIGKILL
# at a random moment, over and over.  After every kill the volume as it is
# on disk passes the whole-volume check (every tree sound, every block
# accounted exactly once); every restart must show exactly the state after
# the last committed operation (or the one whose commit was in flight) and
# goes on from there.  SFS_CRASH_CYCLES sets the number of kills [100].
. "$(dirname "$0")/../funcs.sh"
: "${SFS_ENGINE:?run through meson test or test/run.sh}"

cycles=${SFS_CRASH_CYCLES:-100}
port=$((20000 + $$ % 20000))
t_images 1G 2G
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$port" "$META" "$DATA" >/dev/null 2>&1 || t_fail "mkfs"
state="$T_DIR/state"

last=0
for c in $(seq "$cycles"); do
	"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 7 --ops 1000000000 --sync-every 200 --commit-chunk 64 \
		>"$T_DIR/run.out" 2>"$T_DIR/run.err" &
	pid=$!
	T_PIDS+=("$pid")
	# 0.3 to 1.5 s: long enough to mount, recover and commit a few times
	sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
	sleep 0.3
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	# 137: killed; anything else means run stopped on its own: an error
	[ "$rc" -eq 137 ] || t_fail "cycle $c: run exited $rc: $(cat "$T_DIR/run.err")"
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "cycle $c: the crashed volume fails its check: $(cat "$T_DIR/check.out")"
	now=$(sed -n 's/^committed //p' "$state" 2>/dev/null)
	echo "cycle $c: committed ${now:-0} operations"
	[ "${now:-0}" -ge "$last" ] || t_fail "cycle $c: committed count went back from $last to $now"
	last=${now:-0}
done

"$SFS_ENGINE" verify "$META" "$DATA" "$state" --seed 7 >"$T_DIR/verify.out" 2>&1 ||
	t_fail "final verify: $(cat "$T_DIR/verify.out")"
cat "$T_DIR/verify.out"
[ "$last" -gt 0 ] || t_fail "no operation was ever committed"
echo "engine crash: $cycles kills, $last operations committed, volume consistent"
