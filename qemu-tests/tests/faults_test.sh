#!/usr/bin/env bash
# Faults injected into ONE running VM, through the real host client; after
# each, the agent must still answer and the containers be as they were.
#   bridge      the host drops the bridge while an ExecuteProcess-started
#               process is waited on (WaitForProcess in flight), a second
#               wait on the init is in flight and a SCSI hot-add is
#               waiting for its device: the agent re-dials, the containers
#               keep running, the waits are asked again on the new
#               connection and get the exit codes (of a process that exited
#               in between, and of one still running); the cancelled
#               hot-add does not half-happen, and asking again works
#   stdio       the host closes a process's stdio streams (lcowctl exec
#               killed): a writer that ignores SIGPIPE sees EPIPE, one that
#               does not dies of SIGPIPE (141, read by a later wait)
#   VM OOM      a utility-VM process and an unlimited container each take
#               all the memory they can: the kernel kills them (137 to the
#               host), never the agent (same pid after), and the agent logs
#               an OOM warning naming the cgroup (and, before, that its
#               cgroup passed -gcs-mem-limit-bytes); the container meets the
#               pods cgroup's cap (the VM's RAM less 75 MiB, as hcsshim's
#               -root-mem-reserve-bytes) before the VM runs out
#   shutdown    a container whose init and exec ignore SIGTERM survives
#               ShutdownGraceful; ShutdownForced kills all of it (137,
#               exit notification, empty cgroup)
#   kmsg        kernel log records at warning or more urgent reach the
#               agent's log (hcsshim's -kmsgLogLevel), less urgent do not
#   disk full   a 32 MiB SCSI scratch filled from the container: ENOSPC
#               to the writer, the agent answers, the container is deleted
#               and the disk removed cleanly, and e2fsck -fn of the disk on
#               the host finds it clean
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/data" && pwd)
UVM=00000000-0000-0000-0000-000000000000
require_bootfiles
for t in jq python3 e2fsck mke2fs; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done

vm_work faults

# The scratch disk (blank: the agent formats it) and a disk for the
# hot-add that the bridge drop interrupts.
truncate -s 32M "$work/scratch.raw"
truncate -s 16M "$work/hot.raw"
mke2fs -q -t ext4 -F "$work/hot.raw"

# 256 MiB: enough for the layers and containers, little enough that
# running out of it is quick under TCG.
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can time out and panic the boot.
vm_start_host "$work/vm" "$work/run-vm.log" --serial "$work/console.log" \
	--append no_timer_check \
	--mem 256 --cpus 2 --scsi "$work/scratch.raw:0" --timeout 1500
glog=$work/vm/gcs.log
lines() { tr '\n' ' ' <"$1" | sed 's/ $//'; }
modify() { lcowctl modify "$UVM" --type "$1" --request "$2" --settings "$3"; }
new_container() { # ID SCRATCH [container-config.py options]
	local id=$1 scratch=$2
	shift 2
	modify CombinedLayers Add "{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\",\"Layers\":[{\"Path\":\"/run/layers/app\"},{\"Path\":\"/run/layers/base\"}],\"ScratchPath\":\"$scratch\"}" \
		>/dev/null &&
		python3 "$DATA/container-config.py" "$id" "$@" >"$work/$id.json" &&
		lcowctl create "$id" --config "@$work/$id.json" >/dev/null
}
remove_container() {
	lcowctl delete "$1" >/dev/null &&
		modify CombinedLayers Remove "{\"ContainerRootPath\":\"/run/gcs/c/$1/rootfs\"}" >/dev/null
}
pids_of() {
	lcowctl properties "$1" ProcessList |
		jq -r '.Properties | .ProcessList[].ProcessId'
}
# pid_by_cmd ID WORD: the VM pid of ID's process whose command line has WORD.
pid_by_cmd() {
	{ in_vm /bin/sh -c "for p in \$(cat /sys/fs/cgroup/pods/$1/cgroup.procs); do
		{ tr '\\0' ' ' </proc/\$p/cmdline; } 2>/dev/null | grep -q -- '$2' && echo \$p; done; exit 0" ||
		true; } | sort -n | head -1
}
wait_pid() { # ID WORD: until a process with WORD runs in ID; prints its pid
	local i p
	for i in $(seq 1 100); do
		p=$(pid_by_cmd "$1" "$2")
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.2
	done
	return 1
}
# wait_log REGEX: the agent's log (which reaches the host asynchronously,
# on port 109) has a matching line, within ~10 s.
wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -qE -- "$1" "$glog" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
agent_pid() { in_vm /bin/sh -c 'pidof gcs' 2>/dev/null; }
plan 55

