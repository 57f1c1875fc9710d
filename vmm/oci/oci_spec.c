/*
 * config.json -> `nook run` options. Every value of the spec is checked here, the one
 * place that reads it: a bundle is written by podman, but a bad one must end in one clear
 * error before anything starts, never in a half-started VM.
 */
#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_seccomp.h"
#include "vmm/config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OCI_DEFAULT_CPUS	1
#define OCI_DEFAULT_MEMORY	"512M"
#define OCI_MAX_CPUS		254
#define OCI_MIN_MEMORY_MIB	128	/* below this the guest kernel and init do not fit */

int oci_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int oci_argv_push(struct oci_argv *a, const char *s)
{
	if (a->argc + 2 > a->cap) {
		int cap = a->cap ? a->cap * 2 : 32;
		char **n = realloc(a->argv, (size_t)cap * sizeof(*n));

		if (!n)
			return -1;
		a->argv = n;
		a->cap = cap;
	}
	a->argv[a->argc] = strdup(s);
	if (!a->argv[a->argc])
		return -1;
	a->argv[++a->argc] = NULL;
	return 0;
}

void oci_argv_free(struct oci_argv *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	memset(a, 0, sizeof(*a));
}

void oci_plan_free(struct oci_plan *p)
{
	oci_argv_free(&p->args);
	oci_records_free(&p->records);
	free(p->annotations);
	free(p->rootfs);
	for (int i = 0; i < p->nr_binds; i++) {
		free(p->binds[i].src);
		free(p->binds[i].dst);
	}
	memset(p, 0, sizeof(*p));
}

static int push2(struct oci_argv *a, const char *opt, const char *val)
{
	return oci_argv_push(a, opt) || oci_argv_push(a, val) ? -1 : 0;
}

/* obj.key when it is of type t; NULL when absent. *bad set when present with another type. */
static struct json_object *get_typed(struct json_object *obj, const char *key,
				     enum json_type t, bool *bad)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, t)) {
		*bad = true;
		return NULL;
	}
	return v;
}

/* A non-negative 32-bit id (uid/gid), or -1. */
static int64_t get_id(struct json_object *v)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	n = json_object_get_int64(v);
	return (errno || n < 0 || n > UINT32_MAX) ? -1 : n;
}

static int spec_process(struct json_object *proc, struct oci_plan *p, struct oci_argv *cmd,
			char *err, size_t errlen)
{
	struct oci_argv *a = &p->args;
	struct json_object *v, *user;
	bool bad = false;
	char buf[64];

	if (!proc)
		return oci_fail(err, errlen, "config.json: no \"process\"");
	v = get_typed(proc, "terminal", json_type_boolean, &bad);
	p->terminal = v && json_object_get_boolean(v);

	v = get_typed(proc, "args", json_type_array, &bad);
	if (bad || !v || json_object_array_length(v) == 0)
		return oci_fail(err, errlen, "config.json: process.args must be a non-empty array of strings");
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *s = json_object_array_get_idx(v, i);

		if (!json_object_is_type(s, json_type_string))
			return oci_fail(err, errlen, "config.json: process.args[%zu] is not a string", i);
		if (oci_argv_push(cmd, json_object_get_string(s)))
			return oci_fail(err, errlen, "out of memory");
	}
	if (!cmd->argv[0][0])
		return oci_fail(err, errlen, "config.json: process.args[0] is empty");

	v = get_typed(proc, "env", json_type_array, &bad);
	if (bad)
		return oci_fail(err, errlen, "config.json: process.env must be an array of \"K=V\" strings");
	for (size_t i = 0; v && i < json_object_array_length(v); i++) {
		struct json_object *s = json_object_array_get_idx(v, i);
		const char *kv = json_object_is_type(s, json_type_string) ? json_object_get_string(s) : NULL;

		/* nook run's "-e K" (no '=') would copy the host's value: never from a spec. */
		if (!kv || !strchr(kv, '=') || kv[0] == '=')
			return oci_fail(err, errlen, "config.json: process.env[%zu] is not \"K=V\"", i);
		if (push2(a, "-e", kv))
			return oci_fail(err, errlen, "out of memory");
	}

	v = get_typed(proc, "cwd", json_type_string, &bad);
	if (bad || (v && json_object_get_string(v)[0] != '/'))
		return oci_fail(err, errlen, "config.json: process.cwd must be an absolute path");
	if (push2(a, "--cwd", v ? json_object_get_string(v) : "/"))
		return oci_fail(err, errlen, "out of memory");

	user = get_typed(proc, "user", json_type_object, &bad);
	if (bad)
		return oci_fail(err, errlen, "config.json: process.user must be an object");
	if (user) {
		struct json_object *u = NULL, *g = NULL;
		int64_t uid = 0, gid = 0;

		if (json_object_object_get_ex(user, "uid", &u) && (uid = get_id(u)) < 0)
			return oci_fail(err, errlen, "config.json: process.user.uid must be a number from 0 to %u", UINT32_MAX);
		if (json_object_object_get_ex(user, "gid", &g) && (gid = get_id(g)) < 0)
			return oci_fail(err, errlen, "config.json: process.user.gid must be a number from 0 to %u", UINT32_MAX);
		snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64, uid, gid);
		if (push2(a, "--user", buf))
			return oci_fail(err, errlen, "out of memory");
	}
	return 0;
}

