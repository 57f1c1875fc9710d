/*
 * config.json of an OCI bundle, turned into the command line of `nook run -- CMD`.
 * The spec is read with json-c; everything the guest needs travels as nook run options
 * (and from there as the run request of vmm/run_proto.h), so the guest sees no JSON.
 */
#ifndef NOOK_OCI_SPEC_H
#define NOOK_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/oci/oci_cgroup.h"
#include "vmm/oci/oci_process.h"

/* The built nook argv: fixed options plus env, resources and the command. */
struct oci_argv {
	char **argv;
	int argc, cap;
};

/* A bind mount of the spec, made on the host in the VMM's own mount namespace (as runc
 * makes it in the container's) on top of the rootfs, so the root share serves it. */
#define OCI_MAX_BINDS 64
struct oci_bind {
	char *src;	/* absolute host path */
	char *dst;	/* absolute path inside the rootfs */
	bool ro;
};

struct oci_plan {
	struct oci_argv args;	/* nook run options, "--", the command */
	char *rootfs;		/* absolute host path of root.path */
	bool terminal;		/* process.terminal */
	struct oci_bind binds[OCI_MAX_BINDS];
	int nr_binds;
	/* What nook run has no option for (groups, umask, rlimits, no_new_privs, masked
	 * and read-only paths): records for --records. */
	struct oci_records records;
	struct oci_cgroup cgroup;	/* linux.cgroupsPath and its limits, for the VMM */
	char *annotations;	/* the spec's annotations as JSON text ("{}" when none), for state */
};

/*
 * Reads BUNDLE/config.json and fills out: the nook run options and the command
 * ("--root ROOTFS", "--cwd", "--user", "-e", "--rwdir", "--cpus", "--memory", "--",
 * args...) and the bind mounts. Returns 0, or -1 with one line in err (nothing is started then).
 */
/* Formats an error into err (errlen bytes) and returns -1: the translators' one error path. */
__attribute__((format(printf, 3, 4)))
int oci_fail(char *err, size_t errlen, const char *fmt, ...);

int oci_spec_translate(const char *bundle, struct oci_plan *out, char *err, size_t errlen);

/* Same for a config.json already in memory (root.path relative to bundle). */
int oci_spec_translate_json(const char *json, const char *bundle, struct oci_plan *out,
			    char *err, size_t errlen);
void oci_plan_free(struct oci_plan *p);

int oci_argv_push(struct oci_argv *a, const char *s);
void oci_argv_free(struct oci_argv *a);

#endif
