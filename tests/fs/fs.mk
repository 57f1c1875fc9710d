# File-system semantics through a real `nook fs serve` mount (tests/fs/).
#
#   make check-fuse    run the semantic suite natively (proves the tests), then through a
#                      mount for each option set in FUSE_TEST_OPTS; plus the fuse_dispatch
#                      escape unit tests
#
# The suite binary is plain -O2 (it forks and setuid()s a lot; it tests the kernel and the
# server, not itself). The dispatch tests link the ASan/UBSan library like check-unit.

FS_TEST_SRCS := tests/fs/fs_test.c $(sort $(wildcard tests/fs/test_*.c))
FS_TEST_OBJS := $(FS_TEST_SRCS:%.c=$(BUILD)/obj/%.o)
FS_DISPATCH_OBJS := $(patsubst %.c,$(BUILD)/asan/%.o,$(sort $(wildcard tests/fs/dispatch_*.c)))
# The first set is the defaults (xattr on, no served locks: closes skip FLUSH, file data
# through kernel passthrough as we run as root). flock turns passthrough off, so those
# sets send reads and writes through the server (page cache kept by the client, or
# direct I/O for never); metadata passes file data through again, with ACLs. All sets but
# one have one polling worker read every request (fs/fuse_lead.h; with flock, a blocked
# lock wait hands the reading over); poll_us=0 keeps the plain pool tested. The last set
# takes requests over io_uring where the kernel has it.
FUSE_TEST_OPTS ?= cache=auto cache=auto,posix_acl,flock cache=never,posix_acl,flock,poll_us=0 \
		  cache=metadata,posix_acl cache=auto,io_uring

$(BUILD)/tests/fs-tests: $(FS_TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/tests/fs-dispatch-tests: $(FS_DISPATCH_OBJS) $(ASAN_OBJS) $(EMBED_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lcriterion $(LDLIBS)

.PHONY: check-fuse check-fuse-native check-fuse-dispatch
check-fuse-dispatch: $(BUILD)/tests/fs-dispatch-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $< --jobs 2

check-fuse-native: $(BUILD)/tests/fs-tests
	tests/fs/run_mount.sh --native-only $(BUILD)/nook $(BUILD)/tests/fs-tests

check-fuse: $(BUILD)/tests/fs-tests $(BUILD)/nook check-fuse-dispatch
	tests/fs/run_mount.sh $(BUILD)/nook $(BUILD)/tests/fs-tests $(FUSE_TEST_OPTS)

TEST_TARGETS += check-fuse
