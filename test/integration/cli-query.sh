#!/usr/bin/env bash
# The scoutfs commands that query a mount through its daemon: statfs, df,
# stat, get-attr-x, ino-path, get-referring-entries, get-allocated-inos,
# counters and walk-inodes, in text and --json, on files with hard links
# in two directories, renamed files and directories, nested directories,
# a symlink and a fifo.  What is the same on every run (names, paths,
# types, sizes, block totals, directory positions, inode numbers as
# names) must equal test/golden/cli-query.out; what varies (fsid, rid,
# seqs, times, free blocks) is checked by its relation to other values.
# Errors: a path outside any scoutfs mount, no daemon for the mount, bad
# arguments (exit 2), and root-only requests made by another user
# ("Operation not permitted").
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
command -v setpriv >/dev/null || t_fail "setpriv missing (util-linux)"

t_images 2G 4G
t_mkfs
chmod 711 "$T_DIR"	# uid 65534 runs some commands: it must reach the run directory
M="$T_DIR/mnt"
t_mount "$M" allow_other
out="$T_DIR/cli-query.out"	# not $T_DIR/out: t_expect_fail writes that
S="$SCOUTFS"

# commit the open transaction: fsync reaches the daemon (sync(1) does not)
commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}

# ---------------------------------------------------------------------
# the files

mkdir -p "$M/d1/sub" "$M/d2" "$M/n1/n2/n3"
before=$(date +%s)
printf 'hello' >"$M/d1/file"
after=$(date +%s)
ln "$M/d1/file" "$M/d2/link"
mv "$M/d1/file" "$M/d1/sub/renamed"
touch "$M/n1/n2/n3/deep"
mv "$M/n1" "$M/top"
ln -s renamed "$M/d1/sub/sym"
mkfifo "$M/d2/fifo"
touch "$M/gone"
gone=$(stat -c %i "$M/gone")
rm "$M/gone"
commit

F=$(stat -c %i "$M/d1/sub/renamed")
declare -A NAME=()
for p in d1 d1/sub d2 top top/n2 top/n2/n3 top/n2/n3/deep d1/sub/renamed d1/sub/sym d2/fifo; do
	i=$(stat -c %i "$M/$p")
	[ -z "${NAME[$i]:-}" ] || continue
	NAME[$i]="<${p##*/}>"
done
[ "${NAME[$F]}" = "<renamed>" ] || t_fail "hard link bookkeeping"
NAME[$gone]="<gone>"	# (the root, 1, is left alone: too many other 1s)

# filt: the mount as MNT and inode numbers as <name of a path of them>
filt() {
	local i args=(-e "s|$M|MNT|g")
	for i in "${!NAME[@]}"; do
		args+=(-e "s/\\b$i\\b/${NAME[$i]}/g")
	done
	sed -E "${args[@]}"
}

# r ARGS...: "$ scoutfs ARGS" and what it prints, both filtered, then its
# exit status unless 0
r() {
	local rc
	echo "\$ scoutfs $*" | filt
	"$S" "$@" >"$T_DIR/r.out" 2>&1
	rc=$?
	filt <"$T_DIR/r.out"
	[ "$rc" -eq 0 ] || echo "exit $rc"
}

# v ARGS...: the output of a command that must succeed
v() {
	"$S" "$@" 2>"$T_DIR/v.err" || t_fail "scoutfs $* failed: $(cat "$T_DIR/v.err")"
}

