# init/: the guest's PID 1 (/init) and /bin/vsockexec, static musl, stripped.
INIT_LIB_SRCS := init/args.c init/log.c init/mounts.c init/proc.c init/setup.c init/vsock.c
INIT_LIB_GUEST_OBJS := $(INIT_LIB_SRCS:%.c=$(B)/guest/%.o)
INIT_LIB_HOST_OBJS := $(INIT_LIB_SRCS:%.c=$(B_HOST)/%.o)

$(B)/guest/init/init: $(B)/guest/init/init.o $(INIT_LIB_GUEST_OBJS) $(COMMON_GUEST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $^

$(B)/guest/init/vsockexec: $(B)/guest/init/vsockexec.o $(B)/guest/init/vsockexec_plan.o \
		$(B)/guest/init/vsock.o $(COMMON_GUEST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $^

GUEST_BINS += $(B)/guest/init/init $(B)/guest/init/vsockexec

# Host unit tests, built from the same sources.
INIT_TESTS := $(addprefix $(B_HOST)/tests/init/,args_test mounts_test proc_test vsockexec_test)

# A static pattern rule, so make keeps the objects (a plain pattern rule
# would treat them as intermediates and delete them).
$(INIT_TESTS): $(B_HOST)/tests/init/%: $(B_HOST)/init/tests/%.o $(INIT_LIB_HOST_OBJS) \
		$(B_HOST)/init/vsockexec_plan.o $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^

UNIT_TESTS += $(INIT_TESTS)
