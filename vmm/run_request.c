#include "vmm/run_request.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/run_proto.h"

/* Directories of the host's root the guest may write to, each on a tmpfs-backed overlay.
 * virtme-ng also covers /usr /lib /opt /srv; here each overlay mount costs ~200 ms of
 * emulated guest kernel code, so only the places programs expect to write get one. */
static const char *const run_overlay_dirs[] = {
	"/etc", "/var", "/home", "/root", "/tmp",
};

int run_plan_setenv(struct run_plan *p, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	char *copy = strdup(kv);

	if (!copy)
		return -1;
	for (int i = 0; i < p->nr_env; i++) {
		if (!strncmp(p->env[i], kv, klen) && p->env[i][klen] == '=') {
			free(p->env[i]);
			p->env[i] = copy;
			return 0;
		}
	}
	if (p->nr_env == p->cap_env) {
		int cap = p->cap_env ? 2 * p->cap_env : 32;
		char **n = realloc(p->env, (size_t)cap * sizeof(*n));

		if (!n) {
			free(copy);
			return -1;
		}
		p->env = n;
		p->cap_env = cap;
	}
	p->env[p->nr_env++] = copy;
	return 0;
}

/* "-e K" takes K from nook's own environment (docker's rule); absent: not set. */
static int run_env_item(struct run_plan *p, const char *item, char *err, size_t errlen)
{
	const char *v;
	char *kv;
	int r;

	if (strchr(item, '='))
		return run_plan_setenv(p, item) ? err_printf(err, errlen, "out of memory") : 0;
	v = getenv(item);
	if (!v)
		return 0;
	if (asprintf(&kv, "%s=%s", item, v) < 0)
		return err_printf(err, errlen, "out of memory");
	r = run_plan_setenv(p, kv);
	free(kv);
	return r ? err_printf(err, errlen, "out of memory") : 0;
}

/* K=V lines; blank lines and lines starting with # are skipped; "K" alone as -e K. */
static int run_env_file(struct run_plan *p, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, r = 0;

	if (!f)
		return err_printf(err, errlen, "--env-file %s: %s", path, strerror(errno));
	while (!r && (n = getline(&line, &cap, f)) >= 0) {
		char *s = line;

		lineno++;
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			s[--n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		if (*s == '=' || strlen(s) != (size_t)(n - (s - line)))
			r = err_printf(err, errlen, "--env-file %s:%d: expected K=V", path, lineno);
		else
			r = run_env_item(p, s, err, errlen);
	}
	free(line);
	fclose(f);
	return r;
}

/* A passwd(5)/group(5) line's fields, split in place; false if too short. */
static int run_split(char *line, char **field, int max)
{
	int n = 0;

	line[strcspn(line, "\n")] = '\0';
	field[n++] = line;
	for (char *c = line; *c && n < max; c++) {
		if (*c == ':') {
			*c = '\0';
			field[n++] = c + 1;
		}
	}
	return n;
}

static bool run_parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/*
 * Finds a user (by name, or by uid when name is numeric) in root/etc/passwd: uid, gid,
 * home. 1 found, 0 not found, -1 no readable passwd file.
 */
static int run_lookup_user(const char *root, const char *name, uint32_t *uid, uint32_t *gid,
			   char *home, size_t homelen)
{
	char path[CONFIG_PATH_MAX], line[1024], *fld[7];
	uint32_t want;
	bool numeric = run_parse_id(name, &want);
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/etc/passwd", strcmp(root, "/") ? root : "");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		uint32_t u, g;

		if (run_split(line, fld, 7) < 7 || !run_parse_id(fld[2], &u) ||
		    !run_parse_id(fld[3], &g))
			continue;
		if (numeric ? u != want : strcmp(fld[0], name))
			continue;
		*uid = u;
		*gid = g;
		snprintf(home, homelen, "%s", fld[5][0] ? fld[5] : "/");
		found = 1;
	}
	fclose(f);
	return found;
}

static int run_lookup_group(const char *root, const char *name, uint32_t *gid)
{
	char path[CONFIG_PATH_MAX], line[4096], *fld[4];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/etc/group", strcmp(root, "/") ? root : "");
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (run_split(line, fld, 4) >= 3 && !strcmp(fld[0], name) &&
		    run_parse_id(fld[2], gid))
			found = 1;
	}
	fclose(f);
	return found;
}

