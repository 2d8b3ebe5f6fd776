#!/usr/bin/env bash
# One-shot utility VM benchmark: `scripts/lcow-oneshot format --create SIZE
# X.vhd` (make a sparse VHD, boot a VM whose init runs mkfs.ext4 on it as
# the Windows host formats scratch disks, power off), per size:
#   - wall time (no icount): the whole command as a caller waits for it,
#     and QEMU start -> exit (qemu.cmd written -> lcow-oneshot returns),
#   - guest time under `-icount shift=0,sleep=off` (1 ns per instruction,
#     the same on every run and every machine): kernel start -> /init,
#     /init -> the job's first line, the job (mkfs + sync), and kernel
#     start -> "reboot: Power down" (the whole boot-to-power-off as the
#     guest sees it), from printk timestamps; the job stamps its start and
#     end into /dev/kmsg,
#   - the guest's busy CPU time from boot to the job's end (/proc/stat
#     user+nice+system+irq+softirq+steal, which the job stamps with its
#     end): under sleep=off, time the vCPU spends idle waiting for a disk
#     write the host finishes in real time is warped to the next timer
#     deadline, so the icount clock of an I/O-bound job is not repeatable
#     (anything from 0.04 to 600 s was seen for one mkfs) while the busy
#     time, instructions only, is,
#   - the same printk figures of the wall boots.
# Every result must pass e2fsck -fn; never fails on a timing.
#   qemu-tests/bench/oneshot-bench.sh [--runs N] [--out DIR] [--sizes "256M 2G"]
set -euo pipefail

PROG=oneshot-bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/scripts/qemu-machine.sh"
OUT=${OUT:-$ROOT/out}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
ONESHOT=$ROOT/scripts/lcow-oneshot
runs=3
outdir=$OUT/bench
sizes=

usage() {
	cat >&2 <<EOU
usage: $0 [--runs N] [--out DIR] [--sizes "SIZE..."]

  --runs N     wall and icount runs per size (default 3)
  --out DIR    where oneshot.json and oneshot.md go (default out/bench)
  --sizes S    scratch sizes to format (default "256M 2G"; with
               BENCH_SHORT=1, "256M")
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
	--sizes) sizes=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
if [ -z "$sizes" ]; then
	sizes="256M 2G"
	[ "${BENCH_SHORT:-0}" = 1 ] && sizes=256M
fi
for f in vmlinux initrd.img; do
	[ -r "$BOOTFILES/$f" ] || die "no $BOOTFILES/$f (run ./build.sh)"
done
[ -x "$OUT/bin/tar2ext4" ] || die "no $OUT/bin/tar2ext4 (run ./build.sh)"
for t in jq e2fsck bc; do
	command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh)"
