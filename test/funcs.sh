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
	# SFS_TEST_KEEP=1: leave the directory (logs, images) for a post-mortem
	if [ -n "${SFS_TEST_KEEP:-}" ]; then
		echo "kept $T_DIR" >&2
	else
		rm -rf "$T_DIR"
	fi
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
	t_forget_pid "$pid"
	[ "$rc" -eq 0 ] || t_fail "scoutfsd of $mnt exited $rc: $(tail -5 "$T_DIR/scoutfsd.$(basename "$mnt").log")"
	unset "T_MOUNT_PID[$mnt]"
}

# t_forget_pid PID: PID (reaped: waited for) leaves T_PIDS, so that the
# exit trap does not SIGKILL whatever process of another test has its
# number by then
t_forget_pid() {
	local i
	for i in "${!T_PIDS[@]}"; do
		[ "${T_PIDS[i]}" != "$1" ] || unset "T_PIDS[i]"
	done
}

# t_umount_together MNT...: unmount every MNT at once and wait for each
# scoutfsd to finish cleanly (exit 0).  The last quorum majority must
# leave this way: the server holds the farewells of its members until
# every mount left is a member asking to leave (docs/cluster.md).
t_umount_together() {
	local mnt pid rc
	for mnt in "$@"; do
		umount "$mnt" || t_fail "umount $mnt"
	done
	for mnt in "$@"; do
		pid=${T_MOUNT_PID[$mnt]}
		wait "$pid"
		rc=$?
		t_forget_pid "$pid"
		[ "$rc" -eq 0 ] || t_fail "scoutfsd of $mnt exited $rc: $(tail -5 "$T_DIR/scoutfsd.$(basename "$mnt").log")"
		unset "T_MOUNT_PID[$mnt]"
	done
}

