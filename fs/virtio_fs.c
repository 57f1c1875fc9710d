/*
 * virtio-fs device: queue threads, worker pool, completion. See fs/virtio_fs.h.
 *
 * Locking: each queue has one mutex that covers its struct virtq (pop, push, notify
 * decisions), its generation and its in-flight count. A reset bumps the generation under
 * that mutex, so a request that was in flight when the guest reset the device can still
 * finish its dispatch (it only touches guest RAM through its own iovecs) but finds the
 * generation changed and never writes the used ring. Lock order: transport lock (held by
 * the vCPU thread around reset/start) -> queue lock -> pool lock; device threads never
 * take the transport lock.
 */
#include "fs/virtio_fs.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtq.h"
#include "fs/dax_iov.h"
#include "fs/fuse_abi.h"
#include "fs/fuse_server.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

#define VFS_HIPRIO 0

struct vfs_queue;

/* One popped chain on its way through the pool. The iovecs point into guest RAM. */
struct vfs_req {
	struct vfs_req *next;
	struct vfs_queue *q;
	uint64_t gen;
	uint16_t head;
	uint32_t nr_read, nr_write;
	uint64_t write_len;
	/* Some buffers lie in a shm window (a DAX mmap used as an I/O buffer): never
	 * touched by nook, copied by the kernel (fs/dax_iov.h). */
	const struct guest_mem *window_mem;
	struct iovec iov[];   /* nr_read readable, then nr_write writable */
};

struct vfs_queue {
	struct virtio_fs *fs;
	uint32_t index;
	pthread_mutex_t lock;
	pthread_cond_t room;      /* in-flight count dropped, or the queue stopped */
	struct virtq *vq;         /* the transport's, valid while active */
	bool active;
	uint64_t gen;             /* bumped by every reset */
	uint32_t inflight, cap;
	int kick_fd;              /* the transport's eventfd */
	int stop_fd;              /* ours: wakes the queue thread for reset/teardown */
	pthread_t thread;
	bool thread_running;
	struct iovec *rd, *wr;    /* pop scratch, queue thread only */
};

struct virtio_fs {
	uint8_t config[VIRTIO_FS_TAG_MAX + 4];   /* struct virtio_fs_config */
	uint32_t nq;                              /* 1 + request queues */
	struct virtio_shm_region shm[VIRTIO_FS_SHM_MAX];   /* len 0 = absent */
	virtio_fs_dispatch_fn *dispatch;
	void *opaque;
	struct vfs_queue *q;

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct vfs_req *pool_head, *pool_tail;
	bool pool_stop;
	pthread_t *workers;
	int nworkers;
};

/* Pop scratch: a legitimate chain has at most QUEUE_SIZE descriptors; splitting at RAM
 * region boundaries may add a few iovecs, a hostile guest gets the chain rejected. */
#define VFS_MAX_IOV (2 * VIRTIO_FS_QUEUE_SIZE)

/* Return a chain to the guest, unless the queue was reset since it was popped. */
static void vfs_complete(struct vfs_queue *q, uint64_t gen, uint16_t head, uint32_t len)
{
	pthread_mutex_lock(&q->lock);
	if (q->active && q->gen == gen) {
		virtq_push(q->vq, head, len);
		virtq_signal(q->vq);
		q->inflight--;
		pthread_cond_signal(&q->room);
	}
	pthread_mutex_unlock(&q->lock);
}

