# One real guest boot for the metadata version table (tests/integration/vt_boot.sh):
# three shares of one tree (a counted reader, a writer, an observer) and a host process.
.PHONY: check-vt-boot
TEST_TARGETS += check-vt-boot

$(BUILD)/tests/guest_vt_check: tests/integration/guest_vt_check.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -s -o $@ $<

check-vt-boot: $(BUILD)/nook $(BUILD)/tests/guest_vt_check $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	NOOK=$(BUILD)/nook CHECK_BIN=$(BUILD)/tests/guest_vt_check tests/integration/vt_boot.sh