# flat: JSON on stdin as "path value" lines (numbers exact, times sec.nsec)
flat() {
	python3 -c '
import json, sys
def walk(p, v):
    if isinstance(v, dict):
        if set(v) == {"sec", "nsec"}:
            print("%s %d.%d" % (p, v["sec"], v["nsec"]))
            return
        for k, x in v.items():
            walk(p + "." + k if p else k, x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk("%s[%d]" % (p, i), x)
    else:
        print(p, v)
walk("", json.load(sys.stdin))
'
}

# u64 N: N is a decimal number
u64() {
	[[ "$1" =~ ^[0-9]+$ ]]
}

{
# ---------------------------------------------------------------------
echo "== statfs"
v statfs -p "$M" >"$T_DIR/statfs"
awk '{print $1}' "$T_DIR/statfs"
grep -E '^total_' "$T_DIR/statfs"
fsid=$(v statfs -p "$M" -s fsid)
rid=$(v statfs -p "$M" -s rid)
[[ "$fsid" =~ ^[0-9a-f]{16}$ && "$rid" =~ ^[0-9a-f]{16}$ ]] || t_fail "fsid '$fsid' rid '$rid'"
# the run directory is named fsid.rid
[ -S "$SCOUTFS_RUN_DIR/$fsid.$rid/ctl.sock" ] ||
	t_fail "no run directory $fsid.$rid: $(ls "$SCOUTFS_RUN_DIR")"
for f in fsid rid committed_seq total_meta_blocks total_data_blocks; do
	want=$(awk -v f=$f '$1 == f {print $2}' "$T_DIR/statfs")
	got=$(v statfs -s $f -p "$M")
	[ "$got" = "$want" ] || t_fail "statfs -s $f: '$got', the full output says '$want'"
done
# the field names are padded to 17 columns
grep -qE '^committed_seq {5}[0-9]+$' "$T_DIR/statfs" || t_fail "statfs layout: $(cat "$T_DIR/statfs")"
v statfs --json -p "$M" | flat >"$T_DIR/statfs.json"
awk '{print $1}' "$T_DIR/statfs.json"
python3 - "$T_DIR/statfs" "$T_DIR/statfs.json" <<'PY' || t_fail "statfs --json differs from the text"
import sys
text = dict(l.split() for l in open(sys.argv[1]))
js = dict(l.split() for l in open(sys.argv[2]))
for k in text:
    want = int(text[k], 16) if k in ("fsid", "rid") else int(text[k])
    assert int(js[k]) == want, (k, js[k], text[k])
PY
r statfs --json -s total_data_blocks -p "$M"
commit
committed=$(v statfs -s committed_seq -p "$M")
u64 "$committed" || t_fail "committed_seq '$committed'"
# the mount from $SCOUTFS_MOUNT_PATH, then from the current directory
[ "$(SCOUTFS_MOUNT_PATH="$M/d2" v statfs -s fsid)" = "$fsid" ] || t_fail "SCOUTFS_MOUNT_PATH"
[ "$(cd "$M/top/n2" && v statfs -s fsid)" = "$fsid" ] || t_fail "statfs in the current directory"
[ "$(cd /tmp && SCOUTFS_MOUNT_PATH="$M" v statfs -s rid -p "$M/d1")" = "$rid" ] ||
	t_fail "statfs -p"

# ---------------------------------------------------------------------
echo "== df"
v df -p "$M" >"$T_DIR/df"
v df --json -p "$M" | flat >"$T_DIR/df.json"
awk '{print $1, $2, $3}' "$T_DIR/df"
# Total = Used + Free, Use% = Used * 100 / Total, every cell followed by two spaces
awk 'NR == 1 { if ($0 !~ /^    Type  Size +Total +Used +Free +Use%  $/) exit 1; next }
     { if ($3 != $4 + $5 || $6 != int($4 * 100 / $3) || $0 !~ /  $/) exit 1 }' "$T_DIR/df" ||
	t_fail "df arithmetic or layout: $(cat "$T_DIR/df")"
awk '{print $1}' "$T_DIR/df.json"
python3 - "$T_DIR/df" "$T_DIR/df.json" <<'PY' || t_fail "df --json differs from the text"
import sys
rows = [l.split() for l in open(sys.argv[1])][1:]
js = dict(l.split() for l in open(sys.argv[2]))
for row, k, bs in ((rows[0], "metadata", 65536), (rows[1], "data", 4096)):
    assert int(js[k + ".block_size"]) == bs
    for col, name in ((2, "total"), (3, "used"), (4, "free"), (5, "use_percent")):
        assert int(js[k + "." + name]) == int(row[col]), (k, name)
# the reserve is not free: free + reserved is at most the total
assert int(js["metadata.free"]) + int(js["metadata.reserved"]) <= int(js["metadata.total"])
assert int(js["metadata.reserved"]) > 0
PY
v df -h -p "$M" | awk '{print $1, $2, $3, $4}'
v df -h -p "$M" | awk 'NR > 1 && $0 !~ /^ *[A-Za-z]+ +[0-9]+KB +[0-9]+\.[0-9][0-9] [KMGT]?B +[0-9]+\.[0-9][0-9] [KMGT]?B +[0-9]+\.[0-9][0-9] [KMGT]?B +[0-9]+  $/ { exit 1 }' ||
	t_fail "df -h layout: $(v df -h -p "$M")"

# ---------------------------------------------------------------------
echo "== stat"
v stat "$M/d2/link" >"$T_DIR/stat"
awk '{print $1}' "$T_DIR/stat"
grep -E '^(data_version|online_blocks|offline_blocks) ' "$T_DIR/stat"
ms=$(v stat -s meta_seq "$M/d2/link")
ds=$(v stat -s data_seq "$M/d2/link")
u64 "$ms" && u64 "$ds" || t_fail "stat seqs '$ms' '$ds'"
# committed: at most the committed seq, and written before the rename (meta) changed it
[ "$ds" -gt 0 ] && [ "$ds" -le "$ms" ] && [ "$ms" -le "$committed" ] ||
	t_fail "stat data_seq $ds meta_seq $ms committed_seq $committed"
for f in meta_seq data_seq data_version online_blocks offline_blocks crtime; do
	want=$(awk -v f=$f '$1 == f {print $2}' "$T_DIR/stat")
	got=$(v stat -s $f "$M/d1/sub/renamed")
	[ "$got" = "$want" ] || t_fail "stat -s $f: '$got', the full output says '$want'"
done
crtime=$(v stat -s crtime "$M/d2/link")
[[ "$crtime" =~ ^[0-9]+\.[0-9]+$ ]] || t_fail "crtime '$crtime'"
[ "${crtime%.*}" -ge "$before" ] && [ "${crtime%.*}" -le "$after" ] ||
	t_fail "crtime $crtime not between $before and $after"
v stat --json "$M/d2/link" | flat >"$T_DIR/stat.json"
awk '{print $1}' "$T_DIR/stat.json"
python3 - "$T_DIR/stat" "$T_DIR/stat.json" <<'PY' || t_fail "stat --json differs from the text"
import sys
text = dict(l.split() for l in open(sys.argv[1]))
js = dict(l.split() for l in open(sys.argv[2]))
assert text == js, (text, js)
PY
r stat --json -s offline_blocks "$M/d2/link"
# a directory has no data: its data fields are 0
v stat "$M/top/n2" | awk '$1 ~ /^(data_|online|offline)/'
v stat -s meta_seq "$M/d2/fifo" >/dev/null
r stat -s data_version "$M/d1/sub/sym"

# ---------------------------------------------------------------------
echo "== get-attr-x"
v get-attr-x "$M/d1/sub/renamed" >"$T_DIR/ax"
sed -E 's/: .*//' "$T_DIR/ax"
grep -E '^(data_version|online_blocks|offline_blocks|size|retention|project_id): ' "$T_DIR/ax"
python3 - "$T_DIR/ax" "$T_DIR/stat" "$(stat -c '%Z %.9Z' "$M/d1/sub/renamed")" <<'PY' ||
import sys
ax = dict(l.rstrip("\n").split(": ") for l in open(sys.argv[1]))
st = dict(l.split() for l in open(sys.argv[2]))
for k in ("meta_seq", "data_seq", "data_version", "online_blocks", "offline_blocks", "crtime"):
    assert ax[k] == st[k], (k, ax[k], st[k])
# ctime to the nanosecond, as the kernel's stat sees it ("%llu.%u": nsec not padded)
sec, full = sys.argv[3].split()
nsec = full.split(".")[1]
assert ax["ctime"] == "%s.%d" % (sec, int(nsec)), (ax["ctime"], sys.argv[3])
PY
	t_fail "get-attr-x disagrees with stat"
# one field: its bare value; more: labelled, in the reference's order
r get-attr-x -s "$M/d2/link"
r get-attr-x --size -t -f -p "$M/d2/link"
r get-attr-x -v "$M/top/n2"
[ "$(v get-attr-x -m "$M/d2/link")" = "$ms" ] || t_fail "get-attr-x -m"
[ "$(v get-attr-x -r "$M/d2/link")" = "$crtime" ] || t_fail "get-attr-x -r"
v get-attr-x --json "$M/d2/link" | flat >"$T_DIR/ax.json"
awk '{print $1}' "$T_DIR/ax.json"
python3 - "$T_DIR/ax" "$T_DIR/ax.json" <<'PY' || t_fail "get-attr-x --json differs from the text"
import sys
text = dict(l.rstrip("\n").split(": ") for l in open(sys.argv[1]))
js = dict(l.split() for l in open(sys.argv[2]))
assert text == js, (text, js)
PY
r get-attr-x --json -c -s "$M/top/n2/n3/deep" | sed -E 's/"(sec|nsec)": [0-9]+/"\1": N/'

# ---------------------------------------------------------------------
echo "== ino-path"
r ino-path "$F" -p "$M"
r ino-path --json "$F" -p "$M"
r ino-path "$(stat -c %i "$M/top/n2/n3/deep")" -p "$M"
r ino-path "$(stat -c %i "$M/top/n2")" -p "$M/d1"
r ino-path "$(stat -c %i "$M/d2/fifo")" -p "$M"
r ino-path 1 -p "$M"
r ino-path "$gone" -p "$M"
r ino-path --json "$gone" -p "$M"
# every path printed leads to the inode
for p in $(v ino-path "$F" -p "$M"); do
	[ "$(stat -c %i "$p")" = "$F" ] || t_fail "ino-path printed $p, which is not inode $F"
done

# ---------------------------------------------------------------------
echo "== get-referring-entries"
r get-referring-entries "$F" -p "$M"
r get-referring-entries --json "$F" -p "$M"
r get-referring-entries "$(stat -c %i "$M/top/n2")" -p "$M"
r get-referring-entries "$(stat -c %i "$M/d1/sub/sym")" -p "$M"
r get-referring-entries "$(stat -c %i "$M/d2/fifo")" -p "$M"
r get-referring-entries 1 -p "$M"
r get-referring-entries "$gone" -p "$M"
# a new link shows up, a removed one goes
ln "$M/d2/link" "$M/top/n2/third"
r get-referring-entries "$F" -p "$M"
rm "$M/d2/link"
r ino-path "$F" -p "$M"

# ---------------------------------------------------------------------
echo "== get-allocated-inos"
group=$((F / 1024 * 1024))
v get-allocated-inos -i "$group" -p "$M" >"$T_DIR/gai"
# every inode we made, in order, and nothing else (the group holds all of them)
for p in d1 d1/sub d2 top top/n2 top/n2/n3 top/n2/n3/deep d1/sub/renamed d1/sub/sym d2/fifo; do
	stat -c %i "$M/$p"
done | sort -n -u >"$T_DIR/gai.want"
diff -u "$T_DIR/gai.want" "$T_DIR/gai" >&2 || t_fail "get-allocated-inos -i $group"
filt <"$T_DIR/gai" | tr '\n' ' '
echo
r get-allocated-inos -i 0 -p "$M"
r get-allocated-inos -i "$F" -s -p "$M"
r get-allocated-inos --single --ino "$gone" -p "$M"
r get-allocated-inos -s -i "$gone" --json -p "$M"
# from INO to the end of its group only
last=$(tail -1 "$T_DIR/gai")
[ "$(v get-allocated-inos -i "$last" -p "$M")" = "$last" ] || t_fail "get-allocated-inos -i $last"
[ -z "$(v get-allocated-inos -i $((group + 1024)) -p "$M")" ] || t_fail "an empty group listed inodes"
v get-allocated-inos --json -i "$group" -p "$M" | flat | awk '{print $2}' |
	diff -u "$T_DIR/gai" - >&2 || t_fail "get-allocated-inos --json differs from the text"

# ---------------------------------------------------------------------
echo "== counters"
v counters -p "$M" >"$T_DIR/ctr"
awk '{print $1}' "$T_DIR/ctr" >"$T_DIR/ctr.names"
LC_ALL=C sort -c "$T_DIR/ctr.names" || t_fail "counters are not in name order"
[ "$(wc -l <"$T_DIR/ctr.names")" -ge 10 ] || t_fail "only $(wc -l <"$T_DIR/ctr.names") counters"
grep -qx ctl_requests "$T_DIR/ctr.names" || t_fail "no ctl_requests counter"
# names left aligned, values right aligned, one space between the widest of each
awk '{ n = length($1) > n ? length($1) : n; v = length($2) > v ? length($2) : v; l[NR] = $0 }
     END { for (i in l) if (length(l[i]) != n + 1 + v) exit 1 }' "$T_DIR/ctr" ||
	t_fail "counters layout"
v counters --json -p "$M" | flat | awk '{print $1}' | diff -u "$T_DIR/ctr.names" - >&2 ||
	t_fail "counters --json names differ from the text"
COLUMNS=100 v counters -t -p "$M" >"$T_DIR/ctr.t"
awk 'length($0) > 100 { exit 1 }' "$T_DIR/ctr.t" || t_fail "counters -t wider than 100"
[ "$(wc -l <"$T_DIR/ctr.t")" -lt "$(wc -l <"$T_DIR/ctr")" ] || t_fail "counters -t made no columns"
awk '{ for (i = 1; i < NF; i += 2) print $i }' "$T_DIR/ctr.t" | LC_ALL=C sort |
	diff -u "$T_DIR/ctr.names" - >&2 || t_fail "counters -t lost counters"
denied=$(v counters --json -p "$M" | flat | awk '$1 == "ctl_denied" {print $2}')

# ---------------------------------------------------------------------
echo "== walk-inodes"
commit
v walk-inodes meta_seq 0 -1 -p "$M" >"$T_DIR/walk"
head -1 "$T_DIR/walk"
# every inode once, root included (the index may hold more than one entry
# of the root: see the note in simple-inode-index.sh)
awk 'NR > 1 && $1 != "#" {print $4}' "$T_DIR/walk" | sort -n -u >"$T_DIR/walk.inos"
(echo 1; cat "$T_DIR/gai") | sort -n -u | diff -u - "$T_DIR/walk.inos" >&2 ||
	t_fail "walk-inodes meta_seq does not list every inode"
v walk-inodes data_seq 0 -1 -p "$M" | awk 'NR > 1 {print $4}' | filt
v walk-inodes --json data_seq 0 -1 -p "$M" | filt | sed -E 's/"major": [0-9]+/"major": N/'
r walk-inodes meta_seq 5 3 -p "$M"
r walk-inodes --json meta_seq 5 3 -p "$M"

# ---------------------------------------------------------------------
echo "== errors"
r statfs -p /tmp
r stat /tmp
r get-attr-x -m /
r ino-path "$F" -p /tmp
SCOUTFS_MOUNT_PATH=/tmp r df
(cd /tmp && r counters)
r stat "$M/d1/missing"
r walk-inodes meta_seq 0 -1 -p "$M/d1/missing"
# a run directory without this mount's daemon
mkdir "$T_DIR/norun"
SCOUTFS_RUN_DIR="$T_DIR/norun" r statfs -p "$M"
t_expect_fail '^scoutfs statfs: /tmp: not in a scoutfs mount$' "$S" statfs -p /tmp
t_expect_fail '^scoutfs ino-path: .*: no such entry, or no daemon serves the mount$' \
	env SCOUTFS_RUN_DIR="$T_DIR/norun" "$S" ino-path 1 -p "$M"

echo "== usage errors"
r statfs extra
r statfs -s nosuchfield
r statfs -p
r statfs --bogus
r df -x
r stat
r stat "$M/d1" "$M/d2"
r stat -s size "$M/d1"
r get-attr-x
r get-attr-x -z "$M/d1"
r walk-inodes
r walk-inodes ctime 0 -1
r walk-inodes meta_seq 0
r walk-inodes meta_seq 0 -1 9
r walk-inodes meta_seq x -1
r walk-inodes meta_seq 0 1.2.3.4
r walk-inodes meta_seq 0 1.4294967296
r walk-inodes meta_seq 0 -1 -p
r walk-inodes meta_seq 0 -1 --bogus
r ino-path
r ino-path 0
r ino-path 12x
r ino-path 1 2
r get-referring-entries
r get-referring-entries -1
r get-allocated-inos
r get-allocated-inos -i
r get-allocated-inos -i abc
r get-allocated-inos -i 1 extra
r counters -x
for c in statfs df stat get-attr-x walk-inodes ino-path get-referring-entries get-allocated-inos counters; do
	"$S" $c --help >"$T_DIR/help" 2>&1 || t_fail "$c --help failed"
	head -1 "$T_DIR/help"
done

echo "== not root"
nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
for c in "ino-path $F" "get-referring-entries $F" "get-allocated-inos -i $F"; do
	echo "\$ nobody scoutfs $c" | filt
	nobody "$S" $c -p "$M" 2>&1 | filt
	echo "exit ${PIPESTATUS[0]}"
done
t_expect_fail '^scoutfs ino-path: inode [0-9]+: Operation not permitted$' nobody "$S" ino-path "$F" -p "$M"
# the others need no privilege
nobody "$S" statfs -s fsid -p "$M" | grep -qx "$fsid" || t_fail "statfs as nobody"
nobody "$S" stat -s data_version "$M/d1/sub/renamed" | grep -qx 1 || t_fail "stat as nobody"
nobody "$S" walk-inodes meta_seq 0 -1 -p "$M" >/dev/null || t_fail "walk-inodes as nobody"
# the daemon counted the refusals (3 above, 1 in t_expect_fail)
denied2=$(v counters --json -p "$M" | flat | awk '$1 == "ctl_denied" {print $2}')
[ "$denied2" -eq $((denied + 4)) ] || t_fail "ctl_denied went from $denied to $denied2"
} >"$out"
t_umount "$M"

# format version 1 has no retention or project ID: get-attr-x leaves them
# out, or fails when they are asked for by name
t_images 2G 4G
t_mkfs -V 1
t_mount "$M"
touch "$M/v1file"
{
echo "== format version 1"
v get-attr-x "$M/v1file" | sed -E 's/: .*//'
r get-attr-x -s -t "$M/v1file"
r get-attr-x -p "$M/v1file"
r get-attr-x --json -s -v "$M/v1file"
} >>"$out"
t_umount "$M"

t_golden cli-query "$out"
