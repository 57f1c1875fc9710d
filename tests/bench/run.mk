# `nook run -- true` vs QEMU microvm + virtiofsd, time in nook's init, virtio-console vs
# 8250 throughput (tests/bench/run_bench.py); prints, never fails on speed.
.PHONY: bench-run
BENCH_TARGETS += bench-run

bench-run: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/bench/run_bench.py $(BUILD)

# nook-oci under podman vs runc (tests/bench/oci_bench.sh).
.PHONY: bench-oci
BENCH_TARGETS += bench-oci
bench-oci: $(BUILD)/nook $(BUILD)/nook-oci
	tests/bench/oci_bench.sh $(BUILD)
