#!/usr/bin/env bash
# Help: boot the real /init and /bin/vsockexec in QEMU (TCG, q35 + OVMF) from a
# throwaway busybox initrd and check what PID 1 promises: mounts, lo, limits,
# orphan reaping, the one power-off line, signal forwarding, leftovers killed,
# -w overlays, -d shell, vsockexec's fallback, closed stdio.  Needs the guest
# binaries built (make guest) and a kernel; takes a few minutes.  The `vsock`
# scenario also needs out/bin/lcow-vsockd and out/bin/lcowctl (entropy on
# port 1 and the log on port 109 through the real host side).
set -euo pipefail

usage() {
	echo "usage: $0 KERNEL [SCENARIO...]" >&2
	echo "scenarios: basic signal noexec term stubborn overlay vsockexec debugshell noconsole vsock" >&2
	exit 2
}
[ $# -ge 1 ] || usage
kernel=$1
shift
[ -r "$kernel" ] || { echo "vm-smoke: cannot read kernel $kernel" >&2; exit 1; }
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(basic signal noexec term stubborn overlay vsockexec debugshell noconsole vsock)

top=$(cd "$(dirname "$0")/../.." && pwd)
guest=$top/out/build/guest/init
for f in "$guest/init" "$guest/vsockexec" /bin/busybox /usr/share/OVMF/OVMF_CODE_4M.fd; do
	[ -r "$f" ] || { echo "vm-smoke: missing $f (make guest? busybox-static? ovmf?)" >&2; exit 1; }
done

work=$(mktemp -d)
daemons=()
cleanup() {
	local p
	for p in "${daemons[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
qemu_extra=()
failures=0

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# expect LOG PATTERN DESCRIPTION: a line matching the extended regex.
expect() { if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3"; fi; }
expect_not() { if grep -Eq -- "$2" "$1"; then fail "$3"; else pass "$3"; fi; }
expect_count() {
	local n
	n=$(grep -Ec -- "$2" "$1" || true)
	if [ "$n" -eq "$3" ]; then pass "$4"; else fail "$4 (seen $n times)"; fi
}

# The scripts the VM runs as "the program" (or from it).
mkdir -p "$work/root/t"
cat >"$work/root/t/basic.sh" <<'EOF'
for m in "/dev devtmpfs" "/proc proc" "/sys sysfs" "/run tmpfs" "/tmp tmpfs" \
	"/dev/pts devpts" "/dev/shm tmpfs" "/sys/fs/cgroup cgroup2"; do
	set -- $m
	if grep -q "^[^ ]* $1 $2 " /proc/mounts; then echo "T-OK mount $1"; else echo "T-BAD mount $1"; fi
done
echo "T-MODES $(for d in /run /tmp /dev/shm; do stat -c %a $d; done | tr '\n' ' ')"
echo "T-LINKS $(for l in /dev/fd /dev/stdin /dev/stdout /dev/stderr; do readlink $l; done | tr '\n' ' ')"
[ -e /dev/ptmx ] && echo "T-OK ptmx"
echo "T-CGROUP $(cat /sys/fs/cgroup/cgroup.subtree_control)"
ip link show lo | grep -q '<.*UP' && echo "T-OK lo up"
[ "$(ulimit -n)" = "$(cat /proc/sys/fs/nr_open)" ] && echo "T-OK nofile $(ulimit -n)"
echo "T-DEVKMSG $(cat /proc/sys/kernel/printk_devkmsg)"
echo "T-FDS $(sh -c 'ls /proc/self/fd' | tr '\n' ' ')"
echo "T-SID $(cut -d' ' -f6 /proc/$$/stat) PID $$"
echo "T-SIGBLK $(grep SigBlk /proc/$$/status)"
echo "T-PATH $PATH"
# Three orphans: their parent exits at once, init inherits them.
for i in 1 2 3; do sh -c 'sleep 0.3 &'; done
sleep 2
zombies=0
for s in /proc/[0-9]*/stat; do
	[ "$(cut -d' ' -f3 "$s" 2>/dev/null)" = Z ] && zombies=$((zombies + 1))
done
echo "T-ZOMBIES $zombies"
echo "T-REAPED $(dmesg | grep -c 'init: reaped orphan')"
# Left running: init must stop it at power-off.
sleep 1000 &
exit 3
EOF
cat >"$work/root/t/term.sh" <<'EOF'
trap 'echo T-GOT-TERM; exit 7' TERM
kill -INT 1
while :; do sleep 0.1; done
EOF
cat >"$work/root/t/stubborn.sh" <<'EOF'
sh -c 'trap "" TERM; exec sleep 1000' &
sleep 0.5
exit 0
EOF
cat >"$work/root/t/overlay.sh" <<'EOF'
grep -E '^overlay (/etc|/var) overlay' /proc/mounts | sed 's/^/T-OVL /'
echo changed >/etc/hostname && echo "T-ETC $(cat /etc/hostname)"
echo log >/var/log/x && echo "T-VAR $(cat /var/log/x)"
ls /run/init/overlay/etc/upper | sed 's/^/T-UPPER /'
EOF
cat >"$work/root/t/vsockexec.sh" <<'EOF'
/bin/vsockexec -e 109 /bin/sh -c 'echo T-STDERR-KEPT >&2'
echo "T-RC $?"
/bin/vsockexec -x 2>/dev/null
echo "T-USAGE-RC $?"
/bin/vsockexec /bin/nonexistent 2>/dev/null
echo "T-NOEXEC-RC $?"
EOF
cat >"$work/root/t/noconsole-init.sh" <<'EOF'
exec /init /bin/sh -c 'echo T-CONSOLE-$((6*7))' <&- >&- 2>&-
EOF
cat >"$work/root/t/vsock.sh" <<'EOF'
echo T-TO-LOG-PORT >&2
echo "T-STDOUT-ON-CONSOLE"
echo "T-FDS $(ls /proc/self/fd | tr '\n' ' ')" >&2
EOF
cat >"$work/root/t/wait-shell.sh" <<'EOF'
while [ ! -e /tmp/shell-done ]; do sleep 0.2; done
sleep 1
exit 0
EOF

# The initrd: init, vsockexec, busybox with a few links, the scripts.
mkdir -p "$work/root"/{bin,dev,proc,sys,run,tmp,etc,var/log}
cp "$guest/init" "$work/root/init"
cp "$guest/vsockexec" "$work/root/bin/vsockexec"
cp /bin/busybox "$work/root/bin/busybox"
for a in sh cat ls grep sleep dmesg ip stat kill readlink tr cut sed touch; do
	ln -s busybox "$work/root/bin/$a"
done
echo original >"$work/root/etc/hostname"
mknod "$work/root/dev/console" c 5 1
(cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd.img"

# boot NAME INIT-ARGS [STDIN-SCRIPT [KERNEL-ARGS]]: serial log in $work/NAME.log.
boot() {
	local name=$1 args=$2 input=${3:-} kargs=${4:-}
	local log=$work/$name.log
	cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
	local start=$SECONDS
	local qemu=(qemu-system-x86_64 -machine q35 -nodefaults -m 256
		-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
		-drive if=pflash,format=raw,file="$work/vars.fd"
		-kernel "$kernel" -initrd "$work/initrd.img"
		-append "console=ttyS0 8250_core.nr_uarts=1 panic=-1 $kargs -- $args"
		-serial stdio -display none -no-reboot "${qemu_extra[@]}")
	local rc=0
	if [ -n "$input" ]; then
		(eval "$input") | timeout 300 "${qemu[@]}" >"$log" 2>&1 || rc=$?
	else
		timeout 300 "${qemu[@]}" </dev/null >"$log" 2>&1 || rc=$?
	fi
	# The console writes CR LF.
	sed -i 's/\r$//' "$log"
	echo "== $name: qemu rc $rc after $((SECONDS - start)) s"
	if [ $rc -eq 0 ]; then pass "$name: VM powered off by itself"; else fail "$name: VM did not power off (rc $rc)"; fi
	expect "$log" "reboot: Power down" "$name: kernel powered down"
}

for s in "${scenarios[@]}"; do
	case $s in
	basic)
		boot basic "-e 1 /bin/sh /t/basic.sh"
		l=$work/basic.log
		for m in /dev /proc /sys /run /tmp /dev/pts /dev/shm /sys/fs/cgroup; do
			expect "$l" "T-OK mount $m\$" "basic: $m mounted"
		done
		expect "$l" "T-MODES 755 1777 1777" "basic: /run 755, /tmp and /dev/shm 1777"
		expect "$l" "T-LINKS /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2" "basic: /dev symlinks"
		expect "$l" "T-OK ptmx" "basic: /dev/ptmx"
		expect "$l" "T-CGROUP .*memory.*pids" "basic: cgroup controllers enabled"
		expect "$l" "T-OK lo up" "basic: lo up"
		expect "$l" "T-OK nofile" "basic: RLIMIT_NOFILE = fs.nr_open"
		expect "$l" "T-DEVKMSG on" "basic: /dev/kmsg not rate limited"
		expect "$l" "T-FDS 0 1 2 3 \$" "basic: the program inherits only stdio"
		expect "$l" "T-SIGBLK SigBlk:.0+\$" "basic: the program's signal mask is empty"
		expect "$l" "T-PATH /usr/local/sbin:" "basic: the program has a PATH"
		expect "$l" "T-SID ([0-9]+) PID \\1\$" "basic: the program leads its own session"
		expect "$l" "T-ZOMBIES 0" "basic: no zombies"
		expect "$l" "T-REAPED [3-9]" "basic: orphans reaped and logged"
		expect "$l" "init: entropy from vsock port 1: " "basic: entropy failure logged, not fatal"
		expect_count "$l" "init: /bin/sh exited with status 3; powering off" 1 "basic: one status line"
		expect_count "$l" "powering off" 1 "basic: nothing else says powering off"
		;;
	signal)
		boot signal "/bin/sh -c \"kill -SEGV \$\$\""
		expect_count "$work/signal.log" "init: /bin/sh killed by signal 11; powering off" 1 "signal: killed-by line"
		;;
	noexec)
		boot noexec "/bin/nonexistent arg"
		expect "$work/noexec.log" "init: exec /bin/nonexistent: No such file or directory" "noexec: exec failure logged"
		expect_count "$work/noexec.log" "init: /bin/nonexistent exited with status 127; powering off" 1 "noexec: status 127"
		;;
	term)
		boot term "/bin/sh /t/term.sh"
		expect "$work/term.log" "T-GOT-TERM" "term: SIGINT to init reached the program as SIGTERM"
		expect_count "$work/term.log" "init: /bin/sh exited with status 7; powering off" 1 "term: status line"
		;;
	stubborn)
		boot stubborn "/bin/sh /t/stubborn.sh"
		expect_count "$work/stubborn.log" "init: /bin/sh exited with status 0; powering off" 1 "stubborn: status line"
		;;
	overlay)
		boot overlay "-w /bin/sh /t/overlay.sh"
		l=$work/overlay.log
		expect "$l" "T-OVL overlay /etc overlay" "overlay: /etc is an overlay"
		expect "$l" "T-OVL overlay /var overlay" "overlay: /var is an overlay"
		expect "$l" "T-ETC changed" "overlay: /etc writable"
		expect "$l" "T-VAR log" "overlay: /var writable"
		expect "$l" "T-UPPER hostname" "overlay: writes land in the tmpfs upper dir"
		;;
	vsockexec)
		boot vsockexec "/bin/sh /t/vsockexec.sh"
		l=$work/vsockexec.log
		expect "$l" "vsockexec: .*port 109.*; keeping the inherited stderr" "vsockexec: connect failure reported"
		expect "$l" "T-STDERR-KEPT" "vsockexec: program still ran with inherited stderr"
		expect "$l" "T-RC 0" "vsockexec: program's exit status passed through"
		expect "$l" "T-USAGE-RC 2" "vsockexec: bad usage exits 2"
		expect "$l" "T-NOEXEC-RC 127" "vsockexec: failed exec exits 127"
		;;
	debugshell)
		# The shell reads the serial line; type once the VM is up.
		boot debugshell "-d /bin/sh /t/wait-shell.sh" \
			'sleep 45; printf "echo T-SHELL-\$((6*7))\ntouch /tmp/shell-done; exit 5\n"'
		l=$work/debugshell.log
		expect "$l" "T-SHELL-42" "debugshell: shell on the console ran a command"
		expect "$l" "init: debug shell /bin/sh exited with status 5" "debugshell: shell exit logged"
		expect_count "$l" "init: /bin/sh exited with status 0; powering off" 1 "debugshell: only the program powers off"
		;;
	noconsole)
		# The kernel always finds /dev/console (its built-in initramfs has
		# one), so a shell as PID 1 closes 0..2 and execs /init.
		boot noconsole "/t/noconsole-init.sh" "" "rdinit=/bin/sh"
		l=$work/noconsole.log
		expect "$l" "init: stdio: opened /dev/console for 3 closed descriptor" "noconsole: init noticed closed stdio"
		expect "$l" "T-CONSOLE-42" "noconsole: init gave the program /dev/console"
		;;
	vsock)
		vsockd=$top/out/bin/lcow-vsockd lcowctl=$top/out/bin/lcowctl
		if [ ! -x "$vsockd" ] || [ ! -x "$lcowctl" ]; then
			echo "SKIP vsock: needs $vsockd and $lcowctl"
			continue
		fi
		# ready_wait FILE: the daemon prints "ready" on stdout when up.
		ready_wait() {
			local i
			for i in $(seq 100); do
				grep -q ready "$1" 2>/dev/null && return 0
				sleep 0.1
			done
			return 1
		}
		"$vsockd" --socket "$work/vhost-user.sock" --uds "$work/vm.sock" \
			>"$work/vsockd.out" 2>"$work/vsockd.log" &
		daemons+=($!)
		ready_wait "$work/vsockd.out" || { fail "vsock: lcow-vsockd did not start"; continue; }
		"$lcowctl" serve --uds "$work/vm.sock" --log "$work/agent.log" \
			--events "$work/events.log" >"$work/lcowctl.out" 2>"$work/lcowctl.log" &
		daemons+=($!)
		ready_wait "$work/lcowctl.out" || { fail "vsock: lcowctl serve did not start"; continue; }
		qemu_extra=(-object memory-backend-memfd,id=mem,size=256M,share=on
			-machine memory-backend=mem
			-chardev "socket,id=vsk,path=$work/vhost-user.sock"
			-device vhost-user-vsock-pci,chardev=vsk)
		boot vsock "-e 1 /bin/vsockexec -e 109 /bin/sh /t/vsock.sh"
		qemu_extra=()
		l=$work/vsock.log
		expect "$l" "init: added 512 bytes of entropy from vsock port 1" "vsock: entropy from the host credited"
		expect "$l" "T-STDOUT-ON-CONSOLE" "vsock: stdout not redirected stays on the console"
		expect_not "$l" "T-TO-LOG-PORT" "vsock: stderr does not reach the console"
		expect "$work/agent.log" "T-TO-LOG-PORT" "vsock: stderr reached the host on port 109"
		expect "$work/agent.log" "T-FDS 0 1 2 3 \$" "vsock: nothing but stdio reached the program"
		;;
	*)
		usage
		;;
	esac
done

if [ "${VM_SMOKE_KEEP_LOGS:-}" ]; then
	mkdir -p "$VM_SMOKE_KEEP_LOGS"
	cp "$work"/*.log "$VM_SMOKE_KEEP_LOGS"/
fi
echo "vm-smoke: $failures failure(s)"
[ "$failures" -eq 0 ]
