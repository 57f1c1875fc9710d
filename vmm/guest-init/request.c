/*
 * Run request parser of the built-in guest init (see request.h, vmm/run_proto.h).
 *
 * Two walks over the records: the first checks every record and counts the repeatable
 * ones, so the arrays can be laid out in the arena with their exact sizes; the second
 * only fills them. Nothing is accepted half-way: the request is used only when both
 * walks succeed. No stdio here, the init avoids pulling printf into its binary.
 */
#include "vmm/guest-init/request.h"

#include <stdint.h>
#include <string.h>

#include "vmm/run_proto.h"

struct walk {
	struct run_request *req;
	bool fill;		/* second walk: store the repeatable records */
	unsigned int record;	/* index of the record being read (0: the magic) */
	unsigned int nargs, nenv, noverlays, ntmpfs, nmounts, ngroups, nmasked, nreadonly;
	/* singular records seen, to refuse duplicates (a confused host) */
	bool seen_cwd, seen_uid, seen_gid, seen_hostname, seen_tty, seen_host_root,
	     seen_modules, seen_verbose, seen_hold, seen_umask, seen_nnp;
	unsigned int seen_caps;	/* bit per RUN_CAP_* set */
	bool seen_seccomp;
	bool seen_path;		/* envp had a PATH= entry */
};

static void err_str(struct run_request *req, const char *s)
{
	size_t len = strlen(req->error);

	while (*s && len + 1 < sizeof(req->error))
		req->error[len++] = *s++;
	req->error[len] = '\0';
}

static void err_uint(struct run_request *req, unsigned long v)
{
	char digits[24];
	int i = sizeof(digits) - 1;

	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	err_str(req, digits + i);
}

/* "record N ('t'): why" */
static int rec_fail(struct walk *w, char tag, const char *why)
{
	char t[2] = { tag, '\0' };

	w->req->error[0] = '\0';
	err_str(w->req, "record ");
	err_uint(w->req, w->record);
	if (tag >= 0x21 && tag < 0x7f) {
		err_str(w->req, " ('");
		err_str(w->req, t);
		err_str(w->req, "')");
	}
	err_str(w->req, ": ");
	err_str(w->req, why);
	return -1;
}

static int fail(struct run_request *req, const char *why)
{
	req->error[0] = '\0';
	err_str(req, why);
	return -1;
}

/* Decimal id: digits only, and not (uint32_t)-1, which the set*id calls read as "keep". */
static bool parse_id(const char *s, size_t len, unsigned int *out)
{
	uint64_t v = 0;

	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v >= UINT32_MAX)
			return false;
	}
	*out = (unsigned int)v;
	return true;
}

static bool parse_flag(const char *s, size_t len, bool *out)
{
	if (len != 1 || (s[0] != '0' && s[0] != '1'))
		return false;
	*out = s[0] == '1';
	return true;
}

static bool is_path(const char *s, size_t len)
{
	return len && s[0] == '/' && len < RUN_REQ_MAX_PATH;
}

/* Marks a singular record as seen; false if it was already. */
static bool once(bool *seen)
{
	if (*seen)
		return false;
	*seen = true;
	return true;
}

/* "rw:TAG:PATH" / "ro:TAG:PATH"; fills *m when m is not NULL. */
static bool parse_mount(const char *v, size_t len, struct run_req_mount *m)
{
	const char *tag, *colon;
	size_t tag_len;

	if (len < 3 || v[2] != ':' || v[0] != 'r' || (v[1] != 'w' && v[1] != 'o'))
		return false;
	tag = v + 3;
	colon = memchr(tag, ':', len - 3);
	if (!colon)
		return false;
	tag_len = (size_t)(colon - tag);
	if (!tag_len || tag_len > RUN_REQ_MAX_TAG || !is_path(colon + 1, len - 3 - tag_len - 1))
		return false;
	if (m) {
		memcpy(m->tag, tag, tag_len);
		m->tag[tag_len] = '\0';
		m->path = colon + 1;
		m->ro = v[1] == 'o';
	}
	return true;
}

