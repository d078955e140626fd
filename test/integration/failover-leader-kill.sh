#!/usr/bin/env bash
# The leader dies (SIGKILL) under 3 quorum mounts: another slot is
# elected, its server starts, the survivors find it through the quorum
# blocks, greet it and tell it the locks they hold (lock recovery), and
# operations that wait for a lock go through once the dead leader's mount
# is reclaimed (the recovery window, 30 s: no fencing yet).  Everything
# fsynced before the kill is there, changes made after it are seen by
# the other survivor, the killed slot mounts again, and everything
# unmounts cleanly.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3 "quorum_heartbeat_timeout_ms=2000"
t_watchdog 400

for i in 0 1 2; do
	echo "before $i" >"${T_CMNT[$i]}/f$i" || t_fail "write f$i"
	mkdir "${T_CMNT[$i]}/d$i" || t_fail "mkdir d$i"
	t_fsync "${T_CMNT[$i]}/f$i"
	t_fsync "${T_CMNT[$i]}"
done
read -r srv term _ < <(t_quorum_server "$META" 3)
[ "$srv" -ge 0 ] || t_fail "no server before the kill"
a=$(((srv + 1) % 3))
b=$(((srv + 2) % 3))

t_kill_mount "${T_CMNT[$srv]}"
start=$(date +%s)

# a survivor's change waits for the new server and its recovery, then lands
timeout 120 sh -c "echo after > '${T_CMNT[$a]}/g' && mv '${T_CMNT[$a]}/d$a' '${T_CMNT[$a]}/e$a'" ||
	t_fail "a survivor's write and rename did not complete after the leader was killed"
took=$(($(date +%s) - start))
t_fsync "${T_CMNT[$a]}/g"

read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] || t_fail "no new leader: slot $nsrv (was $srv)"
[ "$nterm" -gt "$term" ] || t_fail "the new leader's term $nterm is not above $term"

# the other survivor sees it all, and what was fsynced before the kill
[ "$(cat "${T_CMNT[$b]}/g")" = after ] || t_fail "the other survivor does not see the new file"
[ -d "${T_CMNT[$b]}/e$a" ] && [ ! -e "${T_CMNT[$b]}/d$a" ] || t_fail "the other survivor does not see the rename"
for i in 0 1 2; do
	[ "$(cat "${T_CMNT[$b]}/f$i")" = "before $i" ] || t_fail "f$i, fsynced before the kill, reads wrong"
done

# the log lines of the failover, in order, on the new leader
log="$T_DIR/scoutfsd.mnt$nsrv.log"
grep -q "quorum: slot $nsrv elected leader of term $nterm" "$log" || t_fail "no election line: $(tail -5 "$log")"
grep -q "server: waiting up to 30000 ms for 3 mounts to recover their locks" "$log" ||
	t_fail "no recovery line: $(tail -5 "$log")"
for i in "$a" "$b"; do
	grep -q "client: greeted the server of term $nterm" "$T_DIR/scoutfsd.mnt$i.log" ||
		t_fail "mount $i did not greet the new server"
done
n=$(grep -c "server: rid [0-9a-f]* recovered [0-9]* locks" "$log")
[ "$n" -eq 2 ] || t_fail "$n mounts recovered their locks, want 2"
grep -q "did not reconnect within 30000 ms: reclaimed" "$log" || t_fail "the dead leader was not reclaimed"

# the killed slot mounts again and sees everything
t_mount_slot "${T_CMNT[$srv]}" "$srv" "quorum_heartbeat_timeout_ms=2000"
T_CPID[srv]=${T_MOUNT_PID[${T_CMNT[$srv]}]}
t_mount_wait "${T_CMNT[$srv]}" 60
[ "$(cat "${T_CMNT[$srv]}/g")" = after ] || t_fail "the remounted slot does not see the new file"

t_cluster_umount
echo "leader killed: slot $nsrv leads term $nterm; a survivor's write went through after ${took} s"
