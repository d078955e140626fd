#!/usr/bin/env bash
# quorum_heartbeat_timeout_ms decides how long a leader takeover takes
# (reference test quorum-heartbeat-timeout).  For each of two timeouts
# (2000 and 5000 ms), on a fresh volume mounted by 3 quorum members:
#  - every mount's `scoutfs quorum --json` reports that timeout;
#  - the leader is SIGKILLed; right after, each follower says how long
#    ago it last heard the leader (last_recv_ms_ago of its slot), which
#    gives the moment its heartbeat timeout started;
#  - a follower is elected in a greater term (its log says so), and the
#    ELECT event of its quorum block, stamped with the writer's
#    CLOCK_MONOTONIC (as is time.monotonic() here), is not earlier than
#    the first follower's last heartbeat plus the timeout: nobody stood
#    for election before the timeout passed.  That is a correctness
#    bound; how much later the takeover came is printed, not asserted.
#    Its server then comes up (scoutfs-fenced fences the dead leader).
# Values outside 2000..60000 are refused at mount.
. "$(dirname "$0")/../funcs.sh"

# mono: seconds on CLOCK_MONOTONIC
mono() { python3 -c 'import time; print("%.6f" % time.monotonic())'; }

# last_heard MNT SLOT: CLOCK_MONOTONIC seconds at which the agent of MNT
# last heard from SLOT, at the latest (the query's start minus the age
# it reports, rounded down to the ms: the agent's clock read after ours)
last_heard() {
	SCOUTFS_RUN_DIR="$T_DIR/run.$(basename "$1")" python3 - "$SCOUTFS" "$1" "$2" <<'PY'
import json, subprocess, sys, time
cli, mnt, slot = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.monotonic()
out = subprocess.run([cli, "quorum", "--json", "-p", mnt], capture_output=True, text=True)
if out.returncode:
    sys.exit("quorum --json: " + out.stderr)
ago = [s for s in json.loads(out.stdout)["slots"] if s["slot"] == slot][0]["last_recv_ms_ago"]
if ago is None:
    sys.exit("never heard slot %d" % slot)
print("%.6f" % (t0 - ago / 1000.0))
PY
}

# elect_ts SLOT: the CLOCK_MONOTONIC seconds of SLOT's ELECT event
elect_ts() {
	python3 - "$META" "$1" <<'PY'
import struct, sys
meta, slot = sys.argv[1], int(sys.argv[2])
with open(meta, "rb") as f:
    f.seek((17 + slot) * 4096 + 40 + 40 * 2 + 24)
    sec, nsec = struct.unpack("<QI", f.read(12))
print("%.6f" % (sec + nsec / 1e9))
PY
}

# fless A B: A < B (floats)
fless() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

