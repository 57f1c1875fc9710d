/*
 * Escape attempts straight into fuse_dispatch(): the requests a hostile guest can send
 * but a Linux client never would ("..", names with '/', operations on symlink inodes).
 * Layout: T/share is the shared directory, T/canary/victim must never change.
 * Built with ASan/UBSan as build/tests/fs-dispatch-tests (tests/fs/fs.mk).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_server.h"

static char de_tmp[64], de_share[96], de_canary[96], de_victim[128];
static struct fuse_server *de_srv;
static uint64_t de_unique;
static struct stat de_victim_st, de_canary_st, de_tmp_st;

struct de_reply {
	struct fuse_out_header h;
	unsigned char body[8192];
};

/* Sends opcode on nodeid with arg, then up to two NUL-terminated strings. */
static int de_call(uint32_t opcode, uint64_t nodeid, const void *arg, size_t arglen,
		   const char *s1, const char *s2, struct de_reply *r)
{
	unsigned char req[8192];
	struct fuse_in_header ih = { .opcode = opcode, .nodeid = nodeid, .unique = ++de_unique };
	size_t off = sizeof(ih);

	if (arglen)
		memcpy(req + off, arg, arglen);
	off += arglen;
	if (s1) {
		memcpy(req + off, s1, strlen(s1) + 1);
		off += strlen(s1) + 1;
	}
	if (s2) {
		memcpy(req + off, s2, strlen(s2) + 1);
		off += strlen(s2) + 1;
	}
	ih.len = (uint32_t)off;
	memcpy(req, &ih, sizeof(ih));
	struct iovec in = { req, off }, out = { r, sizeof(*r) };

	memset(r, 0, sizeof(*r));
	size_t n = fuse_dispatch(de_srv, &in, 1, &out, 1);

	cr_assert_geq(n, sizeof(r->h), "opcode %u: no reply", opcode);
	cr_assert_eq(r->h.len, n);
	cr_assert_eq(r->h.unique, ih.unique);
	return r->h.error;
}

static int de_rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void de_put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0 && write(fd, data, strlen(data)) == (ssize_t)strlen(data));
	close(fd);
}

static void de_setup(void)
{
	struct fs_options o;
	char err[256], p[160];
	struct de_reply r;

	snprintf(de_tmp, sizeof(de_tmp), "/tmp/nook-dispatch.XXXXXX");
	cr_assert(mkdtemp(de_tmp));
	snprintf(de_share, sizeof(de_share), "%s/share", de_tmp);
	snprintf(de_canary, sizeof(de_canary), "%s/canary", de_tmp);
	snprintf(de_victim, sizeof(de_victim), "%s/victim", de_canary);
	cr_assert(mkdir(de_share, 0755) == 0 && mkdir(de_canary, 0755) == 0);
	de_put(de_victim, "victim");
	snprintf(p, sizeof(p), "%s/dir", de_share);
	cr_assert(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/dir/sub", de_share);
	de_put(p, "sub");
	stat(de_victim, &de_victim_st);
	stat(de_canary, &de_canary_st);
	stat(de_tmp, &de_tmp_st);

	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", de_share);
	o.xattr = true;
	de_srv = fuse_server_new(&o, err, sizeof(err));
	cr_assert(de_srv, "fuse_server_new: %s", err);
	struct fuse_init_in ii = {
		.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 65536, .flags = 0x7fffffff, .flags2 = 0,
	};
	cr_assert_eq(de_call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, NULL, &r), 0);
}

/* Nothing next to the share changed: canary entries, times, the temp dir's listing.
 * Returns what changed, or NULL. */
static const char *de_outside_changed(void)
{
	struct stat v, c, t;

	if (stat(de_victim, &v) || stat(de_canary, &c) || stat(de_tmp, &t))
		return "canary or temp dir vanished";
	if (v.st_ctim.tv_sec != de_victim_st.st_ctim.tv_sec ||
	    v.st_ctim.tv_nsec != de_victim_st.st_ctim.tv_nsec || v.st_uid != de_victim_st.st_uid ||
	    v.st_mode != de_victim_st.st_mode || v.st_size != 6 || v.st_nlink != 1)
		return "victim changed";
	if (c.st_mtim.tv_sec != de_canary_st.st_mtim.tv_sec ||
	    c.st_mtim.tv_nsec != de_canary_st.st_mtim.tv_nsec)
		return "canary dir changed";
	if (t.st_mtim.tv_sec != de_tmp_st.st_mtim.tv_sec ||
	    t.st_mtim.tv_nsec != de_tmp_st.st_mtim.tv_nsec)
		return "entries appeared next to the share";
	return NULL;
}

