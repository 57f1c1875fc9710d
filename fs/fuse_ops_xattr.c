/*
 * FUSE handlers for extended attributes: SETXATTR, GETXATTR, LISTXATTR,
 * REMOVEXATTR.
 */
#include "fs/fuse_server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- extended attributes ---- */

int64_t fuse_do_setxattr(struct fuse_ctx *c)
{
	struct fuse_setxattr_in in = { 0 };
	/* The struct grew to 16 bytes with SETXATTR_EXT; the old form has 8. */
	size_t insz = (c->s->flags & FUSE_SETXATTR_EXT) ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE;
	const char *name;
	size_t off = insz;
	int err;

	if (c->arglen < insz)
		return -EINVAL;
	memcpy(&in, c->arg, insz);
	if (!c->s->fs.opt.xattr)
		return -ENOSYS;	/* the client then stops asking (and says EOPNOTSUPP itself) */
	if ((err = fuse_arg_name_xattr(c, &off, &name)))
		return err;
	if (in.size > FUSE_XATTR_MAX)
		return -E2BIG;
	if (in.size > c->arglen - off)
		return -EINVAL;
	err = pt_setxattr(&c->s->fs, &c->rq, name, c->arg + off, in.size, in.flags,
			  in.setxattr_flags);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_META);
	return err;
}

/* getxattr/listxattr: size 0 asks for the needed size; a too small buffer is ERANGE. */
static int64_t fuse_xattr_reply(struct fuse_ctx *c, const char *name, uint32_t size)
{
	char *buf;
	int n;

	if (!c->s->fs.opt.xattr)
		return -ENOSYS;	/* the client then stops asking (and says EOPNOTSUPP itself) */
	if (size == 0) {
		struct fuse_getxattr_out out = { 0 };

		n = name ? pt_getxattr(&c->s->fs, &c->rq, name, NULL, 0) :
			   pt_listxattr(&c->s->fs, &c->rq, NULL, 0);
		if (n < 0)
			return n;
		out.size = (uint32_t)n;
		return fuse_reply(c, &out, sizeof(out));
	}
	if (size > FUSE_XATTR_MAX)
		size = FUSE_XATTR_MAX;
	if (size > fuse_iov_left(c->out))
		return -ERANGE;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	n = name ? pt_getxattr(&c->s->fs, &c->rq, name, buf, size) :
		   pt_listxattr(&c->s->fs, &c->rq, buf, size);
	if (n >= 0)
		n = fuse_reply(c, buf, (size_t)n);
	free(buf);
	return n;
}

int64_t fuse_do_getxattr(struct fuse_ctx *c)
{
	const struct fuse_getxattr_in *in = (const void *)c->arg;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_name_xattr(c, &off, &name);

	return err ? err : fuse_xattr_reply(c, name, in->size);
}

int64_t fuse_do_listxattr(struct fuse_ctx *c)
{
	const struct fuse_getxattr_in *in = (const void *)c->arg;

	return fuse_xattr_reply(c, NULL, in->size);
}

int64_t fuse_do_removexattr(struct fuse_ctx *c)
{
	const char *name;
	size_t off = 0;
	int err;

	if (!c->s->fs.opt.xattr)
		return -ENOSYS;	/* the client then stops asking (and says EOPNOTSUPP itself) */
	if ((err = fuse_arg_name_xattr(c, &off, &name)))
		return err;
	err = pt_removexattr(&c->s->fs, &c->rq, name);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_META);
	return err;
}
