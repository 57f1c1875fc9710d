/* --fs PATH[,tag=NAME][,opts] parsing: tags, defaults, options and every refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_spec.h"

static char dir[64], sub[128];

static void spec_setup(void)
{
	strcpy(dir, "/tmp/nook-fsspec.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/data", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
}

static void spec_teardown(void)
{
	rmdir(sub);
	rmdir(dir);
}

TestSuite(fs_spec, .init = spec_setup, .fini = spec_teardown);

static int parse(const char *fmt, const char *arg, struct fs_spec *s, char *err)
{
	char spec[512];

	snprintf(spec, sizeof(spec), fmt, arg);
	return fs_spec_parse(spec, s, err, 256);
}

Test(fs_spec, default_tag_is_last_component)
{
	struct fs_spec s;
	char err[256], withslash[160];

	cr_assert_eq(parse("%s", sub, &s, err), 0, "%s", err);
	cr_assert_str_eq(s.tag, "data");
	cr_assert_str_eq(s.opts.source, sub);
	cr_assert_eq(s.opts.cache, FS_CACHE_AUTO);
	cr_assert_not(s.opts.readonly);
	snprintf(withslash, sizeof(withslash), "%s//", sub);
	cr_assert_eq(parse("%s", withslash, &s, err), 0, "%s", err);
	cr_assert_str_eq(s.tag, "data");
}

Test(fs_spec, tag_and_options)
{
	struct fs_spec s;
	char err[256];

	cr_assert_eq(parse("%s,tag=share1,ro,cache=never,threads=3,no_xattr", sub, &s, err), 0,
		     "%s", err);
	cr_assert_str_eq(s.tag, "share1");
	cr_assert(s.opts.readonly);
	cr_assert_eq(s.opts.cache, FS_CACHE_NEVER);
	cr_assert_eq(s.opts.threads, 3);
	cr_assert_not(s.opts.xattr);
}

Test(fs_spec, host_transport_options_are_refused)
{
	struct fs_spec s;
	char err[256];

	cr_assert_eq(parse("%s,io_uring", sub, &s, err), -1);
	cr_assert(strstr(err, "nook fs serve"), "%s", err);
	cr_assert_eq(parse("%s,poll_us=10", sub, &s, err), -1);
}

Test(fs_spec, tag_of_36_bytes_fits_37_does_not)
{
	struct fs_spec s;
	char err[256], spec[300];

	snprintf(spec, sizeof(spec), "%s,tag=%s", sub, "abcdefghijklmnopqrstuvwxyz0123456789");
	cr_assert_eq(fs_spec_parse(spec, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen(s.tag), 36);
	snprintf(spec, sizeof(spec), "%s,tag=%s", sub, "abcdefghijklmnopqrstuvwxyz0123456789X");
	cr_assert_eq(fs_spec_parse(spec, &s, err, sizeof(err)), -1);
	cr_assert(strstr(err, "longer than 36"), "%s", err);
}

Test(fs_spec, refusals)
{
	struct fs_spec s;
	char err[256];

	cr_assert_eq(parse("%s/missing", dir, &s, err), -1);
	cr_assert(strstr(err, "no such directory"), "%s", err);
	cr_assert_eq(parse("%s", "/etc/hostname", &s, err), -1);
	cr_assert(strstr(err, "not a directory"), "%s", err);
	cr_assert_eq(parse("%s", "", &s, err), -1);
	cr_assert_eq(parse("%s,tag=", sub, &s, err), -1);
	cr_assert_eq(parse("%s,tag=a b", sub, &s, err), -1);
	cr_assert_eq(parse("%s,cache=sometimes", sub, &s, err), -1);
	cr_assert_eq(parse("%s,bogus", sub, &s, err), -1);
	cr_assert_eq(parse("%s", "/", &s, err), -1, "the root directory has no name to use as tag");
	cr_assert_eq(parse("%s,tag=hostroot", "/", &s, err), 0, "%s", err);
}

Test(fs_spec, dax_window_size_and_min)
{
	struct fs_spec s;
	char err[256];

	cr_assert_eq(parse("%s", sub, &s, err), 0, "%s", err);
	cr_assert_eq(s.dax_size, 0, "no window unless asked");
	cr_assert_eq(s.dax_min, 64 << 10);
	cr_assert_eq(parse("%s,dax=256M,dax_min=1M,ro", sub, &s, err), 0, "%s", err);
	cr_assert_eq(s.dax_size, 256ULL << 20);
	cr_assert_eq(s.dax_min, 1ULL << 20);
	cr_assert(s.opts.readonly, "other options still reach the server");
	cr_assert_eq(parse("%s,dax=16G,dax_min=0", sub, &s, err), 0, "%s", err);
	cr_assert_eq(s.dax_size, 16ULL << 30);
	cr_assert_eq(s.dax_min, 0);
	cr_assert_eq(parse("%s,dax=4194304", sub, &s, err), 0, "bare bytes: %s", err);
	cr_assert_eq(s.dax_size, 4ULL << 20);

	cr_assert_eq(parse("%s,dax=3M", sub, &s, err), -1);
	cr_assert(strstr(err, "multiple of 2M"), "%s", err);
	cr_assert_eq(parse("%s,dax=18G", sub, &s, err), -1);
	cr_assert(strstr(err, "16G"), "%s", err);
	cr_assert_eq(parse("%s,dax=", sub, &s, err), -1);
	cr_assert_eq(parse("%s,dax=1T", sub, &s, err), -1);
	cr_assert_eq(parse("%s,dax=-2M", sub, &s, err), -1);
	cr_assert_eq(parse("%s,dax=99999999999999999999G", sub, &s, err), -1);
	cr_assert_eq(parse("%s,dax=17179869184G", sub, &s, err), -1, "overflows");
	cr_assert_eq(parse("%s,dax_min=big", sub, &s, err), -1);
}

Test(fs_spec, dax_window_guest_ram_cost)
{
	struct fs_spec s;
	char err[256];

	cr_assert_eq(parse("%s,dax=4G", sub, &s, err), 0, "%s", err);
	cr_assert_eq(fs_spec_dax_cost(&s), 64ULL << 20, "64 B per 4 KiB");
	cr_assert_eq(fs_spec_check_dax(&s, 128ULL << 20, err, sizeof(err)), 0, "exactly half");
	cr_assert_eq(fs_spec_check_dax(&s, 127ULL << 20, err, sizeof(err)), -1);
	cr_assert(strstr(err, "--memory"), "%s", err);
}
