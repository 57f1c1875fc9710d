/*
 * FUSE request decoding, validation and reply encoding (see fs/fuse_server.h).
 *
 * This file is the one place where guest-controlled lengths and names are checked:
 * fuse_dispatch() bounds the header against the buffers, the argument block against the
 * header, each opcode's fixed argument struct against its minimum size (from the table
 * below), each name against NAME_MAX/'/'/NUL, and each byte count against our limits,
 * before fs/passthrough.c runs. Replies are only written through a bounded cursor.
 * A WRITE payload held in a transport's pipe (fuse_dispatch_payload) is checked here
 * too: it must be the request's exact tail and match write_in.size.
 */
#include "fs/fuse_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_abi.h"
#include "fs/inode.h"
#include "fs/fuse_iov.h"
#include "fs/handle.h"
#include "fs/passthrough.h"
#include "fs/virtual.h"
#include "fs/vtab_fs.h"
#include "vmm/clock.h"
#include "vmm/log.h"

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

static int fuse_reply(struct fuse_ctx *c, const void *body, size_t len)
{
	return fuse_iov_write(c->out, body, len) ? -EIO : (int)len;
}

/*
 * The NUL-terminated string at arg[*off], bounded by the argument block: the common
 * part of every string argument. Sets *str and *len (without the NUL) and advances *off
 * past the NUL; -EINVAL when no NUL lies inside the block.
 */
static int fuse_arg_cstr(const struct fuse_ctx *c, size_t *off, const char **str, size_t *len)
{
	const char *p = (const char *)c->arg + *off;
	size_t avail = *off < c->arglen ? c->arglen - *off : 0;
	const char *nul = memchr(p, 0, avail);

	if (!nul)
		return -EINVAL;
	*str = p;
	*len = (size_t)(nul - p);
	*off += *len + 1;
	return 0;
}

/* A name: one path component (no '/'), 1..NAME_MAX bytes, not "." or ".." unless dots_ok. */
static int fuse_arg_name(const struct fuse_ctx *c, size_t *off, const char **name, bool dots_ok)
{
	size_t len;
	int r = fuse_arg_cstr(c, off, name, &len);

	if (r)
		return r;
	if (len == 0 || memchr(*name, '/', len))
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (!dots_ok && (!strcmp(*name, ".") || !strcmp(*name, "..")))
		return -EINVAL;
	return 0;
}

/* The name of an entry a request creates, removes or renames in directory parent: a
 * name without dots that is not a virtual file of the root (fs/virtual.c). */
static int fuse_arg_entry(const struct fuse_ctx *c, size_t *off, const char **name, uint64_t parent)
{
	int r = fuse_arg_name(c, off, name, false);

	return r ? r : virt_check_entry(&c->s->virt, parent, *name);
}

/* An xattr name ("user.x", "security.y"): 1..XATTR_NAME_MAX bytes. */
static int fuse_arg_name_xattr(const struct fuse_ctx *c, size_t *off, const char **name)
{
	size_t len;
	int r = fuse_arg_cstr(c, off, name, &len);

	if (r)
		return r;
	if (len == 0)
		return -EINVAL;
	return len > XATTR_NAME_MAX ? -ERANGE : 0;
}

