#!/usr/bin/env bash
# Release, stage and data waiting through the CLI (the reference's
# simple-staging, simple-release-extents and offline-extent-waiting, in
# our words).  A file archived at data_version V is released: its blocks
# go offline (stat shows them), its size, times and data_version stay.
# Release or stage at another version fails with ESTALE.  A reader of an
# offline region waits, without an error, and data-waiting lists it;
# stage brings the archived bytes back and the reader gets them.
# data-wait-err gives a waiting reader that error.  A write to a file
# with offline blocks anywhere waits too (data_version covers the whole
# file), and lands after the stage; so does a truncate.  A waiting reader that
# gets a signal goes away and leaves no waiter (direct and buffered reads:
# the kernel sends no INTERRUPT for them, the daemon sees the signal).  A
# partial release leaves the rest readable.
. "$(dirname "$0")/../funcs.sh"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
chmod 711 "$T_DIR"	# uid 65534 runs a command: it must reach the mount and run directory
t_mount "$M" allow_other
S="$SCOUTFS"
A="$T_DIR/archive"
mkdir -p "$A"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }

# wait (up to 10 s) until data-waiting lists inode $1
wait_listed() {
	local i
	for i in $(seq 200); do
		"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $1 " && return 0
		sleep 0.05
	done
	t_fail "no waiter of inode $1 listed: $("$S" data-waiting -I 0 -B 0 -p "$M")"
}

# --- release and stage a 3 MiB + 100 B file --------------------------------
F="$M/file"
head -c $((3 * 1024 * 1024 + 100)) /dev/urandom >"$A/file"
cp "$A/file" "$F" || t_fail "copy in"
ino=$(stat -c %i "$F")
vers=$(field "$F" data_version)
size0=$(stat -c %s "$F")
mtime0=$(stat -c %Y.%y "$F")
[ "$(field "$F" offline_blocks)" = 0 ] || t_fail "offline blocks before release"
online0=$(field "$F" online_blocks)
[ "$online0" -ge 769 ] || t_fail "online_blocks $online0 for a 3 MiB file"

t_expect_fail "Stale file handle" "$S" release "$F" -V $((vers + 1))
"$S" release "$F" -V "$vers" || t_fail "release"
[ "$(field "$F" online_blocks)" = 0 ] || t_fail "online blocks after release"
[ "$(field "$F" offline_blocks)" -ge 769 ] || t_fail "offline blocks after release"
[ "$(field "$F" data_version)" = "$vers" ] || t_fail "release changed data_version"
[ "$(stat -c %s "$F")" = "$size0" ] || t_fail "release changed the size"
[ "$(stat -c %Y.%y "$F")" = "$mtime0" ] || t_fail "release changed mtime"
# releasing what is already offline is fine
"$S" release "$F" -V "$vers" || t_fail "second release"

# a reader waits; data-waiting lists it
timeout 60 cat "$F" >"$T_DIR/read1" 2>"$T_DIR/read1.err" &
reader=$!
wait_listed "$ino"
kill -0 "$reader" 2>/dev/null || t_fail "the reader of offline data did not wait"
"$S" data-waiting -I 0 -B 0 -p "$M" --json | grep -q "\"ino\": $ino" ||
	t_fail "data-waiting --json does not list $ino"

t_expect_fail "Stale file handle" "$S" stage "$A/file" "$F" -V $((vers + 1))
"$S" stage "$A/file" "$F" -V "$vers" || t_fail "stage"
wait "$reader" || t_fail "the reader failed after stage: $(cat "$T_DIR/read1.err")"
cmp "$T_DIR/read1" "$A/file" || t_fail "the reader got other bytes than were archived"
cmp "$F" "$A/file" || t_fail "the staged file differs"
[ "$(field "$F" offline_blocks)" = 0 ] || t_fail "offline blocks after stage"
[ "$(field "$F" data_version)" = "$vers" ] || t_fail "stage changed data_version"
[ "$(stat -c %Y.%y "$F")" = "$mtime0" ] || t_fail "stage changed mtime"
[ -z "$("$S" data-waiting -I 0 -B 0 -p "$M")" ] || t_fail "waiters left after stage"

# --- a write waits while any block is offline -----------------------------------
W="$M/wfile"
head -c $((64 * 1024)) /dev/urandom >"$A/wfile"
cp "$A/wfile" "$W"
wino=$(stat -c %i "$W")
wvers=$(field "$W" data_version)
"$S" release "$W" -V "$wvers" -o 32K -l 32K || t_fail "release wfile tail"
# the write is to the online head, still it waits
printf 'HEAD' | timeout 60 dd of="$W" bs=4 count=1 conv=notrunc status=none &
writer=$!
for i in $(seq 200); do
	"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $wino iblock 8 ops write$" && break
	sleep 0.05
done
"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $wino iblock 8 ops write$" ||
	t_fail "no write waiter: $("$S" data-waiting -I 0 -B 0 -p "$M")"
