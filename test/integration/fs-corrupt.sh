#!/usr/bin/env bash
# A corrupt metadata block under a live mount: the files whose items it
# holds answer EIO, the daemon logs the block number, and keeps serving
# everything else (other files read, new files are created and fsynced);
# it unmounts cleanly afterwards.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"

# long symlink targets spread the files over many leaves
target=$(printf 'x%.0s' $(seq 800))
mkdir "$M/d"
for i in $(seq 300); do ln -s "$target.$i" "$M/d/f$i"; done
t_umount "$M"

# the leaf holding f150's inode item, which must hold neither f1's nor f300's
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>&1 || t_fail "print"
ino() {
	awk -v want="$1" '$1 == "dirent:" { for (i = 1; i < NF; i++) if ($i == "ino") n = $(i + 1) }
		$1 == "name" && $2 == want && n { print n; exit }' "$T_DIR/print"
}
leaf_of() {
	awk -v ino="$1" '/btree blkno/ { for (i = 1; i < NF; i++) if ($i == "blkno") b = $(i + 1) }
		$1 == "inode:" && $2 == "ino" && $3 == ino { print b; exit }' "$T_DIR/print"
}
i1=$(ino f1) i150=$(ino f150) i300=$(ino f300)
[ -n "$i1" ] && [ -n "$i150" ] && [ -n "$i300" ] ||
	t_fail "no dirents for f1/f150/f300 in print: $(grep -m3 dirent: "$T_DIR/print")"
b1=$(leaf_of "$i1") b150=$(leaf_of "$i150") b300=$(leaf_of "$i300")
[ -n "$b150" ] || t_fail "no leaf holds inode $i150"
[ "$b150" != "$b1" ] && [ "$b150" != "$b300" ] || t_fail "f1, f150 and f300 share leaf $b150"

# scribble over the middle of that 64 KiB block
dd if=/dev/urandom of="$META" bs=4096 seek=$((b150 * 16 + 5)) count=2 conv=notrunc status=none

t_mount "$M"
log="$T_DIR/scoutfsd.mnt.log"
stat "$M/d/f150" >/dev/null 2>"$T_DIR/err" && t_fail "stat of a file in a corrupt block succeeded"
grep -q "Input/output error" "$T_DIR/err" || t_fail "stat of f150: $(cat "$T_DIR/err")"
grep -Eq "(blkno|block) $b150\b" "$log" || t_fail "the log does not name block $b150: $(tail -5 "$log")"
[ "$(readlink "$M/d/f1")" = "$target.1" ] || t_fail "f1 unreadable next to the corrupt block"
[ "$(readlink "$M/d/f300")" = "$target.300" ] || t_fail "f300 unreadable next to the corrupt block"
echo still >"$M/new" || t_fail "create after the corrupt block"
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$M/new" ||
	t_fail "fsync after the corrupt block"
kill -0 "${T_MOUNT_PID[$M]}" || t_fail "the daemon died"
stat "$M/d/f150" >/dev/null 2>&1 && t_fail "f150 readable on the second try"
t_umount "$M"
t_mount "$M"
[ "$(cat "$M/new")" = still ] || t_fail "the file created after the corruption is gone"
t_umount "$M"
echo "corrupt block $b150: EIO for its files, logged, the rest served"
