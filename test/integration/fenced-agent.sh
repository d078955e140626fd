#!/usr/bin/env bash
# The fence agent alone, without scoutfsd: fake fence request directories
# under fake run directory bases, a fake fence command that records what
# it was given.  scoutfs-fenced answers a request with fenced=1 when the
# command exits 0 and error=1 when it fails or times out, never runs a
# command for an answered request again, gives the command the request in
# SCOUTFS_FENCED_REQ_*, shrugs at a request that went away, refuses bad
# configs and options with one clear line, re-reads its config on SIGHUP
# and exits 0 on SIGTERM.  scoutfs-fence-local kills the process of the
# run directory with the rid (a sleep standing in for scoutfsd, with
# SCOUTFS_FENCE_LOCAL_ANY=1), leaves alone what is not a scoutfsd, and says
# it found none for an unknown rid; and the two together fence end to end.
. "$(dirname "$0")/../funcs.sh"

: "${SFS_SOURCE_DIR:?run through meson test or test/run.sh}"
FENCED="$SFS_SOURCE_DIR/tools/scoutfs-fenced"
LOCAL="$SFS_SOURCE_DIR/tools/scoutfs-fence-local"
[ -x "$FENCED" ] || t_fail "no executable $FENCED"
[ -x "$LOCAL" ] || t_fail "no executable $LOCAL"
command -v timeout >/dev/null || t_skip "timeout (coreutils) is not installed"

B1="$T_DIR/base1"
B2="$T_DIR/base2"
DIRS="$B1 $B2"
FSID=0123456789abcdef
LEADER=1111111111111111
SRV1="$B1/$FSID.$LEADER"
SRV2="$B2/$FSID.$LEADER"
mkdir -p "$SRV1/fence" "$SRV2/fence"
RUNS="$T_DIR/runs"
: >"$RUNS"
unset SCOUTFS_FENCED_CONFIG_FILE SCOUTFS_FENCE_LOCAL_ANY SCOUTFS_FENCED_RUN_DIRS

# make_req SRV_DIR TARGET_RID ADDR REASON [FENCED ERROR]: a request as the
# leader makes it
make_req() {
	local d="$1/fence/$2"
	mkdir -p "$d"
	printf '%s\n' "$2" >"$d/rid"
	printf '%s\n' "$3" >"$d/addr"
	case $3 in
	*.*.*.*) printf '%s\n' "$3" >"$d/ipv4_addr" ;;
	esac
	printf '%s\n' "$4" >"$d/reason"
	echo 0 >"$d/elapsed_secs"
	echo "${5:-0}" >"$d/fenced"
	echo "${6:-0}" >"$d/error"
}
val() {	# FILE: its contents, or "gone"
	cat "$1" 2>/dev/null || echo gone
}
runs_of() {	# RID: how often the command ran for it
	grep -c "^rid=$1 " "$RUNS"
}

# the fake fence command: logs its environment and arguments, then exits
# with $T_DIR/rc.RID (default 0), sleeps $T_DIR/sleep.RID seconds first,
# removes the request first when $T_DIR/rm.RID names it
CMD="$T_DIR/fence-cmd"
cat >"$CMD" <<EOF
#!/usr/bin/env bash
r=\$SCOUTFS_FENCED_REQ_RID
echo "rid=\$r ip=\$SCOUTFS_FENCED_REQ_IP reason=\$SCOUTFS_FENCED_REQ_REASON dirs=\$SCOUTFS_FENCED_RUN_DIRS args=\$*" >>"$RUNS"
echo "fence-cmd ran for \$r"
[ -f "$T_DIR/sleep.\$r" ] && sleep "\$(cat "$T_DIR/sleep.\$r")"
[ -f "$T_DIR/rm.\$r" ] && rm -rf "\$(cat "$T_DIR/rm.\$r")"
exit "\$(cat "$T_DIR/rc.\$r" 2>/dev/null || echo 0)"
EOF
chmod +x "$CMD"

