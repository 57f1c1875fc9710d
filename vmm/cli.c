#include "vmm/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/mptable.h"

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_APPEND, OPT_CPUS, OPT_MEMORY,
	OPT_CONSOLE, OPT_BOOT_TIMER, OPT_FS, OPT_ROOT, OPT_HELP,
	OPT_HOST_ROOT, OPT_RWDIR, OPT_RODIR, OPT_CWD, OPT_ENV_FILE, OPT_USER, OPT_TIMEOUT,
	OPT_MODULES, OPT_HOSTNAME, OPT_CONTROL, OPT_RECORDS, OPT_SECCOMP, OPT_SANDBOX,
};

static const struct option cli_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "fs", required_argument, NULL, OPT_FS },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "host-root", no_argument, NULL, OPT_HOST_ROOT },
	{ "rwdir", required_argument, NULL, OPT_RWDIR },
	{ "rodir", required_argument, NULL, OPT_RODIR },
	{ "cwd", required_argument, NULL, OPT_CWD },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "modules", required_argument, NULL, OPT_MODULES },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "records", required_argument, NULL, OPT_RECORDS },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 },
};

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: nook run [options]     boot a microVM\n"
		"       nook run [options] -- CMD [ARGS...]   run CMD in a microVM, exit with its status\n"
		"       nook fs serve SRC MOUNTPOINT [-o opts]   serve a directory over /dev/fuse\n"
		"       nook kconfig               print the kernel config fragment nook needs\n"
		"       nook --help | --version\n"
		"\n"
		"run options:\n"
		"  --kernel PATH     ELF vmlinux or bzImage (default: guest/vmlinux next to nook)\n"
		"  --initrd PATH     initramfs (default: guest/initramfs.cpio next to nook when\n"
		"                    the default kernel is used)\n"
		"  --cmdline STR     replace the default kernel command line (nook keeps its\n"
		"                    device parameters, and on software-virtualized hosts the\n"
		"                    parameters the guest needs there; see NOOK_LOG=debug)\n"
		"  --append STR      add to the kernel command line\n"
		"  --cpus N          vCPUs (default 1, at most %d and the KVM limit)\n"
		"  --memory SIZE     guest RAM, suffix K/M/G (bare number: MiB; default 128M)\n"
		"  --console MODE    stdio (default), none, or a FILE receiving the output\n"
		"  --boot-timer      print the boot-timer figure on stdout at exit\n"
		"  --fs PATH[,tag=NAME][,ro][,cache=MODE][,xattr|no_xattr][,threads=N]\n"
		"                    share a host directory over virtio-fs (repeatable); the\n"
		"                    tag (default: the directory's name, at most 36 bytes) is\n"
		"                    what the guest mounts: mount -t virtiofs NAME /mnt;\n"
		"                    cache=never|metadata|auto|always (default auto)\n"
		"  --root PATH[,opts] boot with PATH as the guest's root file system (virtio-fs\n"
		"                    tag nook-root; adds root=nook-root rootfstype=virtiofs rw;\n"
		"                    no default initramfs)\n"
		"  --seccomp MODE    kill (default): a thread making a syscall outside its\n"
		"                    kind's allow-list kills nook; trap: name the thread kind\n"
		"                    and syscall on stderr, then exit; log: allow, the kernel\n"
		"                    logs it; off: no filters (SECURITY.md)\n"
		"  --sandbox MODE    namespace (default as root): private mount and network\n"
		"                    namespaces, an empty root, capabilities dropped; chroot:\n"
		"                    the same root entered by chroot, no network namespace;\n"
		"                    none (default when not root)\n"
		"\n"
		"\n"
		"run a command (everything after --; see README \"nook run -- CMD\"):\n"
		"  --host-root       the host's / as the guest root, read-only on the host;\n"
		"                    writes to /etc /var /home /root /tmp ... stay in the guest\n"
		"                    (the default when no --root is given)\n"
		"  --rwdir PATH      share host directory PATH at the same path, writable\n"
		"  --rodir PATH      the same, read-only (both repeatable, %d in all)\n"
		"  --cwd DIR         working directory (default: the current directory under\n"
		"                    --host-root, / otherwise)\n"
		"  -e, --env K=V     set a variable (-e K copies the host's); the host\n"
		"                    environment is not forwarded; PATH, HOME, TERM are set\n"
		"  --env-file F      K=V lines (# comments), repeatable\n"
		"  --user U[:G]      uid/gid or names from the guest root's /etc/passwd, group\n"
		"  --hostname NAME   guest hostname (default nook)\n"
		"  --modules DIR     kernel modules, at /lib/modules/<version> (default: the\n"
		"                    host's /lib/modules/<version> when it exists)\n"
		"  --timeout S       stop the guest after S seconds (exit status 124)\n"
		"  -v, --verbose     show the guest kernel console on stderr\n"
		"  --control PATH    serve the control socket at PATH (start, signals, exec;\n"
		"                    nook-oci's channel, README \"nook-oci\")\n"
		"  --records FILE    run-request records appended as they are (nook-oci)\n"
		"  exit status: the command's (0-255), 128+N killed by signal N, 127 not\n"
		"  found, 126 not executable, 125 nook error, 124 timeout, 255 the guest\n"
		"  died without reporting a status (its last console lines on stderr).\n"
		"\n"
		"console: on a terminal stdin is raw; type Ctrl-A x to quit, Ctrl-A Ctrl-A for a\n"
		"literal Ctrl-A.\n"
		"exit status: 0 guest reboot/poweroff (or Ctrl-A x), 1 nook error or unhandled\n"
		"guest exit, 3 guest panic (pvpanic), 128+N when stopped by signal N.\n"
		"environment: NOOK_LOG=debug|info|warn|err, NOOK_PVM=0|1 (software-virtualized\n"
		"host handling, default: detected from /sys/module/kvm_pvm), NOOK_LOAD_COPY=1\n"
		"(copy kernel/initrd into guest RAM instead of mapping the files),\n"
		"NOOK_SECCOMP=kill|trap|log|off, NOOK_SANDBOX=namespace|chroot|none (the\n"
		"--seccomp and --sandbox defaults).\n",
		MPTABLE_MAX_CPUS, RUN_MAX_DIRS);
}

