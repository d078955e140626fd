#!/usr/bin/env bash
# --json of the commands that change things or answer with a count:
# release, stage, data-wait-err, punch-offline, move-blocks, setattr,
# set-attr-x, quota-add, quota-del, quota-list, quota-wipe and
# quota-restore.  Each prints one JSON value on stdout (parsed here with
# python3's json module): an object of what it did, with the file, range
# and numbers it used or got (checked against what the file looks like
# afterwards), {"waiters": N} for data-wait-err (0 with nobody waiting, 1
# with one direct reader, which gets EIO), the rules as an array of
# objects for quota-list (sorted and -U, each matching the text's line),
# {"deleted": N} and {"added": N} for quota-wipe and quota-restore.
# Without --json the text output is what it was: nothing for the commands
# that only change things, "data_wait_err found N waiters." and the rule
# lines.  On an error --json prints nothing on stdout and the same
# message and exit status as without it.  Every --help names --json.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"

t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"
A="$T_DIR/archive"
mkdir -p "$A"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }

# j OUT ARGS...: scoutfs ARGS --json must succeed, silent on stderr; its
# stdout goes to OUT
j() {
	local o=$1
	shift
	"$S" "$@" --json >"$o" 2>"$T_DIR/j.err" ||
		t_fail "scoutfs $* --json failed: $(cat "$T_DIR/j.err")"
	[ ! -s "$T_DIR/j.err" ] || t_fail "scoutfs $* --json wrote to stderr: $(cat "$T_DIR/j.err")"
}

# check FILE EXPR...: FILE holds exactly one JSON value (then a newline),
# v; every python EXPR of v (and the variables in $T_DIR/vars.json) is true
check() {
	python3 - "$T_DIR/vars.json" "$@" <<'PY' || t_fail "JSON check of $(basename "$1") failed"
import json, sys
env = json.load(open(sys.argv[1]))
env["json"] = json
text = open(sys.argv[2]).read()
if not text.endswith("}\n") and not text.endswith("]\n"):
    sys.exit("%s: not one JSON value and a newline: %r" % (sys.argv[2], text))
env["v"] = json.loads(text)	# refuses anything after the value
for e in sys.argv[3:]:
    if not eval(e, env):
        sys.exit("%s: '%s' is false for %s" % (sys.argv[2], e, text))
PY
}

# var NAME VALUE: NAME is VALUE (a number if it is one) in check's expressions
echo '{}' >"$T_DIR/vars.json"
var() {
	python3 - "$T_DIR/vars.json" "$1" "$2" <<'PY' || t_fail "var $1"
import json, sys
p, k, v = sys.argv[1:]
d = json.load(open(p))
d[k] = int(v) if v.isdigit() else v
json.dump(d, open(p, "w"))
PY
}

# silent ARGS...: scoutfs ARGS succeeds and prints nothing (its text output)
silent() {
	"$S" "$@" >"$T_DIR/s.out" 2>"$T_DIR/s.err" || t_fail "scoutfs $* failed: $(cat "$T_DIR/s.err")"
	[ ! -s "$T_DIR/s.out" ] || t_fail "scoutfs $* printed '$(cat "$T_DIR/s.out")'"
}

# same_err ARGS...: scoutfs ARGS fails; with --json it fails the same way
# (exit status, stderr) and prints nothing on stdout
same_err() {
	local rc1 rc2
	"$S" "$@" >"$T_DIR/e1.out" 2>"$T_DIR/e1.err"
	rc1=$?
	"$S" "$@" --json >"$T_DIR/e2.out" 2>"$T_DIR/e2.err"
	rc2=$?
	[ "$rc1" -ne 0 ] || t_fail "scoutfs $* succeeded"
	[ "$rc1" = "$rc2" ] || t_fail "scoutfs $*: exit $rc1, with --json $rc2"
	[ -s "$T_DIR/e1.err" ] || t_fail "scoutfs $*: no error message"
	cmp -s "$T_DIR/e1.err" "$T_DIR/e2.err" ||
		t_fail "scoutfs $*: '$(cat "$T_DIR/e1.err")', with --json '$(cat "$T_DIR/e2.err")'"
	[ ! -s "$T_DIR/e2.out" ] || t_fail "scoutfs $* --json printed '$(cat "$T_DIR/e2.out")' on an error"
}

