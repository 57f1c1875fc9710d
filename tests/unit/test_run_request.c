/*
 * The built-in guest init's run request parser (vmm/guest-init/request.c). The init is
 * built on its own, not from the library sources, so the parser is compiled in here.
 * Every request is parsed from a heap copy of its exact length, so ASan catches a read
 * past the end.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/guest-init/request.c"

struct builder {
	char *buf;
	size_t len, cap;
};

static struct builder b;
static struct run_request req;
static void *arena;
static char *copy;

static void setup(void)
{
	memset(&b, 0, sizeof(b));
	arena = malloc(RUN_REQ_ARENA_MAX);
	cr_assert_not_null(arena);
	copy = NULL;
}

static void teardown(void)
{
	free(b.buf);
	free(arena);
	free(copy);
}

TestSuite(run_request, .init = setup, .fini = teardown);

static void raw(const void *data, size_t len)
{
	if (b.len + len > b.cap) {
		b.cap = (b.len + len) * 2 + 64;
		b.buf = realloc(b.buf, b.cap);
		cr_assert_not_null(b.buf);
	}
	memcpy(b.buf + b.len, data, len);
	b.len += len;
}

/* One record: tag (0: none), value, NUL. */
static void rec(char tag, const char *value)
{
	if (tag)
		raw(&tag, 1);
	raw(value, strlen(value) + 1);
}

static void magic(void)
{
	rec(0, RUN_MAGIC);
}

/* A request of one record of tag with a value of len copies of c. */
static void rec_fill(char tag, char first, char c, size_t len)
{
	char *v = malloc(len + 1);

	cr_assert_not_null(v);
	memset(v, c, len);
	if (len)
		v[0] = first;
	v[len] = '\0';
	rec(tag, v);
	free(v);
}

static int parse_arena(size_t arena_size)
{
	free(copy);
	copy = malloc(b.len ? b.len : 1);
	cr_assert_not_null(copy);
	if (b.len)
		memcpy(copy, b.buf, b.len);
	return run_request_parse(&req, copy, b.len, arena, arena_size);
}

static int parse(void)
{
	return parse_arena(RUN_REQ_ARENA_MAX);
}

/* The parse fails and its message contains `what`. */
#define cr_assert_parse_fails(what) do { \
	cr_assert_eq(parse(), -1, "parsed, expected: %s", what); \
	cr_assert(strstr(req.error, what), "error \"%s\", expected \"%s\"", req.error, what); \
} while (0)

Test(run_request, minimal)
{
	magic();
	rec(RUN_REC_ARG, "true");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(req.argc, 1);
	cr_assert_str_eq(req.argv[0], "true");
	cr_assert_null(req.argv[1]);
	cr_assert_null(req.argv[-1], "the spare slot before argv");
	cr_assert_eq(req.envc, 0);
	cr_assert_null(req.envp[0]);
	cr_assert_str_eq(req.cwd, "/");
	cr_assert_str_eq(req.search_path, RUN_DEFAULT_SEARCH_PATH);
	cr_assert_eq(req.uid, 0);
	cr_assert_eq(req.gid, 0);
	cr_assert_eq(req.ngroups, 0);
	cr_assert_null(req.hostname);
	cr_assert_null(req.modules_tag);
	cr_assert_not(req.tty);
	cr_assert_not(req.host_root);
	cr_assert_not(req.verbose);
	cr_assert_eq(req.noverlays + req.ntmpfs + req.nmounts, 0);
}

