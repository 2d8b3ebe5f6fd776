# gcs-agent/network/: container networking (ModifySettings Network over
# rtnetlink).  The agent picks the sources up through gcs-agent/build.mk's
# wildcard; this file builds the host unit test.

$(B_HOST)/tests/gcs-agent/network_test: $(B_HOST)/gcs-agent/network/tests/network_test.o \
		$(GCS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

UNIT_TESTS += $(B_HOST)/tests/gcs-agent/network_test
.SECONDARY: $(B_HOST)/gcs-agent/network/tests/network_test.o
