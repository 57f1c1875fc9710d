/*
 * libFuzzer target for the control frames the guest init sends (vmm/run_ctl.c) and the
 * VMM's routing of them (vmm/run_control.c): the input is what the guest writes to its
 * control port, fed in pieces of varying sizes (the first byte picks the piece size) to
 * the reassembly and check, and through the pipe into a run_control with one client
 * that holds an exec and waits for the start. Nothing the guest sends may crash the
 * VMM, make it write out of bounds or hand a client a frame run_ctl_check() refuses.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/event_loop.h"
#include "vmm/run_control.h"
#include "vmm/run_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_frame(void *opaque, const struct run_ctl_frame *f)
{
	size_t *n = opaque;

	/* a checked frame's payload is whole and inside the buffer */
	if (f->len && f->payload[f->len - 1] == 0x5a)
		(*n)++;
	(*n)++;
	return 0;
}

static struct run_ctl_rx rx, crx;

static int check_to_client(void *opaque, const struct run_ctl_frame *f)
{
	(void)opaque;
	(void)f;
	return 0;
}

/* One round of the event loop, by hand: every handler once (reads are non-blocking). */
static void round_(struct event_loop *l)
{
	for (int i = 0; i < EVL_MAX_HANDLERS; i++) {
		struct evl_handler *h = &l->handlers[i];

		if (h->fd >= 0)
			h->cb(h->fd, 0, h->opaque);
	}
}

/* What the VMM sent the client must pass the client's own check. */
static void drain_client(int fd)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if (run_ctl_feed(&crx, buf, (size_t)n, RUN_CTL_FROM_VMM, check_to_client, NULL) < 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t exec_req[] = "NOOKRUN1\0ash\0";
	struct event_loop loop;
	struct run_control *c;
	size_t piece, frames = 0;
	int in = -1, out = -1, cl = -1;
	char err[256], path[64];
	uint8_t frame[64];

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	data++;
	size--;

	/* The parser alone. */
	memset(&rx, 0, sizeof(rx));
	for (size_t off = 0; off < size; off += piece)
		run_ctl_feed(&rx, data + off, size - off < piece ? size - off : piece,
			     RUN_CTL_FROM_GUEST, count_frame, &frames);

	/* The VMM side: a client waits and asks for an exec; the guest's bytes come
	 * through the pipe, a piece per round of the loop. */
	memset(&crx, 0, sizeof(crx));
	if (evl_init(&loop))
		return 0;
	snprintf(path, sizeof(path), "/tmp/fuzz-run-ctl-%d.sock", (int)getpid());
	c = run_control_create(&loop, path, &in, &out, err, sizeof(err));
	if (c) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		size_t off = 0;

		strcpy(sa.sun_path, path);
		cl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cl >= 0 && !connect(cl, (struct sockaddr *)&sa, sizeof(sa))) {
			size_t n = run_ctl_encode(frame, RUN_CTL_WAIT, 0, 0, NULL, 0);

			(void)!write(cl, frame, n);
		}
		round_(&loop);
		while (off < size) {
			size_t n = size - off < piece * 8 ? size - off : piece * 8;
			ssize_t w = write(out, data + off, n);

			if (w <= 0)
				break;
			off += (size_t)w;
			if (cl >= 0) {
				size_t m = run_ctl_encode(frame, RUN_CTL_EXEC, 0, 7, exec_req,
							  sizeof(exec_req) - 1);

				(void)!write(cl, frame, m);
			}
			round_(&loop);
			if (cl >= 0)
				drain_client(cl);
		}
		run_control_destroy(c);
	}
	if (cl >= 0)
		close(cl);
	evl_close(&loop);
	return 0;
}
