# nook's built-in guest init (vmm/guest-init/): a static program nook embeds and serves
# to `nook run` guests as /.nook-init (vmm/run_proto.h).
#
#   $(RUN_INIT_BIN)       the init itself (glibc -static, -Os, stripped)
#   $(RUN_INIT_OBJ)       the init as .rodata bytes (run_init_blob[]), for build/nook
#   $(RUN_INIT_ASAN_OBJ)  the same object for the unit-test link
#   $(RUN_INIT_HOST_BIN)  host test build (-DRUN_INIT_HOST_TEST: no mounts, no reboot);
#                         not built by default, run by hand

RUN_INIT_BIN      := $(BUILD)/guest-init/nook-init
RUN_INIT_HOST_BIN := $(BUILD)/guest-init/nook-init-host
RUN_INIT_OBJ      := $(BUILD)/obj/vmm/guest-init/blob.o
RUN_INIT_ASAN_OBJ := $(BUILD)/asan/vmm/guest-init/blob.o
RUN_INIT_SRCS     := vmm/guest-init/init.c vmm/guest-init/msg.c vmm/guest-init/command.c \
                     vmm/guest-init/request.c vmm/guest-init/alloc.c \
                     vmm/guest-init/control.c vmm/guest-init/net.c \
                     vmm/guest-init/confine.c
RUN_INIT_DEPS     := $(RUN_INIT_SRCS) vmm/guest-init/init.h vmm/guest-init/request.h \
                     vmm/run_proto.h vmm/guest-init/init.mk

# Size: sections per function so --gc-sections drops what is unused; no unwind tables
# (C, no exceptions); one text segment instead of page-aligned separate ones
# (noseparate-code), which saves ~8 KB of padding. Most of what is left is glibc's.
# norelro: a static binary's RELRO costs an mprotect() at start-up (a system call is
# ~1 ms where guest kernel mode is emulated); the init reads only the host's request.
# alloc.c replaces glibc's malloc (four more start-up calls, see there).
RUN_INIT_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Os -static -s -I. \
                   -ffunction-sections -fdata-sections -Wl,--gc-sections \
                   -fno-asynchronous-unwind-tables -fno-unwind-tables \
                   -Wl,-z,noseparate-code -Wl,--build-id=none -Wl,-z,norelro

ALL_TARGETS += $(RUN_INIT_BIN)

$(RUN_INIT_BIN): $(RUN_INIT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(RUN_INIT_CFLAGS) -o $@ $(RUN_INIT_SRCS)

$(RUN_INIT_HOST_BIN): $(RUN_INIT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(RUN_INIT_CFLAGS) -DRUN_INIT_HOST_TEST -o $@ $(RUN_INIT_SRCS)

# The .incbin path is the init's, quoted for the assembler.
$(RUN_INIT_OBJ) $(RUN_INIT_ASAN_OBJ): vmm/guest-init/blob.S $(RUN_INIT_BIN)
	@mkdir -p $(dir $@)
	$(CC) -c -DNOOK_INIT_PATH='"$(RUN_INIT_BIN)"' -o $@ vmm/guest-init/blob.S
