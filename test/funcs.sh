# shellcheck shell=bash
# Sourced by every integration test: a private temporary directory, image
# files, helpers, and a trap that kills every daemon the test started (by
# pid) and unmounts everything it mounted, whatever happens.
#
# A test exits 0 to pass, 77 to skip, anything else to fail; t_fail says why.

set -u
: "${SCOUTFS:?run through meson test or test/run.sh}"
: "${SCOUTFS_MKFS:?run through meson test or test/run.sh}"

T_NAME=$(basename "$0" .sh)
# image files want a real filesystem (O_DIRECT), not tmpfs
T_DIR=$(mktemp -d "${SFS_TEST_TMPDIR:-/var/tmp}/scoutfs-$T_NAME.XXXXXX")
T_PIDS=()
T_MOUNTS=()

t_cleanup() {
	local pid m
	for m in "${T_MOUNTS[@]}"; do
		umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
	done
	for pid in "${T_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null
	done
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT

t_fail() {
	local log
	echo "FAIL ($T_NAME): $*" >&2
	# what the daemons said last: the test directory goes with the exit
	for log in "$T_DIR"/scoutfsd.*.log; do
		[ -s "$log" ] || continue
		echo "--- last lines of $(basename "$log")" >&2
		tail -20 "$log" >&2
	done
	exit 1
}

t_skip() {
	echo "SKIP ($T_NAME): $*" >&2
	exit 77
}

# t_images META_SIZE DATA_SIZE: sparse $T_DIR/meta.img and data.img
t_images() {
	rm -f "$T_DIR/meta.img" "$T_DIR/data.img"
	truncate -s "$1" "$T_DIR/meta.img" || t_fail "truncate meta"
	truncate -s "$2" "$T_DIR/data.img" || t_fail "truncate data"
	META="$T_DIR/meta.img"
	DATA="$T_DIR/data.img"
}

t_sum() {
	md5sum "$@" | cut -d' ' -f1 | tr '\n' ' '
}

# t_expect_fail PATTERN CMD...: CMD must exit non-zero with exactly one
# stderr line matching PATTERN (grep -E)
t_expect_fail() {
	local pat=$1 out err rc lines
	shift
	out="$T_DIR/out" err="$T_DIR/err"
	"$@" >"$out" 2>"$err"
	rc=$?
	[ "$rc" -ne 0 ] || t_fail "'$*' succeeded, expected a refusal matching '$pat'"
	lines=$(wc -l <"$err")
	[ "$lines" -eq 1 ] || t_fail "'$*' wrote $lines stderr lines, expected one: $(cat "$err")"
	grep -Eq -- "$pat" "$err" || t_fail "'$*' said '$(cat "$err")', expected '$pat'"
}

# t_od FILE OFFSET LEN: hex bytes, no spaces
t_od() {
	od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# t_live_fs_keys PRINT_OUTPUT: the live FS items in a 'scoutfs print' of a
# volume, one key per line: every leaf item of fs_root and of the log
# trees' item btrees (print names those " btree blkno N"), the greatest
# seq of a key winning, keys whose winner is a deletion item dropped
t_live_fs_keys() {
	awk '/^fs_root btree blkno/ { sec = 1; next }
	     /^ btree blkno/ { sec = 1; next }
	     /^[^ ]/ { sec = 0; next }
	     sec && /^  level / { leaf = ($2 == 0); next }
	     sec && leaf && /^    [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ [0-9]+ [-d]$/ {
		if (!($1 in seq) || $2 + 0 > seq[$1]) { seq[$1] = $2 + 0; fl[$1] = $3 }
	     }
	     END { for (k in seq) if (fl[k] == "-") print k }' "$1"
}

# t_free_port [FIRST]: a TCP and UDP port on 127.0.0.1 nobody is bound to,
# from FIRST (default: one picked from the test's pid) upwards.  Ports
# stay below the kernel's ephemeral range (32768 and up by default), so
# the daemons' own outgoing connections cannot take them.
t_free_port() {
	python3 - "${1:-$((20000 + $$ % 12000))}" <<'PY'
import socket, sys
p = int(sys.argv[1])
while True:
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", p))
            s.close()
        print(p)
        break
    except OSError:
        p = 20000 + (p - 20000 + 1) % 12000
PY
}

# t_mkfs [MKFS ARGS...]: a one-slot volume on $META and $DATA (t_images first)
t_mkfs() {
	T_PORT=${T_PORT:-$(t_free_port)}
	"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$T_PORT" "$@" "$META" "$DATA" >"$T_DIR/mkfs.out" 2>&1 ||
		t_fail "mkfs: $(cat "$T_DIR/mkfs.out")"
}

# t_mount MNT [EXTRA -o OPTIONS]: scoutfsd -f on $DATA/$META at MNT (made
# if missing) in the background, its pid in T_MOUNT_PID[MNT]; returns once
# the mount is live.  Its log goes to $T_DIR/scoutfsd.<name>.log.
declare -A T_MOUNT_PID=()
t_mount() {
	local mnt=$1 extra=${2:-} log pid i
	: "${SCOUTFSD:?run through meson test or test/run.sh}"
	mkdir -p "$mnt"
	log="$T_DIR/scoutfsd.$(basename "$mnt").log"
	# the run directory (control socket) stays in the test's directory;
	# the CLI finds it through SCOUTFS_RUN_DIR
	export SCOUTFS_RUN_DIR="$T_DIR/run"
	"$SCOUTFSD" -f -o "metadev_path=$META,quorum_slot_nr=0,run_dir=$SCOUTFS_RUN_DIR${extra:+,$extra}" \
		"$DATA" "$mnt" >>"$log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	T_MOUNTS+=("$mnt")
	T_MOUNT_PID[$mnt]=$pid
	for i in $(seq 300); do
		findmnt -n "$mnt" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || t_fail "scoutfsd exited before mounting $mnt: $(tail -5 "$log")"
		sleep 0.05
	done
	t_fail "scoutfsd did not mount $mnt in 15 s: $(tail -5 "$log")"
}

# t_umount MNT: unmount and wait for its scoutfsd to finish cleanly (exit 0)
t_umount() {
	local mnt=$1 pid=${T_MOUNT_PID[$1]} rc
	umount "$mnt" || t_fail "umount $mnt"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "scoutfsd of $mnt exited $rc: $(tail -5 "$T_DIR/scoutfsd.$(basename "$mnt").log")"
	unset "T_MOUNT_PID[$mnt]"
}

# t_kill_mount MNT: SIGKILL its scoutfsd and drop the dead FUSE mount
t_kill_mount() {
	local mnt=$1 pid=${T_MOUNT_PID[$1]}
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	unset "T_MOUNT_PID[$mnt]"
}

# t_golden NAME FILE: FILE must equal test/golden/NAME.out
t_golden() {
	local want="$SFS_SOURCE_DIR/test/golden/$1.out"
	[ -f "$want" ] || t_fail "no golden output $want"
	if ! diff -u "$want" "$2" >"$T_DIR/golden.diff"; then
		head -40 "$T_DIR/golden.diff" >&2
		t_fail "output differs from test/golden/$1.out"
	fi
}

# t_sbin_helpers: /sbin/mount.scoutfs and /sbin/mount.fuse.scoutfsd are
# this tree's tools/mount.scoutfs (in $HELPER) for the test: linked when
# missing (removed at exit), used when already the same file, never
# replaced (the test skips).  One test at a time holds them (tests run in
# parallel): the lock's fd 9 must be closed (9>&-) for every command that
# may leave a daemon behind.  Skips without root or /dev/fuse.
t_sbin_helpers() {
	local h
	[ "$(id -u)" -eq 0 ] || t_skip "mounting needs root"
	[ -e /dev/fuse ] || t_skip "no /dev/fuse"
	HELPER="$SFS_SOURCE_DIR/tools/mount.scoutfs"
	[ -f "$HELPER" ] || t_fail "no mount helper at $HELPER"
	T_LINKS=()
	trap 't_cleanup; rm -f "${T_LINKS[@]}"' EXIT
	exec 9>/tmp/scoutfs-test-sbin-helpers.lock
	flock -w 600 9 || t_fail "the /sbin helper lock stayed taken for 10 minutes"
	for h in mount.scoutfs mount.fuse.scoutfsd; do
		if [ -e "/sbin/$h" ] || [ -L "/sbin/$h" ]; then
			cmp -s "/sbin/$h" "$HELPER" ||
				t_skip "/sbin/$h is not this build's tools/mount.scoutfs; not replacing it"
		else
			ln -s "$HELPER" "/sbin/$h" || t_fail "cannot link /sbin/$h"
			T_LINKS+=("/sbin/$h")
		fi
	done
}

# ---- several quorum members on one host ------------------------------

# t_quorum_ports N [ADDR]: set T_QPORT to the first of N consecutive ports
# free for UDP and TCP on ADDR (127.0.0.1), tried from one derived from
# the test's pid (12004..19999: below t_free_port's and the kernel's
# ephemeral ranges) so that tests running in parallel do not meet
t_quorum_ports() {
	local n=$1 addr=${2:-127.0.0.1}
	T_QPORT=$(python3 - "$n" "$addr" "$$" <<'PY'
import socket, sys
n, addr, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def free(p):
    for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(fam, t)
        try:
            s.bind((addr, p))
        except OSError:
            return False
        finally:
            s.close()
    return True
for k in range(2000):
    base = 12004 + ((pid + k * 7919) % 998) * 8
    if all(free(base + i) for i in range(n)):
        print(base)
        sys.exit(0)
sys.exit(1)
PY
) || t_fail "no $n free ports on $addr for the quorum slots"
}

# t_mkfs_slots N [ADDR [MKFS ARGS...]]: a volume with quorum slots 0..N-1
# on ADDR (127.0.0.1) at ports T_QPORT.. (t_quorum_ports picks them when
# T_QPORT is unset) on $META and $DATA (t_images first)
t_mkfs_slots() {
	local n=$1 addr=${2:-127.0.0.1} i args=()
	shift 2 2>/dev/null || shift
	[ -n "${T_QPORT:-}" ] || t_quorum_ports "$n" "$addr"
	for ((i = 0; i < n; i++)); do
		args+=(-Q "$i,$addr,$((T_QPORT + i))")
	done
	"$SCOUTFS_MKFS" -A "${args[@]}" "$@" "$META" "$DATA" >"$T_DIR/mkfs.out" 2>&1 ||
		t_fail "mkfs: $(cat "$T_DIR/mkfs.out")"
}

# t_mount_slot MNT SLOT [EXTRA -o OPTIONS]: start scoutfsd -f on $DATA/$META
# at MNT (made if missing) as the member of quorum slot SLOT, with its own
# run directory base $T_DIR/run.<name of MNT>, in the background; its pid
# in T_MOUNT_PID[MNT], its log in $T_DIR/scoutfsd.<name>.log.  Returns at
# once: a member's mount is live only once a leader is elected, which may
# need the others (t_mount_wait).
t_mount_slot() {
	local mnt=$1 slot=$2 extra=${3:-} name log pid
	: "${SCOUTFSD:?run through meson test or test/run.sh}"
	mkdir -p "$mnt"
	name=$(basename "$mnt")
	log="$T_DIR/scoutfsd.$name.log"
	mkdir -p "$T_DIR/run.$name"
	"$SCOUTFSD" -f -o "metadev_path=$META,quorum_slot_nr=$slot,run_dir=$T_DIR/run.$name${extra:+,$extra}" \
		"$DATA" "$mnt" >>"$log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	T_MOUNTS+=("$mnt")
	T_MOUNT_PID[$mnt]=$pid
}

# t_mount_wait MNT [SECONDS]: wait (30 s) until the mount started by
# t_mount_slot is live
t_mount_wait() {
	local mnt=$1 secs=${2:-30} pid=${T_MOUNT_PID[$1]} log i
	log="$T_DIR/scoutfsd.$(basename "$mnt").log"
	for ((i = 0; i < secs * 20; i++)); do
		findmnt -n "$mnt" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || t_fail "scoutfsd exited before mounting $mnt: $(tail -5 "$log")"
		sleep 0.05
	done
	t_fail "scoutfsd did not mount $mnt in $secs s: $(tail -5 "$log")"
}

# t_scoutfs_at MNT CMD [ARGS...]: the scoutfs CLI for the mount started by
# t_mount_slot (its own run directory)
t_scoutfs_at() {
	local mnt=$1
	shift
	SCOUTFS_RUN_DIR="$T_DIR/run.$(basename "$mnt")" "$SCOUTFS" "$@"
}

# t_quorum_term META SLOT EVENT: the term of EVENT (begin, term, elect,
# fence, stop, end) in quorum slot SLOT's block of META (format-spec.md 6)
t_quorum_term() {
	local idx
	case $3 in
	begin) idx=0 ;; term) idx=1 ;; elect) idx=2 ;; fence) idx=3 ;; stop) idx=4 ;; end) idx=5 ;;
	*) t_fail "t_quorum_term: no event $3" ;;
	esac
	od -An -v -tu8 -j $(((17 + $2) * 4096 + 40 + 40 * idx + 16)) -N 8 "$1" | tr -d ' '
}

# t_quorum_server META NSLOTS: "SLOT TERM LIVE" as the quorum blocks of
# slots 0..NSLOTS-1 say: the slot with the greatest ELECT term above its
# STOP term whose FENCE is that term (a server that started), and how
# many slots show an ELECT above their STOP (running or dead leaders);
# SLOT is -1 without a server
t_quorum_server() {
	local meta=$1 n=$2 i e f s best=-1 term=0 live=0
	for ((i = 0; i < n; i++)); do
		e=$(t_quorum_term "$meta" "$i" elect)
		f=$(t_quorum_term "$meta" "$i" fence)
		s=$(t_quorum_term "$meta" "$i" stop)
		[ "$e" -gt "$s" ] || continue
		live=$((live + 1))
		if [ "$f" -eq "$e" ] && [ "$e" -gt "$term" ]; then
			best=$i
			term=$e
		fi
	done
	echo "$best $term $live"
}
