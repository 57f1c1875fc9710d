/* The metadata version table as virtio-fs shm region 1 (see vmm/vm_vtab.c). */
#ifndef NOOK_VMM_VM_VTAB_H
#define NOOK_VMM_VM_VTAB_H

struct vm;
struct fuse_server;
struct virtio_fs;

/* If srv has a version table, maps it read-only into the guest (a KVM_MEM_READONLY
 * memslot) and announces it as fs's shm region 1. 0 (also: no table), or -1 after one
 * error line. Call before the device is wired. */
int vm_fs_add_vtab(struct vm *vm, struct fuse_server *srv, struct virtio_fs *fs,
		   const char *what);

#endif
