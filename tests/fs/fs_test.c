/* Helpers of the file-system semantics suite: per-test directories, running as nobody. */
#include "tests/fs/fs_test.h"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char fst_path[PATH_MAX];
static char fst_name[64];

const char *fst_dir(void)
{
	return fst_path;
}

const char *fst_subdir(void)
{
	return fst_name;
}

int fst_on_mount(void)
{
	const char *s = getenv("NOOK_FS_SHARE_SRC");

	return s && *s;
}

void fst_setup(void)
{
	const char *base = getenv("NOOK_FS_TEST_DIR");

	cr_assert(base && *base, "set NOOK_FS_TEST_DIR to the directory to test in");
	/* Criterion forks each test, so the pid alone is unique. */
	snprintf(fst_name, sizeof(fst_name), "t%d", (int)getpid());
	snprintf(fst_path, sizeof(fst_path), "%s/%s", base, fst_name);
	cr_assert(mkdir(fst_path, 0755) == 0, "mkdir %s: %s", fst_path, strerror(errno));
	/* umask 0 so the modes we pass are the modes we get (ACL/setgid tests rely on it). */
	umask(0);
	cr_assert(chdir(fst_path) == 0, "chdir %s: %s", fst_path, strerror(errno));
}

static int fst_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fst_teardown(void)
{
	if (!fst_path[0] || chdir("/"))
		return;
	/* Best effort: a failed removal must not fail the test that already ran. */
	nftw(fst_path, fst_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fst_as_nobody(int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(FST_NOBODY, FST_NOBODY, FST_NOBODY) ||
		    setresuid(FST_NOBODY, FST_NOBODY, FST_NOBODY))
			_exit(250);
		_exit(fn(arg) & 0xff);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

void fst_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert(write(fd, buf, len) == (ssize_t)len, "write %s: %s", path, strerror(errno));
	cr_assert(close(fd) == 0);
}

size_t fst_read_file(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n = 0;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	while (got < cap && (n = read(fd, (char *)buf + got, cap - got)) > 0)
		got += (size_t)n;
	cr_assert(n >= 0 || got == cap, "read %s: %s", path, strerror(errno));
	close(fd);
	return got;
}

void fst_pattern(void *buf, size_t len, unsigned seed, off_t pos)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		unsigned long long x = (unsigned long long)(pos + (off_t)i) * 2654435761u + seed;

		p[i] = (unsigned char)(x ^ (x >> 13) ^ (x >> 29));
	}
}
