#!/usr/bin/env bash
# Parallel creates on three mounts: each mount creates 2000 files in its
# own directory while the others do the same, and, at the same time, 300
# files with its own prefix in one shared directory.  Every create must
# succeed; afterwards every mount lists exactly all the names of every
# directory (counts and names), and a sample of files has the same inode
# number, type and size on every mount.  (The files stay empty: data
# writes racing lock revokes are cluster-concurrent-writes' business.)
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 300
N=2000
NS=300
# each mount makes its own directory (its inode, and with it its lock
# group, comes from that mount's inode numbers)
for m in 0 1 2; do
	mkdir "${M[m]}/d$m" || t_fail "mkdir d$m on mount $m"
done
mkdir "${M[0]}/shared" || t_fail "mkdir shared"

# createmany DIR PREFIX COUNT GO: empty files PREFIX0..COUNT-1 in DIR,
# once GO exists
createmany() {
	python3 - "$@" <<'PY'
import os, sys, time
d, prefix, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
while not os.path.exists(go):
    time.sleep(0.01)
for i in range(n):
    name = "%s%d" % (prefix, i)
    try:
        os.close(os.open(os.path.join(d, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError as e:
        sys.exit("%s/%s: %s" % (d, name, e))
PY
}

pids=()
for m in 0 1 2; do
	createmany "${M[m]}/d$m" "f" "$N" "$T_DIR/go" &
	pids+=($!)
	createmany "${M[m]}/shared" "m$m." "$NS" "$T_DIR/go" &
	pids+=($!)
done
touch "$T_DIR/go"
for pid in "${pids[@]}"; do
	wait "$pid" || t_fail "a create failed (above)"
done

for d in 0 1 2; do
	seq 0 $((N - 1)) | sed 's/^/f/' | sort >"$T_DIR/want.d$d"
done
for m in 0 1 2; do
	seq 0 $((NS - 1)) | sed "s/^/m$m./"
done | sort >"$T_DIR/want.shared"
for m in 0 1 2; do
	for d in d0 d1 d2 shared; do
		ls -A "${M[m]}/$d" | sort >"$T_DIR/got.$m.$d" || t_fail "ls $d on mount $m"
		if ! cmp -s "$T_DIR/want.$d" "$T_DIR/got.$m.$d"; then
			t_fail "mount $m lists $(wc -l <"$T_DIR/got.$m.$d") names in $d, want $(wc -l <"$T_DIR/want.$d"); missing: $(comm -23 "$T_DIR/want.$d" "$T_DIR/got.$m.$d" | head -5 | tr '\n' ' ') extra: $(comm -13 "$T_DIR/want.$d" "$T_DIR/got.$m.$d" | head -5 | tr '\n' ' ')"
		fi
	done
done
# a sample: the same inode, type and size everywhere
for rel in d0/f0 d1/f990 d2/f1999 shared/m0.0 shared/m1.150 shared/m2.299; do
	want=$(stat -c '%i %F %s' "${M[0]}/$rel")
	[ "${want#* }" = "regular empty file 0" ] || t_fail "mount 0: $rel is '$want'"
	for m in 1 2; do
		got=$(stat -c '%i %F %s' "${M[m]}/$rel")
		[ "$got" = "$want" ] || t_fail "mount $m: $rel is '$got', mount 0 says '$want'"
	done
done

t_cluster_umount
echo "createmany-parallel-mounts: $((3 * (N + NS))) files from 3 mounts, seen by all"
