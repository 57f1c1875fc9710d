# File-system benchmark (figures, not a test): native ext4 vs `nook fs serve` mounts.
#   make bench-fs [FS_BENCH_OPTS="cache=auto cache=always"] [BENCH_DIR=/var/tmp] [BENCH_RAMDISK=1]
FS_BENCH_OPTS ?= cache=auto cache=auto,no_passthrough cache=always,no_passthrough

.PHONY: bench-fs
bench-fs: $(BUILD)/nook
	BENCH_CACHE=$(BUILD)/bench tests/bench/fs_bench.sh $(BUILD)/nook $(FS_BENCH_OPTS)

BENCH_TARGETS += bench-fs
