/*
 * The init's side of the control port (RUN_PORT_CTL, frames of vmm/run_proto.h): the
 * start gate of a held command, signals for the command or an exec'd process, and exec
 * itself: a process started from a run request the host sends, with its stdio as pipes
 * (or a pty) that this file relays as RUN_CTL_OUTPUT / RUN_CTL_STDIN frames, and its
 * exit status as RUN_CTL_EXIT.
 *
 * The host is nook, which built this init, but the frames are still checked: a frame
 * that makes no sense is dropped (its bytes skipped), never acted on half-way.
 *
 * One poll loop serves everything: the signalfd (SIGCHLD, and SIGINT/TERM/HUP for the
 * command, as before), the control port, each exec's output fds, and the stdin of each
 * exec that has bytes waiting. Writes to the port block (poll for POLLOUT): output then
 * waits for the host instead of being lost. Writes to an exec's stdin never block: what
 * its pipe does not take waits in the exec's own buffer, and the bytes are credited
 * back (RUN_CTL_CREDIT) only once the pipe took them. The host sends at most
 * RUN_CTL_STDIN_WINDOW bytes ahead of its credit, which the buffer holds: a process
 * that never reads its stdin stops only its own stream, never this loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "vmm/guest-init/init.h"
#include "vmm/run_proto.h"

int ctl_fd = -1;

struct exec_slot {
	unsigned int id;	/* 0: free */
	pid_t pid;		/* 0 once reaped */
	int in_fd;		/* its stdin (pipe write end or pty master), -1 closed */
	int out_fd[2];		/* stdout, stderr read ends (tty: out_fd[0] is the master) */
	bool tty;
	bool in_eof;		/* EOF came: close in_fd once the buffer is written */
	size_t in_off, in_len;	/* stdin bytes waiting in in_buf[slot] */
};

static struct exec_slot execs[RUN_CTL_MAX_EXECS];
/* Per slot, the stdin the pipe has not taken yet: untouched pages cost nothing. */
static unsigned char in_buf[RUN_CTL_MAX_EXECS][RUN_CTL_STDIN_WINDOW];

/* Frame reassembly: one whole frame fits. */
static unsigned char rx[RUN_CTL_HDR_SIZE + RUN_CTL_MAX_PAYLOAD];
static size_t rx_len;

/* Exec requests are parsed in place in rx; their arrays live here. A payload holds at
 * most 32 Ki records, and each needs at most one pointer-sized slot... except mounts,
 * which an exec does not use and which then fail the parse cleanly. */
static char *exec_arena[(RUN_CTL_MAX_PAYLOAD / 2 + 64) + 8192];
static struct run_request exec_req;

static pid_t main_pid;

static bool write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void send_frame(unsigned char type, unsigned char arg, unsigned int id,
		       const void *payload, size_t len)
{
	unsigned char hdr[RUN_CTL_HDR_SIZE] = {
		type, arg, (unsigned char)len, (unsigned char)(len >> 8),
		(unsigned char)id, (unsigned char)(id >> 8), (unsigned char)(id >> 16),
		(unsigned char)(id >> 24),
	};

	if (ctl_fd < 0 || len > RUN_CTL_MAX_PAYLOAD)
		return;
	/* Two writes, but one frame: nothing else writes the port in between. */
	if (!write_all(ctl_fd, hdr, sizeof(hdr)) || (len && !write_all(ctl_fd, payload, len)))
		problem(errno, "cannot write to the " RUN_PORT_CTL " port", NULL);
}

/* A message for an exec that cannot start: on its stderr, then its exit status. */
static void exec_refuse(unsigned int id, const char *why)
{
	struct line l = { 0 };

	add(&l, "nook: exec: ");
	add(&l, why);
	l.buf[l.len++] = '\n';
	send_frame(RUN_CTL_OUTPUT, 2, id, l.buf, l.len);
	send_frame(RUN_CTL_EXIT, RUN_EXIT_SETUP, id, NULL, 0);
}

