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
