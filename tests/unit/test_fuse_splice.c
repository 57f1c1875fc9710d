/*
 * fuse_dispatch_payload(): WRITE data held in a real pipe, as the host transport
 * (fs/fuse_dev.c) leaves it after splicing a request from /dev/fuse.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fuse_test.h"

static struct ft t;
static int pfd[2] = { -1, -1 };

static void setup(void)
{
	ft_setup(&t, NULL);
	cr_assert_eq(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
	/* 1 MiB: what an unprivileged process may have, enough for every test here. */
	cr_assert_geq(fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
}

static void teardown(void)
{
	close(pfd[0]);
	close(pfd[1]);
	ft_teardown(&t);
}

TestSuite(fuse_splice, .init = setup, .fini = teardown);

/* What a test request looks like beyond a well-formed WRITE. */
struct sp_req {
	uint32_t opcode;        /* 0: FUSE_WRITE */
	int32_t hlen_delta;     /* added to the honest h.len */
	int64_t size_delta;     /* added to write_in.size */
	uint16_t extlen;        /* h.total_extlen */
	void *scratch;
	size_t scratch_len;
};

struct sp_res {
	size_t reply_len;       /* 0: no reply */
	int error;
	uint32_t size;          /* fuse_write_out.size when error is 0 */
	size_t consumed;
	size_t left;            /* bytes still in the pipe afterwards (drained) */
};

static size_t sp_drain(void)
{
	static unsigned char junk[65536];
	size_t left = 0;
	ssize_t n;

	while ((n = read(pfd[0], junk, sizeof(junk))) > 0)
		left += (size_t)n;
	cr_assert(n < 0 && errno == EAGAIN, "the pipe must end empty, not fail");
	return left;
}

/* Header + write_in in the in iovec, len bytes of data waiting in the pipe. */
static struct sp_res sp_write(uint64_t node, uint64_t fh, uint64_t off, const void *data,
			      size_t len, const struct sp_req *x)
{
	static const struct sp_req none;
	unsigned char hdr[sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in)];
	struct fuse_in_header h = { 0 };
	struct fuse_write_in in = { 0 };
	struct fuse_out_header oh;
	struct iovec iv = { hdr, sizeof(hdr) }, ov = { t.out, t.out_len };
	struct fuse_payload p = { .pipe_fd = pfd[0], .len = len };
	struct sp_res r = { 0 };
	size_t put = 0;

	if (!x)
		x = &none;
	h.len = (uint32_t)((int64_t)sizeof(hdr) + (int64_t)len + x->hlen_delta);
	h.opcode = x->opcode ? x->opcode : FUSE_WRITE;
	h.unique = ++t.unique;
	h.nodeid = node;
	h.total_extlen = x->extlen;
	in.fh = fh;
	in.offset = off;
	in.size = (uint32_t)((int64_t)len + x->size_delta);
	memcpy(hdr, &h, sizeof(h));
	memcpy(hdr + sizeof(h), &in, sizeof(in));
	while (put < len) {
		ssize_t n = write(pfd[1], (const char *)data + put, len - put);

		cr_assert_gt(n, 0, "filling the pipe: %s", strerror(errno));
		put += (size_t)n;
	}
	p.scratch = x->scratch;
	p.scratch_len = x->scratch_len;
	r.reply_len = fuse_dispatch_payload(t.s, &iv, 1, &p, &ov, 1);
	r.consumed = p.consumed;
	cr_assert_leq(p.consumed, len);
	r.left = sp_drain();
	cr_assert_eq(r.consumed + r.left, len, "consumed counts what left the pipe");
	if (r.reply_len) {
		cr_assert_geq(r.reply_len, sizeof(oh));
		memcpy(&oh, t.out, sizeof(oh));
		cr_assert_eq(oh.len, r.reply_len);
		cr_assert_eq(oh.unique, t.unique);
		r.error = oh.error;
		if (!oh.error) {
			struct fuse_write_out wo;

			cr_assert_eq(r.reply_len, sizeof(oh) + sizeof(wo));
			memcpy(&wo, t.out + sizeof(oh), sizeof(wo));
			r.size = wo.size;
		}
	}
	return r;
}

