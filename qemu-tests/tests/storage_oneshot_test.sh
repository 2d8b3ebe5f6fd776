#!/usr/bin/env bash
# One-shot utility VMs (scripts/lcow-oneshot), one VM per operation, each
# run by init's one-shot program (no agent) and powering off by itself:
#   format   a scratch disk attached as SCSI LUN 0 is formatted in the
#            guest; the host finds a clean file system (e2fsck -fn) of the
#            kind the Windows host makes (ext4, no journal, sparse_super2),
#            with the VHD footer intact;
#   resize   the host grows the VHD (footer kept valid), the guest runs
#            e2fsck + resize2fs: the file system covers the new size, is
#            clean, keeps its data; shrinking and non-ext4 disks are refused
#            without booting, the disk untouched;
#   extract  a gzip'd layer tar streamed over vsock into a new ext4 disk in
#            the guest (remotefs extractarchive) gives the same tree as
#            the host's tar2ext4 -overlay -vhd (names, types, modes,
#            owners, contents, link targets, hard links, mtimes, xattrs,
#            whiteouts as 0/0 devices, opaque dirs); a bad tar is refused
#            before booting, an escaping entry fails in the guest with the
#            JSON error, and neither leaves a disk behind;
#   remotefs one command on a disk: stdout relayed byte for byte (a
#            300 KB file), the JSON error on stderr with status 0 (as
#            opengcs), a missing disk fails with status 125.
# Bad usage is refused without booting anything.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles

for t in e2fsck dumpe2fs debugfs python3 tar gzip; do
	command -v "$t" >/dev/null || skip_all "host has no $t (scripts/deps.sh)"
done
[ -x "$BIN/tar2ext4" ] || skip_all "no $BIN/tar2ext4 (run ./build.sh)"
[ -x "$BIN/lcow-disk" ] || skip_all "no $BIN/lcow-disk (run ./build.sh)"
ONESHOT=$ROOT/scripts/lcow-oneshot
export OUT
os() { "$ONESHOT" "$1" --bootfiles "$BOOTFILES" --timeout 300 "${@:2}"; }

