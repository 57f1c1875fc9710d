/*
 * A guest-less virtio driver for unit tests: guest RAM is a gmem_map()ed block, rings
 * and buffers are laid out in it the way Linux does, and the MMIO registers are written
 * in the order drivers/virtio/virtio_mmio.c writes them.
 */
#ifndef NOOK_TESTS_VIRTIO_TEST_DRIVER_H
#define NOOK_TESTS_VIRTIO_TEST_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "vmm/guest_mem.h"

#define VTD_RAM_GPA  0x100000ULL
#define VTD_RAM_SIZE (16ULL << 20)

struct vtd_mem {
	struct guest_mem mem;
	uint64_t next;      /* bump allocator (gpa) */
	uint64_t end;
};

/* One region [VTD_RAM_GPA, +VTD_RAM_SIZE), or two adjacent halves when split. */
void vtd_mem_init(struct vtd_mem *m, bool split);
void vtd_mem_free(struct vtd_mem *m);
uint64_t vtd_alloc(struct vtd_mem *m, uint64_t size, uint64_t align);
void *vtd_ptr(struct vtd_mem *m, uint64_t gpa);

struct vtd_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* The driver side of one split queue. */
struct vtd_queue {
	struct vtd_mem *m;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx;      /* next avail idx to publish */
	uint16_t last_used;      /* next used entry to consume */
	uint16_t next_desc;      /* descriptors handed out round-robin */
};

void vtd_queue_init(struct vtd_queue *q, struct vtd_mem *m, uint16_t size);
/* virtq_config for this queue (for virtq_setup in direct tests). */
struct virtq_config vtd_queue_config(const struct vtd_queue *q, bool event_idx, bool indirect);
/* Write raw descriptor i. */
void vtd_set_desc(struct vtd_queue *q, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next);
/* Lay out a chain (direct, or one indirect table allocated in RAM) and return its head;
 * does not publish it. */
uint16_t vtd_add_chain(struct vtd_queue *q, const struct vtd_buf *b, int n, bool indirect);
/* Put head in the avail ring and publish avail idx (release). */
void vtd_publish(struct vtd_queue *q, uint16_t head);
/* Next used element; false if none. */
bool vtd_get_used(struct vtd_queue *q, uint32_t *id, uint32_t *len);
uint16_t vtd_used_idx(const struct vtd_queue *q);
void vtd_set_used_event(struct vtd_queue *q, uint16_t v);
uint16_t vtd_avail_event(const struct vtd_queue *q);

/* MMIO register access through the bus ops. */
uint32_t vtd_read32(struct virtio_mmio *t, uint64_t off);
void vtd_write32(struct virtio_mmio *t, uint64_t off, uint32_t v);

/* Linux probe sequence: reset, ACK, DRIVER, features (accepting `features` & offered),
 * FEATURES_OK (read back). Returns false if the device refused FEATURES_OK. */
bool vtd_negotiate(struct virtio_mmio *t, uint64_t features);
/* Queue setup as vm_setup_vq does; returns QueueReady read back. */
bool vtd_setup_queue(struct virtio_mmio *t, uint32_t idx, struct vtd_queue *q);
void vtd_driver_ok(struct virtio_mmio *t);

/* Wait (poll, bounded by a generous timeout so a bug fails instead of hanging) for fd to
 * become readable and consume it. */
bool vtd_wait_fd(int fd, int timeout_ms);

/* The driver side of an interrupt, as Linux does it: re-arm used_event (like
 * virtqueue_enable_cb), check the used ring, else sleep on t's irqfd and acknowledge.
 * True with the next used entry in *id and *len; false after about 20 s. */
bool vtd_wait_used(struct virtio_mmio *t, struct vtd_queue *q, uint32_t *id, uint32_t *len);

#endif
