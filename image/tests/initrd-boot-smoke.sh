#!/usr/bin/env bash
# Boot a kernel under QEMU with an initrd built by gen-list.sh + mkinitrd and
# check that the kernel unpacks it: /init runs with the console on stdio, and
# the files, links, device nodes, modes and mtimes are what the list says.
# A smoke test for the image builder, not for init: /init here is a busybox
# shell script unless --init is given (then that program is /init, and the
# script runs as its payload, `/init -- /bin/sh /smoke.sh`).
# Not named *_test.sh on purpose: it needs a kernel and boots a VM.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}

usage() {
	cat >&2 <<EOF
usage: $0 [--kernel KERNEL] [--init INIT] [--busybox BUSYBOX] [--accel kvm|tcg] [--keep DIR]
  --kernel   bzImage to boot (default: \$OUT/bootfiles-kernel-preview/kernel)
  --init     program to install as /init (default: a busybox shell script)
  --busybox  static busybox (default: /bin/busybox)
  --accel    QEMU accelerator (default: tcg, a few seconds for this boot;
             nested KVM here died on an emulation failure)
  --keep     copy the initrd and console log to DIR
EOF
	exit 2
}

kernel=$OUT/bootfiles-kernel-preview/kernel
init=
busybox=/bin/busybox
keep=
accel=tcg
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) [ $# -ge 2 ] || usage; kernel=$2; shift 2 ;;
	--init) [ $# -ge 2 ] || usage; init=$2; shift 2 ;;
	--busybox) [ $# -ge 2 ] || usage; busybox=$2; shift 2 ;;
	--keep) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
	--accel) [ $# -ge 2 ] || usage; accel=$2; shift 2 ;;
	*) usage ;;
	esac
done

if [ ! -f "$kernel" ]; then
	echo "1..0 # SKIP no kernel at $kernel"
	exit 0
fi
command -v qemu-system-x86_64 >/dev/null || { echo "$0: qemu-system-x86_64 missing" >&2; exit 1; }

work=$(mktemp -d /tmp/initrd-boot-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The probe prints facts between markers; the host compares them.
cat >"$work/smoke.sh" <<'EOF'
#!/bin/sh
mount -t proc proc /proc 2>/dev/null
echo SMOKE-BEGIN
echo "pid=$$"
stat -c 'stat %A %u:%g %Y %n' /init /bin/busybox /etc/passwd /tmp /root /var/tmp
stat -c 'dev %t:%T %A %n' /dev/console /dev/null 2>/dev/null
echo "sh=$(readlink /bin/sh)"
echo "passwd=$(head -n1 /etc/passwd)"
echo SMOKE-END
EOF
if [ -z "$init" ]; then
	# As /init the script is PID 1 and must power off itself.
	{ cat "$work/smoke.sh"; echo 'poweroff -f'; } >"$work/init"
	init=$work/init
	append_payload=
else
	append_payload=" -- /bin/sh /smoke.sh"
fi

mtime=1600000000
"$ROOT/image/initrd/gen-list.sh" --file "/init=$init:0755" --file "/smoke.sh=$work/smoke.sh:0755" \
	--busybox "$busybox" >"$work/initrd.list"
SOURCE_DATE_EPOCH=$mtime "$BIN/mkinitrd" -o "$work/initrd.img" "$work/initrd.list"

# The default CPU model lacks instructions a current kernel uses.
case $accel in
kvm) cpu=host ;;
tcg) cpu=max ;;
*) usage ;;
esac
rc=0
timeout 180 qemu-system-x86_64 -machine "q35,accel=$accel" -cpu "$cpu" -m 256 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$work/initrd.img" \
	-append "console=ttyS0 8250_core.nr_uarts=1 panic=-1 quiet$append_payload" \
	>"$work/console.log" 2>&1 </dev/null || rc=$?
sed -i 's/\r$//' "$work/console.log"
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	cp "$work/initrd.img" "$work/initrd.list" "$work/console.log" "$keep/"
fi

n=0 failed=0
check() { # NAME REGEX
	n=$((n + 1))
	if grep -qE -- "$2" "$work/console.log"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
	fi
}
echo "1..10"
n=$((n + 1))
if [ "$rc" -eq 0 ]; then echo "ok $n - qemu exited by itself (status 0)"; else
	echo "not ok $n - qemu exited by itself (status $rc)"
	failed=$((failed + 1))
fi
# Firmware escape codes may precede the first line of output.
check "the kernel ran /init from the initrd" 'SMOKE-BEGIN'
n=$((n + 1))
if grep -qiE 'Initramfs unpacking failed|junk in compressed archive|broken padding' "$work/console.log"; then
	echo "not ok $n - the kernel unpacked the initramfs without complaint"
	failed=$((failed + 1))
else
	echo "ok $n - the kernel unpacked the initramfs without complaint"
fi
check "/init is a 0755 root file with the list's mtime" "^stat -rwxr-xr-x 0:0 $mtime /init$"
# (/tmp may be a tmpfs by now, with its own mtime.)
check "/tmp is 1777" "^stat drwxrwxrwt 0:0 [0-9]+ /tmp$"
check "/var/tmp is 1777 with the list's mtime" "^stat drwxrwxrwt 0:0 $mtime /var/tmp$"
check "/root is 0700" "^stat drwx------ 0:0 $mtime /root$"
check "/dev/console is char 5:1" '^dev 5:1 c[rw-]{9} /dev/console$'
check "/bin/sh links to busybox" '^sh=/bin/busybox$'
check "/etc/passwd starts with root" '^passwd=root:x:0:0:'
if [ "$failed" -ne 0 ]; then
	echo "# console log:"
	sed 's/^/#   /' "$work/console.log" | tail -n 40
fi
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
