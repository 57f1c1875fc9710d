/*
 * The version table through the file server: which slots each operation bumps (the bump
 * table of design card item 12 / research 4.3), and the VERTAB wire format (INIT echo,
 * the record after entry and attr replies, nothing without negotiation).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/passthrough.h"
#include "fs/vtab.h"
#include "fs/vtab_fs.h"
#include "tests/unit/fuse_test.h"

static struct ft t;
static char vtdir[64];
static struct vtab *vt;   /* our own mapping of the server's table */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void open_table(void)
{
	char err[256];
	int fd = open(t.dir, O_PATH | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	vt = vtab_open(fd, vtdir, 65536, err, sizeof(err));
	cr_assert_not_null(vt, "%s", err);
	close(fd);
}

static void setup_opts(const char *opts)
{
	strcpy(vtdir, "/tmp/nook-vtf-test-XXXXXX");
	cr_assert_not_null(mkdtemp(vtdir));
	setenv("NOOK_VT_DIR", vtdir, 1);
	ft_setup(&t, opts);
	open_table();
}

static void setup(void) { setup_opts("versions,vt_slots=65536,xattr,no_vt_watch"); }

static void teardown(void)
{
	vtab_close(vt);
	vt = NULL;
	ft_teardown(&t);
	nftw(vtdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(vtab_fuse, .init = setup, .fini = teardown);

static uint64_t slot_of(const char *name)
{
	struct stat st;

	cr_assert_eq(lstat(ft_path(&t, name), &st), 0, "%s", name);
	return vtab_slot(vt, st.st_dev, st.st_ino, 0);
}

/*
 * Expected changes: objects (paths in the share, "" = root) with the meta/data steps
 * they must take. Objects sharing a slot add up, so a collision cannot fail a test.
 */
#define MAXP 8
struct probe {
	const char *name;
	unsigned dm, dd;
};
struct snap {
	int n;
	uint64_t slot[MAXP];
	struct nook_vt_entry_out before[MAXP];
	unsigned dm[MAXP], dd[MAXP];
};

static void snap_take(struct snap *s, const struct probe *p, int n)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < n; i++) {
		uint64_t slot = slot_of(p[i].name);
		int j;

		for (j = 0; j < s->n && s->slot[j] != slot; j++)
			;
		if (j == s->n) {
			s->slot[s->n] = slot;
			vtab_read(vt, slot, &s->before[s->n]);
			s->n++;
		}
		s->dm[j] += p[i].dm;
		s->dd[j] += p[i].dd;
	}
}

static void snap_check(const struct snap *s, const char *what)
{
	for (int j = 0; j < s->n; j++) {
		struct nook_vt_entry_out now;

		vtab_read(vt, s->slot[j], &now);
		cr_assert_eq(now.meta - s->before[j].meta, s->dm[j], "%s: meta of slot %llu moved by %llu",
			     what, (unsigned long long)s->slot[j],
			     (unsigned long long)(now.meta - s->before[j].meta));
		cr_assert_eq(now.data - s->before[j].data, s->dd[j], "%s: data of slot %llu moved by %llu",
			     what, (unsigned long long)s->slot[j],
			     (unsigned long long)(now.data - s->before[j].data));
	}
}

static void host_file(const char *name, const char *data)
{
	FILE *f = fopen(ft_path(&t, name), "w");

	cr_assert_not_null(f);
	fputs(data, f);
	fclose(f);
}

/* link(2) of two share paths (ft_path has one static buffer). */
static int host_link(const char *a, const char *b)
{
	char from[512];

	snprintf(from, sizeof(from), "%s", ft_path(&t, a));
	return link(from, ft_path(&t, b));
}

/* CREATE; checks the reply is entry + open + record. */
static int create(uint64_t parent, const char *name)
{
	struct fuse_create_in in = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
		struct nook_vt_entry_out r;
	} out;
	char buf[300];
	size_t len, n = ft_args(buf, &in, sizeof(in), name, NULL);
	int err = ft_req(&t, FUSE_CREATE, parent, buf, n, &out, sizeof(out), &len);

	if (!err) {
		cr_assert_eq(len, sizeof(out), "create reply: entry, open, record");
		cr_assert_eq(out.r.slot, slot_of(name));
		cr_assert(out.o.open_flags & FOPEN_KEEP_CACHE);
	}
	return err;
}

static uint64_t lookup(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	cr_assert_eq(ft_lookup(&t, parent, name, &e), 0, "lookup %s", name);
	return e.nodeid;
}

Test(vtab_fuse, init_echoes_the_bit)
{
	cr_assert(t.init.flags2 & (1u << 31), "VERTAB is flags2 bit 31");
}

