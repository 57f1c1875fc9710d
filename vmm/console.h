/*
 * The host side of the guest console: where serial output goes (stdout, a file, nowhere)
 * and where input comes from (stdin, raw when it is a terminal). Ctrl-A x quits;
 * Ctrl-A Ctrl-A sends one Ctrl-A.
 */
#ifndef NOOK_VMM_CONSOLE_H
#define NOOK_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "vmm/config.h"

#define CONSOLE_ESCAPE 0x01	/* Ctrl-A */
#define CONSOLE_TAIL_SIZE 8192	/* the last output bytes kept for error reports */

struct console {
	int in_fd;		/* -1: no input */
	int out_fd;		/* -1: output dropped */
	bool own_out;		/* out_fd is a file we opened */
	bool raw;		/* terminal settings changed, restore at exit */
	struct termios saved;
	bool escape;		/* last input byte was Ctrl-A */
	/* Ring of the last CONSOLE_TAIL_SIZE output bytes, whatever out_fd is. Written by
	 * the thread that drives the serial port, read once the vCPUs stopped. */
	uint8_t tail[CONSOLE_TAIL_SIZE];
	uint64_t tail_total;	/* bytes ever written */
};

int console_open(struct console *c, const struct vm_config *cfg, char *err, size_t errlen);
void console_close(struct console *c);
void console_write(void *opaque, const uint8_t *buf, size_t len);

/* Copies the kept tail of the output, oldest first, into buf; returns its length. */
size_t console_tail(const struct console *c, char *buf, size_t len);

/* Filters host input for the escape sequence into out (at least len bytes); returns the
 * bytes for the guest, sets *quit on Ctrl-A x. */
size_t console_filter(struct console *c, const uint8_t *in, size_t len, uint8_t *out,
		      bool *quit);

#endif
