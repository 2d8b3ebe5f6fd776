#!/usr/bin/env bash
# ESP boot: OVMF boots a FAT ESP (image/efi/make-esp.sh) from a virtio-blk
# disk with no NVRAM boot entries; \EFI\BOOT\BOOTX64.EFI (image/efi/loader.c)
# starts \kernel with \cmdline as its load options, the kernel's EFI stub
# loads initrd=\initrd.img itself, and /init runs the program after '--' --
# the Hyper-V hand-off.  The loader's TSC tag reaches /proc/cmdline before
# '--' and not init.  An ESP without \kernel shows the loader's error on the
# serial console and returns the error to the firmware.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

B=${B:-$OUT/build}
LOADER=$B/efi/BOOTX64.EFI
MAKE_ESP=$ROOT/image/efi/make-esp.sh
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -r "$LOADER" ] || { echo "Bail out! no $LOADER (run make all)"; exit 1; }
[ -r "$OVMF_CODE" ] || { echo "Bail out! no $OVMF_CODE (package ovmf)"; exit 1; }

work=$(mktemp -d /tmp/lcow-esp-test.XXXXXX)
qemu_pid=
cleanup() {
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null

# The harness's machine (scripts/run-vm), the ESP as the only disk, no
# -kernel.  TCG: a /dev/kvm that opens can still fail inside OVMF (it does on
# nested build machines), and run-vm's boot probe is its own business.
start_qemu() { # ESP LOG
	cp "$OVMF_VARS" "$work/vars.fd"
	qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
		-accel tcg -cpu max -m 256 -smp 1 \
		-machine q35,sata=off,smbus=off,vmport=off,i8042=off \
		-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
		-drive "if=pflash,format=raw,unit=1,file=$work/vars.fd" \
		-drive "if=none,id=esp,format=raw,readonly=on,file=$1" \
		-device virtio-blk-pci,drive=esp,bootindex=0 \
		-serial "file:$2" >"$2.qemu" 2>&1 &
	qemu_pid=$!
}

# wait_qemu SECONDS: the exit status of QEMU, 124 if it had to be killed.
wait_qemu() {
	local i rc=0
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$qemu_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid"
		wait "$qemu_pid" 2>/dev/null || true
		rc=124
	else
		wait "$qemu_pid" || rc=$?
	fi
	qemu_pid=
	return "$rc"
}

# wait_log FILE REGEX SECONDS: until FILE has a matching line or QEMU exits.
wait_log() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -aqE -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$qemu_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -aqE -- "$2" "$1" 2>/dev/null
}

# The program prints what init handed it: $0 is /bin/sh unless the tag
# leaked past '--' into its arguments; the tag must not be in the
# environment either (the kernel passes undotted unknown words there).
script='echo ESP-MARK; echo CMDLINE=$(cat /proc/cmdline); echo ZERO=$0; if env | grep -q loader_tsc; then echo TAG-IN-ENV; else echo TAG-NOT-IN-ENV; fi'
base='initrd=\initrd.img console=ttyS0,115200 8250_core.nr_uarts=1 panic=-1'
cmdline="$base -- /bin/sh -c \"$script\""

plan 13

esp=$work/esp.img
check "make-esp.sh builds the ESP from out/bootfiles" \
	"$MAKE_ESP" --loader "$LOADER" --kernel "$BOOTFILES/kernel" \
	--initrd "$BOOTFILES/initrd.img" --cmdline "$cmdline" -o "$esp"

log=$work/boot.log
t0=$(date +%s%N)
start_qemu "$esp" "$log"
rc=0
wait_qemu 300 || rc=$?
t1=$(date +%s%N)
sed -i 's/\r$//' "$log" 2>/dev/null || true

check_eq "VM powered off by itself (qemu exit 0)" 0 "$rc"
check_log "OVMF booted the ESP's removable-media path" "$log" \
	'BdsDxe: starting Boot[0-9A-F]+ .*PciRoot\(0x0\)/Pci\('
check_log "the kernel started" "$log" 'Linux version [0-9]'
check_log "the EFI stub loaded the initrd from initrd= on the command line" "$log" \
	'Loaded initrd from command line option'
check_log "/init ran the program after '--'" "$log" '^ESP-MARK$'
# /proc/cmdline is the load options as the loader set them: \cmdline with
# the tag spliced in before '--', after the kernel's built-in command line
# (CONFIG_CMDLINE, which x86 puts first).
builtin=$(sed -n 's/^CONFIG_CMDLINE="\(..*\)"$/\1 /p' "$BOOTFILES/kernel.config" 2>/dev/null || true)
re_base=$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$builtin$base")
re_script=$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$script")
check_log "/proc/cmdline is \\cmdline with lcow.loader_tsc=<entry>,<start> before '--'" "$log" \
	"^CMDLINE=$re_base lcow\\.loader_tsc=[0-9]+,[0-9]+ -- /bin/sh -c \"$re_script\"\$"
check_log "the tag is not among the program's arguments" "$log" '^ZERO=/bin/sh$'
check_log "the tag is not in the program's environment" "$log" '^TAG-NOT-IN-ENV$'

tsc=$(grep -aoE '^CMDLINE=.* lcow\.loader_tsc=[0-9]+,[0-9]+ ' "$log" | grep -oE '[0-9]+,[0-9]+ $' || true)
entry=${tsc%,*}
start=${tsc#*,}
start=${start% }
if [ -n "$tsc" ] && [ "$entry" -gt 0 ] && [ "$start" -gt "$entry" ]; then
	tap_ok "loader timestamps: 0 < entry < start"
	mhz=$(grep -aoE 'tsc: Detected [0-9.]+ MHz' "$log" | grep -oE '[0-9.]+' | head -1 || true)
	echo "# loader: entry TSC $entry, start TSC $start, $((start - entry)) ticks${mhz:+ (guest TSC $mhz MHz)}"
	echo "# wall: qemu start to power-off $(((t1 - t0) / 1000000)) ms"
else
	tap_not_ok "loader timestamps: 0 < entry < start"
	echo "# got '$tsc'"
fi

# Error path: the same ESP without \kernel.
noker=$work/no-kernel.img
cp "$esp" "$noker"
check "mdel removes \\kernel from a copy" mdel -i "$noker" ::/kernel
log=$work/no-kernel.log
start_qemu "$noker" "$log"
wait_log "$log" 'BdsDxe: failed to start Boot' 120 || true
wait_qemu 0 || true
sed -i 's/\r$//' "$log" 2>/dev/null || true
check_log "no \\kernel: the loader says so on the serial console" "$log" \
	'^lcow-loader: error: no file on the boot volume: \\kernel: Not Found$'
check_log "no \\kernel: the error goes back to the firmware" "$log" \
	'BdsDxe: failed to start Boot[0-9A-F]+ .*: Not Found'

done_testing
