/*
 * Passthrough operations on names and attributes: lookup, forget, getattr,
 * setattr, readlink, symlink, mknod, mkdir, unlink, rename, link.
 */
#include "fs/passthrough_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs/handle.h"

/*
 * LOOKUP(nodeid, ".") of a forgotten node: the client decodes a file handle of an inode
 * it no longer has (export support). A stable id names its host object (fs/inode_id.h);
 * it is registered again under the same id.
 */
static int pt_lookup_id(struct pt_fs *fs, uint64_t nodeid, struct fuse_entry_out *e)
{
	struct inode *root = inode_get(fs->inodes, FUSE_ROOT_ID_VALUE);
	int fd = inode_reopen_id(fs->inodes, nodeid), err;

	if (fd < 0 || !root) {
		if (fd >= 0)
			close(fd);
		inode_put(fs->inodes, root);
		return fd < 0 ? fd : -ESTALE;
	}
	err = pt_entry_from_fd(fs, root, fd, e);
	inode_put(fs->inodes, root);
	return err;
}

/* ---- operations ---- */

int pt_lookup(struct pt_fs *fs, const struct pt_req *rq, const char *name, struct fuse_entry_out *e)
{
	struct inode *dir = inode_get(fs->inodes, rq->nodeid);
	int err;

	if (!dir && !strcmp(name, "."))
		return pt_lookup_id(fs, rq->nodeid, e);
	if (!dir)
		return -ESTALE;
	err = pt_lookup_in(fs, dir, name, e);
	inode_put(fs->inodes, dir);
	return err;
}

void pt_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t nlookup)
{
	inode_forget(fs->inodes, nodeid, nlookup);
}

static int pt_attr_reply(struct pt_fs *fs, struct inode *ino, int fd, struct fuse_attr_out *out)
{
	struct statx stx;
	int err = pt_statx(fd, &stx);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->attr_valid = fs->attr_timeout;
	pt_fill_attr(&stx, &out->attr);
	out->attr.flags |= pt_dax_flag(fs, ino, &stx);
	return 0;
}

int pt_open_for_dax(struct pt_fs *fs, const struct pt_req *rq, bool writable)
{
	struct pt_node n;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	err = S_ISREG(n.ino->mode) ? pt_reopen(fs, n.fd, writable ? O_RDWR : O_RDONLY) : -EINVAL;
	pt_node_put(fs, &n);
	return err;
}

int pt_getattr(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_getattr_in *in,
	       struct fuse_attr_out *out)
{
	struct pt_node n;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	err = pt_attr_reply(fs, n.ino, n.fd, out);
	pt_node_put(fs, &n);
	return err;
}

int pt_chmod(struct pt_fs *fs, int fd, mode_t mode)
{
	char name[16];

	if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	/* Older hosts: chmod through our own magic link (never a symlink: Linux has no
	 * symlink modes and the kernel does not send that). */
	snprintf(name, sizeof(name), "%d", fd);
	return fchmodat(fs->proc_fd, name, mode, 0) ? -errno : 0;
}

int pt_setattr(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_setattr_in *in,
	       struct fuse_attr_out *out)
{
	struct handle *h = NULL;
	struct pt_node n;
	uint32_t v = in->valid;
	int err, hfd = -1;

