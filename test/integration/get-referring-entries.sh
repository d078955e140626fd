#!/usr/bin/env bash
# get-referring-entries: the directory entries that name an inode (the
# reference's get-referring-entries, in our words; cli-query.sh checks
# the output format against a golden file).  Nothing for the root or for
# inode numbers never used; one entry per name: its directory's inode,
# its position in that directory, its readdir type and its name, ordered
# by directory and position.  Renames within and across directories and
# over an existing name, hard links in many directories, removal (also
# of a file still open), every file type, every name length from 1 to
# 255 bytes, names with spaces, newlines, quotes and UTF-8 (exact in
# --json).  Positions are unique in a directory, grow with each new
# entry (a rename makes a new one) and are the order readdir returns.
# ino-path agrees.  Only root may ask.  All of it survives a remount.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
command -v setpriv >/dev/null || t_fail "setpriv missing (util-linux)"

t_images 2G 4G
t_mkfs
chmod 711 "$T_DIR"	# uid 65534 runs a command: it must reach the mount and run directory
M="$T_DIR/mnt"
t_mount "$M" allow_other
S="$SCOUTFS"

commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}
ino() { stat -c %i "$1" || t_fail "stat $1"; }

# gre INO [--json]: the command's output; it must succeed
gre() {
	"$S" get-referring-entries "$@" -p "$M" 2>"$T_DIR/gre.err" ||
		t_fail "get-referring-entries $*: $(cat "$T_DIR/gre.err")"
}

# entries INO: "DIR-INO TYPE NAME" per entry, from --json (names exact, a
# newline as \n), in the order printed
entries() {
	gre "$1" --json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    print(e["dir"], e["type"], e["name"].encode("unicode_escape").decode())
' || t_fail "get-referring-entries --json $1 is not the JSON expected"
}

# check_order INO: unique positions, ordered by directory then position
check_order() {
	gre "$1" | awk '$1 != "dir" || $3 != "pos" || $5 != "type" || $7 != "name" { bad = 1 }
		{ if (NR > 1 && ($2 < d || ($2 == d && $4 <= p))) bad = 1; d = $2; p = $4 }
		END { exit bad }' || t_fail "entries of $1 not in (dir, pos) order: $(gre "$1")"
}

# pos_of INO NAME: the position of the entry of INO named NAME
pos_of() {
	gre "$1" | awk -v n="$2" '$8 == n && NF == 8 { print $4 }'
}

# --- nothing for the root or unused inode numbers ---------------------------------
for i in 1 4611686018427387904 18446744073709551615 $((1 << 40)); do
	[ -z "$(gre $i)" ] || t_fail "entries for inode $i: $(gre $i)"
	[ "$(gre $i --json | tr -d ' \n')" = "[]" ] || t_fail "--json for inode $i: $(gre $i --json)"
done

mkdir "$M/d0" "$M/d1" || t_fail "mkdir"
D0=$(ino "$M/d0")
D1=$(ino "$M/d1")
[ "$D0" -lt "$D1" ] || t_fail "directory inodes out of order"

# --- one entry, renamed in place, moved, linked, removed ---------------------------
touch "$M/d0/file"
F=$(ino "$M/d0/file")
gre "$F" | grep -Eqx "dir $D0 pos [0-9]+ type 8 name file" || t_fail "basic entry: $(gre "$F")"
[ "$(gre "$F" | wc -l)" = 1 ] || t_fail "basic entry: $(gre "$F")"
p1=$(pos_of "$F" file)
[ "$p1" -gt 0 ] || t_fail "position $p1"
[ "$("$S" ino-path "$F" -p "$M")" = "$M/d0/file" ] || t_fail "ino-path of the basic entry"

mv "$M/d0/file" "$M/d0/renamed"
gre "$F" | grep -Eqx "dir $D0 pos [0-9]+ type 8 name renamed" || t_fail "after rename: $(gre "$F")"
[ "$(gre "$F" | wc -l)" = 1 ] || t_fail "after rename: $(gre "$F")"
p2=$(pos_of "$F" renamed)
[ "$p2" -gt "$p1" ] || t_fail "a renamed entry kept or lowered its position: $p1 then $p2"

