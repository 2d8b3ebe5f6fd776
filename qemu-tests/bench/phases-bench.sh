#!/usr/bin/env bash
# Boot phase benchmark: one VM per run, booted the way Hyper-V does it
# (scripts/run-vm --boot esp: OVMF boots the ESP, our gnu-efi loader starts
# \kernel's EFI stub) with the full host harness (--host), then the first
# container: VPMemDevice + CombinedLayers + Create + ExecuteProcess of
# `bench-probe clock`, whose one line of output is the first byte.
#
# Every milestone is read off a real clock, on one timeline: guest time
# since reset.  Under QEMU the TSC is 0 at reset, so:
#   firmware hand-off   loader entry TSC   (lcow.loader_tsc=<entry>,<start>)
#   loader done         StartImage TSC     (same stamp)
#   kernel start        the zero of the printk clock: `bench-probe clock` in
#                       the UVM writes a mark to /dev/kmsg between two TSC
#                       readings and reads back its printk time
#   /init               printk time of "Run /init as init process"
#   agent started       agent log "gcs started" uptime_ns (CLOCK_BOOTTIME)
#   agent dialled       agent log "bridge connected" uptime_ns
#   negotiated          agent log: its response to NegotiateProtocol
#   first output byte   the TSC the container's probe printed as its output
# CLOCK_BOOTTIME is placed on the timeline by the same probe (TSC and
# CLOCK_BOOTTIME read back to back); TSC ticks become seconds with the
# guest-detected TSC frequency.  Host milestones (QEMU launched, the host
# saw the negotiation, the host saw the first byte) are host wall clock.
#
# Each run is made twice: under `-icount shift=0,sleep=off` (guest time is
# instructions: repeatable on any machine; idle time waiting for the host is
# skipped) and without (TCG, guest time follows the wall clock).  Then one
# more boot reads the footprint after boot: MemTotal - MemAvailable and the
# agent's VmRSS.  Reports numbers; never fails on a timing, fails when a
# milestone cannot be read.  Each run's console, kernel log and agent log are kept in
# DIR/phases-logs/.
#   qemu-tests/bench/phases-bench.sh [--runs N] [--out DIR]
set -euo pipefail

PROG=phases-bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/qemu-tests/bench/kernel-phase.sh"
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
PROBE=${PROBE:-$OUT/build/guest/qemu-tests/bench/bench-probe}
RUN_VM=$ROOT/scripts/run-vm
UVM=00000000-0000-0000-0000-000000000000
runs=3
outdir=$OUT/bench

usage() {
	cat >&2 <<EOU
usage: $0 [--runs N] [--out DIR]

  --runs N   boots per clock (icount, wall); default 3
  --out DIR  where phases.json and phases.md go (default out/bench)
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
	--out) outdir=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
for f in kernel vmlinux initrd.img; do
	[ -r "$BOOTFILES/$f" ] || die "no $BOOTFILES/$f (run ./build.sh)"
done
for b in lcowctl lcow-vsockd tar2ext4; do
	[ -x "$BIN/$b" ] || die "no $BIN/$b (run ./build.sh)"
done
[ -x "$PROBE" ] || die "no $PROBE (run ./build.sh)"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' ||
	die "no static busybox on the host (busybox-static) for the container layer"
