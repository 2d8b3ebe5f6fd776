# image/tar2ext4/: tar2ext4, OCI layer tar -> ext4 image (libarchive reads,
# libext2fs writes), with the VHD footer from image/disk/.
T2E_LIB_SRCS := image/tar2ext4/convert.c image/tar2ext4/ext4w.c \
	image/tar2ext4/pathnorm.c image/tar2ext4/tree.c
T2E_LIB_OBJS := $(T2E_LIB_SRCS:%.c=$(B_HOST)/%.o)
# Named directly (not through image/disk/build.mk's variables) so the
# include order of the build.mk files does not matter.
T2E_DISK_OBJS := $(B_HOST)/image/disk/vhd.o $(B_HOST)/image/disk/diskutil.o
T2E_LIBS := -larchive -lext2fs -lcom_err

$(B_HOST)/image/tar2ext4/%.o: EXTRA_CFLAGS += -Iimage/disk -Iimage/tar2ext4

$(B_HOST)/image/tar2ext4/tar2ext4: $(B_HOST)/image/tar2ext4/main.o $(T2E_LIB_OBJS) \
		$(T2E_DISK_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ $(T2E_LIBS)

$(OUT)/bin/tar2ext4: $(B_HOST)/image/tar2ext4/tar2ext4
HOST_BINS += $(OUT)/bin/tar2ext4

# Unit tests: path normalisation and the tree's tar semantics.
T2E_TESTS := $(addprefix $(B_HOST)/tests/image/tar2ext4/,pathnorm_test tree_test)

$(T2E_TESTS): $(B_HOST)/tests/image/tar2ext4/%: $(B_HOST)/image/tar2ext4/tests/%.o \
		$(T2E_LIB_OBJS) $(T2E_DISK_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ $(T2E_LIBS)

UNIT_TESTS += $(T2E_TESTS)
