/*
 * FUSE handlers for names and attributes: LOOKUP, FORGET, GETATTR, SETATTR,
 * READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME(2), LINK.
 */
#include "fs/fuse_server_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- names and attributes ---- */

int64_t fuse_do_lookup(struct fuse_ctx *c)
{
	struct fuse_entry_out e;
	const char *name;
	size_t off = 0;
	int err = fuse_arg_name(c, &off, &name, true);

	if (err)
		return err;
	/* The root's virtual files shadow host files of the same name. */
	if (virt_lookup(&c->s->virt, &c->s->fs, c->rq.nodeid, name, &e))
		return fuse_reply(c, &e, sizeof(e));
	err = pt_lookup(&c->s->fs, &c->rq, name, &e);
	/* A versioned client keeps negative entries while the parent is unchanged: tell
	 * it "no such name" as an entry it may cache (design card item 15). */
	if (err == -ENOENT && c->s->vertab) {
		memset(&e, 0, sizeof(e));
		e.entry_valid = c->s->fs.entry_timeout;
		return fuse_reply(c, &e, sizeof(e));
	}
	return fuse_entry_reply(c, err, &e);
}

int64_t fuse_do_forget(struct fuse_ctx *c)
{
	const struct fuse_forget_in *in = (const void *)c->arg;

	pt_forget(&c->s->fs, c->rq.nodeid, in->nlookup);
	return 0;
}

int64_t fuse_do_batch_forget(struct fuse_ctx *c)
{
	struct fuse_batch_forget_in in;
	struct fuse_forget_one one;

	if (fuse_iov_read(c->in, &in, sizeof(in)))
		return 0;
	/* Process as many entries as are really present, never more than count. */
	for (uint32_t i = 0; i < in.count; i++) {
		if (fuse_iov_read(c->in, &one, sizeof(one)))
			break;
		pt_forget(&c->s->fs, one.nodeid, one.nlookup);
	}
	return 0;
}

int64_t fuse_do_getattr(struct fuse_ctx *c)
{
	const struct fuse_getattr_in *in = (const void *)c->arg;
	struct fuse_attr_out out;
	struct nook_vt_entry_out rec;
	int err;

	/* The record first, then the stat. */
	memset(&rec, 0, sizeof(rec));
	if (c->s->vertab)
		vtfs_snapshot(&c->s->fs, c->rq.nodeid, &rec);
	err = pt_getattr(&c->s->fs, &c->rq, in, &out);
	return err ? err : fuse_vt_append(c, fuse_reply(c, &out, sizeof(out)), &rec);
}

int64_t fuse_do_setattr(struct fuse_ctx *c)
{
	const struct fuse_setattr_in *in = (const void *)c->arg;
	struct fuse_attr_out out;
	int err;

	struct nook_vt_entry_out rec;
	unsigned what = (in->valid & FATTR_SIZE) ? VTAB_MD : VTAB_META;

	if (c->s->fs.opt.readonly && in->valid)
		return -EROFS;
	err = pt_setattr(&c->s->fs, &c->rq, in, &out);
	/* Even after an error: an earlier part of the request may have changed something. */
	if (in->valid & ~(uint32_t)(FATTR_FH | FATTR_LOCKOWNER)) {
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, what);
		if (in->valid & FATTR_FH)
			vtfs_bump_fh(&c->s->fs, in->fh, what);
	}
	if (err)
		return err;
	memset(&rec, 0, sizeof(rec));
	if (c->s->vertab)
		vtfs_snapshot_restat(&c->s->fs, c->rq.nodeid, &out.attr, &rec);
	return fuse_vt_append(c, fuse_reply(c, &out, sizeof(out)), &rec);
}

int64_t fuse_do_readlink(struct fuse_ctx *c)
{
	char buf[PATH_MAX];
	int n = pt_readlink(&c->s->fs, &c->rq, buf, sizeof(buf));

	return n < 0 ? n : fuse_reply(c, buf, (size_t)n);
}

