/*
 * Passthrough operations on open files: open, create, release, read, write
 * (also from a transport pipe), statfs, flush, fsync.
 */
#include "fs/passthrough_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs/handle.h"

/* O_NOATIME for an open of a file or directory, when the host mount asked for it. */
static int pt_noatime(const struct pt_fs *fs, bool dir)
{
	return fs->opt.noatime || (dir && fs->opt.nodiratime) ? O_NOATIME : 0;
}

/* Host open flags for a client's: never follow, never create here, no controlling tty. */
static int pt_open_flags(struct pt_fs *fs, uint32_t flags)
{
	/* O_DIRECT is dropped: the guest kernel already bypasses its own page cache, and the
	 * transport's buffers (guest memory, our reply buffers after a 16-byte header) do not
	 * meet the host's alignment rules. O_PATH would make the fd useless. */
	int f = (int)flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_TMPFILE | O_DIRECT | O_PATH);

	/* With writeback caching the kernel reads pages around partial writes and does
	 * appends itself. */
	if (fs->writeback) {
		if ((f & O_ACCMODE) == O_WRONLY)
			f = (f & ~O_ACCMODE) | O_RDWR;
		f &= ~O_APPEND;
	}
	return f | O_CLOEXEC;
}

/*
 * The passthrough mode of a regular file being opened, when passthrough is on (see
 * fs/backing.h): *b gets the inode's entry; -ENOMEM when the table is out of memory.
 *
 * A set-uid or set-gid file is never passed through. With HANDLE_KILLPRIV_V2 the client
 * leaves dropping those bits on a write by another user to our WRITE handler, and a
 * passed-through write never reaches us: the host file is written with our own
 * credentials, which keep the bits. mode is the file's mode at open (create: the mode
 * asked for). Left open: bits set while the file is already open passed through stay
 * on a later write by another user through that open (the kernel decides the mode at
 * the first open and we cannot change it under open files).
 */
static int pt_backing(struct pt_fs *fs, const struct inode *ino, int fd, mode_t mode,
		      struct backing **b)
{
	*b = backing_get(fs->backings, ino->dev, ino->ino, fd, !(mode & (S_ISUID | S_ISGID)));
	return *b ? 0 : -ENOMEM;
}

static void pt_open_reply(struct pt_fs *fs, uint64_t fh, bool dir, uint64_t dev,
			  const struct backing *b, struct fuse_open_out *out)
{
	memset(out, 0, sizeof(*out));
	out->fh = fh;
	if (!dir && fs->noflush_dev && dev == fs->noflush_dev)
		out->open_flags |= FOPEN_NOFLUSH;
	if (b && b->id > 0) {
		/* The client kernel reads, writes and maps the host file itself: its page
		 * cache is the host's, so no cache mode flag applies (DIRECT_IO would even
		 * send reads and writes back to us). */
		out->open_flags |= FOPEN_PASSTHROUGH;
		FUSE_ABI_OPEN_BACKING_ID(out) = (uint32_t)b->id;
		return;
	}
	switch (fs->opt.cache) {
	case FS_CACHE_NEVER:
	case FS_CACHE_METADATA:
		if (!dir)
			out->open_flags |= FOPEN_DIRECT_IO;
		break;
	case FS_CACHE_AUTO:
		/* Directory listings stay cached across opendir: with FUSE_AUTO_INVAL_DATA
		 * the client compares the directory's mtime (refreshed once the attribute
		 * timeout ran out) before it reads the cache, and changes made through the
		 * mount bump its cache version. Files keep close-to-open semantics. */
		if (dir)
			out->open_flags |= FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR;
		break;
	case FS_CACHE_ALWAYS:
		out->open_flags |= FOPEN_KEEP_CACHE | (dir ? FOPEN_CACHE_DIR : 0);
		break;
	}
}