static void vfs_handle(struct vfs_req *r)
{
	struct vfs_queue *q = r->q;
	struct virtio_fs *fs = q->fs;
	size_t len = 0;
	bool stale;

	pthread_mutex_lock(&q->lock);
	stale = !q->active || q->gen != r->gen;
	pthread_mutex_unlock(&q->lock);
	/* A request queued before a reset is dropped: the driver that sent it is gone. */
	if (!stale && r->window_mem)
		len = dax_iov_dispatch(r->window_mem, fs->dispatch, fs->opaque, r->iov,
				       (int)r->nr_read, r->iov + r->nr_read, (int)r->nr_write);
	else if (!stale)
		len = fs->dispatch(fs->opaque, r->iov, (int)r->nr_read, r->iov + r->nr_read,
				   (int)r->nr_write);
	if (len > r->write_len) {
		/* The used length must never claim bytes the chain cannot hold. */
		log_warn("virtio-fs: reply of %zu bytes exceeds %llu writable bytes", len,
			 (unsigned long long)r->write_len);
		len = r->write_len;
	}
	vfs_complete(q, r->gen, r->head, (uint32_t)len);
	free(r);
}

static void *vfs_worker(void *arg)
{
	struct virtio_fs *fs = arg;

	for (;;) {
		struct vfs_req *r;

		pthread_mutex_lock(&fs->pool_lock);
		while (!fs->pool_head && !fs->pool_stop)
			pthread_cond_wait(&fs->pool_cond, &fs->pool_lock);
		r = fs->pool_head;
		if (r) {
			fs->pool_head = r->next;
			if (!fs->pool_head)
				fs->pool_tail = NULL;
		}
		pthread_mutex_unlock(&fs->pool_lock);
		if (!r)
			return NULL;   /* stopping and nothing left */
		vfs_handle(r);
	}
}

static void vfs_submit(struct virtio_fs *fs, struct vfs_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&fs->pool_lock);
	if (fs->pool_tail)
		fs->pool_tail->next = r;
	else
		fs->pool_head = r;
	fs->pool_tail = r;
	pthread_cond_signal(&fs->pool_cond);
	pthread_mutex_unlock(&fs->pool_lock);
}

/* Copy n iovecs into dst, merging neighbours that are adjacent in host memory (guest
 * pages that are physically contiguous): fewer, larger iovecs for preadv/pwritev and
 * for the server's per-request iovec limit. Returns the count written. */
static uint32_t vfs_coalesce(struct iovec *dst, const struct iovec *src, uint32_t n)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (k && (uint8_t *)dst[k - 1].iov_base + dst[k - 1].iov_len ==
			 (uint8_t *)src[i].iov_base) {
			dst[k - 1].iov_len += src[i].iov_len;
			continue;
		}
		dst[k++] = src[i];
	}
	return k;
}

static struct vfs_req *vfs_req_new(struct vfs_queue *q, uint64_t gen,
				   const struct virtq_elem *e)
{
	struct vfs_req *r = malloc(sizeof(*r) + sizeof(struct iovec) * (e->nr_read + e->nr_write));

	if (!r)
		return NULL;
	r->q = q;
	r->gen = gen;
	r->head = e->head;
	r->write_len = e->write_len;
	r->window_mem = NULL;
	if (e->nr_window) {
		/* Uncoalesced: a RAM buffer and a window buffer may be adjacent in host
		 * memory, and each iovec must stay wholly one or the other. */
		r->window_mem = q->vq->mem;
		r->nr_read = e->nr_read;
		r->nr_write = e->nr_write;
		memcpy(r->iov, e->read, sizeof(struct iovec) * e->nr_read);
		memcpy(r->iov + e->nr_read, e->write, sizeof(struct iovec) * e->nr_write);
		return r;
	}
	r->nr_read = vfs_coalesce(r->iov, e->read, e->nr_read);
	r->nr_write = vfs_coalesce(r->iov + r->nr_read, e->write, e->nr_write);
	return r;
}

