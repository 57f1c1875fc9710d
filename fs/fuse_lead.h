/*
 * The reader role of the host transport's workers (fs/fuse_dev.c) when they busy-poll.
 *
 * A sleeping worker costs a wake-up per request, and a client that issues requests
 * one after the other (tar, rm -r, a build step) pays it on every round trip. So one
 * worker, the leader, takes every request: it serves it itself, then polls for the next
 * one before it sleeps. The other workers stand by, off the /dev/fuse wait queue (were
 * they on it, each request would wake one of them for nothing). A request that keeps
 * the leader longer than slow_ns hands the role on: a timer wakes a standby worker,
 * which becomes the leader, and the old leader stands by once its request is done.
 * Requests wait for a busy leader about slow_ns at most.
 */
#ifndef NOOK_FS_FUSE_LEAD_H
#define NOOK_FS_FUSE_LEAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fuse_lead {
	int timer_fd;            /* expires when the leader is slow; standbys read it */
	int64_t slow_ns;
	atomic_int leader;       /* worker id holding the role, -1 before the first */
	atomic_llong busy_since; /* CLOCK_MONOTONIC ns the leader took its request, 0 idle */
	atomic_bool stopping;
	atomic_bool armed;       /* the timer is set */
};

/* slow_ns 0: no hand-off (a single worker); no timer calls then. Returns 0 or -errno. */
int fuse_lead_init(struct fuse_lead *l, int64_t slow_ns);
void fuse_lead_destroy(struct fuse_lead *l);

/* Worker id blocks until it holds the role. False once stopping. */
bool fuse_lead_wait(struct fuse_lead *l, int id);

/* The leader took a request, and is done with it (no-ops for a demoted leader). */
void fuse_lead_busy(struct fuse_lead *l, int id);
void fuse_lead_idle(struct fuse_lead *l, int id);

/* The connection is over: every standby returns from fuse_lead_wait() false. */
void fuse_lead_stop(struct fuse_lead *l);

#endif
