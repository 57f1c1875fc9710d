/*
 * nook's built-in guest init for `nook run -- CMD` (contract: vmm/run_proto.h).
 *
 * The kernel runs it as PID 1 (init=/.nook-init) from a virtio-fs root. It maps the
 * run-status register, reads the run request, mounts what the command needs, starts the
 * command with its stdio on virtio-console ports (or /dev/hvc0 as its terminal), relays
 * signals, reaps, reports the exit status and reboots. PID 1 must never exit: every path
 * ends in finish().
 *
 * Guest kernel mode is emulated on the hosts nook targets (a system call or page fault
 * costs ~0.4-2 ms, kernel copies run at a few MB/s), user mode is native. So the code
 * counts system calls and touched pages rather than instructions:
 *  - no stdio, no malloc: messages are assembled in place, arrays live in .bss
 *    (and glibc's own start-up allocations go to a bump allocator, alloc.c);
 *  - the request is mmap()ed, not read() (no kernel copy), and parsed in place;
 *  - calls whose effect is already the kernel's initial state are skipped (umask,
 *    set*id/setgroups for root, chdir("/"), the signal mask, signal dispositions);
 *  - one overlay of the root serves every RUN_REC_OVERLAY directory (bind mounts of
 *    it), instead of an overlay mount, three mkdirs and a stat per directory;
 *  - pipe-mode ports are opened straight into fds 0-2, so the child dup2()s nothing;
 *  - the command is started with vfork(): no page-table copy, no copy-on-write faults;
 *  - with -v, step lines are written in one go just before the command starts, so the
 *    slow console does not distort the timestamps.
 *
 * Files: this one is PID 1's side (set-up, waiting, the end); command.c starts the
 * command; msg.c writes console messages; request.c parses the request; alloc.c is
 * the malloc.
 *
 * Built with -DRUN_INIT_HOST_TEST it runs on the host as a normal process (see
 * host_test_setup()): mounts and the other system-wide calls are logged instead of made,
 * the status register is a variable, and it exits with the status instead of rebooting.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "vmm/guest-init/init.h"
#include "vmm/run_proto.h"

_Static_assert((RUN_STATUS_GPA & 4095) == 0, "the status register starts a page");

enum { PORT_STDIN, PORT_STDOUT, PORT_STDERR, PORT_CTL, NR_PORTS };

static const char *const port_names[NR_PORTS] = {
	RUN_PORT_STDIN, RUN_PORT_STDOUT, RUN_PORT_STDERR, RUN_PORT_CTL,
};

/* Paths; the host test points some of them elsewhere. */
static const char *request_path = "/" RUN_REQUEST_NAME;
static const char *ports_dir = "/sys/class/virtio-ports";
static const char *dev_dir = "/dev";
const char *console_path = "/dev/console";
const char *tty_path = "/dev/hvc0";

volatile uint32_t *status_reg;
static bool dev_mounted;	/* /dev is a devtmpfs: mount points may be made there */

struct run_request req;
/* The request's pointer arrays (see request.h); only the pages used are ever touched. */
static char *arena[RUN_REQ_ARENA_MAX / sizeof(char *) + 1];

#ifdef RUN_INIT_HOST_TEST
static uint32_t fake_status_reg;
#endif

/* ---- system-wide calls: real in the guest, only logged in the host test ---- */

#ifdef RUN_INIT_HOST_TEST
static int fake(const char *what, const char *a, const char *b)
{
	step("[host test] ", what, " ", a, " ", b, NULL);
	return 0;
}
#define sys_mount(src, dst, type, flags, data) \
	((void)(flags), (void)(data), fake("mount", type, dst))
#define sys_mkdir(path, mode)			((void)(mode), fake("mkdir", path, ""))
#define sys_sethostname(name, len)		((void)(len), fake("sethostname", name, ""))
#else
#define sys_mount	mount
#define sys_mkdir	mkdir
#define sys_sethostname	sethostname
#endif

