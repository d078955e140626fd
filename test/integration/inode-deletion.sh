#!/usr/bin/env bash
# An inode unlinked on one mount while it is open on others lives until
# its last close anywhere in the cluster, then goes with its space.
#
#  - Mount 0 writes an 8 MiB file; mounts 1 and 2 open it; mount 0
#    unlinks it.  No mount finds the name any more, the readers' fstat
#    says nlink 0.  Orphan scans run every 500 ms on every mount.
#  - After mount 0 committed and a few scans had their chance, both
#    readers read the whole file through their fds: the bytes written.
#  - Mount 1 closes; mount 2 still reads the whole file, after more scans.
#  - Mount 2 closes: then the space comes back (statfs free data blocks
#    to within 256 blocks of before the file, the inode count to its
#    earlier value or below; waited for up to 60 s, commits forced), and once all
#    mounts are unmounted the volume holds no item of the inode (inode,
#    xattr, extents, index, orphan: 'scoutfs print').
. "$(dirname "$0")/../funcs.sh"

t_cluster 3 orphan_scan_delay_ms=500
M=("${T_CMNT[@]}")
t_watchdog 240

sync_all() {
	t_fsync "${M[0]}" "${M[1]}" "${M[2]}"
}
# free data blocks and used inodes as statfs on mount 0 says
free_blocks() { stat -f -c %f "${M[0]}"; }
used_inodes() { echo $(($(stat -f -c '%c - %d' "${M[0]}"))); }

sync_all
free0=$(free_blocks)
inodes0=$(used_inodes)
head -c $((8 << 20)) /dev/urandom >"$T_DIR/want"
want=$(t_sum "$T_DIR/want")
cp "$T_DIR/want" "${M[0]}/f" || t_fail "write f on mount 0"
t_fsync "${M[0]}/f" "${M[0]}"
ino=$(stat -c %i "${M[0]}/f")
sync_all
[ "$(free_blocks)" -lt $((free0 - 2000)) ] ||
	t_fail "statfs free blocks $(free_blocks) after writing 2048 blocks, $free0 before: cannot see the file's space"

# reader M TAG: open f on mount M, then read all of it through the fd
# each time $T_DIR/TAG.readN appears (answer in TAG.gotN), close on TAG.close
reader() {
	python3 - "${M[$1]}/f" "$T_DIR/$2" <<'PY'
import hashlib, os, sys, time
path, base = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
open(base + ".open", "w").close()
n = 0
while True:
    if os.path.exists(base + ".close") or not os.path.isdir(os.path.dirname(base)):
        break
    if os.path.exists(base + ".read%d" % n):
        try:
            st = os.fstat(fd)
            data = os.pread(fd, 16 << 20, 0)
            res = "%s %d %d" % (hashlib.md5(data).hexdigest(), len(data), st.st_nlink)
        except OSError as e:
            res = "error %s" % e
        with open(base + ".got%d.tmp" % n, "w") as f:
            f.write(res + "\n")
        os.rename(base + ".got%d.tmp" % n, base + ".got%d" % n)
        n += 1
    time.sleep(0.02)
os.close(fd)
PY
}

# wait_file PATH: until PATH exists (the watchdog bounds it)
wait_file() {
	while [ ! -e "$1" ]; do sleep 0.05; done
}

# read_check TAG N WHAT: reader TAG's read N is the whole file, nlink 0
read_check() {
	touch "$T_DIR/$1.read$2"
	wait_file "$T_DIR/$1.got$2"
	got=$(cat "$T_DIR/$1.got$2")
	[ "$got" = "${want% } $((8 << 20)) 0" ] ||
		t_fail "$3: the reader $1 got '$got' through its fd, want '${want% } $((8 << 20)) 0' (md5, length, nlink)"
}

reader 1 r1 &
p1=$!
reader 2 r2 &
p2=$!
T_PIDS+=("$p1" "$p2")
wait_file "$T_DIR/r1.open"
wait_file "$T_DIR/r2.open"

rm "${M[0]}/f" || t_fail "unlink f on mount 0"
for m in 0 1 2; do
	[ -e "${M[m]}/f" ] && t_fail "mount $m still finds f after mount 0 unlinked it"
	[ -z "$(ls -A "${M[m]}")" ] || t_fail "mount $m lists '$(ls -A "${M[m]}")' after the unlink"
done
# mount 0 commits the unlink, and forgets the inode; its orphan scans
# (and the others') get several chances to delete it too early
sync_all
sleep 2
read_check r1 0 "after the unlink on mount 0"
read_check r2 0 "after the unlink on mount 0"

touch "$T_DIR/r1.close"
wait "$p1" || t_fail "the reader on mount 1 failed"
sync_all
sleep 2
read_check r2 1 "after mount 1 closed"

touch "$T_DIR/r2.close"
wait "$p2" || t_fail "the reader on mount 2 failed"
for i in $(seq 60); do
	sync_all
	free=$(free_blocks) inodes=$(used_inodes)
	[ "$free" -ge $((free0 - 256)) ] && [ "$inodes" -le "$inodes0" ] && break
	sleep 1
done
[ "$free" -ge $((free0 - 256)) ] ||
	t_fail "60 s after the last close statfs has $free free data blocks, $free0 before the 2048-block file"
[ "$inodes" -le "$inodes0" ] ||
	t_fail "60 s after the last close statfs counts $inodes inodes, $inodes0 before the file"

t_cluster_umount
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>&1 || t_fail "scoutfs print: $(tail -3 "$T_DIR/print")"
t_live_fs_keys "$T_DIR/print" |
	grep -E "^16\.$ino\.|^8\.0\.4\.$ino\.|^4\.0\.(4|8)\.[0-9]+\.$ino\." >"$T_DIR/left"
[ -s "$T_DIR/left" ] && t_fail "items of the deleted inode $ino are left: $(head -5 "$T_DIR/left" | tr '\n' ' ')"
echo "inode-deletion: inode $ino lived until its last close on another mount, then went"
