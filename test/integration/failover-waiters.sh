#!/usr/bin/env bash
# A lock waiter whose server dies is woken and its operation completes
# against the new server; a statfs issued during the failover returns
# normally.  3 quorum members and a plain client B:
#  - B writes d/f and fsyncs it, and keeps its lock; B's scoutfsd is
#    stopped (SIGSTOP), so it answers no invalidation;
#  - on the two members that do not lead, C reads d/f and A appends to
#    it: both wait for B's lock (they are still waiting a second later);
#  - the leader is SIGKILLed; at once, statfs (stat -f) on A and C waits
#    for the new server and returns what it returned before the kill;
#  - the new server recovers A's and C's locks; B does not greet it
#    within recovery_window_ms (4000), so it is fenced for
#    client_recovery: scoutfs-fence-local SIGKILLs it (stopped or not)
#    and the server reclaims it, which ends the lock recovery (no waiter
#    completes before that);
#  - the waiters' requests, resent to the new server, are granted: C's
#    read returns what B wrote (or that and A's line), A's append
#    succeeds, and both mounts then read B's line and A's.
. "$(dirname "$0")/../funcs.sh"

OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=4000"
t_cluster 4 "$OPTS"
t_watchdog 300
t_fenced

read -r srv term _ < <(t_quorum_server "$META" 3)
[ "$srv" -ge 0 ] || t_fail "no leader"
A=$(((srv + 1) % 3))
C=$(((srv + 2) % 3))
B=3
MA=${T_CMNT[A]} MB=${T_CMNT[B]} MC=${T_CMNT[C]}
brid=$(cat "$T_DIR"/run.mnt$B/*/rid) || t_fail "no rid of mount $B"

mkdir "$MA/d" || t_fail "mkdir d"
t_fsync "$MA/d" "$MA"
echo "from B" >"$MB/d/f" || t_fail "B: write d/f"
t_fsync "$MB/d/f" "$MB/d" "$MB"
for m in "$MA" "$MC"; do
	stat -f -c '%b %S' "$m" >"$T_DIR/statfs.$(basename "$m")" || t_fail "stat -f $m"
done

kill -STOP "${T_CPID[B]}" || t_fail "SIGSTOP B's scoutfsd"
# the waiters, each recording its exit status
(
	timeout 120 cat "$MC/d/f" >"$T_DIR/cat.out" 2>"$T_DIR/cat.err"
	echo $? >"$T_DIR/cat.rc"
) &
T_PIDS+=("$!")
catp=$!
(
	timeout 120 sh -c "echo 'from A' >>'$MA/d/f'" 2>"$T_DIR/append.err"
	echo $? >"$T_DIR/append.rc"
) &
T_PIDS+=("$!")
appp=$!
sleep 1
[ ! -e "$T_DIR/cat.rc" ] || t_fail "C read d/f while B holds its lock: rc $(cat "$T_DIR/cat.rc"), '$(cat "$T_DIR/cat.out")'"
[ ! -e "$T_DIR/append.rc" ] || t_fail "A appended to d/f while B holds its lock: rc $(cat "$T_DIR/append.rc")"

t_kill_mount "${T_CMNT[$srv]}"
SECONDS=0
# statfs during the failover: waits for the new server, then answers as before
for m in "$MA" "$MC"; do
	(
		timeout 120 stat -f -c '%b %f %a %S' "$m" >"$T_DIR/statfs2.$(basename "$m")" 2>&1
		echo $? >"$T_DIR/statfs2.$(basename "$m").rc"
	) &
	T_PIDS+=("$!")
done
sp=("${T_PIDS[-1]}" "${T_PIDS[-2]}")
wait "${sp[@]}"
t_forget_pid "${sp[0]}"
t_forget_pid "${sp[1]}"
for m in "$MA" "$MC"; do
	n=$(basename "$m")
	[ "$(cat "$T_DIR/statfs2.$n.rc")" = 0 ] ||
		t_fail "stat -f $m during the failover: rc $(cat "$T_DIR/statfs2.$n.rc"): $(cat "$T_DIR/statfs2.$n")"
	read -r blocks bsize <"$T_DIR/statfs.$n"
	read -r blocks2 free avail bsize2 <"$T_DIR/statfs2.$n"
	[ "$blocks2" = "$blocks" ] && [ "$bsize2" = "$bsize" ] && [ "$free" -gt 0 ] &&
		[ "$free" -le "$blocks2" ] && [ "$avail" -le "$free" ] ||
		t_fail "stat -f $m during the failover: $(cat "$T_DIR/statfs2.$n"), before: $(cat "$T_DIR/statfs.$n")"
done
statfs_s=$SECONDS

# the waiters complete once B is fenced and reclaimed, not before: the
# server's log says so before it grants them anything
read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] && [ "$nterm" -gt "$term" ] ||
	t_fail "no new leader (slot $nsrv term $nterm, was slot $srv term $term)"
log=$T_DIR/scoutfsd.mnt$nsrv.log
reclaimed="server: mount rid $brid is dead (fenced, or this slot's earlier leader): reclaimed"
for ((i = 0; i < 2400; i++)); do
	[ -e "$T_DIR/cat.rc" ] || [ -e "$T_DIR/append.rc" ] || { sleep 0.05; continue; }
	grep -q "$reclaimed" "$log" ||
		t_fail "a waiter completed before B was reclaimed: read rc $(cat "$T_DIR/cat.rc" 2>/dev/null), append rc $(cat "$T_DIR/append.rc" 2>/dev/null)"
	break
done
wait "$catp" "$appp"
t_forget_pid "$catp"
t_forget_pid "$appp"
took=$SECONDS
[ "$(cat "$T_DIR/cat.rc")" = 0 ] || t_fail "C's read failed: rc $(cat "$T_DIR/cat.rc"): $(cat "$T_DIR/cat.err")"
[ "$(cat "$T_DIR/append.rc")" = 0 ] || t_fail "A's append failed: rc $(cat "$T_DIR/append.rc"): $(cat "$T_DIR/append.err")"
got=$(cat "$T_DIR/cat.out")
[ "$got" = "from B" ] || [ "$got" = "$(printf 'from B\nfrom A')" ] || t_fail "C read '$got'"
for m in "$MA" "$MC"; do
	[ "$(cat "$m/d/f")" = "$(printf 'from B\nfrom A')" ] || t_fail "$m reads d/f as '$(cat "$m/d/f")'"
done

# B was fenced for not recovering in the window (recovery_window_ms, or
# more: the server may raise it with the heartbeat timeout), killed by
# the fence command, reclaimed
win=$(sed -n 's/.*server: waiting up to \([0-9]*\) ms for [0-9]* mounts to recover their locks.*/\1/p' "$log")
[ -n "$win" ] && [ "$win" -ge 4000 ] || t_fail "the recovery window: '$win': $(grep 'waiting up to' "$log")"
grep -q "server: mount rid $brid did not recover its locks within $win ms" "$log" ||
	t_fail "B (rid $brid) was not taken as not recovered: $(grep 'did not recover' "$log")"
grep -q "fence: fencing rid $brid at 127.0.0.1: client_recovery" "$log" ||
	t_fail "B was not fenced for client_recovery: $(grep 'fence:' "$log")"
grep -q "fence: rid $brid (client_recovery) fenced after" "$log" || t_fail "B's fence request was not answered"
grep -q "$reclaimed" "$log" || t_fail "B was not reclaimed"
grep -q "fencing rid $brid at 127.0.0.1 for client_recovery" "$T_DIR/fenced.log" ||
	t_fail "scoutfs-fenced did not run for B: $(cat "$T_DIR/fenced.log")"
grep -q "killing scoutfsd pid ${T_CPID[B]}, rid $brid" "$T_DIR/fenced.log" ||
	t_fail "scoutfs-fence-local did not kill B: $(cat "$T_DIR/fenced.log")"
kill -0 "${T_CPID[B]}" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/${T_CPID[B]}/stat")" != Z ] &&
	t_fail "B's scoutfsd is still alive"
wait "${T_CPID[B]}" 2>/dev/null
t_forget_pid "${T_CPID[B]}"
unset "T_MOUNT_PID[$MB]"
# the leader was fenced too, and A and C recovered their locks
grep -q "fence: rid [0-9a-f]* (quorum_block_leader) fenced after" "$log" || t_fail "the old leader was not fenced"
n=$(grep -c "server: rid [0-9a-f]* recovered [0-9]* locks" "$log")
[ "$n" -eq 2 ] || t_fail "$n mounts recovered their locks, want 2"

for i in "$A" "$C"; do t_kill_mount "${T_CMNT[i]}"; done
echo "statfs answered ${statfs_s} s after the leader was killed; the waiters completed after ${took} s"
