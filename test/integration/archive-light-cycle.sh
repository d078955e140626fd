#!/usr/bin/env bash
# Rounds of the archive cycle run by several agents at once (the
# reference's archive-light-cycle, in our words: there every mount runs
# the phases at the same time; here one mount serves three workers, each
# an agent with its own directory, archive and walk position, all running
# together).  Each round a worker changes its files (overwrites,
# appends, truncates, one unlinked, one new), some of them while they are
# offline: the change waits (data-waiting shows it with its op) until the
# worker stages the file from its archive copy.  Then, after a commit, it
# walks data_seq from its saved position: exactly the files it changed
# show up (nothing unlinked, no directory), in order, none before the
# position, each at the data_seq stat reports.  It copies each at its
# data_version and releases it: every block offline, online 0, size,
# data_version and data_seq unchanged, meta_seq moved.  One file is written
# between the copy and the release: the release fails with ESTALE, the file
# stays online and the next walk finds it again.  Release and stage never
# bring a file back into the walk.  Then it reads everything back, half by
# serving waiting readers, half by staging first, and releases some again
# for the next round.  At the end, after a remount, every file has the
# data_version and offline state the worker recorded and, once staged, the
# bytes of its shadow copy; a walk from 0 lists each file once.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"

WORKERS=3
ROUNDS=4

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"

commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}
field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }
blocks_of() { echo $((($(stat -c %s "$1") + 4095) / 4096)); }

# walk POS OUT: walk data_seq from POS (MAJOR.MINOR.INO) to the end into
# OUT, one "major minor ino" line per entry, checked to be in strictly
# increasing order and none before POS; prints the position after the
# last entry (POS when there is none)
cat >"$T_DIR/walk.py" <<'PY'
import json, sys
pos = tuple(int(x) for x in sys.argv[1].split("."))
ents = [(e["major"], e["minor"], e["ino"]) for e in json.load(sys.stdin)]
for i, e in enumerate(ents):
    assert e >= pos, "entry %s before the position %s" % (e, pos)
    assert i == 0 or e > ents[i - 1], "entries out of order: %s then %s" % (ents[i - 1], e)
with open(sys.argv[2], "w") as out:
    for e in ents:
        out.write("%d %d %d\n" % e)
if ents:
    print("%d.%d.%d" % (ents[-1][0], ents[-1][1], ents[-1][2] + 1))
else:
    print(sys.argv[1])
PY
walk() {
	"$S" walk-inodes --json data_seq "$1" -1 -p "$M" >"$2.json" ||
		t_fail "walk-inodes data_seq $1"
	python3 "$T_DIR/walk.py" "$1" "$2" <"$2.json" || t_fail "walk from $1: $(cat "$2.json")"
}

