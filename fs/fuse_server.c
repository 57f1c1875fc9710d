/*
 * FUSE request decoding, validation and reply encoding (see fs/fuse_server.h): the
 * session (INIT/DESTROY), the opcode table and the entry point. The handlers are in
 * fs/fuse_ops_*.c, the argument checkers in fs/fuse_args.c (fs/fuse_server_int.h).
 *
 * These files are the one place where guest-controlled lengths and names are checked:
 * fuse_dispatch() bounds the header against the buffers, the argument block against the
 * header, each opcode's fixed argument struct against its minimum size (from the table
 * below), each name against NAME_MAX/'/'/NUL, and each byte count against our limits,
 * before fs/passthrough.c runs. Replies are only written through a bounded cursor.
 * A WRITE payload held in a transport's pipe (fuse_dispatch_payload) is checked here
 * too: it must be the request's exact tail and match write_in.size.
 */
#include "fs/fuse_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inode.h"
#include "vmm/clock.h"
#include "vmm/log.h"
#include "fs/fuse_server_int.h"

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

static int64_t fuse_do_enosys(struct fuse_ctx *c)
{
	return -ENOSYS;
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
