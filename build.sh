#!/usr/bin/env bash
# The one entry point: kernel, userland, images, tests.  ./build.sh help
set -euo pipefail
# Everything below is one compound command, read whole before it runs: bash
# reads a script as it goes, so an edit to this file during a long build
# (a git pull, an editor) would otherwise run half of the old and half of
# the new text.
{

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"
export ROOT
export OUT=${OUT:-$ROOT/out}
# Expensive, content-keyed outputs (the kernel build, musl-built libraries)
# live outside the work tree so that every checkout on the machine shares
# them: a fresh clone rebuilds in minutes, not a quarter of an hour.
export CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lcow-uvm}
export B=$OUT/build
export BIN=$OUT/bin
export BOOTFILES=$OUT/bootfiles
# Reproducible outputs: every timestamp in the images is this one.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
JOBS=${JOBS:-$(nproc)}

usage() {
	cat <<EOU
usage: ./build.sh [COMMAND]

  (none), all   install missing Debian packages, build the kernel, the guest
                userland, the host tools and the boot files into out/
  test          build what is missing, then run every test: unit tests and
                the QEMU integration tests (what CI runs)
  unit          build, then run the unit tests only (plain and under
                ASan + UBSan)
  integration   build, then run the QEMU integration tests only
  fuzz          build and run the libFuzzer targets (fuzz/README.md):
                replay their regressions and seeds, then fuzz each for
                FUZZ_TIME seconds (default 60); results in out/fuzz/
  bench         build, then run the benchmarks (out/bench/: results.json,
                report.md, boot-phases.svg and each benchmark's JSON + Markdown);
                BENCH_RUNS=N runs each (default 3)
  deps          install missing Debian packages only (scripts/deps.sh)
  kernel        build (or fetch from the cache) the kernel only
  clean         remove out/ (the cache of kernel builds and musl libraries
                stays: \$CACHE, default ~/.cache/lcow-uvm)
  distclean     remove out/ and the cache
  help          this text

Outputs: out/bootfiles/{kernel,vmlinux,initrd.img,rootfs.vhd}  the boot files
         out/bootfiles/manifest.json               sizes, sha256, versions
         out/bin/                                  host tools
Environment: KERNEL_SRC (kernel tree or tarball; default Debian's
linux-source-6.1), OUT (default out/), CACHE (default ~/.cache/lcow-uvm),
JOBS, SOURCE_DATE_EPOCH.
EOU
}

T0=$(date +%s)
step_no=0
current_step=
step() {
	step_no=$((step_no + 1))
	current_step=$1
	printf '==> [%3ds] %s\n' "$(($(date +%s) - T0))" "$1"
}
on_error() {
	local rc=$?
	echo "build.sh: FAILED during: ${current_step:-startup} (exit $rc)" >&2
	exit "$rc"
}
trap on_error ERR
IMAGES_STAGE=
trap '[ -z "$IMAGES_STAGE" ] || rm -rf "$IMAGES_STAGE"' EXIT

human() {
	local f=$1
	[ -e "$f" ] || { echo "-"; return; }
	numfmt --to=iec --suffix=B --format='%.1f' "$(stat -c %s "$f")"
}

do_deps() {
	step "Debian packages"
	scripts/deps.sh
}

do_kernel() {
	step "kernel (cached by config + patches + source)"
	mkdir -p "$B"
	scripts/build-kernel.sh "$B/kernel"
}

do_userland() {
	step "userland and host tools (make -j$JOBS)"
	make -s -j"$JOBS" OUT="$OUT" CACHE="$CACHE" all
}

# Guest binaries that go into the image: DEST=SRC pairs.
image_files() {
	local f
	for f in \
		/init="$B/guest/init/init" \
		/bin/vsockexec="$B/guest/init/vsockexec" \
		/bin/gcs="$B/guest/gcs-agent/gcs" \
		/sbin/e2fsprogs="$B/guest/e2fsprogs/e2fsprogs" \
		/bin/remotefs="$B/guest/remotefs/remotefs"; do
		[ -e "${f#*=}" ] && echo "$f:0755"
	done
	return 0
}

# Symbolic links in the image: DEST=TARGET pairs.  /sbin/e2fsprogs runs the
# program its name says (mke2fs and e2fsck then pick the filesystem type
# from that name too).
image_symlinks() {
	local p
	if [ -e "$B/guest/e2fsprogs/e2fsprogs" ]; then
		for p in mke2fs mkfs.ext4 e2fsck fsck.ext4 resize2fs; do
			echo "/sbin/$p=e2fsprogs"
		done
	fi
	return 0
}

do_images() {
	step "boot files"
	# Nothing half-written ever lands in out/bootfiles: build in a stage
	# directory (removed at exit if anything fails), swap it in at the end.
	mkdir -p "$OUT"
	IMAGES_STAGE=$(mktemp -d "$OUT/.bootfiles.XXXXXX")
	local stage=$IMAGES_STAGE
	local args=()
	while IFS= read -r f; do args+=(--file "$f"); done < <(image_files)
	while IFS= read -r f; do args+=(--symlink "$f"); done < <(image_symlinks)
	# Our busybox (image/initrd/busybox.config, static musl), not the host's.
	image/initrd/gen-list.sh "${args[@]}" --busybox "$B/guest/busybox/busybox" >"$B/initrd.list"
	# initrd.img and rootfs.vhd: one list, the same tree.
	image/make-images.sh --bin "$BIN" --list "$B/initrd.list" --outdir "$stage"
	cp "$B/kernel/kernel" "$B/kernel/vmlinux" "$stage/"
	cp "$B/kernel/kernel.config" "$stage/kernel.config"
	cp "$B/guest/busybox/busybox.config" "$stage/busybox.config"
	# The musl-built dependencies this build used (not every one cached):
	# one make run prints the three.
	local deps=()
	mapfile -t deps < <(make -s OUT="$OUT" CACHE="$CACHE" print-GCS_JANSSON_DIR \
		print-BUSYBOX_DIR print-E2FSPROGS_DIR)
	scripts/manifest.sh "$stage" "${deps[@]}" >"$stage/manifest.json"
	rm -rf "$OUT/bootfiles.old"
	[ -d "$BOOTFILES" ] && mv "$BOOTFILES" "$OUT/bootfiles.old"
	mv "$stage" "$BOOTFILES"
	IMAGES_STAGE=
	rm -rf "$OUT/bootfiles.old"
	chmod 755 "$BOOTFILES"
}

summary() {
	echo
	echo "Boot files in $BOOTFILES:"
	local f
	for f in kernel vmlinux initrd.img rootfs.vhd; do
		printf '  %-12s %8s\n' "$f" "$(human "$BOOTFILES/$f")"
	done
	echo "Guest binaries:"
	for f in init/init init/vsockexec gcs-agent/gcs busybox/busybox; do
		printf '  %-12s %8s\n' "$(basename "$f")" "$(human "$B/guest/$f")"
	done
	echo "Host tools in $BIN: $(ls "$BIN" 2>/dev/null | tr '\n' ' ')"
	echo "Built in $(($(date +%s) - T0)) s."
}

build_all() {
	do_deps
	do_kernel
	do_userland
	do_images
}

unit_tests() {
	step "unit tests"
	local tests=()
	read -r -a tests <<<"$(make -s OUT="$OUT" print-UNIT_TESTS)"
	local t
	while IFS= read -r t; do tests+=("$t"); done < <(
		find . -path ./out -prune -o -path ./qemu-tests/tests -prune -o \
			-path '*/tests/*_test.sh' -type f -print | sort)
	scripts/run-tests --name unit --log "$OUT/test-logs/unit" "${tests[@]}"
}

# The C unit tests again, built with ASan + UBSan (out/build/host-asan).
sanitizer_tests() {
	step "unit tests under ASan + UBSan"
	make -s -j"$JOBS" OUT="$OUT" CACHE="$CACHE" SANITIZE=1 tests
	local tests=()
	read -r -a tests <<<"$(make -s OUT="$OUT" SANITIZE=1 print-UNIT_TESTS)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		scripts/run-tests --name sanitizers --log "$OUT/test-logs/sanitizers" "${tests[@]}"
}

# Every fuzz target briefly: its regressions and seeds, then ~10 s of fuzzing.
fuzz_tests() {
	step "fuzzing (${FUZZ_TEST_TIME:-10}s per target)"
	scripts/run-fuzz --time "${FUZZ_TEST_TIME:-10}" --out "$OUT/fuzz-test"
}

integration_tests() {
	step "integration tests (QEMU)"
	local tests=()
	while IFS= read -r t; do tests+=("$t"); done < <(
		find qemu-tests/tests -name '*_test.sh' -type f 2>/dev/null | sort)
	scripts/run-tests --name integration --timeout 900 \
		--log "$OUT/test-logs/integration" "${tests[@]}"
}

cmd=${1:-all}
case "$cmd" in
all)
	build_all
	summary
	;;
