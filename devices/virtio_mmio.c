/*
 * virtio-mmio version-2 register file. The device sees only struct virtio_dev_ops;
 * registers, negotiation, queue setup and interrupts live here.
 */
#include "devices/virtio_mmio.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtq.h"
#include "vmm/log.h"

struct vmmio_queue {
	uint16_t num;
	bool ready;          /* QueueReady as the driver sees it (rings validated) */
	bool started;        /* handed to the device (after DRIVER_OK) */
	uint64_t desc, driver, device;
	int kick_fd;
	struct virtq vq;
};

struct virtio_mmio {
	struct virtio_mmio_host host;
	const struct virtio_dev_ops *ops;
	void *dev;
	pthread_mutex_t lock;        /* register state below, except the atomics */
	uint32_t nq;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, shm_sel;
	uint64_t device_features, driver_features;
	uint32_t status;             /* atomic: device threads set DEVICE_NEEDS_RESET */
	uint32_t isr;                /* atomic: device threads set bits */
	uint32_t config_gen;         /* atomic */
	int irq_fd;
	bool guest_warned;           /* a guest mistake was logged since the last reset */
	struct vmmio_queue q[VIRTIO_MMIO_MAX_QUEUES];
};

/* Guest mistakes: the first one per device reset is a warning, the rest debug lines, so
 * a looping guest cannot flood the log. Called with t->lock held. */
#define vmmio_guest_warn(t, ...) do {				\
	if ((t)->guest_warned) {				\
		log_debug(__VA_ARGS__);				\
	} else {						\
		(t)->guest_warned = true;			\
		log_warn(__VA_ARGS__);				\
	}							\
} while (0)

static void vmmio_raise(struct virtio_mmio *t, uint32_t bit)
{
	__atomic_fetch_or(&t->isr, bit, __ATOMIC_SEQ_CST);
	/* Cannot fail short of counter overflow (2^64 - 1 unacknowledged kicks). */
	if (eventfd_write(t->irq_fd, 1) < 0)
		log_warn("virtio-mmio: irq eventfd: %s", strerror(errno));
}

static void vmmio_vq_irq(void *opaque)
{
	vmmio_raise(opaque, VIRTIO_INT_USED);
}

/* A device thread found the queue state broken (bad chain): tell the driver (spec
 * 2.1.2: set DEVICE_NEEDS_RESET and, once DRIVER_OK, send a config-change interrupt). */
static void vmmio_needs_reset(void *opaque)
{
	struct virtio_mmio *t = opaque;
	uint32_t old = __atomic_fetch_or(&t->status, VIRTIO_STATUS_DEVICE_NEEDS_RESET,
					 __ATOMIC_SEQ_CST);

	if (old & VIRTIO_STATUS_DRIVER_OK)
		vmmio_raise(t, VIRTIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	__atomic_fetch_add(&t->config_gen, 1, __ATOMIC_SEQ_CST);
	vmmio_raise(t, VIRTIO_INT_CONFIG);
}

uint32_t virtio_mmio_status(const struct virtio_mmio *t)
{
	return __atomic_load_n(&t->status, __ATOMIC_SEQ_CST);
}

uint32_t virtio_mmio_interrupt_status(const struct virtio_mmio *t)
{
	return __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST);
}

int virtio_mmio_irq_fd(const struct virtio_mmio *t)
{
	return t->irq_fd;
}

int virtio_mmio_kick_fd(const struct virtio_mmio *t, uint32_t q)
{
	return q < t->nq ? t->q[q].kick_fd : -1;
}

static void vmmio_drain(int fd)
{
	eventfd_t v;

	(void)eventfd_read(fd, &v);   /* non-blocking: EAGAIN when already clear */
}

/* Status = 0 or teardown: stop the device first (it may be mid-request on any queue),
 * then forget every negotiated value. Called with t->lock held. */
static void vmmio_reset_locked(struct virtio_mmio *t)
{
	t->ops->reset(t->dev);
	for (uint32_t i = 0; i < t->nq; i++) {
		struct vmmio_queue *q = &t->q[i];
		int fd = q->kick_fd;

		q->num = 0;
		q->ready = q->started = false;
		q->desc = q->driver = q->device = 0;
		q->vq.desc = NULL;
		q->vq.avail = NULL;
		q->vq.used = NULL;
		q->vq.broken = false;
		vmmio_drain(fd);
	}
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = t->shm_sel = 0;
	t->driver_features = 0;
	t->guest_warned = false;
	__atomic_store_n(&t->isr, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->status, 0, __ATOMIC_SEQ_CST);
}

static int vmmio_setup_vq(struct virtio_mmio *t, uint32_t i, const char **why)
{
	struct vmmio_queue *q = &t->q[i];
	struct virtq_config c = {
		.size = q->num,
		.max_size = t->ops->queue_max_size(t->dev, i),
		.desc_gpa = q->desc,
		.avail_gpa = q->driver,
		.used_gpa = q->device,
		.event_idx = t->driver_features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX),
		.indirect = t->driver_features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC),
	};

	return virtq_setup(&q->vq, t->host.mem, &c, why);
}

