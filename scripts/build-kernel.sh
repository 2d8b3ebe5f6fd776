#!/usr/bin/env bash
# Build the utility-VM kernel: the kernel-patches/*.patch applied in name
# order to a copy of the source, `make tinyconfig`, the kconfig/*.config
# fragments merged on top in name order, a strict check that every
# requested value landed in the final .config, then bzImage + vmlinux.
#
# Results are cached under $CACHE/kernel/<key>/ where key = sha256 over the
# fragments, the patches, the kernel source identity, the compiler and this
# script; a hit costs a copy.  Objects are kept per source tree (pristine,
# or its one patched copy) in $CACHE/kernel-obj/, so a fragment or patch
# change rebuilds incrementally.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CACHE:-$ROOT/out/cache}
KERNEL_SRC=${KERNEL_SRC:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${JOBS:-$(nproc)}
ARCH=x86_64
PROGRESS_EVERY=30

usage() {
	cat >&2 <<EOF
usage: $0 [--config-only] [--fragment FILE]... DEST_DIR

Writes DEST_DIR/kernel (bzImage, EFI stub), DEST_DIR/vmlinux (stripped ELF,
PVH entry), DEST_DIR/kernel.config and DEST_DIR/System.map (the symbols, for
oopses and qemu-tests/bench/insn-profile.sh; not a boot file).

  --config-only    stop after the strict config check; write only kernel.config
  --patch-only     stop after applying kernel-patches/; the last line out is
                   the patched tree's path (DEST_DIR is not written)
  --fragment FILE  merge FILE after kconfig/*.config (repeatable)

Environment: KERNEL_SRC (kernel tree or .tar/.tar.xz/.tar.gz; default
$KERNEL_SRC), CACHE (default \$ROOT/out/cache), JOBS (default nproc),
KERNEL_PATCHES (default \$ROOT/kernel-patches).
EOF
	exit 2
}

T0=$SECONDS
say() { printf '[kernel] %s\n' "$*"; }
stage() { printf '[kernel] %d s: %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

config_only=0
patch_only=0
fragments=()
while [ $# -gt 0 ]; do
	case $1 in
	--config-only) config_only=1; shift ;;
	--patch-only) patch_only=1; shift ;;
	--fragment)
		[ $# -ge 2 ] || usage
		fragments+=("$2"); shift 2 ;;
	--fragment=*) fragments+=("${1#--fragment=}"); shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "$0: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
dest=$1

# --- temporary state, removed on any exit -------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-kernel.XXXXXX")
make_pid=
stage_dir=
build_marker=
cleanup() {
	local rc=$?
	if [ -n "$make_pid" ] && kill -0 "$make_pid" 2>/dev/null; then
		# make runs in its own process group (setsid): stop all of it, and
		# let make delete the targets it was writing.
		kill -TERM -- "-$make_pid" 2>/dev/null || true
		wait "$make_pid" 2>/dev/null || true
		# make deleted its half-written targets; objects are consistent.
		[ -n "$build_marker" ] && rm -f "$build_marker"
	fi
	[ -n "$stage_dir" ] && rm -rf "$stage_dir"
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- fragments: parse and validate before touching the source ------------
all_fragments=()
for f in "$ROOT"/kconfig/*.config; do
	[ -e "$f" ] && all_fragments+=("$f")
done
[ ${#all_fragments[@]} -gt 0 ] || die "no fragments in $ROOT/kconfig/*.config"
for f in "${fragments[@]}"; do
	[ -f "$f" ] || die "fragment $f: no such file"
	all_fragments+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done

# requests: SYMBOL<TAB>VALUE<TAB>FRAGMENT:LINE, VALUE "n" for "is not set".
# Fails (with every bad line named) on syntax errors, a missing "# Help:"
# first line, and one symbol requested with two different values.
requests=$tmp/requests
awk '
	function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1 }
	function show(sym, val) { return val == "n" ? "\"# CONFIG_" sym " is not set\"" : "CONFIG_" sym "=" val }
	FNR == 1 && !/^# Help: ./ { fail("first line must be \"# Help: <what this fragment is for>\"") }
	/^[[:space:]]*$/ { next }
	/^# CONFIG_[A-Za-z0-9_]+ is not set[[:space:]]*$/ { sym = $2; val = "n" }
	/^#/ && !/^# CONFIG_[A-Za-z0-9_]+ is not set/ { next }
	/^CONFIG_[A-Za-z0-9_]+=/ {
		sym = $0; sub(/=.*/, "", sym)
		val = $0; sub(/^[^=]*=/, "", val); sub(/[[:space:]]+$/, "", val)
		if (val == "") { fail("empty value for " sym); next }
	}
	!/^CONFIG_[A-Za-z0-9_]+=/ && !/^# CONFIG_[A-Za-z0-9_]+ is not set/ {
		fail("cannot parse: " $0); next
	}
	{
		sub(/^CONFIG_/, "", sym)
		where = FILENAME ":" FNR
		if ((sym in seen) && seen[sym] != val)
			fail(show(sym, val) " conflicts with " show(sym, seen[sym]) " at " from[sym])
		seen[sym] = val; from[sym] = where
		order[++n] = sym
	}
	END {
		if (bad) exit 1
		for (i = 1; i <= n; i++)
			if (!(order[i] in done)) {
				done[order[i]] = 1
				printf "%s\t%s\t%s\n", order[i], seen[order[i]], from[order[i]]
			}
	}
