#!/usr/bin/env bash
# The guest's e2fsprogs (static musl mke2fs, e2fsck, resize2fs: one
# multi-call /sbin/e2fsprogs, the program names symlinks to it) on real
# SCSI disks, in one VM booted in init's one-shot mode:
#   LUN 0  formatted exactly as the Windows host formats scratch disks
#          (mkfs.ext4 -q -E lazy_itable_init=0,nodiscard -O ^has_journal,
#          sparse_super2,^resize_inode), checked, mounted by the guest
#          kernel and written to;
#   LUN 1  formatted at 32 MiB of its 128 MiB, then grown by resize2fs;
#   LUN 2  a filesystem the host corrupted: e2fsck -fy repairs it;
#   LUN 3  formatted by the name mke2fs (no -t): ext2, where mkfs.ext4
#          makes ext4 -- the name reaches the program.
# Each name runs its own program (-V), an unknown name is refused.
# The host then checks every disk with its own e2fsck/dumpe2fs/debugfs.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

for t in e2fsck dumpe2fs debugfs mke2fs; do
	command -v "$t" >/dev/null || skip_all "host has no $t (apt-get install e2fsprogs)"
done

work=$(mktemp -d /tmp/lcow-e2fsprogs-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

names=(mke2fs mkfs.ext4 e2fsck fsck.ext4 resize2fs)
plan 34

# The image must carry the program once and the links the host calls.
# bsdtar reads the initrd whatever its compression (LZ4 legacy or gzip).
bsdtar -tvf "$BOOTFILES/initrd.img" 2>/dev/null >"$work/initrd.txt"
check_log "initrd has /sbin/e2fsprogs, a regular executable" "$work/initrd.txt" '^-rwx.* sbin/e2fsprogs$'
for n in "${names[@]}"; do
	check_log "initrd has /sbin/$n -> e2fsprogs" "$work/initrd.txt" " sbin/${n//./\\.} -> e2fsprogs\$"
done

scratch=$work/scratch.img
grow=$work/grow.img
broken=$work/broken.img
truncate -s 256M "$scratch"
truncate -s 128M "$grow"
truncate -s 64M "$broken"
plain=$work/plain.img
truncate -s 16M "$plain"

# LUN 2: a file, then its inode marked free in the bitmap -- e2fsck must
# find "inode bitmap differences" (host e2fsck -n exits 4 before the guest
# repair, so the check below can fail).
mke2fs -q -t ext4 -F "$broken" >/dev/null
printf 'keep me\n' >"$work/keep"
debugfs -w -R "write $work/keep keep" "$broken" >/dev/null 2>&1
debugfs -w -R "freei keep" "$broken" >/dev/null 2>&1
set +e
e2fsck -fn "$broken" >"$work/broken-before.txt" 2>&1
rc=$?
set -e
check_eq "host: the corrupted disk has uncorrected errors (e2fsck -n exit 4)" 4 "$rc"

# The guest program: no double quotes (kernel command line).  Disks are
# found by LUN, as the agent does, not by probe order.
mkfs_host_opts='-q -E lazy_itable_init=0,nodiscard -O ^has_journal,sparse_super2,^resize_inode'
# shellcheck disable=SC2016 # expanded by the guest's shell
steps=(
	'dev() { echo /dev/$(ls /sys/bus/scsi/devices/0:0:0:$1/block); }'
	'a=$(dev 0)' 'b=$(dev 1)' 'c=$(dev 2)' 'd=$(dev 3)'
	# The first line of -V (resize2fs: of any output) names the program.
	# Full paths: Debian's busybox sh runs its own mke2fs applet for a bare
	# `mke2fs` (standalone shell), never /sbin/mke2fs.
	'for p in mke2fs mkfs.ext4 e2fsck fsck.ext4 resize2fs; do echo V_$p=$(/sbin/$p -V 2>&1 | head -n1); done'
	'echo V_MULTI=$(/sbin/e2fsprogs fsck.ext4 -V 2>&1 | head -n1)'
	'ln -s /sbin/e2fsprogs /mkfs.xfs && /mkfs.xfs $d >/unknown.txt 2>&1; echo UNKNOWN=$?'
	'grep -q unknown.program..mkfs.xfs.*mke2fs,.mkfs.ext4,.e2fsck,.fsck.ext4,.resize2fs /unknown.txt; echo UNKNOWN_MSG=$?'
	'/sbin/mke2fs -q -F $d' 'echo MKE2FS=$?'
	"mkfs.ext4 $mkfs_host_opts \$a" 'echo MKFS=$?'
	'e2fsck -fn $a >/dev/null 2>&1' 'echo FSCK=$?'
	'mkdir -p /mnt/a && mount -t ext4 $a /mnt/a && echo written-by-the-guest >/mnt/a/hello && umount /mnt/a'
	'echo MOUNT=$?'
	"mkfs.ext4 $mkfs_host_opts \$b 32M" 'echo MKFS2=$?'
	'resize2fs $b >/dev/null 2>&1' 'echo RESIZE=$?'
	'e2fsck -fy $c >/dev/null 2>&1' 'echo REPAIR=$?'
	'e2fsck -fn $c >/dev/null 2>&1' 'echo RECHECK=$?'
)
script=$(printf '%s; ' "${steps[@]}")

drives=()
lun=0
for d in "$scratch" "$grow" "$broken" "$plain"; do
	drives+=(--qemu-arg -drive --qemu-arg "file=$d,format=raw,if=none,id=d$lun"
		--qemu-arg -device --qemu-arg "scsi-hd,drive=d$lun,channel=0,scsi-id=0,lun=$lun")
	lun=$((lun + 1))
done

log=$work/console.log
set +e
"$RUN_VM" --bootfiles "$BOOTFILES" --boot direct --mem 256 --serial "$log" --timeout 600 \
	--qemu-arg -device --qemu-arg virtio-scsi-pci "${drives[@]}" \
	-- /bin/sh -c "$script" >"$work/run-vm.log" 2>&1
rc=$?
set -e
sed -i 's/\r$//' "$log" 2>/dev/null || true
check_eq "VM ran the program and powered off (run-vm exit 0)" 0 "$rc"

# One binary, five names: each runs its own program.
for n in "${names[@]}"; do
	case "$n" in mke2fs | mkfs.ext4) p=mke2fs ;; e2fsck | fsck.ext4) p=e2fsck ;; *) p=$n ;; esac
	check_log "guest: $n runs $p" "$log" "^V_${n//./\\.}=$p 1\\.[0-9]+"
