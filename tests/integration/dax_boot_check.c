/*
 * In-guest DAX window check, run as /init from a virtio-fs root share (one boot checks
 * everything: tests/integration/dax_boot.sh prepares the shares and checks the host side).
 * Reports "dax-check: ok NAME" / "dax-check: FAIL NAME: why", then a summary line.
 *
 * Shares: tag "dax" (with a window) mounted at /mnt/dax, tag "plain" (no window) at
 * /mnt/plain, which also carries the host<->guest handshake files.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

#define MiB (1u << 20)

static int passed, failed;
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("dax-check: ok %s\n", name);
		passed++;
		return;
	}
	printf("dax-check: FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	failed++;
}

static void on_sigbus(int sig __attribute__((unused)))
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	_exit(99);
}

/* The xorshift stream dax_boot.sh writes (seeded per file). */
static void pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

static bool is_dax(const char *path)
{
	struct statx st;

	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &st))
		return false;
	return st.stx_attributes & STATX_ATTR_DAX;
}

static void wait_file(const char *path, int seconds)
{
	for (int i = 0; i < seconds * 10 && access(path, F_OK); i++)
		usleep(100000);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd >= 0)
		close(fd);
}

static void check_window_present(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/iomem", "r");

	/* virtio_fs_setup_dax claims the window as a memory region of the device. */
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "100000000-103ffffff", 19)) {
			found = true;
			printf("dax-check: iomem %s", line);
		}
	}
	if (f)
		fclose(f);
	check(found, "window-in-guest-iomem", "no 64 MiB region at 4 GiB in /proc/iomem");
}

static void check_read_and_mmap(void)
{
	size_t len = 8 * MiB;
	uint8_t *want = malloc(len), *got = malloc(len), *map;
	int fd = open("/mnt/dax/big", O_RDONLY);
	ssize_t n;

	check(is_dax("/mnt/dax/big"), "big-file-is-dax", "statx has no STATX_ATTR_DAX");
	check(!is_dax("/mnt/dax/small"), "small-file-is-not-dax", "below dax_min");
	pattern(want, len, 1);
	n = fd >= 0 ? pread(fd, got, len, 0) : -1;
	check(n == (ssize_t)len && !memcmp(got, want, len), "dax-read", "read %zd", n);
	map = fd >= 0 ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (map != MAP_FAILED && !sigsetjmp(bus_jmp, 1)) {
		bus_armed = 1;
		check(!memcmp(map, want, len), "dax-mmap-read", "mapping differs");
		/* Second pass over the same mapping: no faults, no requests. */
		check(!memcmp(map + len / 2, want + len / 2, len / 2), "dax-mmap-read-again", "");
		bus_armed = 0;
	} else {
		bus_armed = 0;
		check(0, "dax-mmap-read", "mmap failed or SIGBUS");
	}
	if (map != MAP_FAILED)
		munmap(map, len);
	if (fd >= 0)
		close(fd);
	free(want);
	free(got);
}

static void check_writes(void)
{
	int fd = open("/mnt/dax/wfile", O_RDWR);
	uint8_t *map = fd >= 0 ? mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
			       : MAP_FAILED;

	check(map != MAP_FAILED, "dax-mmap-rw", "mmap");
	if (map != MAP_FAILED) {
		memcpy(map + 4096, "written-through-dax-mmap", 24);
		check(msync(map, MiB, MS_SYNC) == 0, "dax-msync", "msync");
		munmap(map, MiB);
	}
	/* A write() inside EOF goes through the window too (SETUPMAPPING WRITE). */
	check(fd >= 0 && pwrite(fd, "written-by-pwrite", 17, 65536) == 17, "dax-pwrite", "pwrite");
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void check_host_pwrite_seen(void)
{
	int fd = open("/mnt/dax/live", O_RDONLY);
	volatile uint8_t *map = fd >= 0 ? mmap(NULL, 4 * MiB, PROT_READ, MAP_SHARED, fd, 0)
					: MAP_FAILED;
	bool seen = false;

	if (map == MAP_FAILED) {
		check(0, "host-pwrite-seen-by-mapping", "mmap");
		return;
	}
	(void)map[MiB];	/* fault the page in before the host writes */
	touch("/mnt/plain/ready-live");
	for (int i = 0; i < 600 && !seen; i++) {
		seen = !memcmp((const void *)(map + MiB), "HOSTPWRITE", 10);
		if (!seen)
			usleep(100000);
	}
	check(seen, "host-pwrite-seen-by-mapping", "bytes never changed");
	munmap((void *)map, 4 * MiB);
	close(fd);
}

static void check_odirect_into_dax_buffer(void)
{
	size_t len = 256 * 1024;
	uint8_t *want = malloc(len);
	int src = open("/mnt/plain/odfile", O_RDONLY | O_DIRECT);
	int dst = open("/mnt/dax/wbuf", O_RDWR);
	uint8_t *buf = dst >= 0 ? mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, dst, 0)
				: MAP_FAILED;
	ssize_t n = -1;

	pattern(want, len, 3);
	if (src >= 0 && buf != MAP_FAILED) {
		buf[0] = 1;	/* fault the DAX pages in: the descriptors then point at them */
		n = pread(src, buf, len, 0);
	}
	check(n == (ssize_t)len && !memcmp(buf, want, len), "odirect-read-into-dax-mmap",
	      "src %d read %zd", src, n);
	if (buf != MAP_FAILED) {
		msync(buf, MiB, MS_SYNC);
		munmap(buf, MiB);
	}
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	free(want);
}

