/*
 * Passthrough extended attributes, through /proc/self/fd/N of our O_PATH fd.
 */
#include "fs/passthrough_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

/* ---- extended attributes: through /proc/self/fd/N of our O_PATH fd ---- */

static bool pt_xattr_refused(struct pt_fs *fs, const char *name)
{
	/* Without posix_acl the guest does not enforce ACLs: do not let it store any. */
	return !fs->opt.posix_acl && !strncmp(name, "system.posix_acl_", 17);
}

static void pt_proc_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

int pt_setxattr(struct pt_fs *fs, const struct pt_req *rq, const char *name, const void *value,
		size_t size, uint32_t flags, uint32_t setxattr_flags)
{
	struct pt_node n;
	char path[32];
	int err;

	if (pt_xattr_refused(fs, name))
		return -EOPNOTSUPP;
	if (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((err = pt_node_get(fs, rq->nodeid, &n)))
		return err;
	pt_proc_path(n.fd, path, sizeof(path));
	err = setxattr(path, name, value, size, (int)flags) ? -errno : 0;
	/* FUSE_SETXATTR_ACL_KILL_SGID: an ACL change by a caller outside the owning group
	 * drops set-gid, as the guest kernel asked; on directories too, like ext4's
	 * posix_acl_update_mode() (a symlink cannot carry an ACL). */
	if (!err && (setxattr_flags & FUSE_SETXATTR_ACL_KILL_SGID) && !S_ISLNK(n.ino->mode)) {
		struct statx stx;

		if (!pt_statx(n.fd, &stx) && (stx.stx_mode & S_ISGID))
			pt_chmod(fs, n.fd, stx.stx_mode & 07777 & ~S_ISGID);
	}
	pt_node_put(fs, &n);
	return err;
}

int pt_getxattr(struct pt_fs *fs, const struct pt_req *rq, const char *name, void *buf, size_t size)
{
	struct pt_node n;
	char path[32];
	ssize_t r;
	int err;

	if (pt_xattr_refused(fs, name))
		return -EOPNOTSUPP;
	if ((err = pt_node_get(fs, rq->nodeid, &n)))
		return err;
	pt_proc_path(n.fd, path, sizeof(path));
	r = getxattr(path, name, buf, size);
	err = r < 0 ? -errno : (int)r;
	pt_node_put(fs, &n);
	return err;
}

int pt_listxattr(struct pt_fs *fs, const struct pt_req *rq, char *buf, size_t size)
{
	struct pt_node n;
	char path[32];
	ssize_t r;
	int err;

	if ((err = pt_node_get(fs, rq->nodeid, &n)))
		return err;
	pt_proc_path(n.fd, path, sizeof(path));
	r = listxattr(path, buf, size);
	err = r < 0 ? -errno : (int)r;
	pt_node_put(fs, &n);
	if (err > 0 && buf && !fs->opt.posix_acl) {
		/* Hide ACL names we refuse to serve (the size probe may overestimate). */
		size_t in = 0, out = 0, len = (size_t)err;

		while (in < len) {
			size_t l = strnlen(buf + in, len - in) + 1;

			if (strncmp(buf + in, "system.posix_acl_", 17)) {
				memmove(buf + out, buf + in, l);
				out += l;
			}
			in += l;
		}
		err = (int)out;
	}
	return err;
}

int pt_removexattr(struct pt_fs *fs, const struct pt_req *rq, const char *name)
{
	struct pt_node n;
	char path[32];
	int err;

	if (pt_xattr_refused(fs, name))
		return -EOPNOTSUPP;
	if ((err = pt_node_get(fs, rq->nodeid, &n)))
		return err;
	pt_proc_path(n.fd, path, sizeof(path));
	err = removexattr(path, name) ? -errno : 0;
	pt_node_put(fs, &n);
	return err;
}
