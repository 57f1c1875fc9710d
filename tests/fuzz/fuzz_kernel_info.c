/*
 * libFuzzer target for the kernel image inspection (arch/x86_64/kernel_info.c).
 *
 * Input: the whole kernel file. It is written to a memfd (kinfo_read wants a regular
 * file) and inspected; the target checks that the result is self-consistent: a NUL-
 * terminated printable version, one format at most, driver answers only for an ELF, and
 * a one-line error or a one-line "missing" report. Seeds in tests/fuzz/corpus/kernel_info/:
 * small ELF images (PVH note, driver markers, banner) and bzImage headers.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/kernel_info.h"

static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz-kinfo", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	return 0;
}

static void check_line(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap || memchr(s, '\n', n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kernel_info ki;
	char err[256];
	const char *miss;
	int r;

	/* the file is exactly the input, whatever the previous one was */
	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	err[0] = '\0';
	r = kinfo_read(memfd, &ki, err, sizeof(err));
	if (r != 0 && r != -1)
		abort();
	if (r == -1 && (!err[0] || strnlen(err, sizeof(err)) == sizeof(err)))
		abort();
	check_line(err, sizeof(err));
	check_line(ki.version, sizeof(ki.version));
	for (const char *p = ki.version; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			abort();
	if (ki.elf && ki.bzimage)
		abort();
	if (r == 0 && !ki.elf && !ki.bzimage)
		abort();
	if (!ki.bzimage && (ki.boot_proto || ki.xloadflags_64))
		abort();
	if (!ki.elf && (ki.pvh || ki.has_virtiofs != -1 || ki.has_virtio_console != -1 ||
			ki.has_virtio_mmio_cmdline != -1))
		abort();
	if (ki.has_virtiofs < -1 || ki.has_virtiofs > 1 || ki.has_virtio_console < -1 ||
	    ki.has_virtio_console > 1 || ki.has_virtio_mmio_cmdline < -1 ||
	    ki.has_virtio_mmio_cmdline > 1)
		abort();
	miss = kinfo_missing_for_run(&ki);
	if (miss)
		check_line(miss, 512);
	return 0;
}
