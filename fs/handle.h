/*
 * Open file handles: FUSE fh <-> host fd. Like node ids, an fh is
 * (generation << 32 | slot index) and is validated on every use; RELEASE of a handle
 * still in use by another request closes the fd only when that request is done.
 */
#ifndef NOOK_FS_HANDLE_H
#define NOOK_FS_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct handle {
	int fd;
	bool dir;
	pthread_mutex_t lock;    /* serialises lseek+getdents of a directory stream */
	uint64_t fh;
	uint64_t nodeid;         /* the node it was opened from */
	uint32_t refs;           /* table's own reference + requests in flight */
	uint32_t lock_pid;       /* client pid of the last POSIX lock taken (GETLK) */
	struct backing *backing; /* passthrough mode of its inode, put when destroyed */
};

struct handle_table;

struct handle_table *handle_table_new(void);
/* At most max open handles (0: no bound); set before use. */
void handle_table_set_max(struct handle_table *t, uint64_t max);
void handle_table_free(struct handle_table *t);

/* Takes over fd and b (may be NULL); returns the new fh, or 0 (fd closed, b put) with
 * errno ENFILE past the table's bound or ENOMEM. */
struct backing;
uint64_t handle_add(struct handle_table *t, int fd, bool dir, uint64_t nodeid,
		    struct backing *b);
/* The handle for fh with a reference, or NULL when unknown, stale or of the wrong kind. */
struct handle *handle_get(struct handle_table *t, uint64_t fh, bool dir);
void handle_put(struct handle_table *t, struct handle *h);
/* RELEASE/RELEASEDIR: forgets the fh; returns -EBADF when it is not a live handle. */
int handle_remove(struct handle_table *t, uint64_t fh, bool dir);

struct flock;
/*
 * GETLK: which other open of the same node holds the OFD lock *l (as reported for self)?
 * Returns that handle's lock_pid, or 0 when no single holder is found.
 */
uint32_t handle_lock_holder_pid(struct handle_table *t, const struct handle *self,
				const struct flock *l);

/* DESTROY: forgets every fh (fds close once no request uses them). */
void handle_remove_all(struct handle_table *t);

#endif
