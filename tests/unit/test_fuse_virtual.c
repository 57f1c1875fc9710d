/* Virtual files of the root directory (fuse_server_add_virtual) over a temporary share. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/fuse_test.h"

#define INIT_NAME  ".nook-init"
#define RUN_NAME   ".nook-run"
#define EMPTY_NAME "empty"
#define INIT_LEN   10000u	/* three pages and a bit: page-wise reads end short */

static struct ft t;
static unsigned char init_data[INIT_LEN];
static const char run_data[] = "NOOKRUN1\0aecho\0ahi";

/*
 * ft_setup with three virtual files added between fuse_server_new and INIT, where a
 * transport adds them (before serving): INIT_NAME 0555, RUN_NAME 0400, EMPTY_NAME 0444.
 */
static void vt_setup(const char *opts)
{
	struct fuse_init_in in = {
		.major = 7, .minor = 45, .max_readahead = 131072,
		.flags = 0xffffffffu, .flags2 = 0xffffffffu,
	};
	struct fs_options o;
	char err[256];

	for (size_t i = 0; i < INIT_LEN; i++)
		init_data[i] = (unsigned char)(i * 7 + i / 251);
	memset(&t, 0, sizeof(t));
	strcpy(t.dir, "/tmp/nook-fuse-virt-XXXXXX");
	cr_assert_not_null(mkdtemp(t.dir));
	chmod(t.dir, 0755);
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", t.dir);
	if (opts)
		cr_assert_eq(fs_options_parse(&o, opts, err, sizeof(err)), 0, "%s", err);
	t.s = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(t.s, "%s", err);
	t.out = malloc(FT_OUT);
	cr_assert_not_null(t.out);
	t.out_len = FT_OUT;
	cr_assert_eq(fuse_server_add_virtual(t.s, INIT_NAME, init_data, INIT_LEN, 0555), 0);
	cr_assert_eq(fuse_server_add_virtual(t.s, RUN_NAME, run_data, sizeof(run_data), 0400), 0);
	cr_assert_eq(fuse_server_add_virtual(t.s, EMPTY_NAME, NULL, 0, 0444), 0);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &in, sizeof(in), &t.init, sizeof(t.init), NULL), 0);
}

static void setup(void) { vt_setup(NULL); }
static void teardown(void) { ft_teardown(&t); }

TestSuite(fuse_virtual, .init = setup, .fini = teardown);

static void host_write(const char *name, const char *data)
{
	FILE *f = fopen(ft_path(&t, name), "w");

	cr_assert_not_null(f);
	fputs(data, f);
	fclose(f);
}

static bool host_exists(const char *name)
{
	struct stat st;

	return lstat(ft_path(&t, name), &st) == 0;
}

static uint64_t vt_node(const char *name)
{
	struct fuse_entry_out e;

	cr_assert_eq(ft_lookup(&t, 1, name, &e), 0, "lookup %s", name);
	return e.nodeid;
}

static uint64_t vt_open(uint64_t node)
{
	uint64_t fh;

	cr_assert_eq(ft_open(&t, node, O_RDONLY, false, &fh), 0);
	return fh;
}

/* A request made of a fixed struct and up to two names. */
static int vt_req(uint32_t op, uint64_t node, const void *st, size_t stlen, const char *n1,
		  const char *n2)
{
	char buf[1024];
	size_t n = ft_args(buf, st, stlen, n1, n2);
	unsigned char body[512];

	return ft_req(&t, op, node, buf, n, body, sizeof(body), NULL);
}

