/*
 * A container's state under --root (default /run/nook-oci): ROOT/ID/state.json with the
 * VMM's pid, its start time (so a reused pid is not taken for the container), bundle and
 * creation time; ROOT/ID/created while the workload waits for `start`; ROOT/ID/ctl.sock,
 * the VMM's control socket; ROOT/ID/records, the request records create gave the VMM;
 * create_ms and start_ms, how long those two took (bench-oci reads them).
 */
#ifndef NOOK_OCI_STATE_H
#define NOOK_OCI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct oci_state {
	char id[256];
	pid_t pid;
	unsigned long long starttime;	/* /proc/PID/stat field 22 */
	char bundle[4096];
	char created[40];		/* RFC 3339, UTC */
	char rootfs[4096];
	char owner[64];			/* the user that created it (runc's field) */
	char *annotations;		/* JSON text of an object; oci_state_free() frees it
					 * (verbs that exit right after need not) */
	const char *status;		/* "created", "running" or "stopped" (computed) */
};

/* An id is a non-empty [A-Za-z0-9_.-] name (no '/', so it stays one directory). */
bool oci_state_valid_id(const char *id);
/* ROOT/ID into dir; with create, makes it (EEXIST when it exists). 0 or -1 with errno. */
int oci_state_dir(const char *root, const char *id, char *dir, size_t len, bool create);
int oci_state_save(const char *dir, const char *id, pid_t pid, const char *bundle,
		   const char *rootfs, const char *annotations);
void oci_state_free(struct oci_state *st);
/* Reads ROOT/ID/state.json and computes the status. 0, or -1 when there is none. */
int oci_state_load(const char *root, const char *id, char *dir, size_t len, struct oci_state *st);
/* The runtime-spec state JSON. 0 or -1. */
int oci_state_print(const struct oci_state *st, FILE *f);
int oci_state_remove(const char *dir);

#endif
