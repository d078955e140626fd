#!/usr/bin/env bash
# File contents through a live mount: whole and partial-block writes and
# overwrites (read-modify-write), sparse files and reads of holes,
# truncate down (the kept tail of the last block reads as zeros when the
# file grows again) and up, fallocate (allocating, KEEP_SIZE, PUNCH_HOLE,
# unsupported modes), SEEK_DATA/SEEK_HOLE, shared writable mmap, an
# unlinked file readable until its last close, and the data extents in
# scoutfs print.  Output equals the golden file; contents are the same
# after a remount and after a SIGKILL that followed an fsync.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 16G
t_mkfs
M="$T_DIR/mnt"
H="$T_DIR/host"
mkdir -p "$H"
t_mount "$M"
out="$T_DIR/out"

# py CODE ARGS...: a python snippet with os, ctypes, errno and the helpers below
py() {
	local code=$1
	shift
	python3 - "$@" <<PY
import ctypes, errno, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
def falloc(fd, mode, off, ln):
    r = libc.fallocate(fd, mode, off, ln)
    return "ok" if r == 0 else errno.errorcode[ctypes.get_errno()]
def seek(fd, off, whence):
    try:
        return str(os.lseek(fd, off, whence))
    except OSError as e:
        return errno.errorcode[e.errno]
$code
PY
}

# the same bytes on the mount and on the host, or the first difference
same() {
	cmp "$M/$1" "$H/$1" >/dev/null 2>&1 && echo "$1: same" || echo "$1: DIFFERS: $(cmp "$M/$1" "$H/$1" 2>&1)"
}

{
	echo "== small file"
	echo hello >"$M/small"
	cat "$M/small"
	stat -c '%s' "$M/small"

	echo "== 20 MiB copy"
	head -c $((20 << 20)) /dev/urandom >"$H/big"
	cp "$H/big" "$M/big"
	same big

	echo "== partial block overwrites (read-modify-write)"
	for spec in "4095 3" "1 1" "8191 8194" "12345 100000" "20971000 1000"; do
		set -- $spec
		py '
patch = os.urandom(int(sys.argv[2]))
for p in sys.argv[3:]:
    fd = os.open(p, os.O_WRONLY)
    os.pwrite(fd, patch, int(sys.argv[1]))
    os.close(fd)
' "$1" "$2" "$M/big" "$H/big"
		echo "at $1 len $2: $(same big) size $(stat -c %s "$M/big")"
	done

	echo "== sparse"
	dd if=/dev/zero of="$M/sparse" bs=1 count=1 seek=$((1 << 30)) status=none
	dd if=/dev/zero of="$H/sparse" bs=1 count=1 seek=$((1 << 30)) status=none
	printf 'x' | dd of="$M/sparse" bs=1 seek=$((1 << 20)) conv=notrunc status=none
	printf 'x' | dd of="$H/sparse" bs=1 seek=$((1 << 20)) conv=notrunc status=none
	stat -c 'size %s blocks %b' "$M/sparse"
	cmp <(dd if="$M/sparse" bs=64k count=64 status=none) \
	    <(dd if="$H/sparse" bs=64k count=64 status=none) && echo "first 4 MiB same"
	py '
fd = os.open(sys.argv[1], os.O_RDONLY)
print("data from 0:", seek(fd, 0, os.SEEK_DATA), "hole from 0:", seek(fd, 0, os.SEEK_HOLE))
print("data from 1M+1:", seek(fd, (1 << 20) + 1, os.SEEK_DATA), "hole from 1M:", seek(fd, 1 << 20, os.SEEK_HOLE))
print("data from 1M+4096:", seek(fd, (1 << 20) + 4096, os.SEEK_DATA))
print("past EOF:", seek(fd, (1 << 30) + 5, os.SEEK_DATA), seek(fd, (1 << 30) + 5, os.SEEK_HOLE))
' "$M/sparse"

	echo "== truncate"
	head -c 10000 /dev/urandom >"$H/trunc"
	cp "$H/trunc" "$M/trunc"
	truncate -s 5000 "$M/trunc"
	truncate -s 5000 "$H/trunc"
	truncate -s 9000 "$M/trunc"
	truncate -s 9000 "$H/trunc"
	echo "down then up: $(same trunc)"
	echo "bytes 5000..5003: $(t_od "$M/trunc" 5000 4)"
	truncate -s 0 "$M/trunc"
	stat -c 'after truncate to 0: size %s blocks %b' "$M/trunc"
	truncate -s $((3 << 20)) "$M/trunc"
	stat -c 'up to 3 MiB: size %s blocks %b' "$M/trunc"
	cmp -s "$M/trunc" <(head -c $((3 << 20)) /dev/zero) && echo "reads as zeros"

	echo "== fallocate"
	py '
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
print("alloc 1M:", falloc(fd, 0, 0, 1 << 20), "size", os.fstat(fd).st_size, "blocks", os.fstat(fd).st_blocks)
print("reads zeros:", os.pread(fd, 1 << 20, 0) == bytes(1 << 20))
print("keep size 1M..2M:", falloc(fd, 1, 1 << 20, 1 << 20), "size", os.fstat(fd).st_size, "blocks", os.fstat(fd).st_blocks)
print("data from 0:", seek(fd, 0, os.SEEK_DATA), "hole from 0:", seek(fd, 0, os.SEEK_HOLE))
os.pwrite(fd, b"y" * 10000, 100)
print("written into it:", os.pread(fd, 3, 99), os.pread(fd, 3, 10099))
print("punch without keep size:", falloc(fd, 2, 0, 4096))
print("punch 50..8292:", falloc(fd, 3, 50, 8242))
print("after punch:", os.pread(fd, 60, 40).count(b"y"), os.pread(fd, 10, 8290))
print("hole from 0:", seek(fd, 0, os.SEEK_HOLE), "data from 4096:", seek(fd, 4096, os.SEEK_DATA))
print("punch past EOF:", falloc(fd, 3, 2 << 20, 4096), "size", os.fstat(fd).st_size)
print("zero range:", falloc(fd, 0x10, 0, 4096), "collapse:", falloc(fd, 0x08, 0, 4096))
os.close(fd)
d = os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY)
print("on a directory:", falloc(d, 0, 0, 4096))
' "$M/falloc"

	echo "== mmap"
	py '
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 3 * 4096 + 100)
m = mmap.mmap(fd, 3 * 4096 + 100, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[5000:5010] = b"0123456789"
m[12300:12310] = b"abcdefghij"
m.flush()
m.close()
print(os.pread(fd, 10, 5000), os.pread(fd, 10, 12300), os.pread(fd, 4, 0))
os.close(fd)
' "$M/mm"

	echo "== unlinked while open"
	head -c 300000 /dev/urandom >"$H/open"
	cp "$H/open" "$M/open"
	py '
fd = os.open(sys.argv[1], os.O_RDWR)
os.unlink(sys.argv[1])
print("gone from the directory:", not os.path.exists(sys.argv[1]))
os.pwrite(fd, b"z" * 5, 7)
want = bytearray(open(sys.argv[2], "rb").read())
want[7:12] = b"z" * 5
print("still reads:", os.pread(fd, 400000, 0) == bytes(want))
os.close(fd)
' "$M/open" "$H/open"
} >"$out" 2>&1

