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

struct console {
	int in_fd;		/* -1: no input */
	int out_fd;		/* -1: output dropped */
	bool own_out;		/* out_fd is a file we opened */
	bool raw;		/* terminal settings changed, restore at exit */
	struct termios saved;
	bool escape;		/* last input byte was Ctrl-A */
};

int console_open(struct console *c, const struct vm_config *cfg, char *err, size_t errlen);
void console_close(struct console *c);
void console_write(void *opaque, const uint8_t *buf, size_t len);

/* Filters host input for the escape sequence into out (at least len bytes); returns the
 * bytes for the guest, sets *quit on Ctrl-A x. */
size_t console_filter(struct console *c, const uint8_t *in, size_t len, uint8_t *out,
		      bool *quit);

#endif
