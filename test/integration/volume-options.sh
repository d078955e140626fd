#!/usr/bin/env bash
# Volume options (scoutfs volume-options, the reference's sysfs
# volume_options/): one volume mounted twice.  data_alloc_zone_blocks is
# unset on a new volume, on both mounts; set through mount 0 it shows on
# mount 1 at once (it is the volume's, kept by the server); values the
# server refuses (below the per-mount data target of 1048576 blocks,
# above the device, 0) and values that are not numbers or options that
# do not exist fail with one clear line and change nothing; cleared it is
# unset on both.  Anyone may read the options, only root may change
# them.  Data still goes in and comes back with zones set.  --json prints
# one object of NAME: VALUE (null when unset), also after a change.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
command -v setpriv >/dev/null || t_skip "no setpriv"

# the data image is 16 GiB (t_cluster_size): zones of 1048576 blocks fit
t_cluster 2 allow_other
chmod 711 "$T_DIR"	# uid 65534 reaches the mounts and run directories
M0=${T_CMNT[0]} M1=${T_CMNT[1]}
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# vo I ARGS...: scoutfs volume-options of mount I
vo() {
	local i=$1
	shift
	t_scoutfs_at "${T_CMNT[i]}" volume-options -p "${T_CMNT[i]}" "$@"
}
# show I: the text of mount I's options (must succeed)
show() { vo "$1" || t_fail "volume-options on mount $1"; }
same() {	# WHAT WANT GOT
	[ "$2" = "$3" ] || t_fail "$1: want '$2', got '$3'"
}
# json I FILE: mount I's --json, which must parse, into FILE
json() {
	vo "$1" --json >"$2" || t_fail "volume-options --json on mount $1"
	python3 -m json.tool "$2" >/dev/null || t_fail "--json does not parse: $(cat "$2")"
}
# jval FILE: its data_alloc_zone_blocks ("null" when unset)
jval() {
	python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["data_alloc_zone_blocks"]))' "$1" ||
		t_fail "no data_alloc_zone_blocks in $(cat "$1")"
}

TOTAL=$(t_scoutfs_at "$M0" statfs -s total_data_blocks -p "$M0") || t_fail "statfs"
[ "$TOTAL" -ge 4194304 ] || t_skip "data device of $TOTAL blocks: too small for zones of 1048576"

# === unset on a new volume ===================================================
same "mount 0, new volume" "data_alloc_zone_blocks unset" "$(show 0)"
same "mount 1, new volume" "data_alloc_zone_blocks unset" "$(show 1)"
json 1 "$T_DIR/unset.json"
same "--json unset" null "$(jval "$T_DIR/unset.json")"

# === set on one mount, seen on the other =====================================
vo 0 --set data_alloc_zone_blocks=1048576 >"$T_DIR/set.out" || t_fail "set on mount 0"
[ ! -s "$T_DIR/set.out" ] || t_fail "set printed: $(cat "$T_DIR/set.out")"
same "mount 0 after set" "data_alloc_zone_blocks 1048576" "$(show 0)"
same "mount 1 after set" "data_alloc_zone_blocks 1048576" "$(show 1)"
json 1 "$T_DIR/set.json"
same "--json set" 1048576 "$(jval "$T_DIR/set.json")"
# a change with --json prints the options after it; the whole device is a zone too
vo 1 --set data_alloc_zone_blocks="$TOTAL" --json >"$T_DIR/change.json" || t_fail "set to $TOTAL"
python3 -m json.tool "$T_DIR/change.json" >/dev/null || t_fail "set --json: $(cat "$T_DIR/change.json")"
same "set --json" "$TOTAL" "$(jval "$T_DIR/change.json")"
same "mount 0 after mount 1's set" "data_alloc_zone_blocks $TOTAL" "$(show 0)"
vo 0 -s data_alloc_zone_blocks=1048576 || t_fail "set back to 1048576"

# data goes in and comes back with zones, from both mounts
head -c 1048576 /dev/urandom >"$T_DIR/data"
cp "$T_DIR/data" "$M0/f0" && cp "$T_DIR/data" "$M1/f1" && sync || t_fail "writes with zones"
cmp -s "$T_DIR/data" "$M1/f0" || t_fail "mount 1 reads mount 0's file wrong"
cmp -s "$T_DIR/data" "$M0/f1" || t_fail "mount 0 reads mount 1's file wrong"

