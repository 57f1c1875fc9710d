#include "vmm/run_mode.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "arch/x86_64/kernel_info.h"
#include "devices/virtio_console.h"
#include "devices/virtio_mmio.h"
#include "fs/fuse_server.h"
#include "vmm/guest-init/blob.h"
#include "vmm/log.h"
#include "vmm/run_control.h"
#include "vmm/run_proto.h"
#include "vmm/run_request.h"
#include "vmm/vm_internal.h"

/* virtio-console port ids (multiport ids; port 0 is the console port, /dev/hvc0). */
enum { RUN_P_TTY, RUN_P_STDIN, RUN_P_STDOUT, RUN_P_STDERR, RUN_P_CTL, RUN_NR_PORTS };

/* Console lines shown when the guest died without reporting a status. */
#define RUN_TAIL_LINES 25

struct run_state {
	const struct vm_config *cfg;
	struct run_plan plan;
	char *request;
	size_t request_len;
	bool tty;			/* nook's stdin and stdout are a terminal */
	bool raw;			/* the terminal is raw: restore it */
	struct termios saved;
	struct console filter;		/* Ctrl-A x escape state for tty input */
	int tty_pipe[2];		/* tty mode: filtered terminal input -> console port */
	struct run_control *ctl;	/* the control port's host end (vmm/run_control.h) */
	int timer_fd;
	int relayed;			/* the signal relayed to the command, 0 none */
	struct virtio_console *con;
	struct virtio_mmio *transport;
};

static struct run_state *run_of(struct vm *vm)
{
	return vm->run;
}

const char *run_root_spec(const struct vm_config *cfg, char *buf, size_t len)
{
	/* The server refuses every write to the host's root (EROFS), whatever the guest
	 * mounts: read-only is enforced on the host side. cache=always, as virtme-ng does
	 * for a read-only root: the guest keeps file pages across opens, which halves the
	 * cost of every exec here (libc is re-read on each open otherwise); the price is
	 * that a host change to a file the guest already read may stay unseen. */
	if (cfg->run.host_root)
		snprintf(buf, len, "/,ro,cache=always");
	else
		snprintf(buf, len, "%s", cfg->root);
	return buf;
}

/* Restores the terminal on every way out, exit() included (atexit). */
static struct run_state *run_raw_owner;

static void run_restore_tty(void)
{
	struct run_state *rs = run_raw_owner;

	if (rs && rs->raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &rs->saved);
		rs->raw = false;
	}
}

static int run_make_raw(struct run_state *rs)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &rs->saved))
		return -1;
	t = rs->saved;
	/* Raw like a serial line: ^C, ^Z and ^\ travel as bytes and the guest's line
	 * discipline turns them into signals for the command. */
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
		return -1;
	rs->raw = true;
	run_raw_owner = rs;
	atexit(run_restore_tty);
	return 0;
}

/* The kernel must have what a run needs; a kernel under test gets a clear answer
 * before the boot rather than a panic after it. */
static int run_check_kernel(struct vm *vm, const struct vm_config *cfg, char *version,
			    size_t vlen)
{
	struct kernel_info ki;
	const char *missing;
	char err[256];
	int fd = open(cfg->kernel, O_RDONLY | O_CLOEXEC);

	version[0] = '\0';
	if (fd < 0) {
		if (cfg->kernel_is_default)
			log_err("no --kernel given and %s does not exist (run make, or pass --kernel)",
				cfg->kernel);
		else
			log_err("--kernel %s: %s", cfg->kernel, strerror(errno));
		return -1;
	}
	if (kinfo_read(fd, &ki, err, sizeof(err))) {
		close(fd);
		log_err("--kernel %s: %s", cfg->kernel, err);
		return -1;
	}
	close(fd);
	missing = kinfo_missing_for_run(&ki);
	if (missing) {
		log_err("--kernel %s: %s", cfg->kernel, missing);
		return -1;
	}
	snprintf(version, vlen, "%s", ki.version);
	/* Our own kernels carry the patches; their release ends in -nook (nook.config). */
	if (vm->pvm && !cfg->kernel_is_default && !strstr(ki.version, "-nook"))
		log_warn("this host's KVM is software-virtualized: a kernel under test also "
			 "needs nook's guest patches (guest-kernel-config/patches/)");
	return 0;
}

