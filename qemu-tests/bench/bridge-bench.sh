#!/usr/bin/env bash
# Bridge benchmark, the full product stack (scripts/run-vm --host: QEMU +
# OVMF, lcow-vsockd, lcowctl serve; init runs the product command line
# `-e 1 /bin/vsockexec -e 109 /bin/gcs -v4 -log-format json -loglevel debug`):
#  (a) guest time from kernel start to "bridge negotiated" under
#      `-icount shift=0,sleep=off`: the agent's log line for its
#      NegotiateProtocol response carries uptime_ns (CLOCK_BOOTTIME), the
#      earlier milestones come from the console's printk timestamps and the
#      agent's other log lines; and the wall time from QEMU start, without
#      icount;
#  (b) the agent's memory after negotiation (/proc/<gcs>/status, read by a
#      process started with ExecuteProcess in the utility VM) and the size of
#      /bin/gcs in the booted initrd;
#  (c) the round trip of small requests (DumpStacks, an unknown message
#      type): a tight loop over one control connection to lcowctl serve, and
#      the lcowctl CLI per request.
# Each run boots twice: once with -icount for (a), once without (the
# product's TCG) for the wall time, (b) and (c).  Reports numbers; never fails
# on a timing, fails when the stack did not work.
#   qemu-tests/bench/bridge-bench.sh [--runs N] [--requests N] [--boot MODE] [--quick] [--out DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/scripts/qemu-machine.sh"
OUT=${OUT:-$ROOT/out}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
BIN=${BIN:-$OUT/bin}
HERE=$ROOT/qemu-tests/bench
runs=3
requests=200
cli_reps=20
boot=uefi
root=initrd
append=()
outdir=$OUT/bench
UVM_TIMEOUT=1200
NEGOTIATE_RESPONSE=0x20100b01

usage() {
	cat >&2 <<EOU
usage: $0 [--runs N] [--requests N] [--boot MODE] [--root WHERE] [--append ARGS]
       [--quick] [--out DIR]
  --runs N      boots of each kind (default 3; BENCH_RUNS in build.sh)
  --requests N  timed requests of each type per run over the control
                socket (default 200); the CLI is timed ${cli_reps}x per type
  --boot MODE   run-vm's boot mode: uefi (default, the product's), esp, direct
  --root WHERE  run-vm's root file system: initrd (default), pmem, scsi
  --append ARGS extra kernel arguments, e.g. nokaslr: the EFI stub's KASLR
                makes kernel start -> /init vary by a few ms between boots
  --quick       --runs 1 (CI)
  --out DIR     JSON + Markdown go here (default out/bench)
EOU
	exit 2
}
die() {
	echo "bridge-bench: $*" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?}; shift 2 ;;
	--requests) requests=${2:?}; shift 2 ;;
	--boot) boot=${2:?}; shift 2 ;;
	--root) root=${2:?}; shift 2 ;;
	--append) append+=(--append "${2:?}"); shift 2 ;;
	--quick) runs=1; shift ;;
	--out) outdir=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$requests" =~ ^[1-9][0-9]*$ ]] || usage
case "$boot" in uefi | esp | direct) ;; *) usage ;; esac
case "$root" in initrd | pmem | scsi) ;; *) usage ;; esac
for f in "$BOOTFILES/kernel" "$BOOTFILES/vmlinux" "$BOOTFILES/initrd.img" "$BIN/lcowctl" \
	"$BIN/lcow-vsockd"; do
	[ -r "$f" ] || die "no $f (run ./build.sh)"
done
for c in qemu-system-x86_64 python3 jq cpio gzip bc; do
	command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh installs it)"
done
mkdir -p "$outdir"

