/* FUSE_INIT negotiation, the INIT state machine and options. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fuse_test.h"

static struct ft t;

static void ft_bare(const char *opts)
{
	struct fs_options o;
	char err[256];

	memset(&t, 0, sizeof(t));
	strcpy(t.dir, "/tmp/nook-fuse-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t.dir));
	fs_options_init(&o);
	strcpy(o.source, t.dir);
	if (opts)
		cr_assert_eq(fs_options_parse(&o, opts, err, sizeof(err)), 0);
	t.s = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(t.s, "%s", err);
	t.out = malloc(FT_OUT);
	t.out_len = FT_OUT;
}

static int ft_init(uint32_t minor, uint32_t flags, uint32_t flags2, struct fuse_init_out *out,
		   size_t *got)
{
	struct fuse_init_in in = { .major = 7, .minor = minor, .max_readahead = 65536,
				   .flags = flags, .flags2 = flags2 };

	return ft_req(&t, FUSE_INIT, 0, &in, sizeof(in), out, sizeof(*out), got);
}

static void fini(void) { ft_teardown(&t); }

Test(fuse_init, negotiates_limits_and_flags, .fini = fini)
{
	struct fuse_init_out out;
	size_t got;

	ft_bare(NULL);
	cr_assert_eq(ft_init(45, 0xffffffffu, 0xffffffffu, &out, &got), 0);
	cr_assert_eq(got, sizeof(out));
	cr_assert_eq(out.major, 7);
	cr_assert_eq(out.minor, 45);
	cr_assert_eq(out.max_write, 1u << 20);
	cr_assert_eq(out.max_pages, 256);
	cr_assert_eq(out.max_readahead, 65536);
	cr_assert(out.flags & FUSE_ASYNC_READ);
	cr_assert(out.flags & FUSE_MAX_PAGES);
	cr_assert(out.flags & FUSE_DO_READDIRPLUS);
	cr_assert(out.flags & FUSE_AUTO_INVAL_DATA, "cache=auto is the default");
	cr_assert(out.flags & FUSE_HANDLE_KILLPRIV_V2);
	cr_assert(out.flags & FUSE_INIT_EXT);
	cr_assert_not(out.flags & FUSE_WRITEBACK_CACHE, "writeback is off by default");
	cr_assert_not(out.flags & FUSE_POSIX_LOCKS, "locks only with flock");
	cr_assert_not(out.flags & FUSE_POSIX_ACL);
}

Test(fuse_init, only_flags_the_client_offers, .fini = fini)
{
	struct fuse_init_out out;

	ft_bare("writeback,posix_acl,flock,announce_submounts");
	cr_assert_eq(ft_init(45, FUSE_ASYNC_READ | FUSE_WRITEBACK_CACHE, 0, &out, NULL), 0);
	cr_assert_eq(out.flags, FUSE_ASYNC_READ | FUSE_WRITEBACK_CACHE);
	cr_assert_eq(out.flags2, 0);
}

Test(fuse_init, options_enable_flags, .fini = fini)
{
	struct fuse_init_out out;

	ft_bare("writeback,posix_acl,flock,announce_submounts,cache=never");
	cr_assert_eq(ft_init(45, 0xffffffffu, 0xffffffffu, &out, NULL), 0);
	cr_assert(out.flags & FUSE_WRITEBACK_CACHE);
	cr_assert(out.flags & FUSE_POSIX_ACL);
	cr_assert(out.flags & FUSE_POSIX_LOCKS);
	cr_assert(out.flags & FUSE_FLOCK_LOCKS);
	cr_assert(out.flags & FUSE_SUBMOUNTS);
	cr_assert_not(out.flags & FUSE_DO_READDIRPLUS, "no readdirplus without caching");
	cr_assert_not(out.flags & FUSE_AUTO_INVAL_DATA);
	cr_assert(out.flags2 & (FUSE_DIRECT_IO_ALLOW_MMAP >> 32), "direct I/O files stay mmap-able");
}

Test(fuse_init, metadata_cache_allows_mmap_of_direct_io, .fini = fini)
{
	struct fuse_init_out out;

	ft_bare("cache=metadata");
	cr_assert_eq(ft_init(45, 0xffffffffu, 0xffffffffu, &out, NULL), 0);
	cr_assert(out.flags2 & (FUSE_DIRECT_IO_ALLOW_MMAP >> 32));
}

Test(fuse_init, oldest_supported_minor, .fini = fini)
{
	struct fuse_init_out out;
	size_t got;

	ft_bare(NULL);
	/* A 7.31 client sends the short 16-byte fuse_init_in. */
	struct fuse_init_in in = { .major = 7, .minor = 31, .flags = FUSE_ASYNC_READ };

	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &in, 16, &out, sizeof(out), &got), 0);
	cr_assert_eq(got, sizeof(out));
	cr_assert_eq(out.flags, FUSE_ASYNC_READ);
	cr_assert_eq(out.flags2, 0);
}

Test(fuse_init, too_old_minor_is_eproto, .fini = fini)
{
	ft_bare(NULL);
	cr_assert_eq(ft_init(30, 0, 0, NULL, NULL), -EPROTO);
	/* A failed INIT leaves the server waiting for a good one. */
	cr_assert_eq(ft_init(38, 0, 0, NULL, NULL) == 0 ? 0 : 1, 0);
}

