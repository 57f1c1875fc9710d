/* config.json -> nook run command line (vmm/oci/oci_spec.c) on sample specs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_state.h"

static char bundle[64];

static void make_bundle(void)
{
	char p[128];

	snprintf(bundle, sizeof(bundle), "/tmp/oci-spec-XXXXXX");
	cr_assert_not_null(mkdtemp(bundle));
	snprintf(p, sizeof(p), "%s/rootfs", bundle);
	cr_assert_eq(mkdir(p, 0755), 0);
}

static void drop_bundle(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/rootfs", bundle);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/config.json", bundle);
	unlink(p);
	rmdir(bundle);
}

TestSuite(oci_spec, .init = make_bundle, .fini = drop_bundle);

/* The whole argv joined by spaces, for one readable comparison. */
static const char *joined(const struct oci_plan *p)
{
	static char buf[4096];
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < p->args.argc; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", p->args.argv[i]);
	return buf;
}

static int translate(const char *json, struct oci_plan *p, char *err)
{
	return oci_spec_translate_json(json, bundle, p, err, 256);
}

/* A spec as podman writes it, trimmed: process, root, binds, kernel mounts, hostname. */
Test(oci_spec, podman_like_spec)
{
	struct oci_plan p;
	char err[256], expect[1024];
	const char *json =
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
		"\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[10]},"
		"\"args\":[\"sh\",\"-c\",\"ls /data; exit 3\"],"
		"\"env\":[\"PATH=/bin\",\"FOO=a b\"],\"cwd\":\"/work\"},"
		"\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"abc\","
		"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		"{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\"},"
		"{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/v\",\"options\":[\"rbind\",\"ro\"]},"
		"{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/run/h\",\"options\":[\"bind\"]}],"
		"\"linux\":{\"resources\":{\"cpu\":{\"quota\":150000,\"period\":100000},"
		"\"memory\":{\"limit\":1073741824}}}}";

	cr_assert_eq(translate(json, &p, err), 0, "%s", err);
	snprintf(expect, sizeof(expect),
		 "nook run --root %s/rootfs,ro -e PATH=/bin -e FOO=a b --cwd /work --user 1000:100 "
		 "--cpus 2 --memory 960M --hostname abc -- sh -c ls /data; exit 3",
		 bundle);
	cr_assert_str_eq(joined(&p), expect);
	cr_assert_eq(p.nr_binds, 2);
	cr_assert_str_eq(p.binds[0].src, "/srv/v");
	cr_assert_str_eq(p.binds[0].dst, "/data");
	cr_assert(p.binds[0].ro);
	cr_assert_str_eq(p.binds[1].dst, "/etc/hosts");
	cr_assert_not(p.binds[1].ro);
	cr_assert_not(p.terminal);
	oci_plan_free(&p);
}

/* Annotations win over linux.resources; the defaults are 1 vCPU / 512 MiB, cwd /. */
Test(oci_spec, annotations_and_defaults)
{
	struct oci_plan p;
	char err[256];

	cr_assert_eq(translate("{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"}}",
			       &p, err), 0, "%s", err);
	cr_assert(strstr(joined(&p), " --cwd / --cpus 1 --memory 512M -- true"), "%s", joined(&p));
	oci_plan_free(&p);
	cr_assert_eq(translate("{\"process\":{\"args\":[\"true\"],\"terminal\":true},\"root\":{\"path\":\"rootfs\"},"
			       "\"annotations\":{\"nook.cpus\":\"2\",\"nook.memory\":\"300M\"},"
			       "\"linux\":{\"resources\":{\"memory\":{\"limit\":2147483648}}}}", &p, err), 0, "%s", err);
	cr_assert(strstr(joined(&p), " --cpus 2 --memory 300M -- true"), "%s", joined(&p));
	cr_assert(p.terminal);
	oci_plan_free(&p);
	/* nook.memory reads like nook's --memory: a bare number is MiB, "1GiB" works. */
	cr_assert_eq(translate("{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"},"
			       "\"annotations\":{\"nook.memory\":\"384\"}}", &p, err), 0, "%s", err);
	cr_assert(strstr(joined(&p), " --memory 384 -- true"), "%s", joined(&p));
	oci_plan_free(&p);
	cr_assert_eq(translate("{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"},"
			       "\"annotations\":{\"nook.memory\":\"1GiB\"}}", &p, err), 0, "%s", err);
	cr_assert(strstr(joined(&p), " --memory 1GiB -- true"), "%s", joined(&p));
	oci_plan_free(&p);
}

