# image/: host tools that turn build outputs into boot files.
# One block per tool; each appends to HOST_BINS / UNIT_TESTS.
# Shell tests live in image/tests/*_test.sh (run by ./build.sh test).

# --- mkinitrd: gen_init_cpio-style list -> newc cpio (initrd.img, LZ4) or tar ---
IMAGE_MKINITRD_LIB_OBJS := $(B_HOST)/image/mkinitrd-spec.o $(B_HOST)/image/mkinitrd-write.o

# The LZ4 legacy framing (liblz4) is linked into the tool only.
$(B_HOST)/image/mkinitrd: $(B_HOST)/image/mkinitrd.o $(B_HOST)/image/mkinitrd-lz4.o \
		$(IMAGE_MKINITRD_LIB_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -larchive -llz4

$(OUT)/bin/mkinitrd: $(B_HOST)/image/mkinitrd
HOST_BINS += $(OUT)/bin/mkinitrd

$(B_HOST)/image/tests/%.o: EXTRA_CFLAGS += -Iimage

$(B_HOST)/tests/image/mkinitrd_spec_test: $(B_HOST)/image/tests/mkinitrd_spec_test.o \
		$(IMAGE_MKINITRD_LIB_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -larchive

UNIT_TESTS += $(B_HOST)/tests/image/mkinitrd_spec_test