/* --user NAME|UID[:GROUP|GID]: a numeric uid need not exist (as with docker -u);
 * a name must. HOME follows the passwd entry, else / (root: /root). */
static int run_resolve_user(const struct run_config *r, const char *root, struct run_plan *p,
			    char *home, size_t homelen, char *err, size_t errlen)
{
	char user[256], *colon;
	int found;

	p->uid = p->gid = 0;
	snprintf(home, homelen, "/root");
	if (!r->user)
		return 0;
	if (strlen(r->user) >= sizeof(user))
		return err_printf(err, errlen, "--user: too long");
	strcpy(user, r->user);
	colon = strchr(user, ':');
	if (colon)
		*colon++ = '\0';
	found = run_lookup_user(root, user, &p->uid, &p->gid, home, homelen);
	if (found <= 0) {
		if (!run_parse_id(user, &p->uid))
			return err_printf(err, errlen, "--user %s: unknown user (not in %s/etc/passwd)",
					r->user, strcmp(root, "/") ? root : "");
		p->gid = 0;
		snprintf(home, homelen, "%s", p->uid ? "/" : "/root");
	}
	if (colon && !run_parse_id(colon, &p->gid) && !run_lookup_group(root, colon, &p->gid))
		return err_printf(err, errlen, "--user %s: unknown group '%s'", r->user, colon);
	return 0;
}

static bool run_is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --rwdir/--rodir: canonical host directories, each its own share "nook-rw0", ... */
static int run_resolve_dirs(const struct run_config *r, const char *root, struct run_plan *p,
			    char *err, size_t errlen)
{
	for (int i = 0; i < r->nr_dirs; i++) {
		const char *opt = r->dir_rw[i] ? "--rwdir" : "--rodir";
		struct run_mount *m = &p->mounts[p->nr_mounts];
		struct stat st;

		if (!realpath(r->dirs[i], p->dirs[i]))
			return err_printf(err, errlen, "%s %s: %s", opt, r->dirs[i], strerror(errno));
		if (stat(p->dirs[i], &st) || !S_ISDIR(st.st_mode))
			return err_printf(err, errlen, "%s %s: not a directory", opt, r->dirs[i]);
		if (!strcmp(p->dirs[i], "/"))
			return err_printf(err, errlen, "%s /: share the root with --host-root", opt);
		/* Under --root the mount point must already exist in that tree: the init
		 * never creates directories in the user's root. */
		if (strcmp(root, "/")) {
			char inside[2 * CONFIG_PATH_MAX];

			snprintf(inside, sizeof(inside), "%s%s", root, p->dirs[i]);
			if (!run_is_dir(inside))
				return err_printf(err, errlen, "%s %s: no directory %s in the root %s to "
						"mount it on", opt, r->dirs[i], p->dirs[i], root);
		}
		snprintf(m->tag, sizeof(m->tag), "nook-%s%d", r->dir_rw[i] ? "rw" : "ro", i);
		m->path = p->dirs[i];
		m->rw = r->dir_rw[i];
		p->nr_mounts++;
	}
	return 0;
}

int run_plan_build(const struct vm_config *cfg, const char *root_dir, bool tty,
		   struct run_plan *p, char *err, size_t errlen)
{
	const struct run_config *r = &cfg->run;
	char home[CONFIG_PATH_MAX], kv[CONFIG_PATH_MAX + 16];
	const char *term = getenv("TERM");

	memset(p, 0, sizeof(*p));
	p->tty = tty;
	p->host_root = r->host_root;
	p->verbose = r->verbose;
	snprintf(p->hostname, sizeof(p->hostname), "%s", r->hostname ? r->hostname : "nook");
	if (run_resolve_user(r, root_dir, p, home, sizeof(home), err, errlen))
		return -1;
	snprintf(kv, sizeof(kv), "HOME=%s", home);
	if (run_plan_setenv(p, "PATH=" RUN_DEFAULT_PATH) || run_plan_setenv(p, kv))
		return err_printf(err, errlen, "out of memory");
	/* A terminal keeps the host's TERM (the guest draws on it); pipes get "dumb". */
	snprintf(kv, sizeof(kv), "TERM=%s", tty && term && *term ? term : tty ? "linux" : "dumb");
	if (run_plan_setenv(p, kv))
		return err_printf(err, errlen, "out of memory");
	for (int i = 0; i < r->nr_env_files; i++)
		if (run_env_file(p, r->env_files[i], err, errlen))
			return -1;
	for (int i = 0; i < r->nr_env; i++)
		if (run_env_item(p, r->env[i], err, errlen))
			return -1;

