#!/usr/bin/env bash
# Readers that meet a stale block retry with fresh roots (the reference's
# block-stale-reads).  A block another mount rewrote shows up as a btree
# block whose header does not match the reference that led to it: the
# block layer drops its copy, reads the block again from the device, and
# when that still does not match answers -ESTALE; the item reader then
# asks for the roots again and reads once more (counter item_read_stale).
# Making that happen for real needs the allocator to reuse a block under
# a reader at the right moment, so the one-shot trigger block_remove_stale
# makes the next clean btree block read take its copies as stale instead.
#
# Two mounts of one volume (A: quorum slot 0, the server; B: a client)
# take turns: one writes a file, the other, with nothing of its own to
# commit, arms the trigger and reads what the first wrote (lookup, stat,
# contents, a listing).  Every read must give the right answer, the
# reader's item_read_stale must go up, and no read may end in an error.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_TRIGGER:?run through meson test or test/run.sh}"

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

declare -A RUN=([$A]="$T_DIR/run" [$B]="$T_DIR/run.b")
# on MNT: the scoutfs CLI and the trigger tool through its run directory
cli() { SCOUTFS_RUN_DIR=${RUN[$1]} "$SCOUTFS" "${@:2}"; }
counter() {
	cli "$1" counters -p "$1" | awk -v n="$2" '$1 == n { print $2 }'
}
commit() { python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$1"; }

mkdir "$A/d" || t_fail "mkdir"
echo initial >"$A/d/file"
commit "$A"
[ "$(cat "$B/d/file")" = initial ] || t_fail "B does not read what A wrote"

w=$A r=$B
for i in 1 2 3 4 5 6; do
	# the writer changes a file and makes another; the lock moving to the
	# reader commits that, and the reader has nothing of its own to commit
	echo "round $i" >"$w/d/file"
	echo "new $i" >"$w/d/new$i"
	commit "$w"
	commit "$r"
	old=$(counter "$r" item_read_stale)
	[ -n "$old" ] || t_fail "no item_read_stale counter on $r"
	SCOUTFS_RUN_DIR=${RUN[$r]} "$SFS_TRIGGER" "$r" block_remove_stale ||
		t_fail "round $i: arming block_remove_stale on $r"
	got=$(cat "$r/d/file") || t_fail "round $i: reading the file on $r failed"
	[ "$got" = "round $i" ] || t_fail "round $i: $r read '$got', want 'round $i'"
	[ "$(cat "$r/d/new$i")" = "new $i" ] || t_fail "round $i: $r misread new$i"
	n=$(ls "$r/d" | wc -l)
	[ "$n" -eq $((i + 1)) ] || t_fail "round $i: $r lists $n names in d, want $((i + 1))"
	stat "$r/d/new$i" >/dev/null || t_fail "round $i: stat on $r"
	new=$(counter "$r" item_read_stale)
	[ "$new" -gt "$old" ] ||
		t_fail "round $i: item_read_stale on $r stayed $old: no read retried a stale block"
	echo "round $i: $(basename "$r") read what $(basename "$w") wrote; item_read_stale $old -> $new"
	t=$w w=$r r=$t
done

# a stale block never became an error, and both mounts still agree
for log in "$T_DIR"/scoutfsd.*.log; do
	if grep -E "stale blocks after|item read of key|commit of transaction|crc mismatch" "$log" \
		>"$T_DIR/errs"; then
		t_fail "$(basename "$log") reports errors: $(head -3 "$T_DIR/errs")"
	fi
done
cli "$A" df -p "$A" >/dev/null || t_fail "df on A"
cli "$B" df -p "$B" >/dev/null || t_fail "df on B"
[ "$(ls "$A/d" | tr '\n' ' ')" = "$(ls "$B/d" | tr '\n' ' ')" ] || t_fail "A and B list d differently"

t_umount "$B"
t_umount "$A"
echo "block-stale-reads: 6 reads across mounts met a stale block, retried with fresh roots and read right"
