#!/usr/bin/env bash
# Image benchmark: tar2ext4 -vhd on a large, realistic layer (Debian 12
# `debootstrap --variant=minbase` packed as a tar, built once and cached),
# side by side in the same run with
#   staging   tar -x into a temp dir + mke2fs -t ext4 -d DIR of a fitting
#             size + a fixed-VHD footer (the unpack-and-format way), and
#   raw       dd of the tar's bytes into a new file (sequential write speed).
# Each route ends with an fsync of its output and nothing else (see
# policy below); the input tar is read from the page cache by all three.
# Wall/CPU time, peak memory (max RSS) and MB/s of tar input and of file
# data, median and spread over N runs.  Every image must pass e2fsck -fn and
# the raw copy must equal the tar, else the benchmark fails; timings never
# fail it.
#   qemu-tests/bench/image-bench.sh [--runs N] [--out DIR] [--workdir DIR] [--layer TAR]
set -euo pipefail

PROG=image-bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
BIN=${BIN:-$OUT/bin}
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lcow-uvm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
runs=3
outdir=$OUT/bench
workbase=${TMPDIR:-/tmp}
layer_arg=

usage() {
	cat >&2 <<EOU
usage: $0 [--runs N] [--out DIR] [--workdir DIR] [--layer TAR]

  --runs N       runs of each route (default 3; 1 is the quick mode)
  --out DIR      where image.json and image.md go (default out/bench)
  --workdir DIR  where images and the staging tree are written
                 (default \$TMPDIR or /tmp); its file system is in the report
  --layer TAR    use TAR instead of the cached debootstrap layer
Environment: CACHE (default ~/.cache/lcow-uvm; the layer is
\$CACHE/bench/$SUITE-minbase.tar), DEBIAN_MIRROR, BIN.
EOU
	exit 2
}
die() {
	echo "$PROG: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?}; shift 2 ;;
	--out) outdir=${2:?}; shift 2 ;;
	--workdir) workbase=${2:?}; shift 2 ;;
	--layer) layer_arg=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage
[ -x "$BIN/tar2ext4" ] || die "no $BIN/tar2ext4 (run ./build.sh)"
for t in mke2fs e2fsck dumpe2fs tar dd cmp jq python3; do
	command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh)"
done
# GNU time gives CPU time and max RSS; without it (package 'time') only
# wall times are reported.
have_time=1
if [ ! -x /usr/bin/time ]; then
	have_time=0
	echo "$PROG: /usr/bin/time not found (Debian package 'time'): no CPU or memory figures" >&2
fi
mkdir -p "$outdir"

