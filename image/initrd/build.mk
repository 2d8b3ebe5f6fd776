# image/initrd/: the guest's busybox, built from Debian's source package with
# musl by scripts/build-musl-deps.sh from the fragment busybox.config, cached
# in $(CACHE)/musl.  The cache directory is keyed by everything that goes
# into the binary except the source, which the pinned version names (the
# tarballs are fetched once and kept): the recipe, the fragment and the
# toolchain.  Copied, with the .config it was built from, to
# $(B)/guest/busybox/ for the image (build.sh passes it to gen-list.sh).

BUSYBOX_VERSION := 1.35.0
BUSYBOX_CONFIG := image/initrd/busybox.config
BUSYBOX_RECIPE := scripts/build-musl-deps.sh scripts/musl-kheaders.sh $(BUSYBOX_CONFIG)
BUSYBOX_KEY := $(call musl-key,$(BUSYBOX_RECIPE))
BUSYBOX_DIR := $(CACHE)/musl/busybox-$(BUSYBOX_VERSION)-k$(BUSYBOX_KEY)
BUSYBOX_BIN := $(B)/guest/busybox/busybox

$(BUSYBOX_DIR)/bin/busybox:
	@scripts/build-musl-deps.sh busybox $(BUSYBOX_DIR) $(BUSYBOX_CONFIG)

# Compared, not dated: a key that changes back to an older cached build
# must still replace the copy.
$(BUSYBOX_BIN): $(BUSYBOX_DIR)/bin/busybox FORCE
	@mkdir -p $(@D)
	@cmp -s $(BUSYBOX_DIR)/busybox.config $(@D)/busybox.config || \
		cp -f $(BUSYBOX_DIR)/busybox.config $(@D)/busybox.config
	@cmp -s $< $@ || cp -f $< $@

GUEST_BINS += $(BUSYBOX_BIN)
