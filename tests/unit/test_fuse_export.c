/*
 * File handles of a `nook fs serve` mount survive the client forgetting the inode
 * (drop_caches) and a new server (remount), as on ext4 itself (fstests generic/426, 467,
 * 477, 756, 777); stable node ids only where they cannot reach outside the share.
 * Needs root, /dev/fuse, mkfs.ext4 and loop devices: the share must be the root of a
 * file system with 8-byte handles (fs/inode_id.h), so each test makes a small ext4.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_server.h"
#include "fs/inode.h"
#include "fs/inode_id.h"

struct ext4_share {
	char base[32], img[64], src[64], mnt[64];
};

/* base/img: a 32 MiB ext4 image, loop-mounted at base/src; base/mnt for the FUSE mount. */
static void ext4_setup(struct ext4_share *e)
{
	char cmd[512];

	if (access("/dev/fuse", R_OK | W_OK) || geteuid() != 0 ||
	    system("command -v mkfs.ext4 > /dev/null"))
		cr_skip_test("needs root, /dev/fuse and mkfs.ext4");
	snprintf(e->base, sizeof(e->base), "/tmp/nook-export-XXXXXX");
	cr_assert_not_null(mkdtemp(e->base));
	snprintf(e->img, sizeof(e->img), "%s/img", e->base);
	snprintf(e->src, sizeof(e->src), "%s/src", e->base);
	snprintf(e->mnt, sizeof(e->mnt), "%s/mnt", e->base);
	cr_assert_eq(mkdir(e->src, 0755), 0);
	cr_assert_eq(mkdir(e->mnt, 0755), 0);
	snprintf(cmd, sizeof(cmd), "truncate -s 32M %s && mkfs.ext4 -q -F %s && mount -o loop %s %s",
		 e->img, e->img, e->img, e->src);
	if (system(cmd)) {
		rmdir(e->src);
		rmdir(e->mnt);
		rmdir(e->base);
		cr_skip_test("cannot loop-mount an ext4 image");
	}
}

static void ext4_teardown(struct ext4_share *e)
{
	umount2(e->mnt, MNT_DETACH);
	cr_assert_eq(umount(e->src), 0, "%s", strerror(errno));
	unlink(e->img);
	rmdir(e->src);
	rmdir(e->mnt);
	rmdir(e->base);
}

static bool mounted(const char *mnt, const char *parent)
{
	struct stat a, b;

	return !stat(mnt, &a) && !stat(parent, &b) && a.st_dev != b.st_dev;
}

static pid_t serve_start(struct ext4_share *e)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char *argv[] = { "serve", e->src, e->mnt, "-o", "threads=2", NULL };

		_exit(fs_serve_main(5, argv));
	}
	for (int i = 0; i < 250 && !mounted(e->mnt, e->base); i++)
		nanosleep(&pause, NULL);
	cr_assert(mounted(e->mnt, e->base), "mount did not appear");
	return pid;
}

static void serve_stop(struct ext4_share *e, pid_t pid)
{
	int status;

	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_not(mounted(e->mnt, e->base));
}

/* The client forgets every unused inode of the mount (FORGET to the server). */
static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "2", 1), 1);
	close(fd);
}

/* open_by_handle_at through the mount; returns the fd or -errno. */
static int open_handle(const char *mnt, struct file_handle *fh, int flags)
{
	int mfd = open(mnt, O_RDONLY | O_DIRECTORY), fd;

	cr_assert_geq(mfd, 0);
	fd = open_by_handle_at(mfd, fh, flags);
	fd = fd < 0 ? -errno : fd;
	close(mfd);
	return fd;
}

