/*
 * process / linux fields of an OCI spec -> run-request records. As in oci_spec.c, every
 * value is checked here before anything starts; the guest init checks the records
 * again (vmm/guest-init/request.c), as it checks everything the host sends.
 */
#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_process.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vmm/oci/oci_confine.h"
#include "vmm/run_proto.h"

void oci_rec(struct oci_records *r, char tag, const char *value)
{
	size_t n = strlen(value) + 1 + (tag ? 1 : 0);

	if (r->oom)
		return;
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		char *d;

		while (cap < r->len + n)
			cap *= 2;
		d = realloc(r->data, cap);
		if (!d) {
			r->oom = true;
			return;
		}
		r->data = d;
		r->cap = cap;
	}
	if (tag)
		r->data[r->len++] = tag;
	memcpy(r->data + r->len, value, strlen(value) + 1);
	r->len += strlen(value) + 1;
}

void oci_records_free(struct oci_records *r)
{
	free(r->data);
	memset(r, 0, sizeof(*r));
}

static struct json_object *get(struct json_object *o, const char *key, enum json_type t,
			       bool *bad)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, t)) {
		*bad = true;
		return NULL;
	}
	return v;
}

/* A JSON integer in [0, max], or -1. */
static int64_t get_uint(struct json_object *v, int64_t max)
{
	int64_t n;

	if (!v || !json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	n = json_object_get_int64(v);
	return errno || n < 0 || n > max ? -1 : n;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

/* A limit value: JSON uint64; the all-ones value (and anything past int64) is unlimited. */
static int limit_text(struct json_object *v, char *buf, size_t len)
{
	uint64_t n;

	if (!v || !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_uint64(v);
	if (n >= (uint64_t)INT64_MAX)
		snprintf(buf, len, "-1");
	else
		snprintf(buf, len, "%" PRIu64, n);
	return 0;
}

static int rlimits(struct json_object *proc, struct oci_records *r, char *err, size_t errlen)
{
	bool bad = false;
	struct json_object *a = get(proc, "rlimits", json_type_array, &bad);
	unsigned int seen = 0;

	if (bad)
		return oci_fail(err, errlen, "process.rlimits must be an array");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *l = json_object_array_get_idx(a, i), *t;
		char soft[24], hard[24], rec[80];
		int res = -1;

		t = get(l, "type", json_type_string, &bad);
		for (size_t k = 0; t && k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (!strcmp(json_object_get_string(t), rlimit_names[k].name))
				res = rlimit_names[k].resource;
		if (res < 0)
			return oci_fail(err, errlen, "process.rlimits[%zu]: unknown type %s", i,
				    t ? json_object_get_string(t) : "(none)");
		if (limit_text(get(l, "soft", json_type_int, &bad), soft, sizeof(soft)) ||
		    limit_text(get(l, "hard", json_type_int, &bad), hard, sizeof(hard)))
			return oci_fail(err, errlen, "process.rlimits[%zu]: soft and hard must be numbers", i);
		if ((strcmp(hard, "-1") && !strcmp(soft, "-1")) ||
		    (strcmp(soft, "-1") && strcmp(hard, "-1") &&
		     strtoull(soft, NULL, 10) > strtoull(hard, NULL, 10)))
			return oci_fail(err, errlen, "process.rlimits[%zu]: soft above hard", i);
		if (seen & (1u << res))
			return oci_fail(err, errlen, "process.rlimits: %s repeated",
				    json_object_get_string(t));
		seen |= 1u << res;
		snprintf(rec, sizeof(rec), "%d:%s:%s", res, soft, hard);
		oci_rec(r, RUN_REC_RLIMIT, rec);
	}
	return 0;
}

int oci_process_records(struct json_object *proc, bool exec, struct oci_records *r,
			bool *terminal, char *err, size_t errlen)
{
	struct json_object *v, *user;
	bool bad = false;
	char num[32];

	*terminal = false;
	if (!proc || !json_object_is_type(proc, json_type_object))
		return oci_fail(err, errlen, "no \"process\" object");
	v = get(proc, "terminal", json_type_boolean, &bad);
	*terminal = v && json_object_get_boolean(v);
	if (bad)
		return oci_fail(err, errlen, "process.terminal must be true or false");
	if (exec) {
		oci_rec(r, 0, RUN_MAGIC);
		v = get(proc, "args", json_type_array, &bad);
		if (!v || !json_object_array_length(v))
			return oci_fail(err, errlen, "process.args must be a non-empty array of strings");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *s = json_object_array_get_idx(v, i);

			if (!json_object_is_type(s, json_type_string) ||
			    (!i && !json_object_get_string_len(s)))
				return oci_fail(err, errlen, "process.args[%zu] is not a non-empty string", i);
			oci_rec(r, RUN_REC_ARG, json_object_get_string(s));
		}
		v = get(proc, "env", json_type_array, &bad);
		for (size_t i = 0; v && i < json_object_array_length(v); i++) {
			struct json_object *s = json_object_array_get_idx(v, i);
			const char *kv = json_object_is_type(s, json_type_string) ?
					 json_object_get_string(s) : NULL;

			if (!kv || !strchr(kv, '=') || kv[0] == '=')
				return oci_fail(err, errlen, "process.env[%zu] is not \"K=V\"", i);
			oci_rec(r, RUN_REC_ENV, kv);
		}
		v = get(proc, "cwd", json_type_string, &bad);
		if (bad || (v && json_object_get_string(v)[0] != '/'))
			return oci_fail(err, errlen, "process.cwd must be an absolute path");
		oci_rec(r, RUN_REC_CWD, v ? json_object_get_string(v) : "/");
		if (*terminal)
			oci_rec(r, RUN_REC_TTY, "1");
	}
	user = get(proc, "user", json_type_object, &bad);
	if (bad)
		return oci_fail(err, errlen, "process.user must be an object");
	if (exec) {
		struct json_object *u = NULL, *g = NULL;
		int64_t uid = 0, gid = 0;

		if (user && json_object_object_get_ex(user, "uid", &u) &&
		    (uid = get_uint(u, UINT32_MAX - 1)) < 0)
			return oci_fail(err, errlen, "process.user.uid must be a number");
		if (user && json_object_object_get_ex(user, "gid", &g) &&
		    (gid = get_uint(g, UINT32_MAX - 1)) < 0)
			return oci_fail(err, errlen, "process.user.gid must be a number");
		snprintf(num, sizeof(num), "%" PRId64, uid);
		oci_rec(r, RUN_REC_UID, num);
		snprintf(num, sizeof(num), "%" PRId64, gid);
		oci_rec(r, RUN_REC_GID, num);
	}
	v = get(user, "additionalGids", json_type_array, &bad);
	for (size_t i = 0; v && i < json_object_array_length(v); i++) {
		int64_t g = get_uint(json_object_array_get_idx(v, i), UINT32_MAX - 1);

		if (g < 0)
			return oci_fail(err, errlen, "process.user.additionalGids[%zu] is not a gid", i);
		snprintf(num, sizeof(num), "%" PRId64, g);
		oci_rec(r, RUN_REC_GROUPS, num);
	}
	v = get(user, "umask", json_type_int, &bad);
	if (v) {
		int64_t m = get_uint(v, 0777);

		if (m < 0)
			return oci_fail(err, errlen, "process.user.umask must be from 0 to 0777");
		snprintf(num, sizeof(num), "%" PRIo64, m);
		oci_rec(r, RUN_REC_UMASK, num);
	}
	if (bad)
		return oci_fail(err, errlen, "process.user: additionalGids must be an array, umask a number");
	if (rlimits(proc, r, err, errlen))
		return -1;
	v = get(proc, "noNewPrivileges", json_type_boolean, &bad);
	if (bad)
		return oci_fail(err, errlen, "process.noNewPrivileges must be true or false");
	if (v && json_object_get_boolean(v))
		oci_rec(r, RUN_REC_NO_NEW_PRIVS, "1");
	if (oci_caps_records(proc, r, err, errlen))
		return -1;
	return r->oom ? oci_fail(err, errlen, "out of memory") : 0;
}

int oci_linux_records(struct json_object *spec, struct oci_records *r, char *err,
		      size_t errlen)
{
	static const struct {
		const char *key;
		char tag;
	} lists[] = { { "maskedPaths", RUN_REC_MASK }, { "readonlyPaths", RUN_REC_READONLY } };
	bool bad = false;
	struct json_object *linux_ = get(spec, "linux", json_type_object, &bad);

	for (size_t k = 0; k < 2; k++) {
		struct json_object *a = get(linux_, lists[k].key, json_type_array, &bad);

		if (bad)
			return oci_fail(err, errlen, "config.json: linux.%s must be an array", lists[k].key);
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			struct json_object *s = json_object_array_get_idx(a, i);
			const char *p = json_object_is_type(s, json_type_string) ?
					json_object_get_string(s) : NULL;

			if (!p || p[0] != '/' || strlen(p) >= 4096 || strstr(p, "/.."))
				return oci_fail(err, errlen, "config.json: linux.%s[%zu] is not an absolute "
					    "path without \"..\"", lists[k].key, i);
			oci_rec(r, lists[k].tag, p);
		}
	}
	return r->oom ? oci_fail(err, errlen, "out of memory") : 0;
}

int oci_exec_translate_json(const char *json, struct oci_records *r, bool *terminal,
			    char *err, size_t errlen)
{
	enum json_tokener_error jerr;
	struct json_object *proc = json_tokener_parse_verbose(json, &jerr);
	char why[400];
	int ret;

	*terminal = false;
	if (!proc)
		return oci_fail(err, errlen, "process.json: %s", json_tokener_error_desc(jerr));
	ret = oci_process_records(proc, true, r, terminal, why, sizeof(why));
	json_object_put(proc);
	if (ret)
		return oci_fail(err, errlen, "process.json: %s", why);
	if (r->len > RUN_CTL_MAX_PAYLOAD)
		return oci_fail(err, errlen, "process.json: args and env larger than %u bytes",
			    RUN_CTL_MAX_PAYLOAD);
	return 0;
}
