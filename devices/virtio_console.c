/*
 * virtio-console device: control protocol, port data, the device thread. See
 * devices/virtio_console.h.
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
#include "devices/virtio_console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtq.h"
#include "vmm/log.h"

#define VCON_CTRL_RX 2u
#define VCON_CTRL_TX 3u
#define VCON_MAX_QUEUES (2 * (VIRTIO_CONSOLE_MAX_PORTS + 1))
#define VCON_DATA_QUEUE_SIZE 128   /* as QEMU's virtio-serial: 512 KiB of guest rx pages */
#define VCON_CTRL_QUEUE_SIZE 64
/* Pop scratch: a legitimate chain has at most a queue's worth of descriptors, a few of
 * them split at RAM region boundaries; a hostile one gets the queue marked broken. */
#define VCON_MAX_IOV (2 * VCON_DATA_QUEUE_SIZE)
#define VCON_TX_BATCH 64           /* chains per writev batch */
#define VCON_TX_BATCH_IOV IOV_MAX  /* iovecs per batch: one writev */
#define VCON_BOUNCE (64 * 1024)    /* one read() fills 16 of Linux's page-sized buffers */
#define VCON_RX_READS 16           /* reads per port per pass: 1 MiB, then others' turn */
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

static uint32_t vcon_rx_q(uint32_t port) { return port ? 2 + 2 * port : 0; }
static uint32_t vcon_tx_q(uint32_t port) { return port ? 3 + 2 * port : 1; }

/* Port of a data queue, or -1 for the control pair (queues 2 and 3). */
static int vcon_q_port(uint32_t qi)
{
	return qi < 2 ? 0 : qi < 4 ? -1 : (int)(qi / 2 - 1);
}

static void vcon_wake(struct virtio_console *c)
{
	if (eventfd_write(c->wake_fd, 1) < 0)
		log_err("virtio-console: wake eventfd: %s", strerror(errno));
}

/* c->lock held. */
static struct vcon_queue *vcon_live(struct virtio_console *c, uint32_t qi)
{
	return qi < c->nq && c->q[qi].active ? &c->q[qi] : NULL;
}

/* Pop under c->lock; when the ring is empty, re-arm notifications and look once more
 * (a buffer added meanwhile would otherwise wait for a kick that never comes). */
static int vcon_pop(struct virtq *vq, struct virtq_elem *e)
{
	int rc = virtq_pop(vq, e);

	if (rc == 0 && virtq_enable_notify(vq))
		rc = virtq_pop(vq, e);
	return rc;
}

/* Copy up to len bytes between buf and iovecs (to_iov: buf -> iov). Returns the count. */
static size_t vcon_iov_copy(const struct iovec *iov, uint32_t n, uint8_t *buf, size_t len,
			    bool to_iov)
{
	size_t done = 0;

	for (uint32_t i = 0; i < n && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		if (to_iov)
			memcpy(iov[i].iov_base, buf + done, k);
		else
			memcpy(buf + done, iov[i].iov_base, k);
		done += k;
	}
	return done;
}

int virtio_console_parse_ctrl(const void *buf, size_t len, uint32_t nr_ports,
			      struct virtio_console_control *out)
{
	struct virtio_console_control m;

	if (!buf || len < sizeof(m))
		return -EINVAL;
	memcpy(&m, buf, sizeof(m));   /* one copy; only the copy is checked and used */
	if (m.value > 1)
		return -EINVAL;
	switch (m.event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		break;   /* names no port */
	case VIRTIO_CONSOLE_PORT_READY:
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (m.id >= nr_ports)
			return -ERANGE;
		break;
	default:
		return -EOPNOTSUPP;
	}
	*out = m;
	return 0;
}

/* Queue a message for the guest (c->lock held). A message already pending is not
 * queued twice; a newer RESIZE replaces a pending one for the same port. */
