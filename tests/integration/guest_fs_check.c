/*
 * In-guest virtio-fs check, run as /init (PID 1) from a virtio-fs root share.
 *
 * One guest boot is expensive here (guest kernel code is emulated), so this one program
 * checks everything the virtio-fs integration test needs and reports one line per check:
 *   fs-check: ok NAME | fs-check: FAIL NAME: why
 * then "fs-check: summary N ok, M failed" and a reboot. The host script
 * (tests/integration/fs_boot.sh) prepares the shares and verifies the host side.
 *
 * Shares (tags from the kernel command line, which init sees as environment):
 *   root          the root file system (rw), holds this program
 *   nook_data=TAG a second rw share, mounted at /mnt/data
 *   nook_ro=TAG   a read-only share, mounted at /mnt/ro
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;

static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("fs-check: ok %s\n", name);
		passed++;
		return;
	}
	printf("fs-check: FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	failed++;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, buf, len);
	if (close(fd) < 0 || n != (ssize_t)len)
		return -1;
	return 0;
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap);
	close(fd);
	return n;
}

/* The same xorshift stream tests/integration/fs_boot.sh regenerates to check the sha256. */
static void pattern_fill(uint8_t *buf, size_t len, uint64_t *state)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x = *state;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
	}
}

static void check_basic(const char *dir)
{
	char a[256], b[256], c[256], buf[64];
	struct stat st;
	ssize_t n;

	snprintf(a, sizeof(a), "%s/file-a", dir);
	snprintf(b, sizeof(b), "%s/file-b", dir);
	snprintf(c, sizeof(c), "%s/link-c", dir);

	check(write_file(a, "hello virtio-fs\n", 16) == 0, "create-write", "%s", a);
	n = read_file(a, buf, sizeof(buf));
	check(n == 16 && !memcmp(buf, "hello virtio-fs\n", 16), "read-back", "got %zd bytes", n);
	check(rename(a, b) == 0 && access(a, F_OK) < 0 && access(b, F_OK) == 0, "rename", "%s", b);
	check(link(b, c) == 0 && stat(b, &st) == 0 && st.st_nlink == 2, "hard-link",
	      "nlink %lu", (unsigned long)st.st_nlink);
	snprintf(a, sizeof(a), "%s/sym", dir);
	n = symlink("file-b", a) == 0 ? readlink(a, buf, sizeof(buf)) : -1;
	check(n == 6 && !memcmp(buf, "file-b", 6), "symlink", "readlink %zd", n);
	check(chmod(b, 0600) == 0 && stat(b, &st) == 0 && (st.st_mode & 07777) == 0600, "chmod",
	      "mode %o", st.st_mode & 07777);
	check(truncate(b, 5) == 0 && stat(b, &st) == 0 && st.st_size == 5, "truncate",
	      "size %lld", (long long)st.st_size);
	n = setxattr(b, "user.nook", "v1", 2, 0) == 0 ? getxattr(b, "user.nook", buf, sizeof(buf)) : -1;
	check(n == 2 && !memcmp(buf, "v1", 2), "xattr", "getxattr %zd", n);

	DIR *d = opendir(dir);
	int seen = 0;
	struct dirent *e;

	while (d && (e = readdir(d)))
		seen += !strcmp(e->d_name, "file-b") || !strcmp(e->d_name, "link-c") ||
			!strcmp(e->d_name, "sym");
	if (d)
		closedir(d);
	check(seen == 3, "readdir", "saw %d of 3 entries", seen);
}

static void check_big_file(const char *dir)
{
	const size_t chunk = 1 << 20, total = 16 << 20;
	uint8_t *buf = malloc(chunk);
	uint64_t state = 0x9e3779b97f4a7c15ull;
	char path[256];
	int fd, ok = 1;

	snprintf(path, sizeof(path), "%s/big-16m", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok = fd >= 0 && buf;
	for (size_t off = 0; ok && off < total; off += chunk) {
		pattern_fill(buf, chunk, &state);
		ok = write(fd, buf, chunk) == (ssize_t)chunk;
	}
	ok = ok && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	check(ok, "write-16m", "%s", path);
}

static bool dir_has(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d && (e = readdir(d)))
		found |= !strcmp(e->d_name, name);
	if (d)
		closedir(d);
	return found;
}

/* The host rewrites host-file and creates host-new once it sees guest-ready; cache=auto
 * must show both: the new content, and the new name in a listing the guest had cached. */
