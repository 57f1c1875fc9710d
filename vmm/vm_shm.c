/*
 * Guest memory beyond RAM: extra KVM memslots and the shared-memory regions virtio
 * devices expose (the virtio-fs DAX window, the version table).
 *
 * A shm region is one host reservation = one memslot. The reservation starts PROT_NONE
 * and MAP_NORESERVE, so a 16 GiB window costs nothing until its owner maps file ranges
 * into it with MAP_FIXED. A guest access the host mapping cannot satisfy (a hole, a
 * file truncated under it, a write to a read-only page) comes back to nook as an exit
 * inside the region; vm_shm_exit hands it to the owner's fault hook.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "arch/x86_64/layout.h"
#include "vmm/log.h"
#include "vmm/vm_internal.h"

#define VM_SHM_PAGE	4096ULL
/* Host alignment of a reservation: lets the host back guest 2 MiB pages with 2 MiB
 * mappings where the file allows it. */
#define VM_SHM_HVA_ALIGN (2ULL << 20)

int vm_add_memslot(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	struct kvm_userspace_memory_region kr = {
		.guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	if (size == 0 || (gpa | size | kr.userspace_addr) & (VM_SHM_PAGE - 1) ||
	    gpa > UINT64_MAX - size || (flags & ~VM_MEM_READONLY))
		return -EINVAL;
	if (flags & VM_MEM_READONLY) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
			return -EOPNOTSUPP;
		kr.flags |= KVM_MEM_READONLY;
	}
	kr.slot = (uint32_t)(VM_SHM_SLOT_BASE + vm->nr_memslots);
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
		return -errno;
	vm->nr_memslots++;
	return 0;
}

bool vm_shm_overlaps(const struct vm *vm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < vm->nr_shm; i++) {
		const struct vm_shm *s = &vm->shm[i].shm;

		if (gpa < s->gpa + s->size && s->gpa < gpa + len)
			return true;
	}
	return false;
}

/* A 2 MiB-aligned PROT_NONE reservation of size bytes; NULL with errno set. */
static void *vm_shm_reserve(uint64_t size, void **base, size_t *len)
{
	size_t total = size + VM_SHM_HVA_ALIGN;
	uint8_t *p = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + VM_SHM_HVA_ALIGN - 1) & ~(uintptr_t)(VM_SHM_HVA_ALIGN - 1);
	/* Trim the slack on both sides so only the aligned part stays reserved. */
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + total > a + size)
		munmap((void *)(a + size), (uintptr_t)p + total - (a + size));
	*base = (void *)a;
	*len = size;
	return (void *)a;
}

int vm_alloc_shm(struct vm *vm, uint64_t size, uint32_t flags, vm_shm_fault_fn *fault,
		 void *opaque, const char *what, struct vm_shm *out)
{
	struct vm_shm_region *r;
	uint64_t gpa = vm->shm_next;
	int err;

	if (vm->nr_shm >= VM_MAX_SHM) {
		log_err("%s: too many shared-memory regions (at most %d)", what, VM_MAX_SHM);
		return -1;
	}
	if (size == 0 || size & (VM_SHM_PAGE - 1)) {
		log_err("%s: a shared-memory region must be a non-zero multiple of 4 KiB", what);
		return -1;
	}
	if (size > LAYOUT_SHM_LIMIT || gpa > LAYOUT_SHM_LIMIT - size) {
		log_err("%s: a shared-memory region of %llu bytes does not fit the guest's "
			"physical address space", what, (unsigned long long)size);
		return -1;
	}
	r = &vm->shm[vm->nr_shm];
	memset(r, 0, sizeof(*r));
	if (!vm_shm_reserve(size, &r->map_base, &r->map_len)) {
		log_err("%s: cannot reserve %llu MiB of address space: %s", what,
			(unsigned long long)(size >> 20), strerror(errno));
		return -1;
	}
	r->shm = (struct vm_shm){ .gpa = gpa, .size = size, .hva = r->map_base };
	r->fault = fault;
	r->opaque = opaque;
	snprintf(r->what, sizeof(r->what), "%s", what);
	err = vm_add_memslot(vm, gpa, size, r->shm.hva, flags);
	if (!err)
		err = gmem_add_window(&vm->mem, gpa, size, r->shm.hva);
	if (err) {
		log_err("%s: cannot register guest memory at 0x%llx: %s", what,
			(unsigned long long)gpa, strerror(-err));
		munmap(r->map_base, r->map_len);
		return -1;
	}
	vm->nr_shm++;
	/* The next region starts on the next 1 GiB boundary after this one. */
	vm->shm_next = (gpa + size + LAYOUT_SHM_ALIGN - 1) & ~(LAYOUT_SHM_ALIGN - 1);
	*out = r->shm;
	log_info("%s: %llu MiB shared memory at guest 0x%llx", what,
		 (unsigned long long)(size >> 20), (unsigned long long)gpa);
	return 0;
}

int vm_shm_exit(struct vm *vm, uint64_t gpa, void *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < vm->nr_shm; i++) {
		struct vm_shm_region *r = &vm->shm[i];
		uint64_t off = gpa - r->shm.gpa;

		if (gpa < r->shm.gpa || off >= r->shm.size)
			continue;
		/* Whatever happens next, the guest must never see stale exit data. */
		if (!is_write)
			memset(data, 0, len);
		if (r->fault && r->fault(r->opaque, off, data, len, is_write))
			return 1;
		if (!r->fault)
			log_err("%s: guest %s at region offset 0x%llx (guest 0x%llx) has no "
				"backing", r->what, is_write ? "write" : "read",
				(unsigned long long)off, (unsigned long long)gpa);
		vm_request_stop(vm, NOOK_EXIT_ERROR);
		return -1;
	}
	return 0;
}

void vm_shm_release(struct vm *vm)
{
	for (int i = 0; i < vm->nr_shm; i++)
		munmap(vm->shm[i].map_base, vm->shm[i].map_len);
	vm->nr_shm = 0;
}