Test(fuse_virtual, lookup_finds_it_with_its_attributes)
{
	struct fuse_entry_out e, again, run, empty;
	struct fuse_attr_out a;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	cr_assert_eq(ft_lookup(&t, 1, INIT_NAME, &e), 0);
	cr_assert_neq(e.nodeid, 0);
	cr_assert_neq(e.nodeid, 1);
	cr_assert_eq(e.attr.mode, S_IFREG | 0555);
	cr_assert_eq(e.attr.size, INIT_LEN);
	cr_assert_eq(e.attr.nlink, 1);
	cr_assert_eq(e.attr.uid, 0);
	cr_assert_eq(e.attr.gid, 0);
	cr_assert_eq(e.attr.rdev, 0);
	cr_assert_eq(e.attr.blksize, 4096);
	cr_assert_eq(e.attr.blocks, 24, "three 4 KiB blocks in 512-byte units");
	cr_assert_neq(e.attr.ino, 0);
	cr_assert_leq(e.attr.mtime, (uint64_t)now.tv_sec);
	cr_assert_geq(e.attr.mtime + 60, (uint64_t)now.tv_sec, "the server's start");
	cr_assert_eq(e.attr.atime, e.attr.mtime);
	cr_assert_eq(e.attr.ctime, e.attr.mtime);
	cr_assert_eq(e.entry_valid, 1, "cache=auto: like every other entry");
	cr_assert_eq(e.attr_valid, 1);
	/* Stable: the same node and inode number at every lookup. */
	cr_assert_eq(ft_lookup(&t, 1, INIT_NAME, &again), 0);
	cr_assert_eq(again.nodeid, e.nodeid);
	cr_assert_eq(again.attr.ino, e.attr.ino);
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), 0);
	cr_assert_eq(a.attr_valid, 1);
	cr_assert_eq(memcmp(&a.attr, &e.attr, sizeof(a.attr)), 0);
	/* The others have their own ids, modes and sizes. */
	cr_assert_eq(ft_lookup(&t, 1, RUN_NAME, &run), 0);
	cr_assert_neq(run.nodeid, e.nodeid);
	cr_assert_neq(run.attr.ino, e.attr.ino);
	cr_assert_eq(run.attr.mode, S_IFREG | 0400);
	cr_assert_eq(run.attr.size, sizeof(run_data));
	cr_assert_eq(run.attr.blocks, 8);
	cr_assert_eq(ft_lookup(&t, 1, EMPTY_NAME, &empty), 0);
	cr_assert_eq(empty.attr.size, 0);
	cr_assert_eq(empty.attr.blocks, 0);
	/* Other names are still the host's. */
	cr_assert_eq(ft_lookup(&t, 1, ".nook-ini", NULL), -ENOENT);
	cr_assert_eq(ft_lookup(&t, 1, ".nook-init2", NULL), -ENOENT);
	cr_assert_eq(ft_lookup(&t, 1, "..", &again), 0);
	cr_assert_eq(again.nodeid, 1);
}

/* The names of a READDIR(PLUS) listing of the root, from offset 0 to the end. */
static void vt_list_root(bool plus, bool *saw_host, bool *saw_virtual)
{
	struct fuse_read_in in = { .size = 4096 };
	unsigned char buf[4096];
	uint64_t dh;
	size_t got;

	*saw_host = *saw_virtual = false;
	cr_assert_eq(ft_open(&t, 1, O_RDONLY, true, &dh), 0);
	for (;;) {
		size_t pos = 0;

		in.fh = dh;
		cr_assert_eq(ft_req(&t, plus ? FUSE_READDIRPLUS : FUSE_READDIR, 1, &in,
				    sizeof(in), buf, sizeof(buf), &got), 0);
		if (!got)
			break;
		while (pos < got) {
			const struct fuse_direntplus *dp = (const void *)(buf + pos);
			const struct fuse_dirent *d = plus ? &dp->dirent : (const void *)(buf + pos);
			size_t rec = plus ? FUSE_DIRENTPLUS_SIZE(dp) : FUSE_DIRENT_SIZE(d);
			char name[256];

			cr_assert_leq(pos + rec, got);
			snprintf(name, sizeof(name), "%.*s", (int)d->namelen, d->name);
			if (!strcmp(name, "visible"))
				*saw_host = true;
			if (!strcmp(name, INIT_NAME) || !strcmp(name, RUN_NAME) ||
			    !strcmp(name, EMPTY_NAME))
				*saw_virtual = true;
			in.offset = d->off;
			pos += rec;
		}
	}
	cr_assert_eq(ft_release(&t, 1, dh, true), 0);
}

Test(fuse_virtual, no_listing_of_the_root_shows_it)
{
	bool host, virt;

	host_write("visible", "x");
	vt_list_root(false, &host, &virt);
	cr_assert(host);
	cr_assert_not(virt, "READDIR lists only host entries");
	vt_list_root(true, &host, &virt);
	cr_assert(host);
	cr_assert_not(virt, "READDIRPLUS lists only host entries");
}

