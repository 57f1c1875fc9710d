/* What `nook run` was asked to do: the parsed command line, before any VM exists. */
#ifndef NOOK_VMM_CONFIG_H
#define NOOK_VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/sandbox.h"
#include "vmm/seccomp.h"

#define CONFIG_DEFAULT_MEM	(128ULL << 20)
#define CONFIG_MAX_FS		8
#define CONFIG_PATH_MAX		4096

enum console_mode {
	CONSOLE_STDIO,	/* guest serial <-> our stdin/stdout (raw mode on a terminal) */
	CONSOLE_NONE,	/* output dropped, no input */
	CONSOLE_FILE,	/* output appended to console_path, no input */
};

/* `nook run [options] -- CMD [ARGS...]`: run one command in the guest (vmm/run_*.c). */
#define RUN_MAX_DIRS		6	/* --rwdir / --rodir in all */
#define RUN_MAX_ENV		4096	/* -e options */
#define RUN_MAX_ENV_FILES	16

struct run_config {
	bool active;			/* a command follows "--" */
	char **argv;			/* the guest command (main's argv), argc >= 1 */
	int argc;
	bool host_root;			/* --host-root: the host's / read-only */
	const char *dirs[RUN_MAX_DIRS];	/* --rwdir / --rodir, in command-line order */
	bool dir_rw[RUN_MAX_DIRS];
	int nr_dirs;
	const char *cwd;		/* --cwd (NULL: host cwd under --host-root, else /) */
	const char *env[RUN_MAX_ENV];	/* -e K=V or -e K (taken from the host) */
	int nr_env;
	const char *env_files[RUN_MAX_ENV_FILES];
	int nr_env_files;
	const char *user;		/* --user UID[:GID] or NAME[:GROUP] */
	const char *hostname;		/* --hostname (default nook) */
	const char *modules;		/* --modules DIR (NULL: the host's, when it exists) */
	uint64_t timeout_ms;		/* --timeout S (0: none) */
	bool verbose;			/* -v: guest kernel console on stderr */
	const char *control;		/* --control PATH: the control socket */
	const char *records;		/* --records FILE: raw request records */
};

struct vm_config {
	char kernel[CONFIG_PATH_MAX];	/* --kernel, or the build's guest/vmlinux */
	char initrd[CONFIG_PATH_MAX];	/* --initrd, or guest/initramfs.cpio; "" = none */
	bool kernel_is_default;		/* not given: found next to the nook binary */
	const char *cmdline;		/* --cmdline: replaces the default (NULL: default) */
	const char *append;		/* --append: added after everything else */
	int cpus;
	uint64_t mem_size;		/* bytes, page aligned */
	enum console_mode console;
	const char *console_path;
	bool boot_timer;		/* --boot-timer: also print the figure on stdout */
	/* Raw specs for devices created by vm_setup_devices (vmm/vm_devices.c). */
	const char *fs_specs[CONFIG_MAX_FS];	/* --fs PATH[,tag=..,...], repeatable */
	int nr_fs;
	const char *root;			/* --root PATH */
	enum seccomp_mode seccomp;		/* --seccomp (default kill, or NOOK_SECCOMP) */
	enum sandbox_mode sandbox;		/* --sandbox (default: namespace as root) */
	struct run_config run;
};

enum cli_result {
	CLI_RUN = 0,	/* cfg filled, boot it */
	CLI_EXIT_OK,	/* --help / --version printed */
	CLI_ERROR,	/* message in err */
};

/* Parses `run` options (argv[0] == "run"). err gets one line on CLI_ERROR. */
enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg, char *err,
			      size_t errlen);

/* Index of the first "--" in argv (the guest command follows), or -1. */
int cli_find_command(int argc, char **argv);

/* "512M", "2G", "65536K", "1073741824B"; a bare number means MiB. 0 on success. */
int cli_parse_size(const char *s, uint64_t *out);

void cli_usage(FILE *f);

#endif
