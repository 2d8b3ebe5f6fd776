#!/usr/bin/env bash
# TAP tests of $BIN/tar2ext4: every entry type read back through debugfs
# with its exact metadata, whiteouts, xattrs, sparse files, compressed and
# piped input, inline data, reproducibility and the VHD footer (checked by
# an independent Python reader).  Assumes `make all` has run.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
T2E=$BIN/tar2ext4
HERE=$ROOT/image/tar2ext4/tests
VHDCHECK=$ROOT/image/disk/tests/vhdcheck.py

usage() {
	echo "usage: $0 [TEST_NAME]   (env: ROOT OUT BIN)" >&2
	exit 2
}
case ${1:-} in -h | --help) usage ;; esac

for tool in python3 debugfs e2fsck dumpe2fs gzip zstd bsdtar tar cmp; do
	command -v "$tool" >/dev/null || { echo "$0: missing $tool" >&2; exit 1; }
done
[ -x "$T2E" ] || { echo "$0: $T2E not built (run make all)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tar2ext4_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tap.sh
. "$HERE/tap.sh"
unset SOURCE_DATE_EPOCH

# --- helpers -----------------------------------------------------------------

# Run Python with tarlib importable: py SCRIPT_ARGS... <<'EOF' ... EOF
py() {
	PYTHONPATH=$HERE python3 - "$@"
}

t2e() {
	"$T2E" "$@"
}

fsck_clean() { # IMG
	local out
	out=$(e2fsck -fn "$1" 2>&1) || fail "e2fsck -fn $1: $out"
}

dfs() { # IMG REQUEST
	debugfs -R "$2" "$1" 2>/dev/null
}

# One line of what debugfs knows of an inode:
# type mode uid gid size links mtime atime ctime crtime [dev] [fast link]
meta() { # IMG PATH
	dfs "$1" "stat \"$2\"" | awk '
		/^Inode:/ { for (i = 1; i <= NF; i++) { if ($i == "Type:") ty = $(i + 1); if ($i == "Mode:") mo = $(i + 1) } }
		/^User:/ { uid = $2; gid = $4; size = $NF }
		/^Links:/ { links = $2 }
		/^ *ctime:/ { ct = $2 } /^ *atime:/ { at = $2 } /^ *mtime:/ { mt = $2 } /^crtime:/ { cr = $2 }
		/Device major\/minor number:/ { for (i = 1; i <= NF; i++) if ($i == "number:") dev = " dev=" $(i + 1) }
		/^Fast link dest:/ { sub(/^Fast link dest: /, ""); fl = " link=" $0 }
		END { if (ty == "") exit 1
		      printf "%s %s %s:%s size=%s links=%s m=%s a=%s c=%s cr=%s%s%s\n", ty, mo, uid, gid, size, links, mt, at, ct, cr, dev, fl }'
}

blockcount() { # IMG PATH
	dfs "$1" "stat \"$2\"" | awk '/^Links:/ { print $4 }'
}

inum() { # IMG PATH
	dfs "$1" "stat \"$2\"" | awk '/^Inode:/ { print $2 }'
}

# ext4's on-disk time as debugfs prints it: 0xSECS:EXTRA
ts() { # SECONDS [NSEC]
	local s=$1 ns=${2:-0} lo epoch
	lo=$((s & 0xffffffff))
	epoch=$((((s - ((lo ^ 0x80000000) - 0x80000000)) >> 32) & 3))
	printf '0x%08x:%08x' "$lo" $(((ns << 2) | epoch))
}

fs_bytes() { # IMG
	dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block count/ { bc = $2 } /^Block size/ { bs = $2 } END { print bc * bs }'
}

# The superblock's timestamps, read straight from the bytes.
sb_times() { # IMG
	python3 - "$1" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(1024)
    sb = f.read(1024)
w, = struct.unpack_from("<I", sb, 0x30)
c, = struct.unpack_from("<I", sb, 0x40)
m, = struct.unpack_from("<I", sb, 0x108)
print(f"wtime={w} mkfs_time={m} lastcheck={c}")
EOF
}

no_leftovers() { # DIR
	local left
	left=$(find "$1" -maxdepth 1 -name '.*.??????' -o -maxdepth 1 -name '.tar2ext4-spool*')
	[ -z "$left" ] || fail "temporary files left behind: $left"
}

# --- tests -------------------------------------------------------------------

test_every_entry_type_with_exact_metadata() {
	py t.tar <<'EOF'
import sys
from tarlib import *
slow = "/very/long/target/" + "x" * 90
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "d", 0o750, uid=1000, gid=1001, mtime=1600000001)
    reg(tf, "d/file", b"hello\n", 0o640, uid=123456, gid=654321,
        pax={"mtime": "1600000002.123456789", "atime": "1600000003.000000001",
             "ctime": "1600000004.999999999"})
    reg(tf, "suid", b"#!/bin/sh\n", 0o4755)
    reg(tf, "sgid", b"x", 0o2711, gid=50)
    dir_(tf, "sticky", 0o1777)
    reg(tf, "allbits", b"", 0o7777)
    reg(tf, "empty", b"", 0o600, uid=65535, gid=65536)
    sym(tf, "d/fast", "file", uid=3, gid=4)
    sym(tf, "slow", slow)
    sym(tf, "outside", "/etc/shadow")
    hard(tf, "d/hard", "d/file")
    dev(tf, "cdev", "c", 1, 3, 0o666)
    dev(tf, "bdev", "b", 8, 1, 0o660, gid=6)
    dev(tf, "bigdev", "c", 300, 70000, 0o600)
    fifo(tf, "fifo", 0o600, uid=5, gid=6)
    reg(tf, "old", b"o", pax={"mtime": "-86400"})
    reg(tf, "future", b"f", pax={"mtime": str(2**33)})
EOF
	t2e -i t.tar -o t.img
	fsck_clean t.img
	local m2 m1 m16
	m1=$(ts 1600000001)
	m2=$(ts 1600000002 123456789)
	m16=$(ts 1600000000)
	assert_eq "$(meta t.img /d)" "directory 0750 1000:1001 size=4096 links=2 m=$m1 a=$m1 c=$m1 cr=$m1" /d
	assert_eq "$(meta t.img /d/file)" \
		"regular 0640 123456:654321 size=6 links=2 m=$m2 a=$(ts 1600000003 1) c=$(ts 1600000004 999999999) cr=$m2" /d/file
	assert_eq "$(dfs t.img 'cat /d/file')" hello "content of /d/file"
	assert_eq "$(inum t.img /d/hard)" "$(inum t.img /d/file)" "hard link inode"
	assert_eq "$(meta t.img /suid)" "regular 04755 0:0 size=10 links=1 m=$m16 a=$m16 c=$m16 cr=$m16" /suid
	assert_eq "$(meta t.img /sgid)" "regular 02711 0:50 size=1 links=1 m=$m16 a=$m16 c=$m16 cr=$m16" /sgid
	assert_eq "$(meta t.img /sticky)" "directory 01777 0:0 size=4096 links=2 m=$m16 a=$m16 c=$m16 cr=$m16" /sticky
	assert_eq "$(meta t.img /allbits)" "regular 07777 0:0 size=0 links=1 m=$m16 a=$m16 c=$m16 cr=$m16" /allbits
	assert_eq "$(meta t.img /empty)" "regular 0600 65535:65536 size=0 links=1 m=$m16 a=$m16 c=$m16 cr=$m16" /empty
	assert_eq "$(meta t.img /d/fast)" "symlink 0777 3:4 size=4 links=1 m=$m16 a=$m16 c=$m16 cr=$m16 link=\"file\"" /d/fast
	assert_eq "$(meta t.img /outside)" "symlink 0777 0:0 size=11 links=1 m=$m16 a=$m16 c=$m16 cr=$m16 link=\"/etc/shadow\"" /outside
	assert_eq "$(meta t.img /slow)" "symlink 0777 0:0 size=108 links=1 m=$m16 a=$m16 c=$m16 cr=$m16" /slow
	assert_eq "$(dfs t.img 'cat /slow')" "/very/long/target/$(printf 'x%.0s' {1..90})" "slow symlink target"
	assert_eq "$(meta t.img /cdev)" "character 0666 0:0 size=0 links=1 m=$m16 a=$m16 c=$m16 cr=$m16 dev=01:03" /cdev
	assert_eq "$(meta t.img /bdev)" "block 0660 0:6 size=0 links=1 m=$m16 a=$m16 c=$m16 cr=$m16 dev=08:01" /bdev
	assert_match "$(dfs t.img 'stat /bigdev')" "Device major/minor number: 300:70000" /bigdev
	assert_eq "$(meta t.img /fifo)" "FIFO 0600 5:6 size=0 links=1 m=$m16 a=$m16 c=$m16 cr=$m16" /fifo
	assert_eq "$(meta t.img /old | awk '{print $6}')" "m=$(ts -86400)" "pre-1970 mtime"
	assert_eq "$(meta t.img /future | awk '{print $6}')" "m=$(ts $((2 ** 33)))" "post-2038 mtime"
	assert_match "$(dfs t.img 'ls /')" "lost\+found" "lost+found exists"
	# Root: 0755 root, three subdirectories (d, sticky, lost+found).
	assert_match "$(meta t.img /)" "^directory 0755 0:0 size=4096 links=5 " /
}