static void vmmio_start_queue(struct virtio_mmio *t, uint32_t i)
{
	struct vmmio_queue *q = &t->q[i];
	const char *why = NULL;
	int rc;

	/* Set up again: the ring features are final only now. */
	rc = vmmio_setup_vq(t, i, &why);
	if (rc == 0)
		rc = t->ops->queue_start(t->dev, i, &q->vq, q->kick_fd);
	else
		vmmio_guest_warn(t, "virtio-mmio: queue %u: %s", i, why);
	if (rc < 0) {
		vmmio_guest_warn(t, "virtio-mmio: queue %u failed to start; device needs reset", i);
		vmmio_needs_reset(t);
		return;
	}
	q->started = true;
}

static bool vmmio_features_ok(struct virtio_mmio *t)
{
	if (t->driver_features & ~t->device_features) {
		vmmio_guest_warn(t, "virtio-mmio: driver accepted features 0x%llx not offered",
			 (unsigned long long)(t->driver_features & ~t->device_features));
		return false;
	}
	if (!(t->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		vmmio_guest_warn(t, "virtio-mmio: driver did not accept VIRTIO_F_VERSION_1 (legacy driver)");
		return false;
	}
	return true;
}

static void vmmio_write_status(struct virtio_mmio *t, uint32_t v)
{
	uint32_t old = __atomic_load_n(&t->status, __ATOMIC_SEQ_CST);

	if (v == 0) {
		vmmio_reset_locked(t);
		return;
	}
	/* DEVICE_NEEDS_RESET is the device's to set; only a reset clears it. */
	v &= ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !vmmio_features_ok(t))
		v &= ~VIRTIO_STATUS_FEATURES_OK;   /* the driver reads it back and gives up */
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		vmmio_guest_warn(t, "virtio-mmio: DRIVER_OK without FEATURES_OK ignored");
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	}
	/* Keep a NEEDS_RESET a device thread may set concurrently. */
	__atomic_fetch_and(&t->status, VIRTIO_STATUS_DEVICE_NEEDS_RESET, __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&t->status, v, __ATOMIC_SEQ_CST);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		for (uint32_t i = 0; i < t->nq; i++)
			if (t->q[i].ready && !t->q[i].started)
				vmmio_start_queue(t, i);
	}
}

static void vmmio_write_ready(struct virtio_mmio *t, struct vmmio_queue *q, uint32_t i,
			      uint32_t v)
{
	const char *why = NULL;

	if (!v) {
		/* Only a device reset stops a running queue. */
		if (q->started)
			log_debug("virtio-mmio: QueueReady=0 on running queue %u ignored", i);
		else
			q->ready = false;
		return;
	}
	if (q->ready)
		return;
	/* Validate the rings now so a bad layout is refused before any use. */
	if (vmmio_setup_vq(t, i, &why) < 0) {
		vmmio_guest_warn(t, "virtio-mmio: queue %u: %s; device needs reset", i, why);
		vmmio_needs_reset(t);
		return;
	}
	q->ready = true;
	if (__atomic_load_n(&t->status, __ATOMIC_SEQ_CST) & VIRTIO_STATUS_DRIVER_OK)
		vmmio_start_queue(t, i);
}

