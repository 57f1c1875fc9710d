/*
 * libFuzzer target for the virtio-mmio transport (devices/virtio_mmio.c): sequences of
 * register accesses as a hostile driver would make them.
 *
 * A fake device sits behind the transport: 3 queues (max sizes 256, 1024 and 8), 24
 * bytes of config space, one shm region (id 0) and a queue_start that fails on demand.
 * Guest RAM is 64 KiB at FUZZ_GPA, so queue addresses anywhere else are hostile.
 * Input: records of 8 bytes (little-endian) u8 op, u8 arg, u16 off, u32 value:
 *   op % 5 == 0  read  (arg & 3 picks 1/2/4/8 bytes) at off % 0x1000 (0x100+: config)
 *   op % 5 == 1  write (same), 8-byte writes repeat value in both halves
 *   op % 5 == 2  guest RAM: store value at FUZZ_GPA + off (ring contents)
 *   op % 5 == 3  device work: queue arg % 3 pops every available chain and pushes it
 *                back, touching every buffer (ASan checks the pointers)
 *   op % 5 == 4  device flags: arg bit0 makes the next queue_start fail, bit1 raises a
 *                config change
 * Every input starts from a reset (Status = 0). After each access the target checks the
 * invariants a driver relies on: magic/version/vendor never change, InterruptStatus
 * holds only the two defined bits, QueueReady reads 0 or 1, config reads beyond the
 * config space are 0, a queue is only started with DRIVER_OK, valid rings and at most
 * once, and Status=0 stops every queue. (A driver that clears DRIVER_OK without a reset
 * breaks the spec, 2.1.2; the queues then keep running, which is harmless.) tests/fuzz/gen_virtio_mmio_corpus.py writes the seed corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "vmm/log.h"

#define FUZZ_GPA	0x10000ULL
#define FUZZ_RAM	0x10000ULL
#define FUZZ_NQ		3
#define FUZZ_CFG	24
#define FUZZ_REC	8
#define FUZZ_IOV	64
#define FUZZ_SHM_GPA	0x100000000ULL
#define FUZZ_SHM_LEN	0x200000ULL

struct fake_dev {
	uint8_t config[FUZZ_CFG];
	struct virtq *vq[FUZZ_NQ];	/* started queues, NULL when stopped */
	bool fail_start;
};

static struct guest_mem mem;
static struct fake_dev fdev;
static struct virtio_mmio *t;
static struct iovec rd[FUZZ_IOV], wr[FUZZ_IOV];

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return 1ULL << 0 | 1ULL << 5;
}

static uint32_t fake_config_size(void *dev)
{
	(void)dev;
	return FUZZ_CFG;
}

static void fake_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	struct fake_dev *d = dev;

	if (off > FUZZ_CFG || len > FUZZ_CFG - off)
		abort();	/* the transport promised off + len <= config_size */
	memcpy(data, d->config + off, len);
}

static void fake_config_write(void *dev, uint32_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = dev;

	if (off > FUZZ_CFG || len > FUZZ_CFG - off)
		abort();
	memcpy(d->config + off, data, len);
}

static uint32_t fake_num_queues(void *dev)
{
	(void)dev;
	return FUZZ_NQ;
}

static uint16_t fake_queue_max(void *dev, uint32_t q)
{
	static const uint16_t max[FUZZ_NQ] = { 256, 1024, 8 };

	(void)dev;
	if (q >= FUZZ_NQ)
		abort();	/* the transport only asks for queues it has */
	return max[q];
}

static int fake_queue_start(void *dev, uint32_t q, struct virtq *vq, int kick_fd)
{
	struct fake_dev *d = dev;

	if (q >= FUZZ_NQ || kick_fd < 0 || d->vq[q])
		abort();	/* started twice without a reset in between */
	if (!(virtio_mmio_status(t) & VIRTIO_STATUS_DRIVER_OK))
		abort();
	if (!vq->desc || !vq->avail || !vq->used || vq->size == 0 ||
	    vq->size > fake_queue_max(dev, q))
		abort();
	if (d->fail_start) {
		d->fail_start = false;
		return -5;
	}
	d->vq[q] = vq;
	return 0;
}

static void fake_reset(void *dev)
{
	struct fake_dev *d = dev;

	memset(d->vq, 0, sizeof(d->vq));
}

static bool fake_shm_region(void *dev, uint32_t id, struct virtio_shm_region *r)
{
	(void)dev;
	if (id != 0)
		return false;
	r->addr = FUZZ_SHM_GPA;
	r->len = FUZZ_SHM_LEN;
	return true;
}