# ------------------------------------------------------------------------
# one worker: an archive agent of directory w$1 (runs in the background;
# t_fail ends only the worker, which the main script then reports)
worker() {
	local w=$1 r j n i name ino V op pos rp sz off act size0 ms0 ds0
	local dir="$M/w$w" ar="$T_DIR/archive/w$w" sh="$T_DIR/shadow/w$w" tmp="$T_DIR/tmp/w$w"
	local -A INO=() VERS=() OFF=() CHANGED=() GONE=() RACED=()
	# shellcheck disable=SC2034  # (t_fail names the worker)
	T_NAME="archive-light-cycle worker $w"
	mkdir -p "$dir" "$ar" "$sh" "$tmp" || t_fail "mkdir"
	pos=0.0.0

	# wait_listed INO OP: within 10 s a request of OP waits on block 0 of INO
	wait_listed() {
		for _ in $(seq 200); do
			"$S" data-waiting -I 0 -B 0 -p "$M" | grep -qx "ino $1 iblock 0 ops $2" && return 0
			sleep 0.05
		done
		t_fail "round $r: no $2 waiter on inode $1: $("$S" data-waiting -I 0 -B 0 -p "$M")"
	}
	stage() {	# NAME: from its archive copy, at its archived version
		"$S" stage "$ar/${INO[$1]}.${VERS[$1]}" "$dir/$1" -V "${VERS[$1]}" ||
			t_fail "round $r: stage $1"
		OFF[$1]=0
	}
	create() {	# NAME SIZE
		head -c "$2" /dev/urandom >"$sh/$1"
		cp "$sh/$1" "$dir/$1" || t_fail "round $r: create $1"
		INO[$1]=$(stat -c %i "$dir/$1")
		OFF[$1]=0
		CHANGED[$1]=1
	}
	# change NAME ACTION: the change to the shadow, then to the file; a
	# file that is offline waits for it, and the worker serves it
	change() {
		local nm=$1 f="$dir/$1" cmd
		head -c 5000 /dev/urandom >"$tmp/patch"
		case $2 in
		overwrite)
			off=$(($(stat -c %s "$sh/$nm") / 3))
			cmd=(dd if="$tmp/patch" of="$f" bs=5000 seek="$off" oflag=seek_bytes conv=notrunc status=none)
			dd if="$tmp/patch" of="$sh/$nm" bs=5000 seek="$off" oflag=seek_bytes conv=notrunc status=none
			op='write'
			;;
		append)
			cmd=(sh -c 'cat "$1" >>"$2"' append "$tmp/patch" "$f")
			cat "$tmp/patch" >>"$sh/$nm"
			op='write'
			;;
		truncate)
			sz=$(($(stat -c %s "$sh/$nm") / 2 + 1))
			cmd=(truncate -s "$sz" "$f")
			truncate -s "$sz" "$sh/$nm"
			op=change_size
			;;
		esac
		V=$(field "$f" data_version)
		if [ "${OFF[$nm]}" = 1 ]; then
			timeout 60 "${cmd[@]}" &
			i=$!
			wait_listed "${INO[$nm]}" $op
			kill -0 $i 2>/dev/null || t_fail "round $r: a $2 of offline $nm did not wait"
			[ "$(field "$f" data_version)" = "$V" ] || t_fail "round $r: a waiting $2 changed data_version"
			stage "$nm"
			wait $i || t_fail "round $r: the $2 of $nm failed after the stage"
		else
			timeout 60 "${cmd[@]}" || t_fail "round $r: $2 of online $nm"
		fi
		[ "$(field "$f" data_version)" -gt "$V" ] || t_fail "round $r: $2 did not move data_version"
		cmp "$f" "$sh/$nm" || t_fail "round $r: $nm differs from its shadow after a $2"
		CHANGED[$nm]=1
	}
	# archive NAME [RACE]: copy at its data_version, then release; with
	# RACE the file is written between the two and the release must fail
	archive() {
		local nm=$1 f="$dir/$1"
		[ "$("$S" ino-path "${INO[$nm]}" -p "$M")" = "$f" ] || t_fail "round $r: ino-path of $nm"
		[ "$(field "$f" offline_blocks)" = 0 ] || t_fail "round $r: changed file $nm is offline"
		V=$(field "$f" data_version)
		cp "$f" "$ar/${INO[$nm]}.$V" || t_fail "round $r: copy out $nm"
		cmp "$ar/${INO[$nm]}.$V" "$sh/$nm" || t_fail "round $r: the copy of $nm differs from its shadow"
		if [ "${2:-}" = race ]; then
			printf 'R' | dd of="$f" bs=1 count=1 conv=notrunc status=none
			printf 'R' | dd of="$sh/$nm" bs=1 count=1 conv=notrunc status=none
			# (not t_expect_fail: its files are shared by the workers)
			"$S" release "$f" -V "$V" 2>"$tmp/err" && t_fail "round $r: a stale release succeeded"
			grep -q "Stale file handle" "$tmp/err" || t_fail "round $r: stale release: $(cat "$tmp/err")"
			[ "$(field "$f" offline_blocks)" = 0 ] || t_fail "round $r: a stale release released $nm"
			RACED[$nm]=1
			return
		fi
		size0=$(stat -c %s "$f")
		ms0=$(field "$f" meta_seq)
		ds0=$(field "$f" data_seq)
		"$S" release "$f" -V "$V" || t_fail "round $r: release $nm"
		[ "$(field "$f" online_blocks)" = 0 ] || t_fail "round $r: $nm online after release"
		[ "$(field "$f" offline_blocks)" = "$(blocks_of "$f")" ] ||
			t_fail "round $r: $nm has $(field "$f" offline_blocks) offline, size $(stat -c %s "$f")"
		[ "$(field "$f" data_version)" = "$V" ] || t_fail "round $r: release changed data_version"
		[ "$(stat -c %s "$f")" = "$size0" ] || t_fail "round $r: release changed the size"
		[ "$(field "$f" data_seq)" = "$ds0" ] || t_fail "round $r: release moved data_seq"
		[ "$(field "$f" meta_seq)" -gt "$ms0" ] || t_fail "round $r: release did not move meta_seq"
		VERS[$nm]=$V
		OFF[$nm]=1
	}
	# check_walk WHAT NAME...: walk from pos; my entries are exactly NAMEs
	check_walk() {
		local what=$1 got want="" e
		shift
		pos=$(walk "$pos" "$tmp/walk") || exit 1
		got=$(while read -r _ _ e; do
			for n in "${!INO[@]}"; do
				[ "${INO[$n]}" = "$e" ] && echo "$n"
			done
			[ -n "${GONE[$e]:-}" ] && echo "GONE:$e"
			[ "$e" = "$(stat -c %i "$dir")" ] && echo "DIR:$e"
		done <"$tmp/walk" | sort)
		[ $# -gt 0 ] && want=$(printf '%s\n' "$@" | sort)
		[ "$got" = "$want" ] || t_fail "round $r: walk $what found '$got', expected '$want'"
		# each at the data_seq stat reports
		for n in "$@"; do
			e=$(awk -v i="${INO[$n]}" '$3 == i { print $1 }' "$tmp/walk")
			[ "$e" = "$(field "$dir/$n" data_seq)" ] ||
				t_fail "round $r: $n walked at seq $e, its data_seq is $(field "$dir/$n" data_seq)"
		done
	}

	for r in $(seq 1 $ROUNDS); do
		CHANGED=()
		RACED=()
		# --- change
		if [ "$r" = 1 ]; then
			# five files of 1 byte to 700 KiB
			j=0
			for sz in 1 4096 50001 300000 700003; do
				j=$((j + 1))
				create "f$j" $((sz + w * 1000 * (j > 1)))
			done
		else
			# one goes: unlinked, offline or not
			name=f$((r - 1))
			GONE[${INO[$name]}]=1
			rm "$dir/$name" || t_fail "round $r: unlink $name"
			rm -f "$sh/$name"
			unset "INO[$name]" "VERS[$name]" "OFF[$name]"
			j=0
			for name in $(printf '%s\n' "${!INO[@]}" | sort); do
				j=$((j + 1))
				act=$(((r + j + w) % 4))
				case $act in
				0) change "$name" overwrite ;;
				1) change "$name" append ;;
				2) change "$name" truncate ;;
				esac
			done
			create "n$r" $((r * 40000 + w * 333))
		fi
		commit

		# --- walk, archive and release what changed
		check_walk "after the changes" "${!CHANGED[@]}"
		j=0
		for name in $(printf '%s\n' "${!CHANGED[@]}" | sort); do
			j=$((j + 1))
			if [ $j = 1 ] && [ $((r % 2)) = 0 ]; then
				archive "$name" race
			else
				archive "$name"
			fi
		done
		commit
		# release never brings a file back; the raced file comes back
		check_walk "after the releases" "${!RACED[@]}"
		for name in "${!RACED[@]}"; do
			archive "$name"
		done

		# --- read everything back: serve waiting readers, or stage first
		j=0
		for name in $(printf '%s\n' "${!INO[@]}" | sort); do
			j=$((j + 1))
			ino=${INO[$name]}
			V=${VERS[$name]}
			if [ "${OFF[$name]}" = 1 ] && [ $(((j + r) % 2)) = 0 ]; then
				timeout 60 cat "$dir/$name" >"$tmp/read" &
				rp=$!
				wait_listed "$ino" read
				kill -0 $rp 2>/dev/null || t_fail "round $r: a reader of offline $name did not wait"
				stage "$name"
				wait $rp || t_fail "round $r: the reader of $name failed"
				cmp "$tmp/read" "$sh/$name" || t_fail "round $r: the reader of $name got other bytes"
			elif [ "${OFF[$name]}" = 1 ]; then
				stage "$name"
			fi
			cmp "$dir/$name" "$sh/$name" || t_fail "round $r: $name read back differs"
			[ "$(field "$dir/$name" offline_blocks)" = 0 ] || t_fail "round $r: $name offline after stage"
			[ "$(field "$dir/$name" online_blocks)" = "$(blocks_of "$dir/$name")" ] ||
				t_fail "round $r: $name has $(field "$dir/$name" online_blocks) online blocks"
			[ "$(field "$dir/$name" data_version)" = "$V" ] || t_fail "round $r: stage changed data_version"
			# most go offline again for the next round
			if [ $(((j + r) % 3)) != 0 ]; then
				"$S" release "$dir/$name" -V "$V" || t_fail "round $r: release $name again"
				OFF[$name]=1
			fi
		done
		commit
		check_walk "after reading back"

		# what the main script checks at the end
		for name in "${!INO[@]}"; do
			echo "$name ${INO[$name]} ${VERS[$name]} ${OFF[$name]}"
		done >"$ar/state"
		echo "${!GONE[@]}" >"$ar/gone"
	done
	exit 0
}