Test(run_request, every_tag)
{
	magic();
	rec(RUN_REC_ARG, "sh");
	rec(RUN_REC_ENV, "HOME=/root");
	rec(RUN_REC_ARG, "-c");
	rec(RUN_REC_ENV, "PATH=/opt/bin:/bin");
	rec(RUN_REC_ARG, "");	/* empty arguments are fine after argv[0] */
	rec(RUN_REC_CWD, "/home/u/src");
	rec(RUN_REC_UID, "1000");
	rec(RUN_REC_GID, "4294967294");
	rec(RUN_REC_GROUPS, "27");
	rec(RUN_REC_GROUPS, "0");
	rec(RUN_REC_HOSTNAME, "guest");
	rec(RUN_REC_TTY, "1");
	rec(RUN_REC_HOST_ROOT, "1");
	rec(RUN_REC_VERBOSE, "0");
	rec(RUN_REC_OVERLAY, "/etc");
	rec(RUN_REC_TMPFS, "/var/tmp");
	rec(RUN_REC_OVERLAY, "/tmp");
	rec(RUN_REC_MOUNT, "rw:nook-rw0:/home/u/src");
	rec(RUN_REC_MOUNT, "ro:ref:/srv/a:b,c");
	rec(RUN_REC_MODULES, "nook-modules");
	cr_assert_eq(parse(), 0, "%s", req.error);

	cr_assert_eq(req.argc, 3);
	cr_assert_str_eq(req.argv[0], "sh");
	cr_assert_str_eq(req.argv[1], "-c");
	cr_assert_str_eq(req.argv[2], "");
	cr_assert_null(req.argv[3]);
	cr_assert_eq(req.envc, 2);
	cr_assert_str_eq(req.envp[0], "HOME=/root");
	cr_assert_str_eq(req.envp[1], "PATH=/opt/bin:/bin");
	cr_assert_null(req.envp[2]);
	cr_assert_str_eq(req.search_path, "/opt/bin:/bin");
	cr_assert_str_eq(req.cwd, "/home/u/src");
	cr_assert_eq(req.uid, 1000);
	cr_assert_eq(req.gid, 4294967294u);
	cr_assert_eq(req.ngroups, 2);
	cr_assert_eq(req.groups[0], 27);
	cr_assert_eq(req.groups[1], 0);
	cr_assert_str_eq(req.hostname, "guest");
	cr_assert(req.tty);
	cr_assert(req.host_root);
	cr_assert_not(req.verbose);
	cr_assert_eq(req.noverlays, 2);
	cr_assert_str_eq(req.overlays[0], "/etc");
	cr_assert_str_eq(req.overlays[1], "/tmp");
	cr_assert_eq(req.ntmpfs, 1);
	cr_assert_str_eq(req.tmpfs[0], "/var/tmp");
	cr_assert_eq(req.nmounts, 2);
	cr_assert_str_eq(req.mounts[0].tag, "nook-rw0");
	cr_assert_str_eq(req.mounts[0].path, "/home/u/src");
	cr_assert_not(req.mounts[0].ro);
	cr_assert_str_eq(req.mounts[1].tag, "ref");
	cr_assert_str_eq(req.mounts[1].path, "/srv/a:b,c", "the path may hold ':' and ','");
	cr_assert(req.mounts[1].ro);
	cr_assert_str_eq(req.modules_tag, "nook-modules");
}

/* The strings point into the request: nothing is copied but the share tags. */
Test(run_request, strings_point_into_the_request)
{
	magic();
	rec(RUN_REC_ARG, "ls");
	rec(RUN_REC_ENV, "A=1");
	rec(RUN_REC_CWD, "/x");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(req.argv[0], copy + sizeof(RUN_MAGIC) + 1);
	cr_assert(req.envp[0] > copy && req.envp[0] < copy + b.len);
	cr_assert(req.cwd > copy && req.cwd < copy + b.len);
}

Test(run_request, first_path_wins)
{
	magic();
	rec(RUN_REC_ARG, "ls");
	rec(RUN_REC_ENV, "XPATH=/no");
	rec(RUN_REC_ENV, "PATH=/first");
	rec(RUN_REC_ENV, "PATH=/second");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_str_eq(req.search_path, "/first");
}

Test(run_request, empty_path_is_kept)
{
	magic();
	rec(RUN_REC_ARG, "ls");
	rec(RUN_REC_ENV, "PATH=");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_str_eq(req.search_path, "");
}