static void check_host_change(const char *dir)
{
	char path[256], ready[256], buf[64];
	ssize_t n = read_file((snprintf(path, sizeof(path), "%s/host-file", dir), path), buf,
			      sizeof(buf));
	bool listed;

	check(n >= 2 && !memcmp(buf, "v1", 2), "host-file-v1", "got %zd bytes", n);
	check(!dir_has(dir, "host-new"), "host-new-absent", "listed before the host made it");
	snprintf(ready, sizeof(ready), "%s/guest-ready", dir);
	write_file(ready, "ready\n", 6);
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		n = read_file(path, buf, sizeof(buf));
		if (n >= 2 && !memcmp(buf, "v2", 2))
			break;
		nanosleep(&ts, NULL);
	}
	check(n >= 2 && !memcmp(buf, "v2", 2), "host-change-seen", "still %.2s", buf);
	for (int i = 0; !(listed = dir_has(dir, "host-new")) && i < 300; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	check(listed, "host-create-listed", "host-new never showed in the listing");
}

/*
 * fstests generic/355 in a guest: a write by the owner (not root, so without CAP_FSETID)
 * to a 06755 file drops set-uid and set-gid (group-exec is set), and the guest's stat
 * right after it shows that, although the guest cached the mode just before (cache=auto
 * keeps attributes 1 s). The server drops the bits (HANDLE_KILLPRIV_V2); the 6.1 client
 * invalidates size and times after a write, and a stat asks for those, so it refetches
 * the mode too. Both data paths: O_DIRECT and buffered.
 */
static void check_write_kills_setid(const char *dir, const char *name, int oflags)
{
	char path[256];
	struct stat st;
	pid_t pid;
	int status = -1;

	snprintf(path, sizeof(path), "%s/setid-%s", dir, name);
	if (write_file(path, "0123456789", 10) || chown(path, 1000, 1000) || chmod(path, 06755) ||
	    stat(path, &st) || (st.st_mode & 07777) != 06755) {
		check(0, name, "setting up %s", path);
		return;
	}
	pid = fork();
	if (pid == 0) {
		void *buf = NULL;
		int fd;

		/* Leaving uid 0 drops every capability, CAP_FSETID among them. */
		if (setgid(1000) || setuid(1000) || posix_memalign(&buf, 4096, 4096))
			_exit(2);
		memset(buf, 'w', 4096);
		fd = open(path, O_WRONLY | oflags);
		_exit(fd < 0 ? 3 : pwrite(fd, buf, 4096, 0) != 4096 ? 4 : close(fd) ? 5 : 0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (status != 0) {
		check(0, name, "writer as uid 1000 failed (status %#x)", status);
		return;
	}
	check(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755, name,
	      "mode %o after the write (want 755)", st.st_mode & 07777);
}

static void check_readonly(const char *dir)
{
	char path[256], buf[16];
	int fd;

	snprintf(path, sizeof(path), "%s/new-file", dir);
	errno = 0;
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	check(fd < 0 && errno == EROFS, "ro-create-refused", "fd %d", fd);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/existing", dir);
	errno = 0;
	fd = open(path, O_WRONLY);
	check(fd < 0 && errno == EROFS, "ro-write-refused", "fd %d", fd);
	if (fd >= 0)
		close(fd);
	check(read_file(path, buf, sizeof(buf)) == 3 && !memcmp(buf, "ro\n", 3), "ro-read", "%s",
	      path);
}

static void mount_share(const char *env, const char *dir, unsigned long flags)
{
	const char *tag = getenv(env);

	mkdir(dir, 0755);
	check(tag && mount(tag, dir, "virtiofs", flags, NULL) == 0, env, "mount %s at %s",
	      tag ? tag : "(no tag)", dir);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir("/proc", 0555);
	mount("proc", "/proc", "proc", 0, NULL);
	printf("fs-check: start\n");
	check(access("/fs-check-root-marker", F_OK) == 0, "root-is-share", "marker missing");
	mount_share("nook_data", "/mnt/data", 0);
	mount_share("nook_ro", "/mnt/ro", MS_RDONLY);

	check_basic("/root-work");
	check_basic("/mnt/data");
	check_big_file("/mnt/data");
	check_host_change("/mnt/data");
	check_write_kills_setid("/mnt/data", "write-kills-setid-direct", O_DIRECT);
	check_write_kills_setid("/mnt/data", "write-kills-setid-buffered", 0);
	check_readonly("/mnt/ro");

	printf("fs-check: summary %d ok, %d failed\n", passed, failed);
	sync();
	if (getpid() == 1)
		reboot(RB_AUTOBOOT);
	return failed != 0;
}
