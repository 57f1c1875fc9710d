/*
 * Kernel passthrough backing files (FUSE_PASSTHROUGH, host /dev/fuse only).
 *
 * With passthrough the client's kernel sends READ, WRITE and mmap of an open file
 * straight to a host file we registered (FUSE_DEV_IOC_BACKING_OPEN gives it an id that
 * the OPEN reply names), so data never crosses the server. The kernel allows one
 * backing file per FUSE inode, and refuses a cached open of an inode that has a
 * passthrough open (and the reverse). So backings are kept per host inode
 * (st_dev, st_ino), shared by all its open handles: the first open decides the mode,
 * passthrough or cached (when the kernel refused the file, e.g. one on a stacked file
 * system), and every later open joins it until the last handle is gone and the id is
 * closed. An id stays registered while a handle uses it, so the kernel can still look
 * it up when it processes the OPEN reply after we sent it.
 */
#ifndef NOOK_FS_BACKING_H
#define NOOK_FS_BACKING_H

#include <stdint.h>

#include "fs/fuse_server.h"

struct backing_table;

/* One host inode's mode: id > 0 passthrough, 0 cached. Owned by its handles. */
struct backing {
	uint64_t dev, ino;
	int id;
	uint32_t users;
	struct backing_table *t;
	struct backing *next;
};

struct backing_table *backing_table_new(void);
/* Every backing must have been put (handles are freed first). */
void backing_table_free(struct backing_table *t);

/* Registers the transport's ops (NULL: none); passthrough needs them. */
void backing_table_set_ops(struct backing_table *t, const struct fuse_backing_ops *ops,
			   void *opaque);
/* True when a transport registered ops and they have not been refused for good. */
bool backing_table_usable(struct backing_table *t);

/*
 * The backing of host inode (dev, ino) with one more user, registering fd (an open
 * regular file) when it is the inode's first open and passthrough is allowed for it
 * (otherwise the inode is cached while open). Check ->id for the mode. NULL only
 * when out of memory: fail the open then, for a cached open beside a later
 * passthrough one would make the kernel refuse that one.
 */
struct backing *backing_get(struct backing_table *t, uint64_t dev, uint64_t ino, int fd,
			    bool allow);
/* Drops a user; the last one closes the id. NULL is ignored. */
void backing_put(struct backing *b);

#endif
