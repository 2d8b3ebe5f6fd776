#!/usr/bin/env bash
# Build a C package from its Debian source package with musl, statically.
#
#   scripts/build-musl-deps.sh jansson DEST      -> DEST/include, DEST/lib/libjansson.a
#   scripts/build-musl-deps.sh e2fsprogs DEST    -> DEST/sbin/{mke2fs,e2fsck,resize2fs}
#
# DEST is <cache>/<name>-<upstream version> (e.g. out/cache/musl/jansson-2.14):
# the version is pinned by the caller and checked against what apt offers.
# Source archives are kept in <cache> and reused, so a rebuild needs no
# network.  The result appears in DEST atomically: it is built and installed
# in a temporary directory and renamed into place.
set -euo pipefail

usage() {
	echo "usage: $0 jansson|e2fsprogs DEST   (DEST = CACHEDIR/NAME-VERSION)" >&2
	exit 2
}
die() {
	echo "build-musl-deps: $*" >&2
	exit 1
}

[ $# -eq 2 ] || usage
name=$1
dest=$2
# What a finished DEST holds, relative to it: its presence means "built".
case "$name" in
jansson) outputs=(lib/libjansson.a) ;;
e2fsprogs) outputs=(sbin/mke2fs sbin/e2fsck sbin/resize2fs) ;;
*) die "unknown library '$name' (known: jansson, e2fsprogs)" ;;
esac
base=$(basename -- "$dest")
version=${base#"$name"-}
[ -n "$version" ] && [ "$version" != "$base" ] || die "DEST must end in $name-VERSION, got '$dest'"
cache=$(cd "$(dirname -- "$dest")" 2>/dev/null && pwd) || {
	mkdir -p "$(dirname -- "$dest")"
	cache=$(cd "$(dirname -- "$dest")" && pwd)
}
dest=$cache/$base

built() { # DIR
	local o
	for o in "${outputs[@]}"; do
		[ -f "$1/$o" ] || return 1
	done
}
if built "$dest"; then
	exit 0
fi

cc=${MUSL_CC:-musl-gcc}
command -v "$cc" >/dev/null || die "$cc not found (apt-get install musl-tools)"
if [ "$name" = jansson ]; then
	command -v cmake >/dev/null || die "cmake not found (apt-get install cmake)"
fi

# The outer make's flags (jobserver fds it did not pass on) must not leak
# into the library's own build.
unset MAKEFLAGS MFLAGS MAKELEVEL

tmp=$(mktemp -d "$cache/.$base.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

orig=$cache/${name}_$version.orig.tar.gz
if [ ! -f "$orig" ]; then
	echo "  APT-SRC $name (upstream $version)"
	mkdir "$tmp/dl"
	(cd "$tmp/dl" && apt-get source --download-only "$name" >"$tmp/apt.log" 2>&1) || {
		cat "$tmp/apt.log" >&2
		die "apt-get source $name failed (is deb-src configured? run apt-get update)"
	}
	got=$(cd "$tmp/dl" && ls -- "${name}"_*.orig.tar.* 2>/dev/null | head -n1)
	[ -n "$got" ] || die "apt-get source $name produced no .orig tarball"
	[ "$got" = "${name}_$version.orig.tar.gz" ] ||
		die "apt offers $got, the build pins $name $version: update the version in the build"
	# Keep the Debian packaging beside the tarball: its patches are applied
	# below and its .dsc records the hashes apt verified.
	for f in "$tmp/dl/${name}_$version"*; do
		mv -f -- "$f" "$cache/"
	done
fi

echo "  BUILD   $name $version (musl, static)"
src=$tmp/src
mkdir "$src"
tar -xzf "$orig" -C "$src" --strip-components=1

# Debian's quilt series, when present: applied in order; a patch that does
# not apply is an error, not something to skip silently.
deb=$(ls -- "$cache/${name}_$version"-*.debian.tar.* 2>/dev/null | sort | tail -n1 || true)
if [ -n "$deb" ]; then
	mkdir "$tmp/deb"
	tar -xf "$deb" -C "$tmp/deb"
	series=$tmp/deb/debian/patches/series
	if [ -f "$series" ]; then
		while read -r p _; do
			case "$p" in '' | \#*) continue ;; esac
			patch -d "$src" -p1 -s --no-backup-if-mismatch <"$tmp/deb/debian/patches/$p" ||
				die "Debian patch $p does not apply"
		done <"$series"
	fi
fi

build_jansson() {
	# The release tarball ships CMake and autoconf inputs but no generated
	# configure script; CMake is on every build machine, autotools are not.
	cflags="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables"
	cmake -S "$src" -B "$tmp/build" \
		-DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_C_FLAGS="$cflags" \
		-DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX="$dest" \
		-DJANSSON_BUILD_SHARED_LIBS=OFF \
		-DJANSSON_BUILD_DOCS=OFF \
		-DJANSSON_EXAMPLES=OFF \
		-DJANSSON_WITHOUT_TESTS=ON \
		>"$tmp/cmake.log" 2>&1 || {
		cat "$tmp/cmake.log" >&2
		die "cmake configure of $name failed"
	}
	cmake --build "$tmp/build" >"$tmp/build.log" 2>&1 || {
		cat "$tmp/build.log" >&2
		die "build of $name failed"
	}
	DESTDIR=$tmp/root cmake --install "$tmp/build" >"$tmp/install.log" 2>&1 || {
		cat "$tmp/install.log" >&2
		die "install of $name failed"
	}
}

# e2fsprogs: mke2fs, e2fsck and resize2fs for the guest (formatting scratch
# disks, checking and growing them).  Only what those three need: no NLS,
# no fuse2fs/debugfs/e2image/e4defrag/uuidd/e2scrub, no tdb (undo files);
# the private libuuid/libblkid instead of util-linux's, so nothing outside
# this tarball is linked.
build_e2fsprogs() {
	# musl has no kernel headers; without them configure silently drops
	# BLKZEROOUT/BLKDISCARD/fallocate support from the I/O manager.
	local kh=$tmp/kheaders
	"$(dirname -- "${BASH_SOURCE[0]}")/musl-kheaders.sh" "$kh"
	# Assertion messages carry __FILE__: map the random temporary path away
	# so the binaries do not depend on where (or when) they were built.
	local cflags="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables"
	cflags+=" -ffile-prefix-map=$tmp/=/"
	mkdir "$tmp/build"
	(
		cd "$tmp/build"
		CC="$cc" CPPFLAGS="-isystem $kh" CFLAGS="$cflags" \
			LDFLAGS="-static -Wl,--gc-sections" \
			"$src/configure" \
			--disable-nls --disable-rpath --disable-fuse2fs --disable-debugfs \
			--disable-imager --disable-defrag --disable-uuidd --disable-tdb \
			--disable-e2initrd-helper --disable-fsck --disable-backtrace \
			--enable-libuuid --enable-libblkid --without-libiconv-prefix \
			--with-udev-rules-dir=no --with-crond-dir=no --with-systemd-unit-dir=no
	) >"$tmp/configure.log" 2>&1 || {
		tail -n 40 "$tmp/configure.log" >&2
		die "configure of $name failed"
	}
	# The private libblkid/libuuid must be the ones in use: a system copy
	# would make the link depend on the build machine.
	grep -q '^Enabling private blkid library' "$tmp/configure.log" &&
		grep -q '^Enabling private uuid library' "$tmp/configure.log" ||
		die "configure of $name did not select the private libblkid/libuuid"
	local j=${BUILD_JOBS:-2}
	{
		make -C "$tmp/build" -j"$j" libs &&
			make -C "$tmp/build/misc" -j"$j" mke2fs &&
			make -C "$tmp/build/e2fsck" -j"$j" e2fsck &&
			make -C "$tmp/build/resize" -j"$j" resize2fs
	} >"$tmp/build.log" 2>&1 || {
		tail -n 40 "$tmp/build.log" >&2
		die "build of $name failed"
	}
	local out=$tmp/root$dest/sbin p
	mkdir -p "$out"
	for p in misc/mke2fs e2fsck/e2fsck resize/resize2fs; do
		strip -o "$out/${p#*/}" "$tmp/build/$p"
		# A dynamic binary would not run in the guest (no loader there).
		if readelf -lW "$out/${p#*/}" | grep -q 'INTERP'; then
			die "$p is not static"
		fi
	done
}

"build_$name"
for o in "${outputs[@]}"; do
	[ -f "$tmp/root$dest/$o" ] || die "install of $name produced no $o"
done

# Rename into place; a concurrent build that won the race is as good.
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$tmp/root$dest" "$dest"
rm -rf "$dest.old"
