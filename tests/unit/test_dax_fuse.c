/*
 * The DAX window through the FUSE server: INIT flags, the per-inode policy
 * (FUSE_ATTR_DAX decided once), SETUPMAPPING by node id into a real window, EROFS on a
 * read-only share, REMOVEMAPPING, and DESTROY wiping the window.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/dax.h"
#include "fs/dax_iov.h"
#include "tests/unit/fuse_test.h"

#define MiB (1ULL << 20)
#define WIN (4 * MiB)

static struct ft t;
static uint8_t *win;
static struct dax_window *w;

/* A server with the window hooked in before INIT (as vm_devices.c does). */
static void start(const char *opts)
{
	struct fuse_init_in ii = { .major = 7, .minor = 38, .flags = 0xffffffffu,
				   .flags2 = 0xffffffffu };
	char err[128];

	ft_setup(&t, opts);
	win = mmap(NULL, WIN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(win, MAP_FAILED);
	w = dax_window_new(win, WIN, err, sizeof(err));
	cr_assert_not_null(w);
	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	fuse_server_set_dax(t.s, &dax_window_ops, w);
	fuse_server_set_dax_min(t.s, 64 << 10);
	ii.flags |= FUSE_INIT_EXT;
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &ii, sizeof(ii), &t.init, sizeof(t.init), NULL), 0);
}

static void stop(void)
{
	ft_teardown(&t);
	dax_window_free(w);
	munmap(win, WIN);
}

static void host_file(const char *name, size_t len, char c)
{
	char *buf = malloc(len);
	int fd = open(ft_path(&t, name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, c, len);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

static int setupmapping(uint64_t node, uint64_t foff, uint64_t len, uint64_t moff, bool wr)
{
	struct fuse_setupmapping_in sm = {
		.fh = UINT64_MAX, .foffset = foff, .len = len, .moffset = moff,
		.flags = FUSE_SETUPMAPPING_FLAG_READ | (wr ? FUSE_SETUPMAPPING_FLAG_WRITE : 0),
	};

	return ft_req(&t, FUSE_SETUPMAPPING, node, &sm, sizeof(sm), NULL, 0, NULL);
}

Test(dax_fuse, init_offers_inode_dax_and_page_alignment)
{
	start(NULL);
	cr_assert(t.init.flags & FUSE_MAP_ALIGNMENT);
	cr_assert(t.init.flags2 & (FUSE_HAS_INODE_DAX >> 32));
	cr_assert_eq(t.init.map_alignment, 12);
	stop();
}

Test(dax_fuse, attr_dax_for_big_regular_files_decided_once)
{
	struct fuse_entry_out big, small, d;
	struct fuse_attr_out a;

	start(NULL);
	host_file("big", 64 << 10, 'b');
	host_file("small", (64 << 10) - 1, 's');
	cr_assert_eq(mkdir(ft_path(&t, "dir"), 0755), 0);
	cr_assert_eq(ft_lookup(&t, 1, "big", &big), 0);
	cr_assert_eq(ft_lookup(&t, 1, "small", &small), 0);
	cr_assert_eq(ft_lookup(&t, 1, "dir", &d), 0);
	cr_assert(big.attr.flags & FUSE_ATTR_DAX, "a file of dax_min bytes uses DAX");
	cr_assert_not(small.attr.flags & FUSE_ATTR_DAX);
	cr_assert_not(d.attr.flags & FUSE_ATTR_DAX);
	/* The small file grows past dax_min: its node keeps the first decision. */
	host_file("small", MiB, 's');
	cr_assert_eq(ft_getattr(&t, small.nodeid, &a), 0);
	cr_assert_eq(a.attr.size, MiB);
	cr_assert_not(a.attr.flags & FUSE_ATTR_DAX, "stable per node id");
	cr_assert_eq(ft_getattr(&t, big.nodeid, &a), 0);
	cr_assert(a.attr.flags & FUSE_ATTR_DAX);
	stop();
}

Test(dax_fuse, setupmapping_by_nodeid_into_the_window)
{
	struct fuse_entry_out e;
	/* Packed as Linux sends it: the entries follow the 4-byte count directly. */
	struct __attribute__((packed)) {
		struct fuse_removemapping_in in;
		struct fuse_removemapping_one one;
	} rm = { { 1 }, { 0, 2 * MiB } };
	struct dax_stats st;
	uint8_t b[4];

	start(NULL);
	host_file("f", MiB, 'x');
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(setupmapping(e.nodeid, 0, 2 * MiB, 0, false), 0, "beyond EOF is normal");
	cr_assert_eq(dax_iov_kcopy(b, win + 4096, 4), 0);
	cr_assert_eq(b[0], 'x');
	cr_assert_eq(setupmapping(e.nodeid, 0, 2 * MiB, 0, true), 0, "upgrade to WRITE");
	cr_assert_eq(dax_iov_kcopy(win, "DAX!", 4), 0);
	cr_assert_eq(setupmapping(e.nodeid, 0, 2 * MiB, 3 * MiB, false), -EINVAL, "out of window");
	cr_assert_eq(setupmapping(e.nodeid, 0, 2 * MiB, 1000, false), -EINVAL, "unaligned");
	cr_assert_eq(setupmapping(1, 0, 4096, 0, false), -EINVAL, "a directory");
	cr_assert_eq(ft_req(&t, FUSE_REMOVEMAPPING, 1, &rm, sizeof(rm), NULL, 0, NULL), 0);
	cr_assert_neq(dax_iov_kcopy(b, win, 1), 0, "removed");
	{
		int fd = open(ft_path(&t, "f"), O_RDONLY);

		cr_assert_eq(pread(fd, b, 4, 0), 4);
		cr_assert_eq(memcmp(b, "DAX!", 4), 0, "the write reached the host file");
		close(fd);
	}
	cr_assert_eq(setupmapping(e.nodeid, 0, 4096, 0, false), 0);
	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	dax_get_stats(w, &st);
	cr_assert_eq(st.live, 0, "DESTROY wiped the window");
	cr_assert_neq(dax_iov_kcopy(b, win, 1), 0);
	stop();
}

Test(dax_fuse, readonly_share_refuses_writable_mappings)
{
	struct fuse_entry_out e;

	start("ro");
	host_file("f", MiB, 'r');
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(setupmapping(e.nodeid, 0, 2 * MiB, 0, true), -EROFS);
	cr_assert_eq(setupmapping(e.nodeid, 0, 2 * MiB, 0, false), 0);
	stop();
}

Test(dax_fuse, permissions_and_errors_are_never_enomem)
{
	struct fuse_entry_out e;

	start(NULL);
	host_file("f", MiB, 'p');
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(unlink(ft_path(&t, "f")), 0);
	/* The node still exists (O_PATH fd), mapping an unlinked file is fine. */
	cr_assert_eq(setupmapping(e.nodeid, 0, 4096, 0, false), 0);
	cr_assert_eq(setupmapping(e.nodeid + (1ULL << 32), 0, 4096, 0, false), -ESTALE);
	stop();
}
