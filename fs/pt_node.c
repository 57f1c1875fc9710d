/*
 * Passthrough helpers on inodes: confined openat2, reopening, statx to FUSE
 * attributes and entries, lookup of one name, and the nodeid to fd reference.
 */
#include "fs/passthrough_int.h"

#include <errno.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- helpers ---- */

/* Opens one component below dirfd without following any symlink or leaving dirfd. */
int pt_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC | O_NOFOLLOW,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode);
	return fd < 0 ? -errno : (int)fd;
}

/* Reopens one of our own fds with new flags through /proc/self/fd/N. */
int pt_reopen(struct pt_fs *fs, int fd, int flags)
{
	char name[16];
	int r;

	snprintf(name, sizeof(name), "%d", fd);
	r = openat(fs->proc_fd, name, (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL)) | O_CLOEXEC);
	/* O_NOATIME (the mount's noatime) needs ownership or CAP_FOWNER: without them the
	 * open still happens, with atime updates. */
	if (r < 0 && errno == EPERM && (flags & O_NOATIME))
		return pt_reopen(fs, fd, flags & ~O_NOATIME);
	return r < 0 ? -errno : r;
}

int pt_statx(int fd, struct statx *stx)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BASIC_STATS | STATX_MNT_ID, stx))
		return -errno;
	return 0;
}

void pt_fill_attr(const struct statx *stx, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = stx->stx_ino;
	a->size = stx->stx_size;
	a->blocks = stx->stx_blocks;
	a->atime = (uint64_t)stx->stx_atime.tv_sec;
	a->atimensec = stx->stx_atime.tv_nsec;
	a->mtime = (uint64_t)stx->stx_mtime.tv_sec;
	a->mtimensec = stx->stx_mtime.tv_nsec;
	a->ctime = (uint64_t)stx->stx_ctime.tv_sec;
	a->ctimensec = stx->stx_ctime.tv_nsec;
	a->mode = stx->stx_mode;
	a->nlink = stx->stx_nlink;
	a->uid = stx->stx_uid;
	a->gid = stx->stx_gid;
	a->rdev = (uint32_t)makedev(stx->stx_rdev_major, stx->stx_rdev_minor);
	a->blksize = stx->stx_blksize;
}

/* FUSE_ATTR_DAX for ino: regular files of at least dax_min bytes, decided at the first
 * reply and kept (a flag that flips makes the guest drop and rebuild its inode). */
uint32_t pt_dax_flag(struct pt_fs *fs, struct inode *ino, const struct statx *stx)
{
	uint8_t want, cur;

	if (!fs->dax_inode)
		return 0;
	cur = __atomic_load_n(&ino->dax, __ATOMIC_RELAXED);
	if (!cur) {
		want = S_ISREG(stx->stx_mode) && stx->stx_size >= fs->dax_min ? 2 : 1;
		/* First decider wins; a racing reply uses the winner's choice. */
		if (!__atomic_compare_exchange_n(&ino->dax, &cur, want, false, __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
			want = cur;
		cur = want;
	}
	return cur == 2 ? FUSE_ATTR_DAX : 0;
}

static void pt_fill_entry(struct pt_fs *fs, struct inode *ino, const struct statx *stx,
			  struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = ino->nodeid;
	e->generation = ino->nodeid >> 32;
	e->entry_valid = fs->entry_timeout;
	e->attr_valid = fs->attr_timeout;
	pt_fill_attr(stx, &e->attr);
	if (fs->submounts && ino->submount && S_ISDIR(ino->mode))
		e->attr.flags |= FUSE_ATTR_SUBMOUNT;
	e->attr.flags |= pt_dax_flag(fs, ino, stx);
}

/* Registers fd (consumed) as a child of dir and fills the entry reply. */
int pt_entry_from_fd(struct pt_fs *fs, struct inode *dir, int fd, struct fuse_entry_out *e)
{
	struct statx stx;
	struct inode *ino;
	int err = pt_statx(fd, &stx);

	if (err) {
		close(fd);
		return err;
	}
	ino = inode_add(fs->inodes, fd, &stx, dir->mnt_id);
	if (!ino)
		return -errno;
	pt_fill_entry(fs, ino, &stx, e);
	inode_put(fs->inodes, ino);
	return 0;
}

/* Looks a name up in dir (a referenced inode): the core of LOOKUP and friends. */
int pt_lookup_in(struct pt_fs *fs, struct inode *dir, const char *name,
			struct fuse_entry_out *e)
{
	int dfd = inode_fd(fs->inodes, dir), fd;

	if (dfd < 0)
		return dfd;
	if (!strcmp(name, ".") || (!strcmp(name, "..") && dir->nodeid == FUSE_ROOT_ID_VALUE)) {
		/* ".." of the root is the root: nothing above the share is reachable. */
		fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
		fd = fd < 0 ? -errno : fd;
	} else if (!strcmp(name, "..")) {
		/* Only sent for NFS-style reconnection (EXPORT_SUPPORT); the child is inside
		 * the share, so its parent is too unless the host moved it meanwhile. */
		fd = openat(dfd, "..", O_PATH | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY);
		fd = fd < 0 ? -errno : fd;
	} else {
		fd = pt_openat(dfd, name, O_PATH, 0);
	}
	inode_fd_put(dir, dfd);
	if (fd < 0)
		return fd;
	return pt_entry_from_fd(fs, dir, fd, e);
}

int pt_node_get(struct pt_fs *fs, uint64_t nodeid, struct pt_node *n)
{
	n->ino = inode_get(fs->inodes, nodeid);
	if (!n->ino)
		return -ESTALE;
	n->fd = inode_fd(fs->inodes, n->ino);
	if (n->fd < 0) {
		int err = n->fd;

		inode_put(fs->inodes, n->ino);
		n->ino = NULL;
		return err;
	}
	return 0;
}

void pt_node_put(struct pt_fs *fs, struct pt_node *n)
{
	if (!n->ino)
		return;
	inode_fd_put(n->ino, n->fd);
	inode_put(fs->inodes, n->ino);
	n->ino = NULL;
}
