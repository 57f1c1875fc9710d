// SPDX-License-Identifier: MIT
/*
 * nook guest self-test init (static, glibc): exercises the syscall paths that the
 * guest kernel's syscall-from-page-fault emulation (patch 0001) must get right:
 * fork + wait, exit status, signal delivery and sigreturn, and automatic restart of a
 * blocking read interrupted by a SA_RESTART signal (regs->ip - 2 must be the SYSCALL).
 * Prints "nook-selftest: PASS" or "nook-selftest: FAIL <what>", then reboots.
 * Built into build/guest/initramfs-selftest.cpio (bigger than the tiny init, so only
 * used by the self-test boot).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/mount.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1;
static volatile sig_atomic_t got_alarm;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	got_alarm++;
}

static int fail(const char *what)
{
	printf("nook-selftest: FAIL %s (errno %d)\n", what, errno);
	fflush(stdout);
	reboot(RB_AUTOBOOT);
	return 1;
}

int main(void)
{
	struct sigaction sa;
	int pfd[2], status;
	char c = 0;
	pid_t pid;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("nook-selftest: start, pid %d\n", (int)getpid());

	/* fork + exit status */
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0)
		_exit(42);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 42)
		return fail("fork/wait status");
	printf("nook-selftest: fork ok\n");

	/* signal delivery + sigreturn */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) || kill(getpid(), SIGUSR1) || !got_usr1)
		return fail("signal delivery");
	printf("nook-selftest: signal ok\n");

	/* blocking read interrupted by SA_RESTART signals must restart transparently */
	if (pipe(pfd))
		return fail("pipe");
	pid = fork();
	if (pid < 0)
		return fail("fork 2");
	if (pid == 0) {
		usleep(800 * 1000);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 100 * 1000 }, { 0, 100 * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	ssize_t n = read(pfd[0], &c, 1);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	if (n != 1 || c != 'x')
		return fail("restarted read");
	if (!got_alarm)
		return fail("no SIGALRM during read");
	waitpid(pid, &status, 0);
	printf("nook-selftest: restart ok (%d signals during read)\n", (int)got_alarm);

	printf("nook-selftest: PASS\n");
	reboot(RB_AUTOBOOT);
	return 0;
}
