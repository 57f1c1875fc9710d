/*
 * Landlock per thread kind (vmm/landlock.c). A thread restricted as a file-server kind
 * acts as a compromised server would: raw syscalls on the share's fd, absolute paths,
 * file handles of host files, TCP. The restriction is per thread, so each case runs in
 * a thread of its own and the test's main thread (ASan's exit, Criterion) stays free.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vmm/landlock.h"

struct ll_env {
	char top[64];		/* a directory holding the share and a host file beside it */
	int share;		/* O_PATH fd of top/share */
	int mount_fd;		/* a real open of top, for open_by_handle_at */
	struct file_handle *outside_fh, *inside_fh;
	int kind;
	int fails;
	char why[256];
};

static void ll_setup(struct ll_env *e, int kind)
{
	char p[128];
	int mnt;

	if (!landlock_abi())
		cr_skip_test("no Landlock in this kernel");
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->top, sizeof(e->top), "/tmp/nook-ll.XXXXXX");
	cr_assert_not_null(mkdtemp(e->top));
	snprintf(p, sizeof(p), "%s/share", e->top);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/share/a", e->top);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/share/b", e->top);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/share/a/f", e->top);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	e->inside_fh = malloc(sizeof(struct file_handle) + 128);
	e->inside_fh->handle_bytes = 128;
	cr_assert_eq(name_to_handle_at(AT_FDCWD, p, e->inside_fh, &mnt, 0), 0);
	snprintf(p, sizeof(p), "%s/host-secret", e->top);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	e->outside_fh = malloc(sizeof(struct file_handle) + 128);
	e->outside_fh->handle_bytes = 128;
	cr_assert_eq(name_to_handle_at(AT_FDCWD, p, e->outside_fh, &mnt, 0), 0);
	snprintf(p, sizeof(p), "%s/share", e->top);
	e->share = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	e->mount_fd = open(e->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert(e->share >= 0 && e->mount_fd >= 0);
	cr_assert_gt(landlock_enable(), 0);
	cr_assert_eq(landlock_allow_share(e->share), 0);
}

#define LL_EXPECT(e, cond) do { \
	if (!(cond) && !(e)->fails++) \
		snprintf((e)->why, sizeof((e)->why), "line %d: %s (errno %s)", __LINE__, #cond, \
			 strerror(errno)); \
} while (0)

/* A compromised fs-worker: what it must still do beneath the share, and what not. */
static void *ll_server(void *p)
{
	struct ll_env *e = p;
	int fd, up, r;

	LL_EXPECT(e, landlock_restrict(e->kind) == 0);
	/* Beneath the share: read/write, create, rename across directories, xattrs,
	 * handles, reopening through /proc/self/fd. */
	fd = openat(e->share, "a/f", O_RDWR);
	LL_EXPECT(e, fd >= 0);
	close(fd);
	fd = openat(e->share, "a/new", O_CREAT | O_RDWR, 0644);
	LL_EXPECT(e, fd >= 0);
	r = fd >= 0 ? fsetxattr(fd, "user.nook", "1", 1, 0) : -1;
	LL_EXPECT(e, r == 0 || errno == ENOTSUP);
	close(fd);
	LL_EXPECT(e, renameat(e->share, "a/new", e->share, "b/moved") == 0);
	LL_EXPECT(e, unlinkat(e->share, "b/moved", 0) == 0);
	fd = open_by_handle_at(e->mount_fd, e->inside_fh, O_RDONLY);
	LL_EXPECT(e, fd >= 0 || errno == EPERM);	/* EPERM: not root */
	close(fd);
	fd = openat(e->share, "a/f", O_PATH);
	if (fd >= 0) {
		char proc[64];
		int re;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		re = open(proc, O_RDONLY);
		LL_EXPECT(e, re >= 0);
		close(re);
		close(fd);
	}
	/* Above it: "..", absolute paths, a host file's handle, TCP. */
	up = openat(e->share, "..", O_PATH | O_DIRECTORY);	/* O_PATH is not checked */
	fd = up >= 0 ? openat(up, "host-secret", O_RDONLY) : -1;
	LL_EXPECT(e, fd < 0 && errno == EACCES);
	fd = up >= 0 ? openat(up, "host-new", O_CREAT | O_WRONLY, 0600) : -1;
	LL_EXPECT(e, fd < 0 && errno == EACCES);
	LL_EXPECT(e, up < 0 || renameat(up, "host-secret", e->share, "a/stolen") < 0);
	close(up);
	fd = open("/etc/passwd", O_RDONLY);
	LL_EXPECT(e, fd < 0 && errno == EACCES);
	fd = open_by_handle_at(e->mount_fd, e->outside_fh, O_RDONLY);
	LL_EXPECT(e, fd < 0 && (errno == EACCES || errno == EPERM));
	if (landlock_abi() >= 4) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		r = s >= 0 ? connect(s, (struct sockaddr *)&sa, sizeof(sa)) : 0;
		LL_EXPECT(e, s >= 0 && r < 0 && errno == EACCES);
		close(s);
	}
	return NULL;
}

/* A kind without rules (vCPU): nothing at all, not even inside the share. */
static void *ll_nothing(void *p)
{
	struct ll_env *e = p;
	int fd;

	LL_EXPECT(e, landlock_restrict(e->kind) == 0);
	fd = openat(e->share, "a/f", O_RDONLY);
	LL_EXPECT(e, fd < 0 && errno == EACCES);
	fd = open("/proc/self/status", O_RDONLY);
	LL_EXPECT(e, fd < 0 && errno == EACCES);
	return NULL;
}

static void ll_run(struct ll_env *e, void *(*fn)(void *))
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, fn, e), 0);
	pthread_join(t, NULL);
	cr_expect_eq(e->fails, 0, "%d failed, first %s", e->fails, e->why);
	/* The unrestricted main thread cleans up. */
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->top);
	cr_expect_eq(system(cmd), 0);
	close(e->share);
	close(e->mount_fd);
	free(e->inside_fh);
	free(e->outside_fh);
}

Test(landlock, server_kinds_stay_beneath_the_share)
{
	static const int kinds[] = { THREAD_FS_WORKER, THREAD_FUSE_DEV, THREAD_FUSE_URING };
	struct ll_env e;

	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		ll_setup(&e, kinds[i]);
		ll_run(&e, ll_server);
	}
}

Test(landlock, vcpu_opens_nothing)
{
	struct ll_env e;

	ll_setup(&e, THREAD_VCPU);
	ll_run(&e, ll_nothing);
}

Test(landlock, off_by_env)
{
	setenv("NOOK_LANDLOCK", "off", 1);
	cr_assert_eq(landlock_enable(), 0);
	cr_assert(!landlock_enabled());
	cr_assert_eq(landlock_restrict(THREAD_VCPU), 0);
}
