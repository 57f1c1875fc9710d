/*
 * Seccomp allow-lists, one table per thread kind (see vmm/seccomp.h).
 *
 * Every list starts from seccomp_base: what any thread of nook needs to run at all,
 * including what the ASan/UBSan runtime of the test build calls (sigaltstack,
 * prlimit64, sched_getaffinity: it is the ASan binary that the unit tests confine, so
 * the base must carry them; they grant nothing beyond the process's own state).
 * Nothing here allows execve, ptrace, mount, socket, bpf, kexec or module loading.
 *
 * The lists were trimmed from runs of every suite under --seccomp=log (the kernel logs
 * each call a list lacks, with the thread's name, "nook-<kind>"): check-boot,
 * check-fs-boot, check-run, check-fuse, check-oci.
 *
 * Filters are compiled once, by seccomp_set_mode() in the unconfined main thread, to
 * BPF programs that seccomp_install() loads with one seccomp(2) call: a thread being
 * confined allocates nothing and needs no libseccomp call that its creator's filter
 * would have to allow.
 */
#include "vmm/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>

/* libseccomp's SCMP_A0/SCMP_A1 leave datum_b out of their compound literal, which clang
 * (the fuzz build) rejects under -Wmissing-field-initializers: name every field. */
#define SECCOMP_ARG(n, cmp, a, b) \
	((struct scmp_arg_cmp){ .arg = (n), .op = (cmp), .datum_a = (a), .datum_b = (b) })
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp_int.h"

/* glibc 2.36+ makes fchmodat(AT_SYMLINK_NOFOLLOW) fchmodat2 on kernels that have it
 * (6.6+); libseccomp 2.5 does not know the name yet. */
#ifdef __NR_fchmodat2
#define SECCOMP_NR_FCHMODAT2 __NR_fchmodat2
#else
#define SECCOMP_NR_FCHMODAT2 452
#endif

static const int seccomp_base[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(sched_yield), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(tgkill),
	SCMP_SYS(prlimit64), SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom),
	SCMP_SYS(restart_syscall),
};

/*
 * vCPU: device register emulation runs here (serial output, eventfd kicks and irqs, a
 * device reset that joins its queue threads and ends the FUSE session). ioctl: only
 * KVM_RUN and KVM_GET_REGS (the RIP in error messages), added in seccomp_build().
 */
static const int seccomp_vcpu[] = {
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* A DAX window exit inside a mapped file completes with pread/pwrite (fs/dax.c). */
	SCMP_SYS(pread64), SCMP_SYS(pwrite64),
};

/* Queue threads wait on eventfds and move bytes between guest memory and host fds. */
static const int seccomp_virtq[] = {
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64),
};

/*
 * The passthrough server: *at() calls below the share's O_PATH fds (openat2 with
 * RESOLVE_BENEATH), file handles (name_to_handle_at/open_by_handle_at), per-request
 * credentials (setfs*id), xattrs on fds and /proc/self/fd paths, data copies. DAX
 * (mmap/munmap with MAP_FIXED into the window: in the base) and the change watchers
 * (inotify, fanotify), which may be set up from a worker at FUSE_INIT, are here too.
 */
static const int seccomp_fs[] = {
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(newfstatat), SCMP_SYS(fstat),
	SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(getdents64), SCMP_SYS(lseek),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(mkdirat), SCMP_SYS(mknodat),
	SCMP_SYS(unlinkat), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(linkat),
	SCMP_SYS(symlinkat), SCMP_SYS(readlinkat), SCMP_SYS(fchmod), SCMP_SYS(fchmodat),
	SECCOMP_NR_FCHMODAT2,
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
	SCMP_SYS(ppoll), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
	SCMP_SYS(fanotify_init), SCMP_SYS(fanotify_mark),
};

static const int seccomp_uring[] = {
	SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register), SCMP_SYS(sched_setaffinity),
};

/* Watchers: read events, reopen what changed by handle, look at it. */
static const int seccomp_watch[] = {
	SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
	SCMP_SYS(fanotify_init), SCMP_SYS(fanotify_mark), SCMP_SYS(open_by_handle_at),
	SCMP_SYS(name_to_handle_at), SCMP_SYS(openat), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(statx), SCMP_SYS(readlinkat), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(fcntl),
};

/*
 * The VM's main thread after set-up: the event loop (console input, signalfd, stop
 * eventfd, timers, the run front end's ports), then the teardown (joins, closes, the
 * memory report from /proc/self, the terminal restored). ioctl: terminal requests only.
 */
