/*
 * The host side of `nook run -- CMD`: option parsing (vmm/cli.c), the plan and the
 * serialised request (vmm/run_request.c), and the run-status register
 * (devices/run_status.c). The guest side's parser is tested in test_run_request.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/run_status.h"
#include "vmm/config.h"
#include "vmm/run_proto.h"
#include "vmm/run_request.h"

static struct vm_config cfg;
static char err[512];

#define PARSE(...) ({ char *argv_[] = { "run", __VA_ARGS__, NULL }; \
	cli_parse_run((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, &cfg, err, sizeof(err)); })

Test(run_cli, command_after_dashes)
{
	/* cfg.run.argv points into argv: keep it in scope. */
	char *argv[] = { "run", "--memory", "256M", "-e", "A=1", "--env", "B=2", "-v",
		"--timeout", "1.5", "--rwdir", "/tmp", "--rodir", "/srv", "--cwd", "/x", "--user",
		"1000:100", "--", "sh", "-c", "echo --cpus", NULL };

	cr_assert_eq(cli_parse_run(22, argv, &cfg, err, sizeof(err)), CLI_RUN, "%s", err);
	cr_assert(cfg.run.active);
	cr_assert(cfg.run.host_root, "--host-root is the default without --root");
	cr_assert_eq(cfg.run.argc, 3);
	cr_assert_str_eq(cfg.run.argv[0], "sh");
	cr_assert_str_eq(cfg.run.argv[2], "echo --cpus");
	cr_assert_eq(cfg.mem_size, 256ULL << 20);
	cr_assert_eq(cfg.run.nr_env, 2);
	cr_assert_str_eq(cfg.run.env[1], "B=2");
	cr_assert(cfg.run.verbose);
	cr_assert_eq(cfg.run.timeout_ms, 1500);
	cr_assert_eq(cfg.run.nr_dirs, 2);
	cr_assert(cfg.run.dir_rw[0]);
	cr_assert_not(cfg.run.dir_rw[1]);
	cr_assert_str_eq(cfg.run.cwd, "/x");
	cr_assert_str_eq(cfg.run.user, "1000:100");
	cr_assert_str_eq(cfg.initrd, "", "a command run has no default initramfs");
	cr_assert_eq(cli_find_command(4, (char *[]){ "run", "-v", "--", "x", NULL }), 2);
}

Test(run_cli, refusals)
{
	cr_assert_eq(PARSE("--"), CLI_ERROR);
	cr_assert(strstr(err, "no command"));
	cr_assert_eq(PARSE("--host-root"), CLI_ERROR);
	cr_assert(strstr(err, "running a command"));
	cr_assert_eq(PARSE("--root", "/r", "--host-root", "--", "true"), CLI_ERROR);
	cr_assert_eq(PARSE("--timeout", "0", "--", "true"), CLI_ERROR);
	cr_assert_eq(PARSE("--timeout", "abc", "--", "true"), CLI_ERROR);
	cr_assert_eq(PARSE("--cwd", "relative", "--", "true"), CLI_ERROR);
	cr_assert_eq(PARSE("-e", "=x", "--", "true"), CLI_ERROR);
	cr_assert_eq(PARSE("--initrd", "/i", "--", "true"), CLI_ERROR);
	cr_assert_eq(PARSE("--root", "/r", "--", "true"), CLI_RUN, "%s", err);
	cr_assert_not(cfg.run.host_root);
}

/* A fake guest root with /etc/passwd and /etc/group. */
static char root[64];

static void make_root(void)
{
	char path[128];
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/nook-run-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/etc", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/home", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	f = fopen(path, "w");
	fputs("root:x:0:0:root:/root:/bin/sh\nbad line\nalice:x:1000:1001::/home/alice:/bin/sh\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/etc/group", root);
	f = fopen(path, "w");
	fputs("root:x:0:\nstaff:x:50:alice\n", f);
	fclose(f);
}

static void drop_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

static const char *plan_env(const struct run_plan *p, const char *key)
{
	size_t n = strlen(key);

	for (int i = 0; i < p->nr_env; i++)
		if (!strncmp(p->env[i], key, n) && p->env[i][n] == '=')
			return p->env[i] + n + 1;
	return NULL;
}

static void parse_in_root(char **argv, int argc)
{
	cr_assert_eq(cli_parse_run(argc, argv, &cfg, err, sizeof(err)), CLI_RUN, "%s", err);
}

Test(run_plan, env_user_and_defaults, .init = make_root, .fini = drop_root)
{
	char envfile[128], *argv[] = { "run", "--root", root, "--user", "alice:staff",
		"--env-file", envfile, "-e", "A=override", "-e", "NOOK_UNIT_FROM_HOST",
		"-e", "NOOK_UNIT_UNSET", "--", "id", NULL };
	struct run_plan p;
	FILE *f;

	snprintf(envfile, sizeof(envfile), "%s/envfile", root);
	f = fopen(envfile, "w");
	fputs("# comment\n\nA=from-file\nB=two words=ok\n", f);
	fclose(f);
	setenv("NOOK_UNIT_FROM_HOST", "host-value", 1);
	setenv("NOOK_UNIT_NOT_FORWARDED", "x", 1);
	unsetenv("NOOK_UNIT_UNSET");
	parse_in_root(argv, 15);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.uid, 1000);
	cr_assert_eq(p.gid, 50);
	cr_assert_str_eq(plan_env(&p, "HOME"), "/home/alice");
	cr_assert_str_eq(plan_env(&p, "PATH"), RUN_DEFAULT_PATH);
	cr_assert_str_eq(plan_env(&p, "TERM"), "dumb");
	cr_assert_str_eq(plan_env(&p, "A"), "override", "-e comes after --env-file");
	cr_assert_str_eq(plan_env(&p, "B"), "two words=ok");
	cr_assert_str_eq(plan_env(&p, "NOOK_UNIT_FROM_HOST"), "host-value");
	cr_assert_null(plan_env(&p, "NOOK_UNIT_UNSET"));
	cr_assert_null(plan_env(&p, "NOOK_UNIT_NOT_FORWARDED"));
	cr_assert_str_eq(p.cwd, "/");
	cr_assert_eq(p.nr_overlays, 0);
	run_plan_free(&p);
}