Test(fuse_export, handles_survive_forget_and_remount)
{
	struct ext4_share e;
	char path[128], dpath[128], buf[16] = { 0 };
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	struct file_handle *dh = malloc(sizeof(*dh) + MAX_HANDLE_SZ);
	struct stat st;
	int fd, mnt_id;
	pid_t pid;

	ext4_setup(&e);
	pid = serve_start(&e);
	snprintf(dpath, sizeof(dpath), "%s/dir", e.mnt);
	snprintf(path, sizeof(path), "%s/dir/file", e.mnt);
	cr_assert_eq(mkdir(dpath, 0755), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "handle", 6), 6);
	close(fd);
	fh->handle_bytes = dh->handle_bytes = MAX_HANDLE_SZ;
	cr_assert_eq(name_to_handle_at(AT_FDCWD, path, fh, &mnt_id, 0), 0, "%s", strerror(errno));
	cr_assert_eq(name_to_handle_at(AT_FDCWD, dpath, dh, &mnt_id, 0), 0, "%s", strerror(errno));

	/* After FORGET: the old server said ESTALE here. */
	drop_caches();
	fd = open_handle(e.mnt, fh, O_RDONLY);
	cr_assert_geq(fd, 0, "file handle after drop_caches: %s", strerror(-fd));
	cr_assert_eq(read(fd, buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "handle");
	close(fd);
	fd = open_handle(e.mnt, dh, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0, "directory handle after drop_caches: %s", strerror(-fd));
	close(fd);

	/* A new server (remount) decodes the handles the old one gave. */
	serve_stop(&e, pid);
	pid = serve_start(&e);
	fd = open_handle(e.mnt, fh, O_RDONLY);
	cr_assert_geq(fd, 0, "file handle after remount: %s", strerror(-fd));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 6);
	close(fd);
	fd = open_handle(e.mnt, dh, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0, "directory handle after remount: %s", strerror(-fd));
	close(fd);

	/* A handle of a removed file is stale, as on ext4. */
	cr_assert_eq(unlink(path), 0);
	drop_caches();
	cr_assert_eq(open_handle(e.mnt, fh, O_RDONLY), -ESTALE);
	cr_assert_eq(rmdir(dpath), 0);
	serve_stop(&e, pid);
	ext4_teardown(&e);
	free(fh);
	free(dh);
}

/* Stable ids (and export support) only where a forged id cannot leave the share. */
Test(fuse_export, stable_ids_only_at_a_file_system_root)
{
	struct ext4_share e;
	char sub[96], err[256];
	struct inode_table *t;
	struct statx stx;
	struct inode *ino;
	int fd;

	ext4_setup(&e);
	snprintf(sub, sizeof(sub), "%s/sub", e.src);
	cr_assert_eq(mkdir(sub, 0755), 0);

	/* The file system's root: ids are the host handles and reopen after FORGET. */
	t = inode_table_new(open(e.src, O_PATH | O_DIRECTORY | O_CLOEXEC), false, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cr_assert(inode_table_stable_ids(t));
	cr_assert_null(inode_get(t, INODE_ID_TABLE_BIT | 1), "no second name for the root");
	fd = open(sub, O_PATH | O_CLOEXEC);
	cr_assert_eq(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &stx), 0);
	ino = inode_add(t, fd, &stx, stx.stx_mnt_id);
	cr_assert_not_null(ino);
	uint64_t id = ino->nodeid;

	cr_assert_eq((uint32_t)id, stx.stx_ino, "ext4: the id's low half is the inode number");
	inode_put(t, ino);
	inode_forget(t, id, 1);
	cr_assert_null(inode_get(t, id), "forgotten");
	fd = inode_reopen_id(t, id);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	ino = inode_add(t, fd, &stx, stx.stx_mnt_id);
	cr_assert_eq(ino->nodeid, id, "the same id again");
	inode_put(t, ino);
	/* Ids of objects that do not exist (forged) are stale; so are table ids. */
	cr_assert_eq(inode_reopen_id(t, (uint64_t)12345 << 32 | 999999), -ESTALE);
	cr_assert_eq(inode_reopen_id(t, 0x80000005ull), -ESTALE);
	inode_table_free(t);

	/* A subdirectory as the share: a forged id could name anything on the disk, so
	 * ids stay table ids and export support is not offered. */
	t = inode_table_new(open(sub, O_PATH | O_DIRECTORY | O_CLOEXEC), false, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cr_assert_not(inode_table_stable_ids(t));
	cr_assert_eq(inode_reopen_id(t, id), -ESTALE);
	inode_table_free(t);

	/* The root with a mount on it: what the mount covers is out of reach by name, and
	 * would not be by handle. */
	cr_assert_eq(mount("tmpfs", sub, "tmpfs", 0, "size=1m"), 0, "%s", strerror(errno));
	t = inode_table_new(open(e.src, O_PATH | O_DIRECTORY | O_CLOEXEC), false, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cr_assert_not(inode_table_stable_ids(t));
	inode_table_free(t);
	cr_assert_eq(umount(sub), 0);
	cr_assert_eq(rmdir(sub), 0);
	ext4_teardown(&e);
}
