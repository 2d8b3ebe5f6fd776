#!/usr/bin/env bash
# Boot-mode benchmark: every way the Windows host can boot the utility VM,
# as scripts/run-vm reproduces it (uefi/initrd, esp/initrd, direct/initrd,
# direct/pmem, uefi/pmem, uefi/scsi), with init's one-shot mode running
# /bin/true (init then powers off).  Per mode:
#   - kernel start -> /init in guest time under `-icount shift=0,sleep=off`
#     (the printk timestamp of "Run /init as init process"; 1 ns per
#     instruction, the same on every run and every machine),
#   - wall time from QEMU's start to its exit after the guest powered off
#     (no icount), and the printk time of /init in that boot,
# and for esp/initrd the ESP loader's own time from its TSC stamps
# (lcow.loader_tsc=<entry>,<start> on the kernel command line), converted
# with the guest's "tsc: Detected N MHz" (under icount the TSC counts
# nanoseconds since reset).  OVMF under icount takes 60-100 s of wall time a
# boot, so the quick mode (--runs 1) measures icount for direct/* only.
# Reports numbers; never fails on a timing, but fails if a boot does not
# reach /init and power off.
#   qemu-tests/bench/bootmodes-bench.sh [--runs N] [--icount-runs M] [--out DIR]
set -euo pipefail

PROG=bootmodes-bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/scripts/qemu-machine.sh"
OUT=${OUT:-$ROOT/out}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
RUN_VM=$ROOT/scripts/run-vm
MODES=(uefi/initrd esp/initrd direct/initrd direct/pmem uefi/pmem uefi/scsi)
runs=3
icount_runs=
outdir=$OUT/bench

usage() {
	cat >&2 <<EOU
usage: $0 [--runs N] [--icount-runs M] [--out DIR]

  --runs N         wall-time boots per mode (default 3); with N = 1 (quick
                   mode) icount boots are made for direct/* only
  --icount-runs M  icount boots per mode (default: N, at most 2; 0: none);
                   with N > 1 every mode gets them (OVMF: 60-100 s of wall
                   time each).  icount time repeats from run to run; two
                   runs show that it does
  --out DIR        where bootmodes.json and bootmodes.md go (default out/bench)
EOU
	exit 2
}
die() {
	echo "$PROG: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?}; shift 2 ;;
	--icount-runs) icount_runs=${2:?}; shift 2 ;;
	--out) outdir=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
if [ -z "$icount_runs" ]; then
	icount_runs=$runs
	[ "$icount_runs" -le 2 ] || icount_runs=2
fi
[[ "$icount_runs" =~ ^[0-9]+$ ]] || usage
quick=0
[ "$runs" = 1 ] && quick=1
for f in kernel vmlinux initrd.img rootfs.vhd; do
	[ -r "$BOOTFILES/$f" ] || die "no $BOOTFILES/$f (run ./build.sh)"
done
[ -r "$OUT/build/efi/BOOTX64.EFI" ] || die "no ESP loader $OUT/build/efi/BOOTX64.EFI (run ./build.sh)"
command -v jq >/dev/null || die "jq not found (scripts/deps.sh)"
mkdir -p "$outdir"
work=$(mktemp -d /tmp/lcow-bootmodes.XXXXXX)
# Each boot runs in its own session (run-vm, timeout, QEMU): on any exit,
# that group is ended, so no QEMU outlives the benchmark.
vm_pid=
cleanup() {
	if [ -n "$vm_pid" ]; then
		kill -TERM -- "-$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every boot uses one snapshot of the boot files: a rebuild of out/ during
# the run (./build.sh swaps out/bootfiles) neither breaks a boot nor mixes
# two builds into one report.
mkdir "$work/bootfiles"
cp "$BOOTFILES"/{kernel,vmlinux,initrd.img,rootfs.vhd} "$work/bootfiles/"

icount_wanted() { # MODE
	[ "$icount_runs" -gt 0 ] || return 1
	[ "$quick" = 0 ] || [[ "$1" == direct/* ]]
}

# boot_once MODE ICOUNT(0|1) TAG: one one-shot boot through run-vm.
# Appends "init_s wall_s poweroff_s tsc_mhz loader_entry loader_start" to
# $work/MODE-as-file.ICOUNT (null where absent).  Wall time runs from the
# moment run-vm hands over to QEMU (it writes qemu.cmd just before: the
# ESP image and the OVMF vars copy are made earlier, outside the span) to
# QEMU's exit.
boot_once() {
	local mode=$1 ic=$2 tag=$3
	local key=${mode//\//-} wd=$work/vm-$tag log=$work/$tag.log
	local args=(--bootfiles "$work/bootfiles" --accel tcg --boot "${mode%/*}" --root "${mode#*/}"
		--workdir "$wd" --keep --serial "$log" --timeout 900)
	[ "$ic" = 1 ] && args+=(--icount)
	local rc=0 t1 t0
	setsid "$RUN_VM" "${args[@]}" -- /bin/true >"$work/$tag.run-vm.log" 2>&1 </dev/null &
	vm_pid=$!
	wait "$vm_pid" || rc=$?
	vm_pid=
	t1=$(date +%s.%N)
	[ -r "$wd/qemu.cmd" ] || die "$mode: run-vm did not start QEMU (see below)