static void host_test_show_status(void)
{
#ifdef RUN_INIT_HOST_TEST
	char hex[11] = "0x";

	for (int i = 0; i < 8; i++)
		hex[2 + i] = "0123456789abcdef"[fake_status_reg >> (28 - 4 * i) & 0xf];
	hex[10] = '\0';
	step("[host test] status register ", hex, NULL);
#endif
}

/* ---- the end ---- */

static void __attribute__((noreturn)) finish(int status)
{
	char num[21];

	step("finishing with status ", utoa(num, (unsigned int)status & 0xff), NULL);
	log_flush();	/* LOG_EARLY: the request never said, so everything is shown */
	/* Closing the ports tells the host their guest side is gone (nothing waits on
	 * them); closing everything costs one call instead of one per port. */
	close_range(0, ~0U, 0);
	console_fd = -1;
#ifdef RUN_INIT_HOST_TEST
	status_write(RUN_STATUS_MAGIC | RUN_STATUS_EXIT | ((unsigned int)status & 0xff));
	host_test_show_status();
	exit(status & 0xff);
#else
	sync();
	status_write(RUN_STATUS_MAGIC | RUN_STATUS_EXIT | ((unsigned int)status & 0xff));
	/* reboot=k: the i8042 reset ends the VM */
	reboot(RB_AUTOBOOT);
	problem(errno, "reboot failed", NULL);
	for (;;)
		pause();
#endif
}

/* ---- 1. status register ---- */

static void status_map(void)
{
#ifdef RUN_INIT_HOST_TEST
	status_reg = &fake_status_reg;
	dev_mounted = true;
	status_write(RUN_STATUS_MAGIC | RUN_STATUS_INIT);
	host_test_show_status();
#else
	void *p;
	int fd;

	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	/* The kernel automounts devtmpfs on /dev (DEVTMPFS_MOUNT); mount it only if that
	 * did not happen, rather than paying a mount that fails with EBUSY. */
	if (fd < 0 && errno == ENOENT) {
		if (sys_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") == 0) {
			step("mounted devtmpfs on /dev", NULL);
			dev_mounted = true;
			fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
		} else if (errno == EBUSY) {
			dev_mounted = true;	/* a devtmpfs without /dev/mem (no DEVMEM) */
			errno = ENOENT;
		} else {
			problem(errno, "cannot mount devtmpfs on /dev", NULL);
			errno = ENOENT;
		}
	}
	if (fd < 0) {
		problem(errno, "cannot open /dev/mem: the host will see no exit status", NULL);
		return;
	}
	dev_mounted = true;
	/* The fd stays open (O_CLOEXEC): closing it would be one more call for nothing. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)RUN_STATUS_GPA);
	if (p == MAP_FAILED) {
		problem(errno, "cannot map the run-status register from /dev/mem: the host will "
			"see no exit status", NULL);
		return;
	}
	status_reg = p;
	status_write(RUN_STATUS_MAGIC | RUN_STATUS_INIT);
	step("run-status register mapped", NULL);
#endif
}

/* ---- 2. the request ---- */

static int load_request(void)
{
	struct stat st;
	char num[21];
	void *p;
	int fd;

	fd = open(request_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		problem(errno, "cannot open the run request ", request_path, NULL);
		return RUN_EXIT_SETUP;
	}
	if (fstat(fd, &st)) {
		problem(errno, "cannot stat ", request_path, NULL);
		return RUN_EXIT_SETUP;
	}
	if (st.st_size <= 0 || st.st_size > RUN_REQ_MAX_SIZE) {
		problem(0, "bad run request: ", utoa(num, (unsigned long)st.st_size), " bytes", NULL);
		return RUN_EXIT_SETUP;
	}
	/* Mapped: the page cache pages are used as they are, no kernel copy. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		/* A server that refuses mmap: read it, as any file. */
		ssize_t n = 0, got = 0;

		p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			problem(errno, "cannot map memory for the run request", NULL);
			return RUN_EXIT_SETUP;
		}
		while (got < st.st_size &&
		       (n = read(fd, (char *)p + got, (size_t)(st.st_size - got))) > 0)
			got += n;
		if (got != st.st_size) {
			problem(n < 0 ? errno : 0, "cannot read the run request ", request_path,
				NULL);
			return RUN_EXIT_SETUP;
		}
	}
	/* The fd stays open (O_CLOEXEC); the mapping holds the file anyway. */
	if (run_request_parse(&req, p, (size_t)st.st_size, arena, sizeof(arena))) {
		problem(0, "bad run request: ", req.error, NULL);
		return RUN_EXIT_SETUP;
	}
	step("run request: ", utoa(num, (unsigned long)st.st_size), " bytes", NULL);
	return 0;
}