Test(fuse_virtual, read_honours_offset_and_size)
{
	static unsigned char buf[1u << 20];
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_open_out oo;
	struct fuse_flush_in fl = { 0 };
	uint64_t node = vt_node(INIT_NAME), fh;

	cr_assert_eq(ft_req(&t, FUSE_OPEN, node, &oi, sizeof(oi), &oo, sizeof(oo), NULL), 0);
	fh = oo.fh;
	cr_assert_eq(oo.open_flags & FOPEN_DIRECT_IO, 0, "exec maps it: page cache only");
	cr_assert(oo.open_flags & FOPEN_KEEP_CACHE, "the data never changes");
	cr_assert_eq(ft_read(&t, node, fh, 0, buf, 4096), 4096);
	cr_assert_eq(memcmp(buf, init_data, 4096), 0);
	cr_assert_eq(ft_read(&t, node, fh, 5000, buf, 1000), 1000, "middle");
	cr_assert_eq(memcmp(buf, init_data + 5000, 1000), 0);
	cr_assert_eq(ft_read(&t, node, fh, 8192, buf, 4096), INIT_LEN - 8192, "short at EOF");
	cr_assert_eq(memcmp(buf, init_data + 8192, INIT_LEN - 8192), 0);
	cr_assert_eq(ft_read(&t, node, fh, INIT_LEN - 1, buf, 4096), 1);
	cr_assert_eq(buf[0], init_data[INIT_LEN - 1]);
	cr_assert_eq(ft_read(&t, node, fh, INIT_LEN, buf, 4096), 0, "at EOF");
	cr_assert_eq(ft_read(&t, node, fh, INIT_LEN + 4096, buf, 4096), 0, "past EOF");
	cr_assert_eq(ft_read(&t, node, fh, UINT64_MAX / 2, buf, 4096), 0);
	cr_assert_eq(ft_read(&t, node, fh, UINT64_MAX, buf, 4096), -EINVAL, "as for host files");
	cr_assert_eq(ft_read(&t, node, fh, 100, buf, 0), 0, "size 0");
	cr_assert_eq(ft_read(&t, node, fh, 0, buf, 1u << 20), INIT_LEN, "all of it");
	cr_assert_eq(memcmp(buf, init_data, INIT_LEN), 0);
	/* Reply buffers scattered in 7-byte pieces, then too small for the request. */
	t.split = 7;
	cr_assert_eq(ft_read(&t, node, fh, 1, buf, 4096), 4096);
	cr_assert_eq(memcmp(buf, init_data + 1, 4096), 0);
	t.split = 0;
	t.out_len = sizeof(struct fuse_out_header) + 100;
	cr_assert_eq(ft_read(&t, node, fh, 10, buf, 4096), 100, "bounded by the reply room");
	cr_assert_eq(memcmp(buf, init_data + 10, 100), 0);
	t.out_len = FT_OUT;
	/* An empty file reads as nothing at every offset. */
	cr_assert_eq(ft_read(&t, vt_node(EMPTY_NAME), vt_open(vt_node(EMPTY_NAME)), 0, buf, 4096), 0);
	fl.fh = fh;
	cr_assert_eq(ft_req(&t, FUSE_FLUSH, node, &fl, sizeof(fl), NULL, 0, NULL), 0);
	cr_assert_eq(ft_release(&t, node, fh, false), 0);
	/* Every open gets the same fh: no state to release, so a second RELEASE is fine. */
	cr_assert_eq(vt_open(node), fh);
	cr_assert_eq(ft_release(&t, node, fh, false), 0);
	cr_assert_eq(ft_read(&t, vt_node(RUN_NAME), vt_open(vt_node(RUN_NAME)), 0, buf, 4096),
		     sizeof(run_data));
	cr_assert_eq(memcmp(buf, run_data, sizeof(run_data)), 0);
}

