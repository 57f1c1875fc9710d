/*
 * Passthrough directory reading (readdir, readdirplus) and access.
 */
#include "fs/passthrough_int.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs/handle.h"

/* ---- directories ---- */

int pt_readdir(struct pt_fs *fs, const struct pt_req *rq, const struct fuse_read_in *in,
	       bool plus, struct fuse_iov *out)
{
	struct handle *h = handle_get(fs->handles, in->fh, true);
	struct inode *dir = NULL;
	char buf[16384] __attribute__((aligned(8)));
	size_t written = 0;
	int err = 0;
	bool full = false;

	if (!h)
		return -EBADF;
	if (plus && !(dir = inode_get(fs->inodes, rq->nodeid))) {
		handle_put(fs->handles, h);
		return -ESTALE;
	}
	pthread_mutex_lock(&h->lock);
	/* Offsets are the host's d_off cookies: seek to where the client wants to be. */
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0) {
		err = -errno;
		goto out;
	}
	while (!full) {
		ssize_t n = getdents64(h->fd, buf, sizeof(buf));

		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			size_t nl = strlen(d->d_name);
			size_t rec = plus ? FUSE_REC_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nl) :
					    FUSE_REC_ALIGN(FUSE_NAME_OFFSET + nl);
			struct fuse_direntplus dp;
			struct fuse_dirent *de = plus ? &dp.dirent : (struct fuse_dirent *)&dp.dirent;
			static const char pad[8];

			pos += d->d_reclen;
			if (rec > fuse_iov_left(out)) {
				full = true;
				break;
			}
			memset(&dp, 0, sizeof(dp));
			de->ino = d->d_ino;
			de->off = (uint64_t)d->d_off;
			de->namelen = (uint32_t)nl;
			de->type = d->d_type;
			if (plus && strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
				int lerr = pt_lookup_in(fs, dir, d->d_name, &dp.entry_out);

				/* Raced with an unlink on the host: skip the name. */
				if (lerr == -ENOENT)
					continue;
				if (lerr) {
					err = written ? 0 : lerr;
					full = true;
					break;
				}
			}
			/* Space was checked above, so these writes cannot fail. */
			if (plus)
				fuse_iov_write(out, &dp, FUSE_NAME_OFFSET_DIRENTPLUS);
			else
				fuse_iov_write(out, de, FUSE_NAME_OFFSET);
			fuse_iov_write(out, d->d_name, nl);
			fuse_iov_write(out, pad, rec - (plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) - nl);
			written += rec;
		}
	}
out:
	pthread_mutex_unlock(&h->lock);
	if (dir)
		inode_put(fs->inodes, dir);
	handle_put(fs->handles, h);
	return err ? err : (int)written;
}

int pt_access(struct pt_fs *fs, const struct pt_req *rq, uint32_t mask)
{
	struct pt_node n;
	struct statx stx;
	uint32_t bits;
	int err = pt_node_get(fs, rq->nodeid, &n);

	if (err)
		return err;
	err = pt_statx(n.fd, &stx);
	pt_node_put(fs, &n);
	if (err || !(mask & 7))
		return err;
	/* Only sent without default_permissions: check the mode bits for the caller. */
	if (rq->uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(stx.stx_mode) && !(stx.stx_mode & 0111))
			return -EACCES;
		return 0;
	}
	bits = rq->uid == stx.stx_uid ? (stx.stx_mode >> 6) :
	       rq->gid == stx.stx_gid ? (stx.stx_mode >> 3) : stx.stx_mode;
	return (mask & 7 & ~bits) ? -EACCES : 0;
}
