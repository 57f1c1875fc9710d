/*
 * Host transport: `nook fs serve SRC MOUNTPOINT [-o opts] [-f]` mounts the FUSE server
 * on the host through /dev/fuse. It is the test vehicle of the server (mount-level
 * tests, fuzzing seeds, benchmarks) and stays in the foreground.
 *
 * The mount uses default_permissions, like virtio-fs guests do: the kernel checks mode
 * bits against the caller, so non-root callers get local semantics while the server
 * runs as root. SIGINT/SIGTERM unmount (MNT_DETACH) and stop; an external umount makes
 * reads fail with ENODEV, which stops the workers too.
 *
 * Worker threads each take one request at a time, hand it to the server and write the
 * reply. By default one of them, the leader, takes every request and polls for the next
 * before it sleeps, the others standing by for a slow request (fs/fuse_lead.h); with
 * -o io_uring the kernel hands requests to per-CPU rings instead (fs/fuse_uring.h). To save a copy of large WRITEs, workers splice requests from /dev/fuse into
 * their own pipe, like libfuse: the kernel then passes the pages of a buffered WRITE by
 * reference instead of copying them into our buffer. The worker reads the header (and,
 * for anything but a large WRITE, the whole request) out of the pipe into its buffer; a
 * large WRITE's data stays in the pipe and goes to fuse_dispatch_payload(), which
 * splices it into the host file: two copies per write (client -> FUSE pages, pipe ->
 * host page cache) instead of three. Splicing a small request costs an extra system
 * call, so workers read() requests whole until a large WRITE shows up and splice only
 * while large WRITEs keep coming. Pipes hold a whole request or the kernel fails it:
 * without CAP_SYS_RESOURCE they stop at pipe-max-size (1 MiB), and max_write is then
 * lowered to 1016 KiB; with no pipe of 1 MiB at all, every request is read().
 */
#include "fs/fuse_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_abi.h"
#include "fs/fuse_dev_opts.h"
#include "fs/fuse_lead.h"
#include "fs/fuse_uring.h"
#include "vmm/clock.h"
#include "vmm/log.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp.h"

/*
 * Default workers: one per CPU we may run on, at least 2 (a slow request such as an
 * fsync must not stall the rest) and at most 8. More workers than CPUs cost a lot: the
 * kernel hands each request to the worker that has waited longest, so a serial client
 * meets a different, colder thread every time (measured on 2 CPUs, RAM-backed ext4,
 * median tar extraction: 0.75 s with 2 workers, 0.83 s with 1, 0.79-0.99 s with 4).
 */
#define FUSE_DEV_MIN_THREADS 2
#define FUSE_DEV_MAX_THREADS 8

/* CPUs we may run on. */
static int fuse_dev_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
}

static int fuse_dev_default_threads(void)
{
	int n = fuse_dev_cpus();

	return n < FUSE_DEV_MIN_THREADS ? FUSE_DEV_MIN_THREADS :
	       n > FUSE_DEV_MAX_THREADS ? FUSE_DEV_MAX_THREADS : n;
}
/*
 * Default busy-poll window after a request (fs/fuse_lead.h), with 2 or more CPUs; with
 * one, polling would only keep the client from running. Measured on a 2-CPU VM,
 * RAM-backed ext4, tar extraction in 8 interleaved pairs: 0.76-0.86 s polling 50 us,
 * 0.83-1.07 s with sleeping workers (20 and 100 us polled about as well as 50).
 */
#define FUSE_DEV_POLL_US 50
/* A request that keeps the polling worker longer hands the reading on to another. */
#define FUSE_DEV_SLOW_US 1000
/* One request: a 1 MiB WRITE payload plus header and arguments. */
#define FUSE_DEV_BUF ((1u << 20) + 4096)
/*
 * A worker's pipe must take any whole request: one slot (page) for the header and
 * arguments plus one per payload page, and a WRITE of max_write bytes at any page
 * offset spans max_write / 4096 + 1 pages. Too few slots and the kernel fails the
 * request (EIO); a pipe that is not empty may even fail the splice AFTER the request
 * left the queue (its caller would wait forever). So a 1 MiB WRITE needs 258 slots: a
 * 2 MiB pipe. Without CAP_SYS_RESOURCE a pipe is at most pipe-max-size (1 MiB by
 * default, 256 slots): then max_write is lowered to 254 pages (1016 KiB). A pipe also
 * bounds the splice length, and a read shorter than max_write + 80 bytes is refused.
 */