/* A symlink target: any non-empty string shorter than PATH_MAX. */
static int fuse_arg_path(const struct fuse_ctx *c, size_t *off, const char **path)
{
	size_t len;
	int r = fuse_arg_cstr(c, off, path, &len);

	if (r)
		return r;
	if (len == 0)
		return -ENOENT;
	return len >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/*
 * Appends the version record to a reply of len bytes when VERTAB was negotiated and the
 * client left room for it (a guest's last out-arg is variable: no room, no record).
 */
static int64_t fuse_vt_append(struct fuse_ctx *c, int64_t len, const struct nook_vt_entry_out *rec)
{
	if (len < 0 || !c->s->vertab || fuse_iov_left(c->out) < sizeof(*rec))
		return len;
	return fuse_iov_write(c->out, rec, sizeof(*rec)) ? len : len + (int64_t)sizeof(*rec);
}

/* The entry's record, and its attributes read again after it (see fs/vtab_fs.h). */
static void fuse_vt_entry(struct fuse_ctx *c, struct fuse_entry_out *e,
			  struct nook_vt_entry_out *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (c->s->vertab && e->nodeid)
		vtfs_snapshot_restat(&c->s->fs, e->nodeid, &e->attr, rec);
}

static int64_t fuse_entry_reply(struct fuse_ctx *c, int err, struct fuse_entry_out *e)
{
	struct nook_vt_entry_out rec;

	if (err)
		return err;
	fuse_vt_entry(c, e, &rec);
	return fuse_vt_append(c, fuse_reply(c, e, sizeof(*e)), &rec);
}

/* ---- INIT / DESTROY ---- */

static uint64_t fuse_wanted_flags(const struct fuse_server *s)
{
	const struct fs_options *o = &s->fs.opt;
	uint64_t f = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_ATOMIC_O_TRUNC |
		     FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_ASYNC_DIO |
		     FUSE_HANDLE_KILLPRIV_V2 | FUSE_MAX_PAGES | FUSE_SETXATTR_EXT | FUSE_INIT_EXT |
		     FUSE_CREATE_SUPP_GROUP;

	/* File handles of the client's only survive a FORGET or a new server with stable
	 * node ids (fs/inode_id.h); without them handles would go stale, so none offered. */
	if (inode_table_stable_ids(s->fs.inodes))
		f |= FUSE_EXPORT_SUPPORT;
	if (o->cache == FS_CACHE_AUTO)
		f |= FUSE_AUTO_INVAL_DATA;
	if (o->cache != FS_CACHE_NEVER)
		f |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_CACHE_SYMLINKS;
	/* never/metadata open files with FOPEN_DIRECT_IO: shared mmap must keep working. */
	if (o->cache == FS_CACHE_NEVER || o->cache == FS_CACHE_METADATA)
		f |= FUSE_DIRECT_IO_ALLOW_MMAP;
	if (o->writeback)
		f |= FUSE_WRITEBACK_CACHE;
	if (o->posix_acl)
		f |= FUSE_POSIX_ACL;
	if (o->announce_submounts)
		f |= FUSE_SUBMOUNTS;
	if (o->flock)
		f |= FUSE_FLOCK_LOCKS | FUSE_POSIX_LOCKS;
	if (s->dax)
		f |= FUSE_MAP_ALIGNMENT | FUSE_HAS_INODE_DAX;
	if (s->uring_offered)
		f |= FUSE_OVER_IO_URING;
	/* The kernel takes passthrough only without writeback caching. Not with served
	 * locks either: the kernel keeps the first open's file description (our fd) as
	 * the backing file until the inode's last close, and with it any lock taken
	 * through that fd after the client released it. */
	if (o->passthrough && !o->writeback && !o->flock && !s->fs.vt &&
	    backing_table_usable(s->fs.backings))
		f |= FUSE_PASSTHROUGH;
	/* Not with passthrough either (above): writes the kernel passes through never
	 * reach us to be counted. Off with writeback caching at first: the client's dirty
	 * pages and our counters would disagree (design card item 19). cache=never asks
	 * every time anyway. */
	if (s->fs.vt && !o->writeback && o->cache != FS_CACHE_NEVER)
		f |= NOOK_FUSE_VERTAB;
	return f;
}

static int64_t fuse_do_init(struct fuse_ctx *c)
{
	struct fuse_server *s = c->s;
	struct fuse_init_in in = { 0 };
	struct fuse_init_out out = { 0 };
	int expect = FUSE_ST_WAIT_INIT;
	uint64_t kflags, f;

	memcpy(&in, c->arg, c->arglen < sizeof(in) ? c->arglen : sizeof(in));
	if (in.major != FUSE_ABI_MAJOR || in.minor < FUSE_ABI_MIN_MINOR) {
		log_warn("fuse: client protocol %u.%u not supported (need 7.%u or newer)",
			 in.major, in.minor, FUSE_ABI_MIN_MINOR);
		return -EPROTO;
	}
	if (!atomic_compare_exchange_strong(&s->state, &expect, FUSE_ST_INITING))
		return -EPROTO;
	kflags = in.flags;
	/* flags2 exists from 7.36 and only counts when the client sets INIT_EXT. */
	if (in.minor >= 36 && (in.flags & FUSE_INIT_EXT) && c->arglen >= sizeof(in))
		kflags |= (uint64_t)in.flags2 << 32;
	f = fuse_wanted_flags(s) & kflags;
	s->minor = in.minor < FUSE_ABI_MINOR ? in.minor : FUSE_ABI_MINOR;
	s->flags = f;
	s->fs.writeback = f & FUSE_WRITEBACK_CACHE;
	s->fs.killpriv_v2 = f & FUSE_HANDLE_KILLPRIV_V2;
	s->fs.submounts = f & FUSE_SUBMOUNTS;
	s->fs.dont_mask = f & FUSE_DONT_MASK;
	s->fs.passthrough = f & FUSE_PASSTHROUGH;
	s->fs.dax_inode = f & FUSE_HAS_INODE_DAX;
	s->vertab = f & NOOK_FUSE_VERTAB;

	out.major = FUSE_ABI_MAJOR;
	out.minor = FUSE_ABI_MINOR;
	out.max_readahead = in.max_readahead;
	out.flags = (uint32_t)f;
	out.flags2 = (uint32_t)(f >> 32);
	out.max_background = FUSE_MAX_BG;
	out.congestion_threshold = FUSE_MAX_BG * 3 / 4;
	out.max_write = s->max_write;
	out.time_gran = 1;
	out.max_pages = FUSE_MAX_PAGES_VAL;
	/* DAX mappings are page granular (log2 of 4 KiB). */
	if (f & FUSE_MAP_ALIGNMENT)
		out.map_alignment = 12;
	/* Backing files must sit on a file system that is not itself stacked (depth 0),
	 * and an overlayfs may still stack on this mount. */
	if (f & FUSE_PASSTHROUGH)
		FUSE_ABI_INIT_MAX_STACK_DEPTH(&out) = 1;
	if (fuse_iov_write(c->out, &out, sizeof(out))) {
		atomic_store(&s->state, FUSE_ST_WAIT_INIT);
		return -EIO;
	}
	atomic_store(&s->state, FUSE_ST_READY);
	if (f & FUSE_PASSTHROUGH)
		log_info("fs: kernel passthrough of file data on");
	if (f & FUSE_OVER_IO_URING)
		log_info("fs: requests over io_uring");
	if (f & NOOK_FUSE_VERTAB)
		log_info("fs: metadata version table on (%s)", vtab_path(s->fs.vt));
	log_debug("fuse: INIT client 7.%u flags %#llx -> %#llx", in.minor,
		  (unsigned long long)kflags, (unsigned long long)f);
	/* Every client minor we accept (>= 31) takes the full 64-byte reply. */
	return sizeof(out);
}

static int64_t fuse_do_destroy(struct fuse_ctx *c)
{
	/* A virtio-fs device outlives guest mounts: the next mount sends INIT again and
	 * knows none of the old node ids or fhs, so they are all dropped now. */
	pt_reset(&c->s->fs);
	/* Mappings of the old session would outlive the node ids they came from. */
	if (c->s->dax && c->s->dax->reset)
		c->s->dax->reset(c->s->dax_opaque);
	atomic_store(&c->s->destroyed, true);
	atomic_store(&c->s->state, FUSE_ST_WAIT_INIT);
	return 0;
}

/* ---- names and attributes ---- */

static int64_t fuse_do_lookup(struct fuse_ctx *c)
{
	struct fuse_entry_out e;
	const char *name;
	size_t off = 0;
	int err = fuse_arg_name(c, &off, &name, true);

	if (err)
		return err;
	/* The root's virtual files shadow host files of the same name. */
	if (virt_lookup(&c->s->virt, &c->s->fs, c->rq.nodeid, name, &e))
		return fuse_reply(c, &e, sizeof(e));
	err = pt_lookup(&c->s->fs, &c->rq, name, &e);
	/* A versioned client keeps negative entries while the parent is unchanged: tell
	 * it "no such name" as an entry it may cache (design card item 15). */
	if (err == -ENOENT && c->s->vertab) {
		memset(&e, 0, sizeof(e));
		e.entry_valid = c->s->fs.entry_timeout;
		return fuse_reply(c, &e, sizeof(e));
	}
	return fuse_entry_reply(c, err, &e);
}

static int64_t fuse_do_forget(struct fuse_ctx *c)
{
	const struct fuse_forget_in *in = (const void *)c->arg;

	pt_forget(&c->s->fs, c->rq.nodeid, in->nlookup);
	return 0;
}

static int64_t fuse_do_batch_forget(struct fuse_ctx *c)
{
	struct fuse_batch_forget_in in;
	struct fuse_forget_one one;

	if (fuse_iov_read(c->in, &in, sizeof(in)))
		return 0;
	/* Process as many entries as are really present, never more than count. */
	for (uint32_t i = 0; i < in.count; i++) {
		if (fuse_iov_read(c->in, &one, sizeof(one)))
			break;
		pt_forget(&c->s->fs, one.nodeid, one.nlookup);
	}
	return 0;
}

static int64_t fuse_do_getattr(struct fuse_ctx *c)
{
	const struct fuse_getattr_in *in = (const void *)c->arg;
	struct fuse_attr_out out;
	struct nook_vt_entry_out rec;
	int err;

	/* The record first, then the stat. */
	memset(&rec, 0, sizeof(rec));
	if (c->s->vertab)
		vtfs_snapshot(&c->s->fs, c->rq.nodeid, &rec);
	err = pt_getattr(&c->s->fs, &c->rq, in, &out);
	return err ? err : fuse_vt_append(c, fuse_reply(c, &out, sizeof(out)), &rec);
}

static int64_t fuse_do_setattr(struct fuse_ctx *c)
{
	const struct fuse_setattr_in *in = (const void *)c->arg;
	struct fuse_attr_out out;
	int err;

	struct nook_vt_entry_out rec;
	unsigned what = (in->valid & FATTR_SIZE) ? VTAB_MD : VTAB_META;

	if (c->s->fs.opt.readonly && in->valid)
		return -EROFS;
	err = pt_setattr(&c->s->fs, &c->rq, in, &out);
	/* Even after an error: an earlier part of the request may have changed something. */
	if (in->valid & ~(uint32_t)(FATTR_FH | FATTR_LOCKOWNER)) {
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, what);
		if (in->valid & FATTR_FH)
			vtfs_bump_fh(&c->s->fs, in->fh, what);
	}
	if (err)
		return err;
	memset(&rec, 0, sizeof(rec));
	if (c->s->vertab)
		vtfs_snapshot_restat(&c->s->fs, c->rq.nodeid, &out.attr, &rec);
	return fuse_vt_append(c, fuse_reply(c, &out, sizeof(out)), &rec);
}

