#!/usr/bin/env bash
# renameat2(RENAME_NOREPLACE) racing between two mounts onto one name:
# exactly one rename succeeds, the other fails with EEXIST (50 times, the
# pair of mounts rotating; every other time the sources are in other
# directories than the target, so the renames also take the rename
# lock).  Afterwards every mount agrees: the target holds the winner's
# contents and inode, the winner's source name is gone, the loser's
# source is still there and untouched.  renameat2 is called through
# ctypes (python's os module has no renameat2).
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 240
mkdir "${M[0]}/t" "${M[0]}/s0" "${M[0]}/s1" "${M[0]}/s2" || t_fail "mkdir"

python3 - "${M[@]}" <<'PY' || t_fail "RENAME_NOREPLACE race (above)"
import ctypes, errno, os, sys, threading
mounts = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_NOREPLACE = -100, 1
if not hasattr(libc, "renameat2"):
    # glibc < 2.28: the raw system call (x86_64 316, aarch64 276)
    import platform
    nr = {"x86_64": 316, "aarch64": 276}[platform.machine()]
    def renameat2(a, b, flags):
        return libc.syscall(nr, AT_FDCWD, a, AT_FDCWD, b, flags)
else:
    def renameat2(a, b, flags):
        return libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, flags)

def noreplace(a, b):
    if renameat2(a.encode(), b.encode(), RENAME_NOREPLACE) == 0:
        return 0
    return ctypes.get_errno()

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

for i in range(50):
    x, y = i % 3, (i + 1) % 3
    cross = i % 2
    target = "t/n%d" % i
    srcs = {}
    for m in (x, y):
        rel = ("s%d/src%d" % (m, i)) if cross else ("t/src%d.%d" % (i, m))
        with open(os.path.join(mounts[m], rel), "w") as f:
            f.write("from mount %d, iteration %d\n" % (m, i))
        srcs[m] = (rel, os.stat(os.path.join(mounts[m], rel)).st_ino)
    # the target name looked up (and not found) everywhere first
    for m in range(3):
        if os.path.lexists(os.path.join(mounts[m], target)):
            fail("iteration %d: mount %d finds %s before the race" % (i, m, target))
    res = {}
    bar = threading.Barrier(2)
    def run(m):
        bar.wait()
        res[m] = noreplace(os.path.join(mounts[m], srcs[m][0]), os.path.join(mounts[m], target))
    ts = [threading.Thread(target=run, args=(m,)) for m in (x, y)]
    for t in ts: t.start()
    for t in ts: t.join()
    won = [m for m in (x, y) if res[m] == 0]
    lost = [m for m in (x, y) if res[m] == errno.EEXIST]
    if len(won) != 1 or len(lost) != 1:
        fail("iteration %d (%s): mount %d got %s, mount %d got %s; want one success and one EEXIST" %
             (i, "across directories" if cross else "in one directory",
              x, os.strerror(res[x]) if res[x] else "success", y, os.strerror(res[y]) if res[y] else "success"))
    w, l = won[0], lost[0]
    for m in range(3):
        tp = os.path.join(mounts[m], target)
        try:
            st = os.stat(tp)
            data = open(tp).read()
        except OSError as e:
            fail("iteration %d: mount %d: %s: %s" % (i, m, target, e))
        if st.st_ino != srcs[w][1] or data != "from mount %d, iteration %d\n" % (w, i):
            fail("iteration %d: mount %d: %s is ino %d with %r, want mount %d's ino %d" %
                 (i, m, target, st.st_ino, data, w, srcs[w][1]))
        if os.path.lexists(os.path.join(mounts[m], srcs[w][0])):
            fail("iteration %d: mount %d still finds the winner's source %s" % (i, m, srcs[w][0]))
        lp = os.path.join(mounts[m], srcs[l][0])
        try:
            st = os.stat(lp)
            data = open(lp).read()
        except OSError as e:
            fail("iteration %d: mount %d: the loser's source %s: %s" % (i, m, srcs[l][0], e))
        if st.st_ino != srcs[l][1] or data != "from mount %d, iteration %d\n" % (l, i):
            fail("iteration %d: mount %d: the loser's source %s changed" % (i, m, srcs[l][0]))
    os.unlink(os.path.join(mounts[l], srcs[l][0]))
print("50 races: one success and one EEXIST each")
PY

t_cluster_umount
echo "renameat2-noreplace: done"
