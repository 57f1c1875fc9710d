/* exec by arguments (vmm/oci/oci_exec_args.c): the container's process with the
 * options over it, as far as the run request the guest gets. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/oci/oci_exec_args.h"
#include "vmm/oci/oci_process.h"

static const char config[] =
	"{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":true,\"user\":{\"uid\":5,\"gid\":6},"
	"\"args\":[\"sh\"],\"env\":[\"PATH=/bin\",\"HOME=/root\"],\"cwd\":\"/\","
	"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":4096,\"soft\":1024}]},"
	"\"root\":{\"path\":\"rootfs\"}}";

/* The records of the exec request, NULs shown as '|'. */
static const char *records(const struct oci_exec_args *a, char *err, size_t errlen)
{
	static char buf[4096];
	struct oci_records r = { 0 };
	char *json = oci_exec_args_json(config, a, err, errlen);
	bool tty;

	if (!json)
		return NULL;
	cr_assert_eq(oci_exec_translate_json(json, &r, &tty, err, errlen), 0, "%s", err);
	free(json);
	cr_assert_lt(r.len, sizeof(buf));
	memcpy(buf, r.data, r.len);
	for (size_t i = 0; i < r.len; i++)
		if (!buf[i])
			buf[i] = '|';
	buf[r.len] = 0;
	oci_records_free(&r);
	return buf;
}

Test(oci_exec_args, defaults_come_from_the_container)
{
	char *argv[] = { "uname", "-r" };
	struct oci_exec_args a = { .argv = argv, .argc = 2 };
	char err[256];
	const char *r = records(&a, err, sizeof(err));

	cr_assert_not_null(r, "%s", err);
	/* the config's env, cwd, user and rlimits; no terminal without --tty */
	cr_assert_str_eq(r, "NOOKRUN1|auname|a-r|ePATH=/bin|eHOME=/root|c/|u5|g6|r7:1024:4096|");
}

Test(oci_exec_args, options_override)
{
	char *argv[] = { "id" };
	const char *env[] = { "HOME=/tmp", "FOO=bar" }, *gids[] = { "10", "11" };
	struct oci_exec_args a = { .argv = argv, .argc = 1, .env = env, .nenv = 2,
				   .gids = gids, .ngids = 2, .cwd = "/tmp", .user = "1000",
				   .tty = true, .no_new_privs = true };
	char err[256];
	const char *r = records(&a, err, sizeof(err));

	cr_assert_not_null(r, "%s", err);
	/* HOME replaced in place, FOO added; a uid alone means gid 0, as in runc */
	cr_assert_str_eq(r, "NOOKRUN1|aid|ePATH=/bin|eHOME=/tmp|eFOO=bar|c/tmp|t1|u1000|g0|"
			    "G10|G11|r7:1024:4096|n1|");
	a.user = "7:8";
	r = records(&a, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	cr_assert(strstr(r, "|u7|g8|"), "%s", r);
}

Test(oci_exec_args, bad_options_one_line_each)
{
	char *argv[] = { "id" };
	const char *env[] = { "NOEQUALS" }, *gids[] = { "x" };
	struct oci_exec_args a = { .argv = argv, .argc = 1 };
	char err[256];

	a.user = "root";
	cr_assert_null(oci_exec_args_json(config, &a, err, sizeof(err)));
	cr_assert(strstr(err, "--user"), "%s", err);
	a.user = "1:99999999999";
	cr_assert_null(oci_exec_args_json(config, &a, err, sizeof(err)));
	a.user = NULL;
	a.env = env;
	a.nenv = 1;
	cr_assert_null(oci_exec_args_json(config, &a, err, sizeof(err)));
	cr_assert(strstr(err, "--env NOEQUALS"), "%s", err);
	a.nenv = 0;
	a.cwd = "rel";
	cr_assert_null(oci_exec_args_json(config, &a, err, sizeof(err)));
	cr_assert(strstr(err, "--cwd"), "%s", err);
	a.cwd = NULL;
	a.gids = gids;
	a.ngids = 1;
	cr_assert_null(oci_exec_args_json(config, &a, err, sizeof(err)));
	cr_assert(strstr(err, "--additional-gids"), "%s", err);
	a.ngids = 0;
	cr_assert_null(oci_exec_args_json("{\"process\":", &a, err, sizeof(err)));
	cr_assert(strstr(err, "config.json:"), "%s", err);
	/* a spec without a process still gets one */
	{
		char *j = oci_exec_args_json("{}", &a, err, sizeof(err));

		cr_assert_not_null(j, "%s", err);
		cr_assert(strstr(j, "\"args\":[\"id\"]"), "%s", j);
		free(j);
	}
}
