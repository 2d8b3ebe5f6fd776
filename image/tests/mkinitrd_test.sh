#!/usr/bin/env bash
# TAP tests of $BIN/mkinitrd and image/initrd/gen-list.sh.  Archives are read
# back with two independent tools (bsdtar and GNU cpio) and compared with
# what the list says.  Assumes `make all` has run.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
MKINITRD=$BIN/mkinitrd
GENLIST=$ROOT/image/initrd/gen-list.sh
BUSYBOX=${BUSYBOX:-/bin/busybox}

usage() {
	echo "usage: $0 [TEST_NAME]   (env: ROOT OUT BIN BUSYBOX)" >&2
	exit 2
}
case ${1:-} in -h | --help) usage ;; esac

for tool in bsdtar cpio gzip lz4 python3 cmp; do
	command -v "$tool" >/dev/null || { echo "$0: missing $tool" >&2; exit 1; }
done
[ -x "$MKINITRD" ] || { echo "$0: $MKINITRD not built (run make all)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkinitrd_test.XXXXXX")
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# --- helpers -----------------------------------------------------------------

fail() {
	echo "$*" >&2
	return 1
}

assert_eq() { # GOT WANT WHAT
	if [ "$1" != "$2" ]; then
		echo "$3: differs (- want, + got):" >&2
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$1") | sed -n '3,40p' >&2 || true
		return 1
	fi
}

assert_match() { # TEXT REGEX WHAT
	if ! grep -Eq -- "$2" <<<"$1"; then
		echo "$3: \`$1\` does not match /$2/" >&2
		return 1
	fi
}

# ls-style mode string: mode_string TYPECHAR OCTAL_PERM
mode_string() {
	local p=$((8#$2)) s=$1 rwx=rwxrwxrwx i c
	for ((i = 0; i < 9; i++)); do
		if (((p >> (8 - i)) & 1)); then s+=${rwx:i:1}; else s+=-; fi
	done
	if ((p & 04000)); then
		if [ "${s:3:1}" = x ]; then c=s; else c=S; fi
		s=${s:0:3}$c${s:4}
	fi
	if ((p & 02000)); then
		if [ "${s:6:1}" = x ]; then c=s; else c=S; fi
		s=${s:0:6}$c${s:7}
	fi
	if ((p & 01000)); then
		if [ "${s:9:1}" = x ]; then c=t; else c=T; fi
		s=${s:0:9}$c
	fi
	printf '%s\n' "$s"
}

# What a listing must show for a list: "MODE UID GID NAME [-> TARGET|dev=MAJ,MIN]",
# sorted by name.  An independent model of the list format, for the
# simple names the fixtures use ("/a/b", no "." components).
expected_listing() { # LIST [IMPLICIT_DIR...]
	local list=$1 kind name a b c d e f g l
	shift
	{
		while read -r kind name a b c d e f g; do
			case $kind in '' | '#'*) continue ;; esac
			name=${name#/}
			case $kind in
			dir) echo "$(mode_string d "$a") $b $c $name" ;;
			pipe) echo "$(mode_string p "$a") $b $c $name" ;;
			sock) echo "$(mode_string s "$a") $b $c $name" ;;
			nod) echo "$(mode_string "$d" "$a") $b $c $name dev=$e,$f" ;;
			slink) echo "$(mode_string l "$b") $c $d $name -> $a" ;;
			file)
				echo "$(mode_string - "$b") $c $d $name"
				for l in $e $f $g; do echo "$(mode_string - "$b") $c $d ${l#/}"; done
				;;
			esac
		done <"$list"
		for name in "$@"; do echo "drwxr-xr-x 0 0 $name"; done
	} | LC_ALL=C sort -t' ' -k4,4
}

# Normalise a `tar -tv`-style listing (bsdtar, or GNU cpio -tvn) to the
# format above.  GNU cpio prints devices as "5,   1": join them first.
normalise_listing() {
	sed -E 's/([0-9]+), +([0-9]+)/\1,\2/' | awk '{
		mode = $1; name = $9; extra = ""
		sub(/\/$/, "", name)
		if (mode ~ /^h/) mode = "-" substr(mode, 2)   # tar hard link
		if (mode ~ /^l/) extra = " -> " $11
		else if (mode ~ /^[cb]/) extra = " dev=" $5
		print mode, $3, $4, name extra
	}'
}

list_bsdtar() { bsdtar -tvf "$1" | normalise_listing; }
list_cpio() { gzip -dc "$1" | cpio -itvn --quiet | normalise_listing; }
names_of() { bsdtar -tf "$1" | sed 's|/$||'; }

