#!/usr/bin/env bash
# What a container can reach, on ONE VM, with a probe (data/iso-probe.c,
# static musl) in a VPMem layer on top of a busybox layer:
#   - its own mounts, processes and fds only (two containers side by side;
#     exec'd processes, with and without a tty, hold fds 0-2 only);
#   - exactly the capabilities of its spec (Docker's set; a reduced set),
#     none inheritable or ambient;
#   - the seccomp profile (moby's default shape) blocks keyctl (which works
#     without it) and mount; ptrace of the agent is refused even where the
#     agent's pid is visible (no pid namespace), and impossible to name
#     where it is not;
#   - masked paths read empty, read-only paths refuse writes;
#   - no writable mount leads into the VM's or the agent's directories: a
#     marker written to every writable mount shows up in the VM only under
#     the container's own state directory;
#   - escapes: OCI mount destinations through the container's own absolute
#     and relative symlinks and "..", and CombinedLayers paths with ".."
#     (remotefs escapes: remotefs_test.sh).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/data" && pwd)
UVM=00000000-0000-0000-0000-000000000000
require_bootfiles
GUEST_CC=${GUEST_CC:-musl-gcc}
for t in jq python3 "$GUEST_CC"; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done
[ -x "$BIN/tar2ext4" ] || skip_all "no $BIN/tar2ext4 (run ./build.sh)"

vm_work isolation

# The probe's layer: /bin/iso-probe, and two symlinks that point out of
# the container's root if followed in the VM.
mkdir -p "$work/probe/bin"
"$GUEST_CC" -static -Os -Wall -Wextra -Werror -o "$work/probe/bin/iso-probe" "$DATA/iso-probe.c"
ln -s /run/gcs "$work/probe/evil-abs"
ln -s ../../../../../../run "$work/probe/evil-rel"
tar -C "$work/probe" --owner=0 --group=0 -cf "$work/probe.tar" .
"$BIN/tar2ext4" -i "$work/probe.tar" -o "$work/probe.vhd" -vhd 2>"$work/tar2ext4.log"

# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can time out and panic the boot.
vm_start_host "$work/vm" "$work/run-vm.log" --serial "$work/console.log" \
	--append no_timer_check \
	--mem 512 --cpus 2 --pmem "$work/probe.vhd" --timeout 1500
modify() { lcowctl modify "$UVM" --type "$1" --request "$2" --settings "$3"; }
lines() { tr '\n' ' ' <"$1" | sed 's/ $//'; }
layers() { # ID: the probe layer on the busybox layer
	echo "{\"ContainerRootPath\":\"/run/gcs/c/$1/rootfs\",\"Layers\":[{\"Path\":\"/run/layers/probe\"},{\"Path\":\"/run/layers/base\"}],\"ScratchPath\":\"/run/gcs/c/$1/scratch\"}"
}
# new_container ID JQ-FILTER [container-config.py options]
new_container() {
	local id=$1 filter=$2
	shift 2
	modify CombinedLayers Add "$(layers "$id")" >/dev/null &&
		python3 "$DATA/container-config.py" "$id" "$@" | jq "$filter" >"$work/$id.json" &&
		lcowctl create "$id" --config "@$work/$id.json" >/dev/null
}
# The three inits, each a loop whose command line carries a marker.
start_inits() {
	local i
	for i in 1 2 3; do
		start_init "i$i" "$work/i$i-init.out" /bin/sh -c "while :; do sleep 1; done # i$i-init-marker" ||
			return 1
	done
}
cx() { lcowctl exec "$1" -n -- "${@:2}"; } # ID CMD...

plan 40

