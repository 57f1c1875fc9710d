/*
 * virtio-console control protocol: the check of guest control messages, the queue of
 * messages owed to the guest, the port handshake, resizes and the open observer. See
 * devices/virtio_console.h; locking in devices/virtio_console_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "devices/virtio_console_int.h"
#include "vmm/log.h"

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
void vcon_put_msg(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value,
		  const void *extra, uint32_t extra_len)
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
void vcon_ctrl_send(struct virtio_console *c)
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
bool vcon_ctrl_tx(struct virtio_console *c)
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
