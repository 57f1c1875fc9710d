/* Kernel image inspection (arch/x86_64/kernel_info.c) on synthetic images, plus the real
 * guest kernel when it has been built (skipped otherwise). */
#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <asm/bootparam.h>

#include "arch/x86_64/kernel_info.h"

TestSuite(kernel_info);

static char err[256];

#define NOTE_OFF	0x100
#define LOAD_OFF	0x400

/* An in-memory file holding buf (memfd: a regular file as fstat sees it). */
static int mem_file(const void *buf, size_t len)
{
	int fd = memfd_create("kinfo-test", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	if (len)
		cr_assert_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	return fd;
}

static int read_buf(const void *buf, size_t len, struct kernel_info *ki)
{
	int fd = mem_file(buf, len);
	int r;

	err[0] = '\0';
	r = kinfo_read(fd, ki, err, sizeof(err));
	close(fd);
	return r;
}

/* Appends one ELF note (4-byte padding) at p; returns its size. */
static size_t note_put(uint8_t *p, const char *name, uint32_t type, uint32_t desc_len)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	uint32_t hdr[3] = { namesz, desc_len, type };
	size_t off = sizeof(hdr);

	memcpy(p, hdr, sizeof(hdr));
	memcpy(p + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memset(p + off, 0x11, desc_len);
	off += (desc_len + 3) & ~3u;
	return off;
}

/*
 * An ELF64 x86-64 executable: the note bytes at NOTE_OFF (one PT_NOTE when nlen > 0),
 * the payload at LOAD_OFF as the one PT_LOAD. Returns the file size.
 */
static size_t elf_build(uint8_t *buf, size_t cap, const void *notes, size_t nlen,
			const void *payload, size_t plen)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[2] = { { 0 } };

	cr_assert(nlen <= LOAD_OFF - NOTE_OFF && LOAD_OFF + plen <= cap);
	memset(buf, 0, LOAD_OFF + plen);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0x1000000;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = nlen ? 2 : 1;
	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = LOAD_OFF;
	ph[0].p_paddr = 0x1000000;
	ph[0].p_filesz = plen;
	ph[0].p_memsz = plen;
	ph[1].p_type = PT_NOTE;
	ph[1].p_offset = NOTE_OFF;
	ph[1].p_filesz = nlen;
	ph[1].p_align = 4;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), ph, sizeof(ph));
	if (nlen)
		memcpy(buf + NOTE_OFF, notes, nlen);
	memcpy(buf + LOAD_OFF, payload, plen);
	return LOAD_OFF + plen;
}

static Elf64_Ehdr *ehdr(uint8_t *buf)
{
	return (Elf64_Ehdr *)buf;
}

static Elf64_Phdr *phdr(uint8_t *buf, int i)
{
	return (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr)) + i;
}

/* A payload as a kernel's .rodata has it; sizeof keeps the embedded NULs. */
static const char all_strings[] =
	"\0junk\0Linux version %s\0virtiofs\0virtio-portsdev\0virtio_mmio.device\0"
	"Linux version 6.1.0-test (x@y) (gcc 12) #1 SMP\0tail";

static uint8_t img[4 * 1024 * 1024];

static size_t pvh_notes(uint8_t *n)
{
	size_t len = note_put(n, "GNU", NT_GNU_BUILD_ID, 20);

	len += note_put(n + len, "Xen", 6, 8);		/* another Xen note first */
	len += note_put(n + len, "Xen", 18, 8);
	return len;
}

Test(kernel_info, elf_pvh_with_drivers)
{
	struct kernel_info ki;
	uint8_t notes[256];
	size_t nlen = pvh_notes(notes);
	size_t len = elf_build(img, sizeof(img), notes, nlen, all_strings, sizeof(all_strings));

	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(ki.elf && ki.pvh && !ki.bzimage);
	cr_assert_eq(ki.boot_proto, 0);
	cr_assert_str_eq(ki.version, "6.1.0-test");
	cr_assert_eq(ki.has_virtiofs, 1);
	cr_assert_eq(ki.has_virtio_console, 1);
	cr_assert_eq(ki.has_virtio_mmio_cmdline, 1);
	cr_assert_null(kinfo_missing_for_run(&ki));
}