done
mkdir -p "$outdir"
work=$(mktemp -d /tmp/lcow-oneshot-bench.XXXXXX)
# Each one-shot runs in its own session: on any exit that group is ended,
# so no QEMU outlives the benchmark.
job_pid=
cleanup() {
	if [ -n "$job_pid" ]; then
		kill -TERM -- "-$job_pid" 2>/dev/null || true
		wait "$job_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One snapshot of the boot files for every run: a rebuild of out/ meanwhile
# neither breaks a run nor mixes two builds into one report.
mkdir "$work/bootfiles"
cp "$BOOTFILES"/{vmlinux,initrd.img} "$work/bootfiles/"
export OUT

printk_at() { # LOG TEXT: the printk time of the first line with TEXT
	sed -n "s/^\[ *\([0-9.]*\)\] $2.*/\1/p" "$1" | head -1
}

# once SIZE ICOUNT TAG: one lcow-oneshot format --create.  Appends
# "command_s qemu_s init_s job_start_s job_done_s power_down_s busy_s" to
# $work/SIZE.ICOUNT (null where absent).
once() {
	local size=$1 ic=$2 tag=$3
	local wd=$work/vm-$tag log=$work/$tag.log disk=$work/$tag.vhd
	local args=(format --bootfiles "$work/bootfiles" --timeout 900 --workdir "$wd"
		--log "$log" --create "$size")
	[ "$ic" = 1 ] && args+=(--icount)
	local rc=0 c0 t0 t1
	c0=$(date +%s.%N)
	setsid "$ONESHOT" "${args[@]}" "$disk" >"$work/$tag.out" 2>&1 </dev/null &
	job_pid=$!
	wait "$job_pid" || rc=$?
	job_pid=
	t1=$(date +%s.%N)
	if [ "$rc" != 0 ]; then
		cat "$work/$tag.out" >&2
		die "$size (icount=$ic): lcow-oneshot format failed (exit $rc)"
	fi
	e2fsck -fn "$disk" >/dev/null 2>&1 || die "$size (icount=$ic): the result fails e2fsck -fn"
	[ -r "$wd/qemu.cmd" ] || die "$size: no $wd/qemu.cmd"
	t0=$(stat -c %.9Y "$wd/qemu.cmd")
	[ -e "$work/qemu.$ic.cmd" ] || sed -e "s|$wd|VMDIR|g" -e "s|$work|BENCHDIR|g" \
		"$wd/qemu.cmd" >"$work/qemu.$ic.cmd"
	local init js jd off busy
	init=$(printk_at "$log" 'Run \/init as init process')
	js=$(printk_at "$log" 'lcow-oneshot: job start')
	jd=$(printk_at "$log" 'lcow-oneshot: job done')
	off=$(printk_at "$log" 'reboot: Power down')
	# "job done, cpu USER NICE SYSTEM IDLE IOWAIT IRQ SOFTIRQ STEAL ..."
	# in USER_HZ (100) ticks.
	busy=$(sed -n 's/.*lcow-oneshot: job done, cpu \+\([0-9 ]*\).*/\1/p' "$log" | head -1 |
		awk 'NF >= 8 { printf "%.2f\n", ($1 + $2 + $3 + $6 + $7 + $8) / 100 }')
	echo "$(echo "$t1 - $c0" | bc) $(echo "$t1 - $t0" | bc) ${init:-null} ${js:-null} ${jd:-null} ${off:-null} ${busy:-null}" \
		>>"$work/$size.$ic"
	rm -rf "$wd" "$disk"
	printf '%s: %-5s %-6s command %6.2f s wall, qemu %6.2f s wall; guest: /init %s s, job %s..%s s, power-off %s s, busy %s s\n' \
		"$PROG" "$size" "$([ "$ic" = 1 ] && echo icount || echo wall)" "$(echo "$t1 - $c0" | bc)" \
		"$(echo "$t1 - $t0" | bc)" "$init" "$js" "$jd" "$off" "$busy" >&2
}

# Wall and icount runs interleaved, so load on the shared machine falls on
# both alike.
for i in $(seq 1 "$runs"); do
	for s in $sizes; do
		once "$s" 0 "w$i-$s"
		once "$s" 1 "i$i-$s"
	done
done

stats() { # numbers (or null) on stdin -> JSON {median,min,max,spread,n} or null
	jq -s 'map(select(. != null)) | sort | if length == 0 then null else
		{n: length, min: (.[0] * 1e6 | round / 1e6), max: (.[-1] * 1e6 | round / 1e6),
		 spread: ((.[-1] - .[0]) * 1e6 | round / 1e6),
		 median: ((if length % 2 == 1 then .[length/2|floor]
			   else (.[length/2 - 1] + .[length/2]) / 2 end) * 1e6 | round / 1e6)} end'
}
col() { # FILE N
	awk -v n="$1" '{ print $n }' "$2"
}
diff_col() { # FILE A B: column B - column A
	awk -v a="$2" -v b="$3" '$a != "null" && $b != "null" { printf "%.6f\n", $b - $a }' "$1"
}
guest_json() { # FILE
	jq -n --argjson init "$(col 3 "$1" | stats)" \
		--argjson to_job "$(diff_col "$1" 3 4 | stats)" \
		--argjson job "$(diff_col "$1" 4 5 | stats)" \
		--argjson off "$(col 6 "$1" | stats)" \
		--argjson busy "$(col 7 "$1" | stats)" \
		'{kernel_to_init_s: $init, init_to_job_start_s: $to_job, job_mkfs_s: $job,
		  kernel_to_power_down_s: $off, busy_boot_to_job_end_s: $busy}'
}

results='[]'
for s in $sizes; do
	w=$work/$s.0 ic=$work/$s.1
	r=$(jq -n --arg size "$s" \
		--argjson w_cmd "$(col 1 "$w" | stats)" \
		--argjson w_qemu "$(col 2 "$w" | stats)" \
		--argjson w_guest "$(guest_json "$w")" \
		--argjson i_cmd "$(col 1 "$ic" | stats)" \
		--argjson i_qemu "$(col 2 "$ic" | stats)" \
		--argjson i_guest "$(guest_json "$ic")" \
		'{size: $size,
		  wall: {command_s: $w_cmd, qemu_start_to_exit_s: $w_qemu, guest_printk: $w_guest},
		  icount: ($i_guest + {command_wall_s: $i_cmd, qemu_start_to_exit_wall_s: $i_qemu})}')
	results=$(jq --argjson r "$r" '. + [$r]' <<<"$results")
done

