/*
 * Stable node ids, for clients that keep file handles (FUSE_EXPORT_SUPPORT).
 *
 * A FUSE client encodes a file handle (name_to_handle_at, NFS export) as node id +
 * generation, and decodes one whose inode it no longer has (after drop_caches, FORGET,
 * or a remount, i.e. a new server) by LOOKUP(node id, "."). Table ids (fs/inode.h) mean
 * nothing once forgotten, so such handles went stale. When the shared directory is the
 * root of its host file system and that file system's own handles are 8 bytes (ext4,
 * and any that uses the 32-bit inode + generation form), the node id of an object on it
 * IS its host handle, and LOOKUP(id, ".") reopens the object with open_by_handle_at
 * (needs CAP_DAC_READ_SEARCH): handles survive as they do on ext4 itself. Otherwise the
 * server does not advertise export support.
 *
 * Confinement: a client can send any id. Ids are only ever decoded against the share's
 * own mount, the share is that file system's root, and no other mount sits on it (one
 * would hide what is under it from lookups, not from handles), so anything a forged id
 * opens is inside the share, where a plain lookup could reach it too. A mount made
 * below the share later is not seen: what it covers was visible to the client before.
 *
 * Id layout: the handle's first 32-bit word (ext4: the inode number) in the low half, its
 * second (the inode generation) in the high half. Handles whose first word has bit 31
 * set are not used as ids (ext4 file systems with over 2^31 inodes): table ids of a table
 * with stable ids have that bit set, so the two kinds never collide.
 */
#ifndef NOOK_FS_INODE_ID_H
#define NOOK_FS_INODE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define INODE_ID_TABLE_BIT (1ull << 31)

struct inode_id_fs {
	int mount_fd;      /* a real open of the share root, or -1: stable ids off */
	int handle_type;   /* the file system's handle type (all ids share it) */
	uint64_t mnt_id;   /* the share root's mount */
};

/*
 * Turns stable ids on when root_fd (the share root, O_PATH; stx its statx with
 * STATX_MNT_ID) qualifies; otherwise x->mount_fd is -1 and why says why not.
 */
void inode_id_probe(struct inode_id_fs *x, int root_fd, const struct statx *stx,
		    char *why, size_t whylen);
void inode_id_close(struct inode_id_fs *x);

static inline bool inode_id_on(const struct inode_id_fs *x)
{
	return x->mount_fd >= 0;
}

/* Is nodeid of the stable form (when stable ids are on)? The root (1) is not. */
static inline bool inode_id_is_stable(uint64_t nodeid)
{
	return nodeid > 1 && !(nodeid & INODE_ID_TABLE_BIT);
}

/* The stable id of fd (an object on the share root's mount), or 0 when it has none. */
uint64_t inode_id_of(const struct inode_id_fs *x, int fd);

/* Reopens the object of a stable id: an O_PATH fd, or -ESTALE (-ENOMEM, -EMFILE...). */
int inode_id_open(const struct inode_id_fs *x, uint64_t nodeid);

#endif
