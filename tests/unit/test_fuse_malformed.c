/*
 * Hostile requests: lying lengths, short arguments, bad names, unknown ids, huge sizes,
 * tiny or scattered buffers. Each must give an error reply or no reply, never a crash
 * or an out-of-bounds access (this binary runs under ASan/UBSan).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_iov.h"
#include "tests/unit/fuse_test.h"

static struct ft t;

static void setup(void) { ft_setup(&t, NULL); }
static void teardown(void) { ft_teardown(&t); }

TestSuite(fuse_bad, .init = setup, .fini = teardown);

/* Builds header+args in buf with an explicit header len; returns the buffer size. */
static size_t mkreq(unsigned char *buf, uint32_t op, uint64_t node, uint32_t hlen,
		    const void *arg, size_t arglen)
{
	struct fuse_in_header h = { .len = hlen, .opcode = op, .unique = 77, .nodeid = node };

	memcpy(buf, &h, sizeof(h));
	if (arglen)
		memcpy(buf + sizeof(h), arg, arglen);
	return sizeof(h) + arglen;
}

static int reply_error(void)
{
	struct fuse_out_header oh;

	cr_assert_geq(t.reply_len, sizeof(oh));
	memcpy(&oh, t.out, sizeof(oh));
	cr_assert_eq(oh.len, t.reply_len);
	cr_assert_eq(oh.unique, 77);
	return oh.error;
}

Test(fuse_bad, buffer_shorter_than_header)
{
	unsigned char buf[64];

	mkreq(buf, FUSE_GETATTR, 1, 40, NULL, 0);
	cr_assert_eq(ft_raw(&t, buf, 39), 0);
	cr_assert_eq(ft_raw(&t, buf, 0), 0);
}

Test(fuse_bad, header_len_longer_than_buffers)
{
	unsigned char buf[128];
	struct fuse_getattr_in in = { 0 };
	size_t n = mkreq(buf, FUSE_GETATTR, 1, 1000, &in, sizeof(in));

	ft_raw(&t, buf, n);
	cr_assert_eq(reply_error(), -EINVAL);
}

Test(fuse_bad, header_len_shorter_than_header)
{
	unsigned char buf[128];
	size_t n = mkreq(buf, FUSE_GETATTR, 1, 12, NULL, 0);

	ft_raw(&t, buf, n);
	cr_assert_eq(reply_error(), -EINVAL);
}

Test(fuse_bad, header_len_shorter_than_buffers_cuts_args)
{
	unsigned char buf[128];
	struct fuse_getattr_in in = { 0 };
	size_t n = mkreq(buf, FUSE_GETATTR, 1, 40 + 8, &in, sizeof(in));

	/* Only 8 of the 16 argument bytes count: too short for fuse_getattr_in. */
	ft_raw(&t, buf, n);
	cr_assert_eq(reply_error(), -EINVAL);
	mkreq(buf, FUSE_GETATTR, 1, 40 + 16, &in, sizeof(in));
	ft_raw(&t, buf, n + 50);
	cr_assert_eq(reply_error(), 0, "trailing bytes beyond len are ignored");
}

Test(fuse_bad, extension_length_lies)
{
	unsigned char buf[128];
	struct fuse_getattr_in in = { 0 };
	size_t n = mkreq(buf, FUSE_GETATTR, 1, 40 + 16, &in, sizeof(in));
	struct fuse_in_header *h = (void *)buf;

	h->total_extlen = 3; /* 24 bytes of extensions in a 16-byte argument block */
	ft_raw(&t, buf, n);
	cr_assert_eq(reply_error(), -EINVAL);
	h->total_extlen = 2; /* 16 bytes: the whole block, leaving no getattr_in */
	ft_raw(&t, buf, n);
	cr_assert_eq(reply_error(), -EINVAL);
}

