/*
 * nook-oci exec: a process inside the VM. This process (or, with --detach, its child,
 * conmon's to reap) is the host proxy: its pid goes to --pid-file, it asks the VMM over
 * ROOT/ID/ctl.sock to start process.json's process in the guest, relays stdin and the
 * output (or a pty sent over --console-socket), forwards the signals it gets (podman
 * signals the pid in the pid file) and the window size, and exits with the process's
 * status. The VMM kills the guest process when this proxy goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/oci/oci_cmd.h"
#include "vmm/oci/oci_ctl.h"
#include "vmm/oci/oci_exec_args.h"
#include "vmm/oci/oci_process.h"
#include "vmm/oci/oci_state.h"

#define EXEC_ID 1	/* the client's id of its one exec (vmm/run_control.h) */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static char *read_small_file(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s%s: %s", what, path, strerror(errno));
		return NULL;
	}
	buf = malloc(1 << 20);
	n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!buf || n == (1 << 20) - 1) {
		free(buf);
		snprintf(err, errlen, "%s%s: unreadable or larger than 1 MiB", what, path);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static void send_size(int ctl, int tty)
{
	struct winsize ws;
	uint8_t p[4];

	if (tty < 0 || ioctl(tty, TIOCGWINSZ, &ws) || !ws.ws_row || !ws.ws_col)
		return;
	p[0] = (uint8_t)ws.ws_row;
	p[1] = (uint8_t)(ws.ws_row >> 8);
	p[2] = (uint8_t)ws.ws_col;
	p[3] = (uint8_t)(ws.ws_col >> 8);
	oci_ctl_send(ctl, RUN_CTL_RESIZE, 0, EXEC_ID, p, sizeof(p));
}

/* The proxy's stdio: conmon's fds, or the slave of a pty whose master went to conmon. */
struct exec_io {
	int in, out, err;
	int tty;	/* the slave, -1 without a terminal */
};

static int exec_setup_tty(struct exec_io *io, const char *console)
{
	struct termios t;
	int m, s;

	if (oci_pty_open(&m, &s))
		return oci_error("exec: pty: %s", strerror(errno));
	if (oci_send_console(console, m)) {
		close(m);
		close(s);
		return oci_error("exec: --console-socket %s: %s", console, strerror(errno));
	}
	close(m);
	/* Raw: the guest's own pty does echo and line editing; this one only carries bytes. */
	if (!tcgetattr(s, &t)) {
		cfmakeraw(&t);
		tcsetattr(s, TCSANOW, &t);
	}
	/* Our controlling terminal, so conmon's resizes reach us as SIGWINCH. */
	if (getsid(0) == getpid())
		ioctl(s, TIOCSCTTY, 0);
	io->in = io->out = io->err = io->tty = s;
	return 0;
}

/* Waits for the guest's answer to EXEC: 0 started, else the status to exit with. */
static int exec_wait_started(int ctl, int *early_exit)
{
	static uint8_t buf[RUN_CTL_MAX_PAYLOAD + 1];
	struct run_ctl_frame f;

	*early_exit = -1;
	for (;;) {
		int r = oci_ctl_recv(ctl, &f, buf);

		if (r)
			return oci_error("exec: the container's VMM %s", r == -2 ?
					 "sent a bad frame" : "went away");
		if (f.type == RUN_CTL_ERROR)
			return oci_error("exec: %s", (char *)buf) ? 255 : 255;
		if (f.type == RUN_CTL_STARTED)
			return 0;
		if (f.type == RUN_CTL_EXIT) {
			*early_exit = f.arg;
			return 0;
		}
		/* OUTPUT before STARTED: the guest refusing with a message */
		if (f.type == RUN_CTL_OUTPUT)
			write_all(f.arg == 1 ? 1 : 2, buf, f.len);
	}
}

static int exec_relay(int ctl, const struct exec_io *io)
{
	static uint8_t buf[RUN_CTL_MAX_PAYLOAD + 1];
	struct signalfd_siginfo si;
	struct pollfd pfd[3];
	sigset_t set;
	int sfd, in = io->in;
	/* stdin bytes sent that the guest has not credited back (vmm/run_proto.h): past
	 * the window stdin is not read, so its writer (conmon) waits, and nothing else */
	uint32_t unacked = 0;

	sigemptyset(&set);
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGPIPE && s != SIGTSTP &&
		    s != SIGTTIN && s != SIGTTOU && s != SIGSEGV && s != SIGBUS && s != SIGFPE &&
		    s != SIGILL)
			sigaddset(&set, s);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	send_size(ctl, io->tty);
	for (;;) {
		struct run_ctl_frame f;
		nfds_t n = 0;

		pfd[n++] = (struct pollfd){ .fd = ctl, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (in >= 0 && unacked < RUN_CTL_STDIN_WINDOW)
			pfd[n++] = (struct pollfd){ .fd = in, .events = POLLIN };
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents) {
			int r = oci_ctl_recv(ctl, &f, buf);

			if (r)
				return oci_error("exec: the container stopped") ? 255 : 255;
			if (f.type == RUN_CTL_EXIT)
				return f.arg;
			if (f.type == RUN_CTL_ERROR)
				return oci_error("exec: %s", (char *)buf) ? 255 : 255;
			if (f.type == RUN_CTL_OUTPUT)
				write_all(f.arg == 1 ? io->out : io->err, buf, f.len);
			if (f.type == RUN_CTL_CREDIT) {
				uint32_t c = run_ctl_u32(buf);

				unacked -= c < unacked ? c : unacked;
			}
		}
		if (sfd >= 0 && pfd[1].revents &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGWINCH)
				send_size(ctl, io->tty);
			else
				oci_ctl_send(ctl, RUN_CTL_SIGNAL, (uint8_t)si.ssi_signo, EXEC_ID, NULL, 0);
		}
		if (n > 2 && pfd[2].revents) {
			size_t room = RUN_CTL_STDIN_WINDOW - unacked;
			ssize_t got = read(in, buf, room < RUN_CTL_OUT_MAX ? room : RUN_CTL_OUT_MAX);

			if (got > 0) {
				unacked += (uint32_t)got;
				oci_ctl_send(ctl, RUN_CTL_STDIN, 0, EXEC_ID, buf, (size_t)got);
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* EOF (or EIO: the pty's master closed): the process's stdin ends */
				oci_ctl_send(ctl, RUN_CTL_STDIN, 0, EXEC_ID, NULL, 0);
				in = -1;
			}
		}
	}
}

