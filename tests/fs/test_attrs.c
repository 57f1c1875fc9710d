/* Attributes and access control: chmod/chown/utimensat, permissions as nobody,
 * setuid/setgid clearing, xattrs and POSIX ACLs. */
#include "tests/fs/fs_test.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

TestSuite(attrs, .init = fst_setup, .fini = fst_teardown);

Test(attrs, chmod)
{
	struct stat st;

	fst_write_file("f", "x", 1);
	fst_ok(chmod("f", 0640));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_mode & 07777, 0640);
	int fd = fst_ok(open("f", O_RDONLY));

	fst_ok(fchmod(fd, 04711));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_mode & 07777, 04711);
	close(fd);
	fst_ok(mkdir("d", 0700));
	fst_ok(chmod("d", 01777));
	fst_ok(stat("d", &st));
	cr_assert_eq(st.st_mode & 07777, 01777);
	cr_assert(S_ISDIR(st.st_mode));
}

Test(attrs, chown)
{
	struct stat st;

	fst_write_file("f", "x", 1);
	fst_ok(chown("f", 1234, 5678));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_eq(st.st_gid, 5678);
	fst_ok(chown("f", -1, 42));      /* -1 leaves the owner alone */
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_eq(st.st_gid, 42);
	/* lchown changes the link, not its target. */
	fst_ok(symlink("f", "l"));
	fst_ok(lchown("l", 99, 98));
	fst_ok(lstat("l", &st));
	cr_assert_eq(st.st_uid, 99);
	cr_assert_eq(st.st_gid, 98);
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_uid, 1234);
	/* chown clears setuid/setgid of an executable, even for root (Linux >= 2.2.13). */
	fst_ok(chmod("f", 06755));
	fst_ok(chown("f", 1, 1));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_mode & 07777, 0755, "mode %o", st.st_mode & 07777);
}

static int fst_near_now(const struct timespec *t)
{
	time_t now = time(NULL);

	return t->tv_sec >= now - 5 && t->tv_sec <= now + 1;
}

Test(attrs, utimensat_now_and_omit)
{
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1100000000, 500000000 } };
	struct stat st;

	fst_write_file("f", "x", 1);
	fst_ok(utimensat(AT_FDCWD, "f", ts, 0));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_atim.tv_sec, 1000000000);
	cr_assert_eq(st.st_atim.tv_nsec, 123456789);
	cr_assert_eq(st.st_mtim.tv_sec, 1100000000);
	cr_assert_eq(st.st_mtim.tv_nsec, 500000000);
	cr_assert(fst_near_now(&st.st_ctim), "ctime follows the change");
	/* UTIME_OMIT keeps atime, UTIME_NOW sets mtime. */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	fst_ok(utimensat(AT_FDCWD, "f", ts, 0));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_atim.tv_sec, 1000000000);
	cr_assert_eq(st.st_atim.tv_nsec, 123456789);
	cr_assert(fst_near_now(&st.st_mtim), "mtime %ld", (long)st.st_mtim.tv_sec);
	/* And the other way round. */
	ts[0].tv_nsec = UTIME_NOW;
	ts[1] = (struct timespec){ 1200000000, 0 };
	fst_ok(utimensat(AT_FDCWD, "f", ts, 0));
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	fst_ok(utimensat(AT_FDCWD, "f", ts, 0));
	fst_ok(stat("f", &st));
	cr_assert(fst_near_now(&st.st_atim));
	cr_assert_eq(st.st_mtim.tv_sec, 1200000000);
	/* Both omitted: nothing changes, not even ctime. */
	struct stat before = st;

	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	fst_ok(utimensat(AT_FDCWD, "f", ts, 0));
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_assert_eq(st.st_atim.tv_sec, before.st_atim.tv_sec);
	/* AT_SYMLINK_NOFOLLOW sets the link's own times. */
	fst_ok(symlink("f", "l"));
	ts[0] = (struct timespec){ 300000000, 0 };
	ts[1] = (struct timespec){ 400000000, 0 };
	fst_ok(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	fst_ok(lstat("l", &st));
	cr_assert_eq(st.st_mtim.tv_sec, 400000000);
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_mtim.tv_sec, 1200000000);
	/* futimens on an open fd. */
	int fd = fst_ok(open("f", O_RDONLY));

	ts[1] = (struct timespec){ 500000000, 7 };
	fst_ok(futimens(fd, ts));
	fst_ok(fstat(fd, &st));
	cr_assert_eq(st.st_mtim.tv_sec, 500000000);
	cr_assert_eq(st.st_mtim.tv_nsec, 7);
	close(fd);
}

