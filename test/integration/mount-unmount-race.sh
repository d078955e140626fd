#!/usr/bin/env bash
# Random concurrent mounts and unmounts (reference test
# mount-unmount-race): 5 mounts of one volume, 3 of them quorum members.
# Each round gives some mounts a change they do not fsync (their unmount
# commits it), then picks each mount with even odds to change: a mounted
# one unmounts, an unmounted one mounts, all at once.  A plain client can
# always unmount; a member only while more than a majority (2) of the
# members would be mounted counting the ones mounting in the same round
# (a member's farewell is held until enough others are mounted, or until
# all the last ones leave together).  Every daemon that unmounts exits 0
# and nobody is fenced.  After each round every file reads what was
# written to it, on every mount.  Then the hold step by step: the
# leader unmounting while only one other member is mounted waits (its
# server holds its farewell, and it says so) until that member unmounts
# too.  At the end all five unmount together: the last majority of
# members leaves at once (the server answers their farewells together),
# and every daemon exits 0.
. "$(dirname "$0")/../funcs.sh"

OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=4000"
LENGTH=${SFS_RACE_SECS:-40}
MAJORITY=2
t_cluster 5 "$OPTS"
t_watchdog 400
t_fenced

declare -a mounted want
members=3
for i in 0 1 2 3 4; do
	mounted[i]=1
	want[i]="file $i"
	echo "${want[i]}" >"${T_CMNT[$i]}/f$i" || t_fail "write f$i"
done

# every mounted mount reads every file as last written
check_files() {
	local i j got
	for ((i = 0; i < T_CN; i++)); do
		[ "${mounted[i]}" = 1 ] || continue
		for ((j = 0; j < T_CN; j++)); do
			got=$(cat "${T_CMNT[$i]}/f$j") || t_fail "round $round: mount $i cannot read f$j"
			[ "$got" = "${want[j]}" ] ||
				t_fail "round $round: mount $i reads f$j as '$got', want '${want[j]}'"
		done
	done
}

mount_one() {	# I: mount I again, in the background
	if [ "${T_CSLOT[$1]}" -ge 0 ]; then
		t_mount_slot "${T_CMNT[$1]}" "${T_CSLOT[$1]}" "$OPTS"
	else
		t_mount_client "${T_CMNT[$1]}" "$OPTS"
	fi
	T_CPID[$1]=${T_MOUNT_PID[${T_CMNT[$1]}]}
}

# leader_slot: srv, the slot of the running server, once the quorum
# blocks show one on a mounted member (after a leader left, the next
# one is elected within moments)
leader_slot() {
	local n
	for ((n = 0; n < 300; n++)); do
		read -r srv _ _ < <(t_quorum_server "$META" 3)
		[ "$srv" -ge 0 ] && [ "${mounted[srv]}" = 1 ] && return 0
		sleep 0.1
	done
	t_fail "round $round: no server on a mounted member for 30 s (slot $srv)"
}

