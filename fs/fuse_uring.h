/*
 * FUSE over io_uring for the host transport (Linux 6.14+, when the fuse module's
 * enable_uring parameter is on). Instead of worker threads reading /dev/fuse, the
 * kernel keeps one request queue per CPU and hands a request to the queue of the CPU its
 * caller runs on. nook serves each queue from a thread pinned to that CPU, through an
 * io_uring of its own: the reply to one request and the wait for the next are a single
 * system call, and caller and server meet on one CPU (no cross-CPU wake-up).
 *
 * FORGETs and INTERRUPTs still come through /dev/fuse, so the transport keeps its
 * /dev/fuse workers; they also serve everything until the rings are ready.
 */
#ifndef NOOK_FS_FUSE_URING_H
#define NOOK_FS_FUSE_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fs/fuse_abi.h"

struct fuse_server;
struct fuse_uring;

/* True when the running kernel lets a FUSE server use io_uring. */
bool fuse_uring_enabled(void);

/*
 * Before the mount's INIT: rings, buffers (payload bytes each, at least max_write and
 * max_pages pages) and one waiting thread per CPU. NULL, with the reason logged, when
 * any of it fails; the transport then serves through /dev/fuse alone. on_fail runs (in a
 * ring thread) if a started ring thread cannot go on: its CPU's callers would wait for
 * good, so the transport should end the mount.
 */
struct fuse_uring *fuse_uring_new(struct fuse_server *srv, int dev_fd, size_t payload,
				  void (*on_fail)(void *), void *opaque);

/* After the INIT reply that negotiated FUSE_OVER_IO_URING reached the kernel: the
 * threads register their ring entries and serve. Call once. */
void fuse_uring_start(struct fuse_uring *u);

/* True once a ring thread failed (see on_fail). */
bool fuse_uring_failed(struct fuse_uring *u);

/* Waits, at most until deadline (CLOCK_REALTIME), for the threads to end: they do when
 * the connection ends, or at once if never started. Then frees everything and returns
 * true; returns false (and frees nothing) if a thread is still serving. */
bool fuse_uring_stop(struct fuse_uring *u, const struct timespec *deadline);

/*
 * Serves the request in one ring entry (header h, payload buffer of payload_size
 * bytes) and leaves the reply in it, ring_ent_in_out.payload_sz set; lengths that do
 * not add up get EIO. Returns the commit id to answer with. Used by the ring threads;
 * exposed for tests.
 */
uint64_t fuse_uring_answer(struct fuse_server *srv, struct fuse_abi_uring_req_header *h,
			   unsigned char *payload, size_t payload_size);

#endif
