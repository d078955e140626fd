#!/usr/bin/env bash
# The control socket against bad peers (docs/ctl-protocol.md): the run
# directory's files (its counters file follows the counters), then sfs-ctl-fuzz's cases on a live mount (malformed
# messages, lying lengths, duplicate and unknown REQUIRED fields, oversized
# messages, unknown types, requests before HELLO, impossible versions, bad
# and foreign fds, random and mutated messages, 300 connections at once,
# silent and flooding clients, root-only requests from uid 65534, no fd
# left behind).  Afterwards the daemon must be alive, the mount must still
# work, the ctl_* counters must have counted what happened, and an unmount
# with a silent client and a client that never reads its replies still
# connected must end the daemon cleanly (exit 0, run directory removed)
# and close both connections.  A sanitizer build's daemon must report
# nothing.  SFS_CTL_FUZZ_SEED replays a run of the random case.
. "$SFS_SOURCE_DIR/test/funcs.sh"

: "${SFS_CTL_FUZZ:?run through meson test}"
[ "$(id -u)" -eq 0 ] || t_skip "mounting needs root"
[ -e /dev/fuse ] || t_skip "no /dev/fuse"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
pid=${T_MOUNT_PID[$M]}
log="$T_DIR/scoutfsd.mnt.log"

# ---- the run directory ---------------------------------------------------
socks=("$SCOUTFS_RUN_DIR"/*/ctl.sock)
[ "${#socks[@]}" -eq 1 ] && [ -S "${socks[0]}" ] ||
	t_fail "want one control socket under $SCOUTFS_RUN_DIR, found: ${socks[*]}"
sock=${socks[0]}
run=$(dirname "$sock")
for f in fsid rid format_version mount_point dev mount_options pid counters; do
	[ -s "$run/$f" ] || t_fail "run directory $run has no $f"
done
[ "$(stat -c %a "$sock")" = 666 ] || t_fail "ctl.sock mode $(stat -c %a "$sock"), want 666"
[ "$(cat "$run/pid")" = "$pid" ] || t_fail "run directory pid $(cat "$run/pid"), daemon $pid"
[ "$(cat "$run/mount_point")" = "$(realpath "$M")" ] ||
	t_fail "run directory mount_point '$(cat "$run/mount_point")', want $(realpath "$M")"
[ "$(cat "$run/dev")" = "$(stat -c '%Hd:%Ld' "$M")" ] ||
	t_fail "run directory dev $(cat "$run/dev"), the mount is $(stat -c '%Hd:%Ld' "$M")"
[ "$(basename "$run")" = "$(cat "$run/fsid").$(cat "$run/rid")" ] ||
	t_fail "run directory $(basename "$run") is not <fsid>.<rid>"
# the counters file has every counter scoutfs counters shows, and follows them
"$SCOUTFS" counters -p "$M" | awk '{ print $1 }' >"$T_DIR/names.cli"
awk '{ print $1 }' "$run/counters" >"$T_DIR/names.file"
diff -u "$T_DIR/names.cli" "$T_DIR/names.file" >&2 || t_fail "the counters file's names differ"
reqs0=$(awk '$1 == "ctl_requests" { print $2 }' "$run/counters")
for i in 1 2 3 4 5; do "$SCOUTFS" statfs -p "$M" >/dev/null; done
for i in $(seq 50); do
	reqs1=$(awk '$1 == "ctl_requests" { print $2 }' "$run/counters")
	[ "$reqs1" -ge $((reqs0 + 5)) ] && break
	sleep 0.1
done
[ "$reqs1" -ge $((reqs0 + 5)) ] || t_fail "the counters file's ctl_requests stayed at $reqs1"

# counters NAME FILE: the value of a counter in a --counters listing
counter() {
	awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print "missing" }' "$2"
}

"$SFS_CTL_FUZZ" "$sock" --counters >"$T_DIR/counters.0" 2>&1 ||
	t_fail "reading the counters: $(cat "$T_DIR/counters.0")"

# ---- the cases ---------------------------------------------------------------
# replies come in milliseconds; the timeout is for a loaded machine
"$SFS_CTL_FUZZ" "$sock" --random-secs 5 --timeout-ms 10000 \
	${SFS_CTL_FUZZ_SEED:+--seed "$SFS_CTL_FUZZ_SEED"} >"$T_DIR/fuzz.out" 2>&1
rc=$?
cat "$T_DIR/fuzz.out"
[ "$rc" -eq 0 ] || t_fail "sfs-ctl-fuzz exited $rc: $(grep -m3 '^FAIL' "$T_DIR/fuzz.out")"
nr_cases=$("$SFS_CTL_FUZZ" --list | wc -l)
nr_pass=$(grep -c '^PASS' "$T_DIR/fuzz.out")
# every case and the fd-leak check (a SKIP of fd-leak would show up here)
[ "$nr_pass" -eq $((nr_cases + 1)) ] ||
	t_fail "$nr_pass cases passed of $nr_cases and fd-leak"

# ---- afterwards ----------------------------------------------------------------
kill -0 "$pid" 2>/dev/null || t_fail "scoutfsd died: $(tail -5 "$log")"
findmnt -n "$M" >/dev/null || t_fail "the mount is gone"
echo "still here" >"$M/after" || t_fail "cannot create a file after the fuzzing"
mkdir "$M/dir" && mv "$M/after" "$M/dir/after" || t_fail "cannot rename after the fuzzing"
[ "$(cat "$M/dir/after")" = "still here" ] || t_fail "the file reads '$(cat "$M/dir/after")'"
sync -f "$M/dir/after" || t_fail "syncfs after the fuzzing"

"$SFS_CTL_FUZZ" "$sock" --counters >"$T_DIR/counters.1" 2>&1 ||
	t_fail "reading the counters after: $(cat "$T_DIR/counters.1")"
# counter_grew NAME MIN: it went up by at least MIN
counter_grew() {
	local a b
	a=$(counter "$1" "$T_DIR/counters.0")
	b=$(counter "$1" "$T_DIR/counters.1")
	[ "$a" != missing ] && [ "$b" != missing ] || t_fail "no counter $1"
	[ $((b - a)) -ge "$2" ] || t_fail "counter $1 went from $a to $b, want +$2 at least"
	echo "$1: $a -> $b"
}
counter_grew ctl_malformed 100		# many more from the random case
counter_grew ctl_refused 44		# 300 connections, 256 served
counter_grew ctl_denied 5		# uid 65534's root-only requests
counter_grew ctl_connections 300
counter_grew ctl_requests 100
counter_grew ctl_errors 20

# ---- unmount with connections open -----------------------------------------
"$SFS_CTL_FUZZ" "$sock" --hold 30 >"$T_DIR/hold.out" 2>&1 &
holder=$!
T_PIDS+=("$holder")
for _ in $(seq 100); do
	grep -q holding "$T_DIR/hold.out" && break
	kill -0 "$holder" 2>/dev/null || t_fail "the holding client ended: $(cat "$T_DIR/hold.out")"
	sleep 0.05
done
grep -q holding "$T_DIR/hold.out" || t_fail "the holding client did not start"
# a wedged shutdown must fail here, not hang until meson's timeout
( trap 'kill $! 2>/dev/null; exit 0' TERM; sleep 30 & wait $!; kill -9 "$pid" ) >/dev/null 2>&1 &
watchdog=$!
t_umount "$M"
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
wait "$holder" || t_fail "the daemon did not close the held connections: $(cat "$T_DIR/hold.out")"
[ ! -e "$run" ] || t_fail "the run directory $run is still there after a clean unmount"
if grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$log"; then
	grep -E -A20 'Sanitizer|runtime error:' "$log" | head -60 >&2
	t_fail "the daemon's sanitizer reported errors"
fi
echo "ok"