static int64_t fuse_do_readlink(struct fuse_ctx *c)
{
	char buf[PATH_MAX];
	int n = pt_readlink(&c->s->fs, &c->rq, buf, sizeof(buf));

	return n < 0 ? n : fuse_reply(c, buf, (size_t)n);
}

static int64_t fuse_do_symlink(struct fuse_ctx *c)
{
	struct fuse_entry_out e;
	const char *name, *target;
	size_t off = 0;
	int err;

	/* Arguments: the new name, then the target. */
	if ((err = fuse_arg_entry(c, &off, &name, c->rq.nodeid)) ||
	    (err = fuse_arg_path(c, &off, &target)))
		return err;
	err = pt_symlink(&c->s->fs, &c->rq, name, target, &e);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	return fuse_entry_reply(c, err, &e);
}

static int64_t fuse_do_mknod(struct fuse_ctx *c)
{
	const struct fuse_mknod_in *in = (const void *)c->arg;
	struct fuse_entry_out e;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	err = pt_mknod(&c->s->fs, &c->rq, name, in->mode, in->rdev, in->umask, &e);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	return fuse_entry_reply(c, err, &e);
}

static int64_t fuse_do_mkdir(struct fuse_ctx *c)
{
	const struct fuse_mkdir_in *in = (const void *)c->arg;
	struct fuse_entry_out e;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	err = pt_mkdir(&c->s->fs, &c->rq, name, in->mode, in->umask, &e);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	return fuse_entry_reply(c, err, &e);
}

static int64_t fuse_do_unlink_common(struct fuse_ctx *c, bool dir)
{
	const char *name;
	size_t off = 0;
	uint64_t victim;
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	victim = vtfs_child_slot(&c->s->fs, c->rq.nodeid, name);
	err = pt_unlink(&c->s->fs, &c->rq, name, dir);
	if (!err) {
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
		vtfs_bump_slot(&c->s->fs, victim, VTAB_META); /* nlink, ctime */
	}
	return err;
}

static int64_t fuse_do_unlink(struct fuse_ctx *c) { return fuse_do_unlink_common(c, false); }
static int64_t fuse_do_rmdir(struct fuse_ctx *c) { return fuse_do_unlink_common(c, true); }

static int64_t fuse_rename_names(struct fuse_ctx *c, size_t off, uint64_t newdir, uint32_t flags)
{
	const char *name, *newname;
	uint64_t moved, target;
	int err;

	if ((err = fuse_arg_entry(c, &off, &name, c->rq.nodeid)) ||
	    (err = fuse_arg_entry(c, &off, &newname, newdir)))
		return err;
	moved = vtfs_child_slot(&c->s->fs, c->rq.nodeid, name);
	target = vtfs_child_slot(&c->s->fs, newdir, newname);
	err = pt_rename(&c->s->fs, &c->rq, name, newdir, newname, flags);
	if (!err) {
		/* Both parents' names, the moved object(s) and an overwritten target. */
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
		if (newdir != c->rq.nodeid)
			vtfs_bump_node(&c->s->fs, newdir, VTAB_MD);
		vtfs_bump_slot(&c->s->fs, moved, VTAB_META);
		vtfs_bump_slot(&c->s->fs, target, VTAB_META);
	}
	return err;
}

static int64_t fuse_do_rename(struct fuse_ctx *c)
{
	const struct fuse_rename_in *in = (const void *)c->arg;

	return fuse_rename_names(c, sizeof(*in), in->newdir, 0);
}

static int64_t fuse_do_rename2(struct fuse_ctx *c)
{
	const struct fuse_rename2_in *in = (const void *)c->arg;

	if (in->flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	return fuse_rename_names(c, sizeof(*in), in->newdir, in->flags);
}

static int64_t fuse_do_link(struct fuse_ctx *c)
{
	const struct fuse_link_in *in = (const void *)c->arg;
	struct fuse_entry_out e;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_entry(c, &off, &name, c->rq.nodeid);

	if (err)
		return err;
	err = pt_link(&c->s->fs, &c->rq, in->oldnodeid, name, &e);
	if (!err) {
		vtfs_bump_node(&c->s->fs, e.nodeid, VTAB_META); /* nlink */
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	}
	return fuse_entry_reply(c, err, &e);
}

/* ---- files ---- */

static bool fuse_open_modifies(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_CREAT));
}

static int64_t fuse_do_open_common(struct fuse_ctx *c, bool dir)
{
	const struct fuse_open_in *in = (const void *)c->arg;
	struct fuse_open_out out;
	int err;

	if (c->s->fs.opt.readonly && fuse_open_modifies(in->flags))
		return -EROFS;
	err = pt_open(&c->s->fs, &c->rq, in->flags, in->open_flags, dir, &out);
	if (!err && !dir && (in->flags & O_TRUNC))
		vtfs_bump_fh(&c->s->fs, out.fh, VTAB_MD);
	/* A versioned client drops cached pages itself when the data counter moved. */
	if (!err && c->s->vertab && !(out.open_flags & FOPEN_DIRECT_IO))
		out.open_flags |= FOPEN_KEEP_CACHE;
	return err ? err : fuse_reply(c, &out, sizeof(out));
}

