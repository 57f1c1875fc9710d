/*
 * linux.cgroupsPath and the limits of linux.resources, applied to the VMM process: the
 * VM is the container, so podman's stats/ps/top and the limits see the VMM (its guest RAM,
 * its vCPU threads). Works on cgroup v2 and on v1/hybrid hosts (every mounted hierarchy).
 */
#ifndef NOOK_OCI_CGROUP_H
#define NOOK_OCI_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/*
 * What the VMM's own overhead may use on top of guest RAM inside the memory limit: page
 * tables, the FUSE server's inode tables and buffers, thread stacks, the guest init's
 * blob. Measured idle VMM RSS is ~22 MiB with the guest RAM it touched; 64 MiB leaves room
 * for a busy file server. A spec memory limit L gives the guest L - this.
 */
#define OCI_CGROUP_HEADROOM_MIB	64

struct oci_cgroup {
	char path[1024];	/* absolute path below a hierarchy's root; "" when none */
	int64_t mem_limit;	/* bytes, 0 when none (memory.max) */
	int64_t cpu_quota;	/* us per period, 0 when none (cpu.max) */
	int64_t cpu_period;	/* us */
};

/*
 * cgroupsPath as podman passes it into c->path: "/a/b" (cgroupfs), "a/b" (relative,
 * taken from the root as runc's cgroupfs driver does), or "SLICE:PREFIX:NAME" (systemd:
 * /a.slice/a-b.slice/PREFIX-NAME.scope). No "." or ".." components. 0, or -1 with why.
 */
int oci_cgroup_parse_path(const char *spec_path, struct oci_cgroup *c, char *err, size_t errlen);

/*
 * Before the fork: create c->path in every hierarchy (noting what it created in
 * STATEDIR/cgroup for oci_cgroup_remove) and write the limits. 0, or -1 with why.
 */
int oci_cgroup_prepare(const struct oci_cgroup *c, const char *state_dir, char *err, size_t errlen);
/* In the VMM child before exec: move the calling process into c->path everywhere. */
int oci_cgroup_join(const struct oci_cgroup *c, char *err, size_t errlen);
/* At delete: rmdir what prepare created (deepest first), drop STATEDIR/cgroup. */
void oci_cgroup_remove(const char *state_dir);

#endif
