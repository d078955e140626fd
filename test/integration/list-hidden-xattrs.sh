#!/usr/bin/env bash
# Hidden xattrs (scoutfs. names with the hide. tag): listxattr leaves them
# out, LISTXATTR_HIDDEN (scoutfs list-hidden-xattrs) lists exactly them,
# also when they take many replies (more than 64 KiB of names, and
# through libscoutfs with a buffer of a few names, whose cursor pages
# through them; a buffer too small for one name is ERANGE).  Anyone who
# can open the file for reading may list them; changes and removals show
# at once (the listing is not limited to committed changes), and the
# names survive a remount.
. "$(dirname "$0")/../funcs.sh"

command -v getfattr >/dev/null || t_fail "getfattr missing: tools/deps.sh installs attr"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs some commands: it must reach the mount and run directory
t_mount "$M" allow_other
S="$SCOUTFS"

# px OP ARGS...
#   setmany PATH N: N hidden names of about 200 bytes, and others around them
#   want PATH: the hidden names the file should list, sorted
#   lib PATH BUFSIZE: LISTXATTR_HIDDEN through libscoutfs with a small
#     buffer: the names sorted, then how many calls it took, or the errno
cat >"$T_DIR/px.py" <<'PY'
import ctypes, errno, os, sys
op, p = sys.argv[1], sys.argv[2]
if op == "setmany":
    for i in range(int(sys.argv[3])):
        os.setxattr(p, "scoutfs.hide.%s.%04d" % ("h" * 180, i), b"v%d" % i)
    os.setxattr(p, "scoutfs.srch.hide.both", b"b")
    os.setxattr(p, "scoutfs.hide.totl.t.1.2.3", b"5")
    os.setxattr(p, "scoutfs.srch.shown", b"s")
    os.setxattr(p, "user.shown", b"u")
elif op == "want":
    names = [n for n in os.listxattr(p)]
    assert not any(".hide." in n for n in names), "listxattr showed a hidden name"
elif op == "lib":
    class FileRef(ctypes.Structure):
        _fields_ = [("fd", ctypes.c_int), ("ino", ctypes.c_uint64)]
    lib = ctypes.CDLL(os.path.join(os.environ["SFS_BUILD_DIR"], "libscoutfs.so"))
    lib.scoutfs_listxattr_hidden.argtypes = [ctypes.c_void_p, FileRef,
        ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64),
        ctypes.c_char_p, ctypes.c_size_t]
    ctl = ctypes.c_void_p()
    assert lib.scoutfs_ctl_open(p.encode(), ctypes.byref(ctl)) == 0
    fd = os.open(p, os.O_RDONLY)
    size = int(sys.argv[3])
    buf = ctypes.create_string_buffer(size)
    h, i = ctypes.c_uint64(0), ctypes.c_uint64(0)
    names, calls = [], 0
    while True:
        r = lib.scoutfs_listxattr_hidden(ctl, FileRef(fd, 0), ctypes.byref(h), ctypes.byref(i),
                                         buf, size)
        calls += 1
        if r < 0:
            print(errno.errorcode.get(-r, str(r)))
            break
        if r == 0:
            for n in sorted(names):
                print(n)
            print("%d calls" % calls)
            break
        names += [n.decode() for n in buf.raw[:r].split(b"\0") if n]
PY
# python may load this build's libscoutfs (lib): an ASan build's runtime must come first
asan_rt=$(ldd "$SFS_BUILD_DIR/libscoutfs.so" 2>/dev/null |
	awk '/lib(a|ub)san/ { printf "%s%s", sep, $3; sep = ":" }')
px() { LD_PRELOAD="$asan_rt" ASAN_OPTIONS=detect_leaks=0 python3 "$T_DIR/px.py" "$@"; }
upy=python3
setpriv --reuid=65534 --regid=65534 --clear-groups "$upy" -c '' 2>/dev/null || upy=/usr/bin/python3

F="$M/file"
touch "$F" "$M/plain"
mkdir "$M/dir"
px setmany "$F" 400
setfattr -n scoutfs.hide.on.a.dir -v d "$M/dir"
for i in $(seq 0 399); do printf 'scoutfs.hide.%s.%04d\n' "$(printf 'h%.0s' $(seq 180))" "$i"; done \
	>"$T_DIR/want"
printf '%s\n' scoutfs.srch.hide.both scoutfs.hide.totl.t.1.2.3 >>"$T_DIR/want"
sort -o "$T_DIR/want" "$T_DIR/want"
px want "$F" || t_fail "listxattr shows hidden names"

listed() {
	"$S" list-hidden-xattrs "$1" >"$T_DIR/got" || t_fail "list-hidden-xattrs $1"
	sort "$T_DIR/got"
}
[ "$(wc -c <"$T_DIR/want")" -gt 65536 ] || t_fail "the names do not take more than one reply"
diff -u "$T_DIR/want" <(listed "$F") >&2 || t_fail "list-hidden-xattrs is not the hidden names"
[ "$(listed "$M/dir")" = scoutfs.hide.on.a.dir ] || t_fail "a directory's hidden name: $(listed "$M/dir")"
[ -z "$(listed "$M/plain")" ] || t_fail "a file without hidden names lists $(listed "$M/plain")"
[ "$(getfattr --only-values -n scoutfs.hide.totl.t.1.2.3 "$F")" = 5 ] ||
	t_fail "a hidden name's value does not read"
"$S" list-hidden-xattrs --json "$M/dir" | python3 -c '
import json, sys
assert json.load(sys.stdin) == ["scoutfs.hide.on.a.dir"]' || t_fail "--json"

# through the library with small buffers: the cursor pages
px lib "$F" 1000 >"$T_DIR/lib"
diff -u "$T_DIR/want" <(grep -v ' calls$' "$T_DIR/lib") >&2 ||
	t_fail "libscoutfs with a 1000-byte buffer lists other names"
calls=$(sed -n 's/ calls$//p' "$T_DIR/lib")
[ "$calls" -ge 80 ] || t_fail "a 1000-byte buffer took only $calls calls for 402 names"
[ "$(px lib "$F" 100)" = ERANGE ] || t_fail "a buffer too small for a name: $(px lib "$F" 100)"

# anyone who can read the file may list; who cannot open it cannot
got=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$S" list-hidden-xattrs "$M/dir")
[ "$got" = scoutfs.hide.on.a.dir ] || t_fail "uid 65534 reading a readable dir: $got"
chmod 600 "$F"
t_expect_fail "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$S" list-hidden-xattrs "$F"
t_expect_fail "No such file" "$S" list-hidden-xattrs "$M/missing"

# changes show at once; removals too
setfattr -x "scoutfs.srch.hide.both" "$F"
setfattr -n scoutfs.hide.new -v n "$F"
sed -i '/^scoutfs.srch.hide.both$/d' "$T_DIR/want"
echo scoutfs.hide.new >>"$T_DIR/want"
sort -o "$T_DIR/want" "$T_DIR/want"
diff -u "$T_DIR/want" <(listed "$F") >&2 || t_fail "after a removal and a set"

t_umount "$M"
t_mount "$M"
diff -u "$T_DIR/want" <(listed "$F") >&2 || t_fail "after a remount"
t_umount "$M"
echo "list-hidden-xattrs: exactly the hidden names, paged, readable by readers"