int64_t fuse_do_symlink(struct fuse_ctx *c)
{
	struct fuse_entry_out e;
	const char *name, *target;
	size_t off = 0;
	int err;

	/* Arguments: the new name, then the target. */
	if ((err = fuse_arg_entry(c, &off, &name, c->rq.nodeid)) ||
	    (err = fuse_arg_path(c, &off, &target)))
		return err;
	err = pt_symlink(&c->s->fs, &c->rq, name, target, &e);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	return fuse_entry_reply(c, err, &e);
}

int64_t fuse_do_mknod(struct fuse_ctx *c)
{
	const struct fuse_mknod_in *in = (const void *)c->arg;
	struct fuse_entry_out e;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	err = pt_mknod(&c->s->fs, &c->rq, name, in->mode, in->rdev, in->umask, &e);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	return fuse_entry_reply(c, err, &e);
}

int64_t fuse_do_mkdir(struct fuse_ctx *c)
{
	const struct fuse_mkdir_in *in = (const void *)c->arg;
	struct fuse_entry_out e;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	err = pt_mkdir(&c->s->fs, &c->rq, name, in->mode, in->umask, &e);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	return fuse_entry_reply(c, err, &e);
}

static int64_t fuse_do_unlink_common(struct fuse_ctx *c, bool dir)
{
	const char *name;
	size_t off = 0;
	uint64_t victim;
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	victim = vtfs_child_slot(&c->s->fs, c->rq.nodeid, name);
	err = pt_unlink(&c->s->fs, &c->rq, name, dir);
	if (!err) {
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
		vtfs_bump_slot(&c->s->fs, victim, VTAB_META); /* nlink, ctime */
	}
	return err;
}

int64_t fuse_do_unlink(struct fuse_ctx *c) { return fuse_do_unlink_common(c, false); }
int64_t fuse_do_rmdir(struct fuse_ctx *c) { return fuse_do_unlink_common(c, true); }

static int64_t fuse_rename_names(struct fuse_ctx *c, size_t off, uint64_t newdir, uint32_t flags)
{
	const char *name, *newname;
	uint64_t moved, target;
	int err;

	if ((err = fuse_arg_entry(c, &off, &name, c->rq.nodeid)) ||
	    (err = fuse_arg_entry(c, &off, &newname, newdir)))
		return err;
	moved = vtfs_child_slot(&c->s->fs, c->rq.nodeid, name);
	target = vtfs_child_slot(&c->s->fs, newdir, newname);
	err = pt_rename(&c->s->fs, &c->rq, name, newdir, newname, flags);
	if (!err) {
		/* Both parents' names, the moved object(s) and an overwritten target. */
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
		if (newdir != c->rq.nodeid)
			vtfs_bump_node(&c->s->fs, newdir, VTAB_MD);
		vtfs_bump_slot(&c->s->fs, moved, VTAB_META);
		vtfs_bump_slot(&c->s->fs, target, VTAB_META);
	}
	return err;
}

int64_t fuse_do_rename(struct fuse_ctx *c)
{
	const struct fuse_rename_in *in = (const void *)c->arg;

	return fuse_rename_names(c, sizeof(*in), in->newdir, 0);
}

int64_t fuse_do_rename2(struct fuse_ctx *c)
{
	const struct fuse_rename2_in *in = (const void *)c->arg;

	if (in->flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	return fuse_rename_names(c, sizeof(*in), in->newdir, in->flags);
}

int64_t fuse_do_link(struct fuse_ctx *c)
{
	const struct fuse_link_in *in = (const void *)c->arg;
	struct fuse_entry_out e;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	err = pt_link(&c->s->fs, &c->rq, in->oldnodeid, name, &e);
	if (!err) {
		vtfs_bump_node(&c->s->fs, e.nodeid, VTAB_META); /* nlink */
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	}
	return fuse_entry_reply(c, err, &e);
}
