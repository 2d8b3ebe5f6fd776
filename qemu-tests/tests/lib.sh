# Shared helpers for the integration tests: TAP output and VM handling.
# Source it; it expects ROOT (repo) and OUT in the environment, as
# ./build.sh test sets them.
set -euo pipefail

: "${ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${OUT:=$ROOT/out}"
BIN=${BIN:-$OUT/bin}
BOOTFILES=${BOOTFILES:-$OUT/bootfiles}
RUN_VM=$ROOT/scripts/run-vm

tap_n=0
tap_failed=0
tap_passed=0

# plan N
plan() { echo "1..$1"; }

# ok COND-EXIT-STATUS NAME: pass when the previous command succeeded.
# Use: check "name" cmd args...
check() {
	local name=$1
	shift
	tap_n=$((tap_n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $tap_n - $name"
		tap_passed=$((tap_passed + 1))
	else
		echo "not ok $tap_n - $name"
		echo "# command: $*"
		tap_failed=$((tap_failed + 1))
	fi
}

# check_log NAME FILE REGEX: FILE has a line matching the extended REGEX.
check_log() {
	local name=$1 file=$2 re=$3
	tap_n=$((tap_n + 1))
	if grep -qE -- "$re" "$file"; then
		echo "ok $tap_n - $name"
		tap_passed=$((tap_passed + 1))
	else
		echo "not ok $tap_n - $name"
		echo "# no line matching /$re/ in $file; its last lines:"
		tail -n 15 "$file" 2>/dev/null | sed 's/^/#   /'
		tap_failed=$((tap_failed + 1))
	fi
}

check_nolog() {
	local name=$1 file=$2 re=$3
	tap_n=$((tap_n + 1))
	if ! grep -qE -- "$re" "$file"; then
		echo "ok $tap_n - $name"
		tap_passed=$((tap_passed + 1))
	else
		echo "not ok $tap_n - $name"
		grep -E -- "$re" "$file" | head -5 | sed 's/^/#   /'
		tap_failed=$((tap_failed + 1))
	fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	local name=$1 want=$2 got=$3
	tap_n=$((tap_n + 1))
	if [ "$want" = "$got" ]; then
		echo "ok $tap_n - $name"
		tap_passed=$((tap_passed + 1))
	else
		echo "not ok $tap_n - $name"
		echo "# expected '$want', got '$got'"
		tap_failed=$((tap_failed + 1))
	fi
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# done_testing: the closing line, and the exit status.
done_testing() {
	echo "$tap_passed passed, $tap_failed failed"
	[ "$tap_failed" -eq 0 ]
}

require_bootfiles() {
	local f
	for f in kernel vmlinux initrd.img; do
		[ -r "$BOOTFILES/$f" ] || { echo "Bail out! no $BOOTFILES/$f (run ./build.sh)"; exit 1; }
	done
}
