/*
 * Seccomp filters per thread kind (vmm/seccomp.c). Each case forks: a filter is for
 * life, and the child leaves by _exit so that LeakSanitizer (which ptraces) never runs
 * under the filter.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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
