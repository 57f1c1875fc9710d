#include "arch/x86_64/boot.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "vmm/err.h"

#define BOOT_HDR_OFFSET		0x1f1
#define BOOT_HDR_MAGIC		0x53726448	/* "HdrS" */
#define BOOT_FLAG_MAGIC		0xaa55
#define BOOT_LOADER_UNDEFINED	0xff
#define BOOT_ENTRY64_OFFSET	0x200	/* startup_64 relative to the protected-mode code */
#define BOOT_E820_RAM		1
#define BOOT_E820_RESERVED	2

/* Offset/size within the file, checked without overflow. */
static bool boot_in_file(size_t flen, uint64_t off, uint64_t size)
{
	return off <= flen && size <= flen - off;
}

int boot_read(const struct boot_file *f, uint64_t off, void *dst, size_t n)
{
	uint8_t *d = dst;

	if (!boot_in_file(f->len, off, n))
		return -1;
	if (f->buf) {
		memcpy(d, f->buf + off, n);
		return 0;
	}
	while (n) {
		ssize_t r = pread(f->fd, d, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		d += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* Threshold above which a page-congruent file range is mapped instead of copied. */
#define BOOT_MAP_MIN	(64 * 1024)

/*
 * Fills guest RAM at dst (inside the gmem reservation) with [off, off+n) of f. When file
 * offset and destination share their page offset, the file is mapped copy-on-write over
 * the guest pages (MAP_FIXED | MAP_PRIVATE): no copy, no faults now, the page cache backs
 * the guest until it writes. Otherwise, or if that fails, the bytes are read.
 * Trade-off: until the guest writes a page, that page follows the file; rewriting the
 * kernel file in place while a guest runs would change (or, truncated, fault) it.
 * f->copy (NOOK_LOAD_COPY=1) always reads instead.
 */
static int boot_fill(const struct boot_file *f, uint64_t off, uint8_t *dst, uint64_t n)
{
	uintptr_t page = (uintptr_t)dst & 4095;

	if (f->fd >= 0 && !f->buf && !f->copy && n >= BOOT_MAP_MIN && (off & 4095) == page &&
	    boot_in_file(f->len, off, n)) {
		uint8_t *start = dst - page;
		uint64_t maplen = (page + n + 4095) & ~4095ULL;

		if (mmap(start, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, f->fd,
			 (off_t)(off - page)) != MAP_FAILED) {
			/* The mapped pages around the range hold unrelated file bytes. */
			memset(start, 0, page);
			memset(dst + n, 0, maplen - page - n);
			return 0;
		}
	}
	return boot_read(f, off, dst, n);
}

/* Fresh guest RAM (private anonymous, see gmem_map) is already zero: zero a range by
 * dropping its whole pages instead of touching them, so bss costs no faults or RSS. */
static void boot_zero(uint8_t *p, uint64_t len)
{
	uintptr_t start = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)4095;

	if (end <= start || madvise((void *)start, end - start, MADV_DONTNEED)) {
		memset(p, 0, len);
		return;
	}
	memset(p, 0, start - (uintptr_t)p);
	memset((void *)end, 0, (uintptr_t)p + len - end);
}

int boot_load_elf_file(struct guest_mem *m, const struct boot_file *f, struct boot_image *bi,
		       char *err, size_t errlen)
{
	const size_t len = f->len;
	Elf64_Ehdr eh;
	bool entry_ok = false;
	int loads = 0;

	memset(bi, 0, sizeof(*bi));
	if (len < sizeof(eh))
		return err_printf(err, errlen, "ELF kernel truncated (%zu bytes)", len);
	if (boot_read(f, 0, &eh, sizeof(eh)))
		return err_printf(err, errlen, "cannot read the ELF header");
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return err_printf(err, errlen, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return err_printf(err, errlen, "ELF kernel is not 64-bit (class %u)", eh.e_ident[EI_CLASS]);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		return err_printf(err, errlen, "ELF kernel is not x86_64 (machine %u)", eh.e_machine);
	if (eh.e_type != ET_EXEC)
		return err_printf(err, errlen, "ELF kernel is not an executable (type %u)", eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    !boot_in_file(len, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
		return err_printf(err, errlen, "ELF program headers invalid or truncated");

	bi->load_start = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		if (boot_read(f, eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph)))
			return err_printf(err, errlen, "cannot read ELF program header %u", i);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || !boot_in_file(len, ph.p_offset, ph.p_filesz))
			return err_printf(err, errlen, "ELF segment %u truncated or invalid", i);
		/* Keep the low boot structures (zero page, tables, MP table) intact. */
		dst = ph.p_paddr < LAYOUT_HIMEM_START ? NULL : gmem_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return err_printf(err, errlen,
					 "ELF segment %u [0x%llx, +0x%llx) lies outside guest RAM", i,
					 (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
		if (boot_fill(f, ph.p_offset, dst, ph.p_filesz))
			return err_printf(err, errlen, "cannot read ELF segment %u", i);
		boot_zero(dst + ph.p_filesz, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < bi->load_start)
			bi->load_start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > bi->load_end)
			bi->load_end = ph.p_paddr + ph.p_memsz;
		if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
		loads++;
	}
	if (!loads)
		return err_printf(err, errlen, "ELF kernel has no loadable segment");
	if (!entry_ok)
		return err_printf(err, errlen, "ELF entry point 0x%llx is not in a loaded segment",
				 (unsigned long long)eh.e_entry);
	bi->entry = eh.e_entry;
	bi->initrd_max = LAYOUT_INITRD_MAX;
	bi->cmdline_max = BOOT_ELF_CMDLINE_MAX;
	/* A vmlinux carries no setup header: give the kernel the fields it reads. */
	bi->hdr.boot_flag = BOOT_FLAG_MAGIC;
	bi->hdr.header = BOOT_HDR_MAGIC;
	bi->hdr.version = BOOT_MIN_PROTOCOL;
	bi->hdr.kernel_alignment = 0x1000000;
	bi->hdr.initrd_addr_max = (uint32_t)LAYOUT_INITRD_MAX;
	return 0;
}

int boot_load_bzimage_file(struct guest_mem *m, const struct boot_file *f,
			   struct boot_image *bi, char *err, size_t errlen)
{
	const size_t len = f->len;
	struct setup_header h;
	uint8_t jump;
	size_t hdr_len, setup_size, payload;
	uint64_t load, need, cmdline_max;
	uint8_t *dst;

	memset(bi, 0, sizeof(*bi));
	if (len < BOOT_HDR_OFFSET + sizeof(h))
		return err_printf(err, errlen, "bzImage truncated (%zu bytes)", len);
	if (boot_read(f, BOOT_HDR_OFFSET, &h, sizeof(h)) || boot_read(f, 0x201, &jump, 1))
		return err_printf(err, errlen, "cannot read the bzImage setup header");
	if (h.boot_flag != BOOT_FLAG_MAGIC || h.header != BOOT_HDR_MAGIC)
		return err_printf(err, errlen, "not a bzImage (no HdrS setup header)");
	if (h.version < BOOT_MIN_PROTOCOL)
		return err_printf(err, errlen, "bzImage boot protocol %u.%02u is older than 2.06",
				 h.version >> 8, h.version & 0xff);
	if (!(h.xloadflags & XLF_KERNEL_64))
		return err_printf(err, errlen, "bzImage has no 64-bit entry point (XLF_KERNEL_64)");
	if (!(h.loadflags & LOADED_HIGH))
		return err_printf(err, errlen, "bzImage is not a high-loaded (bzImage) kernel");

	/* The header runs from 0x1f1 to 0x202 + the jump offset at 0x201. */
	hdr_len = 0x202 + (size_t)jump - BOOT_HDR_OFFSET;
	if (hdr_len > sizeof(h))
		hdr_len = sizeof(h);
	memset(&bi->hdr, 0, sizeof(bi->hdr));
	memcpy(&bi->hdr, &h, hdr_len);

	setup_size = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_size >= len)
		return err_printf(err, errlen, "bzImage truncated (setup %zu bytes, file %zu)",
				 setup_size, len);
	payload = len - setup_size;
	/* syssize counts the protected-mode code in 16-byte paragraphs. */
	if ((uint64_t)h.syssize * 16 > payload)
		return err_printf(err, errlen, "bzImage truncated (payload %zu bytes, header says %llu)",
				 payload, (unsigned long long)h.syssize * 16);

	if (h.relocatable_kernel) {
		uint64_t align = h.kernel_alignment ? h.kernel_alignment : 0x200000;

		load = h.version >= 0x20a && h.pref_address >= LAYOUT_HIMEM_START ?
			h.pref_address : LAYOUT_KERNEL_LOAD;
		if (align & (align - 1))
			return err_printf(err, errlen, "bzImage kernel_alignment 0x%llx invalid",
					 (unsigned long long)align);
		load = (load + align - 1) & ~(align - 1);
	} else {
		load = h.code32_start;
	}
	/* init_size (2.10+) covers decompression and bss; the loaded image is the minimum. */
	need = payload;
	if (h.version >= 0x20a && h.init_size > need)
		need = h.init_size;
	dst = load < LAYOUT_HIMEM_START ? NULL : gmem_ptr(m, load, need);
	if (!dst)
		return err_printf(err, errlen,
				 "bzImage needs [0x%llx, +0x%llx) of RAM, outside guest RAM",
				 (unsigned long long)load, (unsigned long long)need);
	if (boot_fill(f, setup_size, dst, payload))
		return err_printf(err, errlen, "cannot read the bzImage payload");

	bi->is_bzimage = true;
	bi->entry = load + BOOT_ENTRY64_OFFSET;
	bi->load_start = load;
	bi->load_end = load + need;
	bi->initrd_max = h.initrd_addr_max ? h.initrd_addr_max : 0x37ffffff;
	/* cmdline_size is the image's: 0xffffffff + 1 must not wrap to a zero limit. */
	cmdline_max = h.cmdline_size ? (uint64_t)h.cmdline_size + 1 : 256;
	bi->cmdline_max = (uint32_t)(cmdline_max < LAYOUT_CMDLINE_MAX ? cmdline_max :
				     LAYOUT_CMDLINE_MAX);
	bi->hdr.code32_start = (uint32_t)load;
	return 0;
}

int boot_load_kernel_file(struct guest_mem *m, const struct boot_file *f,
			  struct boot_image *bi, char *err, size_t errlen)
{
	const size_t len = f->len;
	uint8_t magic[4];

	if (!boot_read(f, 0, magic, SELFMAG) && !memcmp(magic, ELFMAG, SELFMAG))
		return boot_load_elf_file(m, f, bi, err, errlen);
	/* "HdrS" at 0x202 marks a bzImage; anything else is not a kernel we know. */
	if (len >= BOOT_HDR_OFFSET + sizeof(struct setup_header) &&
	    !boot_read(f, 0x202, magic, 4) && !memcmp(magic, "HdrS", 4))
		return boot_load_bzimage_file(m, f, bi, err, errlen);
	return err_printf(err, errlen, "not a kernel image (neither ELF vmlinux nor bzImage, %zu bytes)", len);
}

int boot_load_initrd_file(struct guest_mem *m, const struct boot_image *bi,
			  const struct boot_file *f, uint64_t *addr, char *err, size_t errlen)
{
	const size_t len = f->len;
	const struct gmem_region *low = &m->regions[0];
	uint64_t top = low->gpa + low->size; /* low RAM ends at min(RAM, gap start) */
	uint64_t start;
	void *dst;

	if (m->nr_regions < 1)
		return err_printf(err, errlen, "no guest RAM");
	if (bi->initrd_max < UINT64_MAX && top > bi->initrd_max + 1)
		top = bi->initrd_max + 1;
	if (len == 0) {
		*addr = 0;
		return 0;
	}
	if (len > top || ((top - len) & ~0xfffULL) < bi->load_end)
		return err_printf(err, errlen,
				 "initrd (%zu bytes) does not fit in guest RAM above the kernel "
				 "(usable 0x%llx..0x%llx); raise --memory", len,
				 (unsigned long long)bi->load_end, (unsigned long long)top);
	start = (top - len) & ~0xfffULL;
	dst = gmem_ptr(m, start, len);
	if (!dst)
		return err_printf(err, errlen, "initrd placement 0x%llx outside RAM",
				 (unsigned long long)start);
	if (boot_fill(f, 0, dst, len))
		return err_printf(err, errlen, "cannot read the initrd");
	*addr = start;
	return 0;
}

static int boot_e820_add(struct boot_e820_entry *tab, int n, int max, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	if (size == 0 || n >= max)
		return n;
	tab[n].addr = addr;
	tab[n].size = size;
	tab[n].type = type;
	return n + 1;
}

int boot_e820(const struct guest_mem *m, struct boot_e820_entry *tab, int max)
{
	int n = 0;

	for (int i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];
		uint64_t end = r->gpa + r->size;

		if (r->gpa == 0) {
			/* Conventional memory, the EBDA/ROM hole, then high memory. */
			uint64_t conv = end < LAYOUT_EBDA_START ? end : LAYOUT_EBDA_START;

			n = boot_e820_add(tab, n, max, 0, conv, BOOT_E820_RAM);
			if (end > LAYOUT_EBDA_START)
				n = boot_e820_add(tab, n, max, LAYOUT_EBDA_START,
						  (end < LAYOUT_HIMEM_START ? end : LAYOUT_HIMEM_START) -
						  LAYOUT_EBDA_START, BOOT_E820_RESERVED);
			if (end > LAYOUT_HIMEM_START)
				n = boot_e820_add(tab, n, max, LAYOUT_HIMEM_START,
						  end - LAYOUT_HIMEM_START, BOOT_E820_RAM);
		} else {
			n = boot_e820_add(tab, n, max, r->gpa, r->size, BOOT_E820_RAM);
		}
	}
	return n;
}

int boot_write_zero_page(struct guest_mem *m, const struct boot_image *bi, const char *cmdline,
			 uint64_t initrd_addr, uint64_t initrd_size, char *err, size_t errlen)
{
	struct boot_params *bp = gmem_ptr(m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	size_t clen = strlen(cmdline) + 1;

	if (!bp)
		return err_printf(err, errlen, "guest RAM too small for the zero page");
	if (clen > bi->cmdline_max)
		return err_printf(err, errlen, "kernel command line too long (%zu bytes, kernel "
				 "accepts %u)", clen - 1, bi->cmdline_max - 1);
	if (gmem_write(m, LAYOUT_CMDLINE, cmdline, clen))
		return err_printf(err, errlen, "guest RAM too small for the command line");

	memset(bp, 0, sizeof(*bp));
	bp->hdr = bi->hdr;
	bp->hdr.type_of_loader = BOOT_LOADER_UNDEFINED;
	bp->hdr.loadflags |= LOADED_HIGH;
	bp->hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)(clen - 1);
	bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
	bp->hdr.ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
	bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	bp->e820_entries = (uint8_t)boot_e820(m, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	return 0;
}

int boot_write_page_tables(struct guest_mem *m)
{
	uint64_t *pml4 = gmem_ptr(m, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gmem_ptr(m, LAYOUT_PDPT, 4096);
	uint64_t *pd = gmem_ptr(m, LAYOUT_PD, 4096ULL * LAYOUT_PD_COUNT);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	/* present | writable; 2 MiB pages add PS (bit 7). */
	pml4[0] = LAYOUT_PDPT | 0x3;
	for (int i = 0; i < LAYOUT_PD_COUNT; i++)
		pdpt[i] = (LAYOUT_PD + 4096ULL * i) | 0x3;
	for (uint64_t i = 0; i < 512ULL * LAYOUT_PD_COUNT; i++)
		pd[i] = (i << 21) | 0x83;
	return 0;
}

int boot_write_gdt(struct guest_mem *m)
{
	/* null, null, 64-bit code (0x10), flat data (0x18), 64-bit TSS low half (0x20). */
	static const uint64_t gdt[BOOT_GDT_ENTRIES] = {
		0,
		0,
		0x00af9b000000ffffULL,
		0x00cf93000000ffffULL,
		0x00008b0000000067ULL,
	};

	return gmem_write(m, LAYOUT_GDT_ADDR, gdt, sizeof(gdt)) ? -EFAULT : 0;
}

/* Buffer front-ends (unit tests, callers holding the image in memory). */
int boot_load_kernel(struct guest_mem *m, const uint8_t *img, size_t len,
		     struct boot_image *bi, char *err, size_t errlen)
{
	struct boot_file f = { .fd = -1, .buf = img, .len = len };

	return boot_load_kernel_file(m, &f, bi, err, errlen);
}

int boot_load_elf(struct guest_mem *m, const uint8_t *img, size_t len, struct boot_image *bi,
		  char *err, size_t errlen)
{
	struct boot_file f = { .fd = -1, .buf = img, .len = len };

	return boot_load_elf_file(m, &f, bi, err, errlen);
}

int boot_load_bzimage(struct guest_mem *m, const uint8_t *img, size_t len,
		      struct boot_image *bi, char *err, size_t errlen)
{
	struct boot_file f = { .fd = -1, .buf = img, .len = len };

	return boot_load_bzimage_file(m, &f, bi, err, errlen);
}

int boot_load_initrd(struct guest_mem *m, const struct boot_image *bi, const uint8_t *data,
		     size_t len, uint64_t *addr, char *err, size_t errlen)
{
	struct boot_file f = { .fd = -1, .buf = data, .len = len };

	return boot_load_initrd_file(m, bi, &f, addr, err, errlen);
}
