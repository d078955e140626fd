#!/usr/bin/env bash
# tools/mount.scoutfs, the mount(8) helper: it takes mount(8)'s arguments in
# any order, drops the options only mount(8) uses and execs exactly
# `scoutfsd -o REST SPEC DIR`; -f runs nothing, -v prints the command, a
# missing metadev_path= or DIR is refused with exit 1.  scoutfsd is a stub
# that records its argv.
. "$(dirname "$0")/../funcs.sh"

: "${SFS_SOURCE_DIR:?run through meson test or test/run.sh}"
HELPER="$SFS_SOURCE_DIR/tools/mount.scoutfs"
[ -f "$HELPER" ] || t_fail "no mount helper at $HELPER"

ARGV="$T_DIR/argv"
STUB="$T_DIR/stub-scoutfsd"
cat >"$STUB" <<EOF
#!/bin/sh
: >"$ARGV"
for a in "\$@"; do printf '%s\n' "\$a" >>"$ARGV"; done
exit 0
EOF
chmod +x "$STUB"
export SCOUTFSD="$STUB"

OUT="$T_DIR/out" ERR="$T_DIR/err"

# helper ARGS...: run the helper (through sh, as mount(8) would exec it),
# the stub's argv left in $ARGV, stdout in $OUT, stderr in $ERR
helper() {
	rm -f "$ARGV"
	sh "$HELPER" "$@" >"$OUT" 2>"$ERR"
}

# expect_argv WHAT ARG...: the stub ran with exactly these arguments
expect_argv() {
	local what=$1 want got
	shift
	[ -f "$ARGV" ] || t_fail "$what: scoutfsd did not run (stderr: $(cat "$ERR"))"
	want=$(printf '%s\n' "$@")
	got=$(cat "$ARGV")
	[ "$got" = "$want" ] ||
		t_fail "$what: scoutfsd got argv [$(echo "$got" | paste -sd' ')], expected [$(echo "$want" | paste -sd' ')]"
}

# ok WHAT HELPER-ARGS...: the helper ran and exited 0, nothing on stderr
ok() {
	local what=$1 rc
	shift
	helper "$@"
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "$what: helper exited $rc: $(cat "$ERR")"
	[ -s "$ERR" ] && t_fail "$what: helper wrote to stderr: $(cat "$ERR")"
	return 0
}

D=/dev/scoutfs-data M=/mnt/scoutfs META=metadev_path=/dev/scoutfs-meta

# mount(8)'s order: options after the positionals
ok "options after" "$D" "$M" -o "$META,quorum_slot_nr=0"
expect_argv "options after" -o "$META,quorum_slot_nr=0" "$D" "$M"
[ -s "$OUT" ] && t_fail "without -v the helper printed: $(cat "$OUT")"

# options before, flags mixed in, -t given
ok "options before" -s -o "$META,acl" -n -t scoutfs "$D" "$M"
expect_argv "options before" -o "$META,acl" "$D" "$M"
ok "options between" "$D" -o"$META" -t scoutfs "$M"
expect_argv "options between" -o "$META" "$D" "$M"

# options only mount(8), fstab and systemd care about are dropped; the
# rest keep their order; several -o lists are joined
ok "ignored options" "$D" "$M" -o "rw,defaults,$META,_netdev,nofail,x-systemd.requires=foo,allow_other"
expect_argv "ignored options" -o "$META,allow_other" "$D" "$M"
ok "more ignored options" "$D" "$M" -o "auto,noauto,user,nouser,users,owner,group,loop" \
	-o "comment=x,$META" -o "quorum_slot_nr=2,,data_prealloc_blocks=4096,fsname=vol 1"
expect_argv "more ignored options" -o "$META,quorum_slot_nr=2,data_prealloc_blocks=4096,fsname=vol 1" "$D" "$M"

# paths with spaces stay whole
ok "spaces" "$T_DIR/my data" "$T_DIR/my mnt" -o "metadev_path=$T_DIR/my meta"
expect_argv "spaces" -o "metadev_path=$T_DIR/my meta" "$T_DIR/my data" "$T_DIR/my mnt"

# -f (fake) runs nothing, whatever the other flags
ok "fake" -f "$D" "$M" -o "$META"
[ -f "$ARGV" ] && t_fail "-f ran scoutfsd"
ok "fake, clustered flags" "$D" "$M" -sfn -o "$META"
[ -f "$ARGV" ] && t_fail "-sfn ran scoutfsd"

# -v prints the command, then runs it
ok "verbose" -v "$D" "$M" -o "_netdev,$META"
expect_argv "verbose" -o "$META" "$D" "$M"
want="mount.scoutfs: running $STUB -o $META $D $M"
[ "$(cat "$OUT")" = "$want" ] || t_fail "-v printed '$(cat "$OUT")', expected '$want'"
# -fv prints it and runs nothing
ok "fake verbose" -fv "$D" "$M" -o "$META"
[ -f "$ARGV" ] && t_fail "-fv ran scoutfsd"
[ "$(cat "$OUT")" = "$want" ] || t_fail "-fv printed '$(cat "$OUT")', expected '$want'"

