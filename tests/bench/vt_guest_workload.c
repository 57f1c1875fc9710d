/*
 * In-guest workload of bench-vt (tests/bench/vt_guest_bench.sh), run as /init: the share
 * nook_bench=TAG at /mnt/b holds f and dir/f000..f099. Prints one line per phase:
 * repeated stat of one path, 100 files stat'ed 3 times each, 50 listings of dir.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	const char *tag = getenv("nook_bench"), *mode = getenv("nook_mode");
	struct stat st;
	char path[64];
	double t;
	int bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir("/mnt/b", 0755);
	if (!tag || mount(tag, "/mnt/b", "virtiofs", 0, NULL)) {
		printf("vt-bench: cannot mount the share\n");
		goto out;
	}
	stat("/mnt/b/f", &st);
	t = now_s();
	for (int i = 0; i < 5000; i++)
		bad += stat("/mnt/b/f", &st) != 0;
	t = now_s() - t;
	printf("vt-bench: %s repeated-stat %.1f us/stat (5000)\n", mode, t / 5000 * 1e6);
	t = now_s();
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 100; i++) {
			snprintf(path, sizeof(path), "/mnt/b/dir/f%03d", i);
			bad += stat(path, &st) != 0;
		}
	printf("vt-bench: %s 100-files-300-stats %.3f s\n", mode, now_s() - t);
	t = now_s();
	for (int r = 0; r < 50; r++) {
		DIR *d = opendir("/mnt/b/dir");
		int n = 0;

		while (d && readdir(d))
			n++;
		if (d)
			closedir(d);
		bad += n != 102;
	}
	printf("vt-bench: %s 50-listings %.3f s\n", mode, now_s() - t);
	printf("vt-bench: %s errors %d\n", mode, bad);
out:
	sync();
	reboot(RB_AUTOBOOT);
	return 0;
}
