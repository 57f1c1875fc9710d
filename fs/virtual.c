/* Virtual files of a share's root directory (see fs/virtual.h). */
#include "fs/virtual.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIRT_BLKSIZE 4096u

/* The one check of a guest-supplied node id or fh against the virtual range. */
static const struct virt_file *virt_file_of(const struct virt_table *vt, uint64_t id)
{
	/* An id below the base wraps around to a huge index. */
	uint64_t i = id - VIRT_ID_BASE;

	return i < vt->count ? &vt->file[i] : NULL;
}

static uint64_t virt_id(const struct virt_table *vt, const struct virt_file *f)
{
	return VIRT_ID_BASE + (uint64_t)(f - vt->file);
}

static const struct virt_file *virt_by_name(const struct virt_table *vt, const char *name)
{
	for (unsigned i = 0; i < vt->count; i++)
		if (!strcmp(vt->file[i].name, name))
			return &vt->file[i];
	return NULL;
}

int virt_add(struct virt_table *vt, const char *name, const void *data, size_t len, unsigned mode)
{
	size_t nl = name ? strnlen(name, NAME_MAX + 1) : 0;
	struct virt_file *f;

	/* A name a LOOKUP can carry ("." and ".." are the directories themselves). Only
	 * permission bits: the guest gets no set-id file from us. */
	if (nl == 0 || nl > NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || (mode & ~0777u) || (len && !data))
		return -EINVAL;
	if (virt_by_name(vt, name))
		return -EEXIST;
	if (vt->count == VIRT_MAX)
		return -ENOSPC;
	f = &vt->file[vt->count];
	f->data = malloc(len ? len : 1);
	if (!f->data)
		return -ENOMEM;
	if (len)
		memcpy(f->data, data, len);
	memcpy(f->name, name, nl + 1);
	f->len = len;
	f->mode = S_IFREG | mode;
	/* Added while the server is set up: its start time, for every timestamp. */
	clock_gettime(CLOCK_REALTIME, &f->time);
	vt->count++;
	return 0;
}

void virt_free(struct virt_table *vt)
{
	for (unsigned i = 0; i < vt->count; i++)
		free(vt->file[i].data);
	memset(vt, 0, sizeof(*vt));
}

static void virt_attr(const struct virt_table *vt, const struct virt_file *f, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	/* The node id doubles as a stable inode number, in a range that host file
	 * systems do not reach in practice. */
	a->ino = virt_id(vt, f);
	a->size = f->len;
	/* 512-byte units of whole 4 KiB blocks, like a local file system would report. */
	a->blocks = (f->len / VIRT_BLKSIZE + (f->len % VIRT_BLKSIZE != 0)) * (VIRT_BLKSIZE / 512);
	a->atime = a->mtime = a->ctime = (uint64_t)f->time.tv_sec;
	a->atimensec = a->mtimensec = a->ctimensec = (uint32_t)f->time.tv_nsec;
	a->mode = f->mode;
	a->nlink = 1;
	a->blksize = VIRT_BLKSIZE;
	/* uid, gid and rdev stay 0: owned by root. */
}

bool virt_lookup(const struct virt_table *vt, const struct pt_fs *fs, uint64_t parent,
		 const char *name, struct fuse_entry_out *e)
{
	const struct virt_file *f = parent == FUSE_ROOT_ID ? virt_by_name(vt, name) : NULL;

	if (!f)
		return false;
	memset(e, 0, sizeof(*e));
	e->nodeid = virt_id(vt, f);
	/* generation 0: the id is never reused for another file. Timeouts as the share's
	 * other entries, so the cache mode means the same for every name. */
	e->entry_valid = fs->entry_timeout;
	e->attr_valid = fs->attr_timeout;
	virt_attr(vt, f, &e->attr);
	return true;
}

int virt_check_entry(const struct virt_table *vt, uint64_t parent, const char *name)
{
	if (virt_file_of(vt, parent))
		return -ENOTDIR;
	return parent == FUSE_ROOT_ID && virt_by_name(vt, name) ? -EPERM : 0;
}

static int64_t virt_reply(struct fuse_iov *out, const void *body, size_t len)
{
	return fuse_iov_write(out, body, len) ? -EIO : (int64_t)len;
}

static int64_t virt_attr_reply(const struct virt_table *vt, const struct pt_fs *fs,
			       const struct virt_file *f, struct fuse_iov *out)
{
	struct fuse_attr_out a = { .attr_valid = fs->attr_timeout };

	virt_attr(vt, f, &a.attr);
	return virt_reply(out, &a, sizeof(a));
}

