#!/usr/bin/env bash
# Container benchmark, in ONE VM (scripts/run-vm --host), through lcowctl:
#  1. create + first exec -> first output byte: CombinedLayers + Create +
#     the first ExecuteProcess of `echo x` (the container's init), wall time
#     until the first stdout byte reaches the host; each container deleted
#     after.  20 runs (5 with --runs 1).
#  2. 50 containers in a row (CombinedLayers + Create, exec `true`, wait,
#     ShutdownForced, DeleteContainerState + layer removal): wall time per
#     container (median, p90) and the agent's VmRSS / open fds before the
#     first and after the last.
#  3. the first-byte figure again in a second VM under --icount (TCG,
#     -icount shift=0,sleep=off, kernel-direct boot): guest idle time is
#     skipped there, so it is NOT comparable to a real machine; reported
#     separately, 5 runs.
# JSON + Markdown into --out (container.json, container.md).  Reports
# numbers; never fails on a timing.
#   qemu-tests/bench/container-bench.sh [--runs N] [--out DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
DATA=$ROOT/qemu-tests/tests/data
UVM=00000000-0000-0000-0000-000000000000
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
for f in kernel vmlinux initrd.img; do
	[ -r "$BOOTFILES/$f" ] || { echo "container-bench: no $BOOTFILES/$f (run ./build.sh)" >&2; exit 1; }
done
for b in lcowctl lcow-vsockd; do
	[ -x "$BIN/$b" ] || { echo "container-bench: no $BIN/$b (run ./build.sh)" >&2; exit 1; }
done
if [ "$runs" = 1 ]; then n_first=5; else n_first=20; fi
n_serial=50
n_icount=5
# The short run (run-all.sh --short, CI) only keeps this code from rotting.
if [ "${BENCH_SHORT:-0}" = 1 ]; then n_serial=10 n_icount=2; fi

mkdir -p "$outdir"
work=$(mktemp -d /tmp/lcow-container-bench.XXXXXX)
vm_pid=
ctl=

lcowctl() { "$BIN/lcowctl" -c "$ctl" "$@"; }

