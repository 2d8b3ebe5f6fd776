#!/usr/bin/env bash
# The storage module's asynchronous path (storage_modify_async: uevent
# socket + timerfd in an event loop) on real devices, without the agent:
# storage-probe (gcs-agent/storage/tests/storage_probe.c) runs in the VM in
# init's one-shot mode from an extra initrd, and
#   - a request for LUN 2 goes pending; the host then hot-adds a disk
#     there through QMP, and the request completes on the uevent, long
#     before its bound (30 s here, so a slow host cannot make it flaky),
#     mounts it, and the guest writes to it;
#   - a request for a LUN that never comes fails after the bound;
#   - the synchronous path (storage_modify) waits the same way;
#   - EnsureFilesystem formats a blank disk (mkfs.ext4 as a child watched
#     through its pidfd) and mounts it;
#   - VPMem Add/Remove and SCSIDevice Remove (the unplug) on real devices.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

probe=${STORAGE_PROBE:-$OUT/build/guest/gcs-agent/storage/storage-probe}
[ -x "$probe" ] || skip_all "no $probe (make all)"
for t in cpio gzip python3 mke2fs debugfs e2fsck; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done
[ -x "$BIN/tar2ext4" ] || skip_all "no $BIN/tar2ext4 (run ./build.sh)"