static void vcon_put_msg(struct virtio_console *c, uint32_t id, uint16_t event,
			 uint16_t value, const void *extra, uint32_t extra_len)
{
	struct virtio_console_control h = { .id = id, .event = event, .value = value };
	struct vcon_msg *m;

	for (uint32_t i = 0; i < c->pend_count; i++) {
		struct virtio_console_control ph;

		m = &c->pending[(c->pend_head + i) % VCON_PENDING_MAX];
		memcpy(&ph, m->buf, sizeof(ph));
		if (event == VIRTIO_CONSOLE_RESIZE && ph.event == event && ph.id == id) {
			memcpy(m->buf + VCON_HDR, extra, extra_len);
			return;
		}
		if (m->len == VCON_HDR + extra_len && !memcmp(m->buf, &h, sizeof(h)) &&
		    (!extra_len || !memcmp(m->buf + VCON_HDR, extra, extra_len)))
			return;
	}
	if (c->pend_count == VCON_PENDING_MAX) {
		log_warn("virtio-console: control queue full; event %u for port %u dropped",
			 event, id);
		return;
	}
	m = &c->pending[(c->pend_head + c->pend_count++) % VCON_PENDING_MAX];
	memcpy(m->buf, &h, sizeof(h));
	if (extra_len)
		memcpy(m->buf + VCON_HDR, extra, extra_len);
	m->len = VCON_HDR + extra_len;
}

/* Hand pending messages to the guest's control rx buffers (c->lock held). */
static void vcon_ctrl_send(struct virtio_console *c)
{
	struct vcon_queue *q = vcon_live(c, VCON_CTRL_RX);
	bool pushed = false;

	while (q && c->pend_count) {
		struct vcon_msg *m = &c->pending[c->pend_head];
		struct virtq_elem e = { .read = c->rd, .write = c->wr, .max_iov = VCON_MAX_IOV };
		size_t n;

		if (vcon_pop(q->vq, &e) <= 0)
			break;   /* none posted yet (we get a kick), or broken */
		n = vcon_iov_copy(e.write, e.nr_write, m->buf, m->len, true);
		/* Linux posts page-sized buffers; a smaller one gets what fits, and the used
		 * length says so. Guest mistakes are debug lines: a guest must not flood
		 * the log (the transport warns once about broken rings). */
		if (n < m->len)
			log_debug("virtio-console: %u-byte control message truncated to %zu",
				  m->len, n);
		virtq_push(q->vq, e.head, (uint32_t)n);
		pushed = true;
		c->pend_head = (c->pend_head + 1) % VCON_PENDING_MAX;
		c->pend_count--;
	}
	if (pushed)
		virtq_signal(q->vq);
}

/* Everything the device tells the guest about a port it just readied (QEMU's order:
 * Linux needs CONSOLE_PORT before RESIZE, which it ignores on a non-console port). */
