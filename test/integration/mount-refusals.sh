#!/usr/bin/env bash
# Every mount-time refusal of scoutfsd: a missing, wrong, swapped or
# mismatched device, a device that is not a scoutfs volume, a bad option,
# no metadev_path=, a mount point that does not exist or is not a
# directory.  Each is one line on stderr (the exact lines are
# test/golden/mount-refusals.out, with the temp dir written as T), a
# non-zero exit, every image byte for byte as it was, and no scoutfsd left
# running.  Run as mount(8) runs it (daemonizing), once with -f, and,
# when /sbin/mount.scoutfs is this build's helper or can be linked to it
# for the test, through `mount -t scoutfs` too, which must pass on the
# same line.
. "$(dirname "$0")/../funcs.sh"

: "${SCOUTFSD:?run through meson test or test/run.sh}"
: "${SFS_SOURCE_DIR:?run through meson test or test/run.sh}"
[ "$(id -u)" -eq 0 ] || t_skip "mounting needs root"

# two volumes, A (META, DATA) and B (META2, DATA2), a file of zeros, a
# file too small to hold a super block, a file and a directory; small, as
# every check reads them all
t_images 72M 8M
t_mkfs
T_PORT=$((T_PORT + 1))
META2="$T_DIR/meta2.img" DATA2="$T_DIR/data2.img"
{ truncate -s 72M "$META2" && truncate -s 8M "$DATA2"; } || t_fail "truncate volume B"
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$T_PORT" "$META2" "$DATA2" >"$T_DIR/mkfs2.out" 2>&1 ||
	t_fail "mkfs of volume B: $(cat "$T_DIR/mkfs2.out")"
ZERO="$T_DIR/zero.img" TINY="$T_DIR/tiny.img" FILE="$T_DIR/file" DIR="$T_DIR/dir"
truncate -s 8M "$ZERO"
head -c 8192 /dev/urandom >"$TINY"
: >"$FILE"
mkdir "$DIR"
M="$T_DIR/mnt"
mkdir "$M"
T_MOUNTS+=("$M")
IMAGES=("$META" "$DATA" "$META2" "$DATA2" "$ZERO" "$TINY")
before=$(t_sum "${IMAGES[@]}")

OUT="$T_DIR/refusals.out"
: >"$OUT"

