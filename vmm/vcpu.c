#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/cpu.h"
#include "vmm/log.h"
#include "vmm/vm_internal.h"
#include "vmm/seccomp.h"

/* SIGUSR1 interrupts KVM_RUN (with immediate_exit set) when nook stops. */
#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

void vcpu_install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;	/* no SA_RESTART: KVM_RUN returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

int vcpu_create(struct vm *vm, struct vcpu *v, int index, uint64_t entry, char *err,
		size_t errlen)
{
	struct cpuid_table *t;
	struct cpuid_opts o = { .apic_id = (uint32_t)index, .nr_cpus = (uint32_t)vm->nr_vcpus,
				.pvm = vm->pvm };
	int r, mmap_size;

	v->vm = vm;
	v->index = index;
	v->last_fault_gpa = ~0ULL;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %d: %s", index, strerror(errno));
		return -1;
	}
	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	v->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		snprintf(err, errlen, "mmap of vCPU %d run area: %s", index, strerror(errno));
		return -1;
	}
	v->run_size = (size_t)mmap_size;

	t = malloc(sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(t, vm->cpuid, sizeof(*t));
	cpuid_setup(t, &o);
	r = cpu_init_vcpu(v->fd, &t->head, index, entry, err, errlen);
	free(t);
	return r < 0 ? -1 : 0;
}

static unsigned long long vcpu_rip(struct vcpu *v)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return ~0ULL;
	return regs.rip;
}

/* Ends nook: an exit we cannot (or must not) handle. Never spin silently. */
static void vcpu_fatal(struct vcpu *v, const char *what)
{
	log_err("vCPU %d: %s at guest RIP 0x%llx; stopping", v->index, what, vcpu_rip(v));
	vm_request_stop(v->vm, NOOK_EXIT_ERROR);
}

static bool vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	char msg[160];

	/* String I/O repeats the access count times over consecutive buffer slots. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_access(&v->vm->pio, run->io.port, data, run->io.size, write)) {
			snprintf(msg, sizeof(msg), "unhandled port I/O %s port 0x%x size %u",
				 write ? "write to" : "read from", run->io.port, run->io.size);
			vcpu_fatal(v, msg);
			return false;
		}
	}
	return true;
}

static bool vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char msg[160];
	int shm;

	/* Inside a shm region (DAX window, version table): the owner decides. */
	if (run->mmio.len <= sizeof(run->mmio.data)) {
		shm = vm_shm_exit(v->vm, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				  run->mmio.is_write);
		if (shm)
			return shm > 0;
	}
	if (run->mmio.len > sizeof(run->mmio.data) ||
	    !bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			run->mmio.is_write)) {
		snprintf(msg, sizeof(msg), "unhandled MMIO %s 0x%llx size %u",
			 run->mmio.is_write ? "write to" : "read from",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		vcpu_fatal(v, msg);
		return false;
	}
	return true;
}

/* Hardware KVM reports a guest access to a host page it could not map (a DAX window
 * page past a truncated file's end, a hole) as KVM_RUN failing with EFAULT and, on
 * kernels with KVM_CAP_MEMORY_FAULT_INFO, exit_reason KVM_EXIT_MEMORY_FAULT and the gpa
 * (Debian 12's headers predate it: its number and layout, from the KVM API). */
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif
struct vcpu_memory_fault {
	uint64_t flags, gpa, size;
};

/* True if the guest may run again: the shm owner fixed the page. The guest re-executes
 * the access, so the same gpa faulting twice in a row stops the VM (never spin). */
static bool vcpu_handle_memory_fault(struct vcpu *v)
{
	struct vcpu_memory_fault mf;
	uint8_t data[8] = { 0 };
	int shm;

	memcpy(&mf, &v->run->mmio, sizeof(mf));	/* same union */
	if (mf.gpa == v->last_fault_gpa) {
		log_err("vCPU %d: guest access to 0x%llx faults again after it was repaired; "
			"stopping", v->index, (unsigned long long)mf.gpa);
		vm_request_stop(v->vm, NOOK_EXIT_ERROR);
		return false;
	}
	v->last_fault_gpa = mf.gpa;
	shm = vm_shm_exit(v->vm, mf.gpa, data, sizeof(data), false);
	if (shm == 0)
		vcpu_fatal(v, "KVM memory fault outside guest memory nook can repair");
	return shm > 0;
}

static const char *vcpu_internal_suberror(uint32_t s)
{
	switch (s) {
	case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception during exception delivery";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failure";
	default: return "internal error";
	}
}

/* Handles one exit; false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char msg[256];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return vcpu_handle_io(v);
	case KVM_EXIT_MMIO:
		return vcpu_handle_mmio(v);
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault: what a PC does on reset when nothing else works. */
		log_warn("vCPU %d: guest triple fault (KVM_EXIT_SHUTDOWN) at RIP 0x%llx; "
			 "treating as reboot", v->index, vcpu_rip(v));
		vm_request_stop(v->vm, NOOK_EXIT_OK);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
			log_err("guest crashed (KVM_EXIT_SYSTEM_EVENT crash)");
			vm_request_stop(v->vm, NOOK_EXIT_PANIC);
		} else {
			log_info("guest %s", run->system_event.type == KVM_SYSTEM_EVENT_RESET ?
				 "reset" : "shut down");
			vm_request_stop(v->vm, NOOK_EXIT_OK);
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(msg, sizeof(msg), "KVM_EXIT_INTERNAL_ERROR (%s, suberror %u)",
			 vcpu_internal_suberror(run->internal.suberror), run->internal.suberror);
		vcpu_fatal(v, msg);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(msg, sizeof(msg), "KVM_EXIT_FAIL_ENTRY (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fatal(v, msg);
		return false;
	case KVM_EXIT_HLT:
		vcpu_fatal(v, "KVM_EXIT_HLT (guest halted with no in-kernel irqchip wakeup)");
		return false;
	default:
		snprintf(msg, sizeof(msg), "unhandled KVM exit reason %u", run->exit_reason);
		vcpu_fatal(v, msg);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;
	bool first = true;

	/* The main thread blocks the stop signals (they go to its signalfd); only the kick
	 * signal may interrupt this thread. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vm->stopping)) {
		if (first && v->index == 0) {
			struct timespec cpu;

			/* CPU time too: wall time is noisy on a loaded host. */
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
			log_info("vCPU 0: first guest entry %.3f ms after start (nook CPU time %.3f ms)",
				 (boot_timer_now_ns() - vm->boot_timer.start_ns) / 1e6,
				 cpu.tv_sec * 1e3 + cpu.tv_nsec / 1e6);
			first = false;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EFAULT && v->run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
				if (vcpu_handle_memory_fault(v))
					continue;
				break;
			}
			log_err("vCPU %d: KVM_RUN failed: %s", v->index, strerror(errno));
			vm_request_stop(vm, NOOK_EXIT_ERROR);
			break;
		}
		v->last_fault_gpa = ~0ULL;	/* the guest made progress */
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int r = seccomp_thread_create(&v->thread, THREAD_VCPU, vcpu_thread, v);

	if (r)
		return -r;
	v->started = true;
	return 0;
}

/* Makes every vCPU leave KVM_RUN and not re-enter it; waits for the threads. */
void vcpu_kick_all(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		/* immediate_exit covers a signal that lands just before KVM_RUN. */
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
