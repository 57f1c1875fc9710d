/* Regular-file semantics: rename, links, open flags, sizes, holes, data paths. */
#include "tests/fs/fs_test.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

TestSuite(files, .init = fst_setup, .fini = fst_teardown);

Test(files, rename_over_existing)
{
	char buf[8] = {0};
	struct stat st;

	fst_write_file("a", "AAAA", 4);
	fst_write_file("b", "BB", 2);
	int old_b = fst_ok(open("b", O_RDONLY));

	fst_ok(rename("a", "b"));
	fst_assert_err(stat("a", &st), ENOENT);
	cr_assert_eq(fst_read_file("b", buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "AAAA");
	/* The replaced file lives on while it is open. */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(pread(old_b, buf, sizeof(buf), 0), 2);
	cr_assert_str_eq(buf, "BB");
	fst_ok(fstat(old_b, &st));
	cr_assert_eq(st.st_nlink, 0);
	close(old_b);
}

Test(files, rename_directories)
{
	struct stat st;

	fst_ok(mkdir("d1", 0755));
	fst_ok(mkdir("d2", 0755));
	fst_ok(mkdir("d3", 0755));
	fst_write_file("d3/f", "x", 1);
	fst_write_file("f", "x", 1);
	fst_ok(rename("d1", "d2"));          /* over an empty directory */
	fst_assert_err(stat("d1", &st), ENOENT);
	fst_assert_err(rename("d2", "d3"), ENOTEMPTY);
	fst_assert_err(rename("d2", "f"), ENOTDIR);
	fst_assert_err(rename("f", "d2"), EISDIR);
	fst_assert_err(rename("d2", "d2/sub"), EINVAL); /* into itself */
	fst_assert_err(rmdir("d3"), ENOTEMPTY);
	fst_assert_err(mkdir("d3", 0755), EEXIST);
	/* Directory link counts: 2 + one per subdirectory. */
	fst_ok(mkdir("d2/s1", 0755));
	fst_ok(mkdir("d2/s2", 0755));
	fst_ok(stat("d2", &st));
	cr_assert_eq(st.st_nlink, 4);
	fst_ok(rename("d2/s1", "d3/s1"));
	fst_ok(stat("d2", &st));
	cr_assert_eq(st.st_nlink, 3);
	fst_ok(stat("d3", &st));
	cr_assert_eq(st.st_nlink, 3);
	/* The moved directory's ".." follows it. */
	struct stat dotdot;

	fst_ok(stat("d3/s1/..", &dotdot));
	cr_assert_eq(dotdot.st_ino, st.st_ino);
}

Test(files, hard_links_and_nlink)
{
	struct stat a, b;
	char buf[8] = {0};

	fst_write_file("a", "data", 4);
	fst_ok(link("a", "b"));
	fst_ok(stat("a", &a));
	fst_ok(stat("b", &b));
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert_eq(a.st_nlink, 2);
	cr_assert_eq(b.st_nlink, 2);
	fst_assert_err(link("a", "b"), EEXIST);
	fst_ok(mkdir("d", 0755));
	fst_assert_err(link("d", "d2"), EPERM);
	/* Write through one name, read through the other. */
	int fd = fst_ok(open("b", O_WRONLY));
	cr_assert_eq(pwrite(fd, "DA", 2, 0), 2);
	close(fd);
	fst_read_file("a", buf, sizeof(buf));
	cr_assert_str_eq(buf, "DAta");
	fst_ok(unlink("a"));
	fst_ok(stat("b", &b));
	cr_assert_eq(b.st_nlink, 1);
	/* The attribute cache must not keep a stale count through a fresh name either. */
	fst_ok(link("b", "c"));
	fst_ok(link("c", "e"));
	fst_ok(stat("b", &b));
	cr_assert_eq(b.st_nlink, 3);
}

Test(files, unlink_open_file_still_readable)
{
	char buf[16] = {0};
	struct stat st;

	fst_write_file("f", "still here", 10);
	int fd = fst_ok(open("f", O_RDWR));

	fst_ok(unlink("f"));
	fst_assert_err(stat("f", &st), ENOENT);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 10);
	cr_assert_str_eq(buf, "still here");
	cr_assert_eq(pwrite(fd, "STILL", 5, 0), 5);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 10);
	cr_assert_str_eq(buf, "STILL here");
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(st.st_size, 10);
	fst_ok(ftruncate(fd, 3));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, 3);
	fst_ok(fsync(fd));
	close(fd);
	/* A new file of the same name is a new, empty file. */
	fst_write_file("f", "", 0);
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_size, 0);
}