test_xattrs_including_security_capability() {
	py t.tar <<'EOF'
import base64, struct, sys
from tarlib import *
# VFS_CAP_REVISION_2, cap_net_bind_service (bit 10) permitted + effective.
cap = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)
open("cap.bin", "wb").write(cap)
big = b"B" * 1500
open("big.bin", "wb").write(big)
with open_tar(sys.argv[1]) as tf:
    reg(tf, "ping", b"\x7fELF", 0o755,
        xattrs={"security.capability": cap, "user.comment": "hi there", "trusted.t": "1"})
    reg(tf, "bigx", b"data", xattrs={"user.big": big.decode()})
    dir_(tf, "d", xattrs={"user.dir": "dv"})
    sym(tf, "l", "ping", xattrs={"security.selinux": "system_u:object_r:bin_t:s0"})
    # bsdtar's spelling: LIBARCHIVE.xattr.NAME=base64(value)
    reg(tf, "lib", b"x", pax={"LIBARCHIVE.xattr.user.lib": base64.b64encode(b"libval").decode()})
    # A POSIX ACL in the kernel's xattr form: u::rw-, u:1000:r--, g::r--, m::r--, o::---
    acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in
        [(1, 6, 2**32 - 1), (2, 4, 1000), (4, 4, 2**32 - 1), (0x10, 4, 2**32 - 1), (0x20, 0, 2**32 - 1)])
    reg(tf, "acl", b"x", xattrs={"system.posix_acl_access": acl})
