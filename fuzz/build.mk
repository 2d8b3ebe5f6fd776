# fuzz/: libFuzzer targets (clang, ASan + UBSan) against host builds of the
# real code.  Not part of `all`: `make fuzz` builds them, scripts/run-fuzz
# (./build.sh fuzz) builds, replays and runs them.  fuzz/README.md.
#
#   $(B)/fuzz/<target>        the fuzzer binaries
#   $(B)/fuzz-obj/<path>.o    their objects (instrumented, separate tree)
#
# Sources are named here directly (not through the components' build.mk
# variables): fuzz/build.mk is included before most of them.

FUZZ_CC ?= clang
FUZZ_B := $(B)/fuzz
FUZZ_OBJ := $(B)/fuzz-obj
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang warns about things gcc does not: a warning in the code under test
# must not stop the fuzzers (the gcc builds hold -Werror); the targets' own
# files keep it.
FUZZ_CFLAGS := $(filter-out -Werror,$(COMMON_CFLAGS)) -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer

FUZZ_TARGETS := bridge oci kmsg dhcp tar2ext4 vhd mkinitrd vsock vhost remotefs
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_B)/%)

.PHONY: fuzz gcs-agent-fuzz
fuzz: $(FUZZ_BINS)
# The old name of the bridge target.
gcs-agent-fuzz: $(FUZZ_B)/bridge

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC [fuzz]  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_EXTRA) -MMD -MP -c $< -o $@

FUZZ_COMMON_OBJS := $(FUZZ_OBJ)/common/error.o $(FUZZ_OBJ)/common/fs.o $(FUZZ_OBJ)/common/outfile.o

# --- the agent: bridge frames + dispatcher, and the OCI spec parser ---
# Everything but main() and the tests, in every module folder.
FUZZ_GCS_SRCS := $(sort $(filter-out gcs-agent/main.c gcs-agent/tests/%, \
	$(wildcard gcs-agent/*.c gcs-agent/*/*.c)))
FUZZ_GCS_OBJS := $(FUZZ_GCS_SRCS:%.c=$(FUZZ_OBJ)/%.o)
# The seccomp compiler's system call table (rule in gcs-agent/build.mk).
FUZZ_GCS_GEN := $(B)/gen/gcs-agent
$(FUZZ_OBJ)/gcs-agent/runtime/seccomp.o: $(FUZZ_GCS_GEN)/syscalls_x86_64.inc
$(FUZZ_OBJ)/gcs-agent/%.o: FUZZ_EXTRA += -Igcs-agent -I$(FUZZ_GCS_GEN)
$(FUZZ_OBJ)/fuzz/bridge.o $(FUZZ_OBJ)/fuzz/oci.o $(FUZZ_OBJ)/fuzz/kmsg.o $(FUZZ_OBJ)/fuzz/dhcp.o: \
	FUZZ_EXTRA += -Igcs-agent -I$(FUZZ_GCS_GEN)
$(FUZZ_OBJ)/fuzz/%.o: FUZZ_EXTRA += $(WERROR)

$(FUZZ_B)/bridge $(FUZZ_B)/oci $(FUZZ_B)/kmsg $(FUZZ_B)/dhcp: $(FUZZ_B)/%: $(FUZZ_OBJ)/fuzz/%.o $(FUZZ_GCS_OBJS) $(FUZZ_COMMON_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [fuzz]  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -ljansson

# --- tar2ext4: tar -> ext4 ---
FUZZ_T2E_SRCS := image/tar2ext4/convert.c image/tar2ext4/ext4w.c image/tar2ext4/pathnorm.c \
	image/tar2ext4/tree.c image/disk/vhd.c image/disk/diskutil.c
FUZZ_T2E_OBJS := $(FUZZ_T2E_SRCS:%.c=$(FUZZ_OBJ)/%.o)
$(FUZZ_OBJ)/image/tar2ext4/%.o $(FUZZ_OBJ)/image/disk/%.o $(FUZZ_OBJ)/fuzz/tar2ext4.o: \
	FUZZ_EXTRA += -Iimage/disk -Iimage/tar2ext4

$(FUZZ_B)/tar2ext4: $(FUZZ_OBJ)/fuzz/tar2ext4.o $(FUZZ_T2E_OBJS) $(FUZZ_COMMON_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [fuzz]  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -larchive -lext2fs -lcom_err

# --- vhd: the VHD footer and fixed-disk reader ---
$(FUZZ_OBJ)/fuzz/vhd.o: FUZZ_EXTRA += -Iimage/disk

$(FUZZ_B)/vhd: $(FUZZ_OBJ)/fuzz/vhd.o $(FUZZ_OBJ)/image/disk/vhd.o $(FUZZ_OBJ)/image/disk/diskutil.o \
		$(FUZZ_COMMON_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [fuzz]  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -lext2fs -lcom_err

# --- mkinitrd: list parser and archive writer ---
FUZZ_MKINITRD_OBJS := $(FUZZ_OBJ)/image/mkinitrd-spec.o $(FUZZ_OBJ)/image/mkinitrd-write.o \
	$(FUZZ_OBJ)/image/mkinitrd-lz4.o
$(FUZZ_OBJ)/fuzz/mkinitrd.o: FUZZ_EXTRA += -Iimage

$(FUZZ_B)/mkinitrd: $(FUZZ_OBJ)/fuzz/mkinitrd.o $(FUZZ_MKINITRD_OBJS) $(FUZZ_COMMON_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [fuzz]  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -larchive -llz4

# --- the vsock backend: virtqueue descriptors, packets, the engine ---
FUZZ_VSOCKD_SRCS := $(addprefix qemu-tests/vsock-backend/,log.c iov.c bytebuf.c guest_mem.c \
	vring.c vsock.c vhost_user.c vsock_dev.c vsockd.c)
FUZZ_VSOCKD_OBJS := $(FUZZ_VSOCKD_SRCS:%.c=$(FUZZ_OBJ)/%.o)
$(FUZZ_OBJ)/qemu-tests/vsock-backend/%.o $(FUZZ_OBJ)/fuzz/vsock.o $(FUZZ_OBJ)/fuzz/vhost.o: \
	FUZZ_EXTRA += -Iqemu-tests/vsock-backend

# vsock: the rings and the engine; vhost: the same behind vhost-user.
$(FUZZ_B)/vsock $(FUZZ_B)/vhost: $(FUZZ_B)/%: $(FUZZ_OBJ)/fuzz/%.o $(FUZZ_VSOCKD_OBJS) $(FUZZ_COMMON_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [fuzz]  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^

# --- remotefs: the command line and its JSON ---
FUZZ_REMOTEFS_SRCS := $(filter-out remotefs/main.c,$(wildcard remotefs/*.c))
FUZZ_REMOTEFS_OBJS := $(FUZZ_REMOTEFS_SRCS:%.c=$(FUZZ_OBJ)/%.o)
$(FUZZ_OBJ)/fuzz/remotefs.o: FUZZ_EXTRA += -Iremotefs

$(FUZZ_B)/remotefs: $(FUZZ_OBJ)/fuzz/remotefs.o $(FUZZ_REMOTEFS_OBJS) $(FUZZ_COMMON_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [fuzz]  $@"
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ -ljansson
