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

cat >"$T_DIR/px.py" <<'PY'
import errno, os, sys

op, a = sys.argv[1], sys.argv[2:]
if op == "bulk":
    for i in range(int(a[2])):
        p = os.path.join(a[0], "%s%d" % (a[1], i))
        open(p, "w").close()
        os.setxattr(p, a[3], b"1")
elif op == "rm":
    for p in a[1:]:
        os.removexattr(p, a[0])
elif op == "fsync":
    fd = os.open(a[0], os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
elif op == "want":
    inos = []
    for d, dirs, files in os.walk(a[0]):
        for f in files:
            p = os.path.join(d, f)
            try:
                os.getxattr(p, a[1])
                inos.append(os.lstat(p).st_ino)
            except OSError as e:
                if e.errno != errno.ENODATA:
                    raise
    for i in sorted(inos):
        print(i)
PY
px() { python3 "$T_DIR/px.py" "$@"; }
counter() { "$S" counters -p "$M" | awk -v n="$1" '$1 == n { print $2 }'; }
wait_counter() {	# NAME MIN: up to 60 s
	local i
	for i in $(seq 600); do
		[ "$(counter "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	t_fail "counter $1 is $(counter "$1"), not $2 or more, after 60 s"
}
check() {
	"$S" search-xattrs "$A" -p "$M" >"$T_DIR/found" || t_fail "$1: search-xattrs failed"
	px want "$M/d" "$A" >"$T_DIR/want"
	diff -u "$T_DIR/want" "$T_DIR/found" >&2 || t_fail "$1: search-xattrs is not the files with $A"
}
trigger() { "$SFS_TRIGGER" "$M" "$1" || t_fail "trigger $1 refused"; }
rotate() {
	local want=$(($(counter srch_rotate_log) + 1)) i
	trigger srch_force_log_rotate
	for i in $(seq 50); do
		setfattr -n user.tick -v "$i" "$M/.commit"
		px fsync "$M/.commit"
		[ "$(counter srch_rotate_log)" -ge "$want" ] && return 0
		sleep 0.1
	done
	t_fail "the srch log file was not rotated"
}

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
