/*
 * In-guest check of the metadata version table, run as /init from a virtio-fs root.
 *
 * Three more shares of ONE host tree, each its own FUSE connection and server, all
 * bumping one table (the two-VM case inside one boot: connections share nothing in the
 * guest but the table):
 *   nook_vta=TAG  /mnt/a  the server counts requests (stats): used ONLY for the
 *                 repeated-stat phase, so the host can check it cost ~nothing
 *   nook_vtb=TAG  /mnt/b  the writer: every change is made here
 *   nook_vtc=TAG  /mnt/c  the observer: each change must show on its next call
 * The host also changes host-file (through a plain host process: the fanotify path)
 * once the guest created vt-ready, and the guest waits (bounded) to see it through C.
 * With nook_vm2=1 a second VM (the same program, nook_role=vm2) changes the tree on cue
 * and the first checks it sees those changes at once.
 * Output: "vt-check: ok NAME" / "vt-check: FAIL NAME: why", then a summary line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/klog.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define STATS 10000

static int passed, failed;

static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("vt-check: ok %s\n", name);
		passed++;
		return;
	}
	printf("vt-check: FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	failed++;
}

static void mount_share(const char *env, const char *dir)
{
	const char *tag = getenv(env);

	mkdir(dir, 0755);
	check(tag && mount(tag, dir, "virtiofs", 0, NULL) == 0, env, "mount %s at %s",
	      tag ? tag : "(no tag)", dir);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

/* The kernel log lines of the version table (the probe maps it, INIT turns it on). */
static void kernel_log(void)
{
	static char buf[1 << 17];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
	int mapped = 0, on = 0;

	buf[n > 0 ? n : 0] = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (strstr(line, "version table") || strstr(line, "virtio-fs") ||
		    strstr(line, "virtio_fs") || strstr(line, "virtiofs"))
			printf("vt-check: kmsg %s\n", line);
		mapped += strstr(line, "nook version table:") && strstr(line, "slots @") != NULL;
		on += strstr(line, "nook version table on") != NULL;
	}
	check(mapped == 3, "guest-mapped-tables", "%d of 3 devices mapped shm region 1", mapped);
	check(on == 3, "guest-vertab-on", "%d of 3 mounts negotiated VERTAB", on);
}

/* Phase 1, on A only: the first stat walks and fetches, the next STATS cost nothing. */
static void repeated_stats(void)
{
	struct stat st;
	int bad = 0;
	double t0;

	check(stat("/mnt/a/d/f", &st) == 0, "a-first-stat", "stat /mnt/a/d/f");
	t0 = now_s();
	for (int i = 0; i < STATS; i++)
		bad += stat("/mnt/a/d/f", &st) != 0;
	/* Negative lookups and access(2) go the same way. */
	for (int i = 0; i < STATS / 10; i++) {
		bad += stat("/mnt/a/d/missing", &st) == 0;
		bad += access("/mnt/a/d/f", R_OK) != 0;
	}
	printf("vt-check: info %d stats + %d negative stats + %d access in %.2f s\n", STATS,
	       STATS / 10, STATS / 10, now_s() - t0);
	check(bad == 0, "a-repeated-stats", "%d calls failed", bad);
}

static int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (int)(st.st_mode & 07777);
}

