#!/usr/bin/env bash
# `mount -t scoutfs -o metadev_path=META,quorum_slot_nr=0 DATA MNT` through
# the real mount(8), which runs /sbin/mount.scoutfs: findmnt and df show
# the data device and the type, a file made there is kept, `umount MNT`
# makes scoutfsd unmount cleanly and exit (0, its log says so) and a
# remount finds the file.  The same for `mount -t fuse.scoutfsd` (mount(8)
# runs /sbin/mount.fuse.scoutfsd, the same helper) and for the generic FUSE
# helper, `mount -t fuse scoutfsd#DATA MNT` (mount.fuse3 runs the program
# named before the #).
#
# /sbin/mount.scoutfs and /sbin/mount.fuse.scoutfsd are this build's
# tools/mount.scoutfs: linked there for the test when missing (and removed
# after it), used when they are already the same file, and never replaced:
# the test skips if something else is there.
. "$(dirname "$0")/../funcs.sh"

: "${SCOUTFSD:?run through meson test or test/run.sh}"
: "${SFS_SOURCE_DIR:?run through meson test or test/run.sh}"

t_sbin_helpers

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
mkdir "$M"
# unmounted by the trap whatever happens (a mount can be live even when
# mount(8) failed)
T_MOUNTS+=("$M")
OPTS="metadev_path=$META,quorum_slot_nr=0"

# the scoutfsd serving MNT: its pid, found by its name and arguments
# (DATA MNT, as the helpers pass them)
daemon_pid() {	# MNT
	local p
	for p in $(pgrep -f -- "$T_DIR/"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = scoutfsd ] || continue
		case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
		*" $DATA $1 "*) echo "$p" && return 0 ;;
		esac
	done
	return 1
}

# mounted MNT TYPE WHAT: findmnt and df show DATA on MNT of TYPE; the
# daemon's pid is in $PID
mounted() {
	local mnt=$1 type=$2 what=$3 got
	got=$(findmnt -n -o SOURCE,FSTYPE,TARGET --mountpoint "$mnt") ||
		t_fail "$what: findmnt does not show $mnt"
	[ "$got" = "$DATA $type $mnt" ] ||
		t_fail "$what: findmnt shows '$got', expected '$DATA $type $mnt'"
	got=$(df -P "$mnt" | awk 'NR == 2 { print $1, $6, ($2 > 0) }')
	[ "$got" = "$DATA $mnt 1" ] || t_fail "$what: df shows '$(df -P "$mnt" | tail -1)'"
	PID=$(daemon_pid "$mnt") || t_fail "$what: no scoutfsd serving $mnt"
	T_PIDS+=("$PID")
}

# unmounted MNT WHAT: umount MNT, and the daemon $PID exits
unmounted() {
	local mnt=$1 what=$2 _
	umount "$mnt" || t_fail "$what: umount $mnt failed"
	for _ in $(seq 600); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PID" 2>/dev/null && t_fail "$what: scoutfsd $PID still runs a minute after umount"
	findmnt -n --mountpoint "$mnt" >/dev/null && t_fail "$what: $mnt is still mounted"
	return 0
}

# 1. mount -t scoutfs: the helper runs scoutfsd, which returns once the
# mount is live and serves it in the background
mount -t scoutfs -o "$OPTS" "$DATA" "$M" 9>&- >"$T_DIR/mount.out" 2>&1 ||
	t_fail "mount -t scoutfs failed: $(cat "$T_DIR/mount.out")"
mounted "$M" fuse.scoutfsd "mount -t scoutfs"
{ mkdir "$M/dir" && touch "$M/dir/file"; } || t_fail "cannot make a file in the mount"
unmounted "$M" "mount -t scoutfs"