/* Each bad spec: one clear error, nothing returned. */
Test(oci_spec, bad_specs)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"process\":", "config.json: " },
		{ "[1]", "not a JSON object" },
		{ "{\"root\":{\"path\":\"rootfs\"}}", "no \"process\"" },
		{ "{\"process\":{\"args\":[]},\"root\":{\"path\":\"rootfs\"}}", "process.args must be" },
		{ "{\"process\":{\"args\":[1]},\"root\":{\"path\":\"rootfs\"}}", "process.args[0] is not a string" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"nope\"}}", "rootfs " },
		{ "{\"process\":{\"args\":[\"x\"]}}", "root.path missing" },
		{ "{\"process\":{\"args\":[\"x\"],\"env\":[\"NOEQ\"]},\"root\":{\"path\":\"rootfs\"}}", "process.env[0]" },
		{ "{\"process\":{\"args\":[\"x\"],\"cwd\":\"rel\"},\"root\":{\"path\":\"rootfs\"}}", "process.cwd" },
		{ "{\"process\":{\"args\":[\"x\"],\"user\":{\"uid\":-1}},\"root\":{\"path\":\"rootfs\"}}", "process.user.uid" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/a/../b\",\"type\":\"bind\",\"source\":\"/x\"}]}", "no \"..\"" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"nfs\",\"source\":\"h:/x\"}]}", "type nfs is not supported" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"rel\"}]}", "bind source must be" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"annotations\":{\"nook.cpus\":\"0\"}}", "nook.cpus=0" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"annotations\":{\"nook.memory\":\"lots\"}}", "nook.memory=lots" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1G\"}}}}", "linux.resources" },
		{ "{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"rootfs\"},\"linux\":{\"resources\":{\"cpu\":[]}}}", "linux.resources" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oci_plan p;
		char err[256] = "";

		cr_assert_eq(translate(cases[i].json, &p, err), -1, "case %zu accepted", i);
		cr_assert(strstr(err, cases[i].msg), "case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
		cr_assert_eq(p.args.argc, 0);
		cr_assert_eq(p.nr_binds, 0);
	}
}

/* The file reader: a missing bundle and a missing config.json say which. */
Test(oci_spec, bundle_files)
{
	struct oci_plan p;
	char err[256], path[128];
	FILE *f;

	cr_assert_eq(oci_spec_translate("/nonexistent-bundle", &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "bundle /nonexistent-bundle: not a directory"), "%s", err);
	cr_assert_eq(oci_spec_translate(bundle, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "config.json: No such file"), "%s", err);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"}}", f);
	fclose(f);
	cr_assert_eq(oci_spec_translate(bundle, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(p.args.argv[p.args.argc - 1], "true");
	oci_plan_free(&p);
}

/* A rootfs that is not a directory, or whose path nook's "--root PATH,OPTS" would split. */
Test(oci_spec, rootfs_not_shareable)
{
	struct oci_plan p;
	char err[256] = "", dir[128];

	cr_assert_eq(translate("{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"/etc/passwd\"}}",
			       &p, err), -1);
	cr_assert(strstr(err, "Not a directory"), "'%s'", err);
	snprintf(dir, sizeof(dir), "%s/a,ro", bundle);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(translate("{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"a,ro\"}}", &p, err), -1);
	rmdir(dir);
	cr_assert(strstr(err, "a path with ',' cannot be shared"), "'%s'", err);
	cr_assert_eq(p.args.argc, 0);
}

/* The records text, with NULs shown as '|'. */
static const char *rec_text(const struct oci_records *r)
{
	static char buf[4096];
	size_t n = r->len < sizeof(buf) - 1 ? r->len : sizeof(buf) - 1;

	memcpy(buf, r->data ? r->data : "", n);
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = '|';
	buf[n] = 0;
	return buf;
}

/* What nook run has no option for goes to --records. */
Test(oci_spec, process_records)
{
	struct oci_plan p;
	char err[256];

	cr_assert_eq(translate("{\"process\":{\"args\":[\"true\"],\"noNewPrivileges\":true,"
			       "\"user\":{\"uid\":1,\"gid\":2,\"additionalGids\":[10,11],\"umask\":18},"
			       "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096},"
			       "{\"type\":\"RLIMIT_CORE\",\"soft\":18446744073709551615,"
			       "\"hard\":18446744073709551615}]},"
			       "\"root\":{\"path\":\"rootfs\"},\"linux\":{\"maskedPaths\":[\"/proc/kcore\"],"
			       "\"readonlyPaths\":[\"/proc/sys\"]}}", &p, err), 0, "%s", err);
	cr_assert_str_eq(rec_text(&p.records),
			 "G10|G11|U22|r7:1024:4096|r4:-1:-1|n1|M/proc/kcore|R/proc/sys|");
	oci_plan_free(&p);
}

Test(oci_spec, bad_process_records)
{
	static const char *const bad[] = {
		"\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]",
		"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":1}]",
		"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1}]",
		"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},"
		"{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1}]",
		"\"user\":{\"umask\":512}",
		"\"user\":{\"additionalGids\":[-1]}",
		"\"noNewPrivileges\":1",
	};
	struct oci_plan p;
	char err[256], json[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"process\":{\"args\":[\"true\"],%s},"
			 "\"root\":{\"path\":\"rootfs\"}}", bad[i]);
		cr_assert_eq(translate(json, &p, err), -1, "accepted %s", bad[i]);
		cr_assert(strstr(err, "config.json: process"), "%s: %s", bad[i], err);
	}
	cr_assert_eq(translate("{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"},"
			       "\"linux\":{\"maskedPaths\":[\"/proc/../etc\"]}}", &p, err), -1);
	cr_assert(strstr(err, "maskedPaths"), "%s", err);
}

