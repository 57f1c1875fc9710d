/*
 * The inode table's fd budget (fs/inode.c, max_fds): unreferenced inodes' fds become
 * file handles beyond it, and where the file system has none, a lookup that needs one
 * more fd fails with ENFILE.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_server.h"
#include "fs/handle.h"
#include "fs/inode.h"

#define NFILES 300
#define BUDGET 16

static struct inode *add_at(struct inode_table *t, int dirfd, const char *name)
{
	struct statx stx;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
	cr_assert_eq(statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
			   STATX_BASIC_STATS | STATX_MNT_ID, &stx), 0);
	return inode_add(t, fd, &stx, stx.stx_mnt_id);
}

Test(inode_budget, evicts_to_handles_and_reopens)
{
	char dir[] = "/tmp/nook-budget.XXXXXX", name[32], err[128];
	uint64_t ids[NFILES], inos[NFILES];
	struct inode_table *t;
	int root;

	cr_assert(mkdtemp(dir));
	root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(root, 0);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		close(openat(root, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	}
	t = inode_table_new(dup(root), false, err, sizeof(err));
	cr_assert(t, "%s", err);
	inode_table_set_max_fds(t, BUDGET);
	for (int i = 0; i < NFILES; i++) {
		struct inode *ino;

		snprintf(name, sizeof(name), "f%d", i);
		ino = add_at(t, root, name);
		cr_assert(ino, "add %d: %s", i, strerror(errno));
		ids[i] = ino->nodeid;
		inos[i] = ino->ino;
		inode_put(t, ino);
		cr_assert_leq(inode_fd_count(t), BUDGET, "after %d: %llu fds", i,
			      (unsigned long long)inode_fd_count(t));
	}
	cr_assert_eq(inode_count(t), NFILES + 1);
	/* Every inode still reaches its file, through its fd or its handle. */
	for (int i = 0; i < NFILES; i++) {
		struct inode *ino = inode_get(t, ids[i]);
		struct stat st;
		int fd;

		cr_assert(ino);
		fd = inode_fd(t, ino);
		cr_assert_geq(fd, 0, "inode %d: %s", i, strerror(-fd));
		cr_assert_eq(fstat(fd, &st), 0);
		cr_assert_eq((uint64_t)st.st_ino, inos[i]);
		inode_fd_put(ino, fd);
		inode_put(t, ino);
		cr_assert_leq(inode_fd_count(t), BUDGET);
	}
	inode_table_free(t);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		unlinkat(root, name, 0);
	}
	close(root);
	rmdir(dir);
}

/* procfs has no file handles: past the budget, lookups fail with ENFILE, cleanly. */
Test(inode_budget, enfile_without_handles)
{
	char err[128];
	struct inode_table *t;
	struct dirent *e;
	int root = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC), added = 0, refused = 0;
	DIR *d = opendir("/proc/self");

	cr_assert_geq(root, 0);
	cr_assert(d);
	t = inode_table_new(dup(root), false, err, sizeof(err));
	cr_assert(t, "%s", err);
	inode_table_set_max_fds(t, BUDGET);
	while ((e = readdir(d))) {
		struct inode *ino;

		if (e->d_name[0] == '.')
			continue;
		ino = add_at(t, root, e->d_name);
		if (!ino) {
			cr_assert_eq(errno, ENFILE, "%s: %s", e->d_name, strerror(errno));
			refused++;
			continue;
		}
		added++;
		inode_put(t, ino);
		cr_assert_leq(inode_fd_count(t), BUDGET);
	}
	closedir(d);
	cr_assert_eq(added, BUDGET - 1, "%d added", added);	/* the root holds one */
	cr_assert_gt(refused, 0);
	cr_assert_eq(inode_count(t), (uint64_t)BUDGET);
	inode_table_free(t);
	close(root);
}

Test(inode_budget, default_from_rlimit)
{
	cr_assert_geq(inode_default_max_fds(), 64);
}

Test(inode_budget, max_fds_option)
{
	struct fs_options o;
	char err[128];

	fs_options_init(&o);
	cr_assert_eq(o.max_fds, 0);
	cr_assert_eq(fs_options_parse(&o, "cache=auto,max_fds=1000", err, sizeof(err)), 0);
	cr_assert_eq(o.max_fds, 1000);
	cr_assert_eq(fs_options_parse(&o, "max_fds=3", err, sizeof(err)), -1);
	cr_assert(strstr(err, "bad fd budget"), "%s", err);
}

/* The open-file side: past the bound, handle_add refuses with ENFILE and closes the fd. */
Test(inode_budget, open_handles_bounded)
{
	struct handle_table *t = handle_table_new();
	uint64_t fh[4];
	int fd;

	cr_assert(t);
	handle_table_set_max(t, 4);
	for (int i = 0; i < 4; i++) {
		fh[i] = handle_add(t, open("/dev/null", O_RDONLY | O_CLOEXEC), false, 1, NULL);
		cr_assert_neq(fh[i], 0);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	cr_assert_eq(handle_add(t, fd, false, 1, NULL), 0);
	cr_assert_eq(errno, ENFILE);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the refused fd was not closed");
	cr_assert_eq(handle_remove(t, fh[0], false), 0);
	cr_assert_neq(handle_add(t, open("/dev/null", O_RDONLY | O_CLOEXEC), false, 1, NULL), 0);
	handle_table_free(t);
}
