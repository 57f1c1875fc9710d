/* The inode table (see fs/inode.h). */
#include "fs/inode.h"
#include "fs/vtab.h"
#include "fs/inode_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vmm/log.h"

#define INODE_HASH_BITS 14
#define INODE_MAX_SLOTS (1u << 30)
#define INODE_MAX_MOUNTS 64

struct inode_mount {
	uint64_t mnt_id;
	int fd;
};

struct inode_table {
	pthread_mutex_t lock;
	struct inode **slot;     /* slot index -> inode or NULL */
	uint32_t *gen;           /* generation of each slot, bumped when it is freed */
	uint32_t nslots, cap;
	uint32_t *free_idx;      /* freed slots for reuse */
	uint32_t nfree;
	uint64_t live;
	struct inode *hash[1u << INODE_HASH_BITS];
	bool file_handles;
	struct vtab *vt;         /* version table, or NULL */
	struct inode_mount mounts[INODE_MAX_MOUNTS];
	int nmounts;
	uint64_t max_fds, nfds;  /* fd budget and fds held by inodes */
	uint64_t max_entries;    /* cap on live inodes (memory), 0 for none */
	struct inode *lru_head, *lru_tail;
	struct inode_id_fs ids;  /* stable node ids, when the share allows them */
	struct inode *idhash[1u << INODE_HASH_BITS];
	uint32_t table_bit;      /* INODE_ID_TABLE_BIT in table ids when ids are on */
};

static uint32_t inode_hash(uint64_t dev, uint64_t ino, uint64_t mnt)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ dev * 0xc2b2ae3d27d4eb4full ^ mnt;

	return (uint32_t)(h >> (64 - INODE_HASH_BITS));
}

static int inode_grow(struct inode_table *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : 1024;
	struct inode **s;
	uint32_t *g, *f;

	if (t->cap >= INODE_MAX_SLOTS)
		return -1;
	s = realloc(t->slot, ncap * sizeof(*s));
	if (!s)
		return -1;
	t->slot = s;
	g = realloc(t->gen, ncap * sizeof(*g));
	if (!g)
		return -1;
	t->gen = g;
	f = realloc(t->free_idx, ncap * sizeof(*f));
	if (!f)
		return -1;
	t->free_idx = f;
	for (uint32_t i = t->cap; i < ncap; i++) {
		t->slot[i] = NULL;
		t->gen[i] = 1;
	}
	t->cap = ncap;
	return 0;
}

/* Picks a free slot; called locked. Returns 0 when the table is full. */
static uint32_t inode_alloc_slot(struct inode_table *t)
{
	if (t->nfree)
		return t->free_idx[--t->nfree];
	if (t->nslots == t->cap && inode_grow(t))
		return 0;
	return t->nslots++;
}

static uint32_t inode_id_hash(uint64_t nodeid)
{
	return (uint32_t)((nodeid * 0x9e3779b97f4a7c15ull) >> (64 - INODE_HASH_BITS));
}

static bool inode_has_stable_id(const struct inode_table *t, uint64_t nodeid)
{
	return t->table_bit && inode_id_is_stable(nodeid);
}

/* The inode of a node id, or NULL; called locked. */
static struct inode *inode_find(struct inode_table *t, uint64_t nodeid)
{
	uint32_t idx = (uint32_t)nodeid, gen = (uint32_t)(nodeid >> 32);
	struct inode *ino;

	if (inode_has_stable_id(t, nodeid)) {
		for (ino = t->idhash[inode_id_hash(nodeid)]; ino; ino = ino->idnext)
			if (ino->nodeid == nodeid)
				return ino;
		return NULL;
	}
	/* The root is slot 1 in any table, reached by node id 1 only; other table ids
	 * carry table_bit. */
	if (nodeid != FUSE_ROOT_ID_VALUE) {
		if ((idx & INODE_ID_TABLE_BIT) != t->table_bit)
			return NULL;
		idx &= ~(uint32_t)INODE_ID_TABLE_BIT;
		if (idx == FUSE_ROOT_ID_VALUE)
			return NULL;
	}
	if (idx && idx < t->nslots && t->slot[idx] && t->gen[idx] == gen)
		return t->slot[idx];
	return NULL;
}

