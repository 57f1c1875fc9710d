# One real guest boot for the virtio-fs DAX window (tests/integration/dax_boot.sh): a
# --root share holding the static check program as /init, a share with dax= and one
# without.
.PHONY: check-dax-boot
TEST_TARGETS += check-dax-boot

$(BUILD)/tests/dax_boot_check: tests/integration/dax_boot_check.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -s -o $@ $<

check-dax-boot: $(BUILD)/nook $(BUILD)/tests/dax_boot_check $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	NOOK=$(BUILD)/nook CHECK_BIN=$(BUILD)/tests/dax_boot_check tests/integration/dax_boot.sh
