/*
 * The version table as the guest sees it (vmm/vm_vtab.c): a read-only memslot over the
 * table file, announced as shm region 1; host bumps show through the guest mapping at
 * once; a guest store into it stops the VM. Against a real KVM VM (no vCPU runs).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "fs/fuse_server.h"
#include "fs/virtio_fs.h"
#include "fs/vtab.h"
#include "vmm/vm_internal.h"
#include "vmm/vm_vtab.h"

#define MiB (1ULL << 20)

static char tree[64], vtdir[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void teardown(void)
{
	nftw(tree, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	nftw(vtdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	strcpy(tree, "/tmp/nook-vtg-tree-XXXXXX");
	strcpy(vtdir, "/tmp/nook-vtg-vt-XXXXXX");
	cr_assert_not_null(mkdtemp(tree));
	cr_assert_not_null(mkdtemp(vtdir));
	setenv("NOOK_VT_DIR", vtdir, 1);
}

TestSuite(vtab_guest, .init = setup, .fini = teardown);

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

static struct fuse_server *server(const char *opts)
{
	struct fs_options o;
	struct fuse_server *s;
	char err[256];

	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", tree);
	cr_assert_eq(fs_options_parse(&o, opts, err, sizeof(err)), 0, "%s", err);
	s = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	return s;
}

static void vm_done(struct vm *vm)
{
	while (vm->nr_teardown > 0) {
		vm->nr_teardown--;
		vm->teardown[vm->nr_teardown].fn(vm->teardown[vm->nr_teardown].opaque);
	}
	vm_shm_release(vm);
	gmem_unmap(&vm->mem);
	close(vm->vm_fd);
	close(vm->kvm_fd);
}

Test(vtab_guest, region_one_is_the_table_read_only)
{
	struct vm *vm = kvm_vm();
	struct fuse_server *srv = server("versions,vt_slots=16,no_vt_watch");
	char err[256];
	struct virtio_fs *fs = virtio_fs_create("vt", srv, 1, 0, err, sizeof(err));
	const struct vm_shm *r;
	const struct vtab_header *h;
	const struct vtab_slot *slots;
	uint8_t data[8];

	cr_assert_not_null(fs, "%s", err);
	cr_assert_eq(vm_fs_add_vtab(vm, srv, fs, "virtio-fs 'vt'"), 0);
	cr_assert_eq(vm->nr_shm, 1);
	r = &vm->shm[0].shm;
	/* 16 slots: 4096 + 256 bytes, rounded up to whole pages. */
	cr_assert_eq(r->size, 8192);
	h = (const void *)r->hva;
	cr_assert_eq(memcmp(h->magic, "NOOKVTB1", 8), 0, "the guest mapping is the table");
	cr_assert_eq(h->nslots, 16);
	slots = (const void *)(r->hva + 4096);
	vtab_bump(fuse_server_vtab(srv), 3, VTAB_DATA);
	cr_assert_eq(slots[3].data, 1, "a host bump is visible through the guest mapping");
	cr_assert_eq(vm_shm_exit(vm, r->gpa + 4096, data, 8, false), 1, "reads may resume");
	cr_assert_eq(vm_shm_exit(vm, r->gpa + 4096 + 48, data, 8, true), -1,
		     "a guest store stops the VM");
	cr_assert(atomic_load(&vm->stopping));
	cr_assert_eq(slots[3].data, 1, "and changes nothing");
	vm_done(vm);
	virtio_fs_destroy(fs);
	fuse_server_free(srv);
}

Test(vtab_guest, no_versions_no_region)
{
	struct vm *vm = kvm_vm();
	struct fuse_server *srv = server("no_versions");
	char err[256];
	struct virtio_fs *fs = virtio_fs_create("plain", srv, 1, 0, err, sizeof(err));

	cr_assert_not_null(fs, "%s", err);
	cr_assert_null(fuse_server_vtab(srv));
	cr_assert_eq(vm_fs_add_vtab(vm, srv, fs, "virtio-fs 'plain'"), 0);
	cr_assert_eq(vm->nr_shm, 0);
	vm_done(vm);
	virtio_fs_destroy(fs);
	fuse_server_free(srv);
}