# Exact metadata per entry, "NAME uid=U gid=G time=T" (T in whole seconds,
# a fraction would show), from bsdtar's mtree conversion.
mtree_of() {
	bsdtar -cf - --format mtree --options '!all,uid,gid,time' "@$1" | awk '
		/^#/ || NF == 0 { next }
		{
			delete v
			for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); x = $i; sub(/^[^=]*=/, "", x); v[k] = x }
			t = v["time"]; sub(/\.0+$/, "", t)
			print $1, "uid=" v["uid"], "gid=" v["gid"], "time=" t
		}'
}

# Expect mkinitrd to fail: expect_failure OUTDIR REGEX ARGS...
# Checks the exit status, the message, and that OUTDIR stays empty (no
# output, no temporary file).
expect_failure() {
	local dir=$1 re=$2 rc=0
	shift 2
	"$MKINITRD" "$@" 2>"$tmp/stderr" >/dev/null || rc=$?
	[ "$rc" -eq 1 ] || fail "mkinitrd $*: exit status $rc, want 1"
	local msg
	msg=$(cat "$tmp/stderr")
	assert_match "$msg" "$re" "error message"
	[ -z "$(ls -A "$dir")" ] || fail "left behind in $dir: $(ls -A "$dir")"
}

# --- fixture -----------------------------------------------------------------

src=$tmp/src
mkdir -p "$src"
printf 'hello world\n' >"$src/hello"
printf '#!/bin/sh\necho run\n' >"$src/run.sh"
head -c 70000 /dev/urandom >"$src/data"

fixture=$tmp/fixture.list
cat >"$fixture" <<'EOF'
# every entry type, out of order on purpose
file /usr/lib/deep/data data 0400 1000 100
dir /bin 0755 0 0
file /bin/hello hello 0644 0 0
file /bin/run run.sh 0755 0 0 /sbin/run2
slink /bin/sh /bin/busybox 0777 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/sda 0660 0 6 b 8 16

dir /dev 0755 0 0
pipe /run/fifo 0620 0 0
sock /run/sock 0600 0 0
dir /tmp 1777 0 0
dir /setid 6750 0 0
EOF
fixture_implicit=(run sbin usr usr/lib usr/lib/deep)

# Same without the socket, which tar cannot store.
fixture_tar=$tmp/fixture-tar.list
grep -v '^sock' "$fixture" >"$fixture_tar"

build_fixture() { # OUT [ARGS...]
	local o=$1
	shift
	"$MKINITRD" -C "$src" -o "$o" "$@" "$fixture"
}

tests=()

# --- mkinitrd: round trip ------------------------------------------------------

t_roundtrip_bsdtar() {
	build_fixture "$tmp/a.img" --mtime 1234567890
	assert_eq "$(list_bsdtar "$tmp/a.img")" \
		"$(expected_listing "$fixture" "${fixture_implicit[@]}")" "bsdtar -tvf listing"
}
tests+=(t_roundtrip_bsdtar)

t_roundtrip_gnu_cpio() {
	build_fixture "$tmp/a.img"
	assert_eq "$(list_cpio "$tmp/a.img")" \
		"$(expected_listing "$fixture" "${fixture_implicit[@]}")" "cpio -itv listing"
}
tests+=(t_roundtrip_gnu_cpio)

t_contents_survive() {
	build_fixture "$tmp/a.img"
	mkdir "$tmp/x"
	gzip -dc "$tmp/a.img" | (cd "$tmp/x" && cpio -id --quiet --no-absolute-filenames \
		bin/hello bin/run sbin/run2 usr/lib/deep/data)
	cmp "$src/hello" "$tmp/x/bin/hello"
	cmp "$src/data" "$tmp/x/usr/lib/deep/data"
	cmp "$src/run.sh" "$tmp/x/sbin/run2"
	cmp "$src/run.sh" "$tmp/x/bin/run"
	# GNU cpio recreates the hard link from the shared inode number.
	[ "$(stat -c %i "$tmp/x/bin/run")" = "$(stat -c %i "$tmp/x/sbin/run2")" ] ||
		fail "bin/run and sbin/run2 are not one inode"
}
tests+=(t_contents_survive)

t_hard_links_have_nlink_2() {
	build_fixture "$tmp/a.img"
	local got
	got=$(gzip -dc "$tmp/a.img" | cpio -itvn --quiet | awk '$9 == "bin/run" || $9 == "sbin/run2" { print $2, $9 }')
	assert_eq "$got" $'2 bin/run\n2 sbin/run2' "nlink of hard links"
}
tests+=(t_hard_links_have_nlink_2)

