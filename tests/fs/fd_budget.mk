# The server's fd budget through a host mount: 100 000 files kept looked up under
# max_fds=1000 (tests/fs/fd_budget.sh).
.PHONY: check-fd-budget
TEST_TARGETS += check-fd-budget

check-fd-budget: $(BUILD)/nook
	tests/fs/fd_budget.sh $(BUILD)/nook 100000 1000
