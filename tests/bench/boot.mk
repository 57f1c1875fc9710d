# nook vs QEMU microvm boot figures (tests/bench/boot_bench.py); prints, never fails on speed.
.PHONY: bench-boot
BENCH_TARGETS += bench-boot

bench-boot: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux $(GUEST_INITRD))
	tests/bench/boot_bench.py $(BUILD)