Test(run_request, unknown_tags_ignored)
{
	magic();
	rec('Z', "from a newer host");
	rec(RUN_REC_ARG, "true");
	rec('\x01', "x");
	rec('\xff', "");
	rec('z', "");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(req.argc, 1);
	cr_assert_eq(req.envc, 0);
}

Test(run_request, empty_request)
{
	cr_assert_parse_fails("empty run request");
}

Test(run_request, missing_magic)
{
	rec(RUN_REC_ARG, "true");
	cr_assert_parse_fails("magic");
}

Test(run_request, wrong_magic)
{
	rec(0, "NOOKRUN2");
	rec(RUN_REC_ARG, "true");
	cr_assert_parse_fails("magic");
}

Test(run_request, magic_with_suffix)
{
	rec(0, RUN_MAGIC "x");
	rec(RUN_REC_ARG, "true");
	cr_assert_parse_fails("magic");
}

Test(run_request, magic_prefix_only)
{
	rec(0, "NOOK");
	cr_assert_parse_fails("magic");
}

Test(run_request, unterminated_magic)
{
	raw(RUN_MAGIC, sizeof(RUN_MAGIC) - 1);
	cr_assert_parse_fails("no terminating NUL");
}

Test(run_request, unterminated_last_record)
{
	magic();
	rec(RUN_REC_ARG, "true");
	raw("aecho", 5);
	cr_assert_parse_fails("record 2");
	cr_assert(strstr(req.error, "no terminating NUL"), "%s", req.error);
}

Test(run_request, magic_only_is_empty_argv)
{
	magic();
	cr_assert_parse_fails("empty argv");
}

Test(run_request, empty_argv)
{
	magic();
	rec(RUN_REC_ENV, "PATH=/bin");
	rec(RUN_REC_CWD, "/");
	cr_assert_parse_fails("empty argv");
}

Test(run_request, empty_program_name)
{
	magic();
	rec(RUN_REC_ARG, "");
	rec(RUN_REC_ARG, "x");
	cr_assert_parse_fails("empty program name");
}

Test(run_request, empty_record)
{
	magic();
	rec(RUN_REC_ARG, "true");
	raw("", 1);
	cr_assert_parse_fails("record 2: empty record");
}

Test(run_request, error_names_record_and_tag)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_UID, "x");
	cr_assert_parse_fails("record 2 ('u'): bad id");
}

Test(run_request, longest_argument)
{
	magic();
	rec_fill(RUN_REC_ARG, 'x', 'x', RUN_REQ_MAX_STRING - 1);
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(strlen(req.argv[0]), RUN_REQ_MAX_STRING - 1);
}

Test(run_request, overlong_argument)
{
	magic();
	rec_fill(RUN_REC_ARG, 'x', 'x', RUN_REQ_MAX_STRING);
	cr_assert_parse_fails("argument too long");
}

Test(run_request, overlong_env)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec_fill(RUN_REC_ENV, 'A', 'x', RUN_REQ_MAX_STRING);
	cr_assert_parse_fails("environment entry too long");
}

Test(run_request, longest_cwd)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec_fill(RUN_REC_CWD, '/', 'd', RUN_REQ_MAX_PATH - 1);
	cr_assert_eq(parse(), 0, "%s", req.error);
}

Test(run_request, overlong_cwd)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec_fill(RUN_REC_CWD, '/', 'd', RUN_REQ_MAX_PATH);
	cr_assert_parse_fails("('c'): not an absolute path");
}

Test(run_request, overlong_overlay)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec_fill(RUN_REC_OVERLAY, '/', 'd', RUN_REQ_MAX_PATH);
	cr_assert_parse_fails("('o'): not an absolute path");
}

Test(run_request, overlong_share_path)
{
	char *v = malloc(RUN_REQ_MAX_PATH + 16);

	strcpy(v, "rw:t:/");
	memset(v + 6, 'p', RUN_REQ_MAX_PATH - 1);
	v[6 + RUN_REQ_MAX_PATH - 1] = '\0';
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_MOUNT, v);
	free(v);
	cr_assert_parse_fails("('m'): expected rw:TAG:/PATH");
}