/* process.json of exec: a whole request, as the guest parses it. */
Test(oci_spec, exec_process)
{
	struct oci_records r = { 0 };
	char err[256];
	bool tty;

	cr_assert_eq(oci_exec_translate_json("{\"terminal\":true,\"user\":{\"uid\":1000,\"gid\":5},"
					     "\"args\":[\"uname\",\"-r\"],\"env\":[\"PATH=/bin\"],"
					     "\"cwd\":\"/tmp\"}", &r, &tty, err, sizeof(err)), 0, "%s", err);
	cr_assert(tty);
	cr_assert_str_eq(rec_text(&r), "NOOKRUN1|auname|a-r|ePATH=/bin|c/tmp|t1|u1000|g5|");
	oci_records_free(&r);
	cr_assert_eq(oci_exec_translate_json("{\"args\":[]}", &r, &tty, err, sizeof(err)), -1);
	cr_assert(strstr(err, "process.json: process.args"), "%s", err);
	oci_records_free(&r);
	cr_assert_eq(oci_exec_translate_json("{\"args\":[\"x\"],\"cwd\":\"rel\"}", &r, &tty, err,
					     sizeof(err)), -1);
	oci_records_free(&r);
	cr_assert_eq(oci_exec_translate_json("[", &r, &tty, err, sizeof(err)), -1);
	cr_assert(strstr(err, "process.json:"), "%s", err);
	oci_records_free(&r);
}

/* state.json round trip: the runtime-spec fields plus rootfs, owner and annotations. */
Test(oci_spec, state_round_trip)
{
	struct oci_state st;
	char root[64], dir[256], out[4096];
	FILE *f;
	size_t n;

	snprintf(root, sizeof(root), "/tmp/oci-state-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	cr_assert_eq(oci_state_dir(root, "c1", dir, sizeof(dir), true), 0);
	cr_assert_eq(oci_state_save(dir, "c1", getpid(), "/b", "/b/rootfs",
				    "{\"io.container.manager\":\"libpod\"}"), 0);
	cr_assert_eq(oci_state_load(root, "c1", dir, sizeof(dir), &st), 0);
	cr_assert_str_eq(st.status, "running");	/* no "created" marker, and our pid lives */
	f = fmemopen(out, sizeof(out), "w");
	cr_assert_eq(oci_state_print(&st, f), 0);
	fclose(f);
	n = strlen(out);
	cr_assert(n > 0);
	cr_assert(strstr(out, "\"rootfs\":\"/b/rootfs\""), "%s", out);
	cr_assert(strstr(out, "\"io.container.manager\":\"libpod\""), "%s", out);
	cr_assert(strstr(out, "\"owner\":\"root\"") || getuid(), "%s", out);
	oci_state_free(&st);
	cr_assert_eq(oci_state_remove(dir), 0);
	cr_assert_neq(oci_state_load(root, "c1", dir, sizeof(dir), &st), 0);
	rmdir(root);
}