report=()
round() {
	local hb=$1 i s e srv term a b t_kill h ha hb_min nsrv nterm ets took
	t_cluster 3 "quorum_heartbeat_timeout_ms=$hb"
	t_watchdog 300
	t_fenced
	for i in 0 1 2; do
		t_scoutfs_at "${T_CMNT[i]}" quorum --json -p "${T_CMNT[i]}" >"$T_DIR/q$i.json" ||
			t_fail "hb $hb: quorum --json on mount $i"
		python3 - "$T_DIR/q$i.json" "$hb" <<'PY' || t_fail "hb $hb: mount $i: $(cat "$T_DIR/q$i.json")"
import json, sys
v = json.load(open(sys.argv[1]))
if v["heartbeat_timeout_ms"] != int(sys.argv[2]):
    sys.exit("heartbeat_timeout_ms is %s, want %s" % (v["heartbeat_timeout_ms"], sys.argv[2]))
PY
	done
	grep -Eq "(^|,)quorum_heartbeat_timeout_ms=$hb(,|\$)" "$T_DIR"/run.mnt0/*/mount_options ||
		t_fail "hb $hb: the run directory's mount_options: $(cat "$T_DIR"/run.mnt0/*/mount_options)"

	read -r srv term _ < <(t_quorum_server "$META" 3)
	[ "$srv" -ge 0 ] || t_fail "hb $hb: no leader"
	a=$(((srv + 1) % 3))
	b=$(((srv + 2) % 3))
	# the followers hear its heartbeats (every 100 ms)
	sleep 0.5
	t_kill=$(mono)
	t_kill_mount "${T_CMNT[$srv]}"
	# the earliest moment a follower's timeout may have started
	hb_min=
	for i in "$a" "$b"; do
		h=$(last_heard "${T_CMNT[i]}" "$srv") || t_fail "hb $hb: mount $i: $h"
		if [ -z "$hb_min" ] || fless "$h" "$hb_min"; then hb_min=$h; fi
	done

	# the election: a survivor's ELECT event of a greater term (its
	# server then waits for the dead leader to be fenced before it
	# serves: scoutfs-fenced)
	nsrv=-1 nterm=0
	for ((i = 0; i < 600 && nsrv < 0; i++)); do
		for s in "$a" "$b"; do
			e=$(t_quorum_term "$META" "$s" elect)
			if [ "$e" -gt "$term" ] && [ "$e" -gt "$nterm" ]; then nsrv=$s nterm=$e; fi
		done
		[ "$nsrv" -ge 0 ] || sleep 0.05
	done
	[ "$nsrv" -ge 0 ] || t_fail "hb $hb: no survivor elected 30 s after slot $srv (term $term) was killed"
	grep -q "quorum: slot $nsrv elected leader of term $nterm\$" "$T_DIR/scoutfsd.mnt$nsrv.log" ||
		t_fail "hb $hb: slot $nsrv's log does not say it was elected in term $nterm"
	ets=$(elect_ts "$nsrv")
	# 2 ms for rounding
	ha=$(awk -v h="$hb_min" -v t="$hb" 'BEGIN { printf "%.6f", h + t / 1000.0 - 0.002 }')
	fless "$ets" "$ha" &&
		t_fail "hb $hb: slot $nsrv was elected at $ets, before the heartbeat timeout of the last heartbeat ($hb_min) passed ($ha)"
	took=$(awk -v e="$ets" -v k="$t_kill" -v h="$hb_min" \
		'BEGIN { printf "%d ms after slot", (e - k) * 1000; printf " %d", (e - h) * 1000 }')
	report+=("hb $hb ms: slot $nsrv elected in term $nterm ${took% *} $srv was killed, ${took##* } ms after the followers last heard it")

	# the new server comes up (the dead leader fenced), then all go
	for ((i = 0; i < 600; i++)); do
		read -r s e _ < <(t_quorum_server "$META" 3)
		[ "$s" = "$nsrv" ] && [ "$e" = "$nterm" ] && break
		sleep 0.1
	done
	[ "$s" = "$nsrv" ] && [ "$e" = "$nterm" ] || t_fail "hb $hb: the server of slot $nsrv term $nterm did not come up"
	for i in "$a" "$b"; do t_kill_mount "${T_CMNT[i]}"; done
	kill "$T_FENCED_PID"
	wait "$T_FENCED_PID" 2>/dev/null
	t_forget_pid "$T_FENCED_PID"
}

round 2000
round 5000

# out of bounds: refused before anything is mounted
for v in 0 1999 60001 -1; do
	mkdir -p "$T_DIR/bad"
	timeout 30 "$SCOUTFSD" -f -o "metadev_path=$META,quorum_slot_nr=0,quorum_heartbeat_timeout_ms=$v" \
		"$DATA" "$T_DIR/bad" >"$T_DIR/bad.out" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	T_MOUNTS+=("$T_DIR/bad")
	wait "$pid" && t_fail "quorum_heartbeat_timeout_ms=$v was taken"
	t_forget_pid "$pid"
	grep -q "quorum_heartbeat_timeout_ms=$v: want a number from 2000 to 60000" "$T_DIR/bad.out" ||
		t_fail "quorum_heartbeat_timeout_ms=$v: $(cat "$T_DIR/bad.out")"
done
printf '%s\n' "${report[@]}"