Test(run_request, hostname_lengths)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec_fill(RUN_REC_HOSTNAME, 'h', 'h', RUN_REQ_MAX_HOSTNAME);
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(strlen(req.hostname), RUN_REQ_MAX_HOSTNAME);

	b.len = 0;
	magic();
	rec(RUN_REC_ARG, "true");
	rec_fill(RUN_REC_HOSTNAME, 'h', 'h', RUN_REQ_MAX_HOSTNAME + 1);
	cr_assert_parse_fails("bad host name length");

	b.len = 0;
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_HOSTNAME, "");
	cr_assert_parse_fails("bad host name length");
}

Test(run_request, tag_lengths)
{
	char v[64];

	magic();
	rec(RUN_REC_ARG, "true");
	memset(v, 't', RUN_REQ_MAX_TAG);
	v[RUN_REQ_MAX_TAG] = '\0';
	rec(RUN_REC_MODULES, v);
	cr_assert_eq(parse(), 0, "%s", req.error);

	b.len = 0;
	magic();
	rec(RUN_REC_ARG, "true");
	memset(v, 't', RUN_REQ_MAX_TAG + 1);
	v[RUN_REQ_MAX_TAG + 1] = '\0';
	rec(RUN_REC_MODULES, v);
	cr_assert_parse_fails("('k'): bad tag length");
}

Test(run_request, share_tag_lengths)
{
	char v[80] = "ro:";

	memset(v + 3, 't', RUN_REQ_MAX_TAG);
	strcpy(v + 3 + RUN_REQ_MAX_TAG, ":/mnt");
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_MOUNT, v);
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(strlen(req.mounts[0].tag), RUN_REQ_MAX_TAG);
	cr_assert_str_eq(req.mounts[0].path, "/mnt");

	memset(v + 3, 't', RUN_REQ_MAX_TAG + 1);
	strcpy(v + 3 + RUN_REQ_MAX_TAG + 1, ":/mnt");
	b.len = 0;
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_MOUNT, v);
	cr_assert_parse_fails("expected rw:TAG:/PATH");
}

Test(run_request, bad_shares)
{
	static const char *const bad[] = {
		"", "rw", "rw:", "rw:tag", "rw:tag:", "rw::/mnt", "rx:tag:/mnt", "wr:tag:/mnt",
		"rwtag:/mnt", "RW:tag:/mnt", "rw:tag:mnt", " rw:tag:/mnt",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "true");
		rec(RUN_REC_MOUNT, bad[i]);
		cr_assert_eq(parse(), -1, "share \"%s\" accepted", bad[i]);
		cr_assert(strstr(req.error, "expected rw:TAG:/PATH"), "%s", req.error);
	}
}

Test(run_request, bad_ids)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "abc", "4294967295", "4294967296",
		"99999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		static const char tags[] = { RUN_REC_UID, RUN_REC_GID, RUN_REC_GROUPS };

		for (size_t t = 0; t < sizeof(tags); t++) {
			b.len = 0;
			magic();
			rec(RUN_REC_ARG, "true");
			rec(tags[t], bad[i]);
			cr_assert_eq(parse(), -1, "id \"%s\" accepted for '%c'", bad[i], tags[t]);
		}
	}
}

Test(run_request, leading_zeros)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_UID, "0001000");
	rec(RUN_REC_GID, "000000000000000000000000042");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(req.uid, 1000);
	cr_assert_eq(req.gid, 42);
}

Test(run_request, bad_flags)
{
	static const char *const bad[] = { "", "2", "11", "yes", "true", " 1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "true");
		rec(RUN_REC_TTY, bad[i]);
		cr_assert_eq(parse(), -1, "flag \"%s\" accepted", bad[i]);
		cr_assert(strstr(req.error, "expected 0 or 1"), "%s", req.error);
	}
}

