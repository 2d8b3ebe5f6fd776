# qemu-tests/bench: the guest side of vsock-bench.sh (static musl); it is not
# part of the image, the benchmark adds it to a copy of the initrd.
BENCH_DIR := qemu-tests/bench
GUEST_BINS += $(B)/guest/$(BENCH_DIR)/bench-probe
$(B)/guest/$(BENCH_DIR)/bench-probe: $(B)/guest/$(BENCH_DIR)/bench-probe.o $(COMMON_GUEST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $^

# insn-profile.so: the TCG plugin of insn-profile.sh, loaded by QEMU (not
# under SANITIZE: a sanitized object cannot be loaded into QEMU).
ifeq ($(SANITIZE),0)
BENCH_PLUGIN := $(B_HOST)/$(BENCH_DIR)/insn-profile.so
host: $(BENCH_PLUGIN)
$(B_HOST)/$(BENCH_DIR)/insn-profile.o: EXTRA_CFLAGS += -fPIC -fvisibility=hidden
$(BENCH_PLUGIN): $(B_HOST)/$(BENCH_DIR)/insn-profile.o
	@mkdir -p $(@D)
	@echo "  LD [host] $@"
	@$(HOST_CC) -shared -o $@ $^
endif