Test(fuse_virtual, lseek_fsync_statfs)
{
	uint64_t node = vt_node(INIT_NAME), fh = vt_open(node);
	struct fuse_lseek_in li = { .fh = fh, .offset = 100, .whence = SEEK_DATA };
	struct fuse_lseek_out lo;
	struct fuse_fsync_in fi = { .fh = fh };
	struct fuse_statfs_out a, b;

	cr_assert_eq(ft_req(&t, FUSE_LSEEK, node, &li, sizeof(li), &lo, sizeof(lo), NULL), 0);
	cr_assert_eq(lo.offset, 100);
	li.whence = SEEK_HOLE;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, node, &li, sizeof(li), &lo, sizeof(lo), NULL), 0);
	cr_assert_eq(lo.offset, INIT_LEN);
	li.offset = INIT_LEN;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, node, &li, sizeof(li), &lo, sizeof(lo), NULL), -ENXIO);
	li.whence = 99;
	cr_assert_eq(ft_req(&t, FUSE_LSEEK, node, &li, sizeof(li), &lo, sizeof(lo), NULL), -EINVAL);
	cr_assert_eq(ft_req(&t, FUSE_FSYNC, node, &fi, sizeof(fi), NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_STATFS, node, NULL, 0, &a, sizeof(a), NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_STATFS, 1, NULL, 0, &b, sizeof(b), NULL), 0);
	cr_assert_eq(a.st.bsize, b.st.bsize, "the share's figures");
	cr_assert_eq(a.st.blocks, b.st.blocks);
}

Test(fuse_virtual, open_for_writing_and_access)
{
	uint64_t init = vt_node(INIT_NAME), run = vt_node(RUN_NAME), fh;
	struct fuse_access_in ai = { .mask = W_OK };

	cr_assert_eq(ft_open(&t, init, O_WRONLY, false, &fh), -EACCES);
	cr_assert_eq(ft_open(&t, init, O_RDWR, false, &fh), -EACCES);
	cr_assert_eq(ft_open(&t, init, O_RDONLY | O_TRUNC, false, &fh), -EACCES);
	cr_assert_eq(ft_open(&t, init, O_ACCMODE, false, &fh), -EACCES);
	cr_assert_eq(ft_open(&t, init, O_RDONLY, true, &fh), -ENOTDIR, "OPENDIR");
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, init, &ai, sizeof(ai), NULL, 0, NULL), -EACCES);
	ai.mask = R_OK | X_OK;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, init, &ai, sizeof(ai), NULL, 0, NULL), 0);
	ai.mask = X_OK;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, run, &ai, sizeof(ai), NULL, 0, NULL), -EACCES,
		     "root needs an x bit to execute");
	ai.mask = F_OK;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, run, &ai, sizeof(ai), NULL, 0, NULL), 0);
	/* Another user: the "other" bits. */
	t.uid = t.gid = 1000;
	ai.mask = R_OK | X_OK;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, init, &ai, sizeof(ai), NULL, 0, NULL), 0);
	ai.mask = R_OK;
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, run, &ai, sizeof(ai), NULL, 0, NULL), -EACCES);
}