Test(run_plan, users, .init = make_root, .fini = drop_root)
{
	struct run_plan p;
	char *a1[] = { "run", "--root", root, "--user", "nosuch", "--", "x", NULL };
	char *a2[] = { "run", "--root", root, "--user", "4242", "--", "x", NULL };
	char *a3[] = { "run", "--root", root, "--user", "1000", "--", "x", NULL };
	char *a4[] = { "run", "--root", root, "--user", "alice:nogroup", "--", "x", NULL };

	parse_in_root(a1, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown user"), "%s", err);
	run_plan_free(&p);
	parse_in_root(a2, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.uid, 4242);
	cr_assert_eq(p.gid, 0);
	cr_assert_str_eq(plan_env(&p, "HOME"), "/");
	run_plan_free(&p);
	parse_in_root(a3, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.gid, 1001);
	run_plan_free(&p);
	parse_in_root(a4, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown group"), "%s", err);
	run_plan_free(&p);
}

Test(run_plan, dirs, .init = make_root, .fini = drop_root)
{
	struct run_plan p;
	char missing[128], *a1[] = { "run", "--root", root, "--rwdir", missing, "--", "x", NULL };
	char *a2[] = { "run", "--root", root, "--rodir", "/home", "--", "x", NULL };
	char *a3[] = { "run", "--root", root, "--rodir", "/usr", "--", "x", NULL };

	snprintf(missing, sizeof(missing), "%s/missing", root);
	parse_in_root(a1, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "No such file"), "%s", err);
	run_plan_free(&p);
	parse_in_root(a2, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.nr_mounts, 1);
	cr_assert_str_eq(p.mounts[0].tag, "nook-ro0");
	cr_assert_str_eq(p.mounts[0].path, "/home");
	cr_assert_not(p.mounts[0].rw);
	run_plan_free(&p);
	/* /usr exists on the host but not inside the fake root: no mount point. */
	parse_in_root(a3, 7);
	cr_assert_eq(run_plan_build(&cfg, root, false, &p, err, sizeof(err)), -1);
	cr_assert(strstr(err, "mount it on"), "%s", err);
	run_plan_free(&p);
}

Test(run_plan, host_root_overlays_and_request)
{
	char *argv[] = { "run", "-v", "--", "printf", "%s\\n", "", "a b", NULL };
	struct run_plan p;
	char *req, cwd[4096];
	size_t len, off, nargs = 0;
	bool saw_overlay_etc = false, saw_cwd = false;

	cr_assert_eq(cli_parse_run(7, argv, &cfg, err, sizeof(err)), CLI_RUN, "%s", err);
	cr_assert_eq(run_plan_build(&cfg, "/", true, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert(getcwd(cwd, sizeof(cwd)));
	cr_assert_str_eq(p.cwd, cwd, "--host-root starts in the host's cwd");
	cr_assert_eq(run_request_build(&cfg.run, &p, &req, &len), 0);
	cr_assert_str_eq(req, RUN_MAGIC);
	cr_assert_eq(req[len - 1], '\0');
	/* Every record after the magic is tag + value + NUL; empty argv entries survive. */
	for (off = strlen(RUN_MAGIC) + 1; off < len; off += strlen(req + off) + 1) {
		const char *rec = req + off;

		if (rec[0] == RUN_REC_ARG)
			nargs++;
		if (rec[0] == RUN_REC_OVERLAY && !strcmp(rec + 1, "/etc"))
			saw_overlay_etc = true;
		if (rec[0] == RUN_REC_CWD && !strcmp(rec + 1, cwd))
			saw_cwd = true;
	}
	cr_assert_eq(off, len);
	cr_assert_eq(nargs, 4);
	cr_assert(saw_overlay_etc);
	cr_assert(saw_cwd);
	cr_assert(memmem(req, len, "t1", 3), "tty record");
	cr_assert(memmem(req, len, "H1", 3), "host-root record");
	cr_assert(memmem(req, len, "v1", 3), "verbose record");
	free(req);
	run_plan_free(&p);
}

Test(run_status, register_decoding)
{
	struct run_status s;

	run_status_init(&s);
	cr_assert_not(run_status_write_value(&s, 0, 4, 42), "no magic");
	cr_assert_not(run_status_write_value(&s, 4, 4, RUN_STATUS_MAGIC | 42), "wrong offset");
	cr_assert_not(run_status_write_value(&s, 0, 1, RUN_STATUS_MAGIC | 42), "wrong width");
	cr_assert_not(run_status_write_value(&s, 0, 4, RUN_STATUS_MAGIC | 0x7700 | 1), "kind");
	cr_assert_eq(atomic_load(&s.code), -1);
	run_status_write_value(&s, 0, 4, RUN_STATUS_MAGIC | RUN_STATUS_INIT);
	cr_assert_neq(atomic_load(&s.init_ns), 0);
	cr_assert(run_status_write_value(&s, 0, 4, RUN_STATUS_MAGIC | RUN_STATUS_EXIT | 42));
	cr_assert_not(run_status_write_value(&s, 0, 4, RUN_STATUS_MAGIC | RUN_STATUS_EXIT | 7),
		      "the first report wins");
	cr_assert_eq(atomic_load(&s.code), 42);
}
