#!/usr/bin/env bash
# Build a C package from its Debian source package with musl, statically.
#
#   scripts/build-musl-deps.sh jansson DEST      -> DEST/include, DEST/lib/libjansson.a
#   scripts/build-musl-deps.sh e2fsprogs DEST    -> DEST/sbin/e2fsprogs (mke2fs,
#                                                   e2fsck, resize2fs in one binary)
#   scripts/build-musl-deps.sh busybox DEST CONFIG -> DEST/bin/busybox, DEST/busybox.config
#                                                   (CONFIG: the fragment, merged strictly)
#
# DEST is <cache>/<name>-<upstream version>[-k<key>] (e.g.
# out/cache/musl/jansson-2.14-k0123456789abcdef): the version is pinned by
# the caller and checked against what apt offers; the key is the caller's
# hash of the recipe and the toolchain (the Makefile's musl-key), so that a
# changed recipe or musl builds into a new DEST.
# Source archives are kept in <cache> and reused, so a rebuild needs no
# network.  The result appears in DEST atomically: it is built and installed
# in a temporary directory and renamed into place.
set -euo pipefail

usage() {
	echo "usage: $0 jansson|e2fsprogs DEST | busybox DEST CONFIG   (DEST = CACHEDIR/NAME-VERSION)" >&2
	exit 2
}
die() {
	echo "build-musl-deps: $*" >&2
	exit 1
}

[ $# -ge 2 ] || usage
name=$1
dest=$2
[ $# -eq 2 ] || { [ "$name" = busybox ] && [ $# -eq 3 ]; } || usage
# What a finished DEST holds, relative to it: its presence means "built".
case "$name" in
jansson) outputs=(lib/libjansson.a) ;;
e2fsprogs) outputs=(sbin/e2fsprogs) ;;
busybox)
	outputs=(bin/busybox busybox.config)
	[ $# -eq 3 ] || usage
	[ -f "$3" ] && [ -r "$3" ] || die "busybox: cannot read the config fragment '$3'"
	config=$(realpath -- "$3")
	;;
*) die "unknown library '$name' (known: jansson, e2fsprogs, busybox)" ;;
esac
base=$(basename -- "$dest")
version=${base#"$name"-}
if [[ $version =~ ^(.+)-k[0-9a-f]+$ ]]; then
	version=${BASH_REMATCH[1]}
fi
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
# One build per DEST at a time (parallel makes, other trees sharing the
# cache); whoever waited finds it built.
exec {lock_fd}>"$cache/.$base.lock"
flock "$lock_fd"
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

# The upstream tarball, however upstream compresses it (busybox: bzip2).
orig_of() { ls -- "$cache/${name}_$version".orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1 || true; }
orig=$(orig_of)
if [ -z "$orig" ]; then
	echo "  APT-SRC $name (upstream $version)"
	mkdir "$tmp/dl"
	(cd "$tmp/dl" && apt-get source --download-only "$name" >"$tmp/apt.log" 2>&1) || {
		cat "$tmp/apt.log" >&2
		die "apt-get source $name failed (is deb-src configured? run apt-get update)"
	}
	got=$(cd "$tmp/dl" && ls -- "${name}"_*.orig.tar.* 2>/dev/null | head -n1)
	[ -n "$got" ] || die "apt-get source $name produced no .orig tarball"
	[[ $got == "${name}_$version.orig.tar."* ]] ||
		die "apt offers $got, the build pins $name $version: update the version in the build"
	# Keep the Debian packaging beside the tarball: its patches are applied
	# below and its .dsc records the hashes apt verified.
	for f in "$tmp/dl/${name}_$version"*; do
		mv -f -- "$f" "$cache/"
	done
	orig=$(orig_of)
fi

echo "  BUILD   $name $version (musl, static)"
src=$tmp/src
mkdir "$src"
tar -xf "$orig" -C "$src" --strip-components=1

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
	# Each program is built by its own Makefile (V=1: the link commands are
	# read back below), so its objects and libraries are exactly upstream's.
	local j=${BUILD_JOBS:-2}
	{
		make -C "$tmp/build" -j"$j" libs &&
			make -C "$tmp/build/misc" -j"$j" V=1 mke2fs &&
			make -C "$tmp/build/e2fsck" -j"$j" V=1 e2fsck &&
			make -C "$tmp/build/resize" -j"$j" V=1 resize2fs
	} >"$tmp/build.log" 2>&1 || {
		tail -n 40 "$tmp/build.log" >&2
		die "build of $name failed"
	}
	local out=$tmp/root$dest/sbin
	mkdir -p "$out"
	e2fsprogs_multicall "$tmp/build.log" "$out/e2fsprogs" "$cflags" \
		misc/mke2fs e2fsck/e2fsck resize/resize2fs
	strip "$out/e2fsprogs"
	# A dynamic binary would not run in the guest (no loader there).
	if readelf -lW "$out/e2fsprogs" | grep -q 'INTERP'; then
		die "e2fsprogs is not static"
	fi
	# Each name must reach its own program (a static musl binary runs here):
	# each starts its -V output (resize2fs: any output) with "NAME VERSION".
	local p said
	for p in mke2fs e2fsck resize2fs; do
		said=$("$out/e2fsprogs" "$p" -V 2>&1 || true)
		[[ $said == "$p $version "* ]] ||
			die "multi-call e2fsprogs: '$p -V' does not report $p $version: ${said%%$'\n'*}"
	done
}

