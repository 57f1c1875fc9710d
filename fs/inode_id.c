/* Stable node ids from host file handles (see fs/inode_id.h). */
#include "fs/inode_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A handle with room for exactly the 8 bytes we use (larger ones fail EOVERFLOW). */
struct inode_id_handle {
	struct file_handle h;
	uint32_t w[2];
};

/*
 * Is mount mnt_id's root the root of its file system ("/" in mountinfo's 4th field),
 * with no other mount on it? A mount on a directory of the share hides what lies under
 * it from lookups, but not from handles: with one there, no stable ids.
 */
static bool inode_id_fs_root(uint64_t mnt_id)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], *save, *tok;
	bool root = false, covered = false, at_start = true;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		bool start = at_start;
		uint64_t id, parent;

		/* A line longer than the buffer comes in pieces: only a line's start counts. */
		at_start = strchr(line, '\n') != NULL;
		if (!start)
			continue;
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
		tok = strtok_r(line, " ", &save);
		id = tok ? strtoull(tok, NULL, 10) : 0;
		tok = strtok_r(NULL, " ", &save);
		parent = tok ? strtoull(tok, NULL, 10) : 0;
		if (parent == mnt_id && id != mnt_id)
			covered = true;
		if (id != mnt_id)
			continue;
		tok = strtok_r(NULL, " ", &save);
		tok = tok ? strtok_r(NULL, " ", &save) : NULL;
		root = tok && !strcmp(tok, "/");
	}
	fclose(f);
	return root && !covered;
}

static int inode_id_encode(int fd, struct inode_id_handle *ih)
{
	int mnt;

	memset(ih, 0, sizeof(*ih));
	ih->h.handle_bytes = sizeof(ih->w);
	if (name_to_handle_at(fd, "", &ih->h, &mnt, AT_EMPTY_PATH))
		return -errno;
	return ih->h.handle_bytes == sizeof(ih->w) ? 0 : -EOVERFLOW;
}

void inode_id_probe(struct inode_id_fs *x, int root_fd, const struct statx *stx,
		    char *why, size_t whylen)
{
	struct inode_id_handle ih;
	struct statx back;
	char path[32];
	int fd, mfd;

	x->mount_fd = -1;
	x->handle_type = 0;
	x->mnt_id = stx->stx_mnt_id;
	snprintf(why, whylen, "%s", "");
	if (!(stx->stx_mask & STATX_MNT_ID) || !(stx->stx_attributes & STATX_ATTR_MOUNT_ROOT) ||
	    !inode_id_fs_root(stx->stx_mnt_id)) {
		snprintf(why, whylen, "the shared directory is not the root of a file system "
			 "without other mounts on it");
		return;
	}
	if (inode_id_encode(root_fd, &ih)) {
		snprintf(why, whylen, "the file system has no 8-byte file handles");
		return;
	}
	/* open_by_handle_at() refuses an O_PATH mount fd: a real open of the root, through
	 * our own fd. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", root_fd);
	mfd = open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (mfd < 0) {
		snprintf(why, whylen, "cannot open the shared directory: %s", strerror(errno));
		return;
	}
	/* The capability check: decoding the root's own handle must give the root back. */
	fd = open_by_handle_at(mfd, &ih.h, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "open_by_handle_at: %s (needs CAP_DAC_READ_SEARCH)",
			 strerror(errno));
		close(mfd);
		return;
	}
	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO, &back) || back.stx_ino != stx->stx_ino ||
	    back.stx_dev_major != stx->stx_dev_major || back.stx_dev_minor != stx->stx_dev_minor) {
		snprintf(why, whylen, "the root's file handle does not give the root back");
		close(fd);
		close(mfd);
		return;
	}
	close(fd);
	x->mount_fd = mfd;
	x->handle_type = ih.h.handle_type;
}

void inode_id_close(struct inode_id_fs *x)
{
	if (x->mount_fd >= 0)
		close(x->mount_fd);
	x->mount_fd = -1;
}

uint64_t inode_id_of(const struct inode_id_fs *x, int fd)
{
	struct inode_id_handle ih;
	uint64_t id;

	if (!inode_id_on(x) || inode_id_encode(fd, &ih) || ih.h.handle_type != x->handle_type)
		return 0;
	id = (uint64_t)ih.w[1] << 32 | ih.w[0];
	return inode_id_is_stable(id) ? id : 0;
}

int inode_id_open(const struct inode_id_fs *x, uint64_t nodeid)
{
	struct inode_id_handle ih;
	int fd;

	if (!inode_id_on(x) || !inode_id_is_stable(nodeid))
		return -ESTALE;
	memset(&ih, 0, sizeof(ih));
	ih.h.handle_bytes = sizeof(ih.w);
	ih.h.handle_type = x->handle_type;
	ih.w[0] = (uint32_t)nodeid;
	ih.w[1] = (uint32_t)(nodeid >> 32);
	fd = open_by_handle_at(x->mount_fd, &ih.h, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	/* Resource shortages are worth retrying; anything else means no such object. */
	if (errno == ENOMEM || errno == EMFILE || errno == ENFILE)
		return -errno;
	return -ESTALE;
}