mv "$M/d0/renamed" "$M/d1/moved"
gre "$F" | grep -Eqx "dir $D1 pos [0-9]+ type 8 name moved" || t_fail "after a move: $(gre "$F")"
[ "$(gre "$F" | wc -l)" = 1 ] || t_fail "after a move: $(gre "$F")"

ln "$M/d1/moved" "$M/d0/link"
ln "$M/d1/moved" "$M/d1/link2"
[ "$(entries "$F")" = "$D0 8 link
$D1 8 moved
$D1 8 link2" ] || t_fail "hard links: $(gre "$F")"
check_order "$F"
[ "$(pos_of "$F" link2)" -gt "$(pos_of "$F" moved)" ] || t_fail "a later link has a lower position"
[ "$("$S" ino-path "$F" -p "$M" | sort)" = "$(printf '%s\n' "$M/d0/link" "$M/d1/link2" "$M/d1/moved" | sort)" ] ||
	t_fail "ino-path of a linked inode: $("$S" ino-path "$F" -p "$M")"

rm "$M/d1/moved"
[ "$(entries "$F")" = "$D0 8 link
$D1 8 link2" ] || t_fail "after removing one link: $(gre "$F")"
rm "$M/d0/link" "$M/d1/link2"
[ -z "$(gre "$F")" ] || t_fail "entries of a removed file: $(gre "$F")"

# a file still open has no entries once its last name is gone
touch "$M/d0/open"
O=$(ino "$M/d0/open")
exec 7<"$M/d0/open"
rm "$M/d0/open"
[ -z "$(gre "$O")" ] || t_fail "entries of an open, unlinked file: $(gre "$O")"
exec 7<&-

# a rename over an existing name: the old target loses its entry
touch "$M/d0/victim" "$M/d1/src"
V=$(ino "$M/d0/victim")
R=$(ino "$M/d1/src")
mv "$M/d1/src" "$M/d0/victim"
[ -z "$(gre "$V")" ] || t_fail "entries of a file renamed over: $(gre "$V")"
[ "$(entries "$R")" = "$D0 8 victim" ] || t_fail "the file renamed over another: $(gre "$R")"

# --- many directories ---------------------------------------------------------------
touch "$M/d0/multi"
MU=$(ino "$M/d0/multi")
want="$D0 multi"
for i in $(seq 1 12); do
	mkdir "$M/dir-$i"
	ln "$M/d0/multi" "$M/dir-$i/file-$i"
	want+=$'\n'"$(ino "$M/dir-$i") file-$i"
	# a second name in some of them
	if [ $((i % 3)) = 0 ]; then
		ln "$M/d0/multi" "$M/dir-$i/second-$i"
		want+=$'\n'"$(ino "$M/dir-$i") second-$i"
	fi
done
[ "$(entries "$MU" | awk '{print $1, $3}' | sort)" = "$(echo "$want" | sort)" ] ||
	t_fail "entries in many directories: $(gre "$MU")"
check_order "$MU"
[ "$(entries "$MU" | awk '$2 != 8' | wc -l)" = 0 ] || t_fail "types in many directories: $(gre "$MU")"
[ "$("$S" ino-path "$MU" -p "$M" | wc -l)" = "$(gre "$MU" | wc -l)" ] ||
	t_fail "ino-path and get-referring-entries disagree on the number of names"
for p in $("$S" ino-path "$MU" -p "$M"); do
	[ "$(ino "$p")" = "$MU" ] || t_fail "ino-path printed $p, not inode $MU"
done
rm "$M/d0/multi"
[ "$(gre "$MU" | wc -l)" = 16 ] || t_fail "after removing the first name: $(gre "$MU")"

# --- every file type ----------------------------------------------------------------
mkdir "$M/types"
TD=$(ino "$M/types")
touch "$M/types/reg"
mkdir "$M/types/dir"
ln -s reg "$M/types/symlink"
mkfifo "$M/types/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$M/types/sock" ||
	t_fail "bind a socket"
want_types=(reg 8 dir 4 symlink 10 fifo 1 sock 12)
if [ "$(id -u)" = 0 ]; then
	mknod "$M/types/char" c 1 3 || t_fail "mknod c"
	mknod "$M/types/block" b 7 200 || t_fail "mknod b"
	want_types+=(char 2 block 6)
fi
set -- "${want_types[@]}"
while [ $# -gt 0 ]; do
	[ "$(entries "$(ino "$M/types/$1")")" = "$TD $2 $1" ] ||
		t_fail "the $1 entry: $(gre "$(ino "$M/types/$1")")"
	shift 2
done
# a directory has one entry, in its parent, and it moves with it
SUB=$(ino "$M/types/dir")
mkdir "$M/types/dir/child"
mv "$M/types/dir" "$M/d1/dir2"
[ "$(entries "$SUB")" = "$D1 4 dir2" ] || t_fail "a moved directory: $(gre "$SUB")"
[ "$(entries "$D1")" = "1 4 d1" ] || t_fail "a top directory: $(gre "$D1")"

# --- every name length, positions are readdir's order -------------------------------
mkdir "$M/lengths"
LD=$(ino "$M/lengths")
touch "$M/lengths/x"
L=$(ino "$M/lengths/x")
name=""
: >"$T_DIR/names"
for i in $(seq 1 255); do
	name+=$((i % 10))
	echo "$name" >>"$T_DIR/names"
	ln "$M/lengths/x" "$M/lengths/$name" || t_fail "link with a $i byte name"
done
ln "$M/lengths/x" "$M/lengths/${name}z" 2>/dev/null && t_fail "a 256 byte name was linked"
rm "$M/lengths/x"
[ "$(gre "$L" | awk '{print $8}')" = "$(cat "$T_DIR/names")" ] ||
	t_fail "the 255 names of every length: $(gre "$L" | head -3) ..."
[ "$(gre "$L" | awk '{print $2}' | sort -u)" = "$LD" ] || t_fail "directory of the 255 names"
check_order "$L"
python3 -c 'import os, sys; print("\n".join(os.listdir(sys.argv[1])))' "$M/lengths" >"$T_DIR/readdir"
cmp -s "$T_DIR/readdir" "$T_DIR/names" || t_fail "readdir order is not the order of positions"

# --- names with awkward bytes: exact in --json ---------------------------------------
mkdir "$M/odd"
OD=$(ino "$M/odd")
touch "$M/odd/plain"
OI=$(ino "$M/odd/plain")
odd=("with space" $'new\nline' 'quote"and\back' $'tab\there' "ünïcödé ✓" "-dash" ".dot")
for n in "${odd[@]}"; do
	ln "$M/odd/plain" "$M/odd/$n" || t_fail "link named '$n'"
done
gre "$OI" --json | python3 -c '
import json, sys
got = [e["name"] for e in json.load(sys.stdin)]
want = ["plain"] + sys.argv[1:]
assert got == want, (got, want)
' "${odd[@]}" || t_fail "names in --json: $(gre "$OI" --json)"
gre "$OI" | grep -qx "dir $OD pos [0-9]* type 8 name with space" || t_fail "a name with a space: $(gre "$OI")"

# --- only root may ask ----------------------------------------------------------------
t_expect_fail "Operation not permitted" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$S" get-referring-entries "$MU" -p "$M"

# --- it all survives a remount ---------------------------------------------------------
commit
for i in "$MU" "$L" "$OI" "$R" "$SUB"; do
	gre "$i" --json >"$T_DIR/before.$i"
done
t_umount "$M"
t_mount "$M" allow_other
for i in "$MU" "$L" "$OI" "$R" "$SUB"; do
	gre "$i" --json >"$T_DIR/after.$i"
	cmp -s "$T_DIR/before.$i" "$T_DIR/after.$i" || t_fail "entries of $i changed over a remount"
done
[ -z "$(gre "$F")" ] || t_fail "a removed file has entries after remount"
t_umount "$M"
echo "get-referring-entries: ok"
