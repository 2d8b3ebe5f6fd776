#!/usr/bin/env bash
# Give musl-gcc the kernel's uapi headers (linux/, asm/, asm-generic/):
# musl ships none, and pointing it at /usr/include would drag glibc headers
# in.  Copies Debian's sanitized linux-libc-dev headers into DEST.
set -euo pipefail
usage() { echo "usage: $0 DEST" >&2; exit 2; }
[ $# -eq 1 ] || usage
dest=$1
arch_inc=/usr/include/$(gcc -print-multiarch)
for d in /usr/include/linux /usr/include/asm-generic "$arch_inc/asm"; do
	[ -d "$d" ] || { echo "musl-kheaders: missing $d (install linux-libc-dev)" >&2; exit 1; }
done
tmp=$(mktemp -d "${dest}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -a /usr/include/linux /usr/include/asm-generic "$tmp/"
cp -a "$arch_inc/asm" "$tmp/asm"
[ -d /usr/include/mtd ] && cp -a /usr/include/mtd "$tmp/"
touch "$tmp/.stamp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
