#!/usr/bin/env bash
# TAP tests of $BIN/tar2ext4 against hostile and odd archives: each case
# either fails with a clear error naming the entry (and leaves no output
# and no temporary file), or gives the documented result, which e2fsck -fn
# accepts.  Assumes `make all` has run.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
T2E=$BIN/tar2ext4
HERE=$ROOT/image/tar2ext4/tests

usage() {
	echo "usage: $0 [TEST_NAME]   (env: ROOT OUT BIN)" >&2
	exit 2
}
case ${1:-} in -h | --help) usage ;; esac

for tool in python3 debugfs e2fsck; do
	command -v "$tool" >/dev/null || { echo "$0: missing $tool" >&2; exit 1; }
done
[ -x "$T2E" ] || { echo "$0: $T2E not built (run make all)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostile_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tap.sh
. "$HERE/tap.sh"
unset SOURCE_DATE_EPOCH

py() {
	PYTHONPATH=$HERE python3 - "$@"
}

fsck_clean() { # IMG
	local out
	out=$(e2fsck -fn "$1" 2>&1) || fail "e2fsck -fn $1: $out"
}

dfs() { # IMG REQUEST
	debugfs -R "$2" "$1" 2>/dev/null
}

inum() { # IMG PATH
	dfs "$1" "stat \"$2\"" | awk '/^Inode:/ { print $2 }'
}

# refused REGEX TAR [OPTIONS...]: tar2ext4 fails saying REGEX and leaves
# nothing behind.
refused() {
	local re=$1 tar=$2
	shift 2
	expect_fail "$re" "$T2E" "$@" -i "$tar" -o refused.img
	[ ! -e refused.img ] || fail "refused.img exists after a refusal"
	local left
	left=$(find . -maxdepth 1 -name '.refused.img.*')
	[ -z "$left" ] || fail "temporary file left: $left"
}

convert() { # TAR [OPTIONS...] -> c.img, e2fsck-clean
	local tar=$1
	shift
	"$T2E" "$@" -i "$tar" -o c.img
	fsck_clean c.img
}

test_dotdot_climbing_above_the_root_is_refused() {
	local name
	for name in ../evil a/../../evil /../evil ./x/../../../etc/passwd; do
		py t.tar "$name" <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "fine", b"ok")
    reg(tf, sys.argv[2], b"pwned")
EOF
		refused "entry \`$(sed 's/[.]/[.]/g' <<<"$name")\`: .*climbs above the image root" t.tar
	done
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "..\\evil", b"pwned")
EOF
	refused "climbs above the image root" t.tar -convert-slash
	# Without -convert-slash a backslash is just a byte of the name.
	convert t.tar
	assert_eq "$(dfs c.img 'cat "/..\evil"')" pwned "literal name"
}

test_absolute_and_dotted_names_are_rooted_in_the_image() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "/etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    reg(tf, "//abs//x", b"x")
    reg(tf, "a/../b", b"b")
    reg(tf, "./c/./d", b"d")
EOF
	convert t.tar
	assert_eq "$(dfs c.img 'cat /etc/passwd')" "root:x:0:0::/root:/bin/sh" /etc/passwd
	assert_eq "$(dfs c.img 'cat /abs/x')" x /abs/x
	assert_eq "$(dfs c.img 'cat /b')" b /b
	assert_eq "$(dfs c.img 'cat /c/d')" d /c/d
	# "a" was only a lexical step: it never became a directory.
	assert_eq "$(inum c.img /a)" "" "/a"
}

test_hard_links_must_point_inside_the_image() {
	local case
	for case in "../../etc/passwd:climbs above the image root" \
		"/etc/passwd:hard link target \`etc/passwd\` is not in the image" \
		"later:hard link target \`later\` is not in the image" \
		"dir:hard link target \`dir\` is a directory" \
		"lnk/file:\`lnk\` is a symlink in the image"; do
		py t.tar "${case%%:*}" <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "dir")
    reg(tf, "dir/file", b"f")
    sym(tf, "lnk", "dir")
    hard(tf, "h", sys.argv[2])
    reg(tf, "later", b"l")
EOF
		refused "entry \`h\`: .*${case#*:}" t.tar
	done
}