Test(files, o_append)
{
	struct stat st;
	char buf[32] = {0};

	fst_write_file("f", "start:", 6);
	int a = fst_ok(open("f", O_WRONLY | O_APPEND));
	int b = fst_ok(open("f", O_WRONLY | O_APPEND));

	cr_assert_eq(write(a, "aa", 2), 2);
	cr_assert_eq(write(b, "bbb", 3), 3);
	cr_assert_eq(write(a, "c", 1), 1);
	/* The file position of an O_APPEND fd follows the end after each write. */
	cr_assert_eq(lseek(a, 0, SEEK_CUR), 12);
	lseek(b, 0, SEEK_SET);
	cr_assert_eq(write(b, "d", 1), 1);
	close(a);
	close(b);
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_size, 13);
	fst_read_file("f", buf, sizeof(buf));
	cr_assert_str_eq(buf, "start:aabbbcd");
}

Test(files, o_trunc)
{
	struct stat st;
	char buf[8] = {0};

	fst_write_file("f", "0123456789", 10);
	int fd = fst_ok(open("f", O_RDWR | O_TRUNC));

	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, 0);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 0);
	cr_assert_eq(write(fd, "xy", 2), 2);
	close(fd);
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_size, 2);
	/* O_TRUNC on a read-only open of a file we may write still truncates. */
	fd = fst_ok(open("f", O_RDONLY | O_TRUNC));
	close(fd);
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_size, 0);
}

Test(files, o_excl)
{
	fst_write_file("f", "x", 1);
	fst_assert_err(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	/* O_EXCL does not follow a symlink, dangling or not. */
	fst_ok(symlink("missing", "dangling"));
	fst_assert_err(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	struct stat st;

	fst_assert_err(stat("missing", &st), ENOENT);
	/* Without O_EXCL a dangling symlink creates its target (client-side follow). */
	int fd = fst_ok(open("dangling", O_WRONLY | O_CREAT, 0600));

	close(fd);
	fst_ok(lstat("missing", &st));
	cr_assert(S_ISREG(st.st_mode));
	fd = fst_ok(open("new", O_WRONLY | O_CREAT | O_EXCL, 0640));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(st.st_uid, geteuid());
	close(fd);
	fst_assert_err(open("new", O_WRONLY | O_CREAT | O_EXCL, 0640), EEXIST);
}

Test(files, truncate_up_and_down)
{
	unsigned char buf[8192];
	struct stat st;

	memset(buf, 0xab, sizeof(buf));
	fst_write_file("f", buf, 100);
	fst_ok(truncate("f", 5000));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_size, 5000);
	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(fst_read_file("f", buf, sizeof(buf)), 5000);
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(buf[i], i < 100 ? 0xab : 0, "byte %d is %#x", i, buf[i]);
	int fd = fst_ok(open("f", O_RDWR));

	fst_ok(ftruncate(fd, 10));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, 10);
	/* Growing again must not resurrect the old bytes past the cut. */
	fst_ok(ftruncate(fd, 200));
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 200);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(buf[i], i < 10 ? 0xab : 0, "byte %d is %#x", i, buf[i]);
	fst_assert_err(ftruncate(fd, -1), EINVAL);
	close(fd);
	fd = fst_ok(open("f", O_RDONLY));
	fst_assert_err(ftruncate(fd, 0), EINVAL);
	close(fd);
}