/* Pop everything available. Returns false when the queue was stopped. */
static bool vfs_drain(struct vfs_queue *q)
{
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct virtq_elem e = { .read = q->rd, .write = q->wr, .max_iov = VFS_MAX_IOV,
					.allow_window = true };
		struct vfs_req *r;
		uint64_t gen;
		int rc;

		/* Bounded work: at most a queue's worth of requests in flight. A guest that
		 * keeps re-posting buffers it never reclaims waits here, not in our heap. */
		while (q->active && q->inflight >= q->cap)
			pthread_cond_wait(&q->room, &q->lock);
		if (!q->active)
			break;
		rc = virtq_pop(q->vq, &e);
		if (rc == 0 && virtq_enable_notify(q->vq))
			continue;
		if (rc <= 0) {
			/* Empty, or broken (DEVICE_NEEDS_RESET is set): sleep until a kick
			 * or the reset that repairs it. */
			pthread_mutex_unlock(&q->lock);
			return true;
		}
		q->inflight++;
		gen = q->gen;
		pthread_mutex_unlock(&q->lock);

		r = vfs_req_new(q, gen, &e);
		if (!r) {
			log_warn("virtio-fs: out of memory; request returned empty");
			vfs_complete(q, gen, e.head, 0);
		} else if (q->index == VFS_HIPRIO || !q->fs->nworkers) {
			/* FORGETs (cheap, reply-less), and every request when there is no
			 * pool: handled right here, one thread wake-up per kick instead of
			 * two. That is the faster choice when the guest keeps one request in
			 * flight, as most single-threaded guest programs do. */
			vfs_handle(r);
		} else {
			vfs_submit(q->fs, r);
		}
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return false;
}

static void *vfs_queue_thread(void *arg)
{
	struct vfs_queue *q = arg;
	struct pollfd p[2] = {
		{ .fd = q->kick_fd, .events = POLLIN },
		{ .fd = q->stop_fd, .events = POLLIN },
	};

	/* Buffers may have been posted before DRIVER_OK without a kick: look first. */
	while (vfs_drain(q)) {
		eventfd_t v;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("virtio-fs: queue %u: poll: %s", q->index, strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		(void)eventfd_read(q->kick_fd, &v);   /* non-blocking; clears the kick */
	}
	return NULL;
}

static uint64_t vfs_features(void *dev)
{
	(void)dev;
	return 0;   /* VIRTIO_FS_F_NOTIFICATION is not offered */
}

static uint32_t vfs_config_size(void *dev)
{
	return sizeof(((struct virtio_fs *)dev)->config);
}

static void vfs_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	memcpy(data, ((struct virtio_fs *)dev)->config + off, len);
}

static void vfs_config_write(void *dev, uint32_t off, const void *data, uint32_t len)
{
	(void)dev;
	log_debug("virtio-fs: write to read-only config at %u (%u bytes) ignored", off, len);
}

static uint32_t vfs_num_queues(void *dev)
{
	return ((struct virtio_fs *)dev)->nq;
}

static uint16_t vfs_queue_max_size(void *dev, uint32_t q)
{
	(void)dev;
	(void)q;
	return VIRTIO_FS_QUEUE_SIZE;
}

static int vfs_queue_start(void *dev, uint32_t qi, struct virtq *vq, int kick_fd)
{
	struct virtio_fs *fs = dev;
	struct vfs_queue *q = &fs->q[qi];
	eventfd_t v;
	int rc;

	if (q->thread_running)
		return -EBUSY;
	(void)eventfd_read(q->stop_fd, &v);
	pthread_mutex_lock(&q->lock);
	q->vq = vq;
	q->kick_fd = kick_fd;
	q->inflight = 0;
	q->cap = vq->size;
	q->active = true;
	pthread_mutex_unlock(&q->lock);
	rc = seccomp_thread_create(&q->thread, THREAD_FS_WORKER, vfs_queue_thread, q);
	if (rc) {
		pthread_mutex_lock(&q->lock);
		q->active = false;
		pthread_mutex_unlock(&q->lock);
		log_err("virtio-fs: queue %u thread: %s", qi, strerror(rc));
		return -rc;
	}
	q->thread_running = true;
	return 0;
}

/*
 * A device reset ends the guest's FUSE session as surely as an unmount: tell the server
 * with a DESTROY of our own so the next driver's INIT is accepted (a guest that reboots,
 * kexecs or reloads the module never unmounted cleanly).
 */
