#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int console_open(struct console *c, const struct vm_config *cfg, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = -1;
	c->out_fd = -1;
	/* Running a command: the kernel console is only kept for error reports, or shown
	 * on stderr with -v; the command's stdio has its own device. */
	if (cfg->run.active) {
		c->out_fd = cfg->run.verbose ? STDERR_FILENO : -1;
		return 0;
	}
	switch (cfg->console) {
	case CONSOLE_NONE:
		return 0;
	case CONSOLE_FILE:
		c->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			snprintf(err, errlen, "--console %s: %s", cfg->console_path, strerror(errno));
			return -1;
		}
		c->own_out = true;
		return 0;
	case CONSOLE_STDIO:
		c->out_fd = STDOUT_FILENO;
		c->in_fd = STDIN_FILENO;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
			struct termios t = c->saved;

			/* Raw input so Ctrl-C etc. reach the guest; keep output post-processing
			 * off too, the guest sends CR LF itself. */
			cfmakeraw(&t);
			if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
				c->raw = true;
		}
		return 0;
	}
	return 0;
}

void console_close(struct console *c)
{
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	c->raw = false;
	if (c->own_out && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
	c->in_fd = -1;
}

size_t console_tail(const struct console *c, char *buf, size_t len)
{
	uint64_t total = c->tail_total;
	size_t n = total < CONSOLE_TAIL_SIZE ? (size_t)total : CONSOLE_TAIL_SIZE;

	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)c->tail[(total - n + i) % CONSOLE_TAIL_SIZE];
	return n;
}

void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;

	for (size_t i = 0; i < len; i++)
		c->tail[(c->tail_total + i) % CONSOLE_TAIL_SIZE] = buf[i];
	c->tail_total += len;

	while (c->out_fd >= 0 && len) {
		ssize_t n = write(c->out_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* a closed pipe drops output; the guest keeps running */
		buf += n;
		len -= (size_t)n;
	}
}

size_t console_filter(struct console *c, const uint8_t *in, size_t len, uint8_t *out,
		      bool *quit)
{
	size_t n = 0;

	*quit = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = in[i];

		if (c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				*quit = true;
				return n;
			}
			if (b == CONSOLE_ESCAPE)
				out[n++] = b;
			continue;	/* unknown escapes are swallowed */
		}
		if (b == CONSOLE_ESCAPE) {
			c->escape = true;
			continue;
		}
		out[n++] = b;
	}
	return n;
}