static void vcon_port_ready(struct virtio_console *c, uint32_t id)
{
	struct vcon_port *p = &c->ports[id];

	p->ready = true;
	if (p->console) {
		vcon_put_msg(c, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
		if (p->size_set) {
			uint16_t sz[2] = { p->cols, p->rows };   /* see virtio_console_resize */

			vcon_put_msg(c, id, VIRTIO_CONSOLE_RESIZE, 0, sz, sizeof(sz));
		}
	}
	if (p->name)
		/* No NUL: Linux sizes the name from the used length. */
		vcon_put_msg(c, id, VIRTIO_CONSOLE_PORT_NAME, 1, p->name, (uint32_t)p->name_len);
	/* Linux blocks a write to a port while the host is not connected; a port whose
	 * input already ended (and was delivered) stays disconnected. */
	if (p->host_open)
		vcon_put_msg(c, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
}

/* Act on one checked message (c->lock held). *cb_port is set when the observer must
 * hear about a guest open/close. */
static void vcon_handle_ctrl(struct virtio_console *c, const struct virtio_console_control *m,
			     int *cb_port, bool *cb_open)
{
	switch (m->event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (!m->value) {
			log_warn("virtio-console: guest driver failed to set up the device");
			break;
		}
		for (uint32_t i = 0; i < c->nr_ports; i++)
			vcon_put_msg(c, i, VIRTIO_CONSOLE_PORT_ADD, 1, NULL, 0);
		break;
	case VIRTIO_CONSOLE_PORT_READY:
		/* Also sent without DEVICE_READY by a driver restoring from hibernation. */
		if (m->value)
			vcon_port_ready(c, m->id);
		else
			log_warn("virtio-console: guest failed to add port %u", m->id);
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (c->ports[m->id].guest_open != (bool)m->value) {
			c->ports[m->id].guest_open = m->value;
			*cb_port = (int)m->id;
			*cb_open = m->value;
		}
		break;
	}
}

/* Take one control tx chain (c->lock held). False when there is none. */
static bool vcon_ctrl_recv_one(struct virtio_console *c, int *cb_port, bool *cb_open)
{
	struct vcon_queue *q = vcon_live(c, VCON_CTRL_TX);
	struct virtq_elem e = { .read = c->rd, .write = c->wr, .max_iov = VCON_MAX_IOV };
	uint8_t raw[sizeof(struct virtio_console_control)];
	struct virtio_console_control m;
	size_t n;
	int rc;

	if (!q || vcon_pop(q->vq, &e) <= 0)
		return false;
	/* Only the header is copied: the chain's claimed length buys the guest nothing. */
	n = vcon_iov_copy(e.read, e.nr_read, raw, sizeof(raw), false);
	rc = virtio_console_parse_ctrl(raw, n, c->nr_ports, &m);
	if (rc == 0)
		vcon_handle_ctrl(c, &m, cb_port, cb_open);
	else
		log_debug("virtio-console: control message ignored (%llu bytes): %s",
			  (unsigned long long)e.read_len, strerror(-rc));
	/* Always returned: Linux spins until its control message is used. */
	virtq_push(q->vq, e.head, 0);
	virtq_signal(q->vq);
	return true;
}

/* Drain the control tx queue, answering as we go. True if the budget ran out. */
static bool vcon_ctrl_tx(struct virtio_console *c)
{
	for (int i = 0; i < VCON_ROUND; i++) {
		void (*cb)(void *, uint32_t, bool);
		void *opaque;
		int port = -1;
		bool open = false, got;

		pthread_mutex_lock(&c->lock);
		got = vcon_ctrl_recv_one(c, &port, &open);
		vcon_ctrl_send(c);
		cb = c->open_cb;
		opaque = c->open_opaque;
		pthread_mutex_unlock(&c->lock);
		if (port >= 0 && cb)
			cb(opaque, (uint32_t)port, open);
		if (!got)
			return false;
	}
	return true;
}

/* Write all of iov to fd, blocking. Returns 0 or -errno (the rest is dropped). iov is
 * consumed in place. */
static int vcon_write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {   /* virtq_pop makes no empty iovecs; the loop below skips used ones */
		ssize_t r = writev(fd, iov, n < IOV_MAX ? n : IOV_MAX);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Someone made the fd non-blocking: still a blocking write for us. */
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			(void)poll(&p, 1, -1);
			continue;
		}
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		while (r > 0) {
			size_t k = (size_t)r < iov->iov_len ? (size_t)r : iov->iov_len;

			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= k;
			r -= (ssize_t)k;
			if (iov->iov_len == 0) {
				iov++;
				n--;
			}
		}
	}
	return 0;
}

/* One batch of port pi's tx chains: pop, write, return (tx_lock held). True if the
 * batch was full (more may be waiting). */
static bool vcon_port_tx(struct virtio_console *c, uint32_t pi)
{
	struct vcon_port *p = &c->ports[pi];
	uint32_t qi = vcon_tx_q(pi), nh = 0, niov = 0;
	struct vcon_queue *q;
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&c->lock);
	q = vcon_live(c, qi);
	gen = c->gen;
	/* Each pop may add up to VCON_MAX_IOV iovecs: tx_iov has that much slack. */
	while (q && nh < VCON_TX_BATCH && niov <= VCON_TX_BATCH_IOV) {
		struct virtq_elem e = { .read = c->tx_iov + niov, .write = c->tx_wr,
					.max_iov = VCON_MAX_IOV };

		if (vcon_pop(q->vq, &e) <= 0)
			break;
		c->tx_heads[nh++] = e.head;
		niov += e.nr_read;   /* writable parts of a tx chain are ignored */
	}
	pthread_mutex_unlock(&c->lock);
	if (!nh)
		return false;
	if (p->out_fd >= 0) {
		rc = vcon_write_all(p->out_fd, c->tx_iov, (int)niov);
		if (rc < 0 && !p->out_failed) {
			p->out_failed = true;
			log_warn("virtio-console: port %u: write: %s; output dropped", pi,
				 strerror(-rc));
		}
	}
	pthread_mutex_lock(&c->lock);
	q = vcon_live(c, qi);
	if (q && c->gen == gen) {   /* not reset while we wrote */
		for (uint32_t i = 0; i < nh; i++)
			virtq_push(q->vq, c->tx_heads[i], 0);
		virtq_signal(q->vq);
	}
	pthread_mutex_unlock(&c->lock);
	return nh == VCON_TX_BATCH || niov > VCON_TX_BATCH_IOV;
}