/* Phase 2: every change through B is seen by C's very next call. */
static void cross_changes(void)
{
	struct stat st;
	char buf[64];
	ssize_t n;

	/* C caches everything first. */
	check(mode_of("/mnt/c/d/f") == 0644, "c-sees-f", "mode %o", mode_of("/mnt/c/d/f"));
	n = read_file("/mnt/c/d/f", buf, sizeof(buf));
	check(n == 5 && !strcmp(buf, "hello"), "c-reads-f", "'%s'", buf);
	check(stat("/mnt/c/d/new", &st) != 0 && errno == ENOENT, "c-no-new", "exists");

	check(chmod("/mnt/b/d/f", 0600) == 0, "b-chmod", "chmod");
	check(mode_of("/mnt/c/d/f") == 0600, "c-sees-chmod", "mode %o", mode_of("/mnt/c/d/f"));

	/* Same size, so neither size nor (perhaps) mtime tells C: only the data counter. */
	check(write_file("/mnt/b/d/f", "HELLO") == 0, "b-write", "write");
	n = read_file("/mnt/c/d/f", buf, sizeof(buf));
	check(n == 5 && !strcmp(buf, "HELLO"), "c-sees-write", "'%s'", buf);

	check(truncate("/mnt/b/d/f", 2) == 0, "b-truncate", "truncate");
	check(stat("/mnt/c/d/f", &st) == 0 && st.st_size == 2, "c-sees-truncate", "size %lld",
	      (long long)st.st_size);

	check(write_file("/mnt/b/d/new", "n") == 0, "b-create", "create");
	check(stat("/mnt/c/d/new", &st) == 0, "c-sees-create", "negative entry kept");

	check(rename("/mnt/b/d/new", "/mnt/b/d/renamed") == 0, "b-rename", "rename");
	check(stat("/mnt/c/d/new", &st) != 0 && errno == ENOENT, "c-old-name-gone", "still there");
	check(stat("/mnt/c/d/renamed", &st) == 0, "c-sees-rename", "new name missing");

	check(link("/mnt/b/d/renamed", "/mnt/b/d/hard") == 0, "b-link", "link");
	check(stat("/mnt/c/d/renamed", &st) == 0 && st.st_nlink == 2, "c-sees-nlink", "nlink %lu",
	      (unsigned long)st.st_nlink);

	check(unlink("/mnt/b/d/renamed") == 0, "b-unlink", "unlink");
	check(stat("/mnt/c/d/renamed", &st) != 0 && errno == ENOENT, "c-sees-unlink", "still there");
	check(stat("/mnt/c/d/hard", &st) == 0 && st.st_nlink == 1, "c-sees-nlink-drop",
	      "nlink %lu", (unsigned long)st.st_nlink);

	check(mkdir("/mnt/b/d/sub", 0755) == 0, "b-mkdir", "mkdir");
	check(stat("/mnt/c/d/sub", &st) == 0 && S_ISDIR(st.st_mode), "c-sees-mkdir", "missing");

	if (setxattr("/mnt/b/d/hard", "user.vt", "1", 1, 0) == 0) {
		n = getxattr("/mnt/c/d/hard", "user.vt", buf, sizeof(buf));
		check(n == 1 && buf[0] == '1', "c-sees-xattr", "n %zd", n);
	} else {
		printf("vt-check: info no user xattrs here (errno %d)\n", errno);
	}
}

/*
 * Staleness between connections: 200 chmods through B, each checked by ONE stat through
 * C right after B's call returned; the time from B's return to C's answer is printed.
 */
static void staleness(void)
{
	double worst = 0, sum = 0;
	int missed = 0;

	for (int i = 0; i < 200; i++) {
		int want = i & 1 ? 0640 : 0604;
		double t0, dt;

		if (chmod("/mnt/b/d/hard", want)) {
			missed++;
			continue;
		}
		t0 = now_s();
		missed += mode_of("/mnt/c/d/hard") != want;
		dt = now_s() - t0;
		sum += dt;
		worst = dt > worst ? dt : worst;
	}
	check(missed == 0, "c-sees-every-chmod-at-once", "%d of 200 missed", missed);
	printf("vt-check: info B-return to C-answer: mean %.0f us, max %.0f us (200 chmods)\n",
	       sum / 200 * 1e6, worst * 1e6);
}

