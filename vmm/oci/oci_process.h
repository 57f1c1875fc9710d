/*
 * The parts of an OCI spec the guest init applies that have no `nook run` option:
 * run-request records (vmm/run_proto.h) nook-oci hands to nook with --records, and the
 * whole record list of an exec'd process (process.json of `nook-oci exec`).
 */
#ifndef NOOK_OCI_PROCESS_H
#define NOOK_OCI_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* A growing list of records: tag byte, value, NUL. */
struct oci_records {
	char *data;
	size_t len, cap;
	bool oom;
};

void oci_rec(struct oci_records *r, char tag, const char *value);
void oci_records_free(struct oci_records *r);

/*
 * process (an object) into records. With exec, everything the init needs to start it:
 * magic, args, env, cwd, uid, gid, tty; always: additionalGids, umask, rlimits,
 * noNewPrivileges. *terminal gets process.terminal. 0, or -1 with one line in err.
 */
int oci_process_records(struct json_object *proc, bool exec, struct oci_records *r,
			bool *terminal, char *err, size_t errlen);

/* linux.maskedPaths and linux.readonlyPaths of spec into records. 0 or -1. */
int oci_linux_records(struct json_object *spec, struct oci_records *r, char *err,
		      size_t errlen);

/* process.json text (nook-oci exec --process) into a whole exec request. 0 or -1. */
int oci_exec_translate_json(const char *json, struct oci_records *r, bool *terminal,
			    char *err, size_t errlen);

#endif