' "${all_fragments[@]}" >"$requests" || die "bad fragment(s), see above"
[ -s "$requests" ] || die "the fragments request nothing"

# --- tools --------------------------------------------------------------
need_tool() { # COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || die "missing tool '$1' (apt-get install $2)"
}
need_tool make make
need_tool gcc gcc
need_tool flex flex
need_tool bison bison
need_tool tar tar
need_tool patch patch
need_tool sha256sum coreutils
need_tool flock util-linux
need_tool setsid util-linux
if [ "$config_only" -eq 0 ]; then
	need_tool bc bc
	need_tool perl perl
	need_tool strip binutils
	# objtool (ORC unwinder, retpolines) is linked against libelf.
	echo '#include <gelf.h>' | gcc -E -x c - >/dev/null 2>&1 ||
		die "missing libelf headers (gelf.h) for objtool (apt-get install libelf-dev)"
fi

# --- patches: the product's changes to the kernel source ----------------
# Each kernel-patches/*.patch is a unified diff against the source's top
# directory (`a/` and `b/` prefixes), with a description of why above it.
KERNEL_PATCHES=${KERNEL_PATCHES:-$ROOT/kernel-patches}
patches=()
for p in "$KERNEL_PATCHES"/*.patch; do
	[ -e "$p" ] || continue
	grep -qE '^(\+\+\+ b|--- a)/' "$p" || die "$p: not a unified diff with a/ and b/ paths"
	patches+=("$p")
done
patch_id=
if [ ${#patches[@]} -gt 0 ]; then
	patch_id=$(cat "${patches[@]}" | sha256sum | cut -c1-16)
fi

# --- kernel source and its identity ------------------------------------
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
if [ -d "$KERNEL_SRC" ]; then
	tree=$(cd "$KERNEL_SRC" && pwd)
	if [ ! -f "$tree/Makefile" ] || [ ! -f "$tree/Kconfig" ] || [ ! -d "$tree/arch/x86" ]; then
		die "KERNEL_SRC=$KERNEL_SRC is not a kernel source tree (no Makefile, Kconfig or arch/x86)"
	fi
	# make O=... refuses a tree that was configured in place.
	if [ -e "$tree/.config" ] || [ -d "$tree/include/config" ]; then
		die "KERNEL_SRC=$tree has been configured in place; run 'make mrproper' there first"
	fi
	stage "hashing source tree $tree"
	src_id=$( { echo "dir $tree"
		find "$tree" -path "$tree/.git" -prune -o -type f -printf '%P\t%s\t%T@\n' | LC_ALL=C sort
	} | sha256sum | cut -c1-64)
	src_name=$(basename "$tree")
elif [ -f "$KERNEL_SRC" ]; then
	case $KERNEL_SRC in
	*.tar|*.tar.xz|*.txz|*.tar.gz|*.tgz) ;;
	*) die "KERNEL_SRC=$KERNEL_SRC: expected a directory or a .tar, .tar.xz or .tar.gz file" ;;
	esac
	case $KERNEL_SRC in *xz) need_tool xz xz-utils ;; *gz) need_tool gzip gzip ;; esac
	src_id=$(sha256sum "$KERNEL_SRC" | cut -c1-64)
	src_name=$(basename "$KERNEL_SRC"); src_name=${src_name%.t*}
	tree=
else
	die "kernel source $KERNEL_SRC not found (apt-get install linux-source-6.1, or set KERNEL_SRC to a tree or tarball)"
fi

# --- cache key ----------------------------------------------------------
key=$( {
	for f in "${all_fragments[@]}"; do printf 'fragment\n'; cat "$f"; done
	printf 'source %s\n' "$src_id"
	for p in "${patches[@]}"; do printf 'patch %s\n' "$(basename "$p")"; cat "$p"; done
	printf 'arch %s\n' "$ARCH"
	gcc --version | head -n1
	ld --version 2>/dev/null | head -n1 || true
	sha256sum <"${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
result=$CACHE/kernel/$key

install_result() { # FROM_DIR
	mkdir -p "$dest"
	cp -f "$1/kernel" "$dest/kernel"
	cp -f "$1/vmlinux" "$dest/vmlinux"
	cp -f "$1/config" "$dest/kernel.config"
	cp -f "$1/System.map" "$dest/System.map"
}
# Kernels built for other keys: the three used last stay, the rest go.
prune_kernels() {
	touch "$result"
	"$ROOT/scripts/prune-cache" 3 "$CACHE"/kernel/[0-9a-f]*
}
if [ "$config_only" -eq 0 ] && [ "$patch_only" -eq 0 ] && [ -f "$result/version" ]; then
	install_result "$result"
	prune_kernels
	say "cached (key $key): $(cat "$result/version"), kernel $(du -k "$dest/kernel" | cut -f1) KB -> $dest"
	exit 0
fi

# --- extract (once per source identity) ----------------------------------
if [ -z "$tree" ]; then
	srcdir=$CACHE/kernel-src/${src_id:0:16}
	mkdir -p "$CACHE/kernel-src"
	exec {src_lock}>"$srcdir.lock"
	flock "$src_lock"
	if [ ! -d "$srcdir" ]; then
		stage "extracting $src_name ..."
		xtmp=$(mktemp -d "$CACHE/kernel-src/.extract.XXXXXX")
		if ! tar -xf "$KERNEL_SRC" -C "$xtmp" 2>"$tmp/tar.err"; then
			rm -rf "$xtmp"
			sed 's/^/  /' "$tmp/tar.err" | tail -n 5 >&2
			die "extracting $KERNEL_SRC failed: the archive is corrupt or not a tar file"
		fi
		tops=("$xtmp"/*)
		if [ ${#tops[@]} -ne 1 ] || [ ! -f "${tops[0]}/Makefile" ] || [ ! -f "${tops[0]}/Kconfig" ]; then
			rm -rf "$xtmp"
			die "$KERNEL_SRC does not hold a kernel tree (expected one top directory with Makefile and Kconfig)"
		fi
		mv "$xtmp" "$srcdir"
	fi
	flock -u "$src_lock"
	tops=("$srcdir"/*)
	tree=${tops[0]}
fi

kmake() { # make in the object dir $obj, all output to the log $log
	LC_ALL=C make -C "$tree" O="$obj" ARCH="$ARCH" "$@" >>"$log" 2>&1
}
fail_log() { # MESSAGE
	{
		echo "[kernel] last lines of $log:"
		tail -n 40 "$log" | sed 's/^/  /'
	} >&2
	die "$1 (full log: $log)"
}

# --- patched copy (one per source, re-patched when the patches change) ----
# The extracted tree stays pristine: the peer kernels (qemu-tests/bench)
# build from it.  The copy is hard links, except the files the patches
# touch, which get inodes of their own before `patch` writes them.  When
# the patch set changes, the files the old set touched go back to the
# pristine text first; everything a patch set touches is dated now, so
# the object dir of the copy rebuilds incrementally and never keeps an
# object of a file whose text changed.
tree_id=${src_id:0:16}
if [ -n "$patch_id" ]; then
	tree_id=${src_id:0:16}-patched
	ptree=$CACHE/kernel-src/$tree_id
	pstate=$CACHE/kernel-src/$tree_id.state # patch id, then the files it touched
	mkdir -p "$CACHE/kernel-src"
	exec {ptree_lock}>"$ptree.lock"
	flock "$ptree_lock"
	# A copy whose state was lost may hold any patch set: start again.
	[ -f "$pstate" ] || rm -rf "$ptree"
	if [ ! -d "$ptree" ]; then
		stage "copying the source for kernel-patches/"
		ptmp=$(mktemp -d "$CACHE/kernel-src/.patch.XXXXXX")
		cp -al "$tree" "$ptmp/src" 2>/dev/null || cp -a "$tree" "$ptmp/src"
		echo none >"$pstate"
		mv "$ptmp/src" "$ptree"
		rmdir "$ptmp"
	fi
	if [ "$(head -n 1 "$pstate" 2>/dev/null)" != "$patch_id" ]; then
		stage "applying ${#patches[@]} patch(es) from kernel-patches/"
		# Paths written (+++ b/) or deleted (--- a/ against +++ /dev/null).
		sed -n 's#^\(+++ b\|--- a\)/\([^\t]*\).*#\2#p' "${patches[@]}" | LC_ALL=C sort -u >"$tmp/touched"
		while IFS= read -r f; do
			case $f in /*|../*|*/../*|..) die "$KERNEL_PATCHES: patched path $f leaves the tree" ;; esac
		done <"$tmp/touched"
		# Every file the set applied before (or half applied by a failed
		# run) or this set touches: the pristine text in an inode of its
		# own, dated now; gone where the pristine tree has none.
		while IFS= read -r f; do
			if [ -f "$tree/$f" ]; then
				cp "$tree/$f" "$ptree/$f.pristine" && mv -f "$ptree/$f.pristine" "$ptree/$f"
			else
				rm -f "$ptree/$f"
			fi
		done < <({ tail -n +2 "$pstate"; cat "$tmp/touched"; } | LC_ALL=C sort -u)
		{ echo none; cat "$tmp/touched"; } >"$pstate"
		for p in "${patches[@]}"; do
			if ! patch -d "$ptree" -p1 --batch --forward --fuzz=0 \
				--no-backup-if-mismatch <"$p" >"$tmp/patch.out" 2>&1; then
				sed 's/^/  /' "$tmp/patch.out" | tail -n 10 >&2
				die "$p does not apply to $src_name"
			fi
		done
		{ echo "$patch_id"; cat "$tmp/touched"; } >"$pstate"
	fi
	flock -u "$ptree_lock"
	tree=$ptree
fi
if [ "$patch_only" -eq 1 ]; then
	printf '%s\n' "$tree"
	exit 0
fi

# --- object dir ---------------------------------------------------------
if [ "$config_only" -eq 1 ]; then
	obj=$tmp/obj
	log=$tmp/build.log
	mkdir -p "$obj"
else
	obj=$CACHE/kernel-obj/$tree_id
	log=$CACHE/kernel-obj/$tree_id.log
	mkdir -p "$obj"
	touch "$obj"
	# Object dirs of other sources or patch sets (~300 MB each): two stay.
	"$ROOT/scripts/prune-cache" 2 "$CACHE"/kernel-obj/*
	exec {obj_lock}>"$obj.lock"
	if ! flock -n "$obj_lock"; then
		stage "waiting for another kernel build in $obj"
		flock "$obj_lock"
	fi
	# A marker left behind means a build died without make cleaning up
	# (SIGKILL, power loss): its objects cannot be trusted.
	build_marker=$obj/.build-in-progress
	if [ -e "$build_marker" ]; then
		stage "previous build was interrupted; starting from a clean object dir"
		find "$obj" -mindepth 1 -delete
	fi
	: >"$log"
fi

# --- configure ----------------------------------------------------------
stage "configuring ($((${#all_fragments[@]})) fragments on top of tinyconfig)"
kmake tinyconfig || fail_log "make tinyconfig failed"
# Merge: drop whatever tinyconfig said about a requested symbol, then
# append the requests (fragment order, last one wins).
awk -F'\t' 'NR == FNR { req[$1] = 1; next }
	{
		s = $0
		if (s ~ /^CONFIG_[A-Za-z0-9_]+=/) { sub(/^CONFIG_/, "", s); sub(/=.*/, "", s) }
		else if (s ~ /^# CONFIG_[A-Za-z0-9_]+ is not set/) { s = $0; sub(/^# CONFIG_/, "", s); sub(/ .*/, "", s) }
		else s = ""
		if (!(s in req)) print
	}' "$requests" "$obj/.config" >"$tmp/merged"
