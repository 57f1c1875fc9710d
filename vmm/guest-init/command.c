/*
 * Starting the command of the built-in guest init: a vfork child that sets up the
 * session, stdio, user and directory, then execs with the request's PATH.
 *
 * Everything here after vfork() runs in the child, on PID 1's memory while PID 1 is
 * suspended: only system calls, the child's own stack and the spare argv slot are
 * touched, and nothing that PID 1 reads afterwards is changed (errno aside).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "vmm/guest-init/init.h"
#include "vmm/run_proto.h"

_Static_assert(sizeof(gid_t) == sizeof(unsigned int), "request.h stores gids as unsigned int");

/* "nook: WHAT: strerror(err)" on the command's stderr. */
static void __attribute__((sentinel)) child_say(int err, const char *s, ...)
{
	struct line l = { 0 };
	va_list ap;

	add(&l, "nook: ");
	va_start(ap, s);
	add_list(&l, s, ap);
	va_end(ap);
	add(&l, ": ");
	add(&l, error_text(err));
	l.buf[l.len++] = '\n';
	if (write(2, l.buf, l.len) < 0)
		return;
}

/* execve, and a file without "#!" through /bin/sh as execvp(3) does. Returns errno. */
static int try_exec(const struct run_request *r, const char *path)
{
	char **sh = r->argv - 1;	/* the spare slot before argv (request.h) */
	char *argv0 = r->argv[0];

	execve(path, r->argv, r->envp);
	if (errno != ENOEXEC)
		return errno;
	sh[0] = "/bin/sh";
	sh[1] = (char *)path;
	execve(sh[0], sh, r->envp);
	r->argv[0] = argv0;
	return ENOEXEC;
}

/* execvpe with the request's PATH (glibc's would search the init's own environment). */
static int exec_command(const struct run_request *r)
{
	const char *file = r->argv[0], *p = r->search_path;
	size_t flen = strlen(file);
	char path[RUN_REQ_MAX_PATH];
	bool eacces = false;
	int err;

	if (strchr(file, '/'))
		return try_exec(r, file);
	if (flen >= sizeof(path))
		return ENAMETOOLONG;
	for (;;) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);

		if (dlen + 1 + flen < sizeof(path)) {
			memcpy(path, p, dlen);
			if (dlen)	/* an empty entry is the working directory */
				path[dlen++] = '/';
			memcpy(path + dlen, file, flen + 1);
			/* as execvp(3): not there, try the next; anything else is the answer */
			switch ((err = try_exec(r, path))) {
			case EACCES:
				eacces = true;
				break;
			case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT:
				break;
			default:
				return err;
			}
		}
		if (!*end)
			return eacces ? EACCES : ENOENT;
		p = end + 1;
	}
}

/* tty mode: the console port becomes fds 0-2 and the session's controlling terminal. */
static void child_tty(void)
{
	const char *path = tty_path;
	int fd;

	/* Everything closed first, so the open lands on fd 0 and two dup()s finish. */
	close_range(0, ~0U, 0);
	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0) {
		int err = errno;

		path = console_path;
		fd = open(path, O_RDWR | O_NOCTTY);
		if (fd >= 0 && dup(fd) >= 0 && dup(fd) >= 0)
			child_say(err, "cannot open ", tty_path, ", using ", path, NULL);
	} else if (dup(fd) < 0 || dup(fd) < 0) {
		child_say(errno, "cannot dup ", path, NULL);
	}
	/* Becoming the controlling terminal also makes our group its foreground group
	 * (we are the session leader): no tcsetpgrp() needed. */
	if (fd >= 0 && ioctl(0, TIOCSCTTY, 0))
		child_say(errno, "cannot make ", path, " the controlling terminal", NULL);
}

/* An exec'd process: the fds io gives become 0-2; a pty slave also the controlling
 * terminal. */
static void child_io(const struct spawn_io *io)
{
	for (int i = 0; i < 3; i++) {
		if (io->fd[i] != i && dup2(io->fd[i], i) < 0)
			_exit(RUN_EXIT_SETUP);
	}
	close_range(3, ~0U, 0);
	if (io->tty && ioctl(0, TIOCSCTTY, 0))
		child_say(errno, "cannot make the pty the controlling terminal", NULL);
}

