#!/usr/bin/env bash
# scoutfs.totl. xattrs keep per-name totals (the reference's totl-xattr-tag
# and totl-delta-inject, in our words).  Every scoutfs.totl.NAME.A.B.C
# xattr adds its value, and 1, to the total of A.B.C; read-xattr-totals
# shows the committed totals.  Checked across many files: setting,
# replacing (also several times in one transaction), removing, deleting
# the files, a total that falls back to nothing; after every step the
# totals must equal the sums of the xattrs the files have, once an fsync
# has committed the changes.  Bad names and values are refused (EINVAL,
# ERANGE) and change no total; only root may set or remove them.  Totals
# survive an unmount and a remount, a log merge of everything into
# fs_root, and a larger batch of files merged on top; INJECT_TOTL_DELTA
# (through libscoutfs) unbalances a total and puts it back.  The merged
# volume passes the whole-volume check and print shows the totals.
. "$(dirname "$0")/../funcs.sh"

command -v setfattr >/dev/null || t_fail "setfattr missing: tools/deps.sh installs attr"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs some commands: it must reach the mount and run directory
t_mount "$M" allow_other
S="$SCOUTFS"
out="$T_DIR/out"

# px OP ARGS...: xattr work in one python process; errors print the errno name
#   set PATH NAME VALUE | rm PATH NAME | fsync PATH
#   sum ROOT: the totals the files' scoutfs.totl. xattrs add up to, as
#     read-xattr-totals prints them
#   bulk DIR FIRST N NAMES...: files DIR/fFIRST.., file i setting every NAME
#     (a totl name with a %d for i, or a fixed one) to i
#   inject PATH A B C TOTAL COUNT: INJECT_TOTL_DELTA through libscoutfs
cat >"$T_DIR/px.py" <<'PY'
import ctypes, errno, os, sys

def num(s):
    if s[:2] in ("0x", "0X"):
        return int(s[2:], 16)
    if len(s) > 1 and s[0] == "0":
        return int(s[1:], 8)
    return int(s)

def err(e):
    print(errno.errorcode.get(e.errno, str(e.errno)))

op, a = sys.argv[1], sys.argv[2:]
try:
    if op == "set":
        os.setxattr(a[0], a[1], a[2].encode())
        print("ok")
    elif op == "rm":
        os.removexattr(a[0], a[1])
        print("ok")
    elif op == "fsync":
        fd = os.open(a[0], os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elif op == "sum":
        tot = {}
        for d, dirs, files in os.walk(a[0]):
            for f in files + dirs:
                p = os.path.join(d, f)
                for n in os.listxattr(p, follow_symlinks=False):
                    if not n.startswith("scoutfs.") or ".totl." not in n:
                        continue
                    k = tuple(num(x) for x in n.split(".")[-3:])
                    v = num(os.getxattr(p, n, follow_symlinks=False).decode())
                    t = tot.setdefault(k, [0, 0])
                    t[0] += v
                    t[1] += 1
        for k in sorted(tot):
            if tot[k] != [0, 0]:
                print("%d.%d.%d = %d, %d" % (k + tuple(tot[k])))
    elif op == "bulk":
        first, n = int(a[1]), int(a[2])
        for i in range(first, first + n):
            p = os.path.join(a[0], "f%d" % i)
            open(p, "w").close()
            for name in a[3:]:
                os.setxattr(p, name.replace("%d", str(i)), str(i).encode())
        print("ok")
    elif op == "inject":
        class FileRef(ctypes.Structure):
            _fields_ = [("fd", ctypes.c_int), ("ino", ctypes.c_uint64)]
        lib = ctypes.CDLL(os.path.join(os.environ["SFS_BUILD_DIR"], "libscoutfs.so"))
        ctl = ctypes.c_void_p()
        r = lib.scoutfs_ctl_open(a[0].encode(), ctypes.byref(ctl))
        if r == 0:
            name = (ctypes.c_uint64 * 3)(*[int(x) for x in a[1:4]])
            lib.scoutfs_inject_totl_delta.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                      ctypes.c_int64, ctypes.c_int64]
            r = lib.scoutfs_inject_totl_delta(ctl, name, int(a[4]), int(a[5]))
            lib.scoutfs_ctl_close(ctl)
        print("ok" if r == 0 else errno.errorcode.get(-r, str(r)))
except OSError as e:
    err(e)
PY
# python may load this build's libscoutfs (inject): an ASan build's runtime must come first
asan_rt=$(ldd "$SFS_BUILD_DIR/libscoutfs.so" 2>/dev/null |
	awk '/lib(a|ub)san/ { printf "%s%s", sep, $3; sep = ":" }')
