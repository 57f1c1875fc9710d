/*
 * Host-side cost of the version table (figures, not a test): requests through
 * fuse_dispatch() in this process against a tmpfs tree, with `versions` off, on without
 * a negotiating client (a host mount), and on with VERTAB negotiated (a patched guest),
 * plus the raw bump and snapshot. Prints ns per request; best of 3 rounds.
 *
 *   vtab_bench [ROUNDS_OF_N]   (default 20000 requests per phase)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double fmin_d(double a, double b) { return a < b ? a : b; }

#include "fs/fuse_abi.h"
#include "fs/fuse_server.h"
#include "fs/vtab.h"

static unsigned char out[1 << 16];
static uint64_t uniq;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One request; returns the reply's error. */
static int req(struct fuse_server *s, uint32_t op, uint64_t node, const void *arg, size_t len,
	       void *body, size_t bodylen)
{
	static _Thread_local unsigned char buf[8192];
	struct fuse_in_header *h = (void *)buf;
	struct fuse_out_header oh;
	struct iovec in = { buf, sizeof(*h) + len }, o = { out, sizeof(out) };

	if (len > sizeof(buf) - sizeof(*h))
		return -E2BIG;
	memset(h, 0, sizeof(*h));
	h->len = (uint32_t)(sizeof(*h) + len);
	h->opcode = op;
	h->unique = ++uniq;
	h->nodeid = node;
	memcpy(buf + sizeof(*h), arg, len);
	if (fuse_dispatch(s, &in, 1, &o, 1) < sizeof(oh))
		return -EIO;
	memcpy(&oh, out, sizeof(oh));
	if (body)
		memcpy(body, out + sizeof(oh), bodylen);
	return oh.error;
}

static struct fuse_server *server(const char *dir, const char *opts, bool vertab)
{
	struct fs_options o;
	struct fuse_init_in in = { .major = 7, .minor = 45, .flags = 0xffffffffu,
				   .flags2 = vertab ? 0xffffffffu : 0x7fffffffu };
	struct fuse_server *s;
	char err[256];

	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", dir);
	if (fs_options_parse(&o, opts, err, sizeof(err)) || !(s = fuse_server_new(&o, err, sizeof(err)))) {
		fprintf(stderr, "vtab_bench: %s\n", err);
		exit(1);
	}
	if (req(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0)) {
		fprintf(stderr, "vtab_bench: INIT failed\n");
		exit(1);
	}
	return s;
}

/* ns per request of: LOOKUP+GETATTR of one file; CREATE+UNLINK+FORGET; WRITE 4 KiB. */
static void phases(const char *dir, const char *opts, bool vertab, int n, const char *label)
{
	struct fuse_server *s = server(dir, opts, vertab);
	struct fuse_entry_out e;
	struct fuse_getattr_in gin = { 0 };
	char name[64], arg[256];
	double best[3] = { 1e30, 1e30, 1e30 };
	static char data[4096 + sizeof(struct fuse_write_in)];

	for (int round = 0; round < 3; round++) {
		uint64_t t0 = now_ns(), fh;
		struct { struct fuse_entry_out e; struct fuse_open_out o; char rec[32]; } co;
		struct fuse_create_in cin = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
		struct fuse_write_in *w = (void *)data;
		struct fuse_open_in oin = { .flags = O_RDWR };
		struct fuse_open_out oo;

		for (int i = 0; i < n; i++) {
			req(s, FUSE_LOOKUP, 1, "f", 2, &e, sizeof(e));
			req(s, FUSE_GETATTR, e.nodeid, &gin, sizeof(gin), NULL, 0);
		}
		best[0] = fmin_d(best[0], (double)(now_ns() - t0) / n / 2);
		t0 = now_ns();
		for (int i = 0; i < n / 4; i++) {
			struct fuse_forget_in fin = { .nlookup = 1 };
			size_t l;

			snprintf(name, sizeof(name), "c%d", i);
			l = strlen(name) + 1;
			memcpy(arg, &cin, sizeof(cin));
			memcpy(arg + sizeof(cin), name, l);
			if (req(s, FUSE_CREATE, 1, arg, sizeof(cin) + l, &co, sizeof(co)))
				exit(2);
			req(s, FUSE_UNLINK, 1, name, l, NULL, 0);
			req(s, FUSE_FORGET, co.e.nodeid, &fin, sizeof(fin), NULL, 0);
			memcpy(arg, &co.o.fh, 8);
			{
				struct fuse_release_in rin = { .fh = co.o.fh };

				req(s, FUSE_RELEASE, co.e.nodeid, &rin, sizeof(rin), NULL, 0);
			}
		}
		best[1] = fmin_d(best[1], (double)(now_ns() - t0) / (n / 4) / 4);
		req(s, FUSE_LOOKUP, 1, "f", 2, &e, sizeof(e));
		if (req(s, FUSE_OPEN, e.nodeid, &oin, sizeof(oin), &oo, sizeof(oo)))
			exit(3);
		fh = oo.fh;
		memset(w, 0, sizeof(*w));
		w->fh = fh;
		w->size = 4096;
		t0 = now_ns();
		for (int i = 0; i < n; i++) {
			w->offset = 0;
			req(s, FUSE_WRITE, e.nodeid, data, sizeof(data), NULL, 0);
		}
		best[2] = fmin_d(best[2], (double)(now_ns() - t0) / n);
	}
	printf("vtab-bench: %-28s lookup/getattr %7.0f ns  create/unlink %7.0f ns  write-4k %7.0f ns\n",
	       label, best[0], best[1], best[2]);
	fuse_server_free(s);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	char dir[] = "/dev/shm/nook-vtab-bench-XXXXXX", vtdir[] = "/tmp/nook-vtab-bench-vt-XXXXXX";
	char path[128], err[256];
	struct nook_vt_entry_out r;
	struct vtab *vt;
	uint64_t t0;
	int fd;

	if (n < 4 || !mkdtemp(dir) || !mkdtemp(vtdir))
		return 1;
	setenv("NOOK_VT_DIR", vtdir, 1);
	snprintf(path, sizeof(path), "%s/f", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	phases(dir, "no_versions", false, n, "versions off");
	phases(dir, "versions,no_vt_watch", false, n, "versions, host mount client");
	phases(dir, "versions,no_vt_watch", true, n, "versions, VERTAB client");
	fd = open(dir, O_PATH | O_DIRECTORY);
	vt = vtab_open(fd, vtdir, VTAB_SLOTS_DEFAULT, err, sizeof(err));
	if (!vt)
		return 1;
	t0 = now_ns();
	for (int i = 0; i < n * 50; i++)
		vtab_bump(vt, 1 + (uint64_t)i % 1000, VTAB_MD);
	printf("vtab-bench: bump meta+data %.1f ns\n", (double)(now_ns() - t0) / (n * 50));
	t0 = now_ns();
	for (int i = 0; i < n * 50; i++)
		vtab_read(vt, 1 + (uint64_t)i % 1000, &r);
	printf("vtab-bench: snapshot read %.1f ns\n", (double)(now_ns() - t0) / (n * 50));
	vtab_close(vt);
	snprintf(path, sizeof(path), "rm -rf %s %s", dir, vtdir);
	return system(path) ? 1 : 0;
}