static unsigned char *sp_data(size_t len, unsigned seed)
{
	unsigned char *d = malloc(len);

	cr_assert_not_null(d);
	for (size_t i = 0; i < len; i++)
		d[i] = (unsigned char)(i * 31 + seed + (i >> 9));
	return d;
}

/* The host file's whole content (malloc'ed), its length in *len. */
static unsigned char *sp_host_file(const char *name, size_t *len)
{
	FILE *f = fopen(ft_path(&t, name), "rb");
	unsigned char *d;
	struct stat st;

	cr_assert_not_null(f);
	cr_assert_eq(fstat(fileno(f), &st), 0);
	*len = (size_t)st.st_size;
	d = malloc(*len + 1);
	cr_assert_eq(fread(d, 1, *len, f), *len);
	fclose(f);
	return d;
}

/* A spliced WRITE that must succeed whole: written, reported and taken out of the pipe. */
static void sp_write_all(uint64_t node, uint64_t fh, uint64_t off, const void *data, size_t len,
			 const struct sp_req *x)
{
	struct sp_res r = sp_write(node, fh, off, data, len, x);

	cr_assert_eq(r.error, 0);
	cr_assert_eq(r.size, len);
	cr_assert_eq(r.consumed, len);
}

static void sp_new_file(const char *name, uint32_t flags, uint64_t *node, uint64_t *fh)
{
	struct fuse_entry_out e;

	cr_assert_eq(ft_create(&t, 1, name, 0644, O_WRONLY, &e, NULL), 0);
	*node = e.nodeid;
	cr_assert_eq(ft_open(&t, e.nodeid, flags, false, fh), 0);
}

Test(fuse_splice, write_lands_at_offset)
{
	size_t len = 200 * 1024 + 17, got;
	unsigned char *d = sp_data(len, 1), *f;
	uint64_t node, fh;

	sp_new_file("f", O_WRONLY, &node, &fh);
	sp_write_all(node, fh, 12345, d, len, NULL);
	f = sp_host_file("f", &got);
	cr_assert_eq(got, 12345 + len);
	for (size_t i = 0; i < 12345; i++)
		cr_assert_eq(f[i], 0);
	cr_assert_eq(memcmp(f + 12345, d, len), 0);
	free(f);
	free(d);
}

Test(fuse_splice, full_max_write)
{
	/* The biggest request the host transport splices with a 1 MiB pipe. */
	size_t len = (1u << 20) - 8192, got;
	unsigned char *d = sp_data(len, 2), *f;
	uint64_t node, fh;

	sp_new_file("f", O_RDWR, &node, &fh);
	sp_write_all(node, fh, 0, d, len, NULL);
	f = sp_host_file("f", &got);
	cr_assert_eq(got, len);
	cr_assert_eq(memcmp(f, d, len), 0);
	free(f);
	free(d);
}

/* Each variant of a 70000-byte write must be refused with EINVAL before anything
 * left the pipe or reached the file. */
static void sp_expect_refused(const struct sp_req *variants, int n, unsigned seed)
{
	size_t len = 70000, got;
	unsigned char *d = sp_data(len, seed), *f;
	uint64_t node, fh;
	struct sp_res r;

	sp_new_file("f", O_WRONLY, &node, &fh);
	for (int i = 0; i < n; i++) {
		r = sp_write(node, fh, 0, d, len, &variants[i]);
		cr_assert_eq(r.error, -EINVAL, "variant %d", i);
		cr_assert_eq(r.consumed, 0, "variant %d", i);
	}
	f = sp_host_file("f", &got);
	cr_assert_eq(got, 0, "nothing written");
	free(f);
	free(d);
}

/* h.len claiming more than in iovec + payload (like any short request), or less (the
 * payload would hide stray bytes). */
Test(fuse_splice, hlen_lie_is_einval_and_writes_nothing)
{
	const struct sp_req v[] = { { .hlen_delta = 4096 }, { .hlen_delta = -1 } };

	sp_expect_refused(v, 2, 3);
}

