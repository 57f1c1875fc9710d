/*
 * Shared by the passthrough file system files (fs/passthrough.c, fs/pt_*.c): limits,
 * the credential and node structs, and the helpers each defined in one of them and
 * used by another.
 */
#ifndef NOOK_FS_PASSTHROUGH_INT_H
#define NOOK_FS_PASSTHROUGH_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "fs/inode.h"
#include "fs/passthrough.h"

/* After <sys/syscall.h>: a libc that knows the call defines it. */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#define PT_COPY_MAX (1ull << 30) /* one COPY_FILE_RANGE moves at most 1 GiB */

/*
 * Caller credentials for creating operations, per thread: fsuid/fsgid through the raw
 * system calls (glibc's wrappers would change every thread), and, when the client sent
 * the FUSE_CREATE_SUPP_GROUP extension, that one supplementary group (raw setgroups is
 * per thread too). Other supplementary groups are not carried by FUSE; the guest kernel
 * has already checked them (default_permissions).
 */
struct pt_cred {
	uid_t uid;
	gid_t gid;
	bool set;
	bool groups_set;
};

/* A referenced inode and its fd, for the common "operate on nodeid" shape. */
struct pt_node {
	struct inode *ino;
	int fd;
};

/* fs/pt_node.c */
int pt_openat(int dirfd, const char *name, int flags, mode_t mode);
int pt_reopen(struct pt_fs *fs, int fd, int flags);
int pt_statx(int fd, struct statx *stx);
void pt_fill_attr(const struct statx *stx, struct fuse_attr *a);
uint32_t pt_dax_flag(struct pt_fs *fs, struct inode *ino, const struct statx *stx);
int pt_entry_from_fd(struct pt_fs *fs, struct inode *dir, int fd, struct fuse_entry_out *e);
int pt_lookup_in(struct pt_fs *fs, struct inode *dir, const char *name,
		 struct fuse_entry_out *e);
int pt_node_get(struct pt_fs *fs, uint64_t nodeid, struct pt_node *n);
void pt_node_put(struct pt_fs *fs, struct pt_node *n);
/* fs/pt_cred.c */
void pt_cred_exit(struct pt_fs *fs, struct pt_cred *save);
int pt_cred_enter(struct pt_fs *fs, const struct pt_req *rq, uint32_t umask_in,
		  mode_t *mode, struct pt_cred *save);
bool pt_kill_suidgid(int fd, int pathfd, const struct pt_req *rq, bool capable);
void pt_kill_suidgid_notify(struct pt_fs *fs, int fd, const struct pt_req *rq,
			    uint64_t nodeid);
/* fs/pt_entry.c */
int pt_chmod(struct pt_fs *fs, int fd, mode_t mode);

#endif
