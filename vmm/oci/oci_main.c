/*
 * nook-oci: the runc-style CLI that podman drives through conmon. Each container is one
 * `nook run` VMM process: create forks it (the pid in --pid-file, reparented to conmon,
 * its exit status is the container's), holds it at a FIFO until start (runc's exec.fifo
 * shape), and kill signals it (nook relays SIGTERM/SIGINT/SIGHUP to the guest workload
 * over its control port; SIGKILL ends the VMM).
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

#include "vmm/oci/oci_spec.h"
#include "vmm/oci/oci_state.h"

#ifndef NOOK_VERSION
#define NOOK_VERSION "0.0.0"
#endif

static const char *oci_log_path;
static bool oci_log_json;

/* One line on stderr; with --log-format=json also exactly one JSON object in --log. */
static int oci_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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

/* The VMM child: binds, wait for start at the FIFO, exec nook run. Never returns. */
static void create_child(const struct oci_plan *p, const char *fifo, const char *nook)
{
	char buf = 0;
	int fd;

	if (apply_binds(p))
		_exit(125);
	/* Blocks until `start` opens the FIFO for reading. */
	fd = open(fifo, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, &buf, 1) != 1)
		_exit(125);
	close(fd);
	execv(nook, p->args.argv);
	oci_error("exec %s: %s", nook, strerror(errno));
	_exit(125);
}

static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f) || rename(tmp, path))
		return -1;
	return 0;
}

static int cmd_create(const char *root, const char *id, const char *bundle,
		      const char *pid_file, const char *console_socket)
{
	struct oci_plan plan;
	char err[512], nook[PATH_MAX], dir[PATH_MAX], fifo[PATH_MAX + 32], abs_bundle[PATH_MAX];
	char pidbuf[32];
	pid_t pid;

	if (!realpath(bundle, abs_bundle))
		return oci_error("bundle %s: %s", bundle, strerror(errno));
	if (oci_spec_translate(abs_bundle, &plan, err, sizeof(err)))
		return oci_error("%s", err);
	if (plan.terminal && !console_socket) {
		oci_plan_free(&plan);
		return oci_error("process.terminal needs --console-socket");
	}
	if (plan.terminal) {
		oci_plan_free(&plan);
		return oci_error("process.terminal: a pty over --console-socket is not supported yet");
	}
	if (nook_path(nook, sizeof(nook)) || access(nook, X_OK)) {
		oci_plan_free(&plan);
		return oci_error("cannot find nook next to nook-oci");
	}
	if (oci_state_dir(root, id, dir, sizeof(dir), true)) {
		oci_plan_free(&plan);
		return oci_error("container %s: %s", id, errno == EEXIST ? "already exists" : strerror(errno));
	}
	snprintf(fifo, sizeof(fifo), "%s/start.fifo", dir);
	if (mkfifo(fifo, 0600)) {
		oci_plan_free(&plan);
		oci_state_remove(dir);
		return oci_error("%s: %s", fifo, strerror(errno));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		oci_plan_free(&plan);
		oci_state_remove(dir);
		return oci_error("fork: %s", strerror(errno));
	}
	if (pid == 0)
		create_child(&plan, fifo, nook);
	oci_plan_free(&plan);
	if (oci_state_save(dir, id, pid, abs_bundle)) {
		kill(pid, SIGKILL);
		oci_state_remove(dir);
		return oci_error("container %s: cannot write its state", id);
	}
	if (pid_file) {
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
		if (write_file(pid_file, pidbuf)) {
			kill(pid, SIGKILL);
			oci_state_remove(dir);
			return oci_error("--pid-file %s: %s", pid_file, strerror(errno));
		}
	}
	return 0;
}

static int cmd_start(const char *root, const char *id)
{
	struct oci_state st;
	char dir[PATH_MAX], fifo[PATH_MAX + 32], b;
	int fd;

	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	if (strcmp(st.status, "created"))
		return oci_error("container %s is %s, not created", id, st.status);
	snprintf(fifo, sizeof(fifo), "%s/start.fifo", dir);
	/* O_NONBLOCK: the child is already blocked in its open for writing (status created). */
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return oci_error("container %s: %s", id, strerror(errno));
	fcntl(fd, F_SETFL, 0);
	if (read(fd, &b, 1) != 1) {
		close(fd);
		return oci_error("container %s: its VMM is gone", id);
	}
	close(fd);
	unlink(fifo);
	return 0;
}

static int cmd_state(const char *root, const char *id)
{
	struct oci_state st;
	char dir[PATH_MAX];

	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	return oci_state_print(&st, stdout) ? 1 : 0;
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

static int cmd_kill(const char *root, const char *id, const char *sig)
{
	struct oci_state st;
	char dir[PATH_MAX];
	int signo = parse_signal(sig ? sig : "SIGTERM");

	if (signo < 0)
		return oci_error("unknown signal %s", sig);
	if (oci_state_load(root, id, dir, sizeof(dir), &st))
		return oci_error("container %s does not exist", id);
	if (!strcmp(st.status, "stopped"))
		return oci_error("container %s is not running", id);
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
	}
	return oci_state_remove(dir) ? oci_error("container %s: %s", id, strerror(errno)) : 0;
}

static void usage(FILE *f)
{
	fputs("usage: nook-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
	      "                [--systemd-cgroup] VERB ...\n"
	      "  create --bundle DIR [--pid-file FILE] [--console-socket SOCK] ID\n"
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
	const char *console = NULL, *pos[2] = { NULL, NULL };
	bool force = false;
	int i = 1, npos = 0;

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
	verb = argv[i++];
	for (; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--bundle")) || (v = opt_value(argc, argv, &i, "-b")))
			bundle = v;
		else if ((v = opt_value(argc, argv, &i, "--pid-file")))
			pid_file = v;
		else if ((v = opt_value(argc, argv, &i, "--console-socket")))
			console = v;
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
		return oci_error("exec: running a second process in the VM is not supported yet");
	return oci_error("unknown verb %s", verb);
}
