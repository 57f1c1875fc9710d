/* Helpers of the FUSE server unit tests (see fuse_test.h). */
#include "tests/unit/fuse_test.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static int ft_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	remove(p);
	return 0;
}

void ft_setup(struct ft *t, const char *opts)
{
	ft_setup_backing(t, opts, NULL, NULL);
}

void ft_setup_backing(struct ft *t, const char *opts, const struct fuse_backing_ops *ops,
		      void *opaque)
{
	struct fs_options o;
	struct fuse_init_in in = { 0 };
	struct fuse_init_out out;
	char err[256];
	size_t got;

	memset(t, 0, sizeof(*t));
	strcpy(t->dir, "/tmp/nook-fuse-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
	chmod(t->dir, 0755);
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", t->dir);
	if (opts)
		cr_assert_eq(fs_options_parse(&o, opts, err, sizeof(err)), 0, "%s", err);
	t->s = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(t->s, "%s", err);
	t->out = malloc(FT_OUT);
	cr_assert_not_null(t->out);
	t->out_len = FT_OUT;
	fuse_server_set_backing(t->s, ops, opaque);
	in.major = 7;
	in.minor = 45;
	in.max_readahead = 131072;
	in.flags = 0xffffffffu;
	in.flags2 = 0xffffffffu;
	cr_assert_eq(ft_req(t, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out), &got), 0);
	cr_assert_eq(got, sizeof(out));
	t->init = out;
}

void ft_teardown(struct ft *t)
{
	fuse_server_free(t->s);
	free(t->out);
	umount2(ft_path(t, "mnt"), MNT_DETACH);
	nftw(t->dir, ft_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *ft_path(struct ft *t, const char *name)
{
	static __thread char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", t->dir, name);
	return buf;
}

/* Cuts [p, p+len) into pieces of t->split bytes (all of it in one piece if 0). */
/* Only the first FT_SPLIT_SPAN bytes are cut; the rest is one piece (keeps it fast). */
#define FT_SPLIT_SPAN 4096

static int ft_scatter(struct ft *t, void *p, size_t len, struct iovec **iov)
{
	size_t piece = t->split ? t->split : (len ? len : 1);
	size_t span = t->split && len > FT_SPLIT_SPAN ? FT_SPLIT_SPAN : len;
	int n = (int)((span + piece - 1) / piece), i;

	*iov = calloc((size_t)n + 2, sizeof(**iov));
	cr_assert_not_null(*iov);
	for (i = 0; i < n; i++) {
		size_t off = (size_t)i * piece;

		(*iov)[i].iov_base = (char *)p + off;
		(*iov)[i].iov_len = span - off < piece ? span - off : piece;
	}
	if (span < len) {
		(*iov)[n].iov_base = (char *)p + span;
		(*iov)[n].iov_len = len - span;
		n++;
	}
	if (n == 0)
		n = 1; /* one empty piece */
	return n;
}

size_t ft_raw(struct ft *t, const void *req, size_t len)
{
	struct iovec *in, *out;
	void *copy = malloc(len ? len : 1);
	int ni, no;

	memcpy(copy, req, len);
	ni = ft_scatter(t, copy, len, &in);
	no = ft_scatter(t, t->out, t->out_len, &out);
	t->reply_len = fuse_dispatch(t->s, in, ni, out, no);
	free(in);
	free(out);
	free(copy);
	return t->reply_len;
}

int ft_req(struct ft *t, uint32_t op, uint64_t nodeid, const void *arg, size_t arglen,
	   void *body, size_t bodymax, size_t *bodylen)
{
	size_t len = sizeof(struct fuse_in_header) + arglen, n;
	unsigned char *req = malloc(len);
	struct fuse_in_header *h = (void *)req;
	struct fuse_out_header oh;

	memset(h, 0, sizeof(*h));
	h->len = (uint32_t)len;
	h->opcode = op;
	h->unique = ++t->unique;
	h->nodeid = nodeid;
	h->uid = t->uid;
	h->gid = t->gid;
	h->pid = 1;
	if (arglen)
		memcpy(req + sizeof(*h), arg, arglen);
	n = ft_raw(t, req, len);
	free(req);
	if (bodylen)
		*bodylen = 0;
	if (n == 0)
		return 1; /* no reply */
	cr_assert_geq(n, sizeof(oh));
	memcpy(&oh, t->out, sizeof(oh));
	cr_assert_eq(oh.len, n);
	cr_assert_eq(oh.unique, t->unique);
	if (oh.error)
		cr_assert_eq(n, sizeof(oh), "error replies carry no body");
	if (body) {
		size_t b = n - sizeof(oh);

		memcpy(body, t->out + sizeof(oh), b < bodymax ? b : bodymax);
		if (bodylen)
			*bodylen = b;
	}
	return oh.error;
}

size_t ft_args(void *buf, const void *st, size_t stlen, const char *n1, const char *n2)
{
	unsigned char *p = buf;
	size_t off = stlen;

	if (stlen)
		memcpy(p, st, stlen);
	if (n1) {
		memcpy(p + off, n1, strlen(n1) + 1);
		off += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(p + off, n2, strlen(n2) + 1);
		off += strlen(n2) + 1;
	}
	return off;
}

int ft_lookup(struct ft *t, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	char buf[4096];
	size_t n = ft_args(buf, NULL, 0, name, NULL);
	struct fuse_entry_out dummy;

	return ft_req(t, FUSE_LOOKUP, parent, buf, n, e ? e : &dummy, sizeof(*e), NULL);
}

int ft_mkdir(struct ft *t, uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 0 };
	char buf[4096];
	size_t n = ft_args(buf, &in, sizeof(in), name, NULL);
	struct fuse_entry_out dummy;

	return ft_req(t, FUSE_MKDIR, parent, buf, n, e ? e : &dummy, sizeof(dummy), NULL);
}

int ft_create(struct ft *t, uint64_t parent, const char *name, uint32_t mode, uint32_t flags,
	      struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = S_IFREG | mode };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	char buf[4096];
	size_t n = ft_args(buf, &in, sizeof(in), name, NULL), got;
	int err = ft_req(t, FUSE_CREATE, parent, buf, n, &out, sizeof(out), &got);

	if (!err) {
		cr_assert_eq(got, sizeof(out));
		if (e)
			*e = out.e;
		if (fh)
			*fh = out.o.fh;
	}
	return err;
}