Test(fuse_bad, args_shorter_than_struct)
{
	unsigned char arg[64] = { 0 };
	static const uint32_t ops[] = {
		FUSE_GETATTR, FUSE_SETATTR, FUSE_MKNOD, FUSE_MKDIR, FUSE_RENAME, FUSE_LINK,
		FUSE_OPEN, FUSE_READ, FUSE_WRITE, FUSE_RELEASE, FUSE_FSYNC, FUSE_SETXATTR,
		FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_FLUSH, FUSE_OPENDIR, FUSE_READDIR,
		FUSE_RELEASEDIR, FUSE_FSYNCDIR, FUSE_ACCESS, FUSE_CREATE, FUSE_FALLOCATE,
		FUSE_READDIRPLUS, FUSE_RENAME2, FUSE_LSEEK, FUSE_COPY_FILE_RANGE, FUSE_SYNCFS,
		FUSE_TMPFILE, FUSE_ABI_OP_COPY_FILE_RANGE_64,
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		cr_assert_eq(ft_req(&t, ops[i], 1, arg, 4, NULL, 0, NULL), -EINVAL, "opcode %u", ops[i]);
	/* Without replies: dropped. */
	cr_assert_eq(ft_req(&t, FUSE_FORGET, 1, arg, 4, NULL, 0, NULL), 1);
	cr_assert_eq(ft_req(&t, FUSE_BATCH_FORGET, 1, arg, 4, NULL, 0, NULL), 1);
}

Test(fuse_bad, names)
{
	char arg[600];
	struct fuse_mkdir_in mk = { .mode = 0755 };
	size_t n;

	/* No NUL inside the argument block. */
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, "abc", 3, NULL, 0, NULL), -EINVAL);
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, "", 0, NULL, 0, NULL), -EINVAL);
	cr_assert_eq(ft_lookup(&t, 1, "", NULL), -EINVAL);
	cr_assert_eq(ft_lookup(&t, 1, "a/b", NULL), -EINVAL);
	cr_assert_eq(ft_lookup(&t, 1, "../../etc", NULL), -EINVAL);
	cr_assert_eq(ft_lookup(&t, 1, "/etc", NULL), -EINVAL);
	cr_assert_eq(ft_mkdir(&t, 1, ".", 0755, NULL), -EINVAL);
	cr_assert_eq(ft_mkdir(&t, 1, "..", 0755, NULL), -EINVAL);
	cr_assert_eq(ft_create(&t, 1, "..", 0644, O_RDWR, NULL, NULL), -EINVAL);
	/* mkdir struct then a name missing its NUL. */
	memcpy(arg, &mk, sizeof(mk));
	memcpy(arg + sizeof(mk), "xyz", 3);
	cr_assert_eq(ft_req(&t, FUSE_MKDIR, 1, arg, sizeof(mk) + 3, NULL, 0, NULL), -EINVAL);
	/* rename: second name missing. */
	struct fuse_rename_in r = { .newdir = 1 };
	n = ft_args(arg, &r, sizeof(r), "a", NULL);
	cr_assert_eq(ft_req(&t, FUSE_RENAME, 1, arg, n, NULL, 0, NULL), -EINVAL);
	/* symlink: target missing, empty, too long. */
	n = ft_args(arg, NULL, 0, "l", NULL);
	cr_assert_eq(ft_req(&t, FUSE_SYMLINK, 1, arg, n, NULL, 0, NULL), -EINVAL);
	n = ft_args(arg, NULL, 0, "l", "");
	cr_assert_eq(ft_req(&t, FUSE_SYMLINK, 1, arg, n, NULL, 0, NULL), -ENOENT);
	char *big = malloc(5000);
	memset(big, 'x', 4999);
	big[4999] = 0;
	unsigned char *a2 = malloc(6000);
	n = ft_args(a2, NULL, 0, "l", big);
	cr_assert_eq(ft_req(&t, FUSE_SYMLINK, 1, a2, n, NULL, 0, NULL), -ENAMETOOLONG);
	free(a2);
	free(big);
	/* Nothing was created by any of this. */
	cr_assert_eq(rmdir(ft_path(&t, "xyz")), -1);
}

