#include "vmm/run_control.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/event_loop.h"
#include "vmm/landlock.h"
#include "vmm/log.h"
#include "vmm/run_ctl.h"

#define CTL_MAX_CLIENTS	16
/* Guest-bound bytes queued at most; clients are paused above CTL_Q_PAUSE. */
#define CTL_Q_MAX	(4u << 20)
#define CTL_Q_PAUSE	(1u << 20)
#define CTL_SEND_TIMEOUT_S 5

enum guest_state { GUEST_BOOTING, GUEST_HELD, GUEST_RUNNING };

struct ctl_client {
	int fd;				/* -1: free slot */
	bool watched;			/* in the event loop */
	bool wait_held, wait_started;
	uint32_t exec_cid;		/* the client's own id of its exec, 0: none */
	uint32_t exec_gid;		/* the id the guest knows it by */
	bool exec_live;			/* EXEC sent, no EXIT yet */
	uint32_t stdin_unacked;		/* its exec's stdin bytes the guest has not credited */
	struct run_ctl_rx rx;
};

struct run_control {
	struct event_loop *loop;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* The socket's directory and name: the VMM has left the host's root by the time it
	 * removes the socket (--sandbox), so the path no longer names it. */
	int dir_fd;
	const char *name;
	int listen_fd;
	int to_guest[2];		/* [1] is ours (non-blocking), [0] the port's in_fd */
	int from_guest[2];		/* [0] is ours (non-blocking), [1] the port's out_fd */
	int timer_fd;			/* retries a full guest pipe */
	bool timer_armed, paused;
	enum guest_state state;
	uint32_t next_gid;
	uint8_t *q;			/* guest-bound bytes not written yet */
	size_t q_len, q_cap;
	struct run_ctl_rx grx;		/* from the guest */
	struct ctl_client clients[CTL_MAX_CLIENTS];
};

static void ctl_client_close(struct run_control *c, struct ctl_client *cl);
static void ctl_on_client(int fd, uint32_t events, void *opaque);

/* ---- to the guest ---- */

static void ctl_arm_timer(struct run_control *c)
{
	struct itimerspec its = { .it_value = { .tv_nsec = 2 * 1000 * 1000 } };

	if (!c->timer_armed && !timerfd_settime(c->timer_fd, 0, &its, NULL))
		c->timer_armed = true;
}

/* Pauses or resumes reading every client with the queue's length. */
static void ctl_backpressure(struct run_control *c)
{
	bool pause = c->q_len > CTL_Q_PAUSE;

	if (pause == c->paused)
		return;
	c->paused = pause;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->clients[i];

		if (cl->fd < 0)
			continue;
		if (pause && cl->watched) {
			evl_del(c->loop, cl->fd);
			cl->watched = false;
		} else if (!pause && !cl->watched) {
			cl->watched = !evl_add(c->loop, cl->fd, ctl_on_client, c);
		}
	}
}

static void ctl_flush(struct run_control *c)
{
	size_t off = 0;

	while (off < c->q_len) {
		ssize_t n = write(c->to_guest[1], c->q + off, c->q_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off && off < c->q_len)
		memmove(c->q, c->q + off, c->q_len - off);
	c->q_len -= off;
	if (c->q_len)
		ctl_arm_timer(c);
	ctl_backpressure(c);
}

static int ctl_to_guest(struct run_control *c, uint8_t type, uint8_t arg, uint32_t id,
			const void *payload, size_t len)
{
	size_t need = c->q_len + RUN_CTL_HDR_SIZE + len;

	if (need > CTL_Q_MAX)
		return -1;
	if (need > c->q_cap) {
		size_t cap = c->q_cap ? c->q_cap : 65536;
		uint8_t *q;

		while (cap < need)
			cap *= 2;
		q = realloc(c->q, cap);
		if (!q)
			return -1;
		c->q = q;
		c->q_cap = cap;
	}
	c->q_len += run_ctl_encode(c->q + c->q_len, type, arg, id, payload, len);
	ctl_flush(c);
	return 0;
}

static void ctl_on_timer(int fd, uint32_t events, void *opaque)
{
	struct run_control *c = opaque;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	c->timer_armed = false;
	ctl_flush(c);
}

/* ---- to a client ---- */

static void ctl_to_client(struct run_control *c, struct ctl_client *cl, uint8_t type,
			  uint8_t arg, uint32_t id, const void *payload, size_t len)
{
	uint8_t buf[RUN_CTL_HDR_SIZE + RUN_CTL_MAX_PAYLOAD];
	size_t n = run_ctl_encode(buf, type, arg, id, payload, len), off = 0;

	while (off < n) {
		ssize_t w = send(cl->fd, buf + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* gone, or stuck past SO_SNDTIMEO: it loses the rest */
			log_debug("control client dropped: %s", strerror(errno));
			ctl_client_close(c, cl);
			return;
		}
		off += (size_t)w;
	}
}

static void ctl_error(struct run_control *c, struct ctl_client *cl, const char *msg)
{
	ctl_to_client(c, cl, RUN_CTL_ERROR, 0, 0, msg, strlen(msg));
}

static void ctl_client_close(struct run_control *c, struct ctl_client *cl)
{
	if (cl->fd < 0)
		return;
	/* Its exec would run on with nobody to read it: gone with its proxy. */
	if (cl->exec_live)
		ctl_to_guest(c, RUN_CTL_SIGNAL, SIGKILL, cl->exec_gid, NULL, 0);
	if (cl->watched)
		evl_del(c->loop, cl->fd);
	close(cl->fd);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* ---- from the guest ---- */

static struct ctl_client *ctl_exec_owner(struct run_control *c, uint32_t gid)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].exec_gid == gid)
			return &c->clients[i];
	return NULL;
}

