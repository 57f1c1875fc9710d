/*
 * The workload's capability sets (RUN_REC_CAPS): applied in the vfork child of
 * command.c with raw calls only (no allocation, no glibc setxid machinery). In two steps
 * around the uid change: the bounding set is dropped while the child is still root with
 * CAP_SETPCAP, and PR_SET_KEEPCAPS keeps the permitted set across setuid; then capset()
 * sets effective, permitted and inheritable, and the ambient set is raised.
 * Bits of capabilities the guest kernel does not have are dropped (it would refuse them).
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/guest-init/init.h"
#include "vmm/run_proto.h"

/* The capabilities this kernel knows: PR_CAPBSET_READ fails with EINVAL past the last. */
static unsigned long long known_caps(void)
{
	unsigned long long m = 0;

	for (unsigned int c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		m |= 1ULL << c;
	return m;
}

int confine_caps_before_ids(const struct run_request *r)
{
	unsigned long long known;

	if (!r->has_caps)
		return 0;
	known = known_caps();
	for (unsigned int c = 0; c < 64; c++)
		if ((known >> c & 1) && !(r->caps[RUN_CAP_BOUNDING] >> c & 1) &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			return -1;
	/* Only a uid change clears the permitted set; root keeps it anyway. */
	if (r->uid && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -1;
	return 0;
}

int confine_caps_after_ids(const struct run_request *r)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned long long known, e, p, i, a;

	if (!r->has_caps)
		return 0;
	known = known_caps();
	p = r->caps[RUN_CAP_PERMITTED] & known;
	/* The kernel keeps effective within permitted; so do we, rather than fail. */
	e = r->caps[RUN_CAP_EFFECTIVE] & p;
	i = r->caps[RUN_CAP_INHERITABLE] & known;
	for (int k = 0; k < 2; k++) {
		d[k].effective = (unsigned int)(e >> (32 * k));
		d[k].permitted = (unsigned int)(p >> (32 * k));
		d[k].inheritable = (unsigned int)(i >> (32 * k));
	}
	if (syscall(SYS_capset, &h, d))
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -1;
	/* An ambient capability must be permitted and inheritable (the kernel's rule);
	 * others are skipped as runc skips them. */
	a = r->caps[RUN_CAP_AMBIENT] & p & i;
	for (unsigned int c = 0; c < 64; c++)
		if ((a >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0))
			return -1;
	return 0;
}

/* Decoded here, not in the request (mapped read-only); the vfork child writes it while
 * PID 1 waits, and only the child uses it. */
static struct sock_filter seccomp_prog[RUN_SECCOMP_MAX_BPF / sizeof(struct sock_filter)];

static unsigned int hexval(char c)
{
	return c <= '9' ? (unsigned int)(c - '0') : (unsigned int)(c - 'a' + 10);
}

int confine_seccomp(const struct run_request *r)
{
	unsigned char *out = (unsigned char *)seccomp_prog;
	struct sock_fprog prog;

	/* An exec'd process (its request has no filter) gets the container's, as runc
	 * gives `exec` the spec's profile. */
	if (!r->seccomp_hex)
		r = &req;
	if (!r->seccomp_hex)
		return 0;
	/* A guest kernel built without CONFIG_SECCOMP (PR_GET_SECCOMP fails with EINVAL)
	 * cannot filter: the profile is skipped, silently for the workload's stdio (the
	 * VM stays the boundary; README says which kernel option it needs). */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
		return 0;
	/* The parser checked: lowercase hex, a multiple of 16 digits, within the buffer. */
	for (unsigned int i = 0; i < r->seccomp_len / 2; i++)
		out[i] = (unsigned char)(hexval(r->seccomp_hex[2 * i]) << 4 | hexval(r->seccomp_hex[2 * i + 1]));
	prog.len = (unsigned short)(r->seccomp_len / 16);
	prog.filter = seccomp_prog;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) ? -1 : 0;
}
