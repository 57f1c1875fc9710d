/*
 * fs_options: defaults and the "-o opt,opt" parser shared by every transport.
 *
 * Defaults aim at local-file-system semantics: cache=auto keeps the guest page cache
 * only while the host file's mtime/size are unchanged and caches names/attributes for a
 * second, so changes made on the host side show up quickly; writeback is off because
 * it lets the guest reorder writes behind the host's back; xattrs are on (they are part
 * of a local file system); ACLs are off since they need the guest to mount with them.
 */
#include "fs/fuse_server.h"
#include "fs/vtab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fs_options_init(struct fs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cache = FS_CACHE_AUTO;
	o->xattr = true;
	/* Where the kernel passes file data through (host mounts as root), reads and
	 * writes are the host file's own: same page cache, same speed, no staleness. */
	o->passthrough = true;
	o->poll_us = -1;
	/* The version table stays off until asked for: it needs the patched guest kernel
	 * to pay off, and costs one /dev/shm file per tree. */
	o->vt_slots = VTAB_SLOTS_DEFAULT;
	o->vt_watch = true;
}

/* A decimal number in [min, max] from the value v (vl bytes, not terminated). */
static int fs_opt_number(const char *v, size_t vl, long min, long max, int *out)
{
	char buf[16], *end;
	long t;

	if (vl == 0 || vl >= sizeof(buf))
		return -1;
	memcpy(buf, v, vl);
	buf[vl] = 0;
	errno = 0;
	t = strtol(buf, &end, 10);
	if (errno || *end || t < min || t > max)
		return -1;
	*out = (int)t;
	return 0;
}

static int fs_opt_err(char *err, size_t errlen, const char *what, const char *opt, size_t n)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: '%.*s'", what, (int)(n > 200 ? 200 : n), opt);
	return -1;
}

/* Matches the key of "key" or "key=value" against name; sets *val to the value or NULL. */
static bool fs_opt_is(const char *opt, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t k = strlen(name);

	if (n < k || memcmp(opt, name, k))
		return false;
	if (n == k) {
		*val = NULL;
		*vlen = 0;
		return true;
	}
	if (opt[k] != '=')
		return false;
	*val = opt + k + 1;
	*vlen = n - k - 1;
	return true;
}

static int fs_opt_one(struct fs_options *o, const char *opt, size_t n, char *err, size_t errlen)
{
	static const struct { const char *name; size_t off; bool val; } flags[] = {
		{ "writeback", offsetof(struct fs_options, writeback), true },
		{ "no_writeback", offsetof(struct fs_options, writeback), false },
		{ "xattr", offsetof(struct fs_options, xattr), true },
		{ "no_xattr", offsetof(struct fs_options, xattr), false },
		{ "ro", offsetof(struct fs_options, readonly), true },
		{ "readonly", offsetof(struct fs_options, readonly), true },
		{ "rw", offsetof(struct fs_options, readonly), false },
		{ "inode_file_handles", offsetof(struct fs_options, inode_file_handles), true },
		{ "no_inode_file_handles", offsetof(struct fs_options, inode_file_handles), false },
		{ "announce_submounts", offsetof(struct fs_options, announce_submounts), true },
		{ "stats", offsetof(struct fs_options, stats), true },
		{ "no_announce_submounts", offsetof(struct fs_options, announce_submounts), false },
		{ "flock", offsetof(struct fs_options, flock), true },
		{ "no_flock", offsetof(struct fs_options, flock), false },
		{ "passthrough", offsetof(struct fs_options, passthrough), true },
		{ "no_passthrough", offsetof(struct fs_options, passthrough), false },
		{ "io_uring", offsetof(struct fs_options, io_uring), true },
		{ "no_io_uring", offsetof(struct fs_options, io_uring), false },
		{ "versions", offsetof(struct fs_options, versions), true },
		{ "no_versions", offsetof(struct fs_options, versions), false },
		{ "vt_watch", offsetof(struct fs_options, vt_watch), true },
		{ "no_vt_watch", offsetof(struct fs_options, vt_watch), false },
	};
	const char *v;
	size_t vl;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (fs_opt_is(opt, n, flags[i].name, &v, &vl)) {
			if (v)
				return fs_opt_err(err, errlen, "option takes no value", opt, n);
			*(bool *)((char *)o + flags[i].off) = flags[i].val;
			return 0;
		}
	}
	if (fs_opt_is(opt, n, "posix_acl", &v, &vl) && !v) {
		o->posix_acl = true;
		o->xattr = true;
		return 0;
	}
	if (fs_opt_is(opt, n, "no_posix_acl", &v, &vl) && !v) {
		o->posix_acl = false;
		return 0;
	}
	if (fs_opt_is(opt, n, "cache", &v, &vl) && v) {
		static const char *modes[] = { "never", "metadata", "auto", "always" };

		for (int m = 0; m < 4; m++) {
			if (vl == strlen(modes[m]) && !memcmp(v, modes[m], vl)) {
				o->cache = (enum fs_cache_mode)m;
				return 0;
			}
		}
		/* virtiofsd spells "never" as "none". */
		if (vl == 4 && !memcmp(v, "none", 4)) {
			o->cache = FS_CACHE_NEVER;
			return 0;
		}
		return fs_opt_err(err, errlen, "bad cache mode (never|metadata|auto|always)", opt, n);
	}
	if (fs_opt_is(opt, n, "threads", &v, &vl) && v)
		return fs_opt_number(v, vl, 1, 256, &o->threads) ?
		       fs_opt_err(err, errlen, "bad thread count (1..256)", opt, n) : 0;
	if (fs_opt_is(opt, n, "max_fds", &v, &vl) && v)
		return fs_opt_number(v, vl, 16, 1 << 30, &o->max_fds) ?
		       fs_opt_err(err, errlen, "bad fd budget (16..1073741824)", opt, n) : 0;
	if (fs_opt_is(opt, n, "poll_us", &v, &vl) && v)
		return fs_opt_number(v, vl, 0, FS_POLL_US_MAX, &o->poll_us) ?
		       fs_opt_err(err, errlen, "bad poll time (0..10000 us)", opt, n) : 0;
	if (fs_opt_is(opt, n, "vt_slots", &v, &vl) && v) {
		if (fs_opt_number(v, vl, VTAB_SLOTS_MIN, VTAB_SLOTS_MAX, &o->vt_slots) ||
		    (o->vt_slots & (o->vt_slots - 1)))
			return fs_opt_err(err, errlen,
					  "bad version table size (a power of two, 2..67108864)", opt, n);
		return 0;
	}
	if (fs_opt_is(opt, n, "source", &v, &vl) && v) {
		if (vl == 0 || vl >= sizeof(o->source))
			return fs_opt_err(err, errlen, "bad source path", opt, n);
		memcpy(o->source, v, vl);
		o->source[vl] = 0;
		return 0;
	}
	return fs_opt_err(err, errlen, "unknown file system option", opt, n);
}

int fs_options_parse(struct fs_options *o, const char *opts, char *err, size_t errlen)
{
	const char *p = opts;

	if (!opts)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (fs_opt_one(o, p, n, err, errlen))
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}
