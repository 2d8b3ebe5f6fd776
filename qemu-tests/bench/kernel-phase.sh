# Sourced by boot-bench.sh, boot-profile.sh and insn-profile.sh
# (phases-bench.sh uses the clock and log helpers and kp_vm_start): the
# kernel-phase harness, how its log is read, and the same machine with the
# product's host side (kp_stack_start).
#
# The machine is part of the benchmark and stated in every report.  Two,
# chosen with KP_MACHINE (kp_machine below sets it up), both defined in
# scripts/qemu-machine.sh: q35, on which every kernel boots, and microvm
# (no PCI bus, no option ROMs, small ACPI tables, no PIT interrupt), closer
# to a generation 2 VM, so the harness's ROM scan, q35's DSDT and the PCI
# enumeration are not in its figures.
# Both under TCG with `-icount shift=0,sleep=off` and SeaBIOS `-kernel` (the
# firmware is not in the kernel start -> /init phase, and OVMF under icount
# is slow to emulate).  The command line is the Windows host's default (boot-image.md),
# `quiet` and `pci=off` included, and like it without a console: the host
# adds `console=ttyS0` only for debugging, and a console costs every printk
# a pass through the console code (1.7 ms of the kernel phase, row 26 of
# optimisations.md).  The one difference is `8250_core.nr_uarts=1` for the
# harness's own output (0.3 ms), with `console=tty0`, which this kernel
# lacks (no VT), so that the UART does not become the console by default.
# The milestones are read from the kernel's log buffer, which init's
# program (busybox dmesg) writes to the UART at the end.  KP_CONSOLE=1 in
# the environment restores the debug console to see a boot that fails.

# kp_machine q35|microvm: KP_MACHINE, KP_QEMU_ARGS, and KP_HYPERV_LIKE, the
# arguments that stand in for what Hyper-V gives and TCG cannot: the local
# APIC timer's frequency.  Without it every kernel calibrates that timer
# (100 ms polling the TSC, and on q35, where the PIT ticks, as long again
# verifying it).  On q35 `noapictimer` (the PIT is the clock event then),
# which any kernel takes; on microvm there is no PIT, so the timer is
# needed and `lapic_timer_freq=` (kernel-patches/0010; QEMU's APIC timer
# counts at 1 GHz) hands over its frequency as Hyper-V does.  Only this
# project's kernel has that: KP_HYPERV_LIKE_PEERS is why the peers cannot
# boot Hyper-V-like on the machine, empty when they can.
kp_machine() {
	qemu_machine "$1" 1 || { echo "kernel-phase: the machine is q35 or microvm, not '$1'" >&2; return 2; }
	KP_MACHINE=$1
	KP_HYPERV_LIKE=noapictimer
	KP_HYPERV_LIKE_PEERS=
	if [ "$1" = microvm ]; then
		KP_HYPERV_LIKE=lapic_timer_freq=1000000000
		KP_HYPERV_LIKE_PEERS="cannot: microvm has no PIT for noapictimer, and this kernel takes no lapic_timer_freq="
	fi
	KP_QEMU_ARGS=(-nodefaults -no-user-config -display none -no-reboot
		-machine "$QEMU_MACHINE" "${QEMU_MACHINE_GLOBALS[@]}" -accel tcg -cpu max -icount shift=0,sleep=off)
}
. "$ROOT/scripts/qemu-machine.sh"
kp_machine "${KP_MACHINE:-q35}" || exit 2
# The console, decided once for every boot of these benchmarks: the kernel
# phase's line and init program here, KP_RUN_VM_CONSOLE for the run-vm
# boots (kp_stack_start, phases-bench.sh).
if [ "${KP_CONSOLE:-0}" = 1 ]; then
	kp_console="8250_core.nr_uarts=1 console=ttyS0,115200"
	KP_PROGRAM=/bin/dmesg
	KP_RUN_VM_CONSOLE=()
else
	kp_console="8250_core.nr_uarts=1 console=tty0"
	KP_PROGRAM='/bin/sh -c "dmesg >/dev/ttyS0"'
	KP_RUN_VM_CONSOLE=(--no-console)
fi
KP_CMDLINE="$kp_console panic=-1 quiet pci=off nr_cpus=1 brd.rd_nr=0 pmtmr=0"

# kp_boot KERNEL INITRD MEM_MB LOG TIMEOUT_S [ARGS]: one boot; init runs
# dmesg and powers off.  LOG gets the kernel's log as dmesg printed it (from
# the last "Linux version" line of the console on, CRs removed), or the whole
# console when the boot never got that far.
kp_boot() {
	local kernel=$1 initrd=$2 mem=$3 log=$4 limit=$5 args=${6:-}
	timeout "$limit" qemu-system-x86_64 "${KP_QEMU_ARGS[@]}" -m "$mem" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "$KP_CMDLINE${args:+ $args} -- $KP_PROGRAM" \
		-serial "file:$log" >/dev/null 2>&1 || true
	sed -i 's/\r$//' "$log"
	# Lines printed to the console as they came (warnings despite `quiet`,
	# all of them with ignore_loglevel) are in the dump again: keep the dump.
	awk 'FNR == NR { if ($0 ~ /^\[ *[0-9.]+\] Linux version /) last = FNR; next }
		FNR >= last' "$log" "$log" >"$log.dump" && mv "$log.dump" "$log"
}