EOF
	t2e -i t.tar -o t.img
	fsck_clean t.img
	dfs t.img "ea_get -f got.cap /ping security.capability" >/dev/null
	cmp got.cap cap.bin || fail "security.capability differs"
	dfs t.img "ea_get -f got.big /bigx user.big" >/dev/null
	cmp got.big big.bin || fail "1500-byte xattr (in an xattr block) differs"
	local list
	list=$(dfs t.img "ea_list /ping")
	assert_match "$list" 'user.comment \(8\) = "hi there"' "user.comment"
	assert_match "$list" 'trusted.t \(1\) = "1"' "trusted.t"
	assert_match "$(dfs t.img 'ea_list /d')" 'user.dir \(2\) = "dv"' "directory xattr"
	assert_match "$(dfs t.img 'ea_list /l')" 'security.selinux' "symlink xattr"
	assert_match "$(dfs t.img 'ea_list /lib')" 'user.lib \(6\) = "libval"' "LIBARCHIVE.xattr"
	assert_eq "$(dfs t.img 'cat /bigx')" data "content next to an xattr block"
	# ext4 stores ACLs in its own form: version 1, 4-byte entries without
	# an id for the owner, group, mask and other.
	assert_match "$(dfs t.img 'ea_list /acl')" \
		"system.posix_acl_access \(28\) = 01 00 00 00 01 00 06 00 02 00 04 00 e8 03 00 00 04 00 04 00 10 00 04 00 20 00 00 00 " \
		"ACL in ext4's form"
}

test_whiteouts_become_overlay_form_with_overlay() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "a")
    reg(tf, "a/keep", b"k")
    reg(tf, "a/.wh.gone", b"", 0o644, uid=7, gid=8, mtime=1234567890)
    reg(tf, "a/.wh..wh..opq", b"")
    reg(tf, ".wh.top", b"")
    reg(tf, "c/.wh..wh.plnk", b"")
    reg(tf, "x/y/.wh.z", b"")
    reg(tf, ".wh..wh..opq", b"")