/* True when the path exists on the host and is a directory. */
static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int spec_root(struct json_object *spec, const char *bundle, struct oci_plan *p,
		     char *err, size_t errlen)
{
	struct json_object *root, *v;
	bool bad = false, ro = false;
	char path[PATH_MAX], *abs;
	const char *rp;

	root = get_typed(spec, "root", json_type_object, &bad);
	v = get_typed(root, "path", json_type_string, &bad);
	if (bad || !v)
		return oci_fail(err, errlen, "config.json: root.path missing or not a string");
	rp = json_object_get_string(v);
	if (rp[0] == '/')
		snprintf(path, sizeof(path), "%s", rp);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s", bundle, rp) >= sizeof(path))
		return oci_fail(err, errlen, "config.json: root.path too long");
	abs = realpath(path, NULL);
	if (!abs)
		return oci_fail(err, errlen, "rootfs %s: %s", path, strerror(errno));
	if (!is_dir(abs) || strchr(abs, ',')) {
		/* nook's --root takes "PATH[,OPTIONS]": a comma in the path would be read as
		 * an option, so such a rootfs is refused rather than served wrongly. */
		oci_fail(err, errlen, "rootfs %s: %s", abs,
			 strchr(abs, ',') ? "a path with ',' cannot be shared" : strerror(ENOTDIR));
		free(abs);
		return -1;
	}
	p->rootfs = abs;
	v = get_typed(root, "readonly", json_type_boolean, &bad);
	ro = v && json_object_get_boolean(v);
	snprintf(path, sizeof(path), "%s%s", abs, ro ? ",ro" : "");
	if (push2(&p->args, "--root", path))
		return oci_fail(err, errlen, "out of memory");
	return 0;
}

