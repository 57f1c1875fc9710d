/*
 * A virtio-fs share as the command line describes it: "PATH[,tag=NAME][,opt...]" where
 * the options are fs_options' (ro, cache=MODE, xattr, threads=N, ...). Paths containing
 * a comma cannot be named (as with QEMU's -fsdev without escaping).
 */
#ifndef NOOK_FS_FS_SPEC_H
#define NOOK_FS_FS_SPEC_H

#include <stddef.h>

#include "fs/fuse_server.h"

#define FS_SPEC_TAG_MAX 36	/* virtio-fs config space tag bytes */

/* DAX window (dax=SIZE): a multiple of 2 MiB (the guest maps 2 MiB ranges), at most
 * 16 GiB (about 2 x 8192 host VMAs at worst, well below vm.max_map_count). */
#define FS_SPEC_DAX_ALIGN	(2ULL << 20)
#define FS_SPEC_DAX_MAX		(16ULL << 30)
#define FS_SPEC_DAX_MIN_DEFAULT	(64ULL << 10)	/* dax_min: smaller files are not DAX */

struct fs_spec {
	char tag[FS_SPEC_TAG_MAX + 1];
	struct fs_options opts;	/* opts.source is the shared directory */
	uint64_t dax_size;	/* dax=SIZE; 0: no window (the default) */
	uint64_t dax_min;	/* dax_min=SIZE: regular files this large use DAX */
};

/* Parses spec; the tag defaults to the directory's last path component. Checks that the
 * directory exists. Returns 0, or -1 with one line in err. */
int fs_spec_parse(const char *spec, struct fs_spec *out, char *err, size_t errlen);

/* The guest pays 64 bytes of RAM (struct page) per 4 KiB of window when the device
 * probes, mounted or not: refuse a window whose cost exceeds half of mem_size.
 * Returns 0, or -1 with one line in err. */
int fs_spec_check_dax(const struct fs_spec *spec, uint64_t mem_size, char *err, size_t errlen);

/* Guest RAM the window of spec costs (0 without a window). */
static inline uint64_t fs_spec_dax_cost(const struct fs_spec *spec)
{
	return spec->dax_size / 4096 * 64;
}

#endif
