/*
 * Kernel passthrough (FUSE_PASSTHROUGH): INIT, OPEN/CREATE replies and the backing id
 * life cycle, against a fake transport hook that hands out ids like the kernel does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fuse_test.h"

struct fake_kernel {
	int next_id;
	int opens, closes;
	int last_closed;
	int refuse;          /* > 0: open fails with -refuse */
	bool bad_fd;         /* an fd that is not an open regular file was offered */
};

static struct ft t;
static struct fake_kernel k;

static int fake_open(void *opaque, int fd)
{
	struct fake_kernel *f = opaque;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	f->opens++;
	/* The kernel refuses O_PATH fds (no read/write_iter) and non-regular files. */
	if (fl < 0 || (fl & O_PATH) || fstat(fd, &st) || !S_ISREG(st.st_mode))
		f->bad_fd = true;
	return f->refuse ? -f->refuse : ++f->next_id;
}

static void fake_close(void *opaque, int id)
{
	struct fake_kernel *f = opaque;

	f->closes++;
	f->last_closed = id;
}

static const struct fuse_backing_ops fake_ops = { .open = fake_open, .close = fake_close };

static void setup_with(const char *opts)
{
	memset(&k, 0, sizeof(k));
	ft_setup_backing(&t, opts, &fake_ops, &k);
}

static void fini(void) { ft_teardown(&t); }

static void host_file(const char *name, mode_t mode)
{
	int fd = open(ft_path(&t, name), O_WRONLY | O_CREAT | O_EXCL, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "data", 4), 4);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

static int open_raw(uint64_t node, uint32_t flags, bool dir, struct fuse_open_out *o)
{
	struct fuse_open_in in = { .flags = flags };
	size_t got;
	int err = ft_req(&t, dir ? FUSE_OPENDIR : FUSE_OPEN, node, &in, sizeof(in), o,
			 sizeof(*o), &got);

	if (!err)
		cr_assert_eq(got, sizeof(*o));
	return err;
}

static uint64_t lookup(const char *name)
{
	struct fuse_entry_out e;

	cr_assert_eq(ft_lookup(&t, 1, name, &e), 0);
	return e.nodeid;
}

/* A cache=never server (DIRECT_IO unless passed through) with two host files; returns
 * the node of the first. */
static uint64_t setup_two_files(const char *a, mode_t ma, const char *b, mode_t mb)
{
	setup_with("cache=never");
	host_file(a, ma);
	host_file(b, mb);
	return lookup(a);
}

Test(fuse_backing, init_offers_passthrough_with_stack_depth_one, .fini = fini)
{
	setup_with(NULL);
	cr_assert(((uint64_t)t.init.flags2 << 32) & FUSE_PASSTHROUGH);
	cr_assert_eq(FUSE_ABI_INIT_MAX_STACK_DEPTH(&t.init), 1);
}

