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

# px OP ARGS...: xattr work in one python process
#   bulk DIR PREFIX N NAME: files DIR/PREFIXi, each with NAME set
#   rm NAME PATHS...: NAME removed where present
#   fsync PATH
#   want ROOT NAME: the inode numbers of the files having NAME, ascending
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
        try:
            os.removexattr(p, a[0])
        except OSError as e:
            if e.errno not in (errno.ENODATA, errno.ENOENT):
                raise
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
# wait_counter NAME MIN: up to 60 s for the counter to reach MIN
wait_counter() {
	local i
	for i in $(seq 600); do
		[ "$(counter "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	t_fail "counter $1 is $(counter "$1"), not $2 or more, after 60 s"
}
check() {
	local name
	for name in "$A" "$B"; do
		"$S" search-xattrs "$name" -p "$M" >"$T_DIR/found" ||
			t_fail "$1: search-xattrs $name failed"
		px want "$M/d" "$name" >"$T_DIR/want"
		diff -u "$T_DIR/want" "$T_DIR/found" >&2 ||
			t_fail "$1: search-xattrs $name is not the files that have it"
	done
}
# rotate: the mount's log file goes to srch_root with the next commit
rotate() {
	local want=$(($(counter srch_rotate_log) + 1)) i
	"$SFS_TRIGGER" "$M" srch_force_log_rotate || t_fail "the trigger was refused"
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