	if (r->cwd) {
		snprintf(p->cwd, sizeof(p->cwd), "%s", r->cwd);
	} else if (r->host_root) {
		if (!getcwd(p->cwd, sizeof(p->cwd)))
			snprintf(p->cwd, sizeof(p->cwd), "/");
	} else {
		snprintf(p->cwd, sizeof(p->cwd), "/");
	}
	if (r->host_root) {
		for (size_t i = 0; i < sizeof(run_overlay_dirs) / sizeof(run_overlay_dirs[0]); i++)
			if (run_is_dir(run_overlay_dirs[i]))
				p->overlays[p->nr_overlays++] = run_overlay_dirs[i];
	}
	return run_resolve_dirs(r, root_dir, p, err, errlen);
}

void run_plan_free(struct run_plan *p)
{
	for (int i = 0; i < p->nr_env; i++)
		free(p->env[i]);
	free(p->env);
	p->env = NULL;
	p->nr_env = p->cap_env = 0;
}

struct run_buf {
	char *data;
	size_t len, cap;
	bool oom;
};

/* Appends one record: tag byte (0 for none), value, NUL. */
static void run_rec(struct run_buf *b, char tag, const char *value)
{
	size_t vlen = strlen(value) + 1, n = vlen + (tag ? 1 : 0);

	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (tag)
		b->data[b->len++] = tag;
	memcpy(b->data + b->len, value, vlen);
	b->len += vlen;
}

int run_request_build(const struct run_config *r, const struct run_plan *p, char **out,
		      size_t *len)
{
	struct run_buf b = { 0 };
	char num[64];

	run_rec(&b, 0, RUN_MAGIC);
	for (int i = 0; i < r->argc; i++)
		run_rec(&b, RUN_REC_ARG, r->argv[i]);
	for (int i = 0; i < p->nr_env; i++)
		run_rec(&b, RUN_REC_ENV, p->env[i]);
	run_rec(&b, RUN_REC_CWD, p->cwd);
	snprintf(num, sizeof(num), "%u", p->uid);
	run_rec(&b, RUN_REC_UID, num);
	snprintf(num, sizeof(num), "%u", p->gid);
	run_rec(&b, RUN_REC_GID, num);
	run_rec(&b, RUN_REC_HOSTNAME, p->hostname);
	if (p->tty)
		run_rec(&b, RUN_REC_TTY, "1");
	if (p->host_root)
		run_rec(&b, RUN_REC_HOST_ROOT, "1");
	if (p->verbose)
		run_rec(&b, RUN_REC_VERBOSE, "1");
	for (int i = 0; i < p->nr_overlays; i++)
		run_rec(&b, RUN_REC_OVERLAY, p->overlays[i]);
	for (int i = 0; i < p->nr_mounts; i++) {
		char *m;

		if (asprintf(&m, "%s:%s:%s", p->mounts[i].rw ? "rw" : "ro", p->mounts[i].tag,
			     p->mounts[i].path) < 0) {
			b.oom = true;
			break;
		}
		run_rec(&b, RUN_REC_MOUNT, m);
		free(m);
	}
	if (p->modules_tag[0])
		run_rec(&b, RUN_REC_MODULES, p->modules_tag);
	if (b.oom) {
		free(b.data);
		return -ENOMEM;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

int run_request_append_file(char **req, size_t *len, const char *path, char *err,
			    size_t errlen)
{
	char buf[65536], *n;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_printf(err, errlen, "--records %s: %s", path, strerror(errno));
	while (got < sizeof(buf) && (r = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)r;
	close(fd);
	if (got == sizeof(buf))
		return err_printf(err, errlen, "--records %s: larger than %zu bytes", path,
				  sizeof(buf) - 1);
	/* Whole records only: each non-empty and NUL-terminated (the guest checks the rest). */
	for (size_t off = 0; off < got;) {
		char *nul = memchr(buf + off, '\0', got - off);

		if (!nul || nul == buf + off)
			return err_printf(err, errlen, "--records %s: not a list of NUL-terminated "
					  "records", path);
		off = (size_t)(nul - buf) + 1;
	}
	n = realloc(*req, *len + got);
	if (!n)
		return err_printf(err, errlen, "out of memory");
	memcpy(n + *len, buf, got);
	*req = n;
	*len += got;
	return 0;
}
