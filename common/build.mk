# common/: the error convention, cleanup helpers and the TAP harness.
COMMON_SRCS := common/error.c common/fs.c
COMMON_GUEST_OBJS := $(COMMON_SRCS:%.c=$(B)/guest/%.o)
# The atomic output file is for host tools only.
COMMON_HOST_OBJS := $(COMMON_SRCS:%.c=$(B_HOST)/%.o) $(B_HOST)/common/outfile.o

$(B_HOST)/tests/common/error_test: $(B_HOST)/common/tests/error_test.o $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^

UNIT_TESTS += $(B_HOST)/tests/common/error_test