#define FUSE_DEV_PIPE_SIZE (2u << 20)
#define FUSE_DEV_PIPE_MIN  (1u << 20)
/* Header and write_in: what is read out of the pipe before the payload. */
#define FUSE_DEV_WRITE_HDR (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
/* Smaller WRITEs are read whole: splicing their data costs about what copying it does
 * (measured per write: 64 KiB even, 128 KiB ~8% faster, 1 MiB ~20% faster spliced). */
#define FUSE_DEV_SPLICE_MIN (128u << 10)
/*
 * A spliced small request costs a splice and a read instead of one read (measured: tar
 * extraction ~30% slower). So workers splice only while large WRITEs are coming: each
 * one seen (spliced or read) sets this many credits, every other request spends one.
 */
#define FUSE_DEV_SPLICE_CREDIT 8

struct fuse_dev {
	struct fuse_server *srv;
	int fd;
	pthread_t *threads;
	int nthreads;
	int pipe_size;        /* bytes of each worker's splice pipe; 0: plain read() */
	atomic_int splice_credit; /* > 0: large WRITEs are coming, splice (shared hint) */
	struct fuse_uring *uring; /* FUSE over io_uring, NULL when not offered */
	bool lead_on;         /* one polling reader at a time: fs/fuse_lead.h */
	int poll_fd;          /* non-blocking clone of fd, which the leader polls, or -1 */
	int64_t poll_ns;      /* its poll window */
	struct fuse_lead lead;
	atomic_int next_id;   /* worker ids for the reader role */
	int running;          /* workers still alive, under lock */
	atomic_bool unmounted; /* a worker read ENODEV: the mount is gone already */
	pthread_mutex_t lock;
	pthread_cond_t done;
};

/* A worker's splice pipe ([0] read end, [1] write end), -1 when it reads plainly. */
static void fuse_dev_pipe_close(int p[2])
{
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		p[i] = -1;
	}
}