Test(run_request, repeated_singular_records)
{
	static const char tags[] = {
		RUN_REC_CWD, RUN_REC_UID, RUN_REC_GID, RUN_REC_HOSTNAME, RUN_REC_TTY,
		RUN_REC_HOST_ROOT, RUN_REC_MODULES, RUN_REC_VERBOSE,
	};
	static const char *const values[] = { "/", "0", "0", "h", "0", "0", "k", "1" };

	for (size_t i = 0; i < sizeof(tags); i++) {
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "true");
		rec(tags[i], values[i]);
		cr_assert_eq(parse(), 0, "'%c': %s", tags[i], req.error);
		rec(tags[i], values[i]);
		cr_assert_eq(parse(), -1, "'%c' twice accepted", tags[i]);
		cr_assert(strstr(req.error, "repeated"), "%s", req.error);
	}
}

Test(run_request, relative_paths)
{
	static const char tags[] = { RUN_REC_CWD, RUN_REC_OVERLAY, RUN_REC_TMPFS };

	for (size_t i = 0; i < sizeof(tags); i++) {
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "true");
		rec(tags[i], "tmp");
		cr_assert_eq(parse(), -1, "'%c' relative accepted", tags[i]);
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "true");
		rec(tags[i], "");
		cr_assert_eq(parse(), -1, "'%c' empty accepted", tags[i]);
	}
}

Test(run_request, too_many_arguments)
{
	magic();
	for (unsigned int i = 0; i < RUN_REQ_MAX_ARGS; i++)
		rec(RUN_REC_ARG, "x");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(req.argc, RUN_REQ_MAX_ARGS);
	cr_assert_null(req.argv[RUN_REQ_MAX_ARGS]);
	rec(RUN_REC_ARG, "x");
	cr_assert_parse_fails("too many arguments");
}

Test(run_request, too_many_env)
{
	magic();
	rec(RUN_REC_ARG, "x");
	for (unsigned int i = 0; i <= RUN_REQ_MAX_ENV; i++)
		rec(RUN_REC_ENV, "A=1");
	cr_assert_parse_fails("too many environment entries");
}

Test(run_request, too_many_dirs)
{
	static const char tags[] = { RUN_REC_OVERLAY, RUN_REC_TMPFS, RUN_REC_MOUNT };

	for (size_t t = 0; t < sizeof(tags); t++) {
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "x");
		for (unsigned int i = 0; i < RUN_REQ_MAX_DIRS; i++)
			rec(tags[t], tags[t] == RUN_REC_MOUNT ? "ro:t:/d" : "/d");
		cr_assert_eq(parse(), 0, "%s", req.error);
		rec(tags[t], tags[t] == RUN_REC_MOUNT ? "ro:t:/d" : "/d");
		cr_assert_eq(parse(), -1, "'%c' x %u accepted", tags[t], RUN_REQ_MAX_DIRS + 1);
		cr_assert(strstr(req.error, "too many"), "%s", req.error);
	}
}

Test(run_request, too_many_groups)
{
	magic();
	rec(RUN_REC_ARG, "x");
	for (unsigned int i = 0; i < RUN_REQ_MAX_GROUPS; i++)
		rec(RUN_REC_GROUPS, "7");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_eq(req.ngroups, RUN_REQ_MAX_GROUPS);
	cr_assert_eq(req.groups[RUN_REQ_MAX_GROUPS - 1], 7);
	rec(RUN_REC_GROUPS, "7");
	cr_assert_parse_fails("too many groups");
}

