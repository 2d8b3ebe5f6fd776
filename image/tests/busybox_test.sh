#!/usr/bin/env bash
# The guest's busybox, as ./build.sh built it from image/initrd/busybox.config:
# static, linked with musl (not glibc), exactly the applets the fragment's
# `# applets:` lines name, every option of the fragment in the .config it
# was built from, the initrd list uses it, and its tools work.  The strict
# merge refuses an option that does not exist (needs the cached sources).
set -euo pipefail
: "${ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${OUT:=$ROOT/out}"
B=${B:-$OUT/build}
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/lcow-uvm}"
bb=$B/guest/busybox/busybox
built_config=$B/guest/busybox/busybox.config
fragment=$ROOT/image/initrd/busybox.config

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
t() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
diag() { sed 's/^/# /'; }

[ -x "$bb" ] || { echo "1..0 # SKIP no $bb (run ./build.sh)"; exit 0; }
work=$(mktemp -d /tmp/lcow-busybox-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "1..14"

# ---- the binary -------------------------------------------------------------
t "static: an ELF executable with no program interpreter" bash -c \
	"readelf -hW '$bb' | grep -q 'Type: *EXEC' && ! readelf -lW '$bb' | grep -q INTERP"
# musl's strerror(0) text; glibc's static binaries carry GLIBC_* markers.
t "linked with musl, not glibc" bash -c \
	"grep -aq 'No error information' '$bb' && ! grep -aq 'GLIBC' '$bb'"
t "the banner names the Debian source it was built from" bash -c \
	"'$bb' 2>&1 | head -n1 | grep -qE '^BusyBox v1\\.[0-9.]+ \\(Debian [^)]*, musl\\)'"

# ---- the applets ------------------------------------------------------------
sed -n 's/^# applets: //p' "$fragment" | tr ' ' '\n' | grep . | LC_ALL=C sort -u >"$work/want"
"$bb" --list | LC_ALL=C sort -u >"$work/got"
comm -23 "$work/want" "$work/got" >"$work/missing"
comm -13 "$work/want" "$work/got" >"$work/unexpected"
t "the fragment names applets ($(wc -l <"$work/want"))" test -s "$work/want"
if [ ! -s "$work/missing" ]; then ok "every applet of the fragment is in --list"; else
	nok "every applet of the fragment is in --list"
	echo "missing: $(tr '\n' ' ' <"$work/missing")" | diag
fi
if [ ! -s "$work/unexpected" ]; then ok "nothing in --list that the fragment does not name"; else
	nok "nothing in --list that the fragment does not name"
	echo "unexpected: $(tr '\n' ' ' <"$work/unexpected")" | diag
fi
# gen-list.sh places the links by --list-full: every applet with its place.
t "--list-full places every applet in a bin or sbin directory, sh in /bin" bash -c \
	"'$bb' --list-full >'$work/full' && [ \$(grep -c . '$work/full') = \$(grep -c . '$work/got') ] &&
	 ! grep -qvE '^(usr/)?s?bin/[^/]+\$' '$work/full' && grep -qx bin/sh '$work/full'"
t "no applet for what the image provides itself (init, e2fsprogs)" bash -c \
	"! grep -qxE 'init|linuxrc|mke2fs|mkfs\\..*|e2fsck|fsck.*|resize2fs|tune2fs' '$work/got'"

# ---- the configuration ------------------------------------------------------
# Every option line of the fragment, verbatim, in the .config that was built
# ("is not set": no CONFIG_X= line at all).
config_landed() {
	local line sym bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF -- "$line" "$built_config" || { echo "not in the build: $line"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			! grep -q "^$sym=" "$built_config" || { echo "set in the build: $sym"; bad=1; }
			;;
		esac
	done <"$fragment"
	return "$bad"
}
if config_landed >"$work/landed" 2>&1; then ok "every option of the fragment is in the built .config"; else
	nok "every option of the fragment is in the built .config"
	diag <"$work/landed"
fi
t "the initrd list ./build.sh wrote uses this busybox" \
	grep -qxF "file /bin/busybox $bb 0755 0 0" "$B/initrd.list"

# ---- it works -----------------------------------------------------------------
# What the tests' scripts lean on: ash's bash extensions and 64-bit math,
# sed/awk/grep over /proc-like text, tr and head -c, sort -k.
smoke() {
	"$bb" sh -c '
		[[ abc == a* ]] || exit 1
		[ $((1 << 40)) = 1099511627776 ] || exit 2
		x=$(printf "VmRSS:\t  428 kB\n" | sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p")
		[ "$x" = 428 ] || exit 3
		[ "$(printf "a 2\nb 1\n" | sort -k2 | head -n1 | cut -d" " -f1)" = b ] || exit 4
		[ "$(head -c 5 /dev/zero | tr "\0" x)" = xxxxx ] || exit 5
		[ "$(echo "1 2 3" | awk "{ s = \$1 + \$2 + \$3 } END { print s }")" = 6 ] || exit 6
		echo mnt-ok | grep -qE "^mnt-(ok|no)$" || exit 7
		[ "$(seq 1 3 | tr "\n" " ")" = "1 2 3 " ] || exit 8
	'
}
t "ash, sed, awk, grep, sort, cut, tr, head do what the tests' scripts expect" smoke

head -c 300000 /dev/urandom >"$work/data"
want=$(sha256sum <"$work/data" | cut -d' ' -f1)
roundtrip() {
	mkdir "$work/tree" "$work/back"
	cp "$work/data" "$work/tree/data"
	(cd "$work/tree" && "$bb" tar -czf "$work/t.tgz" data) &&
		"$bb" tar -xzf "$work/t.tgz" -C "$work/back" &&
		[ "$("$bb" sha256sum <"$work/back/data" | cut -d' ' -f1)" = "$want" ]
}
t "tar -cz / -xz round trip, sha256sum agrees with coreutils" roundtrip
# remotefs runs zcat, bzcat and xzcat by name for compressed layers.
decompress() {
	gzip -c "$work/data" >"$work/d.gz" && bzip2 -c "$work/data" >"$work/d.bz2" &&
		xz -c "$work/data" >"$work/d.xz" || return 1
	local a
	for a in zcat:gz bzcat:bz2 xzcat:xz; do
		[ "$("$bb" "${a%%:*}" <"$work/d.${a#*:}" | sha256sum | cut -d' ' -f1)" = "$want" ] ||
			{ echo "${a%%:*} differs" | diag; return 1; }
	done
}
t "zcat, bzcat, xzcat decode what gzip, bzip2, xz wrote" decompress

# ---- the strict merge ---------------------------------------------------------
# A fragment asking for an option busybox does not have, against the cached
# sources: the recipe must stop before compiling, naming the option.
strict_merge() {
	local c=$work/cache/musl f v
	mkdir -p "$c"
	for f in "$CACHE"/musl/busybox_*; do ln -s "$f" "$c/"; done
	v=$(cd "$c" && ls busybox_*.orig.tar.* | head -n1)
	v=${v#busybox_}
	v=${v%.orig.tar.*}
	{ cat "$fragment"; echo CONFIG_NOT_A_BUSYBOX_OPTION=y; } >"$work/bad.config"
	if "$ROOT/scripts/build-musl-deps.sh" busybox "$c/busybox-$v-k0" "$work/bad.config" >"$work/strict.log" 2>&1; then
		echo "a fragment with an unknown option was accepted" | diag
		return 1
	fi
	grep -q 'CONFIG_NOT_A_BUSYBOX_OPTION: asked y, got n' "$work/strict.log" &&
		grep -q 'did not land' "$work/strict.log" || { diag <"$work/strict.log"; return 1; }
}
if ls "$CACHE"/musl/busybox_*.orig.tar.* >/dev/null 2>&1; then
	t "the merge is strict: an option that does not land fails the build" strict_merge
else
	ok "the merge is strict # SKIP no busybox sources in $CACHE/musl"
fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
