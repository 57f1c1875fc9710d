/*
 * Control frames (vmm/run_ctl.c) and the VMM's router of them (vmm/run_control.c): the
 * per-source checks, reassembly from any split, and a whole create/start/exec exchange
 * between a fake guest (the two pipes) and socket clients, the loop driven by hand.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/event_loop.h"
#include "vmm/run_control.h"
#include "vmm/run_ctl.h"

static int hdr_check(uint8_t type, uint8_t arg, uint16_t len, uint32_t id, enum run_ctl_src src)
{
	uint8_t h[RUN_CTL_HDR_SIZE] = { type, arg, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)id,
					(uint8_t)(id >> 8), (uint8_t)(id >> 16), (uint8_t)(id >> 24) };
	struct run_ctl_frame f;

	return run_ctl_check(h, src, &f);
}

Test(run_ctl, checks_per_source)
{
	/* the guest */
	cr_assert_eq(hdr_check(RUN_CTL_HELD, 0, 0, 0, RUN_CTL_FROM_GUEST), 0);
	cr_assert_eq(hdr_check(RUN_CTL_HELD, 0, 1, 0, RUN_CTL_FROM_GUEST), -EMSGSIZE);
	cr_assert_eq(hdr_check(RUN_CTL_OUTPUT, 1, RUN_CTL_OUT_MAX, 3, RUN_CTL_FROM_GUEST), 0);
	cr_assert_eq(hdr_check(RUN_CTL_OUTPUT, 1, RUN_CTL_OUT_MAX + 1, 3, RUN_CTL_FROM_GUEST), -EMSGSIZE);
	cr_assert_eq(hdr_check(RUN_CTL_OUTPUT, 3, 1, 3, RUN_CTL_FROM_GUEST), -EINVAL);
	cr_assert_eq(hdr_check(RUN_CTL_OUTPUT, 1, 1, 0, RUN_CTL_FROM_GUEST), -EINVAL);
	cr_assert_eq(hdr_check(RUN_CTL_EXIT, 5, 0, 0x80000000u, RUN_CTL_FROM_GUEST), -EINVAL);
	cr_assert_eq(hdr_check(RUN_CTL_EXEC, 0, 4, 1, RUN_CTL_FROM_GUEST), -EPROTO);
	cr_assert_eq(hdr_check(RUN_CTL_ERROR, 0, 4, 0, RUN_CTL_FROM_GUEST), -EPROTO);
	cr_assert_eq(hdr_check(RUN_CTL_CREDIT, 0, 4, 3, RUN_CTL_FROM_GUEST), 0);
	cr_assert_eq(hdr_check(RUN_CTL_CREDIT, 0, 2, 3, RUN_CTL_FROM_GUEST), -EMSGSIZE);
	cr_assert_eq(hdr_check(RUN_CTL_CREDIT, 0, 4, 0, RUN_CTL_FROM_GUEST), -EINVAL);
	/* a client */
	cr_assert_eq(hdr_check(RUN_CTL_START, 0, 0, 0, RUN_CTL_FROM_CLIENT), 0);
	cr_assert_eq(hdr_check(RUN_CTL_SIGNAL, 15, 0, 0, RUN_CTL_FROM_CLIENT), 0);
	cr_assert_eq(hdr_check(RUN_CTL_SIGNAL, 200, 0, 0, RUN_CTL_FROM_CLIENT), -EINVAL);
	cr_assert_eq(hdr_check(RUN_CTL_EXEC, 0, 0, 1, RUN_CTL_FROM_CLIENT), -EINVAL);
	cr_assert_eq(hdr_check(RUN_CTL_RESIZE, 0, 3, 1, RUN_CTL_FROM_CLIENT), -EMSGSIZE);
	cr_assert_eq(hdr_check(RUN_CTL_HELD, 0, 0, 0, RUN_CTL_FROM_CLIENT), -EPROTO);
	cr_assert_eq(hdr_check(RUN_CTL_STDIN, 0, RUN_CTL_OUT_MAX, 1, RUN_CTL_FROM_CLIENT), 0);
	cr_assert_eq(hdr_check(RUN_CTL_STDIN, 0, RUN_CTL_OUT_MAX + 1, 1, RUN_CTL_FROM_CLIENT),
		     -EMSGSIZE);
	cr_assert_eq(hdr_check(RUN_CTL_CREDIT, 0, 4, 1, RUN_CTL_FROM_CLIENT), -EPROTO);
	/* the VMM */
	cr_assert_eq(hdr_check(RUN_CTL_ERROR, 0, 100, 0, RUN_CTL_FROM_VMM), 0);
	cr_assert_eq(hdr_check(RUN_CTL_START, 0, 0, 0, RUN_CTL_FROM_VMM), -EPROTO);
	cr_assert_eq(hdr_check(RUN_CTL_CREDIT, 0, 4, 1, RUN_CTL_FROM_VMM), 0);
}

