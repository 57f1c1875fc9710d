/* exec by arguments (see the header): the container's process with the options over it. */
#include "vmm/oci/oci_exec_args.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return NULL;
}

/* A decimal id that fits uid_t/gid_t (2^32 - 2: -1 means "unchanged" to the kernel). */
static bool parse_id(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (!len || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 0xfffffffeLL)
		return false;
	*out = v;
	return true;
}

/* env: each "KEY=VALUE" replaces the entry of the same KEY, else is appended. */
static bool set_env(struct json_object *proc, const char *kv)
{
	const char *eq = strchr(kv, '=');
	struct json_object *env;
	size_t klen;

	if (!eq || eq == kv)
		return false;
	klen = (size_t)(eq - kv) + 1;
	if (!json_object_object_get_ex(proc, "env", &env) ||
	    !json_object_is_type(env, json_type_array)) {
		env = json_object_new_array();
		json_object_object_add(proc, "env", env);
	}
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *old = json_object_get_string(json_object_array_get_idx(env, i));

		if (old && !strncmp(old, kv, klen)) {
			json_object_array_put_idx(env, i, json_object_new_string(kv));
			return true;
		}
	}
	json_object_array_add(env, json_object_new_string(kv));
	return true;
}

static const char *set_user(struct json_object *proc, const struct oci_exec_args *a)
{
	struct json_object *user;
	int64_t uid, gid;

	if (!json_object_object_get_ex(proc, "user", &user) ||
	    !json_object_is_type(user, json_type_object)) {
		user = json_object_new_object();
		json_object_object_add(proc, "user", user);
	}
	if (a->user) {
		const char *colon = strchr(a->user, ':');
		size_t ulen = colon ? (size_t)(colon - a->user) : strlen(a->user);

		/* names would need the rootfs's /etc/passwd: runc resolves them in the
		 * container, which here is the guest */
		if (!parse_id(a->user, ulen, &uid) ||
		    (colon && !parse_id(colon + 1, strlen(colon + 1), &gid)))
			return "--user: give UID or UID:GID as numbers";
		json_object_object_add(user, "uid", json_object_new_int64(uid));
		/* runc: a uid alone means gid 0 */
		json_object_object_add(user, "gid", json_object_new_int64(colon ? gid : 0));
	}
	if (a->ngids) {
		struct json_object *g = json_object_new_array();

		json_object_object_add(user, "additionalGids", g);
		for (int i = 0; i < a->ngids; i++) {
			if (!parse_id(a->gids[i], strlen(a->gids[i]), &gid))
				return "--additional-gids: not a number";
			json_object_array_add(g, json_object_new_int64(gid));
		}
	}
	return NULL;
}

char *oci_exec_args_json(const char *config, const struct oci_exec_args *a, char *err,
			 size_t errlen)
{
	enum json_tokener_error jerr;
	struct json_object *spec = json_tokener_parse_verbose(config, &jerr), *proc, *args;
	const char *why;
	char *out;

	if (!spec)
		return fail(err, errlen, "config.json: %s", json_tokener_error_desc(jerr));
	if (!json_object_is_type(spec, json_type_object)) {
		json_object_put(spec);
		return fail(err, errlen, "config.json: not a JSON object");
	}
	if (a->argc <= 0) {
		json_object_put(spec);
		return fail(err, errlen, "exec: no command");
	}
	/* the container's process, taken out of the spec (a new one if it has none) */
	if (json_object_object_get_ex(spec, "process", &proc) &&
	    json_object_is_type(proc, json_type_object))
		json_object_get(proc);
	else
		proc = json_object_new_object();
	json_object_put(spec);

	args = json_object_new_array();
	for (int i = 0; i < a->argc; i++)
		json_object_array_add(args, json_object_new_string(a->argv[i]));
	json_object_object_add(proc, "args", args);
	for (int i = 0; i < a->nenv; i++) {
		if (!set_env(proc, a->env[i])) {
			json_object_put(proc);
			return fail(err, errlen, "--env %s: not KEY=VALUE", a->env[i]);
		}
	}
	if (a->cwd) {
		if (a->cwd[0] != '/') {
			json_object_put(proc);
			return fail(err, errlen, "--cwd %s: not an absolute path", a->cwd);
		}
		json_object_object_add(proc, "cwd", json_object_new_string(a->cwd));
	}
	if ((why = set_user(proc, a))) {
		json_object_put(proc);
		return fail(err, errlen, "%s", why);
	}
	json_object_object_add(proc, "terminal", json_object_new_boolean(a->tty));
	if (a->no_new_privs)
		json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(1));
	out = strdup(json_object_to_json_string_ext(proc, JSON_C_TO_STRING_PLAIN));
	json_object_put(proc);
	return out ? out : fail(err, errlen, "out of memory");
}