/* The process fields: limits first (as root, a hard limit may still be raised), then
 * groups, ids, umask, no_new_privs, the directory. Exits on a failure. */
static void child_process_setup(const struct run_request *r)
{
	for (unsigned int i = 0; i < r->nrlimits; i++) {
		struct rlimit64 rl = { r->rlimits[i].soft, r->rlimits[i].hard };

		if (syscall(SYS_prlimit64, 0, r->rlimits[i].resource, &rl, NULL)) {
			child_say(errno, "cannot set a resource limit", NULL);
			_exit(RUN_EXIT_SETUP);
		}
	}
	/* The init runs as root with no supplementary groups: only a change needs calls.
	 * Raw calls, as glibc's posix_spawn makes them: the wrappers' setxid machinery
	 * (broadcasting to other threads) has no business in a vfork child. */
	/* seccomp: with no_new_privs the last step before exec; without, the kernel wants
	 * CAP_SYS_ADMIN, so it goes in now, while the child is still root with every
	 * capability (runc's order: the profile must then allow the set-up calls). */
	if (!r->no_new_privs && confine_seccomp(r)) {
		child_say(errno, "cannot install the seccomp filter", NULL);
		_exit(RUN_EXIT_SETUP);
	}
	if (confine_caps_before_ids(r)) {
		child_say(errno, "cannot drop the bounding capabilities", NULL);
		_exit(RUN_EXIT_SETUP);
	}
	if (r->uid || r->gid || r->ngroups) {
		if (syscall(SYS_setgroups, (size_t)r->ngroups, r->groups) ||
		    syscall(SYS_setgid, r->gid) || syscall(SYS_setuid, r->uid)) {
			child_say(errno, "cannot switch to the user", NULL);
			_exit(RUN_EXIT_SETUP);
		}
	}
	if (confine_caps_after_ids(r)) {
		child_say(errno, "cannot set the capabilities", NULL);
		_exit(RUN_EXIT_SETUP);
	}
	/* 022 is the kernel's initial umask: no call for it. */
	if (r->umask != 022)
		umask((mode_t)r->umask);
	if (r->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		child_say(errno, "cannot set no_new_privs", NULL);
		_exit(RUN_EXIT_SETUP);
	}
	if (strcmp(r->cwd, "/") && chdir(r->cwd)) {
		child_say(errno, "cannot enter ", r->cwd, NULL);
		_exit(RUN_EXIT_SETUP);
	}
	if (r->no_new_privs && confine_seccomp(r)) {
		child_say(errno, "cannot install the seccomp filter", NULL);
		_exit(RUN_EXIT_SETUP);
	}
}

static void __attribute__((noreturn, noinline)) child_main(const struct run_request *r,
							     const struct spawn_io *io)
{
	const char *argv0 = r->argv[0];
	int err;

	/* Signal mask and dispositions are the kernel's defaults: PID 1 changes neither
	 * before the fork (it blocks signals only around its wait, and unblocks them in
	 * the child, below). Same for the umask (022). */
	setsid();
	if (io)
		child_io(io);
	else if (r->tty)
		child_tty();
	else
		close_range(3, ~0U, 0);
	if (io) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	child_process_setup(r);
	if (!io)
		status_write(RUN_STATUS_MAGIC | RUN_STATUS_EXEC);
	err = exec_command(r);
	child_say(err, argv0, NULL);
	switch (err) {
	case ENOENT: case ENOTDIR:
		_exit(RUN_EXIT_NOTFOUND);
	case EACCES: case ENOEXEC: case EISDIR: case EPERM:
		_exit(RUN_EXIT_NOEXEC);
	default:
		_exit(RUN_EXIT_SETUP);
	}
}

/*
 * vfork: the child shares our memory until it execs (we are suspended meanwhile), so
 * no page tables are copied and no page is copied on write. It only makes system calls
 * and writes the spare argv slot; child_main() never returns here.
 */
pid_t spawn_command(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_main(&req, NULL);
	return pid;
}

pid_t spawn_process(const struct run_request *r, const struct spawn_io *io)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_main(r, io);
	return pid;
}
