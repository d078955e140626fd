#!/usr/bin/env bash
# mkfs and print on real block devices (loop devices over sparse images):
# sizes come from the device, print reads what mkfs wrote, and a device
# another process holds open exclusively is refused with one line and
# left untouched.
. "$(dirname "$0")/../funcs.sh"

[ "$(id -u)" -eq 0 ] || t_skip "needs root for loop devices"
command -v losetup >/dev/null || t_skip "no losetup"

LOOPS=()
cleanup_loops() {
	local l
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	t_cleanup
}
trap cleanup_loops EXIT

t_images 96M 32M
lmeta=$(losetup --find --show "$META" 2>/dev/null) || t_skip "cannot set up a loop device"
LOOPS+=("$lmeta")
ldata=$(losetup --find --show "$DATA") || t_fail "losetup data"
LOOPS+=("$ldata")

"$SCOUTFS_MKFS" -A -Q 0,127.0.0.1,42000 "$lmeta" "$ldata" >"$T_DIR/summary" 2>"$T_DIR/err" ||
	t_fail "mkfs on loop devices: $(cat "$T_DIR/err")"
grep -qx "  64KB metadata blocks: 1536 (96.00 MB)" "$T_DIR/summary" || t_fail "meta size: $(cat "$T_DIR/summary")"
grep -qx "  4KB data blocks:      8192 (32.00 MB)" "$T_DIR/summary" || t_fail "data size: $(cat "$T_DIR/summary")"

"$SCOUTFS" print "$lmeta" >"$T_DIR/print" 2>"$T_DIR/err" || t_fail "print on a loop device: $(cat "$T_DIR/err")"
grep -q "^fs_root btree blkno 2$" "$T_DIR/print" || t_fail "print output lacks the fs_root"
grep -q "free extent: blkno 64 len 8128 end 8191" "$T_DIR/print" || t_fail "print output lacks the data extent"
t_expect_fail "data device|IS_META|meta device" "$SCOUTFS" print "$ldata"

# a device held open with O_EXCL (as a mounted one is) is busy
before=$(t_sum "$META" "$DATA")
python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
open(sys.argv[2], "w").close()
time.sleep(30)' "$ldata" "$T_DIR/held" &
T_PIDS+=($!)
for _ in $(seq 100); do [ -f "$T_DIR/held" ] && break; sleep 0.1; done
[ -f "$T_DIR/held" ] || t_fail "could not hold the data device open"
t_expect_fail "data device .*busy" "$SCOUTFS_MKFS" -f -A -Q 0,127.0.0.1,42000 "$lmeta" "$ldata"
[ "$(t_sum "$META" "$DATA")" = "$before" ] || t_fail "a refused mkfs changed the devices"

echo "mkfs on block devices: ok"
