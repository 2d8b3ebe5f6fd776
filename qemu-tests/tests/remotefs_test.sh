#!/usr/bin/env bash
# /bin/remotefs in the real VM, driven the way the Windows host drives it:
# one process per operation through ExecuteProcess in the utility VM
# (lcowctl exec --uvm), data on stdin/stdout, errors as JSON on stderr.
# One VM, with a scratch disk the guest formats with the host's mkfs.ext4
# options (the container's root and an overlay upper dir live there):
#  - copy in (extractarchive of a host tar, also gzip'd; writefile) and
#    out (readfile, archivepath) with byte-exact contents (sha256);
#  - docker commit: archivepath of an overlay upper dir with a deletion and
#    an opaque directory gives a layer with .wh. whiteouts; applied with
#    extractarchive to a fresh copy of the lower dir it reproduces the
#    merged view, deletions included;
#  - escapes (../, absolute symlinks, a crafted tar) fail with the JSON
#    error and touch nothing outside the root.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_bootfiles
for t in jq perl python3 tar sha256sum; do
	command -v "$t" >/dev/null || skip_all "host has no $t"
done

work=$(mktemp -d /tmp/lcow-remotefs-test.XXXXXX)
vm_pid=
cleanup() {
	if [ -n "$vm_pid" ]; then
		kill "$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

scratch=$work/scratch.img
truncate -s 256M "$scratch"
"$RUN_VM" --bootfiles "$BOOTFILES" --host --workdir "$work/vm" --serial "$work/console.log" \
	--mem 256 --timeout 800 \
	--qemu-arg -device --qemu-arg virtio-scsi-pci \
	--qemu-arg -drive --qemu-arg "file=$scratch,format=raw,if=none,id=d0" \
	--qemu-arg -device --qemu-arg "scsi-hd,drive=d0,channel=0,scsi-id=0,lun=0" \
	>"$work/run-vm.log" 2>&1 &
vm_pid=$!
ctl=$work/vm/vm.sock.ctl
for _ in $(seq 1 600); do
	[ -S "$ctl" ] && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.2
done
if ! "$BIN/lcowctl" -c "$ctl" wait-ready --timeout 240 >/dev/null 2>&1; then
	echo "Bail out! the bridge never came up; run-vm log:"
	sed 's/^/# /' "$work/run-vm.log" | tail -20
	exit 1
fi

# Run a process in the VM: uvm [-n] CMD ARGS... (stdin relayed unless -n).
uvm() {
	local nostdin=()
	if [ "$1" = -n ]; then
		nostdin=(-n)
		shift
	fi
	"$BIN/lcowctl" -c "$ctl" exec --uvm "${nostdin[@]}" -- "$@"
}
# ExecuteProcess in the VM is another component's; without it there is
# nothing to drive remotefs with.
if ! uvm -n /bin/true >"$work/probe.out" 2>&1; then
	if grep -q 'not implemented' "$work/probe.out"; then
		skip_all "the agent does not run processes in the VM yet (ExecuteProcess)"
	fi
	echo "Bail out! exec --uvm /bin/true failed:"
	sed 's/^/# /' "$work/probe.out"
	exit 1
fi

plan 32

S=/mnt/scratch
R=$S/root
# rfs NAME ARGS...: remotefs with --root $R; stdout to $work/NAME.out,
# stderr to $work/NAME.err, stdin from the caller.
rfs() {
	local name=$1
	shift
	uvm /bin/remotefs --root "$R" "$@" >"$work/$name.out" 2>"$work/$name.err"
}
# The options prefix archivepath/extractarchive read: u64 BE length + JSON.
opts() { perl -e 'print pack("Q>", length($ARGV[0])), $ARGV[0]' "$1"; }

# --- the scratch disk: formatted like the host formats it, mounted --------
uvm -n /bin/sh -c "dev=/dev/\$(ls /sys/bus/scsi/devices/0:0:0:0/block) &&
	mkfs.ext4 -q -E lazy_itable_init=0,nodiscard -O ^has_journal,sparse_super2,^resize_inode \$dev &&
	mkdir -p $S && mount -t ext4 \$dev $S && mkdir $R" >"$work/setup.log" 2>&1
check "scratch disk formatted in the guest and mounted" grep -q " $S ext4 " <(uvm -n /bin/cat /proc/mounts)

# --- copy in and out ---------------------------------------------------------
src=$work/src
mkdir -p "$src/data/sub/deeper" "$src/data/empty"
head -c 3000000 /dev/urandom >"$src/data/big.bin"
head -c 70000 /dev/urandom >"$src/data/sub/deeper/mid.bin"
printf 'hello remotefs\n' >"$src/data/sub/hello.txt"
ln -s sub/hello.txt "$src/data/link"
chmod 4750 "$src/data/sub/deeper/mid.bin"
tar -C "$src" -cf "$work/in.tar" data
{
	opts '{}'
	cat "$work/in.tar"
} | rfs extract extractarchive /
check_eq "extractarchive of a host tar: no error" "" "$(cat "$work/extract.err")"

# Dockerfile ADD of a local .tar.gz: the host sends it compressed.
mkdir -p "$work/gzsrc/gz"
head -c 500000 /dev/urandom >"$work/gzsrc/gz/r.bin"
tar -C "$work/gzsrc" -czf "$work/in.tgz" gz
{
	opts '{}'
	cat "$work/in.tgz"
} | rfs gz extractarchive /
rfs gzread readfile /gz/r.bin </dev/null
check_eq "extractarchive of a .tar.gz (busybox zcat in the VM): byte-exact" \
	"$(sha256sum <"$work/gzsrc/gz/r.bin" | cut -d' ' -f1)" "$(sha256sum <"$work/gzread.out" | cut -d' ' -f1)"

rfs read readfile /data/big.bin </dev/null
check_eq "readfile returns the 3 MB file byte for byte" \
	"$(sha256sum <"$src/data/big.bin" | cut -d' ' -f1)" "$(sha256sum <"$work/read.out" | cut -d' ' -f1)"

head -c 1500000 /dev/urandom >"$work/up.bin"
rfs write writefile /data/up.bin 640 <"$work/up.bin"
rfs back readfile /data/up.bin </dev/null
check_eq "writefile then readfile: the same bytes" \
	"$(sha256sum <"$work/up.bin" | cut -d' ' -f1)" "$(sha256sum <"$work/back.out" | cut -d' ' -f1)"
cp "$work/up.bin" "$src/data/up.bin"
chmod 640 "$src/data/up.bin"

rfs stat stat /data/up.bin </dev/null
check_eq "stat: opengcs FileInfo with the size and Go mode" "up.bin 1500000 416 false" \
	"$(jq -r '"\(.NameVar) \(.SizeVar) \(.ModeVar) \(.IsDirVar)"' "$work/stat.out" 2>/dev/null)"

opts '{}' | rfs out archivepath /data
mkdir "$work/outtree"
tar -C "$work/outtree" -xpf "$work/out.out" 2>"$work/untar.err" || true
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }
check_eq "archivepath: the tree comes back byte-exact" "$(sums "$src/data")" "$(sums "$work/outtree")"
check_eq "archivepath: modes kept (setuid too)" "4750" "$(stat -c %a "$work/outtree/sub/deeper/mid.bin" 2>/dev/null)"
check_eq "archivepath: the symlink kept" "sub/hello.txt" "$(readlink "$work/outtree/link" 2>/dev/null)"

