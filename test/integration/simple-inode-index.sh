#!/usr/bin/env bash
# The meta_seq and data_seq inode indexes as `scoutfs walk-inodes` shows
# them (the reference's simple-inode-index, in our words).  Every inode
# has a meta_seq entry at the seq of the transaction of its last metadata
# change, regular files also a data_seq entry at that of their last data
# change; the walk lists only seqs below every open transaction, so an
# entry appears once its transaction commits, and in seq order.  Checked:
# directories are not in data_seq; new files appear after the commit, in
# creation order; uncommitted entries are not listed; unlinked inodes
# leave both indexes; chmod and xattr changes move meta_seq only, writes
# and truncates move both; FIRST/LAST positions bound the walk; hundreds
# of entries come out in order, numbered, with a header every 25 rows,
# each inode once; writes while walking do not stall the walk.
#
# sync(1) does not reach a FUSE daemon: an fsync on the mount commits.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"
D="$M/dir"

commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}

# walk INDEX [FIRST [LAST]]: "major minor ino" per entry, header rows dropped
walk() {
	"$S" walk-inodes "$1" "${2:-0}" "${3:--1}" -p "$M" >"$T_DIR/walk.out" 2>"$T_DIR/walk.err" ||
		t_fail "walk-inodes $*: $(cat "$T_DIR/walk.err")"
	awk '$1 != "#" {print $2, $3, $4}' "$T_DIR/walk.out"
}

# major INDEX INO: the seq of INO's entry in INDEX, empty if none; more than one fails
major() {
	local m
	m=$(walk "$1" | awk -v i="$2" '$3 == i {print $1}')
	[ "$(echo "$m" | grep -c .)" -le 1 ] || t_fail "inode $2 has several $1 entries: $m"
	echo "$m"
}

ino() {
	stat -c %i "$1" || t_fail "stat $1"
}

sfield() {
	"$S" stat -s "$1" "$2" || t_fail "scoutfs stat -s $1 $2"
}

committed() {
	"$S" statfs -s committed_seq -p "$M" || t_fail "statfs"
}

echo "== directories are in meta_seq only"
mkdir "$D"
commit
i=$(ino "$D")
[ "$(major meta_seq "$i")" = "$(sfield meta_seq "$D")" ] ||
	t_fail "directory $i: meta_seq entry '$(major meta_seq "$i")', stat says $(sfield meta_seq "$D")"
[ -z "$(major data_seq "$i")" ] || t_fail "directory $i is in data_seq"
[ "$(sfield data_seq "$D")" = 0 ] || t_fail "directory data_seq $(sfield data_seq "$D")"

echo "== new files appear once committed, in order"
touch "$D/first"
commit
touch "$D/second"
commit
f1=$(ino "$D/first")
f2=$(ino "$D/second")
for idx in meta_seq data_seq; do
	m1=$(major $idx "$f1")
	m2=$(major $idx "$f2")
	[ -n "$m1" ] && [ -n "$m2" ] || t_fail "$idx: first '$m1' second '$m2' after their commits"
	[ "$m1" -lt "$m2" ] || t_fail "$idx: first at $m1, second (a later commit) at $m2"
	[ "$m1" = "$(sfield $idx "$D/first")" ] || t_fail "$idx of first: walk $m1, stat differs"
	# first is listed before second
	walk $idx | awk -v a="$f1" -v b="$f2" '$3 == a { sa = NR } $3 == b { sb = NR }
		END { exit !(sa && sb && sa < sb) }' || t_fail "$idx: second listed before first"
done

echo "== uncommitted entries are not listed"
# A file made just after a commit stays in the open transaction until the
# next one (commits are ~10 s apart): if its seq is still above the
# committed seq after the walk, its transaction was open during the walk,
# which must not have listed it.  (Seqs of one transaction may differ: a
# lock granted for writing raises the seqs of what is written after it.)
seen_dirty=0
for try in 1 2 3 4 5; do
	commit
	touch "$D/dirty$try"
	d=$(ino "$D/dirty$try")
	walk meta_seq >"$T_DIR/dirty.meta"
	walk data_seq >"$T_DIR/dirty.data"
	c=$(committed)
	if [ "$(sfield meta_seq "$D/dirty$try")" -gt "$c" ]; then
		awk -v i="$d" '$3 == i { exit 1 }' "$T_DIR/dirty.meta" "$T_DIR/dirty.data" ||
			t_fail "dirty inode $d was listed while its transaction was open"
		seen_dirty=$((seen_dirty + 1))
	fi
	# whatever was listed is committed
	awk -v c="$c" '$1 > c { exit 1 }' "$T_DIR/dirty.meta" "$T_DIR/dirty.data" ||
		t_fail "walk listed seqs above committed_seq $c"
	[ "$seen_dirty" -lt 2 ] || break
