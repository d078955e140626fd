#!/usr/bin/env bash
# Quickstart on a fresh Debian 12 machine: install the packages that are
# missing, build, install (meson install into /usr/local, with the mount(8)
# helpers linked into /sbin), make a volume on two sparse image files and
# mount it.  Safe to run again: an existing volume is reused and a live
# mount is reported, not mounted twice.  tools/quickstart.sh --help says
# what can be changed.
set -euo pipefail

prog=quickstart.sh
usage() {
	cat <<EOF
Usage: tools/quickstart.sh [OPTIONS]

Install the Debian packages scoutfsd needs (apt-get), build it, install it
into /usr/local (meson install; mount.scoutfs is linked into /sbin so that
'mount -t scoutfs' finds it), make a scoutfs volume on two sparse image
files and mount it.  Root is needed for the packages, the install and the
mount: run it as root or as a user who may use sudo.

Run it again and it reuses the volume (its files are kept) and reports a
mount that is already live instead of mounting again.

Options (each also settable by the environment variable shown):
  --dir DIR         where the image files meta.img and data.img are
                    [SCOUTFS_QUICKSTART_DIR, default /var/lib/scoutfs]
  --mnt DIR         the mount point, made if missing
                    [SCOUTFS_QUICKSTART_MNT, default /mnt/scoutfs]
  --meta-size SIZE  the size of meta.img, e.g. 64G, 10G (under 64G is
                    allowed here, mkfs warns) [SCOUTFS_QUICKSTART_META_SIZE, 64G]
  --data-size SIZE  the size of data.img [SCOUTFS_QUICKSTART_DATA_SIZE, 64G]
  --port PORT       the TCP port of the volume's one quorum slot, on
                    127.0.0.1 [SCOUTFS_QUICKSTART_PORT, 42000]
  --remake          make a new, empty volume even if one exists in DIR
                    (its contents are lost; it must not be mounted)
  --no-mount        stop once the volume exists
  -h, --help        this text

The image files are sparse: they take only the space that is written.
Stop the mount with 'umount MNT'; mount it again by running this again.
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

dir=${SCOUTFS_QUICKSTART_DIR:-/var/lib/scoutfs}
mnt=${SCOUTFS_QUICKSTART_MNT:-/mnt/scoutfs}
meta_size=${SCOUTFS_QUICKSTART_META_SIZE:-64G}
data_size=${SCOUTFS_QUICKSTART_DATA_SIZE:-64G}
port=${SCOUTFS_QUICKSTART_PORT:-42000}
remake=0 do_mount=1
while [ $# -gt 0 ]; do
	case $1 in
	--dir | --mnt | --meta-size | --data-size | --port)
		[ $# -ge 2 ] || die "$1 needs an argument (see --help)"
		case $1 in
		--dir) dir=$2 ;;
		--mnt) mnt=$2 ;;
		--meta-size) meta_size=$2 ;;
		--data-size) data_size=$2 ;;
		--port) port=$2 ;;
		esac
		shift 2
		;;
	--remake) remake=1 && shift ;;
	--no-mount) do_mount=0 && shift ;;
	-h | --help) usage && exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
