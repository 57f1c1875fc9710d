/*
 * The run request of `nook run -- CMD`: what the built-in guest init must do, resolved
 * on the host (environment, user, working directory, mounts) and serialised in the
 * record format of vmm/run_proto.h. The guest never sees nook's own command line.
 */
#ifndef NOOK_VMM_RUN_REQUEST_H
#define NOOK_VMM_RUN_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

#define RUN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A share the init mounts: virtio-fs tag at the same path as on the host. */
struct run_mount {
	char tag[40];
	const char *path;	/* absolute host path (points into the run_plan) */
	bool rw;
};

struct run_plan {
	char **env;		/* "K=V", the command's whole environment */
	int nr_env, cap_env;
	uint32_t uid, gid;
	char cwd[CONFIG_PATH_MAX];
	char hostname[65];
	bool tty;		/* stdio is the guest's /dev/hvc0 */
	bool host_root;
	bool verbose;
	const char *overlays[16];	/* host-root: directories to overlay */
	int nr_overlays;
	char dirs[RUN_MAX_DIRS][CONFIG_PATH_MAX];	/* --rwdir/--rodir, canonical */
	struct run_mount mounts[RUN_MAX_DIRS];
	int nr_mounts;
	char modules_tag[40];	/* "" when no modules share */
	char modules_dir[CONFIG_PATH_MAX];	/* the host directory it shares */
};

/*
 * Resolves cfg->run against the root the guest will see (root_dir: "/" for --host-root,
 * else --root's directory): the environment (PATH, HOME and TERM set, -e and --env-file
 * applied, nothing forwarded from the host unless named), --user through root_dir's
 * /etc/passwd and /etc/group, the working directory, the overlays and extra shares.
 * Returns 0, or -1 with one line in err.
 */
int run_plan_build(const struct vm_config *cfg, const char *root_dir, bool tty,
		   struct run_plan *p, char *err, size_t errlen);
void run_plan_free(struct run_plan *p);

/* Serialises argv and the plan into a malloc'd request (*len bytes). 0 or -ENOMEM. */
int run_request_build(const struct run_config *r, const struct run_plan *p, char **out,
		      size_t *len);

/* --records FILE: appends its records (at most 64 KiB, each NUL-terminated) to the
 * request. 0, or -1 with one line in err. */
int run_request_append_file(char **req, size_t *len, const char *path, char *err,
			    size_t errlen);

/* Sets K=V in the plan's environment (replacing an earlier K). 0 or -1 (ENOMEM). */
int run_plan_setenv(struct run_plan *p, const char *kv);

#endif