/* Every maximum at once still fits the init's arena. */
Test(run_request, maxima_fit_the_arena)
{
	magic();
	for (unsigned int i = 0; i < RUN_REQ_MAX_ARGS; i++)
		rec(RUN_REC_ARG, "x");
	for (unsigned int i = 0; i < RUN_REQ_MAX_ENV; i++)
		rec(RUN_REC_ENV, "A=1");
	for (unsigned int i = 0; i < RUN_REQ_MAX_DIRS; i++) {
		rec(RUN_REC_OVERLAY, "/o");
		rec(RUN_REC_TMPFS, "/t");
		rec(RUN_REC_MOUNT, "rw:tag:/m");
	}
	for (unsigned int i = 0; i < RUN_REQ_MAX_GROUPS; i++)
		rec(RUN_REC_GROUPS, "1");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_str_eq(req.mounts[RUN_REQ_MAX_DIRS - 1].tag, "tag");
	cr_assert_eq(req.groups[RUN_REQ_MAX_GROUPS - 1], 1);
	cr_assert_str_eq(req.tmpfs[RUN_REQ_MAX_DIRS - 1], "/t");
}

Test(run_request, arena_too_small)
{
	magic();
	rec(RUN_REC_ARG, "a");
	rec(RUN_REC_ARG, "b");
	/* spare + 2 args + NULL + envp NULL = 5 pointers */
	cr_assert_eq(parse_arena(4 * sizeof(char *)), -1);
	cr_assert(strstr(req.error, "arena"), "%s", req.error);
	cr_assert_eq(parse_arena(5 * sizeof(char *)), 0, "%s", req.error);
}

Test(run_request, request_too_large)
{
	magic();
	rec(RUN_REC_ARG, "true");
	while (b.len <= RUN_REQ_MAX_SIZE)
		rec_fill('Z', 'z', 'z', 65536);
	cr_assert_parse_fails("too large");
}

/* A failed parse leaves nothing half-filled that the init could use. */
Test(run_request, failure_resets_the_result)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_HOSTNAME, "h");
	cr_assert_eq(parse(), 0);
	b.len = 0;
	magic();
	rec(RUN_REC_HOSTNAME, "h");
	rec(RUN_REC_UID, "bad");
	cr_assert_eq(parse(), -1);
	cr_assert_null(req.argv);
	cr_assert_eq(req.argc, 0);
}

/* The OCI process records: hold, umask, rlimits, no_new_privs, masked/read-only paths. */
Test(run_request, oci_process_records)
{
	magic();
	rec(RUN_REC_ARG, "sh");
	rec(RUN_REC_HOLD, "1");
	rec(RUN_REC_UMASK, "027");
	rec(RUN_REC_RLIMIT, "7:1000:1024");
	rec(RUN_REC_RLIMIT, "6:-1:-1");
	rec(RUN_REC_NO_NEW_PRIVS, "1");
	rec(RUN_REC_MASK, "/proc/kcore");
	rec(RUN_REC_MASK, "/proc/acpi");
	rec(RUN_REC_READONLY, "/proc/sys");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert(req.hold);
	cr_assert(req.no_new_privs);
	cr_assert_eq(req.umask, 027);
	cr_assert_eq(req.nrlimits, 2);
	cr_assert_eq(req.rlimits[0].resource, 7);
	cr_assert_eq(req.rlimits[0].soft, 1000);
	cr_assert_eq(req.rlimits[0].hard, 1024);
	cr_assert_eq(req.rlimits[1].soft, ~0ULL);
	cr_assert_eq(req.nmasked, 2);
	cr_assert_str_eq(req.masked[1], "/proc/acpi");
	cr_assert_eq(req.nreadonly, 1);
	cr_assert_str_eq(req.readonly[0], "/proc/sys");
}

Test(run_request, oci_defaults)
{
	magic();
	rec(RUN_REC_ARG, "sh");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_not(req.hold);
	cr_assert_eq(req.umask, 022);
	cr_assert_eq(req.nrlimits, 0);
}

