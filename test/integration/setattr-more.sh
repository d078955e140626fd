#!/usr/bin/env bash
# Restoring a file with setattr (SETATTR_MORE) and set-attr-x (SET_ATTR_X):
# the reference's setattr_more test, in our words.  An empty new file gets
# a size, a data_version and its times in one call; with --offline its
# whole contents are one offline extent, so stat shows offline blocks and
# the size, a reader waits (data-waiting lists it) and stage brings the
# archived bytes back.  Without --offline the contents are sparse.  Every
# refusal: data_version 0, a size without a data_version, --offline without
# a size, directories and other non-regular files, files that had contents
# (data_version no longer 0), a second restore, an fd not open for writing
# (EBADF), non-root callers (EPERM), unknown flags; a refused call changes
# nothing.  Large sizes, data versions and times are kept exactly; leaving
# out the data_version is fine; everything survives a remount.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs some commands: it must reach the mount and run directory
t_mount "$M" allow_other
S="$SCOUTFS"
A="$T_DIR/archive"
mkdir -p "$A"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }
ax() { "$S" get-attr-x "$@" || t_fail "scoutfs get-attr-x $*"; }

# wait (up to 10 s) until data-waiting lists inode $1
wait_listed() {
	local i
	for i in $(seq 200); do
		"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $1 " && return 0
		sleep 0.05
	done
	t_fail "no waiter of inode $1 listed: $("$S" data-waiting -I 0 -B 0 -p "$M")"
}

# python3 able to load libscoutfs: a sanitizer build's library wants its
# runtime loaded first (and python's own allocations are no leaks of ours)
pylib() {
	local rt
	rt=$(ldd "$SFS_BUILD_DIR/libscoutfs.so" | awk '/libasan/ { print $3 }')
	LD_PRELOAD=$rt ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 python3 "$@"
}

# lib CALL MODE PATH DV SIZE FLAGS: through libscoutfs directly (the CLI
# refuses some of these itself, and cannot open device nodes on the mount):
# CALL sm is SETATTR_MORE (FLAGS: its flags), ax is SET_ATTR_X of
# data_version (when not 0) and size (FLAGS: x_flags).  The file is named
# by an fd opened MODE (ro, wo) or by inode number (ino).  Prints ok or
# the errno's name.
lib() {
	pylib - "$@" <<'PY'
import ctypes, errno, os, sys
call, mode, path = sys.argv[1:4]
dv, size, flags = map(int, sys.argv[4:7])
u64, u32 = ctypes.c_uint64, ctypes.c_uint32
lib = ctypes.CDLL(os.path.join(os.environ["SFS_BUILD_DIR"], "libscoutfs.so"))
class Ref(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("ino", u64)]
class Time(ctypes.Structure):
    _fields_ = [("sec", u64), ("nsec", u32), ("pad", u32)]
class SM(ctypes.Structure):
    _fields_ = [("data_version", u64), ("i_size", u64), ("flags", u64), ("ctime", Time),
                ("crtime", Time)]
class AX(ctypes.Structure):
    _fields_ = [(n, u64) for n in ("x_mask", "x_flags", "meta_seq", "data_seq", "data_version",
                                   "online_blocks", "offline_blocks", "ctime_sec")] + \
               [("ctime_nsec", u32), ("crtime_nsec", u32)] + \
               [(n, u64) for n in ("crtime_sec", "size", "bits", "project_id")]
assert ctypes.sizeof(SM) == 56 and ctypes.sizeof(AX) == 104
ctl = ctypes.c_void_p()
r = lib.scoutfs_ctl_open(os.path.dirname(path).encode(), ctypes.byref(ctl))
if r == 0:
    if mode == "ino":
        ref = Ref(-1, os.lstat(path).st_ino)
    else:
        ref = Ref(os.open(path, os.O_RDONLY if mode == "ro" else os.O_WRONLY), 0)
    if call == "sm":
        arg = SM(dv, size, flags, Time(1, 0, 0), Time(1, 0, 0))
        r = lib.scoutfs_setattr_more(ctl, ref, ctypes.byref(arg))
    else:
        arg = AX(x_mask=(0x4 if dv else 0) | 0x80, x_flags=flags, data_version=dv, size=size)
        r = lib.scoutfs_set_attr_x(ctl, ref, ctypes.byref(arg))
print("ok" if r == 0 else errno.errorcode[-r])
PY
}