static int ctl_guest_frame(void *opaque, const struct run_ctl_frame *f)
{
	struct run_control *c = opaque;
	struct ctl_client *cl;

	switch (f->type) {
	case RUN_CTL_HELD:
		if (c->state != GUEST_BOOTING)
			return 0;
		c->state = GUEST_HELD;
		log_info("control: the guest holds the command until start");
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			if (c->clients[i].fd >= 0 && c->clients[i].wait_held) {
				c->clients[i].wait_held = false;
				ctl_to_client(c, &c->clients[i], RUN_CTL_HELD, 0, 0, NULL, 0);
			}
		}
		return 0;
	case RUN_CTL_STARTED:
		if (!f->id) {
			c->state = GUEST_RUNNING;
			for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
				cl = &c->clients[i];
				if (cl->fd >= 0 && (cl->wait_started || cl->wait_held)) {
					cl->wait_started = cl->wait_held = false;
					ctl_to_client(c, cl, RUN_CTL_STARTED, 0, 0, NULL, 0);
				}
			}
			return 0;
		}
		break;
	}
	/* Per-exec frames: to the client that asked for that exec, under its own id. */
	cl = f->id ? ctl_exec_owner(c, f->id) : NULL;
	if (!cl)
		return 0;	/* its client went away: dropped */
	if (f->type == RUN_CTL_EXIT)
		cl->exec_live = false;
	if (f->type == RUN_CTL_CREDIT) {
		uint32_t n = run_ctl_u32(f->payload);

		/* the guest may not return more than it got */
		cl->stdin_unacked -= n < cl->stdin_unacked ? n : cl->stdin_unacked;
	}
	ctl_to_client(c, cl, f->type, f->arg, cl->exec_cid, f->payload, f->len);
	return 0;
}

static void ctl_on_guest(int fd, uint32_t events, void *opaque)
{
	struct run_control *c = opaque;
	uint8_t buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));
	int r;

	(void)events;
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			evl_del(c->loop, fd);
		return;
	}
	r = run_ctl_feed(&c->grx, buf, (size_t)n, RUN_CTL_FROM_GUEST, ctl_guest_frame, c);
	if (r)
		/* The guest's stream is out of step for good; the VM itself goes on. */
		log_warn("control: bad frame from the guest (%s): ignoring the control port "
			 "from now on", strerror(-r));
}

/* ---- from a client ---- */

static int ctl_client_frame(void *opaque, const struct run_ctl_frame *f);

struct ctl_feed_ctx {
	struct run_control *c;
	struct ctl_client *cl;
};

