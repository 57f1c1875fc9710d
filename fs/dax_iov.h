/*
 * Requests whose buffers lie inside a shm window (the DAX window): a guest O_DIRECT or
 * extending write whose user buffer is itself a DAX mmap puts window addresses into
 * descriptors, and a hostile guest can forge them into unmapped parts of it.
 *
 * nook never loads or stores such a buffer itself (a PROT_NONE hole gives SIGSEGV, a
 * truncated file SIGBUS, either kills the VMM). The window parts of a chain are copied
 * by the kernel, through a pipe, into bounce buffers before dispatch (readable side)
 * and out of them after it (writable side); a bad page makes the copy fail with EFAULT
 * and the request gets an EFAULT reply instead.
 */
#ifndef NOOK_FS_DAX_IOV_H
#define NOOK_FS_DAX_IOV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

/* fuse_dispatch's shape (fs/virtio_fs.h virtio_fs_dispatch_fn). */
typedef size_t dax_iov_dispatch_fn(void *opaque, const struct iovec *in, int in_cnt,
				   const struct iovec *out, int out_cnt);

/*
 * Dispatches one chain of which some iovecs are inside windows of m. Returns the reply
 * length as fn does (an EFAULT reply of 16 bytes when a window copy failed, 0 if not
 * even that could be written).
 */
size_t dax_iov_dispatch(const struct guest_mem *m, dax_iov_dispatch_fn *fn, void *opaque,
			const struct iovec *in, int in_cnt, const struct iovec *out, int out_cnt);

/* Kernel-mediated copy of n bytes from src to dst (either may be a window address):
 * 0, or -EFAULT if a page of either could not be accessed. */
int dax_iov_kcopy(void *dst, const void *src, size_t n);

#endif