work=$(mktemp -d /tmp/lcow-oneshot-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

plan 47

# ---- format ----------------------------------------------------------------

# A new VHD, made and formatted in one go.
vhd=$work/scratch.vhd
start=$(date +%s%N)
check "format --create 256M scratch.vhd" \
	os format --log "$work/console.log" --create 256M "$vhd"
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
echo "# one-shot format of a 256 MiB VHD: $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s wall (boot, mkfs, power-off)"
check_log "the VM powered itself off" "$work/console.log" 'reboot: Power down'
check "the result passes e2fsck -fn" e2fsck -fn "$vhd"
check_eq "the VHD keeps its footer" conectix "$(tail -c 512 "$vhd" | head -c 8)"
check_eq "data is 256 MiB + the 512-byte footer" $((256 * 1024 * 1024 + 512)) "$(stat -c %s "$vhd")"
dumpe2fs -h "$vhd" >"$work/dumpe2fs.txt" 2>/dev/null || true
if grep -q 'formatted /dev/sd[a-z]* as ext4' "$work/console.log"; then
	check_log "ext4 (extents)" "$work/dumpe2fs.txt" '^Filesystem features:.* extent'
	check_nolog "no journal, as the host formats scratch" "$work/dumpe2fs.txt" '^Filesystem features:.*has_journal'
	check_log "sparse_super2" "$work/dumpe2fs.txt" '^Filesystem features:.*sparse_super2'
else
	for n in "ext4 (extents)" "no journal" "sparse_super2"; do
		tap_ok "$n # SKIP the image has no mkfs.ext4 (busybox mke2fs made ext2)"
	done
fi
check_log "block count covers the disk (256 MiB)" "$work/dumpe2fs.txt" \
	'^Block count: +(262144|65536)$'

# An existing raw disk: formatted in place, whatever was on it.
raw=$work/raw.img
head -c 1048576 /dev/urandom >"$raw"
truncate -s 64M "$raw"
check "format an existing raw disk holding garbage" os format "$raw"
check "the raw disk passes e2fsck -fn" e2fsck -fn "$raw"

# Usage errors: exit 2, nothing booted, nothing created.
set +e
"$ONESHOT" format --create 12345 "$work/odd.vhd" >/dev/null 2>&1
rc=$?
set -e
check_eq "a size that is not whole 4 KiB blocks: usage error (2)" 2 "$rc"
check "... and no disk was left behind" test ! -e "$work/odd.vhd"

# ---- resize ----------------------------------------------------------------

sb() { dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2: *//p"; }
uid_of() { "$BIN/lcow-disk" info "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["footer"]["unique_id"])'; }
echo "precious $RANDOM" >"$work/data.txt"
debugfs -w -R "write $work/data.txt data.txt" "$vhd" >/dev/null 2>&1
uid_before=$(uid_of "$vhd")
check "resize --size 512M scratch.vhd" os resize --log "$work/resize.log" --size 512M "$vhd"
check_log "... e2fsck and resize2fs ran in the guest" "$work/resize.log" \
	'lcow-oneshot: resized /dev/sd[a-z]+ to 1048576 sectors'
check "... the result passes e2fsck -fn" e2fsck -fn "$vhd"
check_eq "... the file system is 512 MiB" $((512 << 20)) \
	"$(($(sb "$vhd" 'Block count') * $(sb "$vhd" 'Block size')))"
check_eq "... data 512 MiB + the footer" $(((512 << 20) + 512)) "$(stat -c %s "$vhd")"
check_eq "... the footer is valid and keeps its unique id" "$uid_before" "$(uid_of "$vhd")"
check_eq "... data written before is still there" "$(cat "$work/data.txt")" \
	"$(debugfs -R 'cat /data.txt' "$vhd" 2>/dev/null)"

before=$(stat -c '%s %Y' "$vhd")
set +e
msg=$("$ONESHOT" resize --bootfiles "$BOOTFILES" --size 128M "$vhd" 2>&1 >/dev/null)
rc=$?
set -e
check_eq "resize to a smaller size: refused (1)" 1 "$rc"
check_log "... saying why" <(echo "$msg") 'smaller than .*resize only grows'
check_eq "... the disk untouched" "$before" "$(stat -c '%s %Y' "$vhd")"
truncate -s 16M "$work/zeros.img"
set +e
msg=$("$ONESHOT" resize --bootfiles "$BOOTFILES" --size 32M "$work/zeros.img" 2>&1 >/dev/null)
rc=$?
set -e
check_eq "resize of a disk without ext4: refused (1)" 1 "$rc"
check_eq "... the disk untouched" $((16 << 20)) "$(stat -c %s "$work/zeros.img")"

# ---- extract ---------------------------------------------------------------

# tree_of IMG: one sorted line per entry below / (lost+found aside): path,
# mode, owner, then per type size and content hash, link target or device
# numbers, the mtime (not for whiteouts: tar2ext4 dates them 0), the link
# count and the xattrs.  Paths without spaces.
tree_of() {
	local img=$1
	_walk() {
		local dir=$1 mode uid gid name size p st extra mt links xa
		debugfs -R "ls -p $dir" "$img" 2>/dev/null | while IFS=/ read -r _ _ mode uid gid name size _; do
			case "$name" in "" | . | ..) continue ;; esac
			p=${dir%/}/$name
			[ "$p" = /lost+found ] && continue
			st=$(debugfs -R "stat $p" "$img" 2>/dev/null)
			mt=$(sed -n 's/^ *mtime: \(0x[0-9a-f]*\).*/\1/p' <<<"$st" | head -1)
			links=$(sed -n 's/.*Links: \([0-9]*\).*/\1/p' <<<"$st" | head -1)
			xa=$(sed -n '/^Extended attributes:/,/^[A-Z]/{/^  /p}' <<<"$st" | sed 's/^ *//' | sort | tr '\n' ';')
			case "$mode" in
			04*) extra=dir ;;
			10*) extra="file $size $(debugfs -R "cat $p" "$img" 2>/dev/null | sha256sum | cut -c1-16)" ;;
			12*) extra="link $(sed -n 's/^Fast link dest: //p' <<<"$st")" ;;
			02*) extra="chardev $(sed -n 's/.*Device major\/minor number: \([0-9:]*\).*/\1/p' <<<"$st")"; mt=- ;;
			*) extra=other ;;
			esac
			echo "$p $mode $uid:$gid $extra mtime=$mt links=$links xattrs=$xa"
			case "$mode" in 04*) _walk "$p" ;; esac
		done
	}
	_walk / | sort
}

# The layer: every kind of entry a layer has, made with explicit metadata.
python3 - "$work/layer.tar" <<'EOF'
import io, random, sys, tarfile
rnd = random.Random(6)
tf = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, typ, mode, data=None, uid=0, gid=0, link="", pax=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid = typ, mode, uid, gid
    ti.mtime, ti.linkname, ti.pax_headers = 1600000000, link, pax or {}
    if data is not None:
        ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data) if data is not None else None)