work=$(mktemp -d "$workbase/lcow-image-bench.XXXXXX")
dbs_tmp=
cleanup() {
	# --one-file-system: never follow a mount a failed debootstrap left.
	[ -z "$dbs_tmp" ] || rm -rf --one-file-system "$dbs_tmp"
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# The layer: a minbase Debian tree as Docker's debian:bookworm would ship
# it (no /dev nodes, no /proc or /sys contents), packed once and cached.
# A fresh debootstrap downloads ~40 MB; later runs reuse the tar.
build_debootstrap_layer() { # TAR
	local tar=$1 root
	command -v debootstrap >/dev/null || { echo "$PROG: debootstrap not installed" >&2; return 1; }
	[ "$(id -u)" = 0 ] || { echo "$PROG: debootstrap needs root" >&2; return 1; }
	mkdir -p "$(dirname "$tar")"
	dbs_tmp=$(mktemp -d "$(dirname "$tar")/debootstrap.XXXXXX")
	root=$dbs_tmp/root
	echo "$PROG: debootstrap --variant=minbase $SUITE from $MIRROR (once; cached in $tar)" >&2
	if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$dbs_tmp/log" 2>&1; then
		tail -5 "$dbs_tmp/log" | sed "s/^/$PROG: debootstrap: /" >&2
		# debootstrap may leave its chroot's /proc and /sys mounted.
		local m
		for m in proc sys dev/pts dev; do
			if mountpoint -q "$root/$m" 2>/dev/null; then
				umount -l "$root/$m" 2>/dev/null || true
			fi
		done
		return 1
	fi
	tar --sort=name --numeric-owner --xattrs --xattrs-include='*' \
		--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-C "$root" -cf "$dbs_tmp/layer.tar" .
	mv "$dbs_tmp/layer.tar" "$tar"
	rm -rf --one-file-system "$dbs_tmp"
	dbs_tmp=
}

layer_source=
layer_fallback=false
if [ -n "$layer_arg" ]; then
	[ -r "$layer_arg" ] || die "cannot read $layer_arg"
	layer=$layer_arg
	layer_source="given: $layer_arg"
else
	layer=$CACHE/bench/$SUITE-minbase.tar
	if [ -s "$layer" ] || build_debootstrap_layer "$layer"; then
		layer_source="debootstrap --variant=minbase $SUITE ($MIRROR), cached as $layer"
	else
		# Not cached: it is the host's /usr, which changes with the host.
		echo "$PROG: debootstrap failed; falling back to a tar of the host's /usr" >&2
		layer=$work/usr.tar
		layer_fallback=true
		dirs=()
		for d in usr/bin usr/sbin usr/include usr/libexec; do
			[ -d "/$d" ] && dirs+=("$d")
		done
		tar --sort=name --numeric-owner -C / -cf "$layer" "${dirs[@]}"
		layer_source="FALLBACK (debootstrap failed): tar of the host's $(printf '/%s ' "${dirs[@]}")(not cached)"
	fi
fi

# What is in the layer: tar bytes, entries, regular files and their bytes
# (hard links counted once: tar lists them as type h).
tar_bytes=$(stat -L -c %s "$layer")
read -r entries files data_bytes < <(tar -tvf "$layer" |
	awk '{ n++ } $1 ~ /^-/ { f++; s += $3 } END { printf "%d %d %d\n", n, f, s }')
[ "$files" -gt 0 ] || die "$layer has no regular files"
echo "$PROG: layer $layer: $tar_bytes bytes of tar, $entries entries, $files files, $data_bytes bytes of file data" >&2

fstype=$(df --output=fstype "$work" | tail -1 | tr -d ' ')

# Every route starts equal: the tar in the page cache, nothing dirty.
settle() {
	cat "$layer" >/dev/null
	sync
}

# timed NAME CMD...: runs CMD under /usr/bin/time; appends
# "wall user sys maxrss_kib" to $work/NAME.times.  Wall time is taken here
# in nanoseconds (time's %e has 10 ms steps); CPU and max RSS come from
# wait4's rusage, so for a process tree the max RSS is that of its largest
# process.
timed() {
	local name=$1 t0 t1 u s m
	shift
	local tm=()
	[ "$have_time" = 0 ] || tm=(/usr/bin/time -o "$work/time" -f '%U %S %M')
	echo "null null null" >"$work/time"
	t0=$(date +%s.%N)
	if ! "${tm[@]}" "$@" >"$work/$name.log" 2>&1; then
		cat "$work/$name.log" >&2
		die "$name failed"
	fi
	t1=$(date +%s.%N)
	read -r u s m < <(tail -1 "$work/time")
	echo "$(printf '%.3f' "$(echo "$t1 - $t0" | bc)") $u $s $m" >>"$work/$name.times"
}

fsck_clean() { # IMAGE LABEL
	e2fsck -fn "$1" >"$work/fsck.log" 2>&1 || {
		cat "$work/fsck.log" >&2
		die "$2: e2fsck -fn rejects the image"
	}
}

used_inodes() { # IMAGE
	dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Inode count/ { n = $2 } /^Free inodes/ { f = $2 } END { print n - f }'
}

# The staging route, as one process tree: unpack (as root: owners, modes,
# devices, xattrs kept), format with the tree, append a fixed-VHD footer in
# place and fsync the image.  The staging tree itself is not synced: its
# dirty pages are written back later, outside the timing (this favours the
# staging route).
cat >"$work/staging.sh" <<'EOS'
#!/usr/bin/env bash
set -euo pipefail
tarball=$1 dir=$2 img=$3 size=$4
mkdir "$dir"
tar --numeric-owner --xattrs --xattrs-include='*' -C "$dir" -xpf "$tarball"
mke2fs -q -F -t ext4 -b 4096 -I 256 -O ^has_journal,^resize_inode -d "$dir" "$img" "$((size / 1024))k"
# Debian's python3 directly: a version-manager shim on PATH would add its
# own start-up time to this route.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" - "$img" <<'EOF'
import os, struct, sys
p = sys.argv[1]
n = os.path.getsize(p)
f = bytearray(struct.pack(">8sIIQI4sI4sQQHBBII16sB427s", b"conectix", 2, 0x10000,
                          2**64 - 1, 0, b"ref ", 0x10000, b"Wi2k", n, n, 0, 0, 0, 2, 0,
                          bytes(16), 0, bytes(427)))
struct.pack_into(">I", f, 64, (~sum(f)) & 0xFFFFFFFF)
with open(p, "ab") as out:
    out.write(f)
    out.flush()
    os.fsync(out.fileno())
EOF
EOS
chmod +x "$work/staging.sh"

t2e_img=$work/t2e.vhd
stg_img=$work/staging.vhd
stg_dir=$work/staging
raw_out=$work/raw.bin

# A fitting size for mke2fs -d, found once outside the timing: tar2ext4's
# own (minimal) size, grown in 4% steps (whole MiB) until mke2fs accepts the
# tree.
"$BIN/tar2ext4" -vhd -i "$layer" -o "$t2e_img" >/dev/null 2>&1 || die "tar2ext4 -vhd failed on $layer"
t2e_size=$(($(stat -c %s "$t2e_img") - 512))
rm -f "$t2e_img"
mkdir "$stg_dir"
tar --numeric-owner --xattrs --xattrs-include='*' -C "$stg_dir" -xpf "$layer"
stg_size=$(((t2e_size + (1 << 20) - 1) >> 20 << 20))
for _ in $(seq 1 40); do
	if mke2fs -q -F -t ext4 -b 4096 -I 256 -O ^has_journal,^resize_inode -d "$stg_dir" \
		"$stg_img" "$((stg_size / 1024))k" >/dev/null 2>&1; then
		break
	fi
	stg_size=$(((stg_size * 104 / 100 + (1 << 20) - 1) >> 20 << 20))
	rm -f "$stg_img"
done
[ -s "$stg_img" ] || die "mke2fs -d does not fit the tree even at $stg_size bytes"
rm -rf --one-file-system "$stg_dir" "$stg_img"
echo "$PROG: image sizes: tar2ext4 $t2e_size bytes (minimal); staging mke2fs $stg_size bytes (smallest 4% step that fits)" >&2

for i in $(seq 1 "$runs"); do
	rm -f "$t2e_img"
	settle
	timed tar2ext4 "$BIN/tar2ext4" -vhd -i "$layer" -o "$t2e_img"
	fsck_clean "$t2e_img" tar2ext4

	rm -rf --one-file-system "$stg_dir" "$stg_img"
	settle
	timed staging "$work/staging.sh" "$layer" "$stg_dir" "$stg_img" "$stg_size"
	fsck_clean "$stg_img" staging
	rm -rf --one-file-system "$stg_dir"

	rm -f "$raw_out"
	settle
	timed raw dd if="$layer" of="$raw_out" bs=1M conv=fsync status=none
	cmp -s "$layer" "$raw_out" || die "raw: the copy differs from the tar"

	for r in tar2ext4 staging raw; do
		read -r w u s m < <(tail -1 "$work/$r.times")
		if [ "$have_time" = 1 ]; then
			echo "$PROG: run $i: $r wall ${w} s, cpu $(printf '%.2f' "$(echo "$u + $s" | bc)") s, max RSS ${m} KiB" >&2
		else
			echo "$PROG: run $i: $r wall ${w} s" >&2
		fi
	done
	t2e_inodes=$(used_inodes "$t2e_img")
	stg_inodes=$(used_inodes "$stg_img")
	t2e_image_bytes=$(stat -c %s "$t2e_img")
	stg_image_bytes=$(stat -c %s "$stg_img")
done

stats() { # numbers (or null) on stdin -> JSON {median,min,max,spread,n} or null
	jq -s 'map(select(. != null)) | sort | if length == 0 then null else
		{n: length, min: .[0], max: .[-1], spread: ((.[-1] - .[0]) * 1000 | round / 1000),
		 median: (if length % 2 == 1 then .[length/2|floor]
			  else (.[length/2 - 1] + .[length/2]) / 2 end)} end'
}

route_json() { # NAME -> JSON with stats of wall, cpu, rss, MB/s
	local f=$work/$1.times
	jq -n \
		--argjson wall "$(awk '{ print $1 }' "$f" | stats)" \
		--argjson cpu "$(awk '{ if ($2 == "null") print "null"; else printf "%.2f\n", $2 + $3 }' "$f" | stats)" \
		--argjson rss "$(awk '{ print $4 }' "$f" | stats)" \
		--argjson tmb "$(awk -v b="$tar_bytes" '{ printf "%.1f\n", ($1 > 0 ? b / 1e6 / $1 : 0) }' "$f" | stats)" \
		--argjson dmb "$(awk -v b="$data_bytes" '{ printf "%.1f\n", ($1 > 0 ? b / 1e6 / $1 : 0) }' "$f" | stats)" \
		'{wall_s: $wall, cpu_s: $cpu, max_rss_kib: $rss, tar_MBps: $tmb, file_data_MBps: $dmb}'
}

jq -n \
	--arg date "$(date -u +%FT%TZ)" \
	--argjson runs "$runs" \
	--arg source "$layer_source" --argjson fallback "$layer_fallback" \
	--argjson tar_bytes "$tar_bytes" --argjson entries "$entries" \
	--argjson files "$files" --argjson data_bytes "$data_bytes" \
	--arg workdir "$workbase" --arg fstype "$fstype" \
	--arg host "$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)" \
	--argjson t2e "$(route_json tar2ext4)" \
	--argjson stg "$(route_json staging)" \
	--argjson raw "$(route_json raw)" \
	--argjson t2e_size "$t2e_image_bytes" --argjson stg_size "$stg_image_bytes" \
	--argjson t2e_inodes "$t2e_inodes" --argjson stg_inodes "$stg_inodes" \
	--arg mke2fs_ver "$(mke2fs -V 2>&1 | head -1)" \
	'{date: $date, runs: $runs, host: $host,
	  layer: {source: $source, fallback: $fallback, tar_bytes: $tar_bytes, entries: $entries,
		  regular_files: $files, file_data_bytes: $data_bytes},
	  workdir: {path: $workdir, fstype: $fstype},
	  policy: "each timed span ends with an fsync of its own output only (tar2ext4: fsync before rename; staging: fsync of the image after the footer; raw: dd conv=fsync); a global sync and a read of the tar into the page cache precede every span; the staging tree is not synced",
	  routes: {
	    tar2ext4: ($t2e + {command: "tar2ext4 -vhd -i LAYER -o OUT", image_bytes: $t2e_size, used_inodes: $t2e_inodes}),
	    staging: ($stg + {command: "tar -xp --xattrs; mke2fs -t ext4 -b 4096 -I 256 -O ^has_journal,^resize_inode -d DIR IMG SIZE; VHD footer appended in place (python3); fsync", image_bytes: $stg_size, used_inodes: $stg_inodes, mke2fs: $mke2fs_ver}),
	    raw: ($raw + {command: "dd if=LAYER of=OUT bs=1M conv=fsync", bytes: $tar_bytes})
	  },
	  validation: "both images pass e2fsck -fn after every run; the raw copy equals the tar (cmp)",
	  targets: {
	    faster_than_staging: {target: "tar2ext4 wall < staging wall",
		ratio_staging_over_tar2ext4: (($stg.wall_s.median / $t2e.wall_s.median) * 100 | round / 100),
		met: ($t2e.wall_s.median < $stg.wall_s.median)},
	    within_2x_of_raw: {target: "tar2ext4 wall <= 2 x raw write wall",
		ratio_tar2ext4_over_raw: (($t2e.wall_s.median / $raw.wall_s.median) * 100 | round / 100),
		met: ($t2e.wall_s.median <= 2 * $raw.wall_s.median)}
	  }}' >"$outdir/image.json"

