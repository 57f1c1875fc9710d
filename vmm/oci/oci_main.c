/*
 * nook-oci: the runc-style CLI that podman drives through conmon. Each container is one
 * `nook run` VMM process. create forks it (the pid in --pid-file, reparented to conmon,
 * its exit status is the container's) with --control ROOT/ID/ctl.sock and a request that
 * holds the workload (RUN_REC_HOLD), and returns once the guest booted and is held;
 * start releases the workload over that socket, kill sends signals through it (SIGKILL
 * ends the VMM), exec (oci_exec.c) runs processes in the guest through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>
#include <sys/ioctl.h>

#include "vmm/oci/oci_cmd.h"
#include "vmm/oci/oci_exec_args.h"
#include "vmm/oci/oci_ctl.h"
#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_state.h"
#include "vmm/run_proto.h"

#ifndef NOOK_VERSION
#define NOOK_VERSION "0.0.0"
#endif

static const char *oci_log_path;
static bool oci_log_json;

/*
 * In create's VMM child (before exec) errors go up this pipe instead: the parent
 * reports the child's reason as its one error, so --log gets exactly one object
 * per failed create rather than the child's and a generic one from the parent.
 */
static int oci_child_err_fd = -1;

/* How long create waits for the guest to boot: podman's own limit is 240 s. */
#define OCI_BOOT_TIMEOUT_MS (230 * 1000)

int oci_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (oci_child_err_fd >= 0) {
		/* One short write (< PIPE_BUF) of the first reason only. */
		if (write(oci_child_err_fd, msg, strnlen(msg, sizeof(msg) - 1)) >= 0)
			close(oci_child_err_fd);
		oci_child_err_fd = -1;
		return 1;
	}
	fprintf(stderr, "nook-oci: %s\n", msg);
	if (oci_log_path && oci_log_json) {
		struct json_object *o = json_object_new_object();
		FILE *f = fopen(oci_log_path, "ae");

		json_object_object_add(o, "level", json_object_new_string("error"));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		{
			char when[40];
			time_t now = time(NULL);
			struct tm tm;

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
			json_object_object_add(o, "time", json_object_new_string(when));
		}
		if (f) {
			fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			fclose(f);
		}
		json_object_put(o);
	}
	return 1;
}

/* nook lives next to nook-oci (build/nook, build/nook-oci). */
static int nook_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = 0;
	slash = strrchr(self, '/');
	*slash = 0;
	return (size_t)snprintf(buf, len, "%s/nook", self) >= len ? -1 : 0;
}

/* mkdir -p of dst's parents inside the rootfs, then the mount point itself (a directory
 * or an empty file, like the source): runc creates missing mount points the same way. */
static int make_mount_point(const char *path, bool dir)
{
	char tmp[PATH_MAX];
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (lstat(path, &st) == 0)
		return 0;
	if (dir)
		return mkdir(path, 0755);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

	return fd < 0 ? -1 : close(fd);
}

/*
 * In the VMM's own mount namespace: each bind of the spec over the rootfs, so the root
 * share serves the volume at its destination. The rootfs is podman's (its overlay or vfs
 * copy), so creating mount points there is what runc does too. A destination is taken
 * relative to the rootfs; symlinks on its way are not followed out of it (O_NOFOLLOW-free
 * check: the resolved path must stay under the rootfs).
 */
static int apply_binds(const struct oci_plan *p)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return oci_error("mount namespace: %s", strerror(errno));
	for (int i = 0; i < p->nr_binds; i++) {
		const struct oci_bind *b = &p->binds[i];
		char dst[PATH_MAX], *real;
		struct stat st;

		if (stat(b->src, &st))
			return oci_error("mount %s: source %s: %s", b->dst, b->src, strerror(errno));
		if ((size_t)snprintf(dst, sizeof(dst), "%s%s", p->rootfs, b->dst) >= sizeof(dst))
			return oci_error("mount %s: path too long", b->dst);
		if (make_mount_point(dst, S_ISDIR(st.st_mode)))
			return oci_error("mount %s: %s", b->dst, strerror(errno));
		real = realpath(dst, NULL);
		if (!real || strncmp(real, p->rootfs, strlen(p->rootfs)) ||
		    (real[strlen(p->rootfs)] && real[strlen(p->rootfs)] != '/')) {
			free(real);
			return oci_error("mount %s: escapes the rootfs", b->dst);
		}
		if (mount(b->src, real, NULL, MS_BIND | MS_REC, NULL) ||
		    (b->ro && mount(NULL, real, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))) {
			int e = errno;

			free(real);
			return oci_error("mount %s on %s: %s", b->src, b->dst, strerror(e));
		}
		free(real);
	}
	return 0;
}

