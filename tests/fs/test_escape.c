/*
 * Escape attempts through a `nook fs serve` mount. They need the host layout:
 *
 *   NOOK_FS_TEST_DIR   the mount point, e.g. T/m/mnt
 *   NOOK_FS_SHARE_SRC  the shared directory, e.g. T/s/src (a different parent!)
 *   NOOK_FS_CANARY     a directory next to it, e.g. T/s/canary, holding a file "victim"
 *
 * Because the mount and the share have different parents, a relative link such as
 * "../../canary" means T/m/canary (absent) when the kernel follows it on the client side,
 * and T/s/canary only if the SERVER follows it. So anything appearing in, or changing
 * under, the canary proves the server resolved a path it must not.
 */
#include "tests/fs/fs_test.h"

#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void fst_escape_setup(void)
{
	if (!fst_on_mount() || !getenv("NOOK_FS_CANARY"))
		cr_skip_test("escape tests need NOOK_FS_SHARE_SRC and NOOK_FS_CANARY (mount run)");
	fst_setup();
}

TestSuite(escape, .init = fst_escape_setup, .fini = fst_teardown);

/* --- canary snapshot: everything but atime of every entry under the canary ---------- */

static char fst_snap[1 << 16];
static size_t fst_snap_len;

static int fst_snap_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char xl[512];
	ssize_t xn = llistxattr(path, xl, sizeof(xl));

	(void)type;
	(void)ftw;
	for (ssize_t i = 0; i < xn; i++)
		if (!xl[i])
			xl[i] = ',';
	fst_snap_len += (size_t)snprintf(fst_snap + fst_snap_len, sizeof(fst_snap) - fst_snap_len,
		"%s %o %u:%u %lld %ld.%ld %ld.%ld %lu [%.*s]\n", path, st->st_mode,
		st->st_uid, st->st_gid, (long long)st->st_size, (long)st->st_mtim.tv_sec,
		st->st_mtim.tv_nsec, (long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec,
		(unsigned long)st->st_nlink, xn > 0 ? (int)xn : 0, xl);
	return fst_snap_len >= sizeof(fst_snap) - 256;
}

/* Returns a malloc'ed description of the canary tree. */
static char *fst_canary_snapshot(void)
{
	fst_snap_len = 0;
	fst_snap[0] = 0;
	cr_assert(nftw(getenv("NOOK_FS_CANARY"), fst_snap_one, 16, FTW_PHYS) == 0,
		  "cannot walk the canary");
	return strdup(fst_snap);
}

static void fst_canary_same(const char *before)
{
	char *after = fst_canary_snapshot();

	cr_assert_str_eq(before, after, "the canary changed:\nbefore:\n%s\nafter:\n%s", before,
			 after);
	free(after);
}

/* Relative target that climbs from the per-test directory (depth levels below it) to
 * the canary's name next to the mount point / share. */
static void fst_up_target(char *buf, size_t len, int depth, const char *tail)
{
	char canary[PATH_MAX];
	size_t off = 0;

	snprintf(canary, sizeof(canary), "%s", getenv("NOOK_FS_CANARY"));
	for (int i = 0; i < depth + 2; i++)
		off += (size_t)snprintf(buf + off, len - off, "../");
	snprintf(buf + off, len - off, "%s%s%s", basename(canary), tail ? "/" : "",
		 tail ? tail : "");
}

/* The client-side meaning of an up-target must not exist, or the test proves nothing. */
static void fst_assert_client_side_absent(const char *target)
{
	struct stat st;

	cr_assert(lstat(target, &st) == -1 && errno == ENOENT,
		  "%s exists next to the mount point: bad test layout", target);
}

