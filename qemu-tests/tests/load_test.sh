#!/usr/bin/env bash
# Load on ONE VM, and what it leaves in the agent:
#   - 1,000 sequential ExecuteProcess + WaitForProcess into one container
#     (lcowctl exec, stdio relayed), every exit code checked;
#   - 50 containers running at the same time (CombinedLayers + Create,
#     their inits started concurrently, all 50 seen running at once), then
#     all stopped and deleted;
#   - after each: the agent's open fds are exactly what they were, its
#     VmRSS grew by no more than LOAD_RSS_BOUND_KB (default 256 kB: a
#     leak of one 256-byte record per exec is 250 kB), and nothing is left
#     behind (processes, cgroups, mounts, state directories).
# The figures (RSS and fds before/after, wall time) are printed as TAP
# comments ("# figure: ...").  256 concurrent vsock streams through the
# backend, checksummed, are in vsock_backend_test.sh.
#   LOAD_EXECS=N (default 1000)  LOAD_CONTAINERS=N (default 50)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/data" && pwd)
UVM=00000000-0000-0000-0000-000000000000
require_bootfiles
for t in jq python3; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done
n_execs=${LOAD_EXECS:-1000}
n_containers=${LOAD_CONTAINERS:-50}
rss_bound=${LOAD_RSS_BOUND_KB:-256}

vm_work load

# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can time out and panic the boot.
vm_start_host "$work/vm" "$work/run-vm.log" --serial "$work/console.log" \
	--append no_timer_check \
	--mem 1024 --cpus 2 --timeout 2400
modify() { lcowctl modify "$UVM" --type "$1" --request "$2" --settings "$3"; }
new_container() {
	local id=$1
	modify CombinedLayers Add "{\"ContainerRootPath\":\"/run/gcs/c/$id/rootfs\",\"Layers\":[{\"Path\":\"/run/layers/base\"}],\"ScratchPath\":\"/run/gcs/c/$id/scratch\"}" \
		>/dev/null &&
		python3 "$DATA/container-config.py" "$id" >"$work/$id.json" &&
		lcowctl create "$id" --config "@$work/$id.json" >/dev/null
}
remove_container() {
	lcowctl shutdown-forced "$1" >/dev/null 2>&1 || true # already stopped: fine
	wait_container_exit "$1" &&
		lcowctl delete "$1" >/dev/null &&
		modify CombinedLayers Remove "{\"ContainerRootPath\":\"/run/gcs/c/$1/rootfs\"}" >/dev/null
}
# agent_stats: "RSS_KB FDS" of /bin/gcs.  The exec that reads them holds
# the same few fds in the agent every time, so before and after compare.
agent_stats() {
	in_vm /bin/sh -c 'p=$(pidof gcs); echo "$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$p/status) $(ls /proc/$p/fd | wc -l)"' 2>/dev/null
}
leftovers() {
	in_vm /bin/sh -c 'find /sys/fs/cgroup/pods -mindepth 1 -type d | wc -l; grep -c /run/gcs/c /proc/self/mountinfo; ls /run/gcs/c | wc -l' 2>/dev/null |
		tr '\n' ' ' | sed 's/ $//'
}

plan 15

check "bridge negotiated" lcowctl wait-ready --timeout 300
in_vm /bin/sh -c '
set -e
B=/run/layers/base
mkdir -p $B/bin $B/etc $B/proc $B/sys $B/dev $B/root $B/tmp
cp /bin/busybox $B/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $B/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\n" >$B/etc/passwd
printf "root:x:0:\n" >$B/etc/group
echo layers-ready' >"$work/layers.out" 2>&1 || true
check_log "busybox layer built in the VM" "$work/layers.out" '^layers-ready$'

# ---- 1,000 sequential execs into one container ----
check "container x1 created" new_container x1
# the init must be running before any other exec (the first one is the init)
start_init x1 "$work/x1-init.out" sleep 100000 || true
x1_init_job=$init_job
# Warm-up: the first execs allocate what every later one reuses (relay
# buffers, the process table's first entries, libc's malloc pools).
for i in $(seq 1 20); do lcowctl exec x1 -n -- true >/dev/null 2>&1 || true; done
before=$(agent_stats)
t0=$(date +%s)
bad=0
for i in $(seq 1 "$n_execs"); do
	if [ $((i % 100)) = 0 ]; then
		# every 100th also carries output back, checked
		out=$(lcowctl exec x1 -n -- /bin/sh -c "echo exec-$i" 2>&1) || true
		[ "$out" = "exec-$i" ] || { bad=$((bad + 1)); echo "# exec $i: '$out'"; }
	elif ! lcowctl exec x1 -n -- true >/dev/null 2>"$work/exec.err"; then
		bad=$((bad + 1))
		[ "$bad" -le 5 ] && echo "# exec $i failed: $(head -c 300 "$work/exec.err")"
	fi
