#!/usr/bin/env bash
# The leader dies (SIGKILL) under 3 quorum mounts: another slot is
# elected; its server has the old leader fenced (quorum_block_leader,
# through scoutfs-fenced and scoutfs-fence-local) before it commits
# anything, and reclaims it; the survivors find the new server through the
# quorum blocks, greet it and tell it the locks they hold (lock recovery),
# and operations that waited for a lock go through.  Everything fsynced
# before the kill is there, changes made after it are seen by the other
# survivor, the killed slot mounts again, and everything unmounts cleanly.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3 "quorum_heartbeat_timeout_ms=2000"
t_watchdog 400
t_fenced

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

# a survivor's changes wait for the new server and its recovery, then
# land: one to the dead leader's own file (its lock was the dead leader's
# until the new server reclaimed it), one of its own, and a rename
timeout 120 sh -c "echo after >> '${T_CMNT[$a]}/f$srv' && echo after > '${T_CMNT[$a]}/g' &&
	mv '${T_CMNT[$a]}/d$a' '${T_CMNT[$a]}/e$a'" ||
	t_fail "a survivor's writes and rename did not complete after the leader was killed"
t_fsync "${T_CMNT[$a]}/g" "${T_CMNT[$a]}/f$srv" "${T_CMNT[$a]}"
took=$(($(date +%s) - start))

read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] || t_fail "no new leader: slot $nsrv (was $srv)"
[ "$nterm" -gt "$term" ] || t_fail "the new leader's term $nterm is not above $term"

# the other survivor sees it all, and what was fsynced before the kill
[ "$(cat "${T_CMNT[$b]}/g")" = after ] || t_fail "the other survivor does not see the new file"
[ -d "${T_CMNT[$b]}/e$a" ] && [ ! -e "${T_CMNT[$b]}/d$a" ] || t_fail "the other survivor does not see the rename"
for i in 0 1 2; do
	want="before $i"
	[ "$i" -eq "$srv" ] && want=$(printf 'before %s\nafter' "$i")
	[ "$(cat "${T_CMNT[$b]}/f$i")" = "$want" ] || t_fail "f$i reads wrong: $(cat "${T_CMNT[$b]}/f$i")"
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
grep -q "fence: fencing rid [0-9a-f]* at 127.0.0.1: quorum_block_leader" "$log" ||
	t_fail "the old leader was not fenced: $(grep fence "$log" | tail -3)"
grep -q "fence: rid [0-9a-f]* (quorum_block_leader) fenced after" "$log" ||
	t_fail "the old leader's fence request was not answered: $(tail -5 "$T_DIR/fenced.log")"
grep -q "is dead (fenced, or this slot's earlier leader): reclaimed" "$log" ||
	t_fail "the fenced leader was not reclaimed"
if grep -q "did not recover its locks" "$log"; then t_fail "a survivor was taken as not recovered"; fi

# the recovery's log lines in order: prepared for every mount of the old
# server, then each survivor's greeting, then its recovery done
lineno() { grep -n "$1" "$log" | head -1 | cut -d: -f1; }
prep=$(lineno "server: recovery prepared for rid")
[ "$(grep -c "server: recovery prepared for rid" "$log")" -eq 3 ] ||
	t_fail "recovery not prepared for the 3 mounts of the old server: $(grep "recovery prepared" "$log")"
for i in "$a" "$b"; do
	rid=$(cat "$T_DIR"/run.mnt$i/*/rid)
	g=$(lineno "server: greeting from rid $rid, which was mounted under an earlier server")
	d=$(lineno "server: rid $rid recovered [0-9]* locks, [0-9]* mounts left to recover")
	[ -n "$g" ] && [ -n "$d" ] && [ "$prep" -lt "$g" ] && [ "$g" -lt "$d" ] ||
		t_fail "mount $i (rid $rid): recovery lines out of order or missing (prepared $prep, greeting $g, done $d)"
done
grep -E "server: (recovery prepared|greeting from|rid [0-9a-f]* recovered)|fence: (fencing|rid)|is dead \(fenced" "$log" |
	sed 's/^[^:]*: //'
# and the counters of them
t_scoutfs_at "${T_CMNT[$nsrv]}" counters -p "${T_CMNT[$nsrv]}" >"$T_DIR/counters" ||
	t_fail "scoutfs counters on the new leader"
ctr() { awk -v k="$1" '$1 == k { print $2 }' "$T_DIR/counters"; }
[ "$(ctr server_recovery_prepared)" = 3 ] && [ "$(ctr server_lock_recovery_start)" = 2 ] &&
	[ "$(ctr server_lock_recovery_done)" = 2 ] && [ "$(ctr fence_request)" = 1 ] &&
	[ "$(ctr fence_fenced)" = 1 ] ||
	t_fail "recovery counters: $(grep -E "^(server_recovery|server_lock_recovery|fence_)" "$T_DIR/counters" | tr '\n' ' ')"

# the killed slot mounts again and sees everything
t_mount_slot "${T_CMNT[$srv]}" "$srv" "quorum_heartbeat_timeout_ms=2000"
T_CPID[srv]=${T_MOUNT_PID[${T_CMNT[$srv]}]}
t_mount_wait "${T_CMNT[$srv]}" 60
[ "$(cat "${T_CMNT[$srv]}/g")" = after ] || t_fail "the remounted slot does not see the new file"

t_cluster_umount
echo "leader killed: slot $nsrv leads term $nterm; a survivor's writes were committed after ${took} s"
