#!/usr/bin/env bash
# Unlinked files still open when the daemon dies: their ORPHAN items
# survive the crash, and the orphan scan of the next mount deletes their
# inodes, items and blocks (the space comes back).  A file unlinked while
# open on a live mount is not touched by the scan until its last close.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 8G
t_mkfs
M="$T_DIR/mnt"
log="$T_DIR/scoutfsd.mnt.log"
t_mount "$M" "orphan_scan_delay_ms=100"

fsync_path() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$1"
}

# a live orphan: open, unlinked, written; the scans must leave it alone
python3 - "$M/live" "$T_DIR/live.ready" "$T_DIR/live.go" "$T_DIR/live.result" <<'PY' &
import os, sys, time
path, ready, go, result = sys.argv[1:5]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
data = os.urandom(1 << 20)
os.write(fd, data)
os.unlink(path)
os.fsync(fd)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
ok = os.pread(fd, 1 << 20, 0) == data
os.close(fd)
open(result, "w").write("intact\n" if ok else "CHANGED\n")
PY
pypid=$!
for i in $(seq 200); do [ -e "$T_DIR/live.ready" ] && break; sleep 0.05; done
[ -e "$T_DIR/live.ready" ] || t_fail "the live orphan was not set up"
sleep 1	# ten scans
touch "$T_DIR/live.go"
wait "$pypid"
[ "$(cat "$T_DIR/live.result")" = intact ] || t_fail "a scan changed an open unlinked file"

# crash orphans: unlinked while open, then the daemon is killed
fsync_path "$M"
free0=$(stat -f -c %f "$M")
python3 - "$M" "$T_DIR/crash.ready" <<'PY' &
import os, sys, time
fds = []
for i in range(3):
    p = os.path.join(sys.argv[1], "crash%d" % i)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, os.urandom(4 << 20))
    os.unlink(p)
    fds.append(fd)
os.fsync(fds[0])
open(sys.argv[2], "w").close()
time.sleep(600)	# killed below, files still open
PY
holder=$!
T_PIDS+=("$holder")
for i in $(seq 200); do [ -e "$T_DIR/crash.ready" ] && break; sleep 0.05; done
[ -e "$T_DIR/crash.ready" ] || t_fail "the crash orphans were not set up"
t_kill_mount "$M"
kill -9 "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

"$SCOUTFS" print "$META" >"$T_DIR/print1" 2>&1 || t_fail "print after the kill"
orphans=$(t_live_fs_keys "$T_DIR/print1" | grep -c '^8\.0\.4\.')
[ "$orphans" -ge 3 ] || t_fail "expected 3 orphan items after the kill, print shows $orphans"

# the dead mount is reclaimed after the server's 30 s reconnect window;
# until then nobody can say it has nothing open (the open-inode map waits)
t_mount "$M" "orphan_scan_delay_ms=100"
for i in $(seq 600); do
	[ "$(grep -c "orphan scan: deleted unlinked inode" "$log")" -ge 3 ] && break
	sleep 0.1
done
[ "$(grep -c "orphan scan: deleted unlinked inode" "$log")" -ge 3 ] ||
	t_fail "the orphan scan did not delete the 3 crash orphans: $(grep orphan "$log" | tail -3)"
fsync_path "$M"
fsync_path "$M"
free1=$(stat -f -c %f "$M")
[ "$free1" -ge "$free0" ] || t_fail "orphans' blocks not freed: $free1 free blocks, $free0 before them"
t_umount "$M"
"$SCOUTFS" print "$META" >"$T_DIR/print2" 2>&1 || t_fail "print after the scan"
t_live_fs_keys "$T_DIR/print2" | grep '^8\.0\.4\.' >"$T_DIR/left"
[ -s "$T_DIR/left" ] && t_fail "orphan items left: $(head -3 "$T_DIR/left")"
echo "crash orphans deleted by the scan, live ones kept"
