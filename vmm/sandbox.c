/*
 * The VMM process's sandbox, see vmm/sandbox.h and SECURITY.md ("What each layer
 * stops"). Everything a running VM needs is open before sandbox_enter(): /dev/kvm and
 * the VM fds, guest RAM and the mapped kernel, the console, the shares as O_PATH fds.
 * What the file server still opens by path is /proc/self/fd/N (reopening its own fds,
 * xattrs), so the empty root holds a bind mount of this process's own /proc/PID at
 * /proc/self and nothing else: no other process, no /dev, no host file.
 */
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/landlock.h"
#include "vmm/seccomp_int.h"

#define CAP(n) (1ULL << (n))

/*
 * What the passthrough server needs to act for the guest's users on the share (each
 * listed in SECURITY.md with its reason): ownership and mode changes of files it does
 * not own, access regardless of modes, file handles (open_by_handle_at), per-request
 * fsuid/fsgid, device nodes, security.capability xattrs.
 */
#define SANDBOX_CAPS_SERVER (CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | \
	CAP(CAP_DAC_READ_SEARCH) | CAP(CAP_FOWNER) | CAP(CAP_FSETID) | CAP(CAP_SETUID) | \
	CAP(CAP_SETGID) | CAP(CAP_MKNOD) | CAP(CAP_SETFCAP))

static enum sandbox_mode sandbox_mode = SANDBOX_NONE;
static _Thread_local bool sandbox_dropped;

bool sandbox_thread_dropped(void)
{
	return sandbox_dropped;
}

int sandbox_parse_mode(const char *s, enum sandbox_mode *out, char *err, size_t errlen)
{
	static const char *const names[] = { "namespace", "chroot", "none" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum sandbox_mode)i;
			return 0;
		}
	}
	return err_printf(err, errlen, "--sandbox %s: expected namespace, chroot or none", s);
}

int sandbox_default_mode(enum sandbox_mode *out, char *err, size_t errlen)
{
	const char *env = getenv("NOOK_SANDBOX");

	*out = SANDBOX_DEFAULT;
	if (!env || !*env)
		return 0;
	if (sandbox_parse_mode(env, out, NULL, 0))
		return err_printf(err, errlen, "NOOK_SANDBOX=%s: expected namespace, chroot or none",
				  env);
	return 0;
}

int sandbox_parse_arg(int argc, char **argv, int *i, enum sandbox_mode *out, char *err,
		      size_t errlen)
{
	const char *a = argv[*i];

	if (strncmp(a, "--sandbox", 9) || (a[9] && a[9] != '='))
		return 0;
	if (!a[9]) {
		if (*i + 1 >= argc)
			return err_printf(err, errlen, "--sandbox needs a value (namespace, chroot or none)");
		a = argv[++*i];
	} else {
		a += 10;
	}
	return sandbox_parse_mode(a, out, err, errlen) ? -1 : 1;
}

enum sandbox_mode sandbox_resolve(enum sandbox_mode requested)
{
	if (requested != SANDBOX_DEFAULT)
		return requested;
	if (geteuid() == 0)
		return SANDBOX_NAMESPACE;
	fprintf(stderr, "nook: not running as root: no sandbox (--sandbox none); "
		"seccomp filters still apply\n");
	return SANDBOX_NONE;
}

enum sandbox_mode sandbox_active(void)
{
	return sandbox_mode;
}

uint64_t sandbox_caps(int kind)
{
	switch (kind) {
	case THREAD_FS_WORKER:
		return SANDBOX_CAPS_SERVER;
	/* /dev/fuse: also kernel passthrough backing ids (FUSE_DEV_IOC_BACKING_OPEN is
	 * CAP_SYS_ADMIN only). */
	case THREAD_FUSE_DEV:
	case THREAD_FUSE_URING:
		return SANDBOX_CAPS_SERVER | CAP(CAP_SYS_ADMIN);
	/* fanotify_init is CAP_SYS_ADMIN; reopening by handle needs DAC_READ_SEARCH. */
	case THREAD_FS_WATCH:
		return CAP(CAP_SYS_ADMIN) | CAP(CAP_DAC_READ_SEARCH);
	/* umount2 of its own mount at exit. */
	case THREAD_FS_SERVE:
		return CAP(CAP_SYS_ADMIN);
	/* It gives each child its kind's set: it must hold all of them. */
	case SECCOMP_SPAWNER:
		return SANDBOX_CAPS_SERVER | CAP(CAP_SYS_ADMIN);
	default:	/* vCPU, queue threads, the event loop: none */
		return 0;
	}
}