/* Cleans up first (an assertion ends .fini), then reports. */
static void de_teardown(void)
{
	const char *changed = NULL;

	if (de_srv) {
		changed = de_outside_changed();
		fuse_server_free(de_srv);
		de_srv = NULL;
	}
	nftw(de_tmp, de_rm, 16, FTW_DEPTH | FTW_PHYS);
	cr_assert(!changed, "%s", changed);
}

TestSuite(dispatch, .init = de_setup, .fini = de_teardown);

static uint64_t de_lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	struct de_reply r;
	int err = de_call(FUSE_LOOKUP, parent, NULL, 0, name, NULL, &r);

	if (err)
		return 0;
	memcpy(e, r.body, sizeof(*e));
	return e->nodeid;
}

Test(dispatch, dotdot_and_dot_at_root_stay_at_root)
{
	struct fuse_entry_out e, root;
	struct de_reply r;
	struct stat share;

	cr_assert_eq(stat(de_share, &share), 0);
	cr_assert_eq(de_call(FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){ 0 },
			     sizeof(struct fuse_getattr_in), NULL, NULL, &r), 0);
	memcpy(&root.attr, r.body + offsetof(struct fuse_attr_out, attr), sizeof(root.attr));
	cr_assert_eq(root.attr.ino, share.st_ino);
	const char *names[] = { "..", ".", "../canary", "../share", "../..", "/" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t id = de_lookup(FUSE_ROOT_ID, names[i], &e);

		cr_assert(!id || e.attr.ino == share.st_ino,
			  "LOOKUP(root, \"%s\") left the share (ino %llu)", names[i],
			  (unsigned long long)e.attr.ino);
	}
	/* From a subdirectory ".." may only ever be the share root. */
	uint64_t dir = de_lookup(FUSE_ROOT_ID, "dir", &e);

	cr_assert(dir);
	uint64_t up = de_lookup(dir, "..", &e);

	cr_assert(!up || e.attr.ino == share.st_ino);
}

Test(dispatch, names_with_slash_or_dots_refused)
{
	struct fuse_entry_out e;
	struct de_reply r;
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644 };
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	const char *bad[] = { "dir/sub", "../canary/x", "..", ".", "a/", "/abs", "" };

	cr_assert_eq(de_lookup(FUSE_ROOT_ID, "dir/sub", &e), 0, "LOOKUP with '/' must fail");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(de_call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), bad[i], NULL, &r),
			      0, "MKDIR \"%s\"", bad[i]);
		cr_assert_neq(de_call(FUSE_CREATE, FUSE_ROOT_ID, &cr, sizeof(cr), bad[i], NULL, &r),
			      0, "CREATE \"%s\"", bad[i]);
		cr_assert_neq(de_call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), bad[i], NULL, &r),
			      0, "MKNOD \"%s\"", bad[i]);
		cr_assert_neq(de_call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, bad[i], "t", &r), 0,
			      "SYMLINK \"%s\"", bad[i]);
		cr_assert_neq(de_call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "dir", bad[i], &r),
			      0, "RENAME to \"%s\"", bad[i]);
		cr_assert_neq(de_call(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, bad[i], NULL, &r), 0,
			      "UNLINK \"%s\"", bad[i]);
		cr_assert_neq(de_call(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, bad[i], NULL, &r), 0,
			      "RMDIR \"%s\"", bad[i]);
	}
	/* The share still holds exactly what it held. */
	struct stat st;
	char p[160];

	snprintf(p, sizeof(p), "%s/dir/sub", de_share);
	cr_assert_eq(stat(p, &st), 0);
}

