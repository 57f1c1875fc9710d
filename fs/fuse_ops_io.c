/*
 * FUSE handlers for open files and directories: OPEN(DIR), CREATE, TMPFILE,
 * RELEASE(DIR), READ, WRITE, STATFS, FLUSH, FSYNC(DIR), READDIR(PLUS), ACCESS,
 * FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS, GETLK, SETLK(W).
 */
#include "fs/fuse_server_int.h"

#include <errno.h>
#include <fcntl.h>

/* ---- files ---- */

static bool fuse_open_modifies(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_CREAT));
}

static int64_t fuse_do_open_common(struct fuse_ctx *c, bool dir)
{
	const struct fuse_open_in *in = (const void *)c->arg;
	struct fuse_open_out out;
	int err;

	if (c->s->fs.opt.readonly && fuse_open_modifies(in->flags))
		return -EROFS;
	err = pt_open(&c->s->fs, &c->rq, in->flags, in->open_flags, dir, &out);
	if (!err && !dir && (in->flags & O_TRUNC))
		vtfs_bump_fh(&c->s->fs, out.fh, VTAB_MD);
	/* A versioned client drops cached pages itself when the data counter moved. */
	if (!err && c->s->vertab && !(out.open_flags & FOPEN_DIRECT_IO))
		out.open_flags |= FOPEN_KEEP_CACHE;
	return err ? err : fuse_reply(c, &out, sizeof(out));
}

int64_t fuse_do_open(struct fuse_ctx *c) { return fuse_do_open_common(c, false); }
int64_t fuse_do_opendir(struct fuse_ctx *c) { return fuse_do_open_common(c, true); }

static int64_t fuse_do_create_common(struct fuse_ctx *c, bool tmpfile)
{
	const struct fuse_create_in *in = (const void *)c->arg;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	const char *name = NULL;
	size_t off = sizeof(*in);
	int err;

	/* TMPFILE carries a name too (the kernel sends the dentry's), which we ignore. */
	if (!tmpfile && (err = fuse_arg_entry(c, &off, &name, c->rq.nodeid)))
		return err;
	struct nook_vt_entry_out rec;

	err = pt_create(&c->s->fs, &c->rq, in, name, tmpfile, &out.e, &out.o);
	if (err)
		return err;
	vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	if (in->flags & O_TRUNC) /* an existing file opened with O_TRUNC */
		vtfs_bump_node(&c->s->fs, out.e.nodeid, VTAB_MD);
	if (c->s->vertab && !(out.o.open_flags & FOPEN_DIRECT_IO))
		out.o.open_flags |= FOPEN_KEEP_CACHE;
	fuse_vt_entry(c, &out.e, &rec);
	return fuse_vt_append(c, fuse_reply(c, &out, sizeof(out)), &rec);
}

int64_t fuse_do_create(struct fuse_ctx *c) { return fuse_do_create_common(c, false); }
int64_t fuse_do_tmpfile(struct fuse_ctx *c) { return fuse_do_create_common(c, true); }

static int64_t fuse_do_release_common(struct fuse_ctx *c, bool dir)
{
	return pt_release(&c->s->fs, &c->rq, (const void *)c->arg, dir);
}

int64_t fuse_do_release(struct fuse_ctx *c) { return fuse_do_release_common(c, false); }
int64_t fuse_do_releasedir(struct fuse_ctx *c) { return fuse_do_release_common(c, true); }

int64_t fuse_do_read(struct fuse_ctx *c)
{
	const struct fuse_read_in *in = (const void *)c->arg;
	struct iovec iov[FUSE_READ_IOV_MAX];
	size_t size = in->size;
	int cnt;

	/* Never more than we announced, nor than the reply buffers hold. */
	if (size > FUSE_MAX_WRITE)
		size = FUSE_MAX_WRITE;
	if (size > fuse_iov_left(c->out))
		size = fuse_iov_left(c->out);
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	cnt = fuse_iov_slice(c->out, size, iov, FUSE_READ_IOV_MAX);
	if (cnt < 0)
		return -EIO;
	return pt_read(&c->s->fs, &c->rq, in, iov, cnt);
}

