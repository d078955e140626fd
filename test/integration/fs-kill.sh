#!/usr/bin/env bash
# kill -9 of the daemon at random moments under a data workload: every
# file whose fsync returned is there with its exact contents on the next
# mount, the volume always mounts again, and scoutfs print reads it at the
# end.  Writers keep going (with fsyncs, renames, truncates and unlinks
# that are never fsynced) while the daemon is killed.
. "$(dirname "$0")/../funcs.sh"

# every killed mount keeps its 4 GiB of data_avail until it is reclaimed
# (30 s after a server start): room for each round's mount to get its own
t_images 2G 48G
t_mkfs
M="$T_DIR/mnt"
rounds=${SFS_KILL_ROUNDS:-8}

# writer DIR LIST SEED: files named by number with contents derived from
# the number; each name goes to LIST once its fsync returned
writer() {
	python3 - "$@" <<'PY'
import os, random, sys
d, lst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)
def content(n):
    r = random.Random(n)
    return r.randbytes(r.randrange(0, 3 << 20))
i = seed * 1000000
log = open(lst, "a")
try:
    while True:
        i += 1
        p = os.path.join(d, "f%d" % i)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        data = content(i)
        # in pieces of odd sizes, so partial blocks are written
        off = 0
        while off < len(data):
            n = rnd.randrange(1, 300000)
            os.pwrite(fd, data[off:off + n], off)
            off += n
        if rnd.random() < 0.5:
            os.fsync(fd)
            os.close(fd)
            log.write("%d\n" % i)
            log.flush()
        else:
            os.close(fd)
            # churn nobody waits for
            q = os.path.join(d, "t%d" % i)
            os.rename(p, q)
            if rnd.random() < 0.5:
                os.truncate(q, rnd.randrange(0, 1 << 20))
            if rnd.random() < 0.5:
                os.unlink(q)
except OSError as e:
    # the daemon is gone; anything else is a failure
    import errno
    if e.errno not in (errno.ENOTCONN, errno.ECONNABORTED, errno.ENOENT):
        print("writer %d stopped by %s" % (seed, errno.errorcode.get(e.errno, e.errno)))
PY
}

verify() {
	python3 - "$M/w" "$T_DIR/synced" <<'PY'
import os, random, sys
d, lst = sys.argv[1], sys.argv[2]
def content(n):
    r = random.Random(n)
    return r.randbytes(r.randrange(0, 3 << 20))
names = [int(l) for l in open(lst) if l.strip()]
bad = 0
for n in names:
    p = os.path.join(d, "f%d" % n)
    try:
        got = open(p, "rb").read()
    except OSError as e:
        print("f%d: %s" % (n, e.strerror)); bad += 1; continue
    if got != content(n):
        print("f%d: contents differ (%d bytes, want %d)" % (n, len(got), len(content(n)))); bad += 1
print("%d fsynced files checked, %d bad" % (len(names), bad))
sys.exit(1 if bad else 0)
PY
}

touch "$T_DIR/synced"
t_mount "$M"
mkdir "$M/w"
for r in $(seq "$rounds"); do
	writer "$M/w" "$T_DIR/synced" "$((r * 2))" >"$T_DIR/w1.out" 2>&1 &
	w1=$!
	writer "$M/w" "$T_DIR/synced" "$((r * 2 + 1))" >"$T_DIR/w2.out" 2>&1 &
	w2=$!
	T_PIDS+=("$w1" "$w2")
	sleep "$(python3 -c "import random; print(random.uniform(0.3, 2.5))")"
	t_kill_mount "$M"
	wait "$w1" "$w2" 2>/dev/null
	cat "$T_DIR/w1.out" "$T_DIR/w2.out" >"$T_DIR/w.out"
	[ -s "$T_DIR/w.out" ] && t_fail "round $r: $(cat "$T_DIR/w.out")"
	t_mount "$M"
	verify >"$T_DIR/verify.out" 2>&1 || t_fail "round $r: $(tail -5 "$T_DIR/verify.out")"
done
n=$(wc -l <"$T_DIR/synced")
[ "$n" -gt 0 ] || t_fail "no file was fsynced before any kill"
t_umount "$M"
"$SCOUTFS" print "$META" >"$T_DIR/print" 2>"$T_DIR/print.err" || t_fail "print: $(head -3 "$T_DIR/print.err")"
[ -s "$T_DIR/print.err" ] && t_fail "print complained: $(head -3 "$T_DIR/print.err")"
echo "$rounds kills under load: all $n fsynced files intact, the volume mounts and prints"
