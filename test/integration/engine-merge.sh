#!/usr/bin/env bash
# Log merging keeps the log trees a read visits bounded while fs_root
# accumulates the items, across many mounts and restarts.
#
# Phase 1: SFS_MERGE_RUNS (20) runs of the metadata engine, each a mount
# (quorum slot 0, its server, client, item cache, transactions and merge
# worker) with a new random rid, writing the next slice of one
# deterministic workload with a small finalize threshold and unmounting
# cleanly.  Every run first checks that every key reads as the model says
# (through fs_root and the log trees).  After every run the whole-volume
# check passes, logs_root holds at most MAX_TREES trees, and over the runs
# merges complete and fs_root fills.
# Phase 2: mounts of one rid killed with SIGKILL at random moments while
# they write and merge; the volume passes its check after every kill and
# a clean verify follows.  Phase 3: one more clean run with a new rid
# merges what the kills left.  Then scoutfs print reads the volume without
# a complaint and its live items are the model's.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_ENGINE:?run through meson test or test/run.sh}"

runs=${SFS_MERGE_RUNS:-20}
kills=${SFS_MERGE_KILLS:-6}
slice=1500
max_trees=3
port=$((20000 + $$ % 20000))
t_images 1G 2G
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$port" "$META" "$DATA" >/dev/null 2>&1 || t_fail "mkfs"
state="$T_DIR/state"
merge_opts=(--finalize-items 1000 --merge-poll-ms 50)

new_rid() {
	printf '0x%04x%04x%04x%04x' $((RANDOM | 1)) $RANDOM $RANDOM $((RANDOM | 1))
}

# check the volume; sets trees and fs_items; fails past the bound
check() {
	local what=$1 line
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "$what: the volume fails its check: $(cat "$T_DIR/check.out")"
	line=$(grep '^log trees ' "$T_DIR/check.out") || t_fail "$what: no tree counts"
	trees=$(echo "$line" | sed 's/^log trees \([0-9]*\),.*/\1/')
	fs_items=$(echo "$line" | sed 's/.*fs_root items \([0-9]*\),.*/\1/')
	[ "$trees" -le "$max_trees" ] || t_fail "$what: $trees log trees, more than $max_trees"
	[ "$trees" -le "$most_trees" ] || most_trees=$trees
}

completes=0 first_items= most_trees=0
for i in $(seq "$runs"); do
	"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 11 --ops $((i * slice)) \
		--sync-every 150 --rid "$(new_rid)" "${merge_opts[@]}" >"$T_DIR/run.out" 2>&1 ||
		t_fail "run $i: $(cat "$T_DIR/run.out")"
	c=$(sed -n 's/^merge counters: .* complete \([0-9]*\) .*/\1/p' "$T_DIR/run.out")
	completes=$((completes + ${c:-0}))
	check "run $i"
	first_items=${first_items:-$fs_items}
	echo "run $i: $trees log trees, $fs_items fs_root items, $completes merges so far"
done
[ "$completes" -ge "$runs" ] || t_fail "only $completes merges completed in $runs runs"
[ "$fs_items" -gt "$first_items" ] && [ "$fs_items" -gt 3000 ] ||
	t_fail "fs_root did not fill: $first_items items after the first run, $fs_items at the end"

# phase 2: kills in the middle of writes, finalizations and merges
rid=0xc0de
for k in $(seq "$kills"); do
	"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 11 --ops 1000000000 --sync-every 100 \
		--rid "$rid" --finalize-items 400 --merge-poll-ms 20 \
		>"$T_DIR/run.out" 2>"$T_DIR/run.err" &
	pid=$!
	T_PIDS+=("$pid")
	sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
	sleep 0.3
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	[ "$rc" -eq 137 ] || t_fail "kill $k: run exited $rc: $(cat "$T_DIR/run.err")"
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "kill $k: the crashed volume fails its check: $(cat "$T_DIR/check.out")"
	echo "kill $k: committed $(sed -n 's/^committed //p' "$state") operations"
done
"$SFS_ENGINE" verify "$META" "$DATA" "$state" --seed 11 --rid "$rid" "${merge_opts[@]}" \
	>"$T_DIR/verify.out" 2>&1 || t_fail "verify after the kills: $(cat "$T_DIR/verify.out")"

# phase 3: a clean mount with a new rid merges what is left
committed=$(sed -n 's/^committed //p' "$state")
"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 11 --ops $((committed + slice)) \
	--sync-every 150 --rid "$(new_rid)" "${merge_opts[@]}" >"$T_DIR/run.out" 2>&1 ||
	t_fail "last run: $(cat "$T_DIR/run.out")"
check "last run"
"$SFS_ENGINE" verify "$META" "$DATA" "$state" --seed 11 --rid "$(new_rid)" "${merge_opts[@]}" \
	>"$T_DIR/verify.out" 2>&1 || t_fail "final verify: $(cat "$T_DIR/verify.out")"
check "final verify"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -5 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -5 "$T_DIR/print.err")"
t_live_fs_keys "$T_DIR/print.out" | grep '^16\.[0-9]*\.8\.' | sort >"$T_DIR/printed"
"$SFS_ENGINE" keys "$META" "$DATA" "$state" --seed 11 | sort >"$T_DIR/model"
diff -q "$T_DIR/model" "$T_DIR/printed" >/dev/null ||
	t_fail "print lists $(wc -l <"$T_DIR/printed") live items, the model $(wc -l <"$T_DIR/model")"
echo "engine merge: $runs runs and $kills kills, $completes merges in the clean runs," \
	"at most $most_trees log trees (bound $max_trees), $fs_items fs_root items, $(wc -l <"$T_DIR/model") live items"
