#!/usr/bin/env bash
# The instruction profiler the boot-time work is measured with
# (qemu-tests/bench/insn-profile.sh and its TCG plugin), on the product's
# kernel: counted up to /init (the plugin's stop= snapshot at
# run_init_process) and up to the power-off; the per-function counts add up
# to the total it reports; work that only happens after /init (exec'ing a
# program) is absent from the first and present in the second; the whole
# product stack (--stack) counts the agent's user space; the call graph
# (--callers) names the LZ4 decoder's caller and counts that caller's
# inclusive cost at least the decoder's own; the plugin refuses arguments
# it does not know.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles
PROFILE=$ROOT/qemu-tests/bench/insn-profile.sh
PLUGIN=$OUT/build/host/qemu-tests/bench/insn-profile.so
[ -r "$PLUGIN" ] || { echo "Bail out! no $PLUGIN (run ./build.sh)"; exit 1; }
[ -r "$OUT/build/kernel/System.map" ] || { echo "Bail out! no $OUT/build/kernel/System.map (run ./build.sh)"; exit 1; }

work=$(mktemp -d /tmp/lcow-insn-profile-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
plan 13

# kernel_ms REPORT: the "kernel text N ms" figure.
kernel_ms() { sed -n 's/.*: kernel text \([0-9.]*\) ms.*/\1/p' "$1"; }
# tsv_ms TSV: the per-function counts summed, in ms.
tsv_ms() { awk -F'\t' '{ s += $1 } END { printf "%.1f", s / 1e6 }' "$1"; }
# fn TSV NAME: the function's count (0 when absent).
fn() { awk -F'\t' -v n="$2" '$2 == n { c = $1 } END { print c + 0 }' "$1"; }

rc=0
"$PROFILE" --append noapictimer --top 10 --out "$work/init.tsv" >"$work/init.txt" 2>&1 || rc=$?
check_eq "profile to /init: exit 0" 0 "$rc"
check_log "it counted up to run_init_process" "$work/init.txt" '^counted: reset -> run_init_process'
init_ms=$(kernel_ms "$work/init.txt")
check "the kernel's share is tens of ms (got '$init_ms')" awk -v m="${init_ms:-0}" 'BEGIN { exit !(m > 20 && m < 2000) }'
check_eq "the functions add up to the kernel's total" "$init_ms" "$(tsv_ms "$work/init.tsv")"
# Both run before /init: the return-thunk sites are patched in
# start_kernel, the LZ4 initrd is unpacked by an initcall.
check "apply_returns and LZ4_decompress_safe counted" \
	bash -c "[ $(fn "$work/init.tsv" apply_returns) -gt 0 ] && [ $(fn "$work/init.tsv" LZ4_decompress_safe) -gt 0 ]"
check_eq "no program was exec'd before /init (load_elf_binary: 0)" 0 "$(fn "$work/init.tsv" load_elf_binary)"

rc=0
"$PROFILE" --append noapictimer --whole --top 10 --out "$work/whole.tsv" >"$work/whole.txt" 2>&1 || rc=$?
whole_ms=$(kernel_ms "$work/whole.txt")
check "--whole counts more (to /init ${init_ms} ms, whole ${whole_ms} ms)" \
	awk -v a="${init_ms:-0}" -v b="${whole_ms:-0}" -v rc="$rc" 'BEGIN { exit !(rc == 0 && b > a) }'
check "--whole has init's programs exec'd (load_elf_binary > 0)" \
	bash -c "[ $(fn "$work/whole.tsv" load_elf_binary) -gt 0 ]"

# The product stack with its host side, up to the power-off the host asks
# for once negotiated: the agent's user space is counted, and the kernel
# did more than up to /init.
rc=0
"$PROFILE" --stack --append noapictimer --top 10 >"$work/stack.txt" 2>&1 || rc=$?
check_log "--stack: counted up to kernel_power_off after the negotiation" "$work/stack.txt" \
	'^counted: reset -> kernel_power_off \(the product stack'
stack_user=$(sed -n 's/.*, user space \([0-9.]*\) ms,.*/\1/p' "$work/stack.txt")
stack_ms=$(sed -n 's/^from kernel start (kernel text + user space): \([0-9.]*\) ms$/\1/p' "$work/stack.txt")
check "--stack: user space counted (${stack_user} ms), more than to /init (${stack_ms} > ${init_ms} ms)" \
	awk -v u="${stack_user:-0}" -v s="${stack_ms:-0}" -v i="${init_ms:-0}" -v rc="$rc" \
	'BEGIN { exit !(rc == 0 && u > 0.1 && s > i) }'

# The shadow call stack: the initramfs is decoded by unlz4(), which calls
# LZ4_decompress_safe(); what unlz4() cost with what it called is at least
# what the decoder cost alone.  initramfs_async=0: the plugin keeps one
# stack per vCPU, not per task, and the asynchronous unpack runs in a
# kworker that the init thread interleaves with; a return of the other task
# to an address also on the stack closed unlz4()'s call early (0.33 of its
# 7.3 ms, once kernel changes moved the interleaving).  Unpacked in the init
# thread, the call nests as the test means it.
rc=0
"$PROFILE" --append "noapictimer initramfs_async=0" --top 400 --out "$work/calls.tsv" --callers LZ4_decompress_safe \
	>"$work/calls.txt" 2>&1 || rc=$?
check "--callers: LZ4_decompress_safe's caller is unlz4" \
	bash -c "[ $rc = 0 ] && sed -n '/^callers of LZ4_decompress_safe /,/^\$/p' '$work/calls.txt' | grep -q ' unlz4 '"
incl=$(awk '/^inclusive:/ { on = 1 } on && $3 == "unlz4" { print $1 * 1e6; exit }' "$work/calls.txt")
excl=$(fn "$work/calls.tsv" LZ4_decompress_safe)
check "--calls: unlz4 inclusive (${incl:-?}) >= LZ4_decompress_safe alone ($excl)" \
	awk -v i="${incl:-0}" -v e="$excl" 'BEGIN { exit !(e > 0 && i >= e * 0.999) }'

rc=0
timeout 60 qemu-system-x86_64 -nodefaults -display none -accel tcg -machine none \
	-plugin "$PLUGIN,bogus=1" >"$work/bad.txt" 2>&1 || rc=$?
check "an unknown plugin argument is refused with the usage" \
	bash -c "[ $rc -ne 0 ] && grep -q 'usage: -plugin insn-profile.so,out=FILE' '$work/bad.txt'"

done_testing
