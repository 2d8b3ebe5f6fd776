#!/usr/bin/env bash
# Boot benchmark: kernel start -> /init in guest time under
# `-icount shift=0,sleep=off` (1 ns per instruction: the same on every run
# and every machine), and wall time, for this project's kernel and, in the
# same run, Debian's stock cloud kernel booting the same initrd.  Also the
# footprint of the boot files and the wall time from QEMU start to a
# negotiated bridge.  Reports numbers; never fails on a timing.
#   qemu-tests/bench/boot-bench.sh [--runs N] [--out DIR]
# Peers: Debian's linux-image-cloud-amd64 (downloaded once), `make defconfig`
# of our kernel source (qemu-tests/bench/peer-kernel.sh builds it once, 20-40
# min; BENCH_SHORT=1 or BENCH_PEER_BUILD=0: only when already cached).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
CACHE=${CACHE:-$OUT/cache}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
runs=3
outdir=$OUT/bench

usage() {
	echo "usage: $0 [--runs N] [--out DIR]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?}; shift 2 ;;
	--out) outdir=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
for f in kernel initrd.img; do
	[ -r "$BOOTFILES/$f" ] || { echo "boot-bench: no $BOOTFILES/$f (run ./build.sh)" >&2; exit 1; }
done
mkdir -p "$outdir"
work=$(mktemp -d /tmp/lcow-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The peer: Debian's stock cloud kernel, unpacked from its package into the
# cache (never installed on the host: no initramfs hooks, no /boot changes).
stock_kernel() {
	local dir=$CACHE/bench/stock-kernel
	local k
	k=$(ls "$dir"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
	if [ -z "$k" ]; then
		local dl pkg
		dl=$(mktemp -d "$work/dl.XXXXXX")
		pkg=$(cd "$dl" && apt-get download linux-image-cloud-amd64 >/dev/null 2>&1 &&
			dpkg-deb -f linux-image-cloud-amd64_*.deb Depends | sed -n 's/^\(linux-image-[^ ]*\).*/\1/p')
		[ -n "$pkg" ] || { echo "boot-bench: cannot download linux-image-cloud-amd64" >&2; return 1; }
		(cd "$dl" && apt-get download "$pkg" >/dev/null 2>&1) || return 1
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		dpkg-deb -x "$dl/$pkg"_*.deb "$dir.tmp"
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
		k=$(ls "$dir"/boot/vmlinuz-* | head -1)
	fi
	echo "$k"
}

# The machines and command line (kernel-phase.sh) are stated in the report.
# Every figure is taken on both machines: q35, on which every kernel also
# boots Hyper-V-like, and microvm, closer to a generation 2 VM.
. "$ROOT/qemu-tests/bench/kernel-phase.sh"
# Each kernel boots twice per run: as is, and with KP_HYPERV_LIKE, the
# stand-in for what Hyper-V gives and TCG cannot: the local APIC timer's
# frequency.  Under TCG the kernel must calibrate that timer (100 ms of
# polling against the TSC, and on q35 100 ms verifying it); on Hyper-V it
# reads the frequency from HV_X64_MSR_APIC_FREQUENCY and skips both (KVM
# guests use the TSC deadline timer, which TCG does not emulate).
# qemu-tests/bench/optimisations.md.  hv_args NAME: that stand-in for kernel
# NAME on this machine, empty when NAME cannot take it (KP_HYPERV_LIKE_PEERS
# says why).
hv_args() {
	[ -z "$KP_HYPERV_LIKE_PEERS" ] || [ "$1" = lcow ] || return 0
	echo "$KP_HYPERV_LIKE"
}

# boot_once KERNEL LOG [ARGS] -> prints "<icount seconds to /init> <wall seconds>
# <the same on the TSC clock>" (null where the console lacks it).
boot_once() {
	local kernel=$1 log=$2 args=${3:-} t0 t1 ti tt
	t0=$(date +%s.%N)
	kp_boot "$kernel" "$BOOTFILES/initrd.img" 256 "$log" 600 "$args"
	t1=$(date +%s.%N)
	ti=$(kp_init_printk "$log")
	tt=$(kp_init_tsc "$log")
	echo "${ti:-null} $(echo "$t1 - $t0" | bc) ${tt:-null}"
}

stats() { # numbers on stdin -> JSON {median,min,max,spread,n}
	jq -s 'map(select(. != null)) | sort | {n: length, min: (.[0]), max: (.[-1]),
		spread: (if length == 0 then null else .[-1] - .[0] end),
		median: (if length == 0 then null elif length % 2 == 1 then .[length/2|floor]
			 else (.[length/2 - 1] + .[length/2]) / 2 end)}'
}

declare -A kernels=([lcow]="$BOOTFILES/kernel")
declare -A not_run=()
if sk=$(stock_kernel); then kernels[debian-cloud]=$sk; else not_run[debian-cloud]="not run: linux-image-cloud-amd64 could not be downloaded"; fi
# peer FLAVOUR [WHY]: a kernel peer-kernel.sh builds from the same source,
# from its cache; built first (20-40 minutes) unless this is the short run
# or BENCH_PEER_BUILD=0.  WHY, when given, is why it cannot be built here.
peer() {
	local flavour=$1 cannot=${2:-} k pk=$ROOT/qemu-tests/bench/peer-kernel.sh
	if k=$(CACHE=$CACHE "$pk" --check "$flavour" 2>/dev/null); then
		kernels[$flavour]=$k
	elif [ -n "$cannot" ]; then
		not_run[$flavour]=$cannot
	elif [ "${BENCH_SHORT:-0}" = 1 ] || [ "${BENCH_PEER_BUILD:-1}" = 0 ]; then
		not_run[$flavour]="skipped: not cached (qemu-tests/bench/peer-kernel.sh $flavour builds it, 20-40 min)"
	elif k=$(CACHE=$CACHE "$pk" "$flavour"); then
		kernels[$flavour]=$k
	else
		not_run[$flavour]="not run: the $flavour build failed (see above)"
	fi
}
# `make defconfig`, the upstream x86_64 default configuration.
peer defconfig
# An upstream microVM guest configuration: Firecracker's published
# microvm-kernel-ci-x86_64-6.1.config.  It may not be copied into the
# project and this machine has no network, so the operator names the file
# (FIRECRACKER_CONFIG=FILE, e.g. from a clone of
# github.com/firecracker-microvm/firecracker); a build from it is cached and
# used from then on, also by runs without the variable.
fc_cannot=
[ -n "${FIRECRACKER_CONFIG:-}" ] ||
	fc_cannot="skipped: not cached; FIRECRACKER_CONFIG=<Firecracker's resources/guest_configs/microvm-kernel-ci-x86_64-6.1.config> qemu-tests/bench/peer-kernel.sh firecracker builds it (the file is not in this project: it may not be copied, and this machine is offline)"
peer firecracker "$fc_cannot"

# bench_init: kernel start -> /init for every kernel on KP_MACHINE, as is and
# Hyper-V-like; sets results (JSON).  Files in $work/$KP_MACHINE.
bench_init() {
	local name i v a ti tw tt hv r w=$work/$KP_MACHINE
	mkdir -p "$w"
	results='{}'
	for name in $(printf '%s\n' "${!kernels[@]}" | sort); do
		hv=$(hv_args "$name")
		for f in icount tsc wall hv.icount hv.tsc hv.wall; do : >"$w/$name.$f"; done
		for i in $(seq 1 "$runs"); do
			for v in "" .hv; do
				a=; [ -z "$v" ] || a=$hv
				[ -z "$v" ] || [ -n "$a" ] || continue
				read -r ti tw tt < <(boot_once "${kernels[$name]}" "$w/$name.$i$v.log" "$a")
				echo "$ti" >>"$w/$name$v.icount"
				echo "$tt" >>"$w/$name$v.tsc"
				echo "$tw" >>"$w/$name$v.wall"
				echo "boot-bench: $KP_MACHINE: $name run $i${a:+, $a}: kernel start -> /init ${ti} s icount (printk), ${tt} s (TSC), ${tw} s wall" >&2
			done
		done
		r=$(jq -n --arg k "${kernels[$name]}" --argjson ic "$(stats <"$w/$name.icount")" \
			--argjson wall "$(stats <"$w/$name.wall")" \
			--arg ver "$(sed -n 's/^\[ *[0-9.]*\] Linux version \([^ ]*\).*/\1/p' "$w/$name.1.log" | head -1)" \
			--argjson bytes "$(stat -c %s "${kernels[$name]}")" \
			--argjson tsc "$(stats <"$w/$name.tsc")" \
			--argjson hvic "$(stats <"$w/$name.hv.icount")" \
			--argjson hvtsc "$(stats <"$w/$name.hv.tsc")" --arg hvargs "$hv" --arg cannot "$KP_HYPERV_LIKE_PEERS" \
			'{kernel: $k, version: $ver, kernel_bytes: $bytes, kernel_to_init_icount_s: $ic,
			  kernel_to_init_tsc_icount_s: $tsc, boot_wall_s: $wall,
			  hyperv_like: (if $hvargs == "" then {not_run: $cannot} else
				{args: $hvargs, kernel_to_init_icount_s: $hvic,
				 kernel_to_init_tsc_icount_s: $hvtsc} end)}')
		results=$(jq --arg n "$name" --argjson r "$r" '.[$n] = $r' <<<"$results")
	done
	# On the TSC clock, the printk clock where the TSC one is missing.
	results=$(add_ratios '(.kernel_to_init_tsc_icount_s.median // .kernel_to_init_icount_s.median)' <<<"$results")
}

# add_ratios FIGURE: the kernels' JSON on stdin with times_lcow, how many
# times longer each peer takes than ours, as is and Hyper-V-like; FIGURE is
# the jq path of the median in a kernel's (or its hyperv_like) object.
# Kernels that did not run (not_run) get none.
add_ratios() {
	jq "def t(v): v | $1;"'
	def ratio(a; b): if a == null or b == null or b == 0 then null else (a / b * 100 | round / 100) end;
	. as $all | with_entries(if .key == "lcow" or $all.lcow == null or .value.not_run then . else
		.value.times_lcow = ratio(t(.value); t($all.lcow)) |
		.value.hyperv_like.times_lcow = ratio(t(.value.hyperv_like); t($all.lcow.hyperv_like)) end)'
}

# Kernel start -> NegotiateProtocol answered, the phase the targets name, for
# every kernel that can get there: the same machine and initrd with the
# product's host side (scripts/run-vm --boot bios --host: lcow-vsockd,
# lcowctl serve), the host's command line (`quiet` included), the agent's
# CLOCK_BOOTTIME on its NegotiateProtocol response put on the TSC clock of
# the /init figures: BOOTTIME starts at sched_clock's zero (timekeeping_init
# takes local_clock() as the boot offset) but loses the time the kernel
# spends without timer ticks before the TSC clocksource is switched in, so
# the kernel log, read over the bridge once negotiated, gives that lag
# (kp_boottime_lag_ns): ~3 ms on q35, ~10 ms on microvm, the calibration's
# 110 ms there as is.  Host-paced: the dial and the answer wait for the
# host, and under sleep=off a wait costs a jump to the guest's next timer
# deadline (qemu-tests/bench/optimisations.md).
#
# Debian's kernel has virtio-pci (microvm: virtio-mmio) and vsock as
# modules: its initrd gets them
# after a zero word (the LZ4 archive's end) as a second, plain cpio, and
# `bench-probe modules` loads them before the product's chain, as a modular
# kernel's initramfs must.  init's entropy read (-e 1) comes before the
# modules and finds no vsock there: it is off the critical path (init reads
# it beside the program) and only logged.  defconfig has no vsock at all.
NEG_MODULES=(drivers/virtio/virtio_ring drivers/virtio/virtio)
NEG_MODULES_q35=(drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev
	drivers/virtio/virtio_pci)
NEG_MODULES_microvm=(drivers/virtio/virtio_mmio)
NEG_MODULES_VSOCK=(net/vmw_vsock/vsock net/vmw_vsock/vmw_vsock_virtio_transport_common
	net/vmw_vsock/vmw_vsock_virtio_transport)
# run-vm's default init arguments, the product's chain.
NEG_CHAIN=(/bin/vsockexec -e 109 /bin/gcs -v4 -log-format json -loglevel debug)

# neg_bootfiles NAME KERNEL: the boot-files directory $work/KP_MACHINE/neg-NAME
# for run-vm, and in neg_init_args[NAME] init's arguments when they are not
# run-vm's default; fails with a reason on stderr.
declare -A neg_init_args=()
neg_bootfiles() {
	local name=$1 kernel=$2 bf=$work/$KP_MACHINE/neg-$name
	local -n machine_modules=NEG_MODULES_$KP_MACHINE
	mkdir -p "$bf"
	ln -sf "$kernel" "$bf/kernel"
	neg_init_args[$name]=
	if [ "$name" != debian-cloud ]; then
		ln -sf "$BOOTFILES/initrd.img" "$bf/initrd.img"
		return 0
	fi
	local mdir probe=$OUT/build/guest/qemu-tests/bench/bench-probe m args=()
	mdir=$(ls -d "$(dirname "$(dirname "$kernel")")"/lib/modules/*/kernel 2>/dev/null | head -1)
	[ -x "$probe" ] || { echo "no $probe (run ./build.sh)" >&2; return 1; }
	mkdir -p "$bf/extra/peer/modules"
	cp "$probe" "$bf/extra/peer/bench-probe"
	for m in "${NEG_MODULES[@]}" "${machine_modules[@]}" "${NEG_MODULES_VSOCK[@]}"; do
		[ -r "$mdir/$m.ko" ] || { echo "no $m.ko in the package" >&2; return 1; }
		cp "$mdir/$m.ko" "$bf/extra/peer/modules/"
		args+=("/peer/modules/$(basename "$m").ko")
	done
	# The zero word ends the LZ4 archive; more zeros put the plain cpio at
	# an offset divisible by 4, the only place the kernel's initramfs
	# unpacker takes a cpio header ("invalid magic" elsewhere).
	local size pad
	size=$(stat -c %s "$BOOTFILES/initrd.img")
	pad=$((4 + (4 - size % 4) % 4))
	{ cat "$BOOTFILES/initrd.img"; head -c "$pad" /dev/zero
	  (cd "$bf/extra" && find peer | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); } >"$bf/initrd.img"
	neg_init_args[$name]="-e 1 /peer/bench-probe modules ${args[*]} ${NEG_CHAIN[*]}"
}

# negotiate_once NAME BOOTFILES [ARGS] -> "<guest s to the answer, TSC
# clock> <wall s from QEMU start to the host seeing it>", or nothing (why on
# stderr).
negotiate_once() {
	local name=$1 bf=$2 args=${3:-} vm=$work/neg-vm t0 t= wall= lag=
	local init_args=()
	# shellcheck disable=SC2206  # words without spaces, split on purpose
	[ -z "${neg_init_args[$name]}" ] || init_args=(-- ${neg_init_args[$name]})
	rm -rf "$vm"
	t0=$(date +%s.%N)
	if kp_stack_start "$bf" "$vm" "$vm.console" --mem 256 ${args:+--append " $args"} "${init_args[@]}" &&
		"$OUT/bin/lcowctl" -c "$vm/vm.sock.ctl" wait-ready --timeout 600 >/dev/null 2>"$vm.ready.err"; then
		wall=$(echo "$(date +%s.%N) - $t0" | bc)
		t=$(kp_negotiated_ns "$vm/gcs.log")
		"$OUT/bin/lcowctl" -c "$vm/vm.sock.ctl" exec --uvm -- /bin/dmesg 2>/dev/null | tr -d '\r' >"$vm.dmesg" || true
		lag=$(kp_boottime_lag_ns "$vm.dmesg")
		[ -n "$lag" ] || { echo "boot-bench: $name: no \"sched_clock: Marking stable\" line in the kernel log to put BOOTTIME on the TSC clock" >&2; t=; }
	else
		echo "boot-bench: $name: no negotiated bridge: $(cat "$vm.ready.err" 2>/dev/null); console: $(tail -3 "$vm.console" 2>/dev/null | tr -d '\r')" >&2
	fi
	kp_vm_stop "$vm"
	[ -n "$t" ] && awk -v t="$t" -v l="$lag" -v w="$wall" 'BEGIN { printf "%.6f %.3f\n", (t + l) / 1e9, w }'
}

# bench_negotiate: kernel start -> negotiated on KP_MACHINE for every kernel
# with vsock, as is and Hyper-V-like, and our guest's own work; sets
# negotiate and guest_work (JSON) and neg_machine.
bench_negotiate() {
	local name i v a hv tn tw w=$work/$KP_MACHINE
	negotiate='{}'
	guest_work=null
	local pci="without pci=off (the vsock device is a PCI one here)"
	[ "$QEMU_MACHINE_PCI" = 1 ] || pci="pci=off included (the vsock device is on virtio-mmio)"
	neg_machine="scripts/run-vm --machine $KP_MACHINE --boot bios --host --icount --mem 256 --quiet --no-console (the machine above with a vhost-user vsock device, lcow-vsockd and lcowctl serve as the host); command line: the host's default (no console), $pci [$KP_HYPERV_LIKE] -- -e 1 ${NEG_CHAIN[*]}"
	[ -x "$OUT/bin/lcowctl" ] && [ -x "$OUT/bin/lcow-vsockd" ] || return 0
	for name in $(printf '%s\n' "${!kernels[@]}" | sort); do
		if [ "$name" = defconfig ]; then
			negotiate=$(jq --arg n "$name" '.[$n] = {not_run: "cannot: x86_64 defconfig has no vsock (CONFIG_VSOCKETS off, no modules built)"}' <<<"$negotiate")
			continue
		fi
		if ! neg_bootfiles "$name" "${kernels[$name]}" 2>"$w/neg-$name.err"; then
			negotiate=$(jq --arg n "$name" --arg why "not run: $(cat "$w/neg-$name.err")" '.[$n] = {not_run: $why}' <<<"$negotiate")
			continue
		fi
		hv=$(hv_args "$name")
		for f in neg neg.wall neg.hv neg.hv.wall neg.err; do : >"$w/$name.$f"; done
		for i in $(seq 1 "$runs"); do
			for v in "" .hv; do
				a=; [ -z "$v" ] || a=$hv
				[ -z "$v" ] || [ -n "$a" ] || continue
				if read -r tn tw < <(negotiate_once "$name" "$w/neg-$name" "$a" 2>>"$w/$name.neg.err"); then
					echo "$tn" >>"$w/$name.neg$v"
					echo "$tw" >>"$w/$name.neg$v.wall"
					echo "boot-bench: $KP_MACHINE: $name run $i${a:+, $a}: kernel start -> NegotiateProtocol answered ${tn} s icount, TSC clock (QEMU start -> seen by the host ${tw} s wall)" >&2
				fi
			done
		done
		negotiate=$(jq --arg n "$name" --argjson ic "$(stats <"$w/$name.neg")" \
			--argjson w "$(stats <"$w/$name.neg.wall")" \
			--argjson hvic "$(stats <"$w/$name.neg.hv")" --argjson hvw "$(stats <"$w/$name.neg.hv.wall")" \
			--arg hvargs "$hv" --arg cannot "$KP_HYPERV_LIKE_PEERS" --arg init "${neg_init_args[$name]}" \
			'.[$n] = {kernel_to_negotiated_icount_s: $ic, qemu_start_to_negotiated_seen_wall_s: $w,
				  hyperv_like: (if $hvargs == "" then {not_run: $cannot} else
					{args: $hvargs, kernel_to_negotiated_icount_s: $hvic,
					 qemu_start_to_negotiated_seen_wall_s: $hvw} end)}
			 | if $init == "" then . else .[$n].init_args = $init end' <<<"$negotiate")
		# A failed boot says why in the report, not only in the log.
		if [ -s "$w/$name.neg.err" ]; then
			cat "$w/$name.neg.err" >&2
			negotiate=$(jq --arg n "$name" --arg why "$(head -1 "$w/$name.neg.err" | cut -c1-300)" \
				'.[$n].failed = $why' <<<"$negotiate")
		fi
	done
	negotiate=$(add_ratios .kernel_to_negotiated_icount_s.median <<<"$negotiate")
	# Our guest's own work in that phase, without the clock's jumps over
	# its idle waits for the host: the instructions it runs from kernel
	# start until the power-off the host asks for right after the
	# negotiation (insn-profile.sh --stack; Hyper-V-like, same machine).
	# An upper bound: the ShutdownForced handling is in it.
	[ -r "$OUT/build/kernel/System.map" ] && [ -r "$OUT/build/host/qemu-tests/bench/insn-profile.so" ] || return 0
	: >"$w/guest-work"
	for i in $(seq 1 "$runs"); do
		v=$(KP_MACHINE=$KP_MACHINE "$ROOT/qemu-tests/bench/insn-profile.sh" --stack --mem 256 \
			--append "$KP_HYPERV_LIKE" --top 1 2>>"$w/guest-work.err" |
			sed -n 's/^from kernel start (kernel text + user space): \([0-9.]*\) ms$/\1/p')
		[ -n "$v" ] || { cat "$w/guest-work.err" >&2; continue; }
		echo "boot-bench: $KP_MACHINE: lcow run $i, $KP_HYPERV_LIKE: guest instructions kernel start -> power-off after the negotiation ${v} ms" >&2
		awk -v v="$v" 'BEGIN { printf "%.6f\n", v / 1000 }' >>"$w/guest-work"
	done
	guest_work=$(stats <"$w/guest-work")
}

# bench_machine M -> one JSON object: the machine, /init and -> negotiated.
bench_machine() {
	kp_machine "$1"
	bench_init
	bench_negotiate
	jq -n --arg machine "qemu-system-x86_64 ${KP_QEMU_ARGS[*]} -m 256, SeaBIOS -kernel; command line: $KP_CMDLINE [$KP_HYPERV_LIKE] -- $KP_PROGRAM" \
		--arg hv "$KP_HYPERV_LIKE" --argjson boot "$results" --argjson neg "$negotiate" \
		--arg neg_machine "$neg_machine" --argjson gw "$guest_work" \
		'{machine: $machine, hyperv_like_args: $hv, boot: $boot,
		  negotiate: {machine: $neg_machine, kernels: $neg, lcow_guest_work_hyperv_like_s: $gw}}'
}
q35=$(bench_machine q35)
microvm=$(bench_machine microvm)

# Wall time from QEMU start to a negotiated bridge, the full product stack.
bridge_wall=null
if [ -x "$OUT/bin/lcowctl" ] && [ -x "$OUT/bin/lcow-vsockd" ]; then
	t0=$(date +%s.%N)
	"$ROOT/scripts/run-vm" --host --workdir "$work/vm" --serial "$work/vm.log" --mem 256 \
		--timeout 300 >/dev/null 2>&1 &
	vm=$!
	for _ in $(seq 1 600); do [ -S "$work/vm/vm.sock.ctl" ] && break; sleep 0.1; done
	if "$OUT/bin/lcowctl" -c "$work/vm/vm.sock.ctl" wait-ready --timeout 240 >/dev/null 2>&1; then
		bridge_wall=$(echo "$(date +%s.%N) - $t0" | bc)
	fi
	"$OUT/bin/lcowctl" -c "$work/vm/vm.sock.ctl" shutdown-forced >/dev/null 2>&1 || true
	wait "$vm" 2>/dev/null || true
fi

size() { stat -c %s "$1" 2>/dev/null || echo null; }
footprint=$(jq -n \
	--argjson kernel "$(size "$BOOTFILES/kernel")" \
	--argjson vmlinux "$(size "$BOOTFILES/vmlinux")" \
	--argjson initrd "$(size "$BOOTFILES/initrd.img")" \
	--argjson rootfs "$(size "$BOOTFILES/rootfs.vhd")" \
	--argjson init "$(size "$OUT/build/guest/init/init")" \
	--argjson gcs "$(size "$OUT/build/guest/gcs-agent/gcs")" \
	'{kernel:$kernel, vmlinux:$vmlinux, "initrd.img":$initrd, "rootfs.vhd":$rootfs, init:$init, gcs:$gcs}')

peers_not_run='{}'
for name in "${!not_run[@]}"; do
	peers_not_run=$(jq --arg n "$name" --arg why "${not_run[$name]}" '.[$n] = $why' <<<"$peers_not_run")
done
# q35's figures at the top level (every kernel Hyper-V-like there), microvm's
# beside them in the same shape.
jq -n --argjson q35 "$q35" --argjson microvm "$microvm" --argjson fp "$footprint" \
	--argjson runs "$runs" --argjson bridge "$bridge_wall" --arg date "$(date -u +%FT%TZ)" \
	--argjson not_run "$peers_not_run" \
	'{date:$date, runs:$runs} + $q35 + {peers_not_run:$not_run, microvm:$microvm,
	  qemu_start_to_bridge_negotiated_wall_s:$bridge, footprint_bytes:$fp}' >"$outdir/boot.json"

# machine_md JQPATH TITLE: one machine's tables.
machine_md() {
	local m=$1 hv
	hv=$(jq -r "$m.hyperv_like_args" "$outdir/boot.json")
	echo "## $2"
	echo
	echo "Machine: \`$(jq -r "$m.machine" "$outdir/boot.json")\`; $runs run(s) each; init prints the kernel log (dmesg) and powers off."
	echo
	echo "| kernel | kernel start → /init (icount, printk clock, median) | min–max | the same on the TSC clock (median) | × ours | Hyper-V-like ($hv), TSC clock | × ours | boot wall (median) |"
	echo "|---|---|---|---|---|---|---|---|"
	jq -r 'def r: if . == null then "-" else . * 1e6 | round / 1e6 | tostring end;
		def w: if . == null then "-" else . * 100 | round / 100 | tostring end;
		def x: if . == null then "-" else "\(.)×" end;
		def hv: if .not_run then .not_run else "\(.kernel_to_init_tsc_icount_s.median | r) s" end;
		'"$m"'.boot | to_entries[] | "| \(.key) | \(.value.kernel_to_init_icount_s.median | r) s | \(.value.kernel_to_init_icount_s.min | r)–\(.value.kernel_to_init_icount_s.max | r) s | \(.value.kernel_to_init_tsc_icount_s.median | r) s | \(.value.times_lcow | x) | \(.value.hyperv_like | hv) | \(.value.hyperv_like.times_lcow | x) | \(.value.boot_wall_s.median | w) s |"' "$outdir/boot.json"
	jq -r '.peers_not_run | to_entries[] | "| \(.key) | \(.value) | | | | | | |"' "$outdir/boot.json"
	echo
	echo "Kernel start → NegotiateProtocol answered (\`$(jq -r "$m.negotiate.machine" "$outdir/boot.json")\`; icount, the agent's CLOCK_BOOTTIME put on the TSC clock):"
	echo
	echo "| kernel | as is (median) | × ours | Hyper-V-like ($hv) | × ours | QEMU start → seen by the host (wall, icount boot) |"
	echo "|---|---|---|---|---|---|"
	jq -r 'def r: if . == null then "-" else . * 1e6 | round / 1e6 | tostring end;
		def x: if . == null then "-" else "\(.)×" end;
		def hv: if .not_run then .not_run else "\(.kernel_to_negotiated_icount_s.median | r) s" end;
		'"$m"'.negotiate.kernels | to_entries[] | if .value.not_run then "| \(.key) | \(.value.not_run) | | | | |" else
		"| \(.key) | \(.value.kernel_to_negotiated_icount_s.median | r) s | \(.value.times_lcow | x) | \(.value.hyperv_like | hv) | \(.value.hyperv_like.times_lcow | x) | \(.value.qemu_start_to_negotiated_seen_wall_s.median | r) s |" end' "$outdir/boot.json"
	jq -r "$m"'.negotiate.kernels | to_entries[] | select(.value.failed) | "\n\(.key): a boot failed: \(.value.failed)"' "$outdir/boot.json"
	echo
	echo "Our guest's own instructions in that phase (kernel start → the power-off the host asks for once negotiated; no clock jumps over idle waits; insn-profile.sh --stack, $hv): $(jq -r "$m"'.negotiate.lcow_guest_work_hyperv_like_s.median // "not measured"' "$outdir/boot.json") s"
	echo
}

{
	echo "# Boot benchmark ($(date -u +%F))"
	echo
	machine_md "" "q35"
	machine_md ".microvm" "microvm (no PCI, no option ROMs, small ACPI tables: closer to a generation 2 VM)"
	echo "Hyper-V-like: booted with the local APIC timer's frequency known, as Hyper-V hands it over: on q35 \`noapictimer\` (the PIT ticks instead), on microvm \`lapic_timer_freq=\` (kernel-patches/0010; microvm has no PIT interrupt, so only this project's kernel can boot there so). As is, under TCG the kernel calibrates that timer for 100 ms and on q35 verifies it for another 100 ms."
	echo
	echo "TSC clock: the printk time of /init less the offset logged by \"sched_clock: Marking stable\" (printk = raw sched_clock + that offset; raw sched_clock counts the TSC from tsc_early_init; the early printk clock follows jiffies-based timekeeping, which under TCG runs ahead or stands still). The agent's CLOCK_BOOTTIME is put on it with the same line (kernel-phase.sh's kp_boottime_lag_ns)."
	echo
	echo "QEMU start → bridge negotiated (q35, OVMF, TCG, wall): $(jq -r .qemu_start_to_bridge_negotiated_wall_s "$outdir/boot.json") s"
	echo
	echo "| file | bytes |"
	echo "|---|---|"
	jq -r '.footprint_bytes | to_entries[] | "| \(.key) | \(.value) |"' "$outdir/boot.json"
} >"$outdir/boot.md"
cat "$outdir/boot.md"