t_owner_from_list() {
	build_fixture "$tmp/a.img"
	local m bad
	m=$(mtree_of "$tmp/a.img")
	bad=$(grep -vE '^\./(usr/lib/deep/data|dev/sda) ' <<<"$m" | grep -v ' uid=0 gid=0 ' || true)
	[ -z "$bad" ] || fail "not 0:0: $bad"
	assert_match "$(grep '^\./usr/lib/deep/data ' <<<"$m")" ' uid=1000 gid=100 ' "data owner"
	assert_match "$(grep '^\./dev/sda ' <<<"$m")" ' uid=0 gid=6 ' "dev/sda owner"
}
tests+=(t_owner_from_list)

all_times() { mtree_of "$1" | awk '{ print $4 }' | sort -u; }

t_mtime_option() {
	build_fixture "$tmp/a.img" --mtime 1700000000
	assert_eq "$(all_times "$tmp/a.img")" "time=1700000000" "mtimes"
	[ "$(mtree_of "$tmp/a.img" | wc -l)" -ge 10 ] || fail "too few entries"
}
tests+=(t_mtime_option)

t_mtime_source_date_epoch() {
	SOURCE_DATE_EPOCH=1111111111 build_fixture "$tmp/a.img"
	assert_eq "$(all_times "$tmp/a.img")" "time=1111111111" "SOURCE_DATE_EPOCH"
	SOURCE_DATE_EPOCH=1111111111 build_fixture "$tmp/b.img" --mtime 42
	assert_eq "$(all_times "$tmp/b.img")" "time=42" "--mtime overrides"
	(unset SOURCE_DATE_EPOCH && build_fixture "$tmp/c.img")
	assert_eq "$(all_times "$tmp/c.img")" "time=0" "default"
	local rc=0
	SOURCE_DATE_EPOCH=yesterday build_fixture "$tmp/d.img" 2>"$tmp/err" || rc=$?
	if [ "$rc" -eq 0 ] || [ -e "$tmp/d.img" ]; then fail "bad SOURCE_DATE_EPOCH accepted"; fi
	assert_match "$(cat "$tmp/err")" "SOURCE_DATE_EPOCH \`yesterday\`" "message"
}
tests+=(t_mtime_source_date_epoch)

