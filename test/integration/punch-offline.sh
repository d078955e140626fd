#!/usr/bin/env bash
# punch-offline (the reference's punch-offline test, in our words): the
# released extents of a range become sparse holes, reading as zeros
# without waiting, while the rest stays offline.  Refused, with nothing
# changed: misaligned or empty ranges, a wrong data_version, a range with
# mapped data in it, a file not open for writing.  data_version does not
# change; ranges over several extents work.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs a command: it must reach the mount
t_mount "$M" allow_other
S="$SCOUTFS"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }

F="$M/file"
head -c $((256 * 1024)) /dev/urandom >"$F"
v=$(field "$F" data_version)
# two offline extents with online data between them
"$S" release "$F" -V "$v" -o 0 -l 64K || t_fail "release head"
"$S" release "$F" -V "$v" -o 128K -l 128K || t_fail "release tail"
[ "$(field "$F" offline_blocks)" = 48 ] || t_fail "offline blocks: $(field "$F" offline_blocks)"

t_expect_fail "Invalid argument" "$S" punch-offline "$F" -V "$v" -o 100 -l 4096
t_expect_fail "Invalid argument" "$S" punch-offline "$F" -V "$v" -o 0 -l 100
t_expect_fail "Invalid argument" "$S" punch-offline "$F" -V "$v" -o 0 -l 0
t_expect_fail "Stale file handle" "$S" punch-offline "$F" -V $((v + 1)) -o 0 -l 64K
# the online middle is in this range: nothing changes
t_expect_fail "Invalid argument" "$S" punch-offline "$F" -V "$v" -o 0 -l 256K
[ "$(field "$F" offline_blocks)" = 48 ] || t_fail "a refused punch changed the file"

# the head becomes a hole: zeros, at once
"$S" punch-offline "$F" -V "$v" -o 0 -l 64K || t_fail "punch head"
[ "$(field "$F" offline_blocks)" = 32 ] || t_fail "offline after punch: $(field "$F" offline_blocks)"
[ "$(field "$F" data_version)" = "$v" ] || t_fail "punch-offline changed data_version"
timeout 10 cmp -n 65536 "$F" /dev/zero || t_fail "the punched head does not read as zeros"
# part of the tail, then the rest across what was punched already
"$S" punch-offline "$F" -V "$v" -o 128K -l 64K || t_fail "punch part of the tail"
[ "$(field "$F" offline_blocks)" = 16 ] || t_fail "offline after the second punch"
"$S" punch-offline "$F" -V "$v" -o 128K -l 128K || t_fail "punch over a hole and an extent"
[ "$(field "$F" offline_blocks)" = 0 ] || t_fail "offline blocks left"
timeout 10 cmp -i $((128 * 1024)):0 -n $((128 * 1024)) "$F" /dev/zero || t_fail "tail not zeros"
[ "$(stat -c %s "$F")" = $((256 * 1024)) ] || t_fail "punch-offline changed the size"

# a file of only online data: refused
G="$M/online"
head -c 65536 /dev/urandom >"$G"
t_expect_fail "Invalid argument" "$S" punch-offline "$G" -V "$(field "$G" data_version)" -o 0 -l 64K

# the file must be open for writing: another user cannot open it so
chmod 0644 "$G"
t_expect_fail "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$S" punch-offline "$G" -V 1 -o 0 -l 4096

t_umount "$M"
t_mount "$M"
[ "$(field "$F" offline_blocks)" = 0 ] || t_fail "offline blocks after remount"
timeout 10 cmp -n 65536 "$F" /dev/zero || t_fail "head after remount"
t_umount "$M"
echo "punch-offline: ok"
