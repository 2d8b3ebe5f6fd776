# image/guest-tools/: third-party programs for the guest, built from Debian
# source packages with musl by scripts/build-musl-deps.sh and cached in
# $(CACHE)/musl (the first build needs deb-src in apt; later ones none).
#
#   e2fsprogs: mke2fs, e2fsck, resize2fs -- the host formats scratch disks in
#   the VM with `mkfs.ext4 -q -E lazy_itable_init=0,nodiscard -O ...`.
#   Copied to $(B)/guest/e2fsprogs/ for the image (build.sh image_files).

E2FSPROGS_VERSION := 1.47.0
E2FSPROGS_DIR := $(CACHE)/musl/e2fsprogs-$(E2FSPROGS_VERSION)
E2FSPROGS_PROGS := mke2fs e2fsck resize2fs
E2FSPROGS_CACHED := $(E2FSPROGS_PROGS:%=$(E2FSPROGS_DIR)/sbin/%)
E2FSPROGS_BINS := $(E2FSPROGS_PROGS:%=$(B)/guest/e2fsprogs/%)

# One run of the script makes all three (grouped target).
$(E2FSPROGS_CACHED) &:
	@scripts/build-musl-deps.sh e2fsprogs $(E2FSPROGS_DIR)

$(B)/guest/e2fsprogs/%: $(E2FSPROGS_DIR)/sbin/%
	@mkdir -p $(@D)
	@cp -f $< $@

GUEST_BINS += $(E2FSPROGS_BINS)