/* A decimal limit, or "-1" for unlimited (~0). */
static bool parse_limit(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;

	if (len == 2 && s[0] == '-' && s[1] == '1') {
		*out = ~0ULL;
		return true;
	}
	if (!len || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "RES:SOFT:HARD" with RES < RUN_REQ_MAX_RLIMITS and SOFT <= HARD. */
static bool parse_rlimit(const char *v, size_t len, struct run_req_rlimit *r)
{
	const char *c1 = memchr(v, ':', len), *c2;
	unsigned int res;

	if (!c1)
		return false;
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - v));
	if (!c2 || !parse_id(v, (size_t)(c1 - v), &res) || res >= RUN_REQ_MAX_RLIMITS ||
	    !parse_limit(c1 + 1, (size_t)(c2 - c1 - 1), &r->soft) ||
	    !parse_limit(c2 + 1, len - (size_t)(c2 + 1 - v), &r->hard) || r->soft > r->hard)
		return false;
	r->resource = res;
	return true;
}

static bool is_tag(size_t len)
{
	return len && len <= RUN_REQ_MAX_TAG;
}

/* One record (not the magic): tag byte, value of len bytes followed by its NUL. */
static int walk_record(struct walk *w, char tag, const char *v, size_t len)
{
	struct run_request *req = w->req;

	switch (tag) {
	case RUN_REC_ARG:
		if (len + 1 > RUN_REQ_MAX_STRING)
			return rec_fail(w, tag, "argument too long");
		if (!w->nargs && !len)
			return rec_fail(w, tag, "empty program name");
		if (w->fill)
			req->argv[w->nargs] = (char *)v;	/* execve's type; never written */
		if (++w->nargs > RUN_REQ_MAX_ARGS)
			return rec_fail(w, tag, "too many arguments");
		return 0;
	case RUN_REC_ENV:
		if (len + 1 > RUN_REQ_MAX_STRING)
			return rec_fail(w, tag, "environment entry too long");
		if (w->fill) {
			req->envp[w->nenv] = (char *)v;
			/* the first PATH=, as getenv(3) would see it */
			if (!w->seen_path && !strncmp(v, "PATH=", 5)) {
				req->search_path = v + 5;
				w->seen_path = true;
			}
		}
		if (++w->nenv > RUN_REQ_MAX_ENV)
			return rec_fail(w, tag, "too many environment entries");
		return 0;
	case RUN_REC_OVERLAY:
	case RUN_REC_TMPFS: {
		unsigned int *n = tag == RUN_REC_OVERLAY ? &w->noverlays : &w->ntmpfs;

		if (!is_path(v, len))
			return rec_fail(w, tag, "not an absolute path of a sane length");
		if (w->fill)
			(tag == RUN_REC_OVERLAY ? req->overlays : req->tmpfs)[*n] = v;
		if (++*n > RUN_REQ_MAX_DIRS)
			return rec_fail(w, tag, "too many directories");
		return 0;
	}
	case RUN_REC_MASK:
	case RUN_REC_READONLY: {
		unsigned int *n = tag == RUN_REC_MASK ? &w->nmasked : &w->nreadonly;

		if (!is_path(v, len))
			return rec_fail(w, tag, "not an absolute path of a sane length");
		if (w->fill)
			(tag == RUN_REC_MASK ? req->masked : req->readonly)[*n] = v;
		if (++*n > RUN_REQ_MAX_DIRS)
			return rec_fail(w, tag, "too many paths");
		return 0;
	}
	case RUN_REC_MOUNT:
		if (!parse_mount(v, len, w->fill ? &req->mounts[w->nmounts] : NULL))
			return rec_fail(w, tag, "expected rw:TAG:/PATH or ro:TAG:/PATH");
		if (++w->nmounts > RUN_REQ_MAX_DIRS)
			return rec_fail(w, tag, "too many shares");
		return 0;
	case RUN_REC_GROUPS: {
		unsigned int gid;

		if (!parse_id(v, len, &gid))
			return rec_fail(w, tag, "bad group id");
		if (w->fill)
			req->groups[w->ngroups] = gid;
		if (++w->ngroups > RUN_REQ_MAX_GROUPS)
			return rec_fail(w, tag, "too many groups");
		return 0;
	}
	}

	/* Singular records: the first walk stores them, the second has nothing to do. */
	if (w->fill)
		return 0;
	switch (tag) {
	case RUN_REC_CWD:
		if (!once(&w->seen_cwd))
			return rec_fail(w, tag, "repeated");
		if (!is_path(v, len))
			return rec_fail(w, tag, "not an absolute path of a sane length");
		req->cwd = v;
		return 0;
	case RUN_REC_UID:
	case RUN_REC_GID:
		if (!once(tag == RUN_REC_UID ? &w->seen_uid : &w->seen_gid))
			return rec_fail(w, tag, "repeated");
		if (!parse_id(v, len, tag == RUN_REC_UID ? &req->uid : &req->gid))
			return rec_fail(w, tag, "bad id");
		return 0;
	case RUN_REC_HOSTNAME:
		if (!once(&w->seen_hostname))
			return rec_fail(w, tag, "repeated");
		if (!len || len > RUN_REQ_MAX_HOSTNAME)
			return rec_fail(w, tag, "bad host name length");
		req->hostname = v;
		return 0;
	case RUN_REC_MODULES:
		if (!once(&w->seen_modules))
			return rec_fail(w, tag, "repeated");
		if (!is_tag(len))
			return rec_fail(w, tag, "bad tag length");
		req->modules_tag = v;
		return 0;
	case RUN_REC_RLIMIT: {
		struct run_req_rlimit r;

		if (!parse_rlimit(v, len, &r))
			return rec_fail(w, tag, "expected RESOURCE:SOFT:HARD");
		for (unsigned int i = 0; i < req->nrlimits; i++)
			if (req->rlimits[i].resource == r.resource)
				return rec_fail(w, tag, "resource repeated");
		req->rlimits[req->nrlimits++] = r;	/* fits: resources are distinct */
		return 0;
	}
	case RUN_REC_CAPS: {
		static const char letters[] = "bepia";
		const char *set = len ? memchr(letters, v[0], 5) : NULL;
		unsigned long long mask = 0;
		unsigned int idx;

		if (!set || len != 18 || v[1] != ':')
			return rec_fail(w, tag, "expected S:16 hex digits");
		idx = (unsigned int)(set - letters);
		if (w->seen_caps & (1u << idx))
			return rec_fail(w, tag, "set repeated");
		for (size_t i = 2; i < len; i++) {
			char c = v[i];
			unsigned int d = c >= '0' && c <= '9' ? (unsigned int)(c - '0') :
					 c >= 'a' && c <= 'f' ? (unsigned int)(c - 'a' + 10) : 16;

			if (d == 16)
				return rec_fail(w, tag, "expected S:16 hex digits");
			mask = mask << 4 | d;
		}
		w->seen_caps |= 1u << idx;
		req->caps[idx] = mask;
		req->has_caps = true;
		return 0;
	}
	case RUN_REC_SECCOMP:
		if (!once(&w->seen_seccomp))
			return rec_fail(w, tag, "repeated");
		/* 8 bytes per instruction, 2 digits per byte; the kernel checks the rest. */
		if (!len || len % 16 || len > 2u * RUN_SECCOMP_MAX_BPF)
			return rec_fail(w, tag, "bad filter length");
		for (size_t i = 0; i < len; i++)
			if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
				return rec_fail(w, tag, "not lowercase hex");
		req->seccomp_hex = v;
		req->seccomp_len = (unsigned int)len;
		return 0;
	case RUN_REC_UMASK: {
		unsigned int m = 0;

		if (!once(&w->seen_umask))
			return rec_fail(w, tag, "repeated");
		if (!len || len > 4)
			return rec_fail(w, tag, "expected an octal mask");
		for (size_t i = 0; i < len; i++) {
			if (v[i] < '0' || v[i] > '7')
				return rec_fail(w, tag, "expected an octal mask");
			m = m * 8 + (unsigned int)(v[i] - '0');
		}
		if (m > 0777)
			return rec_fail(w, tag, "mask above 0777");
		req->umask = m;
		return 0;
	}
	case RUN_REC_TTY:
	case RUN_REC_HOST_ROOT:
	case RUN_REC_VERBOSE:
	case RUN_REC_HOLD:
	case RUN_REC_NO_NEW_PRIVS: {
		bool *seen = tag == RUN_REC_TTY ? &w->seen_tty :
			     tag == RUN_REC_HOST_ROOT ? &w->seen_host_root :
			     tag == RUN_REC_HOLD ? &w->seen_hold :
			     tag == RUN_REC_NO_NEW_PRIVS ? &w->seen_nnp : &w->seen_verbose;
		bool *val = tag == RUN_REC_TTY ? &req->tty :
			    tag == RUN_REC_HOST_ROOT ? &req->host_root :
			    tag == RUN_REC_HOLD ? &req->hold :
			    tag == RUN_REC_NO_NEW_PRIVS ? &req->no_new_privs : &req->verbose;

		if (!once(seen))
			return rec_fail(w, tag, "repeated");
		if (!parse_flag(v, len, val))
			return rec_fail(w, tag, "expected 0 or 1");
		return 0;
	}
	}
	return 0;	/* unknown tag: a newer host; ignored */
}