/* O_NONBLOCK: reading an empty pipe says EAGAIN instead of blocking us for good. */
static void fuse_dev_pipe_open(int p[2], int size)
{
	p[0] = p[1] = -1;
	if (!size || pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return;
	if (fcntl(p[1], F_SETPIPE_SZ, size) < size) {
		log_debug("fs serve: no %d-byte pipe (%s), reading requests plainly", size,
			  strerror(errno));
		fuse_dev_pipe_close(p);
	}
}

/*
 * Before INIT: the biggest pipe we may have (2 MiB, else 1 MiB) and the max_write that
 * fits it. Smaller pipes are not worth it: requests are then read() whole, as they are
 * by any worker whose own pipe cannot get this size.
 */
static void fuse_dev_pipe_probe(struct fuse_dev *d)
{
	int p[2], sz = 0;

	if (pipe2(p, O_CLOEXEC))
		return;
	if (fcntl(p[1], F_SETPIPE_SZ, FUSE_DEV_PIPE_SIZE) >= (int)FUSE_DEV_PIPE_SIZE)
		sz = FUSE_DEV_PIPE_SIZE;
	else if (fcntl(p[1], F_SETPIPE_SZ, FUSE_DEV_PIPE_MIN) >= (int)FUSE_DEV_PIPE_MIN)
		sz = FUSE_DEV_PIPE_MIN;
	close(p[0]);
	close(p[1]);
	d->pipe_size = sz;
	/* Header slot, plus one page for a WRITE that does not start on a page boundary. */
	if (sz && (unsigned)sz / 4096 - 2 < (1u << 20) / 4096)
		fuse_server_set_max_write(d->srv, ((unsigned)sz / 4096 - 2) * 4096);
	log_debug("fs serve: splice pipes of %d bytes", sz);
}

/* Up to len bytes out of the pipe; fewer only if it holds fewer or fails. */
static size_t fuse_dev_pipe_read(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/*
 * After a request: the pipe must be empty before the next splice. Whatever is left
 * (the server refused a payload, or wrote part of it) is read and dropped; a pipe we
 * cannot empty is replaced.
 */
static void fuse_dev_pipe_drain(struct fuse_dev *d, int p[2], unsigned char *buf, size_t size)
{
	for (;;) {
		ssize_t n = read(p[0], buf, size);

		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break;
	}
	log_warn("fs serve: cannot empty a splice pipe, making a new one");
	fuse_dev_pipe_close(p);
	fuse_dev_pipe_open(p, d->pipe_size);
}

/*
 * Takes one request through the worker's pipe. Returns the bytes now in buf (the whole
 * request, or for a large WRITE its header and write_in, with the data described by
 * *pl), or -1 with errno as read(2) would set it.
 */
static ssize_t fuse_dev_splice_request(struct fuse_dev *d, int fd, int p[2], unsigned char *buf,
				       struct fuse_payload *pl)
{
	const struct fuse_in_header *h = (const void *)buf;
	ssize_t n = splice(fd, NULL, p[1], NULL, FUSE_DEV_BUF, 0);
	size_t want, got;

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == ENOENT || errno == ENODEV)
			return -1;
		/* Not a state of the connection: stop splicing, read() will tell. */
		log_warn("fs serve: splicing from /dev/fuse: %s, reading requests plainly",
			 strerror(errno));
		fuse_dev_pipe_close(p);
		return read(fd, buf, FUSE_DEV_BUF);
	}
	if ((size_t)n > FUSE_DEV_BUF) {
		/* Cannot happen (we asked for at most that): keep the pipe consistent. */
		fuse_dev_pipe_drain(d, p, buf, FUSE_DEV_BUF);
		errno = EIO;
		return -1;
	}
	want = (size_t)n < FUSE_DEV_WRITE_HDR + FUSE_DEV_SPLICE_MIN ? (size_t)n : FUSE_DEV_WRITE_HDR;
	got = fuse_dev_pipe_read(p[0], buf, want);
	if (got < want)
		goto broken;
	if (got == (size_t)n)
		return n;
	if (h->opcode == FUSE_WRITE) {
		pl->pipe_fd = p[0];
		pl->len = (size_t)n - got;
		pl->consumed = 0;
		/* The buffer behind the header serves a fallback write (O_APPEND files). */
		pl->scratch = buf + got;
		pl->scratch_len = FUSE_DEV_BUF - got;
		return (ssize_t)got;
	}
	got += fuse_dev_pipe_read(p[0], buf + got, (size_t)n - got);
	if (got == (size_t)n)
		return n;
broken:
	/* Our own pipe failed us. Hand over what we have: with the header the server
	 * answers EINVAL (h.len is larger than what it sees), so the caller does not hang. */
	log_warn("fs serve: reading a request out of its pipe failed");
	fuse_dev_pipe_drain(d, p, buf + got, FUSE_DEV_BUF - got); /* got < n <= FUSE_DEV_BUF */
	return (ssize_t)got;
}

/* After taking a request: keep splicing while large WRITEs come (see above). Races
 * between workers only shift the switch by a request or two. */
static void fuse_dev_splice_hint(struct fuse_dev *d, int credit, const unsigned char *buf,
				 size_t n, const struct fuse_payload *pl)
{
	const struct fuse_in_header *h = (const void *)buf;
	bool big = pl->len || (n >= FUSE_DEV_WRITE_HDR + FUSE_DEV_SPLICE_MIN &&
			       h->opcode == FUSE_WRITE);

	if (big && credit != FUSE_DEV_SPLICE_CREDIT)
		atomic_store_explicit(&d->splice_credit, FUSE_DEV_SPLICE_CREDIT,
				      memory_order_relaxed);
	else if (!big && credit > 0)
		atomic_store_explicit(&d->splice_credit, credit - 1, memory_order_relaxed);
}