/* --modules DIR, or the host's /lib/modules/VERSION: shared read-only unless the guest
 * already sees the host's own directory through --host-root. */
static int run_plan_modules(struct run_state *rs, const char *version)
{
	const struct run_config *r = &rs->cfg->run;
	char dir[CONFIG_PATH_MAX];
	struct stat st;

	if (r->modules) {
		if (stat(r->modules, &st) || !S_ISDIR(st.st_mode)) {
			log_err("--modules %s: not a directory", r->modules);
			return -1;
		}
		snprintf(rs->plan.modules_tag, sizeof(rs->plan.modules_tag), "nook-modules");
		snprintf(rs->plan.modules_dir, sizeof(rs->plan.modules_dir), "%s", r->modules);
		return 0;
	}
	if (!version[0] || r->host_root)
		return 0;
	snprintf(dir, sizeof(dir), "/lib/modules/%s", version);
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(rs->plan.modules_tag, sizeof(rs->plan.modules_tag), "nook-modules");
		snprintf(rs->plan.modules_dir, sizeof(rs->plan.modules_dir), "%s", dir);
	}
	return 0;
}

int run_prepare(struct vm *vm, const struct vm_config *cfg)
{
	struct run_state *rs = calloc(1, sizeof(*rs));
	char version[128], err[512], root[CONFIG_PATH_MAX];
	const char *root_dir = "/";

	if (!rs) {
		log_err("out of memory");
		return -1;
	}
	rs->cfg = cfg;
	rs->tty_pipe[0] = rs->tty_pipe[1] = -1;
	rs->timer_fd = -1;
	vm->run = rs;
	if (run_check_kernel(vm, cfg, version, sizeof(version)))
		return -1;
	rs->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (!cfg->run.host_root) {
		/* --root PATH[,options]: the directory is the part before the first comma. */
		snprintf(root, sizeof(root), "%s", cfg->root);
		root[strcspn(root, ",")] = '\0';
		root_dir = root;
	}
	if (run_plan_build(cfg, root_dir, rs->tty, &rs->plan, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	if (run_plan_modules(rs, version))
		return -1;
	if (run_request_build(&cfg->run, &rs->plan, &rs->request, &rs->request_len)) {
		log_err("out of memory");
		return -1;
	}
	if (cfg->run.records &&
	    run_request_append_file(&rs->request, &rs->request_len, cfg->run.records, err,
				    sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

const struct run_plan *run_get_plan(struct vm *vm)
{
	return &run_of(vm)->plan;
}

/* Terminal input (tty mode), on the main thread: Ctrl-A x still quits nook. */
static void run_on_tty_input(int fd, uint32_t events, void *opaque)
{
	struct vm *vm = opaque;
	struct run_state *rs = run_of(vm);
	uint8_t in[1024], out[1024];
	ssize_t n = read(fd, in, sizeof(in));
	bool quit;
	size_t m;

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		evl_del(&vm->loop, fd);
		close(rs->tty_pipe[1]);	/* the guest's console sees the host hang up */
		rs->tty_pipe[1] = -1;
		return;
	}
	/* Under a container runtime (--control) the terminal is the container's: every
	 * byte goes to it, Ctrl-A included (podman has its own detach keys). */
	if (rs->cfg->run.control) {
		memcpy(out, in, (size_t)n);
		m = (size_t)n;
		quit = false;
	} else {
		m = console_filter(&rs->filter, in, (size_t)n, out, &quit);
	}
	/* The pipe is non-blocking: a guest that stopped reading loses keystrokes rather
	 * than stalling nook's event loop. */
	if (m && write(rs->tty_pipe[1], out, m) < 0)
		log_debug("tty input dropped: %s", strerror(errno));
	if (quit) {
		log_warn("quit requested from the terminal (Ctrl-A x)");
		vm_request_stop(vm, NOOK_EXIT_SIGNAL_BASE + SIGINT);
	}
}

static void run_on_timeout(int fd, uint32_t events, void *opaque)
{
	struct vm *vm = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	log_err("--timeout of %.3g s expired; stopping the guest",
		run_of(vm)->cfg->run.timeout_ms / 1000.0);
	vm_request_stop(vm, NOOK_EXIT_TIMEOUT);
}

/* After the vCPUs stopped: everything the guest wrote reaches the host, then the
 * terminal is restored. */
static void run_teardown(void *opaque)
{
	struct run_state *rs = opaque;

	if (rs->con)
		virtio_console_flush(rs->con);
	if (rs->transport)
		virtio_mmio_destroy(rs->transport);
	if (rs->con)
		virtio_console_destroy(rs->con);
	rs->con = NULL;
	rs->transport = NULL;
	run_restore_tty();
	for (int i = 0; i < 2; i++) {
		if (rs->tty_pipe[i] >= 0)
			close(rs->tty_pipe[i]);
		rs->tty_pipe[i] = -1;
	}
	/* After the console: its thread used the control pipes. */
	run_control_destroy(rs->ctl);
	rs->ctl = NULL;
	if (rs->timer_fd >= 0)
		close(rs->timer_fd);
	rs->timer_fd = -1;
}

static int run_add_console(struct vm *vm, struct run_state *rs)
{
	struct virtio_console_port_cfg ports[RUN_NR_PORTS] = {
		[RUN_P_TTY] = { .name = RUN_PORT_TTY, .console = true, .in_fd = -1, .out_fd = -1 },
		[RUN_P_STDIN] = { .name = RUN_PORT_STDIN, .in_fd = -1, .out_fd = -1 },
		[RUN_P_STDOUT] = { .name = RUN_PORT_STDOUT, .in_fd = -1, .out_fd = -1 },
		[RUN_P_STDERR] = { .name = RUN_PORT_STDERR, .in_fd = -1, .out_fd = -1 },
		[RUN_P_CTL] = { .name = RUN_PORT_CTL, .in_fd = -1, .out_fd = -1 },
	};
	char err[256];

	rs->ctl = run_control_create(&vm->loop, rs->cfg->run.control, &ports[RUN_P_CTL].in_fd,
				     &ports[RUN_P_CTL].out_fd, err, sizeof(err));
	if (!rs->ctl) {
		log_err("%s", err);
		return -1;
	}
	if (rs->tty) {
		if (pipe2(rs->tty_pipe, O_CLOEXEC) || fcntl(rs->tty_pipe[1], F_SETFL, O_NONBLOCK)) {
			log_err("pipe: %s", strerror(errno));
			return -1;
		}
		ports[RUN_P_TTY].in_fd = rs->tty_pipe[0];
		ports[RUN_P_TTY].out_fd = STDOUT_FILENO;
	} else {
		/* A closed fd 0 leaves the port unconnected: the guest reads EOF. */
		ports[RUN_P_STDIN].in_fd = fcntl(STDIN_FILENO, F_GETFD) < 0 ? -1 : STDIN_FILENO;
		ports[RUN_P_STDOUT].out_fd = STDOUT_FILENO;
		ports[RUN_P_STDERR].out_fd = STDERR_FILENO;
	}
	rs->con = virtio_console_create(ports, RUN_NR_PORTS, err, sizeof(err));
	if (!rs->con) {
		log_err("virtio-console: %s", err);
		return -1;
	}
	if (vm_add_virtio(vm, &virtio_console_dev_ops, rs->con, "virtio-console", &rs->transport))
		return -1;
	if (rs->tty) {
		run_window_changed(vm);
		if (run_make_raw(rs))
			log_warn("cannot put the terminal in raw mode: %s", strerror(errno));
		if (vm_add_event(vm, STDIN_FILENO, run_on_tty_input, vm)) {
			log_err("cannot watch the terminal");
			return -1;
		}
	}
	return 0;
}

static int run_add_timeout(struct vm *vm, struct run_state *rs)
{
	uint64_t ms = rs->cfg->run.timeout_ms;
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 },
	};

	if (!ms)
		return 0;
	rs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rs->timer_fd < 0 || timerfd_settime(rs->timer_fd, 0, &its, NULL) ||
	    vm_add_event(vm, rs->timer_fd, run_on_timeout, vm)) {
		log_err("--timeout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int run_attach(struct vm *vm, struct fuse_server *root)
{
	struct run_state *rs = run_of(vm);
	size_t init_len = (size_t)(run_init_blob_end - run_init_blob);
	int r;

	if (vm_at_teardown(vm, run_teardown, rs)) {
		log_err("too many devices");
		return -1;
	}
	r = fuse_server_add_virtual(root, RUN_INIT_NAME, run_init_blob, init_len, 0555);
	if (!r)
		r = fuse_server_add_virtual(root, RUN_REQUEST_NAME, rs->request, rs->request_len,
					    0400);
	if (r) {
		log_err("cannot add the guest init to the root share: %s", strerror(-r));
		return -1;
	}
	if (vm_cmdline_add(vm, "init=/" RUN_INIT_NAME)) {
		log_err("guest command line too long");
		return -1;
	}
	if (run_add_console(vm, rs) || run_add_timeout(vm, rs))
		return -1;
	return 0;
}

bool run_relay_signal(struct vm *vm, int signo)
{
	struct run_state *rs = run_of(vm);

	if (!rs || rs->relayed || !rs->ctl)
		return false;
	if (run_control_signal(rs->ctl, signo))
		return false;
	rs->relayed = signo;
	log_info("relayed %s to the command (again: stop the guest)", strsignal(signo));
	return true;
}

void run_window_changed(struct vm *vm)
{
	struct run_state *rs = run_of(vm);
	struct winsize ws;

	if (!rs || !rs->tty || !rs->con || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) ||
	    !ws.ws_row || !ws.ws_col)
		return;
	virtio_console_resize(rs->con, RUN_P_TTY, ws.ws_row, ws.ws_col);
}

/* The last lines the guest kernel printed, on stderr: why it died. */
static void run_print_tail(struct vm *vm)
{
	char buf[CONSOLE_TAIL_SIZE + 1];
	size_t n = console_tail(&vm->console, buf, sizeof(buf) - 1);
	size_t start = n;
	int lines = 0;

	while (start > 0 && lines <= RUN_TAIL_LINES)
		if (buf[--start] == '\n')
			lines++;
	if (buf[start] == '\n')
		start++;
	buf[n] = '\0';
	if (n == start) {
		fprintf(stderr, "nook: (the guest printed nothing on its console)\n");
		return;
	}
	fprintf(stderr, "nook: last guest console lines:\n");
	for (char *line = buf + start, *end; *line; line = end) {
		end = line + strcspn(line, "\n");
		/* Serial lines end in CR LF. */
		int len = (int)(end - line);

		while (len > 0 && line[len - 1] == '\r')
			len--;
		/* Guest-written bytes: no escape sequences reach the user's terminal. */
		for (int i = 0; i < len; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				line[i] = line[i] == '\t' ? ' ' : '?';
		fprintf(stderr, "  | %.*s\n", len, line);
		if (*end)
			end++;
	}
}

int run_exit_status(struct vm *vm, int stop_status, bool guest_ran)
{
	struct run_state *rs = run_of(vm);
	int code = atomic_load(&vm->run_status.code);
	uint64_t init_ns = atomic_load(&vm->run_status.init_ns);
	uint64_t exec_ns = atomic_load(&vm->run_status.exec_ns);
	uint64_t t0 = vm->boot_timer.start_ns;
	const char *why;

	/* The guest-side cost of the init, for bench-run (NOOK_LOG=info). */
	if (init_ns && exec_ns)
		log_info("run: init started after %.1f ms, command started after %.1f ms "
			 "(%.1f ms in the init)", (init_ns - t0) / 1e6, (exec_ns - t0) / 1e6,
			 (exec_ns - init_ns) / 1e6);
	if (rs) {
		run_plan_free(&rs->plan);
		free(rs->request);
		free(rs);
		vm->run = NULL;
	}
	if (!guest_ran)
		return RUN_EXIT_NOOK_ERROR;
	if (stop_status == NOOK_EXIT_TIMEOUT)
		return NOOK_EXIT_TIMEOUT;
	if (stop_status > NOOK_EXIT_SIGNAL_BASE)
		return stop_status;	/* nook itself was stopped by a signal */
	if (code >= 0)
		return code;
	why = stop_status == NOOK_EXIT_PANIC ? "the guest kernel panicked" :
	      stop_status == NOOK_EXIT_ERROR ? "the VM stopped on an error" :
					       "the guest reset";
	fprintf(stderr, "nook: %s without reporting the command's exit status\n", why);
	run_print_tail(vm);
	return RUN_EXIT_NO_STATUS;
}