Test(dispatch, symlink_targets_are_data_never_followed)
{
	struct fuse_entry_out e;
	struct de_reply r;
	char up[32];

	/* Absolute and climbing targets are stored verbatim. */
	cr_assert_eq(de_call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "abs", de_canary, &r), 0);
	snprintf(up, sizeof(up), "../canary");
	cr_assert_eq(de_call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "up", up, &r), 0);
	uint64_t abs = de_lookup(FUSE_ROOT_ID, "abs", &e);

	cr_assert(abs && S_ISLNK(e.attr.mode));
	uint64_t upn = de_lookup(FUSE_ROOT_ID, "up", &e);

	cr_assert(upn && S_ISLNK(e.attr.mode));
	cr_assert_eq(de_call(FUSE_READLINK, abs, NULL, 0, NULL, NULL, &r), 0);
	cr_assert(!memcmp(r.body, de_canary, strlen(de_canary)));

	/* Used as a directory: every request must fail, nothing may land in the canary. */
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644 };
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	uint64_t links[] = { abs, upn };

	for (int i = 0; i < 2; i++) {
		cr_assert_neq(de_call(FUSE_CREATE, links[i], &cr, sizeof(cr), "x", NULL, &r), 0);
		cr_assert_neq(de_call(FUSE_MKDIR, links[i], &mk, sizeof(mk), "y", NULL, &r), 0);
		cr_assert_neq(de_call(FUSE_MKNOD, links[i], &mn, sizeof(mn), "z", NULL, &r), 0);
		cr_assert_neq(de_call(FUSE_SYMLINK, links[i], NULL, 0, "s", "t", &r), 0);
		cr_assert_neq(de_call(FUSE_UNLINK, links[i], NULL, 0, "victim", NULL, &r), 0);
		cr_assert_eq(de_lookup(links[i], "victim", &e), 0);
		struct fuse_link_in li = { .oldnodeid = FUSE_ROOT_ID };

		cr_assert_neq(de_call(FUSE_LINK, links[i], &li, sizeof(li), "h", NULL, &r), 0);
		struct fuse_rename_in rn = { .newdir = links[i] };

		cr_assert_neq(de_call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "dir", "moved",
				      &r), 0);
		/* Opening the link must not open its target. */
		struct fuse_open_in oi = { .flags = O_RDONLY };

		if (de_call(FUSE_OPEN, links[i], &oi, sizeof(oi), NULL, NULL, &r) == 0) {
			struct fuse_open_out oo;
			struct fuse_read_in rd = { .size = 64 };

			memcpy(&oo, r.body, sizeof(oo));
			rd.fh = oo.fh;
			if (de_call(FUSE_READ, links[i], &rd, sizeof(rd), NULL, NULL, &r) == 0)
				cr_assert(r.h.len == sizeof(r.h) || memcmp(r.body, "victim", 6),
					  "OPEN of a symlink read the file it points to");
		}
		struct fuse_open_in od = { .flags = O_RDONLY | O_DIRECTORY };

		cr_assert_neq(de_call(FUSE_OPENDIR, links[i], &od, sizeof(od), NULL, NULL, &r), 0,
			      "OPENDIR of a symlink must fail");
	}
	/* Attribute changes apply to the link (or fail), never to what it names. */
	struct fuse_setattr_in sa = { .valid = FATTR_UID | FATTR_GID, .uid = 4242, .gid = 4242 };

	de_call(FUSE_SETATTR, abs, &sa, sizeof(sa), NULL, NULL, &r);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFLNK | 0777 };
	de_call(FUSE_SETATTR, abs, &sa, sizeof(sa), NULL, NULL, &r);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MTIME | FATTR_ATIME, .mtime = 1, .atime = 1 };
	de_call(FUSE_SETATTR, abs, &sa, sizeof(sa), NULL, NULL, &r);
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 0 };
	cr_assert_neq(de_call(FUSE_SETATTR, abs, &sa, sizeof(sa), NULL, NULL, &r), 0,
		      "truncating a symlink must fail");
	struct fuse_setxattr_in sx = { .size = 1 };
	unsigned char xreq[64];

	memcpy(xreq, &sx, sizeof(sx));
	memcpy(xreq + sizeof(sx), "user.k\0v", 8);
	de_call(FUSE_SETXATTR, abs, xreq, sizeof(sx) + 8, NULL, NULL, &r);
	/* de_teardown checks the victim and canary. */
}

Test(dispatch, forged_nodeids_and_handles_refused)
{
	struct de_reply r;
	struct fuse_getattr_in ga = { 0 };
	struct fuse_read_in rd = { .fh = 0xdeadbeef, .size = 16 };
	const uint64_t ids[] = { 0, 2, 0xdeadbeef, UINT64_MAX, (uint64_t)(uintptr_t)&r };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		cr_assert_neq(de_call(FUSE_GETATTR, ids[i], &ga, sizeof(ga), NULL, NULL, &r), 0,
			      "GETATTR of nodeid %#llx", (unsigned long long)ids[i]);
		rd.fh = ids[i];
		cr_assert_neq(de_call(FUSE_READ, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, NULL, &r), 0,
			      "READ of fh %#llx", (unsigned long long)ids[i]);
	}
}