# wait (up to 10 s) until data-waiting lists inode $1
wait_listed() {
	local i
	for i in $(seq 200); do
		"$S" data-waiting -I 0 -B 0 -p "$M" | grep -q "^ino $1 " && return 0
		sleep 0.05
	done
	t_fail "no waiter of inode $1 listed: $("$S" data-waiting -I 0 -B 0 -p "$M")"
}

# --- --help ---------------------------------------------------------------------
for c in release stage data-wait-err punch-offline move-blocks setattr set-attr-x \
	quota-add quota-del quota-list quota-wipe quota-restore volume-options quorum fence-requests; do
	"$S" $c --help >"$T_DIR/help" 2>&1 || t_fail "$c --help failed"
	head -1 "$T_DIR/help" | grep -q -- '\[--json\]$' || t_fail "$c usage: $(head -1 "$T_DIR/help")"
	grep -q -- '^ *--json ' "$T_DIR/help" || t_fail "$c --help does not describe --json"
done

# --- release, stage -------------------------------------------------------------
F="$M/file"
size=$((1024 * 1024 + 100))
head -c $size /dev/urandom >"$A/file"
cp "$A/file" "$F" || t_fail "copy in"
vers=$(field "$F" data_version)
var F "$F"
var A "$A/file"
var vers "$vers"
var size $size

j "$T_DIR/rel1" release "$F" -V "$vers" -o 4K -l 8K
check "$T_DIR/rel1" 'v == {"file": F, "offset": 4096, "length": 8192, "data_version": vers}'
[ "$(field "$F" offline_blocks)" = 2 ] || t_fail "release -o 4K -l 8K: $(field "$F" offline_blocks) offline"
# the whole file: the length rounded up to a block
j "$T_DIR/rel2" release "$F" -V "$vers"
check "$T_DIR/rel2" 'v == {"file": F, "offset": 0, "length": 1052672, "data_version": vers}' \
	'v["length"] % 4096 == 0 and v["length"] >= size'
[ "$(field "$F" offline_blocks)" = 257 ] || t_fail "offline blocks: $(field "$F" offline_blocks)"
[ "$(field "$F" online_blocks)" = 0 ] || t_fail "online blocks: $(field "$F" online_blocks)"
silent release "$F" -V "$vers"

# a part, then the rest: staged is the length asked for
j "$T_DIR/stg1" stage "$A/file" "$F" -V "$vers" -o 64K -l 128K
check "$T_DIR/stg1" 'v == {"archive": A, "file": F, "offset": 65536, "length": 131072,
                           "data_version": vers, "staged": 131072}'
[ "$(field "$F" online_blocks)" = 32 ] || t_fail "online blocks after a partial stage"
silent stage "$A/file" "$F" -V "$vers" -o 0 -l 64K
j "$T_DIR/stg2" stage "$A/file" "$F" -V "$vers" -o 192K
check "$T_DIR/stg2" 'v["staged"] == v["length"] == size - 196608' 'v["offset"] == 196608' \
	'v["file"] == F and v["archive"] == A and v["data_version"] == vers'
cmp "$F" "$A/file" || t_fail "the staged file differs from the archive"
[ "$(field "$F" offline_blocks)" = 0 ] || t_fail "offline blocks after the stages"
# a whole file at once, the default length (to the size, not rounded)
silent release "$F" -V "$vers"
j "$T_DIR/stg3" stage "$A/file" "$F" -V "$vers"
check "$T_DIR/stg3" 'v["staged"] == v["length"] == size' 'v["offset"] == 0'
cmp "$F" "$A/file" || t_fail "the file staged whole differs from the archive"

# errors: a stale version
same_err release "$F" -V $((vers + 1))
grep -q "Stale file handle" "$T_DIR/e2.err" || t_fail "release error: $(cat "$T_DIR/e2.err")"
same_err stage "$A/file" "$F" -V $((vers + 1))
same_err release "$F"
same_err stage "$A/file" "$M/missing" -V 1

