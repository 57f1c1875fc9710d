/*
 * Shared by the FUSE server files (fs/fuse_server.c, fs/fuse_args.c, fs/fuse_ops_*.c):
 * the server and request structs, limits, the handler table entry, and the argument
 * checkers and handlers each defined in one of them and used by another.
 */
#ifndef NOOK_FS_FUSE_SERVER_INT_H
#define NOOK_FS_FUSE_SERVER_INT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fs/fuse_abi.h"
#include "fs/fuse_iov.h"
#include "fs/fuse_server.h"
#include "fs/passthrough.h"
#include "fs/virtual.h"
#include "fs/vtab_fs.h"

#define FUSE_MAX_WRITE     (1u << 20)
#define FUSE_MAX_PAGES_VAL 256
#define FUSE_MAX_BG        64
#define FUSE_XATTR_MAX     65536u        /* XATTR_SIZE_MAX and XATTR_LIST_MAX */
#define FUSE_DIR_MAX       (128u << 10)  /* biggest READDIR reply we build */
/* Arguments up to this size are copied to the stack: two names or a name and a
 * symlink target (PATH_MAX) plus the fixed struct. Only SETXATTR values go beyond. */
#define FUSE_ARG_INLINE    (PATH_MAX + 2 * 256 + 128)
#define FUSE_ARG_MAX       (FUSE_XATTR_MAX + 512)
/* READ/WRITE data may arrive as one piece per guest page (256 for 1 MiB, plus the
 * headers): gather up to IOV_MAX pieces for one preadv/pwritev. */
#define FUSE_READ_IOV_MAX  1024

enum fuse_state { FUSE_ST_WAIT_INIT, FUSE_ST_INITING, FUSE_ST_READY };

struct fuse_server {
	struct pt_fs fs;
	atomic_int state;
	atomic_bool destroyed;
	uint32_t minor;          /* negotiated minor version */
	uint64_t flags;          /* negotiated INIT flags (flags | flags2 << 32) */
	bool uring_offered;      /* the transport has io_uring rings ready */
	bool vertab;             /* NOOK_FUSE_VERTAB negotiated: replies carry version records */
	const struct fuse_dax_ops *dax;
	void *dax_opaque;
	uint32_t max_write;      /* announced at INIT: FUSE_MAX_WRITE unless the transport lowered it */
	/* With the stats option: requests and busy time per opcode (index 0: unknown). */
	atomic_ullong stat_count[FUSE_ABI_OP_MAX + 1];
	atomic_ullong stat_ns[FUSE_ABI_OP_MAX + 1];
	struct virt_table virt;  /* virtual files of the root (fs/virtual.h), fixed once serving */
};

/* One request being handled. */
struct fuse_ctx {
	struct fuse_server *s;
	struct pt_req rq;
	uint32_t opcode;
	const unsigned char *arg; /* argument bytes, followed by a NUL we added */
	size_t arglen;
	struct fuse_iov *in;      /* positioned at the arguments (streamed opcodes) */
	struct fuse_iov *out;     /* positioned after the fuse_out_header */
	struct fuse_payload *payload; /* WRITE data left in the transport's pipe, or NULL */
};

/* Handlers return the reply body length or a negative errno. */
typedef int64_t (*fuse_handler)(struct fuse_ctx *c);

enum {
	FUSE_OP_MODIFIES = 1, /* EROFS on a read-only share */
	FUSE_OP_NOREPLY = 2,  /* FORGET, BATCH_FORGET */
	FUSE_OP_STREAM = 4,   /* arguments not copied: the handler reads c->in */
};

struct fuse_op {
	const char *name;     /* for the stats option */
	fuse_handler fn;
	uint32_t min_in;      /* fixed argument struct size */
	uint32_t out_size;    /* fixed reply body the out buffers must hold (0: variable) */
	uint32_t flags;
};