EOF
	t2e -overlay -i t.tar -o o.img
	fsck_clean o.img
	local z
	z=$(ts 0)
	# hcsshim's form: char device 0/0, mode 0, owner 0:0, every time 0.
	assert_eq "$(meta o.img /a/gone)" "character 0000 0:0 size=0 links=1 m=$z a=$z c=$z cr=$z dev=00:00" /a/gone
	assert_eq "$(meta o.img /top)" "character 0000 0:0 size=0 links=1 m=$z a=$z c=$z cr=$z dev=00:00" /top
	assert_match "$(meta o.img /x/y/z)" "^character 0000 0:0 .*dev=00:00" /x/y/z
	assert_match "$(dfs o.img 'ea_list /a')" 'trusted.overlay.opaque \(1\) = "y"' "opaque /a"
	assert_match "$(dfs o.img 'ea_list /')" 'trusted.overlay.opaque \(1\) = "y"' "opaque root"
	assert_eq "$(dfs o.img 'ea_list /x')" "" "no opaque xattr on /x"
	assert_eq "$(dfs o.img 'cat /a/keep')" k /a/keep
	# aufs bookkeeping is dropped; no .wh. name survives anywhere.
	assert_eq "$(dfs o.img 'ls -p /c' | grep -c /)" 2 "/c holds only . and .."
	local all
	all=$(dfs o.img 'ls -p /a'; dfs o.img 'ls -p /'; dfs o.img 'ls -p /x/y')
	if grep -q '\.wh\.' <<<"$all"; then fail "a .wh. name survived: $all"; fi

	t2e -i t.tar -o p.img
	fsck_clean p.img
	assert_match "$(meta p.img /a/.wh.gone)" "^regular 0644 7:8 size=0" "plain .wh.gone"
	assert_match "$(meta p.img /a/.wh..wh..opq)" "^regular " "plain opaque marker"
	assert_match "$(meta p.img /.wh.top)" "^regular " "plain .wh.top"
	assert_eq "$(dfs p.img 'ea_list /a')" "" "no opaque xattr without -overlay"
}

test_name_of_255_bytes_ok_256_refused_deep_paths_ok() {
	local n255 n256
	n255=$(printf 'n%.0s' {1..255})
	n256=${n255}x
	py t.tar "$n255" <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "dir/" + sys.argv[2], b"long")
    reg(tf, "/".join(["deep"] * 400) + "/leaf", b"bottom")
EOF
	t2e -i t.tar -o t.img
	fsck_clean t.img
	assert_eq "$(dfs t.img "cat /dir/$n255")" long "255-byte name"
	assert_eq "$(dfs t.img "cat /$(printf 'deep/%.0s' {1..400})leaf")" bottom "400 levels deep"

	py u.tar "$n256" <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "ok", b"")
    reg(tf, "dir/" + sys.argv[2], b"long")
EOF
	expect_fail "entry \`dir/nnnn.*is 256 bytes, ext4 allows 255" t2e -i u.tar -o u.img
	[ ! -e u.img ] || fail "u.img left behind"
	no_leftovers .
}

test_names_are_bytes_utf8_or_not() {
	py <<'EOF'
import tarfile
from tarlib import *
latin = b"caf\xe9-\xff".decode("utf-8", "surrogateescape")
for fmt, fn in ((tarfile.GNU_FORMAT, "gnu.tar"), (tarfile.PAX_FORMAT, "pax.tar")):
    with tarfile.open(fn, "w", format=fmt, encoding="utf-8", errors="surrogateescape") as tf:
        reg(tf, latin, b"latin-1 bytes")
        reg(tf, "日本語/ファイル", b"utf-8")
        reg(tf, "sp ace/ta\tb", b"blank")
EOF
	local f
	for f in gnu pax; do
		t2e -i $f.tar -o $f.img
		fsck_clean $f.img
		# ls -p prints names raw: compare bytes, not characters.
		dfs $f.img 'ls -p /' | awk -F/ 'NF { print $6 }' | LC_ALL=C sort >got
		printf '%s\n' . .. 'caf\351-\377' lost+found 'sp ace' '日本語' | LC_ALL=C sort >want0
		printf "$(cat want0)\n" >want
		cmp got want || fail "$f: names at the root: $(od -c got | head -5)"
		assert_eq "$(dfs $f.img 'cat "/日本語/ファイル"')" utf-8 "$f: UTF-8 path"
	done
}