static int ctl_client_frame(void *opaque, const struct run_ctl_frame *f)
{
	struct ctl_feed_ctx *x = opaque;
	struct run_control *c = x->c;
	struct ctl_client *cl = x->cl;

	switch (f->type) {
	case RUN_CTL_WAIT:
		if (c->state == GUEST_HELD)
			ctl_to_client(c, cl, RUN_CTL_HELD, 0, 0, NULL, 0);
		else if (c->state == GUEST_RUNNING)
			ctl_to_client(c, cl, RUN_CTL_STARTED, 0, 0, NULL, 0);
		else
			cl->wait_held = true;
		return cl->fd < 0;
	case RUN_CTL_START:
		if (c->state != GUEST_HELD) {
			ctl_error(c, cl, c->state == GUEST_RUNNING ? "already started" :
					 "the guest is not ready yet");
			return cl->fd < 0;
		}
		cl->wait_started = true;
		if (ctl_to_guest(c, RUN_CTL_START, 0, 0, NULL, 0))
			ctl_error(c, cl, "control queue full");
		return cl->fd < 0;
	case RUN_CTL_SIGNAL:
		if (f->id && (f->id != cl->exec_cid || !cl->exec_live))
			return 0;	/* its exec is over: nothing to signal */
		if (ctl_to_guest(c, RUN_CTL_SIGNAL, f->arg, f->id ? cl->exec_gid : 0, NULL, 0))
			ctl_error(c, cl, "control queue full");
		return cl->fd < 0;
	case RUN_CTL_EXEC: {
		int live = 0;

		if (cl->exec_cid) {
			ctl_error(c, cl, "one exec per connection");
			return cl->fd < 0;
		}
		if (c->state != GUEST_RUNNING) {
			ctl_error(c, cl, "the container is not running");
			return cl->fd < 0;
		}
		for (int i = 0; i < CTL_MAX_CLIENTS; i++)
			live += c->clients[i].fd >= 0 && c->clients[i].exec_live;
		if (live >= (int)RUN_CTL_MAX_EXECS) {
			ctl_error(c, cl, "too many processes exec'd at once");
			return cl->fd < 0;
		}
		/* Guest ids count up; 0 is the command, so they wrap to 1. */
		if (++c->next_gid > RUN_CTL_MAX_ID)
			c->next_gid = 1;
		cl->exec_cid = f->id;
		cl->exec_gid = c->next_gid;
		cl->exec_live = true;
		if (ctl_to_guest(c, RUN_CTL_EXEC, 0, cl->exec_gid, f->payload, f->len)) {
			cl->exec_live = false;
			ctl_error(c, cl, "control queue full");
		}
		return cl->fd < 0;
	}
	case RUN_CTL_STDIN:
	case RUN_CTL_RESIZE:
		if (f->id != cl->exec_cid || !cl->exec_live)
			return 0;
		if (f->type == RUN_CTL_STDIN) {
			/* Past its credit the guest could not hold it: the client broke the
			 * protocol (vmm/run_proto.h), and its exec goes with it. */
			if (f->len > RUN_CTL_STDIN_WINDOW - cl->stdin_unacked) {
				ctl_error(c, cl, "stdin past its credit");
				ctl_client_close(c, cl);
				return 1;
			}
			cl->stdin_unacked += f->len;
		}
		if (ctl_to_guest(c, f->type, f->arg, cl->exec_gid, f->payload, f->len))
			ctl_error(c, cl, "control queue full");
		return cl->fd < 0;
	}
	return 0;
}

static void ctl_on_client(int fd, uint32_t events, void *opaque)
{
	struct run_control *c = opaque;
	struct ctl_feed_ctx x = { c, NULL };
	uint8_t buf[65536];
	ssize_t n;

	(void)events;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd == fd)
			x.cl = &c->clients[i];
	if (!x.cl)
		return;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_client_close(c, x.cl);
		return;
	}
	if (run_ctl_feed(&x.cl->rx, buf, (size_t)n, RUN_CTL_FROM_CLIENT, ctl_client_frame, &x) < 0) {
		ctl_error(c, x.cl, "bad control frame");
		ctl_client_close(c, x.cl);
	}
}

static void ctl_on_accept(int fd, uint32_t events, void *opaque)
{
	struct run_control *c = opaque;
	struct timeval tv = { .tv_sec = CTL_SEND_TIMEOUT_S };
	struct ctl_client *cl = NULL;
	int s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	(void)events;
	if (s < 0)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	if (!cl) {
		close(s);	/* the client sees EOF: busy */
		return;
	}
	memset(cl, 0, sizeof(*cl));
	cl->fd = s;
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cl->watched = !c->paused && !evl_add(c->loop, s, ctl_on_client, c);
	if (!c->paused && !cl->watched)
		ctl_client_close(c, cl);
}

