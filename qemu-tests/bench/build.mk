# qemu-tests/bench: the guest side of vsock-bench.sh (static musl); it is not
# part of the image, the benchmark adds it to a copy of the initrd.
BENCH_DIR := qemu-tests/bench
GUEST_BINS += $(B)/guest/$(BENCH_DIR)/bench-probe
$(B)/guest/$(BENCH_DIR)/bench-probe: $(B)/guest/$(BENCH_DIR)/bench-probe.o $(COMMON_GUEST_OBJS)
	@mkdir -p $(@D)
	@echo "  LD [guest] $@"
	@$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $^