Test(fuse_init, wrong_major_is_eproto, .fini = fini)
{
	struct fuse_init_in in = { .major = 6, .minor = 45 };

	ft_bare(NULL);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL), -EPROTO);
}

Test(fuse_init, requests_before_init_are_eio, .fini = fini)
{
	ft_bare(NULL);
	cr_assert_eq(ft_lookup(&t, 1, "x", NULL), -EIO);
	struct fuse_forget_in f = { 1 };
	cr_assert_eq(ft_req(&t, FUSE_FORGET, 1, &f, sizeof(f), NULL, 0, NULL), 1, "FORGET: no reply");
}

Test(fuse_init, second_init_is_eproto, .fini = fini)
{
	struct fuse_init_out out;

	ft_bare(NULL);
	cr_assert_eq(ft_init(45, 0, 0, &out, NULL), 0);
	cr_assert_eq(ft_init(45, 0, 0, &out, NULL), -EPROTO);
}

Test(fuse_init, destroy_then_init_again, .fini = fini)
{
	struct fuse_init_out out;

	struct fuse_entry_out e;
	struct fuse_attr_out a;
	uint64_t fh;
	char buf[4];

	ft_bare(NULL);
	cr_assert_eq(ft_init(45, 0, 0, &out, NULL), 0);
	cr_assert_not(fuse_server_destroyed(t.s));
	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	cr_assert(fuse_server_destroyed(t.s));
	cr_assert_eq(ft_lookup(&t, 1, "x", NULL), -EIO);
	/* virtio-fs: a remount in the guest sends INIT to the same device. */
	cr_assert_eq(ft_init(45, 0, 0, &out, NULL), 0);
	cr_assert_eq(ft_lookup(&t, 1, "x", NULL), -ENOENT);
	/* Old ids died with the old mount. */
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), -ESTALE);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_getattr(&t, 1, &a), 0);
}

Test(fuse_init, short_init_args_einval, .fini = fini)
{
	uint32_t in[1] = { 7 };

	ft_bare(NULL);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, in, sizeof(in), NULL, 0, NULL), -EINVAL);
}

Test(fuse_opts, parse_good_and_bad)
{
	struct fs_options o;
	char err[256];

	fs_options_init(&o);
	cr_assert_eq(o.cache, FS_CACHE_AUTO);
	cr_assert(o.xattr);
	cr_assert_not(o.writeback);
	cr_assert_eq(fs_options_parse(&o, "cache=always,writeback,ro,threads=8,flock,"
				      "inode_file_handles,announce_submounts,no_xattr", err, sizeof(err)), 0);
	cr_assert_eq(o.cache, FS_CACHE_ALWAYS);
	cr_assert(o.writeback && o.readonly && o.flock && o.inode_file_handles && o.announce_submounts);
	cr_assert_not(o.xattr);
	cr_assert_eq(o.threads, 8);
	cr_assert_eq(fs_options_parse(&o, "posix_acl", err, sizeof(err)), 0);
	cr_assert(o.posix_acl && o.xattr, "posix_acl implies xattr");
	cr_assert_eq(fs_options_parse(&o, "cache=none", err, sizeof(err)), 0);
	cr_assert_eq(o.cache, FS_CACHE_NEVER);
	cr_assert_eq(fs_options_parse(&o, "source=/srv/x", err, sizeof(err)), 0);
	cr_assert_str_eq(o.source, "/srv/x");
	cr_assert_eq(fs_options_parse(&o, "bogus", err, sizeof(err)), -1);
	cr_assert(strstr(err, "bogus"));
	cr_assert_eq(fs_options_parse(&o, "cache=sometimes", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "threads=0", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "threads=12x", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "ro=1", err, sizeof(err)), -1);
	cr_assert_eq(o.poll_us, -1, "transport default");
	cr_assert_not(o.io_uring, "io_uring is opt-in");
	cr_assert_eq(fs_options_parse(&o, "poll_us=0,io_uring", err, sizeof(err)), 0);
	cr_assert(o.io_uring);
	cr_assert_eq(o.poll_us, 0);
	cr_assert_eq(fs_options_parse(&o, "poll_us=10000,no_io_uring", err, sizeof(err)), 0);
	cr_assert_eq(o.poll_us, 10000);
	cr_assert_not(o.io_uring);
	cr_assert_eq(fs_options_parse(&o, "poll_us=10001", err, sizeof(err)), -1);
	cr_assert(strstr(err, "poll"));
	cr_assert_eq(fs_options_parse(&o, "poll_us=-1", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "poll_us=", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "", err, sizeof(err)), 0);
	cr_assert_eq(fs_options_parse(&o, "xattr,,ro", err, sizeof(err)), 0);
}

Test(fuse_server, missing_source_fails_cleanly)
{
	struct fs_options o;
	char err[256] = "";

	fs_options_init(&o);
	strcpy(o.source, "/nonexistent/nook-share");
	cr_assert_null(fuse_server_new(&o, err, sizeof(err)));
	cr_assert(strstr(err, "nook-share"));
}