/* ---- life ---- */

static int ctl_listen(struct run_control *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_printf(err, errlen, "--control %s: path too long for a socket", path);
	strcpy(sa.sun_path, path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		return err_printf(err, errlen, "--control: socket: %s", strerror(errno));
	unlink(path);
	/* Only the owner (root, for podman) may steer the VM. */
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(c->listen_fd, 8))
		return err_printf(err, errlen, "--control %s: %s", path, strerror(errno));
	snprintf(c->path, sizeof(c->path), "%s", path);
	{
		char *slash = strrchr(c->path, '/');

		if (slash == c->path) {
			c->dir_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		} else if (slash) {
			*slash = 0;
			c->dir_fd = open(c->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			*slash = '/';
		} else {
			c->dir_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
		c->name = slash ? slash + 1 : c->path;
		/* Under Landlock the event loop may remove files in that directory only. */
		if (c->dir_fd >= 0)
			landlock_allow(c->dir_fd, LANDLOCK_KIND(THREAD_EVENT_LOOP),
				       LANDLOCK_FS_REMOVE_FILE);
	}
	if (evl_add(c->loop, c->listen_fd, ctl_on_accept, c))
		return err_printf(err, errlen, "--control: cannot watch the socket");
	return 0;
}

struct run_control *run_control_create(struct event_loop *loop, const char *path,
				       int *guest_in, int *guest_out, char *err,
				       size_t errlen)
{
	struct run_control *c = calloc(1, sizeof(*c));

	if (!c) {
		err_printf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = loop;
	c->listen_fd = c->timer_fd = c->dir_fd = -1;
	c->to_guest[0] = c->to_guest[1] = c->from_guest[0] = c->from_guest[1] = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	if (pipe2(c->to_guest, O_CLOEXEC) || pipe2(c->from_guest, O_CLOEXEC) ||
	    fcntl(c->to_guest[1], F_SETFL, O_NONBLOCK) ||
	    fcntl(c->from_guest[0], F_SETFL, O_NONBLOCK)) {
		err_printf(err, errlen, "control pipes: %s", strerror(errno));
		goto fail;
	}
	/* Room for a burst of stdin frames before the queue is needed; best effort. */
	fcntl(c->to_guest[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(c->from_guest[1], F_SETPIPE_SZ, 1 << 20);
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0 || evl_add(loop, c->timer_fd, ctl_on_timer, c) ||
	    evl_add(loop, c->from_guest[0], ctl_on_guest, c)) {
		err_printf(err, errlen, "control: cannot watch its fds");
		goto fail;
	}
	if (path && ctl_listen(c, path, err, errlen))
		goto fail;
	*guest_in = c->to_guest[0];
	*guest_out = c->from_guest[1];
	return c;
fail:
	run_control_destroy(c);
	return NULL;
}

void run_control_destroy(struct run_control *c)
{
	if (!c)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (c->clients[i].fd >= 0) {
			if (c->clients[i].watched)
				evl_del(c->loop, c->clients[i].fd);
			close(c->clients[i].fd);
		}
	}
	if (c->listen_fd >= 0) {
		evl_del(c->loop, c->listen_fd);
		close(c->listen_fd);
	}
	if (c->dir_fd >= 0) {
		if (unlinkat(c->dir_fd, c->name, 0) && errno != ENOENT)
			log_warn("--control %s: cannot remove the socket: %s", c->path, strerror(errno));
		close(c->dir_fd);
	} else if (c->path[0]) {
		unlink(c->path);
	}
	if (c->timer_fd >= 0) {
		evl_del(c->loop, c->timer_fd);
		close(c->timer_fd);
	}
	if (c->from_guest[0] >= 0)
		evl_del(c->loop, c->from_guest[0]);
	for (int i = 0; i < 2; i++) {
		if (c->to_guest[i] >= 0)
			close(c->to_guest[i]);
		if (c->from_guest[i] >= 0)
			close(c->from_guest[i]);
	}
	free(c->q);
	free(c);
}

int run_control_signal(struct run_control *c, int signo)
{
	if (!c || signo <= 0 || signo >= NSIG)
		return -1;
	return ctl_to_guest(c, RUN_CTL_SIGNAL, (uint8_t)signo, 0, NULL, 0);
}
