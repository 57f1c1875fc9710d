/* virtio-mmio transport with a fake device and a fake VMM host. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/log.h"

#define BASE 0xd0000000ULL

struct fake_dev {
	uint8_t config[8];
	struct virtq *vq[2];
	int kick[2];
	int starts, resets;
	bool has_shm;
};

struct fake_host {
	int calls;
	uint64_t addr[4], match[4];
	uint32_t len[4];
	int fd[4];
	int fail;
};

static uint64_t fd_features(void *dev) { (void)dev; return 1ULL << 0 | 1ULL << 40; }
static uint32_t fd_config_size(void *dev) { (void)dev; return 8; }
static void fd_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	memcpy(data, ((struct fake_dev *)dev)->config + off, len);
}
static void fd_config_write(void *dev, uint32_t off, const void *data, uint32_t len)
{
	memcpy(((struct fake_dev *)dev)->config + off, data, len);
}
static uint32_t fd_num_queues(void *dev) { (void)dev; return 2; }
static uint16_t fd_qmax(void *dev, uint32_t q) { (void)dev; (void)q; return 16; }
static int fd_queue_start(void *dev, uint32_t q, struct virtq *vq, int kick)
{
	struct fake_dev *d = dev;

	d->vq[q] = vq;
	d->kick[q] = kick;
	d->starts++;
	return 0;
}
static void fd_reset(void *dev)
{
	struct fake_dev *d = dev;

	d->resets++;
	d->vq[0] = d->vq[1] = NULL;
}
static bool fd_shm(void *dev, uint32_t id, struct virtio_shm_region *r)
{
	struct fake_dev *d = dev;

	if (!d->has_shm || id != 0)
		return false;
	r->addr = 0x4000000000ULL;
	r->len = 0x123456789ULL;
	return true;
}

static const struct virtio_dev_ops fake_ops = {
	.device_id = 42,
	.features = fd_features,
	.config_size = fd_config_size,
	.config_read = fd_config_read,
	.config_write = fd_config_write,
	.num_queues = fd_num_queues,
	.queue_max_size = fd_qmax,
	.queue_start = fd_queue_start,
	.reset = fd_reset,
	.shm_region = fd_shm,
};

static int fake_add_ioeventfd(void *ctx, uint64_t addr, uint32_t len, uint64_t match, int fd)
{
	struct fake_host *h = ctx;
	int i = h->calls++;

	if (h->fail)
		return -ENOSPC;
	h->addr[i] = addr;
	h->len[i] = len;
	h->match[i] = match;
	h->fd[i] = fd;
	return 0;
}

static struct vtd_mem m;
static struct fake_dev dev;
static struct fake_host host;
static struct virtio_mmio *t;
static struct vtd_queue q0, q1;
static const uint64_t ALL = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			    VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			    VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);

static void create(void)
{
	struct virtio_mmio_host h = {
		.ctx = &host, .mem = &m.mem, .base = BASE, .add_ioeventfd = fake_add_ioeventfd,
	};

	t = virtio_mmio_create(&h, &fake_ops, &dev);
	cr_assert_not_null(t);
}

static void setup(void)
{
	log_max_level = LOG_ERR;
	memset(&dev, 0, sizeof(dev));
	memset(&host, 0, sizeof(host));
	memcpy(dev.config, "ABCDEFGH", 8);
	vtd_mem_init(&m, false);
	vtd_queue_init(&q0, &m, 16);
	vtd_queue_init(&q1, &m, 8);
	create();
}

static void teardown(void)
{
	virtio_mmio_destroy(t);
	vtd_mem_free(&m);
	log_max_level = LOG_INFO;
}

static void bring_up(void)
{
	cr_assert(vtd_negotiate(t, ALL));
	cr_assert(vtd_setup_queue(t, 0, &q0));
	cr_assert(vtd_setup_queue(t, 1, &q1));
	vtd_driver_ok(t);
	cr_assert_eq(dev.starts, 2);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

Test(virtio_mmio, identification)
{
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_DEVICE_ID), 42);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
}

Test(virtio_mmio, device_features_64bit)
{
	vtd_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_DEVICE_FEATURES),
		     1u | 1u << VIRTIO_RING_F_INDIRECT_DESC | 1u << VIRTIO_RING_F_EVENT_IDX);
	vtd_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_DEVICE_FEATURES), 1u | 1u << 8);
	vtd_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

Test(virtio_mmio, ioeventfd_per_queue)
{
	cr_assert_eq(host.calls, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(host.addr[i], BASE + 0x50);
		cr_assert_eq(host.len[i], 4);
		cr_assert_eq(host.match[i], (uint64_t)i);
		cr_assert_eq(host.fd[i], virtio_mmio_kick_fd(t, (uint32_t)i));
	}
}

Test(virtio_mmio, full_bring_up_hands_queues_to_device)
{
	bring_up();
	cr_assert_eq(dev.kick[0], virtio_mmio_kick_fd(t, 0));
	cr_assert_eq(dev.kick[1], virtio_mmio_kick_fd(t, 1));
	cr_assert_eq(dev.vq[0]->size, 16);
	cr_assert_eq(dev.vq[1]->size, 8);
	cr_assert(dev.vq[0]->event_idx);
	cr_assert(dev.vq[0]->indirect);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS) & 0xf, 0xf);
}

Test(virtio_mmio, queues_not_started_before_driver_ok)
{
	cr_assert(vtd_negotiate(t, ALL));
	cr_assert(vtd_setup_queue(t, 0, &q0));
	cr_assert_eq(dev.starts, 0);
}

Test(virtio_mmio, features_ok_refused_without_version_1)
{
	cr_assert_not(vtd_negotiate(t, VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX)));
	vtd_driver_ok(t);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK, 0,
		     "DRIVER_OK without FEATURES_OK is refused");
}

Test(virtio_mmio, features_ok_refused_for_unoffered_bit)
{
	cr_assert_not(vtd_negotiate(t, ALL | VIRTIO_BIT(5)));
}

Test(virtio_mmio, driver_features_frozen_after_features_ok)
{
	cr_assert(vtd_negotiate(t, VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	vtd_write32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vtd_write32(t, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_RING_F_EVENT_IDX);
	cr_assert(vtd_setup_queue(t, 0, &q0));
	vtd_driver_ok(t);
	cr_assert_not(dev.vq[0]->event_idx);
}

Test(virtio_mmio, queue_notify_through_bus_signals_kick_fd)
{
	bring_up();
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	cr_assert(vtd_wait_fd(dev.kick[1], 1000));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 7);   /* no such queue: ignored */
	cr_assert_not(vtd_wait_fd(dev.kick[0], 0));
}

