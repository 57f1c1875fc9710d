/*
 * DAX benchmark workload (tests/bench/dax_bench.sh): sequential read() and mmap reads of
 * one big file, twice each, then 4 KiB random reads through a fresh mapping. Prints
 *   daxbench: PHASE SECONDS MIB MINFLT
 * per phase (MINFLT: minor page faults of this process during the phase).
 *
 * In a guest it is /init: it mounts virtiofs tag "data" at /mnt/data and reads
 * /mnt/data/big, then reboots. On the host (`dax_workload FILE`) it reads FILE: the
 * native row of the table.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RAND_READS 4096

static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void report(const char *phase, double t0, double mib, long f0)
{
	printf("daxbench: %s %.4f %.2f %ld\n", phase, now() - t0, mib, minflt() - f0);
}

static int phase_read(const char *path, const char *name, size_t size)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	double t0 = now();
	long f0 = minflt();
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		got += (size_t)n;
		sink += (uint8_t)buf[n - 1];
	}
	close(fd);
	report(name, t0, (double)got / (1 << 20), f0);
	return got == size ? 0 : -1;
}

static uint64_t sum(const uint8_t *p, size_t len)
{
	const uint64_t *q = (const void *)p;
	uint64_t s = 0;

	for (size_t i = 0; i < len / 8; i++)
		s += q[i];
	return s;
}

static int phases_mmap(const char *path, size_t size)
{
	int fd = open(path, O_RDONLY);
	uint8_t *p;
	double t0;
	long f0;
	uint64_t x = 88172645463325252ull;

	if (fd < 0)
		return -1;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	t0 = now(), f0 = minflt();
	sink += sum(p, size);
	report("mmap1", t0, (double)size / (1 << 20), f0);
	t0 = now(), f0 = minflt();
	sink += sum(p, size);
	report("mmap2", t0, (double)size / (1 << 20), f0);
	/* More passes: does the second one still pay for host-side mapping work? */
	t0 = now(), f0 = minflt();
	sink += sum(p, size);
	report("mmap3", t0, (double)size / (1 << 20), f0);
	munmap(p, size);
	/* Random 4 KiB reads through a fresh mapping. */
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	t0 = now(), f0 = minflt();
	for (int i = 0; i < RAND_READS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		sink += sum(p + (x % (size / 4096)) * 4096, 4096);
	}
	report("rand4k", t0, RAND_READS * 4096.0 / (1 << 20), f0);
	munmap(p, size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/mnt/data/big";
	int guest = getpid() == 1;
	struct stat st;
	int err = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (guest) {
		mkdir("/proc", 0555);
		mount("proc", "/proc", "proc", 0, NULL);
		mkdir("/mnt/data", 0755);
		if (mount("data", "/mnt/data", "virtiofs", 0, NULL))
			printf("daxbench: error mount\n");
	}
	if (stat(path, &st)) {
		printf("daxbench: error no %s\n", path);
		err = 1;
	} else {
		err |= phase_read(path, "read1", (size_t)st.st_size);
		err |= phase_read(path, "read2", (size_t)st.st_size);
		err |= phases_mmap(path, (size_t)st.st_size);
	}
	printf(err ? "daxbench: error\n" : "daxbench: done\n");
	if (guest) {
		umount("/mnt/data");
		sync();
		reboot(RB_AUTOBOOT);
	}
	return err;
}
