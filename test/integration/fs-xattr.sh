#!/usr/bin/env bash
# Extended attributes through a live mount: set, get, list and remove in
# every namespace (user, trusted, security, scoutfs tags), XATTR_CREATE /
# XATTR_REPLACE, the name (255) and value (65535) limits, values around
# the 896-byte item part boundaries, many xattrs on one file, hidden
# scoutfs.hide. names, unprivileged tagged names (EPERM), bad tags
# (EINVAL), user.* on a fifo and a symlink (EPERM), buffers too small
# (ERANGE).  The output must equal the golden file; scoutfs print must
# show each xattr as the format's parts; an unlinked file's xattr items
# must be gone; everything must read the same after a remount.
. "$(dirname "$0")/../funcs.sh"

command -v setfattr >/dev/null && command -v getfattr >/dev/null ||
	t_fail "setfattr/getfattr missing: tools/deps.sh installs the Debian package attr"

t_images 2G 4G
t_mkfs
chmod 711 "$T_DIR"	# uid 1000 runs some of the commands below
M="$T_DIR/mnt"
t_mount "$M" allow_other
out="$T_DIR/out"

# x OP PATH ARGS...: one xattr call through python, printing the result or
# the errno name.  Values: "len:N" is N bytes of a pattern, else literal.
#   set PATH NAME VALUE [create|replace]   get PATH NAME [BUFSIZE]
#   list PATH [BUFSIZE]                     rm PATH NAME
#   many PATH N (sets user.many.0..N-1)     dump PATH (every xattr, sorted)
x() {
	python3 - "$@" <<'PY'
import ctypes, errno, hashlib, os, sys
libc = ctypes.CDLL(None, use_errno=True)
op, path = sys.argv[1], sys.argv[2]
a = sys.argv[3:]

def val(spec):
    if spec.startswith("len:"):
        return bytes((i * 7 + 3) % 251 for i in range(int(spec[4:])))
    return spec.encode()

def show(v):
    if len(v) <= 24 and all(32 <= c < 127 for c in v):
        return '%d "%s"' % (len(v), v.decode())
    return "%d md5 %s" % (len(v), hashlib.md5(v).hexdigest()[:12])

def dump(p):
    for n in sorted(os.listxattr(p, follow_symlinks=False)):
        print("  %s = %s" % (n, show(os.getxattr(p, n, follow_symlinks=False))))

try:
    if op == "set":
        flags = {"": 0, "create": os.XATTR_CREATE, "replace": os.XATTR_REPLACE}[
            a[2] if len(a) > 2 else ""]
        os.setxattr(path, a[0], val(a[1]), flags, follow_symlinks=False)
        print("ok")
    elif op == "get" and len(a) > 1:
        buf = ctypes.create_string_buffer(max(int(a[1]), 1))
        r = libc.lgetxattr(path.encode(), a[0].encode(), buf, int(a[1]))
        if r < 0:
            raise OSError(ctypes.get_errno(), "")
        print(r if int(a[1]) == 0 else show(buf.raw[:r]))
    elif op == "get":
        print(show(os.getxattr(path, a[0], follow_symlinks=False)))
    elif op == "list":
        size = int(a[0]) if a else 65536
        buf = ctypes.create_string_buffer(max(size, 1))
        r = libc.llistxattr(path.encode(), buf, size)
        if r < 0:
            raise OSError(ctypes.get_errno(), "")
        if size == 0:
            print(r)
        else:
            names = [n.decode() for n in buf.raw[:r].split(b"\0") if n]
            print("%d bytes: %s" % (r, " ".join(sorted(names))))
    elif op == "rm":
        os.removexattr(path, a[0], follow_symlinks=False)
        print("ok")
    elif op == "many":
        for i in range(int(a[0])):
            os.setxattr(path, "user.many.%d" % i, ("value %d" % i).encode() * (i % 7))
        print("ok")
    elif op == "checkmany":
        names = set(os.listxattr(path))
        bad = [i for i in range(int(a[0]))
               if "user.many.%d" % i not in names or
               os.getxattr(path, "user.many.%d" % i) != ("value %d" % i).encode() * (i % 7)]
        print("%d names, %d wrong" % (len(names), len(bad)))
    elif op == "dump":
        dump(path)
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}