/* READ: whatever offset and size the guest asks for, bounded by the data and the reply
 * room (short at the end of the data, empty past it). */
static int64_t virt_read(const struct virt_file *f, const struct fuse_read_in *in,
			 struct fuse_iov *out)
{
	size_t n;

	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;	/* as for host files */
	if (in->offset >= f->len)
		return 0;
	n = f->len - (size_t)in->offset;
	if (n > in->size)
		n = in->size;
	if (n > fuse_iov_left(out))
		n = fuse_iov_left(out);
	return virt_reply(out, f->data + in->offset, n);
}

/* LSEEK (the client sends SEEK_DATA and SEEK_HOLE): all data, one hole at the end. */
static int64_t virt_lseek(const struct virt_file *f, const struct fuse_lseek_in *in,
			  struct fuse_iov *out)
{
	struct fuse_lseek_out o = { 0 };
	uint64_t len = f->len;

	if (in->offset > (uint64_t)INT64_MAX)
		return -ENXIO;	/* as for host files */
	switch (in->whence) {
	case SEEK_SET:
	case SEEK_CUR:	/* no position kept here: relative to 0, like a fresh fd */
		o.offset = in->offset;
		break;
	case SEEK_END:
		if (in->offset > (uint64_t)INT64_MAX - len)
			return -EOVERFLOW;
		o.offset = len + in->offset;
		break;
	case SEEK_DATA:
	case SEEK_HOLE:
		if (in->offset >= len)
			return -ENXIO;
		o.offset = in->whence == SEEK_DATA ? in->offset : len;
		break;
	default:
		return -EINVAL;
	}
	return virt_reply(out, &o, sizeof(o));
}

/* ACCESS (only sent without default_permissions): never writable; owner and group are
 * root, so the caller's class picks the bits as in pt_access. */
static int virt_access(const struct pt_fs *fs, const struct virt_file *f,
		       const struct pt_req *rq, uint32_t mask)
{
	uint32_t bits;

	if (mask & W_OK)
		return fs->opt.readonly ? -EROFS : -EACCES;
	if (rq->uid == 0)
		return (mask & X_OK) && !(f->mode & 0111) ? -EACCES : 0;
	bits = rq->gid == 0 ? f->mode >> 3 : f->mode;
	return (mask & (R_OK | X_OK) & ~bits) ? -EACCES : 0;
}

static int64_t virt_open(const struct virt_table *vt, const struct pt_fs *fs,
			 const struct virt_file *f, const struct fuse_open_in *in,
			 struct fuse_iov *out)
{
	struct fuse_open_out o = { .fh = virt_id(vt, f) };

	if ((in->flags & O_ACCMODE) != O_RDONLY || (in->flags & O_TRUNC))
		return fs->opt.readonly ? -EROFS : -EACCES;
	/* The data never changes: keep the page cache across opens and skip FLUSH. Never
	 * DIRECT_IO: the guest kernel maps an executable's text from the page cache. */
	o.open_flags = FOPEN_KEEP_CACHE | FOPEN_NOFLUSH;
	return virt_reply(out, &o, sizeof(o));
}

static int64_t virt_listxattr(const struct fuse_getxattr_in *in, struct fuse_iov *out)
{
	struct fuse_getxattr_out o = { 0 };

	/* Size 0 asks for the size of the list: 0, and the list itself is empty. */
	return in->size ? 0 : virt_reply(out, &o, sizeof(o));
}

static int64_t virt_statfs(struct pt_fs *fs, const struct pt_req *rq, struct fuse_iov *out)
{
	struct pt_req root = *rq;
	struct fuse_statfs_out st;
	int err;

	/* statfs(2) of the file: the share's figures, which the root answers for. */
	root.nodeid = FUSE_ROOT_ID;
	err = pt_statfs(fs, &root, &st);
	return err ? err : virt_reply(out, &st, sizeof(st));
}

/* Opcodes that name an open file by its fh: a virtual fh is an open of that file. */
static bool virt_fh_request(const struct virt_table *vt, uint32_t opcode, const void *arg,
			    struct fuse_iov *out, int64_t *r)
{
	const struct virt_file *f;
	uint64_t fh;