/* One request from fd (see fuse_dev_splice_request for the splice case). */
static ssize_t fuse_dev_read_one(struct fuse_dev *d, int fd, int p[2], unsigned char *in,
				 struct fuse_payload *pl, int credit)
{
	return p[0] >= 0 && credit > 0 ? fuse_dev_splice_request(d, fd, p, in, pl) :
					 read(fd, in, FUSE_DEV_BUF);
}

/*
 * Takes the next request; *fd says which fd it came from (its reply goes there). The
 * polling leader (fs/fuse_lead.h) first reads the non-blocking clone of the connection
 * for up to poll_ns, then sleeps in a blocking read; other workers only block.
 */
static ssize_t fuse_dev_take(struct fuse_dev *d, int p[2], unsigned char *in,
			     struct fuse_payload *pl, int credit, int *fd)
{
	if (d->lead_on) {
		int64_t until = (int64_t)clock_now_ns() + d->poll_ns;
		ssize_t n;

		do
			n = fuse_dev_read_one(d, d->poll_fd, p, in, pl, credit);
		while (n < 0 && errno == EAGAIN && (int64_t)clock_now_ns() < until);
		if (n >= 0 || errno != EAGAIN) {
			*fd = d->poll_fd;
			return n;
		}
	}
	*fd = d->fd;
	return fuse_dev_read_one(d, d->fd, p, in, pl, credit);
}

static void *fuse_dev_worker(void *arg)
{
	struct fuse_dev *d = arg;
	unsigned char *in = malloc(FUSE_DEV_BUF), *out = malloc(FUSE_DEV_BUF);
	int p[2] = { -1, -1 }, id = atomic_fetch_add(&d->next_id, 1);

	if (!in || !out) {
		log_err("fs serve: out of memory for a worker buffer");
		goto out;
	}
	fuse_dev_pipe_open(p, d->pipe_size);
	for (;;) {
		struct iovec iv = { in, 0 }, ov = { out, FUSE_DEV_BUF };
		struct fuse_payload pl = { .pipe_fd = -1 };
		int credit, fd;
		ssize_t n;
		bool init;
		size_t len;

		if (d->lead_on && !fuse_lead_wait(&d->lead, id))
			break;
		credit = atomic_load_explicit(&d->splice_credit, memory_order_relaxed);
		n = fuse_dev_take(d, p, in, &pl, credit, &fd);

		if (n < 0) {
			/* ENOENT: the request was interrupted before we read it. */
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			if (errno != ENODEV)
				log_err("fs serve: reading /dev/fuse: %s", strerror(errno));
			else
				atomic_store(&d->unmounted, true);
			break;
		}
		if (d->lead_on)
			fuse_lead_busy(&d->lead, id);
		iv.iov_len = (size_t)n;
		init = (size_t)n >= sizeof(struct fuse_in_header) &&
		       ((const struct fuse_in_header *)(const void *)in)->opcode == FUSE_INIT;
		if (p[0] >= 0)
			fuse_dev_splice_hint(d, credit, in, (size_t)n, &pl);
		len = fuse_dispatch_payload(d->srv, &iv, 1, &pl, &ov, 1);
		/* Refused or partly written payloads leave data behind: the next splice
		 * needs an empty pipe. */
		if (pl.consumed < pl.len)
			fuse_dev_pipe_drain(d, p, in, FUSE_DEV_BUF);
		/* A reply goes back through the fd its request came from. */
		if (len && write(fd, out, len) < 0 && errno != ENOENT) {
			if (errno == ENODEV) {
				atomic_store(&d->unmounted, true);
				break;
			}
			log_warn("fs serve: writing a reply: %s", strerror(errno));
		}
		/* The kernel took the INIT reply: if it chose io_uring, it now waits for
		 * the rings, and this worker is left with FORGETs and INTERRUPTs. */
		if (init && d->uring && fuse_server_uring(d->srv))
			fuse_uring_start(d->uring);
		if (d->lead_on)
			fuse_lead_idle(&d->lead, id);
	}
out:
	/* Standby workers would wait for a leader that is gone. */
	if (d->lead_on)
		fuse_lead_stop(&d->lead);
	fuse_dev_pipe_close(p);
	free(in);
	free(out);
	pthread_mutex_lock(&d->lock);
	d->running--;
	pthread_cond_signal(&d->done);
	pthread_mutex_unlock(&d->lock);
	/* Wake the main thread, which waits for a signal. */
	kill(getpid(), SIGUSR1);
	return NULL;
}

