/*
 * FUSE over io_uring, see fs/fuse_uring.h.
 *
 * Protocol (Linux fs/fuse/dev_uring.c): the kernel has one queue per possible CPU (qid =
 * CPU number) and takes io_uring only once every queue holds at least one entry. An
 * entry is a header buffer and a payload buffer, registered with a URING_CMD REGISTER
 * SQE; the kernel completes that SQE when it puts a request into the entry. We answer
 * by writing the reply into the same buffers and submitting COMMIT_AND_FETCH, which
 * hands the reply over and re-arms the entry for the next request in one step.
 *
 * Threads: one per CPU we may run on, pinned to it, serving that CPU's queue with two
 * entries (the second lets the kernel queue a request while we answer the first).
 * Queues of CPUs outside our affinity mask (offline or excluded) get one entry each on
 * some thread: they must exist for the ring to start, and a caller migrated there is
 * still served. A thread serves its entries one at a time, so a slow request delays
 * the other callers of its CPU; requests that block indefinitely (SETLKW) must not come
 * this way, and the transport does not offer io_uring when locks are served.
 */
#include "fs/fuse_uring.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include "fs/fuse_abi.h"
#include "fs/fuse_server.h"
#include "fs/io_ring.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

#define FUSE_URING_OWN_DEPTH   2   /* entries for the queue of a thread's own CPU */
#define FUSE_URING_MAX_THREADS 64
#define FUSE_URING_HDR_MAP     4096 /* the header's share of an entry's mapping */

struct fuse_uring_ent {
	struct fuse_abi_uring_req_header *hdr;
	unsigned char *payload;
	struct iovec iov[2];   /* header, payload: what REGISTER names */
	uint16_t qid;
	bool fetching;         /* last SQE was COMMIT_AND_FETCH (else REGISTER) */
	bool live;
};

struct fuse_uring_thread {
	struct fuse_uring *u;
	struct io_ring ring;
	int cpu;               /* pinned to it; -1: not pinned */
	struct fuse_uring_ent *ents;
	unsigned nents;
	pthread_t tid;
	bool started;
};

struct fuse_uring {
	struct fuse_server *srv;
	int dev_fd;
	size_t payload;
	void (*on_fail)(void *);
	void *opaque;
	struct fuse_uring_thread *th;
	int nthreads;
	/* Under lock: threads that enabled their ring, threads still running, and
	 * what they wait for before serving (go) or instead of it (stop). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready, running;
	bool go, stop, enable_failed;
	atomic_bool failed;
	atomic_bool refused_logged;
};

bool fuse_uring_enabled(void)
{
	FILE *f = fopen("/sys/module/fuse/parameters/enable_uring", "r");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	return c == 'Y' || c == '1';
}

/* The kernel makes one queue per possible CPU ("0-N" in sysfs; ids are contiguous). */
static int fuse_uring_possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	char buf[256], *p;
	int n = -1;

