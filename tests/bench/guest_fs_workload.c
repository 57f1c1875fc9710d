/*
 * In-guest file-system workload for tests/bench/guest_fs_bench.sh.
 *
 * Runs as /init (PID 1) of a guest whose root file system IS the shared directory
 * (virtio-fs or virtio-9p), so one boot measures one system. Every phase runs on
 * /gfsbench.work inside the share and is timed with CLOCK_MONOTONIC in the guest:
 *
 *   create   N small files (open O_CREAT, one write, close)
 *   stat     stat every file (warm: right after create)
 *   readdir  list the work directory, READDIR_PASSES times
 *   read     open/read/close every file (page cache, dentries, inodes dropped first)
 *   write    one big file written sequentially in 1 MiB writes, then fsync
 *   readbig  read it back in 1 MiB reads (page cache dropped first)
 *   rename   rename every small file
 *   remove   unlink everything, rmdir the work directory
 *
 * Output, one line per phase:   bench: PHASE SECONDS OPS VIRTIO_IRQS
 * (VIRTIO_IRQS: interrupts from the shared file system's device during the phase, from
 * /proc/interrupts; -1 when unknown)
 * Before each phase the guest prints "bench: ready PHASE" and waits for one line on the
 * console: the host samples the VMM's KVM exit counters at that point and answers, so
 * the counters bracket exactly one phase (the handshake itself is measured by the empty
 * "null" phase and subtracted by the host). With "nowait" the guest does not wait. At the end: sync, reboot (both
 * VMMs exit on the i8042 reset that reboot=k uses).
 *
 * Options from the kernel command line (key=value words reach init as environment,
 * bare words as arguments): files=N, size=BYTES (small file size), big=MiB, nowait.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Absolute in the guest; relative to the cwd when tried on a host (not PID 1). */
static const char *work = "/gfsbench.work";
static int is_init;
#define CHUNK (1u << 20)

static int nfiles = 300;
static size_t small_size = 4096;
static int big_mib = 4;
static int handshake = 1;
static char *buf;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: error: ", stdout);
	vprintf(fmt, ap);
	printf(" (%s)\n", strerror(errno));
	va_end(ap);
	fflush(stdout);
	sync();
	if (is_init)
		reboot(RB_AUTOBOOT);
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Interrupts taken so far from virtio devices (rows of /proc/interrupts naming "virtio"),
 * -1 without /proc. Read outside the timed part of each phase; the share is the only
 * virtio device, so the difference is the device's completion interrupts in the phase.
 */
static long virtio_irqs(void)
{
	char line[512];
	long total = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!p || !strstr(line, "virtio"))
			continue;
		for (p++;;) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

static long irq_mark;

/* One line per phase: name, seconds, ops, virtio interrupts during the phase. */
static void report(const char *phase, double t0, long ops)
{
	double t = now() - t0;
	long irqs = virtio_irqs();

	printf("bench: %s %.6f %ld %ld\n", phase, t, ops,
	       irqs < 0 || irq_mark < 0 ? -1 : irqs - irq_mark);
	fflush(stdout);
}

/* Tell the host a phase is about to start; wait for its go (it samples counters). */
static void ready(const char *phase)
{
	char line[64];

	printf("bench: ready %s\n", phase);
	fflush(stdout);
	if (handshake && !fgets(line, sizeof(line), stdin))
		handshake = 0;	/* console closed: carry on without the host */
	irq_mark = virtio_irqs();
}

/* Drop the guest page cache, dentries and inodes so reads reach the device. */
static void drop_caches(void)
{
	int fd;

	sync();
	if (!is_init)
		return;	/* never drop a host's caches */
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "3", 1) != 1)
		printf("bench: warning: drop_caches failed\n");
	close(fd);
}

static void name(char *out, size_t len, char prefix, int i)
{
	snprintf(out, len, "%s/%c%05d", work, prefix, i);
}

