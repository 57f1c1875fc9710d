# Guest boot and bad-input tests of `nook run` (tests/integration/boot.sh).
.PHONY: check-boot
TEST_TARGETS += check-boot

check-boot: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux $(GUEST_DIR)/bzImage $(GUEST_INITRD) $(GUEST_DIR)/initramfs-selftest.cpio)
	tests/integration/boot.sh $(BUILD)