# --- restore an archived file as offline, read it back through stage ---------
size=$((3 * 1024 * 1024 + 100))
blocks=$(((size + 4095) / 4096))
head -c "$size" /dev/urandom >"$A/file"
F="$M/file"
touch "$F" || t_fail "create"
ino=$(stat -c %i "$F")
[ "$(field "$F" data_version)" = 0 ] || t_fail "a new file's data_version is not 0"
"$S" setattr "$F" -V 7 -s "$size" -o -t 1234567890.123456789 || t_fail "setattr --offline"
[ "$(stat -c %s "$F")" = "$size" ] || t_fail "size $(stat -c %s "$F") after setattr, want $size"
[ "$(field "$F" data_version)" = 7 ] || t_fail "data_version after setattr"
[ "$(field "$F" offline_blocks)" = "$blocks" ] ||
	t_fail "offline_blocks $(field "$F" offline_blocks), want $blocks"
[ "$(field "$F" online_blocks)" = 0 ] || t_fail "online blocks after setattr"
[ "$(stat -c %b "$F")" = 0 ] || t_fail "st_blocks $(stat -c %b "$F") of an offline file"
[ "$(stat -c %Z "$F")" = 1234567890 ] || t_fail "ctime $(stat -c %Z "$F")"
[ "$(ax "$F" -c)" = 1234567890.123456789 ] || t_fail "get-attr-x ctime $(ax "$F" -c)"
[ "$(ax "$F" -r)" = 1234567890.123456789 ] || t_fail "crtime $(ax "$F" -r)"
[ "$(field "$F" data_seq)" != 0 ] || t_fail "data_seq 0 with a data_version"

timeout 60 cat "$F" >"$T_DIR/read1" 2>"$T_DIR/read1.err" &
reader=$!
wait_listed "$ino"
kill -0 "$reader" 2>/dev/null || t_fail "the reader of the offline file did not wait"
"$S" stage "$A/file" "$F" -V 7 || t_fail "stage"
wait "$reader" || t_fail "the reader failed after stage: $(cat "$T_DIR/read1.err")"
cmp "$T_DIR/read1" "$A/file" || t_fail "the reader got other bytes than were archived"
cmp "$F" "$A/file" || t_fail "the staged file differs"
[ "$(field "$F" offline_blocks)" = 0 ] || t_fail "offline blocks after stage"
[ "$(field "$F" data_version)" = 7 ] || t_fail "stage changed data_version"

# --- sparse restore: no offline extent, zeros --------------------------------
Z="$M/sparse"
touch "$Z"
"$S" setattr "$Z" -V 3 -s 1M || t_fail "setattr without --offline"
[ "$(stat -c %s "$Z")" = 1048576 ] || t_fail "sparse size"
[ "$(field "$Z" offline_blocks)" = 0 ] || t_fail "offline blocks of a sparse restore"
cmp "$Z" <(head -c 1048576 /dev/zero) || t_fail "a sparse restore does not read zeros"

# --- the CLI's own checks -------------------------------------------------------
N="$M/new"
touch "$N"
t_expect_fail "data version must not be 0" "$S" setattr "$N" -V 0
"$S" setattr "$N" -V 0 2>/dev/null
[ $? = 2 ] || t_fail "a usage error does not exit 2"
t_expect_fail "must provide size if using --offline" "$S" setattr "$N" -V 1 -o
t_expect_fail "must provide data version if using --size" "$S" setattr "$N" -s 100

# --- the daemon's checks ----------------------------------------------------------
mkdir "$M/dir"
mknod "$M/char" c 1 3 || t_fail "mknod"
mkfifo "$M/fifo"
t_expect_fail "Is a directory" "$S" setattr "$M/dir" -V 1
# (device nodes cannot be opened on the mount (nodev): named by number)
[ "$(lib ax ino "$M/char" 1 10 0)" = EINVAL ] || t_fail "SET_ATTR_X of a char device"
[ "$(lib ax ino "$M/fifo" 1 0 0)" = EINVAL ] || t_fail "SET_ATTR_X of a fifo"
t_expect_fail "dir: Invalid argument" "$S" set-attr-x "$M/dir" -v 1
t_expect_fail "fifo: Invalid argument" "$S" set-attr-x "$M/fifo" -v 1 -s 10
t_expect_fail "dir: Invalid argument" "$S" set-attr-x "$M/dir" -s 0
# data_version 0, size without a data_version, offline without a size
t_expect_fail "new: Invalid argument" "$S" set-attr-x "$N" -v 0
t_expect_fail "new: Invalid argument" "$S" set-attr-x "$N" -s 100
t_expect_fail "new: Invalid argument" "$S" set-attr-x "$N" -s 0 -v 4 -o
t_expect_fail "new: Invalid argument" "$S" set-attr-x "$N" -c 5.0 -o
[ "$(lib sm wo "$N" 0 4096 0)" = EINVAL ] || t_fail "SETATTR_MORE: a size without data_version"
[ "$(lib sm wo "$N" 0 0 1)" = EINVAL ] || t_fail "SETATTR_MORE: offline without a size"
[ "$(lib sm wo "$N" 5 4096 2)" = EINVAL ] || t_fail "SETATTR_MORE: unknown flags"
# the file must be an fd open for writing
[ "$(lib sm ro "$N" 5 4096 1)" = EBADF ] || t_fail "SETATTR_MORE on a read-only fd"
[ "$(lib sm ino "$N" 5 4096 1)" = EBADF ] || t_fail "SETATTR_MORE by inode number"
# root only
chmod 666 "$N"
t_expect_fail "new: Operation not permitted" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$S" setattr "$N" -V 5 -s 4096 -o
t_expect_fail "new: Operation not permitted" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$S" set-attr-x "$N" -v 5
# nothing changed
[ "$(ax "$N" -v -s -f | tr '\n' ' ')" = "data_version: 0 offline_blocks: 0 size: 0 " ] ||
	t_fail "a refused call changed the file: $(ax "$N" -v -s -f | tr '\n' ' ')"
