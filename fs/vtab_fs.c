/* The version table in the file server (see fs/vtab_fs.h). */
#include "fs/vtab_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/handle.h"
#include "fs/inode.h"
#include "fs/passthrough.h"
#include "fs/vtab_watch.h"
#include "vmm/log.h"

/* Starts the fanotify helper; without it, say so once per process and mark records. */
static void vtfs_watch(struct pt_fs *fs, int root_fd)
{
	static int said;
	char why[256];

	fs->vtw = vtab_watch_start(fs->vt, root_fd, why, sizeof(why));
	if (fs->vtw)
		return;
	fs->vt_timed = true;
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		log_warn("fs: version table without a fanotify helper (%s%s): changes by other "
			 "host processes reach guests only after the attribute timeouts", why,
			 errno == EPERM ? ", needs CAP_SYS_ADMIN" : "");
}

int vtfs_attach(struct pt_fs *fs, char *err, size_t errlen)
{
	struct inode *root;
	int fd;

	if (!fs->opt.versions)
		return 0;
	root = inode_get(fs->inodes, FUSE_ROOT_ID_VALUE);
	fd = root ? inode_fd(fs->inodes, root) : -ESTALE;
	if (fd >= 0) {
		fs->vt = vtab_open(fd, NULL, (uint64_t)fs->opt.vt_slots, err, errlen);
		if (fs->vt && fs->opt.vt_watch)
			vtfs_watch(fs, fd);
		inode_fd_put(root, fd);
	}
	inode_put(fs->inodes, root);
	if (!fs->vt)
		return -1;
	inode_table_set_vtab(fs->inodes, fs->vt);
	log_debug("fs: version table %s (%llu slots)", vtab_path(fs->vt),
		  (unsigned long long)vtab_nslots(fs->vt));
	return 0;
}

void vtfs_detach(struct pt_fs *fs)
{
	vtab_watch_stop(fs->vtw);
	fs->vtw = NULL;
	vtab_close(fs->vt);
	fs->vt = NULL;
}

void vtfs_bump_slot(struct pt_fs *fs, uint64_t slot, unsigned what)
{
	vtab_bump(fs->vt, slot, what);
}

/* The slot of a node id (0: unknown node, or no table). */
static uint64_t vtfs_node_slot(struct pt_fs *fs, uint64_t nodeid)
{
	struct inode *ino;
	uint64_t slot;

	if (!fs->vt || !(ino = inode_get(fs->inodes, nodeid)))
		return 0;
	slot = ino->vt_slot;
	inode_put(fs->inodes, ino);
	return slot;
}

void vtfs_bump_node(struct pt_fs *fs, uint64_t nodeid, unsigned what)
{
	vtab_bump(fs->vt, vtfs_node_slot(fs, nodeid), what);
}

/* The slot of the file an fh is open on: from its node, or (node forgotten) from the
 * open file itself. Never from the request's node id, which a guest can set to any
 * other node to hide a change from the other guests. */
static uint64_t vtfs_fh_slot(struct pt_fs *fs, uint64_t fh)
{
	struct handle *h;
	uint64_t slot = 0;

	if (!fs->vt || !(h = pt_handle_get(fs, fh)))
		return 0;
	slot = vtfs_node_slot(fs, h->nodeid);
	if (!slot) {
		struct stat st;

		if (!fstat(h->fd, &st))
			slot = vtab_slot(fs->vt, st.st_dev, st.st_ino, 0);
	}
	pt_handle_put(fs, h);
	return slot;
}

void vtfs_bump_fh(struct pt_fs *fs, uint64_t fh, unsigned what)
{
	vtab_bump(fs->vt, vtfs_fh_slot(fs, fh), what);
}

void vtfs_volatile_node(struct pt_fs *fs, uint64_t nodeid)
{
	vtab_meta_flags(fs->vt, vtfs_node_slot(fs, nodeid), VTAB_META_VOLATILE, 0);
}

uint64_t vtfs_child_slot(struct pt_fs *fs, uint64_t parent, const char *name)
{
	struct inode *dir;
	struct stat st;
	uint64_t slot = 0;
	int fd;

	if (!fs->vt || !(dir = inode_get(fs->inodes, parent)))
		return 0;
	fd = inode_fd(fs->inodes, dir);
	/* name is one validated component (fs/fuse_server.c): no walk, no symlink. */
	if (fd >= 0 && !fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW))
		slot = vtab_slot(fs->vt, st.st_dev, st.st_ino, 0);
	inode_fd_put(dir, fd);
	inode_put(fs->inodes, dir);
	return slot;
}

void vtfs_snapshot(struct pt_fs *fs, uint64_t nodeid, struct nook_vt_entry_out *rec)
{
	vtab_read(fs->vt, vtfs_node_slot(fs, nodeid), rec);
	if (rec->slot && fs->vt_timed)
		rec->slot |= NOOK_VT_TIMED;
}

int vtfs_snapshot_restat(struct pt_fs *fs, uint64_t nodeid, struct fuse_attr *attr,
			 struct nook_vt_entry_out *rec)
{
	struct pt_req rq = { .nodeid = nodeid };
	struct fuse_getattr_in in = { 0 };
	struct fuse_attr_out out;
	uint32_t flags = attr->flags;
	int err;

	vtfs_snapshot(fs, nodeid, rec);
	err = pt_getattr(fs, &rq, &in, &out);
	if (err) {
		/* Gone meanwhile: the reply keeps the attributes the operation read, so
		 * the record cannot vouch for them. */
		rec->slot = 0;
		return err;
	}
	*attr = out.attr;
	attr->flags = flags;
	return 0;
}
