#!/usr/bin/env bash
# initrd.img and rootfs.vhd come from one content list and hold the same
# tree; both are reproducible byte for byte; rootfs.vhd is a clean ext4 with
# a valid fixed-VHD footer.  Uses the list ./build.sh wrote.
set -euo pipefail
: "${ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${OUT:=$ROOT/out}"
B=${B:-$OUT/build}
BIN=${BIN:-$OUT/bin}
list=$B/initrd.list

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
t() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

[ -r "$list" ] || { echo "1..0 # SKIP no $list (run ./build.sh)"; exit 0; }
work=$(mktemp -d /tmp/lcow-bootfiles-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "1..11"
export SOURCE_DATE_EPOCH=1700000000
t "images built from the list" "$ROOT/image/make-images.sh" --bin "$BIN" --list "$list" --outdir "$work/a"
touch "$list"
sleep 1.1
t "images built again" "$ROOT/image/make-images.sh" --bin "$BIN" --list "$list" --outdir "$work/b"
t "initrd.img is reproducible byte for byte" cmp -s "$work/a/initrd.img" "$work/b/initrd.img"
t "rootfs.vhd is reproducible byte for byte" cmp -s "$work/a/rootfs.vhd" "$work/b/rootfs.vhd"
# The kernel reads LZ4 initrds only in the legacy frame (magic 0x184C2102).
t "initrd.img is an LZ4 legacy frame that lz4 reads back" bash -c \
	"[ \"\$(od -An -tx1 -N4 '$work/a/initrd.img' | tr -d ' ')\" = 02214c18 ] &&
	 lz4 -t '$work/a/initrd.img' 2>/dev/null"

head -c -512 "$work/a/rootfs.vhd" >"$work/rootfs.ext4"
t "rootfs.vhd: e2fsck -fn is clean" bash -c "e2fsck -fn '$work/rootfs.ext4' >/dev/null 2>&1"
t "rootfs.vhd: the footer is a valid fixed VHD of the ext4 size" bash -c \
	"python3 '$ROOT/image/disk/tests/vhdcheck.py' '$work/a/rootfs.vhd' |
	 jq -e '.disk_type == 2 and .current_size == $(stat -c %s "$work/rootfs.ext4")' >/dev/null"

python3 "$ROOT/image/tests/listing.py" archive "$work/a/initrd.img" >"$work/initrd.lst"
python3 "$ROOT/image/tests/listing.py" ext4 "$work/rootfs.ext4" >"$work/rootfs.lst"
if [ -s "$work/initrd.lst" ] && diff -u "$work/initrd.lst" "$work/rootfs.lst" >"$work/diff"; then
	ok "initrd.img and rootfs.vhd list the same entries (path, type, mode, owner, size, link)"
else
	nok "initrd.img and rootfs.vhd list the same entries"
	head -20 "$work/diff" | sed 's/^/# /'
fi
# The manifest ./build.sh wrote names every boot file with its size and sha256.
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
manifest_ok() {
	local m=$BOOTFILES/manifest.json f
	[ -r "$m" ] || return 1
	jq -e '.kernel.version | test("^[0-9]+\\.[0-9]+")' "$m" >/dev/null || return 1
	for f in kernel vmlinux initrd.img rootfs.vhd; do
		jq -e --arg f "$f" --argjson s "$(stat -c %s "$BOOTFILES/$f")" \
			--arg h "$(sha256sum "$BOOTFILES/$f" | cut -d' ' -f1)" \
			'.files[] | select(.name == $f) | .size == $s and .sha256 == $h' "$m" | grep -qx true || return 1
	done
}
t "manifest.json lists every boot file with its size and sha256, and the kernel version" manifest_ok
# ... and exactly the musl-built dependencies this build used, each in its
# keyed cache directory (not every one the cache holds).
musl_deps_ok() {
	jq -e '.built_from_debian_source | length == 3 and
		(map(sub("-[0-9.]+-k[0-9a-f]{16}$"; "")) | sort == ["busybox", "e2fsprogs", "jansson"])' \
		"$BOOTFILES/manifest.json" >/dev/null
}
t "manifest.json names the three musl-built dependencies used, keyed" musl_deps_ok
# ... and the kernel patches, by name and hash, in the order applied.
kernel_patches_ok() {
	local want
	want=$(for p in "$ROOT"/kernel-patches/*.patch; do
		[ -e "$p" ] && printf '%s %s\n' "$(basename "$p")" "$(sha256sum "$p" | cut -d' ' -f1)"
	done)
	[ -n "$want" ] &&
		[ "$(jq -r '.kernel.patches[] | "\(.name) \(.sha256)"' "$BOOTFILES/manifest.json")" = "$want" ]
}
t "manifest.json names the kernel patches applied, with their sha256" kernel_patches_ok

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