awk -F'\t' '{ if ($2 == "n") printf "# CONFIG_%s is not set\n", $1; else printf "CONFIG_%s=%s\n", $1, $2 }' \
	"$requests" >>"$tmp/merged"
cp "$tmp/merged" "$obj/.config"
kmake olddefconfig || fail_log "make olddefconfig failed"
grep -A3 'unmet direct dependencies' "$log" | sed 's/^/[kernel] warning: /' >&2 || true

# --- strict check -------------------------------------------------------
# Every symbol any Kconfig file defines, with the first place it is defined.
grep -rnE --include='Kconfig*' '^[[:space:]]*(menu)?config[[:space:]]+[A-Za-z0-9_]+[[:space:]]*$' "$tree" |
	awk -v root="$tree/" '{
		where = $0; sub(/:[[:space:]]*(menu)?config.*/, "", where); sub(root, "", where)
		sym = $NF; if (!(sym in seen)) { seen[sym] = 1; print sym "\t" where }
	}' >"$tmp/symbols"
if ! awk -F'\t' -v out="$tmp/offenders" '
	FILENAME == ARGV[1] { defined[$1] = $2; next }
	FILENAME == ARGV[2] {
		if ($0 ~ /^CONFIG_[A-Za-z0-9_]+=/) {
			s = $0; sub(/^CONFIG_/, "", s); sub(/=.*/, "", s)
			v = $0; sub(/^[^=]*=/, "", v); actual[s] = v
		} else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set/) {
			s = $0; sub(/^# CONFIG_/, "", s); sub(/ .*/, "", s); actual[s] = "n"
		}
		next
	}
	{
		sym = $1; want = $2; from = $3
		have = (sym in actual) ? actual[sym] : ""
		if (want == have || (want == "n" && have == "" && (sym in defined))) next
		if (!(sym in defined))
			why = "no such option in this kernel (typo, or removed in this version)"
		else if (have == "")
			why = "not offered: its dependencies are unmet (defined at " defined[sym] ")"
		else if (have == "n")
			why = "dependencies unmet or overridden (defined at " defined[sym] ")"
		else
			why = "forced by another option (defined at " defined[sym] ")"
		printf "  CONFIG_%s: requested %s, actual %s -- %s [%s]\n", sym,
			want == "n" ? "not set" : want, have == "" ? "absent" : (have == "n" ? "not set" : have),
			why, from > out
		bad++
	}
	END { exit bad ? 1 : 0 }