test_hard_link_to_a_symlink_shares_the_symlink() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    sym(tf, "s", "/etc/passwd")
    hard(tf, "h", "s")
    reg(tf, "f", b"same")
    hard(tf, "f", "f")
EOF
	convert t.tar
	assert_eq "$(inum c.img /h)" "$(inum c.img /s)" "one inode"
	assert_match "$(dfs c.img 'stat /h')" "Links: 2 " "link count"
	assert_match "$(dfs c.img 'stat /f')" "Links: 1 " "a self-link changes nothing"
}

test_symlink_targets_are_stored_verbatim() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    sym(tf, "up", "../../../../etc/shadow")
    sym(tf, "abs", "/etc/shadow")
    sym(tf, "dot", ".")
EOF
	convert t.tar
	assert_match "$(dfs c.img 'stat /up')" 'Fast link dest: "\.\./\.\./\.\./\.\./etc/shadow"' /up
	assert_match "$(dfs c.img 'stat /abs')" 'Fast link dest: "/etc/shadow"' /abs
	assert_match "$(dfs c.img 'stat /dot')" 'Fast link dest: "\."' /dot
}

test_paths_through_symlinks_are_refused() {
	local case
	for case in "a:/etc:a/passwd" "d:.:d/x" "in:real:in/file" "x/y:/:x/y/z/w"; do
		IFS=: read -r link target path <<<"$case"
		py t.tar "$link" "$target" "$path" <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "real")
    sym(tf, sys.argv[2], sys.argv[3])
    reg(tf, sys.argv[4], b"through")
EOF
		refused "entry \`$path\`: \`$link\` is a symlink in the image; paths through symlinks are refused" t.tar
	done
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "f", b"file")
    reg(tf, "f/x", b"under a file")
EOF
	refused "entry \`f/x\`: \`f\` is not a directory" t.tar
}

test_later_entries_replace_earlier_ones() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "x", b"A" * 100000)          # file, then a directory
    dir_(tf, "x", 0o700)
    reg(tf, "x/inner", b"i")
    dir_(tf, "y")                        # directory tree, then a file
    reg(tf, "y/sub/deep", b"B" * 50000)
    sym(tf, "y/sub/l", "deep")
    reg(tf, "y", b"now a file")
    reg(tf, "dup", b"first" * 10000)     # duplicate: the later wins
    hard(tf, "keep", "dup")              # ...but this still names the first
    reg(tf, "dup", b"second")
    dir_(tf, "m", 0o700, uid=1)          # directory over directory merges
    reg(tf, "m/a", b"a")
    dir_(tf, "m", 0o755, uid=2, mtime=1700000000)
    reg(tf, "m/b", b"b")
    dir_(tf, "d")                        # a link replaces its own parent
    reg(tf, "d/f", b"inside")
    hard(tf, "d", "d/f")
EOF
	convert t.tar
	assert_match "$(dfs c.img 'stat /x')" "Type: directory +Mode: +0700" "/x became a directory"
	assert_eq "$(dfs c.img 'cat /x/inner')" i /x/inner
	assert_match "$(dfs c.img 'stat /y')" "Type: regular" "/y became a file"
	assert_eq "$(dfs c.img 'cat /y')" "now a file" /y
	assert_eq "$(dfs c.img 'cat /dup')" second /dup
	assert_eq "$(dfs c.img 'cat /keep' | head -c 10)" firstfirst "/keep kept the first /dup"
	assert_match "$(dfs c.img 'stat /keep')" "Links: 1 " "/keep links"
	assert_match "$(dfs c.img 'stat /m')" "Mode: +0755" "/m has the later mode"
	assert_match "$(dfs c.img 'stat /m')" "User: +2 " "/m has the later owner"
	assert_eq "$(dfs c.img 'cat /m/a')$(dfs c.img 'cat /m/b')" ab "/m merged"
	assert_eq "$(dfs c.img 'cat /d')" inside "/d is the former /d/f"
	# Nothing leaked: every replaced inode and block was freed (e2fsck
	# would report them), and only the live ones count.
	assert_match "$(e2fsck -fn c.img 2>&1)" "c.img: 20/[0-9]+ files" "inodes in use"
}

