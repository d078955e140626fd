#!/usr/bin/env bash
# The systemd template unit tools/systemd/scoutfsd@.service.in, configured
# as meson does, passes `systemd-analyze verify` for an instance without a
# single warning about it (the ExecStart binary must exist, so it is the
# built scoutfsd or a stub, and the man page it names must exist: MANPATH
# points at docs/man), and says what the admin guide promises: Type=notify,
# the config file, the command line, the network, a stop timeout, no
# automatic restart.  Skips only without systemd-analyze.
. "$(dirname "$0")/../funcs.sh"

: "${SFS_SOURCE_DIR:?run through meson test or test/run.sh}"
IN="$SFS_SOURCE_DIR/tools/systemd/scoutfsd@.service.in"
[ -f "$IN" ] || t_fail "no unit template at $IN"
command -v systemd-analyze >/dev/null || t_skip "systemd-analyze is not installed (package systemd)"

# @SBINDIR@: where the built scoutfsd is, else a stub's directory
if [ -n "${SCOUTFSD:-}" ] && [ -x "$(dirname "$SCOUTFSD")/scoutfsd" ]; then
	SBIN=$(cd "$(dirname "$SCOUTFSD")" && pwd)
else
	SBIN="$T_DIR/sbin"
	mkdir "$SBIN"
	printf '#!/bin/sh\nexit 0\n' >"$SBIN/scoutfsd"
	chmod +x "$SBIN/scoutfsd"
fi

UNIT="$T_DIR/scoutfsd@.service"
sed "s|@SBINDIR@|$SBIN|g" "$IN" >"$UNIT" || t_fail "sed of the template failed"
grep -q '@[A-Z_]*@' "$UNIT" && t_fail "unsubstituted variables left: $(grep '@[A-Z_]*@' "$UNIT")"
# verify wants an instance; a copy named as one is loaded from its path
cp "$UNIT" "$T_DIR/scoutfsd@test.service"

# the man page of Documentation=man:scoutfsd(8), as man finds it
mkdir -p "$T_DIR/man/man8"
ln -s "$SFS_SOURCE_DIR/docs/man/scoutfsd.8" "$T_DIR/man/man8/scoutfsd.8"

verify() {	# UNIT-FILE: systemd-analyze verify, nothing said about scoutfsd
	local rc
	(cd "$T_DIR" && MANPATH="$T_DIR/man" systemd-analyze verify "$1") \
		>"$T_DIR/verify.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "systemd-analyze verify $1 exited $rc: $(cat "$T_DIR/verify.out")"
	# other units on this machine may draw warnings of their own
	grep -i 'scoutfs' "$T_DIR/verify.out" &&
		t_fail "systemd-analyze verify $1 warned about the unit (above)"
	return 0
}
verify "$T_DIR/scoutfsd@test.service"

# key=value lines of a section, comments dropped
section() {	# NAME
	awk -v s="[$1]" '/^\[/ { on = ($0 == s); next }
		on && /^[A-Za-z]/ { print }' "$UNIT"
}
has() {	# SECTION LINE: the section has exactly this line
	section "$1" | grep -qxF -- "$2" || t_fail "[$1] has no line '$2': $(section "$1" | paste -sd'|')"
}
has Service 'Type=notify'
has Service 'NotifyAccess=main'
has Service 'EnvironmentFile=/etc/scoutfs/%i.conf'
has Service "ExecStart=$SBIN/scoutfsd -f -o \${OPTIONS} \${DATA_DEVICE} \${MOUNTPOINT}"
has Service 'Restart=no'
has Unit 'Wants=network-online.target'
has Unit 'After=network-online.target'
has Install 'WantedBy=multi-user.target'
[ "$(section Service | grep -c '^Restart=')" -eq 1 ] ||
	t_fail "more than one Restart= line: $(section Service | grep '^Restart=')"
grep -Eq '^Restart=(always|on-)' "$UNIT" && t_fail "the unit restarts scoutfsd: $(grep '^Restart=' "$UNIT")"
# SIGTERM (the clean unmount) stops it, and it gets minutes to do so
grep -q '^KillSignal=' "$UNIT" && has Service 'KillSignal=SIGTERM'
stop=$(section Service | sed -n 's/^TimeoutStopSec=//p')
[ -n "$stop" ] || t_fail "no TimeoutStopSec="
case $stop in
infinity | [1-9]*h) secs=3600 ;;
*[0-9]min) secs=$((${stop%min} * 60)) ;;
*[0-9]s) secs=${stop%s} ;;
*[0-9]) secs=$stop ;;
*) t_fail "TimeoutStopSec=$stop: a form this test does not read" ;;
esac
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 120 ]; then
	t_fail "TimeoutStopSec=$stop is not generous (at least 2min)"
fi

# the verify above can fail: a unit with a mistake in it is caught
sed 's/^Type=notify$/Type=notifyy/' "$UNIT" >"$T_DIR/scoutfsd@bad.service"
(cd "$T_DIR" && MANPATH="$T_DIR/man" systemd-analyze verify "$T_DIR/scoutfsd@bad.service") \
	>"$T_DIR/bad.out" 2>&1
grep -q 'scoutfsd@bad' "$T_DIR/bad.out" ||
	t_fail "systemd-analyze verify said nothing about a bad Type=: $(cat "$T_DIR/bad.out")"

echo "systemd unit: ok"
