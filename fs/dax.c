#include "fs/dax_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"

static uint64_t dax_round_up(uint64_t v)
{
	return v > UINT64_MAX - (DAX_PAGE - 1) ? UINT64_MAX & ~(DAX_PAGE - 1)
					       : (v + DAX_PAGE - 1) & ~(DAX_PAGE - 1);
}

static void *dax_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* PROT_NONE over [off, off+len) of the window: what an unmapped range looks like. A
 * failure would leave the old mapping in place (never a hole another mmap could take),
 * so it is only logged. */
static void dax_punch(struct dax_window *w, uint64_t off, uint64_t len)
{
	if (mmap(w->hva + off, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		log_warn("dax: cannot unmap window range 0x%llx+0x%llx: %s",
			 (unsigned long long)off, (unsigned long long)len, strerror(errno));
}

/* Private zero pages over [off, off+len): a shrunk file's tail reads as zeros. */
static int dax_zero(struct dax_window *w, uint64_t off, uint64_t len)
{
	if (mmap(w->hva + off, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/*
 * Host page tables for a new mapping, filled now (best effort, read-only: nothing gets
 * dirtied). The guest is about to touch the range, and each host page KVM finds
 * unmapped costs it a host fault on top of its own, which on a shadow-paging host are
 * the dominant cost of a DAX mmap pass. MADV_HUGEPAGE lets the page cache use 2 MiB
 * folios for what it reads in, which the host then maps (and KVM shadows) in one go.
 * Fails harmlessly past the file's end.
 */
static void dax_prefault(uint8_t *p, uint64_t len)
{
	(void)madvise(p, len, MADV_HUGEPAGE);
	(void)madvise(p, len, MADV_POPULATE_READ);
}

/*
 * Maps fd's [foff, +len) at window offset off. The file is first mapped at a place of
 * the kernel's choosing and then moved over the window range with mremap: a failing
 * mmap(MAP_FIXED) may already have unmapped the target, leaving a hole in the window
 * that any later allocation of nook could land in. Returns 0 or -errno.
 */
static int dax_map_file(struct dax_window *w, int fd, uint64_t foff, uint64_t len,
			uint64_t off, bool writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *tmp = w->mmap_fn(NULL, len, prot, MAP_SHARED, fd, (long)foff);

	if (tmp == MAP_FAILED)
		return -errno;
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, w->hva + off) == MAP_FAILED) {
		int err = -errno;

		munmap(tmp, len);
		return err;
	}
	dax_prefault(w->hva + off, len);
	return 0;
}

void dax_map_fit_locked(struct dax_window *w, struct dax_map *m, uint64_t file_size)
{
	uint64_t end = m->moff + m->len, zstart;
	uint64_t valid = dax_round_up(file_size);

	/* Window offset of the first page wholly past the file's end (clipped to m). */
	if (valid <= m->foff)
		zstart = m->moff;
	else if (valid - m->foff >= m->len)
		zstart = end;
	else
		zstart = m->moff + (valid - m->foff);
	if (zstart < m->zero_from) {
		if (dax_zero(w, zstart, m->zero_from - zstart)) {
			log_warn("dax: cannot map zero pages: %s", strerror(errno));
			return;
		}
		m->zero_from = zstart;
		w->st.zero_fills++;
		if (!w->warned_shrink) {
			w->warned_shrink = true;
			log_warn("dax: a host file shrank under a guest mapping; the guest reads "
				 "zeros past its end");
		}
	} else if (zstart > m->zero_from) {
		/* The file grew back over pages we had zeroed: show the file again. */
		int fd = m->writable ? m->file->fd_rw : m->file->fd;

		if (!dax_map_file(w, fd, m->foff + (m->zero_from - m->moff), zstart - m->zero_from,
				  m->zero_from, m->writable))
			m->zero_from = zstart;
	}
}

/* ---- records ---- */

static void dax_file_put_locked(struct dax_window *w, struct dax_file *f)
{
	if (--f->refs)
		return;
	dax_watch_del_locked(w, f);
	close(f->fd);
	if (f->fd_rw >= 0)
		close(f->fd_rw);
	for (size_t i = 0; i < w->nr_files; i++) {
		if (w->files[i] == f) {
			w->files[i] = w->files[--w->nr_files];
			break;
		}
	}
	free(f);
}

/* The record of fd's file with one more reference; NULL on failure (errno set). */
static struct dax_file *dax_file_get_locked(struct dax_window *w, int fd, const struct stat *st,
					    bool writable)
{
	struct dax_file *f = NULL;

	for (size_t i = 0; i < w->nr_files && !f; i++)
		if (w->files[i]->dev == (uint64_t)st->st_dev && w->files[i]->ino == (uint64_t)st->st_ino)
			f = w->files[i];
	if (!f) {
		if (w->nr_files == w->cap_files) {
			size_t cap = w->cap_files ? w->cap_files * 2 : 16;
			struct dax_file **n = realloc(w->files, cap * sizeof(*n));

			if (!n)
				return NULL;
			w->files = n;
			w->cap_files = cap;
		}
		f = calloc(1, sizeof(*f));
		if (!f)
			return NULL;
		f->dev = st->st_dev;
		f->ino = st->st_ino;
		f->fd_rw = f->wd = -1;
		f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (f->fd < 0) {
			free(f);
			return NULL;
		}
		w->files[w->nr_files++] = f;
		dax_watch_add_locked(w, f);
	}
	if (writable && f->fd_rw < 0) {
		f->fd_rw = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (f->fd_rw < 0) {
			if (!f->refs) {
				f->refs = 1;
				dax_file_put_locked(w, f);
			}
			return NULL;
		}
	}
	f->refs++;
	return f;
}

static int dax_maps_reserve_locked(struct dax_window *w, size_t more)
{
	if (w->nr_maps + more <= w->cap_maps)
		return 0;
	size_t cap = w->cap_maps ? w->cap_maps * 2 : 64;
	struct dax_map *n;

	while (cap < w->nr_maps + more)
		cap *= 2;
	n = realloc(w->maps, cap * sizeof(*n));
	if (!n)
		return -1;
	w->maps = n;
	w->cap_maps = cap;
	return 0;
}

/*
 * Forgets the records' parts inside [a, b) (the caller re-maps that range). A record
 * spanning the whole range is split in two, so this needs one free slot
 * (dax_maps_reserve_locked(w, 1)).
 */
static void dax_forget_locked(struct dax_window *w, uint64_t a, uint64_t b)
{
	for (size_t i = 0; i < w->nr_maps;) {
		struct dax_map *m = &w->maps[i];
		uint64_t mend = m->moff + m->len;

		if (mend <= a || m->moff >= b) {
			i++;
			continue;
		}
		if (m->moff >= a && mend <= b) {
			dax_file_put_locked(w, m->file);
			*m = w->maps[--w->nr_maps];
			continue;
		}
		if (m->moff < a && mend > b) {
			struct dax_map tail = *m;

			tail.foff += b - m->moff;
			tail.len = mend - b;
			tail.moff = b;
			if (tail.zero_from < b)
				tail.zero_from = b;
			m->file->refs++;
			w->maps[w->nr_maps++] = tail;
			m = &w->maps[i];	/* still valid: space was reserved */
		}
		if (m->moff < a) {
			m->len = a - m->moff;
			if (m->zero_from > a)
				m->zero_from = a;
		} else {
			m->foff += b - m->moff;
			m->len = mend - b;
			m->moff = b;
			if (m->zero_from < b)
				m->zero_from = b;
		}
		i++;
	}
	w->st.live = w->nr_maps;
}

static struct dax_map *dax_find_locked(struct dax_window *w, uint64_t off)
{
	for (size_t i = 0; i < w->nr_maps; i++)
		if (off >= w->maps[i].moff && off - w->maps[i].moff < w->maps[i].len)
			return &w->maps[i];
	return NULL;
}

/* ---- the requests ---- */

/* Only errors the guest handles as a plain failure reach it (never ENOMEM). */
static int dax_errno(int err)
{
	switch (err) {
	case -EACCES: case -EPERM: case -EROFS: case -EINVAL:
		return err;
	default:
		return -EIO;
	}
}

int dax_setup(struct dax_window *w, int fd, uint64_t foffset, uint64_t len, uint64_t moffset,
	      bool writable)
{
	struct dax_file *f;
	struct stat st;
	int err;

	/* One well-named bounds check for everything the guest controls here. */
	if (len == 0 || (foffset | len | moffset) & (DAX_PAGE - 1) || len > w->size ||
	    moffset > w->size - len || foffset > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (fstat(fd, &st))
		return dax_errno(-errno);
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	if (dax_maps_reserve_locked(w, 2)) {
		err = -EIO;
		goto fail;
	}
	f = dax_file_get_locked(w, fd, &st, writable);
	if (!f) {
		err = -EIO;
		goto fail;
	}
	err = dax_map_file(w, writable ? f->fd_rw : f->fd, foffset, len, moffset, writable);
	if (err) {
		dax_file_put_locked(w, f);
		/* ENOMEM here is vm.max_map_count or address space: EIO for the guest. */
		err = dax_errno(err);
		goto fail;
	}
	/* The new mapping replaced whatever was at [moffset, +len) (a READ to WRITE
	 * upgrade is a repeated SETUPMAPPING at the same offset). */
	dax_forget_locked(w, moffset, moffset + len);
	w->maps[w->nr_maps++] = (struct dax_map){
		.moff = moffset, .len = len, .foff = foffset, .zero_from = moffset + len,
		.file = f, .writable = writable,
	};
	w->st.setups++;
	w->st.live = w->nr_maps;
	pthread_mutex_unlock(&w->lock);
	return 0;
fail:
	w->st.failed++;
	pthread_mutex_unlock(&w->lock);
	return err;
}

int dax_remove(struct dax_window *w, uint64_t moffset, uint64_t len)
{
	uint64_t a, b;

	if (len == 0 || len > w->size || moffset > w->size - len)
		return -EINVAL;
	a = moffset & ~(DAX_PAGE - 1);
	b = dax_round_up(moffset + len);	/* <= size: size is page-aligned */
	pthread_mutex_lock(&w->lock);
	w->st.removes++;
	dax_punch(w, a, b - a);
	/* Splitting needs a free slot; without memory, keep the records (the range is
	 * PROT_NONE now, so a stale record only means a zero page at worst). */
	if (!dax_maps_reserve_locked(w, 1))
		dax_forget_locked(w, a, b);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void dax_reset(struct dax_window *w)
{
	pthread_mutex_lock(&w->lock);
	if (w->nr_maps)
		dax_punch(w, 0, w->size);
	while (w->nr_maps) {
		dax_file_put_locked(w, w->maps[w->nr_maps - 1].file);
		w->nr_maps--;
	}
	w->st.live = 0;
	pthread_mutex_unlock(&w->lock);
}

bool dax_fault(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct dax_window *w = opaque;
	struct dax_map *m;
	struct stat st;
	uint64_t pos;
	bool ok = false;
	ssize_t n;

	pthread_mutex_lock(&w->lock);
	w->st.exits++;
	m = dax_find_locked(w, off);
	if (!m) {
		log_err("dax: guest %s at window offset 0x%llx, which no mapping covers "
			"(a guest driver bug or a hostile guest); stopping the VM",
			is_write ? "write" : "read", (unsigned long long)off);
		goto out;
	}
	if (is_write && !m->writable) {
		log_err("dax: guest write at window offset 0x%llx into a read-only mapping; "
			"stopping the VM", (unsigned long long)off);
		goto out;
	}
	pos = m->foff + (off - m->moff);
	if (fstat(m->file->fd, &st)) {
		log_err("dax: mapped file vanished (%s); stopping the VM", strerror(errno));
		goto out;
	}
	if (pos >= dax_round_up((uint64_t)st.st_size)) {
		/* The usual case: the host truncated the file under the mapping. */
		dax_map_fit_locked(w, m, (uint64_t)st.st_size);
		ok = true;	/* a read returns the zeros vm_shm_exit put in data */
		goto out;
	}
	/* Inside the file: do this one access with the kernel's help; the guest's next
	 * access goes through the mapping again. Never ask it to retry as is. */
	if (is_write)
		n = pwrite(m->file->fd_rw, data, len, (off_t)pos);
	else
		n = pread(m->file->fd, data, len, (off_t)pos);
	if (n < 0) {
		log_err("dax: host I/O error behind window offset 0x%llx: %s; stopping the VM",
			(unsigned long long)off, strerror(errno));
		goto out;
	}
	ok = true;
out:
	pthread_mutex_unlock(&w->lock);
	return ok;
}

void dax_get_stats(struct dax_window *w, struct dax_stats *st)
{
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}

void dax_set_mmap_for_test(struct dax_window *w, dax_mmap_fn *fn)
{
	w->mmap_fn = fn ? fn : dax_sys_mmap;
}

static int dax_ops_setup(void *opaque, int fd, uint64_t foffset, uint64_t len, uint64_t moffset,
			 bool writable)
{
	return dax_setup(opaque, fd, foffset, len, moffset, writable);
}

static int dax_ops_remove(void *opaque, uint64_t moffset, uint64_t len)
{
	return dax_remove(opaque, moffset, len);
}

static void dax_ops_reset(void *opaque)
{
	dax_reset(opaque);
}

const struct fuse_dax_ops dax_window_ops = {
	.setup = dax_ops_setup, .remove = dax_ops_remove, .reset = dax_ops_reset,
};

struct dax_window *dax_window_new(uint8_t *hva, uint64_t size, char *err, size_t errlen)
{
	struct dax_window *w;

	if (!hva || size == 0 || size % DAX_PAGE || (uintptr_t)hva % DAX_PAGE) {
		snprintf(err, errlen, "bad DAX window");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	w->hva = hva;
	w->size = size;
	w->mmap_fn = dax_sys_mmap;
	w->inotify_fd = -1;
	if (dax_watch_init(w))
		log_warn("dax: no inotify (%s): host truncations are only caught when the guest "
			 "touches the lost pages", strerror(errno));
	return w;
}

void dax_window_free(struct dax_window *w)
{
	if (!w)
		return;
	log_info("dax: %llu mappings set up, %llu removed, %llu refused, %llu zero-filled "
		 "tails, %llu guest exits in the window", (unsigned long long)w->st.setups,
		 (unsigned long long)w->st.removes, (unsigned long long)w->st.failed,
		 (unsigned long long)w->st.zero_fills, (unsigned long long)w->st.exits);
	dax_reset(w);
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	free(w->maps);
	free(w->files);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
