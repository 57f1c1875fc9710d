/*
 * libFuzzer target: FUSE requests into fuse_dispatch() of a server over a temp tree.
 *
 * Input layout (tests/fuzz/gen_fuse_corpus.py writes seeds in it):
 *   [0]      server options: bits 0-1 cache mode, 2 writeback, 3 posix_acl, 4 readonly,
 *            5 no xattr, 6 flock
 *   [1]      number of in-iovecs the request is cut into (1 + v % 8)
 *   [2]      number of out-iovecs (1 + v % 8); bit 7 adds a 132 KiB last buffer
 *   [3]      bit 0: the server gets a 4 MiB DAX window (fs/dax.c over a PROT_NONE
 *            reservation), so SETUPMAPPING / REMOVEMAPPING really map tree files
 *   [4..18)  7 x u16 in-split points (mod request length, sorted)
 *   [18..34) 8 x u16 out-iovec sizes (mod 4097)
 *   [34..36) unused
 *   then up to 8 FUSE requests, each as long as its fuse_in_header.len says (the last
 *   one takes whatever is left).
 *
 * Every input gets a fresh server over a freshly reset tree (root/file, root/dir,
 * root/dir/sub, root/link -> file) with two virtual files in the root (".nook-init",
 * ".nook-run", see fuse_server_add_virtual), a valid INIT, LOOKUPs and OPENs, so later
 * opcodes are reachable. A u64 of the form 0xAA000000000000XX in the header's nodeid or
 * in the first 64 argument bytes is replaced by entry XX of [root, file, dir, link, sub,
 * file fh, dir fh, virtual file]: that is how seeds name live inodes and handles (a
 * virtual file's node id is also the fh of its opens).
 *
 * Each in- and out-iovec is its own exact-size allocation so ASan sees any access past
 * a piece. Invariants checked: reply length within the out buffers, equal to
 * out_header.len, unique echoed, error in (-4096, 0]; a canary directory next to the
 * tree never changes. Harness limits keep the host safe: no device nodes (a block node
 * plus WRITE would write the host disk), and FALLOCATE / COPY_FILE_RANGE lengths are
 * clamped to 1 MiB (sparse sizes cost nothing, allocated or copied bytes do). No
 * RLIMIT_FSIZE: libFuzzer treats SIGXFSZ as a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/dax.h"
#include "fs/fuse_server.h"

#define FZ_HDR       36
#define FZ_MAX_REQS  8
#define FZ_BIG_OUT   (132u << 10)
#define FZ_MARK      0xAA00000000000000ull
#define FZ_MAX_ALLOC (1u << 20)

static char fz_base[64];              /* /tmp/nook-fuzz-fuse.XXXXXX */
static char fz_root[96], fz_canary[96], fz_victim[112];
static struct stat fz_base_st, fz_canary_st, fz_victim_st;
static uint64_t fz_table[8];
static uint64_t fz_unique;
static uint8_t fz_big[FZ_BIG_OUT];
static uint8_t fz_virt[5000];          /* contents of the virtual ".nook-init" */

static int fz_rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0)
		return 0;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static char fz_vtdir[64];

