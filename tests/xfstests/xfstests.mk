# fstests (xfstests) generic/quick on `nook fs serve` mounts (tests/xfstests/).
#
#   make check-xfstests   builds fstests under build/xfstests/ from the unmodified upstream
#                         tarball, then runs tests/xfstests/run.sh: -g quick once with the
#                         defaults and once with no_passthrough (the guests' data path),
#                         then -g acl with posix_acl (~15 s; quick's other tests do not
#                         look at ACLs)
#
# The tarball is not part of the repository: CI has it next to the clone, in
# ../shared/vendor/. XFSTESTS_TARBALL overrides the path (a clone elsewhere).
XFSTESTS_TARBALL ?= $(CURDIR)/../shared/vendor/xfstests-63a2972.tar.xz
XFSTESTS_DIR     := $(BUILD)/xfstests
# The passes: NAME=OPTIONS[@GROUPS] (nook fs serve -o options, after dev,suid; fstests
# groups, default quick).
XFSTESTS_PASSES  ?= defaults= no_passthrough=no_passthrough posix_acl=posix_acl@acl

# Unpacked and built once (again when the tarball changes); the build is ~30 s here. A
# missing tarball is one clear error, not make's "no rule" (hence the wildcard).
$(XFSTESTS_DIR)/.built: $(wildcard $(XFSTESTS_TARBALL))
	@test -r "$(XFSTESTS_TARBALL)" || { echo "check-xfstests: no fstests tarball at $(XFSTESTS_TARBALL) (set XFSTESTS_TARBALL=PATH)" >&2; exit 1; }
	rm -rf $(XFSTESTS_DIR)/src
	mkdir -p $(XFSTESTS_DIR)/src
	tar -xJf $(XFSTESTS_TARBALL) -C $(XFSTESTS_DIR)/src --strip-components=1
	$(MAKE) -C $(XFSTESTS_DIR)/src -j2 > $(XFSTESTS_DIR)/build.log 2>&1 || \
		{ tail -n 30 $(XFSTESTS_DIR)/build.log; exit 1; }
	touch $@

.PHONY: check-xfstests xfstests
xfstests: $(XFSTESTS_DIR)/.built

check-xfstests: $(XFSTESTS_DIR)/.built $(BUILD)/nook
	tests/xfstests/run.sh $(BUILD)/nook $(XFSTESTS_DIR)/src $(XFSTESTS_DIR)/work $(XFSTESTS_PASSES)

TEST_TARGETS += check-xfstests
