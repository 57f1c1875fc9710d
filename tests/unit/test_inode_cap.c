/*
 * The inode table's memory cap (fs/inode.c, inode_table_set_max_entries): past it a
 * lookup of a new object fails with ENFILE, known objects are still found, FORGET makes
 * room again, and the table never holds more than the cap.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/inode.h"

#define NFILES 200
#define CAP 64

static struct inode *cap_add(struct inode_table *t, int dirfd, const char *name)
{
	struct statx stx;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
	cr_assert_eq(statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
			   STATX_BASIC_STATS | STATX_MNT_ID, &stx), 0);
	return inode_add(t, fd, &stx, stx.stx_mnt_id);
}

Test(inode_cap, enfile_past_the_cap_and_room_after_forget)
{
	char dir[] = "/tmp/nook-icap.XXXXXX", name[32], err[128], cmd[64];
	uint64_t first = 0;
	struct inode_table *t;
	int root, ok = 0, refused = 0;

	cr_assert(mkdtemp(dir));
	root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		close(openat(root, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	}
	t = inode_table_new(dup(root), false, err, sizeof(err));
	cr_assert(t, "%s", err);
	inode_table_set_max_entries(t, CAP);
	/* A guest flooding lookups: the root counts as one entry. */
	for (int i = 0; i < NFILES; i++) {
		struct inode *ino;

		snprintf(name, sizeof(name), "f%d", i);
		ino = cap_add(t, root, name);
		if (ino) {
			ok++;
			if (!first)
				first = ino->nodeid;
			inode_put(t, ino);
		} else {
			cr_assert_eq(errno, ENFILE);
			refused++;
		}
		cr_assert_leq(inode_count(t), CAP);
	}
	cr_expect_eq(ok, CAP - 1);
	cr_expect_eq(refused, NFILES - (CAP - 1));
	/* Known objects are still found at the cap. */
	struct inode *again = cap_add(t, root, "f0");
	cr_assert_not_null(again);
	cr_expect_eq(again->nodeid, first);
	inode_put(t, again);
	/* FORGET frees an entry; a new object fits again. */
	inode_forget(t, first, 2);
	struct inode *late = cap_add(t, root, "f199");
	cr_assert_not_null(late, "%s", strerror(errno));
	inode_put(t, late);
	cr_expect_leq(inode_count(t), CAP);
	cr_expect_gt(inode_entry_bytes(), 200);
	cr_log_info("inode entry: at most %zu bytes", inode_entry_bytes());
	inode_table_free(t);
	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