Test(vtab_fuse, lookup_and_getattr_carry_the_record)
{
	struct { struct fuse_entry_out e; struct nook_vt_entry_out r; } le;
	struct { struct fuse_attr_out a; struct nook_vt_entry_out r; } ga;
	struct fuse_getattr_in gin = { 0 };
	struct nook_vt_entry_out now;
	char buf[64];
	size_t len, n;

	host_file("f", "abc");
	vtab_bump(vt, slot_of("f"), VTAB_MD);
	vtab_bump(vt, slot_of("f"), VTAB_META);
	n = ft_args(buf, NULL, 0, "f", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, buf, n, &le, sizeof(le), &len), 0);
	cr_assert_eq(len, sizeof(le), "entry + 32-byte record");
	vtab_read(vt, slot_of("f"), &now);
	cr_assert_eq(le.r.slot, slot_of("f"));
	cr_assert_eq(le.r.meta, now.meta);
	cr_assert_eq(le.r.data, now.data);
	cr_assert_eq(le.r.epoch, now.epoch);
	cr_assert_eq(le.e.attr.size, 3);
	cr_assert_eq(ft_req(&t, FUSE_GETATTR, le.e.nodeid, &gin, sizeof(gin), &ga, sizeof(ga), &len), 0);
	cr_assert_eq(len, sizeof(ga), "attr + record");
	cr_assert_eq(ga.r.slot, le.r.slot);
	cr_assert_eq(ga.r.meta, now.meta);
	/* The root is versioned too. */
	cr_assert_eq(ft_req(&t, FUSE_GETATTR, 1, &gin, sizeof(gin), &ga, sizeof(ga), &len), 0);
	cr_assert_eq(ga.r.slot, slot_of(""));
}

Test(vtab_fuse, negative_lookup_is_a_cacheable_entry)
{
	struct { struct fuse_entry_out e; struct nook_vt_entry_out r; } le;
	char buf[64];
	size_t len, n = ft_args(buf, NULL, 0, "missing", NULL);

	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, buf, n, &le, sizeof(le), &len), 0);
	cr_assert_eq(len, sizeof(le.e), "no record for no object");
	cr_assert_eq(le.e.nodeid, 0);
	cr_assert_eq(le.e.entry_valid, 1);
}

Test(vtab_fuse, reads_bump_nothing)
{
	struct probe p[] = { { "", 0, 0 }, { "f", 0, 0 } };
	struct snap s;
	struct fuse_attr_out a;
	uint64_t node, fh;
	char data[8];

	host_file("f", "hello");
	snap_take(&s, p, 2);
	node = lookup(1, "f");
	cr_assert_eq(ft_getattr(&t, node, &a), 0);
	cr_assert_eq(ft_open(&t, node, O_RDONLY, false, &fh), 0);
	cr_assert_eq(ft_read(&t, node, fh, 0, data, sizeof(data)), 5);
	cr_assert_eq(ft_release(&t, node, fh, false), 0);
	snap_check(&s, "lookup/getattr/open/read");
}

Test(vtab_fuse, write_bumps_meta_and_data)
{
	struct probe p[] = { { "f", 1, 1 }, { "", 0, 0 } };
	struct snap s;
	uint64_t node, fh;

	host_file("f", "");
	node = lookup(1, "f");
	cr_assert_eq(ft_open(&t, node, O_WRONLY, false, &fh), 0);
	snap_take(&s, p, 2);
	cr_assert_eq(ft_write(&t, node, fh, 0, "xyz", 3), 3);
	snap_check(&s, "write");
	/* The bump follows the fh, not the request's node id (a guest can lie there). */
	snap_take(&s, p, 2);
	cr_assert_eq(ft_write(&t, 1, fh, 3, "q", 1), 1);
	snap_check(&s, "write with a forged node id");
	cr_assert_eq(ft_release(&t, node, fh, false), 0);
}

static int setattr(uint64_t node, struct fuse_setattr_in *in)
{
	struct { struct fuse_attr_out a; struct nook_vt_entry_out r; } out;
	size_t len;
	int err = ft_req(&t, FUSE_SETATTR, node, in, sizeof(*in), &out, sizeof(out), &len);

	if (!err) {
		struct nook_vt_entry_out now;

		cr_assert_eq(len, sizeof(out), "setattr reply carries the record");
		vtab_read(vt, out.r.slot, &now);
		cr_assert_eq(out.r.meta, now.meta, "the record is taken after the bump");
	}
	return err;
}

