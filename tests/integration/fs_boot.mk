# One real guest boot for virtio-fs (tests/integration/fs_boot.sh): a --root share holding
# the static check program as /init, plus a rw and a ro --fs share.
.PHONY: check-fs-boot
TEST_TARGETS += check-fs-boot

$(BUILD)/tests/guest_fs_check: tests/integration/guest_fs_check.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -s -o $@ $<

check-fs-boot: $(BUILD)/nook $(BUILD)/tests/guest_fs_check $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	NOOK=$(BUILD)/nook CHECK_BIN=$(BUILD)/tests/guest_fs_check tests/integration/fs_boot.sh