static enum cli_result cli_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum cli_result cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CLI_ERROR;
}

static int cli_copy_path(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n == 0 || n >= CONFIG_PATH_MAX)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* The directory holding the running nook binary (build/ for a `make` build). */
static int cli_self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* --timeout: seconds, fractions allowed ("1.5"), more than 0 and at most a day. */
static int cli_parse_timeout(const char *s, uint64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400)
		return -1;
	*ms = (uint64_t)(v * 1000 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

/* Options only a command run takes (refused without "--"). */
static bool cli_run_only(int c)
{
	return c == OPT_HOST_ROOT || c == OPT_RWDIR || c == OPT_RODIR || c == OPT_CWD ||
	       c == 'e' || c == OPT_ENV_FILE || c == OPT_USER || c == OPT_TIMEOUT ||
	       c == OPT_MODULES || c == OPT_HOSTNAME || c == 'v' || c == OPT_CONTROL ||
	       c == OPT_RECORDS;
}

static enum cli_result cli_parse_run_opt(int c, const char *a, struct run_config *r,
					 char *err, size_t errlen)
{
	switch (c) {
	case OPT_HOST_ROOT:
		r->host_root = true;
		break;
	case OPT_RWDIR:
	case OPT_RODIR:
		if (!*a)
			return cli_fail(err, errlen, "--%s: empty path", c == OPT_RWDIR ? "rwdir" : "rodir");
		if (r->nr_dirs >= RUN_MAX_DIRS)
			return cli_fail(err, errlen, "at most %d --rwdir/--rodir", RUN_MAX_DIRS);
		r->dir_rw[r->nr_dirs] = c == OPT_RWDIR;
		r->dirs[r->nr_dirs++] = a;
		break;
	case OPT_CWD:
		if (a[0] != '/')
			return cli_fail(err, errlen, "--cwd %s: must be an absolute path", a);
		r->cwd = a;
		break;
	case 'e':
		if (!*a || *a == '=')
			return cli_fail(err, errlen, "-e '%s': expected K=V or K", a);
		if (r->nr_env >= RUN_MAX_ENV)
			return cli_fail(err, errlen, "-e: at most %d variables", RUN_MAX_ENV);
		r->env[r->nr_env++] = a;
		break;
	case OPT_ENV_FILE:
		if (r->nr_env_files >= RUN_MAX_ENV_FILES)
			return cli_fail(err, errlen, "--env-file: at most %d files", RUN_MAX_ENV_FILES);
		r->env_files[r->nr_env_files++] = a;
		break;
	case OPT_USER:
		if (!*a)
			return cli_fail(err, errlen, "--user: empty");
		r->user = a;
		break;
	case OPT_TIMEOUT:
		if (cli_parse_timeout(a, &r->timeout_ms))
			return cli_fail(err, errlen, "--timeout %s: expected seconds (> 0, at most 86400)", a);
		break;
	case OPT_MODULES:
		if (!*a)
			return cli_fail(err, errlen, "--modules: empty path");
		r->modules = a;
		break;
	case OPT_HOSTNAME:
		if (!*a || strlen(a) > 64)
			return cli_fail(err, errlen, "--hostname: 1 to 64 bytes");
		r->hostname = a;
		break;
	case 'v':
		r->verbose = true;
		break;
	case OPT_CONTROL:
	case OPT_RECORDS:
		if (!*a)
			return cli_fail(err, errlen, "--%s: empty path",
					c == OPT_CONTROL ? "control" : "records");
		*(c == OPT_CONTROL ? &r->control : &r->records) = a;
		break;
	}
	return CLI_RUN;
}

int cli_find_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			return i;
	return -1;
}

enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg, char *err,
			      size_t errlen)
{
	bool have_kernel = false, have_initrd = false;
	char dir[CONFIG_PATH_MAX];
	int c, dash = cli_find_command(argc, argv);

	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->console = CONSOLE_STDIO;
	if (seccomp_default_mode(SECCOMP_MODE_KILL, &cfg->seccomp, err, errlen))
		return CLI_ERROR;
	if (sandbox_default_mode(&cfg->sandbox, err, errlen))
		return CLI_ERROR;
	/* Everything after the first "--" is the guest command; options stop there. */
	if (dash > 0) {
		cfg->run.active = true;
		cfg->run.argv = argv + dash + 1;
		cfg->run.argc = argc - dash - 1;
		argc = dash;
	}

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hve:", cli_options, NULL)) != -1) {
		const char *a = optarg;
		char *end;
		long v;

		if (cli_run_only(c)) {
			if (!cfg->run.active)
				return cli_fail(err, errlen, "%s is for running a command: "
						"nook run [options] -- CMD [ARGS...]", argv[optind - 1]);
			if (cli_parse_run_opt(c, a, &cfg->run, err, errlen) != CLI_RUN)
				return CLI_ERROR;
			continue;
		}
		switch (c) {
		case OPT_KERNEL:
			if (cli_copy_path(cfg->kernel, a))
				return cli_fail(err, errlen, "--kernel: empty or too long path");
			have_kernel = true;
			break;
		case OPT_INITRD:
			if (cli_copy_path(cfg->initrd, a))
				return cli_fail(err, errlen, "--initrd: empty or too long path");
			have_initrd = true;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = a;
			break;
		case OPT_APPEND:
			cfg->append = a;
			break;
		case OPT_CPUS:
			errno = 0;
			v = strtol(a, &end, 10);
			if (errno || end == a || *end || v < 1 || v > MPTABLE_MAX_CPUS)
				return cli_fail(err, errlen, "--cpus %s: must be a number from 1 to %d",
						a, MPTABLE_MAX_CPUS);
			cfg->cpus = (int)v;
			break;
		case OPT_MEMORY:
			if (cli_parse_size(a, &cfg->mem_size))
				return cli_fail(err, errlen, "--memory %s: not a size (use e.g. 512M, 2G)", a);
			if (cfg->mem_size == 0)
				return cli_fail(err, errlen, "--memory %s: guest RAM cannot be empty", a);
			if (cfg->mem_size > (1ULL << 46))
				return cli_fail(err, errlen, "--memory %s: too large", a);
			cfg->mem_size = (cfg->mem_size + 4095) & ~4095ULL;
			break;
		case OPT_CONSOLE:
			if (!strcmp(a, "stdio")) {
				cfg->console = CONSOLE_STDIO;
			} else if (!strcmp(a, "none")) {
				cfg->console = CONSOLE_NONE;
			} else if (*a) {
				cfg->console = CONSOLE_FILE;
				cfg->console_path = a;
			} else {
				return cli_fail(err, errlen, "--console: expected stdio, none or a file");
			}
			break;
		case OPT_BOOT_TIMER:
			cfg->boot_timer = true;
			break;
		case OPT_FS:
			if (!*a)
				return cli_fail(err, errlen, "--fs: empty specification");
			if (cfg->nr_fs >= CONFIG_MAX_FS)
				return cli_fail(err, errlen, "--fs: at most %d shares", CONFIG_MAX_FS);
			cfg->fs_specs[cfg->nr_fs++] = a;
			break;
		case OPT_SANDBOX:
			if (sandbox_parse_mode(a, &cfg->sandbox, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_SECCOMP:
			if (seccomp_parse_mode(a, &cfg->seccomp, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_ROOT:
			if (!*a)
				return cli_fail(err, errlen, "--root: empty path");
			cfg->root = a;
			break;
		case 'h':
		case OPT_HELP:
			cli_usage(stdout);
			return CLI_EXIT_OK;
		case ':':
			return cli_fail(err, errlen, "option %s needs a value", argv[optind - 1]);
		default:
			return cli_fail(err, errlen, "unknown option %s (see nook --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail(err, errlen, "unexpected argument '%s' (see nook --help)", argv[optind]);
	if (cfg->run.active) {
		if (cfg->run.argc < 1 || !cfg->run.argv[0][0])
			return cli_fail(err, errlen, "no command after -- (nook run [options] -- CMD [ARGS...])");
		if (cfg->root && cfg->run.host_root)
			return cli_fail(err, errlen, "--root and --host-root exclude each other");
		if (have_initrd)
			return cli_fail(err, errlen, "--initrd: a command runs from the root share, "
					"not an initramfs");
		/* The launcher's default, like virtme-ng: the host's root, read-only. */
		if (!cfg->root)
			cfg->run.host_root = true;
	}

	if (!have_kernel) {
		if (cli_self_dir(dir, sizeof(dir)) ||
		    (size_t)snprintf(cfg->kernel, sizeof(cfg->kernel), "%s/guest/vmlinux", dir) >=
			    sizeof(cfg->kernel))
			return cli_fail(err, errlen, "no --kernel given and the nook binary's "
					"directory is unknown");
		cfg->kernel_is_default = true;
		/* With --root the guest's init lives on the shared root: no default initramfs. */
		if (!have_initrd && !cfg->root && !cfg->run.active &&
		    (size_t)snprintf(cfg->initrd, sizeof(cfg->initrd), "%s/guest/initramfs.cpio",
				     dir) >= sizeof(cfg->initrd))
			cfg->initrd[0] = '\0';
	}
	return CLI_RUN;
}
