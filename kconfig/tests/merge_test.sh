#!/usr/bin/env bash
# The kernel config merge is strict: the real fragments land completely,
# and a fragment asking for something the kernel cannot give fails the
# build, naming the option.  Runs scripts/build-kernel.sh --config-only
# (the first run may extract the kernel source into $CACHE).
set -euo pipefail

usage() { echo "usage: $0   (environment: ROOT, CACHE, KERNEL_SRC)" >&2; exit 2; }
[ $# -eq 0 ] || usage

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export CACHE=${CACHE:-$ROOT/out/cache}
build=$ROOT/scripts/build-kernel.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/merge_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

planned=11
passed=0
failed=0
n=0
echo "1..$planned"
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() { # NAME [DIAGNOSTIC FILE]
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	if [ $# -ge 2 ] && [ -f "$2" ]; then tail -n 20 "$2" | sed 's/^/# /'; fi
}
check() { # NAME COMMAND... : ok when COMMAND succeeds
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# run_build NAME [FRAGMENT...]: --config-only into $tmp/NAME, output in
# $tmp/NAME.out, exit status in $tmp/NAME.rc
run_build() {
	local name=$1; shift
	local args=() f
	for f in "$@"; do args+=(--fragment "$f"); done
	local rc=0
	"$build" --config-only "${args[@]}" "$tmp/$name" >"$tmp/$name.out" 2>&1 || rc=$?
	echo "$rc" >"$tmp/$name.rc"
}
fragment() { # FILE LINE... : a fragment with a proper Help line
	local f=$1; shift
	{ echo "# Help: merge_test fixture"; printf '%s\n' "$@"; } >"$f"
}

# 1-3: the real fragments
run_build real
if [ "$(cat "$tmp/real.rc")" = 0 ] && [ -s "$tmp/real/kernel.config" ]; then
	ok "the real fragments pass the strict check"
else
	not_ok "the real fragments pass the strict check" "$tmp/real.out"
fi
if grep -qx '# CONFIG_MODULES is not set' "$tmp/real/kernel.config" 2>/dev/null &&
	! grep -q '^CONFIG_MODULES=' "$tmp/real/kernel.config"; then
	ok "CONFIG_MODULES is not set in the final config"
else
	not_ok "CONFIG_MODULES is not set in the final config"
fi
missing_y=
for opt in EFI_STUB PVH HYPERV_VSOCKETS VIRTIO_VSOCKETS EXT4_FS OVERLAY_FS NET_9P_FD \
	BLK_DEV_PMEM DM_VERITY CGROUP_BPF SECCOMP_FILTER SERIAL_8250_CONSOLE; do
	grep -qx "CONFIG_$opt=y" "$tmp/real/kernel.config" 2>/dev/null || missing_y="$missing_y $opt"
done
check "key options are built in (=y)${missing_y:+; missing:$missing_y}" test -z "$missing_y"

# 4: every fragment says what it is for
no_help=
for f in "$ROOT"/kconfig/*.config; do
	head -n 1 "$f" | grep -q '^# Help: .' || no_help="$no_help $(basename "$f")"
done
check "every kconfig/*.config starts with a '# Help:' line${no_help:+; not:$no_help}" test -z "$no_help"

# expect_failure NAME OPTION TEXT: the run failed and named OPTION, with TEXT
expect_failure() {
	local name=$1 opt=$2 text=$3
	if [ "$(cat "$tmp/$name.rc")" != 0 ] && grep -q "$opt" "$tmp/$name.out" &&
		grep -qi -- "$text" "$tmp/$name.out"; then
		return 0
	fi
	sed 's/^/# /' "$tmp/$name.out" | tail -n 15
	return 1
}

# 5: an option that does not exist
fragment "$tmp/typo.config" "CONFIG_LCOW_DOES_NOT_EXIST=y"
run_build typo "$tmp/typo.config"
check "a nonexistent option fails the merge, named" \
	expect_failure typo CONFIG_LCOW_DOES_NOT_EXIST "no such option"

# 6: an option whose dependencies are unmet (USB is off in this kernel)
fragment "$tmp/unmet.config" "CONFIG_USB_STORAGE=y"
run_build unmet "$tmp/unmet.config"
check "an option with unmet dependencies fails the merge, named" \
	expect_failure unmet CONFIG_USB_STORAGE "dependencies"

# 7: "is not set" is checked too: a misspelt symbol cannot hide there
fragment "$tmp/typo_n.config" "# CONFIG_LCOW_NOT_A_SYMBOL is not set"
run_build typo_n "$tmp/typo_n.config"
check "a nonexistent option requested 'not set' fails too" \
	expect_failure typo_n CONFIG_LCOW_NOT_A_SYMBOL "no such option"

# 8: an option forced on by another one cannot be switched off
fragment "$tmp/forced.config" "# CONFIG_PNP is not set"
run_build forced "$tmp/forced.config"
check "an option forced on by another (ACPI selects PNP) cannot be unset" \
	expect_failure forced CONFIG_PNP "actual y"

# 9-11: fragment syntax, checked before any source is touched
printf 'CONFIG_VETH=y\n' >"$tmp/nohelp.config"
run_build nohelp "$tmp/nohelp.config"
check "a fragment without a '# Help:' first line is rejected" \
	expect_failure nohelp nohelp.config "# Help:"

fragment "$tmp/garbage.config" "CONFIG_VETH=y" "VETH=y"
run_build garbage "$tmp/garbage.config"
check "an unparsable fragment line is rejected with file and line" \
	expect_failure garbage "garbage.config:3" "cannot parse"

fragment "$tmp/conflict.config" "# CONFIG_EXT4_FS is not set"
run_build conflict "$tmp/conflict.config"
check "two fragments asking for different values conflict" \
	expect_failure conflict CONFIG_EXT4_FS "conflicts with"

[ "$n" -eq "$planned" ] || { echo "# ran $n tests, planned $planned"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