command -v jq >/dev/null || die "jq not found (scripts/deps.sh)"
mkdir -p "$outdir"
rm -rf "$outdir/phases-logs"
mkdir -p "$outdir/phases-logs"
work=$(mktemp -d /tmp/lcow-phases.XXXXXX)
vm_pid=
ctl=
cleanup() {
	if [ -n "$vm_pid" ]; then
		"$BIN/lcowctl" -c "$ctl" --rpc-timeout 10 shutdown-forced >/dev/null 2>&1 || true
		kill -TERM -- "-$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One snapshot of the boot files for every boot (a rebuild of out/ during
# the run neither breaks a boot nor mixes two builds into one report).
mkdir "$work/bootfiles"
cp "$BOOTFILES"/{kernel,vmlinux,initrd.img} "$work/bootfiles/"

# The container's layer, made the way the host makes one: a tar through
# tar2ext4 into a VHD the VM gets as VPMem device 0.
mkdir -p "$work/layer/bin" "$work/layer/etc"
for d in proc sys dev tmp root; do mkdir -p "$work/layer/$d"; done
cp "$busybox" "$work/layer/bin/busybox"
ln -s busybox "$work/layer/bin/sh"
cp "$PROBE" "$work/layer/bin/bench-probe"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/layer/etc/passwd"
printf 'root:x:0:\n' >"$work/layer/etc/group"
tar -C "$work/layer" --owner=0 --group=0 -cf "$work/layer.tar" .
"$BIN/tar2ext4" -i "$work/layer.tar" -o "$work/layer.vhd" -vhd >"$work/tar2ext4.log" 2>&1 ||
	die "tar2ext4 failed: $(cat "$work/tar2ext4.log")"
python3 "$ROOT/qemu-tests/tests/data/container-config.py" c1 >"$work/c1.json"

lcowctl() { "$BIN/lcowctl" -c "$ctl" "$@"; }

# start_vm TAG ICOUNT(0|1) [run-vm options]: boots in its own session
# (kp_vm_start), waits for the control socket; sets vm_pid and ctl.
start_vm() {
	local tag=$1 ic=$2
	shift 2
	# --quiet --no-console: the host's default command line; the milestones
	# come from the kernel's log buffer (uvm_dmesg) and the loader's
	# timestamps on the command line, not from the console
	# (KP_RUN_VM_CONSOLE, kernel-phase.sh: KP_CONSOLE=1 keeps the debug
	# console, to see a boot that fails).
	local args=(--bootfiles "$work/bootfiles" --boot esp --host --accel tcg --mem "$MEM_MB" --quiet
		"${KP_RUN_VM_CONSOLE[@]}" --timeout 2400 "$@")
	[ "$ic" = 1 ] && args+=(--icount)
	ctl=$work/$tag/vm.sock.ctl
	local rc=0
	kp_vm_start "$work/$tag" "$work/$tag.console" "${args[@]}" || rc=$?
	vm_pid=$kp_vm_pid	# the exit trap ends it, started or not
	[ "$rc" = 0 ] || die "$tag: the host side did not start: $(tail -5 "$work/$tag.run-vm.log")"
}
stop_vm() {
	[ -n "$vm_pid" ] || return 0
	kp_vm_stop "$(dirname "$ctl")"
	vm_pid=
}

# The host side of one run, timed in one Python process (no interpreter
# start-up inside an interval): wait for the negotiated bridge, then the
# first container.  Host times are seconds since QEMU was launched (the
# mtime of qemu.cmd, which run-vm writes just before it execs QEMU).
host_run() { # TAG -> JSON on stdout
	local tag=$1
	python3 - "$BIN/lcowctl" "$ctl" "$work/$tag/qemu.cmd" "@$work/c1.json" <<'EOF'
import json, os, subprocess, sys, time
lc, ctl, cmdfile, cfg = sys.argv[1:]
uvm = "00000000-0000-0000-0000-000000000000"
base = [lc, "-c", ctl]
q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
def run(*a):
    r = subprocess.run(base + list(a), **q)
    if r.returncode != 0:
        sys.exit("lcowctl %s: exit %d: %s" % (a[0], r.returncode, r.stderr.decode(errors="replace").strip()))
r = subprocess.run(base + ["wait-ready", "--timeout", "2000"], **q)
if r.returncode != 0:
    sys.exit("wait-ready: exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace").strip()))
t_ready = time.time()
run("modify", uvm, "--type", "VPMemDevice", "--settings",
    '{"DeviceNumber":0,"MountPath":"/run/layers/p0"}')
run("modify", uvm, "--type", "CombinedLayers", "--settings",
    '{"ContainerRootPath":"/run/gcs/c/c1/rootfs","Layers":[{"Path":"/run/layers/p0"}],'
    '"ScratchPath":"/run/gcs/c/c1/scratch"}')
