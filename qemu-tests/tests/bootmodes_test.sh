#!/usr/bin/env bash
# Every boot mode the Windows host uses boots to a running agent that answers
# NegotiateProtocol, and powers off on ShutdownForced: firmware (OVMF with
# -kernel, or an ESP with our loader) or kernel-direct (PVH vmlinux), with the
# root in RAM (initrd.img) or on rootfs.vhd as pmem 0 or SCSI 0:0.  And
# the boot benchmarks' other machine, microvm: no PCI bus (the host's pci=off
# on the line), the vsock device on virtio-mmio found through ACPI, and the
# local APIC timer's frequency handed over on the command line
# (kernel-patches/0010) instead of calibrated.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles
[ -r "$BOOTFILES/rootfs.vhd" ] || { echo "Bail out! no rootfs.vhd"; exit 1; }

vm_work bootmodes

modes=("esp initrd" "direct initrd" "uefi pmem" "uefi scsi" "direct pmem" "direct scsi")
plan $((${#modes[@]} * 3 + 7))

for m in "${modes[@]}"; do
	read -r boot root <<<"$m"
	w=$work/$boot-$root
	mkdir -p "$w"
	vm_start_host "$w/vm" "$w/run-vm.log" --boot "$boot" --root "$root" --serial "$w/console.log" \
		--mem 256 --timeout 300
	check "$boot/$root: the agent negotiates the bridge" lcowctl wait-ready --timeout 240
	sed -i 's/\r$//' "$w/console.log"
	case "$root" in
	initrd) want='Unpacking initramfs|Trying to unpack rootfs|Freeing initrd memory' ;;
	pmem) want='VFS: Mounted root \(ext4 filesystem\) readonly on device 259:' ;;
	scsi) want='VFS: Mounted root \(ext4 filesystem\) readonly on device 8:' ;;
	esac
	if [ "$root" = initrd ]; then
		check_nolog "$boot/$root: root in RAM (no block root mounted)" "$w/console.log" 'VFS: Mounted root'
	else
		check_log "$boot/$root: root mounted read-only from the $root device" "$w/console.log" "$want"
	fi
	vm_stop
	check_eq "$boot/$root: ShutdownForced powers the VM off" 0 "$vm_rc"
done

# microvm, booted as the benchmarks boot it (apic=verbose: the APIC code
# says whether it calibrated).
w=$work/microvm
mkdir -p "$w"
vm_start_host "$w/vm" "$w/run-vm.log" --machine microvm --boot bios --serial "$w/console.log" \
	--mem 256 --timeout 300 --append "lapic_timer_freq=1000000000 apic=verbose"
check "microvm: the agent negotiates the bridge over virtio-mmio vsock" lcowctl wait-ready --timeout 240
lcowctl exec --uvm -- /bin/sh -c 'echo PCI-DEVICES=$(ls /sys/bus/pci/devices 2>/dev/null | wc -l); for d in /sys/bus/virtio/devices/*; do echo VIRTIO=$(basename $(readlink $d/driver)) ON=$(basename $(dirname $(readlink -f $d))); done; echo CLOCKEVENT=$(cat /sys/devices/system/clockevents/clockevent0/current_device)' \
	>"$w/probe.txt" 2>&1 || true
tr -d '\r' <"$w/probe.txt" >"$w/probe" && sed -i 's/\r$//' "$w/console.log"
check_log "microvm: no PCI device (the host's pci=off is on the line)" "$w/probe" '^PCI-DEVICES=0$'
check_log "microvm: the vsock transport is bound on a virtio-mmio device" "$w/probe" \
	'^VIRTIO=vmw_vsock_virtio_transport ON=LNRO0005:'
check_log "microvm: the APIC timer took its frequency from lapic_timer_freq= (1e9 / HZ 250), no calibration" \
	"$w/console.log" 'lapic timer already calibrated 4000000$'
check_log "microvm: the local APIC timer is the clock event" "$w/probe" '^CLOCKEVENT=lapic'
# Its only TSC reference is the PIT: under TCG run-vm adds -icount, without
# which a loaded host failed the calibration and the boot hung.
check_nolog "microvm: the TSC's frequency is known (no HPET, no PM timer: the PIT in guest time)" \
	"$w/console.log" 'Marking TSC unstable|Unable to calibrate against PIT'
vm_stop
check_eq "microvm: ShutdownForced powers the VM off" 0 "$vm_rc"

done_testing
