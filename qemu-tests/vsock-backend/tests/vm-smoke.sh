#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boot a throwaway initrd (busybox + vsock-probe) under QEMU + OVMF with
# vhost-user-vsock-pci backed by lcow-vsockd, and check vsock both ways
# through the hybrid unix-socket convention: 10 MB each way per direction of
# dialling, 256 concurrent streams each way, slow readers on either side,
# refusals.  Prints TAP.
#
#   vm-smoke.sh KERNEL
#
# Without a kernel: "1..0 # SKIP no kernel".  Environment overrides:
#   VSOCKD=path/to/lcow-vsockd  VSOCK_PROBE=path/to/vsock-probe
#   BYTES (10000000)  CONNS (256)  TIMEOUT seconds (900)  KEEP=1 (keep temp dir)
set -euo pipefail

usage() {
	echo "usage: $0 KERNEL" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
kernel=${1:-}
[ $# -le 1 ] || usage
if [ -z "$kernel" ] || [ ! -f "$kernel" ]; then
	echo "1..0 # SKIP no kernel"
	exit 0
fi

vsockd=${VSOCKD:-$root/out/bin/lcow-vsockd}
probe=${VSOCK_PROBE:-$root/out/build/guest/qemu-tests/vsock-backend/tests/vsock-probe}
bytes=${BYTES:-10000000}
conns=${CONNS:-256}
timeout_s=${TIMEOUT:-900}
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
busybox=$(command -v busybox || true)

missing=""
for f in "$vsockd" "$probe" "$ovmf_code" "$ovmf_vars"; do
	[ -e "$f" ] || missing="$missing $f"
done
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86_64"
command -v python3 >/dev/null || missing="$missing python3"
command -v cpio >/dev/null || missing="$missing cpio"
is_static() {
	if command -v file >/dev/null; then
		file -L "$1" | grep -q 'statically linked'
	else
		LC_ALL=C ldd "$1" 2>&1 | grep -q 'not a dynamic executable'
	fi
}
if [ -z "$busybox" ] || ! is_static "$busybox"; then
	missing="$missing busybox-static"
fi
if [ -n "$missing" ]; then
	echo "1..0 # SKIP missing:$missing (build with: make out/bin/lcow-vsockd $probe)"
	exit 0
fi

tmp=$(mktemp -d /tmp/vsock-smoke.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# ---- the throwaway initrd ----
rootfs=$tmp/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys}
cp "$busybox" "$rootfs/bin/busybox"
for app in sh mount poweroff echo cat sleep; do
	ln -s busybox "$rootfs/bin/$app"
done
cp "$probe" "$rootfs/bin/vsock-probe"
# Without root the kernel's built-in initramfs provides /dev/console.
mknod -m 600 "$rootfs/dev/console" c 5 1 2>/dev/null || true
cat >"$rootfs/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo "smoke: guest up"
/bin/vsock-probe serve 5000 &
/bin/vsock-probe send 6000 $bytes 1; s1=\$?
/bin/vsock-probe recv 6001 1; s2=\$?
/bin/vsock-probe send 6002 65536 $conns; s3=\$?
/bin/vsock-probe send 6003 2000000 1; s5=\$?
/bin/vsock-probe recv 6004 1 5000; s6=\$?
/bin/vsock-probe refused 6999; s4=\$?
/bin/vsock-probe control 6100 "send=\$s1 recv=\$s2 multi=\$s3 refused=\$s4 slowhost=\$s5 slowguest=\$s6"
echo "smoke: guest done"
poweroff -f
EOF
chmod 755 "$rootfs/init"
(cd "$rootfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$tmp/initrd.img"

# ---- back-end and host peers ----
base=$tmp/vsock
mkfifo "$tmp/vsockd.out" "$tmp/host.out"
"$vsockd" --socket "$tmp/vhost.sock" --uds "$base" --log "$tmp/vsockd.log" >"$tmp/vsockd.out" &
vsockd_pid=$!
pids+=("$vsockd_pid")
exec 3<"$tmp/vsockd.out"
if ! read -r -t 10 line <&3 || [ "$line" != "lcow-vsockd: ready" ]; then
	echo "1..1"
	echo "not ok 1 - lcow-vsockd did not start"
	cat "$tmp/vsockd.log" >&2 || true
	exit 1
fi

python3 "$here/vsock-host.py" --base "$base" --bytes "$bytes" --conns "$conns" \
	--timeout "$timeout_s" --out "$tmp/host.tap" >"$tmp/host.out" &
host_pid=$!
pids+=("$host_pid")
exec 4<"$tmp/host.out"
if ! read -r -t 30 line <&4 || [ "$line" != "vsock-host: ready" ]; then
	echo "1..1"
	echo "not ok 1 - vsock-host.py did not start"
	exit 1
fi

# ---- the VM (lean q35, TCG) ----
cp "$ovmf_vars" "$tmp/OVMF_VARS.fd"
start=$(date +%s)
timeout "$timeout_s" qemu-system-x86_64 \
	-machine q35,memory-backend=mem,sata=off,smbus=off,vmport=off,i8042=off,hpet=off \
	-object memory-backend-memfd,id=mem,size=256M,share=on -m 256 -smp 1 \
	-nodefaults -no-user-config -display none -no-reboot \
	-drive if=pflash,format=raw,readonly=on,file="$ovmf_code" \
	-drive if=pflash,format=raw,file="$tmp/OVMF_VARS.fd" \
	-kernel "$kernel" -initrd "$tmp/initrd.img" \
	-append "console=ttyS0 panic=-1 quiet" \
	-serial file:"$tmp/console.log" \
	-chardev socket,id=vsk,path="$tmp/vhost.sock" \
	-device vhost-user-vsock-pci,chardev=vsk &
qemu_pid=$!
pids+=("$qemu_pid")
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
elapsed=$(($(date +%s) - start))

# lcow-vsockd exits 0 by itself once QEMU is gone.
vsockd_status=0
for _ in $(seq 50); do
	kill -0 "$vsockd_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$vsockd_pid" 2>/dev/null; then
	vsockd_status=timeout
else
	wait "$vsockd_pid" || vsockd_status=$?
fi
# The host peers finish when the guest has reported (or give up).
kill "$host_pid" 2>/dev/null || true
wait "$host_pid" 2>/dev/null || true

# ---- TAP ----
n=0
fail=0
emit() { # ok|not-ok description
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=$((fail + 1))
	fi
}
echo "# QEMU exit $qemu_status after ${elapsed}s (TCG, q35+OVMF, 256 MB, 1 vCPU)"
sed -n 's/^\(vsock-probe\|smoke\): /# guest: &/p' "$tmp/console.log" | sed 's/^# guest: vsock-probe: /# guest: /'
if [ -f "$tmp/host.tap" ]; then
	while IFS= read -r l; do
		case "$l" in
		"ok - "*) emit ok "${l#ok - }" ;;
		"not ok - "*) emit not-ok "${l#not ok - }" ;;
		*) echo "$l" ;;
		esac
	done <"$tmp/host.tap"
else
	emit not-ok "host peers produced no results"
fi
if [ "$qemu_status" = 0 ]; then
	emit ok "guest powered off by itself"
else
	emit not-ok "guest powered off by itself (qemu exit $qemu_status)"
fi
if [ "$vsockd_status" = 0 ]; then
	emit ok "lcow-vsockd exits 0 when QEMU disconnects"
else
	emit not-ok "lcow-vsockd exits 0 when QEMU disconnects ($vsockd_status)"
fi
if grep -q 'error:' "$tmp/vsockd.log"; then
	grep 'error:' "$tmp/vsockd.log" | head -5 | sed 's/^/# vsockd: /'
fi
echo "1..$n"
echo "$((n - fail)) passed, $fail failed"
if [ "$fail" -ne 0 ]; then
	echo "# console tail:"
	tail -20 "$tmp/console.log" | sed 's/^/#   /'
	exit 1
fi