test_ten_thousand_small_files() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    for i in range(10000):
        name = "f/%02d/%05d" % (i % 50, i) if i >= 2000 else "flat/%05d" % i
        reg(tf, name, ("file %d\n" % i).encode())
EOF
	local start end
	start=$(date +%s%N)
	t2e -i t.tar -o t.img
	end=$(date +%s%N)
	echo "# 10000 files in $(((end - start) / 1000000)) ms"
	fsck_clean t.img
	# ls -p: /inode/mode/uid/gid/name/size/
	assert_eq "$(dfs t.img 'ls -p /flat' | awk -F/ '$6 ~ /^[0-9]+$/' | wc -l)" 2000 "entries in /flat"
	assert_eq "$(dfs t.img 'ls -p /f/07' | awk -F/ '$6 ~ /^[0-9]+$/' | wc -l)" 160 "entries in /f/07"
	assert_eq "$(dfs t.img 'cat /flat/01999')" "file 1999" /flat/01999
	assert_eq "$(dfs t.img 'cat /f/49/09999')" "file 9999" /f/49/09999
	# 10000 files, 52 directories, lost+found and the 10 reserved inodes
	# (the root among them): nothing else in use.
	assert_match "$(e2fsck -fn t.img 2>&1)" "t.img: 10063/[0-9]+ files" "inodes in use"
}

make_sparse_source() {
	py big <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"a" * 4096)
    f.seek(300 * 2**20 + 123)
    f.write(b"b" * 10)
    f.seek(2**30 - 4096)
    f.write(b"c" * 4096)
EOF
}

test_one_gib_sparse_file_stays_sparse() {
	make_sparse_source
	tar -S -cf gnu.tar big
	tar --format=pax -S -cf pax.tar big
	bsdtar --format pax -cf bsd.tar big
	local f size
	for f in gnu pax bsd; do
		size=$(stat -c %s $f.tar)
		assert_le "$size" $((1 << 20)) "$f.tar is itself sparse"
		t2e -i $f.tar -o $f.img
		fsck_clean $f.img
		assert_match "$(meta $f.img /big)" "^regular 0644 0:0 size=1073741824 links=1" "$f: size"
		# Three 4 KiB data blocks: 24 sectors, no more.
		assert_eq "$(blockcount $f.img /big)" 24 "$f: blocks allocated"
		assert_le "$(stat -c %s $f.img)" $((4 << 20)) "$f: image size"
		cmp <(dfs $f.img 'cat /big') big || fail "$f: content differs"
	done
}

test_zero_runs_become_holes() {
	py t.tar <<'EOF'
import io, sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    # 64 MiB: 4 KiB data, zeros, 4 KiB data at the end.
    n = 64 << 20
    data = io.BytesIO()
    data.write(b"h" * 4096)
    data.seek(n - 4096)
    data.write(b"t" * 4096)
    reg_stream(tf, "zeros", n, io.BytesIO(data.getbuffer()))
    reg_stream(tf, "allzero", 8 << 20, Zeros(8 << 20))
    # Short zero runs stay data (no fragmentation for a 4 KiB gap).
    reg(tf, "short", b"x" * 4096 + bytes(8192) + b"y" * 4096)
EOF
	t2e -i t.tar -o t.img
	fsck_clean t.img
	assert_eq "$(blockcount t.img /zeros)" 16 "blocks of /zeros"
	assert_eq "$(blockcount t.img /allzero)" 0 "blocks of /allzero"
	assert_eq "$(blockcount t.img /short)" 32 "blocks of /short"
	cmp <(dfs t.img 'cat /zeros') <(py <<'EOF'
import sys
sys.stdout.buffer.write(b"h" * 4096 + bytes((64 << 20) - 8192) + b"t" * 4096)
EOF
) || fail "content of /zeros"
	assert_eq "$(dfs t.img 'cat /allzero' | tr -d '\0' | wc -c)" 0 "/allzero reads zeros"
	assert_eq "$(dfs t.img 'cat /allzero' | wc -c)" $((8 << 20)) "/allzero size"
}