static struct exec_slot *exec_find(unsigned int id)
{
	for (unsigned int i = 0; i < RUN_CTL_MAX_EXECS; i++)
		if (execs[i].id && execs[i].id == id)
			return &execs[i];
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* stdio for an exec: pipes, or a pty (its master is both ends here). */
static bool exec_stdio(struct exec_slot *e, struct spawn_io *io, int child[3])
{
	int p[2];

	child[0] = child[1] = child[2] = -1;
	if (e->tty) {
		int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		int unlock = 0, s;

		if (m < 0)
			m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (m < 0)
			return false;
		if (ioctl(m, TIOCSPTLCK, &unlock) ||
		    (s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
			close(m);
			return false;
		}
		e->out_fd[0] = m;
		e->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 0);
		/* The master's reads are non-blocking; writes go through in_fd, a dup that
		 * shares the flags: write_all() polls. */
		io->fd[0] = io->fd[1] = io->fd[2] = child[0] = s;
		io->tty = true;
		return e->in_fd >= 0;
	}
	io->tty = false;
	if (pipe2(p, O_CLOEXEC))
		return false;
	child[0] = io->fd[0] = p[0];
	e->in_fd = p[1];
	fcntl(p[1], F_SETFL, O_NONBLOCK);	/* see the top of the file */
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);	/* best effort: fewer waits */
	for (int i = 0; i < 2; i++) {
		if (pipe2(p, O_CLOEXEC))
			return false;
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		e->out_fd[i] = p[0];
		child[1 + i] = io->fd[1 + i] = p[1];
	}
	return true;
}

static void exec_free(struct exec_slot *e)
{
	close_fd(&e->in_fd);
	close_fd(&e->out_fd[0]);
	close_fd(&e->out_fd[1]);
	e->id = 0;
	e->pid = 0;
	e->in_off = e->in_len = 0;
	e->in_eof = false;
}

static void send_credit(struct exec_slot *e, size_t n)
{
	unsigned char p[4] = { (unsigned char)n, (unsigned char)(n >> 8),
			       (unsigned char)(n >> 16), (unsigned char)(n >> 24) };

	if (n)
		send_frame(RUN_CTL_CREDIT, 0, e->id, p, sizeof(p));
}

/* Writes what e's stdin buffer holds without blocking and credits what went. A closed
 * reader drops the rest (credited too: the host must not stall on it). */
static void stdin_drain(struct exec_slot *e)
{
	unsigned char *buf = in_buf[e - execs];
	size_t done = 0;

	while (e->in_fd >= 0 && e->in_len) {
		ssize_t n = write(e->in_fd, buf + e->in_off, e->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			close_fd(&e->in_fd);	/* the process closed its stdin */
			break;
		}
		e->in_off += (size_t)n;
		e->in_len -= (size_t)n;
		done += (size_t)n;
	}
	if (e->in_fd < 0) {
		done += e->in_len;
		e->in_len = 0;
	}
	if (!e->in_len) {
		e->in_off = 0;
		if (e->in_eof && !e->tty)
			close_fd(&e->in_fd);
	}
	send_credit(e, done);
}

/* A RUN_CTL_STDIN payload for e: appended to its buffer, then as much written as the
 * pipe takes. Bytes past the window (a host ignoring its credit) are dropped. */
static void stdin_queue(struct exec_slot *e, const unsigned char *p, size_t len)
{
	unsigned char *buf = in_buf[e - execs];
	size_t room, take;

	if (e->in_fd < 0) {
		send_credit(e, len);
		return;
	}
	if (e->in_off && e->in_off + e->in_len + len > RUN_CTL_STDIN_WINDOW) {
		memmove(buf, buf + e->in_off, e->in_len);
		e->in_off = 0;
	}
	room = RUN_CTL_STDIN_WINDOW - e->in_off - e->in_len;
	take = len < room ? len : room;
	if (take < len)
		problem(0, "exec stdin past the host's credit: bytes dropped", NULL);
	memcpy(buf + e->in_off + e->in_len, p, take);
	e->in_len += take;
	send_credit(e, len - take);
	stdin_drain(e);
}

static void exec_start(unsigned int id, const unsigned char *payload, size_t len)
{
	struct exec_slot *e = NULL;
	struct spawn_io io;
	int child[3];
	char num[21];

	if (exec_find(id))
		return exec_refuse(id, "id in use");
	for (unsigned int i = 0; i < RUN_CTL_MAX_EXECS && !e; i++)
		if (!execs[i].id)
			e = &execs[i];
	if (!e)
		return exec_refuse(id, "too many processes exec'd at once");
	if (run_request_parse(&exec_req, (const char *)payload, len, exec_arena,
			      sizeof(exec_arena)))
		return exec_refuse(id, exec_req.error);
	*e = (struct exec_slot){ .id = id, .in_fd = -1, .out_fd = { -1, -1 },
				 .tty = exec_req.tty };
	if (!exec_stdio(e, &io, child)) {
		exec_free(e);
		return exec_refuse(id, error_text(errno));
	}
	e->pid = spawn_process(&exec_req, &io);
	for (int i = 0; i < 3; i++)
		if (child[i] >= 0 && (i == 0 || child[i] != child[0]))
			close(child[i]);
	if (e->pid < 0) {
		int err = errno;

		exec_free(e);
		return exec_refuse(id, error_text(err));
	}
	step("exec ", exec_req.argv[0], " as id ", utoa(num, id), NULL);
	send_frame(RUN_CTL_STARTED, 0, id, NULL, 0);
}