px() { LD_PRELOAD="$asan_rt" ASAN_OPTIONS=detect_leaks=0 python3 "$T_DIR/px.py" "$@"; }
# px as uid 65534, with a python it may run (root's PATH can lead elsewhere)
upy=python3
setpriv --reuid=65534 --regid=65534 --clear-groups "$upy" -c '' 2>/dev/null || upy=/usr/bin/python3
upx() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		env LD_PRELOAD="$asan_rt" ASAN_OPTIONS=detect_leaks=0 "$upy" "$T_DIR/px.py" "$@"
}
commit() { px fsync "$M/.commit"; }
totals() { "$S" read-xattr-totals -p "$M" || t_fail "read-xattr-totals failed"; }

# after a commit the totals are the sums of the xattrs (ino-independent output too)
check() {
	local what=$1
	commit
	totals >"$T_DIR/totals"
	px sum "$M" >"$T_DIR/want"
	diff -u "$T_DIR/want" "$T_DIR/totals" >&2 ||
		t_fail "$what: read-xattr-totals is not the sum of the files' xattrs"
	echo "== $what"
	if [ "$(wc -l <"$T_DIR/totals")" -le 40 ]; then
		cat "$T_DIR/totals"
	else
		echo "$(wc -l <"$T_DIR/totals") totals, from"
		head -3 "$T_DIR/totals"
		echo "to"
		tail -3 "$T_DIR/totals"
	fi
}

# wait up to 20 s for this daemon's first log merge to complete
wait_merge() {
	local i
	for i in $(seq 200); do
		[ "$(merges)" -ge 1 ] && return 0
		sleep 0.1
	done
	t_fail "no log merge completed within 20 s of the mount ($1)"
}

# the log_merge_complete counter
merges() {
	"$S" counters -p "$M" | awk '$1 == "log_merge_complete" { print $2 }'
}

touch "$M/.commit"
mkdir "$M/d"
{
	echo "empty volume: [$(totals)]"

	# 100 files: 1.2.3 gets every file, 1.2.4 the same values again, 7.0.0
	# and 7.0.1 one xattr per file each
	px bulk "$M/d" 1 100 scoutfs.totl.all.1.2.3 scoutfs.totl.again.1.2.4 \
		scoutfs.totl.f%d.7.0.0 scoutfs.srch.totl.s.7.0.1 >/dev/null
	check "100 files"

	for i in $(seq 1 20); do px set "$M/d/f$i" scoutfs.totl.all.1.2.3 $((i * 1000)) >/dev/null; done
	check "20 values replaced"

	# several changes of one key in one transaction: they add up
	for v in 5 0x10 010 0 77; do px set "$M/d/f21" scoutfs.totl.all.1.2.3 "$v" >/dev/null; done
	px set "$M/d/f22" scoutfs.totl.all.1.2.3 18446744073709551615 >/dev/null
	px set "$M/d/f22" scoutfs.totl.all.1.2.3 22 >/dev/null
	check "replaced again and again before a commit"

	for i in $(seq 1 100 | awk '$1 % 3 == 0'); do px rm "$M/d/f$i" scoutfs.totl.again.1.2.4 >/dev/null; done
	check "1.2.4 removed from every third file"

	rm -f "$M"/d/f{1..10} "$M"/d/f{90..100}
	check "21 files deleted"

	# a total whose xattrs all go is no total at all
	px set "$M/d/f50" scoutfs.totl.lone.9.9.9 40 >/dev/null
	px set "$M/d/f51" scoutfs.totl.lone.9.9.9 2 >/dev/null
	check "a new total"
	px rm "$M/d/f50" scoutfs.totl.lone.9.9.9 >/dev/null
	rm "$M/d/f51"
	check "its xattrs gone"

	echo "== refused"
	f="$M/d/f40"
	echo "two numbers: $(px set "$f" scoutfs.totl.n.1.2 1)"
	echo "four numbers, a word last: $(px set "$f" scoutfs.totl.n.1.2.3.x 1)"
	echo "not a number: $(px set "$f" scoutfs.totl.n.1.x.3 1)"
	echo "a sign in the name: $(px set "$f" scoutfs.totl.n.1.+2.3 1)"
	echo "name overflows: $(px set "$f" scoutfs.totl.n.1.2.18446744073709551616 1)"
	echo "value a word: $(px set "$f" scoutfs.totl.n.1.2.3 abc)"
	echo "value signed: $(px set "$f" scoutfs.totl.n.1.2.3 +1)"
	echo "value negative: $(px set "$f" scoutfs.totl.n.1.2.3 -1)"
	echo "value empty: $(px set "$f" scoutfs.totl.n.1.2.3 '')"
	echo "value with a newline: $(px set "$f" scoutfs.totl.n.1.2.3 $'1\n')"
	echo "value of 24 characters: $(px set "$f" scoutfs.totl.n.1.2.3 000000000000000000000001)"
	echo "value overflows: $(px set "$f" scoutfs.totl.n.1.2.3 18446744073709551616)"
	echo "value bad octal: $(px set "$f" scoutfs.totl.n.1.2.3 09)"
	echo "totl and indx: $(px set "$f" scoutfs.totl.indx.n.1.2.3 1)"
	echo "replace with a bad value: $(px set "$f" scoutfs.totl.all.1.2.3 x)"
	chown 65534:65534 "$f"
	echo "uid 65534 sets: $(upx set "$f" scoutfs.totl.mine.1.2.3 1)"
	echo "uid 65534 removes: $(upx rm "$f" scoutfs.totl.all.1.2.3)"
	echo "uid 65534 sets user.x: $(upx set "$f" user.x 1)"
	echo "uid 65534 reads totals: $(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$S" read-xattr-totals -p "$M" 2>&1)"
	check "after the refusals"
} >"$out" 2>&1