	if (f && fgets(buf, sizeof(buf), f)) {
		p = buf + strcspn(buf, "\n");
		*p = 0;
		/* The last number of the list is the highest CPU id. */
		while (p > buf && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (*p)
			n = atoi(p) + 1;
	}
	if (f)
		fclose(f);
	return n > 0 ? n : get_nprocs_conf();
}

/* ---- serving ---- */

static void fuse_uring_queue_sqe(struct fuse_uring_thread *t, struct fuse_uring_ent *e,
				 uint32_t cmd, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_ring_get_sqe(&t->ring);
	struct fuse_abi_uring_cmd_req *req;

	/* The SQ holds one SQE per entry and an entry has at most one in flight. */
	if (!sqe) {
		log_err("fs serve: io_uring submission queue full");
		abort();
	}
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = t->u->dev_fd;
	sqe->cmd_op = cmd;
	sqe->addr = (uint64_t)(uintptr_t)e->iov;
	sqe->len = 2;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	req = io_ring_sqe_cmd(sqe);
	req->qid = e->qid;
	req->commit_id = commit_id;
	e->fetching = cmd == FUSE_ABI_URING_CMD_COMMIT_AND_FETCH;
}

/*
 * One request in a ring entry: the one place the kernel's ring lengths are checked.
 * Rebuilds the byte stream the server takes (in header, the opcode's struct, the rest)
 * and lets the reply land in the same buffers. They overlap the request, which the
 * server allows: it copies the header and arguments before it writes a reply, and the
 * payload it streams (WRITE data) is consumed before its reply body is written.
 */
uint64_t fuse_uring_answer(struct fuse_server *srv, struct fuse_abi_uring_req_header *h,
			   unsigned char *payload, size_t payload_size)
{
	struct fuse_in_header ih;
	struct fuse_out_header oh;
	uint32_t psz = h->ring_ent_in_out.payload_sz;
	uint64_t commit_id = h->ring_ent_in_out.commit_id;
	size_t n = 0;

	memcpy(&ih, h->in_out, sizeof(ih));
	if (psz <= payload_size && ih.len >= sizeof(ih) + (size_t)psz &&
	    ih.len - sizeof(ih) - psz <= FUSE_ABI_URING_OP_IN_SZ) {
		struct iovec in[3] = {
			{ h->in_out, sizeof(ih) },
			{ h->op_in, ih.len - sizeof(ih) - psz },
			{ payload, psz },
		};
		struct iovec out[2] = {
			{ h->in_out, sizeof(oh) },
			{ payload, payload_size },
		};

		n = fuse_dispatch(srv, in, 3, out, 2);
	}
	/* No reply (lengths that do not add up, or a request too broken to answer): the
	 * entry still needs a commit, so it gets EIO. */
	if (n < sizeof(oh)) {
		oh = (struct fuse_out_header){ .len = sizeof(oh), .error = -EIO,
					       .unique = ih.unique };
		memcpy(h->in_out, &oh, sizeof(oh));
		n = sizeof(oh);
	}
	h->ring_ent_in_out.payload_sz = (uint32_t)(n - sizeof(oh));
	return commit_id;
}

/*
 * A failed SQE of entry e. The connection ending fails them all (ENOTCONN, ECANCELED
 * when the ring goes): the entry is done. A refused REGISTER makes the kernel fall back
 * to /dev/fuse for good: done too, said once. A failed commit (its request was already
 * gone) leaves the entry unarmed: register it again. Returns true if e stays live.
 */
static bool fuse_uring_sqe_failed(struct fuse_uring_thread *t, struct fuse_uring_ent *e,
				  int err)
{
	if (err == -ENOTCONN || err == -ECANCELED || err == -ECONNABORTED || err == -ENODEV)
		return false;
	if (e->fetching) {
		log_debug("fs serve: io_uring commit on queue %u failed: %s; re-registering",
			  e->qid, strerror(-err));
		fuse_uring_queue_sqe(t, e, FUSE_ABI_URING_CMD_REGISTER, 0);
		return true;
	}
	if (!atomic_exchange(&t->u->refused_logged, true))
		log_warn("fs serve: the kernel refused io_uring queue %u (%s); requests go "
			 "through /dev/fuse", e->qid, strerror(-err));
	return false;
}

static void fuse_uring_fail(struct fuse_uring *u, const char *what, int err)
{
	log_err("fs serve: io_uring thread: %s: %s", what, strerror(-err));
	atomic_store(&u->failed, true);
	if (u->on_fail)
		u->on_fail(u->opaque);
}

static void fuse_uring_serve_loop(struct fuse_uring_thread *t)
{
	struct fuse_uring *u = t->u;
	unsigned live = t->nents;

	for (unsigned i = 0; i < t->nents; i++) {
		t->ents[i].live = true;
		fuse_uring_queue_sqe(t, &t->ents[i], FUSE_ABI_URING_CMD_REGISTER, 0);
	}
	while (live) {
		struct io_uring_cqe *cqe;
		int n = io_ring_submit_wait(&t->ring, 1);

		if (n < 0 && n != -EINTR && n != -EAGAIN) {
			fuse_uring_fail(u, "waiting for requests", n);
			return;
		}
		while ((cqe = io_ring_peek_cqe(&t->ring))) {
			struct fuse_uring_ent *e = (void *)(uintptr_t)cqe->user_data;
			int res = cqe->res;

			io_ring_cqe_seen(&t->ring);
			if (!e->live)
				continue;
			if (res < 0) {
				if (!fuse_uring_sqe_failed(t, e, res)) {
					e->live = false;
					live--;
				}
				continue;
			}
			fuse_uring_queue_sqe(t, e, FUSE_ABI_URING_CMD_COMMIT_AND_FETCH,
					     fuse_uring_answer(u->srv, e->hdr, e->payload,
							       u->payload));
		}
	}
}

static void *fuse_uring_thread_main(void *arg)
{
	struct fuse_uring_thread *t = arg;
	struct fuse_uring *u = t->u;
	int err;
	bool go;

	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		/* Not fatal: an unpinned thread still serves, only less locally. */
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			log_debug("fs serve: cannot pin an io_uring thread to CPU %d", t->cpu);
	}
	/* Enabling makes this thread the ring's only submitter. */
	err = io_ring_enable(&t->ring);
	pthread_mutex_lock(&u->lock);
	if (err) {
		log_debug("fs serve: enabling an io_uring: %s", strerror(-err));
		u->enable_failed = true;
	}
	u->ready++;
	pthread_cond_broadcast(&u->cond);
	while (!u->go && !u->stop)
		pthread_cond_wait(&u->cond, &u->lock);
	go = u->go && !u->stop && !err;
	pthread_mutex_unlock(&u->lock);
	if (go)
		fuse_uring_serve_loop(t);
	pthread_mutex_lock(&u->lock);
	u->running--;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* ---- set-up ---- */

static int fuse_uring_ent_init(struct fuse_uring_ent *e, size_t payload, uint16_t qid)
{
	/* Untouched payload pages cost nothing: most requests carry a few bytes. */
	unsigned char *m = mmap(NULL, FUSE_URING_HDR_MAP + payload, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return -errno;
	e->hdr = (void *)m;
	e->payload = m + FUSE_URING_HDR_MAP;
	e->iov[0] = (struct iovec){ e->hdr, sizeof(*e->hdr) };
	e->iov[1] = (struct iovec){ e->payload, payload };
	e->qid = qid;
	return 0;
}

static void fuse_uring_free(struct fuse_uring *u)
{
	for (int i = 0; i < u->nthreads; i++) {
		struct fuse_uring_thread *t = &u->th[i];

		for (unsigned j = 0; j < t->nents; j++)
			if (t->ents[j].hdr)
				munmap(t->ents[j].hdr, FUSE_URING_HDR_MAP + u->payload);
		free(t->ents);
		if (t->ring.fd >= 0)
			io_ring_exit(&t->ring);
	}
	free(u->th);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

/* Threads for the CPUs we may run on; the queues, their entries and the rings. */
static int fuse_uring_plan(struct fuse_uring *u, int nq)
{
	cpu_set_t set;
	int own[FUSE_URING_MAX_THREADS], n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		CPU_ZERO(&set);
	for (int c = 0; c < nq && n < FUSE_URING_MAX_THREADS; c++)
		if (CPU_ISSET(c, &set))
			own[n++] = c;
	u->th = calloc(n ? (size_t)n : 1, sizeof(*u->th));
	if (!u->th)
		return -ENOMEM;
	u->nthreads = n ? n : 1;
	for (int i = 0; i < u->nthreads; i++)
		u->th[i].ring.fd = -1;
	for (int i = 0; i < u->nthreads; i++) {
		u->th[i].u = u;
		u->th[i].cpu = n ? own[i] : -1;
		/* Its own queue's entries plus one per foreign queue: at most nq + 1. */
		u->th[i].ents = calloc((size_t)nq + FUSE_URING_OWN_DEPTH, sizeof(struct fuse_uring_ent));
		if (!u->th[i].ents)
			return -ENOMEM;
	}
	for (int q = 0, rr = 0; q < nq; q++) {
		struct fuse_uring_thread *t = NULL;
		int depth = 1, err;

		for (int i = 0; i < u->nthreads && !t; i++)
			if (u->th[i].cpu == q)
				t = &u->th[i], depth = FUSE_URING_OWN_DEPTH;
		if (!t)
			t = &u->th[rr++ % u->nthreads];
		for (int k = 0; k < depth; k++) {
			err = fuse_uring_ent_init(&t->ents[t->nents], u->payload, (uint16_t)q);
			if (err)
				return err;
			t->nents++;
		}
	}
	for (int i = 0; i < u->nthreads; i++) {
		int err = io_ring_init(&u->th[i].ring, u->th[i].nents);

		if (err)
			return err;
	}
	return 0;
}

struct fuse_uring *fuse_uring_new(struct fuse_server *srv, int dev_fd, size_t payload,
				  void (*on_fail)(void *), void *opaque)
{
	struct fuse_uring *u = calloc(1, sizeof(*u));
	int nq = fuse_uring_possible_cpus(), err, started = 0;

	if (!u)
		return NULL;
	u->srv = srv;
	u->dev_fd = dev_fd;
	u->payload = payload;
	u->on_fail = on_fail;
	u->opaque = opaque;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	if (nq > UINT16_MAX + 1) {
		log_info("fs serve: %d CPUs, too many io_uring queues; using /dev/fuse", nq);
		fuse_uring_free(u);
		return NULL;
	}
	err = fuse_uring_plan(u, nq);
	if (err) {
		log_info("fs serve: cannot set up io_uring (%s); using /dev/fuse", strerror(-err));
		fuse_uring_free(u);
		return NULL;
	}
	for (int i = 0; i < u->nthreads; i++) {
		pthread_mutex_lock(&u->lock);
		u->running++;
		pthread_mutex_unlock(&u->lock);
		if (seccomp_thread_create(&u->th[i].tid, THREAD_FUSE_URING, fuse_uring_thread_main, &u->th[i])) {
			pthread_mutex_lock(&u->lock);
			u->running--;
			u->enable_failed = true;
			pthread_mutex_unlock(&u->lock);
			break;
		}
		u->th[i].started = true;
		started++;
	}
	pthread_mutex_lock(&u->lock);
	while (u->ready < started)
		pthread_cond_wait(&u->cond, &u->lock);
	err = u->enable_failed;
	pthread_mutex_unlock(&u->lock);
	if (err) {
		log_info("fs serve: cannot start io_uring threads; using /dev/fuse");
		fuse_uring_stop(u, NULL);
		return NULL;
	}
	log_debug("fs serve: io_uring ready: %d queues on %d threads", nq, u->nthreads);
	return u;
}

void fuse_uring_start(struct fuse_uring *u)
{
	pthread_mutex_lock(&u->lock);
	u->go = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

bool fuse_uring_failed(struct fuse_uring *u)
{
	return atomic_load(&u->failed);
}

bool fuse_uring_stop(struct fuse_uring *u, const struct timespec *deadline)
{
	int left;

	pthread_mutex_lock(&u->lock);
	/* Threads that never started serving end now; serving ones end with the
	 * connection. */
	if (!u->go)
		u->stop = true;
	pthread_cond_broadcast(&u->cond);
	while (u->running > 0) {
		if (!deadline)
			pthread_cond_wait(&u->cond, &u->lock);
		else if (pthread_cond_timedwait(&u->cond, &u->lock, deadline) == ETIMEDOUT)
			break;
	}
	left = u->running;
	pthread_mutex_unlock(&u->lock);
	if (left)
		return false;
	for (int i = 0; i < u->nthreads; i++)
		if (u->th[i].started)
			pthread_join(u->th[i].tid, NULL);
	fuse_uring_free(u);
	return true;
}
