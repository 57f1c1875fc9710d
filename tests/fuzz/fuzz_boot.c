/*
 * libFuzzer target for the kernel loaders (arch/x86_64/boot.c): ELF vmlinux and bzImage
 * setup header parsing, initrd placement and the zero page, through the buffer entry
 * points (the file entry points share every check; only the byte source differs).
 *
 * Input: an 8-byte header, then the kernel image. Header (little-endian):
 *   u8 ram_mib    guest RAM is 1 + ram_mib % FUZZ_RAM_MIB MiB (so too-small RAM is hit)
 *   u8 flags      bit0: split RAM into low RAM and a region at 4 GiB, as vm.c does
 *                 above the MMIO gap (split point from bits 1-7, in MiB)
 *   u32 initrd    initrd length (masked to FUZZ_INITRD_MAX; contents are zero)
 *   u16 cmdline   command line length (bytes before the NUL)
 * Guest RAM is one fixed reservation mapped once; each input only changes the region
 * table, so an input costs no mmap. After a successful load the target checks what the
 * VMM relies on: the kernel, entry point, initrd and command line lie in guest RAM,
 * the initrd sits above the kernel and below initrd_max, and cmdline_max is sane.
 * tests/fuzz/gen_boot_corpus.py writes the seed corpus in this format.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"

#define FUZZ_RAM_MIB	48
#define FUZZ_MIB	(1ULL << 20)
#define FUZZ_HDR	8
#define FUZZ_INITRD_MAX	(4ULL << 20)
#define FUZZ_CMDLINE_MAX 0x11000	/* a bit above LAYOUT_CMDLINE_MAX */
#define FUZZ_HIGH_GPA	LAYOUT_MMIO_GAP_END

static struct guest_mem mem;
static uint8_t *ram;
static uint8_t initrd[FUZZ_INITRD_MAX];	/* zero, never written: shared zero pages */
static char cmdline[FUZZ_CMDLINE_MAX + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gmem_region layout = { .gpa = 0, .size = FUZZ_RAM_MIB * FUZZ_MIB };

	(void)argc;
	(void)argv;
	if (gmem_map(&mem, &layout, 1) < 0)
		abort();
	ram = mem.regions[0].hva;
	memset(cmdline, 'c', FUZZ_CMDLINE_MAX);
	return 0;
}

/* RAM layout for this input over the one reservation: low RAM, and optionally the rest
 * at 4 GiB (the guest-physical hole in between is not RAM). */
static void fuzz_layout(uint8_t ram_mib, uint8_t flags)
{
	uint64_t total = (1 + ram_mib % FUZZ_RAM_MIB) * FUZZ_MIB;
	uint64_t low = total;

	if (flags & 1) {
		low = (uint64_t)(flags >> 1) * FUZZ_MIB;
		if (low == 0 || low >= total)
			low = total / 2;
	}
	memset(mem.regions, 0, sizeof(mem.regions));
	mem.regions[0] = (struct gmem_region){ .gpa = 0, .size = low, .hva = ram };
	mem.nr_regions = 1;
	if (low < total) {
		mem.regions[1] = (struct gmem_region){ .gpa = FUZZ_HIGH_GPA, .size = total - low,
						       .hva = ram + low };
		mem.nr_regions = 2;
	}
	mem.ram_size = total;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One line, NUL-terminated, non-empty: what the VMM prints. */
static void check_err(const char *err, size_t len)
{
	size_t n = strnlen(err, len);

	if (n == 0 || n == len || memchr(err, '\n', n))
		abort();
}

static void check_image(const struct boot_image *bi)
{
	if (bi->load_start >= bi->load_end || bi->load_start < LAYOUT_HIMEM_START)
		abort();
	/* The loader put bytes at every address of the kernel: each segment was checked
	 * against RAM; the span as a whole may cover the hole between regions. */
	if (!gmem_ptr(&mem, bi->load_start, 1) || !gmem_ptr(&mem, bi->load_end - 1, 1))
		abort();
	if (!gmem_ptr(&mem, bi->entry, 1))
		abort();
	if (bi->cmdline_max == 0 || bi->cmdline_max > LAYOUT_CMDLINE_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_image bi;
	char err[256];
	uint64_t initrd_len, initrd_addr = 0;
	size_t clen;

	if (size < FUZZ_HDR)
		return 0;
	fuzz_layout(data[0], data[1]);
	initrd_len = le32(data + 2) & (FUZZ_INITRD_MAX - 1);
	clen = (size_t)(data[6] | data[7] << 8) % FUZZ_CMDLINE_MAX;
	data += FUZZ_HDR;
	size -= FUZZ_HDR;

	err[0] = '\0';
	if (boot_load_kernel(&mem, data, size, &bi, err, sizeof(err))) {
		check_err(err, sizeof(err));
		return 0;
	}
	check_image(&bi);

	if (boot_load_initrd(&mem, &bi, initrd, initrd_len, &initrd_addr, err, sizeof(err))) {
		check_err(err, sizeof(err));
		return 0;
	}
	if (initrd_len) {
		if (initrd_addr < bi.load_end || (initrd_addr & 0xfff) ||
		    initrd_addr + initrd_len - 1 > bi.initrd_max ||
		    !gmem_ptr(&mem, initrd_addr, initrd_len))
			abort();
	}

	cmdline[clen] = '\0';
	if (boot_write_zero_page(&mem, &bi, cmdline, initrd_addr, initrd_len, err, sizeof(err))) {
		check_err(err, sizeof(err));
	} else {
		const struct boot_params *bp = gmem_ptr(&mem, LAYOUT_ZERO_PAGE, sizeof(*bp));

		if (!bp || clen + 1 > bi.cmdline_max || bp->hdr.cmdline_size != clen ||
		    bp->e820_entries > E820_MAX_ENTRIES_ZEROPAGE)
			abort();
	}
	cmdline[clen] = 'c';
	return 0;
}
