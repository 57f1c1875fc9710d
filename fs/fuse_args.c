/*
 * FUSE argument checkers (names, xattr names, symlink targets) and reply helpers
 * (see fs/fuse_server_int.h).
 */
#include "fs/fuse_server_int.h"

#include <errno.h>
#include <string.h>

int fuse_reply(struct fuse_ctx *c, const void *body, size_t len)
{
	return fuse_iov_write(c->out, body, len) ? -EIO : (int)len;
}

/*
 * The NUL-terminated string at arg[*off], bounded by the argument block: the common
 * part of every string argument. Sets *str and *len (without the NUL) and advances *off
 * past the NUL; -EINVAL when no NUL lies inside the block.
 */
static int fuse_arg_cstr(const struct fuse_ctx *c, size_t *off, const char **str, size_t *len)
{
	const char *p = (const char *)c->arg + *off;
	size_t avail = *off < c->arglen ? c->arglen - *off : 0;
	const char *nul = memchr(p, 0, avail);

	if (!nul)
		return -EINVAL;
	*str = p;
	*len = (size_t)(nul - p);
	*off += *len + 1;
	return 0;
}

/* A name: one path component (no '/'), 1..NAME_MAX bytes, not "." or ".." unless dots_ok. */
int fuse_arg_name(const struct fuse_ctx *c, size_t *off, const char **name, bool dots_ok)
{
	size_t len;
	int r = fuse_arg_cstr(c, off, name, &len);

	if (r)
		return r;
	if (len == 0 || memchr(*name, '/', len))
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (!dots_ok && (!strcmp(*name, ".") || !strcmp(*name, "..")))
		return -EINVAL;
	return 0;
}

/* The name of an entry a request creates, removes or renames in directory parent: a
 * name without dots that is not a virtual file of the root (fs/virtual.c). */
int fuse_arg_entry(const struct fuse_ctx *c, size_t *off, const char **name, uint64_t parent)
{
	int r = fuse_arg_name(c, off, name, false);

	return r ? r : virt_check_entry(&c->s->virt, parent, *name);
}

/* An xattr name ("user.x", "security.y"): 1..XATTR_NAME_MAX bytes. */
int fuse_arg_name_xattr(const struct fuse_ctx *c, size_t *off, const char **name)
{
	size_t len;
	int r = fuse_arg_cstr(c, off, name, &len);

	if (r)
		return r;
	if (len == 0)
		return -EINVAL;
	return len > XATTR_NAME_MAX ? -ERANGE : 0;
}

/* A symlink target: any non-empty string shorter than PATH_MAX. */
int fuse_arg_path(const struct fuse_ctx *c, size_t *off, const char **path)
{
	size_t len;
	int r = fuse_arg_cstr(c, off, path, &len);

	if (r)
		return r;
	if (len == 0)
		return -ENOENT;
	return len >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/*
 * Appends the version record to a reply of len bytes when VERTAB was negotiated and the
 * client left room for it (a guest's last out-arg is variable: no room, no record).
 */
int64_t fuse_vt_append(struct fuse_ctx *c, int64_t len, const struct nook_vt_entry_out *rec)
{
	if (len < 0 || !c->s->vertab || fuse_iov_left(c->out) < sizeof(*rec))
		return len;
	return fuse_iov_write(c->out, rec, sizeof(*rec)) ? len : len + (int64_t)sizeof(*rec);
}

/* The entry's record, and its attributes read again after it (see fs/vtab_fs.h). */
void fuse_vt_entry(struct fuse_ctx *c, struct fuse_entry_out *e,
			  struct nook_vt_entry_out *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (c->s->vertab && e->nodeid)
		vtfs_snapshot_restat(&c->s->fs, e->nodeid, &e->attr, rec);
}

int64_t fuse_entry_reply(struct fuse_ctx *c, int err, struct fuse_entry_out *e)
{
	struct nook_vt_entry_out rec;

	if (err)
		return err;
	fuse_vt_entry(c, e, &rec);
	return fuse_vt_append(c, fuse_reply(c, e, sizeof(*e)), &rec);
}
