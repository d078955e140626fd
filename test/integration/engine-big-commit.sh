#!/usr/bin/env bash
# Big commits: a transaction holding tens of thousands of dirty items is
# written in chunks by two threads (one gathers items from the cache, one
# builds leaves), with finished leaves written while later ones are built.
# The volume must then pass the whole-volume check and show exactly the
# model's items; and a mount killed (SIGKILL) at any moment, in the
# middle of such a commit too, must come back with the last committed
# state or the one being committed, never a mixture.  The runs mount the
# same rid again after it left cleanly (its last tree finalized with a
# transaction open): it must get a new tree, not the finalized one.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_ENGINE:?run through meson test or test/run.sh}"

port=$((20000 + $$ % 20000))
t_images 1G 2G
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$port" "$META" "$DATA" >/dev/null 2>&1 || t_fail "mkfs"
state="$T_DIR/state"

# two commits of 30000 operations each (8000 keys: thousands of dirty
# items, 700 per chunk, so the chunks go through the builder thread)
"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 5 --ops 60000 --sync-every 30000 --commit-chunk 700 \
	>"$T_DIR/run.out" 2>&1 || t_fail "engine run: $(cat "$T_DIR/run.out")"
"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
	t_fail "the volume fails its check: $(cat "$T_DIR/check.out")"
"$SFS_ENGINE" verify "$META" "$DATA" "$state" --seed 5 >"$T_DIR/verify.out" 2>&1 ||
	t_fail "verify: $(cat "$T_DIR/verify.out")"
cat "$T_DIR/verify.out"

# kill a mount at random moments while it commits thousands of items at
# a time (commits are a good share of its time; engine-crash kills many
# more, smaller, commits)
for k in 1 2 3 4 5; do
	"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 5 --ops 1000000000 --sync-every 8000 \
		--commit-chunk 700 >"$T_DIR/run.out" 2>"$T_DIR/run.err" &
	pid=$!
	T_PIDS+=("$pid")
	sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
	sleep 0.2
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	[ "$rc" -eq 137 ] || t_fail "kill $k: run exited $rc: $(cat "$T_DIR/run.err")"
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "kill $k: the volume fails its check: $(cat "$T_DIR/check.out")"
	"$SFS_ENGINE" verify "$META" "$DATA" "$state" --seed 5 >"$T_DIR/verify.out" 2>&1 ||
		t_fail "kill $k: verify: $(cat "$T_DIR/verify.out")"
	echo "kill $k: $(cat "$T_DIR/verify.out")"
done
echo "engine big commit: checks and model agree after big commits and kills inside them"