# lchmod: Docker's Go mode (ModeSetuid | 0700 = 40000700), never through a link.
rfs chmod lchmod /data/sub/hello.txt 40000700 </dev/null
rfs chmod2 stat /data/sub/hello.txt </dev/null
check_eq "lchmod with Go's setuid bit gives 04700" "$(((1 << 23) | 0700))" \
	"$(jq -r .ModeVar "$work/chmod2.out" 2>/dev/null)"
rfs chmod3 lchmod /data/link 777 </dev/null
check "lchmod of a symlink: EOPNOTSUPP as JSON" jq -e '.ErrNum == 95' "$work/chmod3.err"

rfs dir readdir /data 0 </dev/null
check_eq "readdir lists the entries" "big.bin empty link sub up.bin" \
	"$(jq -r '[.[].NameVar] | sort | join(" ")' "$work/dir.out" 2>/dev/null)"

# --- docker commit: an overlay upper dir as a layer --------------------------
uvm -n /bin/sh -c "set -e; cd $R; mkdir -p lower/opq/inner lower/keep upper work merged;
	echo a > lower/a; echo b > lower/b; echo o1 > lower/opq/o1; echo i > lower/opq/inner/i;
	echo k > lower/keep/k;
	mount -t overlay overlay -o lowerdir=$R/lower,upperdir=$R/upper,workdir=$R/work $R/merged;
	rm merged/a; rm -rf merged/opq; mkdir merged/opq; echo new > merged/opq/new;
	echo k2 > merged/keep/k2; echo B > merged/b" >"$work/overlay.log" 2>&1