Test(run_request, bad_oci_records)
{
	static const struct {
		char tag;
		const char *value, *msg;
	} cases[] = {
		{ RUN_REC_UMASK, "0778", "octal" },
		{ RUN_REC_UMASK, "1000", "above 0777" },
		{ RUN_REC_UMASK, "", "octal" },
		{ RUN_REC_RLIMIT, "7:10", "RESOURCE:SOFT:HARD" },
		{ RUN_REC_RLIMIT, "16:1:1", "RESOURCE:SOFT:HARD" },
		{ RUN_REC_RLIMIT, "7:20:10", "RESOURCE:SOFT:HARD" },
		{ RUN_REC_RLIMIT, "7:-1:10", "RESOURCE:SOFT:HARD" },
		{ RUN_REC_RLIMIT, "7:x:10", "RESOURCE:SOFT:HARD" },
		{ RUN_REC_RLIMIT, "7:99999999999999999999:-1", "RESOURCE:SOFT:HARD" },
		{ RUN_REC_MASK, "proc", "absolute" },
		{ RUN_REC_READONLY, "", "absolute" },
		{ RUN_REC_HOLD, "2", "0 or 1" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.len = 0;
		magic();
		rec(RUN_REC_ARG, "sh");
		rec(cases[i].tag, cases[i].value);
		cr_assert_parse_fails(cases[i].msg);
	}
	b.len = 0;
	magic();
	rec(RUN_REC_ARG, "sh");
	rec(RUN_REC_RLIMIT, "7:1:1");
	rec(RUN_REC_RLIMIT, "7:2:2");
	cr_assert_parse_fails("resource repeated");
	b.len = 0;
	magic();
	rec(RUN_REC_ARG, "sh");
	rec(RUN_REC_UMASK, "0");
	rec(RUN_REC_UMASK, "0");
	cr_assert_parse_fails("repeated");
}

/* RUN_REC_CAPS: five sets by letter, 16 hex digits each; absent sets stay empty. */
Test(run_request, capability_sets)
{
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_CAPS, "b:00000000800405fb");
	rec(RUN_REC_CAPS, "e:0000000000002001");
	rec(RUN_REC_CAPS, "a:ffffffffffffffff");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert(req.has_caps);
	cr_assert_eq(req.caps[RUN_CAP_BOUNDING], 0x800405fbULL);
	cr_assert_eq(req.caps[RUN_CAP_EFFECTIVE], 0x2001ULL);
	cr_assert_eq(req.caps[RUN_CAP_PERMITTED], 0);
	cr_assert_eq(req.caps[RUN_CAP_INHERITABLE], 0);
	cr_assert_eq(req.caps[RUN_CAP_AMBIENT], ~0ULL);
}

Test(run_request, no_capability_records_keep_root)
{
	magic();
	rec(RUN_REC_ARG, "true");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_not(req.has_caps);
}

Test(run_request, bad_capability_records)
{
	static const char *const bad[] = { "x:0000000000000000", "b:000000000000000", "b:00000000000000000",
					   "b-0000000000000000", "b:000000000000000G", "b:00000000000000FF", "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		teardown();
		setup();
		magic();
		rec(RUN_REC_ARG, "true");
		rec(RUN_REC_CAPS, bad[i]);
		cr_assert_parse_fails("expected S:16 hex digits");
	}
	teardown();
	setup();
	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_CAPS, "p:0000000000000001");
	rec(RUN_REC_CAPS, "p:0000000000000001");
	cr_assert_parse_fails("set repeated");
}

/* RUN_REC_SECCOMP: lowercase hex of whole instructions, once. */
Test(run_request, seccomp_filter)
{
	static const char *const bad[] = { "", "0011", "00112233445566gg", "00112233445566AA" };

	magic();
	rec(RUN_REC_ARG, "true");
	rec(RUN_REC_SECCOMP, "0600000000000000");
	cr_assert_eq(parse(), 0, "%s", req.error);
	cr_assert_str_eq(req.seccomp_hex, "0600000000000000");
	cr_assert_eq(req.seccomp_len, 16);
	rec(RUN_REC_SECCOMP, "0600000000000000");
	cr_assert_parse_fails("repeated");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		teardown();
		setup();
		magic();
		rec(RUN_REC_ARG, "true");
		rec(RUN_REC_SECCOMP, bad[i]);
		cr_assert_eq(parse(), -1, "case %zu parsed", i);
	}
}