struct seen {
	int n;
	struct run_ctl_frame f[8];
	uint8_t payload[8][64];
};

static int collect(void *opaque, const struct run_ctl_frame *f)
{
	struct seen *s = opaque;

	if (s->n < 8) {
		s->f[s->n] = *f;
		memcpy(s->payload[s->n], f->payload, f->len < 64 ? f->len : 64);
		s->n++;
	}
	return 0;
}

static struct run_ctl_rx rx;

Test(run_ctl, reassembly_any_split)
{
	uint8_t buf[128];
	size_t n = run_ctl_encode(buf, RUN_CTL_OUTPUT, 2, 7, "hello", 5);

	n += run_ctl_encode(buf + n, RUN_CTL_EXIT, 3, 7, NULL, 0);
	for (size_t piece = 1; piece <= n; piece++) {
		struct seen s = { 0 };

		memset(&rx, 0, sizeof(rx));
		for (size_t off = 0; off < n; off += piece)
			cr_assert_eq(run_ctl_feed(&rx, buf + off, n - off < piece ? n - off : piece,
						  RUN_CTL_FROM_GUEST, collect, &s), 0);
		cr_assert_eq(s.n, 2, "piece %zu", piece);
		cr_assert_eq(s.f[0].type, RUN_CTL_OUTPUT);
		cr_assert_eq(s.f[0].arg, 2);
		cr_assert_eq(s.f[0].id, 7);
		cr_assert_eq(memcmp(s.payload[0], "hello", 5), 0);
		cr_assert_eq(s.f[1].type, RUN_CTL_EXIT);
		cr_assert_eq(s.f[1].arg, 3);
	}
}

Test(run_ctl, bad_frame_breaks_the_stream)
{
	uint8_t buf[64];
	struct seen s = { 0 };
	size_t n;

	memset(&rx, 0, sizeof(rx));
	n = run_ctl_encode(buf, RUN_CTL_EXEC, 0, 1, "x", 1);	/* the guest may not */
	cr_assert_eq(run_ctl_feed(&rx, buf, n, RUN_CTL_FROM_GUEST, collect, &s), -EPROTO);
	cr_assert(rx.broken);
	n = run_ctl_encode(buf, RUN_CTL_HELD, 0, 0, NULL, 0);
	cr_assert_eq(run_ctl_feed(&rx, buf, n, RUN_CTL_FROM_GUEST, collect, &s), 0);
	cr_assert_eq(s.n, 0);
	/* a huge length is refused from the header alone, not waited for */
	memset(&rx, 0, sizeof(rx));
	buf[0] = RUN_CTL_OUTPUT; buf[1] = 1; buf[2] = 0xff; buf[3] = 0xff;
	memset(buf + 4, 0, 4);
	buf[4] = 1;
	cr_assert_eq(run_ctl_feed(&rx, buf, 8, RUN_CTL_FROM_GUEST, collect, &s), -EMSGSIZE);
}

/* ---- the router ---- */

static struct event_loop loop;
static struct run_control *ctl;
static int gin, gout;	/* the guest's view: read gin, write gout */
static char sock_path[64];

