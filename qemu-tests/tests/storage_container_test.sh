#!/usr/bin/env bash
# Storage resources used FROM A CONTAINER, on one VM, driven like hcsshim
# drives it (lcowctl modify / create / exec):
#   VPMemDevice        a busybox layer VHD made here by tar2ext4 (--pmem):
#                      the container's read-only layer in CombinedLayers
#   MappedVirtualDisk  a blank disk (--scsi) formatted by EnsureFilesystem:
#                      the scratch; the container's writes to its root land
#                      in the scratch's upper directory (checked in the VM
#                      and, after power-off, on the host with debugfs)
#   MappedDirectory    a read-write share (--share DIR) bind-mounted rw at
#                      /data (docker run -v DIR:/data): files cross both
#                      ways; a read-only share (--share DIR:ro) bind-mounted
#                      ro at /rodata: readable, the container's write fails;
#                      the rw share bound ro at /data-ro: the same
# Then the container is deleted, every resource Removed, and nothing of
# them is left in /proc/mounts.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/data" && pwd)
UVM=00000000-0000-0000-0000-000000000000

for t in debugfs e2fsck python3 jq; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done
command -v diod >/dev/null || skip_all "host has no diod (scripts/deps.sh installs it)"
[ -x "$BIN/tar2ext4" ] || skip_all "no $BIN/tar2ext4 (run ./build.sh)"
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	skip_all "host has no static busybox (busybox-static)"
fi

vm_work storage-container
# diod serves the kernel's first attach as user nobody: the shares' parent
# directory must be searchable by it.
chmod 755 "$work"

plan 32

# ---- the host side: a layer, a blank scratch disk, two shares ----
mkdir -p "$work/layer/bin" "$work/layer/etc"
for d in proc sys dev tmp root; do mkdir -p "$work/layer/$d"; done
cp "$busybox" "$work/layer/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$work/layer/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/layer/etc/passwd"
printf 'root:x:0:\n' >"$work/layer/etc/group"
echo from-the-layer >"$work/layer/etc/layer.txt"
tar -C "$work/layer" --owner=0 --group=0 -cf "$work/layer.tar" .
"$BIN/tar2ext4" -i "$work/layer.tar" -o "$work/layer.vhd" -vhd 2>"$work/tar2ext4.log"
truncate -s 64M "$work/scratch.raw"
mkdir -p "$work/share" "$work/roshare"
echo from-the-host >"$work/share/host.txt"
echo read-only-data >"$work/roshare/ro.txt"
share=$(realpath "$work/share")
roshare=$(realpath "$work/roshare")

vm_start_host "$work/vm" "$work/run-vm.log" --serial "$work/console.log" --mem 512 --timeout 600 \
	--boot direct --pmem "$work/layer.vhd" --scsi "$work/scratch.raw:0" \
	--share "$share" --share "$roshare:ro"
# modify NAME TYPE REQUEST SETTINGS: response/error in $work/NAME.{json,err}
modify() {
	lcowctl modify "$UVM" --type "$2" --request "$3" --settings "$4" \
		>"$work/$1.json" 2>"$work/$1.err"
}
lines() { tr '\n' ' ' <"$1" | sed 's/ $//'; }

check "bridge negotiated" lcowctl wait-ready --timeout 240

# ---- the resources, added as hcsshim adds them ----
layer=/run/layers/p0
scsi=/run/mounts/scsi/m0
rwdir=/run/mounts/plan9/rw
rodir=/run/mounts/plan9/ro
check "VPMemDevice Add (the busybox layer)" \
	modify pmem-add VPMemDevice Add "{\"DeviceNumber\":0,\"MountPath\":\"$layer\"}"
check "MappedVirtualDisk Add of a blank disk, EnsureFilesystem ext4" \
	modify scsi-add MappedVirtualDisk Add \
	"{\"MountPath\":\"$scsi\",\"Controller\":0,\"Lun\":0,\"EnsureFilesystem\":true,\"Filesystem\":\"ext4\"}"
check "MappedDirectory Add (read-write share)" \
	modify p9-add MappedDirectory Add "{\"MountPath\":\"$rwdir\",\"Port\":564,\"ShareName\":\"$share\"}"
check "MappedDirectory Add (read-only share)" \
	modify p9ro-add MappedDirectory Add \
	"{\"MountPath\":\"$rodir\",\"Port\":564,\"ShareName\":\"$roshare\",\"ReadOnly\":true}"

# ---- the container: pmem layer + scratch on the SCSI disk + two binds ----
id=sc1
scratch=$scsi/scratch/$id
check "CombinedLayers: pmem layer, scratch on the SCSI disk" \
	modify layers-add CombinedLayers Add \
	"{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\",\"Layers\":[{\"Path\":\"$layer\"}],\"ScratchPath\":\"$scratch\"}"
python3 "$DATA/container-config.py" "$id" --arg sleep --arg 1000 >"$work/$id.base.json"
jq --arg rw "$rwdir" --arg ro "$rodir" '.OciSpecification.mounts += [
	{"destination":"/data","type":"bind","source":$rw,"options":["rbind","rw"]},
	{"destination":"/rodata","type":"bind","source":$ro,"options":["rbind","ro"]},
	{"destination":"/data-ro","type":"bind","source":$rw,"options":["rbind","ro"]}]' \
	"$work/$id.base.json" >"$work/$id.json"
run "$work/create.out" lcowctl create "$id" --config "@$work/$id.json"
check_eq "Create with bind mounts of the shares" 0 "$(cat "$work/create.out.rc")"
start_init "$id" "$work/init.out" sleep 1000 || true