run("create", "c1", "--config", cfg)
p = subprocess.Popen(base + ["exec", "c1", "-n", "--", "/bin/bench-probe", "clock"],
                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
first = p.stdout.read(1)
t_first = time.time()
rest = p.stdout.read()
err = p.stderr.read()
if p.wait() != 0 or not first:
    sys.exit("exec in the container: exit %s: %s" % (p.returncode, err.decode(errors="replace").strip()))
t0 = os.stat(cmdfile).st_mtime
line = (first + rest).decode().strip()
probe = json.loads(line.split("bench-probe: ", 1)[1])
print(json.dumps({"host_negotiated_s": round(t_ready - t0, 6),
                  "host_first_byte_s": round(t_first - t0, 6), "container_probe": probe}))
EOF
}

# The UVM's clocks, after the milestones (so the exec does not disturb
# them): the probe from the layer, which is mounted in the UVM.
uvm_probe() {
	lcowctl exec --uvm -- /run/layers/p0/bin/bench-probe clock 2>"$work/uvm-probe.err" |
		sed -n 's/^bench-probe: //p' | head -1
}

# The kernel's log, whole (the host's `quiet` keeps most of it off the
# console): busybox dmesg in the UVM, after the milestones.
uvm_dmesg() { # FILE
	lcowctl exec --uvm -- /bin/dmesg 2>"$work/uvm-dmesg.err" | tr -d '\r' >"$1"
}

# analyse TAG ICOUNT HOSTJSON UVMPROBE -> one JSON object: the milestones in
# seconds since reset, guest clock.  The kernel's lines come from
# $work/TAG.dmesg.txt.
analyse() {
	local tag=$1 ic=$2 host=$3 uprobe=$4
	local con=$work/$tag.dmesg.txt glog=$work/$tag/gcs.log
	local tsc mhz init
	tsc=$(sed -n 's/^\[ *[0-9.]*\] Kernel command line: .*lcow\.loader_tsc=\([0-9]*,[0-9]*\).*/\1/p' "$con" | head -1)
	# The refined calibration when there is one: the clocks use it from then on.
	mhz=$(sed -n 's/^\[ *[0-9.]*\] tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' "$con" | head -1)
	[ -n "$mhz" ] || mhz=$(sed -n 's/^\[ *[0-9.]*\] tsc: Detected \([0-9.]*\) MHz.*/\1/p' "$con" | head -1)
	init=$(kp_init_printk "$con")
	# The printk clock = raw sched_clock (TSC since tsc_early_init) + this
	# offset from the late initcall that marks sched_clock stable on.
	local sc_off
	sc_off=$(kp_sched_clock_offset "$con")
	[ -n "$sc_off" ] || sc_off=null
	[ -n "$tsc" ] || die "$tag: no lcow.loader_tsc= on the kernel command line (kernel log: $con)"
	[ -n "$mhz" ] || die "$tag: the kernel did not log its TSC frequency"
	[ -n "$init" ] || die "$tag: no 'Run /init as init process' in the kernel log"
	[ -r "$glog" ] || die "$tag: no agent log $glog"
	local started dialled negotiated
	# Line by line: a line that is not JSON is skipped, not fatal.
	started=$(jq -rR 'fromjson? | select(.msg == "gcs started") | .uptime_ns' "$glog" | head -1)
	dialled=$(jq -rR 'fromjson? | select(.msg == "bridge connected") | .uptime_ns' "$glog" | head -1)
	# The response type is the request's with the response bit (0x20000000).
	negotiated=$(kp_negotiated_ns "$glog")
	[ -n "$started" ] && [ -n "$dialled" ] && [ -n "$negotiated" ] ||
		die "$tag: agent milestones missing from $glog (started '$started', dialled '$dialled', negotiated '$negotiated')"
	jq -n --argjson ic "$ic" --arg tsc "$tsc" --argjson mhz "$mhz" --argjson init "$init" \
		--argjson started "$started" --argjson dialled "$dialled" --argjson negotiated "$negotiated" \
		--argjson host "$host" --argjson u "$uprobe" --argjson sc_off "$sc_off" '
		($mhz * 1e6) as $hz
		| ($tsc | split(",") | map(tonumber)) as $lt
		| (if $u.kmsg then (($u.kmsg_tsc0 + $u.kmsg_tsc1) / 2 / $hz - $u.kmsg_us / 1e6) else null end) as $k0
		| (if $k0 == null or $sc_off == null then null else $k0 + $sc_off / 1e9 end) as $raw0
		| ($u.tsc / $hz - $u.boottime_ns / 1e9) as $b0
		| def r: . * 1e6 | round / 1e6;
		{icount: ($ic == 1), tsc_mhz: $mhz,
		 milestones_s: {
		   firmware_handoff: ($lt[0] / $hz | r),
		   loader_done: ($lt[1] / $hz | r),
		   kernel_start: (if $raw0 == null then null else ($raw0 | r) end),
		   init: (if $k0 == null then null else ($k0 + $init | r) end),
		   agent_started: ($b0 + $started / 1e9 | r),
		   agent_dialled: ($b0 + $dialled / 1e9 | r),
		   negotiated: ($b0 + $negotiated / 1e9 | r),
		   first_byte: ($host.container_probe.tsc / $hz | r)},
		 kernel_to_init_printk_s: $init,
		 sched_clock_offset_ns: $sc_off,
		 printk_zero_s: (if $k0 == null then null else ($k0 | r) end),
		 boottime_zero_s: ($b0 | r),
		 first_byte_by_boottime_s: ($b0 + $host.container_probe.boottime_ns / 1e9 | r),
		 host_wall_s: {qemu_launch_to_negotiated_seen: $host.host_negotiated_s,
			       qemu_launch_to_first_byte_seen: $host.host_first_byte_s},
		 uvm_probe: $u, container_probe: $host.container_probe}'
}