mkdir -p "$T_DIR/archive" "$T_DIR/shadow" "$T_DIR/tmp"
WPIDS=()
for w in $(seq 1 $WORKERS); do
	worker "$w" >"$T_DIR/worker.$w.log" 2>&1 &
	WPIDS+=($!)
	T_PIDS+=($!)
done
for w in $(seq 1 $WORKERS); do
	if ! wait "${WPIDS[$((w - 1))]}"; then
		cat "$T_DIR/worker.$w.log" >&2
		t_fail "worker $w failed"
	fi
done

# --- after a remount: what each worker recorded --------------------------------------
t_umount "$M"
t_mount "$M"
walk 0.0.0 "$T_DIR/final" >/dev/null
for w in $(seq 1 $WORKERS); do
	[ -s "$T_DIR/archive/w$w/state" ] || t_fail "worker $w left no state"
	while read -r name ino V off; do
		f="$M/w$w/$name"
		[ "$(stat -c %i "$f")" = "$ino" ] || t_fail "w$w/$name: inode"
		[ "$(field "$f" data_version)" = "$V" ] || t_fail "w$w/$name: data_version after remount"
		if [ "$off" = 1 ]; then
			[ "$(field "$f" offline_blocks)" = "$(blocks_of "$f")" ] ||
				t_fail "w$w/$name: offline blocks after remount"
			"$S" stage "$T_DIR/archive/w$w/$ino.$V" "$f" -V "$V" || t_fail "w$w/$name: stage after remount"
		else
			[ "$(field "$f" offline_blocks)" = 0 ] || t_fail "w$w/$name: offline after remount"
		fi
		cmp "$f" "$T_DIR/shadow/w$w/$name" || t_fail "w$w/$name differs after remount"
		[ "$(awk -v i="$ino" '$3 == i' "$T_DIR/final" | wc -l)" = 1 ] ||
			t_fail "w$w/$name: not walked exactly once from 0"
	done <"$T_DIR/archive/w$w/state"
	for ino in $(cat "$T_DIR/archive/w$w/gone"); do
		awk -v i="$ino" '$3 == i { exit 1 }' "$T_DIR/final" || t_fail "unlinked inode $ino still walked"
	done
	[ "$(ls "$M/w$w" | wc -l)" = "$(wc -l <"$T_DIR/archive/w$w/state")" ] ||
		t_fail "w$w holds other files than recorded: $(ls "$M/w$w")"
done
t_umount "$M"
echo "archive-light-cycle: ok"
