#!/usr/bin/env bash
# `scoutfs print` of a volume with corrupt blocks: every block is checked
# on the way in, a block that fails is named on stderr with its block
# number, everything else is still printed, and the exit status says so.
# Corrupted here: a byte inside the fs_root leaf (LG blkno 2), one inside
# the quorum block of slot 1 (SM blkno 18), and the magic of the
# server_meta_avail[0] list block (LG blkno 3), with its crc left stale.
. "$(dirname "$0")/../funcs.sh"

poke() {	# FILE OFFSET BYTE(hex)
	printf '%b' "\\x$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none ||
		t_fail "cannot write $1 at $2"
}

t_images 1G 2G
"$SCOUTFS_MKFS" -A -Q 0,127.0.0.1,42000 -Q 1,127.0.0.1,42001 "$META" "$DATA" \
	>"$T_DIR/mkfs.out" 2>&1 || t_fail "mkfs failed: $(cat "$T_DIR/mkfs.out")"

"$SCOUTFS" print "$META" >"$T_DIR/clean.out" 2>&1 || t_fail "print of the clean volume failed"

poke "$META" $((131072 + 5000)) 5a		# fs_root leaf, in its free space
poke "$META" $((18 * 4096 + 1000)) 5a		# quorum slot 1, in its zero padding
poke "$META" $((3 * 65536 + 4)) 00		# alloc list block magic

"$SCOUTFS" print "$META" >"$T_DIR/out" 2>"$T_DIR/err"
rc=$?
[ "$rc" -eq 1 ] || t_fail "print of a corrupt volume exited $rc, expected 1 ($(cat "$T_DIR/err"))"

grep -q 'blkno 2:' "$T_DIR/err" || t_fail "stderr does not name the fs_root leaf: $(cat "$T_DIR/err")"
grep -q 'blkno 18:' "$T_DIR/err" || t_fail "stderr does not name quorum block 18: $(cat "$T_DIR/err")"
grep -q 'blkno 3:' "$T_DIR/err" || t_fail "stderr does not name list block 3: $(cat "$T_DIR/err")"
grep -q 'crc' "$T_DIR/err" || t_fail "stderr does not say the crc is wrong: $(cat "$T_DIR/err")"

# everything else is still there, the bad blocks are not
for want in '^super blkno 16$' '^quorum blkno 17 \(slot 0\)$' '^quorum blkno 19 \(slot 2\)$' \
	'^meta_alloc\[0\] btree blkno 1029$' '^meta_alloc\[1\] btree blkno 1030$' \
	'^data_alloc btree blkno 1028$' '^    free extent: blkno 64 len 524224 end 524287$'; do
	grep -Eq "$want" "$T_DIR/out" || t_fail "stdout lost '$want'"
done
for unwanted in '^quorum blkno 18 ' '^fs_root btree' 'alloc_list_block blkno 3'; do
	grep -Eq "$unwanted" "$T_DIR/out" && t_fail "stdout printed corrupt block '$unwanted'"
done

# the clean parts print exactly as before: the output is the clean output
# without the three blocks' sections
awk '/^[^ ]/ { skip = /^quorum blkno 18 / || /^fs_root btree/ || / alloc_list_block blkno 3$/ }
     !skip' "$T_DIR/clean.out" >"$T_DIR/clean.kept"
diff -u "$T_DIR/clean.kept" "$T_DIR/out" >&2 || t_fail "the intact blocks printed differently"

# a super block that fails its crc stops print with a message naming it
poke "$META" $((16 * 4096 + 3000)) 5a
"$SCOUTFS" print "$META" >"$T_DIR/out2" 2>"$T_DIR/err2" && t_fail "print with a corrupt super succeeded"
grep -q 'super block blkno 16' "$T_DIR/err2" || t_fail "stderr does not name the super: $(cat "$T_DIR/err2")"

# not a scoutfs device at all
truncate -s 1M "$T_DIR/zero.img"
"$SCOUTFS" print "$T_DIR/zero.img" >"$T_DIR/out3" 2>"$T_DIR/err3" && t_fail "print of zeros succeeded"
grep -q "super block blkno 16 .*zeros" "$T_DIR/err3" ||
	t_fail "print of zeros said '$(cat "$T_DIR/err3")'"

exit 0
