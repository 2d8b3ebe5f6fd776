# remotefs/: /bin/remotefs, the guest side of docker cp / commit / ADD
# (README.md).  Static musl with jansson (the agent's cached musl build,
# see gcs-agent/build.mk); the same sources built for the host make the
# unit tests and a host binary the CLI test runs.

REMOTEFS_LIB_SRCS := \
	remotefs/cli.c \
	remotefs/errors.c \
	remotefs/jsonw.c \
	remotefs/util.c \
	remotefs/resolve.c \
	remotefs/fileops.c \
	remotefs/openfile.c \
	remotefs/pathset.c \
	remotefs/tar.c \
	remotefs/taropts.c \
	remotefs/archive.c \
	remotefs/extract.c

REMOTEFS_GUEST_OBJS := $(REMOTEFS_LIB_SRCS:%.c=$(B)/guest/%.o) $(B)/guest/remotefs/main.o
REMOTEFS_HOST_OBJS := $(REMOTEFS_LIB_SRCS:%.c=$(B_HOST)/%.o)
REMOTEFS_BIN := $(B)/guest/remotefs/remotefs
REMOTEFS_HOST_BIN := $(B_HOST)/remotefs/remotefs

# jansson: GCS_JANSSON_* from gcs-agent/build.mk (included before this).
$(B)/guest/remotefs/%.o: EXTRA_CFLAGS += -I$(GCS_JANSSON_DIR)/include
$(REMOTEFS_GUEST_OBJS): | $(GCS_JANSSON_LIB)

$(REMOTEFS_BIN): $(REMOTEFS_GUEST_OBJS) $(COMMON_GUEST_OBJS) $(GCS_JANSSON_LIB)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(REMOTEFS_GUEST_OBJS) $(COMMON_GUEST_OBJS) $(GCS_JANSSON_LIB)

GUEST_BINS += $(REMOTEFS_BIN)

$(REMOTEFS_HOST_BIN): $(B_HOST)/remotefs/main.o $(REMOTEFS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

# Host unit tests (TAP).
$(B_HOST)/remotefs/tests/%.o: EXTRA_CFLAGS += -Iremotefs
REMOTEFS_TESTS := $(addprefix $(B_HOST)/tests/remotefs/, \
	resolve_test fileops_test tar_test archive_test race_test cli_test)

$(REMOTEFS_TESTS): $(B_HOST)/tests/remotefs/%: $(B_HOST)/remotefs/tests/%.o \
		$(REMOTEFS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

# cli_test runs the host binary; its path is compiled in.
$(B_HOST)/remotefs/tests/cli_test.o: EXTRA_CFLAGS += -DREMOTEFS_BINARY='"$(abspath $(REMOTEFS_HOST_BIN))"'
$(B_HOST)/tests/remotefs/cli_test: | $(REMOTEFS_HOST_BIN)

UNIT_TESTS += $(REMOTEFS_TESTS)
