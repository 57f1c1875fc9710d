# In-guest file-system benchmark: nook virtio-fs vs QEMU+virtiofsd vs QEMU virtio-9p
# (tests/bench/guest_fs_bench.sh; figures, not a test). SYSTEMS/RUNS/FILES/BIG_MIB pass
# through the environment, e.g. `make bench-guest-fs RUNS=1 SYSTEMS="nook virtiofsd"`.
# It ends with the DAX columns (tests/bench/dax.mk; DAX_SYSTEMS picks them, "" skips).

GUEST_FS_WORKLOAD := $(BUILD)/bench/guest_fs_workload

BENCH_TARGETS += bench-guest-fs

.PHONY: bench-guest-fs

# Static glibc binary: it is /init of a guest whose root is the shared directory.
$(GUEST_FS_WORKLOAD): tests/bench/guest_fs_workload.c tests/bench/guest_fs.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -o $@ $<

# dax_workload by name: tests/bench/dax.mk, which defines it, may be read after this file.
bench-guest-fs: $(BUILD)/nook $(BUILD)/guest/vmlinux $(GUEST_FS_WORKLOAD) $(BUILD)/bench/dax_workload
	BUILD=$(BUILD) SYSTEMS="$(or $(SYSTEMS),nook virtiofsd 9p)" RUNS=$(or $(RUNS),2) \
		tests/bench/guest_fs_bench.sh
	$(if $(DAX_SYSTEMS),BUILD=$(BUILD) SYSTEMS="$(DAX_SYSTEMS)" BIG_MIB=$(or $(BIG_MIB),64) \
		tests/bench/dax_bench.sh)

DAX_SYSTEMS ?= dax nodax native virtiofsd
