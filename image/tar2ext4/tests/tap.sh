# shellcheck shell=bash
# A small TAP harness for the image tools' shell tests (sourced).
#
#   t test_name ...        register test functions, in order
#   run_tests [NAME]       run them (or only NAME): "1..N", "ok K - name" /
#                          "not ok K - name" with the test's output as
#                          "# " lines, then "N passed, N failed"; returns 1
#                          when anything failed
#
# Each test runs in its own subshell with `set -e`, in a fresh directory
# under $tmp, and fails on the first failed command or fail().

TAP_TESTS=()

t() {
	TAP_TESTS+=("$@")
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

assert_eq() { # GOT WANT WHAT
	[ "$1" = "$2" ] || fail "$3: got \`$1\`, want \`$2\`"
}

assert_match() { # TEXT REGEX WHAT
	grep -Eq -- "$2" <<<"$1" || fail "$3: \`$(head -c 400 <<<"$1")\` does not match /$2/"
}

assert_le() { # A B WHAT
	[ "$1" -le "$2" ] || fail "$3: $1 > $2"
}

# expect_fail REGEX CMD...: CMD must exit 1 and say something matching REGEX
# on stderr.
expect_fail() {
	local re=$1 rc=0 out
	shift
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -eq 1 ] || fail "\`$*\` exited $rc, want 1 (stderr: $out)"
	assert_match "$out" "$re" "stderr of \`$*\`"
}

run_tests() {
	: "${tmp:?tap.sh: set tmp to a scratch directory first}"
	local only=${1:-} sel=() f n=0 pass=0 failed=0 rc
	for f in "${TAP_TESTS[@]}"; do
		if [ -z "$only" ] || [ "$f" = "$only" ]; then
			sel+=("$f")
		fi
	done
	echo "1..${#sel[@]}"
	for f in "${sel[@]}"; do
		n=$((n + 1))
		mkdir -p "$tmp/$f"
		set +e
		(
			set -e
			cd "$tmp/$f"
			"$f"
		) >"$tmp/$f.log" 2>&1
		rc=$?
		set -e
		if [ "$rc" -eq 0 ]; then
			pass=$((pass + 1))
			echo "ok $n - $f"
		else
			failed=$((failed + 1))
			echo "not ok $n - $f"
			tail -n 40 "$tmp/$f.log" | sed 's/^/# /'
		fi
		# Keep the disk use of one test from adding up.
		rm -rf "${tmp:?}/$f"
	done
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
}