static int64_t fuse_do_open(struct fuse_ctx *c) { return fuse_do_open_common(c, false); }
static int64_t fuse_do_opendir(struct fuse_ctx *c) { return fuse_do_open_common(c, true); }

static int64_t fuse_do_create_common(struct fuse_ctx *c, bool tmpfile)
{
	const struct fuse_create_in *in = (const void *)c->arg;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	const char *name = NULL;
	size_t off = sizeof(*in);
	int err;

	/* TMPFILE carries a name too (the kernel sends the dentry's), which we ignore. */
	if (!tmpfile && (err = fuse_arg_entry(c, &off, &name, c->rq.nodeid)))
		return err;
	struct nook_vt_entry_out rec;

	err = pt_create(&c->s->fs, &c->rq, in, name, tmpfile, &out.e, &out.o);
	if (err)
		return err;
	vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_MD);
	if (in->flags & O_TRUNC) /* an existing file opened with O_TRUNC */
		vtfs_bump_node(&c->s->fs, out.e.nodeid, VTAB_MD);
	if (c->s->vertab && !(out.o.open_flags & FOPEN_DIRECT_IO))
		out.o.open_flags |= FOPEN_KEEP_CACHE;
	fuse_vt_entry(c, &out.e, &rec);
	return fuse_vt_append(c, fuse_reply(c, &out, sizeof(out)), &rec);
}

static int64_t fuse_do_create(struct fuse_ctx *c) { return fuse_do_create_common(c, false); }
static int64_t fuse_do_tmpfile(struct fuse_ctx *c) { return fuse_do_create_common(c, true); }

static int64_t fuse_do_release_common(struct fuse_ctx *c, bool dir)
{
	return pt_release(&c->s->fs, &c->rq, (const void *)c->arg, dir);
}

static int64_t fuse_do_release(struct fuse_ctx *c) { return fuse_do_release_common(c, false); }
static int64_t fuse_do_releasedir(struct fuse_ctx *c) { return fuse_do_release_common(c, true); }

static int64_t fuse_do_read(struct fuse_ctx *c)
{
	const struct fuse_read_in *in = (const void *)c->arg;
	struct iovec iov[FUSE_READ_IOV_MAX];
	size_t size = in->size;
	int cnt;

	/* Never more than we announced, nor than the reply buffers hold. */
	if (size > FUSE_MAX_WRITE)
		size = FUSE_MAX_WRITE;
	if (size > fuse_iov_left(c->out))
		size = fuse_iov_left(c->out);
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	cnt = fuse_iov_slice(c->out, size, iov, FUSE_READ_IOV_MAX);
	if (cnt < 0)
		return -EIO;
	return pt_read(&c->s->fs, &c->rq, in, iov, cnt);
}

static int64_t fuse_do_write(struct fuse_ctx *c)
{
	struct fuse_write_in in;
	struct fuse_write_out out = { 0 };
	struct iovec iov[FUSE_READ_IOV_MAX];
	int64_t n;
	int cnt;

	if (fuse_iov_read(c->in, &in, sizeof(in)))
		return -EINVAL;
	if (c->payload) {
		/* The data waits in the transport's pipe: exactly in.size bytes, right
		 * after the fuse_write_in (dispatch checked that h.len adds up). */
		if (in.size > c->s->max_write || in.size != c->payload->len ||
		    fuse_iov_left(c->in) || in.offset > (uint64_t)INT64_MAX)
			return -EINVAL;
		n = pt_write_pipe(&c->s->fs, &c->rq, &in, c->payload);
		goto done;
	}
	if (in.size > c->s->max_write || in.size > fuse_iov_left(c->in) ||
	    in.offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	cnt = fuse_iov_slice(c->in, in.size, iov, FUSE_READ_IOV_MAX);
	if (cnt < 0)
		return -EINVAL;
	n = pt_write(&c->s->fs, &c->rq, &in, iov, cnt);
done:
	if (n > 0)
		vtfs_bump_fh(&c->s->fs, in.fh, VTAB_MD);
	if (n < 0)
		return n;
	out.size = (uint32_t)n;
	return fuse_reply(c, &out, sizeof(out));
}

static int64_t fuse_do_statfs(struct fuse_ctx *c)
{
	struct fuse_statfs_out out;
	int err = pt_statfs(&c->s->fs, &c->rq, &out);

	return err ? err : fuse_reply(c, &out, sizeof(out));
}

static int64_t fuse_do_flush(struct fuse_ctx *c)
{
	return pt_flush(&c->s->fs, &c->rq, (const void *)c->arg);
}

static int64_t fuse_do_fsync_common(struct fuse_ctx *c, bool dir)
{
	const struct fuse_fsync_in *in = (const void *)c->arg;

	return pt_fsync(&c->s->fs, &c->rq, in->fh, in->fsync_flags, dir);
}

static int64_t fuse_do_fsync(struct fuse_ctx *c) { return fuse_do_fsync_common(c, false); }
static int64_t fuse_do_fsyncdir(struct fuse_ctx *c) { return fuse_do_fsync_common(c, true); }

static int64_t fuse_do_readdir_common(struct fuse_ctx *c, bool plus)
{
	const struct fuse_read_in *in = (const void *)c->arg;
	size_t size = in->size;

	if (size > FUSE_DIR_MAX)
		size = FUSE_DIR_MAX;
	fuse_iov_truncate(c->out, size);
	return pt_readdir(&c->s->fs, &c->rq, in, plus, c->out);
}

static int64_t fuse_do_readdir(struct fuse_ctx *c) { return fuse_do_readdir_common(c, false); }
static int64_t fuse_do_readdirplus(struct fuse_ctx *c) { return fuse_do_readdir_common(c, true); }

static int64_t fuse_do_access(struct fuse_ctx *c)
{
	const struct fuse_access_in *in = (const void *)c->arg;

	return pt_access(&c->s->fs, &c->rq, in->mask);
}

static int64_t fuse_do_fallocate(struct fuse_ctx *c)
{
	const struct fuse_fallocate_in *in = (const void *)c->arg;

	if (in->offset > (uint64_t)INT64_MAX || in->length > (uint64_t)INT64_MAX ||
	    in->length == 0)
		return -EINVAL;
	int err = pt_fallocate(&c->s->fs, &c->rq, in);

	if (!err)
		vtfs_bump_fh(&c->s->fs, in->fh, VTAB_MD);
	return err;
}

static int64_t fuse_do_lseek(struct fuse_ctx *c)
{
	const struct fuse_lseek_in *in = (const void *)c->arg;
	struct fuse_lseek_out out;
	int err;

	if (in->offset > (uint64_t)INT64_MAX)
		return -ENXIO;
	err = pt_lseek(&c->s->fs, &c->rq, in, &out);
	return err ? err : fuse_reply(c, &out, sizeof(out));
}

static int64_t fuse_do_copy_file_range(struct fuse_ctx *c)
{
	const struct fuse_copy_file_range_in *in = (const void *)c->arg;
	int64_t n;

	if (in->off_in > (uint64_t)INT64_MAX || in->off_out > (uint64_t)INT64_MAX || in->flags)
		return -EINVAL;
	n = pt_copy_file_range(&c->s->fs, &c->rq, in);
	if (n < 0)
		return n;
	if (n > 0)
		vtfs_bump_fh(&c->s->fs, in->fh_out, VTAB_MD);
	if (c->opcode == FUSE_ABI_OP_COPY_FILE_RANGE_64) {
		struct fuse_abi_copy_file_range_out out = { (uint64_t)n };

		return fuse_reply(c, &out, sizeof(out));
	} else {
		/* The old reply counts in 32 bits: pt_copy_file_range caps len to fit. */
		struct fuse_write_out out = { .size = (uint32_t)n };

		return fuse_reply(c, &out, sizeof(out));
	}
}

static int64_t fuse_do_syncfs(struct fuse_ctx *c)
{
	return pt_syncfs(&c->s->fs, &c->rq);
}

static int64_t fuse_do_getlk(struct fuse_ctx *c)
{
	const struct fuse_lk_in *in = (const void *)c->arg;
	struct fuse_lk_out out;
	int err;

	if (!c->s->fs.opt.flock)
		return -ENOSYS;
	err = pt_getlk(&c->s->fs, &c->rq, in, &out);
	return err ? err : fuse_reply(c, &out, sizeof(out));
}

static int64_t fuse_do_setlk_common(struct fuse_ctx *c, bool wait)
{
	if (!c->s->fs.opt.flock)
		return -ENOSYS;
	return pt_setlk(&c->s->fs, &c->rq, (const void *)c->arg, wait);
}

static int64_t fuse_do_setlk(struct fuse_ctx *c) { return fuse_do_setlk_common(c, false); }
static int64_t fuse_do_setlkw(struct fuse_ctx *c) { return fuse_do_setlk_common(c, true); }

/* ---- extended attributes ---- */

static int64_t fuse_do_setxattr(struct fuse_ctx *c)
{
	struct fuse_setxattr_in in = { 0 };
	/* The struct grew to 16 bytes with SETXATTR_EXT; the old form has 8. */
	size_t insz = (c->s->flags & FUSE_SETXATTR_EXT) ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE;
	const char *name;
	size_t off = insz;
	int err;

	if (c->arglen < insz)
		return -EINVAL;
	memcpy(&in, c->arg, insz);
	if (!c->s->fs.opt.xattr)
		return -ENOSYS;	/* the client then stops asking (and says EOPNOTSUPP itself) */
	if ((err = fuse_arg_name_xattr(c, &off, &name)))
		return err;
	if (in.size > FUSE_XATTR_MAX)
		return -E2BIG;
	if (in.size > c->arglen - off)
		return -EINVAL;
	err = pt_setxattr(&c->s->fs, &c->rq, name, c->arg + off, in.size, in.flags,
			  in.setxattr_flags);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_META);
	return err;
}

