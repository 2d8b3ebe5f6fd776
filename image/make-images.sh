#!/usr/bin/env bash
# The root filesystem images, both from ONE content list, so they hold the
# same tree: initrd.img (newc cpio in an LZ4 legacy frame, which the kernel
# unpacks several times faster than gzip) and rootfs.vhd (ext4 + fixed-VHD
# footer, what the host attaches as pmem device 0).  Reproducible: the same
# list and SOURCE_DATE_EPOCH give the same bytes.
set -euo pipefail

usage() {
	echo "usage: $0 --bin DIR --list LIST --outdir DIR" >&2
	echo "  DIR of --bin holds mkinitrd and tar2ext4; writes initrd.img and rootfs.vhd" >&2
	exit 2
}

bin= list= outdir=
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=${2:?}; shift 2 ;;
	--list) list=${2:?}; shift 2 ;;
	--outdir) outdir=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$bin" ] && [ -n "$list" ] && [ -n "$outdir" ] || usage
for t in mkinitrd tar2ext4; do
	[ -x "$bin/$t" ] || { echo "make-images: no $bin/$t (make host)" >&2; exit 1; }
done
[ -r "$list" ] || { echo "make-images: cannot read $list" >&2; exit 1; }
mkdir -p "$outdir"

tmp=$(mktemp -d "$outdir/.images.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$bin/mkinitrd" --compress lz4 -o "$tmp/initrd.img" "$list"
"$bin/mkinitrd" --format tar -o "$tmp/rootfs.tar" "$list"

# QEMU's nvdimm (and the kernel's pmem namespaces) want the mapped size in
# whole 2 MiB units: size the ext4 part up to the next multiple, so the
# image is usable as a pmem root as it is.
"$bin/tar2ext4" -i "$tmp/rootfs.tar" -o "$tmp/rootfs.ext4"
align=$((2 * 1024 * 1024))
size=$(stat -c %s "$tmp/rootfs.ext4")
if [ $((size % align)) -ne 0 ]; then
	# tar2ext4's explicit-size check is a little more conservative than its
	# automatic sizing: step up until it accepts.
	size=$(((size + align - 1) / align * align))
	for _ in 1 2 3 4; do
		if "$bin/tar2ext4" -i "$tmp/rootfs.tar" -o "$tmp/rootfs.ext4" -size "$size" 2>"$tmp/err"; then
			break
		fi
		grep -q 'too small' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
		size=$((size + align))
	done
	[ $(($(stat -c %s "$tmp/rootfs.ext4") % align)) -eq 0 ] || {
		cat "$tmp/err" >&2
		echo "make-images: could not size rootfs.vhd to a multiple of 2 MiB" >&2
		exit 1
	}
fi
"$bin/tar2ext4" -only-vhd -i "$tmp/rootfs.ext4" -o "$tmp/rootfs.vhd"

mv -f "$tmp/initrd.img" "$outdir/initrd.img"
mv -f "$tmp/rootfs.vhd" "$outdir/rootfs.vhd"
