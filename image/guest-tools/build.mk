# image/guest-tools/: third-party programs for the guest, built from Debian
# source packages with musl by scripts/build-musl-deps.sh and cached in
# $(CACHE)/musl (the first build needs deb-src in apt; later ones none).
#
#   e2fsprogs: mke2fs, e2fsck, resize2fs -- the host formats scratch disks in
#   the VM with `mkfs.ext4 -q -E lazy_itable_init=0,nodiscard -O ...`.
#   Linked into one multi-call binary (e2fsprogs/dispatch.c picks the
#   program by argv[0]), copied to $(B)/guest/e2fsprogs/e2fsprogs for the
#   image; build.sh links the program names to it.

E2FSPROGS_VERSION := 1.47.0
# The cache directory is keyed by the recipe and the toolchain as well as
# the version: a changed build script, dispatcher or musl builds anew
# instead of reusing a stale binary (the dispatcher's unit test is not part
# of the recipe).
E2FSPROGS_RECIPE := scripts/build-musl-deps.sh scripts/musl-kheaders.sh \
	$(sort $(wildcard image/guest-tools/e2fsprogs/*.[ch]))
E2FSPROGS_KEY := $(call musl-key,$(E2FSPROGS_RECIPE))
E2FSPROGS_DIR := $(CACHE)/musl/e2fsprogs-$(E2FSPROGS_VERSION)-k$(E2FSPROGS_KEY)
E2FSPROGS_CACHED := $(E2FSPROGS_DIR)/sbin/e2fsprogs
E2FSPROGS_BIN := $(B)/guest/e2fsprogs/e2fsprogs

$(E2FSPROGS_CACHED):
	@scripts/build-musl-deps.sh e2fsprogs $(E2FSPROGS_DIR)

# Compared, not dated: a key that changes back to an older cached build
# must still replace the copy.
$(E2FSPROGS_BIN): $(E2FSPROGS_CACHED) FORCE
	@mkdir -p $(@D)
	@cmp -s $< $@ || cp -f $< $@

GUEST_BINS += $(E2FSPROGS_BIN)

# The dispatcher on the host, with stand-ins for the three programs.
E2FSPROGS_TEST := $(B_HOST)/tests/e2fsprogs/dispatch_test
$(E2FSPROGS_TEST): $(B_HOST)/image/guest-tools/e2fsprogs/tests/dispatch_test.o \
		$(B_HOST)/image/guest-tools/e2fsprogs/dispatch.o
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^

UNIT_TESTS += $(E2FSPROGS_TEST)
