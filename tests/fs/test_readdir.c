/* readdir: cookies stay valid while the directory changes; telldir/seekdir. */
#include "tests/fs/fs_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

TestSuite(readdir, .init = fst_setup, .fini = fst_teardown);

enum { FST_NORIG = 600 };

struct fst_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Long names so that the directory spans many getdents calls. */
static void fst_orig_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "original-entry-with-a-long-name-%04d", i);
}

static int fst_orig_index(const char *name)
{
	int i;

	if (sscanf(name, "original-entry-with-a-long-name-%d", &i) == 1 && i >= 0 &&
	    i < FST_NORIG)
		return i;
	return -1;
}

static void fst_make_originals(void)
{
	char name[64];

	for (int i = 0; i < FST_NORIG; i++) {
		fst_orig_name(name, sizeof(name), i);
		fst_write_file(name, "", 0);
	}
}

Test(readdir, cookies_stable_across_creates_and_deletes)
{
	static unsigned char seen[FST_NORIG], deleted[FST_NORIG];
	char buf[1024], name[80];
	int dots = 0, fresh = 0, calls = 0, del_next = FST_NORIG - 1;

	fst_ok(mkdir("d", 0755));
	fst_ok(chdir("d"));
	fst_make_originals();
	int fd = fst_ok(open(".", O_RDONLY | O_DIRECTORY));

	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));

		cr_assert(n >= 0, "getdents64: %s", strerror(errno));
		if (n == 0)
			break;
		calls++;
		for (long off = 0; off < n;) {
			struct fst_dirent64 *d = (void *)(buf + off);
			int i = fst_orig_index(d->d_name);

			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) {
				dots++;
				continue;
			}
			if (i < 0) {
				fresh++;
				continue;
			}
			cr_assert(!seen[i], "%s returned twice", d->d_name);
			seen[i] = 1;
		}
		/* Churn between calls: three new names, one removed original. */
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "new-%d-%d", calls, k);
			fst_write_file(name, "", 0);
		}
		if (del_next >= 0) {
			fst_orig_name(name, sizeof(name), del_next);
			fst_ok(unlink(name));
			deleted[del_next] = 1;
			del_next -= 7;
		}
	}
	close(fd);
	cr_assert_gt(calls, 5, "directory fit in %d calls; churn not exercised", calls);
	cr_assert_eq(dots, 2);
	for (int i = 0; i < FST_NORIG; i++)
		cr_assert(seen[i] || deleted[i], "untouched entry %d never returned", i);
	(void)fresh;                    /* new names may or may not show up: both are fine */
}

Test(readdir, telldir_seekdir)
{
	char name[80], want[256];

	fst_ok(mkdir("d", 0755));
	fst_ok(chdir("d"));
	fst_make_originals();
	DIR *dir = opendir(".");
	struct dirent *e;

	cr_assert(dir);
	for (int i = 0; i < 150; i++)
		cr_assert(readdir(dir));
	long pos = telldir(dir);

	e = readdir(dir);
	cr_assert(e);
	snprintf(want, sizeof(want), "%s", e->d_name);
	for (int i = 0; i < 200; i++)
		cr_assert(readdir(dir));
	/* Change the directory (but not the remembered entry) before seeking back. */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "between-%d", i);
		fst_write_file(name, "", 0);
	}
	int removed = 0;

	for (int i = 0; i < FST_NORIG; i += 50) {
		fst_orig_name(name, sizeof(name), i);
		if (strcmp(name, want)) {
			fst_ok(unlink(name));
			removed++;
		}
	}
	seekdir(dir, pos);
	e = readdir(dir);
	cr_assert(e);
	cr_assert_str_eq(e->d_name, want, "seekdir(telldir()) must return to the same entry");
	/* rewinddir sees the new names. */
	rewinddir(dir);
	int between = 0, total = 0;

	while ((e = readdir(dir))) {
		total++;
		between += !strncmp(e->d_name, "between-", 8);
	}
	cr_assert_eq(between, 20);
	cr_assert_eq(total, FST_NORIG - removed + 20 + 2);
	closedir(dir);
}

struct fst_churn {
	atomic_int stop;
	int created;
};

static void *fst_churn_thread(void *arg)
{
	struct fst_churn *c = arg;
	char name[64];

	for (int i = 0; !atomic_load(&c->stop); i++) {
		snprintf(name, sizeof(name), "churn-%d", i);
		int fd = open(name, O_WRONLY | O_CREAT, 0644);

		if (fd >= 0)
			close(fd);
		if (i >= 8) {
			snprintf(name, sizeof(name), "churn-%d", i - 8);
			unlink(name);
		}
		c->created = i;
	}
	return NULL;
}

Test(readdir, full_scans_under_concurrent_churn)
{
	static unsigned char seen[FST_NORIG];
	struct fst_churn c = { 0 };
	pthread_t t;

	fst_ok(mkdir("d", 0755));
	fst_ok(chdir("d"));
	fst_make_originals();
	cr_assert_eq(pthread_create(&t, NULL, fst_churn_thread, &c), 0);
	for (int round = 0; round < 10; round++) {
		DIR *dir = opendir(".");
		struct dirent *e;

		cr_assert(dir);
		memset(seen, 0, sizeof(seen));
		while ((e = readdir(dir))) {
			int i = fst_orig_index(e->d_name);

			if (i < 0)
				continue;
			cr_assert(!seen[i], "round %d: %s returned twice", round, e->d_name);
			seen[i] = 1;
		}
		closedir(dir);
		for (int i = 0; i < FST_NORIG; i++)
			cr_assert(seen[i], "round %d: entry %d missing", round, i);
	}
	atomic_store(&c.stop, 1);
	pthread_join(t, NULL);
}

/* Counts the entries of path other than "." and "..", and whether name is one. */
static int fst_count_entries(const char *path, const char *name, int *found)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int n = 0;

	cr_assert(dir, "opendir %s", path);
	*found = 0;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (!strcmp(e->d_name, name))
			*found = 1;
	}
	closedir(dir);
	return n;
}

/*
 * Listings may be cached by the client (cache=auto/always keep them across opendir),
 * but changes made through the mount show at once, and a change made on the host side
 * shows once the attribute timeout (1 s for cache=auto) has run out.
 */
Test(readdir, listing_follows_changes_from_both_sides)
{
	char host[4096];
	int found;

	fst_ok(mkdir("d", 0755));
	fst_write_file("d/a", "", 0);
	cr_assert_eq(fst_count_entries("d", "a", &found), 1);
	cr_assert_eq(fst_count_entries("d", "a", &found), 1);
	fst_write_file("d/b", "", 0);
	cr_assert_eq(fst_count_entries("d", "b", &found), 2);
	cr_assert(found);
	fst_ok(unlink("d/a"));
	cr_assert_eq(fst_count_entries("d", "a", &found), 1);
	cr_assert(!found);
	if (!fst_on_mount())
		return;
	const char *mode = getenv("NOOK_FS_MOUNT_OPTS");

	if (mode && strstr(mode, "cache=always"))
		return; /* listings are kept for a day there, by design */
	snprintf(host, sizeof(host), "%s/%s/d/h", getenv("NOOK_FS_SHARE_SRC"), fst_subdir());
	int fd = fst_ok(open(host, O_WRONLY | O_CREAT | O_EXCL, 0644));

	close(fd);
	usleep(1200 * 1000);
	cr_assert_eq(fst_count_entries("d", "h", &found), 2);
	cr_assert(found, "a file created on the host side never showed in the listing");
}
