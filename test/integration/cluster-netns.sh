#!/usr/bin/env bash
# Three mounts of one volume, each scoutfsd in its own network namespace
# (t_cluster_netns: veth pairs on a bridge, one 10.x.y.z address per
# node), so quorum, lock and item traffic crosses real interfaces instead
# of loopback: the three members elect a leader on their own addresses,
# the others connect to its server there, and a file created and written
# on mount 0 reads the same on mounts 1 and 2 (and a change made on
# mount 2 on the others).  Skipped where network namespaces cannot be made.
. "$(dirname "$0")/../funcs.sh"

t_cluster_netns 3
M=("${T_CMNT[@]}")
t_watchdog 240

read -r srv term _ < <(t_quorum_server "$META" 3)
[ "$srv" -ge 0 ] || t_fail "no server in the quorum blocks"
for i in 0 1 2; do
	grep -q "mount: server of term $term at ${T_CADDR[srv]}:$((19700 + srv))\$" "$T_DIR/scoutfsd.mnt$i.log" ||
		t_fail "mount $i did not find the server at ${T_CADDR[srv]}: $(grep 'mount: server' "$T_DIR/scoutfsd.mnt$i.log")"
done

head -c 300000 /dev/urandom >"$T_DIR/want"
cp "$T_DIR/want" "${M[0]}/f" || t_fail "write on mount 0"
for i in 1 2; do
	cmp "$T_DIR/want" "${M[i]}/f" || t_fail "mount $i reads other bytes than mount 0 wrote"
done
[ "$(ls "${M[1]}")" = f ] || t_fail "mount 1 lists '$(ls "${M[1]}")'"
echo changed >"${M[2]}/f" || t_fail "write on mount 2"
for i in 0 1; do
	[ "$(cat "${M[i]}/f")" = changed ] || t_fail "mount $i reads '$(cat "${M[i]}/f")' after mount 2's write"
done
rm "${M[1]}/f" || t_fail "rm on mount 1"
for i in 0 2; do
	[ -e "${M[i]}/f" ] && t_fail "mount $i still sees the file mount 1 removed"
done

t_cluster_umount
echo "cluster-netns: 3 mounts in 3 network namespaces, server of slot $srv at ${T_CADDR[srv]}"