# 2. again, the helper running a scoutfsd that stays in the foreground
# (-f) so that its exit status and its log can be seen (the daemonized
# one logs to syslog); the file is there
cat >"$T_DIR/scoutfsd-f" <<EOF
#!/bin/sh
# run by mount.scoutfs as: scoutfsd -o OPTS DATA MNT
( "$SCOUTFSD" -f "\$@" >"$T_DIR/daemon.log" 2>&1; echo \$? >"$T_DIR/daemon.rc" ) &
for i in \$(seq 600); do
	findmnt -n --mountpoint "\$4" >/dev/null && exit 0
	[ -f "$T_DIR/daemon.rc" ] && exit 1
	sleep 0.1
done
exit 1
EOF
chmod +x "$T_DIR/scoutfsd-f"
SCOUTFSD="$T_DIR/scoutfsd-f" mount -t scoutfs -o "$OPTS" "$DATA" "$M" 9>&- >"$T_DIR/mount.out" 2>&1 ||
	t_fail "mount -t scoutfs (foreground daemon) failed: $(cat "$T_DIR/mount.out"; cat "$T_DIR/daemon.log")"
mounted "$M" fuse.scoutfsd "remount"
[ -f "$M/dir/file" ] || t_fail "the file made before the unmount is gone: $(ls -la "$M" "$M/dir" 2>&1)"
unmounted "$M" "remount"
for _ in $(seq 100); do
	[ -s "$T_DIR/daemon.rc" ] && break
	sleep 0.1
done
[ "$(cat "$T_DIR/daemon.rc" 2>/dev/null)" = 0 ] ||
	t_fail "scoutfsd exited '$(cat "$T_DIR/daemon.rc" 2>/dev/null)' after umount: $(tail -5 "$T_DIR/daemon.log")"
grep -qF "unmounted $M cleanly" "$T_DIR/daemon.log" ||
	t_fail "scoutfsd's log does not say it unmounted cleanly: $(tail -5 "$T_DIR/daemon.log")"

# 3. mount -t fuse.scoutfsd: mount(8) prefers /sbin/mount.fuse.scoutfsd
# to the generic /sbin/mount.fuse
mount -t fuse.scoutfsd -o "$OPTS" "$DATA" "$M" 9>&- >"$T_DIR/mount.out" 2>&1 ||
	t_fail "mount -t fuse.scoutfsd failed: $(cat "$T_DIR/mount.out")"
mounted "$M" fuse.scoutfsd "mount -t fuse.scoutfsd"
[ -f "$M/dir/file" ] || t_fail "mount -t fuse.scoutfsd: the file is gone"
touch "$M/dir/file2" || t_fail "mount -t fuse.scoutfsd: cannot make a file"
unmounted "$M" "mount -t fuse.scoutfsd"

# 4. the generic FUSE helper: mount -t fuse PROGRAM#SOURCE runs
# `PROGRAM SOURCE MNT -o OPTS,dev,suid` through sh.  mount(8) runs helpers
# with its own PATH, so the test names the build's scoutfsd by its path.
if [ -x /sbin/mount.fuse ] || [ -x /sbin/mount.fuse3 ]; then
	mount -t fuse -o "$OPTS" "$SCOUTFSD#$DATA" "$M" 9>&- \
		>"$T_DIR/mount.out" 2>&1 ||
		t_fail "mount -t fuse scoutfsd#DATA failed: $(cat "$T_DIR/mount.out")"
	mounted "$M" fuse.scoutfsd "mount -t fuse scoutfsd#DATA"
	[ -f "$M/dir/file2" ] || t_fail "mount -t fuse scoutfsd#DATA: the file is gone"
	unmounted "$M" "mount -t fuse scoutfsd#DATA"
	fuse_too=", mount -t fuse scoutfsd#DATA"
else
	fuse_too=" (no mount.fuse3, so not mount -t fuse scoutfsd#DATA)"
fi

echo "mount -t: mount -t scoutfs, mount -t fuse.scoutfsd$fuse_too: mounted, shown, unmounted cleanly"
