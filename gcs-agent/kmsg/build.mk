# gcs-agent/kmsg/: the kernel log forwarded to the agent's (-kmsgLogLevel).
# The agent picks the sources up through gcs-agent/build.mk's wildcard; this
# file builds the host unit test.

$(B_HOST)/tests/gcs-agent/kmsg_test: $(B_HOST)/gcs-agent/kmsg/tests/kmsg_test.o \
		$(GCS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

UNIT_TESTS += $(B_HOST)/tests/gcs-agent/kmsg_test
.SECONDARY: $(B_HOST)/gcs-agent/kmsg/tests/kmsg_test.o