check "bridge negotiated" lcowctl wait-ready --timeout 300
run "$work/layers.out" in_vm /bin/sh -c '
set -e
B=/run/layers/base A=/run/layers/app
mkdir -p $B/bin $B/etc $B/proc $B/sys $B/dev $B/root $B/tmp $A/etc
cp /bin/busybox $B/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $B/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\n" >$B/etc/passwd
printf "root:x:0:\n" >$B/etc/group
echo layers-ready'
check_log "busybox layers built in the VM" "$work/layers.out" '^layers-ready$'
gcs_pid=$(agent_pid)
check "the agent's pid is known" test -n "$gcs_pid"

# The kernel's log reaches the agent's at -kmsgLogLevel (4, warning) and
# more urgent, as hcsshim's gcs forwards it; less urgent records do not.
check "records written to /dev/kmsg" in_vm /bin/sh -c \
	'echo "<3>lcow-kmsg-test err" >/dev/kmsg && echo "<6>lcow-kmsg-test info" >/dev/kmsg'
wait_log '"message":"lcow-kmsg-test err"' || true
check_log "a kernel log record at Err is forwarded (kmsg read)" "$glog" \
	'"msg":"kmsg read","uptime_ns":[0-9]+,"priority":"Err","facility":1,"seq":[0-9]+,"timesincebootmicro":[0-9]+,"flags":"-","message":"lcow-kmsg-test err"'
check "... one at Info is not" bash -c "! grep -q 'lcow-kmsg-test info' '$glog'"

# ================= the bridge dropped with requests in flight ==========
check "container f1 created" new_container f1 /run/gcs/c/f1/scratch
check "f1's init runs" start_init f1 "$work/f1-init.out" sleep 100000
f1_init=$(pids_of f1 | head -1)
# An exec the host waits on (lcowctl exec's own WaitForProcess), one that
# ends while the bridge is down or being re-negotiated, and an explicit
# WaitForProcess on the init: all three in flight at the drop.
lcowctl exec f1 -n -- /bin/sh -c 'sleep 12; exit 7 # slow-one' >"$work/slow.out" 2>&1 &
slow_job=$!
lcowctl exec f1 -n -- /bin/sh -c 'sleep 2; exit 9 # quick-one' >"$work/quick.out" 2>&1 &
quick_job=$!
lcowctl wait f1 "$f1_init" >"$work/init-wait.out" 2>&1 &
initwait_job=$!
slow_pid=$(wait_pid f1 slow-one || true)
quick_pid=$(wait_pid f1 quick-one || true)
check "two execs running in f1" test -n "$slow_pid" -a -n "$quick_pid"
# A SCSI hot-add waiting for a device that is not there yet.
modify MappedVirtualDisk Add '{"MountPath":"/run/mounts/hot","Controller":0,"Lun":3}' \
	>"$work/hot1.out" 2>&1 &
hot_job=$!
sleep 0.5
lcowctl dump-stacks >"$work/stacks-before.txt" 2>&1 || true
check_log "the agent has the waits and the hot-add pending" "$work/stacks-before.txt" \
	'^pending requests: [4-9]'
check "host drops the bridge mid-request" lcowctl drop-bridge
set +e
wait "$hot_job"
hot_rc=$?
wait "$initwait_job"
initwait_rc=$?
set -e
check_eq "the in-flight requests end on the host: connection lost (exit 3)" "3 3" "$hot_rc $initwait_rc"
check "agent re-dials and negotiates again" lcowctl wait-ready --connections 2 --timeout 120
# Give the quick exec time to finish while nobody waits on it.
sleep 3
lcowctl dump-stacks >"$work/stacks-after.txt" 2>&1 || true
check_log "the new connection has no stale pending request" "$work/stacks-after.txt" '^pending requests: 0$'
check_log "the agent counted the cancelled ones" "$work/stacks-after.txt" 'async: 0 pending, .* [1-9][0-9]* dropped'
pids_of f1 >"$work/f1-pids.txt" 2>&1 || true
check "f1 kept running: its init and the slow exec are in ProcessList" bash -c \
	"grep -qx '$f1_init' '$work/f1-pids.txt' && grep -qx '$slow_pid' '$work/f1-pids.txt'"
run "$work/quick-wait.out" lcowctl wait f1 "$quick_pid" --timeout 60000
check_eq "a process that exited after the drop: its exit code on the new connection" 9 \
	"$(jq -r .ExitCode "$work/quick-wait.out" 2>/dev/null)"
run "$work/slow-wait.out" lcowctl wait f1 "$slow_pid" --timeout 60000
check_eq "a process still running at the drop: waited again, its exit code" 7 \
	"$(jq -r .ExitCode "$work/slow-wait.out" 2>/dev/null)"
