/* `nook fs serve` end to end: mount through /dev/fuse in a child, use it, stop it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_server.h"

static int serve(const char *a, const char *b, const char *c, const char *d)
{
	char *argv[] = { "serve", (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	int argc = 1;

	while (argv[argc])
		argc++;
	return fs_serve_main(argc, argv);
}

Test(fuse_serve, argument_errors)
{
	cr_assert_eq(serve(NULL, NULL, NULL, NULL), 2);
	cr_assert_eq(serve("/tmp", "/nonexistent/nook-mnt", NULL, NULL), 1);
	cr_assert_eq(serve("/nonexistent/nook-src", "/tmp", NULL, NULL), 1);
	cr_assert_eq(serve("/tmp", "/tmp", "-o", "cache=bogus"), 2);
	cr_assert_eq(serve("/tmp", "/tmp", "--what", NULL), 2);
	cr_assert_eq(serve("/tmp", "/tmp", "-o", NULL), 2);
	cr_assert_eq(serve("/tmp", "/tmp", "-o", "dev,bogus"), 2, "mount options mix with server options");
}

static bool mounted(const char *mnt, const char *parent)
{
	struct stat a, b;

	return !stat(mnt, &a) && !stat(parent, &b) && a.st_dev != b.st_dev;
}

/* base (a mkdtemp template) with empty src/ and mnt/ under it; src and mnt hold 64 bytes. */
static void make_dirs(char *base, char *src, char *mnt)
{
	cr_assert_not_null(mkdtemp(base));
	snprintf(src, 64, "%s/src", base);
	snprintf(mnt, 64, "%s/mnt", base);
	cr_assert_eq(mkdir(src, 0755), 0);
	cr_assert_eq(mkdir(mnt, 0755), 0);
}

Test(fuse_serve, mount_use_unmount)
{
	char base[] = "/tmp/nook-serve-XXXXXX", src[64], mnt[64], path[128], buf[32] = { 0 };
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct stat st;
	pid_t pid;
	int fd, status, i;

	if (access("/dev/fuse", R_OK | W_OK) || geteuid() != 0)
		cr_skip_test("needs root and /dev/fuse");
	make_dirs(base, src, mnt);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(serve(src, mnt, "-o", "threads=2"));
	/* Wait (bounded) for the mount to appear. */
	for (i = 0; i < 250 && !mounted(mnt, base); i++)
		nanosleep(&pause, NULL);
	cr_assert(mounted(mnt, base), "mount did not appear");

	snprintf(path, sizeof(path), "%s/hello", mnt);
	fd = open(path, O_CREAT | O_RDWR, 0640);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, "through fuse", 12), 12);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 12);
	close(fd);
	cr_assert_str_eq(buf, "through fuse");
	snprintf(path, sizeof(path), "%s/hello", src);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 12);
	cr_assert_eq(st.st_mode & 0777, 0640);
	snprintf(path, sizeof(path), "%s/dir", mnt);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(rmdir(path), 0);

	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	cr_assert_not(mounted(mnt, base), "unmounted on SIGTERM");
	snprintf(path, sizeof(path), "%s/hello", src);
	unlink(path);
	rmdir(src);
	rmdir(mnt);
	rmdir(base);
}

/* dev/suid lift the default nodev,nosuid of the mount (generic/184, 306, 434, 633). */
Test(fuse_serve, dev_and_suid_options)
{
	static const char *const opts[] = { "threads=2", "dev,suid,threads=2", "suid" };
	static const unsigned long want[] = { ST_NODEV | ST_NOSUID, 0, ST_NODEV };
	char base[] = "/tmp/nook-serve-XXXXXX", src[64], mnt[64];
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct statvfs sv;
	pid_t pid;
	int status, i;

	if (access("/dev/fuse", R_OK | W_OK) || geteuid() != 0)
		cr_skip_test("needs root and /dev/fuse");
	make_dirs(base, src, mnt);
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			_exit(serve(src, mnt, "-o", opts[k]));
		for (i = 0; i < 250 && !mounted(mnt, base); i++)
			nanosleep(&pause, NULL);
		cr_assert(mounted(mnt, base), "mount did not appear (-o %s)", opts[k]);
		cr_assert_eq(statvfs(mnt, &sv), 0);
		cr_assert_eq(sv.f_flag & (ST_NODEV | ST_NOSUID), want[k], "-o %s", opts[k]);
		cr_assert_eq(kill(pid, SIGTERM), 0);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	rmdir(src);
	rmdir(mnt);
	rmdir(base);
}

