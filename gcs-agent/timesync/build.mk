# gcs-agent/timesync/: the clock discipline from the host's PTP clock.  The
# agent picks the sources up through gcs-agent/build.mk's wildcard; this
# file builds the host unit test (an injected clock source).

$(B_HOST)/tests/gcs-agent/timesync_test: $(B_HOST)/gcs-agent/timesync/tests/timesync_test.o \
		$(GCS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

UNIT_TESTS += $(B_HOST)/tests/gcs-agent/timesync_test
.SECONDARY: $(B_HOST)/gcs-agent/timesync/tests/timesync_test.o
