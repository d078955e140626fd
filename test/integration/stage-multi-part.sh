#!/usr/bin/env bash
# Staging a large file in pieces while it is read (the reference's
# stage-multi-part, in our words): readers started on a released 32 MiB
# file wait; the file is staged in 1 MiB pieces in a random order, each
# stage waking the readers whose part came back; every reader ends with
# exactly the archived bytes, and nothing is left waiting.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"
A="$T_DIR/archive"

F="$M/big"
head -c $((32 * 1024 * 1024)) /dev/urandom >"$A"
cp "$A" "$F" || t_fail "copy in"
v=$("$S" stat -s data_version "$F")
"$S" release "$F" -V "$v" || t_fail "release"

pids=()
for r in 1 2 3 4; do
	timeout 120 cat "$F" >"$T_DIR/read.$r" &
	pids+=($!)
done
timeout 120 dd if="$F" of="$T_DIR/read.direct" bs=1M iflag=direct status=none &
pids+=($!)
sleep 0.5
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null || t_fail "a reader of released data did not wait"
done

for part in $(seq 0 31 | shuf); do
	"$S" stage "$A" "$F" -V "$v" -o $((part * 1024 * 1024)) -l 1M ||
		t_fail "stage part $part"
done
for p in "${pids[@]}"; do
	wait "$p" || t_fail "a reader failed"
done
for r in 1 2 3 4 direct; do
	cmp "$T_DIR/read.$r" "$A" || t_fail "reader $r got other bytes"
done
[ -z "$("$S" data-waiting -I 0 -B 0 -p "$M")" ] || t_fail "waiters left"
[ "$("$S" stat -s offline_blocks "$F")" = 0 ] || t_fail "offline blocks left"
[ "$("$S" stat -s data_version "$F")" = "$v" ] || t_fail "staging changed data_version"
t_umount "$M"
t_mount "$M"
cmp "$F" "$A" || t_fail "after remount"
t_umount "$M"
echo "stage-multi-part: ok"
