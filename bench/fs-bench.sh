#!/usr/bin/env bash
# The filesystem benchmark: scoutfsd against baselines measured the same
# way in the same run; not part of the test suite.  Run as root:
#
#   bench/fs-bench.sh            # the full run (~15 minutes on a 2-core VM)
#   FILES=10000 SEQ_MB=256 RAND_SECS=5 bench/fs-bench.sh    # a quick one
#
# See --help (below) for what it measures, how, and the overrides.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bench/fs-bench.sh [-h|--help]   (as root; settings come from the environment)

Measures scoutfsd (a fresh volume on two image files) against baselines measured
the same way in the same run, and prints one line per figure: the scoutfs value,
each baseline, the ratio to the baseline its target names, the target, PASS/MISS.

Targets (the baseline is on the same machine, same run):
  create 1 dir / 100 dirs       >= 1.0 x host   (the host directory, no FUSE)
  stat (cold), readdir, unlink  >= 2.0 x bindfs (a FUSE passthrough of that directory)
  seq write, seq read (cold)    >= 0.8 x raw    (fio O_DIRECT on the data image)
  4 KiB random reads, qd 32     >= 0.5 x raw
  scoutfsd peak RSS (VmHWM) in the 100k-file run  <= 256 MiB

Targets:
  host    a directory next to the images (the filesystem holding them)
  bindfs  bindfs over that directory (FUSE's own cost; Debian package bindfs)
  scoutfs scoutfsd -f on META/DATA images (one quorum slot, 127.0.0.1)
  raw     fio on the data image file itself, before mkfs

Metadata (a C helper built with cc, one thread, run on each target):
  create   open(O_CREAT|O_EXCL)+close of FILES empty files (f0000000...) in
           creation order; files go round-robin into the directories
  stat     fstatat() of each, relative to an open directory fd, caches cold
  readdir  getdents64 (64 KiB buffer) of every directory, caches cold
  unlink   unlinkat() of each in creation order, then rmdir (caches warm)
  Run twice: all files in 1 directory, then spread over DIRS directories.
  "cold": sync and echo 3 >/proc/sys/vm/drop_caches (kernel dentries, inodes,
  pages: ext4's and FUSE's); for scoutfs also an unmount and remount, so the
  daemon's item and block caches start empty too.  Rates exclude the sync.
Data (fio, one job, 2 GiB file named by SEQ_MB):
  seq write  1 MiB write()s (psync: one in flight) then fsync; the rate
             includes the fsync.  raw: the same with O_DIRECT on the image.
  seq read   1 MiB read()s (psync), caches cold.  raw: O_DIRECT, same.
  rand read  4 KiB reads, io_uring, iodepth 32, one job, O_DIRECT (through
             FUSE too: otherwise the page cache answers the repeats), over
             the whole file for RAND_SECS.  raw: the same on the image.
  The data image is filled once before anything is timed, so neither raw
  fio nor scoutfs pays for ext4 allocating the image file's blocks.

Environment:
  FILES=100000     files per metadata run
  DIRS=100         directories of the spread run
  SEQ_MB=2048      size of the sequential file (MiB)
  RAND_SECS=30     length of each random-read run (s)
  RAND_QD=32       random-read queue depth
  BENCH_DIR=/var/tmp  where the work directory (fs-bench.XXXXXX) goes: a real
                   filesystem (O_DIRECT), removed at the end unless KEEP=1
  SKIP=            space-separated targets to leave out: host bindfs scoutfs raw
  SCOUTFSD=, SCOUTFS_MKFS=  binaries to use; otherwise the script builds
                   build-bench/ (meson, release) as bench/run.sh does
  PORT=            the quorum port (default 20000 + pid % 20000)

Missing fio, bindfs or cc: it names the Debian package and exits 2.
EOF
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	usage >&2
	exit 2
	;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=build.sh
. "$top/bench/build.sh"
FILES=${FILES:-100000}
DIRS=${DIRS:-100}
SEQ_MB=${SEQ_MB:-2048}
RAND_SECS=${RAND_SECS:-30}
RAND_QD=${RAND_QD:-32}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
SKIP=${SKIP:-}
KEEP=${KEEP:-0}
PORT=${PORT:-$((20000 + $$ % 20000))}

if [ "$(id -u)" -ne 0 ]; then
	echo "fs-bench: run as root (mounts, drop_caches)" >&2
	exit 2
fi
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "fs-bench: $1 is missing: apt-get install $2" >&2
	exit 2
}
need fio fio
need bindfs bindfs
need cc gcc
need findmnt util-linux
skipped() { [[ " $SKIP " == *" $1 "* ]]; }

