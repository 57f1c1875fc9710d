/*
 * nook-oci's side of the VMM's control socket (ROOT/ID/ctl.sock, frames of
 * vmm/run_proto.h, served by vmm/run_control.c), and the host pty of `-t`.
 */
#ifndef NOOK_OCI_CTL_H
#define NOOK_OCI_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/run_ctl.h"

/* Connects to DIR/ctl.sock. The fd, or -1 with errno. */
int oci_ctl_connect(const char *dir);
/* One frame, written whole. 0 or -1. */
int oci_ctl_send(int fd, uint8_t type, uint8_t arg, uint32_t id, const void *payload,
		 size_t len);
/* Reads the next frame the VMM sent into *f (payload in buf, RUN_CTL_MAX_PAYLOAD + 1
 * bytes, NUL-terminated for RUN_CTL_ERROR). 0; -1 at EOF or on an error; -2 on a frame
 * that fails run_ctl_check(). */
int oci_ctl_recv(int fd, struct run_ctl_frame *f, uint8_t *buf);

/* A new pty pair (the master non-blocking, both close-on-exec). 0 or -1 with errno. */
int oci_pty_open(int *master, int *slave);
/* Sends fd over the AF_UNIX socket at path (SCM_RIGHTS, runc's shape: the body is
 * the pty's name). 0 or -1 with errno. */
int oci_send_console(const char *path, int fd);

#endif