Test(files, sparse_past_4g)
{
	const off_t big = 5LL << 30;    /* past 4 GiB: 64-bit offsets all the way */
	char buf[16] = {0};
	struct stat st;
	int fd = fst_ok(open("sparse", O_RDWR | O_CREAT, 0644));

	cr_assert_eq(pwrite(fd, "tail", 4, big), 4);
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, big + 4);
	cr_assert_lt(st.st_blocks, 1024, "a sparse file should not allocate 5 GiB");
	cr_assert_eq(pread(fd, buf, 4, big), 4);
	cr_assert_str_eq(buf, "tail");
	cr_assert_eq(pread(fd, buf, 4, 1LL << 32), 4);
	cr_assert(!memcmp(buf, "\0\0\0\0", 4));
	off_t data = lseek(fd, 0, SEEK_DATA);

	cr_assert(data > (4LL << 30) && data <= big, "SEEK_DATA from 0 gave %lld",
		  (long long)data);
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), 0);
	cr_assert_eq(lseek(fd, big, SEEK_HOLE), big + 4);
	fst_assert_err(lseek(fd, big + 4, SEEK_DATA), ENXIO);
	/* Reading a file position past 4 GiB from the fd. */
	cr_assert_eq(lseek(fd, big + 1, SEEK_SET), big + 1);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read(fd, buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "ail");
	close(fd);
}

Test(files, fallocate_and_punch_hole)
{
	unsigned char buf[65536];
	struct stat st;
	int fd = fst_ok(open("f", O_RDWR | O_CREAT, 0644));

	fst_pattern(buf, sizeof(buf), 1, 0);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	fst_ok(fsync(fd));
	fst_ok(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 16384, 16384));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, 65536);
	memset(buf, 0xee, sizeof(buf));
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	unsigned char want[65536];

	fst_pattern(want, sizeof(want), 1, 0);
	memset(want + 16384, 0, 16384);
	cr_assert(!memcmp(buf, want, sizeof(buf)), "punched range must read as zeros");
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), 16384);
	cr_assert_eq(lseek(fd, 16384, SEEK_DATA), 32768);
	/* Mode 0 extends the size, KEEP_SIZE does not. */
	fst_ok(fallocate(fd, 0, 65536, 65536));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, 131072);
	fst_ok(fallocate(fd, FALLOC_FL_KEEP_SIZE, 131072, 65536));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_size, 131072);
	cr_assert_geq(st.st_blocks * 512, 131072 + 65536 - 16384);
	fst_assert_err(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
	close(fd);
}

Test(files, copy_file_range)
{
	enum { LEN = 1 << 20 };
	unsigned char *src = malloc(LEN), *dst = malloc(LEN);

	fst_pattern(src, LEN, 7, 0);
	fst_write_file("src", src, LEN);
	int in = fst_ok(open("src", O_RDONLY));
	int out = fst_ok(open("dst", O_RDWR | O_CREAT, 0644));
	loff_t off_in = 4096 + 3, off_out = 17;
	size_t want = LEN - 4096 - 3, done = 0;

	while (done < want) {
		ssize_t n = copy_file_range(in, &off_in, out, &off_out, want - done, 0);

		cr_assert(n > 0, "copy_file_range: %s", strerror(errno));
		done += (size_t)n;
	}
	cr_assert_eq(off_in, LEN);
	cr_assert_eq(off_out, 17 + (loff_t)want);
	/* The explicit offsets leave the file positions alone. */
	cr_assert_eq(lseek(in, 0, SEEK_CUR), 0);
	cr_assert_eq(pread(out, dst, LEN, 17), (ssize_t)want);
	cr_assert(!memcmp(dst, src + 4096 + 3, want));
	cr_assert_eq(pread(out, dst, 17, 0), 17);
	cr_assert(!memcmp(dst, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 17));
	/* Past the end of the source: copies nothing. */
	off_in = LEN;
	cr_assert_eq(copy_file_range(in, &off_in, out, NULL, 100, 0), 0);
	close(in);
	close(out);
	free(src);
	free(dst);
}