if [ -z "${SCOUTFSD:-}" ] || [ -z "${SCOUTFS_MKFS:-}" ]; then
	cd "$top"
	bench_build "$top" scoutfsd scoutfs-mkfs
	SCOUTFSD=$top/build-bench/scoutfsd
	SCOUTFS_MKFS=$top/build-bench/scoutfs-mkfs
fi

W=$(mktemp -d "$BENCH_DIR/fs-bench.XXXXXX")
META=$W/meta.img
DATA=$W/data.img
HOST=$W/host
BMNT=$W/bindfs
SMNT=$W/scoutfs
mkdir -p "$HOST" "$BMNT" "$SMNT"
SFS_PID=
SFS_PIDS=()
WATCH_PIDS=()

cleanup() {
	local p
	set +e
	if findmnt -n "$SMNT" >/dev/null 2>&1; then umount "$SMNT" || umount -l "$SMNT"; fi
	if findmnt -n "$BMNT" >/dev/null 2>&1; then umount "$BMNT" || umount -l "$BMNT"; fi
	for p in "${SFS_PIDS[@]}"; do
		# give a daemon whose mount went a moment to finish, then stop it
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for p in "${WATCH_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$KEEP" = 1 ]; then echo "fs-bench: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ #
# the metadata helper                                                  #
# ------------------------------------------------------------------ #
cat >"$W/fsb.c" <<'EOF'
/* fsb PHASE DIR FILES DIRS: one metadata phase, one thread; prints
 * "PHASE OPS SECONDS RATE".  File i is DIR/dNNNN/fIIIIIII, dNNNN = i % DIRS. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const char *name)
{
	fprintf(stderr, "fsb: %s %s: %s\n", what, name, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *phase, *top;
	long files, dirs, i, ops = 0;
	char name[64];
	int *dfd, tfd;
	double t0, t;

	if (argc != 5) {
		fprintf(stderr, "usage: fsb create|stat|readdir|unlink DIR FILES DIRS\n");
		return 2;
	}
	phase = argv[1];
	top = argv[2];
	files = atol(argv[3]);
	dirs = atol(argv[4]);
	if (files < 1 || dirs < 1)
		return 2;
	dfd = calloc(dirs, sizeof(*dfd));
	tfd = open(top, O_RDONLY | O_DIRECTORY);
	if (tfd < 0)
		die("open", top);

	t0 = now();
	for (i = 0; i < dirs; i++) {
		snprintf(name, sizeof(name), "d%04ld", i);
		if (!strcmp(phase, "create") && mkdirat(tfd, name, 0755))
			die("mkdir", name);
		dfd[i] = openat(tfd, name, O_RDONLY | O_DIRECTORY);
		if (dfd[i] < 0)
			die("open", name);
	}
	if (!strcmp(phase, "create")) {
		for (i = 0; i < files; i++, ops++) {
			int fd;

			snprintf(name, sizeof(name), "f%07ld", i);
			fd = openat(dfd[i % dirs], name, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0 || close(fd))
				die("create", name);
		}
	} else if (!strcmp(phase, "stat")) {
		struct stat st;

		for (i = 0; i < files; i++, ops++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			if (fstatat(dfd[i % dirs], name, &st, AT_SYMLINK_NOFOLLOW))
				die("stat", name);
		}
	} else if (!strcmp(phase, "readdir")) {
		static char buf[65536];

		for (i = 0; i < dirs; i++) {
			long n;

			for (;;) {
				n = syscall(SYS_getdents64, dfd[i], buf, sizeof(buf));
				if (n < 0)
					die("getdents64", "");
				if (n == 0)
					break;
				for (long off = 0; off < n;) {
					struct dirent64 *de = (struct dirent64 *)(buf + off);

					if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
						ops++;
					off += de->d_reclen;
				}
			}
		}
		if (ops != files) {
			fprintf(stderr, "fsb: readdir found %ld entries, expected %ld\n", ops, files);
			return 1;
		}
	} else if (!strcmp(phase, "unlink")) {
		for (i = 0; i < files; i++, ops++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			if (unlinkat(dfd[i % dirs], name, 0))
				die("unlink", name);
		}
		for (i = 0; i < dirs; i++) {
			close(dfd[i]);
			dfd[i] = -1;
			snprintf(name, sizeof(name), "d%04ld", i);
			if (unlinkat(tfd, name, AT_REMOVEDIR))
				die("rmdir", name);
		}
	} else {
		fprintf(stderr, "fsb: unknown phase %s\n", phase);
		return 2;
	}
	t = now() - t0;
	printf("%s %ld %.3f %.0f\n", phase, ops, t, ops / t);
	return 0;
}
EOF
cc -O2 -Wall -o "$W/fsb" "$W/fsb.c"

# ------------------------------------------------------------------ #
# helpers                                                              #
# ------------------------------------------------------------------ #
declare -A R=()		# R[target,figure] = value
declare -A NOTE=()	# NOTE[target,figure] = detail

log() { echo "  $*" >&2; }

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# peak RSS: a watcher per daemon records its VmHWM until it exits
watch_rss() {
	local pid=$1 f=$W/hwm.$1
	(
		while v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ]; do
			echo "$v" >"$f.tmp" && mv "$f.tmp" "$f"
			sleep 0.2
		done
	) &
	WATCH_PIDS+=($!)
}
# the greatest VmHWM (KiB) recorded for the given pids
hwm_of() {
	local p m=0 v
	for p in "$@"; do
		# shellcheck disable=SC2013 # one number a file
		for v in $(cat "$W/hwm.$p" "$W/hwm.$p.last" 2>/dev/null); do
			[ "$v" -gt "$m" ] && m=$v
		done
	done
	echo "$m"
}

sfs_mount() {
	local _
	"$SCOUTFSD" -f -o "metadev_path=$META,quorum_slot_nr=0" "$DATA" "$SMNT" >>"$W/scoutfsd.log" 2>&1 &
	SFS_PID=$!
	SFS_PIDS+=("$SFS_PID")
	for _ in $(seq 300); do
		findmnt -n "$SMNT" >/dev/null 2>&1 && break
		if ! kill -0 "$SFS_PID" 2>/dev/null; then
			echo "fs-bench: scoutfsd exited before mounting: $(tail -5 "$W/scoutfsd.log")" >&2
			exit 1
		fi
		sleep 0.05
	done
	findmnt -n "$SMNT" >/dev/null 2>&1 || { echo "fs-bench: scoutfsd did not mount in 15 s" >&2; exit 1; }
	watch_rss "$SFS_PID"
}
sfs_umount() {
	local rc=0
	# the last VmHWM, taken before the unmount's commit too
	awk '/^VmHWM:/ { print $2 }' "/proc/$SFS_PID/status" >"$W/hwm.$SFS_PID.last" 2>/dev/null || true
	umount "$SMNT"
	wait "$SFS_PID" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "fs-bench: scoutfsd exited $rc: $(tail -5 "$W/scoutfsd.log")" >&2
		exit 1
	fi
	SFS_PID=
}

bindfs_mount() {
	bindfs "$HOST" "$BMNT"
	findmnt -n "$BMNT" >/dev/null
}

# cold TARGET: nothing under the application cached
cold() {
	if [ "$1" = scoutfs ]; then
		sfs_umount
		drop_caches
		sfs_mount
	else
		drop_caches
	fi
}

dir_of() {
	case $1 in
	host) echo "$HOST" ;;
	bindfs) echo "$BMNT" ;;
	scoutfs) echo "$SMNT" ;;
	esac
}

# meta TARGET LAYOUT NDIRS
meta() {
	local t=$1 lay=$2 nd=$3 d ph out t0 t1
	d=$(dir_of "$t")/$lay
	mkdir "$d"
	for ph in create stat readdir unlink; do
		case $ph in
		stat | readdir) cold "$t" ;;
		esac
		out=$("$W/fsb" "$ph" "$d" "$FILES" "$nd")
		R[$t,${ph}_$lay]=$(echo "$out" | awk '{ print $4 }')
		NOTE[$t,${ph}_$lay]="$(echo "$out" | awk '{ print $3 }') s"
		if [ "$ph" = create ]; then
			# untimed in the rate, but shown: what making it durable costs
			t0=$(date +%s.%N)
			if [ "$t" = scoutfs ]; then
				sync "$d"	# fsync of the directory: a commit
			else
				sync
			fi
			t1=$(date +%s.%N)
			NOTE[$t,${ph}_$lay]+=", then sync $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
		fi
		log "$t $lay $ph: ${R[$t,${ph}_$lay]}/s (${NOTE[$t,${ph}_$lay]})"
	done
	rmdir "$d"
}

# fio_run NAME FIELD ARGS...: runs fio, prints terse field FIELD (KB/s or IOPS)
fio_run() {
	local f=$1
	shift
	fio --name=fsb "$@" --output-format=terse --terse-version=3 >"$W/fio.out" 2>"$W/fio.err" || {
		echo "fs-bench: fio $* failed: $(cat "$W/fio.err" "$W/fio.out")" >&2
		exit 1
	}
	awk -F';' -v f="$f" '{ print $f }' "$W/fio.out"
}
# terse v3: read bw KB/s field 7, read IOPS 8, write bw KB/s 48
kbs_to_mibs() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

SEQ=(--bs=1m "--size=${SEQ_MB}m" --ioengine=psync)
RAND=(--rw=randread --bs=4k "--size=${SEQ_MB}m" --ioengine=io_uring "--iodepth=$RAND_QD" --direct=1
	"--runtime=$RAND_SECS" --time_based --randrepeat=0)

# data TARGET: sequential write, cold sequential read, random reads of one file
data() {
	local t=$1 f v
	f=$(dir_of "$t")/seq
	v=$(fio_run 48 --filename="$f" --rw=write "${SEQ[@]}" --end_fsync=1)
	R[$t,seq_write]=$(kbs_to_mibs "$v")
	log "$t seq write: ${R[$t,seq_write]} MiB/s"
	cold "$t"
	f=$(dir_of "$t")/seq
	v=$(fio_run 7 --filename="$f" --rw=read "${SEQ[@]}")
	R[$t,seq_read]=$(kbs_to_mibs "$v")
	log "$t seq read: ${R[$t,seq_read]} MiB/s"
	drop_caches
	R[$t,rand_read]=$(fio_run 8 --filename="$f" "${RAND[@]}")
	log "$t rand read: ${R[$t,rand_read]} IOPS"
	rm -f "$f"
}

rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
echo "fs-bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), $(findmnt -n -o FSTYPE,SOURCE --target "$W" | tr -s ' '), tree $rev"
echo "  scoutfsd: $SCOUTFSD"
echo "  FILES=$FILES DIRS=$DIRS SEQ_MB=$SEQ_MB RAND_SECS=$RAND_SECS RAND_QD=$RAND_QD, work in $W"

# ------------------------------------------------------------------ #
# raw: the data image, filled first (allocated), before mkfs           #
# ------------------------------------------------------------------ #
data_mb=$((SEQ_MB + 1024))
truncate -s 16G "$META"
truncate -s "${data_mb}M" "$DATA"
log "filling the data image ($data_mb MiB, untimed)"
fio_run 48 --filename="$DATA" --rw=write --bs=1m --size="${data_mb}m" --direct=1 \
	--ioengine=io_uring --iodepth=8 --end_fsync=1 >/dev/null
if ! skipped raw; then
	v=$(fio_run 48 --filename="$DATA" --rw=write "${SEQ[@]}" --direct=1 --end_fsync=1)
	R[raw,seq_write]=$(kbs_to_mibs "$v")
	log "raw seq write: ${R[raw,seq_write]} MiB/s"
	drop_caches
	v=$(fio_run 7 --filename="$DATA" --rw=read "${SEQ[@]}" --direct=1)
	R[raw,seq_read]=$(kbs_to_mibs "$v")
	log "raw seq read: ${R[raw,seq_read]} MiB/s"
	R[raw,rand_read]=$(fio_run 8 --filename="$DATA" "${RAND[@]}")
	log "raw rand read: ${R[raw,rand_read]} IOPS"
fi
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$PORT" "$META" "$DATA" >"$W/mkfs.out" 2>&1 || {
	cat "$W/mkfs.out" >&2
	exit 1
}

# ------------------------------------------------------------------ #
# host, bindfs, scoutfs                                                #
# ------------------------------------------------------------------ #
if ! skipped host; then
	data host
	meta host one 1
	meta host spread "$DIRS"
fi
if ! skipped bindfs; then
	bindfs_mount
	data bindfs
	meta bindfs one 1
	meta bindfs spread "$DIRS"
	umount "$BMNT"
fi
if ! skipped scoutfs; then
	# data first, on the volume's first mount; then a fresh daemon for the
	# metadata runs, so their peak RSS is theirs alone
	sfs_mount
	data scoutfs
	sfs_umount
	sfs_mount
	meta_first=${#SFS_PIDS[@]}
	meta scoutfs one 1
	meta scoutfs spread "$DIRS"
	meta_pids=("${SFS_PIDS[@]:$((meta_first - 1))}")
	R[scoutfs,threads]=$(awk '/^Threads:/ { print $2 }' "/proc/$SFS_PID/status")
	sfs_umount
	rss_meta=$(hwm_of "${meta_pids[@]}")
	R[scoutfs,rss_meta]=$(awk -v k="$rss_meta" 'BEGIN { printf "%.0f", k / 1024 }')
	R[scoutfs,rss_all]=$(awk -v k="$(hwm_of "${SFS_PIDS[@]}")" 'BEGIN { printf "%.0f", k / 1024 }')
fi

# ------------------------------------------------------------------ #
# the table                                                            #
# ------------------------------------------------------------------ #
val() { echo "${R[$1,$2]:--}"; }
# line FIGURE LABEL UNIT BASELINE MIN
line() {
	local fig=$1 label=$2 unit=$3 base=$4 min=$5 s b ratio verdict
	s=$(val scoutfs "$fig")
	b=$(val "$base" "$fig")
	if [ "$s" != - ] && [ "$b" != - ] && [ "$b" != 0 ]; then
		ratio=$(awk -v s="$s" -v b="$b" 'BEGIN { printf "%.2f", s / b }')
		verdict=$(awk -v r="$ratio" -v m="$min" 'BEGIN { print (r >= m) ? "PASS" : "MISS" }')
	else
		ratio=- verdict=-
	fi
	printf '%-22s %-7s %9s %9s %9s %9s %6s  >=%-4s x %-6s %s\n' "$label" "$unit" "$s" \
		"$(val host "$fig")" "$(val bindfs "$fig")" "$(val raw "$fig")" "$ratio" "$min" "$base" "$verdict"
}
echo
printf '%-22s %-7s %9s %9s %9s %9s %6s  %-13s %s\n' figure unit scoutfs host bindfs raw ratio target verdict
line create_one "create, 1 dir" files/s host 1.0
line create_spread "create, $DIRS dirs" files/s host 1.0
line stat_one "stat cold, 1 dir" files/s bindfs 2.0
line stat_spread "stat cold, $DIRS dirs" files/s bindfs 2.0
line readdir_one "readdir cold, 1 dir" ents/s bindfs 2.0
line readdir_spread "readdir cold, $DIRS dirs" ents/s bindfs 2.0
line unlink_one "unlink, 1 dir" files/s bindfs 2.0
line unlink_spread "unlink, $DIRS dirs" files/s bindfs 2.0
line seq_write "seq write 1M+fsync" MiB/s raw 0.8
line seq_read "seq read 1M cold" MiB/s raw 0.8
line rand_read "rand read 4K qd$RAND_QD" IOPS raw 0.5
if [ -n "${R[scoutfs,rss_meta]:-}" ]; then
	v=${R[scoutfs,rss_meta]}
	printf '%-22s %-7s %9s %9s %9s %9s %6s  <=%-13s %s\n' "scoutfsd peak RSS" MiB "$v" - - - - "256 MiB" \
		"$(awk -v v="$v" 'BEGIN { print (v <= 256) ? "PASS" : "MISS" }')"
	echo "  peak RSS: VmHWM, the greatest of the daemons of the ${FILES}-file runs (each cold remount"
	echo "  starts a new one); over every run, the data runs included: ${R[scoutfs,rss_all]} MiB;" \
		"threads after the metadata runs: ${R[scoutfs,threads]}"
fi
echo "  metadata: one thread, $FILES files, caches dropped before stat and readdir (scoutfs also"
echo "  remounted); data: one fio job, ${SEQ_MB} MiB, seq 1 MiB psync (one request in flight),"
echo "  rand 4 KiB io_uring qd $RAND_QD O_DIRECT (raw: on the data image; bindfs opens its file"
echo "  without O_DIRECT, so its random reads come from the host page cache: FUSE's round trips only)"