# --- data-wait-err --------------------------------------------------------------
G="$M/waited"
head -c $((64 * 1024)) /dev/urandom >"$G"
gino=$(stat -c %i "$G")
silent release "$G" -V "$(field "$G" data_version)"
# nobody waits: 0, and the text says so
j "$T_DIR/dwe0" data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 5 -p "$M"
check "$T_DIR/dwe0" 'v == {"waiters": 0}'
"$S" data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 5 -p "$M" >"$T_DIR/dwe0.txt" ||
	t_fail "data-wait-err"
[ "$(cat "$T_DIR/dwe0.txt")" = "data_wait_err found 0 waiters." ] ||
	t_fail "data-wait-err text: '$(cat "$T_DIR/dwe0.txt")'"
# one direct reader of one block waits: 1, and it gets the error
timeout 60 dd if="$G" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>"$T_DIR/g.err" &
reader=$!
wait_listed "$gino"
j "$T_DIR/dwe1" data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 5 -p "$M"
check "$T_DIR/dwe1" 'v == {"waiters": 1}'
wait "$reader" && t_fail "the reader succeeded after data-wait-err"
grep -q "Input/output error" "$T_DIR/g.err" || t_fail "the reader's error: $(cat "$T_DIR/g.err")"
# the text with a waiter (another file: the error above lingers on its blocks)
H="$M/waited2"
head -c $((64 * 1024)) /dev/urandom >"$H"
hino=$(stat -c %i "$H")
silent release "$H" -V "$(field "$H" data_version)"
timeout 60 dd if="$H" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null &
reader=$!
wait_listed "$hino"
"$S" data-wait-err -I "$hino" -V 0 -F 0 -C 1G -O read -E 5 -p "$M" >"$T_DIR/dwe1.txt" ||
	t_fail "data-wait-err"
[ "$(cat "$T_DIR/dwe1.txt")" = "data_wait_err found 1 waiters." ] ||
	t_fail "data-wait-err text: '$(cat "$T_DIR/dwe1.txt")'"
wait "$reader" && t_fail "the second reader succeeded after data-wait-err"
# errors: usage (exit 2), a path outside any mount (exit 1)
same_err data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 0 -p "$M"
same_err data-wait-err -I "$gino" -V 0 -F 0 -C 1G -O read -E 5 -p /tmp

# --- punch-offline --------------------------------------------------------------
P="$M/punched"
head -c $((64 * 1024)) /dev/urandom >"$P"
pv=$(field "$P" data_version)
var P "$P"
var pv "$pv"
silent release "$P" -V "$pv"
j "$T_DIR/punch" punch-offline "$P" -V "$pv" -o 16K -l 32K
check "$T_DIR/punch" 'v == {"file": P, "offset": 16384, "length": 32768, "data_version": pv}'
[ "$(field "$P" offline_blocks)" = 8 ] || t_fail "offline after punch: $(field "$P" offline_blocks)"
silent punch-offline "$P" -V "$pv" -o 0 -l 16K
[ "$(field "$P" offline_blocks)" = 4 ] || t_fail "offline after the text punch"
same_err punch-offline "$P" -V "$pv" -o 100 -l 4K
same_err punch-offline "$P" -V $((pv + 1)) -o 48K -l 16K

# --- move-blocks ----------------------------------------------------------------
X="$M/from"
Y="$M/to"
head -c $((32 * 1024)) /dev/urandom >"$A/from"
cp "$A/from" "$X"
: >"$Y"
var X "$X"
var Y "$Y"
j "$T_DIR/move" move-blocks "$X" -f 8K -l 16K "$Y" -t 4K
check "$T_DIR/move" 'v == {"from": X, "from_offset": 8192, "length": 16384, "to": Y, "to_offset": 4096}'
cmp -i 8192:4096 -n 16384 "$A/from" "$Y" || t_fail "the moved blocks"
[ "$(stat -c %s "$Y")" = $((20 * 1024)) ] || t_fail "size after move: $(stat -c %s "$Y")"
silent move-blocks "$X" -f 0 -l 8K "$Y" -t 20K
cmp -n 8192 "$A/from" <(tail -c +$((20 * 1024 + 1)) "$Y") || t_fail "the blocks moved by the text move"
same_err move-blocks "$X" -f 100 -l 4K "$Y" -t 0
same_err move-blocks "$X" -f 24K -l 4K "$G" -t 0	# offline data in the destination

