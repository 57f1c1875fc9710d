/* One test per FUSE opcode (and its usual error paths) against a temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/unit/fuse_test.h"

static struct ft t;

static void setup(void) { ft_setup(&t, "flock,posix_acl"); }
static void teardown(void) { ft_teardown(&t); }

TestSuite(fuse_ops, .init = setup, .fini = teardown);

static void host_write(const char *name, const char *data)
{
	FILE *f = fopen(ft_path(&t, name), "w");

	cr_assert_not_null(f);
	fputs(data, f);
	fclose(f);
}

Test(fuse_ops, lookup_and_getattr)
{
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct stat st;

	host_write("f", "hello");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_neq(e.nodeid, 0);
	cr_assert_neq(e.nodeid, 1);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(e.attr.ino, st.st_ino);
	cr_assert_eq(e.attr.size, 5);
	cr_assert(S_ISREG(e.attr.mode));
	cr_assert_eq(e.entry_valid, 1, "cache=auto: 1 s");
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), 0);
	cr_assert_eq(a.attr.size, 5);
	cr_assert_eq(ft_getattr(&t, 1, &a), 0);
	cr_assert(S_ISDIR(a.attr.mode));
}

Test(fuse_ops, lookup_same_inode_same_nodeid)
{
	struct fuse_entry_out a, b;

	host_write("f", "x");
	char from[512];

	snprintf(from, sizeof(from), "%s", ft_path(&t, "f"));
	cr_assert_eq(link(from, ft_path(&t, "g")), 0);
	cr_assert_eq(ft_lookup(&t, 1, "f", &a), 0);
	cr_assert_eq(ft_lookup(&t, 1, "g", &b), 0);
	cr_assert_eq(a.nodeid, b.nodeid, "hard links are one FUSE node");
}

Test(fuse_ops, lookup_enoent)
{
	cr_assert_eq(ft_lookup(&t, 1, "missing", NULL), -ENOENT);
}

Test(fuse_ops, lookup_enametoolong)
{
	char name[300];

	memset(name, 'a', 256);
	name[256] = 0;
	cr_assert_eq(ft_lookup(&t, 1, name, NULL), -ENAMETOOLONG);
	name[255] = 0;
	cr_assert_eq(ft_lookup(&t, 1, name, NULL), -ENOENT);
}

Test(fuse_ops, lookup_dotdot_of_root_is_root)
{
	struct fuse_entry_out e;

	cr_assert_eq(ft_lookup(&t, 1, "..", &e), 0);
	cr_assert_eq(e.nodeid, 1);
	cr_assert_eq(ft_lookup(&t, 1, ".", &e), 0);
	cr_assert_eq(e.nodeid, 1);
}

Test(fuse_ops, forget_frees_the_node)
{
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fuse_forget_in f = { .nlookup = 2 };

	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	f.nlookup = 1;
	cr_assert_eq(ft_req(&t, FUSE_FORGET, e.nodeid, &f, sizeof(f), NULL, 0, NULL), 1);
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), 0, "one lookup left");
	cr_assert_eq(ft_req(&t, FUSE_FORGET, e.nodeid, &f, sizeof(f), NULL, 0, NULL), 1);
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), -ESTALE, "freed at zero");
	/* The root is never forgotten. */
	f.nlookup = 100;
	ft_req(&t, FUSE_FORGET, 1, &f, sizeof(f), NULL, 0, NULL);
	cr_assert_eq(ft_getattr(&t, 1, &a), 0);
}

Test(fuse_ops, batch_forget)
{
	struct fuse_entry_out a, b;
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} req;
	struct fuse_attr_out at;

	host_write("f", "x");
	host_write("g", "y");
	cr_assert_eq(ft_lookup(&t, 1, "f", &a), 0);
	cr_assert_eq(ft_lookup(&t, 1, "g", &b), 0);
	memset(&req, 0, sizeof(req));
	req.in.count = 2;
	req.one[0] = (struct fuse_forget_one){ a.nodeid, 1 };
	req.one[1] = (struct fuse_forget_one){ b.nodeid, 1 };
	cr_assert_eq(ft_req(&t, FUSE_BATCH_FORGET, 0, &req, sizeof(req), NULL, 0, NULL), 1);
	cr_assert_eq(ft_getattr(&t, a.nodeid, &at), -ESTALE);
	cr_assert_eq(ft_getattr(&t, b.nodeid, &at), -ESTALE);
}

Test(fuse_ops, mkdir_eexist_rmdir_enotempty)
{
	struct fuse_entry_out e;
	struct stat st;
	char buf[64];
	size_t n;

	cr_assert_eq(ft_mkdir(&t, 1, "d", 0750, &e), 0);
	cr_assert(S_ISDIR(e.attr.mode));
	cr_assert_eq(stat(ft_path(&t, "d"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0750);
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0750, NULL), -EEXIST);
	host_write("d/x", "1");
	n = ft_args(buf, NULL, 0, "d", NULL);
	cr_assert_eq(ft_req(&t, FUSE_RMDIR, 1, buf, n, NULL, 0, NULL), -ENOTEMPTY);
	unlink(ft_path(&t, "d/x"));
	cr_assert_eq(ft_req(&t, FUSE_RMDIR, 1, buf, n, NULL, 0, NULL), 0);
	cr_assert_neq(stat(ft_path(&t, "d"), &st), 0);
}

Test(fuse_ops, mkdir_as_unprivileged_caller)
{
	struct fuse_entry_out e;
	struct stat st;

	/* The share's root is root-owned 0755: nobody may not create in it. */
	t.uid = t.gid = 65534;
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, NULL), -EACCES);
	t.uid = t.gid = 0;
	cr_assert_eq(ft_mkdir(&t, 1, "open", 0777, &e), 0);
	chmod(ft_path(&t, "open"), 0777);
	t.uid = t.gid = 65534;
	cr_assert_eq(ft_mkdir(&t, e.nodeid, "mine", 0700, NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "open/mine"), &st), 0);
	cr_assert_eq(st.st_uid, 65534, "created with the caller's fsuid");
	cr_assert_eq(st.st_gid, 65534);
	/* ...and the server's own credentials are back afterwards. */
	t.uid = t.gid = 0;
	cr_assert_eq(ft_mkdir(&t, 1, "rootdir", 0700, NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "rootdir"), &st), 0);
	cr_assert_eq(st.st_uid, 0);
}