CONF="$T_DIR/fenced.conf"
write_conf() {	# [ARGS]: the config, RUN_ARGS=ARGS
	cat >"$CONF" <<EOF
# a test config
SCOUTFS_FENCED_RUN="$CMD"
SCOUTFS_FENCED_RUN_ARGS="${1:-one two}"
SCOUTFS_FENCED_RUN_DIRS="$DIRS"
SCOUTFS_FENCED_DELAY=0.2
SCOUTFS_FENCED_TIMEOUT=2
EOF
}
write_conf

once() {	# scoutfs-fenced --once with the config, stderr to $T_DIR/once.err
	"$FENCED" -c "$CONF" --once 2>"$T_DIR/once.err" ||
		t_fail "scoutfs-fenced --once exited $?: $(cat "$T_DIR/once.err")"
}

# --- one pass: success, failure, IPv6, answered requests left alone
A=00000000000000aa
B=00000000000000bb
C=00000000000000cc
D=00000000000000dd
E=00000000000000ee
make_req "$SRV1" "$A" 10.1.2.3 client_recovery
make_req "$SRV2" "$B" fd00::1:2 client_reconnect
echo 1 >"$T_DIR/rc.$B"
make_req "$SRV1" "$C" 10.1.2.4 client_recovery 1 0	# answered: fenced
make_req "$SRV2" "$D" 10.1.2.5 client_recovery 0 1	# answered: failed
mkdir -p "$SRV1/fence/$E"	# being made: no files yet
once
[ "$(val "$SRV1/fence/$A/fenced")" = 1 ] || t_fail "exit 0 did not set fenced: $(val "$SRV1/fence/$A/fenced")"
[ "$(val "$SRV1/fence/$A/error")" = 0 ] || t_fail "exit 0 set error"
[ "$(val "$SRV2/fence/$B/error")" = 1 ] || t_fail "exit 1 did not set error: $(val "$SRV2/fence/$B/error")"
[ "$(val "$SRV2/fence/$B/fenced")" = 0 ] || t_fail "exit 1 set fenced"
[ "$(runs_of "$C")" = 0 ] || t_fail "ran the command for a request already fenced"
[ "$(runs_of "$D")" = 0 ] || t_fail "ran the command for a request already failed"
[ "$(runs_of "$E")" = 0 ] || t_fail "ran the command for a request without its files"
[ "$(val "$SRV1/fence/$C/fenced")$(val "$SRV1/fence/$C/error")" = 10 ] || t_fail "touched an answered request"
# the environment and arguments the command got
grep -qxF "rid=$A ip=10.1.2.3 reason=client_recovery dirs=$DIRS args=one two" "$RUNS" ||
	t_fail "the command got the wrong environment for $A: $(cat "$RUNS")"
grep -qxF "rid=$B ip=fd00::1:2 reason=client_reconnect dirs=$DIRS args=one two" "$RUNS" ||
	t_fail "the command got the wrong environment for $B: $(cat "$RUNS")"
# one line per request and per result
grep -q "fencing rid $A at 10.1.2.3 for client_recovery" "$T_DIR/once.err" ||
	t_fail "no log line for the request $A: $(cat "$T_DIR/once.err")"
grep -q "rid $A fenced" "$T_DIR/once.err" || t_fail "no log line for fencing $A: $(cat "$T_DIR/once.err")"
grep -q "rid $B not fenced: the command exited 1" "$T_DIR/once.err" ||
	t_fail "no log line for failing $B: $(cat "$T_DIR/once.err")"
grep -q "$FSID.$LEADER" "$T_DIR/once.err" || t_fail "the log does not name the leader: $(cat "$T_DIR/once.err")"

# a second pass runs nothing again
once
[ "$(wc -l <"$RUNS")" = 2 ] || t_fail "a second pass ran commands again: $(cat "$RUNS")"