int64_t fuse_do_write(struct fuse_ctx *c)
{
	struct fuse_write_in in;
	struct fuse_write_out out = { 0 };
	struct iovec iov[FUSE_READ_IOV_MAX];
	int64_t n;
	int cnt;

	if (fuse_iov_read(c->in, &in, sizeof(in)))
		return -EINVAL;
	if (c->payload) {
		/* The data waits in the transport's pipe: exactly in.size bytes, right
		 * after the fuse_write_in (dispatch checked that h.len adds up). */
		if (in.size > c->s->max_write || in.size != c->payload->len ||
		    fuse_iov_left(c->in) || in.offset > (uint64_t)INT64_MAX)
			return -EINVAL;
		n = pt_write_pipe(&c->s->fs, &c->rq, &in, c->payload);
		goto done;
	}
	if (in.size > c->s->max_write || in.size > fuse_iov_left(c->in) ||
	    in.offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	cnt = fuse_iov_slice(c->in, in.size, iov, FUSE_READ_IOV_MAX);
	if (cnt < 0)
		return -EINVAL;
	n = pt_write(&c->s->fs, &c->rq, &in, iov, cnt);
done:
	if (n > 0)
		vtfs_bump_fh(&c->s->fs, in.fh, VTAB_MD);
	if (n < 0)
		return n;
	out.size = (uint32_t)n;
	return fuse_reply(c, &out, sizeof(out));
}

int64_t fuse_do_statfs(struct fuse_ctx *c)
{
	struct fuse_statfs_out out;
	int err = pt_statfs(&c->s->fs, &c->rq, &out);

	return err ? err : fuse_reply(c, &out, sizeof(out));
}

int64_t fuse_do_flush(struct fuse_ctx *c)
{
	return pt_flush(&c->s->fs, &c->rq, (const void *)c->arg);
}

static int64_t fuse_do_fsync_common(struct fuse_ctx *c, bool dir)
{
	const struct fuse_fsync_in *in = (const void *)c->arg;

	return pt_fsync(&c->s->fs, &c->rq, in->fh, in->fsync_flags, dir);
}

int64_t fuse_do_fsync(struct fuse_ctx *c) { return fuse_do_fsync_common(c, false); }
int64_t fuse_do_fsyncdir(struct fuse_ctx *c) { return fuse_do_fsync_common(c, true); }

static int64_t fuse_do_readdir_common(struct fuse_ctx *c, bool plus)
{
	const struct fuse_read_in *in = (const void *)c->arg;
	size_t size = in->size;

	if (size > FUSE_DIR_MAX)
		size = FUSE_DIR_MAX;
	fuse_iov_truncate(c->out, size);
	return pt_readdir(&c->s->fs, &c->rq, in, plus, c->out);
}

int64_t fuse_do_readdir(struct fuse_ctx *c) { return fuse_do_readdir_common(c, false); }
int64_t fuse_do_readdirplus(struct fuse_ctx *c) { return fuse_do_readdir_common(c, true); }

int64_t fuse_do_access(struct fuse_ctx *c)
{
	const struct fuse_access_in *in = (const void *)c->arg;

	return pt_access(&c->s->fs, &c->rq, in->mask);
}

int64_t fuse_do_fallocate(struct fuse_ctx *c)
{
	const struct fuse_fallocate_in *in = (const void *)c->arg;

	if (in->offset > (uint64_t)INT64_MAX || in->length > (uint64_t)INT64_MAX ||
	    in->length == 0)
		return -EINVAL;
	int err = pt_fallocate(&c->s->fs, &c->rq, in);

	if (!err)
		vtfs_bump_fh(&c->s->fs, in->fh, VTAB_MD);
	return err;
}

int64_t fuse_do_lseek(struct fuse_ctx *c)
{
	const struct fuse_lseek_in *in = (const void *)c->arg;
	struct fuse_lseek_out out;
	int err;

	if (in->offset > (uint64_t)INT64_MAX)
		return -ENXIO;
	err = pt_lseek(&c->s->fs, &c->rq, in, &out);
	return err ? err : fuse_reply(c, &out, sizeof(out));
}

int64_t fuse_do_copy_file_range(struct fuse_ctx *c)
{
	const struct fuse_copy_file_range_in *in = (const void *)c->arg;
	int64_t n;

	if (in->off_in > (uint64_t)INT64_MAX || in->off_out > (uint64_t)INT64_MAX || in->flags)
		return -EINVAL;
	n = pt_copy_file_range(&c->s->fs, &c->rq, in);
	if (n < 0)
		return n;
	if (n > 0)
		vtfs_bump_fh(&c->s->fs, in->fh_out, VTAB_MD);
	if (c->opcode == FUSE_ABI_OP_COPY_FILE_RANGE_64) {
		struct fuse_abi_copy_file_range_out out = { (uint64_t)n };

		return fuse_reply(c, &out, sizeof(out));
	} else {
		/* The old reply counts in 32 bits: pt_copy_file_range caps len to fit. */
		struct fuse_write_out out = { .size = (uint32_t)n };

		return fuse_reply(c, &out, sizeof(out));
	}
}

int64_t fuse_do_syncfs(struct fuse_ctx *c)
{
	return pt_syncfs(&c->s->fs, &c->rq);
}

int64_t fuse_do_getlk(struct fuse_ctx *c)
{
	const struct fuse_lk_in *in = (const void *)c->arg;
	struct fuse_lk_out out;
	int err;

	if (!c->s->fs.opt.flock)
		return -ENOSYS;
	err = pt_getlk(&c->s->fs, &c->rq, in, &out);
	return err ? err : fuse_reply(c, &out, sizeof(out));
}

static int64_t fuse_do_setlk_common(struct fuse_ctx *c, bool wait)
{
	if (!c->s->fs.opt.flock)
		return -ENOSYS;
	return pt_setlk(&c->s->fs, &c->rq, (const void *)c->arg, wait);
}

int64_t fuse_do_setlk(struct fuse_ctx *c) { return fuse_do_setlk_common(c, false); }
int64_t fuse_do_setlkw(struct fuse_ctx *c) { return fuse_do_setlk_common(c, true); }
