# TAP for the project's shell tests (sourced): scripts/tests/*_test.sh and,
# through qemu-tests/tests/lib.sh, the integration tests.
#   plan N             "1..N", before or after the checks
#   check NAME CMD...  runs CMD, its output dropped: "ok K - NAME", or
#                      "not ok K - NAME" and the command as a "# " line
#   done_testing       the totals line; fails when a check failed
#   tap_ok NAME / tap_not_ok NAME: one result line, counted, for checks of
#                      other shapes (the caller prints its "# " lines after)
# tap_n, tap_passed and tap_failed count the results.
tap_n=0
tap_passed=0
tap_failed=0

plan() { echo "1..$1"; }

tap_ok() {
	tap_n=$((tap_n + 1))
	tap_passed=$((tap_passed + 1))
	echo "ok $tap_n - $1"
}

tap_not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
}

check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		tap_ok "$name"
	else
		tap_not_ok "$name"
		echo "# command: $*"
	fi
}

done_testing() {
	echo "$tap_passed passed, $tap_failed failed"
	[ "$tap_failed" -eq 0 ]
}
