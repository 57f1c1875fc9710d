/* The open file handle table (see fs/handle.h). */
#include "fs/handle.h"

#include "fs/backing.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#define HANDLE_MAX_SLOTS (1u << 24)

struct handle_table {
	pthread_mutex_t lock;
	struct handle **slot;
	uint32_t *gen;
	uint32_t *free_idx;
	uint32_t nslots, cap, nfree;
	uint64_t max;            /* open handles allowed (0: no bound), handle_table_set_max */
};

void handle_table_set_max(struct handle_table *t, uint64_t max)
{
	pthread_mutex_lock(&t->lock);
	t->max = max;
	pthread_mutex_unlock(&t->lock);
}

struct handle_table *handle_table_new(void)
{
	struct handle_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->nslots = 1; /* slot 0 unused: fh 0 is never valid */
	return t;
}

static void handle_destroy(struct handle *h)
{
	close(h->fd);
	/* After the fd: the kernel's passthrough file is already gone (RELEASE). */
	backing_put(h->backing);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void handle_table_free(struct handle_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->nslots; i++)
		if (t->slot && t->slot[i])
			handle_destroy(t->slot[i]);
	pthread_mutex_destroy(&t->lock);
	free(t->slot);
	free(t->gen);
	free(t->free_idx);
	free(t);
}

static int handle_grow(struct handle_table *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : 256;
	struct handle **s;
	uint32_t *g, *f;

	if (t->cap >= HANDLE_MAX_SLOTS)
		return -1;
	if (!(s = realloc(t->slot, ncap * sizeof(*s))))
		return -1;
	t->slot = s;
	if (!(g = realloc(t->gen, ncap * sizeof(*g))))
		return -1;
	t->gen = g;
	if (!(f = realloc(t->free_idx, ncap * sizeof(*f))))
		return -1;
	t->free_idx = f;
	for (uint32_t i = t->cap; i < ncap; i++) {
		s[i] = NULL;
		g[i] = 1;
	}
	t->cap = ncap;
	return 0;
}

uint64_t handle_add(struct handle_table *t, int fd, bool dir, uint64_t nodeid,
		    struct backing *b)
{
	struct handle *h = calloc(1, sizeof(*h));
	uint32_t idx = 0;

	if (!h) {
		close(fd);
		backing_put(b);
		return 0;
	}
	h->fd = fd;
	h->backing = b;
	h->dir = dir;
	h->nodeid = nodeid;
	h->refs = 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&t->lock);
	/* The open-file side of the share's fd budget: past it the guest gets ENFILE. */
	if (t->max && t->nslots - 1 - t->nfree >= t->max)
		idx = 0;
	else if (t->nfree)
		idx = t->free_idx[--t->nfree];
	else if (t->nslots < t->cap || !handle_grow(t))
		idx = t->nslots++;
	if (idx) {
		h->fh = (uint64_t)t->gen[idx] << 32 | idx;
		t->slot[idx] = h;
	}
	pthread_mutex_unlock(&t->lock);
	if (!idx) {
		handle_destroy(h);
		errno = t->max && t->nslots - 1 - t->nfree >= t->max ? ENFILE : ENOMEM;
		return 0;
	}
	return h->fh;
}

/* Slot of a live fh of the right kind; called locked. */
static struct handle *handle_find(struct handle_table *t, uint64_t fh, bool dir)
{
	uint32_t idx = (uint32_t)fh;
	struct handle *h;

	if (!idx || idx >= t->nslots || t->gen[idx] != (uint32_t)(fh >> 32))
		return NULL;
	h = t->slot[idx];
	return h && h->dir == dir ? h : NULL;
}

struct handle *handle_get(struct handle_table *t, uint64_t fh, bool dir)
{
	struct handle *h;

	pthread_mutex_lock(&t->lock);
	h = handle_find(t, fh, dir);
	if (h)
		h->refs++;
	pthread_mutex_unlock(&t->lock);
	return h;
}

void handle_put(struct handle_table *t, struct handle *h)
{
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&t->lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&t->lock);
	if (last)
		handle_destroy(h);
}

/* Empties slot idx for reuse; the new generation makes its old fh stale (never 0). */
static void handle_free_slot_locked(struct handle_table *t, uint32_t idx)
{
	t->slot[idx] = NULL;
	if (++t->gen[idx] == 0)
		t->gen[idx] = 1;
	t->free_idx[t->nfree++] = idx;
}

int handle_remove(struct handle_table *t, uint64_t fh, bool dir)
{
	struct handle *h;
	uint32_t idx = (uint32_t)fh;

	pthread_mutex_lock(&t->lock);
	h = handle_find(t, fh, dir);
	if (h)
		handle_free_slot_locked(t, idx);
	pthread_mutex_unlock(&t->lock);
	if (!h)
		return -EBADF;
	handle_put(t, h);
	return 0;
}

void handle_remove_all(struct handle_table *t)
{
	for (;;) {
		struct handle *h = NULL;

		pthread_mutex_lock(&t->lock);
		for (uint32_t i = 1; i < t->nslots && !h; i++) {
			h = t->slot[i];
			if (h)
				handle_free_slot_locked(t, i);
		}
		pthread_mutex_unlock(&t->lock);
		if (!h)
			return;
		handle_put(t, h);
	}
}

uint32_t handle_lock_holder_pid(struct handle_table *t, const struct handle *self,
				const struct flock *l)
{
	uint32_t pid = 0;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 1; i < t->nslots; i++) {
		struct handle *h = t->slot[i];
		struct flock q;

		if (!h || h == self || h->dir || h->nodeid != self->nodeid || !h->lock_pid)
			continue;
		/* An open file description never conflicts with its own lock: if asking
		 * through h no longer reports this lock, h holds it. */
		memset(&q, 0, sizeof(q));
		q.l_type = F_WRLCK;
		q.l_whence = SEEK_SET;
		q.l_start = l->l_start;
		q.l_len = l->l_len;
		if (fcntl(h->fd, F_OFD_GETLK, &q))
			continue;
		if (q.l_type == F_UNLCK || q.l_start != l->l_start || q.l_len != l->l_len ||
		    q.l_type != l->l_type) {
			pid = __atomic_load_n(&h->lock_pid, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return pid;
}
