#!/usr/bin/env bash
# Install the Debian packages the build and the tests need, and nothing
# else.  Idempotent: packages already installed are not touched, and apt is
# only asked when something is missing.  Usable on its own:
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --check    list what is missing, exit 1 if anything is
set -euo pipefail

# One package a line: what it is for.
PACKAGES=(
	gcc make                      # host tools and tests
	musl-tools                    # musl-gcc: static guest binaries
	linux-libc-dev                # kernel uapi headers for musl builds
	linux-source-6.1              # the kernel source
	flex bison bc libelf-dev libssl-dev xz-utils  # kernel build
	busybox-static                # tests: a static busybox for host-made test initrds and layers (the image's is built from source)
	libarchive-dev libarchive-tools cpio  # initrd builder and its tests
	liblz4-dev lz4                # the LZ4 (legacy frame) initrd and its tests
	libext2fs-dev e2fsprogs       # ext4 images
	libjansson-dev                # JSON in host-side builds of the agent and client
	cmake patch                   # jansson from its Debian source, built with musl-gcc; kernel-patches/
	gnu-efi mtools dosfstools     # the UEFI loader and its ESP image
	qemu-system-x86 ovmf          # the harness that stands in for Hyper-V
	diod                          # 9P server for MappedDirectory shares
	zstd bzip2 python3 jq file    # test data and helpers
	time                          # benchmarks: CPU time and peak memory
	debootstrap                   # image-bench: a minbase Debian layer (built once, cached)
	clang libclang-rt-14-dev      # libFuzzer targets (fuzz/, scripts/run-fuzz)
)
# Source packages fetched with `apt-get source` (need a deb-src entry);
# busybox's upstream tarball is bzip2 (bzip2 above).
SOURCE_PACKAGES=(jansson e2fsprogs busybox)

usage() {
	echo "usage: $0 [--check]" >&2
	exit 2
}

check_only=0
case "${1:-}" in
"") ;;
--check) check_only=1 ;;
-h | --help) usage ;;
*) usage ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

have_deb_src() {
	grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}

need_src=0
have_deb_src || need_src=1

if [ "$check_only" = 1 ]; then
	[ ${#missing[@]} -eq 0 ] && [ "$need_src" = 0 ] && { echo "deps: all present"; exit 0; }
	[ ${#missing[@]} -gt 0 ] && echo "deps: missing packages: ${missing[*]}"
	[ "$need_src" = 1 ] && echo "deps: no deb-src entry (needed for: ${SOURCE_PACKAGES[*]})"
	exit 1
fi

if [ ${#missing[@]} -eq 0 ] && [ "$need_src" = 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root (or install them) to continue" >&2
	exit 1
fi

if [ "$need_src" = 1 ]; then
	# Source packages come from the same mirror as the binaries.
	. /etc/os-release
	codename=${VERSION_CODENAME:?deps: cannot tell the Debian release from /etc/os-release}
	echo "deps: adding a deb-src entry for $codename"
	cat >/etc/apt/sources.list.d/lcow-src.sources <<EOS
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
fi

echo "deps: installing ${missing[*]:-(none)}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -q >/tmp/lcow-apt-update.log 2>&1; then
	echo "deps: apt-get update failed (see /tmp/lcow-apt-update.log):" >&2
	tail -5 /tmp/lcow-apt-update.log >&2
	exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/lcow-apt-install.log 2>&1; then
		echo "deps: apt-get install failed (see /tmp/lcow-apt-install.log):" >&2
		tail -15 /tmp/lcow-apt-install.log >&2
		exit 1
	fi
fi
echo "deps: done"
