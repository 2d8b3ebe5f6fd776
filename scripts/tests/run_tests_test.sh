#!/usr/bin/env bash
# scripts/run-tests: how TAP programs are totalled.  A check that was lost
# (fewer results than the plan), a crash without a "not ok", a timeout and
# a silent program are failures; a skip plan is a skip.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=$ROOT/scripts/run-tests
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
prog() { # NAME BODY
	printf '#!/bin/sh\n%s\n' "$2" >"$work/$1"
	chmod +x "$work/$1"
}
# expect NAME "P passed, F failed, S skipped" RC PROGRAM...
expect() {
	local name=$1 want=$2 want_rc=$3 out rc
	shift 3
	set +e
	out=$("$RUN" --timeout 3 --log "$work/logs" --name s "$@" 2>&1)
	rc=$?
	set -e
	if [ "$(echo "$out" | tail -1)" = "s: $want" ] && [ "$rc" = "$want_rc" ]; then
		ok "$name"
	else
		nok "$name"
		echo "$out" | sed 's/^/# /'
	fi
}

echo 1..7
prog good 'echo 1..2; echo "ok 1 - a"; echo "ok 2 - b # SKIP not here"'
expect "passes and skips are counted" "1 passed, 0 failed, 1 skipped" 0 "$work/good"
prog short 'echo 1..3; echo "ok 1 - a"; echo "ok 2 - b"'
expect "fewer results than the plan is a failure" "2 passed, 1 failed, 0 skipped" 1 "$work/short"
prog extra 'echo 1..1; echo "ok 1 - a"; echo "ok 2 - b"'
expect "more results than the plan is a failure" "2 passed, 1 failed, 0 skipped" 1 "$work/extra"
prog crash 'echo "ok 1 - a"; exit 3'
expect "a non-zero exit without 'not ok' is a failure" "1 passed, 1 failed, 0 skipped" 1 "$work/crash"
prog slow 'echo "ok 1 - a"; sleep 30'
expect "a timeout is a failure" "1 passed, 1 failed, 0 skipped" 1 "$work/slow"
prog silent 'true'
expect "a program that prints no result is a failure" "0 passed, 1 failed, 0 skipped" 1 "$work/silent"
prog skipall 'echo "1..0 # SKIP no device"'
expect "a skip plan is one skip" "0 passed, 0 failed, 1 skipped" 0 "$work/skipall" 