/* Passthrough backing files (see fs/backing.h): registered with this connection. */
static int fuse_dev_backing_open(void *opaque, int fd)
{
	struct fuse_dev *d = opaque;
	struct fuse_abi_backing_map map = { .fd = fd };
	int id = ioctl(d->fd, FUSE_ABI_DEV_IOC_BACKING_OPEN, &map);

	return id < 0 ? -errno : id;
}

static void fuse_dev_backing_close(void *opaque, int id)
{
	struct fuse_dev *d = opaque;
	uint32_t v = (uint32_t)id;

	if (ioctl(d->fd, FUSE_ABI_DEV_IOC_BACKING_CLOSE, &v))
		log_debug("fs serve: closing backing id %d: %s", id, strerror(errno));
}

/*
 * FUSE_NOTIFY_INVAL_INODE for a node whose attributes the server changed (fuse_server.h):
 * off -1 drops the client's cached attributes only, never its pages, so this takes no
 * inode lock in the kernel and is safe while that node's request is still unanswered.
 * A node the client does not hold answers ENOENT: nothing was cached.
 */
static void fuse_dev_inval_attr(void *opaque, uint64_t nodeid)
{
	struct fuse_dev *d = opaque;
	struct {
		struct fuse_out_header h;
		struct fuse_notify_inval_inode_out n;
	} msg = {
		.h = { .len = sizeof(msg), .error = FUSE_NOTIFY_INVAL_INODE, .unique = 0 },
		.n = { .ino = nodeid, .off = -1, .len = 0 },
	};

	if (write(d->fd, &msg, sizeof(msg)) < 0 && errno != ENOENT)
		log_debug("fs serve: attribute invalidation of node %llu: %s",
			  (unsigned long long)nodeid, strerror(errno));
}

static const struct fuse_backing_ops fuse_dev_backing_ops = {
	.open = fuse_dev_backing_open,
	.close = fuse_dev_backing_close,
};

/* A ring thread cannot go on: its CPU's callers would wait for good. End the mount. */
static void fuse_dev_uring_failed(void *opaque)
{
	(void)opaque;
	kill(getpid(), SIGUSR1);
}

/*
 * Rings before the mount (its INIT must already offer io_uring): only where the kernel
 * allows it, and not when locks are served, since a ring thread serves its CPU's
 * requests one at a time and a waiting SETLKW would hold up the unlock it waits for.
 */
static void fuse_dev_uring_setup(struct fuse_dev *d, const struct fs_options *o)
{
	if (!o->io_uring)
		return;
	if (!fuse_uring_enabled()) {
		log_debug("fs serve: fuse.enable_uring is off, requests come through /dev/fuse");
		return;
	}
	if (o->flock) {
		log_info("fs serve: no io_uring with flock: requests come through /dev/fuse");
		return;
	}
	/* The kernel wants payload buffers of max(max_write, max_pages pages): 1 MiB. */
	d->uring = fuse_uring_new(d->srv, d->fd, 1u << 20, fuse_dev_uring_failed, d);
	if (d->uring)
		fuse_server_offer_uring(d->srv);
}

/*
 * After the mount: busy polling and the single reader role (fs/fuse_lead.h), unless
 * polling is off. Served locks need nothing special: a SETLKW that blocks the leader is
 * a slow request like any other, and a standby worker takes over to serve the unlock.
 * Polling reads a non-blocking clone of the connection.
 */
static void fuse_dev_poll_setup(struct fuse_dev *d, const struct fs_options *o)
{
	int us = o->poll_us >= 0 ? o->poll_us : fuse_dev_cpus() >= 2 ? FUSE_DEV_POLL_US : 0;
	uint32_t master = (uint32_t)d->fd;
	int fd, err;

	if (!us)
		return;
	err = fuse_lead_init(&d->lead, d->nthreads > 1 ? (int64_t)FUSE_DEV_SLOW_US * 1000 : 0);
	if (err) {
		log_debug("fs serve: no worker timer (%s), not polling", strerror(-err));
		return;
	}
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || ioctl(fd, FUSE_DEV_IOC_CLONE, &master)) {
		log_debug("fs serve: no clone of /dev/fuse to poll (%s)", strerror(errno));
		if (fd >= 0)
			close(fd);
		fuse_lead_destroy(&d->lead);
		return;
	}
	d->poll_fd = fd;
	d->poll_ns = (int64_t)us * 1000;
	d->lead_on = true;
}

