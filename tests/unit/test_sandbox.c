/*
 * The process sandbox (vmm/sandbox.c). The namespace cases fork a child that enters the
 * sandbox as nook does (prepare while single-threaded, then enter) and then acts as a
 * compromised thread would: it tries host files, other processes' /proc, the network.
 * They need root (as `make test` does) and are skipped otherwise. Children leave by
 * _exit, so LeakSanitizer never runs inside the sandbox.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/landlock.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp.h"

Test(sandbox, parse_mode_and_arg)
{
	enum sandbox_mode m;
	char err[128], *argv[] = { "serve", "--sandbox", "chroot", "--sandbox=none", "--sandbox",
				   NULL };
	int i = 1;

	cr_assert_eq(sandbox_parse_mode("namespace", &m, err, sizeof(err)), 0);
	cr_assert_eq(m, SANDBOX_NAMESPACE);
	cr_assert_eq(sandbox_parse_mode("jail", &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--sandbox jail: expected namespace, chroot or none");
	cr_assert_eq(sandbox_parse_arg(5, argv, &i, &m, err, sizeof(err)), 1);
	cr_assert_eq(i, 2);
	cr_assert_eq(m, SANDBOX_CHROOT);
	i = 3;
	cr_assert_eq(sandbox_parse_arg(5, argv, &i, &m, err, sizeof(err)), 1);
	cr_assert_eq(m, SANDBOX_NONE);
	i = 4;
	cr_assert_eq(sandbox_parse_arg(5, argv, &i, &m, err, sizeof(err)), -1);
	i = 2;
	cr_assert_eq(sandbox_parse_arg(5, argv, &i, &m, err, sizeof(err)), 0);
}

Test(sandbox, default_from_env)
{
	enum sandbox_mode m;
	char err[128];

	setenv("NOOK_SANDBOX", "none", 1);
	cr_assert_eq(sandbox_default_mode(&m, err, sizeof(err)), 0);
	cr_assert_eq(m, SANDBOX_NONE);
	setenv("NOOK_SANDBOX", "box", 1);
	cr_assert_eq(sandbox_default_mode(&m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "NOOK_SANDBOX=box: expected namespace, chroot or none");
	unsetenv("NOOK_SANDBOX");
	cr_assert_eq(sandbox_default_mode(&m, err, sizeof(err)), 0);
	cr_assert_eq(m, SANDBOX_DEFAULT);
}

/* The capability sets SECURITY.md lists: vCPU, queue and event-loop threads none. */
Test(sandbox, caps_per_kind)
{
	uint64_t server = (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) |
			  (1ULL << CAP_DAC_READ_SEARCH) | (1ULL << CAP_FOWNER) |
			  (1ULL << CAP_FSETID) | (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID) |
			  (1ULL << CAP_MKNOD) | (1ULL << CAP_SETFCAP);

	cr_assert_eq(sandbox_caps(THREAD_VCPU), 0);
	cr_assert_eq(sandbox_caps(THREAD_VIRTQ), 0);
	cr_assert_eq(sandbox_caps(THREAD_EVENT_LOOP), 0);
	cr_assert_eq(sandbox_caps(THREAD_FS_WORKER), server);
	cr_assert_eq(sandbox_caps(THREAD_FUSE_DEV), server | (1ULL << CAP_SYS_ADMIN));
	cr_assert_eq(sandbox_caps(THREAD_FS_SERVE), 1ULL << CAP_SYS_ADMIN);
}

