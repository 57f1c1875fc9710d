# nook-oci: the OCI runtime front end (vmm/oci/), its own binary next to build/nook.
# Not part of LIB_SRCS (vmm/*.c): only nook-oci and the unit tests link json-c.
OCI_SRCS := $(sort $(wildcard vmm/oci/*.c))
# The verbs (oci_main.c, oci_exec.c) are only in the binary; the rest is unit-tested.
OCI_LIB_SRCS := $(filter-out vmm/oci/oci_main.c vmm/oci/oci_exec.c,$(OCI_SRCS))
OCI_OBJS := $(OCI_SRCS:%.c=$(BUILD)/obj/%.o)
OCI_ASAN_OBJS := $(OCI_LIB_SRCS:%.c=$(BUILD)/asan/%.o)

ALL_TARGETS += $(BUILD)/nook-oci
.PHONY: nook-oci
nook-oci: $(BUILD)/nook-oci

# run_ctl.o: the control frames nook-oci exchanges with the VMM (vmm/run_ctl.h);
# cli_size.o: nook's size parser, for the nook.memory annotation.
$(BUILD)/nook-oci: $(OCI_OBJS) $(BUILD)/obj/vmm/run_ctl.o $(BUILD)/obj/vmm/cli_size.o | $(BUILD)/nook
	$(CC) $(CFLAGS) -o $@ $^ -ljson-c -lseccomp

# The config.json translation is unit-tested (tests/unit/oci_spec_test.c).
$(BUILD)/tests/unit-tests: $(OCI_ASAN_OBJS)
$(BUILD)/tests/unit-tests: LDLIBS += -ljson-c

-include $(OCI_OBJS:.o=.d) $(OCI_ASAN_OBJS:.o=.d)
