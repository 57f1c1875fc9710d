/* process.capabilities -> RUN_REC_CAPS records (vmm/oci/oci_confine.h). */
#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_confine.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vmm/run_proto.h"

/* linux/capability.h's numbers, in order (the ABI; they never change). */
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

int oci_cap_number(const char *name)
{
	if (strncasecmp(name, "CAP_", 4))
		return -1;
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (!strcasecmp(name + 4, cap_names[i]))
			return (int)i;
	return -1;
}

int oci_caps_records(struct json_object *proc, struct oci_records *r, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		char set;
	} sets[] = { { "bounding", 'b' }, { "effective", 'e' }, { "permitted", 'p' },
		     { "inheritable", 'i' }, { "ambient", 'a' } };
	struct json_object *caps;

	if (!json_object_object_get_ex(proc, "capabilities", &caps) || json_object_is_type(caps, json_type_null))
		return 0;
	if (!json_object_is_type(caps, json_type_object))
		return oci_fail(err, errlen, "process.capabilities must be an object");
	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		struct json_object *a;
		uint64_t mask = 0;
		char rec[32];

		/* An absent set is an empty one (the spec's meaning, and runc's). */
		if (json_object_object_get_ex(caps, sets[k].key, &a) && !json_object_is_type(a, json_type_null)) {
			if (!json_object_is_type(a, json_type_array))
				return oci_fail(err, errlen, "process.capabilities.%s must be an array", sets[k].key);
			for (size_t i = 0; i < json_object_array_length(a); i++) {
				struct json_object *s = json_object_array_get_idx(a, i);
				int n;

				if (!json_object_is_type(s, json_type_string))
					return oci_fail(err, errlen, "process.capabilities.%s[%zu] is not a string",
						     sets[k].key, i);
				n = oci_cap_number(json_object_get_string(s));
				if (n >= 0)
					mask |= UINT64_C(1) << n;
			}
		}
		snprintf(rec, sizeof(rec), "%c:%016" PRIx64, sets[k].set, mask);
		oci_rec(r, RUN_REC_CAPS, rec);
	}
	return r->oom ? oci_fail(err, errlen, "out of memory") : 0;
}
