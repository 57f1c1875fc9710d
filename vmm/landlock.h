/*
 * Landlock per thread kind (see SECURITY.md, "Landlock"): each thread that
 * seccomp_thread_create() starts, and the VM's main thread in sandbox_enter(), restricts
 * itself to the file hierarchies its kind needs. The file-server kinds get the shares
 * (registered with landlock_allow() as they are opened) and little else; every other
 * kind gets nothing but what it names here. Rules are attached to inodes, not names, and
 * are checked by the kernel on every open, so a share's fd no longer reaches above the
 * share with raw syscalls: openat(share_fd, "..") still gives an O_PATH fd (Landlock
 * does not check O_PATH), but no file above can be opened, created, removed or renamed.
 *
 * Only in the sandbox (namespace or chroot), enabled by sandbox_prepare(); a kernel
 * without Landlock prints one notice line and nook continues without it.
 */
#ifndef NOOK_VMM_LANDLOCK_H
#define NOOK_VMM_LANDLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/seccomp.h"

/* Kind masks (bit = enum thread_kind). */
#define LANDLOCK_KIND(k) (1u << (k))
/* Threads that open files beneath the shares for the guest. */
#define LANDLOCK_SERVERS (LANDLOCK_KIND(THREAD_FS_WORKER) | LANDLOCK_KIND(THREAD_FUSE_DEV) | \
			  LANDLOCK_KIND(THREAD_FUSE_URING) | LANDLOCK_KIND(THREAD_FS_WATCH))

/* Access bits, as the kernel's LANDLOCK_ACCESS_FS_* (masked to the running ABI). */
#define LANDLOCK_FS_READ_FILE	(1ULL << 2)
#define LANDLOCK_FS_WRITE_FILE	(1ULL << 1)
#define LANDLOCK_FS_READ_DIR	(1ULL << 3)
#define LANDLOCK_FS_REMOVE_FILE	(1ULL << 5)
#define LANDLOCK_FS_IOCTL_DEV	(1ULL << 15)
/*
 * Everything a passthrough server does beneath a share, EXECUTE included: with kernel
 * passthrough, a client's execve opens the backing file with FMODE_EXEC under the
 * credentials (and so the Landlock domain) of the server thread that registered it.
 * The server itself cannot exec: seccomp forbids execve in every kind.
 */
#define LANDLOCK_FS_SHARE	((1ULL << 16) - 1)

/*
 * Probes the kernel and enables restriction for threads started from now on. Returns
 * the ABI version, or 0 (with one notice line on stderr, once) when the kernel has no
 * Landlock. NOOK_LANDLOCK=off disables it (diagnosis).
 */
int landlock_enable(void);
bool landlock_enabled(void);
/* The kernel's Landlock ABI version (0 without), probed once. */
int landlock_abi(void);

/*
 * Allows `access` beneath the directory (or on the file) fd names to the threads of the
 * kinds in `kinds` started from now on. fd is duplicated (the rule must keep the inode).
 * Does nothing unless enabled. 0 or -errno.
 */
int landlock_allow(int fd, unsigned kinds, uint64_t access);
/* A share: every right (LANDLOCK_FS_SHARE), for every server kind. */
int landlock_allow_share(int fd);

/*
 * Restricts the calling thread to kind's rules (kind: enum thread_kind, or
 * SECCOMP_SPAWNER for the union of all kinds). Sets PR_SET_NO_NEW_PRIVS. Nothing when
 * not enabled. 0 or -errno.
 */
int landlock_restrict(int kind);

/* No rule may be added any more (sandbox_enter): the spawner may take the union. */
void landlock_freeze(void);
/* For the spawner, before each thread it starts: the union once frozen. 0 or -errno. */
int landlock_restrict_spawner(void);

#endif
