#!/usr/bin/env bash
# A log tree whose mount is gone but that was never finalized (an
# "orphan": its rid has no mounted_clients item) is found, finalized with
# its allocators returned, and merged (reference test orphan-log-trees).
# 3 quorum members; the leader L writes files and fsyncs them, then is
# SIGKILLed with the trigger reclaim_skip_finalize armed on the two
# others, so the new server's reclaim of L (once fenced) deletes L's
# mounted_clients item but leaves its log tree as it was: items, its
# allocators, an open transaction.  Such a tree, left alone, keeps every
# merge from starting (no unfinalized tree may hold items when one
# starts) and its allocators from ever coming back.
#  - the volume shows the orphan: L's log tree unfinalized, no
#    mounted_clients item of L;
#  - the survivors read what L wrote;
#  - a merge is then wanted (L's slot mounts again and leaves cleanly,
#    finalizing its new tree): the server logs and counts the orphan's
#    reclaim, the merge starts and completes;
#  - what L wrote reads right from both survivors, and in the end no
#    log tree of L's rid is left.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_TRIGGER:?run through meson test}"

OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=4000"
t_cluster 3 "$OPTS"
t_watchdog 300
t_fenced

read -r srv term _ < <(t_quorum_server "$META" 3)
[ "$srv" -ge 0 ] || t_fail "no leader"
A=$(((srv + 1) % 3))
C=$(((srv + 2) % 3))
ML=${T_CMNT[srv]} MA=${T_CMNT[A]} MC=${T_CMNT[C]}
lrid=$(cat "$T_DIR"/run.mnt$srv/*/rid) || t_fail "no rid of mount $srv"

# counter I NAME: mount I's counter, from its run directory's counters
# file (rewritten every second)
counter() {
	cat "$T_DIR/run.mnt$1"/*/counters 2>/dev/null | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
# wait_log FILE PATTERN WHAT: until FILE has a line matching PATTERN (60 s)
wait_log() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q -- "$2" "$1" && return 0
		sleep 0.1
	done
	t_fail "$3: no '$2' in $(basename "$1"): $(tail -5 "$1")"
}
# log_trees PRINT: "RID NR FLAGS" of every log_trees item of a print
log_trees() {
	awk '$1 == "rid:" { rid = $2 } $1 == "nr:" { nr = $2 } $1 == "flags:" && rid != "" { print rid, nr, $2; rid = "" }' "$1"
}
check_files() {
	local m=$1 i
	for i in $(seq 20); do
		[ "$(cat "$m/o/f$i")" = "orphan data $i" ] || t_fail "$2: $m/o/f$i reads '$(cat "$m/o/f$i")'"
		[ "$(getfattr --only-values -n user.i "$m/o/f$i" 2>/dev/null)" = "$i" ] ||
			t_fail "$2: the xattr of $m/o/f$i"
	done
}

mkdir "$ML/o" || t_fail "mkdir o"
for i in $(seq 20); do
	echo "orphan data $i" >"$ML/o/f$i" || t_fail "write f$i"
	setfattr -n user.i -v "$i" "$ML/o/f$i" || t_fail "setfattr f$i"
done
t_fsync "$ML"/o/f* "$ML/o" "$ML"
for i in "$A" "$C"; do
	echo "survivor $i" >"${T_CMNT[i]}/s$i" && t_fsync "${T_CMNT[i]}/s$i" "${T_CMNT[i]}" ||
		t_fail "write on mount $i"
	SCOUTFS_RUN_DIR="$T_DIR/run.mnt$i" "$SFS_TRIGGER" "${T_CMNT[i]}" reclaim_skip_finalize ||
		t_fail "arming reclaim_skip_finalize on mount $i"
done

t_kill_mount "$ML"
for ((i = 0; i < 600; i++)); do
	read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
	[ "$nsrv" -ge 0 ] && [ "$nterm" -gt "$term" ] && break
	sleep 0.1
done
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] || t_fail "no new leader (slot $nsrv, was $srv)"
log=$T_DIR/scoutfsd.mnt$nsrv.log
wait_log "$log" "server: mount rid $lrid is dead (fenced, or this slot's earlier leader): reclaimed" "L's reclaim"
grep -q "server: the log tree of rid $lrid is left as it is (trigger reclaim_skip_finalize)" "$log" ||
	t_fail "the trigger did not keep L's log tree: $(grep 'server:' "$log" | tail -5)"

