# `nook run -- true` vs QEMU microvm + virtiofsd, time in nook's init, virtio-console vs
# 8250 throughput (tests/bench/run_bench.py); prints, never fails on speed.
.PHONY: bench-run
BENCH_TARGETS += bench-run

bench-run: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/bench/run_bench.py $(BUILD)
