# Shared helpers for the integration tests: TAP output and VM handling.
# Source it; it expects ROOT (repo) and OUT in the environment, as
# ./build.sh test sets them.
set -euo pipefail

: "${ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${OUT:=$ROOT/out}"
BIN=${BIN:-$OUT/bin}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
RUN_VM=$ROOT/scripts/run-vm

# plan, check, tap_ok, tap_not_ok, done_testing and the counts.
. "$ROOT/scripts/tests/tap.sh"

# check_log NAME FILE REGEX: FILE has a line matching the extended REGEX.
check_log() {
	local name=$1 file=$2 re=$3
	if grep -qE -- "$re" "$file"; then
		tap_ok "$name"
	else
		tap_not_ok "$name"
		echo "# no line matching /$re/ in $file; its last lines:"
		tail -n 15 "$file" 2>/dev/null | sed 's/^/#   /'
	fi
}

# check_nolog NAME FILE REGEX: no line of FILE matches.
check_nolog() {
	local name=$1 file=$2 re=$3
	if ! grep -qE -- "$re" "$file"; then
		tap_ok "$name"
	else
		tap_not_ok "$name"
		grep -E -- "$re" "$file" | head -5 | sed 's/^/#   /'
	fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	local name=$1 want=$2 got=$3
	if [ "$want" = "$got" ]; then
		tap_ok "$name"
	else
		tap_not_ok "$name"
		echo "# expected '$want', got '$got'"
	fi
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

require_bootfiles() {
	local f
	for f in kernel vmlinux initrd.img; do
		[ -r "$BOOTFILES/$f" ] || { echo "Bail out! no $BOOTFILES/$f (run ./build.sh)"; exit 1; }
	done
}

# ---- one VM per test, through the host harness (scripts/run-vm --host) ----
# vm_work NAME: makes $work (/tmp/lcow-NAME-test.XXXXXX) and sets the EXIT
# trap: it kills the test's background jobs and the VM (still running),
# calls the test's own test_cleanup function if it defines one, then
# removes $work, or keeps it (and says so) when a check failed or
# KEEP_WORK=1.
vm_pid=
ctl=
vm_work() {
	work=$(mktemp -d "/tmp/lcow-$1-test.XXXXXX")
	trap vm_cleanup EXIT
}
vm_cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	if [ -n "$vm_pid" ]; then
		kill "$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
	fi
	if declare -F test_cleanup >/dev/null; then test_cleanup || true; fi
	if [ "$tap_failed" -gt 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}

# vm_start_host DIR LOG RUN-VM-ARGS...: starts run-vm --host in the
# background (--bootfiles, --workdir DIR, then the given arguments; its
# output to LOG), sets vm_pid and ctl (DIR/vm.sock.ctl), and waits up to
# 120 s for the control socket while the VM lives.  It does not fail: the
# test's first lcowctl check says whether the VM is there.
vm_start_host() {
	local dir=$1 log=$2
	shift 2
	"$RUN_VM" --bootfiles "$BOOTFILES" --host --workdir "$dir" "$@" >"$log" 2>&1 &
	vm_pid=$!
	ctl=$dir/vm.sock.ctl
	for _ in $(seq 1 600); do
		[ -S "$ctl" ] && return 0
		if ! kill -0 "$vm_pid" 2>/dev/null; then
			echo "# run-vm exited before $ctl appeared (see $log)"
			return 0
		fi
		sleep 0.2
	done
	echo "# no $ctl after 120 s"
}

# vm_stop: ShutdownForced of the VM, then waits for run-vm up to 60 s (and
# kills it after that); sets vm_rc to run-vm's exit status (0: the VM
# powered off) and clears vm_pid.  Without a VM it does nothing.
vm_rc=
vm_stop() {
	[ -n "$vm_pid" ] || return 0
	lcowctl shutdown-forced >/dev/null 2>&1 || true
	for _ in $(seq 1 300); do
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.2
	done
	kill "$vm_pid" 2>/dev/null || true
	vm_rc=0
	wait "$vm_pid" 2>/dev/null || vm_rc=$?
	vm_pid=
}

# lcowctl ARGS...: the host client on the VM's control socket ($ctl).
lcowctl() { "$BIN/lcowctl" -c "$ctl" "$@"; }
# in_vm CMD...: CMD in the utility VM (not in a container), no tty.
in_vm() { lcowctl exec --uvm -n -- "$@"; }
# run OUT CMD...: CMD's stdout and stderr into OUT, its exit status into
# OUT.rc; never fails.  rc OUT: that exit status.
run() {
	local out=$1
	shift
	set +e
	"$@" >"$out" 2>&1
	echo $? >"$out.rc"
	set -e
}
rc() { cat "$1.rc" 2>/dev/null; }
# wait_container_exit ID [SECONDS]: wait (default 30 s) for the container's
# exit notification, as hcsshim's host does between ShutdownForced and
# DeleteContainerState: the shutdown request is answered once the signal is
# sent, not once the init is gone, and a Delete before that is refused.
wait_container_exit() {
	local id=$1 i n=$((${2:-30} * 5))
	for ((i = 0; i < n; i++)); do
		lcowctl events 2>/dev/null |
			jq -se --arg id "$id" 'any(.[]; .ContainerId == $id)' >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
# start_init ID OUT CMD...: CMD as container ID's first process (its init),
# in the background like `run OUT lcowctl exec ID -n -- CMD` (output in OUT,
# exit status in OUT.rc, the job in $init_job, the pid in OUT.pid); returns
# once the guest has answered the ExecuteProcess, i.e. the container runs.
# (The process shows in ProcessList a little earlier, while the agent still
# starts it, and an exec then is refused: "its init process is being
# started".)  Fails if that does not happen within 60 s.
start_init() {
	local id=$1 out=$2 i
	shift 2
	rm -f "$out.pid"
	run "$out" lcowctl exec "$id" -n --pid-file "$out.pid" -- "$@" </dev/null &
	init_job=$!
	for ((i = 0; i < 600; i++)); do
		[ -s "$out.pid" ] && return 0
		kill -0 "$init_job" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$out.pid" ]
}
# qmp JSON...: QEMU monitor commands to the VM of vm_start_host (or of
# run-vm --workdir "$work/vm"), each of which must succeed.
qmp() { python3 "$(dirname "${BASH_SOURCE[0]}")/data/qmp.py" "$work/vm/qmp.sock" "$@"; }
