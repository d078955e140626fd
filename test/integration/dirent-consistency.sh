#!/usr/bin/env bash
# Directory entries stay consistent across three mounts (the reference's
# dirent-consistency).  In one shared directory, every mount in turn
# works on the names of another mount's set (so a name is created on
# one mount and changed on the others):
#   create / recreate   c<t>: made, or removed and made again (new inode)
#   convert             v<t>: a file becomes a directory and back
#   rename              ra<t> <-> rb<t>, every other time over an
#                       existing target (which is replaced)
#   hard links          h<t> gets a new link each time, the oldest name
#                       of the inode goes when it has more than three
# After every single operation, every mount must list exactly the names
# of a model of the directory, and lstat of every name must agree with
# the model on every mount: inode number (the one the acting mount saw
# when it was made; hard links share it), type and link count; the
# directory's own link count too.
. "$(dirname "$0")/../funcs.sh"

t_cluster 3
M=("${T_CMNT[@]}")
t_watchdog 240
mkdir "${M[0]}/d" || t_fail "mkdir d"

python3 - "${M[@]}" <<'PY' || t_fail "the mounts disagree with the model (above)"
import os, stat, sys
mounts = sys.argv[1:4]
ROUNDS = 10
hist = []

class Obj:
    def __init__(self, kind):
        self.kind, self.ino = kind, None

model = {}	# name -> Obj

def p(m, name=""):
    return os.path.join(mounts[m], "d", name) if name else os.path.join(mounts[m], "d")

def fail(msg):
    print("after: " + "; ".join(hist[-8:]), file=sys.stderr)
    print(msg, file=sys.stderr)
    sys.exit(1)

def made(m, name, kind):
    o = Obj(kind)
    o.ino = os.lstat(p(m, name)).st_ino
    model[name] = o
    return o

def check():
    want = sorted(model)
    subdirs = sum(1 for o in model.values() if o.kind == "d")
    for m in range(3):
        try:
            got = sorted(os.listdir(p(m)))
        except OSError as e:
            fail("mount %d: listdir: %s" % (m, e))
        if got != want:
            fail("mount %d lists %s, the model %s (missing %s, extra %s)" %
                 (m, got, want, sorted(set(want) - set(got)), sorted(set(got) - set(want))))
        dst = os.lstat(p(m))
        if dst.st_nlink != 2 + subdirs:
            fail("mount %d: the directory's nlink is %d, want %d" % (m, dst.st_nlink, 2 + subdirs))
        for name, o in model.items():
            try:
                st = os.lstat(p(m, name))
            except OSError as e:
                fail("mount %d: lstat %s: %s" % (m, name, e))
            kind = "d" if stat.S_ISDIR(st.st_mode) else "f" if stat.S_ISREG(st.st_mode) else "?"
            nlink = 2 if o.kind == "d" else sum(1 for x in model.values() if x is o)
            if (st.st_ino, kind, st.st_nlink) != (o.ino, o.kind, nlink):
                fail("mount %d: %s is ino %d type %s nlink %d, want ino %d type %s nlink %d" %
                     (m, name, st.st_ino, kind, st.st_nlink, o.ino, o.kind, nlink))

def op(m, what, fn):
    hist.append("mount %d: %s" % (m, what))
    try:
        fn()
    except OSError as e:
        fail("mount %d: %s failed: %s" % (m, what, e))
    check()

def create(m, name):
    os.close(os.open(p(m, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    made(m, name, "f")

links = {}	# t -> names of h<t>'s inode, oldest first
for r in range(ROUNDS):
    for a in range(3):
        t = (a + r) % 3
        # create / recreate
        c = "c%d" % t
        if c in model:
            old = model[c].ino
            def recreate():
                os.unlink(p(a, c)); del model[c]
                create(a, c)
            op(a, "recreate " + c, recreate)
        else:
            op(a, "create " + c, lambda: create(a, c))
        # convert
        v = "v%d" % t
        if v not in model:
            op(a, "create " + v, lambda: create(a, v))
        elif model[v].kind == "f":
            def to_dir():
                os.unlink(p(a, v)); del model[v]
                os.mkdir(p(a, v)); made(a, v, "d")
            op(a, "convert file %s to a directory" % v, to_dir)
        else:
            def to_file():
                os.rmdir(p(a, v)); del model[v]
                create(a, v)
            op(a, "convert directory %s to a file" % v, to_file)
        # rename, every other time over an existing target
        ra, rb = "ra%d" % t, "rb%d" % t
        if ra not in model and rb not in model:
            op(a, "create " + ra, lambda: create(a, ra))
        src, dst = (ra, rb) if ra in model else (rb, ra)
        if r % 2 and dst not in model:
            op(a, "create rename target " + dst, lambda: create(a, dst))
        def ren():
            os.rename(p(a, src), p(a, dst))
            model[dst] = model.pop(src)
        op(a, "rename %s over %s %s" % (src, "existing" if dst in model else "new", dst), ren)
        # hard links
        names = links.setdefault(t, [])
        if not names:
            h = "h%d" % t
            op(a, "create " + h, lambda: create(a, h))
            names.append(h)
        new = "h%d.%d" % (t, r)
        def link():
            os.link(p(a, names[-1]), p(a, new))
            model[new] = model[names[-1]]
            names.append(new)
        op(a, "link %s to %s" % (new, names[-2] if len(names) > 1 else names[-1]), link)
        if len(names) > 3:
            gone = names.pop(0)
            def unlink():
                os.unlink(p(a, gone)); del model[gone]
            op(a, "unlink hard link " + gone, unlink)
print("%d operations, every mount agreed with the model after each" % len(hist))
PY

# and coreutils agree at the end: sorted names and stat on every mount
for i in 0 1 2; do
	(cd "${M[i]}/d" && ls -A | sort && stat -c '%n %i %F %h' -- * | sort) >"$T_DIR/final.$i" ||
		t_fail "ls/stat on mount $i"
done
cmp -s "$T_DIR/final.0" "$T_DIR/final.1" && cmp -s "$T_DIR/final.0" "$T_DIR/final.2" ||
	t_fail "ls/stat differ between mounts: $(diff "$T_DIR/final.0" "$T_DIR/final.1"; diff "$T_DIR/final.0" "$T_DIR/final.2")"

t_cluster_umount
echo "dirent-consistency: done"