/* getxattr/listxattr: size 0 asks for the needed size; a too small buffer is ERANGE. */
static int64_t fuse_xattr_reply(struct fuse_ctx *c, const char *name, uint32_t size)
{
	char *buf;
	int n;

	if (!c->s->fs.opt.xattr)
		return -ENOSYS;	/* the client then stops asking (and says EOPNOTSUPP itself) */
	if (size == 0) {
		struct fuse_getxattr_out out = { 0 };

		n = name ? pt_getxattr(&c->s->fs, &c->rq, name, NULL, 0) :
			   pt_listxattr(&c->s->fs, &c->rq, NULL, 0);
		if (n < 0)
			return n;
		out.size = (uint32_t)n;
		return fuse_reply(c, &out, sizeof(out));
	}
	if (size > FUSE_XATTR_MAX)
		size = FUSE_XATTR_MAX;
	if (size > fuse_iov_left(c->out))
		return -ERANGE;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	n = name ? pt_getxattr(&c->s->fs, &c->rq, name, buf, size) :
		   pt_listxattr(&c->s->fs, &c->rq, buf, size);
	if (n >= 0)
		n = fuse_reply(c, buf, (size_t)n);
	free(buf);
	return n;
}

static int64_t fuse_do_getxattr(struct fuse_ctx *c)
{
	const struct fuse_getxattr_in *in = (const void *)c->arg;
	const char *name;
	size_t off = sizeof(*in);
	int err = fuse_arg_name_xattr(c, &off, &name);

	return err ? err : fuse_xattr_reply(c, name, in->size);
}

static int64_t fuse_do_listxattr(struct fuse_ctx *c)
{
	const struct fuse_getxattr_in *in = (const void *)c->arg;

	return fuse_xattr_reply(c, NULL, in->size);
}

static int64_t fuse_do_removexattr(struct fuse_ctx *c)
{
	const char *name;
	size_t off = 0;
	int err;

	if (!c->s->fs.opt.xattr)
		return -ENOSYS;	/* the client then stops asking (and says EOPNOTSUPP itself) */
	if ((err = fuse_arg_name_xattr(c, &off, &name)))
		return err;
	err = pt_removexattr(&c->s->fs, &c->rq, name);
	if (!err)
		vtfs_bump_node(&c->s->fs, c->rq.nodeid, VTAB_META);
	return err;
}

static int64_t fuse_do_enosys(struct fuse_ctx *c)
{
	return -ENOSYS;
}

/*
 * DAX window: SETUPMAPPING/REMOVEMAPPING map file ranges into the device's shared
 * memory window. Validated here, carried out by the transport's fuse_dax_ops.
 */
static int64_t fuse_do_setupmapping(struct fuse_ctx *c)
{
	const struct fuse_setupmapping_in *in = (const void *)c->arg;
	bool writable = in->flags & FUSE_SETUPMAPPING_FLAG_WRITE;
	int err, fd;

	if (!c->s->dax)
		return -ENOSYS;
	if (in->len == 0 || in->foffset > UINT64_MAX - in->len || in->moffset > UINT64_MAX - in->len ||
	    (in->flags & ~(uint64_t)(FUSE_SETUPMAPPING_FLAG_WRITE | FUSE_SETUPMAPPING_FLAG_READ)))
		return -EINVAL;
	if (c->s->fs.opt.readonly && writable)
		return -EROFS;
	/* Linux sends fh -1: the mapping belongs to the inode, not to an open file. */
	fd = pt_open_for_dax(&c->s->fs, &c->rq, writable);
	if (fd < 0)
		return fd == -ENOMEM ? -EIO : fd;	/* ENOMEM: the guest would retry forever */
	err = c->s->dax->setup(c->s->dax_opaque, fd, in->foffset, in->len, in->moffset, writable);
	close(fd);
	/* DAX stores never reach us: guests fall back to timeouts for this file. */
	if (!err && writable)
		vtfs_volatile_node(&c->s->fs, c->rq.nodeid);
	return err == -ENOMEM ? -EIO : err;
}