work=$(mktemp -d /tmp/lcow-bridge-bench.XXXXXX)
vm_pid=
wd=
cleanup() {
	stop_vm
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bridge-bench: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

problems=()
problem() {
	echo "bridge-bench: $*" >&2
	problems+=("$*")
}

# The boot files are copied first: other builds may replace out/bootfiles
# while the VMs run.
mkdir -p "$work/bf"
cp "$BOOTFILES/kernel" "$BOOTFILES/vmlinux" "$BOOTFILES/initrd.img" "$work/bf/"
if [ "$root" != initrd ]; then
	cp "$BOOTFILES/rootfs.vhd" "$work/bf/" 2>/dev/null || die "no $BOOTFILES/rootfs.vhd (run ./build.sh)"
fi

ctl() { "$BIN/lcowctl" -c "$wd/vm.sock.ctl" "$@"; }

# start_vm NAME [run-vm options]: boots the product in the background, its
# workdir $work/NAME (kept until the end), and waits for the control socket.
start_vm() {
	local name=$1
	shift
	wd=$work/$name
	mkdir -p "$wd"
	vm_t0=$(date +%s.%N)
	"$ROOT/scripts/run-vm" --bootfiles "$work/bf" --boot "$boot" --root "$root" --host \
		--workdir "$wd" --keep \
		--serial "$wd/console.log" --timeout "$UVM_TIMEOUT" \
		--qemu-arg -pidfile --qemu-arg "$wd/qemu.pid" "${append[@]}" "$@" >"$wd/run-vm.log" 2>&1 &
	vm_pid=$!
	# run-vm creates the control socket before QEMU starts (the first run
	# on a machine also probes KVM: up to ~30 s more).
	local _
	for _ in $(seq 1 900); do
		[ -S "$wd/vm.sock.ctl" ] && return 0
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 5 "$wd/run-vm.log" >&2 || true
	return 1
}

# stop_vm: ShutdownForced, then QEMU by its pid file (only if that pid is
# still this benchmark's QEMU), then run-vm.
stop_vm() {
	[ -n "$vm_pid" ] || return 0
	local _ q
	ctl shutdown-forced >/dev/null 2>&1 || true
	for _ in $(seq 1 300); do
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$vm_pid" 2>/dev/null; then
		q=$(cat "$wd/qemu.pid" 2>/dev/null || true)
		if [ -n "$q" ] && tr '\0' ' ' <"/proc/$q/cmdline" 2>/dev/null | grep -qF "$wd/"; then
			kill "$q" 2>/dev/null || true
		fi
		kill "$vm_pid" 2>/dev/null || true
	fi
	wait "$vm_pid" 2>/dev/null || true
	vm_pid=
}

# wait_for FILE FIXED-STRING SECONDS
wait_for() {
	local _
	for _ in $(seq 1 $(($3 * 10))); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The agent's uptime_ns on its first log line matching a jq condition.
agent_ns() { # GCS-LOG JQ-CONDITION
	jq -Rn "[inputs | fromjson? | select($2) | .uptime_ns] | first // empty" "$1"
}
# The printk timestamp (seconds) of the first console line matching a sed regex.
printk_s() { # CONSOLE REGEX
	sed -n "/^\[ *[0-9.]*\] $2/{s/^\[ *\([0-9.]*\)\].*/\1/p;q}" "$1"
}
ns_to_s() { # "" -> null
	if [ -n "$1" ]; then echo "scale=9; $1 / 1000000000" | bc | sed 's/^\./0./'; else echo null; fi
}
or_null() { if [ -n "$1" ]; then echo "$1"; else echo null; fi; }

# (a) guest time to a negotiated bridge, -icount.
icount_run() {
	local i=$1
	if ! start_vm "icount$i" --icount --accel tcg; then
		problem "icount run $i: the host side did not start"
		return
	fi
	if ! ctl wait-ready --timeout "$UVM_TIMEOUT" >"$wd/negotiate.json" 2>"$wd/wait-ready.err"; then
		problem "icount run $i: the bridge was not negotiated ($(cat "$wd/wait-ready.err"))"
		stop_vm
		return
	fi
	local wall
	wall=$(echo "$(date +%s.%N) - $vm_t0" | bc)
	# The response's log line follows the response itself, over port 109.
	wait_for "$wd/gcs.log" "\"type\":\"$NEGOTIATE_RESPONSE\"" 30 ||
		problem "icount run $i: no log line for the NegotiateProtocol response"
	stop_vm
	sed -i 's/\r$//' "$wd/console.log"
	local c=$wd/console.log g=$wd/gcs.log
	jq -n --argjson run "$i" --argjson wall "$wall" \
		--argjson init "$(or_null "$(printk_s "$c" 'Run \/init as init process')")" \
		--argjson initprog "$(or_null "$(printk_s "$c" 'init: started \/bin\/vsockexec')")" \
		--argjson started "$(ns_to_s "$(agent_ns "$g" '.msg == "gcs started"')")" \
		--argjson connected "$(ns_to_s "$(agent_ns "$g" '.msg == "bridge connected"')")" \
		--argjson entropy "$(or_null "$(printk_s "$c" 'init: added [0-9]* bytes of entropy')")" \
		--argjson negotiated "$(ns_to_s "$(agent_ns "$g" ".msg == \"response\" and .type == \"$NEGOTIATE_RESPONSE\"")")" \
		--argjson agent "$(jq -Rn '[inputs | fromjson? | {msg, uptime_ns}] | .[:12]' "$g")" \
		--argjson console "$(sed -n '/Run \/init as init process/,$p' "$c" | head -n 12 | jq -R . | jq -s .)" \
		'{run:$run, wall_to_negotiated_s:$wall, run_init_s:$init, init_entropy_s:$entropy,
		  init_started_vsockexec_s:$initprog, gcs_started_s:$started, bridge_connected_s:$connected,
		  negotiated_s:$negotiated, agent_log:$agent, console_from_init:$console}' \
		>>"$work/icount.jsonl"
	local neg
	neg=$(jq -s '.[-1].negotiated_s' "$work/icount.jsonl")
	[ "$neg" != null ] || problem "icount run $i: the negotiation response has no uptime_ns"
	echo "bridge-bench: icount run $i: kernel start -> negotiated $neg s guest time, ${wall} s wall" >&2
}

# (b) + (c), and the wall time, without -icount.
plain_run() {
	local i=$1
	if ! start_vm "tcg$i"; then
		problem "run $i: the host side did not start"
		return
	fi
	if ! ctl wait-ready --timeout "$UVM_TIMEOUT" >"$wd/negotiate.json" 2>"$wd/wait-ready.err"; then
		problem "run $i: the bridge was not negotiated ($(cat "$wd/wait-ready.err"))"
		stop_vm
		return
	fi
	local wall accel pid
	wall=$(echo "$(date +%s.%N) - $vm_t0" | bc)
	accel=$(sed -n 's/^run-vm: \([a-z]*\), boot.*/\1/p' "$wd/run-vm.log" | head -1)

	# (b) The agent's pid from DumpStacks; its status read by an exec'd cat.
	pid=$(ctl dump-stacks 2>/dev/null | sed -n 's/^gcs guest agent, pid \([0-9]*\),.*/\1/p')
	local mem=null
	if [ -z "$pid" ]; then
		problem "run $i: DumpStacks did not name the agent's pid"
	elif ! ctl exec --uvm -n -- /bin/cat "/proc/$pid/status" >"$wd/gcs-status.txt" 2>"$wd/exec.err"; then
		problem "run $i: ExecuteProcess in the UVM failed: $(head -c 300 "$wd/exec.err")"
	else
		mem=$(awk '/^(Name|VmPeak|VmSize|VmHWM|VmRSS|RssAnon|RssFile|RssShmem|VmData|VmStk|VmExe):/ {
				v = $2; if ($1 != "Name:") v = v + 0; else v = "\"" v "\"";
				printf "%s\"%s_kB\":%s", (n++ ? "," : "{"), substr($1, 1, length($1) - 1), v }
			END { print (n ? "}" : "null") }' "$wd/gcs-status.txt" | sed 's/"Name_kB"/"Name"/')
		[ "$(jq -r '.Name // empty' <<<"$mem")" = gcs ] ||
			problem "run $i: /proc/$pid/status is not the agent's: $(head -1 "$wd/gcs-status.txt")"
	fi

	# (c) One control connection, one request at a time.
	local loop=null
	if loop=$(python3 "$HERE/ctl-latency.py" --control "$wd/vm.sock.ctl" --count "$requests" \
		2>"$wd/latency.err"); then
		:
	else
		problem "run $i: request loop failed: $(head -c 300 "$wd/latency.err")"
		loop=null
	fi
	# The CLI: one lcowctl process per request (spawn, connect, answer).
	local k t0 t1 rc cli_ds=() cli_unk=()
	for k in $(seq 1 "$cli_reps"); do
		t0=${EPOCHREALTIME//[.,]/}
		if ! ctl dump-stacks >/dev/null 2>&1; then
			problem "run $i: lcowctl dump-stacks failed"
			break
		fi
		t1=${EPOCHREALTIME//[.,]/}
		cli_ds+=($((t1 - t0)))
		t0=${EPOCHREALTIME//[.,]/}
		rc=0
		ctl request 0x10100f01 '{}' >/dev/null 2>"$wd/unknown.err" || rc=$?
		t1=${EPOCHREALTIME//[.,]/}
		if [ "$rc" != 1 ] || ! grep -q 0x80004001 "$wd/unknown.err"; then
			problem "run $i: an unknown message type did not get 0x80004001 (exit $rc)"
			break
		fi
		cli_unk+=($((t1 - t0)))
	done
	stop_vm
	jq -n --argjson run "$i" --argjson wall "$wall" --arg accel "$accel" --argjson mem "$mem" \
		--argjson loop "$loop" \
		--argjson cds "$(printf '%s\n' "${cli_ds[@]}" | jq -s 'map(select(. != null)) | sort')" \
		--argjson cunk "$(printf '%s\n' "${cli_unk[@]}" | jq -s 'map(select(. != null)) | sort')" \
		'{run:$run, accel:$accel, wall_to_negotiated_s:$wall, gcs_status:$mem,
		  control_loop_us:$loop, cli_us:{DumpStacks:$cds, UnknownType:$cunk}}' >>"$work/plain.jsonl"
	echo "bridge-bench: run $i ($accel): negotiated after ${wall} s wall," \
		"gcs VmRSS $(jq -r '.VmRSS_kB // "?"' <<<"$mem") kB," \
		"DumpStacks loop median $(jq -r '(.DumpStacks.us // [])[((.DumpStacks.count // 0) / 2 | floor)] // "?"' <<<"$loop") us" >&2
}

: >"$work/icount.jsonl"
: >"$work/plain.jsonl"
for i in $(seq 1 "$runs"); do
	icount_run "$i"
	plain_run "$i"
done

# /bin/gcs as booted: from the initrd copy.
mkdir -p "$work/x"
gcs_size=null
gcs_segments=null
if (cd "$work/x" && bsdtar -xf "$work/bf/initrd.img" bin/gcs) 2>/dev/null &&
	[ -f "$work/x/bin/gcs" ]; then
	gcs_size=$(stat -c %s "$work/x/bin/gcs")
	if command -v size >/dev/null; then
		gcs_segments=$(size "$work/x/bin/gcs" | awk 'NR == 2 { printf "{\"text\":%d,\"data\":%d,\"bss\":%d}", $1, $2, $3 }')
	fi
else
	problem "no bin/gcs in the initrd"
fi

# ---- aggregation ----
stats() { # numbers on stdin -> JSON {median,min,max,n}
	jq -s 'map(select(. != null)) | sort | {n: length, min: (.[0]), max: (.[-1]),
		median: (if length == 0 then null elif length % 2 == 1 then .[length/2|floor]
			 else (.[length/2 - 1] + .[length/2]) / 2 end)}'
}
# Pooled samples (µs) -> {n, median, p90, p99, min, max}; nearest rank.
pct() {
	jq -s 'add // [] | sort | length as $n |
		def at(p): if $n == 0 then null else .[((p * $n) | ceil) - 1 | if . < 0 then 0 else . end] end;
		{n: $n, median: at(0.5), p90: at(0.9), p99: at(0.99), min: .[0], max: .[-1]}'
}
icount_field() { jq ".$1" "$work/icount.jsonl" | stats; }
plain_field() { jq ".$1" "$work/plain.jsonl" | stats; }
milestones=$(jq -n \
	--argjson a "$(icount_field run_init_s)" --argjson b "$(icount_field init_started_vsockexec_s)" \
	--argjson c "$(icount_field gcs_started_s)" --argjson d "$(icount_field bridge_connected_s)" \
	--argjson e "$(icount_field negotiated_s)" --argjson f "$(icount_field init_entropy_s)" \
	'{run_init:$a, init_entropy:$f, init_started_vsockexec:$b, gcs_started:$c,
	  bridge_connected:$d, negotiation_answered:$e}')
latency=$(jq -n \
	--argjson lds "$(jq '.control_loop_us.DumpStacks.us // []' "$work/plain.jsonl" | pct)" \
	--argjson lunk "$(jq '.control_loop_us.UnknownType.us // []' "$work/plain.jsonl" | pct)" \
	--argjson lds_runs "$(jq '.control_loop_us.DumpStacks.us // [] | if length > 0 then .[length / 2 | floor] else null end' "$work/plain.jsonl" | stats)" \
	--argjson lunk_runs "$(jq '.control_loop_us.UnknownType.us // [] | if length > 0 then .[length / 2 | floor] else null end' "$work/plain.jsonl" | stats)" \
	--argjson cds "$(jq '.cli_us.DumpStacks' "$work/plain.jsonl" | pct)" \
	--argjson cunk "$(jq '.cli_us.UnknownType' "$work/plain.jsonl" | pct)" \
	'{control_loop: {DumpStacks: ($lds + {per_run_median: $lds_runs}),
			 UnknownType: ($lunk + {per_run_median: $lunk_runs})},
	  lcowctl_cli: {DumpStacks: $cds, UnknownType: $cunk}}')
memory=$(jq -n \
	--argjson rss "$(plain_field gcs_status.VmRSS_kB)" --argjson hwm "$(plain_field gcs_status.VmHWM_kB)" \
	--argjson anon "$(plain_field gcs_status.RssAnon_kB)" --argjson file "$(plain_field gcs_status.RssFile_kB)" \
	--argjson shmem "$(plain_field gcs_status.RssShmem_kB)" --argjson vsz "$(plain_field gcs_status.VmSize_kB)" \
	--argjson size "$gcs_size" --argjson seg "$gcs_segments" \
	'{VmRSS_kB:$rss, VmHWM_kB:$hwm, RssAnon_kB:$anon, RssFile_kB:$file, RssShmem_kB:$shmem,
	  VmSize_kB:$vsz, binary_bytes:$size, binary_segments:$seg}')
accel=$(jq -r -s 'map(.accel) | unique | join(",")' "$work/plain.jsonl")
qemu_cmd=$(sed 's/\\,/,/g' "$work/icount1/qemu.cmd" 2>/dev/null || true)
machine="scripts/run-vm --host --boot $boot --root $root${append[*]:+ ${append[*]}} ($(qemu_machine_desc q35); 512 MB; 1 vCPU; TCG -cpu max)"

ok=true
[ ${#problems[@]} -eq 0 ] || ok=false
jq -n --arg date "$(date -u +%FT%TZ)" --argjson ok "$ok" \
	--argjson problems "$(printf '%s\n' "${problems[@]}" | jq -R . | jq -sc 'map(select(. != ""))')" \
	--arg machine "$machine" --arg qemu "$qemu_cmd" --arg accel "$accel" --argjson runs "$runs" \
	--argjson requests "$requests" --argjson cli "$cli_reps" \
	--argjson ms "$milestones" --argjson icwall "$(icount_field wall_to_negotiated_s)" \
	--argjson wall "$(plain_field wall_to_negotiated_s)" --argjson mem "$memory" \
	--argjson lat "$latency" \
	--slurpfile icruns "$work/icount.jsonl" --slurpfile pruns "$work/plain.jsonl" \
	'{date:$date, ok:$ok, problems:$problems, machine:$machine, icount_qemu_command:$qemu,
	  accel_without_icount:$accel, runs:$runs, requests_per_type:$requests, cli_requests_per_type:$cli,
	  kernel_start_to_icount_s:$ms,
	  qemu_start_to_negotiated_wall_s:{tcg:$wall, tcg_icount:$icwall},
	  agent_after_negotiation:$mem, round_trip_us:$lat,
	  raw:{icount:$icruns, runs:($pruns | map(del(.control_loop_us[]?.us)))}}' >"$outdir/bridge.json"

md() {
	jq -r 'def r3: if type == "number" then (. * 1000 | round / 1000 | tostring) else "-" end;
		def r1: if type == "number" then (. * 10 | round / 10 | tostring) else "-" end;
		def r0: if type == "number" then (round | tostring) else "-" end;
		'"$1" "$outdir/bridge.json"
}
{
	echo "# Bridge benchmark ($(date -u +%F))"
	echo
	echo "Machine: \`$machine\`, the product command line; $runs run(s): each boots once with"
	echo "\`-icount shift=0,sleep=off\` (guest time) and once without (wall time, memory, latency)."
	echo
	echo "## Kernel start → bridge negotiated (guest time, icount)"
	echo
	echo "| milestone | clock | median s | min–max s |"
	echo "|---|---|---|---|"
	md '.kernel_start_to_icount_s |
		"| kernel runs /init | printk | \(.run_init.median | r3) | \(.run_init.min | r3)–\(.run_init.max | r3) |",
		"| init has 512 bytes of entropy from host port 1 | printk | \(.init_entropy.median | r3) | \(.init_entropy.min | r3)–\(.init_entropy.max | r3) |",
		"| init started /bin/vsockexec → gcs | printk | \(.init_started_vsockexec.median | r3) | \(.init_started_vsockexec.min | r3)–\(.init_started_vsockexec.max | r3) |",
		"| gcs started | agent uptime_ns | \(.gcs_started.median | r3) | \(.gcs_started.min | r3)–\(.gcs_started.max | r3) |",
		"| bridge connected (vsock dial done) | agent uptime_ns | \(.bridge_connected.median | r3) | \(.bridge_connected.min | r3)–\(.bridge_connected.max | r3) |",
		"| **NegotiateProtocol answered** | agent uptime_ns | **\(.negotiation_answered.median | r3)** | \(.negotiation_answered.min | r3)–\(.negotiation_answered.max | r3) |"'
	echo
	echo "Guest time is CLOCK_BOOTTIME (printk: local_clock), 1 ns per instruction.  Where the"
	echo "guest idles, \`sleep=off\` jumps its clock to the next timer deadline at once, so a wait"
	echo "on a host process (entropy from port 1, the bridge dial) costs whole timer periods, and"
	echo "how many depends on host timing: min–max shows it.  With \`--boot uefi\` the EFI stub's"
	echo "KASLR also moves kernel start → /init by a few ms between boots (\`--append nokaslr\`"
	echo "or \`--boot direct\`: stable to microseconds)."
	echo
	md '.qemu_start_to_negotiated_wall_s | "QEMU start → negotiated, wall: \(.tcg.median | r1) s median (\(.tcg.min | r1)–\(.tcg.max | r1)) under TCG; \(.tcg_icount.median | r1) s under TCG + icount (firmware included)."'
	echo
	echo "## Agent after negotiation"
	echo
	echo "| VmRSS kB | VmHWM kB | RssAnon kB | RssFile kB | RssShmem kB | VmSize kB | /bin/gcs bytes | text / data / bss |"
	echo "|---|---|---|---|---|---|---|---|"
	md '.agent_after_negotiation | "| \(.VmRSS_kB.median | r0) (\(.VmRSS_kB.min | r0)–\(.VmRSS_kB.max | r0)) | \(.VmHWM_kB.median | r0) | \(.RssAnon_kB.median | r0) | \(.RssFile_kB.median | r0) | \(.RssShmem_kB.median | r0) | \(.VmSize_kB.median | r0) | \(.binary_bytes | r0) | \(.binary_segments.text | r0) / \(.binary_segments.data | r0) / \(.binary_segments.bss | r0) |"'
	echo
	echo "Read with ExecuteProcess (\`lcowctl exec --uvm -- cat /proc/<pid>/status\`, the pid from"
	echo "DumpStacks), so it includes what one DumpStacks and one ExecuteProcess left behind."
	echo "RssShmem is the binary's pages in the initramfs (tmpfs): the file, not the agent's heap."
	echo
	echo "## Round trip of a small request (wall, TCG)"
	echo
	echo "| path | requests | median µs | p90 µs | p99 µs | min µs | per-run medians µs |"
	echo "|---|---|---|---|---|---|---|"
	md '.round_trip_us |
		(.control_loop | to_entries[] | "| \(.key), one control connection | \(.value.n) | \(.value.median | r0) | \(.value.p90 | r0) | \(.value.p99 | r0) | \(.value.min | r0) | \(.value.per_run_median.min | r0)–\(.value.per_run_median.max | r0) |"),
		(.lcowctl_cli | to_entries[] | "| \(.key), one lcowctl process each | \(.value.n) | \(.value.median | r0) | \(.value.p90 | r0) | \(.value.p99 | r0) | \(.value.min | r0) | |")'
	echo
	echo "Control loop: a client writes {\"op\":\"request\"} lines to \`lcowctl serve\` and times each"
	echo "answer: client → serve → lcow-vsockd → agent → back.  UnknownType is 0x10100f01"
	echo "(answered 0x80004001 by the dispatcher, no handler)."
	if [ "$ok" != true ]; then
		echo
		echo "**FAILED:**"
		printf -- '- %s\n' "${problems[@]}"
	fi
} >"$outdir/bridge.md"
cat "$outdir/bridge.md"

if [ "$ok" != true ]; then
	echo "bridge-bench: FAILED:" >&2
	printf '  %s\n' "${problems[@]}" >&2
	exit 1
fi
