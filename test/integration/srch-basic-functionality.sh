#!/usr/bin/env bash
# scoutfs.srch. xattrs are found by search-xattrs (the reference's
# srch-basic-functionality, in our words).  Every create or removal of a
# srch-tagged xattr logs an entry in the mount's srch log file; after a
# commit (an fsync) search-xattrs NAME must print exactly the inodes that
# have an xattr NAME: checked across many files as xattrs are created,
# removed, replaced (also many times before one commit), as files are
# deleted, for several names at once, across a remount (the unmount
# moves the log file into srch_root) and after the log merge that
# follows.  Names without the srch. tag are refused and only root may
# search.  The volume then passes the whole-volume check, and print
# shows the rotated log file without complaint.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs a search: it must reach the run directory
t_mount "$M" allow_other
S="$SCOUTFS"
A=scoutfs.srch.alpha
B=scoutfs.hide.srch.beta

# px OP ARGS...: xattr work in one python process
#   bulk DIR FIRST N NAME: files DIR/fFIRST.. each with NAME set
#   set NAME VALUE PATHS... | rm NAME PATHS... (missing paths are skipped)
#   fsync PATH
#   want ROOT NAME: the inode numbers of the files having NAME, ascending
cat >"$T_DIR/px.py" <<'PY'
import errno, os, sys

op, a = sys.argv[1], sys.argv[2:]
try:
    if op == "bulk":
        first, n = int(a[1]), int(a[2])
        for i in range(first, first + n):
            p = os.path.join(a[0], "f%d" % i)
            open(p, "w").close()
            os.setxattr(p, a[3], b"1")
    elif op == "set":
        for p in a[2:]:
            if os.path.exists(p):
                os.setxattr(p, a[0], a[1].encode())
    elif op == "rm":
        for p in a[1:]:
            if os.path.exists(p):
                os.removexattr(p, a[0])
    elif op == "fsync":
        fd = os.open(a[0], os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elif op == "want":
        inos = []
        for d, dirs, files in os.walk(a[0]):
            for f in files + dirs:
                p = os.path.join(d, f)
                try:
                    os.getxattr(p, a[1], follow_symlinks=False)
                    inos.append(os.lstat(p).st_ino)
                except OSError as e:
                    if e.errno != errno.ENODATA:
                        raise
        for i in sorted(inos):
            print(i)
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
px() { python3 "$T_DIR/px.py" "$@"; }
commit() { px fsync "$M/.commit"; }
search() { "$S" search-xattrs "$1" -p "$M" || t_fail "search-xattrs $1 failed"; }

# after a commit, search finds exactly the files that have each name
check() {
	local what=$1 name
	commit
	for name in "$A" "$B"; do
		search "$name" >"$T_DIR/found"
		px want "$M/d" "$name" >"$T_DIR/want"
		diff -u "$T_DIR/want" "$T_DIR/found" >&2 ||
			t_fail "$what: search-xattrs $name is not the files that have it"
	done
	echo "$what: $(wc -l <"$T_DIR/want") files with $B, search agrees"
}

touch "$M/.commit"
mkdir "$M/d"
out="$T_DIR/out"
{
	echo "== nothing yet: $(search "$A" | wc -l) found"
	px bulk "$M/d" 0 300 "$A"
	files() { local i; for i in $(seq "$@"); do echo "$M/d/f$i"; done; }
	px set "$B" x $(files 0 3 299)
	check "300 files"
	px rm "$A" $(files 0 4 299)
	check "removed from every fourth"
	px set "$A" again $(files 1 5 299)
	check "replaced in every fifth"
	for r in 1 2 3 4 5; do
		px set "$B" "r$r" $(files 2 10 299)
	done
	px set "$B" y $(files 3 10 299)
	px rm "$B" $(files 3 10 299)
	check "replaced five times and created then removed before one commit"
	for i in $(seq 0 7 299); do rm "$M/d/f$i"; done
	check "every seventh file deleted"
	px set "$A" back $(files 0 4 299)
	check "created again where removed"

	echo "== refused"
	"$S" search-xattrs user.alpha -p "$M" 2>&1
	echo "exit $?"
	"$S" search-xattrs scoutfs.hide.alpha -p "$M" 2>&1
	echo "exit $?"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$S" search-xattrs "$A" -p "$M" 2>&1
	echo "exit $?"
	echo "== json: $("$S" search-xattrs "$A" -p "$M" --json | python3 -c '
import json, sys; print(len(json.load(sys.stdin)), "inodes")')"
} >"$out" 2>&1
sed -i "s|$M|MNT|g" "$out"

before_a=$(search "$A")
before_b=$(search "$B")
t_umount "$M"
t_mount "$M" allow_other
[ "$(search "$A")" = "$before_a" ] || t_fail "search $A changed across a remount"
[ "$(search "$B")" = "$before_b" ] || t_fail "search $B changed across a remount"
{
	# more changes after the remount, logged in the new log file
	for i in $(seq 5 6 299); do [ -e "$M/d/f$i" ] && rm "$M/d/f$i"; done
	px bulk "$M/d" 1000 100 "$B"
	check "after a remount, some deleted, 100 created"
} >>"$out" 2>&1

[ -n "${SFS_GOLDEN_WRITE:-}" ] && cp "$out" "$SFS_SOURCE_DIR/test/golden/srch-basic-functionality.out"
t_golden srch-basic-functionality "$out"

before_a=$(search "$A")
before_b=$(search "$B")
t_umount "$M"
t_mount "$M"
# a log merge folds the finalized trees; their srch files live in srch_root
for i in $(seq 200); do
	[ "$("$S" counters -p "$M" | awk '$1 == "log_merge_complete" { print $2 }')" -ge 1 ] && break
	sleep 0.1
done
[ "$(search "$A")" = "$before_a" ] || t_fail "search $A changed after a merge"
[ "$(search "$B")" = "$before_b" ] || t_fail "search $B changed after a merge"
t_umount "$M"

if [ -n "${SFS_ENGINE:-}" ]; then
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "the volume fails its check: $(cat "$T_DIR/check.out")"
fi
"$S" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
grep -q "srch block blkno" "$T_DIR/print.out" || t_fail "print shows no srch block"
echo "srch-basic-functionality: searches find the srch xattrs through changes, remounts, merges"
