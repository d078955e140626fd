# shellcheck shell=bash
# Debian 12 packages scoutfsd needs to build, test and run; sourced by
# tools/quickstart.sh and test/run.sh.  sfs_install_deps installs whatever
# is missing (root needed only then).

SFS_DEB_PACKAGES=(
	gcc libc6-dev pkg-config meson ninja-build python3
	liburing-dev libfuse3-dev fuse3 libcmocka-dev uuid-dev libblkid-dev
	libisal-dev libssl-dev libsystemd-dev libbsd-dev libjson-c-dev systemd
	util-linux e2fsprogs iproute2 coreutils diffutils attr acl
)

sfs_missing_packages() {
	local p
	for p in "${SFS_DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			echo "$p"
	done
}

sfs_install_deps() {
	local missing
	missing=$(sfs_missing_packages | tr '\n' ' ')
	[ -z "${missing// /}" ] && return 0
	echo "Installing missing packages: $missing"
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}
