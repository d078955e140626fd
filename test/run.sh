#!/usr/bin/env bash
# The whole test suite: install missing packages, build the plain and the
# ASan/UBSan configurations, run every unit and integration test in both.
# The last line is "N passed, N failed, N skipped".
#
# Environment: SFS_TEST_BUILDS="build build-asan" selects configurations,
# any further arguments are passed to 'meson test' (e.g. a test name).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
# shellcheck source=../tools/deps.sh
. tools/deps.sh

if ! sfs_install_deps; then
	echo "test/run.sh: installing packages failed"
	echo "0 passed, 1 failed"
	exit 1
fi

builds=${SFS_TEST_BUILDS:-build build-asan}
passed=0 failed=0 skipped=0

setup() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@"
	fi
}

# tally meson's JSON test log: one object per line
tally() {
	python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
}

for b in $builds; do
	opts=()
	[ "$b" = build-asan ] && opts=(-Db_sanitize=address,undefined -Db_lundef=false)
	echo "=== $b: configure and build"
	if ! setup "$b" "${opts[@]}" || ! ninja -C "$b"; then
		echo "=== $b: BUILD FAILED"
		failed=$((failed + 1))
		continue
	fi
	echo "=== $b: test"
	rm -f "$b/meson-logs/testlog.json"
	# one more than the CPUs: many cluster tests mostly wait (for
	# heartbeat timeouts, recovery windows), so the CPUs stay busy
	meson test -C "$b" --print-errorlogs --num-processes "$(($(nproc) + 1))" "$@"
	if [ -f "$b/meson-logs/testlog.json" ]; then
		read -r p f s < <(tally "$b/meson-logs/testlog.json")
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	else
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
