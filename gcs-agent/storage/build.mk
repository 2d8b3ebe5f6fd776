# gcs-agent/storage/: the storage resources of ModifySettings (VPMem, SCSI,
# Plan9).  The agent picks the sources up through gcs-agent/build.mk's
# wildcard; this file builds the host unit tests (each linked with the
# storage sources plus the few agent files they use) and storage-probe.

STORAGE_SRCS := $(wildcard gcs-agent/storage/*.c)
STORAGE_DEPS := gcs-agent/loop.c gcs-agent/protocol/json.c
STORAGE_HOST_OBJS := $(STORAGE_SRCS:%.c=$(B_HOST)/%.o) $(STORAGE_DEPS:%.c=$(B_HOST)/%.o)

STORAGE_TESTS := storage_mountopt_test storage_devices_test storage_ops_test
STORAGE_TEST_BINS := $(STORAGE_TESTS:%=$(B_HOST)/tests/gcs-agent/%)

$(STORAGE_TEST_BINS): $(B_HOST)/tests/gcs-agent/%: $(B_HOST)/gcs-agent/storage/tests/%.o \
		$(STORAGE_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

UNIT_TESTS += $(STORAGE_TEST_BINS)
.SECONDARY: $(STORAGE_TESTS:%=$(B_HOST)/gcs-agent/storage/tests/%.o)

# storage-probe: the storage module on its own in the VM, for
# qemu-tests/tests/storage_devices_test.sh (added to the VM through an
# extra initrd by the test, never part of the image).
STORAGE_PROBE := $(B)/guest/gcs-agent/storage/storage-probe
STORAGE_PROBE_SRCS := gcs-agent/storage/tests/storage_probe.c $(STORAGE_SRCS) $(STORAGE_DEPS) \
	gcs-agent/protocol/messages.c
STORAGE_PROBE_OBJS := $(STORAGE_PROBE_SRCS:%.c=$(B)/guest/%.o)
$(STORAGE_PROBE_OBJS): | $(GCS_JANSSON_LIB)
$(STORAGE_PROBE): $(STORAGE_PROBE_OBJS) $(COMMON_GUEST_OBJS) $(GCS_JANSSON_LIB)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $^
GUEST_BINS += $(STORAGE_PROBE)