static void inode_unhash(struct inode_table *t, struct inode *ino)
{
	struct inode **pp = &t->hash[inode_hash(ino->dev, ino->ino, ino->mnt_id)];

	while (*pp && *pp != ino)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = ino->hnext;
}

/* ---- fd budget: LRU of unreferenced inodes holding an fd; all called locked ---- */

static void inode_lru_del(struct inode_table *t, struct inode *ino)
{
	if (!ino->in_lru)
		return;
	if (ino->lru_prev)
		ino->lru_prev->lru_next = ino->lru_next;
	else
		t->lru_head = ino->lru_next;
	if (ino->lru_next)
		ino->lru_next->lru_prev = ino->lru_prev;
	else
		t->lru_tail = ino->lru_prev;
	ino->lru_prev = ino->lru_next = NULL;
	ino->in_lru = false;
}

/* An inode nobody uses any more, still looked up: a candidate for eviction. */
static void inode_lru_add(struct inode_table *t, struct inode *ino)
{
	if (!t->max_fds || ino->in_lru || ino->fd < 0 || ino->no_handle ||
	    ino->nodeid == FUSE_ROOT_ID_VALUE)
		return;
	ino->lru_prev = t->lru_tail;
	ino->lru_next = NULL;
	if (t->lru_tail)
		t->lru_tail->lru_next = ino;
	else
		t->lru_head = ino;
	t->lru_tail = ino;
	ino->in_lru = true;
}

static void inode_try_handle(struct inode_table *t, struct inode *ino);

/* Turns the oldest unreferenced fds into handles until the budget holds (or none can). */
static void inode_evict(struct inode_table *t)
{
	while (t->max_fds && t->nfds > t->max_fds && t->lru_head) {
		struct inode *ino = t->lru_head;

		inode_lru_del(t, ino);
		if (S_ISREG(ino->mode) || S_ISDIR(ino->mode))
			inode_try_handle(t, ino);
		if (ino->fd >= 0)
			ino->no_handle = true;	/* this file system has none: keep the fd */
	}
}

/*
 * Takes an unreferenced inode out of the table; called locked. The caller frees it with
 * inode_destroy() after unlocking: closing the last fd of an unlinked file makes the
 * host file system free it (tens of microseconds on ext4), which must not hold up every
 * other request's inode lookups.
 */
static struct inode *inode_release(struct inode_table *t, struct inode *ino)
{
	uint32_t idx = (uint32_t)ino->nodeid & ~t->table_bit;

	inode_unhash(t, ino);
	inode_lru_del(t, ino);
	if (ino->fd >= 0)
		t->nfds--;	/* closed by inode_destroy, just after */
	if (inode_has_stable_id(t, ino->nodeid)) {
		struct inode **pp = &t->idhash[inode_id_hash(ino->nodeid)];

		while (*pp && *pp != ino)
			pp = &(*pp)->idnext;
		if (*pp)
			*pp = ino->idnext;
	} else {
		t->slot[idx] = NULL;
		if (++t->gen[idx] == 0)
			t->gen[idx] = 1;
		t->free_idx[t->nfree++] = idx;
	}
	t->live--;
	ino->hnext = NULL;
	return ino;
}

/* Frees released inodes, a list linked through hnext. */
static void inode_destroy(struct inode *ino)
{
	while (ino) {
		struct inode *next = ino->hnext;

		if (ino->fd >= 0)
			close(ino->fd);
		free(ino->fh);
		free(ino);
		ino = next;
	}
}

struct inode_table *inode_table_new(int root_fd, bool file_handles, char *err, size_t errlen)
{
	struct inode_table *t = calloc(1, sizeof(*t));
	struct inode *root = calloc(1, sizeof(*root));
	struct statx stx;