/* The VMM child: binds, the terminal, exec nook run. Never returns. */
static void create_child(const struct oci_plan *p, char **argv, const char *nook, int tty,
			 int err_fd)
{
	char err[512];

	oci_child_err_fd = err_fd;	/* close-on-exec: EOF when nook runs */

	if (apply_binds(p))
		_exit(125);
	/* Joined before exec: every VMM thread and all guest RAM are charged to it. */
	if (oci_cgroup_join(&p->cgroup, err, sizeof(err))) {
		oci_error("%s", err);
		_exit(125);
	}
	if (tty >= 0) {
		/* The pty's slave is the VMM's stdio and controlling terminal: nook runs in
		 * its tty mode and gets SIGWINCH when conmon resizes the master. */
		if (setsid() < 0 || dup2(tty, 0) < 0 || dup2(tty, 1) < 0 || dup2(tty, 2) < 0 ||
		    ioctl(0, TIOCSCTTY, 0)) {
			oci_error("the container's terminal: %s", strerror(errno));
			_exit(125);
		}
	}
	execv(nook, argv);
	oci_error("exec %s: %s", nook, strerror(errno));
	_exit(125);
}

int oci_write_file(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -1;
	if (fwrite(text, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	if (fclose(f) || rename(tmp, path))
		return -1;
	return 0;
}

/* plan's argv with --control and --records before the "--" (NULL-terminated, malloc'd;
 * the strings stay the plan's or the caller's). */
static char **vmm_argv(const struct oci_plan *p, char *ctl, char *records)
{
	char **v = calloc((size_t)p->args.argc + 5, sizeof(*v));
	int n = 0;

	if (!v)
		return NULL;
	for (int i = 0; i < p->args.argc; i++) {
		if (!strcmp(p->args.argv[i], "--") && ctl) {
			v[n++] = "--control";
			v[n++] = ctl;
			v[n++] = "--records";
			v[n++] = records;
			ctl = NULL;
		}
		v[n++] = p->args.argv[i];
	}
	return v;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The reason create's child wrote before it exited, or NULL (it reached exec). */
static const char *child_reason(int err_fd, char *buf, size_t len)
{
	ssize_t n = err_fd >= 0 ? read(err_fd, buf, len - 1) : -1;

	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

/* Until the guest booted and holds the workload: 0, or 1 after exactly one error line
 * (the VMM is gone or killed then). err_fd: the child's reason pipe. */
static int wait_held(const char *dir, pid_t pid, int err_fd)
{
	char reason[1024];
	static uint8_t buf[RUN_CTL_MAX_PAYLOAD + 1];
	long t0 = now_ms();
	struct run_ctl_frame f;
	int fd = -1, ws, r;

	/* The VMM makes the socket before it boots the guest: a few ms after the fork. */
	while (fd < 0) {
		if (waitpid(pid, &ws, WNOHANG) == pid) {
			if (child_reason(err_fd, reason, sizeof(reason)))
				return oci_error("%s", reason);
			return oci_error("the VMM exited before the guest booted (status %d)",
					 WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
		}
		if (now_ms() - t0 > OCI_BOOT_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			return oci_error("the VMM did not open its control socket");
		}
		fd = oci_ctl_connect(dir);
		if (fd < 0)
			usleep(10 * 1000);
	}
	if (oci_ctl_send(fd, RUN_CTL_WAIT, 0, 0, NULL, 0)) {
		close(fd);
		kill(pid, SIGKILL);
		return oci_error("cannot talk to the VMM: %s", strerror(errno));
	}
	{
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = OCI_BOOT_TIMEOUT_MS - (now_ms() - t0);

		if (poll(&pfd, 1, left > 0 ? (int)left : 0) <= 0) {
			close(fd);
			kill(pid, SIGKILL);
			return oci_error("the guest did not boot within %d s", OCI_BOOT_TIMEOUT_MS / 1000);
		}
	}
	r = oci_ctl_recv(fd, &f, buf);
	close(fd);
	if (r == 0 && f.type == RUN_CTL_HELD)
		return 0;
	/* EOF: the VMM ended during the boot; its own messages went to the container's
	 * stderr. An error frame is the one line reported. */
	kill(pid, SIGKILL);
	if (r == 0 && f.type == RUN_CTL_ERROR) {
		waitpid(pid, &ws, 0);
		return oci_error("the VMM: %s", (char *)buf);
	}
	if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws))
		return oci_error("the guest did not come up (VMM exit status %d)", WEXITSTATUS(ws));
	return oci_error("the guest did not come up");
}

static int cmd_create(const char *root, const char *id, const char *bundle,
		      const char *pid_file, const char *console_socket)
{
	struct oci_plan plan;
	char err[512], nook[PATH_MAX], dir[PATH_MAX], abs_bundle[PATH_MAX];
	char ctl[PATH_MAX + 16], records[PATH_MAX + 16], marker[PATH_MAX + 16], pidbuf[32];
	char **argv = NULL;
	int master = -1, slave = -1, ret = 1, errp[2] = { -1, -1 };
	long t0 = now_ms();
	pid_t pid;

	if (!realpath(bundle, abs_bundle))
		return oci_error("bundle %s: %s", bundle, strerror(errno));
	if (oci_spec_translate(abs_bundle, &plan, err, sizeof(err)))
		return oci_error("%s", err);
	if (plan.terminal && !console_socket) {
		oci_plan_free(&plan);
		return oci_error("process.terminal needs --console-socket");
	}
	if (nook_path(nook, sizeof(nook)) || access(nook, X_OK)) {
		oci_plan_free(&plan);
		return oci_error("cannot find nook next to nook-oci");
	}
	if (oci_state_dir(root, id, dir, sizeof(dir), true)) {
		oci_plan_free(&plan);
		return oci_error("container %s: %s", id, errno == EEXIST ? "already exists" : strerror(errno));
	}
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
	snprintf(records, sizeof(records), "%s/records", dir);
	snprintf(marker, sizeof(marker), "%s/created", dir);
	/* The workload waits at the init's start gate; the rest of the records is what
	 * nook run has no option for. */
	oci_rec(&plan.records, RUN_REC_HOLD, "1");
	if (oci_cgroup_prepare(&plan.cgroup, dir, err, sizeof(err))) {
		oci_error("%s", err);
		goto fail;
	}
	argv = vmm_argv(&plan, ctl, records);
	if (plan.records.oom || !argv) {
		oci_error("out of memory");
		goto fail;
	}
	if (oci_write_file(records, plan.records.data, plan.records.len) ||
	    oci_write_file(marker, "", 0)) {
		oci_error("container %s: cannot write its state: %s", id, strerror(errno));
		goto fail;
	}
	if (plan.terminal) {
		/* The master goes to conmon before create returns (it fails otherwise). */
		if (oci_pty_open(&master, &slave)) {
			oci_error("pty: %s", strerror(errno));
			goto fail;
		}
		if (oci_send_console(console_socket, master)) {
			oci_error("--console-socket %s: %s", console_socket, strerror(errno));
			goto fail;
		}
		close(master);
		master = -1;
	}
	if (pipe2(errp, O_CLOEXEC)) {
		oci_error("pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		oci_error("fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(errp[0]);
		create_child(&plan, argv, nook, slave, errp[1]);
	}
	close(errp[1]);
	errp[1] = -1;
	if (slave >= 0)
		close(slave);
	slave = -1;
	if (oci_state_save(dir, id, pid, abs_bundle, plan.rootfs, plan.annotations)) {
		kill(pid, SIGKILL);
		oci_error("container %s: cannot write its state", id);
		goto fail;
	}
	if (pid_file) {
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
		if (oci_write_file(pid_file, pidbuf, strlen(pidbuf))) {
			kill(pid, SIGKILL);
			oci_error("--pid-file %s: %s", pid_file, strerror(errno));
			goto fail;
		}
	}
	if (wait_held(dir, pid, errp[0]))
		goto fail;
	/* For bench-oci: how long create took (the guest's boot, mostly). */
	snprintf(pidbuf, sizeof(pidbuf), "%ld\n", now_ms() - t0);
	snprintf(marker, sizeof(marker), "%s/create_ms", dir);
	oci_write_file(marker, pidbuf, strlen(pidbuf));
	ret = 0;
	goto out;
fail:
	oci_cgroup_remove(dir);
	oci_state_remove(dir);
out:
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	free(argv);
	oci_plan_free(&plan);
	return ret;
}

static int cmd_start(const char *root, const char *id)
{
	static uint8_t buf[RUN_CTL_MAX_PAYLOAD + 1];
	struct run_ctl_frame f;
	struct oci_state st;
	char dir[PATH_MAX], marker[PATH_MAX + 16], ms[32];
	long t0 = now_ms();
	int fd, r;

	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	if (strcmp(st.status, "created"))
		return oci_error("container %s is %s, not created", id, st.status);
	fd = oci_ctl_connect(dir);
	if (fd < 0)
		return oci_error("container %s: cannot reach its VMM: %s", id, strerror(errno));
	if (oci_ctl_send(fd, RUN_CTL_START, 0, 0, NULL, 0)) {
		close(fd);
		return oci_error("container %s: its VMM is gone", id);
	}
	r = oci_ctl_recv(fd, &f, buf);
	close(fd);
	if (r == 0 && f.type == RUN_CTL_ERROR)
		return oci_error("container %s: %s", id, (char *)buf);
	/* STARTED, or EOF: the VMM ended right after the start (a workload that was done
	 * at once); either way the container is no longer "created". */
	snprintf(marker, sizeof(marker), "%s/created", dir);
	unlink(marker);
	snprintf(ms, sizeof(ms), "%ld\n", now_ms() - t0);
	snprintf(marker, sizeof(marker), "%s/start_ms", dir);
	oci_write_file(marker, ms, strlen(ms));
	return 0;
}

static int cmd_state(const char *root, const char *id)
{
	struct oci_state st;
	char dir[PATH_MAX];
	int r;

	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	r = oci_state_print(&st, stdout) ? 1 : 0;
	oci_state_free(&st);
	return r;
}

static int parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end)
		return n >= 0 && n < NSIG ? (int)n : -1;	/* 0: podman's liveness probe */
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);

		if (abbrev && !strcasecmp(s, abbrev))
			return i;
	}
	return -1;
}

