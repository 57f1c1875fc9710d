/* process.capabilities -> RUN_REC_CAPS records (vmm/oci/oci_confine.c). */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vmm/oci/oci_confine.h"
#include "vmm/run_proto.h"

/* The records as "Cx:...|Cy:..." for one comparison. */
static const char *records_of(const char *proc_json, int *ret, char *err)
{
	static char out[512];
	struct oci_records r = { 0 };
	struct json_object *proc = json_tokener_parse(proc_json);
	size_t n = 0;

	cr_assert_not_null(proc);
	*ret = oci_caps_records(proc, &r, err, 256);
	out[0] = 0;
	for (size_t off = 0; off < r.len; off += strlen(r.data + off) + 1)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", n ? "|" : "", r.data + off);
	oci_records_free(&r);
	json_object_put(proc);
	return out;
}

Test(oci_confine, names)
{
	cr_assert_eq(oci_cap_number("CAP_CHOWN"), 0);
	cr_assert_eq(oci_cap_number("CAP_NET_RAW"), 13);
	cr_assert_eq(oci_cap_number("CAP_SYS_ADMIN"), 21);
	cr_assert_eq(oci_cap_number("cap_setfcap"), 31);
	cr_assert_eq(oci_cap_number("CAP_CHECKPOINT_RESTORE"), 40);
	cr_assert_eq(oci_cap_number("CAP_NOPE"), -1);
	cr_assert_eq(oci_cap_number("CHOWN"), -1);
}

/* podman 4.3's default set (11 caps, no SYS_ADMIN) in bounding/effective/permitted. */
Test(oci_confine, podman_default_set)
{
	const char *def = "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\","
			  "\"CAP_NET_BIND_SERVICE\",\"CAP_SETFCAP\",\"CAP_SETGID\",\"CAP_SETPCAP\","
			  "\"CAP_SETUID\",\"CAP_SYS_CHROOT\"]";
	char json[1024], err[256] = "";
	int ret;

	snprintf(json, sizeof(json),
		 "{\"capabilities\":{\"bounding\":%s,\"effective\":%s,\"permitted\":%s}}", def, def, def);
	cr_assert_str_eq(records_of(json, &ret, err),
			 "Cb:00000000800405fb|Ce:00000000800405fb|Cp:00000000800405fb|"
			 "Ci:0000000000000000|Ca:0000000000000000");
	cr_assert_eq(ret, 0, "%s", err);
}

/* Unknown names skipped; no capabilities object: no records (root's full set). */
Test(oci_confine, unknown_and_absent)
{
	char err[256] = "";
	int ret;

	cr_assert_str_eq(records_of("{\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\",\"CAP_FUTURE\"],"
				    "\"ambient\":[\"CAP_CHOWN\"]}}", &ret, err),
			 "Cb:0000000000002000|Ce:0000000000000000|Cp:0000000000000000|"
			 "Ci:0000000000000000|Ca:0000000000000001");
	cr_assert_eq(ret, 0);
	cr_assert_str_eq(records_of("{\"args\":[\"x\"]}", &ret, err), "");
	cr_assert_eq(ret, 0);
}

Test(oci_confine, bad_shapes)
{
	char err[256] = "";
	int ret;

	records_of("{\"capabilities\":[]}", &ret, err);
	cr_assert_eq(ret, -1);
	cr_assert(strstr(err, "process.capabilities must be an object"), "%s", err);
	records_of("{\"capabilities\":{\"effective\":\"CAP_CHOWN\"}}", &ret, err);
	cr_assert_eq(ret, -1);
	cr_assert(strstr(err, "capabilities.effective must be an array"), "%s", err);
	records_of("{\"capabilities\":{\"permitted\":[1]}}", &ret, err);
	cr_assert_eq(ret, -1);
	cr_assert(strstr(err, "capabilities.permitted[0] is not a string"), "%s", err);
}