wait "$slow_job" "$quick_job" 2>/dev/null || true
# The device arrives now; the cancelled request left nothing half-done,
# and asking again mounts it.
qmp "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"hot3\",\"file\":{\"driver\":\"file\",\"filename\":\"$work/hot.raw\"}}}" \
	'{"execute":"device_add","arguments":{"driver":"scsi-hd","bus":"scsi0.0","lun":3,"drive":"hot3","id":"lun3"}}' \
	>"$work/qmp.log" 2>&1 && echo hot-added >>"$work/qmp.log"
check_log "QMP hot-added the disk after the reconnect" "$work/qmp.log" '^hot-added$'
sleep 1
run "$work/hot-mounts.out" in_vm grep -c /run/mounts/hot /proc/mounts
check_eq "the cancelled hot-add mounted nothing" 0 "$(head -1 "$work/hot-mounts.out")"
run "$work/hot2.out" modify MappedVirtualDisk Add '{"MountPath":"/run/mounts/hot","Controller":0,"Lun":3}'
check_eq "the same hot-add asked again succeeds" 0 "$(rc "$work/hot2.out")"
run "$work/hot-rm.out" modify MappedVirtualDisk Remove '{"MountPath":"/run/mounts/hot","Controller":0,"Lun":3}'
check_eq "... and is removed" 0 "$(rc "$work/hot-rm.out")"

# ================= the host closes a process's stdio ===================
# Each writer records what happened in a file; the host's exec is killed
# (the host end of its stdio streams closes).  Its WaitForProcess was in
# flight, so the agent answers it and forgets the process, as hcsshim's
# does: the files say how the writers ended.
# (lcowctl itself, not the shell function: $! must be its pid)
"$BIN/lcowctl" -c "$ctl" exec f1 -- /bin/sh -c 'trap "" PIPE; n=0; while echo epipe-writer; do n=$((n+1)); done; echo "write failed after $n lines" >/tmp/epipe.txt' \
	>/dev/null 2>&1 </dev/null &
epipe_job=$!
"$BIN/lcowctl" -c "$ctl" exec f1 -- /bin/sh -c 'yes sigpipe-writer; echo "yes exit $?" >/tmp/sigpipe.txt' \
	>/dev/null 2>&1 </dev/null &
sigpipe_job=$!
wait_pid f1 epipe-writer >/dev/null || true
wait_pid f1 sigpipe-writer >/dev/null || true
sleep 1
kill -KILL "$epipe_job" "$sigpipe_job" 2>/dev/null || true
wait "$epipe_job" "$sigpipe_job" 2>/dev/null || true
for _ in $(seq 1 60); do
	lcowctl exec f1 -n -- cat /tmp/epipe.txt /tmp/sigpipe.txt >"$work/pipe.out" 2>&1 && break
	sleep 0.5
done
check_log "host closed stdout: a writer ignoring SIGPIPE gets EPIPE" "$work/pipe.out" \
	'^write failed after [0-9]+ lines$'
check_log "host closed stdout: a writer dies of SIGPIPE (141)" "$work/pipe.out" '^yes exit 141$'
check "agent fine after the stdio faults" lcowctl dump-stacks
check_eq "f1's init still running" "$f1_init" "$(pids_of f1 | grep -x "$f1_init" || true)"

# ================= the whole VM out of memory =========================
# 1 MiB strings, one after the other: the memory fills page by page (one
# huge allocation would just fail with ENOMEM instead).
hog='BEGIN { s = "0123456789abcdef"; for (i = 0; i < 16; i++) s = s s; while (1) a[n++] = s n }'
run "$work/oom-uvm.out" lcowctl exec --uvm -n -- awk "$hog"
check_eq "a utility-VM process taking all memory is OOM-killed (137)" 137 "$(rc "$work/oom-uvm.out")"
check_eq "the agent survived (same pid)" "$gcs_pid" "$(agent_pid)"
wait_log 'OOM killer killed a process".*"cgroup":"/gcs"' || true
check_log "the agent logged the OOM kill in its cgroup" "$glog" \
	'"msg":"out of memory: the OOM killer killed a process".*"cgroup":"/gcs"'
check_log "the kernel's OOM report reached the agent's log (kmsg read, Err)" "$glog" \
	'"msg":"kmsg read".*"priority":"Err".*"message":"Out of memory: Killed process [0-9]+ \(awk\)'
# On its way there the agent's cgroup passed -gcs-mem-limit-bytes (50 MiB
# by default, hcsshim's): a warning, nothing limited.
check_log "the agent warned that its cgroup passed its 50 MiB threshold" "$glog" \
	'"msg":"memory usage for cgroup exceeded threshold".*"cgroup":"/gcs".*"threshold_bytes":52428800,"current_bytes":[0-9]{8,}'
run "$work/pods-max.out" in_vm /bin/sh -c \
	'echo $(($(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo) * 1024 - 75 * 1048576)) $(cat /sys/fs/cgroup/pods/memory.max)'
