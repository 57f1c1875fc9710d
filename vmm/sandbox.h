/*
 * The VMM process's sandbox (--sandbox namespace|chroot|none), see SECURITY.md.
 *
 *   sandbox_prepare()  at the very start, while the process has one thread: new mount
 *                      and network namespaces (namespace mode), so that every thread
 *                      created later shares them;
 *   sandbox_enter()    after set-up, before the first vCPU runs: the process's root
 *                      becomes an empty read-only directory holding only /proc/self
 *                      (pivot_root in namespace mode, chroot in chroot mode), the
 *                      calling thread drops every capability, RLIMIT_NOFILE goes to its
 *                      hard limit, PR_SET_NO_NEW_PRIVS;
 *   sandbox_thread()   each thread started by seccomp_thread_create() keeps only the
 *                      capabilities its kind needs (capabilities are per thread).
 */
#ifndef NOOK_VMM_SANDBOX_H
#define NOOK_VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sandbox_mode {
	SANDBOX_NAMESPACE,	/* mount + network namespaces, pivot_root, capabilities */
	SANDBOX_CHROOT,		/* chroot into an empty directory, capabilities */
	SANDBOX_NONE,		/* nothing */
	SANDBOX_DEFAULT,	/* namespace as root, none (with a notice) otherwise */
};

/* "namespace", "chroot", "none". 0, or -1 with one line in err. */
int sandbox_parse_mode(const char *s, enum sandbox_mode *out, char *err, size_t errlen);

/* NOOK_SANDBOX when set (benchmarks, whole suites), else SANDBOX_DEFAULT. -1 with one
 * line in err for a bad value. */
int sandbox_default_mode(enum sandbox_mode *out, char *err, size_t errlen);

/* "--sandbox MODE" or "--sandbox=MODE" at argv[*i], for front ends without getopt: 1 when
 * it was one (*i moves past its value), 0 when not, -1 with one line in err. */
int sandbox_parse_arg(int argc, char **argv, int *i, enum sandbox_mode *out, char *err,
		      size_t errlen);

/* The mode to use for `requested`: SANDBOX_DEFAULT resolves to namespace as root, or to
 * none with a one-line notice on stderr (namespaces and pivot_root need root). */
enum sandbox_mode sandbox_resolve(enum sandbox_mode requested);

/* The process-wide mode once resolved (none until sandbox_prepare). */
enum sandbox_mode sandbox_active(void);

/*
 * Single-threaded start. host_mounts: the process mounts on the host and unmounts at
 * exit (`nook fs serve`): no mount namespace and no new root then, only the network
 * namespace and the per-thread capabilities. 0, or -1 with one line in err.
 */
int sandbox_prepare(enum sandbox_mode mode, bool host_mounts, char *err, size_t errlen);

/* After set-up. 0, or -1 with one line in err. */
int sandbox_enter(char *err, size_t errlen);

/* Per-thread capabilities for a thread kind (enum thread_kind, or the spawner); does
 * nothing when the sandbox is off. 0 or -errno. */
int sandbox_thread(int kind);

/* True when this thread dropped capabilities: threads it starts could not get theirs. */
bool sandbox_thread_dropped(void);

/* The capability mask a kind keeps (bit n = capability n). */
uint64_t sandbox_caps(int kind);

#endif
