/*
 * virtio-console internals shared by devices/virtio_console.c (device, queues, data
 * path, the device thread) and devices/virtio_console_ctrl.c (the control protocol).
 * Not for other code: the interface is devices/virtio_console.h.
 *
 * Locking: c->lock covers the queues (every struct virtq use, the active flags), the
 * generation, the pending control messages and the ports' protocol state; it is never
 * held across a blocking syscall, so reset() (called under the transport lock) and
 * config reads never wait for host I/O. c->tx_lock serialises guest -> host data (pop,
 * write, push) between the device thread and virtio_console_flush(), across the
 * blocking write, so chains reach the fd in ring order. Lock order: transport lock ->
 * tx_lock -> lock; device code never takes the transport lock.
 *
 * A reset bumps c->gen: chains popped before it are never pushed (a write in progress
 * may finish; it only reads guest RAM, which outlives the device), held rx chains are
 * forgotten. Host input goes through a per-port bounce buffer, so no read() (which can
 * block) runs while a guest buffer is in use, and bytes read but not yet delivered at a
 * reset stay there for the next driver: the stream loses nothing.
 */
#ifndef NOOK_DEVICES_VIRTIO_CONSOLE_INT_H
#define NOOK_DEVICES_VIRTIO_CONSOLE_INT_H

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio_console.h"
#include "devices/virtq.h"

#define VCON_CTRL_RX 2u
#define VCON_CTRL_TX 3u
#define VCON_MAX_QUEUES (2 * (VIRTIO_CONSOLE_MAX_PORTS + 1))
#define VCON_DATA_QUEUE_SIZE 128   /* as QEMU's virtio-serial: 512 KiB of guest rx pages */
#define VCON_IDLE_RX_QUEUE_SIZE 2  /* receive queue of a port without host input */
#define VCON_CTRL_QUEUE_SIZE 64
/* Pop scratch: a legitimate chain has at most a queue's worth of descriptors, a few of
 * them split at RAM region boundaries; a hostile one gets the queue marked broken. */
#define VCON_MAX_IOV (2 * VCON_DATA_QUEUE_SIZE)
#define VCON_TX_BATCH 64           /* chains per writev batch */
#define VCON_TX_BATCH_IOV IOV_MAX  /* iovecs per batch: one writev */
#define VCON_ROUND 64              /* control chains per pass */
#define VCON_HDR ((uint32_t)sizeof(struct virtio_console_control))
#define VCON_MSG_MAX (VCON_HDR + VIRTIO_CONSOLE_NAME_MAX)
/* Distinct messages we can owe a port: PORT_ADD, CONSOLE_PORT, RESIZE, PORT_NAME,
 * PORT_OPEN 1 and 0. Duplicates are merged, so this bound is never reached by a guest
 * that merely repeats itself while posting no control rx buffers. */
#define VCON_PENDING_MAX (6 * VIRTIO_CONSOLE_MAX_PORTS + 2)
#define VCON_MAX_PFD (1 + VCON_MAX_QUEUES + VIRTIO_CONSOLE_MAX_PORTS)

_Static_assert(VCON_MAX_QUEUES <= 64, "queues must fit VIRTIO_MMIO_MAX_QUEUES");
_Static_assert(VIRTIO_CONSOLE_MAX_PORTS < 32, "reset-close mask is a uint32_t");

struct vcon_queue {
	struct virtq *vq;    /* the transport's, valid while active */
	int kick_fd;
	bool active;
};

struct vcon_msg {
	uint32_t len;
	uint8_t buf[VCON_MSG_MAX];
};

struct vcon_port {
	/* Configuration, fixed at create. */
	char *name;
	size_t name_len;
	bool console;
	int in_fd, out_fd;
	/* Protocol state (c->lock). */
	bool ready;          /* PORT_READY(1) seen from this driver */
	bool guest_open;     /* the guest has the port open */
	bool host_open;      /* host side connected: has an fd and in_fd not at delivered EOF */
	bool size_set;
	uint16_t rows, cols;
	bool rx_held;        /* rx_e is a popped rx chain waiting for data */
	struct virtq_elem rx_e;
	struct iovec *rx_iov;
	/* Device thread only. */
	uint8_t *bounce;
	size_t bounce_off, bounce_len;
	bool in_eof;         /* in_fd returned EOF or failed: never read again */
	bool in_ready;       /* poll() saw in_fd readable */
	/* tx_lock. */
	bool out_failed;     /* an out_fd error was logged */
};

/* poll() slots: 0 the wake eventfd, 1 + q queue q's kick eventfd, 1 + nq + p port p's
 * in_fd; fd -1 (which poll skips) where nothing is wanted. */
struct vcon_pollset {
	struct pollfd pfd[VCON_MAX_PFD];
	uint64_t gen;   /* c->gen when built */
};

struct virtio_console {
	uint32_t nr_ports, nq;
	struct vcon_port *ports;
	int cfg_port;                /* first console port: config cols/rows, or -1 */

	pthread_mutex_t lock;
	struct vcon_queue q[VCON_MAX_QUEUES];
	uint64_t gen;                /* bumped by every reset */
	bool stop;
	uint32_t reset_closed;       /* ports a reset closed, for the observer */
	struct vcon_msg pending[VCON_PENDING_MAX];
	uint32_t pend_head, pend_count;
	struct iovec rd[VCON_MAX_IOV], wr[VCON_MAX_IOV];   /* pop scratch */
	void (*open_cb)(void *opaque, uint32_t port, bool open);
	void *open_opaque;

	pthread_mutex_t tx_lock;
	struct iovec tx_iov[VCON_TX_BATCH_IOV + VCON_MAX_IOV], tx_wr[VCON_MAX_IOV];
	uint16_t tx_heads[VCON_TX_BATCH];

	int wake_fd;                 /* queue start, reset, resize, stop */
	pthread_t thread;
	bool thread_running;
	struct vcon_pollset ps;      /* device thread only */
};

/* c->lock held. */
static inline struct vcon_queue *vcon_live(struct virtio_console *c, uint32_t qi)
{
	return qi < c->nq && c->q[qi].active ? &c->q[qi] : NULL;
}

/* devices/virtio_console.c */
void vcon_wake(struct virtio_console *c);
int vcon_pop(struct virtq *vq, struct virtq_elem *e);
size_t vcon_iov_copy(const struct iovec *iov, uint32_t n, uint8_t *buf, size_t len,
		     bool to_iov);

/* devices/virtio_console_ctrl.c */
void vcon_put_msg(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value,
		  const void *extra, uint32_t extra_len);
void vcon_ctrl_send(struct virtio_console *c);
bool vcon_ctrl_tx(struct virtio_console *c);

#endif