static int64_t fuse_do_removemapping(struct fuse_ctx *c)
{
	struct fuse_removemapping_in in;
	struct fuse_removemapping_one one;

	if (!c->s->dax)
		return -ENOSYS;
	if (fuse_iov_read(c->in, &in, sizeof(in)))
		return -EINVAL;
	/* Entries are streamed: count may not exceed what the request really carries. */
	if (in.count > fuse_iov_left(c->in) / sizeof(one))
		return -EINVAL;
	for (uint32_t i = 0; i < in.count; i++) {
		int err;

		if (fuse_iov_read(c->in, &one, sizeof(one)))
			return -EINVAL;
		if (one.len == 0 || one.moffset > UINT64_MAX - one.len)
			return -EINVAL;
		if ((err = c->s->dax->remove(c->s->dax_opaque, one.moffset, one.len)))
			return err;
	}
	return 0;
}

/* Names drop the "FUSE_" prefix (FUSE_ABI_OP_STATX shows as ABI_OP_STATX). */
#define OP(code, fn_, in_, out_, fl_) [code] = { &(#code)[5], fn_, in_, out_, fl_ }
static const struct fuse_op fuse_ops[FUSE_ABI_OP_MAX + 1] = {
	OP(FUSE_LOOKUP, fuse_do_lookup, 0, sizeof(struct fuse_entry_out), 0),
	OP(FUSE_FORGET, fuse_do_forget, sizeof(struct fuse_forget_in), 0, FUSE_OP_NOREPLY),
	OP(FUSE_GETATTR, fuse_do_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out), 0),
	OP(FUSE_SETATTR, fuse_do_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out), 0),
	OP(FUSE_READLINK, fuse_do_readlink, 0, 0, 0),
	OP(FUSE_SYMLINK, fuse_do_symlink, 0, sizeof(struct fuse_entry_out), FUSE_OP_MODIFIES),
	OP(FUSE_MKNOD, fuse_do_mknod, sizeof(struct fuse_mknod_in), sizeof(struct fuse_entry_out), FUSE_OP_MODIFIES),
	OP(FUSE_MKDIR, fuse_do_mkdir, sizeof(struct fuse_mkdir_in), sizeof(struct fuse_entry_out), FUSE_OP_MODIFIES),
	OP(FUSE_UNLINK, fuse_do_unlink, 0, 0, FUSE_OP_MODIFIES),
	OP(FUSE_RMDIR, fuse_do_rmdir, 0, 0, FUSE_OP_MODIFIES),
	OP(FUSE_RENAME, fuse_do_rename, sizeof(struct fuse_rename_in), 0, FUSE_OP_MODIFIES),
	OP(FUSE_LINK, fuse_do_link, sizeof(struct fuse_link_in), sizeof(struct fuse_entry_out), FUSE_OP_MODIFIES),
	OP(FUSE_OPEN, fuse_do_open, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), 0),
	OP(FUSE_READ, fuse_do_read, sizeof(struct fuse_read_in), 0, 0),
	OP(FUSE_WRITE, fuse_do_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out),
	   FUSE_OP_MODIFIES | FUSE_OP_STREAM),
	OP(FUSE_STATFS, fuse_do_statfs, 0, sizeof(struct fuse_statfs_out), 0),
	OP(FUSE_RELEASE, fuse_do_release, sizeof(struct fuse_release_in), 0, 0),
	OP(FUSE_FSYNC, fuse_do_fsync, sizeof(struct fuse_fsync_in), 0, 0),
	OP(FUSE_SETXATTR, fuse_do_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, 0, FUSE_OP_MODIFIES),
	OP(FUSE_GETXATTR, fuse_do_getxattr, sizeof(struct fuse_getxattr_in), 0, 0),
	OP(FUSE_LISTXATTR, fuse_do_listxattr, sizeof(struct fuse_getxattr_in), 0, 0),
	OP(FUSE_REMOVEXATTR, fuse_do_removexattr, 0, 0, FUSE_OP_MODIFIES),
	OP(FUSE_FLUSH, fuse_do_flush, sizeof(struct fuse_flush_in), 0, 0),
	OP(FUSE_INIT, fuse_do_init, 8, sizeof(struct fuse_init_out), 0),
	OP(FUSE_OPENDIR, fuse_do_opendir, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), 0),
	OP(FUSE_READDIR, fuse_do_readdir, sizeof(struct fuse_read_in), 0, 0),
	OP(FUSE_RELEASEDIR, fuse_do_releasedir, sizeof(struct fuse_release_in), 0, 0),
	OP(FUSE_FSYNCDIR, fuse_do_fsyncdir, sizeof(struct fuse_fsync_in), 0, 0),
	OP(FUSE_GETLK, fuse_do_getlk, sizeof(struct fuse_lk_in), sizeof(struct fuse_lk_out), 0),
	OP(FUSE_SETLK, fuse_do_setlk, sizeof(struct fuse_lk_in), 0, 0),
	OP(FUSE_SETLKW, fuse_do_setlkw, sizeof(struct fuse_lk_in), 0, 0),
	OP(FUSE_ACCESS, fuse_do_access, sizeof(struct fuse_access_in), 0, 0),
	OP(FUSE_CREATE, fuse_do_create, sizeof(struct fuse_create_in),
	   sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), FUSE_OP_MODIFIES),
	/* We cannot cancel a host system call: ENOSYS tells the client to stop sending. */
	OP(FUSE_INTERRUPT, fuse_do_enosys, sizeof(struct fuse_interrupt_in), 0, 0),
	OP(FUSE_BMAP, fuse_do_enosys, 0, 0, 0),
	OP(FUSE_DESTROY, fuse_do_destroy, 0, 0, 0),
	OP(FUSE_IOCTL, fuse_do_enosys, 0, 0, 0),
	OP(FUSE_POLL, fuse_do_enosys, 0, 0, 0),
	OP(FUSE_BATCH_FORGET, fuse_do_batch_forget, sizeof(struct fuse_batch_forget_in), 0,
	   FUSE_OP_NOREPLY | FUSE_OP_STREAM),
	OP(FUSE_FALLOCATE, fuse_do_fallocate, sizeof(struct fuse_fallocate_in), 0, FUSE_OP_MODIFIES),
	OP(FUSE_READDIRPLUS, fuse_do_readdirplus, sizeof(struct fuse_read_in), 0, 0),
	OP(FUSE_RENAME2, fuse_do_rename2, sizeof(struct fuse_rename2_in), 0, FUSE_OP_MODIFIES),
	OP(FUSE_LSEEK, fuse_do_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out), 0),
	OP(FUSE_COPY_FILE_RANGE, fuse_do_copy_file_range, sizeof(struct fuse_copy_file_range_in),
	   sizeof(struct fuse_write_out), FUSE_OP_MODIFIES),
	OP(FUSE_SETUPMAPPING, fuse_do_setupmapping, sizeof(struct fuse_setupmapping_in), 0, 0),
	OP(FUSE_REMOVEMAPPING, fuse_do_removemapping, sizeof(struct fuse_removemapping_in), 0,
	   FUSE_OP_STREAM),
	OP(FUSE_SYNCFS, fuse_do_syncfs, sizeof(struct fuse_syncfs_in), 0, 0),
	OP(FUSE_TMPFILE, fuse_do_tmpfile, sizeof(struct fuse_create_in),
	   sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), FUSE_OP_MODIFIES),
	/* STATX: ENOSYS makes the client fall back to GETATTR for good. */
	OP(FUSE_ABI_OP_STATX, fuse_do_enosys, 0, 0, 0),
	OP(FUSE_ABI_OP_COPY_FILE_RANGE_64, fuse_do_copy_file_range,
	   sizeof(struct fuse_copy_file_range_in), sizeof(struct fuse_abi_copy_file_range_out),
	   FUSE_OP_MODIFIES),
};
#undef OP