int ft_open(struct ft *t, uint64_t node, uint32_t flags, bool dir, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	struct fuse_open_out out;
	int err = ft_req(t, dir ? FUSE_OPENDIR : FUSE_OPEN, node, &in, sizeof(in), &out,
			 sizeof(out), NULL);

	if (!err && fh)
		*fh = out.fh;
	return err;
}

int ft_release(struct ft *t, uint64_t node, uint64_t fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };

	return ft_req(t, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node, &in, sizeof(in), NULL, 0, NULL);
}

int64_t ft_write(struct ft *t, uint64_t node, uint64_t fh, uint64_t off, const void *data, uint32_t len)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = len };
	unsigned char *buf = malloc(sizeof(in) + len);
	struct fuse_write_out out;
	int err;

	memcpy(buf, &in, sizeof(in));
	memcpy(buf + sizeof(in), data, len);
	err = ft_req(t, FUSE_WRITE, node, buf, sizeof(in) + len, &out, sizeof(out), NULL);
	free(buf);
	return err ? (int64_t)err : (int64_t)out.size;
}

int64_t ft_read(struct ft *t, uint64_t node, uint64_t fh, uint64_t off, void *data, uint32_t len)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = len };
	size_t got;
	int err = ft_req(t, FUSE_READ, node, &in, sizeof(in), data, len, &got);

	return err ? err : (int64_t)got;
}

int ft_getattr(struct ft *t, uint64_t node, struct fuse_attr_out *a)
{
	struct fuse_getattr_in in = { 0 };

	return ft_req(t, FUSE_GETATTR, node, &in, sizeof(in), a, sizeof(*a), NULL);
}
