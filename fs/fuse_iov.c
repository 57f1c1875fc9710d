/* Bounded scatter/gather cursor (see fs/fuse_iov.h). */
#include "fs/fuse_iov.h"

#include <string.h>

size_t fuse_iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;

	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)-1 - t)
			return (size_t)-1;
		t += iov[i].iov_len;
	}
	return t;
}

void fuse_iov_init(struct fuse_iov *c, const struct iovec *iov, int cnt, size_t limit)
{
	size_t total;

	if (cnt < 0 || !iov)
		cnt = 0;
	total = fuse_iov_total(iov, cnt);
	c->iov = iov;
	c->cnt = cnt;
	c->idx = 0;
	c->off = 0;
	c->left = total < limit ? total : limit;
}

void fuse_iov_truncate(struct fuse_iov *c, size_t n)
{
	if (n < c->left)
		c->left = n;
}

/* Walks n bytes; calls copy for each contiguous piece when given one. */
static int fuse_iov_walk(struct fuse_iov *c, size_t n, void *mem, int to_iov)
{
	unsigned char *p = mem;

	if (n > c->left)
		return -1;
	c->left -= n;
	while (n) {
		size_t avail, chunk;

		/* left <= sum of the remaining buffers, so idx stays in range. */
		avail = c->iov[c->idx].iov_len - c->off;
		if (!avail) {
			c->idx++;
			c->off = 0;
			continue;
		}
		chunk = avail < n ? avail : n;
		if (p) {
			unsigned char *b = (unsigned char *)c->iov[c->idx].iov_base + c->off;

			if (to_iov)
				memcpy(b, p, chunk);
			else
				memcpy(p, b, chunk);
			p += chunk;
		}
		c->off += chunk;
		n -= chunk;
	}
	return 0;
}

int fuse_iov_read(struct fuse_iov *c, void *dst, size_t n)
{
	return fuse_iov_walk(c, n, dst, 0);
}

int fuse_iov_write(struct fuse_iov *c, const void *src, size_t n)
{
	return fuse_iov_walk(c, n, (void *)src, 1);
}

int fuse_iov_skip(struct fuse_iov *c, size_t n)
{
	return fuse_iov_walk(c, n, NULL, 0);
}

int fuse_iov_slice(const struct fuse_iov *c, size_t n, struct iovec *dst, int max)
{
	int idx = c->idx, k = 0;
	size_t off = c->off;

	if (n > c->left)
		return -1;
	while (n) {
		size_t avail = c->iov[idx].iov_len - off, chunk;

		if (!avail) {
			idx++;
			off = 0;
			continue;
		}
		if (k == max)
			return -1;
		chunk = avail < n ? avail : n;
		dst[k].iov_base = (unsigned char *)c->iov[idx].iov_base + off;
		dst[k].iov_len = chunk;
		k++;
		off += chunk;
		n -= chunk;
	}
	return k;
}
