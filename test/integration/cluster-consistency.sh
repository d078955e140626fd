#!/usr/bin/env bash
# Three mounts of one volume: whatever one mount changes, the other two
# see exactly so by their very next system call.  Every round walks one
# file through create, write, rename, chmod, xattr set/replace/remove and
# unlink, and a directory through mkdir and rmdir, each step done by a
# different mount (the actor rotates with the step and the round), and
# checks after each step on the other two mounts: stat (type, mode, size,
# inode number), contents (cat, and open), listing (ls), getfattr.
# Negative lookups never go stale: a name looked up and not found on a
# mount is found there right after another mount creates it, and a name
# found is gone right after another mount removes it.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 240
ROUNDS=6

same() {	# WHAT WANT GOT
	[ "$2" = "$3" ] || t_fail "$1: want '$2', got '$3'"
}

# others ACTOR: the mounts other than ACTOR
others() {
	local i
	for i in 0 1 2; do
		[ "$i" -eq "$1" ] || echo "$i"
	done
}

# absent ACTOR REL WHAT: REL is gone on the mounts other than ACTOR
absent() {
	local o err
	for o in $(others "$1"); do
		err=$(stat -c %i "${M[o]}/$2" 2>&1) &&
			t_fail "$3: mount $o still finds $2 (ino $err)"
		case $err in *"No such file"*) ;; *) t_fail "$3: mount $o: stat $2: $err" ;; esac
		[ -e "${M[o]}/$2" ] && t_fail "$3: mount $o: test -e $2 succeeds"
		(exec 3<"${M[o]}/$2") 2>/dev/null && t_fail "$3: mount $o opens $2"
	done
	return 0
}

# attrs ACTOR REL WHAT WANT: stat -c '%F %a %s %i' of REL on the other
# mounts is WANT
attrs() {
	local o
	for o in $(others "$1"); do
		same "$3: stat on mount $o" "$4" "$(stat -c '%F %a %s %i' "${M[o]}/$2" 2>&1)"
	done
}

# content ACTOR REL WHAT WANT: REL reads WANT on the other mounts (cat,
# and read through an fd opened there)
content() {
	local o got
	for o in $(others "$1"); do
		same "$3: cat on mount $o" "$4" "$(cat "${M[o]}/$2" 2>&1)"
		got=$( { exec 3<"${M[o]}/$2" && cat <&3; } 2>&1)
		same "$3: read through open on mount $o" "$4" "$got"
	done
}

# listing ACTOR DIR WHAT WANT: sorted ls -A of DIR on the other mounts
listing() {
	local o
	for o in $(others "$1"); do
		same "$3: ls on mount $o" "$4" "$(ls -A "${M[o]}/$2" 2>&1 | tr '\n' ' ')"
	done
}

# xattr ACTOR REL NAME WHAT WANT: getfattr of NAME on the other mounts
# (WANT "-" for no such attribute)
xattr() {
	local o got
	for o in $(others "$1"); do
		if [ "$5" = - ]; then
			got=$(getfattr --absolute-names --only-values -n "$3" "${M[o]}/$2" 2>&1) &&
				t_fail "$4: mount $o still gets $3 = '$got' of $2"
			case $got in *"No such attribute"*) ;; *) t_fail "$4: mount $o: getfattr $3 of $2: $got" ;; esac
			getfattr --absolute-names -d -m '^user\.' "${M[o]}/$2" 2>&1 | grep -q "^$3=" &&
				t_fail "$4: mount $o still lists $3 of $2"
		else
			same "$4: getfattr $3 on mount $o" "$5" "$(getfattr --absolute-names --only-values -n "$3" "${M[o]}/$2" 2>&1)"
			getfattr --absolute-names -d -m '^user\.' "${M[o]}/$2" 2>&1 | grep -qx "$3=\"$5\"" ||
				t_fail "$4: mount $o does not list $3=\"$5\" of $2: $(getfattr --absolute-names -d -m '^user\.' "${M[o]}/$2" 2>&1)"
		fi
	done
}

