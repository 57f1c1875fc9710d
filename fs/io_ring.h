/*
 * A minimal io_uring (raw system calls, no liburing): one ring owned by one thread, with
 * 128-byte SQEs for IORING_OP_URING_CMD. It is what FUSE over io_uring (fs/fuse_uring.c)
 * needs and no more: fill SQEs, submit them and wait in one system call, walk the CQEs.
 *
 * Rings are made disabled (by any thread) and come alive in io_ring_enable(), called by
 * the thread that will own them: that thread is then the only one allowed to submit
 * (IORING_SETUP_SINGLE_ISSUER), and completions are only processed when it waits for
 * them (IORING_SETUP_DEFER_TASKRUN), so it is never interrupted to run them.
 */
#ifndef NOOK_FS_IO_RING_H
#define NOOK_FS_IO_RING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_ring {
	int fd;
	unsigned entries;         /* SQ size; the CQ has twice as many */
	/* SQ ring (shared with the kernel) */
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned char *sqes;      /* entries * 128 bytes */
	unsigned sq_local_tail;   /* SQEs filled, not yet published */
	/* CQ ring */
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
	void *ring_map, *sqe_map;
	size_t ring_len, sqe_len;
};

/* A disabled ring of at least `entries` SQEs. Returns 0 or -errno (ENOSYS, EPERM when
 * io_uring is off: kernel.io_uring_disabled; EINVAL on kernels without the flags). */
int io_ring_init(struct io_ring *r, unsigned entries);
void io_ring_exit(struct io_ring *r);

/* In the owning thread, before its first submission. Returns 0 or -errno. */
int io_ring_enable(struct io_ring *r);

/* The next free SQE, zeroed, or NULL when every SQE is already filled. */
struct io_uring_sqe *io_ring_get_sqe(struct io_ring *r);

/* The 80-byte command area of a 128-byte SQE. */
static inline void *io_ring_sqe_cmd(struct io_uring_sqe *sqe)
{
	return (unsigned char *)sqe + 48;
}

/* Publishes the filled SQEs and waits until at least `wait` CQEs are there. Returns
 * the number of SQEs the kernel took, or -errno (EINTR: try again). */
int io_ring_submit_wait(struct io_ring *r, unsigned wait);

/* The oldest unseen CQE, or NULL. io_ring_cqe_seen() releases it to the kernel. */
struct io_uring_cqe *io_ring_peek_cqe(struct io_ring *r);
void io_ring_cqe_seen(struct io_ring *r);

#endif
