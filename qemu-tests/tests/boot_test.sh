#!/usr/bin/env bash
# Foundation: the boot files boot under QEMU in both firmware paths, init
# sets up the system, passes the program's output to the console, reaps the
# orphans it is handed, and powers the VM off by itself when its program
# exits, with the exit status logged.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

work=$(mktemp -d /tmp/lcow-boot-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The guest program: list the mounts, hand init an orphan (the subshell
# exits at once, so its child sleep is re-parented to PID 1), check later
# that the orphan is gone from /proc (a zombie would still be listed), and
# exit with a distinctive status.  Also the kernel's BSS (kernel-patches/0002
# keeps it from being padded to 2 MB) and the warnings in its log (none: a
# return site kernel-patches/0001 read wrongly would warn or crash), and a
# built-in parameter given on the command line in its dashed spelling
# (kernel-patches/0003 changed how parse_one() compares names): the direct
# boot passes workqueue.power-efficient=1, the other boot nothing.  The
# uevents nobody listened for at boot are still counted
# (kernel-patches/0007 skips building them, not their sequence numbers),
# and there is no /sys/kernel/slab (0008's option, off in the boot-speed
# fragment).  The direct boot passes spectre_v2=off, so the retpoline sites
# (0013 reads them without the decoder) are rewritten into indirect calls
# rather than left as they are: a site read wrongly would crash or warn.
# /sys/module shows every built-in parameter of vmlinux's
# __param section with its mode (0011 creates each module's group once).
# No
# double quotes: the script travels on the kernel's command line, which the
# log holds too (hence the patterns that do not match themselves).
script='echo MARK-START; set -- $(grep Kernel.bss /proc/iomem); r=$1; echo BSS-BYTES=$((0x${r#*-} - 0x${r%-*} + 1)); echo KERNEL-WARNINGS=$(dmesg | grep -c -e WARN[I]NG: -e missing.return.thun[k]); echo WQ-POWER-EFFICIENT=$(cat /sys/module/workqueue/parameters/power_efficient); echo UEVENT-SEQNUM=$(cat /sys/kernel/uevent_seqnum); if [ -e /sys/kernel/slab ]; then echo SLAB-SYSFS=present; else echo SLAB-SYSFS=absent; fi; for f in /sys/module/*/parameters/*; do echo PARAM ${f#/sys/module/} $(stat -c %a $f); done; cat /proc/mounts; (sleep 1 & echo $! >/tmp/orphan); o=$(cat /tmp/orphan); echo orphan-pid=$o; sleep 3; if [ -e /proc/$o ]; then echo ORPHAN-LEFT; cat /proc/$o/status; else echo ORPHAN-REAPED; fi; echo ppid-of-sh=$PPID; exit 7'

plan 25

boot() {
	local mode=$1 log=$2
	shift 2
	set +e
	"$RUN_VM" --boot "$mode" --mem 256 --serial "$log" --timeout 300 "$@" \
		-- /bin/sh -c "$script" >"$log.run" 2>&1
	echo $? >"$log.rc"
	set -e
	# The console's ONLCR turns \n into \r\n.
	sed -i 's/\r$//' "$log" 2>/dev/null || true
}

log=$work/uefi.log
boot uefi "$log"
check_eq "uefi: VM powered off by itself (qemu exit 0)" 0 "$(cat "$log.rc")"
check_log "uefi: program output reaches the console" "$log" '^MARK-START'
check_log "uefi: /proc mounted" "$log" '^proc /proc proc '
check_log "uefi: /sys mounted" "$log" '^sysfs /sys sysfs '
check_log "uefi: /dev is devtmpfs" "$log" '^devtmpfs /dev devtmpfs '
check_log "uefi: /run is tmpfs" "$log" '^tmpfs /run tmpfs '
check_log "uefi: /tmp is tmpfs" "$log" '^tmpfs /tmp tmpfs '
check_log "uefi: /dev/pts is devpts" "$log" '^devpts /dev/pts devpts '
check_log "uefi: /dev/shm is tmpfs" "$log" '^[^ ]+ /dev/shm tmpfs '
check_log "uefi: cgroup2 at /sys/fs/cgroup" "$log" '^cgroup2 /sys/fs/cgroup cgroup2 '
check_log "uefi: the program runs as init's child" "$log" '^ppid-of-sh=1$'
check_log "uefi: init reaped the orphan it was handed" "$log" '^ORPHAN-REAPED'
check_log "uefi: init logged the exit status and powered off" "$log" 'init: /bin/sh exited with status 7; powering off'
check_log "uefi: kernel powered down" "$log" 'reboot: Power down'
bss=$(sed -n 's/^BSS-BYTES=//p' "$log")
check "uefi: the kernel's BSS is not padded to 2 MB (${bss:-?} bytes < 1 MiB)" \
	test -n "$bss" -a "${bss:-0}" -gt 0 -a "${bss:-0}" -lt 1048576
check_log "uefi: no warning in the kernel's log" "$log" '^KERNEL-WARNINGS=0$'
check_log "uefi: a built-in parameter not given keeps its default" "$log" '^WQ-POWER-EFFICIENT=N$'
seq=$(sed -n 's/^UEVENT-SEQNUM=//p' "$log")
check "uefi: the boot's unheard uevents are counted (seqnum ${seq:-?} > 100)" \
	bash -c "[ '${seq:-0}' -gt 100 ] 2>/dev/null"
check_log "uefi: no /sys/kernel/slab (SLUB_SYSFS off)" "$log" '^SLAB-SYSFS=absent$'
python3 "$ROOT/qemu-tests/tests/data/builtin-params.py" "$BOOTFILES/vmlinux" >"$work/params.want" 2>&1 || true
sed -n 's/^PARAM //p' "$log" | LC_ALL=C sort >"$work/params.got"
if [ -s "$work/params.want" ] && diff "$work/params.want" "$work/params.got" >"$work/params.diff"; then
	tap_ok "uefi: /sys/module shows each of vmlinux's $(wc -l <"$work/params.want") visible built-in parameters, with its mode"
else
	tap_not_ok "uefi: /sys/module shows each of vmlinux's visible built-in parameters, with its mode"
	head -20 "$work/params.diff" "$work/params.want" | sed 's/^/#   /'
fi

log=$work/direct.log
boot direct "$log" --append "workqueue.power-efficient=1 spectre_v2=off"
check_eq "direct (PVH vmlinux): VM powered off by itself" 0 "$(cat "$log.rc")"
check_log "direct (PVH vmlinux): spectre_v2=off taken (the retpoline sites become indirect calls)" \
	"$log" 'Spectre V2 : off selected on command line'
check_log "direct (PVH vmlinux): no warning in the kernel's log with the sites rewritten" \
	"$log" '^KERNEL-WARNINGS=0$'
check_log "direct (PVH vmlinux): a built-in parameter given dashed on the command line is set" \
	"$log" '^WQ-POWER-EFFICIENT=Y$'
check_log "direct (PVH vmlinux): same program, same status" "$log" 'init: /bin/sh exited with status 7; powering off'

done_testing
