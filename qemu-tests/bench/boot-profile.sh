#!/usr/bin/env bash
# Where the kernel's boot time goes: one boot under
# `-icount shift=0,sleep=off` (guest time, 1 ns per instruction, the same on
# every run), the Windows host's command line with a debug console (as
# scripts/run-vm builds it) plus ARGS, init printing the kernel's log (dmesg).  Prints kernel
# start -> /init and the largest gaps between printk timestamps; with
# --initcalls, also the slowest initcalls (initcall_debug).  The numbers in
# qemu-tests/bench/optimisations.md were taken this way.  Reports numbers;
# never fails on a timing.
#   qemu-tests/bench/boot-profile.sh [--kernel F] [--initrd F] [--mem MB]
#       [--append ARGS] [--initcalls] [--gap MS] [--log FILE]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
kernel=$BOOTFILES/kernel
initrd=$BOOTFILES/initrd.img
mem=512
append=
initcalls=0
gap_ms=2
log=

usage() {
	cat >&2 <<EOU
usage: $0 [--kernel F] [--initrd F] [--mem MB] [--append ARGS] [--initcalls]
          [--gap MS] [--log FILE]
  --kernel F     bzImage (default \$BOOTFILES/kernel)
  --initrd F     initrd (default \$BOOTFILES/initrd.img)
  --mem MB       guest memory (default 512, as run-vm)
  --append ARGS  more kernel arguments, e.g. a default under test
  --initcalls    initcall_debug: rank the initcalls too
  --gap MS       list gaps between log lines of at least MS (default 2)
  --log FILE     keep the kernel log (as dmesg printed it) here
EOU
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?}; shift 2 ;;
	--initrd) initrd=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--append) append="$append ${2:?}"; shift 2 ;;
	--initcalls) initcalls=1; shift ;;
	--gap) gap_ms=${2:?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ "$mem" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$gap_ms" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
for f in "$kernel" "$initrd"; do
	[ -r "$f" ] || { echo "boot-profile: cannot read $f (run ./build.sh)" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "boot-profile: qemu-system-x86_64 not found" >&2; exit 1; }

work=$(mktemp -d /tmp/lcow-boot-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "$log" ] || log=$work/console.log
[ "$initcalls" = 0 ] || append="$append initcall_debug"

. "$ROOT/qemu-tests/bench/kernel-phase.sh"
kp_boot "$kernel" "$initrd" "$mem" "$log" 900 "${append# }"

echo "command line: $KP_CMDLINE$append -- $KP_PROGRAM"
t=$(kp_init_printk "$log")
if [ -n "$t" ]; then
	echo "kernel start -> /init: $t s (icount, printk clock)"
	# The same on the TSC clock, as boot-bench.sh (kernel-phase.sh).  The
	# gaps below are on the printk clock, which may run ahead early on.
	tt=$(kp_init_tsc "$log")
	[ -z "$tt" ] || echo "kernel start -> /init: $tt s (icount, TSC clock)"
else
	echo "kernel start -> /init: no 'Run /init' line (see ${log})"
fi
echo
echo "gaps of at least $gap_ms ms between log lines (the time goes to the later line's step):"
awk -v min="$gap_ms" '
	match($0, /^\[ *[0-9]+\.[0-9]+\]/) {
		ts = substr($0, 2, RLENGTH - 2) + 0
		msg = substr($0, RLENGTH + 2)
		if (seen && (ts - prev) * 1000 >= min)
			printf "%9.2f ms  %s\n             after: %s\n", (ts - prev) * 1000,
				substr(msg, 1, 100), substr(prevmsg, 1, 100)
		prev = ts; prevmsg = msg; seen = 1
	}' "$log"
if [ "$initcalls" = 1 ]; then
	echo
	echo "slowest initcalls (printk timestamps of 'calling' and 'returned'):"
	awk '
		match($0, /^\[ *[0-9]+\.[0-9]+\] calling  [^ ]+/) {
			split(substr($0, 2), a, "]"); n = split($0, w, " ")
			start[w[n - 2]] = a[1] + 0
		}
		match($0, /^\[ *[0-9]+\.[0-9]+\] initcall [^ ]+ returned/) {
			split(substr($0, 2), a, "]")
			for (i = 1; i <= NF; i++) if ($i == "initcall") fn = $(i + 1)
			if (fn in start) printf "%9.2f ms  %s\n", (a[1] - start[fn]) * 1000, fn
		}' "$log" | sort -rn | head -20
fi
