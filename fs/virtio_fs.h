/*
 * virtio-fs device (virtio id 26): FUSE requests over virtqueues, served by threads in
 * the VMM process.
 *
 * Queue 0 is hiprio (FORGET / BATCH_FORGET, no reply), queues 1..N carry requests. Each
 * queue has a thread that sleeps on its kick eventfd (plus a stop eventfd), pops chains
 * and serves them itself or, with threads > 0, hands them to a shared worker pool; the
 * FUSE dispatcher is called with the
 * chain's readable iovecs (request) and writable iovecs (reply), both pointing straight
 * into guest RAM, so READ/WRITE payloads move between host files and guest memory with
 * no bounce buffer. Replies complete out of order.
 *
 * Glue (VMM side):
 *	fs  = virtio_fs_create(tag, srv, 1, opts.threads, err, sizeof(err));
 *	t   = virtio_mmio_create(&host, &virtio_fs_dev_ops, fs);
 *	...	(irqfd, vm_register_mmio: see devices/virtio_mmio.h)
 *	at exit: virtio_mmio_destroy(t); virtio_fs_destroy(fs);
 * The device starts serving when the guest driver sets DRIVER_OK and stops on reset.
 */
#ifndef NOOK_FS_VIRTIO_FS_H
#define NOOK_FS_VIRTIO_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio.h"

#define VIRTIO_FS_TAG_MAX    36     /* config tag bytes, not NUL-terminated when full */
#define VIRTIO_FS_QUEUE_SIZE 1024   /* QueueNumMax: a 1 MiB request (256 pages) fits */
#define VIRTIO_FS_MAX_REQUEST_QUEUES 16

struct fuse_server;
struct virtio_fs;

/* The virtio_dev_ops the transport drives; dev is the struct virtio_fs. */
extern const struct virtio_dev_ops virtio_fs_dev_ops;

/* Handle one request; same contract as fuse_dispatch() (fs/fuse_server.h). */
typedef size_t virtio_fs_dispatch_fn(void *opaque, const struct iovec *in, int in_cnt,
				     const struct iovec *out, int out_cnt);

/*
 * tag: mount tag (1..36 bytes); num_request_queues: 1..VIRTIO_FS_MAX_REQUEST_QUEUES;
 * threads: worker pool size; 0 serves requests on the queue thread itself (no pool, the
 * default: fastest while the guest has one request in flight, as virtiofsd's default
 * thread-pool-size of 0). A pool lets slow requests overlap. Starts the worker pool;
 * queue threads start at DRIVER_OK. NULL with a one-line message in err on failure.
 */
struct virtio_fs *virtio_fs_create(const char *tag, struct fuse_server *srv,
				   int num_request_queues, int threads, char *err, size_t errlen);

/* The same over any dispatcher (tests use a scripted one). */
struct virtio_fs *virtio_fs_create_with(const char *tag, virtio_fs_dispatch_fn *fn,
					void *opaque, int num_request_queues, int threads,
					char *err, size_t errlen);

/* Stops every thread (queue threads, then the pool, letting running requests finish)
 * and frees the device. Destroy the transport first. */
void virtio_fs_destroy(struct virtio_fs *fs);

/*
 * Shared-memory regions the device reports through the transport's SHM registers:
 * VIRTIO_FS_SHM_DAX (the DAX cache window) and VIRTIO_FS_SHM_VERSION (the version
 * table). gpa/len are guest-physical; the VMM maps the memory and wires DAX requests
 * (fuse_server_set_dax). Set before the guest boots; len 0 removes the region.
 */
#define VIRTIO_FS_SHM_DAX     0
#define VIRTIO_FS_SHM_VERSION 1
#define VIRTIO_FS_SHM_MAX     2
int virtio_fs_set_shm_region(struct virtio_fs *fs, uint32_t id, uint64_t gpa, uint64_t len);

/* Requests popped but not yet completed on queue q (tests, debugging). */
uint32_t virtio_fs_inflight(struct virtio_fs *fs, uint32_t q);

#endif