stop_vm() {
	[ -n "$vm_pid" ] || return 0
	"$BIN/lcowctl" -c "$ctl" --rpc-timeout 10 shutdown-forced >/dev/null 2>&1 || true
	local i
	for i in $(seq 1 100); do
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$vm_pid" 2>/dev/null; then
		kill "$vm_pid" 2>/dev/null || true # run-vm stops its QEMU and backends on TERM
	fi
	wait "$vm_pid" 2>/dev/null || true
	vm_pid=
}
cleanup() {
	stop_vm
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# boot_vm NAME READY-TIMEOUT [run-vm options...]: boots, waits for the
# bridge; sets ctl.
boot_vm() {
	local name=$1 ready=$2
	shift 2
	"$ROOT/scripts/run-vm" --bootfiles "$BOOTFILES" --host --workdir "$work/$name" \
		--serial "$work/$name.console.log" --mem 768 --timeout 3000 "$@" \
		>"$work/$name.run-vm.log" 2>&1 &
	vm_pid=$!
	ctl=$work/$name/vm.sock.ctl
	local i
	for i in $(seq 1 1500); do
		[ -S "$ctl" ] && break
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.2
	done
	lcowctl wait-ready --timeout "$ready" >/dev/null 2>&1
}

# Two busybox layers, built inside the VM (as container_test.sh does).
build_layers() {
	lcowctl exec --uvm -- /bin/sh -c '
set -e
B=/run/layers/base A=/run/layers/app
mkdir -p $B/bin $B/etc $B/proc $B/sys $B/dev $B/root $B/tmp $B/home/app $A/etc
cp /bin/busybox $B/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $B/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\n" >$B/etc/passwd
printf "root:x:0:\n" >$B/etc/group
echo layers-ready' 2>&1 | grep -q '^layers-ready$'
}

layers_json() {
	echo "{\"ContainerRootPath\":\"/run/gcs/c/$1/rootfs\",\"Layers\":[{\"Path\":\"/run/layers/app\"},{\"Path\":\"/run/layers/base\"}],\"ScratchPath\":\"/run/gcs/c/$1/scratch\"}"
}
remove_container() {
	local id=$1
	lcowctl shutdown-forced "$id" >/dev/null 2>&1 || true # already stopped: an error, fine
	lcowctl delete "$id" >/dev/null 2>"$work/delete.err" &&
		lcowctl modify "$UVM" --type CombinedLayers --request Remove --settings \
			"{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\"}" >/dev/null 2>&1
}

# first_byte ID: CombinedLayers + Create + exec `echo x`, timed from before
# CombinedLayers to the first stdout byte on the host.  The timing lives in
# one Python process so that no interpreter start-up sits in the interval.
# Prints "<seconds> <ok|bad>"; the container is deleted after.
first_byte() {
	local id=$1
	python3 "$DATA/container-config.py" "$id" >"$work/$id.json"
	python3 - "$BIN/lcowctl" "$ctl" "$id" "$(layers_json "$id")" "@$work/$id.json" <<'EOF' || echo "null bad"
import subprocess, sys, time
lc, ctl, cid, layers, cfg = sys.argv[1:]
base = [lc, "-c", ctl]
q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t0 = time.monotonic()
subprocess.run(base + ["modify", "00000000-0000-0000-0000-000000000000",
                       "--type", "CombinedLayers", "--settings", layers], check=True, **q)
subprocess.run(base + ["create", cid, "--config", cfg], check=True, **q)
p = subprocess.Popen(base + ["exec", cid, "-n", "--", "echo", "x"],
                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
b = p.stdout.read(1)
t1 = time.monotonic()
rest = p.stdout.read()
rc = p.wait()
ok = b == b"x" and rest == b"\n" and rc == 0
print("%.6f %s" % (t1 - t0, "ok" if ok else "bad"))
EOF
	if ! remove_container "$id"; then
		echo "$id: $(tr '\n' ' ' <"$work/delete.err")" >>"$work/delete-failures.txt"
		echo "container-bench: $id: delete failed: $(cat "$work/delete.err")" >&2
	fi
}

# agent_stats -> JSON {vmrss_kb, vmhwm_kb, fds, threads}.  The exec that
# reads them holds a few fds of its own in the agent; it is the same exec
# before and after, so the comparison is fair.
agent_stats() {
	lcowctl exec --uvm -- /bin/sh -c 'p=$(pidof gcs); set -- $p; p=$1
echo "$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$p/status) $(sed -n "s/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$p/status) $(ls /proc/$p/fd | wc -l) $(sed -n "s/^Threads:[[:space:]]*//p" /proc/$p/status) $p"' 2>/dev/null |
		awk 'NF >= 5 { printf "{\"pid\":%d,\"vmrss_kb\":%d,\"vmhwm_kb\":%d,\"fds\":%d,\"threads\":%d}\n", $5, $1, $2, $3, $4; ok=1 }
		     END { if (!ok) print "null" }'
}

stats() { # numbers on stdin -> JSON {n,min,max,median,p90}
	jq -s 'map(select(. != null)) | sort | {n: length, min: (.[0]), max: (.[-1]),
		median: (if length == 0 then null elif length % 2 == 1 then .[length/2|floor]
			 else ((.[length/2 - 1] + .[length/2]) / 2 * 1e6 | round) / 1e6 end),
		p90: (if length == 0 then null else .[((length * 0.9) | ceil) - 1] end)}'
}

# first_byte_series PREFIX N FILE: N runs, seconds into FILE; returns the
# number of bad runs in $bad.
first_byte_series() {
	local prefix=$1 n=$2 file=$3 i t s
	: >"$file"
	bad=0
	for i in $(seq 1 "$n"); do
		read -r t s < <(first_byte "$prefix$i")
		echo "container-bench: $prefix run $i: create + first exec -> first byte ${t} s ($s)" >&2
		if [ "$s" = ok ]; then echo "$t" >>"$file"; else bad=$((bad + 1)); fi
	done
}

