#!/usr/bin/env bash
# The example archive agent (tools/example-agent.c) runs the whole cycle
# against a mount: walk data_seq from its saved position, copy new files
# to an archive directory and release them, then serve waiting readers by
# staging.  Every file reads back as written; a second pass archives only
# what changed since the saved position; files without an archive copy
# fail their readers with EIO.  Also the archive-light-cycle idea: rounds
# of write, archive, read back.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
: "${SCOUTFS_EXAMPLE_AGENT:?run through meson test}"
AG="$SCOUTFS_EXAMPLE_AGENT"
t_images 2G 4G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"
S="$SCOUTFS"
AR="$T_DIR/archive"
SH="$T_DIR/shadow"
mkdir -p "$AR" "$SH" "$M/d1/d2"

field() { "$S" stat -s "$2" "$1" || t_fail "scoutfs stat -s $2 $1"; }
commit() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M" ||
		t_fail "fsync of $M failed"
}
SERVER=""
serve() {
	"$AG" serve "$M" "$AR" >"$T_DIR/serve.out" 2>"$T_DIR/serve.err" &
	SERVER=$!
	T_PIDS+=("$SERVER")
}
stop_serving() {
	kill -TERM "$SERVER" 2>/dev/null
	wait "$SERVER" || t_fail "the agent's serve exited badly: $(cat "$T_DIR/serve.err")"
}

# files of many shapes, a shadow copy of each on the host
make_file() {	# NAME SIZE
	head -c "$2" /dev/urandom >"$SH/$(echo "$1" | tr / _)"
	cp "$SH/$(echo "$1" | tr / _)" "$M/$1"
}
i=0
for size in 1 100 4095 4096 4097 65536 1048577 3000000; do
	make_file "f$i" $size
	make_file "d1/g$i" $((size + 7))
	make_file "d1/d2/h$i" $((size * 2))
	i=$((i + 1))
done
: >"$M/empty"
truncate -s 10M "$M/sparse"
printf 'x' | dd of="$M/sparse" bs=1 seek=5000000 conv=notrunc status=none
cp "$M/sparse" "$SH/sparse"
commit

"$AG" archive "$M" "$AR" >"$T_DIR/a1.out" || t_fail "archive pass 1"
grep -q '^archived 25 of' "$T_DIR/a1.out" || t_fail "pass 1: $(cat "$T_DIR/a1.out")"
[ -s "$AR/position" ] || t_fail "no saved position"
for f in f3 d1/g5 d1/d2/h7 sparse; do
	[ "$(field "$M/$f" online_blocks)" = 0 ] || t_fail "$f still online"
	[ "$(field "$M/$f" offline_blocks)" -gt 0 ] || t_fail "$f has no offline blocks"
done

# read everything back through the agent
serve
for f in $(cd "$SH" && ls); do
	p=$(echo "$f" | tr _ /)
	timeout 60 cmp "$M/$p" "$SH/$f" || t_fail "$p read back differs"
done
[ -z "$("$S" data-waiting -I 0 -B 0 -p "$M")" ] || t_fail "waiters left"
stop_serving
grep -q '^staged [1-9]' "$T_DIR/serve.out" || t_fail "serve: $(cat "$T_DIR/serve.out")"

# pass 2 archives only what changed since the saved position
make_file "f2" 12345
make_file "new" 54321
commit
"$AG" archive "$M" "$AR" >"$T_DIR/a2.out" || t_fail "archive pass 2"
grep -q '^archived 2 of 2 files' "$T_DIR/a2.out" ||
	t_fail "pass 2 should archive just the 2 changed files: $(cat "$T_DIR/a2.out")"

# a file whose archive copy is gone fails its readers with EIO
ino=$(stat -c %i "$M/new")
rm -f "$AR/$ino".*
serve
timeout 60 cat "$M/new" >/dev/null 2>"$T_DIR/new.err" && t_fail "read without an archive copy"
grep -q "Input/output error" "$T_DIR/new.err" || t_fail "reader error: $(cat "$T_DIR/new.err")"
timeout 60 cmp "$M/f2" "$SH/f2" || t_fail "f2 after pass 2"

# a few light rounds: write, archive, read back
for round in 1 2 3; do
	for j in 1 2 3; do
		make_file "r$round.$j" $((round * 70000 + j))
	done
	commit
	"$AG" archive "$M" "$AR" >"$T_DIR/r.out" || t_fail "archive round $round"
	for j in 1 2 3; do
		[ "$(field "$M/r$round.$j" online_blocks)" = 0 ] || t_fail "round $round file $j online"
		timeout 60 cmp "$M/r$round.$j" "$SH/r$round.$j" || t_fail "round $round file $j differs"
	done
done
stop_serving

# after a remount everything is still there (staged files online)
t_umount "$M"
t_mount "$M"
serve
for f in $(cd "$SH" && ls); do
	[ "$f" = new ] && continue
	p=$(echo "$f" | tr _ /)
	timeout 60 cmp "$M/$p" "$SH/$f" || t_fail "$p after remount"
done
stop_serving
t_umount "$M"
echo "archive-agent: ok"