D, F, L, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
add("etc", D, 0o755)
add("etc/hostname", F, 0o644, b"oneshot\n", pax={"SCHILY.xattr.user.oneshot": "hello"})
add("etc/shadow", F, 0o640, b"root:*:1::::::\n", gid=42)
add("usr", D, 0o755)
add("usr/bin", D, 0o755)
add("usr/bin/tool", F, 0o755, bytes(rnd.getrandbits(8) for _ in range(300000)))
add("usr/bin/tool-again", H, 0o755, link="usr/bin/tool")
add("usr/bin/su", F, 0o4755, b"#!/bin/sh\n")
add("bin", L, 0o777, link="usr/bin")
add("home", D, 0o755)
add("home/user", D, 0o700, uid=1000, gid=1000)
add("home/user/.profile", F, 0o600, b"PATH=/bin\n", uid=1000, gid=1000)
add("empty", F, 0o644, b"")
add("zeros", F, 0o644, bytes(2 << 20))
add("var", D, 0o755)
add("var/.wh.gone", F, 0o644, b"")
add("opt", D, 0o755)
add("opt/.wh..wh..opq", F, 0o644, b"")
add("opt/keep", F, 0o644, b"kept\n")
# No entries for its parents: they are made (0755, root).
add("deep/" + "d" * 60 + "/" + "f" * 80, F, 0o644, b"long name\n")
tf.close()
EOF
gzip -kn "$work/layer.tar"
layer=$work/layer.tar.gz
check "extract layer.tar.gz into layer.vhd" os extract --log "$work/extract.log" "$layer" "$work/layer.vhd"
check "... the result passes e2fsck -fn" e2fsck -fn "$work/layer.vhd"
check_eq "... with a VHD footer" conectix "$(tail -c 512 "$work/layer.vhd" 2>/dev/null | head -c 8)"
"$BIN/tar2ext4" -overlay -vhd -i "$layer" -o "$work/ref.vhd"
tree_of "$work/ref.vhd" >"$work/ref.tree"
tree_of "$work/layer.vhd" >"$work/layer.tree"
# Parents the tar has no entry for: tar2ext4 dates them 0, the guest now.
implicit='^/deep(/d+)? '
check_eq "... 21 entries, as tar2ext4 made" 21 "$(wc -l <"$work/layer.tree")"
check "... the same tree as tar2ext4 -overlay (types, modes, owners, contents, links, mtimes, xattrs)" \
	diff <(grep -Ev "$implicit" "$work/ref.tree") <(grep -Ev "$implicit" "$work/layer.tree")
check "... implicit parents alike but for their mtime" \
	diff <(grep -E "$implicit" "$work/ref.tree" | sed 's/mtime=[^ ]*//') \
	<(grep -E "$implicit" "$work/layer.tree" | sed 's/mtime=[^ ]*//')
check_log "... the whiteout is a 0/0 character device" "$work/layer.tree" '^/var/gone 020000 0:0 chardev 0+:0+ '
check_log "... the opaque directory has trusted.overlay.opaque=y" "$work/layer.tree" \
	'^/opt .*trusted\.overlay\.opaque \(1\) = "y"'
check_log "... the hard link shares the inode" "$work/layer.tree" '^/usr/bin/tool-again 100755 .* links=2 '

echo 'not a tar at all, not even close' | head -c 4096 >"$work/bad.tar"
set +e
msg=$("$ONESHOT" extract --bootfiles "$BOOTFILES" "$work/bad.tar" "$work/bad.vhd" 2>&1 >/dev/null)
rc=$?
set -e
check_eq "extract of a bad tar: refused (1)" 1 "$rc"
check_log "... saying it is not a tar" <(echo "$msg") 'is not a tar archive'
check "... and no disk left behind" test ! -e "$work/bad.vhd"

python3 - "$work/escape.tar" <<'EOF'
import io, sys, tarfile
tf = tarfile.open(sys.argv[1], "w")
for name in ("ok", "../../escaped"):
    ti = tarfile.TarInfo(name)
    ti.size = 3
    tf.addfile(ti, io.BytesIO(b"hi\n"))
tf.close()
EOF
set +e
msg=$(os extract "$work/escape.tar" "$work/escape.vhd" 2>&1 >/dev/null)
rc=$?
set -e
check_eq "extract of a tar with an entry outside the root: fails in the guest (1)" 1 "$rc"
check_log "... with remotefs's JSON error (EXDEV)" <(echo "$msg") '"ErrNum":18'
check "... and no disk (nor temporary file) left behind" \
	test -z "$(find "$work" -maxdepth 1 \( -name escape.vhd -o -name '.lcow-oneshot-*' \))"

# ---- remotefs --------------------------------------------------------------

set +e
os remotefs --ro "$work/layer.vhd" readfile /usr/bin/tool </dev/null >"$work/tool.out" 2>"$work/tool.err"
rc=$?
set -e
check_eq "remotefs --ro layer.vhd readfile /usr/bin/tool: status 0" 0 "$rc"
debugfs -R 'cat /usr/bin/tool' "$work/layer.vhd" >"$work/tool.ref" 2>/dev/null
check "... stdout is the file, byte for byte (300000 bytes)" cmp "$work/tool.out" "$work/tool.ref"
check_eq "... nothing on stderr" "" "$(cat "$work/tool.err")"

set +e
os remotefs "$work/layer.vhd" stat /no/such/file </dev/null >"$work/stat.out" 2>"$work/stat.err"
rc=$?
set -e
check_eq "remotefs stat of a missing file: status 0, as opengcs" 0 "$rc"
check_eq "... the JSON error is our stderr" '{"ErrString":"file does not exist"}' "$(cat "$work/stat.err")"

set +e
"$ONESHOT" remotefs --bootfiles "$BOOTFILES" "$work/no-such.vhd" stat / >/dev/null 2>"$work/nodisk.err" </dev/null
rc=$?
set -e
check_eq "remotefs on a missing disk: 125" 125 "$rc"
check_log "... saying so" "$work/nodisk.err" 'no-such.vhd does not exist'

done_testing