check "bridge negotiated" lcowctl wait-ready --timeout 300
run "$work/layers.out" in_vm /bin/sh -c '
set -e
B=/run/layers/base
mkdir -p $B/bin $B/etc $B/proc $B/sys $B/dev $B/root $B/tmp $B/mnt $B/run
cp /bin/busybox $B/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $B/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\n" >$B/etc/passwd
printf "root:x:0:\n" >$B/etc/group
echo layers-ready'
check_log "busybox layer built in the VM" "$work/layers.out" '^layers-ready$'
check "probe layer attached (VPMemDevice)" modify VPMemDevice Add '{"DeviceNumber":0,"MountPath":"/run/layers/probe"}'
gcs_pid=$(in_vm pidof gcs 2>/dev/null || true)

seccomp=$(jq -c . "$DATA/seccomp-default.json")
check "i1: Docker's caps and seccomp profile" new_container i1 . --seccomp "$DATA/seccomp-default.json"
check "i2: no seccomp profile, only CAP_CHOWN and CAP_KILL" new_container i2 \
	'.OciSpecification.process.capabilities = {"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN","CAP_KILL"],"permitted":["CAP_CHOWN","CAP_KILL"]}'
check "i3: no pid namespace, seccomp profile" new_container i3 . --no-pidns --seccomp "$DATA/seccomp-default.json"
check "inits of i1, i2, i3 running" start_inits

# ---- own mounts, processes, fds ----
cx i1 /bin/sh -c 'echo i1-was-here >/i1-own.txt' >/dev/null 2>&1 || true
run "$work/i2-sees.out" cx i2 /bin/sh -c 'if test -e /i1-own.txt; then echo i1file=yes; else echo i1file=no; fi
echo "mounts=$(grep -c /c/i1/ /proc/self/mountinfo) $(awk "\$5 ~ /^\/run/" /proc/self/mountinfo | wc -l)"; ps -o args'
check_log "i2 does not see i1's files" "$work/i2-sees.out" '^i1file=no$'
check_log "i2's mount table: nothing of i1, no mount point in the VM's /run" "$work/i2-sees.out" '^mounts=0 0$'
check_log "i2 sees its own processes" "$work/i2-sees.out" 'i2-init-marker'
check_nolog "... and not i1's nor the VM's" "$work/i2-sees.out" 'i1-init-marker|i3-init-marker|/bin/gcs|/init'
run "$work/i1-pids.out" cx i1 /bin/sh -c 'ls -d /proc/[0-9]* | wc -l'
check "i1 sees a handful of pids, not the VM's" test "$(cat "$work/i1-pids.out")" -le 6
run "$work/fds.out" cx i1 /bin/iso-probe fds
check_eq "an exec'd process holds fds 0-2 only" "fds: 0 1 2" "$(cat "$work/fds.out")"
run "$work/fds-tty.out" lcowctl exec i1 -t -n -- /bin/iso-probe fds
check_eq "... with a tty too" "fds: 0 1 2" "$(tr -d '\r' <"$work/fds-tty.out")"
run "$work/fds-init.out" cx i1 /bin/sh -c 'ls /proc/1/fd | tr "\n" " "'
check_eq "the init holds fds 0-2 only" "0 1 2 " "$(cat "$work/fds-init.out")"

# ---- capabilities ----
capline='for f in CapInh CapPrm CapEff CapBnd CapAmb; do grep "^$f:" /proc/$1/status | tr -d "\t"; done'
run "$work/caps-i1.out" cx i1 /bin/sh -c "set -- self; $capline"
check_eq "i1 exec: Docker's set, none inheritable or ambient" \
	"CapInh:0000000000000000 CapPrm:00000000a80425fb CapEff:00000000a80425fb CapBnd:00000000a80425fb CapAmb:0000000000000000" \
	"$(lines "$work/caps-i1.out")"
run "$work/caps-i2.out" cx i2 /bin/sh -c "set -- self; $capline; set -- 1; $capline"
check_eq "i2 exec and init: exactly CAP_CHOWN|CAP_KILL" \
	"$(for _ in 1 2; do printf 'CapInh:0000000000000000 CapPrm:0000000000000021 CapEff:0000000000000021 CapBnd:0000000000000021 CapAmb:0000000000000000 '; done | sed 's/ $//')" \
	"$(lines "$work/caps-i2.out")"
