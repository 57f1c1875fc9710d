/*
 * Loading a Linux kernel for the 64-bit boot protocol: ELF vmlinux or bzImage, initrd,
 * zero page (boot_params with e820), identity page tables and the boot GDT.
 *
 * Everything here works on a struct guest_mem and plain byte buffers so it can be unit
 * tested without KVM. Every function that can fail fills err with one line.
 */
#ifndef NOOK_ARCH_X86_64_BOOT_H
#define NOOK_ARCH_X86_64_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/bootparam.h>

#include "vmm/guest_mem.h"

#define BOOT_MIN_PROTOCOL	0x206	/* cmdline_size, xloadflags-era headers */
#define BOOT_ELF_CMDLINE_MAX	2048	/* x86 COMMAND_LINE_SIZE when no header says more */

struct boot_image {
	bool is_bzimage;
	uint64_t entry;		/* guest-physical 64-bit entry point */
	uint64_t load_start;	/* lowest loaded byte */
	uint64_t load_end;	/* first byte past the kernel (incl. bss / init_size) */
	uint64_t initrd_max;	/* highest address the initrd may touch (inclusive) */
	uint32_t cmdline_max;	/* bytes incl. NUL the kernel accepts */
	struct setup_header hdr; /* bzImage: copied from the image; ELF: synthesized */
};

/* A kernel/initrd source: a file read with pread() straight into guest RAM (no copy of
 * the whole image in nook's memory), or an in-memory buffer (buf != NULL). */
struct boot_file {
	int fd;
	const uint8_t *buf;
	uint64_t len;
	bool copy;	/* never map the file into guest RAM (see boot_fill in boot.c) */
};

/* Reads [off, off+n) of f; 0, or -1 if out of range or on an I/O error. */
int boot_read(const struct boot_file *f, uint64_t off, void *dst, size_t n);

int boot_load_kernel_file(struct guest_mem *m, const struct boot_file *f,
			  struct boot_image *bi, char *err, size_t errlen);
int boot_load_elf_file(struct guest_mem *m, const struct boot_file *f, struct boot_image *bi,
		       char *err, size_t errlen);
int boot_load_bzimage_file(struct guest_mem *m, const struct boot_file *f,
			   struct boot_image *bi, char *err, size_t errlen);
int boot_load_initrd_file(struct guest_mem *m, const struct boot_image *bi,
			  const struct boot_file *f, uint64_t *addr, char *err, size_t errlen);

/* Buffer front-ends of the above. Detects the format and loads it into guest RAM. */
int boot_load_kernel(struct guest_mem *m, const uint8_t *img, size_t len,
		     struct boot_image *bi, char *err, size_t errlen);
int boot_load_elf(struct guest_mem *m, const uint8_t *img, size_t len,
		  struct boot_image *bi, char *err, size_t errlen);
int boot_load_bzimage(struct guest_mem *m, const uint8_t *img, size_t len,
		      struct boot_image *bi, char *err, size_t errlen);

/* Places the initrd at the top of low RAM below bi->initrd_max, above the kernel. */
int boot_load_initrd(struct guest_mem *m, const struct boot_image *bi, const uint8_t *data,
		     size_t len, uint64_t *addr, char *err, size_t errlen);

/* Fills e820 from the RAM regions; returns the number of entries (<= max). */
int boot_e820(const struct guest_mem *m, struct boot_e820_entry *tab, int max);

/* Writes the command line (at LAYOUT_CMDLINE) and the zero page. */
int boot_write_zero_page(struct guest_mem *m, const struct boot_image *bi, const char *cmdline,
			 uint64_t initrd_addr, uint64_t initrd_size, char *err, size_t errlen);

/* Identity page tables and boot GDT in low memory; 0 or -EFAULT. */
int boot_write_page_tables(struct guest_mem *m);
int boot_write_gdt(struct guest_mem *m);

/* GDT selectors of the 64-bit boot protocol (__BOOT_CS / __BOOT_DS) and the TSS. */
#define BOOT_GDT_CODE	0x10
#define BOOT_GDT_DATA	0x18
#define BOOT_GDT_TSS	0x20
#define BOOT_GDT_ENTRIES 5

#endif
