/*
 * process.capabilities of an OCI spec (or of an exec's process.json) into run-request
 * records (RUN_REC_CAPS, vmm/run_proto.h): the host turns names into bit numbers, so the
 * guest init only applies five masks.
 */
#ifndef NOOK_OCI_CONFINE_H
#define NOOK_OCI_CONFINE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/oci/oci_process.h"

/* CAP_CHOWN -> 0 ... CAP_CHECKPOINT_RESTORE -> 40; -1 for a name we do not know. */
int oci_cap_number(const char *name);

/* process.capabilities (absent: no records, the workload keeps root's full set). Unknown
 * names are skipped, as runc does for a capability its kernel lacks. 0, or -1 with why. */
int oci_caps_records(struct json_object *proc, struct oci_records *r, char *err, size_t errlen);

#endif