done
check_log "guest: 'e2fsprogs fsck.ext4 -V' runs e2fsck" "$log" '^V_MULTI=e2fsck 1\.[0-9]+'
check_log "guest: an unknown name (mkfs.xfs) exits 2" "$log" '^UNKNOWN=2$'
check_log "guest: ... saying so and naming the known programs" "$log" '^UNKNOWN_MSG=0$'
check_log "guest: mkfs.ext4 with the host's options succeeds" "$log" '^MKFS=0$'
check_log "guest: its own e2fsck -fn accepts the new filesystem" "$log" '^FSCK=0$'
check_log "guest: the kernel mounts it and a file is written" "$log" '^MOUNT=0$'

# LUN 0, seen from the host.
check "host: e2fsck -fn accepts the guest-made filesystem" e2fsck -fn "$scratch"
dumpe2fs -h "$scratch" >"$work/scratch.h" 2>/dev/null || true
features=$(sed -n 's/^Filesystem features: *//p' "$work/scratch.h")
has() { [[ " $features " == *" $1 "* ]]; }
check "features: sparse_super2 set" has sparse_super2
check "features: no has_journal, no resize_inode" bash -c "! grep -qwE 'has_journal|resize_inode' <<<'$features'"
check "features: ext4 ones (extent, flex_bg, 64bit, metadata_csum)" \
	bash -c "for f in extent flex_bg 64bit metadata_csum; do grep -qw \$f <<<'$features' || exit 1; done"
# lazy_itable_init=0: every group's inode table was zeroed at mkfs time.
dumpe2fs "$scratch" 2>/dev/null | grep -E '^Group [0-9]+:' >"$work/groups.txt" || true
groups=$(wc -l <"$work/groups.txt")
zeroed=$(grep -c 'ITABLE_ZEROED' "$work/groups.txt" || true)
# (with lazy_itable_init=1,nodiscard no group has the flag)
check "lazy_itable_init=0: all $groups groups have ITABLE_ZEROED" \
	test "$groups" -gt 0 -a "$zeroed" -eq "$groups"
check_eq "host reads the file the guest wrote" written-by-the-guest \
	"$(debugfs -R 'cat /hello' "$scratch" 2>/dev/null)"

# LUN 1: grown to the whole disk.
check_log "guest: mkfs.ext4 of 32 MiB" "$log" '^MKFS2=0$'
check_log "guest: resize2fs succeeds" "$log" '^RESIZE=0$'
bc=$(dumpe2fs -h "$grow" 2>/dev/null | sed -n 's/^Block count: *//p')
bs=$(dumpe2fs -h "$grow" 2>/dev/null | sed -n 's/^Block size: *//p')
check_eq "resize2fs grew the filesystem to the 128 MiB disk" $((128 * 1024 * 1024)) "$((${bc:-0} * ${bs:-0}))"
check "host: e2fsck -fn accepts the grown filesystem" e2fsck -fn "$grow"

# LUN 2: repaired.
check_log "guest: e2fsck -fy repaired the corruption (exit 1)" "$log" '^REPAIR=1$'
check_log "guest: e2fsck -fn is clean afterwards" "$log" '^RECHECK=0$'
check "host: e2fsck -fn accepts the repaired filesystem" e2fsck -fn "$broken"

# LUN 3: mke2fs by that name picks ext2, as mkfs.ext4 picked ext4 above.
check_log "guest: mke2fs (no -t) succeeds" "$log" '^MKE2FS=0$'
plain_features=$(dumpe2fs -h "$plain" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
check "mke2fs made ext2: filetype, no extent, no has_journal" \
	bash -c "grep -qw filetype <<<'$plain_features' && ! grep -qwE 'extent|has_journal' <<<'$plain_features'"

done_testing