Test(fuse_bad, unknown_nodeids)
{
	struct fuse_entry_out e;
	struct fuse_attr_out a;

	cr_assert_eq(ft_getattr(&t, 0, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, 2, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, 0xffffffffffffffffull, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, 1ull << 32 | 1, &a), -ESTALE, "root with a wrong generation");
	cr_assert_eq(ft_lookup(&t, 12345, "x", &e), -ESTALE);
	cr_assert_eq(ft_mkdir(&t, 99, "x", 0755, &e), -ESTALE);
	/* A forgotten node's id stays dead even when its slot is reused. */
	close(open(ft_path(&t, "f"), O_CREAT | O_WRONLY, 0644));
	close(open(ft_path(&t, "g"), O_CREAT | O_WRONLY, 0644));
	struct fuse_entry_out f, g;
	struct fuse_forget_in fg = { .nlookup = 1 };
	cr_assert_eq(ft_lookup(&t, 1, "f", &f), 0);
	ft_req(&t, FUSE_FORGET, f.nodeid, &fg, sizeof(fg), NULL, 0, NULL);
	cr_assert_eq(ft_lookup(&t, 1, "g", &g), 0);
	cr_assert_eq((uint32_t)g.nodeid, (uint32_t)f.nodeid, "slot reused");
	cr_assert_neq(g.nodeid, f.nodeid, "with a new generation");
	cr_assert_eq(ft_getattr(&t, f.nodeid, &a), -ESTALE);
	cr_assert_eq(ft_getattr(&t, g.nodeid, &a), 0);
	/* Forgetting unknown ids is harmless. */
	ft_req(&t, FUSE_FORGET, 0xdeadbeef, &fg, sizeof(fg), NULL, 0, NULL);
	cr_assert_eq(ft_getattr(&t, g.nodeid, &a), 0);
}

Test(fuse_bad, unknown_fhs)
{
	char buf[16];
	struct fuse_entry_out e;
	uint64_t fh;

	cr_assert_eq(ft_read(&t, 1, 0, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_read(&t, 1, 1, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_read(&t, 1, ~0ull, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(ft_write(&t, 1, 42, 0, "x", 1), -EBADF);
	cr_assert_eq(ft_release(&t, 1, 42, false), -EBADF);
	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	cr_assert_eq(ft_read(&t, 1, fh ^ (1ull << 32), 0, buf, sizeof(buf)), -EBADF, "wrong generation");
	struct fuse_read_in rd = { .fh = fh, .size = 100 };
	cr_assert_eq(ft_req(&t, FUSE_READDIR, 1, &rd, sizeof(rd), buf, sizeof(buf), NULL), -EBADF,
		     "file fh used as a directory");
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_bad, huge_read_is_capped)
{
	struct fuse_entry_out e;
	uint64_t fh;
	struct fuse_read_in in = { .size = 0xffffffffu };
	size_t got;
	char *big = malloc(2 << 20);

	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	memset(big, 'q', 2 << 20);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, big, 1 << 20), 1 << 20);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 1 << 20, big, 1 << 20), 1 << 20);
	in.fh = fh;
	cr_assert_eq(ft_req(&t, FUSE_READ, e.nodeid, &in, sizeof(in), big, 2 << 20, &got), 0);
	cr_assert_eq(got, 1 << 20, "never more than max_write");
	/* A reply buffer smaller than the request: the read is bounded by it. */
	t.out_len = 16 + 100;
	cr_assert_eq(ft_req(&t, FUSE_READ, e.nodeid, &in, sizeof(in), big, 2 << 20, &got), 0);
	cr_assert_eq(got, 100);
	t.out_len = FT_OUT;
	in.offset = 1ull << 63;
	cr_assert_eq(ft_req(&t, FUSE_READ, e.nodeid, &in, sizeof(in), big, 2 << 20, &got), -EINVAL);
	ft_release(&t, e.nodeid, fh, false);
	free(big);
}

Test(fuse_bad, write_size_lies)
{
	struct fuse_entry_out e;
	uint64_t fh;
	struct fuse_write_in in = { .size = 100 };
	unsigned char buf[sizeof(in) + 10] = { 0 };

	cr_assert_eq(ft_create(&t, 1, "f", 0644, O_RDWR, &e, &fh), 0);
	in.fh = fh;
	memcpy(buf, &in, sizeof(in));
	cr_assert_eq(ft_req(&t, FUSE_WRITE, e.nodeid, buf, sizeof(buf), NULL, 0, NULL), -EINVAL);
	in.size = 0xffffffffu;
	memcpy(buf, &in, sizeof(in));
	cr_assert_eq(ft_req(&t, FUSE_WRITE, e.nodeid, buf, sizeof(buf), NULL, 0, NULL), -EINVAL);
	in.size = 0;
	memcpy(buf, &in, sizeof(in));
	struct fuse_write_out wo;
	cr_assert_eq(ft_req(&t, FUSE_WRITE, e.nodeid, buf, sizeof(buf), &wo, sizeof(wo), NULL), 0);
	cr_assert_eq(wo.size, 0);
	ft_release(&t, e.nodeid, fh, false);
}