Test(fuse_backing, no_passthrough_without_hook_option_or_with_writeback_or_flock, .fini = fini)
{
	/* virtio-fs registers no hook: nothing changes for guests. */
	ft_setup(&t, NULL);
	cr_assert_not(((uint64_t)t.init.flags2 << 32) & FUSE_PASSTHROUGH);
	cr_assert_eq(FUSE_ABI_INIT_MAX_STACK_DEPTH(&t.init), 0);
	ft_teardown(&t);

	setup_with("no_passthrough");
	cr_assert_not(((uint64_t)t.init.flags2 << 32) & FUSE_PASSTHROUGH);
	ft_teardown(&t);

	/* Served locks: the backing file would keep a released fd's locks alive. */
	setup_with("flock");
	cr_assert_not(((uint64_t)t.init.flags2 << 32) & FUSE_PASSTHROUGH);
	ft_teardown(&t);

	/* The kernel does not combine it with writeback caching. */
	setup_with("writeback");
	cr_assert_not(((uint64_t)t.init.flags2 << 32) & FUSE_PASSTHROUGH);
	host_file("f", 0644);
	struct fuse_open_out o;

	cr_assert_eq(open_raw(lookup("f"), O_RDWR, false, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(k.opens, 0);
	cr_assert_eq(ft_release(&t, lookup("f"), o.fh, false), 0);
}

Test(fuse_backing, opens_of_one_inode_share_one_id_until_the_last_release, .fini = fini)
{
	struct fuse_open_out a, b, c;
	uint64_t node;

	node = setup_two_files("f", 0644, "g", 0644);
	cr_assert_eq(open_raw(node, O_RDONLY, false, &a), 0);
	cr_assert(a.open_flags & FOPEN_PASSTHROUGH);
	/* DIRECT_IO would send reads and writes back to us. */
	cr_assert_not(a.open_flags & FOPEN_DIRECT_IO);
	cr_assert_eq(FUSE_ABI_OPEN_BACKING_ID(&a), 1);
	cr_assert_not(k.bad_fd, "the hook needs an open regular file, not an O_PATH fd");

	cr_assert_eq(open_raw(node, O_WRONLY, false, &b), 0);
	cr_assert(b.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(FUSE_ABI_OPEN_BACKING_ID(&b), 1, "one backing file per inode");
	cr_assert_eq(k.opens, 1);

	cr_assert_eq(open_raw(lookup("g"), O_RDONLY, false, &c), 0);
	cr_assert_eq(FUSE_ABI_OPEN_BACKING_ID(&c), 2);

	cr_assert_eq(ft_release(&t, node, a.fh, false), 0);
	cr_assert_eq(k.closes, 0, "still used by the second open");
	cr_assert_eq(ft_release(&t, node, b.fh, false), 0);
	cr_assert_eq(k.closes, 1);
	cr_assert_eq(k.last_closed, 1);

	/* A new open after the last release registers the file again. */
	cr_assert_eq(open_raw(node, O_RDONLY, false, &a), 0);
	cr_assert_eq(FUSE_ABI_OPEN_BACKING_ID(&a), 3);
	cr_assert_eq(ft_release(&t, node, a.fh, false), 0);
	cr_assert_eq(ft_release(&t, lookup("g"), c.fh, false), 0);
	cr_assert_eq(k.closes, 3);
}

Test(fuse_backing, create_is_passed_through, .fini = fini)
{
	struct fuse_create_in in = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	char buf[256];
	size_t n = ft_args(buf, &in, sizeof(in), "new", NULL), got;

	setup_with(NULL);
	cr_assert_eq(ft_req(&t, FUSE_CREATE, 1, buf, n, &out, sizeof(out), &got), 0);
	cr_assert(out.o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(FUSE_ABI_OPEN_BACKING_ID(&out.o), 1);
	cr_assert_not(k.bad_fd);
	cr_assert_eq(ft_release(&t, out.e.nodeid, out.o.fh, false), 0);
	cr_assert_eq(k.closes, 1);
}

/* A passed-through write never reaches our WRITE handler, which drops the bits. */
Test(fuse_backing, setuid_and_setgid_files_are_served_cached, .fini = fini)
{
	struct fuse_open_out o, p;
	uint64_t node;

	node = setup_two_files("s", 04755, "g", 02755);
	cr_assert_eq(open_raw(node, O_RDWR, false, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert(o.open_flags & FOPEN_DIRECT_IO, "the cache mode applies again");
	/* Every open of the inode joins the first one's mode. */
	cr_assert_eq(chmod(ft_path(&t, "s"), 0755), 0);
	cr_assert_eq(open_raw(node, O_RDONLY, false, &p), 0);
	cr_assert_not(p.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_release(&t, node, o.fh, false), 0);
	cr_assert_eq(ft_release(&t, node, p.fh, false), 0);
	cr_assert_eq(open_raw(lookup("g"), O_RDWR, false, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_release(&t, lookup("g"), o.fh, false), 0);
	cr_assert_eq(k.opens, 0);
	cr_assert_eq(k.closes, 0);
}

Test(fuse_backing, refused_file_is_cached_and_eperm_stops_asking, .fini = fini)
{
	struct fuse_open_out o;

	setup_with(NULL);
	host_file("a", 0644);
	host_file("b", 0644);
	/* ELOOP: this file sits on a stacked file system; others may still pass. */
	k.refuse = ELOOP;
	cr_assert_eq(open_raw(lookup("a"), O_RDONLY, false, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_release(&t, lookup("a"), o.fh, false), 0);
	k.refuse = 0;
	cr_assert_eq(open_raw(lookup("b"), O_RDONLY, false, &o), 0);
	cr_assert(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_release(&t, lookup("b"), o.fh, false), 0);

	/* EPERM: no CAP_SYS_ADMIN, it will never work: stop asking. */
	k.refuse = EPERM;
	k.opens = 0;
	cr_assert_eq(open_raw(lookup("a"), O_RDONLY, false, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_release(&t, lookup("a"), o.fh, false), 0);
	cr_assert_eq(open_raw(lookup("b"), O_RDONLY, false, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_release(&t, lookup("b"), o.fh, false), 0);
	cr_assert_eq(k.opens, 1);
}

Test(fuse_backing, directories_are_never_passed_through, .fini = fini)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;

	setup_with(NULL);
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, &e), 0);
	cr_assert_eq(open_raw(e.nodeid, O_RDONLY, true, &o), 0);
	cr_assert_not(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(k.opens, 0);
	cr_assert_eq(ft_release(&t, e.nodeid, o.fh, true), 0);
}

Test(fuse_backing, destroy_closes_the_ids_of_open_files, .fini = fini)
{
	struct fuse_open_out o;

	setup_with(NULL);
	host_file("f", 0644);
	cr_assert_eq(open_raw(lookup("f"), O_RDONLY, false, &o), 0);
	cr_assert(o.open_flags & FOPEN_PASSTHROUGH);
	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	cr_assert_eq(k.closes, 1);
}