/* Output of e's fd i, at most one frame per call: 1 sent some, 0 nothing now, -1 the
 * fd is closed (EOF, or EIO: a pty whose slave side is gone). */
static int exec_pump(struct exec_slot *e, int i)
{
	static unsigned char buf[RUN_CTL_OUT_MAX];
	ssize_t n = read(e->out_fd[i], buf, sizeof(buf));

	if (n > 0) {
		send_frame(RUN_CTL_OUTPUT, (unsigned char)(1 + i), e->id, buf, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	close_fd(&e->out_fd[i]);
	return -1;
}

/* e's process was reaped: what its pipes hold now, then its status. A grandchild that
 * keeps the pipes open does not hold the status back (its later output is lost). */
static void exec_exited(struct exec_slot *e, int status)
{
	for (int i = 0; i < 2; i++)
		for (int guard = 0; e->out_fd[i] >= 0 && guard < 256; guard++)
			if (exec_pump(e, i) <= 0)
				break;
	send_frame(RUN_CTL_EXIT, (unsigned char)status, e->id, NULL, 0);
	exec_free(e);
}

static bool is_fatal_default(int sig)
{
	return sig > 0 && sig < NSIG && sig != SIGCHLD && sig != SIGWINCH && sig != SIGURG &&
	       sig != SIGCONT && sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN &&
	       sig != SIGTTOU;
}

static void signal_group(pid_t pgid, int sig)
{
	char num[21];

	if (sig <= 0 || sig >= NSIG || pgid <= 0)
		return;
	step("relaying signal ", utoa(num, (unsigned int)sig), NULL);
	kill(-pgid, sig);
}

/*
 * One frame from the host (the header was checked: len fits). Returns -1 to go on, or
 * (while held) 0 to start, or a status to finish with.
 */
static int handle_frame(const unsigned char *f, bool held)
{
	unsigned int type = f[0], arg = f[1];
	size_t len = (size_t)f[2] | (size_t)f[3] << 8;
	unsigned int id = (unsigned int)f[4] | (unsigned int)f[5] << 8 |
			  (unsigned int)f[6] << 16 | (unsigned int)f[7] << 24;
	const unsigned char *payload = f + RUN_CTL_HDR_SIZE;
	struct exec_slot *e;

	switch (type) {
	case RUN_CTL_START:
		return held ? 0 : -1;
	case RUN_CTL_SIGNAL:
		if (!id) {
			if (held)
				/* nothing runs yet: a fatal signal ends the container */
				return is_fatal_default((int)arg) ? RUN_EXIT_SIGNAL_BASE + (int)arg : -1;
			signal_group(main_pid, (int)arg);
		} else if ((e = exec_find(id)) && e->pid > 0) {
			signal_group(e->pid, (int)arg);
		}
		return -1;
	case RUN_CTL_EXEC:
		if (!id || id > RUN_CTL_MAX_ID)
			return -1;
		if (held)
			exec_refuse(id, "the container has not been started");
		else
			exec_start(id, payload, len);
		return -1;
	case RUN_CTL_STDIN:
		if (!(e = exec_find(id)))
			return -1;
		if (!len) {
			/* EOF: a pipe closes once its buffer is written; a terminal stays
			 * open (raw input is the host's business) */
			e->in_eof = true;
			stdin_drain(e);
		} else {
			stdin_queue(e, payload, len);
		}
		return -1;
	case RUN_CTL_RESIZE:
		if (len == 4 && (e = exec_find(id)) && e->tty && e->out_fd[0] >= 0) {
			struct winsize ws = {
				.ws_row = (unsigned short)(payload[0] | payload[1] << 8),
				.ws_col = (unsigned short)(payload[2] | payload[3] << 8),
			};

			ioctl(e->out_fd[0], TIOCSWINSZ, &ws);
		}
		return -1;
	}
	return -1;	/* unknown: a newer host */
}

/* Reads what the port has and handles every whole frame. -1 to go on, else as
 * handle_frame(); -2 when the port closed. */
static int read_ctl(bool held)
{
	ssize_t n = read(ctl_fd, rx + rx_len, sizeof(rx) - rx_len);
	size_t off = 0;
	int r = -1;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		step(RUN_PORT_CTL " closed: no more control", NULL);
		close_fd(&ctl_fd);
		return -2;
	}
	if (n < 0)
		return -1;
	rx_len += (size_t)n;
	while (r < 0 && rx_len - off >= RUN_CTL_HDR_SIZE) {
		size_t len = (size_t)rx[off + 2] | (size_t)rx[off + 3] << 8;

		if (rx_len - off < RUN_CTL_HDR_SIZE + len)
			break;
		r = handle_frame(rx + off, held);
		off += RUN_CTL_HDR_SIZE + len;
	}
	memmove(rx, rx + off, rx_len - off);
	rx_len -= off;
	return r;
}

int control_hold(void)
{
	struct pollfd pfd;

	if (ctl_fd < 0) {
		problem(0, "no " RUN_PORT_CTL " port to wait for start on: starting now", NULL);
		return 0;
	}
	send_frame(RUN_CTL_HELD, 0, 0, NULL, 0);
	step("holding the command until start", NULL);
	log_flush();
	for (;;) {
		int r;

		pfd = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0)
			continue;
		r = read_ctl(true);
		if (r == -2)
			return RUN_EXIT_SETUP;	/* nobody can start us any more */
		if (r >= 0)
			return r;
	}
}