static void router_setup(void)
{
	char err[256];

	cr_assert_eq(evl_init(&loop), 0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/test-run-ctl-%d.sock", (int)getpid());
	ctl = run_control_create(&loop, sock_path, &gin, &gout, err, sizeof(err));
	cr_assert_not_null(ctl, "%s", err);
	fcntl(gin, F_SETFL, O_NONBLOCK);
}

static void router_teardown(void)
{
	run_control_destroy(ctl);
	evl_close(&loop);
	cr_assert_neq(access(sock_path, F_OK), 0, "the socket file stays");
}

/* Every handler once, a few times over (reads never block). */
static void spin(void)
{
	for (int r = 0; r < 4; r++)
		for (int i = 0; i < EVL_MAX_HANDLERS; i++)
			if (loop.handlers[i].fd >= 0)
				loop.handlers[i].cb(loop.handlers[i].fd, 0, loop.handlers[i].opaque);
}

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	spin();
	return fd;
}

static void send_frame(int fd, uint8_t type, uint8_t arg, uint32_t id, const void *p, size_t len)
{
	uint8_t buf[256];
	size_t n = run_ctl_encode(buf, type, arg, id, p, len);

	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	spin();
}

/* Next frame on fd (non-blocking: it must be there already), checked as from src. */
static struct seen got;
static struct run_ctl_rx grx;

static int next(int fd, enum run_ctl_src src)
{
	uint8_t buf[512];
	ssize_t n;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	n = read(fd, buf, sizeof(buf));	/* sockets and the guest's pipe */

	memset(&got, 0, sizeof(got));
	memset(&grx, 0, sizeof(grx));
	if (n <= 0)
		return -1;
	cr_assert_eq(run_ctl_feed(&grx, buf, (size_t)n, src, collect, &got), 0);
	return got.n;
}

Test(run_ctl, router_create_start_exec, .init = router_setup, .fini = router_teardown)
{
	int a = client(), b, c;

	/* create waits; the guest says it holds the command */
	send_frame(a, RUN_CTL_WAIT, 0, 0, NULL, 0);
	cr_assert_eq(next(a, RUN_CTL_FROM_VMM), -1, "answered before the guest was held");
	send_frame(gout, RUN_CTL_HELD, 0, 0, NULL, 0);
	cr_assert_eq(next(a, RUN_CTL_FROM_VMM), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_HELD);

	/* exec before start is refused */
	b = client();
	send_frame(b, RUN_CTL_EXEC, 0, 9, "NOOKRUN1\0ash", 13);
	cr_assert_eq(next(b, RUN_CTL_FROM_VMM), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_ERROR);
	close(b);

	/* start: the guest gets START, the client STARTED once the guest says so */
	send_frame(a, RUN_CTL_START, 0, 0, NULL, 0);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_START);
	send_frame(gout, RUN_CTL_STARTED, 0, 0, NULL, 0);
	cr_assert_eq(next(a, RUN_CTL_FROM_VMM), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_STARTED);
	close(a);

	/* exec: the guest sees it under the VMM's id, the client its own */
	c = client();
	send_frame(c, RUN_CTL_EXEC, 0, 9, "NOOKRUN1\0ash", 13);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_EXEC);
	cr_assert_eq(got.f[0].len, 13);
	{
		uint32_t gid = got.f[0].id;

		cr_assert_neq(gid, 0);
		send_frame(c, RUN_CTL_STDIN, 0, 9, "in", 2);
		cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
		cr_assert_eq(got.f[0].type, RUN_CTL_STDIN);
		cr_assert_eq(got.f[0].id, gid);
		send_frame(gout, RUN_CTL_STARTED, 0, gid, NULL, 0);
		send_frame(gout, RUN_CTL_OUTPUT, 1, gid, "out", 3);
		send_frame(gout, RUN_CTL_OUTPUT, 1, gid + 100, "lost", 4);	/* nobody's */
		send_frame(gout, RUN_CTL_EXIT, 5, gid, NULL, 0);
		cr_assert_eq(next(c, RUN_CTL_FROM_VMM), 3);
		cr_assert_eq(got.f[0].type, RUN_CTL_STARTED);
		cr_assert_eq(got.f[1].type, RUN_CTL_OUTPUT);
		cr_assert_eq(got.f[1].id, 9);
		cr_assert_eq(memcmp(got.payload[1], "out", 3), 0);
		cr_assert_eq(got.f[2].type, RUN_CTL_EXIT);
		cr_assert_eq(got.f[2].arg, 5);
	}
	/* its process is over: closing sends no SIGKILL */
	close(c);
	spin();
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), -1);

	/* a proxy that goes away takes its live exec with it */
	c = client();
	send_frame(c, RUN_CTL_EXEC, 0, 1, "NOOKRUN1\0ash", 13);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	close(c);
	spin();
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_SIGNAL);
	cr_assert_eq(got.f[0].arg, SIGKILL);

	/* nook's own relay */
	cr_assert_eq(run_control_signal(ctl, SIGTERM), 0);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_SIGNAL);
	cr_assert_eq(got.f[0].id, 0);
}