Test(escape, dotdot_at_mount_root_stays_on_client)
{
	char path[PATH_MAX], parent[PATH_MAX];
	struct stat a, b;
	char *snap = fst_canary_snapshot();

	snprintf(path, sizeof(path), "%s/..", getenv("NOOK_FS_TEST_DIR"));
	snprintf(parent, sizeof(parent), "%s", getenv("NOOK_FS_TEST_DIR"));
	fst_ok(stat(path, &a));
	fst_ok(stat(dirname(parent), &b));
	cr_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev,
		  "mount/.. must be the mount point's parent");
	/* From inside the share, climbing above its root never reaches the server's parent. */
	char target[PATH_MAX];

	fst_up_target(target, sizeof(target), 0, NULL);
	fst_assert_client_side_absent(target);
	fst_assert_err(open(target, O_RDONLY), ENOENT);
	int root = fst_ok(open(getenv("NOOK_FS_TEST_DIR"), O_RDONLY | O_DIRECTORY));

	char up[PATH_MAX + 16], canary[PATH_MAX];

	snprintf(canary, sizeof(canary), "%s", getenv("NOOK_FS_CANARY"));
	snprintf(up, sizeof(up), "../%s/victim", basename(canary));
	fst_assert_err(openat(root, up, O_RDONLY), ENOENT);
	close(root);
	fst_canary_same(snap);
	free(snap);
}

Test(escape, relative_symlink_climbing_out)
{
	char target[PATH_MAX];
	char *snap = fst_canary_snapshot();

	fst_up_target(target, sizeof(target), 0, NULL);
	fst_assert_client_side_absent(target);
	fst_ok(symlink(target, "up"));
	fst_assert_err(open("up/created", O_WRONLY | O_CREAT, 0644), ENOENT);
	fst_assert_err(mkdir("up/dir", 0755), ENOENT);
	fst_assert_err(mknod("up/fifo", S_IFIFO | 0644, 0), ENOENT);
	fst_assert_err(symlink("x", "up/sym"), ENOENT);
	fst_assert_err(truncate("up/victim", 0), ENOENT);
	fst_assert_err(unlink("up/victim"), ENOENT);
	/* Operations on the link itself are fine and stay inside. */
	fst_ok(lchown("up", 1, 1));
	fst_ok(rename("up", "up2"));
	fst_ok(link("up2", "up3"));
	fst_ok(unlink("up2"));
	fst_canary_same(snap);
	free(snap);
}

