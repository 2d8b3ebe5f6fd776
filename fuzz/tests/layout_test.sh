#!/usr/bin/env bash
# TAP tests of the fuzzing set-up that need no clang: the checked-in seeds
# are what fuzz/gen-corpus.py writes, every target scripts/run-fuzz knows has
# its source, build rule, seeds and dictionary, regression inputs sit in a
# known target's folder, and run-fuzz refuses bad arguments.  (The targets
# themselves run in the `fuzz` suite: scripts/run-fuzz.)
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
RUN_FUZZ=$ROOT/scripts/run-fuzz

n=0
failed=0
check() { # NAME COMMAND...
	local name=$1
	shift
	n=$((n + 1))
	local out
	if out=$("$@" 2>&1); then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		sed 's/^/# /' <<<"$out" | head -20
		failed=$((failed + 1))
	fi
}

targets() {
	sed -n 's/^ALL_TARGETS=(\(.*\))$/\1/p' "$RUN_FUZZ"
}

seeds_are_generated() {
	command -v python3 >/dev/null || { echo "python3 missing"; return 1; }
	python3 "$ROOT/fuzz/gen-corpus.py" --check
}

every_target_is_complete() {
	local t bad=0 list
	list=$(targets)
	[ -n "$list" ] || { echo "no ALL_TARGETS in $RUN_FUZZ"; return 1; }
	for t in $list; do
		[ -f "$ROOT/fuzz/$t.c" ] || { echo "$t: no fuzz/$t.c"; bad=1; }
		grep -q "LLVMFuzzerTestOneInput" "$ROOT/fuzz/$t.c" 2>/dev/null ||
			{ echo "$t: no LLVMFuzzerTestOneInput"; bad=1; }
		grep -qw "$t" <<<"$(sed -n 's/^FUZZ_TARGETS := //p' "$ROOT/fuzz/build.mk")" ||
			{ echo "$t: not in FUZZ_TARGETS"; bad=1; }
		[ -n "$(ls -A "$ROOT/fuzz/corpus/$t" 2>/dev/null)" ] || { echo "$t: no seeds"; bad=1; }
		[ -s "$ROOT/fuzz/dict/$t.dict" ] || { echo "$t: no dictionary"; bad=1; }
	done
	return "$bad"
}

regressions_belong_to_targets() {
	local d bad=0 list
	list=" $(targets) "
	for d in "$ROOT"/fuzz/regressions/*/; do
		[ -d "$d" ] || continue
		d=$(basename "$d")
		[[ "$list" == *" $d "* ]] || { echo "fuzz/regressions/$d: no such target"; bad=1; }
	done
	return "$bad"
}

seeds_are_small() {
	local big
	big=$(find "$ROOT/fuzz/corpus" "$ROOT/fuzz/regressions" -type f -size +64k)
	[ -z "$big" ] || { echo "over 64 KiB: $big"; return 1; }
}

rejects() { # EXPECTED-STATUS ARGS...
	local want=$1 rc=0
	shift
	"$RUN_FUZZ" "$@" >/dev/null 2>&1 || rc=$?
	[ "$rc" = "$want" ] || { echo "run-fuzz $*: status $rc, want $want"; return 1; }
}

check "checked-in seeds are what gen-corpus.py writes" seeds_are_generated
check "every target has source, build rule, seeds and dictionary" every_target_is_complete
check "regression folders are named for targets" regressions_belong_to_targets
check "seeds and regression inputs are small files" seeds_are_small
check "run-fuzz refuses an unknown target" rejects 2 --no-build --time 0 nosuchtarget
check "run-fuzz refuses a non-numeric --time" rejects 2 --time soon
check "run-fuzz refuses --jobs 0" rejects 2 --jobs 0
echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
