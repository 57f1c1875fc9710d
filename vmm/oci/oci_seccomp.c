/* linux.seccomp -> a BPF program in a RUN_REC_SECCOMP record (vmm/oci/oci_seccomp.h). */
#include "vmm/oci/oci_seccomp.h"

#include <errno.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/run_proto.h"

#define SC_MAX_BPF	RUN_SECCOMP_MAX_BPF

static int sfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static struct json_object *field(struct json_object *o, const char *k)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* An action name of the spec (+ its errno) as libseccomp's. -1: not honoured. */
static int sc_action(const char *name, struct json_object *errno_ret, int default_errno,
		     uint32_t *act)
{
	int e = errno_ret && json_object_is_type(errno_ret, json_type_int) ?
		json_object_get_int(errno_ret) : default_errno;

	if (!strcmp(name, "SCMP_ACT_ALLOW"))
		*act = SCMP_ACT_ALLOW;
	else if (!strcmp(name, "SCMP_ACT_ERRNO"))
		*act = SCMP_ACT_ERRNO((uint16_t)(e >= 0 && e < 4096 ? e : EPERM));
	else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
		*act = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
		*act = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(name, "SCMP_ACT_TRAP"))
		*act = SCMP_ACT_TRAP;
	else if (!strcmp(name, "SCMP_ACT_LOG"))
		*act = SCMP_ACT_LOG;
	else if (!strcmp(name, "SCMP_ACT_TRACE"))
		*act = SCMP_ACT_TRACE((uint16_t)(e >= 0 ? e : 0));
	else
		return -1;	/* SCMP_ACT_NOTIFY (no agent in a VM) and unknown ones */
	return 0;
}

static int sc_op(const char *op, enum scmp_compare *out)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = { { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		    { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
		    { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		    { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ } };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i].name)) {
			*out = ops[i].op;
			return 0;
		}
	return -1;
}

/* One syscalls[] entry: every known name gets the rule (with its arg comparisons). */
static int sc_rule(scmp_filter_ctx ctx, struct json_object *sc, size_t idx, uint32_t def_act,
		   int def_errno, char *err, size_t errlen)
{
	struct json_object *names = field(sc, "names"), *action = field(sc, "action");
	struct json_object *args = field(sc, "args");
	struct scmp_arg_cmp cmp[6];
	unsigned int ncmp = 0;
	uint32_t act;

	if (!json_object_is_type(names, json_type_array) || !json_object_is_type(action, json_type_string))
		return sfail(err, errlen, "linux.seccomp.syscalls[%zu]: names (array) and action needed", idx);
	if (sc_action(json_object_get_string(action), field(sc, "errnoRet"), def_errno, &act))
		return sfail(err, errlen, "linux.seccomp.syscalls[%zu]: action %s is not supported in a VM",
			     idx, json_object_get_string(action));
	if (act == def_act)
		return 0;	/* libseccomp refuses a rule equal to the default; it is a no-op */
	for (size_t i = 0; args && json_object_is_type(args, json_type_array) &&
			   i < json_object_array_length(args); i++) {
		struct json_object *a = json_object_array_get_idx(args, i);
		struct json_object *op = field(a, "op"), *index = field(a, "index");
		enum scmp_compare c;

		if (ncmp == 6 || !json_object_is_type(op, json_type_string) || sc_op(json_object_get_string(op), &c) ||
		    !index || json_object_get_int(index) < 0 || json_object_get_int(index) > 5)
			return sfail(err, errlen, "linux.seccomp.syscalls[%zu].args[%zu]: bad comparison", idx, i);
		cmp[ncmp].arg = (unsigned int)json_object_get_int(index);
		cmp[ncmp].op = c;
		cmp[ncmp].datum_a = (scmp_datum_t)json_object_get_uint64(field(a, "value"));
		cmp[ncmp].datum_b = (scmp_datum_t)json_object_get_uint64(field(a, "valueTwo"));
		ncmp++;
	}
	for (size_t i = 0; i < json_object_array_length(names); i++) {
		struct json_object *n = json_object_array_get_idx(names, i);
		int nr;

		if (!json_object_is_type(n, json_type_string))
			return sfail(err, errlen, "linux.seccomp.syscalls[%zu].names[%zu] is not a string", idx, i);
		nr = seccomp_syscall_resolve_name(json_object_get_string(n));
		if (nr == __NR_SCMP_ERROR)
			continue;	/* unknown on x86-64: skipped, as runc does */
		/* Same-argument rules on one syscall are ORed by libseccomp; a conflicting
		 * one (e.g. a different action for an arg-less rule) is skipped, not fatal. */
		if (seccomp_rule_add_array(ctx, act, nr, ncmp, cmp) && ncmp == 0)
			continue;
	}
	return 0;
}

int oci_seccomp_records(struct json_object *spec, struct oci_records *r, char *err, size_t errlen)
{
	struct json_object *sec = field(field(spec, "linux"), "seccomp");
	struct json_object *def = field(sec, "defaultAction"), *calls = field(sec, "syscalls");
	scmp_filter_ctx ctx = NULL;
	uint32_t def_act;
	int def_errno, fd = -1, ret = -1;
	char *bpf = NULL, *hex = NULL;
	off_t n;

	if (!sec || json_object_is_type(sec, json_type_null))
		return 0;
	if (!json_object_is_type(def, json_type_string))
		return sfail(err, errlen, "linux.seccomp.defaultAction missing");
	def_errno = field(sec, "defaultErrnoRet") ? json_object_get_int(field(sec, "defaultErrnoRet")) : EPERM;
	if (sc_action(json_object_get_string(def), field(sec, "defaultErrnoRet"), EPERM, &def_act))
		return sfail(err, errlen, "linux.seccomp.defaultAction %s is not supported in a VM",
			     json_object_get_string(def));
	ctx = seccomp_init(def_act);
	if (!ctx)
		return sfail(err, errlen, "linux.seccomp: libseccomp init failed");
	/* The guest is x86-64 whatever the spec's architectures list says; other ABIs
	 * (x32, i386) are not added, so their calls take the kernel's bad-arch path. */
	for (size_t i = 0; calls && json_object_is_type(calls, json_type_array) &&
			   i < json_object_array_length(calls); i++)
		if (sc_rule(ctx, json_object_array_get_idx(calls, i), i, def_act, def_errno, err, errlen))
			goto out;
	fd = memfd_create("nook-oci-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) || (n = lseek(fd, 0, SEEK_END)) <= 0 ||
	    n > SC_MAX_BPF || n % 8) {
		sfail(err, errlen, "linux.seccomp: cannot compile the profile (or larger than %d bytes)", SC_MAX_BPF);
		goto out;
	}
	bpf = malloc((size_t)n);
	hex = malloc((size_t)n * 2 + 3);
	if (!bpf || !hex || pread(fd, bpf, (size_t)n, 0) != n) {
		sfail(err, errlen, "linux.seccomp: out of memory");
		goto out;
	}
	for (off_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)bpf[i]);
	oci_rec(r, RUN_REC_SECCOMP, hex);
	ret = r->oom ? sfail(err, errlen, "out of memory") : 0;
out:
	if (fd >= 0)
		close(fd);
	free(bpf);
	free(hex);
	seccomp_release(ctx);
	return ret;
}