Test(kernel_info, elf_alternative_markers)
{
	static const char s[] = "x\0virtio_console\0virtio-mmio-cmdline\0xvirtiofs\0";
	struct kernel_info ki;
	size_t len = elf_build(img, sizeof(img), NULL, 0, s, sizeof(s));

	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	/* "xvirtiofs": a tail-merged string still ends in the marker */
	cr_assert_eq(ki.has_virtiofs, 1);
	cr_assert_eq(ki.has_virtio_console, 1);
	cr_assert_eq(ki.has_virtio_mmio_cmdline, 1);
	cr_assert_str_eq(ki.version, "");
}

Test(kernel_info, elf_without_pvh_note_is_bootable)
{
	struct kernel_info ki;
	uint8_t notes[64];
	size_t nlen = note_put(notes, "Xeno", 18, 4);	/* wrong owner */
	size_t len = elf_build(img, sizeof(img), notes, nlen, all_strings, sizeof(all_strings));

	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(ki.elf && !ki.pvh);
	len = elf_build(img, sizeof(img), NULL, 0, all_strings, sizeof(all_strings));
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(ki.elf && !ki.pvh);
	cr_assert_str_eq(ki.version, "6.1.0-test");
}

Test(kernel_info, elf_broken_notes)
{
	struct kernel_info ki;
	uint8_t notes[64] = { 0 };
	uint32_t huge[3] = { 0xfffffff0u, 0xfffffff0u, 18 };
	size_t len;

	/* name and desc sizes far past the segment: the walk stops, nothing is read */
	memcpy(notes, huge, sizeof(huge));
	len = elf_build(img, sizeof(img), notes, sizeof(notes), all_strings, sizeof(all_strings));
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(!ki.pvh);
	/* a PVH note whose desc is cut off by the segment end */
	len = note_put(notes, "Xen", 18, 8);
	len = elf_build(img, sizeof(img), notes, len - 4, all_strings, sizeof(all_strings));
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(!ki.pvh);
	/* a note segment pointing past the end of the file */
	len = note_put(notes, "Xen", 18, 8);
	len = elf_build(img, sizeof(img), notes, len, all_strings, sizeof(all_strings));
	phdr(img, 1)->p_offset = 1ULL << 40;
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(!ki.pvh);
}

Test(kernel_info, elf_missing_drivers)
{
	static const char s[] = "Linux version 6.1.0-test (x@y) #1\0virtiofsX\0virtio_mmio.devices\0";
	struct kernel_info ki;
	size_t len = elf_build(img, sizeof(img), NULL, 0, s, sizeof(s));
	const char *miss;

	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	/* a marker followed by more characters is another string */
	cr_assert_eq(ki.has_virtiofs, 0);
	cr_assert_eq(ki.has_virtio_console, 0);
	cr_assert_eq(ki.has_virtio_mmio_cmdline, 0);
	miss = kinfo_missing_for_run(&ki);
	cr_assert_not_null(miss);
	cr_assert(strstr(miss, "kernel 6.1.0-test lacks"), "%s", miss);
	cr_assert(strstr(miss, "CONFIG_VIRTIO_FS"), "%s", miss);
	cr_assert(strstr(miss, "CONFIG_VIRTIO_CONSOLE"), "%s", miss);
	cr_assert(strstr(miss, "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES"), "%s", miss);
	cr_assert(strstr(miss, "nook kconfig"), "%s", miss);
	cr_assert_null(strchr(miss, '\n'));
}

Test(kernel_info, elf_only_console_missing)
{
	static const char s[] = "virtiofs\0virtio_mmio.device\0";
	struct kernel_info ki;
	size_t len = elf_build(img, sizeof(img), NULL, 0, s, sizeof(s));
	const char *miss;

	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	miss = kinfo_missing_for_run(&ki);
	cr_assert_not_null(miss);
	cr_assert(!strncmp(miss, "kernel lacks CONFIG_VIRTIO_CONSOLE=y (", 38), "%s", miss);
	cr_assert_null(strstr(miss, "CONFIG_VIRTIO_FS"), "%s", miss);
}