accel_of() { # WORKDIR: from the command line of the QEMU that uses it
	ps -eo args= | grep -F -- "$1" | grep -o -- '-accel [a-z]*' | head -1 | cut -d' ' -f2 || true
}

# ---------------- VM 1: the default boot (KVM when it works) ----------------
none='{"n":0,"min":null,"max":null,"median":null,"p90":null}'
first=$none serial=$none before='null' after='null' accel=unknown bad_first=0 bad_serial=0
if boot_vm main 600 --cpus 2 && build_layers; then
	accel=$(accel_of "$work/main/")
	[ -n "$accel" ] || accel=unknown
	# one warm-up container (page cache, first overlay mount), not counted
	first_byte warm >/dev/null
	first_byte_series fb "$n_first" "$work/first.txt"
	bad_first=$bad
	first=$(stats <"$work/first.txt")

	before=$(agent_stats)
	: >"$work/serial.txt"
	bad_serial=0
	for i in $(seq 1 "$n_serial"); do
		id=s$i
		python3 "$DATA/container-config.py" "$id" >"$work/$id.json"
		t0=$(date +%s.%N)
		if lcowctl modify "$UVM" --type CombinedLayers --settings "$(layers_json "$id")" >/dev/null 2>&1 &&
			lcowctl create "$id" --config "@$work/$id.json" >/dev/null 2>&1 &&
			lcowctl exec "$id" -n -- true >/dev/null 2>&1 &&
			remove_container "$id"; then
			t1=$(date +%s.%N)
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$work/serial.txt"
		else
			bad_serial=$((bad_serial + 1))
			echo "$id: failed in create/exec/delete: $(tr '\n' ' ' <"$work/delete.err" 2>/dev/null)" >>"$work/delete-failures.txt"
			remove_container "$id" || true
		fi
		rm -f "$work/$id.json"
	done
	after=$(agent_stats)
	serial=$(stats <"$work/serial.txt")
	echo "container-bench: $n_serial containers in a row: $(jq -c . <<<"$serial"), $bad_serial failed" >&2
	echo "container-bench: agent before: $before; after: $after" >&2
	left=$(lcowctl exec --uvm -- /bin/sh -c \
		'find /sys/fs/cgroup/pods -mindepth 1 -type d | wc -l; grep -c /run/gcs /proc/self/mountinfo; ls /run/gcs/c | wc -l' 2>/dev/null |
		tr '\n' ' ' | sed 's/ $//')
else
	echo "container-bench: the VM did not come up (see below)" >&2
	tail -20 "$work/main.run-vm.log" >&2 || true
	left=
fi
stop_vm

# ---------------- VM 2: --icount (deterministic guest time) ----------------
icount=$none bad_icount=0
if boot_vm icount 420 --cpus 1 --icount --boot direct && build_layers; then
	first_byte iwarm >/dev/null
	first_byte_series ic "$n_icount" "$work/icount.txt"
	bad_icount=$bad
	icount=$(stats <"$work/icount.txt")
else
	echo "container-bench: the --icount VM did not come up" >&2
fi
stop_vm