/* ---- entry point ---- */

/*
 * Request extensions trail the arguments (total_extlen * 8 bytes at offset start): a
 * chain of fuse_ext_header {size, type} records, size a multiple of 8 including the
 * header. The only one we negotiate is the creator's supplementary group; unknown
 * types are skipped, malformed chains refused.
 */
static int fuse_parse_ext(const struct iovec *in, int in_cnt, size_t start, size_t ext,
			  struct pt_req *rq)
{
	struct fuse_iov ec;

	fuse_iov_init(&ec, in, in_cnt, start + ext);
	if (fuse_iov_skip(&ec, start))
		return -1;
	while (fuse_iov_left(&ec)) {
		struct fuse_ext_header eh;
		size_t body;

		if (fuse_iov_read(&ec, &eh, sizeof(eh)) || eh.size < sizeof(eh) || eh.size % 8)
			return -1;
		body = eh.size - sizeof(eh);
		if (body > fuse_iov_left(&ec))
			return -1;
		if (eh.type == FUSE_ABI_EXT_GROUPS && body >= 8) {
			uint32_t g[2]; /* nr_groups, first group */

			if (fuse_iov_read(&ec, g, sizeof(g)))
				return -1;
			body -= sizeof(g);
			if (g[0] < 1 || (uint64_t)(g[0] - 1) * 4 > body)
				return -1;
			/* The kernel sends exactly the one group owning the parent. */
			rq->has_supp_gid = true;
			rq->supp_gid = g[1];
		}
		if (fuse_iov_skip(&ec, body))
			return -1;
	}
	return 0;
}

static size_t fuse_reply_header(const struct iovec *out, int out_cnt, uint64_t unique,
				int error, size_t body)
{
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + body), .error = error, .unique = unique,
	};
	struct fuse_iov c;

	fuse_iov_init(&c, out, out_cnt, (size_t)-1);
	if (fuse_iov_write(&c, &oh, sizeof(oh)))
		return 0;
	return sizeof(oh) + body;
}

static size_t fuse_dispatch_one(struct fuse_server *s, const struct iovec *in, int in_cnt,
				struct fuse_payload *p, const struct iovec *out, int out_cnt,
				uint32_t *opcode)
{
	/* Handlers read their fixed struct in place: keep it 8-byte aligned. */
	unsigned char inline_arg[FUSE_ARG_INLINE + 1] __attribute__((aligned(8)));
	unsigned char *arg = inline_arg;
	struct fuse_in_header h;
	struct fuse_iov ic, oc;
	const struct fuse_op *op = NULL;
	struct fuse_ctx c;
	size_t total, arglen, ext, plen = p ? p->len : 0;
	int64_t r;

	fuse_iov_init(&ic, in, in_cnt, (size_t)-1);
	/* The request's bytes: the in buffers plus a pipe-held payload (saturating). */
	total = fuse_iov_left(&ic);
	total = plen > SIZE_MAX - total ? SIZE_MAX : total + plen;
	/* Too short to carry a request id: nothing we could answer. */
	if (fuse_iov_read(&ic, &h, sizeof(h)))
		return 0;
	*opcode = h.opcode;
	if (h.opcode <= FUSE_ABI_OP_MAX)
		op = &fuse_ops[h.opcode];
	if (op && (op->flags & FUSE_OP_NOREPLY) && (h.len > total || h.len < sizeof(h)))
		return 0;
	if (h.len < sizeof(h) || h.len > total)
		return fuse_reply_header(out, out_cnt, h.unique, -EINVAL, 0);
	memset(&c, 0, sizeof(c));
	/* A payload is the exact tail of a WRITE, which carries no extensions: the pipe
	 * holds the data and nothing else, and no stray bytes hide behind it. */
	if (plen && (h.opcode != FUSE_WRITE || h.len != total || h.total_extlen)) {
		r = -EINVAL;
		goto reply_or_drop;
	}
	ext = (size_t)h.total_extlen * 8;
	if (ext > h.len - sizeof(h))
		return fuse_reply_header(out, out_cnt, h.unique, -EINVAL, 0);
	/* arglen: the argument bytes in the in buffers (the payload follows them). */
	arglen = h.len - sizeof(h) - ext - plen;
	fuse_iov_truncate(&ic, arglen);
	c.payload = p; /* NULL unless it holds bytes (fuse_dispatch_payload) */
	if (ext && fuse_parse_ext(in, in_cnt, h.len - ext, ext, &c.rq)) {
		r = -EINVAL;
		goto reply_or_drop;
	}

	if (!op || !op->fn) {
		r = -ENOSYS;
		goto reply;
	}
	if (h.opcode != FUSE_INIT && atomic_load(&s->state) != FUSE_ST_READY) {
		/* Nothing but INIT before INIT (and after DESTROY). */
		if (op->flags & FUSE_OP_NOREPLY)
			return 0;
		r = -EIO;
		goto reply;
	}
	if (arglen < op->min_in) {
		r = -EINVAL;
		goto reply_or_drop;
	}
	if ((op->flags & FUSE_OP_MODIFIES) && s->fs.opt.readonly) {
		r = -EROFS;
		goto reply;
	}
	/* The reply buffers must hold the fixed reply before we do anything with side
	 * effects (a LOOKUP we cannot answer would leak a lookup count). */
	fuse_iov_init(&oc, out, out_cnt, (size_t)-1);
	if (!(op->flags & FUSE_OP_NOREPLY) &&
	    (fuse_iov_skip(&oc, sizeof(struct fuse_out_header)) || fuse_iov_left(&oc) < op->out_size)) {
		r = -EIO;
		goto reply;
	}
	if (!(op->flags & FUSE_OP_STREAM)) {
		if (arglen > FUSE_ARG_INLINE) {
			if (arglen > FUSE_ARG_MAX) {
				r = -E2BIG;
				goto reply;
			}
			arg = malloc(arglen + 1);
			if (!arg) {
				r = -ENOMEM;
				goto reply;
			}
		}
		if (fuse_iov_read(&ic, arg, arglen)) {
			if (arg != inline_arg)
				free(arg);
			r = -EINVAL;
			goto reply;
		}
		/* Terminates the last name even when the client did not. */
		arg[arglen] = 0;
	}
	c.s = s;
	c.rq.nodeid = h.nodeid;
	c.rq.uid = h.uid;
	c.rq.gid = h.gid;
	c.rq.pid = h.pid;
	c.opcode = h.opcode;
	c.arg = arg;
	c.arglen = arglen;
	c.in = &ic;
	c.out = &oc;
	/* Requests on a virtual file's node id or fh are answered from memory. */
	if (!virt_request(&s->virt, &s->fs, &c.rq, h.opcode, arg, &oc, &r))
		r = op->fn(&c);
	if (arg != inline_arg)
		free(arg);
reply_or_drop:
	if (op && (op->flags & FUSE_OP_NOREPLY))
		return 0;
reply:
	if (r < 0)
		return fuse_reply_header(out, out_cnt, h.unique, (int)r, 0);
	return fuse_reply_header(out, out_cnt, h.unique, 0, (size_t)r);
}

