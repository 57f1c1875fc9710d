/*
 * The fanotify helper (fs/vtab_watch.c): changes by another host process move the
 * slots they touch. Waits are bounded polls, never timing assertions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/vtab.h"
#include "fs/vtab_watch.h"

static char tree[64], vtdir[64];
static struct vtab *vt;
static struct vtab_watch *w;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static const char *path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tree, name);
	return buf[i];
}

static void setup(void)
{
	char err[256];
	int fd;

	/* tmpfs: file handles work there, whatever /tmp is in this container. */
	strcpy(tree, "/dev/shm/nook-vtw-tree-XXXXXX");
	cr_assert_not_null(mkdtemp(tree));
	strcpy(vtdir, "/tmp/nook-vtw-test-XXXXXX");
	cr_assert_not_null(mkdtemp(vtdir));
	fd = open(tree, O_PATH | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	vt = vtab_open(fd, vtdir, 65536, err, sizeof(err));
	cr_assert_not_null(vt, "%s", err);
	w = vtab_watch_start(vt, fd, err, sizeof(err));
	close(fd);
	if (!w)
		cr_skip_test("no fanotify here: %s", err);
}

static void teardown(void)
{
	vtab_watch_stop(w);
	vtab_close(vt);
	nftw(tree, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	nftw(vtdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(vtab_watch, .init = setup, .fini = teardown);

static uint64_t slot_of(const char *name)
{
	struct stat st;

	cr_assert_eq(lstat(path(name), &st), 0, "%s", name);
	return vtab_slot(vt, st.st_dev, st.st_ino, 0);
}

/* Runs fn in another process (our own pid's events are skipped on purpose). */
static void as_other_process(void (*fn)(void))
{
	int st;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Waits (at most 10 s) until the slot's meta or data word differs from before. */
static bool moved(uint64_t slot, const struct nook_vt_entry_out *before, bool data)
{
	for (int i = 0; i < 1000; i++) {
		struct nook_vt_entry_out now;

		vtab_read(vt, slot, &now);
		if (data ? now.data != before->data : now.meta != before->meta)
			return true;
		usleep(10000);
	}
	return false;
}

static void do_write(void)
{
	int fd = open(path("f"), O_WRONLY);

	if (fd < 0 || write(fd, "more", 4) != 4)
		_exit(1);
	close(fd);
}

static void do_chmod(void)
{
	if (chmod(path("f"), 0600))
		_exit(1);
}

static void do_rename(void)
{
	if (rename(path("d/f"), path("e/g")))
		_exit(1);
}

static void do_unlink(void)
{
	if (unlink(path("f")))
		_exit(1);
}

static void host_file(const char *name)
{
	int fd = open(path(name), O_CREAT | O_WRONLY, 0644);

	cr_assert_geq(fd, 0);
	close(fd);
}

Test(vtab_watch, write_moves_data)
{
	struct nook_vt_entry_out b;
	uint64_t s;

	host_file("f");
	s = slot_of("f");
	vtab_read(vt, s, &b);
	as_other_process(do_write);
	cr_assert(moved(s, &b, true), "a host write bumps the file's data");
}

Test(vtab_watch, chmod_moves_meta)
{
	struct nook_vt_entry_out b;
	uint64_t s;

	host_file("f");
	s = slot_of("f");
	vtab_read(vt, s, &b);
	as_other_process(do_chmod);
	cr_assert(moved(s, &b, false), "a host chmod bumps the file's meta");
}

Test(vtab_watch, rename_moves_both_parents_and_the_file)
{
	struct nook_vt_entry_out bd, be, bf;
	uint64_t sd, se, sf;

	cr_assert_eq(mkdir(path("d"), 0755), 0);
	cr_assert_eq(mkdir(path("e"), 0755), 0);
	host_file("d/f");
	sd = slot_of("d");
	se = slot_of("e");
	sf = slot_of("d/f");
	vtab_read(vt, sd, &bd);
	vtab_read(vt, se, &be);
	vtab_read(vt, sf, &bf);
	as_other_process(do_rename);
	cr_assert(moved(sd, &bd, true), "old parent's names");
	cr_assert(moved(se, &be, true), "new parent's names");
	cr_assert(moved(sf, &bf, false), "the moved file's meta");
}

Test(vtab_watch, unlink_moves_the_parent)
{
	struct nook_vt_entry_out b;
	uint64_t s;

	host_file("f");
	s = slot_of("");
	vtab_read(vt, s, &b);
	as_other_process(do_unlink);
	cr_assert(moved(s, &b, true), "the root's names");
}

Test(vtab_watch, own_changes_are_left_to_our_servers)
{
	struct nook_vt_entry_out bo, bf;
	uint64_t so, sf;

	host_file("own");
	host_file("f");
	so = slot_of("own");
	sf = slot_of("f");
	if (so == sf)
		cr_skip_test("the two files share a slot");
	vtab_read(vt, so, &bo);
	vtab_read(vt, sf, &bf);
	cr_assert_eq(chmod(path("own"), 0600), 0);
	as_other_process(do_chmod);
	/* Events come in order: once the later one is in, the earlier was handled. */
	cr_assert(moved(sf, &bf, false));
	{
		struct nook_vt_entry_out now;

		vtab_read(vt, so, &now);
		cr_assert_eq(now.meta, bo.meta, "our own chmod was skipped");
	}
	cr_assert_geq(vtab_watch_events(w), 2);
}
