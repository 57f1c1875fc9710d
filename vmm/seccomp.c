/*
 * Seccomp allow-lists, one table per thread kind (see vmm/seccomp.h).
 *
 * Every list starts from seccomp_base: what any thread of nook needs to run at all,
 * including what the ASan/UBSan runtime of the test build calls (sigaltstack,
 * prlimit64, sched_getaffinity: it is the ASan binary that the unit tests confine, so
 * the base must carry them; they grant nothing beyond the process's own state).
 * Nothing here allows execve, ptrace, mount, socket, bpf, kexec or module loading.
 *
 * Status: the tables are written from the code's syscalls, not yet from strace runs
 * of every suite; no thread installs them yet (see SECURITY.md, "Not defended yet").
 */
#include "vmm/seccomp.h"

#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vmm/err.h"

static const int seccomp_base[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(futex), SCMP_SYS(set_robust_list),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(sched_yield), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(tgkill),
	SCMP_SYS(prlimit64), SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom),
	SCMP_SYS(restart_syscall),
};

/* vCPU: ioctl only on KVM numbers (type 0xAE), checked below; eventfd writes for irqs. */
static const int seccomp_vcpu[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(poll), SCMP_SYS(ppoll),
};

/* Queue threads wait on eventfds and move bytes between guest memory and host fds. */
static const int seccomp_virtq[] = {
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64),
};

/*
 * The passthrough server: *at() calls below the share's O_PATH fds (openat2 with
 * RESOLVE_BENEATH), file handles (name_to_handle_at/open_by_handle_at), per-request
 * credentials (setfs*id), xattrs on fds and /proc/self/fd paths, data copies.
 */
static const int seccomp_fs[] = {
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(newfstatat), SCMP_SYS(fstat),
	SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(getdents64), SCMP_SYS(lseek),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(mkdirat), SCMP_SYS(mknodat),
	SCMP_SYS(unlinkat), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(linkat),
	SCMP_SYS(symlinkat), SCMP_SYS(readlinkat), SCMP_SYS(fchmod), SCMP_SYS(fchmodat),
	SCMP_SYS(fchown), SCMP_SYS(fchownat), SCMP_SYS(utimensat), SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(syncfs),
	SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(flock),
	SCMP_SYS(fgetxattr), SCMP_SYS(fsetxattr), SCMP_SYS(flistxattr),
	SCMP_SYS(fremovexattr), SCMP_SYS(getxattr), SCMP_SYS(setxattr),
	SCMP_SYS(listxattr), SCMP_SYS(removexattr), SCMP_SYS(lgetxattr),
	SCMP_SYS(llistxattr), SCMP_SYS(name_to_handle_at), SCMP_SYS(open_by_handle_at),
	SCMP_SYS(copy_file_range), SCMP_SYS(splice), SCMP_SYS(vmsplice), SCMP_SYS(tee),
	SCMP_SYS(pipe2), SCMP_SYS(setfsuid), SCMP_SYS(setfsgid), SCMP_SYS(setresuid),
	SCMP_SYS(setresgid), SCMP_SYS(setgroups), SCMP_SYS(umask), SCMP_SYS(poll),
	SCMP_SYS(ppoll),
};

static const int seccomp_uring[] = {
	SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
};

static const int seccomp_event_loop[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigtimedwait),
	SCMP_SYS(kill), SCMP_SYS(wait4), SCMP_SYS(ioctl), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
};

#define SECCOMP_LIST(a) { a, sizeof(a) / sizeof((a)[0]) }
struct seccomp_list {
	const int *nr;
	size_t count;
};

/* Per kind: up to two tables added to the base. */
static const struct seccomp_kind {
	const char *name;
	struct seccomp_list lists[2];
} seccomp_kinds[THREAD_KIND_COUNT] = {
	[THREAD_VCPU]       = { "vcpu", { SECCOMP_LIST(seccomp_vcpu) } },
	[THREAD_VIRTQ]      = { "virtqueue", { SECCOMP_LIST(seccomp_virtq) } },
	[THREAD_FS_WORKER]  = { "fs-worker", { SECCOMP_LIST(seccomp_fs) } },
	[THREAD_FUSE_DEV]   = { "fuse-dev", { SECCOMP_LIST(seccomp_fs) } },
	[THREAD_FUSE_URING] = { "fuse-uring",
				{ SECCOMP_LIST(seccomp_fs), SECCOMP_LIST(seccomp_uring) } },
	[THREAD_EVENT_LOOP] = { "event-loop", { SECCOMP_LIST(seccomp_event_loop) } },
};

