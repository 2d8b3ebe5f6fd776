#!/usr/bin/env bash
# Where the kernel's icount time goes, function by function: one boot on the
# kernel-phase machine (kernel-phase.sh: the host's command line, SeaBIOS
# `-kernel`, `-icount shift=0,sleep=off`) with the insn-profile TCG plugin,
# which counts the instructions every translated block retires, up to the
# kernel's run_init_process (kernel start -> /init; with --whole, up to the
# power-off).  Under icount an instruction is a nanosecond of guest time, so
# the counts are the phase's time, exactly, by function (System.map).  The
# boot adds `nokaslr` so the addresses match System.map.  With --stack the
# boot is the whole product stack instead (scripts/run-vm --boot bios --host:
# the vsock backend and the host side), counted until the kernel powers off,
# which the host asks for (ShutdownForced) as soon as the bridge is
# negotiated: the guest's own work for kernel start -> negotiated (plus the
# shutdown), without the time its clock jumps while it idles waiting for the
# host.  With --calls the plugin also keeps a shadow call stack and the
# report adds the most expensive functions counted inclusively (with what
# they call), and with --callers FN who called FN and what those calls
# cost: how to find out *why* a function runs.  Reports numbers; never
# fails on a timing.
#   qemu-tests/bench/insn-profile.sh [--kernel F --system-map F] [--initrd F]
#       [--mem MB] [--append ARGS] [--whole | --stack] [--top N] [--out FILE]
#       [--calls] [--callers FN]...
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
PLUGIN=$OUT/build/host/qemu-tests/bench/insn-profile.so
kernel=$BOOTFILES/kernel
map=$OUT/build/kernel/System.map
initrd=$BOOTFILES/initrd.img
mem=256
append=
whole=0
stack=0
top=40
out=
calls=0
callers=()

usage() {
	cat >&2 <<EOU
usage: $0 [--kernel F --system-map F] [--initrd F] [--mem MB] [--append ARGS]
          [--whole | --stack] [--top N] [--out FILE] [--calls] [--callers FN]...
  --kernel F      bzImage (default \$BOOTFILES/kernel) and
  --system-map F  its symbols (default \$OUT/build/kernel/System.map)
  --initrd F      initrd (default \$BOOTFILES/initrd.img)
  --mem MB        guest memory (default 256, as boot-bench)
  --append ARGS   more kernel arguments, e.g. noapictimer (Hyper-V-like)
  --whole         count up to the power-off, not only up to /init
  --stack         the product stack with its host side, counted up to the
                  power-off the host asks for once the bridge is negotiated
  --top N         list the N most expensive functions (default 40)
  --out FILE      keep the per-function counts (TSV: instructions, symbol)
  --calls         also list functions by inclusive cost (a shadow call stack)
  --callers FN    (implies --calls) FN's callers and what their calls cost;
                  repeatable
EOU
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?}; shift 2 ;;
	--system-map) map=${2:?}; shift 2 ;;
	--initrd) initrd=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--append) append="$append ${2:?}"; shift 2 ;;
	--whole) whole=1; shift ;;
	--stack) stack=1; shift ;;
	--top) top=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--calls) calls=1; shift ;;
	--callers) calls=1; callers+=("${2:?}"); shift 2 ;;
	*) usage ;;
	esac