Test(fuse_virtual, modifying_requests_fail_with_eperm)
{
	uint64_t node = vt_node(INIT_NAME), fh = vt_open(node), hfh;
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
	struct fuse_rename_in rn = { .newdir = 1 };
	struct fuse_rename2_in rn2 = { .newdir = 1, .flags = RENAME_EXCHANGE };
	struct fuse_link_in ln = { .oldnodeid = node };
	struct fuse_mknod_in mk = { .mode = S_IFREG | 0644 };
	struct fuse_mkdir_in md = { .mode = 0755 };
	struct fuse_setxattr_in sx = { .size = 1 };
	struct fuse_fallocate_in fa = { .fh = fh, .length = 4096 };
	struct fuse_copy_file_range_in cf = { .len = 10 };
	struct fuse_entry_out host;
	struct fuse_attr_out a;
	char buf[64];
	size_t n;

	host_write("hostfile", "h");
	cr_assert_eq(ft_lookup(&t, 1, "hostfile", &host), 0);
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, node, &sa, sizeof(sa), &a, sizeof(a), NULL), -EPERM);
	sa.valid = FATTR_SIZE;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, node, &sa, sizeof(sa), &a, sizeof(a), NULL), -EPERM);
	sa.valid = FATTR_ATIME | FATTR_MTIME_NOW;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, node, &sa, sizeof(sa), &a, sizeof(a), NULL), -EPERM);
	sa.valid = 0;
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, node, &sa, sizeof(sa), &a, sizeof(a), NULL), 0,
		     "no change asked: the attributes");
	cr_assert_eq(a.attr.mode, S_IFREG | 0555);
	cr_assert_eq(vt_req(FUSE_UNLINK, 1, NULL, 0, INIT_NAME, NULL), -EPERM);
	cr_assert_eq(vt_req(FUSE_RMDIR, 1, NULL, 0, INIT_NAME, NULL), -EPERM);
	cr_assert_eq(vt_req(FUSE_RENAME, 1, &rn, sizeof(rn), INIT_NAME, "moved"), -EPERM);
	cr_assert_eq(vt_req(FUSE_RENAME, 1, &rn, sizeof(rn), "hostfile", INIT_NAME), -EPERM);
	cr_assert_eq(vt_req(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "hostfile", RUN_NAME), -EPERM);
	cr_assert_eq(vt_req(FUSE_LINK, 1, &ln, sizeof(ln), "hardlink", NULL), -EPERM);
	ln.oldnodeid = host.nodeid;
	cr_assert_eq(vt_req(FUSE_LINK, 1, &ln, sizeof(ln), INIT_NAME, NULL), -EPERM);
	cr_assert_eq(ft_create(&t, 1, INIT_NAME, 0644, O_RDWR | O_CREAT, NULL, NULL), -EPERM);
	cr_assert_eq(vt_req(FUSE_MKNOD, 1, &mk, sizeof(mk), RUN_NAME, NULL), -EPERM);
	cr_assert_eq(vt_req(FUSE_MKDIR, 1, &md, sizeof(md), INIT_NAME, NULL), -EPERM);
	cr_assert_eq(vt_req(FUSE_SYMLINK, 1, NULL, 0, INIT_NAME, "target"), -EPERM);
	/* SETXATTR: the struct, the name, the value. */
	n = ft_args(buf, &sx, sizeof(sx), "user.x", "v");
	cr_assert_eq(ft_req(&t, FUSE_SETXATTR, node, buf, n - 1, NULL, 0, NULL), -EPERM);
	cr_assert_eq(vt_req(FUSE_REMOVEXATTR, node, NULL, 0, "user.x", NULL), -EPERM);
	cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, node, &fa, sizeof(fa), NULL, 0, NULL), -EPERM);
	/* COPY_FILE_RANGE into it is refused; out of it, the client copies by itself. */
	cr_assert_eq(ft_create(&t, 1, "dst", 0644, O_RDWR | O_CREAT, NULL, &hfh), 0);
	cf.fh_in = hfh;
	cf.fh_out = fh;
	cr_assert_eq(ft_req(&t, FUSE_COPY_FILE_RANGE, 1, &cf, sizeof(cf), buf, sizeof(buf), NULL),
		     -EPERM);
	cf.fh_in = fh;
	cf.fh_out = hfh;
	cr_assert_eq(ft_req(&t, FUSE_COPY_FILE_RANGE, 1, &cf, sizeof(cf), buf, sizeof(buf), NULL),
		     -EOPNOTSUPP);
	/* Nothing reached the host. */
	cr_assert_not(host_exists(INIT_NAME));
	cr_assert_not(host_exists(RUN_NAME));
	cr_assert_not(host_exists("moved"));
	cr_assert_not(host_exists("hardlink"));
	cr_assert(host_exists("hostfile"));
}

Test(fuse_virtual, xattrs_are_empty)
{
	uint64_t node = vt_node(INIT_NAME);
	struct fuse_getxattr_in gi = { .size = 0 };
	struct fuse_getxattr_out go = { .size = 99 };
	char buf[64], body[64];
	size_t n = ft_args(buf, &gi, sizeof(gi), "user.x", NULL), got;

	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, node, buf, n, body, sizeof(body), NULL), -ENODATA);
	gi.size = 64;
	n = ft_args(buf, &gi, sizeof(gi), "security.capability", NULL);
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, node, buf, n, body, sizeof(body), NULL), -ENODATA);
	gi.size = 0;
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, node, &gi, sizeof(gi), &go, sizeof(go), &got), 0);
	cr_assert_eq(got, sizeof(go));
	cr_assert_eq(go.size, 0);
	gi.size = 64;
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, node, &gi, sizeof(gi), body, sizeof(body), &got), 0);
	cr_assert_eq(got, 0, "an empty list");
}