static enum seccomp_mode seccomp_mode = SECCOMP_MODE_KILL;
static _Thread_local int seccomp_my_kind = -1;

/*
 * Syscall names for the trap handler, resolved when trap mode is chosen: libseccomp's
 * resolver allocates, which a signal handler must not do.
 */
#define SECCOMP_MAX_NR 512
static char *seccomp_names[SECCOMP_MAX_NR];

const char *seccomp_thread_name(enum thread_kind kind)
{
	return (unsigned)kind < THREAD_KIND_COUNT ? seccomp_kinds[kind].name : "unknown";
}

int seccomp_parse_mode(const char *s, enum seccomp_mode *out, char *err, size_t errlen)
{
	static const char *const names[] = { "kill", "trap", "log", "off" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum seccomp_mode)i;
			return 0;
		}
	}
	return err_printf(err, errlen, "--seccomp %s: expected kill, trap, log or off", s);
}

/* Async-signal-safe: write(2) of fixed pieces, then _exit. */
static void seccomp_put(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

static void seccomp_sigsys(int sig, siginfo_t *si, void *uc)
{
	char num[16];
	int nr = si->si_syscall, i = (int)sizeof(num) - 1;

	num[i] = '\0';
	do {
		num[--i] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && i > 0);
	nr = si->si_syscall;
	seccomp_put("nook: seccomp: ");
	seccomp_put(seccomp_thread_name((enum thread_kind)seccomp_my_kind));
	seccomp_put(" thread made forbidden syscall ");
	seccomp_put(nr >= 0 && nr < SECCOMP_MAX_NR && seccomp_names[nr] ? seccomp_names[nr] : "?");
	seccomp_put(" (");
	seccomp_put(num + i);
	seccomp_put(")\n");
	_exit(128 + SIGSYS);
}

int seccomp_set_mode(enum seccomp_mode mode)
{
	seccomp_mode = mode;
	if (mode != SECCOMP_MODE_TRAP)
		return 0;
	for (int nr = 0; nr < SECCOMP_MAX_NR; nr++)
		if (!seccomp_names[nr])
			seccomp_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = seccomp_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

static int seccomp_add_list(scmp_filter_ctx ctx, const int *nr, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr[i], 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int seccomp_install(enum thread_kind kind)
{
	uint32_t deny;
	scmp_filter_ctx ctx;
	int r;

	if ((unsigned)kind >= THREAD_KIND_COUNT)
		return -EINVAL;
	if (seccomp_mode == SECCOMP_MODE_OFF)
		return 0;
	deny = seccomp_mode == SECCOMP_MODE_KILL ? SCMP_ACT_KILL_PROCESS :
	       seccomp_mode == SECCOMP_MODE_TRAP ? SCMP_ACT_TRAP : SCMP_ACT_LOG;
	ctx = seccomp_init(deny);
	if (!ctx)
		return -ENOMEM;
	/* The filter is for this thread only: other kinds install their own. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0);
	if (!r)
		r = seccomp_add_list(ctx, seccomp_base, sizeof(seccomp_base) / sizeof(seccomp_base[0]));
	for (int i = 0; !r && i < 2; i++)
		if (seccomp_kinds[kind].lists[i].nr)
			r = seccomp_add_list(ctx, seccomp_kinds[kind].lists[i].nr,
					     seccomp_kinds[kind].lists[i].count);
	/* vCPU ioctls: KVM's own numbers only (_IOC type 0xAE: KVM_RUN, KVM_GET_REGS...). */
	if (!r && kind == THREAD_VCPU)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8));
	/* /dev/fuse workers: the FUSE device's ioctls only (type 229: backing, clone). */
	if (!r && kind == THREAD_FUSE_DEV)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, 229 << 8));
	if (!r) {
		seccomp_my_kind = (int)kind;
		r = seccomp_load(ctx);	/* sets PR_SET_NO_NEW_PRIVS itself (NNP attr default) */
	}
	seccomp_release(ctx);
	return r;
}
