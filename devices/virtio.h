/*
 * Virtio device model shared by the transport (devices/virtio_mmio.c) and the devices.
 *
 * A device implements struct virtio_dev_ops; the transport owns the register file,
 * feature negotiation, queue configuration, notifications and interrupts. Adding a
 * device never touches the transport. Everything here is little-endian (x86 host and
 * guest), so ring and config fields need no byte swapping.
 */
#ifndef NOOK_DEVICES_VIRTIO_H
#define NOOK_DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

struct virtq;

/* Device ids (virtio spec 5). */
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_FS 26

/* Feature bits the transport / virtqueue layer handle. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_BIT(b) (1ULL << (b))

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE        1u
#define VIRTIO_STATUS_DRIVER             2u
#define VIRTIO_STATUS_DRIVER_OK          4u
#define VIRTIO_STATUS_FEATURES_OK        8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED             128u

/* InterruptStatus bits. */
#define VIRTIO_INT_USED   1u
#define VIRTIO_INT_CONFIG 2u

/* A shared-memory region (virtio 1.2 "shm"): DAX window = region 0 of virtio-fs. */
struct virtio_shm_region {
	uint64_t addr;   /* guest-physical base */
	uint64_t len;
};

struct virtio_dev_ops {
	uint32_t device_id;
	/* Device-specific feature bits. The transport adds VERSION_1, INDIRECT_DESC and
	 * EVENT_IDX itself (the virtqueue layer implements them). */
	uint64_t (*features)(void *dev);
	/* Bytes of device config space (at 0x100); accesses beyond it read as 0. */
	uint32_t (*config_size)(void *dev);
	/* Called with off + len <= config_size (checked by the transport). */
	void (*config_read)(void *dev, uint32_t off, void *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const void *data, uint32_t len);
	uint32_t (*num_queues)(void *dev);
	/* QueueNumMax of queue q (a power of two <= 32768). */
	uint16_t (*queue_max_size)(void *dev, uint32_t q);
	/*
	 * Queue q is ready and the driver set DRIVER_OK: vq is set up (rings validated,
	 * features known) and stays valid until reset() returns. kick_fd is an eventfd
	 * that becomes readable on every guest notification of this queue; the transport
	 * owns it (do not close). Returns 0 or -errno (the device then needs a reset).
	 */
	int (*queue_start)(void *dev, uint32_t q, struct virtq *vq, int kick_fd);
	/* Stop all queue processing synchronously: after return the device touches no
	 * struct virtq and raises no interrupt. Called on Status=0 and on destroy. */
	void (*reset)(void *dev);
	/* Shared-memory region id: true and *r filled if present (optional, may be NULL). */
	bool (*shm_region)(void *dev, uint32_t id, struct virtio_shm_region *r);
};

#endif