done
[ "$seen_dirty" -ge 1 ] || t_fail "never caught an open transaction in 5 tries"
commit
[ -n "$(major meta_seq "$d")" ] && [ -n "$(major data_seq "$d")" ] ||
	t_fail "inode $d not listed after its commit"

echo "== unlinked inodes leave both indexes"
touch "$D/victim"
v=$(ino "$D/victim")
commit
[ -n "$(major meta_seq "$v")" ] && [ -n "$(major data_seq "$v")" ] || t_fail "victim not listed"
rm "$D/victim"
commit
[ -z "$(major meta_seq "$v")" ] && [ -z "$(major data_seq "$v")" ] ||
	t_fail "unlinked inode $v is still listed"
# a directory too
mkdir "$D/victimdir"
v=$(ino "$D/victimdir")
commit
[ -n "$(major meta_seq "$v")" ] || t_fail "new directory not listed"
rmdir "$D/victimdir"
commit
[ -z "$(major meta_seq "$v")" ] || t_fail "removed directory $v is still listed"

echo "== metadata changes move meta_seq only"
echo "contents" >"$D/file"
f=$(ino "$D/file")
commit
m0=$(major meta_seq "$f")
d0=$(major data_seq "$f")
[ -n "$m0" ] && [ "$m0" = "$d0" ] || t_fail "new file: meta_seq $m0 data_seq $d0"
chmod 600 "$D/file"
commit
m1=$(major meta_seq "$f")
d1=$(major data_seq "$f")
[ "$m1" -gt "$m0" ] || t_fail "chmod: meta_seq $m0 -> $m1"
[ "$d1" = "$d0" ] || t_fail "chmod: data_seq $d0 -> $d1"
[ "$(sfield meta_seq "$D/file")" = "$m1" ] && [ "$(sfield data_seq "$D/file")" = "$d0" ] ||
	t_fail "stat disagrees with the indexes after chmod"
if command -v setfattr >/dev/null; then
	setfattr -n user.seq -v 1 "$D/file" || t_fail "setfattr"
	commit
	m2=$(major meta_seq "$f")
	[ "$m2" -gt "$m1" ] && [ "$(major data_seq "$f")" = "$d0" ] ||
		t_fail "xattr: meta_seq $m1 -> $m2, data_seq $d0 -> $(major data_seq "$f")"
	m1=$m2
fi

echo "== data changes move both"
echo "more" >>"$D/file"
commit
m2=$(major meta_seq "$f")
d2=$(major data_seq "$f")
[ "$m2" -gt "$m1" ] && [ "$d2" -gt "$d0" ] || t_fail "write: meta_seq $m1 -> $m2, data_seq $d0 -> $d2"
[ "$(sfield data_seq "$D/file")" = "$d2" ] || t_fail "stat data_seq after the write"
truncate -s 1 "$D/file"
commit
m3=$(major meta_seq "$f")
d3=$(major data_seq "$f")
[ "$m3" -gt "$m2" ] && [ "$d3" -gt "$d2" ] ||
	t_fail "truncate: meta_seq $m2 -> $m3, data_seq $d2 -> $d3"

echo "== positions bound the walk"
[ "$(walk meta_seq "$m3.0.$f" "$m3.0.$f")" = "$m3 0 $f" ] || t_fail "walk of exactly $m3.0.$f"
walk meta_seq "$m3" "$m3.0.$f" | awk -v i="$f" 'END { exit !($3 == i) }' ||
	t_fail "LAST $m3.0.$f does not end at inode $f"