/* Signal 0 probes the VMM; SIGKILL ends it (the container's status is then 137); any
 * other signal goes to the workload through the guest init (the VMM's own SIGTERM relay
 * when the control socket cannot be reached). */
static int cmd_kill(const char *root, const char *id, const char *sig)
{
	struct oci_state st;
	char dir[PATH_MAX];
	int signo = parse_signal(sig ? sig : "SIGTERM"), fd;

	if (signo < 0)
		return oci_error("unknown signal %s", sig);
	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	if (!strcmp(st.status, "stopped"))
		return oci_error("container %s is not running", id);
	if (signo && signo != SIGKILL && (fd = oci_ctl_connect(dir)) >= 0) {
		int r = oci_ctl_send(fd, RUN_CTL_SIGNAL, (uint8_t)signo, 0, NULL, 0);

		close(fd);
		if (!r)
			return 0;
	}
	if (kill(st.pid, signo))
		return oci_error("kill %d: %s", st.pid, strerror(errno));
	return 0;
}

static int cmd_delete(const char *root, const char *id, bool force)
{
	struct oci_state st;
	char dir[PATH_MAX];

	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	if (strcmp(st.status, "stopped")) {
		if (!force && strcmp(st.status, "created"))
			return oci_error("container %s is running (use --force)", id);
		kill(st.pid, SIGKILL);
		/* Gone before the state is: a `state` right after says "does not exist", never
		 * "running" (runc waits the same way). */
		for (int i = 0; i < 200 && kill(st.pid, 0) == 0; i++) {
			struct oci_state now;
			char d2[PATH_MAX];

			if (oci_state_load(root, id, d2, sizeof(d2), &now) || !strcmp(now.status, "stopped"))
				break;
			usleep(10 * 1000);
		}
	}
	oci_cgroup_remove(dir);
	return oci_state_remove(dir) ? oci_error("container %s: %s", id, strerror(errno)) : 0;
}

