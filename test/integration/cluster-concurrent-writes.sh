#!/usr/bin/env bash
# Writes to one file from processes on several mounts at once all land.
#
#  - O_APPEND: 2 processes on each of mounts 0 and 1 append 400 records
#    each (one write() of a fixed-length line with the writer's tag and a
#    sequence number), reopening the file every 50 records.  At the end
#    every mount reads the same file: its size is exactly all the
#    records, every line is well formed (none torn or overwritten), every
#    record is there exactly once, and each writer's records are in the
#    order it wrote them.
#  - Disjoint ranges: mounts 0 and 1 pwrite alternate chunks of one file
#    at once (4 MiB in 64 KiB chunks, then 1 MiB in 5000-byte chunks that
#    share blocks with the other mount's chunks); every mount reads
#    exactly the reference bytes.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 240
NREC=400
RECLEN=64

# appender PATH TAG GO: NREC records of RECLEN bytes once GO exists
appender() {
	python3 - "$1" "$2" "$3" "$NREC" "$RECLEN" <<'PY'
import os, sys, time
path, tag, go, n, reclen = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
while not os.path.exists(go):
    time.sleep(0.01)
fd = -1
for i in range(n):
    if i % 50 == 0:
        if fd >= 0:
            os.close(fd)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    head = "%s %06d " % (tag, i)
    rec = (head + "x" * (reclen - len(head) - 1) + "\n").encode()
    w = os.write(fd, rec)
    if w != len(rec):
        sys.exit("%s: short write %d of %d at record %d" % (tag, w, len(rec), i))
os.close(fd)
PY
}

# ---- O_APPEND from two mounts ----------------------------------------
: >"${M[0]}/log" || t_fail "create log on mount 0"
pids=()
tags=()
for m in 0 1; do
	for p in 0 1; do
		tags+=("m${m}p$p")
		appender "${M[m]}/log" "m${m}p$p" "$T_DIR/go" &
		pids+=($!)
	done
done
touch "$T_DIR/go"
for i in "${!pids[@]}"; do
	wait "${pids[i]}" || t_fail "appender ${tags[i]} failed"
done
total=$((${#tags[@]} * NREC * RECLEN))
for m in 0 1 2; do
	size=$(stat -c %s "${M[m]}/log")
	[ "$size" -eq "$total" ] || t_fail "mount $m: the log is $size bytes, want $total (${#tags[@]} writers x $NREC x $RECLEN)"
	python3 - "${M[m]}/log" "$NREC" "$RECLEN" "${tags[@]}" <<'PY' || t_fail "mount $m: the appended records are wrong"
import re, sys
path, n, reclen, tags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
data = open(path, "rb").read()
pat = re.compile(rb"^(m\d+p\d+) (\d{6}) x+$")
seen = {t: [] for t in tags}
lines = data.split(b"\n")
if lines[-1] != b"":
    sys.exit("the log does not end with a newline")
bad = 0
for no, line in enumerate(lines[:-1]):
    m = pat.match(line)
    if len(line) != reclen - 1 or not m or m.group(1).decode() not in seen:
        if bad < 5:
            print("line %d (offset %d) torn: %r" % (no, no * reclen, line[:80]), file=sys.stderr)
        bad += 1
        continue
    seen[m.group(1).decode()].append(int(m.group(2)))
for t in tags:
    if seen[t] != list(range(n)):
        missing = sorted(set(range(n)) - set(seen[t]))
        dups = len(seen[t]) - len(set(seen[t]))
        print("%s: %d records, %d missing (first %s), %d duplicated, in order: %s" %
              (t, len(seen[t]), len(missing), missing[:5], dups, seen[t] == sorted(seen[t])), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
done

# ---- disjoint ranges from two mounts ---------------------------------
# chunker PATH REF CHUNK NCHUNKS PARITY GO: pwrite REF's chunks of
# CHUNK bytes whose index has PARITY, once GO exists
chunker() {
	python3 - "$@" <<'PY'
import os, sys, time
path, ref, chunk, n, parity, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
data = open(ref, "rb").read()
while not os.path.exists(go):
    time.sleep(0.01)
fd = os.open(path, os.O_WRONLY)
for i in range(parity, n, 2):
    off = i * chunk
    if os.pwrite(fd, data[off:off + chunk], off) != chunk:
        sys.exit("short pwrite at %d" % off)
os.close(fd)
PY
}

# (every write moves the inode's lock to the other mount, which commits
# first: a few hundred chunks)
for spec in 65536:4194304 5000:1048576; do
	chunk=${spec%:*}
	n=$((${spec#*:} / chunk))
	head -c $((n * chunk)) /dev/urandom >"$T_DIR/ref"
	f="ranges.$chunk"
	: >"${M[0]}/$f" || t_fail "create $f"
	rm -f "$T_DIR/go"
	chunker "${M[0]}/$f" "$T_DIR/ref" "$chunk" "$n" 0 "$T_DIR/go" &
	p0=$!
	chunker "${M[1]}/$f" "$T_DIR/ref" "$chunk" "$n" 1 "$T_DIR/go" &
	p1=$!
	touch "$T_DIR/go"
	wait "$p0" || t_fail "$chunk-byte chunks: the writer on mount 0 failed"
	wait "$p1" || t_fail "$chunk-byte chunks: the writer on mount 1 failed"
	for m in 0 1 2; do
		if ! cmp "$T_DIR/ref" "${M[m]}/$f" >"$T_DIR/cmp" 2>&1; then
			python3 - "$T_DIR/ref" "${M[m]}/$f" "$chunk" <<'PY' >&2
import sys
a, b, chunk = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
bad = [i for i in range((len(a) + chunk - 1) // chunk) if a[i * chunk:(i + 1) * chunk] != b[i * chunk:(i + 1) * chunk]]
print("size %d want %d; %d of %d chunks differ, first %s (even: mount 0's, odd: mount 1's)" %
      (len(b), len(a), len(bad), len(a) // chunk, bad[:8]))
PY
			t_fail "$chunk-byte chunks: mount $m reads other bytes than were written: $(cat "$T_DIR/cmp")"
		fi
	done
done

t_cluster_umount
echo "cluster-concurrent-writes: appends and disjoint writes from two mounts all landed"
