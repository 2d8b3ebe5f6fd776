#!/usr/bin/env bash
# Build a C library from its Debian source package as a static musl library.
#
#   scripts/build-musl-deps.sh jansson DEST
#
# DEST is <cache>/<name>-<upstream version> (e.g. out/cache/musl/jansson-2.14):
# the version is pinned by the caller and checked against what apt offers.
# Source archives are kept in <cache> and reused, so a rebuild needs no
# network.  The result (include/, lib/lib<name>.a) appears in DEST atomically:
# it is built and installed in a temporary directory and renamed into place.
set -euo pipefail

usage() {
	echo "usage: $0 jansson DEST   (DEST = CACHEDIR/jansson-VERSION)" >&2
	exit 2
}
die() {
	echo "build-musl-deps: $*" >&2
	exit 1
}

[ $# -eq 2 ] || usage
name=$1
dest=$2
case "$name" in
jansson) ;;
*) die "unknown library '$name' (known: jansson)" ;;
esac
base=$(basename -- "$dest")
version=${base#"$name"-}
[ -n "$version" ] && [ "$version" != "$base" ] || die "DEST must end in $name-VERSION, got '$dest'"
cache=$(cd "$(dirname -- "$dest")" 2>/dev/null && pwd) || {
	mkdir -p "$(dirname -- "$dest")"
	cache=$(cd "$(dirname -- "$dest")" && pwd)
}
dest=$cache/$base

if [ -f "$dest/lib/lib$name.a" ]; then
	exit 0
fi

cc=${MUSL_CC:-musl-gcc}
command -v "$cc" >/dev/null || die "$cc not found (apt-get install musl-tools)"
command -v cmake >/dev/null || die "cmake not found (apt-get install cmake)"

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
[ -f "$tmp/root$dest/lib/lib$name.a" ] || die "install of $name produced no lib$name.a"

# Rename into place; a concurrent build that won the race is as good.
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$tmp/root$dest" "$dest"
rm -rf "$dest.old"
