# `nook run -- CMD` with the real guest kernel and the built-in init (tests/integration/run.sh).
.PHONY: check-run
TEST_TARGETS += check-run

check-run: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/integration/run.sh $(BUILD)

# `nook kconfig` is a subset of what our own guest kernel has (tests/integration/kconfig_check.sh).
.PHONY: check-kconfig
TEST_TARGETS += check-kconfig

check-kconfig: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/integration/kconfig_check.sh $(BUILD)

# nook-oci driven by real podman (tests/integration/oci.sh): a handful of guest boots.
.PHONY: check-oci
TEST_TARGETS += check-oci

# A static probe copied into the test image: is a syscall denied by the seccomp profile?
$(BUILD)/tests/oci_personality: tests/integration/oci_personality.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -s -o $@ $<

check-oci: $(BUILD)/nook $(BUILD)/nook-oci $(BUILD)/tests/oci_personality $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/integration/oci.sh $(BUILD)