test_absurd_sizes_fail_before_allocating() {
	py t.tar <<'EOF'
import sys
from tarlib import *
header_only(sys.argv[1], "huge", 10**18)
EOF
	local start end
	start=$(date +%s)
	refused "entry \`huge\`: size 1000000000000000000 exceeds ext4's largest file" t.tar
	# One pass from a pipe: the same check, before anything is allocated.
	expect_fail "entry \`huge\`: size 1000000000000000000 exceeds" \
		"$T2E" -size 16M -o pipe.img < <(cat t.tar)
	[ ! -e pipe.img ] || fail "pipe.img exists"
	end=$(date +%s)
	assert_le $((end - start)) 5 "seconds to refuse"
	# Plausible for ext4 but more than the image holds.
	py u.tar <<'EOF'
import sys
from tarlib import *
header_only(sys.argv[1], "big", 10 << 30)
EOF
	expect_fail "entry \`big\`: 10737418240 bytes need 2621440 blocks, the image has [0-9]+ free" \
		"$T2E" -size 16M -o pipe.img < <(cat u.tar)
	[ ! -e pipe.img ] || fail "pipe.img exists"
	# Sized automatically, the first pass finds the data missing.
	refused "Truncated" u.tar
}

test_truncated_streams_are_errors() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "a", b"a" * 3000)
    reg(tf, "b", b"b" * 30000)
EOF
	local cut
	for cut in 700 5000 20000; do # inside a header, at b's header, inside b's data
		head -c $cut t.tar >cut.tar
		refused "Truncated|[Dd]amaged|truncated" cut.tar
		expect_fail "Truncated|[Dd]amaged|truncated" "$T2E" -size 8M -o pipe.img < <(cat cut.tar)
		[ ! -e pipe.img ] || fail "pipe.img exists"
	done
	gzip -c t.tar >t.tar.gz
	head -c $(($(stat -c %s t.tar.gz) / 2)) t.tar.gz >cut.tar.gz
	refused "Truncated|truncated|[Dd]amaged|Premature" cut.tar.gz
}

test_lost_and_found_stays_a_directory() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, "lost+found", b"gotcha")
EOF
	refused "entry \`lost\+found\`: /lost\+found can only be a directory" t.tar
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, ".wh.lost+found", b"")
EOF
	refused "lost\+found can only be a directory" t.tar -overlay
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "lost+found", 0o755)
    reg(tf, "lost+found/kept", b"k")
EOF
	convert t.tar
	assert_match "$(dfs c.img 'stat /lost+found')" "Mode: +0755" "merged lost+found"
}

test_garbage_empty_and_foreign_input() {
	head -c 4096 /dev/urandom >garbage
	refused "Unrecognized archive format|not a tar|[Dd]amaged" garbage
	: >empty.tar
	convert empty.tar
	assert_eq "$(dfs c.img 'ls -p /' | awk -F/ 'NF { print $6 }' | tr '\n' ' ')" ". .. lost+found " "empty layer"
	python3 -c "import zipfile; zipfile.ZipFile('z.zip','w').writestr('f','x')"
	refused "Unrecognized archive format" z.zip
}

test_root_can_only_be_a_directory() {
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    reg(tf, ".", b"")
EOF
	refused "only a directory can replace the image root" t.tar
	py t.tar <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    dir_(tf, "./", 0o700, uid=9)
    reg(tf, "f", b"")
EOF
	convert t.tar
	assert_match "$(dfs c.img 'stat /')" "Mode: +0700" "root mode from ./"
	assert_match "$(dfs c.img 'stat /')" "User: +9 " "root owner from ./"
}

test_bad_whiteouts_xattrs_ids_and_devices_are_refused() {
	local spec
	for spec in 'reg(tf, "d/.wh.", b"")|-overlay|whiteout `.wh.` names nothing' \
		'reg(tf, "d/.wh...", b"")|-overlay|whiteout `.wh...` names nothing' \
		'reg(tf, "x", b"", xattrs={"foo.bar": "v"})||xattr `foo.bar`: not a user., trusted., security. or POSIX ACL name' \
		'reg(tf, "x", b"", xattrs={"system.data": "v"})||xattr `system.data`' \
		'reg(tf, "x", b"", xattrs={"user.huge": "v" * 70000})||xattr `user.huge`: value of 70000 bytes' \
		'reg(tf, "x", b"", xattrs={"user.a": "a" * 2000, "user.b": "b" * 2000, "user.c": "c" * 2000})||xattr `user.[abc]`.*space' \
		'reg(tf, "x", b"", pax={"uid": "4294967296"})||uid 4294967296 / gid 0 out of ext4.s 32-bit range' \
		'dev(tf, "x", "c", 5000, 1)||device 5000:1 beyond ext4' \
		'sym(tf, "x", "t" * 5000)||symlink target of 5000 bytes'; do
		IFS='|' read -r code opt re <<<"$spec"
		py t.tar "$code" <<'EOF'
import sys
from tarlib import *
with open_tar(sys.argv[1]) as tf:
    eval(sys.argv[2])
EOF
		# shellcheck disable=SC2086
		refused "$re" t.tar $opt
	done
}