static const struct virtio_dev_ops fake_ops = {
	.device_id = 42,
	.features = fake_features,
	.config_size = fake_config_size,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.num_queues = fake_num_queues,
	.queue_max_size = fake_queue_max,
	.queue_start = fake_queue_start,
	.reset = fake_reset,
	.shm_region = fake_shm_region,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gmem_region layout = { .gpa = FUZZ_GPA, .size = FUZZ_RAM };
	struct virtio_mmio_host host = { .mem = &mem, .base = 0xd0000000ULL };

	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR;   /* guest mistakes log a warning each */
	if (gmem_map(&mem, &layout, 1) < 0)
		abort();
	t = virtio_mmio_create(&host, &fake_ops, &fdev);
	if (!t)
		abort();
	return 0;
}

static uint32_t reg_read(uint64_t off)
{
	uint32_t v;

	virtio_mmio_bus_ops.read(t, off, &v, 4);
	return v;
}

static void reg_write(uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(t, off, &v, 4);
}

static void check_iov(const struct iovec *iov, uint32_t n)
{
	const uint8_t *lo = mem.map_base, *hi = lo + mem.map_len;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;

		if (b < lo || b > hi || iov[i].iov_len > (size_t)(hi - b))
			abort();
	}
}

/* What a device thread does on a kick, done inline (no threads in the fuzzer). */
static void device_work(uint32_t q)
{
	struct virtq *vq = fdev.vq[q];
	struct virtq_elem e = { .read = rd, .write = wr, .max_iov = FUZZ_IOV };

	if (!vq)
		return;
	for (int budget = 2 * vq->size + 2; budget > 0; budget--) {
		if (virtq_pop(vq, &e) <= 0)
			break;
		check_iov(rd, e.nr_read);
		check_iov(wr, e.nr_write);
		for (uint32_t i = 0; i < e.nr_write; i++)
			memset(wr[i].iov_base, 0xa5, wr[i].iov_len);
		virtq_push(vq, e.head, (uint32_t)(e.write_len > UINT32_MAX ? UINT32_MAX : e.write_len));
		if (virtq_should_notify(vq))
			virtq_signal(vq);
	}
}

static void check_access(uint64_t off, uint32_t len, uint64_t v)
{
	uint32_t isr = virtio_mmio_interrupt_status(t);

	if (isr & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG))
		abort();
	if (off >= VIRTIO_MMIO_CONFIG) {
		/* Beyond the config space, or straddling its end: nothing is read. */
		if ((off - VIRTIO_MMIO_CONFIG >= FUZZ_CFG ||
		     len > FUZZ_CFG - (off - VIRTIO_MMIO_CONFIG)) && v != 0)
			abort();
		return;
	}
	if (len != 4 || (off & 3)) {
		if (v != 0)	/* the register file is 32-bit only */
			abort();
		return;
	}
	if ((off == VIRTIO_MMIO_MAGIC_VALUE && v != VIRTIO_MMIO_MAGIC) ||
	    (off == VIRTIO_MMIO_VERSION && v != 2) ||
	    (off == VIRTIO_MMIO_DEVICE_ID && v != fake_ops.device_id) ||
	    (off == VIRTIO_MMIO_VENDOR_ID && v != VIRTIO_MMIO_VENDOR) ||
	    (off == VIRTIO_MMIO_QUEUE_READY && v > 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(mem.map_base, 0, FUZZ_RAM);
	fdev.fail_start = false;
	reg_write(VIRTIO_MMIO_STATUS, 0);
	if (virtio_mmio_status(t) != 0 || virtio_mmio_interrupt_status(t) != 0)
		abort();
	for (int q = 0; q < FUZZ_NQ; q++)
		if (fdev.vq[q])
			abort();	/* reset must stop every queue */

	for (; size >= FUZZ_REC; data += FUZZ_REC, size -= FUZZ_REC) {
		uint8_t op = data[0] % 5, arg = data[1];
		uint16_t off16 = (uint16_t)(data[2] | data[3] << 8);
		uint32_t val = (uint32_t)data[4] | (uint32_t)data[5] << 8 |
			       (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
		uint64_t off = off16 % VIRTIO_MMIO_WINDOW;
		uint32_t len = 1u << (arg & 3);
		uint64_t v = 0;

		switch (op) {
		case 0:
			virtio_mmio_bus_ops.read(t, off, &v, len);
			check_access(off, len, v);
			break;
		case 1:
			v = (uint64_t)val << 32 | val;
			virtio_mmio_bus_ops.write(t, off, &v, len);
			if (virtio_mmio_interrupt_status(t) & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG))
				abort();
			break;
		case 2:
			if (off16 <= FUZZ_RAM - 4)
				memcpy((uint8_t *)mem.map_base + off16, &val, 4);
			break;
		case 3:
			device_work(arg % FUZZ_NQ);
			break;
		default:
			if (arg & 1)
				fdev.fail_start = true;
			if (arg & 2)
				virtio_mmio_config_changed(t);
			break;
		}
	}
	/* Reads of the fixed registers through the whole sequence's end state. */
	if (reg_read(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		abort();
	return 0;
}
