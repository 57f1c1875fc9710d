/*
 * The run request as the built-in guest init sees it (format: vmm/run_proto.h).
 *
 * run_request_parse() is the one place the request's bytes are read. It is plain C with
 * no system calls and no allocation, so the host's unit tests run it as is: the caller
 * hands it the request (read-only: the init maps the file) and a scratch arena for the
 * pointer arrays. Every string in the result points into the request itself.
 */
#ifndef NOOK_VMM_GUEST_INIT_REQUEST_H
#define NOOK_VMM_GUEST_INIT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define RUN_DEFAULT_SEARCH_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Limits: past them the request is refused (status 125) rather than half-applied. The
 * string limits are the kernel's (MAX_ARG_STRLEN, PATH_MAX, HOST_NAME_MAX, virtio-fs
 * tag); the counts are far above what execve(2) or a sane host sends.
 */
#define RUN_REQ_MAX_SIZE	(4u << 20)	/* whole request */
#define RUN_REQ_MAX_ARGS	65536u
#define RUN_REQ_MAX_ENV		65536u
#define RUN_REQ_MAX_DIRS	256u		/* overlays, tmpfs dirs, shares: each */
#define RUN_REQ_MAX_GROUPS	65536u		/* NGROUPS_MAX */
#define RUN_REQ_MAX_STRING	131072u		/* argv/env string, NUL included */
#define RUN_REQ_MAX_PATH	4096u		/* path, NUL included */
#define RUN_REQ_MAX_HOSTNAME	64u
#define RUN_REQ_MAX_TAG		36u

#define RUN_REQ_MAX_RLIMITS	16u		/* RLIMIT_NLIMITS */

/* RUN_REC_RLIMIT: resource number and soft/hard limits (~0: unlimited). */
struct run_req_rlimit {
	unsigned int resource;
	unsigned long long soft, hard;
};

/* The capability sets of RUN_REC_CAPS, in the order of their letters "bepia". */
enum { RUN_CAP_BOUNDING, RUN_CAP_EFFECTIVE, RUN_CAP_PERMITTED, RUN_CAP_INHERITABLE,
       RUN_CAP_AMBIENT };

/* A virtio-fs share to mount (RUN_REC_MOUNT). */
struct run_req_mount {
	const char *path;
	char tag[RUN_REQ_MAX_TAG + 1];	/* copied: in the request it ends with ':' */
	bool ro;
};

struct run_request {
	/*
	 * argv and envp are NULL-terminated, for execve(2). argv[-1] is a spare slot: a
	 * script without "#!" is run as /bin/sh FILE ARGS... by rewriting argv[-1] and
	 * argv[0] in place, as execvp(3) does, without allocating.
	 */
	char **argv;
	char **envp;
	const char **overlays;		/* RUN_REC_OVERLAY, in order */
	const char **tmpfs;		/* RUN_REC_TMPFS, in order */
	struct run_req_mount *mounts;	/* RUN_REC_MOUNT, in order */
	unsigned int *groups;		/* RUN_REC_GROUPS */
	const char **masked;		/* RUN_REC_MASK, in order */
	const char **readonly;		/* RUN_REC_READONLY, in order */
	struct run_req_rlimit rlimits[RUN_REQ_MAX_RLIMITS];
	unsigned int argc, envc, noverlays, ntmpfs, nmounts, ngroups, nmasked, nreadonly;
	unsigned int nrlimits;
	unsigned int umask;		/* 022 when absent */
	unsigned int uid, gid;
	const char *cwd;		/* "/" when absent */
	const char *hostname;		/* NULL when absent */
	const char *modules_tag;	/* NULL when absent */
	const char *search_path;	/* PATH= of envp, else RUN_DEFAULT_SEARCH_PATH */
	bool tty, host_root, verbose;
	bool hold;			/* RUN_REC_HOLD: wait for RUN_CTL_START */
	bool no_new_privs;
	/* RUN_REC_CAPS: has_caps says any came; index by RUN_CAP_SET_* (absent sets: 0). */
	bool has_caps;
	unsigned long long caps[5];
	/* RUN_REC_SECCOMP: checked hex (even, a multiple of 16 digits), NULL when absent. */
	const char *seccomp_hex;
	unsigned int seccomp_len;	/* hex digits */
	char error[160];		/* why the parse failed: one line, no newline */
};

/* Arena bytes a request of these counts needs (the init's arena fits the maxima). */
#define RUN_REQ_ARENA_SIZE(args, env, dirs, groups) \
	(((args) + (env) + 3 + 4 * (dirs)) * sizeof(char *) + \
	 (dirs) * sizeof(struct run_req_mount) + (groups) * sizeof(unsigned int))
#define RUN_REQ_ARENA_MAX \
	RUN_REQ_ARENA_SIZE(RUN_REQ_MAX_ARGS, RUN_REQ_MAX_ENV, RUN_REQ_MAX_DIRS, \
			   RUN_REQ_MAX_GROUPS)

/*
 * Parses len bytes at buf into *req; arena (aligned for pointers) holds the arrays.
 * Returns 0, or -1 with req->error set. buf is only read, never past len.
 */
int run_request_parse(struct run_request *req, const char *buf, size_t len, void *arena,
		      size_t arena_size);

#endif
