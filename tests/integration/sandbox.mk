# One boot checked from the host: seccomp on every thread, the default sandbox in place
# (tests/integration/sandbox.sh).
.PHONY: check-sandbox
TEST_TARGETS += check-sandbox

check-sandbox: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/integration/sandbox.sh $(BUILD)
