#!/usr/bin/env bash
# Benchmark (not a test): tar2ext4 -vhd against the unpack-and-format way
# (tar -x, mke2fs -d of the same size, a footer appended in place) on the
# same tar.  Prints wall and CPU seconds and MB/s of file data per run.
#   bench.sh [DIR_OR_TAR] [WORKDIR]
# DIR_OR_TAR defaults to /usr/lib/x86_64-linux-gnu; WORKDIR to $TMPDIR.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
BIN=${BIN:-${OUT:-$ROOT/out}/bin}
src=${1:-/usr/lib/x86_64-linux-gnu}
work=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/t2e-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -d "$src" ]; then
	tar -C "$(dirname "$src")" -cf "$work/in.tar" "$(basename "$src")"
else
	cp "$src" "$work/in.tar"
fi
cat "$work/in.tar" >/dev/null # both start from a cached tar
data=$(tar -tvf "$work/in.tar" | awk '$1 ~ /^-/ { s += $3 } END { print s }')
echo "input: $(stat -c %s "$work/in.tar") bytes of tar, $data bytes of file data"

append_footer() { # IMG: a fixed-VHD footer, written in place
	python3 - "$1" <<'EOF'
import os, struct, sys
p = sys.argv[1]
n = os.path.getsize(p)
f = bytearray(struct.pack(">8sIIQI4sI4sQQHBBII16sB427s", b"conectix", 2, 0x10000,
                          2**64 - 1, 0, b"ref ", 0x10000, b"Wi2k", n, n, 0, 0, 0, 2, 0,
                          bytes(16), 0, bytes(427)))
struct.pack_into(">I", f, 64, (~sum(f)) & 0xFFFFFFFF)
with open(p, "ab") as out:
    out.write(f)
EOF
}

timed() { # LABEL CMD...: one line of results
	local label=$1 wall user sys
	shift
	/usr/bin/time -o "$work/time" -f '%e %U %S' "$@" >/dev/null 2>&1
	read -r wall user sys <"$work/time"
	awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v d="$data" \
		'BEGIN { printf "%-22s wall %6.2f s  cpu %6.2f s (user %5.2f sys %5.2f)  %6.1f MB/s\n", l, w, u + s, u, s, d / 1e6 / w }'
}

reference() {
	rm -rf "$work/x" "$work/ref.vhd"
	mkdir "$work/x"
	tar -C "$work/x" -xf "$work/in.tar"
	mke2fs -q -F -t ext4 -b 4096 -O ^has_journal,^resize_inode -d "$work/x" \
		"$work/ref.vhd" "$(($1 / 1024))k"
	append_footer "$work/ref.vhd"
	sync -f "$work/ref.vhd"
}

for run in 1 2; do
	rm -f "$work/t2e.vhd"
	timed "tar2ext4 -vhd ($run)" "$BIN/tar2ext4" -vhd -i "$work/in.tar" -o "$work/t2e.vhd"
	size=$(($(stat -c %s "$work/t2e.vhd") - 512))
	export -f reference append_footer
	export work
	timed "tar -x + mke2fs -d ($run)" bash -c "reference $size"
done
e2fsck -fn "$work/t2e.vhd" >/dev/null 2>&1 && echo "tar2ext4 image: e2fsck clean, $size bytes"