check "overlay mounted and changed in the guest" grep -q " $R/merged overlay " <(uvm -n /bin/cat /proc/mounts)
opts '{"WhiteoutFormat":1}' | rfs layer archivepath /upper
tar -tf "$work/layer.out" >"$work/layer.list" 2>/dev/null || true
check_log "layer: the deletion is a .wh. file" "$work/layer.list" '^\.wh\.a$'
check_log "layer: the opaque dir has .wh..wh..opq" "$work/layer.list" '^opq/\.wh\.\.wh\.\.opq$'
check_log "layer: the new file is in it" "$work/layer.list" '^opq/new$'
check_nolog "layer: no character devices" <(tar -tvf "$work/layer.out" 2>/dev/null) '^c'
check_nolog "layer: unchanged lower files are not in it" "$work/layer.list" '^(keep/k|opq/o1)$'

# A fresh copy of the lower dir (through remotefs too), then the layer.
uvm -n /bin/remotefs --root "$R" mkdirall /fresh 755 >/dev/null 2>&1
opts '{}' | rfs lower archivepath /lower
{
	opts '{}'
	cat "$work/lower.out"
} | rfs fresh1 extractarchive /fresh
{
	opts '{}'
	cat "$work/layer.out"
} | rfs apply extractarchive /fresh
check_eq "layer applied with extractarchive: no error" "" "$(cat "$work/apply.err")"
opts '{}' | rfs merged archivepath /merged
opts '{}' | rfs freshtar archivepath /fresh
mkdir "$work/m" "$work/f"
tar -C "$work/m" -xf "$work/merged.out" 2>/dev/null || true
tar -C "$work/f" -xf "$work/freshtar.out" 2>/dev/null || true
check "fresh + layer == the merged overlay view (diff -r)" diff -r "$work/m" "$work/f"
check "the deleted file is gone" test ! -e "$work/f/a"
check "the opaque dir lost its old content" test ! -e "$work/f/opq/o1" -a ! -e "$work/f/opq/inner"
check_eq "the modified file has its new content" "B" "$(cat "$work/f/b" 2>/dev/null)"

# --- escapes -----------------------------------------------------------------
rfs esc1 readfile ../../../etc/passwd </dev/null
check_eq "readfile ../../../etc/passwd: the JSON error" '{"ErrString":"file does not exist"}' \
	"$(cat "$work/esc1.err")"
check_eq "readfile ../../../etc/passwd: nothing read" "0" "$(stat -c %s "$work/esc1.out")"
uvm -n /bin/remotefs --root "$R" symlink /etc /etc-link >/dev/null 2>&1
rfs esc2 readfile /etc-link/passwd </dev/null
check_eq "an absolute symlink resolves in the root: the JSON error" \
	'{"ErrString":"file does not exist"}' "$(cat "$work/esc2.err")"
uvm -n /bin/remotefs --root "$R" symlink ../../../../mnt /up-link >/dev/null 2>&1
printf 'pwned' | rfs esc3 writefile /up-link/escaped 644
check "writefile through ../../ links: nothing outside the root" \
	bash -c "! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- /bin/ls /mnt/escaped $S/escaped >/dev/null 2>&1"
check_eq "writefile through ../../ links: the JSON error" '{"ErrString":"file does not exist"}' \
	"$(cat "$work/esc3.err")"

python3 - "$work/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("../../evil")
    data = b"evil\n"
    i.size = len(data)
    t.addfile(i, io.BytesIO(data))
EOF
{
	opts '{}'
	cat "$work/evil.tar"
} | rfs esc4 extractarchive /data
check "a tar entry ../../evil is refused with the JSON error {ErrString, ErrNum}" \
	jq -e '(keys == ["ErrNum", "ErrString"]) and (.ErrString | type == "string")' "$work/esc4.err"
check "... which says why (outside of the destination, EXDEV)" \
	jq -e '(.ErrString | test("outside of")) and .ErrNum == 18' "$work/esc4.err"
check "... and nothing was written" \
	bash -c "! '$BIN/lcowctl' -c '$ctl' exec --uvm -n -- /bin/ls $S/evil $R/evil /mnt/evil >/dev/null 2>&1"

"$BIN/lcowctl" -c "$ctl" shutdown-forced >/dev/null 2>&1 || true
set +e
for _ in $(seq 1 300); do kill -0 "$vm_pid" 2>/dev/null || break; sleep 0.2; done
wait "$vm_pid"
rc=$?
vm_pid=
set -e
check_eq "VM powered off" 0 "$rc"

done_testing