/* Make sure port pi holds a popped rx chain (c->lock held). */
static bool vcon_rx_hold(struct virtio_console *c, struct vcon_port *p, uint32_t pi)
{
	struct vcon_queue *q = vcon_live(c, vcon_rx_q(pi));

	if (!q)
		return false;
	if (p->rx_held)
		return true;
	/* Readable parts of an rx chain (Linux posts none) go to the shared scratch. */
	p->rx_e = (struct virtq_elem){ .read = c->rd, .write = p->rx_iov,
				       .max_iov = VCON_MAX_IOV };
	p->rx_held = vcon_pop(q->vq, &p->rx_e) > 0;
	return p->rx_held;
}

/* Bounce buffer -> the guest's rx buffers, as many as it posted (c->lock held). True
 * if the budget ran out (tiny guest buffers): the caller must come back. */
static bool vcon_rx_deliver(struct virtio_console *c, struct vcon_port *p, uint32_t pi)
{
	struct virtq *vq = NULL;
	int i;

	for (i = 0; i < VCON_DATA_QUEUE_SIZE && p->bounce_len && p->guest_open &&
	     vcon_rx_hold(c, p, pi); i++) {
		size_t n = vcon_iov_copy(p->rx_e.write, p->rx_e.nr_write,
					 p->bounce + p->bounce_off, p->bounce_len, true);

		/* n is 0 only for a chain with no writable bytes: given back as is. */
		vq = c->q[vcon_rx_q(pi)].vq;
		virtq_push(vq, p->rx_e.head, (uint32_t)n);
		p->rx_held = false;
		p->bounce_off += n;
		p->bounce_len -= n;
	}
	if (vq)
		virtq_signal(vq);
	return i == VCON_DATA_QUEUE_SIZE;
}

static bool vcon_readable(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	return poll(&pf, 1, 0) > 0;
}

/* Host -> guest for port pi (device thread). True if the budget ran out. */
static bool vcon_rx(struct virtio_console *c, uint32_t pi)
{
	struct vcon_port *p = &c->ports[pi];

	for (int i = 0; i < VCON_RX_READS; i++) {
		bool can_read, more;
		ssize_t r;

		pthread_mutex_lock(&c->lock);
		more = vcon_rx_deliver(c, p, pi);
		if (p->in_eof && !p->bounce_len && p->host_open) {
			/* Every byte read is in the rx used ring (pushed above, before this
			 * message): Linux returns that data first, then read() == 0. */
			p->host_open = false;
			if (p->ready)
				vcon_put_msg(c, pi, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL, 0);
			vcon_ctrl_send(c);
		}
		/* Backpressure: read only for an open port with a buffer to fill. Linux
		 * drops data that arrives on a port nobody has open. */
		can_read = !p->in_eof && !p->bounce_len && p->guest_open &&
			   vcon_rx_hold(c, p, pi);
		pthread_mutex_unlock(&c->lock);
		if (more)
			return true;
		/* read() only when poll() said it cannot block (blocking ttys and pipes):
		 * first the thread's poll, then, to fill more buffers, our own. */
		if (!can_read || (!p->in_ready && (i == 0 || !vcon_readable(p->in_fd))))
			return false;
		p->in_ready = false;
		r = read(p->in_fd, p->bounce, VCON_BOUNCE);
		if (r > 0) {
			p->bounce_off = 0;
			p->bounce_len = (size_t)r;
		} else if (r == 0) {
			p->in_eof = true;
		} else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_warn("virtio-console: port %u: read: %s; input ends", pi,
				 strerror(errno));
			p->in_eof = true;
		}
	}
	return true;
}

/* Tell the observer about ports a reset closed (device thread). */
static void vcon_report_reset_closes(struct virtio_console *c)
{
	void (*cb)(void *, uint32_t, bool);
	void *opaque;
	uint32_t mask;

	pthread_mutex_lock(&c->lock);
	mask = c->stop ? 0 : c->reset_closed;   /* none while the owner destroys us */
	c->reset_closed = 0;
	cb = c->open_cb;
	opaque = c->open_opaque;
	pthread_mutex_unlock(&c->lock);
	for (uint32_t i = 0; cb && i < c->nr_ports; i++)
		if (mask & (1u << i))
			cb(opaque, i, false);
}

/* One pass over everything; nothing here sleeps except a blocking out fd. True if
 * some budget ran out. */
