#!/usr/bin/env bash
# srch compaction on a live mount (the reference's srch file lifecycle,
# reference-scoutfs.md 5.7, in our words).  Sixteen rounds each create
# files with scoutfs.srch. xattrs, remove some made in earlier rounds and
# rotate the mount's log file into srch_root (the srch_force_log_rotate
# trigger and a commit).  The mount's compaction worker (every second
# here) must sort every 4 log files into a sorted file and then merge
# the 4 sorted files into one, freeing every input.  After each round
# and at the end, search-xattrs must print exactly the inodes that have
# each name; the counters show the jobs done; print shows one sorted
# file and no log file left in srch_root; the volume passes the whole-
# volume check, and the answers survive a remount.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_TRIGGER:?run through meson test}"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M" srch_compact_delay_ms=1000
S="$SCOUTFS"
A=scoutfs.srch.alpha
B=scoutfs.hide.srch.beta

. "$(dirname "$0")/../srch-funcs.sh"
check() {
	local name
	for name in "$A" "$B"; do
		search_check "$1" "$name"
	done
}

touch "$M/.commit"
mkdir "$M/d"
for r in $(seq 16); do
	px bulk "$M/d" "r${r}_" 150 "$A"
	px bulk "$M/d" "s${r}_" 20 "$B"
	if [ "$r" -gt 1 ]; then
		p=$((r - 1))
		px rm "$A" $(for i in $(seq 0 3 149); do echo "$M/d/r${p}_$i"; done)
		px rm "$B" "$M/d/s${p}_0" "$M/d/s${p}_1"
		rm -f "$M/d/r${p}_1" "$M/d/r${p}_2"
	fi
	rotate
	check "round $r"
	if [ $((r % 4)) -eq 0 ]; then
		# 4 log files: sorted, and their blocks freed
		wait_counter srch_compact_freed $((r / 4))
		check "round $r, logs compacted"
	fi
done
# the 4 sorted files merge into one
wait_counter srch_compact_sorted 1
wait_counter srch_compact_freed 5
check "sorted files merged"
[ "$(counter srch_compact_log)" -eq 4 ] ||
	t_fail "$(counter srch_compact_log) log compactions, want 4"
[ "$(counter srch_compact_removed_entry)" -gt 0 ] ||
	t_fail "no removal cancelled its creation in a compaction"
[ "$(counter srch_compact_error)" -eq 0 ] || t_fail "compactions failed"
[ "$(counter srch_search_sorted)" -gt 0 ] || t_fail "no sorted file was searched"
before_a=$("$S" search-xattrs "$A" -p "$M")
before_b=$("$S" search-xattrs "$B" -p "$M")
[ "$(echo "$before_a" | wc -l)" -gt 1000 ] || t_fail "too few files found: $(echo "$before_a" | wc -l)"
t_umount "$M"

"$S" print -r srch "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
# srch_root's items (keys 32.0.TYPE...): one sorted file (BLOCKS, 8), nothing else
awk '/^srch_root btree/ { in_root = 1; next } /^[a-z_]+ btree blkno/ { in_root = 0 }
	in_root && $1 ~ /^32\.0\.[0-9]+\./ { split($1, k, "."); print k[3] }' \
	"$T_DIR/print.out" | sort | uniq -c >"$T_DIR/types"
[ "$(awk '{ print $2 ":" $1 }' "$T_DIR/types" | tr '\n' ' ')" = "8:1 " ] ||
	t_fail "srch_root items by type (count type): $(cat "$T_DIR/types")"
if [ -n "${SFS_ENGINE:-}" ]; then
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "the volume fails its check: $(cat "$T_DIR/check.out")"
fi

t_mount "$M" srch_compact_delay_ms=1000
[ "$("$S" search-xattrs "$A" -p "$M")" = "$before_a" ] || t_fail "search $A changed across a remount"
[ "$("$S" search-xattrs "$B" -p "$M")" = "$before_b" ] || t_fail "search $B changed across a remount"
check "after a remount"
t_umount "$M"
echo "srch-compaction: 16 log files compacted into one sorted file, searches exact throughout"
