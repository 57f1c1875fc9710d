/*
 * The passthrough file system: one function per FUSE operation, doing the host system
 * calls. Everything reaching these functions has been validated by fs/fuse_server.c
 * (lengths, NUL-terminated single-component names, flags); ids (node ids, fhs) are
 * validated here through the inode and handle tables. Functions return 0 or a byte
 * count on success and a negative errno on failure.
 */
#ifndef NOOK_FS_PASSTHROUGH_H
#define NOOK_FS_PASSTHROUGH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fs/backing.h"
#include "fs/fuse_abi.h"
#include "fs/fuse_iov.h"
#include "fs/fuse_server.h"

struct pt_fs {
	struct fs_options opt;
	struct inode_table *inodes;
	struct handle_table *handles;
	struct backing_table *backings; /* passthrough ids per open host inode */
	struct vtab *vt;         /* metadata version table (fs/vtab_fs.h), or NULL */
	struct vtab_watch *vtw;  /* its fanotify helper, or NULL */
	bool vt_timed;           /* no helper although wanted: records say NOOK_VT_TIMED */
	int proc_fd;             /* /proc/self/fd, to reopen our own O_PATH fds */
	gid_t *groups;           /* the server's own supplementary groups, restored */
	int ngroups;             /* after a create that used the caller's group */
	uid_t own_uid;           /* our effective ids: callers with these need no switch */
	gid_t own_gid;
	uint64_t entry_timeout;  /* seconds, from the cache mode */
	uint64_t attr_timeout;
	/* Files on this device get FOPEN_NOFLUSH (see pt_flush_is_noop); 0: none. */
	uint64_t noflush_dev;
	/* Set by INIT from what the client accepted. */
	bool writeback;
	bool killpriv_v2;
	bool submounts;
	bool dont_mask;
	bool passthrough;        /* FUSE_PASSTHROUGH: regular files open passed through */
	bool dax_inode;          /* FUSE_HAS_INODE_DAX: FUSE_ATTR_DAX per inode */
	uint64_t dax_min;        /* regular files this large use DAX (fuse_server_set_dax_min) */
	/* Tells the client that a node's attributes changed behind its back, where the
	 * transport can notify (/dev/fuse: FUSE_NOTIFY_INVAL_INODE); NULL otherwise. */
	void (*inval_attr)(void *opaque, uint64_t nodeid);
	void *inval_opaque;
};

/* Identity of the caller of one request (from fuse_in_header). */
struct pt_req {
	uint64_t nodeid;
	uint32_t uid, gid, pid;
	bool has_supp_gid;       /* FUSE_CREATE_SUPP_GROUP extension present */
	uint32_t supp_gid;
};

int pt_fs_init(struct pt_fs *fs, const struct fs_options *o, char *err, size_t errlen);
void pt_fs_destroy(struct pt_fs *fs);

/* DESTROY: the client forgot everything; drop all nodes but the root and all fhs. */
void pt_reset(struct pt_fs *fs);

int pt_lookup(struct pt_fs *fs, const struct pt_req *rq, const char *name, struct fuse_entry_out *e);
void pt_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t nlookup);
int pt_getattr(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_getattr_in *in,
	       struct fuse_attr_out *out);
int pt_setattr(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_setattr_in *in,
	       struct fuse_attr_out *out);
int pt_readlink(struct pt_fs *fs, const struct pt_req *rq, char *buf, size_t size);
int pt_symlink(struct pt_fs *fs, const struct pt_req *rq, const char *name, const char *target,
	       struct fuse_entry_out *e);
int pt_mknod(struct pt_fs *fs, const struct pt_req *rq, const char *name, uint32_t mode,
	     uint32_t rdev, uint32_t umask, struct fuse_entry_out *e);
int pt_mkdir(struct pt_fs *fs, const struct pt_req *rq, const char *name, uint32_t mode,
	     uint32_t umask, struct fuse_entry_out *e);
int pt_unlink(struct pt_fs *fs, const struct pt_req *rq, const char *name, bool dir);
int pt_rename(struct pt_fs *fs, const struct pt_req *rq, const char *name, uint64_t newdir,
	      const char *newname, uint32_t flags);
int pt_link(struct pt_fs *fs, const struct pt_req *rq, uint64_t oldnode, const char *newname,
	    struct fuse_entry_out *e);
int pt_open(struct pt_fs *fs, const struct pt_req *rq, uint32_t flags, uint32_t open_flags,
	    bool dir, struct fuse_open_out *out);
int pt_create(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_create_in *in,
	      const char *name, bool tmpfile, struct fuse_entry_out *e, struct fuse_open_out *o);
int pt_release(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_release_in *in, bool dir);
/* READ into the given reply buffers (at most size bytes, already bounded). */
int64_t pt_read(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_read_in *in,
		const struct iovec *iov, int cnt);
int64_t pt_write(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_write_in *in,
		 const struct iovec *iov, int cnt);
/* WRITE whose in->size bytes wait in the transport's pipe (fuse_dispatch_payload). */
int64_t pt_write_pipe(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_write_in *in,
		      struct fuse_payload *p);
int pt_statfs(struct pt_fs *fs, const struct pt_req *rq, struct fuse_statfs_out *out);
int pt_flush(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_flush_in *in);
int pt_fsync(struct pt_fs *fs, const struct pt_req *rq, uint64_t fh, uint32_t fsync_flags, bool dir);
int pt_setxattr(struct pt_fs *fs, const struct pt_req *rq, const char *name, const void *value,
		size_t size, uint32_t flags, uint32_t setxattr_flags);
int pt_getxattr(struct pt_fs *fs, const struct pt_req *rq, const char *name, void *buf, size_t size);
int pt_listxattr(struct pt_fs *fs, const struct pt_req *rq, char *buf, size_t size);
int pt_removexattr(struct pt_fs *fs, const struct pt_req *rq, const char *name);
/* READDIR/READDIRPLUS: writes at most size bytes of entries into out; returns bytes. */
int pt_readdir(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_read_in *in,
	       bool plus, struct fuse_iov *out);
int pt_access(struct pt_fs *fs, const struct pt_req *rq, uint32_t mask);
int pt_fallocate(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_fallocate_in *in);
int pt_lseek(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_lseek_in *in,
	     struct fuse_lseek_out *out);
int64_t pt_copy_file_range(struct pt_fs *fs, const struct pt_req *rq,
			   const struct fuse_copy_file_range_in *in);
int pt_syncfs(struct pt_fs *fs, const struct pt_req *rq);
int pt_getlk(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_lk_in *in,
	     struct fuse_lk_out *out);
/* The host fd of an open file for the duration of a DAX setup call. */
/* SETUPMAPPING: a new fd on rq's node (a regular file), O_RDWR if writable else
 * O_RDONLY; the caller closes it. fd or -errno. */
int pt_open_for_dax(struct pt_fs *fs, const struct pt_req *rq, bool writable);
struct handle *pt_handle_get(struct pt_fs *fs, uint64_t fh);
void pt_handle_put(struct pt_fs *fs, struct handle *h);
int pt_setlk(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_lk_in *in, bool wait);

#endif
