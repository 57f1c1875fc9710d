/* struct vm itself: shared by vmm/vm.c (lifecycle) and vmm/vcpu.c (run loop). */
#ifndef NOOK_VMM_VM_INTERNAL_H
#define NOOK_VMM_VM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <linux/kvm.h>

#include "arch/x86_64/cpuid.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/run_status.h"
#include "devices/serial.h"
#include "vmm/console.h"
#include "vmm/event_loop.h"
#include "vmm/legacy_ports.h"
#include "vmm/vm.h"

#define VM_DEV_CMDLINE_MAX	2048
#define VM_MAX_TEARDOWN		16
#define VM_MAX_SHM		GMEM_MAX_WINDOWS
/* KVM memslot ids: RAM uses 0..GMEM_MAX_REGIONS-1, shm regions the ones after. */
#define VM_SHM_SLOT_BASE	GMEM_MAX_REGIONS

/* One shm region (vm_alloc_shm); read by vCPU threads, written before they start. */
struct vm_shm_region {
	struct vm_shm shm;
	size_t map_len;		/* the reservation at map_base (hva trimmed to 2 MiB) */
	void *map_base;
	vm_shm_fault_fn *fault;
	void *opaque;
	char what[48];
};

struct vcpu {
	struct vm *vm;
	int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	uint64_t last_fault_gpa;	/* hardware KVM memory fault in a shm region; ~0: none */
};

struct vm {
	int kvm_fd;
	int vm_fd;
	bool pvm;
	struct guest_mem mem;
	pthread_t memslot_thread;	/* registers RAM with KVM (vm_memslots_*) */
	bool memslot_running;
	int memslot_err;		/* errno of the failed KVM_SET_USER_MEMORY_REGION */
	struct bus pio;
	struct bus mmio;
	int nr_vcpus;
	struct vcpu *vcpus;
	struct cpuid_table *cpuid;	/* supported CPUID, copied per vCPU */

	struct event_loop loop;
	int stop_fd;			/* eventfd: a stop was requested */
	int signal_fd;
	atomic_bool stopping;
	atomic_int exit_status;

	struct console console;
	struct serial serial;
	int serial_irq_fd;
	struct i8042 i8042;
	struct pvpanic pvpanic;
	struct boot_timer boot_timer;
	struct cmos cmos;
	struct run_status run_status;	/* `nook run -- CMD`: the init's report */
	struct run_state *run;		/* vmm/run_mode.c; NULL for a plain boot */
	bool guest_ran;			/* a vCPU was started */

	char dev_cmdline[VM_DEV_CMDLINE_MAX];	/* parameters devices add */
	int nr_virtio;
	struct { void (*fn)(void *); void *opaque; } teardown[VM_MAX_TEARDOWN];
	int nr_teardown;
	struct vm_shm_region shm[VM_MAX_SHM];
	int nr_shm;
	uint64_t shm_next;		/* next free shm guest-physical address */
	int nr_memslots;		/* vm_add_memslot slots used */
};

/* vmm/vm_shm.c */
/* A vCPU exit at gpa: 0 if gpa is in no shm region, 1 handled (resume the guest), -1 the
 * VM must stop (already logged and requested). */
int vm_shm_exit(struct vm *vm, uint64_t gpa, void *data, uint32_t len, bool is_write);
/* True if [gpa, gpa+len) touches a shm region (MMIO must not shadow them). */
bool vm_shm_overlaps(const struct vm *vm, uint64_t gpa, uint64_t len);
/* Unmaps every shm reservation (after devices were torn down). */
void vm_shm_release(struct vm *vm);

/* vmm/vcpu.c */
int vcpu_create(struct vm *vm, struct vcpu *v, int index, uint64_t entry, char *err,
		size_t errlen);
int vcpu_start(struct vcpu *v);
void vcpu_kick_all(struct vm *vm);
void vcpu_destroy(struct vcpu *v);
void vcpu_install_kick_handler(void);

#endif
