#!/usr/bin/env bash
# A volume written by the metadata engine (mounts of slot 0: quorum,
# server, client over TCP, item cache, transactions, log merging) is read
# by scoutfs print without a single complaint, and the live items print
# lists -- fs_root and the log trees together, the greatest seq of a key
# winning and deletion items hiding older versions -- are exactly the ones
# the engine's model says exist.  Two mounts write in turn: the first
# with a small finalize threshold, so its items are merged into fs_root
# (the second mount merges the first's last tree), the second with the
# default, so its newer items and deletions of merged ones stay in its
# log tree, finalized by its unmount.
. "$(dirname "$0")/../funcs.sh"
: "${SFS_ENGINE:?run through meson test or test/run.sh}"

port=$((20000 + $$ % 20000))
t_images 1G 2G
"$SCOUTFS_MKFS" -A -Q "0,127.0.0.1,$port" "$META" "$DATA" >/dev/null 2>&1 || t_fail "mkfs"
state="$T_DIR/state"
"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 3 --ops 20000 --sync-every 1000 \
	--rid 0x1111 --finalize-items 3000 --merge-poll-ms 50 \
	>"$T_DIR/run.out" 2>&1 || t_fail "engine run: $(cat "$T_DIR/run.out")"
"$SFS_ENGINE" run "$META" "$DATA" "$state" --seed 3 --ops 30000 --sync-every 1000 \
	--rid 0x2222 --merge-poll-ms 50 \
	>"$T_DIR/run.out" 2>&1 || t_fail "engine run: $(cat "$T_DIR/run.out")"

"$SCOUTFS" print "$META" >"$T_DIR/print.out" 2>"$T_DIR/print.err" ||
	t_fail "print exited $?: $(head -5 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -5 "$T_DIR/print.err")"

t_live_fs_keys "$T_DIR/print.out" | grep '^16\.[0-9]*\.8\.' | sort >"$T_DIR/printed"
"$SFS_ENGINE" keys "$META" "$DATA" "$state" --seed 3 | sort >"$T_DIR/model"
[ -s "$T_DIR/model" ] || t_fail "the model has no keys"
if ! diff -q "$T_DIR/model" "$T_DIR/printed" >/dev/null; then
	diff "$T_DIR/model" "$T_DIR/printed" | head -20 >&2
	grep -n "^[^ ]" "$T_DIR/print.out" | head -40 >&2
	t_fail "print lists $(wc -l <"$T_DIR/printed") live items, the model $(wc -l <"$T_DIR/model")"
fi
fs_items=$(awk '/^fs_root btree blkno/ { s = 1; next } /^[^ ]/ { s = 0 }
	s && /^  level / { leaf = ($2 == 0) } s && leaf && /^    16\.[0-9]+\.8\./ { n++ } END { print n + 0 }' \
	"$T_DIR/print.out")
log_items=$(awk '/^ btree blkno/ { s = 1; next } /^[^ ]/ { s = 0 }
	s && /^  level / { leaf = ($2 == 0) } s && leaf && /^    16\.[0-9]+\.8\./ { n++ } END { print n + 0 }' \
	"$T_DIR/print.out")
[ "$fs_items" -gt 1000 ] || t_fail "fs_root holds $fs_items engine items: nothing was merged"
[ "$log_items" -gt 1000 ] || t_fail "the log trees hold $log_items engine items"
echo "engine print: $(wc -l <"$T_DIR/model") items as the model says, $fs_items in fs_root, $log_items in log trees"