# === refused values change nothing ===========================================
RULE="at least the per-mount data target \(4 GiB = 1048576 blocks by default\), at least total_data_blocks/1024.* and at most total_data_blocks"
t_expect_fail "data_alloc_zone_blocks=1048575 refused: it must be $RULE" \
	vo 0 --set data_alloc_zone_blocks=1048575
t_expect_fail "data_alloc_zone_blocks=$((TOTAL + 1)) refused: .*at most total_data_blocks \($TOTAL\)" \
	vo 1 --set data_alloc_zone_blocks=$((TOTAL + 1))
t_expect_fail "refused: it must be" vo 0 --set data_alloc_zone_blocks=0
t_expect_fail "'4G' is not a number" vo 0 --set data_alloc_zone_blocks=4G
t_expect_fail "'' is not a number" vo 0 --set data_alloc_zone_blocks=
t_expect_fail "unknown volume option 'zone_blocks'" vo 0 --set zone_blocks=1048576
t_expect_fail "unknown volume option 'nope'" vo 0 --clear nope
t_expect_fail "needs NAME=VALUE" vo 0 --set data_alloc_zone_blocks
t_expect_fail "both set and cleared" \
	vo 0 --set data_alloc_zone_blocks=1048576 --clear data_alloc_zone_blocks
# a usage error is status 2, a refusal 1; --json prints nothing then
vo 0 --set data_alloc_zone_blocks=abc 2>/dev/null
same "status of a value that is not a number" 2 "$?"
vo 0 --set data_alloc_zone_blocks=1 --json >"$T_DIR/refused.out" 2>/dev/null
same "status of a refused value" 1 "$?"
[ ! -s "$T_DIR/refused.out" ] || t_fail "a refusal printed: $(cat "$T_DIR/refused.out")"
same "mount 0 after refusals" "data_alloc_zone_blocks 1048576" "$(show 0)"
same "mount 1 after refusals" "data_alloc_zone_blocks 1048576" "$(show 1)"

# === only root changes them; anyone reads them ===============================
same "read by uid 65534" "data_alloc_zone_blocks 1048576" \
	"$(nobody env SCOUTFS_RUN_DIR="$T_DIR/run.mnt1" "$SCOUTFS" volume-options -p "$M1")"
t_expect_fail "Operation not permitted" nobody env SCOUTFS_RUN_DIR="$T_DIR/run.mnt1" \
	"$SCOUTFS" volume-options -p "$M1" --set data_alloc_zone_blocks=2097152
t_expect_fail "Operation not permitted" nobody env SCOUTFS_RUN_DIR="$T_DIR/run.mnt0" \
	"$SCOUTFS" volume-options -p "$M0" --clear data_alloc_zone_blocks
same "after uid 65534's attempts" "data_alloc_zone_blocks 1048576" "$(show 1)"

# === clear ===================================================================
vo 1 --clear data_alloc_zone_blocks >"$T_DIR/clear.out" || t_fail "clear on mount 1"
[ ! -s "$T_DIR/clear.out" ] || t_fail "clear printed: $(cat "$T_DIR/clear.out")"
same "mount 0 after clear" "data_alloc_zone_blocks unset" "$(show 0)"
same "mount 1 after clear" "data_alloc_zone_blocks unset" "$(show 1)"
json 0 "$T_DIR/cleared.json"
same "--json after clear" null "$(jval "$T_DIR/cleared.json")"
# clearing what is not set is fine
vo 0 -c data_alloc_zone_blocks || t_fail "clear of an unset option"
vo 0 --help | grep -q -- "--json" || t_fail "--help does not name --json"

# the setting was logged by the mount that asked
grep -q "volume option data_alloc_zone_blocks set to 1048576" "$T_DIR/scoutfsd.mnt0.log" ||
	t_fail "mount 0 did not log the set"

t_cluster_umount
echo "volume-options: shown, set, refused and cleared on both mounts"