static const int seccomp_event_loop[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigtimedwait),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(openat), SCMP_SYS(lseek),
	SCMP_SYS(fcntl), SCMP_SYS(rt_sigpending),	/* virtio_console_flush's SIGPIPE check */
	/* The run control socket (vmm/run_control.c): clients, their frames, the socket
	 * removed at teardown (sockets of new families stay forbidden: no socket()). */
	SCMP_SYS(accept4), SCMP_SYS(setsockopt), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(flock),	/* the version table's last user removes it (fs/vtab.c) */
};

/*
 * `nook fs serve` once mounted: sigwait, then detach the mount and join the workers.
 * Tearing the session down closes the kernel passthrough backing ids still registered
 * (ioctl on /dev/fuse: SECCOMP_X_FUSE), and freeing what the workers allocated lets
 * glibc shrink their arenas, which reads /proc/sys/vm/overcommit_memory once
 * (SECCOMP_X_RDONLY: openat read-only; this thread reads no guest or kernel data).
 */
static const int seccomp_fs_serve[] = {
	SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigaction), SCMP_SYS(umount2),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(flock), SCMP_SYS(unlinkat),	/* the version table's last user (fs/vtab.c) */
};

static const unsigned long seccomp_tty_ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
};

#define SECCOMP_LIST(a) { a, sizeof(a) / sizeof((a)[0]) }
struct seccomp_list {
	const int *nr;
	size_t count;
};

/* Per kind: up to two tables added to the base, and the special rules it gets. */
enum {
	SECCOMP_X_KVM = 1,	/* ioctl KVM_RUN, KVM_GET_REGS */
	SECCOMP_X_FUSE = 2,	/* ioctl on /dev/fuse (type 229: backing ids, clone) */
	SECCOMP_X_TTY = 4,	/* terminal ioctls */
	SECCOMP_X_THREADS = 8,	/* clone of a thread (CLONE_THREAD), which inherits this filter */
	SECCOMP_X_FS = 16,	/* unshare(CLONE_FS): a server thread's own umask */
	SECCOMP_X_WAKE = 32,	/* kill(own pid, SIGUSR1): a /dev/fuse worker wakes sigwait() */
	SECCOMP_X_RDONLY = 64,	/* openat(..., O_RDONLY|O_CLOEXEC) only */
};

static const struct seccomp_kind {
	const char *name;
	struct seccomp_list lists[2];
	unsigned extra;
} seccomp_kinds[THREAD_KIND_COUNT] = {
	[THREAD_VCPU]       = { "vcpu", { SECCOMP_LIST(seccomp_vcpu) }, SECCOMP_X_KVM },
	[THREAD_VIRTQ]      = { "virtqueue", { SECCOMP_LIST(seccomp_virtq) }, 0 },
	[THREAD_FS_WORKER]  = { "fs-worker", { SECCOMP_LIST(seccomp_fs) },
				SECCOMP_X_THREADS | SECCOMP_X_FS },
	[THREAD_FUSE_DEV]   = { "fuse-dev", { SECCOMP_LIST(seccomp_fs) },
				SECCOMP_X_FUSE | SECCOMP_X_THREADS | SECCOMP_X_FS | SECCOMP_X_WAKE },
	[THREAD_FUSE_URING] = { "fuse-uring",
				{ SECCOMP_LIST(seccomp_fs), SECCOMP_LIST(seccomp_uring) },
				SECCOMP_X_FUSE | SECCOMP_X_THREADS | SECCOMP_X_FS | SECCOMP_X_WAKE },
	[THREAD_EVENT_LOOP] = { "event-loop", { SECCOMP_LIST(seccomp_event_loop) },
				SECCOMP_X_TTY },
	[THREAD_FS_WATCH]   = { "fs-watch", { SECCOMP_LIST(seccomp_watch) }, SECCOMP_X_THREADS },
	[THREAD_FS_SERVE]   = { "fs-serve", { SECCOMP_LIST(seccomp_fs_serve) },
				SECCOMP_X_FUSE | SECCOMP_X_RDONLY },
};

static enum seccomp_mode seccomp_mode = SECCOMP_MODE_OFF;
static _Thread_local int seccomp_my_kind = -1;

/* The compiled programs: one per kind, and the spawner's (SECCOMP_SPAWNER). */
static struct sock_fprog seccomp_progs[SECCOMP_SPAWNER + 1];

/*
 * Syscall names for the trap handler, resolved when trap mode is chosen: libseccomp's
 * resolver allocates, which a signal handler must not do.
 */
