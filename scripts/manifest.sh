#!/usr/bin/env bash
# Describe a boot files directory: every file with size and sha256, the
# kernel version, config hash and the kernel-patches/ applied, busybox's version, Debian source and
# config hash, the Debian packages that went in, and the musl-built
# dependencies (their cache directories, NAME-VERSION-kKEY) the build used.
#   scripts/manifest.sh DIR [MUSL_DEP_DIR...] > DIR/manifest.json
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { echo "usage: $0 BOOTFILES_DIR [MUSL_DEP_DIR...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1
shift
[ -d "$dir" ] || { echo "manifest: no directory $dir" >&2; exit 1; }

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

files=$(cd "$dir" && for f in $(ls | sort); do
	[ "$f" = manifest.json ] && continue
	[ -f "$f" ] || continue
	jq -n --arg name "$f" --argjson size "$(stat -c %s "$f")" \
		--arg sha256 "$(sha256sum "$f" | cut -d' ' -f1)" '{name:$name,size:$size,sha256:$sha256}'
done | jq -s .)

# The configuration's header names the kernel version it was made for.
kver=$(sed -n 's/^# Linux\/[^ ]* \([^ ]*\) Kernel Configuration$/\1/p' "$dir/kernel.config" 2>/dev/null | head -1)
[ -n "$kver" ] || kver=unknown
kcfg=$(sha256sum "$dir/kernel.config" 2>/dev/null | cut -d' ' -f1 || echo unknown)
# The kernel's cache key covers the patches, so these are the ones in it.
kpatches=$(for p in "${KERNEL_PATCHES:-$ROOT/kernel-patches}"/*.patch; do
	[ -e "$p" ] || continue
	jq -n --arg name "$(basename "$p")" --arg sha256 "$(sha256sum "$p" | cut -d' ' -f1)" \
		'{name:$name,sha256:$sha256}'
done | jq -s .)

# busybox.config is headed by the build's "# key: value" provenance lines
# (scripts/build-musl-deps.sh busybox).
bbhead() { sed -n "s/^# $1: //p" "$dir/busybox.config" 2>/dev/null | head -1 || true; }
bb_src=$(bbhead 'lcow-uvm busybox' | sed -n 's/^upstream \([^,]*\), Debian source \(.*\)$/\1 \2/p')
bb_cfg=$(sha256sum "$dir/busybox.config" 2>/dev/null | cut -d' ' -f1 || true)
busybox=$(jq -n --arg version "${bb_src%% *}" --arg debian "${bb_src#* }" \
	--arg config "$bb_cfg" \
	--arg fragment "$(bbhead 'fragment sha256')" --arg applets "$(bbhead applets)" \
	--arg toolchain "$(bbhead toolchain)" \
	'if $version == "" then null else {version:$version, debian_source:$debian,
	  config_sha256:$config, fragment_sha256:$fragment,
	  applets:($applets|tonumber? // null), toolchain:$toolchain} end')

packages=$(for p in linux-source-6.1 musl-tools gnu-efi libarchive-dev libext2fs-dev; do
	jq -n --arg n "$p" --arg v "$(pkgver "$p")" '{($n):$v}'
done | jq -s 'add')
sources=$(for d in "$@"; do basename "$d"; done | jq -R . | jq -s .)

jq -n --argjson files "$files" --arg kver "$kver" --arg kcfg "$kcfg" \
	--argjson kpatches "$kpatches" \
	--argjson busybox "$busybox" \
	--argjson packages "$packages" --argjson sources "$sources" \
	--arg epoch "${SOURCE_DATE_EPOCH:-0}" \
	'{files:$files, kernel:{version:$kver, config_sha256:$kcfg, patches:$kpatches}, busybox:$busybox,
	  debian_packages:$packages, built_from_debian_source:$sources,
	  source_date_epoch:($epoch|tonumber)}'