# uniq_into ARRAY WORD...: the words into ARRAY, each once, in first-use order.
uniq_into() {
	local -n into=$1
	shift
	local w seen=" "
	into=()
	for w in "$@"; do
		[[ $seen == *" $w "* ]] && continue
		seen+="$w "
		into+=("$w")
	done
}

# e2fsprogs_multicall LOG OUTPUT CFLAGS DIR/PROG...: one static binary for the
# programs instead of one each, so that libext2fs, libe2p, libcom_err,
# libblkid and libuuid are in the initrd once.  Per program, its own objects
# (read from its link command in LOG, the make -C DIR V=1 output) become one
# relocatable object whose main is renamed PROG_main and whose other globals
# are made local: the programs define clashing ones (program_name, util.c's
# helpers), and none may satisfy another program's or a library's reference.
# The dispatcher (image/guest-tools/e2fsprogs/) picks PROG_main by argv[0],
# and the union of the programs' libraries is linked once.
e2fsprogs_multicall() {
	local log=$1 output=$2 cflags
	read -r -a cflags <<<"$3"
	shift 3
	local mc=$tmp/multicall
	local srcdir
	srcdir=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../image/guest-tools/e2fsprogs" && pwd)
	mkdir "$mc"
	# Continuation lines joined: one link command per line.
	sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$log" >"$mc/commands"
	local spec dir prog line w words objs libs=() syslibs=() mains=()
	for spec in "$@"; do
		dir=${spec%/*}
		prog=${spec##*/}
		line=$(grep -E -- " -o $prog( |\$)" "$mc/commands" | tail -n1) ||
			die "no link command for $prog in the build log"
		objs=()
		read -r -a words <<<"$line"
		for w in "${words[@]}"; do
			case "$w" in
			*.o) objs+=("$tmp/build/$dir/$w") ;;
			*.a) libs+=("$(realpath -- "$tmp/build/$dir/$w")") ;;
			-l*) syslibs+=("$w") ;;
			esac
		done
		[ ${#objs[@]} -gt 0 ] || die "the link command of $prog names no objects"
		ld -r -o "$mc/$prog.o" "${objs[@]}"
		objcopy --redefine-sym "main=${prog}_main" "$mc/$prog.o"
		objcopy --keep-global-symbol="${prog}_main" "$mc/$prog.o"
		nm -g --defined-only "$mc/$prog.o" | awk '{print $3}' >"$mc/$prog.globals"
		[ "$(cat "$mc/$prog.globals")" = "${prog}_main" ] ||
			die "$prog.o: expected ${prog}_main as its only global, got: $(tr '\n' ' ' <"$mc/$prog.globals")"
		mains+=("$mc/$prog.o")
	done
	# Each library once, in first-use order; a group, since the programs
	# list them in different orders.
	local uniq_libs uniq_sys
	uniq_into uniq_libs "${libs[@]}"
	uniq_into uniq_sys "${syslibs[@]}"
	local c
	for c in dispatch main; do
		"$cc" -std=gnu11 -Wall -Wextra -Werror "${cflags[@]}" -c "$srcdir/$c.c" -o "$mc/$c.o" ||
			die "compile of the e2fsprogs dispatcher ($c.c) failed"
	done
	"$cc" -static -Wl,--gc-sections -o "$output" "$mc/main.o" "$mc/dispatch.o" "${mains[@]}" \
		-Wl,--start-group "${uniq_libs[@]}" -Wl,--end-group "${uniq_sys[@]}" ||
		die "link of the multi-call e2fsprogs failed"
}

# busybox: the guest's shell and tools, from Debian's source with Debian's
# patches (the CVE fixes among them), configured from `make allnoconfig`
# plus exactly the fragment CONFIG (image/initrd/busybox.config).  The merge
# is strict, like the kernel's: an option the fragment names that does not
# land (a typo, an unmet dependency) fails the build.  String and number
# options the fragment does not name take their Kconfig defaults, not
# allnoconfig's zeros.
build_busybox() {
	local kh=$tmp/kheaders log=$tmp/build.log j=${BUILD_JOBS:-2}
	"$(dirname -- "${BASH_SOURCE[0]}")/musl-kheaders.sh" "$kh"
	local debver=none
	if [ -n "$deb" ]; then
		debver=${deb##*/}
		debver=${debver#"${name}_"}
		debver=${debver%.debian.tar.*}
	fi
	# No build date in the binary (KCONFIG_NOTIMESTAMP; the banner names the
	# Debian source instead), no build path (__FILE__ in asserts).
	local bbmake=(make -C "$src" -j"$j" HOSTCC=gcc CC="$cc" KCONFIG_NOTIMESTAMP=1
		BB_EXTRA_VERSION="Debian $debver, musl")
	"${bbmake[@]}" allnoconfig >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "make allnoconfig of $name failed"
	}
	# The requests, SYMBOL<TAB>VALUE ("n" for "is not set").
	local req=$tmp/requests
	awk -v f="$config" '
		/^[[:space:]]*$/ { next }
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { s = $2; sub(/^CONFIG_/, "", s); v = "n" }
		/^#/ && v == "" { next }
		/^CONFIG_[A-Za-z0-9_]+=./ { s = $0; sub(/^CONFIG_/, "", s); sub(/=.*/, "", s); v = $0; sub(/^[^=]*=/, "", v) }
		v == "" { printf "%s:%d: not an option line: %s\n", f, FNR, $0 > "/dev/stderr"; bad = 1; next }
		s in seen { printf "%s:%d: CONFIG_%s given twice\n", f, FNR, s > "/dev/stderr"; bad = 1 }
		{ seen[s] = 1; print s "\t" v; v = "" }
		END { exit bad }' "$config" >"$req" || die "bad config fragment $config"
	[ -s "$req" ] || die "config fragment $config requests nothing"
	awk -F'\t' 'NR == FNR { req[$1] = 1; next }
		{
			s = ""
			if ($0 ~ /^CONFIG_[A-Za-z0-9_]+=/) {
				s = $0; sub(/^CONFIG_/, "", s); sub(/=.*/, "", s)
				# A value (string, number) not requested: back to its default.
				if ($0 !~ /=y$/ && !(s in req)) next
			} else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) {
				s = $0; sub(/^# CONFIG_/, "", s); sub(/ .*/, "", s)
			}
			if (!(s in req)) print
		}' "$req" "$src/.config" >"$tmp/merged"
	awk -F'\t' '{ if ($2 == "n") printf "# CONFIG_%s is not set\n", $1; else printf "CONFIG_%s=%s\n", $1, $2 }' \
		"$req" >>"$tmp/merged"
	cp "$tmp/merged" "$src/.config"
	{ yes "" || true; } | "${bbmake[@]}" oldconfig >>"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "make oldconfig of $name failed"
	}
	local offenders
	offenders=$(awk -F'\t' 'NR == FNR { want[$1] = $2; next }
		/^CONFIG_[A-Za-z0-9_]+=/ { s = $0; sub(/^CONFIG_/, "", s); sub(/=.*/, "", s); v = $0; sub(/^[^=]*=/, "", v); got[s] = v }
		END {
			for (s in want) {
				g = (s in got) ? got[s] : "n"
				if (g != want[s]) printf "  CONFIG_%s: asked %s, got %s\n", s, want[s], g
			}
		}' "$req" "$src/.config" | sort)
	[ -z "$offenders" ] || {
		echo "$offenders" >&2
		die "busybox config: options of $config did not land (unknown, or a dependency is off)"
	}
	"${bbmake[@]}" EXTRA_CFLAGS="-isystem $kh -ffile-prefix-map=$src/=" busybox >>"$log" 2>&1 || {
		grep -E 'error|Error' "$log" | head -n 20 >&2
		tail -n 20 "$log" >&2
		die "build of $name failed"
	}
	# A dynamic binary would not run in the guest (no loader there).
	if readelf -lW "$src/busybox" | grep -q 'INTERP'; then
		die "busybox is not static"
	fi
	"$src/busybox" --list >"$tmp/applets" && [ -s "$tmp/applets" ] ||
		die "the built busybox does not run or lists no applets"
	local out=$tmp/root$dest
	mkdir -p "$out/bin"
	cp "$src/busybox" "$out/bin/busybox"
	# The configuration that was built, headed by where it came from (read
	# back by scripts/manifest.sh).
	{
		echo "# lcow-uvm busybox: upstream $version, Debian source $debver"
		echo "# orig sha256: $(sha256sum <"$orig" | cut -d' ' -f1)"
		echo "# debian sha256: $( [ -n "$deb" ] && sha256sum <"$deb" | cut -d' ' -f1 || echo none)"
		echo "# fragment sha256: $(sha256sum <"$config" | cut -d' ' -f1)"
		echo "# toolchain: $("$cc" --version | head -n1), musl $(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || echo unknown)"
		echo "# applets: $(wc -l <"$tmp/applets")"
		cat "$src/.config"
	} >"$out/busybox.config"
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
# Builds of this library for other keys (older recipes or toolchains): the
# three made last stay, the rest go.
"$(dirname -- "${BASH_SOURCE[0]}")/prune-cache" 3 "$cache/$name-$version"-k[0-9a-f]*
