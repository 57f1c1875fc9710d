/*
 * linux.seccomp of an OCI spec, compiled on the host with libseccomp (x86-64) to the
 * classic BPF program the guest init installs for the workload and every exec
 * (RUN_REC_SECCOMP, vmm/run_proto.h): the guest needs neither JSON nor libseccomp.
 */
#ifndef NOOK_OCI_SECCOMP_H
#define NOOK_OCI_SECCOMP_H

#include <stddef.h>

#include "vmm/oci/oci_process.h"

struct json_object;

/* The spec's linux.seccomp (absent or null: no record) into one RUN_REC_SECCOMP record
 * of hex BPF. Unknown syscall names are skipped (as runc does); SCMP_ACT_NOTIFY and
 * other actions we cannot honour are an error. 0, or -1 with one line in err. */
int oci_seccomp_records(struct json_object *spec, struct oci_records *r, char *err, size_t errlen);

#endif