Test(fuse_ops, mkdir_umask_with_dont_mask)
{
	struct fuse_mkdir_in in = { .mode = 0777, .umask = 022 };
	struct fuse_entry_out e;
	struct stat st;
	char buf[64];
	size_t n = ft_args(buf, &in, sizeof(in), "m", NULL);

	cr_assert_eq(ft_req(&t, FUSE_MKDIR, 1, buf, n, &e, sizeof(e), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "m"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0755);
}

Test(fuse_ops, create_write_read_release)
{
	struct fuse_entry_out e;
	uint64_t fh;
	char buf[32] = { 0 };
	struct stat st;

	cr_assert_eq(ft_create(&t, 1, "f", 0640, O_RDWR | O_CREAT, &e, &fh), 0);
	cr_assert(S_ISREG(e.attr.mode));
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, "hello world", 11), 11);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 6, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "world");
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 100, buf, sizeof(buf)), 0, "EOF");
	cr_assert_eq(ft_release(&t, e.nodeid, fh, false), 0);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, sizeof(buf)), -EBADF, "released fh");
	cr_assert_eq(ft_release(&t, e.nodeid, fh, false), -EBADF);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_size, 11);
	cr_assert_eq(st.st_mode & 0777, 0640);
	cr_assert_eq(ft_create(&t, 1, "f", 0640, O_RDWR | O_CREAT | O_EXCL, NULL, NULL), -EEXIST);
}

Test(fuse_ops, open_modes_and_types)
{
	struct fuse_entry_out e, d;
	uint64_t fh;
	char buf[8];

	host_write("f", "abc");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, false, &fh), 0);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, "x", 1), -EBADF, "read-only open");
	cr_assert_eq(ft_release(&t, e.nodeid, fh, false), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_WRONLY | O_TRUNC, false, &fh), 0);
	cr_assert_eq(ft_release(&t, e.nodeid, fh, false), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY | O_DIRECT, false, &fh), 0);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, sizeof(buf)), 0, "O_TRUNC applied");
	ft_release(&t, e.nodeid, fh, false);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR | O_DIRECT, false, &fh), 0);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 1, "odd", 3), 3, "O_DIRECT: no alignment rules");
	ft_release(&t, e.nodeid, fh, false);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, true, &fh), -ENOTDIR);
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, &d), 0);
	cr_assert_eq(ft_open(&t, d.nodeid, O_RDONLY, false, &fh), -EISDIR);
	/* A dir fh is not a file fh and vice versa. */
	cr_assert_eq(ft_open(&t, d.nodeid, O_RDONLY, true, &fh), 0);
	cr_assert_eq(ft_read(&t, d.nodeid, fh, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_release(&t, d.nodeid, fh, false), -EBADF);
	cr_assert_eq(ft_release(&t, d.nodeid, fh, true), 0);
}

Test(fuse_ops, setattr_all_bits)
{
	struct fuse_entry_out e;
	struct fuse_setattr_in in;
	struct fuse_attr_out a;
	struct stat st;
	uint64_t fh;

	host_write("f", "0123456789");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME | FATTR_CTIME;
	in.mode = S_IFREG | 0600;
	in.uid = 123;
	in.gid = 456;
	in.size = 4;
	in.atime = 1000;
	in.mtime = 2000;
	in.mtimensec = 5;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), 0);
	cr_assert_eq(a.attr.size, 4);
	cr_assert_eq(a.attr.mode & 07777, 0600);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_uid, 123);
	cr_assert_eq(st.st_gid, 456);
	cr_assert_eq(st.st_atime, 1000);
	cr_assert_eq(st.st_mtime, 2000);
	cr_assert_eq(st.st_mtim.tv_nsec, 5);
	/* *_NOW and truncation through an open fh. */
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &fh), 0);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE | FATTR_FH | FATTR_MTIME | FATTR_MTIME_NOW | FATTR_ATIME | FATTR_ATIME_NOW;
	in.fh = fh;
	in.size = 1;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_size, 1);
	cr_assert_gt(st.st_mtime, 2000);
	in.fh = fh + 1;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), -EBADF);
	/* Bad nanoseconds are refused, not passed on. */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MTIME;
	in.mtimensec = 2000000000u;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), -EINVAL);
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_ops, setattr_kill_suidgid)
{
	struct fuse_entry_out e;
	struct fuse_setattr_in in = { 0 };
	struct fuse_attr_out a;
	struct stat st;

	host_write("f", "0123456789");
	chmod(ft_path(&t, "f"), 06755);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	in.valid = FATTR_SIZE | FATTR_KILL_SUIDGID;
	in.size = 2;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
}

Test(fuse_ops, write_kill_suidgid)
{
	struct fuse_entry_out e;
	struct fuse_write_in in = { 0 };
	unsigned char buf[sizeof(in) + 1];
	struct fuse_write_out out;
	struct stat st;
	uint64_t fh;

	host_write("f", "x");
	chmod(ft_path(&t, "f"), 04755);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &fh), 0);
	in.fh = fh;
	in.size = 1;
	in.write_flags = FUSE_WRITE_KILL_SUIDGID;
	memcpy(buf, &in, sizeof(in));
	buf[sizeof(in)] = 'y';
	cr_assert_eq(ft_req(&t, FUSE_WRITE, e.nodeid, buf, sizeof(buf), &out, sizeof(out), NULL), 0);
	cr_assert_eq(out.size, 1);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	/* set-gid without group-exec: kept for a group member, dropped for others. */
	chmod(ft_path(&t, "f"), 02666);
	cr_assert_eq(chown(ft_path(&t, "f"), 0, 4321), 0);
	chmod(ft_path(&t, "f"), 02666);
	t.gid = 4321;
	cr_assert_eq(ft_req(&t, FUSE_WRITE, e.nodeid, buf, sizeof(buf), &out, sizeof(out), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 02666, "group member keeps set-gid");
	t.gid = 65534;
	cr_assert_eq(ft_req(&t, FUSE_WRITE, e.nodeid, buf, sizeof(buf), &out, sizeof(out), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0666, "non-member loses set-gid");
	t.gid = 0;
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_ops, symlink_readlink_not_followed)
{
	struct fuse_entry_out e, x;
	char buf[256], target[64] = { 0 };
	size_t n = ft_args(buf, NULL, 0, "l", "/etc"), got;
	uint64_t fh;

	cr_assert_eq(ft_req(&t, FUSE_SYMLINK, 1, buf, n, &e, sizeof(e), NULL), 0);
	cr_assert(S_ISLNK(e.attr.mode));
	cr_assert_eq(ft_req(&t, FUSE_READLINK, e.nodeid, NULL, 0, target, sizeof(target), &got), 0);
	cr_assert_eq(got, 4);
	cr_assert_eq(memcmp(target, "/etc", 4), 0);
	/* The server never walks through it: names below a symlink node fail. */
	cr_assert_eq(ft_lookup(&t, e.nodeid, "passwd", &x), -ENOTDIR);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, false, &fh), -ENXIO);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, true, &fh), -ENOTDIR);
	/* READLINK of a non-symlink. */
	cr_assert_lt(ft_req(&t, FUSE_READLINK, 1, NULL, 0, target, sizeof(target), &got), 0);
}

