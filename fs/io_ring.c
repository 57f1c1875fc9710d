/*
 * Minimal io_uring, see fs/io_ring.h. Ring memory follows io_uring(7): the SQ and CQ
 * rings share one mapping (IORING_FEAT_SINGLE_MMAP, Linux 5.4+), the SQE array has its
 * own. We are the only producer of SQEs and the only consumer of CQEs; the kernel's
 * side of each index is read with acquire and ours published with release ordering.
 */
#include "fs/io_ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IO_RING_SQE_SIZE 128

static unsigned io_ring_load(const unsigned *p)
{
	return atomic_load_explicit((_Atomic unsigned *)p, memory_order_acquire);
}

static void io_ring_store(unsigned *p, unsigned v)
{
	atomic_store_explicit((_Atomic unsigned *)p, v, memory_order_release);
}

int io_ring_init(struct io_ring *r, unsigned entries)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	unsigned char *m;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0)
		return -errno;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		io_ring_exit(r);
		return -EOPNOTSUPP;
	}
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->ring_len = sq_len > cq_len ? sq_len : cq_len;
	r->ring_map = mmap(NULL, r->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			   r->fd, IORING_OFF_SQ_RING);
	if (r->ring_map == MAP_FAILED) {
		r->ring_map = NULL;
		goto fail;
	}
	r->sqe_len = (size_t)p.sq_entries * IO_RING_SQE_SIZE;
	r->sqe_map = mmap(NULL, r->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  r->fd, IORING_OFF_SQES);
	if (r->sqe_map == MAP_FAILED) {
		r->sqe_map = NULL;
		goto fail;
	}
	m = r->ring_map;
	r->entries = p.sq_entries;
	r->sq_head = (unsigned *)(m + p.sq_off.head);
	r->sq_tail = (unsigned *)(m + p.sq_off.tail);
	r->sq_mask = (unsigned *)(m + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(m + p.sq_off.array);
	r->cq_head = (unsigned *)(m + p.cq_off.head);
	r->cq_tail = (unsigned *)(m + p.cq_off.tail);
	r->cq_mask = (unsigned *)(m + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(m + p.cq_off.cqes);
	r->sqes = r->sqe_map;
	r->sq_local_tail = *r->sq_tail;
	return 0;
fail: {
		int err = -errno;

		io_ring_exit(r);
		return err;
	}
}

void io_ring_exit(struct io_ring *r)
{
	if (r->sqe_map)
		munmap(r->sqe_map, r->sqe_len);
	if (r->ring_map)
		munmap(r->ring_map, r->ring_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

int io_ring_enable(struct io_ring *r)
{
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

struct io_uring_sqe *io_ring_get_sqe(struct io_ring *r)
{
	unsigned head = io_ring_load(r->sq_head), idx;
	struct io_uring_sqe *sqe;

	if (r->sq_local_tail - head >= r->entries)
		return NULL;
	idx = r->sq_local_tail & *r->sq_mask;
	sqe = (struct io_uring_sqe *)(r->sqes + (size_t)idx * IO_RING_SQE_SIZE);
	memset(sqe, 0, IO_RING_SQE_SIZE);
	r->sq_array[idx] = idx;
	r->sq_local_tail++;
	return sqe;
}

int io_ring_submit_wait(struct io_ring *r, unsigned wait)
{
	/* Everything the kernel has not consumed yet, including SQEs published by a
	 * call that failed (EINTR) before it submitted them. */
	unsigned submit = r->sq_local_tail - io_ring_load(r->sq_head);
	long n;

	io_ring_store(r->sq_tail, r->sq_local_tail);
	n = syscall(__NR_io_uring_enter, r->fd, submit, wait,
		    wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
	return n < 0 ? -errno : (int)n;
}

struct io_uring_cqe *io_ring_peek_cqe(struct io_ring *r)
{
	unsigned head = *r->cq_head;

	if (head == io_ring_load(r->cq_tail))
		return NULL;
	return &r->cqes[head & *r->cq_mask];
}

void io_ring_cqe_seen(struct io_ring *r)
{
	io_ring_store(r->cq_head, *r->cq_head + 1);
}