static int walk(struct walk *w, const char *buf, size_t len)
{
	const size_t magic_len = sizeof(RUN_MAGIC) - 1;
	size_t off = 0;

	w->record = 0;
	w->nargs = w->nenv = w->noverlays = w->ntmpfs = w->nmounts = w->ngroups = 0;
	w->nmasked = w->nreadonly = 0;
	while (off < len) {
		const char *rec = buf + off;
		const char *nul = memchr(rec, '\0', len - off);
		size_t rlen;

		if (!nul)
			return rec_fail(w, 0, "no terminating NUL (truncated request?)");
		rlen = (size_t)(nul - rec);
		if (!w->record) {
			if (rlen != magic_len || memcmp(rec, RUN_MAGIC, magic_len))
				return fail(w->req, "not a run request (no " RUN_MAGIC " magic)");
		} else if (!rlen) {
			return rec_fail(w, 0, "empty record");
		} else if (walk_record(w, rec[0], rec + 1, rlen - 1)) {
			return -1;
		}
		off += rlen + 1;
		w->record++;
	}
	return 0;
}

int run_request_parse(struct run_request *req, const char *buf, size_t len, void *arena,
		      size_t arena_size)
{
	struct walk w = { .req = req };
	char **slot = arena;
	size_t need;

	memset(req, 0, sizeof(*req));
	req->cwd = "/";
	req->search_path = RUN_DEFAULT_SEARCH_PATH;
	req->umask = 022;
	if (!len)
		return fail(req, "empty run request");
	if (len > RUN_REQ_MAX_SIZE)
		return fail(req, "run request too large");
	if (walk(&w, buf, len))
		return -1;
	if (!w.nargs)
		return fail(req, "no command (empty argv)");

	need = RUN_REQ_ARENA_SIZE((size_t)w.nargs, (size_t)w.nenv, 0, 0) +
	       ((size_t)w.noverlays + w.ntmpfs + w.nmasked + w.nreadonly) * sizeof(char *) +
	       (size_t)w.nmounts * sizeof(struct run_req_mount) +
	       (size_t)w.ngroups * sizeof(unsigned int);
	if (need > arena_size)
		return fail(req, "run request too large for the arena");

	/* Layout: spare, argv, NULL, envp, NULL, overlays, tmpfs, masked, readonly, mounts,
	 * groups. */
	slot[0] = NULL;
	req->argv = slot + 1;
	req->envp = req->argv + w.nargs + 1;
	req->overlays = (const char **)(req->envp + w.nenv + 1);
	req->tmpfs = req->overlays + w.noverlays;
	req->masked = req->tmpfs + w.ntmpfs;
	req->readonly = req->masked + w.nmasked;
	req->mounts = (struct run_req_mount *)(req->readonly + w.nreadonly);
	req->groups = (unsigned int *)(req->mounts + w.nmounts);
	req->argc = w.nargs;
	req->envc = w.nenv;
	req->noverlays = w.noverlays;
	req->ntmpfs = w.ntmpfs;
	req->nmounts = w.nmounts;
	req->ngroups = w.ngroups;
	req->nmasked = w.nmasked;
	req->nreadonly = w.nreadonly;

	w.fill = true;
	if (walk(&w, buf, len))
		return -1;	/* cannot happen: the first walk checked the same bytes */
	req->argv[req->argc] = NULL;
	req->envp[req->envc] = NULL;
	return 0;
}
