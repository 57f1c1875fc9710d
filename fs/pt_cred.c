/*
 * Passthrough caller credentials (fsuid/fsgid, one supplementary group, umask) for
 * creating operations, and clearing set-id bits (kill_suidgid).
 */
#include "fs/passthrough_int.h"

#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/log.h"

void pt_cred_exit(struct pt_fs *fs, struct pt_cred *save)
{
	if (save->groups_set)
		syscall(SYS_setgroups, (size_t)fs->ngroups, fs->groups);
	if (save->set) {
		syscall(SYS_setfsuid, save->uid);
		syscall(SYS_setfsgid, save->gid);
	}
	save->set = save->groups_set = false;
}

int pt_cred_enter(struct pt_fs *fs, const struct pt_req *rq, uint32_t umask_in,
			 mode_t *mode, struct pt_cred *save)
{
	static _Thread_local int unshared; /* 0 untried, 1 own umask, -1 unshare failed */
	static _Thread_local int cur_umask = -1; /* this thread's umask, once set */

	save->set = save->groups_set = false;
	/* With DONT_MASK the client leaves the umask to us: apply it through this thread's
	 * own umask, so default ACLs of the parent win like on a local file system. */
	if (!unshared)
		unshared = unshare(CLONE_FS) == 0 ? 1 : -1;
	if (unshared > 0) {
		int want = fs->dont_mask ? (int)(umask_in & 0777) : 0;

		/* Only this thread changes its own umask: skip the call when it is set. */
		if (want != cur_umask)
			umask((mode_t)want);
		cur_umask = want;
	} else if (fs->dont_mask)
		*mode &= ~(mode_t)(umask_in & 0777);
	/* A caller with our own ids (root on a root server, the common case) needs no
	 * switch: four set*id calls and two checks saved per create. */
	if (!rq->has_supp_gid && rq->uid == fs->own_uid && rq->gid == fs->own_gid)
		return 0;
	if (rq->has_supp_gid) {
		gid_t g = rq->supp_gid;

		if (syscall(SYS_setgroups, (size_t)1, &g))
			return -errno;
		save->groups_set = true;
	}
	save->gid = (gid_t)syscall(SYS_setfsgid, rq->gid);
	save->uid = (uid_t)syscall(SYS_setfsuid, rq->uid);
	save->set = true;
	/* setfsuid reports no errors: check that the switch happened. */
	if ((uid_t)syscall(SYS_setfsuid, -1) != rq->uid || (gid_t)syscall(SYS_setfsgid, -1) != rq->gid) {
		pt_cred_exit(fs, save);
		return -EPERM;
	}
	return 0;
}

/*
 * HANDLE_KILLPRIV_V2: the server drops set-uid/set-gid after a write, truncate or
 * open(O_TRUNC) when the client asks (the caller lacks CAP_FSETID). Like Linux >= 6.2
 * (setattr_should_drop_sgid): set-uid always goes; set-gid goes when group-exec is set,
 * or when the caller is neither in the file's group nor capable. We only know the
 * caller's primary and creating group, so a member through another supplementary group
 * loses set-gid too. The client's write/truncate/open flags already mean "not capable";
 * a chown it flags always, so there the caller passes capable (uid 0: we cannot see
 * CAP_FSETID) and a chown by root keeps set-gid without group-exec, as on ext4.
 */
bool pt_kill_suidgid(int fd, int pathfd, const struct pt_req *rq, bool capable)
{
	struct statx stx;
	mode_t m, nm;

	if (pt_statx(fd >= 0 ? fd : pathfd, &stx) || !S_ISREG(stx.stx_mode))
		return false;
	m = stx.stx_mode & 07777;
	nm = m & ~(mode_t)S_ISUID;
	if ((m & S_IXGRP) || (!capable && rq->gid != stx.stx_gid &&
			      !(rq->has_supp_gid && rq->supp_gid == stx.stx_gid)))
		nm &= ~(mode_t)S_ISGID;
	if (nm == m)
		return false;
	if (fd >= 0) {
		if (fchmod(fd, nm)) {
			log_debug("fs: clearing set-id bits: %s", strerror(errno));
			return false;
		}
		return true;
	}
	return syscall(SYS_fchmodat2, pathfd, "", nm, AT_EMPTY_PATH) == 0;
}

/* Set-id bits went while the reply carries no attributes: tell the client if we can. */
void pt_kill_suidgid_notify(struct pt_fs *fs, int fd, const struct pt_req *rq,
				   uint64_t nodeid)
{
	if (pt_kill_suidgid(fd, -1, rq, false) && fs->inval_attr)
		fs->inval_attr(fs->inval_opaque, nodeid);
}
