/*
 * The FUSE file server: transport-independent request handling.
 *
 * A transport (host /dev/fuse in fs/fuse_dev.c, virtqueues in fs/virtio_fs.c) hands one
 * request to fuse_dispatch() as scattered readable buffers (fuse_in_header, arguments,
 * WRITE payload) and scattered writable buffers for the reply (fuse_out_header, reply
 * body, READ payload). The server trusts nothing in the request: every length, name and
 * id is checked in fs/fuse_server.c before an operation in fs/passthrough.c sees it.
 */
#ifndef NOOK_FS_FUSE_SERVER_H
#define NOOK_FS_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum fs_cache_mode {
	FS_CACHE_NEVER,     /* no entry/attr caching, direct I/O */
	FS_CACHE_METADATA,  /* cache entries and attributes, not file data */
	FS_CACHE_AUTO,      /* short timeouts, page cache kept while mtime/size unchanged */
	FS_CACHE_ALWAYS,    /* long timeouts, keep page cache: guest is the only writer */
};

struct fs_options {
	char source[4096];       /* shared directory (host path) */
	enum fs_cache_mode cache;
	bool writeback;          /* FUSE_WRITEBACK_CACHE */
	bool xattr;              /* extended attributes */
	bool posix_acl;          /* POSIX ACLs (implies xattr) */
	bool readonly;           /* every modifying request fails with EROFS */
	bool inode_file_handles; /* keep file handles instead of O_PATH fds where possible */
	bool announce_submounts; /* FUSE_ATTR_SUBMOUNT for crossed mount points */
	bool flock;              /* GETLK/SETLK/SETLKW and flock passthrough */
	bool passthrough;        /* kernel passthrough of file data, where the transport can */
	bool io_uring;           /* FUSE over io_uring (opt-in), where transport and kernel can */
	int threads;             /* worker threads of a transport; 0 = transport default */
	int poll_us;             /* a transport's busy-poll window; -1 = transport default */
	bool stats;              /* count requests per opcode, print them when freed */
	bool versions;           /* metadata version table (fs/vtab.h) */
	int vt_slots;            /* its slot count when this server creates it */
	bool vt_watch;           /* fanotify helper for changes by other host processes */
	int max_fds;             /* fds held for inodes; 0 = inode_default_max_fds() */
	/* The host mount's noatime/nodiratime (nook fs serve): the FUSE client never updates
	 * atime itself, the host file system does on our reads, so we open files and
	 * directories (or directories only) with O_NOATIME. */
	bool noatime;
	bool nodiratime;
};

#define FS_POLL_US_MAX 10000

/* Fill defaults: local-file-system semantics (cache=auto, xattr on, writeback off,
 * passthrough on where a transport offers it). */
void fs_options_init(struct fs_options *o);

/* Parse "opt[,opt...]" (cache=MODE, writeback, no_writeback, xattr, no_xattr, posix_acl,
 * ro/readonly, threads=N, poll_us=N, inode_file_handles, announce_submounts, flock,
 * passthrough, no_passthrough, io_uring, no_io_uring, stats, versions, no_versions,
 * vt_slots=N, vt_watch, no_vt_watch, max_fds=N, source=DIR).
 * Returns 0, or -1 with a one-line message in err. */
int fs_options_parse(struct fs_options *o, const char *opts, char *err, size_t errlen);

struct fuse_server;

/* Opens the shared directory; NULL with a message in err on failure. */
struct fuse_server *fuse_server_new(const struct fs_options *o, char *err, size_t errlen);
void fuse_server_free(struct fuse_server *s);

/*
 * Handles one request. Returns the number of bytes written into out (the reply length,
 * starting with fuse_out_header), or 0 when the request takes no reply (FORGET,
 * BATCH_FORGET, or a request too broken to answer). Safe to call from many threads.
 */
size_t fuse_dispatch(struct fuse_server *s, const struct iovec *in, int in_cnt,
		     const struct iovec *out, int out_cnt);

/*
 * WRITE data a transport left in a pipe (the host transport splices requests from
 * /dev/fuse, so the payload pages are never copied to user space): the request's last
 * len bytes are not in the in iovecs but wait in the pipe read end pipe_fd, which should
 * be O_NONBLOCK (the server never takes more than len bytes out of it). The server moves
 * them to the file with splice(2), or through scratch (scratch_len bytes; NULL or
 * shorter than len: the server allocates) when the file refuses a splice, and adds what
 * it took out of the pipe to consumed. Whatever the outcome, the transport must empty
 * the pipe afterwards.
 */
struct fuse_payload {
	int pipe_fd;
	size_t len;
	size_t consumed;
	void *scratch;
	size_t scratch_len;
};

/*
 * fuse_dispatch() for a request whose tail is a pipe-held payload (p NULL or p->len 0:
 * same as fuse_dispatch). Only a WRITE may carry one, with h.len == in bytes + p->len
 * and write_in.size == p->len exactly; anything else is answered EINVAL.
 */
size_t fuse_dispatch_payload(struct fuse_server *s, const struct iovec *in, int in_cnt,
			     struct fuse_payload *p, const struct iovec *out, int out_cnt);

