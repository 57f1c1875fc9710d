# Guest kernel and test initramfs (included by the top-level Makefile).
#
#   make guest-kernel     build/guest/vmlinux + build/guest/bzImage (cached: a few seconds
#                         when nook.config, patches/ and build.sh are unchanged)
#   make guest-initramfs  build/guest/initramfs.cpio (uncompressed newc: /init /dev /proc)
#   make guest-boot-qemu  boot them under QEMU microvm (the reference VMM) and check init ran
#                         (also `check-guest-qemu`; not part of `make test`)

GUEST_DIR     := $(BUILD)/guest
GUEST_KDEPS   := guest-kernel-config/build.sh guest-kernel-config/nook.config \
                 $(sort $(wildcard guest-kernel-config/patches/*.patch))
GUEST_INITRD  := $(GUEST_DIR)/initramfs.cpio
GUEST_INIT_CFLAGS := -std=c11 -Wall -Wextra -Werror -Os -static -nostdlib -ffreestanding \
                 -fno-stack-protector -fno-asynchronous-unwind-tables -fno-pie -no-pie \
                 -Wl,--build-id=none -Wl,-z,noseparate-code -s

ALL_TARGETS += guest-kernel $(GUEST_INITRD)

.PHONY: guest-kernel guest-initramfs guest-boot-qemu check-guest-qemu

guest-kernel: $(GUEST_DIR)/vmlinux

# build.sh keeps its own hash stamp; make only decides when to ask it.
$(GUEST_DIR)/vmlinux $(GUEST_DIR)/bzImage &: $(GUEST_KDEPS)
	guest-kernel-config/build.sh $(GUEST_DIR)
	@touch $(GUEST_DIR)/vmlinux $(GUEST_DIR)/bzImage

guest-initramfs: $(GUEST_INITRD)

$(GUEST_DIR)/init: tests/guest/init.c guest-kernel-config/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_INIT_CFLAGS) -o $@ $<

# Deterministic archive: fixed order and mtimes, owner root, via Debian's cpio.
$(GUEST_INITRD): $(GUEST_DIR)/init
	@rm -rf $(GUEST_DIR)/initramfs-root && mkdir -p $(GUEST_DIR)/initramfs-root/dev $(GUEST_DIR)/initramfs-root/proc
	cp $(GUEST_DIR)/init $(GUEST_DIR)/initramfs-root/init
	touch -h -d @0 $(GUEST_DIR)/initramfs-root $(GUEST_DIR)/initramfs-root/*
	cd $(GUEST_DIR)/initramfs-root && printf '.\ndev\nproc\ninit\n' | \
		cpio --quiet -o -H newc -R 0:0 --reproducible > ../initramfs.cpio.tmp
	mv $(GUEST_DIR)/initramfs.cpio.tmp $@
	@rm -rf $(GUEST_DIR)/initramfs-root

# Not part of `make test` (nook's check-boot boots the same images, self-test included):
# the guest kernel boots under QEMU microvm (vmlinux/bzImage, 1/2
# vCPUs), reports a panic through pvpanic, and passes the syscall self-test.
guest-boot-qemu check-guest-qemu: $(GUEST_DIR)/vmlinux $(GUEST_INITRD) $(GUEST_DIR)/initramfs-selftest.cpio
	tests/guest/boot-qemu.sh $(GUEST_DIR)

# Self-test initramfs: a static glibc /init exercising fork, signals and syscall restart
# (checks the guest kernel's syscall emulation patch); used by boot-qemu.sh's selftest case.
GUEST_SELFTEST_INITRD := $(GUEST_DIR)/initramfs-selftest.cpio
ALL_TARGETS += $(GUEST_SELFTEST_INITRD)

$(GUEST_DIR)/selftest: tests/guest/selftest.c guest-kernel-config/guest.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -Os -static -s -o $@ $<

$(GUEST_SELFTEST_INITRD): $(GUEST_DIR)/selftest
	@rm -rf $(GUEST_DIR)/selftest-root && mkdir -p $(GUEST_DIR)/selftest-root/dev $(GUEST_DIR)/selftest-root/proc
	cp $(GUEST_DIR)/selftest $(GUEST_DIR)/selftest-root/init
	touch -h -d @0 $(GUEST_DIR)/selftest-root $(GUEST_DIR)/selftest-root/*
	cd $(GUEST_DIR)/selftest-root && printf '.\ndev\nproc\ninit\n' | \
		cpio --quiet -o -H newc -R 0:0 --reproducible > ../initramfs-selftest.cpio.tmp
	mv $(GUEST_DIR)/initramfs-selftest.cpio.tmp $@
	@rm -rf $(GUEST_DIR)/selftest-root
