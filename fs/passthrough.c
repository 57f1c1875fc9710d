/*
 * The passthrough file system (see fs/passthrough.h): setup, teardown and handle
 * access here; the operations in fs/pt_*.c, their shared helpers in fs/passthrough_int.h.
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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs/handle.h"
#include "fs/passthrough_int.h"
#include "vmm/landlock.h"

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
	/* In the sandbox, server threads may open nothing outside their shares (Landlock). */
	if (landlock_allow_share(root)) {
		snprintf(err, errlen, "cannot add a Landlock rule for '%s'", o->source);
		close(root);
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

struct handle *pt_handle_get(struct pt_fs *fs, uint64_t fh)
{
	return handle_get(fs->handles, fh, false);
}

void pt_handle_put(struct pt_fs *fs, struct handle *h)
{
	handle_put(fs->handles, h);
}
