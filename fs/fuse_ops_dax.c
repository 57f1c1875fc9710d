/*
 * FUSE handlers for the DAX window: SETUPMAPPING, REMOVEMAPPING.
 */
#include "fs/fuse_server_int.h"

#include <errno.h>
#include <unistd.h>

/*
 * DAX window: SETUPMAPPING/REMOVEMAPPING map file ranges into the device's shared
 * memory window. Validated here, carried out by the transport's fuse_dax_ops.
 */
int64_t fuse_do_setupmapping(struct fuse_ctx *c)
{
	const struct fuse_setupmapping_in *in = (const void *)c->arg;
	bool writable = in->flags & FUSE_SETUPMAPPING_FLAG_WRITE;
	int err, fd;

	if (!c->s->dax)
		return -ENOSYS;
	if (in->len == 0 || in->foffset > UINT64_MAX - in->len || in->moffset > UINT64_MAX - in->len ||
	    (in->flags & ~(uint64_t)(FUSE_SETUPMAPPING_FLAG_WRITE | FUSE_SETUPMAPPING_FLAG_READ)))
		return -EINVAL;
	if (c->s->fs.opt.readonly && writable)
		return -EROFS;
	/* Linux sends fh -1: the mapping belongs to the inode, not to an open file. */
	fd = pt_open_for_dax(&c->s->fs, &c->rq, writable);
	if (fd < 0)
		return fd == -ENOMEM ? -EIO : fd;	/* ENOMEM: the guest would retry forever */
	err = c->s->dax->setup(c->s->dax_opaque, fd, in->foffset, in->len, in->moffset, writable);
	close(fd);
	/* DAX stores never reach us: guests fall back to timeouts for this file. */
	if (!err && writable)
		vtfs_volatile_node(&c->s->fs, c->rq.nodeid);
	return err == -ENOMEM ? -EIO : err;
}

int64_t fuse_do_removemapping(struct fuse_ctx *c)
{
	struct fuse_removemapping_in in;
	struct fuse_removemapping_one one;

	if (!c->s->dax)
		return -ENOSYS;
	if (fuse_iov_read(c->in, &in, sizeof(in)))
		return -EINVAL;
	/* Entries are streamed: count may not exceed what the request really carries. */
	if (in.count > fuse_iov_left(c->in) / sizeof(one))
		return -EINVAL;
	for (uint32_t i = 0; i < in.count; i++) {
		int err;

		if (fuse_iov_read(c->in, &one, sizeof(one)))
			return -EINVAL;
		if (one.len == 0 || one.moffset > UINT64_MAX - one.len)
			return -EINVAL;
		if ((err = c->s->dax->remove(c->s->dax_opaque, one.moffset, one.len)))
			return err;
	}
	return 0;
}