Test(fuse_ops, mknod_fifo_and_device)
{
	struct fuse_mknod_in in = { .mode = S_IFIFO | 0644 };
	struct fuse_entry_out e;
	struct stat st;
	char buf[64];
	size_t n = ft_args(buf, &in, sizeof(in), "p", NULL);
	uint64_t fh;

	cr_assert_eq(ft_req(&t, FUSE_MKNOD, 1, buf, n, &e, sizeof(e), NULL), 0);
	cr_assert(S_ISFIFO(e.attr.mode));
	cr_assert_eq(stat(ft_path(&t, "p"), &st), 0);
	cr_assert(S_ISFIFO(st.st_mode));
	/* Special files are never opened by the server (no hang on a FIFO). */
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, false, &fh), -ENXIO);
	in.mode = S_IFCHR | 0600;
	in.rdev = makedev(1, 3);
	n = ft_args(buf, &in, sizeof(in), "null", NULL);
	cr_assert_eq(ft_req(&t, FUSE_MKNOD, 1, buf, n, &e, sizeof(e), NULL), 0);
	cr_assert(S_ISCHR(e.attr.mode));
	cr_assert_eq(e.attr.rdev, makedev(1, 3));
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &fh), -ENXIO);
}

Test(fuse_ops, unlink)
{
	char buf[64];
	size_t n = ft_args(buf, NULL, 0, "f", NULL);
	struct stat st;

	host_write("f", "x");
	cr_assert_eq(ft_req(&t, FUSE_UNLINK, 1, buf, n, NULL, 0, NULL), 0);
	cr_assert_neq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(ft_req(&t, FUSE_UNLINK, 1, buf, n, NULL, 0, NULL), -ENOENT);
	mkdir(ft_path(&t, "d"), 0755);
	n = ft_args(buf, NULL, 0, "d", NULL);
	cr_assert_eq(ft_req(&t, FUSE_UNLINK, 1, buf, n, NULL, 0, NULL), -EISDIR);
}

Test(fuse_ops, rename_and_rename2)
{
	struct fuse_entry_out d;
	struct fuse_rename_in r = { .newdir = 1 };
	struct fuse_rename2_in r2 = { .newdir = 1 };
	char buf[128], content[8] = { 0 };
	size_t n;
	FILE *f;

	host_write("a", "A");
	host_write("b", "B");
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, &d), 0);
	r.newdir = d.nodeid;
	n = ft_args(buf, &r, sizeof(r), "a", "a2");
	cr_assert_eq(ft_req(&t, FUSE_RENAME, 1, buf, n, NULL, 0, NULL), 0);
	cr_assert_eq(access(ft_path(&t, "d/a2"), F_OK), 0);
	r2.newdir = 1;
	r2.flags = RENAME_NOREPLACE;
	host_write("c", "C");
	n = ft_args(buf, &r2, sizeof(r2), "c", "b");
	cr_assert_eq(ft_req(&t, FUSE_RENAME2, 1, buf, n, NULL, 0, NULL), -EEXIST);
	r2.flags = RENAME_EXCHANGE;
	n = ft_args(buf, &r2, sizeof(r2), "c", "b");
	cr_assert_eq(ft_req(&t, FUSE_RENAME2, 1, buf, n, NULL, 0, NULL), 0);
	f = fopen(ft_path(&t, "b"), "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(content, sizeof(content), f));
	fclose(f);
	cr_assert_str_eq(content, "C");
	r2.flags = RENAME_WHITEOUT;
	n = ft_args(buf, &r2, sizeof(r2), "c", "c2");
	int err = ft_req(&t, FUSE_RENAME2, 1, buf, n, NULL, 0, NULL);
	cr_assert(err == 0 || err == -EINVAL, "whiteout: done or unsupported by the host fs");
	r2.flags = 0x80;
	n = ft_args(buf, &r2, sizeof(r2), "b", "b3");
	cr_assert_eq(ft_req(&t, FUSE_RENAME2, 1, buf, n, NULL, 0, NULL), -EINVAL, "unknown flag");
	n = ft_args(buf, &r, sizeof(r), "nope", "x");
	cr_assert_eq(ft_req(&t, FUSE_RENAME, 1, buf, n, NULL, 0, NULL), -ENOENT);
}

Test(fuse_ops, rename_across_mounts_exdev)
{
	struct fuse_entry_out m;
	struct fuse_rename_in r;
	char buf[64];
	size_t n;

	mkdir(ft_path(&t, "mnt"), 0755);
	if (mount("tmpfs", ft_path(&t, "mnt"), "tmpfs", 0, "size=1m"))
		cr_skip_test("cannot mount a tmpfs here");
	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "mnt", &m), 0);
	r.newdir = m.nodeid;
	n = ft_args(buf, &r, sizeof(r), "f", "f");
	cr_assert_eq(ft_req(&t, FUSE_RENAME, 1, buf, n, NULL, 0, NULL), -EXDEV);
}

Test(fuse_ops, link)
{
	struct fuse_entry_out e, l, d;
	struct fuse_link_in in;
	char buf[64];
	size_t n;

	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	in.oldnodeid = e.nodeid;
	n = ft_args(buf, &in, sizeof(in), "g", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LINK, 1, buf, n, &l, sizeof(l), NULL), 0);
	cr_assert_eq(l.nodeid, e.nodeid);
	cr_assert_eq(l.attr.nlink, 2);
	cr_assert_eq(ft_req(&t, FUSE_LINK, 1, buf, n, &l, sizeof(l), NULL), -EEXIST);
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, &d), 0);
	in.oldnodeid = d.nodeid;
	n = ft_args(buf, &in, sizeof(in), "d2", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LINK, 1, buf, n, &l, sizeof(l), NULL), -EPERM);
}

Test(fuse_ops, statfs)
{
	struct fuse_statfs_out out;

	cr_assert_eq(ft_req(&t, FUSE_STATFS, 1, NULL, 0, &out, sizeof(out), NULL), 0);
	cr_assert_gt(out.st.bsize, 0);
	cr_assert_eq(out.st.namelen, 255);
}

