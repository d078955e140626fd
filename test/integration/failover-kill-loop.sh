#!/usr/bin/env bash
# SIGKILL the leader of 3 quorum mounts again and again (ROUNDS, 20)
# under a workload on every mount: creates, writes with fsync, renames,
# xattrs, each recorded only once fsync returned.  Each time: a new
# leader is elected and fences the old one (scoutfs-fenced with
# scoutfs-fence-local); the survivors' workloads go on without one
# error; everything recorded so far is there, as written, seen from a
# survivor; the killed slot mounts again and starts a workload of its
# own.  At the end every mount unmounts cleanly and scoutfs print reads
# the volume.  The time from each kill to the first operation a
# survivor completes after it is printed (not asserted: speed is
# bench/failover-bench.sh's).
. "$(dirname "$0")/../funcs.sh"

ROUNDS=${ROUNDS:-20}
HB=2000
t_cluster 3 "quorum_heartbeat_timeout_ms=$HB"
t_watchdog 1500
t_fenced

# workload TAG MNT: in MNT/wTAG, again and again: write fN, fsync it,
# rename it to gN, set an xattr, fsync the directory, then record N in
# done.TAG.  A failure is written to fail.TAG.
workload() {
	local tag=$1 m=$2 d=$2/w$1 n=0 out
	mkdir "$d" || { echo "mkdir $d failed" >"$T_DIR/fail.$tag"; return; }
	while [ ! -e "$T_DIR/stop" ]; do
		n=$((n + 1))
		if ! out=$(python3 - "$d" "$n" "$tag" 2>&1 <<'PY'
import os, sys
d, n, tag = sys.argv[1:]
f, g = os.path.join(d, "f" + n), os.path.join(d, "g" + n)
fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, ("data %s %s\n" % (tag, n)).encode())
os.fsync(fd)
os.close(fd)
os.rename(f, g)
os.setxattr(g, "user.n", n.encode())
fd = os.open(d, os.O_RDONLY)
os.fsync(fd)
os.close(fd)
PY
		); then
			echo "op $n: $out" >"$T_DIR/fail.$tag"
			return
		fi
		echo "$n" >>"$T_DIR/done.$tag"
	done
}

# tags of the running workloads, by mount index
declare -A TAG=()
declare -A WPID=()
start_workload() {
	local i=$1 tag=$2
	TAG[$i]=$tag
	: >"$T_DIR/done.$tag"
	workload "$tag" "${T_CMNT[$i]}" &
	WPID[$i]=$!
	T_PIDS+=("${WPID[$i]}")
	echo "$tag" >>"$T_DIR/tags"
}
done_count() { wc -l <"$T_DIR/done.$1"; }

# check_all MNT: every recorded operation of every workload so far reads right through MNT
check_all() {
	python3 - "$1" "$T_DIR" <<'PY' || t_fail "after round $r: $(cat "$T_DIR/check.out")"
import os, sys
m, t = sys.argv[1:]
bad = []
total = 0
for tag in open(os.path.join(t, "tags")).read().split():
    for n in open(os.path.join(t, "done." + tag)).read().split():
        total += 1
        g = os.path.join(m, "w" + tag, "g" + n)
        try:
            data = open(g).read()
            x = os.getxattr(g, "user.n").decode()
        except OSError as e:
            bad.append("%s: %s" % (g, e))
            continue
        if data != "data %s %s\n" % (tag, n) or x != n:
            bad.append("%s: %r xattr %r" % (g, data, x))
        if os.path.exists(os.path.join(m, "w" + tag, "f" + n)):
            bad.append("%s: the name before the rename is still there" % g)
out = open(os.path.join(t, "check.out"), "w")
out.write("%d of %d recorded operations wrong: %s\n" % (len(bad), total, "; ".join(bad[:5])))
sys.exit(1 if bad else 0)
PY
}

for i in 0 1 2; do start_workload "$i" "m$i"; done
sleep 2
took=()
for ((r = 1; r <= ROUNDS; r++)); do
	read -r srv term _ < <(t_quorum_server "$META" 3)
	[ "$srv" -ge 0 ] || t_fail "round $r: no leader"
	a=$(((srv + 1) % 3))
	b=$(((srv + 2) % 3))
	t_kill_mount "${T_CMNT[$srv]}"
	kill "${WPID[$srv]}" 2>/dev/null
	start=$(date +%s.%N)
	# an operation whose commit the old server took before it died may
	# still be recorded now: count from a moment later
	sleep 0.5
	na=$(done_count "${TAG[$a]}")
	nb=$(done_count "${TAG[$b]}")
	# a survivor completes an operation (commits through the new server)
	for ((i = 0; i < 1200; i++)); do
		[ "$(done_count "${TAG[$a]}")" -gt "$na" ] || [ "$(done_count "${TAG[$b]}")" -gt "$nb" ] &&
			break
		sleep 0.05
	done
	[ "$i" -lt 1200 ] || t_fail "round $r: no survivor completed an operation in 60 s after the leader was killed"
	took+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')")

	read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
	[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] && [ "$nterm" -gt "$term" ] ||
		t_fail "round $r: no new leader (slot $nsrv term $nterm, was slot $srv term $term)"
	for i in "$a" "$b"; do
		[ ! -e "$T_DIR/fail.${TAG[$i]}" ] ||
			t_fail "round $r: mount $i's workload failed: $(cat "$T_DIR/fail.${TAG[$i]}")"
	done

	# the killed slot comes back with a workload of its own
	t_mount_slot "${T_CMNT[$srv]}" "$srv" "quorum_heartbeat_timeout_ms=$HB"
	T_CPID[srv]=${T_MOUNT_PID[${T_CMNT[$srv]}]}
	t_mount_wait "${T_CMNT[$srv]}" 60
	start_workload "$srv" "r${r}m$srv"
	check_all "${T_CMNT[$a]}"
done

touch "$T_DIR/stop"
for i in 0 1 2; do wait "${WPID[$i]}" 2>/dev/null; done
for i in 0 1 2; do
	[ ! -e "$T_DIR/fail.${TAG[$i]}" ] || t_fail "mount $i's workload failed: $(cat "$T_DIR/fail.${TAG[$i]}")"
done
check_all "${T_CMNT[0]}"
total=$(cat "$T_DIR"/done.* | wc -l)
t_cluster_umount
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>&1 || t_fail "scoutfs print: $(tail -3 "$T_DIR/print")"
echo "$ROUNDS leaders killed, $total operations recorded and all there; seconds from kill to a survivor's next operation: ${took[*]}"