# the files of the request being made come: it is fenced
make_req "$SRV1" "$E" 10.1.2.6 quorum_block_leader
once
[ "$(runs_of "$E")" = 1 ] || t_fail "the completed request $E ran $(runs_of "$E") times"
[ "$(val "$SRV1/fence/$E/fenced")" = 1 ] ||
	t_fail "the completed request $E was not fenced: $(cat "$RUNS")"
# an IPv4 request without addr: ipv4_addr is used
rm -rf "$SRV1/fence"/*
: >"$RUNS"
make_req "$SRV1" "$A" 10.9.9.9 client_recovery
rm "$SRV1/fence/$A/addr"
once
grep -qxF "rid=$A ip=10.9.9.9 reason=client_recovery dirs=$DIRS args=one two" "$RUNS" ||
	t_fail "without addr the command got: $(cat "$RUNS")"

# --- a request that goes away while its command runs is no error, and no
# answer file is made in a request being removed
rm -rf "$SRV1/fence"/* "$SRV2/fence"/*
: >"$RUNS"
make_req "$SRV1" "$A" 10.1.2.3 client_recovery
echo "$SRV1/fence/$A" >"$T_DIR/rm.$A"
make_req "$SRV1" "$B" 10.1.2.4 client_recovery
echo "$SRV1/fence/$B/fenced" >"$T_DIR/rm.$B"	# the leader removing it
once
rm -f "$T_DIR/rm.$A" "$T_DIR/rm.$B"
[ -e "$SRV1/fence/$A" ] && t_fail "the request $A is back"
[ -e "$SRV1/fence/$B/fenced" ] && t_fail "an answer made the file fenced in a request going away"
grep -q "rid $A: the request .* went away" "$T_DIR/once.err" ||
	t_fail "no log line for the vanished request: $(cat "$T_DIR/once.err")"
grep -q "cannot write" "$T_DIR/once.err" && t_fail "a vanished request was an error: $(cat "$T_DIR/once.err")"

# --- a command that takes too long is killed and the request fails
rm -rf "$SRV1/fence"/*
make_req "$SRV1" "$C" 10.1.2.3 client_recovery
echo 30 >"$T_DIR/sleep.$C"
start=$SECONDS
once
[ $((SECONDS - start)) -lt 10 ] || t_fail "the 2 s timeout took $((SECONDS - start)) s"
[ "$(val "$SRV1/fence/$C/error")" = 1 ] || t_fail "a timed out command did not set error"
[ "$(val "$SRV1/fence/$C/fenced")" = 0 ] || t_fail "a timed out command set fenced"
grep -q "rid $C not fenced: the command timed out" "$T_DIR/once.err" ||
	t_fail "no log line for the timeout: $(cat "$T_DIR/once.err")"
rm -f "$T_DIR/sleep.$C"

# --- refusals: one line, non-zero
: >"$RUNS"
t_expect_fail 'config file .*/nonexistent.conf does not exist' "$FENCED" -c "$T_DIR/nonexistent.conf" --once
t_expect_fail 'config file .*/nonexistent.conf does not exist' \
	env SCOUTFS_FENCED_CONFIG_FILE="$T_DIR/nonexistent.conf" "$FENCED" --once