round=0 nmounts=0 numounts=0 leaders=0
SECONDS=0
while [ "$SECONDS" -lt "$LENGTH" ]; do
	round=$((round + 1))
	# some mounts get a change their unmount (or the next round) commits
	for ((i = 0; i < T_CN; i++)); do
		[ "${mounted[i]}" = 1 ] && [ $((RANDOM % 2)) -eq 1 ] || continue
		want[i]="${want[i]} r$round"
		echo "${want[i]}" >"${T_CMNT[$i]}/f$i" || t_fail "round $round: write f$i on mount $i"
	done

	# the leader's slot may unmount while others mount: their first
	# connection may meet a stopping server, and they look for the next
	leader_slot
	ups=() downs=()
	for ((i = 0; i < T_CN; i++)); do
		[ $((RANDOM % 2)) -eq 1 ] || continue
		if [ "${mounted[i]}" = 0 ]; then
			ups+=("$i")
			mounted[i]=1
			[ "${T_CSLOT[i]}" -lt 0 ] || members=$((members + 1))
		elif [ "${T_CSLOT[i]}" -lt 0 ] || [ "$members" -gt "$MAJORITY" ]; then
			[ "${T_CSLOT[i]}" -eq "$srv" ] && leaders=$((leaders + 1))
			downs+=("$i")
			mounted[i]=0
			[ "${T_CSLOT[i]}" -lt 0 ] || members=$((members - 1))
		fi
	done
	echo "round $round: mount ${ups[*]:-none}, unmount ${downs[*]:-none} (leader slot $srv)" >>"$T_DIR/rounds.log"

	# all at once: the unmounts' umount(8)s, then the mounts' daemons
	for i in "${downs[@]}"; do
		umount "${T_CMNT[$i]}" || t_fail "round $round: umount mount $i"
	done
	for i in "${ups[@]}"; do
		mount_one "$i"
	done
	for i in "${downs[@]}"; do
		pid=${T_MOUNT_PID[${T_CMNT[$i]}]}
		wait "$pid"
		rc=$?
		[ "$rc" -eq 0 ] || t_fail "round $round: scoutfsd of mount $i exited $rc: $(tail -5 "$T_DIR/scoutfsd.mnt$i.log")"
		unset "T_MOUNT_PID[${T_CMNT[$i]}]"
		findmnt -n "${T_CMNT[$i]}" >/dev/null 2>&1 && t_fail "round $round: mount $i is still mounted"
	done
	for i in "${ups[@]}"; do
		t_mount_wait "${T_CMNT[$i]}" 60
	done
	nmounts=$((nmounts + ${#ups[@]}))
	numounts=$((numounts + ${#downs[@]}))
	check_files
done

# mount_all: every mount that is not mounted mounts again
mount_all() {
	local i
	for ((i = 0; i < T_CN; i++)); do
		if [ "${mounted[i]}" = 0 ]; then
			mount_one "$i"
			mounted[i]=1
		fi
	done
	for ((i = 0; i < T_CN; i++)); do
		t_mount_wait "${T_CMNT[$i]}" 60
	done
}

# The hold, step by step: with every mount up, the clients and a member
# that does not lead leave (answered at once: three members were
# mounted).  Then the leader alone: its farewell is held, so that its
# server stays for the last member, which could not elect another; its
# daemon says what it waits for and goes on running.  The last member
# leaves too, and both finish.
mount_all
round=hold
check_files
leader_slot
x=$(((srv + 1) % 3)) y=$(((srv + 2) % 3))
t_umount_together "${T_CMNT[3]}" "${T_CMNT[4]}" "${T_CMNT[$x]}"
lrid=$(cat "$T_DIR"/run.mnt"$srv"/*/rid)
lpid=${T_MOUNT_PID[${T_CMNT[$srv]}]}
umount "${T_CMNT[$srv]}" || t_fail "umount the leader"
sleep 6
kill -0 "$lpid" 2>/dev/null || t_fail "the leader left while it and one other member were mounted"
llog="$T_DIR/scoutfsd.mnt$srv.log"
grep -q "server: holding the farewell of quorum member rid $lrid" "$llog" ||
	t_fail "the leader's server did not hold its own farewell: $(tail -3 "$llog")"
grep -q "unmount: waiting [0-9]* s for the server to answer our farewell (connected to the server at .*); .*the last quorum members leave together" "$llog" ||
	t_fail "the leader does not say what its unmount waits for: $(tail -3 "$llog")"
t_umount_together "${T_CMNT[$y]}"
wait "$lpid"
rc=$?
[ "$rc" -eq 0 ] || t_fail "the leader's scoutfsd exited $rc: $(tail -5 "$llog")"
unset "T_MOUNT_PID[${T_CMNT[$srv]}]"
grep -q "server: the held farewell of rid $lrid is answered" "$llog" ||
	t_fail "the leader's held farewell was not answered: $(tail -3 "$llog")"
for ((i = 0; i < T_CN; i++)); do
	mounted[i]=0
done

# everything mounted, then everything leaves at once
mount_all
round=final
check_files
t_umount_together "${T_CMNT[@]}"
for ((i = 0; i < T_CN; i++)); do
	findmnt -n "${T_CMNT[$i]}" >/dev/null 2>&1 && t_fail "mount $i is still mounted at the end"
done

# a mount that leaves cleanly is never fenced
n=$(grep -c ": fencing rid" "$T_DIR/fenced.log")
[ "$n" -eq 0 ] || t_fail "$n fence commands ran: $(grep ": fencing rid" "$T_DIR/fenced.log")"

# the volume is consistent: one member mounts it again and reads it all
t_mount_slot "${T_CMNT[0]}" 0 "$OPTS"
t_mount_slot "${T_CMNT[1]}" 1 "$OPTS"
t_mount_wait "${T_CMNT[0]}" 60
t_mount_wait "${T_CMNT[1]}" 60
for ((j = 0; j < T_CN; j++)); do
	[ "$(cat "${T_CMNT[0]}/f$j")" = "${want[j]}" ] || t_fail "after remounting, f$j reads wrong"
done
t_umount_together "${T_CMNT[0]}" "${T_CMNT[1]}"

echo "$nmounts mounts and $numounts unmounts ($leaders of the leader) in $(grep -c '^round' "$T_DIR/rounds.log") rounds, then all 5 unmounted together"
