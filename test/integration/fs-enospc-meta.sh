#!/usr/bin/env bash
# A full metadata device: creating names fails with ENOSPC (once the
# server's reserve is reached), what exists stays readable, deleting
# still works and frees space so that creating works again, and the
# volume unmounts and mounts again.
. "$(dirname "$0")/../funcs.sh"

t_images 512M 1G
t_mkfs
M="$T_DIR/mnt"
t_mount "$M"

# 4000-byte symlink targets fill metadata quickly; stop at the first error
python3 - "$M" "$T_DIR/made" <<'PY' >"$T_DIR/fill.out" 2>&1
import errno, os, sys
d = os.path.join(sys.argv[1], "fill")
os.mkdir(d)
target = "t" * 4000
n = 0
err = "none"
while n < 2000000:
    try:
        os.symlink(target, os.path.join(d, "s%07d" % n))
    except OSError as e:
        err = errno.errorcode[e.errno]
        break
    n += 1
open(sys.argv[2], "w").write("%d\n" % n)
print(err)
PY
made=$(cat "$T_DIR/made")
[ "$(cat "$T_DIR/fill.out")" = ENOSPC ] || t_fail "filling stopped with $(cat "$T_DIR/fill.out") after $made symlinks"
[ "$made" -gt 10000 ] || t_fail "metadata full after only $made symlinks"

# full: more creates fail.  The log merge that started when metadata ran
# low frees the blocks the merged log trees held (up to a tenth of the
# volume seen on a fast build; under ASan, where merges lag the creates
# more, the first ENOSPC came at two thirds of what fits in the end), so
# more may succeed first, but the device fills again.
python3 - "$M/fill" "$made" "$made" <<'PY' >"$T_DIR/more.out" 2>&1
import errno, os, sys
d, first, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = "t" * 4000
for n in range(limit):
    try:
        os.symlink(target, os.path.join(d, "s%07d" % (first + n)))
    except OSError as e:
        print(errno.errorcode[e.errno], n)
        sys.exit(0)
print("none", limit)
PY
read -r err n <"$T_DIR/more.out" || t_fail "more creates: $(cat "$T_DIR/more.out")"
[ "$err" = ENOSPC ] || t_fail "creates on full metadata: $err after $n more (made $made before)"
made=$((made + n))
[ "$(readlink "$M/fill/s0000000")" = "$(printf 't%.0s' $(seq 4000))" ] ||
	t_fail "a symlink made before metadata filled reads wrong"

# deleting works on a full device and gives the space back
python3 - "$M/fill" "$made" <<'PY' || t_fail "deleting on full metadata failed"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(0, n, 2):
    os.unlink(os.path.join(d, "s%07d" % i))
fd = os.open(d, os.O_RDONLY)
os.fsync(fd)
os.fsync(fd)
os.close(fd)
PY
# the deletions are items until a log merge applies them and frees what
# they replace: the server merges as soon as metadata runs low
for i in $(seq 60); do
	mkdir "$M/more" 2>/dev/null && break
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)' "$M"
	sleep 0.5
done
[ -d "$M/more" ] || t_fail "mkdir still fails 30 s after deleting half the symlinks"
for i in $(seq 100); do ln -s "$(printf 't%.0s' $(seq 100))" "$M/more/n$i" || t_fail "symlink $i after deleting"; done

t_umount "$M"
t_mount "$M"
left=$(ls "$M/fill" | wc -l)
[ "$left" -eq $((made / 2)) ] || t_fail "after remount $left symlinks left, want $((made / 2))"
[ "$(ls "$M/more" | wc -l)" -eq 100 ] || t_fail "the symlinks made after deleting are not all there"
t_umount "$M"
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>&1 || t_fail "scoutfs print: $(tail -3 "$T_DIR/print")"
echo "full metadata: ENOSPC, deletion works and frees space"
