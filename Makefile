# nook build.
#
#   make            build/nook, the guest kernel (build/guest/) and the test initramfs
#   make nook       only build/nook
#   make test       every test: unit (ASan/UBSan), host FUSE mount, fuzz (bounded), guest boots
#   make bench      benchmarks that print figures (not tests)
#   make fuzz-long  every fuzz target for 10 M executions or 1 h each (not in make test)
#
# Sources are picked up by directory, so a new .c file in vmm/ arch/x86_64/ devices/ fs/
# needs no Makefile change. Each area may add its own rules in a fragment (*.mk) that
# appends to TEST_TARGETS / BENCH_TARGETS / ALL_TARGETS.

CC      ?= cc
CLANG   ?= clang
BUILD   ?= build
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
CPPFLAGS_NOOK := -I. -DNOOK_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS  := -lpthread -lseccomp

# Library sources: everything but the program entry point.
LIB_SRCS  := $(sort $(wildcard vmm/*.c arch/x86_64/*.c devices/*.c fs/*.c))
LIB_SRCS  := $(filter-out vmm/main.c,$(LIB_SRCS))
MAIN_SRC  := vmm/main.c

LIB_OBJS      := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
ASAN_OBJS     := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzzobj/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/asan/%.o)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

ALL_TARGETS   := $(BUILD)/nook
TEST_TARGETS  := check-unit check-fuzz
BENCH_TARGETS :=

.PHONY: all nook test check-unit fuzz check-fuzz fuzz-long bench clean distclean
.DEFAULT_GOAL := all

# Area fragments (guest kernel, initramfs, the built-in guest init, integration tests,
# benchmarks).
include $(sort $(wildcard guest-kernel-config/*.mk vmm/*/*.mk))

# The built-in guest init (vmm/guest-init/init.mk) is data linked into every binary that
# holds vmm/run_mode.c: nook, the unit tests, the fuzz targets and the test fragments'
# programs (defined before tests/ is included: prerequisites expand as they are read).
EMBED_OBJS := $(RUN_INIT_OBJ)
include $(sort $(wildcard tests/*.mk tests/*/*.mk))

all: $(ALL_TARGETS)
nook: $(BUILD)/nook

$(BUILD)/nook: $(BUILD)/obj/vmm/main.o $(LIB_OBJS) $(EMBED_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(CPPFLAGS_NOOK) -c -o $@ $<

# Unit tests: one Criterion binary, library and tests built with ASan/UBSan.
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN_FLAGS) $(CPPFLAGS_NOOK) -c -o $@ $<

$(BUILD)/tests/unit-tests: $(UNIT_OBJS) $(ASAN_OBJS) $(EMBED_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lcriterion $(LDLIBS)

check-unit: $(BUILD)/tests/unit-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/tests/unit-tests --jobs 2

# libFuzzer targets: tests/fuzz/fuzz_NAME.c with a seed corpus in tests/fuzz/corpus/NAME/.
FUZZ_SECONDS ?= 30
# KVM's ioctl structs end in flexible arrays that we embed with room behind them (as
# gcc allows); clang calls that an extension.
CLANG_WARN := $(WARN) -Wno-gnu-variable-sized-type-not-at-end
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(CLANG_WARN) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS_NOOK) -c -o $@ $<

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS) $(EMBED_OBJS)
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(CLANG_WARN) -O1 -g -fsanitize=fuzzer,address,undefined -I. -o $@ $^ $(LDLIBS)

# Keep the instrumented objects: make would otherwise delete them as intermediates
# after building one target and rebuild all of them for the next.
.SECONDARY: $(FUZZ_LIB_OBJS)

fuzz: $(FUZZ_BINS)

check-fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
	  work=$(BUILD)/fuzz/work-$$name; rm -rf $$work; mkdir -p $$work; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -rss_limit_mb=2048 \
	       $$work $$corpus > $$work.log 2>&1; then tail -n 60 $$work.log; exit 1; fi; \
	  grep -E '^stat::number_of_executed_units|^Done' $$work.log || tail -n 3 $$work.log; \
	done

# Long fuzzing, not part of make test: every target for FUZZ_LONG_RUNS executions or
# FUZZ_LONG_SECONDS each, whichever comes first (tests/fuzz/fuzz_long.sh).
FUZZ_LONG_RUNS ?= 10000000
FUZZ_LONG_SECONDS ?= 3600
fuzz-long: $(FUZZ_BINS)
	FUZZ_LONG_RUNS=$(FUZZ_LONG_RUNS) FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) \
	  tests/fuzz/fuzz_long.sh $(BUILD) $(FUZZ_BINS)

test: $(TEST_TARGETS)

bench: $(BENCH_TARGETS)

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/fuzzobj $(BUILD)/fuzz $(BUILD)/tests $(BUILD)/nook

# distclean also drops the cached guest kernel build.
distclean:
	rm -rf $(BUILD)

# (build/guest holds the guest kernel tree: its own .d files are not ours)
-include $(shell find $(BUILD) -path $(BUILD)/guest -prune -o -name '*.d' -type f -print 2>/dev/null)
