/*
 * A nook virtual machine: KVM VM and vCPUs, guest RAM, port/MMIO buses, the legacy
 * devices, the event loop, and the API virtio devices use to attach themselves.
 *
 * Lifecycle (vm_run): open /dev/kvm and check capabilities -> create the VM, irqchip,
 * PIT, RAM -> legacy devices -> vm_setup_devices() (vmm/vm_devices.c) -> load the kernel,
 * initrd, command line, zero page, MP table -> vCPUs -> event loop until a stop request
 * -> stop vCPU threads -> tear everything down.
 */
#ifndef NOOK_VMM_VM_H
#define NOOK_VMM_VM_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

/* Process exit statuses of `nook run`. */
#define NOOK_EXIT_OK		0	/* guest reboot/poweroff (i8042 reset, triple fault), Ctrl-A x */
#define NOOK_EXIT_ERROR		1	/* nook error: bad input, KVM failure, unhandled guest exit */
#define NOOK_EXIT_PANIC		3	/* guest kernel panic reported through pvpanic */
#define NOOK_EXIT_SIGNAL_BASE	128	/* + signal number: stopped by SIGINT/SIGTERM/SIGHUP */

struct vm;

/* Boots cfg and returns the exit status above. */
int vm_run(const struct vm_config *cfg);

/* Asks the VM to stop with status (the first request wins); callable from any thread. */
void vm_request_stop(struct vm *vm, int status);

/* --- API for devices (used from vm_setup_devices) --- */

/* KVM_IOEVENTFD on MMIO [mmio_addr, +len) with KVM_IOEVENTFD_FLAG_DATAMATCH: a guest
 * write of datamatch signals fd without an exit. 0 or -errno. */
int vm_add_ioeventfd(struct vm *vm, uint64_t mmio_addr, uint32_t len, uint64_t datamatch, int fd);
/* KVM_IRQFD: writing to the eventfd fd pulses GSI gsi. 0 or -errno. */
int vm_add_irqfd(struct vm *vm, uint32_t gsi, int fd);
/* MMIO window handled in userspace on the vCPU thread that faulted. 0 or -errno. */
int vm_register_mmio(struct vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		     void *opaque, const char *name);
/* Next free virtio-mmio window (4 KiB) and its GSI from arch/x86_64/layout.h; also adds
 * `virtio_mmio.device=4K@0xADDR:GSI` to the guest command line. 0 or -ENOSPC. */
int vm_alloc_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *gsi);
/* Puts dev (a virtio device's ops and state) behind the next virtio-mmio window, with
 * its kicks on ioeventfds and its interrupt on an irqfd; *out gets the transport, which
 * the caller destroys after the vCPUs stopped. what names the device in messages.
 * 0, or -1 after one error line. */
struct virtio_dev_ops;
struct virtio_mmio;
int vm_add_virtio(struct vm *vm, const struct virtio_dev_ops *ops, void *dev, const char *what,
		  struct virtio_mmio **out);
/* Adds one parameter (e.g. "root=TAG rootfstype=virtiofs rw") to the device part of the
 * guest command line, before --append. 0 or -ENOSPC. */
int vm_cmdline_add(struct vm *vm, const char *param);
/* Guest RAM, for translating guest addresses (gmem_ptr). */
struct guest_mem *vm_mem(struct vm *vm);
/* Adds fd to the main event loop (callback runs on nook's main thread). 0 or -errno. */
int vm_add_event(struct vm *vm, int fd, void (*cb)(int fd, uint32_t events, void *opaque),
		 void *opaque);
/* Registers a teardown callback run after the vCPUs stopped, before RAM is unmapped
 * (last registered runs first). 0 or -ENOSPC. */
int vm_at_teardown(struct vm *vm, void (*fn)(void *opaque), void *opaque);

/* --- guest memory beyond RAM (vmm/vm_shm.c) --- */

/* Memslot flag: KVM_MEM_READONLY (guest writes exit to nook as MMIO writes). */
#define VM_MEM_READONLY	1u

/* Registers [hva, hva+size) at guest-physical gpa as one KVM memslot (page-aligned gpa,
 * size and hva; flags VM_MEM_*). Safe to call while RAM is being registered. Most
 * callers want vm_alloc_shm instead. 0 or -errno. */
int vm_add_memslot(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, uint32_t flags);

/*
 * A vCPU exit (KVM_EXIT_MMIO on a software-virtualized host) inside a shm region: the
 * host mapping behind guest-physical region offset off is missing or refuses the
 * access (a hole, a truncated file, a write to a read-only mapping). For a read, fill
 * data (len <= 8 bytes); the guest's instruction completes with it. Return true to let
 * the guest continue, false to stop the VM (after logging one line saying why).
 */
typedef bool vm_shm_fault_fn(void *opaque, uint64_t off, void *data, uint32_t len,
			     bool is_write);

struct vm_shm {
	uint64_t gpa;	/* guest-physical base (1 GiB aligned, above RAM, not in e820) */
	uint64_t size;
	uint8_t *hva;	/* host reservation, 2 MiB aligned */
};

/*
 * Reserves a shm region of size bytes (a multiple of 4 KiB): one PROT_NONE MAP_NORESERVE
 * host reservation (costs no memory; the owner maps files or pages into it with
 * MAP_FIXED) placed at the next free 1 GiB boundary above RAM, registered as one KVM
 * memslot with flags (VM_MEM_*) and as a guest_mem window (kernel-mediated payload I/O
 * only). fault (may be NULL: any fault then stops the VM) handles bad accesses. The
 * reservation is unmapped after the teardown callbacks ran. what names the user in
 * messages. 0, or -1 after one error line.
 */
int vm_alloc_shm(struct vm *vm, uint64_t size, uint32_t flags, vm_shm_fault_fn *fault,
		 void *opaque, const char *what, struct vm_shm *out);

/* Hook (vmm/vm_devices.c): create the devices cfg asks for (--fs, --root, ...). Called
 * after RAM and the irqchip exist, before the kernel and command line are finalised.
 * Returns 0, or non-zero after logging one error line. */
int vm_setup_devices(struct vm *vm, const struct vm_config *cfg);

#endif