/* fs/fuse_args.c */
int fuse_reply(struct fuse_ctx *c, const void *body, size_t len);
int fuse_arg_name(const struct fuse_ctx *c, size_t *off, const char **name, bool dots_ok);
int fuse_arg_entry(const struct fuse_ctx *c, size_t *off, const char **name, uint64_t parent);
int fuse_arg_name_xattr(const struct fuse_ctx *c, size_t *off, const char **name);
int fuse_arg_path(const struct fuse_ctx *c, size_t *off, const char **path);
int64_t fuse_vt_append(struct fuse_ctx *c, int64_t len, const struct nook_vt_entry_out *rec);
void fuse_vt_entry(struct fuse_ctx *c, struct fuse_entry_out *e,
		   struct nook_vt_entry_out *rec);
int64_t fuse_entry_reply(struct fuse_ctx *c, int err, struct fuse_entry_out *e);
/* fs/fuse_ops_entry.c */
int64_t fuse_do_lookup(struct fuse_ctx *c);
int64_t fuse_do_forget(struct fuse_ctx *c);
int64_t fuse_do_batch_forget(struct fuse_ctx *c);
int64_t fuse_do_getattr(struct fuse_ctx *c);
int64_t fuse_do_setattr(struct fuse_ctx *c);
int64_t fuse_do_readlink(struct fuse_ctx *c);
int64_t fuse_do_symlink(struct fuse_ctx *c);
int64_t fuse_do_mknod(struct fuse_ctx *c);
int64_t fuse_do_mkdir(struct fuse_ctx *c);
int64_t fuse_do_unlink(struct fuse_ctx *c);
int64_t fuse_do_rmdir(struct fuse_ctx *c);
int64_t fuse_do_rename(struct fuse_ctx *c);
int64_t fuse_do_rename2(struct fuse_ctx *c);
int64_t fuse_do_link(struct fuse_ctx *c);
/* fs/fuse_ops_io.c */
int64_t fuse_do_open(struct fuse_ctx *c);
int64_t fuse_do_opendir(struct fuse_ctx *c);
int64_t fuse_do_create(struct fuse_ctx *c);
int64_t fuse_do_tmpfile(struct fuse_ctx *c);
int64_t fuse_do_release(struct fuse_ctx *c);
int64_t fuse_do_releasedir(struct fuse_ctx *c);
int64_t fuse_do_read(struct fuse_ctx *c);
int64_t fuse_do_write(struct fuse_ctx *c);
int64_t fuse_do_statfs(struct fuse_ctx *c);
int64_t fuse_do_flush(struct fuse_ctx *c);
int64_t fuse_do_fsync(struct fuse_ctx *c);
int64_t fuse_do_fsyncdir(struct fuse_ctx *c);
int64_t fuse_do_readdir(struct fuse_ctx *c);
int64_t fuse_do_readdirplus(struct fuse_ctx *c);
int64_t fuse_do_access(struct fuse_ctx *c);
int64_t fuse_do_fallocate(struct fuse_ctx *c);
int64_t fuse_do_lseek(struct fuse_ctx *c);
int64_t fuse_do_copy_file_range(struct fuse_ctx *c);
int64_t fuse_do_syncfs(struct fuse_ctx *c);
int64_t fuse_do_getlk(struct fuse_ctx *c);
int64_t fuse_do_setlk(struct fuse_ctx *c);
int64_t fuse_do_setlkw(struct fuse_ctx *c);
/* fs/fuse_ops_xattr.c */
int64_t fuse_do_setxattr(struct fuse_ctx *c);
int64_t fuse_do_getxattr(struct fuse_ctx *c);
int64_t fuse_do_listxattr(struct fuse_ctx *c);
int64_t fuse_do_removexattr(struct fuse_ctx *c);
/* fs/fuse_ops_dax.c */
int64_t fuse_do_setupmapping(struct fuse_ctx *c);
int64_t fuse_do_removemapping(struct fuse_ctx *c);

#endif