# Mutated archives: any outcome but a crash, a stray output or an image
# e2fsck rejects.  Seeded, so every run tries the same inputs.
test_mutated_archives_never_crash() {
	py <<'EOF'
import tarfile
from tarlib import *
with open_tar("seed.tar") as tf:
    dir_(tf, "d", 0o750)
    reg(tf, "d/f", b"hello" * 100, xattrs={"user.x": "y"})
    sym(tf, "d/l", "f")
    hard(tf, "d/h", "d/f")
    dev(tf, "c", "c", 1, 3)
    fifo(tf, "p")
    reg(tf, ".wh.x", b"")
    reg(tf, "d/.wh..wh..opq", b"")
    reg(tf, "big", b"B" * 20000)
with open_tar("gnu.tar", tarfile.GNU_FORMAT) as tf:
    reg(tf, "a" * 150 + "/b", b"x" * 100)
    sym(tf, "l" * 120, "t" * 130)
    hard(tf, "hh", "a" * 150 + "/b")
EOF
	PYTHONPATH=$HERE python3 - "$T2E" <<'EOF'
import os, random, subprocess, sys
t2e = sys.argv[1]
seeds = [open(f, "rb").read() for f in ("seed.tar", "gnu.tar")]
problems = []
for i in range(150):
    rnd = random.Random(i)
    data = bytearray(rnd.choice(seeds))
    for _ in range(rnd.randint(1, 8)):
        if rnd.random() < 0.5:
            pos = rnd.randrange(len(data) // 512) * 512 + rnd.randrange(512)
        else:
            pos = rnd.randrange(min(len(data), 8192))
        data[pos] = rnd.randrange(256)
    if rnd.random() < 0.2:
        data = data[:rnd.randrange(len(data))]
    with open("in.tar", "wb") as f:
        f.write(data)
    opts = rnd.choice([[], ["-overlay"], ["-inline"], ["-overlay", "-inline", "-vhd"]])
    if os.path.exists("out.img"):
        os.unlink("out.img")
    p = subprocess.run([t2e] + opts + ["-i", "in.tar", "-o", "out.img"], capture_output=True)
    if p.returncode not in (0, 1):
        problems.append(f"case {i}: exit {p.returncode}: {p.stderr[-300:]!r}")
    elif p.returncode == 1 and os.path.exists("out.img"):
        problems.append(f"case {i}: failed but left out.img")
    elif p.returncode == 1 and not p.stderr.startswith(b"tar2ext4: "):
        problems.append(f"case {i}: failed without a message")
    elif p.returncode == 0:
        q = subprocess.run(["e2fsck", "-fn", "out.img"], capture_output=True)
        if q.returncode != 0:
            problems.append(f"case {i}: e2fsck: {q.stdout[-300:]!r}")
if problems:
    sys.exit("\n".join(problems))
EOF
}

t test_dotdot_climbing_above_the_root_is_refused \
	test_absolute_and_dotted_names_are_rooted_in_the_image \
	test_hard_links_must_point_inside_the_image test_hard_link_to_a_symlink_shares_the_symlink \
	test_symlink_targets_are_stored_verbatim test_paths_through_symlinks_are_refused \
	test_later_entries_replace_earlier_ones test_absurd_sizes_fail_before_allocating \
	test_truncated_streams_are_errors test_lost_and_found_stays_a_directory \
	test_garbage_empty_and_foreign_input test_root_can_only_be_a_directory \
	test_bad_whiteouts_xattrs_ids_and_devices_are_refused test_mutated_archives_never_crash
run_tests "${1:-}"