#define SECCOMP_MAX_NR 512
static char *seccomp_names[SECCOMP_MAX_NR];

const char *seccomp_thread_name(enum thread_kind kind)
{
	if ((int)kind == SECCOMP_SPAWNER)
		return "spawner";
	return (unsigned)kind < THREAD_KIND_COUNT ? seccomp_kinds[kind].name : "unknown";
}

int seccomp_current_kind(void)
{
	return seccomp_my_kind;
}

enum seccomp_mode seccomp_get_mode(void)
{
	return seccomp_mode;
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

int seccomp_default_mode(enum seccomp_mode def, enum seccomp_mode *out, char *err,
			 size_t errlen)
{
	const char *env = getenv("NOOK_SECCOMP");

	*out = def;
	if (!env || !*env)
		return 0;
	if (seccomp_parse_mode(env, out, NULL, 0))
		return err_printf(err, errlen, "NOOK_SECCOMP=%s: expected kill, trap, log or off",
				  env);
	return 0;
}

int seccomp_parse_arg(int argc, char **argv, int *i, enum seccomp_mode *out, char *err,
		      size_t errlen)
{
	const char *a = argv[*i];

	if (strncmp(a, "--seccomp", 9) || (a[9] && a[9] != '='))
		return 0;
	if (!a[9]) {
		if (*i + 1 >= argc)
			return err_printf(err, errlen, "--seccomp needs a value (kill, trap, log or off)");
		a = argv[++*i];
	} else {
		a += 10;
	}
	return seccomp_parse_mode(a, out, err, errlen) ? -1 : 1;
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

static int seccomp_add_list(scmp_filter_ctx ctx, const int *nr, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr[i], 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int seccomp_add_extra(scmp_filter_ctx ctx, unsigned extra)
{
	int r = 0;

	if (extra & SECCOMP_X_KVM) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SECCOMP_ARG(1, SCMP_CMP_EQ, KVM_RUN, 0));
		if (!r)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					     SECCOMP_ARG(1, SCMP_CMP_EQ, KVM_GET_REGS, 0));
	}
	/* The FUSE device's own ioctl type (FUSE_DEV_IOC_MAGIC 229). */
	if (!r && (extra & SECCOMP_X_FUSE))
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SECCOMP_ARG(1, SCMP_CMP_MASKED_EQ, 0xff00, 229 << 8));
	for (size_t i = 0; !r && (extra & SECCOMP_X_TTY) &&
	     i < sizeof(seccomp_tty_ioctls) / sizeof(seccomp_tty_ioctls[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SECCOMP_ARG(1, SCMP_CMP_EQ, seccomp_tty_ioctls[i], 0));
	/* Threads only (pthread_create), never a new process. */
	if (!r && (extra & SECCOMP_X_THREADS))
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SECCOMP_ARG(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (!r && (extra & SECCOMP_X_FS))
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, CLONE_FS, 0));
	/* The pid is the one of the process compiling the filters: nook itself. */
	if (!r && (extra & SECCOMP_X_WAKE))
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 2,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0),
				     SECCOMP_ARG(1, SCMP_CMP_EQ, SIGUSR1, 0));
	if (!r && (extra & SECCOMP_X_RDONLY))
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SECCOMP_ARG(2, SCMP_CMP_EQ, O_RDONLY | O_CLOEXEC, 0));
	return r;
}

/*
 * The spawner creates threads of every kind, which inherit its filter and then narrow
 * it with their own: its list is the union of all lists, plus what a thread needs to
 * confine itself (PR_SET_NAME, PR_SET_NO_NEW_PRIVS, seccomp(SET_MODE_FILTER), and
 * dropping capabilities: capget, capset, PR_CAPBSET_DROP, PR_CAP_AMBIENT).
 */
static int seccomp_add_spawner(scmp_filter_ctx ctx)
{
	int r = 0;

	for (int k = 0; !r && k < THREAD_KIND_COUNT; k++) {
		for (int i = 0; !r && i < 2; i++)
			if (seccomp_kinds[k].lists[i].nr)
				r = seccomp_add_list(ctx, seccomp_kinds[k].lists[i].nr,
						     seccomp_kinds[k].lists[i].count);
	}
	if (!r)
		r = seccomp_add_extra(ctx, SECCOMP_X_KVM | SECCOMP_X_FUSE | SECCOMP_X_TTY |
				      SECCOMP_X_THREADS | SECCOMP_X_FS | SECCOMP_X_WAKE);
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, PR_SET_NAME, 0));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS, 0));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 1,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER, 0));
	/* sandbox_thread(): a child drops to its kind's capabilities first. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, PR_CAPBSET_DROP, 0));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SECCOMP_ARG(0, SCMP_CMP_EQ, PR_CAP_AMBIENT, 0));
	if (!r)
		r = seccomp_add_list(ctx, (const int[]){ SCMP_SYS(capget), SCMP_SYS(capset) }, 2);
	/* landlock_restrict(): a child builds its ruleset and restricts itself (the calls
	 * only ever narrow the caller). By number: older libseccomp lacks the names. */
	if (!r)
		r = seccomp_add_list(ctx, (const int[]){ 444, 445, 446 }, 3);
	return r;
}

