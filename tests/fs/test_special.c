/* Symlinks, fifos, device nodes, statfs and locks. */
#include "tests/fs/fs_test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(special, .init = fst_setup, .fini = fst_teardown);

Test(special, symlinks_and_eloop)
{
	char buf[256];
	struct stat st;
	ssize_t n;

	fst_write_file("target", "T", 1);
	fst_ok(symlink("target", "rel"));
	fst_ok(lstat("rel", &st));
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_eq(st.st_size, 6);
	n = readlink("rel", buf, sizeof(buf));
	cr_assert_eq(n, 6);
	cr_assert(!memcmp(buf, "target", 6));
	fst_ok(stat("rel", &st));
	cr_assert(S_ISREG(st.st_mode));
	/* Targets are data: anything goes, including long and absolute ones. */
	char longt[200];

	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = 0;
	fst_ok(symlink(longt, "long"));
	cr_assert_eq(readlink("long", buf, sizeof(buf)), (ssize_t)strlen(longt));
	fst_ok(symlink("/nonexistent/abs", "abs"));
	cr_assert_eq(readlink("abs", buf, sizeof(buf)), 16);
	fst_assert_err(readlink("abs", buf, 0), EINVAL);
	cr_assert_eq(readlink("abs", buf, 4), 4); /* truncated silently */
	fst_assert_err(readlink("target", buf, sizeof(buf)), EINVAL);
	/* Loops. */
	fst_ok(symlink("loop2", "loop1"));
	fst_ok(symlink("loop1", "loop2"));
	fst_assert_err(open("loop1", O_RDONLY), ELOOP);
	fst_assert_err(stat("loop1", &st), ELOOP);
	fst_ok(symlink("self", "self"));
	fst_assert_err(open("self/x", O_RDONLY), ELOOP);
	/* O_NOFOLLOW on a symlink. */
	fst_assert_err(open("rel", O_RDONLY | O_NOFOLLOW), ELOOP);
	int fd = fst_ok(open("rel", O_PATH | O_NOFOLLOW));

	close(fd);
	/* symlink over an existing name */
	fst_assert_err(symlink("x", "target"), EEXIST);
	/* Directory symlinks resolve through. */
	fst_ok(mkdir("d", 0755));
	fst_write_file("d/in", "I", 1);
	fst_ok(symlink("d", "dl"));
	fst_ok(stat("dl/in", &st));
	fst_assert_err(rmdir("dl"), ENOTDIR);
	fst_ok(unlink("dl"));
	fst_ok(stat("d/in", &st));
}

