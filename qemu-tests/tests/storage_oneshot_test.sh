#!/usr/bin/env bash
# One-shot utility VMs (scripts/lcow-oneshot): a scratch disk attached as
# SCSI LUN 0 is formatted in the guest by init's one-shot program, the VM
# powers off by itself, and the host finds a clean file system (e2fsck
# -fn) of the kind the Windows host makes (ext4, no journal,
# sparse_super2), with the VHD footer intact.  Bad usage is refused
# without booting anything.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

for t in e2fsck dumpe2fs; do
	command -v "$t" >/dev/null || skip_all "host has no $t (apt-get install e2fsprogs)"
done
[ -x "$BIN/tar2ext4" ] || skip_all "no $BIN/tar2ext4 (run ./build.sh)"
ONESHOT=$ROOT/scripts/lcow-oneshot

work=$(mktemp -d /tmp/lcow-oneshot-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

plan 13

# A new VHD, made and formatted in one go.
vhd=$work/scratch.vhd
start=$(date +%s%N)
check "format --create 256M scratch.vhd" \
	"$ONESHOT" format --bootfiles "$BOOTFILES" --log "$work/console.log" --create 256M "$vhd"
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
echo "# one-shot format of a 256 MiB VHD: $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s wall (boot, mkfs, power-off)"
check_log "the VM powered itself off" "$work/console.log" 'reboot: Power down'
check "the result passes e2fsck -fn" e2fsck -fn "$vhd"
check_eq "the VHD keeps its footer" conectix "$(tail -c 512 "$vhd" | head -c 8)"
check_eq "data is 256 MiB + the 512-byte footer" $((256 * 1024 * 1024 + 512)) "$(stat -c %s "$vhd")"
dumpe2fs -h "$vhd" >"$work/dumpe2fs.txt" 2>/dev/null || true
if grep -q 'formatted /dev/sd[a-z]* as ext4' "$work/console.log"; then
	check_log "ext4 (extents)" "$work/dumpe2fs.txt" '^Filesystem features:.* extent'
	check_nolog "no journal, as the host formats scratch" "$work/dumpe2fs.txt" '^Filesystem features:.*has_journal'
	check_log "sparse_super2" "$work/dumpe2fs.txt" '^Filesystem features:.*sparse_super2'
else
	for n in "ext4 (extents)" "no journal" "sparse_super2"; do
		tap_n=$((tap_n + 1)); tap_passed=$((tap_passed + 1))
		echo "ok $tap_n - $n # SKIP the image has no mkfs.ext4 (busybox mke2fs made ext2)"
	done
fi
check_log "block count covers the disk (256 MiB)" "$work/dumpe2fs.txt" \
	'^Block count: +(262144|65536)$'

# An existing raw disk: formatted in place, whatever was on it.
raw=$work/raw.img
head -c 1048576 /dev/urandom >"$raw"
truncate -s 64M "$raw"
check "format an existing raw disk holding garbage" \
	"$ONESHOT" format --bootfiles "$BOOTFILES" "$raw"
check "the raw disk passes e2fsck -fn" e2fsck -fn "$raw"

# Usage errors: exit 2, nothing booted, nothing created.
set +e
"$ONESHOT" format --create 12345 "$work/odd.vhd" >/dev/null 2>&1
rc=$?
set -e
check_eq "a size that is not whole 4 KiB blocks: usage error (2)" 2 "$rc"
check "... and no disk was left behind" test ! -e "$work/odd.vhd"

done_testing
