#!/usr/bin/env bash
# Build a peer kernel for the boot benchmark from the same source as ours
# (Debian's linux-source-6.1).  Flavours:
#   defconfig    `make defconfig`, the upstream x86_64 default configuration;
#   firecracker  an upstream microVM guest configuration the operator supplies
#                as FIRECRACKER_CONFIG=FILE (Firecracker publishes one per
#                kernel series: resources/guest_configs/
#                microvm-kernel-ci-x86_64-6.1.config in its repository), taken
#                as is and completed by `make olddefconfig` for this source.
#                The file is never copied into the project; only its hash is
#                in the key and its origin in the cached result.
# Built once into $CACHE/bench/peer-<flavour>-<key>/ where key = sha256 over
# the source identity, the compiler, the linker and the recipe (firecracker:
# plus -<first 12 hex of the config's sha256>); published atomically.
# make runs under `nice -n 19`: it takes 20-40 minutes on two loaded cores.
#   qemu-tests/bench/peer-kernel.sh [--check] [FLAVOUR]
# Prints the path of the published bzImage on stdout.  --check only looks in
# the cache: exit 0 and print the path when the peer is cached, 3 when not.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
CACHE=${CACHE:-$OUT/cache}
KERNEL_SRC=${KERNEL_SRC:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${JOBS:-$(nproc)}
ARCH=x86_64
# Bump when the way a flavour is built changes (not for edits to the rest
# of this script: a rebuild costs half an hour).
RECIPE=1

usage() {
	cat >&2 <<EOF
usage: $0 [--check] [FLAVOUR]

FLAVOUR: defconfig (default) -- \`make defconfig\` of the kernel source;
         firecracker -- the guest config in \$FIRECRACKER_CONFIG, as is.
  --check   do not build: print the cached bzImage path (exit 0) or exit 3
            (firecracker without FIRECRACKER_CONFIG: the newest cached one)
Environment: KERNEL_SRC (tarball; default $KERNEL_SRC), CACHE, JOBS,
  FIRECRACKER_CONFIG (firecracker only).
EOF
	exit 2
}
say() { printf '[peer-kernel] %s\n' "$*" >&2; }
die() { printf '[peer-kernel] error: %s\n' "$*" >&2; exit 1; }

check=0
flavour=defconfig
while [ $# -gt 0 ]; do
	case $1 in
	--check) check=1; shift ;;
	-h | --help) usage ;;
	-*) echo "$0: unknown option $1" >&2; usage ;;
	*) flavour=$1; shift ;;
	esac
done
fc_config=${FIRECRACKER_CONFIG:-}
case $flavour in
defconfig) ;;
firecracker)
	if [ -n "$fc_config" ]; then
		[ -r "$fc_config" ] || die "FIRECRACKER_CONFIG=$fc_config: cannot read it"
		grep -q '^CONFIG_X86_64=y' "$fc_config" ||
			die "FIRECRACKER_CONFIG=$fc_config is not an x86_64 kernel config"
	elif [ "$check" -eq 0 ]; then
		die "the firecracker flavour needs FIRECRACKER_CONFIG=FILE (Firecracker's resources/guest_configs/microvm-kernel-ci-x86_64-6.1.config)"
	fi
	;;
*) die "unknown flavour '$flavour' (known: defconfig, firecracker)" ;;
esac
[ -f "$KERNEL_SRC" ] || die "kernel source $KERNEL_SRC not found (apt-get install linux-source-6.1)"
mkdir -p "$CACHE/bench"
CACHE=$(cd "$CACHE" && pwd)

# Same source identity as scripts/build-kernel.sh, so the extracted tree
# under $CACHE/kernel-src is shared with the product kernel build.
src_id=$(sha256sum "$KERNEL_SRC" | cut -c1-64)
key=$( {
	printf 'flavour %s recipe %s\n' "$flavour" "$RECIPE"
	printf 'source %s\narch %s\n' "$src_id" "$ARCH"
	gcc --version | head -n1
	ld --version 2>/dev/null | head -n1 || true
} | sha256sum | cut -c1-16)
result=$CACHE/bench/peer-$flavour-$key
if [ "$flavour" = firecracker ]; then
	if [ -z "$fc_config" ]; then
		# --check without the file: the newest build from any config.
		newest=$(ls -td "$result"-*/version 2>/dev/null | head -n1 || true)
		[ -n "$newest" ] || exit 3
		echo "$(dirname "$newest")/kernel"
		exit 0
	fi
	result=$result-$(sha256sum "$fc_config" | cut -c1-12)
fi

if [ -f "$result/version" ]; then
	echo "$result/kernel"
	exit 0
fi
[ "$check" -eq 0 ] || exit 3

for t in make gcc flex bison bc perl xz flock; do
	command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' (scripts/deps.sh installs it)"
done
echo '#include <gelf.h>' | gcc -E -x c - >/dev/null 2>&1 || die "missing libelf headers (libelf-dev)"
echo '#include <openssl/ssl.h>' | gcc -E -x c - >/dev/null 2>&1 || die "missing OpenSSL headers (libssl-dev)"

# One builder per key; a second caller waits and then finds the result.
exec {lock}>"$result.lock"
if ! flock -n "$lock"; then
	say "another build of $flavour (key $key) is running; waiting"
	flock "$lock"
fi
if [ -f "$result/version" ]; then
	echo "$result/kernel"
	exit 0
fi

# --- the source tree (extracted once, shared with build-kernel.sh) ---------
srcdir=$CACHE/kernel-src/${src_id:0:16}
mkdir -p "$CACHE/kernel-src"
exec {src_lock}>"$srcdir.lock"
flock "$src_lock"
if [ ! -d "$srcdir" ]; then
	say "extracting $KERNEL_SRC"
	xtmp=$(mktemp -d "$CACHE/kernel-src/.extract.XXXXXX")
	tar -xf "$KERNEL_SRC" -C "$xtmp" || { rm -rf "$xtmp"; die "extracting $KERNEL_SRC failed"; }
	mv "$xtmp" "$srcdir"
fi
flock -u "$src_lock"
tops=("$srcdir"/*)
tree=${tops[0]}
[ -f "$tree/Makefile" ] || die "$srcdir holds no kernel tree"

# --- build in a private object dir, publish atomically ---------------------
obj=$CACHE/bench/.obj-$flavour-$key
stage_dir=
make_pid=
cleanup() {
	local rc=$?
	if [ -n "$make_pid" ] && kill -0 "$make_pid" 2>/dev/null; then
		kill -TERM -- "-$make_pid" 2>/dev/null || true
		wait "$make_pid" 2>/dev/null || true
	fi
	[ -n "$stage_dir" ] && rm -rf "$stage_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$obj"
log=$obj.log
: >"$log"
export KBUILD_BUILD_USER=lcow KBUILD_BUILD_HOST=lcow KBUILD_BUILD_VERSION=1
KBUILD_BUILD_TIMESTAMP=$(LC_ALL=C date -u -d "@$(stat -c %Y "$tree/Makefile")")
export KBUILD_BUILD_TIMESTAMP

t0=$SECONDS
say "configuring $flavour (log: $log)"
case $flavour in
defconfig)
	LC_ALL=C nice -n 19 make -C "$tree" O="$obj" ARCH="$ARCH" defconfig >>"$log" 2>&1 ||
		die "make defconfig failed (log: $log)"
	;;
firecracker)
	# Taken as published; olddefconfig only answers the symbols this
	# source has and the file's kernel lacked (both are 6.1).
	cp "$fc_config" "$obj/.config"
	LC_ALL=C nice -n 19 make -C "$tree" O="$obj" ARCH="$ARCH" olddefconfig >>"$log" 2>&1 ||
		die "make olddefconfig failed (log: $log)"
	;;
esac
say "building bzImage with $JOBS jobs under nice -n 19 (20-40 min on a loaded machine)"
LC_ALL=C setsid nice -n 19 make -C "$tree" O="$obj" ARCH="$ARCH" -j"$JOBS" bzImage \
	>>"$log" 2>&1 </dev/null &
make_pid=$!
rc=0
wait "$make_pid" || rc=$?
make_pid=
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$log" | sed 's/^/  /' >&2
	die "make bzImage failed (exit $rc; log: $log)"
fi

stage_dir=$(mktemp -d "$CACHE/bench/.tmp.peer-$flavour.XXXXXX")
cp "$obj/arch/x86/boot/bzImage" "$stage_dir/kernel"
stat -c %s "$obj/vmlinux" >"$stage_dir/vmlinux.size"
strip --strip-all -o "$stage_dir/vmlinux" "$obj/vmlinux"
cp "$obj/.config" "$stage_dir/config"
if [ "$flavour" = firecracker ]; then
	printf 'FIRECRACKER_CONFIG=%s\nsha256 %s\n' "$(realpath "$fc_config")" \
		"$(sha256sum "$fc_config" | cut -c1-64)" >"$stage_dir/origin"
fi
(cd "$tree" && LC_ALL=C make -s O="$obj" ARCH="$ARCH" kernelrelease) >"$stage_dir/version"
chmod 0755 "$stage_dir"
mv -T "$stage_dir" "$result" 2>/dev/null || rm -rf "$stage_dir"
stage_dir=
# The object dir is ~1.5 GB and only this one result needs it.
rm -rf "$obj"
say "done in $((SECONDS - t0)) s: $(cat "$result/version") -> $result"
echo "$result/kernel"