/* Keeps exactly `keep` in this thread: bounding set, ambient, then capset. */
static int sandbox_set_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	sandbox_dropped = true;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capget, &h, d))
		return -errno;
	/* Bounding set first: dropping from it needs CAP_SETPCAP, which capset removes. A
	 * thread without it (created by one that already dropped) has nothing to regain:
	 * its permitted set only shrinks, and no list allows execve. */
	for (int cap = 0; (d[0].effective & CAP(CAP_SETPCAP)) && cap <= CAP_LAST_CAP; cap++)
		if (!(keep & CAP(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));

		d[i].effective &= k;
		d[i].permitted &= k;
		d[i].inheritable = 0;
	}
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

int sandbox_thread(int kind)
{
	int r;

	if (sandbox_mode == SANDBOX_NONE)
		return 0;
	r = sandbox_set_caps(sandbox_caps(kind));
	/* The spawner takes the union of every kind's rules later, once they are all
	 * known (landlock_restrict_spawner before each thread it starts). */
	return r ? r : landlock_restrict(kind);
}

/* RLIMIT_NOFILE to its hard limit: the server's fds for guest inodes and open files. */
static void sandbox_raise_nofile(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/*
 * Landlock on, with what kinds other than the servers need beyond the shares (these
 * are opened here, before any pivot_root: the rules keep their inodes, which the new
 * root shows again at /proc/self):
 *   event-loop  reads /proc/self (the memory report at teardown);
 *   fuse-dev    read/write and ioctls on /dev/fuse (a clone of the device per poller).
 * The shares are added as they are opened (pt_fs_init), the version table directory
 * for its removal at teardown (vtab_open).
 */
static void sandbox_landlock_prepare(void)
{
	int fd;

	if (!landlock_enable())
		return;
	fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		landlock_allow(fd, LANDLOCK_KIND(THREAD_EVENT_LOOP),
			       LANDLOCK_FS_READ_FILE | LANDLOCK_FS_READ_DIR);
		close(fd);
	}
	fd = open("/dev/fuse", O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		landlock_allow(fd, LANDLOCK_KIND(THREAD_FUSE_DEV) | LANDLOCK_KIND(THREAD_FUSE_URING),
			       LANDLOCK_FS_READ_FILE | LANDLOCK_FS_WRITE_FILE | LANDLOCK_FS_IOCTL_DEV);
		close(fd);
	}
}

/* Set by sandbox_prepare for `nook fs serve`: no new root (sandbox_enter only drops). */
static bool sandbox_host_mounts;

