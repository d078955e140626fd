#!/usr/bin/env bash
# Server failover and lock recovery under heavy cross-mount invalidation
# (reference test lock-recover-invalidate).  3 quorum members and 2 plain
# clients; every mount runs a load on the SAME few files and directories,
# so their locks bounce between the mounts all the time: rewrite a
# 64-byte record (tag, seq, crc) in place, read and stat the others,
# create, list and unlink names in shared directories, set and get an
# xattr of a shared directory.  ROUNDS (4) times, under that load, the
# leader is SIGKILLed (its load with it) and its slot mounted again with
# a new load, scoutfs-fenced fencing the dead ones.  Each round:
#  - no operation of a live load fails, and every record or xattr it
#    reads is whole (its crc checks out);
#  - with every load paused, fsync on every mount, then every mount
#    reads the same records and xattrs, each one whole and written by a
#    load (its seq no more than that load wrote), and the newest: not a
#    write that a live load's later write followed (no stale value
#    after the lock recovery);
#  - the killed slot mounts again, and every load went on.
. "$(dirname "$0")/../funcs.sh"

ROUNDS=${ROUNDS:-4}

OPTS="quorum_heartbeat_timeout_ms=2000,recovery_window_ms=4000"
t_cluster 5 "$OPTS"
t_watchdog 600
t_fenced

NF=3 ND=2
mkdir "${T_CMNT[0]}/s" || t_fail "mkdir s"
python3 - "${T_CMNT[0]}/s" "$NF" "$ND" <<'PY' || t_fail "the shared files"
import os, sys, zlib
d, nf, nd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rec(tag, seq):
    b = "%s %d" % (tag, seq)
    return ("%s %08x" % (b, zlib.crc32(b.encode()))).ljust(63).encode() + b"\n"
for k in range(nf):
    with open(os.path.join(d, "f%d" % k), "wb") as f:
        f.write(rec("init", 0))
for j in range(nd):
    os.mkdir(os.path.join(d, "d%d" % j))
    os.setxattr(os.path.join(d, "d%d" % j), "user.v", rec("init", 0))
PY
t_fsync "${T_CMNT[0]}/s" "${T_CMNT[0]}"

cat >"$T_DIR/load.py" <<'PY'
# load.py DIR TAG TDIR NF ND: the load of one mount (see the test)
import json, os, sys, time, zlib
d, tag, t, nf, nd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

def rec(tag, seq):
    b = "%s %d" % (tag, seq)
    return ("%s %08x" % (b, zlib.crc32(b.encode()))).ljust(63).encode() + b"\n"

def whole(v):
    if len(v) != 64 or not v.endswith(b"\n"):
        return False
    p = v.decode(errors="replace").split()
    return len(p) == 3 and p[1].isdigit() and rec(p[0], int(p[1])) == v

seq = 0
ops = 0
last = {}       # name: [seq, start, end] of our last write
op = "start"
def fail(why):
    with open(os.path.join(t, "fail." + tag), "w") as f:
        f.write("%s: op %d (%s): %s\n" % (tag, ops, op, why))
    sys.exit(1)

def paused():
    with open(os.path.join(t, "state." + tag + ".tmp"), "w") as f:
        json.dump({"seq": seq, "ops": ops, "last": last}, f)
    os.rename(os.path.join(t, "state." + tag + ".tmp"), os.path.join(t, "state." + tag))
    open(os.path.join(t, "paused." + tag), "w").close()
    while os.path.exists(os.path.join(t, "pause")):
        time.sleep(0.02)
    os.unlink(os.path.join(t, "paused." + tag))