Test(files, o_tmpfile_and_linkat)
{
	char path[64], buf[16] = {0};
	struct stat st;
	int fd = open(".", O_TMPFILE | O_RDWR, 0600);

	cr_assert(fd >= 0, "O_TMPFILE: %s", strerror(errno));
	cr_assert_eq(write(fd, "anonymous", 9), 9);
	fst_ok(fstat(fd, &st));
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_nlink, 0);
	/* Not visible in the directory before linkat. */
	int dfd = fst_ok(open(".", O_RDONLY | O_DIRECTORY));

	fst_ok(fstatat(dfd, ".", &st, 0));
	cr_assert_eq(st.st_nlink, 2);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fst_ok(linkat(AT_FDCWD, path, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	fst_ok(stat("named", &st));
	cr_assert_eq(st.st_nlink, 1);
	cr_assert_eq(st.st_size, 9);
	fst_read_file("named", buf, sizeof(buf));
	cr_assert_str_eq(buf, "anonymous");
	close(dfd);
	close(fd);
	/* O_EXCL makes a tmpfile that may never be linked. */
	fd = fst_ok(open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fst_assert_err(linkat(AT_FDCWD, path, AT_FDCWD, "named2", AT_SYMLINK_FOLLOW), ENOENT);
	close(fd);
}

Test(files, mmap_shared_writes_seen_by_read)
{
	enum { LEN = 3 * 4096 };
	unsigned char want[LEN], got[LEN];
	int fd = fst_ok(open("m", O_RDWR | O_CREAT, 0644));

	fst_ok(ftruncate(fd, LEN));
	unsigned char *map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	cr_assert(map != MAP_FAILED, "mmap: %s", strerror(errno));
	fst_pattern(want, LEN, 3, 0);
	memcpy(map, want, LEN);
	/* Coherent without msync: read goes through the same page cache. */
	cr_assert_eq(pread(fd, got, LEN, 0), LEN);
	cr_assert(!memcmp(got, want, LEN), "read does not see the mmap write");
	/* And write() is seen through the mapping. */
	cr_assert_eq(pwrite(fd, "written", 7, 4096), 7);
	cr_assert(!memcmp(map + 4096, "written", 7));
	fst_ok(msync(map, LEN, MS_SYNC));
	munmap(map, LEN);
	close(fd);
	memcpy(want + 4096, "written", 7);
	memset(got, 0, LEN);
	cr_assert_eq(fst_read_file("m", got, LEN), LEN);
	cr_assert(!memcmp(got, want, LEN), "data lost after munmap/close");
}

Test(files, fsync_and_fdatasync)
{
	int fd = fst_ok(open("f", O_RDWR | O_CREAT, 0644));

	cr_assert_eq(write(fd, "x", 1), 1);
	fst_ok(fsync(fd));
	fst_ok(fdatasync(fd));
	close(fd);
	fd = fst_ok(open(".", O_RDONLY | O_DIRECTORY));
	fst_ok(fsync(fd));
	close(fd);
	fd = fst_ok(open("f", O_RDONLY));
	fst_ok(fsync(fd));       /* fsync of a read-only fd is allowed */
	fst_ok(syncfs(fd));
	close(fd);
}

static int fst_renameat2(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

Test(files, rename2_noreplace_and_exchange)
{
	char buf[8] = {0};
	struct stat st;

	fst_write_file("a", "A", 1);
	fst_write_file("b", "B", 1);
	fst_assert_err(fst_renameat2("a", "b", RENAME_NOREPLACE), EEXIST);
	fst_ok(fst_renameat2("a", "c", RENAME_NOREPLACE));
	fst_assert_err(stat("a", &st), ENOENT);
	fst_ok(fst_renameat2("b", "c", RENAME_EXCHANGE));
	fst_read_file("c", buf, sizeof(buf));
	cr_assert_str_eq(buf, "B");
	fst_read_file("b", buf, sizeof(buf));
	cr_assert_str_eq(buf, "A");
	fst_assert_err(fst_renameat2("b", "nothere", RENAME_EXCHANGE), ENOENT);
	fst_assert_err(fst_renameat2("b", "c", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	/* Exchange a file and a directory. */
	fst_ok(mkdir("d", 0755));
	fst_write_file("d/in", "", 0);
	fst_ok(fst_renameat2("b", "d", RENAME_EXCHANGE));
	fst_ok(stat("b/in", &st));
	fst_ok(lstat("d", &st));
	cr_assert(S_ISREG(st.st_mode));
}

Test(files, large_unaligned_io)
{
	enum { LEN = 3 * 1024 * 1024 + 123 };
	unsigned char *want = malloc(LEN), *got = malloc(LEN);
	int fd = fst_ok(open("big", O_RDWR | O_CREAT, 0644));

	fst_pattern(want, LEN, 11, 0);
	/* Odd-sized chunks at odd offsets, written out of order. */
	for (size_t off = 0; off < LEN; off += 200003) {
		size_t n = LEN - off < 200003 ? LEN - off : 200003;

		cr_assert_eq(pwrite(fd, want + off, n, (off_t)off), (ssize_t)n);
	}
	cr_assert_eq(pwrite(fd, want + 1, 77, 1), 77);
	close(fd);
	cr_assert_eq(fst_read_file("big", got, LEN), LEN);
	cr_assert(!memcmp(got, want, LEN));
	fd = fst_ok(open("big", O_RDONLY));
	cr_assert_eq(pread(fd, got, 4096, LEN - 100), 100);
	cr_assert(!memcmp(got, want + LEN - 100, 100));
	close(fd);
	free(want);
	free(got);
}

/*
 * Kernel passthrough (the default for a host mount served as root): a file open through
 * the mount reads and maps the host file's own pages, so a write made on the host side
 * shows at once, through an fd opened before it and through a shared mapping. Natively
 * this is the same file. Without passthrough (NOOK_FS_PASSTHROUGH=0 from run_mount.sh:
 * no_passthrough, writeback, flock, or a kernel without it) the mount keeps its own page
 * cache until the attribute timeout ran out, so the test skips there.
 */
Test(files, host_write_seen_at_once_through_open_file)
{
	char host[4096], buf[8];

	if (fst_on_mount()) {
		const char *pt = getenv("NOOK_FS_PASSTHROUGH");

		if (!pt || strcmp(pt, "1"))
			cr_skip_test("the mount caches file data itself without passthrough");
		snprintf(host, sizeof(host), "%s/%s/f", getenv("NOOK_FS_SHARE_SRC"), fst_subdir());
	} else {
		snprintf(host, sizeof(host), "%s/f", fst_dir());
	}
	fst_write_file("f", "oldold", 6);
	int fd = fst_ok(open("f", O_RDWR));
	char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	cr_assert(map != MAP_FAILED, "mmap: %s", strerror(errno));
	cr_assert_eq(pread(fd, buf, 6, 0), 6);
	cr_assert_eq(memcmp(buf, "oldold", 6), 0);
	cr_assert_eq(memcmp(map, "oldold", 6), 0);

	int hfd = fst_ok(open(host, O_WRONLY));

	cr_assert_eq(pwrite(hfd, "newnew", 6, 0), 6);
	close(hfd);
	cr_assert_eq(pread(fd, buf, 6, 0), 6);
	cr_assert_eq(memcmp(buf, "newnew", 6), 0, "read through the open fd is stale: %.6s", buf);
	cr_assert_eq(memcmp(map, "newnew", 6), 0, "shared mapping is stale: %.6s", map);
	/* And the other way: a store through the mapping is the host file's. */
	memcpy(map, "mapmap", 6);
	hfd = fst_ok(open(host, O_RDONLY));
	cr_assert_eq(pread(hfd, buf, 6, 0), 6);
	close(hfd);
	cr_assert_eq(memcmp(buf, "mapmap", 6), 0, "host does not see the mapped store: %.6s", buf);
	munmap(map, 4096);
	close(fd);
}
