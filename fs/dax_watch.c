/*
 * Host truncation watch for the DAX window: one inotify watch per host file with live
 * mappings. When such a file changes size, the mapped pages past its new end are
 * replaced by zero pages at once (and the file shows again where it grew back).
 *
 * Why not only at the exit: on a software-virtualized host a guest touching a mapped
 * page past a file's end was seen to keep KVM_RUN busy retrying the fault instead of
 * exiting, so the tail is fixed before the guest gets there whenever the event comes
 * first; dax_fault still handles the exits that do come.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/dax_internal.h"
#include "vmm/log.h"

int dax_watch_init(struct dax_window *w)
{
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return w->inotify_fd < 0 ? -1 : 0;
}

int dax_watch_fd(const struct dax_window *w)
{
	return w->inotify_fd;
}

void dax_watch_add_locked(struct dax_window *w, struct dax_file *f)
{
	char path[64];

	if (w->inotify_fd < 0)
		return;
	/* Watch the open file itself, whatever its name is now. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	f->wd = inotify_add_watch(w->inotify_fd, path, IN_MODIFY | IN_ATTRIB);
	if (f->wd < 0)
		log_debug("dax: no inotify watch on a mapped file: %s", strerror(errno));
}

void dax_watch_del_locked(struct dax_window *w, struct dax_file *f)
{
	if (w->inotify_fd >= 0 && f->wd >= 0)
		inotify_rm_watch(w->inotify_fd, f->wd);
	f->wd = -1;
}

/* Re-fits every mapping of f to the file's current size. */
static void dax_watch_refit_locked(struct dax_window *w, struct dax_file *f)
{
	struct stat st;

	if (fstat(f->fd, &st))
		return;
	for (size_t i = 0; i < w->nr_maps; i++)
		if (w->maps[i].file == f)
			dax_map_fit_locked(w, &w->maps[i], (uint64_t)st.st_size);
}

void dax_watch_event(struct dax_window *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	if (w->inotify_fd < 0)
		return;
	while ((n = read(w->inotify_fd, buf, sizeof(buf))) > 0) {
		pthread_mutex_lock(&w->lock);
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			if (ev->mask & IN_Q_OVERFLOW) {
				/* Lost events: re-fit everything. */
				for (size_t i = 0; i < w->nr_files; i++)
					dax_watch_refit_locked(w, w->files[i]);
			} else if (ev->mask & (IN_MODIFY | IN_ATTRIB)) {
				for (size_t i = 0; i < w->nr_files; i++)
					if (w->files[i]->wd == ev->wd)
						dax_watch_refit_locked(w, w->files[i]);
			}
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
		pthread_mutex_unlock(&w->lock);
	}
}