{
	j=$outdir/image.json
	echo "# Image benchmark ($(date -u +%F))"
	echo
	jq -r '"Layer: \(.layer.source) — \(.layer.tar_bytes) bytes of tar, \(.layer.entries) entries, \(.layer.regular_files) regular files, \(.layer.file_data_bytes) bytes of file data.",
		"",
		"Work directory: \(.workdir.path) (\(.workdir.fstype)); host: \(.host); \(.runs) run(s) per route, interleaved; medians, spread = max − min.",
		"",
		"Page-cache policy: \(.policy).",
		""' "$j"
	echo "| route | wall (median) | spread | CPU (median) | max RSS | MB/s of tar | MB/s of file data | output |"
	echo "|---|---|---|---|---|---|---|---|"
	jq -r '.routes | to_entries[] |
		"| \(.key) | \(.value.wall_s.median) s | \(if .value.wall_s.n < 2 then "-" else "\(.value.wall_s.spread) s" end) | \(if .value.cpu_s == null then "-" else "\(.value.cpu_s.median) s" end) | \(if .value.max_rss_kib == null then "-" else "\(.value.max_rss_kib.median / 1024 | . * 10 | round / 10) MiB" end) | \(.value.tar_MBps.median) | \(.value.file_data_MBps.median) | \(.value.image_bytes // .value.bytes) bytes |"' "$j"
	echo
	jq -r '.routes | "Used inodes: tar2ext4 \(.tar2ext4.used_inodes), staging \(.staging.used_inodes). Commands: tar2ext4 `\(.tar2ext4.command)`; staging `\(.staging.command)` (\(.staging.mke2fs)); raw `\(.raw.command)`. Max RSS of the staging route is that of its largest process."' "$j"
	echo
	echo "Validation: $(jq -r .validation "$j")."
	echo
	echo "| target (issue 4) | ratio | met |"
	echo "|---|---|---|"
	jq -r '.targets | "| faster than the staging route | staging / tar2ext4 = \(.faster_than_staging.ratio_staging_over_tar2ext4)× | \(if .faster_than_staging.met then "yes" else "no" end) |",
		"| within 2× of raw write | tar2ext4 / raw = \(.within_2x_of_raw.ratio_tar2ext4_over_raw)× | \(if .within_2x_of_raw.met then "yes" else "no" end) |"' "$j"
} >"$outdir/image.md"
cat "$outdir/image.md"
