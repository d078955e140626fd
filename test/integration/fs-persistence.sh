#!/usr/bin/env bash
# Names survive: an unmount and a remount keep everything; after a
# SIGKILL of the daemon, everything an fsync covered is there on the next
# mount (the fsync returned only once the transaction was committed), and
# the volume mounts again and passes scoutfs print (no item written with
# seq 0, which would lose to any older version of its key).
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"

fsync_path() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$1"
}

names() {
	(cd "$M" && find . -mindepth 1 | sort)
}

# a clean unmount keeps what was never fsynced
t_mount "$M"
mkdir -p "$M/d1/d2" || t_fail "mkdir"
for i in $(seq 100); do touch "$M/d1/f$i"; done
ln -s d1/f1 "$M/link"
mknod "$M/d1/fifo" p
names >"$T_DIR/want1"
t_umount "$M"
t_mount "$M"
names >"$T_DIR/got1"
diff -u "$T_DIR/want1" "$T_DIR/got1" >&2 || t_fail "names changed across a clean remount"

# a SIGKILL after an fsync keeps everything up to the fsync
for i in $(seq 50); do mkdir "$M/d1/d2/k$i"; done
mv "$M/d1/f1" "$M/d1/d2/moved"
rm "$M/d1/f2"
fsync_path "$M/d1/d2/moved"
names >"$T_DIR/want2"
t_kill_mount "$M"
t_mount "$M"
names >"$T_DIR/got2"
diff -u "$T_DIR/want2" "$T_DIR/got2" >&2 || t_fail "fsynced names missing after SIGKILL"

# and again, killed right after more changes: the mount comes back and
# shows the fsynced state plus, at most, whole later transactions
touch "$M/after-sync"
t_kill_mount "$M"
t_mount "$M"
names >"$T_DIR/got3"
grep -vx './after-sync' "$T_DIR/got3" | diff -u "$T_DIR/want2" - >&2 ||
	t_fail "the state after a second SIGKILL is not the fsynced one"
t_umount "$M"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
# every item, deletion items too, carries the seq of the transaction that wrote it
# (leaf items: parent blocks' separator keys carry no seq)
awk '/^  level / { leaf = ($2 == 0); next }
     leaf && /^    [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ 0 [-d]$/' "$T_DIR/print.out" >"$T_DIR/seq0"
[ -s "$T_DIR/seq0" ] && t_fail "items with seq 0: $(head -3 "$T_DIR/seq0")"
echo "fs persistence: $(wc -l <"$T_DIR/want2") names kept across a remount and two SIGKILLs"
