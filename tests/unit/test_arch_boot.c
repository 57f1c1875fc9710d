/* Kernel loaders, initrd placement, zero page and e820 (arch/x86_64/boot.c). */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"

static struct guest_mem mem;
static char err[256];

static void map_ram(uint64_t size)
{
	struct gmem_region l[2];
	int nr = 0;

	l[nr++] = (struct gmem_region){ 0, size < LAYOUT_MMIO_GAP_START ? size : LAYOUT_MMIO_GAP_START, NULL };
	if (size > LAYOUT_MMIO_GAP_START)
		l[nr++] = (struct gmem_region){ LAYOUT_MMIO_GAP_END, size - LAYOUT_MMIO_GAP_START, NULL };
	cr_assert_eq(gmem_map(&mem, l, nr), 0);
}

static void unmap_ram(void)
{
	gmem_unmap(&mem);
}

TestSuite(arch_boot, .fini = unmap_ram);

/* A minimal ELF64 x86_64 executable with one PT_LOAD at paddr. */
static size_t make_elf(uint8_t *buf, size_t cap, uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph = { 0 };
	size_t off = sizeof(eh) + sizeof(ph);

	cr_assert(off + filesz <= cap);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = paddr;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_offset = off;
	ph.p_paddr = paddr;
	ph.p_vaddr = 0xffffffff80000000ULL + paddr;
	ph.p_filesz = filesz;
	ph.p_memsz = memsz;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	for (uint64_t i = 0; i < filesz; i++)
		buf[off + i] = (uint8_t)(i * 7 + 1);
	return off + filesz;
}