	switch (opcode) {
	case FUSE_READ:
		fh = ((const struct fuse_read_in *)arg)->fh;
		break;
	case FUSE_FLUSH:
		fh = ((const struct fuse_flush_in *)arg)->fh;
		break;
	case FUSE_RELEASE:
		fh = ((const struct fuse_release_in *)arg)->fh;
		break;
	case FUSE_FSYNC:
		fh = ((const struct fuse_fsync_in *)arg)->fh;
		break;
	case FUSE_LSEEK:
		fh = ((const struct fuse_lseek_in *)arg)->fh;
		break;
	case FUSE_FALLOCATE:
		fh = ((const struct fuse_fallocate_in *)arg)->fh;
		break;
	case FUSE_COPY_FILE_RANGE:
	case FUSE_ABI_OP_COPY_FILE_RANGE_64: {
		const struct fuse_copy_file_range_in *in = arg;

		if (virt_file_of(vt, in->fh_out)) {
			*r = -EPERM;
			return true;
		}
		/* Out of a virtual file: EOPNOTSUPP makes the client copy through READ
		 * and WRITE (ENOSYS would turn the call off for the whole mount). */
		if (virt_file_of(vt, in->fh_in)) {
			*r = -EOPNOTSUPP;
			return true;
		}
		return false;
	}
	default:
		/* Locks, DAX mappings, WRITE, directory fhs: the handle table refuses a
		 * virtual fh as unknown (EBADF); none is sent for a read-only open. */
		return false;
	}
	if (!(f = virt_file_of(vt, fh)))
		return false;
	switch (opcode) {
	case FUSE_READ:
		*r = virt_read(f, arg, out);
		break;
	case FUSE_LSEEK:
		*r = virt_lseek(f, arg, out);
		break;
	case FUSE_FALLOCATE:
		*r = -EPERM;
		break;
	default:
		*r = 0;	/* FLUSH, RELEASE, FSYNC: nothing to write back or close */
		break;
	}
	return true;
}

/* Opcodes that name a node by the header's node id. */
static bool virt_node_request(const struct virt_table *vt, struct pt_fs *fs,
			      const struct pt_req *rq, uint32_t opcode, const void *arg,
			      struct fuse_iov *out, int64_t *r)
{
	const struct virt_file *f = virt_file_of(vt, rq->nodeid);
	bool xattr = fs->opt.xattr;
	int64_t eperm = fs->opt.readonly ? -EROFS : -EPERM;

	if (!f)
		return false;
	switch (opcode) {
	case FUSE_GETATTR:
		*r = virt_attr_reply(vt, fs, f, out);
		break;
	case FUSE_SETATTR:
		/* Nothing may change; a SETATTR asking for no change reads the attributes. */
		*r = ((const struct fuse_setattr_in *)arg)->valid ? eperm :
		     virt_attr_reply(vt, fs, f, out);
		break;
	case FUSE_OPEN:
		*r = virt_open(vt, fs, f, arg, out);
		break;
	case FUSE_ACCESS:
		*r = virt_access(fs, f, rq, ((const struct fuse_access_in *)arg)->mask);
		break;
	case FUSE_READLINK:
		*r = -EINVAL;	/* not a symlink */
		break;
	case FUSE_STATFS:
		*r = virt_statfs(fs, rq, out);
		break;
	/* Without the xattr option every xattr request is ENOSYS, as for host files. */
	case FUSE_GETXATTR:
		*r = xattr ? -ENODATA : -ENOSYS;
		break;
	case FUSE_LISTXATTR:
		*r = xattr ? virt_listxattr(arg, out) : -ENOSYS;
		break;
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
		*r = xattr ? -EPERM : -ENOSYS;
		break;
	/* The file as a directory. */
	case FUSE_LOOKUP:
	case FUSE_OPENDIR:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		*r = -ENOTDIR;
		break;
	default:
		/* FORGET, SYNCFS and the rest: the inode table refuses the id as unknown
		 * (see virtual.h), which for FORGET means a no-op. STATX is ENOSYS for
		 * every node; should it ever be served, it needs a case here. */
		return false;
	}
	return true;
}

bool virt_request(const struct virt_table *vt, struct pt_fs *fs, const struct pt_req *rq,
		  uint32_t opcode, const void *arg, struct fuse_iov *out, int64_t *r)
{
	/* Shares without virtual files pay one test per request. */
	if (!vt->count)
		return false;
	/* LINK names its source in the argument: a virtual file has no host inode. */
	if (opcode == FUSE_LINK && virt_file_of(vt, ((const struct fuse_link_in *)arg)->oldnodeid)) {
		*r = -EPERM;
		return true;
	}
	return virt_fh_request(vt, opcode, arg, out, r) ||
	       virt_node_request(vt, fs, rq, opcode, arg, out, r);
}
