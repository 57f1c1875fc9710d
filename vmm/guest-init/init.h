/*
 * What the parts of the built-in guest init share: init.c (PID 1: set-up, waiting,
 * the end), msg.c (console messages), command.c (starting the command).
 */
#ifndef NOOK_VMM_GUEST_INIT_INIT_H
#define NOOK_VMM_GUEST_INIT_INIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/guest-init/request.h"

extern struct run_request req;
extern volatile uint32_t *status_reg;	/* NULL when /dev/mem could not be mapped */
extern const char *console_path, *tty_path;

/* One 32-bit store, the register's only access; the vfork child uses it too. */
static inline void status_write(uint32_t v)
{
	if (status_reg)
		*status_reg = v;
}

/* ---- msg.c ---- */

/*
 * Until the request says whether to be verbose, step lines wait in a buffer; with -v
 * they keep waiting until the command is about to start, so that the console's slow
 * writes (a port I/O exit per byte) do not end up in the set-up's timestamps.
 */
enum log_mode { LOG_EARLY, LOG_BUFFERED, LOG_ON, LOG_OFF };

extern enum log_mode log_mode;
/* The kernel opened /dev/console on fds 0-2 for us; -1: reopen it at the next message. */
extern int console_fd;

struct line {
	size_t len;
	char buf[640];
};

void add(struct line *l, const char *s);
void add_list(struct line *l, const char *s, va_list ap);
char *utoa(char *buf, unsigned long v);		/* buf: at least 21 bytes */
const char *error_text(int err);
void console_write(const char *s, size_t len);
void log_start(void);				/* start of the 'ms' in step lines */
void log_decided(bool verbose);			/* the request said */
void log_flush(void);				/* buffered lines out; then unbuffered */
/* A step, for -v: "nook-init: 3.1 ms: mounted proc on /proc". NULL ends the list. */
void step(const char *s, ...) __attribute__((sentinel));
/* A real problem, always shown: "nook-init: WHAT[: strerror(err)]". */
void problem(int err, const char *s, ...) __attribute__((sentinel));
/* Concatenates the strings into dst; false (dst unusable) if they do not fit. */
bool cat(char *dst, size_t size, const char *s, ...) __attribute__((sentinel));

/* ---- net.c ---- */

void net_loopback_up(void);	/* lo up; a failure is reported, not fatal */

/* ---- confine.c ---- */

/* RUN_REC_CAPS around the uid change (vfork child, raw calls). 0, or -1 with errno. */
int confine_caps_before_ids(const struct run_request *r);
int confine_caps_after_ids(const struct run_request *r);
/* RUN_REC_SECCOMP: install the filter. 0, or -1 with errno. */
int confine_seccomp(const struct run_request *r);

/* ---- command.c ---- */

/* Starts req's command (vfork, set-up, execve); its pid (also its group), or -1. */
pid_t spawn_command(void);

/* An exec'd process's stdio: fd[0..2] become its 0-2; tty: fd[0] is a pty slave that
 * becomes its controlling terminal. */
struct spawn_io {
	int fd[3];
	bool tty;
};

/* Starts r's process with io's stdio (the signal mask emptied); its pid, or -1. */
pid_t spawn_process(const struct run_request *r, const struct spawn_io *io);

/* ---- control.c ---- */

/* The control port (RUN_PORT_CTL), opened read-write by open_stdio(); -1: none. */
extern int ctl_fd;

/* Holding (req.hold): tells the host, then waits for RUN_CTL_START. Returns 0 to start
 * the command, or the status to finish with (the host signalled or went away). */
int control_hold(void);
/* After the command started: RUN_CTL_STARTED when held. */
void control_started(void);
/* Reaps and relays until the command exits; serves exec requests meanwhile. Returns
 * the command's exit status. */
int control_wait(pid_t pid);

#endif