static uint64_t cap_eff(const char *status_path)
{
	char line[256];
	unsigned long long v = ~0ULL;
	FILE *f = fopen(status_path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* What a server thread checks: its capabilities, and (Landlock) that it still reaches
 * the share through its fd and through /proc/self/fd reopening, but no host file. */
struct worker_check {
	uint64_t caps;
	int share, held;	/* share's O_PATH fd; an O_PATH fd of a file on it */
	int fail;		/* the first failed check's code, 0 */
};

static void *worker_caps(void *arg)
{
	struct worker_check *w = arg;
	char path[64];
	int fd;

	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	/* capget, not /proc: Landlock keeps a server thread out of /proc/<tid>. */
	if (!syscall(SYS_capget, &h, d))
		w->caps = d[0].effective | (uint64_t)d[1].effective << 32;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", w->held);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !w->fail)
		w->fail = 18;
	close(fd);
	/* The share's submount is still there, seen through the share's fd. */
	fd = openat(w->share, "sub/f", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !w->fail)
		w->fail = 26;
	close(fd);
	/* Landlock: above the share nothing opens, ".." or not. */
	fd = openat(w->share, "../..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (landlock_enabled() && fd >= 0 && openat(fd, "etc/passwd", O_RDONLY) >= 0 &&
	    !w->fail)
		w->fail = 27;
	close(fd);
	return NULL;
}

/* A share with a mount below it (as a bind mount in a container's rootfs). */
static char share_dir[64];

/* Child body; each failed check exits with its own code. */
static int sandboxed_child(enum sandbox_mode mode)
{
	char err[256], path[128], buf[8];
	struct stat host_net, net;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(80),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	struct worker_check worker = { .caps = 0 };
	pthread_t t;
	DIR *d;
	struct dirent *e;
	int fd, held, n = 0, s;

	if (stat("/proc/self/ns/net", &host_net))
		return 10;
	if (sandbox_prepare(mode, false, err, sizeof(err)))
		return 11;
	/* In the private namespace: a tmpfs with a file, below the share. */
	int share = open(share_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/sub", share_dir);
	if (share < 0 || mount("t", path, "tmpfs", 0, "size=8k") ||
	    snprintf(path, sizeof(path), "%s/sub/f", share_dir) < 0 ||
	    (fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0)
		return 25;
	close(fd);
	/* What set-up would have opened: a file of the share, reopened later through /proc;
	 * the share registered for the server threads' Landlock rules (pt_fs_init). */
	held = open(path, O_PATH | O_CLOEXEC);
	if (held < 0 || landlock_allow_share(share))
		return 28;
	if (seccomp_set_mode(SECCOMP_MODE_OFF))
		return 12;
	if (sandbox_enter(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 13;
	}
	/* The root holds /proc and nothing else (with Landlock this thread, the event
	 * loop, may not even list it). */
	d = opendir("/");
	if (!d && landlock_enabled() && errno == EACCES)
		n = 1;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, ".old"))
			n += strcmp(e->d_name, "proc") ? 100 : 1;
	if (d)
		closedir(d);
	if (n != 1)
		return 14;
	/* No host file, no other process, the root is read-only. */
	if (open("/etc/passwd", O_RDONLY) >= 0 || errno != ENOENT)
		return 15;
	if (open("/proc/1/status", O_RDONLY) >= 0)
		return 16;
	if (open("/x", O_CREAT | O_WRONLY, 0600) >= 0)
		return 17;
	/* Landlock: the event loop reads its own /proc/self, nothing of the share. */
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
		return 19;
	close(fd);
	fd = openat(share, "sub/f", O_RDONLY | O_CLOEXEC);
	if (landlock_enabled() && fd >= 0)
		return 29;
	close(fd);
	worker.share = share;
	worker.held = held;
	/* This thread keeps no capability; a server thread keeps the server's set. */
	if (cap_eff("/proc/self/status") != 0)
		return 20;
	if (seccomp_thread_create(&t, THREAD_FS_WORKER, worker_caps, &worker))
		return 21;
	pthread_join(t, NULL);
	if (worker.fail)
		return worker.fail;
	if (worker.caps != sandbox_caps(THREAD_FS_WORKER))
		return 22;
	if (mode == SANDBOX_NAMESPACE) {
		/* A network namespace of our own, where even loopback is down. */
		if (stat("/proc/self/ns/net", &net) || net.st_ino == host_net.st_ino)
			return 23;
		s = socket(AF_INET, SOCK_STREAM, 0);
		/* (Landlock, ABI 4: no TCP connect at all, refused first.) */
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
		    (errno != ENETUNREACH && !(landlock_enabled() && errno == EACCES)))
			return 24;
		close(s);
	}
	return 0;
}

static void run_child(enum sandbox_mode mode)
{
	char sub[80];
	int status;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root (namespaces, pivot_root)");
	snprintf(share_dir, sizeof(share_dir), "/tmp/nook-sandbox-test.XXXXXX");
	cr_assert(mkdtemp(share_dir));
	snprintf(sub, sizeof(sub), "%s/sub", share_dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(sandboxed_child(mode));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	rmdir(sub);	/* the tmpfs was the child's namespace's only */
	rmdir(share_dir);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}

Test(sandbox, namespace_empty_root_no_host_no_net)
{
	run_child(SANDBOX_NAMESPACE);
}

Test(sandbox, chroot_empty_root)
{
	run_child(SANDBOX_CHROOT);
}

Test(sandbox, none_changes_nothing)
{
	char err[128];

	cr_assert_eq(sandbox_prepare(SANDBOX_NONE, false, err, sizeof(err)), 0);
	cr_assert_eq(sandbox_active(), SANDBOX_NONE);
	cr_assert_eq(sandbox_enter(err, sizeof(err)), 0);
	cr_assert_eq(access("/proc/self/status", R_OK), 0);
}
