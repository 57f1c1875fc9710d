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

struct fs_spec {
	char tag[FS_SPEC_TAG_MAX + 1];
	struct fs_options opts;	/* opts.source is the shared directory */
};

/* Parses spec; the tag defaults to the directory's last path component. Checks that the
 * directory exists. Returns 0, or -1 with one line in err. */
int fs_spec_parse(const char *spec, struct fs_spec *out, char *err, size_t errlen);

#endif