Test(fuse_ops, fsync_flush_fsyncdir_syncfs)
{
	struct fuse_entry_out e;
	struct fuse_fsync_in fs = { 0 };
	struct fuse_flush_in fl = { 0 };
	struct fuse_syncfs_in sf = { 0 };
	uint64_t fh, dh;

	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	fs.fh = fh;
	cr_assert_eq(ft_req(&t, FUSE_FSYNC, e.nodeid, &fs, sizeof(fs), NULL, 0, NULL), 0);
	fs.fsync_flags = FUSE_FSYNC_FDATASYNC;
	cr_assert_eq(ft_req(&t, FUSE_FSYNC, e.nodeid, &fs, sizeof(fs), NULL, 0, NULL), 0);
	fl.fh = fh;
	cr_assert_eq(ft_req(&t, FUSE_FLUSH, e.nodeid, &fl, sizeof(fl), NULL, 0, NULL), 0);
	fl.fh = 12345;
	cr_assert_eq(ft_req(&t, FUSE_FLUSH, e.nodeid, &fl, sizeof(fl), NULL, 0, NULL), -EBADF);
	cr_assert_eq(ft_open(&t, 1, O_RDONLY, true, &dh), 0);
	fs.fh = dh;
	cr_assert_eq(ft_req(&t, FUSE_FSYNCDIR, 1, &fs, sizeof(fs), NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_FSYNC, 1, &fs, sizeof(fs), NULL, 0, NULL), -EBADF);
	cr_assert_eq(ft_req(&t, FUSE_SYNCFS, 1, &sf, sizeof(sf), NULL, 0, NULL), 0);
	ft_release(&t, 1, dh, true);
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_ops, xattrs)
{
	struct fuse_entry_out e;
	struct fuse_setxattr_in si = { .size = 3 };
	struct fuse_getxattr_in gi = { 0 };
	struct fuse_getxattr_out go;
	char buf[512], val[64];
	size_t n, got;

	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	n = ft_args(buf, &si, sizeof(si), "user.k", NULL);
	memcpy(buf + n, "abc", 3);
	n += 3;
	if (ft_req(&t, FUSE_SETXATTR, e.nodeid, buf, n, NULL, 0, NULL) == -EOPNOTSUPP)
		cr_skip_test("no user xattrs on /tmp");
	cr_assert_eq(getxattr(ft_path(&t, "f"), "user.k", val, sizeof(val)), 3);
	si.flags = XATTR_CREATE;
	memcpy(buf, &si, sizeof(si));
	cr_assert_eq(ft_req(&t, FUSE_SETXATTR, e.nodeid, buf, n, NULL, 0, NULL), -EEXIST);
	/* Size 0 probe, exact buffer, too small buffer. */
	n = ft_args(buf, &gi, sizeof(gi), "user.k", NULL);
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, e.nodeid, buf, n, &go, sizeof(go), &got), 0);
	cr_assert_eq(got, sizeof(go));
	cr_assert_eq(go.size, 3);
	gi.size = 3;
	memcpy(buf, &gi, sizeof(gi));
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, e.nodeid, buf, n, val, sizeof(val), &got), 0);
	cr_assert_eq(got, 3);
	cr_assert_eq(memcmp(val, "abc", 3), 0);
	gi.size = 2;
	memcpy(buf, &gi, sizeof(gi));
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, e.nodeid, buf, n, val, sizeof(val), &got), -ERANGE);
	n = ft_args(buf, &gi, sizeof(gi), "user.none", NULL);
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, e.nodeid, buf, n, val, sizeof(val), &got), -ENODATA);
	/* listxattr */
	gi.size = 0;
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, e.nodeid, &gi, sizeof(gi), &go, sizeof(go), NULL), 0);
	cr_assert_geq(go.size, 7);
	gi.size = 100;
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, e.nodeid, &gi, sizeof(gi), val, sizeof(val), &got), 0);
	cr_assert(got >= 7 && memmem(val, got, "user.k", 7));
	gi.size = 3;
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, e.nodeid, &gi, sizeof(gi), val, sizeof(val), &got), -ERANGE);
	/* removexattr */
	n = ft_args(buf, NULL, 0, "user.k", NULL);
	cr_assert_eq(ft_req(&t, FUSE_REMOVEXATTR, e.nodeid, buf, n, NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_REMOVEXATTR, e.nodeid, buf, n, NULL, 0, NULL), -ENODATA);
	/* Too long a name. */
	memset(val, 'x', sizeof(val));
	char longname[300];
	memcpy(longname, "user.", 5);
	memset(longname + 5, 'n', 260);
	longname[265] = 0;
	n = ft_args(buf, NULL, 0, longname, NULL);
	cr_assert_eq(ft_req(&t, FUSE_REMOVEXATTR, e.nodeid, buf, n, NULL, 0, NULL), -ERANGE);
}

Test(fuse_ops, xattr_disabled)
{
	struct fuse_getxattr_in gi = { 0 };
	struct fuse_getxattr_out go;

	ft_teardown(&t);
	ft_setup(&t, "no_xattr");
	/* ENOSYS, as virtiofsd: the kernel client remembers it, answers EOPNOTSUPP itself
	 * and stops sending xattr requests (one round trip per write saved). */
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, 1, &gi, sizeof(gi), &go, sizeof(go), NULL), -ENOSYS);
}

/* Walks a READDIR(PLUS) reply; returns the number of entries, sets *last_off. */
static int count_dirents(const unsigned char *p, size_t len, bool plus, uint64_t *last_off,
			 const char *want, bool *found)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		const struct fuse_dirent *d;
		size_t rec;

		if (plus) {
			const struct fuse_direntplus *dp = (const void *)(p + pos);

			d = &dp->dirent;
			rec = FUSE_DIRENTPLUS_SIZE(dp);
		} else {
			d = (const void *)(p + pos);
			rec = FUSE_DIRENT_SIZE(d);
		}
		cr_assert_leq(pos + rec, len);
		if (want && d->namelen == strlen(want) && !memcmp(d->name, want, d->namelen))
			*found = true;
		*last_off = d->off;
		pos += rec;
		n++;
	}
	return n;
}

static void readdir_all(bool plus, uint32_t size)
{
	struct fuse_read_in in = { 0 };
	unsigned char *buf = malloc(65536);
	size_t got;
	int total = 0;
	uint64_t dh, off = 0;
	bool found = false;
	char name[32];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		host_write(name, "x");
	}
	cr_assert_eq(ft_open(&t, 1, O_RDONLY, true, &dh), 0);
	for (;;) {
		in.fh = dh;
		in.offset = off;
		in.size = size;
		cr_assert_eq(ft_req(&t, plus ? FUSE_READDIRPLUS : FUSE_READDIR, 1, &in, sizeof(in),
				    buf, 65536, &got), 0);
		cr_assert_leq(got, size);
		if (!got)
			break;
		total += count_dirents(buf, got, plus, &off, "file-077", &found);
	}
	cr_assert_eq(total, 102, "100 files plus . and ..");
	cr_assert(found);
	cr_assert_eq(ft_release(&t, 1, dh, true), 0);
	free(buf);
}