test)
	build_all
	rc=0
	mkdir -p "$OUT/test-logs"
	unit_tests | tee "$OUT/test-logs/unit.txt" || rc=1
	sanitizer_tests | tee "$OUT/test-logs/sanitizers.txt" || rc=1
	integration_tests | tee "$OUT/test-logs/integration.txt" || rc=1
	fuzz_tests | tee "$OUT/test-logs/fuzz.txt" || rc=1
	# The benchmarks once each (no timing fails them), so their code cannot rot.
	step "benchmarks (short run)"
	qemu-tests/bench/run-all.sh --short --out "$OUT/bench" | tee "$OUT/test-logs/bench.txt" || rc=1
	echo
	p=0 f=0 s=0
	for suite in unit sanitizers integration fuzz bench; do
		# The runner's closing line: "SUITE: N passed, N failed, N skipped".
		line=$(grep -E "^$suite: [0-9]+ passed, [0-9]+ failed" "$OUT/test-logs/$suite.txt" | tail -1 || true)
		if [ -z "$line" ]; then
			echo "  $suite: did not finish (see above)"
			rc=1
			continue
		fi
		echo "  $line"
		read -r _ np _ nf _ ns _ <<<"${line//,/}"
		p=$((p + np)) f=$((f + nf)) s=$((s + ns))
	done
	echo "tests: $p passed, $f failed, $s skipped"
	exit "$rc"
	;;
unit)
	build_all
	unit_tests
	sanitizer_tests
	;;
integration)
	build_all
	integration_tests
	;;
fuzz)
	do_deps
	step "fuzzing (${FUZZ_TIME:-60}s per target)"
	scripts/run-fuzz --time "${FUZZ_TIME:-60}" --out "$OUT/fuzz"
	;;
bench)
	build_all
	step "benchmarks"
	# Every qemu-tests/bench/*-bench.sh, then results.json, report.md and
	# boot-phases.svg in out/bench.
	qemu-tests/bench/run-all.sh --runs "${BENCH_RUNS:-3}" --out "$OUT/bench"
	;;
deps) do_deps ;;
kernel) do_kernel ;;
clean)
	step "clean (keeping $CACHE)"
	rm -rf "$OUT"
	;;
distclean)
	step "distclean"
	rm -rf "$OUT" "$CACHE"
	;;
help | -h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
exit
}
