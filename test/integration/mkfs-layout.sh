#!/usr/bin/env bash
# A volume made by our mkfs matches the reference vectors field for field,
# apart from the random (fsid, uuid), time-dependent (root inode times) and
# derived (crc) fields, and the reference's uninitialised quorum slot bytes.
# Checked for format versions 2 and 1, then the summary, IPv6-only slots,
# -z, -m/-d caps and the write order's end state.
. "$(dirname "$0")/../funcs.sh"

compare() {	# VERS
	python3 - "$SFS_VECTORS_DIR/v$1" "$META" "$DATA" <<'PY'
import struct, sys
vdir, meta, data = sys.argv[1:4]
SM, LG = 4096, 65536

def rd(path, off, n):
    with open(path, 'rb') as f:
        f.seek(off)
        return bytearray(f.read(n))

def vec(name):
    return bytearray(open(f"{vdir}/{name}", 'rb').read())

def crc_ok(b):
    # the crc itself is checked by the unit tests; here the field must be non-zero
    return struct.unpack_from('<I', b, 0)[0] != 0

def masked(b, ranges):
    b = bytearray(b)
    for lo, hi in ranges:
        b[lo:hi] = bytes(hi - lo)
    return b

failed = False
def check(name, ours, theirs, ranges):
    global failed
    a, b = masked(ours, ranges), masked(theirs, ranges)
    if a != b:
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        print(f"{name}: {len(diffs)} bytes differ, first at offsets {diffs[:8]}")
        failed = True
    else:
        print(f"{name}: matches")

hdr = [(0, 4), (8, 16)]                      # crc, fsid
slot_garbage = [(120 + 32 * i + 8, 120 + 32 * (i + 1)) for i in range(15)]
super_mask = hdr + [(56, 72)] + slot_garbage # + uuid
import os
files = sorted(os.listdir(vdir))
ms = rd(meta, 16 * SM, SM)
check("meta super", ms, vec("meta-super.bin"), super_mask)
ds = rd(data, 16 * SM, SM)
check("data super", ds, vec("data-super.bin"), super_mask)
# our own copies agree on everything the vectors' pair agrees on
if masked(ms, [(0, 4), (48, 56)]) != masked(ds, [(0, 4), (48, 56)]):
    print("meta and data supers differ beyond crc and flags"); failed = True
if "meta-quorum-slot0.bin" in files:
    check("quorum slot 0", rd(meta, 17 * SM, SM), vec("meta-quorum-slot0.bin"), hdr)
leaf = vec("meta-fs_root-leaf.bin")
val_off = struct.unpack_from('<H', leaf, 104 + 48)[0]
check("fs_root leaf", rd(meta, 2 * LG, LG), leaf, hdr + [(val_off + 96, val_off + 160)])
for name, blk in (("meta-server_meta_avail0-list.bin", 3),
                  ("meta-data_alloc-btree.bin", 1028),
                  ("meta-meta_alloc0-btree.bin", 1029)):
    if name in files:
        check(name, rd(meta, blk * LG, LG), vec(name), hdr)
# every quorum block: magic, fsid of the volume, blkno, seq 1, rest zero
fsid = ms[8:16]
for i in range(15):
    q = rd(meta, (17 + i) * SM, SM)
    magic, = struct.unpack_from('<I', q, 4)
    seq, blkno = struct.unpack_from('<QQ', q, 16)
    if magic != 0xbc310868 or q[8:16] != fsid or seq != 1 or blkno != 17 + i or any(q[32:]) or not crc_ok(q):
        print(f"quorum block {17 + i} is wrong"); failed = True
# the root inode times are the same valid time in all four fields
t = leaf_ours = rd(meta, 2 * LG, LG)
times = [bytes(t[val_off + 96 + 16 * k: val_off + 112 + 16 * k]) for k in range(4)]
if len(set(times)) != 1 or struct.unpack_from('<Q', times[0], 0)[0] < 1700000000:
    print("root inode times are wrong"); failed = True
sys.exit(1 if failed else 0)
PY
}

Q3="-Q 0,127.0.0.1,42000 -Q 1,127.0.0.1,42001 -Q 2,127.0.0.1,42002"