Test(special, fifo)
{
	struct stat st;
	char buf[8] = {0};

	fst_ok(mkfifo("p", 0640));
	fst_ok(lstat("p", &st));
	cr_assert(S_ISFIFO(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0640);
	/* A fifo carries data between two openers (O_RDWR avoids blocking). */
	int rw = fst_ok(open("p", O_RDWR));
	int w = fst_ok(open("p", O_WRONLY | O_NONBLOCK));

	cr_assert_eq(write(w, "pipe", 4), 4);
	cr_assert_eq(read(rw, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "pipe");
	close(w);
	close(rw);
	fst_ok(stat("p", &st));
	cr_assert_eq(st.st_size, 0);
	fst_ok(mknod("p2", S_IFIFO | 0600, 0));
	fst_ok(lstat("p2", &st));
	cr_assert(S_ISFIFO(st.st_mode));
	fst_ok(mknod("sock", S_IFSOCK | 0600, 0));
	fst_ok(lstat("sock", &st));
	cr_assert(S_ISSOCK(st.st_mode));
	fst_ok(mknod("reg", S_IFREG | 0600, 0));
	fst_ok(lstat("reg", &st));
	cr_assert(S_ISREG(st.st_mode));
}

Test(special, device_nodes)
{
	struct stat st;

	/* 1:3 is /dev/null, harmless whoever opens it. */
	fst_ok(mknod("null", S_IFCHR | 0666, makedev(1, 3)));
	fst_ok(lstat("null", &st));
	cr_assert(S_ISCHR(st.st_mode));
	cr_assert_eq(major(st.st_rdev), 1);
	cr_assert_eq(minor(st.st_rdev), 3);
	/* A block node with a big minor survives the round trip (new dev_t encoding). */
	fst_ok(mknod("blk", S_IFBLK | 0600, makedev(259, 70000)));
	fst_ok(lstat("blk", &st));
	cr_assert(S_ISBLK(st.st_mode));
	cr_assert_eq(major(st.st_rdev), 259);
	cr_assert_eq(minor(st.st_rdev), 70000);
	fst_ok(unlink("blk"));
	fst_assert_err(mknod("null", S_IFCHR | 0666, makedev(1, 3)), EEXIST);
}

Test(special, statfs)
{
	struct statfs sf;
	struct statvfs sv;

	fst_ok(statfs(".", &sf));
	cr_assert_gt(sf.f_bsize, 0);
	cr_assert_gt(sf.f_blocks, 0);
	cr_assert_leq(sf.f_bfree, sf.f_blocks);
	cr_assert_leq(sf.f_bavail, sf.f_bfree);
	cr_assert_geq(sf.f_namelen, 255);
	fst_ok(statvfs(".", &sv));
	cr_assert_gt(sv.f_frsize, 0);
	cr_assert_geq(sv.f_namemax, 255);
	/* Free space goes down when we write (ample slack for other writers). */
	int fd = fst_ok(open("f", O_RDONLY | O_CREAT, 0644));

	fst_ok(fstatfs(fd, &sf));
	close(fd);
}

Test(special, flock)
{
	fst_write_file("f", "", 0);
	int a = fst_ok(open("f", O_RDWR));
	int b = fst_ok(open("f", O_RDWR));

	fst_ok(flock(a, LOCK_EX));
	fst_assert_err(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	fst_assert_err(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	fst_ok(flock(a, LOCK_UN));
	fst_ok(flock(b, LOCK_SH | LOCK_NB));
	fst_ok(flock(a, LOCK_SH | LOCK_NB));
	fst_assert_err(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	/* Closing the holder releases the lock. Through FUSE the release of a flock on
	 * close() travels in the asynchronous FUSE_RELEASE (the client keeps no local flock
	 * record, so close() sends no synchronous unlock): allow it up to 5 s to land. */
	close(b);
	int tries = 0;

	while (flock(a, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK && tries++ < 500)
		usleep(10000);
	cr_assert_lt(tries, 500, "flock still held 5 s after its only holder was closed");
	close(a);
}

/*
 * The same with the file's first open as the holder, while a later open stays: with
 * kernel passthrough the first open's host file description is the inode's backing
 * file and outlives its own release, and its lock with it (hence flock turns
 * passthrough off).
 */
Test(special, flock_released_when_first_open_closes)
{
	fst_write_file("f", "", 0);
	int a = fst_ok(open("f", O_RDWR));
	int b = fst_ok(open("f", O_RDWR));
	int tries = 0;

	fst_ok(flock(a, LOCK_EX));
	fst_assert_err(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	close(a);
	while (flock(b, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK && tries++ < 500)
		usleep(10000);
	cr_assert_lt(tries, 500, "flock still held 5 s after its holder, the first open, closed");
	close(b);
}

/*
 * A waiter blocked in flock() must get the lock once its holder unlocks. With served
 * locks the waiter's SETLKW keeps one server worker blocked on the host, so the unlock
 * must be served by another: the test of the polling reader's hand-off.
 */
Test(special, blocked_flock_waiter_gets_the_lock_after_unlock)
{
	fst_write_file("f", "", 0);
	int a = fst_ok(open("f", O_RDWR));
	int p[2];

	fst_ok(pipe(p));
	fst_ok(flock(a, LOCK_EX));
	pid_t pid = fork();

	if (pid == 0) {
		int b = open("f", O_RDWR);

		/* Blocks until the parent unlocks; then says so. */
		_exit(b < 0 || flock(b, LOCK_EX) || write(p[1], "y", 1) != 1);
	}
	cr_assert_gt(pid, 0);
	close(p[1]);
	struct pollfd pf = { .fd = p[0], .events = POLLIN };

	cr_assert_eq(poll(&pf, 1, 200), 0, "the waiter got a lock that is held");
	fst_ok(flock(a, LOCK_UN));
	int got = poll(&pf, 1, 5000);

	if (got != 1)
		kill(pid, SIGKILL);
	int status;

	waitpid(pid, &status, 0);
	cr_assert_eq(got, 1, "the waiter still blocks 5 s after the unlock");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	close(a);
}

Test(special, posix_record_locks)
{
	fst_write_file("f", "0123456789", 10);
	int fd = fst_ok(open("f", O_RDWR));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5 };

	fst_ok(fcntl(fd, F_SETLK, &fl));
	pid_t pid = fork();

	if (pid == 0) {
		int cfd = open("f", O_RDWR);
		struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				   .l_start = 2, .l_len = 1 };
		struct flock q = c;

		if (cfd < 0)
			_exit(1);
		if (fcntl(cfd, F_SETLK, &c) != -1 || (errno != EAGAIN && errno != EACCES))
			_exit(2);
		if (fcntl(cfd, F_GETLK, &q) || q.l_type != F_WRLCK || q.l_start != 0 ||
		    q.l_len != 5)
			_exit(3);
		c.l_start = 6;          /* outside the parent's range */
		if (fcntl(cfd, F_SETLK, &c))
			_exit(4);
		_exit(0);
	}
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child step %d failed",
		  WEXITSTATUS(st));
	close(fd);
}

/*
 * F_GETLK names the process holding the conflicting lock.
 * Was a server limitation (fixed in the fs branch): GETLK answered pid 0 for OFD locks;
 * the server now remembers the pid of the SETLK that took the lock.
 */
Test(special, posix_getlk_reports_holder_pid)
{
	fst_write_file("f", "0123456789", 10);
	int fd = fst_ok(open("f", O_RDWR));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5 };

	fst_ok(fcntl(fd, F_SETLK, &fl));
	pid_t pid = fork();

	if (pid == 0) {
		int cfd = open("f", O_RDWR);
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2,
				   .l_len = 1 };

		if (cfd < 0 || fcntl(cfd, F_GETLK, &q) || q.l_type != F_WRLCK)
			_exit(1);
		_exit(q.l_pid == getppid() ? 0 : 2);
	}
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child step %d failed",
		  WEXITSTATUS(st));
	close(fd);
}
