/*
 * The VMM joins the container's cgroup (vmm/oci/oci_cgroup.h). The hierarchies come from
 * /proc/self/mountinfo, so a cgroup v2 host (one "cgroup2" mount) and a v1/hybrid host
 * (one "cgroup" mount per controller plus the unified one) take the same path: create the
 * directory in each, write the limits where that hierarchy has the file, join everywhere.
 */
#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_MAX_MOUNTS 32

/* Appends "/" + name, checking it is one plain path component. */
static int cg_append(char *out, size_t len, const char *name, size_t n)
{
	size_t cur = strlen(out);

	if (n == 0 || (n == 1 && name[0] == '.') || (n == 2 && !strncmp(name, "..", 2)) ||
	    memchr(name, '\n', n) || cur + 1 + n + 1 > len)
		return -1;
	out[cur] = '/';
	memcpy(out + cur + 1, name, n);
	out[cur + 1 + n] = 0;
	return 0;
}

/* systemd's slice naming: "a-b-c.slice" lives in /a.slice/a-b.slice/a-b-c.slice. */
static int cg_slice(char *out, size_t len, const char *slice, size_t n)
{
	char part[256];

	if (n == 0 || (n == 7 && !strncmp(slice, "-.slice", 7)))
		return 0;	/* the root slice */
	if (n < 7 || strncmp(slice + n - 6, ".slice", 6) || n - 6 >= sizeof(part))
		return -1;
	for (size_t i = 0; i < n - 6; i++) {
		if (slice[i] != '-')
			continue;
		if (i == 0 || slice[i - 1] == '-')
			return -1;
		snprintf(part, sizeof(part), "%.*s.slice", (int)i, slice);
		if (cg_append(out, len, part, strlen(part)))
			return -1;
	}
	return cg_append(out, len, slice, n);
}

int oci_cgroup_parse_path(const char *spec_path, struct oci_cgroup *c, char *err, size_t errlen)
{
	const char *s = spec_path, *colon = strchr(spec_path, ':');

	c->path[0] = 0;
	if (!*s)
		return 0;
	if (colon && *s != '/') {
		const char *c2 = strchr(colon + 1, ':');
		char scope[512];

		if (!c2 || strchr(c2 + 1, ':') || !c2[1])
			return oci_fail(err, errlen, "linux.cgroupsPath %s: expected slice:prefix:name", spec_path);
		if (cg_slice(c->path, sizeof(c->path), s, (size_t)(colon - s)))
			return oci_fail(err, errlen, "linux.cgroupsPath %s: bad slice name", spec_path);
		if (c2 == colon + 1)
			snprintf(scope, sizeof(scope), "%s.scope", c2 + 1);
		else
			snprintf(scope, sizeof(scope), "%.*s-%s.scope", (int)(c2 - colon - 1), colon + 1, c2 + 1);
		if (strchr(scope, '/') || cg_append(c->path, sizeof(c->path), scope, strlen(scope)))
			return oci_fail(err, errlen, "linux.cgroupsPath %s: bad scope name", spec_path);
		return 0;
	}
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (n && cg_append(c->path, sizeof(c->path), s, n))
			return oci_fail(err, errlen, "linux.cgroupsPath %s: bad component or too long", spec_path);
		s += n;
	}
	return 0;
}

struct cg_mount {
	char dir[512];
	bool v2;
};

/* Every cgroup hierarchy mounted in our mount namespace (one per v1 controller set). */
static int cg_mounts(struct cg_mount *m, int max)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		char mnt[512], type[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		if (strcmp(type, "cgroup") && strcmp(type, "cgroup2"))
			continue;
		/* mountinfo escapes spaces as \040; a cgroup mount point with one is skipped. */
		if (strchr(mnt, '\\'))
			continue;
		snprintf(m[n].dir, sizeof(m[n].dir), "%s", mnt);
		m[n].v2 = !strcmp(type, "cgroup2");
		n++;
	}
	fclose(f);
	return n;
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[2048];
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	if (close(fd))
		r = -1;
	return r;
}