static void fz_cleanup(void)
{
	if (fz_vtdir[0]) {
		nftw(fz_vtdir, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
		rmdir(fz_vtdir);
	}
	if (fz_base[0])
		nftw(fz_base, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(fz_base);
}

static void fz_put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) < 0) {
		fprintf(stderr, "fuzz_fuse: cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
	close(fd);
}

/* Back to the fixture: the previous input may have changed anything under root. */
static void fz_reset_tree(void)
{
	char p[160];

	chmod(fz_root, 0755);
	nftw(fz_root, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(p, sizeof(p), "%s/file", fz_root);
	fz_put(p, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	snprintf(p, sizeof(p), "%s/dir", fz_root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/sub", fz_root);
	fz_put(p, "sub");
	snprintf(p, sizeof(p), "%s/link", fz_root);
	symlink("file", p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(fz_base, sizeof(fz_base), "/tmp/nook-fuzz-fuse.XXXXXX");
	if (!mkdtemp(fz_base)) {
		perror("fuzz_fuse: mkdtemp");
		exit(1);
	}
	atexit(fz_cleanup);
	/* The tree's version table, outside the directories the escape checks watch. */
	snprintf(fz_vtdir, sizeof(fz_vtdir), "/tmp/nook-fuzz-vt.XXXXXX");
	if (!mkdtemp(fz_vtdir)) {
		perror("fuzz_fuse: mkdtemp");
		exit(1);
	}
	setenv("NOOK_VT_DIR", fz_vtdir, 1);
	snprintf(fz_root, sizeof(fz_root), "%s/root", fz_base);
	snprintf(fz_canary, sizeof(fz_canary), "%s/canary", fz_base);
	snprintf(fz_victim, sizeof(fz_victim), "%s/victim", fz_canary);
	if (mkdir(fz_root, 0755) || mkdir(fz_canary, 0755)) {
		perror("fuzz_fuse: mkdir");
		exit(1);
	}
	fz_put(fz_victim, "victim");
	stat(fz_base, &fz_base_st);
	stat(fz_canary, &fz_canary_st);
	stat(fz_victim, &fz_victim_st);
	return 0;
}

static int fz_same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void fz_check_canary(void)
{
	struct stat a, b, c;

	if (stat(fz_base, &a) || stat(fz_canary, &b) || stat(fz_victim, &c) ||
	    !fz_same_time(&a.st_mtim, &fz_base_st.st_mtim) ||
	    !fz_same_time(&b.st_mtim, &fz_canary_st.st_mtim) ||
	    !fz_same_time(&b.st_ctim, &fz_canary_st.st_ctim) ||
	    !fz_same_time(&c.st_ctim, &fz_victim_st.st_ctim) || c.st_size != 6) {
		fprintf(stderr, "fuzz_fuse: something outside the shared tree changed\n");
		abort();
	}
}

static uint16_t fz_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int fz_cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Sends req[0..len) cut as the layout says; checks the reply invariants. */
static size_t fz_send(struct fuse_server *s, const uint8_t *layout, const void *req, size_t len,
		      void *reply, size_t reply_cap)
{
	struct iovec in[8], out[9];
	size_t cuts[9], n_in = 1 + layout[1] % 8, n_out = 1 + (layout[2] & 0x7f) % 8;
	size_t out_total = 0, k = 0;

	/* In-iovecs: sorted cut points, each piece copied into its own allocation. */
	for (size_t i = 0; i + 1 < n_in; i++)
		cuts[i] = len ? fz_u16(layout + 4 + 2 * i) % (len + 1) : 0;
	qsort(cuts, n_in - 1, sizeof(cuts[0]), fz_cmp_size);
	cuts[n_in - 1] = len;
	for (size_t i = 0, from = 0; i < n_in; i++) {
		size_t piece = cuts[i] - from;

		in[i].iov_base = malloc(piece ? piece : 1);
		in[i].iov_len = piece;
		memcpy(in[i].iov_base, (const uint8_t *)req + from, piece);
		from = cuts[i];
	}
	for (size_t i = 0; i < n_out; i++) {
		size_t sz = fz_u16(layout + 18 + 2 * i) % 4097;

		out[k].iov_base = malloc(sz ? sz : 1);
		out[k++].iov_len = sz;
		out_total += sz;
	}
	for (size_t i = 0; i < k; i++)
		memset(out[i].iov_base, 0xcc, out[i].iov_len);
	/* The big buffer is a global (ASan still has redzones around it): a fresh 132 KiB
	 * allocation per request costs page faults that halve the exec rate. */
	if (layout[2] & 0x80) {
		out[k].iov_base = fz_big;
		out[k++].iov_len = FZ_BIG_OUT;
		out_total += FZ_BIG_OUT;
	}

	size_t r = fuse_dispatch(s, in, (int)n_in, out, (int)k);

	if (r > out_total) {
		fprintf(stderr, "fuzz_fuse: reply of %zu bytes in %zu bytes of buffers\n", r,
			out_total);
		abort();
	}
	/* Gather the reply for the checks and the caller. */
	size_t got = 0;

	for (size_t i = 0; i < k && got < r; i++) {
		size_t n = out[i].iov_len < r - got ? out[i].iov_len : r - got;

		if (got < reply_cap)
			memcpy((uint8_t *)reply + got, out[i].iov_base,
			       n < reply_cap - got ? n : reply_cap - got);
		got += n;
	}
	if (r) {
		struct fuse_out_header oh;
		struct fuse_in_header ih;

		if (r < sizeof(oh) || reply_cap < sizeof(oh)) {
			fprintf(stderr, "fuzz_fuse: reply of %zu bytes has no header\n", r);
			abort();
		}
		memcpy(&oh, reply, sizeof(oh));
		if (oh.len != r || oh.error > 0 || oh.error <= -4096 ||
		    (oh.error && r != sizeof(oh))) {
			fprintf(stderr, "fuzz_fuse: bad reply header len %u (returned %zu) error %d\n",
				oh.len, r, oh.error);
			abort();
		}
		if (len >= sizeof(ih)) {
			memcpy(&ih, req, sizeof(ih));
			if (oh.unique != ih.unique) {
				fprintf(stderr, "fuzz_fuse: reply unique %llu for request %llu\n",
					(unsigned long long)oh.unique, (unsigned long long)ih.unique);
				abort();
			}
		}
	}
	for (size_t i = 0; i < n_in; i++)
		free(in[i].iov_base);
	for (size_t i = 0; i < n_out; i++)
		free(out[i].iov_base);
	return r;
}

/* Layout of the harness's own requests: one in-iovec, one big out-iovec. */
static const uint8_t fz_plain[FZ_HDR] = { [2] = 0x80 };

static size_t fz_call(struct fuse_server *s, uint32_t opcode, uint64_t nodeid, const void *arg,
		      size_t arglen, const char *name, void *reply, size_t cap)
{
	uint8_t req[512];
	struct fuse_in_header ih = {
		.opcode = opcode, .nodeid = nodeid, .unique = ++fz_unique,
	};
	size_t nlen = name ? strlen(name) + 1 : 0;

	ih.len = (uint32_t)(sizeof(ih) + arglen + nlen);
	memcpy(req, &ih, sizeof(ih));
	memcpy(req + sizeof(ih), arg, arglen);
	if (name)
		memcpy(req + sizeof(ih) + arglen, name, nlen);
	return fz_send(s, fz_plain, req, ih.len, reply, cap);
}

static uint64_t fz_lookup(struct fuse_server *s, uint64_t parent, const char *name)
{
	uint8_t r[sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out)];
	struct fuse_entry_out e;

	if (fz_call(s, FUSE_LOOKUP, parent, "", 0, name, r, sizeof(r)) != sizeof(r))
		return 0;
	memcpy(&e, r + sizeof(struct fuse_out_header), sizeof(e));
	return e.nodeid;
}

static uint64_t fz_open(struct fuse_server *s, uint32_t opcode, uint64_t nodeid, uint32_t flags)
{
	uint8_t r[sizeof(struct fuse_out_header) + sizeof(struct fuse_open_out)];
	struct fuse_open_in oi = { .flags = flags };
	struct fuse_open_out oo;

	if (fz_call(s, opcode, nodeid, &oi, sizeof(oi), NULL, r, sizeof(r)) != sizeof(r))
		return 0;
	memcpy(&oo, r + sizeof(struct fuse_out_header), sizeof(oo));
	return oo.fh;
}

static void fz_setup(struct fuse_server *s)
{
	static uint8_t r[4096];
	struct fuse_init_in ii = {
		.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128u << 10, .flags = 0xffffffffu, .flags2 = 0xffffffffu,
	};

	fz_call(s, FUSE_INIT, 0, &ii, sizeof(ii), NULL, r, sizeof(r));
	fz_table[0] = FUSE_ROOT_ID;
	fz_table[1] = fz_lookup(s, FUSE_ROOT_ID, "file");
	fz_table[2] = fz_lookup(s, FUSE_ROOT_ID, "dir");
	fz_table[3] = fz_lookup(s, FUSE_ROOT_ID, "link");
	fz_table[4] = fz_table[2] ? fz_lookup(s, fz_table[2], "sub") : 0;
	fz_table[5] = fz_table[1] ? fz_open(s, FUSE_OPEN, fz_table[1], O_RDWR) : 0;
	fz_table[6] = fz_table[2] ? fz_open(s, FUSE_OPENDIR, fz_table[2], O_RDONLY) : 0;
	fz_table[7] = fz_lookup(s, FUSE_ROOT_ID, ".nook-init");
}

static void fz_subst(uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	if ((v & ~0xffull) == FZ_MARK) {
		v = fz_table[v & 7];
		memcpy(p, &v, 8);
	}
}

static void fz_clamp(uint8_t *req, size_t len, size_t off)
{
	uint64_t v;

	if (off + 8 > len)
		return;
	memcpy(&v, req + off, 8);
	if (v > FZ_MAX_ALLOC)
		v = FZ_MAX_ALLOC;
	memcpy(req + off, &v, 8);
}

/* Requests the harness refuses or trims (host safety, not server correctness). */
static int fz_refused(uint8_t *req, size_t len)
{
	const size_t a = sizeof(struct fuse_in_header);
	struct fuse_in_header ih;
	struct fuse_mknod_in mi;

	if (len < sizeof(ih))
		return 0;
	memcpy(&ih, req, sizeof(ih));
	if (ih.opcode == FUSE_FALLOCATE)
		fz_clamp(req, len, a + offsetof(struct fuse_fallocate_in, length));
	if (ih.opcode == FUSE_COPY_FILE_RANGE)
		fz_clamp(req, len, a + offsetof(struct fuse_copy_file_range_in, len));
	if (ih.opcode == FUSE_MKNOD && len >= sizeof(ih) + sizeof(mi)) {
		memcpy(&mi, req + sizeof(ih), sizeof(mi));
		/* Creating device nodes is legitimate for the server; the harness just never
		 * lets one appear on the host: only FIFO, socket and regular types pass. */
		if (!(S_ISFIFO(mi.mode) || S_ISSOCK(mi.mode) || S_ISREG(mi.mode) ||
		      (mi.mode & S_IFMT) == 0))
			return 1;
	}
	return 0;
}

/* One window for the whole run (wiped after each input). */
static struct dax_window *fz_dax_window(void)
{
	static struct dax_window *w;
	char err[128];

	if (!w) {
		void *p = mmap(NULL, 4u << 20, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED || !(w = dax_window_new(p, 4u << 20, err, sizeof(err)))) {
			fprintf(stderr, "fuzz_fuse: no DAX window\n");
			abort();
		}
	}
	return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[FZ_BIG_OUT + 8 * 4097];
	struct fs_options o;
	char err[256];

	if (size < FZ_HDR)
		return -1;
	fz_reset_tree();
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", fz_root);
	o.cache = (enum fs_cache_mode)(data[0] & 3);
	o.writeback = data[0] & 4;
	o.posix_acl = data[0] & 8;
	o.readonly = data[0] & 16;
	o.xattr = !(data[0] & 32) || o.posix_acl;
	o.flock = data[0] & 64;
	/* The version table: bumps and the records after entry/attr replies. */
	o.versions = data[0] & 128;
	o.vt_slots = 64;
	o.vt_watch = false;
	struct fuse_server *s = fuse_server_new(&o, err, sizeof(err));

	if (!s) {
		fprintf(stderr, "fuzz_fuse: fuse_server_new: %s\n", err);
		abort();
	}
	/* Before INIT, as a transport adds them: 5000 bytes make reads end mid-page. */
	if (fuse_server_add_virtual(s, ".nook-init", fz_virt, sizeof(fz_virt), 0555) ||
	    fuse_server_add_virtual(s, ".nook-run", "NOOKRUN1", 9, 0400)) {
		fprintf(stderr, "fuzz_fuse: fuse_server_add_virtual failed\n");
		abort();
	}
	if (data[3] & 1)
		fuse_server_set_dax(s, &dax_window_ops, fz_dax_window());
	fz_setup(s);

	const uint8_t *p = data + FZ_HDR;
	size_t left = size - FZ_HDR;

	for (int i = 0; i < FZ_MAX_REQS && left > 0 && !fuse_server_destroyed(s); i++) {
		struct fuse_in_header ih;
		size_t len = left;

		if (left >= sizeof(ih)) {
			memcpy(&ih, p, sizeof(ih));
			if (ih.len >= sizeof(ih) && ih.len <= left)
				len = ih.len;
		}
		uint8_t *req = malloc(len ? len : 1);

		memcpy(req, p, len);
		if (len >= sizeof(ih)) {
			fz_subst(req + offsetof(struct fuse_in_header, nodeid));
			for (size_t off = sizeof(ih); off + 8 <= len && off < sizeof(ih) + 64; off += 8)
				fz_subst(req + off);
		}
		if (!fz_refused(req, len))
			fz_send(s, data, req, len, reply, sizeof(reply));
		free(req);
		p += len;
		left -= len;
	}
	fuse_server_free(s);
	if (data[3] & 1)
		dax_reset(fz_dax_window());
	fz_check_canary();
	return 0;
}