done
[[ "$mem" =~ ^[1-9][0-9]*$ ]] && [[ "$top" =~ ^[1-9][0-9]*$ ]] || usage
[ "$whole" = 0 ] || [ "$stack" = 0 ] || usage
for f in "$kernel" "$map" "$initrd" "$PLUGIN"; do
	[ -r "$f" ] || { echo "insn-profile: cannot read $f (run ./build.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/lcow-insn-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
plugin_args="out=$work/blocks"
stop_fn=
[ "$whole" = 1 ] || stop_fn=run_init_process
[ "$stack" = 0 ] || stop_fn=kernel_power_off
if [ -n "$stop_fn" ]; then
	stop=$(awk -v f="$stop_fn" '$3 == f { print $1; exit }' "$map")
	[ -n "$stop" ] || { echo "insn-profile: no $stop_fn in $map" >&2; exit 1; }
	plugin_args="$plugin_args,stop=$stop"
fi
if [ "$calls" = 1 ]; then
	# Calls through the retpoline and return thunks are charged to where
	# they lead, not to the thunk.
	thunks=$(awk '$3 == "__indirect_thunk_start" { s = $1 } $3 == "__indirect_thunk_end" { e = $1 }
		END { if (s != "" && e != "") print s "-" e }' "$map")
	plugin_args="$plugin_args,calls=$work/calls${thunks:+,skip=$thunks}"
fi

. "$ROOT/qemu-tests/bench/kernel-phase.sh"
if [ "$stack" = 0 ]; then
	KP_QEMU_ARGS+=(-plugin "$PLUGIN,$plugin_args")
	kp_boot "$kernel" "$initrd" "$mem" "$work/console.log" 900 "nokaslr${append}"
	line="$KP_CMDLINE nokaslr$append -- $KP_PROGRAM"
else
	# The product stack: run-vm's machine and host side, our boot files.
	mkdir "$work/bf"
	ln -s "$(realpath "$kernel")" "$work/bf/kernel"
	ln -s "$(realpath "$initrd")" "$work/bf/initrd.img"
	if ! kp_stack_start "$work/bf" "$work/vm" "$work/console.log" --mem "$mem" \
		--append " nokaslr$append" --qemu-arg -plugin --qemu-arg "$PLUGIN,$plugin_args" ||
		! "$OUT/bin/lcowctl" -c "$work/vm/vm.sock.ctl" wait-ready --timeout 600 >/dev/null 2>"$work/ready.err"; then
		kp_vm_stop "$work/vm"
		echo "insn-profile: no negotiated bridge: $(cat "$work/ready.err" 2>/dev/null) $(tail -3 "$work/vm.run-vm.log" 2>/dev/null)" >&2
		exit 1
	fi
	# The plugin writes its counts when QEMU exits.
	kp_vm_stop "$work/vm"
	line="run-vm's (the host's with quiet) nokaslr$append"
fi
[ -s "$work/blocks" ] || { echo "insn-profile: the plugin wrote nothing (console: $(tail -3 "$work/console.log"))" >&2; exit 1; }
if grep -q '^#' "$work/blocks"; then
	grep '^#' "$work/blocks" | sed 's/^# /insn-profile: /' >&2
	exit 1
fi

echo "command line: $line; ${mem} MB"
case "$stop_fn" in
run_init_process) echo "counted: reset -> run_init_process (/init)" ;;
kernel_power_off) echo "counted: reset -> kernel_power_off (the product stack: the bridge negotiated, then ShutdownForced)" ;;
*) echo "counted: reset -> power-off" ;;
esac
if [ "$calls" = 1 ] && { [ ! -s "$work/calls" ] || grep -q '^#' "$work/calls"; }; then
	echo "insn-profile: no complete call graph: $(grep '^#' "$work/calls" 2>/dev/null | sed 's/^# //')" >&2
	exit 1
fi
python3 - "$work/blocks" "$map" "$top" "${out:-}" "$( [ "$calls" = 1 ] && echo "$work/calls")" "${callers[@]}" <<'EOF'
import bisect, sys
blocks, mapfile, top, out, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
callers = sys.argv[6:]
addrs, names = [], []
with open(mapfile) as f:
    for line in f:
        p = line.split()
        if len(p) >= 3 and p[1] in "tTwW":
            addrs.append(int(p[0], 16)); names.append(p[2])
order = sorted(range(len(addrs)), key=addrs.__getitem__)
addrs = [addrs[i] for i in order]; names = [names[i] for i in order]
text_end = addrs[-1] if addrs else 0