# the vectors' geometry: 1 GiB meta, 2 GiB data
t_images 1G 2G
"$SCOUTFS_MKFS" -A $Q3 "$META" "$DATA" >"$T_DIR/summary" 2>"$T_DIR/err" || t_fail "mkfs v2: $(cat "$T_DIR/err")"
compare 2 || t_fail "v2 volume differs from the vectors"

# the summary, as the reference prints it
fsid=$(python3 -c "import struct,sys; f=open(sys.argv[1],'rb'); f.seek(65536+8); print('%x' % struct.unpack('<Q', f.read(8))[0])" "$META")
grep -qx "Created scoutfs filesystem:" "$T_DIR/summary" || t_fail "summary header"
grep -qx "  meta device path:     $META" "$T_DIR/summary" || t_fail "summary meta path"
grep -qx "  data device path:     $DATA" "$T_DIR/summary" || t_fail "summary data path"
grep -qx "  fsid:                 $fsid" "$T_DIR/summary" || t_fail "summary fsid"
grep -Eqx "  uuid:                 [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" "$T_DIR/summary" || t_fail "summary uuid"
grep -qx "  format version:       2" "$T_DIR/summary" || t_fail "summary version"
grep -qx "  64KB metadata blocks: 16384 (1.00 GB)" "$T_DIR/summary" || t_fail "summary meta blocks"
grep -qx "  4KB data blocks:      524288 (2.00 GB)" "$T_DIR/summary" || t_fail "summary data blocks"
grep -qx "  quorum slots:         0: 127.0.0.1:42000" "$T_DIR/summary" || t_fail "summary slot 0"
grep -qx "                        2: 127.0.0.1:42002" "$T_DIR/summary" || t_fail "summary slot 2"
grep -q "Warning: meta device .* under the 64.00 GiB minimum" "$T_DIR/err" || t_fail "no warning for a small device with -A"

# format version 1
t_images 1G 2G
"$SCOUTFS_MKFS" -A -V 1 $Q3 "$META" "$DATA" >/dev/null 2>&1 || t_fail "mkfs v1"
compare 1 || t_fail "v1 volume differs from the vectors"

# IPv6-only volumes are valid: family 2, port, network-order address
t_images 256M 128M
"$SCOUTFS_MKFS" -A -Q 4,fd00::7,42004 "$META" "$DATA" >"$T_DIR/summary" 2>/dev/null || t_fail "IPv6 mkfs"
grep -qx "  quorum slots:         4: \[fd00::7\]:42004" "$T_DIR/summary" || t_fail "IPv6 summary: $(cat "$T_DIR/summary")"
slot=$(t_od "$META" $((65536 + 120 + 32 * 4)) 32)
[ "$slot" = "020014a4fd000000000000000000000000000007000000000000000000000000" ] || t_fail "IPv6 slot bytes $slot"

# -m / -d cap the totals (rounded down to the block size), -z sets the option
t_images 300M 5G
"$SCOUTFS_MKFS" -A -m 200M -d 4100M -z 1048576 -Q 0,10.0.0.1,42000 "$META" "$DATA" >/dev/null 2>"$T_DIR/err" || t_fail "mkfs -m -d -z: $(cat "$T_DIR/err")"
read -r tm td < <(python3 -c "import struct,sys; f=open(sys.argv[1],'rb'); f.seek(65536+96); print(*struct.unpack('<QQ', f.read(16)))" "$META")
[ "$tm" = 3200 ] || t_fail "total_meta_blocks $tm, expected 3200"
[ "$td" = 1049600 ] || t_fail "total_data_blocks $td, expected 1049600"
[ "$(t_od "$META" $((65536 + 968)) 16)" = "01000000000000000000100000000000" ] || t_fail "volopt zone blocks"
"$SCOUTFS_MKFS" -A -f -m 100000000 -Q 0,10.0.0.1,42000 "$META" "$DATA" >/dev/null 2>"$T_DIR/err" || t_fail "mkfs -m unaligned"
grep -q "Meta dev size 100000000 rounded down to 99942400 bytes" "$T_DIR/err" || t_fail "no rounding note"

echo "mkfs layout: ok"
