/*
 * TEMPORARY entry point of the `fs` branch, only so `nook fs serve` can be built and
 * tested there. The coordinator keeps the vmm branch's vmm/main.c when merging.
 */
#include <stdio.h>
#include <string.h>

#include "fs/fuse_server.h"
#include "vmm/log.h"

int main(int argc, char **argv)
{
	log_init_from_env();
	if (argc > 2 && !strcmp(argv[1], "fs"))
		return fs_serve_main(argc - 2, argv + 2);
	fprintf(stderr, "usage: nook fs serve SRC MOUNTPOINT [-o opts] [-f]\n");
	return 2;
}
