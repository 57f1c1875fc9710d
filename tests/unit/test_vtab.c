/* The version table file (fs/vtab.c): hashing, creation race, reopen, bad files, bumps. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/vtab.h"

static char dir[64], tree[64];
static int tree_fd = -1;
static struct vtab *holder;   /* keeps a table made by make_table() in use */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void setup(void)
{
	strcpy(dir, "/tmp/nook-vtab-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	strcpy(tree, "/tmp/nook-vtab-tree-XXXXXX");
	cr_assert_not_null(mkdtemp(tree));
	tree_fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(tree_fd, 0);
}

static void teardown(void)
{
	vtab_close(holder);
	holder = NULL;
	close(tree_fd);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	nftw(tree, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(vtab, .init = setup, .fini = teardown);

/* The files the table directory holds (table, key). */
static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(vtab, siphash_reference_vector)
{
	/* The paper's test vector: key 00..0f, message 00..0e. */
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	cr_assert_eq(vtab_siphash24(key, msg, sizeof(msg)), 0xa129ca6149be45e5ull);
	/* Empty message (reference vector 0). */
	cr_assert_eq(vtab_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
}

Test(vtab, create_layout_and_private_files)
{
	char err[256];
	struct vtab *vt = vtab_open(tree_fd, dir, 64, err, sizeof(err));
	struct vtab_header h;
	struct stat st;
	char key[300];

	cr_assert_not_null(vt, "%s", err);
	cr_assert_eq(vtab_nslots(vt), 64);
	cr_assert_eq(vtab_size(vt), 4096 + 64 * 16);
	cr_assert_eq(pread(vtab_fd(vt), &h, sizeof(h), 0), (ssize_t)sizeof(h));
	cr_assert_eq(memcmp(h.magic, "NOOKVTB1", 8), 0);
	cr_assert_eq(h.layout, 1);
	cr_assert_eq(h.slot_size, 16);
	cr_assert_eq(h.nslots, 64);
	cr_assert_eq(stat(vtab_path(vt), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(st.st_size, 4096 + 64 * 16);
	snprintf(key, sizeof(key), "%s.key", vtab_path(vt));
	cr_assert_eq(stat(key, &st), 0, "the key is a separate file");
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(st.st_size, 16);
	cr_assert_eq(count_files(), 2);
	vtab_close(vt);
}

Test(vtab, slots_stable_across_reopen_and_in_range)
{
	char err[256];
	struct vtab *a = vtab_open(tree_fd, dir, 1024, err, sizeof(err)), *b;
	uint64_t s[100];
	int zero_or_big = 0;

	cr_assert_not_null(a, "%s", err);
	for (int i = 0; i < 100; i++) {
		s[i] = vtab_slot(a, 0x801, 1000 + i, 0);
		zero_or_big += s[i] == 0 || s[i] >= 1024;
	}
	cr_assert_eq(zero_or_big, 0, "slots are in 1..nslots-1");
	/* A second opener asking for another size gets the existing table. */
	b = vtab_open(tree_fd, dir, 4096, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(vtab_nslots(b), 1024);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(vtab_slot(b, 0x801, 1000 + i, 0), s[i]);
	/* The same object in a different generation or device is (almost surely) elsewhere. */
	cr_assert(vtab_slot(b, 0x801, 1000, 1) != s[0] || vtab_slot(b, 0x802, 1000, 0) != s[0]);
	vtab_close(b);
	/* Reopened while another user keeps it: same key, same slots. */
	b = vtab_open(tree_fd, dir, 1024, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(vtab_slot(b, 0x801, 1042, 0), s[42]);
	vtab_close(b);
	cr_assert_eq(count_files(), 2, "still in use");
	vtab_close(a);
	cr_assert_eq(count_files(), 0, "the last user removes table and key");
}

Test(vtab, reopened_after_the_last_close_is_new)
{
	char err[256];
	struct vtab *a = vtab_open(tree_fd, dir, 16, err, sizeof(err));
	struct nook_vt_entry_out r;

	cr_assert_not_null(a, "%s", err);
	vtab_bump(a, 3, VTAB_MD);
	vtab_close(a);
	a = vtab_open(tree_fd, dir, 16, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	vtab_read(a, 3, &r);
	cr_assert_eq(r.data, 0, "a fresh table");
	cr_assert_eq(count_files(), 2);
	vtab_close(a);
}

Test(vtab, two_slots_is_one_usable_slot)
{
	char err[256];
	struct vtab *vt = vtab_open(tree_fd, dir, 2, err, sizeof(err));

	cr_assert_not_null(vt, "%s", err);
	cr_assert_eq(vtab_slot(vt, 1, 2, 0), 1);
	cr_assert_eq(vtab_slot(vt, 7, 9, 0), 1);
	vtab_close(vt);
}

Test(vtab, bad_sizes_refused)
{
	char err[256];

	cr_assert_null(vtab_open(tree_fd, dir, 3, err, sizeof(err)));
	cr_assert(strstr(err, "power of two"), "%s", err);
	cr_assert_null(vtab_open(tree_fd, dir, 1, err, sizeof(err)));
	cr_assert_null(vtab_open(tree_fd, dir, 1ull << 27, err, sizeof(err)));
	cr_assert_eq(count_files(), 0, "nothing created for a bad size");
}

struct race {
	uint64_t slots;
	struct vtab *vt;
};

static void *race_open(void *arg)
{
	struct race *r = arg;
	char err[256];

	r->vt = vtab_open(tree_fd, dir, 256, err, sizeof(err));
	cr_assert_not_null(r->vt, "%s", err);
	r->slots = vtab_slot(r->vt, 5, 77, 0) << 32 | vtab_slot(r->vt, 5, 78, 0);
	vtab_bump(r->vt, 3, VTAB_DATA);
	return NULL;
}

Test(vtab, creation_race_threads)
{
	pthread_t th[8];
	struct race got[8];
	struct nook_vt_entry_out r;

	for (int i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, race_open, &got[i]), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int i = 1; i < 8; i++)
		cr_assert_eq(got[i].slots, got[0].slots, "every opener uses the same key");
	cr_assert_eq(count_files(), 2, "one table and one key, no leftovers");
	vtab_read(got[5].vt, 3, &r);
	cr_assert_eq(r.data, 8, "every opener bumped the one shared table");
	for (int i = 0; i < 8; i++)
		vtab_close(got[i].vt);
	cr_assert_eq(count_files(), 0);
}

Test(vtab, creation_race_processes)
{
	int fds[2];
	pid_t pid[4];
	uint64_t got[4];

	cr_assert_eq(pipe(fds), 0);
	for (int i = 0; i < 4; i++) {
		pid[i] = fork();
		cr_assert_geq(pid[i], 0);
		if (pid[i] == 0) {
			char err[256];
			struct vtab *vt = vtab_open(tree_fd, dir, 256, err, sizeof(err));
			uint64_t v = vt ? vtab_slot(vt, 9, 99, 0) : 0;

			if (write(fds[1], &v, sizeof(v)) != sizeof(v))
				_exit(2);
			_exit(vt ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st;

		cr_assert_eq(read(fds[0], &got[i], sizeof(got[i])), (ssize_t)sizeof(got[i]));
		cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(fds[0]);
	close(fds[1]);
	cr_assert_neq(got[0], 0);
	for (int i = 1; i < 4; i++)
		cr_assert_eq(got[i], got[0]);
	cr_assert_eq(count_files(), 2);
}

/* Makes the table once, then lets the test damage it. */
static char *make_table(char *path, size_t len)
{
	char err[256];
	struct vtab *vt = vtab_open(tree_fd, dir, 16, err, sizeof(err));

	cr_assert_not_null(vt, "%s", err);
	snprintf(path, len, "%s", vtab_path(vt));
	holder = vt;
	return path;
}

static void expect_refused(const char *what)
{
	char err[256] = "";

	cr_assert_null(vtab_open(tree_fd, dir, 16, err, sizeof(err)));
	cr_assert(strstr(err, what), "expected '%s' in: %s", what, err);
	cr_assert_null(strchr(err, '\n'), "one line");
}

Test(vtab, bad_magic_refused)
{
	char p[300];
	int fd = open(make_table(p, sizeof(p)), O_WRONLY);

	cr_assert_eq(pwrite(fd, "NOTATABL", 8, 0), 8);
	close(fd);
	expect_refused("bad magic");
}

Test(vtab, bad_layout_and_slot_count_refused)
{
	char p[300];
	uint32_t v = 2;
	uint64_t n = 12;
	int fd = open(make_table(p, sizeof(p)), O_WRONLY);

	cr_assert_eq(pwrite(fd, &v, 4, 8), 4);
	expect_refused("layout");
	v = 1;
	cr_assert_eq(pwrite(fd, &v, 4, 8), 4);
	cr_assert_eq(pwrite(fd, &n, 8, 16), 8);
	expect_refused("slot count");
	n = 32; /* a power of two, but the file is sized for 16 */
	cr_assert_eq(pwrite(fd, &n, 8, 16), 8);
	expect_refused("does not match");
	close(fd);
}

Test(vtab, short_file_refused)
{
	char p[300];

	cr_assert_eq(truncate(make_table(p, sizeof(p)), 100), 0);
	expect_refused("too short");
}

Test(vtab, foreign_mode_refused)
{
	char p[300];

	cr_assert_eq(chmod(make_table(p, sizeof(p)), 0644), 0);
	expect_refused("not private");
}

Test(vtab, directory_in_place_refused)
{
	char p[300];

	make_table(p, sizeof(p));
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(mkdir(p, 0700), 0);
	cr_assert_null(vtab_open(tree_fd, dir, 16, p, sizeof(p)));
}

Test(vtab, bad_key_refused)
{
	char p[300], k[310];

	snprintf(k, sizeof(k), "%s.key", make_table(p, sizeof(p)));
	cr_assert_eq(truncate(k, 8), 0);
	expect_refused("16 bytes");
}

Test(vtab, bumps_epoch_and_flags)
{
	char err[256];
	struct vtab *vt = vtab_open(tree_fd, dir, 16, err, sizeof(err));
	struct nook_vt_entry_out r;

	cr_assert_not_null(vt, "%s", err);
	vtab_read(vt, 5, &r);
	cr_assert_eq(r.slot, 5);
	cr_assert_eq(r.meta, 0);
	cr_assert_eq(r.data, 0);
	cr_assert_eq(r.epoch, 1);
	vtab_bump(vt, 5, VTAB_META);
	vtab_bump(vt, 5, VTAB_MD);
	vtab_bump(vt, 0, VTAB_MD);     /* reserved: ignored */
	vtab_bump(vt, 16, VTAB_MD);    /* out of range: ignored */
	vtab_bump_epoch(vt);
	vtab_read(vt, 5, &r);
	cr_assert_eq(r.meta, 2);
	cr_assert_eq(r.data, 1);
	cr_assert_eq(r.epoch, 2);
	vtab_read(vt, 0, &r);
	cr_assert_eq(r.slot, 0, "slot 0 reads as unversioned");
	vtab_read(vt, 99, &r);
	cr_assert_eq(r.slot, 0);
	vtab_meta_flags(vt, 5, VTAB_META_VOLATILE, 0);
	vtab_read(vt, 5, &r);
	cr_assert_eq(r.meta, VTAB_META_VOLATILE | 3, "flag set, and the word moved");
	vtab_meta_flags(vt, 5, VTAB_META_VOLATILE, 0);
	vtab_read(vt, 5, &r);
	cr_assert_eq(r.meta, VTAB_META_VOLATILE | 3, "setting a set flag changes nothing");
	vtab_bump(vt, 5, VTAB_META);
	vtab_meta_flags(vt, 5, 0, VTAB_META_VOLATILE);
	vtab_read(vt, 5, &r);
	cr_assert_eq(r.meta, 5);
	vtab_close(vt);
}