	if ((err = pt_node_get(fs, rq->nodeid, &n)))
		return err;
	if (v & FATTR_FH) {
		h = handle_get(fs->handles, in->fh, false);
		if (!h) {
			err = -EBADF;
			goto out;
		}
		hfd = h->fd;
	}
	if (v & FATTR_MODE) {
		err = hfd >= 0 ? (fchmod(hfd, in->mode & 07777) ? -errno : 0) :
				 pt_chmod(fs, n.fd, in->mode & 07777);
		if (err)
			goto out;
	}
	if (v & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (v & FATTR_UID) ? in->uid : (uid_t)-1;
		gid_t gid = (v & FATTR_GID) ? in->gid : (gid_t)-1;

		if (fchownat(n.fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
			err = -errno;
			goto out;
		}
	}
	if (v & FATTR_SIZE) {
		int tfd = hfd;

		if (tfd < 0) {
			if (!S_ISREG(n.ino->mode)) {
				err = S_ISDIR(n.ino->mode) ? -EISDIR : -EINVAL;
				goto out;
			}
			tfd = pt_reopen(fs, n.fd, O_WRONLY);
			if (tfd < 0) {
				err = tfd;
				goto out;
			}
		}
		err = ftruncate(tfd, (off_t)in->size) ? -errno : 0;
		if (tfd != hfd)
			close(tfd);
		if (err)
			goto out;
	}
	/* The client asks us to drop set-id bits (truncate/chown by an unprivileged
	 * caller) unless it set the mode explicitly in the same request. */
	if (fs->killpriv_v2 && (v & FATTR_KILL_SUIDGID) && !(v & FATTR_MODE))
		pt_kill_suidgid(hfd, n.fd, rq, (v & (FATTR_UID | FATTR_GID)) && rq->uid == 0);
	if (v & (FATTR_ATIME | FATTR_MTIME)) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

		if (v & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (v & FATTR_ATIME)
			ts[0] = (struct timespec){ (time_t)in->atime, in->atimensec };
		if (v & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (v & FATTR_MTIME)
			ts[1] = (struct timespec){ (time_t)in->mtime, in->mtimensec };
		if ((ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW &&
		     (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)) ||
		    (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW &&
		     (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999))) {
			err = -EINVAL;
			goto out;
		}
		if (utimensat(n.fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
			err = -errno;
			goto out;
		}
	}
	/* FATTR_CTIME: the host updates ctime itself with every change above.
	 * FATTR_LOCKOWNER: only meaningful for mandatory locks, which Linux dropped. */
	err = pt_attr_reply(fs, n.ino, n.fd, out);
out:
	handle_put(fs->handles, h);
	pt_node_put(fs, &n);
	return err;
}

int pt_readlink(struct pt_fs *fs, const struct pt_req *rq, char *buf, size_t size)
{
	struct pt_node n;
	ssize_t len;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	len = readlinkat(n.fd, "", buf, size);
	err = len < 0 ? -errno : (size_t)len >= size ? -ENAMETOOLONG : (int)len;
	pt_node_put(fs, &n);
	return err;
}

/* Shared shape of MKNOD/MKDIR/SYMLINK: create as the caller, then look the name up. */
enum pt_make { PT_MKNOD, PT_MKDIR, PT_SYMLINK };

static int pt_make(struct pt_fs *fs, const struct pt_req *rq, enum pt_make kind, const char *name,
		   mode_t mode, dev_t rdev, const char *target, uint32_t umask_in,
		   struct fuse_entry_out *e)
{
	struct pt_node dir;
	struct pt_cred cred;
	int err;

	if ((err = pt_node_get(fs, rq->nodeid, &dir)))
		return err;
	if ((err = pt_cred_enter(fs, rq, umask_in, &mode, &cred)))
		goto out;
	switch (kind) {
	case PT_MKNOD:
		err = mknodat(dir.fd, name, mode, rdev);
		break;
	case PT_MKDIR:
		err = mkdirat(dir.fd, name, mode);
		break;
	case PT_SYMLINK:
		err = symlinkat(target, dir.fd, name);
		break;
	}
	err = err ? -errno : 0;
	pt_cred_exit(fs, &cred);
	if (!err)
		err = pt_lookup_in(fs, dir.ino, name, e);
out:
	pt_node_put(fs, &dir);
	return err;
}

int pt_symlink(struct pt_fs *fs, const struct pt_req *rq, const char *name, const char *target,
	       struct fuse_entry_out *e)
{
	return pt_make(fs, rq, PT_SYMLINK, name, 0, 0, target, 0, e);
}

int pt_mknod(struct pt_fs *fs, const struct pt_req *rq, const char *name, uint32_t mode,
	     uint32_t rdev, uint32_t umask_in, struct fuse_entry_out *e)
{
	/* Device nodes are created (a guest may want them) but never opened by us: the
	 * guest kernel handles opens of special files itself. */
	return pt_make(fs, rq, PT_MKNOD, name, mode, (dev_t)rdev, NULL, umask_in, e);
}

int pt_mkdir(struct pt_fs *fs, const struct pt_req *rq, const char *name, uint32_t mode,
	     uint32_t umask_in, struct fuse_entry_out *e)
{
	return pt_make(fs, rq, PT_MKDIR, name, mode & 07777, 0, NULL, umask_in, e);
}

int pt_unlink(struct pt_fs *fs, const struct pt_req *rq, const char *name, bool dir)
{
	struct pt_node n;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	err = unlinkat(n.fd, name, dir ? AT_REMOVEDIR : 0) ? -errno : 0;
	pt_node_put(fs, &n);
	return err;
}

int pt_rename(struct pt_fs *fs, const struct pt_req *rq, const char *name, uint64_t newdir,
	      const char *newname, uint32_t flags)
{
	struct pt_node a, b;
	int err = pt_node_get(fs, rq->nodeid, &a);

	if (err)
		return err;
	if ((err = pt_node_get(fs, newdir, &b))) {
		pt_node_put(fs, &a);
		return err;
	}
	err = renameat2(a.fd, name, b.fd, newname, flags) ? -errno : 0;
	pt_node_put(fs, &b);
	pt_node_put(fs, &a);
	return err;
}

int pt_link(struct pt_fs *fs, const struct pt_req *rq, uint64_t oldnode, const char *newname,
	    struct fuse_entry_out *e)
{
	struct pt_node old, dir;
	int err = pt_node_get(fs, oldnode, &old);

	if (err)
		return err;
	if ((err = pt_node_get(fs, rq->nodeid, &dir))) {
		pt_node_put(fs, &old);
		return err;
	}
	if (S_ISDIR(old.ino->mode)) {
		err = -EPERM;
	} else if (linkat(old.fd, "", dir.fd, newname, AT_EMPTY_PATH)) {
		char num[16];

		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; our own magic link does not. */
		snprintf(num, sizeof(num), "%d", old.fd);
		err = (errno == ENOENT || errno == EPERM) &&
		      !linkat(fs->proc_fd, num, dir.fd, newname, AT_SYMLINK_FOLLOW) ? 0 : -errno;
	}
	if (!err)
		err = pt_lookup_in(fs, dir.ino, newname, e);
	pt_node_put(fs, &dir);
	pt_node_put(fs, &old);
	return err;
}
