# One boot checked from the host: seccomp on every thread, the default sandbox in place
# (tests/integration/sandbox.sh).
.PHONY: check-sandbox
TEST_TARGETS += check-sandbox

check-sandbox: $(BUILD)/nook $(if $(GUEST_DIR),$(GUEST_DIR)/vmlinux)
	tests/integration/sandbox.sh $(BUILD)

# The test-only binary: nook built from the ASan objects with NOOK_TEST_HOOKS, whose
# NOOK_TEST_HOOK=KIND:ACTION makes a thread kind misbehave (vmm/test_hook.h). Never
# build/nook. `check-sandbox-hooks`: each server kind of `nook fs serve` (no boot).
$(BUILD)/asan/%.o: CPPFLAGS_NOOK += -DNOOK_TEST_HOOKS

$(BUILD)/tests/nook-hooks: $(BUILD)/asan/vmm/main.o $(ASAN_OBJS) $(EMBED_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

.PHONY: check-sandbox-hooks
TEST_TARGETS += check-sandbox-hooks
check-sandbox-hooks: $(BUILD)/tests/nook-hooks
	tests/integration/sandbox_hooks.sh $(BUILD)/tests/nook-hooks