/* Options of a mount: "ro" makes a bind read-only; everything else nook ignores. */
static bool mount_ro(struct json_object *m)
{
	struct json_object *opts;
	bool ro = false;

	if (!json_object_object_get_ex(m, "options", &opts) || !json_object_is_type(opts, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(opts); i++) {
		const char *o = json_object_get_string(json_object_array_get_idx(opts, i));

		if (o && !strcmp(o, "ro"))
			ro = true;
		else if (o && !strcmp(o, "rw"))
			ro = false;
	}
	return ro;
}

static bool is_bind(struct json_object *m, const char *type)
{
	struct json_object *opts;

	if (type && !strcmp(type, "bind"))
		return true;
	if (!json_object_object_get_ex(m, "options", &opts) || !json_object_is_type(opts, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(opts); i++) {
		const char *o = json_object_get_string(json_object_array_get_idx(opts, i));

		if (o && (!strcmp(o, "bind") || !strcmp(o, "rbind")))
			return true;
	}
	return false;
}

/*
 * mounts[]: binds become host bind mounts over the rootfs (made by the create child in
 * its own mount namespace). The kernel file systems (proc, sysfs, devpts, tmpfs, mqueue,
 * cgroup) are mounted by the guest init itself at its fixed places, so they are accepted
 * and skipped here; any other type is refused rather than silently left out.
 */
static int spec_mounts(struct json_object *spec, struct oci_plan *p, char *err, size_t errlen)
{
	static const char *const kernel_fs[] = { "proc", "sysfs", "devpts", "tmpfs", "mqueue",
						 "cgroup", "cgroup2", "shm", NULL };
	struct json_object *mounts;
	bool bad = false;

	mounts = get_typed(spec, "mounts", json_type_array, &bad);
	if (bad)
		return oci_fail(err, errlen, "config.json: mounts must be an array");
	for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i), *v;
		const char *type = NULL, *dst, *src = NULL;
		bool known = false;

		if (!json_object_is_type(m, json_type_object))
			return oci_fail(err, errlen, "config.json: mounts[%zu] is not an object", i);
		v = get_typed(m, "destination", json_type_string, &bad);
		if (bad || !v || json_object_get_string(v)[0] != '/')
			return oci_fail(err, errlen, "config.json: mounts[%zu].destination must be an absolute path", i);
		dst = json_object_get_string(v);
		if (strstr(dst, "/../") || (strlen(dst) >= 3 && !strcmp(dst + strlen(dst) - 3, "/..")))
			return oci_fail(err, errlen, "config.json: mounts[%zu].destination %s: no \"..\" allowed", i, dst);
		if ((v = get_typed(m, "type", json_type_string, &bad)))
			type = json_object_get_string(v);
		if ((v = get_typed(m, "source", json_type_string, &bad)))
			src = json_object_get_string(v);
		if (bad)
			return oci_fail(err, errlen, "config.json: mounts[%zu]: type and source must be strings", i);
		if (is_bind(m, type)) {
			struct oci_bind *b;

			if (!src || src[0] != '/')
				return oci_fail(err, errlen, "config.json: mounts[%zu] (%s): bind source must be an absolute path", i, dst);
			if (p->nr_binds == OCI_MAX_BINDS)
				return oci_fail(err, errlen, "config.json: at most %d bind mounts", OCI_MAX_BINDS);
			b = &p->binds[p->nr_binds];
			b->src = strdup(src);
			b->dst = strdup(dst);
			if (!b->src || !b->dst) {
				free(b->src);
				free(b->dst);
				return oci_fail(err, errlen, "out of memory");
			}
			b->ro = mount_ro(m);
			p->nr_binds++;
			continue;
		}
		for (int k = 0; kernel_fs[k] && type; k++)
			known |= !strcmp(type, kernel_fs[k]);
		if (!known)
			return oci_fail(err, errlen, "config.json: mounts[%zu] (%s): type %s is not supported in a VM",
					i, dst, type ? type : "(none)");
	}
	return 0;
}

/* A size for nook's --memory, in MiB (0 when invalid): nook's own parser. */
static int64_t size_mib(const char *s)
{
	uint64_t bytes;

	if (cli_parse_size(s, &bytes) || (bytes >> 20) > INT32_MAX)
		return 0;
	return (int64_t)(bytes >> 20);
}

/*
 * vCPUs and RAM: the annotations nook.cpus / nook.memory win, then linux.resources (the
 * CPU quota rounded up to whole vCPUs, the memory limit minus the VMM's headroom as guest
 * RAM), else the defaults. The limits themselves go to the VMM's cgroup (oci_cgroup.c):
 * the memory limit covers the guest RAM plus OCI_CGROUP_HEADROOM_MIB of VMM overhead, so
 * a limit below the smallest guest plus that headroom is an error, never a VM that the
 * OOM killer ends at boot.
 */