Test(fuse_virtual, it_is_not_a_directory)
{
	uint64_t node = vt_node(INIT_NAME);
	struct fuse_mkdir_in md = { .mode = 0755 };
	struct fuse_rename_in rn = { .newdir = node };
	struct fuse_link_in ln;
	struct fuse_entry_out host;
	char target[64];
	size_t got;

	host_write("hostfile", "h");
	cr_assert_eq(ft_lookup(&t, 1, "hostfile", &host), 0);
	cr_assert_eq(ft_lookup(&t, node, "x", NULL), -ENOTDIR);
	cr_assert_eq(ft_lookup(&t, node, INIT_NAME, NULL), -ENOTDIR);
	cr_assert_eq(ft_lookup(&t, node, ".", NULL), -ENOTDIR);
	cr_assert_eq(ft_lookup(&t, node, "..", NULL), -ENOTDIR);
	cr_assert_eq(ft_mkdir(&t, node, "d", 0755, NULL), -ENOTDIR);
	cr_assert_eq(vt_req(FUSE_MKDIR, node, &md, sizeof(md), "d", NULL), -ENOTDIR);
	cr_assert_eq(ft_create(&t, node, "f", 0644, O_RDWR | O_CREAT, NULL, NULL), -ENOTDIR);
	cr_assert_eq(vt_req(FUSE_UNLINK, node, NULL, 0, "f", NULL), -ENOTDIR);
	cr_assert_eq(vt_req(FUSE_RENAME, 1, &rn, sizeof(rn), "hostfile", "x"), -ENOTDIR,
		     "as the new directory");
	ln.oldnodeid = host.nodeid;
	cr_assert_eq(vt_req(FUSE_LINK, node, &ln, sizeof(ln), "x", NULL), -ENOTDIR);
	cr_assert_eq(ft_req(&t, FUSE_READLINK, node, NULL, 0, target, sizeof(target), &got),
		     -EINVAL, "nor a symlink");
	cr_assert(host_exists("hostfile"));
}

Test(fuse_virtual, forged_ids_next_to_the_range_are_refused)
{
	uint64_t ids[3] = { vt_node(INIT_NAME), vt_node(RUN_NAME), vt_node(EMPTY_NAME) };
	uint64_t lo = ids[0], hi = ids[0], fh;
	struct fuse_forget_in fg = { .nlookup = 1 };
	struct fuse_attr_out a;
	char buf[16];

	for (int i = 1; i < 3; i++) {
		lo = ids[i] < lo ? ids[i] : lo;
		hi = ids[i] > hi ? ids[i] : hi;
	}
	cr_assert_eq(hi - lo, 2, "one range");
	/* Unknown node ids get the server's answer for any unknown id. */
	cr_assert_eq(ft_getattr(&t, lo - 1, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, hi + 1, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, hi + 2, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, hi & 0xffffffffull, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, lo & ~0xffffffffull, &a), -ESTALE);
	cr_assert_eq(ft_lookup(&t, hi + 1, "x", NULL), -ESTALE);
	cr_assert_eq(ft_open(&t, hi + 1, O_RDONLY, false, &fh), -ESTALE);
	cr_assert_eq(ft_open(&t, lo - 1, O_RDONLY, false, &fh), -ESTALE);
	ft_req(&t, FUSE_FORGET, hi + 1, &fg, sizeof(fg), NULL, 0, NULL);
	/* Unknown fhs likewise. */
	cr_assert_eq(ft_read(&t, lo, hi + 1, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_read(&t, lo, lo - 1, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_release(&t, lo, hi + 1, false), -EBADF);
	/* A virtual fh is no directory handle. */
	cr_assert_eq(ft_release(&t, 1, lo, true), -EBADF);
	cr_assert_eq(ft_getattr(&t, lo, &a), 0);
}

Test(fuse_virtual, it_shadows_a_host_file_of_the_same_name)
{
	unsigned char buf[64];
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;

	host_write(INIT_NAME, "host data");
	cr_assert_eq(ft_lookup(&t, 1, INIT_NAME, &e), 0);
	cr_assert_eq(e.attr.size, INIT_LEN, "the virtual file, not the host's");
	cr_assert_eq(e.attr.mode, S_IFREG | 0555);
	fh = vt_open(e.nodeid);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, sizeof(buf)), sizeof(buf));
	cr_assert_eq(memcmp(buf, init_data, sizeof(buf)), 0);
	/* ...and the host file stays as it is. */
	cr_assert_eq(vt_req(FUSE_UNLINK, 1, NULL, 0, INIT_NAME, NULL), -EPERM);
	cr_assert_eq(stat(ft_path(&t, INIT_NAME), &st), 0);
	cr_assert_eq(st.st_size, 9);
}