Test(run_ctl, router_bad_guest_frame, .init = router_setup, .fini = router_teardown)
{
	int a = client();

	send_frame(a, RUN_CTL_WAIT, 0, 0, NULL, 0);
	send_frame(gout, RUN_CTL_START, 0, 0, NULL, 0);	/* not the guest's to send */
	send_frame(gout, RUN_CTL_HELD, 0, 0, NULL, 0);		/* ignored from now on */
	cr_assert_eq(next(a, RUN_CTL_FROM_VMM), -1);
	close(a);
}

/* Everything the guest's side of the port holds now, thrown away; returns its size. */
static size_t drain_guest(void)
{
	uint8_t buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = read(gin, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	return total;
}

static void send_stdin(int fd, uint32_t id, size_t len)
{
	static uint8_t buf[RUN_CTL_HDR_SIZE + RUN_CTL_OUT_MAX], data[RUN_CTL_OUT_MAX];
	size_t n = run_ctl_encode(buf, RUN_CTL_STDIN, 0, id, data, len);

	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	spin();
}

/* An exec's stdin may run RUN_CTL_STDIN_WINDOW bytes ahead of the guest's credit, no
 * more: the guest buffers that much, so a process that never reads cannot stall it. */
Test(run_ctl, router_stdin_window, .init = router_setup, .fini = router_teardown)
{
	uint8_t credit[4] = { 0, 0x80, 0, 0 };	/* 32 KiB */
	int a = client(), c;
	uint32_t gid;

	send_frame(gout, RUN_CTL_HELD, 0, 0, NULL, 0);
	send_frame(a, RUN_CTL_START, 0, 0, NULL, 0);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);	/* START */
	send_frame(gout, RUN_CTL_STARTED, 0, 0, NULL, 0);
	close(a);
	c = client();
	send_frame(c, RUN_CTL_EXEC, 0, 4, "NOOKRUN1\0ash", 13);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	gid = got.f[0].id;
	send_frame(gout, RUN_CTL_STARTED, 0, gid, NULL, 0);
	cr_assert_eq(next(c, RUN_CTL_FROM_VMM), 1);

	/* the whole window goes through */
	for (unsigned int i = 0; i < RUN_CTL_STDIN_WINDOW / RUN_CTL_OUT_MAX; i++)
		send_stdin(c, 4, RUN_CTL_OUT_MAX);
	cr_assert_eq(drain_guest(), RUN_CTL_STDIN_WINDOW / RUN_CTL_OUT_MAX *
				    (RUN_CTL_HDR_SIZE + RUN_CTL_OUT_MAX));
	/* credit for 32 KiB reaches the client under its own id, and lets 32 KiB more go */
	send_frame(gout, RUN_CTL_CREDIT, 0, gid, credit, 4);
	cr_assert_eq(next(c, RUN_CTL_FROM_VMM), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_CREDIT);
	cr_assert_eq(got.f[0].id, 4);
	send_stdin(c, 4, RUN_CTL_OUT_MAX);
	cr_assert_eq(drain_guest(), RUN_CTL_HDR_SIZE + RUN_CTL_OUT_MAX);
	/* one byte past the window: refused, the client dropped, its exec killed */
	send_stdin(c, 4, 1);
	cr_assert_eq(next(c, RUN_CTL_FROM_VMM), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_ERROR);
	cr_assert_eq(next(gin, RUN_CTL_FROM_CLIENT), 1);
	cr_assert_eq(got.f[0].type, RUN_CTL_SIGNAL);
	cr_assert_eq(got.f[0].arg, SIGKILL);
	cr_assert_eq(got.f[0].id, gid);
	close(c);
}
