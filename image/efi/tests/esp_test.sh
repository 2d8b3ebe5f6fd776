#!/usr/bin/env bash
# TAP tests of the ESP loader binary and image/efi/make-esp.sh, without QEMU
# (qemu-tests/tests/esp_boot_test.sh boots them).  Images are read back with
# mtools and checked with fsck.fat.  Assumes `make all` has run.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
OUT=${OUT:-$ROOT/out}
B=${B:-$OUT/build}
LOADER=$B/efi/BOOTX64.EFI
MAKE_ESP=$ROOT/image/efi/make-esp.sh

usage() {
	echo "usage: $0   (env: ROOT OUT B)" >&2
	exit 2
}
case ${1:-} in -h | --help) usage ;; esac

for tool in objdump strings mdir mtype mcopy fsck.fat cmp; do
	command -v "$tool" >/dev/null || { echo "$0: missing $tool" >&2; exit 1; }
done
[ -r "$LOADER" ] || { echo "$0: $LOADER not built (run make all)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/esp_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null TZ=UTC

# --- harness: each test is a function run in a subshell; fail() ends it, and
# its stderr is the diagnostic ------------------------------------------------
n=0
passed=0
failed=0
t() { # NAME FUNCTION
	n=$((n + 1))
	if ("$2") 2>"$tmp/diag"; then
		echo "ok $n - $1"
		passed=$((passed + 1))
	else
		echo "not ok $n - $1"
		sed 's/^/# /' "$tmp/diag"
		failed=$((failed + 1))
	fi
}
fail() {
	echo "$*" >&2
	exit 1
}

# Inputs: a "kernel" and an "initrd" whose sizes are not cluster multiples.
head -c 2345679 /dev/urandom >"$tmp/kernel"
head -c 777777 /dev/urandom >"$tmp/initrd"
# Backslashes, quotes, a UTF-8 character and a trailing newline: all kept.
CMDLINE=$'initrd=\\initrd.img console=ttyS0,115200 -- /bin/sh -c "echo d\xc3\xa9j\xc3\xa0 vu"\n'

make_esp() { # OUTPUT [extra make-esp.sh arguments replacing the defaults...]
	local out=$1
	shift
	"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/kernel" --initrd "$tmp/initrd" \
		--cmdline "$CMDLINE" "$@" -o "$out"
}

# --- the loader ----------------------------------------------------------------
test_loader_is_pe32plus_x86_64() {
	local f
	f=$(objdump -f "$LOADER") || return 1
	grep -q 'file format pei-x86-64' <<<"$f" || fail "objdump -f: $f"
	objdump -p "$LOADER" | grep -Eq '^Magic[[:space:]]+020b' || fail "optional header magic is not PE32+ (020b)"
}
test_loader_subsystem_is_efi_app() {
	objdump -p "$LOADER" | grep -Eq '^Subsystem[[:space:]]+0000000a' ||
		fail "subsystem: $(objdump -p "$LOADER" | grep Subsystem)"
}
test_loader_has_relocations() {
	# Firmware loads it at any address: without .reloc it would crash.
	local e
	e=$(objdump -p "$LOADER" | grep 'Base Relocation Directory') || fail "no base relocation directory"
	[[ "$e" =~ ^Entry\ 5\ [0-9a-f]+\ ([0-9a-f]+) ]] && [ $((16#${BASH_REMATCH[1]})) -gt 0 ] ||
		fail "empty base relocation directory: $e"
}
test_loader_names_its_files() {
	# The UCS-2 paths and the tag the benchmark parses are in the binary.
	local s wide
	wide=$(strings -e l "$LOADER")
	for s in '\cmdline' '\kernel' 'lcow.loader_tsc='; do
		grep -qxF -- "$s" <<<"$wide" || fail "no UCS-2 string '$s' in the loader"
	done
}

# --- make-esp.sh -----------------------------------------------------------------
test_builds() {
	make_esp "$tmp/esp.img" || fail "make-esp.sh failed"
	[ -s "$tmp/esp.img" ] || fail "no image"
}
test_is_valid_fat() {
	fsck.fat -n "$tmp/esp.img" >&2 || fail "fsck.fat found errors"
}
test_layout() {
	local f
	for f in ::/EFI/BOOT/BOOTX64.EFI ::/kernel ::/initrd.img ::/cmdline; do
		mdir -i "$tmp/esp.img" "$f" >/dev/null 2>&1 || fail "no $f"
	done
	# Nothing else at the top level.
	local names
	names=$(mdir -b -i "$tmp/esp.img" ::/ | sed 's|^::/||' | sort | tr '\n' ' ')
	[ "$names" = "EFI/ cmdline initrd.img kernel " ] || [ "$names" = "EFI cmdline initrd.img kernel " ] ||
		fail "top level: $names"
}
test_file_contents() {
	mcopy -n -i "$tmp/esp.img" ::/EFI/BOOT/BOOTX64.EFI "$tmp/got.efi"
	mcopy -n -i "$tmp/esp.img" ::/kernel "$tmp/got.kernel"
	mcopy -n -i "$tmp/esp.img" ::/initrd.img "$tmp/got.initrd"
	cmp "$LOADER" "$tmp/got.efi" >&2 || fail "BOOTX64.EFI differs"
	cmp "$tmp/kernel" "$tmp/got.kernel" >&2 || fail "kernel differs"
	cmp "$tmp/initrd" "$tmp/got.initrd" >&2 || fail "initrd.img differs"
}
test_cmdline_exact_bytes() {
	mtype -i "$tmp/esp.img" ::/cmdline >"$tmp/got.cmdline"
	cmp <(printf '%s' "$CMDLINE") "$tmp/got.cmdline" >&2 ||
		fail "cmdline: $(od -c "$tmp/got.cmdline" | head -5)"
}
test_label_and_volume_id() {
	local d
	d=$(mdir -i "$tmp/esp.img" ::/)
	grep -q 'Volume in drive : is LCOW-ESP' <<<"$d" || fail "label: $(head -2 <<<"$d")"
	grep -q 'Volume Serial Number is 4C43-4F57' <<<"$d" || fail "id: $(head -2 <<<"$d")"
}
test_size_has_headroom_not_waste() {
	local size inputs
	size=$(stat -c %s "$tmp/esp.img")
	inputs=$(($(stat -c %s "$LOADER") + $(stat -c %s "$tmp/kernel") + $(stat -c %s "$tmp/initrd")))
	[ "$size" -ge $((inputs + 512 * 1024)) ] || fail "image $size B for $inputs B of input: no headroom"
	[ "$size" -le $((inputs * 2 + 4 * 1024 * 1024)) ] || fail "image $size B for $inputs B of input: too big"
}
test_reproducible() {
	touch -d '2001-02-03 04:05:06' "$tmp/kernel"
	sleep 1.1
	SOURCE_DATE_EPOCH=1700000000 make_esp "$tmp/a.img" || fail "first build"
	touch "$tmp/kernel"
	sleep 1.1
	SOURCE_DATE_EPOCH=1700000000 make_esp "$tmp/b.img" || fail "second build"
	cmp "$tmp/a.img" "$tmp/b.img" >&2 || fail "two builds from the same inputs differ"
}
test_source_date_epoch_is_the_timestamp() {
	# 1700000000 is 2023-11-14 22:13:20 UTC.
	local d
	d=$(mdir -i "$tmp/a.img" ::/kernel)
	grep -Eq 'kernel +[0-9]+ 2023-11-14 +22:13' <<<"$d" || fail "kernel entry: $d"
	d=$(mdir -i "$tmp/a.img" ::/EFI)
	grep -Eq 'BOOT +<DIR> +2023-11-14 +22:13' <<<"$d" || fail "EFI/BOOT entry: $d"
}

# Failures: an error on stderr, a non-zero status, and no output at all (no
# image, no temp file left in the output directory).
expect_clean_failure() { # REGEX-FOR-STDERR make-esp.sh ARGS...
	local re=$1 rc=0
	shift
	rm -rf "$tmp/fail" && mkdir "$tmp/fail"
	"$@" 2>"$tmp/fail.err" >/dev/null || rc=$?
	[ "$rc" -ne 0 ] || fail "exit status 0"
	grep -Eq -- "$re" "$tmp/fail.err" || fail "stderr does not match /$re/: $(cat "$tmp/fail.err")"
	[ -z "$(ls -A "$tmp/fail")" ] || fail "left behind: $(ls -A "$tmp/fail")"
}
test_missing_kernel_fails_cleanly() {
	expect_clean_failure "cannot read '$tmp/nope'" \
		"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/nope" --initrd "$tmp/initrd" \
		--cmdline x -o "$tmp/fail/esp.img"
}
test_missing_loader_fails_cleanly() {
	expect_clean_failure "cannot read '$tmp/nope.efi'" \
		"$MAKE_ESP" --loader "$tmp/nope.efi" --kernel "$tmp/kernel" --initrd "$tmp/initrd" \
		--cmdline x -o "$tmp/fail/esp.img"
}
test_missing_cmdline_option_fails_cleanly() {
	expect_clean_failure "are all required" \
		"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/kernel" --initrd "$tmp/initrd" \
		-o "$tmp/fail/esp.img"
}
test_overlong_cmdline_fails_cleanly() {
	expect_clean_failure "at most 1989" \
		"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/kernel" --initrd "$tmp/initrd" \
		--cmdline "$(head -c 1990 /dev/zero | tr '\0' a)" -o "$tmp/fail/esp.img"
}
test_longest_cmdline_is_accepted() {
	"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/kernel" --initrd "$tmp/initrd" \
		--cmdline "$(head -c 1989 /dev/zero | tr '\0' a)" -o "$tmp/long.img" ||
		fail "1989 bytes refused"
}
test_invalid_utf8_fails_cleanly() {
	expect_clean_failure "not valid UTF-8" \
		"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/kernel" --initrd "$tmp/initrd" \
		--cmdline $'a\xff' -o "$tmp/fail/esp.img"
}
test_failure_keeps_previous_output() {
	printf 'old' >"$tmp/keep.img"
	"$MAKE_ESP" --loader "$LOADER" --kernel "$tmp/nope" --initrd "$tmp/initrd" \
		--cmdline x -o "$tmp/keep.img" 2>/dev/null && fail "succeeded"
	[ "$(cat "$tmp/keep.img")" = old ] || fail "the previous image was touched"
}

echo "1..20"
t "loader: PE32+ x86-64 image" test_loader_is_pe32plus_x86_64
t "loader: subsystem is EFI application (10)" test_loader_subsystem_is_efi_app
t "loader: has base relocations" test_loader_has_relocations
t "loader: contains its UCS-2 paths and the timestamp tag" test_loader_names_its_files
t "make-esp: builds an image" test_builds
t "make-esp: fsck.fat finds a clean FAT file system" test_is_valid_fat
t "make-esp: \\EFI\\BOOT\\BOOTX64.EFI, \\kernel, \\initrd.img, \\cmdline and nothing else" test_layout
t "make-esp: loader, kernel and initrd copied byte for byte" test_file_contents
t "make-esp: \\cmdline holds the exact bytes given" test_cmdline_exact_bytes
t "make-esp: fixed label LCOW-ESP and volume id 4C43-4F57" test_label_and_volume_id
t "make-esp: size computed from the inputs with headroom" test_size_has_headroom_not_waste
t "make-esp: same inputs, same image (input mtimes ignored)" test_reproducible
t "make-esp: SOURCE_DATE_EPOCH stamps files and directories" test_source_date_epoch_is_the_timestamp
t "make-esp: missing kernel fails cleanly, no output" test_missing_kernel_fails_cleanly
t "make-esp: missing loader fails cleanly, no output" test_missing_loader_fails_cleanly
t "make-esp: missing --cmdline fails cleanly, no output" test_missing_cmdline_option_fails_cleanly
t "make-esp: command line over 1989 bytes refused, no output" test_overlong_cmdline_fails_cleanly
t "make-esp: command line of exactly 1989 bytes accepted" test_longest_cmdline_is_accepted
t "make-esp: invalid UTF-8 command line refused, no output" test_invalid_utf8_fails_cleanly
t "make-esp: a failed run leaves an existing output alone" test_failure_keeps_previous_output

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