$(cat "$work/$tag.run-vm.log")"
	t0=$(stat -c %.9Y "$wd/qemu.cmd")
	tr -d '\r' <"$log" >"$log.txt"
	if [ "$rc" != 0 ] || ! grep -q 'reboot: Power down' "$log.txt" ||
		! grep -q 'Run /init as init process' "$log.txt"; then
		tail -20 "$log.txt" >&2
		cat "$work/$tag.run-vm.log" >&2
		die "$mode (icount=$ic): the boot did not reach /init and power off (run-vm exit $rc)"
	fi
	# The machine as QEMU ran it, once per mode and clock.
	[ -e "$work/$key.$ic.cmd" ] || sed -e "s|$wd|VMDIR|g" -e "s|$work|BENCHDIR|g" \
		"$wd/qemu.cmd" >"$work/$key.$ic.cmd"
	local init off mhz tsc entry=null start=null
	init=$(sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' "$log.txt" | head -1)
	off=$(sed -n 's/^\[ *\([0-9.]*\)\] reboot: Power down.*/\1/p' "$log.txt" | head -1)
	mhz=$(sed -n 's/^\[ *[0-9.]*\] tsc: Detected \([0-9.]*\) MHz.*/\1/p' "$log.txt" | head -1)
	# The kernel logs the command line it was given; it is /proc/cmdline.
	tsc=$(sed -n 's/^\[ *[0-9.]*\] Kernel command line: .*lcow\.loader_tsc=\([0-9]*,[0-9]*\).*/\1/p' "$log.txt" | head -1)
	if [ -n "$tsc" ]; then
		entry=${tsc%,*}
		start=${tsc#*,}
	elif [[ "$mode" == esp/* ]]; then
		die "$mode: no lcow.loader_tsc= on the kernel command line"
	fi
	echo "${init:-null} $(echo "$t1 - $t0" | bc) ${off:-null} ${mhz:-null} $entry $start" >>"$work/$key.$ic"
	rm -rf "$wd"
	printf '%s: %-14s %-6s init %5s s (guest clock)  qemu start -> exit %6.2f s wall%s\n' "$PROG" "$mode" \
		"$([ "$ic" = 1 ] && echo icount || echo wall)" "$init" "$(echo "$t1 - $t0" | bc)" \
		"${tsc:+  loader_tsc $tsc @ $mhz MHz}" >&2
}

# Wall boots interleaved over the modes (noise from the shared machine is
# spread over all of them), then the icount boots.
for i in $(seq 1 "$runs"); do
	for m in "${MODES[@]}"; do
		boot_once "$m" 0 "w$i-${m//\//-}"
	done
done
for i in $(seq 1 "$icount_runs"); do
	for m in "${MODES[@]}"; do
		icount_wanted "$m" || continue
		boot_once "$m" 1 "i$i-${m//\//-}"
	done
done

stats() { # numbers (or null) on stdin -> JSON {median,min,max,spread,n} or null
	jq -s 'map(select(. != null)) | sort | if length == 0 then null else
		{n: length, min: (.[0] * 1e6 | round / 1e6), max: (.[-1] * 1e6 | round / 1e6),
		 spread: ((.[-1] - .[0]) * 1e6 | round / 1e6),
		 median: ((if length % 2 == 1 then .[length/2|floor]
			   else (.[length/2 - 1] + .[length/2]) / 2 end) * 1e6 | round / 1e6)} end'
}
col() { # FILE N: column N of FILE, or nothing if FILE is absent
	[ -r "$1" ] || return 0
	awk -v n="$2" '{ print $n }' "$1"
}
# Loader figures in seconds: reset -> loader entry, entry -> StartImage.
loader_col() { # FILE WHICH
	[ -r "$1" ] || return 0
	awk -v w="$2" '$5 != "null" && $4 != "null" {
		hz = $4 * 1e6
		printf "%.6f\n", (w == "entry" ? $5 / hz : ($6 - $5) / hz) }' "$1"
}

results='[]'
for m in "${MODES[@]}"; do
	k=${m//\//-}
	w=$work/$k.0 ic=$work/$k.1
	r=$(jq -n --arg mode "$m" \
		--argjson ic_init "$(col "$ic" 1 | stats)" \
		--argjson ic_wall "$(col "$ic" 2 | stats)" \
		--argjson w_init "$(col "$w" 1 | stats)" \
		--argjson w_wall "$(col "$w" 2 | stats)" \
		--argjson w_pre "$(awk '$3 != "null" { printf "%.3f\n", $2 - $3 }' "$w" | stats)" \
		--argjson w_mhz "$(col "$w" 4 | stats)" \
		--argjson ic_mhz "$(col "$ic" 4 | stats)" \
		--argjson l_ic_entry "$(loader_col "$ic" entry | stats)" \
		--argjson l_ic "$(loader_col "$ic" loader | stats)" \
		--argjson l_w_entry "$(loader_col "$w" entry | stats)" \
		--argjson l_w "$(loader_col "$w" loader | stats)" \
		--arg cmd_w "$(cat "$work/$k.0.cmd" 2>/dev/null || true)" \
		'{mode: $mode,
		  kernel_to_init_icount_s: $ic_init,
		  icount_boot_wall_s: $ic_wall,
		  qemu_start_to_exit_wall_s: $w_wall,
		  kernel_to_init_printk_in_wall_boot_s: $w_init,
		  before_kernel_clock_wall_s: $w_pre,
		  tsc_mhz: {wall_boot: $w_mhz, icount_boot: $ic_mhz},
		  qemu_command: $cmd_w}
		 + (if $mode | startswith("esp/") then {esp_loader: {
		     icount: {reset_to_loader_entry_s: $l_ic_entry, loader_entry_to_start_image_s: $l_ic},
		     wall: {reset_to_loader_entry_s: $l_w_entry, loader_entry_to_start_image_s: $l_w}}}
		    else {} end)')
	results=$(jq --argjson r "$r" '. + [$r]' <<<"$results")
done

machine="scripts/run-vm --accel tcg ($(qemu_machine_desc q35); -cpu max; 512 MB; 1 vCPU; -nodefaults; OVMF_CODE_4M for uefi/esp; pmem: nvdimm over the VHD; scsi: virtio-scsi-pci + scsi-hd LUN 0) -- /bin/true"
jq -n --arg date "$(date -u +%FT%TZ)" --argjson runs "$runs" --argjson icount_runs "$icount_runs" \
	--argjson quick "$([ "$quick" = 1 ] && echo true || echo false)" \
	--arg machine "$machine" --arg qemu "$(qemu-system-x86_64 --version | head -1)" \
	--arg ovmf "$(dpkg-query -W -f='${Version}' ovmf 2>/dev/null || echo unknown)" \
	--arg host "$(nproc) CPUs, $(uname -r), TCG" \
	--argjson modes "$results" \
	--argjson bootfiles "$(cd "$work/bootfiles" && sha256sum kernel vmlinux initrd.img rootfs.vhd |
		jq -R 'split("  ") | {(.[1]): .[0]}' | jq -s add)" \
	'{date: $date, runs: $runs, icount_runs: $icount_runs, quick: $quick, host: $host,
	  machine: $machine, qemu: $qemu, ovmf: $ovmf, bootfiles_sha256: $bootfiles,
	  measures: {
	    kernel_to_init_icount_s: "printk time of \"Run /init as init process\" under -icount shift=0,sleep=off (the kernel clock starts at TSC set-up in setup_arch; the EFI stub and decompression come before it)",
	    qemu_start_to_exit_wall_s: "from run-vm starting QEMU (qemu.cmd written) to QEMU exiting after the power-off; no icount",
	    before_kernel_clock_wall_s: "wall minus the printk time of the power-off: QEMU set-up, firmware, loader, EFI stub and decompression, and QEMU tear-down",
	    esp_loader: "lcow.loader_tsc=<entry>,<start> TSC ticks (TSC = 0 at reset) / the guest-detected TSC MHz"},
	  modes: $modes}' >"$outdir/bootmodes.json"

{
	j=$outdir/bootmodes.json
	echo "# Boot modes benchmark ($(date -u +%F))"
	echo
	jq -r '"Machine: `\(.machine)`; \(.qemu); OVMF \(.ovmf); host: \(.host).",
		"",
		"\(.runs) wall boot(s) per mode, \(.icount_runs) icount boot(s) per mode\(if .quick then " (quick mode: icount for direct/* only)" else "" end); medians, spread = max − min.",
		""' "$j"
	echo "| mode | kernel start → /init (icount) | QEMU start → exit (wall, median) | spread | kernel start → /init (wall boot, printk) | before the kernel clock (wall) |"
	echo "|---|---|---|---|---|---|"
	jq -r 'def r3: . * 1000 | round / 1000;
		def s(x): if x == null then "not measured" else "\(x.median | r3) s" end;
		def ms(x): x * 1e6 | round / 1000;
		.modes[] | "| \(.mode) | \(if .kernel_to_init_icount_s == null then "not measured" else "\(ms(.kernel_to_init_icount_s.median)) ms\(if .kernel_to_init_icount_s.n > 1 then " (spread \(ms(.kernel_to_init_icount_s.spread)) ms)" else "" end)" end) | \(s(.qemu_start_to_exit_wall_s)) | \(if .qemu_start_to_exit_wall_s.n < 2 then "-" else "\(.qemu_start_to_exit_wall_s.spread | r3) s" end) | \(s(.kernel_to_init_printk_in_wall_boot_s)) | \(s(.before_kernel_clock_wall_s)) |"' "$j"
	echo
	echo "ESP loader (esp/initrd), from its TSC stamps:"
	echo
	echo "| clock | TSC MHz (guest-detected) | reset → loader entry (OVMF) | loader entry → StartImage |"
	echo "|---|---|---|---|"
	jq -r 'def s(x): if x == null then "not measured" else "\(x.median * 1000 | . * 100 | round / 100) ms" end;
		.modes[] | select(.esp_loader != null) |
		"| icount | \(.tsc_mhz.icount_boot.median // "-") | \(s(.esp_loader.icount.reset_to_loader_entry_s)) | \(s(.esp_loader.icount.loader_entry_to_start_image_s)) |",
		"| wall (TCG) | \(.tsc_mhz.wall_boot.median // "-") | \(s(.esp_loader.wall.reset_to_loader_entry_s)) | \(s(.esp_loader.wall.loader_entry_to_start_image_s)) |"' "$j"
	echo
	jq -r '"How: \(.measures.kernel_to_init_icount_s). Wall: \(.measures.qemu_start_to_exit_wall_s). Before the kernel clock: \(.measures.before_kernel_clock_wall_s)."' "$j"
} >"$outdir/bootmodes.md"
cat "$outdir/bootmodes.md"