test_image_spanning_several_block_groups() {
	py t.tar <<'EOF'
import sys
from tarlib import *
pattern = bytes(range(1, 256)) * 4112  # never a zero block
with open_tar(sys.argv[1]) as tf:
    n = 150 << 20
    class Pat:
        def __init__(self):
            self.pos = 0
        def read(self, k):
            k = min(k, n - self.pos)
            out = bytearray()
            while len(out) < k:
                off = (self.pos + len(out)) % len(pattern)
                out += pattern[off:off + k - len(out)]
            self.pos += k
            return bytes(out)
    reg_stream(tf, "big", n, Pat())
    for i in range(100):
        reg(tf, "after/%d" % i, b"z%d" % i)
with open("want", "wb") as f:
    p = Pat(); f.write(p.read(n))
EOF
	t2e -i t.tar -o t.img
	fsck_clean t.img
	local groups
	groups=$(dumpe2fs t.img 2>/dev/null | grep -c '^Group [0-9]')
	assert_le 2 "$groups" "block groups"
	cmp <(dfs t.img 'cat /big') want || fail "content of /big"
	assert_eq "$(dfs t.img 'cat /after/99')" z99 /after/99
}

test_gzip_zstd_xz_and_stdin_give_the_same_image() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "etc")
    reg(tf, "etc/hosts", b"127.0.0.1 localhost\n")
    reg(tf, "bin/sh", b"\x7fELF" * 3000, 0o755)
    sym(tf, "sh", "bin/sh")
EOF
	local u=12345678-1234-8234-9234-123456789abc
	gzip -c t.tar >t.tar.gz
	zstd -q -c t.tar >t.tar.zst
	xz -c t.tar >t.tar.xz
	t2e -uuid $u -i t.tar -o plain.img
	fsck_clean plain.img
	t2e -uuid $u -i t.tar.gz -o gz.img
	t2e -uuid $u -i t.tar.zst -o zst.img
	t2e -uuid $u -i t.tar.xz -o xz.img
	t2e -uuid $u -o pipe.img < <(cat t.tar.zst)
	t2e -uuid $u -o redirect.img <t.tar.gz
	local f
	for f in gz zst xz pipe redirect; do
		cmp plain.img $f.img || fail "$f input gives another image"
	done
	assert_eq "$(dfs plain.img 'cat /etc/hosts')" "127.0.0.1 localhost" /etc/hosts
	# A pipe with -size is converted in one pass.
	t2e -size 8M -o sized.img < <(cat t.tar)
	fsck_clean sized.img
	assert_eq "$(stat -c %s sized.img)" $((8 << 20)) "-size 8M"
	assert_eq "$(dfs sized.img 'cat /etc/hosts')" "127.0.0.1 localhost" "one-pass content"
	no_leftovers .
}

test_inline_keeps_small_files_in_the_inode() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    for n in (1, 60, 100, 5000):
        reg(tf, "f%d" % n, bytes((i % 251) + 1 for i in range(n)))
    reg(tf, "withxattr", b"tiny", xattrs={"user.a": "b"})
    reg(tf, "empty", b"")
    for n in (1, 60, 100, 5000):
        open("want%d" % n, "wb").write(bytes((i % 251) + 1 for i in range(n)))
EOF
	t2e -inline -i t.tar -o t.img
	fsck_clean t.img
	assert_match "$(dumpe2fs -h t.img 2>/dev/null | grep features)" inline_data "feature"
	local n
	for n in 1 60 100; do
		assert_match "$(dfs t.img "stat /f$n")" "Size of inline data: " "f$n inline"
		assert_eq "$(blockcount t.img /f$n)" 0 "f$n blocks"
	done
	for n in 1 60 100 5000; do
		assert_match "$(dfs t.img "stat /f$n")" "Size: $n$" "size of f$n"
		# libext2fs reads an inline file as its whole 60-byte i_block
		# (debugfs cat does not stop at i_size; the kernel does).
		cmp <(dfs t.img "cat /f$n" | head -c $n) want$n || fail "content of f$n"
	done
	assert_eq "$(blockcount t.img /f5000)" 16 "f5000 uses two blocks"
	assert_eq "$(blockcount t.img /withxattr)" 8 "a file with xattrs is not inlined"
	assert_eq "$(dfs t.img 'cat /withxattr')" tiny /withxattr

	t2e -i t.tar -o plain.img
	if dumpe2fs -h plain.img 2>/dev/null | grep features | grep -q inline_data; then
		fail "inline_data without -inline"
	fi
	assert_eq "$(blockcount plain.img /f1)" 8 "f1 without -inline"
}