# a NAME of n bytes: prefix padded with 'n'
name_of() {
	local prefix=$1 n=$2
	printf '%s%s' "$prefix" "$(head -c $((n - ${#prefix})) /dev/zero | tr '\0' n)"
}

as_user() {
	setpriv --reuid=1000 --regid=1000 --clear-groups "$@"
}

# every file's xattrs, sorted ('many' only counted unless all is given)
listing() {
	(cd "$M" && find . -mindepth 1 | sort | while read -r p; do
		echo "$p"
		if [ "$p" = ./many ] && [ -z "${1:-}" ]; then
			x checkmany "$p" 500
		else
			x dump "$p"
		fi
	done)
}

n255=$(name_of user. 255)
n256=$(name_of user. 256)

{
	cd "$M" || exit 1
	touch f sizes many tags gone collide
	mkdir dir
	mknod fifo p
	ln -s f sym

	echo "== namespaces"
	echo "user: $(x set f user.a hello)"
	echo "user empty value: $(x set f user.empty '')"
	echo "trusted: $(x set f trusted.t tv)"
	echo "security: $(x set f security.s sv)"
	echo "dir user: $(x set dir user.d dv)"
	echo "unknown namespace: $(x set f other.x v)"
	echo "system other than acls: $(x set f system.foo v)"
	echo "bare prefix: $(x set f user. v)"
	echo "setfattr/getfattr: $(setfattr -n user.tool -v 0x414243 f && getfattr --only-values -n user.tool f)"
	x list f
	x dump f

	echo "== create and replace"
	echo "create existing: $(x set f user.a x create)"
	echo "replace missing: $(x set f user.nope x replace)"
	echo "create new: $(x set f user.c c1 create)"
	echo "replace existing: $(x set f user.c c2 replace)"
	echo "get user.c: $(x get f user.c)"
	echo "replace with a longer value: $(x set f user.c len:3000 replace)"
	echo "get user.c: $(x get f user.c)"
	echo "and shorter: $(x set f user.c c3)"
	echo "get user.c: $(x get f user.c)"
	echo "remove: $(x rm f user.c)"
	echo "remove again: $(x rm f user.c)"
	echo "get removed: $(x get f user.c)"
	echo "get missing: $(x get f user.missing)"

	echo "== limits"
	echo "255-byte name: $(x set f "$n255" v255)"
	echo "get it: $(x get f "$n255")"
	echo "256-byte name: $(x set f "$n256" v)"
	echo "65535-byte value: $(x set sizes user.max len:65535)"
	echo "get it: $(x get sizes user.max)"
	echo "65536-byte value: $(x set sizes user.toobig len:65536)"
	echo "255-byte name and 65535-byte value: $(x set f "$n255" len:65535)"
	echo "get it: $(x get f "$n255")"
	echo "size query: $(x get sizes user.max 0)"
	echo "buffer too small: $(x get sizes user.max 100)"
	echo "buffer exact: $(x get f user.a 5)"
	echo "list size query: $(x list f 0)"
	echo "list buffer too small: $(x list f 10)"

	echo "== values across item parts (19 bytes of header and name 'user.vNNNNN')"
	for n in 0 1 876 877 878 895 896 897 1772 1773 1774 1800 2669 2670 4000 65535; do
		r=$(x set sizes "$(printf 'user.v%05d' "$n")" "len:$n")
		echo "$n: $r, $(x get sizes "$(printf 'user.v%05d' "$n")")"
	done

	echo "== names with one hash (crc32c 0xfe649786)"
	echo "first: $(x set collide user.collide.1371838 one)"
	echo "second: $(x set collide user.collide.2000402 two)"
	echo "get first: $(x get collide user.collide.1371838)"
	echo "get second: $(x get collide user.collide.2000402)"
	echo "replace first: $(x set collide user.collide.1371838 len:1000 replace)"
	echo "create second: $(x set collide user.collide.2000402 x create)"
	echo "remove second: $(x rm collide user.collide.2000402)"
	echo "get first: $(x get collide user.collide.1371838)"
	echo "get second: $(x get collide user.collide.2000402)"
	echo "second again: $(x set collide user.collide.2000402 two)"
	x list collide

	echo "== many xattrs on one file"
	x many many 500
	x checkmany many 500
	x list many 0

	echo "== scoutfs tags"
	echo "hide: $(x set tags scoutfs.hide.secret s3)"
	echo "srch: $(x set tags scoutfs.srch.found yes)"
	echo "hide and srch: $(x set tags scoutfs.srch.hide.both b)"
	echo "totl: $(x set tags scoutfs.totl.count.1.2.3 42)"
	echo "totl hex value: $(x set tags scoutfs.totl.hex.1.2.4 0x10)"
	echo "indx: $(x set tags scoutfs.indx.ix.7.99 '')"
	echo "listed (hide. left out): $(x list tags)"
	echo "get hidden: $(x get tags scoutfs.hide.secret)"
	echo "getfattr -n hidden: $(getfattr --only-values -n scoutfs.hide.secret tags)"
	echo "get hidden srch: $(x get tags scoutfs.srch.hide.both)"
	echo "no tag: $(x set tags scoutfs.plain v)"
	echo "repeated tag: $(x set tags scoutfs.hide.hide.x v)"
	echo "nothing after the tags: $(x set tags scoutfs.hide. v)"
	echo "nothing after two tags: $(x set tags scoutfs.hide.srch. v)"
	echo "totl and indx: $(x set tags scoutfs.totl.indx.1.2.3 1)"
	echo "totl two numbers: $(x set tags scoutfs.totl.n.1.2 1)"
	echo "totl not a number: $(x set tags scoutfs.totl.n.1.x.3 1)"
	echo "totl value not a number: $(x set tags scoutfs.totl.n.1.2.3 abc)"
	echo "totl value with sign: $(x set tags scoutfs.totl.n.1.2.3 +1)"
	echo "totl value empty: $(x set tags scoutfs.totl.n.1.2.3 '')"
	echo "totl value too big: $(x set tags scoutfs.totl.n.1.2.3 18446744073709551616)"
	echo "indx major too big: $(x set tags scoutfs.indx.i.256.1 '')"
	echo "indx with a value: $(x set tags scoutfs.indx.i.1.1 v)"
	echo "indx one number: $(x set tags scoutfs.indx.1 '')"
	echo "remove hidden: $(x rm tags scoutfs.srch.hide.both)"

	echo "== unprivileged (uid 1000)"
	chown 1000:1000 tags
	echo "user.*: $(as_user bash -c "$(declare -f x); x set tags user.mine m")"
	echo "tagged set: $(as_user bash -c "$(declare -f x); x set tags scoutfs.hide.mine m")"
	echo "tagged remove: $(as_user bash -c "$(declare -f x); x rm tags scoutfs.hide.secret")"
	echo "tagged read: $(as_user getfattr --only-values -n scoutfs.hide.secret tags)"
	echo "trusted set: $(as_user bash -c "$(declare -f x); x set tags trusted.mine m")"
	echo "user.* on a file of root's: $(as_user bash -c "$(declare -f x); x set f user.theirs m")"

	echo "== other file types"
	echo "user.* on a fifo: $(x set fifo user.p v)"
	echo "trusted.* on a fifo: $(x set fifo trusted.p v)"
	echo "user.* on a symlink: $(x set sym user.l v)"
	echo "trusted.* on a symlink: $(x set sym trusted.l v)"
	echo "the symlink's: $(x list sym)"

	echo "== a removed file"
	x set gone user.g1 len:2000 >/dev/null
	x set gone trusted.g2 g >/dev/null
	echo "before: $(x list gone)"
	stat -c %i gone >"$T_DIR/gone.ino"
	rm gone
	cd /
	listing
} >"$out" 2>&1