for r in $(seq "$ROUNDS"); do
	d="r$r"
	step=0
	# actor for the next step: rotates with the step and the round
	act() { A=$(((r + step) % 3)); step=$((step + 1)); }

	act
	mkdir "${M[A]}/$d" || t_fail "round $r: mkdir $d on mount $A"
	attrs "$A" "$d" "round $r: mkdir on mount $A" "directory 755 0 $(stat -c %i "${M[A]}/$d")"
	listing "$A" "$d" "round $r: new directory" ""

	# every mount looks the name up first: no stale negative entry after
	for o in 0 1 2; do
		[ -e "${M[o]}/$d/f" ] && t_fail "round $r: mount $o finds $d/f before it exists"
	done
	act
	echo "first $r" >"${M[A]}/$d/f" || t_fail "round $r: create on mount $A"
	chmod 644 "${M[A]}/$d/f"
	ino=$(stat -c %i "${M[A]}/$d/f")
	attrs "$A" "$d/f" "round $r: create on mount $A" "regular file 644 $((7 + ${#r})) $ino"
	content "$A" "$d/f" "round $r: create on mount $A" "first $r"
	listing "$A" "$d" "round $r: create on mount $A" "f "

	act
	printf 'second write %s, longer\n' "$r" >"${M[A]}/$d/f" || t_fail "round $r: write on mount $A"
	want="second write $r, longer"
	attrs "$A" "$d/f" "round $r: overwrite on mount $A" "regular file 644 $((${#want} + 1)) $ino"
	content "$A" "$d/f" "round $r: overwrite on mount $A" "$want"

	act
	echo "appended" >>"${M[A]}/$d/f" || t_fail "round $r: append on mount $A"
	want=$(printf '%s\nappended' "$want")
	content "$A" "$d/f" "round $r: append on mount $A" "$want"

	for o in 0 1 2; do
		[ -e "${M[o]}/$d/g" ] && t_fail "round $r: mount $o finds $d/g before the rename"
	done
	act
	mv "${M[A]}/$d/f" "${M[A]}/$d/g" || t_fail "round $r: rename on mount $A"
	absent "$A" "$d/f" "round $r: rename f to g on mount $A"
	attrs "$A" "$d/g" "round $r: rename f to g on mount $A" "regular file 644 $((${#want} + 1)) $ino"
	content "$A" "$d/g" "round $r: rename f to g on mount $A" "$want"
	listing "$A" "$d" "round $r: rename f to g on mount $A" "g "

	act
	chmod 600 "${M[A]}/$d/g" || t_fail "round $r: chmod on mount $A"
	attrs "$A" "$d/g" "round $r: chmod 600 on mount $A" "regular file 600 $((${#want} + 1)) $ino"

	act
	setfattr -n user.k -v "v$r" "${M[A]}/$d/g" || t_fail "round $r: setfattr on mount $A"
	xattr "$A" "$d/g" user.k "round $r: setfattr on mount $A" "v$r"
	act
	setfattr -n user.k -v "replaced $r" "${M[A]}/$d/g" || t_fail "round $r: setfattr replace on mount $A"
	xattr "$A" "$d/g" user.k "round $r: setfattr replace on mount $A" "replaced $r"
	act
	setfattr -n user.second -v two "${M[A]}/$d/g" || t_fail "round $r: second setfattr on mount $A"
	xattr "$A" "$d/g" user.second "round $r: second xattr on mount $A" two
	xattr "$A" "$d/g" user.k "round $r: first xattr after a second one" "replaced $r"
	act
	setfattr -x user.k "${M[A]}/$d/g" || t_fail "round $r: setfattr -x on mount $A"
	xattr "$A" "$d/g" user.k "round $r: setfattr -x on mount $A" -
	xattr "$A" "$d/g" user.second "round $r: the other xattr after setfattr -x" two

	# every mount finds the name first: no stale positive entry after
	for o in 0 1 2; do
		[ -e "${M[o]}/$d/g" ] || t_fail "round $r: mount $o does not find $d/g before the unlink"
	done
	act
	rm "${M[A]}/$d/g" || t_fail "round $r: unlink on mount $A"
	absent "$A" "$d/g" "round $r: unlink on mount $A"
	listing "$A" "$d" "round $r: unlink on mount $A" ""

	# a name made again after its removal is the new file
	act
	echo "again $r" >"${M[A]}/$d/g" || t_fail "round $r: create g again on mount $A"
	ino2=$(stat -c %i "${M[A]}/$d/g")
	[ "$ino2" != "$ino" ] || t_fail "round $r: the new g has the old inode number $ino"
	attrs "$A" "$d/g" "round $r: create again on mount $A" "regular file 644 $((7 + ${#r})) $ino2"
	content "$A" "$d/g" "round $r: create again on mount $A" "again $r"
	act
	rm "${M[A]}/$d/g" || t_fail "round $r: unlink again on mount $A"
	absent "$A" "$d/g" "round $r: unlink again on mount $A"

	act
	rmdir "${M[A]}/$d" || t_fail "round $r: rmdir on mount $A"
	absent "$A" "$d" "round $r: rmdir on mount $A"
	listing "$A" "" "round $r: rmdir on mount $A" ""
done

t_cluster_umount
echo "cluster-consistency: $ROUNDS rounds, every step seen by the other mounts"