kill -0 "$writer" 2>/dev/null || t_fail "the writer did not wait"
"$S" stage "$A/wfile" "$W" -V "$wvers" -o 32K -l 32K || t_fail "stage wfile"
wait "$writer" || t_fail "the waiting write failed"
printf 'HEAD' | dd of="$A/wfile" bs=4 count=1 conv=notrunc status=none
cmp "$W" "$A/wfile" || t_fail "the write that waited did not land as written"
[ "$(field "$W" data_version)" -gt "$wvers" ] || t_fail "the write did not move data_version"

# --- a size change waits too ------------------------------------------------------------
T="$M/tfile"
head -c $((64 * 1024)) /dev/urandom >"$A/tfile"
cp "$A/tfile" "$T"
tino=$(stat -c %i "$T")
tvers=$(field "$T" data_version)
"$S" release "$T" -V "$tvers" || t_fail "release tfile"
timeout 60 truncate -s 4096 "$T" &
trunc=$!
for i in $(seq 200); do
	"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $tino iblock 0 ops change_size$" && break
	sleep 0.05
done
"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $tino iblock 0 ops change_size$" ||
	t_fail "no change_size waiter: $("$S" data-waiting -I 0 -B 0 -p "$M")"
kill -0 "$trunc" 2>/dev/null || t_fail "the truncate did not wait"
"$S" stage "$A/tfile" "$T" -V "$tvers" || t_fail "stage tfile"
wait "$trunc" || t_fail "the waiting truncate failed"
[ "$(stat -c %s "$T")" = 4096 ] || t_fail "truncate after the stage: size $(stat -c %s "$T")"
cmp -n 4096 "$T" "$A/tfile" || t_fail "the kept head after the truncate"

# --- data-wait-err: the reader gets the error --------------------------------
G="$M/errfile"
head -c $((256 * 1024)) /dev/urandom >"$G"
gino=$(stat -c %i "$G")
"$S" release "$G" -V "$(field "$G" data_version)" || t_fail "release errfile"
timeout 60 cat "$G" >/dev/null 2>"$T_DIR/read2.err" &
reader=$!
wait_listed "$gino"
"$S" data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 5 -p "$M" >"$T_DIR/err.out" ||
	t_fail "data-wait-err"
grep -q '^data_wait_err found [1-9][0-9]* waiters\.$' "$T_DIR/err.out" ||
	t_fail "data-wait-err said: $(cat "$T_DIR/err.out")"
wait "$reader" && t_fail "the reader succeeded after data-wait-err"
grep -q "Input/output error" "$T_DIR/read2.err" ||
	t_fail "the reader's error: $(cat "$T_DIR/read2.err")"
# only root may do it
t_expect_fail "Operation not permitted" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$S" data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 5 -p "$M"

# --- a signal takes a waiting reader away ---------------------------------------
H="$M/intr"
head -c 65536 /dev/urandom >"$H"
hino=$(stat -c %i "$H")
"$S" release "$H" -V "$(field "$H" data_version)" || t_fail "release intr"
for how in direct buffered; do
	if [ $how = direct ]; then
		dd if="$H" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null &
	else
		cat "$H" >/dev/null 2>&1 &
	fi
	reader=$!
	wait_listed "$hino"
	# (background jobs of a script ignore SIGINT: TERM stands in for ^C)
	kill -TERM "$reader"
	for i in $(seq 200); do
		kill -0 "$reader" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$reader" 2>/dev/null && t_fail "an interrupted $how reader still waits"
	wait "$reader" 2>/dev/null
	for i in $(seq 200); do
		[ -z "$("$S" data-waiting -I 0 -B 0 -p "$M")" ] && break
		sleep 0.05
	done
	[ -z "$("$S" data-waiting -I 0 -B 0 -p "$M")" ] ||
		t_fail "waiters left by an interrupted $how reader: $("$S" data-waiting -I 0 -B 0 -p "$M")"
done

# --- a partial release leaves the rest readable ------------------------------------
P="$M/partial"
head -c $((1024 * 1024)) /dev/urandom >"$A/partial"
cp "$A/partial" "$P"
"$S" release "$P" -V "$(field "$P" data_version)" -o 512K -l 256K || t_fail "partial release"
[ "$(field "$P" offline_blocks)" = 64 ] || t_fail "partial release: $(field "$P" offline_blocks) offline"
cmp -n $((512 * 1024)) "$P" "$A/partial" || t_fail "the online head of a partly released file"
t_expect_fail "Invalid argument" "$S" release "$P" -V "$(field "$P" data_version)" -o 100 -l 4096
"$S" stage "$A/partial" "$P" -V "$(field "$P" data_version)" -o 512K -l 256K || t_fail "partial stage"
cmp "$P" "$A/partial" || t_fail "the partly released file after stage"

# everything survives a remount
t_umount "$M"
t_mount "$M"
cmp "$F" "$A/file" || t_fail "file after remount"
cmp "$P" "$A/partial" || t_fail "partial after remount"
t_umount "$M"
echo "simple-staging: ok"
