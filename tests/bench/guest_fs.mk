# In-guest file-system benchmark: nook virtio-fs vs QEMU+virtiofsd vs QEMU virtio-9p
# (tests/bench/guest_fs_bench.sh; figures, not a test). SYSTEMS/RUNS/FILES/BIG_MIB pass
# through the environment, e.g. `make bench-guest-fs RUNS=1 SYSTEMS="nook virtiofsd"`.

GUEST_FS_WORKLOAD := $(BUILD)/bench/guest_fs_workload

BENCH_TARGETS += bench-guest-fs

.PHONY: bench-guest-fs

# Static glibc binary: it is /init of a guest whose root is the shared directory.
$(GUEST_FS_WORKLOAD): tests/bench/guest_fs_workload.c tests/bench/guest_fs.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -o $@ $<

bench-guest-fs: $(BUILD)/nook $(BUILD)/guest/vmlinux $(GUEST_FS_WORKLOAD)
	BUILD=$(BUILD) SYSTEMS="$(or $(SYSTEMS),nook virtiofsd 9p)" RUNS=$(or $(RUNS),2) \
		tests/bench/guest_fs_bench.sh
