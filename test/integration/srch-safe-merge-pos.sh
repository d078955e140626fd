#!/usr/bin/env bash
# srch compaction at the safe-bytes limit of a block (the reference's
# srch-safe-merge-pos, in our words).  A srch block's entries may start
# up to SCOUTFS_SRCH_BLOCK_SAFE_BYTES into it and no later; a merge step
# that stops on an input entry there must resume from that cursor.  Four
# groups of four rotated log files are each sorted with the
# srch_compact_logs_pad_safe trigger armed, so every sorted file's first
# block is filled with cancelling entries up to an entry starting exactly
# at the limit; then the four sorted files are merged with the
# srch_merge_stop_safe trigger armed, so a step ends with an input's
# cursor at the limit and the next step resumes there.  search-xattrs is
# exact throughout, the counters show the padding and the stop, no
# compaction fails, and the volume passes print and the whole-volume
# check.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_TRIGGER:?run through meson test}"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M" srch_compact_delay_ms=1000
S="$SCOUTFS"
A=scoutfs.srch.safe

. "$(dirname "$0")/../srch-funcs.sh"
check() { search_check "$1" "$A"; }

touch "$M/.commit"
mkdir "$M/d"
for g in 1 2 3 4; do
	for r in 1 2 3 4; do
		px bulk "$M/d" "g${g}r${r}_" 80 "$A"
		# removals cancel entries across the files of a group
		[ "$r" -gt 1 ] && px rm "$A" "$M/d/g${g}r$((r - 1))_0" "$M/d/g${g}r$((r - 1))_1"
		[ "$r" -eq 4 ] && trigger srch_compact_logs_pad_safe
		# the fourth sorted file starts the merge: armed before, it fires
		# only when a merge step reaches an input entry at the limit
		[ "$g" -eq 4 ] && [ "$r" -eq 4 ] && trigger srch_merge_stop_safe
		rotate
	done
	wait_counter srch_compact_log "$g"
	wait_counter srch_compact_freed "$g"
	[ "$(counter srch_compact_pad)" -eq "$g" ] ||
		t_fail "group $g: $(counter srch_compact_pad) padded blocks, want $g"
	check "group $g sorted with a padded block"
done
# merging the four sorted files stops once on a cursor at the limit, then resumes
wait_counter srch_compact_sorted 2
wait_counter srch_compact_freed 5
[ "$(counter srch_compact_progress)" -ge 1 ] || t_fail "no merge step stopped at the limit"
[ "$(counter srch_compact_error)" -eq 0 ] || t_fail "compactions failed"
check "merged after a stop at the safe limit"
t_umount "$M"

"$S" print -r srch "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
if [ -n "${SFS_ENGINE:-}" ]; then
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "the volume fails its check: $(cat "$T_DIR/check.out")"
fi
t_mount "$M"
check "after a remount"
t_umount "$M"
echo "srch-safe-merge-pos: padded blocks read and merged, a step resumed at the safe limit"
