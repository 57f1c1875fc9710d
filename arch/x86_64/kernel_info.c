#include "arch/x86_64/kernel_info.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "vmm/err.h"

#define KINFO_HDR_OFFSET	0x1f1	/* struct setup_header in a bzImage */
#define KINFO_HDR_MAGIC_OFFSET	0x202	/* "HdrS" */
#define KINFO_KVER_BASE		0x200	/* kernel_version is relative to this */
#define KINFO_BOOT_FLAG		0xaa55
#define KINFO_PROTO_XLOADFLAGS	0x20c	/* xloadflags exists from protocol 2.12 */
#define KINFO_XEN_PHYS32_ENTRY	18	/* XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point */

/* The string scan reads the file in chunks, keeping the tail of the previous chunk so a
 * marker or banner that straddles two chunks is still seen whole. */
#define KINFO_CHUNK		(1u << 20)
#define KINFO_OVERLAP		256
/* A vmlinux's note segment is ~100 bytes and there is one; larger or more are not worth
 * reading (a crafted file could hold 65535 of them). */
#define KINFO_NOTE_MAX		(64u * 1024)
#define KINFO_NOTE_SEGS_MAX	16
/* Loaded span scanned at most: allyesconfig is a few hundred MiB. Past it the drivers
 * stay unknown rather than the scan taking seconds. */
#define KINFO_SCAN_MAX		(1ULL << 30)
/* The bzImage version string is ~60 bytes ("6.1.192-nook (root@vm) #1 SMP ..."). */
#define KINFO_KVER_READ		256

static const char kinfo_banner_tag[] = "Linux version ";
#define KINFO_BANNER_TAG_LEN	(sizeof(kinfo_banner_tag) - 1)

enum kinfo_feature {
	KINFO_F_VIRTIOFS,
	KINFO_F_CONSOLE,
	KINFO_F_MMIO_CMDLINE,
	KINFO_F_NR,
};

/*
 * Strings only the driver in question contains (checked against the 6.1 sources). The
 * terminating NUL is part of each marker: a longer identifier with the same prefix does
 * not count. No leading NUL is required, as the linker may tail-merge a string into a
 * longer one that ends the same way.
 */
struct kinfo_marker {
	const char *s;
	size_t len;			/* including the NUL */
	enum kinfo_feature feature;
};

#define KINFO_MARKER(str, f)	{ str, sizeof(str), f }

static const struct kinfo_marker kinfo_markers[] = {
	/* fs/fuse/virtio_fs.c: the file system type name and KBUILD_MODNAME */
	KINFO_MARKER("virtiofs", KINFO_F_VIRTIOFS),
	/* drivers/char/virtio_console.c: register_chrdev() name in the probe path, and
	 * KBUILD_MODNAME as the virtio driver's name */
	KINFO_MARKER("virtio-portsdev", KINFO_F_CONSOLE),
	KINFO_MARKER("virtio_console", KINFO_F_CONSOLE),
	/* drivers/virtio/virtio_mmio.c under CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: the
	 * built-in parameter's name and the parent device of command-line devices */
	KINFO_MARKER("virtio_mmio.device", KINFO_F_MMIO_CMDLINE),
	KINFO_MARKER("virtio-mmio-cmdline", KINFO_F_MMIO_CMDLINE),
};

#define KINFO_NR_MARKERS	(sizeof(kinfo_markers) / sizeof(kinfo_markers[0]))

_Static_assert(KINFO_OVERLAP >= KINFO_BANNER_TAG_LEN + KINFO_VERSION_MAX,
	       "a banner near a chunk end must be seen whole in the next chunk");
_Static_assert(KINFO_OVERLAP >= sizeof("virtio-mmio-cmdline"),
	       "the overlap must hold the longest marker");

struct kinfo_scan {
	bool found[KINFO_F_NR];
	char version[KINFO_VERSION_MAX];
};

static bool kinfo_in_file(uint64_t fsize, uint64_t off, uint64_t n)
{
	return off <= fsize && n <= fsize - off;
}

/* Reads [off, off+n) of a file of fsize bytes; -1 if out of range, on an I/O error or
 * if the file got shorter meanwhile (the loaders' own bounded reader). */
static int kinfo_pread(int fd, uint64_t fsize, uint64_t off, void *dst, size_t n)
{
	const struct boot_file f = { .fd = fd, .len = fsize };

	return boot_read(&f, off, dst, n);
}

static uint32_t kinfo_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A release string ("6.1.158-nook") is printable ASCII without blanks. */
static bool kinfo_release_char(uint8_t c)
{
	return c > ' ' && c < 0x7f;
}