test_same_input_same_bytes() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "a/b/c", b"c")
    reg(tf, "x", b"x" * 10000)
    hard(tf, "y", "x")
EOF
	t2e -i t.tar -o 1.img
	t2e -i t.tar -o 2.img
	cmp 1.img 2.img || fail "two runs differ"
	SOURCE_DATE_EPOCH=1700000000 t2e -i t.tar -o 3.img
	SOURCE_DATE_EPOCH=1700000000 t2e -i t.tar -o 4.img
	cmp 3.img 4.img || fail "two runs with SOURCE_DATE_EPOCH differ"
	if cmp -s 1.img 3.img; then fail "SOURCE_DATE_EPOCH changed nothing"; fi
	assert_eq "$(sb_times 1.img)" "wtime=0 mkfs_time=0 lastcheck=0" "superblock times"
	assert_eq "$(sb_times 3.img)" "wtime=1700000000 mkfs_time=1700000000 lastcheck=1700000000" \
		"superblock times with SOURCE_DATE_EPOCH"
	# Implicit directories, the root and lost+found take that time too.
	assert_match "$(meta 3.img /a/b)" "m=$(ts 1700000000) " "implicit directory time"
	assert_match "$(meta 3.img /lost+found)" "^directory 0700 0:0 .*m=$(ts 1700000000) " lost+found
	# Another input, another UUID.
	py u.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "a/b/c", b"d")
EOF
	t2e -i u.tar -o 5.img
	local u1 u5
	u1=$(dumpe2fs -h 1.img 2>/dev/null | awk '/UUID/ { print $3 }')
	u5=$(dumpe2fs -h 5.img 2>/dev/null | awk '/UUID/ { print $3 }')
	[ "$u1" != "$u5" ] || fail "different inputs, same UUID $u1"
}

test_vhd_footer_checked_independently() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "f", b"data" * 1000)
EOF
	t2e -i t.tar -o plain.img
	SOURCE_DATE_EPOCH=1700000000 t2e -vhd -i t.tar -o t.vhd
	local info fsb
	info=$(python3 "$VHDCHECK" t.vhd) || fail "vhdcheck: $info"
	fsb=$(fs_bytes t.vhd)
	assert_eq "$(stat -c %s t.vhd)" $((fsb + 512)) "file = ext4 + footer"
	assert_match "$info" "\"current_size\": $fsb," "current size = ext4 size"
	assert_match "$info" "\"timestamp\": $((1700000000 - 946684800))," "timestamp since 2000"
	assert_match "$info" '"disk_type": 2,' "fixed"
	fsck_clean t.vhd
	# The footer is only appended: without it, the plain image (same
	# input and epoch).
	SOURCE_DATE_EPOCH=1700000000 t2e -i t.tar -o sde.img
	cmp <(head -c "$fsb" t.vhd) sde.img || fail "data part differs from the plain image"
	# Same input, same footer (unique id included).
	SOURCE_DATE_EPOCH=1700000000 t2e -vhd -i t.tar -o t2.vhd
	cmp t.vhd t2.vhd || fail "VHD not reproducible"
	info=$(python3 "$VHDCHECK" plain.img 2>&1) && fail "vhdcheck accepts a file without footer"
	true
}

test_only_vhd_appends_a_footer_to_anything() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "f", b"x")
EOF
	t2e -i t.tar -o t.img
	t2e -only-vhd -i t.img -o t.vhd
	local n info
	n=$(stat -c %s t.img)
	python3 "$VHDCHECK" t.vhd >/dev/null || fail "footer of t.vhd"
	assert_eq "$(stat -c %s t.vhd)" $((n + 512)) "size"
	cmp <(head -c "$n" t.vhd) t.img || fail "data changed"
	fsck_clean t.vhd
	# Not a multiple of 512 (a dm-verity hash tree, say): zero padded.
	head -c 1000 /dev/urandom >odd.bin
	t2e -only-vhd -o odd.vhd <odd.bin
	info=$(python3 "$VHDCHECK" odd.vhd) || fail "footer of odd.vhd: $info"
	assert_match "$info" '"current_size": 1024,' "padded size"
	cmp <(head -c 1000 odd.vhd) odd.bin || fail "odd data changed"
	assert_eq "$(tail -c +1001 odd.vhd | head -c 24 | tr -d '\0' | wc -c)" 0 "zero padding"
	# Sparse input stays sparse.
	truncate -s 1G hole.img
	t2e -only-vhd -i hole.img -o hole.vhd
	assert_le "$(du -k hole.vhd | cut -f1)" 64 "sparse copy"
	python3 "$VHDCHECK" hole.vhd >/dev/null || fail "footer of hole.vhd"
}

