/*
 * libFuzzer target for the virtio-console device (devices/virtio_console.c): the control
 * message parser, and every queue's ring as a guest wrote it, through the transport.
 *
 * Input: u8 flags, then a guest memory image copied to FUZZ_GPA (8 KiB of RAM in two
 * adjacent 4 KiB regions, so chains can cross a region boundary). flags: bit0 EVENT_IDX,
 * bit1 INDIRECT_DESC, bits 2-3 number of ports - 1, bit4 resize port 0 before the guest
 * is up, bit5 resize it after. Queue i of the 2 * (ports + 1) has 8 entries at fixed
 * offsets from FUZZ_GPA: desc i * 0x100, avail i * 0x100 + 0x80, used i * 0x100 + 0xa0;
 * buffers live from 0xa00 on. Port 0 is a console port, port 1 is named; ports 0 and 1
 * write to /dev/null, the others discard.
 *
 * The image's avail indexes are hidden while the driver sets the device up, then put
 * back and virtio_console_flush() processes the rings on this thread: control tx
 * (answers go to the control rx buffers of the image) and every port's tx. The device
 * thread may take part; the locks make that safe, it only costs determinism.
 * The image's first bytes also go to virtio_console_parse_ctrl() directly.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_console.h"
#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "vmm/log.h"

#define FUZZ_GPA   0x10000ULL
#define FUZZ_HALF  0x1000ULL
#define FUZZ_RAM   (2 * FUZZ_HALF)
#define FUZZ_QSIZE 8
#define FUZZ_MAXP  4

static struct guest_mem mem;
static struct virtio_console *dev[FUZZ_MAXP];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gmem_region layout[2] = {
		{ .gpa = FUZZ_GPA, .size = FUZZ_HALF },
		{ .gpa = FUZZ_GPA + FUZZ_HALF, .size = FUZZ_HALF },
	};
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct virtio_console_port_cfg ports[FUZZ_MAXP] = {
		{ .console = true, .in_fd = -1, .out_fd = null_fd },
		{ .name = "org.nook.fuzz", .in_fd = -1, .out_fd = null_fd },
		{ .in_fd = -1, .out_fd = -1 },
		{ .in_fd = -1, .out_fd = -1 },
	};
	char err[128];

	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR;   /* bad chains and messages log a warning each */
	if (null_fd < 0 || gmem_map(&mem, layout, 2) < 0)
		abort();
	/* One device per port count, reused across inputs with a reset in between, as
	 * across guest reboots. */
	for (int n = 1; n <= FUZZ_MAXP; n++) {
		dev[n - 1] = virtio_console_create(ports, n, err, sizeof(err));
		if (!dev[n - 1])
			abort();
	}
	return 0;
}

static void wr32(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(t, off, &v, 4);
}

static uint16_t *avail_idx(uint32_t qi)
{
	return (uint16_t *)((uint8_t *)mem.map_base + qi * 0x100 + 0x80 + 2);
}

/* The Linux probe order: reset, ACK, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
static void bring_up(struct virtio_mmio *t, uint32_t nq, uint8_t flags)
{
	uint32_t feat = (1u << VIRTIO_CONSOLE_F_SIZE) | (1u << VIRTIO_CONSOLE_F_MULTIPORT);

	if (flags & 1)
		feat |= 1u << VIRTIO_RING_F_EVENT_IDX;
	if (flags & 2)
		feat |= 1u << VIRTIO_RING_F_INDIRECT_DESC;
	wr32(t, VIRTIO_MMIO_STATUS, 0);
	wr32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);   /* VERSION_1 */
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(t, VIRTIO_MMIO_DRIVER_FEATURES, feat);
	wr32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	     VIRTIO_STATUS_FEATURES_OK);
	for (uint32_t i = 0; i < nq; i++) {
		uint64_t base = FUZZ_GPA + i * 0x100;

		wr32(t, VIRTIO_MMIO_QUEUE_SEL, i);
		wr32(t, VIRTIO_MMIO_QUEUE_NUM, FUZZ_QSIZE);
		wr32(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base);
		wr32(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(base + 0x80));
		wr32(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(base + 0xa0));
		wr32(t, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr32(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_mmio_host h = { .mem = &mem, .base = 0xd0000000 };
	struct virtio_console_control m;
	uint16_t saved[2 * (FUZZ_MAXP + 1)];
	struct virtio_console *c;
	struct virtio_mmio *t;
	uint32_t nports, nq;
	size_t img;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	nports = ((flags >> 2) & 3) + 1;
	nq = 2 * (nports + 1);
	c = dev[nports - 1];
	img = size - 1 < FUZZ_RAM ? size - 1 : FUZZ_RAM;

	if (virtio_console_parse_ctrl(data + 1, img, nports, &m) == 0 &&
	    ((m.event != VIRTIO_CONSOLE_DEVICE_READY && m.id >= nports) || m.value > 1))
		abort();   /* the parser let a bad message through */

	memset(mem.map_base, 0, FUZZ_RAM);
	memcpy(mem.map_base, data + 1, img);
	for (uint32_t i = 0; i < nq; i++) {
		saved[i] = *avail_idx(i);
		*avail_idx(i) = 0;
	}
	t = virtio_mmio_create(&h, &virtio_console_dev_ops, c);
	if (!t)
		abort();
	if (flags & 0x10)
		virtio_console_resize(c, 0, 24, 80);
	bring_up(t, nq, flags);
	for (uint32_t i = 0; i < nq; i++)
		__atomic_store_n(avail_idx(i), saved[i], __ATOMIC_RELEASE);
	if (flags & 0x20)
		virtio_console_resize(c, 0, 50, 132);
	virtio_console_flush(c);
	virtio_mmio_destroy(t);   /* resets the device */
	/* A barrier: a tx write the device thread started has finished before the next
	 * input rewrites guest RAM (the reset stopped any new one). */
	virtio_console_flush(c);
	return 0;
}