check "the pods cgroup is capped at the VM's RAM less 75 MiB (hcsshim's default reserve)" \
	awk '{ exit !($1 == $2 && $1 > 0) }' "$work/pods-max.out"
run "$work/oom-c.out" lcowctl exec f1 -n -- awk "$hog"
check_eq "a process of an unlimited container taking all memory: 137" 137 "$(rc "$work/oom-c.out")"
check_eq "the agent survived again (same pid)" "$gcs_pid" "$(agent_pid)"
wait_log 'killed a process of the container".*"container":"f1"' || true
check_log "... and logged it for the pods cgroup" "$glog" \
	'"msg":"out of memory: the OOM killer killed a process".*"cgroup":"/pods"'
check_log "... and for the container" "$glog" \
	'"msg":"the OOM killer killed a process of the container".*"container":"f1"'
run "$work/pods-oom.out" in_vm sed -n 's/^oom \([0-9]*\)$/\1/p' /sys/fs/cgroup/pods/memory.events
check "... stopped by the pods cgroup's cap (its memory.events counts an oom)" \
	test "$(cat "$work/pods-oom.out")" -ge 1
check "the agent still serves requests" lcowctl dump-stacks

# ================= ShutdownGraceful ignored, ShutdownForced ===========
check "container f2 (init and exec ignore SIGTERM)" new_container f2 /run/gcs/c/f2/scratch
lcowctl exec f2 -n -- /bin/sh -c 'trap "" TERM; while :; do sleep 1; done' >"$work/f2-init.out" 2>&1 &
f2_job=$!
for _ in $(seq 1 100); do [ -n "$(pids_of f2 2>/dev/null)" ] && break; sleep 0.1; done
lcowctl exec f2 -n -- /bin/sh -c 'trap "" TERM; while :; do sleep 1; done # f2-child' >/dev/null 2>&1 &
f2_child_pid=$(wait_pid f2 f2-child || true)
check "ShutdownGraceful of f2 answered" lcowctl shutdown-graceful f2
sleep 3
n_alive=$(in_vm cat /sys/fs/cgroup/pods/f2/cgroup.procs 2>/dev/null | grep -c . || true)
check "f2 still runs after ShutdownGraceful (SIGTERM ignored)" test "$n_alive" -ge 2
check "ShutdownForced of f2 answered" lcowctl shutdown-forced f2
set +e
wait "$f2_job"
f2_rc=$?
set -e
check_eq "f2's init killed: 137" 137 "$f2_rc"
n_left=$(in_vm cat /sys/fs/cgroup/pods/f2/cgroup.procs 2>/dev/null | grep -c . || true)
check_eq "nothing of f2 left running (its exec too)" 0 "$n_left"
lcowctl events >"$work/events.json" 2>/dev/null || true
check "an exit notification for f2" jq -se 'map(select(.ContainerId=="f2")) | length >= 1' "$work/events.json"
check "f2 deleted" remove_container f2

# ================= disk full on the scratch ============================
scsi=/run/mounts/scsi/m0
check "32 MiB SCSI scratch attached (EnsureFilesystem ext4)" modify MappedVirtualDisk Add \
	"{\"MountPath\":\"$scsi\",\"Controller\":0,\"Lun\":0,\"EnsureFilesystem\":true,\"Filesystem\":\"ext4\"}"
check "container f3 with its scratch on the disk" new_container f3 "$scsi/scratch/f3"
start_init f3 "$work/f3-init.out" sleep 100000 || true
run "$work/fill.out" lcowctl exec f3 -n -- /bin/sh -c \
	'echo keep-me >/kept.txt; sync; dd if=/dev/zero of=/fill bs=1M 2>&1; echo "dd=$?"; sync'
check_log "the writer gets ENOSPC" "$work/fill.out" 'No space left on device'
check_log "... and dd fails" "$work/fill.out" '^dd=1$'
check "the agent answers with the disk full" lcowctl dump-stacks
run "$work/read-back.out" lcowctl exec f3 -n -- cat /kept.txt
check_eq "a file written before is intact" keep-me "$(cat "$work/read-back.out")"
run "$work/free.out" lcowctl exec f3 -n -- /bin/sh -c 'rm /fill && echo again >/more.txt && cat /more.txt'
check_eq "space freed: writes work again" again "$(cat "$work/free.out")"
lcowctl shutdown-forced f3 >/dev/null 2>&1 || true
sleep 1
check "f3 deleted, disk removed" bash -c "$(declare -f lcowctl modify remove_container); ctl='$ctl' BIN='$BIN' UVM='$UVM'
	remove_container f3 && modify MappedVirtualDisk Remove '{\"MountPath\":\"$scsi\",\"Controller\":0,\"Lun\":0}' >/dev/null"
check "e2fsck -fn of the filled disk on the host: clean" e2fsck -fn "$work/scratch.raw"

vm_stop
done_testing
