/*
 * Landlock rules per thread kind, see vmm/landlock.h and SECURITY.md.
 *
 * The registry holds, for each rule, a duplicate of the fd it names (a Landlock rule
 * is tied to the inode, and our fd keeps that inode, and a proc directory's dentry,
 * alive) and the kinds it is for. A thread builds its ruleset from the registry when
 * it starts: the kernel's own headers on the build host may be older than the running
 * kernel (this one's stop at ABI 2), so the structures and rights past ABI 2 are
 * spelled out here and every mask is cut to the ABI the kernel reports.
 */
#include "vmm/landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/seccomp_int.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

/* struct landlock_ruleset_attr as of ABI 4 (the network field); ABI 6 adds `scoped`,
 * which we leave out (its signal scope would also cut signals between our own threads
 * on kernels before 6.15). */
struct landlock_attr_v4 {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

/* The right-to-ABI table: ABI 1 has bits 0..12, 2 adds REFER, 3 TRUNCATE, 5 IOCTL_DEV. */
static uint64_t landlock_fs_mask(int abi)
{
	uint64_t m = (1ULL << 13) - 1;

	if (abi >= 2)
		m |= 1ULL << 13;
	if (abi >= 3)
		m |= 1ULL << 14;
	if (abi >= 5)
		m |= 1ULL << 15;
	return m;
}

/* Rights a rule on a non-directory may carry: execute, write, read, truncate, ioctl. */
#define LANDLOCK_FILE_RIGHTS ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 14) | \
			      (1ULL << 15))
/* ABI 4: bind and connect of TCP sockets, handled with no rule: no TCP at all. */
#define LANDLOCK_NET_TCP ((1ULL << 0) | (1ULL << 1))

#define LANDLOCK_MAX_RULES 64

struct landlock_rule {
	int fd;
	unsigned kinds;
	uint64_t access;
	bool dir;
};

static pthread_mutex_t landlock_lock = PTHREAD_MUTEX_INITIALIZER;
static struct landlock_rule landlock_rules[LANDLOCK_MAX_RULES];
static unsigned landlock_nrules;
static bool landlock_on, landlock_frozen;
static int landlock_abi_cached = -1;
static _Thread_local bool landlock_spawner_done;

int landlock_abi(void)
{
	if (landlock_abi_cached < 0) {
		long v = syscall(__NR_landlock_create_ruleset, NULL, 0,
				 LANDLOCK_CREATE_RULESET_VERSION);

		landlock_abi_cached = v > 0 ? (int)v : 0;
	}
	return landlock_abi_cached;
}

bool landlock_enabled(void)
{
	return landlock_on;
}

int landlock_enable(void)
{
	const char *env = getenv("NOOK_LANDLOCK");
	static bool said;
	int abi;

	if (env && !strcmp(env, "off"))
		return 0;
	abi = landlock_abi();
	if (!abi) {
		if (!said)
			fprintf(stderr, "nook: this kernel has no Landlock: server threads are kept "
				"beneath the shares by path checks only\n");
		said = true;
		return 0;
	}
	landlock_on = true;
	return abi;
}

int landlock_allow(int fd, unsigned kinds, uint64_t access)
{
	struct stat st;
	int dup, r = 0;

	if (!landlock_on)
		return 0;
	if (fstat(fd, &st))
		return -errno;
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return -errno;
	pthread_mutex_lock(&landlock_lock);
	if (landlock_frozen) {
		r = -EPERM;
	} else if (landlock_nrules == LANDLOCK_MAX_RULES) {
		r = -ENOSPC;
	} else {
		landlock_rules[landlock_nrules++] = (struct landlock_rule){
			.fd = dup, .kinds = kinds, .access = access, .dir = S_ISDIR(st.st_mode) };
	}
	pthread_mutex_unlock(&landlock_lock);
	if (r)
		close(dup);
	return r;
}

int landlock_allow_share(int fd)
{
	return landlock_allow(fd, LANDLOCK_SERVERS, LANDLOCK_FS_SHARE);
}

void landlock_freeze(void)
{
	pthread_mutex_lock(&landlock_lock);
	landlock_frozen = true;
	pthread_mutex_unlock(&landlock_lock);
}

/* Builds and enforces the ruleset for the rules whose kinds meet `kinds`. */
static int landlock_apply(unsigned kinds)
{
	int abi = landlock_abi();
	uint64_t fsmask = landlock_fs_mask(abi);
	struct landlock_attr_v4 attr = { .handled_access_fs = fsmask,
					 .handled_access_net = abi >= 4 ? LANDLOCK_NET_TCP : 0 };
	int rs, r = 0;

	rs = (int)syscall(__NR_landlock_create_ruleset, &attr,
			  abi >= 4 ? sizeof(attr) : sizeof(attr.handled_access_fs), 0);
	if (rs < 0)
		return -errno;
	pthread_mutex_lock(&landlock_lock);
	for (unsigned i = 0; !r && i < landlock_nrules; i++) {
		const struct landlock_rule *l = &landlock_rules[i];
		struct landlock_path_beneath_attr pb = {
			.allowed_access = l->access & fsmask & (l->dir ? ~0ULL : LANDLOCK_FILE_RIGHTS),
			.parent_fd = l->fd,
		};

		if (!(l->kinds & kinds) || !pb.allowed_access)
			continue;
		if (syscall(__NR_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0))
			r = -errno;
	}
	pthread_mutex_unlock(&landlock_lock);
	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs first (set anyway by
	 * seccomp_install right after). */
	if (!r && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		r = -errno;
	if (!r && syscall(__NR_landlock_restrict_self, rs, 0))
		r = -errno;
	close(rs);
	return r;
}

int landlock_restrict(int kind)
{
	if (!landlock_on)
		return 0;
	if (kind == SECCOMP_SPAWNER)
		return landlock_restrict_spawner();
	if (kind < 0 || kind >= THREAD_KIND_COUNT)
		return -EINVAL;
	return landlock_apply(LANDLOCK_KIND(kind));
}

int landlock_restrict_spawner(void)
{
	bool frozen;

	if (!landlock_on || landlock_spawner_done)
		return 0;
	pthread_mutex_lock(&landlock_lock);
	frozen = landlock_frozen;
	pthread_mutex_unlock(&landlock_lock);
	/* Before the freeze a later share could still be missing from the union. */
	if (!frozen)
		return 0;
	landlock_spawner_done = true;
	return landlock_apply(~0u);
}
