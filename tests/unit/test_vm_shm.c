/*
 * Guest memory beyond RAM: shm placement (arch/x86_64/layout.h), guest_mem windows, and
 * vm_alloc_shm / vm_add_memslot against a real KVM VM (no vCPU runs).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "vmm/guest_mem.h"
#include "vmm/vm_internal.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

Test(vm_shm, placement_above_ram_and_gap)
{
	cr_assert_eq(layout_shm_base(128 * MiB), 4 * GiB, "small guest: right above the gap");
	cr_assert_eq(layout_shm_base(3 * GiB), 4 * GiB);
	cr_assert_eq(layout_shm_base(3 * GiB + 4096), 5 * GiB, "RAM above 4 GiB pushes it up");
	cr_assert_eq(layout_shm_base(4 * GiB), 5 * GiB);
	cr_assert_eq(layout_shm_base(4 * GiB + 2 * MiB), 6 * GiB, "1 GiB aligned");
}

Test(vm_shm, gmem_windows_are_bounds_checked)
{
	struct guest_mem m;
	struct gmem_region ram = { .gpa = 0, .size = 2 * MiB };
	static uint8_t fake[1];	/* never dereferenced: only pointer arithmetic */
	uint8_t *hva = fake;

	cr_assert_eq(gmem_map(&m, &ram, 1), 0);
	cr_assert_eq(gmem_add_window(&m, MiB, 4096, hva), -EINVAL, "overlaps RAM");
	cr_assert_eq(gmem_add_window(&m, UINT64_MAX - 4095, 8192, hva), -EINVAL, "wraps");
	cr_assert_eq(gmem_add_window(&m, 4 * GiB, 0, hva), -EINVAL, "empty");
	cr_assert_eq(gmem_add_window(&m, 4 * GiB, 4 * MiB, hva), 0);
	cr_assert_eq(gmem_add_window(&m, 4 * GiB + 2 * MiB, 4 * MiB, hva), -EINVAL, "overlap");
	cr_assert_eq(gmem_window_ptr(&m, 4 * GiB, 4 * MiB), hva);
	cr_assert_eq(gmem_window_ptr(&m, 4 * GiB + 4096, 8), hva + 4096);
	cr_assert_null(gmem_window_ptr(&m, 4 * GiB + 4096, 4 * MiB), "runs past the end");
	cr_assert_null(gmem_window_ptr(&m, 4 * GiB + 4096, UINT64_MAX), "overflowing length");
	cr_assert_null(gmem_window_ptr(&m, 4 * GiB, 0), "zero length");
	cr_assert_null(gmem_window_ptr(&m, 0, 4096), "RAM is not a window");
	cr_assert_null(gmem_ptr(&m, 4 * GiB, 4096), "a window is not RAM");
	cr_assert_eq(gmem_window_contig(&m, 4 * GiB + 4096), 4 * MiB - 4096);
	cr_assert_eq(gmem_window_contig(&m, 8 * GiB), 0);
	gmem_unmap(&m);
	cr_assert_eq(m.nr_windows, 0);
}

/* A KVM VM with 2 MiB of RAM and nothing else; skips without /dev/kvm. */
static struct vm *kvm_vm(void)
{
	static struct vm vm;
	struct gmem_region ram = { .gpa = 0, .size = 2 * MiB };

	memset(&vm, 0, sizeof(vm));
	atomic_init(&vm.stopping, false);
	vm.stop_fd = -1;
	vm.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm.kvm_fd < 0)
		cr_skip_test("no /dev/kvm");
	vm.vm_fd = ioctl(vm.kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(vm.vm_fd, 0);
	cr_assert_eq(gmem_map(&vm.mem, &ram, 1), 0);
	vm.shm_next = layout_shm_base(ram.size);
	return &vm;
}

static void kvm_vm_free(struct vm *vm)
{
	vm_shm_release(vm);
	gmem_unmap(&vm->mem);
	close(vm->vm_fd);
	close(vm->kvm_fd);
}

/* True if the kernel refuses to read [p, p+len) (EFAULT), as for a PROT_NONE hole. */
static bool unreadable(void *p, size_t len)
{
	char buf[64];
	struct iovec local = { buf, len < sizeof(buf) ? len : sizeof(buf) }, remote = { p, local.iov_len };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 && errno == EFAULT;
}

static uint64_t fault_off;
static int fault_calls;

static bool fault_zero_resume(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	fault_off = off;
	fault_calls++;
	if (!is_write)
		memset(data, 0xab, len);
	return *(bool *)opaque;
}

Test(vm_shm, regions_are_reserved_placed_and_registered)
{
	struct vm *vm = kvm_vm();
	struct vm_shm a, b;
	bool resume = true;
	uint8_t data[8];

	cr_assert_eq(vm_alloc_shm(vm, 4 * MiB, 0, fault_zero_resume, &resume, "dax", &a), 0);
	cr_assert_eq(a.gpa, 4 * GiB);
	cr_assert_eq(a.size, 4 * MiB);
	cr_assert_eq((uintptr_t)a.hva % (2 * MiB), 0, "host side 2 MiB aligned");
	cr_assert(unreadable(a.hva, 64), "reservation starts PROT_NONE");
	cr_assert(unreadable(a.hva + 4 * MiB - 64, 64));
	/* A read-only memslot (the version table's) goes to the next 1 GiB boundary. */
	cr_assert_eq(vm_alloc_shm(vm, 16 * MiB, VM_MEM_READONLY, NULL, NULL, "vertab", &b), 0);
	cr_assert_eq(b.gpa, 5 * GiB);
	cr_assert_eq(vm->nr_memslots, 2);
	cr_assert_eq(gmem_window_ptr(&vm->mem, b.gpa + 4096, 4096), b.hva + 4096);

	cr_assert(vm_shm_overlaps(vm, a.gpa + a.size - 1, 1));
	cr_assert_not(vm_shm_overlaps(vm, a.gpa + a.size, 4096));
	cr_assert_eq(vm_alloc_shm(vm, 4097, 0, NULL, NULL, "odd", &a), -1, "not page sized");
	cr_assert_eq(vm_alloc_shm(vm, LAYOUT_SHM_LIMIT, 0, NULL, NULL, "huge", &a), -1);
	cr_assert_eq(vm_add_memslot(vm, 8 * GiB + 1, 4096, b.hva, 0), -EINVAL);
	cr_assert_eq(vm_add_memslot(vm, 8 * GiB, 4096, b.hva, 0x80), -EINVAL, "unknown flag");

	/* Exits: outside every region, inside with a resuming hook, inside a hook-less one. */
	cr_assert_eq(vm_shm_exit(vm, 3 * GiB, data, 8, false), 0);
	cr_assert_eq(vm_shm_exit(vm, a.gpa + 8192, data, 8, false), 1);
	cr_assert_eq(fault_off, 8192);
	cr_assert_eq(data[0], 0xab);
	resume = false;
	cr_assert_eq(vm_shm_exit(vm, a.gpa, data, 8, true), -1, "the hook stops the VM");
	cr_assert(atomic_load(&vm->stopping));
	memset(data, 0x55, sizeof(data));
	cr_assert_eq(vm_shm_exit(vm, b.gpa + 16, data, 4, false), -1, "no hook: stop");
	cr_assert_eq(data[0], 0, "a read exit never leaves stale data");
	cr_assert_eq(fault_calls, 2);
	kvm_vm_free(vm);
}
