/*
 * Console messages of the built-in guest init: assembled in place and written with one
 * write(2) each, no stdio (it would add code, and buffers to page in, for nothing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/guest-init/init.h"

enum log_mode log_mode;
int console_fd = 2;

static struct timespec start_time;
/* Step lines wait here while log_mode is LOG_EARLY or LOG_BUFFERED. */
static char log_buf[4096];
static size_t log_len;

void add(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

void add_list(struct line *l, const char *s, va_list ap)
{
	for (; s; s = va_arg(ap, const char *))
		add(l, s);
}

char *utoa(char *buf, unsigned long v)
{
	char tmp[21];
	int i = sizeof(tmp) - 1, n = 0;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while ((buf[n] = tmp[i + n]))
		n++;
	return buf;
}

const char *error_text(int err)
{
	/* strerrordesc_np: untranslated, so no locale code in the binary */
	const char *s = strerrordesc_np(err);

	return s ? s : "unknown error";
}

void console_write(const char *s, size_t len)
{
	if (console_fd >= 0 && (write(console_fd, s, len) >= 0 || errno != EBADF))
		return;
	console_fd = open(console_path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_APPEND);
	if (console_fd >= 0 && write(console_fd, s, len) < 0)
		return;
}

void log_start(void)
{
	char ms[21];

	clock_gettime(CLOCK_MONOTONIC, &start_time);	/* vDSO: no system call */
	/* the monotonic clock starts near boot: this places the init in the kernel log */
	step("started ", utoa(ms, (unsigned long)start_time.tv_sec * 1000 +
			      (unsigned long)start_time.tv_nsec / 1000000), " ms after boot", NULL);
}

void log_flush(void)
{
	if (log_len)
		console_write(log_buf, log_len);
	log_len = 0;
	if (log_mode == LOG_BUFFERED)
		log_mode = LOG_ON;
}

void log_decided(bool verbose)
{
	log_mode = verbose ? LOG_BUFFERED : LOG_OFF;
	if (!verbose)
		log_len = 0;
}

void step(const char *s, ...)
{
	struct line l = { 0 };
	struct timespec now;
	unsigned long us;
	char num[21];
	va_list ap;

	if (log_mode == LOG_OFF)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (unsigned long)(now.tv_sec - start_time.tv_sec) * 1000000 +
	     (unsigned long)(now.tv_nsec / 1000) - (unsigned long)(start_time.tv_nsec / 1000);
	add(&l, "nook-init: ");
	add(&l, utoa(num, us / 1000));
	add(&l, ".");
	add(&l, utoa(num, us / 100 % 10));
	add(&l, " ms: ");
	va_start(ap, s);
	add_list(&l, s, ap);
	va_end(ap);
	l.buf[l.len++] = '\n';
	if (log_mode == LOG_ON) {
		console_write(l.buf, l.len);
		return;
	}
	if (log_len + l.len > sizeof(log_buf)) {
		if (log_mode == LOG_EARLY)
			return;		/* cannot be full this early; keep what is there */
		console_write(log_buf, log_len);
		log_len = 0;
	}
	memcpy(log_buf + log_len, l.buf, l.len);
	log_len += l.len;
}

void problem(int err, const char *s, ...)
{
	struct line l = { 0 };
	va_list ap;

	if (log_mode == LOG_BUFFERED)
		log_flush();	/* keep the order of the lines */
	add(&l, "nook-init: ");
	va_start(ap, s);
	add_list(&l, s, ap);
	va_end(ap);
	if (err) {
		add(&l, ": ");
		add(&l, error_text(err));
	}
	l.buf[l.len++] = '\n';
	console_write(l.buf, l.len);
}

bool cat(char *dst, size_t size, const char *s, ...)
{
	size_t len = 0;
	va_list ap;

	va_start(ap, s);
	for (; s; s = va_arg(ap, const char *)) {
		size_t n = strlen(s);

		if (n >= size - len) {
			va_end(ap);
			return false;
		}
		memcpy(dst + len, s, n);
		len += n;
	}
	va_end(ap);
	dst[len] = '\0';
	return true;
}