/* The proxy; sync_fd (detached) gets one byte once the pid file is written and the
 * process started, so the parent can return. Returns the exit status. */
static int exec_proxy(int ctl, const struct oci_records *rec, bool terminal,
		      const char *pid_file, const char *console, int sync_fd)
{
	struct exec_io io = { 0, 1, 2, -1 };
	char pid[32];
	int early, r;

	if (pid_file) {
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (oci_write_file(pid_file, pid, strlen(pid)))
			return oci_error("--pid-file %s: %s", pid_file, strerror(errno)) ? 255 : 255;
	}
	if (terminal && exec_setup_tty(&io, console))
		return 255;
	if (oci_ctl_send(ctl, RUN_CTL_EXEC, 0, EXEC_ID, rec->data, rec->len))
		return oci_error("exec: cannot reach the container's VMM: %s", strerror(errno)) ? 255 : 255;
	r = exec_wait_started(ctl, &early);
	if (r)
		return r;
	if (sync_fd >= 0) {
		(void)!write(sync_fd, "k", 1);
		close(sync_fd);
	}
	return early >= 0 ? early : exec_relay(ctl, &io);
}

/* process.json text: --process FILE, or the arguments over the bundle's config.json. */
static char *exec_process_json(const struct oci_state *st, const char *process,
			       const struct oci_exec_args *args, char *err, size_t errlen)
{
	char path[4200], *config, *json;

	if (process)
		return read_small_file("--process ", process, err, errlen);
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", st->bundle) >= sizeof(path)) {
		snprintf(err, errlen, "bundle %.400s: path too long", st->bundle);
		return NULL;
	}
	config = read_small_file("container's ", path, err, errlen);
	if (!config)
		return NULL;
	json = oci_exec_args_json(config, args, err, errlen);
	free(config);
	return json;
}

int cmd_exec(const char *root, const char *id, const char *process,
	     const struct oci_exec_args *args, const char *pid_file, const char *console,
	     bool detach)
{
	struct oci_records rec = { 0 };
	struct oci_state st;
	char dir[4096], err[512], *json;
	bool terminal;
	int ctl, sync[2], status;
	pid_t child;
	char b;

	if (!process && !args)
		return oci_error("exec: give the process as --process FILE or as arguments after the container id");
	if (process && args)
		return oci_error("exec: give the process as --process FILE or as arguments, not both");
	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	if (strcmp(st.status, "running"))
		return oci_error("container %s is %s, not running", id, st.status);
	json = exec_process_json(&st, process, args, err, sizeof(err));
	if (!json)
		return oci_error("%s", err);
	if (oci_exec_translate_json(json, &rec, &terminal, err, sizeof(err))) {
		free(json);
		oci_records_free(&rec);
		return oci_error("%s", err);
	}
	free(json);
	if (terminal && !console) {
		oci_records_free(&rec);
		return oci_error("exec: process.terminal needs --console-socket");
	}
	ctl = oci_ctl_connect(dir);
	if (ctl < 0) {
		oci_records_free(&rec);
		return oci_error("container %s: cannot reach its VMM: %s", id, strerror(errno));
	}
	if (!detach) {
		status = exec_proxy(ctl, &rec, terminal, pid_file, console, -1);
		oci_records_free(&rec);
		return status;
	}
	if (pipe2(sync, O_CLOEXEC))
		return oci_error("pipe: %s", strerror(errno));
	fflush(NULL);
	child = fork();
	if (child < 0)
		return oci_error("fork: %s", strerror(errno));
	if (child == 0) {
		close(sync[0]);
		setsid();	/* its own session: a pty can become its terminal */
		_exit(exec_proxy(ctl, &rec, terminal, pid_file, console, sync[1]));
	}
	close(sync[1]);
	close(ctl);
	oci_records_free(&rec);
	if (read(sync[0], &b, 1) == 1)
		return 0;	/* started; conmon reaps the proxy (its pid is in the file) */
	/* The proxy failed before the start (and said why) */
	if (waitpid(child, &status, 0) == child && WIFEXITED(status))
		return WEXITSTATUS(status) ? WEXITSTATUS(status) : 255;
	return 255;
}