' "$tmp/symbols" "$obj/.config" "$requests"; then
	{
		echo "[kernel] strict check failed: $(wc -l <"$tmp/offenders") requested option(s) did not land in .config:"
		cat "$tmp/offenders"
	} >&2
	die "fix the fragments (or their dependencies) named above"
fi
stage "strict check passed: $(wc -l <"$requests") requested options all landed"

if [ "$config_only" -eq 1 ]; then
	mkdir -p "$dest"
	cp -f "$obj/.config" "$dest/kernel.config"
	stage "config written to $dest/kernel.config"
	exit 0
fi

# --- build --------------------------------------------------------------
compressor=
case $(grep -E '^CONFIG_KERNEL_(GZIP|XZ|ZSTD|LZ4|LZO|LZMA|BZIP2)=y' "$obj/.config") in
*ZSTD*) compressor="zstd zstd" ;;
*XZ*|*LZMA*) compressor="xz xz-utils" ;;
*LZ4*) compressor="lz4 lz4" ;;
*LZO*) compressor="lzop lzop" ;;
*BZIP2*) compressor="bzip2 bzip2" ;;
*GZIP*) compressor="gzip gzip" ;;
esac
# shellcheck disable=SC2086 # two words: command, package
[ -n "$compressor" ] && need_tool $compressor
if grep -qE '^CONFIG_(SYSTEM_TRUSTED_KEYRING|MODULE_SIG)=y' "$obj/.config"; then
	echo '#include <openssl/ssl.h>' | gcc -E -x c - >/dev/null 2>&1 ||
		die "missing OpenSSL headers for the certificate tools (apt-get install libssl-dev)"
