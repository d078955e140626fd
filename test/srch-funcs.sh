# Helpers of the srch tests (srch-compaction, srch-safe-merge-pos), sourced
# after funcs.sh with the mount in $M.
#
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
counter() { "$SCOUTFS" counters -p "$M" | awk -v n="$1" '$1 == n { print $2 }'; }
# wait_counter NAME MIN: up to 60 s for the counter to reach MIN
wait_counter() {
	local i
	for i in $(seq 600); do
		[ "$(counter "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	t_fail "counter $1 is $(counter "$1"), not $2 or more, after 60 s"
}
# search_check WHAT NAME: search-xattrs NAME prints exactly the files under $M/d having it
search_check() {
	"$SCOUTFS" search-xattrs "$2" -p "$M" >"$T_DIR/found" || t_fail "$1: search-xattrs $2 failed"
	px want "$M/d" "$2" >"$T_DIR/want"
	diff -u "$T_DIR/want" "$T_DIR/found" >&2 ||
		t_fail "$1: search-xattrs $2 is not the files that have it"
}
trigger() { "$SFS_TRIGGER" "$M" "$1" || t_fail "trigger $1 refused"; }
# rotate: the mount's log file goes to srch_root with the next commit
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
