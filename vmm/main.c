/* nook: the program entry point. `nook run ...` boots a microVM, `nook fs ...` serves a
 * directory over /dev/fuse. */
#include <stdio.h>
#include <string.h>

#include "fs/fuse_server.h"
#include "vmm/config.h"
#include "vmm/kconfig.h"
#include "vmm/log.h"
#include "vmm/run_mode.h"
#include "vmm/vm.h"

/* Replaced by fs/fuse_server.c when the FUSE server is built in. */
__attribute__((weak)) int fs_serve_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "nook: fs serve not built\n");
	return 1;
}

static int main_run(int argc, char **argv)
{
	static struct vm_config cfg;	/* large (paths): keep it off the stack */
	char err[512];

	switch (cli_parse_run(argc, argv, &cfg, err, sizeof(err))) {
	case CLI_EXIT_OK:
		return 0;
	case CLI_ERROR:
		log_err("%s", err);
		/* A command run keeps 0-124 for the command's own statuses. */
		return cli_find_command(argc, argv) > 0 ? RUN_EXIT_NOOK_ERROR : NOOK_EXIT_ERROR;
	case CLI_RUN:
		break;
	}
	return vm_run(&cfg);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log_init_from_env();
	if (!cmd) {
		cli_usage(stderr);
		return NOOK_EXIT_ERROR;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		cli_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
		printf("nook %s\n", NOOK_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "kconfig"))
		return kconfig_print(stdout) ? NOOK_EXIT_ERROR : 0;
	if (!strcmp(cmd, "run"))
		return main_run(argc - 1, argv + 1);
	/* fs/fuse_server.h: fs_serve_main sees argv[0] == "serve". */
	if (!strcmp(cmd, "fs"))
		return fs_serve_main(argc - 2, argv + 2);
	log_err("unknown command '%s' (see nook --help)", cmd);
	return NOOK_EXIT_ERROR;
}
