#!/usr/bin/env bash
# walk-inodes racing writers on another mount (the reference's
# lock-pr-cw-conflict, in our words).  A walk reads the seq indexes under
# the index zone's READ lock; every change of an inode updates them under
# WRITE_ONLY, which all writers hold at once.  Mount 0 creates, writes and
# chmods files in a loop while mount 1 walks both indexes over and over:
# every walk and every change must succeed (no deadlock, no error), what a
# walk lists must be in order, and once both mounts committed, a walk on
# mount 1 lists every file mount 0 made, in both indexes.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"
t_cluster 2
W="${T_CMNT[0]}/w"
mkdir "$W" || t_fail "mkdir on mount 0"
NFILES=150

python3 - "$W" "$NFILES" >"$T_DIR/writer.out" 2>&1 <<'PY' &
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    p = os.path.join(d, "f%d" % i)
    with open(p, "wb") as f:
        f.write(os.urandom(4096 + i))
    os.chmod(p, 0o600 + (i % 64))
    with open(p, "ab") as f:
        f.write(b"more")
PY
writer=$!
T_PIDS+=("$writer")

walks=0
while kill -0 "$writer" 2>/dev/null; do
	for idx in meta_seq data_seq; do
		t_scoutfs_at "${T_CMNT[1]}" walk-inodes "$idx" 0 -1 -p "${T_CMNT[1]}" \
			>"$T_DIR/walk.out" 2>"$T_DIR/walk.err" ||
			t_fail "walk-inodes $idx on mount 1 failed while mount 0 writes: $(cat "$T_DIR/walk.err")"
		awk '$1 != "#" {print $2, $4}' "$T_DIR/walk.out" | sort -c -n -k1,1 -k2,2 2>/dev/null ||
			t_fail "walk-inodes $idx listed entries out of order"
		walks=$((walks + 1))
	done
done
wait "$writer" || t_fail "the writer on mount 0 failed: $(tail -3 "$T_DIR/writer.out")"
[ "$walks" -ge 2 ] || t_fail "only $walks walks ran while the writer ran"

# both mounts commit: the walk lists seqs below every open transaction
for m in 0 1; do
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' \
		"${T_CMNT[m]}" || t_fail "fsync on mount $m"
done
for idx in meta_seq data_seq; do
	t_scoutfs_at "${T_CMNT[1]}" walk-inodes "$idx" 0 -1 -p "${T_CMNT[1]}" >"$T_DIR/walk.out" ||
		t_fail "final walk-inodes $idx"
	awk '$1 != "#" {print $4}' "$T_DIR/walk.out" | sort -u >"$T_DIR/listed"
	for ((i = 0; i < NFILES; i++)); do
		stat -c %i "${T_CMNT[1]}/w/f$i"
	done | sort -u >"$T_DIR/made"
	missing=$(comm -23 "$T_DIR/made" "$T_DIR/listed" | wc -l)
	[ "$missing" -eq 0 ] ||
		t_fail "$idx: $missing of mount 0's $NFILES files are not listed by mount 1's walk"
done
t_cluster_umount
echo "lock-pr-cw-conflict: $walks walks during the writes, every file listed after"
