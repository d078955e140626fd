#!/usr/bin/env bash
# A volume written by the metadata engine (a mount of slot 0: quorum,
# server, client over TCP, item cache, transactions) is read by scoutfs
# print without a single complaint, and the items print lists in the
# mount's log tree are exactly the ones the engine's model says exist
# (deletion items aside).
. "$(dirname "$0")/../funcs.sh"
: "${SFS_ENGINE:?run through meson test or test/run.sh}"

port=$((20000 + $$ % 20000))
t_images 1G 2G
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$port" "$META" "$DATA" >/dev/null 2>&1 || t_fail "mkfs"
state="$T_DIR/state"
"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 3 --ops 30000 --sync-every 1000 \
	>"$T_DIR/run.out" 2>&1 || t_fail "engine run: $(cat "$T_DIR/run.out")"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -5 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -5 "$T_DIR/print.err")"

# the items of the log tree: key lines under the log tree's item btree
# (print names a log tree's item btree with an empty name: " btree blkno N")
awk '/^[^ ]/ || /^ btree blkno/ { inlog = /^ btree blkno/ }
     inlog && /^  level / { leaf = ($2 == 0) }
     inlog && leaf && /^    [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ [0-9]+ -$/ { print $1 }' \
	"$T_DIR/print.out" | sort >"$T_DIR/printed"
"$SFS_ENGINE" keys "$META" "$DATA" "$state" --seed 3 | sort >"$T_DIR/model"
[ -s "$T_DIR/model" ] || t_fail "the model has no keys"
if ! diff -q "$T_DIR/model" "$T_DIR/printed" >/dev/null; then
	diff "$T_DIR/model" "$T_DIR/printed" | head -20 >&2
	grep -n "^[^ ]" "$T_DIR/print.out" | head -40 >&2
	t_fail "print lists $(wc -l <"$T_DIR/printed") live items, the model $(wc -l <"$T_DIR/model")"
fi
echo "engine print: $(wc -l <"$T_DIR/model") items as the model says"