[ -n "${SFS_GOLDEN_WRITE:-}" ] && cp "$out" "$SFS_SOURCE_DIR/test/golden/fs-xattr.out"
t_golden fs-xattr "$out"

# ctime moves on set and remove
c0=$(stat -c %Z "$M/f")
sleep 1.1
setfattr -n user.tick -v 1 "$M/f"
c1=$(stat -c %Z "$M/f")
[ "$c1" -gt "$c0" ] || t_fail "setting an xattr left ctime at $c0 ($c1)"
sleep 1.1
setfattr -x user.tick "$M/f"
c2=$(stat -c %Z "$M/f")
[ "$c2" -gt "$c1" ] || t_fail "removing an xattr left ctime at $c1 ($c2)"

# the same after a remount
ino_sizes=$(stat -c %i "$M/sizes")
ino_collide=$(stat -c %i "$M/collide")
listing all >"$T_DIR/before"
t_umount "$M"
t_mount "$M" allow_other
listing all >"$T_DIR/after"
diff -u "$T_DIR/before" "$T_DIR/after" >&2 || t_fail "the xattrs changed across a remount"
t_umount "$M"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"

# the removed file's xattr items are gone
t_live_fs_keys "$T_DIR/print.out" >"$T_DIR/live"
gone=$(cat "$T_DIR/gone.ino")
grep -q "^16\.$gone\.8\." "$T_DIR/live" &&
	t_fail "xattr items of removed inode $gone remain: $(grep "^16\.$gone\.8\." "$T_DIR/live" | head -3)"
