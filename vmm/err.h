/* One-line error messages into a caller's buffer, the convention of every parser here. */
#ifndef NOOK_VMM_ERR_H
#define NOOK_VMM_ERR_H

#include <stddef.h>

/* Formats into err (if err and errlen are non-zero) and returns -1. */
int err_printf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