Test(fuse_virtual, a_subdirectory_has_only_host_files)
{
	struct fuse_entry_out d, e;
	unsigned char buf[16];
	uint64_t fh;

	cr_assert_eq(ft_mkdir(&t, 1, "d", 0755, &d), 0);
	cr_assert_eq(ft_lookup(&t, d.nodeid, INIT_NAME, NULL), -ENOENT);
	host_write("d/" INIT_NAME, "sub");
	cr_assert_eq(ft_lookup(&t, d.nodeid, INIT_NAME, &e), 0);
	cr_assert_eq(e.attr.size, 3, "the host's file");
	cr_assert_neq(e.nodeid, vt_node(INIT_NAME));
	cr_assert_eq(ft_open(&t, e.nodeid, O_RDWR, false, &fh), 0);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, sizeof(buf)), 3);
	cr_assert_eq(memcmp(buf, "sub", 3), 0);
	cr_assert_eq(ft_release(&t, e.nodeid, fh, false), 0);
	cr_assert_eq(vt_req(FUSE_UNLINK, d.nodeid, NULL, 0, INIT_NAME, NULL), 0);
	cr_assert_not(host_exists("d/" INIT_NAME));
	cr_assert_eq(ft_create(&t, d.nodeid, RUN_NAME, 0644, O_RDWR | O_CREAT, NULL, NULL), 0);
	cr_assert(host_exists("d/" RUN_NAME));
}

Test(fuse_virtual, forget_is_harmless)
{
	uint64_t init = vt_node(INIT_NAME), run = vt_node(RUN_NAME);
	struct fuse_forget_in fg = { .nlookup = 1000 };
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} bf = { .in.count = 2, .one = { { init, 5 }, { run, UINT64_MAX } } };
	struct fuse_attr_out a;
	unsigned char buf[8];

	cr_assert_eq(ft_req(&t, FUSE_FORGET, init, &fg, sizeof(fg), NULL, 0, NULL), 1, "no reply");
	cr_assert_eq(ft_req(&t, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0, NULL), 1);
	cr_assert_eq(ft_getattr(&t, init, &a), 0);
	cr_assert_eq(ft_getattr(&t, run, &a), 0);
	cr_assert_eq(vt_node(INIT_NAME), init);
	cr_assert_eq(ft_read(&t, init, vt_open(init), 0, buf, sizeof(buf)), sizeof(buf));
	/* The root survives a FORGET sent next to it as well. */
	cr_assert_eq(ft_getattr(&t, 1, &a), 0);
}

Test(fuse_virtual, it_outlives_a_destroy)
{
	struct fuse_init_in in = { .major = 7, .minor = 45, .flags = 0xffffffffu };
	struct fuse_init_out out;
	uint64_t init = vt_node(INIT_NAME);

	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out), NULL), 0);
	cr_assert_eq(vt_node(INIT_NAME), init, "the next mount finds it again");
}

Test(fuse_virtual, on_a_readonly_share)
{
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
	struct fuse_access_in ai = { .mask = W_OK };
	struct fuse_rename_in rn = { .newdir = 1 };
	struct fuse_attr_out a;
	unsigned char buf[64];
	uint64_t node, fh;

	ft_teardown(&t);
	vt_setup("ro");
	node = vt_node(INIT_NAME);
	fh = vt_open(node);
	cr_assert_eq(ft_read(&t, node, fh, 0, buf, sizeof(buf)), sizeof(buf));
	cr_assert_eq(memcmp(buf, init_data, sizeof(buf)), 0);
	cr_assert_eq(ft_open(&t, node, O_RDWR, false, &fh), -EROFS);
	cr_assert_eq(ft_open(&t, node, O_RDONLY | O_TRUNC, false, &fh), -EROFS);
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, node, &sa, sizeof(sa), &a, sizeof(a), NULL), -EROFS);
	cr_assert_eq(ft_req(&t, FUSE_ACCESS, node, &ai, sizeof(ai), NULL, 0, NULL), -EROFS);
	cr_assert_eq(vt_req(FUSE_UNLINK, 1, NULL, 0, INIT_NAME, NULL), -EROFS);
	cr_assert_eq(vt_req(FUSE_RENAME, 1, &rn, sizeof(rn), INIT_NAME, "x"), -EROFS);
	cr_assert_eq(vt_req(FUSE_REMOVEXATTR, node, NULL, 0, "user.x", NULL), -EROFS);
	cr_assert_eq(ft_write(&t, node, fh, 0, "x", 1), -EROFS);
	cr_assert_eq(ft_getattr(&t, node, &a), 0);
	cr_assert_eq(a.attr.mode, S_IFREG | 0555);
}

