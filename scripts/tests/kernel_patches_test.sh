#!/usr/bin/env bash
# TAP tests of how scripts/build-kernel.sh applies kernel-patches/ (with
# --patch-only, on a small fake source tree and a private cache): the
# patched copy shares the untouched files with the pristine tree and never
# writes through to it; a new patch set first puts back what the old one
# touched, dated now so the object dir rebuilds it; a patch that does not
# apply fails naming the patch, and the next run recovers; bad patch files
# are refused before anything is copied.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/scripts/build-kernel.sh
tmp=$(mktemp -d /tmp/kernel-patches-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

. "$ROOT/scripts/tests/tap.sh"
plan 17

# A fake kernel tree: what build-kernel.sh looks for, and three sources.
src=$tmp/linux
mkdir -p "$src/arch/x86" "$src/sub"
echo 'all:' >"$src/Makefile"
echo 'mainmenu "fake"' >"$src/Kconfig"
printf 'int a = 1;\n' >"$src/a.c"
printf 'int b = 1;\n' >"$src/b.c"
printf 'int c = 1;\n' >"$src/sub/c.c"
touch -d '-1 day' "$src/a.c" "$src/b.c" "$src/sub/c.c"

# mkpatch DIR NAME FILE OLD NEW: a unified diff of one line of FILE
mkpatch() {
	local dir=$1 name=$2 file=$3 old=$4 new=$5
	mkdir -p "$dir"
	{
		echo "Description of $name."
		echo
		echo "--- a/$file"
		echo "+++ b/$file"
		echo "@@ -1 +1 @@"
		echo "-$old"
		echo "+$new"
	} >"$dir/$name"
}
# run SET: build-kernel.sh --patch-only with patch set SET; stdout in
# $tmp/out, stderr in $tmp/err, the tree's path in $tmp/tree
run() {
	local rc=0
	KERNEL_SRC=$src CACHE=$tmp/cache KERNEL_PATCHES=$tmp/$1 \
		"$BUILD" --patch-only "$tmp/unused" >"$tmp/out" 2>"$tmp/err" || rc=$?
	tail -n 1 "$tmp/out" >"$tmp/tree"
	return "$rc"
}
tree() { cat "$tmp/tree"; }
refused() { ! run "$1"; }

mkpatch "$tmp/one" 0001-a.patch a.c 'int a = 1;' 'int a = 2;'
mkpatch "$tmp/two" 0001-b.patch b.c 'int b = 1;' 'int b = 2;'
cat >"$tmp/two/0002-new.patch" <<'EOF'
A new file.

--- /dev/null
+++ b/sub/new.c
@@ -0,0 +1 @@
+int n = 1;
EOF
cat >"$tmp/two/0003-gone.patch" <<'EOF'
A file deleted.

--- a/sub/c.c
+++ /dev/null
@@ -1 +0,0 @@
-int c = 1;
EOF

check "set one applies" run one
check "the copy has the patched a.c" grep -qx 'int a = 2;' "$(tree)/a.c"
check "the pristine a.c is unchanged" grep -qx 'int a = 1;' "$src/a.c"
check "an untouched file is the pristine one, hard-linked" \
	test "$(stat -c %i "$(tree)/b.c")" = "$(stat -c %i "$src/b.c")"

check "set two applies over set one" run two
check "a.c, touched only by set one, is back to the pristine text" grep -qx 'int a = 1;' "$(tree)/a.c"
check "... and dated now, so make rebuilds it" test "$(tree)/a.c" -nt "$src/a.c"
check "set two's b.c and new file are in the copy" \
	bash -c "grep -qx 'int b = 2;' '$(tree)/b.c' && grep -qx 'int n = 1;' '$(tree)/sub/new.c'"
check "the pristine tree has neither" \
	bash -c "grep -qx 'int b = 1;' '$src/b.c' && [ ! -e '$src/sub/new.c' ]"
check "a file set two deletes is gone from the copy only" \
	bash -c "[ ! -e '$(tree)/sub/c.c' ] && grep -qx 'int c = 1;' '$src/sub/c.c'"

# A set whose second patch does not apply, after a first that does.
mkpatch "$tmp/bad" 0001-c.patch sub/c.c 'int c = 1;' 'int c = 2;'
mkpatch "$tmp/bad" 0002-stale.patch b.c 'int b = 9;' 'int b = 3;'
check "a patch that does not apply fails the run" refused bad
check "... naming the patch" grep -q '0002-stale.patch does not apply' "$tmp/err"
recovered() {
	run one &&
		grep -qx 'int a = 2;' "$(tree)/a.c" &&
		grep -qx 'int b = 1;' "$(tree)/b.c" &&
		grep -qx 'int c = 1;' "$(tree)/sub/c.c" &&
		[ ! -e "$(tree)/sub/new.c" ]
}
check "the next run (set one) recovers: a.c patched; b.c, c.c (deleted, then patched) and the new file undone" recovered
check "no patches: the pristine tree itself is used" \
	bash -c "mkdir -p '$tmp/none' && KERNEL_SRC='$src' CACHE='$tmp/cache' KERNEL_PATCHES='$tmp/none' '$BUILD' --patch-only '$tmp/unused' | tail -n 1 | grep -qx '$src'"

# Refused before anything is touched.
mkdir -p "$tmp/escape" "$tmp/junk"
mkpatch "$tmp/escape" 0001-up.patch ../outside.c 'x' 'y'
echo 'not a diff' >"$tmp/junk/0001-junk.patch"
check "a patch writing outside the tree is refused" refused escape
check "... saying why" grep -q 'outside.c leaves the tree' "$tmp/err"
check "a file that is not a unified diff is refused, saying why" \
	bash -c "! KERNEL_SRC='$src' CACHE='$tmp/cache' KERNEL_PATCHES='$tmp/junk' '$BUILD' --patch-only '$tmp/unused' 2>'$tmp/err' >/dev/null && grep -q 'not a unified diff' '$tmp/err'"

done_testing