Test(fuse_splice, size_mismatch_is_einval)
{
	const struct sp_req v[] = { { .size_delta = -1 }, { .size_delta = 1 } };

	sp_expect_refused(v, 2, 4);
}

Test(fuse_splice, only_write_carries_a_payload)
{
	size_t len = 5000;
	unsigned char *d = sp_data(len, 5);
	uint64_t node, fh;
	struct sp_req setxattr = { .opcode = FUSE_SETXATTR }, getattr = { .opcode = FUSE_GETATTR },
		      forget = { .opcode = FUSE_FORGET }, bogus = { .opcode = 9999 },
		      ext = { .extlen = 1 };
	struct sp_res r;

	sp_new_file("f", O_WRONLY, &node, &fh);
	r = sp_write(node, fh, 0, d, len, &setxattr);
	cr_assert_eq(r.error, -EINVAL);
	cr_assert_eq(r.consumed, 0);
	r = sp_write(node, fh, 0, d, len, &getattr);
	cr_assert_eq(r.error, -EINVAL);
	r = sp_write(node, fh, 0, d, len, &bogus);
	cr_assert_eq(r.error, -EINVAL);
	/* FORGET takes no reply, even refused. */
	r = sp_write(node, fh, 0, d, len, &forget);
	cr_assert_eq(r.reply_len, 0);
	cr_assert_eq(r.consumed, 0);
	/* A WRITE with extensions: the pipe would not hold the data alone. */
	r = sp_write(node, fh, 0, d, len, &ext);
	cr_assert_eq(r.error, -EINVAL);
	free(d);
}

Test(fuse_splice, append_file_falls_back)
{
	size_t len = 100000, got;
	unsigned char *d = sp_data(len, 6), *f, scratch[4096];
	uint64_t node, fh, fh2;
	struct sp_req small = { .scratch = scratch, .scratch_len = sizeof(scratch) };
	struct sp_res r;

	sp_new_file("f", O_WRONLY | O_APPEND, &node, &fh);
	cr_assert_eq(ft_write(&t, node, fh, 0, "abc", 3), 3);
	/* No scratch: the server allocates one. The offset is ignored, like pwrite. */
	sp_write_all(node, fh, 0, d, len, NULL);
	/* A scratch too small for the payload: the server uses its own buffer. */
	sp_write_all(node, fh, 0, d, len, &small);
	f = sp_host_file("f", &got);
	cr_assert_eq(got, 3 + 2 * len);
	cr_assert_eq(memcmp(f, "abc", 3), 0);
	cr_assert_eq(memcmp(f + 3, d, len), 0);
	cr_assert_eq(memcmp(f + 3 + len, d, len), 0);
	free(f);
	/* Read-only open: the write itself fails, nothing moves. */
	cr_assert_eq(ft_open(&t, node, O_RDONLY, false, &fh2), 0);
	r = sp_write(node, fh2, 0, d, len, NULL);
	cr_assert_eq(r.error, -EBADF);
	free(d);
}

Test(fuse_splice, unknown_fh_is_ebadf)
{
	size_t len = 70000;
	unsigned char *d = sp_data(len, 7);
	uint64_t node, fh;
	struct sp_res r;

	sp_new_file("f", O_WRONLY, &node, &fh);
	r = sp_write(node, fh + 12345, 0, d, len, NULL);
	cr_assert_eq(r.error, -EBADF);
	cr_assert_eq(r.consumed, 0);
	cr_assert_eq(ft_release(&t, node, fh, false), 0);
	r = sp_write(node, fh, 0, d, len, NULL);
	cr_assert_eq(r.error, -EBADF, "released fh");
	free(d);
}