static void vfs_end_session(struct virtio_fs *fs)
{
	struct fuse_in_header in = { .len = sizeof(in), .opcode = FUSE_DESTROY };
	uint8_t out_buf[sizeof(struct fuse_out_header)];
	struct iovec iin = { &in, sizeof(in) }, iout = { out_buf, sizeof(out_buf) };

	(void)fs->dispatch(fs->opaque, &iin, 1, &iout, 1);
}

/* Synchronous: when this returns no thread of ours touches a struct virtq. */
static void vfs_reset(void *dev)
{
	struct virtio_fs *fs = dev;
	bool was_running = false;

	for (uint32_t i = 0; i < fs->nq; i++) {
		struct vfs_queue *q = &fs->q[i];

		pthread_mutex_lock(&q->lock);
		was_running |= q->active;
		q->active = false;
		q->gen++;
		q->inflight = 0;
		pthread_cond_broadcast(&q->room);
		pthread_mutex_unlock(&q->lock);
		if (q->thread_running) {
			if (eventfd_write(q->stop_fd, 1) < 0)
				log_err("virtio-fs: stop eventfd: %s", strerror(errno));
			pthread_join(q->thread, NULL);
			q->thread_running = false;
		}
		pthread_mutex_lock(&q->lock);
		q->vq = NULL;
		pthread_mutex_unlock(&q->lock);
	}
	if (was_running)
		vfs_end_session(fs);
}

/* Shared-memory regions (DAX window = 0, version table = 1) as set by the VMM; the
 * transport reports absent ones with length ~0. */
static bool vfs_shm_region(void *dev, uint32_t id, struct virtio_shm_region *r)
{
	struct virtio_fs *fs = dev;

	if (id >= VIRTIO_FS_SHM_MAX || fs->shm[id].len == 0)
		return false;
	*r = fs->shm[id];
	return true;
}

int virtio_fs_set_shm_region(struct virtio_fs *fs, uint32_t id, uint64_t gpa, uint64_t len)
{
	if (id >= VIRTIO_FS_SHM_MAX || (len && gpa > UINT64_MAX - len))
		return -EINVAL;
	fs->shm[id].addr = gpa;
	fs->shm[id].len = len;
	return 0;
}

const struct virtio_dev_ops virtio_fs_dev_ops = {
	.device_id = VIRTIO_ID_FS,
	.features = vfs_features,
	.config_size = vfs_config_size,
	.config_read = vfs_config_read,
	.config_write = vfs_config_write,
	.num_queues = vfs_num_queues,
	.queue_max_size = vfs_queue_max_size,
	.queue_start = vfs_queue_start,
	.reset = vfs_reset,
	.shm_region = vfs_shm_region,
};

uint32_t virtio_fs_inflight(struct virtio_fs *fs, uint32_t qi)
{
	uint32_t n;

	if (qi >= fs->nq)
		return 0;
	pthread_mutex_lock(&fs->q[qi].lock);
	n = fs->q[qi].inflight;
	pthread_mutex_unlock(&fs->q[qi].lock);
	return n;
}