/* ---- 3. file systems ---- */

struct basic_mount {
	const char *source, *target, *type, *data;
	unsigned long flags;
	bool on_dev;	/* mount point made on /dev's devtmpfs first */
};

static const struct basic_mount basic_mounts[] = {
	{ "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, false },
	{ "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, false },
	/* gid 5 is "tty" on the distributions we boot; ptmxmode for /dev/pts/ptmx */
	{ "devpts", "/dev/pts", "devpts", "gid=5,mode=0620,ptmxmode=0666", MS_NOSUID | MS_NOEXEC,
	  true },
	{ "tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, true },
	{ "tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, false },
};

/* The root may be read-only or someone's directory: mount points are never made there,
 * a missing one is skipped (-v says so). */
static void mount_basics(void)
{
	for (size_t i = 0; i < sizeof(basic_mounts) / sizeof(basic_mounts[0]); i++) {
		const struct basic_mount *m = &basic_mounts[i];

		if (m->on_dev) {
			if (!dev_mounted)
				continue;
			if (sys_mkdir(m->target, 0755) && errno != EEXIST) {
				problem(errno, "cannot create ", m->target, NULL);
				continue;
			}
		}
		if (sys_mount(m->source, m->target, m->type, m->flags, m->data) == 0)
			step("mounted ", m->type, " on ", m->target, NULL);
		else if (errno == ENOENT)
			step("skipped ", m->target, ": no mount point", NULL);
		else if (errno == EBUSY)
			step("skipped ", m->target, ": already mounted", NULL);
		else
			problem(errno, "cannot mount ", m->type, " on ", m->target, NULL);
	}
}

#define OVL_BASE	"/run/nook"
#define OVL_ROOT	OVL_BASE "/root"

/*
 * RUN_REC_OVERLAY: one overlay of the whole root share, with its upper layer on the
 * /run tmpfs (OVL_BASE/upper), mounted at OVL_ROOT; each listed directory then gets its
 * part of that overlay bind-mounted on top (overlay_dir()). The guest may write there
 * and the host never sees it, as with an overlay per directory, at a fraction of the
 * cost: an overlay mount is ~150 ms of emulated kernel work here, a bind far less, and
 * the directories keep the lower layer's mode and owner (/tmp stays 1777) with no stat
 * or chmod. The rest of the root stays read-only.
 */
static bool overlay_root(void)
{
	static const char *const dirs[] = {
		OVL_BASE, OVL_BASE "/upper", OVL_BASE "/work", OVL_ROOT,
	};
	const char *opts = "lowerdir=/,upperdir=" OVL_BASE "/upper,workdir=" OVL_BASE "/work";

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (sys_mkdir(dirs[i], 0755) && errno != EEXIST) {
			problem(errno, "cannot create ", dirs[i], " (is /run a tmpfs?)", NULL);
			return false;
		}
	}
	if (sys_mount("overlay", OVL_ROOT, "overlay", 0, opts)) {
		int err = errno;

		/* xino is off by default here; forced off only if the kernel objects */
		if (sys_mount("overlay", OVL_ROOT, "overlay", 0,
			      "lowerdir=/,upperdir=" OVL_BASE "/upper,workdir=" OVL_BASE "/work"
			      ",xino=off")) {
			problem(err, "cannot mount an overlay of the root on " OVL_ROOT, NULL);
			return false;
		}
	}
	step("overlay of the root on " OVL_ROOT ", upper layer " OVL_BASE "/upper", NULL);
	return true;
}

/* DIR gets its part of the root overlay; a DIR that does not exist is skipped. */
static void overlay_dir(const char *dir)
{
	char src[sizeof(OVL_ROOT) + RUN_REQ_MAX_PATH];

	if (!cat(src, sizeof(src), OVL_ROOT, dir, NULL))
		return;		/* cannot happen: the request's paths are bounded */
	if (sys_mount(src, dir, NULL, MS_BIND, NULL) == 0)
		step("writable overlay on ", dir, NULL);
	else if (errno == ENOENT || errno == ENOTDIR)
		step("skipped overlay on ", dir, ": not a directory", NULL);
	else
		/* DIR stays read-only: the command may not care */
		problem(errno, "cannot bind ", src, " on ", dir, NULL);
}

static bool is_tmp(const char *dir)
{
	return !strcmp(dir, "/tmp") || !strcmp(dir, "/tmp/");
}

/*
 * RUN_REC_MASK and RUN_REC_READONLY (OCI maskedPaths/readonlyPaths), after everything
 * else is mounted: a masked directory gets an empty read-only tmpfs, a masked file
 * /dev/null bound over it; a read-only path a read-only bind of itself. A path that
 * does not exist is skipped (most of podman's list is not in our kernel), as runc does.
 */
static void mask_paths(void)
{
	struct stat st;
	unsigned int i;

	for (i = 0; i < req.nmasked; i++) {
		const char *p = req.masked[i];

		if (stat(p, &st))
			continue;
		if (S_ISDIR(st.st_mode) ?
		    sys_mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			      "size=0") :
		    sys_mount("/dev/null", p, NULL, MS_BIND, NULL))
			problem(errno, "cannot mask ", p, NULL);
		else
			step("masked ", p, NULL);
	}
	for (i = 0; i < req.nreadonly; i++) {
		const char *p = req.readonly[i];

		if (stat(p, &st))
			continue;
		if (sys_mount(p, p, NULL, MS_BIND | MS_REC, NULL) ||
		    sys_mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
			problem(errno, "cannot make ", p, " read-only", NULL);
		else
			step("read-only ", p, NULL);
	}
}

/* Overlays, tmpfs, /tmp, shares, modules, in that order. 0, or an exit status. */
static int setup_fs(void)
{
	bool tmp_listed = false;
	unsigned int i;

	if (req.noverlays && overlay_root()) {
		for (i = 0; i < req.noverlays; i++)
			overlay_dir(req.overlays[i]);
	}
	for (i = 0; i < req.noverlays; i++)
		tmp_listed |= is_tmp(req.overlays[i]);
	for (i = 0; i < req.ntmpfs; i++) {
		const char *dir = req.tmpfs[i];

		tmp_listed |= is_tmp(dir);
		/* tmpfs' default mode 1777 suits every directory a host sends here */
		if (sys_mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, NULL) == 0)
			step("mounted tmpfs on ", dir, NULL);
		else if (errno == ENOENT)
			step("skipped tmpfs on ", dir, ": no such directory", NULL);
		else
			problem(errno, "cannot mount tmpfs on ", dir, NULL);
	}
	if (!tmp_listed) {
		if (sys_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, NULL) == 0)
			step("mounted tmpfs on /tmp", NULL);
		else if (errno == ENOENT)
			step("skipped /tmp: no mount point", NULL);
		else
			problem(errno, "cannot mount tmpfs on /tmp", NULL);
	}
	for (i = 0; i < req.nmounts; i++) {
		const struct run_req_mount *m = &req.mounts[i];

		/* default flags (suid, dev allowed): the share is the user's own tree */
		if (sys_mount(m->tag, m->path, "virtiofs", m->ro ? MS_RDONLY : 0, NULL)) {
			problem(errno, "cannot mount virtio-fs ", m->tag, " on ", m->path, NULL);
			return RUN_EXIT_SETUP;
		}
		step("mounted virtio-fs ", m->tag, " on ", m->path, m->ro ? " (ro)" : "", NULL);
	}
	if (req.modules_tag) {
		struct utsname u;
		char dir[sizeof(u.release) + 16];

		if (uname(&u) || !cat(dir, sizeof(dir), "/lib/modules/", u.release, NULL))
			problem(errno, "uname failed", NULL);
		else if (sys_mount(req.modules_tag, dir, "virtiofs", MS_RDONLY, NULL) == 0)
			step("mounted virtio-fs ", req.modules_tag, " on ", dir, NULL);
		else if (errno == ENOENT)
			step("skipped modules: no ", dir, NULL);
		else
			problem(errno, "cannot mount virtio-fs ", req.modules_tag, " on ", dir, NULL);
	}
	mask_paths();
	return 0;
}

/* ---- 4. stdio ---- */

/*
 * Finds the ports in `want` (bits of PORT_*) by name in /sys/class/virtio-ports and
 * stores their device names ("vport2p1") in dev. Returns the bits found.
 */
static unsigned int scan_ports(unsigned int want, char dev[NR_PORTS][32])
{
	char buf[2048] __attribute__((aligned(8)));
	unsigned int found = 0;
	ssize_t n;
	int dfd;

	dfd = open(ports_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		problem(errno, "cannot open ", ports_dir, NULL);
		return 0;
	}
	/*
	 * sysfs fills the buffer with every entry that fits, so a read that leaves room
	 * for another entry was the last one: no second getdents64 to see the end.
	 */
	do {
		n = getdents64(dfd, buf, sizeof(buf));
		for (ssize_t off = 0; off < n && found != want;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			char path[64], name[64];
			size_t len = strlen(d->d_name);
			ssize_t got;
			int fd, i;

			off += d->d_reclen;
			/* port 0 is the console (hvc0), never a pipe port (run_proto.h) */
			if (d->d_name[0] == '.' || len < 2 || len >= 32 ||
			    !strcmp(d->d_name + len - 2, "p0"))
				continue;
			if (!cat(path, sizeof(path), d->d_name, "/name", NULL))
				continue;
			/* left open (O_CLOEXEC): a close would be one more call for nothing */
			fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			got = read(fd, name, sizeof(name) - 1);
			if (got <= 0)
				continue;
			if (name[got - 1] == '\n')
				got--;
			name[got] = '\0';
			for (i = 0; i < NR_PORTS; i++) {
				if ((want & (1u << i)) && !(found & (1u << i)) &&
				    !strcmp(name, port_names[i])) {
					memcpy(dev[i], d->d_name, len + 1);
					found |= 1u << i;
				}
			}
		}
	} while (n > 0 && found != want && (size_t)n + 300 > sizeof(buf));
	return found;
}

/*
 * Pipe mode: the stdio ports become this process's fds 0-2 (the console fds the
 * kernel gave us are closed first), so the child inherits them where they belong. A
 * missing port is replaced by /dev/null (stdin) or the console, and reported.
 */
static void open_stdio(void)
{
	char dev[NR_PORTS][32], path[64];
	unsigned int want = 1u << PORT_CTL, found, fallback = 0;
	int err[3] = { 0, 0, 0 };

	/* tty mode has no pipe ports, but the host may still relay signals */
	if (!req.tty)
		want |= (1u << PORT_STDIN) | (1u << PORT_STDOUT) | (1u << PORT_STDERR);
	found = scan_ports(want, dev);
	if (!req.tty) {
		close_range(0, 2, 0);
		console_fd = -1;
		/* No message until fds 0-2 are taken: the console would reopen on one. */
		for (int i = 0; i < 3; i++) {
			int fd = -1;

			if ((found & (1u << i)) &&
			    cat(path, sizeof(path), dev_dir, "/", dev[i], NULL)) {
				fd = open(path, i == PORT_STDIN ? O_RDONLY : O_WRONLY);
				if (fd < 0)
					err[i] = errno;
			}
			if (fd < 0) {
				fallback |= 1u << i;
				fd = i == PORT_STDIN ? open("/dev/null", O_RDONLY) :
				     open(console_path, O_WRONLY | O_NOCTTY | O_APPEND);
			}
			/* only when an open failed outright and the numbers shifted */
			if (fd >= 0 && fd != i) {
				dup2(fd, i);
				close(fd);
			}
		}
		for (int i = 0; i < 3; i++) {
			if (fallback & (1u << i))
				problem(err[i], "no ", port_names[i], " port: ", i == PORT_STDIN ?
					"stdin is /dev/null" : "output goes to the console", NULL);
		}
		step("stdio on virtio-console ports", NULL);
	}
	if ((found & (1u << PORT_CTL)) &&
	    cat(path, sizeof(path), dev_dir, "/", dev[PORT_CTL], NULL)) {
		ctl_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (ctl_fd < 0)
			problem(errno, "cannot open ", path, NULL);
		else
			step("control on ", path, NULL);
	} else {
		step("no " RUN_PORT_CTL " port: no signal relay, no exec", NULL);
	}
}

/* ---- 5. PID 1 ---- */

#ifdef RUN_INIT_HOST_TEST
/*
 * nook-init-host REQUEST [PORTS_DIR DEV_DIR]: PORTS_DIR holds vportNpM/name files and
 * DEV_DIR the "devices" (fifos or files). NOOK_TEST_CONSOLE is the console (a file
 * that exists; default /dev/null), NOOK_TEST_TTY the tty-mode terminal (a pty slave).
 */
static void host_test_setup(int argc, char **argv)
{
	const char *s;

	if (argc < 2) {
		problem(0, "usage: nook-init-host REQUEST [PORTS_DIR DEV_DIR]", NULL);
		exit(2);
	}
	request_path = argv[1];
	ports_dir = argc > 2 ? argv[2] : "/nonexistent";
	dev_dir = argc > 3 ? argv[3] : "/nonexistent";
	console_path = (s = getenv("NOOK_TEST_CONSOLE")) ? s : "/dev/null";
	console_fd = -1;	/* opened at the first message */
	if ((s = getenv("NOOK_TEST_TTY")))
		tty_path = s;
	/* orphans of the command come to us, as they would to PID 1 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}
#endif

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	(void)argc;
	(void)argv;
	log_start();
#ifdef RUN_INIT_HOST_TEST
	host_test_setup(argc, argv);
#endif
	status_map();
	status = load_request();
	if (status)
		finish(status);
	log_decided(req.verbose);

	mount_basics();
	status = setup_fs();
	if (status)
		finish(status);
	if (req.hostname) {
		if (sys_sethostname(req.hostname, strlen(req.hostname)))
			problem(errno, "cannot set the host name", NULL);
		else
			step("host name ", req.hostname, NULL);
	}
	net_loopback_up();
	open_stdio();
	if (req.hold) {
		status = control_hold();
		if (status)
			finish(status);
	}
	step("starting ", req.argv[0], NULL);
	log_flush();
	pid = spawn_command();
	if (pid < 0) {
		problem(errno, "cannot start the command", NULL);
		finish(RUN_EXIT_SETUP);
	}
	control_started();
	host_test_show_status();
	finish(control_wait(pid));
}