run "$work/chown-i2.out" cx i2 /bin/sh -c 'touch /t; chown 5:5 /t && echo chown-ok; mknod /dev/x c 1 3 2>/dev/null || echo mknod-refused'
check_eq "i2: CAP_CHOWN works, CAP_MKNOD (not in its set) does not" "chown-ok mknod-refused" "$(lines "$work/chown-i2.out")"

# ---- seccomp ----
run "$work/sec-i1.out" cx i1 /bin/sh -c '/bin/iso-probe keyctl; /bin/iso-probe mount /mnt'
check_log "seccomp: keyctl blocked (EPERM)" "$work/sec-i1.out" '^keyctl: EPERM$'
check_log "seccomp: mount blocked (EPERM)" "$work/sec-i1.out" '^mount: EPERM$'
run "$work/sec-i2.out" cx i2 /bin/iso-probe keyctl
check_eq "... keyctl works without the profile: the profile is what blocks it" "keyctl: OK" "$(cat "$work/sec-i2.out")"
run "$work/ptrace-i3.out" cx i3 /bin/sh -c "/bin/iso-probe ptrace $gcs_pid; test -d /proc/$gcs_pid && echo agent-visible"
check_log "no pid namespace: the agent is visible" "$work/ptrace-i3.out" '^agent-visible$'
check_log "... and ptrace of it is refused (EPERM)" "$work/ptrace-i3.out" '^ptrace: EPERM$'
run "$work/ptrace-i1.out" cx i1 /bin/iso-probe ptrace "$gcs_pid"
check_log "with a pid namespace the agent cannot even be named (ESRCH)" "$work/ptrace-i1.out" '^ptrace: ESRCH$'

# ---- masked and read-only paths ----
masked='/proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats'
n_vm=0
for f in $masked; do
	n=$(in_vm /bin/sh -c "cat $f 2>/dev/null | head -c 4096 | wc -c" 2>/dev/null || echo 0)
	[ "${n:-0}" -gt 0 ] && n_vm=$((n_vm + 1))
done
run "$work/masked.out" cx i1 /bin/sh -c "n=0; for f in $masked; do c=\$(cat \$f 2>/dev/null | head -c 4096 | wc -c); n=\$((n + c)); done; echo \"bytes=\$n\"; echo \"firmware=\$(ls -A /sys/firmware 2>/dev/null | wc -l)\""
check "some of the masked /proc files have content in the VM ($n_vm)" test "$n_vm" -ge 1
check_log "masked /proc files read empty in the container" "$work/masked.out" '^bytes=0$'
check_log "masked /sys/firmware is empty" "$work/masked.out" '^firmware=0$'
run "$work/ro.out" cx i1 /bin/sh -c '{ echo x >/proc/sys/kernel/hostname; } 2>/dev/null || echo procsys-ro; { echo 1 >/sys/fs/cgroup/cgroup.procs; } 2>/dev/null || echo cgroup-ro; touch /sys/kernel/x 2>/dev/null || echo sys-ro'
check_eq "read-only: /proc/sys, /sys/fs/cgroup, /sys" "procsys-ro cgroup-ro sys-ro" "$(lines "$work/ro.out")"

# ---- no writable path into the VM ----
run "$work/marks.out" cx i1 /bin/sh -c '
n=0
while read -r _ _ _ _ mp opts _; do
	case "$mp" in /proc*|/sys*) continue ;; esac
	case ",$opts," in *,rw,*) ;; *) continue ;; esac
	echo i1-marker >"$mp/iso-marker-i1" 2>/dev/null && n=$((n+1))
done </proc/self/mountinfo
echo "marked=$n"'
check "markers written to the container's writable mounts (/, /tmp, /dev, /dev/shm...)" \
	grep -qE '^marked=([4-9]|[1-9][0-9])$' "$work/marks.out"