Test(arch_boot, elf_loads_segment_and_zeroes_bss)
{
	static uint8_t img[8192];
	struct boot_image bi;
	size_t len;
	uint8_t *p;

	map_ram(64 << 20);
	len = make_elf(img, sizeof(img), LAYOUT_KERNEL_LOAD, 4096, 8192);
	memset(gmem_ptr(&mem, LAYOUT_KERNEL_LOAD, 8192), 0xaa, 8192);
	cr_assert_eq(boot_load_kernel(&mem, img, len, &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(bi.is_bzimage);
	cr_assert_eq(bi.entry, LAYOUT_KERNEL_LOAD);
	cr_assert_eq(bi.load_end, LAYOUT_KERNEL_LOAD + 8192);
	p = gmem_ptr(&mem, LAYOUT_KERNEL_LOAD, 8192);
	cr_assert_eq(p[0], 1);
	cr_assert_eq(p[4095], (uint8_t)(4095 * 7 + 1));
	cr_assert_eq(p[4096], 0);
	cr_assert_eq(p[8191], 0);
	cr_assert_eq(bi.hdr.header, 0x53726448);
}

Test(arch_boot, elf_rejects_corruption)
{
	static uint8_t img[8192];
	struct boot_image bi;
	size_t len;

	map_ram(64 << 20);
	len = make_elf(img, sizeof(img), LAYOUT_KERNEL_LOAD, 4096, 4096);
	/* truncated */
	cr_assert_neq(boot_load_elf(&mem, img, 40, &bi, err, sizeof(err)), 0);
	cr_assert_neq(boot_load_elf(&mem, img, len - 100, &bi, err, sizeof(err)), 0);
	cr_assert(strstr(err, "truncated"), "%s", err);
	/* bad magic */
	img[1] = 'X';
	cr_assert_neq(boot_load_kernel(&mem, img, len, &bi, err, sizeof(err)), 0);
	img[1] = 'E';
	/* wrong class */
	img[EI_CLASS] = ELFCLASS32;
	cr_assert_neq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
	cr_assert(strstr(err, "64-bit"), "%s", err);
	img[EI_CLASS] = ELFCLASS64;
	cr_assert_eq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0, "%s", err);
}

Test(arch_boot, elf_rejects_segments_outside_ram)
{
	static uint8_t img[8192];
	struct boot_image bi;
	size_t len;

	map_ram(32 << 20);
	len = make_elf(img, sizeof(img), 32 << 20, 4096, 4096);	/* right past RAM */
	cr_assert_neq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
	cr_assert(strstr(err, "outside guest RAM"), "%s", err);
	len = make_elf(img, sizeof(img), (32 << 20) - 4096, 4096, 8192);	/* bss overflows */
	cr_assert_neq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
	len = make_elf(img, sizeof(img), 0x7000, 4096, 4096);	/* over the zero page */
	cr_assert_neq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
	len = make_elf(img, sizeof(img), 0xfffffffffffff000ULL, 4096, 8192);	/* wraps */
	cr_assert_neq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
}

/* A synthetic bzImage: setup sectors with the header, then a protected-mode payload. */
static size_t make_bzimage(uint8_t *buf, size_t cap, uint16_t version, uint16_t xlf,
			   uint32_t init_size)
{
	struct setup_header h = { 0 };
	size_t setup = 5 * 512, payload = 4096;

	cr_assert(setup + payload <= cap);
	memset(buf, 0, setup + payload);
	h.setup_sects = 4;
	h.boot_flag = 0xaa55;
	h.header = 0x53726448;
	h.version = version;
	h.loadflags = LOADED_HIGH;
	h.code32_start = 0x100000;
	h.initrd_addr_max = 0x7fffffff;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = xlf;
	h.cmdline_size = 2047;
	h.pref_address = 0x1000000;
	h.init_size = init_size;
	memcpy(buf + 0x1f1, &h, sizeof(h));
	buf[0x201] = 0x6a;	/* jump offset: header ends at 0x26c */
	for (size_t i = 0; i < payload; i++)
		buf[setup + i] = (uint8_t)(i ^ 0x5a);
	return setup + payload;
}

Test(arch_boot, bzimage_loads_64bit_entry)
{
	static uint8_t img[16384];
	struct boot_image bi;
	size_t len;
	uint8_t *p;

	map_ram(64 << 20);
	len = make_bzimage(img, sizeof(img), 0x20f, XLF_KERNEL_64, 8 << 20);
	cr_assert_eq(boot_load_kernel(&mem, img, len, &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert(bi.is_bzimage);
	cr_assert_eq(bi.load_start, 0x1000000);
	cr_assert_eq(bi.entry, 0x1000000 + 0x200);
	cr_assert_eq(bi.load_end, 0x1000000 + (8 << 20));
	cr_assert_eq(bi.cmdline_max, 2048);
	cr_assert_eq(bi.initrd_max, 0x7fffffff);
	cr_assert_eq(bi.hdr.code32_start, 0x1000000);
	p = gmem_ptr(&mem, 0x1000000, 4096);
	cr_assert_eq(p[0], 0x5a);
	cr_assert_eq(p[4095], (uint8_t)(4095 ^ 0x5a));
}

Test(arch_boot, bzimage_rejects_old_or_invalid)
{
	static uint8_t img[16384];
	struct boot_image bi;
	size_t len;

	map_ram(64 << 20);
	len = make_bzimage(img, sizeof(img), 0x205, XLF_KERNEL_64, 0);
	cr_assert_neq(boot_load_bzimage(&mem, img, len, &bi, err, sizeof(err)), 0);
	cr_assert(strstr(err, "2.06"), "%s", err);
	len = make_bzimage(img, sizeof(img), 0x20f, 0, 0);
	cr_assert_neq(boot_load_bzimage(&mem, img, len, &bi, err, sizeof(err)), 0);
	cr_assert(strstr(err, "64-bit"), "%s", err);
	len = make_bzimage(img, sizeof(img), 0x20f, XLF_KERNEL_64, 0);
	img[0x202] = 'X';
	cr_assert_neq(boot_load_bzimage(&mem, img, len, &bi, err, sizeof(err)), 0);
	img[0x202] = 'H';
	/* truncated before the payload */
	cr_assert_neq(boot_load_bzimage(&mem, img, 5 * 512, &bi, err, sizeof(err)), 0);
	cr_assert_neq(boot_load_kernel(&mem, img, 100, &bi, err, sizeof(err)), 0);
	/* init_size larger than RAM */
	len = make_bzimage(img, sizeof(img), 0x20f, XLF_KERNEL_64, 128 << 20);
	cr_assert_neq(boot_load_bzimage(&mem, img, len, &bi, err, sizeof(err)), 0);
}

Test(arch_boot, initrd_at_top_of_low_ram)
{
	static uint8_t img[8192], rd[10000];
	struct boot_image bi;
	uint64_t addr;
	size_t len;

	map_ram(64 << 20);
	len = make_elf(img, sizeof(img), LAYOUT_KERNEL_LOAD, 4096, 4096);
	cr_assert_eq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
	memset(rd, 0x42, sizeof(rd));
	cr_assert_eq(boot_load_initrd(&mem, &bi, rd, sizeof(rd), &addr, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(addr & 0xfff, 0);
	cr_assert_leq(addr + sizeof(rd), 64 << 20);
	cr_assert_gt(addr + sizeof(rd) + 4096, 64 << 20);
	cr_assert_eq(*(uint8_t *)gmem_ptr(&mem, addr + sizeof(rd) - 1, 1), 0x42);
	/* initrd_addr_max lower than RAM */
	bi.initrd_max = (32 << 20) - 1;
	cr_assert_eq(boot_load_initrd(&mem, &bi, rd, sizeof(rd), &addr, err, sizeof(err)), 0);
	cr_assert_leq(addr + sizeof(rd), 32 << 20);
}

Test(arch_boot, initrd_too_large)
{
	static uint8_t img[8192];
	struct boot_image bi;
	uint64_t addr;
	size_t len;
	uint8_t *big;

	map_ram(32 << 20);
	len = make_elf(img, sizeof(img), LAYOUT_KERNEL_LOAD, 4096, 4096);
	cr_assert_eq(boot_load_elf(&mem, img, len, &bi, err, sizeof(err)), 0);
	big = calloc(1, 20 << 20);
	cr_assert_neq(boot_load_initrd(&mem, &bi, big, 20 << 20, &addr, err, sizeof(err)), 0);
	cr_assert(strstr(err, "does not fit"), "%s", err);
	free(big);
}

Test(arch_boot, e820_small_ram)
{
	struct boot_e820_entry t[8];
	int n;

	map_ram(128 << 20);
	n = boot_e820(&mem, t, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(t[0].addr, 0);
	cr_assert_eq(t[0].size, LAYOUT_EBDA_START);
	cr_assert_eq(t[0].type, 1);
	cr_assert_eq(t[1].addr, LAYOUT_EBDA_START);
	cr_assert_eq(t[1].type, 2);
	cr_assert_eq(t[2].addr, LAYOUT_HIMEM_START);
	cr_assert_eq(t[2].addr + t[2].size, 128 << 20);
	cr_assert_eq(t[2].type, 1);
}

Test(arch_boot, e820_large_ram_split_around_gap)
{
	struct boot_e820_entry t[8];
	int n;

	map_ram(5ULL << 30);	/* MAP_NORESERVE: nothing is touched */
	n = boot_e820(&mem, t, 8);
	cr_assert_eq(n, 4);
	cr_assert_eq(t[2].addr + t[2].size, LAYOUT_MMIO_GAP_START);
	cr_assert_eq(t[3].addr, LAYOUT_MMIO_GAP_END);
	cr_assert_eq(t[3].size, 2ULL << 30);
	cr_assert_eq(t[3].type, 1);
	for (int i = 0; i < n; i++)
		cr_assert(t[i].addr + t[i].size <= LAYOUT_MMIO_GAP_START ||
			  t[i].addr >= LAYOUT_MMIO_GAP_END);
}

Test(arch_boot, zero_page_fields)
{
	static uint8_t img[16384];
	struct boot_image bi;
	struct boot_params *bp;
	size_t len;

	map_ram(64 << 20);
	len = make_bzimage(img, sizeof(img), 0x20f, XLF_KERNEL_64, 0);
	cr_assert_eq(boot_load_bzimage(&mem, img, len, &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(boot_write_zero_page(&mem, &bi, "console=ttyS0 quiet", 0x3000000, 1234,
					  err, sizeof(err)), 0, "%s", err);
	bp = gmem_ptr(&mem, LAYOUT_ZERO_PAGE, sizeof(*bp));
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert_eq(bp->hdr.boot_flag, 0xaa55);
	cr_assert_eq(bp->hdr.header, 0x53726448);
	cr_assert_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_assert_eq(bp->hdr.cmdline_size, strlen("console=ttyS0 quiet"));
	cr_assert_str_eq((char *)gmem_ptr(&mem, LAYOUT_CMDLINE, 1), "console=ttyS0 quiet");
	cr_assert_eq(bp->hdr.ramdisk_image, 0x3000000);
	cr_assert_eq(bp->hdr.ramdisk_size, 1234);
	cr_assert_eq(bp->hdr.code32_start, 0x1000000);
	cr_assert_eq(bp->e820_entries, 3);
	/* too long for the kernel's cmdline_size */
	{
		char longline[3000];

		memset(longline, 'a', sizeof(longline) - 1);
		longline[sizeof(longline) - 1] = '\0';
		cr_assert_neq(boot_write_zero_page(&mem, &bi, longline, 0, 0, err, sizeof(err)), 0);
		cr_assert(strstr(err, "too long"), "%s", err);
	}
}

Test(arch_boot, page_tables_and_gdt)
{
	uint64_t *pml4, *pdpt, *pd, gdt[5];

	map_ram(64 << 20);
	cr_assert_eq(boot_write_page_tables(&mem), 0);
	cr_assert_eq(boot_write_gdt(&mem), 0);
	pml4 = gmem_ptr(&mem, LAYOUT_PML4, 8);
	pdpt = gmem_ptr(&mem, LAYOUT_PDPT, 32);
	pd = gmem_ptr(&mem, LAYOUT_PD, 4096 * 4);
	cr_assert_eq(pml4[0], LAYOUT_PDPT | 3);
	cr_assert_eq(pdpt[3], (LAYOUT_PD + 3 * 4096) | 3);
	cr_assert_eq(pd[0], 0x83);
	cr_assert_eq(pd[2047], (2047ULL << 21) | 0x83);
	cr_assert_eq(gmem_read(&mem, LAYOUT_GDT_ADDR, gdt, sizeof(gdt)), 0);
	cr_assert_eq(gdt[BOOT_GDT_CODE / 8], 0x00af9b000000ffffULL);
	cr_assert_eq(gdt[BOOT_GDT_DATA / 8], 0x00cf93000000ffffULL);
}

/* The real guest kernels, when `make` built them. */
static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) || !(buf = malloc((size_t)st.st_size + 1))) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	return buf;
}

static void try_real(const char *path, bool bz)
{
	struct boot_image bi;
	size_t len = 0;
	uint8_t *img = read_file(path, &len);

	if (!img) {
		cr_skip_test("%s not built", path);
		return;
	}
	map_ram(256 << 20);
	cr_assert_eq(boot_load_kernel(&mem, img, len, &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.is_bzimage, bz);
	cr_assert_geq(bi.entry, LAYOUT_HIMEM_START);
	cr_assert_gt(bi.load_end, bi.entry);
	/* truncated copies fail cleanly */
	cr_assert_neq(boot_load_kernel(&mem, img, len / 2, &bi, err, sizeof(err)), 0);
	free(img);
}

Test(arch_boot, real_vmlinux)
{
	try_real("build/guest/vmlinux", false);
}

Test(arch_boot, real_bzimage)
{
	try_real("build/guest/bzImage", true);
}

/* A file-backed ELF whose segment is page-congruent is mapped, not copied: same bytes,
 * and the tail of the last page (other file bytes) reads as zero. */
Test(arch_boot, elf_file_mapped_segment)
{
	enum { OFF = 0x10000, FILESZ = 0x20010, MEMSZ = 0x30000 };
	static uint8_t img[OFF + FILESZ + 4096];
	char path[] = "/tmp/nook-test-elf-XXXXXX";
	struct boot_image bi;
	struct boot_file f;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	uint8_t *p;
	int fd;

	map_ram(64 << 20);
	make_elf(img, sizeof(img), LAYOUT_KERNEL_LOAD, 16, 16);
	ph->p_offset = OFF;
	ph->p_filesz = FILESZ;
	ph->p_memsz = MEMSZ;
	eh->e_entry = LAYOUT_KERNEL_LOAD;
	for (size_t i = OFF; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 13 + 5);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	f = (struct boot_file){ .fd = fd, .buf = NULL, .len = sizeof(img) };
	cr_assert_eq(boot_load_kernel_file(&mem, &f, &bi, err, sizeof(err)), 0, "%s", err);
	close(fd);
	p = gmem_ptr(&mem, LAYOUT_KERNEL_LOAD, MEMSZ);
	cr_assert_eq(memcmp(p, img + OFF, FILESZ), 0);
	for (size_t i = FILESZ; i < MEMSZ; i++)
		cr_assert_eq(p[i], 0, "byte %zu after the file data must be zero", i);
	p[0] ^= 0xff;	/* private mapping: writable, and the file is unchanged */
	cr_assert_eq(bi.entry, LAYOUT_KERNEL_LOAD);
}

/* Found by tests/fuzz/fuzz_boot.c: a header cmdline_size of 0xffffffff made the limit
 * wrap to 0, so no command line at all could be written. It is capped instead. */
Test(arch_boot, bzimage_huge_cmdline_size_is_capped)
{
	static uint8_t img[16384];
	struct boot_image bi;
	size_t len;
	uint32_t huge = 0xffffffff;

	map_ram(64 << 20);
	len = make_bzimage(img, sizeof(img), 0x20f, XLF_KERNEL_64, 0);
	memcpy(img + 0x1f1 + offsetof(struct setup_header, cmdline_size), &huge, sizeof(huge));
	cr_assert_eq(boot_load_bzimage(&mem, img, len, &bi, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bi.cmdline_max, LAYOUT_CMDLINE_MAX);
	cr_assert_eq(boot_write_zero_page(&mem, &bi, "console=hvc0", 0, 0, err, sizeof(err)), 0,
		     "%s", err);
}