one_run() { # TAG ICOUNT [KERNEL ARGS] -> appends the run's JSON to $work/runs.jsonl
	local tag=$1 ic=$2 kargs=${3:-} t0 host uprobe
	t0=$(date +%s.%N)
	start_vm "$tag" "$ic" --pmem "$work/layer.vhd" ${kargs:+--append " $kargs"}
	if ! host=$(host_run "$tag" 2>"$work/$tag.host.err"); then
		tail -15 "$work/$tag.console" | tr -d '\r' >&2 || true
		die "$tag: $(cat "$work/$tag.host.err")"
	fi
	uprobe=$(uvm_probe)
	[ -n "$uprobe" ] || die "$tag: bench-probe clock in the UVM printed nothing: $(cat "$work/uvm-probe.err")"
	uvm_dmesg "$work/$tag.dmesg.txt"
	[ -s "$work/$tag.dmesg.txt" ] || die "$tag: dmesg in the UVM printed nothing: $(cat "$work/uvm-dmesg.err")"
	stop_vm
	local r
	r=$(analyse "$tag" "$ic" "$host" "$uprobe")
	echo "$r" | jq -c --arg tag "$tag" --argjson wall "$(echo "$(date +%s.%N) - $t0" | bc)" \
		--arg kargs "$kargs" '. + {tag: $tag, run_wall_s: $wall, kernel_args: $kargs}' >>"$work/runs.jsonl"
	printf '%s: %-8s %s\n' "$PROG" "$tag" "$(jq -r '[.milestones_s | to_entries[] | "\(.key) \(.value)"] | join(", ")' <<<"$r")" >&2
	# The raw material of every figure stays with the results.
	tr -d '\r' <"$work/$tag.console" >"$outdir/phases-logs/$tag.console.txt"
	cp "$work/$tag.dmesg.txt" "$outdir/phases-logs/$tag.dmesg.txt"
	cp "$work/$tag/gcs.log" "$outdir/phases-logs/$tag.gcs.log"
	rm -rf "${work:?}/$tag"
}

# The Hyper-V-like runs: icount, booted with `noapictimer`.  Under TCG the
# kernel has to calibrate the local APIC timer (100 ms of polling against
# the TSC, 100 ms more verifying it); Hyper-V hands the guest the frequency
# (HV_X64_MSR_APIC_FREQUENCY) and KVM the TSC deadline timer, so neither
# calibrates.  Not in the product's command line: a stand-in for the host.
HYPERV_LIKE=noapictimer
MEM_MB=512
: >"$work/runs.jsonl"
# Interleaved, so load on the shared machine falls on both clocks alike.
for i in $(seq 1 "$runs"); do
	one_run "wall$i" 0
	one_run "icount$i" 1
	one_run "hvlike$i" 1 "$HYPERV_LIKE"