static uint32_t vmmio_read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct vmmio_queue *q = t->queue_sel < t->nq ? &t->q[t->queue_sel] : NULL;
	struct virtio_shm_region r = { 0, 0 };
	bool shm = false;

	if (off >= VIRTIO_MMIO_SHM_LEN_LOW && off <= VIRTIO_MMIO_SHM_BASE_HIGH)
		shm = t->ops->shm_region && t->ops->shm_region(t->dev, t->shm_sel, &r);
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->dev_feat_sel > 1)
			return 0;
		return (uint32_t)(t->device_features >> (32 * t->dev_feat_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? t->ops->queue_max_size(t->dev, t->queue_sel) : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS: return __atomic_load_n(&t->status, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_SHM_LEN_LOW: return shm ? (uint32_t)r.len : ~0u;
	case VIRTIO_MMIO_SHM_LEN_HIGH: return shm ? (uint32_t)(r.len >> 32) : ~0u;
	case VIRTIO_MMIO_SHM_BASE_LOW: return shm ? (uint32_t)r.addr : ~0u;
	case VIRTIO_MMIO_SHM_BASE_HIGH: return shm ? (uint32_t)(r.addr >> 32) : ~0u;
	case VIRTIO_MMIO_CONFIG_GENERATION: return __atomic_load_n(&t->config_gen, __ATOMIC_SEQ_CST);
	default:
		/* Write-only registers and holes read as 0. */
		return 0;
	}
}

static void vmmio_set_half(uint64_t *dst, bool high, uint32_t v)
{
	if (high)
		*dst = (*dst & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*dst = (*dst & ~0xffffffffULL) | v;
}

static void vmmio_write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct vmmio_queue *q = t->queue_sel < t->nq ? &t->q[t->queue_sel] : NULL;
	uint32_t status = __atomic_load_n(&t->status, __ATOMIC_SEQ_CST);
	/* Queue layout registers are frozen while the queue is ready (spec 4.2.2.3). */
	bool q_writable = q && !q->ready;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_feat_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (status & VIRTIO_STATUS_FEATURES_OK) {
			log_debug("virtio-mmio: DriverFeatures after FEATURES_OK ignored");
			break;
		}
		if (t->drv_feat_sel <= 1)
			vmmio_set_half(&t->driver_features, t->drv_feat_sel, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_feat_sel = v; break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Range-checked when the queue becomes ready (virtq_setup). */
		if (q_writable)
			q->num = v > VIRTQ_MAX_SIZE ? 0 : (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q)
			vmmio_write_ready(t, q, t->queue_sel, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->isr, ~v, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS: vmmio_write_status(t, v); break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q_writable)
			vmmio_set_half(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (q_writable)
			vmmio_set_half(&q->driver, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (q_writable)
			vmmio_set_half(&q->device, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
		break;
	case VIRTIO_MMIO_SHM_SEL: t->shm_sel = v; break;
	default:
		log_debug("virtio-mmio: write 0x%x to read-only/unknown register 0x%llx",
			  v, (unsigned long long)off);
		break;
	}
}

static bool vmmio_config_range(struct virtio_mmio *t, uint64_t off, uint32_t len)
{
	uint32_t size = t->ops->config_size ? t->ops->config_size(t->dev) : 0;

	return off < size && len <= size - off;
}

static void vmmio_bus_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	memset(data, 0, len);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		pthread_mutex_lock(&t->lock);
		if (t->ops->config_read && vmmio_config_range(t, off, len))
			t->ops->config_read(t->dev, (uint32_t)off, data, len);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	/* The register file is 32-bit wide and aligned (spec 4.2.2.2). */
	if (len != 4 || (offset & 3)) {
		log_debug("virtio-mmio: %u-byte read at 0x%llx ignored", len,
			  (unsigned long long)offset);
		return;
	}
	pthread_mutex_lock(&t->lock);
	v = vmmio_read_reg(t, offset);
	pthread_mutex_unlock(&t->lock);
	memcpy(data, &v, 4);
}

static void vmmio_bus_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		pthread_mutex_lock(&t->lock);
		if (t->ops->config_write && vmmio_config_range(t, off, len))
			t->ops->config_write(t->dev, (uint32_t)off, data, len);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (len != 4 || (offset & 3)) {
		log_debug("virtio-mmio: %u-byte write at 0x%llx ignored", len,
			  (unsigned long long)offset);
		return;
	}
	memcpy(&v, data, 4);
	if (offset == VIRTIO_MMIO_QUEUE_NOTIFY) {
		/* Normally the ioeventfd catches this in KVM; if it did not (registration
		 * failed, or another access width), signal the same eventfd. No lock: the
		 * kick fds live as long as the transport. */
		if (v < t->nq && eventfd_write(t->q[v].kick_fd, 1) < 0)
			log_warn("virtio-mmio: kick eventfd: %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&t->lock);
	vmmio_write_reg(t, offset, v);
	pthread_mutex_unlock(&t->lock);
}

const struct bus_ops virtio_mmio_bus_ops = {
	.read = vmmio_bus_read,
	.write = vmmio_bus_write,
};

struct virtio_mmio *virtio_mmio_create(const struct virtio_mmio_host *host,
				       const struct virtio_dev_ops *ops, void *dev)
{
	struct virtio_mmio *t;
	uint32_t nq = ops->num_queues(dev);

	if (nq == 0 || nq > VIRTIO_MMIO_MAX_QUEUES) {
		log_err("virtio-mmio: device wants %u queues (max %d)", nq,
			VIRTIO_MMIO_MAX_QUEUES);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->host = *host;
	t->ops = ops;
	t->dev = dev;
	t->nq = nq;
	t->device_features = ops->features(dev) | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			     VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
			     VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);
	pthread_mutex_init(&t->lock, NULL);
	t->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (uint32_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->q[i].kick_fd = -1;
	if (t->irq_fd < 0)
		goto fail;
	for (uint32_t i = 0; i < nq; i++) {
		struct vmmio_queue *q = &t->q[i];
		int rc;

		q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kick_fd < 0)
			goto fail;
		q->vq.irq = vmmio_vq_irq;
		q->vq.needs_reset = vmmio_needs_reset;
		q->vq.opaque = t;
		if (!host->add_ioeventfd)
			continue;
		/* One ioeventfd per queue: a 4-byte QueueNotify write of the queue index. */
		rc = host->add_ioeventfd(host->ctx, host->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, i,
					 q->kick_fd);
		if (rc < 0)
			log_warn("virtio-mmio: ioeventfd for queue %u: %s; kicks take the slow path",
				 i, strerror(-rc));
	}
	return t;
fail:
	log_err("virtio-mmio: eventfd: %s", strerror(errno));
	virtio_mmio_destroy(t);
	return NULL;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->irq_fd >= 0)
		vmmio_reset_locked(t);
	pthread_mutex_unlock(&t->lock);
	for (uint32_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		if (t->q[i].kick_fd >= 0)
			close(t->q[i].kick_fd);
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