void control_started(void)
{
	if (req.hold)
		send_frame(RUN_CTL_STARTED, 0, 0, NULL, 0);
}

static int wait_status(int ws)
{
	return WIFSIGNALED(ws) ? RUN_EXIT_SIGNAL_BASE + WTERMSIG(ws) : WEXITSTATUS(ws);
}

/*
 * Reaps every child (orphans are ours) until the command is gone; relays SIGINT,
 * SIGTERM, SIGHUP and the host's RUN_CTL_SIGNAL to its process group (its pid:
 * setsid()); serves exec. Blocks in poll() between events.
 */
int control_wait(pid_t pid)
{
	struct signalfd_siginfo si[8];
	struct pollfd pfd[2 + 3 * RUN_CTL_MAX_EXECS];
	struct exec_slot *owner[2 + 3 * RUN_CTL_MAX_EXECS];
	int which[2 + 3 * RUN_CTL_MAX_EXECS];
	sigset_t set;
	int sfd, ws;
	pid_t w;

	main_pid = pid;
	/*
	 * Blocked only now (the child starts with an empty mask that way). A SIGCHLD
	 * before this was discarded (PID 1 ignores signals it has no handler for), which
	 * the reap at the top of the loop covers; a SIGINT then had nobody to go to yet.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		problem(errno, "signalfd failed: no signal relay", NULL);
	for (;;) {
		nfds_t n = 0;

		while ((w = waitpid(-1, &ws, sfd < 0 ? 0 : WNOHANG)) > 0) {
			if (w == pid)
				return wait_status(ws);
			for (unsigned int i = 0; i < RUN_CTL_MAX_EXECS; i++)
				if (execs[i].id && execs[i].pid == w)
					exec_exited(&execs[i], wait_status(ws));
		}
		if (w < 0 && errno != EINTR && errno != ECHILD) {
			problem(errno, "waitpid failed", NULL);
			return RUN_EXIT_SETUP;
		}
		if (w < 0 && errno == EINTR)
			continue;
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
		for (unsigned int i = 0; i < RUN_CTL_MAX_EXECS; i++) {
			/* which 2: its stdin, watched only while bytes wait for it */
			if (execs[i].id && execs[i].in_fd >= 0 && execs[i].in_len) {
				owner[n] = &execs[i];
				which[n] = 2;
				pfd[n++] = (struct pollfd){ .fd = execs[i].in_fd, .events = POLLOUT };
			}
			for (int j = 0; j < 2; j++) {
				if (!execs[i].id || execs[i].out_fd[j] < 0)
					continue;
				owner[n] = &execs[i];
				which[n] = j;
				pfd[n++] = (struct pollfd){ .fd = execs[i].out_fd[j], .events = POLLIN };
			}
		}
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			ssize_t got = read(sfd, si, sizeof(si));

			for (ssize_t i = 0; i < got / (ssize_t)sizeof(si[0]); i++) {
				if (si[i].ssi_signo != SIGCHLD)
					signal_group(pid, (int)si[i].ssi_signo);
			}
		}
		if (ctl_fd >= 0 && pfd[1].revents)
			read_ctl(false);
		for (nfds_t i = 2; i < n; i++) {
			/* a slot freed by a frame handled above has no fds any more */
			if (!pfd[i].revents || !owner[i]->id)
				continue;
			if (which[i] == 2 && owner[i]->in_fd == pfd[i].fd)
				stdin_drain(owner[i]);
			else if (which[i] < 2 && owner[i]->out_fd[which[i]] == pfd[i].fd)
				exec_pump(owner[i], which[i]);
		}
	}
}