walk meta_seq "$m3.0.$((f + 1))" -1 | awk -v i="$f" '$3 == i { exit 1 }' ||
	t_fail "FIRST after inode $f listed it"
walk meta_seq 0 "$m3" | awk -v i="$f" '$3 == i { exit 1 }' ||
	t_fail "LAST $m3 (ino 0) listed inode $f at $m3"
walk meta_seq $((m3 + 1)) -1 | awk -v m="$m3" '$1 <= m { exit 1 }' ||
	t_fail "FIRST $((m3 + 1)) listed a smaller seq"
walk data_seq 0 $((m3 - 1)).-1.-1 | awk -v m="$m3" '$1 >= m { exit 1 }' ||
	t_fail "LAST $((m3 - 1)).-1.-1 listed seq $m3 or more"
[ -z "$(walk meta_seq 9 3)" ] || t_fail "FIRST after LAST listed entries"
# -- lets a position start with '-'
"$S" walk-inodes -p "$M" -- meta_seq 0 -1 >/dev/null || t_fail "walk-inodes with --"

echo "== many entries: in order, numbered, a header every 25 rows, each inode once"
mkdir "$D/many"
for n in $(seq 300); do
	echo "$n" >"$D/many/f$n"
done
commit
"$S" walk-inodes meta_seq 0 -1 -p "$M" >"$T_DIR/many" || t_fail "walk-inodes meta_seq"
awk 'function bad(n) { err = n; exit n }
     BEGIN { want = 0; hdr = 0; err = 0 }
     $1 == "#" {
	if ($0 != sprintf("%-20s %-20s %-10s %-20s", "#", "major", "minor", "ino")) bad(1)
	if (want % 25 != 0 || hdr) bad(2)
	hdr = 1; next
     }
     {
	if ($1 != want || (want % 25 == 0) != hdr) bad(3)
	if ($0 != sprintf("%-20d %-20d %-10d %-20d", $1, $2, $3, $4)) bad(4)
	if ($3 != 0) bad(5)
	if (want && ($2 < pm || ($2 == pm && $4 <= pi))) bad(6)
	pm = $2; pi = $4; want++; hdr = 0
     }
     END { if (err) exit err; if (want < 300) exit 7 }' "$T_DIR/many" ||
	t_fail "walk-inodes output wrong (awk check $?): $(head -3 "$T_DIR/many")"
# every inode is listed exactly once, the root too (mkfs puts its META_SEQ
# item at seq 0: its first change must move that one)
awk '$1 != "#" {print $4}' "$T_DIR/many" | sort | uniq -d >"$T_DIR/dups"
[ ! -s "$T_DIR/dups" ] || t_fail "inodes listed more than once: $(tr '\n' ' ' <"$T_DIR/dups")"
for n in 1 150 300; do
	grep -qE " $(ino "$D/many/f$n") +\$" "$T_DIR/many" || t_fail "f$n not listed"
done
"$S" walk-inodes data_seq 0 -1 -p "$M" | awk '$1 != "#"' | wc -l >"$T_DIR/nr"
[ "$(cat "$T_DIR/nr")" -ge 300 ] || t_fail "data_seq lists $(cat "$T_DIR/nr") entries, want 300+"
# --json lists the same entries
"$S" walk-inodes --json meta_seq 0 -1 -p "$M" |
	python3 -c 'import json, sys
for e in json.load(sys.stdin):
    print(e["major"], e["minor"], e["ino"])' >"$T_DIR/many.json" || t_fail "walk-inodes --json"
awk '$1 != "#" {print $2, $3, $4}' "$T_DIR/many" | diff -u - "$T_DIR/many.json" >&2 ||
	t_fail "walk-inodes --json differs from the text"
c=$(committed)
awk -v c="$c" '$1 != "#" && $2 > c { exit 1 }' "$T_DIR/many" || t_fail "seqs above committed $c"

echo "== writes while walking do not stall the walk"
for n in $(seq 20); do
	dd if=/dev/urandom of="$D/dirtying" bs=4k count=1 conv=notrunc status=none ||
		t_fail "dd"
	timeout 10 "$S" walk-inodes data_seq 0 -1 -p "$M" >/dev/null ||
		t_fail "walk-inodes while writing failed or hung"
done

t_umount "$M"
echo "== ok"
