/*
 * Seccomp filters per thread kind (vmm/seccomp.c). Each case forks: a filter is for
 * life, and the child leaves by _exit so that LeakSanitizer (which ptraces) never runs
 * under the filter.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/seccomp.h"

/* Child: install kind under mode, then either make one forbidden call or wait. */
static pid_t spawn(enum thread_kind kind, enum seccomp_mode mode, bool forbidden,
		   int *err_fd, int *ready_fd, int *go_fd)
{
	int errp[2], ready[2], go[2];
	struct rlimit no_core = { 0, 0 };

	cr_assert_eq(pipe(errp), 0);
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c = 0;

		/* Only the parent's ends may stay open, or read(go) never sees EOF. */
		close(errp[0]);
		close(ready[0]);
		close(go[1]);
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(errp[1], STDERR_FILENO);
		if (seccomp_set_mode(mode) || seccomp_install(kind))
			_exit(90);
		if (forbidden)
			syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(91);
		_exit(forbidden ? 92 : 0);
	}
	close(errp[1]);
	close(ready[1]);
	close(go[0]);
	*err_fd = errp[0];
	*ready_fd = ready[0];
	*go_fd = go[1];
	return pid;
}

static int finish(pid_t pid, int err_fd, int ready_fd, int go_fd, char *msg, size_t len)
{
	int status;
	ssize_t n;

	close(go_fd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	n = read(err_fd, msg, len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(err_fd);
	close(ready_fd);
	return status;
}

Test(seccomp, parse_mode)
{
	enum seccomp_mode m;
	char err[128];

	cr_assert_eq(seccomp_parse_mode("trap", &m, err, sizeof(err)), 0);
	cr_assert_eq(m, SECCOMP_MODE_TRAP);
	cr_assert_eq(seccomp_parse_mode("off", &m, err, sizeof(err)), 0);
	cr_assert_eq(m, SECCOMP_MODE_OFF);
	cr_assert_eq(seccomp_parse_mode("strict", &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--seccomp strict: expected kill, trap, log or off");
}

/* Every kind: the filter is on (Seccomp: 2) and allowed calls still work. */
Test(seccomp, every_kind_filters_and_runs)
{
	for (int k = 0; k < THREAD_KIND_COUNT; k++) {
		int e, r, g, status;
		char c, path[64], buf[4096], msg[256];
		pid_t pid = spawn((enum thread_kind)k, SECCOMP_MODE_KILL, false, &e, &r, &g);

		cr_assert_eq(read(r, &c, 1), 1, "%s: child did not get ready",
			     seccomp_thread_name((enum thread_kind)k));
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		FILE *f = fopen(path, "r");
		cr_assert(f);
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		cr_assert(strstr(buf, "Seccomp:\t2\n"), "%s: no filter",
			  seccomp_thread_name((enum thread_kind)k));
		status = finish(pid, e, r, g, msg, sizeof(msg));
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x: %s",
			  seccomp_thread_name((enum thread_kind)k), status, msg);
	}
}

/* kill: a forbidden syscall ends the process with SIGSYS. */
Test(seccomp, kill_mode_kills_with_sigsys)
{
	for (int k = 0; k < THREAD_KIND_COUNT; k++) {
		int e, r, g;
		char msg[256];
		pid_t pid = spawn((enum thread_kind)k, SECCOMP_MODE_KILL, true, &e, &r, &g);
		int status = finish(pid, e, r, g, msg, sizeof(msg));

		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: status 0x%x",
			  seccomp_thread_name((enum thread_kind)k), status);
	}
}

/* trap: the SIGSYS handler names the thread kind and the syscall. */
Test(seccomp, trap_mode_names_kind_and_syscall)
{
	for (int k = 0; k < THREAD_KIND_COUNT; k++) {
		int e, r, g;
		char msg[256], want[128];
		pid_t pid = spawn((enum thread_kind)k, SECCOMP_MODE_TRAP, true, &e, &r, &g);
		int status = finish(pid, e, r, g, msg, sizeof(msg));

		snprintf(want, sizeof(want), "nook: seccomp: %s thread made forbidden syscall "
			 "socket (%d)\n", seccomp_thread_name((enum thread_kind)k), SYS_socket);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGSYS,
			  "status 0x%x", status);
		cr_assert_str_eq(msg, want);
	}
}

/* off: no filter at all. */
Test(seccomp, off_mode_installs_nothing)
{
	int e, r, g, status;
	char c, msg[256];
	pid_t pid = spawn(THREAD_VCPU, SECCOMP_MODE_OFF, true, &e, &r, &g);

	cr_assert_eq(read(r, &c, 1), 1);
	status = finish(pid, e, r, g, msg, sizeof(msg));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 92, "status 0x%x", status);
}

/* ---- threads started by seccomp_thread_create ---- */

/* What a started thread does: 0 nothing forbidden, 1 socket(2), 2 a tty ioctl. */
static int thread_action;

static void *thread_body(void *arg)
{
	(void)arg;
	if (thread_action == 1)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (thread_action == 2)
		ioctl(0, TCGETS, NULL);
	return (void *)(long)seccomp_current_kind();
}