# --- setattr --------------------------------------------------------------------
N="$M/restored"
touch "$N"
var N "$N"
j "$T_DIR/sa" setattr "$N" -V 5 -s 1M -o -t 1234.5678
check "$T_DIR/sa" 'v == {"file": N, "data_version": 5, "size": 1048576, "offline": True,
                         "ctime": {"sec": 1234, "nsec": 5678}, "crtime": {"sec": 1234, "nsec": 5678}}'
j "$T_DIR/sa.ax" get-attr-x "$N"
check "$T_DIR/sa.ax" 'v["data_version"] == 5 and v["size"] == 1048576 and v["offline_blocks"] == 256' \
	'v["ctime"] == {"sec": 1234, "nsec": 5678} and v["crtime"] == v["ctime"]'
# no options: size 0, data version 0, not offline, now (what the file then has)
N2="$M/restored2"
touch "$N2"
var N2 "$N2"
j "$T_DIR/sa2" setattr "$N2"
j "$T_DIR/sa2.ax" get-attr-x -c "$N2"
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["ctime"]))' \
	"$T_DIR/sa2.ax" >"$T_DIR/sa2.ctime" || t_fail "get-attr-x -c --json"
var ct "$(cat "$T_DIR/sa2.ctime")"
check "$T_DIR/sa2" 'v == {"file": N2, "data_version": 0, "size": 0, "offline": False,
                          "ctime": json.loads(ct), "crtime": json.loads(ct)}' 'v["ctime"]["sec"] > 0'
N3="$M/restored3"
touch "$N3"
silent setattr "$N3" -V 2 -s 8K
[ "$(stat -c %s "$N3")" = 8192 ] || t_fail "text setattr size"
same_err setattr "$N3" -V 0
same_err setattr "$N3" -V 3 -s 4K	# its data version is no longer 0
same_err setattr "$M" -V 3

# --- set-attr-x -----------------------------------------------------------------
Z="$M/attrs"
touch "$Z"
var Z "$Z"
j "$T_DIR/sax" set-attr-x "$Z" -v 3 -s 8K -o -c 100.5 -r 200.6 -t 0 -p 42
check "$T_DIR/sax" 'v == {"file": Z, "data_version": 3, "ctime": {"sec": 100, "nsec": 5},
                          "crtime": {"sec": 200, "nsec": 6}, "size": 8192, "offline": True,
                          "retention": 0, "project_id": 42}'
j "$T_DIR/sax.ax" get-attr-x "$Z"
check "$T_DIR/sax.ax" 'v["data_version"] == 3 and v["size"] == 8192 and v["offline_blocks"] == 2' \
	'v["crtime"] == {"sec": 200, "nsec": 6} and v["project_id"] == 42 and v["retention"] == 0'
# only what is named; -m (accepted, ignored) is not something set
j "$T_DIR/sax2" set-attr-x "$Z" -p 7 -m 9
check "$T_DIR/sax2" 'v == {"file": Z, "project_id": 7}'
[ "$("$S" get-attr-x -p "$Z")" = 7 ] || t_fail "set-attr-x -p 7"
j "$T_DIR/sax3" set-attr-x "$Z"
check "$T_DIR/sax3" 'v == {"file": Z}'
silent set-attr-x "$Z" -p 8
silent set-attr-x "$Z"
[ "$("$S" get-attr-x -p "$Z")" = 8 ] || t_fail "text set-attr-x -p 8"
same_err set-attr-x "$Z" -v 0
same_err set-attr-x "$Z" -s 4K -v 4	# its data version is no longer 0
same_err set-attr-x "$Z" -t 2

