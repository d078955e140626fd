#!/usr/bin/env bash
# fstab lines of type scoutfs (and fuse.scoutfsd) with the options fstab
# lines carry (defaults, _netdev, nofail, x-systemd.requires=..., noauto,
# comment=...), in a private fstab used with `mount -T FILE`: `mount -a`
# leaves the noauto line alone; `mount MNT` mounts by mount point alone
# and `mount DATA` by device alone; scoutfsd gets exactly the scoutfs and
# FUSE options (metadev_path, quorum_slot_nr, allow_other), not the
# generic ones; allow_other reaches the mount; umount ends the daemon.
#
# /sbin/mount.scoutfs and /sbin/mount.fuse.scoutfsd: as in mount-t.sh,
# this build's helper, linked for the test if missing, never replaced.
. "$(dirname "$0")/../funcs.sh"

: "${SCOUTFSD:?run through meson test or test/run.sh}"
: "${SFS_SOURCE_DIR:?run through meson test or test/run.sh}"

t_sbin_helpers

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
M2="$T_DIR/mnt2"
mkdir "$M" "$M2"
T_MOUNTS+=("$M" "$M2")
FSTAB="$T_DIR/fstab"
GENERIC="defaults,_netdev,nofail,x-systemd.requires=network-online.target,noauto,comment=scoutfs-test"
cat >"$FSTAB" <<EOF
# a private fstab for mount -T
$DATA	$M	scoutfs	$GENERIC,metadev_path=$META,quorum_slot_nr=0,allow_other	0 0
$DATA	$M2	fuse.scoutfsd	x-systemd.automount,noauto,metadev_path=$META,_netdev,quorum_slot_nr=0	0 0
EOF
WANT_OPTS="metadev_path=$META,quorum_slot_nr=0,allow_other"

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

# fstab_mount WHAT MNT ARG: mount -v -T FSTAB ARG, and DATA is on MNT
fstab_mount() {
	local what=$1 mnt=$2 got
	shift 2
	mount -v -T "$FSTAB" "$@" 9>&- >"$T_DIR/mount.out" 2>&1 ||
		t_fail "$what: mount -T fstab $* failed: $(cat "$T_DIR/mount.out")"
	got=$(findmnt -n -o SOURCE,FSTYPE,TARGET --mountpoint "$mnt") ||
		t_fail "$what: $mnt is not mounted: $(cat "$T_DIR/mount.out")"
	[ "$got" = "$DATA fuse.scoutfsd $mnt" ] ||
		t_fail "$what: findmnt shows '$got', expected '$DATA fuse.scoutfsd $mnt'"
	PID=$(daemon_pid "$mnt") || t_fail "$what: no scoutfsd serving $mnt"
	T_PIDS+=("$PID")
}

fstab_umount() {	# WHAT MNT
	local _
	umount "$2" || t_fail "$1: umount $2 failed"
	for _ in $(seq 600); do
		kill -0 "$PID" 2>/dev/null || return 0
		sleep 0.1
	done
	t_fail "$1: scoutfsd $PID still runs a minute after umount"
}

# noauto: mount -a mounts neither line
mount -a -T "$FSTAB" 9>&- >"$T_DIR/mount.out" 2>&1 ||
	t_fail "mount -a -T fstab failed: $(cat "$T_DIR/mount.out")"
findmnt -n --mountpoint "$M" >/dev/null && t_fail "mount -a mounted a noauto line"
findmnt -n --mountpoint "$M2" >/dev/null && t_fail "mount -a mounted a noauto line"
pgrep -f -- "$T_DIR/" >/dev/null && t_fail "mount -a started a scoutfsd"

# by mount point: the helper (-v: it prints what it runs) passes scoutfsd
# the scoutfs and FUSE options in their order, none of the generic ones
fstab_mount "by mount point" "$M" "$M"
want="mount.scoutfs: running $SCOUTFSD -o $WANT_OPTS $DATA $M"
grep -qxF "$want" "$T_DIR/mount.out" ||
	t_fail "mount -v did not show '$want': $(cat "$T_DIR/mount.out")"
tr '\0' '\n' <"/proc/$PID/cmdline" | grep -qxF "$WANT_OPTS" ||
	t_fail "scoutfsd runs as '$(tr '\0' ' ' <"/proc/$PID/cmdline")', not with -o $WANT_OPTS"
findmnt -n -o OPTIONS --mountpoint "$M" | tr ',' '\n' | grep -qx allow_other ||
	t_fail "allow_other did not reach the mount: $(findmnt -n -o OPTIONS --mountpoint "$M")"
mkdir "$M/kept" || t_fail "cannot mkdir in the mount"
fstab_umount "by mount point" "$M"

# by device: the first line that names it
fstab_mount "by device" "$M" "$DATA"
[ -d "$M/kept" ] || t_fail "by device: the directory made before is gone"
fstab_umount "by device" "$M"

# a fuse.scoutfsd line, by mount point
fstab_mount "fuse.scoutfsd line" "$M2" "$M2"
want="mount.scoutfs: running $SCOUTFSD -o metadev_path=$META,quorum_slot_nr=0 $DATA $M2"
grep -qxF "$want" "$T_DIR/mount.out" ||
	t_fail "fuse.scoutfsd line: mount -v did not show '$want': $(cat "$T_DIR/mount.out")"
[ -d "$M2/kept" ] || t_fail "fuse.scoutfsd line: the directory made before is gone"
fstab_umount "fuse.scoutfsd line" "$M2"

# mount(8) kept the userspace options (_netdev, x-systemd.*) in its utab
# while mounted; nothing of this test is left there
grep -qF "$T_DIR" /run/mount/utab 2>/dev/null &&
	t_fail "umount left entries in /run/mount/utab: $(grep -F "$T_DIR" /run/mount/utab)"

echo "mount fstab: noauto kept by mount -a, mounted by mount point and by device, generic options dropped"
