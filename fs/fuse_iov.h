/*
 * Bounded cursor over scattered buffers: requests and replies may be split over any
 * number of iovecs at any byte. Every access is all-or-nothing and never goes past the
 * cursor's limit, so a short buffer is an error, never an out-of-bounds access.
 */
#ifndef NOOK_FS_FUSE_IOV_H
#define NOOK_FS_FUSE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

struct fuse_iov {
	const struct iovec *iov;
	int cnt;
	int idx;       /* current iovec */
	size_t off;    /* offset inside iov[idx] */
	size_t left;   /* bytes remaining before the limit */
};

/* Total bytes of an iovec array (saturating; negative cnt counts as 0). */
size_t fuse_iov_total(const struct iovec *iov, int cnt);

/* Cursor over at most limit bytes of iov (fewer if the buffers are shorter). */
void fuse_iov_init(struct fuse_iov *c, const struct iovec *iov, int cnt, size_t limit);

static inline size_t fuse_iov_left(const struct fuse_iov *c) { return c->left; }

/* Copy n bytes out of / into the buffers and advance; -1 (nothing moved) if short. */
int fuse_iov_read(struct fuse_iov *c, void *dst, size_t n);
int fuse_iov_write(struct fuse_iov *c, const void *src, size_t n);
int fuse_iov_skip(struct fuse_iov *c, size_t n);

/* Lower the limit to n bytes from the current position (never raises it). */
void fuse_iov_truncate(struct fuse_iov *c, size_t n);

/*
 * Describe the next n bytes as at most max iovecs in dst (for preadv/pwritev straight
 * into/from the transport buffers) without advancing. Returns the count, or -1 if the
 * bytes are not available or need more than max pieces.
 */
int fuse_iov_slice(const struct fuse_iov *c, size_t n, struct iovec *dst, int max);

#endif