Test(kernel_info, elf_strings_outside_segments_ignored)
{
	static const char s[] = "nothing here";
	struct kernel_info ki;
	size_t len = elf_build(img, sizeof(img), NULL, 0, s, sizeof(s));

	/* after the loaded span, as debug sections are */
	memcpy(img + len, all_strings, sizeof(all_strings));
	len += sizeof(all_strings);
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_eq(ki.has_virtiofs, 0);
	cr_assert_str_eq(ki.version, "");
}

Test(kernel_info, elf_banners)
{
	char s[512];
	struct kernel_info ki;
	size_t len;

	/* a release of KINFO_VERSION_MAX characters does not fit: skipped */
	memset(s, 0, sizeof(s));
	strcpy(s, "Linux version ");
	memset(s + 14, '7', KINFO_VERSION_MAX);
	strcpy(s + 14 + KINFO_VERSION_MAX, " (x@y)");
	len = elf_build(img, sizeof(img), NULL, 0, s, sizeof(s));
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	/* the longest one that fits */
	s[14 + KINFO_VERSION_MAX - 1] = ' ';
	len = elf_build(img, sizeof(img), NULL, 0, s, sizeof(s));
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_eq(strlen(ki.version), KINFO_VERSION_MAX - 1);
	/* a banner running into the end of the file */
	len = elf_build(img, sizeof(img), NULL, 0, "Linux version 6.1.0", 19);
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	/* control characters are no release */
	len = elf_build(img, sizeof(img), NULL, 0, "Linux version 6.1\x01x (x)", 22);
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
}

/* A loaded span over 1 GiB (a sparse file) is not scanned: drivers stay unknown. */
Test(kernel_info, elf_huge_span_not_scanned)
{
	struct kernel_info ki;
	uint64_t span = (1ULL << 30) + 1;
	size_t len = elf_build(img, sizeof(img), NULL, 0, all_strings, sizeof(all_strings));
	int fd;

	phdr(img, 0)->p_filesz = span;
	phdr(img, 0)->p_memsz = span;
	fd = mem_file(img, len);
	cr_assert_eq(ftruncate(fd, (off_t)(LOAD_OFF + span)), 0);
	cr_assert_eq(kinfo_read(fd, &ki, err, sizeof(err)), 0, "%s", err);
	close(fd);
	cr_assert(ki.elf);
	cr_assert_eq(ki.has_virtiofs, -1);
	cr_assert_eq(ki.has_virtio_console, -1);
	cr_assert_eq(ki.has_virtio_mmio_cmdline, -1);
	cr_assert_null(kinfo_missing_for_run(&ki));
}

/* Markers and the banner straddling the scanner's 1 MiB chunk boundaries. */
Test(kernel_info, elf_chunk_boundaries)
{
	static const char banner[] = "Linux version 6.1.0-big (x@y) #1";
	size_t plen = 3 * 1024 * 1024, len;
	uint8_t *p;
	struct kernel_info ki;

	p = calloc(1, plen);
	cr_assert_not_null(p);
	/* payload offset o is file offset LOAD_OFF + o; the scan starts at LOAD_OFF */
	memcpy(p + (1u << 20) - 5, "virtiofs", 9);
	memcpy(p + (2u << 20) - 20, banner, sizeof(banner));
	memcpy(p + (1u << 20) + 16, "virtio_mmio.device", 19);	/* inside the overlap */
	memcpy(p + plen - 16, "virtio-portsdev", 16);
	len = elf_build(img, sizeof(img), NULL, 0, p, plen);
	free(p);
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_eq(ki.has_virtiofs, 1);
	cr_assert_eq(ki.has_virtio_console, 1);
	cr_assert_eq(ki.has_virtio_mmio_cmdline, 1);
	cr_assert_str_eq(ki.version, "6.1.0-big");
}