Test(fuse_virtual, without_xattrs)
{
	struct fuse_getxattr_in gi = { .size = 0 };
	char buf[64];
	size_t n;
	uint64_t node;

	ft_teardown(&t);
	vt_setup("no_xattr");
	node = vt_node(INIT_NAME);
	n = ft_args(buf, &gi, sizeof(gi), "user.x", NULL);
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, node, buf, n, NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(ft_req(&t, FUSE_LISTXATTR, node, &gi, sizeof(gi), NULL, 0, NULL), -ENOSYS);
	cr_assert_eq(vt_req(FUSE_REMOVEXATTR, node, NULL, 0, "user.x", NULL), -ENOSYS);
}

Test(fuse_virtual, stats_count_its_requests)
{
	FILE *log = tmpfile();
	char line[256];
	unsigned long long lookups = 0, reads = 0;
	unsigned char buf[8];
	uint64_t node;
	int saved;

	ft_teardown(&t);
	vt_setup("stats");
	node = vt_node(INIT_NAME);
	vt_node(RUN_NAME);
	cr_assert_eq(ft_lookup(&t, 1, "missing", NULL), -ENOENT);
	cr_assert_eq(ft_read(&t, node, vt_open(node), 0, buf, sizeof(buf)), sizeof(buf));
	/* The counts are printed on stderr when the server is freed. */
	cr_assert_not_null(log);
	saved = dup(2);
	cr_assert_geq(saved, 0);
	dup2(fileno(log), 2);
	fuse_server_free(t.s);
	t.s = NULL;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		sscanf(line, "fs stats: LOOKUP %llu", &lookups);
		sscanf(line, "fs stats: READ %llu", &reads);
	}
	fclose(log);
	cr_assert_eq(lookups, 3);
	cr_assert_eq(reads, 1);
}

Test(fuse_virtual, add_refuses_bad_arguments)
{
	struct fs_options o;
	struct fuse_server *s;
	char err[256], name[300];
	int r = 0, added = 0;

	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", t.dir);
	s = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(fuse_server_add_virtual(s, NULL, "x", 1, 0444), -EINVAL);
	cr_assert_eq(fuse_server_add_virtual(s, "", "x", 1, 0444), -EINVAL);
	cr_assert_eq(fuse_server_add_virtual(s, "a/b", "x", 1, 0444), -EINVAL);
	cr_assert_eq(fuse_server_add_virtual(s, "/a", "x", 1, 0444), -EINVAL);
	cr_assert_eq(fuse_server_add_virtual(s, ".", "x", 1, 0444), -EINVAL);
	cr_assert_eq(fuse_server_add_virtual(s, "..", "x", 1, 0444), -EINVAL);
	memset(name, 'n', 256);
	name[256] = 0;
	cr_assert_eq(fuse_server_add_virtual(s, name, "x", 1, 0444), -EINVAL, "NAME_MAX + 1");
	cr_assert_eq(fuse_server_add_virtual(s, "f", "x", 1, 04755), -EINVAL, "set-uid");
	cr_assert_eq(fuse_server_add_virtual(s, "f", "x", 1, S_IFREG | 0444), -EINVAL);
	cr_assert_eq(fuse_server_add_virtual(s, "f", NULL, 1, 0444), -EINVAL);
	name[255] = 0;
	cr_assert_eq(fuse_server_add_virtual(s, name, "x", 1, 0444), 0, "NAME_MAX");
	cr_assert_eq(fuse_server_add_virtual(s, "f", "x", 1, 0444), 0);
	cr_assert_eq(fuse_server_add_virtual(s, "f", "y", 1, 0555), -EEXIST);
	for (int i = 0; i < 100 && !r; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		r = fuse_server_add_virtual(s, name, "x", 1, 0444);
		added += !r;
	}
	cr_assert_eq(r, -ENOSPC);
	cr_assert_geq(added, 2, "room for the init and its request at least");
	fuse_server_free(s);
}