static void phase_create(void)
{
	char path[64];
	double t0 = now();

	for (int i = 0; i < nfiles; i++) {
		name(path, sizeof(path), 'f', i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die("create %s", path);
		memset(buf, 'a' + i % 26, small_size);
		if (write(fd, buf, small_size) != (ssize_t)small_size)
			die("write %s", path);
		if (close(fd))
			die("close %s", path);
	}
	report("create", t0, nfiles);
}

static void phase_stat(void)
{
	char path[64];
	struct stat st;
	double t0 = now();

	for (int i = 0; i < nfiles; i++) {
		name(path, sizeof(path), 'f', i);
		if (stat(path, &st) || st.st_size != (off_t)small_size)
			die("stat %s", path);
	}
	report("stat", t0, nfiles);
}

/* Several full listings (as ls, shells and build tools do): one listing takes about
 * as long as the timer noise of this emulated guest, so a single one measures nothing. */
#define READDIR_PASSES 10

static void phase_readdir(void)
{
	double t0 = now();
	long n = 0;

	for (int pass = 0; pass < READDIR_PASSES; pass++) {
		DIR *d = opendir(work);
		struct dirent *e;
		long k = 0;

		if (!d)
			die("opendir %s", work);
		while ((e = readdir(d)))
			k++;
		closedir(d);
		if (k != nfiles + 2)
			die("readdir saw %ld entries, want %d", k, nfiles + 2);
		n += k;
	}
	report("readdir", t0, n);
}

static void phase_read(void)
{
	char path[64];
	double t0;

	t0 = now();
	for (int i = 0; i < nfiles; i++) {
		name(path, sizeof(path), 'f', i);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			die("open %s", path);
		if (read(fd, buf, small_size) != (ssize_t)small_size || buf[0] != 'a' + i % 26)
			die("read %s", path);
		close(fd);
	}
	report("read", t0, nfiles);
}

static void phase_write(void)
{
	char path[64];
	int fd;
	double t0 = now();

	snprintf(path, sizeof(path), "%s/big", work);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create big");
	for (int i = 0; i < big_mib; i++) {
		memset(buf, 'A' + i % 26, CHUNK);
		if (write(fd, buf, CHUNK) != (ssize_t)CHUNK)
			die("write big");
	}
	if (fsync(fd))
		die("fsync big");
	close(fd);
	report("write", t0, big_mib);
}

static void phase_readbig(void)
{
	char path[64];
	double t0;
	int fd;

	t0 = now();
	snprintf(path, sizeof(path), "%s/big", work);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open big");
	for (int i = 0; i < big_mib; i++) {
		size_t got = 0;
		while (got < CHUNK) {	/* 9p may return short reads (msize) */
			ssize_t r = read(fd, buf + got, CHUNK - got);
			if (r <= 0)
				die("read big at %d MiB", i);
			got += r;
		}
		if (buf[0] != 'A' + i % 26 || buf[CHUNK - 1] != 'A' + i % 26)
			die("big file content at %d MiB", i);
	}
	close(fd);
	report("readbig", t0, big_mib);
}

static void phase_rename(void)
{
	char from[64], to[64];
	double t0 = now();

	for (int i = 0; i < nfiles; i++) {
		name(from, sizeof(from), 'f', i);
		name(to, sizeof(to), 'g', i);
		if (rename(from, to))
			die("rename %s", from);
	}
	report("rename", t0, nfiles);
}

static void phase_remove(void)
{
	char path[64];
	double t0 = now();

	for (int i = 0; i < nfiles; i++) {
		name(path, sizeof(path), 'g', i);
		if (unlink(path))
			die("unlink %s", path);
	}
	snprintf(path, sizeof(path), "%s/big", work);
	if (unlink(path) || rmdir(work))
		die("remove big / work dir");
	report("remove", t0, nfiles);
}

static void parse_args(char **argv)
{
	for (int i = 0; argv[i]; i++) {
		if (!strncmp(argv[i], "files=", 6))
			nfiles = atoi(argv[i] + 6);
		else if (!strncmp(argv[i], "size=", 5))
			small_size = strtoul(argv[i] + 5, NULL, 0);
		else if (!strncmp(argv[i], "big=", 4))
			big_mib = atoi(argv[i] + 4);
		else if (!strcmp(argv[i], "nowait"))
			handshake = 0;
	}
	if (nfiles < 1 || nfiles > 99999 || small_size < 1 || small_size > CHUNK ||
	    big_mib < 1 || big_mib > 1024) {
		errno = EINVAL;
		die("bad arguments (files=1..99999 size=1..%u big=1..1024)", CHUNK);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	is_init = getpid() == 1;
	if (!is_init) {
		work = "gfsbench.work";
		handshake = 0;
	}
	/* The kernel hands key=value parameters to init as environment, bare words as argv. */
	parse_args(argv + 1);
	parse_args(environ);
	if (is_init) {
		mkdir("/proc", 0755);
		if (mount("proc", "/proc", "proc", 0, NULL) && errno != EBUSY)
			printf("bench: warning: cannot mount /proc (%s)\n", strerror(errno));
	}
	buf = malloc(CHUNK);
	if (!buf)
		die("malloc");
	printf("bench: start files=%d size=%zu big=%d\n", nfiles, small_size, big_mib);

	/* Leftovers of an interrupted run would fail the create phase's checks. */
	if (mkdir(work, 0755))
		die("mkdir %s (left over from an earlier run?)", work);

	ready("null");
	report("null", now(), 0);
	ready("create");
	phase_create();
	ready("stat");
	phase_stat();
	ready("readdir");
	phase_readdir();
	drop_caches();
	ready("read");
	phase_read();
	ready("write");
	phase_write();
	drop_caches();
	ready("readbig");
	phase_readbig();
	ready("rename");
	phase_rename();
	ready("remove");
	phase_remove();
	ready("end");

	printf("bench: done\n");
	fflush(stdout);
	sync();
	if (is_init) {
		umount("/proc");
		reboot(RB_AUTOBOOT);
	}
	return 0;
}
