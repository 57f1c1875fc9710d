# DAX window benchmark (tests/bench/dax_bench.sh; figures, not a test): sequential
# read() and mmap of a big file and 4 KiB random mmap reads in the guest, nook with a
# DAX window vs nook without vs QEMU+virtiofsd vs the host itself. SYSTEMS/BIG_MIB pass
# through the environment, e.g. `make bench-dax BIG_MIB=16 SYSTEMS="dax nodax native"`.

DAX_WORKLOAD := $(BUILD)/bench/dax_workload

BENCH_TARGETS += bench-dax

.PHONY: bench-dax

$(DAX_WORKLOAD): tests/bench/dax_workload.c tests/bench/dax.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -o $@ $<

bench-dax: $(BUILD)/nook $(BUILD)/guest/vmlinux $(DAX_WORKLOAD)
	BUILD=$(BUILD) SYSTEMS="$(or $(SYSTEMS),dax nodax native virtiofsd)" \
		BIG_MIB=$(or $(BIG_MIB),64) tests/bench/dax_bench.sh