Test(kernel_info, elf_invalid)
{
	struct kernel_info ki;
	size_t len = elf_build(img, sizeof(img), NULL, 0, all_strings, sizeof(all_strings));

	cr_assert_eq(read_buf(img, 20, &ki), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);

	ehdr(img)->e_ident[EI_CLASS] = ELFCLASS32;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "not an x86-64 kernel"), "%s", err);
	cr_assert(!ki.elf);
	ehdr(img)->e_ident[EI_CLASS] = ELFCLASS64;
	ehdr(img)->e_machine = EM_AARCH64;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "not an x86-64 kernel"), "%s", err);
	ehdr(img)->e_machine = EM_X86_64;

	ehdr(img)->e_type = ET_REL;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "not an executable"), "%s", err);
	ehdr(img)->e_type = ET_EXEC;

	ehdr(img)->e_phnum = 0xffff;	/* table far past the end of the file */
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "program headers"), "%s", err);
	ehdr(img)->e_phnum = 1;
	ehdr(img)->e_phoff = UINT64_MAX - 8;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "program headers"), "%s", err);
	ehdr(img)->e_phoff = sizeof(Elf64_Ehdr);
	ehdr(img)->e_phentsize = 32;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	ehdr(img)->e_phentsize = sizeof(Elf64_Phdr);

	/* a half-copied vmlinux: the segment runs past the end */
	cr_assert_eq(read_buf(img, len - 1, &ki), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
	phdr(img, 0)->p_offset = UINT64_MAX - 2;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
	phdr(img, 0)->p_offset = LOAD_OFF;

	phdr(img, 0)->p_type = PT_DYNAMIC;
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "no loadable segment"), "%s", err);
	phdr(img, 0)->p_type = PT_LOAD;
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
}

/* A bzImage of setup_sects + 1 sectors of setup code and a 4 KiB payload. */
static size_t bz_build(uint8_t *buf, uint16_t proto, uint16_t xlf, uint8_t setup_sects,
		       uint16_t kver, const char *kver_str)
{
	struct setup_header h = { 0 };
	size_t setup = ((size_t)(setup_sects ? setup_sects : 4) + 1) * 512;
	size_t payload = 4096;

	cr_assert(setup + payload <= sizeof(img));
	memset(buf, 0xcc, setup + payload);
	h.setup_sects = setup_sects;
	h.syssize = (uint32_t)(payload / 16);
	h.boot_flag = 0xaa55;
	h.jump = 0x66eb;
	h.header = 0x53726448;
	h.version = proto;
	h.kernel_version = kver;
	h.loadflags = LOADED_HIGH;
	h.xloadflags = xlf;
	h.relocatable_kernel = 1;
	h.kernel_alignment = 0x200000;
	memcpy(buf + 0x1f1, &h, sizeof(h));
	if (kver_str)
		memcpy(buf + 0x200 + kver, kver_str, strlen(kver_str) + 1);
	return setup + payload;
}

Test(kernel_info, bzimage_valid)
{
	struct kernel_info ki;
	size_t len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800,
			      "6.1.0-test (x@y) #1 SMP Tue Jan 1 00:00:00 UTC 2030");

	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert(ki.bzimage && !ki.elf && !ki.pvh && ki.xloadflags_64);
	cr_assert_eq(ki.boot_proto, 0x20f);
	cr_assert_str_eq(ki.version, "6.1.0-test");
	cr_assert_eq(ki.has_virtiofs, -1);
	cr_assert_eq(ki.has_virtio_console, -1);
	cr_assert_eq(ki.has_virtio_mmio_cmdline, -1);
	cr_assert_null(kinfo_missing_for_run(&ki));
	/* a release alone, NUL-terminated */
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800, "6.2.0");
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "6.2.0");
}

