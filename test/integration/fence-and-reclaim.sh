#!/usr/bin/env bash
# The reference's fence-and-reclaim: mounts die (SIGKILL) in every
# combination - one plain client, all plain clients, a member that does
# not lead, the leader, everything at once - and each time the leader has
# every dead mount fenced (scoutfs-fenced with scoutfs-fence-local) for
# the right reason and reclaims it: client_reconnect for a mount whose
# connection broke and never came back, quorum_block_leader for an
# earlier leader, client_recovery for a mount of an earlier server that
# did not recover.  A reclaimed mount's mounted_clients item is gone from
# the volume; the mounts come back (new rids), and everything fsynced
# before each death is still there.
. "$(dirname "$0")/../funcs.sh"

OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=6000"
t_cluster 5 "$OPTS"
t_watchdog 600
t_fenced

rid_of() {
	cat "$T_DIR"/run."$(basename "$1")"/*/rid 2>/dev/null
}

# the rids the volume records as mounted (print reads a live volume: retry)
mounted_rids() {
	local i
	for ((i = 0; i < 10; i++)); do
		if "$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>&1; then
			grep -E '^    rid [0-9a-f]{16} ipv[46]_addr ' "$T_DIR/print.out" | awk '{print $2}' | sort
			return 0
		fi
		sleep 0.5
	done
	t_fail "scoutfs print keeps failing: $(tail -3 "$T_DIR/print.out")"
}

leader() {
	local srv
	read -r srv _ _ < <(t_quorum_server "$META" 3)
	echo "$srv"
}

# wait_reclaimed REASON RID...: each RID fenced for REASON and reclaimed
# by the current leader, and gone from mounted_clients
wait_reclaimed() {
	local reason=$1 rid srv log i
	shift
	for rid in "$@"; do
		for ((i = 0; i < 600; i++)); do
			srv=$(leader)
			log="$T_DIR/scoutfsd.mnt$srv.log"
			[ "$srv" -ge 0 ] && grep -q "mount rid $rid is dead (fenced" "$log" 2>/dev/null && break
			sleep 0.1
		done
		[ "$i" -lt 600 ] || t_fail "rid $rid was not reclaimed in 60 s (leader slot $srv)"
		if [ "$reason" = own_slot ]; then
			# an earlier leader of the new leader's own slot: one mount
			# per slot, so it is dead and reclaimed without fencing
			grep -q "fence: fencing rid $rid" "$log" && t_fail "rid $rid was fenced"
		else
			grep -q "fence: fencing rid $rid at .*: $reason" "$log" ||
				t_fail "rid $rid was not fenced for $reason: $(grep "rid $rid" "$log" | tail -3)"
			grep -q "rid $rid fenced" "$T_DIR/fenced.log" ||
				t_fail "scoutfs-fenced did not fence rid $rid: $(tail -3 "$T_DIR/fenced.log")"
		fi
		mounted_rids | grep -qx "$rid" && t_fail "reclaimed rid $rid is still in mounted_clients"
	done
	return 0
}

remount() {
	local i=$1
	if [ "${T_CSLOT[i]}" -ge 0 ]; then
		t_mount_slot "${T_CMNT[i]}" "${T_CSLOT[i]}" "$OPTS"
	else
		t_mount_client "${T_CMNT[i]}" "$OPTS"
	fi
	T_CPID[i]=${T_MOUNT_PID[${T_CMNT[i]}]}
}

remount_wait() {
	local i
	for i in "$@"; do
		t_mount_wait "${T_CMNT[i]}" 90
		t_fuse_conn "${T_CMNT[i]}"
	done
}

# every mount writes and fsyncs a file of its own for round $1
write_all() {
	local i
	for ((i = 0; i < T_CN; i++)); do
		echo "round $1 mount $i" >"${T_CMNT[i]}/r$1.m$i" || t_fail "mount $i cannot write in round $1"
		t_fsync "${T_CMNT[i]}/r$1.m$i" "${T_CMNT[i]}"
	done
}

# every mount sees every file of rounds 1..$1
check_all() {
	local r i j
	for ((r = 1; r <= $1; r++)); do
		for ((i = 0; i < T_CN; i++)); do
			for ((j = 0; j < T_CN; j++)); do
				[ "$(cat "${T_CMNT[i]}/r$r.m$j")" = "round $r mount $j" ] ||
					t_fail "mount $i reads r$r.m$j wrong after round $1"
			done
		done
	done
}

# kill_round N REASON MOUNT...: kill the mounts, wait for their fencing and
# reclaim, bring them back, check everything
kill_round() {
	local n=$1 reason=$2 i rids=()
	shift 2
	write_all "$n"
	for i in "$@"; do rids+=("$(rid_of "${T_CMNT[i]}")"); done
	for i in "$@"; do t_kill_mount "${T_CMNT[i]}"; done
	wait_reclaimed "$reason" "${rids[@]}"
	for i in "$@"; do remount "$i"; done
	remount_wait "$@"
	check_all "$n"
	echo "round $n: killed mounts $* (rids ${rids[*]}), fenced for $reason and reclaimed"
}

srv=$(leader)
[ "$srv" -ge 0 ] || t_fail "no leader"
other=$(((srv + 1) % 3))

kill_round 1 client_reconnect 3
kill_round 2 client_reconnect 3 4
kill_round 3 client_reconnect "$other"
srv=$(leader)
kill_round 4 quorum_block_leader "$srv"

# everything at once: the next leader fences the last one and has the
# mounts of its server that never come back fenced after the window
write_all 5
srv=$(leader)
old=()
for ((i = 0; i < T_CN; i++)); do old[i]=$(rid_of "${T_CMNT[i]}"); done
for ((i = 0; i < T_CN; i++)); do t_kill_mount "${T_CMNT[i]}"; done
for ((i = 0; i < T_CN; i++)); do remount "$i"; done
remount_wait 0 1 2 3 4
nsrv=$(leader)
for ((i = 0; i < T_CN; i++)); do
	if [ "$i" -eq "$srv" ] && [ "$nsrv" -eq "$srv" ]; then
		wait_reclaimed own_slot "${old[i]}"
	elif [ "$i" -eq "$srv" ]; then
		wait_reclaimed quorum_block_leader "${old[i]}"
	else
		wait_reclaimed client_recovery "${old[i]}"
	fi
done
check_all 5
echo "round 5: killed every mount; the old leader (slot $srv, new leader slot $nsrv) reclaimed, the others fenced for client_recovery"

# exactly the live mounts are recorded
live=$(for ((i = 0; i < T_CN; i++)); do rid_of "${T_CMNT[i]}"; done | sort)
[ "$(mounted_rids)" = "$live" ] || t_fail "mounted_clients $(mounted_rids | tr '\n' ' ') is not the live mounts $(echo $live)"

t_cluster_umount
[ -z "$(mounted_rids)" ] || t_fail "mounts left in mounted_clients after every mount left: $(mounted_rids | tr '\n' ' ')"
echo "fence-and-reclaim: 5 rounds, every dead mount fenced and reclaimed, nothing lost"
