/*
 * Inspection of a kernel image before a boot: what format it is, which release, and
 * whether it carries the drivers a `nook run` boot needs. Nothing here touches guest
 * RAM; the file is read with pread() in bounded chunks, and every offset found in it is
 * checked against the file size (the image is untrusted input).
 *
 * The driver checks are string heuristics on an ELF vmlinux (a stripped vmlinux keeps
 * its .rodata): each driver always carries a NUL-terminated name no other code has. A
 * bzImage's kernel is compressed, so there they are "unknown" (-1).
 */
#ifndef NOOK_ARCH_X86_64_KERNEL_INFO_H
#define NOOK_ARCH_X86_64_KERNEL_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KINFO_VERSION_MAX	128

struct kernel_info {
	bool elf;		/* ELF64 x86-64 */
	bool pvh;		/* ELF with the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, 18) */
	bool bzimage;		/* "HdrS" boot header */
	uint16_t boot_proto;	/* bzImage protocol version, 0 for ELF */
	bool xloadflags_64;	/* bzImage: XLF_KERNEL_64 (64-bit entry) */
	char version[KINFO_VERSION_MAX]; /* "6.1.158-nook" style release: from the bzImage
				 * header's kernel_version string, or the ELF's "Linux version X
				 * ..." banner; "" if unknown */
	int has_virtiofs;	/* 1 / 0 / -1 unknown: the virtio-fs driver (CONFIG_VIRTIO_FS) */
	int has_virtio_console;	/* drivers/char/virtio_console.c (CONFIG_VIRTIO_CONSOLE) */
	int has_virtio_mmio_cmdline; /* the "virtio_mmio.device" parameter
				 * (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES) */
};

/*
 * Reads the regular file at fd (its file offset is left alone) and fills ki. Returns 0,
 * or -1 with one line in err ("not an ELF vmlinux or a bzImage", "bzImage has no 64-bit
 * entry point ...", ...); after -1, ki still holds whatever was recognised.
 *
 * A missing PVH note is not an error: nook enters an ELF vmlinux at e_entry with the
 * 64-bit boot protocol (arch/x86_64/boot.c), so ki->pvh is information only (QEMU's
 * microvm and other PVH loaders need it).
 */
int kinfo_read(int fd, struct kernel_info *ki, char *err, size_t errlen);

/*
 * One line naming what a run-mode boot (virtio-fs root, virtio-console stdio, devices
 * declared on the command line) needs and the kernel is known to lack, or NULL if
 * nothing is known to be missing. The string lives in a per-thread buffer, valid until
 * the next call on the same thread.
 */
const char *kinfo_missing_for_run(const struct kernel_info *ki);

#endif
