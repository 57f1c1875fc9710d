/* linux.seccomp -> RUN_REC_SECCOMP (vmm/oci/oci_seccomp.c). */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vmm/oci/oci_seccomp.h"
#include "vmm/run_proto.h"

static int compile(const char *seccomp_json, struct oci_records *r, char *err)
{
	char json[4096];
	struct json_object *spec;
	int ret;

	snprintf(json, sizeof(json), "{\"linux\":{\"seccomp\":%s}}", seccomp_json);
	spec = json_tokener_parse(json);
	cr_assert_not_null(spec, "%s", json);
	memset(r, 0, sizeof(*r));
	ret = oci_seccomp_records(spec, r, err, 256);
	json_object_put(spec);
	return ret;
}

/* A tiny profile denying mkdir with EPERM: one record of whole instructions in hex. */
Test(oci_seccomp, tiny_profile)
{
	struct oci_records r;
	char err[256] = "";
	size_t n;

	cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
			     "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\",\"no_such_call\"],"
			     "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}", &r, err), 0, "%s", err);
	cr_assert_gt(r.len, 2);
	cr_assert_eq(r.data[0], RUN_REC_SECCOMP);
	n = strlen(r.data + 1);
	cr_assert_eq(r.len, n + 2, "one record");
	cr_assert_eq(n % 16, 0);
	cr_assert_eq(strspn(r.data + 1, "0123456789abcdef"), n);
	cr_assert_leq(n / 2, RUN_SECCOMP_MAX_BPF);
	oci_records_free(&r);
}

/* Arguments, a default errno, every honoured action. */
Test(oci_seccomp, args_and_actions)
{
	struct oci_records r;
	char err[256] = "";

	cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":["
			     "{\"names\":[\"read\",\"write\",\"exit_group\"],\"action\":\"SCMP_ACT_ALLOW\"},"
			     "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
			     "\"value\":0,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
			     "{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
			     "{\"names\":[\"tkill\"],\"action\":\"SCMP_ACT_TRAP\"},"
			     "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_LOG\"}]}", &r, err), 0, "%s", err);
	oci_records_free(&r);
}

/* No profile: no record. NOTIFY and bad shapes: one clear error. */
Test(oci_seccomp, absent_and_bad)
{
	struct oci_records r = { 0 };
	struct json_object *spec = json_tokener_parse("{\"linux\":{}}");
	char err[256] = "";

	cr_assert_eq(oci_seccomp_records(spec, &r, err, sizeof(err)), 0);
	cr_assert_eq(r.len, 0);
	json_object_put(spec);
	cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", &r, err), -1);
	cr_assert(strstr(err, "SCMP_ACT_NOTIFY is not supported"), "%s", err);
	cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
			     "\"action\":\"SCMP_ACT_NOTIFY\"}]}", &r, err), -1);
	cr_assert(strstr(err, "syscalls[0]: action SCMP_ACT_NOTIFY"), "%s", err);
	cr_assert_eq(compile("{\"syscalls\":[]}", &r, err), -1);
	cr_assert(strstr(err, "defaultAction missing"), "%s", err);
	cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
			     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":9,\"op\":\"SCMP_CMP_EQ\"}]}]}",
			     &r, err), -1);
	cr_assert(strstr(err, "bad comparison"), "%s", err);
}

/* podman's own default profile compiles and fits an exec frame. */
Test(oci_seccomp, podman_default_profile)
{
	FILE *f = fopen("/usr/share/containers/seccomp.json", "r");
	struct json_object *spec, *prof;
	struct oci_records r = { 0 };
	char err[256] = "";

	if (!f)
		cr_skip_test("no /usr/share/containers/seccomp.json");
	fclose(f);
	prof = json_object_from_file("/usr/share/containers/seccomp.json");
	cr_assert_not_null(prof);
	spec = json_object_new_object();
	json_object_object_add(spec, "linux", json_object_new_object());
	json_object_object_add(json_object_object_get(spec, "linux"), "seccomp", prof);
	cr_assert_eq(oci_seccomp_records(spec, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_lt(r.len, RUN_CTL_MAX_PAYLOAD / 2);
	cr_log_info("podman's default profile: %zu BPF bytes", (r.len - 2) / 2);
	oci_records_free(&r);
	json_object_put(spec);
}

/* The exported program does what the profile says: a child that installs it (after
 * no_new_privs, as the guest init does) gets EPERM from mkdir and nothing else changes. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Test(oci_seccomp, program_denies_mkdir)
{
	static struct sock_filter prog[RUN_SECCOMP_MAX_BPF / sizeof(struct sock_filter)];
	struct oci_records r;
	char err[256] = "", dir[64];
	unsigned char *out = (unsigned char *)prog;
	size_t n;
	int status;
	pid_t pid;

	cr_assert_eq(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			     "[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}",
			     &r, err), 0, "%s", err);
	n = strlen(r.data + 1) / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(r.data + 1 + 2 * i, "%2hhx", &out[i]);
	oci_records_free(&r);
	snprintf(dir, sizeof(dir), "/tmp/oci-sc-%d", (int)getpid());
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sock_fprog fp = { (unsigned short)(n / 8), prog };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0))
			_exit(2);
		_exit(mkdir(dir, 0700) == -1 && errno == EPERM && getpid() > 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_assert_neq(access(dir, F_OK), 0, "mkdir went through");
}
