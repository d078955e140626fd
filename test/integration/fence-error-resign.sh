#!/usr/bin/env bash
# A fence request that fails makes its server stop, as the reference's
# does: the leader resigns, the quorum elects again, and the next
# leader's server asks again.  Here the fence agent fails its first
# request.  The leader is killed; the next one cannot have it fenced and
# stops; the one after (a later term) has it fenced, recovers, and the
# survivors' waiting writes complete.  Nothing the dead leader held is
# taken back before it is fenced, and nothing fsynced is lost.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3 "quorum_heartbeat_timeout_ms=2000,recovery_window_ms=6000"
t_watchdog 300

cat >"$T_DIR/fence-flaky" <<EOF
#!/bin/sh
n=\$(cat "$T_DIR/fence-tries" 2>/dev/null || echo 0)
n=\$((n + 1))
echo "\$n" >"$T_DIR/fence-tries"
[ "\$n" -gt 1 ] || { echo "failing on purpose"; exit 1; }
exec "$SFS_SOURCE_DIR/tools/scoutfs-fence-local"
EOF
chmod +x "$T_DIR/fence-flaky"
T_FENCE_RUN=$T_DIR/fence-flaky t_fenced

for i in 0 1 2; do
	echo "before $i" >"${T_CMNT[$i]}/f$i" || t_fail "write f$i"
	t_fsync "${T_CMNT[$i]}/f$i" "${T_CMNT[$i]}"
done
read -r srv term _ < <(t_quorum_server "$META" 3)
[ "$srv" -ge 0 ] || t_fail "no leader"
a=$(((srv + 1) % 3))
b=$(((srv + 2) % 3))
rid=$(cat "$T_DIR/run.mnt$srv"/*/rid)

t_kill_mount "${T_CMNT[$srv]}"
timeout 150 sh -c "echo after >>'${T_CMNT[$a]}/f$srv'" ||
	t_fail "a survivor's write to the dead leader's file did not complete"
t_fsync "${T_CMNT[$a]}/f$srv"

[ "$(cat "$T_DIR/fence-tries")" -ge 2 ] || t_fail "the fence agent ran $(cat "$T_DIR/fence-tries") times"
grep -q "rid $rid fenced" "$T_DIR/fenced.log" || t_fail "the old leader was never fenced"
logs=("$T_DIR/scoutfsd.mnt$a.log" "$T_DIR/scoutfsd.mnt$b.log")
grep -q "server: rid $rid was not fenced (quorum_block_leader): this server stops" "${logs[@]}" ||
	t_fail "no server stopped for the failed fence: $(grep -h "rid $rid" "${logs[@]}" | tail -5)"
grep -q "quorum: the server of term [0-9]* stopped on its own" "${logs[@]}" ||
	t_fail "the quorum agent did not see its server stop"
# the old leader was reclaimed only by a server that had it fenced
grep -q "mount rid $rid is dead (fenced" "${logs[@]}" || t_fail "the old leader was not reclaimed"
read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] || t_fail "no new leader (slot $nsrv)"
[ "$nterm" -ge $((term + 2)) ] || t_fail "the leader's term $nterm: expected a second election after $term + 1"
# the failed server never wrote FENCE, so the next leader fenced the old
# one as an earlier leader again (not merely as a mount that did not recover)
grep -q "fence: rid $rid (quorum_block_leader) fenced after" "$T_DIR/scoutfsd.mnt$nsrv.log" ||
	t_fail "the leader of term $nterm did not have the old leader fenced: $(grep "rid $rid" "$T_DIR/scoutfsd.mnt$nsrv.log" | tail -3)"

for i in 0 1 2; do
	want="before $i"
	[ "$i" -eq "$srv" ] && want=$(printf 'before %s\nafter' "$i")
	for m in "$a" "$b"; do
		[ "$(cat "${T_CMNT[$m]}/f$i")" = "$want" ] || t_fail "mount $m reads f$i wrong"
	done
done
t_mount_slot "${T_CMNT[$srv]}" "$srv" "quorum_heartbeat_timeout_ms=2000,recovery_window_ms=6000"
t_mount_wait "${T_CMNT[$srv]}" 60
t_fuse_conn "${T_CMNT[$srv]}"
[ "$(cat "${T_CMNT[$srv]}/f$srv")" = "$(printf 'before %s\nafter' "$srv")" ] || t_fail "the remounted slot reads f$srv wrong"
t_cluster_umount
echo "fence error: the agent failed once, that server stopped, the leader of term $nterm had the old one fenced and recovered"