/* Lowers the max_write announced at INIT (default and ceiling 1 MiB; at least 4 KiB)
 * for a transport that cannot take bigger WRITEs. Call before serving requests. */
void fuse_server_set_max_write(struct fuse_server *s, uint32_t max_write);

/*
 * Adds a virtual read-only regular file NAME in the share's root directory, answered from
 * memory: LOOKUP finds it (it shadows a host file of the same name), no listing shows it,
 * GETATTR/OPEN(O_RDONLY)/READ/FLUSH/RELEASE/GETXATTR(ENODATA)/LISTXATTR(empty)/ACCESS/
 * STATX(if served) work; every modifying request on it fails (EPERM, or EROFS on a ro share),
 * open for writing fails with EACCES (EROFS on a ro share). mode is the permission bits
 * (e.g. 0555 for the init binary, 0400 for the request; no set-id or sticky bit), owner
 * root. The data is copied. Call before serving requests. Returns 0 or -errno (-EINVAL
 * for a bad name or mode, -EEXIST, -ENOSPC beyond a small limit, -ENOMEM).
 */
int fuse_server_add_virtual(struct fuse_server *s, const char *name, const void *data, size_t len,
			    unsigned mode);

/* The share's metadata version table (fs/vtab.h), or NULL without `versions`. */
struct vtab;
struct vtab *fuse_server_vtab(struct fuse_server *s);

/* True once the client sent DESTROY (or the transport should stop). */
bool fuse_server_destroyed(const struct fuse_server *s);

/*
 * DAX window hook (virtio-fs shared memory). A transport with a DAX window registers
 * these before the guest mounts; INIT then offers FUSE_MAP_ALIGNMENT and
 * FUSE_HAS_INODE_DAX, and SETUPMAPPING / REMOVEMAPPING reach the callbacks (without a
 * hook they fail with ENOSYS). SETUPMAPPING names no open file (the guest sends fh -1):
 * the server opens the request's node id itself (O_RDWR only for a writable mapping;
 * EROFS on a read-only share) and fd is valid for the call only. The server has checked
 * that len is non-zero and that no offset + len overflows; the transport must still
 * check that [moffset, moffset + len) lies inside its window and is aligned. Return 0
 * or -errno. reset (may be NULL) wipes the window: DESTROY and device reset.
 */
struct fuse_dax_ops {
	int (*setup)(void *opaque, int fd, uint64_t foffset, uint64_t len, uint64_t moffset,
		     bool writable);
	int (*remove)(void *opaque, uint64_t moffset, uint64_t len);
	void (*reset)(void *opaque);
};

/* Registers (or with ops NULL, removes) the DAX hook. Call before serving requests. */
void fuse_server_set_dax(struct fuse_server *s, const struct fuse_dax_ops *ops, void *opaque);

/* Per-inode DAX policy (with a hook): regular files of at least min_size bytes get
 * FUSE_ATTR_DAX, decided once per node id at its first reply (the guest rebuilds an
 * inode whose flag flips). Default 64 KiB. */
void fuse_server_set_dax_min(struct fuse_server *s, uint64_t min_size);

/*
 * Kernel passthrough hook (host /dev/fuse, FUSE_PASSTHROUGH). A transport that can
 * register backing files registers these before serving; INIT then offers passthrough
 * (unless writeback caching is on, which the kernel does not combine with it, or locks
 * are served, which a backing file would keep after their release) and
 * regular files are opened with FOPEN_PASSTHROUGH: the client kernel reads, writes and
 * maps them on the host file itself. open registers fd (an open regular file) and
 * returns its backing id (> 0) or -errno; close drops an id.
 */
struct fuse_backing_ops {
	int (*open)(void *opaque, int fd);
	void (*close)(void *opaque, int id);
};

/*
 * A transport that can send notifications (/dev/fuse) registers inval_attr: the server
 * calls it when it changed a node's attributes on its own while serving a request whose
 * reply carries none (set-id bits dropped by a WRITE, FALLOCATE or an O_TRUNC open), so
 * the client does not show the old mode until its attribute timeout (generic/355). It
 * runs on the worker before that request's reply. Call before serving.
 */
void fuse_server_set_notify(struct fuse_server *s, void (*inval_attr)(void *opaque, uint64_t nodeid),
			    void *opaque);

/* Registers (or with ops NULL, removes) the passthrough hook. Call before serving. */
void fuse_server_set_backing(struct fuse_server *s, const struct fuse_backing_ops *ops,
			     void *opaque);

/*
 * FUSE over io_uring (host /dev/fuse, fs/fuse_uring.h). A transport that has its rings
 * ready calls this before serving; INIT then offers FUSE_OVER_IO_URING, and once the
 * INIT reply is written fuse_server_uring() says whether the kernel took it (the
 * kernel then holds requests back until every queue is registered).
 */
void fuse_server_offer_uring(struct fuse_server *s);
bool fuse_server_uring(const struct fuse_server *s);

/* `nook fs serve SRC MOUNTPOINT [-o opts]`: the host /dev/fuse transport's entry point,
 * called by vmm/main.c with argv[0] == "serve". Returns the process exit status. */
int fs_serve_main(int argc, char **argv);

#endif
