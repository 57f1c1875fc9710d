/*
 * Host transport: `nook fs serve SRC MOUNTPOINT [-o opts] [-f]` mounts the FUSE server
 * on the host through /dev/fuse. It is the test vehicle of the server (mount-level
 * tests, fuzzing seeds, benchmarks) and stays in the foreground.
 *
 * The mount uses default_permissions, like virtio-fs guests do: the kernel checks mode
 * bits against the caller, so non-root callers get local semantics while the server
 * runs as root. Worker threads each read one request into their own buffer, hand it to
 * fuse_dispatch() and write the reply. SIGINT/SIGTERM unmount (MNT_DETACH) and stop;
 * an external umount makes reads fail with ENODEV, which stops the workers too.
 */
#include "fs/fuse_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_abi.h"
#include "vmm/log.h"

#define FUSE_DEV_DEFAULT_THREADS 4
/* One request: a 1 MiB WRITE payload plus header and arguments. */
#define FUSE_DEV_BUF ((1u << 20) + 4096)

struct fuse_dev {
	struct fuse_server *srv;
	int fd;
	pthread_t *threads;
	int nthreads;
	int running;          /* workers still alive, under lock */
	pthread_mutex_t lock;
	pthread_cond_t done;
};

static void *fuse_dev_worker(void *arg)
{
	struct fuse_dev *d = arg;
	unsigned char *in = malloc(FUSE_DEV_BUF), *out = malloc(FUSE_DEV_BUF);

	if (!in || !out) {
		log_err("fs serve: out of memory for a worker buffer");
		goto out;
	}
	for (;;) {
		struct iovec iv = { in, 0 }, ov = { out, FUSE_DEV_BUF };
		ssize_t n = read(d->fd, in, FUSE_DEV_BUF);
		size_t len;

		if (n < 0) {
			/* ENOENT: the request was interrupted before we read it. */
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			if (errno != ENODEV)
				log_err("fs serve: reading /dev/fuse: %s", strerror(errno));
			break;
		}
		iv.iov_len = (size_t)n;
		len = fuse_dispatch(d->srv, &iv, 1, &ov, 1);
		if (len && write(d->fd, out, len) < 0 && errno != ENOENT) {
			if (errno == ENODEV)
				break;
			log_warn("fs serve: writing a reply: %s", strerror(errno));
		}
	}
out:
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

static void fuse_dev_usage(void)
{
	fprintf(stderr, "usage: nook fs serve SRC MOUNTPOINT [-o opt[,opt...]] [-f]\n"
		"  options: cache=never|metadata|auto|always, writeback, no_xattr, posix_acl,\n"
		"           ro, threads=N, inode_file_handles, announce_submounts, flock, stats\n");
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
	struct fuse_dev d = { .fd = -1 };
	const char *pos[2] = { NULL, NULL };
	char err[512], mnt[PATH_MAX], data[256];
	unsigned long flags = MS_NOSUID | MS_NODEV;
	struct stat st;
	sigset_t sigs;
	int npos = 0, sig = 0, status = 1;
	bool stopping = false;

	fs_options_init(&o);
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
			if (fs_options_parse(&o, v, err, sizeof(err))) {
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
	d.srv = fuse_server_new(&o, err, sizeof(err));
	if (!d.srv) {
		log_err("fs serve: %s", err);
		close(d.fd);
		return 1;
	}
	snprintf(data, sizeof(data),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,"
		 "max_read=%u", d.fd, 1u << 20);
	if (o.readonly)
		flags |= MS_RDONLY;
	if (mount(o.source, mnt, "fuse.nook", flags, data)) {
		log_err("fs serve: mounting at '%s': %s", mnt, strerror(errno));
		goto out;
	}

	/* Signals are taken by sigwait() below, never by the workers. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.done, NULL);
	d.nthreads = o.threads > 0 ? o.threads : FUSE_DEV_DEFAULT_THREADS;
	d.threads = calloc((size_t)d.nthreads, sizeof(*d.threads));
	for (int i = 0; d.threads && i < d.nthreads; i++) {
		if (pthread_create(&d.threads[i], NULL, fuse_dev_worker, &d))
			break;
		d.running++;
	}
	if (!d.running) {
		log_err("fs serve: cannot start worker threads");
		umount2(mnt, MNT_DETACH);
		goto out;
	}
	log_info("serving %s at %s", o.source, mnt);
	status = 0;
	for (;;) {
		bool alive;

		pthread_mutex_lock(&d.lock);
		alive = d.running == d.nthreads;
		pthread_mutex_unlock(&d.lock);
		/* One worker gone (ENODEV: unmounted) means the connection is over. */
		if (!alive || stopping)
			break;
		if (sigwait(&sigs, &sig))
			break;
		if (sig == SIGINT || sig == SIGTERM)
			stopping = true;
	}
	/* Detach the mount; once the kernel drops the connection the reads fail ENODEV. */
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
		if (left) {
			/* Something still holds the detached mount: leave the workers
			 * blocked; exiting closes /dev/fuse, which aborts the connection. */
			log_warn("fs serve: mount still busy, aborting the connection");
			return status;
		}
	}
	for (int i = 0; i < d.nthreads; i++)
		pthread_join(d.threads[i], NULL);
out:
	free(d.threads);
	fuse_server_free(d.srv);
	close(d.fd);
	return status;
}