	if (!t || !root || inode_grow(t)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (statx(root_fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BASIC_STATS | STATX_MNT_ID, &stx)) {
		snprintf(err, errlen, "statx of the shared directory: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->file_handles = file_handles;
	t->max_entries = INODE_DEFAULT_MAX_ENTRIES;
	/* Slot 0 is never used (node id 0 is invalid); slot 1 with generation 0 is the root. */
	t->nslots = 2;
	root->fd = root_fd;
	root->mount_fd = -1;
	root->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	root->ino = stx.stx_ino;
	root->mnt_id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	root->mode = stx.stx_mode & S_IFMT;
	root->nodeid = FUSE_ROOT_ID_VALUE;
	root->nlookup = 1;
	t->gen[1] = 0;
	t->slot[1] = root;
	t->hash[inode_hash(root->dev, root->ino, root->mnt_id)] = root;
	t->live = 1;
	t->nfds = 1;
	{
		char why[128];

		inode_id_probe(&t->ids, root_fd, &stx, why, sizeof(why));
		if (inode_id_on(&t->ids))
			t->table_bit = INODE_ID_TABLE_BIT;
		else
			log_debug("fs: no stable node ids (no export support): %s", why);
	}
	return t;
fail:
	free(root);
	if (t) {
		free(t->slot);
		free(t->gen);
		free(t->free_idx);
		free(t);
	}
	close(root_fd);
	return NULL;
}

void inode_table_free(struct inode_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->nslots; i++) {
		struct inode *ino = t->slot[i];

		if (ino) {
			if (ino->fd >= 0)
				close(ino->fd);
			free(ino->fh);
			free(ino);
		}
	}
	for (uint32_t i = 0; i < (1u << INODE_HASH_BITS); i++) {
		for (struct inode *ino = t->idhash[i], *next; ino; ino = next) {
			next = ino->idnext;
			if (ino->fd >= 0)
				close(ino->fd);
			free(ino->fh);
			free(ino);
		}
	}
	for (int i = 0; i < t->nmounts; i++)
		close(t->mounts[i].fd);
	inode_id_close(&t->ids);
	pthread_mutex_destroy(&t->lock);
	free(t->slot);
	free(t->gen);
	free(t->free_idx);
	free(t);
}

void inode_table_set_vtab(struct inode_table *t, struct vtab *vt)
{
	struct inode *root = t->slot[1];

	pthread_mutex_lock(&t->lock);
	t->vt = vt;
	root->vt_slot = vt ? vtab_slot(vt, root->dev, root->ino, 0) : 0;
	pthread_mutex_unlock(&t->lock);
}

struct inode *inode_get(struct inode_table *t, uint64_t nodeid)
{
	struct inode *ino;

	pthread_mutex_lock(&t->lock);
	ino = inode_find(t, nodeid);
	/* In use: its fd (or handle) must not change under the request. */
	if (ino && ino->refs++ == 0)
		inode_lru_del(t, ino);
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void inode_put(struct inode_table *t, struct inode *ino)
{
	if (!ino)
		return;
	struct inode *gone = NULL;

	pthread_mutex_lock(&t->lock);
	if (--ino->refs == 0 && ino->nlookup == 0 && ino->nodeid != FUSE_ROOT_ID_VALUE)
		gone = inode_release(t, ino);
	else if (ino->refs == 0)
		inode_lru_add(t, ino);
	pthread_mutex_unlock(&t->lock);
	inode_destroy(gone);
}

/* Keeps one fd per mount for open_by_handle_at; called locked. -1 if none possible. */
static int inode_mount_fd(struct inode_table *t, uint64_t mnt_id, int fd)
{
	for (int i = 0; i < t->nmounts; i++)
		if (t->mounts[i].mnt_id == mnt_id)
			return t->mounts[i].fd;
	if (t->nmounts == INODE_MAX_MOUNTS)
		return -1;
	char path[32];

	/* open_by_handle_at() refuses an O_PATH mount fd: keep a real open of this
	 * object (reached through our own fd, never a guest string). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	t->mounts[t->nmounts].mnt_id = mnt_id;
	t->mounts[t->nmounts].fd = fd;
	t->nmounts++;
	return fd;
}

/* Swaps the O_PATH fd for a file handle when the file system supports them; locked. */
static void inode_try_handle(struct inode_table *t, struct inode *ino)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mnt;

	if (!fh)
		return;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(ino->fd, "", fh, &mnt, AT_EMPTY_PATH) ||
	    (ino->mount_fd = inode_mount_fd(t, ino->mnt_id, ino->fd)) < 0) {
		free(fh);
		return;
	}
	ino->fh = fh;
	close(ino->fd);
	ino->fd = -1;
	t->nfds--;
}

struct inode *inode_add(struct inode_table *t, int fd, const struct statx *stx, uint64_t parent_mnt)
{
	uint64_t dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	uint64_t mnt = (stx->stx_mask & STATX_MNT_ID) ? stx->stx_mnt_id : 0;
	struct inode *ino, **bucket;
	uint32_t idx = 0;
	uint64_t id = 0;
	bool id_done = false;

	pthread_mutex_lock(&t->lock);
again:
	bucket = &t->hash[inode_hash(dev, stx->stx_ino, mnt)];
	for (ino = *bucket; ino; ino = ino->hnext) {
		if (ino->dev == dev && ino->ino == stx->stx_ino && ino->mnt_id == mnt) {
			ino->nlookup++;
			if (ino->refs++ == 0)
				inode_lru_del(t, ino);
			pthread_mutex_unlock(&t->lock);
			close(fd);
			return ino;
		}
	}
	/* A new object on the share root's own mount gets its stable id: the system call
	 * runs unlocked, then the lookup is repeated (another request may have added it). */
	if (t->table_bit && mnt == t->ids.mnt_id && !id_done) {
		pthread_mutex_unlock(&t->lock);
		id = inode_id_of(&t->ids, fd);
		id_done = true;
		pthread_mutex_lock(&t->lock);
		goto again;
	}
	/* The share's memory cap: a new object past it is refused, never queued. */
	if (t->max_entries && t->live >= t->max_entries) {
		pthread_mutex_unlock(&t->lock);
		close(fd);
		errno = ENFILE;
		return NULL;
	}
	ino = calloc(1, sizeof(*ino));
	if (ino && !id)
		idx = inode_alloc_slot(t);
	if (!ino || (!id && !idx)) {
		pthread_mutex_unlock(&t->lock);
		free(ino);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	ino->fd = fd;
	ino->mount_fd = -1;
	ino->dev = dev;
	ino->ino = stx->stx_ino;
	ino->mnt_id = mnt;
	ino->mode = stx->stx_mode & S_IFMT;
	ino->submount = mnt != parent_mnt;
	/* gen 0: the slot must follow from a stat alone (the fanotify helper has no
	 * generation either); an inode number reused later only shares a slot. */
	ino->vt_slot = t->vt ? vtab_slot(t->vt, dev, stx->stx_ino, 0) : 0;
	ino->nlookup = 1;
	ino->refs = 1;
	ino->hnext = *bucket;
	*bucket = ino;
	if (id) {
		/* Not yet known (the dev/ino lookup above missed), so not in idhash either. */
		struct inode **ib = &t->idhash[inode_id_hash(id)];

		ino->nodeid = id;
		ino->idnext = *ib;
		*ib = ino;
	} else {
		ino->nodeid = (uint64_t)t->gen[idx] << 32 | t->table_bit | idx;
		t->slot[idx] = ino;
	}
	t->live++;
	t->nfds++;
	/* Symlinks and special files stay as O_PATH fds: handles of those are rarely
	 * supported and few. */
	if (t->file_handles && (S_ISREG(ino->mode) || S_ISDIR(ino->mode)))
		inode_try_handle(t, ino);
	inode_evict(t);
	/* Over budget with nothing left to evict: this one as a handle, or refused. */
	if (t->max_fds && t->nfds > t->max_fds && ino->fd >= 0) {
		if (S_ISREG(ino->mode) || S_ISDIR(ino->mode))
			inode_try_handle(t, ino);
		if (ino->fd >= 0) {
			struct inode *gone = inode_release(t, ino);

			pthread_mutex_unlock(&t->lock);
			inode_destroy(gone);
			errno = ENFILE;
			return NULL;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void inode_forget(struct inode_table *t, uint64_t nodeid, uint64_t n)
{
	struct inode *ino, *gone = NULL;

	pthread_mutex_lock(&t->lock);
	if (nodeid != FUSE_ROOT_ID_VALUE && (ino = inode_find(t, nodeid))) {
		ino->nlookup -= n < ino->nlookup ? n : ino->nlookup;
		if (ino->nlookup == 0 && ino->refs == 0)
			gone = inode_release(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
	inode_destroy(gone);
}

void inode_forget_all(struct inode_table *t)
{
	struct inode *gone = NULL;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 2; i < t->nslots; i++) {
		struct inode *ino = t->slot[i];

		if (!ino)
			continue;
		ino->nlookup = 0;
		if (ino->refs == 0) {
			ino = inode_release(t, ino);
			ino->hnext = gone;
			gone = ino;
		}
	}
	for (uint32_t i = 0; i < (1u << INODE_HASH_BITS); i++) {
		struct inode *ino = t->idhash[i], *next;

		for (; ino; ino = next) {
			next = ino->idnext;
			ino->nlookup = 0;
			if (ino->refs == 0) {
				ino = inode_release(t, ino);
				ino->hnext = gone;
				gone = ino;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
	inode_destroy(gone);
}

int inode_fd(struct inode_table *t, struct inode *ino)
{
	int fd;

	if (ino->fd >= 0)
		return ino->fd;
	/* fd, fh and mount_fd change only while nothing references the inode (eviction
	 * of an unreferenced one), and the caller holds a reference: no lock needed. */
	fd = open_by_handle_at(ino->mount_fd, ino->fh, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void inode_fd_put(struct inode *ino, int fd)
{
	if (fd >= 0 && fd != ino->fd)
		close(fd);
}

void inode_table_set_max_fds(struct inode_table *t, uint64_t max)
{
	pthread_mutex_lock(&t->lock);
	t->max_fds = max;
	pthread_mutex_unlock(&t->lock);
}

void inode_table_set_max_entries(struct inode_table *t, uint64_t max)
{
	pthread_mutex_lock(&t->lock);
	t->max_entries = max;
	pthread_mutex_unlock(&t->lock);
}

size_t inode_entry_bytes(void)
{
	return sizeof(struct inode) + sizeof(struct inode *) + 2 * sizeof(uint32_t) +
	       sizeof(struct file_handle) + MAX_HANDLE_SZ;
}

uint64_t inode_default_max_fds(void)
{
	struct rlimit r;
	uint64_t n = 1024;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur != RLIM_INFINITY)
		n = r.rlim_cur;
	return n / 2 > 64 ? n / 2 : 64;
}

uint64_t inode_fd_count(struct inode_table *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->nfds;
	pthread_mutex_unlock(&t->lock);
	return n;
}

bool inode_table_stable_ids(struct inode_table *t)
{
	return t->table_bit != 0;
}

int inode_reopen_id(struct inode_table *t, uint64_t nodeid)
{
	return t->table_bit ? inode_id_open(&t->ids, nodeid) : -ESTALE;
}

uint64_t inode_count(struct inode_table *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->live;
	pthread_mutex_unlock(&t->lock);
	return n;
}