static bool vcon_run(struct virtio_console *c)
{
	bool more;

	vcon_report_reset_closes(c);
	more = vcon_ctrl_tx(c);
	pthread_mutex_lock(&c->tx_lock);
	for (uint32_t i = 0; i < c->nr_ports; i++)
		more |= vcon_port_tx(c, i);
	pthread_mutex_unlock(&c->tx_lock);
	for (uint32_t i = 0; i < c->nr_ports; i++)
		if (c->ports[i].in_fd >= 0)
			more |= vcon_rx(c, i);
	pthread_mutex_lock(&c->lock);
	vcon_ctrl_send(c);   /* what resize() queued */
	pthread_mutex_unlock(&c->lock);
	return more;
}

/* What the thread sleeps on, from the current state. False: stop. */
static bool vcon_build_poll(struct virtio_console *c, struct vcon_pollset *s)
{
	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	s->gen = c->gen;
	s->pfd[0] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
	for (uint32_t qi = 0; qi < c->nq; qi++) {
		int port = vcon_q_port(qi);
		bool want = c->q[qi].active;

		/* An rx queue matters only while we wait for a buffer for an in fd. */
		if (port >= 0 && qi == vcon_rx_q((uint32_t)port))
			want &= c->ports[port].in_fd >= 0 && !c->ports[port].rx_held;
		s->pfd[1 + qi] = (struct pollfd){ .fd = want ? c->q[qi].kick_fd : -1,
						  .events = POLLIN };
	}
	for (uint32_t i = 0; i < c->nr_ports; i++) {
		struct vcon_port *p = &c->ports[i];
		/* Backpressure: in_fd is watched only when a held buffer awaits data. */
		bool want = p->in_fd >= 0 && !p->in_eof && !p->bounce_len && p->guest_open &&
			    p->rx_held;

		s->pfd[1 + c->nq + i] = (struct pollfd){ .fd = want ? p->in_fd : -1,
							 .events = POLLIN };
	}
	pthread_mutex_unlock(&c->lock);
	return true;
}

static void vcon_after_poll(struct virtio_console *c, const struct vcon_pollset *s)
{
	eventfd_t v;

	pthread_mutex_lock(&c->lock);
	if (s->pfd[0].revents)
		(void)eventfd_read(c->wake_fd, &v);
	/* A kick fd is read only if no reset came in between: the transport may close its
	 * fds once reset() returned, and the number be reused. */
	for (uint32_t qi = 0; qi < c->nq && s->gen == c->gen; qi++)
		if (s->pfd[1 + qi].revents)
			(void)eventfd_read(s->pfd[1 + qi].fd, &v);   /* non-blocking */
	for (uint32_t i = 0; i < c->nr_ports; i++)
		if (s->pfd[1 + c->nq + i].revents)   /* also HUP/ERR/NVAL: read() says */
			c->ports[i].in_ready = true;
	pthread_mutex_unlock(&c->lock);
}

/* On the thread that writes to out fds: a closed reader gives EPIPE, and its SIGPIPE
 * stays pending instead of killing nook (which ignores it anyway; tests do not). */
static void vcon_block_sigpipe(sigset_t *set, sigset_t *old)
{
	sigemptyset(set);
	sigaddset(set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, set, old);
}

