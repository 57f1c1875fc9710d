/*
 * Cache-mode contracts checked at the protocol level (build/tests/fs-dispatch-tests).
 *
 * A file opened with FOPEN_DIRECT_IO cannot be mmap()ed MAP_SHARED by the client
 * (mmap fails with ENODEV) unless INIT negotiated FUSE_DIRECT_IO_ALLOW_MMAP. Found through
 * the mount: `nook fs serve SRC MNT -o cache=metadata`, then mmap(MAP_SHARED) of any file
 * in MNT -> ENODEV (tests/fs/test_files.c mmap_shared_writes_seen_by_read).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_server.h"

#define DC_ALLOW_MMAP (1ull << 36)     /* FUSE_DIRECT_IO_ALLOW_MMAP, protocol 7.39 */

struct dc_reply {
	struct fuse_out_header h;
	unsigned char body[4096];
};

static int dc_call(struct fuse_server *s, uint32_t op, uint64_t nodeid, const void *arg,
		   size_t len, const char *name, struct dc_reply *r)
{
	unsigned char req[512];
	struct fuse_in_header ih = { .opcode = op, .nodeid = nodeid, .unique = op };
	size_t off = sizeof(ih);

	if (len)
		memcpy(req + off, arg, len);
	off += len;
	if (name) {
		memcpy(req + off, name, strlen(name) + 1);
		off += strlen(name) + 1;
	}
	ih.len = (uint32_t)off;
	memcpy(req, &ih, sizeof(ih));
	struct iovec in = { req, off }, out = { r, sizeof(*r) };

	cr_assert_geq(fuse_dispatch(s, &in, 1, &out, 1), sizeof(r->h));
	return r->h.error;
}

static int dc_rm(const char *p, const struct stat *st, int t, struct FTW *f)
{
	(void)st;
	(void)f;
	return t == FTW_DP ? rmdir(p) : unlink(p);
}

static char dc_tmp[64];

/* Runs even when an assertion failed, so a failing test leaves no temp dir behind. */
static void dc_cleanup(void)
{
	if (dc_tmp[0])
		nftw(dc_tmp, dc_rm, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(dispatch_cache, .fini = dc_cleanup);

/* For each cache mode: direct-I/O opens imply ALLOW_MMAP was negotiated. */
static void dc_check(enum fs_cache_mode mode, const char *name)
{
	char *tmp = dc_tmp, p[96], err[128];
	struct fs_options o;
	struct dc_reply r;

	dc_cleanup();
	snprintf(dc_tmp, sizeof(dc_tmp), "/tmp/nook-dispatch-cache.XXXXXX");
	cr_assert(mkdtemp(tmp));
	snprintf(p, sizeof(p), "%s/f", tmp);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", tmp);
	o.cache = mode;
	struct fuse_server *s = fuse_server_new(&o, err, sizeof(err));

	cr_assert(s, "%s", err);
	struct fuse_init_in ii = {
		.major = 7, .minor = 39, .max_readahead = 65536,
		.flags = 0xffffffffu, .flags2 = 0xffffffffu,
	};
	struct fuse_init_out io;

	cr_assert_eq(dc_call(s, FUSE_INIT, 0, &ii, sizeof(ii), NULL, &r), 0);
	memcpy(&io, r.body, sizeof(io));
	uint64_t flags = io.flags | (uint64_t)io.flags2 << 32;

	cr_assert_eq(dc_call(s, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "f", &r), 0);
	struct fuse_entry_out e;

	memcpy(&e, r.body, sizeof(e));
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_open_out oo;

	cr_assert_eq(dc_call(s, FUSE_OPEN, e.nodeid, &oi, sizeof(oi), NULL, &r), 0);
	memcpy(&oo, r.body, sizeof(oo));
	cr_assert(!(oo.open_flags & FOPEN_DIRECT_IO) || (flags & DC_ALLOW_MMAP),
		  "cache=%s: FOPEN_DIRECT_IO without FUSE_DIRECT_IO_ALLOW_MMAP: shared mmap "
		  "fails with ENODEV on the client", name);
	fuse_server_free(s);
}

Test(dispatch_cache, never_direct_io_allows_mmap)
{
	dc_check(FS_CACHE_NEVER, "never");
}

/* Was a server bug (fixed in fs 1591932): ALLOW_MMAP was only asked for cache=never
 * although cache=metadata opens with FOPEN_DIRECT_IO too. */
Test(dispatch_cache, metadata_direct_io_allows_mmap)
{
	dc_check(FS_CACHE_METADATA, "metadata");
}

Test(dispatch_cache, auto_and_always)
{
	dc_check(FS_CACHE_AUTO, "auto");
	dc_check(FS_CACHE_ALWAYS, "always");
}
