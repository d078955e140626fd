# shellcheck shell=bash
# Sourced by the bench scripts: bench_build TOP [TARGET...] configures
# TOP/build-bench as a release build (once; reconfigured after) and builds
# the targets (all when none), printing ninja's output and exiting 1 if
# that fails.
bench_build() {
	local top=$1 out
	shift
	if [ -f "$top/build-bench/build.ninja" ]; then
		meson setup --reconfigure "$top/build-bench" "$top" --buildtype=release >/dev/null
	else
		meson setup "$top/build-bench" "$top" --buildtype=release >/dev/null
	fi
	if ! out=$(ninja -C "$top/build-bench" "$@" 2>&1); then
		echo "$out"
		exit 1
	fi
}