Test(escape, absolute_symlink_never_followed_by_server)
{
	char target[PATH_MAX], buf[PATH_MAX];
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	struct stat st;
	char *snap = fst_canary_snapshot();

	snprintf(target, sizeof(target), "%s/victim", getenv("NOOK_FS_CANARY"));
	fst_ok(symlink(target, "abs"));
	cr_assert_eq(readlink("abs", buf, sizeof(buf)), (ssize_t)strlen(target));
	/* Every call below acts on the link, never on its target. */
	fst_ok(lchown("abs", 4242, 4242));
	fst_ok(lstat("abs", &st));
	cr_assert_eq(st.st_uid, 4242);
	fst_ok(utimensat(AT_FDCWD, "abs", ts, AT_SYMLINK_NOFOLLOW));
	fst_ok(lsetxattr("abs", "trusted.nook", "x", 1, 0));
	fst_assert_err(lsetxattr("abs", "user.nook", "x", 1, 0), EPERM);
	cr_assert_eq(fchmodat(AT_FDCWD, "abs", 0777, AT_SYMLINK_NOFOLLOW), -1);
	fst_assert_err(open("abs", O_WRONLY | O_NOFOLLOW | O_CREAT, 0644), ELOOP);
	fst_assert_err(open("abs", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	fst_assert_err(mkdir("abs", 0755), EEXIST);
	fst_assert_err(mknod("abs", S_IFIFO | 0644, 0), EEXIST);
	fst_ok(link("abs", "abs.hard"));
	fst_ok(lstat("abs.hard", &st));
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_eq(st.st_nlink, 2);
	fst_ok(rename("abs.hard", "abs.moved"));
	fst_ok(unlink("abs.moved"));
	int fd = fst_ok(open("abs", O_PATH | O_NOFOLLOW));

	fst_ok(fstat(fd, &st));
	cr_assert(S_ISLNK(st.st_mode));
	close(fd);
	/* A symlink naming a directory outside, used as a parent by path. */
	fst_ok(symlink(getenv("NOOK_FS_CANARY"), "absdir"));
	fst_ok(lchown("absdir", 7, 7));
	fst_ok(unlink("absdir"));
	fst_canary_same(snap);
	free(snap);
}

Test(escape, proc_magic_links)
{
	char buf[PATH_MAX];
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	char *snap = fst_canary_snapshot();
	const char *magic[] = { "/proc/self/cwd", "/proc/self/root", "/proc/self/fd/0",
				"/proc/self/fd/3", "/proc/1/root", "/proc/self/exe" };

	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
		snprintf(buf, sizeof(buf), "m%zu", i);
		fst_ok(symlink(magic[i], buf));
		fst_ok(lchown(buf, 4343, 4343));
		fst_ok(utimensat(AT_FDCWD, buf, ts, AT_SYMLINK_NOFOLLOW));
		fst_ok(lsetxattr(buf, "trusted.nook", "y", 1, 0));
		char back[PATH_MAX];

		cr_assert_eq(readlink(buf, back, sizeof(back)), (ssize_t)strlen(magic[i]));
	}
	/* Through the mount, an fd's magic link re-opens the same inode, nothing else. */
	fst_write_file("f", "inside", 6);
	int fd = fst_ok(open("f", O_RDONLY));
	char path[64], data[16] = {0};

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int again = fst_ok(open(path, O_RDWR));

	cr_assert_eq(pread(again, data, sizeof(data), 0), 6);
	cr_assert_str_eq(data, "inside");
	close(again);
	close(fd);
	fst_canary_same(snap);
	free(snap);
}

/* --- a directory flipped into an escaping symlink on the host, under a busy client ---- */

struct fst_race {
	char host_dir[PATH_MAX];        /* SRC/<test>/race on the host */
	char target[PATH_MAX];          /* relative, resolves to the canary on the host */
	atomic_int stop;
	int flips;
};

static void *fst_flipper(void *arg)
{
	struct fst_race *r = arg;
	char d[PATH_MAX + 8], old[PATH_MAX + 8];

	snprintf(d, sizeof(d), "%s/d", r->host_dir);
	snprintf(old, sizeof(old), "%s/d.old", r->host_dir);
	while (!atomic_load(&r->stop)) {
		if (rename(d, old) == 0) {
			if (symlink(r->target, d) == 0)
				unlink(d);
			rename(old, d);
		}
		r->flips++;
	}
	return NULL;
}

Test(escape, host_dir_flipped_to_symlink_during_creates)
{
	char *snap = fst_canary_snapshot();
	struct fst_race *r = calloc(1, sizeof(*r));
	char name[64];
	pthread_t t;

	snprintf(r->host_dir, sizeof(r->host_dir), "%s/%s/race", getenv("NOOK_FS_SHARE_SRC"),
		 fst_subdir());
	/* From race/d, "../../../canary" is T/s/canary on the host, T/m/canary here. */
	fst_up_target(r->target, sizeof(r->target), 1, NULL);
	fst_ok(mkdir("race", 0755));
	fst_ok(mkdir("race/d", 0755));
	int dfd = fst_ok(open("race/d", O_RDONLY | O_DIRECTORY));

	cr_assert_eq(pthread_create(&t, NULL, fst_flipper, r), 0);
	for (int i = 0; i < 1500; i++) {
		/* By name (the client may follow a flipped link: it then resolves to nothing) */
		snprintf(name, sizeof(name), "race/d/f%d", i);
		int fd = open(name, O_WRONLY | O_CREAT, 0644);

		if (fd >= 0)
			close(fd);
		snprintf(name, sizeof(name), "race/d/s%d", i);
		mkdir(name, 0755);
		/* and through a directory fd bound to the original inode. */
		snprintf(name, sizeof(name), "g%d", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT, 0644);
		if (fd >= 0)
			close(fd);
		snprintf(name, sizeof(name), "l%d", i);
		symlinkat("x", dfd, name);
		snprintf(name, sizeof(name), "p%d", i);
		mknodat(dfd, name, S_IFIFO | 0600, 0);
		if (i % 3 == 0) {
			char to[64];

			snprintf(to, sizeof(to), "r%d", i);
			snprintf(name, sizeof(name), "g%d", i);
			renameat(dfd, name, dfd, to);
		}
	}
	atomic_store(&r->stop, 1);
	pthread_join(t, NULL);
	close(dfd);
	cr_assert_gt(r->flips, 0);
	fst_canary_same(snap);
	free(snap);
	free(r);
}