static int spec_resources(struct json_object *spec, struct oci_plan *p, char *err, size_t errlen)
{
	struct json_object *ann, *linux_, *res, *cpu, *mem, *v;
	char cpus[16], memory[32];
	int64_t limit_mib = 0;
	bool bad = false;

	snprintf(cpus, sizeof(cpus), "%d", OCI_DEFAULT_CPUS);
	snprintf(memory, sizeof(memory), "%s", OCI_DEFAULT_MEMORY);

	linux_ = get_typed(spec, "linux", json_type_object, &bad);
	if ((v = get_typed(linux_, "cgroupsPath", json_type_string, &bad)) &&
	    oci_cgroup_parse_path(json_object_get_string(v), &p->cgroup, err, errlen))
		return -1;
	res = get_typed(linux_, "resources", json_type_object, &bad);
	cpu = get_typed(res, "cpu", json_type_object, &bad);
	mem = get_typed(res, "memory", json_type_object, &bad);
	if ((v = get_typed(cpu, "quota", json_type_int, &bad)) && json_object_get_int64(v) > 0) {
		struct json_object *per = get_typed(cpu, "period", json_type_int, &bad);
		int64_t q = json_object_get_int64(v), pd = per ? json_object_get_int64(per) : 100000;
		int64_t n;

		if (pd <= 0)
			pd = 100000;
		n = (q + pd - 1) / pd;
		snprintf(cpus, sizeof(cpus), "%" PRId64, n < 1 ? 1 : n > OCI_MAX_CPUS ? OCI_MAX_CPUS : n);
		p->cgroup.cpu_quota = q;
		p->cgroup.cpu_period = pd;
	}
	if ((v = get_typed(mem, "limit", json_type_int, &bad)) && json_object_get_int64(v) > 0) {
		limit_mib = json_object_get_int64(v) >> 20;
		if (limit_mib < OCI_MIN_MEMORY_MIB + OCI_CGROUP_HEADROOM_MIB)
			return oci_fail(err, errlen,
					"memory limit %" PRId64 " MiB: a VM needs at least %d MiB (%d MiB guest + %d MiB VMM headroom)",
					limit_mib, OCI_MIN_MEMORY_MIB + OCI_CGROUP_HEADROOM_MIB,
					OCI_MIN_MEMORY_MIB, OCI_CGROUP_HEADROOM_MIB);
		p->cgroup.mem_limit = json_object_get_int64(v);
		snprintf(memory, sizeof(memory), "%" PRId64 "M", limit_mib - OCI_CGROUP_HEADROOM_MIB);
	}
	/* A limit of the wrong type is an error, never silently no limit. */
	if (bad)
		return oci_fail(err, errlen, "config.json: a field of linux.resources (or linux itself) has the wrong type");
	ann = get_typed(spec, "annotations", json_type_object, &bad);
	if ((v = get_typed(ann, "nook.cpus", json_type_string, &bad))) {
		char *end;
		long n = strtol(json_object_get_string(v), &end, 10);

		if (*end || n < 1 || n > OCI_MAX_CPUS)
			return oci_fail(err, errlen, "annotation nook.cpus=%s: expected 1 to %d",
					json_object_get_string(v), OCI_MAX_CPUS);
		snprintf(cpus, sizeof(cpus), "%ld", n);
	}
	if ((v = get_typed(ann, "nook.memory", json_type_string, &bad))) {
		int64_t mib = size_mib(json_object_get_string(v));

		if (mib <= 0)
			return oci_fail(err, errlen, "annotation nook.memory=%s: expected a size like 512M or 1G",
					json_object_get_string(v));
		if (limit_mib && mib + OCI_CGROUP_HEADROOM_MIB > limit_mib)
			return oci_fail(err, errlen,
					"annotation nook.memory=%s does not fit the memory limit of %" PRId64 " MiB (%d MiB VMM headroom)",
					json_object_get_string(v), limit_mib, OCI_CGROUP_HEADROOM_MIB);
		snprintf(memory, sizeof(memory), "%s", json_object_get_string(v));
	}
	if (bad)
		return oci_fail(err, errlen, "config.json: annotations must be strings");
	p->annotations = strdup(ann ? json_object_to_json_string_ext(ann, JSON_C_TO_STRING_PLAIN) : "{}");
	if (!p->annotations)
		return oci_fail(err, errlen, "out of memory");
	if (push2(&p->args, "--cpus", cpus) || push2(&p->args, "--memory", memory))
		return oci_fail(err, errlen, "out of memory");
	return 0;
}