grep -q "^16\.$gone\." "$T_DIR/live" && t_fail "items of removed inode $gone remain"

# every live xattr of 'sizes' and 'collide' is ceil((8 + name + value) /
# 896) parts numbered from 0; the names of 'collide' share a hash
python3 - "$T_DIR/print.out" "$T_DIR/live" "$ino_sizes" "$ino_collide" >"$T_DIR/parts" <<'PY' ||
import re, sys
live = set(open(sys.argv[2]).read().split())
inos = sys.argv[3:]
names, parts = {}, {}
key = None
for line in open(sys.argv[1]):
    m = re.match(r"^    (16\.(\d+)\.8\.(\d+)\.(\d+)\.(\d+)) \d+ [-d]$", line)
    if m:
        key = m.group(1) if m.group(1) in live and m.group(2) in inos else None
        if key:
            parts.setdefault(tuple(m.group(2, 3, 4)), set()).add(int(m.group(5)))
        continue
    m = re.match(r"^      name_len (\d+) val_len (\d+) name (\S+)$", line)
    if m and key and key.endswith(".0"):
        f = key.split(".")
        names[(f[1], f[3], f[4])] = (m.group(3), int(m.group(1)), int(m.group(2)))
bad = 0
hashes = {}
for k, (name, nl, vl) in sorted(names.items(), key=lambda kv: kv[1]):
    want = (8 + nl + vl + 895) // 896
    got = parts.get(k, set())
    ok = got == set(range(want))
    bad += not ok
    hashes.setdefault(k[0] + "." + k[1], []).append(name)
    print("%s: value %d, parts %d%s" % (name, vl, len(got), "" if ok else " WANT %d" % want))
if set(parts) - set(names):
    print("parts without a part 0: WANT none:", sorted(set(parts) - set(names)))
    bad += 1
shared = [n for n in hashes.values() if len(n) > 1]
print("names sharing a hash:", shared)
sys.exit(1 if bad or shared != [["user.collide.1371838", "user.collide.2000402"]] else 0)
PY
	t_fail "xattr items are not the format's parts: $(grep -E "WANT|sharing" "$T_DIR/parts" | head -3)"
grep -q "^user.v65535: value 65535, parts 74$" "$T_DIR/parts" ||
	t_fail "no 74-part xattr of 65535 bytes in print: $(grep v65535 "$T_DIR/parts")"
echo "fs xattr: golden output, ctime, same after a remount, items as the format's parts, gone with the file"
