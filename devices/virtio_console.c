/*
 * virtio-console device: queues, port data, the device thread. The control protocol is
 * in devices/virtio_console_ctrl.c; the shared state and its locking in
 * devices/virtio_console_int.h. See devices/virtio_console.h.
 */
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

#include "devices/virtio_console_int.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

#define VCON_BOUNCE (64 * 1024)    /* one read() fills 16 of Linux's page-sized buffers */
#define VCON_RX_READS 16           /* reads per port per pass: 1 MiB, then others' turn */

static uint32_t vcon_rx_q(uint32_t port) { return port ? 2 + 2 * port : 0; }
static uint32_t vcon_tx_q(uint32_t port) { return port ? 3 + 2 * port : 1; }

/* Port of a data queue, or -1 for the control pair (queues 2 and 3). */
static int vcon_q_port(uint32_t qi)
{
	return qi < 2 ? 0 : qi < 4 ? -1 : (int)(qi / 2 - 1);
}

void vcon_wake(struct virtio_console *c)
{
	if (eventfd_write(c->wake_fd, 1) < 0)
		log_err("virtio-console: wake eventfd: %s", strerror(errno));
}

/* Pop under c->lock; when the ring is empty, re-arm notifications and look once more
 * (a buffer added meanwhile would otherwise wait for a kick that never comes). */
int vcon_pop(struct virtq *vq, struct virtq_elem *e)
{
	int rc = virtq_pop(vq, e);

	if (rc == 0 && virtq_enable_notify(vq))
		rc = virtq_pop(vq, e);
	return rc;
}

/* Copy up to len bytes between buf and iovecs (to_iov: buf -> iov). Returns the count. */
size_t vcon_iov_copy(const struct iovec *iov, uint32_t n, uint8_t *buf, size_t len,
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

/* Linux fills every receive queue with page-sized buffers at probe time, each one an
 * allocation and a ring entry in guest kernel code (emulated, and slow, on the hosts nook
 * targets): a port the host never writes to gets a token receive queue. */
static uint16_t vcon_queue_max_size(void *dev, uint32_t q)
{
	struct virtio_console *c = dev;
	int port = vcon_q_port(q);

	if (port < 0)
		return VCON_CTRL_QUEUE_SIZE;
	if (q == vcon_rx_q((uint32_t)port) && (uint32_t)port < c->nr_ports &&
	    c->ports[port].in_fd < 0)
		return VCON_IDLE_RX_QUEUE_SIZE;
	return VCON_DATA_QUEUE_SIZE;
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
	rc = seccomp_thread_create(&c->thread, THREAD_VIRTQ, vcon_thread, c);
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