Test(fuse_ops, readdir) { readdir_all(false, 4096); }
Test(fuse_ops, readdir_small_buffer) { readdir_all(false, 80); }
Test(fuse_ops, readdirplus) { readdir_all(true, 4096); }
Test(fuse_ops, readdirplus_small_buffer) { readdir_all(true, 200); }

Test(fuse_ops, readdirplus_counts_lookups)
{
	struct fuse_read_in in = { .size = 4096 };
	unsigned char buf[4096];
	struct fuse_entry_out e;
	struct fuse_forget_in f = { .nlookup = 1 };
	struct fuse_attr_out a;
	uint64_t dh;

	host_write("only", "x");
	cr_assert_eq(ft_open(&t, 1, O_RDONLY, true, &dh), 0);
	in.fh = dh;
	cr_assert_eq(ft_req(&t, FUSE_READDIRPLUS, 1, &in, sizeof(in), buf, sizeof(buf), NULL), 0);
	cr_assert_eq(ft_lookup(&t, 1, "only", &e), 0);
	/* Two lookups (readdirplus + lookup): one forget leaves the node alive. */
	ft_req(&t, FUSE_FORGET, e.nodeid, &f, sizeof(f), NULL, 0, NULL);
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), 0);
	ft_req(&t, FUSE_FORGET, e.nodeid, &f, sizeof(f), NULL, 0, NULL);
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), -ESTALE);
	ft_release(&t, 1, dh, true);
}

Test(fuse_ops, access)
{
	struct fuse_entry_out e;
	struct fuse_access_in in = { .mask = R_OK | W_OK };

	host_write("f", "x");
	chmod(ft_path(&t, "f"), 0644);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, e.nodeid, &in, sizeof(in), NULL, 0, NULL), 0);
	t.uid = t.gid = 65534;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, e.nodeid, &in, sizeof(in), NULL, 0, NULL), -EACCES);
	in.mask = R_OK;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, e.nodeid, &in, sizeof(in), NULL, 0, NULL), 0);
	in.mask = X_OK;
	t.uid = t.gid = 0;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, e.nodeid, &in, sizeof(in), NULL, 0, NULL), -EACCES);
}

/* generic/683-685: fallocate, punch-hole and zero-range by a non-owner drop set-id bits
 * (the client sends no kill flag for FALLOCATE); root (CAP_FSETID) keeps them. */
Test(fuse_ops, fallocate_kill_suidgid)
{
	static const uint32_t modes[] = { 0, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  FALLOC_FL_ZERO_RANGE };
	struct fuse_entry_out e;
	struct fuse_fallocate_in fa = { .offset = 0, .length = 4096 };
	struct stat st;
	uint64_t fh;

	host_write("f", "0123456789");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &fh), 0);
	fa.fh = fh;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fa.mode = modes[i];
		chmod(ft_path(&t, "f"), 06755);
		t.uid = t.gid = 0;
		cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0, NULL), 0);
		cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
		cr_assert_eq(st.st_mode & 07777, 06755, "root keeps set-id bits (mode %u)", modes[i]);
		t.uid = t.gid = 65534;
		cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0, NULL), 0);
		cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
		cr_assert_eq(st.st_mode & 07777, 0755, "non-owner drops set-id bits (mode %u)", modes[i]);
		/* set-gid without group-exec goes too: the caller is not in the group. */
		chmod(ft_path(&t, "f"), 02644);
		cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0, NULL), 0);
		cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
		cr_assert_eq(st.st_mode & 07777, 0644);
	}
	t.uid = t.gid = 0;
	ft_release(&t, e.nodeid, fh, false);
}

/* generic/193: chown by root (always flagged KILL_SUIDGID by the client) drops set-uid
 * but keeps set-gid without group-exec, as ext4 does. */
Test(fuse_ops, chown_by_root_keeps_sgid)
{
	struct fuse_entry_out e;
	struct fuse_setattr_in in = { 0 };
	struct fuse_attr_out a;
	struct stat st;

	host_write("f", "x");
	chmod(ft_path(&t, "f"), 06744);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	in.valid = FATTR_UID | FATTR_GID | FATTR_KILL_SUIDGID;
	in.uid = 123;
	in.gid = 123;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 02744);
	/* With group-exec set-gid goes as well. */
	chmod(ft_path(&t, "f"), 06754);
	in.uid = in.gid = 124;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &in, sizeof(in), &a, sizeof(a), NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0754);
}

