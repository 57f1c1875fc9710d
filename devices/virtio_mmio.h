/*
 * virtio-mmio transport, version 2 (virtio 1.2, 4.2.2).
 *
 * One 4 KiB window per device. The transport owns the register file, feature
 * negotiation, queue configuration, the per-queue kick eventfds and the interrupt
 * eventfd; the device behind it only implements struct virtio_dev_ops.
 *
 * Glue (done by the VMM):
 *	struct virtio_mmio_host h = { .ctx = vm, .mem = vm_mem(vm), .base = base,
 *				      .add_ioeventfd = ... vm_add_ioeventfd ... };
 *	t = virtio_mmio_create(&h, &virtio_fs_dev_ops, fs);
 *	vm_add_irqfd(vm, gsi, virtio_mmio_irq_fd(t));
 *	vm_register_mmio(vm, base, VIRTIO_MMIO_WINDOW, &virtio_mmio_bus_ops, t, "virtio-fs");
 *
 * Thread-safety: vCPU threads access registers (serialised by a transport mutex);
 * device threads only raise interrupts and DEVICE_NEEDS_RESET (atomics, no lock), so
 * the transport may call dev->reset() with its lock held.
 */
#ifndef NOOK_DEVICES_VIRTIO_MMIO_H
#define NOOK_DEVICES_VIRTIO_MMIO_H

#include <stdint.h>

#include "devices/virtio.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"

#define VIRTIO_MMIO_WINDOW 0x1000
#define VIRTIO_MMIO_MAX_QUEUES 64

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE        0x000
#define VIRTIO_MMIO_VERSION            0x004
#define VIRTIO_MMIO_DEVICE_ID          0x008
#define VIRTIO_MMIO_VENDOR_ID          0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES    0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES    0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL          0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX      0x034
#define VIRTIO_MMIO_QUEUE_NUM          0x038
#define VIRTIO_MMIO_QUEUE_READY        0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY       0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS   0x060
#define VIRTIO_MMIO_INTERRUPT_ACK      0x064
#define VIRTIO_MMIO_STATUS             0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW     0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH    0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW   0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH  0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW   0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH  0x0a4
#define VIRTIO_MMIO_SHM_SEL            0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW        0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH       0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW       0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH      0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION  0x0fc
#define VIRTIO_MMIO_CONFIG             0x100

#define VIRTIO_MMIO_MAGIC  0x74726976u   /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4b4f4f4eu   /* "NOOK" */

struct virtio_mmio_host {
	void *ctx;                 /* passed back to add_ioeventfd (the struct vm) */
	struct guest_mem *mem;     /* guest RAM the rings live in */
	uint64_t base;             /* guest-physical base of the 4 KiB window */
	/* Register a KVM ioeventfd: a len-byte MMIO write of datamatch at addr signals fd.
	 * Returns 0 or -errno; may be NULL (kicks then arrive through the bus). */
	int (*add_ioeventfd)(void *ctx, uint64_t addr, uint32_t len, uint64_t datamatch, int fd);
};

struct virtio_mmio;

/* Register-file callbacks for vm_register_mmio(); opaque is the struct virtio_mmio. */
extern const struct bus_ops virtio_mmio_bus_ops;

/* Creates the transport for dev (eventfds, ioeventfd registration). NULL on error. */
struct virtio_mmio *virtio_mmio_create(const struct virtio_mmio_host *host,
				       const struct virtio_dev_ops *ops, void *dev);

/* Resets the device (stopping its queues) and frees the transport. The device itself is
 * destroyed by its owner afterwards. */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* Eventfd the transport writes to raise its interrupt: bind it with KVM_IRQFD. */
int virtio_mmio_irq_fd(const struct virtio_mmio *t);

/* Kick eventfd of queue q (what the ioeventfd signals), -1 if q is out of range. */
int virtio_mmio_kick_fd(const struct virtio_mmio *t, uint32_t q);

/* Device-side events: raise the config-change interrupt (bumps ConfigGeneration). */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/* Current Status and InterruptStatus (tests, debugging). */
uint32_t virtio_mmio_status(const struct virtio_mmio *t);
uint32_t virtio_mmio_interrupt_status(const struct virtio_mmio *t);

#endif