int oci_spec_translate_json(const char *json, const char *bundle, struct oci_plan *out,
			    char *err, size_t errlen)
{
	enum json_tokener_error jerr;
	struct json_object *spec, *v;
	struct oci_argv cmd = { 0 };
	bool bad = false;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	spec = json_tokener_parse_verbose(json, &jerr);
	if (!spec || !json_object_is_type(spec, json_type_object)) {
		oci_fail(err, errlen, "config.json: %s", spec ? "not a JSON object" : json_tokener_error_desc(jerr));
		goto out;
	}
	/* argv[0] and the verb of the VMM's command line: `nook run OPTIONS -- CMD`. */
	if (oci_argv_push(&out->args, "nook") || oci_argv_push(&out->args, "run"))
		goto oom;
	if (spec_root(spec, bundle, out, err, errlen) ||
	    spec_process(get_typed(spec, "process", json_type_object, &bad), out, &cmd, err, errlen) ||
	    spec_mounts(spec, out, err, errlen) || spec_resources(spec, out, err, errlen))
		goto out;
	{
		char why[400];
		bool terminal;

		if (oci_process_records(get_typed(spec, "process", json_type_object, &bad), false,
					&out->records, &terminal, why, sizeof(why))) {
			oci_fail(err, errlen, "config.json: %s", why);
			goto out;
		}
		if (oci_linux_records(spec, &out->records, err, errlen) ||
		    oci_seccomp_records(spec, &out->records, err, errlen))
			goto out;
	}
	v = get_typed(spec, "hostname", json_type_string, &bad);
	if (v && json_object_get_string_len(v) > 0) {
		if (json_object_get_string_len(v) > 64) {
			oci_fail(err, errlen, "config.json: hostname longer than 64 bytes");
			goto out;
		}
		if (push2(&out->args, "--hostname", json_object_get_string(v)))
			goto oom;
	}
	/* The command last, after "--": nook's options stop there. */
	if (oci_argv_push(&out->args, "--"))
		goto oom;
	for (int i = 0; i < cmd.argc; i++)
		if (oci_argv_push(&out->args, cmd.argv[i]))
			goto oom;
	ret = 0;
	goto out;
oom:
	oci_fail(err, errlen, "out of memory");
out:
	oci_argv_free(&cmd);
	json_object_put(spec);
	if (ret)
		oci_plan_free(out);
	return ret;
}

int oci_spec_translate(const char *bundle, struct oci_plan *out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	FILE *f;
	char *buf;
	long n;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!is_dir(bundle))
		return oci_fail(err, errlen, "bundle %s: not a directory", bundle);
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", bundle) >= sizeof(path))
		return oci_fail(err, errlen, "bundle %s: path too long", bundle);
	f = fopen(path, "re");
	if (!f)
		return oci_fail(err, errlen, "%s: %s", path, strerror(errno));
	/* A spec is a few KiB; 16 MiB bounds what we read from a file we did not write. */
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (16 << 20) || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return oci_fail(err, errlen, "%s: unreadable or larger than 16 MiB", path);
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return oci_fail(err, errlen, "%s: read failed", path);
	}
	buf[n] = 0;
	fclose(f);
	ret = oci_spec_translate_json(buf, bundle, out, err, errlen);
	free(buf);
	return ret;
}
