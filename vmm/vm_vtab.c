/*
 * The share's version table (fs/vtab.h) in the guest: the table file mapped PROT_READ
 * MAP_SHARED over a shm reservation registered as a KVM_MEM_READONLY memslot, so guest
 * loads see every host bump at once and a guest store never reaches the table: it comes
 * back as an exit into the region, which stops the VM (no correct guest writes there).
 */
#include "vmm/vm_vtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fs/fuse_server.h"
#include "fs/virtio_fs.h"
#include "fs/vtab.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static bool vm_vtab_fault(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	if (is_write) {
		log_err("%s: the guest wrote to the read-only version table (offset %#llx): "
			"stopping the VM", (const char *)opaque, (unsigned long long)off);
		return false;
	}
	/* Reads are backed by the file; answer zeros should one ever miss. */
	memset(data, 0, len);
	return true;
}

int vm_fs_add_vtab(struct vm *vm, struct fuse_server *srv, struct virtio_fs *fs,
		   const char *what)
{
	struct vtab *vt = fuse_server_vtab(srv);
	uint64_t size;
	struct vm_shm shm;
	char *name;

	if (!vt)
		return 0;
	/* The fault hook's name outlives the caller's buffer (freed after the vCPUs). */
	name = strdup(what);
	if (!name || vm_at_teardown(vm, free, name)) {
		free(name);
		log_err("%s: out of memory", what);
		return -1;
	}
	/* The file ends inside its last page when nslots < 256: map whole pages (the
	 * tail of the last one reads as zeros). */
	size = ((uint64_t)vtab_size(vt) + 4095) & ~4095ull;
	if (vm_alloc_shm(vm, size, VM_MEM_READONLY, vm_vtab_fault, name, what, &shm))
		return -1;
	if (mmap(shm.hva, size, PROT_READ, MAP_SHARED | MAP_FIXED, vtab_fd(vt), 0) == MAP_FAILED) {
		log_err("%s: cannot map the version table %s: %s", what, vtab_path(vt),
			strerror(errno));
		return -1;
	}
	if (virtio_fs_set_shm_region(fs, VIRTIO_FS_SHM_VERSION, shm.gpa, size)) {
		log_err("%s: cannot announce the version table region", what);
		return -1;
	}
	log_info("%s: version table %s at %#llx (%llu slots)", what, vtab_path(vt),
		 (unsigned long long)shm.gpa, (unsigned long long)vtab_nslots(vt));
	return 0;
}