# t_kill_mount MNT: SIGKILL its scoutfsd and drop the dead FUSE mount
t_kill_mount() {
	local mnt=$1 pid=${T_MOUNT_PID[$1]}
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	t_forget_pid "$pid"
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

# t_quorum_elected META NSLOTS: "SLOT TERM" of the greatest ELECT above its
# STOP (the leader clients look for: elected, perhaps still having the
# earlier leaders fenced before its FENCE); SLOT is -1 without one
t_quorum_elected() {
	local meta=$1 n=$2 i e s best=-1 term=0
	for ((i = 0; i < n; i++)); do
		e=$(t_quorum_term "$meta" "$i" elect)
		s=$(t_quorum_term "$meta" "$i" stop)
		if [ "$e" -gt "$s" ] && [ "$e" -gt "$term" ]; then
			best=$i
			term=$e
		fi
	done
	echo "$best $term"
}

# ---- a cluster of mounts on one volume ---------------------------------

# t_mount_client MNT [EXTRA -o OPTIONS]: as t_mount_slot, but a plain
# client (no quorum slot) that finds the server in the quorum blocks.
# Returns at once (t_mount_wait).
t_mount_client() {
	local mnt=$1 extra=${2:-} name log pid
	: "${SCOUTFSD:?run through meson test or test/run.sh}"
	mkdir -p "$mnt"
	name=$(basename "$mnt")
	log="$T_DIR/scoutfsd.$name.log"
	mkdir -p "$T_DIR/run.$name"
	"$SCOUTFSD" -f -o "metadev_path=$META,run_dir=$T_DIR/run.$name${extra:+,$extra}" \
		"$DATA" "$mnt" >>"$log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	T_MOUNTS+=("$mnt")
	T_MOUNT_PID[$mnt]=$pid
}

# t_cluster_size N: the sparse data image size for N mounts: every mount
# takes up to 4 GiB of free data space at a time, so 4 GiB each plus 4,
# and at least 16 GiB
t_cluster_size() {
	local g=$((4 * $1 + 4))
	[ "$g" -ge 16 ] || g=16
	echo "${g}G"
}

# t_cluster N [EXTRA -o OPTIONS]: a fresh volume ($META 2 GiB, $DATA
# sized by t_cluster_size) mounted N times on this host.  N <= 3: every
# mount is a quorum member (slots 0..N-1 on 127.0.0.1); N > 3: mounts
# 0..2 are the members, the others plain clients.  Mount i is
# $T_DIR/mnt$i, with its own run directory $T_DIR/run.mnt$i (t_scoutfs_at)
# and log $T_DIR/scoutfsd.mnt$i.log.  All start together (members need
# each other to elect a leader); returns once every mount is live.  Sets
#   T_CN         N (T_CMEMBERS: how many are quorum members)
#   T_CMNT[i]    mount point of mount i
#   T_CPID[i]    its scoutfsd's pid (also T_MOUNT_PID[mount point])
#   T_CSLOT[i]   its quorum slot, -1 for a plain client
t_cluster() {
	local n=$1 extra=${2:-} members i
	[ "$(id -u)" -eq 0 ] || t_skip "mounting needs root"
	[ -e /dev/fuse ] || t_skip "no /dev/fuse"
	members=$n
	[ "$members" -le 3 ] || members=3
	trap 't_fuse_abort; t_cleanup' EXIT
	t_images 2G "$(t_cluster_size "$n")"
	t_mkfs_slots "$members" 127.0.0.1
	T_CN=$n T_CMEMBERS=$members
	T_CMNT=() T_CPID=() T_CSLOT=()
	for ((i = 0; i < n; i++)); do
		T_CMNT[i]="$T_DIR/mnt$i"
		if [ "$i" -lt "$members" ]; then
			T_CSLOT[i]=$i
			t_mount_slot "${T_CMNT[i]}" "$i" "$extra"
		else
			T_CSLOT[i]=-1
			t_mount_client "${T_CMNT[i]}" "$extra"
		fi
		T_CPID[i]=${T_MOUNT_PID[${T_CMNT[i]}]}
	done
	for ((i = 0; i < n; i++)); do
		t_mount_wait "${T_CMNT[i]}" 60
		t_fuse_conn "${T_CMNT[i]}"
	done
}

# t_cluster_umount: unmount every mount of t_cluster (or t_cluster_netns)
# still mounted: the plain clients together, then the quorum members
# together (t_umount_together: the server answers the farewells of the
# last majority only once all of them ask, and the members that stay
# after the leader leaves elect the next server); each scoutfsd must
# exit 0
t_cluster_umount() {
	local i clients=() members=()
	for ((i = 0; i < T_CN; i++)); do
		[ -n "${T_MOUNT_PID[${T_CMNT[i]}]:-}" ] || continue
		if [ "${T_CSLOT[i]}" -lt 0 ]; then
			clients+=("${T_CMNT[i]}")
		else
			members+=("${T_CMNT[i]}")
		fi
	done
	[ "${#clients[@]}" -eq 0 ] || t_umount_together "${clients[@]}"
	[ "${#members[@]}" -eq 0 ] || t_umount_together "${members[@]}"
}

# t_cluster_netns N [EXTRA -o OPTIONS]: as t_cluster, but every mount's
# scoutfsd runs in its own network namespace, so the mounts talk over
# veth pairs and a bridge instead of loopback.  Namespaces: a hub
# "sfs<pid>h" holding bridge br0, and one per mount "sfs<pid>n<i>" whose
# eth0 (10.<a>.<b>.<i+1>/24, a.b from the test's pid) is a veth pair
# with the hub's v<i>, on br0.  Quorum members (all N if N <= 3, else
# mounts 0..2) listen on their own address, port 19700 + slot.
#
# The daemons enter only the network namespace (nsenter --net), not a
# mount namespace: 'ip netns exec' also unshares the mount namespace, and
# a FUSE mount made under it is invisible to the test (and goes away with
# the command), so the test's file operations, findmnt and umount all run
# on the host as usual.  T_CNS[i] is mount i's namespace, T_CADDR[i] its
# address (t_netns_exec runs a command in a mount's namespace).  The
# exit trap also deletes the namespaces (with them the veths and the
# bridge).  Skips without root, ip or nsenter, or when network namespaces
# cannot be made.
t_cluster_netns() {
	local n=$1 extra=${2:-} members i a b args=() ns addr
	[ "$(id -u)" -eq 0 ] || t_skip "mounting needs root"
	[ -e /dev/fuse ] || t_skip "no /dev/fuse"
	command -v ip >/dev/null || t_skip "no ip (iproute2)"
	command -v nsenter >/dev/null || t_skip "no nsenter (util-linux)"
	: "${SCOUTFSD:?run through meson test or test/run.sh}"
	members=$n
	[ "$members" -le 3 ] || members=3
	T_NETNS=()
	trap 't_fuse_abort; t_cleanup; t_cleanup_netns' EXIT
	T_NSHUB="sfs$$h"
	ip netns add "$T_NSHUB" 2>"$T_DIR/netns.err" ||
		t_skip "no network namespaces: $(cat "$T_DIR/netns.err")"
	T_NETNS+=("$T_NSHUB")
	ip -n "$T_NSHUB" link add br0 type bridge 2>"$T_DIR/netns.err" ||
		t_skip "no bridge in a network namespace: $(cat "$T_DIR/netns.err")"
	ip -n "$T_NSHUB" link set br0 up || t_fail "br0 up"
	a=$((($$ >> 8) % 250 + 1)) b=$(($$ % 256))
	T_CNS=() T_CADDR=()
	for ((i = 0; i < n; i++)); do
		ns="sfs$$n$i"
		addr="10.$a.$b.$((i + 1))"
		ip netns add "$ns" || t_fail "ip netns add $ns"
		T_NETNS+=("$ns")
		ip -n "$T_NSHUB" link add "v$i" type veth peer name eth0 netns "$ns" 2>"$T_DIR/netns.err" ||
			t_skip "no veth pairs: $(cat "$T_DIR/netns.err")"
		ip -n "$T_NSHUB" link set "v$i" master br0 up || t_fail "v$i on br0"
		ip -n "$ns" link set lo up || t_fail "lo up in $ns"
		ip -n "$ns" addr add "$addr/24" dev eth0 || t_fail "address $addr in $ns"
		ip -n "$ns" link set eth0 up || t_fail "eth0 up in $ns"
		T_CNS[i]=$ns
		T_CADDR[i]=$addr
	done
	# the first namespace reaches every other one over the bridge (a TCP
	# connection refused)
	for ((i = 1; i < n; i++)); do
		t_netns_exec 0 python3 - "${T_CADDR[i]}" <<'PY' ||
import socket, sys
s = socket.socket()
s.settimeout(5)
try:
    s.connect((sys.argv[1], 9))	# nobody listens: refused means reached
except ConnectionRefusedError:
    sys.exit(0)
except OSError as e:
    sys.exit("%s: %s" % (sys.argv[1], e))
PY
			t_fail "${T_CNS[0]} cannot reach ${T_CADDR[i]} over the bridge"
	done
	t_images 2G "$(t_cluster_size "$n")"
	for ((i = 0; i < members; i++)); do
		args+=(-Q "$i,${T_CADDR[i]},$((19700 + i))")
	done
	"$SCOUTFS_MKFS" -A "${args[@]}" "$META" "$DATA" >"$T_DIR/mkfs.out" 2>&1 ||
		t_fail "mkfs: $(cat "$T_DIR/mkfs.out")"
	T_CN=$n T_CMEMBERS=$members
	T_CMNT=() T_CPID=() T_CSLOT=()
	for ((i = 0; i < n; i++)); do
		T_CMNT[i]="$T_DIR/mnt$i"
		mkdir -p "${T_CMNT[i]}" "$T_DIR/run.mnt$i"
		if [ "$i" -lt "$members" ]; then
			T_CSLOT[i]=$i
			addr="quorum_slot_nr=$i,"
		else
			T_CSLOT[i]=-1
			addr=
		fi
		nsenter "--net=/run/netns/${T_CNS[i]}" "$SCOUTFSD" -f \
			-o "metadev_path=$META,${addr}run_dir=$T_DIR/run.mnt$i${extra:+,$extra}" \
			"$DATA" "${T_CMNT[i]}" >>"$T_DIR/scoutfsd.mnt$i.log" 2>&1 &
		T_CPID[i]=$!
		T_PIDS+=("$!")
		T_MOUNTS+=("${T_CMNT[i]}")
		T_MOUNT_PID[${T_CMNT[i]}]=$!
	done
	for ((i = 0; i < n; i++)); do
		t_mount_wait "${T_CMNT[i]}" 60
		t_fuse_conn "${T_CMNT[i]}"
	done
}

# t_netns_exec I CMD [ARGS...]: CMD in the network namespace of mount I
# of t_cluster_netns (the host's mount namespace)
t_netns_exec() {
	local i=$1
	shift
	nsenter "--net=/run/netns/${T_CNS[i]}" "$@"
}

# t_cleanup_netns: delete the namespaces t_cluster_netns made (its trap
# runs it last)
t_cleanup_netns() {
	local ns
	for ns in "${T_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
}

# t_fenced [RUN_DIR...]: start scoutfs-fenced with scoutfs-fence-local as
# its fence command (or $T_FENCE_RUN), scanning RUN_DIRs (default: every
# run directory of t_cluster's mounts) every 0.1 s; killed by pid at the
# end.  Its log is $T_DIR/fenced.log.
t_fenced() {
	local dirs=("$@") i conf=$T_DIR/fenced.conf pid
	local run=${T_FENCE_RUN:-$SFS_SOURCE_DIR/tools/scoutfs-fence-local}
	if [ "${#dirs[@]}" -eq 0 ]; then
		for ((i = 0; i < T_CN; i++)); do dirs+=("$T_DIR/run.$(basename "${T_CMNT[i]}")"); done
	fi
	{
		echo "SCOUTFS_FENCED_RUN=$run"
		echo "SCOUTFS_FENCED_RUN_DIRS=\"${dirs[*]}\""
		echo "SCOUTFS_FENCED_DELAY=0.1"
		echo "SCOUTFS_FENCED_TIMEOUT=20"
	} >"$conf"
	SCOUTFS_FENCED_RUN_DIRS="${dirs[*]}" bash "$SFS_SOURCE_DIR/tools/scoutfs-fenced" -c "$conf" \
		>>"$T_DIR/fenced.log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	T_FENCED_PID=$pid
}

# t_fsync PATH...: fsync each file or directory (a directory of a mount
# commits the mount's open transaction)
t_fsync() {
	python3 - "$@" <<'PY' || t_fail "fsync $*"
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
PY
}

# t_watchdog SECONDS: fail the test if it is still running SECONDS from
# now (a hang detector, far above the test's normal run time, not a
# timing assertion): print the kernel stacks of the threads of the
# test's daemons that are blocked (D state) and the daemons' logs' last
# lines, make the test shell fail ("hung"), and SIGKILL the daemons the
# test started (recorded pids), which ends every FUSE call blocked on
# them.  Call it after the mounts are started.
t_watchdog() {
	local secs=$1 main=$$ i
	trap 't_fail "hung: still running $T_WATCHDOG_SECS s after the watchdog started (stacks above)"' USR1
	T_WATCHDOG_SECS=$secs
	(
		trap - EXIT USR1
		# a second at a time, gone soon after the test is
		for ((i = 0; i < secs; i++)); do
			sleep 1 </dev/null >/dev/null 2>&1
			kill -0 "$main" 2>/dev/null || exit 0
		done
		echo "--- watchdog ($T_NAME): $secs s passed; blocked daemon threads:" >&2
		for pid in "${T_PIDS[@]}"; do
			for t in /proc/"$pid"/task/*; do
				[ "$(awk '{print $3}' "$t/stat" 2>/dev/null)" = D ] || continue
				for m in "${!T_MOUNT_PID[@]}"; do
					[ "${T_MOUNT_PID[$m]}" = "$pid" ] && break
					m=
				done
				echo "pid $pid${m:+ (scoutfsd of $m)} thread $(basename "$t") ($(cat "$t/comm")):" >&2
				sed 's/^/    /' "$t/stack" >&2 2>/dev/null
			done
		done
		kill -USR1 "$main"
		sleep 1
		for pid in "${T_PIDS[@]}"; do
			kill -9 "$pid" 2>/dev/null
		done
		t_fuse_abort
	) &
	T_PIDS+=("$!")
	disown "$!"
}

# t_fuse_conn MNT: remember the FUSE connection (/sys/fs/fuse/connections/N)
# of the live mount MNT in T_FUSECONN[MNT], for t_fuse_abort
declare -A T_FUSECONN=()
t_fuse_conn() {
	local mm
	mm=$(findmnt -n -o MAJ:MIN "$1") || t_fail "t_fuse_conn: $1 is not mounted"
	T_FUSECONN[$1]=$(((${mm%%:*} << 20) + ${mm##*:}))
}

# t_fuse_abort: abort the FUSE connection of every mount t_fuse_conn
# recorded whose scoutfsd was not unmounted cleanly (still in
# T_MOUNT_PID), after a SIGKILL of that scoutfsd.  A daemon thread stuck
# in the kernel (say in a notify_inval_inode that waits on a page a
# blocked write holds) keeps the connection, the blocked calls and the
# killed daemon alive; the abort ends them all.  A connection is only
# aborted while it is certainly still this test's: the daemon's pid is
# an unreaped child (a zombie at worst) or the mount point still shows
# the connection's device.
t_fuse_abort() {
	local mnt pid conn mm
	for mnt in "${!T_FUSECONN[@]}"; do
		pid=${T_MOUNT_PID[$mnt]:-}
		[ -n "$pid" ] || continue
		conn=${T_FUSECONN[$mnt]}
		kill -9 "$pid" 2>/dev/null
		mm=$(findmnt -n -o MAJ:MIN "$mnt" 2>/dev/null)
		if [ -d "/proc/$pid" ] ||
			{ [ -n "$mm" ] && [ $(((${mm%%:*} << 20) + ${mm##*:})) -eq "$conn" ]; }; then
			[ -e "/sys/fs/fuse/connections/$conn/abort" ] &&
				echo 1 >"/sys/fs/fuse/connections/$conn/abort" 2>/dev/null
		fi
	done
	return 0
}
