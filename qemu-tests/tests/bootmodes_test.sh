#!/usr/bin/env bash
# Every boot mode the Windows host uses boots to a running agent that answers
# NegotiateProtocol, and powers off on ShutdownForced: firmware (OVMF with
# -kernel, or an ESP with our loader) or kernel-direct (PVH vmlinux), with the
# root in RAM (initrd.img) or on rootfs.vhd as pmem 0 or SCSI 0:0.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles
[ -r "$BOOTFILES/rootfs.vhd" ] || { echo "Bail out! no rootfs.vhd"; exit 1; }

work=$(mktemp -d /tmp/lcow-bootmodes-test.XXXXXX)
vm_pid=
cleanup() {
	[ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

modes=("esp initrd" "direct initrd" "uefi pmem" "uefi scsi" "direct pmem" "direct scsi")
plan $((${#modes[@]} * 3))

for m in "${modes[@]}"; do
	read -r boot root <<<"$m"
	w=$work/$boot-$root
	mkdir -p "$w"
	"$RUN_VM" --boot "$boot" --root "$root" --host --workdir "$w/vm" --serial "$w/console.log" \
		--mem 256 --timeout 300 >"$w/run-vm.log" 2>&1 &
	vm_pid=$!
	ctl=$w/vm/vm.sock.ctl
	for _ in $(seq 1 600); do
		[ -S "$ctl" ] && break
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.2
	done
	check "$boot/$root: the agent negotiates the bridge" \
		"$BIN/lcowctl" -c "$ctl" wait-ready --timeout 240
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
	"$BIN/lcowctl" -c "$ctl" shutdown-forced >/dev/null 2>&1 || true
	set +e
	wait "$vm_pid"
	rc=$?
	set -e
	vm_pid=
	check_eq "$boot/$root: ShutdownForced powers the VM off" 0 "$rc"
done

done_testing
