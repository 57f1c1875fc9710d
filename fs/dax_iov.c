#include "fs/dax_iov.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fuse_abi.h"

/* Largest window payload bounced per request: a legitimate one is at most max_write
 * or max_read (1 MiB) plus headers. */
#define DAX_IOV_MAX_BOUNCE (4u << 20)

int dax_iov_kcopy(void *dst, const void *src, size_t n)
{
	int p[2], err = 0;

	if (n == 0)
		return 0;
	/* Non-blocking: each write moves what fits, the read drains exactly that. */
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -EFAULT;
	while (n && !err) {
		ssize_t w = write(p[1], src, n), r;

		if (w <= 0) {
			err = -EFAULT;
			break;
		}
		r = read(p[0], dst, (size_t)w);
		if (r != w)
			err = -EFAULT;
		src = (const uint8_t *)src + w;
		dst = (uint8_t *)dst + w;
		n -= (size_t)w;
	}
	close(p[0]);
	close(p[1]);
	return err;
}

/* Writes an error reply into the RAM part of the writable side; its length or 0. */
static size_t dax_iov_error_reply(const struct guest_mem *m, const struct iovec *out, int out_cnt,
				  uint64_t unique, int err)
{
	struct fuse_out_header h = { .len = sizeof(h), .error = err, .unique = unique };
	const uint8_t *src = (const uint8_t *)&h;
	size_t left = sizeof(h);

	for (int i = 0; i < out_cnt && left; i++) {
		size_t n = out[i].iov_len < left ? out[i].iov_len : left;

		if (gmem_hva_in_window(m, out[i].iov_base, out[i].iov_len))
			return 0;	/* the header itself points into the window */
		memcpy(out[i].iov_base, src, n);
		src += n;
		left -= n;
	}
	return left ? 0 : sizeof(h);
}

size_t dax_iov_dispatch(const struct guest_mem *m, dax_iov_dispatch_fn *fn, void *opaque,
			const struct iovec *in, int in_cnt, const struct iovec *out, int out_cnt)
{
	struct iovec *in2 = NULL, *out2 = NULL;
	uint8_t *bounce = NULL, *b;
	size_t total = 0, len = 0, done;
	struct fuse_in_header ih = { 0 };
	bool failed = false;

	if (in_cnt < 0 || out_cnt < 0)
		return 0;
	for (int i = 0; i < in_cnt + out_cnt; i++) {
		const struct iovec *v = i < in_cnt ? &in[i] : &out[i - in_cnt];

		if (gmem_hva_in_window(m, v->iov_base, v->iov_len)) {
			if (v->iov_len > DAX_IOV_MAX_BOUNCE - total) {
				failed = true;
				break;
			}
			total += v->iov_len;
		}
	}
	in2 = calloc((size_t)in_cnt + 1, sizeof(*in2));
	out2 = calloc((size_t)out_cnt + 1, sizeof(*out2));
	bounce = malloc(total ? total : 1);
	if (!in2 || !out2 || !bounce)
		failed = true;
	/* Readable side: window parts copied in by the kernel. */
	b = bounce;
	for (int i = 0; i < in_cnt && !failed; i++) {
		in2[i] = in[i];
		if (!gmem_hva_in_window(m, in[i].iov_base, in[i].iov_len))
			continue;
		if (dax_iov_kcopy(b, in[i].iov_base, in[i].iov_len))
			failed = true;
		in2[i].iov_base = b;
		b += in[i].iov_len;
	}
	/* The request's unique id, for an error reply (from the bounced copy if need be). */
	if (in2 && in_cnt > 0 && !failed) {
		uint8_t *dst = (uint8_t *)&ih;
		size_t left = sizeof(ih);

		for (int i = 0; i < in_cnt && left; i++) {
			size_t n = in2[i].iov_len < left ? in2[i].iov_len : left;

			memcpy(dst, in2[i].iov_base, n);
			dst += n;
			left -= n;
		}
	}
	if (failed)
		goto fail;
	for (int i = 0; i < out_cnt; i++) {
		out2[i] = out[i];
		if (gmem_hva_in_window(m, out[i].iov_base, out[i].iov_len)) {
			out2[i].iov_base = b;
			b += out[i].iov_len;
		}
	}
	len = fn(opaque, in2, in_cnt, out2, out_cnt);
	/* Writable side: the reply's window parts copied out by the kernel. */
	done = 0;
	for (int i = 0; i < out_cnt && done < len; i++) {
		size_t n = out[i].iov_len < len - done ? out[i].iov_len : len - done;

		if (out2[i].iov_base != out[i].iov_base && dax_iov_kcopy(out[i].iov_base, out2[i].iov_base, n)) {
			failed = true;
			break;
		}
		done += n;
	}
	if (!failed)
		goto out;
fail:
	len = dax_iov_error_reply(m, out, out_cnt, ih.unique, -EFAULT);
out:
	free(in2);
	free(out2);
	free(bounce);
	return len;
}