i = 0
while not os.path.exists(os.path.join(t, "stop")):
    if os.path.exists(os.path.join(t, "pause")):
        paused()
        continue
    k, j = i % nf, i % nd
    i += 1
    f = os.path.join(d, "f%d" % k)
    dj = os.path.join(d, "d%d" % j)
    try:
        op = "write f%d" % k
        seq += 1
        s = time.monotonic()
        fd = os.open(f, os.O_WRONLY)
        os.pwrite(fd, rec(tag, seq), 0)
        os.close(fd)
        last["f%d" % k] = [seq, s, time.monotonic()]
        ops += 1
        op = "read f%d" % ((k + 1) % nf)
        with open(os.path.join(d, "f%d" % ((k + 1) % nf)), "rb") as fh:
            v = fh.read(128)
        if not whole(v):
            fail("read %r" % v)
        ops += 1
        op = "stat f%d" % ((k + 2) % nf)
        st = os.stat(os.path.join(d, "f%d" % ((k + 2) % nf)))
        if st.st_size != 64:
            fail("size %d" % st.st_size)
        ops += 1
        op = "create d%d/n.%s" % (j, tag)
        n = os.path.join(dj, "n." + tag)
        os.close(os.open(n, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        op = "listdir d%d" % j
        names = os.listdir(dj)
        if "n." + tag not in names or any(not x.startswith("n.") for x in names):
            fail("listed %r" % names)
        op = "unlink d%d/n.%s" % (j, tag)
        os.unlink(n)
        ops += 3
        op = "setxattr d%d" % j
        seq += 1
        s = time.monotonic()
        os.setxattr(dj, "user.v", rec(tag, seq))
        last["d%d" % j] = [seq, s, time.monotonic()]
        op = "getxattr d%d" % ((j + 1) % nd)
        v = os.getxattr(os.path.join(d, "d%d" % ((j + 1) % nd)), "user.v")
        if not whole(v):
            fail("xattr %r" % v)
        ops += 2
        if i == 1:
            open(os.path.join(t, "started." + tag), "w").close()
    except OSError as e:
        fail(str(e))
PY

# check.py TDIR NF ND LIVE_TAGS DEAD MNT...: every mount reads the same
# whole records and xattrs, the newest a live load wrote (or, if it is a
# dead load's, one no live load wrote after: DEAD is "TAG:TIME ...", the
# CLOCK_MONOTONIC time once each dead load's mount was killed)
cat >"$T_DIR/check.py" <<'PY'
import json, os, sys, zlib
t, nf, nd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
live, mnts = sys.argv[4].split(), sys.argv[6:]
dead = dict((d.split(":")[0], float(d.split(":")[1])) for d in sys.argv[5].split())
st = {tag: json.load(open(os.path.join(t, "state." + tag))) for tag in live}
def rec(tag, seq):
    b = "%s %d" % (tag, seq)
    return ("%s %08x" % (b, zlib.crc32(b.encode()))).ljust(63).encode() + b"\n"
bad = []
names = ["f%d" % k for k in range(nf)] + ["d%d" % j for j in range(nd)]
for name in names:
    vals = []
    for m in mnts:
        p = os.path.join(m, "s", name)
        try:
            v = open(p, "rb").read() if name[0] == "f" else os.getxattr(p, "user.v")
        except OSError as e:
            bad.append("%s: %s" % (p, e))
            continue
        vals.append(v)
    if len(set(vals)) > 1:
        bad.append("%s: the mounts disagree: %r" % (name, sorted(set(vals))))
        continue
    if not vals:
        continue
    v = vals[0]
    w = v.decode(errors="replace").split()
    if len(w) != 3 or not w[1].isdigit() or rec(w[0], int(w[1])) != v:
        bad.append("%s: torn: %r" % (name, v))
        continue
    tag, seq = w[0], int(w[1])
    if tag in live and seq > st[tag]["seq"]:
        bad.append("%s: %s seq %d was never written (at most %d)" % (name, tag, seq, st[tag]["seq"]))
    if tag not in live and tag not in dead and tag != "init":
        bad.append("%s: written by an unknown load %r" % (name, tag))
    # newest: no live load's last write of it started after this one
    # ended (for a dead load's: after its mount was killed)
    if tag in live:
        mine = st[tag]["last"].get(name)
        if not mine or mine[0] != seq:
            bad.append("%s: %s seq %d, but %s wrote it last with seq %s" %
                       (name, tag, seq, tag, mine and mine[0]))
            continue
        end = mine[2]
    else:
        end = dead.get(tag, 0.0)
    for o in live:
        lw = st[o]["last"].get(name)
        if o == tag or not lw:
            continue
        if lw[1] > end:
            bad.append("%s holds %s seq %d, older than %s's write seq %d" % (name, tag, seq, o, lw[0]))
with open(os.path.join(t, "check.out"), "w") as f:
    f.write("; ".join(bad[:6]) + "\n")
sys.exit(1 if bad else 0)
PY

declare -A TAG=() LPID=()
DEAD=()
start_load() {
	local i=$1 tag=$2
	TAG[$i]=$tag
	python3 "$T_DIR/load.py" "${T_CMNT[i]}/s" "$tag" "$T_DIR" "$NF" "$ND" &
	LPID[$i]=$!
	T_PIDS+=("$!")
}
live_tags() {
	local i
	for ((i = 0; i < T_CN; i++)); do echo -n "${TAG[$i]} "; done
}
check_fail() {
	local i
	for ((i = 0; i < T_CN; i++)); do
		[ ! -e "$T_DIR/fail.${TAG[$i]}" ] || t_fail "round $r: mount $i's load failed: $(cat "$T_DIR/fail.${TAG[$i]}")"
		kill -0 "${LPID[$i]}" 2>/dev/null || t_fail "round $r: mount $i's load exited"
	done
}
# pause_all: every live load paused (each finished the operation it was in)
pause_all() {
	local i n
	touch "$T_DIR/pause"
	for ((n = 0; n < 1200; n++)); do
		check_fail
		for ((i = 0; i < T_CN; i++)); do
			[ -e "$T_DIR/paused.${TAG[$i]}" ] || break
		done
		[ "$i" -eq "$T_CN" ] && return 0
		sleep 0.05
	done
	t_fail "round $r: the loads did not pause in 60 s (mount $i's, ${TAG[$i]})"
}
resume_all() {
	local i n
	rm -f "$T_DIR/pause"
	for ((n = 0; n < 600; n++)); do
		for ((i = 0; i < T_CN; i++)); do
			[ ! -e "$T_DIR/paused.${TAG[$i]}" ] || break
		done
		[ "$i" -eq "$T_CN" ] && return 0
		sleep 0.05
	done
	t_fail "round $r: the loads did not resume"
}
ops_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ops"])' "$T_DIR/state.$1"; }

for ((i = 0; i < T_CN; i++)); do start_load "$i" "m$i"; done
sleep 2
declare -A OPS0=()
for ((r = 1; r <= ROUNDS; r++)); do
	read -r srv term _ < <(t_quorum_server "$META" 3)
	[ "$srv" -ge 0 ] || t_fail "round $r: no leader"
	# its load fails on the dead mount and exits (never SIGKILLed by
	# pid: it may be gone, its pid someone else's)
	t_kill_mount "${T_CMNT[$srv]}"
	DEAD+=("${TAG[$srv]}:$(python3 -c 'import time; print("%.6f" % time.monotonic())')")
	wait "${LPID[$srv]}" 2>/dev/null
	t_forget_pid "${LPID[$srv]}"
	rm -f "$T_DIR/paused.${TAG[$srv]}"

	# the slot mounts again once a new server runs, and loads again
	for ((i = 0; i < 600; i++)); do
		read -r nsrv nterm _ < <(t_quorum_server "$META" 3)
		[ "$nsrv" -ge 0 ] && [ "$nterm" -gt "$term" ] && break
		sleep 0.1
	done
	[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] && [ "$nterm" -gt "$term" ] ||
		t_fail "round $r: no new leader (slot $nsrv term $nterm, was slot $srv term $term)"
	t_mount_slot "${T_CMNT[$srv]}" "$srv" "$OPTS"
	T_CPID[srv]=${T_MOUNT_PID[${T_CMNT[$srv]}]}
	t_mount_wait "${T_CMNT[$srv]}" 60
	t_fuse_conn "${T_CMNT[$srv]}"
	start_load "$srv" "r${r}m$srv"
	# its first round of operations done, the loads go on a while
	for ((i = 0; i < 1200; i++)); do
		[ -e "$T_DIR/started.${TAG[$srv]}" ] && break
		check_fail
		sleep 0.05
	done
	[ -e "$T_DIR/started.${TAG[$srv]}" ] ||
		t_fail "round $r: the load of the remounted slot $srv did no round of operations in 60 s"
	sleep 2
	check_fail

	pause_all
	for ((i = 0; i < T_CN; i++)); do
		t_fsync "${T_CMNT[i]}/s/f0" "${T_CMNT[i]}/s/f1" "${T_CMNT[i]}/s/f2" "${T_CMNT[i]}/s" "${T_CMNT[i]}"
	done
	python3 "$T_DIR/check.py" "$T_DIR" "$NF" "$ND" "$(live_tags)" "${DEAD[*]}" "${T_CMNT[@]}" ||
		t_fail "round $r (slot $srv killed, slot $nsrv leads term $nterm): $(cat "$T_DIR/check.out")"
	for ((i = 0; i < T_CN; i++)); do
		n=$(ops_of "${TAG[$i]}")
		[ "$n" -gt "${OPS0[${TAG[$i]}]:-0}" ] || t_fail "round $r: mount $i's load did nothing ($n operations)"
		OPS0[${TAG[$i]}]=$n
	done
	echo "round $r: slot $srv killed, slot $nsrv leads term $nterm; operations per load: $(for ((i = 0; i < T_CN; i++)); do echo -n "${OPS0[${TAG[$i]}]} "; done)"
	resume_all
done

touch "$T_DIR/stop"
rm -f "$T_DIR/pause"
for ((i = 0; i < T_CN; i++)); do
	wait "${LPID[$i]}" || t_fail "mount $i's load: $(cat "$T_DIR/fail.${TAG[$i]}" 2>/dev/null)"
	t_forget_pid "${LPID[$i]}"
done
n=$(grep -c 'fence: rid [0-9a-f]* (quorum_block_leader) fenced after' "$T_DIR"/scoutfsd.mnt*.log | awk -F: '{ s += $2 } END { print s }')
[ "$n" -ge "$ROUNDS" ] || t_fail "$n old leaders fenced in $ROUNDS rounds"
# the last server alone sent invalidations by the hundred
read -r srv _ _ < <(t_quorum_server "$META" 3)
inval=$(t_scoutfs_at "${T_CMNT[$srv]}" counters -p "${T_CMNT[$srv]}" | awk '$1 == "lock_server_invalidate" { print $2 }')
[ "${inval:-0}" -ge 100 ] || t_fail "the last server sent ${inval:-no} invalidations"
echo "the last server (slot $srv) sent $inval invalidations"
for ((i = 0; i < T_CN; i++)); do t_kill_mount "${T_CMNT[i]}"; done