Test(kernel_info, bzimage_bad_version_pointers)
{
	struct kernel_info ki;
	size_t len;

	/* no pointer */
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0, NULL);
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	/* past the setup code (8 sectors = 0x1000 bytes), into the payload */
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0xe00, "6.1.0 (x)");
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	/* far past the end of the file */
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0, NULL);
	img[0x20e] = 0xff;
	img[0x20f] = 0xff;
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	/* unterminated: runs into the end of the setup code without a NUL */
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0xdf8, NULL);
	memcpy(img + 0xff8, "6.1.0-xx", 8);
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	/* terminated, but nothing that looks like a release */
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800, "   ");
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800, "linux");
	cr_assert_eq(read_buf(img, len, &ki), 0, "%s", err);
	cr_assert_str_eq(ki.version, "");
}

Test(kernel_info, bzimage_unbootable)
{
	struct kernel_info ki;
	size_t len;

	len = bz_build(img, 0x20f, 0, 7, 0x800, "6.1.0 (x)");
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "XLF_KERNEL_64"), "%s", err);
	cr_assert(ki.bzimage && !ki.xloadflags_64);
	cr_assert_eq(ki.boot_proto, 0x20f);
	cr_assert_str_eq(ki.version, "6.1.0");	/* still filled in */

	/* 2.11 has no xloadflags: a set bit there means nothing */
	len = bz_build(img, 0x20b, XLF_KERNEL_64, 7, 0x800, "6.1.0 (x)");
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(!ki.xloadflags_64);

	len = bz_build(img, 0x204, XLF_KERNEL_64, 7, 0x800, "2.4.0 (x)");
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "older than 2.06"), "%s", err);

	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800, "6.1.0 (x)");
	img[0x211] = 0;	/* loadflags */
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "high-loaded"), "%s", err);

	len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800, "6.1.0 (x)");
	img[0x1fe] = 0;	/* boot flag */
	cr_assert_eq(read_buf(img, len, &ki), -1);
	cr_assert(strstr(err, "boot flag"), "%s", err);
}

Test(kernel_info, bzimage_truncated)
{
	struct kernel_info ki;
	size_t len = bz_build(img, 0x20f, XLF_KERNEL_64, 7, 0x800, "6.1.0 (x)");

	/* payload shorter than syssize says */
	cr_assert_eq(read_buf(img, len - 16, &ki), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
	cr_assert_str_eq(ki.version, "6.1.0");
	/* setup code only */
	cr_assert_eq(read_buf(img, 0x1000, &ki), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
	/* HdrS visible, the rest of the header not */
	cr_assert_eq(read_buf(img, 0x210, &ki), -1);
	cr_assert(strstr(err, "bzImage truncated"), "%s", err);
	/* the magic itself cut */
	cr_assert_eq(read_buf(img, 0x204, &ki), -1);
	cr_assert(strstr(err, "not an ELF vmlinux or a bzImage"), "%s", err);
}

Test(kernel_info, not_a_kernel)
{
	struct kernel_info ki;
	int fd, pfd[2];

	cr_assert_eq(read_buf(img, 0, &ki), -1);
	cr_assert(strstr(err, "empty"), "%s", err);
	cr_assert_eq(ki.has_virtiofs, -1);

	srand(7);
	for (size_t i = 0; i < 8192; i++)
		img[i] = (uint8_t)rand();
	cr_assert_eq(read_buf(img, 8192, &ki), -1);
	cr_assert(strstr(err, "not an ELF vmlinux or a bzImage"), "%s", err);
	cr_assert(!ki.elf && !ki.bzimage);
	cr_assert_eq(read_buf("\x7f" "EL", 3, &ki), -1);
	cr_assert(strstr(err, "not an ELF vmlinux or a bzImage"), "%s", err);
	cr_assert_eq(read_buf("\x7f" "ELF", 4, &ki), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);

	fd = open(".", O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(kinfo_read(fd, &ki, err, sizeof(err)), -1);
	cr_assert(strstr(err, "regular file"), "%s", err);
	close(fd);
	cr_assert_eq(pipe(pfd), 0);
	cr_assert_eq(kinfo_read(pfd[0], &ki, err, sizeof(err)), -1);
	close(pfd[0]);
	close(pfd[1]);
	cr_assert_eq(kinfo_read(-1, &ki, NULL, 0), -1);
}

Test(kernel_info, missing_for_run_unknown)
{
	struct kernel_info ki;

	memset(&ki, 0, sizeof(ki));
	ki.has_virtiofs = ki.has_virtio_console = ki.has_virtio_mmio_cmdline = -1;
	cr_assert_null(kinfo_missing_for_run(&ki));
	ki.has_virtio_mmio_cmdline = 0;
	memset(ki.version, '9', sizeof(ki.version) - 1);	/* the longest version */
	cr_assert_not_null(kinfo_missing_for_run(&ki));
	cr_assert(strstr(kinfo_missing_for_run(&ki), "nook kconfig"));
}

/* The guest kernel from `make guest-kernel`, when present: NOOK_GUEST_DIR or build/guest. */
static const char *guest_path(char *buf, size_t len, const char *name)
{
	const char *dir = getenv("NOOK_GUEST_DIR");

	snprintf(buf, len, "%s/%s", dir ? dir : "build/guest", name);
	return buf;
}

/* 1 if the guest kernel's .config has CONFIG_<opt>=y, 0 if not, -1 without a config. */
static int guest_config_has(const char *opt)
{
	char path[4096], line[512], want[128];
	FILE *f = fopen(guest_path(path, sizeof(path), "config"), "r");
	int found = 0;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "CONFIG_%s=y\n", opt);
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, want))
			found = 1;
	fclose(f);
	return found;
}