done

# Footprint after boot: a boot of its own (nothing run in the UVM before).
start_vm foot 0
lcowctl wait-ready --timeout 1200 >/dev/null 2>"$work/foot.err" || die "footprint boot: $(cat "$work/foot.err")"
foot=$(lcowctl exec --uvm -- /bin/sh -c '
t=$(sed -n "s/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p" /proc/meminfo)
a=$(sed -n "s/^MemAvailable:[[:space:]]*\([0-9]*\).*/\1/p" /proc/meminfo)
set -- $(pidof gcs); p=$1
r=$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$p/status)
h=$(sed -n "s/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$p/status)
i=$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p" /proc/1/status)
echo "$t $a $r $h $i"' 2>>"$work/foot.err" |
	awk -v ram=$((MEM_MB * 1024)) 'NF == 5 { printf "{\"ram_kb\":%d,\"mem_total_kb\":%d,\"mem_available_kb\":%d,\"mem_used_kb\":%d,\"mem_unavailable_kb\":%d,\"agent_vmrss_kb\":%d,\"agent_vmhwm_kb\":%d,\"init_vmrss_kb\":%d}\n", ram, $1, $2, $1 - $2, ram - $2, $3, $4, $5; ok = 1 }
		END { if (!ok) exit 1 }') || die "footprint: could not read /proc in the UVM: $(cat "$work/foot.err")"
stop_vm

size() { stat -c %s "$1" 2>/dev/null || echo null; }
sizes=$(jq -n \
	--argjson kernel "$(size "$BOOTFILES/kernel")" --argjson vmlinux "$(size "$BOOTFILES/vmlinux")" \
	--argjson initrd "$(size "$BOOTFILES/initrd.img")" --argjson rootfs "$(size "$BOOTFILES/rootfs.vhd")" \
	--argjson init "$(size "$OUT/build/guest/init/init")" --argjson gcs "$(size "$OUT/build/guest/gcs-agent/gcs")" \
	--argjson vsockexec "$(size "$OUT/build/guest/init/vsockexec")" \
	'{kernel:$kernel, vmlinux:$vmlinux, "initrd.img":$initrd, "rootfs.vhd":$rootfs,
	  init:$init, vsockexec:$vsockexec, gcs:$gcs}')

# Phases = differences of consecutive milestones; stats per clock.
jq -s --arg date "$(date -u +%FT%TZ)" --argjson runs "$runs" --arg hvargs "$HYPERV_LIKE" --argjson foot "$foot" --argjson sizes "$sizes" \
	--arg machine "scripts/run-vm --boot esp --host --accel tcg --mem $MEM_MB --quiet --no-console --pmem layer.vhd ($(qemu_machine_desc q35), -cpu max, 1 vCPU, OVMF, our gnu-efi loader, initrd root); icount runs add -icount shift=0,sleep=off" \
	--arg qemu "$(qemu-system-x86_64 --version | head -1)" \
	--arg host "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" '
	def stats: map(select(. != null)) | sort | if length == 0 then null else
		{n: length, min: (.[0] * 1e6 | round / 1e6), max: (.[-1] * 1e6 | round / 1e6),
		 spread: ((.[-1] - .[0]) * 1e6 | round / 1e6),
		 median: ((if length % 2 == 1 then .[length/2|floor] else (.[length/2 - 1] + .[length/2]) / 2 end) * 1e6 | round / 1e6)} end;
	def d(a; b): if a == null or b == null then null else b - a end;
	def phases: .milestones_s as $m | {
		"VM start → firmware hand-off (OVMF)": d(0; $m.firmware_handoff),
		"firmware hand-off → loader done (StartImage)": d($m.firmware_handoff; $m.loader_done),
		"loader done → kernel start (EFI stub, decompression, early setup)": d($m.loader_done; $m.kernel_start),
		"kernel start → /init": d($m.kernel_start; $m.init),
		"/init → agent started (init: mounts, entropy, vsockexec)": d($m.init; $m.agent_started),
		"agent started → agent dialled": d($m.agent_started; $m.agent_dialled),
		"agent dialled → NegotiateProtocol answered": d($m.agent_dialled; $m.negotiated),
		"negotiated → first container output byte": d($m.negotiated; $m.first_byte),
		"VM start → first container output byte": $m.first_byte};
	. as $all
	| def clock(ic): [$all[] | select(.icount == ic and (.kernel_args // "") == "")];
	  def hvlike: [$all[] | select(.icount and (.kernel_args // "") != "")];
	  def agg(rs): (rs | map(phases)) as $ps
		| (if ($ps | length) == 0 then {} else ($ps[0] | keys_unsorted) end) as $names
		| {runs: (rs | length),
		   phases_s: [$names[] as $n | {phase: $n, stats: ([$ps[][$n]] | stats)}],
		   milestones_s: ((rs[0].milestones_s // {}) | keys_unsorted | map(. as $k | {key: $k, value: ([rs[].milestones_s[$k]] | stats)}) | from_entries),
		   host_wall_s: {qemu_launch_to_negotiated_seen: ([rs[].host_wall_s.qemu_launch_to_negotiated_seen] | stats),
				 qemu_launch_to_first_byte_seen: ([rs[].host_wall_s.qemu_launch_to_first_byte_seen] | stats)},
		   run_wall_s: ([rs[].run_wall_s] | stats),
		   kernel_start_to_negotiated_s: ([rs[] | .milestones_s | d(.kernel_start; .negotiated)] | stats),
		   tsc_mhz: ([rs[].tsc_mhz] | stats)};
	{date: $date, runs: $runs, machine: $machine, qemu: $qemu, host: $host,
	 icount: agg(clock(true)), wall: agg(clock(false)),
	 hyperv_like_icount: (agg(hvlike) + {kernel_args: $hvargs}),
	 host_paced_phases: ["/init → agent started (init: mounts, entropy, vsockexec)", "agent started → agent dialled",
		"agent dialled → NegotiateProtocol answered", "negotiated → first container output byte",
		"VM start → first container output byte"],
	 footprint: {after_boot: $foot, sizes_bytes: $sizes},
	 how: {
	   timeline: "seconds since reset on the guest clock: the TSC is 0 at reset under QEMU; TSC ticks / the guest-detected (refined) TSC frequency",
	   firmware_handoff: "loader entry TSC (lcow.loader_tsc=<entry>,<start> on /proc/cmdline, stamped by image/efi/loader.c)",
	   loader_done: "StartImage TSC from the same stamp",
	   kernel_start: "zero of the kernel'"'"'s raw sched_clock (the TSC from tsc_early_init in setup_arch, after the EFI stub and decompression): bench-probe clock in the UVM writes a /dev/kmsg mark between two TSC readings and reads back its printk time; printk time = raw sched_clock + the offset logged by \"sched_clock: Marking stable\" (a late initcall, before /init)",
	   init: "printk time of \"Run /init as init process\" placed on the TSC timeline by the same mark (both after sched_clock is marked stable, so their difference is TSC time)",
	   printk_clock_caveat: "the printk clock itself does not start at kernel start: before sched_clock is marked stable it follows the early jiffies-based timekeeping, which under TCG runs ahead of the TSC; so the printk time of /init (what boot-bench and bootmodes-bench report) exceeds the TSC-measured kernel start -> /init by that offset",
	   agent_dialled: "agent log \"bridge connected\" uptime_ns (CLOCK_BOOTTIME), placed on the timeline by the probe reading TSC and CLOCK_BOOTTIME back to back",
	   negotiated: "agent log: its response to NegotiateProtocol (type 0x20100b01), uptime_ns",
	   first_byte: "TSC printed by bench-probe clock as the first output of the container (exec in container c1 on a VPMem layer made with tar2ext4)",
	   icount: "-icount shift=0,sleep=off: 1 ns of guest time per instruction.  Firmware, loader and kernel phases are pure guest work and repeat exactly.  The host-paced phases (host_paced_phases: entropy and log connections to the host, the dial, requests from lcowctl) are not: while the guest idles waiting for the host its clock jumps to the next timer deadline, again and again for as long as the (slow, loaded) host takes, so their icount figures measure host latency in timer deadlines, not guest work; read their wall figures",
	   wall: "same boots without icount (TCG): the guest clock follows the host wall clock",
	   hyperv_like_icount: "icount boots with the kernel argument in kernel_args (noapictimer): under TCG the kernel calibrates the local APIC timer (100 ms polling against the TSC) and verifies it (100 ms more); Hyper-V gives the guest the frequency (HV_X64_MSR_APIC_FREQUENCY) and KVM the TSC deadline timer, so neither does; a stand-in for that, not in the product",
	   footprint: "a separate boot without icount: /proc/meminfo and /proc/<gcs>/status read through lcowctl exec --uvm right after the bridge is negotiated"},
	 run_details: $all}' "$work/runs.jsonl" >"$outdir/phases.json"

J=$outdir/phases.json
{
	echo "# Boot phases benchmark ($(date -u +%F))"
	echo
	jq -r '"Machine: `\(.machine)`; \(.qemu); host: \(.host). \(.runs) run(s) per clock; median (spread = max − min)."' "$J"
	echo
	echo "| phase | icount (guest time) | wall (guest clock, no icount) |"
	echo "|---|---|---|"
	jq -r 'def f(s): if s == null then "not measured" else "\(s.median * 1e6 | round / 1000) ms (±\(s.spread * 5e5 | round / 1000))" end;
		.host_paced_phases as $hp
		| [.icount.phases_s, .wall.phases_s] as [$i, $w]
		| range(0; [$i, $w] | map(length) | max) as $n
		| ($i[$n] // $w[$n]).phase as $p
		| "| \($p)\(if ($hp | index($p)) then " †" else "" end) | \(f($i[$n].stats)) | \(f($w[$n].stats)) |"' "$J"
	echo
	jq -r 'def ms(s): if s == null then "not measured" else "\(s.median * 1e6 | round / 1000) ms" end;
		"Kernel start → NegotiateProtocol answered (icount; target ≤ 50 ms): \(ms(.icount.kernel_start_to_negotiated_s)) as is, \(ms(.hyperv_like_icount.kernel_start_to_negotiated_s)) Hyper-V-like (`\(.hyperv_like_icount.kernel_args)`: no LAPIC timer calibration, which TCG forces and Hyper-V does not; of it, kernel start → /init \(ms(.hyperv_like_icount.phases_s[] | select(.phase == "kernel start → /init") | .stats)))."' "$J"
	echo
	echo "† host-paced: the guest waits for the host; under icount (sleep=off) its clock then jumps from timer deadline to timer deadline for as long as the host takes, so the icount figure is host latency, not guest work — read the wall figure."
	echo
	jq -r '"Host wall clock, QEMU launched → the host saw: the negotiated bridge \(.wall.host_wall_s.qemu_launch_to_negotiated_seen.median) s, the first output byte \(.wall.host_wall_s.qemu_launch_to_first_byte_seen.median) s (icount runs: \(.icount.host_wall_s.qemu_launch_to_negotiated_seen.median) s and \(.icount.host_wall_s.qemu_launch_to_first_byte_seen.median) s)."' "$J"
	echo
	jq -r '.footprint.after_boot | "After boot (\(.mem_total_kb) kB guest RAM): MemTotal − MemAvailable \(.mem_used_kb) kB; of the VM'"'"'s \(.ram_kb) kB, \(.mem_unavailable_kb) kB are not available (firmware, the kernel'"'"'s image and page structures, and what is in use); agent VmRSS \(.agent_vmrss_kb) kB (VmHWM \(.agent_vmhwm_kb) kB); init VmRSS \(.init_vmrss_kb) kB."' "$J"
	echo
	jq -r '.how | to_entries[] | "- \(.key): \(.value)"' "$J"
} >"$outdir/phases.md"
cat "$outdir/phases.md"