static void usage(FILE *f)
{
	fputs("usage: nook-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
	      "                [--systemd-cgroup] VERB ...\n"
	      "  create --bundle DIR [--pid-file FILE] [--console-socket SOCK] ID\n"
	      "  exec --process FILE [--pid-file FILE] [--detach] [--tty --console-socket SOCK] ID\n"
	      "  exec [--cwd DIR] [--env K=V]... [--user UID[:GID]] [--additional-gids GID]...\n"
	      "       [--no-new-privs] [--tty --console-socket SOCK] [--pid-file FILE] [--detach]\n"
	      "       ID COMMAND [ARG...]\n"
	      "  start ID | state ID | kill ID [SIGNAL] | delete [--force] ID | --version\n", f);
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL when argv[*i] is not --opt. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int main(int argc, char **argv)
{
	const char *root = "/run/nook-oci", *v, *verb, *bundle = ".", *pid_file = NULL;
	const char *console = NULL, *pos[2] = { NULL, NULL }, *process = NULL;
	bool force = false, detach = false;
	int i = 1, npos = 0;
	/* exec by arguments: --env and --additional-gids are repeatable, at most argc each */
	struct oci_exec_args xa = { 0 };
	const char **xenv = calloc((size_t)argc, sizeof(*xenv));
	const char **xgids = calloc((size_t)argc, sizeof(*xgids));

	/* Global flags before the verb. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("nook-oci version %s\nspec: 1.0.2\n", NOOK_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if ((v = opt_value(argc, argv, &i, "--root"))) {
			root = v;
		} else if ((v = opt_value(argc, argv, &i, "--log"))) {
			oci_log_path = v;
		} else if ((v = opt_value(argc, argv, &i, "--log-format"))) {
			oci_log_json = !strcmp(v, "json");
		} else if (!strcmp(argv[i], "--debug") || !strcmp(argv[i], "--systemd-cgroup")) {
			/* accepted; the cgroup is joined by path (cgroupfs) */
		} else {
			return oci_error("unknown option %s", argv[i]);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	if (!xenv || !xgids)
		return oci_error("out of memory");
	xa.env = xenv;
	xa.gids = xgids;
	verb = argv[i++];
	for (; i < argc; i++) {
		bool is_exec = !strcmp(verb, "exec");

		if (is_exec && npos == 1) {
			/* after the id: the command and its own options (runc's form) */
			if (!strcmp(argv[i], "--"))
				i++;
			xa.argv = argv + i;
			xa.argc = argc - i;
			break;
		}
		if (is_exec && (v = opt_value(argc, argv, &i, "--cwd")))
			xa.cwd = v;
		else if (is_exec && ((v = opt_value(argc, argv, &i, "--env")) ||
				     (v = opt_value(argc, argv, &i, "-e"))))
			xenv[xa.nenv++] = v;
		else if (is_exec && ((v = opt_value(argc, argv, &i, "--user")) ||
				     (v = opt_value(argc, argv, &i, "-u"))))
			xa.user = v;
		else if (is_exec && ((v = opt_value(argc, argv, &i, "--additional-gids")) ||
				     (v = opt_value(argc, argv, &i, "-g"))))
			xgids[xa.ngids++] = v;
		else if (is_exec && !strcmp(argv[i], "--no-new-privs"))
			xa.no_new_privs = true;
		else if (is_exec && (!strcmp(argv[i], "--tty") || !strcmp(argv[i], "-t")))
			xa.tty = true;	/* with --process, process.terminal says it */
		else if ((v = opt_value(argc, argv, &i, "--bundle")) || (v = opt_value(argc, argv, &i, "-b")))
			bundle = v;
		else if ((v = opt_value(argc, argv, &i, "--pid-file")))
			pid_file = v;
		else if ((v = opt_value(argc, argv, &i, "--console-socket")))
			console = v;
		else if ((v = opt_value(argc, argv, &i, "--process")) || (v = opt_value(argc, argv, &i, "-p")))
			process = v;
		else if (!strcmp(argv[i], "--detach") || !strcmp(argv[i], "-d"))
			detach = true;
		else if (!strcmp(argv[i], "--tty") || !strcmp(argv[i], "-t"))
			continue;	/* process.terminal says it */
		else if ((v = opt_value(argc, argv, &i, "--preserve-fds"))) {
			if (strcmp(v, "0"))
				return oci_error("--preserve-fds %s: passing file descriptors into a VM is not supported", v);
		} else if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = true;
		else if (!strcmp(argv[i], "--no-pivot") || !strcmp(argv[i], "--no-new-keyring") ||
			 !strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			continue;
		else if (argv[i][0] == '-' && argv[i][1] && !(npos == 1 && !strcmp(verb, "kill")))
			return oci_error("%s: unknown option %s", verb, argv[i]);
		else if (npos < 2)
			pos[npos++] = argv[i];
		else
			return oci_error("%s: too many arguments", verb);
	}
	if (!pos[0])
		return oci_error("%s: missing container id", verb);
	if (!oci_state_valid_id(pos[0]))
		return oci_error("invalid container id %s", pos[0]);
	if (!strcmp(verb, "create"))
		return cmd_create(root, pos[0], bundle, pid_file, console);
	if (!strcmp(verb, "start"))
		return cmd_start(root, pos[0]);
	if (!strcmp(verb, "state"))
		return cmd_state(root, pos[0]);
	if (!strcmp(verb, "kill"))
		return cmd_kill(root, pos[0], pos[1]);
	if (!strcmp(verb, "delete"))
		return cmd_delete(root, pos[0], force);
	if (!strcmp(verb, "exec"))
		return cmd_exec(root, pos[0], process, xa.argc > 0 ? &xa : NULL, pid_file,
				console, detach);
	return oci_error("unknown verb %s", verb);
}