size_t fuse_dispatch_payload(struct fuse_server *s, const struct iovec *in, int in_cnt,
			     struct fuse_payload *p, const struct iovec *out, int out_cnt)
{
	uint32_t opcode = 0;
	uint64_t t0;
	size_t n;

	if (p && !p->len)
		p = NULL;
	if (!s->fs.opt.stats)
		return fuse_dispatch_one(s, in, in_cnt, p, out, out_cnt, &opcode);
	t0 = clock_now_ns();
	n = fuse_dispatch_one(s, in, in_cnt, p, out, out_cnt, &opcode);
	if (opcode > FUSE_ABI_OP_MAX || !fuse_ops[opcode].fn)
		opcode = 0;
	atomic_fetch_add_explicit(&s->stat_count[opcode], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->stat_ns[opcode], clock_now_ns() - t0, memory_order_relaxed);
	return n;
}

size_t fuse_dispatch(struct fuse_server *s, const struct iovec *in, int in_cnt,
		     const struct iovec *out, int out_cnt)
{
	return fuse_dispatch_payload(s, in, in_cnt, NULL, out, out_cnt);
}

/* One line per opcode seen: count, share of all requests, mean time in the server. */
static void fuse_server_print_stats(struct fuse_server *s)
{
	unsigned long long total = 0;

	for (int i = 0; i <= FUSE_ABI_OP_MAX; i++)
		total += atomic_load(&s->stat_count[i]);
	fprintf(stderr, "fs stats: %llu requests\n", total);
	for (int i = 0; i <= FUSE_ABI_OP_MAX && total; i++) {
		unsigned long long n = atomic_load(&s->stat_count[i]);

		if (n)
			fprintf(stderr, "fs stats: %-16s %10llu %5.1f%% %8.1f us\n",
				i ? fuse_ops[i].name : "(unknown)", n, 100.0 * (double)n / (double)total,
				(double)atomic_load(&s->stat_ns[i]) / (double)n / 1000.0);
	}
}

struct fuse_server *fuse_server_new(const struct fs_options *o, char *err, size_t errlen)
{
	struct fuse_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pt_fs_init(&s->fs, o, err, errlen)) {
		free(s);
		return NULL;
	}
	if (vtfs_attach(&s->fs, err, errlen)) {
		pt_fs_destroy(&s->fs);
		free(s);
		return NULL;
	}
	atomic_init(&s->state, FUSE_ST_WAIT_INIT);
	atomic_init(&s->destroyed, false);
	s->max_write = FUSE_MAX_WRITE;
	return s;
}

void fuse_server_free(struct fuse_server *s)
{
	if (!s)
		return;
	if (s->fs.opt.stats)
		fuse_server_print_stats(s);
	pt_fs_destroy(&s->fs);
	vtfs_detach(&s->fs);
	virt_free(&s->virt);
	free(s);
}

int fuse_server_add_virtual(struct fuse_server *s, const char *name, const void *data, size_t len,
			    unsigned mode)
{
	return virt_add(&s->virt, name, data, len, mode);
}

void fuse_server_set_max_write(struct fuse_server *s, uint32_t max_write)
{
	if (max_write < 4096)
		max_write = 4096;
	s->max_write = max_write < FUSE_MAX_WRITE ? max_write : FUSE_MAX_WRITE;
}

void fuse_server_set_dax(struct fuse_server *s, const struct fuse_dax_ops *ops, void *opaque)
{
	s->dax = ops;
	s->dax_opaque = opaque;
}

void fuse_server_set_dax_min(struct fuse_server *s, uint64_t min_size)
{
	s->fs.dax_min = min_size;
}

void fuse_server_set_backing(struct fuse_server *s, const struct fuse_backing_ops *ops,
			     void *opaque)
{
	backing_table_set_ops(s->fs.backings, ops, opaque);
}

void fuse_server_set_notify(struct fuse_server *s, void (*inval_attr)(void *opaque, uint64_t nodeid),
			    void *opaque)
{
	s->fs.inval_attr = inval_attr;
	s->fs.inval_opaque = opaque;
}

void fuse_server_offer_uring(struct fuse_server *s)
{
	s->uring_offered = true;
}

bool fuse_server_uring(const struct fuse_server *s)
{
	return s->flags & FUSE_OVER_IO_URING;
}

struct vtab *fuse_server_vtab(struct fuse_server *s)
{
	return s->fs.vt;
}

bool fuse_server_destroyed(const struct fuse_server *s)
{
	return atomic_load(&((struct fuse_server *)s)->destroyed);
}
