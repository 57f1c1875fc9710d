#include "vmm/event_loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int evl_init(struct event_loop *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < EVL_MAX_HANDLERS; i++)
		l->handlers[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void evl_close(struct event_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int evl_add(struct event_loop *l, int fd, evl_cb cb, void *opaque)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (int i = 0; i < EVL_MAX_HANDLERS; i++) {
		struct evl_handler *h = &l->handlers[i];

		if (h->fd >= 0)
			continue;
		ev.data.ptr = h;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		h->fd = fd;
		h->cb = cb;
		h->opaque = opaque;
		return 0;
	}
	return -ENOSPC;
}

void evl_del(struct event_loop *l, int fd)
{
	for (int i = 0; i < EVL_MAX_HANDLERS; i++) {
		if (l->handlers[i].fd == fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			l->handlers[i].fd = -1;
		}
	}
}

void evl_quit(struct event_loop *l)
{
	l->quit = true;
}

int evl_run(struct event_loop *l)
{
	struct epoll_event evs[16];

	while (!l->quit) {
		int n = epoll_wait(l->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->quit; i++) {
			struct evl_handler *h = evs[i].data.ptr;

			/* A callback may have removed this handler earlier in the batch. */
			if (h->fd >= 0)
				h->cb(h->fd, evs[i].events, h->opaque);
		}
	}
	return 0;
}