# -N NAMESPACE runs scoutfsd inside that mount namespace through nsenter
NS=/proc/$$/ns/mnt
ok "namespace, fake" -fv -N "$NS" "$D" "$M" -o "$META"
want="mount.scoutfs: running nsenter --mount=$NS $STUB -o $META $D $M"
[ "$(cat "$OUT")" = "$want" ] || t_fail "-fv -N printed '$(cat "$OUT")', expected '$want'"
if nsenter --mount="$NS" true 2>/dev/null; then
	ok "namespace" "$D" "$M" -N"$NS" -o "$META"
	expect_argv "namespace" -o "$META" "$D" "$M"
fi

# refusals: one stderr line, exit 1 (mount(8)'s usage error), nothing run
refuse() {	# PATTERN WHAT HELPER-ARGS...
	local pat=$1 what=$2 rc
	shift 2
	helper "$@"
	rc=$?
	[ "$rc" -eq 1 ] || t_fail "$what: helper exited $rc, expected 1 (stderr: $(cat "$ERR"))"
	[ "$(wc -l <"$ERR")" -eq 1 ] || t_fail "$what: $(wc -l <"$ERR") stderr lines: $(cat "$ERR")"
	grep -Eq -- "$pat" "$ERR" || t_fail "$what: said '$(cat "$ERR")', expected '$pat'"
	[ -f "$ARGV" ] && t_fail "$what: scoutfsd ran"
	return 0
}
refuse '^mount\.scoutfs: metadev_path=PATH is required$' "no metadev_path" \
	"$D" "$M" -o "rw,quorum_slot_nr=0"
refuse '^mount\.scoutfs: metadev_path=PATH is required$' "no options" "$D" "$M"
refuse '^mount\.scoutfs: metadev_path=PATH is required$' "empty metadev_path" \
	"$D" "$M" -o "metadev_path="
refuse '^usage: mount\.scoutfs SPEC DIR' "no DIR" "$D" -o "$META"
refuse '^usage: mount\.scoutfs SPEC DIR' "no arguments"
refuse 'unexpected argument' "three positionals" "$D" "$M" /extra -o "$META"
refuse 'unknown option' "unknown flag" -x "$D" "$M" -o "$META"
refuse 'needs an argument' "-o without its list" "$D" "$M" -o
# the metadev_path check holds with -f too
refuse '^mount\.scoutfs: metadev_path=PATH is required$' "fake, no metadev_path" -f "$D" "$M"

# an unusable $SCOUTFSD is an error of its own (2), not a shell's 127
SCOUTFSD="$T_DIR/nope" helper "$D" "$M" -o "$META"
rc=$?
[ "$rc" -eq 2 ] || t_fail "a missing \$SCOUTFSD: exit $rc, expected 2"
grep -q "$T_DIR/nope" "$ERR" || t_fail "a missing \$SCOUTFSD: said '$(cat "$ERR")'"

# without $SCOUTFSD, the scoutfsd next to the helper wins over PATH
mkdir "$T_DIR/sbin" "$T_DIR/path"
cp "$HELPER" "$T_DIR/sbin/mount.scoutfs"
cp "$STUB" "$T_DIR/sbin/scoutfsd"
printf '#!/bin/sh\necho path >"%s"\n' "$ARGV" >"$T_DIR/path/scoutfsd"
chmod +x "$T_DIR/path/scoutfsd"
rm -f "$ARGV"
env -u SCOUTFSD PATH="$T_DIR/path:$PATH" sh "$T_DIR/sbin/mount.scoutfs" "$D" "$M" -o "$META" ||
	t_fail "helper next to a scoutfsd failed"
expect_argv "scoutfsd next to the helper" -o "$META" "$D" "$M"
# ... and through a symlink to the helper (as /sbin/mount.scoutfs would be)
ln -s "$T_DIR/sbin/mount.scoutfs" "$T_DIR/path/mount.scoutfs"
rm -f "$ARGV" "$T_DIR/path/scoutfsd"
env -u SCOUTFSD PATH="$T_DIR/path:$PATH" "$T_DIR/path/mount.scoutfs" "$D" "$M" -o "$META" ||
	t_fail "helper through a symlink failed"
expect_argv "scoutfsd next to the symlinked helper" -o "$META" "$D" "$M"
# ... else PATH's
rm "$T_DIR/sbin/scoutfsd"
printf '#!/bin/sh\necho path >"%s"\n' "$ARGV" >"$T_DIR/path/scoutfsd"
chmod +x "$T_DIR/path/scoutfsd"
rm -f "$ARGV"
env -u SCOUTFSD PATH="$T_DIR/path:$PATH" sh "$T_DIR/sbin/mount.scoutfs" "$D" "$M" -o "$META" ||
	t_fail "helper with scoutfsd in PATH failed"
expect_argv "scoutfsd from PATH" path

echo "mount helper arguments: ok"