static void check_host_truncate(void)
{
	size_t len = 4 * MiB;
	int fd = open("/mnt/dax/trunc", O_RDONLY);
	volatile uint8_t *map = fd >= 0 ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0)
					: MAP_FAILED;
	uint8_t head[4096], want[4096];
	bool zeros = true;

	if (map == MAP_FAILED) {
		check(0, "host-truncate-under-mapping", "mmap");
		return;
	}
	for (size_t i = 0; i < len; i += 4096)
		(void)map[i];
	touch("/mnt/plain/ready-trunc");
	wait_file("/mnt/plain/done-trunc", 120);
	sleep(1);
	if (!sigsetjmp(bus_jmp, 1)) {
		bus_armed = 1;
		for (size_t i = MiB; i < MiB + 8192; i++)
			zeros &= map[i] == 0;
		memcpy(head, (const void *)map, sizeof(head));
		bus_armed = 0;
		pattern(want, sizeof(want), 4);
		check(zeros, "host-truncate-reads-zeros", "bytes past the new end are not 0");
		check(!memcmp(head, want, sizeof(head)), "host-truncate-keeps-head", "");
	} else {
		bus_armed = 0;
		check(0, "host-truncate-reads-zeros", "SIGBUS in the guest");
	}
	munmap((void *)map, len);
	close(fd);
	check(1, "guest-alive-after-truncate", "");
}

static void check_dax_always(void)
{
	char buf[2048];
	int fd;
	ssize_t n;

	umount("/mnt/dax");
	check(mount("dax", "/mnt/dax", "virtiofs", 0, "dax=always") == 0, "mount-dax-always",
	      "mount");
	check(is_dax("/mnt/dax/small"), "dax-always-small-file-is-dax", "");
	fd = open("/mnt/dax/small", O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	check(n == 1000 && buf[0] == 's' && buf[999] == 's', "dax-always-read", "read %zd", n);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGBUS, &sa, NULL);
	mkdir("/proc", 0555);
	mount("proc", "/proc", "proc", 0, NULL);
	printf("dax-check: start\n");
	mkdir("/mnt/plain", 0755);
	mkdir("/mnt/dax", 0755);
	/* Before the normal mount: an existing superblock would ignore the option. */
	errno = 0;
	check(mount("plain", "/mnt/plain", "virtiofs", 0, "dax=always") != 0,
	      "no-window-without-dax-option", "dax=always mounted a share without a window");
	check(mount("plain", "/mnt/plain", "virtiofs", 0, NULL) == 0, "mount-plain", "mount");
	check(mount("dax", "/mnt/dax", "virtiofs", 0, NULL) == 0, "mount-dax", "mount");
	check_window_present();
	check_read_and_mmap();
	check_writes();
	check_host_pwrite_seen();
	check_odirect_into_dax_buffer();
	check_host_truncate();
	check_dax_always();
	umount("/mnt/dax");
	printf("dax-check: summary %d ok, %d failed\n", passed, failed);
	sync();
	if (getpid() == 1)
		reboot(RB_AUTOBOOT);
	return failed != 0;
}
