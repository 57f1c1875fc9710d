/* `nook run` option parsing (vmm/cli.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/config.h"

static struct vm_config cfg;
static char err[256];

#define PARSE(...) ({ char *argv_[] = { "run", __VA_ARGS__, NULL }; \
	cli_parse_run((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, &cfg, err, sizeof(err)); })

Test(cli, defaults)
{
	char *argv[] = { "run", NULL };

	cr_assert_eq(cli_parse_run(1, argv, &cfg, err, sizeof(err)), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.cpus, 1);
	cr_assert_eq(cfg.mem_size, 128ULL << 20);
	cr_assert_eq(cfg.console, CONSOLE_STDIO);
	cr_assert(cfg.kernel_is_default);
	cr_assert(strstr(cfg.kernel, "/guest/vmlinux"));
	cr_assert(strstr(cfg.initrd, "/guest/initramfs.cpio"));
	cr_assert_null(cfg.cmdline);
}

Test(cli, all_options)
{
	cr_assert_eq(PARSE("--kernel", "/k", "--initrd", "/i", "--cmdline", "a=b", "--append", "c",
			   "--cpus", "4", "--memory", "1G", "--console", "none", "--boot-timer",
			   "--fs", "/srv,tag=x", "--fs", "/tmp", "--root", "/r"), CLI_RUN, "%s", err);
	cr_assert_str_eq(cfg.kernel, "/k");
	cr_assert_str_eq(cfg.initrd, "/i");
	cr_assert_not(cfg.kernel_is_default);
	cr_assert_str_eq(cfg.cmdline, "a=b");
	cr_assert_str_eq(cfg.append, "c");
	cr_assert_eq(cfg.cpus, 4);
	cr_assert_eq(cfg.mem_size, 1ULL << 30);
	cr_assert_eq(cfg.console, CONSOLE_NONE);
	cr_assert(cfg.boot_timer);
	cr_assert_eq(cfg.nr_fs, 2);
	cr_assert_str_eq(cfg.fs_specs[0], "/srv,tag=x");
	cr_assert_str_eq(cfg.root, "/r");
}

Test(cli, kernel_without_initrd_means_none)
{
	cr_assert_eq(PARSE("--kernel", "/k"), CLI_RUN);
	cr_assert_str_eq(cfg.initrd, "");
}

Test(cli, console_file)
{
	cr_assert_eq(PARSE("--console", "/tmp/out.log"), CLI_RUN);
	cr_assert_eq(cfg.console, CONSOLE_FILE);
	cr_assert_str_eq(cfg.console_path, "/tmp/out.log");
}

Test(cli, bad_cpus)
{
	cr_assert_eq(PARSE("--cpus", "0"), CLI_ERROR);
	cr_assert(strstr(err, "--cpus"), "%s", err);
	cr_assert_eq(PARSE("--cpus", "300"), CLI_ERROR);
	cr_assert_eq(PARSE("--cpus", "2x"), CLI_ERROR);
	cr_assert_eq(PARSE("--cpus", "-1"), CLI_ERROR);
}

Test(cli, bad_memory)
{
	cr_assert_eq(PARSE("--memory", "0"), CLI_ERROR);
	cr_assert(strstr(err, "empty"), "%s", err);
	cr_assert_eq(PARSE("--memory", "0G"), CLI_ERROR);
	cr_assert_eq(PARSE("--memory", "lots"), CLI_ERROR);
	cr_assert_eq(PARSE("--memory", "1Q"), CLI_ERROR);
	cr_assert_eq(PARSE("--memory", "99999999999T"), CLI_ERROR);
	cr_assert_eq(PARSE("--memory", "-5M"), CLI_ERROR);
}

Test(cli, unknown_and_missing)
{
	cr_assert_eq(PARSE("--bogus"), CLI_ERROR);
	cr_assert(strstr(err, "--bogus"), "%s", err);
	cr_assert_eq(PARSE("--kernel"), CLI_ERROR);
	cr_assert(strstr(err, "needs a value"), "%s", err);
	cr_assert_eq(PARSE("stray"), CLI_ERROR);
	cr_assert_eq(PARSE("--console", ""), CLI_ERROR);
}

Test(cli, sizes)
{
	uint64_t v;

	cr_assert_eq(cli_parse_size("512", &v), 0);
	cr_assert_eq(v, 512ULL << 20, "bare number is MiB");
	cr_assert_eq(cli_parse_size("64K", &v), 0);
	cr_assert_eq(v, 64ULL << 10);
	cr_assert_eq(cli_parse_size("2GiB", &v), 0);
	cr_assert_eq(v, 2ULL << 30);
	cr_assert_eq(cli_parse_size("4096B", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(cli_parse_size("1MB", &v), 0);
	cr_assert_eq(v, 1ULL << 20);
	cr_assert_neq(cli_parse_size("", &v), 0);
	cr_assert_neq(cli_parse_size("M", &v), 0);
	cr_assert_neq(cli_parse_size("1 M", &v), 0);
}

Test(cli, memory_rounded_to_pages)
{
	cr_assert_eq(PARSE("--memory", "5000B"), CLI_RUN);
	cr_assert_eq(cfg.mem_size, 8192);
}
