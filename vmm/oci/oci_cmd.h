/* What the verbs of nook-oci share (oci_main.c, oci_exec.c). */
#ifndef NOOK_OCI_CMD_H
#define NOOK_OCI_CMD_H

#include <stdbool.h>

/* One line on stderr; with --log-format=json also one JSON object in --log. Returns 1. */
int oci_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes text to path through a temporary and a rename. 0 or -1. */
int oci_write_file(const char *path, const char *text, size_t len);

struct oci_exec_args;

/* exec --process FILE [--detach] [--tty --console-socket S] [--pid-file P] ID, or with
 * the process as arguments (args, vmm/oci/oci_exec_args.h): exactly one of the two. */
int cmd_exec(const char *root, const char *id, const char *process,
	     const struct oci_exec_args *args, const char *pid_file, const char *console,
	     bool detach);

#endif
