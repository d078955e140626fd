#!/usr/bin/env bash
# Every refusal of mkfs: one clear stderr line naming the problem, a
# non-zero exit, and both devices left byte for byte as they were.
. "$(dirname "$0")/../funcs.sh"

Q="-Q 0,127.0.0.1,42000"
t_images 72M 8M

# give the images recognisable contents where mkfs would write
for f in "$META" "$DATA"; do
	for off in 0 65536 69632 131072 196608 67371008; do
		head -c 4096 /dev/urandom | dd of="$f" bs=4096 seek=$((off / 4096)) conv=notrunc status=none
	done
done
before=$(t_sum "$META" "$DATA")

untouched() {
	[ "$(t_sum "$META" "$DATA")" = "$before" ] || t_fail "devices changed after: $*"
}

refuse() {
	local pat=$1
	shift
	t_expect_fail "$pat" "$@"
	untouched "$@"
}

# device sizes
refuse 'under the 64.00 GiB minimum; use -A' "$SCOUTFS_MKFS" $Q "$META" "$DATA"
refuse 'meta device .* too small for a volume' "$SCOUTFS_MKFS" -A -m 1M $Q "$META" "$DATA"
refuse 'data device .* too small for a volume' "$SCOUTFS_MKFS" -A -d 200K $Q "$META" "$DATA"
refuse 'smaller than the requested maximum' "$SCOUTFS_MKFS" -A -m 1G $Q "$META" "$DATA"
refuse 'invalid size' "$SCOUTFS_MKFS" -A -m lots $Q "$META" "$DATA"
refuse 'invalid size' "$SCOUTFS_MKFS" -A -d 12Q $Q "$META" "$DATA"

# quorum slots
refuse 'at least one quorum slot' "$SCOUTFS_MKFS" -A "$META" "$DATA"
refuse 'must be 0 to 14' "$SCOUTFS_MKFS" -A -Q 15,127.0.0.1,42000 "$META" "$DATA"
refuse 'slot 1 is given more than once' "$SCOUTFS_MKFS" -A -Q 1,127.0.0.1,42000 -Q 1,127.0.0.2,42000 "$META" "$DATA"
refuse 'slots 0 and 1 have the same address 127.0.0.1:42000' "$SCOUTFS_MKFS" -A -Q 0,127.0.0.1,42000 -Q 1,127.0.0.1,42000 "$META" "$DATA"
refuse 'not a numeric IPv4 or IPv6 address' "$SCOUTFS_MKFS" -A -Q 0,node1,42000 "$META" "$DATA"
refuse 'not NR,ADDR,PORT' "$SCOUTFS_MKFS" -A -Q 0,127.0.0.1 "$META" "$DATA"
refuse 'port' "$SCOUTFS_MKFS" -A -Q 0,127.0.0.1,0 "$META" "$DATA"
refuse 'multicast' "$SCOUTFS_MKFS" -A -Q 0,239.1.1.1,42000 "$META" "$DATA"
refuse '0.0.0.0/8' "$SCOUTFS_MKFS" -A -Q 0,0.0.0.0,42000 "$META" "$DATA"
refuse 'mix IPv4 and IPv6' "$SCOUTFS_MKFS" -A -Q 0,127.0.0.1,42000 -Q 1,::1,42001 "$META" "$DATA"
refuse 'mix IPv4 and IPv6' "$SCOUTFS_MKFS" -A -Q 3,[fd00::1],42000 -Q 9,10.0.0.9,42001 "$META" "$DATA"

# format version, zones, arguments
refuse 'format version .3. is outside the supported range of 1-2' "$SCOUTFS_MKFS" -A -V 3 $Q "$META" "$DATA"
refuse 'format version .0. is outside' "$SCOUTFS_MKFS" -A -V 0 $Q "$META" "$DATA"
refuse 'data-alloc-zone-blocks 5 must be at least 1048576' "$SCOUTFS_MKFS" -A -z 5 $Q "$META" "$DATA"
refuse 'invalid data-alloc-zone-blocks' "$SCOUTFS_MKFS" -A -z 0 $Q "$META" "$DATA"
refuse 'no data device argument' "$SCOUTFS_MKFS" -A $Q "$META"
refuse 'no metadata device argument' "$SCOUTFS_MKFS" -A $Q
refuse 'unexpected argument' "$SCOUTFS_MKFS" -A $Q "$META" "$DATA" "$DATA"
refuse 'unknown option' "$SCOUTFS_MKFS" -A --bogus $Q "$META" "$DATA"
refuse 'needs an argument' "$SCOUTFS_MKFS" -A "$META" "$DATA" -Q

# wrong devices
refuse 'meta and data devices are the same' "$SCOUTFS_MKFS" -A $Q "$META" "$META"
ln -s "$META" "$T_DIR/meta-link"
refuse 'meta and data devices are the same' "$SCOUTFS_MKFS" -A $Q "$T_DIR/meta-link" "$META"
refuse "data device '$T_DIR/nope': No such file or directory" "$SCOUTFS_MKFS" -A $Q "$META" "$T_DIR/nope"
mkdir "$T_DIR/dir"
refuse 'not a block device or a regular file' "$SCOUTFS_MKFS" -A $Q "$T_DIR/dir" "$DATA"

# the same through the CLI
refuse 'must be 0 to 14' "$SCOUTFS" mkfs -A -Q 99,127.0.0.1,42000 "$META" "$DATA"

# an existing scoutfs volume is kept unless -f
"$SCOUTFS_MKFS" -A $Q "$META" "$DATA" >/dev/null || t_fail "mkfs of a fresh volume failed"
before=$(t_sum "$META" "$DATA")
refuse "meta device .* already contains a scoutfs filesystem .*use -f" "$SCOUTFS_MKFS" -A $Q "$META" "$DATA"
"$SCOUTFS_MKFS" -A -f $Q "$META" "$DATA" >/dev/null || t_fail "mkfs -f over a volume failed"
[ "$(t_sum "$META" "$DATA")" != "$before" ] || t_fail "mkfs -f did not write a new volume"

# a data device holding only a data super is refused too
t_images 72M 8M
"$SCOUTFS_MKFS" -A $Q "$META" "$DATA" >/dev/null || t_fail "mkfs failed"
truncate -s 0 "$META"
truncate -s 72M "$META"
before=$(t_sum "$META" "$DATA")
refuse "data device .* already contains a scoutfs filesystem" "$SCOUTFS_MKFS" -A $Q "$META" "$DATA"

# any signature libblkid knows is refused unless -f
if command -v mkfs.ext4 >/dev/null; then
	t_images 256M 128M
	mkfs.ext4 -q -F "$DATA" || t_fail "mkfs.ext4 failed"
	before=$(t_sum "$META" "$DATA")
	refuse "data device .* already contains a ext4 signature; use -f" "$SCOUTFS_MKFS" -A $Q "$META" "$DATA"
	"$SCOUTFS_MKFS" -A -f $Q "$META" "$DATA" >/dev/null || t_fail "mkfs -f over ext4 failed"
fi

echo "mkfs refusals: ok"
