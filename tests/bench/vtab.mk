# Host-side cost of the metadata version table (tests/bench/vtab_bench.c): requests
# through the file server with versions off / on for a host mount / on for a VERTAB
# client, and the raw bump and snapshot. Figures, not a test.
.PHONY: bench-vtab
BENCH_TARGETS += bench-vtab

$(BUILD)/bench/vtab_bench: tests/bench/vtab_bench.c $(LIB_OBJS) $(EMBED_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 $(CPPFLAGS_NOOK) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

bench-vtab: $(BUILD)/bench/vtab_bench
	$(BUILD)/bench/vtab_bench

# In-guest metadata workload with and without `versions` (two boots; needs the 0006
# guest kernel patch): tests/bench/vt_guest_bench.sh.
.PHONY: bench-vt-guest
BENCH_TARGETS += bench-vt-guest

$(BUILD)/bench/vt_guest_workload: tests/bench/vt_guest_workload.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -o $@ $<

bench-vt-guest: $(BUILD)/nook $(BUILD)/guest/vmlinux $(BUILD)/bench/vt_guest_workload
	NOOK=$(BUILD)/nook WORKLOAD=$(BUILD)/bench/vt_guest_workload tests/bench/vt_guest_bench.sh