case $dir in /*) ;; *) die "--dir must be an absolute path: $dir" ;; esac
case $mnt in /*) ;; *) die "--mnt must be an absolute path: $mnt" ;; esac
if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
	die "--port must be a TCP port number: $port"
fi
mnt=${mnt%/}
[ -n "$mnt" ] || die "--mnt cannot be /"

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=deps.sh
. tools/deps.sh

sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo

# --- packages, build, install ---------------------------------------------
sfs_install_deps

prefix=/usr/local
if [ -f build-release/build.ninja ]; then
	meson setup --reconfigure build-release --prefix=$prefix --buildtype=release \
		-Dtests=false >/dev/null
else
	meson setup build-release --prefix=$prefix --buildtype=release -Dtests=false
fi
ninja -C build-release
$sudo meson install -C build-release --quiet
sbin=$prefix/sbin

# mount(8) finds helpers only in /sbin; meson install links them there for
# the /usr/local prefix, this makes sure of it
for h in mount.scoutfs mount.fuse.scoutfsd; do
	if [ ! -e "/sbin/$h" ]; then
		$sudo ln -sfn "$sbin/mount.scoutfs" "/sbin/$h"
	fi
done
[ -e /dev/fuse ] || $sudo modprobe fuse || die "no /dev/fuse: the fuse kernel module is missing"

# --- the volume ---------------------------------------------------------------
meta=$dir/meta.img
data=$dir/data.img

# where the data image is mounted now, if it is
mounted_at() {
	findmnt -n -o TARGET --source "$data" 2>/dev/null | head -1 || true
}

have_volume() {
	[ -f "$meta" ] && [ -f "$data" ] && $sudo "$sbin/scoutfs" print -S "$meta" >/dev/null 2>&1
}

if have_volume && [ "$remake" -eq 0 ]; then
	echo "Reusing the volume in $dir (tools/quickstart.sh --remake makes a new one)."
elif [ "$remake" -eq 0 ] && { [ -e "$meta" ] || [ -e "$data" ]; }; then
	die "$dir has image files but no scoutfs volume in them; --remake replaces them with a new volume"
else
	at=$(mounted_at)
	[ -z "$at" ] || die "the volume in $dir is mounted on $at: umount $at before --remake"
	$sudo mkdir -p "$dir"
	$sudo rm -f "$meta" "$data"
	# sparse files: they use only the space written
	$sudo truncate -s "$meta_size" "$meta" || die "cannot make $meta of $meta_size"
	$sudo truncate -s "$data_size" "$data" || die "cannot make $data of $data_size"
	# -A: sizes under 64 GiB are allowed here (mkfs warns about them)
	if ! $sudo "$sbin/scoutfs" mkfs -A -Q "0,127.0.0.1,$port" "$meta" "$data"; then
		$sudo rm -f "$meta" "$data"
		die "mkfs failed (above); nothing was kept in $dir"
	fi
	echo "Made a new volume in $dir."
fi

if [ "$do_mount" -eq 0 ]; then
	echo "Not mounting (--no-mount).  Mount it with:"
	echo "  mount -t scoutfs -o metadev_path=$meta,quorum_slot_nr=0 $data $mnt"
	exit 0
fi

# --- the mount --------------------------------------------------------------
at=$(mounted_at)
if [ -n "$at" ]; then
	if [ "$at" != "$mnt" ]; then
		echo "The volume in $dir is already mounted on $at; not mounting it on $mnt too."
		mnt=$at
	elif ! $sudo stat "$mnt" >/dev/null 2>&1; then
		die "$mnt is mounted but does not answer (its scoutfsd is gone?): run 'umount $mnt' and run this again"
	else
		echo "$mnt is already mounted; leaving it as it is."
	fi
elif findmnt -n --mountpoint "$mnt" >/dev/null 2>&1; then
	die "$mnt is already the mount point of something else (type $(findmnt -n -o FSTYPE --mountpoint "$mnt" | head -1)): choose another with --mnt"
else
	$sudo mkdir -p "$mnt"
	opts="metadev_path=$meta,quorum_slot_nr=0"
	if [ -x /sbin/mount.scoutfs ]; then
		$sudo mount -t scoutfs -o "$opts" "$data" "$mnt"
	else
		$sudo "$sbin/scoutfsd" -o "$opts" "$data" "$mnt"
	fi
	echo "Mounted the volume in $dir on $mnt."
fi

cat <<EOF

scoutfs is mounted on $mnt:
$(findmnt -o TARGET,SOURCE,FSTYPE "$mnt" | sed 's/^/  /')
  metadata device: $meta
  data device:     $data

Use it as root (other users may too once it is mounted with -o allow_other):
  ls $mnt
  mkdir $mnt/dir && echo hello > $mnt/dir/file
  df -h $mnt

Stop it (the last changes are committed and scoutfsd exits):
  umount $mnt

Mount it again:
  mount -t scoutfs -o metadev_path=$meta,quorum_slot_nr=0 $data $mnt
or run tools/quickstart.sh again.  An /etc/fstab line for it:
  $data $mnt scoutfs metadev_path=$meta,quorum_slot_nr=0,_netdev,nofail 0 0

Start over with an empty volume: umount $mnt; tools/quickstart.sh --remake
More: man scoutfsd, man mount.scoutfs, docs/admin-guide.md.
EOF
