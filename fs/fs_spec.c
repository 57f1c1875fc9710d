#include "fs/fs_spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fs_spec_fail(char *err, size_t errlen, const char *fmt, const char *a)
{
	snprintf(err, errlen, fmt, a);
	return -1;
}

/* A tag travels in config space and on the guest's mount command line: keep it to
 * printable characters without spaces so `mount -t virtiofs TAG` can name it. */
static int fs_spec_set_tag(struct fs_spec *out, const char *tag, size_t len, char *err,
			   size_t errlen)
{
	if (len == 0)
		return fs_spec_fail(err, errlen, "%stag is empty", "");
	if (len > FS_SPEC_TAG_MAX)
		return fs_spec_fail(err, errlen,
				    "tag '%s' is longer than 36 bytes (give a shorter tag=NAME)",
				    tag);
	for (size_t i = 0; i < len; i++)
		if (tag[i] <= ' ' || tag[i] > '~')
			return fs_spec_fail(err, errlen,
					    "tag '%s' has a space or non-printable character", tag);
	memcpy(out->tag, tag, len);
	out->tag[len] = '\0';
	return 0;
}

/* "SIZE" with an optional K/M/G suffix (a bare number is bytes) into *out; -1 if bad. */
static int fs_spec_size(const char *s, size_t n, uint64_t *out)
{
	char buf[32], *end;
	uint64_t v, mul = 1;

	if (n == 0 || n >= sizeof(buf) || s[0] < '0' || s[0] > '9')
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	default: break;
	}
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* dax=SIZE and dax_min=SIZE (virtio-fs only: the host /dev/fuse has no window). */
static int fs_spec_dax_opt(struct fs_spec *out, const char *o, size_t n, char *err,
			   size_t errlen, bool *taken)
{
	char shown[64];

	*taken = true;
	snprintf(shown, sizeof(shown), "%.*s", (int)(n < 60 ? n : 60), o);
	if (n >= 8 && !memcmp(o, "dax_min=", 8)) {
		if (fs_spec_size(o + 8, n - 8, &out->dax_min))
			return fs_spec_fail(err, errlen, "%s: give a size like 64K or 1M", shown);
		return 0;
	}
	if (n >= 4 && !memcmp(o, "dax=", 4)) {
		if (fs_spec_size(o + 4, n - 4, &out->dax_size))
			return fs_spec_fail(err, errlen, "%s: give a size like 256M or 1G", shown);
		if (out->dax_size % FS_SPEC_DAX_ALIGN)
			return fs_spec_fail(err, errlen, "%s: the DAX window must be a multiple of 2M",
					    shown);
		if (out->dax_size > FS_SPEC_DAX_MAX)
			return fs_spec_fail(err, errlen, "%s: the DAX window is limited to 16G", shown);
		return 0;
	}
	*taken = false;
	return 0;
}

int fs_spec_check_dax(const struct fs_spec *spec, uint64_t mem_size, char *err, size_t errlen)
{
	uint64_t cost = fs_spec_dax_cost(spec);

	if (cost > mem_size / 2) {
		snprintf(err, errlen,
			 "dax=%" PRIu64 "M costs the guest %" PRIu64 " MiB of RAM (64 bytes per 4 KiB), "
			 "more than half of --memory %" PRIu64 "M: use a smaller window or more memory",
			 spec->dax_size >> 20, cost >> 20, mem_size >> 20);
		return -1;
	}
	return 0;
}

int fs_spec_parse(const char *spec, struct fs_spec *out, char *err, size_t errlen)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);
	char opts[4096] = "";
	const char *tag = NULL;
	size_t tag_len = 0;
	struct stat st;

	memset(out, 0, sizeof(*out));
	fs_options_init(&out->opts);
	out->dax_min = FS_SPEC_DAX_MIN_DEFAULT;
	if (plen == 0)
		return fs_spec_fail(err, errlen, "%sno directory given", "");
	if (plen >= sizeof(out->opts.source))
		return fs_spec_fail(err, errlen, "%spath too long", "");
	memcpy(out->opts.source, spec, plen);
	out->opts.source[plen] = '\0';

	/* Split off tag=; everything else goes to the file server's option parser. */
	for (const char *p = comma; p && *p;) {
		const char *o = p + 1, *end = strchr(o, ',');
		size_t n = end ? (size_t)(end - o) : strlen(o);
		bool taken;

		if (fs_spec_dax_opt(out, o, n, err, errlen, &taken))
			return -1;
		if (taken) {
			p = end;
			continue;
		}
		if (n >= 4 && !memcmp(o, "tag=", 4)) {
			tag = o + 4;
			tag_len = n - 4;
		} else if (n) {
			size_t used = strlen(opts);

			if (used + n + 2 > sizeof(opts))
				return fs_spec_fail(err, errlen, "%soptions too long", "");
			if (used)
				opts[used++] = ',';
			memcpy(opts + used, o, n);
			opts[used + n] = '\0';
		}
		p = end;
	}
	if (opts[0] && fs_options_parse(&out->opts, opts, err, errlen))
		return -1;
	/* Options of the host /dev/fuse transport mean nothing to a virtio-fs device. */
	if (out->opts.io_uring || out->opts.poll_us >= 0)
		return fs_spec_fail(err, errlen, "%s: io_uring and poll_us apply to `nook fs serve` only",
				    out->opts.source);

	if (stat(out->opts.source, &st))
		return fs_spec_fail(err, errlen, "%s: no such directory", out->opts.source);
	if (!S_ISDIR(st.st_mode))
		return fs_spec_fail(err, errlen, "%s: not a directory", out->opts.source);

	if (!tag) {
		/* Default tag: the last path component ("/srv/data/" -> "data"). */
		size_t end = strlen(out->opts.source), start;

		while (end > 1 && out->opts.source[end - 1] == '/')
			end--;
		start = end;
		while (start > 0 && out->opts.source[start - 1] != '/')
			start--;
		if (end == start || (end - start == 1 && out->opts.source[start] == '/'))
			return fs_spec_fail(err, errlen, "%s: give the share a tag=NAME",
					    out->opts.source);
		tag = out->opts.source + start;
		tag_len = end - start;
	}
	{
		char t[FS_SPEC_TAG_MAX * 2 + 2];

		snprintf(t, sizeof(t), "%.*s", (int)(tag_len > sizeof(t) - 1 ? sizeof(t) - 1 : tag_len), tag);
		return fs_spec_set_tag(out, t, tag_len, err, errlen);
	}
}