Test(vtab_fuse, setattr_bumps_per_kind)
{
	struct probe meta[] = { { "f", 1, 0 } }, both[] = { { "f", 1, 1 } };
	struct fuse_setattr_in in;
	struct snap s;
	uint64_t node;

	host_file("f", "hello");
	node = lookup(1, "f");
	snap_take(&s, meta, 1);
	in = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = 0600 };
	cr_assert_eq(setattr(node, &in), 0);
	snap_check(&s, "chmod");
	snap_take(&s, meta, 1);
	in = (struct fuse_setattr_in){ .valid = FATTR_MTIME | FATTR_ATIME, .mtime = 5, .atime = 5 };
	cr_assert_eq(setattr(node, &in), 0);
	snap_check(&s, "utimes");
	snap_take(&s, both, 1);
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 2 };
	cr_assert_eq(setattr(node, &in), 0);
	snap_check(&s, "truncate");
}

Test(vtab_fuse, xattr_bumps_meta)
{
	struct probe p[] = { { "f", 1, 0 } };
	struct fuse_setxattr_in in = { .size = 1 };
	char buf[128];
	struct snap s;
	uint64_t node;
	size_t n;

	host_file("f", "x");
	node = lookup(1, "f");
	snap_take(&s, p, 1);
	n = ft_args(buf, &in, sizeof(in), "user.k", NULL);
	buf[n++] = 'v';
	if (ft_req(&t, FUSE_SETXATTR, node, buf, n, NULL, 0, NULL) == -EOPNOTSUPP)
		cr_skip_test("no user xattrs on %s", t.dir);
	snap_check(&s, "setxattr");
	snap_take(&s, p, 1);
	n = ft_args(buf, NULL, 0, "user.k", NULL);
	cr_assert_eq(ft_req(&t, FUSE_REMOVEXATTR, node, buf, n, NULL, 0, NULL), 0);
	snap_check(&s, "removexattr");
}

Test(vtab_fuse, create_and_mkdir_bump_the_parent)
{
	struct probe p[] = { { "", 1, 1 }, { "d", 1, 1 } };
	struct fuse_entry_out e;
	struct snap s;

	cr_assert_eq(mkdir(ft_path(&t, "d"), 0755), 0);
	snap_take(&s, p, 1);
	cr_assert_eq(create(1, "f"), 0);
	snap_check(&s, "create");
	snap_take(&s, p + 1, 1);
	cr_assert_eq(ft_mkdir(&t, lookup(1, "d"), "sub", 0755, &e), 0);
	snap_check(&s, "mkdir in d");
}

Test(vtab_fuse, open_trunc_bumps_the_file)
{
	struct probe p[] = { { "f", 1, 1 } };
	struct snap s;
	uint64_t node, fh;

	host_file("f", "hello");
	node = lookup(1, "f");
	snap_take(&s, p, 1);
	cr_assert_eq(ft_open(&t, node, O_WRONLY | O_TRUNC, false, &fh), 0);
	snap_check(&s, "open O_TRUNC");
	cr_assert_eq(ft_release(&t, node, fh, false), 0);
}

Test(vtab_fuse, unlink_bumps_parent_and_victim)
{
	struct probe p[] = { { "", 1, 1 }, { "g", 1, 0 } };
	struct snap s;
	char buf[64];
	size_t n = ft_args(buf, NULL, 0, "f", NULL);

	host_file("f", "x");
	cr_assert_eq(host_link("f", "g"), 0);
	/* "g" is the same inode as "f": its nlink drops, and it stays stat-able. */
	snap_take(&s, p, 2);
	cr_assert_eq(ft_req(&t, FUSE_UNLINK, 1, buf, n, NULL, 0, NULL), 0);
	snap_check(&s, "unlink");
}

Test(vtab_fuse, rmdir_bumps_parent)
{
	struct probe p[] = { { "", 1, 1 } };
	struct snap s;
	char buf[64];
	size_t n = ft_args(buf, NULL, 0, "d", NULL);

	cr_assert_eq(mkdir(ft_path(&t, "d"), 0755), 0);
	snap_take(&s, p, 1);
	cr_assert_eq(ft_req(&t, FUSE_RMDIR, 1, buf, n, NULL, 0, NULL), 0);
	snap_check(&s, "rmdir");
}

