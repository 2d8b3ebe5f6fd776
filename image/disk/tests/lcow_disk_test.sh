#!/usr/bin/env bash
# TAP tests of $BIN/lcow-disk: created scratch disks are sparse, carry a
# footer an independent Python reader accepts, are ext4 formatted like the
# Windows host formats them, and are reproducible; resize grows (and
# shrinks) with data preserved and refuses what it must.  Assumes `make
# all` has run.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
DISK=$BIN/lcow-disk
VHDCHECK=$ROOT/image/disk/tests/vhdcheck.py

usage() {
	echo "usage: $0 [TEST_NAME]   (env: ROOT OUT BIN)" >&2
	exit 2
}
case ${1:-} in -h | --help) usage ;; esac

for tool in python3 debugfs e2fsck dumpe2fs cmp; do
	command -v "$tool" >/dev/null || { echo "$0: missing $tool" >&2; exit 1; }
done
[ -x "$DISK" ] || { echo "$0: $DISK not built (run make all)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lcow_disk_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../../tar2ext4/tests/tap.sh
. "$ROOT/image/tar2ext4/tests/tap.sh"
unset SOURCE_DATE_EPOCH

fsck_clean() { # IMG
	local out
	out=$(e2fsck -fn "$1" 2>&1) || fail "e2fsck -fn $1: $out"
}

dfs() { # IMG REQUEST
	debugfs -R "$2" "$1" 2>/dev/null
}

footer() { # VHD -> the independent reader's JSON, or fail
	local info
	info=$(python3 "$VHDCHECK" "$1" 2>&1) || fail "footer of $1: $info"
	printf '%s\n' "$info"
}

json() { # JSON KEY
	python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

kib_used() { # FILE
	du -k "$1" | cut -f1
}

sb_field() { # IMG FIELD (as dumpe2fs -h names it)
	dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2: *//p"
}

test_create_20g_is_sparse_with_a_valid_footer() {
	"$DISK" create --size 20G s.vhd
	local info
	info=$(footer s.vhd)
	assert_eq "$(stat -c %s s.vhd)" $(((20 << 30) + 512)) "file size"
	assert_eq "$(json "$info" current_size)" $((20 << 30)) "current size"
	assert_eq "$(json "$info" disk_type)" 2 "disk type"
	assert_eq "$(json "$info" timestamp)" 0 "timestamp without SOURCE_DATE_EPOCH"
	assert_le "$(kib_used s.vhd)" 16384 "KiB allocated"
	assert_eq "$(sb_field s.vhd 'Block count')" 5242880 "ext4 blocks"
	local features
	features=$(sb_field s.vhd 'Filesystem features')
	assert_match "$features" "sparse_super2" features
	assert_match "$features" "extent" features
	if grep -Eq "has_journal|resize_inode" <<<"$features"; then
		fail "journal or resize inode: $features"
	fi
	fsck_clean s.vhd
	# Without the footer (a sparse copy cut to the data) it is plain ext4.
	cp --sparse=always s.vhd raw.img
	truncate -s 20G raw.img
	fsck_clean raw.img
}

test_footer_stripped_with_head_leaves_clean_ext4() {
	"$DISK" create --size 256M s.vhd
	footer s.vhd >/dev/null
	head -c $((256 << 20)) s.vhd >raw.img
	fsck_clean raw.img
	cmp <(head -c $((256 << 20)) s.vhd) raw.img
	assert_eq "$(tail -c 512 s.vhd | head -c 8)" conectix "the footer is the tail"
}

test_create_is_reproducible() {
	"$DISK" create --size 1G a.vhd
	"$DISK" create --size 1G b.vhd
	cmp a.vhd b.vhd || fail "two creates differ"
	SOURCE_DATE_EPOCH=1700000000 "$DISK" create --size 1G c.vhd
	SOURCE_DATE_EPOCH=1700000000 "$DISK" create --size 1G d.vhd
	cmp c.vhd d.vhd || fail "two creates with SOURCE_DATE_EPOCH differ"
	local info
	info=$(footer c.vhd)
	assert_eq "$(json "$info" timestamp)" $((1700000000 - 946684800)) "footer timestamp"
	assert_match "$(sb_field c.vhd 'Filesystem created')" "Nov 14 22:13:20 2023" "mkfs time"
	assert_match "$(dfs c.vhd 'stat /')" "mtime: 0x6553f100:" "root mtime"
	assert_match "$(dfs a.vhd 'stat /lost+found')" "mtime: 0x00000000:" "lost+found mtime without SOURCE_DATE_EPOCH"
	# Another size, another file system and disk identity.
	"$DISK" create --size 512M e.vhd
	[ "$(sb_field a.vhd 'Filesystem UUID')" != "$(sb_field e.vhd 'Filesystem UUID')" ] ||
		fail "same UUID for different sizes"
	[ "$(json "$(footer a.vhd)" unique_id)" != "$(json "$(footer e.vhd)" unique_id)" ] ||
		fail "same unique id for different sizes"
}

test_uuid_option_sets_the_file_system_uuid() {
	local u=0f1e2d3c-4b5a-8978-8695-a4b3c2d1e0f1
	"$DISK" create --size 64M --uuid $u s.vhd
	assert_eq "$(sb_field s.vhd 'Filesystem UUID')" $u UUID
	local rc=0
	"$DISK" create --size 64M --uuid nope x.vhd 2>/dev/null || rc=$?
	assert_eq "$rc" 2 "bad --uuid"
	[ ! -e x.vhd ] || fail "x.vhd created"
}

test_info_reports_footer_and_ext4_as_json() {
	SOURCE_DATE_EPOCH=1700000000 "$DISK" create --size 300M s.vhd
	local got want
	got=$("$DISK" info s.vhd)
	want=$(footer s.vhd)
	python3 - "$got" "$want" "$(sb_field s.vhd 'Block count')" "$(sb_field s.vhd 'Filesystem UUID')" <<'EOF'
import json, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
blocks, uuid = int(sys.argv[3]), sys.argv[4]
f = got["footer"]
checks = [
    (f["cookie"], "conectix"), (f["features"], want["features"]),
    (f["current_size"], want["current_size"]), (f["original_size"], want["original_size"]),
    (f["disk_type"], 2), (f["disk_type_name"], "fixed"),
    (f["timestamp"], want["timestamp"]), (int(f["checksum"], 16), want["checksum"]),
    (f["unique_id"].replace("-", ""), want["unique_id"]),
    ([f["geometry"][k] for k in ("cylinders", "heads", "sectors_per_track")], want["geometry"]),
    (f["data_offset"], "0xffffffffffffffff"), (got["file_size"], want["file_size"]),
    (got["ext4"]["blocks"], blocks), (got["ext4"]["uuid"], uuid),
    (got["ext4"]["size"], blocks * got["ext4"]["block_size"]), (got["ext4"]["clean"], True),
]
bad = [f"{g!r} != {w!r}" for g, w in checks if g != w]
if bad:
    sys.exit("info differs: " + "; ".join(bad))
EOF
	: >empty
	expect_fail "not a VHD: 0 bytes" "$DISK" info empty
}

test_resize_grows_with_data_preserved() {
	"$DISK" create --size 256M s.vhd
	local before
	before=$(footer s.vhd)
	echo "precious $RANDOM" >data.txt
	debugfs -w -R "write data.txt data.txt" s.vhd >/dev/null 2>&1
	"$DISK" resize --size 1G s.vhd
	local after
	after=$(footer s.vhd)
	assert_eq "$(json "$after" current_size)" $((1 << 30)) "new size"
	assert_eq "$(stat -c %s s.vhd)" $(((1 << 30) + 512)) "file size"
	assert_eq "$(json "$after" unique_id)" "$(json "$before" unique_id)" "unique id kept"
	# mke2fs picks 1 KiB blocks below 512 MiB, as in the guest.
	assert_eq $(($(sb_field s.vhd 'Block count') * $(sb_field s.vhd 'Block size'))) $((1 << 30)) \
		"ext4 grown"
	fsck_clean s.vhd
	assert_eq "$(dfs s.vhd 'cat /data.txt')" "$(cat data.txt)" "data preserved"
	assert_le "$(kib_used s.vhd)" 32768 "still sparse (KiB)"
	# And the grown file system takes new data.
	debugfs -w -R "write data.txt again.txt" s.vhd >/dev/null 2>&1
	fsck_clean s.vhd
	assert_eq "$(dfs s.vhd 'cat /again.txt')" "$(cat data.txt)" "written after resize"
}

test_resize_shrinks_but_never_below_the_data() {
	"$DISK" create --size 1G s.vhd
	head -c $((64 << 20)) /dev/urandom >blob
	debugfs -w -R "write blob blob" s.vhd >/dev/null 2>&1
	"$DISK" resize --size 512M s.vhd
	footer s.vhd >/dev/null
	assert_eq "$(stat -c %s s.vhd)" $(((512 << 20) + 512)) "shrunk"
	fsck_clean s.vhd
	cmp <(dfs s.vhd 'cat /blob') blob || fail "blob damaged by the shrink"
	cp --sparse=always s.vhd before.vhd
	expect_fail "refusing to shrink .s.vhd. to 16777216 bytes: [0-9]+ bytes of it are in use" \
		"$DISK" resize --size 16M s.vhd
	cmp s.vhd before.vhd || fail "refused resize changed the disk"
	# Same size: nothing to do, nothing changes.
	"$DISK" resize --size 512M s.vhd
	cmp s.vhd before.vhd || fail "no-op resize changed the disk"
}

test_resize_refuses_what_is_not_a_clean_fixed_vhd() {
	"$DISK" create --size 64M s.vhd
	# Raw ext4 (no footer).
	head -c $((64 << 20)) s.vhd >raw.img
	cp raw.img raw.bak
	expect_fail "not a VHD: no .conectix. cookie" "$DISK" resize --size 128M raw.img
	cmp raw.img raw.bak || fail "raw image changed"
	# A damaged footer.
	cp --sparse=always s.vhd bad.vhd
	printf 'X' | dd of=bad.vhd bs=1 seek=$(((64 << 20) + 100)) conv=notrunc status=none
	cp --sparse=always bad.vhd bad.bak
	expect_fail "checksum" "$DISK" resize --size 128M bad.vhd
	cmp bad.vhd bad.bak || fail "damaged VHD changed"
	# A dynamic disk (type 3) with a correct checksum.
	cp --sparse=always s.vhd dyn.vhd
	python3 - dyn.vhd <<'EOF'
import os, struct, sys
p = sys.argv[1]
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(size - 512)
    raw = bytearray(f.read(512))
    struct.pack_into(">I", raw, 60, 3)
    struct.pack_into(">I", raw, 64, 0)
    struct.pack_into(">I", raw, 64, (~sum(raw)) & 0xFFFFFFFF)
    f.seek(size - 512)
    f.write(raw)
EOF
	expect_fail "only fixed disks" "$DISK" resize --size 128M dyn.vhd
	# A file system with errors: e2fsck must pass first.
	cp --sparse=always s.vhd sick.vhd
	debugfs -w -R "set_inode_field <2> links_count 9" sick.vhd >/dev/null 2>&1
	cp --sparse=always sick.vhd sick.bak
	expect_fail "is not clean, repair it first" "$DISK" resize --size 128M sick.vhd
	cmp sick.vhd sick.bak || fail "sick disk changed"
}

test_resize_file_only_leaves_the_file_system_and_undoes_itself() {
	"$DISK" create --size 64M s.vhd
	local before blocks
	before=$(footer s.vhd)
	blocks=$(sb_field s.vhd 'Block count')
	cp --sparse=always s.vhd orig.vhd
	"$DISK" resize --file-only --size 256M s.vhd
	local after
	after=$(footer s.vhd)
	assert_eq "$(json "$after" current_size)" $((256 << 20)) "new data size"
	assert_eq "$(stat -c %s s.vhd)" $(((256 << 20) + 512)) "file size"
	assert_eq "$(json "$after" unique_id)" "$(json "$before" unique_id)" "unique id kept"
	assert_eq "$(sb_field s.vhd 'Block count')" "$blocks" "file system untouched"
	fsck_clean s.vhd
	expect_fail "would cut the [0-9]+-byte file system" "$DISK" resize --file-only --size 32M s.vhd
	# Back to the old size: the same disk, byte for byte.
	"$DISK" resize --file-only --size 64M s.vhd
	cmp s.vhd orig.vhd || fail "--file-only back to 64M differs from the original"
	# An unformatted disk (for a guest to format) takes any size, sparsely.
	head -c 4096 /dev/zero >z.raw
	"$BIN/tar2ext4" -only-vhd -i z.raw -o z.vhd
	"$DISK" resize --file-only --size 1G z.vhd
	assert_eq "$(json "$(footer z.vhd)" current_size)" $((1 << 30)) "unformatted disk grown"
	assert_le "$(kib_used z.vhd)" 64 "still sparse (KiB)"
}

test_usage_errors_exit_2() {
	local args rc
	for args in "resize s.vhd" "create s.vhd" "create --size 12Q s.vhd" "create --size 3000G s.vhd" \
		"create --size 1M s.vhd" "info --size 1G s.vhd" "frob s.vhd" "create --size 1G" \
		"resize --uuid 0f1e2d3c-4b5a-8978-8695-a4b3c2d1e0f1 --size 1G s.vhd" \
		"create --file-only --size 1G s.vhd"; do
		rc=0
		# shellcheck disable=SC2086
		"$DISK" $args >/dev/null 2>&1 || rc=$?
		assert_eq "$rc" 2 "lcow-disk $args"
	done
	[ ! -e s.vhd ] || fail "s.vhd created by a usage error"
	assert_match "$("$DISK" --help)" "resize --size SIZE" "--help"
	expect_fail "create temporary file" "$DISK" create --size 64M no/such/dir/s.vhd
}

t test_create_20g_is_sparse_with_a_valid_footer test_footer_stripped_with_head_leaves_clean_ext4 \
	test_create_is_reproducible test_uuid_option_sets_the_file_system_uuid \
	test_info_reports_footer_and_ext4_as_json test_resize_grows_with_data_preserved \
	test_resize_shrinks_but_never_below_the_data test_resize_refuses_what_is_not_a_clean_fixed_vhd \
	test_resize_file_only_leaves_the_file_system_and_undoes_itself test_usage_errors_exit_2
run_tests "${1:-}"
