#!/usr/bin/env bash
# Several processes per mount ping-pong the exclusive (WRITE) lock of one
# inode through xattr operations (the reference's lock-ex-race-processes).
#
#  - Race: 3 processes on each of the 3 mounts, 150 iterations each: set
#    the shared user.v to "<mount>.<proc>.<iteration>", set the process's
#    own user.p<mount>.<proc> to the iteration, read user.v back.  Every
#    call must succeed and every value read must be one some process
#    wrote (none torn).  At the end every mount reads the same xattrs:
#    user.v is the last value of one of the processes (iteration 149; a
#    process's writes are in order, so the final value is some process's
#    last), and every user.p* is its process's last iteration (no update
#    lost to another mount's write of the same inode).
#  - Ping-pong: 150 times a mount sets user.v (setfattr) and the next
#    mount must read exactly that (getfattr).
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 240
NPROC=3
NITER=150
touch "${M[0]}/f" || t_fail "create f"

pids=()
for m in 0 1 2; do
	for p in $(seq 0 $((NPROC - 1))); do
		python3 - "${M[m]}/f" "$m" "$p" "$NITER" "$T_DIR/go" <<'PY' &
import os, re, sys, time
path, m, p, n, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
pat = re.compile(rb"^[0-2]\.[0-9]+\.[0-9]+$")
while not os.path.exists(go):
    time.sleep(0.01)
for i in range(n):
    try:
        os.setxattr(path, "user.v", ("%s.%s.%d" % (m, p, i)).encode())
        os.setxattr(path, "user.p%s.%s" % (m, p), str(i).encode())
        v = os.getxattr(path, "user.v")
    except OSError as e:
        sys.exit("mount %s process %s iteration %d: %s" % (m, p, i, e))
    if not pat.match(v):
        sys.exit("mount %s process %s iteration %d: user.v reads %r" % (m, p, i, v))
PY
		pids+=($!)
	done
done
touch "$T_DIR/go"
for pid in "${pids[@]}"; do
	wait "$pid" || t_fail "a racing process failed (above)"
done

for m in 0 1 2; do
	getfattr --absolute-names -d -m '^user\.' "${M[m]}/f" 2>&1 | grep -v '^#' | grep . >"$T_DIR/x.$m"
done
v=$(sed -n 's/^user\.v="\(.*\)"$/\1/p' "$T_DIR/x.0")
case $v in
[0-2].[0-9].$((NITER - 1))) ;;
*) t_fail "after the race user.v is '$v', not one process's last value (x.x.$((NITER - 1)))" ;;
esac
for m in 0 1 2; do
	for p in $(seq 0 $((NPROC - 1))); do
		grep -qx "user.p$m.$p=\"$((NITER - 1))\"" "$T_DIR/x.0" ||
			t_fail "after the race mount $m process $p's xattr is lost or stale: $(grep "^user.p$m.$p=" "$T_DIR/x.0")"
	done
done
cmp -s "$T_DIR/x.0" "$T_DIR/x.1" && cmp -s "$T_DIR/x.0" "$T_DIR/x.2" ||
	t_fail "the mounts read other xattrs after the race: $(diff "$T_DIR/x.0" "$T_DIR/x.1"; diff "$T_DIR/x.0" "$T_DIR/x.2")"
[ "$(wc -l <"$T_DIR/x.0")" -eq $((1 + 3 * NPROC)) ] ||
	t_fail "after the race f has $(wc -l <"$T_DIR/x.0") user xattrs, want $((1 + 3 * NPROC)): $(cat "$T_DIR/x.0")"

for i in $(seq 150); do
	w=$((i % 3)) r=$(((i + 1) % 3))
	setfattr -n user.v -v "pp$i" "${M[w]}/f" || t_fail "ping-pong $i: setfattr on mount $w"
	got=$(getfattr --absolute-names --only-values -n user.v "${M[r]}/f" 2>&1)
	[ "$got" = "pp$i" ] || t_fail "ping-pong $i: mount $r reads '$got' after mount $w set 'pp$i'"
done
for m in 0 1 2; do
	got=$(getfattr --absolute-names --only-values -n user.v "${M[m]}/f" 2>&1)
	[ "$got" = pp150 ] || t_fail "the final value on mount $m is '$got', not the last written 'pp150'"
done

t_cluster_umount
echo "lock-ex-race-processes: $((3 * NPROC)) processes x $NITER iterations, 150 ping-pongs"