Test(fuse_bad, xattr_sizes)
{
	struct fuse_setxattr_in si = { .size = 50 };
	struct fuse_getxattr_in gi = { .size = 0xffffffffu };
	unsigned char *buf = malloc(200000);
	size_t n;
	char val[64];

	n = ft_args(buf, &si, sizeof(si), "user.k", NULL);
	memcpy(buf + n, "abc", 3);
	cr_assert_eq(ft_req(&t, FUSE_SETXATTR, 1, buf, n + 3, NULL, 0, NULL), -EINVAL, "value shorter than size");
	si.size = 70000;
	memcpy(buf, &si, sizeof(si));
	cr_assert_eq(ft_req(&t, FUSE_SETXATTR, 1, buf, n + 3, NULL, 0, NULL), -E2BIG);
	/* An argument block far beyond anything valid. */
	cr_assert_eq(ft_req(&t, FUSE_SETXATTR, 1, buf, 150000, NULL, 0, NULL), -E2BIG);
	/* A huge getxattr buffer request with a small reply buffer. */
	n = ft_args(buf, &gi, sizeof(gi), "user.k", NULL);
	t.out_len = 16 + 32;
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, 1, buf, n, val, sizeof(val), NULL), -ERANGE);
	t.out_len = FT_OUT;
	cr_assert_eq(ft_req(&t, FUSE_GETXATTR, 1, buf, n, val, sizeof(val), NULL), -ENODATA);
	free(buf);
}

Test(fuse_bad, zero_length_and_missing_buffers)
{
	struct iovec in[3] = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
	unsigned char out[256];
	struct iovec ov = { out, sizeof(out) };
	unsigned char req[64];
	size_t n = mkreq(req, FUSE_STATFS, 1, 40, NULL, 0);

	cr_assert_eq(fuse_dispatch(t.s, NULL, 0, &ov, 1), 0);
	cr_assert_eq(fuse_dispatch(t.s, in, 3, &ov, 1), 0);
	cr_assert_eq(fuse_dispatch(t.s, in, -5, &ov, 1), 0);
	/* A good request with zero-length pieces around it. */
	in[1].iov_base = req;
	in[1].iov_len = n;
	cr_assert_gt(fuse_dispatch(t.s, in, 3, &ov, 1), 16);
	/* No reply buffer at all: nothing written, nothing returned. */
	cr_assert_eq(fuse_dispatch(t.s, in, 3, NULL, 0), 0);
	struct iovec zero = { out, 0 };
	cr_assert_eq(fuse_dispatch(t.s, in, 3, &zero, 1), 0);
}

Test(fuse_bad, reply_buffer_too_small)
{
	struct fuse_entry_out e;
	struct fuse_forget_in fg = { .nlookup = 1 };
	struct fuse_attr_out a;

	close(open(ft_path(&t, "f"), O_CREAT | O_WRONLY, 0644));
	t.out_len = 8;
	cr_assert_eq(ft_req(&t, FUSE_LOOKUP, 1, "f", 2, NULL, 0, NULL), 1, "dropped");
	/* Room for the header only: an error, and the lookup did not happen. */
	t.out_len = 16;
	cr_assert_eq(ft_lookup(&t, 1, "f", NULL), -EIO);
	t.out_len = FT_OUT;
	cr_assert_eq(ft_lookup(&t, 1, "f", &e), 0);
	ft_req(&t, FUSE_FORGET, e.nodeid, &fg, sizeof(fg), NULL, 0, NULL);
	cr_assert_eq(ft_getattr(&t, e.nodeid, &a), -ESTALE, "no lookup count leaked");
}

