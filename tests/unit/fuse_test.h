/* Helpers of the FUSE server unit tests: hand-built requests against a temp directory. */
#ifndef NOOK_TESTS_FUSE_TEST_H
#define NOOK_TESTS_FUSE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fs/fuse_abi.h"
#include "fs/fuse_server.h"

struct ft {
	char dir[64];
	struct fuse_server *s;
	uint64_t unique;
	uint32_t uid, gid;
	size_t split;            /* >0: scatter requests/replies in pieces of this size */
	unsigned char *out;      /* reply buffer (FT_OUT bytes) */
	size_t out_len;          /* bytes of out offered to the server */
	size_t reply_len;        /* last fuse_dispatch() result */
	struct fuse_init_out init; /* the server's INIT reply */
};

#define FT_OUT ((1u << 20) + 8192)

/* mkdtemp + fuse_server_new(opts) + INIT at minor 45 with every flag offered. */
void ft_setup(struct ft *t, const char *opts);
/* ft_setup with a passthrough hook registered before INIT (ops NULL: none). */
void ft_setup_backing(struct ft *t, const char *opts, const struct fuse_backing_ops *ops,
		      void *opaque);
void ft_teardown(struct ft *t);
/* Path of a name inside the share (static buffer, for host-side checks). */
const char *ft_path(struct ft *t, const char *name);

/* Sends opcode with arg; returns the reply error (0 or -errno) and copies up to
 * bodymax bytes of the reply body into body (*bodylen gets its length). */
int ft_req(struct ft *t, uint32_t op, uint64_t nodeid, const void *arg, size_t arglen,
	   void *body, size_t bodymax, size_t *bodylen);
/* Raw: dispatch a prepared request buffer, returns fuse_dispatch()'s result. */
size_t ft_raw(struct ft *t, const void *req, size_t len);

/* Argument builder: struct followed by NUL-terminated names. */
size_t ft_args(void *buf, const void *st, size_t stlen, const char *n1, const char *n2);

int ft_lookup(struct ft *t, uint64_t parent, const char *name, struct fuse_entry_out *e);
int ft_mkdir(struct ft *t, uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e);
int ft_create(struct ft *t, uint64_t parent, const char *name, uint32_t mode, uint32_t flags,
	      struct fuse_entry_out *e, uint64_t *fh);
int ft_open(struct ft *t, uint64_t node, uint32_t flags, bool dir, uint64_t *fh);
int ft_release(struct ft *t, uint64_t node, uint64_t fh, bool dir);
int64_t ft_write(struct ft *t, uint64_t node, uint64_t fh, uint64_t off, const void *data, uint32_t len);
int64_t ft_read(struct ft *t, uint64_t node, uint64_t fh, uint64_t off, void *data, uint32_t len);
int ft_getattr(struct ft *t, uint64_t node, struct fuse_attr_out *a);

#endif
