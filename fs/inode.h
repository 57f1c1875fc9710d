/*
 * The inode table: FUSE node ids <-> host inodes.
 *
 * A node id is (generation << 32 | slot index): an index into our own table, never a
 * pointer, and a stale or forged id fails the generation check instead of reaching a
 * freed inode. Host inodes are keyed by (st_dev, st_ino, mount id) so a file reached by
 * two names (hard links, bind mounts) is one FUSE node. Each inode holds an O_PATH fd,
 * or (inode_file_handles) a file handle reopened on use to bound the number of open fds.
 * Lookup counts follow FORGET; an inode is freed when its count and in-flight uses are
 * both zero. The root (node id 1) lives as long as the table. One mutex guards it all.
 */
#ifndef NOOK_FS_INODE_H
#define NOOK_FS_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FUSE_ROOT_ID_VALUE 1ull

struct file_handle;

struct inode {
	int fd;                  /* O_PATH fd, or -1 when only fh is kept */
	struct file_handle *fh;  /* inode_file_handles */
	int mount_fd;            /* for open_by_handle_at, owned by the table */
	uint64_t dev, ino, mnt_id;
	uint32_t mode;           /* S_IFMT bits (a file never changes type) */
	bool submount;           /* on a different mount than its parent */
	uint8_t dax;             /* FUSE_ATTR_DAX decided once: 0 not yet, 1 no, 2 yes */
	uint64_t nodeid;
	uint64_t vt_slot;        /* version table slot (fs/vtab.h), 0 without a table */
	uint64_t nlookup;        /* FUSE lookup count */
	uint32_t refs;           /* requests currently using it */
	struct inode *hnext;     /* hash chain */
	/* fd budget (inode_table_set_max_fds): unreferenced inodes holding an fd, least
	 * recently used first; no_handle when the fd cannot become a handle. */
	struct inode *lru_prev, *lru_next;
	bool in_lru, no_handle;
	struct inode *idnext;    /* chain of the stable id hash (fs/inode_id.h) */
};

struct inode_table;
struct vtab;

/* Creates the table with the shared directory's O_PATH fd (taken over) as node id 1. */
struct inode_table *inode_table_new(int root_fd, bool file_handles, char *err, size_t errlen);
void inode_table_free(struct inode_table *t);
/* Gives inodes added from now on (and the root) their version table slot. Call before
 * serving; the table outlives the inode table. */
void inode_table_set_vtab(struct inode_table *t, struct vtab *vt);

/* The inode for a node id with one in-flight reference, or NULL if unknown/stale. */
struct inode *inode_get(struct inode_table *t, uint64_t nodeid);
void inode_put(struct inode_table *t, struct inode *ino);

/*
 * Registers a looked-up host object: fd (O_PATH, always consumed) with its statx.
 * Returns the inode with nlookup+1 and one in-flight reference (inode_put it), or NULL
 * with errno set. parent_mnt is the parent's mount id for submount detection.
 */
struct inode *inode_add(struct inode_table *t, int fd, const struct statx *stx, uint64_t parent_mnt);

/* FORGET: drops n lookups; frees the inode when nothing references it any more. */
void inode_forget(struct inode_table *t, uint64_t nodeid, uint64_t n);

/* DESTROY: drops every lookup count (the root stays); in-use inodes go when put. */
void inode_forget_all(struct inode_table *t);

/* An O_PATH fd for the inode; pass it back to inode_fd_put (closes it if temporary). */
int inode_fd(struct inode_table *t, struct inode *ino);
void inode_fd_put(struct inode *ino, int fd);

/*
 * At most max fds held by inodes (0: no bound): beyond it, the least recently used
 * unreferenced inodes' fds become file handles (reopened by open_by_handle_at on use);
 * where the file system has no handles, a lookup that would need one more fd fails
 * with ENFILE. Set before the table is used.
 */
void inode_table_set_max_fds(struct inode_table *t, uint64_t max);

/*
 * At most max live inodes (0: no bound), the share's cap on the table's memory: past it
 * a lookup of an object not in the table fails with ENFILE (the guest's FORGETs make
 * room again); objects already known are still found. The default,
 * INODE_DEFAULT_MAX_ENTRIES, bounds one share's table at about
 * INODE_DEFAULT_MAX_ENTRIES * inode_entry_bytes() (280 bytes: ~280 MiB at the default).
 */
#define INODE_DEFAULT_MAX_ENTRIES (1u << 20)
void inode_table_set_max_entries(struct inode_table *t, uint64_t max);
/* Host memory one entry can hold at most: the inode, its slot and generation, and
 * a file handle when the fd budget swapped its fd for one. */
size_t inode_entry_bytes(void);

/* Default budget for one share: half of RLIMIT_NOFILE's soft limit (the rest is for
 * open files, devices and other shares), at least 64. */
uint64_t inode_default_max_fds(void);

/* Fds held by inodes now (tests). */
uint64_t inode_fd_count(struct inode_table *t);
/* Are node ids stable host handles (fs/inode_id.h), i.e. may export be advertised? */
bool inode_table_stable_ids(struct inode_table *t);

/*
 * LOOKUP(nodeid, ".") of a node id the table does not know (the client forgot it, or
 * an earlier server gave it): an O_PATH fd of the object a stable id names, to register
 * with inode_add(), or -ESTALE.
 */
int inode_reopen_id(struct inode_table *t, uint64_t nodeid);

/* Number of live inodes (tests, statistics). */
uint64_t inode_count(struct inode_table *t);

#endif