int sandbox_prepare(enum sandbox_mode mode, bool host_mounts, char *err, size_t errlen)
{
	int flags = host_mounts ? 0 : CLONE_NEWNS;

	sandbox_mode = SANDBOX_NONE;
	/* Always: the shares' fd budgets (max_fds) default from it. */
	sandbox_raise_nofile();
	if (mode == SANDBOX_DEFAULT)
		mode = sandbox_resolve(mode);
	if (mode == SANDBOX_NONE)
		return 0;
	/* One thread now, so every thread created later shares these namespaces. */
	if (mode == SANDBOX_NAMESPACE)
		flags |= CLONE_NEWNET;
	sandbox_host_mounts = host_mounts;
	sandbox_landlock_prepare();
	if (flags && unshare(flags))
		return err_printf(err, errlen, "sandbox: cannot create %s namespaces: %s "
				  "(--sandbox none runs without)",
				  !(flags & CLONE_NEWNS) ? "network" :
				  (flags & CLONE_NEWNET) ? "mount and network" : "mount",
				  strerror(errno));
	/* Nothing we mount or unmount from here on reaches the host's namespace. */
	if (!host_mounts && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return err_printf(err, errlen, "sandbox: making mounts private: %s",
				  strerror(errno));
	sandbox_mode = mode;
	return 0;
}

/*
 * The empty root: a small read-only tmpfs with /proc/self, this process's own /proc/PID
 * (bind mounted: other processes stay invisible), and .old where pivot_root puts the old
 * root. Mounted over an existing directory of the private namespace: the host's tree is
 * not changed. (With chroot it stays there: a share holding that directory, /tmp under
 * a host root, shows the guest an empty one; pivot_root moves it away.)
 */
static int sandbox_build_root(char dir[static 16], size_t len, char *err, size_t errlen)
{
	static const char *const bases[] = { "/tmp", "/run", "/mnt", "/var/tmp", "/dev" };
	char path[128];
	struct stat st;
	unsigned i;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		if (!stat(bases[i], &st) && S_ISDIR(st.st_mode))
			break;
	if (i == sizeof(bases) / sizeof(bases[0]))
		return err_printf(err, errlen, "sandbox: no directory to build the root on");
	snprintf(dir, len, "%s", bases[i]);
	if (mount("nook-sandbox", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,nr_inodes=16,mode=0755"))
		return err_printf(err, errlen, "sandbox: tmpfs for the root: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/.old", dir);
	if (mkdir(path, 0))
		return err_printf(err, errlen, "sandbox: %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/proc", dir);
	if (mkdir(path, 0555))
		return err_printf(err, errlen, "sandbox: %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/proc/self", dir);
	if (mkdir(path, 0555))
		return err_printf(err, errlen, "sandbox: %s: %s", path, strerror(errno));
	if (mount("/proc/self", path, NULL, MS_BIND, NULL) ||
	    mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return err_printf(err, errlen, "sandbox: /proc/self into the root: %s",
				  strerror(errno));
	return 0;
}

int sandbox_enter(char *err, size_t errlen)
{
	char dir[64];
	int r;

	if (sandbox_mode == SANDBOX_NONE)
		return 0;
	/* Every share is open: the spawner may now take the union of the rules. */
	landlock_freeze();
	if (sandbox_host_mounts)
		goto drop;
	if (sandbox_build_root(dir, sizeof(dir), err, errlen))
		return -1;
	if (chdir(dir))
		return err_printf(err, errlen, "sandbox: %s: %s", dir, strerror(errno));
	if (sandbox_mode == SANDBOX_NAMESPACE) {
		/*
		 * The old root stays attached, at /.old under an empty read-only tmpfs:
		 * detaching it (umount -l) would also cut the shares' O_PATH fds off the
		 * mounts below them (a bind mount in a share, /boot under a host root),
		 * and the guest would see the directories under them instead. Nothing
		 * here can uncover it: no thread may umount (seccomp) or holds
		 * CAP_SYS_ADMIN in the VM.
		 */
		if (syscall(SYS_pivot_root, ".", ".old"))
			return err_printf(err, errlen, "sandbox: pivot_root: %s (try --sandbox chroot)",
					  strerror(errno));
		if (mount("nook-sandbox-old", "/.old", "tmpfs",
			  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0"))
			return err_printf(err, errlen, "sandbox: covering the old root: %s",
					  strerror(errno));
	} else if (chroot(".")) {
		return err_printf(err, errlen, "sandbox: chroot: %s", strerror(errno));
	}
	/* Every thread sharing our fs_struct is now at the new "/" too. */
	if (chdir("/"))
		return err_printf(err, errlen, "sandbox: chdir /: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL))
		return err_printf(err, errlen, "sandbox: read-only root: %s", strerror(errno));
drop:
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return err_printf(err, errlen, "sandbox: no_new_privs: %s", strerror(errno));
	/* This thread (the event loop, and the vCPUs it starts) keeps nothing; fs serve's
	 * main thread keeps what unmounting at exit takes. */
	r = sandbox_set_caps(sandbox_host_mounts ? sandbox_caps(THREAD_FS_SERVE) : 0);
	if (r)
		return err_printf(err, errlen, "sandbox: dropping capabilities: %s", strerror(-r));
	/* The VM's main thread becomes the event loop: no file beyond /proc/self and the
	 * version table's removal. fs serve's main thread is not restricted: it unmounts
	 * at exit, which Landlock forbids to a restricted thread. */
	r = sandbox_host_mounts ? 0 : landlock_restrict(THREAD_EVENT_LOOP);
	if (r)
		return err_printf(err, errlen, "sandbox: landlock: %s", strerror(-r));
	return 0;
}