done
t1=$(date +%s)
after=$(agent_stats)
echo "# figure: $n_execs sequential execs in $((t1 - t0)) s wall"
echo "# figure: agent after $n_execs execs: VmRSS ${before% *} -> ${after% *} kB, fds ${before#* } -> ${after#* }"
check_eq "$n_execs sequential execs, every one exit 0 (and its output)" 0 "$bad"
check_eq "agent fds unchanged after $n_execs execs" "${before#* }" "${after#* }"
check "agent VmRSS grew by <= $rss_bound kB after $n_execs execs (${before% *} -> ${after% *})" \
	test "$((${after% *} - ${before% *}))" -le "$rss_bound"
lcowctl properties x1 ProcessList >"$work/x1-procs.json" 2>/dev/null || true
check_eq "only the init is left in x1" 1 \
	"$(jq '.Properties | .ProcessList | length' "$work/x1-procs.json" 2>/dev/null)"
remove_container x1 || true
wait "$x1_init_job" 2>/dev/null || true

# ---- 50 containers at the same time ----
# A warm-up container first, for the same reason as above.
new_container w1 && lcowctl exec w1 -n -- true >/dev/null 2>&1 || true
remove_container w1 || true
before=$(agent_stats)
t0=$(date +%s)
ok=0
for i in $(seq 1 "$n_containers"); do new_container "m$i" && ok=$((ok + 1)); done
check_eq "$n_containers containers created" "$n_containers" "$ok"
# Each init says it is up and stays until SIGUSR1 (sent from the VM to
# every process of every container once all 50 run).
m_jobs=()
for i in $(seq 1 "$n_containers"); do
	lcowctl exec "m$i" -n -- /bin/sh -c \
		'trap "echo \"\$(hostname) done\"; exit 0" USR1; echo "$(hostname) up"; while :; do sleep 0.3; done' \
		>"$work/m$i.out" 2>&1 &
	m_jobs+=($!)
done
running=0
for _ in $(seq 1 240); do
	running=$(in_vm /bin/sh -c 'n=0; for d in /sys/fs/cgroup/pods/m*; do grep -q . $d/cgroup.procs && n=$((n+1)); done; echo $n' 2>/dev/null || echo 0)
	[ "$running" = "$n_containers" ] && break
	sleep 0.5
done
check_eq "all $n_containers containers running at the same time" "$n_containers" "$running"
for _ in $(seq 1 20); do
	in_vm /bin/sh -c 'kill -USR1 $(cat /sys/fs/cgroup/pods/m*/cgroup.procs) 2>/dev/null; exit 0' >/dev/null 2>&1 || true
	sleep 1
	left=0
	for j in "${m_jobs[@]}"; do kill -0 "$j" 2>/dev/null && left=$((left + 1)); done
	[ "$left" = 0 ] && break
done
wait "${m_jobs[@]}" 2>/dev/null || true
ok=0
for i in $(seq 1 "$n_containers"); do grep -q "^m$i done$" "$work/m$i.out" && ok=$((ok + 1)); done
check_eq "all $n_containers inits ran to the end (own hostname each)" "$n_containers" "$ok"
ok=0
for i in $(seq 1 "$n_containers"); do remove_container "m$i" && ok=$((ok + 1)); done
check_eq "$n_containers containers deleted" "$n_containers" "$ok"
t1=$(date +%s)
after=$(agent_stats)
echo "# figure: $n_containers concurrent containers, create to delete, in $((t1 - t0)) s wall"
echo "# figure: agent after $n_containers containers: VmRSS ${before% *} -> ${after% *} kB, fds ${before#* } -> ${after#* }"
check_eq "agent fds unchanged after $n_containers containers" "${before#* }" "${after#* }"
check "agent VmRSS grew by <= $rss_bound kB after $n_containers containers (${before% *} -> ${after% *})" \
	test "$((${after% *} - ${before% *}))" -le "$rss_bound"
check_eq "nothing left: cgroups, mounts, state directories" "0 0 0" "$(leftovers)"
check "agent still serves" lcowctl dump-stacks

vm_stop
done_testing
