# qemu-tests/host-client: lcowctl, the host side of the VM (HCS + hcsshim
# stand-in), its bridge client library, and a fake guest for its tests.
LCOWCTL_DIR := qemu-tests/host-client
LCOWCTL_LIB_SRCS := $(LCOWCTL_DIR)/gcs-client.c $(LCOWCTL_DIR)/transport.c $(LCOWCTL_DIR)/ctl.c
LCOWCTL_LIB_OBJS := $(LCOWCTL_LIB_SRCS:%.c=$(B_HOST)/%.o) $(B_HOST)/gcs-agent/protocol/bridge.o \
	$(COMMON_HOST_OBJS)
LCOWCTL_CLI_OBJS := $(patsubst %.c,$(B_HOST)/%.o,$(LCOWCTL_DIR)/lcowctl.c $(LCOWCTL_DIR)/serve.c $(LCOWCTL_DIR)/client.c \
	$(LCOWCTL_DIR)/exec.c)

$(B_HOST)/$(LCOWCTL_DIR)/lcowctl: $(LCOWCTL_CLI_OBJS) $(LCOWCTL_LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

# The fake guest the shell tests drive lcowctl against; installed so tests
# (and people without a VM) can use it.
$(B_HOST)/$(LCOWCTL_DIR)/lcow-fake-guest: $(B_HOST)/$(LCOWCTL_DIR)/tests/fake-guest.o $(LCOWCTL_LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

$(OUT)/bin/lcowctl: $(B_HOST)/$(LCOWCTL_DIR)/lcowctl
$(OUT)/bin/lcow-fake-guest: $(B_HOST)/$(LCOWCTL_DIR)/lcow-fake-guest
HOST_BINS += $(OUT)/bin/lcowctl $(OUT)/bin/lcow-fake-guest

$(B_HOST)/tests/host-client/gcs_client_test: $(B_HOST)/$(LCOWCTL_DIR)/tests/gcs_client_test.o $(LCOWCTL_LIB_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

UNIT_TESTS += $(B_HOST)/tests/host-client/gcs_client_test