Test(attrs, write_updates_mtime_and_ctime)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat st;

	fst_write_file("f", "x", 1);
	fst_ok(utimensat(AT_FDCWD, "f", ts, 0));
	int fd = fst_ok(open("f", O_WRONLY));

	cr_assert_eq(write(fd, "y", 1), 1);
	close(fd);
	fst_ok(stat("f", &st));
	cr_assert(fst_near_now(&st.st_mtim), "write must update mtime");
	cr_assert(fst_near_now(&st.st_ctim));
	/* Creating an entry updates the directory's mtime. */
	fst_ok(utimensat(AT_FDCWD, ".", ts, 0));
	fst_write_file("g", "", 0);
	fst_ok(stat(".", &st));
	cr_assert(fst_near_now(&st.st_mtim), "create must update the parent's mtime");
}

/* --- permission checks as nobody ------------------------------------------------ */

static int fst_try_open(void *arg)
{
	const char *spec = arg;         /* "r:path" or "w:path" */
	int fd = open(spec + 2, spec[0] == 'r' ? O_RDONLY : O_WRONLY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int fst_try_create(void *arg)
{
	int fd = open(arg, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int fst_try_unlink(void *arg)
{
	return unlink(arg) ? errno : 0;
}

static int fst_try_stat(void *arg)
{
	struct stat st;

	return stat(arg, &st) ? errno : 0;
}

static int fst_try_chmod(void *arg)
{
	return chmod(arg, 0777) ? errno : 0;
}

static int fst_try_touch_now(void *arg)
{
	return utimensat(AT_FDCWD, arg, NULL, 0) ? errno : 0;
}

static int fst_try_touch_set(void *arg)
{
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };

	return utimensat(AT_FDCWD, arg, ts, 0) ? errno : 0;
}

Test(attrs, permissions_as_nobody)
{
	fst_write_file("private", "s", 1);
	fst_ok(chmod("private", 0600));
	fst_write_file("public", "p", 1);
	fst_ok(chmod("public", 0644));
	fst_write_file("shared", "w", 1);
	fst_ok(chmod("shared", 0666));
	fst_ok(mkdir("closed", 0700));
	fst_write_file("closed/f", "", 0);
	fst_ok(mkdir("ro", 0755));
	fst_write_file("ro/f", "", 0);

	cr_assert_eq(fst_as_nobody(fst_try_open, "r:private"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_open, "r:public"), 0, "0644 is readable");
	cr_assert_eq(fst_as_nobody(fst_try_open, "w:public"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_open, "w:shared"), 0);
	cr_assert_eq(fst_as_nobody(fst_try_stat, "closed/f"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_stat, "ro/f"), 0);
	cr_assert_eq(fst_as_nobody(fst_try_create, "ro/new"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_unlink, "ro/f"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_chmod, "public"), EPERM);
	/* Write permission allows setting the times to now, not to a chosen value. */
	cr_assert_eq(fst_as_nobody(fst_try_touch_now, "shared"), 0);
	cr_assert_eq(fst_as_nobody(fst_try_touch_set, "shared"), EPERM);
	cr_assert_eq(fst_as_nobody(fst_try_touch_now, "public"), EACCES);

	/* Sticky world-writable directory: nobody may create, not remove root's files. */
	fst_ok(mkdir("tmp", 01777));
	fst_write_file("tmp/rootfile", "", 0);
	cr_assert_eq(fst_as_nobody(fst_try_create, "tmp/mine"), 0);
	cr_assert_eq(fst_as_nobody(fst_try_unlink, "tmp/rootfile"), EPERM);
	cr_assert_eq(fst_as_nobody(fst_try_unlink, "tmp/mine"), 0);

	/* A file nobody creates belongs to nobody. */
	struct stat st;

	cr_assert_eq(fst_as_nobody(fst_try_create, "tmp/owned"), 0);
	fst_ok(stat("tmp/owned", &st));
	cr_assert_eq(st.st_uid, FST_NOBODY);
	cr_assert_eq(st.st_gid, FST_NOBODY);
}

static int fst_try_access(void *arg)
{
	const char *spec = arg;         /* "r:path", "w:path" or "x:path" */
	int mode = spec[0] == 'r' ? R_OK : spec[0] == 'w' ? W_OK : X_OK;

	return access(spec + 2, mode) ? errno : 0;
}

static int fst_try_chown(void *arg)
{
	return chown(arg, FST_NOBODY, FST_NOBODY) ? errno : 0;
}

Test(attrs, access_and_chown_as_nobody)
{
	fst_write_file("private", "s", 1);
	fst_ok(chmod("private", 0600));
	fst_write_file("public", "p", 1);
	fst_ok(chmod("public", 0644));
	fst_write_file("exe", "#!/bin/sh\n", 10);
	fst_ok(chmod("exe", 0755));
	cr_assert_eq(fst_as_nobody(fst_try_access, "r:private"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_access, "r:public"), 0);
	cr_assert_eq(fst_as_nobody(fst_try_access, "w:public"), EACCES);
	cr_assert_eq(fst_as_nobody(fst_try_access, "x:exe"), 0);
	cr_assert_eq(fst_as_nobody(fst_try_access, "x:public"), EACCES);
	/* Root passes read/write checks always, execute only with some x bit. */
	fst_ok(access("private", R_OK | W_OK));
	fst_assert_err(access("public", X_OK), EACCES);
	fst_ok(access("exe", X_OK));
	/* Giving a file away needs CAP_CHOWN, even to oneself from root's file. */
	cr_assert_eq(fst_as_nobody(fst_try_chown, "public"), EPERM);
	struct stat st;

	fst_ok(stat("public", &st));
	cr_assert_eq(st.st_uid, 0);
}

static int fst_write_as_nobody(void *arg)
{
	int fd = open(arg, O_WRONLY);

	if (fd < 0)
		return errno;
	if (write(fd, "z", 1) != 1)
		return errno;
	close(fd);
	return 0;
}

static int fst_truncate_as_nobody(void *arg)
{
	return truncate(arg, 0) ? errno : 0;
}

Test(attrs, setuid_setgid_cleared_on_write_by_other)
{
	struct stat st;

	fst_write_file("s", "x", 1);
	fst_ok(chmod("s", 06777));
	cr_assert_eq(fst_as_nobody(fst_write_as_nobody, "s"), 0);
	fst_ok(stat("s", &st));
	cr_assert_eq(st.st_mode & 07777, 0777, "mode after write is %o", st.st_mode & 07777);
	cr_assert_eq(st.st_size, 1);

	fst_write_file("t", "xyz", 3);
	fst_ok(chmod("t", 06777));
	cr_assert_eq(fst_as_nobody(fst_truncate_as_nobody, "t"), 0);
	fst_ok(stat("t", &st));
	cr_assert_eq(st.st_mode & 07777, 0777, "mode after truncate is %o", st.st_mode & 07777);
	cr_assert_eq(st.st_size, 0);

	/* The owner (root) writing keeps the bits. */
	fst_write_file("r", "x", 1);
	fst_ok(chmod("r", 06755));
	int fd = fst_ok(open("r", O_WRONLY));

	cr_assert_eq(write(fd, "y", 1), 1);
	close(fd);
	fst_ok(stat("r", &st));
	cr_assert_eq(st.st_mode & 07777, 06755, "mode after root write is %o",
		     st.st_mode & 07777);
}

/*
 * setgid without group-exec: still dropped for a writer outside the file's group
 * (Linux >= 6.2 setattr_should_drop_sgid; mandatory locking is gone).
 * Was a server bug (fixed in fs 1591932): pt_kill_suidgid() kept S_ISGID unless S_IXGRP
 * was set, so the mode stayed 02666 on the mount.
 */
Test(attrs, setgid_without_group_exec_cleared_on_write_by_other)
{
	struct stat st;

	fst_write_file("g", "x", 1);
	fst_ok(chmod("g", 02666));
	cr_assert_eq(fst_as_nobody(fst_write_as_nobody, "g"), 0);
	fst_ok(stat("g", &st));
	cr_assert_eq(st.st_mode & 07777, 0666, "mode after write is %o", st.st_mode & 07777);
}

static int fst_direct_write_as_nobody(void *arg)
{
	static _Alignas(4096) char buf[4096];
	int fd = open(arg, O_WRONLY | O_DIRECT);

	if (fd < 0)
		return errno;
	memset(buf, 'd', sizeof(buf));
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		int err = errno;

		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

/*
 * generic/355: a direct write by another user drops set-id bits, and a stat right after
 * it shows that. Was a server bug: the server dropped them on the host, but the client
 * (its attributes fresh from the chmod) showed the old mode until its attribute timeout;
 * the server now sends FUSE_NOTIFY_INVAL_INODE before the WRITE's reply.
 */
Test(attrs, setuid_setgid_cleared_on_direct_write_by_other)
{
	struct statx stx;
	struct stat st;
	int err;

	/* As generic/355: the writer owns the file (so the open is no permission check
	 * that refreshes attributes) and set-gid has no group-exec. */
	fst_write_file("d", "x", 1);
	fst_ok(chown("d", FST_NOBODY, FST_NOBODY));
	fst_ok(chmod("d", 06644));
	fst_ok(stat("d", &st));          /* the client's attributes are fresh now */
	err = fst_as_nobody(fst_direct_write_as_nobody, "d");
	if (err == EINVAL)
		cr_skip_test("no O_DIRECT on this file system");
	cr_assert_eq(err, 0, "direct write: %s", strerror(err));
	/* Asking for the mode alone, as stat(1) does: the client's write invalidated its
	 * cached size and times, not the mode, so only a fresh mode can come back. */
	fst_ok(statx(AT_FDCWD, "d", 0, STATX_MODE, &stx));
	cr_assert_eq(stx.stx_mode & 07777, 02644, "mode right after a direct write is %o",
		     stx.stx_mode & 07777);
}

static int fst_fallocate_as_nobody(void *arg)
{
	static const int modes[] = { 0, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_ZERO_RANGE };
	const char *name = arg;
	int fd = open(name + 1, O_WRONLY), err;

	if (fd < 0)
		return errno;
	err = fallocate(fd, modes[name[0] - '0'], 0, 4096) ? errno : 0;
	close(fd);
	return err;
}

/*
 * generic/683-685: fallocate, punch-hole and zero-range by another user drop set-id
 * bits, as a write does. Was a server bug: FALLOCATE carries no kill flag and the
 * client (HANDLE_KILLPRIV_V2) leaves it to the server, which did nothing.
 */
Test(attrs, setuid_setgid_cleared_on_fallocate_by_other)
{
	static char names[3][4] = { "0f0", "1f1", "2f2" };
	struct stat st;

	for (int i = 0; i < 3; i++) {
		fst_write_file(names[i] + 1, "0123456789", 10);
		fst_ok(chmod(names[i] + 1, 06777));
		cr_assert_eq(fst_as_nobody(fst_fallocate_as_nobody, names[i]), 0);
		fst_ok(stat(names[i] + 1, &st));
		cr_assert_eq(st.st_mode & 07777, 0777, "mode after fallocate mode #%d is %o", i,
			     st.st_mode & 07777);
	}
}

/* generic/193: chown by root drops set-uid, keeps set-gid without group-exec. */
Test(attrs, chown_by_root_keeps_setgid_without_group_exec)
{
	struct stat st;

	fst_write_file("c", "x", 1);
	fst_ok(chmod("c", 06744));
	fst_ok(chown("c", FST_NOBODY, FST_NOBODY));
	fst_ok(stat("c", &st));
	cr_assert_eq(st.st_mode & 07777, 02744, "mode after chown is %o", st.st_mode & 07777);
}

Test(attrs, setgid_directory_inheritance)
{
	struct stat st;

	fst_ok(mkdir("g", 02775));
	fst_ok(chown("g", 0, 4321));
	fst_ok(chmod("g", 02775));      /* chown cleared nothing on a dir, but be explicit */
	fst_ok(mkdir("g/sub", 0755));
	fst_ok(stat("g/sub", &st));
	cr_assert_eq(st.st_gid, 4321);
	cr_assert(st.st_mode & S_ISGID, "subdirectory inherits setgid");
	fst_write_file("g/f", "", 0);
	fst_ok(stat("g/f", &st));
	cr_assert_eq(st.st_gid, 4321);
	cr_assert(!(st.st_mode & S_ISGID));
}

/* --- extended attributes ---------------------------------------------------------- */

Test(attrs, user_xattrs)
{
	char buf[64];
	ssize_t n;

	fst_write_file("f", "x", 1);
	fst_ok(setxattr("f", "user.color", "blue", 4, 0));
	fst_ok(setxattr("f", "user.empty", "", 0, 0));
	n = getxattr("f", "user.color", NULL, 0);
	cr_assert_eq(n, 4, "size query gave %zd", n);
	fst_assert_err(getxattr("f", "user.color", buf, 3), ERANGE);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(getxattr("f", "user.color", buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "blue");
	cr_assert_eq(getxattr("f", "user.empty", buf, sizeof(buf)), 0);
	fst_assert_err(getxattr("f", "user.none", buf, sizeof(buf)), ENODATA);
	fst_assert_err(setxattr("f", "user.color", "red", 3, XATTR_CREATE), EEXIST);
	fst_assert_err(setxattr("f", "user.none", "red", 3, XATTR_REPLACE), ENODATA);
	fst_ok(setxattr("f", "user.color", "red", 3, XATTR_REPLACE));
	cr_assert_eq(getxattr("f", "user.color", buf, sizeof(buf)), 3);

	/* listxattr: NUL-separated names, ERANGE when short. */
	n = listxattr("f", NULL, 0);
	cr_assert_geq(n, (ssize_t)sizeof("user.color") + (ssize_t)sizeof("user.empty"));
	fst_assert_err(listxattr("f", buf, 5), ERANGE);
	n = listxattr("f", buf, sizeof(buf));
	int color = 0, empty = 0;

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		color |= !strcmp(buf + i, "user.color");
		empty |= !strcmp(buf + i, "user.empty");
	}
	cr_assert(color && empty, "listxattr misses a name");
	fst_ok(removexattr("f", "user.color"));
	fst_assert_err(getxattr("f", "user.color", buf, sizeof(buf)), ENODATA);
	fst_assert_err(removexattr("f", "user.color"), ENODATA);

	/* On a directory and via an fd. */
	fst_ok(mkdir("d", 0755));
	fst_ok(setxattr("d", "user.k", "v", 1, 0));
	int fd = fst_ok(open("d", O_RDONLY | O_DIRECTORY));

	cr_assert_eq(fgetxattr(fd, "user.k", buf, sizeof(buf)), 1);
	close(fd);
	/* user.* xattrs are not allowed on symlinks. */
	fst_ok(symlink("f", "l"));
	fst_assert_err(lsetxattr("l", "user.k", "v", 1, 0), EPERM);
	/* A big value (ext4 keeps up to a block). */
	char big[2000];

	memset(big, 'q', sizeof(big));
	fst_ok(setxattr("f", "user.big", big, sizeof(big), 0));
	char back[2000];

	cr_assert_eq(getxattr("f", "user.big", back, sizeof(back)), (ssize_t)sizeof(back));
	cr_assert(!memcmp(big, back, sizeof(big)));
}

/* --- POSIX ACLs -------------------------------------------------------------------- */

/* The xattr form of an ACL (linux/posix_acl_xattr.h), built by hand. */
struct fst_acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

enum {
	FST_ACL_USER_OBJ = 0x01, FST_ACL_USER = 0x02, FST_ACL_GROUP_OBJ = 0x04,
	FST_ACL_GROUP = 0x08, FST_ACL_MASK = 0x10, FST_ACL_OTHER = 0x20,
};

static size_t fst_acl_blob(void *buf, const struct fst_acl_entry *e, int n)
{
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy((char *)buf + 4, e, sizeof(*e) * (size_t)n);
	return 4 + sizeof(*e) * (size_t)n;
}

static int fst_acl_read(void *arg)
{
	return fst_try_open(arg);
}

/* Through a mount without the posix_acl option, ACL xattrs are refused (EOPNOTSUPP). */
static bool fst_acls_served(void)
{
	const char *o = getenv("NOOK_FS_MOUNT_OPTS");

	return !fst_on_mount() || (o && strstr(o, "posix_acl"));
}

Test(attrs, posix_acl_access)
{
	const struct fst_acl_entry acl[] = {
		{ FST_ACL_USER_OBJ, 6, UINT32_MAX },
		{ FST_ACL_USER, 4, FST_NOBODY },
		{ FST_ACL_GROUP_OBJ, 0, UINT32_MAX },
		{ FST_ACL_MASK, 4, UINT32_MAX },
		{ FST_ACL_OTHER, 0, UINT32_MAX },
	};
	char blob[128], back[128];
	size_t len = fst_acl_blob(blob, acl, 5);
	struct stat st;

	fst_write_file("f", "secret", 6);
	if (!fst_acls_served()) {
		fst_assert_err(setxattr("f", "system.posix_acl_access", blob, len, 0), EOPNOTSUPP);
		return;
	}
	fst_ok(chmod("f", 0600));
	cr_assert_eq(fst_as_nobody(fst_acl_read, "r:f"), EACCES);
	fst_ok(setxattr("f", "system.posix_acl_access", blob, len, 0));
	/* The group bits of the mode now show the mask. */
	fst_ok(stat("f", &st));
	cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
	cr_assert_eq(getxattr("f", "system.posix_acl_access", back, sizeof(back)),
		     (ssize_t)len);
	cr_assert(!memcmp(blob, back, len));
	cr_assert_eq(fst_as_nobody(fst_acl_read, "r:f"), 0, "ACL grants nobody read");
	cr_assert_eq(fst_as_nobody(fst_acl_read, "w:f"), EACCES);
	/* chmod rewrites the mask: group bits 0 -> the named user loses read. */
	fst_ok(chmod("f", 0600));
	cr_assert_eq(fst_as_nobody(fst_acl_read, "r:f"), EACCES, "mask must limit the ACL");
	fst_ok(chmod("f", 0640));
	cr_assert_eq(fst_as_nobody(fst_acl_read, "r:f"), 0);
	fst_ok(removexattr("f", "system.posix_acl_access"));
	cr_assert_eq(fst_as_nobody(fst_acl_read, "r:f"), EACCES);
	/* A malformed ACL is refused: no OTHER entry, then an unknown version. */
	fst_assert_err(setxattr("f", "system.posix_acl_access", blob, len - 8, 0), EINVAL);
	blob[0] = 9;
	fst_assert_err(setxattr("f", "system.posix_acl_access", blob, len, 0), EOPNOTSUPP);
}

static int fst_acl_set_as_nobody(void *arg)
{
	const struct fst_acl_entry acl[] = {
		{ FST_ACL_USER_OBJ, 7, UINT32_MAX },
		{ FST_ACL_GROUP_OBJ, 5, UINT32_MAX },
		{ FST_ACL_OTHER, 5, UINT32_MAX },
	};
	char blob[64];
	size_t len = fst_acl_blob(blob, acl, 3);

	return setxattr(arg, "system.posix_acl_access", blob, len, 0) ? errno : 0;
}

/*
 * generic/375: an ACL set by the owner outside the owning group drops set-gid, on a
 * directory as on a file. Was a server bug: only regular files lost it.
 */
Test(attrs, posix_acl_by_non_member_clears_setgid_on_directory)
{
	struct stat st;

	if (!fst_acls_served())
		return;
	fst_ok(mkdir("d", 0755));
	fst_ok(chown("d", FST_NOBODY, 0));
	fst_ok(chmod("d", 02755));
	cr_assert_eq(fst_as_nobody(fst_acl_set_as_nobody, "d"), 0);
	fst_ok(stat("d", &st));
	cr_assert_eq(st.st_mode & 07777, 0755, "mode %o", st.st_mode & 07777);
}

static int fst_acl_create(void *arg)
{
	return fst_try_create(arg);
}

Test(attrs, posix_acl_default_inherited)
{
	const struct fst_acl_entry acl[] = {
		{ FST_ACL_USER_OBJ, 7, UINT32_MAX },
		{ FST_ACL_USER, 7, FST_NOBODY },
		{ FST_ACL_GROUP_OBJ, 5, UINT32_MAX },
		{ FST_ACL_MASK, 7, UINT32_MAX },
		{ FST_ACL_OTHER, 5, UINT32_MAX },
	};
	char blob[128];
	size_t len = fst_acl_blob(blob, acl, 5);
	struct stat st;

	fst_ok(mkdir("d", 0755));
	if (!fst_acls_served()) {
		fst_assert_err(setxattr("d", "system.posix_acl_default", blob, len, 0), EOPNOTSUPP);
		return;
	}
	fst_ok(setxattr("d", "system.posix_acl_access", blob, len, 0));
	fst_ok(setxattr("d", "system.posix_acl_default", blob, len, 0));
	/* nobody may now create in d thanks to the access ACL ... */
	cr_assert_eq(fst_as_nobody(fst_acl_create, "d/byn"), 0);
	/* ... and root's new file inherits the default ACL (umask is 0 in these tests). */
	fst_write_file("d/f", "", 0);
	ssize_t n = getxattr("d/f", "system.posix_acl_access", NULL, 0);

	cr_assert_gt(n, 0, "new file did not inherit the default ACL: %s", strerror(errno));
	fst_ok(stat("d/f", &st));
	cr_assert_eq(st.st_mode & 0777, 0644, "mode %o (ACL masked by the create mode)",
		     st.st_mode & 0777);
	fst_ok(mkdir("d/sub", 0777));
	cr_assert_gt(getxattr("d/sub", "system.posix_acl_default", NULL, 0), 0);
}