Test(vtab_fuse, rename_bumps_parents_moved_and_target)
{
	struct probe p[] = { { "a", 1, 1 }, { "b", 1, 1 }, { "a/x", 1, 0 }, { "keep", 1, 0 } };
	struct fuse_rename2_in in = { 0 };
	struct snap s;
	char buf[128];
	size_t n;

	cr_assert_eq(mkdir(ft_path(&t, "a"), 0755), 0);
	cr_assert_eq(mkdir(ft_path(&t, "b"), 0755), 0);
	host_file("a/x", "moved");
	host_file("b/y", "overwritten");
	/* A second name keeps the overwritten target stat-able after the rename. */
	cr_assert_eq(host_link("b/y", "keep"), 0);
	in.newdir = lookup(1, "b");
	n = ft_args(buf, &in, sizeof(in), "x", "y");
	snap_take(&s, p, 4);
	cr_assert_eq(ft_req(&t, FUSE_RENAME2, lookup(1, "a"), buf, n, NULL, 0, NULL), 0);
	snap_check(&s, "rename over a target");
}

Test(vtab_fuse, link_bumps_inode_and_new_parent)
{
	struct probe p[] = { { "f", 1, 0 }, { "d", 1, 1 } };
	struct fuse_link_in in;
	struct fuse_entry_out e;
	struct snap s;
	char buf[64];
	size_t n;

	host_file("f", "x");
	cr_assert_eq(mkdir(ft_path(&t, "d"), 0755), 0);
	in.oldnodeid = lookup(1, "f");
	n = ft_args(buf, &in, sizeof(in), "l", NULL);
	snap_take(&s, p, 2);
	cr_assert_eq(ft_req(&t, FUSE_LINK, lookup(1, "d"), buf, n, &e, sizeof(e), NULL), 0);
	snap_check(&s, "link");
}

Test(vtab_fuse, fallocate_bumps_meta_and_data)
{
	struct probe p[] = { { "f", 1, 1 } };
	struct fuse_fallocate_in in = { .offset = 0, .length = 4096 };
	struct snap s;
	uint64_t node;

	host_file("f", "");
	node = lookup(1, "f");
	cr_assert_eq(ft_open(&t, node, O_RDWR, false, &in.fh), 0);
	snap_take(&s, p, 1);
	cr_assert_eq(ft_req(&t, FUSE_FALLOCATE, node, &in, sizeof(in), NULL, 0, NULL), 0);
	snap_check(&s, "fallocate");
}

Test(vtab_fuse, failed_operations_bump_nothing)
{
	struct probe p[] = { { "", 0, 0 } };
	struct snap s;
	char buf[64];
	size_t n = ft_args(buf, NULL, 0, "missing", NULL);

	snap_take(&s, p, 1);
	cr_assert_eq(ft_req(&t, FUSE_UNLINK, 1, buf, n, NULL, 0, NULL), -ENOENT);
	cr_assert_eq(ft_req(&t, FUSE_RMDIR, 1, buf, n, NULL, 0, NULL), -ENOENT);
	snap_check(&s, "failed unlink/rmdir");
}

/* ---- without negotiation ---- */

Test(vtab_fuse_plain, no_versions_no_bit_no_record)
{
	struct { struct fuse_entry_out e; struct nook_vt_entry_out r; } le;
	char buf[64];
	size_t len, n;

	ft_setup(&t, NULL);
	cr_assert_not(t.init.flags2 & (1u << 31), "no table: the bit is not echoed");
	host_file("f", "abc");
	n = ft_args(buf, NULL, 0, "f", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, buf, n, &le, sizeof(le), &len), 0);
	cr_assert_eq(len, sizeof(le.e));
	n = ft_args(buf, NULL, 0, "missing", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, buf, n, &le, sizeof(le), &len), -ENOENT,
		     "a plain client still gets ENOENT");
	ft_teardown(&t);
}

/* A client that did not ask (a host /dev/fuse mount): plain replies, but the server
 * still bumps the table, so guests of the same tree see this client's changes. */