static pid_t serve_bg(const char *src, const char *mnt, const char *base)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(serve(src, mnt, "-o", "threads=2"));
	for (int i = 0; i < 250 && !mounted(mnt, base); i++)
		nanosleep(&pause, NULL);
	cr_assert(mounted(mnt, base), "mount did not appear");
	return pid;
}

/*
 * A remount (umount, then a new server at once, as fstests' cycle mounts do): the old
 * server, seeing its mount gone, must not detach the mount point, which by then holds
 * the new server's mount. Was a bug: it did umount2(MNT_DETACH) by path on every exit.
 * The old server is held stopped across the remount so the order is certain.
 */
Test(fuse_serve, exit_after_external_umount_leaves_the_next_mount)
{
	char base[] = "/tmp/nook-serve-XXXXXX", src[64], mnt[64], path[128];
	pid_t old, next;
	int status, fd;

	if (access("/dev/fuse", R_OK | W_OK) || geteuid() != 0)
		cr_skip_test("needs root and /dev/fuse");
	make_dirs(base, src, mnt);
	old = serve_bg(src, mnt, base);
	cr_assert_eq(kill(old, SIGSTOP), 0);
	cr_assert_eq(umount2(mnt, MNT_DETACH), 0, "%s", strerror(errno));
	next = serve_bg(src, mnt, base);
	cr_assert_eq(kill(old, SIGCONT), 0);
	cr_assert_eq(waitpid(old, &status, 0), old);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert(mounted(mnt, base), "the old server took the new mount away");
	snprintf(path, sizeof(path), "%s/still-here", mnt);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	close(fd);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(kill(next, SIGTERM), 0);
	cr_assert_eq(waitpid(next, &status, 0), next);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_not(mounted(mnt, base));
	rmdir(src);
	rmdir(mnt);
	rmdir(base);
}

/*
 * noatime (generic/120): the mount flag is set, and reads through the mount leave the
 * host file's atime alone (the FUSE client never updates atime; our O_NOATIME opens
 * keep the host from doing it). Was refused as an unknown option.
 */
Test(fuse_serve, noatime_reads_leave_atime)
{
	char base[] = "/tmp/nook-serve-XXXXXX", src[64], mnt[64], path[128], buf[8];
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct timespec old[2] = { { 1000000000, 0 }, { 0, UTIME_OMIT } };
	struct statvfs sv;
	struct stat st;
	pid_t pid;
	int fd, status, i;

	if (access("/dev/fuse", R_OK | W_OK) || geteuid() != 0)
		cr_skip_test("needs root and /dev/fuse");
	make_dirs(base, src, mnt);
	snprintf(path, sizeof(path), "%s/f", src);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "data", 4), 4);
	close(fd);
	cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(serve(src, mnt, "-o", "noatime,threads=2"));
	for (i = 0; i < 250 && !mounted(mnt, base); i++)
		nanosleep(&pause, NULL);
	cr_assert(mounted(mnt, base), "mount did not appear");
	cr_assert_eq(statvfs(mnt, &sv), 0);
	cr_assert(sv.f_flag & ST_NOATIME);
	snprintf(path, sizeof(path), "%s/f", mnt);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);
	snprintf(path, sizeof(path), "%s/f", src);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_atim.tv_sec, old[0].tv_sec, "the host atime moved");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(path);
	rmdir(src);
	rmdir(mnt);
	rmdir(base);
}