static bool cg_has(const char *dir, const char *file)
{
	char path[2048];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

static int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char path[2048];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* A new v1 cpuset starts with no CPUs and no memory nodes, and joining it fails with
 * ENOSPC: give it its parent's (as runc does). */
static void cg_cpuset_inherit(const char *parent, const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char val[1024];

	for (int i = 0; i < 2; i++)
		if (!cg_read(dir, files[i], val, sizeof(val)) && !val[0] &&
		    !cg_read(parent, files[i], val, sizeof(val)) && val[0])
			cg_write(dir, files[i], val);
}

/* mkdir -p of c->path below one hierarchy; each directory made is noted in log. On v2
 * the memory and cpu controllers are enabled on the way down (best effort: a parent
 * that cannot delegate them leaves the limit files absent, caught by the caller). */
static int cg_mkdirs(const struct cg_mount *m, const char *path, FILE *log, char *full, size_t len)
{
	const char *s = path;

	if ((size_t)snprintf(full, len, "%s", m->dir) >= len)
		return -1;
	while (*s) {
		size_t n;

		s++;
		n = strcspn(s, "/");
		if (m->v2)
			cg_write(full, "cgroup.subtree_control", "+memory +cpu");
		char parent[2048];

		if (strlen(full) + 1 + n + 1 > len || strlen(full) >= sizeof(parent))
			return -1;
		strcpy(parent, full);
		strcat(full, "/");
		strncat(full, s, n);
		if (mkdir(full, 0755) == 0)
			fprintf(log, "%s\n", full);
		else if (errno != EEXIST)
			return -1;
		if (!m->v2)
			cg_cpuset_inherit(parent, full);
		s += n;
	}
	return 0;
}

int oci_cgroup_prepare(const struct oci_cgroup *c, const char *state_dir, char *err, size_t errlen)
{
	struct cg_mount m[CG_MAX_MOUNTS];
	char logpath[PATH_MAX + 16], dir[2048], val[64];
	bool mem_done = false, cpu_done = false;
	int n, r = 0;
	FILE *log;

	if (!c->path[0])
		return 0;
	n = cg_mounts(m, CG_MAX_MOUNTS);
	if (n <= 0)
		return oci_fail(err, errlen, "linux.cgroupsPath %s: no cgroup file system is mounted", c->path);
	snprintf(logpath, sizeof(logpath), "%s/cgroup", state_dir);
	log = fopen(logpath, "we");
	if (!log)
		return oci_fail(err, errlen, "%s: %s", logpath, strerror(errno));
	for (int i = 0; i < n && !r; i++) {
		if (cg_mkdirs(&m[i], c->path, log, dir, sizeof(dir))) {
			r = oci_fail(err, errlen, "cgroup %s: %s", dir, strerror(errno));
			break;
		}
		if (c->mem_limit > 0) {
			const char *f = m[i].v2 ? "memory.max" : "memory.limit_in_bytes";

			snprintf(val, sizeof(val), "%" PRId64, c->mem_limit);
			if (cg_has(dir, f)) {
				if (cg_write(dir, f, val))
					r = oci_fail(err, errlen, "cgroup %s/%s: %s", dir, f, strerror(errno));
				mem_done = true;
			}
		}
		if (c->cpu_quota > 0 && !r) {
			if (m[i].v2 && cg_has(dir, "cpu.max")) {
				snprintf(val, sizeof(val), "%" PRId64 " %" PRId64, c->cpu_quota, c->cpu_period);
				if (cg_write(dir, "cpu.max", val))
					r = oci_fail(err, errlen, "cgroup %s/cpu.max: %s", dir, strerror(errno));
				cpu_done = true;
			} else if (!m[i].v2 && cg_has(dir, "cpu.cfs_quota_us")) {
				/* The period first: a quota is checked against the current period. */
				snprintf(val, sizeof(val), "%" PRId64, c->cpu_period);
				if (cg_write(dir, "cpu.cfs_period_us", val))
					r = oci_fail(err, errlen, "cgroup %s/cpu.cfs_period_us: %s", dir, strerror(errno));
				snprintf(val, sizeof(val), "%" PRId64, c->cpu_quota);
				if (!r && cg_write(dir, "cpu.cfs_quota_us", val))
					r = oci_fail(err, errlen, "cgroup %s/cpu.cfs_quota_us: %s", dir, strerror(errno));
				cpu_done = true;
			}
		}
	}
	if (fclose(log) && !r)
		r = oci_fail(err, errlen, "%s: %s", logpath, strerror(errno));
	/* A limit the spec asks for that no hierarchy can hold is an error, not a silent
	 * unlimited container. */
	if (!r && c->mem_limit > 0 && !mem_done)
		r = oci_fail(err, errlen, "linux.resources.memory.limit: no memory controller for %s", c->path);
	if (!r && c->cpu_quota > 0 && !cpu_done)
		r = oci_fail(err, errlen, "linux.resources.cpu.quota: no cpu controller for %s", c->path);
	if (r)
		oci_cgroup_remove(state_dir);
	return r;
}

int oci_cgroup_join(const struct oci_cgroup *c, char *err, size_t errlen)
{
	struct cg_mount m[CG_MAX_MOUNTS];
	char dir[2048];
	int n;

	if (!c->path[0])
		return 0;
	n = cg_mounts(m, CG_MAX_MOUNTS);
	for (int i = 0; i < n; i++) {
		if ((size_t)snprintf(dir, sizeof(dir), "%s%s", m[i].dir, c->path) >= sizeof(dir))
			return oci_fail(err, errlen, "cgroup %s: path too long", c->path);
		/* "0" is the writer itself; the VMM's threads are all started after exec. */
		if (cg_write(dir, "cgroup.procs", "0"))
			return oci_fail(err, errlen, "cgroup %s: cannot join: %s", dir, strerror(errno));
	}
	return 0;
}

/* A leaf (no child cgroup): an EBUSY there is a task still exiting, worth a retry; a
 * parent with children (podman's own conmon cgroup beside ours) is left as it is. */
static bool cg_leaf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool leaf = true;

	if (!d)
		return false;
	while (leaf && (e = readdir(d)))
		leaf = e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return leaf;
}

void oci_cgroup_remove(const char *state_dir)
{
	char logpath[PATH_MAX + 16], line[2048];
	char *dirs[256];
	int n = 0;
	FILE *log;

	snprintf(logpath, sizeof(logpath), "%s/cgroup", state_dir);
	log = fopen(logpath, "re");
	if (!log)
		return;
	while (n < 256 && fgets(line, sizeof(line), log)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '/' && (dirs[n] = strdup(line)))
			n++;
	}
	fclose(log);
	/* Deepest first; a cgroup whose last task just exited can be busy for a moment. */
	for (int i = n - 1; i >= 0; i--) {
		for (int t = 0; rmdir(dirs[i]) && errno == EBUSY && t < 50 && cg_leaf(dirs[i]); t++)
			usleep(10 * 1000);
		free(dirs[i]);
	}
	unlink(logpath);
}
