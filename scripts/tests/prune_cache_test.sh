#!/usr/bin/env bash
# TAP tests of scripts/prune-cache: of a set of cache entries it keeps the
# KEEP most recently modified (not the newest by name), removes the rest
# with their lock files and build logs, leaves files and entries outside the set alone,
# does nothing when there are no more than KEEP, and refuses a bad KEEP.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PRUNE=$ROOT/scripts/prune-cache
tmp=$(mktemp -d /tmp/prune-cache-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

. "$ROOT/scripts/tests/tap.sh"
plan 7

c=$tmp/cache
mkdir -p "$c"
# Names and ages disagree on purpose: k3 is the oldest, k1 the newest.
for k in k1 k2 k3 k4; do mkdir "$c/lib-1.0-$k"; : >"$c/lib-1.0-$k/out"; : >"$c/.lib-1.0-$k.lock"; done
touch -d '-4 hours' "$c/lib-1.0-k3"
touch -d '-3 hours' "$c/lib-1.0-k4"
touch -d '-2 hours' "$c/lib-1.0-k2"
touch -d '-1 hours' "$c/lib-1.0-k1"
# The kernel object dirs' layout: lock and log beside the entry.
: >"$c/lib-1.0-k4.lock"; : >"$c/lib-1.0-k4.log"; : >"$c/lib-1.0-k1.log"
mkdir "$c/other-2.0-k9" && touch -d '-9 hours' "$c/other-2.0-k9"
: >"$c/lib_1.0.orig.tar.gz"

check "exit 0 with four entries, KEEP 2" "$PRUNE" 2 "$c"/lib-1.0-k*
check "the two used last stay (k1, k2), whole" test -f "$c/lib-1.0-k1/out" -a -f "$c/lib-1.0-k2/out"
check "the two older go (k3, k4) with their locks" \
	bash -c "[ ! -e '$c/lib-1.0-k3' ] && [ ! -e '$c/lib-1.0-k4' ] && [ ! -e '$c/.lib-1.0-k3.lock' ] && [ -e '$c/.lib-1.0-k1.lock' ]"
check "a removed entry's lock and log beside it go, a kept one's log stays" \
	bash -c "[ ! -e '$c/lib-1.0-k4.lock' ] && [ ! -e '$c/lib-1.0-k4.log' ] && [ -e '$c/lib-1.0-k1.log' ]"
check "entries outside the set and plain files stay" test -d "$c/other-2.0-k9" -a -f "$c/lib_1.0.orig.tar.gz"
"$PRUNE" 3 "$c"/lib-1.0-k* "$c/missing"
check "no more than KEEP: nothing goes (a missing path is not an entry)" test -d "$c/lib-1.0-k1" -a -d "$c/lib-1.0-k2"
rc=0
"$PRUNE" 0 "$c"/lib-1.0-k* 2>/dev/null || rc=$?
check "KEEP 0 is refused (exit 2), nothing goes" bash -c "[ $rc = 2 ] && [ -d '$c/lib-1.0-k1' ]"

done_testing