/* Lets the process keep one O_PATH fd per known inode. */
static void fuse_dev_raise_nofile(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int fs_serve_main(int argc, char **argv)
{
	struct fs_options o;
	struct fuse_dev d = { .fd = -1, .poll_fd = -1 };
	const char *pos[2] = { NULL, NULL };
	char err[512], mnt[PATH_MAX], data[256], rest[512];
	struct fuse_dev_mount m = { .flags = MS_NOSUID | MS_NODEV, .type = "fuse.nook" };
	struct stat st;
	sigset_t sigs;
	int npos = 0, sig = 0, status = 1, sec;
	bool stopping = false;
	enum seccomp_mode o_sec;
	enum sandbox_mode o_sandbox;

	fs_options_init(&o);
	if (seccomp_default_mode(SECCOMP_MODE_KILL, &o_sec, err, sizeof(err)) ||
	    sandbox_default_mode(&o_sandbox, err, sizeof(err))) {
		log_err("fs serve: %s", err);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) {
			continue;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fuse_dev_usage();
			return 0;
		} else if (!strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v) {
				log_err("fs serve: -o needs an argument");
				return 2;
			}
			if (strlen(v) >= sizeof(rest)) {
				log_err("fs serve: -o list longer than %zu bytes", sizeof(rest) - 1);
				return 2;
			}
			if (fuse_dev_mount_opts(v, &m, rest, sizeof(rest)) &&
			    fs_options_parse(&o, rest, err, sizeof(err))) {
				log_err("fs serve: %s", err);
				return 2;
			}
		} else if ((sec = seccomp_parse_arg(argc, argv, &i, &o_sec, err, sizeof(err))) ||
			   (sec = sandbox_parse_arg(argc, argv, &i, &o_sandbox, err, sizeof(err)))) {
			if (sec < 0) {
				log_err("fs serve: %s", err);
				return 2;
			}
		} else if (a[0] == '-') {
			log_err("fs serve: unknown flag '%s'", a);
			fuse_dev_usage();
			return 2;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			log_err("fs serve: unexpected argument '%s'", a);
			return 2;
		}
	}
	if (npos != 2) {
		fuse_dev_usage();
		return 2;
	}
	o.noatime = m.noatime;
	o.nodiratime = m.nodiratime;
	/* Kernel passthrough reads through a backing file the kernel opens with the client's
	 * flags, never our O_NOATIME, so the host would update atime: noatime serves file
	 * data itself (generic/120). */
	if (o.noatime)
		o.passthrough = false;
	/* Device nodes and set-id programs on the mount act with the host's authority. */
	if ((m.flags & (MS_NODEV | MS_NOSUID)) != (MS_NODEV | MS_NOSUID) && geteuid() != 0) {
		log_err("fs serve: the dev and suid options need root");
		return 2;
	}
	if (!realpath(pos[0], o.source)) {
		log_err("fs serve: shared directory '%s': %s", pos[0], strerror(errno));
		return 1;
	}
	if (!realpath(pos[1], mnt) || stat(mnt, &st) || !S_ISDIR(st.st_mode)) {
		log_err("fs serve: mount point '%s': %s", pos[1],
			errno ? strerror(errno) : "not a directory");
		return 1;
	}
	d.fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (d.fd < 0) {
		log_err("fs serve: cannot open /dev/fuse: %s (is the fuse module loaded?)",
			strerror(errno));
		return 1;
	}
	fuse_dev_raise_nofile();
	/* Before the server opens the share: Landlock's rule for it is taken then (and the
	 * network namespace is the thread's own, so it must come before any thread). */
	if (sandbox_prepare(o_sandbox, true, err, sizeof(err))) {
		log_err("fs serve: %s", err);
		close(d.fd);
		return 1;
	}
	d.srv = fuse_server_new(&o, err, sizeof(err));
	if (!d.srv) {
		log_err("fs serve: %s", err);
		close(d.fd);
		return 1;
	}
	fuse_dev_pipe_probe(&d);
	/* Signals are taken by sigwait() below, never by the workers or ring threads
	 * (which inherit this mask). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if ((sec = seccomp_set_mode(o_sec))) {
		log_err("fs serve: seccomp: cannot set up the filters: %s", strerror(-sec));
		goto out;
	}
	fuse_dev_uring_setup(&d, &o);
	fuse_server_set_backing(d.srv, &fuse_dev_backing_ops, &d);
	fuse_server_set_notify(d.srv, fuse_dev_inval_attr, &d);
	snprintf(data, sizeof(data),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,"
		 "max_read=%u", d.fd, 1u << 20);
	if (o.readonly)
		m.flags |= MS_RDONLY;
	if (mount(m.fsname[0] ? m.fsname : o.source, mnt, m.type, m.flags, data)) {
		log_err("fs serve: mounting at '%s': %s", mnt, strerror(errno));
		goto out;
	}

	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.done, NULL);
	d.nthreads = o.threads > 0 ? o.threads : fuse_dev_default_threads();
	fuse_dev_poll_setup(&d, &o);
	d.threads = calloc((size_t)d.nthreads, sizeof(*d.threads));
	for (int i = 0; d.threads && i < d.nthreads; i++) {
		if (seccomp_thread_create(&d.threads[i], THREAD_FUSE_DEV, fuse_dev_worker, &d))
			break;
		d.running++;
	}
	if (!d.running) {
		log_err("fs serve: cannot start worker threads");
		umount2(mnt, MNT_DETACH);
		goto out;
	}
	if (sandbox_enter(err, sizeof(err))) {
		log_err("fs serve: %s", err);
		stopping = true;
	}
	if (seccomp_install(THREAD_FS_SERVE)) {
		log_err("fs serve: seccomp: cannot confine the main thread");
		stopping = true;
	}
	log_info("serving %s at %s", o.source, mnt);
	status = 0;
	for (;;) {
		bool alive;

		pthread_mutex_lock(&d.lock);
		alive = d.running == d.nthreads;
		pthread_mutex_unlock(&d.lock);
		if (d.uring && fuse_uring_failed(d.uring))
			alive = false;
		/* One worker gone (ENODEV: unmounted) means the connection is over. */
		if (!alive || stopping)
			break;
		if (sigwait(&sigs, &sig))
			break;
		if (sig == SIGINT || sig == SIGTERM)
			stopping = true;
	}
	/*
	 * Detach the mount; once the kernel drops the connection the reads fail ENODEV.
	 * Not when they already did (an external umount): the mount point may then hold
	 * the next server's mount (a remount starts it at once), which a detach by path
	 * would take away.
	 */
	if (stopping || !atomic_load(&d.unmounted))
		umount2(mnt, MNT_DETACH);
	{
		struct timespec until;
		int left;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		pthread_mutex_lock(&d.lock);
		while (d.running > 0 &&
		       pthread_cond_timedwait(&d.done, &d.lock, &until) != ETIMEDOUT)
			;
		left = d.running;
		pthread_mutex_unlock(&d.lock);
		if (left || (d.uring && !fuse_uring_stop(d.uring, &until))) {
			/* Something still holds the detached mount: leave the workers
			 * blocked; exiting closes /dev/fuse, which aborts the connection. */
			log_warn("fs serve: mount still busy, aborting the connection");
			return status;
		}
		d.uring = NULL;
	}
	for (int i = 0; i < d.nthreads; i++)
		pthread_join(d.threads[i], NULL);
out:
	if (d.uring)
		fuse_uring_stop(d.uring, NULL);
	free(d.threads);
	fuse_server_free(d.srv);
	if (d.poll_fd >= 0)
		close(d.poll_fd);
	if (d.lead_on)
		fuse_lead_destroy(&d.lead);
	close(d.fd);
	return status;
}