# --- quota rules ----------------------------------------------------------------
R1="7 13,L,- 15,L,- 17,L,- I 33 -"
R2="9 3,U,S 4,G,S 0,P,- D 1000 C"
j "$T_DIR/qa1" quota-add -p "$M" -r "$R1"
check "$T_DIR/qa1" 'v == {"prio": 7, "a": {"value": 13, "source": "L", "flag": "-"},
                          "b": {"value": 15, "source": "L", "flag": "-"},
                          "c": {"value": 17, "source": "L", "flag": "-"},
                          "op": "I", "limit": 33, "flag": "-"}'
silent quota-add -p "$M" -r "$R2"
"$S" quota-list -p "$M" >"$T_DIR/ql.txt" || t_fail "quota-list"
printf '  9 3,U,S 4,G,S 0,P,- D 1000 C\n  7 13,L,- 15,L,- 17,L,- I 33 -\n' |
	cmp -s - "$T_DIR/ql.txt" || t_fail "quota-list text: $(cat "$T_DIR/ql.txt")"
j "$T_DIR/ql" quota-list -p "$M"
check "$T_DIR/ql" 'len(v) == 2' \
	'v[0] == {"prio": 9, "a": {"value": 3, "source": "U", "flag": "S"},
	          "b": {"value": 4, "source": "G", "flag": "S"},
	          "c": {"value": 0, "source": "P", "flag": "-"},
	          "op": "D", "limit": 1000, "flag": "C"}' \
	'v[1]["prio"] == 7 and v[1]["limit"] == 33 and v[1]["op"] == "I"'
# every element is its text line, in the same order (sorted and -U)
rules_text() {
	python3 -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    print("%3u %s %s %s %s %u %s" % (r["prio"], *("%u,%s,%s" % (r[p]["value"], r[p]["source"],
          r[p]["flag"]) for p in "abc"), r["op"], r["limit"], r["flag"]))' "$1" ||
		t_fail "quota-list --json is not an array of rules"
}
rules_text "$T_DIR/ql" | cmp -s - "$T_DIR/ql.txt" || t_fail "quota-list --json differs from the text"
"$S" quota-list -p "$M" -U >"$T_DIR/qlu.txt" || t_fail "quota-list -U"
j "$T_DIR/qlu" quota-list -p "$M" -U
rules_text "$T_DIR/qlu" | cmp -s - "$T_DIR/qlu.txt" || t_fail "quota-list -U --json differs from its text"
# delete one: the rule deleted; one is left
j "$T_DIR/qd" quota-del -p "$M" -r "$R2"
check "$T_DIR/qd" 'v["prio"] == 9 and v["op"] == "D" and v["limit"] == 1000 and v["flag"] == "C"' \
	'v["a"] == {"value": 3, "source": "U", "flag": "S"}'
j "$T_DIR/ql1" quota-list -p "$M"
check "$T_DIR/ql1" 'len(v) == 1 and v[0]["prio"] == 7'
silent quota-del -p "$M" -r "$R1"
j "$T_DIR/ql0" quota-list -p "$M"
[ "$(cat "$T_DIR/ql0")" = "[]" ] || t_fail "quota-list --json of no rules: $(cat "$T_DIR/ql0")"
silent quota-list -p "$M"
# restore three (a blank line is skipped), wipe four
printf '%s\n\n%s\n%s\n' "$R1" "$R2" "1 1,L,- 1,L,- 1,L,- I 100 -" >"$T_DIR/rules"
"$S" quota-restore -p "$M" --json <"$T_DIR/rules" >"$T_DIR/qr" || t_fail "quota-restore --json"
check "$T_DIR/qr" 'v == {"added": 3}'
silent quota-add -p "$M" -r "2 2,L,- 2,L,- 2,L,- D 5 -"
j "$T_DIR/ql4" quota-list -p "$M"
check "$T_DIR/ql4" 'len(v) == 4' '[r["prio"] for r in v] == [9, 7, 2, 1]'
j "$T_DIR/qw" quota-wipe -p "$M"
check "$T_DIR/qw" 'v == {"deleted": 4}'
[ -z "$("$S" quota-list -p "$M")" ] || t_fail "rules left after quota-wipe --json"
j "$T_DIR/qw0" quota-wipe -p "$M"
check "$T_DIR/qw0" 'v == {"deleted": 0}'
: | "$S" quota-restore -p "$M" --json >"$T_DIR/qr0" || t_fail "quota-restore --json of nothing"
check "$T_DIR/qr0" 'v == {"added": 0}'
# the text of restore and wipe: nothing
"$S" quota-restore -p "$M" <"$T_DIR/rules" >"$T_DIR/qr.txt" || t_fail "quota-restore"
[ ! -s "$T_DIR/qr.txt" ] || t_fail "quota-restore printed $(cat "$T_DIR/qr.txt")"
silent quota-wipe -p "$M"
# errors: exists, missing, invalid; a restore that stops part way prints nothing
silent quota-add -p "$M" -r "$R1"
same_err quota-add -p "$M" -r "$R1"
same_err quota-del -p "$M" -r "$R2"
same_err quota-add -p "$M" -r "7 13,X,- 15,L,- 17,L,- I 33 -"
same_err quota-list -p "$M" -r "$R1"
printf '%s\nbogus\n' "$R2" >"$T_DIR/bad"
"$S" quota-restore -p "$M" --json <"$T_DIR/bad" >"$T_DIR/qrb" 2>"$T_DIR/qrb.err" &&
	t_fail "quota-restore of an invalid rule succeeded"
