#!/usr/bin/env bash
# Two mounts of one volume see each other's changes through the cluster
# locks (docs/cluster.md): mount A is quorum slot 0 and runs the server,
# mount B is a plain client.  After a change on one mount completes, the
# very next system call on the other sees it: file contents written,
# appended and truncated, files and directories created and removed (no
# stale names, no stale "no such file"), sizes and modes.  Renames, links
# and xattrs do not take locks yet and are not checked here.
. "$(dirname "$0")/../funcs.sh"

# each mount takes up to 4 GiB of free data space at a time: room for two
t_images 2G 16G
t_mkfs
A="$T_DIR/a"
B="$T_DIR/b"
t_mount "$A"
mkdir -p "$B" "$T_DIR/run.b"
"$SCOUTFSD" -f -o "metadev_path=$META,run_dir=$T_DIR/run.b" "$DATA" "$B" \
	>>"$T_DIR/scoutfsd.b.log" 2>&1 &
T_PIDS+=("$!")
T_MOUNTS+=("$B")
T_MOUNT_PID[$B]=$!
t_mount_wait "$B"

same() {	# WHAT WANT GOT
	[ "$2" = "$3" ] || t_fail "$1: want '$2', got '$3'"
}

echo one >"$A/f"
same "B reads what A wrote" one "$(cat "$B/f")"
echo two >>"$B/f"
same "A reads what B appended" "$(printf 'one\ntwo')" "$(cat "$A/f")"
truncate -s 2 "$A/f"
same "B sees A's truncate" "on" "$(cat "$B/f")"
same "B's size after A's truncate" 2 "$(stat -c %s "$B/f")"

mkdir "$A/d"
touch "$B/d/x"
same "A lists what B created in A's directory" x "$(ls "$A/d")"
rm "$B/d/x"
[ -e "$A/d/x" ] && t_fail "A still sees the file B removed"
same "A's listing after B's removal" "" "$(ls "$A/d")"
rmdir "$A/d"
[ -e "$B/d" ] && t_fail "B still sees the directory A removed"
# a name B looked for and did not find appears once A creates it
[ -e "$B/late" ] && t_fail "a file that does not exist yet"
echo late >"$A/late"
same "B finds a name it looked for before" late "$(cat "$B/late")"

chmod 640 "$A/late"
same "B sees A's chmod" 640 "$(stat -c %a "$B/late")"

# back and forth: every read sees the other mount's last write
for i in $(seq 40); do
	if [ $((i % 2)) -eq 0 ]; then w=$A r=$B; else w=$B r=$A; fi
	echo "$i" >"$w/ping"
	same "round $i" "$i" "$(cat "$r/ping")"
done
# data written on one mount with O_DIRECT reads on the other, and the
# other way, after a change that dropped the reader's cached pages
head -c 1048576 /dev/urandom >"$T_DIR/blob"
cp "$T_DIR/blob" "$A/blob"
cmp "$T_DIR/blob" "$B/blob" || t_fail "B reads other bytes than A wrote"
head -c 1048576 /dev/urandom >"$T_DIR/blob2"
dd if="$T_DIR/blob2" of="$B/blob" bs=1M conv=notrunc status=none
cmp "$T_DIR/blob2" "$A/blob" || t_fail "A reads other bytes than B wrote (cached pages?)"

t_umount "$B"
t_umount "$A"
echo "cluster-basic: two mounts see each other's changes"