# no scoutfsd with this test's temp dir in its arguments, waiting a moment
# for a child that reported its refusal to its parent and is exiting
no_daemon() {	# WHAT
	local _ pids
	for _ in $(seq 50); do
		pids=$(pgrep -f -- "$T_DIR/") || return 0
		sleep 0.1
	done
	mapfile -t -O "${#T_PIDS[@]}" T_PIDS <<<"$pids"
	t_fail "$1: a process was left running: $(ps -o pid=,args= -p "${pids//$'\n'/,}")"
}

# check WHAT CMD...: CMD exits non-zero with exactly one stderr line,
# writes nothing to the images and leaves no process behind; the line is
# in $LINE with the temp dir written as T
check() {
	local what=$1 rc
	shift
	"$@" >"$T_DIR/stdout" 2>"$T_DIR/stderr"
	rc=$?
	[ "$rc" -ne 0 ] || t_fail "$what: '$*' succeeded"
	[ "$(wc -l <"$T_DIR/stderr")" -eq 1 ] ||
		t_fail "$what: $(wc -l <"$T_DIR/stderr") stderr lines, expected one: $(cat "$T_DIR/stderr")"
	[ -s "$T_DIR/stdout" ] && t_fail "$what: wrote to stdout: $(cat "$T_DIR/stdout")"
	[ "$(t_sum "${IMAGES[@]}")" = "$before" ] || t_fail "$what: an image changed"
	findmnt -n "$M" >/dev/null && t_fail "$what: $M got mounted"
	no_daemon "$what"
	LINE=$(sed "s|$T_DIR|T|g" "$T_DIR/stderr")
	return 0
}

# refuse WHAT DATA MNT OPTIONS: scoutfsd refuses DATA on MNT with -o
# OPTIONS ("" for none); the line goes to the golden output
CASES=()
refuse() {
	local what=$1 data=$2 mnt=$3 opts=$4
	CASES+=("$what"$'\t'"$data"$'\t'"$mnt"$'\t'"$opts")
	check "$what" "$SCOUTFSD" ${opts:+-o "$opts"} "$data" "$mnt"
	printf '%s\n  %s\n' "$what" "$LINE" >>"$OUT"
}

q=quorum_slot_nr=0
refuse "no data device" "$T_DIR/nope.img" "$M" "metadev_path=$META,$q"
refuse "no meta device" "$DATA" "$M" "metadev_path=$T_DIR/nope.img,$q"
refuse "data device is a directory" "$DIR" "$M" "metadev_path=$META,$q"
refuse "swapped devices" "$META" "$M" "metadev_path=$DATA,$q"
refuse "meta device of another volume" "$DATA" "$M" "metadev_path=$META2,$q"
refuse "data device of another volume" "$DATA2" "$M" "metadev_path=$META,$q"
refuse "meta device as both" "$META" "$M" "metadev_path=$META,$q"
refuse "data device as both" "$DATA" "$M" "metadev_path=$DATA,$q"
refuse "data device not scoutfs" "$ZERO" "$M" "metadev_path=$META,$q"
refuse "meta device not scoutfs" "$DATA" "$M" "metadev_path=$ZERO,$q"
refuse "meta device too small" "$DATA" "$M" "metadev_path=$TINY,$q"
refuse "unknown option" "$DATA" "$M" "metadev_path=$META,$q,bogus"
refuse "unknown options" "$DATA" "$M" "metadev_path=$META,bogus,$q,nonsense=1"
refuse "bad FUSE option value" "$DATA" "$M" "metadev_path=$META,$q,max_read=lots"
refuse "bad quorum_slot_nr" "$DATA" "$M" "metadev_path=$META,quorum_slot_nr=x"
refuse "quorum slot out of range" "$DATA" "$M" "metadev_path=$META,quorum_slot_nr=15"
refuse "quorum slot the volume lacks" "$DATA" "$M" "metadev_path=$META,quorum_slot_nr=4"
refuse "quorum_slot_nr without a value" "$DATA" "$M" "metadev_path=$META,quorum_slot_nr"
refuse "srch_compact_delay_ms below 1000" "$DATA" "$M" "metadev_path=$META,$q,srch_compact_delay_ms=999"
refuse "srch_compact_delay_ms above 60000" "$DATA" "$M" "metadev_path=$META,$q,srch_compact_delay_ms=60001"
refuse "recovery_window_ms below 2000" "$DATA" "$M" "metadev_path=$META,$q,recovery_window_ms=1999"
refuse "read-only" "$DATA" "$M" "metadev_path=$META,$q,ro"
refuse "empty metadev_path" "$DATA" "$M" "metadev_path=,$q"
refuse "no metadev_path" "$DATA" "$M" "$q"
refuse "no options" "$DATA" "$M" ""
refuse "no mount point" "$DATA" "$T_DIR/nomnt" "metadev_path=$META,$q"
refuse "mount point is a file" "$DATA" "$FILE" "metadev_path=$META,$q"

# the foreground mode (systemd's) says the same
check "foreground" "$SCOUTFSD" -f -o "metadev_path=$DATA,$q" "$META" "$M"
grep -qxF "  $LINE" "$OUT" || t_fail "scoutfsd -f said '$LINE', not what it says without -f"

t_golden mount-refusals "$OUT"

# the same through mount(8), which runs /sbin/mount.scoutfs: this build's,
# linked there for the test (serialized with the other tests that do)
HELPER="$SFS_SOURCE_DIR/tools/mount.scoutfs"
T_LINKS=()
trap 't_cleanup; rm -f "${T_LINKS[@]}"' EXIT
exec 9>/tmp/scoutfs-test-sbin-helpers.lock
flock -w 600 9 || t_fail "the /sbin helper lock stayed taken for 10 minutes"
via_mount=1
if [ -e /sbin/mount.scoutfs ] || [ -L /sbin/mount.scoutfs ]; then
	if ! cmp -s /sbin/mount.scoutfs "$HELPER"; then
		echo "mount refusals: /sbin/mount.scoutfs is not this build's helper; not replacing it, so not testing through mount(8)"
		via_mount=0
	fi
elif ln -s "$HELPER" /sbin/mount.scoutfs; then
	T_LINKS+=(/sbin/mount.scoutfs)
else
	t_fail "cannot link /sbin/mount.scoutfs"
fi
if [ "$via_mount" -eq 1 ]; then
	for c in "${CASES[@]}"; do
		IFS=$'\t' read -r what data mnt opts <<<"$c"
		want=$(awk -v w="$what" '$0 == w { getline; print substr($0, 3); exit }' "$OUT")
		check "mount -t scoutfs, $what" mount -t scoutfs ${opts:+-o "$opts"} "$data" "$mnt" 9>&-
		case $what in
		"no metadev_path" | "no options" | "empty metadev_path")
			# the helper refuses it before scoutfsd runs
			want="mount.scoutfs: metadev_path=PATH is required"
			;;
		esac
		[ "$LINE" = "$want" ] || t_fail "mount -t scoutfs, $what: said '$LINE', expected '$want'"
	done
fi

echo "mount refusals: ${#CASES[@]} refused in one line each, nothing written$([ "$via_mount" -eq 1 ] && echo ", and the same through mount(8)")"
