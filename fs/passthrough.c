/*
 * The passthrough file system (see fs/passthrough.h).
 *
 * Confinement: every inode is an O_PATH fd (or a file handle) obtained by opening ONE
 * validated name component relative to its parent's fd with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so a request can never walk out of the shared directory, and
 * symlinks are never followed by the server (the guest kernel resolves them itself).
 * Operations use the *at()/AT_EMPTY_PATH forms on those fds; where Linux has no such
 * form (reopening a file for I/O, xattrs, mode changes as fallback) we go through
 * /proc/self/fd/N with N one of OUR fds, never a string from the guest.
 *
 * Credentials: the guest kernel checks permissions (mounts use default_permissions), so
 * most operations run with the server's own rights. Operations that create inodes run
 * with the caller's fsuid/fsgid (per thread, raw syscalls) so new files get the right
 * owner and the host's own checks apply to the caller; supplementary groups are not
 * switched (the guest kernel already checked them; a set-gid parent still works).
 */
#include "fs/passthrough.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/handle.h"
#include "fs/inode.h"
#include "vmm/log.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#define PT_COPY_MAX (1ull << 30) /* one COPY_FILE_RANGE moves at most 1 GiB */

/*
 * FLUSH is close(2) of one descriptor. On a local disk or memory file system that has
 * no ->flush (ext2/3/4, xfs, btrfs, f2fs, tmpfs) and with no POSIX locks held for the
 * client (the flock option off: its kernel keeps the locks), our close(dup(fd)) does
 * nothing, so files there are opened with FOPEN_NOFLUSH and the client skips the round
 * trip on every close. NFS, CIFS or FUSE below the share (or a submount on another
 * device) keep FLUSH: their close reports write-back errors. Returns the root's device
 * when the root qualifies, else 0.
 */
static uint64_t pt_flush_noop_dev(const struct fs_options *o, int root)
{
	static const unsigned long local[] = {
		0xEF53,      /* ext2/3/4 */
		0x58465342,  /* xfs */
		0x9123683E,  /* btrfs */
		0xF2F52010,  /* f2fs */
		0x01021994,  /* tmpfs */
	};
	struct statfs sf;
	struct stat st;

	if (o->flock || fstatfs(root, &sf) || fstat(root, &st))
		return 0;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if ((unsigned long)sf.f_type == local[i])
			return st.st_dev ? (uint64_t)st.st_dev : 0;
	return 0;
}

int pt_fs_init(struct pt_fs *fs, const struct fs_options *o, char *err, size_t errlen)
{
	int root;

	memset(fs, 0, sizeof(*fs));
	fs->opt = *o;
	fs->dax_min = 64 << 10;
	if (fs->opt.posix_acl)
		fs->opt.xattr = true;
	fs->proc_fd = -1;
	root = open(o->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		snprintf(err, errlen, "cannot open shared directory '%s': %s", o->source,
			 strerror(errno));
		return -1;
	}
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		snprintf(err, errlen, "cannot open /proc/self/fd (is /proc mounted?): %s",
			 strerror(errno));
		close(root);
		return -1;
	}
	fs->ngroups = getgroups(0, NULL);
	if (fs->ngroups > 0) {
		fs->groups = calloc((size_t)fs->ngroups, sizeof(gid_t));
		if (!fs->groups || getgroups(fs->ngroups, fs->groups) != fs->ngroups)
			fs->ngroups = 0;
	} else {
		fs->ngroups = 0;
	}
	fs->noflush_dev = pt_flush_noop_dev(o, root);
	/* The file system ids of our threads while no caller's are taken (they follow
	 * the effective ids, which we never change). */
	fs->own_uid = geteuid();
	fs->own_gid = getegid();
	fs->inodes = inode_table_new(root, o->inode_file_handles, err, errlen);
	fs->handles = handle_table_new();
	fs->backings = backing_table_new();
	/* One budget for inode fds and one as large for open files (max_fds each). */
	if (fs->inodes && fs->handles) {
		uint64_t max = o->max_fds > 0 ? (uint64_t)o->max_fds : inode_default_max_fds();

		inode_table_set_max_fds(fs->inodes, max);
		handle_table_set_max(fs->handles, max);
	}
	if (!fs->inodes || !fs->handles || !fs->backings) {
		if (fs->inodes)
			snprintf(err, errlen, "out of memory");
		pt_fs_destroy(fs);
		return -1;
	}
	switch (o->cache) {
	case FS_CACHE_NEVER:
		fs->entry_timeout = fs->attr_timeout = 0;
		break;
	case FS_CACHE_AUTO:
		fs->entry_timeout = fs->attr_timeout = 1;
		break;
	case FS_CACHE_METADATA:
	case FS_CACHE_ALWAYS:
		fs->entry_timeout = fs->attr_timeout = 86400;
		break;
	}
	return 0;
}

void pt_fs_destroy(struct pt_fs *fs)
{
	inode_table_free(fs->inodes);
	handle_table_free(fs->handles);
	backing_table_free(fs->backings); /* after the handles that use it */
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	free(fs->groups);
	fs->groups = NULL;
	fs->inodes = NULL;
	fs->handles = NULL;
	fs->backings = NULL;
	fs->proc_fd = -1;
}