run "$work/root.out" lcowctl exec "$id" -n -- /bin/sh -c \
	'cat /etc/layer.txt; echo written-in-the-root >/written.txt && cat /written.txt'
check_eq "the container runs busybox from the pmem layer, writes its root" \
	"from-the-layer written-in-the-root" "$(lines "$work/root.out")"
run "$work/upper.out" in_vm cat "$scratch/upper/written.txt"
check_eq "the write landed in the scratch's upper directory" written-in-the-root "$(cat "$work/upper.out")"
run "$work/layer-untouched.out" in_vm test -e "$layer/written.txt"
check_eq "... not in the layer" 1 "$(cat "$work/layer-untouched.out.rc")"

# the read-write bind
run "$work/rw-read.out" lcowctl exec "$id" -n -- cat /data/host.txt
check_eq "container reads the host's file through the rw bind" from-the-host "$(cat "$work/rw-read.out")"
run "$work/rw-write.out" lcowctl exec "$id" -n -- /bin/sh -c 'echo from-the-container >/data/container.txt'
check_eq "container writes into the rw bind" 0 "$(cat "$work/rw-write.out.rc")"
check_eq "... and the file is on the host" from-the-container "$(cat "$work/share/container.txt" 2>/dev/null)"
echo host-wrote-later >"$work/share/later.txt"
run "$work/rw-later.out" lcowctl exec "$id" -n -- cat /data/later.txt
check_eq "a file the host writes later is read by the container" host-wrote-later "$(cat "$work/rw-later.out")"
run "$work/mnt.out" lcowctl exec "$id" -n -- cat /proc/self/mounts
check_log "/data is the 9p share, rw, in the container" "$work/mnt.out" '^[^ ]+ /data 9p rw[, ]'
check_log "/rodata is the 9p share, ro, in the container" "$work/mnt.out" '^[^ ]+ /rodata 9p ro[, ]'

# the read-only bind
run "$work/ro-read.out" lcowctl exec "$id" -n -- cat /rodata/ro.txt
check_eq "container reads the read-only share" read-only-data "$(cat "$work/ro-read.out")"
run "$work/ro-write.out" lcowctl exec "$id" -n -- /bin/sh -c 'echo x >/rodata/new.txt'
check "the container's write to the ro bind fails" test "$(cat "$work/ro-write.out.rc")" != 0
check "... and nothing was written on the host" test ! -e "$work/roshare/new.txt"
# The `ro` option alone: the read-write share bound ro (a bind of a
# read-only mount is read-only anyway, so /rodata does not show it).
run "$work/rw-as-ro.out" lcowctl exec "$id" -n -- /bin/sh -c 'cat /data-ro/host.txt; echo x >/data-ro/new.txt'
check_log "an ro bind of the rw share is readable" "$work/rw-as-ro.out" '^from-the-host$'
check "... and the container's write to it fails" bash -c \
	"[ \"\$(cat '$work/rw-as-ro.out.rc')\" != 0 ] && [ ! -e '$work/share/new.txt' ]"

# While in use the VM has all of them mounted (so the check after Remove
# below means something).
in_vm cat /proc/mounts >"$work/mounts-inuse.txt" 2>&1 || true
n=$(grep -cE "^/dev/pmem0 $layer ext4 ro|^/dev/sd[a-z]+ $scsi ext4 rw|^[^ ]+ $rwdir 9p rw|^[^ ]+ $rodir 9p ro|^overlay /run/gcs/c/$id/rootfs overlay " \
	"$work/mounts-inuse.txt" || true)
check_eq "in use: pmem, SCSI, both shares and the overlay mounted in the VM" 5 "$n"

# ---- delete the container, Remove every resource ----
lcowctl shutdown-forced "$id" >/dev/null 2>&1 || true
wait "$init_job" || true
check "DeleteContainerState" lcowctl delete "$id"
check "CombinedLayers Remove" modify layers-rm CombinedLayers Remove "{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\"}"
remove_shares() {
	modify p9-rm MappedDirectory Remove "{\"MountPath\":\"$rwdir\"}" &&
		modify p9ro-rm MappedDirectory Remove "{\"MountPath\":\"$rodir\"}"
}
check "MappedDirectory Remove (both shares)" remove_shares
check "MappedVirtualDisk Remove" modify scsi-rm MappedVirtualDisk Remove "{\"MountPath\":\"$scsi\",\"Lun\":0}"
check "VPMemDevice Remove" modify pmem-rm VPMemDevice Remove "{\"MountPath\":\"$layer\"}"
in_vm cat /proc/mounts >"$work/mounts-after.txt" 2>&1 || true
check_log "the VM's /proc/mounts read after the Removes" "$work/mounts-after.txt" '^[^ ]+ / '
check_nolog "nothing of them left in the VM's /proc/mounts" "$work/mounts-after.txt" \
	"/run/(layers|mounts|gcs/c)/| 9p |^/dev/pmem|^/dev/sd|^overlay "

# ---- power off; the scratch disk from the host ----
vm_stop
check_eq "VM powered off (run-vm exit 0)" 0 "$vm_rc"
check "scratch disk passes e2fsck -fn" e2fsck -fn "$work/scratch.raw"
check_eq "the container's write is in the scratch's upper dir on disk" written-in-the-root \
	"$(debugfs -R "cat /scratch/$id/upper/written.txt" "$work/scratch.raw" 2>/dev/null)"

done_testing
