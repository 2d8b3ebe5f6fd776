# gcs-agent/: /bin/gcs, the guest agent speaking the hcsshim bridge protocol v4.
#
#   guest:  $(B)/guest/gcs-agent/gcs   static musl, stripped, jansson built
#           from Debian's source package by scripts/build-musl-deps.sh and
#           cached in $(CACHE)/musl (the first build needs deb-src in apt).
#   tests:  host executables under $(B_HOST)/tests/gcs-agent/, linked with
#           Debian's libjansson-dev; agent_test runs the real guest binary.
#   make gcs-agent-fuzz: the libFuzzer target (clang; fuzz/build.mk), not part of `tests`.

GCS_JANSSON_VERSION := 2.14
GCS_JANSSON_DIR := $(CACHE)/musl/jansson-$(GCS_JANSSON_VERSION)-k$(call musl-key,scripts/build-musl-deps.sh)
GCS_JANSSON_LIB := $(GCS_JANSSON_DIR)/lib/libjansson.a

# Everything but main(): shared by the agent, the tests and the fuzzer.
GCS_LIB_SRCS := \
	gcs-agent/log.c \
	gcs-agent/loop.c \
	gcs-agent/conn.c \
	gcs-agent/transport.c \
	gcs-agent/server.c \
	gcs-agent/flags.c \
	gcs-agent/fuzz.c \
	gcs-agent/protocol/bridge.c \
	gcs-agent/protocol/json.c \
	gcs-agent/protocol/messages.c \
	gcs-agent/protocol/hresult.c \
	gcs-agent/dispatch/dispatch.c \
	gcs-agent/dispatch/handlers.c \
	$(sort $(wildcard gcs-agent/runtime/*.c)) \
	$(sort $(wildcard gcs-agent/storage/*.c)) \
	$(sort $(wildcard gcs-agent/network/*.c)) \
	$(sort $(wildcard gcs-agent/timesync/*.c)) \
	$(sort $(wildcard gcs-agent/kmsg/*.c))

# The seccomp compiler's system call table, from the kernel's uapi header
# (the same headers the guest is built with).
GCS_GEN := $(B)/gen/gcs-agent
GCS_SYSCALLS := $(GCS_GEN)/syscalls_x86_64.inc
$(GCS_SYSCALLS): $(MUSL_KHEADERS)/.stamp gcs-agent/build.mk
	@mkdir -p $(@D)
	@echo "  GEN       $@"
	@sed -n 's/^#define __NR_\([a-z0-9_]*\)[[:space:]]\{1,\}\([0-9]\{1,\}\)$$/\t{ "\1", \2 },/p' \
		$(MUSL_KHEADERS)/asm/unistd_64.h >$@.tmp
	@test -s $@.tmp || { echo "no system calls in $(MUSL_KHEADERS)/asm/unistd_64.h" >&2; exit 1; }
	@mv $@.tmp $@
$(B)/guest/gcs-agent/runtime/seccomp.o $(B_HOST)/gcs-agent/runtime/seccomp.o: $(GCS_SYSCALLS)
$(B)/guest/gcs-agent/runtime/%.o $(B_HOST)/gcs-agent/runtime/%.o: EXTRA_CFLAGS += -I$(GCS_GEN)

GCS_GUEST_OBJS := $(GCS_LIB_SRCS:%.c=$(B)/guest/%.o) $(B)/guest/gcs-agent/main.o
GCS_HOST_OBJS := $(GCS_LIB_SRCS:%.c=$(B_HOST)/%.o)
GCS_BIN := $(B)/guest/gcs-agent/gcs

$(GCS_JANSSON_LIB):
	@scripts/build-musl-deps.sh jansson $(GCS_JANSSON_DIR)

$(B)/guest/gcs-agent/%.o: EXTRA_CFLAGS += -Igcs-agent -I$(GCS_JANSSON_DIR)/include
$(GCS_GUEST_OBJS): | $(GCS_JANSSON_LIB)

$(GCS_BIN): $(GCS_GUEST_OBJS) $(COMMON_GUEST_OBJS) $(GCS_JANSSON_LIB)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(GCS_GUEST_OBJS) $(COMMON_GUEST_OBJS) $(GCS_JANSSON_LIB)

GUEST_BINS += $(GCS_BIN)

# Host unit tests.
$(B_HOST)/gcs-agent/%.o: EXTRA_CFLAGS += -Igcs-agent

GCS_TESTS := bridge_test json_test log_test flags_test protocol_test transport_test fuzz_test agent_test \
	runtime_test
GCS_TEST_BINS := $(GCS_TESTS:%=$(B_HOST)/tests/gcs-agent/%)

$(B_HOST)/tests/gcs-agent/%: $(B_HOST)/gcs-agent/tests/%.o $(GCS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson

# agent_test execs the real static binary.
$(B_HOST)/gcs-agent/tests/agent_test.o: EXTRA_CFLAGS += -DGCS_BINARY='"$(abspath $(GCS_BIN))"'
$(B_HOST)/tests/gcs-agent/agent_test: $(GCS_BIN)
$(B_HOST)/tests/gcs-agent/agent_test: $(B_HOST)/gcs-agent/tests/agent_test.o $(GCS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) -ljansson

UNIT_TESTS += $(GCS_TEST_BINS)
# Keep the test objects make would otherwise delete as intermediates.
.SECONDARY: $(GCS_TESTS:%=$(B_HOST)/gcs-agent/tests/%.o)

# The modules' own tests: gcs-agent/<module>/tests/<module>_test.c, linked
# with the whole agent library (storage/build.mk has its own, narrower).
GCS_MODULE_TESTS := network timesync kmsg
GCS_MODULE_TEST_BINS := $(GCS_MODULE_TESTS:%=$(B_HOST)/tests/gcs-agent/%_test)
$(foreach m,$(GCS_MODULE_TESTS),$(eval $(B_HOST)/tests/gcs-agent/$(m)_test: \
	$(B_HOST)/gcs-agent/$(m)/tests/$(m)_test.o))
$(GCS_MODULE_TEST_BINS): $(GCS_HOST_OBJS) $(COMMON_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [host]  $@"
	@$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ -ljansson
UNIT_TESTS += $(GCS_MODULE_TEST_BINS)
.SECONDARY: $(foreach m,$(GCS_MODULE_TESTS),$(B_HOST)/gcs-agent/$(m)/tests/$(m)_test.o)

# libFuzzer: fuzz/build.mk builds the bridge target (fuzz/bridge.c, on
# fuzz.c) with the other fuzz targets; `make gcs-agent-fuzz` still names it.
