/* linux.cgroupsPath and the resource limits for the VMM's cgroup (vmm/oci/oci_cgroup.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/oci/oci_cgroup.h"
#include "vmm/oci/oci_spec.h"

static const char *path_of(const char *spec)
{
	static struct oci_cgroup c;
	char err[256] = "";

	memset(&c, 0, sizeof(c));
	if (oci_cgroup_parse_path(spec, &c, err, sizeof(err)))
		return NULL;
	return c.path;
}

/* cgroupfs paths as podman writes them, relative ones from the root, systemd triples. */
Test(oci_cgroup, paths)
{
	cr_assert_str_eq(path_of("/libpod_parent/libpod-abc"), "/libpod_parent/libpod-abc");
	cr_assert_str_eq(path_of("a//b/"), "/a/b");
	cr_assert_str_eq(path_of(""), "");
	cr_assert_str_eq(path_of("machine.slice:libpod:abc"), "/machine.slice/libpod-abc.scope");
	cr_assert_str_eq(path_of("user-1000.slice:libpod:abc"),
			 "/user.slice/user-1000.slice/libpod-abc.scope");
	cr_assert_str_eq(path_of("-.slice:nook:x"), "/nook-x.scope");
	cr_assert_str_eq(path_of("system.slice::x"), "/system.slice/x.scope");
	cr_assert_null(path_of("/a/../b"));
	cr_assert_null(path_of("/a/./b"));
	cr_assert_null(path_of("machine.slice:libpod"));
	cr_assert_null(path_of("machine:libpod:abc"));
	cr_assert_null(path_of("a--b.slice:p:n"));
	cr_assert_null(path_of("machine.slice:p:a/b"));
}

static char bundle[64];

static void make_bundle(void)
{
	char p[128];

	snprintf(bundle, sizeof(bundle), "/tmp/oci-cg-XXXXXX");
	cr_assert_not_null(mkdtemp(bundle));
	snprintf(p, sizeof(p), "%s/rootfs", bundle);
	cr_assert_eq(mkdir(p, 0755), 0);
}

static void drop_bundle(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/rootfs", bundle);
	rmdir(p);
	rmdir(bundle);
}

static int translate(const char *linux_json, struct oci_plan *p, char *err)
{
	char json[1024];

	snprintf(json, sizeof(json),
		 "{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"},\"linux\":%s}",
		 linux_json);
	return oci_spec_translate_json(json, bundle, p, err, 256);
}

static bool has_arg(const struct oci_plan *p, const char *a, const char *b)
{
	for (int i = 0; i + 1 < p->args.argc; i++)
		if (!strcmp(p->args.argv[i], a) && !strcmp(p->args.argv[i + 1], b))
			return true;
	return false;
}

/* podman run --memory 256m --cpus 1.5: the cgroup gets the limits as given, the guest
 * the limit minus the VMM headroom and the quota rounded up to whole vCPUs. */
Test(oci_cgroup, limits_from_spec, .init = make_bundle, .fini = drop_bundle)
{
	struct oci_plan p;
	char err[256] = "";

	cr_assert_eq(translate("{\"cgroupsPath\":\"/libpod_parent/libpod-x\",\"resources\":{"
			       "\"memory\":{\"limit\":268435456},\"cpu\":{\"quota\":150000,\"period\":100000}}}",
			       &p, err), 0, "%s", err);
	cr_assert_str_eq(p.cgroup.path, "/libpod_parent/libpod-x");
	cr_assert_eq(p.cgroup.mem_limit, 268435456);
	cr_assert_eq(p.cgroup.cpu_quota, 150000);
	cr_assert_eq(p.cgroup.cpu_period, 100000);
	cr_assert(has_arg(&p, "--memory", "192M"));
	cr_assert(has_arg(&p, "--cpus", "2"));
	oci_plan_free(&p);

	/* No limits: the cgroup is joined, nothing is written, default guest size. */
	cr_assert_eq(translate("{\"cgroupsPath\":\"machine.slice:libpod:y\"}", &p, err), 0, "%s", err);
	cr_assert_str_eq(p.cgroup.path, "/machine.slice/libpod-y.scope");
	cr_assert_eq(p.cgroup.mem_limit, 0);
	cr_assert_eq(p.cgroup.cpu_quota, 0);
	cr_assert(has_arg(&p, "--memory", "512M"));
	oci_plan_free(&p);
}

/* A limit that cannot hold the smallest guest plus the headroom, an annotation that does
 * not fit the limit, a bad path: one clear error each. */
Test(oci_cgroup, bad_limits, .init = make_bundle, .fini = drop_bundle)
{
	struct oci_plan p;
	char err[256] = "";
	char json[1024];

	cr_assert_eq(translate("{\"resources\":{\"memory\":{\"limit\":134217728}}}", &p, err), -1);
	cr_assert(strstr(err, "memory limit 128 MiB: a VM needs at least 192 MiB"), "%s", err);
	cr_assert_eq(translate("{\"cgroupsPath\":\"/a/../b\"}", &p, err), -1);
	cr_assert(strstr(err, "linux.cgroupsPath /a/../b"), "%s", err);
	snprintf(json, sizeof(json),
		 "{\"process\":{\"args\":[\"true\"]},\"root\":{\"path\":\"rootfs\"},"
		 "\"annotations\":{\"nook.memory\":\"1G\"},"
		 "\"linux\":{\"resources\":{\"memory\":{\"limit\":1073741824}}}}");
	cr_assert_eq(oci_spec_translate_json(json, bundle, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "nook.memory=1G does not fit the memory limit of 1024 MiB"), "%s", err);
}

/* delete removes what create made, deepest first, and leaves what it did not make. */
Test(oci_cgroup, remove_created)
{
	char state[64], a[128], b[128], keep[128], log[160];
	FILE *f;

	snprintf(state, sizeof(state), "/tmp/oci-cgst-XXXXXX");
	cr_assert_not_null(mkdtemp(state));
	snprintf(keep, sizeof(keep), "%s/keep", state);
	snprintf(a, sizeof(a), "%s/keep/a", state);
	snprintf(b, sizeof(b), "%s/keep/a/b", state);
	cr_assert_eq(mkdir(keep, 0755), 0);
	cr_assert_eq(mkdir(a, 0755), 0);
	cr_assert_eq(mkdir(b, 0755), 0);
	snprintf(log, sizeof(log), "%s/cgroup", state);
	f = fopen(log, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s\n%s\n", a, b);
	fclose(f);
	oci_cgroup_remove(state);
	cr_assert_neq(access(a, F_OK), 0);
	cr_assert_eq(access(keep, F_OK), 0);
	cr_assert_neq(access(log, F_OK), 0);
	rmdir(keep);
	cr_assert_eq(rmdir(state), 0);
	/* Nothing noted: nothing to do. */
	oci_cgroup_remove("/nonexistent-oci-state");
}