int pt_open(struct pt_fs *fs, const struct pt_req *rq, uint32_t flags, uint32_t open_flags,
	    bool dir, struct fuse_open_out *out)
{
	struct pt_node n;
	struct backing *b;
	uint64_t fh;
	int fd, err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	if (dir ? !S_ISDIR(n.ino->mode) : !S_ISREG(n.ino->mode)) {
		/* Special files are opened by the guest kernel itself, never through us. */
		err = dir ? -ENOTDIR : S_ISDIR(n.ino->mode) ? -EISDIR : -ENXIO;
		goto out;
	}
	fd = pt_reopen(fs, n.fd, dir ? (O_RDONLY | O_DIRECTORY | pt_noatime(fs, true)) :
			   pt_open_flags(fs, flags) | pt_noatime(fs, false));
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (!dir && fs->killpriv_v2 && (open_flags & FUSE_OPEN_KILL_SUIDGID) && (flags & O_TRUNC))
		pt_kill_suidgid_notify(fs, fd, rq, rq->nodeid);
	b = NULL;
	if (!dir && fs->passthrough) {
		struct stat st;

		/* The mode decides: set-id files are not passed through. */
		err = fstat(fd, &st) ? -errno : pt_backing(fs, n.ino, fd, st.st_mode, &b);
	}
	if (err) {
		close(fd);
		goto out;
	}
	fh = handle_add(fs->handles, fd, dir, n.ino->nodeid, b);
	if (!fh) {
		err = -errno;	/* ENFILE past the fd budget, or ENOMEM */
		goto out;
	}
	pt_open_reply(fs, fh, dir, n.ino->dev, b, out);
out:
	pt_node_put(fs, &n);
	return err;
}