Test(fuse_bad, batch_forget_count_lies)
{
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one;
	} req = { { .count = 0xffffffffu }, { 12345, 1 } };

	cr_assert_eq(ft_req(&t, FUSE_BATCH_FORGET, 0, &req, sizeof(req), NULL, 0, NULL), 1);
}

Test(fuse_bad, split_buffers_everywhere)
{
	struct fuse_entry_out e;
	uint64_t fh, dh;
	char buf[64] = { 0 };
	struct fuse_read_in rd = { .size = 4096 };
	unsigned char dir[4096];
	size_t got;

	t.split = 3; /* every request and reply cut into 3-byte pieces */
	cr_assert_eq(ft_create(&t, 1, "split-file", 0644, O_RDWR, &e, &fh), 0);
	cr_assert_eq(ft_write(&t, e.nodeid, fh, 0, "scattered data", 14), 14);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, buf, 14), 14);
	cr_assert_str_eq(buf, "scattered data");
	/* A read needing more pieces than the server gathers fails cleanly. */
	char *page = calloc(1, 4096);
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, page, 4000), -EIO);
	/* ...while 300 pieces (a 1 MiB request split per guest page, say) are fine. */
	cr_assert_eq(ft_read(&t, e.nodeid, fh, 0, page, 900), 14);
	free(page);
	cr_assert_eq(ft_lookup(&t, 1, "split-file", &e), 0);
	cr_assert_eq(ft_open(&t, 1, O_RDONLY, true, &dh), 0);
	rd.fh = dh;
	cr_assert_eq(ft_req(&t, FUSE_READDIRPLUS, 1, &rd, sizeof(rd), dir, sizeof(dir), &got), 0);
	cr_assert(memmem(dir, got, "split-file", 10));
	t.split = 1;
	cr_assert_eq(ft_lookup(&t, 1, "split-file", &e), 0);
	ft_release(&t, 1, dh, true);
	ft_release(&t, e.nodeid, fh, false);
}

/* Deterministic garbage: random opcodes, lengths and bytes, many times. */
Test(fuse_bad, random_requests_never_crash)
{
	unsigned char req[512];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 5000; i++) {
		struct fuse_in_header *h = (void *)req;
		size_t len;

		for (size_t k = 0; k < sizeof(req); k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			req[k] = (unsigned char)x;
		}
		len = 40 + (x % 200);
		h->opcode = (uint32_t)(x >> 8) % 56;
		/* No DESTROY/INIT (state), no sync (slow on a busy disk). */
		if (h->opcode == FUSE_INIT || h->opcode == FUSE_DESTROY ||
		    h->opcode == FUSE_SYNCFS || h->opcode == FUSE_FSYNC || h->opcode == FUSE_FSYNCDIR)
			h->opcode = FUSE_GETATTR;
		h->len = (x >> 20) & 1 ? (uint32_t)len : (uint32_t)(x >> 24);
		h->nodeid = (x >> 30) & 1 ? 1 : h->nodeid;
		h->uid = h->gid = 0;
		h->total_extlen = (x >> 40) & 1 ? 0 : h->total_extlen;
		t.split = (x >> 44) & 1 ? 1 + (x >> 50) % 7 : 0;
		t.out_len = (x >> 45) & 1 ? FT_OUT : (x >> 52) % 300;
		ft_raw(&t, req, len);
		cr_assert_leq(t.reply_len, t.out_len);
	}
}

