/*
 * Virtual files of a share's root directory (fuse_server_add_virtual): read-only regular
 * files answered from memory, found by a LOOKUP of their exact name in node id 1 and
 * listed by no READDIR. `nook run` hands the guest its init and run request this way
 * without writing into the user's directory.
 *
 * Ids: file i has node id VIRT_ID_BASE + i, and every open of it gets that same value
 * as its fh (the data never changes, so an open needs no state). The low 32 bits of
 * these ids are >= 0xffffff00, a slot index neither table reaches: the inode table has
 * at most 2^30 slots (fs/inode.c) and the handle table 2^24 (fs/handle.c). So a
 * virtual id never names a host inode or open file, and one the table does not hold
 * (forged, or next to the range) falls through to those tables, which refuse it as
 * unknown (ESTALE, EBADF); FORGET of a virtual id is a no-op there for the same reason.
 * virt_file_of() is the one place where an id is matched against the range.
 *
 * The table is filled before serving and only read afterwards: no lock.
 */
#ifndef NOOK_FS_VIRTUAL_H
#define NOOK_FS_VIRTUAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fs/fuse_abi.h"
#include "fs/fuse_iov.h"
#include "fs/passthrough.h"

#define VIRT_MAX     8
#define VIRT_ID_BASE 0xffffffffffffff00ull

struct virt_file {
	char name[NAME_MAX + 1];
	unsigned char *data;     /* our copy */
	size_t len;
	uint32_t mode;           /* S_IFREG | permission bits */
	struct timespec time;    /* atime = mtime = ctime: when it was added */
};

/* Lives inside struct fuse_server, zeroed with it. */
struct virt_table {
	struct virt_file file[VIRT_MAX];
	unsigned count;
};

/* fuse_server_add_virtual(): 0 or -EINVAL, -EEXIST, -ENOSPC, -ENOMEM. */
int virt_add(struct virt_table *vt, const char *name, const void *data, size_t len, unsigned mode);
void virt_free(struct virt_table *vt);

/* LOOKUP of a validated name in parent: true with *e filled when it is a virtual file. */
bool virt_lookup(const struct virt_table *vt, const struct pt_fs *fs, uint64_t parent,
		 const char *name, struct fuse_entry_out *e);

/* A validated name that a request creates, removes or renames in parent: -ENOTDIR when
 * parent is a virtual file, -EPERM when it names one in the root, else 0. */
int virt_check_entry(const struct virt_table *vt, uint64_t parent, const char *name);

/*
 * A request (already checked by fuse_dispatch: state, fixed argument size, reply room,
 * EROFS of modifying opcodes on a read-only share) whose fh or node id is a virtual
 * file's: answers it into out, sets *r to the reply body length or -errno and returns
 * true. False: not ours, the normal handler runs. arg is the opcode's fixed struct;
 * it is not read for streamed opcodes (WRITE, BATCH_FORGET, REMOVEMAPPING).
 */
bool virt_request(const struct virt_table *vt, struct pt_fs *fs, const struct pt_req *rq,
		  uint32_t opcode, const void *arg, struct fuse_iov *out, int64_t *r);

#endif
