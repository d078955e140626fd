#!/usr/bin/env bash
# Concurrent stage and release keep allocations consistent (the
# reference's stage-release-race-alloc, in our words): two workers cycle
# release and stage over their own files while a third writes and deletes
# other files, all allocating and freeing data blocks at once.  Afterwards
# every file holds its bytes, the free space comes back when the files go,
# and the offline checker finds the volume consistent.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"
A="$T_DIR/archive"
mkdir -p "$A"

commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}
commit
free0=$(df --output=avail -B4096 "$M" | tail -1)

for w in 1 2; do
	for i in 1 2 3; do
		head -c $((w * 700000 + i * 4096 + 13)) /dev/urandom >"$A/w$w.$i"
		cp "$A/w$w.$i" "$M/w$w.$i"
	done
done

cycle() {	# WORKER ROUNDS
	local r i f v
	for r in $(seq "$2"); do
		for i in 1 2 3; do
			f="$M/w$1.$i"
			v=$("$S" stat -s data_version "$f") || return 1
			"$S" release "$f" -V "$v" || return 1
			"$S" stage "$A/w$1.$i" "$f" -V "$v" || return 1
		done
	done
}
churn() {	# ROUNDS
	local r
	for r in $(seq "$1"); do
		head -c $((r * 40000)) /dev/zero >"$M/churn.$r" || return 1
		[ $((r % 3)) = 0 ] && rm -f "$M/churn.$((r - 2))"
	done
	return 0
}
cycle 1 15 & p1=$!
cycle 2 15 & p2=$!
churn 60 & p3=$!
wait $p1 || t_fail "worker 1"
wait $p2 || t_fail "worker 2"
wait $p3 || t_fail "churn"

for w in 1 2; do
	for i in 1 2 3; do
		cmp "$M/w$w.$i" "$A/w$w.$i" || t_fail "w$w.$i differs"
		[ "$("$S" stat -s offline_blocks "$M/w$w.$i")" = 0 ] || t_fail "w$w.$i offline"
	done
done
rm -f "$M"/w* "$M"/churn.*
commit
sleep 1
commit
free1=$(df --output=avail -B4096 "$M" | tail -1)
# freed blocks return once their transaction commits; allow a few hundred
# blocks of metadata slack
[ $((free0 - free1)) -le 512 ] || t_fail "free space lost: $free0 before, $free1 after"
t_umount "$M"
"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>&1 || t_fail "print failed: $(tail -3 "$T_DIR/print.out")"
t_mount "$M"
t_umount "$M"
echo "stage-release-race-alloc: ok"