/* The iov cursor on its own. */
Test(fuse_iov, read_write_skip_across_pieces)
{
	char a[3], b[1], c[5];
	struct iovec iov[4] = { { a, 3 }, { NULL, 0 }, { b, 1 }, { c, 5 } };
	struct fuse_iov cur;
	char out[9];
	struct iovec sl[4];

	fuse_iov_init(&cur, iov, 4, (size_t)-1);
	cr_assert_eq(fuse_iov_left(&cur), 9);
	cr_assert_eq(fuse_iov_write(&cur, "abcdefghi", 9), 0);
	cr_assert_eq(fuse_iov_write(&cur, "x", 1), -1);
	cr_assert_eq(memcmp(a, "abc", 3), 0);
	cr_assert_eq(b[0], 'd');
	fuse_iov_init(&cur, iov, 4, 7);
	cr_assert_eq(fuse_iov_left(&cur), 7, "limit wins");
	cr_assert_eq(fuse_iov_skip(&cur, 2), 0);
	cr_assert_eq(fuse_iov_slice(&cur, 5, sl, 4), 3);
	cr_assert_eq(sl[0].iov_len, 1);
	cr_assert_eq(sl[1].iov_len, 1);
	cr_assert_eq(sl[2].iov_len, 3);
	cr_assert_eq(fuse_iov_slice(&cur, 5, sl, 2), -1, "too many pieces");
	cr_assert_eq(fuse_iov_slice(&cur, 6, sl, 4), -1, "past the limit");
	cr_assert_eq(fuse_iov_read(&cur, out, 6), -1, "all or nothing");
	cr_assert_eq(fuse_iov_read(&cur, out, 5), 0);
	cr_assert_eq(memcmp(out, "cdefg", 5), 0);
	cr_assert_eq(fuse_iov_left(&cur), 0);
	fuse_iov_truncate(&cur, 100);
	cr_assert_eq(fuse_iov_left(&cur), 0, "truncate never raises");
	cr_assert_eq(fuse_iov_total(NULL, 0), 0);
}

/* Many threads racing lookups, forgets, opens and releases on the same names. */
struct race_arg {
	struct fuse_server *s;
	int id;
};

static void *race_worker(void *p)
{
	struct race_arg *a = p;
	unsigned char req[128], out[512];

	for (int i = 0; i < 3000; i++) {
		struct fuse_in_header *h = (void *)req;
		struct iovec iv = { req, 0 }, ov = { out, sizeof(out) };
		struct fuse_out_header oh;
		struct fuse_entry_out e;
		const char *name = (i % 3) ? "shared" : "other";
		size_t n;

		memset(h, 0, sizeof(*h));
		h->opcode = FUSE_LOOKUP;
		h->unique = (uint64_t)i;
		h->nodeid = 1;
		h->len = (uint32_t)(sizeof(*h) + strlen(name) + 1);
		memcpy(req + sizeof(*h), name, strlen(name) + 1);
		iv.iov_len = h->len;
		n = fuse_dispatch(a->s, &iv, 1, &ov, 1);
		cr_assert_geq(n, sizeof(oh));
		memcpy(&oh, out, sizeof(oh));
		if (oh.error)
			continue;
		memcpy(&e, out + sizeof(oh), sizeof(e));
		/* getattr, then forget what we looked up. */
		struct fuse_getattr_in gi = { 0 };
		h->opcode = FUSE_GETATTR;
		h->nodeid = e.nodeid;
		h->len = sizeof(*h) + sizeof(gi);
		memcpy(req + sizeof(*h), &gi, sizeof(gi));
		iv.iov_len = h->len;
		cr_assert_gt(fuse_dispatch(a->s, &iv, 1, &ov, 1), 0);
		memcpy(&oh, out, sizeof(oh));
		cr_assert_eq(oh.error, 0, "a node we hold a lookup on must stay valid");
		struct fuse_forget_in fg = { .nlookup = 1 };
		h->opcode = FUSE_FORGET;
		h->len = sizeof(*h) + sizeof(fg);
		memcpy(req + sizeof(*h), &fg, sizeof(fg));
		iv.iov_len = h->len;
		cr_assert_eq(fuse_dispatch(a->s, &iv, 1, &ov, 1), 0);
	}
	return NULL;
}

Test(fuse_bad, concurrent_lookup_forget)
{
	pthread_t th[4];
	struct race_arg args[4];
	struct fuse_entry_out e;

	close(open(ft_path(&t, "shared"), O_CREAT | O_WRONLY, 0644));
	close(open(ft_path(&t, "other"), O_CREAT | O_WRONLY, 0644));
	for (int i = 0; i < 4; i++) {
		args[i] = (struct race_arg){ t.s, i };
		cr_assert_eq(pthread_create(&th[i], NULL, race_worker, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Every lookup was forgotten: a new lookup gets a fresh node. */
	cr_assert_eq(ft_lookup(&t, 1, "shared", &e), 0);
}