touch "$work/delete-failures.txt"
failures=$(jq -R . <"$work/delete-failures.txt" | jq -s .)
growth=$(jq -n --argjson b "$before" --argjson a "$after" \
	'if $b == null or $a == null then null else
	 {vmrss_kb: ($a.vmrss_kb - $b.vmrss_kb), fds: ($a.fds - $b.fds), threads: ($a.threads - $b.threads)} end')
jq -n --arg date "$(date -u +%FT%TZ)" --argjson runs "$runs" --arg accel "$accel" \
	--arg machine "scripts/run-vm --host --mem 768 --cpus 2 (default boot: OVMF + kernel EFI stub, initrd root)" \
	--arg host "$(nproc) host cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
	--argjson first "$first" --argjson nf "$n_first" --argjson badf "$bad_first" \
	--argjson serial "$serial" --argjson ns "$n_serial" --argjson bads "$bad_serial" \
	--argjson before "$before" --argjson after "$after" --argjson growth "$growth" --arg left "$left" \
	--argjson failures "$failures" --argjson icount "$icount" --argjson ni "$n_icount" --argjson badi "$bad_icount" \
	'{date:$date, runs:$runs, delete_failures:$failures, machine:$machine, accel:$accel, host:$host,
	  create_first_exec_first_byte_wall_s: ($first + {runs:$nf, failed:$badf,
		what:"CombinedLayers + Create + first ExecuteProcess (echo x, the container init) until the first stdout byte reaches the host; container deleted after each run; one warm-up run not counted"}),
	  serial_containers: {count:$ns, failed:$bads, per_container_wall_s:$serial,
		what:"CombinedLayers + Create, exec true (until exit), ShutdownForced, DeleteContainerState, CombinedLayers Remove",
		agent_before:$before, agent_after:$after, agent_growth:$growth,
		left_behind_cgroups_mounts_dirs:$left},
	  icount_first_byte_wall_s: ($icount + {runs:$ni, failed:$badi,
		what:"the same first-byte figure in a second VM under --icount (-icount shift=0,sleep=off, TCG, one vCPU, --boot direct). Wall time on the host; guest idle time is skipped (sleep=off), so this is not a figure for a real machine"})}' \
	>"$outdir/container.json"

J=$outdir/container.json
{
	echo "# Container benchmark ($(date -u +%F))"
	echo
	echo "One VM: \`$(jq -r .machine "$J")\`, accel $(jq -r .accel "$J"); host: $(jq -r .host "$J")."
	echo
	echo "| figure | n | median | min–max | p90 |"
	echo "|---|---|---|---|---|"
	jq -r '.create_first_exec_first_byte_wall_s | "| create + first exec → first output byte (wall) | \(.n) (\(.failed) failed) | \(.median) s | \(.min)–\(.max) s | \(.p90) s |"' "$J"
	jq -r '.serial_containers | "| one of \(.count) containers in a row: create, exec `true`, shutdown, delete (wall) | \(.per_container_wall_s.n) (\(.failed) failed) | \(.per_container_wall_s.median) s | \(.per_container_wall_s.min)–\(.per_container_wall_s.max) s | \(.per_container_wall_s.p90) s |"' "$J"
	jq -r '.icount_first_byte_wall_s | "| create + first exec → first output byte, **--icount** (TCG, 1 vCPU, kernel-direct, sleep=off: guest idle time skipped; not a real-machine figure) | \(.n) (\(.failed) failed) | \(.median) s | \(.min)–\(.max) s | \(.p90) s |"' "$J"
	echo
	echo "The agent (/bin/gcs) around the $(jq -r .serial_containers.count "$J") containers (read with \`lcowctl exec --uvm\`, whose own stdio fds are in both counts):"
	echo
	echo "| | VmRSS kB | VmHWM kB | open fds | threads |"
	echo "|---|---|---|---|---|"
	jq -r '.serial_containers | (["before", .agent_before], ["after", .agent_after]) |
		"| \(.[0]) | \(.[1].vmrss_kb) | \(.[1].vmhwm_kb) | \(.[1].fds) | \(.[1].threads) |"' "$J"
	jq -r '.serial_containers.agent_growth | if . == null then "| growth | ? | | ? | ? |" else
		"| growth | \(.vmrss_kb) | | \(.fds) | \(.threads) |" end' "$J"
	echo
	echo "Container deletions that failed (all parts): $(jq -r '.delete_failures | if length == 0 then "none" else join("; ") end' "$J")"
	echo
	echo "Left behind after all containers (cgroups, /run/gcs mounts, state dirs): $(jq -r .serial_containers.left_behind_cgroups_mounts_dirs "$J")"
} >"$outdir/container.md"
cat "$outdir/container.md"