/* Phase 3: a host process rewrites host-file; C sees it (fanotify), bounded wait. */
static void host_change(void)
{
	char buf[64];
	ssize_t n = read_file("/mnt/c/host-file", buf, sizeof(buf));
	double t0;
	int i;

	check(n >= 2 && !memcmp(buf, "v1", 2), "c-host-file-v1", "'%s'", buf);
	write_file("/mnt/b/vt-ready", "ready\n");
	t0 = now_s();
	for (i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		n = read_file("/mnt/c/host-file", buf, sizeof(buf));
		if (n >= 2 && !memcmp(buf, "v2", 2))
			break;
		nanosleep(&ts, NULL);
	}
	check(n >= 2 && !memcmp(buf, "v2", 2), "c-sees-host-change", "still '%s'", buf);
	printf("vt-check: info host change seen after %d polls (%.3f s after vt-ready)\n", i,
	       now_s() - t0);
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits (bounded, 600 s: boots are slow on a loaded host) until path exists. */
static int wait_for(const char *path)
{
	for (int i = 0; i < 60000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		pause_ms(10);
	}
	return -1;
}

/*
 * The second VM (nook_role=vm2, its share nook_vt2 at /mnt/v): once the first VM says
 * go, it changes d/vm2file (chmod, same-size write, a new name) and only then creates
 * d/vm2-done. The first VM must see every change on its next calls after the marker.
 */
static int second_vm(void)
{
	mount_share("nook_vt2", "/mnt/v");
	check(wait_for("/mnt/v/vm2-go") == 0, "vm2-go", "never told to go");
	check(chmod("/mnt/v/d/vm2file", 0600) == 0, "vm2-chmod", "chmod");
	check(write_file("/mnt/v/d/vm2file", "VM2") == 0, "vm2-write", "write");
	check(write_file("/mnt/v/d/vm2-new", "n") == 0, "vm2-create", "create");
	check(write_file("/mnt/v/d/vm2-done", "done") == 0, "vm2-done", "marker");
	printf("vt-check: summary %d ok, %d failed\n", passed, failed);
	sync();
	if (getpid() == 1)
		reboot(RB_AUTOBOOT);
	return failed != 0;
}

/* The first VM's side: C caches vm2file, tells VM 2 to go, then checks its changes. */
static void other_vm(void)
{
	struct stat st;
	char buf[16];
	ssize_t n;

	check(mode_of("/mnt/c/d/vm2file") == 0644, "c-vm2file-before", "mode %o",
	      mode_of("/mnt/c/d/vm2file"));
	n = read_file("/mnt/c/d/vm2file", buf, sizeof(buf));
	check(n == 3 && !strcmp(buf, "vm1"), "c-vm2file-read", "'%s'", buf);
	check(stat("/mnt/c/d/vm2-new", &st) != 0, "c-vm2-new-absent", "exists");
	write_file("/mnt/b/vm2-go", "go");
	check(wait_for("/mnt/c/d/vm2-done") == 0, "c-sees-vm2-done", "the other VM never finished");
	check(mode_of("/mnt/c/d/vm2file") == 0600, "c-sees-vm2-chmod", "mode %o",
	      mode_of("/mnt/c/d/vm2file"));
	n = read_file("/mnt/c/d/vm2file", buf, sizeof(buf));
	check(n == 3 && !strcmp(buf, "VM2"), "c-sees-vm2-write", "'%s'", buf);
	check(stat("/mnt/c/d/vm2-new", &st) == 0, "c-sees-vm2-create", "missing");
}

int main(void)
{
	const char *role = getenv("nook_role");

	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir("/proc", 0555);
	mount("proc", "/proc", "proc", 0, NULL);
	printf("vt-check: start\n");
	if (role && !strcmp(role, "vm2"))
		return second_vm();
	mount_share("nook_vta", "/mnt/a");
	mount_share("nook_vtb", "/mnt/b");
	mount_share("nook_vtc", "/mnt/c");
	kernel_log();
	repeated_stats();
	cross_changes();
	staleness();
	if (getenv("nook_vm2"))
		other_vm();
	host_change();
	printf("vt-check: summary %d ok, %d failed\n", passed, failed);
	sync();
	if (getpid() == 1)
		reboot(RB_AUTOBOOT);
	return failed != 0;
}
