#!/usr/bin/env bash
# A full data device: writes fail with ENOSPC (a short write first, then
# the error), nothing already written is damaged, deleting files frees
# their blocks so writing works again, and the volume mounts again with
# everything that was written before it filled.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 1G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"

commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$M"
}

head -c $((64 << 20)) /dev/urandom >"$T_DIR/keep"
cp "$T_DIR/keep" "$M/keep" || t_fail "writing the first file"
commit

# fill: dd stops at the first error; it must be ENOSPC
dd if=/dev/zero of="$M/fill" bs=1M status=none 2>"$T_DIR/dd.err" &&
	t_fail "a 1 GiB data device took more than 1 GiB"
grep -q "No space left on device" "$T_DIR/dd.err" || t_fail "dd failed with: $(cat "$T_DIR/dd.err")"
size=$(stat -c %s "$M/fill")
[ "$size" -gt $((800 << 20)) ] || t_fail "the device filled after only $size bytes"
avail=$(stat -f -c %a "$M")
[ "$avail" -lt 256 ] || t_fail "ENOSPC with $avail blocks free"

# more writes fail the same way, in a new file and appending
echo x >"$M/more" 2>"$T_DIR/err" && t_fail "a write on a full device succeeded"
grep -q "No space left on device" "$T_DIR/err" || t_fail "write on a full device: $(cat "$T_DIR/err")"
cmp "$M/keep" "$T_DIR/keep" || t_fail "a file written before the device filled changed"

# names and inodes still work: metadata has its own device
mkdir "$M/dir" || t_fail "mkdir on a full data device"
ln "$M/keep" "$M/dir/keep2" || t_fail "link on a full data device"

# deleting frees: the next writes succeed
rm "$M/fill"
head -c $((100 << 20)) /dev/urandom >"$T_DIR/after"
cp "$T_DIR/after" "$M/after" || t_fail "writing after deleting the filler"
cmp "$M/after" "$T_DIR/after" || t_fail "file written after deleting differs"

# fallocate runs out the same way, and the space comes back
fallocate -l 2G "$M/prealloc" 2>"$T_DIR/err" && t_fail "fallocate of 2 GiB on a 1 GiB device succeeded"
grep -q "No space left on device" "$T_DIR/err" || t_fail "fallocate: $(cat "$T_DIR/err")"
rm -f "$M/prealloc"
commit
head -c $((10 << 20)) /dev/urandom >"$M/last" || t_fail "writing after the failed fallocate"

t_umount "$M"
t_mount "$M"
cmp "$M/keep" "$T_DIR/keep" || t_fail "keep differs after remount"
cmp "$M/dir/keep2" "$T_DIR/keep" || t_fail "the link differs after remount"
cmp "$M/after" "$T_DIR/after" || t_fail "after differs after remount"
t_umount "$M"
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>&1 || t_fail "scoutfs print: $(tail -3 "$T_DIR/print")"
echo "full data device: ENOSPC, nothing damaged, deletion frees space"