# the survivors go on (their locks recovered), and read what L wrote
check_files "$MA" "after the failover"
check_files "$MC" "after the failover"

# the volume (its last commit) shows the orphan
for try in 1 2 3; do
	"$SCOUTFS" print "$META" >"$T_DIR/print1" 2>&1 && break
	sleep 0.5
done
log_trees "$T_DIR/print1" >"$T_DIR/lt1"
grep -q "^$lrid [0-9]* 0\$" "$T_DIR/lt1" ||
	t_fail "no unfinalized log tree of L (rid $lrid) in the volume: $(cat "$T_DIR/lt1")"
grep -q "^    rid $lrid ipv" "$T_DIR/print1" && t_fail "L's mounted_clients item is still there"
grep -q "^    rid $(cat "$T_DIR"/run.mnt$A/*/rid) ipv" "$T_DIR/print1" ||
	t_fail "no mounted_clients item of a survivor in the print: $(grep '^    rid ' "$T_DIR/print1")"
[ "$(counter "$nsrv" server_orphan_log_trees)" = 0 ] || t_fail "an orphan was reclaimed before a merge was wanted"
[ "$(counter "$nsrv" log_merge_complete)" = 0 ] || t_fail "a merge completed already"

# a merge is wanted: L's slot mounts again, writes, and leaves cleanly
t_mount_slot "$ML" "$srv" "$OPTS"
t_mount_wait "$ML" 60
t_fuse_conn "$ML"
lrid2=$(cat "$T_DIR"/run.mnt$srv/*/rid | grep -v "^$lrid\$") || t_fail "no new rid of slot $srv"
echo again >"$ML/again" && t_fsync "$ML/again" "$ML" || t_fail "write on the mount again"
check_files "$ML" "the slot mounted again"
pid=${T_MOUNT_PID[$ML]}
t_umount "$ML"
t_forget_pid "$pid"
wait_log "$log" "server: reclaiming the orphan log tree $lrid\.[0-9]* (with items, a transaction open): its mount is gone" \
	"the orphan's reclaim"
# the survivors commit; their trees are finalized for the merge
for i in "$A" "$C"; do
	echo "more $i" >"${T_CMNT[i]}/t$i" && t_fsync "${T_CMNT[i]}/t$i" "${T_CMNT[i]}" ||
		t_fail "write on mount $i"
done
for ((i = 0; i < 600; i++)); do
	[ "$(counter "$nsrv" log_merge_complete)" -ge 1 ] && break
	sleep 0.1
done
[ "$(counter "$nsrv" log_merge_complete)" -ge 1 ] ||
	t_fail "no merge completed in 60 s: log_merge_start $(counter "$nsrv" log_merge_start), log_merge_wait_active $(counter "$nsrv" log_merge_wait_active)"
[ "$(counter "$nsrv" server_orphan_log_trees)" = 1 ] ||
	t_fail "server_orphan_log_trees is $(counter "$nsrv" server_orphan_log_trees), want 1"
check_files "$MA" "after the merge"
check_files "$MC" "after the merge"
[ "$(cat "$MA/again")" = again ] || t_fail "the file the slot wrote again"

for i in "$A" "$C"; do t_kill_mount "${T_CMNT[i]}"; done
"$SCOUTFS" print "$META" >"$T_DIR/print2" 2>&1 || t_fail "scoutfs print: $(tail -3 "$T_DIR/print2")"
log_trees "$T_DIR/print2" >"$T_DIR/lt2"
grep -q "^$lrid " "$T_DIR/lt2" && t_fail "a log tree of L's rid is left: $(grep "^$lrid " "$T_DIR/lt2")"
grep -q "^$lrid2 " "$T_DIR/lt2" && t_fail "a log tree of the slot's second rid is left: $(grep "^$lrid2 " "$T_DIR/lt2")"
echo "L's orphan log tree (rid $lrid) was reclaimed and merged; log trees left: $(wc -l <"$T_DIR/lt2")"
