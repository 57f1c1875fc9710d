/*
 * virtio-fs DAX window: host file ranges mapped into a guest-visible shared-memory
 * region (virtio shm id 0), so guest programs read and write the host page cache
 * directly.
 *
 * The window is a host reservation (vm_alloc_shm: PROT_NONE, MAP_NORESERVE, one KVM
 * memslot) that this module fills: SETUPMAPPING maps [foffset, +len) of a file at window
 * offset moffset with MAP_SHARED; REMOVEMAPPING, DESTROY and device reset put PROT_NONE
 * back. Every mapping is recorded (file, offsets, writable) so that a bad guest access
 * (an exit inside the window, dax_fault) and a host truncation (dax_watch.c) can be
 * handled: pages past a file's end become private zero pages, an access to a range no
 * mapping covers stops the VM.
 *
 * nook never loads or stores through the window itself (a hole or a truncated file
 * would kill the VMM): payload I/O into it goes through the kernel (fs/virtio_fs.c).
 * One mutex guards the records; calls come from queue threads, vCPU threads and the
 * main event loop.
 */
#ifndef NOOK_FS_DAX_H
#define NOOK_FS_DAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fuse_server.h"

struct dax_window;

struct dax_stats {
	uint64_t setups;	/* successful SETUPMAPPINGs */
	uint64_t removes;	/* REMOVEMAPPING entries */
	uint64_t failed;	/* refused SETUPMAPPINGs */
	uint64_t zero_fills;	/* tails past a shrunk file's end replaced by zero pages */
	uint64_t exits;		/* guest accesses that exited to nook inside the window */
	uint64_t live;		/* mapping records now */
};

/*
 * A window over hva[0, size) (page-aligned, the caller's PROT_NONE reservation, not
 * owned). NULL with one line in err on failure. Starts a host-truncation watch
 * (dax_watch_fd) when it can; without one, truncations are still caught at the exit.
 */
struct dax_window *dax_window_new(uint8_t *hva, uint64_t size, char *err, size_t errlen);
/* Wipes the window (PROT_NONE again) and frees it. */
void dax_window_free(struct dax_window *w);

/* The fuse_dax_ops a server uses (opaque = the struct dax_window). */
extern const struct fuse_dax_ops dax_window_ops;

/*
 * Maps [foffset, foffset+len) of fd (a regular file, opened O_RDWR if writable, else
 * O_RDONLY; dup'ed, the caller keeps its fd) at window offset moffset, replacing what is
 * there. Offsets and len must be 4 KiB multiples inside the window. 0, or -EINVAL,
 * -EIO, -EACCES, -EPERM, -EROFS: never -ENOMEM (the guest's fault path would retry an
 * ENOMEM forever).
 */
int dax_setup(struct dax_window *w, int fd, uint64_t foffset, uint64_t len, uint64_t moffset,
	      bool writable);
/* PROT_NONE over [moffset, moffset+len) (rounded out to pages). 0 whenever the range is
 * inside the window (the guest reuses the range whatever we answer), else -EINVAL. */
int dax_remove(struct dax_window *w, uint64_t moffset, uint64_t len);
/* DESTROY / device reset: removes every mapping. */
void dax_reset(struct dax_window *w);

/*
 * A guest access exited inside the window at offset off (vm_shm_fault_fn): the host
 * could not back it. Past the end of the mapped file: zero pages go over the tail and
 * a read returns zeros; inside the file (it grew back): the access is done with
 * pread/pwrite; no mapping there, or a write to a read-only one: logs one line and
 * returns false (the VM stops). Never asks the guest to retry the same access.
 */
bool dax_fault(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write);

/* inotify fd of the truncation watch (-1 if none); call dax_watch_event when readable. */
int dax_watch_fd(const struct dax_window *w);
void dax_watch_event(struct dax_window *w);

void dax_get_stats(struct dax_window *w, struct dax_stats *st);

/* Tests: replace mmap() for file mappings (to inject ENOMEM); NULL restores it. */
typedef void *dax_mmap_fn(void *addr, size_t len, int prot, int flags, int fd, long off);
void dax_set_mmap_for_test(struct dax_window *w, dax_mmap_fn *fn);

#endif
