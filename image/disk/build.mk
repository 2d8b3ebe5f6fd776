# image/disk/: the fixed-VHD footer (shared with tar2ext4) and lcow-disk,
# which creates, grows and describes scratch VHDs.
DISK_LIB_SRCS := image/disk/vhd.c image/disk/diskutil.c
DISK_LIB_OBJS := $(DISK_LIB_SRCS:%.c=$(B_HOST)/%.o)
DISK_LIBS := -lext2fs -lcom_err

$(B_HOST)/image/disk/%.o: EXTRA_CFLAGS += -Iimage/disk

$(B_HOST)/image/disk/lcow-disk: $(B_HOST)/image/disk/lcow-disk.o $(DISK_LIB_OBJS) \
		$(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ $(DISK_LIBS)

$(OUT)/bin/lcow-disk: $(B_HOST)/image/disk/lcow-disk
HOST_BINS += $(OUT)/bin/lcow-disk

DISK_TESTS := $(B_HOST)/tests/image/disk/vhd_test

$(DISK_TESTS): $(B_HOST)/tests/image/disk/%: $(B_HOST)/image/disk/tests/%.o $(DISK_LIB_OBJS) \
		$(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ $(DISK_LIBS)

UNIT_TESTS += $(DISK_TESTS)