t_expect_fail 'config file .* is not a readable file' "$FENCED" -c "$T_DIR" --once
BAD="$T_DIR/bad.conf"
echo "SCOUTFS_FENCED_DELAY=1" >"$BAD"
t_expect_fail 'SCOUTFS_FENCED_RUN \(the fence command\) is not set' "$FENCED" -c "$BAD" --once
echo "SCOUTFS_FENCED_RUN=$T_DIR/runs" >"$BAD"	# not executable
t_expect_fail "SCOUTFS_FENCED_RUN '$T_DIR/runs' is not an executable file" "$FENCED" -c "$BAD" --once
echo "SCOUTFS_FENCED_RUN=$T_DIR/no-such-cmd" >"$BAD"
t_expect_fail "SCOUTFS_FENCED_RUN '$T_DIR/no-such-cmd' is not an executable file" "$FENCED" -c "$BAD" --once
printf 'SCOUTFS_FENCED_RUN=%s\nSCOUTFS_FENCED_DELAY=soon\n' "$CMD" >"$BAD"
t_expect_fail "SCOUTFS_FENCED_DELAY 'soon' is not a positive number" "$FENCED" -c "$BAD" --once
printf 'SCOUTFS_FENCED_RUN=%s\nSCOUTFS_FENCED_TIMEOUT=0\n' "$CMD" >"$BAD"
t_expect_fail "SCOUTFS_FENCED_TIMEOUT '0' is not a positive number" "$FENCED" -c "$BAD" --once
printf 'SCOUTFS_FENCED_RUN=%s\nfalse\n' "$CMD" >"$BAD"
t_expect_fail "sourcing it failed" "$FENCED" -c "$BAD" --once
t_expect_fail "unknown option '--bogus'" "$FENCED" --bogus
t_expect_fail "option -c needs a file" "$FENCED" -c
"$FENCED" --help >"$T_DIR/help" 2>&1 || t_fail "--help exited $?"
grep -q 'usage: scoutfs-fenced' "$T_DIR/help" || t_fail "--help said: $(cat "$T_DIR/help")"
# the bad configs ran nothing
[ -s "$RUNS" ] && t_fail "a refused config ran commands: $(cat "$RUNS")"