def text_index(a):
    """The System.map index of the kernel function holding higher-half
    address a, or None outside the kernel's text (e.g. the decompressor's
    mapping)."""
    i = bisect.bisect_right(addrs, a) - 1
    return None if i < 0 or a > text_end + 0x100000 else i

per, kernel, user, fw, other, rep = {}, 0, 0, 0, 0, 0
with open(blocks) as f:
    for line in f:
        w = line.split()
        a, n = int(w[0], 16), int(w[1])
        is_rep = len(w) > 2 and w[2] == "rep"
        if a < 0x800000000000:
            # The lower half: user space (static binaries at 0x400000, the
            # stack and vDSO at the top), else the firmware and the
            # decompressor (below 4 MB and above 16 MB, physical).
            if 0x400000 <= a < 0x1000000 or a >= 0x7f0000000000:
                user += n
            else:
                fw += n
            continue
        i = text_index(a)
        if i is None:
            other += n
            continue
        kernel += n
        rep += n if is_rep else 0
        per[names[i]] = per.get(names[i], 0) + n
total = kernel + user + fw + other
print("instructions: %d (%.1f ms of icount time): kernel text %.1f ms, user space %.1f ms, firmware and decompressor %.1f ms, other %.1f ms"
      % (total, total / 1e6, kernel / 1e6, user / 1e6, fw / 1e6, other / 1e6))
print("from kernel start (kernel text + user space): %.1f ms" % ((kernel + user) / 1e6))
print("of the kernel's, iterations of rep stos/movs (bulk zeroing and copying, one per byte for the "
      "-Os kernel's inlined memset/memcpy; a real CPU moves 16+ bytes a cycle): %.1f ms" % (rep / 1e6))
print()
print("%10s %6s  %s" % ("ms", "share", "kernel function"))
for name, n in sorted(per.items(), key=lambda kv: -kv[1])[:top]:
    print("%10.2f %5.1f%%  %s" % (n / 1e6, 100.0 * n / total, name))
if out:
    with open(out, "w") as f:
        for name, n in sorted(per.items(), key=lambda kv: -kv[1]):
            f.write("%d\t%s\n" % (n, name))

def sym(a):
    """(function, offset) of a kernel address, or the address itself."""
    if a < 0x800000000000:
        return ("user/firmware", 0)
    i = text_index(a)
    if i is None:
        return ("%x" % a, 0)
    return (names[i], a - addrs[i])

if calls:
    incl, edges_by_callee = {}, {}
    with open(calls) as f:
        for line in f:
            t, r, n, inc, outer = line.split()
            callee, _ = sym(int(t, 16))
            caller, off = sym(int(r, 16))
            n, inc, outer = int(n), int(inc), int(outer)
            incl[callee] = incl.get(callee, 0) + outer
            e = edges_by_callee.setdefault(callee, {})
            c = e.setdefault(caller, [0, 0, set()])
            c[0] += n; c[1] += inc; c[2].add(off)
    print()
    print("inclusive: a function with everything it called (its outermost calls; a task switch inside a call charges the switch to it)")
    print("%10s %6s  %s" % ("ms", "share", "kernel function, inclusive"))
    for name, n in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        print("%10.2f %5.1f%%  %s" % (n / 1e6, 100.0 * n / total, name))
    for fn in callers:
        print()
        e = edges_by_callee.get(fn)
        if not e:
            print("callers of %s: none (never called, inlined, or not a function name)" % fn)
            continue
        print("callers of %s (%.2f ms inclusive): calls, ms inclusive, caller" % (fn, incl.get(fn, 0) / 1e6))
        for caller, (n, inc, offs) in sorted(e.items(), key=lambda kv: -kv[1][1])[:top]:
            print("%10d %10.2f  %s (%d call site%s)" % (n, inc / 1e6, caller, len(offs), "" if len(offs) == 1 else "s"))
EOF