Test(fuse_splice, kill_suidgid_after_spliced_write)
{
	size_t len = 70000;
	unsigned char *d = sp_data(len, 8);
	uint64_t node, fh;
	unsigned char hdr[sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in)];
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(hdr) + len), .opcode = FUSE_WRITE };
	struct fuse_write_in in = { .size = (uint32_t)len, .write_flags = FUSE_WRITE_KILL_SUIDGID };
	struct iovec iv = { hdr, sizeof(hdr) }, ov = { t.out, t.out_len };
	struct fuse_payload p = { .pipe_fd = pfd[0], .len = len };
	struct fuse_out_header oh;
	struct stat st;

	sp_new_file("f", O_WRONLY, &node, &fh);
	chmod(ft_path(&t, "f"), 04755);
	h.unique = ++t.unique;
	h.nodeid = node;
	in.fh = fh;
	memcpy(hdr, &h, sizeof(h));
	memcpy(hdr + sizeof(h), &in, sizeof(in));
	cr_assert_eq(write(pfd[1], d, len), (ssize_t)len);
	cr_assert_gt(fuse_dispatch_payload(t.s, &iv, 1, &p, &ov, 1), 0);
	memcpy(&oh, t.out, sizeof(oh));
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(p.consumed, len);
	cr_assert_eq(stat(ft_path(&t, "f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "set-uid dropped, shared with pt_write");
	free(d);
}

Test(fuse_splice, empty_payload_is_plain_dispatch)
{
	uint64_t node, fh;
	struct fuse_write_in in = { 0 };
	unsigned char req[sizeof(struct fuse_in_header) + sizeof(in) + 3];
	struct fuse_in_header h = { .len = sizeof(req), .opcode = FUSE_WRITE };
	struct iovec iv = { req, sizeof(req) }, ov = { t.out, t.out_len };
	struct fuse_payload p = { .pipe_fd = -1, .len = 0 };
	struct fuse_out_header oh;
	struct fuse_write_out wo;

	sp_new_file("f", O_WRONLY, &node, &fh);
	h.unique = ++t.unique;
	h.nodeid = node;
	in.fh = fh;
	in.size = 3;
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), &in, sizeof(in));
	memcpy(req + sizeof(h) + sizeof(in), "xyz", 3);
	cr_assert_eq(fuse_dispatch_payload(t.s, &iv, 1, &p, &ov, 1), sizeof(oh) + sizeof(wo));
	memcpy(&oh, t.out, sizeof(oh));
	memcpy(&wo, t.out + sizeof(oh), sizeof(wo));
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(wo.size, 3);
}

Test(fuse_splice, max_write_is_announced_and_enforced)
{
	struct fuse_init_in init = { .major = 7, .minor = 45, .flags = 0xffffffffu };
	struct fuse_init_out out;
	size_t len = 16384;
	unsigned char *d = sp_data(len, 9);
	uint64_t node, fh;
	struct sp_res r;

	sp_new_file("f", O_WRONLY, &node, &fh);
	fuse_server_set_max_write(t.s, 8192);
	r = sp_write(node, fh, 0, d, len, NULL);
	cr_assert_eq(r.error, -EINVAL, "bigger than max_write");
	cr_assert_eq(ft_write(&t, node, fh, 0, d, (uint32_t)len), -EINVAL, "also in the iovecs");
	cr_assert_eq(ft_write(&t, node, fh, 0, d, 8192), 8192);
	/* A new session (DESTROY, INIT) learns the lowered limit. */
	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &init, sizeof(init), &out, sizeof(out), NULL), 0);
	cr_assert_eq(out.max_write, 8192);
	fuse_server_set_max_write(t.s, 1u << 30);
	cr_assert_eq(ft_req(&t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL), 0);
	cr_assert_eq(ft_req(&t, FUSE_INIT, 0, &init, sizeof(init), &out, sizeof(out), NULL), 0);
	cr_assert_eq(out.max_write, 1u << 20, "never above 1 MiB");
	free(d);
}

Test(fuse_splice, readonly_share_refuses)
{
	size_t len = 70000;
	unsigned char *d = sp_data(len, 10);
	struct sp_res r;

	ft_teardown(&t);
	ft_setup(&t, "ro");
	r = sp_write(1, 1, 0, d, len, NULL);
	cr_assert_eq(r.error, -EROFS);
	cr_assert_eq(r.consumed, 0);
	free(d);
}
