/* The fanotify helper of the version table (see fs/vtab_watch.h). */
#include "fs/vtab_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/vtab.h"
#include "vmm/log.h"

#define VTW_DIRENT (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)
#define VTW_MASK (FAN_MODIFY | FAN_ATTRIB | VTW_DIRENT | FAN_DELETE_SELF | FAN_MOVE_SELF | \
		  FAN_ONDIR)

struct vtab_watch {
	struct vtab *vt;
	int fan_fd;
	int mount_fd;            /* a real open of the root, for open_by_handle_at */
	int stop_fd;             /* eventfd: the owner wants the thread to end */
	pid_t self;
	pthread_t thread;
	uint64_t events;
};

/* The slot of a reported object, or 0 when it cannot be reopened (gone). */
static uint64_t vtw_slot(struct vtab_watch *w, struct file_handle *fh)
{
	struct stat st;
	uint64_t slot = 0;
	int fd = open_by_handle_at(w->mount_fd, fh, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (!fstat(fd, &st))
		slot = vtab_slot(w->vt, st.st_dev, st.st_ino, 0);
	close(fd);
	return slot;
}

/*
 * One event: its info records lie in [p, end). Records are not aligned (an event's
 * length is whatever its names make it), so every header is copied out before use,
 * and every length is checked against end.
 */
static void vtw_event(struct vtab_watch *w, const struct fanotify_event_metadata *m,
		      const char *p, const char *end)
{
	bool dirent = m->mask & VTW_DIRENT, placed = false, lost = false;
	union {
		struct file_handle fh;
		char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h_buf;

	if (m->mask & FAN_Q_OVERFLOW) {
		vtab_bump_epoch(w->vt);
		log_debug("fs: fanotify queue overflow: version table epoch bumped");
		return;
	}
	__atomic_fetch_add(&w->events, 1, __ATOMIC_RELAXED);
	if (m->pid == w->self)
		return;
	while (end - p >= (long)sizeof(struct fanotify_event_info_header)) {
		struct fanotify_event_info_header h;
		const size_t fixed = sizeof(struct fanotify_event_info_fid) + sizeof(struct file_handle);
		const char *rec = p, *name;
		uint64_t slot;
		bool dir_rec, self_rec;

		memcpy(&h, p, sizeof(h));
		if (h.len < sizeof(h) || h.len > (size_t)(end - p))
			break;
		p += h.len;
		if (h.info_type != FAN_EVENT_INFO_TYPE_FID &&
		    h.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
		    h.info_type != FAN_EVENT_INFO_TYPE_DFID &&
		    h.info_type != FAN_EVENT_INFO_TYPE_OLD_DFID_NAME &&
		    h.info_type != FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
			continue;
		if (h.len < fixed)
			continue;
		/* fanotify_event_info_fid: header, fsid, then a struct file_handle. */
		memcpy(&h_buf.fh, rec + sizeof(struct fanotify_event_info_fid), sizeof(h_buf.fh));
		if (h_buf.fh.handle_bytes > MAX_HANDLE_SZ || h_buf.fh.handle_bytes > h.len - fixed)
			continue;
		memcpy(h_buf.fh.f_handle, rec + fixed, h_buf.fh.handle_bytes);
		dir_rec = h.info_type != FAN_EVENT_INFO_TYPE_FID;
		name = rec + fixed + h_buf.fh.handle_bytes;
		/* A directory's own event names it as "." in its DFID_NAME record. */
		self_rec = dir_rec && h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
			   name + 2 <= p && name[0] == '.' && name[1] == 0;
		/* The parent of a modified or chmod'ed file is not changed by it. */
		if (dir_rec && !dirent && !self_rec)
			continue;
		slot = vtw_slot(w, &h_buf.fh);
		if (!slot) {
			lost = true;
			continue;
		}
		placed = true;
		if (dir_rec && !self_rec)
			vtab_bump(w->vt, slot, VTAB_MD);   /* names in it changed */
		else
			vtab_bump(w->vt, slot, (m->mask & FAN_MODIFY) ? VTAB_MD : VTAB_META);
	}
	/* A vanished object whose directory we bumped is found missing through it; with
	 * nothing placed at all, only the epoch can tell guests. */
	if (lost && !placed)
		vtab_bump_epoch(w->vt);
}

void vtab_watch_parse(struct vtab_watch *w, const void *data, size_t n)
{
	const char *buf = data;

	for (size_t off = 0; off + sizeof(struct fanotify_event_metadata) <= n;) {
		struct fanotify_event_metadata m;

		memcpy(&m, buf + off, sizeof(m));
		if (m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < sizeof(m) ||
		    m.event_len < m.metadata_len || m.event_len > n - off)
			break;
		vtw_event(w, &m, buf + off + m.metadata_len, buf + off + m.event_len);
		/* FID-reporting groups never pass fds; a stray one must not leak. */
		if (m.fd >= 0)
			close(m.fd);
		off += m.event_len;
	}
}

static void *vtw_main(void *arg)
{
	struct vtab_watch *w = arg;
	static _Thread_local char buf[65536] __attribute__((aligned(8)));

	for (;;) {
		struct pollfd pfd[2] = { { w->fan_fd, POLLIN, 0 }, { w->stop_fd, POLLIN, 0 } };
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(w->fan_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("fs: fanotify read: %s; outside changes now bump the epoch only",
				 strerror(errno));
			vtab_bump_epoch(w->vt);
			break;
		}
		vtab_watch_parse(w, buf, (size_t)n);
	}
	return NULL;
}

struct vtab_watch *vtab_watch_start(struct vtab *vt, int root_fd, char *err, size_t errlen)
{
	struct vtab_watch *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	char proc[64];
	int e;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->vt = vt;
	w->self = getpid();
	w->mount_fd = w->stop_fd = -1;
	w->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME_TARGET | FAN_CLOEXEC |
				  FAN_NONBLOCK, O_RDONLY | O_CLOEXEC);
	if (w->fan_fd < 0) {
		e = errno;
		snprintf(err, errlen, "fanotify: %s", strerror(e));
		goto fail;
	}
	/* "." below the root's fd marks the root's file system (an O_PATH fd works as a
	 * dirfd, not as the marked object itself). */
	if (fanotify_mark(w->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, VTW_MASK, root_fd, ".")) {
		e = errno;
		snprintf(err, errlen, "fanotify mark of the shared directory: %s", strerror(e));
		goto fail;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", root_fd);
	w->mount_fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->mount_fd < 0 || w->stop_fd < 0) {
		e = errno;
		snprintf(err, errlen, "fanotify helper: %s", strerror(e));
		goto fail;
	}
	/* The helper takes no signals: a process that waits for SIGTERM with sigwait or a
	 * signalfd must not have it delivered (and acted on by default) here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Started during set-up, so it runs without a filter and keeps every capability.
	 * Started as an fs-watch thread (seccomp_thread_create), guests fell back to
	 * refreshing (check-vt-boot: 176 LOOKUPs instead of 3); why is not understood yet
	 * (SECURITY.md, "Not defended yet"). */
	e = pthread_create(&w->thread, NULL, vtw_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		snprintf(err, errlen, "fanotify helper thread: %s", strerror(e));
		goto fail;
	}
	return w;
fail:
	if (w->fan_fd >= 0)
		close(w->fan_fd);
	if (w->mount_fd >= 0)
		close(w->mount_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w);
	errno = e;
	return NULL;
}

void vtab_watch_stop(struct vtab_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one)) {
		/* The thread still uses w: leave it to the process's end. */
		log_warn("fs: cannot stop the fanotify helper");
		return;
	}
	pthread_join(w->thread, NULL);
	close(w->fan_fd);
	close(w->mount_fd);
	close(w->stop_fd);
	free(w);
}

uint64_t vtab_watch_events(const struct vtab_watch *w)
{
	return __atomic_load_n(&w->events, __ATOMIC_RELAXED);
}