struct virtio_fs *virtio_fs_create_with(const char *tag, virtio_fs_dispatch_fn *fn,
					void *opaque, int num_request_queues, int threads,
					char *err, size_t errlen)
{
	struct virtio_fs *fs;
	size_t tag_len = tag ? strlen(tag) : 0;
	uint32_t nrq;

	if (tag_len == 0 || tag_len > VIRTIO_FS_TAG_MAX) {
		snprintf(err, errlen, "virtio-fs tag must be 1..%d bytes", VIRTIO_FS_TAG_MAX);
		return NULL;
	}
	if (num_request_queues < 1 || num_request_queues > VIRTIO_FS_MAX_REQUEST_QUEUES) {
		snprintf(err, errlen, "virtio-fs request queues must be 1..%d",
			 VIRTIO_FS_MAX_REQUEST_QUEUES);
		return NULL;
	}
	if (threads < 0)
		threads = 0;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		goto oom;
	nrq = (uint32_t)num_request_queues;
	memcpy(fs->config, tag, tag_len);   /* zero-padded, no NUL when 36 bytes */
	memcpy(fs->config + VIRTIO_FS_TAG_MAX, &nrq, 4);   /* le32 on x86 */
	fs->nq = nrq + 1;
	fs->dispatch = fn;
	fs->opaque = opaque;
	pthread_mutex_init(&fs->pool_lock, NULL);
	pthread_cond_init(&fs->pool_cond, NULL);
	fs->q = calloc(fs->nq, sizeof(*fs->q));
	fs->workers = calloc((size_t)threads + 1, sizeof(*fs->workers));
	if (!fs->q || !fs->workers)
		goto oom_free;
	/* Every queue is destroyable before anything can fail. */
	for (uint32_t i = 0; i < fs->nq; i++) {
		struct vfs_queue *q = &fs->q[i];

		q->fs = fs;
		q->index = i;
		q->kick_fd = -1;
		q->stop_fd = -1;
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->room, NULL);
	}
	for (uint32_t i = 0; i < fs->nq; i++) {
		struct vfs_queue *q = &fs->q[i];

		errno = 0;
		q->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		q->rd = calloc(VFS_MAX_IOV, sizeof(*q->rd));
		q->wr = calloc(VFS_MAX_IOV, sizeof(*q->wr));
		if (q->stop_fd < 0 || !q->rd || !q->wr) {
			snprintf(err, errlen, "virtio-fs: %s", strerror(errno ? errno : ENOMEM));
			virtio_fs_destroy(fs);
			return NULL;
		}
	}
	for (int i = 0; i < threads; i++) {
		int rc = seccomp_thread_create(&fs->workers[i], THREAD_FS_WORKER, vfs_worker, fs);

		if (rc) {
			snprintf(err, errlen, "virtio-fs: worker thread: %s", strerror(rc));
			virtio_fs_destroy(fs);
			return NULL;
		}
		fs->nworkers++;
	}
	return fs;
oom_free:
	free(fs->q);
	free(fs->workers);
	free(fs);
oom:
	snprintf(err, errlen, "virtio-fs: out of memory");
	return NULL;
}

static size_t vfs_fuse_dispatch(void *opaque, const struct iovec *in, int in_cnt,
				const struct iovec *out, int out_cnt)
{
	return fuse_dispatch(opaque, in, in_cnt, out, out_cnt);
}

struct virtio_fs *virtio_fs_create(const char *tag, struct fuse_server *srv,
				   int num_request_queues, int threads, char *err, size_t errlen)
{
	return virtio_fs_create_with(tag, vfs_fuse_dispatch, srv, num_request_queues, threads,
				     err, errlen);
}

void virtio_fs_destroy(struct virtio_fs *fs)
{
	if (!fs)
		return;
	vfs_reset(fs);
	pthread_mutex_lock(&fs->pool_lock);
	fs->pool_stop = true;
	pthread_cond_broadcast(&fs->pool_cond);
	pthread_mutex_unlock(&fs->pool_lock);
	/* Workers empty the pool first; every queued request is stale after the reset
	 * and is dropped without dispatch. */
	for (int i = 0; i < fs->nworkers; i++)
		pthread_join(fs->workers[i], NULL);
	for (uint32_t i = 0; i < fs->nq; i++) {
		struct vfs_queue *q = &fs->q[i];

		if (q->stop_fd >= 0)
			close(q->stop_fd);
		free(q->rd);
		free(q->wr);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->room);
	}
	pthread_mutex_destroy(&fs->pool_lock);
	pthread_cond_destroy(&fs->pool_cond);
	free(fs->q);
	free(fs->workers);
	free(fs);
}