# kp_init_printk LOG: the printk time (s) of "Run /init as init process".
kp_init_printk() {
	sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' "$1" | head -1
}

# kp_sched_clock_offset LOG: the offset (ns) "sched_clock: Marking stable"
# logs.  printk time = raw sched_clock (the TSC counted from tsc_early_init)
# + this offset; before that late initcall the printk clock follows early
# timekeeping, which under TCG runs ahead of the TSC (by up to ~250 ms with
# an HPET present).
kp_sched_clock_offset() {
	kp_marking_stable "$1" | awk '{ print $4 }'
}

# kp_marking_stable LOG: the four numbers of the kernel's "sched_clock:
# Marking stable (A, B)->(C, D)" line, space-separated; empty without it.
kp_marking_stable() {
	sed -n 's/^\[ *[0-9.]*\] sched_clock: Marking stable (\([-0-9]*\), \([-0-9]*\))->(\([-0-9]*\), \([-0-9]*\)).*/\1 \2 \3 \4/p' "$1" | head -1
}

# kp_boottime_lag_ns LOG: how far CLOCK_BOOTTIME (the agent's uptime_ns)
# lags the TSC clock (ns), from the line "sched_clock: Marking stable (A,
# B)->(C, D)": at that moment the printk clock is CLOCK_MONOTONIC (=
# BOOTTIME, no suspend) + B and raw sched_clock + D, and both clocks count
# the TSC from then on.  Timekeeping runs on jiffies until the TSC clocksource is
# switched in: time without ticks is lost to it, ~1 ms on q35 where the PIT
# ticks from the start, ~10 ms on microvm before the APIC timer starts, and
# the whole calibration when the kernel has to calibrate that timer there.
kp_boottime_lag_ns() {
	kp_marking_stable "$1" | awk '{ print $2 - $4 }'
}

# kp_init_tsc LOG: kernel start -> /init (s) on the TSC clock; empty when
# the console lacks either line.
kp_init_tsc() {
	local t off
	t=$(kp_init_printk "$1")
	off=$(kp_sched_clock_offset "$1")
	[ -n "$t" ] && [ -n "$off" ] || return 0
	awk -v t="$t" -v o="$off" 'BEGIN { printf "%.6f", t - o / 1e9 }'
}

# ---- a VM with the product's host side -----------------------------------
# kp_vm_start WORKDIR CONSOLE RUN-VM-ARGS...: scripts/run-vm --workdir
# WORKDIR --keep --serial CONSOLE RUN-VM-ARGS in a session of its own,
# run-vm's output in WORKDIR.run-vm.log; sets kp_vm_pid; fails when the
# control socket WORKDIR/vm.sock.ctl does not appear within 60 s or run-vm
# exits first.
kp_vm_start() {
	local wd=$1 con=$2
	shift 2
	setsid "$ROOT/scripts/run-vm" --workdir "$wd" --keep --serial "$con" "$@" \
		>"$wd.run-vm.log" 2>&1 </dev/null &
	kp_vm_pid=$!
	for _ in $(seq 1 600); do
		[ -S "$wd/vm.sock.ctl" ] && return 0
		kill -0 "$kp_vm_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# kp_vm_stop WORKDIR: ShutdownForced, then the VM's session ended (QEMU
# exits when the guest powers off; TERM after 30 s).
kp_vm_stop() {
	"$OUT/bin/lcowctl" -c "$1/vm.sock.ctl" --rpc-timeout 60 shutdown-forced >/dev/null 2>&1 || true
	for _ in $(seq 1 300); do
		kill -0 "$kp_vm_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM -- "-$kp_vm_pid" 2>/dev/null || true
	wait "$kp_vm_pid" 2>/dev/null || true
}

# kp_stack_start BOOTFILES WORKDIR CONSOLE [RUN-VM ARGS...]: the kernel-phase
# machine (KP_MACHINE) with the product's host side: kp_vm_start with --boot bios --host
# --icount --quiet --no-console (the vsock device, lcow-vsockd and lcowctl
# serve; the host's default line, without a console unless KP_CONSOLE=1).
kp_stack_start() {
	local bf=$1 wd=$2 con=$3
	shift 3
	kp_vm_start "$wd" "$con" --bootfiles "$bf" --machine "$KP_MACHINE" --boot bios --host --icount --quiet \
		"${KP_RUN_VM_CONSOLE[@]}" --timeout 900 "$@"
}

# kp_negotiated_ns GCSLOG: the agent's uptime_ns on its NegotiateProtocol
# response (the request's type with the response bit); empty when absent.
# A line that is not JSON is skipped, not fatal.
kp_negotiated_ns() {
	jq -rR 'fromjson? | select(.msg == "response" and ((.type // "") | tostring | ascii_downcase | test("^(0x)?20100b01$"))) | .uptime_ns' "$1" | head -1
}
