#!/usr/bin/env bash
# The kernel's FORGETs (what a cluster lock revoke will use to know which
# inodes the kernel holds): every entry handed to the kernel is counted,
# and when the kernel drops its cached inodes (drop_caches) their lookups
# come back as FORGETs and are counted; the files are found again after.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
counter() { "$SCOUTFS" counters -p "$M" | awk -v n="$1" '$1 == n { print $2 }'; }

mkdir "$M/d"
for i in $(seq 200); do echo "$i" >"$M/d/f$i"; done
ls -l "$M/d" >/dev/null
entries=$(counter fuse_entries)
[ "$entries" -ge 201 ] || t_fail "only $entries entries counted for 201 names"
forgets0=$(counter fuse_forgets)
sync
echo 2 >/proc/sys/vm/drop_caches
for i in $(seq 100); do
	[ "$(counter fuse_forgets)" -ge $((forgets0 + 150)) ] && break
	sleep 0.1
done
forgets=$(counter fuse_forgets)
[ "$forgets" -ge $((forgets0 + 150)) ] ||
	t_fail "the kernel's FORGETs: $forgets0 before, $forgets after dropping its caches"
for i in $(seq 200); do
	[ "$(cat "$M/d/f$i")" = "$i" ] || t_fail "f$i after the kernel forgot it"
done
[ "$(counter fuse_entries)" -ge $((entries + 200)) ] || t_fail "the lookups again were not counted"
t_umount "$M"
echo "fs-forget: $((forgets - forgets0)) lookups forgotten and counted"