void pt_reset(struct pt_fs *fs)
{
	handle_remove_all(fs->handles);
	inode_forget_all(fs->inodes);
}

/* ---- helpers ---- */

/* Opens one component below dirfd without following any symlink or leaving dirfd. */
static int pt_openat(int dirfd, const char *name, int flags, mode_t mode)
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
static int pt_reopen(struct pt_fs *fs, int fd, int flags)
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

static int pt_statx(int fd, struct statx *stx)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BASIC_STATS | STATX_MNT_ID, stx))
		return -errno;
	return 0;
}

static void pt_fill_attr(const struct statx *stx, struct fuse_attr *a)
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
static uint32_t pt_dax_flag(struct pt_fs *fs, struct inode *ino, const struct statx *stx)
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
static int pt_entry_from_fd(struct pt_fs *fs, struct inode *dir, int fd, struct fuse_entry_out *e)
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
static int pt_lookup_in(struct pt_fs *fs, struct inode *dir, const char *name,
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

/*
 * Caller credentials for creating operations, per thread: fsuid/fsgid through the raw
 * system calls (glibc's wrappers would change every thread), and, when the client sent
 * the FUSE_CREATE_SUPP_GROUP extension, that one supplementary group (raw setgroups is
 * per thread too). Other supplementary groups are not carried by FUSE; the guest kernel
 * has already checked them (default_permissions).
 */
struct pt_cred {
	uid_t uid;
	gid_t gid;
	bool set;
	bool groups_set;
};

static void pt_cred_exit(struct pt_fs *fs, struct pt_cred *save)
{
	if (save->groups_set)
		syscall(SYS_setgroups, (size_t)fs->ngroups, fs->groups);
	if (save->set) {
		syscall(SYS_setfsuid, save->uid);
		syscall(SYS_setfsgid, save->gid);
	}
	save->set = save->groups_set = false;
}

static int pt_cred_enter(struct pt_fs *fs, const struct pt_req *rq, uint32_t umask_in,
			 mode_t *mode, struct pt_cred *save)
{
	static _Thread_local int unshared; /* 0 untried, 1 own umask, -1 unshare failed */
	static _Thread_local int cur_umask = -1; /* this thread's umask, once set */

	save->set = save->groups_set = false;
	/* With DONT_MASK the client leaves the umask to us: apply it through this thread's
	 * own umask, so default ACLs of the parent win like on a local file system. */
	if (!unshared)
		unshared = unshare(CLONE_FS) == 0 ? 1 : -1;
	if (unshared > 0) {
		int want = fs->dont_mask ? (int)(umask_in & 0777) : 0;

		/* Only this thread changes its own umask: skip the call when it is set. */
		if (want != cur_umask)
			umask((mode_t)want);
		cur_umask = want;
	} else if (fs->dont_mask)
		*mode &= ~(mode_t)(umask_in & 0777);
	/* A caller with our own ids (root on a root server, the common case) needs no
	 * switch: four set*id calls and two checks saved per create. */
	if (!rq->has_supp_gid && rq->uid == fs->own_uid && rq->gid == fs->own_gid)
		return 0;
	if (rq->has_supp_gid) {
		gid_t g = rq->supp_gid;

		if (syscall(SYS_setgroups, (size_t)1, &g))
			return -errno;
		save->groups_set = true;
	}
	save->gid = (gid_t)syscall(SYS_setfsgid, rq->gid);
	save->uid = (uid_t)syscall(SYS_setfsuid, rq->uid);
	save->set = true;
	/* setfsuid reports no errors: check that the switch happened. */
	if ((uid_t)syscall(SYS_setfsuid, -1) != rq->uid || (gid_t)syscall(SYS_setfsgid, -1) != rq->gid) {
		pt_cred_exit(fs, save);
		return -EPERM;
	}
	return 0;
}

/*
 * HANDLE_KILLPRIV_V2: the server drops set-uid/set-gid after a write, truncate or
 * open(O_TRUNC) when the client asks (the caller lacks CAP_FSETID). Like Linux >= 6.2
 * (setattr_should_drop_sgid): set-uid always goes; set-gid goes when group-exec is set,
 * or when the caller is neither in the file's group nor capable. We only know the
 * caller's primary and creating group, so a member through another supplementary group
 * loses set-gid too. The client's write/truncate/open flags already mean "not capable";
 * a chown it flags always, so there the caller passes capable (uid 0: we cannot see
 * CAP_FSETID) and a chown by root keeps set-gid without group-exec, as on ext4.
 */
static bool pt_kill_suidgid(int fd, int pathfd, const struct pt_req *rq, bool capable)
{
	struct statx stx;
	mode_t m, nm;

	if (pt_statx(fd >= 0 ? fd : pathfd, &stx) || !S_ISREG(stx.stx_mode))
		return false;
	m = stx.stx_mode & 07777;
	nm = m & ~(mode_t)S_ISUID;
	if ((m & S_IXGRP) || (!capable && rq->gid != stx.stx_gid &&
			      !(rq->has_supp_gid && rq->supp_gid == stx.stx_gid)))
		nm &= ~(mode_t)S_ISGID;
	if (nm == m)
		return false;
	if (fd >= 0) {
		if (fchmod(fd, nm)) {
			log_debug("fs: clearing set-id bits: %s", strerror(errno));
			return false;
		}
		return true;
	}
	return syscall(SYS_fchmodat2, pathfd, "", nm, AT_EMPTY_PATH) == 0;
}

/* Set-id bits went while the reply carries no attributes: tell the client if we can. */
static void pt_kill_suidgid_notify(struct pt_fs *fs, int fd, const struct pt_req *rq,
				   uint64_t nodeid)
{
	if (pt_kill_suidgid(fd, -1, rq, false) && fs->inval_attr)
		fs->inval_attr(fs->inval_opaque, nodeid);
}

/* A referenced inode and its fd, for the common "operate on nodeid" shape. */
struct pt_node {
	struct inode *ino;
	int fd;
};

static int pt_node_get(struct pt_fs *fs, uint64_t nodeid, struct pt_node *n)
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

static void pt_node_put(struct pt_fs *fs, struct pt_node *n)
{
	if (!n->ino)
		return;
	inode_fd_put(n->ino, n->fd);
	inode_put(fs->inodes, n->ino);
	n->ino = NULL;
}

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

static int pt_chmod(struct pt_fs *fs, int fd, mode_t mode)
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

/* ---- directories ---- */

int pt_readdir(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_read_in *in,
	       bool plus, struct fuse_iov *out)
{
	struct handle *h = handle_get(fs->handles, in->fh, true);
	struct inode *dir = NULL;
	char buf[16384] __attribute__((aligned(8)));
	size_t written = 0;
	int err = 0;
	bool full = false;

	if (!h)
		return -EBADF;
	if (plus && !(dir = inode_get(fs->inodes, rq->nodeid))) {
		handle_put(fs->handles, h);
		return -ESTALE;
	}
	pthread_mutex_lock(&h->lock);
	/* Offsets are the host's d_off cookies: seek to where the client wants to be. */
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0) {
		err = -errno;
		goto out;
	}
	while (!full) {
		ssize_t n = getdents64(h->fd, buf, sizeof(buf));

		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			size_t nl = strlen(d->d_name);
			size_t rec = plus ? FUSE_REC_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nl) :
					    FUSE_REC_ALIGN(FUSE_NAME_OFFSET + nl);
			struct fuse_direntplus dp;
			struct fuse_dirent *de = plus ? &dp.dirent : (struct fuse_dirent *)&dp.dirent;
			static const char pad[8];

			pos += d->d_reclen;
			if (rec > fuse_iov_left(out)) {
				full = true;
				break;
			}
			memset(&dp, 0, sizeof(dp));
			de->ino = d->d_ino;
			de->off = (uint64_t)d->d_off;
			de->namelen = (uint32_t)nl;
			de->type = d->d_type;
			if (plus && strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
				int lerr = pt_lookup_in(fs, dir, d->d_name, &dp.entry_out);

				/* Raced with an unlink on the host: skip the name. */
				if (lerr == -ENOENT)
					continue;
				if (lerr) {
					err = written ? 0 : lerr;
					full = true;
					break;
				}
			}
			/* Space was checked above, so these writes cannot fail. */
			if (plus)
				fuse_iov_write(out, &dp, FUSE_NAME_OFFSET_DIRENTPLUS);
			else
				fuse_iov_write(out, de, FUSE_NAME_OFFSET);
			fuse_iov_write(out, d->d_name, nl);
			fuse_iov_write(out, pad, rec - (plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) - nl);
			written += rec;
		}
	}
out:
	pthread_mutex_unlock(&h->lock);
	if (dir)
		inode_put(fs->inodes, dir);
	handle_put(fs->handles, h);
	return err ? err : (int)written;
}

int pt_access(struct pt_fs *fs, const struct pt_req *rq, uint32_t mask)
{
	struct pt_node n;
	struct statx stx;
	uint32_t bits;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	err = pt_statx(n.fd, &stx);
	pt_node_put(fs, &n);
	if (err || !(mask & 7))
		return err;
	/* Only sent without default_permissions: check the mode bits for the caller. */
	if (rq->uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(stx.stx_mode) && !(stx.stx_mode & 0111))
			return -EACCES;
		return 0;
	}
	bits = rq->uid == stx.stx_uid ? (stx.stx_mode >> 6) :
	       rq->gid == stx.stx_gid ? (stx.stx_mode >> 3) : stx.stx_mode;
	return (mask & 7 & ~bits) ? -EACCES : 0;
}

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

struct handle *pt_handle_get(struct pt_fs *fs, uint64_t fh)
{
	return handle_get(fs->handles, fh, false);
}

void pt_handle_put(struct pt_fs *fs, struct handle *h)
{
	handle_put(fs->handles, h);
}
