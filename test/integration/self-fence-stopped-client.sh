#!/usr/bin/env bash
# A plain client is stopped (SIGSTOP) for longer than the recovery
# window while holding a file's write lock.  Its kernel keeps the TCP
# connection up, so the leader must notice the silence itself (net
# keepalives, idle timeout), let the session expire after the window and
# have the client fenced (reason client_reconnect).  The fence agent here
# only says "fenced" without stopping anything (a fence that did not
# really cut the host off): once reclaimed, the client's lock goes to the
# others, who read what it had fsynced and carry on.  Then SIGCONT: the
# client has heard from no server for longer than its window, so it
# fences itself and writes nothing more to the devices.  It reaches the
# volume through loop devices of its own, whose kernel write counters
# show that.
. "$(dirname "$0")/../funcs.sh"

command -v losetup >/dev/null || t_skip "no losetup"
OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=6000"
t_cluster 3 "$OPTS"
LOOPS=()
trap 't_fuse_abort; t_cleanup_loops; t_cleanup' EXIT
t_cleanup_loops() {
	local l
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
}
t_watchdog 300

# a fence agent that answers "fenced" and does nothing else
cat >"$T_DIR/fence-noop" <<EOF
#!/bin/sh
echo "\$SCOUTFS_FENCED_REQ_RID" >>"$T_DIR/fenced-rids"
exit 0
EOF
chmod +x "$T_DIR/fence-noop"
T_FENCE_RUN=$T_DIR/fence-noop t_fenced

# the client, on loop devices of its own over the same image files
LMETA=$(losetup -f --show --direct-io=on "$META") || t_skip "cannot set up a loop device"
LOOPS+=("$LMETA")
LDATA=$(losetup -f --show --direct-io=on "$DATA") || t_fail "cannot set up a second loop device"
LOOPS+=("$LDATA")
C=$T_DIR/mntc
META=$LMETA DATA=$LDATA t_mount_client "$C" "$OPTS"
t_mount_wait "$C" 60
t_fuse_conn "$C"
CPID=${T_MOUNT_PID[$C]}
A=${T_CMNT[1]}
B=${T_CMNT[2]}

# writes in sectors, from /sys/block/loopN/stat (field 7)
loop_writes() {
	local w=0 l
	for l in "$LMETA" "$LDATA"; do
		w=$((w + $(awk '{print $7}' "/sys/block/$(basename "$l")/stat")))
	done
	echo "$w"
}

echo "from the client" >"$C/cf" || t_fail "the client cannot write"
t_fsync "$C/cf" "$C"
echo "before" >"$A/af" || t_fail "write af"
t_fsync "$A/af"
[ "$(loop_writes)" -gt 0 ] || t_fail "the client's writes do not show on its loop devices"

# changes not yet committed when it stops: after SIGCONT its commit must
# not reach the devices
echo "never fsynced" >"$C/unsynced" || t_fail "the client cannot write"
mkdir "$C/unsynced-dir" || t_fail "the client cannot mkdir"
kill -STOP "$CPID" || t_fail "cannot stop the client"
stopped=$(date +%s)

# the others carry on, and once the client is fenced and reclaimed its
# file's lock is theirs: they read what it fsynced and write to it
echo "during" >>"$A/af" || t_fail "a member's write failed while the client is stopped"
[ "$(timeout 120 cat "$B/cf")" = "from the client" ] ||
	t_fail "the stopped client's fsynced file does not read back from another mount"
took=$(($(date +%s) - stopped))
echo "taken over" >>"$B/cf" || t_fail "cannot write the stopped client's file"
t_fsync "$B/cf"

# it was fenced for not reconnecting, then reclaimed
[ -s "$T_DIR/fenced-rids" ] || t_fail "no fence request was answered"
rid=$(head -1 "$T_DIR/fenced-rids")
read -r srv _ _ < <(t_quorum_server "$META" 3)
slog="$T_DIR/scoutfsd.mnt$srv.log"
grep -q "net: .*nothing heard for" "$slog" || t_fail "the leader did not drop the silent connection"
grep -q "mount rid $rid did not reconnect within 6000 ms" "$slog" ||
	t_fail "no client_reconnect line for rid $rid: $(grep -i "rid $rid" "$slog" | tail -5)"
grep -q "fence: fencing rid $rid at .*: client_reconnect" "$slog" || t_fail "no fence request line"
grep -q "mount rid $rid is dead (fenced.*reclaimed" "$slog" || t_fail "rid $rid was not reclaimed"
[ "$(wc -l <"$T_DIR/fenced-rids")" -eq 1 ] || t_fail "more than one fence: $(cat "$T_DIR/fenced-rids")"

# SIGCONT: the client must not write to the devices again
sleep 1
before=$(loop_writes)
kill -CONT "$CPID" || t_fail "cannot continue the client"
# what a user of the client's mount would do: each fails, none is written
timeout 60 sh -c "echo after >>'$C/cf'" 2>/dev/null && t_fail "a write through the fenced client succeeded"
timeout 60 sh -c "echo new >'$C/newfile'" 2>/dev/null
timeout 60 python3 -c "import os; fd = os.open('$C', os.O_RDONLY); os.fsync(fd)" 2>/dev/null
sleep 3
after=$(loop_writes)
[ "$after" -eq "$before" ] ||
	t_fail "the fenced client wrote $((after - before)) sectors after SIGCONT"
clog="$T_DIR/scoutfsd.mntc.log"
grep -q "self-fenced: " "$clog" || t_fail "the client did not say it fenced itself: $(tail -5 "$clog")"

# the others still agree on everything, and nothing of the client's after the stop is there
for m in "${T_CMNT[@]}"; do
	[ "$(cat "$m/cf")" = "$(printf 'from the client\ntaken over')" ] || t_fail "$m: cf reads $(cat "$m/cf")"
	[ "$(cat "$m/af")" = "$(printf 'before\nduring')" ] || t_fail "$m: af reads $(cat "$m/af")"
	[ ! -e "$m/newfile" ] || t_fail "$m: the fenced client's new file is there"
done

t_kill_mount "$C"
t_cluster_umount
"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>&1 || t_fail "scoutfs print failed: $(tail -3 "$T_DIR/print.out")"
echo "self-fence: the stopped client was fenced and its lock taken over after ${took}s; after SIGCONT it wrote nothing ($before sectors before, $after after)"