/* Compiles kind's filter (or the spawner's) into seccomp_progs[kind]. 0 or -errno. */
static int seccomp_build(int kind, uint32_t deny)
{
	scmp_filter_ctx ctx = seccomp_init(deny);
	struct sock_filter *insns = NULL;
	int r, fd = -1;
	off_t len;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0);	/* this thread only */
	if (!r)
		r = seccomp_add_list(ctx, seccomp_base, sizeof(seccomp_base) / sizeof(seccomp_base[0]));
	/*
	 * glibc's pthread_create tries clone3 first, whose flags a filter cannot see: make
	 * it fail ENOSYS everywhere so glibc falls back to clone, whose flags the rule
	 * above checks (and which a kind without SECCOMP_X_THREADS does not get).
	 */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!r && kind == SECCOMP_SPAWNER) {
		r = seccomp_add_spawner(ctx);
	} else {
		for (int i = 0; !r && i < 2; i++)
			if (seccomp_kinds[kind].lists[i].nr)
				r = seccomp_add_list(ctx, seccomp_kinds[kind].lists[i].nr,
						     seccomp_kinds[kind].lists[i].count);
		if (!r)
			r = seccomp_add_extra(ctx, seccomp_kinds[kind].extra);
	}
	/* The program, as the kernel takes it: export to a memfd and read it back. */
	if (!r) {
		fd = memfd_create("nook-seccomp", MFD_CLOEXEC);
		r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	}
	if (!r) {
		len = lseek(fd, 0, SEEK_END);
		insns = len > 0 && len % sizeof(*insns) == 0 ? malloc((size_t)len) : NULL;
		if (!insns || pread(fd, insns, (size_t)len, 0) != len) {
			r = -EIO;
		} else {
			free(seccomp_progs[kind].filter);
			seccomp_progs[kind].filter = insns;
			seccomp_progs[kind].len = (unsigned short)(len / sizeof(*insns));
			insns = NULL;
		}
	}
	free(insns);
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return r;
}

int seccomp_set_mode(enum seccomp_mode mode)
{
	uint32_t deny;
	int r = 0;

	seccomp_mode = mode;
	if (mode == SECCOMP_MODE_OFF)
		return sandbox_active() == SANDBOX_NONE ? 0 : seccomp_spawner_start();
	deny = mode == SECCOMP_MODE_KILL ? SCMP_ACT_KILL_PROCESS :
	       mode == SECCOMP_MODE_TRAP ? SCMP_ACT_TRAP : SCMP_ACT_LOG;
	for (int k = 0; !r && k <= SECCOMP_SPAWNER; k++)
		r = seccomp_build(k, deny);
	if (r)
		return r;
	if (mode == SECCOMP_MODE_TRAP) {
		struct sigaction sa;

		for (int nr = 0; nr < SECCOMP_MAX_NR; nr++)
			if (!seccomp_names[nr])
				seccomp_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = seccomp_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL))
			return -errno;
	}
	return seccomp_spawner_start();
}

int seccomp_install_any(int kind)
{
	if (kind < 0 || kind > SECCOMP_SPAWNER)
		return -EINVAL;
	/* Known even unfiltered: seccomp_thread_create then uses the spawner, which keeps
	 * the capabilities a sandboxed thread of this kind may have dropped. */
	seccomp_my_kind = kind;
	if (seccomp_mode == SECCOMP_MODE_OFF)
		return 0;
	if (!seccomp_progs[kind].filter)
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/* Known before the filter is on: the trap reporter reads it. */
	seccomp_my_kind = kind;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &seccomp_progs[kind])) {
		seccomp_my_kind = -1;
		return -errno;
	}
	return 0;
}

int seccomp_install(enum thread_kind kind)
{
	if ((unsigned)kind >= THREAD_KIND_COUNT)
		return -EINVAL;
	return seccomp_install_any((int)kind);
}
