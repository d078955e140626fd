#!/usr/bin/env bash
# Data space moves between mounts (server.c "Data space"): on a 2 GiB data
# device, mount A (quorum slot 0, the server) takes the whole free space
# before mount B (a plain client) arrives, and still:
#  - B writes 60% of the volume (A gives back beyond its share when B runs
#    short: SYNC_LOG_TREES, then A's next transaction);
#  - rounds of: one mount writes a file of 60% of the volume, the other
#    removes it, alternating, never fail with ENOSPC (what one mount frees
#    goes back to the server at its next commit and the other gets it);
#  - once the files are gone both mounts report the space free again;
#  - both mounts write 40% of the volume each at the same time.
# Modelled on the reference's cross-mount-data-free test.
. "$(dirname "$0")/../funcs.sh"

[ "$(id -u)" -eq 0 ] || t_skip "mounting needs root"
[ -e /dev/fuse ] || t_skip "no /dev/fuse"

t_images 2G 2G
t_mkfs
A="$T_DIR/a"
B="$T_DIR/b"
t_mount "$A"
# A's first transaction took everything free: the volume's only mount
echo first >"$A/first" || t_fail "A's first write"
t_mount_client "$B"
t_mount_wait "$B"

bsize=$(stat -f -c %S "$A")
total=$(($(stat -f -c %b "$A") * bsize))
[ "$total" -gt $((1900 << 20)) ] || t_fail "a 2 GiB data device has only $total bytes"
mib60=$((total * 60 / 100 >> 20))
mib40=$((total * 40 / 100 >> 20))

# commit MNT: the mount's open transaction committed (fsync of its root)
commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$1"
}

# write MNT NAME MIB: a file of MIB MiB, or the test fails (ENOSPC above all)
write() {
	local err="$T_DIR/dd.$(basename "$1").err" size
	dd if=/dev/zero of="$1/$2" bs=1M count="$3" conv=fsync status=none 2>"$err" ||
		t_fail "writing $3 MiB to $2 on $(basename "$1"): $(cat "$err"); free: $(df -h "$1" | tail -1)"
	size=$(stat -c %s "$1/$2")
	[ "$size" -eq $(($3 << 20)) ] || t_fail "$2 on $(basename "$1") has $size bytes, not $3 MiB"
}

# free_mib MNT: free data space as the mount reports it
free_mib() {
	echo $(($(stat -f -c %a "$1") * bsize >> 20))
}

# B first, while A holds what A took
write "$B" f0 "$mib60"
same_size=$(stat -c %s "$A/f0")
[ "$same_size" -eq $((mib60 << 20)) ] || t_fail "A sees f0 with $same_size bytes"
rm "$A/f0" || t_fail "A removing B's file"

for i in 1 2 3 4 5 6; do
	if [ $((i % 2)) -eq 1 ]; then w=$A r=$B; else w=$B r=$A; fi
	write "$w" "f$i" "$mib60"
	rm "$r/f$i" || t_fail "removing f$i on $(basename "$r")"
	[ -e "$w/f$i" ] && t_fail "f$i is still there on $(basename "$w") after its removal"
done

# the space is free again, as both mounts see it, once the removers committed
commit "$A"
commit "$B"
for m in "$A" "$B"; do
	f=$(free_mib "$m")
	[ "$f" -gt $((total * 95 / 100 >> 20)) ] ||
		t_fail "$(basename "$m") reports $f MiB free of $((total >> 20)) MiB after every file went"
done

# both at once, 40% each
dd if=/dev/zero of="$A/c" bs=1M count="$mib40" conv=fsync status=none 2>"$T_DIR/ca.err" &
pa=$!
dd if=/dev/zero of="$B/c2" bs=1M count="$mib40" conv=fsync status=none 2>"$T_DIR/cb.err" &
pb=$!
wait "$pa" || t_fail "A's 40% at the same time as B's: $(cat "$T_DIR/ca.err")"
wait "$pb" || t_fail "B's 40% at the same time as A's: $(cat "$T_DIR/cb.err")"
[ "$(stat -c %s "$B/c")" -eq $((mib40 << 20)) ] || t_fail "B sees A's file short"
[ "$(stat -c %s "$A/c2")" -eq $((mib40 << 20)) ] || t_fail "A sees B's file short"
cmp -n $((4 << 20)) "$A/c2" /dev/zero || t_fail "A reads other bytes than B wrote"

t_umount "$B"
t_umount "$A"
echo "cross-mount-data-free: data space follows the mount that needs it"