static int open_guest(const char *name)
{
	char path[4096];

	return open(guest_path(path, sizeof(path), name), O_RDONLY | O_CLOEXEC);
}

Test(kernel_info, real_guest_vmlinux)
{
	struct kernel_info ki;
	int fd = open_guest("vmlinux"), want;

	if (fd < 0)
		cr_skip_test("no guest vmlinux (make guest-kernel)");
	cr_assert_eq(kinfo_read(fd, &ki, err, sizeof(err)), 0, "%s", err);
	close(fd);
	cr_log_info("vmlinux: pvh %d version '%s' virtiofs %d console %d mmio_cmdline %d",
		    ki.pvh, ki.version, ki.has_virtiofs, ki.has_virtio_console,
		    ki.has_virtio_mmio_cmdline);
	cr_assert(ki.elf && !ki.bzimage);
	cr_assert(!strncmp(ki.version, "6.1.", 4), "version '%s'", ki.version);
	/* what the strings say agrees with the config the kernel was built from */
	if ((want = guest_config_has("PVH")) >= 0)
		cr_assert_eq(ki.pvh, want == 1);
	if ((want = guest_config_has("VIRTIO_FS")) >= 0)
		cr_assert_eq(ki.has_virtiofs, want);
	if ((want = guest_config_has("VIRTIO_CONSOLE")) >= 0)
		cr_assert_eq(ki.has_virtio_console, want);
	if ((want = guest_config_has("VIRTIO_MMIO_CMDLINE_DEVICES")) >= 0)
		cr_assert_eq(ki.has_virtio_mmio_cmdline, want);
}

Test(kernel_info, real_guest_bzimage)
{
	struct kernel_info ki, elf;
	int fd = open_guest("bzImage");

	if (fd < 0)
		cr_skip_test("no guest bzImage (make guest-kernel)");
	cr_assert_eq(kinfo_read(fd, &ki, err, sizeof(err)), 0, "%s", err);
	close(fd);
	cr_log_info("bzImage: protocol %#x xloadflags_64 %d version '%s'", ki.boot_proto,
		    ki.xloadflags_64, ki.version);
	cr_assert(ki.bzimage && !ki.elf && ki.xloadflags_64);
	cr_assert_geq(ki.boot_proto, 0x206);
	cr_assert(!strncmp(ki.version, "6.1.", 4), "version '%s'", ki.version);
	cr_assert_eq(ki.has_virtiofs, -1);
	fd = open_guest("vmlinux");
	if (fd >= 0) {
		/* both come from one build */
		if (!kinfo_read(fd, &elf, err, sizeof(err)))
			cr_assert_str_eq(ki.version, elf.version);
		close(fd);
	}
}
