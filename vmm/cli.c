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
	{ NULL, 0, NULL, 0 },
};

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: nook run [options]     boot a microVM\n"
		"       nook fs serve SRC MOUNTPOINT [-o opts]   serve a directory over /dev/fuse\n"
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
		"\n"
		"console: on a terminal stdin is raw; type Ctrl-A x to quit, Ctrl-A Ctrl-A for a\n"
		"literal Ctrl-A.\n"
		"exit status: 0 guest reboot/poweroff (or Ctrl-A x), 1 nook error or unhandled\n"
		"guest exit, 3 guest panic (pvpanic), 128+N when stopped by signal N.\n"
		"environment: NOOK_LOG=debug|info|warn|err, NOOK_PVM=0|1 (software-virtualized\n"
		"host handling, default: detected from /sys/module/kvm_pvm), NOOK_LOAD_COPY=1\n"
		"(copy kernel/initrd into guest RAM instead of mapping the files).\n",
		MPTABLE_MAX_CPUS);
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 20;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0': shift = 20; break;
	case 'b': case 'B': shift = 0; end++; break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -1;
	}
	/* Accept "M", "MB", "MiB". */
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
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

enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg, char *err,
			      size_t errlen)
{
	bool have_kernel = false, have_initrd = false;
	char dir[CONFIG_PATH_MAX];
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->console = CONSOLE_STDIO;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", cli_options, NULL)) != -1) {
		const char *a = optarg;
		char *end;
		long v;

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

	if (!have_kernel) {
		if (cli_self_dir(dir, sizeof(dir)) ||
		    (size_t)snprintf(cfg->kernel, sizeof(cfg->kernel), "%s/guest/vmlinux", dir) >=
			    sizeof(cfg->kernel))
			return cli_fail(err, errlen, "no --kernel given and the nook binary's "
					"directory is unknown");
		cfg->kernel_is_default = true;
		/* With --root the guest's init lives on the shared root: no default initramfs. */
		if (!have_initrd && !cfg->root &&
		    (size_t)snprintf(cfg->initrd, sizeof(cfg->initrd), "%s/guest/initramfs.cpio",
				     dir) >= sizeof(cfg->initrd))
			cfg->initrd[0] = '\0';
	}
	return CLI_RUN;
}