# --- as a daemon: polls, re-reads its config on SIGHUP, exits 0 on SIGTERM
rm -rf "$SRV1/fence"/* "$SRV2/fence"/* "$T_DIR"/rc.*
: >"$RUNS"
"$FENCED" -c "$CONF" 2>"$T_DIR/daemon.err" &
DPID=$!
T_PIDS+=("$DPID")
wait_for() {	# FILE VALUE: up to 10 s
	local _
	for _ in $(seq 100); do
		[ "$(val "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	t_fail "$1 is not $2 after 10 s: $(val "$1"); the daemon said: $(cat "$T_DIR/daemon.err")"
}
sleep 0.5	# a scan or two with nothing to do
make_req "$SRV1" "$A" 10.1.2.3 client_recovery
wait_for "$SRV1/fence/$A/fenced" 1
rm -rf "$SRV1/fence/$A"	# as the leader does
write_conf "three"
kill -HUP "$DPID"
for _ in $(seq 50); do
	grep -q 'SIGHUP: read' "$T_DIR/daemon.err" && break
	sleep 0.1
done
grep -q 'SIGHUP: read' "$T_DIR/daemon.err" || t_fail "no SIGHUP reload logged: $(cat "$T_DIR/daemon.err")"
make_req "$SRV2" "$B" 10.1.2.4 client_reconnect
wait_for "$SRV2/fence/$B/fenced" 1
grep -qxF "rid=$B ip=10.1.2.4 reason=client_reconnect dirs=$DIRS args=three" "$RUNS" ||
	t_fail "after SIGHUP the command got: $(cat "$RUNS")"
# a bad config on SIGHUP keeps the old one
mv "$CONF" "$CONF.good"
kill -HUP "$DPID"
for _ in $(seq 50); do
	grep -q 'keeping the previous config' "$T_DIR/daemon.err" && break
	sleep 0.1
done
grep -q 'keeping the previous config' "$T_DIR/daemon.err" ||
	t_fail "a SIGHUP with no config file was not refused: $(cat "$T_DIR/daemon.err")"
mv "$CONF.good" "$CONF"
rm -rf "$SRV2/fence/$B"
make_req "$SRV1" "$C" 10.1.2.5 client_recovery
wait_for "$SRV1/fence/$C/fenced" 1
kill -0 "$DPID" 2>/dev/null || t_fail "the daemon died: $(cat "$T_DIR/daemon.err")"
[ "$(wc -l <"$RUNS")" = 3 ] || t_fail "the daemon ran commands more than once a request: $(cat "$RUNS")"
kill -TERM "$DPID"
for _ in $(seq 50); do
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$DPID" 2>/dev/null && t_fail "the daemon did not exit 5 s after SIGTERM"
wait "$DPID"
rc=$?
[ "$rc" = 0 ] || t_fail "the daemon exited $rc on SIGTERM: $(cat "$T_DIR/daemon.err")"

# --- scoutfs-fence-local
RID=5a5a5a5a5a5a5a5a
sleep 1000 &
VICTIM=$!
T_PIDS+=("$VICTIM")
RUN="$B1/$FSID.$RID"
mkdir -p "$RUN"
echo "$RID" >"$RUN/rid"
echo "$FSID" >"$RUN/fsid"
echo "$VICTIM" >"$RUN/pid"
echo "$T_DIR/not-a-mount" >"$RUN/mount_point"
export SCOUTFS_FENCED_RUN_DIRS="$DIRS"

# a process that is not a scoutfsd is left alone: none found
out=$("$LOCAL" "$RID" 2>&1) || t_fail "fence-local exited $? for a non-scoutfsd: $out"
kill -0 "$VICTIM" 2>/dev/null || t_fail "fence-local killed a process that is not a scoutfsd"
echo "$out" | grep -q "no live scoutfsd with rid $RID found" || t_fail "fence-local said: $out"
# an unknown rid: none found, exit 0
out=$("$LOCAL" 0000000000001234 2>&1) || t_fail "fence-local exited $? for an unknown rid: $out"
echo "$out" | grep -q "no live scoutfsd with rid 0000000000001234 found" || t_fail "fence-local said: $out"
# a run dir whose rid file says otherwise is not the target
echo 0000000000000001 >"$RUN/rid"
out=$(SCOUTFS_FENCE_LOCAL_ANY=1 "$LOCAL" "$RID" 2>&1) || t_fail "fence-local exited $?: $out"
kill -0 "$VICTIM" 2>/dev/null || t_fail "fence-local killed the process of a run dir with another rid"
echo "$RID" >"$RUN/rid"
# bad rids
t_expect_fail "'xyz' is not a rid" "$LOCAL" xyz
t_expect_fail "no rid" env -u SCOUTFS_FENCED_REQ_RID "$LOCAL"

# through the daemon, the rid in SCOUTFS_FENCED_REQ_RID, rid given as in
# the request
cat >"$T_DIR/local.conf" <<EOF
SCOUTFS_FENCED_RUN="$LOCAL"
SCOUTFS_FENCED_RUN_DIRS="$DIRS"
SCOUTFS_FENCED_DELAY=0.2
SCOUTFS_FENCED_TIMEOUT=20
EOF
make_req "$SRV1" "$RID" 127.0.0.1 client_recovery
SCOUTFS_FENCE_LOCAL_ANY=1 "$FENCED" -c "$T_DIR/local.conf" --once 2>"$T_DIR/local.err" ||
	t_fail "scoutfs-fenced --once with fence-local exited $?: $(cat "$T_DIR/local.err")"
[ "$(val "$SRV1/fence/$RID/fenced")" = 1 ] ||
	t_fail "fence-local did not fence $RID: $(cat "$T_DIR/local.err")"
kill -0 "$VICTIM" 2>/dev/null && t_fail "fence-local exited 0 but the target lives: $(cat "$T_DIR/local.err")"
wait "$VICTIM"
rc=$?
[ "$rc" = 137 ] || t_fail "the target exited $rc, not by SIGKILL"
# once dead, fencing it again finds none and succeeds
out=$(SCOUTFS_FENCE_LOCAL_ANY=1 SCOUTFS_FENCED_REQ_RID=$RID "$LOCAL" 2>&1) ||
	t_fail "fencing a dead target exited $?: $out"
echo "$out" | grep -q "no live scoutfsd with rid $RID found" || t_fail "fence-local said: $out"

echo "fenced agent: ok"