/* generic/375: an ACL set by a non-member on a set-gid directory drops set-gid. */
Test(fuse_ops, setfacl_kill_sgid_dir)
{
	/* A minimal access ACL (version 2): user::rwx group::r-x other::r-x. */
	static const unsigned char acl[] = { 2, 0, 0, 0,
		1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
		4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff };
	struct fuse_entry_out e;
	struct fuse_setxattr_in si = { .size = sizeof(acl), .setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID };
	char buf[256];
	struct stat st;
	size_t n;
	int err;

	cr_assert_eq(mkdir(ft_path(&t, "d"), 0755), 0);
	chmod(ft_path(&t, "d"), 02755);
	cr_assert_eq(ft_lookup(&t, 1, "d", &e), 0);
	n = ft_args(buf, &si, sizeof(si), "system.posix_acl_access", NULL);
	memcpy(buf + n, acl, sizeof(acl));
	n += sizeof(acl);
	err = ft_req(&t, FUSE_SETXATTR, e.nodeid, buf, n, NULL, 0, NULL);
	if (err == -EOPNOTSUPP)
		cr_skip_test("no POSIX ACLs on /tmp");
	cr_assert_eq(err, 0);
	cr_assert_eq(stat(ft_path(&t, "d"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
}

/* generic/375, the file half: the client's flag drops set-gid from a regular file; without
 * it (a member of the group, or a capable caller) set-gid stays. */
Test(fuse_ops, setfacl_kill_sgid_file)
{
	static const unsigned char acl[] = { 2, 0, 0, 0,
		1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
		4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff };
	struct fuse_entry_out e;
	struct fuse_setxattr_in si = { .size = sizeof(acl) };
	char buf[256];
	struct stat st;
	size_t n;
	int err;

	host_write("f", "x");
	chmod(ft_path(&t, "f"), 02755);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	n = ft_args(buf, &si, sizeof(si), "system.posix_acl_access", NULL);
	memcpy(buf + n, acl, sizeof(acl));
	err = ft_req(&t, FUSE_SETXATTR, e.nodeid, buf, n + sizeof(acl), NULL, 0, NULL);
	if (err == -EOPNOTSUPP)
		cr_skip_test("no POSIX ACLs on /tmp");
	cr_assert_eq(err, 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 02755);
	si.setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID;
	n = ft_args(buf, &si, sizeof(si), "system.posix_acl_access", NULL);
	memcpy(buf + n, acl, sizeof(acl));
	cr_assert_eq(ft_req(&t, FUSE_SETXATTR, e.nodeid, buf, n + sizeof(acl), NULL, 0, NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
}

Test(fuse_ops, fallocate_lseek_data_hole)
{
	struct fuse_entry_out e;
	struct fuse_fallocate_in fa = { .offset = 0, .length = 1 << 20 };
	struct fuse_lseek_in ls = { 0 };
	struct fuse_lseek_out lo;
	struct stat st;
	uint64_t fh;

	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	fa.fh = fh;
	cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0, NULL), 0);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_size, 1 << 20);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, "a", 1), 1);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 4 << 20, "z", 1), 1);
	ls.fh = fh;
	ls.whence = SEEK_DATA;
	ls.offset = 0;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), &lo, sizeof(lo), NULL), 0);
	cr_assert_eq(lo.offset, 0);
	ls.whence = SEEK_HOLE;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), &lo, sizeof(lo), NULL), 0);
	/* ext4 reports fallocated (unwritten) blocks as a hole. */
	cr_assert_gt(lo.offset, 0);
	cr_assert_leq(lo.offset, 4 << 20);
	ls.whence = SEEK_DATA;
	ls.offset = (4 << 20) + 1;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), &lo, sizeof(lo), NULL), -ENXIO);
	ls.whence = 77;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), &lo, sizeof(lo), NULL), -EINVAL);
	fa.length = 0;
	cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0, NULL), -EINVAL);
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_ops, copy_file_range)
{
	struct fuse_entry_out a, b;
	struct fuse_copy_file_range_in in = { 0 };
	struct fuse_write_out wo;
	struct fuse_abi_copy_file_range_out o64;
	uint64_t fa, fb;
	char buf[16] = { 0 };

	cr_assert_eq(ft_create(&t, 1, "a", 0644, O_RDWR, &a, &fa), 0);
	cr_assert_eq(ft_create(&t, 1, "b", 0644, O_RDWR, &b, &fb), 0);
	cr_assert_eq(ft_write(&t, a.nodeid, fa, 0, "0123456789", 10), 10);
	in.fh_in = fa;
	in.off_in = 2;
	in.nodeid_out = b.nodeid;
	in.fh_out = fb;
	in.off_out = 0;
	in.len = 5;
	cr_assert_eq(ft_req(&t, FUSE_COPY_FILE_RANGE, a.nodeid, &in, sizeof(in), &wo, sizeof(wo), NULL), 0);
	cr_assert_eq(wo.size, 5);
	cr_assert_eq(ft_read(&t, b.nodeid, fb, 0, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "23456");
	in.off_out = 5;
	cr_assert_eq(ft_req(&t, FUSE_ABI_OP_COPY_FILE_RANGE_64, a.nodeid, &in, sizeof(in), &o64,
			    sizeof(o64), NULL), 0);
	cr_assert_eq(o64.bytes_copied, 5);
	in.fh_out = 999;
	cr_assert_eq(ft_req(&t, FUSE_COPY_FILE_RANGE, a.nodeid, &in, sizeof(in), &wo, sizeof(wo), NULL), -EBADF);
	ft_release(&t, a.nodeid, fa, false);
	ft_release(&t, b.nodeid, fb, false);
}

Test(fuse_ops, tmpfile)
{
	struct fuse_create_in in = { .flags = O_RDWR, .mode = S_IFREG | 0600 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	char buf[64];
	size_t n = ft_args(buf, &in, sizeof(in), "ignored", NULL);
	int err = ft_req(&t, FUSE_TMPFILE, 1, buf, n, &out, sizeof(out), NULL);

	if (err == -EOPNOTSUPP)
		cr_skip_test("no O_TMPFILE on /tmp");
	cr_assert_eq(err, 0);
	cr_assert(S_ISREG(out.e.attr.mode));
	cr_assert_eq(out.e.attr.nlink, 0);
	cr_assert_eq(ft_write(&t, out.e.nodeid, out.o.fh, 0, "tmp", 3), 3);
	ft_release(&t, out.e.nodeid, out.o.fh, false);
}

Test(fuse_ops, posix_and_flock_locks)
{
	struct fuse_entry_out e;
	struct fuse_lk_in lk = { 0 };
	struct fuse_lk_out lo;
	uint64_t f1, f2;

	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &f1), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &f2), 0);
	lk.fh = f1;
	lk.lk.type = F_WRLCK;
	lk.lk.start = 0;
	lk.lk.end = 99;
	cr_assert_eq(ft_req(&t, FUSE_SETLK, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), 0);
	/* ft_req sends pid 1: GETLK through the other open names it as the holder. */
	lk.fh = f2;
	cr_assert_eq(ft_req(&t, FUSE_SETLK, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), -EAGAIN);
	cr_assert_eq(ft_req(&t, FUSE_GETLK, e.nodeid, &lk, sizeof(lk), &lo, sizeof(lo), NULL), 0);
	cr_assert_eq(lo.lk.type, F_WRLCK);
	cr_assert_eq(lo.lk.end, 99);
	cr_assert_eq(lo.lk.pid, 1);
	lk.lk.start = 100;
	lk.lk.end = INT64_MAX;
	cr_assert_eq(ft_req(&t, FUSE_SETLK, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), 0, "no overlap");
	lk.lk.type = 42;
	cr_assert_eq(ft_req(&t, FUSE_SETLK, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), -EINVAL);
	/* flock() */
	lk.lk_flags = FUSE_LK_FLOCK;
	lk.lk.type = F_WRLCK;
	lk.lk.start = 0;
	lk.lk.end = INT64_MAX;
	lk.fh = f1;
	cr_assert_eq(ft_req(&t, FUSE_SETLK, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), 0);
	lk.fh = f2;
	cr_assert_eq(ft_req(&t, FUSE_SETLK, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), -EAGAIN);
	ft_release(&t, e.nodeid, f1, false);
	cr_assert_eq(ft_req(&t, FUSE_SETLKW, e.nodeid, &lk, sizeof(lk), NULL, 0, NULL), 0,
		     "release dropped the flock");
	ft_release(&t, e.nodeid, f2, false);
}