run "$work/found.out" in_vm /bin/sh -c 'find / -name iso-marker-i1 -not -path "/proc/*" 2>/dev/null; exit 0'
check "a marker is found in the VM (the root's upper directory)" grep -q '^/run/gcs/c/i1/' "$work/found.out"
check_nolog "no marker anywhere else in the VM" "$work/found.out" '^(/[^r]|/r[^u]|/run/[^g]|/run/gcs/[^c]|/run/gcs/c/[^i]|/run/gcs/c/i[^1]|/run/gcs/c/i1[^/])'

# ---- escapes ----
# OCI mounts whose destinations go through the container's own symlinks
# (absolute: /evil-abs -> /run/gcs; relative: /evil-rel -> ../../../run)
# and "..": they land inside the container's root, never in the VM.
check "i4: tmpfs mounts at /evil-abs/esc1, /evil-rel/esc2, /../../run/esc3" new_container i4 \
	'.OciSpecification.mounts += [
	  {"destination":"/evil-abs/esc1","type":"tmpfs","source":"tmpfs","options":["nosuid"]},
	  {"destination":"/evil-rel/esc2","type":"tmpfs","source":"tmpfs","options":["nosuid"]},
	  {"destination":"/../../../run/esc3","type":"tmpfs","source":"tmpfs","options":["nosuid"]}]'
run "$work/i4.out" cx i4 /bin/sh -c 'for d in /run/gcs/esc1 /run/esc2 /run/esc3; do grep -q " $d tmpfs " /proc/self/mounts && echo "inside:$d"; done'
check_eq "the three mounts are inside the container" "inside:/run/gcs/esc1 inside:/run/esc2 inside:/run/esc3" \
	"$(lines "$work/i4.out")"
run "$work/i4-vm.out" in_vm /bin/sh -c 'ls -d /run/gcs/esc1 /run/esc2 /run/esc3 2>/dev/null; grep -cE " /run/(gcs/)?esc[0-9] " /proc/self/mounts; exit 0'
check_eq "... and nothing of them in the VM" 0 "$(lines "$work/i4-vm.out")"
for bad in '{"ContainerRootPath":"/run/gcs/c/../../../etc","Layers":[{"Path":"/run/layers/base"}]}' \
	'{"ContainerRootPath":"/run/gcs/c/e1/rootfs","Layers":[{"Path":"/run/layers/../../bin"}]}' \
	'{"ContainerRootPath":"/run/gcs/c/e2/rootfs","Layers":[{"Path":"/run/layers/base"}],"ScratchPath":"/run/gcs/c/e2/../../../../tmp/x"}'; do
	run "$work/esc.out" modify CombinedLayers Add "$bad"
	check_log "CombinedLayers with '..' refused: $(jq -c 'del(.Layers[] | select(.Path == "/run/layers/base"))' <<<"$bad")" \
		"$work/esc.out" "'\\.\\.'|\\.\\. component"
done
run "$work/etc.out" in_vm /bin/sh -c 'grep -cE " /etc | /bin | /tmp/x " /proc/self/mounts; ls -d /run/gcs/c/e1 /run/gcs/c/e2 2>/dev/null | wc -l; exit 0'
check_eq "... nothing was mounted or created" "0 0" "$(lines "$work/etc.out")"

ok=0
for id in i1 i2 i3 i4; do
	lcowctl shutdown-forced "$id" >/dev/null 2>&1 || true
done
sleep 1
for id in i1 i2 i3 i4; do
	lcowctl delete "$id" >/dev/null 2>&1 && modify CombinedLayers Remove "{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\"}" >/dev/null 2>&1 &&
		ok=$((ok + 1))
done
check_eq "i1..i4 deleted" 4 "$ok"
check "the agent still serves" lcowctl dump-stacks

vm_stop
done_testing
