# qemu-tests/vsock-backend: lcow-vsockd, the vhost-user vsock back-end for
# QEMU (hybrid unix-socket convention), its unit tests and the guest probe.
VSOCKD_DIR := qemu-tests/vsock-backend
VSOCKD_LIB_SRCS := log.c iov.c bytebuf.c guest_mem.c vring.c vsock.c vhost_user.c \
	vsock_dev.c vsockd.c
VSOCKD_LIB_OBJS := $(addprefix $(B_HOST)/$(VSOCKD_DIR)/,$(VSOCKD_LIB_SRCS:.c=.o))
VSOCKD_BIN := $(B_HOST)/$(VSOCKD_DIR)/lcow-vsockd

$(B_HOST)/$(VSOCKD_DIR)/%.o: EXTRA_CFLAGS += -I$(VSOCKD_DIR)

$(VSOCKD_BIN): $(B_HOST)/$(VSOCKD_DIR)/main.o $(VSOCKD_LIB_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^

$(OUT)/bin/lcow-vsockd: $(VSOCKD_BIN)
HOST_BINS += $(OUT)/bin/lcow-vsockd

# Unit tests (no QEMU): fake guest memory, a fake front-end, real unix sockets;
# cli_test runs the daemon binary itself.
VSOCKD_TESTS := vring_test vsock_test vhost_user_test cli_test

define vsockd_test_rule
$(B_HOST)/tests/$(VSOCKD_DIR)/$(1): $(B_HOST)/$(VSOCKD_DIR)/tests/$(1).o $(VSOCKD_LIB_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $$(@D)
	@echo "  LD [host]  $$@"
	@$$(HOST_CC) $$(HOST_LDFLAGS) -o $$@ $$^
endef
$(foreach t,$(VSOCKD_TESTS),$(eval $(call vsockd_test_rule,$(t))))
UNIT_TESTS += $(addprefix $(B_HOST)/tests/$(VSOCKD_DIR)/,$(VSOCKD_TESTS))
$(B_HOST)/$(VSOCKD_DIR)/tests/cli_test.o: EXTRA_CFLAGS += -DVSOCKD_BIN='"$(abspath $(VSOCKD_BIN))"'
$(B_HOST)/tests/$(VSOCKD_DIR)/cli_test: | $(VSOCKD_BIN)

# The guest side of the VM smoke test (tests/vm-smoke.sh).
GUEST_BINS += $(B)/guest/$(VSOCKD_DIR)/tests/vsock-probe
$(B)/guest/$(VSOCKD_DIR)/tests/vsock-probe: $(B)/guest/$(VSOCKD_DIR)/tests/vsock-probe.o
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $^