Test(virtio_mmio, kicks_work_when_ioeventfd_fails)
{
	virtio_mmio_destroy(t);
	memset(&host, 0, sizeof(host));
	host.fail = 1;
	create();
	bring_up();
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(vtd_wait_fd(dev.kick[0], 1000));
}

Test(virtio_mmio, used_interrupt_and_ack)
{
	int irq = virtio_mmio_irq_fd(t);

	bring_up();
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	dev.vq[0]->irq(dev.vq[0]->opaque);
	cr_assert(vtd_wait_fd(irq, 1000));
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
	vtd_write32(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

Test(virtio_mmio, broken_chain_sets_needs_reset_and_config_irq)
{
	struct iovec rd[4], wr[4];
	struct virtq_elem e = { .read = rd, .write = wr, .max_iov = 4 };

	bring_up();
	vtd_publish(&q0, 99);   /* head out of range */
	cr_assert_eq(virtq_pop(dev.vq[0], &e), -1);
	cr_assert(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
	cr_assert(vtd_wait_fd(virtio_mmio_irq_fd(t), 1000));
	/* The driver's status writes cannot clear it; only a reset does. */
	vtd_driver_ok(t);
	cr_assert(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
}

Test(virtio_mmio, reset_stops_device_and_clears_state)
{
	bring_up();
	dev.vq[0]->irq(dev.vq[0]->opaque);
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_geq(dev.resets, 1);
	cr_assert_null(dev.vq[0]);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	/* And the driver can bring it up again. */
	vtd_queue_init(&q0, &m, 16);
	vtd_queue_init(&q1, &m, 8);
	dev.starts = 0;
	bring_up();
}

Test(virtio_mmio, bad_ring_refused_at_queue_ready)
{
	cr_assert(vtd_negotiate(t, ALL));
	q0.used = BASE;   /* not RAM */
	cr_assert_not(vtd_setup_queue(t, 0, &q0));
	cr_assert(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

Test(virtio_mmio, queue_size_checks)
{
	cr_assert(vtd_negotiate(t, ALL));
	q0.size = 12;   /* not a power of two */
	cr_assert_not(vtd_setup_queue(t, 0, &q0));
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert(vtd_negotiate(t, ALL));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NUM, 32);   /* above QueueNumMax 16 */
	vtd_write32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(virtio_mmio, queue_registers_frozen_while_ready)
{
	cr_assert(vtd_negotiate(t, ALL));
	cr_assert(vtd_setup_queue(t, 0, &q0));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1230);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NUM, 2);
	vtd_driver_ok(t);
	cr_assert_eq(dev.vq[0]->desc, gmem_ptr(&m.mem, q0.desc, 1));
	cr_assert_eq(dev.vq[0]->size, 16);
}

Test(virtio_mmio, queue_sel_out_of_range)
{
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, 5);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
}

Test(virtio_mmio, config_space_bounds)
{
	uint8_t b = 0;
	uint16_t h = 0;
	uint64_t q = 0;
	uint32_t w = 0x11223344;

	virtio_mmio_bus_ops.read(t, 0x100 + 2, &b, 1);
	cr_assert_eq(b, 'C');
	virtio_mmio_bus_ops.read(t, 0x100 + 6, &h, 2);
	cr_assert_eq(h, 'G' | 'H' << 8);
	virtio_mmio_bus_ops.read(t, 0x100, &q, 8);
	cr_assert_eq(memcmp(&q, "ABCDEFGH", 8), 0);
	h = 0xffff;
	virtio_mmio_bus_ops.read(t, 0x100 + 7, &h, 2);   /* crosses the end */
	cr_assert_eq(h, 0);
	q = 1;
	virtio_mmio_bus_ops.read(t, 0xff8, &q, 8);
	cr_assert_eq(q, 0);
	virtio_mmio_bus_ops.write(t, 0x100 + 4, &w, 4);
	cr_assert_eq(memcmp(dev.config + 4, &w, 4), 0);
	virtio_mmio_bus_ops.write(t, 0x100 + 6, &w, 4);   /* crosses the end: ignored */
	cr_assert_eq(memcmp(dev.config + 4, &w, 4), 0);
}

Test(virtio_mmio, narrow_or_unaligned_register_access_ignored)
{
	uint16_t h = 0xffff;
	uint32_t w = 0xffffffff;

	virtio_mmio_bus_ops.read(t, VIRTIO_MMIO_MAGIC_VALUE, &h, 2);
	cr_assert_eq(h, 0);
	virtio_mmio_bus_ops.read(t, VIRTIO_MMIO_MAGIC_VALUE + 1, &w, 4);
	cr_assert_eq(w, 0);
	h = 1;
	virtio_mmio_bus_ops.write(t, VIRTIO_MMIO_STATUS, &h, 2);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
}

Test(virtio_mmio, shm_regions)
{
	vtd_write32(t, VIRTIO_MMIO_SHM_SEL, 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), ~0u, "absent region: ~0 length");
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_HIGH), ~0u);
	dev.has_shm = true;
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), 0x23456789u);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_HIGH), 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_BASE_LOW), 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_BASE_HIGH), 0x40);
	vtd_write32(t, VIRTIO_MMIO_SHM_SEL, 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), ~0u);
}

Test(virtio_mmio, config_generation_and_config_irq)
{
	uint32_t g = vtd_read32(t, VIRTIO_MMIO_CONFIG_GENERATION);

	virtio_mmio_config_changed(t);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_CONFIG_GENERATION), g + 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	cr_assert(vtd_wait_fd(virtio_mmio_irq_fd(t), 1000));
}