Test(fuse_ops, locks_disabled_enosys)
{
	struct fuse_lk_in lk = { 0 };

	ft_teardown(&t);
	ft_setup(&t, NULL);
	cr_assert_eq(ft_req(&t, FUSE_SETLK, 1, &lk, sizeof(lk), NULL, 0, NULL), -ENOSYS);
}

Test(fuse_ops, unsupported_opcodes_enosys)
{
	unsigned char arg[128] = { 0 };

	cr_assert_eq(ft_req(&t, FUSE_INTERRUPT, 1, arg, 8, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_BMAP, 1, arg, 16, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_IOCTL, 1, arg, 32, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_POLL, 1, arg, 24, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, 1, arg, 40, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_REMOVEMAPPING, 1, arg, 8, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_ABI_OP_STATX, 1, arg, 24, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, 7, 1, arg, 8, NULL, 0, NULL), -ENOSYS, "hole in the opcode table");
	cr_assert_eq(ft_req(&t, 54, 1, arg, 8, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, CUSE_INIT, 1, arg, 8, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, 0xffffffffu, 1, arg, 8, NULL, 0, NULL), -ENOSYS);
}

Test(fuse_ops, readonly_share)
{
	struct fuse_entry_out e;
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0600 };
	struct fuse_attr_out a;
	char buf[64];
	size_t n;
	uint64_t fh;

	host_write("f", "x");
	ft_teardown(&t);
	/* ft_teardown removed the dir: recreate the file after the new setup. */
	ft_setup(&t, "ro");
	host_write("f", "x");
	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, NULL), -EROFS);
	cr_assert_eq(ft_create(&t, 1, "g", 0644, O_RDWR, NULL, NULL), -EROFS);
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), &a, sizeof(a), NULL), -EROFS);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &fh), -EROFS);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY | O_TRUNC, false, &fh), -EROFS);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, false, &fh), 0);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, "y", 1), -EROFS);
	n = ft_args(buf, NULL, 0, "f", NULL);
	cr_assert_eq(ft_req(&t, FUSE_UNLINK, 1, buf, n, NULL, 0, NULL), -EROFS);
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_ops, cache_modes_set_open_flags)
{
	struct fuse_entry_out e;
	struct fuse_open_in in = { .flags = O_RDONLY };
	struct fuse_open_out out;

	ft_teardown(&t);
	ft_setup(&t, "cache=never");
	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(e.entry_valid, 0);
	cr_assert_eq(ft_req(&t, FUSE_OPEN, e.nodeid, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert(out.open_flags & FOPEN_DIRECT_IO);
	ft_teardown(&t);
	/* auto: files close-to-open (no KEEP_CACHE), listings cached (checked by mtime). */
	ft_setup(&t, "cache=auto");
	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_req(&t, FUSE_OPEN, e.nodeid, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert_eq(out.open_flags & (FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO), 0);
	cr_assert_eq(ft_req(&t, FUSE_OPENDIR, 1, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert(out.open_flags & FOPEN_CACHE_DIR);
	cr_assert(out.open_flags & FOPEN_KEEP_CACHE);
	ft_teardown(&t);
	ft_setup(&t, "cache=always");
	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(e.entry_valid, 86400);
	cr_assert_eq(ft_req(&t, FUSE_OPEN, e.nodeid, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert(out.open_flags & FOPEN_KEEP_CACHE);
	cr_assert_eq(ft_req(&t, FUSE_OPENDIR, 1, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert(out.open_flags & FOPEN_CACHE_DIR);
}

/* Closes skip FLUSH where the host's close is a no-op, never when locks are served. */
Test(fuse_ops, noflush_on_local_fs_without_locks)
{
	struct fuse_entry_out e;
	struct fuse_open_in in = { .flags = O_RDWR };
	struct fuse_open_out out;
	struct statfs sf;

	/* The suite's server serves locks (flock): FLUSH must release them. */
	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_req(&t, FUSE_OPEN, e.nodeid, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert_eq(out.open_flags & FOPEN_NOFLUSH, 0);
	ft_teardown(&t);
	ft_setup(&t, NULL);
	cr_assert_eq(statfs(t.dir, &sf), 0);
	host_write("f", "x");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_req(&t, FUSE_OPEN, e.nodeid, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	if (sf.f_type == 0xEF53 || sf.f_type == 0x01021994 || sf.f_type == 0x58465342)
		cr_assert(out.open_flags & FOPEN_NOFLUSH, "f_type %lx", (unsigned long)sf.f_type);
	cr_assert_eq(ft_req(&t, FUSE_OPENDIR, 1, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert_eq(out.open_flags & FOPEN_NOFLUSH, 0);
}

Test(fuse_ops, submount_announced)
{
	struct fuse_entry_out e, f;

	ft_teardown(&t);
	ft_setup(&t, "announce_submounts");
	mkdir(ft_path(&t, "mnt"), 0755);
	mkdir(ft_path(&t, "plain"), 0755);
	if (mount("tmpfs", ft_path(&t, "mnt"), "tmpfs", 0, "size=1m"))
		cr_skip_test("cannot mount a tmpfs here");
	cr_assert_eq(ft_lookup(&t, 1, "mnt", &e), 0);
	cr_assert(e.attr.flags & FUSE_ATTR_SUBMOUNT);
	cr_assert_eq(ft_lookup(&t, 1, "plain", &f), 0);
	cr_assert_not(f.attr.flags & FUSE_ATTR_SUBMOUNT);
}

Test(fuse_ops, inode_file_handles)
{
	struct fuse_entry_out d, e;
	uint64_t fh;
	char buf[8] = { 0 };

	ft_teardown(&t);
	ft_setup(&t, "inode_file_handles");
	mkdir(ft_path(&t, "d"), 0755);
	host_write("d/f", "abc");
	cr_assert_eq(ft_lookup(&t, 1, "d", &d), 0);
	cr_assert_eq(ft_lookup(&t, d.nodeid, "f", &e), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDONLY, false, &fh), 0);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, 3), 3);
	cr_assert_str_eq(buf, "abc");
	ft_release(&t, e.nodeid, fh, false);
	cr_assert_eq(ft_mkdir(&t, d.nodeid, "sub", 0755, NULL), 0);
}

Test(fuse_ops, writeback_opens_wronly_as_rdwr)
{
	struct fuse_entry_out e;
	uint64_t fh;
	char buf[4] = { 0 };

	ft_teardown(&t);
	ft_setup(&t, "writeback");
	host_write("f", "abc");
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	cr_assert_eq(ft_open(&t, e.nodeid, O_WRONLY | O_APPEND, false, &fh), 0);
	/* The kernel reads around partial pages with writeback caching. */
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, 3), 3);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, "X", 1), 1);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, 3), 3);
	cr_assert_eq(buf[0], 'X', "O_APPEND dropped: the kernel positions writes");
	ft_release(&t, e.nodeid, fh, false);
}

/* DAX hook: a fake window of 1 MiB recording the calls. */
static uint64_t dax_last_moff, dax_last_len;
static int dax_calls;

static int fake_setup(void *opaque, int fd, uint64_t foff, uint64_t len, uint64_t moff, bool w)
{
	cr_assert_geq(fd, 0);
	cr_assert_eq(opaque, &t);
	if (moff + len > (1 << 20))
		return -EINVAL;
	dax_last_moff = moff;
	dax_last_len = len;
	dax_calls++;
	return 0;
}

static int fake_remove(void *opaque, uint64_t moff, uint64_t len)
{
	dax_calls++;
	return 0;
}

static const struct fuse_dax_ops fake_dax = { fake_setup, fake_remove, NULL };

Test(fuse_ops, dax_hook)
{
	struct fuse_init_in ii = { .major = 7, .minor = 45, .flags = FUSE_MAP_ALIGNMENT };
	struct fuse_init_out io;
	struct fuse_setupmapping_in sm = { 0 };
	struct {
		struct fuse_removemapping_in in;
		struct fuse_removemapping_one one[2];
	} rm = { { 2 }, { { 0, 4096 }, { 8192, 4096 } } };
	struct fuse_entry_out e;
	uint64_t fh;

	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	fuse_server_set_dax(t.s, &fake_dax, &t);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &ii, sizeof(ii), &io, sizeof(io), NULL), 0);
	cr_assert(io.flags & FUSE_MAP_ALIGNMENT);
	cr_assert_eq(io.map_alignment, 12);
	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	sm.fh = fh;
	sm.len = 2 << 20;
	sm.moffset = 0;
	sm.flags = FUSE_SETUPMAPPING_FLAG_READ;
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, e.nodeid, &sm, sizeof(sm), NULL, 0, NULL), -EINVAL,
		     "outside the window (checked by the transport)");
	sm.len = 4096;
	sm.moffset = 8192;
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, e.nodeid, &sm, sizeof(sm), NULL, 0, NULL), 0);
	cr_assert_eq(dax_last_moff, 8192);
	cr_assert_eq(dax_last_len, 4096);
	sm.moffset = UINT64_MAX - 100;
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, e.nodeid, &sm, sizeof(sm), NULL, 0, NULL), -EINVAL);
	sm.moffset = 0;
	sm.fh = UINT64_MAX;	/* what Linux sends: the node id names the file */
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, e.nodeid, &sm, sizeof(sm), NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, e.nodeid + 12345, &sm, sizeof(sm), NULL, 0, NULL),
		     -ESTALE);
	cr_assert_eq(ft_req(&t, FUSE_SETUPMAPPING, 1, &sm, sizeof(sm), NULL, 0, NULL), -EINVAL,
		     "a directory cannot be mapped");
	cr_assert_eq(ft_req(&t, FUSE_REMOVEMAPPING, 1, &rm, sizeof(rm), NULL, 0, NULL), 0);
	cr_assert_eq(dax_calls, 4);
	rm.in.count = 3; /* more entries than the request carries */
	cr_assert_eq(ft_req(&t, FUSE_REMOVEMAPPING, 1, &rm, sizeof(rm), NULL, 0, NULL), -EINVAL);
	ft_release(&t, e.nodeid, fh, false);
}