[ ! -s "$T_DIR/qrb" ] || t_fail "quota-restore --json printed $(cat "$T_DIR/qrb") on an error"
grep -q "line 2: invalid rule 'bogus'" "$T_DIR/qrb.err" || t_fail "quota-restore: $(cat "$T_DIR/qrb.err")"
silent quota-wipe -p "$M"

# --- names that are not UTF-8: valid JSON, the name as an array of its bytes ----
python3 -c 'import os, sys; open(os.path.join(sys.argv[1].encode(), b"bad\xff\x01"), "w").close();
open(os.path.join(sys.argv[1].encode(), "gr\u00fcn".encode()), "w").close()' "$M"
for n in bad grün; do
	ino=$(python3 -c 'import os, sys; print(os.stat(os.path.join(sys.argv[1].encode(),
	    [e for e in os.listdir(sys.argv[1].encode()) if e.startswith(sys.argv[2].encode()[:3])][0])).st_ino)' "$M" "$n")
	"$S" get-referring-entries "$ino" -p "$M" --json >"$T_DIR/gre.json" ||
		t_fail "get-referring-entries --json of $n failed"
	"$S" ino-path "$ino" -p "$M" --json >"$T_DIR/ip.json" || t_fail "ino-path --json of $n failed"
	python3 - "$T_DIR/gre.json" "$T_DIR/ip.json" "$n" <<'PY' || t_fail "the JSON of a name $n is wrong"
import json, sys
gre = json.load(open(sys.argv[1]))
ip = json.load(open(sys.argv[2]))
want = b"bad\xff\x01" if sys.argv[3] == "bad" else "gr\u00fcn"
if sys.argv[3] == "bad":
    assert gre[0]["name"] == list(want), gre
    assert isinstance(ip[0], list) and bytes(ip[0]).endswith(want), ip
else:
    assert gre[0]["name"] == want, gre
    assert ip[0].endswith(want), ip
PY
done
t_umount "$M"

# --- format version 1: no quota rules; every quota command fails alike ----------
t_images 2G 4G
t_mkfs -V 1
t_mount "$M"
same_err quota-list -p "$M"
grep -q "Operation not supported" "$T_DIR/e2.err" || t_fail "quota-list on v1: $(cat "$T_DIR/e2.err")"
same_err quota-wipe -p "$M"
same_err quota-add -p "$M" -r "$R1"
same_err quota-del -p "$M" -r "$R1"
echo "$R1" >"$T_DIR/one"
"$S" quota-restore -p "$M" --json <"$T_DIR/one" >"$T_DIR/qrv1" 2>/dev/null &&
	t_fail "quota-restore on v1 succeeded"
[ ! -s "$T_DIR/qrv1" ] || t_fail "quota-restore --json printed $(cat "$T_DIR/qrv1") on an error"
t_umount "$M"