# commit the open transaction: sync(2) never reaches a FUSE daemon, fsync does
commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$M"
}

# freed blocks come back to the volume once the freeing transaction committed
commit
free1=$(stat -f -c %f "$M")
head -c $((8 << 20)) /dev/zero >"$M/eight"
commit
free2=$(stat -f -c %f "$M")
rm "$M/eight"
commit
commit
free3=$(stat -f -c %f "$M")
[ $((free1 - free2)) -ge 2048 ] || t_fail "8 MiB written, free blocks went from $free1 to $free2"
[ "$free3" -ge "$free1" ] || t_fail "8 MiB file removed, free blocks $free3, before it $free1"

# every file's bytes
sums() {
	(cd "$M" && for f in small big sparse trunc falloc mm; do echo "$f $(md5sum <"$f" | cut -d' ' -f1) $(stat -c %s "$f")"; done)
}
sums >"$T_DIR/sums1"

# the extents are on disk and scoutfs print reads them
t_umount "$M"
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>&1 || t_fail "scoutfs print failed: $(tail -3 "$T_DIR/print")"
grep -Eq "^    extent: ino [0-9]+ iblock 0 len [0-9]+ blkno [1-9]" "$T_DIR/print" ||
	t_fail "no data extent items in scoutfs print"
t_mount "$M"
sums >"$T_DIR/sums2"
diff -u "$T_DIR/sums1" "$T_DIR/sums2" >&2 || t_fail "contents changed across a remount"
echo "== after remount: same" >>"$out"

# SIGKILL after fsync: every fsynced byte is there
head -c $((5 << 20)) /dev/urandom >"$H/synced"
py '
src = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, src)
os.fsync(fd)
os.close(fd)
' "$M/synced" "$H/synced"
t_kill_mount "$M"
t_mount "$M"
cmp "$M/synced" "$H/synced" >&2 || t_fail "fsynced file differs after SIGKILL and remount"
sums >"$T_DIR/sums3"
diff -u "$T_DIR/sums1" "$T_DIR/sums3" >&2 || t_fail "contents changed across SIGKILL and remount"
echo "== after SIGKILL and remount: same" >>"$out"
t_umount "$M"

t_golden fs-data "$out"