/* MKDIR as uid/gid 65534 with an optional FUSE_CREATE_SUPP_GROUP extension record. */
static int mkdir_with_ext(uint64_t parent, const char *name, const uint32_t *ext, size_t extlen)
{
	struct fuse_mkdir_in in = { .mode = 0755 };
	unsigned char req[512];
	struct fuse_in_header *h = (void *)req;
	size_t argn = sizeof(in) + strlen(name) + 1, pad = (8 - argn % 8) % 8;
	struct fuse_out_header oh;

	memset(req, 0, sizeof(req));
	h->opcode = FUSE_MKDIR;
	h->unique = 77;
	h->nodeid = parent;
	h->uid = h->gid = 65534;
	memcpy(req + sizeof(*h), &in, sizeof(in));
	memcpy(req + sizeof(*h) + sizeof(in), name, strlen(name) + 1);
	/* The kernel pads the arguments so extensions start 8-byte aligned. */
	argn += pad;
	memcpy(req + sizeof(*h) + argn, ext, extlen);
	h->total_extlen = (uint16_t)((extlen + 7) / 8);
	h->len = (uint32_t)(sizeof(*h) + argn + h->total_extlen * 8);
	cr_assert_gt(ft_raw(&t, req, h->len), 0);
	memcpy(&oh, t.out, sizeof(oh));
	return oh.error;
}

Test(fuse_ops, create_with_supplementary_group)
{
	struct fuse_entry_out g;
	struct stat st;
	uint32_t ext[4] = { 16, FUSE_ABI_EXT_GROUPS, 1, 4242 };
	uint32_t other[4] = { 16, 77, 0, 0 };        /* unknown type: skipped */
	uint32_t bad_size[4] = { 12, FUSE_ABI_EXT_GROUPS, 1, 4242 };
	uint32_t bad_count[4] = { 16, FUSE_ABI_EXT_GROUPS, 1000, 4242 };

	cr_assert_eq(ft_mkdir(&t, 1, "grp", 0775, &g), 0);
	cr_assert_eq(chown(ft_path(&t, "grp"), 0, 4242), 0);
	chmod(ft_path(&t, "grp"), 0775);
	cr_assert_eq(mkdir_with_ext(g.nodeid, "a", other, sizeof(other)), -EACCES,
		     "not in the group without the extension");
	cr_assert_eq(mkdir_with_ext(g.nodeid, "a", ext, sizeof(ext)), 0);
	cr_assert_eq(stat(ft_path(&t, "grp/a"), &st), 0);
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(mkdir_with_ext(g.nodeid, "b", bad_size, sizeof(bad_size)), -EINVAL);
	cr_assert_eq(mkdir_with_ext(g.nodeid, "b", bad_count, sizeof(bad_count)), -EINVAL);
	/* The server's own groups are back: a plain request as root still works. */
	cr_assert_eq(ft_mkdir(&t, 1, "after", 0755, NULL), 0);
	gid_t list[64];
	int n = getgroups(64, list);
	for (int i = 0; i < n; i++)
		cr_assert_neq(list[i], 4242);
}