machine="scripts/lcow-oneshot format --create SIZE X.vhd: scripts/run-vm --boot direct --mem 256 --scsi X.vhd:0 (TCG; $(qemu_machine_desc q35); -cpu max; 1 vCPU; -nodefaults; vmlinux via PVH + initrd.img; virtio-scsi-pci + scsi-hd LUN 0) -- /bin/sh -c 'mkfs.ext4 -q -F -E lazy_itable_init=0,nodiscard -O ^has_journal,sparse_super2,^resize_inode /dev/sda; sync'"
jq -n --arg date "$(date -u +%FT%TZ)" --argjson runs "$runs" \
	--arg host "$(nproc) CPUs, $(uname -r), TCG" --arg machine "$machine" \
	--arg qemu "$(qemu-system-x86_64 --version | head -1)" \
	--arg qemu_wall "$(cat "$work/qemu.0.cmd" 2>/dev/null || true)" \
	--arg qemu_icount "$(cat "$work/qemu.1.cmd" 2>/dev/null || true)" \
	--argjson bootfiles "$(cd "$work/bootfiles" && sha256sum vmlinux initrd.img |
		jq -R 'split("  ") | {(.[1]): .[0]}' | jq -s add)" \
	--argjson sizes "$results" \
	'{date: $date, runs: $runs, host: $host, machine: $machine, qemu: $qemu,
	  bootfiles_sha256: $bootfiles,
	  qemu_command: {wall: $qemu_wall, icount: $qemu_icount},
	  measures: {
	    command_s: "the whole lcow-oneshot format --create as a caller waits for it: VHD creation, run-vm set-up, QEMU, checks",
	    qemu_start_to_exit_s: "from run-vm starting QEMU (qemu.cmd written) to lcow-oneshot returning after the power-off (a few ms of console checks included)",
	    kernel_to_init_s: "printk time of \"Run /init as init process\"",
	    init_to_job_start_s: "from /init to the job stamping \"lcow-oneshot: job start\" into /dev/kmsg (init set-up, sh start, finding the SCSI disk)",
	    job_mkfs_s: "job start -> \"lcow-oneshot: job done\": mkfs.ext4 and sync",
	    kernel_to_power_down_s: "printk time of \"reboot: Power down\": kernel start -> power-off as the guest sees it",
	    busy_boot_to_job_end_s: "guest /proc/stat user+nice+system+irq+softirq+steal at the job end (tick-sampled, 10 ms units, approximate): CPU work from boot to the job end without idle time",
	    icount_note: "under -icount shift=0,sleep=off the clock advances 1 ns per instruction while the vCPU runs, and jumps to the next timer deadline while it idles; mkfs idles on disk writes that the host completes in real time, so job_mkfs_s and kernel_to_power_down_s under icount vary wildly from run to run (see min/max); kernel_to_init_s and busy time are the repeatable figures"},
	  sizes: $sizes}' >"$outdir/oneshot.json"

{
	j=$outdir/oneshot.json
	echo "# One-shot utility VM: format a scratch disk ($(date -u +%F))"
	echo
	jq -r '"`\(.machine)`", "", "\(.qemu); host: \(.host). \(.runs) wall and \(.runs) icount run(s) per size; medians, spread = max − min.", ""' "$j"
	echo "| size | command (wall) | QEMU start → exit (wall) | guest: kernel → power-off (icount; min–max) | kernel → /init (icount) | /init → job (icount) | mkfs + sync (icount; min–max) | guest busy, boot → job end (icount) | kernel → power-off (printk, wall boot) |"
	echo "|---|---|---|---|---|---|---|---|---|"
	jq -r 'def s(x): if x == null then "not measured" else "\(x.median * 1000 | round / 1000) s\(if x.n > 1 then " (±\(x.spread / 2 * 1000 | round / 1000))" else "" end)" end;
		def mm(x): if x == null then "not measured" else "\(x.median * 1000 | round / 1000) s (\(x.min * 1000 | round / 1000)–\(x.max * 1000 | round / 1000))" end;
		.sizes[] | "| \(.size) | \(s(.wall.command_s)) | \(s(.wall.qemu_start_to_exit_s)) | \(mm(.icount.kernel_to_power_down_s)) | \(s(.icount.kernel_to_init_s)) | \(s(.icount.init_to_job_start_s)) | \(mm(.icount.job_mkfs_s)) | \(s(.icount.busy_boot_to_job_end_s)) | \(s(.wall.guest_printk.kernel_to_power_down_s)) |"' "$j"
	echo
	jq -r '"How: wall = \(.measures.command_s); QEMU = \(.measures.qemu_start_to_exit_s). Guest figures: \(.measures.kernel_to_power_down_s); busy: \(.measures.busy_boot_to_job_end_s).", "", "Note: \(.measures.icount_note)."' "$j"
} >"$outdir/oneshot.md"
cat "$outdir/oneshot.md"