work=$(mktemp -d /tmp/lcow-storage-async-test.XXXXXX)
vm_pid=
cleanup() {
	[ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	if [ "$tap_failed" -gt 0 ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

plan 18

# The layer and the disks.
mkdir -p "$work/layer/data"
echo async-layer >"$work/layer/data/hello.txt"
tar -C "$work/layer" -cf "$work/layer.tar" .
"$BIN/tar2ext4" -i "$work/layer.tar" -o "$work/layer.vhd" -vhd 2>/dev/null
for d in boot hot; do
	truncate -s 32M "$work/$d.img"
	mke2fs -q -t ext4 -F "$work/$d.img"
done
# LUN 1: blank, for EnsureFilesystem.
truncate -s 64M "$work/blank.img"

# The probe's script, and the probe, in an initrd appended to the image's
# (the kernel unpacks concatenated archives in order).
mkdir -p "$work/extra/bin" "$work/extra/probe"
cp "$probe" "$work/extra/bin/storage-probe"
cat >"$work/extra/probe/script" <<'EOS'
{"ResourceType":"VPMemDevice","Settings":{"MountPath":"/run/layers/a"}}
sh grep -q async-layer /run/layers/a/data/hello.txt
{"RequestType":"Remove","ResourceType":"VPMemDevice","Settings":{"MountPath":"/run/layers/a"}}
sh ! grep -q /run/layers/a /proc/mounts
wait 30000
sh echo PROBE-WAITING-FOR-LUN-2 >/dev/console
{"ResourceType":"MappedVirtualDisk","Settings":{"MountPath":"/run/mounts/hot","Lun":2}}
sh echo written-after-hot-add >/run/mounts/hot/hot.txt
{"RequestType":"Remove","ResourceType":"MappedVirtualDisk","Settings":{"MountPath":"/run/mounts/hot","Lun":2}}
{"RequestType":"Remove","ResourceType":"SCSIDevice","Settings":{"Lun":2}}
sh ! test -e /sys/bus/scsi/devices/0:0:0:2
wait 5000
{"ResourceType":"MappedVirtualDisk","Settings":{"MountPath":"/run/mounts/never","Lun":6}}
{"ResourceType":"MappedVirtualDisk","Settings":{"MountPath":"/run/mounts/fresh","Lun":1,"EnsureFilesystem":true,"Filesystem":"ext4"}}
sh echo on-a-fresh-fs >/run/mounts/fresh/f.txt && grep -q '/run/mounts/fresh ext4 rw' /proc/mounts
{"RequestType":"Remove","ResourceType":"MappedVirtualDisk","Settings":{"MountPath":"/run/mounts/fresh","Lun":1}}
sync {"ResourceType":"MappedVirtualDisk","Settings":{"MountPath":"/run/mounts/never","Lun":7}}
EOS
(cd "$work/extra" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -n) >"$work/extra.cpio.gz"
mkdir -p "$work/boot"
# A zero word ends the LZ4 initrd for the kernel (its unlz4 otherwise reads
# the next archive as one more block); the unpacker skips the zeros.
{ cat "$BOOTFILES/initrd.img"; printf '\0\0\0\0'; cat "$work/extra.cpio.gz"; } >"$work/boot/initrd.img"
ln -s "$(realpath "$BOOTFILES/vmlinux")" "$work/boot/vmlinux"

console=$work/console.log
: >"$console"
"$RUN_VM" --bootfiles "$work/boot" --boot direct --mem 256 --serial "$console" --timeout 600 \
	--workdir "$work/vm" --pmem "$work/layer.vhd" --scsi "$work/boot.img:0" --scsi "$work/blank.img:1" \
	-- /bin/sh -c "/bin/storage-probe /probe/script >/dev/console 2>&1" >"$work/run-vm.log" 2>&1 &
vm_pid=$!

# When the probe says it waits for LUN 2, hot-add the disk there.
timeout 300 tail -n +1 -f "$console" | grep -q -m1 PROBE-WAITING-FOR-LUN-2 || true
qmp "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"hot2\",\"file\":{\"driver\":\"file\",\"filename\":\"$work/hot.img\"}}}" \
	'{"execute":"device_add","arguments":{"driver":"scsi-hd","bus":"scsi0.0","channel":0,"scsi-id":0,"lun":2,"drive":"hot2","id":"lun2"}}' \
	>"$work/qmp.log" 2>&1 && echo hot-added >>"$work/qmp.log"
check_log "QMP hot-added a disk at LUN 2" "$work/qmp.log" '^hot-added$'

set +e
wait "$vm_pid"
rc=$?
vm_pid=
set -e
sed -i 's/\r$//' "$console"
check_eq "VM ran the probe and powered off" 0 "$rc"
check_log "VPMem Add (async path)" "$console" '^ok 1 [0-9]+ms$'
check_log "layer file visible" "$console" '^sh 2 rc=0$'
check_log "VPMem Remove, nothing left mounted" "$console" '^sh 4 rc=0$'
check_log "LUN 2 Add went pending, then completed" "$console" '^ok 7 pending [0-9]+ms$'
ms=$(sed -n 's/^ok 7 pending \([0-9]*\)ms$/\1/p' "$console")
echo "# LUN 2: pending ${ms:-?} ms until the hot-added disk was mounted"
# The bound is 30 s here, so a disk found only by the last look at the
# deadline would show ~30000 ms.
check "... on the uevent, long before the 30 s bound" test "${ms:-99999}" -lt 20000
check_log "the guest wrote to the hot-added disk" "$console" '^sh 8 rc=0$'
check_log "MappedVirtualDisk Remove" "$console" '^ok 9 [0-9]+ms$'
check_log "SCSIDevice Remove dropped the disk" "$console" '^sh 11 rc=0$'
check_log "LUN that never comes: error after the bound (async)" "$console" \
	'^error 13 errno=2 (4[5-9][0-9][0-9]|5[0-9]{3})ms: no SCSI disk at controller 0 LUN 6'
check_log "... and the same bound synchronously" "$console" \
	'^error 17 errno=2 (4[5-9][0-9][0-9]|5[0-9]{3})ms: no SCSI disk at controller 0 LUN 7'
if ! grep -q '^error 14 .*no mkfs.ext4' "$console"; then
	check_log "EnsureFilesystem formats the blank LUN 1 (mkfs as a watched child) and mounts it" \
		"$console" '^ok 14 pending [0-9]+ms$'
	check_log "... a usable ext4, mounted rw" "$console" '^sh 15 rc=0$'
	check "... which the host finds clean" e2fsck -fn "$work/blank.img"
	check_eq "... holding the guest's file" on-a-fresh-fs "$(debugfs -R 'cat /f.txt' "$work/blank.img" 2>/dev/null)"
else
	for n in "EnsureFilesystem formats the blank LUN 1" "a usable ext4" "host finds it clean" "holding the guest's file"; do
		tap_ok "$n # SKIP the image has no mkfs.ext4"
	done
fi
check_log "nothing registered at the end" "$console" '^storage: 0 mount\(s\), 0 pending$'
check_eq "the hot-added disk holds the guest's file" written-after-hot-add \
	"$(debugfs -R 'cat /hot.txt' "$work/hot.img" 2>/dev/null)"

done_testing