Test(vtab_fuse_plain, not_asked_plain_replies_but_bumps)
{
	struct fuse_init_in in = { .major = 7, .minor = 45, .flags = 0xffffffffu,
				   .flags2 = 0x7fffffffu };
	struct { struct fuse_entry_out e; struct nook_vt_entry_out r; } le;
	struct fuse_init_out out;
	struct fuse_attr_out a[2];
	struct fuse_getattr_in gin = { 0 };
	struct fuse_setattr_in sin = { .valid = FATTR_MODE, .mode = 0600 };
	struct probe p[] = { { "f", 1, 0 } };
	struct snap s;
	char buf[64], err[256];
	size_t len, n;
	struct fs_options o;

	strcpy(vtdir, "/tmp/nook-vtf-test-XXXXXX");
	cr_assert_not_null(mkdtemp(vtdir));
	setenv("NOOK_VT_DIR", vtdir, 1);
	memset(&t, 0, sizeof(t));
	strcpy(t.dir, "/tmp/nook-fuse-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t.dir));
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", t.dir);
	cr_assert_eq(fs_options_parse(&o, "versions,vt_slots=65536,no_vt_watch", err, sizeof(err)), 0);
	t.s = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(t.s, "%s", err);
	t.out = malloc(FT_OUT);
	t.out_len = FT_OUT;
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out), &len), 0);
	cr_assert_not(out.flags2 & (1u << 31));
	open_table();
	host_file("f", "abc");
	n = ft_args(buf, NULL, 0, "f", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, buf, n, &le, sizeof(le), &len), 0);
	cr_assert_eq(len, sizeof(le.e));
	cr_assert_eq(ft_req(&t, FUSE_GETATTR, le.e.nodeid, &gin, sizeof(gin), a, sizeof(a), &len), 0);
	cr_assert_eq(len, sizeof(a[0]));
	snap_take(&s, p, 1);
	cr_assert_eq(ft_req(&t, FUSE_SETATTR, le.e.nodeid, &sin, sizeof(sin), a, sizeof(a), &len), 0);
	cr_assert_eq(len, sizeof(a[0]));
	snap_check(&s, "chmod by a plain client");
	teardown();
}

Test(vtab_fuse_plain, options_parse)
{
	struct fs_options o;
	char err[256];

	fs_options_init(&o);
	cr_assert_not(o.versions, "off by default");
	cr_assert_eq(fs_options_parse(&o, "versions,vt_slots=1024", err, sizeof(err)), 0);
	cr_assert(o.versions);
	cr_assert_eq(o.vt_slots, 1024);
	cr_assert_eq(fs_options_parse(&o, "no_versions", err, sizeof(err)), 0);
	cr_assert_not(o.versions);
	cr_assert_eq(fs_options_parse(&o, "vt_slots=1000", err, sizeof(err)), -1);
	cr_assert(strstr(err, "power of two"), "%s", err);
	cr_assert_eq(fs_options_parse(&o, "vt_slots=1", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "vt_slots=134217728", err, sizeof(err)), -1);
	cr_assert_eq(fs_options_parse(&o, "versions=1", err, sizeof(err)), -1);
}

/* Without CAP_SYS_ADMIN there is no fanotify helper: the server still works, says so
 * once, and flags its records TIMED so the guest keeps its timeouts for outside changes. */
Test(vtab_fuse_plain, no_fanotify_means_timed_records)
{
	struct __user_cap_header_struct ch = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cd[2];
	struct { struct fuse_entry_out e; struct nook_vt_entry_out r; } le;
	char buf[64];
	size_t len, n;

	cr_assert_eq(syscall(SYS_capget, &ch, cd), 0);
	cd[0].effective &= ~(1u << CAP_SYS_ADMIN);
	cr_assert_eq(syscall(SYS_capset, &ch, cd), 0);
	setup_opts("versions,vt_slots=65536");
	host_file("f", "abc");
	n = ft_args(buf, NULL, 0, "f", NULL);
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, buf, n, &le, sizeof(le), &len), 0);
	cr_assert_eq(len, sizeof(le));
	cr_assert_eq(le.r.slot, slot_of("f") | NOOK_VT_TIMED, "slot %#llx",
		     (unsigned long long)le.r.slot);
	teardown();
}

/* A writable DAX mapping flags its file's slot: by node, as DAX setups name the file. */
Test(vtab_fuse_plain, volatile_flag_by_node)
{
	struct fs_options o;
	struct pt_fs fs;
	struct nook_vt_entry_out r;
	struct stat st;
	char err[256];

	strcpy(vtdir, "/tmp/nook-vtf-test-XXXXXX");
	cr_assert_not_null(mkdtemp(vtdir));
	setenv("NOOK_VT_DIR", vtdir, 1);
	strcpy(t.dir, "/tmp/nook-fuse-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t.dir));
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", t.dir);
	cr_assert_eq(fs_options_parse(&o, "versions,vt_slots=64,no_vt_watch", err, sizeof(err)), 0);
	cr_assert_eq(pt_fs_init(&fs, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vtfs_attach(&fs, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(t.dir, &st), 0);
	vtfs_volatile_node(&fs, 1);
	vtab_read(fs.vt, vtab_slot(fs.vt, st.st_dev, st.st_ino, 0), &r);
	cr_assert(r.meta & VTAB_META_VOLATILE, "meta %#llx", (unsigned long long)r.meta);
	vtfs_volatile_node(&fs, 12345); /* unknown node: nothing */
	vtfs_detach(&fs);
	pt_fs_destroy(&fs);
	rmdir(t.dir);
	nftw(vtdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}
