#!/usr/bin/env bash
# Each step of mkdir / rename / rename / rmdir done on a different mount
# (the reference's mkdir-rename-rmdir: cached directory entries stay
# right).  40 times: mount a makes a directory, mount b renames it within
# its parent, mount c renames it into another parent (with a file made
# inside it on the way), mount a removes the file and the directory; the
# mounts rotate every time.  Every step must succeed, and right after
# it every mount sees the result: the new name is a directory with the
# same inode number, the old name is gone, the parents' listings and
# link counts are right.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 240
mkdir "${M[0]}/p" "${M[0]}/q" || t_fail "mkdir p q"

# seen STEP REL INO: REL is a directory of inode INO on every mount
seen() {
	local m got
	for m in 0 1 2; do
		got=$(stat -c '%F %i' "${M[m]}/$2" 2>&1)
		[ "$got" = "directory $3" ] || t_fail "$1: mount $m: stat $2 says '$got', want 'directory $3'"
	done
}

# gone STEP REL: REL is gone on every mount
gone() {
	local m
	for m in 0 1 2; do
		[ -e "${M[m]}/$2" ] && t_fail "$1: mount $m still finds $2"
	done
	return 0
}

# lists STEP DIR WANT: DIR lists WANT (and has nlink 2 + subdirs) on every mount
lists() {
	local m got n want_n
	want_n=$((2 + $(wc -w <<<"$3")))
	for m in 0 1 2; do
		got=$(ls -A "${M[m]}/$2" | tr '\n' ' ')
		[ "$got" = "$3" ] || t_fail "$1: mount $m lists '$got' in $2, want '$3'"
		n=$(stat -c %h "${M[m]}/$2")
		[ "$n" -eq "$want_n" ] || t_fail "$1: mount $m: $2 has nlink $n, want $want_n"
	done
}

for i in $(seq 40); do
	a=$((i % 3)) b=$(((i + 1) % 3)) c=$(((i + 2) % 3))
	# every mount looks the names up first (negative entries to go stale)
	for m in 0 1 2; do
		[ -e "${M[m]}/p/x$i" ] || [ -e "${M[m]}/p/y$i" ] || [ -e "${M[m]}/q/z$i" ] ||
			continue
		t_fail "iteration $i: mount $m finds a name before it was made"
	done

	mkdir "${M[a]}/p/x$i" || t_fail "iteration $i: mkdir p/x$i on mount $a"
	ino=$(stat -c %i "${M[a]}/p/x$i")
	seen "iteration $i: mkdir on mount $a" "p/x$i" "$ino"
	lists "iteration $i: mkdir on mount $a" p "x$i "

	mv "${M[b]}/p/x$i" "${M[b]}/p/y$i" || t_fail "iteration $i: rename p/x$i p/y$i on mount $b"
	gone "iteration $i: rename within p on mount $b" "p/x$i"
	seen "iteration $i: rename within p on mount $b" "p/y$i" "$ino"
	lists "iteration $i: rename within p on mount $b" p "y$i "

	touch "${M[c]}/p/y$i/f" || t_fail "iteration $i: create p/y$i/f on mount $c"
	mv "${M[c]}/p/y$i" "${M[c]}/q/z$i" || t_fail "iteration $i: rename p/y$i q/z$i on mount $c"
	gone "iteration $i: rename into q on mount $c" "p/y$i"
	seen "iteration $i: rename into q on mount $c" "q/z$i" "$ino"
	lists "iteration $i: rename into q on mount $c" p ""
	lists "iteration $i: rename into q on mount $c" q "z$i "
	for m in 0 1 2; do
		[ -f "${M[m]}/q/z$i/f" ] || t_fail "iteration $i: mount $m does not find q/z$i/f after the rename"
		got=$(cd "${M[m]}/q/z$i/.." && stat -c %i .)
		[ "$got" = "$(stat -c %i "${M[0]}/q")" ] ||
			t_fail "iteration $i: mount $m: q/z$i/.. is inode $got, not q"
	done

	rm "${M[a]}/q/z$i/f" || t_fail "iteration $i: rm q/z$i/f on mount $a"
	rmdir "${M[a]}/q/z$i" || t_fail "iteration $i: rmdir q/z$i on mount $a"
	gone "iteration $i: rmdir on mount $a" "q/z$i"
	lists "iteration $i: rmdir on mount $a" q ""
done

t_cluster_umount
echo "mkdir-rename-rmdir: 40 iterations across 3 mounts"