static void *vcon_thread(void *arg)
{
	struct virtio_console *c = arg;
	struct vcon_pollset *s = &c->ps;
	sigset_t pipe_set;

	vcon_block_sigpipe(&pipe_set, NULL);
	for (;;) {
		bool more = vcon_run(c);

		if (!vcon_build_poll(c, s))
			break;
		/* Budget left work: just collect kicks, then go again. */
		if (poll(s->pfd, 1 + c->nq + c->nr_ports, more ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("virtio-console: poll: %s", strerror(errno));
			break;
		}
		vcon_after_poll(c, s);
	}
	return NULL;
}

void virtio_console_flush(struct virtio_console *c)
{
	sigset_t pipe_set, old, pend;
	bool was_pending;

	if (!c)
		return;
	vcon_block_sigpipe(&pipe_set, &old);   /* we write on the caller's thread */
	sigpending(&pend);
	was_pending = sigismember(&pend, SIGPIPE);
	/* A ring holds at most a queue's worth of chains; the bound keeps a guest that
	 * keeps refilling from holding us here. */
	for (int i = 0; i < VCON_CTRL_QUEUE_SIZE / VCON_ROUND + 2 && vcon_ctrl_tx(c); i++)
		;
	pthread_mutex_lock(&c->tx_lock);
	for (uint32_t p = 0; p < c->nr_ports; p++)
		for (int i = 0; i < 2 * VCON_DATA_QUEUE_SIZE / VCON_TX_BATCH + 2 &&
		     vcon_port_tx(c, p); i++)
			;
	pthread_mutex_unlock(&c->tx_lock);
	if (!was_pending) {
		struct timespec zero = { 0, 0 };

		sigpending(&pend);
		if (sigismember(&pend, SIGPIPE))
			(void)sigtimedwait(&pipe_set, NULL, &zero);   /* the one we caused */
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void virtio_console_resize(struct virtio_console *c, uint32_t port, uint16_t rows,
			   uint16_t cols)
{
	struct vcon_port *p;

	if (!c || port >= c->nr_ports || !c->ports[port].console) {
		log_debug("virtio-console: resize of port %u ignored: not a console port", port);
		return;
	}
	p = &c->ports[port];
	pthread_mutex_lock(&c->lock);
	p->rows = rows;
	p->cols = cols;
	p->size_set = true;
	if (p->ready) {
		/* Our guest kernel's order (and the spec's): cols, rows. See the header:
		 * older Linux read rows first. */
		uint16_t sz[2] = { cols, rows };

		vcon_put_msg(c, port, VIRTIO_CONSOLE_RESIZE, 0, sz, sizeof(sz));
	}
	pthread_mutex_unlock(&c->lock);
	vcon_wake(c);
}

void virtio_console_set_open_cb(struct virtio_console *c,
				void (*cb)(void *opaque, uint32_t port, bool open), void *opaque)
{
	pthread_mutex_lock(&c->lock);
	c->open_cb = cb;
	c->open_opaque = opaque;
	pthread_mutex_unlock(&c->lock);
}

static uint64_t vcon_features(void *dev)
{
	(void)dev;
	return VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE) | VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT);
}

static uint32_t vcon_config_size(void *dev)
{
	(void)dev;
	return 12;   /* struct virtio_console_config */
}

static void vcon_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	struct virtio_console *c = dev;
	uint8_t cfg[12] = { 0 };   /* emerg_wr (8..11) reads 0 */

	pthread_mutex_lock(&c->lock);
	if (c->cfg_port >= 0) {
		memcpy(cfg, &c->ports[c->cfg_port].cols, 2);
		memcpy(cfg + 2, &c->ports[c->cfg_port].rows, 2);
	}
	pthread_mutex_unlock(&c->lock);
	memcpy(cfg + 4, &c->nr_ports, 4);
	memcpy(data, cfg + off, len);   /* the transport checked off + len <= 12 */
}

static void vcon_config_write(void *dev, uint32_t off, const void *data, uint32_t len)
{
	(void)dev;
	(void)data;
	/* emerg_wr without F_EMERG_WRITE, or a read-only field. */
	log_debug("virtio-console: config write at %u (%u bytes) ignored", off, len);
}

static uint32_t vcon_num_queues(void *dev)
{
	return ((struct virtio_console *)dev)->nq;
}

static uint16_t vcon_queue_max_size(void *dev, uint32_t q)
{
	(void)dev;
	return vcon_q_port(q) < 0 ? VCON_CTRL_QUEUE_SIZE : VCON_DATA_QUEUE_SIZE;
}

static int vcon_queue_start(void *dev, uint32_t qi, struct virtq *vq, int kick_fd)
{
	struct virtio_console *c = dev;

	if (qi >= c->nq)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	c->q[qi].vq = vq;
	c->q[qi].kick_fd = kick_fd;
	c->q[qi].active = true;
	pthread_mutex_unlock(&c->lock);
	vcon_wake(c);   /* buffers may have been posted before DRIVER_OK without a kick */
	return 0;
}

/* No join needed: every virtq use and interrupt happens under c->lock and checks the
 * queue is active, so once this unlocks nothing of ours touches a virtq. */
static void vcon_reset(void *dev)
{
	struct virtio_console *c = dev;

	pthread_mutex_lock(&c->lock);
	c->gen++;
	for (uint32_t i = 0; i < c->nq; i++)
		c->q[i] = (struct vcon_queue){ .vq = NULL, .kick_fd = -1, .active = false };
	for (uint32_t i = 0; i < c->nr_ports; i++) {
		struct vcon_port *p = &c->ports[i];

		if (p->guest_open)
			c->reset_closed |= 1u << i;
		p->ready = p->guest_open = p->rx_held = false;
	}
	c->pend_head = c->pend_count = 0;   /* owed to a driver that is gone */
	pthread_mutex_unlock(&c->lock);
	vcon_wake(c);
}

