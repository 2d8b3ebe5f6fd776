# The harness's QEMU machines (sourced by scripts/run-vm and
# qemu-tests/bench/kernel-phase.sh): one definition of each, so the VMs the
# tests and the stack benchmarks start and the kernel-phase boots are the
# same machine.  The machine is part of every benchmark (qemu-harness.md).
#
# qemu_machine q35|microvm ICOUNT: sets QEMU_MACHINE, the -machine value
# (callers may append ",memory-backend=...", ",nvdimm=on"), and
# QEMU_MACHINE_GLOBALS, the -global options that go with it; also
# QEMU_MACHINE_VSOCK, the vhost-user vsock device model on its bus, and
# QEMU_MACHINE_PCI, 1 when that bus is PCI (else the host's pci=off
# applies: no device of the machine is a PCI one).  ICOUNT is 1 when the VM
# runs under -icount.  Fails on another name.
#
#  q35      the lean machine of qemu-harness.md, closer to Hyper-V's: no ACPI
#           PCI hot-plug methods in the DSDT (nothing here hot-plugs PCI
#           devices; Hyper-V's DSDT has none), no i8042 keyboard controller
#           (a generation 2 VM has none: its ACPI devices and their probes
#           are gone), and under icount no HPET either (Hyper-V has none;
#           with it the early printk clock runs ahead of the TSC).  Without
#           icount the HPET stays: on a loaded host the kernel's quick TSC
#           calibration against the PIT can fail, and the HPET is then its
#           only reference (pmtmr=0 removes the PM timer), without which the
#           TSC frequency is never known.
#  microvm  no PCI bus, no option ROMs (SeaBIOS's microvm build loads
#           -kernel itself), no HPET, reduced-hardware ACPI whose small DSDT
#           describes the memory-mapped virtio transports (not
#           virtio_mmio.device= on the command line: the line stays the
#           host's), the RTC and the UART; closer to a generation 2 VM,
#           whose devices are on VMBus.  Reduced hardware means no PIT
#           interrupt: the local APIC timer is the only clock event.
qemu_machine() {
	case "$1" in
	q35)
		QEMU_MACHINE="q35,sata=off,smbus=off,vmport=off,i8042=off"
		[ "$2" = 1 ] && QEMU_MACHINE="$QEMU_MACHINE,hpet=off"
		QEMU_MACHINE_GLOBALS=(-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off)
		QEMU_MACHINE_VSOCK=vhost-user-vsock-pci
		QEMU_MACHINE_PCI=1
		;;
	microvm)
		QEMU_MACHINE="microvm,x-option-roms=off,acpi=on,pcie=off,auto-kernel-cmdline=off,rtc=on,pit=on,pic=on,isa-serial=on"
		QEMU_MACHINE_GLOBALS=()
		QEMU_MACHINE_VSOCK=vhost-user-vsock-device
		QEMU_MACHINE_PCI=0
		;;
	*) return 1 ;;
	esac
}

# qemu_machine_desc q35|microvm: the machine's options as the benchmark
# reports state them, from the definition above.
qemu_machine_desc() {
	local plain
	qemu_machine "$1" 0 || return 1
	plain=$QEMU_MACHINE
	qemu_machine "$1" 1
	[ "$plain" = "$QEMU_MACHINE" ] || plain="$plain (under -icount $QEMU_MACHINE)"
	echo "-machine $plain${QEMU_MACHINE_GLOBALS[*]:+ ${QEMU_MACHINE_GLOBALS[*]}}"
}