/*
 * Copies the release at p (at most avail bytes readable) into out if it is one: starts
 * with a digit, 1..KINFO_VERSION_MAX-1 release characters, then a blank (or a NUL if
 * nul_ends). Returns false (out untouched) otherwise, including when avail ends first.
 */
static bool kinfo_take_release(const uint8_t *p, size_t avail, bool nul_ends, char *out)
{
	size_t i = 0;

	while (i < avail && i < KINFO_VERSION_MAX && kinfo_release_char(p[i]))
		i++;
	if (i == 0 || i >= KINFO_VERSION_MAX || i >= avail || p[0] < '0' || p[0] > '9')
		return false;
	if (p[i] != ' ' && !(nul_ends && p[i] == '\0'))
		return false;
	memcpy(out, p, i);
	out[i] = '\0';
	return true;
}

/*
 * The first "Linux version X (" banner with a plausible release X. A banner whose
 * release runs into the end of buf is skipped: unless buf ends the scanned range it
 * starts inside the overlap and is seen whole with the next chunk.
 */
static void kinfo_find_banner(const uint8_t *buf, size_t n, char *version)
{
	const uint8_t *p = buf, *end = buf + n;

	while (p < end) {
		const uint8_t *hit = memmem(p, (size_t)(end - p), kinfo_banner_tag,
					    KINFO_BANNER_TAG_LEN);
		const uint8_t *rel;

		if (!hit)
			return;
		rel = hit + KINFO_BANNER_TAG_LEN;
		/* format strings ("Linux version %s") fail the leading-digit test */
		if (kinfo_take_release(rel, (size_t)(end - rel), false, version))
			return;
		p = hit + 1;
	}
}

static bool kinfo_scan_done(const struct kinfo_scan *sc)
{
	for (int f = 0; f < KINFO_F_NR; f++)
		if (!sc->found[f])
			return false;
	return sc->version[0] != '\0';
}

static void kinfo_scan_window(const uint8_t *buf, size_t n, struct kinfo_scan *sc)
{
	for (size_t i = 0; i < KINFO_NR_MARKERS; i++) {
		const struct kinfo_marker *m = &kinfo_markers[i];

		if (!sc->found[m->feature] && memmem(buf, n, m->s, m->len))
			sc->found[m->feature] = true;
	}
	if (!sc->version[0])
		kinfo_find_banner(buf, n, sc->version);
}

/* Scans [off, off+len) (inside the file) for the markers and the banner. */
static int kinfo_scan_range(int fd, uint64_t fsize, uint64_t off, uint64_t len,
			    struct kinfo_scan *sc)
{
	/* small images (tests, the fuzzer) need no full chunk */
	size_t chunk = len < KINFO_CHUNK ? (size_t)len : KINFO_CHUNK;
	uint8_t *buf = malloc(KINFO_OVERLAP + chunk);
	size_t keep = 0;

	if (!buf)
		return -1;
	while (len && !kinfo_scan_done(sc)) {
		size_t n = len < chunk ? (size_t)len : chunk;
		size_t have, next_keep;

		if (kinfo_pread(fd, fsize, off, buf + keep, n)) {
			free(buf);
			return -1;
		}
		have = keep + n;
		kinfo_scan_window(buf, have, sc);
		off += n;
		len -= n;
		next_keep = have < KINFO_OVERLAP ? have : KINFO_OVERLAP;
		memmove(buf, buf + have - next_keep, next_keep);
		keep = next_keep;
	}
	free(buf);
	return 0;
}

/* Walks one note segment for the Xen PVH entry note; notes are padded to align. */
static bool kinfo_pvh_note(const uint8_t *p, uint64_t len, uint64_t align)
{
	uint64_t pos = 0;

	while (len - pos >= 12) {
		uint32_t namesz = kinfo_le32(p + pos);
		uint32_t descsz = kinfo_le32(p + pos + 4);
		uint32_t type = kinfo_le32(p + pos + 8);
		/* 64-bit sums of 32-bit sizes cannot overflow */
		uint64_t name_pad = ((uint64_t)namesz + align - 1) & ~(align - 1);
		uint64_t desc_pad = ((uint64_t)descsz + align - 1) & ~(align - 1);
		const uint8_t *name;

		pos += 12;
		if (name_pad > len - pos)
			return false;
		name = p + pos;
		pos += name_pad;
		if (desc_pad > len - pos)
			return false;
		pos += desc_pad;
		/* the desc holds the 32-bit physical entry address */
		if (type == KINFO_XEN_PHYS32_ENTRY && namesz == 4 && !memcmp(name, "Xen", 4) &&
		    descsz >= 4)
			return true;
	}
	return false;
}

