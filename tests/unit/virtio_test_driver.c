/* Guest-less virtio driver for the unit tests; see virtio_test_driver.h. */
#include "tests/unit/virtio_test_driver.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>

void vtd_mem_init(struct vtd_mem *m, bool split)
{
	struct gmem_region layout[2] = {
		{ .gpa = VTD_RAM_GPA, .size = VTD_RAM_SIZE },
		{ .gpa = VTD_RAM_GPA + VTD_RAM_SIZE / 2, .size = VTD_RAM_SIZE / 2 },
	};

	if (split)
		layout[0].size = VTD_RAM_SIZE / 2;
	cr_assert_eq(gmem_map(&m->mem, layout, split ? 2 : 1), 0);
	m->next = VTD_RAM_GPA;
	m->end = VTD_RAM_GPA + VTD_RAM_SIZE;
}

void vtd_mem_free(struct vtd_mem *m)
{
	gmem_unmap(&m->mem);
}

uint64_t vtd_alloc(struct vtd_mem *m, uint64_t size, uint64_t align)
{
	uint64_t gpa = (m->next + align - 1) & ~(align - 1);

	cr_assert_leq(gpa + size, m->end, "test guest RAM exhausted");
	m->next = gpa + size;
	return gpa;
}

void *vtd_ptr(struct vtd_mem *m, uint64_t gpa)
{
	void *p = gmem_ptr(&m->mem, gpa, 0);

	cr_assert_not_null(p);
	return p;
}

void vtd_queue_init(struct vtd_queue *q, struct vtd_mem *m, uint16_t size)
{
	memset(q, 0, sizeof(*q));
	q->m = m;
	q->size = size;
	q->desc = vtd_alloc(m, virtq_desc_bytes(size), 16);
	q->avail = vtd_alloc(m, virtq_avail_bytes(size), 2);
	q->used = vtd_alloc(m, virtq_used_bytes(size), 4);
	memset(vtd_ptr(m, q->desc), 0, virtq_desc_bytes(size));
	memset(vtd_ptr(m, q->avail), 0, virtq_avail_bytes(size));
	memset(vtd_ptr(m, q->used), 0, virtq_used_bytes(size));
}

struct virtq_config vtd_queue_config(const struct vtd_queue *q, bool event_idx, bool indirect)
{
	return (struct virtq_config){
		.size = q->size, .max_size = q->size, .desc_gpa = q->desc,
		.avail_gpa = q->avail, .used_gpa = q->used,
		.event_idx = event_idx, .indirect = indirect,
	};
}

static void vtd_write_desc(void *table, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy((uint8_t *)table + 16ULL * i, &d, sizeof(d));
}

void vtd_set_desc(struct vtd_queue *q, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	vtd_write_desc(vtd_ptr(q->m, q->desc), i, addr, len, flags, next);
}

uint16_t vtd_add_chain(struct vtd_queue *q, const struct vtd_buf *b, int n, bool indirect)
{
	uint16_t head = q->next_desc % q->size;

	if (indirect) {
		uint64_t table = vtd_alloc(q->m, 16ULL * n, 16);

		for (int i = 0; i < n; i++)
			vtd_write_desc(vtd_ptr(q->m, table), (uint16_t)i, b[i].gpa, b[i].len,
				       (b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				       (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0), (uint16_t)(i + 1));
		vtd_set_desc(q, head, table, 16u * n, VIRTQ_DESC_F_INDIRECT, 0);
		q->next_desc++;
		return head;
	}
	for (int i = 0; i < n; i++) {
		uint16_t cur = q->next_desc++ % q->size;

		vtd_set_desc(q, cur, b[i].gpa, b[i].len,
			     (b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
			     (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0), q->next_desc % q->size);
	}
	return head;
}

void vtd_publish(struct vtd_queue *q, uint16_t head)
{
	struct virtq_avail *a = vtd_ptr(q->m, q->avail);

	a->ring[q->avail_idx % q->size] = head;
	q->avail_idx++;
	__atomic_store_n(&a->idx, q->avail_idx, __ATOMIC_RELEASE);
}

bool vtd_get_used(struct vtd_queue *q, uint32_t *id, uint32_t *len)
{
	struct virtq_used *u = vtd_ptr(q->m, q->used);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);

	if (idx == q->last_used)
		return false;
	*id = u->ring[q->last_used % q->size].id;
	*len = u->ring[q->last_used % q->size].len;
	q->last_used++;
	return true;
}

uint16_t vtd_used_idx(const struct vtd_queue *q)
{
	struct virtq_used *u = gmem_ptr(&q->m->mem, q->used, 4);

	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

void vtd_set_used_event(struct vtd_queue *q, uint16_t v)
{
	struct virtq_avail *a = vtd_ptr(q->m, q->avail);

	__atomic_store_n(&a->ring[q->size], v, __ATOMIC_SEQ_CST);
}

uint16_t vtd_avail_event(const struct vtd_queue *q)
{
	struct virtq_used *u = gmem_ptr(&q->m->mem, q->used, virtq_used_bytes(q->size));

	return __atomic_load_n((uint16_t *)&u->ring[q->size], __ATOMIC_SEQ_CST);
}

uint32_t vtd_read32(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v;

	virtio_mmio_bus_ops.read(t, off, &v, 4);
	return v;
}

void vtd_write32(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(t, off, &v, 4);
}

bool vtd_negotiate(struct virtio_mmio *t, uint64_t features)
{
	uint64_t offered;

	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_VERSION), 2);
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	vtd_write32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vtd_write32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vtd_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered = (uint64_t)vtd_read32(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vtd_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered |= vtd_read32(t, VIRTIO_MMIO_DEVICE_FEATURES);
	cr_assert(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1), "device must offer VERSION_1");
	/* Written as given (not masked) so tests can also try illegal feature sets. */
	vtd_write32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vtd_write32(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	vtd_write32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vtd_write32(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vtd_write32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK);
	return vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

bool vtd_setup_queue(struct virtio_mmio *t, uint32_t idx, struct vtd_queue *q)
{
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, idx);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_geq(vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), q->size);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NUM, q->size);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	return vtd_read32(t, VIRTIO_MMIO_QUEUE_READY) == 1;
}

void vtd_driver_ok(struct virtio_mmio *t)
{
	vtd_write32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

bool vtd_wait_fd(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	eventfd_t v;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return eventfd_read(fd, &v) == 0;
}

bool vtd_wait_used(struct virtio_mmio *t, struct vtd_queue *q, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 2000; i++) {
		vtd_set_used_event(q, q->last_used);
		if (vtd_get_used(q, id, len))
			return true;
		if (vtd_wait_fd(virtio_mmio_irq_fd(t), 10))
			vtd_write32(t, VIRTIO_MMIO_INTERRUPT_ACK,
				    vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS));
	}
	return false;
}
