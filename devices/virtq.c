/*
 * Split virtqueue walker. See devices/virtq.h for the contract; the comments here explain
 * the memory ordering and each check.
 */
#include "devices/virtq.h"

#include <errno.h>
#include <string.h>

#include "vmm/log.h"

int virtq_setup(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *c,
		const char **why)
{
	void *desc, *avail, *used;

	if (c->max_size == 0 || c->max_size > VIRTQ_MAX_SIZE)
		return *why = "bad QueueNumMax", -EINVAL;
	if (c->size == 0 || (c->size & (c->size - 1)) || c->size > c->max_size)
		return *why = "queue size not a power of two <= QueueNumMax", -EINVAL;
	if ((c->desc_gpa & 15) || (c->avail_gpa & 1) || (c->used_gpa & 3))
		return *why = "misaligned ring", -EINVAL;
	/* gmem_ptr checks the whole range lies in one region and that gpa+len cannot wrap. */
	desc = gmem_ptr(mem, c->desc_gpa, virtq_desc_bytes(c->size));
	avail = gmem_ptr(mem, c->avail_gpa, virtq_avail_bytes(c->size));
	used = gmem_ptr(mem, c->used_gpa, virtq_used_bytes(c->size));
	if (!desc || !avail || !used)
		return *why = "ring outside guest RAM", -EINVAL;

	vq->mem = mem;
	vq->size = c->size;
	vq->event_idx = c->event_idx;
	vq->indirect = c->indirect;
	vq->broken = false;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	return 0;
}

static int virtq_fail(struct virtq *vq, uint16_t head, const char *why)
{
	log_warn("virtq: bad chain at head %u: %s; device needs reset", head, why);
	vq->broken = true;
	if (vq->needs_reset)
		vq->needs_reset(vq->opaque);
	return -1;
}

/* Append one descriptor's buffer to e, split at RAM-region boundaries. Returns NULL or why
 * it is bad. */
static const char *virtq_add_buf(const struct virtq *vq, struct virtq_elem *e,
				 const struct virtq_desc *d)
{
	bool wr = d->flags & VIRTQ_DESC_F_WRITE;
	uint64_t addr = d->addr, left = d->len;
	struct iovec *iov = wr ? e->write : e->read;
	uint32_t *cnt = wr ? &e->nr_write : &e->nr_read;

	/* The device reads the request, then writes the reply: a readable buffer after a
	 * writable one is a malformed chain (spec 2.7.4.2). */
	if (!wr && e->nr_write)
		return "readable descriptor after a writable one";
	if (left == 0)
		return NULL;
	if (addr > UINT64_MAX - left)
		return "buffer address + length overflows";
	while (left) {
		uint64_t n = gmem_contig(vq->mem, addr);
		bool window = false;

		if (n == 0 && e->allow_window)
			window = (n = gmem_window_contig(vq->mem, addr)) != 0;
		if (n == 0)
			return "buffer outside guest RAM";
		if (n > left)
			n = left;
		if (*cnt >= e->max_iov)
			return "chain needs too many iovecs";
		iov[*cnt].iov_base = window ? gmem_window_ptr(vq->mem, addr, n) : gmem_ptr(vq->mem, addr, n);
		e->nr_window += window;
		iov[*cnt].iov_len = n;
		(*cnt)++;
		addr += n;
		left -= n;
	}
	if (wr)
		e->write_len += d->len;
	else
		e->read_len += d->len;
	return NULL;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	const uint8_t *table;          /* current descriptor table (ring or indirect) */
	uint32_t table_len, count = 0;
	bool in_indirect = false;
	uint16_t avail_idx, head, idx;

	if (vq->broken)
		return -1;
	if (!vq->desc)
		return 0;
	/* Acquire: the ring entries and descriptors the driver wrote before bumping idx
	 * are visible once we see the new idx. */
	avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail_idx)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->size)
		return virtq_fail(vq, 0, "avail idx more than queue size ahead");
	head = __atomic_load_n(&vq->avail->ring[vq->last_avail_idx & (vq->size - 1)],
			       __ATOMIC_RELAXED);
	vq->last_avail_idx++;

	e->head = head;
	e->nr_read = e->nr_write = e->nr_window = 0;
	e->read_len = e->write_len = 0;
	if (head >= vq->size)
		return virtq_fail(vq, head, "head index out of range");

	table = (const uint8_t *)vq->desc;
	table_len = vq->size;
	idx = head;
	for (;;) {
		struct virtq_desc d;
		const char *why;

		/* A chain visiting more entries than its table holds must loop. */
		if (++count > table_len)
			return virtq_fail(vq, head, "chain longer than its table (loop?)");
		/* One copy, then only the copy is checked and used (no double fetch).
		 * Indirect tables need not be aligned, hence memcpy. */
		memcpy(&d, table + 16ULL * idx, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return virtq_fail(vq, head, "indirect descriptor not negotiated");
			if (in_indirect)
				return virtq_fail(vq, head, "nested indirect table");
			/* Like Linux and QEMU we only accept a chain that is one indirect
			 * descriptor at the head, so a chain has one table. */
			if (count != 1)
				return virtq_fail(vq, head, "indirect descriptor not at chain head");
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return virtq_fail(vq, head, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % 16)
				return virtq_fail(vq, head, "indirect table size not a multiple of 16");
			if (d.len / 16 > vq->size)
				return virtq_fail(vq, head, "indirect table longer than queue size");
			table = gmem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return virtq_fail(vq, head, "indirect table outside guest RAM");
			table_len = d.len / 16;
			in_indirect = true;
			count = 0;
			idx = 0;
			continue;
		}
		why = virtq_add_buf(vq, e, &d);
		if (why)
			return virtq_fail(vq, head, why);
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		idx = d.next;
		if (idx >= table_len)
			return virtq_fail(vq, head, "next index out of range");
	}
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *u = &vq->used->ring[vq->used_idx & (vq->size - 1)];

	__atomic_store_n(&u->id, (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, len, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element (and the reply bytes in guest buffers) are visible before the
	 * driver can see the new index. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, event;
	bool valid = vq->signalled_valid;

	if (!vq->desc)
		return false;
	/* Full fence: our used->idx store must be globally visible before we read the
	 * driver's suppression fields, or we could miss its update and lose an interrupt. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	event = __atomic_load_n(&vq->avail->ring[vq->size], __ATOMIC_RELAXED);
	/* Notify if used_event lies in [old, now): the driver asked to be told once the
	 * used index passes it (vring_need_event). */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void virtq_signal(struct virtq *vq)
{
	if (virtq_should_notify(vq) && vq->irq)
		vq->irq(vq->opaque);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (!vq->desc || vq->broken)
		return false;
	if (vq->event_idx) {
		uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->size];

		__atomic_store_n(avail_event, vq->last_avail_idx, __ATOMIC_RELAXED);
	}
	/* Publish avail_event before re-reading avail->idx: otherwise the driver may add
	 * a buffer, see the old avail_event, skip the kick, and we sleep forever. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}