fi

# Reproducible: no user, host, build count or wall-clock time in the image.
export KBUILD_BUILD_USER=lcow KBUILD_BUILD_HOST=lcow KBUILD_BUILD_VERSION=1
# The timestamp is printed verbatim in the version banner (uname -v).
KBUILD_BUILD_TIMESTAMP=$(LC_ALL=C date -u -d "@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$tree/Makefile")}")
export KBUILD_BUILD_TIMESTAMP

stage "building with $JOBS jobs (log: $log)"
: >"$build_marker"
LC_ALL=C setsid make -C "$tree" O="$obj" ARCH="$ARCH" -j"$JOBS" bzImage vmlinux \
	>>"$log" 2>&1 </dev/null &
make_pid=$!
last=$SECONDS
while kill -0 "$make_pid" 2>/dev/null; do
	sleep 1
	if [ $((SECONDS - last)) -ge "$PROGRESS_EVERY" ]; then
		last=$SECONDS
		step=$(tail -n 50 "$log" | grep -E '^  [A-Z][A-Z0-9_.-]* +[^ ]' | tail -n 1 | awk '{ print $1, $2 }')
		stage "${step:-working}"
	fi
done
rc=0
wait "$make_pid" || rc=$?
make_pid=
[ "$rc" -eq 0 ] || fail_log "make bzImage vmlinux failed (exit $rc)"
rm -f "$build_marker"

# --- stage into the cache, then publish atomically ------------------------
mkdir -p "$CACHE/kernel"
stage_dir=$(mktemp -d "$CACHE/kernel/.tmp.$key.XXXXXX")
cp "$obj/arch/x86/boot/bzImage" "$stage_dir/kernel"
# Symbols are not needed to boot; the PVH entry note survives stripping.
strip --strip-all -o "$stage_dir/vmlinux" "$obj/vmlinux"
cp "$obj/.config" "$stage_dir/config"
cp "$obj/System.map" "$stage_dir/System.map"
(cd "$tree" && LC_ALL=C make -s O="$obj" ARCH="$ARCH" kernelrelease) >"$stage_dir/version"
chmod 0755 "$stage_dir"
if ! mv -T "$stage_dir" "$result" 2>/dev/null; then
	# Another build published the same key meanwhile: its result is as good.
	rm -rf "$stage_dir"
fi
stage_dir=
install_result "$result"
prune_kernels
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
say "done in $((SECONDS - T0)) s: kernel $(size_mb "$dest/kernel"), vmlinux $(size_mb "$dest/vmlinux"), $(cat "$result/version") (key $key) -> $dest"
