/*
 * The VMM's end of the control channel of `nook run` (frames: vmm/run_proto.h, checks:
 * vmm/run_ctl.h). It owns the two pipes behind the guest's RUN_PORT_CTL port and,
 * with --control PATH, a unix socket at PATH that local clients (nook-oci: create,
 * start, kill, exec) talk to with the same frames:
 *
 *	client WAIT          -> HELD once the guest is held (STARTED if it already runs)
 *	client START         -> START to the guest; its STARTED goes back to this client
 *	client SIGNAL(id)    -> SIGNAL to the command (id 0) or to the client's exec
 *	client EXEC(id, req) -> EXEC to the guest under an id the VMM picks; the exec's
 *	                        STARTED, OUTPUT and EXIT come back under the client's id,
 *	                        its STDIN, RESIZE and SIGNAL go the other way
 *	errors               -> ERROR(text) to the client
 * One exec per connection; a client that goes away takes its exec with it (SIGKILL).
 *
 * Everything runs on the main thread's event loop. Frames for the guest wait in a
 * bounded queue when its pipe is full (retried by a timer); while the queue is long,
 * clients are not read (backpressure). Writes to a client block at most a few seconds,
 * then the client is dropped.
 */
#ifndef NOOK_VMM_RUN_CONTROL_H
#define NOOK_VMM_RUN_CONTROL_H

#include <stdint.h>
#include <stddef.h>

struct event_loop;
struct run_control;

/*
 * The pipes and, if path is not NULL, the socket (a stale file at path is replaced).
 * *guest_in / *guest_out get the fds for the port (in_fd: host -> guest, out_fd).
 * NULL with one line in err.
 */
struct run_control *run_control_create(struct event_loop *loop, const char *path,
				       int *guest_in, int *guest_out, char *err,
				       size_t errlen);
/* Closes everything, removes the socket file. NULL is a no-op. */
void run_control_destroy(struct run_control *c);

/* SIGNAL signo to the command (nook's own SIGTERM relay). 0 or -1. */
int run_control_signal(struct run_control *c, int signo);

#endif
