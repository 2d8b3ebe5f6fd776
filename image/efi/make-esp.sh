#!/usr/bin/env bash
# Build a FAT EFI system partition image that boots the LCOW boot files the
# way Hyper-V does: \EFI\BOOT\BOOTX64.EFI (image/efi/loader.c) starts \kernel
# with the load options in \cmdline, and the kernel's EFI stub reads
# \initrd.img.  No root needed: mkfs.fat on a regular file, mtools to fill it.
set -euo pipefail

PROG=make-esp.sh
LABEL=LCOW-ESP
VOLUME_ID=4c434f57 # "LCOW"
# What the loader accepts: the kernel's 2047 bytes minus the room its
# " lcow.loader_tsc=<u64>,<u64>" tag needs (CMDLINE_MAX in loader.c).
CMDLINE_MAX=1989
# FAT cannot store times before 1980; used when SOURCE_DATE_EPOCH is unset
# so that the image is still the same on every run.
FAT_EPOCH=315532800

usage() {
	cat <<EOU
usage: $PROG --loader BOOTX64.EFI --kernel KERNEL --initrd INITRD
                   --cmdline TEXT -o ESP.img

Writes a FAT image holding
  \\EFI\\BOOT\\BOOTX64.EFI   the loader
  \\kernel                 KERNEL (bzImage with the EFI stub)
  \\initrd.img             INITRD
  \\cmdline                TEXT, byte for byte (no newline added), UTF-8,
                          at most $CMDLINE_MAX bytes
The size is computed from the inputs with headroom.  The output appears
only when complete (written to a temp file, then renamed).  The image is
reproducible: fixed volume id and label, and every timestamp is
SOURCE_DATE_EPOCH (default: 1980-01-01).
EOU
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

loader=
kernel=
initrd=
cmdline=
have_cmdline=0
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--loader) loader=${2:?--loader needs a file}; shift 2 ;;
	--kernel) kernel=${2:?--kernel needs a file}; shift 2 ;;
	--initrd) initrd=${2:?--initrd needs a file}; shift 2 ;;
	--cmdline) [ $# -ge 2 ] || die "--cmdline needs text"; cmdline=$2; have_cmdline=1; shift 2 ;;
	-o | --output) out=${2:?-o needs a file}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done

[ -n "$loader" ] && [ -n "$kernel" ] && [ -n "$initrd" ] && [ "$have_cmdline" = 1 ] && [ -n "$out" ] ||
	{ usage >&2; die "--loader, --kernel, --initrd, --cmdline and -o are all required"; }
for f in "$loader" "$kernel" "$initrd"; do
	[ -f "$f" ] && [ -r "$f" ] || die "cannot read '$f'"
done
[ ! -d "$out" ] || die "output '$out' is a directory"
cmdline_bytes=$(printf '%s' "$cmdline" | LC_ALL=C wc -c)
[ "$cmdline_bytes" -le "$CMDLINE_MAX" ] ||
	die "--cmdline is $cmdline_bytes bytes; the loader takes at most $CMDLINE_MAX"
printf '%s' "$cmdline" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 ||
	die "--cmdline is not valid UTF-8"
for t in mkfs.fat mmd mcopy; do
	command -v "$t" >/dev/null || die "$t not found (packages dosfstools, mtools)"
done

epoch=${SOURCE_DATE_EPOCH:-$FAT_EPOCH}
[[ "$epoch" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be seconds, got '$epoch'"
[ "$epoch" -ge "$FAT_EPOCH" ] || epoch=$FAT_EPOCH

outdir=$(dirname -- "$out")
[ -d "$outdir" ] || die "no directory '$outdir' for the output"
tmp=$(mktemp "$outdir/.esp.XXXXXX")
work=$(mktemp -d)
cleanup() {
	rm -f -- "$tmp"
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Size: every file rounded up to 32 KiB (the largest cluster mkfs.fat picks
# below 2 GiB), plus an eighth for the FATs and directories, plus 1 MiB of
# headroom, in whole MiB.
data=0
for f in "$loader" "$kernel" "$initrd"; do
	s=$(stat -c %s -- "$f")
	data=$((data + (s + 32767) / 32768 * 32768))
done
data=$((data + 32768))
size_mib=$(((data + data / 8 + 1048576 + 1048575) / 1048576))
truncate -s "${size_mib}M" "$tmp"

# --invariant: no random or time-based fields (boot sector, volume label
# entry); the id and label are ours.
mkfs.fat --invariant -i "$VOLUME_ID" -n "$LABEL" "$tmp" >/dev/null ||
	die "mkfs.fat failed on $tmp"

printf '%s' "$cmdline" >"$work/cmdline"
# mtools stamps new entries with SOURCE_DATE_EPOCH, in local time: fix TZ
# too.  MTOOLSRC=/dev/null keeps a user's ~/.mtoolsrc out of it.
export SOURCE_DATE_EPOCH=$epoch TZ=UTC MTOOLSRC=/dev/null MTOOLS_SKIP_CHECK=1
m() {
	"$@" || die "$* failed (image too small or unreadable input?)"
}
m mmd -i "$tmp" ::/EFI ::/EFI/BOOT
m mcopy -Q -i "$tmp" -- "$loader" ::/EFI/BOOT/BOOTX64.EFI
m mcopy -Q -i "$tmp" -- "$kernel" ::/kernel
m mcopy -Q -i "$tmp" -- "$initrd" ::/initrd.img
m mcopy -Q -i "$tmp" -- "$work/cmdline" ::/cmdline

chmod 0644 "$tmp"
mv -f -- "$tmp" "$out"