test_size_is_exact_and_too_small_is_an_error() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "f", b"q" * (1 << 20))
EOF
	t2e -size 32M -i t.tar -o t.img
	assert_eq "$(stat -c %s t.img)" $((32 << 20)) "-size 32M"
	fsck_clean t.img
	expect_fail "too small" t2e -size 512K -i t.tar -o small.img
	[ ! -e small.img ] || fail "small.img left behind"
	local rc=0
	t2e -size 12Q -i t.tar -o x.img 2>/dev/null || rc=$?
	assert_eq "$rc" 2 "bad -size is a usage error"
	no_leftovers .
}

test_convert_slash_turns_backslashes_into_separators() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "dir\\sub\\file", b"win")
    hard(tf, "dir\\h", "dir\\sub\\file")
    sym(tf, "dir\\l", "..\\x")
EOF
	t2e -convert-slash -i t.tar -o c.img
	fsck_clean c.img
	assert_eq "$(dfs c.img 'cat /dir/sub/file')" win /dir/sub/file
	assert_eq "$(inum c.img /dir/h)" "$(inum c.img /dir/sub/file)" "hard link"
	assert_match "$(meta c.img /dir/l)" 'link="\.\./x"' "symlink target"
	t2e -i t.tar -o p.img
	fsck_clean p.img
	assert_match "$(dfs p.img 'ls -p /')" '/dir\\sub\\file/' "literal backslash name"
}

test_failure_keeps_the_old_output_and_no_temporary() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "f", b"z" * 100000)
EOF
	head -c 50000 t.tar >cut.tar
	echo old >out.img
	expect_fail "Truncated" t2e -i cut.tar -o out.img
	assert_eq "$(cat out.img)" old "OUT untouched"
	no_leftovers .
	# Killed mid-way (a fifo that never delivers): the temporary goes.
	mkfifo never
	exec 3<>never # a writer that never writes: open() returns, read() waits
	"$T2E" -size 16M -i never -o killed.img &
	local pid=$! _
	for _ in $(seq 100); do
		[ -n "$(find . -maxdepth 1 -name '.killed.img.*')" ] && break
		sleep 0.05
	done
	[ -n "$(find . -maxdepth 1 -name '.killed.img.*')" ] || fail "no temporary file appeared"
	kill -TERM $pid
	local rc=0
	wait $pid || rc=$?
	exec 3>&-
	assert_eq "$rc" 143 "exit status after SIGTERM"
	[ ! -e killed.img ] || fail "killed.img exists"
	no_leftovers .
}

test_help_and_usage_errors() {
	local h rc=0
	h=$(t2e --help)
	assert_match "$h" "-overlay" "--help lists -overlay"
	assert_match "$h" "symlinks are never followed" "--help covers hostile archives"
	assert_match "$h" "copied to an unnamed" "--help says how stdin is sized"
	t2e -i x.tar >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 2 "no -o"
	rc=0
	t2e -o x.img -bogus >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 2 "unknown option"
	expect_fail "open .nonexistent.tar." t2e -i nonexistent.tar -o x.img
}

t test_every_entry_type_with_exact_metadata test_xattrs_including_security_capability \
	test_whiteouts_become_overlay_form_with_overlay \
	test_name_of_255_bytes_ok_256_refused_deep_paths_ok test_names_are_bytes_utf8_or_not \
	test_ten_thousand_small_files \
	test_one_gib_sparse_file_stays_sparse test_zero_runs_become_holes \
	test_image_spanning_several_block_groups test_gzip_zstd_xz_and_stdin_give_the_same_image \
	test_inline_keeps_small_files_in_the_inode test_same_input_same_bytes \
	test_vhd_footer_checked_independently test_only_vhd_appends_a_footer_to_anything \
	test_size_is_exact_and_too_small_is_an_error \
	test_convert_slash_turns_backslashes_into_separators \
	test_failure_keeps_the_old_output_and_no_temporary test_help_and_usage_errors
run_tests "${1:-}"