/* An fs-worker: a file syscall that a vCPU's list lacks works here. */
static void *thread_open(void *arg)
{
	int fd = open("/proc/self/status", O_RDONLY);

	(void)arg;
	if (fd < 0)
		return (void *)-1L;
	close(fd);
	return (void *)(long)seccomp_current_kind();
}

/* A vCPU-kind thread starting an fs-worker, as a vCPU does at DRIVER_OK. */
static void *thread_vcpu_starts_worker(void *arg)
{
	pthread_t t;
	void *ret = (void *)-2L;

	(void)arg;
	if (seccomp_thread_create(&t, THREAD_FS_WORKER, thread_open, NULL))
		return (void *)-3L;
	pthread_join(t, &ret);
	return ret;
}

/* Runs body in a forked child under mode; returns the child's wait status, stderr in msg. */
static int in_child(enum seccomp_mode mode, int (*body)(void), char *msg, size_t len)
{
	int errp[2], status;
	ssize_t n;
	struct rlimit no_core = { 0, 0 };
	pid_t pid;

	cr_assert_eq(pipe(errp), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(errp[0]);
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(errp[1], STDERR_FILENO);
		if (seccomp_set_mode(mode))
			_exit(90);
		_exit(body());
	}
	close(errp[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	n = read(errp[0], msg, len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(errp[0]);
	return status;
}

static int start_kind;

/* Child: one thread of start_kind, then its result as the exit status. */
static int body_start_one(void)
{
	pthread_t t;
	void *ret;

	if (seccomp_thread_create(&t, (enum thread_kind)start_kind, thread_body, NULL))
		return 91;
	pthread_join(t, &ret);
	return (long)ret == start_kind ? 0 : 92;
}

/* Every kind starts confined, knows its kind; the creator stays unconfined. */
Test(seccomp, thread_create_confines_each_kind)
{
	char msg[256];

	thread_action = 0;
	for (start_kind = 0; start_kind < THREAD_KIND_COUNT; start_kind++) {
		int status = in_child(SECCOMP_MODE_KILL, body_start_one, msg, sizeof(msg));

		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x: %s",
			  seccomp_thread_name((enum thread_kind)start_kind), status, msg);
	}
}

/* kill: a forbidden syscall in a started thread ends the whole process with SIGSYS. */
Test(seccomp, thread_forbidden_syscall_kills_process)
{
	char msg[256];

	thread_action = 1;
	for (start_kind = 0; start_kind < THREAD_KIND_COUNT; start_kind++) {
		int status = in_child(SECCOMP_MODE_KILL, body_start_one, msg, sizeof(msg));

		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: status 0x%x",
			  seccomp_thread_name((enum thread_kind)start_kind), status);
	}
}

/* trap: the report names the started thread's kind and the syscall. */
Test(seccomp, thread_forbidden_syscall_trap_names_kind)
{
	char msg[256], want[128];

	thread_action = 1;
	for (start_kind = 0; start_kind < THREAD_KIND_COUNT; start_kind++) {
		int status = in_child(SECCOMP_MODE_TRAP, body_start_one, msg, sizeof(msg));

		snprintf(want, sizeof(want), "nook: seccomp: %s thread made forbidden syscall "
			 "socket (%d)\n", seccomp_thread_name((enum thread_kind)start_kind),
			 SYS_socket);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGSYS,
			  "status 0x%x", status);
		cr_assert_str_eq(msg, want);
	}
}

/* vCPU threads get KVM_RUN and KVM_GET_REGS, no other ioctl (here a terminal one). */
static int body_vcpu_ioctls(void)
{
	if (seccomp_install(THREAD_VCPU))
		return 91;
	/* Allowed numbers on a bad fd: EBADF, not SIGSYS. */
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		return 92;
	if (ioctl(-1, KVM_GET_REGS, NULL) != -1 || errno != EBADF)
		return 93;
	ioctl(0, TCGETS, NULL);
	return 94;
}

Test(seccomp, vcpu_ioctls_by_number)
{
	char msg[256];
	int status = in_child(SECCOMP_MODE_TRAP, body_vcpu_ioctls, msg, sizeof(msg));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGSYS, "status 0x%x: %s",
		  status, msg);
	cr_assert_str_eq(msg, "nook: seccomp: vcpu thread made forbidden syscall ioctl (16)\n");
}

/* The event loop's terminal ioctls are allowed, a KVM one is not. */
static int body_event_loop_ioctls(void)
{
	if (seccomp_install(THREAD_EVENT_LOOP))
		return 91;
	if (ioctl(-1, TCGETS, NULL) != -1 || errno != EBADF)
		return 92;
	ioctl(-1, KVM_RUN, 0);
	return 93;
}

Test(seccomp, event_loop_ioctls_by_number)
{
	char msg[256];
	int status = in_child(SECCOMP_MODE_TRAP, body_event_loop_ioctls, msg, sizeof(msg));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGSYS, "status 0x%x: %s",
		  status, msg);
	cr_assert_str_eq(msg,
			 "nook: seccomp: event-loop thread made forbidden syscall ioctl (16)\n");
}