int pt_create(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_create_in *in,
	      const char *name, bool tmpfile, struct fuse_entry_out *e, struct fuse_open_out *o)
{
	struct pt_node dir;
	struct pt_cred cred;
	struct backing *b;
	mode_t mode = in->mode & 07777;
	uint64_t fh;
	int fd, pfd, err, flags = pt_open_flags(fs, in->flags);

	if ((err = pt_node_get(fs, rq->nodeid, &dir)))
		return err;
	if ((err = pt_cred_enter(fs, rq, in->umask, &mode, &cred)))
		goto out;
	if (tmpfile) {
		if ((flags & O_ACCMODE) == O_RDONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		fd = openat(dir.fd, ".", (flags & ~O_TRUNC) | O_TMPFILE, mode);
		fd = fd < 0 ? -errno : fd;
	} else {
		fd = pt_openat(dir.fd, name, flags | O_CREAT | (int)(in->flags & O_EXCL), mode);
	}
	pt_cred_exit(fs, &cred);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	/* The inode's O_PATH fd comes from the open file itself: no second name walk. */
	pfd = pt_reopen(fs, fd, O_PATH);
	if (pfd < 0 || (err = pt_entry_from_fd(fs, dir.ino, pfd, e))) {
		err = pfd < 0 ? pfd : err;
		close(fd);
		goto out;
	}
	b = NULL;
	if (fs->passthrough) {
		/* Just added with the lookup this reply hands over: it cannot be gone. */
		struct inode *ino = inode_get(fs->inodes, e->nodeid);

		err = ino ? pt_backing(fs, ino, fd, in->mode, &b) : -ESTALE;
		inode_put(fs->inodes, ino);
	}
	fh = err ? 0 : handle_add(fs->handles, fd, false, e->nodeid, b);
	if (!fh) {
		int add_err = err ? err : -errno;	/* ENFILE past the budget, or ENOMEM */

		if (err)
			close(fd);
		pt_forget(fs, e->nodeid, 1);
		err = add_err;
		goto out;
	}
	pt_open_reply(fs, fh, false, dir.ino->dev, b, o);
out:
	pt_node_put(fs, &dir);
	return err;
}

int pt_release(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_release_in *in, bool dir)
{
	/* Closing the host fd drops its flock too (FUSE_RELEASE_FLOCK_UNLOCK). */
	return handle_remove(fs->handles, in->fh, dir);
}

int64_t pt_read(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_read_in *in,
		const struct iovec *iov, int cnt)
{
	struct handle *h = handle_get(fs->handles, in->fh, false);
	ssize_t n;

	if (!h)
		return -EBADF;
	do
		n = preadv(h->fd, iov, cnt, (off_t)in->offset);
	while (n < 0 && errno == EINTR);
	n = n < 0 ? -errno : n;
	handle_put(fs->handles, h);
	return n;
}

/* The common end of a WRITE: drop set-id bits when asked and something was written. */
static int64_t pt_write_done(struct pt_fs *fs, const struct pt_req *rq,
			     const struct fuse_write_in *in, struct handle *h, ssize_t n)
{
	if (n > 0 && fs->killpriv_v2 && (in->write_flags & FUSE_WRITE_KILL_SUIDGID))
		pt_kill_suidgid_notify(fs, h->fd, rq, h->nodeid);
	handle_put(fs->handles, h);
	return n;
}

int64_t pt_write(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_write_in *in,
		 const struct iovec *iov, int cnt)
{
	struct handle *h = handle_get(fs->handles, in->fh, false);
	ssize_t n;

	if (!h)
		return -EBADF;
	do
		n = pwritev(h->fd, iov, cnt, (off_t)in->offset);
	while (n < 0 && errno == EINTR);
	return pt_write_done(fs, rq, in, h, n < 0 ? -errno : n);
}

/*
 * Pipe -> file without a copy through user space. SPLICE_F_NONBLOCK: a pipe holding
 * less than promised ends the write (EAGAIN) instead of blocking the worker. Returns
 * bytes written, or -errno when none were (a later error makes a short write).
 */
static ssize_t pt_splice_in(int fd, struct fuse_payload *p, uint64_t off)
{
	loff_t pos = (loff_t)off;
	size_t done = 0;

	while (done < p->len) {
		ssize_t n = splice(p->pipe_fd, NULL, fd, &pos, p->len - done, SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (done)
				break;
			/* 0 or EAGAIN: the pipe ran dry, the transport's fault. */
			return n < 0 && errno != EAGAIN ? -errno : -EIO;
		}
		done += (size_t)n;
		p->consumed += (size_t)n;
	}
	return (ssize_t)done;
}

/*
 * The fallback for files that refuse a splice (O_APPEND): the payload is read into the
 * scratch buffer (or one of our own when the transport's is too small) and written with
 * one pwrite, which on an O_APPEND fd appends, like pt_write's pwritev.
 */
static ssize_t pt_write_scratch(int fd, struct fuse_payload *p, uint64_t off)
{
	unsigned char *buf = p->scratch_len >= p->len ? p->scratch : NULL, *own = NULL;
	size_t got = 0;
	ssize_t n;

	if (!buf && !(buf = own = malloc(p->len)))
		return -ENOMEM;
	while (got < p->len) {
		n = read(p->pipe_fd, buf + got, p->len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	p->consumed += got;
	if (got < p->len) {
		n = -EIO;	/* the pipe ran dry: the transport's fault, write nothing */
	} else {
		do
			n = pwrite(fd, buf, got, (off_t)off);
		while (n < 0 && errno == EINTR);
		n = n < 0 ? -errno : n;
	}
	free(own);
	return n;
}

int64_t pt_write_pipe(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_write_in *in,
		      struct fuse_payload *p)
{
	struct handle *h = handle_get(fs->handles, in->fh, false);
	ssize_t n;

	if (!h)
		return -EBADF;
	n = pt_splice_in(h->fd, p, in->offset);
	/* EINVAL with nothing moved: splice refuses this file (O_APPEND, or a file system
	 * without splice_write); a plain write will tell whether it is the write itself. */
	if (n == -EINVAL && !p->consumed)
		n = pt_write_scratch(h->fd, p, in->offset);
	return pt_write_done(fs, rq, in, h, n);
}

int pt_statfs(struct pt_fs *fs, const struct pt_req *rq, struct fuse_statfs_out *out)
{
	struct pt_node n;
	struct statfs st;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	if (fstatfs(n.fd, &st)) {
		err = -errno;
	} else {
		memset(out, 0, sizeof(*out));
		out->st.blocks = st.f_blocks;
		out->st.bfree = st.f_bfree;
		out->st.bavail = st.f_bavail;
		out->st.files = st.f_files;
		out->st.ffree = st.f_ffree;
		out->st.bsize = (uint32_t)st.f_bsize;
		out->st.namelen = (uint32_t)st.f_namelen;
		out->st.frsize = (uint32_t)st.f_frsize;
	}
	pt_node_put(fs, &n);
	return err;
}

int pt_flush(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_flush_in *in)
{
	struct handle *h = handle_get(fs->handles, in->fh, false);
	int fd, err = 0;

	if (!h)
		return -EBADF;
	/* Behave like close(2) of one descriptor: file systems such as NFS flush and
	 * report write-back errors on close. */
	fd = dup(h->fd);
	if (fd < 0 || close(fd))
		err = -errno;
	handle_put(fs->handles, h);
	return err;
}

int pt_fsync(struct pt_fs *fs, const struct pt_req *rq, uint64_t fh, uint32_t fsync_flags, bool dir)
{
	struct handle *h = handle_get(fs->handles, fh, dir);
	int err;

	if (!h)
		return -EBADF;
	err = ((fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd)) ? -errno : 0;
	handle_put(fs->handles, h);
	return err;
}
