/*
 * Split virtqueues (virtio 1.x, 2.7) over guest memory.
 *
 * No I/O: rings live in struct guest_mem, the transport's callbacks do the signalling.
 * virtq_pop() is the single place that trusts nothing the guest wrote into a ring or a
 * descriptor: every chain is validated before the caller sees one iovec of it.
 *
 * Threading: one consumer pops, completions push; the caller serialises virtq_pop,
 * virtq_push, virtq_should_notify and virtq_enable_notify (virtio-fs uses one mutex per
 * queue). Ring layout fields are only read with single loads and copied before use, so
 * a guest rewriting them concurrently cannot make us check one value and use another.
 */
#ifndef NOOK_DEVICES_VIRTQ_H
#define NOOK_DEVICES_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 32768

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];   /* size entries, then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];   /* size entries, then avail_event (le16) */
};

/* Where a queue's rings are, as the driver configured them. */
struct virtq_config {
	uint16_t size;         /* QueueNum */
	uint16_t max_size;     /* QueueNumMax */
	uint64_t desc_gpa;
	uint64_t avail_gpa;    /* "driver area" */
	uint64_t used_gpa;     /* "device area" */
	bool event_idx;        /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;         /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;
	bool event_idx;
	bool indirect;
	bool broken;                 /* a bad chain was seen: pops fail until reset */
	struct virtq_desc *desc;     /* host pointers, validated by virtq_setup */
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail_idx;     /* next avail ring slot to consume */
	uint16_t used_idx;           /* shadow of used->idx */
	uint16_t signalled_used;     /* used_idx at the last virtq_should_notify */
	bool signalled_valid;
	/* Transport hooks (may be NULL): raise a used-buffer interrupt; mark the device
	 * DEVICE_NEEDS_RESET after a broken chain. */
	void (*irq)(void *opaque);
	void (*needs_reset)(void *opaque);
	void *opaque;
};

/*
 * Validate a queue configuration and point vq at it: size a power of two in
 * [1, max_size], desc 16-byte, avail 2-byte, used 4-byte aligned, and every ring
 * (including the event-index fields) wholly inside one guest RAM region. Returns 0, or
 * -EINVAL with a one-line reason in why. Clears all ring state; hooks are kept.
 */
int virtq_setup(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *c,
		const char **why);

/*
 * One popped descriptor chain. The caller provides the iovec arrays (max_iov entries
 * each). Readable buffers (driver -> device) come first in a chain, writable ones after.
 */
struct virtq_elem {
	uint16_t head;
	uint32_t nr_read, nr_write;
	uint64_t read_len, write_len;   /* total bytes of each kind */
	struct iovec *read, *write;
	uint32_t max_iov;
	/* Set by the caller: buffers may also lie in a guest_mem shm window (DAX window);
	 * nr_window counts the iovecs that do. Such iovecs must never be dereferenced by
	 * nook (see struct gmem_window). Without allow_window they reject the chain. */
	bool allow_window;
	uint32_t nr_window;
};

/*
 * Take the next available chain. Returns 1 with e filled, 0 if the ring is empty, or -1
 * if the ring or the chain is malformed: the queue is then marked broken (one log line,
 * needs_reset hook called) and every later pop returns -1 until virtq_setup again.
 *
 * Rejected: avail idx more than size ahead, head or next index >= size, a chain of more
 * than size descriptors (this also catches loops), buffers not in guest RAM or whose
 * address + length overflows, a readable descriptor after a writable one, indirect
 * descriptors when not negotiated, not at the head, with NEXT, nested, zero-length, not
 * a multiple of 16 bytes, longer than size entries or not inside one RAM region, and
 * chains needing more than max_iov iovecs. A buffer crossing a boundary between two
 * adjacent RAM regions is split into one iovec per region (gmem_contig).
 * Zero-length buffers are accepted and produce no iovec.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);

/* Return chain head with exactly len bytes written to its writable buffers; publishes
 * the used index with release ordering. head must come from virtq_pop. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/* After one or more pushes: does the driver want an interrupt (EVENT_IDX used_event, or
 * VIRTQ_AVAIL_F_NO_INTERRUPT without it)? Records the point of this decision. */
bool virtq_should_notify(struct virtq *vq);

/* virtq_should_notify() and, if true, the irq hook. */
void virtq_signal(struct virtq *vq);

/* Before sleeping on the kick eventfd: publish avail_event (EVENT_IDX) or clear
 * VIRTQ_USED_F_NO_NOTIFY, then re-check. True if buffers arrived meanwhile (pop again). */
bool virtq_enable_notify(struct virtq *vq);

/* Bytes the rings of a size-entry queue take (for drivers and tests). */
static inline uint64_t virtq_desc_bytes(uint16_t size) { return 16ULL * size; }
static inline uint64_t virtq_avail_bytes(uint16_t size) { return 6ULL + 2ULL * size; }
static inline uint64_t virtq_used_bytes(uint16_t size) { return 6ULL + 8ULL * size; }

#endif
