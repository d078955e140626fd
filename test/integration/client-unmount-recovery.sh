#!/usr/bin/env bash
# Plain clients unmount while a new server is being elected and is
# recovering (reference test client-unmount-recovery).  3 quorum members
# and 2 plain clients; the clients write files they do not fsync.
#  1. The leader is killed (SIGKILL) and at once both clients unmount,
#     together: their unmount commits and says farewell to whichever
#     server comes next (the new one, which recovers them first); both
#     daemons exit 0, their mounts are gone, the new server retired them
#     ("left") and fenced nobody but the dead leader, the survivors see
#     what the clients wrote and keep working, and the killed slot
#     mounts again.
#  2. As the reference does it: the clients mount again, and the leader
#     (this time unmounted cleanly) and both clients unmount together;
#     then the leader's slot mounts again.
#  3. The answer to a client's farewell is lost (trigger
#     farewell_drop_answer on the leader, as when a server stops right
#     after its commit): the client finds on the meta device that its
#     mounted_clients item is gone and finishes its unmount cleanly.
# Everything unmounts cleanly at the end.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_TRIGGER:?run through meson test}"

OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=4000"
t_cluster 5 "$OPTS"
t_watchdog 240
t_fenced

rid_of() {
	cat "$T_DIR"/run."$(basename "${T_CMNT[$1]}")"/*/rid
}

# leave_within SECS I...: unmount mounts I... together; each scoutfsd
# must exit 0 within SECS seconds (far above what it takes: a daemon
# waiting on a farewell that cannot come fails here, not at the watchdog)
leave_within() {
	local secs=$1 i n pid rc
	shift
	for i in "$@"; do
		umount "${T_CMNT[$i]}" || t_fail "umount mount $i"
	done
	for ((n = 0; n < secs * 10; n++)); do
		for i in "$@"; do
			kill -0 "${T_MOUNT_PID[${T_CMNT[$i]}]}" 2>/dev/null && break
			i=
		done
		[ -n "$i" ] || break
		sleep 0.1
	done
	for i in "$@"; do
		pid=${T_MOUNT_PID[${T_CMNT[$i]}]}
		kill -0 "$pid" 2>/dev/null &&
			t_fail "mount $i still unmounting after $secs s: $(tail -3 "$T_DIR/scoutfsd.mnt$i.log")"
		wait "$pid"
		rc=$?
		[ "$rc" -eq 0 ] || t_fail "scoutfsd of mount $i exited $rc: $(tail -5 "$T_DIR/scoutfsd.mnt$i.log")"
		unset "T_MOUNT_PID[${T_CMNT[$i]}]"
	done
}

# wait_gone I: mount I's mount point is no longer mounted
wait_gone() {
	findmnt -n "${T_CMNT[$1]}" >/dev/null 2>&1 && t_fail "mount $1 is still mounted after its daemon exited"
	return 0
}

for i in 0 1 2 3 4; do
	echo "before $i" >"${T_CMNT[$i]}/f$i" || t_fail "write f$i"
done
t_fsync "${T_CMNT[0]}/f0" "${T_CMNT[1]}/f1" "${T_CMNT[2]}/f2" "${T_CMNT[3]}/f3" "${T_CMNT[4]}/f4"
for i in 0 1 2; do t_fsync "${T_CMNT[$i]}"; done

# ---- 1. the leader dies, the clients unmount at once ------------------
read -r srv term _ < <(t_quorum_server "$META" 3)
[ "$srv" -ge 0 ] || t_fail "no server before the kill"
a=$(((srv + 1) % 3))
b=$(((srv + 2) % 3))
r3=$(rid_of 3) r4=$(rid_of 4)
# the clients' last changes are not committed yet: their unmount does it
echo "client 3 unsynced" >"${T_CMNT[3]}/u3" || t_fail "write u3"
echo "client 4 unsynced" >"${T_CMNT[4]}/u4" || t_fail "write u4"

t_kill_mount "${T_CMNT[$srv]}"
SECONDS=0
leave_within 45 3 4
took1=$SECONDS
wait_gone 3
wait_gone 4
for i in 3 4; do
	grep -q "unmounted .* cleanly" "$T_DIR/scoutfsd.mnt$i.log" ||
		t_fail "client $i did not unmount cleanly: $(tail -5 "$T_DIR/scoutfsd.mnt$i.log")"
done

read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] && [ "$nterm" -gt "$term" ] ||
	t_fail "no new leader after the kill: slot $nsrv term $nterm (was slot $srv term $term)"
log="$T_DIR/scoutfsd.mnt$nsrv.log"
for r in "$r3" "$r4"; do
	grep -q "server: mount rid $r left" "$log" ||
		t_fail "the new server did not retire client rid $r: $(grep "rid $r" "$log" | tail -3)"
done
n=$(grep -c "fence: fencing rid" "$log")
[ "$n" -eq 1 ] || t_fail "the new server asked for $n fences, want 1 (the dead leader): $(grep "fence: fencing" "$log")"
grep -q "quorum_block_leader" <(grep "fence: fencing rid" "$log") ||
	t_fail "the one fence was not the dead leader's: $(grep "fence: fencing" "$log")"

# the survivors see what the clients committed as they left, and go on
for i in "$a" "$b"; do
	[ "$(cat "${T_CMNT[$i]}/u3")" = "client 3 unsynced" ] || t_fail "mount $i reads u3 wrong"
	[ "$(cat "${T_CMNT[$i]}/u4")" = "client 4 unsynced" ] || t_fail "mount $i reads u4 wrong"
	for j in 0 1 2 3 4; do
		[ "$(cat "${T_CMNT[$i]}/f$j")" = "before $j" ] || t_fail "mount $i reads f$j wrong"
	done
done
echo "after" >"${T_CMNT[$a]}/g" || t_fail "a survivor cannot write"
[ "$(cat "${T_CMNT[$b]}/g")" = after ] || t_fail "the other survivor does not see the new file"

# the killed slot mounts again
t_mount_slot "${T_CMNT[$srv]}" "$srv" "$OPTS"
T_CPID[srv]=${T_MOUNT_PID[${T_CMNT[$srv]}]}
t_mount_wait "${T_CMNT[$srv]}" 60
[ "$(cat "${T_CMNT[$srv]}/g")" = after ] || t_fail "the remounted slot does not see the new file"

# ---- 2. the leader and the clients unmount together -----------------
for i in 3 4; do
	t_mount_client "${T_CMNT[$i]}" "$OPTS"
	T_CPID[i]=${T_MOUNT_PID[${T_CMNT[$i]}]}
done
for i in 3 4; do
	t_mount_wait "${T_CMNT[$i]}" 60
	echo "again $i" >"${T_CMNT[$i]}/v$i" || t_fail "write v$i"
done
read -r srv2 term2 _ < <(t_quorum_server "$META" 3)
[ "$srv2" -ge 0 ] || t_fail "no server before the second round"
SECONDS=0
leave_within 45 "$srv2" 3 4
took2=$SECONDS
for i in "$srv2" 3 4; do wait_gone "$i"; done
c=$(((srv2 + 1) % 3))
for i in 3 4; do
	[ "$(cat "${T_CMNT[$c]}/v$i")" = "again $i" ] || t_fail "mount $c reads v$i wrong"
done
t_mount_slot "${T_CMNT[$srv2]}" "$srv2" "$OPTS"
T_CPID[srv2]=${T_MOUNT_PID[${T_CMNT[$srv2]}]}
t_mount_wait "${T_CMNT[$srv2]}" 60
[ "$(cat "${T_CMNT[$srv2]}/v3")" = "again 3" ] || t_fail "the remounted slot reads v3 wrong"
# nobody but the dead leader was fenced (a mount that left cleanly never is)
n=$(grep -c ": fencing rid" "$T_DIR/fenced.log")
[ "$n" -eq 1 ] || t_fail "$n fence commands ran, want 1 (the dead leader): $(grep ": fencing rid" "$T_DIR/fenced.log")"

# ---- 3. the answer to a farewell is lost -----------------------------
t_mount_client "${T_CMNT[3]}" "$OPTS"
T_CPID[3]=${T_MOUNT_PID[${T_CMNT[3]}]}
t_mount_wait "${T_CMNT[3]}" 60
read -r srv3 _ _ < <(t_quorum_server "$META" 3)
SCOUTFS_RUN_DIR="$T_DIR/run.mnt$srv3" "$SFS_TRIGGER" "${T_CMNT[$srv3]}" farewell_drop_answer ||
	t_fail "arming farewell_drop_answer on the leader (slot $srv3)"
r3=$(rid_of 3)
SECONDS=0
leave_within 20 3
took3=$SECONDS
wait_gone 3
grep -q "server: the answer to the farewell of rid $r3 is not sent (trigger farewell_drop_answer)" \
	"$T_DIR/scoutfsd.mnt$srv3.log" || t_fail "the leader sent the answer to client 3's farewell"
grep -q "unmount: our mounted_clients item is gone: the server processed our farewell" \
	"$T_DIR/scoutfsd.mnt3.log" || t_fail "client 3 did not find its farewell done on disk: $(tail -5 "$T_DIR/scoutfsd.mnt3.log")"

t_cluster_umount
echo "clients unmounted in ${took1} s after the leader was killed (term $term -> $nterm), and in ${took2} s together with the leader; one without the farewell's answer in ${took3} s"
