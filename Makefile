# Userland and host tools.  build.sh drives this; `make help` lists targets.
# Every component keeps its rules in <component>/build.mk and appends to:
#   GUEST_BINS  static musl binaries for the VM   ($(B)/guest/...)
#   HOST_BINS   host tools, installed to $(OUT)/bin
#   UNIT_TESTS  host test executables speaking TAP (run by scripts/run-tests)
# Objects: $(B)/guest/<path>.o and $(B)/host/<path>.o from <path>.c, via the
# pattern rules below.  Extra flags per folder with pattern-specific
# variables, e.g.  $(B)/guest/gcs-agent/%.o: EXTRA_CFLAGS += -Ifoo

OUT ?= out
B := $(OUT)/build
CACHE ?= $(OUT)/cache

HOST_CC ?= gcc
GUEST_CC ?= musl-gcc
WERROR ?= -Werror
# SANITIZE=1 builds host objects and tests with ASan + UBSan (separate tree).
SANITIZE ?= 0

COMMON_CFLAGS := -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -Icommon/include
HOST_CFLAGS := $(COMMON_CFLAGS) -O2 -g
HOST_LDFLAGS :=
ifeq ($(SANITIZE),1)
B_HOST := $(B)/host-asan
HOST_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HOST_LDFLAGS += -fsanitize=address,undefined
else
B_HOST := $(B)/host
endif

# musl ships no kernel uapi headers; scripts/musl-kheaders.sh copies the
# distribution's sanitized ones into a private include dir.
MUSL_KHEADERS := $(B)/musl-include
GUEST_CFLAGS := $(COMMON_CFLAGS) -Os -isystem $(MUSL_KHEADERS) \
	-ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables
GUEST_LDFLAGS := -static -s -Wl,--gc-sections

# $(call musl-key,FILES): the cache key of a dependency built with musl
# (scripts/build-musl-deps.sh, kept in $(CACHE)/musl/NAME-VERSION-kKEY): its
# recipe files and the toolchain, so a new musl or kernel headers build it
# anew instead of linking a stale archive.
musl-key = $(shell { cat $(1); $(GUEST_CC) --version 2>&1 | head -n1; \
	dpkg-query -W musl-dev linux-libc-dev 2>/dev/null; } | sha256sum | cut -c1-16)

GUEST_BINS :=
HOST_BINS :=
UNIT_TESTS :=

.PHONY: all guest host tests help FORCE
all: guest host tests
# A prerequisite that is never up to date (copies that compare instead).
FORCE:

include common/build.mk
# Every other component: <folder>/build.mk or <folder>/<sub>/build.mk.
include $(sort $(filter-out common/build.mk,$(wildcard */build.mk */*/build.mk)))

guest: $(GUEST_BINS)
host: $(HOST_BINS)
tests: $(UNIT_TESTS)

help:
	@echo "targets: all guest host tests"
	@echo "guest binaries: $(GUEST_BINS)"
	@echo "host binaries:  $(HOST_BINS)"
	@echo "unit tests:     $(UNIT_TESTS)"

$(MUSL_KHEADERS)/.stamp: scripts/musl-kheaders.sh
	@scripts/musl-kheaders.sh $(MUSL_KHEADERS)

# An object is also rebuilt when its compiler command changes (a flag in a
# build.mk, SANITIZE, an -I or -D for one folder), not only when a source or
# header does: <obj>.cmd holds the command it was built with and is
# rewritten only when that differs, so its date moves only then (kbuild's
# if_changed, in small).  It is a prerequisite of the object, so the
# object's target- and pattern-specific EXTRA_CFLAGS apply to it as well.
GUEST_CC_CMD = $(GUEST_CC) $(GUEST_CFLAGS) $(EXTRA_CFLAGS)
HOST_CC_CMD = $(HOST_CC) $(HOST_CFLAGS) $(EXTRA_CFLAGS)
quote = '$(subst ','\'',$(1))'
# $(call update-cmd,COMMAND): write COMMAND to $@ unless it is there already.
update-cmd = mkdir -p $(@D) && printf '%s\n' $(call quote,$(1)) >$@.tmp && \
	{ cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@; }
.PRECIOUS: $(B)/guest/%.o.cmd $(B_HOST)/%.o.cmd
$(B)/guest/%.o.cmd: FORCE
	@$(call update-cmd,$(GUEST_CC_CMD))
$(B_HOST)/%.o.cmd: FORCE
	@$(call update-cmd,$(HOST_CC_CMD))

$(B)/guest/%.o: %.c $(B)/guest/%.o.cmd $(MUSL_KHEADERS)/.stamp
	@mkdir -p $(@D)
	@echo "  CC [guest] $<"
	@$(GUEST_CC_CMD) -MMD -MP -c $< -o $@

$(B_HOST)/%.o: %.c $(B_HOST)/%.o.cmd
	@mkdir -p $(@D)
	@echo "  CC [host]  $<"
	@$(HOST_CC_CMD) -MMD -MP -c $< -o $@

$(OUT)/bin/%:
	@mkdir -p $(@D)
	@cp -f $< $@

-include $(shell find $(B) -name '*.d' 2>/dev/null)

print-%:
	@echo $($*)