const struct virtio_dev_ops virtio_console_dev_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.features = vcon_features,
	.config_size = vcon_config_size,
	.config_read = vcon_config_read,
	.config_write = vcon_config_write,
	.num_queues = vcon_num_queues,
	.queue_max_size = vcon_queue_max_size,
	.queue_start = vcon_queue_start,
	.reset = vcon_reset,
	.shm_region = NULL,
};

/* Frees what create made (the thread is not running). */
static void vcon_free(struct virtio_console *c)
{
	for (uint32_t i = 0; c->ports && i < c->nr_ports; i++) {
		free(c->ports[i].name);
		free(c->ports[i].rx_iov);
		free(c->ports[i].bounce);
	}
	free(c->ports);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->tx_lock);
	free(c);
}

/* fd is -1, or open and not in bad_mode: caught at create rather than as EBADF later. */
static bool vcon_fd_ok(int fd, int bad_mode)
{
	int fl = fd < 0 ? 0 : fcntl(fd, F_GETFL);

	return fd < 0 || (fl >= 0 && (fl & O_ACCMODE) != bad_mode);
}

struct virtio_console *virtio_console_create(const struct virtio_console_port_cfg *ports,
					     int nr_ports, char *err, size_t errlen)
{
	struct virtio_console *c;
	int rc;

	if (!ports || nr_ports < 1 || nr_ports > VIRTIO_CONSOLE_MAX_PORTS) {
		snprintf(err, errlen, "virtio-console: 1..%d ports", VIRTIO_CONSOLE_MAX_PORTS);
		return NULL;
	}
	for (int i = 0; i < nr_ports; i++) {
		const char *name = ports[i].name, *why = NULL;

		if (!vcon_fd_ok(ports[i].in_fd, O_WRONLY) || !vcon_fd_ok(ports[i].out_fd, O_RDONLY))
			why = "in_fd must be open for reading, out_fd for writing";
		else if (name && (!*name || strlen(name) > VIRTIO_CONSOLE_NAME_MAX))
			why = "name must be 1..127 bytes";
		if (why) {
			snprintf(err, errlen, "virtio-console: port %d: %s", i, why);
			return NULL;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "virtio-console: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->tx_lock, NULL);
	c->nr_ports = (uint32_t)nr_ports;
	c->nq = 2 * (c->nr_ports + 1);
	c->cfg_port = -1;
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->ports = calloc(c->nr_ports, sizeof(*c->ports));
	if (c->wake_fd < 0 || !c->ports)
		goto fail_errno;
	for (uint32_t i = 0; i < c->nq; i++)
		c->q[i].kick_fd = -1;
	for (uint32_t i = 0; i < c->nr_ports; i++) {
		struct vcon_port *p = &c->ports[i];
		const struct virtio_console_port_cfg *pc = &ports[i];

		p->console = pc->console;
		p->in_fd = pc->in_fd < 0 ? -1 : pc->in_fd;
		p->out_fd = pc->out_fd < 0 ? -1 : pc->out_fd;
		p->host_open = p->in_fd >= 0 || p->out_fd >= 0;
		if (p->console && c->cfg_port < 0)
			c->cfg_port = (int)i;
		errno = ENOMEM;
		if (pc->name) {
			p->name = strdup(pc->name);
			p->name_len = strlen(pc->name);
			if (!p->name)
				goto fail_errno;
		}
		if (p->in_fd >= 0) {
			p->rx_iov = calloc(VCON_MAX_IOV, sizeof(*p->rx_iov));
			p->bounce = malloc(VCON_BOUNCE);
			if (!p->rx_iov || !p->bounce)
				goto fail_errno;
		}
	}
	rc = pthread_create(&c->thread, NULL, vcon_thread, c);
	if (rc) {
		errno = rc;
		goto fail_errno;
	}
	c->thread_running = true;
	return c;
fail_errno:
	snprintf(err, errlen, "virtio-console: %s", strerror(errno));
	vcon_free(c);
	return NULL;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_mutex_unlock(&c->lock);
	vcon_reset(c);   /* also wakes the thread */
	if (c->thread_running)
		pthread_join(c->thread, NULL);
	vcon_free(c);
}
