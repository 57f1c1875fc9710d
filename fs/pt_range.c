/*
 * Passthrough data ranges, seeking and locks: fallocate, lseek, copy_file_range,
 * syncfs, getlk, setlk.
 */
#include "fs/passthrough_int.h"

#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs/handle.h"

/* ---- data ranges, seeking, locks ---- */

int pt_fallocate(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_fallocate_in *in)
{
	struct handle *h = handle_get(fs->handles, in->fh, false);
	int err;

	if (!h)
		return -EBADF;
	err = fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) ? -errno : 0;
	/* Every fallocate mode modifies the file as ext4 sees it (file_modified()), but
	 * FALLOCATE carries no kill flag and a killpriv_v2 client leaves it to us: drop
	 * set-id bits for a caller without CAP_FSETID, which we take to mean uid != 0. */
	if (!err && fs->killpriv_v2 && rq->uid != 0)
		pt_kill_suidgid_notify(fs, h->fd, rq, h->nodeid);
	handle_put(fs->handles, h);
	return err;
}

int pt_lseek(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_lseek_in *in,
	     struct fuse_lseek_out *out)
{
	struct handle *h;
	off_t r;

	if (in->whence != SEEK_SET && in->whence != SEEK_CUR && in->whence != SEEK_END &&
	    in->whence != SEEK_DATA && in->whence != SEEK_HOLE)
		return -EINVAL;
	if (!(h = handle_get(fs->handles, in->fh, false)))
		return -EBADF;
	r = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	handle_put(fs->handles, h);
	if (r < 0)
		return -errno;
	out->offset = (uint64_t)r;
	return 0;
}

int64_t pt_copy_file_range(struct pt_fs *fs, const struct pt_req *rq,
			   const struct fuse_copy_file_range_in *in)
{
	struct handle *a = handle_get(fs->handles, in->fh_in, false), *b;
	loff_t off_in = (loff_t)in->off_in, off_out = (loff_t)in->off_out;
	size_t len = in->len > PT_COPY_MAX ? PT_COPY_MAX : (size_t)in->len;
	ssize_t n;

	if (!a)
		return -EBADF;
	if (!(b = handle_get(fs->handles, in->fh_out, false))) {
		handle_put(fs->handles, a);
		return -EBADF;
	}
	n = copy_file_range(a->fd, &off_in, b->fd, &off_out, len, 0);
	n = n < 0 ? -errno : n;
	handle_put(fs->handles, b);
	handle_put(fs->handles, a);
	return n;
}

int pt_syncfs(struct pt_fs *fs, const struct pt_req *rq)
{
	struct pt_node n;
	int fd, err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	/* syncfs() refuses O_PATH fds: reopen the directory or file read-only. */
	fd = S_ISDIR(n.ino->mode) || S_ISREG(n.ino->mode) ?
	     pt_reopen(fs, n.fd, O_RDONLY | O_NONBLOCK) : -EINVAL;
	pt_node_put(fs, &n);
	if (fd < 0)
		return fd;
	err = syncfs(fd) ? -errno : 0;
	close(fd);
	return err;
}

static int pt_lock_check(const struct fuse_file_lock *lk)
{
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return -EINVAL;
	if (lk->start > lk->end || lk->start > (uint64_t)INT64_MAX)
		return -EINVAL;
	return 0;
}

static void pt_lock_to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = (short)lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)lk->start;
	/* end == OFFSET_MAX (or anything past INT64_MAX) means "to end of file". */
	fl->l_len = lk->end >= (uint64_t)INT64_MAX ? 0 : (off_t)(lk->end - lk->start + 1);
}

/*
 * Locks use open file description (OFD) locks on the fh's host fd: every guest open()
 * has its own fh, so locks of different opens conflict like on a local file system.
 * Lock owners sharing one open file (threads, fork) are not told apart.
 */
int pt_getlk(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_lk_in *in,
	     struct fuse_lk_out *out)
{
	struct handle *h;
	struct flock fl;
	int err = pt_lock_check(&in->lk);

	if (err)
		return err;
	if (!(h = handle_get(fs->handles, in->fh, false)))
		return -EBADF;
	pt_lock_to_flock(&in->lk, &fl);
	err = fcntl(h->fd, F_OFD_GETLK, &fl) ? -errno : 0;
	memset(out, 0, sizeof(*out));
	if (!err) {
		out->lk.type = (uint32_t)fl.l_type;
		if (fl.l_type != F_UNLCK) {
			out->lk.start = (uint64_t)fl.l_start;
			out->lk.end = fl.l_len == 0 ? (uint64_t)INT64_MAX :
						    (uint64_t)(fl.l_start + fl.l_len - 1);
			/* The holder as the client knows it: the pid that took the lock
			 * through another open of this node (0 if it was not us). */
			out->lk.pid = handle_lock_holder_pid(fs->handles, h, &fl);
		}
	}
	handle_put(fs->handles, h);
	return err;
}

int pt_setlk(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_lk_in *in, bool wait)
{
	struct handle *h;
	int err = pt_lock_check(&in->lk);

	if (err)
		return err;
	if (!(h = handle_get(fs->handles, in->fh, false)))
		return -EBADF;
	if (in->lk_flags & FUSE_LK_FLOCK) {
		int op = in->lk.type == F_RDLCK ? LOCK_SH : in->lk.type == F_WRLCK ? LOCK_EX : LOCK_UN;

		err = flock(h->fd, op | (wait ? 0 : LOCK_NB)) ? -errno : 0;
	} else {
		struct flock fl;

		pt_lock_to_flock(&in->lk, &fl);
		/* A blocking lock holds a worker thread until granted. */
		err = fcntl(h->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) ? -errno : 0;
		if (!err && fl.l_type != F_UNLCK)
			__atomic_store_n(&h->lock_pid, rq->pid, __ATOMIC_RELAXED);
	}
	if (err == -EWOULDBLOCK)
		err = -EAGAIN;
	handle_put(fs->handles, h);
	return err;
}
