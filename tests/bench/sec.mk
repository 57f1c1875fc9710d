# The cost of seccomp and the sandbox (figures, not a test): tests/bench/sec_bench.sh.
#   make bench-sec [BENCH_RUNS=3]
.PHONY: bench-sec
bench-sec: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/bench/sec_bench.sh $(BUILD)/nook $(or $(BENCH_RUNS),3)

BENCH_TARGETS += bench-sec