/* A confined vCPU thread starts an fs-worker (through the spawner): the worker has its
 * own list, not the intersection with the vCPU's (open works there). */
static int body_vcpu_starts_worker(void)
{
	pthread_t t;
	void *ret;

	if (seccomp_thread_create(&t, THREAD_VCPU, thread_vcpu_starts_worker, NULL))
		return 91;
	pthread_join(t, &ret);
	return (long)ret == THREAD_FS_WORKER ? 0 : 100 + (int)(long)ret;
}

Test(seccomp, confined_thread_starts_other_kind)
{
	char msg[256];
	int status = in_child(SECCOMP_MODE_TRAP, body_vcpu_starts_worker, msg, sizeof(msg));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x: %s", status, msg);
}

/* A vCPU thread cannot create a thread itself (no clone); a server thread can, and its
 * thread inherits its filter. clone3 fails ENOSYS everywhere (glibc falls back). */
static void *thread_nothing(void *arg)
{
	return arg;
}

static int body_worker_pthread(void)
{
	pthread_t t;

	if (seccomp_install(THREAD_FS_WORKER))
		return 91;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 92;
	if (pthread_create(&t, NULL, thread_nothing, NULL))
		return 93;
	pthread_join(t, NULL);
	return 0;
}

static int body_vcpu_pthread(void)
{
	pthread_t t;

	if (seccomp_install(THREAD_VCPU))
		return 91;
	pthread_create(&t, NULL, thread_nothing, NULL);
	return 92;
}

Test(seccomp, thread_creation_per_kind)
{
	char msg[256];
	int status = in_child(SECCOMP_MODE_TRAP, body_worker_pthread, msg, sizeof(msg));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker: 0x%x: %s", status, msg);
	/* (kill: pthread_create blocks every signal around clone, so a trap could not be
	 * reported there anyway; the kernel then kills with SIGSYS) */
	status = in_child(SECCOMP_MODE_KILL, body_vcpu_pthread, msg, sizeof(msg));
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "vcpu: 0x%x", status);
}

/* Mode off: seccomp_thread_create is pthread_create, nothing confined. */
Test(seccomp, thread_create_off_is_plain)
{
	char msg[256];

	thread_action = 0;
	start_kind = THREAD_VCPU;
	int status = in_child(SECCOMP_MODE_OFF, body_start_one, msg, sizeof(msg));

	/* The thread has no kind: body_start_one's check fails with 92. */
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 92, "status 0x%x: %s", status, msg);
}

Test(seccomp, parse_arg_and_env)
{
	char *argv[] = { "serve", "--seccomp", "log", "--seccomp=trap", "--seccomp", "--seccompx",
			 NULL };
	enum seccomp_mode m = SECCOMP_MODE_KILL;
	char err[128];
	int i = 1;

	cr_assert_eq(seccomp_parse_arg(6, argv, &i, &m, err, sizeof(err)), 1);
	cr_assert_eq(i, 2);
	cr_assert_eq(m, SECCOMP_MODE_LOG);
	i = 3;
	cr_assert_eq(seccomp_parse_arg(6, argv, &i, &m, err, sizeof(err)), 1);
	cr_assert_eq(m, SECCOMP_MODE_TRAP);
	i = 4;
	cr_assert_eq(seccomp_parse_arg(5, argv, &i, &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--seccomp needs a value (kill, trap, log or off)");
	i = 5;
	cr_assert_eq(seccomp_parse_arg(6, argv, &i, &m, err, sizeof(err)), 0);

	setenv("NOOK_SECCOMP", "off", 1);
	cr_assert_eq(seccomp_default_mode(SECCOMP_MODE_KILL, &m, err, sizeof(err)), 0);
	cr_assert_eq(m, SECCOMP_MODE_OFF);
	setenv("NOOK_SECCOMP", "loud", 1);
	cr_assert_eq(seccomp_default_mode(SECCOMP_MODE_KILL, &m, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "NOOK_SECCOMP=loud: expected kill, trap, log or off");
	unsetenv("NOOK_SECCOMP");
	cr_assert_eq(seccomp_default_mode(SECCOMP_MODE_KILL, &m, err, sizeof(err)), 0);
	cr_assert_eq(m, SECCOMP_MODE_KILL);
}

/* nook run: --seccomp, default kill. */
Test(seccomp, cli_option)
{
	static struct vm_config cfg;
	char *a1[] = { "run", "--kernel", "/k", NULL };
	char *a2[] = { "run", "--kernel", "/k", "--seccomp=trap", NULL };
	char *a3[] = { "run", "--kernel", "/k", "--seccomp", "never", NULL };
	char err[256];

	unsetenv("NOOK_SECCOMP");
	cr_assert_eq(cli_parse_run(3, a1, &cfg, err, sizeof(err)), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.seccomp, SECCOMP_MODE_KILL);
	cr_assert_eq(cli_parse_run(4, a2, &cfg, err, sizeof(err)), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.seccomp, SECCOMP_MODE_TRAP);
	cr_assert_eq(cli_parse_run(5, a3, &cfg, err, sizeof(err)), CLI_ERROR);
	cr_assert_str_eq(err, "--seccomp never: expected kill, trap, log or off");
}
