# TAP for the shell tests of scripts/ (sourced): `t NAME CMD...` runs CMD,
# its output dropped, and prints "ok N - NAME" or "not ok N - NAME";
# `tap_done` prints the totals and returns the status.  Each test prints
# its own plan ("1..N"), before or after its checks.
n=0
failed=0
t() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		failed=$((failed + 1))
	fi
}
tap_done() {
	echo "$((n - failed)) passed, $failed failed"
	[ "$failed" -eq 0 ]
}
