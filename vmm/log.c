#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum log_level log_max_level = LOG_WARN;

void log_init_from_env(void)
{
	const char *v = getenv("NOOK_LOG");

	if (!v)
		return;
	if (!strcmp(v, "debug"))
		log_max_level = LOG_DEBUG;
	else if (!strcmp(v, "info"))
		log_max_level = LOG_INFO;
	else if (!strcmp(v, "warn"))
		log_max_level = LOG_WARN;
	else if (!strcmp(v, "err"))
		log_max_level = LOG_ERR;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error: ", "warning: ", "", "debug: " };
	char line[1024];
	va_list ap;
	int n;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* One fprintf per line so lines from different threads do not interleave. */
	fprintf(stderr, "nook: %s%s\n", names[level], line);
}
