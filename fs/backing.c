/* Passthrough backing ids, one per open host inode (see fs/backing.h). */
#include "fs/backing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "vmm/log.h"

#define BACKING_BUCKETS 256

struct backing_table {
	pthread_mutex_t lock;
	struct backing *bucket[BACKING_BUCKETS];
	const struct fuse_backing_ops *ops;
	void *opaque;
	atomic_bool refused;     /* the kernel said EPERM (no CAP_SYS_ADMIN): stop asking */
};

struct backing_table *backing_table_new(void)
{
	struct backing_table *t = calloc(1, sizeof(*t));

	if (t)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

void backing_table_free(struct backing_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < BACKING_BUCKETS; i++) {
		if (t->bucket[i]) {
			log_warn("fs: backing table freed with open files");
			break;
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void backing_table_set_ops(struct backing_table *t, const struct fuse_backing_ops *ops,
			   void *opaque)
{
	t->ops = ops;
	t->opaque = opaque;
}

bool backing_table_usable(struct backing_table *t)
{
	return t->ops && !atomic_load(&t->refused);
}

static struct backing **backing_slot(struct backing_table *t, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev << 17)) * 0x9e3779b97f4a7c15ull;

	return &t->bucket[h >> 56];
}

/* Asks the transport for an id; 0 (cached) when the kernel will not pass fd through. */
static int backing_register(struct backing_table *t, int fd)
{
	int id;

	if (!backing_table_usable(t))
		return 0;
	id = t->ops->open(t->opaque, fd);
	if (id > 0)
		return id;
	if (id == -EPERM && !atomic_exchange(&t->refused, true))
		log_warn("fs: kernel passthrough refused (needs CAP_SYS_ADMIN), serving reads "
			 "and writes ourselves");
	/* ELOOP (a stacked file system below), EOPNOTSUPP (no read/write_iter): this
	 * inode stays cached while it is open. */
	return 0;
}

struct backing *backing_get(struct backing_table *t, uint64_t dev, uint64_t ino, int fd,
			    bool allow)
{
	struct backing **slot, *b;

	pthread_mutex_lock(&t->lock);
	slot = backing_slot(t, dev, ino);
	for (b = *slot; b; b = b->next)
		if (b->dev == dev && b->ino == ino)
			break;
	if (b) {
		b->users++;
	} else if ((b = calloc(1, sizeof(*b)))) {
		/* Registered under the lock: a second open of the same inode must find
		 * the mode decided, never register a second backing file. */
		b->dev = dev;
		b->ino = ino;
		b->t = t;
		b->users = 1;
		b->id = allow ? backing_register(t, fd) : 0;
		b->next = *slot;
		*slot = b;
	}
	pthread_mutex_unlock(&t->lock);
	return b;
}

void backing_put(struct backing *b)
{
	struct backing_table *t;
	struct backing **pp;
	bool last;

	if (!b)
		return;
	t = b->t;
	pthread_mutex_lock(&t->lock);
	last = --b->users == 0;
	if (last) {
		for (pp = backing_slot(t, b->dev, b->ino); *pp != b; pp = &(*pp)->next)
			;
		*pp = b->next;
		/* Closed under the lock too: a new open of the inode must not register
		 * a new id while the kernel still holds this one. */
		if (b->id > 0)
			t->ops->close(t->opaque, b->id);
	}
	pthread_mutex_unlock(&t->lock);
	if (last)
		free(b);
}
