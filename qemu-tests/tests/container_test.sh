#!/usr/bin/env bash
# Containers and processes in the real VM, through lcowctl, on ONE boot:
# a busybox layer made in the VM, CombinedLayers overlays, Create with a
# Docker-like OCI spec, execs (exit codes, env, hostname, WORKDIR, users),
# signals, tty resize, stdio volume and back-pressure, memory and pids
# limits, seccomp (a moby-shaped profile), isolation, properties,
# notifications and state deletion.
#
# LCOW_CTL=PATH reuses a running VM's control socket instead of booting
# (for development; the VM is then left running).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/data" && pwd)
UVM=00000000-0000-0000-0000-000000000000

vm_work container

if [ -n "${LCOW_CTL:-}" ]; then
	ctl=$LCOW_CTL
else
	require_bootfiles
	vm_start_host "$work/vm" "$work/run-vm.log" --serial "$work/console.log" --mem 768 --cpus 2 \
		--timeout 1500
fi
jqr() { jq -r "$1" "$2" 2>/dev/null; }

# new_container ID [container-config.py options]: overlay + Create.
new_container() {
	local id=$1
	shift
	lcowctl modify "$UVM" --type CombinedLayers --settings \
		"{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\",\"Layers\":[{\"Path\":\"/run/layers/app\"},{\"Path\":\"/run/layers/base\"}],\"ScratchPath\":\"/run/gcs/c/$id/scratch\"}" \
		>/dev/null &&
		python3 "$DATA/container-config.py" "$id" "$@" >"$work/$id.json" &&
		lcowctl create "$id" --config "@$work/$id.json" >/dev/null
}
remove_container() {
	local id=$1
	lcowctl delete "$id" >/dev/null &&
		lcowctl modify "$UVM" --type CombinedLayers --request Remove --settings \
			"{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\"}" >/dev/null
}
# props ID [TYPE...]: the Properties document (lcowctl prints it as the
# guest sent it, uint64 "max" values included).
props() {
	lcowctl properties "$@" | jq '.Properties'
}
# pids_of ID: the container's ProcessList.
pids_of() { props "$1" ProcessList | jq -r '.ProcessList[].ProcessId'; }
# pid_by_cmd ID WORD: the pid (as the VM sees it) of the container's
# process whose command line has WORD.
pid_by_cmd() {
	{ lcowctl exec --uvm -- /bin/sh -c "for p in \$(cat /sys/fs/cgroup/pods/$1/cgroup.procs); do
		{ tr '\\0' ' ' </proc/\$p/cmdline; } 2>/dev/null | grep -q -- '$2' && echo \$p; done; exit 0" ||
		true; } | sort -n | head -1
}
# wait_for FILE REGEX [TRIES]: until FILE has a line matching REGEX.
wait_for() {
	local i
	for i in $(seq 1 "${3:-100}"); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

plan 91

check "bridge negotiated" lcowctl wait-ready --timeout 240

# ---- layers: two real layers built in the VM from its busybox ----
run "$work/layer.out" lcowctl exec --uvm -- /bin/sh -c '
set -e
B=/run/layers/base A=/run/layers/app
mkdir -p $B/bin $B/etc $B/proc $B/sys $B/dev $B/root $B/tmp $B/home/app $A/etc
cp /bin/busybox $B/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $B/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n" >$B/etc/passwd
printf "root:x:0:\nwheel:x:10:app\napp:x:1000:\naudio:x:29:app\n" >$B/etc/group
echo "from the upper layer" >$A/etc/motd
chown 1000:1000 $B/home/app
echo layers-ready'
check_log "two layers built in the VM (exec --uvm)" "$work/layer.out" '^layers-ready$'

# ---- the utility VM side ----
run "$work/uvm.out" lcowctl exec --uvm -- /bin/sh -c \
	'cat /proc/$(pidof gcs)/oom_score_adj; grep -cx "$(pidof gcs)" /sys/fs/cgroup/gcs/cgroup.procs; cat /proc/self/oom_score_adj'
check_eq "agent: oom_score_adj -1000, its own cgroup; its children 0" "-1000 1 0" \
	"$(tr '\n' ' ' <"$work/uvm.out" | sed 's/ $//')"
run "$work/uvm-exit.out" lcowctl exec --uvm -- /bin/sh -c 'echo out; echo err >&2; exit 42'
check_eq "exec --uvm: exit code 42" 42 "$(rc "$work/uvm-exit.out")"
run "$work/uvm-cmdline.out" lcowctl request ExecuteProcess \
	'{"Settings":{"ProcessParameters":"{\"CommandLine\":\"/bin/sh -c \\\"exit 5\\\"\",\"CreateInUtilityVM\":true}"}}'
check "CommandLine without CommandArgs is split and run" jq -e '.ProcessId > 0' "$work/uvm-cmdline.out"

# ---- a container: create, init, execs ----
check "CombinedLayers + Create (Docker-like spec)" new_container c1 --arg sleep --arg 1000
start_init c1 "$work/c1-init.out" sleep 1000 || true
c1_init_job=$init_job
c1_init=$(pids_of c1 | head -1)
check "first exec starts the init (ProcessList has it)" test -n "$c1_init"

run "$work/c1-basic.out" lcowctl exec c1 -e FOO=bar -- /bin/sh -c \
	'echo "host=$(hostname) foo=$FOO id=$(id -u):$(id -g) motd=$(cat /etc/motd)"; exit 3'
check_eq "exec exit code" 3 "$(rc "$work/c1-basic.out")"
check_log "env, hostname, root user, upper layer visible" "$work/c1-basic.out" \
	'^host=c1 foo=bar id=0:0 motd=from the upper layer$'

run "$work/c1-etc.out" lcowctl exec c1 -- /bin/sh -c 'cat /etc/hostname; grep -c "^127.0.0.1 c1$" /etc/hosts; wc -c </etc/resolv.conf'
check_eq "/etc/hostname, /etc/hosts, /etc/resolv.conf of its own (hcsshim standalone)" "c1 1 0" \
	"$(tr '\n' ' ' <"$work/c1-etc.out" | sed 's/ $//')"
run "$work/c1-cwd.out" lcowctl exec c1 --cwd /work/dir/deep -- /bin/sh -c 'pwd; ls -ld /work/dir/deep | cut -c1-10'
check_log "WORKDIR created when missing" "$work/c1-cwd.out" '^/work/dir/deep$'

run "$work/c1-user.out" lcowctl exec c1 -u app -- /bin/sh -c 'id; echo "home=$HOME"'
check_log "--user app: uid/gid from /etc/passwd" "$work/c1-user.out" '^uid=1000\(app\) gid=1000\(app\)'
check_log "--user app: supplementary groups from /etc/group" "$work/c1-user.out" 'groups=.*10\(wheel\).*29\(audio\)'
check_log "--user app: HOME from /etc/passwd" "$work/c1-user.out" '^home=/home/app$'
run "$work/c1-uidgid.out" lcowctl exec c1 -u 1000:29 -- /bin/sh -c 'echo "$(id -u):$(id -g) $(id -G)"'
check_eq "--user 1000:29 as given, no implicit groups" "1000:29 29" "$(cat "$work/c1-uidgid.out")"
run "$work/c1-nouser.out" lcowctl exec c1 -u ghost -- true
check_eq "--user of an unknown name: an error response" 1 "$(rc "$work/c1-nouser.out")"
check_log "... naming the user" "$work/c1-nouser.out" 'ghost'

run "$work/c1-noent.out" lcowctl exec c1 -- /no/such/program
check_eq "exec of a missing program: an error response (exit 1)" 1 "$(rc "$work/c1-noent.out")"
check_log "... with the reason" "$work/c1-noent.out" 'No such file or directory'
run "$work/c1-noexec.out" lcowctl exec c1 -- /etc/passwd
check_log "exec of a non-executable file: Permission denied" "$work/c1-noexec.out" 'Permission denied'
run "$work/c1-nopath.out" lcowctl exec c1 -- no-such-command
check_log "exec of an unknown name: not found in \$PATH" "$work/c1-nopath.out" 'not found in \$PATH'

# Device rules (an eBPF program on the cgroup): mknod is allowed, opening
# a device outside Docker's list is not (c-nosec below, without rules,
# writes the same node); /dev/null is fine.
run "$work/c1-dev.out" lcowctl exec c1 -- /bin/sh -c \
	'mknod /dev/kmsg-t c 1 11 && echo mknod-ok; { echo devcg-test >/dev/kmsg-t; } 2>/dev/null || echo kmsg-denied; echo x >/dev/null && echo null-ok'
check_eq "device rules: mknod ok, /dev/kmsg denied, /dev/null allowed" "mknod-ok kmsg-denied null-ok" \
	"$(tr '\n' ' ' <"$work/c1-dev.out" | sed 's/ $//')"

# Isolation: fds, mounts, the agent's files, processes.
run "$work/c1-iso.out" lcowctl exec c1 -- /bin/sh -c '
echo "fds=$(ls /proc/1/fd | tr "\n" " ")"
echo "mounts=$(awk "{print \$5}" /proc/self/mountinfo | grep -c -E "^/run|^/bin|/gcs")"
[ -e /bin/gcs ] && echo gcs-visible
echo "procs=$(ps -o comm | grep -c -E "gcs|init|vsockexec")"'
check_log "the init sees only fds 0-2" "$work/c1-iso.out" '^fds=0 1 2 $'
check_log "no mount of the utility VM inside" "$work/c1-iso.out" '^mounts=0$'
check_nolog "the agent's binary is not visible" "$work/c1-iso.out" 'gcs-visible'
check_log "the VM's processes are not visible" "$work/c1-iso.out" '^procs=0$'

# stdio: 50 MB through stdin and back, checksummed; a slow reader.
head -c 50000000 /dev/urandom >"$work/blob"
want=$(sha256sum <"$work/blob" | cut -d' ' -f1)
got=$(lcowctl exec c1 -- cat <"$work/blob" | sha256sum | cut -d' ' -f1)
check_eq "50 MB stdin -> cat -> stdout round trip, same sha256" "$want" "$got"
got=$(lcowctl exec c1 -- sha256sum <"$work/blob" | cut -d' ' -f1)
check_eq "50 MB stdin checksummed inside the container" "$want" "$got"
run "$work/c1-eof.out" lcowctl exec c1 -- /bin/sh -c 'wc -c; echo after-eof' </dev/null
check_log "stdin EOF reaches the process" "$work/c1-eof.out" '^after-eof$'
got=$(lcowctl exec c1 -n -- /bin/sh -c 'head -c 8000000 /dev/zero | tr "\0" x' |
	python3 -c 'import sys,time
n=0
while True:
    b=sys.stdin.buffer.read(65536)
    if not b: break
    n+=len(b); time.sleep(0.004)
print(n)')
check_eq "a slow reader gets every byte (back-pressure, nothing lost)" 8000000 "$got"

# tty: stty size follows ResizeConsole.
run "$work/c1-tty.out" lcowctl exec c1 -t -n -- /bin/sh -c '
echo "tty=$(tty)"
echo "start=$(stty size)"
i=0; while [ $i -lt 100 ]; do
  s=$(stty size); [ "$s" = "33 101" ] && { echo "resized=$s"; exit 0; }
  sleep 0.1; i=$((i+1)); done; exit 9' &
tty_job=$!
wait_for "$work/c1-tty.out" 'start=' 100 || true
tty_pid=$(pid_by_cmd c1 'stty size')
check "ResizeConsole on the pty" lcowctl resize c1 "$tty_pid" 33 101
wait "$tty_job" || true
check_log "stty size follows ResizeConsole" "$work/c1-tty.out" 'resized=33 101'
check_log "the console is a pty of the container's own devpts" "$work/c1-tty.out" '^tty=/dev/pts/[0-9]+'

# Signals: a shell that traps TERM and USR1; SIGKILL -> 137.
run "$work/c1-trap.out" lcowctl exec c1 -n -- /bin/sh -c \
	'trap "echo got-USR1" USR1; trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done # trapper' &
trap_job=$!
wait_for "$work/c1-trap.out" '^ready$' 100 || true
trap_pid=$(pid_by_cmd c1 trapper)
lcowctl signal c1 "$trap_pid" USR1 >/dev/null || true
wait_for "$work/c1-trap.out" '^got-USR1$' 50 || true
lcowctl signal c1 "$trap_pid" TERM >/dev/null || true
wait "$trap_job" || true
check_log "SIGUSR1 reaches the trap" "$work/c1-trap.out" '^got-USR1$'
check_log "SIGTERM reaches the trap" "$work/c1-trap.out" '^got-TERM$'
check_eq "... and its exit code comes back" 7 "$(rc "$work/c1-trap.out")"
run "$work/c1-kill.out" lcowctl exec c1 -n -- sleep 101 &
kill_job=$!
sleep 1
kill_pid=$(pid_by_cmd c1 'sleep 101')
lcowctl signal c1 "$kill_pid" 0 >/dev/null || true
wait "$kill_job" || true
check_eq "Signal 0 is SIGKILL: exit 137" 137 "$(rc "$work/c1-kill.out")"
run "$work/c1-timeout.out" lcowctl wait c1 "$c1_init" --timeout 200
check_log "WaitForProcess timeout: 0xC0370109" "$work/c1-timeout.out" '0xc0370109|0xC0370109'

# Properties.
props c1 >"$work/c1-props.json"
n_cgroup=$(lcowctl exec --uvm -- cat /sys/fs/cgroup/pods/c1/cgroup.procs | grep -c .)
check_eq "ProcessList matches the container's cgroup" "$n_cgroup" "$(jq '.ProcessList | length' "$work/c1-props.json")"
check "ProcessList has the init's pid" jq -e ".ProcessList | map(.ProcessId) | index($c1_init) != null" "$work/c1-props.json"
check "Statistics: cpu usage > 0" jq -e '.LCOWMetrics.cpu.usage.total > 0' "$work/c1-props.json"
check "Statistics: memory usage > 0, no limit (max)" jq -e '.LCOWMetrics.memory.usage.usage > 0 and .LCOWMetrics.memory.usage.limit == 18446744073709551615' "$work/c1-props.json"
check "Statistics: pids current matches" jq -e ".LCOWMetrics.pids.current == $n_cgroup" "$work/c1-props.json"

# Shutdown: graceful on a sleep init (pid 1 ignores SIGTERM), forced.
check "ShutdownGraceful of c1" lcowctl shutdown-graceful c1
sleep 0.5
check "c1 still runs (pid 1 has no TERM handler)" test -n "$(pids_of c1)"
check "ShutdownForced of c1" lcowctl shutdown-forced c1
wait "$c1_init_job" || true
check_eq "c1's init: killed, 137" 137 "$(rc "$work/c1-init.out")"
lcowctl events >"$work/events.json"
check "exit notification: ForcedExit, Operation None, Result 0" jq -se \
	'map(select(.ContainerId=="c1")) | .[0] | .Type=="ForcedExit" and .Operation=="None" and .Result==0' \
	"$work/events.json"
run "$work/c1-exec-stopped.out" lcowctl exec c1 -- true
check_eq "exec into a stopped container: an error" 1 "$(rc "$work/c1-exec-stopped.out")"

check "DeleteContainerState + remove the layers" remove_container c1
run "$work/c1-gone.out" lcowctl exec --uvm -- /bin/sh -c \
	'grep -c "/c1/" /proc/self/mountinfo; ls /sys/fs/cgroup/pods | grep -c "^c1$"; ls /run/gcs/c | grep -c "^c1$"'
check_eq "nothing of c1 left: mounts, cgroup, directories" "0 0 0" "$(tr '\n' ' ' <"$work/c1-gone.out" | sed 's/ $//')"
run "$work/c1-again.out" lcowctl properties c1
check_log "deleted container is unknown: 0xC037010E" "$work/c1-again.out" '0xc037010e|0xC037010E'

# ---- a read-only root of one layer; rlimits, capabilities, cpu weight ----
check "CombinedLayers without ScratchPath: a read-only root" lcowctl modify "$UVM" --type CombinedLayers \
	--settings '{"ContainerRootPath":"/run/gcs/c/c-ro/rootfs","Layers":[{"Path":"/run/layers/base"}]}'
python3 "$DATA/container-config.py" c-ro --readonly >"$work/c-ro.json"
check "create c-ro (root.readonly)" lcowctl create c-ro --config "@$work/c-ro.json"
run "$work/cro.out" lcowctl exec c-ro -n -- /bin/sh -c \
	'touch /x 2>/dev/null || echo ro-root; echo "nofile=$(ulimit -n)"; grep CapEff /proc/self/status; echo >/tmp/t && echo tmp-writable'
check_log "the root file system is read-only" "$work/cro.out" '^ro-root$'
check_log "... its tmpfs mounts are writable" "$work/cro.out" '^tmp-writable$'
check_log "rlimits: RLIMIT_NOFILE soft 1024" "$work/cro.out" '^nofile=1024$'
check_log "capabilities: Docker's default set" "$work/cro.out" 'CapEff:[[:space:]]+00000000a80425fb$'
check_eq "cpu.shares 512 -> cpu.weight 20" 20 "$(lcowctl exec --uvm -- cat /sys/fs/cgroup/pods/c-ro/cpu.weight)"
check "c-ro deleted" remove_container c-ro

# ---- bad requests are refused, and the agent goes on ----
run "$work/bad1.out" lcowctl create bad1 --config '{"SchemaVersion":{"Major":2,"Minor":0}}'
check_log "Create with schema 2.0: 0xC037010D" "$work/bad1.out" '0xc037010d|0xC037010D'
run "$work/bad2.out" lcowctl create bad2 --config '{"SchemaVersion":{"Major":2,"Minor":1}}'
check_eq "Create without an OCI spec: an error" 1 "$(rc "$work/bad2.out")"
python3 "$DATA/container-config.py" bad3 >"$work/bad3.json"
run "$work/bad3.out" lcowctl create bad3 --config "@$work/bad3.json"
check_log "Create with a missing root: an error naming it" "$work/bad3.out" 'root file system'
jq '.OciSpecification.linux.seccomp = {"defaultAction":"SCMP_ACT_NOPE"} | .OciSpecification.root.path = "/run/layers/base"' "$work/bad3.json" >"$work/bad4.json"
run "$work/bad4.out" lcowctl create bad4 --config "@$work/bad4.json"
check_log "Create with a bad seccomp profile: an error" "$work/bad4.out" 'seccomp'
run "$work/bad5.out" lcowctl modify "$UVM" --type CombinedLayers --settings '{"ContainerRootPath":"rel","Layers":[{"Path":"/run/layers/base"}]}'
check_log "CombinedLayers with a relative root: an error" "$work/bad5.out" 'not an absolute path'
run "$work/bad6.out" lcowctl request ExecuteProcess '{"Settings":{"ProcessParameters":"{\"CreateInUtilityVM\":true}"}}'
check_log "ExecuteProcess without a command: an error" "$work/bad6.out" 'no command'
run "$work/bad7.out" lcowctl exec --uvm -- /bin/sh -c 'ls /sys/fs/cgroup/pods | grep -c bad; ls /run/gcs/c | grep -c bad'
check_eq "refused Creates leave nothing behind" "0 0" "$(tr '\n' ' ' <"$work/bad7.out" | sed 's/ $//')"

# ---- how long: CombinedLayers + Create + first exec -> first output byte ----
t0=$(date +%s%N)
new_container c-time
lcowctl exec c-time -n -- echo first-byte | head -c 1 >/dev/null
t1=$(date +%s%N)
echo "# create + first exec -> first output byte: $(((t1 - t0) / 1000000)) ms (wall, host side)"
remove_container c-time || true

# ---- limits ----
check "create c-mem (32 MiB, no swap)" new_container c-mem --memory 33554432
run "$work/cmem.out" lcowctl exec c-mem -n -- /bin/sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived'
check_eq "memory limit: the hog is OOM-killed (137)" 137 "$(rc "$work/cmem.out")"
check_nolog "... and never finished" "$work/cmem.out" 'survived'
check "agent alive after the OOM kill" lcowctl dump-stacks
props c-mem Statistics >"$work/cmem-props.json"
check "Statistics: oom_kill reported, limit 32 MiB" jq -e \
	'.LCOWMetrics.memory_oom_control.oom_kill >= 1 and .LCOWMetrics.memory.usage.limit == 33554432' \
	"$work/cmem-props.json"
check "c-mem deleted" remove_container c-mem

check "create c-pids (pids.max 20)" new_container c-pids --pids 20
run "$work/cpids-init.out" lcowctl exec c-pids -n -- sleep 1000 &
pids_job=$!
sleep 1
# busybox sh gives up at the first failed fork; its sleeps stay behind
# (with their output elsewhere, so the exec's stdio can drain).
run "$work/cpids.out" lcowctl exec c-pids -n -- /bin/sh -c \
	'i=0; while [ $i -lt 60 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo all-forked'
props c-pids Statistics >"$work/cpids-props.json"
lcowctl shutdown-forced c-pids >/dev/null || true
wait "$pids_job" || true
check "pids limit holds the fork bomb at 20 processes" jq -e \
	'.LCOWMetrics.pids.current >= 18 and .LCOWMetrics.pids.current <= 20 and .LCOWMetrics.pids.limit == 20' "$work/cpids-props.json"
check_log "... the shell's forks failed" "$work/cpids.out" "can't fork|Resource temporarily unavailable"
check "c-pids deleted" remove_container c-pids

# ---- seccomp: Docker's profile shape, Docker's capabilities ----
check "create c-sec (seccomp profile)" new_container c-sec --seccomp "$DATA/seccomp-default.json"
run "$work/csec.out" lcowctl exec c-sec -n -- /bin/sh -c \
	'unshare -U true && echo unshare-ok; mount -t tmpfs none /mnt && echo mount-ok; echo "nnp=$(grep NoNewPrivs /proc/self/status | tr -dc 0-9) seccomp=$(grep ^Seccomp: /proc/self/status | tr -dc 0-9)"; linux32 true && echo personality-ok'
check_nolog "seccomp: unshare(CLONE_NEWUSER) is blocked" "$work/csec.out" 'unshare-ok'
check_nolog "seccomp: mount is blocked" "$work/csec.out" 'mount-ok'
check_log "seccomp: filter mode with no_new_privs" "$work/csec.out" '^nnp=1 seccomp=2$'
check_log "seccomp: personality(PER_LINUX32) allowed by its arg rule" "$work/csec.out" 'personality-ok'
check "create c-nosec (same caps, no profile, no device rules)" new_container c-nosec --no-devices
run "$work/cnosec.out" lcowctl exec c-nosec -n -- /bin/sh -c \
	'unshare -U true && echo unshare-ok; mknod /dev/kmsg-t c 1 11; echo devcg-test >/dev/kmsg-t && echo kmsg-ok'
check_log "... where the same unshare works: the filter is what blocks it" "$work/cnosec.out" 'unshare-ok'
check_log "... and, without device rules, the /dev/kmsg write works" "$work/cnosec.out" 'kmsg-ok'
check "c-sec, c-nosec deleted" bash -c "$(declare -f lcowctl remove_container); ctl='$ctl' BIN='$BIN' UVM='$UVM'; remove_container c-sec && remove_container c-nosec"

# ---- 20 containers at once ----
ok=0
for i in $(seq 1 20); do new_container "m$i" && ok=$((ok + 1)); done
check_eq "20 containers created" 20 "$ok"
jobs_m=()
for i in $(seq 1 20); do
	lcowctl exec "m$i" -n -- /bin/sh -c 'echo "$(hostname) up"; sleep 2; echo "$(hostname) done"' \
		>"$work/m$i.out" 2>&1 &
	jobs_m+=($!)
done
wait "${jobs_m[@]}" || true
ok=0
for i in $(seq 1 20); do grep -q "^m$i done$" "$work/m$i.out" && ok=$((ok + 1)); done
check_eq "20 containers ran at once, each its own hostname" 20 "$ok"
ok=0
for i in $(seq 1 20); do remove_container "m$i" && ok=$((ok + 1)); done
check_eq "20 containers deleted" 20 "$ok"
run "$work/after.out" lcowctl exec --uvm -- /bin/sh -c \
	'find /sys/fs/cgroup/pods -mindepth 1 -type d | wc -l; grep -c /run/gcs /proc/self/mountinfo; ls /run/gcs/c | wc -l'
check_eq "nothing left behind: cgroups, mounts, state directories" "0 0 0" "$(tr '\n' ' ' <"$work/after.out" | sed 's/ $//')"
check "agent still serves" lcowctl dump-stacks

vm_stop # (nothing to stop with LCOW_CTL)
done_testing