t_reproducible() {
	local f
	for f in cpio tar; do
		"$MKINITRD" -C "$src" -o "$tmp/1.$f" --format "$f" "$fixture_tar"
	done
	sleep 1.1
	touch "$src"/*
	chmod 0600 "$src/hello"
	for f in cpio tar; do
		"$MKINITRD" -C "$src" -o "$tmp/2.$f" --format "$f" "$fixture_tar"
		cmp "$tmp/1.$f" "$tmp/2.$f"
	done
	chmod 0644 "$src/hello"
	# The gzip header carries no time (bytes 4-7) and no file name (flag 0x08).
	assert_eq "$(od -An -tx1 -N8 "$tmp/1.cpio" | tr -d ' ')" "1f8b080000000000" "gzip header"
}
tests+=(t_reproducible)

t_sorted_by_name() {
	build_fixture "$tmp/a.img"
	local names
	names=$(names_of "$tmp/a.img")
	assert_eq "$names" "$(LC_ALL=C sort <<<"$names")" "archive order"
	# Every parent comes before its children.
	awk '{ seen[$0] = 1; n = split($0, p, "/"); path = p[1]
	       for (i = 2; i <= n; i++) { if (!(path in seen)) { print "orphan " $0; exit 1 }
	                                  path = path "/" p[i] } }' <<<"$names"
}
tests+=(t_sorted_by_name)

t_implicit_parents() {
	printf 'file /a/b/c/f hello 0644 0 0\ndir /a/b 0700 0 0\n' >"$tmp/l"
	"$MKINITRD" -C "$src" -o "$tmp/a.img" "$tmp/l"
	assert_eq "$(list_bsdtar "$tmp/a.img")" \
		$'drwxr-xr-x 0 0 a\ndrwx------ 0 0 a/b\ndrwxr-xr-x 0 0 a/b/c\n-rw-r--r-- 0 0 a/b/c/f' \
		"implicit parents (0755 0:0) and the explicit a/b (0700)"
}
tests+=(t_implicit_parents)

t_names_normalised() {
	printf 'dir //a/./b/ 0755 0 0\nslink a/l x 0777 0 0\n' >"$tmp/l"
	"$MKINITRD" -o "$tmp/a.img" "$tmp/l"
	assert_eq "$(names_of "$tmp/a.img")" $'a\na/b\na/l' "names"
}
tests+=(t_names_normalised)

t_stdin_and_cwd_locations() {
	(cd "$src" && printf 'file /h hello 0644 0 0\n' | "$MKINITRD" -o "$tmp/a.img" -)
	gzip -dc "$tmp/a.img" | cpio -i --quiet --to-stdout h >"$tmp/h"
	cmp "$src/hello" "$tmp/h"
}
tests+=(t_stdin_and_cwd_locations)

t_output_mode_follows_umask() {
	(umask 027 && build_fixture "$tmp/a.img")
	assert_eq "$(stat -c %a "$tmp/a.img")" 640 "mode with umask 027"
}
tests+=(t_output_mode_follows_umask)

t_uncompressed_cpio_is_newc() {
	build_fixture "$tmp/a.cpio" --compress none
	assert_eq "$(head -c 6 "$tmp/a.cpio")" 070701 "newc magic"
	build_fixture "$tmp/a.img"
	gzip -t "$tmp/a.img"
	cmp <(gzip -dc "$tmp/a.img") "$tmp/a.cpio"
}
tests+=(t_uncompressed_cpio_is_newc)

# --- LZ4 legacy frame (what the kernel's decompress_unlz4.c reads) -------------

LZ4_MAGIC=02214c18 # 0x184C2102, little-endian

# The frame's block sizes, one a line, checking that it is the magic and
# then nothing but whole blocks, none empty, each within LZ4_compressBound
# of 8 MiB (the kernel's limit), up to the exact end of the file.
lz4_blocks() {
	python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == bytes.fromhex("02214c18"), "no legacy magic"
bound = (8 << 20) + (8 << 20) // 255 + 16
pos = 4
while pos < len(data):
    assert pos + 4 <= len(data), "truncated size field at %d" % pos
    (n,) = struct.unpack_from("<I", data, pos)
    assert 0 < n <= bound, "block size %d at %d" % (n, pos)
    pos += 4 + n
    assert pos <= len(data), "block at %d runs past the end" % (pos - n)
    print(n)
PY
}

t_lz4_legacy_frame() {
	build_fixture "$tmp/a.cpio" --compress none
	build_fixture "$tmp/a.lz4" --compress lz4
	assert_eq "$(od -An -tx1 -N4 "$tmp/a.lz4" | tr -d ' ')" "$LZ4_MAGIC" "legacy magic"
	lz4 -t "$tmp/a.lz4"
	lz4 -dc "$tmp/a.lz4" | cmp - "$tmp/a.cpio"
	assert_eq "$(lz4_blocks "$tmp/a.lz4" | wc -l)" 1 "blocks of a small archive"
	# Same framing and level as the reference tool (HC, level 12).
	lz4 -l -12 -c "$tmp/a.cpio" | cmp - "$tmp/a.lz4"
	# gzip stays the default for cpio.
	build_fixture "$tmp/a.img"
	gzip -t "$tmp/a.img"
}
tests+=(t_lz4_legacy_frame)

t_lz4_reproducible() {
	build_fixture "$tmp/1.lz4" --compress lz4
	sleep 1.1
	touch "$src"/*
	build_fixture "$tmp/2.lz4" --compress lz4
	cmp "$tmp/1.lz4" "$tmp/2.lz4"
	build_fixture "$tmp/3.lz4" --compress lz4 --mtime 5
	! cmp -s "$tmp/1.lz4" "$tmp/3.lz4" || fail "--mtime did not change the lz4 output"
}
tests+=(t_lz4_reproducible)

t_lz4_spans_blocks() {
	# 17 MiB of mixed data: the cpio needs three 8 MiB blocks.
	head -c $((9 << 20)) /dev/urandom >"$tmp/rand"
	head -c $((6 << 20)) /dev/urandom | base64 >"$tmp/text"
	printf 'file /rand rand 0644 0 0\nfile /text text 0644 0 0\n' >"$tmp/l"
	"$MKINITRD" -C "$tmp" --compress none -o "$tmp/big.cpio" "$tmp/l"
	"$MKINITRD" -C "$tmp" --compress lz4 -o "$tmp/big.lz4" "$tmp/l"
	lz4 -dc "$tmp/big.lz4" | cmp - "$tmp/big.cpio"
	local size blocks
	size=$(stat -c %s "$tmp/big.cpio")
	blocks=$(lz4_blocks "$tmp/big.lz4")
	assert_eq "$(wc -l <<<"$blocks")" $(((size + (8 << 20) - 1) >> 23)) "block count"
	# Each block alone is a frame: all but the last hold exactly 8 MiB.
	local off=4 i=0 n out
	while read -r n; do
		i=$((i + 1))
		{
			printf '\x02\x21\x4c\x18'
			dd if="$tmp/big.lz4" iflag=skip_bytes,count_bytes skip="$off" count=$((4 + n)) status=none
		} >"$tmp/one"
		out=$(lz4 -dc "$tmp/one" | wc -c)
		if [ "$i" -lt "$(wc -l <<<"$blocks")" ]; then
			assert_eq "$out" $((8 << 20)) "block $i uncompressed size"
		else
			assert_eq "$out" $((size - (i - 1) * (8 << 20))) "last block uncompressed size"
		fi
		off=$((off + 4 + n))
	done <<<"$blocks"
	assert_eq "$off" "$(stat -c %s "$tmp/big.lz4")" "frame ends with the file"
	# The contents survive, as the kernel would unpack them.
	mkdir "$tmp/x"
	lz4 -dc "$tmp/big.lz4" | (cd "$tmp/x" && cpio -id --quiet)
	cmp "$tmp/rand" "$tmp/x/rand"
	cmp "$tmp/text" "$tmp/x/text"
}
tests+=(t_lz4_spans_blocks)

t_lz4_exact_block_no_empty_block() {
	# A cpio of exactly 8 MiB gives one block and no empty one after it
	# (the kernel reads a size of 0 as the end).  newc: 110-byte header,
	# name "f\0" padded to 4, the data, then the 124-byte trailer entry.
	local data=$(((8 << 20) - 112 - 124))
	head -c "$data" /dev/zero >"$tmp/f"
	printf 'file /f f 0644 0 0\n' >"$tmp/l"
	"$MKINITRD" -C "$tmp" --compress none -o "$tmp/e.cpio" "$tmp/l"
	assert_eq "$(stat -c %s "$tmp/e.cpio")" $((8 << 20)) "cpio size"
	"$MKINITRD" -C "$tmp" --compress lz4 -o "$tmp/e.lz4" "$tmp/l"
	assert_eq "$(lz4_blocks "$tmp/e.lz4" | wc -l)" 1 "blocks"
	lz4 -dc "$tmp/e.lz4" | cmp - "$tmp/e.cpio"
}
tests+=(t_lz4_exact_block_no_empty_block)

t_streams_large_files() {
	[ -x /usr/bin/time ] || { echo "SKIP no /usr/bin/time"; return 0; }
	truncate -s 96M "$tmp/big"
	printf 'file /big big 0644 0 0\n' >"$tmp/l"
	local kb
	kb=$( { /usr/bin/time -f %M "$MKINITRD" -C "$tmp" --compress none -o "$tmp/big.cpio" "$tmp/l"; } 2>&1)
	[ "$(stat -c %s "$tmp/big.cpio")" -gt $((96 << 20)) ] || fail "archive too small"
	# Under ASan (SANITIZE=1) the baseline is larger; the file is 96 MiB.
	[ "$kb" -lt 65536 ] || fail "max RSS ${kb} KiB: file read into memory?"
}
tests+=(t_streams_large_files)

# --- mkinitrd: errors leave nothing behind -------------------------------------

t_err_missing_source() {
	mkdir "$tmp/o"
	printf 'dir /a 0755 0 0\nfile /a/x nope 0644 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "^mkinitrd: $tmp/l:2: source \`$src/nope\`: No such file or directory$" \
		-C "$src" -o "$tmp/o/out.img" "$tmp/l"
}
tests+=(t_err_missing_source)

t_err_syntax_line_number() {
	mkdir "$tmp/o"
	printf '# c\ndir /a 0755 0 0\n\nfile /a/x hello 0644 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "^mkinitrd: $tmp/l:4: \`file\` takes 5 fields, got 4" \
		-C "$src" -o "$tmp/o/out.img" "$tmp/l"
	printf 'dir /a 0755 0 0\ndirectory /b 0755 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "^mkinitrd: $tmp/l:2: unknown entry type \`directory\`" \
		-o "$tmp/o/out.img" "$tmp/l"
	printf 'dir /a 0955 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "^mkinitrd: $tmp/l:1: bad mode \`0955\`" -o "$tmp/o/out.img" "$tmp/l"
}
tests+=(t_err_syntax_line_number)

t_err_dotdot() {
	mkdir "$tmp/o"
	printf 'dir /a 0755 0 0\nslink /a/../etc x 0777 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "^mkinitrd: $tmp/l:2: name \`/a/../etc\`: \`..\` components are not allowed$" \
		-o "$tmp/o/out.img" "$tmp/l"
}
tests+=(t_err_dotdot)

t_err_duplicates_name_both_lines() {
	mkdir "$tmp/o"
	printf 'dir /etc 0755 0 0\nfile /etc/hosts hello 0644 0 0\n' >"$tmp/l1"
	printf '# second list\nslink /etc//hosts/ x 0777 0 0\n' >"$tmp/l2"
	expect_failure "$tmp/o" \
		"^mkinitrd: $tmp/l2:2: duplicate entry \`etc/hosts\` \\(first at $tmp/l1:2\\)$" \
		-C "$src" -o "$tmp/o/out.img" "$tmp/l1" "$tmp/l2"
}
tests+=(t_err_duplicates_name_both_lines)

t_err_source_not_regular() {
	mkdir "$tmp/o" "$src/adir"
	mkfifo "$src/fifo"
	printf 'file /x adir 0644 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "source \`$src/adir\` is not a regular file \\(it is a directory\\)" \
		-C "$src" -o "$tmp/o/out.img" "$tmp/l"
	# Must not block on a fifo with no writer.
	printf 'file /x fifo 0644 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "source \`$src/fifo\` is not a regular file \\(it is a fifo\\)" \
		-C "$src" -o "$tmp/o/out.img" "$tmp/l"
	rmdir "$src/adir"
	rm "$src/fifo"
}
tests+=(t_err_source_not_regular)

t_err_unreadable_source() {
	if [ "$(id -u)" -eq 0 ]; then
		echo "SKIP root can read any file"
		return 0
	fi
	mkdir "$tmp/o"
	cp "$src/hello" "$tmp/secret"
	chmod 000 "$tmp/secret"
	printf 'file /x secret 0644 0 0\n' >"$tmp/l"
	expect_failure "$tmp/o" "source \`$tmp/secret\`: Permission denied" \
		-C "$tmp" -o "$tmp/o/out.img" "$tmp/l"
}
tests+=(t_err_unreadable_source)

t_err_keeps_previous_output() {
	mkdir "$tmp/o"
	build_fixture "$tmp/o/out.img"
	cp "$tmp/o/out.img" "$tmp/before"
	printf 'file /x nope 0644 0 0\n' >"$tmp/l"
	local rc=0
	"$MKINITRD" -o "$tmp/o/out.img" "$tmp/l" 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ] || fail "exit status $rc, want 1"
	cmp "$tmp/before" "$tmp/o/out.img"
	assert_eq "$(ls -A "$tmp/o")" out.img "directory contents"
}
tests+=(t_err_keeps_previous_output)

t_err_tar_socket() {
	mkdir "$tmp/o"
	local line
	line=$(grep -n '^sock ' "$fixture" | cut -d: -f1)
	expect_failure "$tmp/o" "$fixture:$line: \`run/sock\`: tar cannot store sockets" \
		-C "$src" --format tar -o "$tmp/o/out.tar" "$fixture"
}
tests+=(t_err_tar_socket)

t_err_usage() {
	local rc
	for args in "" "-o" "--format zip -o x l" "--compress xz -o x l" "--mtime -1 -o x l" \
		"--mtime 1e9 -o x l" "-o x" "--bogus"; do
		rc=0
		# shellcheck disable=SC2086 # split on purpose
		(cd "$tmp" && "$MKINITRD" $args) >/dev/null 2>&1 || rc=$?
		[ "$rc" -eq 2 ] || fail "\`mkinitrd $args\`: exit $rc, want 2"
	done
	[ ! -e "$tmp/x" ] || fail "usage error created output"
	"$MKINITRD" --help | grep -q '^usage: mkinitrd -o OUT'
}
tests+=(t_err_usage)

# --- tar -----------------------------------------------------------------------

t_tar_lists_same_entries() {
	"$MKINITRD" -C "$src" -o "$tmp/a.img" "$fixture_tar"
	"$MKINITRD" -C "$src" -o "$tmp/a.tar" --format tar "$fixture_tar"
	bsdtar -tf "$tmp/a.tar" >/dev/null
	[ "$(head -c 2 "$tmp/a.tar" | od -An -tx1 | tr -d ' ')" != 1f8b ] || fail "tar is compressed"
	assert_eq "$(list_bsdtar "$tmp/a.tar")" "$(list_bsdtar "$tmp/a.img")" "tar vs cpio"
	assert_eq "$(list_bsdtar "$tmp/a.tar")" \
		"$(expected_listing "$fixture_tar" "${fixture_implicit[@]}")" "tar vs list"
	# GNU tar must agree too: it is what most consumers resemble.
	if command -v tar >/dev/null; then
		assert_eq "$(tar -tf "$tmp/a.tar" | sed 's|/$||')" "$(names_of "$tmp/a.img")" "GNU tar names"
	fi
}
tests+=(t_tar_lists_same_entries)

# --- gen-list.sh and the skeleton ---------------------------------------------

t_skeleton_image() {
	"$MKINITRD" -C "$ROOT/image/initrd" -o "$tmp/skel.img" "$ROOT/image/initrd/skeleton.list"
	local l
	l=$(list_bsdtar "$tmp/skel.img")
	local want
	for want in "crw------- 0 0 dev/console dev=5,1" "crw-rw-rw- 0 0 dev/null dev=1,3" \
		"drwxrwxrwt 0 0 tmp" "drwx------ 0 0 root" "drwxr-xr-x 0 0 dev/pts" \
		"dr-xr-xr-x 0 0 proc" "-rw-r--r-- 0 0 etc/passwd" "-rw-r--r-- 0 0 etc/group"; do
		grep -qxF -- "$want" <<<"$l" || fail "missing \`$want\`"
	done
	for want in bin sbin usr/bin usr/sbin lib etc proc sys dev dev/shm run var var/log var/tmp mnt \
		etc/hosts etc/resolv.conf; do
		grep -qE " $want( |$)" <<<"$l" || fail "missing $want"
	done
	grep -q '^root:x:0:0:' "$ROOT/image/initrd/etc/passwd"
	grep -q '^nobody:x:65534:65534:' "$ROOT/image/initrd/etc/passwd"
}
tests+=(t_skeleton_image)

need_busybox() {
	if ! "$BUSYBOX" --list-full >/dev/null 2>&1; then
		echo "SKIP no busybox at $BUSYBOX"
		return 1
	fi
}

t_genlist_busybox_links() {
	need_busybox || return 0
	printf 'init\n' >"$tmp/init"
	printf 'gcs\n' >"$tmp/gcs"
	"$GENLIST" --file "/init=$tmp/init:0755" --file "/bin/gcs=$tmp/gcs" --busybox "$BUSYBOX" \
		>"$tmp/full.list"
	grep -qxF "slink /bin/sh /bin/busybox 0777 0 0" "$tmp/full.list" || fail "no /bin/sh link"
	grep -qxF "file /bin/busybox $BUSYBOX 0755 0 0" "$tmp/full.list" || fail "no busybox"
	grep -qxF "file /init $tmp/init 0755 0 0" "$tmp/full.list" || fail "no /init"
	# No mode given and not executable: 0644.
	grep -qxF "file /bin/gcs $tmp/gcs 0644 0 0" "$tmp/full.list" || fail "no /bin/gcs"
	# One link per applet, minus what the list provides itself.
	local applets links
	applets=$("$BUSYBOX" --list-full | sed 's|^/*||' | grep -vxF -e bin/busybox | LC_ALL=C sort -u)
	links=$(awk '$1 == "slink" && $3 == "/bin/busybox" { sub(/^\//, "", $2); print $2 }' \
		"$tmp/full.list" | LC_ALL=C sort)
	assert_eq "$links" "$applets" "applet links"

	"$MKINITRD" -o "$tmp/full.img" "$tmp/full.list"
	local l
	l=$(list_cpio "$tmp/full.img")
	grep -qxF -- "lrwxrwxrwx 0 0 bin/sh -> /bin/busybox" <<<"$l" || fail "image lacks /bin/sh link"
	grep -qxF -- "-rwxr-xr-x 0 0 init" <<<"$l" || fail "image lacks /init"
	local bad
	bad=$(mtree_of "$tmp/full.img" | grep -v ' uid=0 gid=0 ' || true)
	[ -z "$bad" ] || fail "not owned by 0:0: $bad"
}
tests+=(t_genlist_busybox_links)

t_genlist_explicit_not_shadowed() {
	need_busybox || return 0
	printf 'my sh\n' >"$tmp/mysh"
	"$GENLIST" --file "/bin/sh=$tmp/mysh:0755" --file "usr/bin/env=$tmp/mysh:0700" \
		--busybox "$BUSYBOX" >"$tmp/full.list"
	[ "$(grep -c ' /bin/sh ' "$tmp/full.list")" -eq 1 ] || fail "/bin/sh listed twice"
	grep -qxF "file /bin/sh $tmp/mysh 0755 0 0" "$tmp/full.list" || fail "explicit /bin/sh lost"
	grep -qxF "file /usr/bin/env $tmp/mysh 0700 0 0" "$tmp/full.list" || fail "explicit env lost"
	! grep -q '^slink /usr/bin/env ' "$tmp/full.list" || fail "env shadowed"
	"$MKINITRD" -o "$tmp/full.img" "$tmp/full.list"
	gzip -dc "$tmp/full.img" | cpio -i --quiet --to-stdout bin/sh >"$tmp/got"
	cmp "$tmp/mysh" "$tmp/got"
}
tests+=(t_genlist_explicit_not_shadowed)

t_genlist_symlinks() {
	need_busybox || return 0
	printf 'mke2fs\n' >"$tmp/mke2fs"
	# /sbin/mke2fs is also a busybox applet: the --file wins, and the
	# --symlink names are not shadowed by applets either.
	"$GENLIST" --file "/sbin/mke2fs=$tmp/mke2fs:0755" --symlink /sbin/mkfs.ext4=mke2fs \
		--symlink usr/bin/env=/sbin/mke2fs --busybox "$BUSYBOX" >"$tmp/full.list"
	grep -qxF "slink /sbin/mkfs.ext4 mke2fs 0777 0 0" "$tmp/full.list" || fail "no mkfs.ext4 link"
	grep -qxF "slink /usr/bin/env /sbin/mke2fs 0777 0 0" "$tmp/full.list" || fail "no env link"
	local n
	for n in /usr/bin/env /sbin/mke2fs /sbin/mkfs.ext4; do
		[ "$(awk -v n="$n" '$2 == n' "$tmp/full.list" | wc -l)" -eq 1 ] || fail "$n listed twice"
	done
	"$MKINITRD" -o "$tmp/full.img" "$tmp/full.list"
	local l
	l=$(list_cpio "$tmp/full.img")
	grep -qxF -- "lrwxrwxrwx 0 0 sbin/mkfs.ext4 -> mke2fs" <<<"$l" || fail "image lacks the link"
	local rc args
	for args in "--symlink=/a" "--symlink=/a=" "--symlink==x" "--symlink=/a/../b=x" \
		"--symlink=/a=x y" "--symlink=/etc/passwd=x"; do
		rc=0
		"$GENLIST" "$args" >"$tmp/out" 2>"$tmp/err" || rc=$?
		[ "$rc" -ne 0 ] || fail "accepted \`$args\`"
		[ ! -s "$tmp/out" ] || fail "printed a list for \`$args\`"
	done
	rc=0
	"$GENLIST" --file "/a=$tmp/mke2fs" --symlink a=b >/dev/null 2>"$tmp/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "a link over a --file accepted"
}
tests+=(t_genlist_symlinks)

t_genlist_deterministic() {
	need_busybox || return 0
	printf 'x\n' >"$tmp/x"
	"$GENLIST" --file "/init=$tmp/x" --busybox "$BUSYBOX" >"$tmp/1.list"
	LC_ALL=C.UTF-8 "$GENLIST" --file "/init=$tmp/x" --busybox "$BUSYBOX" >"$tmp/2.list"
	cmp "$tmp/1.list" "$tmp/2.list"
	"$MKINITRD" -o "$tmp/1.img" "$tmp/1.list"
	"$MKINITRD" -o "$tmp/2.img" "$tmp/2.list"
	cmp "$tmp/1.img" "$tmp/2.img"
}
tests+=(t_genlist_deterministic)

t_genlist_rejects_bad_paths() {
	printf 'x\n' >"$tmp/x"
	mkdir "$tmp/sp ace"
	printf 'x\n' >"$tmp/sp ace/f"
	local args rc
	for args in "--file=/a b=$tmp/x" "--file=/ok=$tmp/sp ace/f" "--file=/a#b=$tmp/x" \
		"--file=/a/../b=$tmp/x" "--file=/a=$tmp/x:999" "--file=/a=$tmp/nope" \
		"--file=/etc/passwd=$tmp/x" "--file=/a" "--file=/a\$(id)=$tmp/x"; do
		rc=0
		"$GENLIST" "$args" >"$tmp/out" 2>"$tmp/err" || rc=$?
		[ "$rc" -ne 0 ] || fail "accepted \`$args\`"
		[ -s "$tmp/err" ] || fail "no message for \`$args\`"
		[ ! -s "$tmp/out" ] || fail "printed a list for \`$args\`"
	done
	rc=0
	"$GENLIST" --file "/a=$tmp/x" --file "a=$tmp/x" >/dev/null 2>"$tmp/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "duplicate --file accepted"
	assert_match "$(cat "$tmp/err")" "already provided by --file /a" "duplicate message"
}
tests+=(t_genlist_rejects_bad_paths)

# --- runner ------------------------------------------------------------------

only=${1:-}
selected=()
for t in "${tests[@]}"; do
	if [ -z "$only" ] || [ "$t" = "$only" ]; then selected+=("$t"); fi
done
[ ${#selected[@]} -gt 0 ] || { echo "$0: no test named $only" >&2; exit 2; }

echo "1..${#selected[@]}"
passed=0 failed=0 n=0
work=$tmp/work
log=$tmp/log
for t in "${selected[@]}"; do
	n=$((n + 1))
	# Each test in its own subshell and scratch area ($tmp inside a test);
	# errexit makes any failing command fail the test.  It would be off
	# inside `if`, hence the explicit status.
	rm -rf "$work"
	mkdir "$work"
	set +e
	(
		set -e
		# shellcheck disable=SC2030 # on purpose: tests see their own $tmp
		tmp=$work
		"$t"
	) >"$log" 2>&1
	rc=$?
	set -e
	name=${t#t_}
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		if skip=$(grep -m1 '^SKIP ' "$log"); then
			echo "ok $n - $name # ${skip}"
		else
			echo "ok $n - $name"
		fi
	else
		failed=$((failed + 1))
		echo "not ok $n - $name"
		sed 's/^/# /' "$log"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
