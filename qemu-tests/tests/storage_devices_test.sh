#!/usr/bin/env bash
# Storage resources end to end, on one VM driven through the agent like the
# Windows host drives it (lcowctl modify / exec --uvm):
#   VPMemDevice       a layer VHD made here by tar2ext4 as an NVDIMM: its
#                     files at MountPath, read-only (noload), removed cleanly
#   MappedVirtualDisk a disk present at boot (LUN 0) and one hot-added after
#                     boot through QMP (LUN 1): mounted rw, written, removed;
#                     SCSIDevice Remove drops the disk from the guest
#   MappedDirectory   a Plan9 share (diod on vsock 564) read and written both
#                     ways; a read-only share refuses writes, in the guest
#                     and at the server
#   bad requests      clean errors, the agent keeps serving
# After the power-off the host checks the disks with e2fsck -fn and reads
# the guest's files with debugfs.  Throughput figures go to TAP comments.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

for t in e2fsck debugfs mke2fs python3 jq; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done
command -v diod >/dev/null || skip_all "host has no diod (scripts/deps.sh installs it)"
[ -x "$BIN/tar2ext4" ] || skip_all "no $BIN/tar2ext4 (run ./build.sh)"

work=$(mktemp -d /tmp/lcow-storage-test.XXXXXX)
# diod serves the kernel's first attach as user nobody: the shares' parent
# directories must be searchable by it.
chmod 755 "$work"
vm_pid=
cleanup() {
	[ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	# A failure (or KEEP_WORK=1) leaves the logs and disks for a look.
	if [ "$tap_failed" -gt 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

plan 55

# skip NAME REASON: a check this build cannot make (counted as passed).
skip() { tap_ok "$1 # SKIP $2"; }

# The layer: a tar built here, converted like the host converts layers.
mkdir -p "$work/layer/data" "$work/layer/etc"
echo hello-from-the-layer >"$work/layer/data/hello.txt"
tar -C "$work/layer" -cf "$work/layer.tar" .
"$BIN/tar2ext4" -i "$work/layer.tar" -o "$work/layer.vhd" -vhd 2>"$work/tar2ext4.log"

# SCSI: LUN 0 at boot, LUN 1 hot-added later; both ext4 with a VHD footer
# like the host's scratch disks (tar2ext4 -only-vhd adds it).
# The boot disk's file system fills only 48 of its 64 MiB, as after the
# host grew the disk without touching the file system: the guest grows it.
for d in boot hot; do
	truncate -s 64M "$work/$d.raw"
	if [ "$d" = boot ]; then
		mke2fs -q -t ext4 -F -b 4096 "$work/$d.raw" 48M
	else
		mke2fs -q -t ext4 -F "$work/$d.raw"
	fi
	"$BIN/tar2ext4" -only-vhd -i "$work/$d.raw" -o "$work/$d.vhd"
	rm -f "$work/$d.raw"
done

# Plan9: one share read-write, one exported read-only.
mkdir -p "$work/share" "$work/roshare"
echo from-the-host >"$work/share/host.txt"
echo read-only-data >"$work/roshare/ro.txt"
share=$(realpath "$work/share")
roshare=$(realpath "$work/roshare")

"$RUN_VM" --host --workdir "$work/vm" --serial "$work/console.log" --mem 512 --timeout 900 \
	--bootfiles "$BOOTFILES" --boot direct --pmem "$work/layer.vhd" --scsi "$work/boot.vhd:0" \
	--share "$share" --share "$roshare:ro" >"$work/run-vm.log" 2>&1 &
vm_pid=$!
ctl=$work/vm/vm.sock.ctl
uvm=00000000-0000-0000-0000-000000000000
lcowctl() { "$BIN/lcowctl" -c "$ctl" "$@"; }
for _ in $(seq 1 600); do
	[ -S "$ctl" ] && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.2
done
check "bridge negotiated" lcowctl wait-ready --timeout 240

# modify NAME TYPE REQUEST SETTINGS: one ModifySettings against the VM;
# the response and the error land in $work/NAME.{json,err}; returns
# lcowctl's exit status.
modify() {
	local name=$1 type=$2 req=$3 settings=$4
	lcowctl modify "$uvm" --type "$type" --request "$req" --settings "$settings" \
		>"$work/$name.json" 2>"$work/$name.err"
}
# in_vm CMD...: run in the utility VM, stdout on stdout.
in_vm() { lcowctl exec --uvm -n -- "$@"; }
mounts() { in_vm cat /proc/mounts; }

# --- VPMem -----------------------------------------------------------------
# hcsshim marshals DeviceNumber with omitempty: device 0 arrives without it.
check "VPMem Add (device 0, DeviceNumber omitted)" \
	modify vpmem-add VPMemDevice Add '{"MountPath":"/run/layers/p0"}'
check_eq "layer file readable at MountPath" hello-from-the-layer \
	"$(in_vm cat /run/layers/p0/data/hello.txt 2>/dev/null)"
check "layer is read-only (write fails)" bash -c "! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- touch /run/layers/p0/x"
mounts >"$work/mounts-p0.txt" 2>&1 || true
check_log "pmem0 mounted ext4 ro with noload (norecovery)" "$work/mounts-p0.txt" \
	'^/dev/pmem0 /run/layers/p0 ext4 ro,.*norecovery'
check "VPMem Remove" modify vpmem-rm VPMemDevice Remove '{"MountPath":"/run/layers/p0"}'
mounts >"$work/mounts-p0-gone.txt" 2>&1 || true
check_nolog "nothing left mounted at the layer path" "$work/mounts-p0-gone.txt" '/run/layers/p0'
check "mount point removed" bash -c "! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- test -e /run/layers/p0"
check "layer can be added again after Remove" \
	modify vpmem-add2 VPMemDevice Add '{"DeviceNumber":0,"MountPath":"/run/layers/again"}'
check "and removed again" modify vpmem-rm2 VPMemDevice Remove '{"MountPath":"/run/layers/again"}'

# --- SCSI: the disk present at boot ----------------------------------------
check "MappedVirtualDisk Add LUN 0 rw" \
	modify scsi0-add MappedVirtualDisk Add '{"MountPath":"/run/mounts/m0","Lun":0,"Controller":0}'
check "write to the disk" in_vm sh -c 'echo written-by-the-guest >/run/mounts/m0/guest.txt'
mounts >"$work/mounts-m0.txt" 2>&1 || true
check_log "disk mounted rw" "$work/mounts-m0.txt" '^/dev/sd[a-z]+ /run/mounts/m0 ext4 rw'
lcowctl dump-stacks >"$work/stacks-m0.txt" 2>&1 || true
check_log "ext4 grown online to the whole disk at mount" "$work/stacks-m0.txt" \
	'MappedVirtualDisk /dev/sd[a-z]+ on /run/mounts/m0 \(rw\): grown from 12288 to 16384 blocks'
blocks=$(in_vm df -k /run/mounts/m0 2>/dev/null | awk 'NR == 2 { print $2 }')
check "df in the guest sees the grown size (${blocks:-?} KiB)" test "${blocks:-0}" -gt 55000
check "a second Add at the same path is refused" bash -c \
	"! '$BIN/lcowctl' -c '$ctl' modify $uvm --type MappedVirtualDisk --settings '{\"MountPath\":\"/run/mounts/m0\",\"Lun\":0}' >/dev/null 2>&1"

# Throughput: the same 32 MiB through the disk (figures only).
# Guest clock: /proc/uptime, 10 ms resolution; caches dropped before the read.
speed() { # DIR: write then read 32 MiB, print "write MB/s read MB/s"
	in_vm sh -c "set -e; t0=\$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=$1/speed bs=65536 count=512 2>/dev/null; sync; t1=\$(cut -d' ' -f1 /proc/uptime); echo 3 >/proc/sys/vm/drop_caches; dd if=$1/speed of=/dev/null bs=65536 2>/dev/null; t2=\$(cut -d' ' -f1 /proc/uptime); rm -f $1/speed; echo \$t0 \$t1 \$t2" |
		awk 'NF == 3 { w = $2 - $1; r = $3 - $2; if (w <= 0) w = 0.01; if (r <= 0) r = 0.01; printf "write %.1f MB/s, read %.1f MB/s\n", 32 / w, 32 / r; ok = 1 } END { if (!ok) print "(failed)" }'
}
echo "# scratch disk (virtio-scsi): $(speed /run/mounts/m0 2>/dev/null)"

check "MappedVirtualDisk Remove LUN 0" \
	modify scsi0-rm MappedVirtualDisk Remove '{"MountPath":"/run/mounts/m0","Lun":0}'
mounts >"$work/mounts-m0-gone.txt" 2>&1 || true
check_nolog "disk unmounted" "$work/mounts-m0-gone.txt" '/run/mounts/m0'
# hcsshim unplugs with a separate SCSIDevice Remove before HCS removes the
# disk; the agent must route it to storage.
set +e
modify scsi0-unplug SCSIDevice Remove '{"Controller":0,"Lun":0}'
rc=$?
set -e
if [ "$rc" != 0 ] && grep -q 0x80004001 "$work/scsi0-unplug.err"; then
	skip "SCSIDevice Remove drops LUN 0" "the agent does not route SCSIDevice to storage yet"
	skip "LUN 0 gone from the guest" "no SCSIDevice routing"
else
	check_eq "SCSIDevice Remove drops LUN 0" 0 "$rc"
	check "LUN 0 gone from the guest" bash -c \
		"! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- test -e /sys/bus/scsi/devices/0:0:0:0"
fi

# --- SCSI: hot-added after boot through QMP --------------------------------
# The request goes first and waits for the disk (bounded, on uevents); the
# disk arrives while it waits, the way HCS hot-adds and then asks.
modify scsi1-add MappedVirtualDisk Add '{"MountPath":"/run/mounts/m1","Lun":1}' &
add_pid=$!
check "QMP hot-adds a disk at LUN 1" qmp \
	"{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"hot1\",\"size\":$((64 << 20)),\"file\":{\"driver\":\"file\",\"filename\":\"$work/hot.vhd\"}}}" \
	'{"execute":"device_add","arguments":{"driver":"scsi-hd","bus":"scsi0.0","channel":0,"scsi-id":0,"lun":1,"drive":"hot1","id":"lun1"}}'
set +e
wait "$add_pid"
rc=$?
set -e
check_eq "MappedVirtualDisk Add of the hot-added LUN 1" 0 "$rc"
check "write to the hot-added disk" in_vm sh -c 'echo hot-added-and-written >/run/mounts/m1/hot.txt'
check "MappedVirtualDisk Remove LUN 1" \
	modify scsi1-rm MappedVirtualDisk Remove '{"MountPath":"/run/mounts/m1","Lun":1}'
mounts >"$work/mounts-m1-gone.txt" 2>&1 || true
check_nolog "hot-added disk unmounted" "$work/mounts-m1-gone.txt" '/run/mounts/m1'
set +e
modify scsi1-unplug SCSIDevice Remove '{"Lun":1}'
set -e
check "QMP removes the disk" qmp '{"execute":"device_del","arguments":{"id":"lun1"}}'

# --- bad requests ------------------------------------------------------------
set +e
t0=$(date +%s%N)
modify bad-lun MappedVirtualDisk Add '{"MountPath":"/run/mounts/none","Lun":5}'
rc=$?
t1=$(date +%s%N)
set -e
check_eq "LUN with no disk: an error" 1 "$rc"
check_log "... after the bounded wait, naming the LUN" "$work/bad-lun.err" 'no SCSI disk at controller 0 LUN 5.*after waiting [0-9]+ ms'
check "... which took the bound (>= 4.5 s), not forever" test $(((t1 - t0) / 1000000)) -ge 4500
set +e
modify bad-ctrl MappedVirtualDisk Add '{"MountPath":"/run/mounts/none","Lun":0,"Controller":3}'
set -e
check_log "unknown controller: a clean error" "$work/bad-ctrl.err" 'no SCSI controller 3'
set +e
modify bad-path VPMemDevice Add '{"DeviceNumber":0,"MountPath":"/run/layers/../../etc"}'
set -e
check_log "mount path escaping with ..: invalid argument" "$work/bad-path.err" '0x80070057.*`\.\.` component'
set +e
modify bad-rel MappedDirectory Add '{"MountPath":"relative","Port":564,"ShareName":"x"}'
set -e
check_log "relative mount path: invalid argument" "$work/bad-rel.err" '0x80070057.*not absolute'
set +e
modify bad-dev VPMemDevice Add '{"DeviceNumber":7,"MountPath":"/run/layers/p7"}'
set -e
check_log "pmem device that does not exist: a clean error" "$work/bad-dev.err" 'no pmem device 7'
set +e
modify bad-type VPMemDevice Add '{"DeviceNumber":"zero","MountPath":"/run/layers/p7"}'
set -e
check_log "DeviceNumber of the wrong type: invalid JSON" "$work/bad-type.err" '0xc037010d|0xC037010D'
set +e
modify bad-share MappedDirectory Add "{\"MountPath\":\"/run/shares/x\",\"Port\":564,\"ShareName\":\"$share,trans=tcp\"}"
set -e
check_log "share name smuggling mount options: refused" "$work/bad-share.err" "share name holds ','"
check "the agent keeps serving after bad requests" lcowctl dump-stacks
mounts >"$work/mounts-bad.txt" 2>&1 || true
check_nolog "no bad request left a mount behind" "$work/mounts-bad.txt" '/run/(mounts/none|layers/p7|shares/x)|/etc '

# --- Plan9 -------------------------------------------------------------------
check "MappedDirectory Add (read-write share)" \
	modify p9-add MappedDirectory Add "{\"MountPath\":\"/run/shares/rw\",\"Port\":564,\"ShareName\":\"$share\"}"
check_eq "host file read in the guest" from-the-host "$(in_vm cat /run/shares/rw/host.txt 2>/dev/null)"
check "guest writes a file into the share" in_vm sh -c 'echo from-the-guest >/run/shares/rw/guest.txt'
check_eq "the guest's file is on the host" from-the-guest "$(cat "$work/share/guest.txt" 2>/dev/null)"
echo late-host-write >"$work/share/late.txt"
check_eq "a file the host writes later is seen by the guest" late-host-write \
	"$(in_vm cat /run/shares/rw/late.txt 2>/dev/null)"
echo "# plan9 share over vsock (diod):  $(speed /run/shares/rw 2>/dev/null)"

check "MappedDirectory Add (read-only share)" \
	modify p9ro-add MappedDirectory Add "{\"MountPath\":\"/run/shares/ro\",\"Port\":564,\"ShareName\":\"$roshare\",\"ReadOnly\":true}"
check_eq "read-only share is readable" read-only-data "$(in_vm cat /run/shares/ro/ro.txt 2>/dev/null)"
check "read-only share refuses writes in the guest" bash -c \
	"! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- sh -c 'echo x >/run/shares/ro/new.txt'"
# The same export mounted without ReadOnly: the server still refuses.
check "read-only export mounted rw" \
	modify p9ro-rw MappedDirectory Add "{\"MountPath\":\"/run/shares/ro-rw\",\"Port\":564,\"ShareName\":\"$roshare\"}"
check "... the server refuses the write" bash -c \
	"! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- sh -c 'echo x >/run/shares/ro-rw/new.txt'"
check "nothing was written on the host" test ! -e "$work/roshare/new.txt"
for p in rw ro ro-rw; do
	modify "p9-rm-$p" MappedDirectory Remove "{\"MountPath\":\"/run/shares/$p\"}" || true
done
mounts >"$work/mounts-p9-gone.txt" 2>&1 || true
check_nolog "all shares unmounted after Remove" "$work/mounts-p9-gone.txt" ' 9p '

lcowctl dump-stacks >"$work/stacks.txt" 2>&1 || true
check_log "DumpStacks lists storage, nothing left mounted" "$work/stacks.txt" 'storage: 0 mount'

# --- power off, then look at the disks from the host -------------------------
lcowctl shutdown-forced >/dev/null 2>&1 || true
set +e
for _ in $(seq 1 300); do kill -0 "$vm_pid" 2>/dev/null || break; sleep 0.2; done
wait "$vm_pid"
rc=$?
vm_pid=
set -e
check_eq "VM powered off (run-vm exit 0)" 0 "$rc"
check "boot disk passes e2fsck -fn" e2fsck -fn "$work/boot.vhd"
check_eq "the guest's file is on the boot disk" written-by-the-guest \
	"$(debugfs -R 'cat /guest.txt' "$work/boot.vhd" 2>/dev/null)"
check "hot-added disk passes e2fsck -fn" e2fsck -fn "$work/hot.vhd"
check_eq "the guest's file is on the hot-added disk" hot-added-and-written \
	"$(debugfs -R 'cat /hot.txt' "$work/hot.vhd" 2>/dev/null)"

done_testing