[ "$(stat -c %Z "$N")" != 5 ] || t_fail "a refused call changed ctime"

# a file that had contents, and a file already restored
W="$M/written"
echo data >"$W"
t_expect_fail "written: Invalid argument" "$S" setattr "$W" -V 9 -s 10
t_expect_fail "written: Invalid argument" "$S" setattr "$W"
t_expect_fail "file: Invalid argument" "$S" setattr "$F" -V 8 -s 10 -o
t_expect_fail "file: Invalid argument" "$S" set-attr-x "$F" -v 8
# but its times may change
"$S" set-attr-x "$W" -c 77.5 -r 66.4 || t_fail "set-attr-x times of a written file"
[ "$(ax "$W" -c -r | tr '\n' ' ')" = "ctime: 77.5 crtime: 66.4 " ] ||
	t_fail "times: $(ax "$W" -c -r)"
# fields that cannot be set are accepted and left alone
seq0=$(field "$W" data_seq)
"$S" set-attr-x "$W" -d 1 -n 2 -f 3 -m 4 || t_fail "set-attr-x of fields it leaves alone"
[ "$(field "$W" data_seq)" = "$seq0" ] || t_fail "set-attr-x -d changed data_seq"

# --- large values are kept exactly -------------------------------------------------
L="$M/large"
touch "$L"
big=578437695752307201	# 0x0807060504030201
"$S" setattr "$L" -V "$big" -s "$big" -o -t 4102444800.999999999 || t_fail "setattr of large values"
[ "$(stat -c %s "$L")" = "$big" ] || t_fail "large size $(stat -c %s "$L")"
[ "$(field "$L" data_version)" = "$big" ] || t_fail "large data_version"
[ "$(TZ=UTC stat -c %z "$L" | cut -c1-29)" = "2100-01-01 00:00:00.999999999" ] ||
	t_fail "large ctime $(TZ=UTC stat -c %z "$L")"
[ "$(field "$L" offline_blocks)" = $(((big + 4095) / 4096)) ] ||
	t_fail "offline blocks of a large file: $(field "$L" offline_blocks)"
# one offline extent of 976563 blocks for 4 GB
G="$M/fourgig"
touch "$G"
"$S" setattr "$G" -V 1 -s 4000000000 -o || t_fail "setattr 4 GB"
[ "$(field "$G" offline_blocks)" = 976563 ] || t_fail "4 GB offline blocks"

# --- leaving out the data_version is fine ----------------------------------------
O="$M/omit"
touch "$O"
"$S" setattr "$O" -t 1.2 || t_fail "setattr without a data version"
[ "$(ax "$O" -v -c | tr '\n' ' ')" = "data_version: 0 ctime: 1.2 " ] ||
	t_fail "setattr without a data version: $(ax "$O" -v -c)"

# --- a remount keeps it all ----------------------------------------------------------
t_umount "$M"
t_mount "$M"
cmp "$F" "$A/file" || t_fail "file after remount"
[ "$(stat -c %s "$L")" = "$big" ] || t_fail "large size after remount"
[ "$(field "$G" offline_blocks)" = 976563 ] || t_fail "offline blocks after remount"
[ "$(ax "$F" -r)" = 1234567890.123456789 ] || t_fail "crtime after remount"
t_umount "$M"
echo "setattr-more: ok"