static bool kinfo_elf_notes(int fd, uint64_t fsize, const Elf64_Phdr *ph)
{
	uint64_t align = ph->p_align == 8 ? 8 : 4;	/* gABI: 4, or 8 for some GNU notes */
	uint8_t *buf;
	bool found;

	if (ph->p_filesz == 0 || ph->p_filesz > KINFO_NOTE_MAX ||
	    !kinfo_in_file(fsize, ph->p_offset, ph->p_filesz))
		return false;
	buf = malloc(ph->p_filesz);
	if (!buf)
		return false;
	found = !kinfo_pread(fd, fsize, ph->p_offset, buf, ph->p_filesz) &&
		kinfo_pvh_note(buf, ph->p_filesz, align);
	free(buf);
	return found;
}

static int kinfo_elf(int fd, uint64_t fsize, struct kernel_info *ki, char *err, size_t errlen)
{
	struct kinfo_scan sc;
	Elf64_Ehdr eh;
	uint64_t lo = UINT64_MAX, hi = 0;
	int note_segs = 0;

	if (kinfo_pread(fd, fsize, 0, &eh, sizeof(eh)))
		return err_printf(err, errlen, "ELF kernel truncated (%llu bytes)",
				  (unsigned long long)fsize);
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return err_printf(err, errlen, "ELF file is not an x86-64 kernel (class %u, "
				  "machine %u): build with ARCH=x86_64 (CONFIG_64BIT=y)",
				  eh.e_ident[EI_CLASS], eh.e_machine);
	ki->elf = true;
	if (eh.e_type != ET_EXEC)
		return err_printf(err, errlen, "ELF file is not an executable (type %u): pass "
				  "vmlinux, not an object or a module", eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    !kinfo_in_file(fsize, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
		return err_printf(err, errlen, "ELF program headers invalid or truncated");

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (kinfo_pread(fd, fsize, eh.e_phoff + (uint64_t)i * sizeof(ph), &ph, sizeof(ph)))
			return err_printf(err, errlen, "cannot read ELF program header %u", i);
		if (ph.p_type == PT_NOTE && !ki->pvh && note_segs++ < KINFO_NOTE_SEGS_MAX)
			ki->pvh = kinfo_elf_notes(fd, fsize, &ph);
		if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
			continue;
		/* The same test as the loader: a half-copied vmlinux fails here, early. */
		if (!kinfo_in_file(fsize, ph.p_offset, ph.p_filesz))
			return err_printf(err, errlen, "ELF kernel truncated: segment %u ends at "
					  "0x%llx, the file has %llu bytes", i,
					  (unsigned long long)ph.p_offset +
					  (unsigned long long)ph.p_filesz,
					  (unsigned long long)fsize);
		if (ph.p_offset < lo)
			lo = ph.p_offset;
		if (ph.p_offset + ph.p_filesz > hi)
			hi = ph.p_offset + ph.p_filesz;
	}
	if (hi <= lo)
		return err_printf(err, errlen, "ELF kernel has no loadable segment");

	/*
	 * Only the span of the loaded segments is searched, once however the segments
	 * overlap: .rodata is there, while debug sections (a vmlinux with DWARF is many
	 * times larger) follow it and are not what the kernel runs.
	 */
	if (hi - lo > KINFO_SCAN_MAX)
		return 0;
	memset(&sc, 0, sizeof(sc));
	if (kinfo_scan_range(fd, fsize, lo, hi - lo, &sc))
		return err_printf(err, errlen, "cannot read the ELF kernel (I/O error, out of "
				  "memory, or the file shrank meanwhile)");
	ki->has_virtiofs = sc.found[KINFO_F_VIRTIOFS];
	ki->has_virtio_console = sc.found[KINFO_F_CONSOLE];
	ki->has_virtio_mmio_cmdline = sc.found[KINFO_F_MMIO_CMDLINE];
	memcpy(ki->version, sc.version, sizeof(ki->version));
	return 0;
}

/* The kernel_version string: release up to the first blank, inside the setup code and
 * NUL-terminated there; anything else leaves ki->version empty. */
static void kinfo_bz_version(int fd, uint64_t fsize, const struct setup_header *h,
			     uint64_t setup_size, struct kernel_info *ki)
{
	uint8_t buf[KINFO_KVER_READ];
	uint64_t start = KINFO_KVER_BASE + (uint64_t)h->kernel_version;
	uint64_t end = setup_size < fsize ? setup_size : fsize;
	size_t n;

	if (!h->kernel_version || start >= end)
		return;
	n = end - start < sizeof(buf) ? (size_t)(end - start) : sizeof(buf);
	if (kinfo_pread(fd, fsize, start, buf, n) || !memchr(buf, '\0', n))
		return;
	kinfo_take_release(buf, n, true, ki->version);
}

static int kinfo_bzimage(int fd, uint64_t fsize, struct kernel_info *ki, char *err,
			 size_t errlen)
{
	struct setup_header h;
	uint64_t setup_size;

	ki->bzimage = true;
	if (kinfo_pread(fd, fsize, KINFO_HDR_OFFSET, &h, sizeof(h)))
		return err_printf(err, errlen, "bzImage truncated (%llu bytes)",
				  (unsigned long long)fsize);
	if (h.boot_flag != KINFO_BOOT_FLAG)
		return err_printf(err, errlen, "not a bzImage (HdrS without the 0xaa55 boot flag)");
	ki->boot_proto = h.version;
	/* before 2.12 the xloadflags bytes were padding: no 64-bit entry is promised */
	ki->xloadflags_64 = h.version >= KINFO_PROTO_XLOADFLAGS && (h.xloadflags & XLF_KERNEL_64);
	/* as in boot.c: setup_sects 0 means 4 */
	setup_size = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	kinfo_bz_version(fd, fsize, &h, setup_size, ki);

	if (h.version < BOOT_MIN_PROTOCOL)
		return err_printf(err, errlen, "bzImage boot protocol %u.%02u is older than 2.06",
				  h.version >> 8, h.version & 0xff);
	if (!ki->xloadflags_64)
		return err_printf(err, errlen, "bzImage has no 64-bit entry point (XLF_KERNEL_64): "
				  "build an x86_64 kernel (CONFIG_64BIT=y)");
	if (!(h.loadflags & LOADED_HIGH))
		return err_printf(err, errlen, "bzImage is not a high-loaded (bzImage) kernel");
	if (setup_size >= fsize || (uint64_t)h.syssize * 16 > fsize - setup_size)
		return err_printf(err, errlen, "bzImage truncated (%llu bytes; its header says "
				  "%llu)", (unsigned long long)fsize,
				  (unsigned long long)setup_size + (uint64_t)h.syssize * 16);
	/* The kernel itself is compressed: its drivers stay unknown (-1). */
	return 0;
}

int kinfo_read(int fd, struct kernel_info *ki, char *err, size_t errlen)
{
	struct stat st;
	uint64_t fsize;
	uint8_t magic[4];

	memset(ki, 0, sizeof(*ki));
	ki->has_virtiofs = -1;
	ki->has_virtio_console = -1;
	ki->has_virtio_mmio_cmdline = -1;
	if (fstat(fd, &st))
		return err_printf(err, errlen, "cannot stat the kernel: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_printf(err, errlen, "the kernel is not a regular file");
	if (st.st_size <= 0)
		return err_printf(err, errlen, "the kernel file is empty");
	fsize = (uint64_t)st.st_size;
	if (!kinfo_pread(fd, fsize, 0, magic, SELFMAG) && !memcmp(magic, ELFMAG, SELFMAG))
		return kinfo_elf(fd, fsize, ki, err, errlen);
	if (!kinfo_pread(fd, fsize, KINFO_HDR_MAGIC_OFFSET, magic, 4) && !memcmp(magic, "HdrS", 4))
		return kinfo_bzimage(fd, fsize, ki, err, errlen);
	return err_printf(err, errlen, "not an ELF vmlinux or a bzImage (%llu bytes)",
			  (unsigned long long)fsize);
}

const char *kinfo_missing_for_run(const struct kernel_info *ki)
{
	/* Per thread, so concurrent callers (tests) do not share the line. */
	static _Thread_local char line[512];
	const char *miss[KINFO_F_NR];
	int n = 0, pos;

	/* Without command-line devices nook's virtio devices are never found. */
	if (ki->has_virtio_mmio_cmdline == 0)
		miss[n++] = "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y (virtio-mmio devices)";
	/* Built in: the virtio-fs root is mounted before any module could be loaded. */
	if (ki->has_virtiofs == 0)
		miss[n++] = "CONFIG_VIRTIO_FS=y (virtio-fs root)";
	if (ki->has_virtio_console == 0)
		miss[n++] = "CONFIG_VIRTIO_CONSOLE=y (the command's stdio)";
	if (!n)
		return NULL;
	pos = snprintf(line, sizeof(line), "kernel%s%s lacks ", ki->version[0] ? " " : "",
		       ki->version);
	for (int i = 0; i < n && pos >= 0 && (size_t)pos < sizeof(line); i++)
		pos += snprintf(line + pos, sizeof(line) - (size_t)pos, "%s%s", i ? ", " : "",
				miss[i]);
	if (pos >= 0 && (size_t)pos < sizeof(line))
		snprintf(line + pos, sizeof(line) - (size_t)pos,
			 "; merge the fragment `nook kconfig` prints into its config");
	return line;
}
