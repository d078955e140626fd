#!/usr/bin/env bash
# Quickstart on a fresh Debian 12 machine: install what is missing, build,
# install (meson install, prefix /usr/local), then run the main job.
#
# Main job (until the mount arrives): make a volume on two sparse image
# files under /var/tmp/scoutfs-quickstart/ (or $SCOUTFS_QUICKSTART_DIR)
# and print it.  An existing volume there is kept and printed again.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=deps.sh
. tools/deps.sh

sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo

sfs_install_deps

if [ -f build-release/build.ninja ]; then
	meson setup --reconfigure build-release --buildtype=release -Dtests=false >/dev/null
else
	meson setup build-release --buildtype=release -Dtests=false
fi
ninja -C build-release
$sudo meson install -C build-release --quiet

dir=${SCOUTFS_QUICKSTART_DIR:-/var/tmp/scoutfs-quickstart}
mkdir -p "$dir"
meta="$dir/meta.img"
data="$dir/data.img"

export PATH="/usr/local/sbin:$PATH"
if [ -f "$meta" ] && [ -f "$data" ] && scoutfs print "$meta" >/dev/null 2>&1; then
	echo "A volume already exists in $dir; printing it (remove the images to start over)."
else
	rm -f "$meta" "$data"
	# sparse: 64 GiB each (the minimum without -A) takes almost no space
	truncate -s 64G "$meta"
	truncate -s 64G "$data"
	scoutfs mkfs -Q 0,127.0.0.1,42000 "$meta" "$data"
fi
scoutfs print "$meta"