before=$(totals)
t_umount "$M"
t_mount "$M" allow_other
[ "$(totals)" = "$before" ] || t_fail "the totals changed across a remount: $(totals)"

# the unmount finalized the log tree: a merge starts and folds it into fs_root
wait_merge "first"
[ "$(totals)" = "$before" ] || t_fail "the totals changed in a log merge: $(totals)"

{
	# more files over the merged totals, some replacing merged values, a
	# total merged to nothing
	px bulk "$M/d" 1000 1500 scoutfs.totl.all.1.2.3 scoutfs.totl.big.2.%d.0 >/dev/null
	for i in 11 12 13; do px set "$M/d/f$i" scoutfs.totl.all.1.2.3 1 >/dev/null; done
	for i in $(seq 1000 1499); do rm "$M/d/f$i"; done
	check "1500 more files, 500 deleted again"

	echo "== injected"
	echo "inject -100, -1 into 1.2.3: $(px inject "$M" 1 2 3 -100 -1)"
	commit
	totals | grep '^1\.2\.3 '
	echo "inject it back: $(px inject "$M" 1 2 3 100 1)"
	echo "inject 5, 1 into 4.4.4: $(px inject "$M" 4 4 4 5 1)"
	commit
	totals | grep -E '^(1\.2\.3|4\.4\.4) '
	echo "inject -5, -1 into 4.4.4: $(px inject "$M" 4 4 4 -5 -1)"
	echo "uid 65534 injects: $(upx inject "$M" 4 4 4 1 1)"
	check "injected deltas taken back"
	echo "== json"
	"$S" read-xattr-totals -p "$M" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)
print(len(t), "totals;", [x for x in t if (x["a"], x["b"], x["c"]) == (1, 2, 3)])'
} >>"$out" 2>&1
sed -i "s|$M|MNT|g" "$out"

[ -n "${SFS_GOLDEN_WRITE:-}" ] && cp "$out" "$SFS_SOURCE_DIR/test/golden/totl-xattr-tag.out"
t_golden totl-xattr-tag "$out"

# merge the second batch too, then look at the volume offline
before=$(totals)
t_umount "$M"
t_mount "$M"
wait_merge "second"
[ "$(totals)" = "$before" ] || t_fail "the totals changed in the second merge"
t_umount "$M"

if [ -n "${SFS_ENGINE:-}" ]; then
	"$SFS_ENGINE" check "$META" "$DATA" >"$T_DIR/check.out" 2>&1 ||
		t_fail "the volume fails its check: $(cat "$T_DIR/check.out")"
fi
"$S" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
# everything merged: fs_root holds exactly the totals, no log tree holds any
awk '/^fs_root btree/ { f = 1; next } /^[^ ]/ { f = 0 }
     f && /xattr totl:/ { sub(/^ *xattr totl: /, ""); print }' "$T_DIR/print.out" >"$T_DIR/fs_totals"
diff -u <(echo "$before") "$T_DIR/fs_totals" >&2 || t_fail "fs_root's totals are not the last read"
[ "$(grep -c 'xattr totl:' "$T_DIR/print.out")" -eq "$(wc -l <"$T_DIR/fs_totals")" ] ||
	t_fail "totals left outside fs_root after the merges"
echo "totl-xattr-tag: totals follow the xattrs, survive remounts and merges, refusals refused"
