/*
 * The central epoll loop run by nook's main thread: stdin, signals, the stop request and
 * device fds register a callback; vCPU threads never block in it.
 */
#ifndef NOOK_VMM_EVENT_LOOP_H
#define NOOK_VMM_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVL_MAX_HANDLERS 64

/* events: EPOLLIN/EPOLLHUP/... as reported by epoll. */
typedef void (*evl_cb)(int fd, uint32_t events, void *opaque);

struct evl_handler {
	int fd;		/* -1: free slot */
	evl_cb cb;
	void *opaque;
};

struct event_loop {
	int epfd;
	bool quit;
	struct evl_handler handlers[EVL_MAX_HANDLERS];
};

int evl_init(struct event_loop *l);
void evl_close(struct event_loop *l);
/* Watches fd for input; -errno on failure (-EPERM: fd cannot be polled, e.g. a file). */
int evl_add(struct event_loop *l, int fd, evl_cb cb, void *opaque);
void evl_del(struct event_loop *l, int fd);
/* Runs callbacks until evl_quit() is called from one of them. */
int evl_run(struct event_loop *l);
void evl_quit(struct event_loop *l);

#endif
